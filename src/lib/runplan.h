/* runplan.h: a VM run decided in full from flags and an image (a plan), and its one executor. */
#ifndef CRUMB_RUNPLAN_H
#define CRUMB_RUNPLAN_H

#include <stddef.h>

#include "console.h"
#include "hostenv.h"
#include "initcfg.h"
#include "kernel.h"
#include "oci.h"
#include "runcfg.h"
#include "util.h"
#include "vmm.h"
#include "vmstate.h"
#include "warm.h"

/*
 * Guest memory a root filesystem needs. The initramfs is unpacked into a
 * tmpfs, which Linux caps at half of the memory it sees, while the archive
 * itself still occupies memory: so need = 2 x files (+6% metadata) + archive +
 * the kernel's own. The kernel's share, measured with the crumb kernel under
 * TCG (bisection on -m; it loads at 2 MiB and caps virtqueues at 32 entries):
 * /bin/true by --exec (2.3 MB archive) boots at 22M, not 20M; the sshd example
 * (6.4 MB of files, 3.2 MB zstd archive) serves at 32M, not 30M: 16 MiB puts
 * both on the right side (their needs: 23M and 32M). An ext4 root stays on its
 * disk: only the kernel's share. Without -m the guest gets need + headroom,
 * rounded up to 16 MiB, at least 128 MiB.
 */
#define RUNPLAN_KERNEL_MB 16u
#define RUNPLAN_HEADROOM_MB 64u
#define RUNPLAN_MIN_MB 128u
/* The largest cpio+zstd root layer booted from its decompressed copy (klayer_initrd). */
#define RUNPLAN_INITRD_CACHE_MAX (64ull << 20)
/* A named volume made on demand: sparse, so it costs what is written. */
#define RUNPLAN_VOLUME_SIZE (1ull << 30)
#define RUNPLAN_MAX_VOLUMES 16
#define RUNPLAN_MAX_PORTS 64

/*
 * What the command line said (crumb run's flags, already checked one by one
 * by its parser). Strings and lists are the caller's and must outlive the
 * plan. 0 / NULL / an empty list: not given.
 */
/* --seccomp: what a call outside the image's allowlist (LABEL crumb.seccomp) does. */
enum { RUNPLAN_SECCOMP_ERRNO, RUNPLAN_SECCOMP_KILL, RUNPLAN_SECCOMP_OFF };

struct run_opts {
	/* The root filesystem: exactly one of these. */
	const char *image;	    /* IMAGE: a store reference */
	const char *rootfs;	    /* --rootfs FILE: cpio (any compression) or ext2/3/4 */
	const char *program;	    /* --exec PATH */
	const struct strlist *adds; /* --add H[:G] (with --exec) */
	const struct strlist *args; /* IMAGE's COMMAND ARGS, or --exec's ARGS */
	const struct strlist *env;  /* -e / --env-file "K=V", in order */
	int compress;		    /* --compress (enum compress) for --exec's initramfs */
	const char *cwd;	    /* makes a relative --exec PATH absolute; NULL: kept */

	const char *entrypoint, *user, *workdir, *hostname;
	const char *restart;	 /* "no", "always", "on-failure[:N]" */
	const char *stop_signal; /* a name runcfg_signal knows */
	int stop_timeout;	 /* seconds; -1: not given */
	const struct vm_port *ports;
	size_t nports;			 /* -p, at most RUNPLAN_MAX_PORTS */
	const struct strlist *volumes;	 /* -v values, at most RUNPLAN_MAX_VOLUMES */
	const struct strlist *add_hosts; /* --add-host values (runcfg_add_host_parse) */
	int tty;			 /* -t */
	unsigned rows, cols;		 /* -t: the host terminal's size; 0: unknown */

	unsigned mem, cpus; /* -m (MiB), -c */
	const char *kernel; /* --kernel FILE|ID */
	const char *cmdline;
	int have_cmdline; /* --cmdline given (an image's crumb.cmdline is then ignored) */
	int net;	  /* 1: user networking (the default), 0: --net none */
	int net_given;	  /* --net was on the command line */
	enum vm_vmm vmm;
	enum accel accel;
	double timeout; /* --timeout seconds; 0: none */
	int verbose, foreign_init, interactive;

	const char *name;  /* --name (checked by vmstate_name_check) */
	int detach;	   /* -d */
	int autoremove;	   /* --rm */
	int timing;	   /* --timing or --timeline: the table needs the foreground */
	int cold;	   /* --cold: never restore a snapshot (warm.h) */
	int seccomp;	   /* RUNPLAN_SECCOMP_*: the image's crumb.seccomp allowlist */
	const char *trace; /* --trace FILE: crumb-init's trace of the service goes there */

	const struct hostenv *host; /* TERM, XDG_RUNTIME_DIR, TMPDIR, SOURCE_DATE_EPOCH */
};

/*
 * The combinations crumb run refuses before looking at anything, with the
 * messages it prints as usage errors ("give one of IMAGE, --exec PATH or
 * --rootfs FILE", "--add goes with --exec", "-p needs a network (--net
 * user)", what only QEMU does with --vmm ...). 0, or CRUMB_EINVAL.
 */
int runplan_check(const struct run_opts *o, struct err *e);

/* One -v as planned: an ext4 disk (/dev/vdX) or a 9p share (tag crumbN). */
struct run_plan_volume {
	struct run_volume v; /* parsed (kind, source, target, readonly) */
	const char *spec;    /* the -v value, for messages */
	char *path;	     /* ext4: the image file (named: in the store, made if missing) */
	char dev[16];	     /* ext4: "/dev/vdb"... (after the root disk, if any) */
	char tag[16];	     /* 9p: "crumb0"... */
};

/* --exec's initramfs: the program, its --add files, arguments and -e, the
 * compression (enum compress). Borrowed strings. */
struct run_exec {
	const char *program;
	const struct strlist *adds, *args, *env;
	int compress;
};

/*
 * The plan. runplan_make fills the decisions from a struct run_opts; the
 * builder (build.c) fills vc, cfg and work itself. The executor
 * (runplan_prepare, runplan_boot, runplan_finish / runplan_cleanup) carries
 * it out. Everything is owned by the plan (runplan_release) unless noted.
 */
struct run_plan {
	/* What vm_run gets; its pointers point into the plan (or the options). */
	struct vm_config vc;
	/* What crumb-init runs, passed to the guest (fw_cfg + config disk) when
	 * need_conf; with key_disk alone a key-only config disk. */
	struct initcfg cfg;
	int need_conf, key_disk;

	/* Sizing: the root's archive and content bytes; vc.mem_mb is decided by
	 * runplan_size (left alone when already set). */
	unsigned mem, cpus; /* the flags', else the image's labels */
	int is_disk;	    /* the root is an ext4 disk */
	unsigned long long archive, content;
	/* An image's cpio+zstd root boots as its decompressed copy (klayer_initrd: initrd_raw,
	 * archive its size); archive_z is the compressed blob's size, the initramfs runplan_size
	 * falls back to when -m leaves no room for the plain one (0: no such choice). */
	unsigned long long archive_z;

	struct vm_port ports[RUNPLAN_MAX_PORTS]; /* -p, then the image's crumb.publish */
	size_t nports;
	struct run_plan_volume vols[RUNPLAN_MAX_VOLUMES];
	size_t nvols;
	struct vm_volume disks[RUNPLAN_MAX_VOLUMES]; /* vc.volumes */
	struct vm_share shares[RUNPLAN_MAX_VOLUMES]; /* vc.shares */

	struct run_exec exec; /* --exec: packed into work/rootfs.cpio */

	/* State: a directory under state_root named name (or a made-up one) when
	 * use_state; else the run's files go to a temporary directory. */
	char *state_root;
	int use_state;
	const char *want_name; /* --name */
	struct vmstate st;     /* what 'crumb ps' shows (name filled by prepare) */

	const struct hostenv *host;
	char *store; /* the store root */
	struct oci_store *oci;
	struct oci_image im;
	int have_im;
	struct kernel_info ki;
	char *kernel_owned, *root_owned, *initrd_raw;
	int store_lock_fd; /* held from the image's resolution until the guest's init */

	/* Carried out (prepare): */
	unsigned char key[CONSOLE_KEY_LEN]; /* this boot's marker key (console.h) */
	int have_key;
	char name[VMSTATE_NAME_MAX + 1];
	char *dir;	  /* the state directory, or NULL */
	char *tmp;	  /* the temporary directory, or NULL */
	const char *work; /* where the run's files go: dir, tmp, or the builder's */
	char *initrd;	  /* --exec's initramfs */
	char *conf_path, *disk_path, *log_path, *ctl_sock, *qmp_sock;
	int lock_fd, log_fd;

	/* Warm start (warm.h). A run of an image restores the snapshot that
	 * matches its shape unless cold; crumb warm sets warm_make (and
	 * cfg.snapshot) to take one at crumb-init's snapshot point instead. */
	int cold, warm_make;
	int warm_made;		/* warm_make: taken and stored (taken, shape) */
	int warm_used;		/* this run was restored (wt has its phases) */
	int warm_failed;	/* a restore was tried and failed: booted cold (warm_why) */
	char warm_why[320];	/* why the run was not restored, or the make failed; "" */
	char shape[65];		/* the VM's shape key */
	struct warm_entry snap; /* the snapshot being restored */
	struct warm_times wt;
	struct warm_taken taken;
	int warm_sock;	      /* our end of the snapshot's stream during a restore; -1 */
	int warm_peer;	      /* QEMU's end until it has it; -1 */
	int warm_ctl;	      /* the control connection the request went on, until init; -1 */
	struct sbuf warm_req; /* the restore request (warm_request) */
	char *warm_disk;      /* the restore's config disk: no marker key on it */

	/* Called after the plan's own handling of each vm_run event (it records
	 * QEMU's pid and the start in the state, and lets the store go at init). */
	vm_event_fn event;
	void *event_ctx;
};

void runplan_init(struct run_plan *p);
void runplan_release(struct run_plan *p);

/* Guest memory (MiB) a root filesystem needs: an archive of archive bytes
 * holding content bytes of files. */
unsigned runplan_need_mb(unsigned long long archive, unsigned long long content);

/*
 * Decides vc.mem_mb from p->mem, is_disk, archive and content: -m below the
 * need is refused ("-m 32M is too small: this root filesystem needs at least
 * 41M (...)"); no -m gets need + headroom. Does nothing when vc.mem_mb is set.
 */
int runplan_size(struct run_plan *p, struct err *e);

/*
 * An image's config and labels over the flags (the flags win): crumb.memory,
 * crumb.cpus, crumb.cmdline, crumb.publish (a -p with the same guest or host
 * port replaces the image's), crumb.restart; argv, env, user, workdir,
 * hostname by Docker's rules (runcfg_image); StopSignal; ExposedPorts as
 * ready ports. A bad label is CRUMB_EFORMAT naming it.
 */
int runplan_image(struct run_plan *p, const struct run_opts *o, const struct oci_config *ic,
		  struct err *e);

/* --exec: the same service config rootfs_exec writes into the initramfs. */
void runplan_exec_config(struct run_plan *p, const struct run_opts *o);

/*
 * The service keys the flags set (IMAGE and --exec): restart, stop signal and
 * timeout, published TCP ports as ready ports, --add-host lines (host-gateway
 * resolved), the volumes (parsed; mounts
 * added; named volumes' paths in p->store), the tty. -v values that are
 * files are checked to be ext2/3/4 images here.
 */
int runplan_service(struct run_plan *p, const struct run_opts *o, struct err *e);

/*
 * The state directory rule: 1 when the run gets one under root (QEMU only,
 * and the socket paths fit a unix socket), 0 when it runs without, or
 * CRUMB_EINVAL when it must have one (--name, -d) but cannot ("the state
 * directory ROOT is too deep for a unix socket: ..."). root NULL: none could
 * be made (the error is the caller's).
 */
int runplan_state_rule(const char *root, const struct run_opts *o, struct err *e);

/*
 * Decides everything for o: finds the store, the VMM, the image (resolved
 * and verified; the store stays locked until the guest's init) or the root
 * file, the kernel; checks the published ports are free; merges labels and
 * flags; plans volumes and the state directory. Creates none of the run's
 * own files (the store's layout and the state root may be made, as
 * store_root/oci_open/vmstate_root do). Errors are crumb run's one-line
 * messages. On failure the caller still calls runplan_release.
 */
int runplan_make(struct run_plan *p, const struct run_opts *o, struct err *e);

/*
 * The executor, step 1: makes the marker key, the named volumes, the state
 * (or temporary) directory, --exec's initramfs; sizes the memory; writes the
 * init config and its disk, the console log, the key and state files. On
 * failure what it made stays for runplan_cleanup(p, 0).
 */
int runplan_prepare(struct run_plan *p, struct err *e);

/*
 * Step 2: vm_run (output to out); 0 when the VMM ran (see res). A run of an
 * image on QEMU first looks for a snapshot of its shape (not with cold,
 * volumes or shares: warm_why says why) and restores it; when the restore
 * fails the VM is killed, the event "cold" is sent (warm_why has the reason)
 * and the VM boots cold.
 */
int runplan_boot(struct run_plan *p, vm_output_fn out, void *ctx, struct vm_result *res,
		 struct err *e);

/* The warm start's part of the executor (runplan_warm.c): the control and
 * QMP sockets in the work directory when the run has none; the restore
 * (0: restored and ran; 1: boot cold); the events it acts on ("spawn" during
 * a restore, "snapshot" with warm_make). */
void runplan_warm_sockets(struct run_plan *p);
int runplan_warm_boot(struct run_plan *p, vm_output_fn out, void *ctx, struct vm_result *res);
void runplan_warm_event(struct run_plan *p, const char *name, const struct vm_result *r);

/* Rewrites the state file (a detached supervisor records its pid). */
void runplan_save_state(struct run_plan *p);

/* Step 3: records the end when there is a state directory (the program's
 * status, else status: what the run ended as, -1 for a failure; reason: the
 * message, "" or NULL for none), then cleans up, keeping the state unless it
 * is autoremoved. */
void runplan_finish(struct run_plan *p, const struct vm_result *res, int status,
		    const char *reason);

/* Removes the run's files; the whole state directory unless keep_state. */
void runplan_cleanup(struct run_plan *p, int keep_state);

/* Forgets the run's files without removing them (a detached run's parent). */
void runplan_disown(struct run_plan *p);

/* The files a state directory may hold, NULL-terminated (for removing one
 * from a signal's aftermath without allocating). */
extern const char *const runplan_state_files[];

/*
 * Packs --exec's initramfs: rootfs_exec of x with crumb-init, plus the marker
 * key (NULL: none) for crumb-init to take, as a cpio at out (compress: enum
 * compress), timestamps clamped to host's SOURCE_DATE_EPOCH. *bytes (may be
 * NULL) gets the content size.
 */
int runplan_pack_exec(const struct run_exec *x, const unsigned char *key,
		      const struct hostenv *host, const char *out, unsigned long long *bytes,
		      struct err *e);

#endif

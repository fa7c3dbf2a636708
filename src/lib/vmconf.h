/* vmconf.h: what a VM is made of (struct vm_config and its parts) and what the host saw of
 * its run (struct vm_result): the types every VMM module shares, below all of them. */
#ifndef CRUMB_VMCONF_H
#define CRUMB_VMCONF_H

#include <stddef.h>

#include "accel.h"
#include "hostenv.h"
#include "util.h"

/* Which VMM runs the guest. QEMU (microvm) is the default and the only one
 * with user networking, 9p shares, QMP, the control channel and fw_cfg; the
 * others (KVM only) are built by src/lib/vmm_alt.[ch]. */
enum vm_vmm { VMM_QEMU, VMM_FIRECRACKER, VMM_CLOUD_HYPERVISOR };
/* "qemu", "firecracker", "cloud-hypervisor"; anything else is CRUMB_EINVAL. */
int vm_vmm_parse(const char *s, enum vm_vmm *out, struct err *e);
const char *vm_vmm_name(enum vm_vmm v);

/* A published port: host address and port forwarded to a guest port. */
struct vm_port {
	char host_ip[64]; /* numeric IPv4; default 127.0.0.1 */
	unsigned host_port, guest_port;
	int udp;
};

/* Parses "[HOSTIP:]HOSTPORT:GUESTPORT[/tcp|/udp]". */
int vm_port_parse(const char *s, struct vm_port *p, struct err *e);

/* Fails with CRUMB_EBUSY ("port 8080 on 127.0.0.1 is already in use") when a
 * published port cannot be bound on the host now. */
int vm_port_check(const struct vm_port *p, struct err *e);

/* An ext2/3/4 image attached as an extra virtio-blk disk. */
struct vm_volume {
	const char *path;
	int readonly;
};

/* A host directory exported over virtio-9p with mount tag tag. */
struct vm_share {
	const char *path;
	const char *tag; /* 1..31 bytes of [A-Za-z0-9_.-] */
	int readonly;
};

/*
 * The kernel's console lines, kept when vm_config.klog is set (crumb run
 * --timing): the text before crumb-init's init marker and after its exit
 * marker, one line per entry ("[    0.634521] message", CR/LF stripped, at
 * most 512 bytes), up to VM_KLOG_MAX_LINES lines and VM_KLOG_MAX_BYTES bytes;
 * later lines are only counted. The owner zero-fills it (or VM_KLOG_INIT) and
 * calls vm_klog_release; vm_run empties it when QEMU starts.
 */
#define VM_KLOG_MAX_LINES 2000
#define VM_KLOG_MAX_BYTES (256 * 1024)
struct vm_klog {
	struct sbuf text; /* the lines, each ending "\n" */
	double *host;	  /* n entries: when each line was complete on the host (monotonic) */
	size_t n;	  /* lines kept */
	size_t boot;	  /* how many of them (the first ones) came before the init marker */
	size_t dropped;	  /* lines not kept */
};
/* clang-format off */
#define VM_KLOG_INIT {SBUF_INIT, NULL, 0, 0, 0}
/* clang-format on */
/* Defined with the console parser that fills it (console.c). */
void vm_klog_add(struct vm_klog *k, const char *line, size_t len, double now, int boot);
void vm_klog_reset(struct vm_klog *k);
void vm_klog_release(struct vm_klog *k);

struct vm_result;
/* Called by the console parser for each marker (name "init", "exec", "ready",
 * "exit", "error", ...) after res is updated, and with "spawn" once QEMU is
 * started (res->qemu_pid set). */
typedef void (*vm_event_fn)(void *ctx, const char *name, const struct vm_result *res);

struct vm_config {
	const struct hostenv *env; /* CRUMB_QEMU, CRUMB_PASST, CRUMB_NETDEV,
				      CRUMB_FIRECRACKER, CRUMB_CLOUD_HYPERVISOR; NULL:
				      as if none were set. Not freed */
	const char *qemu;	   /* NULL: env->qemu, else qemu-system-x86_64 from PATH */
	const char *kernel;	   /* PVH vmlinux */
	const char *initrd;	   /* cpio, may be compressed; or NULL with disk */
	const char *disk;	   /* ext2/3/4 image booted as the root (virtio-blk, /dev/vda);
				      opened with snapshot=on: the run never changes the file */
	const char *cmdline;	   /* extra kernel command line, appended; may be NULL */
	unsigned mem_mb;
	unsigned cpus; /* 0: 1 */
	enum accel accel;
	int verbose;	       /* pass the kernel's messages through */
	const char *state_dir; /* where the KVM probe verdict is cached; NULL: no cache */
	int net;	       /* 1: a virtio-net card on user networking (passt, see
				  passt.h); 0: none */
	int net_passt;	       /* set by vm_qemu_net (vm_run), not by callers: 1: the card (eth0) is
				  connected to this VM's passt through fd VM_NET_FD; with
				  published ports a second card (eth1, VM_INBOUND_NET) is
				  QEMU's slirp with restrict=on carrying only them: the guest
				  opens nothing through it (see passt.h). 0: slirp
				  alone (CRUMB_NETDEV=slirp) */
	int net_passt_ports;   /* set by vm_qemu_net: CRUMB_NETDEV=passt, passt forwards the
				  published ports itself (no second card; bench/net.sh) */
	int net_slirp_open;    /* set by vm_qemu_net: CRUMB_NETDEV=slirp, slirp without restrict
				  (the guest then reaches the host's loopback at 10.0.2.2) */
	int vcon;	       /* set by vm_qemu_console (vm_run): 1: the service's output and
				  the markers over a virtio-serial port (QEMU's stdout), the UART
				  with the kernel's messages on VM_SERIAL_FD; 0: all on the UART */
	double timeout;	       /* seconds from QEMU's start after which it is killed; 0: none */
	const struct vm_port *ports; /* published ports (with net) */
	size_t nports;
	int disk_writable; /* 1: disk opened read-write (no snapshot): the run changes it */
	const char
	    *init_conf;		    /* crumb-init's config as a file, handed to the guest through
				       fw_cfg (opt/crumb/init.conf), overriding the root's own; NULL: none */
	const char *init_conf_disk; /* the same config as a config disk (initcfg_disk), attached
				       after the volumes, for kernels without ioperm; writable:
				       crumb-init wipes the marker key it carries */
	const struct vm_volume *volumes; /* extra virtio-blk disks after the root, in this order */
	size_t nvolumes;
	const struct vm_share *shares; /* host directories over 9p */
	size_t nshares;
	const char *ctl_sock;	/* unix socket path of the control channel (virtserialport
				   "crumb.ctl"; "stop\n" asks crumb-init to stop); NULL: none */
	const char *qmp_sock;	/* unix socket path for QMP; NULL: none */
	const char *trace_path; /* a file for crumb-init's trace records (virtserialport
				   VM_TRACE_PORT, QEMU only); NULL: none */
	int interactive;	/* 1: crumb's stdin is forwarded to the guest's console (its EOF
				   becomes a ^D); 0: the console gets no input */
	int console_fd;		/* > 0: every console byte, markers included, is copied here */
	vm_event_fn event;	/* may be NULL */
	void *event_ctx;
	struct vm_klog *klog; /* non-NULL: the kernel runs with printk.time=1 and without
				 quiet, and its console lines are kept here (--timing) */
	enum vm_vmm vmm;      /* VMM_QEMU (0) unless --vmm; with another, qemu is ignored,
				 init_conf is left to init_conf_disk, and vm_alt_check's
				 refusals apply */
	const unsigned char *marker_key; /* CONSOLE_KEY_LEN bytes (console.h): the boot's
				 marker key, also handed to the guest (init_conf_disk or the
				 initramfs); only markers signed with it are acted on. NULL:
				 none is (every marker is shown as console text) */
	int incoming_fd;  /* > 0: QEMU loads a snapshot (warm.h) from this fd, which it gets
			     as VM_ALT_FD ("-incoming fd:3"), and starts paused; 0: a cold boot */
	int foreign_init; /* the guest's PID 1 is not crumb-init (run --foreign-init):
			     its markers are believed without a signature (console.h) */
};

/* The inbound-only card's network (QEMU's slirp, restrict=on): the guest is
 * .15 there (crumb-init sets it on eth1, with no route beyond it), which is
 * where slirp's hostfwd delivers. */
#define VM_INBOUND_NET "10.0.4.0/24"
/* Its MAC, by which crumb-init tells it from the guest's own card. */
#define VM_INBOUND_MAC "52:54:00:c0:ff:01"

/* The fw_cfg name the guest reads its config from (crumb-init knows it). */
#define VM_FWCFG_INIT_CONF "opt/crumb/init.conf"
/* The virtserialport name of the control channel. */
#define VM_CTL_PORT "crumb.ctl"
/* The virtserialport of the fast console, and what the host sends on it once
 * it has read the exit (or error) marker: crumb-init powers off only then
 * (src/init/relay.h has the same two). */
#define VM_CONSOLE_PORT "crumb.console"
#define VM_TRACE_PORT "crumb.trace"
#define VM_CONSOLE_ACK "\006crumb:ack\n"

/*
 * What the host saw. Host times are CLOCK_MONOTONIC seconds (0 = not seen);
 * guest times are the guest's CLOCK_BOOTTIME from crumb-init's markers
 * (-1 = not seen).
 */
struct vm_result {
	enum accel accel; /* what actually ran */
	int status;	  /* the program's exit status from the exit marker; -1 if none */
	int qemu_status;  /* QEMU's exit status (128+sig if killed) */
	double t_spawn, t_first_byte, t_init, t_exec, t_exit, t_end;
	double g_init, g_exec, g_exit;
	double t_ready, g_ready;       /* every `ready` port listens in the guest */
	double t_stopping, g_stopping; /* crumb-init began stopping the service */
	double t_restart, g_restart;   /* the last restart of the service */
	int restarts;		       /* restart markers seen */
	int steps;		       /* step markers seen (build mode) */
	char step[256];		       /* the last step marker's fields */
	int qemu_pid;		       /* QEMU's pid while it runs (0 before) */
	char panic[256];	       /* "Kernel panic - not syncing: ..." if the guest panicked */
	char init_error[256];	       /* crumb-init's error marker text */
	char qemu_error[512];	       /* QEMU's last stderr line */
	char kvm_note[256];	       /* why KVM was not used, when auto fell back */
	int timed_out;		       /* killed at the config's timeout */
	int unsigned_markers;	       /* marker-shaped console text that failed authentication
					  (forged, replayed, or from a crumb-init without the key):
					  shown as console text, never acted on */
};

/* Receives what the user should see of the console (the program's output). */
typedef void (*vm_output_fn)(void *ctx, const char *buf, size_t len);

/* The file descriptor QEMU finds its end of passt's socket on (passt.h). */
#define VM_NET_FD 4
/* The file descriptor another VMM gets its extra file on: firecracker reads its
 * config from it (/dev/fd/3), cloud-hypervisor writes its events to it (vmm_alt.h). */
#define VM_ALT_FD 3
/* The file descriptor QEMU writes the 8250 UART to when the console port has stdio (vcon). */
#define VM_SERIAL_FD 5

/* Finds a program crumb runs: given, else from_env (a variable's value), else dflt;
 * a name without '/' is looked up along path (hostenv's PATH; NULL: /usr/bin:/bin). CRUMB_ENOENT
 * "LABEL not usable at PATH" for a path that is not executable, else "NAME not found in PATH" with
 * not_found appended (how to get it). *out is malloc'd. */
int vm_find_program(const char *given, const char *from_env, const char *path, const char *dflt,
		    const char *label, const char *not_found, char **out, struct err *e);

/* Writes all of buf to fd (retrying short writes and EINTR); 0, or -1 with errno. */
int vm_write_all(int fd, const void *buf, size_t n);

/* Frees an argv built by vm_qemu_argv, vm_alt_argv or passt_argv (NULL is fine). */
void vm_argv_free(char **argv);

/* Appends to sb what every VMM's kernel command line ends with: how to find crumb-init
 * (rdinit= for an initramfs, root=/dev/vda ROOT_MODE ... for a disk; root_mode is "rw" or
 * "ro"), the log level, printk times with --timing, and c->cmdline. */
void vm_cmdline_tail(struct sbuf *sb, const struct vm_config *c, const char *root_mode);

#endif

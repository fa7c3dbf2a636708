/* vmstate.h: one state directory per named or detached VM, and what `crumb ps` derives from it. */
#ifndef CRUMB_VMSTATE_H
#define CRUMB_VMSTATE_H

#include <stddef.h>
#include <stdint.h>

#include "hostenv.h"
#include "util.h"

/*
 * ROOT is $XDG_RUNTIME_DIR/crumb/vms when that directory is usable, else
 * $CRUMB_HOME/run/vms. A VM's directory ROOT/NAME holds:
 *   lock      flock'ed (exclusive) by the process that owns QEMU (crumb run in
 *             the foreground, or its detached supervisor) for as long as it
 *             lives: a lock nobody holds means that process is gone
 *   state     "KEY VALUE" lines (see struct vmstate), rewritten atomically
 *   exit      written when QEMU has ended: "status N", "qemu_status N",
 *             "ended EPOCH", "reason TEXT"
 *   console.log  every console byte (markers included; `crumb logs` strips them)
 *   marker.key  the boot's marker key in hex (0600): `crumb logs` strips only the
 *             markers signed with it, as the run did (console.h)
 *   ctl.sock  the control channel (crumb-init reads "stop\n")
 *   qmp.sock  QEMU's QMP monitor
 *   init.conf, rootfs.cpio  the run's files (removed when QEMU has read them)
 * The directory is created with mkdir(2): of two runs with one name, one
 * wins and the other gets CRUMB_EBUSY.
 */

#define VMSTATE_NAME_MAX 64
#define VMSTATE_KEY_FILE "marker.key"

struct vmstate {
	char name[VMSTATE_NAME_MAX + 1];
	char image[512];   /* what runs: an image ref, or "exec:/PATH" */
	char command[512]; /* argv joined with spaces, for ps */
	char ports[512];   /* "127.0.0.1:8080->80/tcp, ..." */
	int64_t created;   /* epoch seconds */
	int64_t started;   /* epoch seconds when crumb-init spoke (0: not yet) */
	int qemu_pid, supervisor_pid;
	int detached, autoremove;
};

struct vmexit {
	int present;	 /* 0: no exit file */
	int status;	 /* the service's exit status; -1 if the VM died without one */
	int qemu_status; /* QEMU's: 128+N when killed by signal N */
	int64_t ended;
	char reason[256];
};

enum vm_run_state {
	VM_CREATED, /* directory made, QEMU not started yet */
	VM_RUNNING, /* QEMU alive (its pid's cmdline names this directory) */
	VM_EXITED,  /* QEMU ended and its status was recorded */
	VM_DEAD	    /* QEMU and its owner are gone without recording anything */
};
const char *vm_run_state_name(enum vm_run_state s);

/* 0 if name is [a-zA-Z0-9][a-zA-Z0-9_.-]* and 1..VMSTATE_NAME_MAX bytes, else
 * CRUMB_EINVAL saying so. */
int vmstate_name_check(const char *name, struct err *e);

/* The state root (created, mode 0700): env's XDG_RUNTIME_DIR/crumb/vms when that
 * is a writable directory, else STORE/run/vms (store_root(env)). *out malloc'd. */
int vmstate_root(const struct hostenv *env, char **out, struct err *e);

/*
 * Creates ROOT/NAME and takes its lock; *dir malloc'd, *lock_fd the lock
 * (close-on-exec; a forked child that keeps it keeps the lock). With name
 * NULL a free "adjective_noun" name is made up (written to gen, 65 bytes).
 * CRUMB_EBUSY "name 'X' is already in use" when it exists.
 */
int vmstate_create(const char *root, const char *name, char gen[VMSTATE_NAME_MAX + 1], char **dir,
		   int *lock_fd, struct err *e);

/* Parses / renders the state file. Unknown keys are skipped. */
int vmstate_parse(const char *buf, size_t len, struct vmstate *s);
void vmstate_render(const struct vmstate *s, struct sbuf *out);
int vmstate_save(const char *dir, const struct vmstate *s, struct err *e);
/* CRUMB_ENOENT "no VM named 'X'" when ROOT/NAME does not exist. */
int vmstate_load(const char *dir, struct vmstate *s, struct err *e);

int vmexit_parse(const char *buf, size_t len, struct vmexit *x);
int vmexit_save(const char *dir, const struct vmexit *x, struct err *e);
/* x->present = 0 when there is no exit file. */
void vmexit_load(const char *dir, struct vmexit *x);

/* 1 if pid is alive and its /proc/PID/cmdline is a QEMU whose arguments name
 * dir (its control socket), 0 otherwise: a recycled pid is never "ours". */
int vmstate_qemu_alive(int pid, const char *dir);
/* 1 if some process holds dir's lock (the QEMU owner lives). */
int vmstate_owner_alive(const char *dir);

/* Derives the state: running if QEMU is ours and alive; else exited when the
 * exit file is there; else created while the owner lives; else dead. */
enum vm_run_state vmstate_probe(const char *dir, const struct vmstate *s, struct vmexit *x);

/* Every VM directory name under root, sorted. Free with strlist_release. */
int vmstate_list(const char *root, struct strlist *names, struct err *e);

/* Sends line to the unix socket at path (the control channel). */
int vmstate_send(const char *path, const char *line, struct err *e);
/* Asks QEMU to quit through its QMP socket. */
int vmstate_qmp_quit(const char *path, struct err *e);

/* "3h", "12m", "45s", "2d" */
void vmstate_duration(int64_t secs, char *buf, size_t len);

#endif

/* stepmount.h: a build step's own mounts and secrets (RUN --mount), made before it and undone
 * after it (crumb-init, build mode; format in config.h, step_mount and step_secret). */
#ifndef CRUMB_INIT_STEPMOUNT_H
#define CRUMB_INIT_STEPMOUNT_H

#include <stddef.h>

#include "config.h"

/*
 * Splits a mount's OPTIONS ("ro,size=64m") into mount(2) flags (ro, rw, nosuid, nodev,
 * noexec, noatime, relatime) and the filesystem's data (the rest, comma-joined, appended to
 * what data already holds). 0, or -1 when data (datalen bytes) would overflow.
 */
int mnt_options(const char *options, unsigned long *flags, char *data, size_t datalen);

/* What step_setup did, for step_undo: paths to unmount or remove, in the order done. */
struct step_undo {
	struct step_act {
		char *path;
		int what; /* STEP_UNMOUNT, STEP_RMDIR or STEP_UNLINK */
	} * acts;
	size_t n, alloc;
};

/*
 * Carries out p's step_mount and step_secret lines (config.h), in that order: the mount
 * points made in the root (and recorded in u), filesystems mounted, secret files written on
 * /dev (a tmpfs) and bind-mounted. *env: a malloc'd copy of envp (NULL-terminated) with each
 * secret that goes to a variable set in it (replacing that variable); the strings are
 * malloc'd or envp's. Returns 0, or -1 with a one-line reason in err (errlen bytes), u then
 * holding what to undo. Never prints a secret's bytes.
 */
int step_setup(const struct conf_proc *p, char **envp, char ***env, struct step_undo *u, char *err,
	       size_t errlen);

/* Undoes u newest first (lazy unmounts; a directory is removed only when empty), telling warn
 * what fails; u is then empty. */
void step_undo(struct step_undo *u, void (*warn)(const char *fmt, ...));

#endif

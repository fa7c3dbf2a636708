/* rootfs.h: assembles the guest's root filesystem for `crumb run --exec` and `crumb pack`. */
#ifndef CRUMB_ROOTFS_H
#define CRUMB_ROOTFS_H

#include "hostenv.h"
#include "tree.h"

/* Where crumb-init lives in the guest; the kernel is told rdinit= this. */
#define ROOTFS_INIT_PATH "/sbin/crumb-init"

struct exec_spec {
	const char *program;	    /* host path: an ELF executable or a #! script */
	const struct strlist *adds; /* "HOSTPATH[:GUESTPATH]" files or directories */
	const struct strlist *args; /* the program's arguments (after argv[0]) */
	const struct strlist *env;  /* "K=V" added to (or overriding) the default env */
	const char *init;	    /* host path of the crumb-init binary */
};

/*
 * Fills t with: the program at its host path (absolute), the shared-library
 * closure of it — for a #! script, of its interpreter chain, /usr/bin/env
 * NAME resolved through the guest's PATH among the host's files — with the host's symlink chains,
 * every --add, crumb-init, a minimal /etc, /dev/console and the mount
 * points, and crumb-init's config. Nothing is read from the host beyond
 * metadata until the tree is written.
 */
int rootfs_exec(struct tree *t, const struct exec_spec *s, struct err *e);

/* Adds the file at hostpath (ELF or script) with everything it needs to run,
 * at the same paths as on the host. path is the guest's PATH, along which
 * "#!/usr/bin/env NAME" finds NAME (NULL: the default PATH). */
int rootfs_add_program(struct tree *t, const char *hostpath, const char *path, struct err *e);

/* Adds only the shared-library closure (interpreter and libraries, at their
 * host paths with their symlink chains) of hostpath when it is an ELF file;
 * nothing for other files. */
int rootfs_add_closure(struct tree *t, const char *hostpath, struct err *e);

/* Adds what every root needs and does not have yet: /dev /proc /sys /tmp
 * /run /root /etc, /dev/console, minimal /etc/passwd, group and hosts when
 * absent, and crumb-init (host path init) at ROOTFS_INIT_PATH. */
int rootfs_add_base(struct tree *t, const char *init, struct err *e);

/* Finds crumb-init: env's CRUMB_INIT (env may be NULL), next to the running
 * crumb binary, or the install dir. *out is malloc'd. */
int rootfs_find_init(const struct hostenv *env, char **out, struct err *e);

#endif

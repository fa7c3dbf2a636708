/* initcfg.h: builds crumb-init's configuration file (format documented in src/init/config.h). */
#ifndef CRUMB_INITCFG_H
#define CRUMB_INITCFG_H

#include "util.h"

/* Where the file goes in the guest's root (the same as src/init/config.h's CONF_PATH). */
#define INITCFG_GUEST_PATH "/etc/crumb/init.conf"

/* What the guest runs. The struct owns every string (initcfg_release frees them):
 * fill the lists with strlist_push and the two strings with xstrdup. */
struct initcfg {
	struct strlist
	    argv; /* argv[0] = program path in the guest (execve'd as is, no PATH search) */
	struct strlist env; /* "NAME=value"; the service's whole environment */
	char *workdir;	    /* NULL = "/" */
	char *hostname;	    /* NULL = "crumb" */
};

void initcfg_init(struct initcfg *c);
/* Frees everything c owns and leaves it initialized (empty). */
void initcfg_release(struct initcfg *c);

/*
 * Appends the file's bytes to out. Fails (CRUMB_EINVAL) on an empty argv, an
 * empty argv[0], an env entry without '=' or with an empty NAME, a workdir
 * that is not absolute, a hostname not 1..64 bytes; (CRUMB_EUNSAFE) on a
 * line or a file over crumb-init's limits (256 KiB escaped per line, 1 MiB in
 * all). On failure out is left as it was.
 */
int initcfg_render(const struct initcfg *c, struct sbuf *out, struct err *e);

#endif

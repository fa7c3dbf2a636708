/* user.h: resolves a config's "USER[:GROUP]" in /etc/passwd and /etc/group (crumb-init; host
 * tests). */
#ifndef CRUMB_INIT_USER_H
#define CRUMB_INIT_USER_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

#define USER_MAX_GROUPS 256

/* Who a program runs as. */
struct user_ids {
	uid_t uid;
	gid_t gid;
	gid_t groups[USER_MAX_GROUPS]; /* for setgroups(); groups[0] == gid */
	size_t ngroups;
	char home[PATH_MAX]; /* the passwd entry's home, "/" without one */
};

/*
 * Resolves spec ("USER[:GROUP]", names or decimal ids; semantics in
 * config.h, key user) in ROOT/etc/passwd and ROOT/etc/group, where root is
 * "" in the guest (a directory in tests). A name is looked up before a
 * number, so a user called "1000" wins over uid 1000. A missing file is an
 * empty one. Returns 0, or -1 with a message in err (errlen bytes) when a
 * USER or GROUP name is not found.
 */
int user_resolve(const char *root, const char *spec, struct user_ids *ids, char *err,
		 size_t errlen);

/* Reads a whole file of at most max bytes (NUL-terminated, *len without the
 * NUL); NULL with a one-line message in err. Shared by crumb-init's modules. */
char *init_read_file(const char *path, size_t max, size_t *len, char *err, size_t errlen);

#endif

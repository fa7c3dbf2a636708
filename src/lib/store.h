/* store.h: where crumb keeps kernels, images and caches ($CRUMB_HOME). */
#ifndef CRUMB_STORE_H
#define CRUMB_STORE_H

#include "hostenv.h"
#include "util.h"

/* The store directory: env's CRUMB_HOME, else XDG_DATA_HOME/crumb, else
 * HOME/.local/share/crumb (env NULL: none set, CRUMB_EINVAL). Created (mode
 * 0700) if missing. *out is malloc'd. */
int store_root(const struct hostenv *env, char **out, struct err *e);

/* Takes an exclusive lock on path (created if missing), waiting for it.
 * Returns the lock's fd (>= 0); close it to release. */
int store_lock(const char *path, struct err *e);

#endif

/* confine.h: the trust boundary of a build: which host files a Crumbfile may read. */
#ifndef CRUMB_CONFINE_H
#define CRUMB_CONFINE_H

#include "util.h"

/*
 * A Crumbfile is a stranger's program: it reads its build context, as a
 * Dockerfile does, and nothing else of the host unless the user says so.
 *
 *  - Context paths (FROM PATH, INCLUDE, LABEL crumb.kernel=PATH, COPY/ADD
 *    sources): relative paths only, resolved with every symlink followed;
 *    the result must lie inside the context's real path.
 *  - Host files (COPY --from=host): the resolved path must lie under a
 *    system directory (/usr /bin /sbin /lib* /opt /etc) and be readable by
 *    every user (a file o+r; a directory o+r and o+x; each directory above it
 *    o+x), or lie under a path the user allowed (crumb build --allow-host).
 *    A directory is judged as a whole: every file and directory inside it
 *    must pass; symlinks inside it are copied as symlinks, not followed, so
 *    they are not judged.
 *
 * Nothing here prints; errors are one line without position (callers add
 * FILE:LINE:COL). Paths are bounded by PATH_MAX; directory walks stop at
 * CONFINE_MAX_DEPTH levels (refused beyond).
 */

#define CONFINE_MAX_DEPTH 256

/* 1 when real (absolute, resolved) is dir or lies below it (dir resolved too). */
int confine_inside(const char *real, const char *dir);

/*
 * Resolves rel (a path from a Crumbfile) inside the directory root (its real
 * path). *real gets the resolved path (malloc'd). Errors: CRUMB_EUNSAFE for
 * an absolute path or one that leaves root (lexically or through a symlink),
 * CRUMB_ENOENT when it does not exist.
 */
int confine_path(const char *root, const char *rel, char **real, struct err *e);

/*
 * Every symlink under dir (a real path inside root) must resolve inside root
 * (an OCI layout whose blobs point elsewhere reads the host). CRUMB_EUNSAFE
 * naming the first that does not.
 */
int confine_links(const char *root, const char *dir, struct err *e);

/*
 * COPY --from=host: may the host path real (absolute, symlinks resolved)
 * enter an image? allow holds real paths the user allowed (may be NULL).
 * 0 when it may; CRUMB_EUNSAFE saying why not and naming --allow-host.
 * A directory is walked (every entry judged, symlinks skipped).
 */
int confine_host(const char *real, const struct strlist *allow, struct err *e);

/* The same for one file only (a --deps library), not walking directories. */
int confine_host_file(const char *real, const struct strlist *allow, struct err *e);

#endif

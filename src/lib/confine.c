/* confine.c: the trust boundary of a build: context paths stay in the context, host files need
 * to be public system files or allowed by the user. */
#include "confine.h"

#include <errno.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int confine_inside(const char *real, const char *dir)
{
	size_t n = strlen(dir);
	if (n == 1 && dir[0] == '/')
		return real[0] == '/';
	return !strncmp(real, dir, n) && (real[n] == '/' || !real[n]);
}

/* "../x", "a/../../x": leaves the directory whatever exists there. */
static int escapes_lexically(const char *rel)
{
	int depth = 0;
	for (const char *p = rel; *p;) {
		size_t n = strcspn(p, "/");
		if (n == 2 && !strncmp(p, "..", 2))
			depth--;
		else if (n && !(n == 1 && *p == '.'))
			depth++;
		if (depth < 0)
			return 1;
		p += n + (p[n] == '/');
	}
	return 0;
}

int confine_path(const char *root, const char *rel, char **real, struct err *e)
{
	*real = NULL;
	if (rel[0] == '/')
		return err_set(e, CRUMB_EUNSAFE,
			       "%s: an absolute path reads outside the build context (use a path "
			       "relative to the context)",
			       rel);
	if (escapes_lexically(rel))
		return err_set(e, CRUMB_EUNSAFE, "%s: outside the build context", rel);
	char *rroot = realpath(root, NULL);
	if (!rroot)
		return err_errno(e, CRUMB_ENOENT, "build context %s", root);
	char *full = xasprintf("%s/%s", rroot, rel);
	char *r = realpath(full, NULL);
	int rc = 0;
	if (!r)
		rc = errno == ENOENT
			 ? err_set(e, CRUMB_ENOENT, "%s: no such file in the build context", rel)
			 : err_errno(e, CRUMB_EIO, "%s", rel);
	else if (!confine_inside(r, rroot))
		rc = err_set(e, CRUMB_EUNSAFE, "%s: outside the build context (a symlink to %s)",
			     rel, r);
	if (rc == 0)
		*real = r;
	else
		free(r);
	free(full);
	free(rroot);
	return rc;
}

/* A dir_fn: root is the context's real path (const char *). */
static int links_walk(const char *path, int depth, void *root, struct err *e)
{
	struct stat st;
	if (depth > CONFINE_MAX_DEPTH)
		return err_set(e, CRUMB_EUNSAFE, "%s: directory nesting too deep", path);
	if (lstat(path, &st) < 0)
		return err_errno(e, CRUMB_EIO, "%s", path);
	if (S_ISLNK(st.st_mode)) {
		char *r = realpath(path, NULL);
		int out = r && !confine_inside(r, root);
		int rc = out ? err_set(e, CRUMB_EUNSAFE,
				       "%s: a symlink out of the build context (to %s)", path, r)
			     : 0;
		free(r);
		return rc;
	}
	if (!S_ISDIR(st.st_mode))
		return 0;
	return dir_each(path, depth + 1, links_walk, root, e);
}

int confine_links(const char *root, const char *dir, struct err *e)
{
	char *rroot = realpath(root, NULL);
	if (!rroot)
		return err_errno(e, CRUMB_ENOENT, "build context %s", root);
	int rc = links_walk(dir, 0, rroot, e);
	free(rroot);
	return rc;
}

/* ---- host files ---- */

static const char *const system_dirs = "/usr /bin /sbin /lib* /opt /etc";

static int is_system(const char *real)
{
	static const char *const dirs[] = {"usr", "bin", "sbin", "opt", "etc", NULL};
	if (real[0] != '/')
		return 0;
	const char *c = real + 1;
	size_t n = strcspn(c, "/");
	for (const char *const *d = dirs; *d; d++)
		if (n == strlen(*d) && !strncmp(c, *d, n))
			return 1;
	return n >= 3 && !strncmp(c, "lib", 3);
}

static int allowed(const char *real, const struct strlist *allow)
{
	for (size_t i = 0; allow && i < allow->n; i++)
		if (confine_inside(real, allow->v[i]))
			return 1;
	return 0;
}

static int refuse(struct err *e, const char *top, const char *fmt, const char *path, unsigned mode)
{
	char why[PATH_MAX + 128];
	snprintf(why, sizeof(why), fmt, path, mode);
	return err_set(e, CRUMB_EUNSAFE, "%s; allow it with 'crumb build --allow-host %s'", why,
		       top);
}

/* Outside the allowed paths: a system directory, and every directory above real searchable by all.
 */
static int host_place(const char *real, struct err *e)
{
	if (!is_system(real))
		return err_set(e, CRUMB_EUNSAFE,
			       "%s lies outside the system directories (%s); allow it with 'crumb "
			       "build --allow-host %s'",
			       real, system_dirs, real);
	char *p = xstrdup(real);
	int rc = 0;
	for (char *s = strchr(p + 1, '/'); s && rc == 0; s = strchr(s + 1, '/')) {
		struct stat st;
		*s = 0;
		if (stat(p, &st) < 0)
			rc = err_errno(e, CRUMB_EIO, "%s", p);
		else if (!(st.st_mode & S_IXOTH))
			rc = refuse(e, real,
				    "%s is not readable by every user (a directory above "
				    "it has mode %04o)",
				    real, st.st_mode & 07777);
		*s = '/';
	}
	free(p);
	return rc;
}

/* A dir_fn: allow is the --allow-host list (const struct strlist *). */
static int host_walk(const char *path, int depth, void *allow, struct err *e)
{
	struct stat st;
	if (depth > CONFINE_MAX_DEPTH)
		return err_set(e, CRUMB_EUNSAFE, "%s: directory nesting too deep", path);
	if (allowed(path, allow))
		return 0;
	if (lstat(path, &st) < 0)
		return err_errno(e, CRUMB_EIO, "%s", path);
	if (S_ISLNK(st.st_mode))
		return 0; /* copied as a symlink: its target is not read */
	unsigned mode = st.st_mode & 07777;
	if (!S_ISDIR(st.st_mode))
		return (mode & S_IROTH)
			   ? 0
			   : refuse(e, path, "%s is not readable by every user (mode %04o)", path,
				    mode);
	if ((mode & (S_IROTH | S_IXOTH)) != (S_IROTH | S_IXOTH))
		return refuse(e, path, "%s is a directory not readable by every user (mode %04o)",
			      path, mode);
	return dir_each(path, depth + 1, host_walk, allow, e);
}

int confine_host(const char *real, const struct strlist *allow, struct err *e)
{
	if (allowed(real, allow))
		return 0;
	int rc = host_place(real, e);
	return rc < 0 ? rc : host_walk(real, 0, (void *)allow, e);
}

int confine_host_file(const char *real, const struct strlist *allow, struct err *e)
{
	if (allowed(real, allow))
		return 0;
	int rc = host_place(real, e);
	struct stat st;
	if (rc == 0 && stat(real, &st) < 0)
		rc = err_errno(e, CRUMB_EIO, "%s", real);
	if (rc == 0 && !(st.st_mode & S_IROTH))
		rc = refuse(e, real, "%s is not readable by every user (mode %04o)", real,
			    st.st_mode & 07777);
	return rc;
}

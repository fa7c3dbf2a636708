/* stepmount.c: a build step's RUN --mount mounts and secrets, made before the step and undone
 * after it, so that none of them reaches the image. */
#include "stepmount.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

enum { STEP_UNMOUNT, STEP_RMDIR, STEP_UNLINK };

/* Where a step's ext4 disks are mounted before their SUBPATH is bound on the target, and
 * where secrets are written: on /dev (devtmpfs), so never on the root's disk. */
#define STEP_DIR "/dev/.crumb-step"

int mnt_options(const char *options, unsigned long *flags, char *data, size_t datalen)
{
	static const struct {
		const char *name;
		unsigned long flag;
	} table[] = {{"ro", MS_RDONLY},	       {"rw", 0},
		     {"nosuid", MS_NOSUID},    {"nodev", MS_NODEV},
		     {"noexec", MS_NOEXEC},    {"noatime", MS_NOATIME},
		     {"relatime", MS_RELATIME}};
	char opts[1024];

	if (strlen(options) >= sizeof(opts))
		return -1;
	strcpy(opts, options);
	for (char *save, *o = strtok_r(opts, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
		size_t k = 0, nt = sizeof(table) / sizeof(table[0]);

		while (k < nt && strcmp(o, table[k].name))
			k++;
		if (k < nt) {
			*flags = !strcmp(o, "rw") ? *flags & ~(unsigned long)MS_RDONLY
						  : *flags | table[k].flag;
			continue;
		}
		if (strlen(data) + strlen(o) + 2 > datalen)
			return -1;
		if (data[0])
			strcat(data, ",");
		strcat(data, o);
	}
	return 0;
}

static int fail(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, n, fmt, ap);
	va_end(ap);
	return -1;
}

static int push(struct step_undo *u, const char *path, int what)
{
	if (u->n == u->alloc) {
		size_t na = u->alloc ? u->alloc * 2 : 8;
		struct step_act *v = realloc(u->acts, na * sizeof(*v));

		if (!v)
			return -1;
		u->acts = v;
		u->alloc = na;
	}
	u->acts[u->n].path = strdup(path);
	if (!u->acts[u->n].path)
		return -1;
	u->acts[u->n++].what = what;
	return 0;
}

/* The mount point path: the directories above it and (dir: a directory, else an empty file)
 * itself, each one made recorded in u. */
static int mount_point(const char *path, int dir, struct step_undo *u, char *err, size_t n)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);
	struct stat st;

	if (len >= sizeof(buf))
		return fail(err, n, "%s: path too long", path);
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1;; p++) {
		char c = *p;
		int leaf = c == '\0';

		if (c != '/' && c != '\0')
			continue;
		*p = '\0';
		if (stat(buf, &st) < 0) {
			int fd;

			if (errno != ENOENT)
				return fail(err, n, "%s: %s", buf, strerror(errno));
			if (!leaf || dir) {
				if (mkdir(buf, 0755) < 0)
					return fail(err, n, "mkdir %s: %s", buf, strerror(errno));
				if (push(u, buf, STEP_RMDIR) < 0)
					return fail(err, n, "out of memory");
			} else {
				fd = open(buf, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
					  0644);
				if (fd < 0)
					return fail(err, n, "create %s: %s", buf, strerror(errno));
				close(fd);
				if (push(u, buf, STEP_UNLINK) < 0)
					return fail(err, n, "out of memory");
			}
		} else if (!leaf && !S_ISDIR(st.st_mode)) {
			return fail(err, n, "%s: not a directory", buf);
		}
		*p = c;
		if (leaf)
			return 0;
	}
}

/* One step_mount line: an ext4 disk through a directory of its own, or a filesystem on
 * the target itself. */
static int one_mount(const struct conf_step_mount *m, size_t idx, struct step_undo *u, char *err,
		     size_t n)
{
	unsigned long flags = 0;
	char data[1200] = "", stage[64], src[PATH_MAX];
	struct stat st;
	int ext4 = !strcmp(m->type, "ext4");

	if (mnt_options(m->options, &flags, data, sizeof(data)) < 0)
		return fail(err, n, "mount %s: options too long", m->target);
	if (!ext4) {
		if (mount_point(m->target, 1, u, err, n) < 0)
			return -1;
		if (mount(m->source, m->target, m->type, flags, data[0] ? data : NULL) < 0)
			return fail(err, n, "mount %s on %s: %s", m->type, m->target,
				    strerror(errno));
		return push(u, m->target, STEP_UNMOUNT) < 0 ? fail(err, n, "out of memory") : 0;
	}
	snprintf(stage, sizeof(stage), STEP_DIR "/m%zu", idx);
	if ((mkdir(STEP_DIR, 0700) < 0 && errno != EEXIST) || mkdir(stage, 0700) < 0)
		return fail(err, n, "mkdir %s: %s", stage, strerror(errno));
	if (push(u, stage, STEP_RMDIR) < 0)
		return fail(err, n, "out of memory");
	/* read-write when the disk is (several targets may share it), read-only when attached so;
	 * the target itself is made read-only below when OPTIONS say ro */
	if (mount(m->source, stage, "ext4", flags & ~(unsigned long)MS_RDONLY,
		  data[0] ? data : NULL) < 0 &&
	    ((errno != EROFS && errno != EACCES) ||
	     mount(m->source, stage, "ext4", flags | MS_RDONLY, data[0] ? data : NULL) < 0))
		return fail(err, n, "mount %s (ext4) for %s: %s", m->source, m->target,
			    strerror(errno));
	if (push(u, stage, STEP_UNMOUNT) < 0)
		return fail(err, n, "out of memory");
	snprintf(src, sizeof(src), "%s%s", stage, strcmp(m->subpath, "/") ? m->subpath : "");
	if (stat(src, &st) < 0)
		return fail(err, n, "mount %s: %s: %s", m->target, m->subpath, strerror(errno));
	if (mount_point(m->target, S_ISDIR(st.st_mode), u, err, n) < 0)
		return -1;
	if (mount(src, m->target, NULL, MS_BIND | MS_REC, NULL) < 0)
		return fail(err, n, "bind %s on %s: %s", m->subpath, m->target, strerror(errno));
	if (push(u, m->target, STEP_UNMOUNT) < 0)
		return fail(err, n, "out of memory");
	if ((flags & MS_RDONLY) &&
	    mount(NULL, m->target, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0)
		return fail(err, n, "remount %s read-only: %s", m->target, strerror(errno));
	return 0;
}

/* A secret's bytes from its device, into a malloc'd buffer (plus a NUL). */
static char *secret_read(const struct conf_secret *s, char *err, size_t n)
{
	char *buf = malloc(s->length + 1);
	int fd = open(s->source, O_RDONLY | O_CLOEXEC);
	size_t got = 0;

	if (!buf || fd < 0) {
		fail(err, n, "secret for %s: %s: %s", s->dest, s->source,
		     buf ? strerror(errno) : "out of memory");
		free(buf);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	while (got < s->length) {
		ssize_t r = pread(fd, buf + got, s->length - got, (off_t)(s->offset + got));

		if (r <= 0) {
			fail(err, n, "secret for %s: %s: %s", s->dest, s->source,
			     r < 0 ? strerror(errno) : "short read");
			close(fd);
			free(buf);
			return NULL;
		}
		got += (size_t)r;
	}
	close(fd);
	buf[got] = '\0';
	return buf;
}

/* Sets NAME=value in *env (n entries), replacing NAME's entry if there is one. */
static int env_set(char ***env, size_t *n, char *entry)
{
	size_t nl = strcspn(entry, "=") + 1;
	char **v;

	for (size_t i = 0; i < *n; i++)
		if (!strncmp((*env)[i], entry, nl)) {
			(*env)[i] = entry;
			return 0;
		}
	v = realloc(*env, (*n + 2) * sizeof(*v));
	if (!v)
		return -1;
	v[(*n)++] = entry;
	v[*n] = NULL;
	*env = v;
	return 0;
}

/* One step_secret line: a file bound on its path, or a variable. */
static int one_secret(const struct conf_secret *s, size_t idx, char ***env, size_t *nenv,
		      struct step_undo *u, char *err, size_t n)
{
	char copy[64], *buf = secret_read(s, err, n);
	int fd, r = 0;

	if (!buf)
		return -1;
	if (s->dest[0] != '/') {
		char *e = malloc(strlen(s->dest) + s->length + 2);

		if (memchr(buf, '\0', s->length))
			r = fail(err, n, "secret for $%s holds a NUL byte", s->dest);
		else if (!e || (sprintf(e, "%s=%s", s->dest, buf), env_set(env, nenv, e) < 0))
			r = fail(err, n, "out of memory");
		if (r < 0)
			free(e);
		memset(buf, 0, s->length);
		free(buf);
		return r;
	}
	snprintf(copy, sizeof(copy), STEP_DIR "/s%zu", idx);
	unlink(copy);
	if (mkdir(STEP_DIR, 0700) < 0 && errno != EEXIST)
		r = fail(err, n, "mkdir %s: %s", STEP_DIR, strerror(errno));
	fd = r ? -1 : open(copy, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (!r && (fd < 0 || write(fd, buf, s->length) != (ssize_t)s->length ||
		   fchown(fd, (uid_t)s->uid, (gid_t)s->gid) < 0 || fchmod(fd, (mode_t)s->mode) < 0))
		r = fail(err, n, "secret for %s: %s", s->dest, strerror(errno));
	memset(buf, 0, s->length);
	free(buf);
	if (fd >= 0)
		close(fd);
	if (!r && (r = mount_point(s->dest, 0, u, err, n)) == 0) {
		if (mount(copy, s->dest, NULL, MS_BIND, NULL) < 0)
			r = fail(err, n, "bind the secret on %s: %s", s->dest, strerror(errno));
		else if (push(u, s->dest, STEP_UNMOUNT) < 0)
			r = fail(err, n, "out of memory");
	}
	unlink(copy); /* the mount keeps it */
	return r;
}

int step_setup(const struct conf_proc *p, char **envp, char ***env, struct step_undo *u, char *err,
	       size_t errlen)
{
	size_t nenv = 0;

	while (envp[nenv])
		nenv++;
	*env = malloc((nenv + 1) * sizeof(**env));
	if (!*env)
		return fail(err, errlen, "out of memory");
	memcpy(*env, envp, (nenv + 1) * sizeof(**env));
	for (size_t i = 0; i < p->nmounts; i++)
		if (one_mount(&p->mounts[i], i, u, err, errlen) < 0)
			return -1;
	for (size_t i = 0; i < p->nsecrets; i++)
		if (one_secret(&p->secrets[i], i, env, &nenv, u, err, errlen) < 0)
			return -1;
	return 0;
}

void step_undo(struct step_undo *u, void (*warn)(const char *fmt, ...))
{
	while (u->n) {
		struct step_act *a = &u->acts[--u->n];

		if (a->what == STEP_UNMOUNT && umount2(a->path, MNT_DETACH) < 0)
			warn("unmount %s: %s", a->path, strerror(errno));
		else if (a->what == STEP_RMDIR && rmdir(a->path) < 0 && errno != ENOTEMPTY &&
			 errno != EEXIST)
			warn("remove %s: %s", a->path, strerror(errno));
		else if (a->what == STEP_UNLINK && unlink(a->path) < 0)
			warn("remove %s: %s", a->path, strerror(errno));
		free(a->path);
	}
	free(u->acts);
	memset(u, 0, sizeof(*u));
}

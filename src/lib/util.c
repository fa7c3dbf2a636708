/* util.c: error buffers, growable strings, string lists and small file helpers. */
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

char sb_empty[1];

static int err_vset(struct err *e, int code, int with_errno, const char *fmt, va_list ap)
{
	int saved = errno;
	if (!e)
		return code;
	e->code = code;
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	if (with_errno) {
		size_t n = strlen(e->msg);
		snprintf(e->msg + n, sizeof(e->msg) - n, ": %s", strerror(saved));
	}
	/* One line whatever the arguments held (a parser's excerpt of hostile input, a name): a
	 * control character becomes '?'. */
	for (char *p = e->msg; *p; p++)
		if ((unsigned char)*p < ' ' || *p == 0x7f)
			*p = '?';
	errno = saved;
	return code;
}

int err_set(struct err *e, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	err_vset(e, code, 0, fmt, ap);
	va_end(ap);
	return code;
}

int err_errno(struct err *e, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	err_vset(e, code, 1, fmt, ap);
	va_end(ap);
	return code;
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		abort();
	return p;
}

void *xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz ? sz : 1);
	if (!p)
		abort();
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		abort();
	return p;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = 0;
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	struct sbuf sb = SBUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	sb_vaddf(&sb, fmt, ap);
	va_end(ap);
	return sb_detach(&sb);
}

void sb_init(struct sbuf *sb)
{
	sb->buf = sb_empty;
	sb->len = sb->alloc = 0;
}

void sb_release(struct sbuf *sb)
{
	if (sb->alloc)
		free(sb->buf);
	sb_init(sb);
}

char *sb_detach(struct sbuf *sb)
{
	char *p = sb->alloc ? sb->buf : xstrdup("");
	sb_init(sb);
	return p;
}

void sb_grow(struct sbuf *sb, size_t extra)
{
	size_t want = sb->len + extra + 1;
	if (want < sb->len)
		abort();
	if (want <= sb->alloc)
		return;
	size_t n = sb->alloc ? sb->alloc : 64;
	while (n < want)
		n = n * 2 < n ? want : n * 2;
	if (!sb->alloc) {
		sb->buf = xmalloc(n);
		sb->buf[0] = 0;
	} else {
		sb->buf = xrealloc(sb->buf, n);
	}
	sb->alloc = n;
}

void sb_add(struct sbuf *sb, const void *data, size_t len)
{
	sb_grow(sb, len);
	memcpy(sb->buf + sb->len, data, len);
	sb->len += len;
	sb->buf[sb->len] = 0;
}

void sb_adds(struct sbuf *sb, const char *s)
{
	sb_add(sb, s, strlen(s));
}

void sb_addc(struct sbuf *sb, char c)
{
	sb_add(sb, &c, 1);
}

void sb_vaddf(struct sbuf *sb, const char *fmt, va_list ap)
{
	va_list cp;
	va_copy(cp, ap);
	int n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return;
	sb_grow(sb, (size_t)n);
	vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
	sb->len += (size_t)n;
}

void sb_addf(struct sbuf *sb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	sb_vaddf(sb, fmt, ap);
	va_end(ap);
}

void sb_reset(struct sbuf *sb)
{
	sb->len = 0;
	if (sb->alloc)
		sb->buf[0] = 0;
}

void strlist_push_owned(struct strlist *l, char *s)
{
	if (l->n == l->alloc) {
		l->alloc = l->alloc ? l->alloc * 2 : 8;
		l->v = xrealloc(l->v, l->alloc * sizeof(*l->v));
	}
	l->v[l->n++] = s;
}

void strlist_push(struct strlist *l, const char *s)
{
	strlist_push_owned(l, xstrdup(s));
}

int strlist_has(const struct strlist *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->v[i], s))
			return 1;
	return 0;
}

void strlist_release(struct strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = l->alloc = 0;
}

void path_splice(struct sbuf *rem, size_t *at, const char *target)
{
	struct sbuf n = SBUF_INIT;
	sb_adds(&n, target);
	sb_addc(&n, '/');
	sb_add(&n, rem->buf + *at, rem->len - *at);
	sb_release(rem);
	*rem = n;
	*at = 0;
}

int open_regular(const char *path, struct stat *st, struct err *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return err_errno(e, errno == ENOENT ? CRUMB_ENOENT : CRUMB_EIO, "%s", path);
	if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
		close(fd);
		return err_set(e, CRUMB_EINVAL, "%s: not a regular file", path);
	}
	return fd;
}

int read_file(const char *path, size_t max, struct sbuf *out, struct err *e)
{
	struct stat st;
	int fd = open_regular(path, &st, e);
	if (fd < 0)
		return fd;
	if ((uint64_t)st.st_size > max) {
		close(fd);
		return err_set(e, CRUMB_EUNSAFE, "%s: larger than %zu bytes", path, max);
	}
	for (;;) {
		sb_grow(out, 65536);
		ssize_t n = read(fd, out->buf + out->len, 65536);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int r = err_errno(e, CRUMB_EIO, "read %s", path);
			close(fd);
			return r;
		}
		if (n == 0)
			break;
		out->len += (size_t)n;
		out->buf[out->len] = 0;
		if (out->len > max) {
			close(fd);
			return err_set(e, CRUMB_EUNSAFE, "%s: larger than %zu bytes", path, max);
		}
	}
	close(fd);
	return 0;
}

int write_file_atomic(const char *path, const void *data, size_t len, int mode, struct err *e)
{
	char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0) {
		int r = err_errno(e, CRUMB_EIO, "create %s", tmp);
		free(tmp);
		return r;
	}
	const char *p = data;
	size_t left = len;
	while (left) {
		ssize_t n = write(fd, p, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int r = err_errno(e, CRUMB_EIO, "write %s", tmp);
			close(fd);
			unlink(tmp);
			free(tmp);
			return r;
		}
		p += n;
		left -= (size_t)n;
	}
	if (fchmod(fd, mode) < 0 || close(fd) < 0 || rename(tmp, path) < 0) {
		int r = err_errno(e, CRUMB_EIO, "write %s", path);
		unlink(tmp);
		free(tmp);
		return r;
	}
	free(tmp);
	return 0;
}

int mkdir_p(const char *path, int mode, struct err *e)
{
	char *p = xstrdup(path);
	for (char *s = p + 1;; s++) {
		if (*s == '/' || *s == 0) {
			char c = *s;
			*s = 0;
			if (mkdir(p, mode) < 0 && errno != EEXIST) {
				int r = err_errno(e, CRUMB_EIO, "mkdir %s", p);
				free(p);
				return r;
			}
			*s = c;
			if (!c)
				break;
		}
	}
	free(p);
	struct stat st;
	if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
		return err_set(e, CRUMB_EIO, "mkdir %s: not a directory", path);
	return 0;
}

static int remove_at(int dirfd, const char *name, struct err *e, int depth)
{
	struct stat st;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : err_errno(e, CRUMB_EIO, "stat %s", name);
	if (!S_ISDIR(st.st_mode)) {
		if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
			return err_errno(e, CRUMB_EIO, "remove %s", name);
		return 0;
	}
	if (depth > 256)
		return err_set(e, CRUMB_EUNSAFE, "remove %s: too deep", name);
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return err_errno(e, CRUMB_EIO, "open %s", name);
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return err_errno(e, CRUMB_EIO, "open %s", name);
	}
	struct dirent *de;
	int r = 0;
	while (!r && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		r = remove_at(fd, de->d_name, e, depth + 1);
	}
	closedir(d);
	if (!r && unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		r = err_errno(e, CRUMB_EIO, "remove %s", name);
	return r;
}

int remove_tree(const char *path, struct err *e)
{
	return remove_at(AT_FDCWD, path, e, 0);
}

void sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned int n = 0;
	EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
	for (unsigned i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	out[64] = 0;
}

double now_monotonic(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int sde_parse(const char *s, struct sde *out, struct err *e)
{
	out->epoch = 0;
	out->set = 0;
	if (!s || !*s)
		return 0;
	int64_t v = 0;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9' || v > (SDE_MAX - (*p - '0')) / 10) {
			char shown[41]; /* the message stays one printable line */
			size_t k = 0;
			for (; s[k] && k < 40; k++)
				shown[k] = s[k] >= 0x20 && s[k] < 0x7f ? s[k] : '?';
			shown[k] = 0;
			return err_set(e, CRUMB_EINVAL,
				       "SOURCE_DATE_EPOCH='%s%s': want seconds since 1970 "
				       "(decimal digits, at most %lld)",
				       shown, s[k] ? "..." : "", (long long)SDE_MAX);
		}
		v = v * 10 + (*p - '0');
	}
	out->epoch = v;
	out->set = 1;
	return 0;
}

int64_t clamp_time(int64_t t, int64_t epoch, int set)
{
	return set && t > epoch ? epoch : t;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int dir_list(const char *path, struct strlist *out, struct err *e)
{
	DIR *d = opendir(path);
	if (!d)
		return err_errno(e, CRUMB_EIO, "cannot read directory %s", path);
	size_t first = out->n;
	struct dirent *de;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			strlist_push(out, de->d_name);
	closedir(d);
	if (out->n > first)
		qsort(out->v + first, out->n - first, sizeof(*out->v), cmp_str);
	return 0;
}

int dir_each(const char *path, int depth, dir_fn fn, void *ctx, struct err *e)
{
	struct strlist names = STRLIST_INIT;
	int r = dir_list(path, &names, e);
	for (size_t i = 0; r == 0 && i < names.n; i++) {
		char *c = xasprintf("%s/%s", path, names.v[i]);
		r = fn(c, depth, ctx, e);
		free(c);
	}
	strlist_release(&names);
	return r;
}

char *path_lookup(const char *name, const char *path)
{
	char *copy = xstrdup(path && *path ? path : "/usr/bin:/bin"), *save, *found = NULL;
	for (char *d = strtok_r(copy, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
		char *p = xasprintf("%s/%s", *d ? d : ".", name);
		struct stat st;
		if (stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0)
			found = p;
		else
			free(p);
	}
	free(copy);
	return found;
}

/* trace.c: parsing crumb-init's trace records (trace.h). */
#include "trace.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TRACE_LINE_MAX 16384
#define TRACE_FILE_MAX (256u << 20)

void trace_init(struct trace *t)
{
	memset(t, 0, sizeof(*t));
}

void trace_release(struct trace *t)
{
	strlist_release(&t->syscalls);
	strlist_release(&t->files);
	strlist_release(&t->execs);
	trace_init(t);
}

static int is_name(const char *s)
{
	return *s && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == strlen(s) &&
	       strlen(s) <= 64;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Undoes the \xHH escapes in place; 0, or -1 for a bad escape or a NUL. */
static int unescape(char *s)
{
	char *w = s;
	for (const char *r = s; *r; r++) {
		if (*r != '\\') {
			*w++ = *r;
			continue;
		}
		int hi, lo;
		if (r[1] != 'x' || (hi = hexval(r[2])) < 0 || (lo = hexval(r[3])) < 0 ||
		    (hi == 0 && lo == 0))
			return -1;
		*w++ = (char)(hi * 16 + lo);
		r += 3;
	}
	*w = 0;
	return 0;
}

static long number(const char *s, long max)
{
	char *end;
	if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 10)
		return -1;
	long v = strtol(s, &end, 10);
	return v > max ? -1 : v;
}

/* Splits line at single spaces into at most max fields; returns how many. */
static size_t fields(char *line, char **f, size_t max)
{
	size_t n = 0;
	for (char *p = line; n < max;) {
		f[n++] = p;
		char *sp = strchr(p, ' ');
		if (!sp)
			return n;
		*sp = 0;
		p = sp + 1;
	}
	return max + 1; /* more than max */
}

static int bad(struct err *e, size_t lineno, const char *what)
{
	return err_set(e, CRUMB_EFORMAT, "trace line %zu: %s", lineno, what);
}

static int path_field(char *p, size_t lineno, struct err *e)
{
	if (unescape(p) < 0)
		return bad(e, lineno, "a bad \\x escape in a path");
	if (p[0] != '/')
		return bad(e, lineno, "a path that is not absolute");
	return 0;
}

static int record(struct trace *t, char *line, size_t lineno, struct err *e)
{
	char *f[4];
	size_t n = fields(line, f, 3);
	const char *k = f[0];
	t->records++;
	if (!strcmp(k, "sys")) {
		if (n != 2 || !is_name(f[1]))
			return bad(e, lineno, "want 'sys NAME'");
		strlist_push(&t->syscalls, f[1]);
	} else if (!strcmp(k, "file")) {
		if (n != 3 || !is_name(f[1]))
			return bad(e, lineno, "want 'file NAME PATH'");
		if (path_field(f[2], lineno, e) < 0)
			return CRUMB_EFORMAT;
		strlist_push(&t->files, f[2]);
	} else if (!strcmp(k, "mmap") || !strcmp(k, "exec")) {
		if (n != 2)
			return bad(e, lineno, "want 'mmap PATH' or 'exec PATH'");
		if (path_field(f[1], lineno, e) < 0)
			return CRUMB_EFORMAT;
		strlist_push(&t->files, f[1]);
		if (k[0] == 'e')
			strlist_push(&t->execs, f[1]);
	} else if (!strcmp(k, "socket")) {
		long fam = n == 3 ? number(f[1], TRACE_MAX_FAMILIES - 1) : -1;
		if (fam < 0 || number(f[2], 15) < 0)
			return bad(e, lineno, "want 'socket FAMILY TYPE' (0..63, 0..15)");
		t->family[fam] = 1;
	} else if (!strcmp(k, "proc")) {
		if (n != 3 || number(f[1], 4194304) < 1)
			return bad(e, lineno, "want 'proc PID COMM'");
		t->nprocs++;
	} else if (!strcmp(k, "end")) {
		if (n != 1)
			return bad(e, lineno, "want 'end'");
		t->ended = 1;
	} else {
		t->unknown++;
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorts l and drops repeats. */
static void uniq(struct strlist *l)
{
	size_t w = 0;
	if (l->n)
		qsort(l->v, l->n, sizeof(*l->v), cmp_str);
	for (size_t r = 0; r < l->n; r++) {
		if (w && !strcmp(l->v[w - 1], l->v[r])) {
			free(l->v[r]);
			continue;
		}
		l->v[w++] = l->v[r];
	}
	l->n = w;
}

int trace_parse(const char *buf, size_t len, struct trace *t, struct err *e)
{
	size_t lineno = 0, off = 0;
	int r = 0;
	char *line = xmalloc(TRACE_LINE_MAX + 1);
	while (r == 0 && off < len) {
		const char *nl = memchr(buf + off, '\n', len - off);
		if (!nl)
			break; /* a cut last line */
		size_t n = (size_t)(nl - (buf + off));
		lineno++;
		if (n > TRACE_LINE_MAX)
			r = bad(e, lineno, "a line over 16 KiB");
		else if (memchr(buf + off, 0, n))
			r = bad(e, lineno, "a NUL byte");
		if (r)
			break;
		memcpy(line, buf + off, n);
		line[n] = 0;
		off += n + 1;
		if (lineno == 1) {
			if (strcmp(line, "crumb-trace 1"))
				r = err_set(e, CRUMB_EFORMAT,
					    "not a crumb trace (version 1): the first line is not "
					    "'crumb-trace 1'");
			continue;
		}
		r = record(t, line, lineno, e);
	}
	free(line);
	if (r == 0 && lineno == 0)
		r = err_set(e, CRUMB_EFORMAT,
			    "an empty trace: crumb-init wrote nothing (the crumb-init of an image "
			    "built by an older crumb cannot trace: rebuild the image)");
	uniq(&t->syscalls);
	uniq(&t->files);
	uniq(&t->execs);
	return r;
}

int trace_read(const char *path, struct trace *t, struct err *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0)
		return err_errno(e, errno == ENOENT ? CRUMB_ENOENT : CRUMB_EIO, "%s", path);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > TRACE_FILE_MAX) {
		close(fd);
		return err_set(e, CRUMB_EFORMAT, "%s: not a regular file of at most 256 MiB", path);
	}
	struct sbuf sb = SBUF_INIT;
	char buf[65536];
	ssize_t got;
	while ((got = read(fd, buf, sizeof(buf))) > 0 && sb.len <= TRACE_FILE_MAX)
		sb_add(&sb, buf, (size_t)got);
	close(fd);
	if (got < 0) {
		sb_release(&sb);
		return err_errno(e, CRUMB_EIO, "%s", path);
	}
	int r = trace_parse(sb.buf, sb.len, t, e);
	sb_release(&sb);
	if (r < 0) {
		char msg[ERR_MSG_MAX];
		snprintf(msg, sizeof(msg), "%s", e->msg);
		err_set(e, r, "%s: %s", path, msg);
	}
	return r;
}

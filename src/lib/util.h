/* util.h: error buffers, growable strings and string lists shared by every module. */
#ifndef CRUMB_UTIL_H
#define CRUMB_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Error convention (see ../../README.md, "Code"): a library function returns
 * 0 on success or one of the negative codes below, and writes a one-line
 * human message with context (the path, file:line:col) into a caller-owned
 * struct err. Library code never prints and never exits.
 */
enum {
	CRUMB_EIO = -1,	    /* an I/O or system call failed */
	CRUMB_ENOENT = -2,  /* a file, image or kernel does not exist */
	CRUMB_EFORMAT = -3, /* input is malformed or of the wrong kind */
	CRUMB_EINVAL = -4,  /* a bad argument or value */
	CRUMB_EUNSUPP = -5, /* valid but not supported */
	CRUMB_EUNSAFE = -6, /* refused: path escapes the root, loop, absurd size */
	CRUMB_ECHILD = -7,  /* a child process (QEMU, make) failed */
	CRUMB_EBUSY = -8,   /* a lock or resource is held by someone else */
};

#define ERR_MSG_MAX 1024
struct err {
	int code;
	char msg[ERR_MSG_MAX];
};

/* Sets e->code and e->msg (printf-style) and returns code, so callers can
 * write `return err_set(e, CRUMB_EIO, "open %s: %s", p, strerror(errno));`. The message is
 * always one line: control characters in it (from a hostile name or a parser's excerpt of
 * its input) are written as '?'.
 * e may be NULL. */
int err_set(struct err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Like err_set, appending ": strerror(errno)". */
int err_errno(struct err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Allocation that cannot fail: on exhaustion it calls abort() (no output). */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t sz);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A growable, always NUL-terminated byte string (git's strbuf, smaller).
 * sb_init leaves buf pointing to "" (no allocation); the owner calls
 * sb_release, or sb_detach to take the malloc'd buffer. */
struct sbuf {
	char *buf;
	size_t len;
	size_t alloc;
};
#define SBUF_INIT                                                                                  \
	{                                                                                          \
		sb_empty, 0, 0                                                                     \
	}
extern char sb_empty[1];
void sb_init(struct sbuf *sb);
void sb_release(struct sbuf *sb);
char *sb_detach(struct sbuf *sb);
void sb_grow(struct sbuf *sb, size_t extra);
void sb_add(struct sbuf *sb, const void *data, size_t len);
void sb_adds(struct sbuf *sb, const char *s);
void sb_addc(struct sbuf *sb, char c);
void sb_addf(struct sbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_vaddf(struct sbuf *sb, const char *fmt, va_list ap);
void sb_reset(struct sbuf *sb);

/* A growable list of owned strings. */
struct strlist {
	char **v;
	size_t n;
	size_t alloc;
};
#define STRLIST_INIT                                                                               \
	{                                                                                          \
		0, 0, 0                                                                            \
	}
void strlist_push(struct strlist *l, const char *s);	 /* copies s */
void strlist_push_owned(struct strlist *l, char *s);	 /* takes s */
int strlist_has(const struct strlist *l, const char *s); /* 1 if present */
void strlist_release(struct strlist *l);

/* Path walking, on meeting a symlink: rem becomes target + "/" + what was not
 * yet read of rem (from *at), and *at goes back to 0. */
void path_splice(struct sbuf *rem, size_t *at, const char *target);

/* The executable regular file name along path (a PATH value: hostenv's path;
 * NULL or empty: /usr/bin:/bin), malloc'd; NULL when there is none. */
char *path_lookup(const char *name, const char *path);

/* The names in directory path except "." and "..", sorted bytewise, pushed
 * onto out. CRUMB_EIO naming path when it cannot be read. */
int dir_list(const char *path, struct strlist *out, struct err *e);
/* Calls fn(path/NAME, depth, ctx, e) for each name of dir_list(path), in order, stopping
 * at the first nonzero return, which it returns (a recursive walk passes depth + 1). */
typedef int (*dir_fn)(const char *child, int depth, void *ctx, struct err *e);
int dir_each(const char *path, int depth, dir_fn fn, void *ctx, struct err *e);

/* Reads a whole file (at most max bytes, else CRUMB_EUNSAFE) into out. */
int read_file(const char *path, size_t max, struct sbuf *out, struct err *e);
/* Opens a regular file read-only (O_NONBLOCK: a FIFO never blocks the open) and fstats it
 * into *st: the fd (>= 0), or CRUMB_ENOENT / CRUMB_EIO naming path, or CRUMB_EINVAL
 * "PATH: not a regular file". */
struct stat;
int open_regular(const char *path, struct stat *st, struct err *e);
/* Writes data to path atomically (temp file in the same dir + rename). */
int write_file_atomic(const char *path, const void *data, size_t len, int mode, struct err *e);
/* mkdir -p; mode for created directories. */
int mkdir_p(const char *path, int mode, struct err *e);
/* rm -rf; never follows symlinks. Missing path is success. */
int remove_tree(const char *path, struct err *e);

/* Hex SHA-256 (65 bytes with NUL) of a buffer. */
void sha256_hex(const void *data, size_t len, char out[65]);

/* Seconds since an arbitrary fixed point (CLOCK_MONOTONIC). */
double now_monotonic(void);

/*
 * SOURCE_DATE_EPOCH (https://reproducible-builds.org/specs/source-date-epoch/).
 * Commands read the variable once and hand a struct sde down; library code
 * never reads the environment for it.
 */
struct sde {
	int64_t epoch; /* seconds since 1970-01-01 UTC; 0 when unset */
	int set;       /* 1: the variable was set (file times are clamped to epoch) */
};
/* Largest epoch taken: 9999-12-31T23:59:59Z, the last second RFC 3339 writes. */
#define SDE_MAX 253402300799LL
/* Parses the variable's value: NULL or "" is unset; otherwise only decimal
 * digits, at most SDE_MAX. Anything else (sign, space, fraction, overflow)
 * is CRUMB_EINVAL, naming the value, and *out is left unset. */
int sde_parse(const char *s, struct sde *out, struct err *e);
/*
 * The time to write for a file whose own time is t: when set, a time newer
 * than epoch becomes epoch (tar --clamp-mtime, mksquashfs, mkfs.erofs) and an
 * older one is kept; when not set, t itself. Every writer of file times
 * (cpio, ext4 images, edits of images, builds) goes through this.
 */
int64_t clamp_time(int64_t t, int64_t epoch, int set);

#endif

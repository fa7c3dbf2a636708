/* seccomp.c: installs the service's system-call filter and serves its notifications (seccomp.h). */
#include "seccomp.h"
#include "log.h"
#include "trace.h"
#include "vport.h"

/* build/gen/sysnames.h (Makefile): sysnames[nr], the names musl's <sys/syscall.h> gives. */
#include "sysnames.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

/* The trace filter lets through only the calls of the guest's own ABI. */
#if defined(__x86_64__)
#define SC_AUDIT_ARCH AUDIT_ARCH_X86_64_
#elif defined(__aarch64__)
#define SC_AUDIT_ARCH AUDIT_ARCH_AARCH64_
#else
#error "seccomp.c: the trace filter needs this architecture's AUDIT_ARCH"
#endif

/* How long the supervisor waits for the filter, and how often it looks. */
#define SC_TAKE_MS 10000
#define SC_TAKE_RETRY_MS 2
/* The trace port arrives asynchronously, like the control port (init.c). */
#define SC_PORT_WAIT_MS 3000
#define SC_PORT_RESCAN_MS 50
/* Calls below this number are counted in arrays; the others (none on x86-64) share a slot. */
#define SC_NR_MAX 1024
#define SC_DENIALS_SHOWN 10
/* A path made absolute: a directory from /proc (PATH_MAX) and the program's path (PATH_MAX). */
#define SC_PATH_MAX (2 * PATH_MAX)
/* The dedup tables' slots (powers of two, filled to 3/4 at most). */
#define SC_RECORDS_SLOTS (TRACE_DEDUP_MAX / 3 * 4)
#define SC_PIDS_SLOTS 8192

static int sc_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int sc_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

const char *seccomp_sysname(long nr, char *buf, size_t len)
{
	if (nr >= 0 && (size_t)nr < sizeof(sysnames) / sizeof(sysnames[0]) && sysnames[nr])
		return sysnames[nr];
	snprintf(buf, len, "syscall_%ld", nr);
	return buf;
}

size_t seccomp_escape(char *out, size_t cap, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (!cap)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		int esc = ch < 0x21 || ch >= 0x7f || ch == '\\';

		if (o + (esc ? 4 : 1) >= cap)
			break;
		if (esc) {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		} else {
			out[o++] = (char)ch;
		}
	}
	out[o] = '\0';
	return o;
}

/* ---- the service's side ---- */

int seccomp_install(const struct seccomp_conf *sc, int sync_fd, char *err, size_t errlen)
{
	/* The config's bytes have no alignment; the kernel reads the copy. */
	static struct sock_filter_ insns[SECCOMP_INSNS_MAX];
	struct sock_fprog_ fp = {0, insns};
	long r;
	int t;

	if (sc->trace) {
		insns[0] = (struct sock_filter_){BPF_LD_W_ABS_, 0, 0, SECCOMP_DATA_ARCH_OFF_};
		insns[1] = (struct sock_filter_){BPF_JEQ_K_, 0, 1, SC_AUDIT_ARCH};
		insns[2] = (struct sock_filter_){BPF_RET_K_, 0, 0, SECCOMP_RET_USER_NOTIF_};
		insns[3] = (struct sock_filter_){BPF_RET_K_, 0, 0, SECCOMP_RET_KILL_PROCESS_};
		fp.len = 4;
	} else {
		if (!sc->prog || !sc->len || sc->len % 8 || sc->len / 8 > SECCOMP_INSNS_MAX)
			return sc_fail(err, errlen, "seccomp: a program of %zu bytes", sc->len);
		memcpy(insns, sc->prog, sc->len);
		fp.len = (unsigned short)(sc->len / 8);
	}
	/* Single-threaded: the listener will be the lowest free fd, which dup finds. */
	t = dup(sync_fd);
	if (t < 0)
		return sc_fail(err, errlen, "seccomp: dup: %s", strerror(errno));
	close(t);
	if (write(sync_fd, &t, sizeof(t)) != (ssize_t)sizeof(t))
		return sc_fail(err, errlen, "seccomp: cannot reach the supervisor: %s",
			       strerror(errno));
	r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER_, SECCOMP_FILTER_FLAG_NEW_LISTENER_, &fp);
	if (r < 0 && errno == EACCES) {
		/* Without CAP_SYS_ADMIN the kernel wants no_new_privs (no setuid programs then). */
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			return sc_fail(err, errlen, "seccomp: no_new_privs: %s", strerror(errno));
		r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER_,
			    SECCOMP_FILTER_FLAG_NEW_LISTENER_, &fp);
	}
	if (r < 0)
		return sc_fail(err, errlen, "seccomp: cannot install the filter: %s",
			       strerror(errno));
	if (r != t)
		return sc_fail(err, errlen, "seccomp: the listener is fd %ld, not %d", r, t);
	/* Blocks until the supervisor has the listener and answers 0. */
	errno = 0;
	r = syscall(SECCOMP_SYNC_NR);
	if (r != 0)
		return sc_fail(err, errlen,
			       "seccomp: the supervisor did not answer the handshake (%s): does "
			       "the program notify call %#x?",
			       r < 0 ? strerror(errno) : "not 0", SECCOMP_SYNC_NR);
	return 0;
}

/* ---- the supervisor: taking the listener ---- */

/* Whether fd is a seccomp listener (as /proc says; without /proc, believed). */
static int sc_is_listener(int fd)
{
	char link[64], target[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return 1;
	target[n] = '\0';
	return !strcmp(target, "anon_inode:seccomp notify");
}

int seccomp_take(pid_t child, int sync_fd, int *listener, char *err, size_t errlen)
{
	int t = -1, pidfd, waited = 0, rc = 1;
	ssize_t r;

	do
		r = read(sync_fd, &t, sizeof(t));
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return 1; /* the child ended first (workdir, user, ...): it said why */
	if (r != (ssize_t)sizeof(t) || t < 0)
		return sc_fail(err, errlen, "seccomp: handshake: %s",
			       r < 0 ? strerror(errno) : "short read");
	pidfd = (int)syscall(SYS_pidfd_open, child, 0);
	if (pidfd < 0)
		return errno == ESRCH
			   ? 1
			   : sc_fail(err, errlen, "seccomp: pidfd_open: %s", strerror(errno));
	for (;;) {
		int fd = (int)syscall(SYS_pidfd_getfd, pidfd, t, 0);
		struct pollfd p = {pidfd, POLLIN, 0};

		if (fd >= 0 && sc_is_listener(fd)) {
			*listener = fd;
			rc = 0;
			break;
		}
		if (fd >= 0) {
			close(fd);
			rc =
			    sc_fail(err, errlen, "seccomp: fd %d of the service is no listener", t);
			break;
		}
		if (errno == ESRCH)
			break;
		if (errno != EBADF) {
			rc = sc_fail(err, errlen, "seccomp: pidfd_getfd: %s", strerror(errno));
			break;
		}
		/* No fd t yet: the filter is not installed; readable: the child has ended. */
		if (poll(&p, 1, SC_TAKE_RETRY_MS) > 0)
			break;
		waited += SC_TAKE_RETRY_MS;
		if (waited >= SC_TAKE_MS) {
			rc =
			    sc_fail(err, errlen, "seccomp: the service installed no filter in %d s",
				    SC_TAKE_MS / 1000);
			break;
		}
	}
	close(pidfd);
	return rc;
}

/* ---- the supervisor: serving ---- */

/* A set of 64-bit keys (0 is stored as 1), open addressing, bounded: once full it stores
 * nothing more and calls every key new. */
struct sc_set {
	uint64_t *v; /* NULL: could not allocate (every key is new) */
	size_t slots, n;
};

static void set_init(struct sc_set *t, size_t slots)
{
	t->v = calloc(slots, sizeof(*t->v));
	t->slots = slots;
	t->n = 0;
}

/* The slot of key, or of the empty slot where it would go; NULL without a table. */
static uint64_t *set_slot(const struct sc_set *t, uint64_t key)
{
	size_t i = (size_t)((key * 0x9e3779b97f4a7c15ULL) >> 17) & (t->slots - 1);

	if (!t->v)
		return NULL;
	while (t->v[i] && t->v[i] != key)
		i = (i + 1) & (t->slots - 1);
	return &t->v[i];
}

static int set_has(const struct sc_set *t, uint64_t key)
{
	uint64_t *p = set_slot(t, key ? key : 1);

	return p && *p;
}

/* Adds key; 1 when it was not there (or the set is full), 0 when it was. */
static int set_add(struct sc_set *t, uint64_t key)
{
	uint64_t *p;

	key = key ? key : 1;
	p = set_slot(t, key);
	if (p && *p)
		return 0;
	if (p && t->n < t->slots / 4 * 3) {
		*p = key;
		t->n++;
	}
	return 1;
}

/* Calls that name files: which arguments are paths, and their dirfds (-1: the cwd). */
struct sc_pathcall {
	int nr;
	signed char path[2], dirfd[2];
	unsigned char abs0; /* the first path only when absolute (mount's source may be "proc") */
};

#define P1(call, p, d)                                                                             \
	{                                                                                          \
		SYS_##call, {p, -1}, {d, -1}, 0                                                    \
	}
#define P2(call, p, d, q, e)                                                                       \
	{                                                                                          \
		SYS_##call, {p, q}, {d, e}, 0                                                      \
	}
static const struct sc_pathcall sc_pathcalls[] = {
    P1(openat, 1, 0),
    P1(execve, 0, -1),
    P1(execveat, 1, 0),
    P1(newfstatat, 1, 0),
    P1(faccessat, 1, 0),
    P1(readlinkat, 1, 0),
    P1(chdir, 0, -1),
    P1(chroot, 0, -1),
    P1(statfs, 0, -1),
    P1(truncate, 0, -1),
    P1(getxattr, 0, -1),
    P1(lgetxattr, 0, -1),
    P1(setxattr, 0, -1),
    P1(lsetxattr, 0, -1),
    P1(listxattr, 0, -1),
    P1(llistxattr, 0, -1),
    P1(removexattr, 0, -1),
    P1(lremovexattr, 0, -1),
    P1(mknodat, 1, 0),
    P1(unlinkat, 1, 0),
    P2(renameat, 1, 0, 3, 2),
    P1(mkdirat, 1, 0),
    P1(symlinkat, 2, 1), /* the new link, not the target text */
    P2(linkat, 1, 0, 3, 2),
    P1(fchmodat, 1, 0),
    P1(fchownat, 1, 0),
    P1(utimensat, 1, 0),
    P1(inotify_add_watch, 1, -1),
    {SYS_mount, {0, 1}, {-1, -1}, 1},
    P1(umount2, 0, -1),
    P1(swapon, 0, -1),
    P1(swapoff, 0, -1),
    P2(pivot_root, 0, -1, 1, -1),
    P1(acct, 0, -1),
    P1(name_to_handle_at, 1, 0),
    P1(fanotify_mark, 4, 3),
#ifdef SYS_renameat2
    P2(renameat2, 1, 0, 3, 2),
#endif
#ifdef SYS_statx
    P1(statx, 1, 0),
#endif
#ifdef SYS_openat2
    P1(openat2, 1, 0),
#endif
#ifdef SYS_faccessat2
    P1(faccessat2, 1, 0),
#endif
#ifdef SYS_open_tree
    P1(open_tree, 1, 0),
#endif
#ifdef SYS_move_mount
    P2(move_mount, 1, 0, 3, 2),
#endif
#ifdef SYS_mount_setattr
    P1(mount_setattr, 1, 0),
#endif
#ifdef SYS_fchmodat2
    P1(fchmodat2, 1, 0),
#endif
#ifdef SYS_open /* the older calls, which asm-generic architectures (aarch64) lack */
    P1(open, 0, -1),
    P1(creat, 0, -1),
    P1(stat, 0, -1),
    P1(lstat, 0, -1),
    P1(access, 0, -1),
    P1(readlink, 0, -1),
    P1(uselib, 0, -1),
    P1(mknod, 0, -1),
    P1(unlink, 0, -1),
    P2(rename, 0, -1, 1, -1),
    P1(mkdir, 0, -1),
    P1(rmdir, 0, -1),
    P1(symlink, 1, -1), /* the new link, not the target text */
    P2(link, 0, -1, 1, -1),
    P1(chmod, 0, -1),
    P1(chown, 0, -1),
    P1(lchown, 0, -1),
    P1(utime, 0, -1),
    P1(utimes, 0, -1),
    P1(futimesat, 1, 0),
#endif
};
#undef P1
#undef P2

static const struct sc_pathcall *sc_pathcall(int nr)
{
	for (size_t i = 0; i < sizeof(sc_pathcalls) / sizeof(sc_pathcalls[0]); i++)
		if (sc_pathcalls[i].nr == nr)
			return &sc_pathcalls[i];
	return NULL;
}

/* The supervisor's state. */
struct sc_sup {
	int listener, out, log;
	pid_t child;
	const struct seccomp_conf *sc;
	int synced; /* the handshake was answered */
	unsigned char sys_seen[SC_NR_MAX / 8];
	unsigned char denials[SC_NR_MAX + 1]; /* up to SC_DENIALS_SHOWN + 1 */
	struct sc_set records, tids, procs;
	char raw[PATH_MAX];	   /* a path as the program gave it */
	char path[2][SC_PATH_MAX]; /* made absolute */
	char line[TRACE_LINE_MAX]; /* the record being written */
	size_t len;
};

/* ---- trace records ---- */

static void ln_word(struct sc_sup *s, const char *w)
{
	size_t n = strlen(w);

	if (s->len && s->len < sizeof(s->line) - 1)
		s->line[s->len++] = ' ';
	if (n > sizeof(s->line) - 1 - s->len)
		n = sizeof(s->line) - 1 - s->len;
	memcpy(s->line + s->len, w, n);
	s->len += n;
}

/* An untrusted field: escaped (trace.h). */
static void ln_field(struct sc_sup *s, const char *b, size_t n)
{
	ln_word(s, "");
	s->len += seccomp_escape(s->line + s->len, sizeof(s->line) - s->len, b, n);
}

static void ln_send(struct sc_sup *s)
{
	const char *p = s->line;
	size_t n;

	s->line[s->len++] = '\n';
	n = s->len;
	s->len = 0;
	while (s->out >= 0 && n) {
		ssize_t w = write(s->out, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			init_log(s->log, "seccomp: trace: write: %s; no more records",
				 w < 0 ? strerror(errno) : "nothing written");
			s->out = -1;
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

/* Whether (kind, num, bytes) is a record not written before. */
static int sc_first(struct sc_sup *s, char kind, long num, const char *b, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	unsigned char head[1 + sizeof(num)];

	head[0] = (unsigned char)kind;
	memcpy(head + 1, &num, sizeof(num));
	for (size_t i = 0; i < sizeof(head); i++)
		h = (h ^ head[i]) * 0x100000001b3ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)b[i]) * 0x100000001b3ULL;
	return set_add(&s->records, h);
}

/* The thread group of thread tid (its "Tgid:" in /proc/TID/status); -1 when unknown. */
static pid_t sc_tgid(pid_t tid)
{
	char path[48], buf[1024], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* Name comes first, with any newline in it escaped by the kernel. */
	p = strstr(buf, "\nTgid:\t");
	return p ? (pid_t)strtol(p + 7, NULL, 10) : -1;
}

/* /proc/PID/comm without its newline, into buf (cap bytes); its length, 0 when unknown. */
static size_t sc_comm(pid_t pid, char *buf, size_t cap)
{
	char path[48];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, cap);
	close(fd);
	if (n <= 0)
		return 0;
	if (buf[n - 1] == '\n')
		n--;
	return (size_t)n;
}

/* The NUL-terminated string at addr in pid's memory, into buf (cap bytes): its length, or -1
 * when unreadable or without a NUL in cap bytes. Through /proc/PID/mem, as the crumb kernel
 * has no process_vm_readv (CROSS_MEMORY_ATTACH); page by page, since a string may end just
 * before an unmapped page. */
static long sc_read_str(pid_t pid, uint64_t addr, char *buf, size_t cap)
{
	char path[48];
	size_t got = 0;
	long len = -1;
	int fd;

	if (!addr || addr > (uint64_t)INT64_MAX - cap)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	while (got < cap) {
		size_t chunk = 4096 - (size_t)((addr + got) & 4095);
		ssize_t n;
		char *nul;

		if (chunk > cap - got)
			chunk = cap - got;
		n = pread(fd, buf + got, chunk, (off_t)(addr + got));
		if (n <= 0)
			break;
		nul = memchr(buf + got, '\0', (size_t)n);
		if (nul) {
			len = (long)(nul - buf);
			break;
		}
		got += (size_t)n;
	}
	close(fd);
	return len;
}

/* What /proc/TID/fd/FD (fd >= 0) or /proc/TID/cwd (fd AT_FDCWD) points to, into out
 * (SC_PATH_MAX bytes, NUL-terminated): its length, or -1. */
static long sc_fdpath(pid_t tid, int fd, char *out)
{
	char link[64];
	ssize_t n;

	if (fd == AT_FDCWD)
		snprintf(link, sizeof(link), "/proc/%d/cwd", (int)tid);
	else if (fd >= 0)
		snprintf(link, sizeof(link), "/proc/%d/fd/%d", (int)tid, fd);
	else
		return -1;
	n = readlink(link, out, SC_PATH_MAX - 1);
	if (n <= 0)
		return -1;
	out[n] = '\0';
	return (long)n;
}

/* Path argument parg of the call (its dirfd in argument darg, -1: the cwd), made absolute into
 * out (SC_PATH_MAX bytes): its length, or -1 for no record. */
static long sc_path(struct sc_sup *s, const struct seccomp_notif_ *n, int parg, int darg,
		    int abs_only, char *out)
{
	pid_t tid = (pid_t)n->pid;
	long len = sc_read_str(tid, n->data.args[parg], s->raw, sizeof(s->raw)), base;

	if (len < 0)
		return -1;
	if (s->raw[0] == '/') {
		memcpy(out, s->raw, (size_t)len + 1);
		return len;
	}
	if (abs_only)
		return -1;
	base = sc_fdpath(tid, darg >= 0 ? (int)n->data.args[darg] : AT_FDCWD, out);
	if (base < 0 || out[0] != '/')
		return -1; /* not a directory: the call fails anyway */
	if (len == 0)
		return base; /* AT_EMPTY_PATH: the dirfd itself */
	if (out[base - 1] != '/')
		out[base++] = '/';
	if ((size_t)(base + len) >= SC_PATH_MAX)
		return -1;
	memcpy(out + base, s->raw, (size_t)len + 1);
	return base + len;
}

/* Trace mode: the records one call makes (trace.h). What it reads in /proc and in the caller's
 * memory counts only if the call is still pending afterwards (the caller still exists and is
 * the same process). */
static void sc_trace(struct sc_sup *s, const struct seccomp_notif_ *n)
{
	const struct seccomp_data_ *d = &n->data;
	const struct sc_pathcall *pc = sc_pathcall(d->nr);
	pid_t tid = (pid_t)n->pid, tgid = -1;
	long plen[2] = {-1, -1}, mlen = -1;
	char comm[64], nbuf[40];
	size_t commlen = 0;
	const char *name;

	if (s->out < 0)
		return;
	if (!set_has(&s->tids, (uint64_t)tid)) {
		tgid = sc_tgid(tid);
		if (tgid > 0 && !set_has(&s->procs, (uint64_t)tgid))
			commlen = sc_comm(tgid, comm, sizeof(comm));
	}
	for (int i = 0; pc && i < 2; i++)
		if (pc->path[i] >= 0)
			plen[i] = sc_path(s, n, pc->path[i], pc->dirfd[i], i == 0 && pc->abs0,
					  s->path[i]);
	if (d->nr == SYS_mmap && !(d->args[3] & MAP_ANONYMOUS) && (int)d->args[4] >= 0)
		mlen = sc_fdpath(tid, (int)d->args[4], s->path[0]);
	if (ioctl(s->listener, SECCOMP_IOCTL_NOTIF_ID_VALID_, &n->id) < 0)
		return;

	name = seccomp_sysname(d->nr, nbuf, sizeof(nbuf));
	if (tgid > 0) {
		set_add(&s->tids, (uint64_t)tid);
		if (set_add(&s->procs, (uint64_t)tgid)) {
			char num[24];

			snprintf(num, sizeof(num), "%d", (int)tgid);
			ln_word(s, "proc");
			ln_word(s, num);
			ln_field(s, comm, commlen);
			ln_send(s);
		}
	}
	if (d->nr >= 0 && d->nr < SC_NR_MAX ? !(s->sys_seen[d->nr / 8] & 1 << d->nr % 8)
					    : sc_first(s, 's', d->nr, NULL, 0)) {
		if (d->nr >= 0 && d->nr < SC_NR_MAX)
			s->sys_seen[d->nr / 8] |= (unsigned char)(1 << d->nr % 8);
		ln_word(s, "sys");
		ln_word(s, name);
		ln_send(s);
	}
	for (int i = 0; i < 2; i++) {
		if (plen[i] < 0)
			continue;
		if (sc_first(s, 'f', d->nr, s->path[i], (size_t)plen[i])) {
			ln_word(s, "file");
			ln_word(s, name);
			ln_field(s, s->path[i], (size_t)plen[i]);
			ln_send(s);
		}
		if ((d->nr == SYS_execve || d->nr == SYS_execveat) &&
		    sc_first(s, 'e', 0, s->path[i], (size_t)plen[i])) {
			ln_word(s, "exec");
			ln_field(s, s->path[i], (size_t)plen[i]);
			ln_send(s);
		}
	}
	if (mlen >= 0 && sc_first(s, 'm', 0, s->path[0], (size_t)mlen)) {
		ln_word(s, "mmap");
		ln_field(s, s->path[0], (size_t)mlen);
		ln_send(s);
	}
	if (d->nr == SYS_socket || d->nr == SYS_socketpair) {
		int fam = (int)d->args[0], type = (int)d->args[1] & 0xf;
		char num[32];

		if (sc_first(s, 'k', (long)fam * 16 + type, NULL, 0)) {
			ln_word(s, "socket");
			snprintf(num, sizeof(num), "%d %d", fam, type);
			ln_word(s, num);
			ln_send(s);
		}
	}
}

/* Enforce mode: a call the program does not allow. One console line (at most
 * SC_DENIALS_SHOWN per call), then with kill the caller's process is killed; the caller of
 * sc_deny fails the call with EPERM. */
static void sc_deny(struct sc_sup *s, const struct seccomp_notif_ *n)
{
	char nbuf[40], comm[64], esc[4 * sizeof(comm) + 1];
	const char *name = seccomp_sysname(n->data.nr, nbuf, sizeof(nbuf));
	pid_t tid = (pid_t)n->pid, tgid = sc_tgid(tid);
	size_t slot = n->data.nr >= 0 && n->data.nr < SC_NR_MAX ? (size_t)n->data.nr : SC_NR_MAX;
	int pidfd = -1;

	seccomp_escape(esc, sizeof(esc), comm, sc_comm(tid, comm, sizeof(comm)));
	/* A pidfd stays with its process: the kill cannot hit a later one with the same id. */
	if (s->sc->kill && tgid > 0)
		pidfd = (int)syscall(SYS_pidfd_open, tgid, 0);
	if (ioctl(s->listener, SECCOMP_IOCTL_NOTIF_ID_VALID_, &n->id) < 0) {
		if (pidfd >= 0)
			close(pidfd);
		return; /* gone meanwhile */
	}
	if (s->denials[slot] < SC_DENIALS_SHOWN)
		init_log(s->log, "seccomp: denied %s (pid %d, %s): %s", name,
			 (int)(tgid > 0 ? tgid : tid), esc, s->sc->kill ? "killed" : "EPERM");
	else if (s->denials[slot] == SC_DENIALS_SHOWN)
		init_log(s->log, "seccomp: ... (further denials of %s not shown)", name);
	if (s->denials[slot] <= SC_DENIALS_SHOWN)
		s->denials[slot]++;
	if (pidfd >= 0) {
		syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
		close(pidfd);
	} else if (s->sc->kill) {
		kill(tid, SIGKILL); /* no /proc: a thread's id kills its whole process too */
	}
}

int seccomp_serve(int listener, pid_t child, const struct seccomp_conf *sc, int out, int log)
{
	struct sc_sup *s = calloc(1, sizeof(*s));
	int rc = 0;

	if (!s) {
		init_log(log, "seccomp: out of memory");
		return -1;
	}
	s->listener = listener;
	s->out = sc->trace ? out : -1;
	s->log = log;
	s->child = child;
	s->sc = sc;
	if (sc->trace) {
		set_init(&s->records, SC_RECORDS_SLOTS);
		set_init(&s->tids, SC_PIDS_SLOTS);
		set_init(&s->procs, SC_PIDS_SLOTS);
		ln_word(s, TRACE_HEADER);
		ln_send(s);
	}
	for (;;) {
		struct pollfd p = {listener, POLLIN, 0};
		struct seccomp_notif_ n;
		struct seccomp_notif_resp_ r;

		if (poll(&p, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			init_log(log, "seccomp: poll: %s", strerror(errno));
			rc = -1;
			break;
		}
		if (!(p.revents & POLLIN)) {
			if (p.revents & (POLLHUP | POLLERR | POLLNVAL))
				break; /* no process uses the filter any more */
			continue;
		}
		memset(&n, 0, sizeof(n)); /* the kernel wants it zeroed */
		if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV_, &n) < 0) {
			if (errno == EINTR || errno == ENOENT) /* ENOENT: the caller went away */
				continue;
			init_log(log, "seccomp: receive: %s", strerror(errno));
			rc = -1;
			break;
		}
		memset(&r, 0, sizeof(r));
		r.id = n.id;
		if (!s->synced && n.pid == (uint32_t)child && n.data.nr == SECCOMP_SYNC_NR) {
			s->synced = 1;
		} else if (sc->trace) {
			sc_trace(s, &n);
			r.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE_;
		} else {
			sc_deny(s, &n);
			r.error = -EPERM;
		}
		if (ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND_, &r) < 0 && errno != ENOENT &&
		    errno != EINTR) {
			init_log(log, "seccomp: answer: %s", strerror(errno));
			rc = -1;
			break;
		}
	}
	if (!rc && !s->synced)
		init_log(log,
			 "seccomp: the service ended before its handshake call (%#x) was answered",
			 SECCOMP_SYNC_NR);
	if (!rc && sc->trace) {
		ln_word(s, "end");
		ln_send(s);
	}
	free(s->records.v);
	free(s->tids.v);
	free(s->procs.v);
	free(s);
	return rc;
}

/* The trace port, once it is there (the host adds it with trace): -1 with a warning without. */
static int sc_port(void)
{
	char path[300];
	int fd, waited = 0;

	while ((fd = vport_open(TRACE_PORT_NAME, O_WRONLY | O_CLOEXEC, path, sizeof(path))) < 0 &&
	       !path[0] && waited < SC_PORT_WAIT_MS && vport_device_present()) {
		usleep(SC_PORT_RESCAN_MS * 1000);
		waited += SC_PORT_RESCAN_MS;
	}
	if (fd < 0 && path[0])
		init_log(2, "seccomp: trace: %s: %s; the service runs untraced", path,
			 strerror(errno));
	else if (fd < 0)
		init_log(2, "seccomp: trace: no port %s; the service runs untraced",
			 TRACE_PORT_NAME);
	return fd;
}

void seccomp_supervise(pid_t child, int sync_fd, const struct seccomp_conf *sc)
{
	struct sigaction sa;
	sigset_t none;
	char err[256];
	int listener = -1, out = -1, rc;

	/* init's blocked signals and handlers are not ours. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &sa, NULL);
	/* A failed write is a message, not our end. And a stop's SIGTERM to every process
	 * (init.c's stop_everything) must not end us before the service's last processes: their
	 * calls, exit included, would fail with ENOSYS. SIGKILL ends us, if anything must. */
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (sc->trace)
		out = sc_port();
	rc = seccomp_take(child, sync_fd, &listener, err, sizeof(err));
	if (rc < 0) {
		init_log(2, "%s", err);
		kill(child, SIGKILL); /* it would wait in the handshake for ever */
		_exit(1);
	}
	if (rc > 0)
		_exit(0);
	close(sync_fd);
	_exit(seccomp_serve(listener, child, sc, out, 2) < 0 ? 1 : 0);
}

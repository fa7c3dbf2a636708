/* test_seccomp.c: crumb-init's seccomp supervisor on this machine's kernel: real programs under
 * the trace filter and under an allowlist (errno and kill), the handshake, the escaping. */
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"

/* The guest's supervisor is not in the host library: compile it in. */
#include "../../src/init/log.c"
#include "../../src/init/seccomp.c"
#include "../../src/init/vport.c"

#ifndef PR_SET_PTRACER
#define PR_SET_PTRACER 0x59616d61
#endif

static char dir[PATH_MAX]; /* the test's directory, as /proc shows it (symlinks resolved) */

/* What one filtered run left. */
struct run {
	pid_t child;
	int status;  /* the child's wait status */
	int sup;     /* the supervisor's exit status (2: nothing to serve) */
	char *trace; /* what it wrote to the trace port, NUL-terminated */
	char *log;   /* its console lines, and the child's own failure */
};

typedef void body_fn(void *arg); /* runs in the filtered child; ends it with _exit or exec */

static char *slurp(int fd)
{
	struct stat st;
	char *buf;

	fstat(fd, &st);
	buf = calloc(1, (size_t)st.st_size + 1);
	if (pread(fd, buf, (size_t)st.st_size, 0) < 0)
		buf[0] = '\0';
	close(fd);
	return buf;
}

static int tmpfd(void)
{
	char path[PATH_MAX + 16];
	int fd;

	snprintf(path, sizeof(path), "%s/.out-XXXXXX", dir);
	fd = mkstemp(path);
	unlink(path);
	return fd;
}

/*
 * Forks the child as crumb-init does (it installs sc's filter and runs body) and a
 * supervisor beside it (not its parent: only a task nobody waits on can let go of the
 * filter, and this process reaps the child), then waits for both.
 */
static void run_filtered(const struct seccomp_conf *sc, int as_nobody, body_fn *body, void *arg,
			 struct run *r)
{
	int sync[2], out = tmpfd(), log = tmpfd(), st;
	pid_t sup;

	memset(r, 0, sizeof(*r));
	if (pipe2(sync, O_CLOEXEC) < 0 || out < 0 || log < 0) {
		ok(0, "pipe and output files");
		return;
	}
	fflush(stdout);
	r->child = fork();
	if (r->child == 0) {
		char err[300];

		close(sync[0]);
		/* Yama (ptrace_scope 1) lets only ancestors take fds; the supervisor is a sibling.
		 */
		prctl(PR_SET_PTRACER, -1UL, 0, 0, 0);
		if (as_nobody && (setgid(65534) < 0 || setuid(65534) < 0))
			_exit(125);
		if (seccomp_install(sc, sync[1], err, sizeof(err)) < 0) {
			init_log(log, "%s", err);
			_exit(126);
		}
		body(arg);
		_exit(0);
	}
	sup = fork();
	if (sup == 0) {
		char err[300];
		int listener, rc;

		close(sync[1]);
		rc = seccomp_take(r->child, sync[0], &listener, err, sizeof(err));
		if (rc < 0) {
			init_log(log, "%s", err);
			kill(r->child, SIGKILL);
		}
		if (rc)
			_exit(rc < 0 ? 1 : 2);
		_exit(seccomp_serve(listener, r->child, sc, out, log) < 0 ? 1 : 0);
	}
	close(sync[0]);
	close(sync[1]);
	waitpid(r->child, &r->status, 0);
	waitpid(sup, &st, 0);
	r->sup = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	r->trace = slurp(out);
	r->log = slurp(log);
}

static void run_free(struct run *r)
{
	free(r->trace);
	free(r->log);
}

/* How many lines of text are exactly line. */
static int lines_equal(const char *text, const char *line)
{
	size_t n = strlen(line);
	int count = 0;

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, line, n) && (p[n] == '\n' || !p[n]))
			count++;
	return count;
}

/* How many lines start with prefix. */
static int lines_starting(const char *text, const char *prefix)
{
	size_t n = strlen(prefix);
	int count = 0;

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, prefix, n))
			count++;
	return count;
}

/* Every line is one of trace.h's records, printable, one space between fields. */
static int trace_well_formed(const char *text)
{
	static const char *const kinds[] = {"crumb-trace ", "proc ", "sys ",	"file ",
					    "exec ",	    "mmap ", "socket ", "end\n"};

	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		size_t k = 0, nk = sizeof(kinds) / sizeof(kinds[0]);

		if (!nl || (size_t)(nl - p) + 1 > TRACE_LINE_MAX)
			return 0;
		while (k < nk && strncmp(p, kinds[k], strlen(kinds[k])))
			k++;
		if (k == nk)
			return 0;
		for (const char *c = p; c < nl; c++)
			if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f ||
			    (*c == ' ' && (c[1] == ' ' || c + 1 == nl)))
				return 0;
		p = nl + 1;
	}
	return 1;
}

/* ---- the bodies ---- */

static void body_exec(void *arg)
{
	char *const *argv = arg;
	char *envp[] = {"PATH=/bin:/usr/bin", NULL};
	int null = open("/dev/null", O_WRONLY);

	if (chdir(dir) < 0)
		_exit(124);
	dup2(null, 2); /* the programs' complaints are expected */
	execve(argv[0], argv, envp);
	_exit(127);
}

static void *thread_main(void *arg)
{
	(void)arg;
	return (void *)(long)getppid();
}

/* The calls whose records are checked one by one. */
static void body_calls(void *arg)
{
	char big[4200], name[] = "sub/x y\xff";
	struct stat st;
	pthread_t th;
	int dfd, sv[2], fd;
	char *page;
	void *map;

	(void)arg;
	if (chdir(dir) < 0)
		_exit(124);
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	close((int)syscall(SYS_openat, dfd, name, O_RDONLY));
	syscall(SYS_newfstatat, dfd, "", &st, AT_EMPTY_PATH);
	syscall(SYS_rename, "a", "/abs/b");
	syscall(SYS_symlink, "target text", "link");
	syscall(SYS_mkdir, "newdir", 0700);
	syscall(SYS_unlinkat, AT_FDCWD, "./dot/../x", 0);
	close((int)syscall(SYS_socket, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
	if (syscall(SYS_socketpair, AF_UNIX, SOCK_STREAM, 0, sv) == 0) {
		close(sv[0]);
		close(sv[1]);
	}
	fd = (int)syscall(SYS_openat, AT_FDCWD, "f", O_RDONLY);
	map = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map != MAP_FAILED)
		munmap(map, 4096);
	close(fd);
	mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	syscall(SYS_openat, AT_FDCWD, (char *)8, O_RDONLY); /* a bad pointer: no record */
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	syscall(SYS_access, big, F_OK); /* longer than PATH_MAX: no record */
	/* A path that ends where an unreadable page begins. */
	page = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page != MAP_FAILED && mprotect(page + 4096, 4096, PROT_NONE) == 0) {
		memcpy(page + 4096 - 5, "edge", 5);
		syscall(SYS_openat, AT_FDCWD, page + 4096 - 5, O_RDONLY);
	}
	if (pthread_create(&th, NULL, thread_main, NULL) == 0)
		pthread_join(th, NULL);
	_exit(7);
}

/* Makes the same denied call count times; exits 0 when each failed with EPERM. */
static void body_mkdirs(void *arg)
{
	int count = *(int *)arg, eperm = 0;

	for (int i = 0; i < count; i++)
		if (syscall(SYS_mkdir, "/nonexistent-dir/x", 0700) < 0 && errno == EPERM)
			eperm++;
	_exit(eperm == count ? 0 : 1);
}

static void body_nnp_true(void *arg)
{
	char *argv[] = {"/bin/true", NULL};

	(void)arg;
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		_exit(9);
	execve(argv[0], argv, argv + 1);
	_exit(127);
}

/* ---- the tests ---- */

static void test_names(void)
{
	char buf[32], out[64];

	is_str(seccomp_sysname(SYS_read, buf, sizeof(buf)), "read", "sysname: read");
	is_str(seccomp_sysname(SYS_openat, buf, sizeof(buf)), "openat", "sysname: openat");
	is_str(seccomp_sysname(SYS_newfstatat, buf, sizeof(buf)), "newfstatat",
	       "sysname: newfstatat");
	is_str(seccomp_sysname(SYS_pidfd_getfd, buf, sizeof(buf)), "pidfd_getfd",
	       "sysname: pidfd_getfd");
	is_str(seccomp_sysname(SECCOMP_SYNC_NR, buf, sizeof(buf)), "syscall_16368",
	       "sysname: the handshake's number has no name");
	is_str(seccomp_sysname(-1, buf, sizeof(buf)), "syscall_-1", "sysname: -1");
	is_str(seccomp_sysname(0x40000000 | 2, buf, sizeof(buf)), "syscall_1073741826",
	       "sysname: an x32 number");

	is_int(seccomp_escape(out, sizeof(out), "/a b\\c\x01\x7f\xff~!", 11), 26, "escape: length");
	is_str(out, "/a\\x20b\\x5cc\\x01\\x7f\\xff~!", "escape: space, backslash, controls, high");
	is_int(seccomp_escape(out, 8, "abcdefghij", 10), 7, "escape: stops at the buffer's end");
	is_str(out, "abcdefg", "escape: and terminates");
	is_int(seccomp_escape(out, 6, "ab\x01", 3), 2, "escape: never half an escape");
	is_str(out, "ab", "escape: ... even at the end");
}

static void test_trace_exec(void)
{
	struct seccomp_conf sc = {.trace = 1};
	char *argv[] = {"/bin/sh", "-c", "cat rel >/dev/null; ls / >/dev/null; exit 3", NULL};
	char want[PATH_MAX + 64];
	struct run r;

	run_filtered(&sc, 0, body_exec, argv, &r);
	ok(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 3,
	   "trace: sh -c 'cat; ls' runs as without a filter (status %#x)", r.status);
	is_int(r.sup, 0, "trace: the supervisor ends by itself, without error");
	is_str(r.log, "", "trace: nothing on the console");
	ok(!strncmp(r.trace, TRACE_HEADER "\n", sizeof(TRACE_HEADER)),
	   "trace: starts with the header");
	snprintf(want, sizeof(want), "proc %d test_seccomp\n", (int)r.child);
	ok(strstr(r.trace, want) && lines_starting(r.trace, "proc ") == 3,
	   "trace: a proc line for the child and for each of its two children");
	is_int(lines_equal(r.trace, "sys execve"), 1, "trace: sys execve, once");
	ok(lines_equal(r.trace, "file execve /bin/sh") && lines_equal(r.trace, "exec /bin/sh"),
	   "trace: file and exec records of /bin/sh");
	ok(lines_equal(r.trace, "exec /bin/cat") && lines_equal(r.trace, "exec /bin/ls"),
	   "trace: the children's execs");
	snprintf(want, sizeof(want), "file openat %s/rel", dir);
	is_int(lines_equal(r.trace, want), 1, "trace: cat's relative path made absolute");
	snprintf(want, sizeof(want), "file chdir %s", dir);
	is_int(lines_equal(r.trace, want), 1, "trace: the chdir before the exec");
	ok(lines_starting(r.trace, "mmap /"), "trace: mmap records (the shared libraries)");
	ok(!strstr(r.trace, "syscall_16368"), "trace: the handshake is not recorded");
	ok(lines_equal(r.trace, "end") && !strcmp(r.trace + strlen(r.trace) - 4, "end\n"),
	   "trace: ends with end");
	ok(trace_well_formed(r.trace), "trace: every line is a well-formed record");
	if (r.sup || !lines_equal(r.trace, "end"))
		printf("# log: %s# trace:\n%s", r.log, r.trace);
	run_free(&r);
}

static void test_trace_calls(void)
{
	struct seccomp_conf sc = {.trace = 1};
	char want[PATH_MAX + 64];
	struct run r;

	run_filtered(&sc, 0, body_calls, NULL, &r);
	ok(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 7, "calls: the child ran to its end");
	is_int(r.sup, 0, "calls: the supervisor ends without error");
	is_int(lines_starting(r.trace, "proc "), 1, "calls: a thread is no new proc");
	snprintf(want, sizeof(want), "file openat %s/sub/x\\x20y\\xff", dir);
	is_int(lines_equal(r.trace, want), 1, "calls: a dirfd-relative path, escaped");
	snprintf(want, sizeof(want), "file newfstatat %s", dir);
	is_int(lines_equal(r.trace, want), 1, "calls: AT_EMPTY_PATH names the dirfd itself");
	snprintf(want, sizeof(want), "file rename %s/a", dir);
	ok(lines_equal(r.trace, want) && lines_equal(r.trace, "file rename /abs/b"),
	   "calls: rename gives both paths");
	snprintf(want, sizeof(want), "file symlink %s/link", dir);
	is_int(lines_equal(r.trace, want), 1, "calls: symlink gives the new link");
	snprintf(want, sizeof(want), "file mkdir %s/newdir", dir);
	is_int(lines_equal(r.trace, want), 1, "calls: mkdir");
	snprintf(want, sizeof(want), "file unlinkat %s/./dot/../x", dir);
	is_int(lines_equal(r.trace, want), 1, "calls: paths are joined, not canonicalized");
	ok(lines_equal(r.trace, "socket 2 2") && lines_equal(r.trace, "socket 1 1"),
	   "calls: socket and socketpair, family and type without flags");
	snprintf(want, sizeof(want), "mmap %s/f", dir);
	is_int(lines_equal(r.trace, want), 1, "calls: mmap of a file");
	snprintf(want, sizeof(want), "file openat %s/edge", dir);
	is_int(lines_equal(r.trace, want), 1, "calls: a path just before an unreadable page");
	is_int(lines_starting(r.trace, "file access "), 0, "calls: an over-long path: no record");
	ok(lines_equal(r.trace, "sys access") &&
	       lines_equal(r.trace, "sys clone3") + lines_equal(r.trace, "sys clone"),
	   "calls: sys records");
	ok(trace_well_formed(r.trace), "calls: every line is a well-formed record");
	ok(lines_equal(r.trace, "end"), "calls: end");
	if (!lines_equal(r.trace, "end") || r.sup)
		printf("# log: %s# trace:\n%s", r.log, r.trace);
	run_free(&r);
}

/* Allows everything but mkdir and mkdirat (and notifies the handshake, as the host's must). */
static const struct sock_filter_ deny_mkdir[] = {
    {BPF_LD_W_ABS_, 0, 0, SECCOMP_DATA_ARCH_OFF_},
    {BPF_JEQ_K_, 0, 6, SC_AUDIT_ARCH},
    {BPF_LD_W_ABS_, 0, 0, SECCOMP_DATA_NR_OFF_},
    {BPF_JEQ_K_, 3, 0, SYS_mkdir},
    {BPF_JEQ_K_, 2, 0, SYS_mkdirat},
    {BPF_JEQ_K_, 1, 0, SECCOMP_SYNC_NR},
    {BPF_RET_K_, 0, 0, SECCOMP_RET_ALLOW_},
    {BPF_RET_K_, 0, 0, SECCOMP_RET_USER_NOTIF_},
    {BPF_RET_K_, 0, 0, SECCOMP_RET_KILL_PROCESS_},
};

static void test_enforce(void)
{
	struct seccomp_conf sc = {(const unsigned char *)deny_mkdir, sizeof(deny_mkdir), 0, 0};
	char target[PATH_MAX + 8], want[64], want2[64];
	char *argv[] = {"/bin/mkdir", target, NULL};
	struct stat st;
	struct run r;
	int count = 15;

	snprintf(target, sizeof(target), "%s/made", dir);
	run_filtered(&sc, 0, body_exec, argv, &r);
	ok(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 1, "errno: mkdir fails (status %#x)",
	   r.status);
	ok(stat(target, &st) < 0, "errno: and made nothing");
	snprintf(want, sizeof(want), "crumb-init: seccomp: denied mkdir (pid %d, mkdir): EPERM",
		 (int)r.child);
	snprintf(want2, sizeof(want2), "crumb-init: seccomp: denied mkdirat (pid %d, mkdir): EPERM",
		 (int)r.child);
	ok(lines_equal(r.log, want) + lines_equal(r.log, want2) == 1,
	   "errno: one console line names the call, the process and its name");
	is_int(r.sup, 0, "errno: the supervisor ends by itself");
	if (lines_equal(r.log, want) + lines_equal(r.log, want2) != 1)
		printf("# log: %s", r.log);
	run_free(&r);

	run_filtered(&sc, 0, body_mkdirs, &count, &r);
	ok(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "errno: 15 denials, each EPERM");
	is_int(lines_starting(r.log, "crumb-init: seccomp: denied mkdir "), 10,
	       "errno: the first 10 are shown");
	is_int(lines_equal(r.log, "crumb-init: seccomp: ... (further denials of mkdir not shown)"),
	       1, "errno: then one line says the rest are not");
	is_int(lines_starting(r.log, "crumb-init:"), 11, "errno: and nothing more");
	run_free(&r);

	sc.kill = 1;
	run_filtered(&sc, 0, body_exec, argv, &r);
	ok(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGKILL,
	   "kill: mkdir dies by SIGKILL (status %#x)", r.status);
	ok(stat(target, &st) < 0, "kill: and made nothing");
	snprintf(want, sizeof(want), "(pid %d, mkdir): killed", (int)r.child);
	ok(lines_starting(r.log, "crumb-init: seccomp: denied mkdir") == 1 && strstr(r.log, want),
	   "kill: one console line ending 'killed'");
	is_int(r.sup, 0, "kill: the supervisor ends by itself");
	run_free(&r);
}

static void test_failures(void)
{
	static const struct sock_filter_ bad[] = {{0xffff, 0, 0, 0}};
	static const struct sock_filter_ allow_all[] = {{BPF_RET_K_, 0, 0, SECCOMP_RET_ALLOW_}};
	struct seccomp_conf sc = {(const unsigned char *)bad, sizeof(bad), 0, 0};
	struct run r;
	int count = 1;

	run_filtered(&sc, 0, body_mkdirs, &count, &r);
	ok(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 126,
	   "a program the kernel refuses: the child does not run it (status %#x)", r.status);
	ok(strstr(r.log, "crumb-init: seccomp: cannot install the filter: Invalid argument") !=
	       NULL,
	   "  and says why");
	is_int(r.sup, 2, "  the supervisor finds nothing to serve");
	run_free(&r);

	sc = (struct seccomp_conf){(const unsigned char *)allow_all, sizeof(allow_all), 0, 0};
	run_filtered(&sc, 0, body_mkdirs, &count, &r);
	ok(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 126,
	   "a program that lets the handshake through: the child stops (status %#x)", r.status);
	ok(strstr(r.log, "did not answer the handshake (Function not implemented)") != NULL,
	   "  and says why");
	/* The child does not wait: the supervisor may find it gone before taking the listener. */
	ok(r.sup == 2 || (r.sup == 0 && strstr(r.log, "ended before its handshake call")),
	   "  the supervisor serves nothing (%d) or says the handshake never came", r.sup);
	run_free(&r);

	sc.len = 12;
	run_filtered(&sc, 0, body_mkdirs, &count, &r);
	ok(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 126 &&
	       strstr(r.log, "seccomp: a program of 12 bytes"),
	   "half an instruction is refused before the kernel sees it");
	run_free(&r);
}

static void test_nobody(void)
{
	struct seccomp_conf sc = {.trace = 1};
	struct run r;

	if (geteuid() != 0) {
		ok(1, "# SKIP a non-root service (not root: the other tests took that path)");
		return;
	}
	run_filtered(&sc, 1, body_nnp_true, NULL, &r);
	ok(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0,
	   "a service as nobody: installed with no_new_privs, runs (status %#x)", r.status);
	ok(lines_equal(r.trace, "exec /bin/true") && lines_equal(r.trace, "end"),
	   "  and is traced");
	run_free(&r);
}

/* Why this kernel cannot run the tests, or NULL. */
static const char *unsupported(void)
{
	char buf[256] = "";
	int fd = open("/proc/sys/kernel/seccomp/actions_avail", O_RDONLY), pidfd, got;
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

	if (fd >= 0)
		close(fd);
	if (n <= 0 || !strstr(buf, "user_notif"))
		return "the kernel has no seccomp user notifications";
	pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	if (pidfd < 0)
		return "no pidfd_open";
	got = (int)syscall(SYS_pidfd_getfd, pidfd, pidfd, 0);
	close(pidfd);
	if (got < 0)
		return "no pidfd_getfd";
	close(got);
	return NULL;
}

int main(void)
{
	const char *why = unsupported();
	char tmpl[PATH_MAX];
	const char *tmp = getenv("TEST_TMP");

	test_names();
	if (why) {
		ok(1, "# SKIP seccomp supervisor: %s", why);
		return done_testing();
	}
	alarm(120); /* a hang in the handshake must not hang make check */
	snprintf(tmpl, sizeof(tmpl), "%s/seccomp-XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(tmpl) || !realpath(tmpl, dir)) {
		ok(0, "mkdtemp");
		return done_testing();
	}
	sh("echo hi >'%s/rel' && echo data >'%s/f' && mkdir '%s/sub' && touch '%s/sub/x y'", dir,
	   dir, dir, dir);
	chmod(dir, 0755);
	test_trace_exec();
	test_trace_calls();
	test_enforce();
	test_failures();
	test_nobody();
	sh("rm -rf '%s'", dir);
	return done_testing();
}

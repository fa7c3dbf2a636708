/* test_sysfilter.c: the crumb.seccomp allowlist: parsing, canonical form, and the compiled BPF
 * loaded into this machine's kernel (allowed calls run, others reach the notification listener,
 * socket families are told apart). */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/sysfilter.h"
#include "lib/util.h"
#include "tap.h"

static void parsing(void)
{
	struct sysfilter f;
	struct err e = {0};
	sysfilter_init(&f);
	ok(sysfilter_parse("  write read\n openat read socket(AF_UNIX,AF_INET6,2)\tclose", &f,
			   &e) == 0,
	   "a label parses: %s", e.msg);
	char *s = sysfilter_render(&f);
	is_str(s, "close openat read socket(AF_UNIX,AF_INET,AF_INET6) write",
	       "canonical form: sorted, unique, families by number");
	is_int((long long)sysfilter_count(&f), 5 + 10, "count: the five listed and ten implicit");
	struct sysfilter g;
	sysfilter_init(&g);
	ok(sysfilter_parse(s, &g, &e) == 0, "the canonical form parses back");
	char *s2 = sysfilter_render(&g);
	is_str(s2, s, "... to itself");
	free(s);
	free(s2);

	struct sbuf a = SBUF_INIT, b = SBUF_INIT;
	ok(sysfilter_compile(&f, &a, &e) == 0 && sysfilter_compile(&g, &b, &e) == 0, "compiles: %s",
	   e.msg);
	ok(a.len && a.len % 8 == 0 && a.len == b.len && !memcmp(a.buf, b.buf, a.len),
	   "the same allowlist gives the same program (%zu bytes)", a.len);
	sb_release(&a);
	sb_release(&b);
	sysfilter_release(&f);
	sysfilter_release(&g);

	static const struct {
		const char *label, *want;
	} bad[] = {
	    {"read nosuchcall", "'nosuchcall' is not an x86_64 system call"},
	    {"socket(AF_NOPE)", "'AF_NOPE' in 'socket(AF_NOPE)' is not an address family"},
	    {"socket(64)", "'64' in 'socket(64)' is not an address family"},
	    {"read(AF_INET)", "'read(AF_INET)': only socket takes a list of families"},
	    {"socket(AF_INET", "want socket(AF_NAME,...)"},
	    {"socket()", "want socket(AF_NAME,...)"},
	    {"socket(AF_INET)x", "want socket(AF_NAME,...)"},
	};
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		sysfilter_init(&f);
		e.msg[0] = 0;
		int r = sysfilter_parse(bad[k].label, &f, &e);
		ok(r == CRUMB_EINVAL && strstr(e.msg, bad[k].want), "'%s' refused: %s",
		   bad[k].label, e.msg);
		sysfilter_release(&f);
	}
	sysfilter_init(&f);
	ok(sysfilter_parse("", &f, &e) == 0 && f.names.n == 0, "an empty label allows the implicit "
							       "calls alone");
	sysfilter_release(&f);
	is_int(sysfilter_family_parse("AF_PACKET"), 17, "AF_PACKET is 17");
	is_str(sysfilter_family_name(10), "AF_INET6", "10 is AF_INET6");
	char *n = sysfilter_syscall_name(83);
	is_str(n, "mkdir", "x86_64 call 83 is mkdir");
	free(n);
	is_int(sysfilter_syscall_nr("openat"), 257, "openat is 257");
	is_int(sysfilter_syscall_nr("frobnicate"), -1, "an unknown name is -1");
}

/* ---- the program in the kernel ---- */

static int listener = -1;
static int denied[512], ndenied;

/* Answers every notification with EPERM, noting the call. */
static void *serve(void *arg)
{
	(void)arg;
	struct seccomp_notif req;
	struct seccomp_notif_resp resp;
	for (;;) {
		memset(&req, 0, sizeof(req));
		if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0) {
			if (errno == EINTR)
				continue;
			return NULL;
		}
		if (ndenied < 512)
			denied[ndenied++] = req.data.nr;
		memset(&resp, 0, sizeof(resp));
		resp.id = req.id;
		resp.error = -EPERM;
		ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp);
	}
}

/* In a child: the program on this thread, a server thread outside it; exit status: bits of
 * what behaved as expected. */
static int child(const struct sbuf *bpf)
{
	struct sock_fprog prog = {.len = (unsigned short)(bpf->len / 8),
				  .filter = (struct sock_filter *)bpf->buf};
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return 100;
	listener = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
				SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
	if (listener < 0)
		return errno == EINVAL || errno == ENOSYS ? 101 : 102;
	pthread_t t;
	if (pthread_create(&t, NULL, serve, NULL))
		return 103;
	int bits = 0;
	char dir[64];
	snprintf(dir, sizeof(dir), "/tmp/sysfilter-test-%d", (int)getpid());
	errno = 0;
	if (mkdir(dir, 0700) < 0 && errno == EPERM)
		bits |= 1; /* denied */
	if (getpid() > 0)
		bits |= 2; /* allowed */
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	if (s >= 0)
		bits |= 4;
	errno = 0;
	if (socket(AF_PACKET, SOCK_RAW, 0) < 0 && errno == EPERM)
		bits |= 8;
	if (ndenied == 2 && denied[0] == SYS_mkdir && denied[1] == SYS_socket)
		bits |= 16;
	rmdir(dir);
	return bits;
}

static void in_kernel(void)
{
	FILE *fa = fopen("/proc/sys/kernel/seccomp/actions_avail", "r");
	char avail[256] = "";
	if (fa) {
		if (!fgets(avail, sizeof(avail), fa))
			avail[0] = 0;
		fclose(fa);
	}
	if (!strstr(avail, "user_notif")) {
		printf("ok %d # SKIP this kernel has no seccomp user notifications\n", ++tap_n);
		return;
	}
	struct sysfilter f;
	struct err e = {0};
	struct sbuf bpf = SBUF_INIT;
	sysfilter_init(&f);
	/* What this process needs besides the two tested calls (the C library, the sanitizers,
	 * the thread). */
	const char *need =
	    "getpid socket(AF_UNIX) rmdir write read close mmap munmap mprotect "
	    "brk futex clone clone3 rt_sigprocmask rt_sigaction madvise set_robust_list "
	    "rseq getrandom sched_yield prctl sigaltstack gettid ioctl exit_group "
	    "openat newfstatat fstat lseek readlink getrlimit prlimit64 "
	    "sched_getaffinity pread64 wait4 kill tgkill";
	ok(sysfilter_parse(need, &f, &e) == 0 && sysfilter_compile(&f, &bpf, &e) == 0,
	   "compiles: %s", e.msg);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0)
		_exit(child(&bpf));
	int st = 0;
	waitpid(pid, &st, 0);
	int bits = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	if (bits == 101) {
		printf("ok %d # SKIP the kernel refused the filter (no user notifications)\n",
		       ++tap_n);
	} else {
		ok(bits >= 0 && bits < 100, "the child ran under the filter (status %d, signal %d)",
		   bits, WIFSIGNALED(st) ? WTERMSIG(st) : 0);
		ok(bits >= 0 && (bits & 1), "mkdir, not allowed, fails with EPERM");
		ok(bits >= 0 && (bits & 2), "getpid, allowed, runs");
		ok(bits >= 0 && (bits & 4), "socket(AF_UNIX), an allowed family, runs");
		ok(bits >= 0 && (bits & 8), "socket(AF_PACKET), another family, fails with EPERM");
		ok(bits >= 0 && (bits & 16), "the listener saw exactly mkdir and socket");
	}
	sb_release(&bpf);
	sysfilter_release(&f);
}

int main(void)
{
	parsing();
	in_kernel();
	return done_testing();
}

/* init.c: crumb-init, the guest's PID 1: sets the system up, runs the one service, powers off. */
#include "config.h"
#include "markers.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#ifndef CRUMB_VERSION
#define CRUMB_VERSION "0.1.0"
#endif

/* How long stragglers get after SIGTERM, and again after SIGKILL. */
#define STOP_GRACE_MS 1000

static void write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

/* "crumb-init: MESSAGE\n" on stderr in one write, so lines do not interleave with the service's. */
static void __attribute__((format(printf, 1, 2))) warnf(const char *fmt, ...)
{
	char buf[768] = "crumb-init: ";
	size_t n = strlen(buf);
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
	va_end(ap);
	if (r > 0)
		n += (size_t)r < sizeof(buf) - n - 1 ? (size_t)r : sizeof(buf) - n - 2;
	buf[n++] = '\n';
	write_all(2, buf, n);
}

/* Writes one marker (protocol in markers.h); field may be NULL. Non-printable
 * bytes in field become '?' so the framing bytes can never appear inside. */
static void marker(const char *name, const char *field)
{
	char buf[600];
	struct timespec ts = {0, 0};
	size_t n;
	int r;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	r = snprintf(buf, sizeof(buf), "%c%s%s %lld.%06ld", MARKER_START, MARKER_PREFIX, name,
		     (long long)ts.tv_sec, ts.tv_nsec / 1000);
	if (r < 0)
		return;
	n = (size_t)r < sizeof(buf) - 2 ? (size_t)r : sizeof(buf) - 2;
	if (field) {
		buf[n++] = ' ';
		for (; *field && n < sizeof(buf) - 1; field++) {
			unsigned char ch = (unsigned char)*field;

			buf[n++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
		}
	}
	buf[n++] = MARKER_END;
	write_all(1, buf, n);
}

/* PID 1 must never exit (the kernel panics): every end goes through here. */
static void __attribute__((noreturn)) power_off(void)
{
	sync();
	/* The UART drains asynchronously; without this the last bytes (the exit
	 * marker) can be lost in the reboot. Output stopped by a stray ^S would
	 * make tcdrain wait forever: restart it first. */
	tcflow(1, TCOON);
	tcdrain(1);
	reboot(RB_AUTOBOOT);
	for (;;)
		pause();
}

static void __attribute__((noreturn, format(printf, 1, 2))) fatal(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	marker("error", msg);
	power_off();
}

/* The kernel opens /dev/console as fds 0-2 for init only if the node exists;
 * fill whatever is missing so markers and the service's stdio have a home. */
static void ensure_stdio(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		int nfd;

		if (fcntl(fd, F_GETFD) >= 0)
			continue;
		nfd = open("/dev/console", O_RDWR | O_NOCTTY);
		if (nfd < 0)
			nfd = open("/dev/null", O_RDWR);
		if (nfd >= 0 && nfd != fd) {
			dup2(nfd, fd);
			close(nfd);
		}
	}
}

/* The host compares the service's output bytes: no "\n" -> "\r\n". */
static void console_raw(void)
{
	struct termios t;

	if (tcgetattr(1, &t) == 0) {
		t.c_oflag &= ~(tcflag_t)OPOST;
		tcsetattr(1, TCSANOW, &t);
	}
}

struct mnt {
	const char *src, *dir, *type;
	unsigned long flags;
	const char *data;
	int fatal;      /* without /proc or /dev nothing works; the rest is optional */
	int if_empty;   /* only over an empty directory: never hide files the image has there */
};

static const struct mnt mounts[] = {
    {"proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, 1, 0},
    {"sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, 0, 0},
    {"devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755", 1, 0},
    {"devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "mode=0620,ptmxmode=0666", 0, 0},
    {"tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", 0, 0},
    {"tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", 0, 1},
    {"tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755", 0, 1},
};

static const char *const dev_links[][2] = {
    {"/proc/self/fd", "/dev/fd"},	{"/proc/self/fd/0", "/dev/stdin"},
    {"/proc/self/fd/1", "/dev/stdout"}, {"/proc/self/fd/2", "/dev/stderr"},
    {"pts/ptmx", "/dev/ptmx"}, /* devtmpfs usually has a ptmx node: then EEXIST */
};

static int dir_is_empty(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int empty = 1;
	if (!d)
		return 1;
	while (empty && (de = readdir(d)))
		empty = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");
	closedir(d);
	return empty;
}

static void setup_filesystems(void)
{
	for (size_t i = 0; i < sizeof(mounts) / sizeof(mounts[0]); i++) {
		const struct mnt *m = &mounts[i];

		if (mkdir(m->dir, 0755) < 0 && errno != EEXIST) {
			if (m->fatal)
				fatal("mkdir %s: %s", m->dir, strerror(errno));
			warnf("mkdir %s: %s", m->dir, strerror(errno));
			continue;
		}
		if (m->if_empty && !dir_is_empty(m->dir))
			continue;
		if (mount(m->src, m->dir, m->type, m->flags, m->data) == 0)
			continue;
		/* On a disk root the kernel has mounted devtmpfs on /dev itself. */
		if (errno == EBUSY && !strcmp(m->type, "devtmpfs"))
			continue;
		if (m->fatal)
			fatal("mount %s (%s): %s", m->dir, m->type, strerror(errno));
		if (errno == ENODEV)
			warnf("mount %s: filesystem %s is not in the kernel, skipped", m->dir,
			      m->type);
		else
			warnf("mount %s (%s): %s", m->dir, m->type, strerror(errno));
	}
	for (size_t i = 0; i < sizeof(dev_links) / sizeof(dev_links[0]); i++)
		if (symlink(dev_links[i][0], dev_links[i][1]) < 0 && errno != EEXIST)
			warnf("symlink %s: %s", dev_links[i][1], strerror(errno));
}

/* Brings lo up. Linux assigns 127.0.0.1/8 itself when lo goes up; set it only when missing. */
static void setup_loopback(void)
{
	struct ifreq ifr;
	struct sockaddr_in sin;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s < 0) {
		warnf("lo: socket: %s", strerror(errno));
		return;
	}
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, "lo", 3);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
		warnf("lo: %s", strerror(errno));
		goto out;
	}
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) {
		warnf("lo: up: %s", strerror(errno));
		goto out;
	}
	if (ioctl(s, SIOCGIFADDR, &ifr) == 0)
		goto out;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	memcpy(&ifr.ifr_addr, &sin, sizeof(sin));
	if (ioctl(s, SIOCSIFADDR, &ifr) < 0)
		warnf("lo: set address: %s", strerror(errno));
	sin.sin_addr.s_addr = htonl(0xff000000);
	memcpy(&ifr.ifr_netmask, &sin, sizeof(sin));
	if (ioctl(s, SIOCSIFNETMASK, &ifr) < 0)
		warnf("lo: set netmask: %s", strerror(errno));
out:
	close(s);
}

static int set_ipv4(int s, struct ifreq *ifr, unsigned long req, uint32_t addr)
{
	struct sockaddr_in sin;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(addr);
	memcpy(&ifr->ifr_addr, &sin, sizeof(sin));
	return ioctl(s, req, ifr);
}

/*
 * Brings up eth0 when the VM has a network card, with the addresses QEMU's
 * user networking serves (guest 10.0.2.15/24, gateway 10.0.2.2, DNS
 * 10.0.2.3), and gives the guest a resolv.conf unless the image has one.
 * No card (crumb run --net none): nothing to do.
 */
static void setup_eth0(void)
{
	struct ifreq ifr;
	struct rtentry rt;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		return;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, "eth0", 5);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		goto out; /* no card */
	if (set_ipv4(s, &ifr, SIOCSIFADDR, 0x0a00020f) < 0 ||
	    set_ipv4(s, &ifr, SIOCSIFNETMASK, 0xffffff00) < 0) {
		warnf("eth0: set address: %s", strerror(errno));
		goto out;
	}
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0 || (ifr.ifr_flags |= IFF_UP | IFF_RUNNING,
						 ioctl(s, SIOCSIFFLAGS, &ifr) < 0)) {
		warnf("eth0: up: %s", strerror(errno));
		goto out;
	}
	memset(&rt, 0, sizeof(rt));
	struct sockaddr_in *gw = (struct sockaddr_in *)&rt.rt_gateway;
	struct sockaddr_in *dst = (struct sockaddr_in *)&rt.rt_dst;
	struct sockaddr_in *mask = (struct sockaddr_in *)&rt.rt_genmask;
	gw->sin_family = dst->sin_family = mask->sin_family = AF_INET;
	gw->sin_addr.s_addr = htonl(0x0a000202);
	rt.rt_flags = RTF_UP | RTF_GATEWAY;
	rt.rt_dev = ifr.ifr_name;
	if (ioctl(s, SIOCADDRT, &rt) < 0 && errno != EEXIST)
		warnf("eth0: default route: %s", strerror(errno));
	if (access("/etc/resolv.conf", F_OK) < 0) {
		int fd = open("/etc/resolv.conf", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		static const char conf[] = "nameserver 10.0.2.3\n";
		if (fd >= 0) {
			if (write(fd, conf, sizeof(conf) - 1) < 0)
				warnf("/etc/resolv.conf: %s", strerror(errno));
			close(fd);
		}
	}
out:
	close(s);
}

/* Reads a whole file of at most CONF_FILE_MAX bytes; NULL with a message in err. */
static char *read_conf(const char *path, size_t *len, char *err, size_t errlen)
{
	size_t cap = 4096, n = 0;
	char *buf = NULL, *nb;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	for (;;) {
		ssize_t r;

		if (!buf || n == cap) {
			if (buf)
				cap *= 2;
			if (!(nb = realloc(buf, cap))) {
				snprintf(err, errlen, "%s: out of memory", path);
				goto fail;
			}
			buf = nb;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			goto fail;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > CONF_FILE_MAX) {
			snprintf(err, errlen, "%s: larger than %d bytes", path, CONF_FILE_MAX);
			goto fail;
		}
	}
	close(fd);
	*len = n;
	return buf;
fail:
	free(buf);
	close(fd);
	return NULL;
}

static void conf_warn(void *ctx, const char *msg)
{
	warnf("%s: %s", (const char *)ctx, msg);
}

/* The child: a fresh session on the console, default signals, exactly the config's env. */
static void __attribute__((noreturn)) run_service(const struct conf *c)
{
	struct sigaction sa;
	sigset_t none;
	int e;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &sa, NULL); /* fails harmlessly for KILL, STOP, libc-internal ones */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* A controlling terminal gives the service job control and ^C; best-effort. */
	if (setsid() >= 0)
		ioctl(0, TIOCSCTTY, 0);
	execve(c->argv[0], c->argv, c->envp);
	e = errno;
	warnf("exec %s: %s", c->argv[0], strerror(e));
	_exit(e == ENOENT || e == ENOTDIR ? 127 : 126);
}

/* Reaps every exited child without blocking. Returns 1 while children remain, else 0.
 * When the service is among them, stores its status in *svc_status. */
static int reap(pid_t svc, int *svc_status)
{
	for (;;) {
		int st;
		pid_t p = waitpid(-1, &st, WNOHANG);

		if (p == 0)
			return 1;
		if (p < 0) {
			if (errno == EINTR)
				continue;
			return 0; /* ECHILD: nobody left */
		}
		if (p == svc && svc_status)
			*svc_status = WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
	}
}

/* Waits for the service, reaping orphans and forwarding TERM/INT/HUP to it. */
static int supervise(pid_t svc, const sigset_t *set)
{
	int status = -1;

	for (;;) {
		int sig = sigwaitinfo(set, NULL);

		if (sig == SIGCHLD) {
			reap(svc, &status);
			if (status >= 0)
				return status;
		} else if (sig > 0) {
			kill(svc, sig);
		}
	}
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reaps until no child is left or ms pass. Returns 1 if children remain. */
static int wait_children(const sigset_t *set, long ms)
{
	long long end = now_ms() + ms;

	while (reap(0, NULL)) {
		long long left = end - now_ms();
		struct timespec ts;

		if (left <= 0)
			return 1;
		ts.tv_sec = (time_t)(left / 1000);
		ts.tv_nsec = (long)(left % 1000) * 1000000;
		sigtimedwait(set, NULL, &ts);
	}
	return 0;
}

/* Every process left is a descendant of init, so "no children" means "nobody left". */
static void stop_everything(const sigset_t *set)
{
	if (!reap(0, NULL))
		return;
	kill(-1, SIGTERM);
	kill(-1, SIGCONT); /* a stopped process would never see the SIGTERM */
	if (!wait_children(set, STOP_GRACE_MS))
		return;
	warnf("processes left after SIGTERM; sending SIGKILL");
	kill(-1, SIGKILL);
	if (wait_children(set, STOP_GRACE_MS))
		warnf("processes survived SIGKILL");
}

static void put_escaped(const char *key, const char *s)
{
	static const char hex[] = "0123456789abcdef";

	fputs(key, stdout);
	putchar(' ');
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '\\') {
			fputs("\\\\", stdout);
		} else if (ch == '\n') {
			fputs("\\n", stdout);
		} else if (ch < 0x20 || ch == 0x7f) {
			printf("\\x%c%c", hex[ch >> 4], hex[ch & 15]);
		} else {
			putchar(ch);
		}
	}
	putchar('\n');
}

/* Not PID 1: a tool for tests and humans, never an init. */
static int not_pid1(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		puts("crumb-init " CRUMB_VERSION " (config format: " CONF_HEADER ")");
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "--help") == 0) {
		puts("usage: crumb-init                 (as PID 1 only: runs " CONF_PATH ")\n"
		     "       crumb-init --check FILE    parses FILE, prints it normalized\n"
		     "       crumb-init --version | --help");
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "--check") == 0) {
		char err[600];
		struct conf c;
		size_t len = 0;
		char *buf = read_conf(argv[2], &len, err, sizeof(err));

		if (!buf || conf_parse(&c, buf, len, conf_warn, argv[2], err, sizeof(err)) < 0) {
			if (buf)
				warnf("%s: %s", argv[2], err);
			else
				warnf("%s", err);
			free(buf);
			return 1;
		}
		puts(CONF_HEADER);
		for (size_t i = 0; i < c.argc; i++)
			put_escaped("arg", c.argv[i]);
		for (size_t i = 0; i < c.envc; i++)
			put_escaped("env", c.envp[i]);
		put_escaped("workdir", c.workdir);
		put_escaped("hostname", c.hostname);
		conf_release(&c);
		free(buf);
		return fflush(stdout) ? 1 : 0;
	}
	warnf("must run as PID 1 (the guest's init); see --help");
	return 2;
}

int main(int argc, char **argv)
{
	char err[600];
	struct conf c;
	sigset_t set;
	size_t len = 0;
	char *buf;
	pid_t pid;
	int status;

	if (getpid() != 1)
		return not_pid1(argc, argv);

	ensure_stdio();
	marker("init", NULL);
	console_raw();
	setup_filesystems();
	ensure_stdio(); /* /dev/console exists now even if the initramfs lacked it */
	/* Ctrl-Alt-Del (or QEMU's equivalent) becomes SIGINT to us, forwarded to the service. */
	reboot(RB_DISABLE_CAD);

	buf = read_conf(CONF_PATH, &len, err, sizeof(err));
	if (!buf)
		fatal("%s", err);
	if (conf_parse(&c, buf, len, conf_warn, CONF_PATH, err, sizeof(err)) < 0)
		fatal("%s: %s", CONF_PATH, err);
	if (sethostname(c.hostname, strlen(c.hostname)) < 0)
		warnf("sethostname: %s", strerror(errno));
	setup_loopback();
	setup_eth0();
	if (chdir(c.workdir) < 0)
		fatal("workdir %s: %s", c.workdir, strerror(errno));

	/* Blocked before fork so no SIGCHLD is lost; sigwaitinfo takes them in order. */
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);

	marker("exec", NULL);
	pid = fork();
	if (pid < 0)
		fatal("fork: %s", strerror(errno));
	if (pid == 0)
		run_service(&c);

	status = supervise(pid, &set);
	stop_everything(&set);
	sync();
	snprintf(err, sizeof(err), "%d", status & 255);
	marker("exit", err);
	power_off();
}

/* init.c: crumb-init, the guest's PID 1: sets up, runs the service or build steps, powers off. */
#include "config.h"
#include "log.h"
#include "mac.h"
#include "markers.h"
#include "relay.h"
#include "seccomp.h"
#include "stepmount.h"
#include "user.h"
#include "vport.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <sys/io.h>
#define HAVE_FW_CFG 1
#endif

#ifndef CRUMB_VERSION
#define CRUMB_VERSION "0.1.0"
#endif

/* How long stragglers get after SIGTERM, and again after SIGKILL. */
#define STOP_GRACE_MS 1000
/* The restart backoff: first delay, cap, and the run length that resets it. */
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 5000
#define BACKOFF_RESET_MS 10000
/* How often the listening sockets are looked for (ready). */
#define READY_POLL_MS 10
/* The control port: its name, and how long after start it may still appear
 * (virtio-console learns its ports from the host asynchronously). */
#define CTL_PORT_NAME "crumb.ctl"
#define CTL_SCAN_MS 5000
#define CTL_RESCAN_MS 50
/* While the host is not connected the port reads EOF; look again this often
 * (besides the SIGIO the driver sends on connect and data). */
#define CTL_RETRY_MS 1000
/* console.c takes markers of up to 511 bytes between the framing bytes. */
#define MARKER_MAX MAC_MARKER_MAX
/* tmpfs and ramfs (statfs f_type): where a key file may be believed. */
#define TMPFS_MAGIC_ 0x01021994UL
#define RAMFS_MAGIC_ 0x858458f6UL
/* Capabilities no program crumb-init starts gets (bounding set): with them a
 * root program could read the marker key out of PID 1 (ptrace, /proc/1/mem)
 * or out of the kernel (/dev/mem, /proc/kcore, ioperm, modules, BPF). */
static const int dropped_caps[] = {16 /* SYS_MODULE */, 17 /* SYS_RAWIO */, 19 /* SYS_PTRACE */,
				   38 /* PERFMON */, 39 /* BPF */};

/* The boot's marker key (config.h, "The marker key") and the last SEQ used. */
static unsigned char marker_key[MAC_KEY_LEN];
static int have_marker_key;
static unsigned long marker_seq;

/* The fast console (relay.h), when the host asks for it (VCON_PARAM on the
 * kernel command line) and its port comes within VCON_WAIT_MS: then a pty
 * (stdin) and a pipe (stdout, stderr) relayed to it are fds 0-2 (the
 * service's stdio, the markers), and ttyS0 (/dev/console) keeps only the
 * kernel's messages. At the end the relay gets up to VCON_END_MS to hand
 * the rest to a host that reads slowly (a pager; its ack comes as soon as it
 * has read all), a second without the marker key (no host believes our
 * markers then: no ack will come). */
#define VCON_PARAM "crumb.console=virtio"
#define VCON_WAIT_MS 3000
#define VCON_END_MS 30000
static char vcon_tty[64]; /* the pty's slave, or "" */
static void console_end(void);

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
	va_list ap;

	va_start(ap, fmt);
	init_vlog(2, fmt, ap);
	va_end(ap);
}

/* Writes one marker (protocol in markers.h), signed when the key is known;
 * field may be NULL. Non-printable bytes in field become '?' so the framing
 * bytes can never appear inside; the whole marker is cut to MARKER_MAX bytes. */
static void marker(const char *name, const char *field)
{
	char buf[MARKER_MAX + 8];
	struct timespec ts = {0, 0};
	size_t n;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	n = mac_marker(buf, sizeof(buf), have_marker_key ? marker_key : NULL, ++marker_seq, name,
		       (long long)ts.tv_sec, ts.tv_nsec / 1000, field);
	write_all(1, buf, n);
}

static void __attribute__((format(printf, 2, 3))) markerf(const char *name, const char *fmt, ...)
{
	char field[MARKER_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(field, sizeof(field), fmt, ap);
	va_end(ap);
	marker(name, field);
}

/* Decodes the octal escapes (\040 for a space) of a /proc/self/mounts field in place. */
static void unoctal(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

/*
 * Makes what was written durable before power-off: unmounts every
 * disk-backed (/dev/...) or 9p filesystem, innermost first, remounting it
 * read-only when it is busy, then remounts a disk root read-only. Safe to
 * call more than once, and without /proc (then only sync).
 */
static void shutdown_filesystems(void)
{
	char *lines[256];
	size_t n = 0;
	char buf[512];
	int root_disk = 0;
	FILE *f;

	sync();
	f = fopen("/proc/self/mounts", "re");
	if (!f)
		return;
	while (n < sizeof(lines) / sizeof(lines[0]) && fgets(buf, sizeof(buf), f)) {
		char *l = strdup(buf);

		if (l)
			lines[n++] = l;
	}
	fclose(f);
	while (n--) {
		char *src = strtok(lines[n], " "), *dir = strtok(NULL, " "),
		     *type = strtok(NULL, " ");

		if (src && dir && type) {
			unoctal(dir);
			if (!strcmp(dir, "/")) {
				root_disk |= !strncmp(src, "/dev/", 5);
			} else if (!strncmp(src, "/dev/", 5) || !strcmp(type, "9p")) {
				if (umount(dir) < 0 &&
				    mount(NULL, dir, NULL, MS_REMOUNT | MS_RDONLY, NULL) < 0 &&
				    errno != EROFS)
					warnf("unmount %s: %s", dir, strerror(errno));
			}
		}
		free(lines[n]);
	}
	if (root_disk && mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY, NULL) < 0)
		warnf("remount / read-only: %s", strerror(errno));
	sync();
}

/* PID 1 must never exit (the kernel panics): every end goes through here. */
static void __attribute__((noreturn)) power_off(void)
{
	shutdown_filesystems();
	console_end();
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
	/* Whatever runs would keep volumes busy. */
	if (kill(-1, SIGKILL) == 0)
		for (int i = 0; i < 100 && waitpid(-1, NULL, WNOHANG) >= 0; i++)
			usleep(10000);
	if (!have_marker_key) /* the host will not believe the marker: say it in words too */
		warnf("%s", msg);
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

/* The host compares the service's output bytes: no "\n" -> "\r\n". And no
 * echo: without tty the console is a pipe-like stream, as `docker run -i`
 * gives, so what the host forwards (crumb run -i) does not come back; tty
 * mode turns echo on again (console_cooked). */
static void console_raw(void)
{
	struct termios t;

	if (tcgetattr(1, &t) == 0) {
		t.c_oflag &= ~(tcflag_t)OPOST;
		tcsetattr(1, TCSANOW, &t);
	}
	if (tcgetattr(0, &t) == 0) {
		t.c_oflag &= ~(tcflag_t)OPOST; /* the same tty as 1, or the relay's pty */
		t.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
		tcsetattr(0, TCSANOW, &t);
	}
}

/* Is word one of the kernel command line's? */
static int cmdline_has(const char *word)
{
	char buf[4096];
	size_t n = strlen(word);
	ssize_t r;
	int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	r = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (r <= 0)
		return 0;
	buf[r] = '\0';
	for (char *p = buf; (p = strstr(p, word)); p += n)
		if ((p == buf || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\n' || !p[n]))
			return 1;
	return 0;
}

/* Moves fds 0-2 to the fast console when the host gave one (relay.h). */
static void console_to_virtio(void)
{
	char err[128] = "no virtio-serial device";
	int tty, out;

	if (!cmdline_has(VCON_PARAM))
		return;
	if (!vport_device_present() || relay_start(VCON_WAIT_MS, &tty, &out, vcon_tty,
						   sizeof(vcon_tty), err, sizeof(err)) < 0) {
		warnf("%s; output stays on the serial console", err);
		vcon_tty[0] = '\0';
		return;
	}
	dup2(tty, 0);
	dup2(out, 1);
	dup2(out, 2);
	close(tty);
	close(out);
	console_raw();
}

/* Lets the relay hand everything to the host (every other holder of the pty
 * is gone: stop_everything), then goes back to /dev/console. */
static void console_end(void)
{
	if (!relay_running())
		return;
	for (int i = 0; i <= 2; i++)
		close(i);
	relay_finish(have_marker_key ? VCON_END_MS : 1000);
	ensure_stdio();
}

/* tty 1: a terminal as a shell expects it; the host's own terminal is raw. */
static void console_cooked(const struct conf *c)
{
	struct termios t;

	if (tcgetattr(0, &t) == 0) {
		t.c_iflag &= ~(tcflag_t)(INLCR | IGNCR | IXOFF);
		t.c_iflag |= ICRNL | IXON | BRKINT | IUTF8;
		t.c_oflag |= OPOST | ONLCR;
		t.c_lflag |= ICANON | ECHO | ECHOE | ECHOK | ISIG | IEXTEN | ECHOCTL | ECHOKE;
		t.c_cc[VINTR] = 0x03;
		t.c_cc[VQUIT] = 0x1c;
		t.c_cc[VERASE] = 0x7f;
		t.c_cc[VKILL] = 0x15;
		t.c_cc[VEOF] = 0x04;
		t.c_cc[VSUSP] = 0x1a;
		t.c_cc[VMIN] = 1;
		t.c_cc[VTIME] = 0;
		if (tcsetattr(0, TCSANOW, &t) < 0)
			warnf("console: tcsetattr: %s", strerror(errno));
	}
	if (c->rows && c->cols) {
		struct winsize ws = {.ws_row = (unsigned short)c->rows,
				     .ws_col = (unsigned short)c->cols};

		if (ioctl(0, TIOCSWINSZ, &ws) < 0)
			warnf("console: window size: %s", strerror(errno));
	}
}

struct mnt {
	const char *src, *dir, *type;
	unsigned long flags;
	const char *data;
	int fatal;    /* without /proc or /dev nothing works; the rest is optional */
	int if_empty; /* only over an empty directory: never hide files the image has there */
};

static const struct mnt base_mounts[] = {
    {"proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, 1, 0},
    {"sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, 0, 0},
    {"devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755", 1, 0},
    {"devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "mode=0620,ptmxmode=0666", 0, 0},
    {"tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", 0, 0},
};

/* Not in build mode: there, what a step writes to /tmp or /run stays in the image. */
static const struct mnt service_mounts[] = {
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

static void mount_table(const struct mnt *table, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct mnt *m = &table[i];

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
}

static void setup_filesystems(void)
{
	mount_table(base_mounts, sizeof(base_mounts) / sizeof(base_mounts[0]));
	for (size_t i = 0; i < sizeof(dev_links) / sizeof(dev_links[0]); i++)
		if (symlink(dev_links[i][0], dev_links[i][1]) < 0 && errno != EEXIST)
			warnf("symlink %s: %s", dev_links[i][1], strerror(errno));
}

/* mkdir -p for absolute paths; 0 or -1 with errno. */
static int mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);

	if (n >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1;; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;
			struct stat st;

			*p = '\0';
			if (buf[0] && mkdir(buf, mode) < 0 &&
			    (errno != EEXIST || stat(buf, &st) < 0 || !S_ISDIR(st.st_mode))) {
				if (errno == EEXIST)
					errno = ENOTDIR;
				return -1;
			}
			*p = c;
			if (!c)
				return 0;
		}
	}
}

/* The config's mount lines, in order; any failure is fatal (the service needs its data). */
static void setup_volumes(const struct conf *c)
{
	for (size_t i = 0; i < c->nmounts; i++) {
		const struct conf_mount *m = &c->mounts[i];
		char data[1200] = "";
		unsigned long mflags = 0;

		/* The kernel's default msize (8 KiB) makes 9p crawl; options given later win. */
		if (!strcmp(m->type, "9p"))
			strcpy(data, "trans=virtio,version=9p2000.L,msize=262144");
		if (mnt_options(m->options, &mflags, data, sizeof(data)) < 0)
			fatal("mount %s: options too long", m->target);
		if (mkdir_p(m->target, 0755) < 0)
			fatal("mount %s: mkdir: %s", m->target, strerror(errno));
		if (mount(m->source, m->target, m->type, mflags, data[0] ? data : NULL) < 0)
			fatal("mount %s on %s (%s): %s", m->source, m->target, m->type,
			      strerror(errno));
	}
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

static const char resolv_conf[] = "nameserver 10.0.2.3\n";

/* The inbound-only card's MAC (the host's vmm_qemu.c sets it: VM_INBOUND_MAC). */
static const unsigned char inbound_mac[6] = {0x52, 0x54, 0x00, 0xc0, 0xff, 0x01};

/* Gives the card name its IPv4 address and netmask and brings it up. */
static int link_up(int s, const char *name, uint32_t addr)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, name, strlen(name) + 1);
	if (set_ipv4(s, &ifr, SIOCSIFADDR, addr) < 0 ||
	    set_ipv4(s, &ifr, SIOCSIFNETMASK, 0xffffff00) < 0) {
		warnf("%s: set address: %s", name, strerror(errno));
		return -1;
	}
	/* A gratuitous ARP when it comes up: passt learns the guest from its first
	 * frame and until then holds a forwarded connection ~10 s instead of
	 * delivering it. Best effort: only speed is at stake. */
	char path[64];
	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/arp_notify", name);
	int an = open(path, O_WRONLY | O_CLOEXEC);
	if (an >= 0) {
		ssize_t w = write(an, "1", 1);
		(void)w;
		close(an);
	}
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0 ||
	    (ifr.ifr_flags |= IFF_UP | IFF_RUNNING, ioctl(s, SIOCSIFFLAGS, &ifr) < 0)) {
		warnf("%s: up: %s", name, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * Brings up the network cards the VM has, with the addresses crumb's user
 * networking serves. The guest's own card (passt, or QEMU's slirp): guest
 * 10.0.2.15/24, gateway 10.0.2.2, DNS 10.0.2.3, and a resolv.conf unless the
 * image has one. With published ports there is a second card, known by its
 * MAC, on which only the forwarded connections arrive: 10.0.4.15/24
 * (VM_INBOUND_NET), no route beyond it. No card (crumb run --net none):
 * nothing to do. Returns 1 when it wrote /etc/resolv.conf.
 */
static int setup_net(void)
{
	struct rtentry rt;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), wrote = 0, main_up = 0;

	if (s < 0)
		return 0;
	for (int i = 0; i < 2; i++) {
		struct ifreq ifr;
		char name[8];

		snprintf(name, sizeof(name), "eth%d", i);
		memset(&ifr, 0, sizeof(ifr));
		memcpy(ifr.ifr_name, name, strlen(name) + 1);
		if (ioctl(s, SIOCGIFHWADDR, &ifr) < 0)
			break; /* no (more) cards */
		if (!memcmp(ifr.ifr_hwaddr.sa_data, inbound_mac, sizeof(inbound_mac))) {
			link_up(s, name, 0x0a00040f);
			continue;
		}
		if (main_up || link_up(s, name, 0x0a00020f) < 0)
			continue;
		main_up = 1;
		memset(&rt, 0, sizeof(rt));
		struct sockaddr_in *gw = (struct sockaddr_in *)&rt.rt_gateway;
		struct sockaddr_in *dst = (struct sockaddr_in *)&rt.rt_dst;
		struct sockaddr_in *mask = (struct sockaddr_in *)&rt.rt_genmask;
		gw->sin_family = dst->sin_family = mask->sin_family = AF_INET;
		gw->sin_addr.s_addr = htonl(0x0a000202);
		rt.rt_flags = RTF_UP | RTF_GATEWAY;
		rt.rt_dev = name;
		if (ioctl(s, SIOCADDRT, &rt) < 0 && errno != EEXIST)
			warnf("%s: default route: %s", name, strerror(errno));
		if (access("/etc/resolv.conf", F_OK) < 0) {
			int fd =
			    open("/etc/resolv.conf", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
			if (fd >= 0) {
				if (write(fd, resolv_conf, sizeof(resolv_conf) - 1) < 0)
					warnf("/etc/resolv.conf: %s", strerror(errno));
				else
					wrote = 1;
				close(fd);
			}
		}
	}
	close(s);
	return wrote;
}

#define HOSTS_PATH "/etc/hosts"
/* The copy crumb-init bind-mounts over HOSTS_PATH: on /dev, a tmpfs it always has. */
#define HOSTS_COPY "/dev/.crumb-hosts"
/* How much of the root's /etc/hosts the copy keeps. */
#define HOSTS_OLD_MAX (1024 * 1024)

/* What setup_hosts did, for undo_hosts. */
struct hosts_undo {
	int mounted, created, made_etc;
};

/* Writes the root's /etc/hosts (old, len bytes) and the config's hosts to fd. */
static int hosts_write(int fd, const char *old, size_t len, const struct conf *c)
{
	if (len && write(fd, old, len) != (ssize_t)len)
		return -1;
	if (len && old[len - 1] != '\n' && write(fd, "\n", 1) != 1)
		return -1;
	for (size_t i = 0; i < c->nhosts; i++)
		if (dprintf(fd, "%s\t%s\n", c->hosts[i].ip, c->hosts[i].name) < 0)
			return -1;
	return 0;
}

/*
 * The config's "host" lines (config.h): a copy of /etc/hosts with them
 * appended, on /dev, bind-mounted over /etc/hosts. The root's file is never
 * written, so a read-only root works and, in build mode, undo_hosts leaves
 * the image as it was. Failures are warnings: the service runs without them.
 */
static void setup_hosts(const struct conf *c, struct hosts_undo *u)
{
	char err[300], *old = NULL;
	size_t len = 0;
	struct stat st;
	int fd;

	memset(u, 0, sizeof(*u));
	if (!c->nhosts)
		return;
	if (stat(HOSTS_PATH, &st) < 0) {
		/* No file to mount over: an empty one, removed again after a build. */
		if (mkdir("/etc", 0755) == 0)
			u->made_etc = 1;
		fd = open(HOSTS_PATH, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (fd < 0) {
			warnf("%s: %s: the added hosts are left out", HOSTS_PATH, strerror(errno));
			return;
		}
		close(fd);
		u->created = 1;
	} else if (!(old = init_read_file(HOSTS_PATH, HOSTS_OLD_MAX, &len, err, sizeof(err)))) {
		warnf("%s: the added hosts are left out", err);
		return;
	}
	unlink(HOSTS_COPY);
	fd = open(HOSTS_COPY, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0 || hosts_write(fd, old, len, c) < 0)
		warnf("%s: %s: the added hosts are left out", HOSTS_COPY, strerror(errno));
	else if (mount(HOSTS_COPY, HOSTS_PATH, NULL, MS_BIND, NULL) < 0)
		warnf("bind %s: %s: the added hosts are left out", HOSTS_PATH, strerror(errno));
	else
		u->mounted = 1;
	if (fd >= 0)
		close(fd);
	unlink(HOSTS_COPY); /* the mount keeps it */
	free(old);
}

/* Build mode, after the steps: the root as it was before setup_hosts. */
static void undo_hosts(const struct hosts_undo *u)
{
	if (u->mounted && umount2(HOSTS_PATH, MNT_DETACH) < 0)
		warnf("unmount %s: %s", HOSTS_PATH, strerror(errno));
	if (u->created && unlink(HOSTS_PATH) < 0 && errno != ENOENT)
		warnf("remove %s: %s", HOSTS_PATH, strerror(errno));
	if (u->made_etc)
		rmdir("/etc"); /* only if the steps left it empty */
}

#ifdef HAVE_FW_CFG
#define FW_CFG_SELECTOR 0x510
#define FW_CFG_DATA 0x511
#define FW_CFG_SIGNATURE 0x0000
#define FW_CFG_FILE_DIR 0x0019

static uint32_t fw_cfg_be32(void)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++)
		v = v << 8 | inb(FW_CFG_DATA);
	return v;
}

/*
 * Reads fw_cfg file `name` through the I/O ports. Returns the malloc'd bytes
 * (*len of them), or NULL: with err[0] == 0 when there is no such file (no
 * ioperm in this kernel, no fw_cfg, no entry), else with a message.
 */
static char *fw_cfg_read(const char *name, size_t *len, char *err, size_t errlen)
{
	char sig[4], ent_name[57];
	uint32_t count, size = 0;
	uint16_t select = 0;
	int found = 0;
	char *buf = NULL;

	err[0] = '\0';
	if (ioperm(FW_CFG_SELECTOR, 2, 1) < 0)
		return NULL;
	outw(FW_CFG_SIGNATURE, FW_CFG_SELECTOR);
	for (int i = 0; i < 4; i++)
		sig[i] = (char)inb(FW_CFG_DATA);
	if (memcmp(sig, "QEMU", 4) != 0)
		goto out;
	outw(FW_CFG_FILE_DIR, FW_CFG_SELECTOR);
	count = fw_cfg_be32();
	if (count > 4096)
		goto out; /* not a directory QEMU would make */
	for (uint32_t i = 0; i < count; i++) {
		uint32_t esize = fw_cfg_be32();
		uint16_t esel = (uint16_t)(inb(FW_CFG_DATA) << 8);

		esel |= inb(FW_CFG_DATA);
		inb(FW_CFG_DATA); /* reserved */
		inb(FW_CFG_DATA);
		for (int k = 0; k < 56; k++)
			ent_name[k] = (char)inb(FW_CFG_DATA);
		ent_name[56] = '\0';
		if (!found && !strcmp(ent_name, name)) {
			found = 1;
			size = esize;
			select = esel;
		}
	}
	if (!found)
		goto out;
	if (size > CONF_FILE_MAX) {
		snprintf(err, errlen, "fw_cfg %s: larger than %d bytes", name, CONF_FILE_MAX);
		goto out;
	}
	buf = malloc(size ? size : 1);
	if (!buf) {
		snprintf(err, errlen, "fw_cfg %s: out of memory", name);
		goto out;
	}
	outw(select, FW_CFG_SELECTOR);
	for (uint32_t i = 0; i < size; i++)
		buf[i] = (char)inb(FW_CFG_DATA);
	*len = size;
out:
	ioperm(FW_CFG_SELECTOR, 2, 0);
	return buf;
}
#endif

/* Reads n bytes at off from fd; 0 or -1. */
static int pread_all(int fd, char *buf, size_t n, off_t off)
{
	while (n) {
		ssize_t r = pread(fd, buf, n, off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		buf += r;
		n -= (size_t)r;
		off += r;
	}
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* What the config disk held: its config (NULL: none) or the error that
 * stops the boot once markers can be signed, and where it was. */
static struct {
	char *buf;
	size_t len;
	char from[300];
	char err[600];
} disk_conf;

/* A key of all '0' digits is one crumb-init already took (config.h). */
static int key_digits(const char *hex, unsigned char key[MAC_KEY_LEN])
{
	return strspn(hex, "0") < CONF_DISK_KEY_HEX && mac_unhex(hex, MAC_KEY_LEN, key) == 0 ? 0
											     : -1;
}

/*
 * Looks for a config disk (config.h, "Where the file comes from") among the
 * virtio disks, in name order, into disk_conf; takes its marker key and
 * overwrites it on the disk. Fatal when the key cannot be wiped: a program
 * could read it there.
 */
static void disk_conf_read(void)
{
	char *names[64];
	size_t n = 0;
	DIR *d = opendir("/sys/block");
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d)) && n < sizeof(names) / sizeof(names[0]))
		if (!strncmp(de->d_name, "vd", 2) && (names[n] = strdup(de->d_name)))
			n++;
	closedir(d);
	qsort(names, n, sizeof(names[0]), name_cmp);
	for (size_t i = 0; i < n && !disk_conf.buf && !disk_conf.err[0]; i++) {
		char head[512], path[300];
		size_t off, clen, koff;
		int fd, ro = 0;

		snprintf(path, sizeof(path), "/dev/%s", names[i]);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0 && (ro = 1))
			fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (pread_all(fd, head, sizeof(head), 0) < 0 ||
		    conf_disk_header(head, sizeof(head), &off, &clen, &koff) < 0) {
			close(fd);
			continue;
		}
		snprintf(disk_conf.from, sizeof(disk_conf.from), "%s", path);
		if (koff && key_digits(head + koff, marker_key) == 0) {
			static const char zeros[CONF_DISK_KEY_HEX + 1] =
			    "0000000000000000000000000000000000000000000000000000000000000000";

			if (ro ||
			    pwrite(fd, zeros, CONF_DISK_KEY_HEX, (off_t)koff) !=
				CONF_DISK_KEY_HEX ||
			    fsync(fd) < 0) {
				memset(marker_key, 0, sizeof(marker_key));
				close(fd);
				fatal("%s: cannot wipe the marker key (%s)", path,
				      ro ? "read-only disk" : strerror(errno));
			}
			have_marker_key = 1;
		}
		memset(head, 0, sizeof(head));
		if (clen == 0) { /* a key-only disk */
			close(fd);
			continue;
		}
		disk_conf.buf = malloc(clen);
		if (!disk_conf.buf)
			snprintf(disk_conf.err, sizeof(disk_conf.err), "%s: out of memory", path);
		else if (pread_all(fd, disk_conf.buf, clen, (off_t)off) < 0) {
			snprintf(disk_conf.err, sizeof(disk_conf.err),
				 "%s: config disk shorter than its header says", path);
			free(disk_conf.buf);
			disk_conf.buf = NULL;
		} else {
			disk_conf.len = clen;
		}
		close(fd);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
}

/* The key file of an initramfs root: taken (when the disk had none) and destroyed. */
static void key_file_read(void)
{
	char hex[CONF_DISK_KEY_HEX + 2];
	struct statfs sf;
	int fd = open(CONF_KEY_PATH, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	ssize_t r;

	if (fd < 0)
		return;
	r = pread(fd, hex, sizeof(hex), 0);
	if (fstatfs(fd, &sf) < 0 || ((unsigned long)sf.f_type != TMPFS_MAGIC_ &&
				     (unsigned long)sf.f_type != RAMFS_MAGIC_)) {
		warnf("%s: not on an initramfs root: not used", CONF_KEY_PATH);
	} else if (!have_marker_key && r == CONF_DISK_KEY_HEX + 1 &&
		   hex[CONF_DISK_KEY_HEX] == '\n' && key_digits(hex, marker_key) == 0) {
		have_marker_key = 1;
	}
	memset(hex, 0, sizeof(hex));
	/* zeroed, then gone: the tmpfs pages go back to the kernel blank */
	if (pwrite(fd, hex, sizeof(hex), 0) < 0 || ftruncate(fd, 0) < 0)
		warnf("%s: %s", CONF_KEY_PATH, strerror(errno));
	close(fd);
	if (unlink(CONF_KEY_PATH) < 0)
		fatal("%s: cannot remove the marker key (%s)", CONF_KEY_PATH, strerror(errno));
}

/* The config from the first channel that has one; fatal when none does. *from names it. */
static char *read_config(size_t *len, char *from, size_t fromlen)
{
	char err[600];
	char *buf;

#ifdef HAVE_FW_CFG
	buf = fw_cfg_read(CONF_FW_CFG_NAME, len, err, sizeof(err));
	if (buf) {
		snprintf(from, fromlen, "fw_cfg %s", CONF_FW_CFG_NAME);
		free(disk_conf.buf);
		return buf;
	}
	if (err[0])
		fatal("%s", err);
#endif
	if (disk_conf.err[0])
		fatal("%s", disk_conf.err);
	if (disk_conf.buf) {
		*len = disk_conf.len;
		snprintf(from, fromlen, "%s", disk_conf.from);
		return disk_conf.buf;
	}
	snprintf(from, fromlen, "%s", CONF_PATH);
	buf = init_read_file(CONF_PATH, CONF_FILE_MAX, len, err, sizeof(err));
	if (!buf)
		fatal("no config: no fw_cfg %s, no config disk, %s", CONF_FW_CFG_NAME, err);
	return buf;
}

/* Takes the marker key (config.h, "The marker key") before the first marker,
 * and keeps it from every program crumb-init will start. Without one (a host
 * other than crumb, booting by hand) markers go unsigned, silently. */
static void marker_key_setup(void)
{
	disk_conf_read();
	key_file_read();
	for (size_t i = 0; i < sizeof(dropped_caps) / sizeof(dropped_caps[0]); i++)
		if (prctl(PR_CAPBSET_DROP, dropped_caps[i], 0, 0, 0) < 0 && errno != EINVAL)
			fatal("drop capability %d: %s", dropped_caps[i], strerror(errno));
}

static void conf_warn(void *ctx, const char *msg)
{
	warnf("%s: %s", (const char *)ctx, msg);
}

/* A program ready to start: argv, the final environment, its ids. */
struct prog {
	const struct conf_proc *p;
	char **envp; /* malloc'd array; the added strings are malloc'd too (never freed: PID 1) */
	struct user_ids ids;
	int set_ids;		       /* a user was given; else stay root with init's groups */
	int tty;		       /* service with tty 1 */
	int null_stdin;		       /* build steps */
	int mkdir_workdir;	       /* build steps: create workdir like Docker's WORKDIR */
	const struct seccomp_conf *sc; /* the service's filter or trace (seccomp.h); NULL none */
};

static int env_has(char **envp, const char *name)
{
	size_t n = strlen(name);

	for (; *envp; envp++)
		if (!strncmp(*envp, name, n) && (*envp)[n] == '=')
			return 1;
	return 0;
}

/* Resolves the user and builds the environment; fatal (an error marker) when the user is unknown.
 */
static void prog_prepare(struct prog *pr, const struct conf_proc *p, const char *term)
{
	char err[400];
	size_t n = 0;

	pr->p = p;
	if (p->user && user_resolve("", p->user, &pr->ids, err, sizeof(err)) < 0)
		fatal("%s", err);
	pr->set_ids = p->user != NULL;
	pr->envp = malloc((p->envc + 3) * sizeof(*pr->envp));
	if (!pr->envp)
		fatal("out of memory");
	for (size_t i = 0; i < p->envc; i++)
		pr->envp[n++] = p->envp[i];
	pr->envp[n] = NULL;
	if (p->user && !env_has(p->envp, "HOME")) {
		char *h = malloc(strlen(pr->ids.home) + 6);

		if (h) {
			sprintf(h, "HOME=%s", pr->ids.home);
			pr->envp[n++] = h;
		}
	}
	if (term && !env_has(p->envp, "TERM")) {
		char *t = malloc(strlen(term) + 6);

		if (t) {
			sprintf(t, "TERM=%s", term);
			pr->envp[n++] = t;
		}
	}
	pr->envp[n] = NULL;
}

/* The console's own device (the relay's pty, else ttyS0), for a service that wants a real
 * controlling tty. */
static int open_console_tty(void)
{
	char name[64] = "", path[80];
	int fd = vcon_tty[0] ? -1 : open("/sys/class/tty/console/active", O_RDONLY | O_CLOEXEC);

	if (vcon_tty[0])
		return open(vcon_tty, O_RDWR);

	if (fd >= 0) {
		ssize_t r = read(fd, name, sizeof(name) - 1);

		close(fd);
		if (r > 0) {
			char *last;

			name[r] = '\0';
			name[strcspn(name, "\n")] = '\0';
			/* several consoles: the last one is /dev/console */
			last = strrchr(name, ' ');
			if (last)
				memmove(name, last + 1, strlen(last));
		}
	}
	if (name[0]) {
		snprintf(path, sizeof(path), "/dev/%s", name);
		fd = open(path, O_RDWR);
		if (fd >= 0)
			return fd;
	}
	return open("/dev/console", O_RDWR);
}

/* The child: a fresh session, default signals, the program's ids, env and stdio. */
/*
 * execve, searching the program's own PATH (from envp, as Docker does for
 * CMD ["sh", ...]) when argv[0] has no slash. Returns only on failure, with
 * errno from the most telling attempt (EACCES over ENOENT, like execvp).
 */
static void exec_path(char *const argv[], char *const envp[])
{
	const char *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	int seen_eacces = 0;

	if (strchr(argv[0], '/')) {
		execve(argv[0], argv, envp);
		return;
	}
	for (char *const *e = envp; *e; e++)
		if (!strncmp(*e, "PATH=", 5))
			path = *e + 5;
	for (const char *p = path;; p++) {
		const char *end = strchr(p, ':');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		char buf[4096];

		if (n + strlen(argv[0]) + 2 <= sizeof(buf)) {
			memcpy(buf, n ? p : ".", n ? n : 1);
			snprintf(buf + (n ? n : 1), sizeof(buf) - (n ? n : 1), "/%s", argv[0]);
			execve(buf, argv, envp);
			if (errno == EACCES)
				seen_eacces = 1;
		}
		if (!end)
			break;
		p = end;
	}
	errno = seen_eacces ? EACCES : ENOENT;
}

/* sync_fd: the seccomp supervisor's pipe when pr->sc (seccomp.h), else -1. */
static void __attribute__((noreturn)) run_prog(const struct prog *pr, int sync_fd)
{
	const struct conf_proc *p = pr->p;
	struct sigaction sa;
	sigset_t none;
	int e;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &sa, NULL); /* fails harmlessly for KILL, STOP, libc-internal ones */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	setsid();
	if (pr->null_stdin) {
		int fd = open("/dev/null", O_RDONLY);

		if (fd >= 0 && fd != 0) {
			dup2(fd, 0);
			close(fd);
		}
	} else if (pr->tty) {
		int fd = open_console_tty();

		if (fd < 0 || ioctl(fd, TIOCSCTTY, 1) < 0)
			warnf("controlling terminal: %s", strerror(errno));
		if (fd >= 0) {
			for (int i = 0; i <= 2; i++)
				dup2(fd, i);
			if (fd > 2)
				close(fd);
		}
	} else {
		/* A controlling terminal gives the service job control and ^C; best-effort. */
		ioctl(0, TIOCSCTTY, 0);
	}
	if (pr->mkdir_workdir && mkdir_p(p->workdir, 0755) < 0)
		warnf("mkdir %s: %s", p->workdir, strerror(errno));
	if (chdir(p->workdir) < 0) {
		warnf("workdir %s: %s", p->workdir, strerror(errno));
		_exit(126);
	}
	if (pr->set_ids && (setgroups(pr->ids.ngroups, pr->ids.groups) < 0 ||
			    setgid(pr->ids.gid) < 0 || setuid(pr->ids.uid) < 0)) {
		warnf("user %s: %s", p->user, strerror(errno));
		_exit(126);
	}
	if (pr->sc) {
		char err[300];

		/* The last thing before execve: the filter sees only the service's calls. */
		if (seccomp_install(pr->sc, sync_fd, err, sizeof(err)) < 0) {
			warnf("%s", err);
			_exit(126);
		}
	}
	exec_path(p->argv, pr->envp);
	e = errno;
	warnf("exec %s: %s", p->argv[0], strerror(e));
	_exit(e == ENOENT || e == ENOTDIR ? 127 : 126);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The supervisor's state: one running program at a time. */
struct sup {
	const struct conf *c;
	int sfd;	   /* signalfd of the blocked signals */
	sigset_t set;	   /* those signals */
	pid_t pid;	   /* the running program; 0 none */
	int status;	   /* its status once it ended (exited set); -1 none yet */
	int exited;	   /* the program ended since the flag was cleared */
	int stopping;	   /* a stop was requested */
	long long kill_at; /* stopping: when SIGKILL follows stop_signal; 0 none */
	int ctl;	   /* the control port, -1 none */
	int ctl_connected; /* the last read did not see EOF: poll the port */
	long long ctl_retry_at;
	long long ctl_scan_until; /* the port may still appear until then */
	long long ctl_scan_at;
	char ctlbuf[128];
	size_t ctllen;
};

/* Starts the program; with a filter or trace (pr->sc) its seccomp supervisor too, a second
 * child outside the program's process group (stop signals miss it; it ends when the last
 * filtered process is gone). */
static void sup_start(struct sup *s, const struct prog *pr)
{
	int sync[2] = {-1, -1};
	pid_t pid;

	if (pr->sc && pipe2(sync, O_CLOEXEC) < 0)
		fatal("seccomp: pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		fatal("fork: %s", strerror(errno));
	if (pid == 0) {
		if (pr->sc)
			close(sync[0]);
		run_prog(pr, sync[1]);
	}
	s->pid = pid;
	s->exited = 0;
	if (!pr->sc)
		return;
	pid = fork();
	if (pid < 0)
		fatal("fork: %s", strerror(errno));
	if (pid == 0) {
		close(sync[1]);
		/* It reads what the service's programs wrote: nothing of ours to find there. */
		memset(marker_key, 0, sizeof(marker_key));
		seccomp_supervise(s->pid, sync[0], pr->sc);
	}
	close(sync[0]);
	close(sync[1]);
}

/* Sends sig to the program's process group, or to it alone when it left its group. */
static void sup_signal(struct sup *s, int sig)
{
	if (!s->pid)
		return;
	if (kill(-s->pid, sig) < 0)
		kill(s->pid, sig);
}

static void sup_request_stop(struct sup *s, const char *why)
{
	if (s->stopping)
		return;
	s->stopping = 1;
	marker("stopping", why);
	if (s->pid) {
		sup_signal(s, s->c->stop_signal);
		if (s->c->stop_signal != SIGCONT)
			sup_signal(s, SIGCONT); /* a stopped program would never see it */
		s->kill_at = now_ms() + s->c->stop_timeout * 1000;
	}
}

/* Finds the control port by name; 0 when found (s->ctl set). */
static int ctl_find(struct sup *s)
{
	char path[300];
	int fd = vport_open(CTL_PORT_NAME, O_RDWR | O_NONBLOCK | O_CLOEXEC, path, sizeof(path));

	if (fd < 0) {
		if (path[0])
			warnf("%s (%s): %s", path, CTL_PORT_NAME, strerror(errno));
		return -1;
	}
	/* SIGIO on host connect and on data: no need to poll an unconnected port. */
	fcntl(fd, F_SETOWN, getpid());
	fcntl(fd, F_SETFL, O_RDWR | O_NONBLOCK | O_ASYNC);
	s->ctl = fd;
	s->ctl_connected = 1;
	return 0;
}

static void ctl_setup(struct sup *s)
{
	s->ctl = -1;
	if (ctl_find(s) < 0 && vport_device_present()) {
		s->ctl_scan_until = now_ms() + CTL_SCAN_MS;
		s->ctl_scan_at = now_ms() + CTL_RESCAN_MS;
	}
}

static void ctl_line(struct sup *s, char *line)
{
	unsigned rows, cols;
	char extra;

	if (!strcmp(line, "stop")) {
		sup_request_stop(s, "ctl");
	} else if (sscanf(line, "winsize %u %u%c", &rows, &cols, &extra) == 2 && rows && cols &&
		   rows < 65536 && cols < 65536) {
		struct winsize ws = {.ws_row = (unsigned short)rows,
				     .ws_col = (unsigned short)cols};

		/* The kernel sends SIGWINCH to the console's foreground group. */
		if (ioctl(0, TIOCSWINSZ, &ws) < 0)
			warnf("winsize: %s", strerror(errno));
	} else if (line[0]) {
		warnf("%s: unknown request '%.40s' ignored", CTL_PORT_NAME, line);
	}
}

static void ctl_read(struct sup *s)
{
	for (;;) {
		ssize_t r;

		if (s->ctllen == sizeof(s->ctlbuf))
			s->ctllen = 0; /* an overlong line: drop it */
		r = read(s->ctl, s->ctlbuf + s->ctllen, sizeof(s->ctlbuf) - s->ctllen);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			s->ctl_connected = errno == EAGAIN;
			if (!s->ctl_connected)
				s->ctl_retry_at = now_ms() + CTL_RETRY_MS;
			return;
		}
		if (r == 0) {
			/* The host is not connected: the port polls readable and reads EOF. */
			s->ctl_connected = 0;
			s->ctl_retry_at = now_ms() + CTL_RETRY_MS;
			return;
		}
		s->ctl_connected = 1;
		s->ctllen += (size_t)r;
		for (char *nl; (nl = memchr(s->ctlbuf, '\n', s->ctllen));) {
			size_t used = (size_t)(nl - s->ctlbuf) + 1;

			*nl = '\0';
			if (nl > s->ctlbuf && nl[-1] == '\r')
				nl[-1] = '\0';
			ctl_line(s, s->ctlbuf);
			memmove(s->ctlbuf, s->ctlbuf + used, s->ctllen - used);
			s->ctllen -= used;
		}
	}
}

/* Reaps every exited child without blocking; records the program's status. */
static void sup_reap(struct sup *s)
{
	for (;;) {
		int st;
		pid_t p = waitpid(-1, &st, WNOHANG);

		if (p == 0)
			return;
		if (p < 0) {
			if (errno == EINTR)
				continue;
			return; /* ECHILD: nobody left */
		}
		if (s->pid && p == s->pid) {
			s->status = WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
			s->exited = 1;
			s->pid = 0;
			s->kill_at = 0;
		}
	}
}

static long long min_deadline(long long a, long long b)
{
	return !a ? b : !b ? a : a < b ? a : b;
}

/*
 * Waits up to the earliest of deadline (0: none) and the supervisor's own
 * timers, then handles what happened: signals, control requests, the stop
 * timeout.
 */
static void sup_wait(struct sup *s, long long deadline)
{
	struct pollfd fds[2] = {{s->sfd, POLLIN, 0}, {-1, POLLIN, 0}};
	long long now = now_ms(), timeout;
	int n;

	if (s->kill_at)
		deadline = min_deadline(deadline, s->kill_at);
	if (s->ctl >= 0 && !s->ctl_connected)
		deadline = min_deadline(deadline, s->ctl_retry_at);
	if (s->ctl < 0 && s->ctl_scan_until)
		deadline = min_deadline(deadline, s->ctl_scan_at);
	if (s->ctl >= 0 && s->ctl_connected)
		fds[1].fd = s->ctl;
	timeout = !deadline ? -1 : deadline > now ? deadline - now : 0;
	n = poll(fds, 2, timeout > INT_MAX ? INT_MAX : (int)timeout);
	if (n < 0 && errno != EINTR)
		fatal("poll: %s", strerror(errno));
	if (n > 0 && (fds[0].revents & POLLIN)) {
		struct signalfd_siginfo si;

		while (read(s->sfd, &si, sizeof(si)) == sizeof(si)) {
			int sig = (int)si.ssi_signo;

			if (sig == SIGCHLD)
				sup_reap(s);
			else if (sig == SIGTERM)
				sup_request_stop(s, "SIGTERM");
			else if (sig == SIGINT)
				sup_request_stop(s, "SIGINT");
			else if (sig == SIGIO && s->ctl >= 0)
				ctl_read(s);
			else if (sig == SIGHUP && s->pid)
				kill(s->pid, sig);
		}
	}
	if (n > 0 && fds[1].fd >= 0 && fds[1].revents)
		ctl_read(s);
	now = now_ms();
	if (s->ctl >= 0 && !s->ctl_connected && now >= s->ctl_retry_at)
		ctl_read(s);
	if (s->ctl < 0 && s->ctl_scan_until && now >= s->ctl_scan_at) {
		if (ctl_find(s) == 0 || now >= s->ctl_scan_until)
			s->ctl_scan_until = 0;
		else
			s->ctl_scan_at = now + CTL_RESCAN_MS;
		if (s->ctl >= 0)
			ctl_read(s); /* a request may be waiting */
	}
	if (s->kill_at && s->pid && now >= s->kill_at) {
		warnf("still running %lds after signal %d: SIGKILL", s->c->stop_timeout,
		      s->c->stop_signal);
		sup_signal(s, SIGKILL);
		s->kill_at = 0;
	}
}

/* Reaps until no child is left or ms pass. Returns 1 if children remain.
 * Waits for SIGCHLD alone: a stop request meanwhile stays pending for the signalfd. */
static int wait_children(long ms)
{
	long long end = now_ms() + ms;
	sigset_t chld;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);

	for (;;) {
		int st;
		pid_t p = waitpid(-1, &st, WNOHANG);
		long long left;
		struct timespec ts;

		if (p < 0 && errno == EINTR)
			continue;
		if (p < 0)
			return 0; /* ECHILD: nobody left */
		if (p > 0)
			continue;
		left = end - now_ms();
		if (left <= 0)
			return 1;
		ts.tv_sec = (time_t)(left / 1000);
		ts.tv_nsec = (long)(left % 1000) * 1000000;
		sigtimedwait(&chld, NULL, &ts);
	}
}

/* Every process left is a descendant of init, so "no children" means "nobody left". */
static void stop_everything(void)
{
	if (!wait_children(0))
		return;
	kill(-1, SIGTERM);
	kill(-1, SIGCONT); /* a stopped process would never see the SIGTERM */
	if (!wait_children(STOP_GRACE_MS))
		return;
	warnf("processes left after SIGTERM; sending SIGKILL");
	kill(-1, SIGKILL);
	if (wait_children(STOP_GRACE_MS))
		warnf("processes survived SIGKILL");
}

/* Marks in seen[] the ports of ports[] that have a LISTEN socket in path (/proc/net/tcp{,6}). */
static void scan_listening(const char *path, const unsigned *ports, size_t n, char *seen)
{
	char line[512];
	FILE *f = fopen(path, "re");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned port, st;

		/* "  0: 0100007F:0016 00000000:0000 0A ..." (tcp6: a longer address) */
		if (sscanf(line, " %*[0-9]: %*[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%*x %x", &port, &st) !=
			2 ||
		    st != 0x0A)
			continue;
		for (size_t i = 0; i < n; i++)
			if (ports[i] == port)
				seen[i] = 1;
	}
	fclose(f);
}

static int all_listening(const struct conf *c)
{
	char seen[c->nready ? c->nready : 1];

	memset(seen, 0, sizeof(seen));
	scan_listening("/proc/net/tcp", c->ready, c->nready, seen);
	scan_listening("/proc/net/tcp6", c->ready, c->nready, seen);
	for (size_t i = 0; i < c->nready; i++)
		if (!seen[i])
			return 0;
	return 1;
}

static void ready_marker(const struct conf *c)
{
	char field[MARKER_MAX] = "";
	size_t n = 0;

	for (size_t i = 0; i < c->nready && n + 8 < sizeof(field); i++)
		n += (size_t)snprintf(field + n, sizeof(field) - n, "%s%u", i ? " " : "",
				      c->ready[i]);
	marker("ready", field);
}

/* ---- warm start: the snapshot point (config.h "snapshot", markers.h "restore") ---- */

/* The kernel's RNG ioctls (linux/random.h, not in musl's headers). */
#define RNDADDENTROPY_ 0x40085203
#define RNDRESEEDCRNG_ 0x5207
#define WARM_SEED_LEN 64
/* How often the port is read while the host is away (SIGIO wakes us sooner). */
#define WARM_POLL_MS 5

/* Mixes the host's seed into the pool and makes the CRNG rekey from it: a
 * restored instance shares no random state with the snapshot's others. */
static void warm_reseed(const unsigned char *seed)
{
	struct {
		int entropy_count, buf_size;
		unsigned char buf[WARM_SEED_LEN];
	} info = {WARM_SEED_LEN * 8, WARM_SEED_LEN, {0}};
	int fd = open("/dev/urandom", O_WRONLY | O_CLOEXEC);

	memcpy(info.buf, seed, WARM_SEED_LEN);
	if (fd < 0 || ioctl(fd, RNDADDENTROPY_, &info) < 0 || ioctl(fd, RNDRESEEDCRNG_) < 0)
		fatal("reseeding the RNG after a restore: %s", strerror(errno));
	memset(&info, 0, sizeof(info));
	close(fd);
}

/* Finds the control port, waiting for it as ctl_setup would; fatal without. */
static void warm_ctl(struct sup *s)
{
	long long until = now_ms() + CTL_SCAN_MS;

	while (ctl_find(s) < 0) {
		if (now_ms() >= until)
			fatal("snapshot: no control port %s", CTL_PORT_NAME);
		usleep(CTL_RESCAN_MS * 1000);
	}
}

/* Reads the port into buf (cap bytes, and one more for the NUL kept after what
 * came, so sscanf never reads past it) until a whole restore request is there;
 * returns the config's length and where it starts. */
static size_t warm_read(struct sup *s, char *buf, size_t cap, char **conf)
{
	size_t len = 0;

	buf[0] = 0;
	for (;;) {
		char *nl = memchr(buf, '\n', len);
		unsigned long long clen;
		int hdr;

		if (nl &&
		    sscanf(buf, "restore %*64[0-9a-f] %*128[0-9a-f] %*u %*u %llu%n", &clen, &hdr) ==
			1 &&
		    buf + hdr == nl && clen <= CONF_FILE_MAX) {
			if (len - (size_t)(nl + 1 - buf) >= clen) {
				*conf = nl + 1;
				return (size_t)clen;
			}
		} else if (nl || len == cap) {
			fatal("snapshot: not a restore request on %s", CTL_PORT_NAME);
		}
		ssize_t r = read(s->ctl, buf + len, cap - len);
		if (r > 0) {
			len += (size_t)r;
			buf[len] = 0;
			continue;
		}
		if (r < 0 && errno != EAGAIN && errno != EINTR)
			fatal("snapshot: %s: %s", CTL_PORT_NAME, strerror(errno));
		/* EOF: the host is not connected (yet); wake on SIGIO or the timer */
		struct pollfd p = {s->sfd, POLLIN, 0};
		struct signalfd_siginfo si;

		if (poll(&p, 1, WARM_POLL_MS) > 0)
			while (read(s->sfd, &si, sizeof(si)) == sizeof(si))
				if (si.ssi_signo == SIGCHLD)
					sup_reap(s);
	}
}

/* Takes the restore request's key, seed and clock from its line. */
static void warm_apply(const char *line)
{
	char key[65], seed[129];
	unsigned char raw[WARM_SEED_LEN];
	unsigned long long sec, nsec;

	if (sscanf(line, "restore %64s %128s %llu %llu", key, seed, &sec, &nsec) != 4 ||
	    mac_unhex(key, MAC_KEY_LEN, marker_key) < 0 ||
	    mac_unhex(seed, WARM_SEED_LEN, raw) < 0 || nsec >= 1000000000ull)
		fatal("snapshot: malformed restore request");
	have_marker_key = 1;
	marker_seq = 0; /* a new key: its markers count from 1 */
	warm_reseed(raw);
	memset(raw, 0, sizeof(raw));
	memset(seed, 0, sizeof(seed));
	memset(key, 0, sizeof(key));
	struct timespec ts = {(time_t)sec, (long)nsec};
	if (clock_settime(CLOCK_REALTIME, &ts) < 0)
		warnf("set the clock: %s", strerror(errno));
}

/*
 * The snapshot point: what every instance shares is set up (filesystems,
 * /tmp and /run, lo, the control port); the snapshot marker tells the host to
 * save the VM here. Returns (in c) the instance's config from the restore
 * request, its key, seed and clock applied, the init marker said again.
 */
static void warm_point(struct sup *s, struct conf *c, char *from, size_t fromlen)
{
	char err[600], *buf, *conf;
	size_t cap = CONF_FILE_MAX + 512, clen;

	if (c->mode == CONF_MODE_BUILD)
		fatal("snapshot: not in build mode");
	mount_table(service_mounts, sizeof(service_mounts) / sizeof(service_mounts[0]));
	setup_loopback();
	warm_ctl(s);
	if (!(buf = malloc(cap + 1)))
		fatal("snapshot: out of memory");
	marker("snapshot", NULL);
	clen = warm_read(s, buf, cap, &conf);
	warm_apply(buf);
	memset(buf, 0, (size_t)(conf - buf)); /* the line held the key */
	marker("init", NULL);
	conf_release(c);
	snprintf(from, fromlen, "the restore request");
	if (conf_parse(c, conf, clen, conf_warn, from, err, sizeof(err)) < 0)
		fatal("%s: %s", from, err);
	if (c->snapshot || c->mode == CONF_MODE_BUILD)
		fatal("%s: a restored VM takes a service config without snapshot", from);
}

/* Service mode: runs the service under its restart policy until it is done or stopped. */
static int run_service(struct sup *s)
{
	const struct conf *c = s->c;
	struct prog pr;
	long long started, restart_at = 0;
	long backoff = BACKOFF_FIRST_MS;
	long restarts = 0;
	int ready_done = c->nready == 0;
	struct seccomp_conf sc = {c->seccomp, c->seccomp_len, c->seccomp_kill, c->trace};

	memset(&pr, 0, sizeof(pr));
	prog_prepare(&pr, &c->svc, c->term);
	pr.tty = c->tty;
	if (c->seccomp || c->trace)
		pr.sc = &sc;
	if (chdir(c->svc.workdir) < 0)
		fatal("workdir %s: %s", c->svc.workdir, strerror(errno));
	if (c->tty)
		console_cooked(c);
	marker("exec", NULL);
	sup_start(s, &pr);
	started = now_ms();
	for (;;) {
		long long deadline = restart_at;

		if (s->pid && !ready_done)
			deadline = min_deadline(deadline, now_ms() + READY_POLL_MS);
		sup_wait(s, deadline);
		if (s->exited) {
			int again = c->restart == CONF_RESTART_ALWAYS ||
				    (c->restart == CONF_RESTART_ON_FAILURE && s->status != 0 &&
				     (c->restart_max < 0 || restarts < c->restart_max));

			s->exited = 0;
			if (s->stopping || !again)
				break;
			if (now_ms() - started >= BACKOFF_RESET_MS)
				backoff = BACKOFF_FIRST_MS;
			restart_at = now_ms() + backoff;
			backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
		}
		if (s->stopping && !s->pid)
			break; /* stopped while waiting to restart */
		if (!s->pid && restart_at && now_ms() >= restart_at) {
			restarts++;
			markerf("restart", "%ld %d", restarts, s->status);
			/* What the last run left in its process group goes with it. */
			stop_everything();
			restart_at = 0;
			sup_start(s, &pr);
			started = now_ms();
		}
		if (s->pid && !ready_done && all_listening(c)) {
			ready_done = 1;
			ready_marker(c);
		}
	}
	return s->status;
}

/* Build mode: the steps in order, up to the first failure. */
static int run_build(struct sup *s)
{
	const struct conf *c = s->c;
	int status = 0;

	marker("exec", NULL);
	for (size_t i = 0; i < c->nsteps; i++) {
		const struct conf_proc *p = &c->steps[i];
		struct prog pr;

		if (s->stopping) {
			/* stopped between steps: the build did not finish */
			if (status == 0)
				status = 128 + c->stop_signal;
			break;
		}
		struct step_undo undo;
		char err[600], **env = NULL;

		memset(&pr, 0, sizeof(pr));
		memset(&undo, 0, sizeof(undo));
		prog_prepare(&pr, p, NULL);
		pr.null_stdin = 1;
		pr.mkdir_workdir = 1;
		/* RUN --mount: this step's mounts and secrets, undone before the next one */
		if (step_setup(p, pr.envp, &env, &undo, err, sizeof(err)) < 0)
			fatal("step %s: %s", p->label ? p->label : "", err);
		free(pr.envp);
		pr.envp = env;
		sup_start(s, &pr);
		while (s->pid)
			sup_wait(s, 0);
		s->exited = 0;
		status = s->status;
		stop_everything(); /* like Docker: nothing a RUN starts outlives it */
		step_undo(&undo, warnf);
		markerf("step", "%zu %d %s", i + 1, status, p->label ? p->label : "");
		free(pr.envp);
		if (status != 0)
			break;
	}
	return status;
}

static void put_escaped(const char *key, const char *s, int space)
{
	static const char hex[] = "0123456789abcdef";

	if (key) {
		fputs(key, stdout);
		putchar(' ');
	}
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '\\') {
			fputs("\\\\", stdout);
		} else if (ch == '\n') {
			fputs("\\n", stdout);
		} else if (ch < 0x20 || ch == 0x7f || (space && ch == ' ')) {
			printf("\\x%c%c", hex[ch >> 4], hex[ch & 15]);
		} else {
			putchar(ch);
		}
	}
	if (key)
		putchar('\n');
}

static void put_proc(const struct conf_proc *p)
{
	for (size_t i = 0; i < p->argc; i++)
		put_escaped("arg", p->argv[i], 0);
	for (size_t i = 0; i < p->envc; i++)
		put_escaped("env", p->envp[i], 0);
	put_escaped("workdir", p->workdir, 0);
	if (p->user)
		put_escaped("user", p->user, 0);
	for (size_t i = 0; i < p->nmounts; i++) {
		const char *f[5] = {p->mounts[i].type, p->mounts[i].source, p->mounts[i].subpath,
				    p->mounts[i].target, p->mounts[i].options};

		fputs("step_mount", stdout);
		for (int k = 0; k < 5; k++) {
			putchar(' ');
			put_escaped(NULL, f[k], 1);
		}
		putchar('\n');
	}
	for (size_t i = 0; i < p->nsecrets; i++) {
		const struct conf_secret *sc = &p->secrets[i];

		fputs("step_secret ", stdout);
		put_escaped(NULL, sc->source, 1);
		printf(" %lu %lu %lo %lu %lu ", sc->offset, sc->length, sc->mode, sc->uid, sc->gid);
		put_escaped(NULL, sc->dest, 1);
		putchar('\n');
	}
}

/* --check: the config as crumb-init understood it, every default spelled out. */
static void put_conf(const struct conf *c)
{
	static const char *const restart[] = {"no", "on-failure", "always"};

	puts(CONF_HEADER);
	puts(c->mode == CONF_MODE_BUILD ? "mode build" : "mode service");
	if (c->mode == CONF_MODE_SERVICE)
		put_proc(&c->svc);
	put_escaped("hostname", c->hostname, 0);
	if (c->mode == CONF_MODE_SERVICE) {
		if (c->restart == CONF_RESTART_ON_FAILURE && c->restart_max >= 0)
			printf("restart on-failure:%ld\n", c->restart_max);
		else
			printf("restart %s\n", restart[c->restart]);
	}
	for (size_t i = 0; i < c->nhosts; i++)
		printf("host %s %s\n", c->hosts[i].ip, c->hosts[i].name);
	printf("stop_signal %d\nstop_timeout %ld\n", c->stop_signal, c->stop_timeout);
	for (size_t i = 0; i < c->nready; i++)
		printf("ready %u\n", c->ready[i]);
	for (size_t i = 0; i < c->nmounts; i++) {
		const struct conf_mount *m = &c->mounts[i];

		fputs("mount", stdout);
		for (int k = 0; k < 4; k++) {
			putchar(' ');
			put_escaped(NULL,
				    k == 0   ? m->type
				    : k == 1 ? m->source
				    : k == 2 ? m->target
					     : m->options,
				    1);
		}
		putchar('\n');
	}
	if (c->mode == CONF_MODE_SERVICE) {
		printf("tty %d\n", c->tty);
		if (c->term)
			put_escaped("term", c->term, 0);
		if (c->rows)
			printf("rows %u\n", c->rows);
		if (c->cols)
			printf("cols %u\n", c->cols);
		if (c->snapshot)
			puts("snapshot 1");
		if (c->seccomp) {
			fputs("seccomp ", stdout);
			for (size_t i = 0; i < c->seccomp_len; i++)
				printf("%02x", c->seccomp[i]);
			printf("\nseccomp_action %s\n", c->seccomp_kill ? "kill" : "errno");
		}
		printf("trace %d\n", c->trace);
	}
	for (size_t i = 0; i < c->nsteps; i++) {
		put_escaped("step", c->steps[i].label, 0);
		put_proc(&c->steps[i]);
	}
}

/* Not PID 1: a tool for tests and humans, never an init. */
static int not_pid1(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		puts("crumb-init " CRUMB_VERSION " (config format: " CONF_HEADER ")");
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "--help") == 0) {
		puts("usage: crumb-init                 (as PID 1 only: runs its config, from "
		     "fw_cfg\n"
		     "                                  " CONF_FW_CFG_NAME
		     ", a config disk or " CONF_PATH ")\n"
		     "       crumb-init --check FILE    parses FILE, prints it normalized\n"
		     "       crumb-init --version | --help");
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "--check") == 0) {
		char err[600];
		struct conf c;
		size_t len = 0;
		char *buf = init_read_file(argv[2], CONF_FILE_MAX, &len, err, sizeof(err));

		if (!buf || conf_parse(&c, buf, len, conf_warn, argv[2], err, sizeof(err)) < 0) {
			if (buf)
				warnf("%s: %s", argv[2], err);
			else
				warnf("%s", err);
			free(buf);
			return 1;
		}
		put_conf(&c);
		conf_release(&c);
		free(buf);
		return fflush(stdout) ? 1 : 0;
	}
	warnf("must run as PID 1 (the guest's init); see --help");
	return 2;
}

int main(int argc, char **argv)
{
	char err[600], from[300];
	struct conf c;
	struct sup s;
	size_t len = 0;
	char *buf;
	int status, wrote_resolv, restored;
	struct hosts_undo hosts;

	if (getpid() != 1)
		return not_pid1(argc, argv);

	ensure_stdio();
	console_raw();
	/* Not dumpable: without CAP_SYS_PTRACE (dropped below for every program)
	 * nothing can read the marker key out of our memory (/proc/1/mem, ptrace). */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	/* Blocked from the start: a SIGTERM during setup is a stop request taken
	 * up once the service runs; SIGCHLD is read from the signalfd. */
	memset(&s, 0, sizeof(s));
	s.status = -1;
	s.ctl = -1;
	sigemptyset(&s.set);
	sigaddset(&s.set, SIGCHLD);
	sigaddset(&s.set, SIGTERM);
	sigaddset(&s.set, SIGINT);
	sigaddset(&s.set, SIGHUP);
	sigaddset(&s.set, SIGIO);
	sigprocmask(SIG_BLOCK, &s.set, NULL);
	s.sfd = signalfd(-1, &s.set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (s.sfd < 0)
		fatal("signalfd: %s", strerror(errno));
	setup_filesystems();
	ensure_stdio(); /* /dev/console exists now even if the initramfs lacked it */
	console_to_virtio();
	marker_key_setup();
	marker("init", NULL);
	/* Ctrl-Alt-Del (or QEMU's equivalent) becomes SIGINT to us: a stop request. */
	reboot(RB_DISABLE_CAD);

	buf = read_config(&len, from, sizeof(from));
	if (conf_parse(&c, buf, len, conf_warn, from, err, sizeof(err)) < 0)
		fatal("%s: %s", from, err);
	restored = c.snapshot;
	if (c.snapshot) /* warm start: the snapshot is taken in here */
		warm_point(&s, &c, from, sizeof(from));
	s.c = &c;
	if (c.mode == CONF_MODE_BUILD) {
		struct statvfs sv;

		/* The build's writes must land on the disk even if the host forgot "rw". */
		if (statvfs("/", &sv) == 0 && (sv.f_flag & ST_RDONLY) &&
		    mount(NULL, "/", NULL, MS_REMOUNT, NULL) < 0)
			fatal("remount / read-write: %s", strerror(errno));
	} else if (!restored) { /* after a restore they are mounted already */
		mount_table(service_mounts, sizeof(service_mounts) / sizeof(service_mounts[0]));
	}
	if (sethostname(c.hostname, strlen(c.hostname)) < 0)
		warnf("sethostname: %s", strerror(errno));
	setup_volumes(&c);
	setup_loopback();
	wrote_resolv = setup_net();
	setup_hosts(&c, &hosts);
	if (!restored) /* else open since the snapshot point */
		ctl_setup(&s);

	status = c.mode == CONF_MODE_BUILD ? run_build(&s) : run_service(&s);
	stop_everything();
	if (c.mode == CONF_MODE_BUILD)
		undo_hosts(&hosts);
	if (c.mode == CONF_MODE_BUILD && wrote_resolv) {
		/* Ours, for the build's network, not part of the image (as with Docker). */
		size_t rlen;
		char *r = init_read_file("/etc/resolv.conf", 4096, &rlen, err, sizeof(err));

		if (r && rlen == sizeof(resolv_conf) - 1 && !memcmp(r, resolv_conf, rlen))
			unlink("/etc/resolv.conf");
		free(r);
	}
	shutdown_filesystems();
	snprintf(err, sizeof(err), "%d", status & 255);
	marker("exit", err);
	power_off();
}

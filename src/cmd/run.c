/* run.c: `crumb run`: boot an image, a host program (--exec) or a root filesystem under QEMU
 * microvm. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "../lib/archive.h"
#include "../lib/console.h"
#include "../lib/ext4.h"
#include "../lib/initcfg.h"
#include "../lib/kernel.h"
#include "../lib/oci.h"
#include "../lib/runcfg.h"
#include "../lib/store.h"
#include "../lib/timeline.h"
#include "../lib/vmm.h"
#include "../lib/vmm_alt.h"
#include "../lib/vmstate.h"
#include "cmd.h"

const char usage_run[] =
    "usage: crumb run [OPTIONS] IMAGE [COMMAND [ARG...]]\n"
    "usage: crumb run --exec PATH [--add HOSTPATH[:GUESTPATH]]... [OPTIONS] [-- ARGS...]\n"
    "usage: crumb run --rootfs FILE [OPTIONS]\n"
    "\n"
    "Boots a microVM. IMAGE is an image of the store ('crumb build', 'crumb pull'):\n"
    "its kernel, its root filesystem (an initramfs, or an ext4 disk opened as a\n"
    "snapshot) and its config: COMMAND ARGS replace its Cmd (as 'docker run' does),\n"
    "--entrypoint replaces its Entrypoint and drops its Cmd; its Env, WorkingDir,\n"
    "User, StopSignal, ExposedPorts (the service is 'ready' once they listen) and\n"
    "crumb.* labels (memory, cpus, cmdline, publish, restart, kernel) apply unless\n"
    "a flag says otherwise.\n"
    "\n"
    "With --exec, the root filesystem (an initramfs) holds the host program PATH\n"
    "(an ELF executable or a #! script: its interpreter comes along), the shared\n"
    "libraries it needs, the --add files or directories and crumb-init, which runs\n"
    "PATH ARGS... as the only service. With --rootfs, boots a root filesystem made\n"
    "by 'crumb pack' or 'crumb mkfs' (cpio: initramfs; ext2/3/4: root disk, snapshot).\n"
    "\n"
    "The program's output is streamed; crumb exits with its exit status. A line on\n"
    "stderr gives the boot times measured on the host. Every run has a name and a\n"
    "state directory while it runs ('crumb ps', 'crumb stop', 'crumb logs'); a run\n"
    "with --name or -d keeps it after the VM ends, until 'crumb rm' (or --rm).\n"
    "Ctrl-C (SIGINT, SIGTERM) asks the guest to stop the service; twice kills the VM.\n"
    "\n"
    "Options:\n"
    "  --rootfs FILE       boot this cpio (any compression) or ext4 image\n"
    "  --exec PATH         the program to run (host path, kept at the same path)\n"
    "  --add H[:G]         also copy host file or directory H (to guest path G)\n"
    "  -d, --detach        run in the background: print the name once the service has\n"
    "                      started (or the one-line reason it did not) and return\n"
    "  --name NAME         the VM's name ([a-zA-Z0-9][a-zA-Z0-9_.-]*; default: made up)\n"
    "  --rm                remove the VM's state when it ends\n"
    "  -i, --interactive   forward stdin to the guest's console (EOF becomes ^D)\n"
    "  -t, --tty           the service gets a terminal (rows, cols, TERM from the host);\n"
    "                      with -i and a terminal on stdin, it is put in raw mode, so\n"
    "                      Ctrl-C and friends go to the guest\n"
    "  -e, --env K=V       set an environment variable for the program\n"
    "  --env-file FILE     NAME=VALUE lines ('#' comments, blank lines) for -e\n"
    "  --entrypoint PROG   replace the image's Entrypoint (and drop its Cmd)\n"
    "  -u, --user U[:G]    run the service as this user (name or id) in the guest\n"
    "  -w, --workdir DIR   the service's working directory\n"
    "  --hostname NAME     the guest's hostname (default crumb)\n"
    "  --restart no|on-failure[:N]|always  restart the service when it ends\n"
    "  --stop-signal SIG   what 'crumb stop' sends the service (default the image's,\n"
    "                      else TERM)\n"
    "  --stop-timeout SECS how long the service gets to stop before SIGKILL (default 10)\n"
    "  -v, --volume SRC:/PATH[:ro]\n"
    "                      NAME: a persistent ext4 volume $CRUMB_HOME/volumes/NAME.ext4\n"
    "                      (1 GiB sparse, made on first use); FILE.ext4 (or a path with\n"
    "                      a '/'): that ext2/3/4 image; a host directory: shared over\n"
    "                      9p (slow under TCG: see README)\n"
    "  -m, --memory SIZE   guest memory, e.g. 256M or 1G (default: what the root\n"
    "                      filesystem needs plus headroom; too small is refused)\n"
    "  -c, --cpus N        virtual CPUs (default 1)\n"
    "  -p, --publish [HOSTIP:]HOSTPORT:GUESTPORT[/udp]\n"
    "                      forward a host port (on 127.0.0.1 unless HOSTIP is given)\n"
    "                      to the guest; a port already in use is refused\n"
    "  --net user|none     the guest's eth0 on user networking (default: user;\n"
    "                      10.0.2.15/24, gateway 10.0.2.2, DNS 10.0.2.3, through\n"
    "                      passt: never the host's 127.0.0.1; with -p the ports come\n"
    "                      in on eth1, QEMU's slirp reaching nothing) or no card\n"
    "  --kernel FILE|ID    boot this PVH vmlinux (or stored kernel) instead of the\n"
    "                      image's or the crumb kernel\n"
    "  --cmdline ARGS      extra kernel command line\n"
    "  --accel auto|kvm|tcg  accelerator (default auto: KVM only if it really boots)\n"
    "  --vmm qemu|firecracker|cloud-hypervisor\n"
    "                      the VMM (default qemu; $CRUMB_FIRECRACKER,\n"
    "                      $CRUMB_CLOUD_HYPERVISOR or PATH). The others need KVM and run\n"
    "                      in the foreground with no network: -p, --net user, -d, --name,\n"
    "                      -v HOSTDIR and --accel tcg are refused; their root disk is\n"
    "                      read-only; cloud-hypervisor needs a virtio-pci kernel for disks\n"
    "  --timeout SECS      kill the VM after SECS seconds (exit status 124)\n"
    "  --compress none|gzip|zstd  initramfs compression (default none: faster boot)\n"
    "  --verbose           show the kernel's messages too\n"
    "  -q, --quiet         no boot-time line\n"
    "  --timing            instead of the boot-time line, a table of the boot's phases\n"
    "                      (QEMU start, kernel entry, init, exec, ready, exit, QEMU gone)\n"
    "                      on the host's clock, with the kernel's largest printk gaps;\n"
    "                      the kernel then logs to the console (captured; --verbose shows it),\n"
    "                      which itself slows a TCG boot by a few tens of ms\n"
    "  --timeline FILE.svg draw the same as an SVG (bars on a time axis in ms)\n"
    "  --foreign-init      the root filesystem's PID 1 is not crumb-init (bench/boot.sh's\n"
    "                      baseline): believe its unsigned markers. Anything in such a\n"
    "                      guest can then fake its exit status: never for an image you\n"
    "                      did not make\n"
    "\n"
    "Exit status: the program's; 123 if the guest kernel panicked; 124 if --timeout\n"
    "expired; 125 if crumb or the VM failed; 126/127 if the program could not be\n"
    "executed/found in the VM; 128+N if it was killed by signal N. With -d: 0 once\n"
    "the service started, 125 if it did not.\n";

/*
 * Guest memory a root filesystem needs. The initramfs is unpacked into a
 * tmpfs, which Linux caps at half of the memory it sees, while the archive
 * itself still occupies memory: so need = 2 x files (+6% metadata) + archive +
 * the kernel's own. Measured with the crumb kernel under TCG (bisection on
 * -m): /bin/true (2.2 MB archive) boots in 32M, not 24M; python3 + its
 * stdlib (60 MB of files) in 208M uncompressed (not 192M) and in 176M from a
 * 19 MB gzip archive (not 160M). A kernel share of 24 MiB puts all six on the
 * right side; the sshd example (6.2 MB of files, 3.2 MB zstd archive) needs
 * 43M and 24 MiB would allow 40M, so 28 MiB. An ext4 root stays on its disk:
 * only the kernel's share.
 */
#define KERNEL_MB 28u
#define HEADROOM_MB 64u
/* A named volume made on demand: sparse, so it costs what is written. */
#define VOLUME_SIZE (1ull << 30)
#define MAX_VOLUMES 16

static unsigned need_mb(unsigned long long archive, unsigned long long content)
{
	unsigned long long bytes = archive + content * 2 + content * 6 / 100;
	return KERNEL_MB + (unsigned)((bytes + (1 << 20) - 1) >> 20);
}

static void to_stdout(void *ctx, const char *buf, size_t n)
{
	(void)ctx;
	fwrite(buf, 1, n, stdout);
	fflush(stdout);
}

/*
 * Signals. Before QEMU runs, an interrupted run removes its files and dies
 * of the signal. While it runs, the first SIGINT/SIGTERM/SIGHUP asks the
 * guest to stop the service (the control channel), a second kills QEMU; the
 * run then ends the normal way (state recorded, files removed).
 */
static char sig_dir[4096]; /* the state or temporary directory to remove */
static char sig_ctl[sizeof(((struct sockaddr_un *)0)->sun_path)]; /* the control socket */
static volatile sig_atomic_t sig_qemu_pid, sig_count;
static struct termios saved_tty;
static volatile sig_atomic_t tty_saved;

static void ignore(ssize_t r)
{
	(void)r;
}

static void restore_tty(void)
{
	if (tty_saved) {
		tcsetattr(0, TCSADRAIN, &saved_tty);
		tty_saved = 0;
	}
}

static void remove_dir_files(const char *dir)
{
	static const char *files[] = {"lock",	     "state",	 "exit",      "console.log",
				      "ctl.sock",    "qmp.sock", "init.conf", "init.disk",
				      "rootfs.cpio", NULL};
	char p[4200];
	for (int i = 0; files[i]; i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
		unlink(p);
	}
	rmdir(dir);
}

static void on_signal(int sig)
{
	if (!sig_qemu_pid) {
		restore_tty();
		if (sig_dir[0])
			remove_dir_files(sig_dir);
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	if (sig_count++ == 0 && sig_ctl[0]) {
		static const char msg[] = "\r\ncrumb: stopping the VM (again to kill it)\r\n";
		struct sockaddr_un sun;
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		memcpy(sun.sun_path, sig_ctl, sizeof(sun.sun_path));
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0 &&
		    send(fd, "stop\n", 5, MSG_NOSIGNAL) == 5) {
			close(fd);
			ignore(write(2, msg, sizeof(msg) - 1));
			return;
		}
		if (fd >= 0)
			close(fd);
	}
	kill((pid_t)sig_qemu_pid, SIGKILL);
}

static void catch_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* Adds the NAME=VALUE lines of path to env ('#' comments and blank lines
 * skipped); a bad line is a usage error naming path:line. */
static int read_env_file(const char *path, struct strlist *env)
{
	struct sbuf sb = SBUF_INIT;
	struct err e = {0};
	if (read_file(path, 1 << 20, &sb, &e) < 0) {
		sb_release(&sb);
		return cmd_usage_error("run", "--env-file: %s", e.msg);
	}
	int r = 0, line = 0;
	for (char *p = sb.buf, *nl; !r && p < sb.buf + sb.len; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(sb.buf + sb.len - p));
		if (!nl)
			nl = sb.buf + sb.len;
		*nl = 0;
		line++;
		if (nl > p && nl[-1] == '\r')
			nl[-1] = 0;
		const char *l = p + strspn(p, " \t");
		if (!*l || *l == '#')
			continue;
		if (!strchr(l, '=') || *l == '=')
			r = cmd_usage_error("run", "%s:%d: want NAME=VALUE", path, line);
		else
			strlist_push(env, l);
	}
	sb_release(&sb);
	return r;
}

/* 1 if path is an ext2/3/4 image (superblock magic 0xEF53 at byte 1080), 0 if
 * not, negative if unreadable. */
static int is_ext_image(const char *path, struct err *e)
{
	unsigned char magic[2];
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return err_errno(e, CRUMB_ENOENT, "root filesystem %s", path);
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return err_set(e, CRUMB_EINVAL, "root filesystem %s: not a regular file", path);
	}
	ssize_t n = pread(fd, magic, 2, 1080);
	close(fd);
	return n == 2 && magic[0] == 0x53 && magic[1] == 0xef;
}

static char *make_tmpdir(void)
{
	const char *base = cmd_env()->xdg_runtime_dir;
	struct stat st;
	if (!base || !*base || stat(base, &st) < 0 || access(base, W_OK) < 0)
		base = cmd_env()->tmpdir;
	if (!base || !*base)
		base = "/tmp";
	char *t = xasprintf("%s/crumb-run-XXXXXX", base);
	if (!mkdtemp(t)) {
		free(t);
		return NULL;
	}
	return t;
}

static void print_timing(const struct vm_result *r)
{
	double end = r->t_end;
	fprintf(stderr, "crumb: %s boot: qemu→init %.3fs", accel_name(r->accel),
		r->t_init - r->t_spawn);
	if (r->t_exec)
		fprintf(stderr, ", init→exec %.3fs", r->t_exec - r->t_init);
	if (r->t_ready && r->t_exec)
		fprintf(stderr, ", exec→ready %.3fs", r->t_ready - r->t_exec);
	if (r->t_exit && r->t_exec)
		fprintf(stderr, ", exec→exit %.3fs", r->t_exit - r->t_exec);
	if (r->t_exit)
		fprintf(stderr, ", exit→qemu gone %.3fs", end - r->t_exit);
	fprintf(stderr, "; total %.3fs (guest clock at init %.3fs)\n", end - r->t_spawn, r->g_init);
}

/* --timing and --timeline: the table on stderr, the SVG to a file. A failure
 * here is reported but does not change the run's exit status. */
static void report_timeline(const struct vm_result *res, const struct vm_klog *klog, int table,
			    const char *svg_path)
{
	struct timeline tl;
	struct err e = {0};
	struct sbuf sb = SBUF_INIT;
	if (timeline_build(res, klog, &tl, &e) < 0) {
		cmd_error("--timing: %s", e.msg);
		return;
	}
	if (table) {
		timeline_table(&tl, &sb);
		fprintf(stderr, "crumb: %s", sb.buf);
	}
	if (svg_path) {
		sb_reset(&sb);
		timeline_svg(&tl, &sb);
		if (write_file_atomic(svg_path, sb.buf, sb.len, 0644, &e) < 0)
			cmd_error("--timeline: %s", e.msg);
	}
	sb_release(&sb);
	timeline_release(&tl);
}

/* Everything the command line said. */
struct run_args {
	struct exec_opts o; /* --exec, --add, -e, --compress; o.args: the command's arguments */
	struct vm_config vc;
	const char *rootfs, *image, *name, *entrypoint, *user, *workdir, *hostname;
	const char *restart, *stop_signal, *kernel, *timeline_svg_path;
	int stop_timeout; /* -1: not given */
	struct vm_port ports[64];
	size_t nports;
	unsigned mem, cpus;
	int quiet, timing, detach, autoremove, interactive, tty, have_cmdline;
	struct strlist volumes; /* -v values */
	int net_given;		/* --net was on the command line */
};

/* Parses argv into a; returns 0, EXEC_OPTS_HELP, or an exit status after a message. */
static int parse_args(struct run_args *a, int argc, char **argv)
{
	int i, r, bad = 0;
	const char *v;
	struct err e = {0};
	for (i = 1; i < argc; i++) {
		if ((r = exec_opts_take(&a->o, "run", argc, argv, &i)) == 1)
			continue;
		if (r)
			return r;
		const char *s = argv[i];
		/* Bundled short flags, as in docker run -dit. */
		if (s[0] == '-' && s[1] && s[1] != '-' && strspn(s + 1, "dit") == strlen(s + 1)) {
			a->detach |= strchr(s, 'd') != NULL;
			a->interactive |= strchr(s, 'i') != NULL;
			a->tty |= strchr(s, 't') != NULL;
			continue;
		}
		if ((v = opt_pair("-m", "--memory", argc, argv, &i, &bad))) {
			if (runcfg_parse_mem(v, &a->mem) < 0)
				return cmd_usage_error("run",
						       "bad memory size '%s' (e.g. 256M, 1G)", v);
		} else if ((v = opt_pair("-c", "--cpus", argc, argv, &i, &bad))) {
			char *end;
			long n = strtol(v, &end, 10);
			if (*end || n < 1 || n > 16)
				return cmd_usage_error("run", "bad CPU count '%s' (1 to 16)", v);
			a->cpus = (unsigned)n;
		} else if ((v = opt_pair("-p", "--publish", argc, argv, &i, &bad))) {
			if (a->nports == sizeof(a->ports) / sizeof(a->ports[0]))
				return cmd_usage_error("run", "too many -p");
			if (vm_port_parse(v, &a->ports[a->nports++], &e) < 0)
				return cmd_usage_error("run", "%s", e.msg);
		} else if ((v = opt_pair("-v", "--volume", argc, argv, &i, &bad))) {
			struct run_volume rv;
			if (runcfg_volume_parse(v, &rv, &e) < 0)
				return cmd_usage_error("run", "%s", e.msg);
			run_volume_release(&rv);
			if (a->volumes.n == MAX_VOLUMES)
				return cmd_usage_error("run", "at most %d volumes", MAX_VOLUMES);
			strlist_push(&a->volumes, v);
		} else if ((v = opt_pair(NULL, "--timeout", argc, argv, &i, &bad))) {
			char *end;
			double t = strtod(v, &end);
			if (*end || end == v || !(t > 0) || t > 1e7)
				return cmd_usage_error("run", "--timeout %s: want seconds > 0", v);
			a->vc.timeout = t;
		} else if ((v = opt_pair(NULL, "--env-file", argc, argv, &i, &bad))) {
			if ((r = read_env_file(v, &a->o.env)))
				return r;
		} else if ((v = opt_pair(NULL, "--net", argc, argv, &i, &bad))) {
			if (strcmp(v, "user") && strcmp(v, "none"))
				return cmd_usage_error("run", "--net %s: want user or none", v);
			a->vc.net = !strcmp(v, "user");
			a->net_given = 1;
		} else if ((v = opt_pair(NULL, "--vmm", argc, argv, &i, &bad))) {
			if (vm_vmm_parse(v, &a->vc.vmm, &e) < 0)
				return cmd_usage_error("run", "--vmm: %s", e.msg);
		} else if ((v = opt_pair(NULL, "--rootfs", argc, argv, &i, &bad))) {
			a->rootfs = v;
		} else if ((v = opt_pair(NULL, "--kernel", argc, argv, &i, &bad))) {
			a->kernel = v;
		} else if ((v = opt_pair(NULL, "--cmdline", argc, argv, &i, &bad))) {
			a->vc.cmdline = v;
			a->have_cmdline = 1;
		} else if ((v = opt_pair(NULL, "--accel", argc, argv, &i, &bad))) {
			if (accel_parse(v, &a->vc.accel, &e) < 0)
				return cmd_usage_error("run", "%s", e.msg);
		} else if ((v = opt_pair(NULL, "--name", argc, argv, &i, &bad))) {
			if (vmstate_name_check(v, &e) < 0)
				return cmd_usage_error("run", "--name: %s", e.msg);
			a->name = v;
		} else if ((v = opt_pair(NULL, "--entrypoint", argc, argv, &i, &bad))) {
			a->entrypoint = v;
		} else if ((v = opt_pair("-u", "--user", argc, argv, &i, &bad))) {
			a->user = v;
		} else if ((v = opt_pair("-w", "--workdir", argc, argv, &i, &bad))) {
			if (v[0] != '/')
				return cmd_usage_error("run", "--workdir %s: want an absolute path",
						       v);
			a->workdir = v;
		} else if ((v = opt_pair(NULL, "--hostname", argc, argv, &i, &bad))) {
			if (!*v || strlen(v) > 64)
				return cmd_usage_error("run", "--hostname: want 1 to 64 bytes");
			a->hostname = v;
		} else if ((v = opt_pair(NULL, "--restart", argc, argv, &i, &bad))) {
			a->restart = v;
		} else if ((v = opt_pair(NULL, "--stop-signal", argc, argv, &i, &bad))) {
			if (runcfg_signal(v) < 0)
				return cmd_usage_error("run", "--stop-signal %s: unknown signal",
						       v);
			a->stop_signal = v;
		} else if ((v = opt_pair(NULL, "--stop-timeout", argc, argv, &i, &bad))) {
			char *end;
			long t = strtol(v, &end, 10);
			if (*end || end == v || t < 0 || t > 86400)
				return cmd_usage_error("run", "--stop-timeout %s: want 0 to 86400",
						       v);
			a->stop_timeout = (int)t;
		} else if ((v = opt_pair(NULL, "--timeline", argc, argv, &i, &bad))) {
			a->timeline_svg_path = v;
		} else if (bad) {
			return cmd_usage_error("run", "%s needs a value", argv[i]);
		} else if (!strcmp(s, "--detach")) {
			a->detach = 1;
		} else if (!strcmp(s, "--interactive")) {
			a->interactive = 1;
		} else if (!strcmp(s, "--tty")) {
			a->tty = 1;
		} else if (!strcmp(s, "--rm")) {
			a->autoremove = 1;
		} else if (!strcmp(s, "--verbose")) {
			a->vc.verbose = 1;
		} else if (!strcmp(s, "-q") || !strcmp(s, "--quiet")) {
			a->quiet = 1;
		} else if (!strcmp(s, "--timing")) {
			a->timing = 1;
		} else if (!strcmp(s, "--foreign-init")) {
			a->vc.foreign_init = 1;
		} else if (s[0] == '-') {
			return cmd_usage_error("run", "unknown option '%s'", s);
		} else if (a->o.program || a->rootfs) {
			return cmd_usage_error("run",
					       "unexpected '%s' (the program's arguments go "
					       "after --)",
					       s);
		} else {
			/* IMAGE: everything after it is the command, verbatim. */
			a->image = s;
			for (i++; i < argc; i++)
				strlist_push(&a->o.args, argv[i]);
		}
	}
	if (!!a->o.program + !!a->rootfs + !!a->image != 1)
		return cmd_usage_error("run", "give one of IMAGE, --exec PATH or --rootfs FILE");
	if (a->rootfs && (a->o.adds.n || a->o.args.n || a->o.env.n || a->user || a->workdir ||
			  a->entrypoint || a->volumes.n || a->tty || a->restart || a->hostname))
		return cmd_usage_error("run",
				       "--rootfs boots the file's own config: -e, -u, -w, -v, "
				       "-t, --restart, --hostname and ARGS need IMAGE or --exec");
	if (a->o.program && a->entrypoint)
		return cmd_usage_error("run", "--entrypoint goes with IMAGE, not --exec");
	if (a->image && (a->o.adds.n))
		return cmd_usage_error("run", "--add goes with --exec");
	if (a->vc.vmm != VMM_QEMU) {
		/* What only QEMU does here (README, "Other VMMs"); no network by default. */
		const char *vn = vm_vmm_name(a->vc.vmm), *flag = a->detach ? "-d" : "--name";
		if (a->nports)
			return cmd_usage_error("run",
					       "-p: --vmm %s has no user networking (its network "
					       "needs a tap device, made by root); -p needs QEMU",
					       vn);
		if (a->net_given && a->vc.net)
			return cmd_usage_error("run",
					       "--net user: --vmm %s has no user networking (its "
					       "network needs a tap device, made by root); use --net none",
					       vn);
		if (a->detach || a->name)
			return cmd_usage_error("run",
					       "%s: --vmm %s runs in the foreground only ('crumb stop', "
					       "'ps' and 'logs' need QEMU's control channel and QMP)",
					       flag, vn);
		if (a->vc.accel == ACCEL_TCG)
			return cmd_usage_error("run", "--accel tcg: --vmm %s runs on KVM only", vn);
		a->vc.net = 0;
	}
	if (a->nports && !a->vc.net)
		return cmd_usage_error("run", "-p needs a network (--net user)");
	if (a->detach && a->interactive)
		return cmd_usage_error("run",
				       "-d and -i do not go together (nothing to read from)");
	if (a->detach && (a->timing || a->timeline_svg_path))
		return cmd_usage_error("run", "--timing and --timeline need a foreground run");
	if (a->restart) {
		int ok = !strcmp(a->restart, "no") || !strcmp(a->restart, "always") ||
			 !strcmp(a->restart, "on-failure") ||
			 !strncmp(a->restart, "on-failure:", 11);
		if (!ok)
			return cmd_usage_error(
			    "run", "--restart %s: want no, on-failure[:N] or always", a->restart);
	}
	return 0;
}

/* "no", "always", "on-failure[:N]" into c (already checked, or from a label). */
static int set_restart(struct initcfg *c, const char *s, struct err *e)
{
	if (!strcmp(s, "no"))
		c->restart = INITCFG_RESTART_NO;
	else if (!strcmp(s, "always"))
		c->restart = INITCFG_RESTART_ALWAYS;
	else if (!strncmp(s, "on-failure", 10) && (!s[10] || s[10] == ':')) {
		c->restart = INITCFG_RESTART_ON_FAILURE;
		if (s[10]) {
			char *end;
			long n = strtol(s + 11, &end, 10);
			if (*end || end == s + 11 || n < 0 || n > 1000000)
				return err_set(e, CRUMB_EINVAL, "restart policy '%s': bad count",
					       s);
			c->restart_max = (unsigned)n;
		}
	} else
		return err_set(e, CRUMB_EINVAL,
			       "restart policy '%s': want no, on-failure[:N] or always", s);
	return 0;
}

/* A kernel given by path or by the ID of a stored kernel. */
static char *kernel_path(const char *store, const char *k)
{
	struct stat st;
	if (strchr(k, '/') || stat(k, &st) == 0)
		return xstrdup(k);
	return xasprintf("%s/kernels/%s/vmlinux", store, k);
}

/* Makes $CRUMB_HOME/volumes/NAME.ext4 (empty ext4, sparse) unless it exists. */
static int named_volume(const char *store, const char *name, char **out, struct err *e)
{
	char *dir = xasprintf("%s/volumes", store);
	char *path = xasprintf("%s/%s.ext4", dir, name);
	char *lockp = xasprintf("%s/.lock", dir);
	struct stat st;
	int r = mkdir_p(dir, 0700, e), lock = -1;
	if (r == 0 && (lock = store_lock(lockp, e)) < 0)
		r = lock;
	struct sde sd = {0};
	if (r == 0 && stat(path, &st) < 0 && (r = cmd_sde(&sd, e)) == 0) {
		struct tree t;
		tree_init(&t);
		struct ext4_opts o = {.size = VOLUME_SIZE, .epoch = sd.epoch, .clamp = sd.set};
		char label[17];
		snprintf(label, sizeof(label), "%s", name);
		o.label = label;
		r = ext4_write(&t, path, &o, e);
		tree_release(&t);
	}
	if (lock >= 0)
		close(lock);
	free(dir);
	free(lockp);
	if (r < 0) {
		free(path);
		return r;
	}
	*out = path;
	return 0;
}

/* What one run needs besides its arguments, and what it has to clean up. */
struct run_ctx {
	struct run_args *a;
	char *store, *qemu, *tmp, *initrd, *conf_path, *disk_path, *dir, *log_path;
	char *kernel_owned, *root_owned;
	char name[VMSTATE_NAME_MAX + 1];
	int lock_fd, store_lock_fd, log_fd, notify_fd;
	struct vmstate st;
	struct kernel_info ki;
	struct oci_store *oci;
	struct oci_image im;
	int have_im;
	struct vm_volume vols[MAX_VOLUMES];
	struct vm_share shares[MAX_VOLUMES];
	char *vol_paths[MAX_VOLUMES], *share_tags[MAX_VOLUMES];
	size_t nvols, nshares;
	struct initcfg cfg;
	int need_conf; /* pass cfg to the guest (fw_cfg + config disk) */
	unsigned char key[CONSOLE_KEY_LEN]; /* this boot's marker key (console.h) */
	struct vm_klog klog;
	int started; /* the exec marker was seen */
};

static void ports_text(const struct run_args *a, struct sbuf *sb)
{
	for (size_t i = 0; i < a->nports; i++)
		sb_addf(sb, "%s%s:%u->%u/%s", i ? ", " : "", a->ports[i].host_ip,
			a->ports[i].host_port, a->ports[i].guest_port,
			a->ports[i].udp ? "udp" : "tcp");
}

static void on_event(void *ctx, const char *name, const struct vm_result *r)
{
	struct run_ctx *c = ctx;
	if (!strcmp(name, "spawn")) {
		sig_qemu_pid = r->qemu_pid;
		c->st.qemu_pid = r->qemu_pid;
		if (c->dir)
			vmstate_save(c->dir, &c->st, NULL);
	} else if (!strcmp(name, "init")) {
		/* QEMU has read the kernel and the initramfs: the store may change now. */
		if (c->store_lock_fd >= 0) {
			close(c->store_lock_fd);
			c->store_lock_fd = -1;
		}
		c->st.started = (int64_t)time(NULL);
		if (c->dir)
			vmstate_save(c->dir, &c->st, NULL);
	} else if (!strcmp(name, "exec")) {
		c->started = 1;
		if (c->notify_fd >= 0) {
			ignore(write(c->notify_fd, "ok\n", 3));
			close(c->notify_fd);
			c->notify_fd = -1;
		}
	}
}

/* The run's outcome as an exit status and (unless the program's status) a message. */
static int outcome(const struct run_ctx *c, const struct vm_result *res, struct err *e)
{
	if (res->init_error[0])
		return err_set(e, CRUMB_ECHILD, "crumb-init failed in the VM: %s", res->init_error),
		       EXIT_RUN_FAIL;
	if (res->panic[0])
		return err_set(e, CRUMB_ECHILD, "the guest kernel panicked: %s", res->panic),
		       EXIT_RUN_PANIC;
	if (res->status >= 0) {
		e->msg[0] = 0;
		return res->status;
	}
	if (res->timed_out)
		return err_set(e, CRUMB_ECHILD,
			       "--timeout: the VM was still running after %gs; killed",
			       c->a->vc.timeout),
		       EXIT_RUN_TIMEOUT;
	if (!res->t_first_byte && res->qemu_status)
		return err_set(e, CRUMB_ECHILD, "%s failed (exit %d): %s",
			       c->a->vc.vmm ? vm_vmm_name(c->a->vc.vmm) : "QEMU", res->qemu_status,
			       res->qemu_error[0] ? res->qemu_error : "no message"),
		       EXIT_RUN_FAIL;
	if (sig_count && res->qemu_status >= 128)
		return err_set(e, CRUMB_ECHILD, "the VM was killed"), 128 + SIGKILL;
	if (!res->t_init && res->unsigned_markers)
		return err_set(e, CRUMB_ECHILD,
			       "the VM stopped (%s exit %d): its %d marker(s) were not signed with "
			       "this run's key (a crumb-init older than this crumb, or one that "
			       "failed before reading its key: --verbose shows its messages)",
			       c->a->vc.vmm ? vm_vmm_name(c->a->vc.vmm) : "QEMU", res->qemu_status,
			       res->unsigned_markers),
		       EXIT_RUN_FAIL;
	return err_set(e, CRUMB_ECHILD,
		       "the VM stopped (%s exit %d) before the program finished%s%s",
		       c->a->vc.vmm ? vm_vmm_name(c->a->vc.vmm) : "QEMU", res->qemu_status,
		       res->qemu_error[0] ? ": " : "", res->qemu_error),
	       EXIT_RUN_FAIL;
}

static void record_exit(struct run_ctx *c, const struct vm_result *res, int status,
			const struct err *e)
{
	if (!c->dir)
		return;
	struct vmexit x = {.present = 1,
			   .status = res->status,
			   .qemu_status = res->qemu_status,
			   .ended = (int64_t)time(NULL)};
	if (res->status < 0 && status != EXIT_RUN_FAIL)
		x.status = status;
	snprintf(x.reason, sizeof(x.reason), "%.255s", e->msg);
	vmexit_save(c->dir, &x, NULL);
}

/* Removes the run's own files; the whole state directory when it is not kept. */
static void cleanup_files(struct run_ctx *c, int keep_state)
{
	const char *files[] = {c->initrd, c->conf_path, c->disk_path};
	for (size_t i = 0; i < 3; i++)
		if (files[i])
			unlink(files[i]);
	if (c->tmp)
		rmdir(c->tmp);
	if (c->dir && !keep_state) {
		remove_tree(c->dir, NULL);
	} else if (c->dir) {
		char *p = xasprintf("%s/ctl.sock", c->dir);
		unlink(p);
		free(p);
		p = xasprintf("%s/qmp.sock", c->dir);
		unlink(p);
		free(p);
	}
	sig_dir[0] = sig_ctl[0] = 0;
}

static void run_ctx_release(struct run_ctx *c)
{
	free(c->store);
	free(c->qemu);
	free(c->tmp);
	free(c->initrd);
	free(c->conf_path);
	free(c->disk_path);
	free(c->dir);
	free(c->log_path);
	free(c->kernel_owned);
	free(c->root_owned);
	for (size_t i = 0; i < MAX_VOLUMES; i++) {
		free(c->vol_paths[i]);
		free(c->share_tags[i]);
	}
	if (c->lock_fd >= 0)
		close(c->lock_fd);
	if (c->store_lock_fd >= 0)
		close(c->store_lock_fd);
	if (c->log_fd >= 0)
		close(c->log_fd);
	if (c->notify_fd >= 0)
		close(c->notify_fd);
	kernel_info_release(&c->ki);
	if (c->have_im)
		oci_image_release(&c->im);
	if (c->oci)
		oci_close(c->oci);
	initcfg_release(&c->cfg);
	vm_klog_release(&c->klog);
}

/* The image's kernel, root filesystem and config; labels into a (flags win). */
static int prepare_image(struct run_ctx *c, unsigned long long *archive,
			 unsigned long long *content, int *is_disk, struct err *e)
{
	struct run_args *a = c->a;
	int r = oci_open(c->store, &c->oci, e);
	if (r < 0)
		return r;
	if ((c->store_lock_fd = oci_lock(c->oci, 0, e)) < 0)
		return c->store_lock_fd;
	if ((r = oci_image_resolve(c->oci, a->image, &c->im, e)) < 0)
		return r;
	c->have_im = 1;
	const struct oci_config *ic = &c->im.cfg;
	const struct oci_desc *kl = oci_image_layer(&c->im, OCI_MT_KERNEL);
	const struct oci_desc *rl = oci_image_layer(&c->im, "application/vnd.crumb.rootfs.");
	if (!rl)
		return err_set(e, CRUMB_EFORMAT, "image '%s' has no root filesystem layer",
			       a->image);
	const char *lv;
	/* QEMU reads the kernel and the root filesystem itself: check them first
	 * (the verification cache spares the hash when they are unchanged). */
	char iname[512]; /* "image " + a ref of at most 255 + 1 + 128 bytes */
	snprintf(iname, sizeof(iname), "image %s", c->im.ref ? c->im.ref : c->im.manifest.digest);
	if (!a->kernel && kl) {
		if ((r = oci_blob_verify(c->oci, kl, iname, OCI_VERIFY_CACHED, e)) < 0)
			return r;
		a->vc.kernel = c->kernel_owned = oci_blob_path(c->oci, kl->digest);
	} else if (!a->kernel && (lv = oci_config_label(ic, "crumb.kernel")) && *lv) {
		a->vc.kernel = c->kernel_owned = kernel_path(c->store, lv);
	}
	char *root = c->root_owned = oci_blob_path(c->oci, rl->digest);
	if (!root)
		return err_set(e, CRUMB_EFORMAT, "image '%s': bad layer digest", a->image);
	if (!strcmp(rl->media_type, OCI_MT_ROOTFS_EXT4)) {
		if ((r = oci_blob_verify(c->oci, rl, iname, OCI_VERIFY_CACHED, e)) < 0)
			return r;
		*is_disk = 1;
		a->vc.disk = root;
	} else {
		uint64_t bytes;
		struct vread v;
		/* one pass: hashed while its content size is summed */
		if ((r = oci_blob_open(c->oci, rl, iname, OCI_VERIFY_CACHED, &v, e)) == 0 &&
		    (r = archive_content_size_vread(&v, &bytes, e)) == 0)
			r = oci_blob_done(c->oci, rl, OCI_VERIFY_CACHED, &v, e);
		vread_close(&v);
		if (r < 0)
			return r;
		*archive = rl->size;
		*content = bytes;
		a->vc.initrd = root;
	}
	if (!a->mem && (lv = oci_config_label(ic, "crumb.memory")) &&
	    runcfg_parse_mem(lv, &a->mem) < 0)
		return err_set(e, CRUMB_EFORMAT, "image label crumb.memory=%s: not a size", lv);
	if (!a->cpus && (lv = oci_config_label(ic, "crumb.cpus"))) {
		char *end;
		long n = strtol(lv, &end, 10);
		if (*end || n < 1 || n > 16)
			return err_set(e, CRUMB_EFORMAT, "image label crumb.cpus=%s: want 1 to 16",
				       lv);
		a->cpus = (unsigned)n;
	}
	if (!a->have_cmdline && (lv = oci_config_label(ic, "crumb.cmdline")))
		a->vc.cmdline = lv;
	if ((lv = oci_config_label(ic, "crumb.publish")) && a->vc.net) {
		/* The image's ports, unless -p publishes the same guest port (or the
		 * same host port): `-p 2299:22` moves the image's 2222:22, not adds to it. */
		struct vm_port img[64];
		size_t n = 0;
		struct err pe;
		if ((r = runcfg_publish(lv, img, 64, &n, &pe)) < 0)
			return err_set(e, r, "image label crumb.publish: %s", pe.msg);
		for (size_t i = 0; i < n; i++) {
			int dup = 0;
			for (size_t k = 0; k < a->nports; k++)
				dup |= (a->ports[k].host_port == img[i].host_port ||
					a->ports[k].guest_port == img[i].guest_port) &&
				       a->ports[k].udp == img[i].udp;
			if (!dup && a->nports < 64)
				a->ports[a->nports++] = img[i];
		}
	}
	struct run_flags f = {.args = &a->o.args,
			      .entrypoint = a->entrypoint,
			      .env = &a->o.env,
			      .user = a->user,
			      .workdir = a->workdir,
			      .hostname = a->hostname};
	if ((r = runcfg_image(ic, &f, &c->cfg, e)) < 0)
		return r;
	const char *u = a->user ? a->user : ic->user;
	if (u && *u)
		c->cfg.user = xstrdup(u);
	if (!a->restart && (lv = oci_config_label(ic, "crumb.restart")) &&
	    (r = set_restart(&c->cfg, lv, e)) < 0)
		return r;
	if (!a->stop_signal && ic->stop_signal && *ic->stop_signal) {
		int sig = runcfg_signal(ic->stop_signal);
		if (sig < 0)
			return err_set(e, CRUMB_EFORMAT, "image StopSignal %s: unknown signal",
				       ic->stop_signal);
		c->cfg.stop_signal = sig;
	}
	unsigned ready[64];
	size_t nr = runcfg_ready_ports(&ic->exposed, ready, 64);
	for (size_t i = 0; i < nr; i++)
		initcfg_add_ready(&c->cfg, ready[i]);
	c->need_conf = 1;
	return 0;
}

/* --exec: the same service config rootfs_exec writes into the initramfs. */
static void exec_config(struct run_ctx *c)
{
	struct run_args *a = c->a;
	/* Absolute without resolving symlinks, as rootfs_exec does: a busybox
	 * applet is told apart by its name. */
	char cwd[4096];
	if (a->o.program[0] == '/' || !getcwd(cwd, sizeof(cwd)))
		strlist_push(&c->cfg.argv, a->o.program);
	else
		strlist_push_owned(&c->cfg.argv, xasprintf("%s/%s", cwd, a->o.program));
	for (size_t i = 0; i < a->o.args.n; i++)
		strlist_push(&c->cfg.argv, a->o.args.v[i]);
	runcfg_setenv(&c->cfg.env, "PATH=" RUNCFG_DEFAULT_PATH);
	if (!a->user)
		runcfg_setenv(&c->cfg.env, "HOME=/root");
	char *h = xasprintf("HOSTNAME=%s", a->hostname ? a->hostname : "crumb");
	runcfg_setenv(&c->cfg.env, h);
	free(h);
	for (size_t i = 0; i < a->o.env.n; i++)
		runcfg_setenv(&c->cfg.env, a->o.env.v[i]);
	if (a->workdir)
		c->cfg.workdir = xstrdup(a->workdir);
	if (a->user)
		c->cfg.user = xstrdup(a->user);
	if (a->hostname)
		c->cfg.hostname = xstrdup(a->hostname);
	/* The initramfs holds this config already; only what it lacks needs the channel. */
	c->need_conf = a->user || a->workdir || a->hostname || a->volumes.n || a->tty ||
		       a->restart || a->stop_signal || a->stop_timeout >= 0 || a->nports;
}

/* Volumes into devices and mounts: block devices follow the root disk. */
static int prepare_volumes(struct run_ctx *c, int is_disk, struct err *e)
{
	struct run_args *a = c->a;
	char dev = (char)('a' + (is_disk ? 1 : 0));
	for (size_t i = 0; i < a->volumes.n; i++) {
		struct run_volume rv;
		int r = runcfg_volume_parse(a->volumes.v[i], &rv, e);
		if (r < 0)
			return r;
		char *path = NULL;
		if (rv.kind == RUN_VOL_NAMED)
			r = named_volume(c->store, rv.source, &path, e);
		else if (rv.kind == RUN_VOL_IMAGE && (r = is_ext_image(rv.source, e)) >= 0) {
			if (r == 0)
				r = err_set(e, CRUMB_EFORMAT, "-v %s: %s is not an ext2/3/4 image",
					    a->volumes.v[i], rv.source);
			else
				r = 0, path = xstrdup(rv.source);
		}
		if (r < 0) {
			run_volume_release(&rv);
			return r;
		}
		if (rv.kind == RUN_VOL_HOSTDIR) {
			char *tag = xasprintf("crumb%zu", c->nshares);
			c->share_tags[c->nshares] = tag;
			c->shares[c->nshares++] = (struct vm_share){rv.source, tag, rv.readonly};
			c->vol_paths[i] = rv.source; /* owned from here */
			rv.source = NULL;
			initcfg_add_mount(&c->cfg, "9p", tag, rv.target, rv.readonly ? "ro" : "rw");
		} else {
			char devp[16];
			snprintf(devp, sizeof(devp), "/dev/vd%c", dev++);
			c->vol_paths[i] = path;
			c->vols[c->nvols++] = (struct vm_volume){path, rv.readonly};
			initcfg_add_mount(&c->cfg, "ext4", devp, rv.target,
					  rv.readonly ? "ro" : "rw");
		}
		run_volume_release(&rv);
	}
	a->vc.volumes = c->vols;
	a->vc.nvolumes = c->nvols;
	a->vc.shares = c->shares;
	a->vc.nshares = c->nshares;
	return 0;
}

/* -t: the service's terminal; -i -t on a terminal: raw mode here. */
static void prepare_tty(struct run_ctx *c)
{
	struct run_args *a = c->a;
	if (!a->tty)
		return;
	c->cfg.tty = 1;
	const char *term = cmd_env()->term;
	c->cfg.term = xstrdup(term && *term ? term : "xterm");
	struct winsize ws;
	if (ioctl(0, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col) {
		c->cfg.rows = ws.ws_row;
		c->cfg.cols = ws.ws_col;
	} else if (ioctl(1, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col) {
		c->cfg.rows = ws.ws_row;
		c->cfg.cols = ws.ws_col;
	}
}

static void raw_mode(void)
{
	if (!isatty(0) || tcgetattr(0, &saved_tty) < 0)
		return;
	struct termios t = saved_tty;
	cfmakeraw(&t);
	tty_saved = 1;
	atexit(restore_tty);
	tcsetattr(0, TCSADRAIN, &t);
}

/* The detached supervisor: owns QEMU, logs its console, records its end. */
static void supervise(struct run_ctx *c)
{
	struct err e = {0};
	struct vm_result res;
	setsid();
	int null = open("/dev/null", O_RDWR);
	dup2(null, 0);
	dup2(c->log_fd, 1);
	dup2(c->log_fd, 2);
	if (null > 2)
		close(null);
	/* SIGTERM still asks the guest to stop (on_signal); the terminal is gone. */
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	c->st.supervisor_pid = (int)getpid();
	vmstate_save(c->dir, &c->st, NULL);
	c->a->vc.console_fd = c->log_fd;
	int status;
	if (vm_run(&c->a->vc, NULL, NULL, &res, &e) < 0) {
		status = EXIT_RUN_FAIL;
		memset(&res, 0, sizeof(res));
		res.status = -1;
	} else {
		status = outcome(c, &res, &e);
	}
	if (c->notify_fd >= 0) {
		/* It never started: say why, leave nothing behind. */
		cleanup_files(c, 0);
		char *m =
		    xasprintf("%s\n", e.msg[0] ? e.msg : "the VM ended before the service started");
		ignore(write(c->notify_fd, m, strlen(m)));
		free(m);
		_exit(EXIT_RUN_FAIL);
	}
	record_exit(c, &res, status, &e);
	cleanup_files(c, !c->a->autoremove);
	_exit(0);
}

/* -d: forks the supervisor, waits for the service to start. */
static int detach(struct run_ctx *c, struct err *e)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return err_errno(e, CRUMB_EIO, "pipe"), EXIT_RUN_FAIL;
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0)
		return err_errno(e, CRUMB_EIO, "fork"), EXIT_RUN_FAIL;
	if (pid == 0) {
		close(p[0]);
		c->notify_fd = p[1];
		supervise(c);
	}
	close(p[1]);
	/* The supervisor holds the state lock and the store lock now. */
	close(c->lock_fd);
	c->lock_fd = -1;
	if (c->store_lock_fd >= 0) {
		close(c->store_lock_fd);
		c->store_lock_fd = -1;
	}
	struct sbuf msg = SBUF_INIT;
	char buf[1024];
	ssize_t n;
	while ((n = read(p[0], buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		sb_add(&msg, buf, (size_t)n);
	}
	close(p[0]);
	int r = 0;
	if (!strcmp(msg.buf, "ok\n")) {
		printf("%s\n", c->name);
	} else {
		/* The supervisor removed the directory; make sure of it if it died. */
		if (!msg.len)
			remove_tree(c->dir, NULL);
		msg.buf[strcspn(msg.buf, "\n")] = 0;
		err_set(e, CRUMB_ECHILD, "%s",
			msg.len ? msg.buf : "the VM's supervisor died before the service started");
		r = EXIT_RUN_FAIL;
	}
	sb_release(&msg);
	/* Nothing of this run is ours to clean any more. */
	free(c->dir);
	c->dir = NULL;
	free(c->initrd);
	c->initrd = NULL;
	free(c->conf_path);
	c->conf_path = NULL;
	free(c->disk_path);
	c->disk_path = NULL;
	free(c->tmp);
	c->tmp = NULL;
	return r;
}

int cmd_run(int argc, char **argv)
{
	struct run_args a = {.o = {.compress = COMPRESS_NONE}, .stop_timeout = -1};
	struct run_ctx c = {.a = &a,
			    .lock_fd = -1,
			    .store_lock_fd = -1,
			    .log_fd = -1,
			    .notify_fd = -1,
			    .klog = VM_KLOG_INIT};
	struct err e = {0};
	a.vc.accel = ACCEL_AUTO;
	a.vc.env = cmd_env();
	a.vc.net = 1;
	initcfg_init(&c.cfg);
	int r = parse_args(&a, argc, argv);
	if (r == EXEC_OPTS_HELP) {
		r = cmd_print_usage("run");
		goto out;
	}
	if (r) {
		r = r == EXIT_USAGE ? EXIT_RUN_FAIL : r;
		goto out;
	}
	r = EXIT_RUN_FAIL;
	catch_signals();
	/* Only markers signed with this key are believed (src/init/markers.h). */
	if (console_key_new(c.key, &e) < 0)
		goto fail;
	a.vc.marker_key = c.key;
	a.o.marker_key = c.key;

	/* Everything that can be missing is checked before any work is done. */
	if (store_root(cmd_env(), &c.store, &e) < 0 ||
	    vm_find(&a.vc, &c.qemu, &e) < 0)
		goto fail;
	unsigned long long archive = 0, content = 0;
	int is_disk = 0;
	struct stat st;
	if (a.image) {
		if (prepare_image(&c, &archive, &content, &is_disk, &e) < 0)
			goto fail;
	} else if (a.rootfs) {
		if ((is_disk = is_ext_image(a.rootfs, &e)) < 0)
			goto fail;
		if (!is_disk) {
			uint64_t bytes;
			if (archive_content_size(a.rootfs, &bytes, &e) < 0)
				goto fail;
			if (stat(a.rootfs, &st) < 0) {
				err_errno(&e, CRUMB_EIO, "%s", a.rootfs);
				goto fail;
			}
			archive = (unsigned long long)st.st_size;
			content = bytes;
			a.vc.initrd = a.rootfs;
		} else {
			a.vc.disk = a.rootfs;
		}
	} else {
		exec_config(&c);
	}
	for (size_t k = 0; k < a.nports; k++)
		if (vm_port_check(&a.ports[k], &e) < 0)
			goto fail;
	if (a.kernel) {
		a.vc.kernel = c.kernel_owned = kernel_path(c.store, a.kernel);
		if (stat(a.vc.kernel, &st) < 0) {
			err_errno(&e, CRUMB_ENOENT, "kernel %s", a.kernel);
			goto fail;
		}
	} else if (!a.vc.kernel) {
		struct kernel_opts ko = {0};
		if (kernel_lookup(c.store, &ko, &c.ki, &e) < 0) {
			err_set(&e, CRUMB_ENOENT,
				"no crumb kernel in the store (%s): run 'crumb kernel build' first "
				"(about 9 minutes, once), or pass --kernel FILE",
				c.store);
			goto fail;
		}
		a.vc.kernel = c.ki.vmlinux;
	} else if (stat(a.vc.kernel, &st) < 0) {
		err_errno(&e, CRUMB_ENOENT, "kernel %s", a.vc.kernel);
		goto fail;
	}
	if (!a.rootfs) {
		if (a.restart && set_restart(&c.cfg, a.restart, &e) < 0)
			goto fail;
		if (a.stop_signal)
			c.cfg.stop_signal = runcfg_signal(a.stop_signal);
		if (a.stop_timeout >= 0)
			c.cfg.stop_timeout = a.stop_timeout;
		/* A published TCP port is one the service will listen on. */
		for (size_t k = 0; k < a.nports; k++) {
			int dup = 0;
			for (size_t j = 0; j < c.cfg.nready; j++)
				dup |= c.cfg.ready[j] == a.ports[k].guest_port;
			if (!a.ports[k].udp && !dup)
				initcfg_add_ready(&c.cfg, a.ports[k].guest_port);
		}
		if (prepare_volumes(&c, is_disk, &e) < 0)
			goto fail;
		prepare_tty(&c);
	}

	/* The state directory: named and detached runs must have one; others
	 * have one when they can (ps, stop, logs). */
	char *root = NULL;
	int need_state = a.detach || a.name;
	/* Another VMM runs in the foreground only, without a state directory:
	 * nothing for 'crumb ps' to misreport. Refuse now what it cannot do. */
	if (a.vc.vmm != VMM_QEMU && vm_alt_check(&a.vc, 1, &e) < 0)
		goto fail;
	if (a.vc.vmm == VMM_QEMU && vmstate_root(cmd_env(), &root, &e) == 0 &&
	    strlen(root) + (a.name ? strlen(a.name) : 32) + sizeof("//qmp.sock") <=
		sizeof(((struct sockaddr_un *)0)->sun_path)) {
		if (vmstate_create(root, a.name, c.name, &c.dir, &c.lock_fd, &e) < 0) {
			free(root);
			goto fail;
		}
		snprintf(sig_dir, sizeof(sig_dir), "%s", c.dir);
	} else if (need_state) {
		if (root)
			err_set(&e, CRUMB_EINVAL,
				"the state directory %s is too deep for a unix socket: set "
				"XDG_RUNTIME_DIR or a shorter CRUMB_HOME",
				root);
		free(root);
		goto fail;
	}
	free(root);
	e.msg[0] = 0;

	/* The run's files go to its state directory, else a temporary one. */
	const char *work = c.dir;
	if (!work) {
		if (!(c.tmp = make_tmpdir())) {
			err_errno(&e, CRUMB_EIO, "cannot create a temporary directory");
			goto fail;
		}
		work = c.tmp;
		snprintf(sig_dir, sizeof(sig_dir), "%s", c.tmp);
	}
	if (a.o.program) {
		c.initrd = xasprintf("%s/rootfs.cpio", work);
		if (exec_opts_pack(&a.o, c.initrd, &content)) {
			e.msg[0] = 0; /* already reported */
			goto fail;
		}
		if (stat(c.initrd, &st) < 0) {
			err_errno(&e, CRUMB_EIO, "%s", c.initrd);
			goto fail;
		}
		archive = (unsigned long long)st.st_size;
		a.vc.initrd = c.initrd;
	}
	unsigned need = is_disk ? KERNEL_MB : need_mb(archive, content);
	if (a.mem && a.mem < need) {
		err_set(&e, CRUMB_EINVAL,
			"-m %uM is too small: this root filesystem needs at least %uM (%.1f MB of "
			"files, unpacked into a tmpfs capped at half the memory, from a %.1f MB "
			"archive)",
			a.mem, need, content / 1e6, archive / 1e6);
		goto fail;
	}
	a.vc.mem_mb = a.mem ? a.mem : ((need + HEADROOM_MB + 15) / 16) * 16;
	if (a.vc.mem_mb < 128 && !a.mem)
		a.vc.mem_mb = 128;
	a.vc.cpus = a.cpus;
	a.vc.state_dir = c.store;
	a.vc.ports = a.ports;
	a.vc.nports = a.nports;
	/* The marker key rides the config disk; a --rootfs run gets a key-only
	 * one; --exec has it in its initramfs already (exec_opts_pack). */
	if (c.need_conf || a.rootfs) {
		struct sbuf conf = SBUF_INIT, disk = SBUF_INIT;
		if (c.need_conf && initcfg_render(&c.cfg, &conf, &e) < 0) {
			sb_release(&conf);
			goto fail;
		}
		initcfg_disk(c.need_conf ? conf.buf : NULL, conf.len, c.key, &disk);
		c.disk_path = xasprintf("%s/init.disk", work);
		int w = 0;
		if (c.need_conf) {
			c.conf_path = xasprintf("%s/init.conf", work);
			w = write_file_atomic(c.conf_path, conf.buf, conf.len, 0600, &e);
		}
		if (w == 0)
			w = write_file_atomic(c.disk_path, disk.buf, disk.len, 0600, &e);
		sb_release(&conf);
		sb_release(&disk);
		if (w < 0)
			goto fail;
		a.vc.init_conf = c.conf_path;
		a.vc.init_conf_disk = c.disk_path;
	}
	if (c.dir) {
		c.log_path = xasprintf("%s/console.log", c.dir);
		c.log_fd = open(c.log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (c.log_fd < 0) {
			err_errno(&e, CRUMB_EIO, "create %s", c.log_path);
			goto fail;
		}
		/* crumb logs tells the run's markers from a program's with it */
		char hex[2 * CONSOLE_KEY_LEN + 2], *kp = xasprintf("%s/" VMSTATE_KEY_FILE, c.dir);
		console_key_hex(c.key, hex);
		strcat(hex, "\n");
		int kw = write_file_atomic(kp, hex, strlen(hex), 0600, &e);
		free(kp);
		if (kw < 0)
			goto fail;
		char *ctl = xasprintf("%s/ctl.sock", c.dir), *qmp = xasprintf("%s/qmp.sock", c.dir);
		snprintf(sig_ctl, sizeof(sig_ctl), "%s", ctl);
		a.vc.ctl_sock = ctl;
		a.vc.qmp_sock = qmp;
		struct sbuf sb = SBUF_INIT;
		snprintf(c.st.name, sizeof(c.st.name), "%s", c.name);
		if (a.image)
			snprintf(c.st.image, sizeof(c.st.image), "%s",
				 c.im.ref ? c.im.ref : c.im.manifest.digest);
		else if (a.rootfs)
			snprintf(c.st.image, sizeof(c.st.image), "rootfs:%s", a.rootfs);
		else
			snprintf(c.st.image, sizeof(c.st.image), "exec:%s", a.o.program);
		for (size_t k = 0; k < c.cfg.argv.n; k++)
			sb_addf(&sb, "%s%s", k ? " " : "", c.cfg.argv.v[k]);
		snprintf(c.st.command, sizeof(c.st.command), "%s", sb.buf);
		sb_reset(&sb);
		ports_text(&a, &sb);
		snprintf(c.st.ports, sizeof(c.st.ports), "%s", sb.buf);
		sb_release(&sb);
		c.st.created = (int64_t)time(NULL);
		c.st.detached = a.detach;
		c.st.autoremove = a.autoremove || (!a.name && !a.detach);
		c.st.supervisor_pid = (int)getpid();
		if (vmstate_save(c.dir, &c.st, &e) < 0)
			goto fail;
	}
	a.vc.event = on_event;
	a.vc.event_ctx = &c;

	if (a.detach) {
		r = detach(&c, &e);
		free((char *)a.vc.ctl_sock);
		free((char *)a.vc.qmp_sock);
		goto fail;
	}

	struct vm_result res;
	if (a.timing || a.timeline_svg_path)
		a.vc.klog = &c.klog;
	a.vc.console_fd = c.log_fd;
	if (a.interactive) {
		a.vc.interactive = 1;
		if (a.tty)
			raw_mode();
	}
	int vr = vm_run(&a.vc, to_stdout, NULL, &res, &e);
	restore_tty();
	free((char *)a.vc.ctl_sock);
	free((char *)a.vc.qmp_sock);
	a.vc.ctl_sock = a.vc.qmp_sock = NULL;
	if (vr < 0)
		goto fail;
	if (a.timing || a.timeline_svg_path)
		report_timeline(&res, &c.klog, a.timing, a.timeline_svg_path);
	else if (!a.quiet && res.t_init)
		print_timing(&res);
	if (a.vc.accel == ACCEL_AUTO && res.kvm_note[0] && a.vc.verbose)
		fprintf(stderr, "crumb: using TCG: %s\n", res.kvm_note);
	r = outcome(&c, &res, &e);
	record_exit(&c, &res, r, &e);
	sig_qemu_pid = 0;
	cleanup_files(&c, !c.st.autoremove);
	free(c.dir);
	c.dir = NULL;
	free(c.tmp);
	c.tmp = NULL;
	free(c.initrd);
	c.initrd = NULL;
fail:
	if (e.msg[0])
		cmd_error_err(&e);
	if (c.dir) /* failed before QEMU ran: nothing to keep */
		cleanup_files(&c, 0);
	else if (c.tmp || c.initrd)
		cleanup_files(&c, 1);
out:
	sig_dir[0] = sig_ctl[0] = 0;
	run_ctx_release(&c);
	exec_opts_release(&a.o);
	strlist_release(&a.volumes);
	return r;
}

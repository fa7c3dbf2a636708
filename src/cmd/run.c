/* run.c: `crumb run`: boot an image, a host program (--exec) or a root filesystem under QEMU
 * microvm. Parses the flags and prints; the run itself is a plan (src/lib/runplan.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "../lib/archive.h"
#include "../lib/opt.h"
#include "../lib/runplan.h"
#include "../lib/timeline.h"
#include "../lib/vmm_alt.h"
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
    "Ctrl-C (SIGINT, SIGTERM) asks the guest to stop the service; twice kills the VM,\n"
    "and so does no end within the stop timeout plus 5 seconds.\n"
    "\n"
    "Options:\n"
    "  --rootfs FILE       boot this cpio (any compression) or ext4 image\n"
    "  --exec PATH         the program to run (host path, kept at the same path)\n"
    "  --add H[:G]         also copy host file or directory H (to guest path G)\n"
    "  -d, --detach        run in the background: print the name once the service has\n"
    "                      started (or the one-line reason it did not) and return\n"
    "  --wait-ready        with -d: return once the service is ready (its exposed and\n"
    "                      published TCP ports listen), not when it starts\n"
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
    "  --add-host HOST:IP  add 'IP HOST' to the guest's /etc/hosts (repeatable; also\n"
    "                      HOST=IP, [IPv6]); IP host-gateway: the host's first\n"
    "                      non-loopback IPv4 address (its services on 0.0.0.0 or that\n"
    "                      address, never 127.0.0.1 alone; not with --net none)\n"
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
    "  --cold              boot cold even when the store has a snapshot of this image\n"
    "                      and VM shape ('crumb warm'); without it such a snapshot is\n"
    "                      restored (--timing then shows the restore's phases)\n"
    "  --seccomp errno|kill|off\n"
    "                      what a system call outside the image's allowlist (LABEL\n"
    "                      crumb.seccomp, made by 'crumb minimize') does: fail with\n"
    "                      EPERM (default), kill the service; a line on the console\n"
    "                      names the call either way. off: no filter (debugging)\n"
    "  --trace FILE        trace the service, its threads and children (crumb-init,\n"
    "                      seccomp user notifications): the system calls, files and\n"
    "                      socket families they use go to FILE ('crumb minimize' reads\n"
    "                      it; format in README). Slows the service; boots cold\n"
    "  --foreign-init      the root filesystem's PID 1 is not crumb-init (bench/boot.sh's\n"
    "                      baseline): believe its unsigned markers. Anything in such a\n"
    "                      guest can then fake its exit status: never for an image you\n"
    "                      did not make\n"
    "\n"
    "Exit status: the program's; 123 if the guest kernel panicked; 124 if --timeout\n"
    "expired; 125 if crumb or the VM failed; 126/127 if the program could not be\n"
    "executed/found in the VM; 128+N if it was killed by signal N. With -d: 0 once\n"
    "the service started, 125 if it did not.\n";

static void to_stdout(void *ctx, const char *buf, size_t n)
{
	(void)ctx;
	fwrite(buf, 1, n, stdout);
	fflush(stdout);
}

static void ignore(ssize_t r)
{
	(void)r;
}

/*
 * Signals. Before QEMU runs, an interrupted run removes its files and dies
 * of the signal. While it runs, the first SIGINT/SIGTERM/SIGHUP asks the
 * guest to stop the service (the control channel), a second kills QEMU, and
 * so does the end of a grace period with no second signal (the service's stop
 * timeout plus 5 s, as `crumb stop` waits: a guest whose kernel is stuck never
 * answers); the run then ends the normal way (state recorded, files removed). The handler
 * only counts and writes the signal to a pipe; a thread (sig_watch) does the
 * work, taking sig_lock, which the main flow holds while it makes the files
 * sig_dir names.
 */
static volatile sig_atomic_t sig_count;
static int sig_pipe[2] = {-1, -1};
static atomic_int sig_qemu_pid;
static pthread_mutex_t sig_lock = PTHREAD_MUTEX_INITIALIZER;
static char sig_dir[4096]; /* the state or temporary directory to remove */
static char sig_ctl[sizeof(((struct sockaddr_un *)0)->sun_path)]; /* the control socket */
static atomic_int sig_grace = 15; /* seconds from the ask to the kill */
static struct termios saved_tty;
static atomic_int tty_saved;

static void restore_tty(void)
{
	if (atomic_exchange(&tty_saved, 0))
		tcsetattr(0, TCSADRAIN, &saved_tty);
}

static void raw_mode(void)
{
	if (!isatty(0) || tcgetattr(0, &saved_tty) < 0)
		return;
	struct termios t = saved_tty;
	cfmakeraw(&t);
	atomic_store(&tty_saved, 1);
	atexit(restore_tty);
	tcsetattr(0, TCSADRAIN, &t);
}

static void on_signal(int sig)
{
	int saved = errno;
	unsigned char c = (unsigned char)sig;
	sig_count++;
	ignore(write(sig_pipe[1], &c, 1));
	errno = saved;
}

/* "stop\n" on the control channel; 0 when the guest got it. */
static int ask_stop(void)
{
	struct err e;
	if (!sig_ctl[0] || vmstate_send(sig_ctl, "stop\n", &e) < 0)
		return -1;
	static const char msg[] = "\r\ncrumb: stopping the VM (again to kill it)\r\n";
	ignore(write(2, msg, sizeof(msg) - 1));
	return 0;
}

/* 1 when it asked the guest to stop (then the grace period runs). */
static int on_signal_work(int sig, int nth)
{
	int pid = atomic_load(&sig_qemu_pid);
	if (!pid) {
		restore_tty();
		if (sig_dir[0]) {
			char p[4200];
			for (int i = 0; runplan_state_files[i]; i++) {
				snprintf(p, sizeof(p), "%s/%s", sig_dir, runplan_state_files[i]);
				unlink(p);
			}
			rmdir(sig_dir);
		}
		signal(sig, SIG_DFL);
		kill(getpid(), sig);
		return 0;
	}
	if (nth == 0 && ask_stop() == 0)
		return 1;
	kill((pid_t)pid, SIGKILL);
	return 0;
}

/* The grace period ended with QEMU still there: kill it (under sig_lock). */
static void grace_over(void)
{
	int pid = atomic_load(&sig_qemu_pid);
	if (!pid)
		return;
	static const char msg[] = "\r\ncrumb: the guest did not stop in time: killing the VM\r\n";
	ignore(write(2, msg, sizeof(msg) - 1));
	kill((pid_t)pid, SIGKILL);
}

static void *sig_watch(void *arg)
{
	int fd = (int)(intptr_t)arg, nth = 0;
	double deadline = 0; /* set once the guest has been asked */
	unsigned char c;
	for (;;) {
		int wait = -1;
		if (deadline > 0) {
			double left = deadline - now_monotonic();
			wait = left > 0 ? (int)(left * 1000) + 1 : 0;
		}
		struct pollfd pfd = {fd, POLLIN, 0};
		int pr = poll(&pfd, 1, wait);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr == 0) {
			pthread_mutex_lock(&sig_lock);
			grace_over();
			pthread_mutex_unlock(&sig_lock);
			deadline = 0;
			continue;
		}
		ssize_t n = read(fd, &c, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return NULL;
		pthread_mutex_lock(&sig_lock);
		deadline = on_signal_work(c, nth++) ? now_monotonic() + atomic_load(&sig_grace) : 0;
		pthread_mutex_unlock(&sig_lock);
	}
}

/* The pipe and its thread (again in a forked supervisor: threads do not
 * survive fork); then the handlers. */
static int catch_signals(struct err *e)
{
	if (sig_pipe[0] >= 0) {
		close(sig_pipe[0]);
		close(sig_pipe[1]);
	}
	pthread_t t;
	if (pipe2(sig_pipe, O_CLOEXEC) < 0)
		return err_errno(e, CRUMB_EIO, "pipe");
	fcntl(sig_pipe[1], F_SETFL, O_NONBLOCK);
	if (pthread_create(&t, NULL, sig_watch, (void *)(intptr_t)sig_pipe[0]))
		return err_set(e, CRUMB_EIO, "cannot start a thread");
	pthread_detach(t);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

/* What the signal thread removes and whom it asks to stop (under sig_lock). */
static void sig_track(const struct run_plan *p)
{
	const char *d = p->dir ? p->dir : p->tmp;
	snprintf(sig_dir, sizeof(sig_dir), "%s", d ? d : "");
	snprintf(sig_ctl, sizeof(sig_ctl), "%s", p->ctl_sock ? p->ctl_sock : "");
	atomic_store(&sig_grace, (p->cfg.stop_timeout >= 0 ? p->cfg.stop_timeout : 10) + 5);
}

static void sig_untrack(void)
{
	pthread_mutex_lock(&sig_lock);
	sig_dir[0] = sig_ctl[0] = 0;
	atomic_store(&sig_qemu_pid, 0);
	pthread_mutex_unlock(&sig_lock);
}

/* A restored run's phases, on the host's clock from QEMU's start. */
static void print_warm(const struct vm_result *r, const struct warm_times *w, int table)
{
	double t0 = r->t_spawn;
	if (!table) {
		fprintf(stderr, "crumb: %s warm start: qemu→resumed %.3fs", accel_name(r->accel),
			w->t_cont - t0);
		if (r->t_exec)
			fprintf(stderr, ", resumed→exec %.3fs", r->t_exec - w->t_cont);
		if (r->t_ready)
			fprintf(stderr, ", exec→ready %.3fs", r->t_ready - r->t_exec);
		fprintf(stderr, "; total %.3fs\n", r->t_end - t0);
		return;
	}
	const struct {
		const char *what;
		double t;
	} ph[] = {{"snapshot fed to QEMU", w->t_fed},
		  {"state loaded (paused)", w->t_loaded},
		  {"digest checked", w->t_digest},
		  {"config sent (ctl port)", w->t_config},
		  {"cont (running)", w->t_cont},
		  {"init (new key)", r->t_init},
		  {"service started (exec)", r->t_exec},
		  {"ready", r->t_ready},
		  {"exit", r->t_exit},
		  {"QEMU gone", r->t_end}};
	fprintf(stderr, "crumb: %s warm start, %.1f MB of state:\n", accel_name(r->accel),
		(double)w->bytes / 1e6);
	fprintf(stderr, "  %-26s %9s %9s\n", "phase", "at ms", "+ms");
	double prev = 0;
	for (size_t i = 0; i < sizeof(ph) / sizeof(ph[0]); i++) {
		if (!ph[i].t)
			continue;
		double at = (ph[i].t - t0) * 1000;
		fprintf(stderr, "  %-26s %9.1f %9.1f\n", ph[i].what, at, at - prev);
		prev = at;
	}
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

/* ---- the flags ---- */

/* Everything the command line said. */
struct run_args {
	struct exec_opts o; /* first: exec.c's options take the context as a struct exec_opts */
	struct run_opts ro;
	struct vm_port ports[RUNPLAN_MAX_PORTS];
	struct strlist volumes; /* -v values */
	struct strlist hosts;	/* --add-host values */
	struct strlist words;	/* the positional words (IMAGE points into them) */
	const char *timeline_svg_path;
	int quiet, timing;
	int wait_ready; /* -d --wait-ready: return once the ready ports listen */
	char *trace;	/* --trace FILE, made absolute */
	char cwd[4096];
};

#define ARGS(ctx) ((struct run_args *)(ctx))

static int opt_volume(const struct opt *o, const char *v, void *ctx, struct err *e)
{
	(void)o;
	struct run_volume rv;
	int r = runcfg_volume_parse(v, &rv, e);
	if (r < 0)
		return r;
	run_volume_release(&rv);
	if (ARGS(ctx)->volumes.n == RUNPLAN_MAX_VOLUMES)
		return err_set(e, CRUMB_EINVAL, "at most %d volumes", RUNPLAN_MAX_VOLUMES);
	strlist_push(&ARGS(ctx)->volumes, v);
	return 0;
}

static int opt_add_host(const struct opt *o, const char *v, void *ctx, struct err *e)
{
	(void)o;
	struct run_host h;
	int r = runcfg_add_host_parse(v, &h, e);
	run_host_release(&h);
	if (r == 0)
		strlist_push(&ARGS(ctx)->hosts, v);
	return r;
}

static int opt_timeout(const struct opt *o, const char *v, void *ctx, struct err *e)
{
	(void)o;
	char *end;
	double t = strtod(v, &end);
	if (*end || end == v || !(t > 0) || t > 1e7)
		return err_set(e, CRUMB_EINVAL, "--timeout %s: want seconds > 0", v);
	ARGS(ctx)->ro.timeout = t;
	return 0;
}

/* --env-file: the NAME=VALUE lines of path for -e ('#' comments and blank
 * lines skipped); a bad line is named path:line. */
static int opt_env_file(const struct opt *o, const char *path, void *ctx, struct err *e)
{
	(void)o;
	struct sbuf sb = SBUF_INIT;
	struct err re = {0};
	if (read_file(path, 1 << 20, &sb, &re) < 0) {
		sb_release(&sb);
		return err_set(e, CRUMB_EINVAL, "--env-file: %s", re.msg);
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
			r = err_set(e, CRUMB_EINVAL, "%s:%d: want NAME=VALUE", path, line);
		else
			strlist_push(&ARGS(ctx)->o.env, l);
	}
	sb_release(&sb);
	return r;
}

static int opt_vmm(const struct opt *o, const char *v, void *ctx, struct err *e)
{
	(void)o;
	struct err ve;
	if (vm_vmm_parse(v, &ARGS(ctx)->ro.vmm, &ve) < 0)
		return err_set(e, CRUMB_EINVAL, "--vmm: %s", ve.msg);
	return 0;
}

static int opt_name(const struct opt *o, const char *v, void *ctx, struct err *e)
{
	(void)o;
	struct err ne;
	if (vmstate_name_check(v, &ne) < 0)
		return err_set(e, CRUMB_EINVAL, "--name: %s", ne.msg);
	ARGS(ctx)->ro.name = v;
	return 0;
}

static int opt_seccomp(const struct opt *o, const char *v, void *ctx, struct err *e)
{
	(void)o;
	int *m = &ARGS(ctx)->ro.seccomp;
	if (!strcmp(v, "errno"))
		*m = RUNPLAN_SECCOMP_ERRNO;
	else if (!strcmp(v, "kill"))
		*m = RUNPLAN_SECCOMP_KILL;
	else if (!strcmp(v, "off"))
		*m = RUNPLAN_SECCOMP_OFF;
	else
		return err_set(e, CRUMB_EINVAL, "--seccomp %s: want errno, kill or off", v);
	return 0;
}

/* QEMU opens the file: absolute, whatever its working directory. */
static int opt_trace(const struct opt *o, const char *v, void *ctx, struct err *e)
{
	(void)o;
	char cwd[4096];
	if (!*v)
		return err_set(e, CRUMB_EINVAL, "--trace: an empty file name");
	if (strchr(v, ','))
		return err_set(e, CRUMB_EINVAL, "--trace %s: a file name with a comma", v);
	free(ARGS(ctx)->trace);
	if (v[0] == '/')
		ARGS(ctx)->trace = xstrdup(v);
	else if (getcwd(cwd, sizeof(cwd)))
		ARGS(ctx)->trace = xasprintf("%s/%s", cwd, v);
	else
		return err_errno(e, CRUMB_EIO, "--trace: getcwd");
	ARGS(ctx)->ro.trace = ARGS(ctx)->trace;
	return 0;
}

static int opt_workdir(const struct opt *o, const char *v, void *ctx, struct err *e)
{
	(void)o;
	if (v[0] != '/')
		return err_set(e, CRUMB_EINVAL, "--workdir %s: want an absolute path", v);
	ARGS(ctx)->ro.workdir = v;
	return 0;
}

static int opt_hostname(const struct opt *o, const char *v, void *ctx, struct err *e)
{
	(void)o;
	if (!*v || strlen(v) > 64)
		return err_set(e, CRUMB_EINVAL, "--hostname: want 1 to 64 bytes");
	ARGS(ctx)->ro.hostname = v;
	return 0;
}

static int opt_stop_signal(const struct opt *o, const char *v, void *ctx, struct err *e)
{
	(void)o;
	if (runcfg_signal(v) < 0)
		return err_set(e, CRUMB_EINVAL, "--stop-signal %s: unknown signal", v);
	ARGS(ctx)->ro.stop_signal = v;
	return 0;
}

static int opt_stop_timeout(const struct opt *o, const char *v, void *ctx, struct err *e)
{
	(void)o;
	char *end;
	long t = strtol(v, &end, 10);
	if (*end || end == v || t < 0 || t > 86400)
		return err_set(e, CRUMB_EINVAL, "--stop-timeout %s: want 0 to 86400", v);
	ARGS(ctx)->ro.stop_timeout = (int)t;
	return 0;
}

/* The positional words: IMAGE and its command, or "--" and the program's arguments. */
static int take_args(struct run_args *a, const struct strlist *args, struct err *e)
{
	size_t i = 0;
	if (!args->n)
		return 0;
	if (strcmp(args->v[0], "--")) {
		if (a->o.program || a->ro.rootfs)
			return err_set(e, CRUMB_EINVAL,
				       "unexpected '%s' (the program's arguments go after --)",
				       args->v[0]);
		a->ro.image = args->v[0];
	}
	for (i = 1; i < args->n; i++)
		strlist_push(&a->o.args, args->v[i]);
	return 0;
}

/* The plan's view of the flags. */
static void fill_opts(struct run_args *a)
{
	struct run_opts *ro = &a->ro;
	ro->program = a->o.program;
	ro->adds = &a->o.adds;
	ro->args = &a->o.args;
	ro->env = &a->o.env;
	ro->compress = a->o.compress;
	ro->ports = a->ports;
	ro->volumes = &a->volumes;
	ro->add_hosts = &a->hosts;
	ro->timing = a->timing || a->timeline_svg_path;
	ro->host = cmd_env();
	ro->cwd = getcwd(a->cwd, sizeof(a->cwd)) ? a->cwd : NULL;
	struct winsize ws;
	if (ro->tty && ((ioctl(0, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col) ||
			(ioctl(1, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col))) {
		ro->rows = ws.ws_row;
		ro->cols = ws.ws_col;
	}
}

/* Parses argv into a; returns 0, OPT_HELP, or EXIT_RUN_FAIL after a usage message. */
static int parse_args(struct run_args *a, int argc, char **argv)
{
	struct run_opts *ro = &a->ro;
	struct vm_flags vf = {ro, a->ports};
	struct opt tab[] = {
	    EXEC_OPTS_TABLE(&a->o),
	    OPT_STRING_(0, "rootfs", &ro->rootfs, "FILE", NULL),
	    OPT_FLAG_('d', "detach", &ro->detach, NULL),
	    OPT_CALL_(0, "name", opt_name, "NAME", NULL),
	    OPT_FLAG_(0, "rm", &ro->autoremove, NULL),
	    OPT_FLAG_('i', "interactive", &ro->interactive, NULL),
	    OPT_FLAG_('t', "tty", &ro->tty, NULL),
	    OPT_CALL_(0, "env-file", opt_env_file, "FILE", NULL),
	    OPT_STRING_(0, "entrypoint", &ro->entrypoint, "PROG", NULL),
	    OPT_STRING_('u', "user", &ro->user, "U[:G]", NULL),
	    OPT_CALL_('w', "workdir", opt_workdir, "DIR", NULL),
	    OPT_CALL_(0, "hostname", opt_hostname, "NAME", NULL),
	    OPT_CALL_(0, "add-host", opt_add_host, "HOST:IP", NULL),
	    OPT_STRING_(0, "restart", &ro->restart, "POLICY", NULL),
	    OPT_CALL_(0, "stop-signal", opt_stop_signal, "SIG", NULL),
	    OPT_CALL_(0, "stop-timeout", opt_stop_timeout, "SECS", NULL),
	    OPT_CALL_('v', "volume", opt_volume, "SRC:/PATH[:ro]", NULL),
	    OPT_VM_('m', "memory", vmflag_memory, &vf, "SIZE", NULL),
	    OPT_VM_('c', "cpus", vmflag_cpus, &vf, "N", NULL),
	    OPT_VM_('p', "publish", vmflag_publish, &vf, "PORTS", NULL),
	    OPT_VM_(0, "net", vmflag_net, &vf, "user|none", NULL),
	    OPT_STRING_(0, "kernel", &ro->kernel, "FILE|ID", NULL),
	    OPT_VM_(0, "cmdline", vmflag_cmdline, &vf, "ARGS", NULL),
	    OPT_VM_(0, "accel", vmflag_accel, &vf, "auto|kvm|tcg", NULL),
	    OPT_CALL_(0, "vmm", opt_vmm, "VMM", NULL),
	    OPT_CALL_(0, "timeout", opt_timeout, "SECS", NULL),
	    OPT_FLAG_(0, "verbose", &ro->verbose, NULL),
	    OPT_FLAG_('q', "quiet", &a->quiet, NULL),
	    OPT_FLAG_(0, "timing", &a->timing, NULL),
	    OPT_STRING_(0, "timeline", &a->timeline_svg_path, "FILE.svg", NULL),
	    OPT_FLAG_(0, "foreign-init", &ro->foreign_init, NULL),
	    OPT_FLAG_(0, "cold", &ro->cold, NULL),
	    OPT_CALL_(0, "seccomp", opt_seccomp, "errno|kill|off", NULL),
	    OPT_CALL_(0, "trace", opt_trace, "FILE", NULL),
	    OPT_FLAG_(0, "wait-ready", &a->wait_ready, NULL),
	    OPT_END_,
	};
	struct err e = {0};
	int r = opt_parse(tab, OPT_STOP_AT_ARG | OPT_KEEP_DASHDASH, argc, argv, a, &a->words, &e);
	if (r == 0)
		r = take_args(a, &a->words, &e);
	if (r == OPT_HELP)
		return r;
	fill_opts(a);
	if (r == 0 && a->wait_ready && !ro->detach)
		r = err_set(&e, CRUMB_EINVAL, "--wait-ready goes with -d");
	if (r == 0)
		r = runplan_check(ro, &e);
	if (r < 0)
		return cmd_usage_error("run", "%s", e.msg), EXIT_RUN_FAIL;
	return 0;
}

/* ---- the run ---- */

/* What one run needs besides its plan. */
struct run_ctx {
	struct run_args *a;
	struct run_plan p;
	int notify_fd; /* -d: the supervisor's pipe to its parent until the service starts */
	struct vm_klog klog;
};

static void on_event(void *ctx, const char *name, const struct vm_result *r)
{
	struct run_ctx *c = ctx;
	if (!strcmp(name, "spawn")) {
		atomic_store(&sig_qemu_pid, r->qemu_pid);
	} else if (!strcmp(name, "cold")) {
		/* the restore failed; the VM boots cold now */
		cmd_error("snapshot %.19s...: %s; booting cold", c->p.snap.digest, c->p.warm_why);
	} else if (!strcmp(name, c->a->wait_ready && c->p.cfg.nready ? "ready" : "exec") &&
		   c->notify_fd >= 0) {
		ignore(write(c->notify_fd, "ok\n", 3));
		close(c->notify_fd);
		c->notify_fd = -1;
	}
}

static const char *vmm_label(const struct run_ctx *c)
{
	return c->p.vc.vmm ? vm_vmm_name(c->p.vc.vmm) : "QEMU";
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
			       c->p.vc.timeout),
		       EXIT_RUN_TIMEOUT;
	if (!res->t_first_byte && res->qemu_status)
		return err_set(e, CRUMB_ECHILD, "%s failed (exit %d): %s", vmm_label(c),
			       res->qemu_status,
			       res->qemu_error[0] ? res->qemu_error : "no message"),
		       EXIT_RUN_FAIL;
	if (sig_count && res->qemu_status >= 128)
		return err_set(e, CRUMB_ECHILD, "the VM was killed"), 128 + SIGKILL;
	if (!res->t_init && res->unsigned_markers)
		return err_set(e, CRUMB_ECHILD,
			       "the VM stopped (%s exit %d): its %d marker(s) were not signed with "
			       "this run's key (a crumb-init older than this crumb, or one that "
			       "failed before reading its key: --verbose shows its messages)",
			       vmm_label(c), res->qemu_status, res->unsigned_markers),
		       EXIT_RUN_FAIL;
	return err_set(e, CRUMB_ECHILD,
		       "the VM stopped (%s exit %d) before the program finished%s%s", vmm_label(c),
		       res->qemu_status, res->qemu_error[0] ? ": " : "", res->qemu_error),
	       EXIT_RUN_FAIL;
}

/* Records the end; the exit status the run ends with. */
static int finish(struct run_ctx *c, const struct vm_result *res, struct err *e)
{
	int status = outcome(c, res, e);
	runplan_finish(&c->p, res, status == EXIT_RUN_FAIL ? -1 : status, e->msg);
	return status;
}

/* The detached supervisor: owns QEMU, logs its console, records its end. */
static void supervise(struct run_ctx *c)
{
	struct err e = {0};
	struct vm_result res;
	setsid();
	int null = open("/dev/null", O_RDWR);
	dup2(null, 0);
	dup2(c->p.log_fd, 1);
	dup2(c->p.log_fd, 2);
	if (null > 2)
		close(null);
	/* SIGTERM still asks the guest to stop (a new signal thread); the terminal is gone. */
	catch_signals(&e);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	c->p.st.supervisor_pid = (int)getpid();
	runplan_save_state(&c->p);
	if (runplan_boot(&c->p, NULL, NULL, &res, &e) < 0) {
		memset(&res, 0, sizeof(res));
		res.status = -1;
	} else {
		outcome(c, &res, &e);
	}
	if (c->notify_fd >= 0) {
		/* It never started: say why, leave nothing behind. */
		runplan_cleanup(&c->p, 0);
		char *m =
		    xasprintf("%s\n", e.msg[0] ? e.msg : "the VM ended before the service started");
		ignore(write(c->notify_fd, m, strlen(m)));
		free(m);
		_exit(EXIT_RUN_FAIL);
	}
	e.msg[0] = 0;
	finish(c, &res, &e);
	_exit(0);
}

/* Reads what the supervisor says until it closes the pipe. */
static void read_all(int fd, struct sbuf *msg)
{
	char buf[1024];
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		sb_add(msg, buf, (size_t)n);
	}
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
	close(c->p.lock_fd);
	c->p.lock_fd = -1;
	if (c->p.store_lock_fd >= 0) {
		close(c->p.store_lock_fd);
		c->p.store_lock_fd = -1;
	}
	struct sbuf msg = SBUF_INIT;
	read_all(p[0], &msg);
	close(p[0]);
	int r = 0;
	if (!strcmp(msg.buf, "ok\n")) {
		printf("%s\n", c->p.name);
	} else {
		/* The supervisor removed the directory; make sure of it if it died. */
		if (!msg.len)
			remove_tree(c->p.dir, NULL);
		msg.buf[strcspn(msg.buf, "\n")] = 0;
		err_set(e, CRUMB_ECHILD, "%s",
			msg.len ? msg.buf : "the VM's supervisor died before the service started");
		r = EXIT_RUN_FAIL;
	}
	sb_release(&msg);
	/* Nothing of this run is ours to clean any more. */
	runplan_disown(&c->p);
	return r;
}

/* A foreground run: QEMU's output here, its outcome as the exit status. */
static int foreground(struct run_ctx *c, struct err *e)
{
	struct run_args *a = c->a;
	struct vm_result res;
	if (a->timing || a->timeline_svg_path)
		c->p.vc.klog = &c->klog;
	if (a->ro.interactive && a->ro.tty)
		raw_mode();
	int vr = runplan_boot(&c->p, to_stdout, NULL, &res, e);
	restore_tty();
	if (vr < 0)
		return EXIT_RUN_FAIL;
	if (c->p.warm_used && (a->timing || !a->quiet))
		print_warm(&res, &c->p.wt, a->timing);
	else if (a->timing || a->timeline_svg_path)
		report_timeline(&res, &c->klog, a->timing, a->timeline_svg_path);
	else if (!a->quiet && res.t_init)
		print_timing(&res);
	if ((a->timing || a->ro.verbose) && !c->p.warm_used && !c->p.warm_failed &&
	    c->p.warm_why[0])
		fprintf(stderr, "crumb: %s\n", c->p.warm_why);
	if (a->ro.accel == ACCEL_AUTO && res.kvm_note[0] && a->ro.verbose)
		fprintf(stderr, "crumb: using TCG: %s\n", res.kvm_note);
	pthread_mutex_lock(&sig_lock);
	int r = finish(c, &res, e);
	pthread_mutex_unlock(&sig_lock);
	return r;
}

/* Plans and prepares the run (under sig_lock: the signal thread removes what
 * it made); then runs it. */
static int run(struct run_ctx *c, struct err *e)
{
	if (runplan_make(&c->p, &c->a->ro, e) < 0)
		return EXIT_RUN_FAIL;
	c->p.event = on_event;
	c->p.event_ctx = c;
	pthread_mutex_lock(&sig_lock);
	int r = runplan_prepare(&c->p, e);
	sig_track(&c->p);
	pthread_mutex_unlock(&sig_lock);
	if (r < 0)
		return EXIT_RUN_FAIL;
	return c->a->ro.detach ? detach(c, e) : foreground(c, e);
}

int cmd_run(int argc, char **argv)
{
	struct run_args a = {.o = {.compress = COMPRESS_NONE},
			     .ro = {.stop_timeout = -1, .net = 1, .accel = ACCEL_AUTO}};
	struct run_ctx c = {.a = &a, .notify_fd = -1, .klog = VM_KLOG_INIT};
	struct err e = {0};
	runplan_init(&c.p);
	int r = parse_args(&a, argc, argv);
	if (r == OPT_HELP)
		r = cmd_print_usage("run");
	else if (r == 0 && catch_signals(&e) < 0)
		r = EXIT_RUN_FAIL;
	else if (r == 0)
		r = run(&c, &e);
	if (e.msg[0])
		cmd_error_err(&e);
	sig_untrack();
	/* Whatever is still the run's failed before QEMU ran: nothing to keep. */
	runplan_cleanup(&c.p, 0);
	runplan_release(&c.p);
	vm_klog_release(&c.klog);
	exec_opts_release(&a.o);
	strlist_release(&a.volumes);
	strlist_release(&a.hosts);
	free(a.trace);
	strlist_release(&a.words);
	return r;
}

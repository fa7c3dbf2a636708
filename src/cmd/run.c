/* run.c: `crumb run --exec`: pack a host program into an initramfs and boot it under QEMU microvm. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/archive.h"
#include "../lib/kernel.h"
#include "../lib/store.h"
#include "../lib/vmm.h"
#include "cmd.h"

const char usage_run[] =
	"usage: crumb run --exec PATH [--add HOSTPATH[:GUESTPATH]]... [OPTIONS] [-- ARGS...]\n"
	"       crumb run --rootfs FILE [OPTIONS]\n"
	"\n"
	"Boots a microVM whose root filesystem (an initramfs) holds the host program PATH\n"
	"(an ELF executable or a #! script: its interpreter comes along), the shared\n"
	"libraries it needs, the --add files or directories (an interpreter's standard\n"
	"library, data files) and crumb-init, which runs PATH ARGS... as the only service.\n"
	"The program's output is streamed; crumb exits with its exit status. A line on\n"
	"stderr gives the boot times measured on the host.\n"
	"\n"
	"With --rootfs, boots a root filesystem made by 'crumb pack' (or 'crumb mkfs' from\n"
	"one): a cpio archive becomes the initramfs, an ext2/3/4 image the root disk\n"
	"(virtio-blk, opened as a snapshot: the file is never changed by the run).\n"
	"\n"
	"Options:\n"
	"  --rootfs FILE       boot this cpio (any compression) or ext4 image\n"
	"  --exec PATH         the program to run (host path, kept at the same path)\n"
	"  --add H[:G]         also copy host file or directory H (to guest path G)\n"
	"  -e, --env K=V       set an environment variable for the program\n"
	"  -m, --memory SIZE   guest memory, e.g. 256M or 1G (default: what the root\n"
	"                      filesystem needs plus headroom; too small is refused)\n"
	"  -c, --cpus N        virtual CPUs (default 1)\n"
	"  -p, --publish [HOSTIP:]HOSTPORT:GUESTPORT[/udp]\n"
	"                      forward a host port (on 127.0.0.1 unless HOSTIP is given)\n"
	"                      to the guest; a port already in use is refused\n"
	"  --net user|none     the guest's eth0 on QEMU user networking (default: user;\n"
	"                      10.0.2.15/24, gateway 10.0.2.2, DNS 10.0.2.3) or no card\n"
	"  --kernel FILE       boot this PVH vmlinux instead of the crumb kernel\n"
	"  --cmdline ARGS      extra kernel command line\n"
	"  --accel auto|kvm|tcg  accelerator (default auto: KVM only if it really boots)\n"
	"  --timeout SECS      kill the VM after SECS seconds (exit status 124)\n"
	"  --env-file FILE     NAME=VALUE lines ('#' comments, blank lines) for -e\n"
	"  --compress none|gzip|zstd  initramfs compression (default none: faster boot)\n"
	"  -v, --verbose       show the kernel's messages too\n"
	"  -q, --quiet         no boot-time line\n"
	"\n"
	"Exit status: the program's; 123 if the guest kernel panicked; 124 if --timeout\n"
	"expired; 125 if crumb or the VM failed; 126/127 if the program could not be\n"
	"executed/found in the VM; 128+N if it was killed by signal N.\n";

/*
 * Guest memory a root filesystem needs. The initramfs is unpacked into a
 * tmpfs, which Linux caps at half of the memory it sees, while the archive
 * itself still occupies memory: so need = 2 x files (+6% metadata) + archive +
 * the kernel's own. Measured with the crumb kernel under TCG (bisection on
 * -m): /bin/true (2.2 MB archive) boots in 32M, not 24M; python3 + its
 * stdlib (60 MB of files) in 208M uncompressed (not 192M) and in 176M from a
 * 19 MB gzip archive (not 160M). A kernel share of 24 MiB puts all six on the
 * right side.
 */
#define KERNEL_MB 24u
#define HEADROOM_MB 64u

static unsigned need_mb(unsigned long long archive, unsigned long long content)
{
	unsigned long long bytes = archive + content * 2 + content * 6 / 100;
	return KERNEL_MB + (unsigned)((bytes + (1 << 20) - 1) >> 20);
}

static int parse_mem(const char *s, unsigned *mb)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || v == 0)
		return -1;
	if (!*end || !strcasecmp(end, "m") || !strcasecmp(end, "mb") || !strcasecmp(end, "mib"))
		;
	else if (!strcasecmp(end, "g") || !strcasecmp(end, "gb") || !strcasecmp(end, "gib"))
		v *= 1024;
	else
		return -1;
	if (v > 1024 * 1024)
		return -1;
	*mb = (unsigned)v;
	return 0;
}

static void to_stdout(void *ctx, const char *buf, size_t n)
{
	fwrite(buf, 1, n, stdout);
	fflush(stdout);
}

/* Interrupted runs must not leave the temporary initramfs behind. */
static char tmp_file[4096], tmp_dir[4096];
static void on_signal(int sig)
{
	if (tmp_file[0])
		unlink(tmp_file);
	if (tmp_dir[0])
		rmdir(tmp_dir);
	signal(sig, SIG_DFL);
	raise(sig);
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
	const char *base = getenv("XDG_RUNTIME_DIR");
	struct stat st;
	if (!base || !*base || stat(base, &st) < 0 || access(base, W_OK) < 0)
		base = getenv("TMPDIR");
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
	if (r->t_exit && r->t_exec)
		fprintf(stderr, ", exec→exit %.3fs", r->t_exit - r->t_exec);
	if (r->t_exit)
		fprintf(stderr, ", exit→qemu gone %.3fs", end - r->t_exit);
	fprintf(stderr, "; total %.3fs (guest clock at init %.3fs)\n", end - r->t_spawn,
		r->g_init);
}

int cmd_run(int argc, char **argv)
{
	struct exec_opts o = {.compress = COMPRESS_NONE};
	struct vm_config vc = {.accel = ACCEL_AUTO};
	const char *rootfs = NULL;
	struct vm_port ports[64];
	size_t nports = 0;
	vc.net = 1;
	unsigned mem = 0;
	int quiet = 0, i, r, bad = 0;
	const char *v;
	struct err e = {0};

	for (i = 1; i < argc; i++) {
		if ((r = exec_opts_take(&o, "run", argc, argv, &i)) == 1)
			continue;
		if (r == EXEC_OPTS_HELP) {
			exec_opts_release(&o);
			return cmd_print_usage("run");
		}
		if (r)
			goto usage;
		if ((v = opt_value("-m", argc, argv, &i, &bad)) ||
		    (!bad && (v = opt_value("--memory", argc, argv, &i, &bad)))) {
			if (parse_mem(v, &mem) < 0) {
				r = cmd_usage_error("run", "bad memory size '%s' (e.g. 256M, 1G)", v);
				goto usage;
			}
		} else if (!bad && ((v = opt_value("-c", argc, argv, &i, &bad)) ||
				    (!bad && (v = opt_value("--cpus", argc, argv, &i, &bad))))) {
			char *end;
			long n = strtol(v, &end, 10);
			if (*end || n < 1 || n > 16) {
				r = cmd_usage_error("run", "bad CPU count '%s' (1 to 16)", v);
				goto usage;
			}
			vc.cpus = (unsigned)n;
		} else if (!bad && ((v = opt_value("-p", argc, argv, &i, &bad)) ||
				    (!bad && (v = opt_value("--publish", argc, argv, &i, &bad))))) {
			if (nports == sizeof(ports) / sizeof(ports[0])) {
				r = cmd_usage_error("run", "too many -p");
				goto usage;
			}
			if (vm_port_parse(v, &ports[nports++], &e) < 0) {
				r = cmd_usage_error("run", "%s", e.msg);
				goto usage;
			}
		} else if (!bad && (v = opt_value("--timeout", argc, argv, &i, &bad))) {
			char *end;
			double t = strtod(v, &end);
			if (*end || end == v || !(t > 0) || t > 1e7) {
				r = cmd_usage_error("run", "--timeout %s: want seconds > 0", v);
				goto usage;
			}
			vc.timeout = t;
		} else if (!bad && (v = opt_value("--env-file", argc, argv, &i, &bad))) {
			if ((r = read_env_file(v, &o.env)))
				goto usage;
		} else if (!bad && (v = opt_value("--net", argc, argv, &i, &bad))) {
			if (strcmp(v, "user") && strcmp(v, "none")) {
				r = cmd_usage_error("run", "--net %s: want user or none", v);
				goto usage;
			}
			vc.net = !strcmp(v, "user");
		} else if (!bad && (v = opt_value("--rootfs", argc, argv, &i, &bad))) {
			rootfs = v;
		} else if (!bad && (v = opt_value("--kernel", argc, argv, &i, &bad))) {
			vc.kernel = v;
		} else if (!bad && (v = opt_value("--cmdline", argc, argv, &i, &bad))) {
			vc.cmdline = v;
		} else if (!bad && (v = opt_value("--accel", argc, argv, &i, &bad))) {
			if (accel_parse(v, &vc.accel, &e) < 0) {
				r = cmd_usage_error("run", "%s", e.msg);
				goto usage;
			}
		} else if (!bad && (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose"))) {
			vc.verbose = 1;
		} else if (!bad && (!strcmp(argv[i], "-q") || !strcmp(argv[i], "--quiet"))) {
			quiet = 1;
		} else if (bad) {
			r = cmd_usage_error("run", "%s needs a value", argv[i]);
			goto usage;
		} else if (argv[i][0] == '-') {
			r = cmd_usage_error("run", "unknown option '%s'", argv[i]);
			goto usage;
		} else {
			r = cmd_usage_error("run", "running images is not supported yet: use --exec PATH"
						   " (unexpected '%s')", argv[i]);
			goto usage;
		}
	}
	if (!o.program == !rootfs) {
		r = cmd_usage_error("run", "give one of --exec PATH or --rootfs FILE");
		goto usage;
	}
	if (rootfs && (o.adds.n || o.args.n || o.env.n)) {
		r = cmd_usage_error("run", "--add, -e and ARGS go with --exec, not --rootfs");
		goto usage;
	}
	if (nports && !vc.net) {
		r = cmd_usage_error("run", "-p needs a network (--net user)");
		goto usage;
	}
	vc.ports = ports;
	vc.nports = nports;
	r = EXIT_RUN_FAIL;

	/* Everything that can be missing is checked before any work is done. */
	char *store = NULL, *qemu = NULL, *tmp = NULL, *initrd = NULL;
	struct kernel_info ki = {0};
	if (store_root(&store, &e) < 0 || vm_find_qemu(NULL, &qemu, &e) < 0)
		goto fail;
	for (size_t k = 0; k < nports; k++)
		if (vm_port_check(&ports[k], &e) < 0)
			goto fail;
	if (vc.kernel) {
		struct stat st;
		if (stat(vc.kernel, &st) < 0) {
			err_errno(&e, CRUMB_ENOENT, "kernel %s", vc.kernel);
			goto fail;
		}
	} else {
		struct kernel_opts ko = {0};
		if (kernel_lookup(store, &ko, &ki, &e) < 0) {
			err_set(&e, CRUMB_ENOENT,
				"no crumb kernel in the store (%s): run 'crumb kernel build' first "
				"(about 9 minutes, once), or pass --kernel FILE",
				store);
			goto fail;
		}
		vc.kernel = ki.vmlinux;
	}
	struct stat st;
	unsigned long long archive = 0, content = 0;
	int is_disk = 0;
	if (rootfs) {
		if ((is_disk = is_ext_image(rootfs, &e)) < 0)
			goto fail;
		if (!is_disk) {
			uint64_t bytes;
			if (archive_content_size(rootfs, &bytes, &e) < 0)
				goto fail;
			stat(rootfs, &st);
			archive = (unsigned long long)st.st_size;
			content = bytes;
		}
	} else {
		if (!(tmp = make_tmpdir())) {
			err_errno(&e, CRUMB_EIO, "cannot create a temporary directory");
			goto fail;
		}
		initrd = xasprintf("%s/rootfs.cpio", tmp);
		snprintf(tmp_dir, sizeof(tmp_dir), "%s", tmp);
		snprintf(tmp_file, sizeof(tmp_file), "%s", initrd);
		signal(SIGINT, on_signal);
		signal(SIGTERM, on_signal);
		signal(SIGHUP, on_signal);
		if (exec_opts_pack(&o, initrd, &content)) {
			e.msg[0] = 0; /* already reported */
			goto fail;
		}
		stat(initrd, &st);
		archive = (unsigned long long)st.st_size;
	}
	unsigned need = need_mb(archive, content);
	if (mem && mem < need) {
		err_set(&e, CRUMB_EINVAL,
			"-m %uM is too small: this root filesystem needs at least %uM (%.1f MB of "
			"files, unpacked into a tmpfs capped at half the memory, from a %.1f MB archive)",
			mem, need, content / 1e6, archive / 1e6);
		goto fail;
	}
	vc.mem_mb = mem ? mem : ((need + HEADROOM_MB + 15) / 16) * 16;
	if (vc.mem_mb < 128 && !mem)
		vc.mem_mb = 128;
	if (is_disk)
		vc.disk = rootfs;
	else
		vc.initrd = rootfs ? rootfs : initrd;
	vc.state_dir = store;

	struct vm_result res;
	if (vm_run(&vc, to_stdout, NULL, &res, &e) < 0)
		goto fail;
	if (!quiet && res.t_init)
		print_timing(&res);
	if (vc.accel == ACCEL_AUTO && res.kvm_note[0] && vc.verbose)
		fprintf(stderr, "crumb: using TCG: %s\n", res.kvm_note);
	if (res.init_error[0]) {
		err_set(&e, CRUMB_ECHILD, "crumb-init failed in the VM: %s", res.init_error);
	} else if (res.panic[0]) {
		err_set(&e, CRUMB_ECHILD, "the guest kernel panicked: %s", res.panic);
		r = EXIT_RUN_PANIC;
	} else if (res.status >= 0) {
		r = res.status;
		e.msg[0] = 0;
	} else if (res.timed_out) {
		err_set(&e, CRUMB_ECHILD, "--timeout: the VM was still running after %gs; killed",
			vc.timeout);
		r = EXIT_RUN_TIMEOUT;
	} else if (!res.t_first_byte && res.qemu_status) {
		err_set(&e, CRUMB_ECHILD, "QEMU failed (exit %d): %s", res.qemu_status,
			res.qemu_error[0] ? res.qemu_error : "no message");
	} else {
		err_set(&e, CRUMB_ECHILD,
			"the VM stopped (QEMU exit %d) before the program finished%s%s",
			res.qemu_status, res.qemu_error[0] ? ": " : "", res.qemu_error);
	}
fail:
	if (e.msg[0])
		cmd_error_err(&e);
	if (initrd)
		unlink(initrd);
	if (tmp)
		rmdir(tmp);
	tmp_file[0] = tmp_dir[0] = 0;
	free(initrd);
	free(tmp);
	free(store);
	free(qemu);
	kernel_info_release(&ki);
	exec_opts_release(&o);
	return r;
usage:
	exec_opts_release(&o);
	return r == EXIT_USAGE ? EXIT_RUN_FAIL : r;
}

/* minimize.c: `crumb minimize`: traces an image's service once (crumb run --trace), drives it
 * with the user's probes, and writes the image cut down to what the trace saw. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>

#include "../lib/minimize.h"
#include "../lib/oci.h"
#include "../lib/runcfg.h"
#include "../lib/runplan.h"
#include "../lib/store.h"
#include "../lib/sysfilter.h"
#include "../lib/trace.h"
#include "cmd.h"

const char usage_minimize[] =
    "usage: crumb minimize [OPTIONS] IMAGE\n"
    "\n"
    "Boots IMAGE once with its service traced by crumb-init (every thread and child:\n"
    "the system calls made, the files opened, executed, mapped or looked at, the socket\n"
    "families), waits until the service is ready (its exposed TCP ports listen, each\n"
    "published on a free host port), runs each --probe on the host, stops the service,\n"
    "and stores a new image holding only the files the trace saw (plus every directory\n"
    "and device node, crumb-init and its config, /etc/passwd and /etc/group, and --keep)\n"
    "with a system-call allowlist, LABEL crumb.seccomp, that crumb-init installs before it\n"
    "execs the service: a call outside it fails with EPERM and is named on the console\n"
    "('crumb run --seccomp kill|off' to change that). An image without ports and without\n"
    "probes runs to its end instead. Whatever the probes do not exercise is not in the\n"
    "trace: drive every feature the service must keep, or --keep what it needs.\n"
    "The same image, probes and crumb give the same minimised image.\n"
    "\n"
    "In a probe, {port} is the host port of the image's first exposed TCP port,\n"
    "{port:N} that of guest port N, {host} 127.0.0.1. A probe that fails ends the\n"
    "minimisation (nothing is stored).\n";

struct min_args {
	const char *tag, *trace_in, *save_trace, *mem;
	struct strlist probes, keep, allow;
	int no_seccomp, all_files;
	double timeout;
};

static int opt_timeout(const struct opt *o, const char *v, void *ctx, struct err *e)
{
	(void)o;
	char *end;
	double t = strtod(v, &end);
	if (*end || !(t > 0) || t > 86400)
		return err_set(e, CRUMB_EINVAL, "--timeout %s: want seconds, 0 < SECS <= 86400", v);
	((struct min_args *)ctx)->timeout = t;
	return 0;
}

/* A free TCP port on 127.0.0.1 (the kernel's pick); 0 when none. */
static unsigned free_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof(a);
	unsigned p = 0;
	if (s >= 0 && bind(s, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(s, (struct sockaddr *)&a, &l) == 0)
		p = ntohs(a.sin_port);
	if (s >= 0)
		close(s);
	return p;
}

/* Runs argv (argv[0] a path), stdout to /dev/null when quiet; its exit status, 128+N for a
 * signal, -1 when it could not start. */
static int spawn(char *const argv[], int quiet)
{
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (quiet) {
			int fd = open("/dev/null", O_WRONLY);
			if (fd >= 0)
				dup2(fd, 1);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* The probe with {port}, {port:N} and {host} replaced; NULL (message printed) for a guest
 * port nobody published. */
static char *expand(const char *probe, const unsigned *guest, const unsigned *host, size_t n)
{
	struct sbuf sb = SBUF_INIT;
	for (const char *p = probe; *p;) {
		unsigned g = 0;
		int used = 0;
		if (!strncmp(p, "{host}", 6)) {
			sb_adds(&sb, "127.0.0.1");
			p += 6;
			continue;
		}
		if (!strncmp(p, "{port}", 6)) {
			if (!n) {
				cmd_error("--probe %s: {port}: the image exposes no TCP port",
					  probe);
				sb_release(&sb);
				return NULL;
			}
			sb_addf(&sb, "%u", host[0]);
			p += 6;
			continue;
		}
		if (sscanf(p, "{port:%u}%n", &g, &used) == 1 && used > 0) {
			size_t k = 0;
			while (k < n && guest[k] != g)
				k++;
			if (k == n) {
				cmd_error(
				    "--probe %s: {port:%u}: the image does not expose TCP port %u",
				    probe, g, g);
				sb_release(&sb);
				return NULL;
			}
			sb_addf(&sb, "%u", host[k]);
			p += used;
			continue;
		}
		sb_addc(&sb, *p++);
	}
	return sb_detach(&sb);
}

/* Boots the image traced into trace_path, drives it, stops it; 0 or an exit status. */
static int trace_run(const struct min_args *a, const char *image, const struct oci_config *cfg,
		     const char *trace_path)
{
	char self[4096];
	ssize_t sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (sl <= 0) {
		cmd_error("cannot find crumb's own binary (/proc/self/exe)");
		return EXIT_FAIL;
	}
	self[sl] = 0;
	unsigned guest[RUNPLAN_MAX_PORTS], host[RUNPLAN_MAX_PORTS];
	size_t n = runcfg_ready_ports(&cfg->exposed, guest, RUNPLAN_MAX_PORTS);
	struct strlist av = STRLIST_INIT;
	char name[64], timeout[32];
	snprintf(name, sizeof(name), "minimize-%d", (int)getpid());
	snprintf(timeout, sizeof(timeout), "%g", a->timeout);
	int detached = n || a->probes.n;
	strlist_push(&av, self);
	strlist_push(&av, "run");
	if (detached) {
		/* --rm: a minimize killed here leaves a VM that ends at --timeout, then goes */
		strlist_push(&av, "-d");
		strlist_push(&av, "--rm");
		strlist_push(&av, "--wait-ready");
		strlist_push(&av, "--name");
		strlist_push(&av, name);
	}
	strlist_push(&av, "--trace");
	strlist_push(&av, trace_path);
	strlist_push(&av, "--seccomp");
	strlist_push(&av, "off");
	strlist_push(&av, "--timeout");
	strlist_push(&av, timeout);
	if (a->mem) {
		strlist_push(&av, "-m");
		strlist_push(&av, a->mem);
	}
	for (size_t k = 0; k < n; k++) {
		host[k] = free_port();
		if (!host[k]) {
			cmd_error("no free TCP port on 127.0.0.1 for guest port %u", guest[k]);
			strlist_release(&av);
			return EXIT_FAIL;
		}
		strlist_push(&av, "-p");
		strlist_push_owned(&av, xasprintf("127.0.0.1:%u:%u", host[k], guest[k]));
	}
	strlist_push(&av, image);
	strlist_push_owned(&av, NULL);
	fprintf(stderr, "crumb: tracing %s%s\n", image,
		detached ? " (until ready, then the probes)" : " (to its end)");
	int st = spawn(av.v, detached);
	strlist_release(&av);
	if (!detached) {
		/* 123 panic, 124 --timeout, 125 crumb or the VM failed: no whole trace */
		if (st < 0 || (st >= 123 && st <= 125)) {
			cmd_error("the traced run of %s failed (crumb run exit %d)", image, st);
			return EXIT_FAIL;
		}
		if (st)
			fprintf(stderr, "crumb: the traced service exited with status %d\n", st);
		return 0;
	}
	if (st) {
		cmd_error("the traced run of %s did not get ready (crumb run exit %d)", image, st);
		return EXIT_FAIL;
	}
	int failed = 0;
	for (size_t k = 0; k < a->probes.n && !failed; k++) {
		char *cmd = expand(a->probes.v[k], guest, host, n);
		if (!cmd) {
			failed = EXIT_USAGE;
			break;
		}
		fprintf(stderr, "crumb: probe: %s\n", cmd);
		char *pv[] = {"/bin/sh", "-c", cmd, NULL};
		int ps = spawn(pv, 0);
		if (ps) {
			cmd_error("probe '%s' failed (exit %d): nothing stored", cmd, ps);
			failed = EXIT_FAIL;
		}
		free(cmd);
	}
	char *stop[] = {self, "stop", name, NULL}, *rm[] = {self, "rm", "-f", name, NULL};
	int ss = spawn(stop, 1);
	spawn(rm, 1);
	if (!failed && ss) {
		cmd_error("could not stop the traced run %s (crumb stop exit %d)", name, ss);
		failed = EXIT_FAIL;
	}
	return failed;
}

static void print_report(const struct min_args *a, const struct minimize_result *r,
			 const struct trace *t, const char *image)
{
	unsigned total = 0;
	for (int nr = 0; nr < 1024; nr++) {
		char *nm = sysfilter_syscall_name(nr);
		total += nm != NULL;
		free(nm);
	}
	printf("traced: %zu processes, %zu system calls, %zu paths, %zu executed\n", t->nprocs,
	       t->syscalls.n, t->files.n, t->execs.n);
	printf("files:  %llu -> %llu (%.2f MB -> %.2f MB of content)\n",
	       (unsigned long long)r->files_before, (unsigned long long)r->files_after,
	       (double)r->bytes_before / 1e6, (double)r->bytes_after / 1e6);
	printf("rootfs: %.2f MB -> %.2f MB stored; image %.2f MB -> %.2f MB\n",
	       (double)r->stored_before / 1e6, (double)r->stored_after / 1e6,
	       (double)r->image_before / 1e6, (double)r->image_after / 1e6);
	if (r->allowlist)
		printf("system calls allowed: %zu of %u: %s (and always: %s)\n", r->nsyscalls,
		       total, r->allowlist, SYSFILTER_IMPLICIT);
	else
		printf("system calls: no allowlist (--no-seccomp)\n");
	for (size_t k = 0; k < r->unknown_calls.n; k++)
		printf("note: the trace names '%s', which libseccomp does not know: not allowed\n",
		       r->unknown_calls.v[k]);
	printf("kernel: %s\n", r->features);
	printf("%s %s (from %s)\n", a->tag ? a->tag : "(untagged)", r->manifest.digest, image);
}

/* IMAGE's name with "-min" after its tag. */
static char *default_tag(const char *image)
{
	char *norm = NULL;
	struct err e;
	if (strchr(image, '@') || oci_ref_normalize(image, &norm, &e) < 0) {
		free(norm);
		return NULL;
	}
	char *t = xasprintf("%s-min", norm);
	free(norm);
	return t;
}

static int minimize(struct min_args *a, const char *image)
{
	struct err e = {0};
	char *root = NULL, *dir = NULL, *trace_path = NULL, *tag = NULL;
	struct oci_store *s = NULL;
	struct oci_image im = {0};
	struct trace t;
	struct minimize_result res = {0};
	int st = EXIT_FAIL;
	trace_init(&t);
	if (store_root(cmd_env(), &root, &e) < 0 || oci_open(root, &s, &e) < 0 ||
	    oci_image_resolve(s, image, &im, &e) < 0)
		goto fail;
	if (!a->tag && !(tag = default_tag(image))) {
		cmd_usage_error("minimize", "IMAGE %s has no name to add -min to: give -t", image);
		st = EXIT_USAGE;
		goto out;
	}
	if (a->trace_in) {
		trace_path = xstrdup(a->trace_in);
	} else {
		/* build-PID-: the next crumb build sweeps it if this one is killed */
		dir = xasprintf("%s/tmp/build-%d-XXXXXX", root, (int)getpid());
		if (mkdir_p(dir, 0700, &e) < 0)
			goto fail;
		rmdir(dir);
		if (!mkdtemp(dir)) {
			err_errno(&e, CRUMB_EIO, "mkdtemp %s", dir);
			goto fail;
		}
		trace_path = xasprintf("%s/trace", dir);
		if ((st = trace_run(a, image, &im.cfg, trace_path)) != 0)
			goto out;
		st = EXIT_FAIL;
		if (a->save_trace) {
			char *cp[] = {"/bin/cp", trace_path, (char *)a->save_trace, NULL};
			if (spawn(cp, 0)) {
				err_set(&e, CRUMB_EIO, "--save-trace %s: could not copy the trace",
					a->save_trace);
				goto fail;
			}
		}
	}
	if (trace_read(trace_path, &t, &e) < 0)
		goto fail;
	struct minimize_opts mo = {.image = im.manifest.digest,
				   .tag = a->tag ? a->tag : tag,
				   .trace = &t,
				   .keep = &a->keep,
				   .allow = &a->allow,
				   .all_files = a->all_files,
				   .no_seccomp = a->no_seccomp};
	if (minimize_image(s, &mo, &res, &e) < 0)
		goto fail;
	a->tag = mo.tag;
	print_report(a, &res, &t, image);
	st = 0;
	goto out;
fail:
	cmd_error_err(&e);
out:
	if (dir) {
		if (trace_path && !a->trace_in)
			unlink(trace_path);
		rmdir(dir);
	}
	minimize_result_release(&res);
	trace_release(&t);
	oci_image_release(&im);
	if (s)
		oci_close(s);
	free(trace_path);
	free(dir);
	free(root);
	free(tag);
	return st;
}

int cmd_minimize(int argc, char **argv)
{
	struct min_args a = {.timeout = 300};
	struct strlist args = STRLIST_INIT;
	const struct opt tab[] = {
	    OPT_STRING_('t', "tag", &a.tag, "NAME[:TAG]",
			"the minimised image's name (default: IMAGE's, tag TAG-min)"),
	    OPT_LIST_(0, "probe", &a.probes, "CMD",
		      "a host shell command run once the service is ready (repeatable)"),
	    OPT_LIST_(0, "keep", &a.keep, "GLOB",
		      "also keep guest paths matching GLOB ('*' crosses '/'; repeatable)"),
	    OPT_LIST_(0, "allow", &a.allow, "CALLS",
		      "also allow these system calls (crumb.seccomp syntax; repeatable)"),
	    OPT_FLAG_(0, "no-seccomp", &a.no_seccomp, "cut the files only: no allowlist"),
	    OPT_FLAG_(0, "all-files", &a.all_files, "keep every file: only add the allowlist"),
	    OPT_STRING_(0, "trace", &a.trace_in, "FILE",
			"use this trace ('crumb run --trace') instead of tracing a run"),
	    OPT_STRING_(0, "save-trace", &a.save_trace, "FILE", "keep the trace run's records"),
	    OPT_STRING_('m', "memory", &a.mem, "SIZE", "guest memory for the trace run"),
	    OPT_CALL_(0, "timeout", opt_timeout, "SECS",
		      "the trace run's time limit (default 300)"),
	    OPT_END_,
	};
	struct cmd_opts p = {.verb = "minimize", .tab = tab, .ctx = &a};
	int status;
	if (cmd_parse(&p, argc, argv, &args, &status))
		return status;
	int r;
	if (args.n != 1) {
		r = cmd_usage_error("minimize", "want one IMAGE");
	} else if (a.trace_in && (a.probes.n || a.save_trace || a.mem)) {
		r = cmd_usage_error("minimize",
				    "--trace reads a trace: --probe, --save-trace and -m go with a "
				    "trace run");
	} else if (a.no_seccomp && a.all_files) {
		r = cmd_usage_error("minimize", "--no-seccomp and --all-files leave nothing to do");
	} else {
		struct sysfilter f;
		struct err e = {0};
		sysfilter_init(&f);
		r = 0;
		for (size_t k = 0; k < a.allow.n && r == 0; k++)
			if (sysfilter_parse(a.allow.v[k], &f, &e) < 0)
				r = cmd_usage_error("minimize", "--allow %s: %s", a.allow.v[k],
						    e.msg);
		sysfilter_release(&f);
		if (r == 0)
			r = minimize(&a, args.v[0]);
	}
	strlist_release(&args);
	strlist_release(&a.probes);
	strlist_release(&a.keep);
	strlist_release(&a.allow);
	return r;
}

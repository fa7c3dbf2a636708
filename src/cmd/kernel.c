/* kernel.c: `crumb kernel build|ls|path`: the crumb kernel, built from Debian's linux-source. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../lib/kernel.h"
#include "../lib/store.h"
#include "cmd.h"

const char usage_kernel[] =
    "usage: crumb kernel build [-v] [-j N] [--source TARBALL] [--fragment FILE]\n"
    "       crumb kernel ls\n"
    "       crumb kernel path\n"
    "\n"
    "build  builds the crumb kernel: `make tinyconfig` of Debian's linux-source-6.1\n"
    "       (" KERNEL_DEFAULT_TARBALL ") with crumb's patches\n"
    "       (kernel/patches/) and config fragment (kernel/crumb.config), both\n"
    "       compiled into crumb; checks that every option of the fragment holds in\n"
    "       the final .config, and stores the PVH vmlinux in\n"
    "       $CRUMB_HOME/kernels/ID, its sha256 recorded in ID/info and checked\n"
    "       whenever it is used. ID hashes the source tarball's identity, the\n"
    "       patches and the fragment, so a second build of the same is instant.\n"
    "       Takes about 9 minutes on 2 cores. Its options are listed below.\n"
    "ls     lists the kernels in the store (the default one is marked *).\n"
    "path   prints the default kernel's vmlinux path (fails if it is not built).\n";

struct progress {
	int verbose, tty, lines;
	double t0;
};

static void on_progress(void *ctx, const char *line)
{
	struct progress *p = ctx;
	if (!strncmp(line, "== ", 3)) {
		if (p->tty && !p->verbose)
			fputs("\r\033[K", stderr);
		fprintf(stderr, "crumb: kernel: %s\n", line + 3);
		return;
	}
	p->lines++;
	if (p->verbose) {
		fprintf(stderr, "%s\n", line);
	} else if (p->tty) {
		fprintf(stderr, "\r\033[K  %5.0fs  %.60s", now_monotonic() - p->t0, line);
	} else if (p->lines % 200 == 0) {
		fprintf(stderr, "  %5.0fs  %d steps\n", now_monotonic() - p->t0, p->lines);
	}
}

/* What `crumb kernel build`'s options set. */
struct kbuild {
	struct kernel_opts o;
	struct progress p;
	const char *fragment; /* --fragment FILE */
};

static int take_jobs(const struct opt *opt, const char *v, void *ctx, struct err *e)
{
	struct kbuild *k = ctx;
	(void)opt;
	k->o.jobs = atoi(v);
	if (k->o.jobs <= 0)
		return err_set(e, CRUMB_EINVAL, "bad -j value '%s'", v);
	return 0;
}

enum { KBUILD_NOPTS = 5 };

/* Fills tab with `kernel build`'s options, which store into k (the callbacks' ctx). */
static void kbuild_table(struct kbuild *k, struct opt tab[KBUILD_NOPTS])
{
	const struct opt t[KBUILD_NOPTS] = {
	    OPT_FLAG_('v', NULL, &k->p.verbose, "show make's output instead of a progress line"),
	    OPT_CALL_('j', NULL, take_jobs, "N", "parallel jobs (default: the number of CPUs)"),
	    OPT_STRING_(0, "source", &k->o.tarball, "TARBALL", "another linux-source tarball"),
	    OPT_STRING_(0, "fragment", &k->fragment, "FILE", "another config fragment"),
	    OPT_END_,
	};
	memcpy(tab, t, sizeof(t));
}

/* `crumb kernel build [OPTIONS]`: argv[0] is "build". */
static int kernel_build_cmd(int argc, char **argv, const char *store)
{
	struct kbuild k = {.p = {.tty = isatty(2), .t0 = now_monotonic()}};
	struct opt tab[KBUILD_NOPTS];
	struct strlist args = STRLIST_INIT;
	struct sbuf frag = SBUF_INIT;
	struct err e = {0};
	int r;
	kbuild_table(&k, tab);
	struct cmd_opts p = {.verb = "kernel",
			     .tab = tab,
			     .unknown = "unexpected argument",
			     .ctx = &k,
			     .no_args = 1};
	if (cmd_parse(&p, argc, argv, &args, &r))
		return r;
	if (k.fragment) {
		if (read_file(k.fragment, 1 << 20, &frag, &e) < 0) {
			cmd_error_err(&e);
			return EXIT_FAIL;
		}
		k.o.fragment = frag.buf;
	}
	k.o.progress = on_progress;
	k.o.ctx = &k.p;
	struct kernel_info ki;
	int cached = 0;
	r = kernel_build(store, &k.o, &ki, &cached, &e);
	if (k.p.tty && !k.p.verbose)
		fputs("\r\033[K", stderr);
	sb_release(&frag);
	if (r < 0) {
		cmd_error_err(&e);
		return EXIT_FAIL;
	}
	if (cached)
		fprintf(stderr, "crumb: kernel %s (Linux %s) is already built\n", ki.id,
			ki.release);
	else
		fprintf(stderr, "crumb: built kernel %s (Linux %s) in %.0fs: vmlinux %.1f MB\n",
			ki.id, ki.release, ki.build_seconds, ki.size / 1e6);
	printf("%s\n", ki.vmlinux);
	kernel_info_release(&ki);
	return 0;
}

static int kernel_ls(const char *store)
{
	struct kernel_info *list, def = {0};
	size_t n;
	struct err e = {0};
	struct kernel_opts o = {0};
	if (kernel_list(store, &list, &n, &e) < 0) {
		cmd_error_err(&e);
		return EXIT_FAIL;
	}
	int have_def = kernel_lookup(store, &o, &def, NULL) == 0;
	printf("%-1s %-16s  %-10s  %8s  %-19s  %s\n", "", "ID", "RELEASE", "SIZE", "BUILT",
	       "SOURCE");
	for (size_t i = 0; i < n; i++) {
		char when[32];
		time_t t = (time_t)list[i].built;
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", localtime(&t));
		printf("%-1s %-16s  %-10s  %6.1fMB  %-19s  %s\n",
		       have_def && !strcmp(def.id, list[i].id) ? "*" : "", list[i].id,
		       list[i].release, list[i].size / 1e6, when, list[i].source);
		kernel_info_release(&list[i]);
	}
	free(list);
	if (have_def)
		kernel_info_release(&def);
	return 0;
}

static int kernel_path(const char *store)
{
	struct kernel_info ki;
	struct kernel_opts o = {0};
	struct err e = {0};
	if (kernel_lookup(store, &o, &ki, &e) < 0) {
		cmd_error("%s; run 'crumb kernel build'", e.msg);
		return EXIT_FAIL;
	}
	printf("%s\n", ki.vmlinux);
	kernel_info_release(&ki);
	return 0;
}

int cmd_kernel(int argc, char **argv)
{
	static const struct opt no_opts[] = {OPT_END_};
	struct kbuild k = {0};
	struct opt tab[KBUILD_NOPTS];
	struct strlist args = STRLIST_INIT;
	int r;
	kbuild_table(&k, tab);
	struct cmd_opts p = {.verb = "kernel",
			     .tab = no_opts,
			     .flags = OPT_STOP_AT_ARG,
			     .unknown = "unknown subcommand or argument",
			     .help = tab};
	if (cmd_parse(&p, argc, argv, &args, &r))
		return r;
	int dashdash = args.n != (size_t)argc - 1;
	strlist_release(&args);
	if (argc < 2)
		return cmd_usage_error("kernel", "missing subcommand (build, ls or path)");
	if (dashdash)
		return cmd_usage_error("kernel", "unknown subcommand or argument '%s'", argv[1]);
	char *store;
	struct err e = {0};
	if (store_root(cmd_env(), &store, &e) < 0) {
		cmd_error_err(&e);
		return EXIT_FAIL;
	}
	if (!strcmp(argv[1], "build"))
		r = kernel_build_cmd(argc - 1, argv + 1, store);
	else if (!strcmp(argv[1], "ls") && argc == 2)
		r = kernel_ls(store);
	else if (!strcmp(argv[1], "path") && argc == 2)
		r = kernel_path(store);
	else
		r = cmd_usage_error("kernel", "unknown subcommand or argument '%s'",
				    argv[argc > 2 ? 2 : 1]);
	free(store);
	return r;
}

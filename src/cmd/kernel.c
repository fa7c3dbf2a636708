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
	"       (" KERNEL_DEFAULT_TARBALL ") plus crumb's config fragment (kernel/crumb.config,\n"
	"       compiled into crumb), checks that every option of the fragment holds in\n"
	"       the final .config, and stores the PVH vmlinux in $CRUMB_HOME/kernels/ID.\n"
	"       ID hashes the source tarball's identity and the fragment, so a second\n"
	"       build of the same is instant. Takes about 9 minutes on 2 cores.\n"
	"         -v              show make's output instead of a progress line\n"
	"         -j N            parallel jobs (default: the number of CPUs)\n"
	"         --source FILE   another linux-source tarball\n"
	"         --fragment FILE another config fragment\n"
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

static int kernel_build_cmd(int argc, char **argv, const char *store)
{
	struct kernel_opts o = {0};
	struct progress p = {.tty = isatty(2), .t0 = now_monotonic()};
	struct sbuf frag = SBUF_INIT;
	struct err e = {0};
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-v")) {
			p.verbose = 1;
		} else if (!strcmp(argv[i], "-j") && i + 1 < argc) {
			o.jobs = atoi(argv[++i]);
			if (o.jobs <= 0)
				return cmd_usage_error("kernel", "bad -j value '%s'", argv[i]);
		} else if (!strcmp(argv[i], "--source") && i + 1 < argc) {
			o.tarball = argv[++i];
		} else if (!strcmp(argv[i], "--fragment") && i + 1 < argc) {
			if (read_file(argv[++i], 1 << 20, &frag, &e) < 0) {
				cmd_error_err(&e);
				return EXIT_FAIL;
			}
			o.fragment = frag.buf;
		} else {
			return cmd_usage_error("kernel", "unexpected argument '%s'", argv[i]);
		}
	}
	o.progress = on_progress;
	o.ctx = &p;
	struct kernel_info ki;
	int cached = 0;
	int r = kernel_build(store, &o, &ki, &cached, &e);
	if (p.tty && !p.verbose)
		fputs("\r\033[K", stderr);
	sb_release(&frag);
	if (r < 0) {
		cmd_error_err(&e);
		return EXIT_FAIL;
	}
	if (cached)
		fprintf(stderr, "crumb: kernel %s (Linux %s) is already built\n", ki.id, ki.release);
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

int cmd_kernel(int argc, char **argv)
{
	if (argc < 2)
		return cmd_usage_error("kernel", "missing subcommand (build, ls or path)");
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))
		return cmd_print_usage("kernel");
	char *store;
	struct err e = {0};
	if (store_root(cmd_env(), &store, &e) < 0) {
		cmd_error_err(&e);
		return EXIT_FAIL;
	}
	int r;
	if (!strcmp(argv[1], "build")) {
		r = kernel_build_cmd(argc - 1, argv + 1, store);
	} else if (!strcmp(argv[1], "ls") && argc == 2) {
		r = kernel_ls(store);
	} else if (!strcmp(argv[1], "path") && argc == 2) {
		struct kernel_info ki;
		struct kernel_opts o = {0};
		if (kernel_lookup(store, &o, &ki, &e) < 0) {
			cmd_error("%s; run 'crumb kernel build'", e.msg);
			r = EXIT_FAIL;
		} else {
			printf("%s\n", ki.vmlinux);
			kernel_info_release(&ki);
			r = 0;
		}
	} else {
		r = cmd_usage_error("kernel", "unknown subcommand or argument '%s'",
				    argv[argc > 2 ? 2 : 1]);
	}
	free(store);
	return r;
}

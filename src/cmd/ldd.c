/* ldd.c: `crumb ldd`, the libraries a binary needs as ld.so would find them, without running it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "../lib/closure.h"
#include "../lib/elf.h"

const char usage_ldd[] =
    "usage: crumb ldd BINARY...\n"
    "\n"
    "Prints the shared libraries each BINARY needs and where the loader would find\n"
    "them, like ldd(1) but without load addresses:\n"
    "\n"
    "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6\n"
    "\t/lib64/ld-linux-x86-64.so.2\n"
    "\n"
    "Unlike ldd, it never executes BINARY or its loader: it reads the ELF files and\n"
    "replays the search of glibc's ld.so (RPATH, RUNPATH, ld.so.conf, the default\n"
    "directories), so it is safe on untrusted files and is what crumb puts in an\n"
    "image. LD_LIBRARY_PATH is ignored: the image runs elsewhere. Paths are shown as\n"
    "found, symlinks not resolved. With several BINARYs, each list follows a\n"
    "\"BINARY:\" line. A static binary prints \"statically linked\" and succeeds (ldd\n"
    "says \"not a dynamic executable\" and fails): it needs no library in an image.\n"
    "\n"
    "Exit status: 0 when every library was found, 1 when one is missing (listed as\n"
    "\"=> not found\") or a file is missing or not ELF, 2 for a usage error.\n";

static int ldd_one(const char *arg)
{
	struct err e = {0};
	/* Like ldd, a bare name means ./name: $ORIGIN is then "$PWD/.". */
	char *path = strchr(arg, '/') ? xstrdup(arg) : xasprintf("./%s", arg);
	struct elfinfo info;
	struct closure c;
	int ret = elfinfo_read(path, &info, &e);
	if (ret < 0) {
		cmd_error_err(&e);
		free(path);
		return EXIT_FAIL;
	}
	/* No PT_DYNAMIC, or one with nothing to load (static-pie): ldd's
	 * "statically linked". */
	int is_static = !info.dynamic || (!info.interp && info.needed.n == 0);
	elfinfo_release(&info);
	if (is_static) {
		printf("\tstatically linked\n");
		free(path);
		return 0;
	}

	closure_init(&c);
	c.allow_missing = 1; /* list everything, as ldd does, then fail */
	ret = closure_add(&c, path, &e);
	for (size_t i = 0; i < c.nlibs; i++) {
		const struct closure_lib *l = &c.libs[i];
		if (l->path && strcmp(l->name, l->path) == 0)
			printf("\t%s\n", l->path); /* a DT_NEEDED path: ld.so prints it once */
		else
			printf("\t%s => %s\n", l->name, l->path ? l->path : "not found");
	}
	if (c.interp)
		printf("\t%s\n", c.interp);
	fflush(stdout);
	if (ret < 0)
		cmd_error_err(&e);
	closure_release(&c);
	free(path);
	return ret < 0 ? EXIT_FAIL : 0;
}

int cmd_ldd(int argc, char **argv)
{
	static const struct opt no_opts[] = {OPT_END_};
	struct strlist args = STRLIST_INIT;
	struct cmd_opts p = {.verb = "ldd", .tab = no_opts, .flags = OPT_STOP_AT_ARG};
	int status;
	if (cmd_parse(&p, argc, argv, &args, &status))
		return status;
	if (!args.n)
		return cmd_usage_error("ldd", "no BINARY given");
	for (size_t i = 0; i < args.n; i++) {
		if (args.n > 1)
			printf("%s:\n", args.v[i]);
		if (ldd_one(args.v[i]) != 0)
			status = EXIT_FAIL;
	}
	strlist_release(&args);
	return status;
}

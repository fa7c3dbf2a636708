/* pack.c: `crumb pack`: write the initramfs that `run --exec` would boot, and stop there. */
#include <stdio.h>
#include <string.h>

#include "../lib/archive.h"
#include "cmd.h"

const char usage_pack[] =
    "usage: crumb pack --exec PATH [--add HOSTPATH[:GUESTPATH]]... [-e NAME=VALUE]...\n"
    "                  [--compress gzip|none|zstd] -o FILE [-- ARGS...]\n"
    "\n"
    "Writes the initramfs (cpio newc) that 'crumb run --exec' would boot: the program,\n"
    "its shared libraries, the --add files, crumb-init and its config. Entries are\n"
    "sorted, owned by root and keep their files' mtimes, clamped to\n"
    "SOURCE_DATE_EPOCH when it is set, so the same inputs give the same bytes.\n"
    "Default compression: gzip.\n";

int cmd_pack(int argc, char **argv)
{
	struct exec_opts o = {.compress = COMPRESS_GZIP};
	const char *out = NULL;
	struct opt tab[] = {
	    EXEC_OPTS_TABLE(&o),
	    OPT_STRING_('o', NULL, &out, "FILE", NULL),
	    OPT_END_,
	};
	struct strlist args = STRLIST_INIT;
	struct err e = {0};
	int r = opt_parse(tab, OPT_KEEP_DASHDASH, argc, argv, &o, &args, &e);
	if (r == 0 && args.n && strcmp(args.v[0], "--"))
		r = err_set(&e, CRUMB_EINVAL, "unexpected argument '%s'", args.v[0]);
	for (size_t i = 1; r == 0 && i < args.n; i++)
		strlist_push(&o.args, args.v[i]);
	strlist_release(&args);
	if (r == OPT_HELP)
		r = cmd_print_usage("pack");
	else if (r < 0)
		r = cmd_usage_error("pack", "%s", e.msg);
	else if (!o.program || !out)
		r = cmd_usage_error("pack", "--exec PATH and -o FILE are required");
	else
		r = exec_opts_pack(&o, out, NULL);
	exec_opts_release(&o);
	return r;
}

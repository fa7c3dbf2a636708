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
	int i, r;
	for (i = 1; i < argc; i++) {
		int bad = 0;
		const char *v;
		if ((r = exec_opts_take(&o, "pack", argc, argv, &i)) == 1)
			continue;
		if (r == EXEC_OPTS_HELP) {
			exec_opts_release(&o);
			return cmd_print_usage("pack");
		}
		if (r) {
			exec_opts_release(&o);
			return r;
		}
		if ((v = opt_value("-o", argc, argv, &i, &bad))) {
			out = v;
			continue;
		}
		exec_opts_release(&o);
		if (bad)
			return cmd_usage_error("pack", "-o needs a value");
		return cmd_usage_error("pack", "unexpected argument '%s'", argv[i]);
	}
	if (!o.program || !out) {
		exec_opts_release(&o);
		return cmd_usage_error("pack", "--exec PATH and -o FILE are required");
	}
	r = exec_opts_pack(&o, out, NULL);
	exec_opts_release(&o);
	return r;
}

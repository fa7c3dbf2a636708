/* help.c: `crumb help [VERB]` and `crumb version`. */
#include <stdio.h>
#include <string.h>

#include "cmd.h"

const char usage_help[] =
    "usage: crumb help [COMMAND]\n"
    "\n"
    "Without COMMAND, lists the commands; with it, shows that command's usage\n"
    "(the same as 'crumb COMMAND --help').\n";

const char usage_version[] = "usage: crumb version\n"
			     "\n"
			     "Prints crumb's version.\n";

static const char overview[] =
    "usage: crumb COMMAND [ARGS...]\n"
    "\n"
    "crumb builds tiny single-service virtual machines without root and boots them\n"
    "under QEMU's microvm machine.\n"
    "\n"
    "Commands:\n";

static const char exit_codes[] =
    "\n"
    "Exit status:\n"
    "  0    success\n"
    "  1    the operation failed (the reason is printed on stderr)\n"
    "  2    usage error\n"
    "  crumb run exits with the program's own status, or:\n"
    "  123  the guest kernel panicked (the panic line is printed)\n"
    "  124  --timeout expired (the VM was killed)\n"
    "  125  crumb failed (bad flags, missing kernel or QEMU, the VM crashed)\n"
    "  126  the program could not be executed in the VM\n"
    "  127  the program was not found in the VM\n"
    "  128+N  the program was killed by signal N\n"
    "\n"
    "Environment:\n"
    "  CRUMB_HOME        the store (images, kernels, caches, volumes); default\n"
    "                    $XDG_DATA_HOME/crumb or ~/.local/share/crumb\n"
    "  CRUMB_QEMU        the QEMU binary; default qemu-system-x86_64 from PATH\n"
    "  CRUMB_PASST       the passt binary (the guest's network); default passt\n"
    "                    from PATH\n"
    "  CRUMB_INIT        the crumb-init binary; default next to crumb\n"
    "  XDG_RUNTIME_DIR   VMs' state lives in its crumb/vms (else $CRUMB_HOME/run/vms)\n"
    "  CRUMB_FIRECRACKER, CRUMB_CLOUD_HYPERVISOR  those VMMs' binaries (run --vmm);\n"
    "                    default firecracker / cloud-hypervisor from PATH\n"
    "  SOURCE_DATE_EPOCH file times newer than it are written as it (mkfs, fs,\n"
    "                    pack, build; build: default 0); filesystem times\n"
    "\n"
    "Run 'crumb help COMMAND' for one command's options.\n";

static const struct opt no_opts[] = {OPT_END_};

int cmd_help(int argc, char **argv)
{
	struct strlist args = STRLIST_INIT;
	struct cmd_opts p = {.verb = "help", .tab = no_opts, .unknown = "unknown command"};
	int st;
	if (cmd_parse(&p, argc, argv, &args, &st))
		return st;
	if (args.n > 1) {
		strlist_release(&args);
		return cmd_usage_error("help", "too many arguments");
	}
	if (args.n == 1) {
		const struct cmd *c = cmd_lookup(args.v[0]);
		if (!c)
			st = cmd_usage_error("help", "unknown command '%s'", args.v[0]);
		strlist_release(&args);
		if (!c)
			return st;
		/* the same text as 'crumb VERB --help': the verb prints it from its table */
		return c->fn(2, (char *[]){(char *)c->name, "--help", NULL});
	}
	fputs(overview, stdout);
	for (const struct cmd *c = crumb_commands; c->name; c++)
		printf("  %-9s %s\n", c->name, c->summary);
	fputs(exit_codes, stdout);
	return 0;
}

int cmd_version(int argc, char **argv)
{
	struct strlist args = STRLIST_INIT;
	struct cmd_opts p = {
	    .verb = "version", .tab = no_opts, .unknown = "unexpected argument", .no_args = 1};
	int st;
	if (cmd_parse(&p, argc, argv, &args, &st))
		return st;
	printf("crumb %s\n", CRUMB_VERSION);
	return 0;
}

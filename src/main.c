/* main.c: crumb's command table and dispatch; `crumb VERB ARGS...`. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"

const struct cmd crumb_commands[] = {
    {"build", cmd_build, "build an image from a Crumbfile (Dockerfile syntax)", usage_build},
    {"run", cmd_run, "boot an image (or a host program, --exec) as a microVM", usage_run},
    {"warm", cmd_warm, "snapshot an image's VM at its snapshot point: later runs restore it",
     usage_warm},
    {"minimize", cmd_minimize,
     "trace an image's service once; store it with only the files and system calls it used",
     usage_minimize},
    {"ps", cmd_ps, "list running VMs (-a: and those that ended)", usage_ps},
    {"stop", cmd_stop, "stop VMs gracefully (the service gets its stop signal)", usage_stop},
    {"kill", cmd_kill, "kill VMs at once", usage_kill},
    {"logs", cmd_logs, "print a VM's console output (-f: follow)", usage_logs},
    {"rm", cmd_rm, "remove the state of VMs that ended (-f: kill first)", usage_rm},
    {"volume", cmd_volume, "list or remove named volumes", usage_volume},
    {"pack", cmd_pack, "write the initramfs `run --exec` would boot, without booting", usage_pack},
    {"mkfs", cmd_mkfs, "make an ext4, ext2 or cpio image from directories, tarballs, images",
     usage_mkfs},
    {"fs", cmd_fs, "read and edit ext4 images and cpio archives (IMAGE:PATH, like mtools)",
     usage_fs},
    {"images", cmd_images, "list the images in the store (--verify: hash every blob)",
     usage_images},
    {"inspect", cmd_inspect, "show images' manifests and configs as JSON", usage_inspect},
    {"tag", cmd_tag, "give an image another name", usage_tag},
    {"rmi", cmd_rmi, "remove image tags (blobs stay until prune)", usage_rmi},
    {"prune", cmd_prune, "delete blobs no tagged image uses", usage_prune},
    {"pull", cmd_pull, "fetch an image from a registry into the store", usage_pull},
    {"push", cmd_push, "send a stored image to a registry", usage_push},
    {"login", cmd_login, "check and keep a registry's credentials (Docker's config.json)",
     usage_login},
    {"logout", cmd_logout, "forget a registry's credentials", usage_logout},
    {"import", cmd_import, "store a kernel and a root filesystem as an image", usage_import},
    {"save", cmd_save, "write images to a tar archive (an OCI layout), like docker save",
     usage_save},
    {"load", cmd_load, "store the images of an OCI layout or docker save archive", usage_load},
    {"kernel", cmd_kernel, "build and list crumb kernels", usage_kernel},
    {"ldd", cmd_ldd, "print the shared libraries a program needs (never runs it)", usage_ldd},
    {"help", cmd_help, "show help for crumb or one command", usage_help},
    {"version", cmd_version, "print crumb's version", usage_version},
    {0},
};

const struct cmd *cmd_lookup(const char *name)
{
	for (const struct cmd *c = crumb_commands; c->name; c++)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

/* "crumb: [VERB: ]MESSAGE" on stderr, stdout flushed first; no newline. */
static void vsay(const char *verb, const char *fmt, va_list ap)
{
	fflush(stdout);
	fputs("crumb: ", stderr);
	if (verb)
		fprintf(stderr, "%s: ", verb);
	vfprintf(stderr, fmt, ap);
}

void cmd_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsay(NULL, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void cmd_error_err(const struct err *e)
{
	cmd_error("%s", e->msg[0] ? e->msg : "unknown error");
}

int cmd_usage_error(const char *verb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsay(verb, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see 'crumb help%s%s')\n", verb ? " " : "", verb ? verb : "");
	return EXIT_USAGE;
}

int cmd_print_usage(const char *verb)
{
	const struct cmd *c = cmd_lookup(verb);
	if (c)
		fputs(c->usage, stdout);
	return 0;
}

int cmd_print_help(const char *verb, const struct opt *tab)
{
	struct sbuf b = SBUF_INIT;
	cmd_print_usage(verb);
	opt_help(tab, &b);
	if (b.len)
		printf("\nOptions:\n%s", b.buf);
	sb_release(&b);
	return 0;
}

int cmd_parse(const struct cmd_opts *p, int argc, char **argv, struct strlist *args, int *status)
{
	struct opt_fail f;
	struct err e = {0};
	const char *unknown = p->unknown ? p->unknown : "unknown option";
	int r = opt_parse_at(p->tab, p->flags, argc, argv, p->ctx, args, &f, &e);
	if (r == OPT_HELP)
		*status = cmd_print_help(p->verb, p->help ? p->help : p->tab);
	else if (r < 0 && (f.why == OPT_WHY_UNKNOWN || f.why == OPT_WHY_UNWANTED))
		*status = cmd_usage_error(p->verb, "%s '%s'", unknown, argv[f.word]);
	else if (r < 0)
		*status = cmd_usage_error(p->verb, "%s", e.msg);
	else if (p->no_args && args->n)
		*status = r = cmd_usage_error(p->verb, "%s '%s'", unknown, args->v[0]);
	if (r)
		strlist_release(args);
	return r != 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		cmd_help(1, (char *[]){"help", NULL});
		return EXIT_USAGE;
	}
	const char *verb = argv[1];
	if (!strcmp(verb, "-h") || !strcmp(verb, "--help"))
		verb = "help";
	else if (!strcmp(verb, "-v") || !strcmp(verb, "--version"))
		verb = "version";
	const struct cmd *c = cmd_lookup(verb);
	if (!c)
		return cmd_usage_error(NULL, "unknown command '%s'", verb);
	return c->fn(argc - 1, argv + 1);
}

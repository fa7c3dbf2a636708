/* exec.c: options shared by `run --exec` and `pack`, and building their initramfs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/archive.h"
#include "../lib/runplan.h"
#include "cmd.h"

int cmd_sde(struct sde *out, struct err *e)
{
	return sde_parse(cmd_env()->source_date_epoch, out, e);
}

int exec_opt_exec(const struct opt *o, const char *v, void *ctx, struct err *e)
{
	struct exec_opts *x = ctx;
	(void)o;
	if (x->program)
		return err_set(e, CRUMB_EINVAL, "--exec given twice");
	x->program = v;
	return 0;
}

int exec_opt_env(const struct opt *o, const char *v, void *ctx, struct err *e)
{
	(void)o;
	if (!strchr(v, '=') || v[0] == '=')
		return err_set(e, CRUMB_EINVAL, "-e %s: want NAME=VALUE", v);
	strlist_push(&((struct exec_opts *)ctx)->env, v);
	return 0;
}

int exec_opt_compress(const struct opt *o, const char *v, void *ctx, struct err *e)
{
	(void)o;
	enum compress c;
	int r = compress_parse(v, &c, e);
	if (r == 0)
		((struct exec_opts *)ctx)->compress = (int)c;
	return r;
}

void exec_opts_release(struct exec_opts *o)
{
	strlist_release(&o->adds);
	strlist_release(&o->args);
	strlist_release(&o->env);
}

int exec_opts_pack(const struct exec_opts *o, const char *out, unsigned long long *bytes)
{
	struct err e = {0};
	struct run_exec x = {o->program, &o->adds, &o->args, &o->env, o->compress};
	if (runplan_pack_exec(&x, NULL, cmd_env(), out, bytes, &e) < 0) {
		cmd_error_err(&e);
		return EXIT_FAIL;
	}
	return 0;
}

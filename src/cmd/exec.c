/* exec.c: options shared by `run --exec` and `pack`, and building their initramfs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/archive.h"
#include "../lib/console.h"
#include "../lib/initcfg.h"
#include "../lib/rootfs.h"
#include "cmd.h"

int cmd_sde(struct sde *out, struct err *e)
{
	return sde_parse(cmd_env()->source_date_epoch, out, e);
}

int exec_opts_take(struct exec_opts *o, const char *verb, int argc, char **argv, int *i)
{
	int bad = 0;
	const char *v;
	struct err e = {0};
	if (!strcmp(argv[*i], "--")) {
		for (++*i; *i < argc; ++*i)
			strlist_push(&o->args, argv[*i]);
		return 1;
	}
	if (!strcmp(argv[*i], "-h") || !strcmp(argv[*i], "--help"))
		return EXEC_OPTS_HELP;
	if ((v = opt_value("--exec", argc, argv, i, &bad))) {
		if (o->program)
			return cmd_usage_error(verb, "--exec given twice");
		o->program = v;
	} else if (!bad && (v = opt_value("--add", argc, argv, i, &bad))) {
		strlist_push(&o->adds, v);
	} else if (!bad && ((v = opt_value("-e", argc, argv, i, &bad)) ||
			    (!bad && (v = opt_value("--env", argc, argv, i, &bad))))) {
		if (!strchr(v, '=') || v[0] == '=')
			return cmd_usage_error(verb, "-e %s: want NAME=VALUE", v);
		strlist_push(&o->env, v);
	} else if (!bad && (v = opt_value("--compress", argc, argv, i, &bad))) {
		enum compress c;
		if (compress_parse(v, &c, &e) < 0)
			return cmd_usage_error(verb, "%s", e.msg);
		o->compress = (int)c;
	}
	if (bad)
		return cmd_usage_error(verb, "%s needs a value", argv[*i]);
	return v ? 1 : 0;
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
	struct tree t;
	char *init = NULL;
	int r;
	if (rootfs_find_init(&init, &e) < 0) {
		cmd_error_err(&e);
		return EXIT_FAIL;
	}
	struct sde sd;
	if (cmd_sde(&sd, &e) < 0) {
		cmd_error_err(&e);
		free(init);
		return EXIT_FAIL;
	}
	tree_init(&t);
	struct exec_spec s = {.program = o->program, .adds = &o->adds, .args = &o->args,
			      .env = &o->env, .init = init};
	struct cpio_opts co = {.compress = (enum compress)o->compress, .epoch = sd.epoch,
			       .clamp = sd.set};
	r = rootfs_exec(&t, &s, &e);
	if (r == 0 && o->marker_key) {
		/* crumb-init's to take and delete (src/init/config.h, "The marker key") */
		char hex[2 * CONSOLE_KEY_LEN + 2];
		console_key_hex(o->marker_key, hex);
		strcat(hex, "\n");
		r = tree_add_data(&t, INITCFG_KEY_PATH, hex, strlen(hex), 0600, &e);
	}
	if (r == 0)
		r = cpio_write(&t, out, &co, &e);
	if (r == 0 && bytes) {
		struct tree_stats st;
		tree_stats(&t, &st);
		*bytes = st.bytes;
	}
	if (r < 0)
		cmd_error_err(&e);
	tree_release(&t);
	free(init);
	return r < 0 ? EXIT_FAIL : 0;
}

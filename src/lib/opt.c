/* opt.c: the table-driven command-line parser (see opt.h). */
#include "opt.h"

#include <stdio.h>
#include <string.h>

const char *opt_label(const struct opt *o)
{
	static char buf[3];
	static char lng[128];
	if (o->name) {
		snprintf(lng, sizeof(lng), "--%s", o->name);
		return lng;
	}
	buf[0] = '-';
	buf[1] = o->sh;
	buf[2] = 0;
	return buf;
}

static int takes_value(const struct opt *o)
{
	return o->type == OPT_STRING || o->type == OPT_LIST || o->type == OPT_CALL;
}

static const struct opt *find_long(const struct opt *tab, const char *s, size_t n)
{
	for (; tab->type != OPT_END; tab++)
		if (tab->name && strlen(tab->name) == n && !strncmp(tab->name, s, n))
			return tab;
	return NULL;
}

static const struct opt *find_short(const struct opt *tab, char c)
{
	for (; tab->type != OPT_END; tab++)
		if (tab->sh == c)
			return tab;
	return NULL;
}

/* Stores one option's value (NULL for a flag). */
static int apply(const struct opt *o, const char *v, void *ctx, struct err *e)
{
	switch (o->type) {
	case OPT_FLAG:
		*(int *)o->dst = 1;
		return 0;
	case OPT_STRING:
		*(const char **)o->dst = v;
		return 0;
	case OPT_LIST:
		strlist_push((struct strlist *)o->dst, v);
		return 0;
	case OPT_CALL:
	case OPT_CALL0:
		return o->fn(o, v, ctx, e);
	default:
		return err_set(e, CRUMB_EINVAL, "bad option table");
	}
}

/* --name, --name=VALUE, --name VALUE at argv[*i]. */
static int take_long(const struct opt *tab, int argc, char **argv, int *i, void *ctx, struct err *e)
{
	const char *s = argv[*i] + 2, *eq = strchr(s, '=');
	size_t n = eq ? (size_t)(eq - s) : strlen(s);
	const struct opt *o = find_long(tab, s, n);
	if (!o)
		return err_set(e, CRUMB_EINVAL, "unknown option '%.*s'", (int)(n + 2), argv[*i]);
	if (!takes_value(o)) {
		if (eq)
			return err_set(e, CRUMB_EINVAL, "--%s takes no value", o->name);
		return apply(o, NULL, ctx, e);
	}
	if (eq)
		return apply(o, eq + 1, ctx, e);
	if (*i + 1 >= argc)
		return err_set(e, CRUMB_EINVAL, "--%s needs a value", o->name);
	return apply(o, argv[++*i], ctx, e);
}

/* -x, -xVALUE, -x VALUE, or a bundle -abc of flags (the last may take a value). */
static int take_short(const struct opt *tab, int argc, char **argv, int *i, void *ctx,
		      struct err *e)
{
	const char *s = argv[*i] + 1;
	for (; *s; s++) {
		const struct opt *o = find_short(tab, *s);
		if (!o) {
			if (s == argv[*i] + 1)
				return err_set(e, CRUMB_EINVAL, "unknown option '%s'", argv[*i]);
			return err_set(e, CRUMB_EINVAL, "unknown option '-%c' in '%s'", *s,
				       argv[*i]);
		}
		if (!takes_value(o)) {
			int r = apply(o, NULL, ctx, e);
			if (r < 0)
				return r;
			continue;
		}
		if (s[1])
			return apply(o, s + 1, ctx, e);
		if (*i + 1 >= argc)
			return err_set(e, CRUMB_EINVAL, "-%c needs a value", o->sh);
		return apply(o, argv[++*i], ctx, e);
	}
	return 0;
}

int opt_parse(const struct opt *tab, unsigned flags, int argc, char **argv, void *ctx,
	      struct strlist *args, struct err *e)
{
	int own_h = find_short(tab, 'h') != NULL, own_help = find_long(tab, "help", 4) != NULL;
	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];
		int r;
		if (!strcmp(s, "--")) {
			if (flags & OPT_KEEP_DASHDASH)
				strlist_push(args, s);
			for (i++; i < argc; i++)
				strlist_push(args, argv[i]);
			return 0;
		}
		if (s[0] != '-' || !s[1]) {
			if (!(flags & OPT_STOP_AT_ARG)) {
				strlist_push(args, s);
				continue;
			}
			for (; i < argc; i++)
				strlist_push(args, argv[i]);
			return 0;
		}
		if ((!own_h && !strcmp(s, "-h")) || (!own_help && !strcmp(s, "--help")))
			return OPT_HELP;
		r = s[1] == '-' ? take_long(tab, argc, argv, &i, ctx, e)
				: take_short(tab, argc, argv, &i, ctx, e);
		if (r < 0)
			return r;
	}
	return 0;
}

void opt_help(const struct opt *tab, struct sbuf *out)
{
	size_t width = 0;
	struct sbuf col = SBUF_INIT;
	for (int pass = 0; pass < 2; pass++) {
		for (const struct opt *o = tab; o->type != OPT_END; o++) {
			if (!o->help)
				continue;
			sb_reset(&col);
			sb_adds(&col, "  ");
			if (o->sh)
				sb_addf(&col, "-%c%s", o->sh, o->name ? ", " : "");
			else
				sb_adds(&col, "    ");
			if (o->name)
				sb_addf(&col, "--%s", o->name);
			if (o->arg)
				sb_addf(&col, " %s", o->arg);
			if (!pass) {
				if (col.len > width)
					width = col.len;
				continue;
			}
			sb_addf(out, "%-*s  %s\n", (int)width, col.buf, o->help);
		}
	}
	sb_release(&col);
}

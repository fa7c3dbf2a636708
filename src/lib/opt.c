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

/* Records why and where parsing failed; returns r. */
static int fail(struct opt_fail *f, enum opt_why why, int word, int r)
{
	f->why = why;
	f->word = word;
	return r;
}

/* apply, with a callback's refusal recorded against argv[word]. */
static int apply_at(const struct opt *o, const char *v, void *ctx, struct opt_fail *f, int word,
		    struct err *e)
{
	int r = apply(o, v, ctx, e);
	return r < 0 ? fail(f, OPT_WHY_REFUSED, word, r) : r;
}

/* --name, --name=VALUE, --name VALUE at argv[*i]. */
static int take_long(const struct opt *tab, int argc, char **argv, int *i, void *ctx,
		     struct opt_fail *f, struct err *e)
{
	const char *s = argv[*i] + 2, *eq = strchr(s, '=');
	size_t n = eq ? (size_t)(eq - s) : strlen(s);
	const struct opt *o = find_long(tab, s, n);
	int w = *i;
	if (!o)
		return fail(
		    f, OPT_WHY_UNKNOWN, w,
		    err_set(e, CRUMB_EINVAL, "unknown option '%.*s'", (int)(n + 2), argv[w]));
	if (!takes_value(o)) {
		if (eq)
			return fail(f, OPT_WHY_UNWANTED, w,
				    err_set(e, CRUMB_EINVAL, "--%s takes no value", o->name));
		return apply_at(o, NULL, ctx, f, w, e);
	}
	if (eq)
		return apply_at(o, eq + 1, ctx, f, w, e);
	if (*i + 1 >= argc)
		return fail(f, OPT_WHY_MISSING, w,
			    err_set(e, CRUMB_EINVAL, "--%s needs a value", o->name));
	return apply_at(o, argv[++*i], ctx, f, w, e);
}

/* -x, -xVALUE, -x VALUE, or a bundle -abc of flags (the last may take a value). */
static int take_short(const struct opt *tab, int argc, char **argv, int *i, void *ctx,
		      struct opt_fail *f, struct err *e)
{
	const char *s = argv[*i] + 1;
	int w = *i;
	for (; *s; s++) {
		const struct opt *o = find_short(tab, *s);
		if (!o && s == argv[w] + 1)
			return fail(f, OPT_WHY_UNKNOWN, w,
				    err_set(e, CRUMB_EINVAL, "unknown option '%s'", argv[w]));
		if (!o)
			return fail(
			    f, OPT_WHY_UNKNOWN, w,
			    err_set(e, CRUMB_EINVAL, "unknown option '-%c' in '%s'", *s, argv[w]));
		if (!takes_value(o)) {
			int r = apply_at(o, NULL, ctx, f, w, e);
			if (r < 0)
				return r;
			continue;
		}
		if (s[1])
			return apply_at(o, s + 1, ctx, f, w, e);
		if (*i + 1 >= argc)
			return fail(f, OPT_WHY_MISSING, w,
				    err_set(e, CRUMB_EINVAL, "-%c needs a value", o->sh));
		return apply_at(o, argv[++*i], ctx, f, w, e);
	}
	return 0;
}

/* The rest of argv from i on, verbatim. */
static void push_rest(struct strlist *args, int argc, char **argv, int i)
{
	for (; i < argc; i++)
		strlist_push(args, argv[i]);
}

int opt_parse_at(const struct opt *tab, unsigned flags, int argc, char **argv, void *ctx,
		 struct strlist *args, struct opt_fail *f, struct err *e)
{
	struct opt_fail dummy;
	int own_h = find_short(tab, 'h') != NULL, own_help = find_long(tab, "help", 4) != NULL;
	if (!f)
		f = &dummy;
	fail(f, OPT_WHY_NONE, 0, 0);
	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];
		int r;
		if (!strcmp(s, "--")) {
			if (flags & OPT_KEEP_DASHDASH)
				strlist_push(args, s);
			push_rest(args, argc, argv, i + 1);
			return 0;
		}
		if (s[0] != '-' || !s[1]) {
			if (!(flags & OPT_STOP_AT_ARG)) {
				strlist_push(args, s);
				continue;
			}
			push_rest(args, argc, argv, i);
			return 0;
		}
		if ((!own_h && !strcmp(s, "-h")) || (!own_help && !strcmp(s, "--help")))
			return OPT_HELP;
		r = s[1] == '-' ? take_long(tab, argc, argv, &i, ctx, f, e)
				: take_short(tab, argc, argv, &i, ctx, f, e);
		if (r < 0)
			return r;
	}
	return 0;
}

int opt_parse(const struct opt *tab, unsigned flags, int argc, char **argv, void *ctx,
	      struct strlist *args, struct err *e)
{
	return opt_parse_at(tab, flags, argc, argv, ctx, args, NULL, e);
}

/* One help text, its further lines indented to the column. */
static void add_help(struct sbuf *out, size_t width, const char *help)
{
	const char *nl;
	while ((nl = strchr(help, '\n')) && nl[1]) {
		sb_addf(out, "%.*s\n%-*s  ", (int)(nl - help), help, (int)width, "");
		help = nl + 1;
	}
	sb_addf(out, "%s%s", help, nl ? "" : "\n");
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
			sb_addf(out, "%-*s  ", (int)width, col.buf);
			add_help(out, width, o->help);
		}
	}
	sb_release(&col);
}

/* opt.h: the one table-driven command-line parser every verb uses (after git's parse-options). */
#ifndef CRUMB_OPT_H
#define CRUMB_OPT_H

#include "util.h"

/*
 * A verb describes its options as an array of struct opt ended by OPT_END_ (a
 * zeroed entry), usually a local array whose dst pointers are the verb's own
 * variables. opt_parse walks argv[1..argc) once:
 *
 *   --name VALUE, --name=VALUE, -n VALUE, -nVALUE    an option that takes a value
 *   --name, -n, bundled short flags -dit              flags (a bundle may end in a
 *                                                    short option that takes a value)
 *   -h, --help                                        returns OPT_HELP at once
 *                                                    (unless the table names -h itself)
 *   --                                                ends the options
 *   - and any word not starting with '-'              positional arguments
 *
 * Positional arguments are pushed onto args in order. With OPT_STOP_AT_ARG the
 * first positional ends the options: it and everything after it go to args
 * verbatim (crumb run IMAGE ARGS...). With OPT_KEEP_DASHDASH a "--" is pushed
 * onto args too, so the caller can tell "IMAGE ARGS" from "-- ARGS".
 *
 * Returns 0, OPT_HELP, or CRUMB_EINVAL with a one-line message in e naming
 * the option as the user wrote it ("unknown option '--foo'", "--tag needs a
 * value", "--rm takes no value") or the message a callback set. Nothing is
 * printed; a verb turns a failure into its usage error.
 */
enum opt_type {
	OPT_END = 0,
	OPT_FLAG,   /* no value: *(int *)dst = 1 */
	OPT_STRING, /* a value: *(const char **)dst = value (the last one given wins) */
	OPT_LIST,   /* a value, repeatable: strlist_push((struct strlist *)dst, value) */
	OPT_CALL,   /* a value: fn(o, value, ctx, e) checks and stores it */
	OPT_CALL0,  /* no value: fn(o, NULL, ctx, e) */
};

struct opt;
/* A callback returns 0, or a negative code with a one-line message in e (say
 * which option: o->name / o->sh). */
typedef int (*opt_fn)(const struct opt *o, const char *value, void *ctx, struct err *e);

struct opt {
	enum opt_type type;
	char sh;	  /* short letter ('p' for -p), or 0 */
	const char *name; /* long name without dashes ("publish"), or NULL */
	void *dst;	  /* OPT_FLAG, OPT_STRING, OPT_LIST: where the value goes */
	opt_fn fn;	  /* OPT_CALL, OPT_CALL0 */
	const char *arg;  /* the value's name in help ("PORT"); NULL for flags */
	const char *help; /* one line for opt_help; NULL: not listed */
};

#define OPT_FLAG_(s, n, d, h)                                                                      \
	{                                                                                          \
		OPT_FLAG, (s), (n), (d), NULL, NULL, (h)                                           \
	}
#define OPT_STRING_(s, n, d, a, h)                                                                 \
	{                                                                                          \
		OPT_STRING, (s), (n), (d), NULL, (a), (h)                                          \
	}
#define OPT_LIST_(s, n, d, a, h)                                                                   \
	{                                                                                          \
		OPT_LIST, (s), (n), (d), NULL, (a), (h)                                            \
	}
#define OPT_CALL_(s, n, f, a, h)                                                                   \
	{                                                                                          \
		OPT_CALL, (s), (n), NULL, (f), (a), (h)                                            \
	}
#define OPT_CALL0_(s, n, f, h)                                                                     \
	{                                                                                          \
		OPT_CALL0, (s), (n), NULL, (f), NULL, (h)                                          \
	}
#define OPT_END_                                                                                   \
	{                                                                                          \
		OPT_END, 0, NULL, NULL, NULL, NULL, NULL                                           \
	}

enum { OPT_STOP_AT_ARG = 1, OPT_KEEP_DASHDASH = 2 };
#define OPT_HELP 1

int opt_parse(const struct opt *tab, unsigned flags, int argc, char **argv, void *ctx,
	      struct strlist *args, struct err *e);

/* "-p" or "--publish" (the long name when there is one): for messages. Static
 * storage for a short name; valid until the next call. */
const char *opt_label(const struct opt *o);

/*
 * Appends one line per option with help text to out, in table order:
 *   "  -p, --publish PORT    help"   (columns aligned over the table)
 * so a verb's usage text and its parser come from the same table.
 */
void opt_help(const struct opt *tab, struct sbuf *out);

#endif

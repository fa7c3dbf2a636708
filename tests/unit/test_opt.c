/* test_opt.c: the table-driven option parser: spellings, bundles, positionals, errors, help. */
#include <string.h>

#include "lib/opt.h"
#include "tap.h"

struct vals {
	int d, i, t, rm;
	const char *tag, *mem;
	struct strlist pub;
	int cpus;
	int calls0;
};

static int set_cpus(const struct opt *o, const char *v, void *ctx, struct err *e)
{
	struct vals *x = ctx;
	if (strcmp(v, "1") && strcmp(v, "2"))
		return err_set(e, CRUMB_EINVAL, "%s %s: want 1 or 2", opt_label(o), v);
	x->cpus = v[0] - '0';
	return 0;
}

static int count0(const struct opt *o, const char *v, void *ctx, struct err *e)
{
	(void)o, (void)e;
	ok(v == NULL, "OPT_CALL0 gets no value");
	((struct vals *)ctx)->calls0++;
	return 0;
}

/* Parses the words of line (space-separated) with the test table. */
static int parse(const char *line, unsigned flags, struct vals *x, struct strlist *args,
		 struct err *e)
{
	static char buf[512];
	char *argv[32];
	int argc = 0;
	snprintf(buf, sizeof(buf), "verb %s", line);
	for (char *s = strtok(buf, " "); s && argc < 31; s = strtok(NULL, " "))
		argv[argc++] = s;
	argv[argc] = NULL;
	strlist_release(&x->pub);
	memset(x, 0, sizeof(*x));
	strlist_release(args);
	e->msg[0] = 0;
	struct opt tab[] = {
	    OPT_FLAG_('d', "detach", &x->d, "run in the background"),
	    OPT_FLAG_('i', "interactive", &x->i, "keep stdin open"),
	    OPT_FLAG_('t', "tty", &x->t, NULL),
	    OPT_FLAG_(0, "rm", &x->rm, "remove when done"),
	    OPT_STRING_('T', "tag", &x->tag, "NAME", "the image's name"),
	    OPT_STRING_('m', NULL, &x->mem, "SIZE", "memory"),
	    OPT_LIST_('p', "publish", &x->pub, "PORT", "publish a port"),
	    OPT_CALL_('c', "cpus", set_cpus, "N", "CPUs"),
	    OPT_CALL0_(0, "count", count0, "count"),
	    OPT_END_,
	};
	return opt_parse(tab, flags, argc, argv, x, args, e);
}

int main(void)
{
	struct vals x = {0};
	struct strlist a = STRLIST_INIT;
	struct err e;

	is_int(parse("-d --rm --tag=a -T b -m 1G -p 80 --publish 81 --publish=82", 0, &x, &a, &e),
	       0, "every spelling");
	ok(x.d && x.rm && !x.i, "flags");
	is_str(x.tag, "b", "the last string wins");
	is_str(x.mem, "1G", "short-only option");
	ok(x.pub.n == 3 && !strcmp(x.pub.v[2], "82"), "list keeps every value in order");

	is_int(parse("-dit -p8080", 0, &x, &a, &e), 0, "bundle and attached value");
	ok(x.d && x.i && x.t, "bundle sets each flag");
	ok(x.pub.n == 1 && !strcmp(x.pub.v[0], "8080"), "-pVALUE");
	is_int(parse("-dip 90", 0, &x, &a, &e), 0, "bundle ending in a value option");
	ok(x.d && x.i && x.pub.n == 1 && !strcmp(x.pub.v[0], "90"), "-dip 90");

	is_int(parse("one -d two - three", 0, &x, &a, &e), 0, "positionals anywhere");
	ok(a.n == 4 && !strcmp(a.v[0], "one") && !strcmp(a.v[2], "-") && x.d,
	   "in order, '-' is one");
	is_int(parse("-d img -t arg --rm", OPT_STOP_AT_ARG, &x, &a, &e), 0,
	       "stop at the first arg");
	ok(x.d && !x.t && !x.rm && a.n == 4 && !strcmp(a.v[3], "--rm"), "the rest verbatim");
	is_int(parse("-d -- -t x", 0, &x, &a, &e), 0, "-- ends options");
	ok(a.n == 2 && !strcmp(a.v[0], "-t") && !x.t, "after --, words are arguments");
	is_int(parse("-d -- -t", OPT_KEEP_DASHDASH, &x, &a, &e), 0, "keep --");
	ok(a.n == 2 && !strcmp(a.v[0], "--"), "-- itself is kept");

	is_int(parse("-d --help --bogus", 0, &x, &a, &e), OPT_HELP, "--help");
	is_int(parse("-h", 0, &x, &a, &e), OPT_HELP, "-h");

	is_int(parse("--bogus", 0, &x, &a, &e), CRUMB_EINVAL, "unknown long");
	is_str(e.msg, "unknown option '--bogus'", "names it");
	is_int(parse("--bogus=1", 0, &x, &a, &e), CRUMB_EINVAL, "unknown long with value");
	is_str(e.msg, "unknown option '--bogus'", "without the value");
	is_int(parse("-x", 0, &x, &a, &e), CRUMB_EINVAL, "unknown short");
	is_str(e.msg, "unknown option '-x'", "names it");
	is_int(parse("-dx", 0, &x, &a, &e), CRUMB_EINVAL, "unknown in a bundle");
	is_str(e.msg, "unknown option '-x' in '-dx'", "names letter and word");
	is_int(parse("--tag", 0, &x, &a, &e), CRUMB_EINVAL, "missing value");
	is_str(e.msg, "--tag needs a value", "says so");
	is_int(parse("-p", 0, &x, &a, &e), CRUMB_EINVAL, "missing short value");
	is_str(e.msg, "-p needs a value", "says so");
	is_int(parse("--rm=1", 0, &x, &a, &e), CRUMB_EINVAL, "flag with value");
	is_str(e.msg, "--rm takes no value", "says so");
	is_int(parse("--tag -d", 0, &x, &a, &e), 0, "a value may start with '-'");
	is_str(x.tag, "-d", "taken verbatim");

	is_int(parse("-c 2 --count --count", 0, &x, &a, &e), 0, "callbacks");
	ok(x.cpus == 2 && x.calls0 == 2, "called with their values");
	is_int(parse("--cpus=3", 0, &x, &a, &e), CRUMB_EINVAL, "callback refuses");
	is_str(e.msg, "--cpus 3: want 1 or 2", "its message");

	struct opt tab[] = {
	    OPT_FLAG_('d', "detach", &x.d, "run in the background"),
	    OPT_STRING_('m', NULL, &x.mem, "SIZE", "memory"),
	    OPT_FLAG_(0, "rm", &x.rm, "remove"),
	    OPT_FLAG_(0, "hidden", &x.rm, NULL),
	    OPT_LIST_('p', "publish", &x.pub, "PORT", "publish"),
	    OPT_END_,
	};
	struct sbuf h = SBUF_INIT;
	opt_help(tab, &h);
	is_str(h.buf,
	       "  -d, --detach        run in the background\n"
	       "  -m SIZE             memory\n"
	       "      --rm            remove\n"
	       "  -p, --publish PORT  publish\n",
	       "help lines, aligned, hidden ones left out");
	sb_release(&h);
	strlist_release(&a);
	strlist_release(&x.pub);
	return done_testing();
}

/* test_initcfg.c: renders init configs with initcfg and parses them back with the guest parser. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/initcfg.h"
#include "lib/runcfg.h"
#include "lib/util.h"
#include "tap.h"

/* The guest's parser and user lookup are not in the host library: compile them in. */
#include "../../src/init/config.c"
#include "../../src/init/user.c"

static int warnings;
static char last_warning[256];

static void count_warning(void *ctx, const char *msg)
{
	(void)ctx;
	warnings++;
	snprintf(last_warning, sizeof(last_warning), "%s", msg);
}

/* Parses a copy of len bytes (so ASan sees reads past the end), no terminator after it. */
static int parse_bytes(const char *text, size_t len, struct conf *c, char **copy, char *err,
		       size_t errlen)
{
	*copy = xmalloc(len ? len : 1);
	memcpy(*copy, text, len);
	warnings = 0;
	last_warning[0] = '\0';
	return conf_parse(c, *copy, len, count_warning, NULL, err, errlen);
}

static int lists_equal(char **got, size_t n, const struct strlist *want)
{
	if (n != want->n || got[n] != NULL)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (strcmp(got[i], want->v[i]) != 0)
			return 0;
	return 1;
}

/* Renders c, parses it back and checks it came back the same. */
static void roundtrip(const struct initcfg *c, const char *what)
{
	struct sbuf out = SBUF_INIT;
	struct err e = {0};
	struct conf pc;
	char err[256], *copy;
	int rc = initcfg_render(c, &out, &e);

	is_int(rc, 0, "%s: renders (%s)", what, e.msg);
	if (rc) {
		sb_release(&out);
		return;
	}
	ok(out.len > 0 && out.buf[out.len - 1] == '\n', "%s: ends with a newline", what);
	{
		int clean = 1;

		for (size_t i = 0; i < out.len; i++) {
			unsigned char ch = (unsigned char)out.buf[i];

			if ((ch < 0x20 && ch != '\n') || ch == 0x7f)
				clean = 0;
		}
		ok(clean, "%s: no raw control bytes in the file", what);
	}
	rc = parse_bytes(out.buf, out.len, &pc, &copy, err, sizeof(err));
	is_int(rc, 0, "%s: parses back (%s)", what, err);
	if (rc == 0) {
		is_int(pc.mode, c->build ? CONF_MODE_BUILD : CONF_MODE_SERVICE, "%s: mode", what);
		if (!c->build) {
			ok(lists_equal(pc.svc.argv, pc.svc.argc, &c->argv), "%s: argv survives",
			   what);
			ok(lists_equal(pc.svc.envp, pc.svc.envc, &c->env), "%s: env survives",
			   what);
			is_str(pc.svc.workdir, c->workdir ? c->workdir : "/", "%s: workdir", what);
			is_str(pc.svc.user, c->user, "%s: user", what);
			ok(pc.svc.label == NULL && pc.nsteps == 0, "%s: no steps", what);
		} else {
			is_int(pc.nsteps, c->nsteps, "%s: step count", what);
			ok(pc.svc.argv == NULL, "%s: no service argv", what);
			for (size_t i = 0; i < pc.nsteps && i < c->nsteps; i++) {
				const struct initcfg_step *w = &c->steps[i];
				const struct conf_proc *g = &pc.steps[i];

				is_str(g->label, w->label, "%s: step %zu label", what, i);
				ok(lists_equal(g->argv, g->argc, &w->argv), "%s: step %zu argv",
				   what, i);
				ok(lists_equal(g->envp, g->envc, &w->env), "%s: step %zu env", what,
				   i);
				is_str(g->workdir, w->workdir ? w->workdir : "/",
				       "%s: step %zu workdir", what, i);
				is_str(g->user, w->user, "%s: step %zu user", what, i);
			}
		}
		is_str(pc.hostname, c->hostname ? c->hostname : "crumb", "%s: hostname", what);
		is_int(pc.restart, (int)c->restart, "%s: restart", what);
		is_int(pc.restart_max,
		       c->restart == INITCFG_RESTART_ON_FAILURE && c->restart_max
			   ? (long long)c->restart_max
			   : -1,
		       "%s: restart max", what);
		is_int(pc.stop_signal, c->stop_signal ? c->stop_signal : 15, "%s: stop signal",
		       what);
		is_int(pc.stop_timeout, c->stop_timeout >= 0 ? c->stop_timeout : 10,
		       "%s: stop timeout", what);
		is_int(pc.nready, c->nready, "%s: ready count", what);
		for (size_t i = 0; i < pc.nready && i < c->nready; i++)
			is_int(pc.ready[i], c->ready[i], "%s: ready port %zu", what, i);
		is_int(pc.nmounts, c->nmounts, "%s: mount count", what);
		for (size_t i = 0; i < pc.nmounts && i < c->nmounts; i++) {
			is_str(pc.mounts[i].type, c->mounts[i].type, "%s: mount %zu type", what, i);
			is_str(pc.mounts[i].source, c->mounts[i].source, "%s: mount %zu source",
			       what, i);
			is_str(pc.mounts[i].target, c->mounts[i].target, "%s: mount %zu target",
			       what, i);
			is_str(pc.mounts[i].options, c->mounts[i].options, "%s: mount %zu options",
			       what, i);
		}
		is_int(pc.tty, c->tty, "%s: tty", what);
		is_str(pc.term, c->term, "%s: term", what);
		is_int(pc.rows, c->rows, "%s: rows", what);
		is_int(pc.cols, c->cols, "%s: cols", what);
		ok(pc.seccomp_len == c->seccomp_len &&
		       (!c->seccomp_len || !memcmp(pc.seccomp, c->seccomp, c->seccomp_len)),
		   "%s: seccomp program (%zu bytes)", what, c->seccomp_len);
		is_int(pc.seccomp_kill, c->seccomp && c->seccomp_kill, "%s: seccomp_action", what);
		is_int(pc.trace, c->trace, "%s: trace", what);
		is_int(warnings, 0, "%s: no warnings", what);
	}
	conf_release(&pc);
	free(copy);
	sb_release(&out);
}

static void test_roundtrips(void)
{
	struct initcfg c;
	char all[256];

	initcfg_init(&c);
	strlist_push(&c.argv, "/bin/sh");
	strlist_push(&c.argv, "-c");
	strlist_push(&c.argv, "echo 'a  b'\nprintf '%s\\n' \"x\\y\"; exit 3");
	strlist_push(&c.argv, "");
	strlist_push(&c.argv, "\x01\x02\x03\x1f\x7f");
	strlist_push(&c.argv, "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80");
	strlist_push(&c.argv, "tab\there\r\n");
	strlist_push(&c.argv, "\\x41 \\n \\\\ \\");
	strlist_push(&c.argv, " leading and trailing spaces ");
	strlist_push(&c.argv, "a=b");
	strlist_push(&c.argv, "");
	strlist_push(&c.env, "PATH=/usr/bin:/bin");
	strlist_push(&c.env, "EQ=a=b==c");
	strlist_push(&c.env, "EMPTY=");
	strlist_push(&c.env, "MULTI=line1\nline2\\ \x01 end ");
	strlist_push(&c.env, "UTF=\xc3\xbc\xc3\xb6");
	c.workdir = xstrdup("/srv/my app/\xc3\xa9");
	c.hostname = xstrdup("box-1");
	roundtrip(&c, "awkward bytes");

	/* Every byte but NUL, in one argument and one env value. */
	for (int i = 1; i < 256; i++)
		all[i - 1] = (char)i;
	all[255] = '\0';
	strlist_push(&c.argv, all);
	strlist_push_owned(&c.env, xasprintf("ALL=%s", all));
	roundtrip(&c, "all bytes 1..255");
	initcfg_release(&c);

	initcfg_init(&c);
	strlist_push(&c.argv, "/hello");
	roundtrip(&c, "defaults (no env, workdir, hostname)");
	{
		struct sbuf out = SBUF_INIT;
		struct err e = {0};

		initcfg_render(&c, &out, &e);
		is_str(out.buf, "crumb-init 1\narg /hello\n",
		       "minimal file is exactly the header and one arg");
		sb_release(&out);
	}
	initcfg_release(&c);
	ok(c.argv.n == 0 && !c.workdir && c.stop_timeout == -1,
	   "initcfg_release leaves an empty config with its defaults");

	/* Exact escaping, as documented in config.h. */
	initcfg_init(&c);
	strlist_push(&c.argv, "a\\b\nc\x01\x7f\x1b"
			      "d \xc3\xa9");
	{
		struct sbuf out = SBUF_INIT;
		struct err e = {0};

		initcfg_render(&c, &out, &e);
		is_str(out.buf, "crumb-init 1\narg a\\\\b\\nc\\x01\\x7f\\x1bd \xc3\xa9\n",
		       "escapes: \\\\, \\n, lowercase \\xHH, UTF-8 and spaces raw");
		sb_release(&out);
	}
	initcfg_release(&c);
	is_str(INITCFG_GUEST_PATH, CONF_PATH, "host and guest agree on the path");
}

static void test_render_errors(void)
{
	struct initcfg c;
	struct sbuf out = SBUF_INIT;
	struct err e = {0};
	char *big;

	sb_adds(&out, "keep");
	initcfg_init(&c);
	is_int(initcfg_render(&c, &out, &e), CRUMB_EINVAL, "empty argv fails");
	strlist_push(&c.argv, "");
	is_int(initcfg_render(&c, &out, &e), CRUMB_EINVAL, "empty argv[0] fails");
	initcfg_release(&c);

	strlist_push(&c.argv, "/bin/true");
	strlist_push(&c.env, "NOEQUALS");
	e.code = 0;
	is_int(initcfg_render(&c, &out, &e), CRUMB_EINVAL, "env without '=' fails");
	ok(strstr(e.msg, "NOEQUALS") != NULL, "message names the entry: %s", e.msg);
	strlist_release(&c.env);
	strlist_push(&c.env, "=value");
	is_int(initcfg_render(&c, &out, &e), CRUMB_EINVAL, "env with empty NAME fails");
	strlist_release(&c.env);

	c.workdir = xstrdup("relative");
	is_int(initcfg_render(&c, &out, &e), CRUMB_EINVAL, "relative workdir fails");
	free(c.workdir);
	c.workdir = NULL;
	c.hostname = xstrdup("");
	is_int(initcfg_render(&c, &out, &e), CRUMB_EINVAL, "empty hostname fails");
	free(c.hostname);
	c.hostname = xmalloc(66);
	memset(c.hostname, 'h', 65);
	c.hostname[65] = '\0';
	is_int(initcfg_render(&c, &out, &e), CRUMB_EINVAL, "65-byte hostname fails");
	c.hostname[64] = '\0';
	sb_reset(&out);
	is_int(initcfg_render(&c, &out, &e), 0, "64-byte hostname renders");
	sb_reset(&out);
	sb_adds(&out, "keep");
	free(c.hostname);
	c.hostname = NULL;

	/* A control byte takes 4 bytes escaped: 70000 of them pass the line limit. */
	big = xmalloc(70001);
	memset(big, 1, 70000);
	big[70000] = '\0';
	strlist_push_owned(&c.argv, big);
	is_int(initcfg_render(&c, &out, &e), CRUMB_EUNSAFE, "overlong escaped line fails");
	is_str(out.buf, "keep", "failed renders leave out untouched");
	initcfg_release(&c);
	sb_release(&out);
}

/* Expects parsing text (len bytes) to fail with a message containing want. */
static void parse_fails(const char *text, size_t len, const char *want, const char *what)
{
	struct conf c;
	char err[256], *copy;
	int rc = parse_bytes(text, len, &c, &copy, err, sizeof(err));

	is_int(rc, -1, "rejects %s", what);
	ok(rc == -1 && strstr(err, want) != NULL, "  message for %s: '%s' (want '%s')", what, err,
	   want);
	ok(c.svc.argv == NULL && c.svc.envp == NULL && c.steps == NULL && c.mounts == NULL &&
	       c.ready == NULL,
	   "  nothing left allocated for %s", what);
	free(copy);
}

#define FAILS(lit, want, what) parse_fails(lit, sizeof(lit) - 1, want, what)

static void test_parse_errors(void)
{
	char *big;
	size_t n;

	FAILS("", "empty", "an empty file");
	FAILS("crumb-init 1", "no newline", "a header without newline");
	FAILS("crumb-init 1\narg /bin/sh", "line 2: no newline at end", "a missing final newline");
	FAILS("crumb-init 1\narg /bin/sh\narg -c", "line 3: no newline", "a truncated last line");
	FAILS("crumb-init 2\narg /x\n", "line 1: unsupported config version", "version 2");
	FAILS("crumb-init 1\r\narg /x\n", "line 1: not a crumb-init config", "a CRLF header");
	FAILS("crumb-init 12\narg /x\n", "unsupported config version", "version 12");
	FAILS("crumb-init\narg /x\n", "line 1: not a crumb-init config", "a bare header word");
	FAILS("#!/bin/sh\narg /x\n", "not a crumb-init config", "a script");
	FAILS("crumb-init 1\n", "no 'arg' line", "no arg");
	FAILS("crumb-init 1\nenv A=1\n", "no 'arg' line", "env but no arg");
	FAILS("crumb-init 1\narg /x\\\n", "line 2: backslash at end", "a truncated escape");
	FAILS("crumb-init 1\narg /x\\x4\n", "line 2: truncated \\x", "a truncated \\x escape");
	FAILS("crumb-init 1\narg /x\\x\n", "truncated \\x", "a \\x with no digits");
	FAILS("crumb-init 1\narg /x\\xzz\n", "bad hex", "bad hex digits");
	FAILS("crumb-init 1\narg /x\\x4g\n", "bad hex", "a bad second hex digit");
	FAILS("crumb-init 1\narg /x\\x00\n", "NUL", "\\x00");
	FAILS("crumb-init 1\narg /x\\t\n", "unknown escape", "\\t");
	FAILS("crumb-init 1\narg /x\tb\n", "raw control byte", "a raw tab");
	FAILS("crumb-init 1\narg /x\r\n", "raw control byte", "a CRLF line end");
	FAILS("crumb-init 1\narg /x\x7f\n", "raw control byte", "a raw DEL");
	FAILS("crumb-init 1\narg a\0b\n", "raw control byte", "a raw NUL");
	FAILS("crumb-init 1\narg\n", "line 2: expected 'KEY VALUE'", "a key without a space");
	FAILS("crumb-init 1\n arg /x\n", "expected 'KEY VALUE'", "a leading space");
	FAILS("crumb-init 1\nArg /x\n", "expected 'KEY VALUE'", "an uppercase key");
	FAILS("crumb-init 1\narg-x /x\n", "expected 'KEY VALUE'", "a '-' in a key");
	FAILS("crumb-init 1\narg \narg x\n", "empty program path", "an empty argv[0]");
	FAILS("crumb-init 1\narg /x\nenv NOEQ\n", "line 3: env value is not NAME=value",
	      "env without '='");
	FAILS("crumb-init 1\narg /x\nenv =v\n", "NAME=value", "env with an empty name");
	FAILS("crumb-init 1\narg /x\nworkdir /a\nworkdir /b\n", "line 4: workdir given twice",
	      "two workdirs");
	FAILS("crumb-init 1\narg /x\nworkdir rel\n", "not an absolute path", "a relative workdir");
	FAILS("crumb-init 1\narg /x\nworkdir \n", "not an absolute path", "an empty workdir");
	FAILS("crumb-init 1\narg /x\nhostname a\nhostname b\n", "hostname given twice",
	      "two hostnames");
	FAILS("crumb-init 1\narg /x\nhostname \n", "hostname must be", "an empty hostname");
	FAILS("crumb-init 1\narg /x\nhostname "
	      "hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh\n",
	      "hostname must be", "a 65-byte hostname");
	/* The key table's rules, each with its exact message, in the order they are checked. */
	FAILS("crumb-init 1\narg /x\nhostname \n", "line 3: hostname must be 1..64 bytes",
	      "an empty hostname (whole message)");
	FAILS("crumb-init 1\narg /x\nterm \n", "line 3: term must be 1..64 bytes", "an empty term");
	FAILS("crumb-init 1\narg /x\nterm a\nterm b\n", "line 4: term given twice", "two terms");
	FAILS("crumb-init 1\narg /x\nrows 1\nrows 2\n", "line 4: rows given twice", "two rows");
	FAILS("crumb-init 1\narg /x\nstop_signal 1\nstop_signal 2\n",
	      "line 4: stop_signal given twice", "two stop_signals");
	FAILS("crumb-init 1\narg /x\nstop_timeout 1\nstop_timeout 2\n",
	      "line 4: stop_timeout given twice", "two stop_timeouts");
	FAILS("crumb-init 1\narg /x\nhostname a\nhostname \\q\n", "line 4: unknown escape",
	      "a bad escape in a repeated key (decoding comes first)");
	FAILS("crumb-init 1\nmode build\nterm x\n", "line 3: term is not allowed in build mode",
	      "term in build mode");
	FAILS("crumb-init 1\nmode build\nrows 5\n",
	      "line 3: rows and cols is not allowed in build mode", "rows in build mode");
	FAILS("crumb-init 1\nmode build\nenv A=b\n",
	      "line 3: 'env' before the first step (build mode)", "env before a step");
	FAILS("crumb-init 1\nrows 5\nmode build\n",
	      "line 3: build mode has no restart, ready, tty, term, rows, cols, snapshot, seccomp, "
	      "seccomp_action or trace",
	      "mode build after rows");
	FAILS("crumb-init 1\nenv A=b\nmode build\n",
	      "line 3: mode must come before arg, env, workdir, user and step", "mode after env");

	/* An overlong line: CONF_LINE_MAX + 1 bytes before the newline. */
	n = 13 + CONF_LINE_MAX;
	big = xmalloc(n + 2);
	memcpy(big, "crumb-init 1\narg ", 17);
	memset(big + 17, 'a', n - 17);
	big[n] = 'a';
	big[n + 1] = '\n';
	parse_fails(big, n + 2, "line 2: line longer than", "an overlong line");
	/* ...and exactly CONF_LINE_MAX is fine. */
	{
		struct conf c;
		char err[256], *copy;

		is_int(parse_bytes(big, n + 1, &c, &copy, err, sizeof(err)), -1,
		       "(without its newline the same line is a truncated file)");
		free(copy);
		big[n] = '\n';
		is_int(parse_bytes(big, n + 1, &c, &copy, err, sizeof(err)), 0,
		       "a line of exactly CONF_LINE_MAX bytes parses (%s)", err);
		is_int(c.svc.argc == 1 ? (long long)strlen(c.svc.argv[0]) : -1, CONF_LINE_MAX - 4,
		       "  and keeps its bytes");
		conf_release(&c);
		conf_release(&c);
		free(copy);
	}
	free(big);

	/* A file over CONF_FILE_MAX fails before anything is read. */
	big = xcalloc(CONF_FILE_MAX + 1, 1);
	parse_fails(big, CONF_FILE_MAX + 1, "larger than", "a file over 1 MiB");
	free(big);
}

static void test_parse_lenient(void)
{
	static const char text[] = "crumb-init 1\n"
				   "# a comment\n"
				   "\n"
				   "future_key whatever \\q \x01 goes\n"
				   "arg /bin/echo\n"
				   "arg \n"
				   "arg \\x41\\x4a\\\\\\n\n"
				   "env A=1\n"
				   "hostname h\n";
	struct conf c;
	char err[256], *copy;
	int rc = parse_bytes(text, sizeof(text) - 1, &c, &copy, err, sizeof(err));

	is_int(rc, 0, "comments, blank lines and an unknown key parse (%s)", err);
	is_int(warnings, 1, "the unknown key warns once");
	is_str(last_warning, "line 4: unknown key 'future_key' ignored", "the warning says where");
	if (rc == 0) {
		is_int(c.svc.argc, 3, "three args");
		is_str(c.svc.argv[1], "", "an empty arg");
		is_str(c.svc.argv[2], "AJ\\\n", "hex escapes of either case, backslash, newline");
		ok(c.svc.argv[3] == NULL, "argv is NULL-terminated");
		is_int(c.svc.envc, 1, "one env");
		is_str(c.svc.workdir, "/", "workdir defaults to /");
		is_str(c.hostname, "h", "hostname");
	}
	conf_release(&c);
	free(copy);

	rc = parse_bytes("crumb-init 1\narg /x\n", 20, &c, &copy, err, sizeof(err));
	is_int(rc, 0, "no env parses");
	ok(rc == 0 && c.svc.envp && c.svc.envp[0] == NULL && c.svc.envc == 0,
	   "envp is an empty array, not NULL");
	is_str(c.hostname, "crumb", "hostname defaults to crumb");
	conf_release(&c);
	free(copy);

	rc = parse_bytes("crumb-init 1\narg /x\\x4A\n", 24, &c, &copy, NULL, 0);
	is_int(rc, 0, "a NULL error buffer is fine");
	conf_release(&c);
	free(copy);
	rc = parse_bytes("junk", 4, &c, &copy, NULL, 0);
	is_int(rc, -1, "a NULL error buffer is fine on failure too");
	free(copy);
}

static void test_new_keys(void)
{
	struct initcfg c;
	struct sbuf out = SBUF_INIT;
	struct err e = {0};
	struct initcfg_step *st;

	initcfg_init(&c);
	strlist_push(&c.argv, "/usr/sbin/sshd");
	strlist_push(&c.argv, "-D");
	c.user = xstrdup("www-data:1000");
	c.restart = INITCFG_RESTART_ON_FAILURE;
	c.restart_max = 3;
	c.stop_signal = 3;
	c.stop_timeout = 0;
	initcfg_add_ready(&c, 22);
	initcfg_add_ready(&c, 65535);
	initcfg_add_mount(&c, "ext4", "/dev/vdb", "/data", NULL);
	initcfg_add_mount(&c, "9p", "tag with space", "/mnt/my dir/a\\b\nc", "ro,cache=loose");
	initcfg_add_mount(&c, "tmpfs", "tmpfs", "/scratch", "size=10m,mode=1777");
	c.tty = 1;
	c.term = xstrdup("xterm-256color");
	c.rows = 50;
	c.cols = 132;
	c.hostname = xstrdup("web");
	roundtrip(&c, "every service key");
	initcfg_render(&c, &out, &e);
	ok(strstr(out.buf, "\nmount 9p tag\\x20with\\x20space /mnt/my\\x20dir/a\\\\b\\nc "
			   "ro,cache=loose\n") != NULL,
	   "mount fields escape spaces as \\x20");
	ok(strstr(out.buf, "\nmount ext4 /dev/vdb /data rw\n") != NULL,
	   "a plain mount reads plainly, options default to rw");
	ok(strstr(out.buf, "\nrestart on-failure:3\n") && strstr(out.buf, "\nstop_timeout 0\n") &&
	       strstr(out.buf, "\nready 22\n") && strstr(out.buf, "\ntty 1\n"),
	   "numbers and policies render as documented");
	sb_release(&out);

	c.restart = INITCFG_RESTART_ALWAYS;
	c.restart_max = 0;
	c.stop_signal = 0;
	c.stop_timeout = -1;
	roundtrip(&c, "restart always, default stop");
	c.restart = INITCFG_RESTART_ON_FAILURE;
	roundtrip(&c, "restart on-failure without a limit");
	initcfg_release(&c);

	/* Build mode. */
	initcfg_init(&c);
	c.hostname = xstrdup("builder");
	initcfg_add_mount(&c, "ext4", "/dev/vdb", "/cache", "rw");
	st = initcfg_add_step(&c, "1/3 RUN apt-get update && apt-get install -y x");
	strlist_push(&st->argv, "/bin/sh");
	strlist_push(&st->argv, "-c");
	strlist_push(&st->argv, "apt-get update && apt-get install -y x");
	strlist_push(&st->env, "PATH=/usr/bin:/bin");
	st = initcfg_add_step(&c, NULL);
	strlist_push(&st->argv, "/bin/true");
	st->user = xstrdup("1000:1000");
	st->workdir = xstrdup("/home/u/new dir");
	strlist_push(&st->env, "A=b c");
	st = initcfg_add_step(&c, "3/3 \x01 odd\nlabel");
	strlist_push(&st->argv, "/x");
	ok(c.build == 1, "initcfg_add_step sets build");
	roundtrip(&c, "build mode");
	initcfg_render(&c, &out, &e);
	ok(!strncmp(out.buf, "crumb-init 1\nmode build\n", 24),
	   "mode build comes right after the header");
	ok(strstr(out.buf, "\nstep \n") != NULL, "a step without label has an empty value");
	sb_release(&out);
	initcfg_release(&c);
	ok(c.nsteps == 0 && c.steps == NULL && c.nmounts == 0, "release frees steps and mounts");
}

static void test_new_render_errors(void)
{
	struct initcfg c;
	struct sbuf out = SBUF_INIT;
	struct err e = {0};
	struct initcfg_step *st;
	const char *bad_users[] = {"", ":g", "u:", "a:b:c", NULL};

	initcfg_init(&c);
	strlist_push(&c.argv, "/bin/true");
	for (int i = 0; bad_users[i]; i++) {
		c.user = xstrdup(bad_users[i]);
		is_int(initcfg_render(&c, &out, &e), CRUMB_EINVAL, "user '%s' fails", bad_users[i]);
		free(c.user);
		c.user = NULL;
	}
	c.stop_signal = 65;
	is_int(initcfg_render(&c, &out, &e), CRUMB_EINVAL, "stop signal 65 fails");
	c.stop_signal = 0;
	c.stop_timeout = 86401;
	is_int(initcfg_render(&c, &out, &e), CRUMB_EINVAL, "stop timeout 86401 fails");
	c.stop_timeout = -1;
	initcfg_add_ready(&c, 0);
	is_int(initcfg_render(&c, &out, &e), CRUMB_EINVAL, "ready port 0 fails");
	c.ready[0] = 65536;
	is_int(initcfg_render(&c, &out, &e), CRUMB_EINVAL, "ready port 65536 fails");
	c.ready[0] = 80;
	initcfg_add_mount(&c, "ext4", "/dev/vdb", "data", NULL);
	is_int(initcfg_render(&c, &out, &e), CRUMB_EINVAL, "a relative mount target fails");
	free(c.mounts[0].target);
	c.mounts[0].target = xstrdup("/data");
	free(c.mounts[0].type);
	c.mounts[0].type = xstrdup("Ext4");
	is_int(initcfg_render(&c, &out, &e), CRUMB_EINVAL, "an uppercase mount type fails");
	free(c.mounts[0].type);
	c.mounts[0].type = xstrdup("ext4");
	free(c.mounts[0].options);
	c.mounts[0].options = xstrdup("");
	is_int(initcfg_render(&c, &out, &e), CRUMB_EINVAL, "empty mount options fail");
	free(c.mounts[0].options);
	c.mounts[0].options = xstrdup("ro");
	c.term = xstrdup("");
	is_int(initcfg_render(&c, &out, &e), CRUMB_EINVAL, "an empty TERM fails");
	free(c.term);
	c.term = NULL;
	c.rows = 70000;
	is_int(initcfg_render(&c, &out, &e), CRUMB_EINVAL, "70000 rows fail");
	c.rows = 0;
	c.restart_max = 2000000;
	is_int(initcfg_render(&c, &out, &e), CRUMB_EINVAL, "2000000 restarts fail");
	c.restart_max = 0;
	is_int(initcfg_render(&c, &out, &e), 0, "and fixed, it renders (%s)", e.msg);
	sb_reset(&out);

	/* build mode: no service fields, at least one step, each with an argv */
	c.build = 1;
	is_int(initcfg_render(&c, &out, &e), CRUMB_EINVAL, "build mode without steps fails");
	st = initcfg_add_step(&c, "s");
	strlist_push(&st->argv, "/x");
	is_int(initcfg_render(&c, &out, &e), CRUMB_EINVAL, "build mode with a service argv fails");
	strlist_release(&c.argv);
	free(c.ready);
	c.ready = NULL;
	c.nready = 0;
	is_int(initcfg_render(&c, &out, &e), 0, "build mode renders (%s)", e.msg);
	sb_reset(&out);
	c.tty = 1;
	is_int(initcfg_render(&c, &out, &e), CRUMB_EINVAL, "build mode with tty fails");
	c.tty = 0;
	c.restart = INITCFG_RESTART_ALWAYS;
	is_int(initcfg_render(&c, &out, &e), CRUMB_EINVAL, "build mode with restart fails");
	c.restart = INITCFG_RESTART_NO;
	st = initcfg_add_step(&c, "empty");
	is_int(initcfg_render(&c, &out, &e), CRUMB_EINVAL, "a step without argv fails");
	ok(strstr(e.msg, "empty") != NULL, "  naming the step: %s", e.msg);
	strlist_push(&st->argv, "/y");
	st->user = xstrdup("a:");
	is_int(initcfg_render(&c, &out, &e), CRUMB_EINVAL, "a step with a bad user fails");
	initcfg_release(&c);
	sb_release(&out);
}

static void parses(const char *text, struct conf *c, char **copy, const char *what)
{
	char err[256];
	int rc = parse_bytes(text, strlen(text), c, copy, err, sizeof(err));

	is_int(rc, 0, "%s parses (%s)", what, err);
}

static void test_new_parse(void)
{
	struct conf c;
	char *copy;

	FAILS("crumb-init 1\narg /x\nuser a\nuser b\n", "line 4: user given twice", "two users");
	FAILS("crumb-init 1\narg /x\nuser \n", "USER or USER:GROUP", "an empty user");
	FAILS("crumb-init 1\narg /x\nuser a::b\n", "USER or USER:GROUP", "a user with two colons");
	FAILS("crumb-init 1\narg /x\nrestart sometimes\n", "restart must be", "a bad restart");
	FAILS("crumb-init 1\narg /x\nrestart on-failure:\n", "restart must be", "on-failure:");
	FAILS("crumb-init 1\narg /x\nrestart on-failure:-1\n", "restart must be", "on-failure:-1");
	FAILS("crumb-init 1\narg /x\nrestart on-failure:1000001\n", "restart must be",
	      "too many restarts");
	FAILS("crumb-init 1\narg /x\nrestart no\nrestart no\n", "restart given twice",
	      "two restarts");
	FAILS("crumb-init 1\narg /x\nstop_signal 0\n", "stop_signal must be 1..64", "signal 0");
	FAILS("crumb-init 1\narg /x\nstop_signal 65\n", "stop_signal must be", "signal 65");
	FAILS("crumb-init 1\narg /x\nstop_signal TERM\n", "stop_signal must be", "a signal name");
	FAILS("crumb-init 1\narg /x\nstop_signal +9\n", "stop_signal must be", "a signed number");
	FAILS("crumb-init 1\narg /x\nstop_timeout 86401\n", "stop_timeout must be",
	      "a long timeout");
	FAILS("crumb-init 1\narg /x\nstop_timeout 1.5\n", "stop_timeout must be", "a fraction");
	FAILS("crumb-init 1\narg /x\nready 0\n", "ready must be a TCP port", "ready 0");
	FAILS("crumb-init 1\narg /x\nready 65536\n", "ready must be", "ready 65536");
	FAILS("crumb-init 1\narg /x\nready 99999999999\n", "ready must be", "an 11-digit port");
	FAILS("crumb-init 1\narg /x\nmount ext4 /dev/vdb /data\n", "line 3: mount wants",
	      "a mount with three fields");
	FAILS("crumb-init 1\narg /x\nmount ext4 /dev/vdb /data rw x\n", "mount wants",
	      "a mount with five fields");
	FAILS("crumb-init 1\narg /x\nmount ext4  /data rw\n", "mount field 2 is empty",
	      "a mount with an empty field");
	FAILS("crumb-init 1\narg /x\nmount ext4 /dev/vdb data rw\n", "not an absolute path",
	      "a relative mount target");
	FAILS("crumb-init 1\narg /x\nmount Ext4 /dev/vdb /data rw\n", "mount type",
	      "an uppercase mount type");
	FAILS("crumb-init 1\narg /x\nmount e\\x41 /dev/vdb /data rw\n", "mount type",
	      "an escaped uppercase mount type");
	FAILS("crumb-init 1\narg /x\nmount ext4 /dev/vdb /data r\\q\n",
	      "mount field 4: unknown escape", "a bad escape in a mount field");
	FAILS("crumb-init 1\narg /x\ntty 2\n", "tty must be 0 or 1", "tty 2");
	FAILS("crumb-init 1\narg /x\ntty 1\ntty 1\n", "tty given twice", "two ttys");
	FAILS("crumb-init 1\narg /x\nterm \n", "term must be", "an empty term");
	FAILS("crumb-init 1\narg /x\nrows 0\n", "rows must be 1..65535", "rows 0");
	FAILS("crumb-init 1\narg /x\ncols 1\ncols 2\n", "cols given twice", "two cols");
	FAILS("crumb-init 1\nmode daemon\narg /x\n", "line 2: mode must be service or build",
	      "a bad mode");
	FAILS("crumb-init 1\narg /x\nmode build\n", "mode must come before", "mode after arg");
	FAILS("crumb-init 1\nmode service\nmode service\narg /x\n", "mode given twice",
	      "two modes");
	FAILS("crumb-init 1\narg /x\nstep a\n", "step outside build mode", "a step in a service");
	FAILS("crumb-init 1\nmode build\narg /x\n", "line 3: 'arg' before the first step",
	      "arg before the first step");
	FAILS("crumb-init 1\nmode build\nuser u\nstep a\narg /x\n", "'user' before the first step",
	      "user before the first step");
	FAILS("crumb-init 1\nmode build\n", "without a 'step' line", "build mode without steps");
	FAILS("crumb-init 1\nmode build\nstep a\nstep b\narg /x\n",
	      "line 4: the step before has no arg", "a step without arg");
	FAILS("crumb-init 1\nmode build\nstep a\narg /x\nstep b\n", "the last step has no arg",
	      "a last step without arg");
	FAILS("crumb-init 1\nmode build\nrestart always\nstep a\narg /x\n",
	      "restart is not allowed in build mode", "restart in build mode");
	FAILS("crumb-init 1\nmode build\nready 80\n", "ready is not allowed",
	      "ready in build mode");
	FAILS("crumb-init 1\nmode build\nstep a\narg /x\ntty 1\n", "tty is not allowed",
	      "tty in build mode");
	FAILS("crumb-init 1\ntty 1\nmode build\nstep a\narg /x\n", "build mode has no restart",
	      "tty before mode build");
	FAILS("crumb-init 1\nmode build\nstep a\narg /x\nworkdir /a\nworkdir /b\n",
	      "workdir given twice", "two workdirs in a step");

	parses("crumb-init 1\nmode build\nhostname b\nstop_timeout 0\nstep one\narg /a\nenv X=1\n"
	       "user 5\nworkdir /w\nstep \narg /b\nworkdir /w\nmount 9p t /m ro\n",
	       &c, &copy, "a hand-written build config");
	if (c.nsteps == 2) {
		is_str(c.steps[0].label, "one", "step 1 label");
		is_str(c.steps[0].user, "5", "step 1 user");
		is_int(c.steps[0].envc, 1, "step 1 env");
		is_str(c.steps[1].label, "", "step 2 has an empty label");
		is_int(c.steps[1].envc, 0, "step 2 has no env (not step 1's)");
		ok(c.steps[1].envp && c.steps[1].envp[0] == NULL, "  but an empty array");
		ok(c.steps[1].user == NULL, "step 2 runs as root");
		is_int(c.nmounts, 1, "a mount after the steps is global");
		is_int(c.stop_timeout, 0, "stop_timeout 0");
	} else {
		ok(0, "two steps (got %zu)", c.nsteps);
	}
	conf_release(&c);
	free(copy);
	parses("crumb-init 1\nmode service\narg /x\nrestart on-failure:0\nstop_signal 64\nready 1\n"
	       "ready 1\n",
	       &c, &copy, "mode service, on-failure:0, duplicate ports");
	is_int(c.restart_max, 0, "on-failure:0 means no restart");
	is_int(c.nready, 2, "duplicate ready ports are kept");
	is_int(c.stop_signal, 64, "stop_signal 64");
	conf_release(&c);
	free(copy);
	/* An older host's file still means what it meant. */
	parses("crumb-init 1\narg /x\n", &c, &copy, "a minimal config");
	ok(c.mode == CONF_MODE_SERVICE && c.restart == CONF_RESTART_NO && c.stop_signal == 15 &&
	       c.stop_timeout == 10 && c.nready == 0 && c.nmounts == 0 && !c.tty && !c.term &&
	       !c.svc.user,
	   "defaults: service, no restart, SIGTERM, 10 s, no ready, mounts or tty, root");
	conf_release(&c);
	free(copy);
}

/* seccomp, seccomp_action and trace: rendered by initcfg, parsed back, and the parser's limits. */
static void test_seccomp_keys(void)
{
	struct initcfg c;
	struct sbuf out = SBUF_INIT;
	struct err e = {0};
	struct conf pc;
	char *copy, *big;
	size_t n;

	initcfg_init(&c);
	strlist_push(&c.argv, "/srv/app");
	c.seccomp_len = 24;
	c.seccomp = xmalloc(c.seccomp_len);
	for (size_t i = 0; i < c.seccomp_len; i++)
		c.seccomp[i] = (unsigned char)(i * 37 + 0xf0);
	roundtrip(&c, "a seccomp program");
	initcfg_render(&c, &out, &e);
	ok(strstr(out.buf, "\nseccomp f0153a5f84a9cef3183d6287acd1f61b40658aafd4f91e43\n") != NULL,
	   "seccomp renders as lowercase hex, two digits a byte");
	ok(!strstr(out.buf, "seccomp_action") && !strstr(out.buf, "trace"),
	   "the default action and no trace are not written");
	sb_reset(&out);
	c.seccomp_kill = 1;
	roundtrip(&c, "seccomp_action kill");
	initcfg_render(&c, &out, &e);
	ok(strstr(out.buf, "\nseccomp_action kill\n") != NULL, "seccomp_action kill is written");
	sb_reset(&out);
	c.trace = 1;
	roundtrip(&c, "seccomp with trace");
	free(c.seccomp);
	c.seccomp = NULL;
	c.seccomp_len = 0;
	c.seccomp_kill = 0;
	roundtrip(&c, "trace alone");
	initcfg_render(&c, &out, &e);
	ok(strstr(out.buf, "\ntrace 1\n") != NULL, "trace 1 is written");
	sb_reset(&out);

	/* the host refuses what the guest would */
	c.seccomp = xcalloc(CONF_SECCOMP_MAX + 8, 1);
	c.seccomp_len = 12;
	is_int(initcfg_render(&c, &out, &e), CRUMB_EINVAL, "a program of 12 bytes fails");
	c.seccomp_len = CONF_SECCOMP_MAX + 8;
	is_int(initcfg_render(&c, &out, &e), CRUMB_EINVAL,
	       "a program over 4096 instructions fails");
	c.seccomp_len = CONF_SECCOMP_MAX;
	roundtrip(&c, "a program of 4096 instructions");
	initcfg_release(&c);
	sb_release(&out);

	parses("crumb-init 1\narg /x\nseccomp 0600000000000000\nseccomp_action errno\ntrace 0\n",
	       &pc, &copy, "one instruction, errno, trace 0");
	ok(pc.seccomp_len == 8 && pc.seccomp && pc.seccomp[0] == 6 && pc.seccomp[1] == 0,
	   "  the program is decoded (8 bytes)");
	ok(!pc.seccomp_kill && !pc.trace, "  errno and no trace");
	conf_release(&pc);
	free(copy);
	parses("crumb-init 1\narg /x\n", &pc, &copy, "a config without them");
	ok(!pc.seccomp && !pc.seccomp_len && !pc.seccomp_kill && !pc.trace,
	   "  no program, errno, no trace");
	conf_release(&pc);
	free(copy);

	FAILS("crumb-init 1\narg /x\nseccomp \n", "line 3: seccomp must be 8..32768 bytes",
	      "an empty seccomp");
	FAILS("crumb-init 1\narg /x\nseccomp 06000000\n", "seccomp must be", "half an instruction");
	FAILS("crumb-init 1\narg /x\nseccomp 06000000000000000\n", "seccomp must be",
	      "an odd number of digits");
	FAILS("crumb-init 1\narg /x\nseccomp 060000000000000A\n",
	      "line 3: seccomp is not lowercase", "uppercase hex");
	FAILS("crumb-init 1\narg /x\nseccomp 0600000000000 0x\n", "not lowercase hex", "a space");
	FAILS("crumb-init 1\narg /x\nseccomp \\x30000000000000\n", "not lowercase hex",
	      "an escape (the value is raw)");
	FAILS("crumb-init 1\narg /x\nseccomp 0600000000000000\nseccomp 0600000000000000\n",
	      "line 4: seccomp given twice", "two seccomps");
	FAILS("crumb-init 1\narg /x\nseccomp_action deny\n",
	      "line 3: seccomp_action must be errno or kill", "a bad seccomp_action");
	FAILS("crumb-init 1\narg /x\nseccomp_action kill\nseccomp_action kill\n",
	      "seccomp_action given twice", "two seccomp_actions");
	FAILS("crumb-init 1\narg /x\ntrace yes\n", "line 3: trace must be 0 or 1", "trace yes");
	FAILS("crumb-init 1\narg /x\ntrace 1\ntrace 1\n", "trace given twice", "two traces");
	FAILS("crumb-init 1\nmode build\nseccomp 0600000000000000\n",
	      "line 3: seccomp is not allowed in build mode", "seccomp in build mode");
	FAILS("crumb-init 1\nmode build\nseccomp_action kill\n",
	      "seccomp_action is not allowed in build mode", "seccomp_action in build mode");
	FAILS("crumb-init 1\nmode build\ntrace 1\n", "trace is not allowed in build mode",
	      "trace in build mode");
	FAILS("crumb-init 1\ntrace 0\nmode build\n", "build mode has no",
	      "trace before mode build");

	/* One instruction over the limit: CONF_SECCOMP_MAX + 8 bytes, as hex. */
	n = 2 * (CONF_SECCOMP_MAX + 8);
	big = xmalloc(n + 64);
	memcpy(big, "crumb-init 1\narg /x\nseccomp ", 28);
	memset(big + 28, '0', n);
	big[28 + n] = '\n';
	parse_fails(big, 28 + n + 1, "seccomp must be", "a program of 4097 instructions");
	big[28 + n - 16] = '\n';
	is_int(parse_bytes(big, 28 + n - 15, &pc, &copy, NULL, 0), 0, "4096 instructions parse");
	is_int(pc.seccomp_len, CONF_SECCOMP_MAX, "  all of them");
	conf_release(&pc);
	free(copy);
	free(big);
}

static void test_disk(void)
{
	struct sbuf conf = SBUF_INIT, disk = SBUF_INIT;
	struct initcfg c;
	struct err e = {0};
	size_t off = 0, len = 0, koff = 0;

	initcfg_init(&c);
	strlist_push(&c.argv, "/bin/true");
	initcfg_render(&c, &conf, &e);
	initcfg_disk(conf.buf, conf.len, NULL, &disk);
	is_int(disk.len % 512, 0, "the config disk is whole sectors");
	is_int(conf_disk_header(disk.buf, disk.len, &off, &len, &koff), 0,
	       "the guest finds its header");
	ok(off + len <= disk.len && len == conf.len && !memcmp(disk.buf + off, conf.buf, len),
	   "and the config in it");
	is_str(disk.buf, "crumb-init-config 27\ncrumb-init 1\narg /bin/true\n",
	       "the disk is the header, the config, then zeros");
	is_int(conf_disk_header("crumb-init-config 25", 20, &off, &len, &koff), -1,
	       "no newline: no header");
	is_int(conf_disk_header("crumb-init-config \n", 19, &off, &len, &koff), -1,
	       "no length: no header");
	is_int(conf_disk_header("crumb-init-config 0\n", 20, &off, &len, &koff), -1,
	       "length 0: no header");
	is_int(conf_disk_header("crumb-init-config 1048577\n", 26, &off, &len, &koff), -1,
	       "over 1 MiB: no header");
	is_int(conf_disk_header("crumb-init-config 99999999999\n", 30, &off, &len, &koff), -1,
	       "11 digits: no header");
	is_int(
	    conf_disk_header("\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 21, &off, &len, &koff),
	    -1, "zeros (an ext4 volume's first bytes): no header");
	is_int(conf_disk_header("crumb-init-config 5\n", 20, &off, &len, &koff), 0,
	       "a header whose data lies beyond the bytes given still parses");
	is_int(off, 20, "  offset");
	ok(koff == 0, "  no key");

	/* The marker key rides the header; a key-only disk has no config. */
	unsigned char key[INITCFG_KEY_LEN];
	for (int i = 0; i < INITCFG_KEY_LEN; i++)
		key[i] = (unsigned char)(0xa0 + i);
	sb_reset(&disk);
	initcfg_disk(conf.buf, conf.len, key, &disk);
	ok(conf_disk_header(disk.buf, disk.len, &off, &len, &koff) == 0 && koff == 21 &&
	       !memcmp(disk.buf + koff, "a0a1a2a3", 8) && len == conf.len &&
	       !memcmp(disk.buf + off, conf.buf, len) && off == 21 + 64 + 1,
	   "a keyed config disk: the key after the length, then the config");
	sb_reset(&disk);
	initcfg_disk(NULL, 0, key, &disk);
	ok(disk.len == 512 && conf_disk_header(disk.buf, disk.len, &off, &len, &koff) == 0 &&
	       len == 0 && koff == 20,
	   "a key-only disk: length 0, one sector");
	disk.buf[20 + 63] = 'g';
	is_int(conf_disk_header(disk.buf, disk.len, &off, &len, &koff), -1,
	       "a non-hex key: no header");
	disk.buf[20 + 63] = 'A';
	is_int(conf_disk_header(disk.buf, disk.len, &off, &len, &koff), -1,
	       "an uppercase key: no header");
	is_int(conf_disk_header("crumb-init-config 0 0123\n", 25, &off, &len, &koff), -1,
	       "a short key: no header");
	initcfg_release(&c);
	sb_release(&conf);
	sb_release(&disk);
}

static void test_user(void)
{
	char dir[] = "/tmp/crumb-test-user-XXXXXX", path[256], err[256];
	struct user_ids ids;
	FILE *f;

	if (!mkdtemp(dir)) {
		ok(0, "mkdtemp");
		return;
	}
	snprintf(path, sizeof(path), "%s/etc", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/etc/passwd", dir);
	f = fopen(path, "w");
	fputs("root:x:0:0:root:/root:/bin/sh\n"
	      "# not a comment in passwd, just a bad line\n"
	      "bob:x:1000:1000:Bob:/home/bob:/bin/sh\n"
	      "short:x:7\n"
	      "1000:x:4242:4242::/home/numeric:/bin/sh\n"
	      "nohome:x:2000:2000:::/bin/sh\n"
	      "last:x:3000:3000::/home/last:/bin/sh",
	      f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/etc/group", dir);
	f = fopen(path, "w");
	fputs("root:x:0:\nbob:x:1000:\nstaff:x:50:alice,bob\nwheel:x:10:bob\n"
	      "dup:x:1000:bob\nbobby:x:60:bobby\nlastg:x:70:last",
	      f);
	fclose(f);

	is_int(user_resolve(dir, "bob", &ids, err, sizeof(err)), 0, "bob resolves (%s)", err);
	is_int(ids.uid, 1000, "  uid");
	is_int(ids.gid, 1000, "  gid from passwd");
	is_str(ids.home, "/home/bob", "  home");
	is_int(ids.ngroups, 3, "  primary + staff + wheel (dup gid once, bobby not bob)");
	ok(ids.ngroups == 3 && ids.groups[0] == 1000 && ids.groups[1] == 50 && ids.groups[2] == 10,
	   "  in /etc/group order after the primary");

	is_int(user_resolve(dir, "bob:staff", &ids, err, sizeof(err)), 0, "bob:staff resolves");
	ok(ids.uid == 1000 && ids.gid == 50 && ids.ngroups == 1 && ids.groups[0] == 50,
	   "  an explicit group is the only one");
	is_int(user_resolve(dir, "bob:123", &ids, err, sizeof(err)), 0, "bob:123 resolves");
	ok(ids.gid == 123 && ids.ngroups == 1, "  a numeric group needs no entry");
	is_int(user_resolve(dir, "bob:nosuch", &ids, err, sizeof(err)), -1, "bob:nosuch fails");
	ok(strstr(err, "group nosuch: no such group") != NULL, "  saying so: %s", err);

	is_int(user_resolve(dir, "1000", &ids, err, sizeof(err)), 0, "a user named 1000 resolves");
	ok(ids.uid == 4242 && ids.gid == 4242, "  by name before number");
	is_int(user_resolve(dir, "3000", &ids, err, sizeof(err)), 0, "uid 3000 resolves");
	ok(ids.uid == 3000 && ids.gid == 3000 && !strcmp(ids.home, "/home/last"),
	   "  to its passwd entry (last line without newline)");
	ok(ids.ngroups == 2 && ids.groups[1] == 70, "  with the groups of its name");
	is_int(user_resolve(dir, "12345", &ids, err, sizeof(err)), 0,
	       "uid 12345 (no entry) resolves");
	ok(ids.uid == 12345 && ids.gid == 0 && ids.ngroups == 1 && !strcmp(ids.home, "/"),
	   "  with gid 0, no other group, home /");
	is_int(user_resolve(dir, "12345:12345", &ids, err, sizeof(err)), 0, "12345:12345 resolves");
	ok(ids.uid == 12345 && ids.gid == 12345, "  both numbers");
	is_int(user_resolve(dir, "nohome", &ids, err, sizeof(err)), 0, "a user without home");
	is_str(ids.home, "/", "  gets /");
	is_int(user_resolve(dir, "alice", &ids, err, sizeof(err)), -1,
	       "a user only in /etc/group fails");
	ok(strstr(err, "user alice: no such user in /etc/passwd") != NULL, "  saying so: %s", err);
	is_int(user_resolve(dir, "short", &ids, err, sizeof(err)), -1,
	       "a short passwd line is skipped");
	is_int(user_resolve(dir, "4294967295", &ids, err, sizeof(err)), -1, "uid -1 is no number");
	is_int(user_resolve("/nonexistent-root", "0:0", &ids, err, sizeof(err)), 0,
	       "no passwd at all: numbers still work");
	is_int(user_resolve("/nonexistent-root", "root", &ids, err, sizeof(err)), -1,
	       "no passwd at all: names fail");
	sh("rm -rf '%s'", dir);
}

/* host lines: rendered, parsed back (service and build mode), refused when bad on either side. */
static void test_hosts(void)
{
	struct initcfg c;
	struct sbuf out = SBUF_INIT;
	struct err e = {0};
	struct conf pc;
	char err[256], *copy;

	initcfg_init(&c);
	strlist_push(&c.argv, "/bin/sh");
	initcfg_add_host(&c, "10.1.2.3", "db.local");
	initcfg_add_host(&c, "::1", "v6-host");
	is_int(initcfg_render(&c, &out, &e), 0, "hosts render (%s)", e.msg);
	ok(strstr(out.buf, "\nhost 10.1.2.3 db.local\nhost ::1 v6-host\n") != NULL,
	   "  as 'host IP NAME' lines, in order");
	is_int(parse_bytes(out.buf, out.len, &pc, &copy, err, sizeof(err)), 0,
	       "  and parse back (%s)", err);
	ok(pc.nhosts == 2 && !strcmp(pc.hosts[0].ip, "10.1.2.3") &&
	       !strcmp(pc.hosts[0].name, "db.local") && !strcmp(pc.hosts[1].ip, "::1") &&
	       !strcmp(pc.hosts[1].name, "v6-host"),
	   "  to the same hosts");
	conf_release(&pc);
	free(copy);
	initcfg_release(&c);
	ok(c.nhosts == 0 && c.hosts == NULL, "release frees the hosts");

	/* build mode takes them too */
	initcfg_init(&c);
	sb_reset(&out);
	strlist_push(&initcfg_add_step(&c, "1:1")->argv, "/bin/true");
	initcfg_add_host(&c, "192.168.0.1", "a.b-c.d");
	is_int(initcfg_render(&c, &out, &e), 0, "hosts render in build mode (%s)", e.msg);
	is_int(parse_bytes(out.buf, out.len, &pc, &copy, err, sizeof(err)), 0,
	       "  and parse back (%s)", err);
	ok(pc.mode == CONF_MODE_BUILD && pc.nhosts == 1, "  one host, build mode");
	conf_release(&pc);
	free(copy);
	initcfg_release(&c);

	static const char *const bad[][2] = {
	    {"1.2.3", "db"},	 {"10.1.2.3", "bad_name"}, {"10.1.2.3", "-db"},
	    {"10.1.2.3", "db-"}, {"10.1.2.3", "a..b"},	   {"10.1.2.3", ""},
	    {"[::1]", "db"},	 {"10.1.2.3", "a b"},	   {"10.1.2.3", "db."},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		initcfg_init(&c);
		sb_reset(&out);
		strlist_push(&c.argv, "/bin/sh");
		initcfg_add_host(&c, bad[i][0], bad[i][1]);
		is_int(initcfg_render(&c, &out, &e), CRUMB_EINVAL, "render refuses host '%s' '%s'",
		       bad[i][0], bad[i][1]);
		ok(out.len == 0, "  leaving out empty");
		initcfg_release(&c);
	}
	char name[300];
	memset(name, 'a', sizeof(name));
	name[63] = '\0';
	ok(initcfg_host_name_ok(name), "a 63-byte label is a host name");
	name[63] = 'a';
	name[64] = '\0';
	ok(!initcfg_host_name_ok(name), "a 64-byte label is not");
	for (int i = 0; i < 254; i++)
		name[i] = i % 2 ? '.' : 'a';
	name[253] = '\0';
	ok(initcfg_host_name_ok(name), "253 bytes are a host name");
	name[253] = 'a';
	name[254] = '\0';
	ok(!initcfg_host_name_ok(name), "254 are not");
	sb_release(&out);

	FAILS("crumb-init 1\narg /x\nhost 10.1.2.3\n", "line 3: host wants 'IP NAME'",
	      "a host line without a name");
	FAILS("crumb-init 1\narg /x\nhost 300.1.2.3 db\n", "line 3: host: '300.1.2.3' is not",
	      "a host line with a bad address");
	FAILS("crumb-init 1\narg /x\nhost 10.1.2.3 db_x\n", "line 3: host: not a host name",
	      "a host line with a bad name");
	FAILS("crumb-init 1\narg /x\nhost 10.1.2.3 a b\n", "line 3: host: not a host name",
	      "a host line with two names");
}

/* --add-host's values (runcfg_add_host_parse, runcfg_add_hosts). */
static void test_add_host_flag(void)
{
	static const struct {
		const char *in, *name, *ip; /* ip NULL: host-gateway */
	} good[] = {
	    {"db.local:10.1.2.3", "db.local", "10.1.2.3"},
	    {"db.local=10.1.2.3", "db.local", "10.1.2.3"},
	    {"h:::1", "h", "::1"},
	    {"h:[::1]", "h", "::1"},
	    {"h=[2001:db8::1]", "h", "2001:db8::1"},
	    {"h=::ffff:1.2.3.4", "h", "::ffff:1.2.3.4"},
	    {"Gw-1:host-gateway", "Gw-1", NULL},
	};
	static const struct {
		const char *in, *want;
	} bad[] = {
	    {"db.local", "--add-host db.local: want HOST:IP (or HOST=IP)"},
	    {":10.1.2.3", "want HOST:IP"},
	    {"db:", "want HOST:IP"},
	    {"db_x:10.1.2.3", "--add-host db_x:10.1.2.3: 'db_x' is not a host name"},
	    {"db:10.1.2", "--add-host db:10.1.2: '10.1.2' is not an IPv4 or IPv6 address"},
	    {"db:[10.1.2.3", "is not an IPv4 or IPv6"},
	    {"db:fe80::1%eth0", "is not an IPv4 or IPv6"},
	    {"db:localhost", "'localhost' is not an IPv4 or IPv6"},
	};
	struct run_host h;
	struct err e = {0};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		int r = runcfg_add_host_parse(good[i].in, &h, &e);
		ok(r == 0 && !strcmp(h.name, good[i].name) &&
		       (good[i].ip ? h.ip && !strcmp(h.ip, good[i].ip) : !h.ip),
		   "--add-host %s: %s at %s (%s)", good[i].in, good[i].name,
		   good[i].ip ? good[i].ip : "host-gateway", r ? e.msg : "");
		run_host_release(&h);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = runcfg_add_host_parse(bad[i].in, &h, &e);
		ok(r == CRUMB_EINVAL && strstr(e.msg, bad[i].want) && !h.name && !h.ip,
		   "--add-host %s refused: %s", bad[i].in, e.msg);
	}

	struct strlist l = STRLIST_INIT;
	struct initcfg c;
	initcfg_init(&c);
	strlist_push(&l, "a:1.2.3.4");
	strlist_push(&l, "b=[::2]");
	is_int(runcfg_add_hosts(&l, 0, &c, &e), 0, "runcfg_add_hosts takes two");
	ok(c.nhosts == 2 && !strcmp(c.hosts[0].name, "a") && !strcmp(c.hosts[1].ip, "::2"),
	   "  in order, brackets gone");
	strlist_push(&l, "gw:host-gateway");
	is_int(runcfg_add_hosts(&l, 0, &c, &e), CRUMB_EINVAL, "host-gateway without a network");
	ok(strstr(e.msg, "--add-host gw:host-gateway: host-gateway needs a network") != NULL,
	   "  says so: %s", e.msg);
	initcfg_release(&c);
	initcfg_init(&c);
	char gw[16];
	int r = runcfg_host_gateway(gw, &e);
	if (r == 0) {
		is_int(runcfg_add_hosts(&l, 1, &c, &e), 0, "host-gateway with a network (%s)",
		       e.msg);
		ok(c.nhosts == 3 && !strcmp(c.hosts[2].ip, gw) && strcmp(gw, "127.0.0.1"),
		   "  is the host's address %s", gw);
	} else {
		ok(r == CRUMB_ENOENT, "no non-loopback address here: %s", e.msg);
	}
	initcfg_release(&c);
	strlist_release(&l);
}

/* RUN --mount's lines: step_mount and step_secret belong to the step they follow, rendered
 * and parsed back field by field (spaces in a field survive); bad ones refused both ways. */
static void test_step_mounts(void)
{
	struct initcfg c;
	struct initcfg_step *s;
	struct sbuf out = SBUF_INIT;
	struct err e = {0};
	struct conf pc;
	char err[256], *copy;

	initcfg_init(&c);
	s = initcfg_add_step(&c, "1:1");
	strlist_push(&s->argv, "/bin/true");
	s = initcfg_add_step(&c, "2:1");
	strlist_push(&s->argv, "/bin/sh");
	strlist_push(&s->env, "A=1");
	initcfg_step_add_mount(s, "ext4", "/dev/vdb", "/data", "/root/my cache", "rw");
	initcfg_step_add_mount(s, "tmpfs", "tmpfs", "/", "/tmp", "size=1048576");
	initcfg_step_add_secret(s, "/dev/vdc", 512, 17, 0400, 1000, 1001, "/run/secrets/tok");
	initcfg_step_add_secret(s, "/dev/vdc", 0, 3, 0, 0, 0, "TOKEN");
	is_int(initcfg_render(&c, &out, &e), 0, "a build with step mounts renders (%s)", e.msg);
	ok(strstr(out.buf, "step_mount ext4 /dev/vdb /data /root/my\\x20cache rw\n") != NULL,
	   "step_mount's fields are escaped one by one");
	ok(strstr(out.buf, "step_secret /dev/vdc 512 17 400 1000 1001 /run/secrets/tok\n") != NULL,
	   "step_secret: offset, length, octal mode, uid, gid, dest");
	is_int(parse_bytes(out.buf, out.len, &pc, &copy, err, sizeof(err)), 0,
	       "... and parses back (%s)", err);
	if (pc.nsteps == 2) {
		const struct conf_proc *g = &pc.steps[1];

		ok(pc.steps[0].nmounts == 0 && pc.steps[0].nsecrets == 0,
		   "the first step has none");
		is_int(g->nmounts, 2, "the second step has both mounts");
		if (g->nmounts == 2) {
			is_str(g->mounts[0].target, "/root/my cache", "target with a space");
			is_str(g->mounts[0].subpath, "/data", "subpath");
			is_str(g->mounts[1].options, "size=1048576", "tmpfs options");
		}
		is_int(g->nsecrets, 2, "and both secrets");
		if (g->nsecrets == 2) {
			ok(g->secrets[0].offset == 512 && g->secrets[0].length == 17 &&
			       g->secrets[0].mode == 0400 && g->secrets[0].uid == 1000 &&
			       g->secrets[0].gid == 1001,
			   "the secret's numbers");
			is_str(g->secrets[1].dest, "TOKEN", "a secret for a variable");
		}
	}
	conf_release(&pc);
	free(copy);
	sb_release(&out);
	initcfg_step_add_mount(s, "ext4", "/dev/vdb", "/", "/", "ro");
	is_int(initcfg_render(&c, &out, &e), CRUMB_EINVAL, "a step mount on / is refused");
	initcfg_release(&c);

	FAILS("crumb-init 1\nmode build\nstep x\narg /a\nstep_mount ext4 /dev/vdb / /x\n",
	      "step_mount wants 'TYPE SOURCE SUBPATH TARGET OPTIONS'", "step_mount, 4 fields");
	FAILS("crumb-init 1\nmode build\nstep x\narg /a\nstep_mount tmpfs t /sub /x rw\n",
	      "step_mount subpath must be absolute", "a tmpfs with a subpath");
	FAILS("crumb-init 1\nmode build\nstep x\narg /a\nstep_mount ext4 /dev/vdb / rel rw\n",
	      "step_mount target must be an absolute path", "a relative target");
	FAILS("crumb-init 1\nmode build\nstep x\narg /a\nstep_secret /dev/vdb 0 999999 400 0 0 "
	      "/s\n",
	      "step_secret: bad OFFSET", "a secret over CONF_SECRET_MAX");
	FAILS("crumb-init 1\nmode build\nstep x\narg /a\nstep_secret /dev/vdb 0 1 800 0 0 /s\n",
	      "step_secret: bad OFFSET", "a mode that is not octal");
	FAILS("crumb-init 1\nmode build\nstep x\narg /a\nstep_secret /dev/vdb 0 1 400 0 0 A=B\n",
	      "no path nor a variable name", "a variable name with '='");
	FAILS("crumb-init 1\narg /a\nstep_mount tmpfs t / /x rw\n", "outside build mode",
	      "step_mount in a service config");
	FAILS("crumb-init 1\nmode build\nstep_mount tmpfs t / /x rw\n", "before the first step",
	      "step_mount before a step");
}

int main(void)
{
	test_step_mounts();
	test_roundtrips();
	test_render_errors();
	test_parse_errors();
	test_parse_lenient();
	test_new_keys();
	test_new_render_errors();
	test_new_parse();
	test_seccomp_keys();
	test_disk();
	test_user();
	test_hosts();
	test_add_host_flag();
	return done_testing();
}

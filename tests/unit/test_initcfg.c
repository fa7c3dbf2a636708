/* test_initcfg.c: renders init configs with initcfg and parses them back with the guest parser. */
#include <stdlib.h>
#include <string.h>

#include "lib/initcfg.h"
#include "lib/util.h"
#include "tap.h"

/* The guest's parser is not in the host library: compile it in. */
#include "../../src/init/config.c"

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
		ok(lists_equal(pc.argv, pc.argc, &c->argv), "%s: argv survives", what);
		ok(lists_equal(pc.envp, pc.envc, &c->env), "%s: env survives", what);
		is_str(pc.workdir, c->workdir ? c->workdir : "/", "%s: workdir", what);
		is_str(pc.hostname, c->hostname ? c->hostname : "crumb", "%s: hostname", what);
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
	ok(c.argv.n == 0 && !c.workdir, "initcfg_release leaves an empty config");

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
	ok(c.argv == NULL && c.envp == NULL, "  nothing left allocated for %s", what);
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
		is_int(c.argc == 1 ? (long long)strlen(c.argv[0]) : -1, CONF_LINE_MAX - 4,
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
		is_int(c.argc, 3, "three args");
		is_str(c.argv[1], "", "an empty arg");
		is_str(c.argv[2], "AJ\\\n", "hex escapes of either case, backslash, newline");
		ok(c.argv[3] == NULL, "argv is NULL-terminated");
		is_int(c.envc, 1, "one env");
		is_str(c.workdir, "/", "workdir defaults to /");
		is_str(c.hostname, "h", "hostname");
	}
	conf_release(&c);
	free(copy);

	rc = parse_bytes("crumb-init 1\narg /x\n", 20, &c, &copy, err, sizeof(err));
	is_int(rc, 0, "no env parses");
	ok(rc == 0 && c.envp && c.envp[0] == NULL && c.envc == 0,
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

int main(void)
{
	test_roundtrips();
	test_render_errors();
	test_parse_errors();
	test_parse_lenient();
	return done_testing();
}

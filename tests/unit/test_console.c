/* test_console.c: the console parser: signed markers only, forgeries shown as text; the guest's
 * MAC. */
#include <stdlib.h>
#include <string.h>

#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "lib/console.h"
#include "sign.h"
#include "tap.h"

/* The guest's SHA-256, HMAC and marker writer are not in the host library. */
#include "../../src/init/mac.c"

static void out(void *ctx, const char *buf, size_t n)
{
	sb_add(ctx, buf, n);
}

static void record_event(void *ctx, const char *name, const struct vm_result *r)
{
	(void)r;
	sb_addf(ctx, "%s ", name);
}

static void result_init(struct vm_result *r)
{
	memset(r, 0, sizeof(*r));
	r->status = -1;
	r->g_init = r->g_exec = r->g_exit = r->g_ready = -1;
}

/* Feeds s through a fresh keyed console; the shown text goes to shown. */
static void run(const char *s, size_t n, struct vm_result *r, struct sbuf *shown, int bytewise)
{
	struct console c;
	result_init(r);
	console_init(&c, r, 0, out, shown);
	console_set_key(&c, test_key);
	for (size_t i = 0; i < n; i += bytewise ? 1 : n)
		console_feed(&c, s + i, bytewise ? 1 : n, 1.0 + (double)i);
	console_release(&c);
}

/* s signed (every marker, in order), as one string. */
static char *signed_str(const char *s)
{
	struct sbuf sb = SBUF_INIT;
	unsigned long long seq = 0;
	sign_stream(s, strlen(s), &seq, &sb);
	return sb_detach(&sb);
}

static void test_stream(void)
{
	char *stream = signed_str("[    0.1] Linux version 6.1\n"
				  "\x02"
				  "crumb:init 0.700000\x03"
				  "\x02"
				  "crumb:exec 0.710000\x03"
				  "hello\n"
				  "a \x02 lone STX\n"
				  "\x02"
				  "crumb:exit 0.720000 3\x03"
				  "reboot: Restarting system\n");
	for (int bytewise = 0; bytewise < 2; bytewise++) {
		struct vm_result r;
		struct sbuf sb = SBUF_INIT;
		run(stream, strlen(stream), &r, &sb, bytewise);
		is_str(sb.buf, "hello\na \x02 lone STX\n",
		       "only the service's output is shown (%s)",
		       bytewise ? "byte by byte" : "one chunk");
		ok(r.status == 3 && r.unsigned_markers == 0, "exit status parsed");
		ok(r.g_init > 0.69 && r.g_init < 0.71 && r.g_exec > 0.70 && r.g_exit > 0.71,
		   "guest times parsed");
		ok(r.t_init > 0 && r.t_exec >= r.t_init && r.t_exit >= r.t_exec,
		   "host times recorded");
		sb_release(&sb);
	}
	free(stream);

	struct vm_result r;
	struct sbuf sb = SBUF_INIT;
	struct console c;
	result_init(&r);
	console_init(&c, &r, 1, out, &sb);
	console_set_key(&c, test_key);
	char *v = signed_str("kernel says hi\n\x02"
			     "crumb:init 1.0\x03"
			     "x");
	console_feed(&c, v, strlen(v), 1.0);
	is_str(sb.buf, "kernel says hi\nx",
	       "verbose shows the kernel's text, still strips markers");
	console_release(&c);
	free(v);
	sb_reset(&sb);

	result_init(&r);
	console_init(&c, &r, 0, out, &sb);
	console_set_key(&c, test_key);
	const char p[] = "[ 0.5] Kernel panic - not syncing: No working init found.\r\n";
	console_feed(&c, p, sizeof(p) - 1, 1.0);
	is_str(r.panic, "Kernel panic - not syncing: No working init found.",
	       "a hidden panic is caught");
	is_str(sb.buf, "", "... and not shown");
	char *err = signed_str("\x02"
			       "crumb:error 0.9 cannot read /etc/crumb/init.conf\x03");
	console_feed(&c, err, strlen(err), 1.0);
	is_str(r.init_error, "cannot read /etc/crumb/init.conf", "an error marker is parsed");
	console_release(&c);
	free(err);

	/* A marker that never ends is given back as text, bounded. */
	result_init(&r);
	sb_reset(&sb);
	console_init(&c, &r, 0, out, &sb);
	console_set_key(&c, test_key);
	char *init = signed_str("\x02"
				"crumb:init 1.0\x03");
	console_feed(&c, init, strlen(init), 1.0);
	char big[2000];
	memset(big, 'A', sizeof(big));
	big[0] = 0x02;
	console_feed(&c, big, sizeof(big), 1.0);
	ok(sb.len == sizeof(big), "an unterminated marker is passed through as text (%zu bytes)",
	   sb.len);
	console_release(&c);
	free(init);
	sb_release(&sb);

	/* The newer markers and the event callback. */
	struct sbuf seen = SBUF_INIT;
	result_init(&r);
	console_init(&c, &r, 0, out, &sb);
	console_set_key(&c, test_key);
	c.event = record_event;
	c.event_ctx = &seen;
	char *m = signed_str("\x02"
			     "crumb:init 0.5\x03\x02"
			     "crumb:exec 0.6\x03\x02"
			     "crumb:step 0.61 1 RUN make\x03\x02"
			     "crumb:ready 0.7 22\x03up\n\x02"
			     "crumb:restart 0.8 1\x03\x02"
			     "crumb:stopping 0.9\x03\x02"
			     "crumb:newer 0.95 x y\x03\x02"
			     "crumb:exit 1.0 143\x03");
	console_feed(&c, m, strlen(m), 2.0);
	is_str(sb.buf, "up\n", "markers stripped from the output");
	ok(r.g_ready > 0.69 && r.t_ready == 2.0, "ready marker recorded");
	ok(r.g_stopping > 0.89 && r.restarts == 1 && r.g_restart > 0.79,
	   "stopping and restart markers recorded");
	ok(r.steps == 1 && !strcmp(r.step, "1 RUN make"), "step marker recorded: %s", r.step);
	ok(r.status == 143, "exit status after a stop");
	is_str(seen.buf, "init exec step ready restart stopping newer exit ",
	       "events in order, an unknown (signed) name passed on");
	console_release(&c);
	free(m);
	sb_release(&seen);
	sb_release(&sb);
}

/* What a guest program can print must never be acted on. */
static void test_forgeries(void)
{
	struct vm_result r;
	struct sbuf sb = SBUF_INIT;
	char *good = signed_str("\x02"
				"crumb:init 0.5\x03\x02"
				"crumb:exec 0.6\x03");
	/* unsigned, as a program would print it */
	const char fake_exit[] = "\x02"
				 "crumb:exit 1.000000 0\x03";
	struct sbuf s = SBUF_INIT;
	sb_adds(&s, good);
	sb_adds(&s, fake_exit);
	sb_adds(&s, "\x02"
		    "crumb:ready 0.9 22\x03");
	sb_adds(&s, "\x02"
		    "crumb:error 0.9 pwned\x03");
	sb_adds(&s, "[ 0.9] Kernel panic - not syncing: fake\n");
	run(s.buf, s.len, &r, &sb, 0);
	ok(r.status == -1 && r.t_exit == 0 && r.t_ready == 0 && !r.init_error[0],
	   "unsigned exit, ready and error markers are not acted on");
	is_int(r.unsigned_markers, 3, "... and counted");
	ok(strstr(sb.buf, fake_exit) && strstr(sb.buf, "crumb:error 0.9 pwned"),
	   "... and shown as the program's output, framing included");
	/* The real exit marker still works after them, and a printed "panic" is no panic. */
	unsigned long long seq = 2;
	sign_stream("\x02"
		    "crumb:exit 1.1 3\x03",
		    18, &seq, &s);
	sb_reset(&sb);
	run(s.buf, s.len, &r, &sb, 1);
	ok(r.status == 3 && !r.panic[0],
	   "the signed exit marker wins over forgeries (byte by byte)");

	/* Each way to get it wrong. */
	char tag[33];
	console_marker_tag(test_key, 3, "crumb:exit 1.0 0", 16, tag);
	struct {
		const char *what;
		char *text;
	} bad[] = {
	    {"a tag made for other text", xasprintf("\x02"
						    "crumb:exit 1.0 7 3:%s\x03",
						    tag)},
	    {"a replayed sequence number", xasprintf("\x02"
						     "crumb:exit 1.0 0 2:%s\x03",
						     tag)},
	    {"an uppercase tag", NULL},
	    {"a tag one digit short", xasprintf("\x02"
						"crumb:exit 1.0 0 3:%.31s\x03",
						tag)},
	    {"a leading zero in SEQ", xasprintf("\x02"
						"crumb:exit 1.0 0 03:%s\x03",
						tag)},
	    {"no space before the trailer", xasprintf("\x02"
						      "crumb:exit 1.0 03:%s\x03",
						      tag)},
	    {"a NUL inside", NULL},
	};
	char up[33];
	for (int i = 0; i < 32; i++)
		up[i] = (char)(tag[i] >= 'a' ? tag[i] - 32 : tag[i]);
	up[32] = 0;
	bad[2].text = xasprintf("\x02"
				"crumb:exit 1.0 0 3:%s\x03",
				up);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		sb_reset(&s);
		sb_adds(&s, good);
		if (bad[i].text) {
			sb_adds(&s, bad[i].text);
		} else {
			sb_adds(&s, "\x02"
				    "crumb:exit 1.0 0");
			sb_addc(&s, 0);
			sb_addf(&s, " 3:%s\x03", tag);
		}
		sb_reset(&sb);
		run(s.buf, s.len, &r, &sb, 0);
		ok(r.status == -1 && r.unsigned_markers == 1 && sb.len == s.len - strlen(good),
		   "refused and shown: %s", bad[i].what);
		free(bad[i].text);
	}
	/* The right tag at the right place is accepted (the control). */
	sb_reset(&s);
	sb_adds(&s, good);
	sb_addf(&s,
		"\x02"
		"crumb:exit 1.0 0 3:%s\x03",
		tag);
	run(s.buf, s.len, &r, &sb, 0);
	ok(r.status == 0 && r.unsigned_markers == 0, "the control: that marker, rightly signed");

	/* No key: nothing is acted on, everything is shown. */
	struct console c;
	result_init(&r);
	sb_reset(&sb);
	console_init(&c, &r, 0, out, &sb);
	console_feed(&c, s.buf, s.len, 1.0);
	console_release(&c);
	ok(r.status == -1 && r.t_init == 0 && r.unsigned_markers == 3,
	   "without a key no marker is acted on");

	/* A marker split by a program's STX: the program's bytes are text, the marker counts. */
	sb_reset(&s);
	sb_adds(&s, "\x02"
		    "crumb:exit 9.0 0 partial");
	sb_adds(&s, good);
	run(s.buf, s.len, &r, &sb, 0);
	ok(r.t_exec > 0 && r.unsigned_markers == 0,
	   "a program's unfinished marker does not hide the next");
	free(good);
	sb_release(&s);
	sb_release(&sb);
}

/* The guest writes markers with its own HMAC; the host checks with libcrypto's. */
static void test_guest(void)
{
	static const char *const msgs[] = {"", "abc",
					   "a fifty-five byte message ................... ends!",
					   "fifty-six bytes: ...................................!"};
	unsigned char a[32], b[32];
	int same = 1;
	for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		struct mac_sha256 s;
		mac_sha256_init(&s);
		mac_sha256_update(&s, msgs[i], strlen(msgs[i]));
		mac_sha256_final(&s, a);
		SHA256((const unsigned char *)msgs[i], strlen(msgs[i]), b);
		same &= !memcmp(a, b, 32);
	}
	unsigned char buf[3000];
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)(i * 7 + 3);
	for (size_t n = 0; n < sizeof(buf); n += 61) {
		struct mac_sha256 s;
		mac_sha256_init(&s);
		mac_sha256_update(&s, buf, n / 3);
		mac_sha256_update(&s, buf + n / 3, n - n / 3);
		mac_sha256_final(&s, a);
		SHA256(buf, n, b);
		same &= !memcmp(a, b, 32);
	}
	ok(same, "the guest's SHA-256 agrees with libcrypto's (0..3000 bytes, split updates)");
	/* RFC 4231 test case 2, and keys longer than a block */
	static const unsigned char want2[32] = {0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e,
						0x6a, 0x04, 0x24, 0x26, 0x08, 0x95, 0x75, 0xc7,
						0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27, 0x39, 0x83,
						0x9d, 0xec, 0x58, 0xb9, 0x64, 0xec, 0x38, 0x43};
	mac_hmac_sha256((const unsigned char *)"Jefe", 4, "what do ya want ", 16, "for nothing?",
			12, a);
	ok(!memcmp(a, want2, 32), "the guest's HMAC-SHA256: RFC 4231 case 2");
	unsigned int len = 0;
	mac_hmac_sha256(buf, 131, buf + 200, 100, buf + 300, 50, a);
	HMAC(EVP_sha256(), buf, 131, buf + 200, 150, b, &len);
	ok(len == 32 && !memcmp(a, b, 32), "... and libcrypto's with a 131-byte key");

	/* crumb-init's own markers verify; a long field is cut, still signed */
	char m[600], field[800];
	memset(field, 'x', sizeof(field) - 1);
	field[sizeof(field) - 1] = 0;
	field[3] = '\x03';
	struct sbuf s = SBUF_INIT, sb = SBUF_INIT;
	size_t n = mac_marker(m, sizeof(m), test_key, 1, "init", 0, 512345, NULL);
	sb_add(&s, m, n);
	n = mac_marker(m, sizeof(m), test_key, 2, "error", 12, 5, field);
	ok(n <= MAC_MARKER_MAX && m[0] == 0x02 && m[n - 1] == 0x03 && !memchr(m + 1, 0x03, n - 2),
	   "a long field is cut to fit (%zu bytes), its framing bytes replaced", n);
	sb_add(&s, m, n);
	n = mac_marker(m, sizeof(m), test_key, 3, "exit", 13, 0, "7");
	sb_add(&s, m, n);
	struct vm_result r;
	run(s.buf, s.len, &r, &sb, 0);
	ok(r.g_init > 0.51 && r.g_init < 0.52 && r.status == 7 && r.unsigned_markers == 0 &&
	       !strncmp(r.init_error, "xxx?xxx", 7) && sb.len == 0,
	   "crumb-init's markers (mac_marker) are accepted by the host");
	n = mac_marker(m, sizeof(m), NULL, 4, "exit", 14, 0, "0");
	run(m, n, &r, &sb, 0);
	ok(r.status == -1 && r.unsigned_markers == 1, "... and without a key they are not");
	sb_release(&s);
	sb_release(&sb);
}

static void test_keys(void)
{
	unsigned char k1[CONSOLE_KEY_LEN], k2[CONSOLE_KEY_LEN];
	char hex[2 * CONSOLE_KEY_LEN + 1];
	struct err e = {0};
	ok(console_key_new(k1, &e) == 0 && console_key_new(k2, &e) == 0 &&
	       memcmp(k1, k2, sizeof(k1)),
	   "two fresh keys differ");
	console_key_hex(k1, hex);
	char *line = xasprintf(" %s\n", hex);
	ok(strlen(hex) == 64 && console_key_parse(line, k2, &e) == 0 && !memcmp(k1, k2, sizeof(k1)),
	   "a key survives hex and back");
	hex[10] = 'g';
	ok(console_key_parse(hex, k2, &e) == CRUMB_EFORMAT, "a non-hex key is refused");
	hex[10] = '0';
	hex[63] = 0;
	ok(console_key_parse(hex, k2, &e) == CRUMB_EFORMAT, "a short key is refused");
	free(line);
}

/* run --foreign-init: a PID 1 that is not crumb-init prints unsigned markers; only then are they
 * believed. */
static void test_foreign(void)
{
	const char s[] = "\x02"
			 "crumb:init 0.5\x03"
			 "\x02"
			 "crumb:exec 0.6\x03"
			 "hi\n"
			 "\x02"
			 "crumb:exit 0.9 4\x03";
	struct vm_result r;
	struct sbuf shown = SBUF_INIT;
	struct console c;
	for (int trust = 0; trust < 2; trust++) {
		result_init(&r);
		sb_reset(&shown);
		console_init(&c, &r, 0, out, &shown);
		c.trust_unsigned = trust;
		console_feed(&c, s, sizeof(s) - 1, 1.0);
		console_release(&c);
		if (trust)
			ok(r.status == 4 && r.g_init == 0.5 && r.g_exec == 0.6 &&
			       !r.unsigned_markers && !strcmp(shown.buf, "hi\n"),
			   "trust_unsigned: unsigned markers are acted on and stripped");
		else
			ok(r.status == -1 && r.unsigned_markers == 3,
			   "without it, none is (no key)");
	}
	sb_release(&shown);
}

/* Two streams of one guest (the console port and the UART): one phase, one
 * marker sequence; each keeps its own framing. */
static void test_two_streams(void)
{
	char *port = signed_str("\x02"
				"crumb:init 0.700000\x03"
				"\x02"
				"crumb:exec 0.710000\x03"
				"hello\n"
				"\x02"
				"crumb:exit 0.720000 3\x03");
	const char *exit_marker = strstr(port, "\x02"
					       "crumb:exit");
	struct vm_result r;
	struct sbuf sb = SBUF_INIT;
	struct console c, u;
	result_init(&r);
	console_init(&c, &r, 0, out, &sb);
	console_set_key(&c, test_key);
	console_init(&u, &r, 0, out, &sb);
	console_follow(&u, &c);
	const char *exec_marker = strstr(port + 1, "\x02");
	size_t cut = (size_t)(exec_marker - port) + 10, upto_exit = (size_t)(exit_marker - port);
	console_feed(&u, "[    0.1] Linux version 6.1\n", 28, 1.0);
	console_feed(&c, port, cut, 1.1); /* the init marker, the exec one cut */
	ok(console_at_boundary(&c) == 0, "mid-marker: not a boundary");
	console_feed(&u, "kernel: a warning\n", 18, 1.2); /* service phase (the port's): shown */
	console_feed(&c, port + cut, upto_exit - cut, 1.3);
	ok(console_at_boundary(&c) == 1, "after a line: a boundary");
	console_feed(&c, exit_marker, strlen(exit_marker), 1.4);
	console_feed(&u, exit_marker, strlen(exit_marker), 1.5);  /* replayed on the other stream */
	console_feed(&u, "reboot: Restarting system\n", 26, 1.6); /* after exit: hidden */
	is_str(sb.buf, "kernel: a warning\nhello\n",
	       "what is shown of both (a replay is hidden after exit)");
	ok(r.status == 3 && r.g_exit > 0.71, "the exit marker from the port counts");
	ok(r.unsigned_markers == 1, "the same marker replayed on the UART does not (one sequence)");
	console_release(&c);
	console_release(&u);
	sb_release(&sb);
	free(port);
}

int main(void)
{
	test_two_streams();
	test_foreign();
	test_stream();
	test_forgeries();
	test_guest();
	test_keys();
	return done_testing();
}

/* console.c: the guest console's stream: signed crumb-init markers, kernel lines, service output.
 */
#include "console.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

void console_init(struct console *c, struct vm_result *res, int verbose, vm_output_fn out,
		  void *ctx)
{
	memset(c, 0, sizeof(*c));
	sb_init(&c->mark);
	sb_init(&c->line);
	sb_init(&c->hold);
	c->bol = 1;
	c->res = res;
	c->verbose = verbose;
	c->out = out;
	c->ctx = ctx;
}

void console_release(struct console *c)
{
	sb_release(&c->mark);
	sb_release(&c->line);
	sb_release(&c->hold);
}

static void emit(struct console *c, const char *buf, size_t n)
{
	if (n && c->out)
		c->out(c->ctx, buf, n);
}

/* s (starting with '[') is: 1 a whole printk stamp "[  SECONDS.MICROS] "
 * (six decimals, as the kernel writes it), 0 the start of one, -1 not one. */
static int stamp_prefix(const char *s, size_t n)
{
	int digits = 0, dot = 0, frac = 0, close = 0;
	for (size_t i = 1; i < n && n <= 32; i++) {
		char ch = s[i];
		if (close)
			return ch == ' ' && i == n - 1 ? 1 : -1;
		if (ch == ' ' && !digits)
			continue;
		if (ch >= '0' && ch <= '9' && (!dot || frac < 6)) {
			*(dot ? &frac : &digits) += 1;
			continue;
		}
		if (ch == '.' && digits && !dot)
			dot = 1;
		else if (ch == ']' && frac == 6)
			close = 1;
		else
			return -1;
	}
	return n <= 32 ? 0 : -1;
}

/* Gives back held bytes as the service's (a marker or the end came first). */
static void release_hold(struct console *c)
{
	if (c->phase == 1)
		emit(c, c->hold.buf, c->hold.len);
	sb_reset(&c->hold);
}

static void text(struct console *c, const char *buf, size_t n)
{
	int divert = c->klog && c->phase == 1 && !c->verbose;
	size_t run = 0; /* buf[run..i) is still to be shown */
	for (size_t i = 0; i < n; i++) {
		char b = buf[i];
		if (divert && (c->kline || c->hold.len || (c->bol && b == '['))) {
			emit(c, buf + run, i - run);
			run = i + 1;
			if (!c->kline) {
				sb_addc(&c->hold, b);
				int m = stamp_prefix(c->hold.buf, c->hold.len);
				if (m < 0)
					emit(c, c->hold.buf, c->hold.len);
				if (m) {
					c->kline = m > 0;
					sb_reset(&c->hold);
				}
			}
		}
		c->bol = b == '\n';
		/* Watch for a panic in everything, shown or not. */
		if (b != '\n' && b != '\r') {
			if (c->line.len < 512)
				sb_addc(&c->line, b);
			continue;
		}
		/* After the exit marker the program's status is known: a "panic" line
		 * then, or one a program printed before it, is no panic. */
		char *p = strstr(c->line.buf, "Kernel panic - not syncing");
		if (p && !c->res->panic[0] && c->phase != 2)
			snprintf(c->res->panic, sizeof(c->res->panic), "%s", p);
		if (c->klog && c->line.len && (c->phase != 1 || c->kline))
			vm_klog_add(c->klog, c->line.buf, c->line.len, c->now, c->phase == 0);
		if (b == '\n')
			c->kline = 0;
		sb_reset(&c->line);
	}
	if (c->verbose || c->phase == 1)
		emit(c, buf + run, n - run);
}

/* Hands a marker that is not one crumb-init signed back as console text, framing included. */
static void not_a_marker(struct console *c)
{
	text(c, "\x02", 1);
	text(c, c->mark.buf, c->mark.len);
	text(c, "\x03", 1);
}

void console_marker_tag(const unsigned char key[CONSOLE_KEY_LEN], unsigned long long seq,
			const char *txt, size_t len, char out[33])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char head[48];
	int hl = snprintf(head, sizeof(head), "crumb-marker %llu\n", seq);
	/* HMAC(key, head || text) without a copy: one context, two updates. */
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", "SHA256", 0),
			       OSSL_PARAM_construct_end()};
	size_t got = 0;
	if (ctx && EVP_MAC_init(ctx, key, CONSOLE_KEY_LEN, params) &&
	    EVP_MAC_update(ctx, (const unsigned char *)head, (size_t)hl) &&
	    EVP_MAC_update(ctx, (const unsigned char *)txt, len) &&
	    EVP_MAC_final(ctx, md, &got, sizeof(md)) && got >= 16)
		mdlen = (unsigned)got;
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	if (mdlen < 16) /* no HMAC from libcrypto: a tag no marker can match */
		memset(md, 0, 16), out[32] = 0, memset(out, 'x', 32);
	else {
		for (int i = 0; i < 16; i++) {
			out[2 * i] = hex[md[i] >> 4];
			out[2 * i + 1] = hex[md[i] & 15];
		}
		out[32] = 0;
	}
}

/* The " SEQ:TAG" trailer of mark[0..len): 0 with *body (the length before it)
 * and *seq when it is there and TAG is right under c's key; -1 when not. */
static int verify(const struct console *c, const char *mark, size_t len, size_t *body,
		  unsigned long long *seq)
{
	if (!c->have_key)
		return -1;
	const char *sp = NULL;
	for (size_t i = len; i > 0; i--)
		if (mark[i - 1] == ' ') {
			sp = mark + i - 1;
			break;
		}
	if (!sp)
		return -1;
	const char *tok = sp + 1, *end = mark + len;
	unsigned long long v = 0;
	size_t digits = 0;
	while (tok + digits < end && tok[digits] >= '0' && tok[digits] <= '9' && digits < 19)
		v = v * 10 + (unsigned)(tok[digits++] - '0');
	const char *tag = tok + digits + 1;
	if (!digits || tok[0] == '0' || tok + digits >= end || tok[digits] != ':' ||
	    end - tag != 32)
		return -1;
	char want[33];
	console_marker_tag(c->key, v, mark, (size_t)(sp - mark), want);
	if (CRYPTO_memcmp(want, tag, 32) != 0)
		return -1;
	*body = (size_t)(sp - mark);
	*seq = v;
	return 0;
}

/* A guest time: digits, '.', digits, as crumb-init writes it ("0.712345"). */
static int parse_time(const char *s, size_t n, double *t)
{
	char buf[32];
	size_t dot = 0;
	if (n == 0 || n >= sizeof(buf))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.' && !dot && i > 0)
			dot = i;
		else if (s[i] < '0' || s[i] > '9')
			return -1;
	}
	if (!dot || dot == n - 1)
		return -1;
	memcpy(buf, s, n);
	buf[n] = 0;
	*t = strtod(buf, NULL);
	return 0;
}

static void marker(struct console *c, double now)
{
	struct vm_result *r = c->res;
	const char *m = c->mark.buf;
	size_t len = c->mark.len, body;
	unsigned long long seq;
	int good = verify(c, m, len, &body, &seq) == 0 && seq > c->seq;
	if (!good && c->trust_unsigned) {
		body = len; /* the whole marker is its text */
		seq = c->seq + 1;
		good = 1;
	}
	if (!good) {
		if (r->unsigned_markers < INT_MAX) /* a guest can print billions */
			r->unsigned_markers++;
		not_a_marker(c);
		return;
	}
	/* Signed by crumb-init: "crumb:" NAME " " TIME [" " FIELDS], in m[0..body). */
	char name[16];
	size_t i = 6, k = 0;
	while (i < body && m[i] != ' ' && k < sizeof(name) - 1)
		name[k++] = m[i++];
	name[k] = 0;
	size_t ts = i + 1, te = ts;
	while (te < body && m[te] != ' ')
		te++;
	double t;
	if (!k || i >= body || m[i] != ' ' || parse_time(m + ts, te - ts, &t) < 0) {
		/* signed but not understood: a newer crumb-init; nothing to act on */
		c->seq = seq;
		return;
	}
	c->seq = seq;
	/* rest: the fields, as a C string (the mark buffer is ours to cut) */
	size_t rs = te;
	while (rs < body && m[rs] == ' ')
		rs++;
	c->mark.buf[body] = 0;
	const char *rest = m + rs;
	if (!strcmp(name, "init")) {
		r->t_init = now;
		r->g_init = t;
		c->phase = 1;
	} else if (!strcmp(name, "exec")) {
		r->t_exec = now;
		r->g_exec = t;
	} else if (!strcmp(name, "exit")) {
		r->t_exit = now;
		r->g_exit = t;
		long st = strtol(rest, NULL, 10); /* crumb-init writes 0..255 */
		r->status = st >= 0 && st <= 255 ? (int)st : 255;
		r->panic[0] = 0;
		c->phase = 2;
	} else if (!strcmp(name, "error")) {
		snprintf(r->init_error, sizeof(r->init_error), "%s", rest);
		c->phase = 2;
	} else if (!strcmp(name, "ready")) {
		r->t_ready = now;
		r->g_ready = t;
	} else if (!strcmp(name, "stopping")) {
		r->t_stopping = now;
		r->g_stopping = t;
	} else if (!strcmp(name, "restart")) {
		r->t_restart = now;
		r->g_restart = t;
		r->restarts++;
	} else if (!strcmp(name, "step")) {
		r->steps++;
		snprintf(r->step, sizeof(r->step), "%s", rest);
	}
	if (c->event)
		c->event(c->event_ctx, name, r);
}

void vm_klog_add(struct vm_klog *k, const char *line, size_t len, double now, int boot)
{
	if (k->n >= VM_KLOG_MAX_LINES || k->text.len + len + 1 > VM_KLOG_MAX_BYTES) {
		k->dropped++;
		return;
	}
	if (!(k->n & (k->n - 1))) /* at 0, 1, 2, 4...: room for twice as many */
		k->host = xrealloc(k->host, (k->n ? 2 * k->n : 1) * sizeof(double));
	sb_add(&k->text, line, len);
	sb_addc(&k->text, '\n');
	k->host[k->n++] = now;
	if (boot && k->boot == k->n - 1)
		k->boot = k->n;
}

void vm_klog_reset(struct vm_klog *k)
{
	sb_reset(&k->text);
	k->n = k->boot = k->dropped = 0;
}

void vm_klog_release(struct vm_klog *k)
{
	sb_release(&k->text);
	free(k->host);
	k->host = NULL;
	k->n = k->boot = k->dropped = 0;
}

void console_follow(struct console *c, struct console *lead)
{
	c->lead = lead;
	c->have_key = lead->have_key;
	memcpy(c->key, lead->key, CONSOLE_KEY_LEN);
	c->trust_unsigned = lead->trust_unsigned;
}

int console_at_boundary(const struct console *c)
{
	return c->bol && !c->in_marker && !c->hold.len;
}

static void feed(struct console *c, const char *buf, size_t n, double now);

void console_feed(struct console *c, const char *buf, size_t n, double now)
{
	if (c->lead) {
		c->phase = c->lead->phase;
		c->seq = c->lead->seq;
	}
	feed(c, buf, n, now);
	if (c->lead) {
		c->lead->phase = c->phase;
		c->lead->seq = c->seq;
	}
}

static void feed(struct console *c, const char *buf, size_t n, double now)
{
	size_t i = 0;
	c->now = now;
	while (i < n) {
		if (c->in_marker) {
			char b = buf[i++];
			if (b == 0x03) {
				c->in_marker = 0;
				if (c->mark.len >= 6 && !memcmp(c->mark.buf, "crumb:", 6))
					marker(c, now);
				else
					not_a_marker(c);
			} else if (b == 0x02 || c->mark.len >= CONSOLE_MARK_MAX) {
				/* not a marker after all: give the bytes back as text */
				text(c, "\x02", 1);
				text(c, c->mark.buf, c->mark.len);
				sb_reset(&c->mark);
				if (b != 0x02) {
					c->in_marker = 0;
					text(c, &b, 1);
				}
			} else {
				sb_addc(&c->mark, b);
			}
			continue;
		}
		const char *stx = memchr(buf + i, 0x02, n - i);
		size_t run = stx ? (size_t)(stx - (buf + i)) : n - i;
		text(c, buf + i, run);
		i += run;
		if (stx) {
			i++;
			c->in_marker = 1;
			sb_reset(&c->mark);
			if (c->hold.len)
				release_hold(c);
		}
	}
}

void console_set_key(struct console *c, const unsigned char *key)
{
	c->have_key = key != NULL;
	if (key)
		memcpy(c->key, key, CONSOLE_KEY_LEN);
	else
		memset(c->key, 0, CONSOLE_KEY_LEN);
	c->seq = 0;
}

int console_key_new(unsigned char key[CONSOLE_KEY_LEN], struct err *e)
{
	size_t got = 0;
	while (got < CONSOLE_KEY_LEN) {
		ssize_t r = getrandom(key + got, CONSOLE_KEY_LEN - got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return err_errno(e, CRUMB_EIO, "getrandom (the marker key)");
		got += (size_t)r;
	}
	return 0;
}

void console_key_hex(const unsigned char key[CONSOLE_KEY_LEN], char out[2 * CONSOLE_KEY_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	for (int i = 0; i < CONSOLE_KEY_LEN; i++) {
		out[2 * i] = hex[key[i] >> 4];
		out[2 * i + 1] = hex[key[i] & 15];
	}
	out[2 * CONSOLE_KEY_LEN] = 0;
}

static int hexval(char ch)
{
	return ch >= '0' && ch <= '9'	? ch - '0'
	       : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
	       : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
					: -1;
}

int console_key_parse(const char *s, unsigned char key[CONSOLE_KEY_LEN], struct err *e)
{
	while (*s == ' ' || *s == '\n' || *s == '\t')
		s++;
	for (int i = 0; i < CONSOLE_KEY_LEN; i++) {
		int hi = hexval(s[2 * i]), lo = hi < 0 ? -1 : hexval(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return err_set(e, CRUMB_EFORMAT, "marker key: want %d hex digits",
				       2 * CONSOLE_KEY_LEN);
		key[i] = (unsigned char)(hi << 4 | lo);
	}
	s += 2 * CONSOLE_KEY_LEN;
	while (*s == ' ' || *s == '\n' || *s == '\t')
		s++;
	if (*s)
		return err_set(e, CRUMB_EFORMAT, "marker key: want %d hex digits",
			       2 * CONSOLE_KEY_LEN);
	return 0;
}

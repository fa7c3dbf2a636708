/* config.c: parses crumb-init's config file (format in config.h); pure libc, bounds-checked. */
#include "config.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Grows a malloc'd array of n elements of size sz to hold one more. */
static int conf_grow(void **v, size_t *alloc, size_t n, size_t sz)
{
	if (n + 1 > *alloc) {
		size_t na = *alloc ? *alloc * 2 : 4;
		void *nv;

		if (na > SIZE_MAX / sz)
			return -1;
		nv = realloc(*v, na * sz);
		if (!nv)
			return -1;
		*v = nv;
		*alloc = na;
	}
	return 0;
}

/* A growable NULL-terminated array of pointers into the parse buffer. */
struct conf_vec {
	char **v;
	size_t n;
	size_t alloc;
};

static int conf_vec_push(struct conf_vec *a, char *s)
{
	/* Room for s and the terminating NULL. */
	if (conf_grow((void **)&a->v, &a->alloc, a->n + 1, sizeof(*a->v)) < 0)
		return -1;
	a->v[a->n++] = s;
	a->v[a->n] = NULL;
	return 0;
}

static int conf_vfail(char *err, size_t errlen, size_t line, const char *fmt, va_list ap)
{
	int off = 0;

	if (!err || !errlen)
		return -1;
	if (line)
		off = snprintf(err, errlen, "line %zu: ", line);
	if (off < 0 || (size_t)off >= errlen)
		off = 0;
	vsnprintf(err + off, errlen - (size_t)off, fmt, ap);
	return -1;
}

static int conf_hexval(unsigned char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Decodes the escaped value s[0..len) in place and NUL-terminates it (the
 * decoded form is never longer, and s[len] is the line's '\n', ours to
 * overwrite). Returns the decoded length, or -1 with a message in why. */
static long conf_unescape(char *s, size_t len, const char **why)
{
	size_t i = 0, o = 0;

	while (i < len) {
		unsigned char ch = (unsigned char)s[i];

		if (ch < 0x20 || ch == 0x7f) {
			*why = "raw control byte in value (must be escaped)";
			return -1;
		}
		if (ch != '\\') {
			s[o++] = (char)ch;
			i++;
			continue;
		}
		if (i + 1 >= len) {
			*why = "backslash at end of line";
			return -1;
		}
		switch (s[i + 1]) {
		case '\\':
			s[o++] = '\\';
			i += 2;
			break;
		case 'n':
			s[o++] = '\n';
			i += 2;
			break;
		case 'x': {
			int hi, lo;

			if (i + 3 >= len) {
				*why = "truncated \\x escape";
				return -1;
			}
			hi = conf_hexval((unsigned char)s[i + 2]);
			lo = conf_hexval((unsigned char)s[i + 3]);
			if (hi < 0 || lo < 0) {
				*why = "bad hex digit in \\x escape";
				return -1;
			}
			if (hi == 0 && lo == 0) {
				*why = "\\x00 (NUL) is not allowed";
				return -1;
			}
			s[o++] = (char)(hi * 16 + lo);
			i += 4;
			break;
		}
		default:
			*why = "unknown escape (only \\\\, \\n and \\xHH)";
			return -1;
		}
	}
	s[o] = '\0';
	return (long)o;
}

/* A decimal number of 1..10 digits, no sign, in [min, max]; -1 when not. */
static long conf_number(const char *s, long min, long max)
{
	long v = 0;
	size_t n = strlen(s);

	if (n == 0 || n > 10 || strspn(s, "0123456789") != n)
		return -1;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v < min || v > max ? -1 : v;
}

/* "USER[:GROUP]": neither part empty, at most one ':'. */
static int conf_user_ok(const char *s)
{
	const char *colon = strchr(s, ':');

	if (!s[0] || colon == s)
		return 0;
	return !colon || (colon[1] && !strchr(colon + 1, ':'));
}

/* A build step or the service being filled, with its two vectors. */
struct conf_cur {
	struct conf_proc *p;
	struct conf_vec argv, envp;
	size_t mounts_alloc, secrets_alloc;
};

/* Hands the vectors to the proc and checks it has something to run. */
static int conf_finish(struct conf_cur *cur)
{
	if (!cur->p)
		return 0;
	if (!cur->envp.v) {
		/* The program may have no environment, but execve wants an array. */
		cur->envp.v = calloc(1, sizeof(*cur->envp.v));
		if (!cur->envp.v)
			return -1;
	}
	cur->p->argv = cur->argv.v;
	cur->p->argc = cur->argv.n;
	cur->p->envp = cur->envp.v;
	cur->p->envc = cur->envp.n;
	if (!cur->p->workdir)
		cur->p->workdir = CONF_DEFAULT_WORKDIR;
	memset(&cur->argv, 0, sizeof(cur->argv));
	memset(&cur->envp, 0, sizeof(cur->envp));
	cur->mounts_alloc = cur->secrets_alloc = 0;
	return 0;
}

/* Every known key; conf_line checks the flags' rules, in this order, before the handler:
 * K_RAW      the handler decodes the value itself (otherwise it gets it unescaped)
 * K_PROC     the line belongs to the service or the current build step
 * no_build   not allowed in build mode (the name the message uses)
 * K_ONCE     at most once per file
 * K_BEFORE_MODE  a mode line must not follow it */
enum { K_RAW = 1, K_PROC = 2, K_ONCE = 4, K_BEFORE_MODE = 8, K_NO_BUILD = 16 };

/* The parser's state between lines. */
struct conf_parser {
	struct conf *c;
	struct conf_cur cur;
	size_t steps_alloc, ready_alloc, mounts_alloc, hosts_alloc;
	unsigned seen; /* bit i: a line with conf_keys[i] was seen */
	size_t lineno;
	const char *key; /* the current line's key, klen bytes (not terminated) */
	size_t klen;
	char *err;
	size_t errlen;
};

/* Fails with "line N: " and the message; returns -1. */
static int ps_fail(struct conf_parser *ps, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	conf_vfail(ps->err, ps->errlen, ps->lineno, fmt, ap);
	va_end(ap);
	return -1;
}

/* Fails with a whole-file message (no line number); returns -1. */
static int conf_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	conf_vfail(err, errlen, 0, fmt, ap);
	va_end(ap);
	return -1;
}

static int ps_oom(struct conf_parser *ps)
{
	return conf_fail(ps->err, ps->errlen, "out of memory");
}

/* Splits val (vlen bytes, not yet unescaped) into exactly n fields at single spaces, then
 * unescapes each (a space in a field is \x20); none may be empty. want: the usage. */
static int conf_fields(struct conf_parser *ps, char *val, size_t vlen, char **f, size_t n,
		       const char *want)
{
	char *p = val, *end = val + vlen;
	size_t nf = 0, flen[8];
	const char *why = NULL;

	while (nf < n) {
		char *sp = memchr(p, ' ', (size_t)(end - p));
		char *fe = sp && nf < n - 1 ? sp : end;

		f[nf] = p;
		flen[nf++] = (size_t)(fe - p);
		if (fe == end)
			break;
		p = fe + 1;
	}
	if (nf != n || memchr(f[n - 1], ' ', flen[n - 1]))
		return ps_fail(ps, "%.*s wants '%s'", (int)ps->klen, ps->key, want);
	for (size_t i = 0; i < n; i++) {
		long len = conf_unescape(f[i], flen[i], &why);

		if (len < 0)
			return ps_fail(ps, "%.*s field %zu: %s", (int)ps->klen, ps->key, i + 1,
				       why);
		if (len == 0)
			return ps_fail(ps, "%.*s field %zu is empty", (int)ps->klen, ps->key,
				       i + 1);
	}
	return 0;
}

static int conf_type_ok(const char *t)
{
	return strspn(t, "abcdefghijklmnopqrstuvwxyz0123456789") == strlen(t);
}

/* "mount TYPE SOURCE TARGET OPTIONS" (val not yet unescaped, vlen bytes). */
static int key_mount(struct conf_parser *ps, char *val, size_t vlen)
{
	struct conf *c = ps->c;
	char *f[4];

	if (conf_fields(ps, val, vlen, f, 4, "TYPE SOURCE TARGET OPTIONS") < 0)
		return -1;
	if (!conf_type_ok(f[0]))
		return ps_fail(ps, "mount type must be [a-z0-9]+");
	if (f[2][0] != '/')
		return ps_fail(ps, "mount target is not an absolute path");
	if (conf_grow((void **)&c->mounts, &ps->mounts_alloc, c->nmounts, sizeof(*c->mounts)) < 0)
		return ps_oom(ps);
	c->mounts[c->nmounts++] = (struct conf_mount){f[0], f[1], f[2], f[3]};
	return 0;
}

/* "step_mount TYPE SOURCE SUBPATH TARGET OPTIONS": the current build step's. */
static int key_step_mount(struct conf_parser *ps, char *val, size_t vlen)
{
	struct conf_proc *p = ps->cur.p;
	char *f[5];

	if (ps->c->mode != CONF_MODE_BUILD)
		return ps_fail(ps, "step_mount outside build mode");
	if (conf_fields(ps, val, vlen, f, 5, "TYPE SOURCE SUBPATH TARGET OPTIONS") < 0)
		return -1;
	if (!conf_type_ok(f[0]))
		return ps_fail(ps, "step_mount type must be [a-z0-9]+");
	if (f[2][0] != '/' || (strcmp(f[0], "ext4") && strcmp(f[2], "/")))
		return ps_fail(ps, "step_mount subpath must be absolute ('/' but for ext4)");
	if (f[3][0] != '/' || !f[3][1])
		return ps_fail(ps, "step_mount target must be an absolute path other than /");
	if (conf_grow((void **)&p->mounts, &ps->cur.mounts_alloc, p->nmounts, sizeof(*p->mounts)) <
	    0)
		return ps_oom(ps);
	p->mounts[p->nmounts++] = (struct conf_step_mount){f[0], f[1], f[2], f[3], f[4]};
	return 0;
}

/* "step_secret SOURCE OFFSET LENGTH MODE UID GID DEST": the current build step's. */
static int key_step_secret(struct conf_parser *ps, char *val, size_t vlen)
{
	struct conf_proc *p = ps->cur.p;
	struct conf_secret s;
	char *f[7], *end;
	long n[5];

	if (ps->c->mode != CONF_MODE_BUILD)
		return ps_fail(ps, "step_secret outside build mode");
	if (conf_fields(ps, val, vlen, f, 7, "SOURCE OFFSET LENGTH MODE UID GID DEST") < 0)
		return -1;
	n[0] = conf_number(f[1], 0, 1L << 40);
	n[1] = conf_number(f[2], 0, CONF_SECRET_MAX);
	n[2] = strspn(f[3], "01234567") == strlen(f[3]) && strlen(f[3]) <= 5 ? strtol(f[3], &end, 8)
									     : -1;
	n[3] = conf_number(f[4], 0, 4294967295L);
	n[4] = conf_number(f[5], 0, 4294967295L);
	if (n[0] < 0 || n[1] < 0 || n[2] < 0 || n[2] > 07777 || n[3] < 0 || n[4] < 0)
		return ps_fail(ps, "step_secret: bad OFFSET, LENGTH, MODE, UID or GID");
	if (f[6][0] != '/' && strchr(f[6], '='))
		return ps_fail(ps, "step_secret destination is no path nor a variable name");
	if (f[6][0] == '/' && !f[6][1])
		return ps_fail(ps, "step_secret destination is /");
	s = (struct conf_secret){f[0],
				 (unsigned long)n[0],
				 (unsigned long)n[1],
				 (unsigned long)n[2],
				 (unsigned long)n[3],
				 (unsigned long)n[4],
				 f[6]};
	if (conf_grow((void **)&p->secrets, &ps->cur.secrets_alloc, p->nsecrets,
		      sizeof(*p->secrets)) < 0)
		return ps_oom(ps);
	p->secrets[p->nsecrets++] = s;
	return 0;
}

/* "host IP NAME": an address inet_pton reads, one space, a host name. */
static int key_host(struct conf_parser *ps, char *val, size_t vlen)
{
	struct conf *c = ps->c;
	char *sp = memchr(val, ' ', vlen);
	unsigned char addr[16];

	if (!sp)
		return ps_fail(ps, "host wants 'IP NAME'");
	*sp = '\0';
	if (inet_pton(AF_INET, val, addr) != 1 && inet_pton(AF_INET6, val, addr) != 1)
		return ps_fail(ps, "host: '%s' is not an IPv4 or IPv6 address", val);
	if (!conf_host_name_ok(sp + 1))
		return ps_fail(ps, "host: not a host name (1..%d bytes, labels of [A-Za-z0-9-])",
			       CONF_HOST_NAME_MAX);
	if (conf_grow((void **)&c->hosts, &ps->hosts_alloc, c->nhosts, sizeof(*c->hosts)) < 0)
		return ps_oom(ps);
	c->hosts[c->nhosts++] = (struct conf_host){val, sp + 1};
	return 0;
}

static int key_arg(struct conf_parser *ps, char *val, size_t vlen)
{
	if (ps->cur.argv.n == 0 && vlen == 0)
		return ps_fail(ps, "empty program path (first arg)");
	return conf_vec_push(&ps->cur.argv, val) < 0 ? ps_oom(ps) : 0;
}

static int key_env(struct conf_parser *ps, char *val, size_t vlen)
{
	char *eq = memchr(val, '=', vlen);

	if (!eq || eq == val)
		return ps_fail(ps, "env value is not NAME=value");
	return conf_vec_push(&ps->cur.envp, val) < 0 ? ps_oom(ps) : 0;
}

static int key_workdir(struct conf_parser *ps, char *val, size_t vlen)
{
	(void)vlen;
	if (ps->cur.p->workdir)
		return ps_fail(ps, "workdir given twice");
	if (val[0] != '/')
		return ps_fail(ps, "workdir is not an absolute path");
	ps->cur.p->workdir = val;
	return 0;
}

static int key_user(struct conf_parser *ps, char *val, size_t vlen)
{
	(void)vlen;
	if (ps->cur.p->user)
		return ps_fail(ps, "user given twice");
	if (!conf_user_ok(val))
		return ps_fail(ps, "user is not USER or USER:GROUP");
	ps->cur.p->user = val;
	return 0;
}

/* A value of 1..max bytes for *slot: "KEY must be 1..MAX bytes" when not. */
static int conf_text(struct conf_parser *ps, const char **slot, char *val, size_t vlen, int max)
{
	if (vlen == 0 || vlen > (size_t)max)
		return ps_fail(ps, "%.*s must be 1..%d bytes", (int)ps->klen, ps->key, max);
	*slot = val;
	return 0;
}

static int key_hostname(struct conf_parser *ps, char *val, size_t vlen)
{
	return conf_text(ps, &ps->c->hostname, val, vlen, CONF_HOSTNAME_MAX);
}

static int conf_seen_any(const struct conf_parser *ps, unsigned flag);

static int key_mode(struct conf_parser *ps, char *val, size_t vlen)
{
	(void)vlen;
	if (conf_seen_any(ps, K_BEFORE_MODE))
		return ps_fail(ps, "mode must come before arg, env, workdir, user and step");
	if (!strcmp(val, "build")) {
		ps->c->mode = CONF_MODE_BUILD;
		if (conf_seen_any(ps, K_NO_BUILD))
			return ps_fail(ps,
				       "build mode has no restart, ready, tty, term, rows, cols, "
				       "snapshot, seccomp, seccomp_action or trace");
	} else if (strcmp(val, "service")) {
		return ps_fail(ps, "mode must be service or build");
	}
	return 0;
}

static int key_step(struct conf_parser *ps, char *val, size_t vlen)
{
	struct conf *c = ps->c;

	(void)vlen;
	if (c->mode != CONF_MODE_BUILD)
		return ps_fail(ps, "step outside build mode");
	if (ps->cur.p && ps->cur.argv.n == 0)
		return ps_fail(ps, "the step before has no arg");
	if (conf_finish(&ps->cur) < 0 ||
	    conf_grow((void **)&c->steps, &ps->steps_alloc, c->nsteps, sizeof(*c->steps)) < 0)
		return ps_oom(ps);
	ps->cur.p = &c->steps[c->nsteps++];
	memset(ps->cur.p, 0, sizeof(*ps->cur.p));
	ps->cur.p->label = val;
	return 0;
}

static int key_restart(struct conf_parser *ps, char *val, size_t vlen)
{
	static const struct {
		const char *word;
		enum conf_restart how;
	} words[] = {
	    {"no", CONF_RESTART_NO},
	    {"always", CONF_RESTART_ALWAYS},
	    {"on-failure", CONF_RESTART_ON_FAILURE},
	};
	long num;

	(void)vlen;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		if (!strcmp(val, words[i].word)) {
			ps->c->restart = words[i].how;
			return 0;
		}
	}
	if (!strncmp(val, "on-failure:", 11) &&
	    (num = conf_number(val + 11, 0, CONF_RESTART_MAX_LIMIT)) >= 0) {
		ps->c->restart = CONF_RESTART_ON_FAILURE;
		ps->c->restart_max = num;
		return 0;
	}
	return ps_fail(ps, "restart must be no, always, on-failure or on-failure:MAX (0..%d)",
		       CONF_RESTART_MAX_LIMIT);
}

static int key_stop_signal(struct conf_parser *ps, char *val, size_t vlen)
{
	long num = conf_number(val, 1, 64);

	(void)vlen;
	if (num < 0)
		return ps_fail(ps, "stop_signal must be 1..64");
	ps->c->stop_signal = (int)num;
	return 0;
}

static int key_stop_timeout(struct conf_parser *ps, char *val, size_t vlen)
{
	long num = conf_number(val, 0, CONF_STOP_TIMEOUT_LIMIT);

	(void)vlen;
	if (num < 0)
		return ps_fail(ps, "stop_timeout must be 0..%d seconds", CONF_STOP_TIMEOUT_LIMIT);
	ps->c->stop_timeout = num;
	return 0;
}

static int key_ready(struct conf_parser *ps, char *val, size_t vlen)
{
	struct conf *c = ps->c;
	long num = conf_number(val, 1, 65535);

	(void)vlen;
	if (num < 0)
		return ps_fail(ps, "ready must be a TCP port 1..65535");
	if (conf_grow((void **)&c->ready, &ps->ready_alloc, c->nready, sizeof(*c->ready)) < 0)
		return ps_oom(ps);
	c->ready[c->nready++] = (unsigned)num;
	return 0;
}

static int key_tty(struct conf_parser *ps, char *val, size_t vlen)
{
	(void)vlen;
	if (strcmp(val, "0") && strcmp(val, "1"))
		return ps_fail(ps, "tty must be 0 or 1");
	ps->c->tty = val[0] == '1';
	return 0;
}

static int key_snapshot(struct conf_parser *ps, char *val, size_t vlen)
{
	(void)vlen;
	if (strcmp(val, "0") && strcmp(val, "1"))
		return ps_fail(ps, "snapshot must be 0 or 1");
	ps->c->snapshot = val[0] == '1';
	return 0;
}

/* "seccomp HEX" (K_RAW: hex digits are all a value may hold, so there is nothing to unescape):
 * decoded in place, two digits to a byte. */
static int key_seccomp(struct conf_parser *ps, char *val, size_t vlen)
{
	if (vlen == 0 || vlen % 16 || vlen > 2 * (size_t)CONF_SECCOMP_MAX)
		return ps_fail(ps, "seccomp must be 8..%d bytes (whole 8-byte instructions) as hex",
			       CONF_SECCOMP_MAX);
	for (size_t i = 0; i < vlen; i += 2) {
		unsigned char hi = (unsigned char)val[i], lo = (unsigned char)val[i + 1];

		if (!((hi >= '0' && hi <= '9') || (hi >= 'a' && hi <= 'f')) ||
		    !((lo >= '0' && lo <= '9') || (lo >= 'a' && lo <= 'f')))
			return ps_fail(ps, "seccomp is not lowercase hex");
		val[i / 2] = (char)(conf_hexval(hi) * 16 + conf_hexval(lo));
	}
	ps->c->seccomp = (const unsigned char *)val;
	ps->c->seccomp_len = vlen / 2;
	return 0;
}

static int key_seccomp_action(struct conf_parser *ps, char *val, size_t vlen)
{
	(void)vlen;
	if (strcmp(val, "errno") && strcmp(val, "kill"))
		return ps_fail(ps, "seccomp_action must be errno or kill");
	ps->c->seccomp_kill = val[0] == 'k';
	return 0;
}

static int key_trace(struct conf_parser *ps, char *val, size_t vlen)
{
	(void)vlen;
	if (strcmp(val, "0") && strcmp(val, "1"))
		return ps_fail(ps, "trace must be 0 or 1");
	ps->c->trace = val[0] == '1';
	return 0;
}

static int key_term(struct conf_parser *ps, char *val, size_t vlen)
{
	return conf_text(ps, &ps->c->term, val, vlen, CONF_TERM_MAX);
}

/* rows or cols. */
static int key_dim(struct conf_parser *ps, char *val, size_t vlen)
{
	unsigned *dim = ps->key[0] == 'r' ? &ps->c->rows : &ps->c->cols;
	long num = conf_number(val, 1, 65535);

	(void)vlen;
	if (num < 0)
		return ps_fail(ps, "%.*s must be 1..65535", (int)ps->klen, ps->key);
	*dim = (unsigned)num;
	return 0;
}

static const struct conf_key {
	const char *name;
	int (*fn)(struct conf_parser *ps, char *val, size_t vlen);
	unsigned flags;
	const char *no_build;
} conf_keys[] = {
    {"mount", key_mount, K_RAW, NULL},
    {"arg", key_arg, K_PROC | K_BEFORE_MODE, NULL},
    {"env", key_env, K_PROC | K_BEFORE_MODE, NULL},
    {"workdir", key_workdir, K_PROC | K_BEFORE_MODE, NULL},
    {"user", key_user, K_PROC | K_BEFORE_MODE, NULL},
    {"step", key_step, K_BEFORE_MODE, NULL},
    {"step_mount", key_step_mount, K_RAW | K_PROC | K_BEFORE_MODE, NULL},
    {"step_secret", key_step_secret, K_RAW | K_PROC | K_BEFORE_MODE, NULL},
    {"hostname", key_hostname, K_ONCE, NULL},
    {"host", key_host, 0, NULL},
    {"mode", key_mode, K_ONCE, NULL},
    {"stop_signal", key_stop_signal, K_ONCE, NULL},
    {"stop_timeout", key_stop_timeout, K_ONCE, NULL},
    {"restart", key_restart, K_ONCE | K_NO_BUILD, "restart"},
    {"ready", key_ready, K_NO_BUILD, "ready"},
    {"tty", key_tty, K_ONCE | K_NO_BUILD, "tty"},
    {"snapshot", key_snapshot, K_ONCE | K_NO_BUILD, "snapshot"},
    {"seccomp", key_seccomp, K_RAW | K_ONCE | K_NO_BUILD, "seccomp"},
    {"seccomp_action", key_seccomp_action, K_ONCE | K_NO_BUILD, "seccomp_action"},
    {"trace", key_trace, K_ONCE | K_NO_BUILD, "trace"},
    {"term", key_term, K_ONCE | K_NO_BUILD, "term"},
    {"rows", key_dim, K_ONCE | K_NO_BUILD, "rows and cols"},
    {"cols", key_dim, K_ONCE | K_NO_BUILD, "rows and cols"},
};
#define CONF_NKEYS (sizeof(conf_keys) / sizeof(conf_keys[0]))

/* Whether a line with any key that has flag was seen. */
static int conf_seen_any(const struct conf_parser *ps, unsigned flag)
{
	for (size_t i = 0; i < CONF_NKEYS; i++)
		if ((conf_keys[i].flags & flag) && (ps->seen & 1u << i))
			return 1;
	return 0;
}

/* The rules conf_keys[i]'s flags stand for, checked before its handler runs. */
static int conf_key_rules(struct conf_parser *ps, size_t i)
{
	const struct conf_key *k = &conf_keys[i];

	if ((k->flags & K_PROC) && !ps->cur.p) {
		if (ps->c->mode == CONF_MODE_BUILD)
			return ps_fail(ps, "'%.*s' before the first step (build mode)",
				       (int)ps->klen, ps->key);
		ps->cur.p = &ps->c->svc;
	}
	if ((k->flags & K_NO_BUILD) && ps->c->mode == CONF_MODE_BUILD)
		return ps_fail(ps, "%s is not allowed in build mode", k->no_build);
	if ((k->flags & K_ONCE) && (ps->seen & 1u << i))
		return ps_fail(ps, "%s given twice", k->name);
	ps->seen |= 1u << i;
	return 0;
}

/* Checks the first line is CONF_HEADER. */
static int conf_header(struct conf_parser *ps, const char *line, size_t llen)
{
	const size_t hlen = sizeof(CONF_HEADER) - 1;

	if (llen == hlen && memcmp(line, CONF_HEADER, hlen) == 0)
		return 0;
	/* "crumb-init " is the header's stable prefix; the number is the version. */
	if (llen > 11 && llen < 20 && memcmp(line, "crumb-init ", 11) == 0 &&
	    strspn(line + 11, "0123456789") == llen - 11)
		return ps_fail(ps, "unsupported config version (want '%s')", CONF_HEADER);
	return ps_fail(ps, "not a crumb-init config (want '%s')", CONF_HEADER);
}

/* The length of the KEY that starts line: [a-z0-9_]*. */
static size_t conf_key_len(const char *line, size_t llen)
{
	size_t klen = 0;

	while (klen < llen && ((line[klen] >= 'a' && line[klen] <= 'z') ||
			       (line[klen] >= '0' && line[klen] <= '9') || line[klen] == '_'))
		klen++;
	return klen;
}

/* One "KEY VALUE" line (not the header, not a comment), llen bytes before its '\n'. */
static int conf_line(struct conf_parser *ps, char *line, size_t llen, conf_warn_fn *warn, void *ctx)
{
	size_t klen = conf_key_len(line, llen), i;
	char *val = line + klen + 1;
	const char *why = NULL;
	long vlen;

	if (klen == 0 || klen == llen || line[klen] != ' ')
		return ps_fail(ps, "expected 'KEY VALUE' with KEY in [a-z0-9_]");
	ps->key = line;
	ps->klen = klen;
	for (i = 0; i < CONF_NKEYS; i++)
		if (strlen(conf_keys[i].name) == klen && memcmp(line, conf_keys[i].name, klen) == 0)
			break;
	if (i == CONF_NKEYS) {
		if (warn) {
			char msg[96];

			snprintf(msg, sizeof(msg), "line %zu: unknown key '%.*s' ignored",
				 ps->lineno, klen > 32 ? 32 : (int)klen, line);
			warn(ctx, msg);
		}
		return 0;
	}
	vlen = (long)(llen - klen - 1);
	if (!(conf_keys[i].flags & K_RAW) && (vlen = conf_unescape(val, (size_t)vlen, &why)) < 0)
		return ps_fail(ps, "%s", why);
	if (conf_key_rules(ps, i) < 0)
		return -1;
	return conf_keys[i].fn(ps, val, (size_t)vlen);
}

/* What the whole file must have once read: something to run. */
static int conf_end(struct conf_parser *ps)
{
	if (ps->c->mode == CONF_MODE_BUILD) {
		if (ps->c->nsteps == 0)
			return conf_fail(ps->err, ps->errlen,
					 "build mode without a 'step' line: nothing to run");
		if (ps->cur.argv.n == 0)
			return conf_fail(ps->err, ps->errlen, "the last step has no arg");
	} else if (ps->cur.argv.n == 0) {
		return conf_fail(ps->err, ps->errlen, "no 'arg' line: nothing to run");
	}
	if (conf_finish(&ps->cur) < 0)
		return ps_oom(ps);
	if (!ps->c->hostname)
		ps->c->hostname = CONF_DEFAULT_HOSTNAME;
	return 0;
}

/* Splits buf into lines and parses each. */
static int conf_lines(struct conf_parser *ps, char *buf, size_t len, conf_warn_fn *warn, void *ctx)
{
	size_t pos = 0;

	if (len > CONF_FILE_MAX)
		return conf_fail(ps->err, ps->errlen, "config is larger than %d bytes",
				 CONF_FILE_MAX);
	if (len == 0)
		return conf_fail(ps->err, ps->errlen, "config is empty");
	while (pos < len) {
		char *line = buf + pos;
		char *nl = memchr(line, '\n', len - pos);
		size_t llen;
		int rc = 0;

		ps->lineno++;
		if (!nl)
			return ps_fail(ps, "no newline at end of file (truncated?)");
		llen = (size_t)(nl - line);
		pos += llen + 1;
		if (llen > CONF_LINE_MAX)
			return ps_fail(ps, "line longer than %d bytes", CONF_LINE_MAX);
		if (ps->lineno == 1)
			rc = conf_header(ps, line, llen);
		else if (llen != 0 && line[0] != '#')
			rc = conf_line(ps, line, llen, warn, ctx);
		if (rc < 0)
			return -1;
	}
	return conf_end(ps);
}

int conf_parse(struct conf *c, char *buf, size_t len, conf_warn_fn *warn, void *ctx, char *err,
	       size_t errlen)
{
	struct conf_parser ps = {.c = c, .err = err, .errlen = errlen};

	memset(c, 0, sizeof(*c));
	c->restart_max = -1;
	c->stop_signal = CONF_DEFAULT_STOP_SIGNAL;
	c->stop_timeout = CONF_DEFAULT_STOP_TIMEOUT;
	if (err && errlen)
		err[0] = '\0';
	if (conf_lines(&ps, buf, len, warn, ctx) == 0)
		return 0;
	free(ps.cur.argv.v);
	free(ps.cur.envp.v);
	conf_release(c); /* what finished steps own */
	return -1;
}

void conf_release(struct conf *c)
{
	free(c->svc.argv);
	free(c->svc.envp);
	for (size_t i = 0; i < c->nsteps; i++) {
		free(c->steps[i].argv);
		free(c->steps[i].envp);
		free(c->steps[i].mounts);
		free(c->steps[i].secrets);
	}
	free(c->steps);
	free(c->ready);
	free(c->mounts);
	free(c->hosts);
	memset(c, 0, sizeof(*c));
}

int conf_disk_header(const char *buf, size_t len, size_t *off, size_t *clen, size_t *keyoff)
{
	const size_t mlen = sizeof(CONF_DISK_MAGIC) - 1;
	size_t i = mlen, v = 0, k = 0;

	if (len < mlen + 2 || memcmp(buf, CONF_DISK_MAGIC, mlen) != 0)
		return -1;
	while (i < len && i < mlen + 8 && buf[i] >= '0' && buf[i] <= '9')
		v = v * 10 + (size_t)(buf[i++] - '0');
	if (i == mlen || i >= len || v > CONF_FILE_MAX)
		return -1;
	if (buf[i] == ' ') {
		k = ++i;
		while (i < len && i - k < CONF_DISK_KEY_HEX &&
		       ((buf[i] >= '0' && buf[i] <= '9') || (buf[i] >= 'a' && buf[i] <= 'f')))
			i++;
		if (i - k != CONF_DISK_KEY_HEX)
			return -1;
	}
	if (i >= len || buf[i] != '\n' || (v == 0 && !k))
		return -1;
	*off = i + 1;
	*clen = v;
	*keyoff = k;
	return 0;
}

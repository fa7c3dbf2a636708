/* config.c: parses crumb-init's config file (format in config.h); pure libc, bounds-checked. */
#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A growable NULL-terminated array of pointers into the parse buffer. */
struct conf_vec {
	char **v;
	size_t n;
	size_t alloc;
};

static int conf_vec_push(struct conf_vec *a, char *s)
{
	if (a->n + 2 > a->alloc) {
		size_t na = a->alloc ? a->alloc * 2 : 8;
		char **nv;

		if (na > SIZE_MAX / sizeof(*nv))
			return -1;
		nv = realloc(a->v, na * sizeof(*nv));
		if (!nv)
			return -1;
		a->v = nv;
		a->alloc = na;
	}
	a->v[a->n++] = s;
	a->v[a->n] = NULL;
	return 0;
}

static int conf_fail(char *err, size_t errlen, size_t line, const char *fmt, ...)
{
	va_list ap;
	int off = 0;

	if (!err || !errlen)
		return -1;
	if (line)
		off = snprintf(err, errlen, "line %zu: ", line);
	if (off < 0 || (size_t)off >= errlen)
		off = 0;
	va_start(ap, fmt);
	vsnprintf(err + off, errlen - (size_t)off, fmt, ap);
	va_end(ap);
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
	return 0;
}

int conf_parse(struct conf *c, char *buf, size_t len, conf_warn_fn *warn, void *ctx, char *err,
	       size_t errlen)
{
	struct conf_cur cur = {0};
	size_t steps_alloc = 0, ready_alloc = 0, mounts_alloc = 0;
	int seen_hostname = 0, seen_mode = 0, seen_restart = 0, seen_sig = 0, seen_timeout = 0;
	int seen_tty = 0, seen_proc_line = 0;
	const size_t hlen = sizeof(CONF_HEADER) - 1;
	size_t pos = 0, lineno = 0;

	memset(c, 0, sizeof(*c));
	c->restart_max = -1;
	c->stop_signal = CONF_DEFAULT_STOP_SIGNAL;
	c->stop_timeout = CONF_DEFAULT_STOP_TIMEOUT;
	if (err && errlen)
		err[0] = '\0';
	if (len > CONF_FILE_MAX) {
		conf_fail(err, errlen, 0, "config is larger than %d bytes", CONF_FILE_MAX);
		goto fail;
	}
	if (len == 0) {
		conf_fail(err, errlen, 0, "config is empty");
		goto fail;
	}
	while (pos < len) {
		char *line = buf + pos;
		char *nl = memchr(line, '\n', len - pos);
		size_t llen, klen = 0;
		const char *why = NULL;
		char *val;
		long vlen, num;

		lineno++;
		if (!nl) {
			conf_fail(err, errlen, lineno, "no newline at end of file (truncated?)");
			goto fail;
		}
		llen = (size_t)(nl - line);
		pos += llen + 1;
		if (llen > CONF_LINE_MAX) {
			conf_fail(err, errlen, lineno, "line longer than %d bytes", CONF_LINE_MAX);
			goto fail;
		}
		if (lineno == 1) {
			if (llen == hlen && memcmp(line, CONF_HEADER, hlen) == 0)
				continue;
			/* "crumb-init " is the header's stable prefix; the number is the version.
			 */
			if (llen > 11 && llen < 20 && memcmp(line, "crumb-init ", 11) == 0 &&
			    strspn(line + 11, "0123456789") == llen - 11)
				conf_fail(err, errlen, 1, "unsupported config version (want '%s')",
					  CONF_HEADER);
			else
				conf_fail(err, errlen, 1, "not a crumb-init config (want '%s')",
					  CONF_HEADER);
			goto fail;
		}
		if (llen == 0 || line[0] == '#')
			continue;
		while (klen < llen &&
		       ((line[klen] >= 'a' && line[klen] <= 'z') ||
			(line[klen] >= '0' && line[klen] <= '9') || line[klen] == '_'))
			klen++;
		if (klen == 0 || klen == llen || line[klen] != ' ') {
			conf_fail(err, errlen, lineno,
				  "expected 'KEY VALUE' with KEY in [a-z0-9_]");
			goto fail;
		}
		val = line + klen + 1;

#define KEY_IS(k) (klen == sizeof(k) - 1 && memcmp(line, k, klen) == 0)
#define ONCE(flag, name)                                                                           \
	do {                                                                                       \
		if (flag) {                                                                        \
			conf_fail(err, errlen, lineno, name " given twice");                       \
			goto fail;                                                                 \
		}                                                                                  \
		flag = 1;                                                                          \
	} while (0)
#define NOT_IN_BUILD(name)                                                                         \
	do {                                                                                       \
		if (c->mode == CONF_MODE_BUILD) {                                                  \
			conf_fail(err, errlen, lineno, name " is not allowed in build mode");      \
			goto fail;                                                                 \
		}                                                                                  \
	} while (0)
		if (KEY_IS("mount")) {
			/* Fields are split before unescaping: a space in a field is \x20. */
			char *f[4];
			size_t nf = 0, flen[4];
			char *p = val, *end = line + llen;

			while (nf < 4) {
				char *sp = memchr(p, ' ', (size_t)(end - p));
				char *fe = sp && nf < 3 ? sp : end;

				f[nf] = p;
				flen[nf++] = (size_t)(fe - p);
				if (fe == end)
					break;
				p = fe + 1;
			}
			if (nf != 4 || memchr(f[3], ' ', flen[3])) {
				conf_fail(err, errlen, lineno,
					  "mount wants 'TYPE SOURCE TARGET OPTIONS'");
				goto fail;
			}
			for (size_t i = 0; i < 4; i++) {
				vlen = conf_unescape(f[i], flen[i], &why);
				if (vlen < 0) {
					conf_fail(err, errlen, lineno, "mount field %zu: %s", i + 1,
						  why);
					goto fail;
				}
				if (vlen == 0) {
					conf_fail(err, errlen, lineno, "mount field %zu is empty",
						  i + 1);
					goto fail;
				}
			}
			if (strspn(f[0], "abcdefghijklmnopqrstuvwxyz0123456789") != strlen(f[0])) {
				conf_fail(err, errlen, lineno, "mount type must be [a-z0-9]+");
				goto fail;
			}
			if (f[2][0] != '/') {
				conf_fail(err, errlen, lineno,
					  "mount target is not an absolute path");
				goto fail;
			}
			if (conf_grow((void **)&c->mounts, &mounts_alloc, c->nmounts,
				      sizeof(*c->mounts)) < 0)
				goto oom;
			c->mounts[c->nmounts].type = f[0];
			c->mounts[c->nmounts].source = f[1];
			c->mounts[c->nmounts].target = f[2];
			c->mounts[c->nmounts].options = f[3];
			c->nmounts++;
			continue;
		}
		if (!KEY_IS("arg") && !KEY_IS("env") && !KEY_IS("workdir") && !KEY_IS("hostname") &&
		    !KEY_IS("user") && !KEY_IS("restart") && !KEY_IS("stop_signal") &&
		    !KEY_IS("stop_timeout") && !KEY_IS("ready") && !KEY_IS("tty") &&
		    !KEY_IS("term") && !KEY_IS("rows") && !KEY_IS("cols") && !KEY_IS("mode") &&
		    !KEY_IS("step")) {
			if (warn) {
				char msg[96];

				snprintf(msg, sizeof(msg), "line %zu: unknown key '%.*s' ignored",
					 lineno, klen > 32 ? 32 : (int)klen, line);
				warn(ctx, msg);
			}
			continue;
		}
		vlen = conf_unescape(val, llen - klen - 1, &why);
		if (vlen < 0) {
			conf_fail(err, errlen, lineno, "%s", why);
			goto fail;
		}
		if (KEY_IS("arg") || KEY_IS("env") || KEY_IS("workdir") || KEY_IS("user")) {
			seen_proc_line = 1;
			if (!cur.p) {
				if (c->mode == CONF_MODE_BUILD) {
					conf_fail(err, errlen, lineno,
						  "'%.*s' before the first step (build mode)",
						  (int)klen, line);
					goto fail;
				}
				cur.p = &c->svc;
			}
		}
		if (KEY_IS("arg")) {
			if (cur.argv.n == 0 && vlen == 0) {
				conf_fail(err, errlen, lineno, "empty program path (first arg)");
				goto fail;
			}
			if (conf_vec_push(&cur.argv, val) < 0)
				goto oom;
		} else if (KEY_IS("env")) {
			char *eq = memchr(val, '=', (size_t)vlen);

			if (!eq || eq == val) {
				conf_fail(err, errlen, lineno, "env value is not NAME=value");
				goto fail;
			}
			if (conf_vec_push(&cur.envp, val) < 0)
				goto oom;
		} else if (KEY_IS("workdir")) {
			if (cur.p->workdir) {
				conf_fail(err, errlen, lineno, "workdir given twice");
				goto fail;
			}
			if (val[0] != '/') {
				conf_fail(err, errlen, lineno, "workdir is not an absolute path");
				goto fail;
			}
			cur.p->workdir = val;
		} else if (KEY_IS("user")) {
			if (cur.p->user) {
				conf_fail(err, errlen, lineno, "user given twice");
				goto fail;
			}
			if (!conf_user_ok(val)) {
				conf_fail(err, errlen, lineno, "user is not USER or USER:GROUP");
				goto fail;
			}
			cur.p->user = val;
		} else if (KEY_IS("hostname")) {
			ONCE(seen_hostname, "hostname");
			if (vlen == 0 || vlen > CONF_HOSTNAME_MAX) {
				conf_fail(err, errlen, lineno, "hostname must be 1..%d bytes",
					  CONF_HOSTNAME_MAX);
				goto fail;
			}
			c->hostname = val;
		} else if (KEY_IS("mode")) {
			ONCE(seen_mode, "mode");
			if (seen_proc_line || c->nsteps) {
				conf_fail(err, errlen, lineno,
					  "mode must come before arg, env, workdir, user and step");
				goto fail;
			}
			if (!strcmp(val, "build")) {
				c->mode = CONF_MODE_BUILD;
				if (seen_restart || c->nready || seen_tty || c->term || c->rows ||
				    c->cols) {
					conf_fail(err, errlen, lineno,
						  "build mode has no restart, ready, tty, term, "
						  "rows or cols");
					goto fail;
				}
			} else if (strcmp(val, "service")) {
				conf_fail(err, errlen, lineno, "mode must be service or build");
				goto fail;
			}
		} else if (KEY_IS("step")) {
			if (c->mode != CONF_MODE_BUILD) {
				conf_fail(err, errlen, lineno, "step outside build mode");
				goto fail;
			}
			if (cur.p && cur.argv.n == 0) {
				conf_fail(err, errlen, lineno, "the step before has no arg");
				goto fail;
			}
			if (conf_finish(&cur) < 0)
				goto oom;
			if (conf_grow((void **)&c->steps, &steps_alloc, c->nsteps,
				      sizeof(*c->steps)) < 0)
				goto oom;
			cur.p = &c->steps[c->nsteps++];
			memset(cur.p, 0, sizeof(*cur.p));
			cur.p->label = val;
		} else if (KEY_IS("restart")) {
			NOT_IN_BUILD("restart");
			ONCE(seen_restart, "restart");
			if (!strcmp(val, "no")) {
				c->restart = CONF_RESTART_NO;
			} else if (!strcmp(val, "always")) {
				c->restart = CONF_RESTART_ALWAYS;
			} else if (!strcmp(val, "on-failure")) {
				c->restart = CONF_RESTART_ON_FAILURE;
			} else if (!strncmp(val, "on-failure:", 11) &&
				   (num = conf_number(val + 11, 0, CONF_RESTART_MAX_LIMIT)) >= 0) {
				c->restart = CONF_RESTART_ON_FAILURE;
				c->restart_max = num;
			} else {
				conf_fail(err, errlen, lineno,
					  "restart must be no, always, on-failure or "
					  "on-failure:MAX (0..%d)",
					  CONF_RESTART_MAX_LIMIT);
				goto fail;
			}
		} else if (KEY_IS("stop_signal")) {
			ONCE(seen_sig, "stop_signal");
			if ((num = conf_number(val, 1, 64)) < 0) {
				conf_fail(err, errlen, lineno, "stop_signal must be 1..64");
				goto fail;
			}
			c->stop_signal = (int)num;
		} else if (KEY_IS("stop_timeout")) {
			ONCE(seen_timeout, "stop_timeout");
			if ((num = conf_number(val, 0, CONF_STOP_TIMEOUT_LIMIT)) < 0) {
				conf_fail(err, errlen, lineno, "stop_timeout must be 0..%d seconds",
					  CONF_STOP_TIMEOUT_LIMIT);
				goto fail;
			}
			c->stop_timeout = num;
		} else if (KEY_IS("ready")) {
			NOT_IN_BUILD("ready");
			if ((num = conf_number(val, 1, 65535)) < 0) {
				conf_fail(err, errlen, lineno, "ready must be a TCP port 1..65535");
				goto fail;
			}
			if (conf_grow((void **)&c->ready, &ready_alloc, c->nready,
				      sizeof(*c->ready)) < 0)
				goto oom;
			c->ready[c->nready++] = (unsigned)num;
		} else if (KEY_IS("tty")) {
			NOT_IN_BUILD("tty");
			ONCE(seen_tty, "tty");
			if (strcmp(val, "0") && strcmp(val, "1")) {
				conf_fail(err, errlen, lineno, "tty must be 0 or 1");
				goto fail;
			}
			c->tty = val[0] == '1';
		} else if (KEY_IS("term")) {
			NOT_IN_BUILD("term");
			if (c->term) {
				conf_fail(err, errlen, lineno, "term given twice");
				goto fail;
			}
			if (vlen == 0 || vlen > CONF_TERM_MAX) {
				conf_fail(err, errlen, lineno, "term must be 1..%d bytes",
					  CONF_TERM_MAX);
				goto fail;
			}
			c->term = val;
		} else {
			unsigned *dim = KEY_IS("rows") ? &c->rows : &c->cols;

			NOT_IN_BUILD("rows and cols");
			if (*dim) {
				conf_fail(err, errlen, lineno, "%.*s given twice", (int)klen, line);
				goto fail;
			}
			if ((num = conf_number(val, 1, 65535)) < 0) {
				conf_fail(err, errlen, lineno, "%.*s must be 1..65535", (int)klen,
					  line);
				goto fail;
			}
			*dim = (unsigned)num;
		}
#undef KEY_IS
#undef ONCE
#undef NOT_IN_BUILD
	}
	if (c->mode == CONF_MODE_BUILD) {
		if (c->nsteps == 0) {
			conf_fail(err, errlen, 0,
				  "build mode without a 'step' line: nothing to run");
			goto fail;
		}
		if (cur.argv.n == 0) {
			conf_fail(err, errlen, 0, "the last step has no arg");
			goto fail;
		}
	} else if (cur.argv.n == 0) {
		conf_fail(err, errlen, 0, "no 'arg' line: nothing to run");
		goto fail;
	}
	if (conf_finish(&cur) < 0)
		goto oom;
	if (!c->hostname)
		c->hostname = CONF_DEFAULT_HOSTNAME;
	return 0;

oom:
	conf_fail(err, errlen, 0, "out of memory");
fail:
	free(cur.argv.v);
	free(cur.envp.v);
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
	}
	free(c->steps);
	free(c->ready);
	free(c->mounts);
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

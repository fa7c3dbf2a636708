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

int conf_parse(struct conf *c, char *buf, size_t len, conf_warn_fn *warn, void *ctx, char *err,
	       size_t errlen)
{
	struct conf_vec argv = {0}, envp = {0};
	const char *workdir = NULL, *hostname = NULL;
	const size_t hlen = sizeof(CONF_HEADER) - 1;
	size_t pos = 0, lineno = 0;

	memset(c, 0, sizeof(*c));
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
		long vlen;

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
		if (!KEY_IS("arg") && !KEY_IS("env") && !KEY_IS("workdir") && !KEY_IS("hostname")) {
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
		if (KEY_IS("arg")) {
			if (argv.n == 0 && vlen == 0) {
				conf_fail(err, errlen, lineno, "empty program path (first arg)");
				goto fail;
			}
			if (conf_vec_push(&argv, val) < 0)
				goto oom;
		} else if (KEY_IS("env")) {
			char *eq = memchr(val, '=', (size_t)vlen);

			if (!eq || eq == val) {
				conf_fail(err, errlen, lineno, "env value is not NAME=value");
				goto fail;
			}
			if (conf_vec_push(&envp, val) < 0)
				goto oom;
		} else if (KEY_IS("workdir")) {
			if (workdir) {
				conf_fail(err, errlen, lineno, "workdir given twice");
				goto fail;
			}
			if (val[0] != '/') {
				conf_fail(err, errlen, lineno, "workdir is not an absolute path");
				goto fail;
			}
			workdir = val;
		} else {
			if (hostname) {
				conf_fail(err, errlen, lineno, "hostname given twice");
				goto fail;
			}
			if (vlen == 0 || vlen > CONF_HOSTNAME_MAX) {
				conf_fail(err, errlen, lineno, "hostname must be 1..%d bytes",
					  CONF_HOSTNAME_MAX);
				goto fail;
			}
			hostname = val;
		}
#undef KEY_IS
	}
	if (argv.n == 0) {
		conf_fail(err, errlen, 0, "no 'arg' line: nothing to run");
		goto fail;
	}
	/* The service may have no environment, but execve wants an array. */
	if (!envp.v) {
		envp.v = calloc(1, sizeof(*envp.v));
		if (!envp.v)
			goto oom;
	}
	c->argv = argv.v;
	c->argc = argv.n;
	c->envp = envp.v;
	c->envc = envp.n;
	c->workdir = workdir ? workdir : CONF_DEFAULT_WORKDIR;
	c->hostname = hostname ? hostname : CONF_DEFAULT_HOSTNAME;
	return 0;

oom:
	conf_fail(err, errlen, 0, "out of memory");
fail:
	free(argv.v);
	free(envp.v);
	return -1;
}

void conf_release(struct conf *c)
{
	free(c->argv);
	free(c->envp);
	memset(c, 0, sizeof(*c));
}

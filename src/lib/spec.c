/* spec.c: the Crumbfile parser (Dockerfile syntax, BuildKit's rules) and per-instruction
 * evaluation. */
#include <ctype.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"

#include "confine.h"

/*
 * The parser follows moby/buildkit's frontend/dockerfile/parser (lines,
 * directives, continuations, heredocs, flags) and instructions packages
 * (per-instruction checks), and its shell lexer for substitution, so a file
 * means the same to crumb as to `docker build`. Where Docker's behaviour is
 * odd but documented (COPY heredoc bodies lose their escape characters,
 * `CMD --x` is a flag), crumb keeps it: a Crumbfile must not build
 * differently from the Dockerfile it was copied from.
 */

#define SPEC_MAX_FILE (16u << 20)
#define SPEC_MAX_INCLUDE_DEPTH 16
#define KIND_INCLUDE 100 /* internal: spliced away before the caller sees it */

static const char *const kind_names[] = {
    [SPEC_FROM] = "FROM",
    [SPEC_ARG] = "ARG",
    [SPEC_ENV] = "ENV",
    [SPEC_LABEL] = "LABEL",
    [SPEC_COPY] = "COPY",
    [SPEC_ADD] = "ADD",
    [SPEC_RUN] = "RUN",
    [SPEC_WORKDIR] = "WORKDIR",
    [SPEC_USER] = "USER",
    [SPEC_EXPOSE] = "EXPOSE",
    [SPEC_VOLUME] = "VOLUME",
    [SPEC_CMD] = "CMD",
    [SPEC_ENTRYPOINT] = "ENTRYPOINT",
    [SPEC_STOPSIGNAL] = "STOPSIGNAL",
    [SPEC_SHELL] = "SHELL",
    [SPEC_HEALTHCHECK] = "HEALTHCHECK",
    [SPEC_ONBUILD] = "ONBUILD",
    [SPEC_MAINTAINER] = "MAINTAINER",
};
#define NKINDS ((int)(sizeof(kind_names) / sizeof(kind_names[0])))

const char *spec_kind_name(enum spec_kind k)
{
	if ((int)k == KIND_INCLUDE)
		return "INCLUDE";
	return (int)k >= 0 && (int)k < NKINDS ? kind_names[k] : "?";
}

/* ---- small helpers ---- */

/* Go's unicode.IsSpace for single bytes */
static int is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* BuildKit's reWhitespace: [\t\v\f\r ] */
static int is_ws(int c)
{
	return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r';
}

static char *lower_dup(const char *s)
{
	char *r = xstrdup(s);
	for (char *p = r; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return r;
}

/* Appends s quoted like Go's %q for ASCII (readable, one line). */
static void add_quoted(struct sbuf *sb, const char *s)
{
	sb_addc(sb, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			sb_adds(sb, "\\\"");
			break;
		case '\\':
			sb_adds(sb, "\\\\");
			break;
		case '\n':
			sb_adds(sb, "\\n");
			break;
		case '\t':
			sb_adds(sb, "\\t");
			break;
		case '\r':
			sb_adds(sb, "\\r");
			break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				sb_addf(sb, "\\x%02x", *p);
			else
				sb_addc(sb, (char)*p);
		}
	}
	sb_addc(sb, '"');
}

static char *quoted(const char *s)
{
	struct sbuf sb = SBUF_INIT;
	add_quoted(&sb, s);
	return sb_detach(&sb);
}

struct lpos {
	int line, col;
};

/* The offset of the first byte that is not part of valid UTF-8 (no
 * overlongs, surrogates or code points past U+10FFFF), or n when all is. */
static size_t utf8_bad(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	for (size_t i = 0; i < n;) {
		unsigned c = s[i];
		size_t len = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : (c & 0xf0) == 0xe0 ? 3
			   : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
		if (!len || i + len > n)
			return i;
		for (size_t k = 1; k < len; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				return i;
		if (len == 3 && ((c == 0xe0 && s[i + 1] < 0xa0) || (c == 0xed && s[i + 1] >= 0xa0)))
			return i;
		if (len == 4 && ((c == 0xf0 && s[i + 1] < 0x90) || (c == 0xf4 && s[i + 1] >= 0x90)))
			return i;
		i += len;
	}
	return n;
}

/* Instructions whose text ends up in the image config (JSON: UTF-8 only). */
static int to_config(int kind)
{
	switch (kind) {
	case SPEC_ENV:
	case SPEC_LABEL:
	case SPEC_CMD:
	case SPEC_ENTRYPOINT:
	case SPEC_SHELL:
	case SPEC_USER:
	case SPEC_WORKDIR:
	case SPEC_STOPSIGNAL:
	case SPEC_EXPOSE:
	case SPEC_VOLUME:
	case SPEC_HEALTHCHECK:
	case SPEC_ONBUILD:
		return 1;
	default:
		return 0;
	}
}

static int perr(struct err *e, int code, const char *file, struct lpos p, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int perr(struct err *e, int code, const char *file, struct lpos p, const char *fmt, ...)
{
	struct sbuf sb = SBUF_INIT;
	va_list ap;
	sb_addf(&sb, "%s:%d:%d: ", file, p.line, p.col);
	va_start(ap, fmt);
	sb_vaddf(&sb, fmt, ap);
	va_end(ap);
	/* one line, whatever the input held */
	for (char *c = sb.buf; *c; c++)
		if (*c == '\n' || *c == '\r')
			*c = ' ';
	err_set(e, code, "%s", sb.buf);
	sb_release(&sb);
	return code;
}

static int ierr(struct err *e, int code, const struct spec_pos *p, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int ierr(struct err *e, int code, const struct spec_pos *p, const char *fmt, ...)
{
	struct sbuf sb = SBUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	sb_vaddf(&sb, fmt, ap);
	va_end(ap);
	struct lpos lp = {p->line, p->col};
	perr(e, code, p->file, lp, "%s", sb.buf);
	sb_release(&sb);
	return code;
}

/* Splits at runs of [\t\v\f\r ] (BuildKit's parseStringsWhitespaceDelimited);
 * offs (may be NULL) gets each word's offset in s. */
static void split_ws(const char *s, struct strlist *out, size_t **offs)
{
	size_t i = 0, n = strlen(s), cap = 0, k = 0;
	if (offs)
		*offs = NULL;
	while (i < n) {
		while (i < n && is_ws((unsigned char)s[i]))
			i++;
		if (i >= n)
			break;
		size_t st = i;
		while (i < n && !is_ws((unsigned char)s[i]))
			i++;
		strlist_push_owned(out, xstrndup(s + st, i - st));
		if (offs) {
			if (k == cap)
				*offs = xrealloc(*offs, (cap = cap ? cap * 2 : 8) * sizeof(size_t));
			(*offs)[k++] = st;
		}
	}
}

/*
 * BuildKit's parseWords: splits at unquoted blanks but keeps quotes and
 * escapes in the words (they are removed when each word is substituted).
 */
static void raw_words(const char *s, char esc, struct strlist *out)
{
	struct sbuf w = SBUF_INIT;
	size_t n = strlen(s);
	int phase = 0, blank_ok = 0; /* 0 spaces, 1 word, 2 quote */
	char quote = 0;
	for (size_t i = 0; i <= n; i++) {
		int c = i < n ? (unsigned char)s[i] : 0;
		if (phase == 0) {
			if (i == n)
				break;
			if (is_space(c))
				continue;
			phase = 1;
		}
		if (i == n) {
			if (blank_ok || w.len)
				strlist_push(out, w.buf);
			break;
		}
		if (phase == 1) {
			if (is_space(c)) {
				phase = 0;
				if (blank_ok || w.len)
					strlist_push(out, w.buf);
				sb_reset(&w);
				blank_ok = 0;
				continue;
			}
			if (c == '\'' || c == '"') {
				quote = (char)c;
				blank_ok = 1;
				phase = 2;
			}
			if (c == esc) {
				if (i + 1 == n)
					continue;
				sb_addc(&w, (char)c);
				c = (unsigned char)s[++i];
			}
			sb_addc(&w, (char)c);
			continue;
		}
		/* in quotes */
		if (c == quote)
			phase = 1;
		if (c == esc && quote != '\'') {
			if (i + 1 == n) {
				phase = 1;
				continue;
			}
			sb_addc(&w, (char)c);
			c = (unsigned char)s[++i];
		}
		sb_addc(&w, (char)c);
	}
	sb_release(&w);
}

/* ---- JSON arrays of strings (exec form) ---- */

enum { JSON_NO = 0, JSON_STRINGS = 1, JSON_NOT_STRINGS = 2, JSON_NUL = 3 };

struct jp {
	const char *s;
	size_t i, n;
};

static void j_ws(struct jp *j)
{
	while (j->i < j->n && (j->s[j->i] == ' ' || j->s[j->i] == '\t' || j->s[j->i] == '\n' ||
			       j->s[j->i] == '\r'))
		j->i++;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int j_hex4(struct jp *j, unsigned *v)
{
	if (j->n - j->i < 4)
		return -1;
	*v = 0;
	for (int k = 0; k < 4; k++) {
		int h = hexval((unsigned char)j->s[j->i + k]);
		if (h < 0)
			return -1;
		*v = *v * 16 + (unsigned)h;
	}
	j->i += 4;
	return 0;
}

static void utf8_put(struct sbuf *sb, unsigned cp)
{
	if (cp < 0x80) {
		sb_addc(sb, (char)cp);
	} else if (cp < 0x800) {
		sb_addc(sb, (char)(0xc0 | cp >> 6));
		sb_addc(sb, (char)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		sb_addc(sb, (char)(0xe0 | cp >> 12));
		sb_addc(sb, (char)(0x80 | ((cp >> 6) & 0x3f)));
		sb_addc(sb, (char)(0x80 | (cp & 0x3f)));
	} else {
		sb_addc(sb, (char)(0xf0 | cp >> 18));
		sb_addc(sb, (char)(0x80 | ((cp >> 12) & 0x3f)));
		sb_addc(sb, (char)(0x80 | ((cp >> 6) & 0x3f)));
		sb_addc(sb, (char)(0x80 | (cp & 0x3f)));
	}
}

/* A JSON string at j->i (the opening quote); out may be NULL. Sets *nul when
 * it decodes a NUL. Go's decoder: control characters are errors, a lone
 * surrogate becomes U+FFFD. */
static int j_string(struct jp *j, struct sbuf *out, int *nul)
{
	j->i++;
	for (;;) {
		if (j->i >= j->n)
			return -1;
		unsigned char c = (unsigned char)j->s[j->i++];
		if (c == '"')
			return 0;
		if (c < 0x20)
			return -1;
		if (c != '\\') {
			if (out)
				sb_addc(out, (char)c);
			continue;
		}
		if (j->i >= j->n)
			return -1;
		c = (unsigned char)j->s[j->i++];
		unsigned cp;
		switch (c) {
		case '"':
		case '\\':
		case '/':
			cp = c;
			break;
		case 'b':
			cp = '\b';
			break;
		case 'f':
			cp = '\f';
			break;
		case 'n':
			cp = '\n';
			break;
		case 'r':
			cp = '\r';
			break;
		case 't':
			cp = '\t';
			break;
		case 'u':
			if (j_hex4(j, &cp) < 0)
				return -1;
			if (cp >= 0xd800 && cp < 0xdc00) {
				unsigned lo;
				size_t save = j->i;
				if (j->n - j->i >= 6 && j->s[j->i] == '\\' &&
				    j->s[j->i + 1] == 'u') {
					j->i += 2;
					if (j_hex4(j, &lo) == 0 && lo >= 0xdc00 && lo < 0xe000) {
						cp =
						    0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
						break;
					}
				}
				j->i = save;
				cp = 0xfffd;
			} else if (cp >= 0xdc00 && cp < 0xe000) {
				cp = 0xfffd;
			}
			break;
		default:
			return -1;
		}
		if (cp == 0 && nul)
			*nul = 1;
		if (out)
			utf8_put(out, cp);
	}
}

static int j_value(struct jp *j, int depth);

static int j_number(struct jp *j)
{
	size_t st = j->i;
	if (j->i < j->n && j->s[j->i] == '-')
		j->i++;
	if (j->i >= j->n || !isdigit((unsigned char)j->s[j->i]))
		return -1;
	if (j->s[j->i] == '0')
		j->i++;
	else
		while (j->i < j->n && isdigit((unsigned char)j->s[j->i]))
			j->i++;
	if (j->i < j->n && j->s[j->i] == '.') {
		j->i++;
		if (j->i >= j->n || !isdigit((unsigned char)j->s[j->i]))
			return -1;
		while (j->i < j->n && isdigit((unsigned char)j->s[j->i]))
			j->i++;
	}
	if (j->i < j->n && (j->s[j->i] == 'e' || j->s[j->i] == 'E')) {
		j->i++;
		if (j->i < j->n && (j->s[j->i] == '+' || j->s[j->i] == '-'))
			j->i++;
		if (j->i >= j->n || !isdigit((unsigned char)j->s[j->i]))
			return -1;
		while (j->i < j->n && isdigit((unsigned char)j->s[j->i]))
			j->i++;
	}
	return j->i > st ? 0 : -1;
}

static int j_lit(struct jp *j, const char *w)
{
	size_t l = strlen(w);
	if (j->n - j->i < l || memcmp(j->s + j->i, w, l))
		return -1;
	j->i += l;
	return 0;
}

/* Validates any JSON value (only to tell "valid JSON, not strings" apart
 * from "not JSON at all", as Docker does). */
static int j_value(struct jp *j, int depth)
{
	if (depth > 1000)
		return -1;
	j_ws(j);
	if (j->i >= j->n)
		return -1;
	char c = j->s[j->i];
	if (c == '"')
		return j_string(j, NULL, NULL);
	if (c == '[' || c == '{') {
		char close = c == '[' ? ']' : '}';
		j->i++;
		j_ws(j);
		if (j->i < j->n && j->s[j->i] == close) {
			j->i++;
			return 0;
		}
		for (;;) {
			if (c == '{') {
				j_ws(j);
				if (j->i >= j->n || j->s[j->i] != '"' ||
				    j_string(j, NULL, NULL) < 0)
					return -1;
				j_ws(j);
				if (j->i >= j->n || j->s[j->i++] != ':')
					return -1;
			}
			if (j_value(j, depth + 1) < 0)
				return -1;
			j_ws(j);
			if (j->i >= j->n)
				return -1;
			if (j->s[j->i] == ',') {
				j->i++;
				continue;
			}
			if (j->s[j->i++] == close)
				return 0;
			return -1;
		}
	}
	if (c == 't')
		return j_lit(j, "true");
	if (c == 'f')
		return j_lit(j, "false");
	if (c == 'n')
		return j_lit(j, "null");
	return j_number(j);
}

/* Docker's parseJSON: "[...]" that is valid JSON; JSON_NOT_STRINGS when a
 * member is no string (an error in Docker, not shell form). */
static int json_args(const char *s, struct strlist *out)
{
	struct jp j = {s, 0, strlen(s)};
	while (j.i < j.n && is_space((unsigned char)s[j.i]))
		j.i++;
	if (j.i >= j.n || s[j.i] != '[')
		return JSON_NO;
	size_t start = j.i;
	if (j_value(&j, 0) < 0)
		return JSON_NO;
	j_ws(&j);
	if (j.i != j.n)
		return JSON_NO;
	/* valid: decode it, members must be strings */
	j.i = start + 1;
	struct strlist l = STRLIST_INIT;
	struct sbuf sb = SBUF_INIT;
	int nul = 0, r = JSON_STRINGS;
	j_ws(&j);
	if (s[j.i] != ']') {
		for (;;) {
			j_ws(&j);
			if (s[j.i] != '"') {
				r = JSON_NOT_STRINGS;
				break;
			}
			sb_reset(&sb);
			j_string(&j, &sb, &nul);
			strlist_push(&l, sb.buf);
			j_ws(&j);
			if (s[j.i++] == ']')
				break;
		}
	}
	sb_release(&sb);
	if (r == JSON_STRINGS && nul)
		r = JSON_NUL;
	if (r == JSON_STRINGS)
		*out = l;
	else
		strlist_release(&l);
	return r;
}

/* ---- the shell lexer (BuildKit's shell.Lex) ---- */

#define LX_EOF (-1)

struct lex {
	const char *s;
	size_t n, i;
	int esc;
	spec_lookup_fn *lookup;
	void *ctx;
	int raw_quotes;	 /* quotes kept in the result (heredoc markers) */
	int raw_escapes; /* escape characters kept in the result */
	int skip_quotes; /* quotes are ordinary characters (COPY heredoc bodies) */
	int skip_unset;	 /* unset variables left as written (heredoc markers) */
	size_t work;	 /* bytes pattern operators examined so far (SPEC_MAX_GLOB_WORK) */
	char msg[300];
};

/* the fields of ProcessWords: blanks split, but not inside quotes */
struct words {
	struct strlist *list;
	struct sbuf w;
	int in;
};

static void w_raw_char(struct words *w, int c)
{
	if (!w)
		return;
	sb_addc(&w->w, (char)c);
	w->in = 1;
}

static void w_char(struct words *w, int c)
{
	if (!w)
		return;
	if (is_space(c)) {
		if (w->in && w->w.len) {
			strlist_push(w->list, w->w.buf);
			sb_reset(&w->w);
			w->in = 0;
		}
		return;
	}
	w_raw_char(w, c);
}

static void w_string(struct words *w, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		w_char(w, (unsigned char)s[i]);
}

static void w_raw_string(struct words *w, const char *s, size_t n)
{
	if (!w)
		return;
	sb_add(&w->w, s, n);
	w->in = 1;
}

static int lx_peek(struct lex *l)
{
	return l->i < l->n ? (unsigned char)l->s[l->i] : LX_EOF;
}

static int lx_next(struct lex *l)
{
	return l->i < l->n ? (unsigned char)l->s[l->i++] : LX_EOF;
}

static int lx_fail(struct lex *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int lx_fail(struct lex *l, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(l->msg, sizeof(l->msg), fmt, ap);
	va_end(ap);
	return -1;
}

static int lx_stop_on(struct lex *l, int stop, int raw_escapes, struct sbuf *res, struct words *w);

static int lx_too_long(struct lex *l)
{
	return lx_fail(l, "variable expansion makes a word longer than %u MiB", SPEC_MAX_WORD >> 20);
}

static int lx_single(struct lex *l, struct sbuf *out)
{
	int c = lx_next(l);
	if (l->raw_quotes)
		sb_addc(out, (char)c);
	for (;;) {
		c = lx_next(l);
		if (c == LX_EOF)
			return lx_fail(
			    l,
			    "unexpected end of statement while looking for matching single-quote");
		if (c == '\'') {
			if (l->raw_quotes)
				sb_addc(out, (char)c);
			return 0;
		}
		sb_addc(out, (char)c);
	}
}

static int lx_dollar(struct lex *l, struct sbuf *out);

static int lx_double(struct lex *l, struct sbuf *out)
{
	int c = lx_next(l);
	if (l->raw_quotes)
		sb_addc(out, (char)c);
	for (;;) {
		c = lx_peek(l);
		if (c == LX_EOF)
			return lx_fail(
			    l,
			    "unexpected end of statement while looking for matching double-quote");
		if (c == '"') {
			lx_next(l);
			if (l->raw_quotes)
				sb_addc(out, '"');
			return 0;
		}
		if (c == '$') {
			if (lx_dollar(l, out) < 0)
				return -1;
			continue;
		}
		c = lx_next(l);
		if (c == l->esc) {
			if (l->raw_escapes)
				sb_addc(out, (char)c);
			int p = lx_peek(l);
			if (p == LX_EOF)
				continue; /* an escape at the end of the word is dropped */
			if (p == '"' || p == '$' || p == l->esc)
				c = lx_next(l);
		}
		sb_addc(out, (char)c);
	}
}

static int is_name_char(int c)
{
	return isalnum(c) || c == '_' || c >= 0x80;
}

static void lx_name(struct lex *l, struct sbuf *name)
{
	int c = lx_peek(l);
	if (c != LX_EOF && isdigit(c)) {
		while ((c = lx_peek(l)) != LX_EOF && isdigit(c))
			sb_addc(name, (char)lx_next(l));
		return;
	}
	if (c != LX_EOF && strchr("@*#?-$!", c)) {
		sb_addc(name, (char)lx_next(l));
		return;
	}
	while ((c = lx_peek(l)) != LX_EOF && is_name_char(c))
		sb_addc(name, (char)lx_next(l));
}

static const char *lx_get(struct lex *l, const char *name)
{
	return l->lookup ? l->lookup(l->ctx, name) : NULL;
}

/* Pattern operators try fnmatch at every offset (quadratic): their total work
 * is bounded, so a long value cannot stall the build. */
static int glob_budget(struct lex *l, size_t n)
{
	l->work += n + 1;
	return l->work > SPEC_MAX_GLOB_WORK ? -1 : 0;
}

/* ${VAR#pat} and friends: pat is a shell glob */
static int trim_glob(struct lex *l, struct sbuf *out, const char *val, const char *pat, int suffix,
		     int greedy)
{
	size_t n = strlen(val);
	char *buf = xmalloc(n + 1);
	for (size_t k = 0; k <= n; k++) {
		/* prefix: the shortest (or longest) val[0..i); suffix: val[i..n) */
		size_t i = suffix ? (greedy ? k : n - k) : (greedy ? n - k : k);
		const char *part;
		if (glob_budget(l, suffix ? n - i : i) < 0) {
			free(buf);
			return -1;
		}
		if (suffix) {
			part = val + i;
		} else {
			memcpy(buf, val, i);
			buf[i] = 0;
			part = buf;
		}
		if (fnmatch(pat, part, 0) == 0) {
			if (suffix)
				sb_add(out, val, i);
			else
				sb_adds(out, val + i);
			free(buf);
			return 0;
		}
	}
	free(buf);
	sb_adds(out, val);
	return 0;
}

/* ${VAR/pat/rep}, ${VAR//pat/rep}: the longest match at the leftmost place */
static int replace_glob(struct lex *l, struct sbuf *out, const char *val, const char *pat,
			const char *rep, int all)
{
	size_t n = strlen(val), i = 0;
	char *buf = xmalloc(n + 1);
	int done = 0;
	if (!*pat) {
		sb_adds(out, val);
		free(buf);
		return 0;
	}
	while (i < n) {
		size_t m = 0;
		if (out->len > SPEC_MAX_WORD) {
			free(buf);
			return 0; /* the caller refuses the word */
		}
		if (!done || all) {
			for (size_t j = n; j > i; j--) {
				if (glob_budget(l, j - i) < 0) {
					free(buf);
					return -1;
				}
				memcpy(buf, val + i, j - i);
				buf[j - i] = 0;
				if (fnmatch(pat, buf, 0) == 0) {
					m = j - i;
					break;
				}
			}
		}
		if (m) {
			sb_adds(out, rep);
			i += m;
			done = 1;
		} else {
			sb_addc(out, val[i++]);
		}
	}
	free(buf);
	return 0;
}

static int lx_dollar(struct lex *l, struct sbuf *out)
{
	struct sbuf name = SBUF_INIT, word = SBUF_INIT, word2 = SBUF_INIT;
	int r = -1;
	lx_next(l);
	if (lx_peek(l) != '{') {
		lx_name(l, &name);
		if (!name.len) {
			sb_addc(out, '$');
			r = 0;
			goto out;
		}
		const char *v = lx_get(l, name.buf);
		if (!v && l->skip_unset)
			sb_addf(out, "$%s", name.buf);
		else if (v)
			sb_adds(out, v);
		r = 0;
		goto out;
	}
	lx_next(l);
	int c = lx_peek(l);
	if (c == LX_EOF) {
		lx_fail(l, "syntax error: missing '}'");
		goto out;
	}
	if (c == '{' || c == '}' || c == ':') {
		lx_fail(l, "syntax error: bad substitution");
		goto out;
	}
	lx_name(l, &name);
	c = lx_next(l);
	if (c == LX_EOF) {
		lx_fail(l, "syntax error: missing '}'");
		goto out;
	}
	const char *v = lx_get(l, name.buf);
	if (c == '}') {
		if (!v && l->skip_unset)
			sb_addf(out, "${%s}", name.buf);
		else if (v)
			sb_adds(out, v);
		r = 0;
		goto out;
	}
	int colon = 0;
	char mod[3] = {(char)c, 0, 0};
	if (c == ':') {
		colon = 1;
		c = lx_next(l);
		if (c == LX_EOF) {
			lx_fail(l, "syntax error: missing '}'");
			goto out;
		}
		mod[1] = (char)c;
		if (c == '#' || c == '%') {
			lx_fail(l, "unsupported modifier (%s) in substitution", mod);
			goto out;
		}
	}
	if (c == '+' || c == '-' || c == '?' || c == '#' || c == '%' || colon) {
		if (lx_stop_on(l, '}', c == '#' || c == '%', &word, NULL) < 0) {
			if (lx_peek(l) == LX_EOF)
				lx_fail(l, "syntax error: missing '}'");
			goto out;
		}
		if (!v && l->skip_unset) {
			sb_addf(out, "${%s%s%s}", name.buf, mod, word.buf);
			r = 0;
			goto out;
		}
		int empty = !v || (colon && !*v);
		switch (c) {
		case '-':
			sb_adds(out, empty ? word.buf : v);
			break;
		case '+':
			if (!empty)
				sb_adds(out, word.buf);
			break;
		case '?':
			if (empty) {
				const char *m = word.len ? word.buf
						: !v	 ? "is not allowed to be unset"
							 : "is not allowed to be empty";
				lx_fail(l, "%s: %s", name.buf, m);
				goto out;
			}
			sb_adds(out, v);
			break;
		case '#':
		case '%': {
			const char *pat = word.buf;
			int greedy = pat[0] == c;
			if (greedy)
				pat++;
			if (trim_glob(l, out, v ? v : "", pat, c == '%', greedy) < 0) {
				lx_fail(l, "pattern matching on %s is too costly (more than %u MiB "
					   "examined)", name.buf, SPEC_MAX_GLOB_WORK >> 20);
				goto out;
			}
			break;
		}
		default:
			lx_fail(l, "unsupported modifier (%s) in substitution", mod);
			goto out;
		}
		r = 0;
		goto out;
	}
	if (c == '/') {
		int all = lx_peek(l) == '/';
		if (all)
			lx_next(l);
		if (lx_stop_on(l, '/', 1, &word, NULL) < 0) {
			if (lx_peek(l) == LX_EOF)
				lx_fail(l, "syntax error: missing '/' in ${}");
			goto out;
		}
		if (lx_stop_on(l, '}', 1, &word2, NULL) < 0) {
			if (lx_peek(l) == LX_EOF)
				lx_fail(l, "syntax error: missing '}'");
			goto out;
		}
		if (replace_glob(l, out, v ? v : "", word.buf, word2.buf, all) < 0) {
			lx_fail(l, "pattern matching on %s is too costly (more than %u MiB examined)",
				name.buf, SPEC_MAX_GLOB_WORK >> 20);
			goto out;
		}
		r = 0;
		goto out;
	}
	lx_fail(l, "unsupported modifier (%s) in substitution", mod);
out:
	if (r == 0 && out->len > SPEC_MAX_WORD)
		r = lx_too_long(l);
	sb_release(&name);
	sb_release(&word);
	sb_release(&word2);
	return r;
}

static int lx_stop_on(struct lex *l, int stop, int raw_escapes, struct sbuf *res, struct words *w)
{
	int saved = l->raw_escapes, r = 0;
	struct sbuf tmp = SBUF_INIT;
	l->raw_escapes = raw_escapes;
	int c;
	while ((c = lx_peek(l)) != LX_EOF) {
		if (stop != LX_EOF && c == stop) {
			lx_next(l);
			goto out;
		}
		if (c == '$' || (!l->skip_quotes && (c == '\'' || c == '"'))) {
			sb_reset(&tmp);
			r = c == '$'	? lx_dollar(l, &tmp)
			    : c == '\'' ? lx_single(l, &tmp)
					: lx_double(l, &tmp);
			if (r < 0)
				goto out;
			sb_add(res, tmp.buf, tmp.len);
			if (res->len > SPEC_MAX_WORD) {
				r = lx_too_long(l);
				goto out;
			}
			if (c == '$')
				w_string(w, tmp.buf, tmp.len);
			else
				w_raw_string(w, tmp.buf, tmp.len);
			continue;
		}
		c = lx_next(l);
		if (c == l->esc) {
			if (l->raw_escapes) {
				w_raw_char(w, c);
				sb_addc(res, (char)c);
			}
			c = lx_next(l);
			if (c == LX_EOF)
				break;
			w_raw_char(w, c);
		} else {
			w_char(w, c);
		}
		sb_addc(res, (char)c);
	}
	if (stop != LX_EOF)
		r = lx_fail(l, "unexpected end of statement while looking for matching %c", stop);
out:
	l->raw_escapes = saved;
	sb_release(&tmp);
	return r;
}

/* The whole of BuildKit's ProcessWord (split = 0: one string) and
 * ProcessWords (split = 1: fields). On error, l->msg holds the reason. */
static int lx_process(struct lex *l, const char *text, int split, struct strlist *out)
{
	struct sbuf res = SBUF_INIT;
	struct words w = {out, SBUF_INIT, 0};
	l->s = text;
	l->n = strlen(text);
	l->i = 0;
	int r = lx_stop_on(l, LX_EOF, l->raw_escapes, &res, split ? &w : NULL);
	if (r == 0) {
		if (!split)
			strlist_push(out, res.buf);
		else if (w.w.len)
			strlist_push(out, w.w.buf);
	}
	sb_release(&res);
	sb_release(&w.w);
	return r;
}

int spec_words(const char *text, char escape, spec_lookup_fn *lookup, void *ctx, int split,
	       struct strlist *out, struct err *e)
{
	struct lex l = {.esc = (unsigned char)escape, .lookup = lookup, .ctx = ctx};
	struct strlist tmp = STRLIST_INIT;
	if (lx_process(&l, text, split, &tmp) < 0) {
		char *q = quoted(text);
		err_set(e, CRUMB_EINVAL, "failed to process %s: %s", q, l.msg);
		free(q);
		strlist_release(&tmp);
		return CRUMB_EINVAL;
	}
	for (size_t i = 0; i < tmp.n; i++)
		strlist_push_owned(out, tmp.v[i]);
	free(tmp.v);
	return 0;
}

/* ---- heredoc markers ---- */

/* Splits a line like BuildKit's heredocsFromLine does (shell words, quotes
 * and escapes kept, '\\' as escape); offsets of each word in offs.
 * Returns -1 for an unterminated quote (then no heredocs, as in Docker). */
static int heredoc_words(const char *s, struct strlist *out, size_t **offs)
{
	size_t n = strlen(s), i = 0, k = 0, cap = 0;
	struct sbuf w = SBUF_INIT;
	*offs = NULL;
	while (i < n) {
		while (i < n && is_space((unsigned char)s[i]))
			i++;
		if (i >= n)
			break;
		size_t st = i;
		sb_reset(&w);
		while (i < n && !is_space((unsigned char)s[i])) {
			char c = s[i];
			if (c == '\\') {
				sb_add(&w, s + i, i + 1 < n ? 2 : 1);
				i += i + 1 < n ? 2 : 1;
			} else if (c == '\'' || c == '"') {
				size_t j = i + 1;
				while (j < n && s[j] != c) {
					if (c == '"' && s[j] == '\\' && j + 1 < n)
						j++;
					j++;
				}
				if (j >= n) {
					sb_release(&w);
					return -1;
				}
				sb_add(&w, s + i, j + 1 - i);
				i = j + 1;
			} else {
				sb_addc(&w, c);
				i++;
			}
		}
		strlist_push(out, w.buf);
		if (k == cap)
			*offs = xrealloc(*offs, (cap = cap ? cap * 2 : 8) * sizeof(size_t));
		(*offs)[k++] = st;
	}
	sb_release(&w);
	return 0;
}

/* BuildKit's ParseHeredoc: ^(\d*)<<(-?)([^<]*)$ with a non-empty word; 1 when
 * it is one, with its name (quotes removed) and whether the body expands. */
static int heredoc_marker(const char *word, char **name, int *expand, int *chomp)
{
	const char *p = word;
	while (isdigit((unsigned char)*p))
		p++;
	if (p[0] != '<' || p[1] != '<')
		return 0;
	p += 2;
	*chomp = *p == '-';
	if (*chomp)
		p++;
	if (!*p || strchr(p, '<'))
		return 0;
	struct lex l = {.esc = '\\', .skip_unset = 1};
	struct strlist plain = STRLIST_INIT, raw = STRLIST_INIT;
	int r = 0;
	if (lx_process(&l, p, 1, &plain) < 0 || plain.n != 1)
		goto out;
	l.raw_quotes = 1;
	if (lx_process(&l, p, 1, &raw) < 0 || raw.n != 1)
		goto out;
	size_t q1 = 0, q2 = 0;
	for (const char *c = plain.v[0]; *c; c++)
		q1 += *c == '\'' || *c == '"';
	for (const char *c = raw.v[0]; *c; c++)
		q2 += *c == '\'' || *c == '"';
	*expand = q1 == q2;
	*name = xstrdup(plain.v[0]);
	r = 1;
out:
	strlist_release(&plain);
	strlist_release(&raw);
	return r;
}

/* ---- instructions ---- */

static void instr_release(struct spec_instr *in)
{
	for (size_t i = 0; i < in->nflags; i++) {
		free(in->flags[i].name);
		free(in->flags[i].value);
	}
	free(in->flags);
	strlist_release(&in->json_args);
	free(in->rest);
	for (size_t i = 0; i < in->nheredocs; i++) {
		free(in->heredocs[i].name);
		free(in->heredocs[i].body);
	}
	free(in->heredocs);
	if (in->onbuild) {
		instr_release(in->onbuild);
		free(in->onbuild);
	}
	free(in->original);
	memset(in, 0, sizeof(*in));
}

static const struct spec_flag *find_flag(const struct spec_instr *in, const char *name)
{
	const struct spec_flag *f = NULL;
	for (size_t i = 0; i < in->nflags; i++)
		if (!strcmp(in->flags[i].name, name))
			f = &in->flags[i];
	return f;
}

/* a logical line: text and the file position of each byte (and one past) */
struct lline {
	const char *file;
	const char *s;
	const struct lpos *pos;
	size_t len;
};

static struct spec_pos at(const struct lline *ll, size_t off)
{
	struct spec_pos p = {ll->file, ll->pos[off].line, ll->pos[off].col};
	return p;
}

static int lerr(struct err *e, int code, const struct lline *ll, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int lerr(struct err *e, int code, const struct lline *ll, size_t off, const char *fmt, ...)
{
	struct sbuf sb = SBUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	sb_vaddf(&sb, fmt, ap);
	va_end(ap);
	perr(e, code, ll->file, ll->pos[off], "%s", sb.buf);
	sb_release(&sb);
	return code;
}

enum { F_STR, F_STRS, F_BOOL, F_UNSUPP };
struct flagdef {
	const char *name;
	int type;
};

static const struct flagdef no_flags[] = {{NULL, 0}};
static const struct flagdef from_flags[] = {{"platform", F_STR}, {NULL, 0}};
static const struct flagdef copy_flags[] = {
    {"from", F_STR},  {"chown", F_STR},	     {"chmod", F_STR},	    {"link", F_BOOL},
    {"deps", F_BOOL}, {"parents", F_UNSUPP}, {"exclude", F_UNSUPP}, {NULL, 0},
};
static const struct flagdef add_flags[] = {
    {"chown", F_STR},	      {"chmod", F_STR},	     {"link", F_BOOL},	   {"checksum", F_STR},
    {"keep-git-dir", F_BOOL}, {"exclude", F_UNSUPP}, {"unpack", F_UNSUPP}, {NULL, 0},
};
static const struct flagdef run_flags[] = {
    {"network", F_STR},	  {"mount", F_UNSUPP}, {"security", F_UNSUPP},
    {"device", F_UNSUPP}, {NULL, 0},
};
static const struct flagdef hc_flags[] = {
    {"interval", F_STR},       {"timeout", F_STR}, {"start-period", F_STR},
    {"start-interval", F_STR}, {"retries", F_STR}, {NULL, 0},
};

static const struct flagdef *flags_for(int kind)
{
	switch (kind) {
	case SPEC_FROM:
		return from_flags;
	case SPEC_COPY:
		return copy_flags;
	case SPEC_ADD:
		return add_flags;
	case SPEC_RUN:
		return run_flags;
	case SPEC_HEALTHCHECK:
		return hc_flags;
	default:
		return no_flags;
	}
}

/*
 * BuildKit's extractBuilderFlags: leading words starting with "--" (quotes
 * and backslashes processed) are flags; "--" alone ends them. Returns the
 * offset where the arguments start.
 */
static size_t extract_flags(const struct lline *ll, size_t from, struct spec_instr *in)
{
	const char *s = ll->s;
	size_t n = ll->len, start = 0, cap = 0;
	struct sbuf w = SBUF_INIT;
	int phase = 0, blank_ok = 0; /* 0 spaces, 1 word, 2 quote */
	char quote = 0;
	size_t pos;
	for (pos = from; pos <= n; pos++) {
		int c = pos < n ? (unsigned char)s[pos] : 0;
		if (phase == 0) {
			if (pos == n)
				break;
			if (is_space(c))
				continue;
			if (c != '-' || pos + 1 == n || s[pos + 1] != '-')
				break;
			phase = 1;
			start = pos;
		}
		int end_word = pos == n || (phase == 1 && is_space(c));
		if (end_word) {
			if (!strcmp(w.buf, "--") && phase == 1 && pos < n) {
				pos++;
				break;
			}
			if (strcmp(w.buf, "--") && (blank_ok || w.len)) {
				if (in->nflags == cap)
					in->flags = xrealloc(in->flags, (cap = cap ? cap * 2 : 4) *
									    sizeof(*in->flags));
				struct spec_flag *f = &in->flags[in->nflags++];
				const char *a = w.buf + 2, *eq = strchr(a, '=');
				f->name = eq ? xstrndup(a, (size_t)(eq - a)) : xstrdup(a);
				f->value = eq ? xstrdup(eq + 1) : NULL;
				f->pos = at(ll, start);
			}
			if (pos == n)
				break;
			phase = 0;
			sb_reset(&w);
			blank_ok = 0;
			continue;
		}
		if (phase == 1) {
			if (c == '\'' || c == '"') {
				quote = (char)c;
				blank_ok = 1;
				phase = 2;
				continue;
			}
			if (c == '\\') {
				if (pos + 1 == n)
					continue;
				c = (unsigned char)s[++pos];
			}
			sb_addc(&w, (char)c);
			continue;
		}
		if (c == quote) {
			phase = 1;
			continue;
		}
		if (c == '\\') {
			if (pos + 1 == n) {
				phase = 1;
				continue;
			}
			c = (unsigned char)s[++pos];
		}
		sb_addc(&w, (char)c);
	}
	sb_release(&w);
	return pos > n ? n : pos;
}

static int check_flags(struct spec_instr *in, struct err *e)
{
	const struct flagdef *defs = flags_for((int)in->kind);
	const char *kn = spec_kind_name(in->kind);
	for (size_t i = 0; i < in->nflags; i++) {
		struct spec_flag *f = &in->flags[i];
		const struct flagdef *d = defs;
		while (d->name && strcmp(d->name, f->name))
			d++;
		if (!d->name)
			return ierr(e, CRUMB_EINVAL, &f->pos, "unknown flag: %s", f->name);
		if (d->type == F_UNSUPP)
			return ierr(e, CRUMB_EUNSUPP, &f->pos, "%s --%s is not supported by crumb",
				    kn, f->name);
		for (size_t j = 0; j < i; j++)
			if (!strcmp(in->flags[j].name, f->name) && d->type != F_STRS)
				return ierr(e, CRUMB_EINVAL, &f->pos,
					    "duplicate flag specified: %s", f->name);
		if (d->type == F_BOOL) {
			if (f->value && !*f->value)
				return ierr(e, CRUMB_EINVAL, &f->pos, "missing a value on flag: %s",
					    f->name);
			if (f->value && strcasecmp(f->value, "true") &&
			    strcasecmp(f->value, "false"))
				return ierr(e, CRUMB_EINVAL, &f->pos,
					    "expecting boolean value for flag %s, not: %s", f->name,
					    f->value);
		} else if (!f->value) {
			return ierr(e, CRUMB_EINVAL, &f->pos, "missing a value on flag: %s",
				    f->name);
		}
	}
	return 0;
}

static int flag_bool(const struct spec_instr *in, const char *name)
{
	const struct spec_flag *f = find_flag(in, name);
	return f && (!f->value || !strcasecmp(f->value, "true"));
}

/* Go's time.ParseDuration, in nanoseconds (saturating); -1 if malformed. */
static int go_duration(const char *s, double *ns)
{
	static const struct {
		const char *u;
		double mul;
	} units[] = {{"ns", 1},	  {"us", 1e3}, {"\xc2\xb5s", 1e3}, {"\xce\xbcs", 1e3},
		     {"ms", 1e6}, {"s", 1e9},  {"m", 60e9},	   {"h", 3600e9}};
	int neg = 0;
	double total = 0;
	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	if (!strcmp(s, "0")) {
		*ns = 0;
		return 0;
	}
	if (!*s)
		return -1;
	while (*s) {
		const char *st = s;
		double v = 0, frac = 0, scale = 1;
		while (isdigit((unsigned char)*s))
			v = v * 10 + (*s++ - '0');
		int pre = s > st;
		int post = 0;
		if (*s == '.') {
			s++;
			while (isdigit((unsigned char)*s)) {
				frac = frac * 10 + (*s++ - '0');
				scale *= 10;
				post = 1;
			}
		}
		if (!pre && !post)
			return -1;
		size_t k, nu = sizeof(units) / sizeof(units[0]), best = 0, bestlen = 0;
		for (k = 0; k < nu; k++) {
			size_t ul = strlen(units[k].u);
			if (!strncmp(s, units[k].u, ul) && ul > bestlen) {
				best = k;
				bestlen = ul;
			}
		}
		if (!bestlen)
			return -1;
		s += bestlen;
		total += (v + frac / scale) * units[best].mul;
	}
	*ns = neg ? -total : total;
	return 0;
}

static int check_healthcheck(struct spec_instr *in, const struct lline *ll, size_t rest_off,
			     struct err *e)
{
	const char *r = in->rest;
	size_t sep = 0;
	while (r[sep] && !is_space((unsigned char)r[sep]))
		sep++;
	if (!sep)
		return ierr(e, CRUMB_EINVAL, &in->pos,
			    "HEALTHCHECK requires at least one argument");
	size_t next = sep;
	while (r[next] && is_space((unsigned char)r[next]))
		next++;
	char *typ = xstrndup(r, sep);
	for (char *p = typ; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	int rc = 0;
	if (!strcmp(typ, "NONE")) {
		if (r[next])
			rc = lerr(e, CRUMB_EINVAL, ll, rest_off + next,
				  "HEALTHCHECK NONE takes no arguments");
		else if (in->nflags)
			rc = ierr(e, CRUMB_EINVAL, &in->flags[0].pos,
				  "HEALTHCHECK NONE takes no flags");
		goto out;
	}
	if (strcmp(typ, "CMD")) {
		rc = lerr(e, CRUMB_EINVAL, ll, rest_off,
			  "Unknown type \"%s\" in HEALTHCHECK (try CMD)", typ);
		goto out;
	}
	int j = json_args(r + next, &in->json_args);
	if (j == JSON_NOT_STRINGS || j == JSON_NUL) {
		rc = lerr(e, CRUMB_EINVAL, ll, rest_off + next,
			  j == JSON_NUL ? "JSON argument contains a NUL character"
					: "when using JSON array syntax, arrays must be comprised "
					  "of strings only");
		goto out;
	}
	in->json = j == JSON_STRINGS;
	if (in->json ? !in->json_args.n : !r[next]) {
		rc = lerr(e, CRUMB_EINVAL, ll, rest_off, "Missing command after HEALTHCHECK CMD");
		goto out;
	}
	static const char *const durs[] = {"interval", "timeout", "start-period", "start-interval"};
	for (size_t k = 0; k < 4; k++) {
		const struct spec_flag *f = find_flag(in, durs[k]);
		double ns;
		if (!f || !*f->value)
			continue;
		if (go_duration(f->value, &ns) < 0) {
			rc = ierr(e, CRUMB_EINVAL, &f->pos, "time: invalid duration \"%s\"",
				  f->value);
			goto out;
		}
		if (ns != 0 && ns < 1e6) {
			rc = ierr(e, CRUMB_EINVAL, &f->pos,
				  "Interval \"%s\" cannot be less than 1ms", durs[k]);
			goto out;
		}
	}
	const struct spec_flag *f = find_flag(in, "retries");
	if (f && *f->value) {
		char *end;
		long long v = strtoll(f->value, &end, 10);
		if (*end || end == f->value || v > INT_MAX || v < INT_MIN) {
			rc = ierr(e, CRUMB_EINVAL, &f->pos,
				  "strconv.ParseInt: parsing \"%s\": invalid syntax", f->value);
			goto out;
		}
		if (v < 0) {
			rc = ierr(e, CRUMB_EINVAL, &f->pos, "--retries cannot be negative (%lld)",
				  v);
			goto out;
		}
	}
out:
	free(typ);
	return rc;
}

/* BuildKit's parseNameVal for ENV and LABEL: "K V" (old) or "K=V ..." */
static int name_val(const char *rest, char esc, const char *kn, struct spec_kv **kv, size_t *n,
		    char *errbuf, size_t errlen)
{
	struct strlist w = STRLIST_INIT;
	int rc = 0;
	*kv = NULL;
	*n = 0;
	raw_words(rest, esc, &w);
	if (!w.n) {
		snprintf(errbuf, errlen, "%s requires at least one argument", kn);
		rc = -1;
		goto out;
	}
	if (!strchr(w.v[0], '=')) {
		size_t k = 0;
		while (rest[k] && !is_ws((unsigned char)rest[k]))
			k++;
		size_t v = k;
		while (rest[v] && is_ws((unsigned char)rest[v]))
			v++;
		if (!rest[v]) {
			snprintf(errbuf, errlen, "%s must have two arguments", kn);
			rc = -1;
			goto out;
		}
		*kv = xcalloc(1, sizeof(**kv));
		(*kv)[0].key = xstrndup(rest, k);
		(*kv)[0].value = xstrdup(rest + v);
		*n = 1;
		goto out;
	}
	*kv = xcalloc(w.n, sizeof(**kv));
	for (size_t i = 0; i < w.n; i++) {
		char *eq = strchr(w.v[i], '=');
		if (!eq) {
			snprintf(errbuf, errlen,
				 "Syntax error - can't find = in \"%.200s\". Must be of the form: "
				 "name=value",
				 w.v[i]);
			rc = -1;
			goto out;
		}
		if (eq == w.v[i]) {
			snprintf(errbuf, errlen, "%s names can not be blank", kn);
			rc = -1;
			goto out;
		}
		(*kv)[i].key = xstrndup(w.v[i], (size_t)(eq - w.v[i]));
		(*kv)[i].value = xstrdup(eq + 1);
		*n = i + 1;
	}
out:
	strlist_release(&w);
	if (rc < 0) {
		for (size_t i = 0; i < *n; i++) {
			free((*kv)[i].key);
			free((*kv)[i].value);
		}
		free(*kv);
		*kv = NULL;
		*n = 0;
	}
	return rc;
}

static int valid_stage_name(const char *s)
{
	if (!(*s >= 'a' && *s <= 'z'))
		return 0;
	for (s++; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || isdigit((unsigned char)*s) || *s == '-' ||
		      *s == '_' || *s == '.'))
			return 0;
	return 1;
}

static int lookup_kind(const char *kw)
{
	for (int k = 0; k < NKINDS; k++)
		if (!strcasecmp(kw, kind_names[k]))
			return k;
	if (!strcasecmp(kw, "INCLUDE"))
		return KIND_INCLUDE;
	return -1;
}

/* A list-or-JSON argument (COPY, ADD, VOLUME) */
static int list_args(struct spec_instr *in, const struct lline *ll, size_t rest_off,
		     struct strlist *args, size_t **offs, struct err *e)
{
	int j = json_args(in->rest, &in->json_args);
	*offs = NULL;
	if (j == JSON_NOT_STRINGS)
		return lerr(
		    e, CRUMB_EINVAL, ll, rest_off,
		    "when using JSON array syntax, arrays must be comprised of strings only");
	if (j == JSON_NUL)
		return lerr(e, CRUMB_EINVAL, ll, rest_off,
			    "JSON argument contains a NUL character");
	in->json = j == JSON_STRINGS;
	if (in->json) {
		for (size_t i = 0; i < in->json_args.n; i++)
			strlist_push(args, in->json_args.v[i]);
		*offs = xcalloc(args->n + 1, sizeof(size_t));
	} else {
		split_ws(in->rest, args, offs);
	}
	return 0;
}

static int parse_instr(const struct lline *ll, size_t from, char esc, struct spec_instr *in,
		       int nested, struct err *e);

static int parse_kind_args(struct spec_instr *in, const struct lline *ll, size_t rest_off, char esc,
			   struct err *e)
{
	const char *kn = spec_kind_name(in->kind);
	const char *r = in->rest;
	struct strlist args = STRLIST_INIT;
	size_t *offs = NULL;
	int rc = 0;
	char msg[512];
	switch ((int)in->kind) {
	case SPEC_FROM:
		split_ws(r, &args, &offs);
		if (!(args.n == 1 || (args.n == 3 && !strcasecmp(args.v[1], "as")))) {
			rc = ierr(e, CRUMB_EINVAL, &in->pos,
				  "FROM requires either one or three arguments");
			break;
		}
		if (args.n == 3) {
			char *low = lower_dup(args.v[2]);
			if (!valid_stage_name(low))
				rc = lerr(
				    e, CRUMB_EINVAL, ll, rest_off + offs[2],
				    "invalid name for build stage: \"%s\", name can't start with "
				    "a number or contain symbols",
				    args.v[2]);
			free(low);
		}
		break;
	case SPEC_ARG:
		raw_words(r, esc, &args);
		if (!args.n)
			rc = ierr(e, CRUMB_EINVAL, &in->pos, "ARG requires at least one argument");
		for (size_t i = 0; !rc && i < args.n; i++)
			if (args.v[i][0] == '=')
				rc = lerr(e, CRUMB_EINVAL, ll, rest_off,
					  "ARG names can not be blank");
		break;
	case SPEC_ENV:
	case SPEC_LABEL: {
		struct spec_kv *kv;
		size_t n;
		if (name_val(r, esc, kn, &kv, &n, msg, sizeof(msg)) < 0) {
			rc = lerr(e, CRUMB_EINVAL, ll, *r ? rest_off : 0, "%s", msg);
			break;
		}
		for (size_t i = 0; i < n; i++) {
			free(kv[i].key);
			free(kv[i].value);
		}
		free(kv);
		break;
	}
	case SPEC_COPY:
	case SPEC_ADD:
		if ((rc = list_args(in, ll, rest_off, &args, &offs, e)) < 0)
			break;
		if (args.n < 2) {
			if (args.n == 1)
				rc = ierr(e, CRUMB_EINVAL, &in->pos,
					  "%s requires at least two arguments, but only one was "
					  "provided. Destination could not be determined",
					  kn);
			else
				rc = ierr(e, CRUMB_EINVAL, &in->pos,
					  "%s requires at least two arguments", kn);
			break;
		}
		if (!in->json) {
			char *name;
			int ex, ch;
			if (heredoc_marker(args.v[args.n - 1], &name, &ex, &ch)) {
				free(name);
				rc = lerr(e, CRUMB_EINVAL, ll, rest_off + offs[args.n - 1],
					  "%s cannot accept a heredoc as a destination", kn);
				break;
			}
		}
		if (in->kind == SPEC_COPY && flag_bool(in, "deps")) {
			const struct spec_flag *f = find_flag(in, "from");
			if (!f || strcmp(f->value, "host"))
				rc = ierr(e, CRUMB_EINVAL, &find_flag(in, "deps")->pos,
					  "COPY --deps is only valid with --from=host");
		}
		break;
	case SPEC_RUN:
	case SPEC_CMD:
	case SPEC_ENTRYPOINT:
	case SPEC_SHELL: {
		int j = json_args(r, &in->json_args);
		if (j == JSON_NOT_STRINGS || j == JSON_NUL) {
			rc = lerr(e, CRUMB_EINVAL, ll, rest_off,
				  j == JSON_NUL ? "JSON argument contains a NUL character"
						: "when using JSON array syntax, arrays must be "
						  "comprised of strings only");
			break;
		}
		in->json = j == JSON_STRINGS;
		if (in->kind == SPEC_SHELL) {
			if (!in->json && !*r)
				rc = ierr(e, CRUMB_EINVAL, &in->pos,
					  "SHELL requires at least one argument");
			else if (!in->json)
				rc = lerr(e, CRUMB_EINVAL, ll, rest_off,
					  "SHELL requires the arguments to be in JSON form");
			else if (!in->json_args.n)
				rc = lerr(e, CRUMB_EINVAL, ll, rest_off,
					  "SHELL requires at least one argument");
			break;
		}
		if (!in->json && !*r) {
			rc = ierr(e, CRUMB_EINVAL, &in->pos, "%s requires at least one argument",
				  kn);
			break;
		}
		if (in->kind == SPEC_RUN) {
			const struct spec_flag *f = find_flag(in, "network");
			if (f && strcmp(f->value, "default") && strcmp(f->value, "none") &&
			    strcmp(f->value, "host"))
				rc = ierr(e, CRUMB_EINVAL, &f->pos,
					  "unsupported network mode \"%s\" for RUN --network (want "
					  "default, none or host)",
					  f->value);
		}
		break;
	}
	case SPEC_WORKDIR:
	case SPEC_USER:
	case SPEC_STOPSIGNAL:
	case SPEC_MAINTAINER:
	case KIND_INCLUDE:
		if (!*r)
			rc =
			    ierr(e, CRUMB_EINVAL, &in->pos, "%s requires exactly one argument", kn);
		break;
	case SPEC_EXPOSE:
		if (!*r)
			rc = ierr(e, CRUMB_EINVAL, &in->pos,
				  "EXPOSE requires at least one argument");
		break;
	case SPEC_VOLUME:
		if ((rc = list_args(in, ll, rest_off, &args, &offs, e)) < 0)
			break;
		if (!args.n) {
			rc = ierr(e, CRUMB_EINVAL, &in->pos,
				  "VOLUME requires at least one argument");
			break;
		}
		for (size_t i = 0; i < args.n; i++) {
			size_t a = 0, b = strlen(args.v[i]);
			while (a < b && is_space((unsigned char)args.v[i][a]))
				a++;
			if (a == b) {
				rc = lerr(e, CRUMB_EINVAL, ll, rest_off,
					  "VOLUME specified can not be an empty string");
				break;
			}
		}
		break;
	case SPEC_HEALTHCHECK:
		rc = check_healthcheck(in, ll, rest_off, e);
		break;
	case SPEC_ONBUILD: {
		if (!*r) {
			rc = ierr(e, CRUMB_EINVAL, &in->pos,
				  "ONBUILD requires at least one argument");
			break;
		}
		in->onbuild = xcalloc(1, sizeof(*in->onbuild));
		if ((rc = parse_instr(ll, rest_off, esc, in->onbuild, 1, e)) < 0)
			break;
		int k = (int)in->onbuild->kind;
		if (k == SPEC_ONBUILD)
			rc = ierr(e, CRUMB_EINVAL, &in->onbuild->pos,
				  "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
		else if (k == SPEC_FROM || k == SPEC_MAINTAINER || k == KIND_INCLUDE)
			rc = ierr(e, CRUMB_EINVAL, &in->onbuild->pos,
				  "%s isn't allowed as an ONBUILD trigger", spec_kind_name(k));
		break;
	}
	}
	strlist_release(&args);
	free(offs);
	return rc;
}

/* One instruction from the logical line ll, starting at from. */
static int parse_instr(const struct lline *ll, size_t from, char esc, struct spec_instr *in,
		       int nested, struct err *e)
{
	const char *s = ll->s;
	size_t a = from, b = ll->len;
	while (a < b && is_space((unsigned char)s[a]))
		a++;
	while (b > a && is_space((unsigned char)s[b - 1]))
		b--;
	size_t k = a;
	while (k < b && !is_ws((unsigned char)s[k]))
		k++;
	char *kw = xstrndup(s + a, k - a);
	memset(in, 0, sizeof(*in));
	in->pos = at(ll, a);
	int kind = lookup_kind(kw);
	if (kind < 0) {
		int rc = ierr(e, CRUMB_EINVAL, &in->pos, "unknown instruction: %s", kw);
		free(kw);
		return rc;
	}
	free(kw);
	in->kind = (enum spec_kind)kind;
	in->original = xstrndup(s + a, b - a);
	(void)nested;

	/* flags, then the arguments (trimmed) */
	size_t r = k;
	while (r < b && is_ws((unsigned char)s[r]))
		r++;
	if (r < b) {
		struct lline sub = *ll;
		sub.len = b;
		r = extract_flags(&sub, r, in);
	}
	while (r < b && is_space((unsigned char)s[r]))
		r++;
	in->rest = xstrndup(s + r, r < b ? b - r : 0);
	in->rest_pos = at(ll, r < b ? r : k);
	int rc = check_flags(in, e);
	if (!rc)
		rc = parse_kind_args(in, ll, r < b ? r : k, esc, e);
	if (rc < 0)
		instr_release(in);
	return rc;
}

/* ---- files ---- */

struct pctx {
	struct spec *s;
	struct err *e;
	struct spec_instr *v;
	size_t n, alloc;
	char *stack[SPEC_MAX_INCLUDE_DEPTH + 2]; /* real paths of the files being read */
	int depth;
	const char *root; /* INCLUDE reads only below this (a real path) */
	struct strlist stage_names;
};

struct cursor {
	const char *buf;
	size_t len, off;
	int line; /* of the last line returned */
};

/* the next physical line: start and length without the newline */
static int next_line(struct cursor *c, const char **start, size_t *len)
{
	if (c->off >= c->len)
		return 0;
	const char *p = c->buf + c->off;
	const char *nl = memchr(p, '\n', c->len - c->off);
	size_t l = nl ? (size_t)(nl - p) : c->len - c->off;
	*start = p;
	*len = l;
	c->off += l + (nl ? 1 : 0);
	c->line++;
	return 1;
}

/* BuildKit's trimNewline: every trailing \r and \n */
static size_t trim_newline(const char *s, size_t n)
{
	while (n && (s[n - 1] == '\r' || s[n - 1] == '\n'))
		n--;
	return n;
}

static int is_comment(const char *s, size_t n)
{
	size_t i = 0;
	while (i < n && is_space((unsigned char)s[i]))
		i++;
	return i < n && s[i] == '#';
}

/* escape char + [ \t]* at the end: a continuation; returns the kept length or -1 */
static long continuation(const char *s, size_t n, char esc)
{
	size_t i = n;
	while (i && (s[i - 1] == ' ' || s[i - 1] == '\t'))
		i--;
	if (i && s[i - 1] == esc)
		return (long)(i - 1);
	return -1;
}

struct lbuild {
	struct sbuf text;
	struct lpos *pos;
	size_t npos, apos;
};

static void lb_add(struct lbuild *b, const char *s, size_t n, int line, int col)
{
	sb_add(&b->text, s, n);
	if (b->npos + n + 1 > b->apos) {
		b->apos = (b->npos + n + 1) * 2;
		b->pos = xrealloc(b->pos, b->apos * sizeof(*b->pos));
	}
	for (size_t i = 0; i < n; i++) {
		b->pos[b->npos].line = line;
		b->pos[b->npos].col = col + (int)i;
		b->npos++;
	}
	/* one past the end: where a missing argument would start */
	b->pos[b->npos].line = line;
	b->pos[b->npos].col = col + (int)n;
}

/* parser directives: # name=value at the top of the main file */
static int directive(struct pctx *p, const char *file, int line, const char *s, size_t n, int *done,
		     struct strlist *seen)
{
	size_t i = 0;
	if (!n || s[0] != '#') {
		*done = 1;
		return 0;
	}
	i = 1;
	while (i < n && is_space((unsigned char)s[i]))
		i++;
	size_t ns = i;
	if (i >= n || !isalpha((unsigned char)s[i])) {
		*done = 1;
		return 0;
	}
	while (i < n && isalnum((unsigned char)s[i]))
		i++;
	size_t ne = i;
	while (i < n && is_space((unsigned char)s[i]))
		i++;
	if (i >= n || s[i] != '=') {
		*done = 1;
		return 0;
	}
	i++;
	while (i < n && is_space((unsigned char)s[i]))
		i++;
	size_t vs = i, ve = n;
	while (ve > vs && is_space((unsigned char)s[ve - 1]))
		ve--;
	if (ve == vs) {
		*done = 1;
		return 0;
	}
	char *name = xstrndup(s + ns, ne - ns);
	for (char *c = name; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	struct lpos at_name = {line, (int)ns + 1}, at_val = {line, (int)vs + 1};
	int rc = 0;
	if (strcmp(name, "escape") && strcmp(name, "syntax") && strcmp(name, "check")) {
		*done = 1; /* unknown directives are comments, and end the directives */
		goto out;
	}
	if (strlist_has(seen, name)) {
		rc = perr(p->e, CRUMB_EINVAL, file, at_name,
			  "only one %s parser directive can be used", name);
		goto out;
	}
	strlist_push(seen, name);
	char *val = xstrndup(s + vs, ve - vs);
	if (!strcmp(name, "escape")) {
		if (strcmp(val, "\\") && strcmp(val, "`"))
			rc = perr(p->e, CRUMB_EINVAL, file, at_val,
				  "invalid ESCAPE '%s'. Must be ` or \\", val);
		else
			p->s->escape = val[0];
	} else if (!strcmp(name, "syntax")) {
		p->s->syntax = xstrdup(val);
	}
	free(val);
out:
	free(name);
	return rc;
}

static void push_instr(struct pctx *p, struct spec_instr *in)
{
	if (p->n == p->alloc)
		p->v = xrealloc(p->v, (p->alloc = p->alloc ? p->alloc * 2 : 16) * sizeof(*p->v));
	p->v[p->n++] = *in;
}

static const char *intern(struct spec *s, const char *path)
{
	for (size_t i = 0; i < s->files_.n; i++)
		if (!strcmp(s->files_.v[i], path))
			return s->files_.v[i];
	strlist_push(&s->files_, path);
	return s->files_.v[s->files_.n - 1];
}

static int parse_text(struct pctx *p, const char *file, const char *buf, size_t len, int top);

static int do_include(struct pctx *p, struct spec_instr *in)
{
	struct err *e = p->e;
	const char *path = in->rest;
	struct sbuf full = SBUF_INIT, data = SBUF_INIT;
	int rc;
	if (path[0] == '/') {
		rc = ierr(e, CRUMB_EUNSAFE, &in->rest_pos,
			  "INCLUDE %s: an absolute path reads outside the build context (use a path "
			  "relative to the including file)",
			  path);
		goto out;
	}
	const char *slash = strrchr(in->pos.file, '/');
	if (slash)
		sb_add(&full, in->pos.file, (size_t)(slash - in->pos.file) + 1);
	sb_adds(&full, path);
	char *inreal = realpath(full.buf, NULL);
	int outside = inreal && p->root && !confine_inside(inreal, p->root);
	if (outside)
		rc = ierr(e, CRUMB_EUNSAFE, &in->rest_pos,
			  "INCLUDE %s: resolves outside the build context", path);
	free(inreal);
	if (outside)
		goto out;
	if (p->depth >= SPEC_MAX_INCLUDE_DEPTH) {
		rc = ierr(e, CRUMB_EUNSAFE, &in->rest_pos,
			  "INCLUDE %s: nested too deeply (more than %d levels)", path,
			  SPEC_MAX_INCLUDE_DEPTH);
		goto out;
	}
	struct err fe;
	if ((rc = read_file(full.buf, SPEC_MAX_FILE, &data, &fe)) < 0) {
		rc = ierr(e, rc, &in->rest_pos, "INCLUDE %s", fe.msg);
		goto out;
	}
	char *real = realpath(full.buf, NULL);
	if (!real)
		real = xstrdup(full.buf);
	for (int i = 0; i <= p->depth; i++) {
		if (p->stack[i] && !strcmp(p->stack[i], real)) {
			rc = ierr(e, CRUMB_EUNSAFE, &in->rest_pos,
				  "INCLUDE %s: include cycle (%s is already being read)", path,
				  full.buf);
			free(real);
			goto out;
		}
	}
	p->stack[++p->depth] = real;
	rc = parse_text(p, intern(p->s, full.buf), data.buf, data.len, 0);
	free(real);
	p->stack[p->depth--] = NULL;
out:
	sb_release(&full);
	sb_release(&data);
	return rc;
}

static int parse_heredocs(struct pctx *p, const struct lline *ll, struct spec_instr *in,
			  struct cursor *cur)
{
	struct spec_instr *t = in->kind == SPEC_ONBUILD ? in->onbuild : in;
	if (!t || !(t->kind == SPEC_RUN || t->kind == SPEC_COPY || t->kind == SPEC_ADD) ||
	    t->json || !strstr(ll->s, "<<"))
		return 0;
	struct strlist words = STRLIST_INIT;
	size_t *offs = NULL;
	int rc = 0;
	if (heredoc_words(ll->s, &words, &offs) < 0)
		goto out;
	for (size_t w = 0; w < words.n; w++) {
		char *name;
		int expand, chomp;
		if (!heredoc_marker(words.v[w], &name, &expand, &chomp))
			continue;
		struct sbuf body = SBUF_INIT;
		const char *line;
		size_t n;
		int found = 0;
		while (next_line(cur, &line, &n)) {
			size_t tn = trim_newline(line, n);
			const char *tl = line;
			if (chomp)
				while (tn && *tl == '\t')
					tl++, tn--;
			if (tn == strlen(name) && !memcmp(tl, name, tn)) {
				found = 1;
				break;
			}
			sb_add(&body, line, n);
			sb_addc(&body, '\n');
		}
		if (!found) {
			rc = lerr(p->e, CRUMB_EFORMAT, ll, offs[w],
				  "unterminated heredoc: no line \"%s\" ends %s", name, words.v[w]);
			free(name);
			sb_release(&body);
			goto out;
		}
		if (chomp) {
			/* <<-: leading tabs go from every line */
			struct sbuf st = SBUF_INIT;
			int bol = 1;
			for (size_t i = 0; i < body.len; i++) {
				if (bol && body.buf[i] == '\t')
					continue;
				bol = body.buf[i] == '\n';
				sb_addc(&st, body.buf[i]);
			}
			sb_release(&body);
			body = st;
		}
		t->heredocs = xrealloc(t->heredocs, (t->nheredocs + 1) * sizeof(*t->heredocs));
		struct spec_heredoc *h = &t->heredocs[t->nheredocs++];
		h->name = name;
		h->body = sb_detach(&body);
		h->expand = expand;
		h->chomp = chomp;
	}
out:
	strlist_release(&words);
	free(offs);
	return rc;
}

static int parse_text(struct pctx *p, const char *file, const char *buf, size_t len, int top)
{
	struct cursor cur = {buf, len, 0, 0};
	struct lbuild lb = {SBUF_INIT, NULL, 0, 0};
	struct strlist seen = STRLIST_INIT;
	int done = !top, rc = 0;
	const char *line;
	size_t n;
	const char *nul = memchr(buf, 0, len);
	if (nul) {
		struct lpos at0 = {1, 1};
		for (const char *c = buf; c < nul; c++)
			if (*c == '\n')
				at0.line++, at0.col = 1;
			else
				at0.col++;
		return perr(p->e, CRUMB_EFORMAT, file, at0, "NUL byte in the file");
	}
	/* a UTF-8 byte order mark */
	if (len >= 3 && !memcmp(buf, "\xef\xbb\xbf", 3))
		cur.off = 3;
	while (next_line(&cur, &line, &n)) {
		n = trim_newline(line, n);
		size_t lead = 0;
		while (lead < n && is_space((unsigned char)line[lead]))
			lead++;
		if (!done &&
		    (rc = directive(p, file, cur.line, line + lead, n - lead, &done, &seen)) < 0)
			goto out;
		if (is_comment(line, n))
			continue;
		int col0 = (int)lead + 1;
		sb_reset(&lb.text);
		lb.npos = 0;
		long keep = continuation(line + lead, n - lead, p->s->escape);
		lb_add(&lb, line + lead, keep >= 0 ? (size_t)keep : n - lead, cur.line, col0);
		if (keep < 0 && lb.text.len == 0)
			continue;
		int end = keep < 0;
		while (!end && next_line(&cur, &line, &n)) {
			n = trim_newline(line, n);
			if (is_comment(line, n))
				continue;
			size_t k = 0;
			while (k < n && is_space((unsigned char)line[k]))
				k++;
			if (k == n)
				continue; /* an empty continuation line */
			keep = continuation(line, n, p->s->escape);
			end = keep < 0;
			lb_add(&lb, line, end ? n : (size_t)keep, cur.line, 1);
		}
		size_t nb = 0;
		while (nb < lb.text.len && is_space((unsigned char)lb.text.buf[nb]))
			nb++;
		if (nb == lb.text.len)
			continue; /* only continuations and comments */
		struct lline ll = {file, lb.text.buf, lb.pos, lb.text.len};
		struct spec_instr in;
		if ((rc = parse_instr(&ll, 0, p->s->escape, &in, 0, p->e)) < 0)
			goto out;
		if ((rc = parse_heredocs(p, &ll, &in, &cur)) < 0) {
			instr_release(&in);
			goto out;
		}
		size_t bad = to_config((int)in.kind) ? utf8_bad(ll.s, ll.len) : ll.len;
		if (bad < ll.len) {
			rc = lerr(p->e, CRUMB_EFORMAT, &ll, bad,
				  "%s: invalid UTF-8 (byte 0x%02x): the image config holds UTF-8 only",
				  spec_kind_name(in.kind), (unsigned char)ll.s[bad]);
			instr_release(&in);
			goto out;
		}
		if ((int)in.kind == KIND_INCLUDE) {
			rc = do_include(p, &in);
			instr_release(&in);
			if (rc < 0)
				goto out;
			continue;
		}
		if (in.kind == SPEC_FROM) {
			struct strlist a = STRLIST_INIT;
			size_t *offs;
			split_ws(in.rest, &a, &offs);
			if (a.n == 3) {
				char *low = lower_dup(a.v[2]);
				if (strlist_has(&p->stage_names, low)) {
					/* rest is the end of the trimmed line */
					size_t b = ll.len;
					while (b && is_space((unsigned char)ll.s[b - 1]))
						b--;
					size_t roff = b - strlen(in.rest);
					rc = lerr(p->e, CRUMB_EINVAL, &ll, roff + offs[2],
						  "duplicate stage name \"%s\"", low);
				}
				strlist_push_owned(&p->stage_names, low);
			}
			strlist_release(&a);
			free(offs);
			if (rc < 0) {
				instr_release(&in);
				goto out;
			}
		}
		push_instr(p, &in);
	}
out:
	sb_release(&lb.text);
	free(lb.pos);
	strlist_release(&seen);
	return rc;
}

void spec_free(struct spec *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nglobal_args; i++)
		instr_release(&s->global_args[i]);
	free(s->global_args);
	for (size_t i = 0; i < s->nstages; i++) {
		for (size_t j = 0; j < s->stages[i].ninstrs; j++)
			instr_release(&s->stages[i].instrs[j]);
		free(s->stages[i].instrs);
	}
	free(s->stages);
	free(s->syntax);
	strlist_release(&s->files_);
	free(s);
}

/* ARGs before the first FROM are global; everything else belongs to a stage. */
static int split_stages(struct pctx *p)
{
	struct spec *s = p->s;
	size_t i = 0;
	while (i < p->n && p->v[i].kind == SPEC_ARG)
		i++;
	if (i < p->n && p->v[i].kind != SPEC_FROM)
		return ierr(p->e, CRUMB_EINVAL, &p->v[i].pos,
			    "%s before the first FROM: no build stage in current context",
			    spec_kind_name(p->v[i].kind));
	if (!p->n) {
		struct lpos one = {1, 1};
		return perr(p->e, CRUMB_EFORMAT, s->files_.v[0], one, "file with no instructions");
	}
	if (i == p->n) {
		struct lpos one = {1, 1};
		return perr(p->e, CRUMB_EINVAL, s->files_.v[0], one,
			    "no FROM instruction: the file contains no stages to build");
	}
	if (i) {
		s->global_args = xcalloc(i, sizeof(*s->global_args));
		memcpy(s->global_args, p->v, i * sizeof(*p->v));
		s->nglobal_args = i;
	}
	while (i < p->n) {
		size_t j = i + 1;
		while (j < p->n && p->v[j].kind != SPEC_FROM)
			j++;
		s->stages = xrealloc(s->stages, (s->nstages + 1) * sizeof(*s->stages));
		struct spec_stage *st = &s->stages[s->nstages++];
		st->ninstrs = j - i;
		st->instrs = xcalloc(st->ninstrs, sizeof(*st->instrs));
		memcpy(st->instrs, p->v + i, st->ninstrs * sizeof(*p->v));
		st->from = &st->instrs[0];
		i = j;
	}
	p->n = 0;
	return 0;
}

static int parse_buf_in(const char *name, const char *root, const char *buf, size_t len,
			struct spec **out, struct err *e)
{
	struct spec *s = xcalloc(1, sizeof(*s));
	struct pctx p = {.s = s, .e = e};
	/* INCLUDE's root: as given, else the top file's directory (as written when it does not exist) */
	const char *slash = strrchr(name, '/');
	char *dir = root ? xstrdup(root) : slash ? xstrndup(name, (size_t)(slash - name) + 1)
						  : xstrdup(".");
	char *rroot = realpath(dir, NULL);
	p.root = rroot ? rroot : dir;
	s->escape = '\\';
	const char *file = intern(s, name);
	p.stack[0] = realpath(name, NULL);
	if (!p.stack[0])
		p.stack[0] = xstrdup(name);
	int rc = parse_text(&p, file, buf, len, 1);
	if (!rc)
		rc = split_stages(&p);
	for (size_t i = 0; i < p.n; i++)
		instr_release(&p.v[i]);
	free(p.v);
	free(p.stack[0]);
	free(rroot);
	free(dir);
	strlist_release(&p.stage_names);
	if (rc < 0) {
		spec_free(s);
		*out = NULL;
		return rc;
	}
	*out = s;
	return 0;
}

int spec_parse_buf(const char *name, const char *buf, size_t len, struct spec **out, struct err *e)
{
	return parse_buf_in(name, NULL, buf, len, out, e);
}

int spec_parse_file_in(const char *path, const char *root, struct spec **out, struct err *e)
{
	struct sbuf data = SBUF_INIT;
	int rc = read_file(path, SPEC_MAX_FILE, &data, e);
	if (rc < 0) {
		*out = NULL;
		return rc;
	}
	rc = parse_buf_in(path, root, data.buf, data.len, out, e);
	sb_release(&data);
	return rc;
}

int spec_parse_file(const char *path, struct spec **out, struct err *e)
{
	return spec_parse_file_in(path, NULL, out, e);
}

/* ---- evaluation ---- */

void spec_eval_init(struct spec_eval *v)
{
	memset(v, 0, sizeof(*v));
	v->retries = -1;
}

static void free_kv(struct spec_kv *kv, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(kv[i].key);
		free(kv[i].value);
	}
	free(kv);
}

void spec_eval_release(struct spec_eval *v)
{
	free(v->image);
	free(v->as);
	free(v->platform);
	free_kv(v->kv, v->nkv);
	strlist_release(&v->src);
	free(v->dest);
	free_kv(v->heredoc_src, v->nheredoc_src);
	free(v->from);
	free(v->chown);
	free(v->chmod);
	free(v->checksum);
	strlist_release(&v->argv);
	free_kv(v->run_heredocs, v->nrun_heredocs);
	free(v->network);
	free(v->value);
	free(v->ports);
	free(v->interval);
	free(v->timeout);
	free(v->start_period);
	free(v->start_interval);
	spec_eval_init(v);
}

struct ectx {
	const struct spec *s;
	const struct spec_instr *in;
	spec_lookup_fn *lookup;
	void *ctx;
	struct err *e;
};

/* ProcessWord (split = 0) or ProcessWords on text; errors at p */
static int ev_words(struct ectx *x, const char *text, const struct spec_pos *p, int split,
		    struct strlist *out)
{
	struct err we;
	if (spec_words(text, x->s->escape, x->lookup, x->ctx, split, out, &we) < 0)
		return ierr(x->e, CRUMB_EINVAL, p, "%s", we.msg);
	return 0;
}

static int ev_word(struct ectx *x, const char *text, const struct spec_pos *p, char **out)
{
	struct strlist l = STRLIST_INIT;
	int rc = ev_words(x, text, p, 0, &l);
	*out = rc ? NULL : l.v[0];
	if (!rc)
		l.v[0] = NULL;
	strlist_release(&l);
	return rc;
}

static int ev_flag(struct ectx *x, const char *name, char **out)
{
	const struct spec_flag *f = find_flag(x->in, name);
	if (!f)
		return 0;
	return ev_word(x, f->value ? f->value : "", &f->pos, out);
}

static void kv_push(struct spec_kv **kv, size_t *n, char *k, char *v)
{
	*kv = xrealloc(*kv, (*n + 1) * sizeof(**kv));
	(*kv)[*n].key = k;
	(*kv)[*n].value = v;
	(*n)++;
}

static int ev_kvs(struct ectx *x, struct spec_eval *v)
{
	const struct spec_instr *in = x->in;
	struct spec_kv *kv;
	size_t n;
	char msg[512];
	int rc = 0;
	if (name_val(in->rest, x->s->escape, spec_kind_name(in->kind), &kv, &n, msg, sizeof(msg)) <
	    0)
		return ierr(x->e, CRUMB_EINVAL, &in->rest_pos, "%s", msg);
	for (size_t i = 0; i < n && !rc; i++) {
		char *k = NULL, *val = NULL;
		if ((rc = ev_word(x, kv[i].key, &in->rest_pos, &k)) < 0)
			break;
		if ((rc = ev_word(x, kv[i].value, &in->rest_pos, &val)) < 0) {
			free(k);
			break;
		}
		kv_push(&v->kv, &v->nkv, k, val);
	}
	free_kv(kv, n);
	return rc;
}

/* ARG pairs are evaluated in order (BuildKit's dispatchArg): a default sees
 * the pairs before it in the same instruction. */
struct seq {
	spec_lookup_fn *lookup;
	void *ctx;
	const struct spec_eval *v;
};

static const char *seq_get(void *ctx, const char *name)
{
	const struct seq *q = ctx;
	for (size_t i = q->v->nkv; i-- > 0;)
		if (q->v->kv[i].value && !strcmp(q->v->kv[i].key, name))
			return q->v->kv[i].value;
	return q->lookup ? q->lookup(q->ctx, name) : NULL;
}

int spec_arg_pairs(const struct spec *s, const struct spec_instr *in, struct spec_kv **kv,
		   size_t *n, struct err *e)
{
	struct strlist w = STRLIST_INIT;
	*kv = NULL;
	*n = 0;
	if (in->kind != SPEC_ARG)
		return ierr(e, CRUMB_EINVAL, &in->pos, "%s is not ARG", spec_kind_name(in->kind));
	raw_words(in->rest, s->escape, &w);
	for (size_t i = 0; i < w.n; i++) {
		char *eq = strchr(w.v[i], '=');
		kv_push(kv, n, eq ? xstrndup(w.v[i], (size_t)(eq - w.v[i])) : xstrdup(w.v[i]),
			eq ? xstrdup(eq + 1) : NULL);
	}
	strlist_release(&w);
	return 0;
}

static int ev_args(struct ectx *x, struct spec_eval *v)
{
	struct spec_kv *kv;
	size_t n;
	int rc = spec_arg_pairs(x->s, x->in, &kv, &n, x->e);
	struct seq q = {x->lookup, x->ctx, v};
	struct ectx sx = *x;
	sx.lookup = seq_get;
	sx.ctx = &q;
	for (size_t i = 0; i < n && !rc; i++) {
		char *val = NULL;
		if (kv[i].value && (rc = ev_word(&sx, kv[i].value, &x->in->rest_pos, &val)) < 0)
			break;
		kv_push(&v->kv, &v->nkv, xstrdup(kv[i].key), val);
	}
	free_kv(kv, n);
	return rc;
}

/* COPY heredoc bodies: BuildKit's ExpandRaw (quotes kept, escapes applied) */
static int ev_body(struct ectx *x, const struct spec_heredoc *h, char **out)
{
	if (!h->expand) {
		*out = xstrdup(h->body);
		return 0;
	}
	struct lex l = {.esc = (unsigned char)x->s->escape,
			.lookup = x->lookup,
			.ctx = x->ctx,
			.skip_quotes = 1};
	struct strlist r = STRLIST_INIT;
	if (lx_process(&l, h->body, 0, &r) < 0) {
		char *q = quoted(h->body);
		int rc = ierr(x->e, CRUMB_EINVAL, &x->in->pos,
			      "heredoc %s: failed to process %s: %s", h->name, q, l.msg);
		free(q);
		return rc;
	}
	*out = r.v[0];
	r.v[0] = NULL;
	strlist_release(&r);
	return 0;
}

static int valid_octal_mode(const char *m)
{
	if (!*m || strlen(m) > 5)
		return 0;
	unsigned long v = 0;
	for (const char *c = m; *c; c++) {
		if (*c < '0' || *c > '7')
			return 0;
		v = v * 8 + (unsigned long)(*c - '0');
	}
	return v <= 07777;
}

static int ev_copy(struct ectx *x, struct spec_eval *v)
{
	const struct spec_instr *in = x->in;
	struct strlist args = STRLIST_INIT;
	int rc = 0;
	if (in->json)
		for (size_t i = 0; i < in->json_args.n; i++)
			strlist_push(&args, in->json_args.v[i]);
	else
		split_ws(in->rest, &args, NULL);
	if (args.n < 2) {
		rc = ierr(x->e, CRUMB_EINVAL, &in->pos, "%s requires at least two arguments",
			  spec_kind_name(in->kind));
		goto out;
	}
	for (size_t i = 0; i + 1 < args.n; i++) {
		char *name, *body = NULL;
		int ex, ch;
		if (!in->json && heredoc_marker(args.v[i], &name, &ex, &ch)) {
			const struct spec_heredoc *h = NULL;
			for (size_t k = 0; k < in->nheredocs; k++)
				if (!strcmp(in->heredocs[k].name, name))
					h = &in->heredocs[k];
			if (!h) {
				/* a marker the line scan did not see (inside quotes) */
				kv_push(&v->heredoc_src, &v->nheredoc_src, name, xstrdup(""));
				continue;
			}
			if ((rc = ev_body(x, h, &body)) < 0) {
				free(name);
				goto out;
			}
			kv_push(&v->heredoc_src, &v->nheredoc_src, name, body);
			continue;
		}
		char *w;
		if ((rc = ev_word(x, args.v[i], &in->rest_pos, &w)) < 0)
			goto out;
		strlist_push_owned(&v->src, w);
	}
	if ((rc = ev_word(x, args.v[args.n - 1], &in->rest_pos, &v->dest)) < 0)
		goto out;
	if ((rc = ev_flag(x, "chown", &v->chown)) < 0 || (rc = ev_flag(x, "chmod", &v->chmod)) < 0)
		goto out;
	if (v->chmod && !valid_octal_mode(v->chmod)) {
		rc = ierr(x->e, CRUMB_EINVAL, &find_flag(in, "chmod")->pos,
			  "invalid --chmod=%s: crumb takes an octal mode up to 7777", v->chmod);
		goto out;
	}
	v->link = flag_bool(in, "link");
	if (in->kind == SPEC_COPY) {
		if ((rc = ev_flag(x, "from", &v->from)) < 0)
			goto out;
		v->deps = flag_bool(in, "deps");
		if (v->deps && (!v->from || strcmp(v->from, "host"))) {
			rc = ierr(x->e, CRUMB_EINVAL, &find_flag(in, "deps")->pos,
				  "COPY --deps is only valid with --from=host");
			goto out;
		}
	} else {
		if ((rc = ev_flag(x, "checksum", &v->checksum)) < 0)
			goto out;
		v->keep_git_dir = flag_bool(in, "keep-git-dir");
	}
out:
	strlist_release(&args);
	return rc;
}

static int parse_port(const char *w, struct spec_port *p, char *msg, size_t ml)
{
	const char *slash = strchr(w, '/');
	char *num = slash ? xstrndup(w, (size_t)(slash - w)) : xstrdup(w);
	int rc = -1;
	p->udp = 0;
	if (slash) {
		if (!strcasecmp(slash + 1, "udp"))
			p->udp = 1;
		else if (!strcasecmp(slash + 1, "sctp")) {
			snprintf(msg, ml, "EXPOSE %.100s: sctp ports are not supported by crumb",
				 w);
			goto out;
		} else if (strcasecmp(slash + 1, "tcp")) {
			snprintf(msg, ml, "invalid proto: %.100s", slash + 1);
			goto out;
		}
	}
	unsigned long a, b;
	char *end;
	const char *dash = strchr(num, '-');
	if (!isdigit((unsigned char)num[0]))
		goto bad;
	a = strtoul(num, &end, 10);
	if (dash) {
		if (end != dash || !isdigit((unsigned char)dash[1]))
			goto bad;
		b = strtoul(dash + 1, &end, 10);
	} else {
		b = a;
	}
	if (*end || a < 1 || a > 65535 || b < 1 || b > 65535)
		goto bad;
	if (b < a) {
		snprintf(msg, ml, "invalid range specified for container port: %.100s", num);
		goto out;
	}
	p->port = (unsigned)a;
	p->port_end = (unsigned)b;
	rc = 0;
	goto out;
bad:
	snprintf(msg, ml, "invalid containerPort: %.100s", num);
out:
	free(num);
	return rc;
}

/* A substituted value can bring invalid UTF-8 in (a --build-arg, a base image's ENV). */
static int eval_utf8(const struct spec_instr *in, const struct spec_eval *v, struct err *e)
{
	const char *what = NULL, *bad = NULL;
	for (size_t i = 0; !bad && i < v->nkv; i++) {
		const char *k = v->kv[i].key, *val = v->kv[i].value;
		if (utf8_bad(k, strlen(k)) < strlen(k))
			bad = k, what = "name";
		else if (val && utf8_bad(val, strlen(val)) < strlen(val))
			bad = k, what = "value";
	}
	if (!bad && v->value && utf8_bad(v->value, strlen(v->value)) < strlen(v->value))
		bad = "", what = "value";
	for (size_t i = 0; !bad && i < v->src.n; i++)
		if (utf8_bad(v->src.v[i], strlen(v->src.v[i])) < strlen(v->src.v[i]))
			bad = "", what = "path";
	if (!bad)
		return 0;
	char *q = quoted(bad);
	int rc = ierr(e, CRUMB_EFORMAT, &in->rest_pos,
		      "%s%s%s: the %s is not valid UTF-8 after substitution (the image config holds "
		      "UTF-8 only)",
		      spec_kind_name(in->kind), *bad ? " " : "", *bad ? q : "", what);
	free(q);
	return rc;
}

int spec_eval(const struct spec *s, const struct spec_instr *in, spec_lookup_fn *lookup, void *ctx,
	      struct spec_eval *v, struct err *e)
{
	struct ectx x = {s, in, lookup, ctx, e};
	struct strlist args = STRLIST_INIT;
	int rc = 0;
	spec_eval_init(v);
	v->kind = in->kind;
	switch (in->kind) {
	case SPEC_FROM:
		split_ws(in->rest, &args, NULL);
		if (!args.n) {
			rc = ierr(e, CRUMB_EINVAL, &in->pos,
				  "FROM requires either one or three arguments");
			break;
		}
		if ((rc = ev_word(&x, args.v[0], &in->rest_pos, &v->image)) < 0)
			break;
		if (!*v->image) {
			rc = ierr(e, CRUMB_EINVAL, &in->rest_pos,
				  "base name (%s) should not be blank", args.v[0]);
			break;
		}
		if (args.n == 3)
			v->as = lower_dup(args.v[2]);
		rc = ev_flag(&x, "platform", &v->platform);
		break;
	case SPEC_ARG:
		rc = ev_args(&x, v);
		break;
	case SPEC_ENV:
	case SPEC_LABEL:
		rc = ev_kvs(&x, v);
		break;
	case SPEC_COPY:
	case SPEC_ADD:
		rc = ev_copy(&x, v);
		break;
	case SPEC_RUN:
	case SPEC_CMD:
	case SPEC_ENTRYPOINT:
	case SPEC_SHELL:
		v->json = in->json;
		if (in->json)
			for (size_t i = 0; i < in->json_args.n; i++)
				strlist_push(&v->argv, in->json_args.v[i]);
		else
			strlist_push(&v->argv, in->rest);
		for (size_t i = 0; i < in->nheredocs; i++)
			kv_push(&v->run_heredocs, &v->nrun_heredocs, xstrdup(in->heredocs[i].name),
				xstrdup(in->heredocs[i].body));
		if (in->kind == SPEC_RUN) {
			const struct spec_flag *f = find_flag(in, "network");
			if (f)
				v->network = xstrdup(f->value);
		}
		break;
	case SPEC_WORKDIR:
	case SPEC_USER:
	case SPEC_STOPSIGNAL:
		rc = ev_word(&x, in->rest, &in->rest_pos, &v->value);
		if (rc == 0 && in->kind == SPEC_USER && !*v->value)
			rc = ierr(e, CRUMB_EINVAL, &in->pos,
				  "USER %s: the user is empty (an unset variable?)", in->rest);
		break;
	case SPEC_MAINTAINER:
		v->value = xstrdup(in->rest); /* Docker never substitutes in MAINTAINER */
		break;
	case SPEC_ONBUILD: {
		/* the trigger as BuildKit records it: heredocs follow with their ends */
		struct sbuf t = SBUF_INIT;
		const struct spec_instr *o = in->onbuild;
		sb_adds(&t, o ? o->original : in->rest);
		for (size_t i = 0; o && i < o->nheredocs; i++)
			sb_addf(&t, "\n%s%s", o->heredocs[i].body, o->heredocs[i].name);
		v->value = sb_detach(&t);
		break;
	}
	case SPEC_EXPOSE: {
		struct strlist raw = STRLIST_INIT;
		split_ws(in->rest, &raw, NULL);
		for (size_t i = 0; i < raw.n && !rc; i++)
			rc = ev_words(&x, raw.v[i], &in->rest_pos, 1, &args);
		strlist_release(&raw);
		for (size_t i = 0; i < args.n && !rc; i++) {
			struct spec_port p;
			char msg[256];
			if (parse_port(args.v[i], &p, msg, sizeof(msg)) < 0) {
				rc = ierr(e, CRUMB_EINVAL, &in->rest_pos, "%s", msg);
				break;
			}
			v->ports = xrealloc(v->ports, (v->nports + 1) * sizeof(*v->ports));
			v->ports[v->nports++] = p;
		}
		break;
	}
	case SPEC_VOLUME:
		if (in->json)
			for (size_t i = 0; i < in->json_args.n; i++)
				strlist_push(&args, in->json_args.v[i]);
		else
			split_ws(in->rest, &args, NULL);
		for (size_t i = 0; i < args.n && !rc; i++) {
			char *w;
			if ((rc = ev_word(&x, args.v[i], &in->rest_pos, &w)) == 0)
				strlist_push_owned(&v->src, w);
		}
		break;
	case SPEC_HEALTHCHECK: {
		const char *r = in->rest;
		size_t k = 0;
		while (r[k] && !is_space((unsigned char)r[k]))
			k++;
		if (k == 4 && !strncasecmp(r, "NONE", 4)) {
			v->none = 1;
			break;
		}
		while (r[k] && is_space((unsigned char)r[k]))
			k++;
		v->json = in->json;
		if (in->json)
			for (size_t i = 0; i < in->json_args.n; i++)
				strlist_push(&v->argv, in->json_args.v[i]);
		else
			strlist_push(&v->argv, r + k);
		static const char *const names[] = {"interval", "timeout", "start-period",
						    "start-interval"};
		char **dst[] = {&v->interval, &v->timeout, &v->start_period, &v->start_interval};
		for (size_t i = 0; i < 4; i++) {
			const struct spec_flag *f = find_flag(in, names[i]);
			if (f && *f->value)
				*dst[i] = xstrdup(f->value);
		}
		const struct spec_flag *f = find_flag(in, "retries");
		if (f && *f->value)
			v->retries = atoi(f->value);
		break;
	}
	}
	strlist_release(&args);
	if (rc == 0 && to_config(in->kind))
		rc = eval_utf8(in, v, e);
	if (rc < 0)
		spec_eval_release(v);
	return rc;
}

/* ---- dumps ---- */

static void dump_flags(struct sbuf *out, const struct spec_instr *in)
{
	for (size_t i = 0; i < in->nflags; i++) {
		sb_addf(out, " --%s", in->flags[i].name);
		if (in->flags[i].value) {
			sb_addc(out, '=');
			add_quoted(out, in->flags[i].value);
		}
	}
}

static void dump_list(struct sbuf *out, const struct strlist *l)
{
	sb_addc(out, '[');
	for (size_t i = 0; i < l->n; i++) {
		if (i)
			sb_addc(out, ',');
		add_quoted(out, l->v[i]);
	}
	sb_addc(out, ']');
}

static void dump_pos(struct sbuf *out, const struct spec *s, const struct spec_pos *p)
{
	const char *main = s->files_.v[0];
	if (p->file != main && strcmp(p->file, main)) {
		/* included files relative to the main file's directory */
		const char *slash = strrchr(main, '/');
		size_t dl = slash ? (size_t)(slash - main) + 1 : 0;
		const char *f = p->file;
		if (dl && !strncmp(f, main, dl))
			f += dl;
		sb_addf(out, "%s:", f);
	}
	sb_addf(out, "%d:%d", p->line, p->col);
}

static void dump_instr(struct sbuf *out, const struct spec *s, const struct spec_instr *in)
{
	dump_pos(out, s, &in->pos);
	sb_addf(out, " %s", spec_kind_name(in->kind));
	dump_flags(out, in);
	if (in->json) {
		sb_adds(out, in->kind == SPEC_HEALTHCHECK ? " CMD json" : " json");
		dump_list(out, &in->json_args);
	} else if (in->kind != SPEC_ONBUILD) {
		sb_adds(out, " @");
		dump_pos(out, s, &in->rest_pos);
		sb_addc(out, ' ');
		add_quoted(out, in->rest);
	}
	for (size_t i = 0; i < in->nheredocs; i++) {
		const struct spec_heredoc *h = &in->heredocs[i];
		sb_addf(out, " <<%s%s%s%s=", h->chomp ? "-" : "", h->expand ? "" : "'", h->name,
			h->expand ? "" : "'");
		add_quoted(out, h->body);
	}
	if (in->onbuild) {
		sb_adds(out, " { ");
		dump_instr(out, s, in->onbuild);
		sb_adds(out, " }");
	}
}

void spec_dump(const struct spec *s, struct sbuf *out)
{
	sb_addf(out, "escape %c\n", s->escape);
	if (s->syntax) {
		sb_adds(out, "syntax ");
		add_quoted(out, s->syntax);
		sb_addc(out, '\n');
	}
	for (size_t i = 0; i < s->nglobal_args; i++) {
		sb_adds(out, "global ");
		dump_instr(out, s, &s->global_args[i]);
		sb_addc(out, '\n');
	}
	for (size_t i = 0; i < s->nstages; i++) {
		sb_addf(out, "stage %zu\n", i);
		for (size_t j = 0; j < s->stages[i].ninstrs; j++) {
			sb_adds(out, "  ");
			dump_instr(out, s, &s->stages[i].instrs[j]);
			sb_addc(out, '\n');
		}
	}
}

static void dump_opt(struct sbuf *out, const char *name, const char *v)
{
	if (!v)
		return;
	sb_addf(out, " %s=", name);
	add_quoted(out, v);
}

static void dump_kvs(struct sbuf *out, const char *name, const struct spec_kv *kv, size_t n)
{
	if (!n)
		return;
	sb_addf(out, " %s=[", name);
	for (size_t i = 0; i < n; i++) {
		if (i)
			sb_addc(out, ',');
		add_quoted(out, kv[i].key);
		if (kv[i].value) {
			sb_addc(out, '=');
			add_quoted(out, kv[i].value);
		}
	}
	sb_addc(out, ']');
}

void spec_eval_dump(const struct spec_eval *v, struct sbuf *out)
{
	sb_adds(out, spec_kind_name(v->kind));
	dump_opt(out, "image", v->image);
	dump_opt(out, "as", v->as);
	dump_opt(out, "platform", v->platform);
	dump_kvs(out, "kv", v->kv, v->nkv);
	if (v->src.n) {
		sb_adds(out, v->kind == SPEC_VOLUME ? " paths=" : " src=");
		dump_list(out, &v->src);
	}
	dump_kvs(out, "heredoc_src", v->heredoc_src, v->nheredoc_src);
	dump_opt(out, "dest", v->dest);
	dump_opt(out, "from", v->from);
	dump_opt(out, "chown", v->chown);
	dump_opt(out, "chmod", v->chmod);
	if (v->link)
		sb_adds(out, " link");
	if (v->deps)
		sb_adds(out, " deps");
	dump_opt(out, "checksum", v->checksum);
	if (v->keep_git_dir)
		sb_adds(out, " keep_git_dir");
	if (v->argv.n) {
		if (v->json) {
			sb_adds(out, " exec=");
			dump_list(out, &v->argv);
		} else {
			dump_opt(out, "shell", v->argv.v[0]);
		}
	} else if (v->json) {
		sb_adds(out, " exec=[]");
	}
	dump_kvs(out, "heredocs", v->run_heredocs, v->nrun_heredocs);
	dump_opt(out, "network", v->network);
	dump_opt(out, "value", v->value);
	if (v->nports) {
		sb_adds(out, " ports=[");
		for (size_t i = 0; i < v->nports; i++) {
			const struct spec_port *p = &v->ports[i];
			sb_addf(out, "%s%u", i ? "," : "", p->port);
			if (p->port_end != p->port)
				sb_addf(out, "-%u", p->port_end);
			sb_adds(out, p->udp ? "/udp" : "/tcp");
		}
		sb_addc(out, ']');
	}
	if (v->none)
		sb_adds(out, " none");
	dump_opt(out, "interval", v->interval);
	dump_opt(out, "timeout", v->timeout);
	dump_opt(out, "start_period", v->start_period);
	dump_opt(out, "start_interval", v->start_interval);
	if (v->retries >= 0)
		sb_addf(out, " retries=%d", v->retries);
}

/* spec_lex.c: shell words as BuildKit's lexer makes them: quotes, escapes, $VAR and ${VAR...}
 * substitution, and the plain splitting of instruction arguments. */
#include <ctype.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec_int.h"

/* the end of the word at i: blanks end it */
static size_t ws_end(const char *s, size_t n, size_t i)
{
	while (i < n && !spec_isws((unsigned char)s[i]))
		i++;
	return i;
}

/* the end of the shell word at i: '\\' takes the next byte along, a quote
 * runs to its match ("..." with \" inside); n + 1 when a quote never closes */
static size_t shell_end(const char *s, size_t n, size_t i)
{
	while (i < n && !spec_isspace((unsigned char)s[i])) {
		char c = s[i];
		if (c == '\\') {
			i += i + 1 < n ? 2 : 1;
			continue;
		}
		if (c == '\'' || c == '"') {
			size_t j = i + 1;
			while (j < n && s[j] != c)
				j += c == '"' && s[j] == '\\' && j + 1 < n ? 2 : 1;
			if (j >= n)
				return n + 1;
			i = j;
		}
		i++;
	}
	return i;
}

/* the words of s between runs of blank bytes, each as end() sees it */
static int split_by(const char *s, int (*blank)(int), size_t (*end)(const char *, size_t, size_t),
		    struct strlist *out, size_t **offs)
{
	size_t i = 0, n = strlen(s), cap = 0, k = 0;
	if (offs)
		*offs = NULL;
	for (;;) {
		while (i < n && blank((unsigned char)s[i]))
			i++;
		if (i >= n)
			return 0;
		size_t e = end(s, n, i);
		if (e > n)
			return -1;
		strlist_push_owned(out, xstrndup(s + i, e - i));
		if (offs) {
			if (k == cap)
				*offs = xrealloc(*offs, (cap = cap ? cap * 2 : 8) * sizeof(size_t));
			(*offs)[k++] = i;
		}
		i = e;
	}
}

void spec_split_ws(const char *s, struct strlist *out, size_t **offs)
{
	split_by(s, spec_isws, ws_end, out, offs);
}

int spec_split_shell(const char *s, struct strlist *out, size_t **offs)
{
	return split_by(s, spec_isspace, shell_end, out, offs);
}

/*
 * BuildKit's parseWords: splits at unquoted blanks but keeps quotes and
 * escapes in the words (they are removed when each word is substituted).
 */
void spec_raw_words(const char *s, char esc, struct strlist *out)
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
			if (spec_isspace(c))
				continue;
			phase = 1;
		}
		if (i == n) {
			if (blank_ok || w.len)
				strlist_push(out, w.buf);
			break;
		}
		if (phase == 1) {
			if (spec_isspace(c)) {
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

int spec_name_val(const char *rest, char esc, const char *kn, struct spec_kv **kv, size_t *n,
		  char *errbuf, size_t errlen)
{
	struct strlist w = STRLIST_INIT;
	int rc = 0;
	*kv = NULL;
	*n = 0;
	spec_raw_words(rest, esc, &w);
	if (!w.n) {
		snprintf(errbuf, errlen, "%s requires at least one argument", kn);
		rc = -1;
		goto out;
	}
	if (!strchr(w.v[0], '=')) {
		size_t k = 0;
		while (rest[k] && !spec_isws((unsigned char)rest[k]))
			k++;
		size_t v = k;
		while (rest[v] && spec_isws((unsigned char)rest[v]))
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

/* ---- the shell lexer (BuildKit's shell.Lex) ---- */

#define LX_EOF (-1)

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
	if (spec_isspace(c)) {
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
	return lx_fail(l, "variable expansion makes a word longer than %u MiB",
		       SPEC_MAX_WORD >> 20);
}

static int lx_dollar(struct lex *l, struct sbuf *out);

/* '...' (nothing is special inside) or "..." ($ works, and the escape char
 * before ", $ or itself) */
static int lx_quoted(struct lex *l, struct sbuf *out)
{
	int q = lx_next(l), c;
	if (l->raw_quotes)
		sb_addc(out, (char)q);
	while ((c = lx_peek(l)) != q) {
		if (c == LX_EOF)
			return lx_fail(
			    l, "unexpected end of statement while looking for matching %s-quote",
			    q == '"' ? "double" : "single");
		if (q == '"' && c == '$') {
			if (lx_dollar(l, out) < 0)
				return -1;
			continue;
		}
		c = lx_next(l);
		if (q == '"' && c == l->esc) {
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
	lx_next(l);
	if (l->raw_quotes)
		sb_addc(out, (char)q);
	return 0;
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

static int lx_too_costly(struct lex *l, const char *name)
{
	return lx_fail(l, "pattern matching on %s is too costly (more than %u MiB examined)", name,
		       SPEC_MAX_GLOB_WORK >> 20);
}

/* The value v of a reference; when unset and skip_unset, the reference as
 * written (fmt: "$%s" or "${%s}"). */
static void lx_put(struct lex *l, struct sbuf *out, const char *v, const char *fmt,
		   const char *name)
{
	if (!v && l->skip_unset)
		sb_addf(out, fmt, name);
	else if (v)
		sb_adds(out, v);
}

/* ${NAME-word} ${NAME:-word} and the others: c is the operator, mod as written */
static int lx_apply(struct lex *l, struct sbuf *out, const char *name, const char *v,
		    const char *mod, int c, const char *word)
{
	int empty = !v || (mod[0] == ':' && !*v);
	switch (c) {
	case '-':
		sb_adds(out, empty ? word : v);
		return 0;
	case '+':
		if (!empty)
			sb_adds(out, word);
		return 0;
	case '?':
		if (!empty) {
			sb_adds(out, v);
			return 0;
		}
		return lx_fail(l, "%s: %s", name,
			       *word ? word
			       : !v  ? "is not allowed to be unset"
				     : "is not allowed to be empty");
	case '#':
	case '%': {
		int greedy = word[0] == c;
		if (trim_glob(l, out, v ? v : "", word + greedy, c == '%', greedy) < 0)
			return lx_too_costly(l, name);
		return 0;
	}
	default:
		return lx_fail(l, "unsupported modifier (%s) in substitution", mod);
	}
}

/* After ${NAME: the operator c (':' then another) and its word up to '}' */
static int lx_modifier(struct lex *l, struct sbuf *out, const char *name, const char *v, int c)
{
	char mod[3] = {(char)c, 0, 0};
	if (c == ':') {
		if ((c = lx_next(l)) == LX_EOF)
			return lx_fail(l, "syntax error: missing '}'");
		mod[1] = (char)c;
		if (c == '#' || c == '%')
			return lx_fail(l, "unsupported modifier (%s) in substitution", mod);
	} else if (c != '+' && c != '-' && c != '?' && c != '#' && c != '%') {
		return lx_fail(l, "unsupported modifier (%s) in substitution", mod);
	}
	struct sbuf word = SBUF_INIT;
	int r = lx_stop_on(l, '}', c == '#' || c == '%', &word, NULL);
	if (r < 0) {
		if (lx_peek(l) == LX_EOF)
			lx_fail(l, "syntax error: missing '}'");
	} else if (!v && l->skip_unset) {
		sb_addf(out, "${%s%s%s}", name, mod, word.buf);
	} else {
		r = lx_apply(l, out, name, v, mod, c, word.buf);
	}
	sb_release(&word);
	return r;
}

/* ${NAME/pattern/string}, ${NAME//pattern/string} */
static int lx_replace(struct lex *l, struct sbuf *out, const char *name, const char *v)
{
	struct sbuf pat = SBUF_INIT, rep = SBUF_INIT;
	int all = lx_peek(l) == '/', r;
	if (all)
		lx_next(l);
	if ((r = lx_stop_on(l, '/', 1, &pat, NULL)) < 0) {
		if (lx_peek(l) == LX_EOF)
			lx_fail(l, "syntax error: missing '/' in ${}");
	} else if ((r = lx_stop_on(l, '}', 1, &rep, NULL)) < 0) {
		if (lx_peek(l) == LX_EOF)
			lx_fail(l, "syntax error: missing '}'");
	} else if (replace_glob(l, out, v ? v : "", pat.buf, rep.buf, all) < 0) {
		r = lx_too_costly(l, name);
	}
	sb_release(&pat);
	sb_release(&rep);
	return r;
}

/* ${...} after the '{' */
static int lx_braced(struct lex *l, struct sbuf *out, struct sbuf *name)
{
	int c = lx_peek(l);
	if (c == LX_EOF)
		return lx_fail(l, "syntax error: missing '}'");
	if (c == '{' || c == '}' || c == ':')
		return lx_fail(l, "syntax error: bad substitution");
	lx_name(l, name);
	if ((c = lx_next(l)) == LX_EOF)
		return lx_fail(l, "syntax error: missing '}'");
	const char *v = lx_get(l, name->buf);
	if (c == '}') {
		lx_put(l, out, v, "${%s}", name->buf);
		return 0;
	}
	if (c == '/')
		return lx_replace(l, out, name->buf, v);
	return lx_modifier(l, out, name->buf, v, c);
}

/* $NAME, ${NAME}, ${NAME<op>...} at l's '$' */
static int lx_dollar(struct lex *l, struct sbuf *out)
{
	struct sbuf name = SBUF_INIT;
	int r = 0;
	lx_next(l);
	if (lx_peek(l) == '{') {
		lx_next(l);
		r = lx_braced(l, out, &name);
	} else {
		lx_name(l, &name);
		if (!name.len)
			sb_addc(out, '$');
		else
			lx_put(l, out, lx_get(l, name.buf), "$%s", name.buf);
	}
	if (r == 0 && out->len > SPEC_MAX_WORD)
		r = lx_too_long(l);
	sb_release(&name);
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
			r = c == '$' ? lx_dollar(l, &tmp) : lx_quoted(l, &tmp);
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
int spec_lex_words(struct lex *l, const char *text, int split, struct strlist *out)
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
	if (spec_lex_words(&l, text, split, &tmp) < 0) {
		char *q = spec_quoted(text);
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

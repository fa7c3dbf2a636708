/* spec_parse.c: the Crumbfile parser: lines, parser directives, continuations, INCLUDE and
 * stages (instructions themselves: spec_instr.c). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "spec_int.h"

/*
 * The parser follows moby/buildkit's frontend/dockerfile/parser (lines,
 * directives, continuations, heredocs, flags) and instructions packages
 * (per-instruction checks), and its shell lexer for substitution, so a file
 * means the same to crumb as to `docker build`. Where Docker's behaviour is
 * odd but documented (COPY heredoc bodies lose their escape characters,
 * `CMD --x` is a flag), crumb keeps it: a Crumbfile must not build
 * differently from the Dockerfile it was copied from.
 */

struct pctx {
	struct spec *s;
	struct err *e;
	const struct spec_parse_opts *o; /* INCLUDE's reader (may be NULL) */
	struct spec_instr *v;
	size_t n, alloc;
	char *stack[SPEC_MAX_INCLUDE_DEPTH + 2]; /* ids of the files being read */
	int depth;
	struct strlist stage_names;
};

int spec_next_line(struct cursor *c, const char **start, size_t *len)
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

size_t spec_trim_newline(const char *s, size_t n)
{
	while (n && (s[n - 1] == '\r' || s[n - 1] == '\n'))
		n--;
	return n;
}

static int is_comment(const char *s, size_t n)
{
	size_t i = 0;
	while (i < n && spec_isspace((unsigned char)s[i]))
		i++;
	return i < n && s[i] == '#';
}

/* escape char + [ \t]* at the end, the escape char not itself escaped: a continuation;
 * returns the kept length or -1. BuildKit's lineContinuationRegex,
 * ([^\\])\\[ \t]*$|^\\[ \t]*$: a doubled (or tripled) escape at the end is no continuation. */
static long continuation(const char *s, size_t n, char esc)
{
	size_t i = n;
	while (i && (s[i - 1] == ' ' || s[i - 1] == '\t'))
		i--;
	if (i && s[i - 1] == esc && !(i >= 2 && s[i - 2] == esc))
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
	while (i < n && spec_isspace((unsigned char)s[i]))
		i++;
	size_t ns = i;
	if (i >= n || !isalpha((unsigned char)s[i])) {
		*done = 1;
		return 0;
	}
	while (i < n && isalnum((unsigned char)s[i]))
		i++;
	size_t ne = i;
	while (i < n && spec_isspace((unsigned char)s[i]))
		i++;
	if (i >= n || s[i] != '=') {
		*done = 1;
		return 0;
	}
	i++;
	while (i < n && spec_isspace((unsigned char)s[i]))
		i++;
	size_t vs = i, ve = n;
	while (ve > vs && spec_isspace((unsigned char)s[ve - 1]))
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
		rc = spec_perr(p->e, CRUMB_EINVAL, file, at_name,
			       "only one %s parser directive can be used", name);
		goto out;
	}
	strlist_push(seen, name);
	char *val = xstrndup(s + vs, ve - vs);
	if (!strcmp(name, "escape")) {
		if (strcmp(val, "\\") && strcmp(val, "`"))
			rc = spec_perr(p->e, CRUMB_EINVAL, file, at_val,
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

/* INCLUDE: the file it names, parsed in place with the caller's reader. */
static int do_include(struct pctx *p, struct spec_instr *in)
{
	struct err *e = p->e;
	const char *name = in->rest;
	const struct spec_pos *at = &in->rest_pos;
	if (name[0] == '/')
		return spec_ierr(
		    e, CRUMB_EUNSAFE, at,
		    "INCLUDE %s: an absolute path reads outside the build context (use a "
		    "path relative to the including file)",
		    name);
	if (p->depth >= SPEC_MAX_INCLUDE_DEPTH)
		return spec_ierr(e, CRUMB_EUNSAFE, at,
				 "INCLUDE %s: nested too deeply (more than %d levels)", name,
				 SPEC_MAX_INCLUDE_DEPTH);
	if (!p->o || !p->o->read)
		return spec_ierr(e, CRUMB_EUNSUPP, at, "INCLUDE %s: no files can be read here",
				 name);
	struct sbuf path = SBUF_INIT, data = SBUF_INIT;
	const char *slash = strrchr(in->pos.file, '/');
	if (slash)
		sb_add(&path, in->pos.file, (size_t)(slash - in->pos.file) + 1);
	sb_adds(&path, name);
	struct err fe;
	char *id = NULL;
	int rc = p->o->read(p->o->read_ctx, name, path.buf, &data, &id, &fe);
	if (rc < 0) {
		rc = spec_ierr(e, rc, at, "INCLUDE %s", fe.msg);
		goto out;
	}
	if (!id)
		id = xstrdup(path.buf);
	for (int i = 0; i <= p->depth; i++) {
		if (p->stack[i] && !strcmp(p->stack[i], id)) {
			rc = spec_ierr(e, CRUMB_EUNSAFE, at,
				       "INCLUDE %s: include cycle (%s is already being read)", name,
				       path.buf);
			goto out;
		}
	}
	p->stack[++p->depth] = id;
	rc = parse_text(p, intern(p->s, path.buf), data.buf, data.len, 0);
	p->stack[p->depth--] = NULL;
out:
	free(id);
	sb_release(&path);
	sb_release(&data);
	return rc;
}

/* the text of one file as it is read: the logical line being built, the directives seen */
struct text {
	const char *file;
	struct cursor cur;
	struct lbuild lb;
	struct strlist seen;
	int done; /* past the parser directives */
};

/* A continuation's next lines into t->lb: comments and blank lines inside are dropped. */
static void continue_line(struct pctx *p, struct text *t)
{
	const char *line;
	size_t n;
	int end = 0;
	while (!end && spec_next_line(&t->cur, &line, &n)) {
		n = spec_trim_newline(line, n);
		if (is_comment(line, n))
			continue;
		size_t k = 0;
		while (k < n && spec_isspace((unsigned char)line[k]))
			k++;
		if (k == n)
			continue; /* an empty continuation line */
		long keep = continuation(line, n, p->s->escape);
		end = keep < 0;
		lb_add(&t->lb, line, end ? n : (size_t)keep, t->cur.line, 1);
	}
}

/* The next logical line into t->lb (a line and its continuations, leading
 * blanks dropped): 1, or 0 at the end of the text, or an error. */
static int logical_line(struct pctx *p, struct text *t)
{
	const char *line;
	size_t n;
	int rc;
	while (spec_next_line(&t->cur, &line, &n)) {
		n = spec_trim_newline(line, n);
		size_t lead = 0;
		while (lead < n && spec_isspace((unsigned char)line[lead]))
			lead++;
		if (!t->done && (rc = directive(p, t->file, t->cur.line, line + lead, n - lead,
						&t->done, &t->seen)) < 0)
			return rc;
		if (is_comment(line, n))
			continue;
		sb_reset(&t->lb.text);
		t->lb.npos = 0;
		long keep = continuation(line + lead, n - lead, p->s->escape);
		lb_add(&t->lb, line + lead, keep >= 0 ? (size_t)keep : n - lead, t->cur.line,
		       (int)lead + 1);
		if (keep < 0 && t->lb.text.len == 0)
			continue;
		if (keep >= 0)
			continue_line(p, t);
		size_t nb = 0;
		while (nb < t->lb.text.len && spec_isspace((unsigned char)t->lb.text.buf[nb]))
			nb++;
		if (nb < t->lb.text.len)
			return 1; /* else only continuations and comments */
	}
	return 0;
}

static int check_nul(struct err *e, const char *file, const char *buf, size_t len)
{
	const char *nul = memchr(buf, 0, len);
	if (!nul)
		return 0;
	struct lpos at = {1, 1};
	for (const char *c = buf; c < nul; c++)
		if (*c == '\n')
			at.line++, at.col = 1;
		else
			at.col++;
	return spec_perr(e, CRUMB_EFORMAT, file, at, "NUL byte in the file");
}

/* text that reaches the image config is UTF-8 */
static int check_utf8(struct err *e, const struct lline *ll, const struct spec_instr *in)
{
	size_t bad = spec_to_config((int)in->kind) ? spec_utf8_bad(ll->s, ll->len) : ll->len;
	if (bad == ll->len)
		return 0;
	return spec_lerr(e, CRUMB_EFORMAT, ll, bad,
			 "%s: invalid UTF-8 (byte 0x%02x): the image config holds UTF-8 only",
			 spec_kind_name(in->kind), (unsigned char)ll->s[bad]);
}

/* FROM ... AS NAME: each name once in the file */
static int check_stage_name(struct pctx *p, const struct lline *ll, const struct spec_instr *in)
{
	struct strlist a = STRLIST_INIT;
	size_t *offs;
	int rc = 0;
	spec_split_ws(in->rest, &a, &offs);
	if (a.n == 3) {
		char *low = spec_lower(a.v[2]);
		if (strlist_has(&p->stage_names, low)) {
			/* rest is the end of the trimmed line */
			size_t b = ll->len;
			while (b && spec_isspace((unsigned char)ll->s[b - 1]))
				b--;
			size_t roff = b - strlen(in->rest);
			rc = spec_lerr(p->e, CRUMB_EINVAL, ll, roff + offs[2],
				       "duplicate stage name \"%s\"", low);
		}
		strlist_push_owned(&p->stage_names, low);
	}
	strlist_release(&a);
	free(offs);
	return rc;
}

/* One logical line: its instruction with its heredocs, INCLUDE spliced in. */
static int take_instr(struct pctx *p, const struct lline *ll, struct cursor *cur)
{
	struct spec_instr in;
	int rc;
	if ((rc = spec_parse_instr(ll, 0, p->s->escape, &in, p->e)) < 0)
		return rc;
	if ((rc = spec_parse_heredocs(ll, &in, cur, p->e)) == 0)
		rc = check_utf8(p->e, ll, &in);
	if (rc == 0 && (int)in.kind == KIND_INCLUDE) {
		rc = do_include(p, &in);
		spec_instr_release(&in);
		return rc;
	}
	if (rc == 0 && in.kind == SPEC_FROM)
		rc = check_stage_name(p, ll, &in);
	if (rc < 0) {
		spec_instr_release(&in);
		return rc;
	}
	push_instr(p, &in);
	return 0;
}

static int parse_text(struct pctx *p, const char *file, const char *buf, size_t len, int top)
{
	struct text t = {.file = file,
			 .cur = {buf, len, 0, 0},
			 .lb = {SBUF_INIT, NULL, 0, 0},
			 .seen = STRLIST_INIT,
			 .done = !top};
	int rc = check_nul(p->e, file, buf, len);
	/* a UTF-8 byte order mark */
	if (len >= 3 && !memcmp(buf, "\xef\xbb\xbf", 3))
		t.cur.off = 3;
	while (rc == 0 && (rc = logical_line(p, &t)) > 0) {
		struct lline ll = {file, t.lb.text.buf, t.lb.pos, t.lb.text.len};
		rc = take_instr(p, &ll, &t.cur);
	}
	sb_release(&t.lb.text);
	free(t.lb.pos);
	strlist_release(&t.seen);
	return rc;
}

/* ARGs before the first FROM are global; everything else belongs to a stage. */
static int split_stages(struct pctx *p)
{
	struct spec *s = p->s;
	size_t i = 0;
	while (i < p->n && p->v[i].kind == SPEC_ARG)
		i++;
	if (i < p->n && p->v[i].kind != SPEC_FROM)
		return spec_ierr(p->e, CRUMB_EINVAL, &p->v[i].pos,
				 "%s before the first FROM: no build stage in current context",
				 spec_kind_name(p->v[i].kind));
	struct lpos one = {1, 1};
	if (!p->n)
		return spec_perr(p->e, CRUMB_EFORMAT, s->files_.v[0], one,
				 "file with no instructions");
	if (i == p->n)
		return spec_perr(p->e, CRUMB_EINVAL, s->files_.v[0], one,
				 "no FROM instruction: the file contains no stages to build");
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

int spec_parse(const char *name, const char *buf, size_t len, const struct spec_parse_opts *o,
	       struct spec **out, struct err *e)
{
	struct spec *s = xcalloc(1, sizeof(*s));
	struct pctx p = {.s = s, .e = e, .o = o};
	s->escape = '\\';
	const char *file = intern(s, name);
	p.stack[0] = xstrdup(o && o->id ? o->id : name);
	int rc = parse_text(&p, file, buf, len, 1);
	if (!rc)
		rc = split_stages(&p);
	for (size_t i = 0; i < p.n; i++)
		spec_instr_release(&p.v[i]);
	free(p.v);
	free(p.stack[0]);
	strlist_release(&p.stage_names);
	if (rc < 0) {
		spec_free(s);
		*out = NULL;
		return rc;
	}
	*out = s;
	return 0;
}

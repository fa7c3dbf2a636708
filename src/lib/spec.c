/* spec.c: what the Crumbfile modules share (kind names, positioned errors, freeing) and the
 * reading of files for the parser (spec_parse_file, spec_read_below). */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "spec_int.h"

#include "confine.h"

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
int spec_isspace(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* BuildKit's reWhitespace: [\t\v\f\r ] */
int spec_isws(int c)
{
	return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r';
}

char *spec_lower(const char *s)
{
	char *r = xstrdup(s);
	for (char *p = r; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return r;
}

/* Appends s quoted like Go's %q for ASCII (readable, one line). */
void spec_add_quoted(struct sbuf *sb, const char *s)
{
	static const char *const esc[128] = {
	    ['"'] = "\\\"", ['\\'] = "\\\\", ['\n'] = "\\n", ['\t'] = "\\t", ['\r'] = "\\r",
	};
	sb_addc(sb, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < 128 && esc[*p])
			sb_adds(sb, esc[*p]);
		else if (*p < 0x20 || *p == 0x7f)
			sb_addf(sb, "\\x%02x", *p);
		else
			sb_addc(sb, (char)*p);
	}
	sb_addc(sb, '"');
}

char *spec_quoted(const char *s)
{
	struct sbuf sb = SBUF_INIT;
	spec_add_quoted(&sb, s);
	return sb_detach(&sb);
}

/* The offset of the first byte that is not part of valid UTF-8 (no
 * overlongs, surrogates or code points past U+10FFFF), or n when all is. */
size_t spec_utf8_bad(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	for (size_t i = 0; i < n;) {
		unsigned c = s[i];
		size_t len = c < 0x80		      ? 1
			     : c >= 0xc2 && c <= 0xdf ? 2
			     : (c & 0xf0) == 0xe0     ? 3
			     : c >= 0xf0 && c <= 0xf4 ? 4
						      : 0;
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
int spec_to_config(int kind)
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

int spec_perr(struct err *e, int code, const char *file, struct lpos p, const char *fmt, ...)
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

int spec_ierr(struct err *e, int code, const struct spec_pos *p, const char *fmt, ...)
{
	struct sbuf sb = SBUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	sb_vaddf(&sb, fmt, ap);
	va_end(ap);
	struct lpos lp = {p->line, p->col};
	spec_perr(e, code, p->file, lp, "%s", sb.buf);
	sb_release(&sb);
	return code;
}

int spec_kind_lookup(const char *kw)
{
	for (int k = 0; k < NKINDS; k++)
		if (!strcasecmp(kw, kind_names[k]))
			return k;
	if (!strcasecmp(kw, "INCLUDE"))
		return KIND_INCLUDE;
	return -1;
}

/* ---- instructions ---- */

void spec_instr_release(struct spec_instr *in)
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
		spec_instr_release(in->onbuild);
		free(in->onbuild);
	}
	free(in->original);
	memset(in, 0, sizeof(*in));
}

const struct spec_flag *spec_find_flag(const struct spec_instr *in, const char *name)
{
	const struct spec_flag *f = NULL;
	for (size_t i = 0; i < in->nflags; i++)
		if (!strcmp(in->flags[i].name, name))
			f = &in->flags[i];
	return f;
}

struct spec_pos spec_at(const struct lline *ll, size_t off)
{
	struct spec_pos p = {ll->file, ll->pos[off].line, ll->pos[off].col};
	return p;
}

int spec_lerr(struct err *e, int code, const struct lline *ll, size_t off, const char *fmt, ...)
{
	struct sbuf sb = SBUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	sb_vaddf(&sb, fmt, ap);
	va_end(ap);
	spec_perr(e, code, ll->file, ll->pos[off], "%s", sb.buf);
	sb_release(&sb);
	return code;
}

int spec_flag_bool(const struct spec_instr *in, const char *name)
{
	const struct spec_flag *f = spec_find_flag(in, name);
	return f && (!f->value || !strcasecmp(f->value, "true"));
}

void spec_kv_free(struct spec_kv *kv, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(kv[i].key);
		free(kv[i].value);
	}
	free(kv);
}

void spec_kv_push(struct spec_kv **kv, size_t *n, char *k, char *v)
{
	*kv = xrealloc(*kv, (*n + 1) * sizeof(**kv));
	(*kv)[*n].key = k;
	(*kv)[*n].value = v;
	(*n)++;
}

void spec_free(struct spec *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nglobal_args; i++)
		spec_instr_release(&s->global_args[i]);
	free(s->global_args);
	for (size_t i = 0; i < s->nstages; i++) {
		for (size_t j = 0; j < s->stages[i].ninstrs; j++)
			spec_instr_release(&s->stages[i].instrs[j]);
		free(s->stages[i].instrs);
	}
	free(s->stages);
	free(s->syntax);
	strlist_release(&s->files_);
	free(s);
}

/* ---- reading files: the parser itself reads none ---- */

int spec_read_below(void *root, const char *name, const char *path, struct sbuf *out, char **id,
		    struct err *e)
{
	char *real = realpath(path, NULL);
	*id = NULL;
	if (real && root && !confine_inside(real, root)) {
		free(real);
		return err_set(e, CRUMB_EUNSAFE, "%s: resolves outside the build context", name);
	}
	int rc = read_file(path, SPEC_MAX_FILE, out, e);
	if (rc < 0) {
		free(real);
		return rc;
	}
	*id = real ? real : xstrdup(path);
	return 0;
}

int spec_parse_file(const char *path, const struct spec_parse_opts *o, struct spec **out,
		    struct err *e)
{
	struct sbuf data = SBUF_INIT;
	int rc = read_file(path, SPEC_MAX_FILE, &data, e);
	if (rc < 0) {
		*out = NULL;
		return rc;
	}
	/* o NULL: INCLUDE below path's directory (as written when it does not resolve) */
	const char *slash = strrchr(path, '/');
	char *dir = slash ? xstrndup(path, (size_t)(slash - path) + 1) : xstrdup(".");
	char *root = realpath(dir, NULL), *id = realpath(path, NULL);
	struct spec_parse_opts po = {spec_read_below, root ? root : dir, NULL};
	if (o)
		po = *o;
	po.id = id ? id : path;
	rc = spec_parse(path, data.buf, data.len, &po, out, e);
	free(id);
	free(root);
	free(dir);
	sb_release(&data);
	return rc;
}

/* spec_heredoc.c: heredocs (<<EOF, <<-EOF, <<"EOF"): markers on an instruction line, bodies
 * from the lines after it. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "spec_int.h"

/* ---- heredoc markers ---- */

/* BuildKit's ParseHeredoc: ^(\d*)<<(-?)([^<]*)$ with a non-empty word; 1 when
 * it is one, with its name (quotes removed) and whether the body expands. */
int spec_heredoc_marker(const char *word, char **name, int *expand, int *chomp)
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
	if (spec_lex_words(&l, p, 1, &plain) < 0 || plain.n != 1)
		goto out;
	l.raw_quotes = 1;
	if (spec_lex_words(&l, p, 1, &raw) < 0 || raw.n != 1)
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

int spec_parse_heredocs(const struct lline *ll, struct spec_instr *in, struct cursor *cur,
			struct err *e)
{
	struct spec_instr *t = in->kind == SPEC_ONBUILD ? in->onbuild : in;
	if (!t || !(t->kind == SPEC_RUN || t->kind == SPEC_COPY || t->kind == SPEC_ADD) ||
	    t->json || !strstr(ll->s, "<<"))
		return 0;
	struct strlist words = STRLIST_INIT;
	size_t *offs = NULL;
	int rc = 0;
	if (spec_split_shell(ll->s, &words, &offs) < 0)
		goto out;
	for (size_t w = 0; w < words.n; w++) {
		char *name;
		int expand, chomp;
		if (!spec_heredoc_marker(words.v[w], &name, &expand, &chomp))
			continue;
		struct sbuf body = SBUF_INIT;
		const char *line;
		size_t n;
		int found = 0;
		while (spec_next_line(cur, &line, &n)) {
			size_t tn = spec_trim_newline(line, n);
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
			rc = spec_lerr(e, CRUMB_EFORMAT, ll, offs[w],
				       "unterminated heredoc: no line \"%s\" ends %s", name,
				       words.v[w]);
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

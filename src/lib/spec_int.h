/* spec_int.h: what the spec modules (spec*.c) share with one another; not an API. */
#ifndef CRUMB_SPEC_INT_H
#define CRUMB_SPEC_INT_H

#include "spec.h"

/*
 * The modules, in the order text flows through them:
 *   spec_parse.c    lines, directives, continuations, INCLUDE, stages
 *   spec_heredoc.c  heredoc markers and bodies
 *   spec_instr.c    one instruction: flags and the per-instruction checks
 *   spec_json.c     exec form (JSON arrays of strings, through jansson)
 *   spec_lex.c      shell words: quotes, escapes, $VAR substitution
 *   spec_eval.c     one instruction's meaning (struct spec_eval)
 *   spec_dump.c     the dumps for goldens and `crumb build --print`
 *   spec.c          kind names, errors with positions, freeing, reading files
 */

#define SPEC_MAX_INCLUDE_DEPTH 16
#define KIND_INCLUDE 100 /* internal: spliced away before the caller sees it */

/* ---- spec.c: small helpers ---- */

/* the kind for a keyword (any case), KIND_INCLUDE, or -1 */
int spec_kind_lookup(const char *kw);
/* Go's unicode.IsSpace for single bytes */
int spec_isspace(int c);
/* BuildKit's reWhitespace: [\t\v\f\r ] */
int spec_isws(int c);
char *spec_lower(const char *s);
/* Appends s quoted like Go's %q for ASCII (readable, one line). */
void spec_add_quoted(struct sbuf *sb, const char *s);
char *spec_quoted(const char *s);
/* The offset of the first byte that is not part of valid UTF-8 (no
 * overlongs, surrogates or code points past U+10FFFF), or n when all is. */
size_t spec_utf8_bad(const char *s, size_t n);
/* 1 for the instructions whose text ends up in the image config (JSON: UTF-8 only) */
int spec_to_config(int kind);

void spec_instr_release(struct spec_instr *in);
/* the last flag called name, or NULL */
const struct spec_flag *spec_find_flag(const struct spec_instr *in, const char *name);
/* a boolean flag: given bare or as =true (any case) */
int spec_flag_bool(const struct spec_instr *in, const char *name);
void spec_kv_push(struct spec_kv **kv, size_t *n, char *k, char *v);
void spec_kv_free(struct spec_kv *kv, size_t n);

/* ---- spec.c: errors, all "FILE:LINE:COL: message" on one line ---- */

struct lpos {
	int line, col;
};

/* a logical line: text and the file position of each byte (and one past) */
struct lline {
	const char *file;
	const char *s;
	const struct lpos *pos;
	size_t len;
};

struct spec_pos spec_at(const struct lline *ll, size_t off);
int spec_perr(struct err *e, int code, const char *file, struct lpos p, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
int spec_ierr(struct err *e, int code, const struct spec_pos *p, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int spec_lerr(struct err *e, int code, const struct lline *ll, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* ---- spec_lex.c: words ---- */

/* Splits at runs of [\t\v\f\r ] (BuildKit's parseStringsWhitespaceDelimited);
 * offs (may be NULL) gets each word's offset in s (malloc'd). */
void spec_split_ws(const char *s, struct strlist *out, size_t **offs);
/* Splits a line into shell words as BuildKit's heredocsFromLine does (at
 * blanks outside quotes; quotes and '\\' escapes kept in the words), offsets
 * in *offs (malloc'd). -1 for an unterminated quote (then no heredocs, as in
 * Docker). */
int spec_split_shell(const char *s, struct strlist *out, size_t **offs);
/* BuildKit's parseWords: splits at unquoted blanks but keeps quotes and
 * escapes in the words (they are removed when each word is substituted). */
void spec_raw_words(const char *s, char esc, struct strlist *out);
/* BuildKit's parseNameVal for ENV and LABEL: "K V" (old) or "K=V ..."; on
 * error -1 with the reason in errbuf and nothing in *kv. */
int spec_name_val(const char *rest, char esc, const char *kn, struct spec_kv **kv, size_t *n,
		  char *errbuf, size_t errlen);

/* BuildKit's shell.Lex: set the fields, then spec_lex_words. */
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

/* The whole of BuildKit's ProcessWord (split = 0: one string pushed on out)
 * and ProcessWords (split = 1: fields). On error -1, l->msg holds the reason. */
int spec_lex_words(struct lex *l, const char *text, int split, struct strlist *out);

/* ---- spec_json.c: exec form ---- */

enum { JSON_NO = 0, JSON_STRINGS = 1, JSON_NOT_STRINGS = 2, JSON_NUL = 3 };

/* Docker's parseJSON on s: JSON_STRINGS (and the strings in *out) for a
 * valid JSON array of strings; JSON_NOT_STRINGS when a member is no string
 * and JSON_NUL when one holds a NUL (errors in Docker); JSON_NO when s is
 * not a JSON array at all (shell form). */
int spec_json_args(const char *s, struct strlist *out);
/* the message for JSON_NOT_STRINGS or JSON_NUL */
const char *spec_json_msg(int j);

/* ---- spec_parse.c: physical lines ---- */

struct cursor {
	const char *buf;
	size_t len, off;
	int line; /* of the last line returned */
};

/* the next physical line: start and length without the newline; 0 at the end */
int spec_next_line(struct cursor *c, const char **start, size_t *len);
/* BuildKit's trimNewline: the length without every trailing \r and \n */
size_t spec_trim_newline(const char *s, size_t n);

/* ---- spec_heredoc.c ---- */

/* BuildKit's ParseHeredoc: ^(\d*)<<(-?)([^<]*)$ with a non-empty word; 1 when
 * it is one, with its name (quotes removed, malloc'd) and whether the body
 * expands and is chomped (<<-). */
int spec_heredoc_marker(const char *word, char **name, int *expand, int *chomp);
/* The bodies of the heredocs that the instruction in (parsed from ll) opens,
 * read from cur into in (or its ONBUILD trigger). */
int spec_parse_heredocs(const struct lline *ll, struct spec_instr *in, struct cursor *cur,
			struct err *e);

/* ---- spec_instr.c ---- */

/* One instruction from the logical line ll, starting at from: keyword,
 * flags, arguments checked as BuildKit checks them. On error in is empty. */
int spec_parse_instr(const struct lline *ll, size_t from, char esc, struct spec_instr *in,
		     struct err *e);

#endif

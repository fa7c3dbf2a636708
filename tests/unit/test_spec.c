/* test_spec.c: the Crumbfile parser: tricky cases inline, then the golden suites in
 * tests/spec/{good,bad}. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/spec.h"
#include "tap.h"

/*
 * Golden files: tests/spec/good/NAME.Crumbfile -> NAME.out (spec_dump, then
 * "--- eval" and each instruction's spec_eval under the variable model
 * below); tests/spec/bad/NAME.Crumbfile -> NAME.err (the one-line error of
 * the parse, else of the first failing evaluation). SPEC_DIR overrides
 * tests/spec; GOLDEN=1 (make golden) rewrites the goldens (review them by eye).
 */

/* ---- a small variable model: last set wins ---- */

struct vars {
	struct strlist k, v;
};

static const char *var_get(void *ctx, const char *name)
{
	struct vars *vs = ctx;
	for (size_t i = vs->k.n; i-- > 0;)
		if (!strcmp(vs->k.v[i], name))
			return vs->v.v[i];
	return NULL;
}

static void var_set(struct vars *vs, const char *k, const char *v)
{
	strlist_push(&vs->k, k);
	strlist_push(&vs->v, v);
}

static void vars_release(struct vars *vs)
{
	strlist_release(&vs->k);
	strlist_release(&vs->v);
}

/* Docker's scoping, simplified (no --build-arg): global ARGs (defaults) are
 * seen by FROM; a stage sees its own ARGs (an ARG without default takes the
 * global one) and ENVs, in order, and inherits the ENVs of the stage it is
 * built FROM. out gets one line per instruction; returns the first error's
 * message (static) or NULL. */
static const char *eval_all(const struct spec *s, struct sbuf *out)
{
	static char first[ERR_MSG_MAX];
	struct vars g = {STRLIST_INIT, STRLIST_INIT};
	struct sbuf line = SBUF_INIT;
	const char *bad = NULL;
	struct err e;
	struct spec_eval v;
	for (size_t i = 0; i < s->nglobal_args; i++) {
		const struct spec_instr *in = &s->global_args[i];
		sb_addf(out, "global %d:%d ", in->pos.line, in->pos.col);
		if (spec_eval(s, in, var_get, &g, &v, &e) < 0) {
			sb_addf(out, "error: %s\n", e.msg);
			if (!bad)
				bad = strcpy(first, e.msg);
			continue;
		}
		for (size_t k = 0; k < v.nkv; k++)
			if (v.kv[k].value)
				var_set(&g, v.kv[k].key, v.kv[k].value);
		sb_reset(&line);
		spec_eval_dump(&v, &line);
		sb_addf(out, "%s\n", line.buf);
		spec_eval_release(&v);
	}
	struct vars *envs = xcalloc(s->nstages + 1, sizeof(*envs));
	struct strlist names = STRLIST_INIT;
	for (size_t si = 0; si < s->nstages; si++) {
		struct vars st = {STRLIST_INIT, STRLIST_INIT};
		const struct spec_stage *stage = &s->stages[si];
		for (size_t j = 0; j < stage->ninstrs; j++) {
			const struct spec_instr *in = &stage->instrs[j];
			struct vars *use = j == 0 ? &g : &st;
			sb_addf(out, "%zu %d:%d ", si, in->pos.line, in->pos.col);
			if (spec_eval(s, in, var_get, use, &v, &e) < 0) {
				sb_addf(out, "error: %s\n", e.msg);
				if (!bad)
					bad = strcpy(first, e.msg);
				continue;
			}
			if (v.kind == SPEC_FROM) {
				strlist_push(&names, v.as ? v.as : "");
				for (size_t b = 0; b < si; b++) {
					char idx[24];
					snprintf(idx, sizeof(idx), "%zu", b);
					if (strcmp(names.v[b], v.image) && strcmp(idx, v.image))
						continue;
					for (size_t k = 0; k < envs[b].k.n; k++) {
						var_set(&st, envs[b].k.v[k], envs[b].v.v[k]);
						var_set(&envs[si], envs[b].k.v[k], envs[b].v.v[k]);
					}
				}
			}
			for (size_t k = 0; k < v.nkv && (v.kind == SPEC_ARG || v.kind == SPEC_ENV);
			     k++) {
				const char *val = v.kv[k].value;
				if (!val && v.kind == SPEC_ARG)
					val = var_get(&g, v.kv[k].key);
				if (val)
					var_set(&st, v.kv[k].key, val);
				if (val && v.kind == SPEC_ENV)
					var_set(&envs[si], v.kv[k].key, val);
			}
			sb_reset(&line);
			spec_eval_dump(&v, &line);
			sb_addf(out, "%s\n", line.buf);
			spec_eval_release(&v);
		}
		vars_release(&st);
	}
	for (size_t si = 0; si < s->nstages; si++)
		vars_release(&envs[si]);
	free(envs);
	strlist_release(&names);
	vars_release(&g);
	sb_release(&line);
	return bad;
}

/* ---- helpers for the inline cases ---- */

static struct spec *parse(const char *text, struct err *e)
{
	struct spec *s = NULL;
	e->msg[0] = 0;
	spec_parse("t.Crumbfile", text, strlen(text), NULL, &s, e);
	return s;
}

/* the dump of text, or "error: MSG" */
static char *dump_of(const char *text)
{
	struct err e;
	struct spec *s = parse(text, &e);
	struct sbuf sb = SBUF_INIT;
	if (!s) {
		sb_addf(&sb, "error: %s", e.msg);
		return sb_detach(&sb);
	}
	spec_dump(s, &sb);
	spec_free(s);
	return sb_detach(&sb);
}

static char *err_of(const char *text)
{
	struct err e;
	struct spec *s = parse(text, &e);
	if (s) {
		struct sbuf sb = SBUF_INIT;
		const char *bad = eval_all(s, &sb);
		sb_release(&sb);
		spec_free(s);
		return xstrdup(bad ? bad : "(no error)");
	}
	return xstrdup(e.msg);
}

/* eval of the last instruction of the last stage, with vars A=a.b.c, E="" */
static char *eval_last(const char *text)
{
	struct err e;
	struct spec *s = parse(text, &e);
	if (!s)
		return xasprintf("parse error: %s", e.msg);
	struct vars vs = {STRLIST_INIT, STRLIST_INIT};
	var_set(&vs, "A", "a.b.c");
	var_set(&vs, "E", "");
	var_set(&vs, "SP", "x  y");
	const struct spec_stage *st = &s->stages[s->nstages - 1];
	struct spec_eval v;
	struct sbuf sb = SBUF_INIT;
	if (spec_eval(s, &st->instrs[st->ninstrs - 1], var_get, &vs, &v, &e) < 0) {
		sb_addf(&sb, "error: %s", e.msg);
	} else {
		spec_eval_dump(&v, &sb);
		spec_eval_release(&v);
	}
	vars_release(&vs);
	spec_free(s);
	return sb_detach(&sb);
}

static char *words(const char *text, char esc, int split)
{
	struct vars vs = {STRLIST_INIT, STRLIST_INIT};
	var_set(&vs, "A", "a.b.c");
	var_set(&vs, "E", "");
	var_set(&vs, "SP", "x  y");
	var_set(&vs, "P", "/usr/lib/x.so.1");
	struct strlist l = STRLIST_INIT;
	struct err e;
	struct sbuf sb = SBUF_INIT;
	if (spec_words(text, esc, var_get, &vs, split, &l, &e) < 0) {
		sb_addf(&sb, "error: %s", e.msg);
	} else {
		for (size_t i = 0; i < l.n; i++)
			sb_addf(&sb, "%s[%s]", i ? " " : "", l.v[i]);
	}
	strlist_release(&l);
	vars_release(&vs);
	return sb_detach(&sb);
}

#define IS_WORDS(text, split, want)                                                                \
	do {                                                                                       \
		char *wd_ = words(text, '\\', split);                                              \
		is_str(wd_, want, "words%s: %s", split ? " (split)" : "", text);                   \
		free(wd_);                                                                         \
	} while (0)

static void test_words(void)
{
	IS_WORDS("$A ${A}", 0, "[a.b.c a.b.c]");
	IS_WORDS("${U:-w} ${U-w} ${E:-w} ${E-w}", 0, "[w w w ]");
	IS_WORDS("${A:+x} ${U:+x} ${E:+x} ${E+x} ${U+x}", 0, "[x   x ]");
	IS_WORDS("'$A \\n' \"$A \\$A \\n \\\"\"", 0, "[$A \\n a.b.c $A \\n \"]");
	IS_WORDS("\\$A \\${A} a\\ b", 0, "[$A ${A} a b]");
	IS_WORDS("$SP \"$SP\" '' z", 1, "[x] [y] [x  y] [z]");
	IS_WORDS("a\\ b \"c d\"e", 1, "[a b] [c de]");
	IS_WORDS("${A#*.} ${A##*.} ${A%.*} ${A%%.*}", 0, "[b.c c a.b a]");
	IS_WORDS("${P##*/} ${P%/*} ${A/./-} ${A//./-}", 0, "[x.so.1 /usr/lib a-b.c a-b-c]");
	IS_WORDS("${U:-$A} ${U:-${E:-deep}} ${U:-\"q w\"}", 0, "[a.b.c deep q w]");
	IS_WORDS("$ $$ $1 cost$", 0, "[$   cost$]");
	IS_WORDS("${U:?need U}", 0, "error: failed to process \"${U:?need U}\": U: need U");
	IS_WORDS("${U?}", 0, "error: failed to process \"${U?}\": U: is not allowed to be unset");
	IS_WORDS("${E:?}", 0, "error: failed to process \"${E:?}\": E: is not allowed to be empty");
	IS_WORDS("${E?}", 0, "[]");
	IS_WORDS("${A:#x}", 0,
		 "error: failed to process \"${A:#x}\": unsupported modifier (:#) in substitution");
	IS_WORDS("${A^^}", 0,
		 "error: failed to process \"${A^^}\": unsupported modifier (^) in substitution");
	IS_WORDS("${}", 0, "error: failed to process \"${}\": syntax error: bad substitution");
	IS_WORDS("${A", 0, "error: failed to process \"${A\": syntax error: missing '}'");
	IS_WORDS("${A:-x", 0, "error: failed to process \"${A:-x\": syntax error: missing '}'");
	IS_WORDS("'open", 0,
		 "error: failed to process \"'open\": unexpected end of statement while looking "
		 "for matching single-quote");
	IS_WORDS("\"open", 0,
		 "error: failed to process \"\\\"open\": unexpected end of statement while "
		 "looking for matching double-quote");
	IS_WORDS("trail\\", 0, "[trail]");

	/* the backtick escape: backslashes are ordinary */
	char *g = words("C:\\dir `$A `` \"`\"\"", '`', 0);
	is_str(g, "[C:\\dir $A ` \"]", "words with escape=`");
	free(g);
}

/* exec form is what Go's decoder (Docker's) takes: jansson plus its leniencies */
static void test_json_go(void)
{
	char *d = dump_of("FROM x\nRUN [\"\\ud800\", \"\\udc00x\", \"\\ud800\\u0041\", \"a\xff\"]\n"
			  "CMD [1e400]\n");
	is_str(d,
	       "escape \\\nstage 0\n  1:1 FROM @1:6 \"x\"\n"
	       "  2:1 RUN json[\"\xef\xbf\xbd\",\"\xef\xbf\xbdx\",\"\xef\xbf\xbd"
	       "A\","
	       "\"a\xef\xbf\xbd\"]\n"
	       "  3:1 CMD @3:5 \"[1e400]\"\n",
	       "lone surrogates and bad bytes are U+FFFD, a number past float64 is no JSON");
	free(d);
	d = err_of("FROM x\nENTRYPOINT [99999999999999999999]\n");
	is_str(d,
	       "t.Crumbfile:2:12: when using JSON array syntax, arrays must be comprised of "
	       "strings only",
	       "a big integer is a number (float64)");
	free(d);
	d = err_of("FROM x\nCMD [{\"\\u0000\": 1, \"k\": {\"a\": [null, true, -0.5e-3]}}]\n");
	is_str(d,
	       "t.Crumbfile:2:5: when using JSON array syntax, arrays must be comprised of "
	       "strings only",
	       "\\u0000 in an object key is valid JSON");
	free(d);
	/* 1001 levels of nesting (the top array at depth 0) are JSON, 1002 are shell form */
	struct sbuf t = SBUF_INIT;
	sb_adds(&t, "FROM x\nCMD ");
	for (int i = 0; i < 1002; i++)
		sb_addc(&t, '[');
	for (int i = 0; i < 1002; i++)
		sb_addc(&t, ']');
	sb_addc(&t, '\n');
	d = err_of(t.buf);
	is_str(d, "(no error)", "1002 levels of JSON: shell form");
	free(d);
	d = err_of(t.buf + 1);
	is_str(d, "t.Crumbfile:1:1: unknown instruction: ROM", "(the same text, misspelt)");
	free(d);
	char *deep = xstrdup(t.buf);
	memmove(deep + 11, deep + 12, strlen(deep + 12) + 1);
	memmove(deep + 11 + 1001, deep + 11 + 1002, strlen(deep + 11 + 1002) + 1);
	d = err_of(deep);
	is_str(d,
	       "t.Crumbfile:2:5: when using JSON array syntax, arrays must be comprised of "
	       "strings only",
	       "1001 levels of JSON: an array of arrays");
	free(d);
	free(deep);
	sb_release(&t);
}

static void test_forms(void)
{
	char *d;
	d = dump_of("FROM x\nCMD [\"a\", \"b c\"]\nCMD [ ]\nCMD [oops\nCMD [\"a\"] x\n"
		    "ENTRYPOINT ['x']\nRUN [\"\\u00e9\\ud83d\\ude00\\n\"]\n");
	is_str(
	    d,
	    "escape \\\nstage 0\n  1:1 FROM @1:6 \"x\"\n  2:1 CMD json[\"a\",\"b c\"]\n"
	    "  3:1 CMD json[]\n  4:1 CMD @4:5 \"[oops\"\n  5:1 CMD @5:5 \"[\\\"a\\\"] x\"\n"
	    "  6:1 ENTRYPOINT @6:12 \"['x']\"\n  7:1 RUN json[\"\xc3\xa9\xf0\x9f\x98\x80\\n\"]\n",
	    "exec form only for a valid JSON array of strings");
	free(d);
	d = err_of("FROM x\nCMD [\"a\", 1]\n");
	is_str(d,
	       "t.Crumbfile:2:5: when using JSON array syntax, arrays must be comprised of "
	       "strings only",
	       "a JSON array of non-strings is an error, as in Docker");
	free(d);
	d = err_of("FROM x\nCMD [\"a\\u0000\"]\n");
	is_str(d, "t.Crumbfile:2:5: JSON argument contains a NUL character", "NUL in JSON");
	free(d);
	test_json_go();
}

static void test_positions(void)
{
	char *d;
	/* flags and errors point at their character, across continuations */
	d = err_of(
	    "FROM x\nRUN \\\n  # a comment\n\n    --network=none \\\n\t--mount=type=ssh x\n");
	is_str(d,
	       "t.Crumbfile:6:2: RUN --mount=type=ssh: ssh mounts are not supported by crumb (no "
	       "SSH agent is forwarded)",
	       "RUN --mount error at the flag, through a continuation");
	free(d);
	d = dump_of("FROM x\n  run  --network=host \\\n   echo \\\n  hi  \n");
	is_str(d,
	       "escape \\\nstage 0\n  1:1 FROM @1:6 \"x\"\n"
	       "  2:3 RUN --network=\"host\" @3:4 \"echo   hi\"\n",
	       "continuations joined without separator, positions of keyword and args");
	free(d);
	/* BuildKit: a doubled escape at the end of a line is no continuation */
	d = dump_of("FROM x\nRUN echo \\\\\nRUN echo d\n");
	is_str(d,
	       "escape \\\nstage 0\n  1:1 FROM @1:6 \"x\"\n"
	       "  2:1 RUN @2:5 \"echo \\\\\\\\\"\n  3:1 RUN @3:5 \"echo d\"\n",
	       "a line ending in a doubled escape is not joined with the next");
	free(d);
	/* ... nor with blanks after it, nor on a continuation line */
	d = dump_of("FROM x\nRUN echo a \\\n  b \\\\ \t\nRUN echo d\n");
	is_str(d,
	       "escape \\\nstage 0\n  1:1 FROM @1:6 \"x\"\n"
	       "  2:1 RUN @2:5 \"echo a   b \\\\\\\\\"\n  4:1 RUN @4:5 \"echo d\"\n",
	       "a continuation line ending in a doubled escape and blanks ends the instruction");
	free(d);
	d = err_of("FROM x\nCOPY --chown=1 --chmod=888 a b\n");
	is_str(d, "t.Crumbfile:2:16: invalid --chmod=888: crumb takes an octal mode up to 7777",
	       "bad --chmod at the flag");
	free(d);
	d = err_of("FROM x\nFROM y as x\nFROM z aS X\n");
	is_str(d, "t.Crumbfile:3:11: duplicate stage name \"x\"", "duplicate stage name");
	free(d);
	d = err_of("FROM x\nRUN a\0b\n");
	is_str(d, "(no error)", "(strlen stops at NUL)");
	free(d);
	struct spec *s = NULL;
	struct err e;
	ok(spec_parse("n.Crumbfile", "FROM x\nRUN a\0b\n", 15, NULL, &s, &e) == CRUMB_EFORMAT &&
	       !s && !strcmp(e.msg, "n.Crumbfile:2:6: NUL byte in the file"),
	   "a NUL byte is refused: %s", e.msg);
	ok(spec_parse_file("/nonexistent/Crumbfile", NULL, &s, &e) == CRUMB_ENOENT && !s,
	   "missing file: %s", e.msg);
}

static void test_heredocs(void)
{
	struct err e;
	const char *text = "FROM x\nRUN <<EOF\n  two spaces\t\r\n\n\tEOF\n trailing  \nEOF\n"
			   "RUN <<-A cat - && cat <<\"B\"\n\t\tx\n\tA\n $B \\\\ \nB\n";
	struct spec *s = parse(text, &e);
	ok(s != NULL, "heredocs parse: %s", e.msg);
	if (!s)
		return;
	const struct spec_instr *r1 = &s->stages[0].instrs[1], *r2 = &s->stages[0].instrs[2];
	ok(r1->nheredocs == 1 && r1->heredocs[0].expand && !r1->heredocs[0].chomp,
	   "<<EOF: expanding, no chomp");
	is_str(r1->nheredocs ? r1->heredocs[0].body : NULL,
	       "  two spaces\t\r\n\n\tEOF\n trailing  \n", "body byte for byte");
	ok(r2->nheredocs == 2, "two heredocs on one line");
	if (r2->nheredocs == 2) {
		is_str(r2->heredocs[0].body, "x\n", "<<-: leading tabs stripped");
		ok(r2->heredocs[0].chomp && !r2->heredocs[1].expand && !r2->heredocs[1].chomp,
		   "<<\"B\": no expansion");
		is_str(r2->heredocs[1].body, " $B \\\\ \n", "quoted body untouched");
	}
	spec_free(s);

	/* COPY heredocs: expanded with quotes kept and escapes applied (BuildKit's ExpandRaw) */
	char *g = eval_last("FROM x\nCOPY <<EOF <<'RAW' /d/\n\"$A\" '$A' \\$A \\n\nEOF\n$A\nRAW\n");
	is_str(g,
	       "COPY heredoc_src=[\"EOF\"=\"\\\"a.b.c\\\" 'a.b.c' $A n\\n\",\"RAW\"=\"$A\\n\"] "
	       "dest=\"/d/\"",
	       "COPY heredoc sources");
	free(g);
	g = eval_last("FROM x\nRUN <<EOF\necho $A\nEOF\n");
	is_str(g, "RUN shell=\"<<EOF\" heredocs=[\"EOF\"=\"echo $A\\n\"]",
	       "RUN heredoc bodies are never substituted");
	free(g);
	g = err_of("FROM x\nRUN cat <<EOF <<END\na\nEOF\nb\n");
	is_str(g, "t.Crumbfile:2:15: unterminated heredoc: no line \"END\" ends <<END",
	       "second heredoc unterminated");
	free(g);
}

static void test_eval(void)
{
	char *g;
	g = eval_last("FROM x\nENV K=$A K2=\"v 2\" 'K3'=${E:-e}\n");
	is_str(g, "ENV kv=[\"K\"=\"a.b.c\",\"K2\"=\"v 2\",\"K3\"=\"e\"]", "ENV K=V forms");
	free(g);
	g = eval_last("FROM x\nENV K  the  $A value\n");
	is_str(g, "ENV kv=[\"K\"=\"the  a.b.c value\"]", "ENV legacy K V keeps inner blanks");
	free(g);
	g = eval_last("FROM x\nARG N M=$A O=\"\" A=new P=$A-$M\n");
	is_str(g, "ARG kv=[\"N\",\"M\"=\"a.b.c\",\"O\"=\"\",\"A\"=\"new\",\"P\"=\"new-a.b.c\"]",
	       "ARG pairs in order, each default seeing the ones before");
	free(g);
	g = eval_last("FROM x\nEXPOSE 80 $SP/udp 8000-8010/TCP\n");
	is_str(g, "error: t.Crumbfile:2:8: invalid containerPort: x", "EXPOSE splits variables");
	free(g);
	g = eval_last("FROM x\nCOPY --from=host --deps --chmod=0755 --chown=$A /usr/bin/$A* /b/\n");
	is_str(g,
	       "COPY src=[\"/usr/bin/a.b.c*\"] dest=\"/b/\" from=\"host\" chown=\"a.b.c\" "
	       "chmod=\"0755\" deps",
	       "COPY flags substituted, globs kept");
	free(g);
	g = eval_last("FROM x\nLABEL a.b=\"x y\" c='$A'\n");
	is_str(g, "LABEL kv=[\"a.b\"=\"x y\",\"c\"=\"$A\"]", "LABEL");
	free(g);
	g = eval_last("FROM x\nRUN --network=none echo $A \"q\"\n");
	is_str(g, "RUN shell=\"echo $A \\\"q\\\"\" network=\"none\"", "RUN text untouched");
	free(g);
}

static int write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

static void test_include(void)
{
	char dir[] = "/tmp/crumb-spec-XXXXXX";
	ok(mkdtemp(dir) != NULL, "temp dir");
	char *p;
	/* a chain deeper than 16 */
	for (int i = 0; i <= 17; i++) {
		p = xasprintf("%s/d%d", dir, i);
		char *t = i == 17 ? xstrdup("RUN deep\n") : xasprintf("INCLUDE d%d\n", i + 1);
		write_text(p, t);
		free(t);
		free(p);
	}
	struct spec *s;
	struct err e;
	p = xasprintf("%s/main", dir);
	write_text(p, "FROM x\nINCLUDE d1\n");
	ok(spec_parse_file(p, NULL, &s, &e) == CRUMB_EUNSAFE, "17 levels of INCLUDE refused");
	char *want =
	    xasprintf("%s/d16:1:9: INCLUDE d17: nested too deeply (more than 16 levels)", dir);
	is_str(e.msg, want, "depth error points into the deepest file");
	free(want);
	write_text(p, "FROM x\nINCLUDE d2\n");
	ok(spec_parse_file(p, NULL, &s, &e) == 0, "16 levels of INCLUDE: %s", e.msg);
	if (s) {
		const struct spec_instr *in = &s->stages[0].instrs[1];
		ok(s->stages[0].ninstrs == 2 && in->kind == SPEC_RUN && in->pos.line == 1,
		   "the included instruction is spliced in place");
		want = xasprintf("%s/d17", dir);
		is_str(in->pos.file, want, "its position names the included file");
		free(want);
		spec_free(s);
	}
	free(p);
	sh("rm -rf %s", dir);
}

/* INCLUDE through the caller's reader: files from a table, ids as the table says */
struct memfile {
	const char *path, *id, *text;
};

struct memfs {
	const struct memfile *f;
	int calls;
};

static int read_mem(void *ctx, const char *name, const char *path, struct sbuf *out, char **id,
		    struct err *e)
{
	struct memfs *fs = ctx;
	fs->calls++;
	*id = NULL;
	for (const struct memfile *f = fs->f; f->path; f++) {
		if (strcmp(f->path, path))
			continue;
		sb_adds(out, f->text);
		*id = f->id ? xstrdup(f->id) : NULL;
		return 0;
	}
	return err_set(e, CRUMB_ENOENT, "%s (as %s): not in the table", name, path);
}

static char *parse_mem(const char *text, struct memfs *fs, const struct spec_parse_opts *o)
{
	struct spec *s = NULL;
	struct err e;
	struct sbuf sb = SBUF_INIT;
	int rc = spec_parse("top/t.Crumbfile", text, strlen(text), o, &s, &e);
	if (rc < 0)
		sb_addf(&sb, "error %d: %s", rc, e.msg);
	else
		spec_dump(s, &sb);
	spec_free(s);
	return sb_detach(&sb);
}

static void test_include_reader(void)
{
	static const struct memfile files[] = {
	    {"top/a", "A", "RUN a\nINCLUDE sub/b\n"},
	    {"top/sub/b", "B", "RUN b\n"},
	    {"top/loop", "L", "INCLUDE ../top/loop\n"},
	    {"top/../top/loop", "L", "RUN never\n"},
	    {NULL, NULL, NULL},
	};
	struct memfs fs = {files, 0};
	struct spec_parse_opts o = {.read = read_mem, .read_ctx = &fs, .id = "T"};
	char *d = parse_mem("FROM x\nINCLUDE a\nRUN c\n", &fs, &o);
	is_str(d,
	       "escape \\\nstage 0\n  1:1 FROM @1:6 \"x\"\n  a:1:1 RUN @a:1:5 \"a\"\n"
	       "  sub/b:1:1 RUN @sub/b:1:5 \"b\"\n  3:1 RUN @3:5 \"c\"\n",
	       "INCLUDE spliced in place, paths relative to the including file");
	free(d);
	ok(fs.calls == 2, "the reader read each file once (%d)", fs.calls);
	d = parse_mem("FROM x\nINCLUDE loop\n", &fs, &o);
	is_str(d,
	       "error -6: top/loop:1:9: INCLUDE ../top/loop: include cycle (top/../top/loop is "
	       "already being read)",
	       "a cycle is found by the reader's ids, not by the paths");
	free(d);
	d = parse_mem("FROM x\n  INCLUDE   nothing\n", &fs, &o);
	is_str(d,
	       "error -2: top/t.Crumbfile:2:13: INCLUDE nothing (as top/nothing): not in the table",
	       "the reader's error, at the INCLUDE's argument");
	free(d);
	fs.calls = 0;
	d = parse_mem("FROM x\nINCLUDE /etc/passwd\n", &fs, &o);
	is_str(d,
	       "error -6: top/t.Crumbfile:2:9: INCLUDE /etc/passwd: an absolute path reads outside "
	       "the build context (use a path relative to the including file)",
	       "an absolute INCLUDE is refused");
	free(d);
	ok(fs.calls == 0, "... before the reader is asked");
	d = parse_mem("FROM x\nINCLUDE a\n", &fs, NULL);
	is_str(d, "error -5: top/t.Crumbfile:2:9: INCLUDE a: no files can be read here",
	       "no reader: INCLUDE is refused");
	free(d);
}

/* ---- golden suites ---- */

static int has_suffix(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);
	return a >= b && !strcmp(s + a - b, suf);
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static void golden(const char *root, const char *sub, int bad)
{
	int regen = getenv("GOLDEN") && *getenv("GOLDEN") == '1';
	char *dir = xasprintf("%s/%s", root, sub);
	int back = open(".", O_RDONLY | O_DIRECTORY);
	struct dirent **ents;
	int n = scandir(dir, &ents, NULL, by_name);
	ok(n > 0 && chdir(dir) == 0, "golden suite %s", dir);
	int count = 0;
	for (int i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;
		if (!has_suffix(name, ".Crumbfile")) {
			free(ents[i]);
			continue;
		}
		count++;
		char *base = xstrndup(name, strlen(name) - strlen(".Crumbfile"));
		char *gold = xasprintf("%s%s", base, bad ? ".err" : ".out");
		struct sbuf got = SBUF_INIT, want = SBUF_INIT;
		struct spec *s = NULL;
		struct err e;
		int rc = spec_parse_file(name, NULL, &s, &e);
		if (bad) {
			if (rc < 0) {
				sb_addf(&got, "%s\n", e.msg);
			} else {
				struct sbuf tmp = SBUF_INIT;
				const char *m = eval_all(s, &tmp);
				sb_addf(&got, "%s\n", m ? m : "(no error)");
				sb_release(&tmp);
			}
		} else if (rc < 0) {
			sb_addf(&got, "error: %s\n", e.msg);
		} else {
			spec_dump(s, &got);
			sb_adds(&got, "--- eval\n");
			eval_all(s, &got);
		}
		spec_free(s);
		if (regen) {
			struct err we;
			write_file_atomic(gold, got.buf, got.len, 0644, &we);
		}
		struct err re;
		if (read_file(gold, 1 << 20, &want, &re) < 0)
			sb_addf(&want, "(missing %s)", gold);
		is_str(got.buf, want.buf, "%s/%s", sub, name);
		sb_release(&got);
		sb_release(&want);
		free(base);
		free(gold);
		free(ents[i]);
	}
	if (n >= 0)
		free(ents);
	ok(count >= 20, "%s has %d cases", sub, count);
	if (back >= 0) {
		if (fchdir(back) < 0)
			ok(0, "back to the start directory");
		close(back);
	}
	free(dir);
}

/* HEALTHCHECK's durations as the image config keeps them (Docker: nanoseconds) */
static void test_duration(void)
{
	static const struct {
		const char *s;
		int64_t ns;
	} good[] = {{"5s", 5000000000LL},   {"1m30s", 90000000000LL},	   {"1.5s", 1500000000LL},
		    {"500ms", 500000000LL}, {"2h", 7200000000000LL},	   {"0", 0},
		    {"3\xc2\xb5s", 3000},   {"1h1m1s1ms", 3661001000000LL}};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		int64_t ns = -7;
		ok(spec_duration(good[i].s, &ns) == 0, "duration %s parses", good[i].s);
		is_int(ns, good[i].ns, "duration %s in ns", good[i].s);
	}
	const char *bad[] = {"", "5", "s", "1.s.", "5x", "--1s"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t ns;
		ok(spec_duration(bad[i], &ns) == -1, "duration '%s' is refused", bad[i]);
	}
}

int main(void)
{
	test_words();
	test_duration();
	test_forms();
	test_positions();
	test_heredocs();
	test_eval();
	test_include();
	test_include_reader();
	const char *root = getenv("SPEC_DIR");
	if (!root || !*root)
		root = "tests/spec";
	golden(root, "good", 0);
	golden(root, "bad", 1);
	return done_testing();
}

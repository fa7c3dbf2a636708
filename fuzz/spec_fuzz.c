/* spec_fuzz.c: libFuzzer target: any bytes as a Crumbfile: parse, dump, and evaluate every
 * instruction. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/spec.h"

/* every variable is set, to a value with blanks, quotes and globs in it */
static const char *any_var(void *ctx, const char *name)
{
	(void)ctx;
	return name[0] == 'U' ? NULL : name[0] == 'E' ? "" : "a b*\"'$X";
}

static void check_err(int r, const struct err *e)
{
	if (r < 0 && (!e->msg[0] || strchr(e->msg, '\n')))
		abort(); /* errors are one line, never empty */
}

static void eval_one(const struct spec *s, const struct spec_instr *in)
{
	struct spec_eval v;
	struct err e;
	struct sbuf sb = SBUF_INIT;
	int r = spec_eval(s, in, any_var, NULL, &v, &e);
	check_err(r, &e);
	if (r == 0) {
		spec_eval_dump(&v, &sb);
		spec_eval_release(&v);
	}
	r = spec_eval(s, in, NULL, NULL, &v, &e);
	check_err(r, &e);
	if (r == 0)
		spec_eval_release(&v);
	if (in->kind == SPEC_ARG) {
		struct spec_kv *kv;
		size_t n;
		if (spec_arg_pairs(s, in, &kv, &n, &e) == 0) {
			for (size_t i = 0; i < n; i++) {
				free(kv[i].key);
				free(kv[i].value);
			}
			free(kv);
		}
	}
	sb_release(&sb);
}

/* INCLUDE "self..." reads the input itself (a name is its id, so the second
 * level is a cycle); any other name does not exist. The parser opens no file. */
struct input {
	const uint8_t *data;
	size_t size;
};

static int read_input(void *ctx, const char *name, const char *path, struct sbuf *out, char **id,
		      struct err *e)
{
	const struct input *in = ctx;
	*id = NULL;
	if (strncmp(name, "self", 4))
		return err_set(e, CRUMB_ENOENT, "%s: No such file or directory", path);
	sb_add(out, (const char *)in->data, in->size);
	*id = xstrdup(name);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spec *s = NULL;
	struct err e;
	struct input in = {data, size};
	struct spec_parse_opts o = {.read = read_input, .read_ctx = &in};
	int r =
	    spec_parse("/nonexistent-crumb-fuzz/Crumbfile", (const char *)data, size, &o, &s, &e);
	check_err(r, &e);
	if (r < 0)
		return 0;
	struct sbuf sb = SBUF_INIT;
	spec_dump(s, &sb);
	sb_release(&sb);
	for (size_t i = 0; i < s->nglobal_args; i++)
		eval_one(s, &s->global_args[i]);
	for (size_t i = 0; i < s->nstages; i++)
		for (size_t j = 0; j < s->stages[i].ninstrs; j++)
			eval_one(s, &s->stages[i].instrs[j]);
	/* the text layer alone, split and not, both escapes */
	struct strlist l = STRLIST_INIT;
	char *text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = 0;
	spec_words(text, '\\', any_var, NULL, 1, &l, &e);
	spec_words(text, '`', any_var, NULL, 0, &l, &e);
	strlist_release(&l);
	free(text);
	spec_free(s);
	return 0;
}

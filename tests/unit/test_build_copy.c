/* test_build_copy.c: COPY/ADD without a builder: destinations, .dockerignore, bounds, keys. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/build_int.h"
#include "tap.h"

static char root[4096];

static void put(const char *rel, const char *s)
{
	char *p = xasprintf("%s/%s", root, rel);
	struct err e;
	char *slash = strrchr(p, '/');
	*slash = 0;
	mkdir_p(p, 0755, &e);
	*slash = '/';
	write_file_atomic(p, s, strlen(s), 0644, &e);
	free(p);
}

static void test_dest(void)
{
	char *p;
	is_str(p = build_dest_path(NULL, "x"), "/x", "a relative dest without WORKDIR is below /");
	free(p);
	is_str(p = build_dest_path("/w", "x/y"), "/w/x/y", "... else below WORKDIR");
	free(p);
	is_str(p = build_dest_path("/w/", "x"), "/w/x", "... one slash between them");
	free(p);
	is_str(p = build_dest_path("/w", "/abs/"), "/abs/", "an absolute dest stays as written");
	free(p);
}

static void test_ignore(void)
{
	struct strlist l = STRLIST_INIT;
	put(".dockerignore", "# a comment\n\n  /a/  \n!./b\r\n**/*.o\n./\n");
	build_load_ignore(root, &l);
	is_int(l.n, 3, "three patterns: comments, blanks and a bare ./ dropped");
	if (l.n == 3) {
		is_str(l.v[0], "a", "leading / and trailing / and blanks go");
		is_str(l.v[1], "!b", "a negation keeps its !, ./ goes, CR goes");
		is_str(l.v[2], "**/*.o", "a ** pattern stays");
	}
	strlist_release(&l);
	char *p = xasprintf("%s/none", root);
	mkdir(p, 0755);
	build_load_ignore(p, &l);
	is_int(l.n, 0, "no .dockerignore: no patterns");
	free(p);
}

/* Runs instruction k of the stage (COPY/ADD) into t. */
static int copy(struct spec *s, size_t k, struct build_copy_env *env, struct tree *t, char key[65],
		struct err *e)
{
	const struct spec_instr *i = &s->stages[0].instrs[k];
	struct spec_eval v;
	spec_eval_init(&v);
	int r = spec_eval(s, i, NULL, NULL, &v, e);
	if (r == 0)
		r = build_copy(env, i, &v, NULL, t, "/app", key, e);
	spec_eval_release(&v);
	return r;
}

static void test_copy(void)
{
	const char *file = "FROM scratch\n"
			   "COPY f1 dir/\n"
			   "COPY sub /s\n"
			   "COPY --chmod=600 f1 /m\n"
			   "COPY nothere /y\n"
			   "COPY ../etc /z\n"
			   "COPY sub/skip.o /o\n";
	struct spec *s = NULL;
	struct err e = {0};
	ok(spec_parse("Crumbfile", file, strlen(file), NULL, &s, &e) == 0, "parse: %s", e.msg);
	if (!s)
		return;
	put("f1", "one");
	put("sub/f2", "two");
	put("sub/skip.o", "object");
	put(".dockerignore", "**/*.o\n");
	struct strlist ign = STRLIST_INIT, allow = STRLIST_INIT;
	build_load_ignore(root, &ign);
	struct build_copy_env env = {root, root, &ign, &allow, 0};
	struct tree t;
	struct tree_node *n;
	char key[65] = "", key2[65];
	tree_init(&t);
	ok(copy(s, 1, &env, &t, key, &e) == 0, "COPY f1 dir/: %s", e.msg);
	ok((n = tree_lookup(&t, "/app/dir/f1", 0)) && n->type == TREE_REG && n->size == 3,
	   "... lands in WORKDIR/dir/");
	ok(strlen(key) == 64, "... and changes the key");
	memcpy(key2, key, sizeof(key));
	ok(copy(s, 2, &env, &t, key, &e) == 0, "COPY sub /s: %s", e.msg);
	ok(tree_lookup(&t, "/s/f2", 0) != NULL, "... a directory's contents");
	ok(tree_lookup(&t, "/s/skip.o", 0) == NULL, "... without what .dockerignore excludes");
	ok(copy(s, 3, &env, &t, key, &e) == 0 && (n = tree_lookup(&t, "/m", 0)) &&
	       (n->mode & 07777) == 0600,
	   "COPY --chmod=600 sets the mode");
	ok(copy(s, 4, &env, &t, key, &e) == CRUMB_ENOENT && strstr(e.msg, "Crumbfile:5:1: ") &&
	       strstr(e.msg, "no such file in the build context"),
	   "a missing source names its position: %s", e.msg);
	ok(copy(s, 5, &env, &t, key, &e) == CRUMB_EUNSAFE &&
	       strstr(e.msg, "outside the build context"),
	   "../ leaves the context: refused: %s", e.msg);
	ok(copy(s, 6, &env, &t, key, &e) == CRUMB_ENOENT &&
	       strstr(e.msg, "excluded by .dockerignore"),
	   "a source .dockerignore excludes: %s", e.msg);
	tree_release(&t);
	/* The same copy into a fresh tree gives the same key: it hashes what was copied. */
	char again[65] = "";
	tree_init(&t);
	ok(copy(s, 1, &env, &t, again, &e) == 0 && !strcmp(again, key2), "the key is reproducible");
	put("f1", "ONE");
	memset(again, 0, sizeof(again));
	ok(copy(s, 1, &env, &t, again, &e) == 0 && strcmp(again, key2),
	   "... and follows the file's contents");
	tree_release(&t);
	strlist_release(&ign);
	spec_free(s);
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(root, sizeof(root), "%s/test_build_copy.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(root)) {
		printf("Bail out! mkdtemp\n");
		return 1;
	}
	char *real = realpath(root, NULL);
	snprintf(root, sizeof(root), "%s", real);
	free(real);
	test_dest();
	test_ignore();
	test_copy();
	struct err e;
	remove_tree(root, &e);
	return done_testing();
}

/* test_store.c: the store, VM state, crumb-init and programs, found from a struct hostenv. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/rootfs.h"
#include "lib/store.h"
#include "lib/vmstate.h"
#include "tap.h"

static char root[4096];

static int is_dir(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static void test_store_root(void)
{
	struct err e = {0};
	char *p = NULL, *want;
	struct hostenv env = {0};
	ok(store_root(NULL, &p, &e) == CRUMB_EINVAL && !p && strstr(e.msg, "CRUMB_HOME"),
	   "no environment: no store: %s", e.msg);
	ok(store_root(&env, &p, &e) == CRUMB_EINVAL, "an empty one: the same");
	env.home = root;
	want = xasprintf("%s/.local/share/crumb", root);
	ok(store_root(&env, &p, &e) == 0 && !strcmp(p, want) && is_dir(p), "HOME: %s", p);
	free(p);
	free(want);
	env.xdg_data_home = want = xasprintf("%s/data", root);
	char *w2 = xasprintf("%s/crumb", want);
	ok(store_root(&env, &p, &e) == 0 && !strcmp(p, w2) && is_dir(p),
	   "XDG_DATA_HOME before HOME: %s", p);
	free(p);
	free(w2);
	free(want);
	env.crumb_home = want = xasprintf("%s/home", root);
	ok(store_root(&env, &p, &e) == 0 && !strcmp(p, want) && is_dir(p),
	   "CRUMB_HOME before both: %s", p);
	free(p);
	free(want);
}

static void test_vmstate_root(void)
{
	struct err e = {0};
	char *p = NULL, *want;
	struct hostenv env = {0};
	env.crumb_home = xasprintf("%s/home", root);
	want = xasprintf("%s/run/vms", env.crumb_home);
	ok(vmstate_root(&env, &p, &e) == 0 && !strcmp(p, want) && is_dir(p),
	   "no XDG_RUNTIME_DIR: the store's run/vms: %s", p);
	free(p);
	free(want);
	env.xdg_runtime_dir = "relative/dir";
	want = xasprintf("%s/run/vms", env.crumb_home);
	ok(vmstate_root(&env, &p, &e) == 0 && !strcmp(p, want), "a relative one is ignored");
	free(p);
	free(want);
	char *rt = xasprintf("%s/rt", root);
	mkdir(rt, 0700);
	env.xdg_runtime_dir = rt;
	want = xasprintf("%s/crumb/vms", rt);
	ok(vmstate_root(&env, &p, &e) == 0 && !strcmp(p, want) && is_dir(p),
	   "XDG_RUNTIME_DIR/crumb/vms: %s", p);
	free(p);
	free(want);
	free(rt);
	free((char *)env.crumb_home);
	ok(vmstate_root(NULL, &p, &e) == CRUMB_EINVAL, "no environment: no store to fall back on");
}

static void test_find(void)
{
	struct err e = {0};
	char *p = NULL;
	struct hostenv env = {0};
	char *init = xasprintf("%s/my-init", root), *bin = xasprintf("%s/bin", root);
	env.crumb_init = init;
	ok(rootfs_find_init(&env, &p, &e) == CRUMB_ENOENT && strstr(e.msg, "CRUMB_INIT="),
	   "CRUMB_INIT naming nothing: %s", e.msg);
	struct err we;
	write_file_atomic(init, "x", 1, 0644, &we);
	ok(rootfs_find_init(&env, &p, &e) == 0 && !strcmp(p, init), "CRUMB_INIT: %s", p);
	free(p);
	mkdir(bin, 0755);
	char *prog = xasprintf("%s/prog", bin), *path = xasprintf("/nonexistent:%s", bin);
	write_file_atomic(prog, "#!/bin/sh\n", 10, 0755, &we);
	ok((p = path_lookup("prog", path)) && !strcmp(p, prog), "path_lookup along the given PATH");
	free(p);
	ok(!path_lookup("prog", "/nonexistent"), "... and only there");
	ok(!path_lookup("prog", NULL) && !path_lookup("prog", ""),
	   "NULL or empty: /usr/bin:/bin (no prog there)");
	ok((p = path_lookup("sh", NULL)) != NULL, "... where sh is");
	free(p);
	free(prog);
	free(path);
	free(init);
	free(bin);
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(root, sizeof(root), "%s/test_store.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(root)) {
		printf("Bail out! mkdtemp\n");
		return 1;
	}
	test_store_root();
	test_vmstate_root();
	test_find();
	struct err e;
	remove_tree(root, &e);
	return done_testing();
}

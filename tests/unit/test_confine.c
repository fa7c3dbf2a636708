/* test_confine.c: the build's trust boundary: context paths, symlinks out, host file rules. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/confine.h"
#include "tap.h"

static char *tmp;

static char *at(const char *rel)
{
	return xasprintf("%s/%s", tmp, rel);
}

static void put(const char *rel, mode_t mode)
{
	char *p = at(rel);
	FILE *f = fopen(p, "w");
	if (f) {
		fputs("x\n", f);
		fclose(f);
	}
	chmod(p, mode);
	free(p);
}

static void link_to(const char *target, const char *rel)
{
	char *p = at(rel);
	if (symlink(target, p) < 0)
		ok(0, "symlink %s", p);
	free(p);
}

static int path_rc(const char *root, const char *rel)
{
	struct err e;
	char *real = NULL;
	int r = confine_path(root, rel, &real, &e);
	free(real);
	return r;
}

int main(void)
{
	char tmpl[] = "/tmp/crumb-confine-XXXXXX";
	tmp = mkdtemp(tmpl);
	ok(tmp != NULL, "a temporary directory");
	if (!tmp)
		return done_testing();

	ok(confine_inside("/a/b", "/a"), "/a/b is inside /a");
	ok(confine_inside("/a", "/a"), "/a is inside /a");
	ok(!confine_inside("/ab", "/a"), "/ab is not inside /a");
	ok(confine_inside("/x/y", "/"), "everything is inside /");

	/* tmp/ctx: the context; tmp/out: elsewhere */
	char *ctx = at("ctx"), *out = at("out");
	mkdir(ctx, 0755);
	mkdir(out, 0755);
	put("ctx/f", 0644);
	put("out/secret", 0600);
	put("out/pub", 0644);
	char *secret = at("out/secret");
	link_to(secret, "ctx/link-out");
	link_to("f", "ctx/link-in");
	char *sub = at("ctx/sub");
	mkdir(sub, 0755);
	free(sub);

	struct err e;
	char *real = NULL;
	is_int(confine_path(ctx, "f", &real, &e), 0, "a file in the context");
	char *want = at("ctx/f");
	char *rctx = realpath(ctx, NULL);
	ok(real && rctx && !strncmp(real, rctx, strlen(rctx)), "... resolved inside it (%s)",
	   real ? real : "");
	free(real);
	free(want);
	is_int(path_rc(ctx, "link-in"), 0, "a symlink within the context");
	is_int(path_rc(ctx, "sub/../f"), 0, "sub/../f stays inside");
	is_int(path_rc(ctx, "/etc/passwd"), CRUMB_EUNSAFE, "an absolute path is refused");
	is_int(path_rc(ctx, "../out/pub"), CRUMB_EUNSAFE, "../ is refused");
	is_int(path_rc(ctx, "sub/../../out/pub"), CRUMB_EUNSAFE, "sub/../../ is refused");
	is_int(path_rc(ctx, "link-out"), CRUMB_EUNSAFE, "a symlink out of the context is refused");
	is_int(path_rc(ctx, "missing"), CRUMB_ENOENT, "a missing file is ENOENT");
	confine_path(ctx, "link-out", &real, &e);
	ok(strstr(e.msg, "outside the build context") != NULL, "... saying so: %s", e.msg);

	/* confine_links: a layout's blob linking out */
	char *layout = at("ctx/layout");
	mkdir(layout, 0755);
	link_to("../f", "ctx/layout/blob-in");
	is_int(confine_links(ctx, layout, &e), 0, "links inside the context pass");
	link_to("/etc/passwd", "ctx/layout/blob-out");
	is_int(confine_links(ctx, layout, &e), CRUMB_EUNSAFE,
	       "a link out of the context is refused");

	/* host files */
	struct strlist allow = STRLIST_INIT;
	if (access("/usr/share/common-licenses/GPL-3", R_OK) == 0)
		is_int(confine_host("/usr/share/common-licenses/GPL-3", NULL, &e), 0,
		       "a world-readable file under /usr passes");
	else
		ok(1, "# SKIP no /usr/share/common-licenses/GPL-3");
	is_int(confine_host("/usr/share/common-licenses", NULL, &e), 0,
	       "a world-readable directory under /usr passes, walked");
	char *rout = realpath(out, NULL);
	char *pub = xasprintf("%s/pub", rout), *rsecret = xasprintf("%s/secret", rout);
	is_int(confine_host(pub, NULL, &e), CRUMB_EUNSAFE,
	       "a file outside the system directories is refused");
	ok(strstr(e.msg, "--allow-host") != NULL, "... naming --allow-host: %s", e.msg);
	strlist_push(&allow, rout);
	is_int(confine_host(pub, &allow, &e), 0, "... allowed by a directory above it");
	is_int(confine_host(rsecret, &allow, &e), 0, "a 0600 file allowed by --allow-host passes");
	is_int(confine_host_file(rsecret, NULL, &e), CRUMB_EUNSAFE,
	       "... refused without it (file rule)");
	strlist_release(&allow);
	struct stat st;
	if (stat("/etc/shadow", &st) == 0 && !(st.st_mode & S_IROTH)) {
		is_int(confine_host("/etc/shadow", NULL, &e), CRUMB_EUNSAFE,
		       "/etc/shadow is refused");
		ok(strstr(e.msg, "not readable by every user") != NULL,
		   "... as not world-readable");
		is_int(confine_host("/etc", NULL, &e), CRUMB_EUNSAFE,
		       "/etc as a directory is refused (a private file inside)");
		strlist_push(&allow, "/etc/shadow");
		is_int(confine_host_file("/etc/shadow", &allow, &e), 0, "... unless allowed");
		strlist_release(&allow);
	} else {
		for (int i = 0; i < 4; i++)
			ok(1, "# SKIP no private /etc/shadow");
	}
	is_int(confine_host("/", NULL, &e), CRUMB_EUNSAFE, "/ is not a system directory");

	char *cmd = xasprintf("rm -rf '%s'", tmp);
	if (system(cmd) != 0)
		ok(0, "cleanup");
	free(cmd);
	free(pub);
	free(rsecret);
	free(rout);
	free(rctx);
	free(layout);
	free(secret);
	free(ctx);
	free(out);
	return done_testing();
}

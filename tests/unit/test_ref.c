/* test_ref.c: Docker references (ref.c) and Docker's config.json credentials (creds.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/creds.h"
#include "lib/ref.h"
#include "lib/util.h"
#include "tap.h"

#define DG "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* parses s and checks it reads as "domain|path|tag|digest" (NULL parts as "-") */
static void parses(const char *s, const char *want)
{
	struct imgref r;
	struct err e = {0};
	int rc = imgref_parse(s, &r, &e);
	char got[512] = "error";
	if (rc == 0)
		snprintf(got, sizeof(got), "%s|%s|%s|%s", r.domain, r.path, r.tag ? r.tag : "-",
			 r.digest ? r.digest : "-");
	is_str(got, want, "'%s' %s", s, rc ? e.msg : "");
	if (rc == 0)
		imgref_release(&r);
}

static void refused(const char *s, const char *why)
{
	struct imgref r;
	struct err e = {0};
	int rc = imgref_parse(s, &r, &e);
	ok(rc == CRUMB_EINVAL && strstr(e.msg, why) && !strchr(e.msg, '\n'),
	   "'%s' is refused (%s): %s", s, why, e.msg);
	if (rc == 0)
		imgref_release(&r);
}

static void references(void)
{
	parses("alpine", "docker.io|library/alpine|latest|-");
	parses("alpine:3.19", "docker.io|library/alpine|3.19|-");
	parses("me/app", "docker.io|me/app|latest|-");
	parses("docker.io/alpine", "docker.io|library/alpine|latest|-");
	parses("index.docker.io/me/app:1", "docker.io|me/app|1|-");
	parses("localhost/app", "localhost|app|latest|-");
	parses("localhost:5000/a/b/c:v2", "localhost:5000|a/b/c|v2|-");
	parses("127.0.0.1:5000/debian:bookworm", "127.0.0.1:5000|debian|bookworm|-");
	parses("registry.example.com/team/svc", "registry.example.com|team/svc|latest|-");
	parses("alpine@" DG, "docker.io|library/alpine|-|" DG);
	parses("host:5000/x:1@" DG, "host:5000|x|1|" DG);
	/* a first component without '.' or ':' is a path component, not a host */
	parses("team/app:1", "docker.io|team/app|1|-");
	refused("Alpine", "lowercase");
	refused("alpine@sha256:abc", "a digest is sha256:");
	refused("alpine@md5:" DG, "a digest is sha256:");
	refused("a:b:c", "invalid reference");
	refused("", "empty");
	refused("alpine:-x", "a tag is");

	struct imgref r;
	struct err e = {0};
	ok(imgref_parse("127.0.0.1:5000/a/b:9@" DG, &r, &e) == 0, "parse for the renderers");
	char *s = imgref_string(&r), *n = imgref_store_name(&r), *repo = imgref_repo(&r);
	is_str(s, "127.0.0.1:5000/a/b:9@" DG, "imgref_string");
	is_str(n, "127.0.0.1:5000/a/b:9", "imgref_store_name: the tag, no digest");
	is_str(repo, "127.0.0.1:5000/a/b", "imgref_repo");
	is_str(imgref_api_host(&r), "127.0.0.1:5000", "the API host of a named registry");
	free(s), free(n), free(repo);
	imgref_release(&r);
	ok(imgref_parse("busybox@" DG, &r, &e) == 0, "a digest alone");
	ok(imgref_store_name(&r) == NULL, "... has no store name (stored untagged)");
	is_str(imgref_api_host(&r), "registry-1.docker.io", "docker.io's API host");
	imgref_release(&r);
	ok(ref_has_domain("a.b/c") && ref_has_domain("h:1/c") && ref_has_domain("localhost/c") &&
	       !ref_has_domain("me/app") && !ref_has_domain("app:1"),
	   "ref_has_domain: '.', ':' or localhost in a first component");
}

static void credentials(void)
{
	char dir[] = "/tmp/crumb-test-creds.XXXXXX";
	ok(mkdtemp(dir) != NULL, "a temp dir");
	char *path = xasprintf("%s/sub/config.json", dir);
	struct err e = {0};
	char *u = NULL, *p = NULL;
	is_int(creds_get(path, "h:5000", &u, &p, &e), CRUMB_ENOENT, "no file: no credentials");
	ok(creds_set(path, "h:5000", "me", "pa:ss word", &e) == 0, "set: %s", e.msg);
	struct stat st;
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "the file is mode 0600");
	struct sbuf b = SBUF_INIT;
	ok(read_file(path, 1 << 20, &b, &e) == 0 && strstr(b.buf, "\"h:5000\"") &&
	       strstr(b.buf, "bWU6cGE6c3Mgd29yZA=="),
	   "kept as Docker keeps it: auths.HOST.auth = base64(user:password)");
	sb_release(&b);
	ok(creds_get(path, "https://h:5000/v2/", &u, &p, &e) == 0 && !strcmp(u, "me") &&
	       !strcmp(p, "pa:ss word"),
	   "found again (a URL reduces to its host), the ':' in the password kept");
	free(u), free(p);
	ok(creds_set(path, "docker.io", "hub", "x", &e) == 0, "docker.io");
	ok(read_file(path, 1 << 20, &b, &e) == 0 && strstr(b.buf, "https://index.docker.io/v1/"),
	   "... is filed under https://index.docker.io/v1/ as Docker files it");
	sb_release(&b);
	ok(creds_get(path, "registry-1.docker.io", &u, &p, &e) == 0 && !strcmp(u, "hub"),
	   "... and found for registry-1.docker.io");
	free(u), free(p);
	is_int(creds_remove(path, "h:5000", &e), 1, "remove");
	is_int(creds_remove(path, "h:5000", &e), 0, "remove again: nothing there");
	is_int(creds_get(path, "h:5000", &u, &p, &e), CRUMB_ENOENT, "gone");
	ok(creds_get(path, "docker.io", &u, &p, &e) == 0, "the other entry stays");
	free(u), free(p);
	const char *nocolon = "{\"auths\":{\"h\":{\"auth\":\"bm9jb2xvbg==\"}}}";
	write_file_atomic(path, nocolon, strlen(nocolon), 0600, &e);
	ok(creds_get(path, "h", &u, &p, &e) == CRUMB_EFORMAT && strstr(e.msg, "user:password"),
	   "an auth without ':' is refused in one line: %s", e.msg);
	write_file_atomic(path, "[1", 2, 0600, &e);
	ok(creds_get(path, "h", &u, &p, &e) == CRUMB_EFORMAT && strstr(e.msg, path),
	   "a file that is not JSON is named: %s", e.msg);
	struct hostenv env = {.home = "/home/x"};
	char *cp = NULL;
	ok(creds_path(&env, &cp, &e) == 0 && !strcmp(cp, "/home/x/.docker/config.json"),
	   "~/.docker/config.json by default");
	free(cp);
	env.docker_config = "/etc/dc";
	ok(creds_path(&env, &cp, &e) == 0 && !strcmp(cp, "/etc/dc/config.json"),
	   "$DOCKER_CONFIG/config.json when set");
	free(cp);
	remove_tree(dir, &e);
	free(path);
}

int main(void)
{
	references();
	credentials();
	return done_testing();
}

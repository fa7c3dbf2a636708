/* test_saveload.c: save plans and archives (sorted, deterministic, docker manifest only for tar
 * layers), load round trips with the same digests, damaged archives leaving the store as it
 * was, oci_index_add, docker_archive_image. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/import.h"
#include "lib/oci.h"
#include "lib/saveload.h"
#include "tap.h"

static char root[256];

static char *path(const char *name)
{
	return xasprintf("%s/%s", root, name);
}

/* A store at root/name with image a:1 (kernel + rootfs layers) and c:1 (one tar layer). */
static struct oci_store *make_store(const char *name, struct oci_desc *ma, struct oci_desc *mc)
{
	char *p = path(name);
	struct oci_store *s = NULL;
	struct err e = {0};
	struct oci_desc l[2], t;
	struct oci_config c;
	oci_config_init(&c);
	strlist_push(&c.cmd, "/bin/true");
	if (oci_open(p, &s, &e) < 0 ||
	    oci_blob_put_mem(s, "kernel bytes", 12, OCI_MT_KERNEL, &l[0], &e) < 0 ||
	    oci_blob_put_mem(s, "rootfs bytes", 12, OCI_MT_ROOTFS_CPIO, &l[1], &e) < 0 ||
	    oci_image_commit(s, "a:1", &c, l, 2, ma, &e) < 0 ||
	    oci_blob_put_mem(s, "tar layer bytes", 15, "application/vnd.oci.image.layer.v1.tar", &t,
			     &e) < 0 ||
	    oci_image_commit(s, "c:1", &c, &t, 1, mc, &e) < 0)
		printf("# make_store: %s\n", e.msg);
	oci_config_release(&c);
	free(p);
	return s;
}

static void test_plan(void)
{
	struct oci_desc ma, mc;
	struct oci_store *s = make_store("plan", &ma, &mc);
	struct strlist names = STRLIST_INIT;
	struct save_plan p;
	struct err e = {0};
	strlist_push(&names, "a:1");
	strlist_push(&names, "c:1");
	strlist_push(&names, "a:1");
	ok(save_plan_make(s, &names, &p, &e) == 0, "plan a:1 c:1 a:1 (%s)", e.msg);
	is_int(p.nimages, 2, "... the same name twice is one image");
	is_int(p.nblobs, 7, "... every blob once: 2 manifests, 2 configs, 3 layers");
	int sorted = 1;
	for (size_t i = 1; i < p.nblobs; i++)
		sorted &= strcmp(p.blobs[i - 1].digest, p.blobs[i].digest) < 0;
	ok(sorted, "... blobs sorted by digest");
	ok(strstr(p.index.buf, "\"io.containerd.image.name\":\"a:1\"") &&
	       strstr(p.index.buf, "\"org.opencontainers.image.ref.name\":\"1\""),
	   "... index.json: NAME:TAG and the tag: %s", p.index.buf);
	ok(p.index.buf < strstr(p.index.buf, ma.digest) &&
	       strstr(p.index.buf, ma.digest) < strstr(p.index.buf, mc.digest),
	   "... in the order asked");
	ok(p.docker.len && strstr(p.docker.buf, "\"RepoTags\":[\"c:1\"]") &&
	       !strstr(p.docker.buf, "a:1"),
	   "... manifest.json lists only the tar-layer image: %s", p.docker.buf);
	save_plan_release(&p);

	strlist_release(&names);
	strlist_push(&names, "a:1");
	ok(save_plan_make(s, &names, &p, &e) == 0 && p.docker.len == 0,
	   "a crumb image alone: no manifest.json");
	save_plan_release(&p);
	strlist_release(&names);
	strlist_push(&names, ma.digest);
	ok(save_plan_make(s, &names, &p, &e) == 0 && p.nimages == 1 && p.images[0].ref &&
	       !strcmp(p.images[0].ref, "a:1"),
	   "by digest: the image's tag");
	save_plan_release(&p);
	strlist_release(&names);
	strlist_push(&names, "nosuch");
	ok(save_plan_make(s, &names, &p, &e) == CRUMB_ENOENT, "a missing image: %s", e.msg);
	save_plan_release(&p);
	strlist_release(&names);
	oci_close(s);
}

static void test_roundtrip(void)
{
	struct oci_desc ma, mc;
	struct oci_store *s = make_store("src", &ma, &mc), *d = NULL, *c = NULL;
	struct strlist names = STRLIST_INIT;
	struct save_plan p;
	struct err e = {0};
	struct sbuf x = SBUF_INIT, y = SBUF_INIT;
	char *t1 = path("one.tar"), *t2 = path("two.tar"), *dst = path("dst"), *cs = path("c");
	strlist_push(&names, "a:1");
	strlist_push(&names, "c:1");
	ok(save_plan_make(s, &names, &p, &e) == 0 && save_write_file(s, &p, 0, t1, &e) == 0 &&
	       save_write_file(s, &p, 0, t2, &e) == 0,
	   "save twice (%s)", e.msg);
	read_file(t1, 1 << 20, &x, &e);
	read_file(t2, 1 << 20, &y, &e);
	ok(x.len && x.len == y.len && !memcmp(x.buf, y.buf, x.len), "... the same bytes");
	ok(x.len % 512 == 0 && x.len < 10240 + 4096, "... 512-byte records, no block padding (%zu)",
	   x.len);
	save_plan_release(&p);

	struct load_opts o = {.path = t1};
	struct load_result r;
	ok(oci_open(dst, &d, &e) == 0 && load_archive(d, &o, &r, &e) == 0, "load it (%s)", e.msg);
	ok(r.n == 2 && r.images[0].ref && !strcmp(r.images[0].ref, "a:1") &&
	       !strcmp(r.images[0].manifest.digest, ma.digest) && r.images[1].ref &&
	       !strcmp(r.images[1].ref, "c:1") && !strcmp(r.images[1].manifest.digest, mc.digest),
	   "... a:1 and c:1 with their digests");
	load_result_release(&r);
	struct oci_image im;
	ok(oci_image_resolve(d, "c:1", &im, &e) == 0 && !strcmp(im.manifest.digest, mc.digest) &&
	       oci_image_verify(d, &im, 0, &e) == 0,
	   "... c:1 resolves and verifies in the new store");
	oci_image_release(&im);

	/* a flipped byte in the rootfs blob: refused, the store untouched */
	char *at = memmem(x.buf, x.len, "rootfs bytes", 12);
	if (at)
		at[3] ^= 1;
	write_file_atomic(t2, x.buf, x.len, 0644, &e);
	struct sbuf before = SBUF_INIT, after = SBUF_INIT;
	char *ci = path("c/index.json");
	ok(oci_open(cs, &c, &e) == 0 && read_file(ci, 1 << 20, &before, &e) == 0, "a third store");
	o.path = t2;
	int rc = load_archive(c, &o, &r, &e);
	ok(rc == CRUMB_EFORMAT && strstr(e.msg, "corrupt") && strstr(e.msg, "two.tar") &&
	       !strstr(e.msg, ".load-"),
	   "a flipped byte is refused: %s", e.msg);
	read_file(ci, 1 << 20, &after, &e);
	ok(before.len == after.len && !memcmp(before.buf, after.buf, after.len),
	   "... index.json as it was");
	struct strlist blobs = STRLIST_INIT, top = STRLIST_INIT;
	char *cb = path("c/blobs/sha256");
	dir_list(cb, &blobs, &e);
	dir_list(cs, &top, &e);
	ok(blobs.n == 0, "... no blob added (%zu)", blobs.n);
	int priv = 0;
	for (size_t i = 0; i < top.n; i++)
		priv |= !strncmp(top.v[i], ".load-", 6);
	ok(!priv, "... no private directory left");
	strlist_release(&blobs);
	strlist_release(&top);

	/* a member bigger than the limit */
	o.path = t1;
	o.max_bytes = 8;
	ok(load_archive(c, &o, &r, &e) == CRUMB_EUNSAFE && strstr(e.msg, "declares"),
	   "a member over max_bytes: %s", e.msg);

	/* a damaged store blob: save fails, nothing at the path */
	char *bp = oci_blob_path(s, mc.digest), *t3 = path("three.tar");
	struct stat st;
	sh("printf x >> %s", bp);
	ok(save_plan_make(s, &names, &p, &e) == CRUMB_EFORMAT || save_plan_verify(s, &p, &e) < 0,
	   "a damaged manifest is refused: %s", e.msg);
	save_plan_release(&p);
	free(bp);
	ok(oci_image_resolve(s, "a:1", &im, &e) == 0, "a:1 still reads");
	bp = oci_blob_path(s, im.layers[1].digest);
	oci_image_release(&im);
	sh("printf x >> %s", bp);
	strlist_release(&names);
	strlist_push(&names, "a:1");
	ok(save_plan_make(s, &names, &p, &e) == 0, "plan a:1 with a damaged layer");
	ok(save_plan_verify(s, &p, &e) == CRUMB_EFORMAT, "... verify refuses it: %s", e.msg);
	ok(save_write_file(s, &p, 0, t3, &e) == CRUMB_EFORMAT && strstr(e.msg, "image a:1"),
	   "... so does the write: %s", e.msg);
	ok(stat(t3, &st) < 0, "... and leaves no file");
	save_plan_release(&p);
	free(bp);

	free(ci);
	free(cb);
	free(t3);
	sb_release(&before);
	sb_release(&after);
	sb_release(&x);
	sb_release(&y);
	strlist_release(&names);
	oci_close(s);
	oci_close(d);
	oci_close(c);
	free(t1);
	free(t2);
	free(dst);
	free(cs);
}

static void test_index_add(void)
{
	struct oci_desc ma, mc, bogus;
	struct oci_store *s = make_store("idx", &ma, &mc);
	struct err e = {0};
	struct oci_image im;
	const char *refs[3] = {"x:1", NULL, "Bad Name"};
	struct oci_desc ms[3] = {ma, mc, mc};
	char *ip = path("idx/index.json");
	struct sbuf before = SBUF_INIT, after = SBUF_INIT;
	read_file(ip, 1 << 20, &before, &e);
	ok(oci_index_add(s, refs, ms, 3, &e) == CRUMB_EINVAL, "a bad name: %s", e.msg);
	read_file(ip, 1 << 20, &after, &e);
	ok(before.len == after.len && !memcmp(before.buf, after.buf, after.len),
	   "... nothing written");
	bogus = ma;
	memcpy(bogus.digest + 7, "0000", 4);
	ms[2] = bogus;
	refs[2] = "y:1";
	ok(oci_index_add(s, refs, ms, 3, &e) == CRUMB_EINVAL && strstr(e.msg, "not a blob"),
	   "a manifest not in the store: %s", e.msg);
	ok(oci_index_add(s, refs, ms, 2, &e) == 0, "x:1 and an untagged c");
	ok(oci_image_resolve(s, "x:1", &im, &e) == 0 && !strcmp(im.manifest.digest, ma.digest),
	   "... x:1 is a's image");
	oci_image_release(&im);
	sb_reset(&before);
	read_file(ip, 1 << 20, &before, &e);
	ok(oci_index_add(s, refs + 1, ms + 1, 1, &e) == 0, "the untagged c again");
	sb_reset(&after);
	read_file(ip, 1 << 20, &after, &e);
	ok(before.len == after.len, "... listed once");
	sb_release(&before);
	sb_release(&after);
	free(ip);
	oci_close(s);
}

static void test_docker_image(void)
{
	struct sbuf cfg = SBUF_INIT;
	struct strlist ls = STRLIST_INIT, ns = STRLIST_INIT, tags = STRLIST_INIT;
	struct err e = {0};
	size_t count = 0;
	char *out = path("dock");
	mkdir(out, 0700);
	int r = docker_archive_image("fuzz/corpus/import/docker-twice.tar", out, 0, 0, &cfg, &ls,
				     &ns, &tags, &count, &e);
	ok(r == 1 && count == 1 && tags.n == 1 && !strcmp(tags.v[0], "x:1") && ls.n == 2,
	   "docker_archive_image: RepoTags and the count (%s)", r < 0 ? e.msg : "");
	strlist_release(&ls);
	strlist_release(&ns);
	strlist_release(&tags);
	sb_reset(&cfg);
	r = docker_archive_image("fuzz/corpus/import/docker-twice.tar", out, 0, 1, &cfg, &ls, &ns,
				 &tags, &count, &e);
	ok(r == CRUMB_EFORMAT, "an image past the last: %s", e.msg);
	strlist_release(&ls);
	strlist_release(&ns);
	strlist_release(&tags);
	sb_release(&cfg);
	free(out);
}

int main(void)
{
	snprintf(root, sizeof(root), "%s/test_saveload.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(root)) {
		printf("Bail out! mkdtemp\n");
		return 1;
	}
	test_plan();
	test_roundtrip();
	test_index_add();
	test_docker_image();
	struct err e;
	remove_tree(root, &e);
	return done_testing();
}

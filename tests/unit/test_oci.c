/* test_oci.c: the image store: references, config JSON, commit/resolve/list/tag/untag/prune, cache,
 * corruption, races. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/import.h"
#include "lib/oci.h"
#include "lib/vread.h"
#include "tap.h"

static char root[256];

static const char *A64 = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
static const char *B64 = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

static void test_refs(void)
{
	static const struct {
		const char *in, *want; /* want NULL: rejected */
	} t[] = {
	    {"sshd", "sshd:latest"},
	    {"sshd:1.0", "sshd:1.0"},
	    {"library/sshd", "library/sshd:latest"},
	    {"a/b/c:v_1.2-rc", "a/b/c:v_1.2-rc"},
	    {"localhost:5000/a/b:v1", "localhost:5000/a/b:v1"},
	    {"localhost:5000/a", "localhost:5000/a:latest"},
	    {"localhost/a", "localhost/a:latest"},
	    {"Registry.Example.com/x", "Registry.Example.com/x:latest"},
	    {"localhost:5000", "localhost:5000"}, /* Docker: name localhost, tag 5000 */
	    {"a.b", "a.b:latest"},
	    {"a_b", "a_b:latest"},
	    {"a__b", "a__b:latest"},
	    {"a-----b", "a-----b:latest"},
	    {"a:_x", "a:_x"},
	    {"a:X.Y-Z", "a:X.Y-Z"},
	    {"0", "0:latest"},
	    {"", NULL},
	    {"Sshd", NULL},
	    {"sshD:1", NULL},
	    {"a/", NULL},
	    {"/a", NULL},
	    {"a//b", NULL},
	    {"-a", NULL},
	    {"a-", NULL},
	    {"a___b", NULL},
	    {"a..b", NULL},
	    {"a._b", NULL},
	    {"a:", NULL},
	    {"a:-x", NULL},
	    {"a:.x", NULL},
	    {"a:x/y", NULL},
	    {"a b", NULL},
	    {"a\nb", NULL},
	    {"a@sha256:aaaa", NULL},
	    {":tag", NULL},
	    {"bad_host.com:x/a", NULL},
	    {"-bad.com/a", NULL},
	    {"a!b", NULL},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct err e = {0};
		char *out = NULL;
		int r = oci_ref_normalize(t[i].in, &out, &e);
		if (t[i].want)
			is_str(r == 0 ? out : e.msg, t[i].want, "ref '%s' -> '%s'", t[i].in,
			       t[i].want);
		else
			ok(r == CRUMB_EINVAL && e.msg[0] && !strchr(e.msg, '\n'),
			   "ref '%s' rejected: %s",
			   t[i].in[0] == '\n' || strchr(t[i].in, '\n') ? "(nl)" : t[i].in, e.msg);
		free(out);
	}
	char tag[140] = "a:";
	memset(tag + 2, 'x', 128);
	char *out = NULL;
	struct err e = {0};
	ok(oci_ref_normalize(tag, &out, &e) == 0, "a 128-character tag is fine");
	free(out);
	out = NULL;
	strcat(tag, "x");
	ok(oci_ref_normalize(tag, &out, &e) == CRUMB_EINVAL, "a 129-character tag is not");
	ok(oci_ref_normalize("Abc", &out, &e) < 0 && strstr(e.msg, "lowercase"),
	   "an uppercase name says why: %s", e.msg);
}

static void fill_config(struct oci_config *c)
{
	oci_config_init(c);
	strlist_push(&c->entrypoint, "/bin/sh");
	strlist_push(&c->entrypoint, "-c");
	strlist_push(&c->cmd, "echo hi");
	strlist_push(&c->env, "A=1");
	c->workdir = xstrdup("/w");
	c->user = xstrdup("u");
	c->stop_signal = xstrdup("SIGTERM");
	strlist_push(&c->exposed, "80/tcp");
	strlist_push(&c->volumes, "/data");
	strlist_push(&c->label_keys, "z");
	strlist_push(&c->label_values, "last");
	strlist_push(&c->label_keys, "crumb.memory");
	strlist_push(&c->label_values, "256");
	strlist_push(&c->healthcheck, "CMD-SHELL");
	strlist_push(&c->healthcheck, "true");
	c->hc_interval = 5000000000LL;
	c->hc_timeout = 90000000000LL;
	c->hc_start_period = 1500000000LL;
	c->hc_retries = 4;
	strlist_push(&c->onbuild, "RUN x");
	c->created = xstrdup("1970-01-01T00:00:00Z");
}

static void test_config(void)
{
	struct oci_config c, d;
	struct oci_desc layers[2];
	struct sbuf a = SBUF_INIT, b = SBUF_INIT;
	struct err e = {0};
	memset(layers, 0, sizeof(layers));
	strcpy(layers[0].digest, A64);
	strcpy(layers[1].digest, B64);
	fill_config(&c);
	ok(oci_config_render(&c, layers, 2, &a, &e) == 0, "render a full config");
	char *want = xasprintf(
	    "{\"architecture\":\"amd64\",\"config\":{\"Cmd\":[\"echo hi\"],\"Entrypoint\":[\"/bin/"
	    "sh\",\"-c\"],\"Env\":[\"A=1\"],\"ExposedPorts\":{\"80/tcp\":{}},\"Healthcheck\":{"
	    "\"Interval\":5000000000,\"Retries\":4,\"StartPeriod\":1500000000,\"Test\":[\"CMD-"
	    "SHELL\",\"true\"],\"Timeout\":90000000000},\"Labels\":{\"crumb.memory\":\"256\",\"z\":"
	    "\"last\"},\"OnBuild\":[\"RUN x\"],\"StopSignal\":\"SIGTERM\",\"User\":\"u\","
	    "\"Volumes\":{\"/data\":{}},\"WorkingDir\":\"/w\"},\"created\":\"1970-01-01T00:00:"
	    "00Z\",\"os\":\"linux\",\"rootfs\":{\"diff_ids\":[\"%s\",\"%s\"],\"type\":\"layers\"}}",
	    A64, B64);
	is_str(a.buf, want, "canonical bytes: sorted keys, compact");
	free(want);
	oci_config_init(&d);
	ok(oci_config_parse(a.buf, a.len, &d, &e) == 0, "parse it back: %s", e.msg);
	is_str(d.workdir, "/w", "WorkingDir");
	is_str(d.user, "u", "User");
	is_str(d.stop_signal, "SIGTERM", "StopSignal");
	is_str(oci_config_label(&d, "crumb.memory"), "256", "label crumb.memory");
	ok(oci_config_label(&d, "nope") == NULL, "a missing label is NULL");
	is_int(d.entrypoint.n, 2, "Entrypoint has 2");
	is_str(d.healthcheck.n == 2 ? d.healthcheck.v[1] : NULL, "true", "Healthcheck.Test");
	is_int(d.hc_interval, 5000000000LL, "Healthcheck.Interval in ns");
	is_int(d.hc_timeout, 90000000000LL, "Healthcheck.Timeout in ns");
	is_int(d.hc_start_period, 1500000000LL, "Healthcheck.StartPeriod in ns");
	is_int(d.hc_start_interval, 0, "Healthcheck.StartInterval unset");
	is_int(d.hc_retries, 4, "Healthcheck.Retries");
	ok(oci_config_render(&d, layers, 2, &b, &e) == 0 && !strcmp(a.buf, b.buf),
	   "render(parse(render(c))) gives the same bytes");
	oci_config_release(&d);
	oci_config_release(&c);
	sb_reset(&a);
	/* an empty config: unset fields are left out */
	oci_config_init(&c);
	ok(oci_config_render(&c, NULL, 0, &a, &e) == 0, "render an empty config");
	is_str(a.buf,
	       "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"diff_ids\":[],\"type\":"
	       "\"layers\"}}",
	       "... has no config, created or fields");
	/* Docker-style nulls and empty strings are unset */
	const char *docker =
	    "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Cmd\":null,"
	    "\"Entrypoint\":null,\"WorkingDir\":\"\",\"Labels\":null,\"Env\":[\"P=/"
	    "bin\"]},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}";
	ok(oci_config_parse(docker, strlen(docker), &c, &e) == 0 && !c.cmd.n && !c.workdir &&
	       c.env.n == 1,
	   "a Docker config with nulls parses: %s", e.msg);
	oci_config_release(&c);
	static const char *bad[] = {
	    "[]",
	    "{\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}",
	    "{\"architecture\":\"amd64\",\"os\":\"linux\"}",
	    "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\","
	    "\"diff_ids\":[\"sha256:zz\"]}}",
	    "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Cmd\":\"sh\"},\"rootfs\":{"
	    "\"type\":\"layers\",\"diff_ids\":[]}}",
	    "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Env\":[1]},\"rootfs\":{"
	    "\"type\":\"layers\",\"diff_ids\":[]}}",
	    "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Labels\":{\"a\":1}},"
	    "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}",
	    "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Healthcheck\":{"
	    "\"Interval\":\"5s\"}},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}",
	    "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Healthcheck\":{"
	    "\"Retries\":-1}},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}",
	    "{\"architecture\":\"amd64\",\"architecture\":\"arm64\"}",
	    "{\"architecture\":\"amd64\"",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		oci_config_init(&c);
		int r = oci_config_parse(bad[i], strlen(bad[i]), &c, &e);
		ok(r == CRUMB_EFORMAT && !strchr(e.msg, '\n'), "bad config %zu rejected: %s", i,
		   e.msg);
		oci_config_release(&c);
	}
	sb_release(&a);
	sb_release(&b);
}

static char *path_in(const char *rel)
{
	return xasprintf("%s/%s", root, rel);
}

static void write_str(const char *path, const char *s)
{
	struct err e;
	write_file_atomic(path, s, strlen(s), 0644, &e);
}

/* Kernel + rootfs blobs and a commit of ref with one label. */
static const char *make_created; /* the config's created, NULL: none */

static int make_image(struct oci_store *s, const char *ref, const char *kernel, const char *label,
		      struct oci_desc *m, struct err *e)
{
	struct oci_desc l[2];
	struct oci_config c;
	int r;
	if ((r = oci_blob_put_mem(s, kernel, strlen(kernel), OCI_MT_KERNEL, &l[0], e)) < 0 ||
	    (r = oci_blob_put_mem(s, "070701rootfs", 12, OCI_MT_ROOTFS_CPIO, &l[1], e)) < 0)
		return r;
	oci_config_init(&c);
	strlist_push(&c.cmd, "/bin/true");
	strlist_push(&c.label_keys, "l");
	strlist_push(&c.label_values, label);
	c.created = make_created ? xstrdup(make_created) : NULL;
	r = oci_image_commit(s, ref, &c, l, 2, m, e);
	oci_config_release(&c);
	return r;
}

static void test_store(void)
{
	struct oci_store *s = NULL;
	struct err e = {0};
	struct oci_desc d, m1, m2;
	struct sbuf b = SBUF_INIT;
	struct stat st;
	ok(oci_open(root, &s, &e) == 0, "open a new store: %s", e.msg);
	char *p = path_in("oci-layout");
	ok(read_file(p, 1000, &b, &e) == 0 && !strcmp(b.buf, "{\"imageLayoutVersion\":\"1.0.0\"}"),
	   "oci-layout written");
	free(p);
	sb_reset(&b);
	p = path_in("index.json");
	ok(read_file(p, 1000, &b, &e) == 0 &&
	       !strcmp(b.buf, "{\"manifests\":[],\"mediaType\":"
			      "\"application/vnd.oci.image.index.v1+json\",\"schemaVersion\":2}"),
	   "empty index.json written: %s", b.buf);
	free(p);
	sb_reset(&b);
	is_str(oci_root(s), root, "oci_root");

	/* blobs */
	ok(oci_blob_put_mem(s, "abc", 3, "text/plain", &d, &e) == 0, "put a blob from memory");
	is_str(d.digest, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
	       "its digest is sha256(abc)");
	is_int(d.size, 3, "size 3");
	is_str(d.media_type, "text/plain", "media type kept");
	ok(oci_blob_read(s, d.digest, 100, &b, &e) == 0 && !strcmp(b.buf, "abc"), "read it back");
	sb_reset(&b);
	ok(oci_blob_put_mem(s, "abc", 3, "bad type", &d, &e) == CRUMB_EINVAL,
	   "a bad media type is refused");
	ok(oci_blob_path(s, "sha256:xyz") == NULL, "blob_path of a malformed digest is NULL");
	ok(oci_blob_path(
	       s, "sha256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA") ==
	       NULL,
	   "... uppercase hex too");
	ok(oci_blob_read(s, "md5:abc", 100, &b, &e) == CRUMB_EINVAL, "read with a bad digest: %s",
	   e.msg);
	ok(oci_blob_read(s, A64, 100, &b, &e) == CRUMB_ENOENT, "read of a missing blob: %s", e.msg);

	char *f = path_in("in.bin");
	char big[300000];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7);
	{
		struct err we;
		write_file_atomic(f, big, sizeof(big), 0600, &we);
	}
	struct oci_desc d2;
	ok(oci_blob_put_file(s, f, OCI_MT_KERNEL, 0, &d, &e) == 0, "put a file (copy): %s", e.msg);
	ok(stat(f, &st) == 0, "... the source stays");
	ok(oci_blob_put_mem(s, big, sizeof(big), OCI_MT_KERNEL, &d2, &e) == 0 &&
	       !strcmp(d.digest, d2.digest) && d.size == sizeof(big),
	   "streamed hash equals the in-memory one");
	ok(oci_blob_verify(s, &d, NULL, 0, &e) == 0, "verify a good blob");
	ok(oci_blob_put_file(s, f, OCI_MT_KERNEL, 1, &d2, &e) == 0 && !strcmp(d.digest, d2.digest),
	   "put a file (move)");
	ok(stat(f, &st) < 0 && errno == ENOENT, "... the source is gone");
	ok(oci_blob_put_file(s, f, OCI_MT_KERNEL, 0, &d2, &e) == CRUMB_ENOENT,
	   "put a missing file: %s", e.msg);
	write_str(f, "moved fresh");
	ok(oci_blob_put_file(s, f, "text/plain", 1, &d2, &e) == 0, "move a new file in");
	char *bp = oci_blob_path(s, d2.digest);
	ok(stat(bp, &st) == 0 && (st.st_mode & 0777) == 0644, "... it is a 0644 blob");
	free(bp);
	free(f);

	/* truncated blob */
	bp = oci_blob_path(s, d.digest);
	ok(truncate(bp, 1000) == 0, "truncate the big blob");
	ok(oci_blob_verify(s, &d, NULL, 0, &e) == CRUMB_EFORMAT && strstr(e.msg, bp) &&
	       strstr(e.msg, "corrupt"),
	   "verify finds it truncated: %s", e.msg);
	ok(oci_blob_read(s, d.digest, 1 << 20, &b, &e) == CRUMB_EFORMAT,
	   "read finds it corrupt: %s", e.msg);
	sb_reset(&b);
	free(bp);

	/* images */
	ok(make_image(s, "app", "kernel-1", "one", &m1, &e) == 0, "commit app: %s", e.msg);
	ok(make_image(s, "app:latest", "kernel-1", "one", &m2, &e) == 0 &&
	       !strcmp(m1.digest, m2.digest),
	   "the same inputs give the same manifest digest");
	struct oci_entry *v;
	size_t n;
	ok(oci_list(s, &v, &n, &e) == 0 && n == 1, "one entry after committing the same tag twice");
	if (n == 1) {
		is_str(v[0].ref, "app:latest", "... app:latest");
		is_str(v[0].created, "1970-01-01T00:00:00Z", "... created defaults to the epoch");
		ok(v[0].size > m1.size, "... size covers the blobs");
	}
	oci_entries_free(v, n);
	make_created = "2023-11-14T22:13:20Z";
	ok(make_image(s, "app:2", "kernel-1", "one", &m2, &e) == 0 && strcmp(m1.digest, m2.digest),
	   "created (SOURCE_DATE_EPOCH) changes the digest");
	make_created = NULL;
	struct oci_image im;
	ok(oci_image_resolve(s, "app:2", &im, &e) == 0, "resolve app:2: %s", e.msg);
	is_str(im.cfg.created, "2023-11-14T22:13:20Z", "... created kept");
	is_str(im.ref, "app:2", "... ref");
	is_int(im.nlayers, 2, "... two layers");
	const struct oci_desc *rl = oci_image_layer(&im, "application/vnd.crumb.rootfs.");
	ok(rl && !strcmp(rl->media_type, OCI_MT_ROOTFS_CPIO), "oci_image_layer finds the rootfs");
	ok(oci_image_layer(&im, "application/x-none") == NULL, "... and NULL for none");
	is_str(oci_config_label(&im.cfg, "l"), "one", "... label");
	oci_image_release(&im);
	ok(oci_image_resolve(s, m1.digest, &im, &e) == 0 && im.ref && !strcmp(im.ref, "app:latest"),
	   "resolve by full digest names the tag");
	oci_image_release(&im);
	char prefix[20];
	snprintf(prefix, sizeof(prefix), "%.12s", m1.digest + 7);
	ok(oci_image_resolve(s, prefix, &im, &e) == 0 && !strcmp(im.manifest.digest, m1.digest),
	   "resolve by a 12-digit prefix: %s", e.msg);
	oci_image_release(&im);
	prefix[11] = 0;
	ok(oci_image_resolve(s, prefix, &im, &e) == CRUMB_ENOENT,
	   "11 digits is a name, not a prefix");
	ok(oci_image_resolve(s, "nope", &im, &e) == CRUMB_ENOENT &&
	       strstr(e.msg, "no image 'nope'") && strstr(e.msg, root),
	   "a missing image: %s", e.msg);
	ok(oci_image_resolve(s, "Bad!", &im, &e) == CRUMB_EINVAL, "an invalid name: %s", e.msg);
	ok(oci_image_resolve(s, "sha256:123", &im, &e) == CRUMB_EINVAL, "a bad digest: %s", e.msg);

	/* tag / untag */
	ok(oci_tag(s, "app", "other/app:v1", &e) == 0, "tag app other/app:v1");
	ok(oci_tag(s, "missing", "x", &e) == CRUMB_ENOENT, "tag of a missing image");
	ok(oci_tag(s, "app", "BAD", &e) == CRUMB_EINVAL, "tag to a bad name");
	ok(oci_list(s, &v, &n, &e) == 0 && n == 3, "three tags");
	if (n == 3) {
		is_str(v[0].ref, "app:2", "sorted: app:2");
		is_str(v[1].ref, "app:latest", "sorted: app:latest");
		is_str(v[2].ref, "other/app:v1", "sorted: other/app:v1");
		ok(!strcmp(v[1].manifest.digest, v[2].manifest.digest),
		   "the tag shares the manifest");
	}
	oci_entries_free(v, n);
	size_t nb;
	uint64_t bytes;
	ok(oci_prune(s, &nb, &bytes, &e) == 0, "prune: %s", e.msg);
	is_int(nb, 3, "prune deletes the 3 loose blobs (abc, the big one, the moved one)");
	ok(oci_untag(s, "app", &e) == 0, "untag app");
	ok(oci_image_resolve(s, "other/app:v1", &im, &e) == 0, "the other tag still resolves");
	oci_image_release(&im);
	ok(oci_prune(s, &nb, &bytes, &e) == 0 && nb == 0, "prune keeps blobs another tag uses");
	ok(oci_untag(s, "app", &e) == CRUMB_ENOENT, "untag app again: %s", e.msg);
	ok(oci_tag(s, "app:2", "third", &e) == 0, "tag app:2 third");
	snprintf(prefix, sizeof(prefix), "%.12s", m2.digest + 7);
	ok(oci_untag(s, prefix, &e) == 0, "untag by digest prefix");
	ok(oci_list(s, &v, &n, &e) == 0 && n == 1, "... removes both tags of that manifest");
	oci_entries_free(v, n);
	ok(oci_prune(s, &nb, &bytes, &e) == 0 && nb == 2,
	   "prune frees its config and manifest (%zu)", nb);
	ok(oci_image_resolve(s, m2.digest, &im, &e) == CRUMB_ENOENT, "... then it is gone");
	ok(oci_untag(s, "other/app:v1", &e) == 0, "untag the last");
	ok(oci_prune(s, &nb, &bytes, &e) == 0 && nb == 4, "prune frees all 4 blobs (%zu)", nb);

	/* cache */
	char dg[80];
	ok(oci_blob_put_mem(s, "layer", 5, "text/plain", &d, &e) == 0, "a cache blob");
	ok(oci_cache_get(s, "00ff", dg, &e) == CRUMB_ENOENT, "cache miss");
	ok(oci_cache_put(s, "00ff", d.digest, &e) == 0, "cache put");
	ok(oci_cache_get(s, "00ff", dg, &e) == 0 && !strcmp(dg, d.digest), "cache hit");
	ok(oci_cache_put(s, "XYZ", d.digest, &e) == CRUMB_EINVAL, "a bad key");
	ok(oci_cache_put(s, "01", "sha256:1", &e) == CRUMB_EINVAL, "a bad digest");
	p = path_in("cache/0badbad");
	write_str(p, "garbage\n");
	ok(oci_cache_get(s, "0badbad", dg, &e) == CRUMB_EFORMAT && strstr(e.msg, p),
	   "a corrupt entry: %s", e.msg);
	free(p);
	ok(oci_prune(s, &nb, &bytes, &e) == 0 && nb == 1 && bytes == 5,
	   "prune takes the unreferenced cache blob");
	ok(oci_cache_get(s, "00ff", dg, &e) == CRUMB_ENOENT, "... and the entry is a miss");
	p = path_in("cache/00ff");
	ok(stat(p, &st) < 0, "... removed");
	free(p);

	/* shared lock held: prune waits, then gives up */
	int lk = oci_lock(s, 0, &e);
	ok(lk >= 0, "take the store lock shared");
	pid_t pid = fork();
	if (pid == 0) {
		struct oci_store *s2;
		struct err e2;
		size_t n2;
		uint64_t b2;
		if (oci_open(root, &s2, &e2) < 0)
			_exit(3);
		int r = oci_prune(s2, &n2, &b2, &e2);
		oci_close(s2);
		_exit(r == CRUMB_EBUSY ? 0 : 1);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "prune in another process fails busy");
	close(lk);
	sb_release(&b);
	oci_close(s);
}

static void test_corrupt(void)
{
	struct oci_store *s = NULL;
	struct err e = {0};
	struct oci_desc m;
	struct oci_image im;
	ok(oci_open(root, &s, &e) == 0 && make_image(s, "c", "kc", "x", &m, &e) == 0,
	   "an image to break");
	char *idx = path_in("index.json");
	struct sbuf good = SBUF_INIT;
	read_file(idx, 1 << 20, &good, &e);
	oci_close(s);
	static const char *bad[] = {
	    "{\"manifests\":[",
	    "[]",
	    "{\"schemaVersion\":1,\"manifests\":[]}",
	    "{\"schemaVersion\":2}",
	    "{\"schemaVersion\":2,\"manifests\":{}}",
	    "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"application/"
	    "vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:12\",\"size\":1}]}",
	    "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"application/"
	    "vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"size\":-1}]}",
	    "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":7,\"digest\":\"sha256:"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"size\":1}]}",
	    "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"a/b\",\"digest\":\"sha256:"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"size\":1,"
	    "\"annotations\":{\"org.opencontainers.image.ref.name\":3}}]}",
	    "",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_str(idx, bad[i]);
		s = NULL;
		int r = oci_open(root, &s, &e);
		ok(r == CRUMB_EFORMAT && strstr(e.msg, idx) && !strchr(e.msg, '\n'),
		   "corrupt index.json %zu: %s", i, e.msg);
		oci_close(s);
	}
	{
		struct err we;
		write_file_atomic(idx, good.buf, good.len, 0644, &we);
	}
	ok(oci_open(root, &s, &e) == 0, "a good index.json again");
	/* a corrupt manifest, a missing config */
	char *mp = oci_blob_path(s, m.digest);
	struct sbuf mb = SBUF_INIT;
	read_file(mp, 1 << 20, &mb, &e);
	write_str(mp, "{\"schemaVersion\":2}");
	ok(oci_image_resolve(s, "c", &im, &e) == CRUMB_EFORMAT && strstr(e.msg, mp),
	   "a manifest that does not match its digest: %s", e.msg);
	size_t nb;
	uint64_t bytes;
	ok(oci_prune(s, &nb, &bytes, &e) < 0, "prune refuses with a corrupt manifest: %s", e.msg);
	{
		struct err we;
		write_file_atomic(mp, mb.buf, mb.len, 0644, &we);
	}
	ok(oci_image_resolve(s, "c", &im, &e) == 0, "restored");
	char *cp = oci_blob_path(s, im.config.digest);
	oci_image_release(&im);
	unlink(cp);
	ok(oci_image_resolve(s, "c", &im, &e) == CRUMB_EFORMAT && strstr(e.msg, cp) &&
	       strstr(e.msg, "image c:latest: "),
	   "a missing config blob is named, with the image: %s", e.msg);
	struct oci_entry *v = NULL;
	size_t n = 0;
	ok(oci_list(s, &v, &n, &e) == 0 && n == 1 && v[0].error && strstr(v[0].error, cp),
	   "list still succeeds, marking the broken image: %s",
	   n == 1 && v[0].error ? v[0].error : e.msg);
	oci_entries_free(v, n);
	ok(oci_prune(s, &nb, &bytes, &e) == 0, "prune of an image with a missing config: fine (%s)",
	   e.msg);
	free(cp);
	free(mp);
	sb_release(&mb);
	sb_release(&good);
	/* a corrupt oci-layout */
	oci_close(s);
	char *lp = path_in("oci-layout");
	write_str(lp, "{\"imageLayoutVersion\":2}");
	ok(oci_open(root, &s, &e) == CRUMB_EFORMAT && strstr(e.msg, lp), "corrupt oci-layout: %s",
	   e.msg);
	write_str(lp, "{\"imageLayoutVersion\":\"1.0.0\"}");
	free(lp);
	free(idx);
}

/* A layout as skopeo leaves it: an image index (multi-platform) entry, no crumb dirs. */
static void test_foreign(void)
{
	struct oci_store *s = NULL;
	struct err e = {0};
	struct oci_desc m, ix;
	struct oci_image im;
	struct stat st;
	char *dir = path_in("foreign");
	mkdir(dir, 0755);
	ok(oci_open_existing(dir, &s, &e) == CRUMB_ENOENT && strstr(e.msg, "oci-layout"),
	   "open_existing of a plain dir: %s", e.msg);
	char *p = xasprintf("%s/blobs", dir);
	ok(stat(p, &st) < 0, "... creates nothing");
	free(p);
	ok(oci_open(dir, &s, &e) == 0 && make_image(s, "one", "kf", "f", &m, &e) == 0, "an image");
	char *idx = xasprintf(
	    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
	    "\"manifests\":[{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%llu,"
	    "\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\"}},"
	    "{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%llu,"
	    "\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}}]}",
	    OCI_MT_MANIFEST, A64, 10ULL, OCI_MT_MANIFEST, m.digest, (unsigned long long)m.size);
	ok(oci_blob_put_mem(s, idx, strlen(idx), "application/vnd.oci.image.index.v1+json", &ix,
			    &e) == 0,
	   "an image index blob");
	free(idx);
	oci_close(s);
	/* index.json as skopeo writes it: no mediaType, its own key order, tag without ":" */
	char *ij = xasprintf("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"application/"
			     "vnd.oci.image.index.v1+json\",\"digest\":\"%s\",\"size\":%llu,"
			     "\"annotations\":{\"org.opencontainers.image.ref.name\":\"multi\"}}]}",
			     ix.digest, (unsigned long long)ix.size);
	p = xasprintf("%s/index.json", dir);
	write_str(p, ij);
	free(ij);
	free(p);
	char *lk = xasprintf("%s/locks", dir), *cache = xasprintf("%s/cache", dir);
	remove_tree(lk, &e);
	remove_tree(cache, &e);
	ok(oci_open_existing(dir, &s, &e) == 0, "open_existing of a layout: %s", e.msg);
	ok(oci_image_resolve(s, "multi", &im, &e) == 0 && !strcmp(im.manifest.digest, m.digest),
	   "an image index resolves to its linux/amd64 manifest: %s", e.msg);
	is_str(im.ref, "multi", "... the ref is the index entry's");
	oci_image_release(&im);
	struct oci_entry *v = NULL;
	size_t n = 0;
	ok(oci_list(s, &v, &n, &e) == 0 && n == 1 && !v[0].error, "list reads it");
	oci_entries_free(v, n);
	ok(stat(lk, &st) < 0 && stat(cache, &st) < 0, "reading created no locks/ or cache/");
	size_t nb;
	uint64_t bytes;
	ok(oci_prune(s, &nb, &bytes, &e) < 0 && strstr(e.msg, A64 + 7),
	   "prune refuses when a manifest the index names is missing: %s", e.msg);
	oci_close(s);
	free(lk);
	free(cache);
	free(dir);
}

/* index.json naming a then b (b tagged tag_b when given), as another tool writes it. */
static void write_index(const char *dir, const struct oci_desc *a, const struct oci_desc *b,
			const char *tag_b)
{
	char *ann = tag_b ? xasprintf(",\"annotations\":{\"org.opencontainers.image.ref.name\":"
				      "\"%s\"}",
				      tag_b)
			  : xstrdup("");
	char *ij = xasprintf("{\"schemaVersion\":2,\"manifests\":["
			     "{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%llu},"
			     "{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%llu%s}]}",
			     OCI_MT_MANIFEST, a->digest, (unsigned long long)a->size,
			     OCI_MT_MANIFEST, b->digest, (unsigned long long)b->size, ann);
	char *p = xasprintf("%s/index.json", dir);
	write_str(p, ij);
	free(p);
	free(ij);
	free(ann);
}

/* FROM an OCI layout: the index's first manifest, tagged or not. */
static void test_first(void)
{
	struct oci_store *s = NULL;
	struct err e = {0};
	struct oci_desc m1, m2;
	struct oci_image im;
	char *dir = path_in("first");
	ok(oci_open(dir, &s, &e) == 0, "a layout");
	ok(oci_image_first(s, &im, &e) == CRUMB_ENOENT && strstr(e.msg, "holds no image") &&
	       strstr(e.msg, dir),
	   "an empty index: no image, naming the layout: %s", e.msg);
	oci_image_release(&im);
	ok(make_image(s, "one", "k1", "first", &m1, &e) == 0 &&
	       make_image(s, "two", "k2", "second", &m2, &e) == 0,
	   "two images");
	oci_close(s);
	ok(oci_open_existing(dir, &s, &e) == 0, "open_existing");
	/* an untagged first entry (skopeo copy without a name) */
	write_index(dir, &m1, &m2, "two");
	ok(oci_image_first(s, &im, &e) == 0 && !strcmp(im.manifest.digest, m1.digest),
	   "the first manifest, untagged: %s", e.msg);
	ok(im.ref == NULL, "... has no ref");
	is_str(oci_config_label(&im.cfg, "l"), "first", "... its config is read");
	ok(im.nlayers == 2, "... and its layers");
	oci_image_release(&im);
	/* the first entry's manifest tagged further down: that tag names it */
	write_index(dir, &m1, &m1, "later");
	ok(oci_image_first(s, &im, &e) == 0 && !strcmp(im.manifest.digest, m1.digest),
	   "the first manifest, tagged by a later entry: %s", e.msg);
	is_str(im.ref, "later", "... the ref is that entry's");
	oci_image_release(&im);
	write_index(dir, &m2, &m1, NULL);
	ok(oci_image_first(s, &im, &e) == 0 && !strcmp(im.manifest.digest, m2.digest),
	   "the order of the index decides: %s", e.msg);
	oci_image_release(&im);
	char *p = xasprintf("%s/index.json", dir);
	write_str(p, "{\"schemaVersion\":2,\"manifests\":[{\"digest\":7}]}");
	ok(oci_image_first(s, &im, &e) == CRUMB_EFORMAT, "a malformed index.json: %s", e.msg);
	oci_image_release(&im);
	write_str(p, "not json");
	ok(oci_image_first(s, &im, &e) == CRUMB_EFORMAT, "index.json not JSON: %s", e.msg);
	oci_image_release(&im);
	free(p);
	oci_close(s);
	free(dir);
}

static void test_race(void)
{
	enum { KIDS = 6, ROUNDS = 8 };
	for (int k = 0; k < KIDS; k++) {
		if (fork() == 0) {
			struct oci_store *s;
			struct err e;
			struct oci_desc m;
			int bad = 0;
			if (oci_open(root, &s, &e) < 0)
				_exit(1);
			for (int i = 0; i < ROUNDS; i++) {
				char label[32], ref[32];
				snprintf(label, sizeof(label), "%d-%d", k, i);
				snprintf(ref, sizeof(ref), "kid%d", k);
				bad |= make_image(s, "race:latest", "kr", label, &m, &e) < 0;
				bad |= make_image(s, ref, "kr", label, &m, &e) < 0;
			}
			oci_close(s);
			_exit(bad);
		}
	}
	int fails = 0, st;
	for (int k = 0; k < KIDS; k++) {
		wait(&st);
		fails += !WIFEXITED(st) || WEXITSTATUS(st);
	}
	is_int(fails, 0, "%d processes committing the same tag all succeed", KIDS);
	struct oci_store *s;
	struct err e = {0};
	struct oci_entry *v = NULL;
	size_t n = 0, races = 0;
	ok(oci_open(root, &s, &e) == 0 && oci_list(s, &v, &n, &e) == 0,
	   "the index is valid after the race");
	for (size_t i = 0; i < n; i++)
		races += !strcmp(v[i].ref, "race:latest") && !v[i].error;
	is_int(races, 1, "exactly one race:latest");
	size_t kids = 0;
	for (size_t i = 0; i < n; i++)
		kids += !strncmp(v[i].ref, "kid", 3);
	is_int(kids, KIDS, "every child's own tag survived");
	struct oci_image im;
	ok(oci_image_resolve(s, "race", &im, &e) == 0, "race resolves");
	oci_image_release(&im);
	oci_entries_free(v, n);
	oci_close(s);
}

static void test_detect(void)
{
	struct err e = {0};
	const char *mt = NULL;
	char *p = path_in("rf");
	write_str(p, "070701000");
	ok(oci_detect_rootfs(p, &mt, &e) == 0 && !strcmp(mt, OCI_MT_ROOTFS_CPIO), "cpio newc");
	write_str(p, "\x1f\x8b\x08");
	ok(oci_detect_rootfs(p, &mt, &e) == 0 && !strcmp(mt, OCI_MT_ROOTFS_CPIO_GZIP), "gzip");
	write_str(p, "\x28\xb5\x2f\xfd\x00");
	ok(oci_detect_rootfs(p, &mt, &e) == 0 && !strcmp(mt, OCI_MT_ROOTFS_CPIO_ZSTD), "zstd");
	char sb[2048] = {0};
	sb[1080] = 0x53;
	sb[1081] = (char)0xef;
	{
		struct err we;
		write_file_atomic(p, sb, sizeof(sb), 0644, &we);
	}
	ok(oci_detect_rootfs(p, &mt, &e) == 0 && !strcmp(mt, OCI_MT_ROOTFS_EXT4), "ext4");
	write_str(p, "hello");
	ok(oci_detect_rootfs(p, &mt, &e) == CRUMB_EFORMAT && strstr(e.msg, p), "unknown: %s",
	   e.msg);
	is_str(oci_layer_title(OCI_MT_ROOTFS_CPIO_ZSTD), "rootfs.cpio.zst", "title of a zstd cpio");
	is_str(oci_layer_title(OCI_MT_KERNEL), "vmlinux", "title of the kernel");
	char t[32];
	oci_format_time(0, t);
	is_str(t, "1970-01-01T00:00:00Z", "format_time(0)");
	free(p);
}

/* A blob's bytes in a file of our own, for tampering. */
static void put_bytes(const char *path, const void *data, size_t len)
{
	struct err we;
	unlink(path);
	write_file_atomic(path, data, len, 0644, &we);
}

/* Flips one byte of path in place (the stat data changes, as with any write). */
static void flip(const char *path, off_t at)
{
	int fd = open(path, O_RDWR);
	unsigned char c = 0;
	if (fd >= 0 && pread(fd, &c, 1, at) == 1) {
		c ^= 0x20;
		if (pwrite(fd, &c, 1, at) != 1)
			printf("# flip %s failed\n", path);
	}
	if (fd >= 0)
		close(fd);
}

/* The verifying reader, the verified blob reads and the verification cache. */
static void test_verify(void)
{
	struct err e = {0};
	struct vread v;
	char *f = path_in("v.bin"), *l = path_in("v.link"), *fifo = path_in("v.fifo");
	char data[200000], hex[65], digest[80], buf[4096];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)(i * 13 + 1);
	sha256_hex(data, sizeof(data), hex);
	snprintf(digest, sizeof(digest), "sha256:%s", hex);
	put_bytes(f, data, sizeof(data));
	ok(vread_check(f, digest, sizeof(data), "thing", &e) == 0, "vread: a good file: %s", e.msg);
	{
		struct sha256 h;
		char got[65];
		sha256_begin(&h);
		sha256_update(&h, data, 1000);
		sha256_update(&h, data + 1000, sizeof(data) - 1000);
		sha256_end(&h, got);
		is_str(got, hex, "sha256 in pieces = in one go");
	}
	/* read in small pieces: the data comes through, the end is checked */
	ok(vread_open(&v, f, digest, sizeof(data), NULL, 1, &e) == 0, "vread_open");
	size_t total = 0;
	int same = 1;
	ssize_t n;
	while ((n = vread_read(&v, buf, sizeof(buf), &e)) > 0) {
		same &= !memcmp(buf, data + total, (size_t)n);
		total += (size_t)n;
	}
	ok(n == 0 && total == sizeof(data) && same && v.verified, "... reads every byte, then 0");
	vread_close(&v);
	vread_close(&v); /* twice: harmless */
	flip(f, 150000);
	ok(vread_open(&v, f, digest, sizeof(data), "image x: blob F", 1, &e) == 0,
	   "a flipped byte: the open succeeds (same size)");
	while ((n = vread_read(&v, buf, sizeof(buf), &e)) > 0)
		;
	ok(n == CRUMB_EFORMAT && strstr(e.msg, "image x: blob F: corrupt") &&
	       strstr(e.msg, "does not match its digest") && !strchr(e.msg, '\n'),
	   "... the last read fails: %s", e.msg);
	vread_close(&v);
	ok(vread_check(f, digest, VREAD_SIZE_ANY, NULL, &e) == CRUMB_EFORMAT,
	   "... also with the size unknown");
	put_bytes(f, data, 1000);
	ok(vread_open(&v, f, digest, sizeof(data), "B", 1, &e) == CRUMB_EFORMAT &&
	       strstr(e.msg, "1000 bytes") && strstr(e.msg, "truncated"),
	   "a truncated file fails at open, before a read: %s", e.msg);
	vread_close(&v);
	ok(vread_check(f, digest, VREAD_SIZE_ANY, NULL, &e) == CRUMB_EFORMAT,
	   "... and with the size unknown, by its digest: %s", e.msg);
	put_bytes(f, data, sizeof(data));
	unlink(l);
	ok(symlink(f, l) == 0, "a symlink to a good copy");
	ok(vread_check(l, digest, sizeof(data), "L", &e) == CRUMB_EFORMAT &&
	       strstr(e.msg, "L is a symbolic link"),
	   "... is refused all the same: %s", e.msg);
	ok(mkfifo(fifo, 0600) == 0, "a FIFO");
	ok(vread_check(fifo, digest, sizeof(data), "P", &e) == CRUMB_EFORMAT &&
	       strstr(e.msg, "not a regular file"),
	   "... is refused without hanging: %s", e.msg);
	char *nope = path_in("nope");
	ok(vread_check(nope, digest, 1, "N", &e) == CRUMB_ENOENT && !strcmp(e.msg, "N is missing"),
	   "a missing file: %s", e.msg);
	free(nope);
	ok(vread_check(f, "sha256:12", 1, "D", &e) == CRUMB_EFORMAT, "a malformed digest");

	/* blobs in a store: flip, truncate, symlink, swap; names in messages */
	struct oci_store *s = NULL;
	struct oci_desc k, r2, m, other;
	char *sdir = path_in("vstore");
	ok(oci_open(sdir, &s, &e) == 0, "a store");
	ok(oci_blob_put_mem(s, data, sizeof(data), OCI_MT_KERNEL, &k, &e) == 0 &&
	       oci_blob_put_mem(s, "another", 7, OCI_MT_KERNEL, &other, &e) == 0,
	   "two blobs");
	char *bp = oci_blob_path(s, k.digest), *op = oci_blob_path(s, other.digest);
	ok(oci_blob_verify(s, &k, "image app:1", 0, &e) == 0, "a good blob verifies");
	flip(bp, 7);
	ok(oci_blob_verify(s, &k, "image app:1", 0, &e) == CRUMB_EFORMAT &&
	       strstr(e.msg, "image app:1: blob ") && strstr(e.msg, bp) &&
	       strstr(e.msg, "does not match"),
	   "a flipped byte: %s", e.msg);
	ok(oci_blob_put_file(s, f, OCI_MT_KERNEL, 0, &r2, &e) == 0 && !strcmp(r2.digest, k.digest),
	   "putting the same bytes again...");
	ok(oci_blob_verify(s, &k, NULL, 0, &e) == 0, "... repairs the damaged blob: %s", e.msg);
	ok(truncate(bp, 100) == 0 && oci_blob_verify(s, &k, NULL, 0, &e) == CRUMB_EFORMAT &&
	       strstr(e.msg, "truncated"),
	   "a truncated blob: %s", e.msg);
	ok(oci_blob_put_mem(s, data, sizeof(data), OCI_MT_KERNEL, &r2, &e) == 0 &&
	       oci_blob_verify(s, &k, NULL, 0, &e) == 0,
	   "put_mem repairs it too");
	char *good = path_in("good-copy");
	ok(rename(bp, good) == 0 && symlink(good, bp) == 0, "the blob replaced by a symlink to it");
	ok(oci_blob_verify(s, &k, "image app:1", 0, &e) == CRUMB_EFORMAT &&
	       strstr(e.msg, "symbolic link"),
	   "... is refused: %s", e.msg);
	struct sbuf sb = SBUF_INIT;
	ok(oci_blob_read(s, k.digest, 1 << 20, &sb, &e) == CRUMB_EFORMAT,
	   "... by oci_blob_read too: %s", e.msg);
	sb_release(&sb);
	unlink(bp);
	ok(link(op, bp) == 0, "another (valid) blob under this digest's name: a swap");
	ok(oci_blob_verify(s, &k, "image app:1", 0, &e) == CRUMB_EFORMAT, "... is refused: %s",
	   e.msg);
	unlink(bp);
	ok(oci_blob_verify(s, &k, "image app:1", 0, &e) == CRUMB_ENOENT &&
	       strstr(e.msg, "is missing"),
	   "a missing blob: %s", e.msg);
	ok(oci_blob_put_mem(s, data, sizeof(data), OCI_MT_KERNEL, &r2, &e) == 0, "back");

	/* the verification cache */
	char *rec = xasprintf("%s/verified/%s", sdir, k.digest + 7);
	ok(oci_blob_verify(s, &k, NULL, OCI_VERIFY_CACHED, &e) == 0, "a cached verify hashes");
	struct stat st;
	ok(stat(rec, &st) < 0, "... and records nothing for a blob changed this second (racy)");
	sleep(2);
	ok(oci_blob_verify(s, &k, NULL, OCI_VERIFY_CACHED, &e) == 0 && stat(rec, &st) == 0,
	   "two seconds later, it records the blob's stat data");
	/* the record is trusted: a stale one forged for a damaged blob would pass
	 * (this proves the hash is skipped), so the record keys on every stat field */
	struct sbuf rb = SBUF_INIT;
	read_file(rec, 256, &rb, &e);
	ok(!strncmp(rb.buf, "crumb-verified-1 ", 17), "... a one-line record: %.60s", rb.buf);
	flip(bp, 99);
	ok(oci_blob_verify(s, &k, NULL, OCI_VERIFY_CACHED, &e) == CRUMB_EFORMAT,
	   "a flipped byte after the record: refused all the same (its ctime moved): %s", e.msg);
	{
		/* forge: a record with the damaged file's stat data */
		struct stat bs;
		lstat(bp, &bs);
		char line[256];
		snprintf(line, sizeof(line),
			 "crumb-verified-1 %llu %llu %llu %lld.%09ld %lld.%09ld\n",
			 (unsigned long long)bs.st_dev, (unsigned long long)bs.st_ino,
			 (unsigned long long)bs.st_size, (long long)bs.st_mtim.tv_sec,
			 bs.st_mtim.tv_nsec, (long long)bs.st_ctim.tv_sec, bs.st_ctim.tv_nsec);
		put_bytes(rec, line, strlen(line));
	}
	ok(oci_blob_verify(s, &k, NULL, OCI_VERIFY_CACHED, &e) == 0,
	   "a record matching the stat data is trusted without hashing (white box)");
	ok(oci_blob_verify(s, &k, NULL, 0, &e) == CRUMB_EFORMAT &&
	       oci_blob_verify(s, &k, NULL, OCI_VERIFY_RECORD, &e) == CRUMB_EFORMAT,
	   "... never without OCI_VERIFY_CACHED");
	unlink(rec);
	ok(oci_blob_put_mem(s, data, sizeof(data), OCI_MT_KERNEL, &r2, &e) == 0 &&
	       oci_blob_verify(s, &k, NULL, 0, &e) == 0,
	   "without a record vouching for it, a put replaces the damaged blob");
	sb_release(&rb);

	/* import through a verified reader: the damage is the error, not its look */
	char *tdir = path_in("vtar");
	char *tarp = path_in("v.tar");
	ok(sh("mkdir -p %s/d && printf 'hello world\\n' > %s/d/f && tar -C %s -cf %s d", tdir, tdir,
	      tdir, tarp) == 0,
	   "a tar");
	struct oci_desc td;
	ok(oci_blob_put_file(s, tarp, "application/vnd.oci.image.layer.v1.tar", 0, &td, &e) == 0,
	   "... stored as a blob");
	char *tp = oci_blob_path(s, td.digest);
	struct tree t;
	struct import_opts io = {.src = &v};
	tree_init(&t);
	ok(oci_blob_open(s, &td, "image base:1", 0, &v, &e) == 0 &&
	       import_archive(&t, tp, &io, &e) == 0 && v.verified && tree_lookup(&t, "/d/f", 0),
	   "import through a verified reader: %s", e.msg);
	vread_close(&v);
	tree_release(&t);
	flip(tp, 512 + 3); /* in the file's data */
	tree_init(&t);
	ok(oci_blob_open(s, &td, "image base:1", 0, &v, &e) == 0 &&
	       import_archive(&t, tp, &io, &e) == CRUMB_EFORMAT &&
	       strstr(e.msg, "image base:1: blob") && strstr(e.msg, "does not match"),
	   "a flipped data byte fails the import: %s", e.msg);
	vread_close(&v);
	tree_release(&t);
	flip(tp, 512 + 3);
	flip(tp, 100); /* the mode field of the header: now a format error too */
	tree_init(&t);
	ok(oci_blob_open(s, &td, "image base:1", 0, &v, &e) == 0 &&
	       import_archive(&t, tp, &io, &e) == CRUMB_EFORMAT && strstr(e.msg, "does not match"),
	   "a flipped header byte: the digest is the error: %s", e.msg);
	vread_close(&v);
	tree_release(&t);
	flip(tp, 100);
	sh("printf 'pad' >> %s", tp);
	tree_init(&t);
	ok(oci_blob_open(s, &td, "image base:1", 0, &v, &e) == CRUMB_EFORMAT &&
	       strstr(e.msg, "too long"),
	   "bytes appended: refused at open: %s", e.msg);
	vread_close(&v);
	sh("truncate -s %llu %s", (unsigned long long)td.size, tp);
	flip(tp, (off_t)td.size - 10); /* past the end-of-archive blocks libarchive reads */
	td.size = VREAD_SIZE_ANY;
	e.msg[0] = 0;
	ok(oci_blob_open(s, &td, "image base:1", 0, &v, &e) == 0 &&
	       import_archive(&t, tp, &io, &e) == CRUMB_EFORMAT && strstr(e.msg, "does not match"),
	   "a byte flipped in the padding after the archive's end, size unknown: %s", e.msg);
	vread_close(&v);
	tree_release(&t);

	/* list_verified names the damaged image */
	struct oci_desc lay[2], man;
	struct oci_config c;
	oci_config_init(&c);
	ok(oci_blob_put_mem(s, data, sizeof(data), OCI_MT_KERNEL, &lay[0], &e) == 0 &&
	       oci_blob_put_mem(s, "070701root", 10, OCI_MT_ROOTFS_CPIO, &lay[1], &e) == 0 &&
	       oci_image_commit(s, "good", &c, lay, 2, &man, &e) == 0,
	   "an image");
	struct oci_desc lay2[2] = {lay[0]};
	ok(oci_blob_put_mem(s, "070701ROOT", 10, OCI_MT_ROOTFS_CPIO, &lay2[1], &e) == 0 &&
	       oci_image_commit(s, "bad", &c, lay2, 2, &m, &e) == 0,
	   "another sharing its kernel");
	struct oci_entry *ev = NULL;
	size_t en = 0;
	ok(oci_list_verified(s, &ev, &en, &e) == 0 && en == 2 && !ev[0].error && !ev[1].error,
	   "list_verified: both good");
	oci_entries_free(ev, en);
	char *rp = oci_blob_path(s, lay2[1].digest);
	flip(rp, 8);
	ok(oci_list_verified(s, &ev, &en, &e) == 0 && en == 2 && !strcmp(ev[0].ref, "bad:latest") &&
	       ev[0].error && strstr(ev[0].error, rp) && !ev[1].error,
	   "list_verified: the damaged one, naming its blob: %s",
	   en && ev[0].error ? ev[0].error : "");
	oci_entries_free(ev, en);
	ok(oci_list(s, &ev, &en, &e) == 0 && en == 2 && !ev[0].error, "plain list does not hash");
	oci_entries_free(ev, en);
	struct oci_image im;
	ok(oci_image_resolve(s, "bad", &im, &e) == 0 &&
	       oci_image_verify(s, &im, 0, &e) == CRUMB_EFORMAT &&
	       strstr(e.msg, "image bad:latest: blob "),
	   "image_verify: %s", e.msg);
	oci_image_release(&im);
	/* commit refuses a symlink in a layer's place */
	unlink(rp);
	ok(symlink(bp, rp) == 0, "a layer replaced by a symlink");
	ok(oci_image_commit(s, "bad2", &c, lay2, 2, &m, &e) == CRUMB_EINVAL,
	   "commit refuses it: %s", e.msg);
	unlink(rp);
	/* prune drops the records of blobs it deletes */
	size_t nb;
	uint64_t bytes;
	char *dead = xasprintf("%s/verified/%s", sdir, lay2[1].digest + 7);
	put_bytes(dead, "x", 1);
	put_bytes(rec, "x", 1);
	ok(oci_prune(s, &nb, &bytes, &e) == 0 && stat(dead, &st) < 0 && stat(rec, &st) == 0,
	   "prune drops a record whose blob is gone, keeps the others");
	free(dead);
	free(rp);
	oci_config_release(&c);
	oci_close(s);
	free(tp);
	free(tdir);
	free(tarp);
	free(rec);
	free(good);
	free(bp);
	free(op);
	free(sdir);
	free(f);
	free(l);
	free(fifo);
}

int main(void)
{
	snprintf(root, sizeof(root), "%s/test_oci.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(root)) {
		printf("Bail out! mkdtemp\n");
		return 1;
	}
	test_refs();
	test_config();
	test_store();
	test_corrupt();
	test_foreign();
	test_first();
	test_race();
	test_detect();
	test_verify();
	struct err e;
	remove_tree(root, &e);
	return done_testing();
}

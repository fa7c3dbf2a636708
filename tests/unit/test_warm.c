/* test_warm.c: warm start: the shape key (what counts, what is one run's own), the snapshot
 * index (put, lookup, damaged entries, gc), the restore request, and QMP's message parser. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/qmp.h"
#include "lib/vmm_qemu.h"
#include "lib/warm.h"
#include "tap.h"

static char tmp[] = "/tmp/crumb-test-warm-XXXXXX";

/* A VM as a run in work directory work with one published host port would have it. */
static void vm(struct vm_config *c, struct vm_port *p, const char *work, unsigned port,
	       char paths[3][256])
{
	snprintf(paths[0], 256, "%s/ctl.sock", work);
	snprintf(paths[1], 256, "%s/qmp.sock", work);
	snprintf(paths[2], 256, "%s/init.disk", work);
	*p = (struct vm_port){"127.0.0.1", port, 80, 0};
	*c = (struct vm_config){.kernel = "/bin/sh",
				.initrd = "/bin/true",
				.mem_mb = 128,
				.net = 1,
				.ports = p,
				.nports = 1,
				.ctl_sock = paths[0],
				.qmp_sock = paths[1],
				.init_conf_disk = paths[2]};
}

static void shape(const struct vm_config *c, const char *work, char out[65])
{
	struct err e = {0};
	ok(warm_shape(c, "/bin/ls", ACCEL_TCG, work, out, &e) == 0, "warm_shape %s", e.msg);
}

static void test_shape(void)
{
	struct vm_config a, b;
	struct vm_port pa, pb;
	char pathsa[3][256], pathsb[3][256], ka[65], kb[65];
	struct vm_klog klog = VM_KLOG_INIT;
	vm(&a, &pa, "/run/x/vms/one", 8080, pathsa);
	vm(&b, &pb, "/tmp/crumb-run-abc", 9090, pathsb);
	b.verbose = 1;
	b.klog = &klog;
	shape(&a, "/run/x/vms/one", ka);
	shape(&b, "/tmp/crumb-run-abc", kb);
	is_str(ka, kb, "another work directory, host port, --verbose, --timing: the same shape");
	b.mem_mb = 256;
	shape(&b, "/tmp/crumb-run-abc", kb);
	ok(strcmp(ka, kb), "another -m: another shape");
	b.mem_mb = 128;
	b.nports = 0;
	shape(&b, "/tmp/crumb-run-abc", kb);
	ok(strcmp(ka, kb), "no published port (no inbound card): another shape");
	b.nports = 1;
	b.cpus = 2;
	shape(&b, "/tmp/crumb-run-abc", kb);
	ok(strcmp(ka, kb), "another cpu count: another shape");
	b.cpus = 0;
	b.cmdline = "lpj=1";
	shape(&b, "/tmp/crumb-run-abc", kb);
	ok(strcmp(ka, kb), "another kernel command line: another shape");
	b.cmdline = NULL;
	b.initrd = "/bin/false";
	shape(&b, "/tmp/crumb-run-abc", kb);
	ok(strcmp(ka, kb), "another initramfs file: another shape");
	b.initrd = "/nonexistent/initrd";
	struct err e = {0};
	ok(warm_shape(&b, "/bin/ls", ACCEL_TCG, "/w", kb, &e) == CRUMB_ENOENT, "a missing file: %s",
	   e.msg);
	b.initrd = "/bin/true";
	shape(&b, "/tmp/crumb-run-abc", kb);
	ok(warm_shape(&b, "/bin/ls", ACCEL_KVM, "/tmp/crumb-run-abc", kb, &e) == 0 &&
	       strcmp(ka, kb),
	   "another accelerator: another shape");
	vm_klog_release(&klog);

	char *argv[] = {"q", "-netdev",
			"user,id=n1,hostfwd=tcp:127.0.0.1:8080-:80,hostfwd=udp:1:2-:3",
			"path=/w/dir/ctl.sock,server=on", NULL};
	char *t = warm_shape_text(argv, "/w/dir");
	is_str(t, "q\n-netdev\nuser,id=n1\npath=@WORK/ctl.sock,server=on\n",
	       "warm_shape_text: hostfwd dropped, the work directory made @WORK");
	free(t);
}

static int count(const char *sub)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "ls %s/snapshots/%s 2>/dev/null | wc -l", tmp, sub);
	FILE *f = popen(cmd, "r");
	int n = -1;
	if (f && fscanf(f, "%d", &n) != 1)
		n = -1;
	if (f)
		pclose(f);
	return n;
}

static void put(const char *image, const char *shape, const char *content)
{
	char hex[65], *t = xasprintf("%s/snapshots/blobs/.tmp-x", tmp);
	struct err e = {0};
	sha256_hex(content, strlen(content), hex);
	ok(sh("mkdir -p %s/snapshots/blobs && printf %%s '%s' > %s", tmp, content, t) == 0 &&
	       warm_put(tmp, image, shape, t, hex, strlen(content), &e) == 0,
	   "warm_put %s", e.msg);
	free(t);
}

static void test_store(void)
{
	const char *img1 =
	    "sha256:1111111111111111111111111111111111111111111111111111111111111111";
	const char *img2 =
	    "sha256:2222222222222222222222222222222222222222222222222222222222222222";
	const char *sh1 = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	const char *sh2 = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
	struct warm_entry w;
	struct err e = {0};
	ok(warm_lookup(tmp, img1, sh1, &w, &e) == CRUMB_ENOENT, "an empty store: no snapshot");
	put(img1, sh1, "one");
	put(img1, sh2, "two");
	put(img2, sh1, "three");
	char hex[65];
	sha256_hex("two", 3, hex);
	ok(warm_lookup(tmp, img1, sh2, &w, &e) == 0 && !strncmp(w.digest, "sha256:", 7) &&
	       !strcmp(w.digest + 7, hex) && w.size == 3 && strstr(w.path, hex),
	   "warm_lookup finds the entry of that image and shape");
	warm_entry_release(&w);
	ok(warm_lookup(tmp, img2, sh2, &w, &e) == CRUMB_ENOENT, "... and none for another shape");
	ok(warm_lookup(tmp, "sha256:xyz", sh1, &w, &e) == CRUMB_EINVAL, "a malformed digest");
	sh("printf 'sha256:zz 3\\n' > %s/snapshots/index/%s.%s", tmp, img2 + 7, sh1);
	ok(warm_lookup(tmp, img2, sh1, &w, &e) == CRUMB_EFORMAT && strstr(e.msg, "malformed"),
	   "a damaged index entry: %s", e.msg);
	is_int(count("index"), 3, "three entries");
	is_int(count("blobs"), 3, "three blobs");
	struct strlist live = STRLIST_INIT;
	strlist_push(&live, img1);
	size_t n = 0;
	uint64_t bytes = 0;
	ok(warm_gc(tmp, &live, &n, &bytes, &e) == 0 && n == 1 && bytes == 5,
	   "warm_gc: the snapshot of the image gone (5 bytes) goes: %zu, %llu", n,
	   (unsigned long long)bytes);
	is_int(count("index"), 2, "... with its entry");
	ok(warm_lookup(tmp, img1, sh1, &w, &e) == 0, "... the live image's stay");
	warm_entry_release(&w);
	strlist_release(&live);
	ok(warm_gc(tmp, &live, &n, NULL, &e) == 0 && n == 2 && count("index") == 0 &&
	       count("blobs") == 0,
	   "warm_gc with no live image: all go");
}

static void test_request(void)
{
	unsigned char key[32], seed[WARM_SEED_LEN];
	memset(key, 0xab, sizeof(key));
	memset(seed, 0x01, sizeof(seed));
	struct sbuf sb = SBUF_INIT;
	warm_request(key, sizeof(key), seed, 1700000000, 5, "crumb-init 1\n", 13, &sb);
	char want[400] = "restore ";
	for (int i = 0; i < 32; i++)
		strcat(want, "ab");
	strcat(want, " ");
	for (int i = 0; i < WARM_SEED_LEN; i++)
		strcat(want, "01");
	strcat(want, " 1700000000 5 13\ncrumb-init 1\n");
	ok(sb.len == strlen(want) && !memcmp(sb.buf, want, sb.len),
	   "the restore request: a line, then the config");
	sb_release(&sb);
}

static void test_qmp(void)
{
	enum qmp_kind k;
	json_t *m;
	char desc[64];
	struct err e = {0};
	const char *greet = "{\"QMP\": {\"version\": {}, \"capabilities\": []}}\r\n";
	ok(qmp_parse(greet, strlen(greet), &k, &m, desc, sizeof(desc), &e) == 0 &&
	       k == QMP_GREETING,
	   "qmp_parse: the greeting");
	json_decref(m);
	const char *ret = "{\"return\": {\"status\": \"paused\"}}";
	ok(qmp_parse(ret, strlen(ret), &k, &m, NULL, 0, &e) == 0 && k == QMP_RETURN &&
	       !strcmp(json_string_value(json_object_get(json_object_get(m, "return"), "status")),
		       "paused"),
	   "... a return");
	json_decref(m);
	const char *er = "{\"error\": {\"class\": \"GenericError\", \"desc\": \"no\\u0001pe\"}}";
	ok(qmp_parse(er, strlen(er), &k, NULL, desc, sizeof(desc), &e) == 0 && k == QMP_ERROR &&
	       !strcmp(desc, "no?pe"),
	   "... an error, its desc made printable: %s", desc);
	const char *ev = "{\"event\": \"STOP\", \"timestamp\": {}}";
	ok(qmp_parse(ev, strlen(ev), &k, NULL, desc, sizeof(desc), &e) == 0 && k == QMP_EVENT &&
	       !strcmp(desc, "STOP"),
	   "... an event");
	const char *bad[] = {"[1]", "{\"x\": 1}", "{\"return\": 1", "", "{\"event\": 5}"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(qmp_parse(bad[i], strlen(bad[i]), &k, &m, NULL, 0, &e) == CRUMB_EFORMAT && !m,
		   "refused: '%s': %s", bad[i], e.msg);
}

int main(void)
{
	if (!mkdtemp(tmp))
		return 1;
	test_shape();
	test_store();
	test_request();
	test_qmp();
	sh("rm -rf %s", tmp);
	return done_testing();
}

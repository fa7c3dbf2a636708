/* test_minimize.c: trace records parsed as untrusted input; an image cut to a trace (files,
 * symlink chains, --keep, the allowlist label), reproducibly. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/archive.h"
#include "lib/import.h"
#include "lib/minimize.h"
#include "lib/oci.h"
#include "lib/trace.h"
#include "lib/tree.h"
#include "lib/util.h"
#include "tap.h"

static int parse(const char *text, struct trace *t, struct err *e)
{
	trace_init(t);
	return trace_parse(text, strlen(text), t, e);
}

static void parsing(void)
{
	struct trace t;
	struct err e = {0};
	const char *good = "crumb-trace 1\n"
			   "proc 7 sshd\n"
			   "sys openat\n"
			   "sys read\n"
			   "file openat /etc/ssh/sshd_config\n"
			   "file newfstatat /a\\x20b\\x5cc\n"
			   "mmap /lib/x86_64-linux-gnu/libc.so.6\n"
			   "exec /usr/sbin/sshd\n"
			   "socket 10 1\n"
			   "socket 1 2\n"
			   "sys read\n"
			   "future thing here\n"
			   "end\n";
	ok(parse(good, &t, &e) == 0, "a trace parses: %s", e.msg);
	is_int((long long)t.syscalls.n, 2, "two calls, repeats merged");
	is_int((long long)t.files.n, 4, "four paths");
	ok(strlist_has(&t.files, "/a b\\c"), "escapes undone");
	ok(strlist_has(&t.files, "/usr/sbin/sshd") && t.execs.n == 1,
	   "exec recorded as a file too");
	ok(t.family[10] && t.family[1] && !t.family[2], "families 10 and 1");
	ok(t.ended && t.nprocs == 1 && t.unknown == 1, "end, one process, one unknown record");
	trace_release(&t);

	ok(parse("crumb-trace 1\nsys read\nend", &t, &e) == 0 && !t.ended,
	   "a cut last line is dropped (no end)");
	trace_release(&t);

	static const struct {
		const char *text, *want;
	} bad[] = {
	    {"", "an empty trace"},
	    {"crumb-trace 2\nend\n", "not a crumb trace"},
	    {"hello\n", "not a crumb trace"},
	    {"crumb-trace 1\nsys Read\n", "line 2: want 'sys NAME'"},
	    {"crumb-trace 1\nsys\n", "line 2: want 'sys NAME'"},
	    {"crumb-trace 1\nsys a b\n", "line 2: want 'sys NAME'"},
	    {"crumb-trace 1\nfile openat rel/path\n", "line 2: a path that is not absolute"},
	    {"crumb-trace 1\nfile openat /a\\x00b\n", "line 2: a bad \\x escape"},
	    {"crumb-trace 1\nfile openat /a\\xg0\n", "line 2: a bad \\x escape"},
	    {"crumb-trace 1\nfile openat /a\\\n", "line 2: a bad \\x escape"},
	    {"crumb-trace 1\nfile openat /a /b\n", "line 2: want 'file NAME PATH'"},
	    {"crumb-trace 1\nsocket 64 1\n", "line 2: want 'socket FAMILY TYPE'"},
	    {"crumb-trace 1\nsocket -1 1\n", "line 2: want 'socket FAMILY TYPE'"},
	    {"crumb-trace 1\nsocket 2 99\n", "line 2: want 'socket FAMILY TYPE'"},
	    {"crumb-trace 1\nproc 0 x\n", "line 2: want 'proc PID COMM'"},
	    {"crumb-trace 1\nend now\n", "line 2: want 'end'"},
	    {"crumb-trace 1\nmmap\n", "line 2: want 'mmap PATH'"},
	};
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		e.msg[0] = 0;
		int r = parse(bad[k].text, &t, &e);
		ok(r == CRUMB_EFORMAT && strstr(e.msg, bad[k].want), "bad trace %zu refused: %s", k,
		   e.msg);
		trace_release(&t);
	}
	/* a NUL inside a line, and an overlong line */
	char nul[] = "crumb-trace 1\nsys re\0d\nend\n";
	trace_init(&t);
	ok(trace_parse(nul, sizeof(nul) - 1, &t, &e) == CRUMB_EFORMAT && strstr(e.msg, "NUL"),
	   "a NUL byte is refused: %s", e.msg);
	trace_release(&t);
	struct sbuf big = SBUF_INIT;
	sb_adds(&big, "crumb-trace 1\nfile openat /");
	for (int k = 0; k < 20000; k++)
		sb_addc(&big, 'a');
	sb_adds(&big, "\nend\n");
	trace_init(&t);
	ok(trace_parse(big.buf, big.len, &t, &e) == CRUMB_EFORMAT && strstr(e.msg, "16 KiB"),
	   "an overlong line is refused: %s", e.msg);
	trace_release(&t);
	sb_release(&big);
}

/* ---- cutting an image ---- */

static char root[256];

static int make_image(struct oci_store *s, struct err *e)
{
	struct tree t;
	tree_init(&t);
	int r = 0;
	struct tree_node *n;
	r |= tree_add_data(&t, "/bin/busybox", "BUSYBOX", 7, 0755, e);
	r |= tree_add_symlink(&t, "/bin/sh", "busybox", e);
	r |= tree_add_symlink(&t, "/bin/ls", "busybox", e);
	r |= tree_add_data(&t, "/lib/libc-2.36.so", "LIBC", 4, 0755, e);
	r |= tree_add_symlink(&t, "/lib/libc.so.6", "libc-2.36.so", e);
	r |= tree_add_symlink(&t, "/lib64", "lib", e);
	r |= tree_add_data(&t, "/etc/passwd", "root:x:0:0::/root:/bin/sh\n", 26, 0644, e);
	r |= tree_add_data(&t, "/etc/group", "root:x:0:\n", 10, 0644, e);
	r |= tree_add_data(&t, "/etc/crumb/init.conf", "conf", 4, 0644, e);
	r |= tree_add_data(&t, "/sbin/crumb-init", "INIT", 4, 0755, e);
	r |= tree_add_data(&t, "/usr/share/doc/big", "lots of text", 12, 0644, e);
	r |= tree_add_data(&t, "/usr/share/doc/other", "more", 4, 0644, e);
	r |= tree_add_data(&t, "/etc/unused.conf", "x", 1, 0644, e);
	r |= tree_add_data(&t, "/sbin/start", "#!/bin/sh -e\nexec x\n", 20, 0755, e);
	r |= tree_add(&t, "/data", TREE_DIR, 0755, &n, e);
	r |= tree_add_device(&t, "/dev/console", TREE_CHR, 0600, 5, 1, e);
	char *cpio = xasprintf("%s/rootfs.cpio", root);
	struct cpio_opts co = {.compress = COMPRESS_NONE};
	if (r == 0)
		r = cpio_write(&t, cpio, &co, e);
	tree_release(&t);
	struct oci_desc l[2], m;
	if (r == 0)
		r = oci_blob_put_mem(s, "KERNEL", 6, OCI_MT_KERNEL, &l[0], e);
	if (r == 0)
		r = oci_blob_put_file(s, cpio, OCI_MT_ROOTFS_CPIO, 0, &l[1], e);
	free(cpio);
	struct oci_config c;
	oci_config_init(&c);
	strlist_push(&c.cmd, "/bin/sh");
	strlist_push(&c.label_keys, "crumb.memory");
	strlist_push(&c.label_values, "64M");
	c.created = xstrdup("2024-01-02T03:04:05Z");
	if (r == 0)
		r = oci_image_commit(s, "box:1", &c, l, 2, &m, e);
	oci_config_release(&c);
	return r;
}

/* The new image's root as a tree. */
static int load(struct oci_store *s, const char *ref, struct tree *t, struct oci_image *im)
{
	struct err e;
	tree_init(t);
	if (oci_image_resolve(s, ref, im, &e) < 0)
		return -1;
	const struct oci_desc *l = oci_image_layer(im, "application/vnd.crumb.rootfs.");
	char *p = l ? oci_blob_path(s, l->digest) : NULL;
	struct import_opts io = {.keep_owner = 1};
	int r = p ? import_archive(t, p, &io, &e) : -1;
	free(p);
	return r;
}

static void cutting(void)
{
	struct err e = {0};
	struct oci_store *s = NULL;
	snprintf(root, sizeof(root), "/tmp/test-minimize-XXXXXX");
	ok(mkdtemp(root) != NULL, "a scratch store");
	ok(oci_open(root, &s, &e) == 0 && make_image(s, &e) == 0, "an image: %s", e.msg);
	struct trace t;
	const char *text =
	    "crumb-trace 1\nsys read\nsys write\nsys openat\nsys socket\n"
	    "sys frobnicate\nexec /sbin/start\nfile openat /lib64/libc.so.6\n"
	    "file openat /etc/missing\nfile newfstatat /data/../etc/./passwd\n"
	    "socket 2 1\nsocket 1 1\nfile openat /dev/null\nfile openat /proc/self/x\n"
	    "end\n";
	ok(parse(text, &t, &e) == 0, "a trace: %s", e.msg);
	struct strlist keep = STRLIST_INIT, allow = STRLIST_INIT;
	struct minimize_opts o = {.image = "box:1", .tag = "box:min", .trace = &t, .keep = &keep};
	struct minimize_result r1, r2;
	ok(minimize_image(s, &o, &r1, &e) == 0, "minimised: %s", e.msg);
	struct tree nt;
	struct oci_image im = {0};
	ok(load(s, "box:min", &nt, &im) == 0, "the new image reads back");
	ok(tree_lookup(&nt, "/sbin/start", 0), "an executed script stays");
	ok(tree_lookup(&nt, "/bin/busybox", 0) && tree_lookup(&nt, "/bin/sh", 0),
	   "... and its #! interpreter, a link and its target (the kernel opens them, no call)");
	ok(!tree_lookup(&nt, "/bin/ls", 0), "a link nobody used goes");
	ok(tree_lookup(&nt, "/lib64", 0) && tree_lookup(&nt, "/lib/libc.so.6", 0) &&
	       tree_lookup(&nt, "/lib/libc-2.36.so", 0),
	   "a chain of links through a linked directory stays whole");
	ok(!tree_lookup(&nt, "/usr/share/doc/big", 0) && !tree_lookup(&nt, "/etc/unused.conf", 0),
	   "untraced files go");
	ok(tree_lookup(&nt, "/usr/share/doc", 0) && tree_lookup(&nt, "/data", 0),
	   "directories stay");
	ok(tree_lookup(&nt, "/dev/console", 0), "device nodes stay");
	ok(tree_lookup(&nt, "/sbin/crumb-init", 0) && tree_lookup(&nt, "/etc/crumb/init.conf", 0) &&
	       tree_lookup(&nt, "/etc/passwd", 0) && tree_lookup(&nt, "/etc/group", 0),
	   "crumb-init, its config, passwd and group stay");
	is_int((long long)r1.files_before, 14, "14 files and links before");
	is_int((long long)r1.files_after, 10, "10 after");
	is_str(oci_config_label(&im.cfg, "crumb.seccomp"),
	       "openat read socket(AF_UNIX,AF_INET) write",
	       "the allowlist label: traced calls, socket by family");
	ok(r1.unknown_calls.n == 1 && !strcmp(r1.unknown_calls.v[0], "frobnicate"),
	   "a call libseccomp does not know is noted, not allowed");
	is_int((long long)r1.nsyscalls, 4 + 10, "four calls allowed plus the ten implicit");
	is_str(oci_config_label(&im.cfg, "crumb.minimized.kernel"),
	       "net=AF_UNIX,AF_INET fs=proc,devtmpfs,rootfs dev=/dev/null", "the kernel features");
	is_str(oci_config_label(&im.cfg, "crumb.minimized.from"), r1.from, "where it came from");
	is_str(oci_config_label(&im.cfg, "crumb.memory"), "64M", "the other labels stay");
	ok(im.cfg.created && !strcmp(im.cfg.created, "2024-01-02T03:04:05Z"), "created stays");
	tree_release(&nt);
	oci_image_release(&im);

	ok(minimize_image(s, &o, &r2, &e) == 0 && !strcmp(r1.manifest.digest, r2.manifest.digest),
	   "again: the same digest (%s)", r2.manifest.digest);
	minimize_result_release(&r2);

	strlist_push(&keep, "/usr/share/doc/b*");
	strlist_push(&allow, "mkdir socket(AF_INET6)");
	o.allow = &allow;
	o.tag = "box:keep";
	ok(minimize_image(s, &o, &r2, &e) == 0, "with --keep and --allow: %s", e.msg);
	ok(load(s, "box:keep", &nt, &im) == 0 && tree_lookup(&nt, "/usr/share/doc/big", 0) &&
	       !tree_lookup(&nt, "/usr/share/doc/other", 0),
	   "--keep keeps what its glob matches, only that");
	is_str(oci_config_label(&im.cfg, "crumb.seccomp"),
	       "mkdir openat read socket(AF_UNIX,AF_INET,AF_INET6) write", "--allow adds to it");
	tree_release(&nt);
	oci_image_release(&im);
	minimize_result_release(&r2);

	o.no_seccomp = 1;
	o.tag = "box:noseccomp";
	o.allow = NULL;
	ok(minimize_image(s, &o, &r2, &e) == 0 && load(s, "box:noseccomp", &nt, &im) == 0 &&
	       !oci_config_label(&im.cfg, "crumb.seccomp"),
	   "--no-seccomp: no allowlist label");
	tree_release(&nt);
	oci_image_release(&im);
	minimize_result_release(&r2);

	t.ended = 0;
	ok(minimize_image(s, &o, &r2, &e) == CRUMB_EFORMAT && strstr(e.msg, "no end record"),
	   "a trace without its end is refused: %s", e.msg);
	minimize_result_release(&r2);
	minimize_result_release(&r1);
	trace_release(&t);
	strlist_release(&keep);
	strlist_release(&allow);
	oci_close(s);
	sh("rm -rf %s", root);
}

int main(void)
{
	parsing();
	cutting();
	return done_testing();
}

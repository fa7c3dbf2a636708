/* test_import.c: archives written here (libarchive and raw tar headers) -> tree: fields, content,
 * hostile input. */
#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/archive.h"
#include "lib/import.h"
#include "tap.h"

static char dir[] = "/tmp/crumb-import-XXXXXX";

static char *tmp(const char *name)
{
	return xasprintf("%s/%s", dir, name);
}

/* ---- writing archives with libarchive ---- */

static struct archive *wopen(const char *path, const char *fmt, int filter)
{
	struct archive *w = archive_write_new();
	archive_write_set_format_by_name(w, fmt);
	archive_write_add_filter(w, filter);
	if (path)
		archive_write_open_filename(w, path);
	return w;
}

static void wput(struct archive *w, struct archive_entry *en, const void *data, size_t len)
{
	if (archive_write_header(w, en) < ARCHIVE_WARN)
		printf("# write_header %s: %s\n", archive_entry_pathname(en),
		       archive_error_string(w));
	if (len)
		archive_write_data(w, data, len);
}

/* A member owned 1000:100, mtime 1700000000. */
static void wadd(struct archive *w, const char *name, unsigned type, unsigned perm,
		 const char *data, const char *link)
{
	struct archive_entry *en = archive_entry_new();
	archive_entry_set_pathname(en, name);
	archive_entry_set_filetype(en, type);
	archive_entry_set_perm(en, perm);
	archive_entry_set_uid(en, 1000);
	archive_entry_set_gid(en, 100);
	archive_entry_set_mtime(en, 1700000000, 0);
	size_t len = data ? strlen(data) : 0;
	archive_entry_set_size(en, (la_int64_t)len);
	if (type == AE_IFLNK)
		archive_entry_set_symlink(en, link);
	else if (link)
		archive_entry_set_hardlink(en, link);
	wput(w, en, data, len);
	archive_entry_free(en);
}

static void wclose(struct archive *w)
{
	archive_write_close(w);
	archive_write_free(w);
}

/* ---- raw tar headers, to get past libarchive's writer ---- */

/* One ustar header; size_b256 writes the size in GNU base-256 (any value). */
static void raw_hdr(char *b, const char *name, uint64_t size, int size_b256, char type,
		    const char *link)
{
	memset(b, 0, 512);
	strncpy(b, name, 100);
	memcpy(b + 100, "0000644", 7);
	memcpy(b + 108, "0000000", 7);
	memcpy(b + 116, "0000000", 7);
	if (size_b256) {
		b[124] = (char)0x80;
		for (int i = 0; i < 8; i++)
			b[135 - i] = (char)(size >> (8 * i));
	} else {
		snprintf(b + 124, 12, "%011llo", (unsigned long long)size);
	}
	memcpy(b + 136, "00000000000", 11);
	b[156] = type;
	if (link)
		strncpy(b + 157, link, 100);
	memcpy(b + 257,
	       "ustar\0"
	       "00",
	       8);
	memset(b + 148, ' ', 8);
	unsigned sum = 0;
	for (int i = 0; i < 512; i++)
		sum += (unsigned char)b[i];
	snprintf(b + 148, 8, "%06o", sum);
}

struct raw {
	char *buf;
	size_t len;
};

static void raw_add(struct raw *r, const char *name, char type, const char *data, const char *link)
{
	size_t len = data ? strlen(data) : 0;
	size_t pad = (len + 511) / 512 * 512;
	r->buf = xrealloc(r->buf, r->len + 512 + pad);
	raw_hdr(r->buf + r->len, name, len, 0, type, link);
	memset(r->buf + r->len + 512, 0, pad);
	if (len)
		memcpy(r->buf + r->len + 512, data, len);
	r->len += 512 + pad;
}

static void raw_write(struct raw *r, const char *path, int end)
{
	FILE *f = fopen(path, "wb");
	fwrite(r->buf, 1, r->len, f);
	if (end) {
		char z[1024] = {0};
		fwrite(z, 1, sizeof(z), f);
	}
	fclose(f);
	free(r->buf);
	r->buf = NULL;
	r->len = 0;
}

/* ---- checking ---- */

static int content_is(struct tree *t, const char *path, const char *want)
{
	struct tree_node *n = tree_lookup(t, path, 0);
	struct err e = {0};
	if (!n || n->type != TREE_REG || n->size != strlen(want))
		return 0;
	char *buf = xmalloc(n->size + 1);
	int ok_ = tree_read(n, 0, buf, n->size, &e) == 0 && !memcmp(buf, want, n->size);
	free(buf);
	return ok_;
}

static int import(struct tree *t, const char *path, struct import_opts *o, struct err *e)
{
	memset(e, 0, sizeof(*e));
	int r = import_archive(t, path, o, e);
	if (r < 0)
		printf("# import %s: %s\n", path, e->msg);
	return r;
}

/* A fresh tree with the archive imported; returns the import's result. */
static int fresh(struct tree *t, const char *path, struct import_opts *o, struct err *e)
{
	tree_init(t);
	return import(t, path, o, e);
}

static void test_fields(void)
{
	struct tree t;
	struct err e;
	char *p = tmp("fields.tar");
	struct archive *w = wopen(p, "ustar", ARCHIVE_FILTER_NONE);
	wadd(w, "./", AE_IFDIR, 0700, NULL, NULL);
	wadd(w, "bin/", AE_IFDIR, 0755, NULL, NULL);
	wadd(w, "bin/su", AE_IFREG, 04755, "#!/bin/sh\necho su\n", NULL);
	wadd(w, "bin/sudo", AE_IFREG, 0, NULL, "bin/su");
	wadd(w, "bin/sh", AE_IFLNK, 0777, NULL, "busybox");
	wadd(w, "tmp/", AE_IFDIR, 01777, NULL, NULL);
	wadd(w, "etc/hosts", AE_IFREG, 0644, "127.0.0.1 localhost\n", NULL);
	wadd(w, "run/fifo", AE_IFIFO, 0600, NULL, NULL);
	struct archive_entry *en = archive_entry_new();
	archive_entry_set_pathname(en, "dev/console");
	archive_entry_set_filetype(en, AE_IFCHR);
	archive_entry_set_perm(en, 0600);
	archive_entry_set_rdevmajor(en, 5);
	archive_entry_set_rdevminor(en, 1);
	wput(w, en, NULL, 0);
	archive_entry_clear(en);
	archive_entry_set_pathname(en, "dev/sda");
	archive_entry_set_filetype(en, AE_IFBLK);
	archive_entry_set_perm(en, 0660);
	archive_entry_set_rdevmajor(en, 8);
	archive_entry_set_rdevminor(en, 0);
	wput(w, en, NULL, 0);
	archive_entry_free(en);
	wclose(w);

	struct import_opts o = {.keep_owner = 1};
	ok(fresh(&t, p, &o, &e) == 0, "ustar: imports");
	is_int(o.found_compress, COMPRESS_NONE, "ustar: found_compress none");
	is_int(o.found_cpio, 0, "ustar: not a cpio");
	ok(t.root->mode == 0700 && t.root->uid == 1000, "./ sets the root's mode and owner");
	struct tree_node *n = tree_lookup(&t, "/bin/su", 0);
	ok(n && n->mode == 04755 && n->uid == 1000 && n->gid == 100 && n->mtime == 1700000000,
	   "setuid file: mode 04755, owner 1000:100, mtime");
	ok(content_is(&t, "/bin/su", "#!/bin/sh\necho su\n"), "file content");
	char *real = realpath(p, NULL);
	ok(n && n->src_path && !strcmp(n->src_path, real) && n->src_off == 1536 && !n->data,
	   "uncompressed: content referenced in the archive at offset 1536");
	free(real);
	struct tree_node *h = tree_lookup(&t, "/bin/sudo", 0);
	ok(n && h && n->hardlink && n->hardlink == h->hardlink && h->mode == 04755,
	   "hard link shares the id and the inode's mode");
	ok(content_is(&t, "/bin/sudo", "#!/bin/sh\necho su\n"), "hard link content");
	n = tree_lookup(&t, "/bin/sh", 0);
	ok(n && n->type == TREE_LNK && !strcmp(n->link, "busybox"), "symlink target");
	n = tree_lookup(&t, "/tmp", 0);
	ok(n && n->type == TREE_DIR && n->mode == 01777, "sticky directory");
	ok(content_is(&t, "/etc/hosts", "127.0.0.1 localhost\n"),
	   "second file content at its offset");
	n = tree_lookup(&t, "/dev/console", 0);
	ok(n && n->type == TREE_CHR && n->rdev_major == 5 && n->rdev_minor == 1 && n->mode == 0600,
	   "char device 5,1");
	n = tree_lookup(&t, "/dev/sda", 0);
	ok(n && n->type == TREE_BLK && n->rdev_major == 8 && n->rdev_minor == 0,
	   "block device 8,0");
	n = tree_lookup(&t, "/run/fifo", 0);
	ok(n && n->type == TREE_FIFO && n->mode == 0600, "fifo");
	n = tree_lookup(&t, "/etc", 0);
	ok(n && n->type == TREE_DIR && n->mode == 0755 && n->uid == 0,
	   "implicit parent: 0755 root");
	tree_release(&t);

	struct import_opts o2 = {.dest = "/opt/app"};
	ok(fresh(&t, p, &o2, &e) == 0, "import at a dest");
	n = tree_lookup(&t, "/opt/app/bin/su", 0);
	ok(n && n->uid == 0 && n->gid == 0, "keep_owner 0: root:root");
	ok(tree_lookup(&t, "/opt/app", 0)->mode == 0700, "./ sets dest's mode");
	tree_release(&t);
	free(p);
}

static void test_pax_sparse_xattrs(void)
{
	struct tree t;
	struct err e;
	char *p = tmp("pax.tar");
	struct archive *w = wopen(p, "pax", ARCHIVE_FILTER_NONE);
	struct archive_entry *en = archive_entry_new();
	archive_entry_set_pathname(en, "usr/bin/ping");
	archive_entry_set_filetype(en, AE_IFREG);
	archive_entry_set_perm(en, 0755);
	archive_entry_set_size(en, 4);
	archive_entry_xattr_add_entry(en, "security.capability", "\1\2\3", 3);
	archive_entry_xattr_add_entry(en, "user.note", "hello", 5);
	wput(w, en, "PING", 4);
	archive_entry_clear(en);
	archive_entry_set_pathname(en, "var/sparse");
	archive_entry_set_filetype(en, AE_IFREG);
	archive_entry_set_perm(en, 0600);
	archive_entry_set_size(en, 1 << 20);
	archive_entry_sparse_add_entry(en, 4096, 5);
	archive_entry_sparse_add_entry(en, 1 << 19, 5);
	archive_write_header(w, en);
	/* the writer takes the whole logical content and keeps the data ranges */
	char *whole = xcalloc(1, 1 << 20);
	memcpy(whole + 4096, "SPAR1", 5);
	memcpy(whole + (1 << 19), "SPAR2", 5);
	archive_write_data(w, whole, 1 << 20);
	free(whole);
	archive_entry_clear(en);
	char longname[300];
	memset(longname, 'a', 250);
	strcpy(longname + 250, "/file");
	archive_entry_set_pathname(en, longname);
	archive_entry_set_filetype(en, AE_IFREG);
	archive_entry_set_perm(en, 0644);
	archive_entry_set_size(en, 4);
	wput(w, en, "LONG", 4);
	archive_entry_free(en);
	wclose(w);

	ok(fresh(&t, p, NULL, &e) == 0, "pax: imports (NULL opts)");
	struct tree_node *n = tree_lookup(&t, "/usr/bin/ping", 0);
	int caps = 0, note = 0;
	for (size_t i = 0; n && i < n->nxattrs; i++) {
		caps |= !strcmp(n->xattrs[i].name, "security.capability") &&
			n->xattrs[i].len == 3 && !memcmp(n->xattrs[i].value, "\1\2\3", 3);
		note |= !strcmp(n->xattrs[i].name, "user.note") && n->xattrs[i].len == 5;
	}
	ok(caps && note, "xattrs security.capability and user.note");
	ok(content_is(&t, "/usr/bin/ping", "PING") && n->src_path,
	   "pax member referenced correctly");
	ok(content_is(&t, longname, "LONG"), "long pax name, referenced past the pax header");
	n = tree_lookup(&t, "/var/sparse", 0);
	ok(n && n->size == 1 << 20 && n->nextents == 2 && n->extents[0].off == 4096 &&
	       n->extents[0].len == 5 && n->extents[1].off == 1 << 19 && n->extents[1].len == 5,
	   "sparse member: extents 4096+5, 524288+5");
	char buf[16];
	ok(n && tree_read(n, 4094, buf, 8, &e) == 0 && !memcmp(buf, "\0\0SPAR1\0", 8),
	   "sparse content reads with zero holes");
	ok(n && tree_read(n, (1 << 19), buf, 5, &e) == 0 && !memcmp(buf, "SPAR2", 5),
	   "second data range");
	tree_release(&t);
	free(p);
}

/* Every filter on tar and cpio: found_compress and content. */
static void test_filters(void)
{
	static const struct {
		const char *fmt;
		int filter, want;
	} cases[] = {
	    {"gnutar", ARCHIVE_FILTER_GZIP, COMPRESS_GZIP},
	    {"ustar", ARCHIVE_FILTER_ZSTD, COMPRESS_ZSTD},
	    {"pax", ARCHIVE_FILTER_XZ, -1},
	    {"ustar", ARCHIVE_FILTER_BZIP2, -1},
	    {"ustar", ARCHIVE_FILTER_LZ4, -1},
	    {"newc", ARCHIVE_FILTER_NONE, COMPRESS_NONE},
	    {"newc", ARCHIVE_FILTER_GZIP, COMPRESS_GZIP},
	    {"newc", ARCHIVE_FILTER_ZSTD, COMPRESS_ZSTD},
	    {"newc", ARCHIVE_FILTER_XZ, -1},
	    {"odc", ARCHIVE_FILTER_NONE, COMPRESS_NONE},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tree t;
		struct err e;
		char *p = tmp("f.arc");
		struct archive *w = wopen(p, cases[i].fmt, cases[i].filter);
		wadd(w, "a/b/c.txt", AE_IFREG, 0640, "content of c\n", NULL);
		wadd(w, "a/l", AE_IFLNK, 0777, NULL, "b/c.txt");
		wadd(w, "a/d.txt", AE_IFREG, 0600, "d\n", NULL);
		wclose(w);
		struct import_opts o = {.keep_owner = 1};
		int r = fresh(&t, p, &o, &e);
		struct tree_node *n = tree_lookup(&t, "/a/b/c.txt", 0);
		int cpio = !strcmp(cases[i].fmt, "newc") || !strcmp(cases[i].fmt, "odc");
		ok(r == 0 && o.found_compress == cases[i].want && o.found_cpio == cpio &&
		       content_is(&t, "/a/b/c.txt", "content of c\n") &&
		       content_is(&t, "/a/d.txt", "d\n") && n->mode == 0640 && n->uid == 1000 &&
		       tree_lookup(&t, "/a/l", 0)->type == TREE_LNK &&
		       (cases[i].filter == ARCHIVE_FILTER_NONE) == (n->src_path != NULL),
		   "%s + filter %d: compress %d, cpio %d, content, %s", cases[i].fmt,
		   cases[i].filter, o.found_compress, o.found_cpio,
		   n && n->src_path ? "referenced" : "copied");
		tree_release(&t);
		free(p);
	}
}

static void test_newc_hardlinks(void)
{
	struct tree t;
	struct err e;
	for (int z = 0; z < 2; z++) {
		char *p = tmp("links.cpio");
		struct archive *w = wopen(p, "newc", z ? ARCHIVE_FILTER_ZSTD : ARCHIVE_FILTER_NONE);
		struct archive_entry *en = archive_entry_new();
		const char *names[] = {"bin/one", "bin/two", "bin/three"};
		for (int i = 0; i < 3; i++) {
			archive_entry_clear(en);
			archive_entry_set_pathname(en, names[i]);
			archive_entry_set_filetype(en, AE_IFREG);
			archive_entry_set_perm(en, 0755);
			archive_entry_set_ino(en, 77);
			archive_entry_set_dev(en, 1);
			archive_entry_set_nlink(en, 3);
			archive_entry_set_size(en, i == 2 ? 4 : 0); /* data with the last name */
			wput(w, en, "same", i == 2 ? 4 : 0);
		}
		archive_entry_free(en);
		wclose(w);
		ok(fresh(&t, p, NULL, &e) == 0, "newc hard links (%s): imports",
		   z ? "zstd" : "plain");
		struct tree_node *a = tree_lookup(&t, "/bin/one", 0),
				 *b = tree_lookup(&t, "/bin/two", 0),
				 *c = tree_lookup(&t, "/bin/three", 0);
		ok(a && b && c && a->hardlink && a->hardlink == b->hardlink &&
		       b->hardlink == c->hardlink,
		   "newc: three names, one hardlink id");
		ok(content_is(&t, "/bin/one", "same") && content_is(&t, "/bin/two", "same") &&
		       content_is(&t, "/bin/three", "same"),
		   "newc: the data on the last name reaches every name");
		tree_release(&t);
		free(p);
	}
}

/* A .deb: ar of debian-binary, control.tar.gz, data.tar.<filter>. */
static void make_deb(const char *path, int data_filter)
{
	size_t cap = 1 << 20, clen = 0, dlen = 0;
	char *ctl = xmalloc(cap), *data = xmalloc(cap);
	struct archive *w = wopen(NULL, "ustar", ARCHIVE_FILTER_GZIP);
	archive_write_open_memory(w, ctl, cap, &clen);
	wadd(w, "./control", AE_IFREG, 0644, "Package: hello\n", NULL);
	wclose(w);
	w = wopen(NULL, "ustar", data_filter);
	archive_write_set_bytes_per_block(w, 512);
	archive_write_open_memory(w, data, cap, &dlen);
	wadd(w, "./", AE_IFDIR, 0755, NULL, NULL);
	wadd(w, "./usr/bin/hello", AE_IFREG, 0755, "#!/bin/sh\necho hello\n", NULL);
	wadd(w, "./usr/share/doc/hello/copyright", AE_IFREG, 0644, "public domain\n", NULL);
	wclose(w);
	w = archive_write_new();
	archive_write_set_format_ar_svr4(w);
	archive_write_add_filter_none(w);
	archive_write_open_filename(w, path);
	struct archive_entry *en = archive_entry_new();
	const char *names[] = {"debian-binary", "control.tar.gz",
			       data_filter == ARCHIVE_FILTER_XZ ? "data.tar.xz" : "data.tar"};
	const char *bodies[] = {"2.0\n", ctl, data};
	size_t lens[] = {4, clen, dlen};
	for (int i = 0; i < 3; i++) {
		archive_entry_clear(en);
		archive_entry_set_pathname(en, names[i]);
		archive_entry_set_filetype(en, AE_IFREG);
		archive_entry_set_perm(en, 0644);
		archive_entry_set_size(en, (la_int64_t)lens[i]);
		wput(w, en, bodies[i], lens[i]);
	}
	archive_entry_free(en);
	wclose(w);
	free(ctl);
	free(data);
}

static void test_deb(void)
{
	struct tree t;
	struct err e;
	char *p = tmp("hello.deb");
	make_deb(p, ARCHIVE_FILTER_XZ);
	struct import_opts o = {0};
	ok(fresh(&t, p, &o, &e) == 0, ".deb (data.tar.xz): imports");
	ok(content_is(&t, "/usr/bin/hello", "#!/bin/sh\necho hello\n") &&
	       content_is(&t, "/usr/share/doc/hello/copyright", "public domain\n"),
	   ".deb: data.tar content");
	ok(!tree_lookup(&t, "/control", 0) && !tree_lookup(&t, "/debian-binary", 0),
	   ".deb: control and debian-binary are not imported");
	is_int(o.found_compress, -1, ".deb: found_compress is the data.tar's (xz: -1)");
	tree_release(&t);

	make_deb(p, ARCHIVE_FILTER_NONE);
	ok(fresh(&t, p, &o, &e) == 0, ".deb (plain data.tar): imports");
	struct tree_node *n = tree_lookup(&t, "/usr/bin/hello", 0);
	ok(n && n->src_path && content_is(&t, "/usr/bin/hello", "#!/bin/sh\necho hello\n") &&
	       content_is(&t, "/usr/share/doc/hello/copyright", "public domain\n"),
	   ".deb: plain data.tar members referenced inside the ar (offset %llu)",
	   n ? (unsigned long long)n->src_off : 0ULL);
	tree_release(&t);

	/* an ar that is not a .deb */
	struct archive *w = archive_write_new();
	archive_write_set_format_ar_svr4(w);
	archive_write_add_filter_none(w);
	archive_write_open_filename(w, p);
	wadd(w, "foo.o", AE_IFREG, 0644, "xx", NULL);
	wadd(w, "bar.o", AE_IFREG, 0644, "yy", NULL);
	wclose(w);
	is_int(fresh(&t, p, NULL, &e), CRUMB_EFORMAT, "an ar without data.tar: EFORMAT (%s)",
	       e.msg);
	tree_release(&t);
	free(p);
}

static void test_oci(void)
{
	struct tree t;
	struct err e;
	char *l1 = tmp("layer1.tar"), *l2 = tmp("layer2.tar.gz");
	struct archive *w = wopen(l1, "pax", ARCHIVE_FILTER_NONE);
	wadd(w, "etc/a", AE_IFREG, 0644, "a\n", NULL);
	wadd(w, "etc/b", AE_IFREG, 0644, "b\n", NULL);
	wadd(w, "opt/x/y", AE_IFREG, 0644, "y\n", NULL);
	wadd(w, "opt/z", AE_IFREG, 0644, "z\n", NULL);
	wadd(w, "opt/keep/old", AE_IFREG, 0644, "old\n", NULL);
	wadd(w, "srv/d/f", AE_IFREG, 0644, "f\n", NULL);
	wclose(w);
	w = wopen(l2, "pax", ARCHIVE_FILTER_GZIP);
	wadd(w, "etc/.wh.a", AE_IFREG, 0644, "", NULL);
	wadd(w, "opt/", AE_IFDIR, 0755, NULL, NULL);
	wadd(w, "opt/keep/new", AE_IFREG, 0644, "new\n", NULL);
	wadd(w, "opt/.wh..wh..opq", AE_IFREG, 0644, "", NULL);
	wadd(w, "opt/n", AE_IFREG, 0644, "n\n", NULL);
	wadd(w, "opt/.wh.n", AE_IFREG, 0644, "", NULL); /* same layer: does not delete */
	wadd(w, "srv/d", AE_IFREG, 0644, "now a file\n", NULL);
	wadd(w, "etc/.wh..wh.plnk", AE_IFDIR, 0700, NULL, NULL);
	wadd(w, "etc/.wh.missing", AE_IFREG, 0644, "", NULL);
	wadd(w, "nowhere/.wh.x", AE_IFREG, 0644, "", NULL);
	wclose(w);
	struct import_opts o = {.whiteouts = 1};
	ok(fresh(&t, l1, &o, &e) == 0 && import(&t, l2, &o, &e) == 0, "OCI: two layers import");
	ok(!tree_lookup(&t, "/etc/a", 0) && content_is(&t, "/etc/b", "b\n"),
	   "OCI: .wh.a deletes a, b stays");
	ok(!tree_lookup(&t, "/opt/x", 0) && !tree_lookup(&t, "/opt/z", 0) &&
	       !tree_lookup(&t, "/opt/keep/old", 0),
	   "OCI: opaque dir hides the lower layer's contents, also below kept dirs");
	ok(content_is(&t, "/opt/keep/new", "new\n") && content_is(&t, "/opt/n", "n\n"),
	   "OCI: the same layer's files stay (before and after the markers)");
	ok(content_is(&t, "/srv/d", "now a file\n"), "OCI: a file replaces a lower non-empty dir");
	ok(!tree_lookup(&t, "/etc/.wh.a", 0) && !tree_lookup(&t, "/etc/.wh..wh.plnk", 0) &&
	       !tree_lookup(&t, "/nowhere", 0),
	   "OCI: markers are not content; a whiteout creates nothing");
	tree_release(&t);

	struct import_opts plain = {0};
	ok(fresh(&t, l2, &plain, &e) == 0 && tree_lookup(&t, "/etc/.wh.a", 0) &&
	       tree_lookup(&t, "/opt/.wh..wh..opq", 0),
	   "whiteouts off: .wh. files are plain files");
	tree_release(&t);

	struct raw r = {0};
	raw_add(&r, "etc/.wh..", '0', NULL, NULL);
	raw_write(&r, l1, 1);
	is_int(fresh(&t, l1, &o, &e), CRUMB_EFORMAT, "whiteout of '.': EFORMAT (%s)", e.msg);
	ok(tree_lookup(&t, "/", 0) != NULL, "the tree is intact");
	tree_release(&t);
	free(l1);
	free(l2);
}

static void test_hostile(void)
{
	struct tree t;
	struct err e;
	struct raw r = {0};
	char *p = tmp("evil.tar");
	struct tree_node *n;

	raw_add(&r, "../../etc/passwd", '0', "root::0:0::/:/bin/sh\n", NULL);
	raw_add(&r, "/abs/path", '0', "abs\n", NULL);
	raw_add(&r, "a/../../../b", '0', "b\n", NULL);
	raw_write(&r, p, 1);
	struct import_opts o = {.dest = "/sub"};
	ok(fresh(&t, p, &o, &e) == 0, "../ and /abs names: imported");
	ok(content_is(&t, "/sub/etc/passwd", "root::0:0::/:/bin/sh\n") &&
	       !tree_lookup(&t, "/etc", 0),
	   "../../etc/passwd lands at dest/etc/passwd");
	ok(content_is(&t, "/sub/abs/path", "abs\n") && content_is(&t, "/sub/b", "b\n"),
	   "/abs/path and a/../../../b stay under dest");
	tree_release(&t);

	/* write through a symlink planted earlier in the same archive */
	struct stat before, after;
	stat("/etc/passwd", &before);
	raw_add(&r, "link", '2', NULL, "/etc");
	raw_add(&r, "link/passwd", '0', "evil\n", NULL);
	raw_add(&r, "rel", '2', NULL, "../../../../etc");
	raw_add(&r, "rel/shadow", '0', "evil\n", NULL);
	raw_write(&r, p, 1);
	ok(fresh(&t, p, NULL, &e) == 0, "through a planted symlink at /: imported");
	ok(content_is(&t, "/etc/passwd", "evil\n") && content_is(&t, "/etc/shadow", "evil\n") &&
	       tree_lookup(&t, "/link", 0)->type == TREE_LNK,
	   "the writes land inside the tree (/etc/passwd of the tree)");
	stat("/etc/passwd", &after);
	ok(before.st_size == after.st_size && before.st_mtime == after.st_mtime,
	   "the host's /etc/passwd is untouched");
	tree_release(&t);
	is_int(fresh(&t, p, &o, &e), CRUMB_EUNSAFE, "same at dest /sub: EUNSAFE (%s)", e.msg);
	ok(!tree_lookup(&t, "/etc/passwd", 0), "nothing written outside dest");
	tree_release(&t);

	/* symlinks leading nowhere, and loops */
	raw_add(&r, "l", '2', NULL, "nowhere");
	raw_add(&r, "l/x", '0', "x\n", NULL);
	raw_write(&r, p, 1);
	ok(fresh(&t, p, NULL, &e) == 0 && content_is(&t, "/nowhere/x", "x\n"),
	   "write through a dangling symlink makes its target, inside the tree");
	tree_release(&t);
	raw_add(&r, "a", '2', NULL, "b");
	raw_add(&r, "b", '2', NULL, "a");
	raw_add(&r, "a/x", '0', "x\n", NULL);
	raw_write(&r, p, 1);
	is_int(fresh(&t, p, NULL, &e), CRUMB_EUNSAFE, "write through a symlink loop: EUNSAFE (%s)",
	       e.msg);
	tree_release(&t);

	/* absurd sizes, plain (referenced) and compressed (copied) */
	r.buf = xcalloc(1, 512 + 1024);
	raw_hdr(r.buf, "huge", 1ULL << 60, 1, '0', NULL);
	r.len = 512 + 1024;
	FILE *f = fopen(p, "wb");
	fwrite(r.buf, 1, r.len, f);
	fclose(f);
	is_int(fresh(&t, p, NULL, &e), CRUMB_EUNSAFE, "2^60-byte member: EUNSAFE (%s)", e.msg);
	ok(strstr(e.msg, "huge") != NULL, "the message names the member");
	tree_release(&t);
	char *gz = tmp("evil.tar.gz");
	struct archive *w = wopen(gz, "raw", ARCHIVE_FILTER_GZIP);
	struct archive_entry *en = archive_entry_new();
	archive_entry_set_pathname(en, "x");
	archive_entry_set_filetype(en, AE_IFREG);
	archive_entry_set_size(en, (la_int64_t)r.len);
	wput(w, en, r.buf, r.len);
	archive_entry_free(en);
	wclose(w);
	free(r.buf);
	r.buf = NULL;
	r.len = 0;
	is_int(fresh(&t, gz, NULL, &e), CRUMB_EUNSAFE, "2^60-byte member, gzip: EUNSAFE (%s)",
	       e.msg);
	tree_release(&t);

	/* pax size=2^60, written by hand: libarchive's writer would pad it out */
	raw_add(&r, "PaxHeaders/big", 'x', "28 size=1152921504606846976\n", NULL);
	raw_add(&r, "big", '0', NULL, NULL);
	raw_write(&r, p, 1);
	is_int(fresh(&t, p, NULL, &e), CRUMB_EUNSAFE, "pax size=2^60: EUNSAFE (%s)", e.msg);
	tree_release(&t);

	/* the budget: three 1000-byte members, 2500 allowed */
	w = wopen(gz, "ustar", ARCHIVE_FILTER_GZIP);
	char kb[1001];
	memset(kb, 'k', 1000);
	kb[1000] = 0;
	wadd(w, "k1", AE_IFREG, 0644, kb, NULL);
	wadd(w, "k2", AE_IFREG, 0644, kb, NULL);
	wadd(w, "k3", AE_IFREG, 0644, kb, NULL);
	wclose(w);
	struct import_opts small = {.max_bytes = 3000};
	/* each member costs its 1000 bytes plus 256 + its name: k3 crosses 3000 */
	is_int(fresh(&t, gz, &small, &e), CRUMB_EUNSAFE, "past max_bytes: EUNSAFE (%s)", e.msg);
	ok(strstr(e.msg, "k3") != NULL, "the message names the member that crossed it");
	tree_release(&t);
	struct import_opts big = {.max_bytes = 1 << 20};
	ok(fresh(&t, gz, &big, &e) == 0, "within max_bytes: imports");
	tree_release(&t);

	/* truncated: compressed, and plain mid-data */
	w = wopen(gz, "ustar", ARCHIVE_FILTER_GZIP);
	char *rnd = xmalloc(200000);
	for (int i = 0; i < 200000; i++)
		rnd[i] = (char)(rand() % 255 + 1);
	rnd[199999] = 0;
	wadd(w, "blob1", AE_IFREG, 0644, rnd, NULL);
	wadd(w, "blob2", AE_IFREG, 0644, rnd, NULL);
	wclose(w);
	struct stat st;
	stat(gz, &st);
	truncate(gz, st.st_size / 2);
	is_int(fresh(&t, gz, NULL, &e), CRUMB_EFORMAT, "truncated .tar.gz: EFORMAT (%s)", e.msg);
	ok(strstr(e.msg, gz) && !strchr(e.msg, '\n'), "one line naming the archive");
	tree_release(&t);
	raw_add(&r, "first", '0', "1\n", NULL);
	raw_add(&r, "cut", '0', rnd, NULL);
	r.len -= 100000;
	raw_write(&r, p, 0);
	is_int(fresh(&t, p, NULL, &e), CRUMB_EFORMAT, "truncated plain tar: EFORMAT (%s)", e.msg);
	tree_release(&t);
	free(rnd);

	/* names: empty, ".", control characters in a hard link to nowhere */
	raw_add(&r, "", '0', "empty\n", NULL);
	raw_write(&r, p, 1);
	int rc = fresh(&t, p, NULL, &e);
	ok(rc == CRUMB_EFORMAT || rc == 0, "empty name: refused or ignored, no crash (%d %s)", rc,
	   e.msg);
	ok(t.root && t.root->type == TREE_DIR, "the root is still a directory");
	tree_release(&t);
	raw_add(&r, "./", '0', "dot\n", NULL);
	raw_write(&r, p, 1);
	is_int(fresh(&t, p, NULL, &e), CRUMB_EFORMAT, "a file named '.': EFORMAT (%s)", e.msg);
	tree_release(&t);
	raw_add(&r, "bad\nname", '1', NULL, "/etc/missing");
	raw_write(&r, p, 1);
	is_int(fresh(&t, p, NULL, &e), CRUMB_EFORMAT, "hard link to a missing name: EFORMAT (%s)",
	       e.msg);
	ok(!strchr(e.msg, '\n'), "control characters do not break the one-line message");
	tree_release(&t);
	raw_add(&r, "etc/x", '1', NULL, "/etc/passwd");
	raw_write(&r, p, 1);
	tree_init(&t);
	tree_add_data(&t, "/etc/passwd", "base\n", 5, 0644, &e);
	is_int(import(&t, p, NULL, &e), CRUMB_EFORMAT,
	       "hard link to a name from before the archive: EFORMAT (%s)", e.msg);
	tree_release(&t);
	raw_add(&r, "d/", '5', NULL, NULL);
	raw_add(&r, "x", '1', NULL, "d");
	raw_write(&r, p, 1);
	is_int(fresh(&t, p, NULL, &e), CRUMB_EFORMAT, "hard link to a directory: EFORMAT (%s)",
	       e.msg);
	tree_release(&t);

	/* replacing: dir over file, file over non-empty dir, hard link replacing its target's dir
	 */
	raw_add(&r, "x", '0', "file\n", NULL);
	raw_add(&r, "x/", '5', NULL, NULL);
	raw_add(&r, "d/f", '0', "f\n", NULL);
	raw_add(&r, "d", '0', "d is a file\n", NULL);
	raw_add(&r, "h/t", '0', "t\n", NULL);
	raw_add(&r, "h", '1', NULL, "h/t");
	raw_write(&r, p, 1);
	ok(fresh(&t, p, NULL, &e) == 0, "replacements: imported");
	n = tree_lookup(&t, "/x", 0);
	ok(n && n->type == TREE_DIR, "a directory member replaces a file");
	ok(content_is(&t, "/d", "d is a file\n"), "a file member replaces a non-empty directory");
	ok(content_is(&t, "/h", "t\n"),
	   "a hard link replacing its target's directory keeps the content");
	tree_release(&t);

	/* depth */
	struct sbuf deep = SBUF_INIT;
	for (int i = 0; i < 300; i++)
		sb_adds(&deep, "d/");
	sb_adds(&deep, "f");
	w = wopen(p, "pax", ARCHIVE_FILTER_NONE);
	wadd(w, deep.buf, AE_IFREG, 0644, "deep\n", NULL);
	wclose(w);
	is_int(fresh(&t, p, NULL, &e), CRUMB_EUNSAFE, "300 components: EUNSAFE (%s)", e.msg);
	tree_release(&t);
	sb_release(&deep);

	/* not archives */
	f = fopen(p, "wb");
	fputs("this is not an archive, just some text\n", f);
	fclose(f);
	is_int(fresh(&t, p, NULL, &e), CRUMB_EFORMAT, "plain text: EFORMAT (%s)", e.msg);
	tree_release(&t);
	char *missing = tmp("missing.tar");
	is_int(fresh(&t, missing, NULL, &e), CRUMB_ENOENT, "missing archive: ENOENT");
	tree_release(&t);
	is_int(fresh(&t, dir, NULL, &e), CRUMB_EINVAL, "a directory: EINVAL (%s)", e.msg);
	tree_release(&t);
	free(missing);
	free(gz);
	free(p);
}

/* Copies fuzz/corpus/import/NAME (run from the top of the tree) to the temp dir, replacing the
 * first `from` by `to` (same length) when given. */
static char *corpus_copy(const char *name, const char *from, const char *to)
{
	char *src = xasprintf("fuzz/corpus/import/%s", name), *dst = tmp(name);
	struct sbuf b = SBUF_INIT;
	struct err e;
	if (read_file(src, 1 << 20, &b, &e) < 0)
		printf("# %s\n", e.msg);
	char *at = from ? memmem(b.buf, b.len, from, strlen(from)) : NULL;
	if (from && !at)
		printf("# %s: '%s' not found\n", name, from);
	if (at)
		memcpy(at, to, strlen(to));
	write_file_atomic(dst, b.buf, b.len, 0644, &e);
	sb_release(&b);
	free(src);
	return dst;
}

/* docker save archives: one pass extracts and checks the config and the layers. */
static void test_docker(void)
{
	struct err e = {0};
	struct sbuf cfg = SBUF_INIT;
	struct strlist ls = STRLIST_INIT, ns = STRLIST_INIT;
	char *out = tmp("layers-out");
	mkdir(out, 0700);
	char *p = corpus_copy("docker-twice.tar", NULL, NULL);
	int r = docker_archive_members(p, out, 0, &cfg, &ls, &ns, &e);
	ok(r == 1 && ls.n == 2 && ns.n == 2 && cfg.len,
	   "Layers naming one file twice: accepted (%s)", r < 0 ? e.msg : "");
	ok(ls.n == 2 && !strcmp(ls.v[0], ls.v[1]), "... extracted once, used twice");
	ok(ns.n == 2 && !strncmp(ns.v[0], p, strlen(p)) && !strncmp(ns.v[0] + strlen(p), ": ", 2) &&
	       strstr(ns.v[0], ".tar") && !strstr(ns.v[0], out),
	   "... names 'ARCHIVE: MEMBER': %s", ns.n ? ns.v[0] : "");
	struct tree t;
	struct import_opts lo = {.whiteouts = 1, .name = ns.n ? ns.v[0] : NULL};
	tree_init(&t);
	ok(ls.n && import_archive(&t, ls.v[0], &lo, &e) == 0 &&
	       content_is(&t, "/etc/issue", "hi\n"),
	   "... the layer imports");
	tree_release(&t);
	strlist_release(&ls);
	strlist_release(&ns);
	free(p);

	static const struct {
		const char *file, *from, *to, *want;
		int code;
	} bad[] = {
	    {"docker-twice.tar", "\"A=1\"", "\"B=1\"", "corrupt: its content does not match",
	     CRUMB_EFORMAT},
	    {"docker-twice.tar", "hi\n", "ho\n", ".tar: corrupt: its content does not match",
	     CRUMB_EFORMAT},
	    {"docker-huge.tar", NULL, NULL,
	     ".tar: declares 1099511627776 bytes, more than the limit", CRUMB_EUNSAFE},
	    {"docker-blobs.tar", "hi\n", "ho\n", "blobs/sha256/", CRUMB_EFORMAT},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p = corpus_copy(bad[i].file, bad[i].from, bad[i].to);
		r = docker_archive_members(p, out, 0, &cfg, &ls, &ns, &e);
		ok(r == bad[i].code && strstr(e.msg, bad[i].want) &&
		       !strncmp(e.msg, p, strlen(p)) && !strstr(e.msg, out) && !strchr(e.msg, '\n'),
		   "%s, damage %zu: %s", bad[i].file, i, e.msg);
		strlist_release(&ls);
		strlist_release(&ns);
		free(p);
	}
	/* a docker 25 archive (blobs/sha256/ names): the layer matches the digest its name
	 * carries, though diff_ids disagree */
	p = corpus_copy("docker-blobs.tar", NULL, NULL);
	ok(docker_archive_members(p, out, 0, &cfg, &ls, &ns, &e) == 1,
	   "blobs/sha256/HEX names: checked by their digest (%s)", e.msg);
	strlist_release(&ls);
	strlist_release(&ns);
	free(p);
	/* truncated inside the layer member */
	p = corpus_copy("docker-twice.tar", NULL, NULL);
	ok(truncate(p, 2600) == 0, "truncate a docker archive in its layer");
	r = docker_archive_members(p, out, 0, &cfg, &ls, &ns, &e);
	ok(r == CRUMB_EFORMAT && strstr(e.msg, ".tar: ") && !strstr(e.msg, "missing") &&
	       !strstr(e.msg, "not in the archive"),
	   "... a member cut short is not 'missing': %s", e.msg);
	strlist_release(&ls);
	strlist_release(&ns);
	free(p);
	sb_release(&cfg);
	free(out);
}

int main(void)
{
	if (!mkdtemp(dir)) {
		printf("Bail out! mkdtemp\n");
		return 1;
	}
	test_fields();
	test_pax_sparse_xattrs();
	test_filters();
	test_newc_hardlinks();
	test_deb();
	test_oci();
	test_hostile();
	test_docker();
	struct err e;
	remove_tree(dir, &e);
	return done_testing();
}

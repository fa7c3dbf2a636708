/* test_archive.c: tree -> cpio newc, read back with libarchive: fields, order, links, holes. */
#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/archive.h"
#include "lib/zstdio.h"
#include "tap.h"
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_getFrameHeader */
#include <zstd.h>

int main(void)
{
	struct tree t;
	struct err e = {0};
	struct tree_node *n;
	char dir[] = "/tmp/crumb-arch-XXXXXX";
	ok(mkdtemp(dir) != NULL, "temp dir");
	char *out = xasprintf("%s/t.cpio", dir);

	tree_init(&t);
	tree_add_data(&t, "/etc/hosts", "127.0.0.1 localhost\n", 20, 0644, &e);
	tree_add_symlink(&t, "/bin", "usr/bin", &e);
	tree_add_device(&t, "/dev/console", TREE_CHR, 0600, 5, 1, &e);
	tree_add(&t, "/tmp", TREE_DIR, 01777, &n, &e);
	tree_add_data(&t, "/a/one", "same", 4, 0755, &e);
	tree_add_data(&t, "/a/two", "same", 4, 0755, &e);
	tree_lookup(&t, "/a/one", 0)->hardlink = tree_lookup(&t, "/a/two", 0)->hardlink = 1;
	t.next_hardlink = 1;
	/* a sparse node: 4 bytes of data at 1000 in a 1004-byte file */
	tree_add_data(&t, "/s", "0123456789", 10, 0600, &e);
	n = tree_lookup(&t, "/s", 0);
	free(n->data);
	n->data = xcalloc(1, 1004);
	memcpy((char *)n->data + 1000, "tail", 4);
	n->size = 1004;
	n->uid = 1000;
	n->gid = 100;

	tree_lookup(&t, "/etc/hosts", 0)->mtime = 2000000000; /* newer than the epoch */
	n->mtime = 1000;				      /* /s: older */
	tree_lookup(&t, "/a/two", 0)->mtime = -5;	      /* before 1970 */
	struct cpio_opts o = {.compress = COMPRESS_GZIP, .epoch = 1234567890, .clamp = 1};
	ok(cpio_write(&t, out, &o, &e) == 0, "cpio_write (gzip): %s", e.msg);

	struct archive *a = archive_read_new();
	archive_read_support_format_cpio(a);
	archive_read_support_filter_all(a);
	ok(archive_read_open_filename(a, out, 65536) == ARCHIVE_OK, "libarchive opens it");
	struct archive_entry *ent;
	struct sbuf names = SBUF_INIT;
	int64_t ino_one = -1, ino_two = -2;
	while (archive_read_next_header(a, &ent) == ARCHIVE_OK) {
		const char *p = archive_entry_pathname(ent);
		sb_addf(&names, "%s ", p);
		if (!strcmp(p, "dev/console"))
			ok(archive_entry_filetype(ent) == AE_IFCHR &&
			       archive_entry_rdevmajor(ent) == 5 &&
			       archive_entry_rdevminor(ent) == 1 && archive_entry_perm(ent) == 0600,
			   "dev/console: char 5,1 0600");
		if (!strcmp(p, "bin"))
			is_str(archive_entry_symlink(ent), "usr/bin", "bin: symlink target");
		if (!strcmp(p, "tmp"))
			ok(archive_entry_perm(ent) == 01777 &&
			       archive_entry_filetype(ent) == AE_IFDIR,
			   "tmp: sticky directory");
		if (!strcmp(p, "etc/hosts")) {
			char buf[64] = {0};
			ok(archive_read_data(a, buf, sizeof(buf)) == 20 &&
			       !strcmp(buf, "127.0.0.1 localhost\n"),
			   "etc/hosts: content");
			ok(archive_entry_mtime(ent) == 1234567890 && archive_entry_uid(ent) == 0,
			   "etc/hosts: a newer mtime is clamped to the epoch, root-owned");
		}
		if (!strcmp(p, "a/one")) {
			ino_one = archive_entry_ino64(ent);
			ok(archive_entry_nlink(ent) == 2 && archive_entry_size(ent) == 0,
			   "a/one: first name of a link pair, nlink 2, no data");
		}
		if (!strcmp(p, "a/two")) {
			ino_two = archive_entry_ino64(ent);
			char buf[8] = {0};
			ok(archive_entry_size(ent) == 4 && archive_read_data(a, buf, 8) == 4 &&
			       !strcmp(buf, "same"),
			   "a/two: the last name carries the data");
			is_int(archive_entry_mtime(ent), 0,
			       "a/two: a time before 1970 is written as 0");
		}
		if (!strcmp(p, "s")) {
			char buf[1100];
			ok(archive_entry_size(ent) == 1004 &&
			       archive_read_data(a, buf, sizeof(buf)) == 1004 &&
			       !memcmp(buf + 1000, "tail", 4) && archive_entry_uid(ent) == 1000 &&
			       archive_entry_gid(ent) == 100,
			   "s: 1004 bytes, ownership from the node");
			is_int(archive_entry_mtime(ent), 1000,
			       "s: an mtime older than the epoch is kept");
		}
	}
	ok(ino_one == ino_two, "the two names share an inode number");
	is_str(names.buf, ". a a/one a/two bin dev dev/console etc etc/hosts s tmp ",
	       "entries in sorted pre-order, the root as \".\"");
	archive_read_free(a);

	/* determinism and failure */
	char *out2 = xasprintf("%s/t2.cpio", dir);
	ok(cpio_write(&t, out2, &o, &e) == 0, "a second write");
	struct sbuf x = SBUF_INIT, y = SBUF_INIT;
	read_file(out, 1 << 20, &x, &e);
	read_file(out2, 1 << 20, &y, &e);
	ok(x.len == y.len && !memcmp(x.buf, y.buf, x.len),
	   "is byte-identical (gzip header included)");
	/* a set zstd level: a frame with a window the guest can afford, holding the plain cpio */
	char *pz = xasprintf("%s/t.cpio.zst", dir), *pn = xasprintf("%s/t.plain", dir);
	struct cpio_opts oz = o, on = o;
	oz.compress = COMPRESS_ZSTD, oz.level = 19, on.compress = COMPRESS_NONE;
	ok(cpio_write(&t, pz, &oz, &e) == 0 && cpio_write(&t, pn, &on, &e) == 0,
	   "cpio_write (zstd level 19; none): %s", e.msg);
	struct sbuf zb = SBUF_INIT;
	ZSTD_frameHeader h;
	ok(read_file(pz, 1 << 20, &zb, &e) == 0 && ZSTD_getFrameHeader(&h, zb.buf, zb.len) == 0 &&
	       h.windowSize <= (1u << ZSTDIO_INITRD_WLOG),
	   "... a window of at most 2 MiB (%llu)", (unsigned long long)h.windowSize);
	sb_release(&zb);
	ok(sh("zstd -q -dc %s | cmp -s - %s", pz, pn) == 0,
	   "... its frame decompresses to the plain archive");
	ok(sh("ls %s | grep -q zst.zst", dir) != 0 && sh("ls %s | grep -q tmp", dir) != 0,
	   "... and leaves no temporary file");
	unlink(pz);
	unlink(pn);
	free(pz);
	free(pn);
	tree_add_data(&t, "/gone", "x", 1, 0644, &e);
	n = tree_lookup(&t, "/gone", 0);
	free(n->data);
	n->data = NULL;
	n->src_path = xstrdup("/no/such/file");
	char *out3 = xasprintf("%s/t3.cpio", dir);
	ok(cpio_write(&t, out3, &o, &e) == CRUMB_EIO && strstr(e.msg, "/no/such/file"),
	   "a vanished source file fails, naming it: %s", e.msg);
	ok(access(out3, F_OK) != 0, "... and leaves no archive");
	enum compress c;
	ok(compress_parse("zstd", &c, &e) == 0 && c == COMPRESS_ZSTD, "compress_parse zstd");
	ok(compress_parse("lz4", &c, &e) == CRUMB_EINVAL, "compress_parse rejects lz4");

	unlink(out);
	unlink(out2);
	rmdir(dir);
	sb_release(&x);
	sb_release(&y);
	sb_release(&names);
	free(out);
	free(out2);
	free(out3);
	tree_release(&t);
	return done_testing();
}

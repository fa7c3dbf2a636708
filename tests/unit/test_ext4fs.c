/* test_ext4fs.c: reads and edits images made by mke2fs -d, checked with e2fsck and debugfs. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ext2fs/ext2fs.h>

#include "../../src/lib/ext4fs.h"
#include "tap.h"

static char dir[256];

static int fsck_clean(const char *img)
{
	return sh("e2fsck -fn %s >%s/fsck.out 2>&1", img, dir) == 0;
}

static int lib_fsck_clean(const char *img)
{
	struct ext4fs *fs;
	struct err e = {0};
	struct sbuf rep = SBUF_INIT;
	unsigned n = 99;
	if (ext4fs_open(img, 0, &fs, &e) < 0)
		return 0;
	int r = ext4fs_fsck(fs, &rep, &n, &e);
	if (n)
		printf("# %s", rep.buf);
	sb_release(&rep);
	ext4fs_close(fs, &e);
	return r == 0 && n == 0;
}

static char *read_all(struct ext4fs *fs, const char *path, size_t *len)
{
	struct err e = {0};
	uint32_t ino;
	struct ext4fs_stat st;
	if (ext4fs_lookup(fs, path, 1, &ino, &e) < 0 || ext4fs_stat(fs, ino, &st, &e) < 0)
		return NULL;
	char *buf = xcalloc(1, st.size + 1);
	if (ext4fs_read(fs, ino, 0, buf, st.size, &e) < 0) {
		free(buf);
		return NULL;
	}
	*len = st.size;
	return buf;
}

static void make_image(const char *img, const char *type)
{
	sh("rm -rf %s/src && mkdir -p %s/src/sub/deeper %s/src/empty", dir, dir, dir);
	sh("printf hello >%s/src/a.txt && ln %s/src/a.txt %s/src/hl", dir, dir, dir);
	sh("ln -s a.txt %s/src/sym && ln -s /sub/deeper %s/src/abs", dir, dir);
	sh("head -c 100000 /dev/urandom >%s/src/sub/b.bin", dir);
	sh("truncate -s 10M %s/src/sparse && printf data | dd of=%s/src/sparse bs=1 seek=5242880 "
	   "conv=notrunc 2>/dev/null",
	   dir, dir);
	sh("printf deep >%s/src/sub/deeper/c", dir);
	sh("rm -f %s && mke2fs -q -F -t %s -b 1024 -d %s/src %s 16M >/dev/null", img, type, dir,
	   img);
}

static void test_read(const char *img)
{
	struct ext4fs *fs;
	struct err e = {0};
	uint32_t ino, ino2;
	struct ext4fs_stat st;
	size_t len;

	is_int(ext4fs_open(img, 0, &fs, &e), 0, "open %s read-only", img);
	if (!fs)
		return;
	char *s = read_all(fs, "/a.txt", &len);
	ok(s && len == 5 && !memcmp(s, "hello", 5), "read /a.txt");
	free(s);
	s = read_all(fs, "sym", &len);
	ok(s && len == 5 && !memcmp(s, "hello", 5), "read through a symlink in the image");
	free(s);
	s = read_all(fs, "/abs/c", &len);
	ok(s && !strcmp(s, "deep"), "an absolute symlink resolves inside the image");
	free(s);
	s = read_all(fs, "/sub/../../../sub/deeper/c", &len);
	ok(s && !strcmp(s, "deep"), "'..' stops at the root");
	free(s);
	ext4fs_lookup(fs, "/a.txt", 1, &ino, &e);
	ext4fs_lookup(fs, "/hl", 1, &ino2, &e);
	ok(ino && ino == ino2, "hard links share an inode");
	ext4fs_stat(fs, ino, &st, &e);
	ok(st.type == TREE_REG && st.links == 2 && st.size == 5, "stat of a hard-linked file");
	is_int(ext4fs_lookup(fs, "/nope/x", 1, &ino, &e), CRUMB_ENOENT, "missing path: ENOENT");
	is_int(ext4fs_lookup(fs, "/a.txt/x", 1, &ino, &e), CRUMB_EINVAL,
	       "a file as a parent: EINVAL");
	ext4fs_lookup(fs, "/sym", 0, &ino, &e);
	char *t = NULL;
	ext4fs_readlink(fs, ino, &t, &e);
	is_str(t, "a.txt", "readlink");
	free(t);

	struct ext4fs_dirent *d;
	size_t n;
	ext4fs_lookup(fs, "/", 1, &ino, &e);
	is_int(ext4fs_readdir(fs, ino, &d, &n, &e), 0, "readdir /");
	struct sbuf names = SBUF_INIT;
	for (size_t i = 0; i < n; i++)
		sb_addf(&names, "%s ", d[i].name);
	is_str(names.buf, "a.txt abs empty hl lost+found sparse sub sym ",
	       "readdir is sorted and skips . and ..");
	sb_release(&names);
	ext4fs_dirents_free(d, n);

	struct tree tr;
	tree_init(&tr);
	is_int(ext4fs_read_tree(fs, "/", &tr, "/img", &e), 0, "read_tree of the whole image");
	struct tree_node *a = tree_lookup(&tr, "/img/a.txt", 0);
	struct tree_node *h = tree_lookup(&tr, "/img/hl", 0);
	ok(a && h && a->hardlink && a->hardlink == h->hardlink, "hard links share a tree id");
	struct tree_node *sp = tree_lookup(&tr, "/img/sparse", 0);
	ok(sp && sp->size == 10 << 20 && sp->extents && sp->nextents == 1 &&
	       sp->extents[0].off <= 5242880 && sp->extents[0].len <= 4096,
	   "the sparse file has one small data extent");
	char buf[8] = {0};
	ok(sp && tree_read(sp, 5242880, buf, 4, &e) == 0 && !memcmp(buf, "data", 4) &&
	       tree_read(sp, 100, buf, 4, &e) == 0 && !memcmp(buf, "\0\0\0\0", 4),
	   "tree_read of the sparse file: data and hole");
	struct tree_node *b = tree_lookup(&tr, "/img/sub/b.bin", 0);
	char *bb = xmalloc(100000);
	struct sbuf host = SBUF_INIT;
	char *hp = xasprintf("%s/src/sub/b.bin", dir);
	read_file(hp, 1 << 20, &host, &e);
	ok(b && b->size == 100000 && tree_read(b, 0, bb, 100000, &e) == 0 && host.len == 100000 &&
	       !memcmp(bb, host.buf, 100000),
	   "tree_read of a 100 KB file equals the host file");
	free(bb);
	free(hp);
	sb_release(&host);
	struct tree_node *l = tree_lookup(&tr, "/img/abs", 0);
	ok(l && l->type == TREE_LNK && !strcmp(l->link, "/sub/deeper"), "symlink node");
	is_int(ext4fs_put(fs, "/x", tree_lookup(&tr, "/img/a.txt", 0), 0, &e), CRUMB_EINVAL,
	       "edits on a read-only image are refused");
	tree_release(&tr);
	ext4fs_close(fs, &e);
}

static void test_edit(const char *img)
{
	struct ext4fs *fs;
	struct err e = {0};
	struct tree src;
	uint32_t ino;
	struct ext4fs_stat st;
	size_t len;

	tree_init(&src);
	tree_add_data(&src, "/new.txt", "new content", 11, 0644, &e);
	struct tree_node *n;
	tree_add(&src, "/d", TREE_DIR, 0750, &n, &e);
	tree_add_data(&src, "/d/one", "1", 1, 0600, &e);
	tree_add_symlink(&src, "/d/link", "one", &e);
	tree_add_device(&src, "/d/null", TREE_CHR, 0666, 1, 3, &e);
	tree_add_device(&src, "/d/big", TREE_BLK, 0660, 259, 70000, &e);
	tree_add(&src, "/d/fifo", TREE_FIFO, 0644, &n, &e);
	char longt[300];
	memset(longt, 'x', sizeof(longt) - 1);
	longt[sizeof(longt) - 1] = 0;
	tree_add_symlink(&src, "/d/slow", longt, &e);
	tree_add_data(&src, "/d/h1", "same", 4, 0644, &e);
	tree_add_data(&src, "/d/h2", "same", 4, 0644, &e);
	tree_lookup(&src, "/d/h1", 0)->hardlink = tree_lookup(&src, "/d/h2", 0)->hardlink = 77;
	/* a sparse node: 1 MiB with 3 bytes of data at 512 KiB */
	tree_add(&src, "/sp", TREE_REG, 0644, &n, &e);
	n->size = 1 << 20;
	n->data = xcalloc(1, 1 << 20);
	memcpy((char *)n->data + (512 << 10), "abc", 3);
	n->extents = xmalloc(sizeof(*n->extents));
	n->extents[0] = (struct tree_extent){512 << 10, 3};
	n->nextents = 1;
	n->uid = 1000;
	n->gid = 100;
	n->mtime = 1234567890;
	tree_set_xattr(n, "user.note", "hi", 2);

	is_int(ext4fs_open(img, 1, &fs, &e), 0, "open %s writable", img);
	if (!fs)
		return;
	is_int(ext4fs_put(fs, "/new.txt", tree_lookup(&src, "/new.txt", 0), 0, &e), 0,
	       "put a new file");
	is_int(ext4fs_put(fs, "/d", tree_lookup(&src, "/d", 0), EXT4FS_PRESERVE, &e), 0,
	       "put a directory of every type");
	is_int(ext4fs_put(fs, "/sp", tree_lookup(&src, "/sp", 0), EXT4FS_PRESERVE, &e), 0,
	       "put a sparse file, preserving");
	is_int(ext4fs_put(fs, "/a.txt", tree_lookup(&src, "/new.txt", 0), 0, &e), 0,
	       "put over a hard-linked file");
	is_int(ext4fs_put(fs, "/sub", tree_lookup(&src, "/new.txt", 0), 0, &e), CRUMB_EINVAL,
	       "a file over a directory is refused");
	is_int(ext4fs_put(fs, "/d", tree_lookup(&src, "/d", 0), EXT4FS_EXCL, &e), CRUMB_EINVAL,
	       "EXCL on an existing path is refused");
	is_int(ext4fs_close(fs, &e), 0, "close flushes");
	ok(fsck_clean(img), "e2fsck -fn clean after puts");
	ok(lib_fsck_clean(img), "ext4fs_fsck clean after puts");

	ext4fs_open(img, 1, &fs, &e);
	char *s = read_all(fs, "/hl", &len);
	ok(s && len == 11 && !memcmp(s, "new content", 11), "the other name sees the new content");
	free(s);
	ext4fs_lookup(fs, "/sp", 1, &ino, &e);
	ext4fs_stat(fs, ino, &st, &e);
	ok(st.size == 1 << 20 && st.blocks <= 16 && st.uid == 1000 && st.gid == 100 &&
	       st.mtime == 1234567890,
	   "sparse file: size, few blocks, owner and mtime kept");
	struct tree_xattr *x;
	size_t nx;
	ext4fs_xattrs(fs, ino, &x, &nx, &e);
	ok(nx == 1 && !strcmp(x[0].name, "user.note") && x[0].len == 2, "xattr written and read");
	ext4fs_xattrs_free(x, nx);
	ext4fs_lookup(fs, "/d/big", 0, &ino, &e);
	ext4fs_stat(fs, ino, &st, &e);
	ok(st.type == TREE_BLK && st.rdev_major == 259 && st.rdev_minor == 70000,
	   "a device with big numbers round-trips");
	ext4fs_lookup(fs, "/d/h1", 0, &ino, &e);
	ext4fs_stat(fs, ino, &st, &e);
	is_int(st.links, 2, "hard links inside the put stay links");
	s = read_all(fs, "/d/slow", &len);
	ok(!s, "a slow symlink to a missing file does not resolve");
	ext4fs_lookup(fs, "/d/slow", 0, &ino, &e);
	char *t = NULL;
	ext4fs_readlink(fs, ino, &t, &e);
	ok(t && !strcmp(t, longt), "slow symlink target");
	free(t);

	/* many names: the directory has to grow */
	for (int i = 0; i < 300; i++) {
		char p[64];
		snprintf(p, sizeof(p), "/empty/file-with-a-long-name-%03d", i);
		if (ext4fs_put(fs, p, tree_lookup(&src, "/d/one", 0), 0, &e) < 0) {
			printf("# %s\n", e.msg);
			break;
		}
	}
	is_int(ext4fs_rename(fs, "/sub/deeper", "/d/moved", &e), 0, "rename a directory across");
	is_int(ext4fs_rename(fs, "/d", "/d/moved/x", &e), CRUMB_EINVAL,
	       "a directory cannot move below itself");
	is_int(ext4fs_rename(fs, "/new.txt", "/d/one", &e), 0, "rename over a file");
	is_int(ext4fs_link(fs, "/d/one", "/one-again", &e), 0, "hard link");
	is_int(ext4fs_link(fs, "/d", "/d-again", &e), CRUMB_EINVAL, "no hard link to a directory");
	is_int(ext4fs_remove(fs, "/sub", 0, &e), CRUMB_EINVAL, "rm of a non-empty dir needs -r");
	is_int(ext4fs_remove(fs, "/sub", 1, &e), 0, "rm -r");
	is_int(ext4fs_remove(fs, "/hl", 0, &e), 0, "rm one of two names");
	is_int(ext4fs_remove(fs, "/", 1, &e), CRUMB_EINVAL, "the root cannot be removed");
	ext4fs_lookup(fs, "/a.txt", 0, &ino, &e);
	is_int(ext4fs_chmod(fs, ino, 04711, &e), 0, "chmod");
	is_int(ext4fs_chown(fs, ino, 70000, 5, &e), 0, "chown");
	is_int(ext4fs_utimes(fs, ino, 1, 3000000000LL, &e), 0, "utimes past 2038");
	ext4fs_stat(fs, ino, &st, &e);
	ok(st.mode == 04711 && st.uid == 70000 && st.gid == 5 && st.mtime == 3000000000LL,
	   "attributes read back");
	is_int(ext4fs_close(fs, &e), 0, "close");
	ok(fsck_clean(img), "e2fsck -fn clean after rename/link/rm/chmod");
	ok(lib_fsck_clean(img), "ext4fs_fsck clean too");
	ok(sh("debugfs -R 'stat /a.txt' %s 2>/dev/null | grep -q 'User: 70000   Group:     5'",
	      img) == 0,
	   "debugfs agrees on the owner");
	ok(sh("debugfs -R 'ls -l /d/moved' %s 2>/dev/null | grep -q ' c$'", img) == 0,
	   "debugfs sees the moved directory's content");

	ext4fs_open(img, 1, &fs, &e);
	for (int i = 0; i < 300; i++) {
		char p[64];
		snprintf(p, sizeof(p), "/empty/file-with-a-long-name-%03d", i);
		if (ext4fs_remove(fs, p, 0, &e) < 0)
			break;
	}
	is_int(ext4fs_remove(fs, "/d", 1, &e), 0, "rm -r of everything put");
	ext4fs_close(fs, &e);
	ok(fsck_clean(img), "e2fsck -fn clean after removing it all");
	tree_release(&src);
}

static void test_hostile(const char *img)
{
	struct ext4fs *fs = NULL;
	struct err e = {0};
	struct tree t;
	char bad[512];
	int r;

	snprintf(bad, sizeof(bad), "%s/bad.img", dir);
	sh("cp %s %s && printf '\\0\\0' | dd of=%s bs=1 seek=1080 conv=notrunc 2>/dev/null", img,
	   bad, bad);
	is_int(ext4fs_open(bad, 0, &fs, &e), CRUMB_EFORMAT, "zeroed magic: EFORMAT (%s)", e.msg);
	sh("cp %s %s && truncate -s 8M %s", img, bad, bad);
	is_int(ext4fs_open(bad, 0, &fs, &e), CRUMB_EFORMAT, "truncated to half: EFORMAT (%s)",
	       e.msg);
	sh("head -c 4096 /dev/zero >%s", bad);
	is_int(ext4fs_open(bad, 0, &fs, &e), CRUMB_EFORMAT, "4 KB of zeros: EFORMAT");
	is_int(ext4fs_open("/nonexistent.img", 0, &fs, &e), CRUMB_ENOENT, "missing: ENOENT");

	/* a directory linked into its own child */
	sh("cp %s %s && debugfs -w -R 'link /sub /sub/deeper/loop' %s >/dev/null 2>&1", img, bad,
	   bad);
	tree_init(&t);
	r = ext4fs_open(bad, 0, &fs, &e);
	if (r == 0) {
		is_int(ext4fs_read_tree(fs, "/", &t, "/", &e), CRUMB_EUNSAFE,
		       "a directory loop: EUNSAFE (%s)", e.msg);
		struct sbuf rep = SBUF_INIT;
		unsigned n = 0;
		ext4fs_fsck(fs, &rep, &n, &e);
		ok(n > 0 && strstr(rep.buf, "is a second name of directory"),
		   "fsck reports the loop as a second name of a directory");
		sb_release(&rep);
		ext4fs_close(fs, &e);
	} else {
		ok(0, "open the loop image (%s)", e.msg);
		ok(0, "fsck the loop image");
	}
	tree_release(&t);

	/* a flipped byte in every inode of the table (found by debugfs) */
	char out[4096];
	snprintf(
	    out, sizeof(out),
	    "debugfs -R 'imap /sub' %s 2>/dev/null | sed -n 's/.*located at block \\([0-9]*\\), "
	    "offset \\(0x[0-9a-f]*\\).*/\\1 \\2/p'",
	    img);
	FILE *p = popen(out, "r");
	unsigned long blk = 0, off = 0;
	if (p) {
		if (fscanf(p, "%lu %lx", &blk, &off) != 2)
			blk = 0;
		pclose(p);
	}
	ok(blk > 0, "found /sub in the inode table (block %lu offset %lu)", blk, off);
	for (int field = 0; field < 128 && blk; field += 4) {
		sh("cp %s %s && printf '\\377' | dd of=%s bs=1 seek=%lu conv=notrunc 2>/dev/null",
		   img, bad, bad, blk * 1024 + off + (unsigned long)field);
		tree_init(&t);
		if (ext4fs_open(bad, 0, &fs, &e) == 0) {
			ext4fs_read_tree(fs, "/", &t, "/", &e);
			struct sbuf rep = SBUF_INIT;
			unsigned n;
			ext4fs_fsck(fs, &rep, &n, &e);
			sb_release(&rep);
			ext4fs_close(fs, &e);
		}
		tree_release(&t);
	}
	ok(1, "a byte flipped at each of 32 places in an inode: no crash");

	/* a regular file claiming 2^60 bytes */
	sh("cp %s %s && debugfs -w -R 'sif /a.txt size 0x1000000000000000' %s >/dev/null 2>&1", img,
	   bad, bad);
	tree_init(&t);
	if (ext4fs_open(bad, 0, &fs, &e) == 0) {
		is_int(ext4fs_read_tree(fs, "/", &t, "/", &e), CRUMB_EUNSAFE,
		       "a 2^60-byte claim: EUNSAFE (%s)", e.msg);
		ext4fs_close(fs, &e);
	} else {
		ok(0, "open the 2^60 image (%s)", e.msg);
	}
	tree_release(&t);

	/* a block pointer past the end of the filesystem */
	sh("cp %s %s && debugfs -w -R 'sif /sub/b.bin block[5] 999999' %s >/dev/null 2>&1", img,
	   bad, bad);
	tree_init(&t);
	if (ext4fs_open(bad, 0, &fs, &e) == 0) {
		r = ext4fs_read_tree(fs, "/", &t, "/", &e);
		ok(r == CRUMB_EFORMAT, "a block number past the end: EFORMAT (%d %s)", r, e.msg);
		ext4fs_close(fs, &e);
	} else {
		ok(0, "open the bad-block image (%s)", e.msg);
	}
	tree_release(&t);
}

/* fsck on one image: its return, problem count and whether want is in the report (or message). */
static int fsck_says(const char *img, int want_r, int problems, const char *want)
{
	struct ext4fs *fs;
	struct err e = {0};
	struct sbuf rep = SBUF_INIT;
	unsigned n = 99;
	int r = ext4fs_open(img, 0, &fs, &e);
	if (r == 0) {
		r = ext4fs_fsck(fs, &rep, &n, &e);
		ext4fs_close(fs, &e);
	}
	int good = r == want_r && (problems < 0 ? n > 0 : n == (unsigned)problems) &&
		   (strstr(rep.buf, want) || strstr(e.msg, want));
	if (!good)
		printf("# r=%d n=%u msg=%s report=%s", r, n, e.msg, rep.buf);
	sb_release(&rep);
	return good;
}

/* The contract the write verbs rely on: damage is counted, unchecked features are EUNSUPP. */
static void test_fsck(void)
{
	char img[512];
	snprintf(img, sizeof(img), "%s/c.img", dir);
	sh("rm -rf %s/src && mkdir -p %s/src/d && printf one >%s/src/a && printf two >%s/src/b",
	   dir, dir, dir, dir);
	sh("mke2fs -q -F -t ext4 -d %s/src %s 4M", dir, img);
	ok(fsck_says(img, 0, 0, ""), "fsck: a fresh image is clean");
	sh("debugfs -w -R \"sif /b block[5] $(debugfs -R 'bmap /a 0' %s 2>/dev/null)\" %s "
	   ">/dev/null 2>&1",
	   img, img);
	ok(fsck_says(img, 0, -1, "claimed twice"), "fsck: a block two files claim");
	sh("mke2fs -q -F -t ext4 -d %s/src %s 4M && debugfs -w -R \"freeb $(debugfs -R 'bmap /a 0' "
	   "%s 2>/dev/null)\" %s >/dev/null 2>&1",
	   dir, img, img, img);
	ok(fsck_says(img, 0, -1, "in use but marked free"), "fsck: a block in use marked free");
	sh("mke2fs -q -F -t ext4 -d %s/src %s 4M && debugfs -w -R 'link / d/root' %s >/dev/null "
	   "2>&1",
	   dir, img, img);
	ok(fsck_says(img, 0, -1, "link to the root directory"), "fsck: a hard link to the root");
	sh("mke2fs -q -F -t ext4 -O quota %s 4M", img);
	ok(fsck_says(img, CRUMB_EUNSUPP, 0, "features quota"),
	   "fsck: quota is checked but for usage: EUNSUPP naming it, 0 problems");
	sh("mke2fs -q -F -t ext4 -O bigalloc -C 16384 %s 16M 2>/dev/null", img);
	ok(fsck_says(img, CRUMB_EUNSUPP, 0, "bigalloc"), "fsck: bigalloc: EUNSUPP naming it");
	/* The kernel turns a leaf into an htree root in place: the old checksum tail stays in
	 * the root's unused slots and dx_tail (seen on a kernel-written image); not a problem. */
	sh("rm -rf %s/src && mkdir -p %s/src/big && for i in $(seq 300); do : "
	   ">%s/src/big/a-long-enough-name-$i; done && mke2fs -q -F -t ext4 -d %s/src %s 8M && "
	   "e2fsck -fyD %s >/dev/null 2>&1",
	   dir, dir, dir, dir, img, img);
	ext2_filsys efs = NULL;
	ext2_ino_t big = 0;
	blk64_t root = 0;
	char *blk = NULL;
	int done =
	    !ext2fs_open(img, EXT2_FLAG_RW | EXT2_FLAG_64BITS, 0, 0, unix_io_manager, &efs) &&
	    !ext2fs_namei(efs, EXT2_ROOT_INO, EXT2_ROOT_INO, "big", &big) &&
	    !ext2fs_bmap2(efs, big, NULL, NULL, 0, 0, NULL, &root) &&
	    !ext2fs_get_mem(efs->blocksize, &blk) && !io_channel_read_blk64(efs->io, root, 1, blk);
	if (done) {
		static const unsigned char stale[8] = {0, 0, 0, 0, 12, 0, 0, 0xde};
		memcpy(blk + efs->blocksize - 12, stale, sizeof(stale));
		done = !ext2fs_dir_block_csum_set(efs, big, (struct ext2_dir_entry *)blk) &&
		       !io_channel_write_blk64(efs->io, root, 1, blk);
	}
	ext2fs_free_mem(&blk);
	if (efs)
		ext2fs_close_free(&efs);
	ok(done && fsck_clean(img), "an htree root with a stale leaf tail: e2fsck -fn is clean");
	ok(fsck_says(img, 0, 0, ""), "... and so is ext4fs_fsck");
	/* an incompat feature libext2fs does not know: open names it */
	sh("mke2fs -q -F -t ext4 -O ^metadata_csum %s 4M && printf '\\200' | dd of=%s bs=1 "
	   "seek=1123 conv=notrunc 2>/dev/null",
	   img, img);
	struct ext4fs *fs;
	struct err e = {0};
	is_int(ext4fs_open(img, 0, &fs, &e), CRUMB_EUNSUPP, "open: an unknown feature is EUNSUPP");
	ok(strstr(e.msg, "unsupported feature: FEATURE_I31") != NULL, "... named (%s)", e.msg);
}

/* Edits are held until ext4fs_close; ext4fs_discard and refused writes leave the file as it was. */
static void test_held(const char *img)
{
	struct ext4fs *fs = NULL;
	struct err e = {0};
	struct tree src;
	char copy[512];
	int r;

	snprintf(copy, sizeof(copy), "%s/held.img", dir);
	sh("cp %s %s", img, copy);
	tree_init(&src);
	tree_add_data(&src, "/small", "small\n", 6, 0644, &e);
	/* more than the image holds: the put fails half-way, with blocks allocated */
	size_t big = 20u << 20;
	char *data = xmalloc(big);
	for (size_t i = 0; i < big; i++)
		data[i] = (char)(i * 7 + 1);
	tree_add_data(&src, "/big", data, big, 0644, &e);
	free(data);

	is_int(ext4fs_open(copy, EXT4FS_OPEN_RW, &fs, &e), 0, "open writable");
	is_int(ext4fs_put(fs, "/small", tree_lookup(&src, "/small", 0), 0, &e), 0, "put a file");
	r = ext4fs_put(fs, "/big", tree_lookup(&src, "/big", 0), 0, &e);
	ok(r == CRUMB_EIO, "a put larger than the free space fails (%s)", e.msg);
	ext4fs_discard(fs);
	ok(sh("cmp -s %s %s", img, copy) == 0, "discard: the image is byte-identical");

	ext4fs_open(copy, EXT4FS_OPEN_RW, &fs, &e);
	ext4fs_put(fs, "/small", tree_lookup(&src, "/small", 0), 0, &e);
	ok(sh("cmp -s %s %s", img, copy) == 0, "nothing reaches the file before close");
	is_int(ext4fs_close(fs, &e), 0, "close commits");
	ok(sh("cmp -s %s %s", img, copy) != 0, "... the image changed");
	ok(sh("test $(stat -c %%s %s) = $(stat -c %%s %s)", img, copy) == 0, "... not its size");
	ok(fsck_clean(copy), "... e2fsck -fn clean");
	ok(sh("debugfs -R 'cat /small' %s 2>/dev/null | grep -qx small", copy) == 0,
	   "... debugfs reads the file");

	/* a block in use marked free: refused, unless forced */
	sh("cp %s %s && debugfs -w -R \"freeb $(debugfs -R 'bmap /sub/b.bin 0' %s 2>/dev/null)\" "
	   "%s >/dev/null 2>&1",
	   img, copy, copy, copy);
	sh("cp %s %s/before.img", copy, dir);
	ext4fs_open(copy, EXT4FS_OPEN_RW, &fs, &e);
	r = ext4fs_put(fs, "/small", tree_lookup(&src, "/small", 0), 0, &e);
	ok(r == CRUMB_EUNSAFE && strstr(e.msg, "damaged"), "a damaged image is refused (%s)",
	   e.msg);
	is_int(ext4fs_write_check(fs, &e), CRUMB_EUNSAFE, "... ext4fs_write_check says so again");
	is_int(ext4fs_close(fs, &e), 0, "close");
	ok(sh("cmp -s %s/before.img %s", dir, copy) == 0, "... and left byte-identical");
	ext4fs_open(copy, EXT4FS_OPEN_RW | EXT4FS_OPEN_FORCE, &fs, &e);
	is_int(ext4fs_put(fs, "/small", tree_lookup(&src, "/small", 0), 0, &e), 0,
	       "EXT4FS_OPEN_FORCE writes anyway");
	ext4fs_close(fs, &e);

	sh("mke2fs -q -F -t ext4 -O quota %s 8M >/dev/null 2>&1", copy);
	ext4fs_open(copy, EXT4FS_OPEN_RW, &fs, &e);
	r = fs ? ext4fs_put(fs, "/small", tree_lookup(&src, "/small", 0), 0, &e) : -99;
	ok(r == CRUMB_EUNSUPP && strstr(e.msg, "quota"), "a quota image is refused (%s)", e.msg);
	ext4fs_close(fs, &e);
	ok(fsck_clean(copy), "... and stays clean");

	/* revision 0: no s_first_ino (it reads 0) */
	sh("mke2fs -q -F -r 0 %s 2M >/dev/null 2>&1 && printf '\\0\\0\\0\\0' | dd of=%s bs=1 "
	   "seek=1108 conv=notrunc 2>/dev/null",
	   copy, copy);
	is_int(ext4fs_open(copy, EXT4FS_OPEN_RW, &fs, &e), 0, "a revision-0 image opens (%s)",
	       e.msg);
	if (fs) {
		is_int(ext4fs_put(fs, "/small", tree_lookup(&src, "/small", 0), 0, &e), 0,
		       "... and takes a file");
		ext4fs_close(fs, &e);
		ok(fsck_clean(copy), "... e2fsck -fn clean");
	}
	tree_release(&src);
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test_ext4fs.XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	char img[512], img2[512];
	snprintf(img, sizeof(img), "%s/a.img", dir);
	snprintf(img2, sizeof(img2), "%s/b.img", dir);
	make_image(img, "ext4");
	ok(fsck_clean(img), "mke2fs -d made a clean ext4 image");
	ok(lib_fsck_clean(img), "ext4fs_fsck agrees it is clean");
	test_read(img);
	test_edit(img);
	make_image(img2, "ext2");
	test_read(img2);
	test_edit(img2);
	make_image(img, "ext4");
	test_hostile(img);
	make_image(img2, "ext2");
	test_hostile(img2);
	test_fsck();
	make_image(img, "ext4");
	test_held(img);
	sh("rm -rf %s", dir);
	return done_testing();
}

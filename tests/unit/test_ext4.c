/* test_ext4.c: the ext4/ext2 writer, checked by e2fsck -fn and by reading fields back with
 * libext2fs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ext2fs/ext2_fs.h>
#include <ext2fs/ext2fs.h>

#include "lib/ext4.h"
#include "tap.h"

static char dir[] = "/tmp/crumb-test-ext4.XXXXXX";

/* Content of image-backed files in these tests: a byte pattern from the offset. */
static int pattern_read(void *ctx, uint64_t ref, uint64_t off, void *buf, size_t len, struct err *e)
{
	for (size_t i = 0; i < len; i++)
		((unsigned char *)buf)[i] = (unsigned char)((off + i) * 7 + ref);
	return 0;
}
static const struct tree_reader pattern = {pattern_read, NULL};

#define BIG (1ULL << 33)
#define DATA_OFF (BIG / 2 + 100)
#define DATA_LEN 10000

static void build(struct tree *t)
{
	struct err e = {0};
	struct tree_node *n;
	tree_init(t);
	tree_add(t, "/etc", TREE_DIR, 0755, &n, &e);
	n->mtime = 1600000000;
	tree_add_data(t, "/etc/hostname", "crumb\n", 6, 0644, &e);
	n = tree_lookup(t, "/etc/hostname", 0);
	n->uid = 1000;
	n->gid = 100;
	n->mtime = 1700000000;
	tree_set_xattr(n, "user.color", "blue", 4);
	tree_set_xattr(n, "security.capability", "\x01\x00\x00\x02\x00\x20\x00\x00", 8);
	tree_add_data(t, "/bin/su", "#!/bin/sh\n", 10, 04755, &e);
	tree_add(t, "/tmp", TREE_DIR, 01777, &n, &e);
	tree_add_device(t, "/dev/null", TREE_CHR, 0666, 1, 3, &e);
	tree_add_device(t, "/dev/sda", TREE_BLK, 0660, 8, 0, &e);
	tree_add_device(t, "/dev/big", TREE_CHR, 0600, 300, 70000, &e);
	tree_add(t, "/run/fifo", TREE_FIFO, 0644, &n, &e);
	tree_add(t, "/run/sock", TREE_SOCK, 0755, &n, &e);
	tree_add_symlink(t, "/lib", "usr/lib", &e);
	char longt[200];
	memset(longt, 'x', sizeof(longt) - 1);
	longt[sizeof(longt) - 1] = 0;
	memcpy(longt, "/usr/share/", 11);
	tree_add_symlink(t, "/long", longt, &e);
	/* three names of one file */
	tree_add_data(t, "/a/one", "same", 4, 0600, &e);
	tree_lookup(t, "/a/one", 0)->hardlink = 7;
	tree_add_data(t, "/a/two", "same", 4, 0600, &e);
	tree_lookup(t, "/a/two", 0)->hardlink = 7;
	tree_add_data(t, "/b/three", "same", 4, 0600, &e);
	tree_lookup(t, "/b/three", 0)->hardlink = 7;
	/* 8 GiB sparse, 10000 bytes of data in the middle */
	tree_add(t, "/sparse", TREE_REG, 0644, &n, &e);
	n->size = BIG;
	n->reader = &pattern;
	n->reader_ref = 1;
	n->extents = xmalloc(sizeof(*n->extents));
	n->extents[0] = (struct tree_extent){DATA_OFF, DATA_LEN};
	n->nextents = 1;
	/* a 20 MB file: several chunks, crosses a group boundary */
	tree_add(t, "/big", TREE_REG, 0644, &n, &e);
	n->size = 20 << 20;
	n->reader = &pattern;
	n->reader_ref = 2;
	/* many small ranges: an extent tree deeper than the inode */
	tree_add(t, "/frag", TREE_REG, 0644, &n, &e);
	n->size = 4096ULL * 4000;
	n->reader = &pattern;
	n->reader_ref = 3;
	n->nextents = 1000;
	n->extents = xmalloc(n->nextents * sizeof(*n->extents));
	for (size_t i = 0; i < n->nextents; i++)
		n->extents[i] = (struct tree_extent){i * 4 * 4096, 100};
	tree_add_data(t, "/empty", "", 0, 0644, &e);
}

static int fsck(const char *img)
{
	char *cmd = xasprintf("e2fsck -fn '%s' >'%s/fsck.out' 2>&1", img, dir);
	int r = system(cmd);
	free(cmd);
	if (r) {
		char *c = xasprintf("sed 's/^/# /' '%s/fsck.out' | head -30", dir);
		if (system(c)) {
		}
		free(c);
	}
	return r;
}

static int slurp_eq(const char *a, const char *b)
{
	char *cmd = xasprintf("cmp -s '%s' '%s'", a, b);
	int r = system(cmd);
	free(cmd);
	return r == 0;
}

static ext2_ino_t lookup(ext2_filsys fs, const char *path)
{
	ext2_ino_t ino = 0;
	if (ext2fs_namei(fs, EXT2_ROOT_INO, EXT2_ROOT_INO, path, &ino))
		return 0;
	return ino;
}

static void check_image(const char *img, int ext2)
{
	ext2_filsys fs;
	errcode_t err = ext2fs_open(img, EXT2_FLAG_64BITS, 0, 0, unix_io_manager, &fs);
	ok(!err, "%s: libext2fs opens it", img);
	if (err)
		return;
	struct ext2_inode_large in;
	ext2_ino_t ino;
#define READ(p)                                                                                    \
	(memset(&in, 0, sizeof(in)), ino = lookup(fs, p),                                          \
	 ino && !ext2fs_read_inode_full(fs, ino, (struct ext2_inode *)&in, sizeof(in)))

	ok(READ("/etc/hostname"), "hostname found");
	is_int(in.i_mode, LINUX_S_IFREG | 0644, "hostname mode");
	is_int(in.i_uid | in.osd2.linux2.l_i_uid_high << 16, 1000, "hostname uid");
	is_int(in.i_gid, 100, "hostname gid");
	is_int(in.i_size, 6, "hostname size");
	is_int(in.i_mtime, 1700000000, "hostname mtime");
	is_int(in.i_atime, 1700000000, "hostname atime = mtime");
	is_int(in.i_ctime, 1700000000, "hostname ctime = mtime");
	is_int(in.i_links_count, 1, "hostname link count");
	{
		struct ext2_xattr_handle *h;
		void *v = NULL;
		size_t vl = 0;
		int got = !ext2fs_xattrs_open(fs, ino, &h) && !ext2fs_xattrs_read(h) &&
			  !ext2fs_xattr_get(h, "user.color", &v, &vl);
		ok(got && vl == 4 && !memcmp(v, "blue", 4), "user.color xattr reads back");
		if (v)
			ext2fs_free_mem(&v);
		v = NULL;
		got = !ext2fs_xattr_get(h, "security.capability", &v, &vl);
		ok(got && vl == 8, "security.capability xattr reads back");
		if (v)
			ext2fs_free_mem(&v);
		ext2fs_xattrs_close(&h);
	}
	ok(READ("/bin/su"), "su found");
	is_int(in.i_mode, LINUX_S_IFREG | 04755, "setuid kept");
	ok(READ("/tmp"), "tmp found");
	is_int(in.i_mode, LINUX_S_IFDIR | 01777, "sticky kept");
	ok(READ("/dev/null") && LINUX_S_ISCHR(in.i_mode), "char device");
	is_int(in.i_block[0], 1 << 8 | 3, "1,3 in the old encoding");
	ok(READ("/dev/sda") && LINUX_S_ISBLK(in.i_mode), "block device");
	is_int(in.i_block[0], 8 << 8, "8,0");
	ok(READ("/dev/big"), "big device numbers");
	is_int(in.i_block[1], (70000 & 0xff) | (300 << 8) | ((70000 & ~0xff) << 12),
	       "300,70000 in the new encoding");
	ok(READ("/run/fifo") && LINUX_S_ISFIFO(in.i_mode), "fifo");
	ok(READ("/run/sock") && LINUX_S_ISSOCK(in.i_mode), "socket");
	ok(READ("/lib") && LINUX_S_ISLNK(in.i_mode) && in.i_size == 7 &&
	       !memcmp(in.i_block, "usr/lib", 7),
	   "fast symlink");
	ok(READ("/long") && LINUX_S_ISLNK(in.i_mode) && in.i_size == 199 && in.i_blocks == 8,
	   "slow symlink uses one block");
	ok(READ("/a/one"), "hard link one");
	ext2_ino_t one = ino;
	is_int(in.i_links_count, 3, "link count 3");
	ok(READ("/b/three") && ino == one, "a third name is the same inode");
	ok(READ("/sparse"), "sparse file found");
	is_int(EXT2_I_SIZE(&in), BIG, "sparse size 8 GiB");
	/* 10000 bytes at an offset 100 into a block: 3 blocks = 24 sectors */
	if (ext2) /* plus the indirect blocks that reach 4 GiB in */
		ok(in.i_blocks > 24 && in.i_blocks <= 48, "sparse file holds only its data blocks");
	else
		is_int(in.i_blocks, 24, "sparse file holds only its data blocks");
	{
		ext2_file_t f;
		char buf[DATA_LEN + 200];
		unsigned got = 0;
		int good = !ext2fs_file_open(fs, ino, 0, &f) &&
			   !ext2fs_file_llseek(f, DATA_OFF - 100, EXT2_SEEK_SET, NULL) &&
			   !ext2fs_file_read(f, buf, sizeof(buf), &got) && got == sizeof(buf);
		for (size_t i = 0; good && i < sizeof(buf); i++) {
			uint64_t off = DATA_OFF - 100 + i;
			unsigned char want = off >= DATA_OFF && off < DATA_OFF + DATA_LEN
						 ? (unsigned char)(off * 7 + 1)
						 : 0;
			good = (unsigned char)buf[i] == want;
		}
		ext2fs_file_close(f);
		ok(good, "sparse data and holes read back");
	}
	ok(READ("/frag"), "fragmented file found");
	{
		ext2_file_t f;
		char *buf = xmalloc(4096 * 4000);
		unsigned got = 0;
		int good = !ext2fs_file_open(fs, ino, 0, &f) &&
			   !ext2fs_file_read(f, buf, 4096 * 4000, &got) && got == 4096 * 4000;
		for (size_t i = 0; good && i < 4096 * 4000; i++)
			good = (unsigned char)buf[i] ==
			       (i % (4 * 4096) < 100 ? (unsigned char)(i * 7 + 3) : 0);
		ext2fs_file_close(f);
		free(buf);
		ok(good, "1000-range file reads back");
	}
	ok(READ("/big"), "20 MB file found");
	{
		ext2_file_t f;
		size_t sz = 20 << 20;
		char *buf = xmalloc(sz);
		unsigned got = 0;
		int good = !ext2fs_file_open(fs, ino, 0, &f) &&
			   !ext2fs_file_read(f, buf, sz, &got) && got == sz;
		for (size_t i = 0; good && i < sz; i++)
			good = (unsigned char)buf[i] == (unsigned char)(i * 7 + 2);
		ext2fs_file_close(f);
		free(buf);
		ok(good, "20 MB content reads back");
	}
	ok(READ("/etc"), "etc found");
	is_int(in.i_links_count, 2, "etc link count");
	is_int(in.i_mtime, 1600000000, "etc mtime");
	ok(READ("/"), "root found");
	/* ".", "..", and the "..": of a b bin dev etc lost+found run tmp */
	is_int(in.i_links_count, 2 + 8, "root link count counts subdirectories and lost+found");
	ok(READ("/lost+found") && ino == 11 && LINUX_S_ISDIR(in.i_mode), "lost+found is inode 11");
	is_int(fs->super->s_mkfs_time, 0, "mkfs time is the epoch");
	is_int(fs->super->s_wtime, 0, "write time is the epoch");
	is_int(ext2fs_has_feature_journal(fs->super), !ext2, "journal only for ext4");
	is_int(ext2fs_has_feature_extents(fs->super), !ext2, "extents only for ext4");
	ext2fs_close_free(&fs);
#undef READ
}

int main(void)
{
	struct tree t;
	struct err e = {0};
	if (!mkdtemp(dir))
		return 1;
	char *a = xasprintf("%s/a.ext4", dir), *b = xasprintf("%s/b.ext4", dir);
	char *c = xasprintf("%s/c.ext2", dir), *d = xasprintf("%s/d.ext4", dir);
	char *h = xasprintf("%s/h.ext4", dir);

	build(&t);
	struct ext4_opts o = {0};
	int r = ext4_write(&t, a, &o, &e);
	ok(r == 0, "ext4_write: %s", r ? e.msg : "ok");
	ok(fsck(a) == 0, "e2fsck -fn is clean (ext4)");
	check_image(a, 0);
	r = ext4_write(&t, b, &o, &e);
	ok(r == 0 && slurp_eq(a, b), "a second write is byte-identical");

	struct ext4_opts o2 = {.ext2 = 1};
	r = ext4_write(&t, c, &o2, &e);
	ok(r == 0, "ext2 write: %s", r ? e.msg : "ok");
	ok(fsck(c) == 0, "e2fsck -fn is clean (ext2)");
	check_image(c, 1);

	struct ext4_opts small = {.size = 4 << 20};
	memset(&e, 0, sizeof(e));
	r = ext4_write(&t, d, &small, &e);
	ok(r == CRUMB_EINVAL, "a 4 MiB --size is too small: %s", e.msg);
	ok(strstr(e.msg, "MiB") != NULL && !strchr(e.msg, '\n'), "... one line naming the need");
	ok(access(d, F_OK) != 0, "... and leaves no image");
	char *cmd = xasprintf("ls %s | grep -q tmp", dir);
	ok(system(cmd) != 0, "... nor a temp file");
	free(cmd);

	struct ext4_opts lab = {.label = "crumbroot", .epoch = 1700000000};
	r = ext4_write(&t, d, &lab, &e);
	ok(r == 0 && fsck(d) == 0, "label and epoch: clean");
	ok(!slurp_eq(a, d), "... and different bytes");
	tree_release(&t);

	/* 60000 entries: an htree with two levels */
	tree_init(&t);
	for (int i = 0; i < 60000; i++) {
		char p[64];
		snprintf(p, sizeof(p), "/big/entry-with-a-longish-name-%05d", i);
		tree_add_data(&t, p, "", 0, 0644, &e);
	}
	r = ext4_write(&t, h, &o, &e);
	ok(r == 0, "60000-entry directory written: %s", r ? e.msg : "ok");
	ok(fsck(h) == 0, "e2fsck -fn is clean (htree)");
	{
		ext2_filsys fs;
		ext2_ino_t ino = 0;
		struct ext2_inode in;
		int good = !ext2fs_open(h, EXT2_FLAG_64BITS, 0, 0, unix_io_manager, &fs);
		ok(good && !ext2fs_namei(fs, 2, 2, "/big/entry-with-a-longish-name-31337", &ino) &&
		       ino,
		   "a name in the middle is found through the index");
		ok(good && !ext2fs_namei(fs, 2, 2, "/big", &ino) &&
		       !ext2fs_read_inode(fs, ino, &in) && (in.i_flags & EXT2_INDEX_FL),
		   "the directory is indexed");
		if (good)
			ext2fs_close_free(&fs);
	}
	struct ext4_opts h2 = {.ext2 = 1};
	r = ext4_write(&t, h, &h2, &e);
	ok(r == 0 && fsck(h) == 0, "60000-entry directory on ext2: clean");
	tree_release(&t);

	cmd = xasprintf("rm -rf '%s'", dir);
	if (system(cmd)) {
	}
	free(cmd);
	free(a);
	free(b);
	free(c);
	free(d);
	free(h);
	return done_testing();
}

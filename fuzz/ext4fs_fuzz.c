/* ext4fs_fuzz.c: libFuzzer target for the image reader: open, read the tree, list, read, fsck, a
 * dropped edit. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../src/lib/ext4fs.h"

/* Bounds so one input costs milliseconds: bytes read per file and in all. */
#define PER_FILE (64 * 1024)
#define TOTAL (1024 * 1024)

struct walk {
	struct ext4fs *fs;
	size_t budget;
	char buf[PER_FILE];
};

static int visit(struct tree_node *n, const char *path, void *ctx)
{
	struct walk *w = ctx;
	struct err e = {0};
	char full[4200];
	snprintf(full, sizeof(full), "/%s", path);
	/* lookups and stat by path go through the resolver (symlinks, '..') */
	uint32_t ino;
	struct ext4fs_stat st;
	if (ext4fs_lookup(w->fs, full, 1, &ino, &e) == 0 && ext4fs_stat(w->fs, ino, &st, &e) == 0 &&
	    st.type == TREE_DIR) {
		struct ext4fs_dirent *d;
		size_t nd;
		if (ext4fs_readdir(w->fs, ino, &d, &nd, &e) == 0)
			ext4fs_dirents_free(d, nd);
	}
	if (n->type == TREE_REG && w->budget) {
		size_t len = n->size < PER_FILE ? (size_t)n->size : PER_FILE;
		if (len > w->budget)
			len = w->budget;
		w->budget -= len;
		tree_read(n, 0, w->buf, len, &e);
		if (n->size > len)
			tree_read(n, n->size - len, w->buf, len, &e);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct walk w;
	struct ext4fs *fs = NULL;
	struct err e = {0};
	char path[64];
	int fd = memfd_create("ext4fs_fuzz", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (ext4fs_open(path, 0, &fs, &e) == 0) {
		struct tree t;
		tree_init(&t);
		ext4fs_read_tree(fs, "/", &t, "/", &e);
		w.fs = fs;
		w.budget = TOTAL;
		tree_walk(&t, visit, &w);
		tree_release(&t);
		struct sbuf rep = SBUF_INIT;
		unsigned problems;
		ext4fs_fsck(fs, &rep, &problems, &e);
		sb_release(&rep);
		ext4fs_close(fs, &e);
	}
	/* writable: the check before writing, then an edit through the held-writes layer, dropped
	 */
	if (ext4fs_open(path, EXT4FS_OPEN_RW, &fs, &e) == 0) {
		if (ext4fs_write_check(fs, &e) == 0) {
			struct tree t;
			struct tree_node *n;
			tree_init(&t);
			if (tree_add_data(&t, "/f", "fuzz\n", 5, 0644, &e) == 0 &&
			    (n = tree_lookup(&t, "/f", 0)))
				ext4fs_put(fs, "/fuzz-new", n, 0, &e);
			tree_release(&t);
		}
		ext4fs_discard(fs);
	}
	close(fd);
	return 0;
}

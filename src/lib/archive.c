/* archive.c: tree -> cpio newc (none/gzip/zstd) on libarchive, deterministic byte for byte. */
#include "archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int compress_parse(const char *s, enum compress *out, struct err *e)
{
	static const char *names[] = {"none", "gzip", "zstd"};
	for (int i = 0; i < 3; i++)
		if (!strcmp(s, names[i])) {
			*out = (enum compress)i;
			return 0;
		}
	return err_set(e, CRUMB_EINVAL, "unknown compression '%s' (want none, gzip or zstd)", s);
}

const char *compress_name(enum compress c)
{
	return c == COMPRESS_GZIP ? "gzip" : c == COMPRESS_ZSTD ? "zstd" : "none";
}

struct wctx {
	struct archive *a;
	struct archive_entry *ent;
	const struct cpio_opts *o;
	struct err *e;
	int64_t ino;
	char *buf;
};

static int copy_host(struct wctx *w, const struct tree_node *n, const char *path)
{
	int fd = open(n->src_path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return err_errno(w->e, CRUMB_EIO, "cannot read %s", n->src_path);
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size < n->src_off + n->size) {
		close(fd);
		return err_set(w->e, CRUMB_EIO, "%s changed while the image was being built",
			       n->src_path);
	}
	uint64_t left = n->size;
	off_t off = (off_t)n->src_off;
	while (left) {
		size_t want = left < (1 << 20) ? (size_t)left : (1 << 20);
		ssize_t got = pread(fd, w->buf, want, off);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			int r = got < 0 ? err_errno(w->e, CRUMB_EIO, "read %s", n->src_path)
					: err_set(w->e, CRUMB_EIO, "%s shrank while being read",
						  n->src_path);
			close(fd);
			return r;
		}
		if (archive_write_data(w->a, w->buf, (size_t)got) != got) {
			close(fd);
			return err_set(w->e, CRUMB_EIO, "writing %s: %s", path,
				       archive_error_string(w->a));
		}
		left -= (uint64_t)got;
		off += got;
	}
	close(fd);
	return 0;
}

static int write_node(struct tree_node *n, const char *path, void *ctx)
{
	struct wctx *w = ctx;
	if (!*path)
		return 0; /* the root: the kernel's rootfs already exists */
	static const unsigned types[] = {
		[TREE_DIR] = AE_IFDIR,  [TREE_REG] = AE_IFREG,   [TREE_LNK] = AE_IFLNK,
		[TREE_CHR] = AE_IFCHR,  [TREE_BLK] = AE_IFBLK,   [TREE_FIFO] = AE_IFIFO,
		[TREE_SOCK] = AE_IFSOCK,
	};
	struct archive_entry *ent = w->ent;
	archive_entry_clear(ent);
	archive_entry_set_pathname(ent, path);
	archive_entry_set_filetype(ent, types[n->type]);
	archive_entry_set_perm(ent, n->mode & 07777);
	archive_entry_set_uid(ent, n->uid);
	archive_entry_set_gid(ent, n->gid);
	archive_entry_set_mtime(ent, w->o->mtime, 0);
	archive_entry_set_ino64(ent, ++w->ino);
	archive_entry_set_dev(ent, 0);
	archive_entry_set_nlink(ent, n->type == TREE_DIR ? 2 : 1);
	if (n->type == TREE_CHR || n->type == TREE_BLK) {
		archive_entry_set_rdevmajor(ent, n->rdev_major);
		archive_entry_set_rdevminor(ent, n->rdev_minor);
	}
	if (n->type == TREE_LNK)
		archive_entry_set_symlink(ent, n->link);
	/* libarchive wants a size on every entry; it sizes symlinks itself. */
	archive_entry_set_size(ent, n->type == TREE_REG ? (la_int64_t)n->size : 0);
	if (archive_write_header(w->a, ent) != ARCHIVE_OK)
		return err_set(w->e, CRUMB_EIO, "%s: %s", path, archive_error_string(w->a));
	if (n->type != TREE_REG || !n->size)
		return 0;
	if (!n->src_path) {
		if (archive_write_data(w->a, n->data, n->size) != (la_ssize_t)n->size)
			return err_set(w->e, CRUMB_EIO, "%s: %s", path,
				       archive_error_string(w->a));
		return 0;
	}
	return copy_host(w, n, path);
}

int cpio_write(struct tree *t, const char *out_path, const struct cpio_opts *o, struct err *e)
{
	char *tmp = xasprintf("%s.tmp.%ld", out_path, (long)getpid());
	struct wctx w = {.o = o, .e = e, .buf = xmalloc(1 << 20)};
	int r = 0;

	w.a = archive_write_new();
	w.ent = archive_entry_new();
	archive_write_set_format_cpio_newc(w.a);
	if (o->compress == COMPRESS_GZIP) {
		archive_write_add_filter_gzip(w.a);
		/* No timestamp or name in the gzip header: same tree, same bytes. */
		archive_write_set_filter_option(w.a, "gzip", "timestamp", NULL);
		archive_write_set_filter_option(w.a, "gzip", "compression-level", "6");
	} else if (o->compress == COMPRESS_ZSTD) {
		archive_write_add_filter_zstd(w.a);
	} else {
		archive_write_add_filter_none(w.a);
	}
	/* Pad like the kernel's own gen_init_cpio: no block padding at the end. */
	archive_write_set_bytes_per_block(w.a, 0);
	if (archive_write_open_filename(w.a, tmp) != ARCHIVE_OK) {
		r = err_set(e, CRUMB_EIO, "create %s: %s", tmp, archive_error_string(w.a));
		goto out;
	}
	r = tree_walk(t, write_node, &w);
	if (!r && archive_write_close(w.a) != ARCHIVE_OK)
		r = err_set(e, CRUMB_EIO, "write %s: %s", out_path, archive_error_string(w.a));
	if (!r && rename(tmp, out_path) < 0)
		r = err_errno(e, CRUMB_EIO, "rename %s", out_path);
out:
	archive_entry_free(w.ent);
	archive_write_free(w.a);
	if (r)
		unlink(tmp);
	free(w.buf);
	free(tmp);
	return r;
}

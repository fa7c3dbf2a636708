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

#include "vread.h"
#include "zstdio.h"

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
	struct group *groups;
	uint64_t ngroups;
};

/* Streams a file's content into the archive in 1 MiB pieces. */
static int copy_content(struct wctx *w, const struct tree_node *n, const char *path)
{
	for (uint64_t off = 0; off < n->size;) {
		size_t want = n->size - off < (1 << 20) ? (size_t)(n->size - off) : (1 << 20);
		int r = tree_read(n, off, w->buf, want, w->e);
		if (r < 0)
			return r;
		if (archive_write_data(w->a, w->buf, want) != (la_ssize_t)want)
			return err_set(w->e, CRUMB_EIO, "writing %s: %s", path,
				       archive_error_string(w->a));
		off += want;
	}
	return 0;
}

/* Hard-link groups: how many names each has, how many are written so far,
 * and the inode number they share. Indexed by hardlink id. */
struct group {
	uint32_t names, written;
	int64_t ino;
};

static int count_links(struct tree_node *n, const char *path, void *ctx)
{
	struct wctx *w = ctx;
	if (n->type == TREE_REG && n->hardlink && n->hardlink <= w->ngroups)
		w->groups[n->hardlink - 1].names++;
	return 0;
}

static int write_node(struct tree_node *n, const char *path, void *ctx)
{
	struct wctx *w = ctx;
	if (!*path)
		path = "."; /* the root's mode, owner and time travel too */
	static const unsigned types[] = {
	    [TREE_DIR] = AE_IFDIR,   [TREE_REG] = AE_IFREG, [TREE_LNK] = AE_IFLNK,
	    [TREE_CHR] = AE_IFCHR,   [TREE_BLK] = AE_IFBLK, [TREE_FIFO] = AE_IFIFO,
	    [TREE_SOCK] = AE_IFSOCK,
	};
	struct archive_entry *ent = w->ent;
	archive_entry_clear(ent);
	archive_entry_set_pathname(ent, path);
	archive_entry_set_filetype(ent, types[n->type]);
	archive_entry_set_perm(ent, n->mode & 07777);
	archive_entry_set_uid(ent, n->uid);
	archive_entry_set_gid(ent, n->gid);
	/* newc holds 0 .. 2^32-1 (libarchive would write a time before 1970 as 2106) */
	int64_t t = clamp_time(n->mtime, w->o->epoch, w->o->clamp);
	archive_entry_set_mtime(ent, t < 0 ? 0 : t > 0xffffffffLL ? 0xffffffffLL : t, 0);
	/* newc hard links share an inode number; the data rides with the last
	 * name (GNU cpio's rule; the kernel's unpacker links the earlier names
	 * to the same inode and fills it then). */
	struct group *g = n->type == TREE_REG && n->hardlink && n->hardlink <= w->ngroups
			      ? &w->groups[n->hardlink - 1]
			      : NULL;
	int with_data = 1;
	if (g && g->names > 1) {
		if (!g->ino)
			g->ino = ++w->ino;
		archive_entry_set_ino64(ent, g->ino);
		archive_entry_set_nlink(ent, g->names);
		with_data = ++g->written == g->names;
	} else {
		archive_entry_set_ino64(ent, ++w->ino);
		archive_entry_set_nlink(ent, n->type == TREE_DIR ? 2 : 1);
	}
	archive_entry_set_dev(ent, 0);
	if (n->type == TREE_CHR || n->type == TREE_BLK) {
		archive_entry_set_rdevmajor(ent, n->rdev_major);
		archive_entry_set_rdevminor(ent, n->rdev_minor);
	}
	if (n->type == TREE_LNK)
		archive_entry_set_symlink(ent, n->link);
	/* libarchive wants a size on every entry; it sizes symlinks itself. */
	archive_entry_set_size(ent, n->type == TREE_REG && with_data ? (la_int64_t)n->size : 0);
	if (archive_write_header(w->a, ent) != ARCHIVE_OK)
		return err_set(w->e, CRUMB_EIO, "%s: %s", path, archive_error_string(w->a));
	if (n->type != TREE_REG || !n->size || !with_data)
		return 0;
	return copy_content(w, n, path);
}

/* Replaces the file at path by its zstd frame at level (window 2^ZSTDIO_INITRD_WLOG: libarchive
 * 3.6's filter cannot cap it, and the guest kernel allocates it to unpack). */
static int zstd_file(const char *path, int level, struct err *e)
{
	char *z = xasprintf("%s.zst", path);
	struct stat st;
	int in = open(path, O_RDONLY | O_CLOEXEC), out = -1, r = 0;
	if (in < 0 || fstat(in, &st) < 0)
		r = err_errno(e, CRUMB_EIO, "%s", path);
	else if ((out = open(z, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
		r = err_errno(e, CRUMB_EIO, "create %s", z);
	if (r == 0)
		r = zstdio_compress_fd(in, (uint64_t)st.st_size, out, level, ZSTDIO_INITRD_WLOG,
				       path, e);
	if (out >= 0 && close(out) < 0 && r == 0)
		r = err_errno(e, CRUMB_EIO, "write %s", z);
	if (in >= 0)
		close(in);
	if (r == 0 && rename(z, path) < 0)
		r = err_errno(e, CRUMB_EIO, "rename %s", z);
	if (r < 0)
		unlink(z);
	free(z);
	return r;
}

int cpio_write(struct tree *t, const char *out_path, const struct cpio_opts *o, struct err *e)
{
	char *tmp = xasprintf("%s.tmp.%ld", out_path, (long)getpid());
	struct wctx w = {.o = o, .e = e, .buf = xmalloc(1 << 20)};
	int r = 0;

	w.ngroups = t->next_hardlink;
	w.groups = xcalloc(w.ngroups + 1, sizeof(*w.groups));
	tree_walk(t, count_links, &w);

	w.a = archive_write_new();
	w.ent = archive_entry_new();
	archive_write_set_format_cpio_newc(w.a);
	if (o->compress == COMPRESS_GZIP) {
		archive_write_add_filter_gzip(w.a);
		/* No timestamp or name in the gzip header: same tree, same bytes. */
		archive_write_set_filter_option(w.a, "gzip", "timestamp", NULL);
		archive_write_set_filter_option(w.a, "gzip", "compression-level", "6");
	} else if (o->compress == COMPRESS_ZSTD && !o->level) {
		archive_write_add_filter_zstd(w.a);
	} else {
		/* a set zstd level: compressed below (zstd_file), with the window capped */
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
	if (!r && o->compress == COMPRESS_ZSTD && o->level)
		r = zstd_file(tmp, o->level, e);
	if (!r && rename(tmp, out_path) < 0)
		r = err_errno(e, CRUMB_EIO, "rename %s", out_path);
out:
	archive_entry_free(w.ent);
	archive_write_free(w.a);
	if (r)
		unlink(tmp);
	free(w.buf);
	free(w.groups);
	free(tmp);
	return r;
}

/* Sums the member sizes of an archive a has opened; what names it in messages. */
static int content_size(struct archive *a, const char *what, uint64_t *bytes, struct err *e)
{
	struct archive_entry *ent;
	int st;
	*bytes = 0;
	while ((st = archive_read_next_header(a, &ent)) == ARCHIVE_OK) {
		la_int64_t sz = archive_entry_size(ent);
		if (sz > 0)
			*bytes += (uint64_t)sz;
	}
	if (st != ARCHIVE_EOF)
		return err_set(e, CRUMB_EFORMAT, "%s: %s", what, archive_error_string(a));
	return 0;
}

int archive_content_size(const char *path, uint64_t *bytes, struct err *e)
{
	struct archive *a = archive_read_new();
	int r = 0;
	*bytes = 0;
	archive_read_support_filter_all(a);
	archive_read_support_format_all(a);
	if (archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK)
		r = err_set(e, CRUMB_EFORMAT, "%s: %s", path, archive_error_string(a));
	else
		r = content_size(a, path, bytes, e);
	archive_read_free(a);
	return r;
}

struct archive_vsrc {
	struct vread *v;
	struct err ve; /* the reader's own error, when it failed */
	int failed;
	char buf[1 << 16];
};

static la_ssize_t vsrc_read(struct archive *a, void *ctx, const void **out)
{
	struct archive_vsrc *s = ctx;
	ssize_t n = vread_read(s->v, s->buf, sizeof(s->buf), &s->ve);
	if (n < 0) {
		s->failed = 1;
		archive_set_error(a, EIO, "%s", s->ve.msg);
		return -1;
	}
	*out = s->buf;
	return n;
}

int archive_open_vread(struct archive *a, struct vread *v, struct archive_vsrc **out)
{
	struct archive_vsrc *s = *out = xcalloc(1, sizeof(*s));
	s->v = v;
	/* no skip callback: every byte passes the hash */
	return archive_read_open(a, s, NULL, vsrc_read, NULL);
}

int archive_vsrc_end(struct archive_vsrc *s, int finish, struct err *e)
{
	if (!s)
		return 0;
	if (finish && !s->failed && vread_finish(s->v, &s->ve) < 0)
		s->failed = 1;
	int r = 0;
	if (s->failed) {
		*e = s->ve;
		r = e->code;
	}
	free(s);
	return r;
}

int archive_content_size_vread(struct vread *v, uint64_t *bytes, struct err *e)
{
	struct archive *a = archive_read_new();
	struct archive_vsrc *s;
	struct err ve = {0};
	int r = 0;
	*bytes = 0;
	archive_read_support_filter_all(a);
	archive_read_support_format_all(a);
	if (archive_open_vread(a, v, &s) != ARCHIVE_OK)
		r = err_set(e, CRUMB_EFORMAT, "%s: %s", v->name, archive_error_string(a));
	else
		r = content_size(a, v->name, bytes, e);
	archive_read_free(a);
	int vr = archive_vsrc_end(s, 0, &ve);
	if (r < 0 && vr < 0) {
		*e = ve; /* the check failed: that is the error, not the format */
		r = vr;
	}
	return r;
}

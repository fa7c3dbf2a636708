/* ext4fs.c: reads and edits existing ext2/3/4 images in place through libext2fs (crumb fs). */
#include "ext4fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <et/com_err.h>
#include <ext2fs/ext2_fs.h>
#include <ext2fs/ext2fs.h>

#include "ext4fs_int.h"
#include "ext4io.h"

#define MAX_LINKS 40
#define MAX_DEPTH 512
/* A file with more data ranges than this is recorded as all data (read in full). */
#define MAX_EXTENTS 65536
/* Directory entries we are willing to hold for one directory. */
#define MAX_DIRENTS (1u << 22)
#define CHUNK (256 * 1024)
/* ext4 link count ceiling (the kernel's EXT4_LINK_MAX) */
#define LINKS_MAX 65000

typedef struct ext2_inode_large inode_t;

__attribute__((format(printf, 4, 5))) static int fail(struct err *e, int code, errcode_t rc,
						      const char *fmt, ...)
{
	char msg[ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (rc)
		return err_set(e, code, "%s: %s", msg, error_message(rc));
	return err_set(e, code, "%s", msg);
}

/* Error codes that mean "the image is damaged" rather than "I/O failed". */
static int code_of(errcode_t rc)
{
	if (rc == EXT2_ET_FILE_NOT_FOUND || rc == ENOENT)
		return CRUMB_ENOENT;
	if (rc > 0 && rc < 4096) /* a plain errno from the I/O layer */
		return CRUMB_EIO;
	if (rc == EXT2_ET_NO_MEMORY || rc == ENOMEM)
		return CRUMB_EIO;
	if (rc == EXT2_ET_SHORT_READ || rc == EXT2_ET_SHORT_WRITE || rc == EIO ||
	    rc == EXT2_ET_DIR_NO_SPACE || rc == EXT2_ET_BLOCK_ALLOC_FAIL ||
	    rc == EXT2_ET_INODE_ALLOC_FAIL || rc == ENOSPC)
		return CRUMB_EIO;
	return CRUMB_EFORMAT;
}

static void drop_cache(struct ext4fs *fs)
{
	if (fs->file)
		ext2fs_file_close(fs->file);
	fs->file = NULL;
	fs->file_ino = 0;
}

static int reader_read(void *ctx, uint64_t ref, uint64_t off, void *buf, size_t len, struct err *e)
{
	return ext4fs_read(ctx, (uint32_t)ref, off, buf, len, e);
}

int ext4fs_open(const char *path, int flags, struct ext4fs **out, struct err *e)
{
	int writable = flags & EXT4FS_OPEN_RW;
	unsigned char sb[1024];
	struct stat st;
	ext2_filsys efs = NULL;
	errcode_t rc;

	*out = NULL;
	ext4io_errors_init(); /* libext2fs's messages for its codes */
	int fd = open_regular(path, &st, e);
	if (fd < 0)
		return fd;
	ssize_t got = pread(fd, sb, sizeof(sb), 1024);
	close(fd);
	if (got != (ssize_t)sizeof(sb) || sb[56] != 0x53 || sb[57] != 0xef)
		return err_set(e, CRUMB_EFORMAT, "%s: not an ext2/3/4 image (no superblock magic)",
			       path);
	/* writes are held aside until ext4fs_close: a failed edit changes nothing */
	int oflags = EXT2_FLAG_64BITS | (writable ? EXT2_FLAG_RW : 0);
	if (!(flags & EXT4FS_OPEN_FORCE))
		oflags |= EXT2_FLAG_SKIP_MMP; /* an mmp image is refused before any write */
	rc = ext2fs_open2(path, NULL, oflags, 0, 0, writable ? ext4io_manager : unix_io_manager,
			  &efs);
	if (rc == EXT2_ET_UNSUPP_FEATURE || rc == EXT2_ET_RO_UNSUPP_FEATURE) {
		/* name them: the superblock's compat, incompat and ro_compat words (LE) */
		struct sbuf names = SBUF_INIT;
		uint32_t w[3];
		for (int k = 0; k < 3; k++)
			w[k] = (uint32_t)sb[92 + 4 * k] | (uint32_t)sb[93 + 4 * k] << 8 |
			       (uint32_t)sb[94 + 4 * k] << 16 | (uint32_t)sb[95 + 4 * k] << 24;
		ext4fs_feature_names(
		    0, rc == EXT2_ET_UNSUPP_FEATURE ? w[1] & ~EXT2_LIB_FEATURE_INCOMPAT_SUPP : 0,
		    rc == EXT2_ET_RO_UNSUPP_FEATURE ? w[2] & ~EXT2_LIB_FEATURE_RO_COMPAT_SUPP : 0,
		    &names);
		int r =
		    err_set(e, CRUMB_EUNSUPP, "%s: unsupported feature%s: %s%s", path,
			    strchr(names.buf, ' ') ? "s" : "", names.len ? names.buf : "unknown",
			    rc == EXT2_ET_RO_UNSUPP_FEATURE ? " (it can only be read)" : "");
		sb_release(&names);
		return r;
	}
	if (rc)
		return fail(e, code_of(rc) == CRUMB_EIO ? CRUMB_EIO : CRUMB_EFORMAT, rc,
			    "%s: cannot open image", path);
	struct ext2_super_block *s = efs->super;
	uint64_t bytes = ext2fs_blocks_count(s) * (uint64_t)efs->blocksize;
	int r = 0;
	if (bytes / efs->blocksize != ext2fs_blocks_count(s) || bytes > (uint64_t)st.st_size)
		r = err_set(
		    e, CRUMB_EFORMAT,
		    "%s: truncated image: the superblock claims %llu bytes, the file has %lld",
		    path, (unsigned long long)bytes, (long long)st.st_size);
	/* EXT2_FIRST_INO: revision 0 has no s_first_ino (it reads 0 there) */
	else if (s->s_inodes_count == 0 || EXT2_FIRST_INO(s) > s->s_inodes_count ||
		 EXT2_FIRST_INO(s) < EXT2_GOOD_OLD_FIRST_INO)
		r = err_set(e, CRUMB_EFORMAT, "%s: corrupt superblock (inode counts)", path);
	else if ((rc = ext2fs_check_desc(efs)))
		r = fail(e, CRUMB_EFORMAT, rc, "%s: corrupt group descriptors", path);
	else if (writable && ext2fs_has_feature_journal_needs_recovery(s))
		r = err_set(e, CRUMB_EUNSUPP,
			    "%s: the journal needs recovery; run e2fsck -fy on it first", path);
	else if (writable && (rc = ext2fs_read_bitmaps(efs)))
		r = fail(e, CRUMB_EFORMAT, rc, "%s: cannot read the bitmaps", path);
	if (r) {
		ext2fs_close_free(&efs);
		return r;
	}
	struct ext4fs *fs = xcalloc(1, sizeof(*fs));
	fs->fs = efs;
	fs->path = xstrdup(path);
	fs->writable = writable;
	fs->force = !!(flags & EXT4FS_OPEN_FORCE);
	fs->max_size = (uint64_t)efs->blocksize << 32;
	fs->reader.read = reader_read;
	fs->reader.ctx = fs;
	*out = fs;
	return 0;
}

/* Closes fs; a writable one first writes its held edits into the image when commit is set. */
static int close_fs(struct ext4fs *fs, int commit, struct err *e)
{
	int r = 0;
	if (!fs)
		return 0;
	drop_cache(fs);
	/* keep the channel past ext2fs_close, which writes the superblock,
	 * descriptors and bitmaps into it, so the commit can report errors */
	io_channel io = fs->writable ? fs->fs->io : NULL;
	if (io)
		io_channel_bumpcount(io);
	errcode_t rc = ext2fs_close_free(&fs->fs);
	if (rc && commit)
		r = fail(e, CRUMB_EIO, rc, "%s: writing the image", fs->path);
	else if (io && commit && (rc = ext4io_commit(io)))
		r = fail(e, CRUMB_EIO, rc, "%s: writing the image", fs->path);
	if (io)
		io_channel_close(io); /* drops whatever was not committed */
	free(fs->path);
	free(fs->refusal);
	free(fs);
	return r;
}

int ext4fs_close(struct ext4fs *fs, struct err *e)
{
	return close_fs(fs, 1, e);
}

void ext4fs_discard(struct ext4fs *fs)
{
	close_fs(fs, 0, NULL);
}

/* ---- inodes ---- */

static int read_inode(struct ext4fs *fs, ext2_ino_t ino, inode_t *in, struct err *e)
{
	memset(in, 0, sizeof(*in));
	if (ino < 1 || ino > fs->fs->super->s_inodes_count)
		return err_set(e, CRUMB_EFORMAT, "%s: inode %u out of range", fs->path, ino);
	errcode_t rc = ext2fs_read_inode_full(fs->fs, ino, (struct ext2_inode *)in, sizeof(*in));
	if (rc)
		return fail(e, code_of(rc), rc, "%s: inode %u", fs->path, ino);
	return 0;
}

static int write_inode(struct ext4fs *fs, ext2_ino_t ino, inode_t *in, struct err *e)
{
	errcode_t rc = ext2fs_write_inode_full(fs->fs, ino, (struct ext2_inode *)in, sizeof(*in));
	if (rc)
		return fail(e, CRUMB_EIO, rc, "%s: writing inode %u", fs->path, ino);
	return 0;
}

/* Whether a large-inode field exists in this inode (the extra part is optional). */
#define HAS_EXTRA(fs, in, field)                                                                   \
	(EXT2_INODE_SIZE((fs)->fs->super) > EXT2_GOOD_OLD_INODE_SIZE &&                            \
	 (in)->i_extra_isize >=                                                                    \
	     offsetof(inode_t, field) + sizeof((in)->field) - EXT2_GOOD_OLD_INODE_SIZE)

static int64_t get_time(uint32_t lo, uint32_t extra, int has)
{
	int64_t t = (int32_t)lo;
	if (has)
		t += (int64_t)(extra & EXT4_EPOCH_MASK) << 32;
	return t;
}

/* Seconds as ext4 stores them: 32 signed bits plus two epoch bits in the extra field. */
static void set_time(uint32_t *lo, uint32_t *extra, int has, int64_t t)
{
	*lo = (uint32_t)t;
	if (has)
		*extra = (uint32_t)((uint64_t)(t - (int32_t)(uint32_t)t) >> 32) & EXT4_EPOCH_MASK;
}

static enum tree_type type_of(uint16_t mode, int *ok)
{
	*ok = 1;
	switch (mode & LINUX_S_IFMT) {
	case LINUX_S_IFDIR:
		return TREE_DIR;
	case LINUX_S_IFREG:
		return TREE_REG;
	case LINUX_S_IFLNK:
		return TREE_LNK;
	case LINUX_S_IFCHR:
		return TREE_CHR;
	case LINUX_S_IFBLK:
		return TREE_BLK;
	case LINUX_S_IFIFO:
		return TREE_FIFO;
	case LINUX_S_IFSOCK:
		return TREE_SOCK;
	}
	*ok = 0;
	return TREE_REG;
}

static uint16_t ifmt_of(enum tree_type t)
{
	static const uint16_t m[] = {LINUX_S_IFDIR, LINUX_S_IFREG, LINUX_S_IFLNK, LINUX_S_IFCHR,
				     LINUX_S_IFBLK, LINUX_S_IFIFO, LINUX_S_IFSOCK};
	return m[t];
}

static int ft_of(enum tree_type t)
{
	static const int f[] = {EXT2_FT_DIR,	EXT2_FT_REG_FILE, EXT2_FT_SYMLINK, EXT2_FT_CHRDEV,
				EXT2_FT_BLKDEV, EXT2_FT_FIFO,	  EXT2_FT_SOCK};
	return f[t];
}

static int stat_inode(struct ext4fs *fs, ext2_ino_t ino, const inode_t *in, struct ext4fs_stat *st,
		      struct err *e)
{
	int ok;
	memset(st, 0, sizeof(*st));
	st->ino = ino;
	st->type = type_of(in->i_mode, &ok);
	if (!ok || in->i_links_count == 0)
		return err_set(e, CRUMB_EFORMAT, "%s: inode %u is not in use or of no known type",
			       fs->path, ino);
	st->mode = in->i_mode & 07777;
	st->uid = inode_uid(*in);
	st->gid = inode_gid(*in);
	st->size = EXT2_I_SIZE(in);
	st->blocks = ext2fs_get_stat_i_blocks(fs->fs, (struct ext2_inode *)in);
	st->links = in->i_links_count;
	st->atime = get_time(in->i_atime, in->i_atime_extra, HAS_EXTRA(fs, in, i_atime_extra));
	st->mtime = get_time(in->i_mtime, in->i_mtime_extra, HAS_EXTRA(fs, in, i_mtime_extra));
	st->ctime = get_time(in->i_ctime, in->i_ctime_extra, HAS_EXTRA(fs, in, i_ctime_extra));
	if (st->type == TREE_CHR || st->type == TREE_BLK) {
		/* old 8:8 encoding in i_block[0], else the new one in i_block[1] (as the kernel) */
		if (in->i_block[0]) {
			st->rdev_major = (in->i_block[0] >> 8) & 255;
			st->rdev_minor = in->i_block[0] & 255;
		} else {
			st->rdev_major = (in->i_block[1] & 0xfff00) >> 8;
			st->rdev_minor =
			    (in->i_block[1] & 0xff) | ((in->i_block[1] >> 12) & 0xfff00);
		}
	}
	if (st->type == TREE_REG && st->size > fs->max_size)
		return err_set(e, CRUMB_EUNSAFE, "%s: inode %u claims an absurd size (%llu bytes)",
			       fs->path, ino, (unsigned long long)st->size);
	if (st->type == TREE_LNK &&
	    (st->size == 0 || st->size >= fs->fs->blocksize || st->size >= 4096))
		return err_set(e, CRUMB_EFORMAT, "%s: symlink inode %u has a bad length (%llu)",
			       fs->path, ino, (unsigned long long)st->size);
	return 0;
}

int ext4fs_stat(struct ext4fs *fs, uint32_t ino, struct ext4fs_stat *st, struct err *e)
{
	inode_t in;
	int r = read_inode(fs, ino, &in, e);
	if (r < 0)
		return r;
	return stat_inode(fs, ino, &in, st, e);
}

/* ---- reading ---- */

int ext4fs_read(struct ext4fs *fs, uint32_t ino, uint64_t off, void *buf, size_t len, struct err *e)
{
	errcode_t rc;
	if (fs->file_ino != ino) {
		struct ext4fs_stat st;
		int r = ext4fs_stat(fs, ino, &st, e);
		if (r < 0)
			return r;
		if (st.type != TREE_REG)
			return err_set(e, CRUMB_EINVAL, "%s: inode %u is not a regular file",
				       fs->path, ino);
		drop_cache(fs);
		if ((rc = ext2fs_file_open(fs->fs, ino, 0, &fs->file))) {
			fs->file = NULL;
			return fail(e, code_of(rc), rc, "%s: inode %u", fs->path, ino);
		}
		fs->file_ino = ino;
	}
	__u64 size = 0;
	ext2fs_file_get_lsize(fs->file, &size);
	if (off > size || len > size - off)
		return err_set(e, CRUMB_EINVAL, "%s: inode %u: read past the end", fs->path, ino);
	if ((rc = ext2fs_file_llseek(fs->file, off, EXT2_SEEK_SET, NULL)))
		return fail(e, code_of(rc), rc, "%s: inode %u", fs->path, ino);
	size_t done = 0;
	while (done < len) {
		unsigned int want = len - done > (1u << 30) ? (1u << 30) : (unsigned)(len - done);
		unsigned int got = 0;
		rc = ext2fs_file_read(fs->file, (char *)buf + done, want, &got);
		if (rc) {
			drop_cache(fs);
			return fail(e, code_of(rc), rc, "%s: reading inode %u", fs->path, ino);
		}
		if (got == 0) {
			drop_cache(fs);
			return err_set(e, CRUMB_EFORMAT, "%s: inode %u ends early", fs->path, ino);
		}
		done += got;
	}
	return 0;
}

int ext4fs_readlink(struct ext4fs *fs, uint32_t ino, char **out, struct err *e)
{
	inode_t in;
	struct ext4fs_stat st;
	int r;
	*out = NULL;
	if ((r = read_inode(fs, ino, &in, e)) < 0 || (r = stat_inode(fs, ino, &in, &st, e)) < 0)
		return r;
	if (st.type != TREE_LNK)
		return err_set(e, CRUMB_EINVAL, "%s: inode %u is not a symlink", fs->path, ino);
	char *buf = xcalloc(1, st.size + 1);
	if (ext2fs_is_fast_symlink((struct ext2_inode *)&in) &&
	    !(in.i_flags & EXT4_INLINE_DATA_FL)) {
		if (st.size >= sizeof(in.i_block)) {
			free(buf);
			return err_set(e, CRUMB_EFORMAT, "%s: fast symlink %u too long", fs->path,
				       ino);
		}
		memcpy(buf, in.i_block, st.size);
	} else {
		ext2_file_t f;
		unsigned int got = 0;
		errcode_t rc = ext2fs_file_open(fs->fs, ino, 0, &f);
		if (!rc) {
			rc = ext2fs_file_read(f, buf, (unsigned)st.size, &got);
			ext2fs_file_close(f);
		}
		if (rc || got != st.size) {
			free(buf);
			if (rc)
				return fail(e, code_of(rc), rc, "%s: symlink inode %u unreadable",
					    fs->path, ino);
			return err_set(e, CRUMB_EFORMAT,
				       "%s: symlink inode %u unreadable: %u of its %llu bytes "
				       "are stored",
				       fs->path, ino, got, (unsigned long long)st.size);
		}
	}
	if (strlen(buf) != st.size) {
		free(buf);
		return err_set(e, CRUMB_EFORMAT, "%s: symlink inode %u holds a NUL", fs->path, ino);
	}
	*out = buf;
	return 0;
}

struct dirlist {
	struct ext4fs_dirent *v;
	size_t n, alloc;
	int bad;
};

static int dirlist_cb(ext2_ino_t dir, int entry, struct ext2_dir_entry *d, int offset,
		      int blocksize, char *buf, void *priv)
{
	struct dirlist *l = priv;
	int len = ext2fs_dirent_name_len(d);
	if (entry == DIRENT_DOT_FILE || entry == DIRENT_DOT_DOT_FILE || d->inode == 0)
		return 0;
	/* libext2fs checked rec_len against the block; the name must also be sane */
	if (len <= 0 || len > EXT2_NAME_LEN || memchr(d->name, '/', len) ||
	    memchr(d->name, 0, len)) {
		l->bad = 1;
		return DIRENT_ABORT;
	}
	if ((len == 1 && d->name[0] == '.') || (len == 2 && !memcmp(d->name, "..", 2)))
		return 0; /* a second "." or ".." is noise, never a real name */
	if (l->n == MAX_DIRENTS) {
		l->bad = 2;
		return DIRENT_ABORT;
	}
	if (l->n == l->alloc) {
		l->alloc = l->alloc ? l->alloc * 2 : 16;
		l->v = xrealloc(l->v, l->alloc * sizeof(*l->v));
	}
	l->v[l->n].name = xstrndup(d->name, (size_t)len);
	l->v[l->n].ino = d->inode;
	l->n++;
	return 0;
}

static int dirent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ext4fs_dirent *)a)->name,
		      ((const struct ext4fs_dirent *)b)->name);
}

void ext4fs_dirents_free(struct ext4fs_dirent *d, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(d[i].name);
	free(d);
}

int ext4fs_readdir(struct ext4fs *fs, uint32_t dir, struct ext4fs_dirent **out, size_t *n,
		   struct err *e)
{
	struct dirlist l = {0};
	struct ext4fs_stat st;
	int r;
	*out = NULL;
	*n = 0;
	if ((r = ext4fs_stat(fs, dir, &st, e)) < 0)
		return r;
	if (st.type != TREE_DIR)
		return err_set(e, CRUMB_EINVAL, "%s: inode %u is not a directory", fs->path, dir);
	errcode_t rc = ext2fs_dir_iterate2(fs->fs, dir, 0, NULL, dirlist_cb, &l);
	if (rc || l.bad) {
		ext4fs_dirents_free(l.v, l.n);
		if (l.bad == 2)
			return err_set(e, CRUMB_EUNSAFE, "%s: directory %u has too many entries",
				       fs->path, dir);
		if (l.bad)
			return err_set(e, CRUMB_EFORMAT, "%s: directory %u holds a bad name",
				       fs->path, dir);
		return fail(e, code_of(rc), rc, "%s: directory %u", fs->path, dir);
	}
	for (size_t i = 0; i < l.n; i++)
		if (l.v[i].ino > fs->fs->super->s_inodes_count) {
			uint32_t bad = l.v[i].ino;
			ext4fs_dirents_free(l.v, l.n);
			return err_set(e, CRUMB_EFORMAT, "%s: directory %u names inode %u",
				       fs->path, dir, bad);
		}
	if (l.n > 1)
		qsort(l.v, l.n, sizeof(*l.v), dirent_cmp);
	*out = l.v;
	*n = l.n;
	return 0;
}

struct xlist {
	struct tree_xattr *v;
	size_t n;
};

static int xattr_cb(char *name, char *value, size_t len, void *priv)
{
	struct xlist *l = priv;
	if (!strcmp(name, "system.data")) /* inline data, not a user-visible xattr */
		return 0;
	l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
	l->v[l->n].name = xstrdup(name);
	l->v[l->n].value = xmalloc(len ? len : 1);
	memcpy(l->v[l->n].value, value, len);
	l->v[l->n].len = len;
	l->n++;
	return 0;
}

void ext4fs_xattrs_free(struct tree_xattr *x, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(x[i].name);
		free(x[i].value);
	}
	free(x);
}

int ext4fs_xattrs(struct ext4fs *fs, uint32_t ino, struct tree_xattr **out, size_t *n,
		  struct err *e)
{
	struct ext2_xattr_handle *h = NULL;
	struct xlist l = {0};
	*out = NULL;
	*n = 0;
	if (!ext2fs_has_feature_xattr(fs->fs->super) &&
	    !ext2fs_has_feature_inline_data(fs->fs->super))
		return 0;
	errcode_t rc = ext2fs_xattrs_open(fs->fs, ino, &h);
	if (!rc)
		rc = ext2fs_xattrs_read(h);
	if (!rc)
		rc = ext2fs_xattrs_iterate(h, xattr_cb, &l);
	if (h)
		ext2fs_xattrs_close(&h);
	if (rc) {
		ext4fs_xattrs_free(l.v, l.n);
		return fail(e, CRUMB_EFORMAT, rc, "%s: xattrs of inode %u", fs->path, ino);
	}
	*out = l.v;
	*n = l.n;
	return 0;
}

/* ---- path resolution inside the image ---- */

struct where {
	ext2_ino_t parent; /* directory holding name; 0 for the root */
	ext2_ino_t ino;	   /* 0 when absent */
	char name[EXT2_NAME_LEN + 1];
};

static int lookup_name(struct ext4fs *fs, ext2_ino_t dir, const char *name, ext2_ino_t *ino,
		       struct err *e)
{
	*ino = 0;
	errcode_t rc = ext2fs_lookup(fs->fs, dir, name, (int)strlen(name), NULL, ino);
	if (rc == EXT2_ET_FILE_NOT_FOUND) {
		*ino = 0;
		return 0;
	}
	if (rc)
		return fail(e, code_of(rc), rc, "%s: directory %u", fs->path, dir);
	if (*ino < 1 || *ino > fs->fs->super->s_inodes_count)
		return err_set(e, CRUMB_EFORMAT, "%s: directory %u names inode %u", fs->path, dir,
			       *ino);
	return 0;
}

static int resolve(struct ext4fs *fs, const char *path, int follow_last, struct where *w,
		   struct err *e)
{
	struct sbuf rem = SBUF_INIT;
	ext2_ino_t cur = EXT2_ROOT_INO;
	int links = 0, r = 0;
	size_t at = 0;

	memset(w, 0, sizeof(*w));
	w->ino = EXT2_ROOT_INO;
	sb_adds(&rem, path);
	for (;;) {
		while (at < rem.len && rem.buf[at] == '/')
			at++;
		if (at >= rem.len)
			break;
		size_t end = at;
		while (end < rem.len && rem.buf[end] != '/')
			end++;
		size_t clen = end - at, next = end;
		while (next < rem.len && rem.buf[next] == '/')
			next++;
		int last = next >= rem.len;
		if (clen > EXT2_NAME_LEN) {
			r = err_set(e, CRUMB_EINVAL, "%s: a name is longer than 255 bytes", path);
			break;
		}
		char c[EXT2_NAME_LEN + 1];
		memcpy(c, rem.buf + at, clen);
		c[clen] = 0;
		at = end;
		if (!strcmp(c, ".") || !strcmp(c, "..")) {
			if (c[1] == '.' && cur != EXT2_ROOT_INO) {
				ext2_ino_t up;
				if ((r = lookup_name(fs, cur, "..", &up, e)) < 0)
					break;
				if (!up) {
					r = err_set(e, CRUMB_EFORMAT,
						    "%s: directory %u has no '..'", fs->path, cur);
					break;
				}
				cur = up;
			}
			if (last) {
				w->parent = 0;
				w->ino = cur;
				w->name[0] = 0;
			}
			continue;
		}
		ext2_ino_t kid;
		struct ext4fs_stat st;
		if ((r = lookup_name(fs, cur, c, &kid, e)) < 0)
			break;
		if (kid && (r = ext4fs_stat(fs, kid, &st, e)) < 0)
			break;
		if (kid && st.type == TREE_LNK && (!last || follow_last)) {
			char *target;
			if (++links > MAX_LINKS) {
				r = err_set(e, CRUMB_EUNSAFE,
					    "%s: too many levels of symbolic links", path);
				break;
			}
			if ((r = ext4fs_readlink(fs, kid, &target, e)) < 0)
				break;
			path_splice(&rem, &at, target);
			if (target[0] == '/')
				cur = EXT2_ROOT_INO;
			free(target);
			/* a link as the last component resolves to where it points */
			w->parent = 0;
			w->ino = cur;
			w->name[0] = 0;
			continue;
		}
		if (last) {
			w->parent = cur;
			w->ino = kid;
			memcpy(w->name, c, clen + 1);
			break;
		}
		if (!kid) {
			r = err_set(e, CRUMB_ENOENT, "%s: no such file or directory", path);
			break;
		}
		if (st.type != TREE_DIR) {
			r = err_set(e, CRUMB_EINVAL, "%s: a parent is not a directory", path);
			break;
		}
		cur = kid;
	}
	sb_release(&rem);
	return r;
}

int ext4fs_lookup(struct ext4fs *fs, const char *path, int follow, uint32_t *ino, struct err *e)
{
	struct where w;
	*ino = 0;
	int r = resolve(fs, path, follow, &w, e);
	if (r < 0)
		return r;
	if (!w.ino)
		return err_set(e, CRUMB_ENOENT, "%s: no such file or directory", path);
	*ino = w.ino;
	return 0;
}

/* ---- image → tree ---- */

struct hlmap {
	struct hl {
		uint32_t ino;
		uint64_t id;
	} * v;
	size_t n, cap; /* open addressing, cap a power of two */
};

static struct hl *hl_slot(struct hlmap *m, uint32_t ino)
{
	if ((m->n + 1) * 2 > m->cap) {
		struct hlmap big = {xcalloc(m->cap ? m->cap * 2 : 64, sizeof(struct hl)), 0,
				    m->cap ? m->cap * 2 : 64};
		for (size_t i = 0; i < m->cap; i++)
			if (m->v[i].ino) {
				struct hl *s = hl_slot(&big, m->v[i].ino);
				*s = m->v[i];
				big.n++;
			}
		free(m->v);
		*m = big;
	}
	size_t i = (ino * 2654435761u) & (m->cap - 1);
	while (m->v[i].ino && m->v[i].ino != ino)
		i = (i + 1) & (m->cap - 1);
	return &m->v[i];
}

struct rt {
	struct ext4fs *fs;
	struct tree *t;
	uint8_t *seen; /* directories met, by inode number: a second meeting is a loop */
	struct hlmap hl;
};

struct extlist {
	struct tree_extent *v;
	size_t n, alloc;
	uint64_t data, size;
	int bad, toomany;
	struct ext4fs *fs;
};

static int ext_add(struct extlist *l, uint64_t lblk, uint64_t pblk, uint64_t len)
{
	struct ext2_super_block *s = l->fs->fs->super;
	uint64_t bs = l->fs->fs->blocksize;
	if (pblk < s->s_first_data_block || pblk >= ext2fs_blocks_count(s) ||
	    len > ext2fs_blocks_count(s) - pblk) {
		l->bad = 1;
		return -1;
	}
	uint64_t off = lblk * bs, n = len * bs;
	if (off >= l->size)
		return 0; /* blocks past the end (preallocated) hold nothing visible */
	if (n > l->size - off)
		n = l->size - off;
	if (l->n && off < l->v[l->n - 1].off + l->v[l->n - 1].len) {
		l->bad = 1; /* overlapping or out of order */
		return -1;
	}
	l->data += n;
	if (l->n && l->v[l->n - 1].off + l->v[l->n - 1].len == off) {
		l->v[l->n - 1].len += n;
		return 0;
	}
	if (l->n == MAX_EXTENTS) {
		l->toomany = 1;
		return -1;
	}
	if (l->n == l->alloc) {
		l->alloc = l->alloc ? l->alloc * 2 : 8;
		l->v = xrealloc(l->v, l->alloc * sizeof(*l->v));
	}
	l->v[l->n++] = (struct tree_extent){off, n};
	return 0;
}

static int blk_cb(ext2_filsys efs, blk64_t *blocknr, e2_blkcnt_t blockcnt, blk64_t ref, int refoff,
		  void *priv)
{
	if (blockcnt < 0)
		return 0;
	return ext_add(priv, (uint64_t)blockcnt, *blocknr, 1) < 0 ? BLOCK_ABORT : 0;
}

/* The data ranges of a regular file, so holes stay holes; n->extents stays NULL
 * when the file has no holes (or too many ranges to be worth recording). */
static int file_extents(struct ext4fs *fs, ext2_ino_t ino, inode_t *in, struct tree_node *n,
			struct err *e)
{
	struct extlist l = {.size = n->size, .fs = fs};
	errcode_t rc = 0;
	if (in->i_flags & EXT4_INLINE_DATA_FL)
		return 0;
	if (in->i_flags & EXT4_EXTENTS_FL) {
		ext2_extent_handle_t h;
		struct ext2fs_extent x;
		if ((rc = ext2fs_extent_open2(fs->fs, ino, (struct ext2_inode *)in, &h)))
			return fail(e, CRUMB_EFORMAT, rc, "%s: extents of inode %u", fs->path, ino);
		int op = EXT2_EXTENT_ROOT;
		for (unsigned long steps = 0;; op = EXT2_EXTENT_NEXT, steps++) {
			if (steps > 16u * MAX_EXTENTS) {
				l.toomany = 1;
				break;
			}
			rc = ext2fs_extent_get(h, op, &x);
			if (rc == EXT2_ET_EXTENT_NO_NEXT || rc == EXT2_ET_EXTENT_NO_NEXT) {
				rc = 0;
				break;
			}
			if (rc)
				break;
			if (!(x.e_flags & EXT2_EXTENT_FLAGS_LEAF))
				continue;
			if (x.e_flags & EXT2_EXTENT_FLAGS_UNINIT) { /* reads as zeros */
				if (x.e_pblk < fs->fs->super->s_first_data_block ||
				    x.e_pblk >= ext2fs_blocks_count(fs->fs->super))
					l.bad = 1;
				if (l.bad)
					break;
				continue;
			}
			if (ext_add(&l, x.e_lblk, x.e_pblk, x.e_len) < 0)
				break;
		}
		ext2fs_extent_free(h);
	} else if (ext2fs_inode_has_valid_blocks2(fs->fs, (struct ext2_inode *)in)) {
		rc = ext2fs_block_iterate3(fs->fs, ino, BLOCK_FLAG_READ_ONLY | BLOCK_FLAG_DATA_ONLY,
					   NULL, blk_cb, &l);
	}
	if (rc || l.bad) {
		free(l.v);
		return fail(e, CRUMB_EFORMAT, rc, "%s: inode %u has bad block pointers", fs->path,
			    ino);
	}
	if (l.toomany || l.data >= n->size) {
		free(l.v);
		return 0;
	}
	n->extents = l.v ? l.v : xmalloc(sizeof(*n->extents));
	n->nextents = l.n;
	return 0;
}

static int rt_node(struct rt *rt, ext2_ino_t ino, const char *dest, int depth, struct err *e)
{
	struct ext4fs *fs = rt->fs;
	struct ext4fs_stat st;
	struct tree_node *n;
	inode_t in;
	int r;

	if (depth > MAX_DEPTH)
		return err_set(e, CRUMB_EUNSAFE, "%s: directories nested too deep at %s", fs->path,
			       dest);
	if ((r = read_inode(fs, ino, &in, e)) < 0 || (r = stat_inode(fs, ino, &in, &st, e)) < 0)
		return r;
	if (st.type == TREE_DIR) {
		if (rt->seen[ino / 8] & (1u << (ino % 8)))
			return err_set(e, CRUMB_EUNSAFE,
				       "%s: directory loop (directory %u met twice, at %s)",
				       fs->path, ino, dest);
		rt->seen[ino / 8] |= (uint8_t)(1u << (ino % 8));
	}
	if ((r = tree_add(rt->t, dest, st.type, st.mode, &n, e)) < 0)
		return r;
	n->mode = st.mode;
	n->uid = st.uid;
	n->gid = st.gid;
	n->mtime = st.mtime;
	switch (st.type) {
	case TREE_REG:
		n->size = st.size;
		n->reader = &fs->reader;
		n->reader_ref = ino;
		if ((r = file_extents(fs, ino, &in, n, e)) < 0)
			return r;
		break;
	case TREE_LNK:
		if ((r = ext4fs_readlink(fs, ino, &n->link, e)) < 0)
			return r;
		break;
	case TREE_CHR:
	case TREE_BLK:
		n->rdev_major = st.rdev_major;
		n->rdev_minor = st.rdev_minor;
		break;
	default:
		break;
	}
	if (st.type != TREE_DIR && st.links > 1) {
		struct hl *s = hl_slot(&rt->hl, ino);
		if (!s->ino) {
			s->ino = ino;
			s->id = ++rt->t->next_hardlink;
			rt->hl.n++;
		}
		n->hardlink = s->id;
	}
	struct tree_xattr *x;
	size_t nx;
	if ((r = ext4fs_xattrs(fs, ino, &x, &nx, e)) < 0)
		return r;
	for (size_t i = 0; i < nx; i++)
		tree_set_xattr(n, x[i].name, x[i].value, x[i].len);
	ext4fs_xattrs_free(x, nx);
	if (st.type != TREE_DIR)
		return 0;

	struct ext4fs_dirent *d;
	size_t nd;
	if ((r = ext4fs_readdir(fs, ino, &d, &nd, e)) < 0)
		return r;
	for (size_t i = 0; i < nd && !r; i++) {
		char *kid = xasprintf("%s/%s", strcmp(dest, "/") ? dest : "", d[i].name);
		r = rt_node(rt, d[i].ino, kid, depth + 1, e);
		free(kid);
	}
	ext4fs_dirents_free(d, nd);
	return r;
}

int ext4fs_read_tree(struct ext4fs *fs, const char *path, struct tree *t, const char *dest,
		     struct err *e)
{
	uint32_t ino;
	int r = ext4fs_lookup(fs, path, 1, &ino, e);
	if (r < 0)
		return r;
	struct rt rt = {fs, t, xcalloc(fs->fs->super->s_inodes_count / 8 + 1, 1), {0}};
	r = rt_node(&rt, ino, dest && *dest ? dest : "/", 0, e);
	free(rt.seen);
	free(rt.hl.v);
	return r;
}

/* ---- edits ---- */

/* Features whose on-disk state crumb's edits keep right (libext2fs does the
 * work); any other ro_compat or incompat feature makes a write refused. */
#define WRITE_RO_COMPAT_OK                                                                         \
	(EXT2_FEATURE_RO_COMPAT_SPARSE_SUPER | EXT2_FEATURE_RO_COMPAT_LARGE_FILE |                 \
	 EXT4_FEATURE_RO_COMPAT_HUGE_FILE | EXT4_FEATURE_RO_COMPAT_GDT_CSUM |                      \
	 EXT4_FEATURE_RO_COMPAT_DIR_NLINK | EXT4_FEATURE_RO_COMPAT_EXTRA_ISIZE |                   \
	 EXT4_FEATURE_RO_COMPAT_METADATA_CSUM)
#define WRITE_INCOMPAT_OK                                                                          \
	(EXT2_FEATURE_INCOMPAT_FILETYPE | EXT2_FEATURE_INCOMPAT_META_BG |                          \
	 EXT3_FEATURE_INCOMPAT_EXTENTS | EXT4_FEATURE_INCOMPAT_64BIT |                             \
	 EXT4_FEATURE_INCOMPAT_FLEX_BG | EXT4_FEATURE_INCOMPAT_CSUM_SEED |                         \
	 EXT4_FEATURE_INCOMPAT_LARGEDIR | EXT4_FEATURE_INCOMPAT_INLINE_DATA)

static int write_check(struct ext4fs *fs, struct err *e)
{
	struct ext2_super_block *s = fs->fs->super;
	struct sbuf names = SBUF_INIT, rep = SBUF_INIT;
	unsigned problems = 0;
	int r;
	ext4fs_feature_names(0, s->s_feature_incompat & ~WRITE_INCOMPAT_OK,
			     s->s_feature_ro_compat & ~WRITE_RO_COMPAT_OK, &names);
	if (names.len)
		r = err_set(e, CRUMB_EUNSUPP, "%s: crumb does not keep the feature(s) %s right",
			    fs->path, names.buf);
	else if (s->s_state & EXT2_ERROR_FS)
		r = err_set(e, CRUMB_EUNSAFE, "%s: the kernel recorded errors in it (e2fsck -f)",
			    fs->path);
	else if ((r = ext4fs_fsck(fs, &rep, &problems, e)) < 0)
		; /* it could not be checked: e says why */
	else if (problems) {
		size_t l = strcspn(rep.buf, "\n");
		r = err_set(e, CRUMB_EUNSAFE, "%s: damaged: %u problem%s, the first: %.*s",
			    fs->path, problems, problems == 1 ? "" : "s", (int)(l > 300 ? 300 : l),
			    rep.buf);
	}
	sb_release(&names);
	sb_release(&rep);
	return r;
}

int ext4fs_write_check(struct ext4fs *fs, struct err *e)
{
	if (!fs->writable)
		return err_set(e, CRUMB_EINVAL, "%s: opened read-only", fs->path);
	if (fs->force)
		return 0;
	if (!fs->checked) {
		struct err ce = {0};
		int r = write_check(fs, &ce);
		fs->checked = r < 0 ? r : 1;
		if (r < 0)
			fs->refusal = xstrdup(ce.msg);
	}
	if (fs->checked < 0)
		return err_set(e, fs->checked, "%s", fs->refusal);
	return 0;
}

static int need_rw(struct ext4fs *fs, struct err *e)
{
	int r = ext4fs_write_check(fs, e);
	if (r < 0)
		return r;
	drop_cache(fs);
	return 0;
}

/* The time edits write as "now": the clock, clamped as ext4fs_set_epoch says. */
static int64_t now(const struct ext4fs *fs)
{
	return clamp_time((int64_t)time(NULL), fs->epoch, fs->clamp);
}

void ext4fs_set_epoch(struct ext4fs *fs, int64_t epoch, int clamp)
{
	fs->epoch = epoch;
	fs->clamp = clamp;
	/* libext2fs's own clock (new inodes, the superblock's write time); 0
	 * there means "read the clock", and 1 << 32 reads as 0 in 32-bit fields. */
	int64_t t = now(fs);
	if (clamp)
		fs->fs->now = t ? (time_t)t : (time_t)1 << 32;
}

static void set_owner(inode_t *in, uint32_t uid, uint32_t gid)
{
	in->i_uid = (uint16_t)uid;
	in->osd2.linux2.l_i_uid_high = (uint16_t)(uid >> 16);
	in->i_gid = (uint16_t)gid;
	in->osd2.linux2.l_i_gid_high = (uint16_t)(gid >> 16);
}

static void set_times(struct ext4fs *fs, inode_t *in, int64_t atime, int64_t mtime, int64_t ctime)
{
	set_time(&in->i_atime, &in->i_atime_extra, HAS_EXTRA(fs, in, i_atime_extra), atime);
	set_time(&in->i_mtime, &in->i_mtime_extra, HAS_EXTRA(fs, in, i_mtime_extra), mtime);
	set_time(&in->i_ctime, &in->i_ctime_extra, HAS_EXTRA(fs, in, i_ctime_extra), ctime);
	/* nanoseconds live in the same extra words; a whole second is what we keep */
}

static errcode_t dir_link(struct ext4fs *fs, ext2_ino_t dir, const char *name, ext2_ino_t ino,
			  int ft)
{
	errcode_t rc = ext2fs_link(fs->fs, dir, name, ino, ft);
	if (rc == EXT2_ET_DIR_NO_SPACE) {
		rc = ext2fs_expand_dir(fs->fs, dir);
		if (!rc)
			rc = ext2fs_link(fs->fs, dir, name, ino, ft);
	}
	return rc;
}

/* Frees an inode whose last name is gone: its blocks, its xattr block, the inode. */
static int free_inode(struct ext4fs *fs, ext2_ino_t ino, struct err *e)
{
	inode_t in;
	errcode_t rc;
	int r;
	if ((r = read_inode(fs, ino, &in, e)) < 0)
		return r;
	int isdir = LINUX_S_ISDIR(in.i_mode);
	if (ext2fs_inode_has_valid_blocks2(fs->fs, (struct ext2_inode *)&in) ||
	    (in.i_flags & EXT4_INLINE_DATA_FL)) {
		if ((rc = ext2fs_punch(fs->fs, ino, (struct ext2_inode *)&in, NULL, 0, ~0ULL)))
			return fail(e, CRUMB_EIO, rc, "%s: freeing inode %u", fs->path, ino);
		if ((r = read_inode(fs, ino, &in, e)) < 0)
			return r;
	}
	if (ext2fs_file_acl_block(fs->fs, (struct ext2_inode *)&in)) {
		if ((rc = ext2fs_free_ext_attr(fs->fs, ino, &in)))
			return fail(e, CRUMB_EIO, rc, "%s: freeing xattrs of inode %u", fs->path,
				    ino);
		if ((r = read_inode(fs, ino, &in, e)) < 0)
			return r;
	}
	in.i_links_count = 0;
	in.i_dtime = (uint32_t)now(fs);
	in.i_size = in.i_size_high = 0;
	if ((r = write_inode(fs, ino, &in, e)) < 0)
		return r;
	ext2fs_inode_alloc_stats2(fs->fs, ino, -1, isdir);
	return 0;
}

/* Removes one name of ino from dir; frees ino with its last name. A directory
 * must be empty: its own '.' and the parent's link through '..' go with it. */
static int drop_name(struct ext4fs *fs, ext2_ino_t dir, const char *name, ext2_ino_t ino,
		     struct err *e)
{
	inode_t in, pin;
	int r;
	errcode_t rc = ext2fs_unlink(fs->fs, dir, name, ino, 0);
	if (rc)
		return fail(e, code_of(rc), rc, "%s: unlink %s", fs->path, name);
	if ((r = read_inode(fs, ino, &in, e)) < 0)
		return r;
	if (LINUX_S_ISDIR(in.i_mode)) {
		if ((r = read_inode(fs, dir, &pin, e)) < 0)
			return r;
		if (pin.i_links_count > 2)
			pin.i_links_count--;
		set_times(
		    fs, &pin,
		    get_time(pin.i_atime, pin.i_atime_extra, HAS_EXTRA(fs, &pin, i_atime_extra)),
		    now(fs), now(fs));
		if ((r = write_inode(fs, dir, &pin, e)) < 0)
			return r;
		return free_inode(fs, ino, e);
	}
	if (in.i_links_count <= 1)
		return free_inode(fs, ino, e);
	in.i_links_count--;
	in.i_ctime = (uint32_t)now(fs);
	return write_inode(fs, ino, &in, e);
}

struct putctx {
	struct ext4fs *fs;
	int flags;
	struct {
		uint64_t id;
		ext2_ino_t ino;
	} * hl;
	size_t nhl;
	char *buf;
};

static ext2_ino_t put_hl_find(struct putctx *pc, uint64_t id)
{
	for (size_t i = 0; id && i < pc->nhl; i++)
		if (pc->hl[i].id == id)
			return pc->hl[i].ino;
	return 0;
}

static void put_hl_add(struct putctx *pc, uint64_t id, ext2_ino_t ino)
{
	if (!id)
		return;
	pc->hl = xrealloc(pc->hl, (pc->nhl + 1) * sizeof(*pc->hl));
	pc->hl[pc->nhl].id = id;
	pc->hl[pc->nhl].ino = ino;
	pc->nhl++;
}

/* Sets mode, owner, times and (preserving) xattrs of a node just written. */
static int put_attrs(struct putctx *pc, ext2_ino_t ino, const struct tree_node *n, struct err *e)
{
	struct ext4fs *fs = pc->fs;
	int keep = pc->flags & EXT4FS_PRESERVE;
	inode_t in;
	int r;
	if ((r = read_inode(fs, ino, &in, e)) < 0)
		return r;
	if (n->type != TREE_LNK)
		in.i_mode = (uint16_t)((in.i_mode & LINUX_S_IFMT) |
				       (keep ? n->mode & 07777 : n->mode & 0777));
	set_owner(&in, keep ? n->uid : 0, keep ? n->gid : 0);
	int64_t t = now(fs);
	set_times(fs, &in, t, keep ? clamp_time(n->mtime, fs->epoch, fs->clamp) : t, t);
	if ((r = write_inode(fs, ino, &in, e)) < 0)
		return r;
	if (!keep || !n->nxattrs)
		return 0;
	struct ext2_xattr_handle *h = NULL;
	errcode_t rc = ext2fs_xattrs_open(fs->fs, ino, &h);
	if (!rc)
		rc = ext2fs_xattrs_read(h);
	for (size_t i = 0; i < n->nxattrs && !rc; i++)
		rc = ext2fs_xattr_set(h, n->xattrs[i].name, n->xattrs[i].value, n->xattrs[i].len);
	if (h) {
		errcode_t rc2 = ext2fs_xattrs_close(&h);
		if (!rc)
			rc = rc2;
	}
	if (rc)
		return fail(e, CRUMB_EIO, rc, "%s: setting xattrs of inode %u", fs->path, ino);
	return 0;
}

/* Writes n's content into ino (empty, size 0), leaving holes where n has them
 * and where a whole chunk reads as zeros. */
static int put_content(struct putctx *pc, ext2_ino_t ino, const struct tree_node *n, struct err *e)
{
	struct ext4fs *fs = pc->fs;
	ext2_file_t f;
	errcode_t rc;
	int r = 0;
	if (n->size > fs->max_size)
		return err_set(e, CRUMB_EUNSAFE,
			       "%s: a file of %llu bytes does not fit this filesystem", fs->path,
			       (unsigned long long)n->size);
	if ((rc = ext2fs_file_open(fs->fs, ino, EXT2_FILE_WRITE, &f)))
		return fail(e, CRUMB_EIO, rc, "%s: inode %u", fs->path, ino);
	if (!pc->buf)
		pc->buf = xmalloc(CHUNK);
	struct tree_extent whole = {0, n->size};
	const struct tree_extent *x = n->extents ? n->extents : &whole;
	size_t nx = n->extents ? n->nextents : 1;
	for (size_t i = 0; i < nx && !r && !rc; i++) {
		uint64_t end = x[i].off + x[i].len;
		if (end > n->size || end < x[i].off)
			end = n->size;
		for (uint64_t off = x[i].off; off < end && !r && !rc;) {
			size_t len = end - off > CHUNK ? CHUNK : (size_t)(end - off);
			if ((r = tree_read(n, off, pc->buf, len, e)) < 0)
				break;
			size_t z = 0;
			while (z < len && !pc->buf[z])
				z++;
			if (z < len) {
				unsigned int wrote = 0;
				rc = ext2fs_file_llseek(f, off, EXT2_SEEK_SET, NULL);
				if (!rc)
					rc = ext2fs_file_write(f, pc->buf, (unsigned)len, &wrote);
				if (!rc && wrote != len)
					rc = EXT2_ET_SHORT_WRITE;
			}
			off += len;
		}
	}
	if (!r && !rc)
		rc = ext2fs_file_set_size2(f, n->size);
	errcode_t rc2 = ext2fs_file_close(f);
	if (!rc)
		rc = rc2;
	if (r < 0)
		return r;
	if (rc)
		return fail(e, CRUMB_EIO, rc, "%s: writing inode %u", fs->path, ino);
	return 0;
}

/* Creates a fresh inode of n's type (not a directory) and names it in dir. */
static int put_new(struct putctx *pc, ext2_ino_t dir, const char *name, const struct tree_node *n,
		   ext2_ino_t *out, struct err *e)
{
	struct ext4fs *fs = pc->fs;
	ext2_ino_t ino;
	errcode_t rc;
	uint16_t ifmt = ifmt_of(n->type);
	if ((rc = ext2fs_new_inode(fs->fs, dir, ifmt | 0600, NULL, &ino)))
		return fail(e, CRUMB_EIO, rc, "%s: no free inode for %s", fs->path, name);
	if (n->type == TREE_LNK) {
		if (!n->link || !*n->link || strlen(n->link) >= fs->fs->blocksize)
			return err_set(e, CRUMB_EINVAL,
				       "%s: symlink target of %s is empty or too long", fs->path,
				       name);
		if ((rc = ext2fs_symlink(fs->fs, dir, ino, NULL, n->link)))
			return fail(e, CRUMB_EIO, rc, "%s: symlink %s", fs->path, name);
	} else {
		struct ext2_inode in;
		memset(&in, 0, sizeof(in));
		in.i_mode = ifmt | 0600;
		in.i_links_count = 1;
		if (n->type == TREE_CHR || n->type == TREE_BLK) {
			uint32_t ma = n->rdev_major, mi = n->rdev_minor;
			if (ma < 256 && mi < 256)
				in.i_block[0] = ma * 256 + mi;
			else
				in.i_block[1] = (mi & 0xff) | (ma << 8) | ((mi & ~0xffu) << 12);
		}
		if (n->type == TREE_REG && ext2fs_has_feature_extents(fs->fs->super)) {
			ext2_extent_handle_t h;
			if ((rc = ext2fs_extent_open2(fs->fs, ino, &in, &h)))
				return fail(e, CRUMB_EIO, rc, "%s: extents for %s", fs->path, name);
			ext2fs_extent_free(h);
		}
		if ((rc = ext2fs_write_new_inode(fs->fs, ino, &in)))
			return fail(e, CRUMB_EIO, rc, "%s: inode for %s", fs->path, name);
		ext2fs_inode_alloc_stats2(fs->fs, ino, +1, 0);
	}
	if ((rc = dir_link(fs, dir, name, ino, ft_of(n->type)))) {
		/* not named anywhere: give the inode back */
		struct err ignore;
		free_inode(fs, ino, &ignore);
		return fail(e, CRUMB_EIO, rc, "%s: adding %s", fs->path, name);
	}
	*out = ino;
	return 0;
}

static int put_mkdir(struct putctx *pc, ext2_ino_t dir, const char *name, ext2_ino_t *out,
		     struct err *e)
{
	struct ext4fs *fs = pc->fs;
	ext2_ino_t ino;
	errcode_t rc;
	if ((rc = ext2fs_new_inode(fs->fs, dir, LINUX_S_IFDIR | 0755, NULL, &ino)))
		return fail(e, CRUMB_EIO, rc, "%s: no free inode for %s", fs->path, name);
	/* unnamed first (it counts the parent's new link), then named with room made */
	if ((rc = ext2fs_mkdir(fs->fs, dir, ino, NULL)))
		return fail(e, CRUMB_EIO, rc, "%s: mkdir %s", fs->path, name);
	if ((rc = dir_link(fs, dir, name, ino, EXT2_FT_DIR)))
		return fail(e, CRUMB_EIO, rc, "%s: adding %s", fs->path, name);
	*out = ino;
	return 0;
}

static int put_at(struct putctx *pc, ext2_ino_t dir, const char *name, const struct tree_node *n,
		  int depth, struct err *e)
{
	struct ext4fs *fs = pc->fs;
	ext2_ino_t ino = 0, have;
	struct ext4fs_stat st;
	int r;

	if (depth > MAX_DEPTH)
		return err_set(e, CRUMB_EUNSAFE, "%s: directories nested too deep at %s", fs->path,
			       name);
	if (!*name || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, "..") ||
	    strlen(name) > EXT2_NAME_LEN)
		return err_set(e, CRUMB_EUNSAFE, "%s: refusing the name '%s'", fs->path, name);
	if ((r = lookup_name(fs, dir, name, &have, e)) < 0)
		return r;
	if (have) {
		if (pc->flags & EXT4FS_EXCL)
			return err_set(e, CRUMB_EINVAL, "%s: %s exists", fs->path, name);
		if ((r = ext4fs_stat(fs, have, &st, e)) < 0)
			return r;
		if (st.type == TREE_DIR && n->type != TREE_DIR)
			return err_set(e, CRUMB_EINVAL, "%s: %s is a directory", fs->path, name);
		if (st.type != TREE_DIR && n->type == TREE_DIR)
			return err_set(e, CRUMB_EINVAL,
				       "%s: cannot put a directory over the non-directory %s",
				       fs->path, name);
		if (st.type == TREE_DIR) {
			ino = have;
			if ((pc->flags & EXT4FS_PRESERVE) && (r = put_attrs(pc, ino, n, e)) < 0)
				return r;
		} else if (st.type == TREE_REG && n->type == TREE_REG &&
			   !put_hl_find(pc, n->hardlink)) {
			/* rewrite in place, as cp does: other names of the file follow */
			inode_t in;
			errcode_t rc;
			if ((r = read_inode(fs, have, &in, e)) < 0)
				return r;
			if ((ext2fs_inode_has_valid_blocks2(fs->fs, (struct ext2_inode *)&in) ||
			     (in.i_flags & EXT4_INLINE_DATA_FL)) &&
			    (rc = ext2fs_punch(fs->fs, have, (struct ext2_inode *)&in, NULL, 0,
					       ~0ULL)))
				return fail(e, CRUMB_EIO, rc, "%s: truncating %s", fs->path, name);
			if ((r = read_inode(fs, have, &in, e)) < 0)
				return r;
			in.i_size = in.i_size_high = 0;
			if ((r = write_inode(fs, have, &in, e)) < 0 ||
			    (r = put_content(pc, have, n, e)) < 0)
				return r;
			put_hl_add(pc, n->hardlink, have);
			if (pc->flags & EXT4FS_PRESERVE)
				return put_attrs(pc, have, n, e);
			if ((r = read_inode(fs, have, &in, e)) < 0)
				return r;
			set_times(fs, &in, now(fs), now(fs), now(fs));
			return write_inode(fs, have, &in, e);
		} else if ((r = drop_name(fs, dir, name, have, e)) < 0) {
			return r;
		}
	}
	if (!ino) {
		ext2_ino_t other = put_hl_find(pc, n->hardlink);
		if (other && n->type != TREE_DIR) {
			inode_t in;
			errcode_t rc;
			if ((r = read_inode(fs, other, &in, e)) < 0)
				return r;
			if (in.i_links_count >= LINKS_MAX)
				return err_set(e, CRUMB_EINVAL, "%s: too many links to %s",
					       fs->path, name);
			if ((rc = dir_link(fs, dir, name, other, ft_of(n->type))))
				return fail(e, CRUMB_EIO, rc, "%s: linking %s", fs->path, name);
			in.i_links_count++;
			return write_inode(fs, other, &in, e);
		}
		if (n->type == TREE_DIR)
			r = put_mkdir(pc, dir, name, &ino, e);
		else
			r = put_new(pc, dir, name, n, &ino, e);
		if (r < 0)
			return r;
		if (n->type == TREE_REG && (r = put_content(pc, ino, n, e)) < 0)
			return r;
		put_hl_add(pc, n->hardlink, ino);
		if ((r = put_attrs(pc, ino, n, e)) < 0)
			return r;
	}
	for (size_t i = 0; n->type == TREE_DIR && i < n->nkids && !r; i++)
		r = put_at(pc, ino, n->kids[i]->name, n->kids[i], depth + 1, e);
	return r;
}

int ext4fs_put(struct ext4fs *fs, const char *path, const struct tree_node *n, int flags,
	       struct err *e)
{
	struct where w;
	int r;
	if ((r = need_rw(fs, e)) < 0 || (r = resolve(fs, path, 0, &w, e)) < 0)
		return r;
	struct putctx pc = {.fs = fs, .flags = flags};
	if (!w.parent) {
		/* the root, or a path ending in "." / ".." / a symlink to a directory */
		if (n->type != TREE_DIR)
			return err_set(e, CRUMB_EINVAL, "%s: %s is a directory", fs->path, path);
		if (flags & EXT4FS_EXCL)
			return err_set(e, CRUMB_EINVAL, "%s: %s exists", fs->path, path);
		if ((flags & EXT4FS_PRESERVE) && (r = put_attrs(&pc, w.ino, n, e)) < 0)
			goto out;
		for (size_t i = 0; i < n->nkids && !r; i++)
			r = put_at(&pc, w.ino, n->kids[i]->name, n->kids[i], 1, e);
	} else {
		r = put_at(&pc, w.parent, w.name, n, 0, e);
	}
out:
	free(pc.hl);
	free(pc.buf);
	return r;
}

static int remove_at(struct ext4fs *fs, ext2_ino_t dir, const char *name, ext2_ino_t ino,
		     int recursive, int depth, struct err *e)
{
	struct ext4fs_stat st;
	int r;
	if (depth > MAX_DEPTH)
		return err_set(e, CRUMB_EUNSAFE, "%s: directories nested too deep at %s", fs->path,
			       name);
	if ((r = ext4fs_stat(fs, ino, &st, e)) < 0)
		return r;
	if (st.type == TREE_DIR) {
		struct ext4fs_dirent *d;
		size_t nd;
		if ((r = ext4fs_readdir(fs, ino, &d, &nd, e)) < 0)
			return r;
		if (nd && !recursive) {
			ext4fs_dirents_free(d, nd);
			return err_set(e, CRUMB_EINVAL, "%s: directory %s is not empty", fs->path,
				       name);
		}
		for (size_t i = 0; i < nd && !r; i++) {
			if (d[i].ino == ino || d[i].ino == EXT2_ROOT_INO)
				r = err_set(e, CRUMB_EUNSAFE, "%s: directory loop at %s", fs->path,
					    d[i].name);
			else
				r = remove_at(fs, ino, d[i].name, d[i].ino, 1, depth + 1, e);
		}
		ext4fs_dirents_free(d, nd);
		if (r < 0)
			return r;
	}
	return drop_name(fs, dir, name, ino, e);
}

int ext4fs_remove(struct ext4fs *fs, const char *path, int recursive, struct err *e)
{
	struct where w;
	int r;
	if ((r = need_rw(fs, e)) < 0 || (r = resolve(fs, path, 0, &w, e)) < 0)
		return r;
	if (!w.parent)
		return err_set(e, CRUMB_EINVAL, "%s: refusing to remove %s", fs->path,
			       *path ? path : "/");
	if (!w.ino)
		return err_set(e, CRUMB_ENOENT, "%s: no such file or directory", path);
	return remove_at(fs, w.parent, w.name, w.ino, recursive, 0, e);
}

struct dotdot {
	ext2_ino_t to;
	int done;
};

static int dotdot_cb(ext2_ino_t dir, int entry, struct ext2_dir_entry *d, int offset, int blocksize,
		     char *buf, void *priv)
{
	struct dotdot *dd = priv;
	if (entry != DIRENT_DOT_DOT_FILE)
		return 0;
	d->inode = dd->to;
	dd->done = 1;
	return DIRENT_CHANGED | DIRENT_ABORT;
}

/* For an edit from an existing path to a second one (rename, link): the image is writable,
 * both paths resolve (a last symlink not followed) into a and b, and from exists. */
static int resolve_pair(struct ext4fs *fs, const char *from, const char *to, struct where *a,
			struct where *b, struct err *e)
{
	int r;
	if ((r = need_rw(fs, e)) < 0 || (r = resolve(fs, from, 0, a, e)) < 0 ||
	    (r = resolve(fs, to, 0, b, e)) < 0)
		return r;
	if (!a->ino)
		return err_set(e, CRUMB_ENOENT, "%s: no such file or directory", from);
	return 0;
}

int ext4fs_rename(struct ext4fs *fs, const char *from, const char *to, struct err *e)
{
	struct where a, b;
	struct ext4fs_stat sa, sb;
	errcode_t rc;
	int r;
	if ((r = resolve_pair(fs, from, to, &a, &b, e)) < 0)
		return r;
	if (!a.parent || !b.parent)
		return err_set(e, CRUMB_EINVAL, "%s: cannot rename %s to %s", fs->path, from, to);
	if (a.ino == b.ino)
		return 0;
	if ((r = ext4fs_stat(fs, a.ino, &sa, e)) < 0)
		return r;
	if (sa.type == TREE_DIR) {
		/* the target's parent must not be the moved directory or below it */
		ext2_ino_t cur = b.parent;
		for (int i = 0; cur != EXT2_ROOT_INO; i++) {
			if (cur == a.ino)
				return err_set(e, CRUMB_EINVAL, "%s: cannot move %s below itself",
					       fs->path, from);
			if (i > MAX_DEPTH || (r = lookup_name(fs, cur, "..", &cur, e)) < 0 || !cur)
				return r < 0 ? r
					     : err_set(e, CRUMB_EFORMAT, "%s: broken '..' chain",
						       fs->path);
		}
	}
	if (b.ino) {
		if ((r = ext4fs_stat(fs, b.ino, &sb, e)) < 0)
			return r;
		if ((sa.type == TREE_DIR) != (sb.type == TREE_DIR))
			return err_set(e, CRUMB_EINVAL, "%s: cannot replace %s with %s", fs->path,
				       to, from);
		if ((r = remove_at(fs, b.parent, b.name, b.ino, 0, 0, e)) < 0)
			return r;
	}
	if ((rc = dir_link(fs, b.parent, b.name, a.ino, ft_of(sa.type))))
		return fail(e, CRUMB_EIO, rc, "%s: adding %s", fs->path, to);
	if ((rc = ext2fs_unlink(fs->fs, a.parent, a.name, a.ino, 0)))
		return fail(e, CRUMB_EIO, rc, "%s: removing %s", fs->path, from);
	if (sa.type == TREE_DIR && a.parent != b.parent) {
		struct dotdot dd = {b.parent, 0};
		inode_t in;
		rc = ext2fs_dir_iterate2(fs->fs, a.ino, 0, NULL, dotdot_cb, &dd);
		if (rc || !dd.done)
			return fail(e, CRUMB_EFORMAT, rc, "%s: updating '..' of %s", fs->path, to);
		if ((r = read_inode(fs, a.parent, &in, e)) < 0)
			return r;
		if (in.i_links_count > 2)
			in.i_links_count--;
		if ((r = write_inode(fs, a.parent, &in, e)) < 0 ||
		    (r = read_inode(fs, b.parent, &in, e)) < 0)
			return r;
		if (in.i_links_count < LINKS_MAX)
			in.i_links_count++;
		if ((r = write_inode(fs, b.parent, &in, e)) < 0)
			return r;
	}
	inode_t in;
	if ((r = read_inode(fs, a.ino, &in, e)) < 0)
		return r;
	in.i_ctime = (uint32_t)now(fs);
	return write_inode(fs, a.ino, &in, e);
}

int ext4fs_link(struct ext4fs *fs, const char *target, const char *path, struct err *e)
{
	struct where a, b;
	inode_t in;
	errcode_t rc;
	int r;
	if ((r = resolve_pair(fs, target, path, &a, &b, e)) < 0)
		return r;
	if (!b.parent || b.ino)
		return err_set(e, CRUMB_EINVAL, "%s: %s exists", fs->path, path);
	if ((r = read_inode(fs, a.ino, &in, e)) < 0)
		return r;
	if (LINUX_S_ISDIR(in.i_mode))
		return err_set(e, CRUMB_EINVAL, "%s: %s is a directory (no hard links to those)",
			       fs->path, target);
	if (in.i_links_count >= LINKS_MAX)
		return err_set(e, CRUMB_EINVAL, "%s: too many links to %s", fs->path, target);
	int ok;
	if ((rc = dir_link(fs, b.parent, b.name, a.ino, ft_of(type_of(in.i_mode, &ok)))))
		return fail(e, CRUMB_EIO, rc, "%s: adding %s", fs->path, path);
	in.i_links_count++;
	in.i_ctime = (uint32_t)now(fs);
	return write_inode(fs, a.ino, &in, e);
}

static int change(struct ext4fs *fs, uint32_t ino, int what, uint32_t a, uint32_t b, int64_t t1,
		  int64_t t2, struct err *e)
{
	inode_t in;
	struct ext4fs_stat st;
	int r;
	if ((r = need_rw(fs, e)) < 0 || (r = read_inode(fs, ino, &in, e)) < 0 ||
	    (r = stat_inode(fs, ino, &in, &st, e)) < 0)
		return r;
	int64_t ctime = now(fs);
	if (what == 0)
		in.i_mode = (uint16_t)((in.i_mode & LINUX_S_IFMT) | (a & 07777));
	else if (what == 1)
		set_owner(&in, a, b);
	set_times(fs, &in, what == 2 ? t1 : st.atime, what == 2 ? t2 : st.mtime, ctime);
	return write_inode(fs, ino, &in, e);
}

int ext4fs_chmod(struct ext4fs *fs, uint32_t ino, uint32_t mode, struct err *e)
{
	return change(fs, ino, 0, mode, 0, 0, 0, e);
}

int ext4fs_chown(struct ext4fs *fs, uint32_t ino, uint32_t uid, uint32_t gid, struct err *e)
{
	return change(fs, ino, 1, uid, gid, 0, 0, e);
}

int ext4fs_utimes(struct ext4fs *fs, uint32_t ino, int64_t atime, int64_t mtime, struct err *e)
{
	return change(fs, ino, 2, 0, 0, atime, mtime, e);
}

void ext4fs_info(struct ext4fs *fs, struct ext4fs_info *info)
{
	struct ext2_super_block *s = fs->fs->super;
	info->block_size = fs->fs->blocksize;
	info->blocks = ext2fs_blocks_count(s);
	info->free_blocks = ext2fs_free_blocks_count(s);
	info->inodes = s->s_inodes_count;
	info->free_inodes = s->s_free_inodes_count;
}

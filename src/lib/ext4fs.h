/* ext4fs.h: opens an existing ext2/3/4 image and reads or edits it in place (crumb fs). */
#ifndef CRUMB_EXT4FS_H
#define CRUMB_EXT4FS_H

#include <stddef.h>
#include <stdint.h>

#include "tree.h"
#include "util.h"

/* An open image; opaque. */
struct ext4fs;

enum {
	EXT4FS_OPEN_RW = 1,    /* open for editing (else read-only) */
	EXT4FS_OPEN_FORCE = 2, /* with RW: edit even what ext4fs_write_check refuses */
};
/* Opens path with flags EXT4FS_OPEN_*. A corrupt or truncated image is
 * CRUMB_EFORMAT with a one-line reason, never a crash; features libext2fs
 * cannot read are CRUMB_EUNSUPP naming them. A writable image holds every
 * edit in memory and a scratch file (ext4io.h) until ext4fs_close: until
 * then the image file is not written at all. */
int ext4fs_open(const char *path, int flags, struct ext4fs **out, struct err *e);
/* The times edits write: "now" and, with EXT4FS_PRESERVE, a node's mtime
 * are clamped to epoch when clamp is set (clamp_time; SOURCE_DATE_EPOCH),
 * the superblock's write time included. Default: the clock, own mtimes. */
void ext4fs_set_epoch(struct ext4fs *fs, int64_t epoch, int clamp);
/* Writes the edits into the image (then fsyncs it) and closes; returns an
 * error if that failed (the image may then be partly written). */
int ext4fs_close(struct ext4fs *fs, struct err *e);
/* Closes, dropping every edit: the image file stays byte-identical to what
 * it was at ext4fs_open. What a failed command does. */
void ext4fs_discard(struct ext4fs *fs);

/*
 * Whether fs may be edited: it must be open writable, hold no feature whose
 * state crumb's edits do not keep right (quota, project, bigalloc, mmp,
 * encrypt, casefold, verity, ea_inode, shared_blocks, read-only, any
 * feature unknown here: CRUMB_EUNSUPP naming them), not be marked with
 * errors by the kernel, and pass ext4fs_fsck with no problem
 * (CRUMB_EUNSAFE naming the number and the first one; the check's own
 * CRUMB_EUNSUPP when it cannot check the image). Runs once per open image
 * (milliseconds on a small image; the whole inode table is read); every
 * edit below calls it first, so a damaged image is never written to unless
 * opened with EXT4FS_OPEN_FORCE.
 */
int ext4fs_write_check(struct ext4fs *fs, struct err *e);

/*
 * Reads the subtree at path (a file, or a directory and everything below
 * it) into t at dest. File contents stay in the image: nodes get a
 * tree_reader pointing at fs, which must stay open while t is read.
 * Directory loops, absurd sizes and bad block pointers are CRUMB_EUNSAFE /
 * CRUMB_EFORMAT, never a crash.
 */
int ext4fs_read_tree(struct ext4fs *fs, const char *path, struct tree *t, const char *dest,
		     struct err *e);

/*
 * Everything below works on guest paths resolved inside the image: "."
 * and ".." are handled, ".." stops at the root, and symlinks met in parent
 * components (and in the last one when follow is set) are followed inside
 * the image, never on the host; more than 40 of them is CRUMB_EUNSAFE. A
 * missing path is CRUMB_ENOENT.
 */

/* The inode number at path. */
int ext4fs_lookup(struct ext4fs *fs, const char *path, int follow, uint32_t *ino, struct err *e);

struct ext4fs_stat {
	uint32_t ino;
	enum tree_type type;
	uint32_t mode; /* permission bits (07777) */
	uint32_t uid, gid;
	uint64_t size;	 /* bytes (i_size) */
	uint64_t blocks; /* 512-byte units allocated, as st_blocks */
	uint32_t links;
	int64_t atime, mtime, ctime;
	uint32_t rdev_major, rdev_minor; /* TREE_CHR / TREE_BLK */
};
int ext4fs_stat(struct ext4fs *fs, uint32_t ino, struct ext4fs_stat *st, struct err *e);

/* A directory's entries without "." and "..", sorted by name (bytewise).
 * Names holding '/' or longer than 255 bytes are CRUMB_EFORMAT. *out is
 * malloc'd; free it with ext4fs_dirents_free. */
struct ext4fs_dirent {
	char *name;
	uint32_t ino;
};
int ext4fs_readdir(struct ext4fs *fs, uint32_t dir, struct ext4fs_dirent **out, size_t *n,
		   struct err *e);
void ext4fs_dirents_free(struct ext4fs_dirent *d, size_t n);

/* Reads len bytes of a regular file at off (off + len within its size);
 * holes read as zeros. */
int ext4fs_read(struct ext4fs *fs, uint32_t ino, uint64_t off, void *buf, size_t len,
		struct err *e);
/* A symlink's target (malloc'd, caller frees); checked for length and NULs. */
int ext4fs_readlink(struct ext4fs *fs, uint32_t ino, char **out, struct err *e);
/* Every xattr of ino, as tree xattrs (malloc'd names and values); free with
 * ext4fs_xattrs_free. */
int ext4fs_xattrs(struct ext4fs *fs, uint32_t ino, struct tree_xattr **out, size_t *n,
		  struct err *e);
void ext4fs_xattrs_free(struct tree_xattr *x, size_t n);

/* Edits: the image must be open writable and pass ext4fs_write_check. Each keeps the image
 * consistent (blocks and inodes freed through the bitmaps, link counts kept), so `e2fsck -fn` stays
 * clean after any of them. */

enum {
	EXT4FS_PRESERVE = 1, /* keep the node's mode (incl. setuid), owner, mtime and xattrs;
				otherwise new files get mode & 0777, owner 0:0, mtime now
				(both clamped: ext4fs_set_epoch) */
	EXT4FS_EXCL = 2,     /* fail if path exists (even as a directory) */
};
/*
 * Writes node n (and, for a directory, everything below it) at path.
 * A regular file over an existing regular file rewrites its content in
 * the same inode (its hard links see the new content, like cp); another
 * existing non-directory is replaced; an existing directory receives a
 * directory's children (merge) and is an error for a non-directory.
 * Holes of sparse files are kept; hard links inside n stay hard links.
 * Content is read with tree_read, so n may come from the host, an archive
 * or another image.
 */
int ext4fs_put(struct ext4fs *fs, const char *path, const struct tree_node *n, int flags,
	       struct err *e);
/* Removes path; a directory only when empty, or with everything below it
 * when recursive. The root cannot be removed. */
int ext4fs_remove(struct ext4fs *fs, const char *path, int recursive, struct err *e);
/* rename(2): moves from to to, replacing a non-directory or an empty
 * directory there; a directory cannot move below itself. */
int ext4fs_rename(struct ext4fs *fs, const char *from, const char *to, struct err *e);
/* A hard link at path to the non-directory at target (symlinks not followed). */
int ext4fs_link(struct ext4fs *fs, const char *target, const char *path, struct err *e);
/* Attribute changes on an inode. */
int ext4fs_chmod(struct ext4fs *fs, uint32_t ino, uint32_t mode, struct err *e);
int ext4fs_chown(struct ext4fs *fs, uint32_t ino, uint32_t uid, uint32_t gid, struct err *e);
int ext4fs_utimes(struct ext4fs *fs, uint32_t ino, int64_t atime, int64_t mtime, struct err *e);

/*
 * Checks the image read-only (the code is in ext4check.c), as e2fsck -fn
 * would: group descriptors and checksums; every inode (type, i_size and
 * i_blocks against its extents or block map, extent tree headers, order and
 * lengths, symlinks, i_extra_isize, in-inode and block xattrs); every
 * directory ('.', '..', file types, names, duplicates, htree roots and
 * nodes: levels, limit, count, blocks, hash ranges); that directories form
 * a tree (each named once, none a second name of the root, '..' pointing
 * back, all reachable: no cycle); link counts; the block bitmap against
 * every block claimed (claimed twice, in use but free, free but in use),
 * the inode bitmap against the inodes in use, free counts per group and in
 * the superblock; the journal superblock.
 *
 * Each problem is one line appended to report (at most 50 listed, then a
 * count); *problems gets their number (0: clean). Hostile images cost time
 * bounded by their size: each block is read at most once per pass.
 * Returns 0, or CRUMB_EUNSUPP when the image has features this check does
 * not verify, named in the message ("not fully checked here: features
 * quota"): the rest is still checked and counted, except for bigalloc,
 * where nothing is (*problems 0). Other errors: the check could not run.
 * Write verbs should refuse an image with *problems > 0 or CRUMB_EUNSUPP.
 */
int ext4fs_fsck(struct ext4fs *fs, struct sbuf *report, unsigned *problems, struct err *e);

/* Block size and counts, for du/df-like output. */
struct ext4fs_info {
	uint32_t block_size;
	uint64_t blocks, free_blocks;
	uint32_t inodes, free_inodes;
};
void ext4fs_info(struct ext4fs *fs, struct ext4fs_info *info);

#endif

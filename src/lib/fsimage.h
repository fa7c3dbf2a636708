/* fsimage.h: one handle over an ext2/3/4 image (edited in place) or an archive (read as a tree,
 * a cpio rewritten atomically), the one format probe, and careful extraction to the host. */
#ifndef CRUMB_FSIMAGE_H
#define CRUMB_FSIMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "tree.h"
#include "util.h"

/* ---- the format probe: every "is this an ext image?" in crumb asks here ---- */

enum fsimage_kind {
	FSIMAGE_OTHER, /* none of the below: maybe an archive libarchive reads, maybe junk */
	FSIMAGE_EXT,   /* an ext2/3/4 superblock magic (0xEF53 at byte 1080) */
	FSIMAGE_CPIO,  /* a cpio newc archive ("070701" or "070702" at byte 0) */
	FSIMAGE_GZIP,  /* gzip-compressed (1f 8b): a cpio or a tar */
	FSIMAGE_ZSTD,  /* zstd-compressed (28 b5 2f fd) */
	FSIMAGE_BZIP2, /* bzip2-compressed ("BZh") */
	FSIMAGE_XZ,    /* xz-compressed (fd "7zXZ" 00) */
	FSIMAGE_TAR,   /* an uncompressed ustar/GNU tar ("ustar" at byte 257) */
};

/*
 * Looks at the first bytes of path (at most 1084; the file may be shorter:
 * one cut inside a magic number does not have it) and sets *kind. The checks go in the order of the
 * enum's values below FSIMAGE_EXT, the superblock's magic last: bytes at the start of a file say
 * more than two bytes at 1080 (ext images begin with zeros). Only magic numbers are looked at, so
 * FSIMAGE_EXT is no promise that the image opens, nor FSIMAGE_GZIP that it holds a cpio. Errors:
 * CRUMB_ENOENT / CRUMB_EIO "PATH: why" when it cannot be opened or read, CRUMB_EINVAL "PATH: not a
 * regular file" (a FIFO or a device is never read).
 */
int fsimage_probe(const char *path, enum fsimage_kind *kind, struct err *e);

/* ---- the handle ---- */

/* An open image or archive; opaque. */
struct fsimage;

struct fsimage_opts {
	int rw;	       /* meant for editing (ext: opened writable) */
	int force;     /* with rw: edit even what the write check refuses */
	int64_t epoch; /* SOURCE_DATE_EPOCH: times written are clamped to it ... */
	int clamp;     /* ... when set (clamp_time) */
};

/*
 * Opens path: an ext2/3/4 image through ext4fs (edits held aside until
 * fsimage_close), anything else as an archive import.h reads, with owners
 * kept. An ext image that cannot be opened for editing (o->rw) is opened
 * read-only: it can still be read, and fsimage_ro_reason says why editing
 * it is refused. Bytes that are neither are CRUMB_EFORMAT ("PATH: not an
 * ext2/3/4 image nor an archive crumb reads"), an empty tar too; a
 * truncated archive is import_archive's error naming it. *out is freed by
 * fsimage_close.
 */
int fsimage_open(const char *path, const struct fsimage_opts *o, struct fsimage **out,
		 struct err *e);
/* Rewrites an edited cpio archive (atomically: temp file + rename, with the
 * compression it was read with; mtimes kept). Nothing for an ext image or an
 * unedited archive. Call it for every archive before closing any ext image:
 * the archive's new content may be read from one. */
int fsimage_flush(struct fsimage *im, struct err *e);
/* Closes im. With commit, an ext image's edits are written (then fsync'd;
 * an error here may leave it partly written); without, they are dropped and
 * the image file stays byte-identical. An archive is never written here. */
int fsimage_close(struct fsimage *im, int commit, struct err *e);

/* FSIMAGE_EXT, or what the probe saw of an archive (FSIMAGE_OTHER for a tar
 * it did not name, a .deb, ...). */
enum fsimage_kind fsimage_kind(const struct fsimage *im);
/* 1 for an archive read as cpio (so it can be edited and rewritten). */
int fsimage_is_cpio(const struct fsimage *im);
/* The path it was opened with. */
const char *fsimage_path(const struct fsimage *im);
/* Why an image opened with o->rw could not be opened for editing, or NULL. */
const char *fsimage_ro_reason(const struct fsimage *im);
/* Whether im may be edited: an ext image's ext4fs_write_check (CRUMB_EUNSAFE
 * for problems found, the check's other codes; not with o->force), an
 * archive that is no cpio is CRUMB_EUNSUPP "PATH: only cpio archives can be
 * edited". */
int fsimage_write_check(struct fsimage *im, struct err *e);

/* ---- reading ---- */

/* A file's metadata wherever it lives. link and x are owned by the entry
 * (fsimage_ent_release frees them). For an archive, ino is a stable id
 * (the hard-link group, else the node) and blocks the size in 512-byte
 * units; links count the names of a hard-linked file. */
struct fsimage_ent {
	enum tree_type type;
	uint32_t mode, uid, gid, links;
	uint64_t size, blocks, ino;
	int64_t mtime;
	uint32_t major, minor;
	char *link;
	struct tree_xattr *x;
	size_t nx;
	int own_x;
};
void fsimage_ent_release(struct fsimage_ent *s);

/* A place in an image, found once (walks go by it, never by path again). */
struct fsimage_at {
	struct fsimage *im;
	uint32_t ino;		/* ext */
	struct tree_node *node; /* archive */
};

/* The place at path (symlinks resolved inside the image; the last one too
 * with follow). Missing: CRUMB_ENOENT, "IMAGE:PATH: no such file or
 * directory" for an archive, ext4fs's message for an image. */
int fsimage_resolve(struct fsimage *im, const char *path, int follow, struct fsimage_at *p,
		    struct err *e);
/* Its entry; the symlink target only with want_link; no xattrs. */
int fsimage_at_ent(const struct fsimage_at *p, int want_link, struct fsimage_ent *s, struct err *e);
/* The entry at path with its symlink target and xattrs. */
int fsimage_stat(struct fsimage *im, const char *path, int follow, struct fsimage_ent *s,
		 struct err *e);
/* 1 when path (symlinks followed) is a directory in im. */
int fsimage_is_dir(struct fsimage *im, const char *path);
/* Reads len bytes of the regular file at p from off (within its size). */
int fsimage_read(const struct fsimage_at *p, uint64_t off, void *buf, size_t len, struct err *e);
/* Disk use of an entry of im in KiB: allocated blocks for ext, the size
 * rounded up for an archive. */
uint64_t fsimage_kib(const struct fsimage *im, const struct fsimage_ent *s);

/* A directory's entries, sorted by name, each with its place. */
struct fsimage_dir {
	size_t n;
	const char **name;
	struct fsimage_at *at;
	void *priv;
};
int fsimage_readdir(const struct fsimage_at *p, struct fsimage_dir *d, struct err *e);
void fsimage_dir_release(struct fsimage_dir *d);

/*
 * One recursive walk (ls -R, du): fsimage_walk_enter before reading each
 * directory refuses a directory met twice (a loop, or a directory with two
 * names: either would make the walk endless or count twice) and nesting
 * past 512, naming shown. fsimage_walk_first says whether a hard-linked
 * file's id is met for the first time (du counts it once).
 */
struct fsimage_walk {
	uint8_t *seen;
	uint32_t max;
	struct u64map *links;
};
void fsimage_walk_init(struct fsimage_walk *w, struct fsimage *im);
int fsimage_walk_enter(struct fsimage_walk *w, const struct fsimage_at *p, const char *shown,
		       int depth, struct err *e);
int fsimage_walk_first(struct fsimage_walk *w, uint64_t id);
void fsimage_walk_release(struct fsimage_walk *w);

/* Puts the subtree at path (a symlink there followed) into t at dest, as a
 * copy a writer can take: file contents stay in im (im must outlive t's use). */
int fsimage_read_tree(struct fsimage *im, const char *path, struct tree *t, const char *dest,
		      struct err *e);

/* ---- editing: each first needs fsimage_write_check to pass (the caller's job) ---- */

/*
 * Writes n (and below) at path; "/" or "" receives a directory's children.
 * Regular files over regular files are rewritten, a directory merges into a
 * directory, other mixes are errors. preserve keeps mode (setuid incl.),
 * owner, mtime and xattrs (times clamped); otherwise mode & 0777, owner 0:0,
 * mtime now. A cpio cannot hold a file of 4 GiB or more (CRUMB_EUNSUPP).
 * For an archive, n's mtimes are clamped in place.
 */
int fsimage_put(struct fsimage *im, const char *path, const struct tree_node *n, int preserve,
		struct err *e);

/* In the calls below, shown is the name messages give the path (what the
 * user typed: "disk.cpio:/etc"). */

/* Removes path (a non-empty directory only with recursive). Missing:
 * CRUMB_ENOENT (rm -f ignores it). The root is refused. */
int fsimage_remove(struct fsimage *im, const char *path, int recursive, const char *shown,
		   struct err *e);
/* Makes the directory path (0755, 0:0, now); with parents, missing parents
 * too, and an existing directory is fine. */
int fsimage_mkdir(struct fsimage *im, const char *path, int parents, const char *shown,
		  struct err *e);
/* A symlink at path to target (verbatim); path must not exist. */
int fsimage_symlink(struct fsimage *im, const char *target, const char *path, const char *shown,
		    struct err *e);
/* A hard link at path to the non-directory at target (both in im). */
int fsimage_link(struct fsimage *im, const char *target, const char *path, const char *shown,
		 const char *shown_target, struct err *e);
/* rename(2) inside im: replaces a non-directory or an empty directory; a
 * directory cannot move below itself. */
int fsimage_rename(struct fsimage *im, const char *from, const char *to, struct err *e);
/* chmod (mode 07777) / chown of path, symlinks followed; keep_gid leaves
 * the group as it is. */
int fsimage_chmod(struct fsimage *im, const char *path, uint32_t mode, const char *shown,
		  struct err *e);
int fsimage_chown(struct fsimage *im, const char *path, uint32_t uid, uint32_t gid, int keep_gid,
		  const char *shown, struct err *e);

/* ---- checking ---- */

struct fsimage_fsck {
	unsigned problems;	      /* ext: the number found (their lines in report) */
	struct sbuf report;	      /* ext: one line per problem; the caller releases it */
	uint32_t inodes, free_inodes; /* ext, when clean */
	uint64_t blocks, free_blocks;
	uint64_t entries; /* archive: its entries, the root not counted */
};
/* ext: ext4fs_fsck (its return: 0, CRUMB_EUNSUPP "not fully checked", or an
 * error; problems and report are set either way). An archive that opened
 * is clean (0). f->report must be initialised (SBUF_INIT). */
int fsimage_fsck(struct fsimage *im, struct fsimage_fsck *f, struct err *e);

/* ---- extraction to the host ---- */

/*
 * Writes n (and below) to the host at dest: "DIR/NAME" creates NAME in the
 * existing directory DIR (the one the user named, symlinks in DIR itself
 * followed as named); "DIR/" with a directory n merges n's children into
 * DIR. Below DIR nothing is ever followed: every file is made with
 * openat(O_CREAT|O_EXCL|O_NOFOLLOW) under a directory fd, an existing
 * non-directory is unlinked first (never written through), an existing
 * directory is merged into only if it is a real directory, and a name
 * holding '/', "." or ".." is refused. Hard links inside n stay hard links.
 * preserve keeps setuid bits, owner (EPERM ignored: not root) and mtimes;
 * otherwise files get mode & 0777 and the current time. Nesting past 512
 * is CRUMB_EUNSAFE. On error, what was written before it stays.
 */
int fsimage_extract(const struct tree_node *n, const char *dest, int preserve, struct err *e);

#endif

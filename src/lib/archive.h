/* archive.h: writes the tree as a cpio (newc) initramfs through libarchive. */
#ifndef CRUMB_ARCHIVE_H
#define CRUMB_ARCHIVE_H

#include <stdint.h>

#include "tree.h"

enum compress { COMPRESS_NONE, COMPRESS_GZIP, COMPRESS_ZSTD };

/* Parses "none", "gzip", "zstd"; CRUMB_EINVAL otherwise. */
int compress_parse(const char *s, enum compress *out, struct err *e);
const char *compress_name(enum compress c);

struct cpio_opts {
	enum compress compress;
	int64_t epoch; /* SOURCE_DATE_EPOCH */
	int clamp;     /* 1: entry mtimes newer than epoch are written as epoch (clamp_time);
			  0: each node's own mtime */
	int level;     /* zstd's compression level (1..19; 0: libarchive's default, 3); one
			  thread whatever the level: the same tree, the same bytes. A set level
			  caps the window at 2^ZSTDIO_INITRD_WLOG (the guest's unpack buffer) */
};

/*
 * Writes every node of t (the root as ".") as a newc cpio archive at
 * out_path, in the tree's sorted walk order, with inode numbers assigned in
 * that order and no host device numbers, so the same tree always gives the
 * same bytes. Entry mtimes are the nodes' own, clamped as o says (newc
 * holds 0 .. 2^32-1: a time before 1970 is written as 0, one after 2106 as
 * 2^32-1).
 * Ownership comes from the nodes (root:root unless set); names of
 * one hard-link group share an inode number, the data going with the last.
 * Sparse files are written in full (newc has no holes). The file appears
 * atomically (temp file + rename). A host file that shrank since it was
 * added to the tree is an error naming it.
 */
int cpio_write(struct tree *t, const char *out_path, const struct cpio_opts *o, struct err *e);

/* Sums the sizes of the members of the archive at path (any compression
 * libarchive reads): what unpacking it will take. */
int archive_content_size(const char *path, uint64_t *bytes, struct err *e);
/* The same, reading the archive through v (vread.h: hashed as it is read). A
 * failed check of v is its own error (e.g. "... does not match its digest");
 * the caller calls vread_finish after, for the bytes past the archive's end. */
struct vread;
int archive_content_size_vread(struct vread *v, uint64_t *bytes, struct err *e);

/* libarchive reading through v (vread.h) instead of a file: a has its formats
 * and filters set; returns archive_read_open's status. There is no skip
 * callback, so every byte passes v's hash. *out (always set) goes to
 * archive_vsrc_end after archive_read_free(a). */
struct archive;
struct archive_vsrc;
int archive_open_vread(struct archive *a, struct vread *v, struct archive_vsrc **out);
/* Frees s (NULL is fine). With finish, the bytes past the archive's end are
 * read and the digest checked (vread_finish). Returns 0, or v's own error
 * when its check failed: that error wins over what the bytes looked like. */
int archive_vsrc_end(struct archive_vsrc *s, int finish, struct err *e);

#endif

/* ext4.h: writes the tree as an ext4 (or ext2) image through libext2fs, reproducibly. */
#ifndef CRUMB_EXT4_H
#define CRUMB_EXT4_H

#include <stdint.h>

#include "tree.h"

struct ext4_opts {
	int ext2;	   /* 1: ext2 (no journal, no extents); 0: ext4 */
	uint64_t size;	   /* image size in bytes; 0: automatic (see ext4_auto_size) */
	uint64_t inodes;   /* inode count; 0: automatic (fits the tree plus a margin) */
	const char *label; /* volume label (<= 16 bytes) or NULL */
	int64_t epoch;	   /* SOURCE_DATE_EPOCH: superblock/journal/lost+found times */
	int clamp;	   /* 1: node mtimes newer than epoch are written as epoch
			      (clamp_time); 0: node mtimes are kept */
};

/* The size an automatic image gets for t: content + metadata + the margin
 * documented in ext4.c, rounded up to a whole MiB. */
uint64_t ext4_auto_size(const struct tree *t, const struct ext4_opts *o);

/*
 * Writes every node of t into a new image at out_path (atomically: temp +
 * rename): regular files (holes of sparse files kept), directories,
 * symlinks (fast and slow), hard links, devices, FIFOs, sockets, any
 * uid/gid/mode, xattrs, mtimes. UUID and directory hash seed derive from a
 * digest of the content, inodes and blocks are allocated in the tree's walk
 * order, so the same tree always gives the same bytes. A tree that does not
 * fit the given size is CRUMB_EINVAL naming the shortfall.
 */
int ext4_write(struct tree *t, const char *out_path, const struct ext4_opts *o, struct err *e);

#endif

/* ext4fs_int.h: the open-image handle shared by ext4fs.c and ext4check.c; not a public API. */
#ifndef CRUMB_EXT4FS_INT_H
#define CRUMB_EXT4FS_INT_H

#include <ext2fs/ext2_fs.h>
#include <ext2fs/ext2fs.h>

#include "ext4fs.h"

struct ext4fs {
	ext2_filsys fs;
	char *path;
	int writable;
	int force;	   /* EXT4FS_OPEN_FORCE: write without ext4fs_write_check */
	int checked;	   /* ext4fs_write_check ran: 1 passed, else its error code */
	char *refusal;	   /* its message when it failed */
	uint64_t max_size; /* the largest file size this block size can address */
	struct tree_reader reader;
	/* The last file read through ext4fs_read stays open: trees are read in chunks. */
	ext2_file_t file;
	ext2_ino_t file_ino;
	int64_t epoch; /* ext4fs_set_epoch */
	int clamp;
};

/*
 * Appends the names of the feature bits set in compat/incompat/ro_compat,
 * space-separated, to out ("FEATURE_I17" style for bits without a name).
 * Used to name what an image has that crumb does not support or check.
 */
void ext4fs_feature_names(uint32_t compat, uint32_t incompat, uint32_t ro_compat, struct sbuf *out);

#endif

/* ext4io.h: a libext2fs io_manager that holds every write aside until the edit is committed. */
#ifndef CRUMB_EXT4IO_H
#define CRUMB_EXT4IO_H

#include <et/com_err.h>
#include <ext2fs/ext2_io.h>

/*
 * Pass ext4io_manager to ext2fs_open2 instead of unix_io_manager. Reads see
 * the image file with the edits made so far laid over it; writes never reach
 * the file: they go to an unlinked scratch file (next to the image, else in
 * the ext4io_set_tmpdir directory), so memory stays small however much is written. Only
 * ext4io_commit() copies them into the image (then fsyncs it); closing the
 * channel without it drops them, so an edit that fails half-way leaves the
 * image byte-identical to before.
 *
 * The image file must not change under us (it is opened once, read with
 * pread). Any offset and length is accepted (libext2fs writes the
 * superblock with a 1024-byte block size); the file is never truncated, and
 * grows only if an edit wrote past its end.
 */
extern io_manager ext4io_manager;

/* The directory for scratch files when the image's own cannot hold one:
 * hostenv's tmpdir (TMPDIR); NULL or empty: /tmp. Process-wide, since an
 * io_manager takes no options at open: cmd/ sets it once, before editing.
 * dir is not copied and must outlive every channel (hostenv's strings do). */
void ext4io_set_tmpdir(const char *dir);

/* Writes every held write into the image, in offset order, and fsyncs it; the
 * held writes are then dropped. A write-back error (the host disk full under
 * a sparse image) can leave part of them written: the errno is returned. */
errcode_t ext4io_commit(io_channel ch);

/* Bytes held for the image so far (what a commit would write). */
unsigned long long ext4io_held(io_channel ch);

/* Registers libext2fs's com_err message table, so error_message() names its
 * codes; idempotent. Everything that opens or makes an image calls it first. */
void ext4io_errors_init(void);

#endif

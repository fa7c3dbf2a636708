/* zstdio.h: zstd frames through libzstd: reproducible compression of a buffer, and bounded
 * streaming decompression of bytes another party controls (an image's kernel layer). */
#ifndef CRUMB_ZSTDIO_H
#define CRUMB_ZSTDIO_H

#include <stdint.h>
#include <sys/types.h>

#include "util.h"

/* The level crumb stores kernels at: ~8x on a vmlinux, decompressed at several hundred MB/s. */
#define ZSTDIO_LEVEL 19

/*
 * Compresses len bytes of in into one zstd frame appended to out, at level, on one thread,
 * with the content size and a checksum in the frame header: the same input, level and
 * libzstd give the same bytes (no worker threads, no time, no dictionary).
 * CRUMB_EIO with libzstd's reason when it fails.
 */
int zstdio_compress(const void *in, size_t len, int level, struct sbuf *out, struct err *e);

/* The window an initramfs crumb writes is compressed with (2 MiB, what level 3 uses): the guest
 * kernel allocates it to unpack, and level 19's own (up to 8 MiB) left the sshd example's
 * busybox variant deadlocked on memory at -m 32M. */
#define ZSTDIO_INITRD_WLOG 21

/*
 * Compresses the file in_fd reads (size bytes, read to its end) into one zstd frame written
 * to out_fd: at level, with a window of at most 2^wlog bytes (0: the level's), on one thread,
 * the content size and a checksum in the header; reproducible as zstdio_compress. name (the
 * input's) for messages. CRUMB_EIO when reading, libzstd or writing fails, or the file does
 * not hold size bytes.
 */
int zstdio_compress_fd(int in_fd, uint64_t size, int out_fd, int level, int wlog, const char *name,
		       struct err *e);

/* Where decompression reads from: like read(2) (> 0 bytes, 0 at the end, negative is an
 * error already in e). vread_read fits. */
typedef ssize_t (*zstdio_read_fn)(void *ctx, void *buf, size_t n, struct err *e);
/* Where the decompressed bytes go: 0, or negative with e filled. */
typedef int (*zstdio_write_fn)(void *ctx, const void *buf, size_t n, struct err *e);

/*
 * Decompresses the zstd frames rd gives (one or more, concatenated) to wr, *total getting the
 * byte count. Hostile input: libzstd checks every frame (and its checksum when present); a
 * window larger than 128 MiB is refused before any allocation for it; more than max
 * decompressed bytes is CRUMB_EUNSAFE; input that is not zstd, is damaged, or ends inside a
 * frame is CRUMB_EFORMAT ("name: not zstd data: ..." / "... ends inside a zstd frame"), name
 * being what the caller gives for messages. Bytes passed to wr before an error are
 * unverified: the caller discards them.
 */
int zstdio_decompress(zstdio_read_fn rd, void *rctx, zstdio_write_fn wr, void *wctx, uint64_t max,
		      const char *name, uint64_t *total, struct err *e);

/* 1 when buf starts with a zstd frame's magic number. */
int zstdio_magic(const void *buf, size_t len);

#endif

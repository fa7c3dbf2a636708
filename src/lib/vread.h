/* vread.h: verified reads: a file must hold exactly the bytes a sha256 digest and a size name,
 * checked while it is read (one pass, no second read to verify). */
#ifndef CRUMB_VREAD_H
#define CRUMB_VREAD_H

#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include "util.h"

/* A size to check when none is known (a build cache entry names only a digest):
 * the file's own size is taken, and the digest alone vouches for the bytes. */
#define VREAD_SIZE_ANY UINT64_MAX

/*
 * One open file being read and hashed. Every member is owned by the struct;
 * vread_close releases them: call it after every vread_open, whatever it
 * returned (calling it twice is harmless).
 *
 * Hostile files: the file is opened with O_NOFOLLOW and O_NONBLOCK, so a
 * symlink put in its place is refused (CRUMB_EFORMAT "... is a symbolic
 * link"), and so is a FIFO or device (not a regular file); its size is
 * checked with fstat before any byte is read (a truncated or grown file is
 * CRUMB_EFORMAT saying both sizes). The digest is compared when the reader
 * reaches the end: the last read returns CRUMB_EFORMAT instead of 0 when the
 * bytes do not match ("content does not match its digest"). Bytes returned
 * before that are unverified: a caller discards what it built from them
 * when any read or vread_finish fails. The file growing or shrinking while
 * it is read is caught the same way (size counted, digest compared).
 *
 * Messages are one line: "NAME: WHAT", NAME being what the caller gave
 * (e.g. "image a:latest: blob /store/blobs/sha256/HEX").
 */
struct vread {
	int fd;		       /* -1 when closed */
	char *name;	       /* for messages */
	struct stat st;	       /* fstat at open (dev, ino, times: the verification cache key) */
	struct timespec began; /* CLOCK_REALTIME just before that fstat */
	char want[65];	       /* expected hex digest */
	uint64_t want_size;    /* expected size (set from st when opened with VREAD_SIZE_ANY) */
	uint64_t got;	       /* bytes read so far */
	void *md;	       /* the running hash (EVP_MD_CTX); NULL when not hashing */
	int checked;	       /* 1 once the end was reached (and the digest matched) */
	int verified;	       /* 1 once the digest was compared and matched */
};

/* Opens path to be read against digest ("sha256:" + 64 hex) and size.
 * name (copied) prefixes messages; NULL: the path. hash = 0 opens it with the
 * same checks but does not hash (a caller that knows the file is good: the
 * digest is then not compared). CRUMB_ENOENT when missing ("NAME is missing"). */
int vread_open(struct vread *v, const char *path, const char *digest, uint64_t size,
	       const char *name, int hash, struct err *e);
/* Stops hashing: the caller knows from elsewhere that the file is good (its
 * verification cache). Sizes are still counted. */
void vread_trust(struct vread *v);
/* Reads up to n bytes like read(2), hashing them: > 0 bytes, 0 at the end
 * once the size and digest matched, negative (CRUMB_EIO / CRUMB_EFORMAT). */
ssize_t vread_read(struct vread *v, void *buf, size_t n, struct err *e);
/* Reads (and hashes) whatever is left and checks it; 0 when the whole file
 * is good. Calling it again after success is cheap and returns 0. */
int vread_finish(struct vread *v, struct err *e);
void vread_close(struct vread *v);

/* open + finish + close: checks a whole file. */
int vread_check(const char *path, const char *digest, uint64_t size, const char *name,
		struct err *e);

/* Incremental SHA-256 (for bytes crumb copies out of an archive member). */
struct sha256 {
	void *md;
};
void sha256_begin(struct sha256 *h);
void sha256_update(struct sha256 *h, const void *data, size_t len);
/* Writes the hex digest (65 bytes with NUL) and releases h. */
void sha256_end(struct sha256 *h, char hex[65]);

#endif

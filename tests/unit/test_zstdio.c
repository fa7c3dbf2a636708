/* test_zstdio.c: zstd compression is reproducible and decompression of hostile bytes is bounded,
 * checked against the zstd command-line tool where it is installed. */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_getFrameHeader */
#include <zstd.h>

#include "lib/zstdio.h"
#include "tap.h"

struct src {
	const unsigned char *p;
	size_t len, at, chunk;
};

static ssize_t src_read(void *ctx, void *buf, size_t n, struct err *e)
{
	struct src *s = ctx;
	size_t k = s->len - s->at;
	if (k > n)
		k = n;
	if (s->chunk && k > s->chunk)
		k = s->chunk;
	memcpy(buf, s->p + s->at, k);
	s->at += k;
	return (ssize_t)k;
}

static int sink(void *ctx, const void *buf, size_t n, struct err *e)
{
	sb_add(ctx, buf, n);
	return 0;
}

/* Decompresses len bytes (fed chunk bytes at a time; 0: as much as asked) into out. */
static int unz(const void *p, size_t len, size_t chunk, uint64_t max, struct sbuf *out,
	       struct err *e)
{
	struct src s = {p, len, 0, chunk};
	uint64_t total = 0;
	sb_reset(out);
	int r = zstdio_decompress(src_read, &s, sink, out, max, "t", &total, e);
	if (r == 0 && total != out->len)
		r = -100;
	return r;
}

int main(void)
{
	struct err e = {0};
	struct sbuf z = SBUF_INIT, z2 = SBUF_INIT, out = SBUF_INIT, in = SBUF_INIT;
	/* 3 MiB: text, zeros and pseudo-random bytes, so output comes in several buffers */
	for (unsigned i = 0, x = 1; i < 3u << 20; i++) {
		x = x * 1103515245 + 12345;
		sb_addc(&in, i < (1u << 20)   ? "crumb kernel "[i % 13]
			     : i < (2u << 20) ? 0
					      : (char)(x >> 16));
	}
	ok(zstdio_compress(in.buf, in.len, 3, &z, &e) == 0, "compress: %s", e.msg);
	ok(zstdio_magic(z.buf, z.len) && !zstdio_magic("\177ELF", 4), "zstd magic");
	ok(zstdio_compress(in.buf, in.len, 3, &z2, &e) == 0 && z.len == z2.len &&
	       !memcmp(z.buf, z2.buf, z.len),
	   "the same input gives the same bytes");
	ok(unz(z.buf, z.len, 0, UINT64_MAX, &out, &e) == 0 && out.len == in.len &&
	       !memcmp(out.buf, in.buf, in.len),
	   "round trip: %s", e.msg);
	ok(unz(z.buf, z.len, 7, UINT64_MAX, &out, &e) == 0 && out.len == in.len &&
	       !memcmp(out.buf, in.buf, in.len),
	   "round trip fed 7 bytes at a time");
	ok(unz(z.buf, z.len, 0, in.len, &out, &e) == 0, "a limit of exactly the size passes");
	ok(unz(z.buf, z.len, 0, in.len - 1, &out, &e) == CRUMB_EUNSAFE &&
	       strstr(e.msg, "more than"),
	   "one byte over the limit is refused: %s", e.msg);
	ok(unz(z.buf, z.len - 5, 0, UINT64_MAX, &out, &e) == CRUMB_EFORMAT &&
	       strstr(e.msg, "ends inside"),
	   "a truncated frame is refused: %s", e.msg);
	sb_add(&z2, z.buf, z.len);
	ok(unz(z2.buf, z2.len, 0, UINT64_MAX, &out, &e) == 0 && out.len == 2 * in.len,
	   "two frames back to back decompress to both");
	z2.len = z.len;
	z2.buf[z.len / 2] ^= 0x40;
	ok(unz(z2.buf, z2.len, 0, UINT64_MAX, &out, &e) == CRUMB_EFORMAT,
	   "a flipped byte is refused (frame checksum): %s", e.msg);
	ok(unz("\177ELF\2\1\1", 7, 0, UINT64_MAX, &out, &e) == CRUMB_EFORMAT &&
	       strstr(e.msg, "not zstd data"),
	   "not zstd: %s", e.msg);
	ok(unz("", 0, 0, UINT64_MAX, &out, &e) == CRUMB_EFORMAT, "empty input: %s", e.msg);
	/* a frame header asking for a 2 GiB window (windowLog 31) */
	const unsigned char big[] = {0x28, 0xb5, 0x2f, 0xfd, 0x00, 0xd8, 0, 0, 0, 0, 0, 0};
	ok(unz(big, sizeof(big), 0, UINT64_MAX, &out, &e) == CRUMB_EFORMAT,
	   "a window over 128 MiB is refused before it is allocated: %s", e.msg);
	/* an independent decoder reads what zstdio_compress writes */
	if (access("/usr/bin/zstd", X_OK) == 0) {
		char dir[] = "/tmp/crumb-zstdio.XXXXXX", *p = NULL;
		ok(mkdtemp(dir) != NULL, "tmpdir");
		p = xasprintf("%s/a.zst", dir);
		char *q = xasprintf("%s/a", dir);
		ok(write_file_atomic(p, z.buf, z.len, 0644, &e) == 0 &&
		       write_file_atomic(q, in.buf, in.len, 0644, &e) == 0 &&
		       sh("zstd -q -t %s && zstd -q -dc %s | cmp -s - %s", p, p, q) == 0,
		   "zstd(1) tests and decompresses our frame to the input");
		free(q);
		sh("rm -rf %s", dir);
		free(p);
	}
	/* a file into a file, the window capped (an initramfs the guest unpacks) */
	{
		char dir[] = "/tmp/crumb-zstdfd.XXXXXX";
		ok(mkdtemp(dir) != NULL, "tmpdir");
		char *a = xasprintf("%s/a", dir), *b = xasprintf("%s/a.zst", dir);
		struct sbuf fz = SBUF_INIT, fz2 = SBUF_INIT;
		write_file_atomic(a, in.buf, in.len, 0644, &e);
		for (int k = 0; k < 2; k++) {
			int i = open(a, O_RDONLY), o = open(b, O_WRONLY | O_CREAT | O_TRUNC, 0644);
			ok(zstdio_compress_fd(i, in.len, o, 19, ZSTDIO_INITRD_WLOG, "a", &e) == 0,
			   "zstdio_compress_fd at level 19, window 2^%d: %s", ZSTDIO_INITRD_WLOG,
			   e.msg);
			close(i);
			close(o);
			read_file(b, 64u << 20, k ? &fz2 : &fz, &e);
		}
		ok(fz.len && fz.len == fz2.len && !memcmp(fz.buf, fz2.buf, fz.len),
		   "... twice: the same bytes");
		ZSTD_frameHeader h;
		ok(ZSTD_getFrameHeader(&h, fz.buf, fz.len) == 0 &&
		       h.windowSize <= (1ull << ZSTDIO_INITRD_WLOG) &&
		       h.frameContentSize == in.len && h.checksumFlag,
		   "... its window is at most 2 MiB (%llu), with the content size and a checksum",
		   (unsigned long long)h.windowSize);
		ok(unz(fz.buf, fz.len, 0, UINT64_MAX, &out, &e) == 0 && out.len == in.len &&
		       !memcmp(out.buf, in.buf, in.len),
		   "... round trip");
		int i = open(a, O_RDONLY), o = open(b, O_WRONLY | O_TRUNC);
		ok(zstdio_compress_fd(i, in.len + 1, o, 3, 0, "a", &e) == CRUMB_EIO &&
		       strstr(e.msg, "not the"),
		   "a file shorter than said is an error: %s", e.msg);
		close(i);
		close(o);
		sb_release(&fz);
		sb_release(&fz2);
		sh("rm -rf %s", dir);
		free(a);
		free(b);
	}
	sb_release(&z);
	sb_release(&z2);
	sb_release(&out);
	sb_release(&in);
	return done_testing();
}

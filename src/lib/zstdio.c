/* zstdio.c: zstd frames through libzstd: reproducible compression, bounded decompression. */
#include "zstdio.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

/* 2^27: libzstd's own default limit for decompression, written out so it cannot drift. */
#define WINDOW_LOG_MAX 27

int zstdio_magic(const void *buf, size_t len)
{
	static const unsigned char magic[4] = {0x28, 0xb5, 0x2f, 0xfd};
	return len >= 4 && !memcmp(buf, magic, 4);
}

int zstdio_compress(const void *in, size_t len, int level, struct sbuf *out, struct err *e)
{
	ZSTD_CCtx *c = ZSTD_createCCtx();
	if (!c)
		return err_set(e, CRUMB_EIO, "zstd: cannot make a compression context");
	size_t bound = ZSTD_compressBound(len), n;
	ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level);
	ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
	ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, 1);
	ZSTD_CCtx_setParameter(c, ZSTD_c_nbWorkers, 0);
	sb_grow(out, bound);
	n = ZSTD_compress2(c, out->buf + out->len, bound, in, len);
	ZSTD_freeCCtx(c);
	if (ZSTD_isError(n))
		return err_set(e, CRUMB_EIO, "zstd: %s", ZSTD_getErrorName(n));
	out->len += n;
	out->buf[out->len] = 0;
	return 0;
}

static int write_all(int fd, const void *buf, size_t n, const char *name, struct err *e)
{
	for (const char *p = buf; n;) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return err_errno(e, CRUMB_EIO, "write the compressed %s", name);
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int zstdio_compress_fd(int in_fd, uint64_t size, int out_fd, int level, int wlog, const char *name,
		       struct err *e)
{
	ZSTD_CCtx *c = ZSTD_createCCtx();
	if (!c)
		return err_set(e, CRUMB_EIO, "zstd: cannot make a compression context");
	ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level);
	if (wlog)
		ZSTD_CCtx_setParameter(c, ZSTD_c_windowLog, wlog);
	ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
	ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, 1);
	ZSTD_CCtx_setParameter(c, ZSTD_c_nbWorkers, 0);
	ZSTD_CCtx_setPledgedSrcSize(c, size);
	size_t isz = ZSTD_CStreamInSize(), osz = ZSTD_CStreamOutSize();
	unsigned char *ibuf = xmalloc(isz), *obuf = xmalloc(osz);
	uint64_t got = 0;
	int r = 0, last = 0;
	while (r == 0 && !last) {
		ssize_t n = read(in_fd, ibuf, isz);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = err_errno(e, CRUMB_EIO, "read %s", name);
			break;
		}
		got += (uint64_t)n;
		last = n == 0;
		if (got > size || (last && got != size)) {
			r = err_set(e, CRUMB_EIO, "%s: %llu bytes, not the %llu expected", name,
				    (unsigned long long)got, (unsigned long long)size);
			break;
		}
		ZSTD_inBuffer in = {ibuf, (size_t)n, 0};
		size_t left;
		do {
			ZSTD_outBuffer out = {obuf, osz, 0};
			left =
			    ZSTD_compressStream2(c, &out, &in, last ? ZSTD_e_end : ZSTD_e_continue);
			if (ZSTD_isError(left)) {
				r = err_set(e, CRUMB_EIO, "zstd: %s", ZSTD_getErrorName(left));
				break;
			}
			r = write_all(out_fd, obuf, out.pos, name, e);
		} while (r == 0 && (last ? left != 0 : in.pos < in.size));
	}
	free(ibuf);
	free(obuf);
	ZSTD_freeCCtx(c);
	return r;
}

struct dstate {
	ZSTD_DCtx *d;
	zstdio_write_fn wr;
	void *wctx;
	uint64_t max, total;
	const char *name;
	unsigned char *obuf;
	size_t olen;
};

/* One call into libzstd; what comes out goes to the writer. *hint: 0 when a frame just ended. */
static int step(struct dstate *s, ZSTD_inBuffer *in, size_t *hint, size_t *got, struct err *e)
{
	ZSTD_outBuffer out = {s->obuf, s->olen, 0};
	size_t at = in->pos, h = ZSTD_decompressStream(s->d, &out, in);
	if (ZSTD_isError(h))
		return err_set(e, CRUMB_EFORMAT, "%s: not zstd data: %s", s->name,
			       ZSTD_getErrorName(h));
	if (in->pos != at || out.pos) /* a call that did nothing says what a next frame needs */
		*hint = h;
	*got = out.pos;
	if (out.pos > s->max - s->total)
		return err_set(e, CRUMB_EUNSAFE, "%s: decompresses to more than %llu bytes",
			       s->name, (unsigned long long)s->max);
	s->total += out.pos;
	return out.pos ? s->wr(s->wctx, s->obuf, out.pos, e) : 0;
}

/* Feeds one buffer of input, then lets libzstd flush what it holds back (a full output
 * buffer leaves bytes inside it). */
static int feed(struct dstate *s, const void *buf, size_t n, size_t *hint, struct err *e)
{
	ZSTD_inBuffer in = {buf, n, 0};
	size_t got = 0;
	int r = 0;
	while (r == 0 && (in.pos < in.size || got == s->olen))
		r = step(s, &in, hint, &got, e);
	return r;
}

int zstdio_decompress(zstdio_read_fn rd, void *rctx, zstdio_write_fn wr, void *wctx, uint64_t max,
		      const char *name, uint64_t *total, struct err *e)
{
	struct dstate s = {.d = ZSTD_createDCtx(),
			   .wr = wr,
			   .wctx = wctx,
			   .max = max,
			   .name = name ? name : "zstd data",
			   .olen = ZSTD_DStreamOutSize()};
	size_t ilen = ZSTD_DStreamInSize(), hint = 1;
	unsigned char *ibuf = xmalloc(ilen);
	int r = 0, any = 0;
	s.obuf = xmalloc(s.olen);
	if (!s.d) {
		r = err_set(e, CRUMB_EIO, "zstd: cannot make a decompression context");
		goto out;
	}
	ZSTD_DCtx_setParameter(s.d, ZSTD_d_windowLogMax, WINDOW_LOG_MAX);
	for (;;) {
		ssize_t n = rd(rctx, ibuf, ilen, e);
		if (n < 0) {
			r = (int)n;
			goto out;
		}
		if (n == 0)
			break;
		any = 1;
		if ((r = feed(&s, ibuf, (size_t)n, &hint, e)) < 0)
			goto out;
	}
	if (!any)
		r = err_set(e, CRUMB_EFORMAT, "%s: not zstd data: empty", s.name);
	else if (hint)
		r = err_set(e, CRUMB_EFORMAT, "%s: ends inside a zstd frame", s.name);
out:
	*total = s.total;
	ZSTD_freeDCtx(s.d);
	free(ibuf);
	free(s.obuf);
	return r;
}

/* zstdio.c: zstd frames through libzstd: reproducible compression, bounded decompression. */
#include "zstdio.h"

#include <stdlib.h>
#include <string.h>
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

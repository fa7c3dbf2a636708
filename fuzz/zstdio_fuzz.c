/* zstdio_fuzz.c: libFuzzer target: any bytes as a kernel layer to decompress (zstdio_decompress),
 * whole and in pieces; both must agree, and the output never passes the limit. */
#include <stdint.h>
#include <string.h>

#include "lib/zstdio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define LIMIT (1u << 20)

struct src {
	const uint8_t *p;
	size_t len, at, chunk;
};

static ssize_t rd(void *ctx, void *buf, size_t n, struct err *e)
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

static int wr(void *ctx, const void *buf, size_t n, struct err *e)
{
	uint64_t *seen = ctx;
	*seen += n;
	if (*seen > LIMIT)
		__builtin_trap(); /* the limit was not kept */
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct err e;
	uint64_t t1 = 0, t2 = 0, s1 = 0, s2 = 0;
	struct src a = {data, size, 0, 0}, b = {data, size, 0, 1 + size % 13};
	int r1 = zstdio_decompress(rd, &a, wr, &s1, LIMIT, "fuzz", &t1, &e);
	int r2 = zstdio_decompress(rd, &b, wr, &s2, LIMIT, "fuzz", &t2, &e);
	if (r1 != r2 || (r1 == 0 && t1 != t2))
		__builtin_trap();
	return 0;
}

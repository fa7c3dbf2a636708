/* mac.c: SHA-256 (FIPS 180-4), HMAC-SHA256 and signed markers; pure libc, shared with host tests.
 */
#include "mac.h"

#include <stdio.h>
#include <string.h>

static const uint32_t mac_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

#define ROR(x, n) ((x) >> (n) | (x) << (32 - (n)))

static void mac_block(struct mac_sha256 *s, const unsigned char *p)
{
	uint32_t w[64], a, b, c, d, e, f, g, h;

	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 64; i++) {
		uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);

		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3];
	e = s->h[4], f = s->h[5], g = s->h[6], h = s->h[7];
	for (int i = 0; i < 64; i++) {
		uint32_t t1 = h + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) +
			      mac_k[i] + w[i];
		uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));

		h = g, g = f, f = e, e = d + t1;
		d = c, c = b, b = a, a = t1 + t2;
	}
	s->h[0] += a, s->h[1] += b, s->h[2] += c, s->h[3] += d;
	s->h[4] += e, s->h[5] += f, s->h[6] += g, s->h[7] += h;
}

void mac_sha256_init(struct mac_sha256 *s)
{
	static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
				       0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

	memcpy(s->h, iv, sizeof(iv));
	s->bytes = 0;
	s->fill = 0;
}

void mac_sha256_update(struct mac_sha256 *s, const void *data, size_t len)
{
	const unsigned char *p = data;

	s->bytes += len;
	while (len) {
		size_t take = 64 - s->fill < len ? 64 - s->fill : len;

		memcpy(s->blk + s->fill, p, take);
		s->fill += take;
		p += take;
		len -= take;
		if (s->fill == 64) {
			mac_block(s, s->blk);
			s->fill = 0;
		}
	}
}

void mac_sha256_final(struct mac_sha256 *s, unsigned char out[MAC_SHA256_LEN])
{
	uint64_t bits = s->bytes * 8;
	unsigned char pad = 0x80, len[8];

	mac_sha256_update(s, &pad, 1);
	pad = 0;
	while (s->fill != 56)
		mac_sha256_update(s, &pad, 1);
	for (int i = 0; i < 8; i++)
		len[i] = (unsigned char)(bits >> (56 - 8 * i));
	mac_sha256_update(s, len, 8);
	for (int i = 0; i < 8; i++) {
		out[4 * i] = (unsigned char)(s->h[i] >> 24);
		out[4 * i + 1] = (unsigned char)(s->h[i] >> 16);
		out[4 * i + 2] = (unsigned char)(s->h[i] >> 8);
		out[4 * i + 3] = (unsigned char)s->h[i];
	}
	memset(s, 0, sizeof(*s));
}

void mac_hmac_sha256(const unsigned char *key, size_t keylen, const void *a, size_t alen,
		     const void *b, size_t blen, unsigned char out[MAC_SHA256_LEN])
{
	unsigned char k[64], pad[64], inner[MAC_SHA256_LEN];
	struct mac_sha256 s;

	memset(k, 0, sizeof(k));
	if (keylen > sizeof(k)) {
		mac_sha256_init(&s);
		mac_sha256_update(&s, key, keylen);
		mac_sha256_final(&s, k);
	} else if (keylen) {
		memcpy(k, key, keylen);
	}
	for (int i = 0; i < 64; i++)
		pad[i] = k[i] ^ 0x36;
	mac_sha256_init(&s);
	mac_sha256_update(&s, pad, 64);
	mac_sha256_update(&s, a, alen);
	mac_sha256_update(&s, b, blen);
	mac_sha256_final(&s, inner);
	for (int i = 0; i < 64; i++)
		pad[i] = k[i] ^ 0x5c;
	mac_sha256_init(&s);
	mac_sha256_update(&s, pad, 64);
	mac_sha256_update(&s, inner, sizeof(inner));
	mac_sha256_final(&s, out);
	memset(k, 0, sizeof(k));
	memset(pad, 0, sizeof(pad));
}

int mac_unhex(const char *hex, size_t n, unsigned char *out)
{
	for (size_t i = 0; i < 2 * n; i++) {
		char ch = hex[i];
		int v = ch >= '0' && ch <= '9'	 ? ch - '0'
			: ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
			: ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
						 : -1;

		if (v < 0)
			return -1;
		if (i % 2 == 0)
			out[i / 2] = (unsigned char)(v << 4);
		else
			out[i / 2] |= (unsigned char)v;
	}
	return 0;
}

size_t mac_marker(char *buf, size_t size, const unsigned char *key, unsigned long seq,
		  const char *name, long long sec, long usec, const char *field)
{
	/* room kept for " SEQ:TAG" (SEQ at most 20 digits) and the end byte */
	const size_t trailer = key ? 2 + 20 + MAC_TAG_HEX + 1 : 1;
	size_t cap = size < MAC_MARKER_MAX ? size : MAC_MARKER_MAX, n;
	char seqs[24];
	int r;

	if (cap < MAC_MARKER_MIN)
		return 0;
	cap -= trailer;
	r = snprintf(buf, cap,
		     "\x02"
		     "crumb:%.15s %lld.%06ld",
		     name, sec, usec);
	if (r < 0)
		return 0;
	n = (size_t)r < cap ? (size_t)r : cap - 1;
	if (field) {
		buf[n++] = ' ';
		for (; *field && n < cap; field++) {
			unsigned char ch = (unsigned char)*field;

			buf[n++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
		}
	}
	if (key) {
		static const char hex[] = "0123456789abcdef";
		unsigned char tag[MAC_SHA256_LEN];
		size_t sl = (size_t)snprintf(seqs, sizeof(seqs), "%lu\n", seq);
		char dom[64];

		memcpy(dom, MAC_DOMAIN, sizeof(MAC_DOMAIN) - 1);
		memcpy(dom + sizeof(MAC_DOMAIN) - 1, seqs, sl);
		/* the tag covers the text after the start byte */
		mac_hmac_sha256(key, MAC_KEY_LEN, dom, sizeof(MAC_DOMAIN) - 1 + sl, buf + 1, n - 1,
				tag);
		n += (size_t)snprintf(buf + n, size - n, " %lu:", seq);
		for (int i = 0; i < MAC_TAG_HEX / 2; i++) {
			buf[n++] = hex[tag[i] >> 4];
			buf[n++] = hex[tag[i] & 15];
		}
	}
	buf[n++] = '\x03';
	return n;
}

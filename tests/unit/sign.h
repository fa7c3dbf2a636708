/* sign.h: for tests: signs the markers of a console stream as crumb-init does (src/init/markers.h).
 */
#ifndef CRUMB_TEST_SIGN_H
#define CRUMB_TEST_SIGN_H

#include <string.h>

#include "lib/console.h"

static const unsigned char test_key[CONSOLE_KEY_LEN] = {
    0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
    0xf0, 0xe1, 0xd2, 0xc3, 0xb4, 0xa5, 0x96, 0x87, 0x78, 0x69, 0x5a, 0x4b, 0x3c, 0x2d, 0x1e, 0x0f};

/* Appends s (n bytes) to out with " SEQ:TAG" added inside every
 * 0x02 "crumb:" ... 0x03, SEQ counting on from *seq. */
static inline void sign_stream(const char *s, size_t n, unsigned long long *seq, struct sbuf *out)
{
	size_t i = 0;
	while (i < n) {
		const char *stx = memchr(s + i, 0x02, n - i);
		const char *etx = stx ? memchr(stx, 0x03, (size_t)(s + n - stx)) : NULL;
		if (!stx || !etx || strncmp(stx + 1, "crumb:", 6)) {
			size_t upto = stx ? (size_t)(stx - s) + 1 : n;
			sb_add(out, s + i, upto - i);
			i = upto;
			continue;
		}
		char tag[33];
		const char *text = stx + 1;
		size_t len = (size_t)(etx - text);
		console_marker_tag(test_key, ++*seq, text, len, tag);
		sb_add(out, s + i, (size_t)(etx - (s + i)));
		sb_addf(out, " %llu:%s\x03", *seq, tag);
		i = (size_t)(etx - s) + 1;
	}
}

#endif

/* mac.h: SHA-256, HMAC-SHA256 and the signed console marker, for crumb-init (no crypto library). */
#ifndef CRUMB_INIT_MAC_H
#define CRUMB_INIT_MAC_H

#include <stddef.h>
#include <stdint.h>

#define MAC_SHA256_LEN 32
/* The per-boot marker key the host hands to crumb-init (markers.h). */
#define MAC_KEY_LEN 32
/* A marker's MAC: HMAC-SHA256 cut to its first 16 bytes, as 32 lowercase hex digits. */
#define MAC_TAG_HEX 32

struct mac_sha256 {
	uint32_t h[8];
	uint64_t bytes; /* hashed so far */
	unsigned char blk[64];
	size_t fill; /* bytes in blk */
};

void mac_sha256_init(struct mac_sha256 *s);
void mac_sha256_update(struct mac_sha256 *s, const void *data, size_t len);
void mac_sha256_final(struct mac_sha256 *s, unsigned char out[MAC_SHA256_LEN]);

/* HMAC-SHA256 (RFC 2104) of the two pieces a then b (either may be empty). */
void mac_hmac_sha256(const unsigned char *key, size_t keylen, const void *a, size_t alen,
		     const void *b, size_t blen, unsigned char out[MAC_SHA256_LEN]);

/*
 * Formats one marker (markers.h) into buf (size bytes, at least
 * MAC_MARKER_MIN): 0x02 "crumb:" NAME " " SEC.USEC [" " FIELD] [" " SEQ ":" TAG]
 * 0x03. FIELD may be NULL; its bytes outside 0x20..0x7e become '?', and it is
 * cut so that the whole marker fits in size bytes (and never over
 * MAC_MARKER_MAX). With key (MAC_KEY_LEN bytes) the SEQ:TAG trailer is added;
 * without, the marker carries none (and no host will act on it). Returns the
 * marker's length (no NUL is written).
 */
#define MAC_MARKER_MAX 500
#define MAC_MARKER_MIN 128
size_t mac_marker(char *buf, size_t size, const unsigned char *key, unsigned long seq,
		  const char *name, long long sec, long usec, const char *field);

/* The bytes the tag covers: MAC_DOMAIN, SEQ in decimal, '\n', then the
 * marker's text from "crumb:" up to (not including) the " SEQ:TAG" trailer. */
#define MAC_DOMAIN "crumb-marker "

/* Decodes 2*n hex digits (either case) into out; 0, or -1 on a non-hex digit. */
int mac_unhex(const char *hex, size_t n, unsigned char *out);

#endif

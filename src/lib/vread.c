/* vread.c: reading a file while checking it against a sha256 digest and a size. */
#include "vread.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#define CHUNK (1u << 20)

void sha256_begin(struct sha256 *h)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	if (!c || !EVP_DigestInit_ex(c, EVP_sha256(), NULL))
		abort(); /* out of memory, as xmalloc treats it */
	h->md = c;
}

void sha256_update(struct sha256 *h, const void *data, size_t len)
{
	if (len)
		EVP_DigestUpdate(h->md, data, len);
}

void sha256_end(struct sha256 *h, char hex[65])
{
	unsigned char md[32];
	unsigned int n = 0;
	EVP_DigestFinal_ex(h->md, md, &n);
	EVP_MD_CTX_free(h->md);
	h->md = NULL;
	for (unsigned i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	hex[64] = 0;
}

static int digest_ok(const char *d)
{
	if (!d || strncmp(d, "sha256:", 7) || strlen(d) != 71)
		return 0;
	for (int i = 7; i < 71; i++)
		if (!((d[i] >= '0' && d[i] <= '9') || (d[i] >= 'a' && d[i] <= 'f')))
			return 0;
	return 1;
}

int vread_open(struct vread *v, const char *path, const char *digest, uint64_t size,
	       const char *name, int hash, struct err *e)
{
	memset(v, 0, sizeof(*v));
	v->fd = -1;
	v->name = xstrdup(name ? name : path);
	if (!digest_ok(digest))
		return err_set(e, CRUMB_EFORMAT, "%s: '%s' is not a sha256 digest", v->name,
			       digest ? digest : "");
	memcpy(v->want, digest + 7, 65);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT)
			return err_set(e, CRUMB_ENOENT, "%s is missing", v->name);
		if (errno == ELOOP)
			return err_set(e, CRUMB_EFORMAT, "%s is a symbolic link (refused)",
				       v->name);
		return err_errno(e, CRUMB_EIO, "%s", v->name);
	}
	v->fd = fd;
	clock_gettime(CLOCK_REALTIME, &v->began);
	if (fstat(fd, &v->st) < 0)
		return err_errno(e, CRUMB_EIO, "%s", v->name);
	if (!S_ISREG(v->st.st_mode))
		return err_set(e, CRUMB_EFORMAT, "%s is not a regular file", v->name);
	uint64_t have = (uint64_t)v->st.st_size;
	v->want_size = size == VREAD_SIZE_ANY ? have : size;
	if (have != v->want_size)
		return err_set(e, CRUMB_EFORMAT,
			       "%s: corrupt: %llu bytes where its descriptor says %llu (%s)",
			       v->name, (unsigned long long)have, (unsigned long long)v->want_size,
			       have < v->want_size ? "truncated" : "too long");
	/* the O_NONBLOCK was for the open only (a FIFO in the blob's place) */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	if (hash) {
		struct sha256 h;
		sha256_begin(&h);
		v->md = h.md;
	}
	return 0;
}

/* At the end: the count and the digest. */
static int vread_end(struct vread *v, struct err *e)
{
	if (v->checked)
		return 0;
	if (v->got != v->want_size)
		return err_set(e, CRUMB_EFORMAT,
			       "%s: %llu bytes read, %llu expected (changed while read)", v->name,
			       (unsigned long long)v->got, (unsigned long long)v->want_size);
	if (v->md) {
		char hex[65];
		struct sha256 h = {v->md};
		v->md = NULL;
		sha256_end(&h, hex);
		if (strcmp(hex, v->want))
			return err_set(e, CRUMB_EFORMAT,
				       "%s: corrupt: its content does not match its digest "
				       "(sha256:%.12s...)",
				       v->name, hex);
		v->verified = 1;
	}
	v->checked = 1;
	return 0;
}

void vread_trust(struct vread *v)
{
	if (v->md)
		EVP_MD_CTX_free(v->md);
	v->md = NULL;
}

ssize_t vread_read(struct vread *v, void *buf, size_t n, struct err *e)
{
	if (v->fd < 0)
		return err_set(e, CRUMB_EIO, "%s: read after close", v->name);
	if (v->checked)
		return 0;
	for (;;) {
		ssize_t k = read(v->fd, buf, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return err_errno(e, CRUMB_EIO, "read %s", v->name);
		if (k == 0) {
			int r = vread_end(v, e);
			return r < 0 ? r : 0;
		}
		v->got += (uint64_t)k;
		if (v->got > v->want_size)
			return err_set(e, CRUMB_EFORMAT,
				       "%s: more than %llu bytes (changed while read)", v->name,
				       (unsigned long long)v->want_size);
		if (v->md) {
			struct sha256 h = {v->md};
			sha256_update(&h, buf, (size_t)k);
		}
		return k;
	}
}

int vread_finish(struct vread *v, struct err *e)
{
	if (v->checked)
		return 0;
	char *buf = xmalloc(CHUNK);
	ssize_t k;
	while ((k = vread_read(v, buf, CHUNK, e)) > 0)
		;
	free(buf);
	return k < 0 ? (int)k : 0;
}

void vread_close(struct vread *v)
{
	if (v->fd >= 0)
		close(v->fd);
	v->fd = -1;
	if (v->md)
		EVP_MD_CTX_free(v->md);
	v->md = NULL;
	free(v->name);
	v->name = NULL;
}

int vread_check(const char *path, const char *digest, uint64_t size, const char *name,
		struct err *e)
{
	struct vread v;
	int r = vread_open(&v, path, digest, size, name, 1, e);
	if (r == 0)
		r = vread_finish(&v, e);
	vread_close(&v);
	return r;
}

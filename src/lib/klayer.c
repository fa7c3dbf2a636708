/* klayer.c: an image's kernel layer: stripped, zstd-compressed, decompressed once into the
 * store's cache and checked there by a stamp; its cpio root filesystem cached the same way. */
#include "klayer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "archive.h"
#include "kernel.h"
#include "proc.h"
#include "zstdio.h"

static char *cache_dir(struct oci_store *s, const char *kind)
{
	return xasprintf("%s/cache/%s", oci_root(s), kind);
}

/* 1 when the file starts with the ELF magic. */
static int is_elf(const char *path, struct err *e)
{
	unsigned char m[4] = {0};
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return err_errno(e, errno == ENOENT ? CRUMB_ENOENT : CRUMB_EIO, "kernel %s", path);
	ssize_t n = read(fd, m, 4);
	close(fd);
	return n == 4 && !memcmp(m, "\177ELF", 4);
}

/* path, stripped or not, read whole into out. */
static int kernel_bytes(struct oci_store *s, const char *path, int strip, struct sbuf *out,
			struct err *e)
{
	if (!strip)
		return read_file(path, KLAYER_MAX, out, e);
	char *dir = cache_dir(s, "kernel"), *tmp = xasprintf("%s/.strip-%d", dir, (int)getpid());
	char *argv[] = {"objcopy", "--strip-all", (char *)path, tmp, NULL};
	int r = mkdir_p(dir, 0755, e), status = 0;
	if (r == 0 && (r = proc_run(argv, NULL, NULL, NULL, NULL, &status, e)) < 0 && status == 127)
		r = err_set(e, r, "objcopy (binutils) is needed to strip the kernel %s", path);
	if (r == 0)
		r = read_file(tmp, KLAYER_MAX, out, e);
	unlink(tmp);
	free(tmp);
	free(dir);
	return r;
}

struct hash_sink {
	struct sha256 h;
	int fd; /* -1: hash only */
	const char *name;
};

static int sink_write(void *ctx, const void *buf, size_t n, struct err *e)
{
	struct hash_sink *k = ctx;
	sha256_update(&k->h, buf, n);
	for (const char *p = buf; k->fd >= 0 && n;) {
		ssize_t w = write(k->fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return err_errno(e, CRUMB_EIO, "write %s", k->name);
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static ssize_t vread_fn(void *ctx, void *buf, size_t n, struct err *e)
{
	return vread_read(ctx, buf, n, e);
}

/* Decompresses blob l (a verified read: a damaged blob fails before the end is accepted)
 * into fd (-1: nowhere), hex getting the digest of what came out. */
static int unpack(struct oci_store *s, const struct oci_desc *l, const char *whose, int flags,
		  uint64_t max, int fd, const char *name, char hex[65], struct err *e)
{
	struct vread v;
	struct hash_sink k = {.fd = fd, .name = name};
	uint64_t total;
	int r = oci_blob_open(s, l, whose, flags, &v, e);
	sha256_begin(&k.h);
	if (r == 0)
		r = zstdio_decompress(vread_fn, &v, sink_write, &k, max, v.name, &total, e);
	if (r == 0)
		r = oci_blob_done(s, l, flags, &v, e);
	sha256_end(&k.h, hex);
	vread_close(&v);
	return r;
}

/* The build cache: stripped kernel's digest -> its compressed blob, checked before use. */
static int cached_blob(struct oci_store *s, const char *key, const char *want,
		       struct oci_desc *layer)
{
	struct oci_desc d = {.size = VREAD_SIZE_ANY};
	char hex[65];
	struct err ig;
	if (oci_cache_get(s, key, d.digest, &ig) < 0)
		return 0;
	snprintf(d.media_type, sizeof(d.media_type), "%s", OCI_MT_KERNEL_ZSTD);
	struct stat st;
	char *bp = oci_blob_path(s, d.digest);
	int ok = bp && lstat(bp, &st) == 0 && S_ISREG(st.st_mode);
	free(bp);
	if (!ok || unpack(s, &d, "build cache", 0, KLAYER_MAX, -1, NULL, hex, &ig) < 0 ||
	    strcmp(hex, want))
		return 0;
	d.size = (uint64_t)st.st_size;
	*layer = d;
	return 1;
}

int klayer_put(struct oci_store *s, const char *path, int strip, struct oci_desc *layer,
	       struct err *e)
{
	int r = is_elf(path, e);
	if (r < 0)
		return r;
	if (!r)
		return oci_blob_put_file(s, path, OCI_MT_KERNEL, 0, layer, e);
	struct sbuf raw = SBUF_INIT, z = SBUF_INIT;
	char hex[65], key[65];
	if ((r = kernel_bytes(s, path, strip, &raw, e)) < 0)
		goto out;
	sha256_hex(raw.buf, raw.len, hex);
	char *salt =
	    xasprintf("crumb-klayer-1 zstd %d %s\n%s", ZSTDIO_LEVEL, ZSTD_versionString(), hex);
	sha256_hex(salt, strlen(salt), key);
	free(salt);
	if (cached_blob(s, key, hex, layer))
		goto out;
	if ((r = zstdio_compress(raw.buf, raw.len, ZSTDIO_LEVEL, &z, e)) == 0 &&
	    (r = oci_blob_put_mem(s, z.buf, z.len, OCI_MT_KERNEL_ZSTD, layer, e)) == 0)
		oci_cache_put(s, key, layer->digest, NULL); /* a cache: best effort */
out:
	sb_release(&raw);
	sb_release(&z);
	return r;
}

/* Makes file (read-only) in cache/KIND from blob l through a temp file; stamps it with what
 * came out. */
static int make(struct oci_store *s, const struct oci_desc *l, const char *whose, const char *kind,
		const char *file, const char *stamp, struct err *e)
{
	char *dir = cache_dir(s, kind), *tmp = xasprintf("%s/.tmp-XXXXXX", dir), hex[65];
	int r = mkdir_p(dir, 0755, e), fd = -1;
	if (r == 0 && (fd = mkostemp(tmp, O_CLOEXEC)) < 0)
		r = err_errno(e, CRUMB_EIO, "create a temporary file in %s", dir);
	if (r == 0)
		r = unpack(s, l, whose, OCI_VERIFY_CACHED,
			   strcmp(kind, "kernel") ? KLAYER_INITRD_MAX : KLAYER_MAX, fd, tmp, hex,
			   e);
	/* no fsync: a file a crash damaged fails its first check (a new stamp has no stat data,
	 * so the next use hashes it in full) and is made again */
	if (r == 0 && fchmod(fd, 0444) < 0)
		r = err_errno(e, CRUMB_EIO, "chmod %s", tmp);
	if (fd >= 0 && close(fd) < 0 && r == 0)
		r = err_errno(e, CRUMB_EIO, "write %s", tmp);
	/* the stamp first: a file without its stamp is made again, never trusted */
	if (r == 0 && (r = kernel_stamp_new(stamp, hex, e)) == 0 && rename(tmp, file) < 0)
		r = err_errno(e, CRUMB_EIO, "rename %s to %s", tmp, file);
	if (r < 0 && fd >= 0)
		unlink(tmp);
	free(tmp);
	free(dir);
	return r;
}

/* ROOT/cache/KIND/HEX for the zstd blob l, made again unless its stamp vouches for it. */
static int cached_file(struct oci_store *s, const struct oci_desc *l, const char *whose,
		       const char *kind, char **path, int *made, struct err *e)
{
	char *file = xasprintf("%s/cache/%s/%s", oci_root(s), kind, l->digest + 7);
	char *stamp = xasprintf("%s.stamp", file);
	struct err ig;
	int r = 0;
	*made = 0;
	if (kernel_file_check(file, NULL, stamp, &ig) < 0) {
		/* missing, or not what the blob decompressed to: made again. The rename replaces it
		 * (no unlink first: a run starting at the same moment may be about to boot it) */
		*made = 1;
		r = make(s, l, whose, kind, file, stamp, e);
	}
	free(stamp);
	if (r < 0)
		free(file);
	else
		*path = file;
	return r;
}

int klayer_path(struct oci_store *s, const struct oci_desc *l, const char *whose, char **path,
		int *made, struct err *e)
{
	int r = oci_blob_verify(s, l, whose, OCI_VERIFY_CACHED, e), m = 0;
	*path = NULL;
	if (made)
		*made = 0;
	if (r < 0)
		return r;
	if (strcmp(l->media_type, OCI_MT_KERNEL_ZSTD)) {
		*path = oci_blob_path(s, l->digest);
		return 0;
	}
	r = cached_file(s, l, whose, "kernel", path, &m, e);
	if (made)
		*made = m;
	return r;
}

/* HEX.content: the decimal sum of the archive's file sizes, as klayer_initrd counted it; 0
 * when missing, malformed, or more than the archive's size (which holds those files). */
static int content_read(const char *file, uint64_t *bytes)
{
	struct stat st;
	if (stat(file, &st) < 0)
		return 0;
	char *p = xasprintf("%s.content", file);
	struct sbuf sb = SBUF_INIT;
	struct err ig;
	int ok = read_file(p, 32, &sb, &ig) == 0 && sb.len > 1 && sb.len < 22 &&
		 sb.buf[sb.len - 1] == '\n' && strspn(sb.buf, "0123456789") == sb.len - 1;
	unsigned long long n = ok ? strtoull(sb.buf, NULL, 10) : 0;
	if (ok && (ok = n <= (unsigned long long)st.st_size))
		*bytes = n;
	sb_release(&sb);
	free(p);
	return ok;
}

int klayer_initrd(struct oci_store *s, const struct oci_desc *l, const char *whose, char **path,
		  uint64_t *content, struct err *e)
{
	*path = NULL;
	if (strcmp(l->media_type, OCI_MT_ROOTFS_CPIO_ZSTD))
		return err_set(e, CRUMB_EUNSUPP, "%s: no decompressed cache for %s", whose,
			       l->media_type);
	int r = oci_blob_verify(s, l, whose, OCI_VERIFY_CACHED, e), made = 0;
	if (r < 0)
		return r;
	char *file = NULL;
	if ((r = cached_file(s, l, whose, "initrd", &file, &made, e)) < 0)
		return r;
	/* the count of a file made now, or of one whose record is missing or unreadable */
	if (made || !content_read(file, content)) {
		char *p = xasprintf("%s.content", file), line[24];
		if ((r = archive_content_size(file, content, e)) == 0) {
			snprintf(line, sizeof(line), "%llu\n", (unsigned long long)*content);
			write_file_atomic(p, line, strlen(line), 0644,
					  NULL); /* a cache: best effort */
		}
		free(p);
	}
	if (r < 0)
		free(file);
	else
		*path = file;
	return r;
}

/* test_klayer.c: the kernel layer: an ELF stored stripped and zstd-compressed, reproducibly;
 * decompressed once into the cache; a tampered cache file or stamp is made again, a damaged
 * blob refused; a stored kernel's recorded sha256 is checked. A cpio+zstd root filesystem
 * layer cached the same way (klayer_initrd), with its content size; prune removes both. */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/kernel.h"
#include "lib/klayer.h"
#include "tap.h"

static int same_file(const char *a, const char *b)
{
	return sh("cmp -s %s %s", a, b) == 0;
}

/* Writes to a read-only file as a hostile store would: chmod, change, chmod back. */
static void tamper(const char *path)
{
	chmod(path, 0644);
	int fd = open(path, O_WRONLY);
	if (fd >= 0) {
		pwrite(fd, "X", 1, 4096);
		close(fd);
	}
	chmod(path, 0444);
}

static void test_put_and_path(const char *root)
{
	struct err e = {0};
	struct oci_store *s;
	struct oci_desc l, l2, raw;
	char *path = NULL, *path2 = NULL, *strip = xasprintf("%s/true.stripped", root);
	int made = -1;
	ok(oci_open(root, &s, &e) == 0, "open store: %s", e.msg);
	/* /bin/true stands in for a vmlinux: an ELF that objcopy strips */
	ok(klayer_put(s, "/bin/true", 1, &l, &e) == 0, "put an ELF: %s", e.msg);
	is_str(l.media_type, OCI_MT_KERNEL_ZSTD, "... as a zstd kernel layer");
	ok(klayer_put(s, "/bin/true", 1, &l2, &e) == 0 && !strcmp(l.digest, l2.digest) &&
	       l.size == l2.size,
	   "a second put gives the same blob (cache hit, reproducible): %s", e.msg);
	ok(klayer_path(s, &l, "image t", &path, &made, &e) == 0 && made == 1,
	   "the first use decompresses into the cache: %s", e.msg);
	ok(sh("objcopy --strip-all /bin/true %s", strip) == 0 && same_file(path, strip),
	   "... to the stripped ELF");
	struct stat st;
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0444, "... read-only");
	ok(klayer_path(s, &l, "image t", &path2, &made, &e) == 0 && made == 0 &&
	       !strcmp(path, path2),
	   "the next use reuses it: %s", e.msg);
	free(path2);
	tamper(path);
	ok(klayer_path(s, &l, "image t", &path2, &made, &e) == 0 && made == 1 &&
	       same_file(path, strip),
	   "a changed cache file is found out and made again: %s", e.msg);
	free(path2);
	char *stamp = xasprintf("%s.stamp", path);
	tamper(path);
	ok(write_file_atomic(stamp, "crumb-stamp-1 0\n", 16, 0644, &e) == 0 &&
	       klayer_path(s, &l, "image t", &path2, &made, &e) == 0 && made == 1 &&
	       same_file(path, strip),
	   "... and with its stamp damaged too: %s", e.msg);
	free(path2);
	unlink(path);
	ok(klayer_path(s, &l, "image t", &path2, &made, &e) == 0 && made == 1 &&
	       same_file(path, strip),
	   "a removed cache file is made again");
	free(path2);
	/* the blob itself damaged: refused, and nothing made from it */
	char *bp = oci_blob_path(s, l.digest);
	unlink(path);
	chmod(bp, 0644);
	sh("printf X | dd of=%s bs=1 seek=100 conv=notrunc status=none", bp);
	ok(klayer_path(s, &l, "image t", &path2, &made, &e) == CRUMB_EFORMAT &&
	       strstr(e.msg, "image t: blob") && access(path, F_OK) != 0,
	   "a damaged blob is refused, nothing cached: %s", e.msg);
	/* not ELF (a bzImage): stored as it is, booted from the blob */
	char *bz = xasprintf("%s/bzImage", root);
	write_file_atomic(bz, "MZ not an ELF", 13, 0644, &e);
	ok(klayer_put(s, bz, 1, &raw, &e) == 0 && !strcmp(raw.media_type, OCI_MT_KERNEL),
	   "a non-ELF kernel is stored uncompressed: %s", e.msg);
	ok(klayer_path(s, &raw, "image t", &path2, NULL, &e) == 0 && same_file(path2, bz),
	   "an uncompressed layer boots from its blob (old images too)");
	free(path2);
	free(bz);
	free(bp);
	free(stamp);
	free(path);
	free(strip);
	oci_close(s);
}

static void test_stored_kernel(const char *root)
{
	struct err e = {0};
	struct kernel_info ki;
	const char *id = "0123456789abcdef";
	char *dir = xasprintf("%s/kernels/%s", root, id), *vm = xasprintf("%s/vmlinux", dir);
	char *info = xasprintf("%s/info", dir), hex[65];
	ok(mkdir_p(dir, 0755, &e) == 0 && sh("cp /bin/true %s", vm) == 0, "a stored kernel");
	write_file_atomic(info, "release 6.1\n", 12, 0644, &e);
	ok(kernel_open(root, id, &ki, &e) == 0 && ki.sha256,
	   "one without a digest gets it recorded");
	kernel_info_release(&ki);
	struct sbuf sb = SBUF_INIT;
	ok(read_file(info, 4096, &sb, &e) == 0 && kernel_file_sha256(vm, hex, &e) == 0 &&
	       strstr(sb.buf, hex),
	   "... in info");
	sb_release(&sb);
	ok(kernel_open(root, id, &ki, &e) == 0, "a good kernel opens");
	kernel_info_release(&ki);
	sh("printf X | dd of=%s bs=1 seek=200 conv=notrunc status=none", vm);
	ok(kernel_open(root, id, &ki, &e) == CRUMB_EFORMAT && strstr(e.msg, vm) &&
	       !strchr(e.msg, '\n'),
	   "a changed vmlinux is refused, one line naming it: %s", e.msg);
	ok(kernel_open(root, "fedcba9876543210", &ki, &e) == CRUMB_ENOENT, "no such kernel");
	free(dir);
	free(vm);
	free(info);
}

static void test_initrd(const char *root)
{
	struct err e = {0};
	struct oci_store *s;
	struct oci_desc l, k;
	char *path = NULL, *path2 = NULL, *src = xasprintf("%s/tree", root);
	char *cpio = xasprintf("%s/root.cpio", root), *zst = xasprintf("%s/root.cpio.zst", root);
	uint64_t content = 0;
	struct stat st, st2;
	ok(oci_open(root, &s, &e) == 0, "open store: %s", e.msg);
	/* 3 files: 5 + 4096 + 0 bytes */
	ok(sh("mkdir -p %s/etc && printf hello >%s/a && head -c 4096 /dev/zero >%s/etc/b && "
	      ": >%s/c && cd %s && find . | sort | cpio -o -H newc --quiet >%s && "
	      "zstd -q -19 %s -o %s",
	      src, src, src, src, src, cpio, cpio, zst) == 0,
	   "a cpio of 3 files, zstd-compressed");
	ok(oci_blob_put_file(s, zst, OCI_MT_ROOTFS_CPIO_ZSTD, 0, &l, &e) == 0, "stored: %s", e.msg);
	ok(klayer_initrd(s, &l, "image r", &path, &content, &e) == 0 && same_file(path, cpio),
	   "the first use decompresses it into the cache: %s", e.msg);
	is_int((long long)content, 4101, "... its content counted (5 + 4096 + 0 bytes)");
	char *cnt = xasprintf("%s.content", path);
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0444 && access(cnt, F_OK) == 0,
	   "... read-only, with its count kept beside it");
	content = 0;
	ok(klayer_initrd(s, &l, "image r", &path2, &content, &e) == 0 && !strcmp(path, path2) &&
	       stat(path, &st2) == 0 && st2.st_ino == st.st_ino && content == 4101,
	   "the next use reuses it and its count: %s", e.msg);
	free(path2);
	write_file_atomic(cnt, "12\n", 3, 0644, &e);
	ok(klayer_initrd(s, &l, "image r", &path2, &content, &e) == 0 && content == 12,
	   "the kept count is what sizes memory (a cache: an edited one only misleads the "
	   "sizing)");
	free(path2);
	write_file_atomic(cnt, "99999999999999999999\n", 21, 0644, &e);
	ok(klayer_initrd(s, &l, "image r", &path2, &content, &e) == 0 && content == 4101,
	   "a count over the archive's own size is counted again: %s", e.msg);
	free(path2);
	write_file_atomic(cnt, "-1x\n", 4, 0644, &e);
	ok(klayer_initrd(s, &l, "image r", &path2, &content, &e) == 0 && content == 4101,
	   "a count that is not a number is counted again: %s", e.msg);
	free(path2);
	tamper(path);
	ok(klayer_initrd(s, &l, "image r", &path2, &content, &e) == 0 && same_file(path, cpio) &&
	       content == 4101,
	   "a changed cache file is found out and made again: %s", e.msg);
	free(path2);
	ok(klayer_initrd(s, &(struct oci_desc){.media_type = OCI_MT_ROOTFS_EXT4}, "image r", &path2,
			 &content, &e) == CRUMB_EUNSUPP,
	   "another media type has no such cache: %s", e.msg);
	/* a damaged blob: refused, nothing cached */
	char *bp = oci_blob_path(s, l.digest);
	unlink(path);
	unlink(cnt);
	chmod(bp, 0644);
	sh("printf X | dd of=%s bs=1 seek=20 conv=notrunc status=none", bp);
	ok(klayer_initrd(s, &l, "image r", &path2, &content, &e) == CRUMB_EFORMAT &&
	       strstr(e.msg, "image r: blob") && access(path, F_OK) != 0,
	   "a damaged blob is refused, nothing cached: %s", e.msg);
	/* prune: the blob (referenced by no image) goes, and with it its cache files */
	unlink(bp);
	ok(oci_blob_put_file(s, zst, OCI_MT_ROOTFS_CPIO_ZSTD, 0, &k, &e) == 0 &&
	       klayer_initrd(s, &k, "image r", &path2, &content, &e) == 0,
	   "stored and cached again: %s", e.msg);
	free(path2);
	size_t n = 0;
	uint64_t bytes = 0;
	ok(oci_prune(s, &n, &bytes, &e) == 0 && access(path, F_OK) != 0 && access(cnt, F_OK) != 0 &&
	       sh("test -z \"$(ls %s/cache/initrd)\"", root) == 0,
	   "prune removes the blob's cached initrd, stamp and count: %s", e.msg);
	free(bp);
	free(cnt);
	free(path);
	free(src);
	free(cpio);
	free(zst);
	oci_close(s);
}

int main(void)
{
	char root[] = "/tmp/crumb-klayer.XXXXXX";
	if (!mkdtemp(root)) {
		printf("Bail out! mkdtemp\n");
		return 1;
	}
	test_put_and_path(root);
	test_stored_kernel(root);
	test_initrd(root);
	sh("chmod -R u+w %s; rm -rf %s", root, root);
	return done_testing();
}

/* klayer.h: an image's kernel layer: a vmlinux stored stripped and zstd-compressed, and
 * decompressed once into the store's cache for the VMM to read. */
#ifndef CRUMB_KLAYER_H
#define CRUMB_KLAYER_H

#include "oci.h"

/* The most bytes a kernel layer may decompress to (the crumb kernel: 16 MB). */
#define KLAYER_MAX ((uint64_t)256 << 20)
/* klayer_initrd: the most bytes a root filesystem layer may decompress to in the cache. */
#define KLAYER_INITRD_MAX ((uint64_t)1 << 30)

/*
 * Stores the kernel file at path as an image's kernel layer, *layer getting its descriptor.
 * An ELF file is stored as one zstd frame (ZSTD_LEVEL, one thread: reproducible) under
 * OCI_MT_KERNEL_ZSTD; with strip = 1 it is first stripped of every section a loader does
 * not read (objcopy --strip-all: QEMU's PVH loader reads the program headers and the PVH
 * note, which stay). Strip only a kernel crumb built or the user named: binutils is not made
 * for hostile files. Anything else (a bzImage: compressed already) is stored as it is, under
 * OCI_MT_KERNEL. The compression (~2 s at level 19) is done once per stripped kernel: the
 * build cache maps the stripped file's digest to the blob, and a hit is checked by
 * decompressing the blob (verified read) and comparing digests (~0.1 s).
 */
int klayer_put(struct oci_store *s, const char *path, int strip, struct oci_desc *layer,
	       struct err *e);

/*
 * The file the VMM boots for the kernel layer l, verified (*path malloc'd). OCI_MT_KERNEL:
 * the blob itself, checked as oci_blob_verify(OCI_VERIFY_CACHED) checks it. The zstd layer:
 * the compressed blob is checked the same way, then ROOT/cache/kernel/HEX (HEX: the layer's
 * digest), a read-only file made by decompressing the blob (a verified read: damaged bytes
 * never reach the file; temp file + rename, so two runs at once are safe), is checked with
 * kernel_file_check against the digest recorded at that moment in HEX.stamp: a matching
 * stamp costs an open and an fstat; a file changed since (a hostile store's edit) is
 * hashed, found wrong and made again from the blob, never booted. *made: 1 when the file
 * was (re)made now (may be NULL). whose names the image in messages. oci_prune removes the
 * cached file and its stamp once the layer's blob is gone.
 */
int klayer_path(struct oci_store *s, const struct oci_desc *l, const char *whose, char **path,
		int *made, struct err *e);

/*
 * The root filesystem layer l (OCI_MT_ROOTFS_CPIO_ZSTD) as a plain cpio for the VMM's
 * initramfs: ROOT/cache/initrd/HEX, made from the verified blob and checked by its stamp
 * exactly as klayer_path's kernel (the kernel then unpacks it without decompressing: under
 * TCG that is tens of milliseconds of a boot). *content: the sum of its files' sizes (for
 * sizing guest memory), counted once and kept in HEX.content. oci_prune removes the three
 * files once the blob is gone. Other media types: CRUMB_EUNSUPP.
 */
int klayer_initrd(struct oci_store *s, const struct oci_desc *l, const char *whose, char **path,
		  uint64_t *content, struct err *e);

#endif

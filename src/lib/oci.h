/* oci.h: the local image store, an OCI image layout (blobs, manifests, index.json) at $CRUMB_HOME.
 */
#ifndef CRUMB_OCI_H
#define CRUMB_OCI_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"
#include "vread.h"

/*
 * Layout (https://github.com/opencontainers/image-spec/blob/main/image-layout.md):
 *   ROOT/oci-layout            {"imageLayoutVersion":"1.0.0"}
 *   ROOT/index.json            one manifest descriptor per tag, annotated
 *                              "org.opencontainers.image.ref.name": "NAME:TAG"
 *                              (so `skopeo inspect oci:ROOT:NAME:TAG` finds it)
 *   ROOT/blobs/sha256/HEX      content-addressed blobs
 *   ROOT/cache/KEY             build cache entries: one line "sha256:HEX\n" naming a blob
 *   ROOT/cache/kernel/HEX      a zstd kernel layer decompressed (klayer.h), and HEX.stamp
 * Other crumb files (kernels/, locks) live beside them.
 *
 * An image's manifest has an OCI image config (application/vnd.oci.image.config.v1+json,
 * crumb's run settings as crumb.* labels) and two layers: the kernel
 * (OCI_MT_KERNEL_ZSTD, or OCI_MT_KERNEL uncompressed: see klayer.h) and the root
 * filesystem (one of OCI_MT_ROOTFS_*).
 *
 * Every write is a temp file + fsync + rename; index.json is rewritten under
 * an exclusive lock, so a killed process never leaves a half-written image,
 * and two writers of the same tag both leave a valid index (the last wins).
 * JSON is written with sorted keys, compact, so the same image gives the same
 * manifest digest.
 */

#define OCI_MT_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define OCI_MT_CONFIG "application/vnd.oci.image.config.v1+json"
#define OCI_MT_KERNEL "application/vnd.crumb.kernel.vmlinux.v1"
/* the kernel as one zstd frame (klayer.h): what crumb build and import store since 0.1 */
#define OCI_MT_KERNEL_ZSTD "application/vnd.crumb.kernel.vmlinux.v1+zstd"
#define OCI_MT_ROOTFS_CPIO "application/vnd.crumb.rootfs.cpio.v1"
#define OCI_MT_ROOTFS_CPIO_GZIP "application/vnd.crumb.rootfs.cpio.v1+gzip"
#define OCI_MT_ROOTFS_CPIO_ZSTD "application/vnd.crumb.rootfs.cpio.v1+zstd"
#define OCI_MT_ROOTFS_EXT4 "application/vnd.crumb.rootfs.ext4.v1"

struct oci_desc {
	char media_type[128];
	char digest[80]; /* "sha256:" + 64 hex */
	uint64_t size;
};

/* The image config: what `crumb run IMAGE` needs (Docker's names). Strings
 * may be NULL (unset); every member is owned. */
struct oci_config {
	struct strlist entrypoint, cmd;
	struct strlist env; /* "K=V" */
	char *workdir, *user, *stop_signal;
	struct strlist exposed;			 /* "80/tcp" */
	struct strlist volumes;			 /* "/data" */
	struct strlist label_keys, label_values; /* parallel; crumb.* keys are the run config */
	struct strlist healthcheck; /* Docker's Test array, e.g. {"CMD-SHELL", "curl ..."} */
	/* and its options: Interval, Timeout, StartPeriod, StartInterval in nanoseconds and
	 * Retries, 0 when unset (Docker's omitempty) */
	int64_t hc_interval, hc_timeout, hc_start_period, hc_start_interval;
	int64_t hc_retries;
	struct strlist onbuild; /* recorded */
	char *created;		/* RFC 3339 (SOURCE_DATE_EPOCH); NULL: 1970-01-01 */
};
void oci_config_init(struct oci_config *c);
void oci_config_release(struct oci_config *c);
/* The label's value or NULL. */
const char *oci_config_label(const struct oci_config *c, const char *key);
/* Sets key to value (copied), in place when the key is there, else appended. */
void oci_config_set_label(struct oci_config *c, const char *key, const char *value);
/* Removes every label named key. */
void oci_config_drop_label(struct oci_config *c, const char *key);

/* Renders c as an OCI image config JSON (architecture amd64, os linux,
 * rootfs.diff_ids from the layers) into out, canonical (sorted keys). */
int oci_config_render(const struct oci_config *c, const struct oci_desc *layers, size_t nlayers,
		      struct sbuf *out, struct err *e);
/* Parses an image config JSON (bounded: at most 4 MiB). */
int oci_config_parse(const char *json, size_t len, struct oci_config *c, struct err *e);

struct oci_store;

/* Opens the layout at root, creating oci-layout, index.json and blobs/ when
 * missing. A root whose oci-layout or index.json is malformed is CRUMB_EFORMAT. */
int oci_open(const char *root, struct oci_store **out, struct err *e);
/* Opens an existing layout (e.g. one skopeo wrote, for FROM) creating nothing:
 * CRUMB_ENOENT when root has no oci-layout or index.json. Reading (list,
 * resolve, blob paths) creates nothing either. */
int oci_open_existing(const char *root, struct oci_store **out, struct err *e);
void oci_close(struct oci_store *s);
const char *oci_root(const struct oci_store *s);

/*
 * Store-wide lock: builds and runs hold it shared while they write blobs
 * that are not referenced yet (so prune cannot collect them); prune takes it
 * exclusive (rmi need not: untagging leaves the blobs until prune). Returns
 * an fd to close, or negative.
 * Within this module: oci_blob_put_*, oci_cache_put, oci_image_commit and
 * oci_tag take it shared themselves for their own duration, which is
 * compatible with a caller's shared hold; oci_prune takes it exclusive
 * itself, waiting up to 5 s, then fails with CRUMB_EBUSY (so a caller must
 * not hold it while calling oci_prune).
 */
int oci_lock(struct oci_store *s, int exclusive, struct err *e);

/* Adds a blob. From a file: hashed while copied into a temp file in blobs/,
 * then renamed (with move = 1, a file on the same filesystem is renamed in
 * place after hashing). desc->media_type is set to media_type. A file already
 * in the blob's place is kept only when the verification cache (below) knows
 * it good; anything else there (a damaged copy, a symlink) is replaced, so a
 * rebuild or re-import repairs a damaged blob. */
int oci_blob_put_file(struct oci_store *s, const char *path, const char *media_type, int move,
		      struct oci_desc *desc, struct err *e);
int oci_blob_put_mem(struct oci_store *s, const void *data, size_t len, const char *media_type,
		     struct oci_desc *desc, struct err *e);
/* malloc'd path of a blob (whether or not it exists); NULL for a malformed digest. */
char *oci_blob_path(const struct oci_store *s, const char *digest);
/*
 * Verified reads. Every blob crumb reads comes through these: the file is
 * opened with O_NOFOLLOW (a symlink in a blob's place is refused), must be a
 * regular file of the descriptor's size (checked before reading), and is
 * hashed as it is read (vread.h), so a flipped byte, a truncated or grown
 * blob, or another blob renamed into this one's place is CRUMB_EFORMAT, and
 * a missing one CRUMB_ENOENT. Messages are one line, "WHOSE: blob PATH: what
 * is wrong", WHOSE naming what the blob belongs to ("image a:latest", "build
 * cache"; left out when NULL).
 */

/* Reads a whole blob (at most max bytes, else CRUMB_EUNSAFE) and checks its digest. */
int oci_blob_read(struct oci_store *s, const char *digest, size_t max, struct sbuf *out,
		  struct err *e);

/*
 * Flags for the verification cache, ROOT/verified/HEX: the stat data (dev,
 * ino, size, mtime, ctime) of blob HEX when it was last hashed and found
 * good. Any change to the file moves its ctime, which cannot be set back,
 * so a matching record stands for a hash. Records are written only for
 * files last changed more than a second before the hash began (git's racily
 * clean rule), and prune removes those of deleted blobs.
 *   OCI_VERIFY_CACHED: trust a matching record (no hashing) and write one
 *                      after a hash (crumb run: QEMU reads the blobs itself,
 *                      so crumb hashes them only to check them);
 *   OCI_VERIFY_RECORD: always hash, and write the record.
 * A layout opened with oci_open_existing is never written: no records there.
 */
#define OCI_VERIFY_CACHED 1
#define OCI_VERIFY_RECORD 2

/* Opens the blob of d for a verified read (see vread.h; d->size may be
 * VREAD_SIZE_ANY when only the digest is known: a build cache entry). With
 * OCI_VERIFY_CACHED and a matching record, v->verified is 1 at once and no
 * hashing is done. vread_close(v) after, whatever this returned. */
int oci_blob_open(struct oci_store *s, const struct oci_desc *d, const char *whose, int flags,
		  struct vread *v, struct err *e);
/* Reads what is left of v and checks it (vread_finish); records a good
 * result under the flags. 0 when the whole blob is good. */
int oci_blob_done(struct oci_store *s, const struct oci_desc *d, int flags, struct vread *v,
		  struct err *e);
/* open + done + close: checks the blob of d without using its bytes. */
int oci_blob_verify(struct oci_store *s, const struct oci_desc *d, const char *whose, int flags,
		    struct err *e);

/* *media_type (static) for a root filesystem file from its magic: cpio newc,
 * gzip or zstd (taken to hold a cpio), ext2/3/4 superblock. */
int oci_detect_rootfs(const char *path, const char **media_type, struct err *e);

/* j (a jansson json_t) appended to out as canonical JSON: sorted keys, compact, as every
 * manifest, config and index crumb writes; CRUMB_EINVAL naming what when it cannot be. */
struct json_t;
int oci_json_canon(struct json_t *j, struct sbuf *out, const char *what, struct err *e);
/* 1 for "sha256:" + 64 lowercase hex digits. */
int oci_digest_valid(const char *digest);
/* 1 for an RFC 6838 type/subtype that fits oci_desc.media_type. */
int oci_media_type_valid(const char *media_type);
/* RFC 3339 UTC, e.g. "1970-01-01T00:00:00Z" (what commit writes as `created`
 * when the config has none: the epoch; callers set SOURCE_DATE_EPOCH's). */
void oci_format_time(int64_t epoch, char out[32]);
/* The org.opencontainers.image.title commit gives a layer of this media type
 * ("vmlinux", "rootfs.cpio.zst", ...), or NULL (no title). */
const char *oci_layer_title(const char *media_type);

/* Normalizes a user's reference: "sshd" -> "sshd:latest"; checks Docker's
 * rules for names and tags (CRUMB_EINVAL with the reason). *out malloc'd. */
int oci_ref_normalize(const char *ref, char **out, struct err *e);

/*
 * Writes the config and the manifest blobs for layers and points ref (normalized) at it in
 * index.json (replacing an older entry for ref). manifest gets the manifest's descriptor.
 * With ref NULL the image is stored untagged: reachable by its digest until prune.
 */
int oci_image_commit(struct oci_store *s, const char *ref, const struct oci_config *c,
		     const struct oci_desc *layers, size_t nlayers, struct oci_desc *manifest,
		     struct err *e);

/*
 * Stores a manifest as given (bytes and media type: a pull keeps the registry's digest) and
 * points ref (normalized; NULL: an untagged entry, as oci_index_add) at it, once its config
 * reads and every layer is a blob of its size in the store. manifest gets its descriptor.
 */
int oci_manifest_put(struct oci_store *s, const char *ref, const void *data, size_t len,
		     const char *media_type, struct oci_desc *manifest, struct err *e);

/*
 * Points each refs[k] (normalized; NULL: none) at manifests[k] in index.json, in one rewrite
 * under the index lock, so either every name is set or none (crumb load tags all the images
 * of an archive at once). A name replaces older entries of that name, a later refs[k] of the
 * same name winning; an unnamed manifest gets an untagged entry (kept until rmi of its
 * digest) unless the index already lists it. Each manifest must already be a blob of its
 * size in the store (the caller stored and checked it and everything it references; a
 * media type is kept as given: an OCI or Docker manifest), else CRUMB_EINVAL and nothing is
 * written; a bad name is oci_ref_normalize's CRUMB_EINVAL.
 */
int oci_index_add(struct oci_store *s, const char *const *refs, const struct oci_desc *manifests,
		  size_t n, struct err *e);

struct oci_image {
	char *ref; /* "name:tag", or NULL when resolved by digest with no tag */
	struct oci_desc manifest, config;
	struct oci_desc *layers;
	size_t nlayers;
	struct oci_config cfg;
	uint64_t size; /* manifest + config + layers, bytes */
};
void oci_image_release(struct oci_image *im);

/* Finds an image by "name[:tag]", "sha256:HEX", or a unique hex prefix of at
 * least 12 digits of a manifest digest; reads and checks manifest and config.
 * An OCI image index (or Docker manifest list) leads to its linux/amd64 manifest
 * (then manifest is that one); Docker schema 2 manifests are read like OCI ones.
 * CRUMB_ENOENT ("no image 'x' in the store (ROOT)") when there is none. */
int oci_image_resolve(struct oci_store *s, const char *name, struct oci_image *out, struct err *e);
/* The image of the index's first manifest, tagged or not (skopeo copy without
 * a name writes no tag), read as oci_image_resolve reads its digest (ref: the
 * first tag of that manifest, or NULL); for FROM an OCI layout directory,
 * opened with oci_open_existing. CRUMB_ENOENT "ROOT: the OCI layout holds no
 * image" when the index lists none; a malformed index.json is CRUMB_EFORMAT.
 * out is released with oci_image_release, also after an error. */
int oci_image_first(struct oci_store *s, struct oci_image *out, struct err *e);

/* Checks every layer of im with oci_blob_verify (its manifest and config were
 * checked when it was resolved), naming im by its ref, else its digest. A
 * missing layer is CRUMB_EFORMAT here (the image is damaged). */
int oci_image_verify(struct oci_store *s, const struct oci_image *im, int flags, struct err *e);

/* The layer with this media type prefix (e.g. "application/vnd.crumb.rootfs."), or NULL. */
const struct oci_desc *oci_image_layer(const struct oci_image *im, const char *media_type_prefix);

struct oci_entry {
	char *ref;
	struct oci_desc manifest;
	uint64_t size;
	char *created;
	char *error; /* NULL, or why this image's manifest or config cannot be read
		      * (then size and created are what could be read) */
};
/* Every tagged image in index order, sorted by ref (name, then tag). Free with oci_entries_free.
 * Fails only when index.json itself is unreadable or corrupt: one broken image
 * does not hide the others. */
int oci_list(struct oci_store *s, struct oci_entry **out, size_t *n, struct err *e);
/* oci_list, and then every layer of every listed image is hashed in full
 * (each blob once however many images share it; OCI_VERIFY_RECORD): a
 * damaged one sets the entry's error ("blob PATH: what is wrong"). */
int oci_list_verified(struct oci_store *s, struct oci_entry **out, size_t *n, struct err *e);
void oci_entries_free(struct oci_entry *v, size_t n);

int oci_tag(struct oci_store *s, const char *src, const char *ref, struct err *e);
/* Removes a tag (or, given a digest, every tag of that manifest). Blobs stay until prune. */
int oci_untag(struct oci_store *s, const char *name, struct err *e);
/* Deletes blobs no tagged image references and cache entries whose blob is gone.
 * (Every index.json entry counts, tagged or not; blobs/ temp files of dead
 * writers go too. A referenced manifest that is missing or corrupt: an error,
 * nothing deleted.) *bytes: the deleted blobs' sizes. */
int oci_prune(struct oci_store *s, size_t *nblobs, uint64_t *bytes, struct err *e);

/* Build cache: key (hex) -> blob digest. get: 0 with digest filled, CRUMB_ENOENT if absent or its
 * blob is gone. Keys are 1 to 128 lowercase hex digits (CRUMB_EINVAL otherwise); a malformed entry
 * is CRUMB_EFORMAT naming the file (a builder may treat it as a miss and put again). */
int oci_cache_get(struct oci_store *s, const char *key, char digest[80], struct err *e);
int oci_cache_put(struct oci_store *s, const char *key, const char *digest, struct err *e);

#endif

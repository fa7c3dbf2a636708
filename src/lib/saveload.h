/* saveload.h: `crumb save` and `crumb load`: store images to and from a tar holding an OCI image
 * layout (skopeo's oci-archive), and `docker save` archives in. */
#ifndef CRUMB_SAVELOAD_H
#define CRUMB_SAVELOAD_H

#include <stddef.h>
#include <stdint.h>

#include "oci.h"
#include "util.h"

/*
 * The archive `crumb save` writes: a tar (pax, only ustar headers unless a blob passes 8 GiB)
 * holding an OCI image layout, as skopeo's oci-archive and docker 25's `docker save` do:
 *
 *   blobs/  blobs/sha256/  blobs/sha256/HEX...   every blob of every image, once
 *   index.json     one manifest descriptor per image, in the order asked, annotated
 *                  org.opencontainers.image.ref.name = TAG (what `skopeo ...
 *                  oci-archive:FILE:TAG` finds) and io.containerd.image.name = NAME:TAG
 *                  (what containerd and docker load read); no annotations for an image
 *                  named by digest alone
 *   manifest.json  docker's list (Config, RepoTags, Layers as blobs/sha256/HEX paths) of the
 *                  images whose layers are all tars (container images `docker load` can
 *                  use); left out when there is none: crumb's own images (kernel + root
 *                  filesystem layers) mean nothing to docker
 *   oci-layout
 *
 * Members come in that (bytewise sorted) order, files 0644 and directories 0755 owned by
 * 0:0 with no user or group names, every time the given mtime: the same images and mtime
 * give the same bytes.
 */

struct save_image {
	char *ref; /* "name:tag"; NULL for an image named by a digest that has no tag */
	struct oci_desc manifest, config;
	struct oci_desc *layers;
	size_t nlayers;
	int tar_layers; /* 1: every layer is a tar (OCI or docker layer media type) */
};

/* What save writes (save_plan_make). Every member is owned; save_plan_release frees them. */
struct save_plan {
	struct save_image *images; /* one per distinct name asked for, in order */
	size_t nimages;
	struct oci_desc *blobs; /* every manifest, config and layer, once, sorted by digest */
	char **whose;		/* nblobs: "image REF" (the first image using it), for messages */
	size_t nblobs;
	struct sbuf index;  /* index.json (sorted keys, compact) */
	struct sbuf docker; /* manifest.json; empty when no image has only tar layers */
};
void save_plan_release(struct save_plan *p);

/* Resolves each of names (anything oci_image_resolve takes; a store entry that is an image
 * index gives its linux/amd64 manifest, which is what is saved) and plans the archive. The
 * same name twice is saved once; two names of one image are two index entries sharing
 * their blobs. Reads manifests and configs (checked); layers are not read here. An unknown
 * or damaged image is oci_image_resolve's error. p is released after an error too. */
int save_plan_make(struct oci_store *s, const struct strlist *names, struct save_plan *p,
		   struct err *e);
/* Checks every blob of p (oci_blob_verify with OCI_VERIFY_CACHED): before writing to a
 * stream that cannot be taken back (stdout), so a damaged blob stops the save before the
 * first byte. */
int save_plan_verify(struct oci_store *s, const struct save_plan *p, struct err *e);
/*
 * Writes the archive to fd (left open). Every blob is copied through a verified read
 * (oci_blob_open): a damaged one is its one-line error ("image a:latest: blob PATH: corrupt:
 * ..."), and what was written before it is a truncated archive the caller discards. name is
 * the output in messages.
 */
int save_write_fd(struct oci_store *s, const struct save_plan *p, int64_t mtime, int fd,
		  const char *name, struct err *e);
/* save_write_fd into a temp file beside path, fsync'd and renamed to path (mode 0644) once
 * whole: on any error path is left as it was and the temp file is removed. */
int save_write_file(struct oci_store *s, const struct save_plan *p, int64_t mtime, const char *path,
		    struct err *e);

/*
 * Load. The archive is either
 *   - an OCI image layout in a tar (oci-layout and index.json; skopeo's oci-archive,
 *     `crumb save`, docker 25's `docker save`): every image index.json lists is stored with
 *     its manifest, config and layer blobs copied as they are, so digests are kept; an
 *     entry that is an image index (or docker manifest list) stores its linux/amd64
 *     manifest (oci_image_resolve's pick) and only that one's blobs need be there. Names:
 *     io.containerd.image.name, else org.opencontainers.image.ref.name when it is a whole
 *     reference (has a ':' or '/'; a bare "latest" names a tag of nothing: the image is
 *     stored untagged);
 *   - else a `docker save` archive (manifest.json; docker_archive_image reads each image):
 *     its config and layer tars are stored as they are under a new OCI manifest (layers
 *     application/vnd.oci.image.layer.v1.tar, +gzip or +zstd by their first bytes), named
 *     by its RepoTags.
 *
 * Hostile archives. Every member's name and type is checked first: an absolute name, a
 * ".." component or a control byte, a symbolic or hard link, a device or FIFO is
 * CRUMB_EUNSAFE naming it; a member declaring more than max_bytes is CRUMB_EUNSAFE before a
 * byte of it is read; index.json over 4 MiB too. Only blobs/sha256/HEX, index.json and
 * oci-layout are ever written, by name, into a private directory in the store (created with
 * O_EXCL | O_NOFOLLOW: a name given twice is CRUMB_EFORMAT), each blob hashed as it is
 * extracted and refused when its bytes do not match its name. Then every image is read
 * from there with the store's own checks (oci_open_existing, oci_image_resolve: strict JSON,
 * sizes and digests of manifests and configs) and every layer must be there at its
 * descriptor's size; a docker archive's members are checked as docker_archive_image says.
 * Only when every image of the archive passed are its blobs moved into the store
 * (oci_blob_put_file), and then every name is set in one index.json rewrite
 * (oci_index_add): on any error the store is as it was (nothing tagged, no blob added),
 * the private directory is removed, and the message is one line naming the archive
 * ("ARCHIVE: blobs/sha256/HEX: corrupt: ..."), never the private directory.
 */
#define LOAD_MAX_BYTES (64ULL << 30)
#define LOAD_MAX_IMAGES 1024

struct load_opts {
	const char *path; /* the archive; NULL: read in_fd to its end (spooled into the store) */
	int in_fd;
	const char *name;   /* the archive in messages; NULL: path */
	uint64_t max_bytes; /* a member's largest size; 0: LOAD_MAX_BYTES */
};

struct load_image {
	char *ref; /* "name:tag" as stored; NULL: stored untagged */
	struct oci_desc manifest;
};
struct load_result {
	struct load_image *images; /* in the archive's order; an image with two names twice */
	size_t n;
	int docker; /* 1: the archive was read as a docker save archive */
};
void load_result_release(struct load_result *r);

int load_archive(struct oci_store *s, const struct load_opts *o, struct load_result *out,
		 struct err *e);

#endif

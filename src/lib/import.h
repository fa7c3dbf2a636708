/* import.h: brings archives (tar in any compression, cpio, .deb, OCI layers) into the tree. */
#ifndef CRUMB_IMPORT_H
#define CRUMB_IMPORT_H

#include <stdint.h>

#include "tree.h"

struct vread;

struct import_opts {
	const char *dest;   /* where in the tree the archive's root goes; NULL: "/" */
	int keep_owner;	    /* 1: uid/gid from the archive; 0: root:root */
	uint64_t max_bytes; /* bytes the import may hold in memory; 0: IMPORT_MAX_BYTES */
	int whiteouts;	    /* 1: OCI layer semantics (.wh. files delete, .wh..wh..opq) */
	int found_compress; /* out: the archive's compression as an enum compress
			       (archive.h), so an edited archive is rewritten alike;
			       -1 for one crumb does not write (xz, bzip2, lz4…) */
	int found_cpio;	    /* out: 1 if the archive was a cpio (else tar or .deb) */
	const char *name;   /* the archive's name in messages; NULL: path (or src's name) */
	struct vread *src;  /* when set (vread.h): the archive is read through src, an
			       open verified reader of path, and checked to its end
			       (size and digest) before import_archive returns 0 */
};

#define IMPORT_MAX_BYTES (4ULL << 30)

/*
 * Reads the archive at path into t at o->dest (o may be NULL: defaults).
 *
 * Formats: tar (v7, ustar, pax, GNU incl. sparse), cpio (newc, crc, odc,
 * binary), and .deb (an ar archive: its data.tar.* is imported, the rest
 * ignored), each uncompressed or gzip/bzip2/xz/lzma/zstd/lz4/compress.
 * Nothing else: no zip, iso, mtree (an mtree "archive" names host files, so
 * reading one would copy the build machine's files into the image).
 *
 * Every field comes across: type, permission bits incl. setuid/setgid/
 * sticky, uid/gid (keep_owner), mtime, symlink target, device numbers,
 * xattrs in the user./trusted./security./system. namespaces, hard links
 * (one tree hardlink id per group; a hard link to a name not earlier in this
 * archive is CRUMB_EFORMAT), and holes of sparse members (extents).
 *
 * Content: a member of an uncompressed archive (also an uncompressed
 * data.tar inside a .deb) is referenced in place (src_path = the archive's
 * real path, src_off = where its bytes start), so nothing is copied; the
 * archive must then stay unchanged while the tree is used. Otherwise the
 * bytes are copied into the node; sparse members are held at full size
 * with zero holes (untouched pages). All bytes held in memory, plus a fixed
 * cost per member, are bounded by max_bytes: past it, and for any member
 * declaring more than max_bytes, CRUMB_EUNSAFE naming the member, before
 * anything is allocated.
 *
 * Hostile names: leading "/" is dropped and ".." is resolved by name,
 * clamped at the archive's root, so "../../etc/passwd" lands at
 * dest/etc/passwd. Symlinks already in the tree (from this archive or
 * earlier) are followed in a member's parent directories the way the tree
 * does it, inside the tree only (chroot-like); with a dest other than "/" a
 * member whose parent resolves outside dest is CRUMB_EUNSAFE, as is a
 * parent that is a dangling or looping symlink. More than 256 components,
 * a name part over 255 bytes, a path over 4096 bytes, or nesting deeper
 * than 512 directories: CRUMB_EUNSAFE. A non-directory member replaces
 * what was there, a non-empty directory included (the later member wins);
 * a non-directory naming the archive root itself is CRUMB_EFORMAT. A
 * truncated or corrupt archive is CRUMB_EFORMAT naming the archive and the
 * last member read. The host filesystem is only ever read (the archive).
 *
 * With o->src, a failed check of the archive's bytes is the error (CRUMB_EFORMAT,
 * the reader's message: "... does not match its digest"), whatever the
 * bytes it read looked like; nothing imported from it can be trusted then.
 *
 * On error the tree may hold the members imported before it.
 */
int import_archive(struct tree *t, const char *path, struct import_opts *o, struct err *e);

/*
 * `docker save` archives (a tar holding manifest.json, an image config and
 * layer tars; skopeo's docker-archive too). docker_archive_members reads
 * path and, when it is one, fills config (the first image's config JSON) and
 * extracts its layers, in order, into tmpdir as layer-N files, pushing their
 * paths onto layers and their names for messages ("ARCHIVE: MEMBER") onto
 * names (both start empty). A layer file named more than once in Layers
 * (docker save writes an identical layer once) is extracted once and its
 * path pushed for each place. Returns 1 when path is a docker archive, 0
 * when it is some other archive (nothing done), negative on error.
 *
 * Verified as they are extracted (one pass): the config against the digest
 * its name carries (HEX.json or blobs/sha256/HEX; a config whose name
 * carries none is refused), each layer against the config's
 * rootfs.diff_ids entry, or the digest its own name carries. A member
 * declaring more than max_bytes (0: IMPORT_MAX_BYTES; the config 4 MiB,
 * manifest.json 1 MiB) is CRUMB_EUNSAFE before a byte is read; a member
 * whose data ends early, or a truncated archive, is CRUMB_EFORMAT naming the
 * member ("... truncated or corrupt after MEMBER (which declares N bytes)").
 * Messages name "ARCHIVE: MEMBER", never the files in tmpdir.
 */
int docker_archive_members(const char *path, const char *tmpdir, uint64_t max_bytes,
			   struct sbuf *config, struct strlist *layers, struct strlist *names,
			   struct err *e);
/*
 * docker_archive_members for image `which` (0-based) of manifest.json, which may list
 * several (docker save A B): the same checks, the same outputs, and also that image's
 * RepoTags as written (none for an untagged image; a tag that is not a string is
 * CRUMB_EFORMAT) pushed onto tags when given, and the number of images manifest.json
 * lists in *count when given. `which` past the last image is CRUMB_EFORMAT. Each call
 * reads the archive again; give each image its own tmpdir (layer-N names repeat).
 */
int docker_archive_image(const char *path, const char *tmpdir, uint64_t max_bytes, size_t which,
			 struct sbuf *config, struct strlist *layers, struct strlist *names,
			 struct strlist *tags, size_t *count, struct err *e);

#endif

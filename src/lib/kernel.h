/* kernel.h: builds the crumb kernel from Debian's linux-source and keeps it in the store. */
#ifndef CRUMB_KERNEL_H
#define CRUMB_KERNEL_H

#include <stdint.h>

#include "proc.h"

#define KERNEL_DEFAULT_TARBALL "/usr/src/linux-source-6.1.tar.xz"

/* The fragment in kernel/crumb.config, compiled in. */
extern const char kernel_fragment[];

/* The patches in kernel/patches/, compiled in, in name order; ends with {NULL, NULL}. */
struct kernel_patch {
	const char *name; /* e.g. "virtio-mmio-queue-max.patch" */
	const char *text; /* a unified diff, applied with patch -p1 */
};
extern const struct kernel_patch kernel_patches[];

struct kernel_opts {
	const char *tarball;   /* NULL: KERNEL_DEFAULT_TARBALL */
	const char *fragment;  /* config fragment text; NULL: kernel_fragment */
	int jobs;	       /* make -j; 0: online CPUs */
	proc_line_fn progress; /* gets "== stage" lines and make's output; may be NULL */
	void *ctx;
};

/*
 * A built kernel in the store: <store>/kernels/<id>/{vmlinux,config,info,verified}. info
 * records the vmlinux's sha256 when it is built (a kernel built before crumb recorded it gets
 * it recorded the first time it is used); verified is a stamp (kernel_file_check).
 */
struct kernel_info {
	char *id; /* 16 hex digits: hash of source identity + patches + fragment + recipe */
	char *dir;
	char *vmlinux;
	char *release; /* `make kernelrelease`, e.g. 6.1.158 */
	char *source;  /* the tarball it came from */
	char *sha256;  /* 64 hex digits of vmlinux, or NULL when info has none */
	uint64_t size; /* bytes of vmlinux */
	double build_seconds;
	int64_t built; /* unix time */
};
void kernel_info_release(struct kernel_info *ki);

/* The id a build with these options has. Needs the tarball to exist. */
int kernel_id(const struct kernel_opts *o, char id[17], struct err *e);

/* Finds the kernel these options build; CRUMB_ENOENT if it was never built; CRUMB_EFORMAT
 * (kernel_verify's message) when its vmlinux is not what was built. */
int kernel_lookup(const char *store, const struct kernel_opts *o, struct kernel_info *ki,
		  struct err *e);

/*
 * Builds the kernel unless the store has it (then *cached = 1 and nothing
 * runs): extracts the tarball once into <store>/cache, runs `make
 * tinyconfig`, merges the fragment, checks that every option the fragment
 * sets (and every "is not set") holds in the final .config, builds vmlinux
 * with fixed build user/host/timestamp, and moves the result into the store
 * atomically. Holds <store>/kernels/.lock meanwhile.
 */
int kernel_build(const char *store, const struct kernel_opts *o, struct kernel_info *ki,
		 int *cached, struct err *e);

/* The stored kernel with this id (16 hex digits), verified: CRUMB_ENOENT when there is none. */
int kernel_open(const char *store, const char *id, struct kernel_info *ki, struct err *e);

/* Checks ki->vmlinux against the sha256 its info records (kernel_file_check, stamp
 * <dir>/verified); a kernel whose info records none has its digest recorded now. A mismatch
 * is CRUMB_EFORMAT, one line naming the file. */
int kernel_verify(struct kernel_info *ki, struct err *e);

/*
 * Checks that the file at path holds the bytes whose sha256 is hex (64 lowercase hex digits;
 * NULL: the digest the stamp records), cheaply: the stamp file keeps "crumb-stamp-1 HEX" and
 * the file's stat data (dev, ino, size, mtime, ctime) from the last full hash that found it
 * good, as the store's verification records do (oci.h): a change to the file moves its ctime,
 * which cannot be set back, so a matching stamp stands for a hash (one open, one fstat, one
 * small read). Otherwise the file is hashed in full; when it matches, the stamp is rewritten,
 * with the stat data only when the file's ctime is more than a second older than the hash
 * began (git's "racily clean" rule). The file is opened with O_NOFOLLOW and must be a regular
 * file. A mismatch is CRUMB_EFORMAT "PATH: content does not match its digest"; a missing file
 * CRUMB_ENOENT; with hex NULL and no readable stamp CRUMB_ENOENT too.
 */
int kernel_file_check(const char *path, const char *hex, const char *stamp, struct err *e);
/* Writes stamp for a file just made from bytes known to hash to hex: without stat data (a
 * file changed this instant is racy), so the next check hashes it in full once. */
int kernel_stamp_new(const char *stamp, const char *hex, struct err *e);
/* The sha256 of a whole file, as 64 hex digits. */
int kernel_file_sha256(const char *path, char hex[65], struct err *e);

/* All kernels in the store, sorted by build time (newest first). */
int kernel_list(const char *store, struct kernel_info **list, size_t *n, struct err *e);

/*
 * Compares a fragment with a final .config: every "CONFIG_X=v" line must
 * appear verbatim, every "# CONFIG_X is not set" must not be set. On a
 * mismatch returns CRUMB_EFORMAT listing the options.
 */
int kernel_check_config(const char *fragment, const char *config, struct err *e);

#endif

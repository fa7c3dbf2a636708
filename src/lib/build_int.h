/* build_int.h: what build.c and build_copy.c (COPY/ADD) share; private to the two, not an API. */
#ifndef CRUMB_BUILD_INT_H
#define CRUMB_BUILD_INT_H

#include <openssl/evp.h>
#include <stdint.h>

#include "build.h"
#include "initcfg.h"
#include "spec.h"
#include "tree.h"
#include "util.h"
#include "vmconf.h"

/* ---- errors and cache keys (build.c) ---- */

/* Sets e to "FILE:LINE:COL: " (instruction i's position) and the message;
 * returns code. Every error a build step reports goes through it. */
int build_at(const struct spec_instr *i, struct err *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Prefixes the library error in e with i's position and kind ("...: COPY: msg"); returns r. */
int build_at_err(const struct spec_instr *i, struct err *e, int r);

/* A step's cache key is a SHA-256 over everything its result depends on. */
struct build_hasher {
	EVP_MD_CTX *md;
};
void build_hash_init(struct build_hasher *h);
/* Adds s and its terminating NUL (NULL hashes as a value of its own). */
void build_hash_str(struct build_hasher *h, const char *s);
/* Writes the hex digest (64 digits and a NUL) and frees h's state. */
void build_hash_final(struct build_hasher *h, char out[65]);
/* Adds every node of t that reaches the image: path, metadata, xattrs, contents. */
int build_hash_tree(struct tree *t, struct build_hasher *h, struct err *e);
/* key = H(key, a, b): the stage's key after one more input. */
void build_key_chain(char key[65], const char *a, const char *b);
/* A tree_walk callback: the node's mtime clamped to *(const int64_t *)ctx
 * (SOURCE_DATE_EPOCH, 0 when unset); older times stay. */
int build_clamp_mtime(struct tree_node *n, const char *path, void *ctx);

/* The short names build*.c use. */
#define at(...) build_at(__VA_ARGS__)
#define at_err(...) build_at_err(__VA_ARGS__)
#define chain(...) build_key_chain(__VA_ARGS__)

/* ---- COPY / ADD (build_copy.c) ---- */

/* What COPY reads of the build besides the stage. */
struct build_copy_env {
	const char *context;	      /* the build context, as given */
	const char *ctxreal;	      /* its real path */
	const struct strlist *ignore; /* .dockerignore patterns (build_load_ignore) */
	const struct strlist *allow;  /* --allow-host paths, resolved (confine.h) */
	int64_t epoch;		      /* file times newer than it are written as it */
};

/* Pushes the patterns of CONTEXT/.dockerignore onto out, cleaned (no leading
 * "/" or "./", no trailing "/"), a "!" kept in front; nothing when it is
 * missing or over 1 MiB. */
void build_load_ignore(const char *context, struct strlist *out);

/* Where a destination lands: dest if absolute, else below workdir (NULL: "/").
 * malloc'd. */
char *build_dest_path(const char *workdir, const char *dest);

/*
 * Carries out COPY or ADD i, evaluated as v, into t, the tree of a stage
 * whose WORKDIR is workdir: its sources come from from (the --from=STAGE
 * stage's tree), else from the context, or from the host with --from=host
 * (confine.h's rules, file by file, --deps libraries included). Context
 * sources honour .dockerignore and may not leave the context. Owner and mode
 * (--chown, --chmod) change on what was copied only. File times are clamped
 * to env->epoch, then what was copied is hashed into key (the stage's cache
 * key) and merged into t; directories already in t keep their owner and mode.
 * Errors name i's FILE:LINE:COL; t is unchanged by one that comes before the
 * merge (every one but an I/O error while merging).
 */
int build_copy(const struct build_copy_env *env, const struct spec_instr *i,
	       const struct spec_eval *v, struct tree *from, struct tree *t, const char *workdir,
	       char key[65], struct err *e);

/* ---- RUN --mount (build_mount.c) ---- */

/* At most this many disks a builder boot gets for its steps' mounts (one per cache, one for
 * all binds, one for the secrets): QEMU's microvm has 8 virtio slots, and the root, the config
 * disk, the network card, the console and the rng take 5. The group of RUN steps sharing a
 * boot ends before it would need more. */
#define BUILD_MAX_DISKS 3

/* A --from= of a bind or cache mount: the tree of an earlier stage, or of a stored image
 * loaded into *img (the callee's, released by the caller with tree_release). */
typedef int build_from_fn(void *ctx, const struct spec_instr *i, const char *from,
			  struct tree **from_tree, struct tree *img, struct err *e);

/* What the mounts of RUN steps read of the build. */
struct build_mount_env {
	const struct build_copy_env *copy;  /* bind sources from the context */
	const char *root;		    /* the store: caches live in ROOT/buildcache */
	const char *tmp;		    /* the build's temporary directory */
	const struct build_secret *secrets; /* --secret, each with its bytes in value */
	size_t nsecrets;
	build_from_fn *from;
	void *from_ctx;
	int64_t epoch;
};

/* One mount of one step, as crumb-init will make it (private to build_mount.c). */
struct rm_item;
struct rm_disk;

/* The mounts of a group of RUN steps sharing one builder boot: the disks QEMU attaches, in
 * order (/dev/vdb, /dev/vdc ...), and each step's step_mount and step_secret lines. */
struct run_mounts {
	const struct build_mount_env *env;
	struct rm_item *items;
	size_t nitems;
	struct rm_disk *disks;
	size_t ndisks;
	int secret_disk; /* index of the secrets disk in disks, or -1 */
	int bind_disk;	 /* index of the disk every bind's content is on, or -1 */
	int nbinds;
	struct sbuf secrets; /* its bytes (each secret at a 512-byte boundary) */
	int memfd;	     /* the secrets disk: in memory only, never a file */
	int ntmp;
};

void run_mounts_init(struct run_mounts *m, const struct build_mount_env *env);
/* Zeroes the secrets' bytes, closes and unlocks everything, removes the temporary disks. */
void run_mounts_release(struct run_mounts *m);

/*
 * Adds the --mount list of RUN step number step (instruction i, evaluated as v, in a stage
 * whose WORKDIR is workdir): targets resolved below workdir and checked (not /, nor under
 * /proc, /sys or /dev), bind contents read (from the context, .dockerignore applied, or
 * from= a stage or image) and hashed into key, secrets looked up (a required one that
 * --secret did not give is CRUMB_ENOENT; an optional one is left out). Nothing is written
 * yet. Errors name i's FILE:LINE:COL.
 */
int run_mounts_add(struct run_mounts *m, size_t step, const struct spec_instr *i,
		   const struct spec_eval *v, const char *workdir, char key[65], struct err *e);

/* How many disks the steps added so far need, and would need with v's mounts as well. */
size_t run_mounts_ndisks(const struct run_mounts *m);
size_t run_mounts_ndisks_with(const struct run_mounts *m, const struct spec_eval *v);
/* The sorted ids of the secrets v mounts, one per line: steps with different ones never
 * share a boot (a step could read the secrets disk of another's). malloc'd. */
char *run_mounts_secret_sig(const struct spec_eval *v);

/* Before the boot: bind disks written, caches made if missing and locked (in the order of
 * their ids; private sharing takes a fresh disk when the cache is busy), the secrets disk
 * filled. vols gets the disks (at most BUILD_MAX_DISKS), *nvols their count. */
int run_mounts_prepare(struct run_mounts *m, struct vm_volume *vols, size_t *nvols, struct err *e);
/* The checks on mount sm of RUN i that need no variable (made before the build starts, so
 * that a bad one writes nothing): an absolute target (not /, nor under /proc, /sys, /dev),
 * a required secret that secrets (n of them) lacks. Values holding a '$' are skipped. */
int run_mount_check(const struct spec_instr *i, const struct spec_mount *sm,
		    const struct build_secret *secrets, size_t n, struct err *e);

/* Adds step number step's step_mount and step_secret lines to s. */
void run_mounts_config(const struct run_mounts *m, size_t step, struct initcfg_step *s);

#endif

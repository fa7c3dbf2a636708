/* build_int.h: what build.c and build_copy.c (COPY/ADD) share; private to the two, not an API. */
#ifndef CRUMB_BUILD_INT_H
#define CRUMB_BUILD_INT_H

#include <openssl/evp.h>
#include <stdint.h>

#include "spec.h"
#include "tree.h"
#include "util.h"

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

#endif

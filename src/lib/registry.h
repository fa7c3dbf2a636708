/* registry.h: the OCI distribution protocol over libcurl: pull images into the store, push
 * them out, check credentials. https://github.com/opencontainers/distribution-spec */
#ifndef CRUMB_REGISTRY_H
#define CRUMB_REGISTRY_H

#include <stdint.h>

#include "hostenv.h"
#include "oci.h"
#include "ref.h"
#include "util.h"

enum reg_event {
	REG_BLOB_FETCH,	 /* a blob's download starts (resumed_at > 0: from there) */
	REG_BLOB_DONE,	 /* ... and ended, checked and stored */
	REG_BLOB_HAVE,	 /* pull: the store has it already; push: the registry has it */
	REG_BLOB_PUSH,	 /* a blob's upload starts */
	REG_BLOB_PUSHED, /* ... and the registry took it */
};
struct reg_blob {
	const char *digest;
	const char *media_type;
	uint64_t size, resumed_at;
	double secs; /* DONE, PUSHED: how long it took */
};
typedef void (*reg_progress_fn)(void *ctx, enum reg_event ev, const struct reg_blob *b);

struct reg_opts {
	const struct hostenv *env; /* HOME, DOCKER_CONFIG (credentials), XDG_CONFIG_HOME (CAs) */
	int insecure;		   /* --tls-verify=false: any certificate, and plain HTTP */
	const char *platform; /* "os/arch[/variant]" an index is resolved for; NULL linux/amd64 */
	int jobs;	      /* blobs fetched at once; 0: 4 */
	int64_t limit_rate;   /* bytes per second per transfer; 0: no limit */
	const char *user, *pass; /* credentials to use; NULL: config.json's (creds.h) */
	reg_progress_fn progress;
	void *ctx;
};

/* What a manifest's bytes ask for (reg_manifest_plan). */
struct reg_plan {
	char media_type[128];	/* the manifest's */
	char child[80];		/* an index: the digest of the platform's manifest; else "" */
	struct oci_desc *blobs; /* an image manifest: its config, then its layers */
	size_t nblobs;
};
/*
 * Reads a manifest's bytes as a registry sent them (ctype: its Content-Type, or NULL) as
 * untrusted input: a JSON object (duplicate keys refused) of schema 2 (schema 1 is
 * CRUMB_EUNSUPP), at most 4 MiB; an index or manifest list resolved for platform (NULL:
 * linux/amd64) into p->child, an image manifest into its config and at most 1024 layers, each
 * a descriptor with a valid media type, a sha256 digest and a size. what names the manifest
 * in messages. Release p with reg_plan_release, also after an error.
 */
int reg_manifest_plan(const char *what, const char *json, size_t len, const char *ctype,
		      const char *platform, struct reg_plan *p, struct err *e);
void reg_plan_release(struct reg_plan *p);

/* The value of parameter key (matched without case) in the parameter list of a
 * WWW-Authenticate challenge, `realm="https://a/token",service="reg"` (quoted with \ escapes,
 * or bare up to a comma): malloc'd, or NULL when it is not there. The registry's bytes. */
char *reg_challenge_param(const char *params, const char *key);

/*
 * Pulls r into the store: the manifest (an index or manifest list is resolved for the
 * platform), its config and layers, each blob fetched once into the store by digest,
 * verified against its descriptor (size and sha256) before it is stored; several at once;
 * a blob half-fetched by an interrupted pull is kept in ROOT/tmp/pull and resumed (HTTP
 * Range) by the next. The image is tagged with imgref_store_name(r) when r has a tag (a pull
 * by digest alone stores it untagged: reachable by its digest). manifest: the stored
 * (platform) manifest's descriptor. Nothing is tagged unless every blob is good.
 */
int reg_pull(struct oci_store *s, const struct imgref *r, const struct reg_opts *o,
	     struct oci_desc *manifest, struct err *e);

/* Pushes image im of the store to dst (a tag; not a digest): every blob the registry lacks
 * (read from the store verified), then the manifest's own bytes, so the registry's digest is
 * the store's. */
int reg_push(struct oci_store *s, const struct oci_image *im, const struct imgref *dst,
	     const struct reg_opts *o, struct err *e);

/* Checks o->user and o->pass against registry (a host[:port], or docker.io): 0 when the
 * registry accepts them (or asks for none). */
int reg_login(const char *registry, const struct reg_opts *o, struct err *e);

#endif

/* ref.h: Docker image references: "alpine" is docker.io/library/alpine:latest,
 * "host:port/name:tag@sha256:HEX" names a registry, a repository, a tag and a digest. */
#ifndef CRUMB_REF_H
#define CRUMB_REF_H

#include "util.h"

/* The registry of a reference with no host, and the host its API answers on. */
#define REF_DOCKER_HUB "docker.io"
#define REF_DOCKER_HUB_API "registry-1.docker.io"

struct imgref {
	char *domain; /* "docker.io", "127.0.0.1:5000", "[::1]:5000" */
	char *path;   /* "library/alpine", "me/app" */
	char *tag;    /* "latest" when neither tag nor digest was given; NULL with a digest only */
	char *digest; /* "sha256:" + 64 hex, or NULL */
};

/*
 * Parses s by Docker's rules (github.com/distribution/reference): the first component is a
 * registry host when it holds a '.' or ':' or is "localhost" (and more components follow),
 * else the registry is docker.io, where a one-component name gets "library/";
 * "index.docker.io" is docker.io. Names are lowercase path components of at most 255 bytes
 * in all; a tag is [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}; a digest is sha256: and 64 lowercase hex
 * digits. CRUMB_EINVAL with the reason otherwise. Release r with imgref_release.
 */
int imgref_parse(const char *s, struct imgref *r, struct err *e);
void imgref_release(struct imgref *r);

/* "domain/path" (malloc'd). */
char *imgref_repo(const struct imgref *r);
/* The name crumb's store keeps a pulled image under: "domain/path:tag" (malloc'd), or NULL
 * for a reference by digest only. */
char *imgref_store_name(const struct imgref *r);
/* "domain/path[:tag][@digest]" (malloc'd). */
char *imgref_string(const struct imgref *r);
/* The host:port the registry's API answers on (docker.io's is registry-1.docker.io). */
const char *imgref_api_host(const struct imgref *r);

/* 1 when s, read as a reference, names a registry host explicitly ("host.tld/x", "host:5000/x",
 * "localhost/x"): a name crumb never gives its own images. */
int ref_has_domain(const char *s);

#endif

/* creds.h: registry credentials, kept where and as Docker keeps them: the "auths" object of
 * $DOCKER_CONFIG/config.json, else ~/.docker/config.json, {"HOST": {"auth": base64(user:pass)}}. */
#ifndef CRUMB_CREDS_H
#define CRUMB_CREDS_H

#include "hostenv.h"
#include "util.h"

/* The key Docker files docker.io's credentials under. */
#define CREDS_DOCKER_HUB_KEY "https://index.docker.io/v1/"

/* The config file's path (malloc'd): $DOCKER_CONFIG/config.json, else
 * $HOME/.docker/config.json; CRUMB_EINVAL when neither variable is set. */
int creds_path(const struct hostenv *env, char **out, struct err *e);

/* The key a registry's entry has: CREDS_DOCKER_HUB_KEY for docker.io (and index.docker.io,
 * registry-1.docker.io), else host[:port] with any scheme and path cut, as Docker's
 * ConvertToHostname does (malloc'd). */
char *creds_key(const char *registry);

/* The user and password stored for registry (matched as Docker matches: the key, or any
 * entry whose key reduces to the same host). 0 with *user and *pass malloc'd; CRUMB_ENOENT
 * when there is none (or no file); CRUMB_EFORMAT naming the file when it is not JSON or an
 * entry's auth is not base64 of user:password. */
int creds_get(const char *path, const char *registry, char **user, char **pass, struct err *e);

/* Stores (replaces) registry's entry, keeping the rest of the file as it was; the file is
 * written mode 0600 (temp + rename), its directory made 0700 when missing. */
int creds_set(const char *path, const char *registry, const char *user, const char *pass,
	      struct err *e);

/* Removes registry's entries: 1 when one was removed, 0 when there was none. */
int creds_remove(const char *path, const char *registry, struct err *e);

#endif

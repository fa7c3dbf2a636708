/* creds.c: registry credentials in Docker's config.json (creds.h). */
#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "creds.h"

#define CONFIG_MAX (4u << 20)

int creds_path(const struct hostenv *env, char **out, struct err *e)
{
	if (env && env->docker_config)
		*out = xasprintf("%s/config.json", env->docker_config);
	else if (env && env->home)
		*out = xasprintf("%s/.docker/config.json", env->home);
	else
		return err_set(e, CRUMB_EINVAL,
			       "no DOCKER_CONFIG or HOME: nowhere to keep registry credentials");
	return 0;
}

char *creds_key(const char *registry)
{
	const char *h = registry;
	if (!strncmp(h, "https://", 8))
		h += 8;
	else if (!strncmp(h, "http://", 7))
		h += 7;
	size_t n = strcspn(h, "/");
	if (n == 0 || (n == 9 && !memcmp(h, "docker.io", 9)) ||
	    (n == 15 && !memcmp(h, "index.docker.io", 15)) ||
	    (n == 20 && !memcmp(h, "registry-1.docker.io", 20)))
		return xstrdup(CREDS_DOCKER_HUB_KEY);
	return xstrndup(h, n);
}

/* Loads the file: *j an object (empty when the file is missing). */
static int load(const char *path, json_t **j, struct err *e)
{
	struct sbuf b = SBUF_INIT;
	int r = read_file(path, CONFIG_MAX, &b, e);
	if (r == CRUMB_ENOENT) {
		*j = json_object();
		sb_release(&b);
		return 0;
	}
	if (r < 0) {
		sb_release(&b);
		return r;
	}
	json_error_t je;
	*j = json_loadb(b.buf ? b.buf : "", b.len, JSON_REJECT_DUPLICATES, &je);
	sb_release(&b);
	if (!*j || !json_is_object(*j)) {
		json_decref(*j);
		*j = NULL;
		return err_set(e, CRUMB_EFORMAT, "%s: not a JSON object (line %d: %s)", path,
			       je.line, je.text);
	}
	return 0;
}

int creds_get(const char *path, const char *registry, char **user, char **pass, struct err *e)
{
	json_t *j, *auths, *ent;
	const char *k;
	int r = load(path, &j, e);
	if (r < 0)
		return r;
	char *want = creds_key(registry);
	r = CRUMB_ENOENT;
	auths = json_object_get(j, "auths");
	json_object_foreach(auths, k, ent)
	{
		char *have = creds_key(k);
		int hit = !strcmp(have, want);
		free(have);
		if (!hit)
			continue;
		const char *a = json_string_value(json_object_get(ent, "auth"));
		if (!a || !*a)
			continue; /* an entry a credential helper fills: not ours to read */
		size_t n = strlen(a);
		unsigned char *dec = xmalloc(n + 1);
		int dn = n % 4 ? -1 : EVP_DecodeBlock(dec, (const unsigned char *)a, (int)n);
		if (dn >= 0) { /* EVP_DecodeBlock counts the '=' padding as bytes */
			while (n > 0 && a[n - 1] == '=' && dn > 0)
				n--, dn--;
			dec[dn] = 0;
		}
		char *colon = dn > 0 ? memchr(dec, ':', (size_t)dn) : NULL;
		if (!colon || memchr(dec, 0, (size_t)dn)) {
			free(dec);
			r = err_set(e, CRUMB_EFORMAT,
				    "%s: auths.%s.auth is not base64 of user:password", path, k);
			break;
		}
		*colon = 0;
		*user = xstrdup((char *)dec);
		*pass = xstrdup(colon + 1);
		free(dec);
		r = 0;
		break;
	}
	free(want);
	json_decref(j);
	return r;
}

static int save(const char *path, json_t *j, struct err *e)
{
	char *dir = xstrdup(path), *sl = strrchr(dir, '/');
	int r = 0;
	if (sl && sl != dir) {
		*sl = 0;
		r = mkdir_p(dir, 0700, e);
	}
	free(dir);
	if (r < 0)
		return r;
	char *s = json_dumps(j, JSON_INDENT(1) | JSON_SORT_KEYS);
	if (!s)
		return err_set(e, CRUMB_EINVAL, "%s: cannot render the credentials", path);
	size_t n = strlen(s);
	s = xrealloc(s, n + 2);
	s[n++] = '\n';
	r = write_file_atomic(path, s, n, 0600, e);
	free(s);
	return r;
}

/* Deletes every entry of auths whose key reduces to want's; the number deleted. */
static int drop(json_t *auths, const char *want)
{
	const char *k;
	json_t *v;
	void *tmp;
	int n = 0;
	json_object_foreach_safe(auths, tmp, k, v)
	{
		char *have = creds_key(k);
		if (!strcmp(have, want)) {
			json_object_del(auths, k);
			n++;
		}
		free(have);
	}
	return n;
}

int creds_set(const char *path, const char *registry, const char *user, const char *pass,
	      struct err *e)
{
	json_t *j;
	int r = load(path, &j, e);
	if (r < 0)
		return r;
	json_t *auths = json_object_get(j, "auths");
	if (!json_is_object(auths)) {
		auths = json_object();
		json_object_set_new(j, "auths", auths);
	}
	char *key = creds_key(registry);
	drop(auths, key);
	char *plain = xasprintf("%s:%s", user, pass);
	size_t pn = strlen(plain);
	char *b64 = xmalloc(4 * ((pn + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)plain, (int)pn);
	explicit_bzero(plain, pn);
	free(plain);
	json_t *ent = json_object();
	json_object_set_new(ent, "auth", json_string(b64));
	json_object_set_new(auths, key, ent);
	free(b64);
	free(key);
	r = save(path, j, e);
	json_decref(j);
	return r;
}

int creds_remove(const char *path, const char *registry, struct err *e)
{
	json_t *j;
	int r = load(path, &j, e);
	if (r < 0)
		return r;
	char *key = creds_key(registry);
	json_t *auths = json_object_get(j, "auths");
	int n = json_is_object(auths) ? drop(auths, key) : 0;
	free(key);
	r = n ? save(path, j, e) : 0;
	json_decref(j);
	return r < 0 ? r : n > 0;
}

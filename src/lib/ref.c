/* ref.c: Docker image references (ref.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oci.h"
#include "ref.h"

void imgref_release(struct imgref *r)
{
	free(r->domain);
	free(r->path);
	free(r->tag);
	free(r->digest);
	memset(r, 0, sizeof(*r));
}

/* The length of the domain component of name (name without tag or digest), 0 when none. */
static size_t domain_len(const char *name)
{
	const char *sl = strchr(name, '/');
	if (!sl)
		return 0;
	size_t fl = (size_t)(sl - name);
	if (memchr(name, '.', fl) || memchr(name, ':', fl) ||
	    (fl == 9 && !memcmp(name, "localhost", 9)))
		return fl;
	return 0;
}

int ref_has_domain(const char *s)
{
	return domain_len(s) > 0;
}

int imgref_parse(const char *s, struct imgref *r, struct err *e)
{
	memset(r, 0, sizeof(*r));
	const char *at = strchr(s, '@');
	char *name = at ? xstrndup(s, (size_t)(at - s)) : xstrdup(s);
	char *norm = NULL;
	int r2 = 0;
	if (at) {
		const char *dg = at + 1;
		if (!oci_digest_valid(dg)) {
			free(name);
			return err_set(e, CRUMB_EINVAL,
				       "invalid reference '%s': a digest is sha256: and 64 "
				       "lowercase hex digits",
				       s);
		}
		r->digest = xstrdup(dg);
	}
	/* oci_ref_normalize checks Docker's grammar and adds ":latest" when no tag is given. */
	if ((r2 = oci_ref_normalize(name, &norm, e)) < 0) {
		char why[ERR_MSG_MAX];
		const char *w = strstr(e->msg, "': ");
		snprintf(why, sizeof(why), "%s", w ? w + 3 : e->msg);
		err_set(e, r2, "invalid reference '%s': %s", s, why);
		free(name);
		imgref_release(r);
		return r2;
	}
	/* The tag written, else "latest" when there is no digest either (Docker's rule). */
	const char *sl = strrchr(name, '/'), *co = strrchr(name, ':');
	int written = co && (!sl || co > sl);
	*strrchr(norm, ':') = 0;
	if (written || !at)
		r->tag = xstrdup(written ? co + 1 : "latest");
	size_t dl = domain_len(norm);
	if (dl) {
		r->domain = xstrndup(norm, dl);
		r->path = xstrdup(norm + dl + 1);
		if (!strcmp(r->domain, "index.docker.io")) {
			free(r->domain);
			r->domain = xstrdup(REF_DOCKER_HUB);
		}
	} else {
		r->domain = xstrdup(REF_DOCKER_HUB);
		r->path = xstrdup(norm);
	}
	if (!strcmp(r->domain, REF_DOCKER_HUB) && !strchr(r->path, '/')) {
		char *p = xasprintf("library/%s", r->path);
		free(r->path);
		r->path = p;
	}
	free(norm);
	free(name);
	if (strlen(r->domain) + 1 + strlen(r->path) > 255) {
		imgref_release(r);
		return err_set(e, CRUMB_EINVAL,
			       "invalid reference '%s': the name is longer than "
			       "255 bytes",
			       s);
	}
	return 0;
}

char *imgref_repo(const struct imgref *r)
{
	return xasprintf("%s/%s", r->domain, r->path);
}

char *imgref_store_name(const struct imgref *r)
{
	return r->tag ? xasprintf("%s/%s:%s", r->domain, r->path, r->tag) : NULL;
}

char *imgref_string(const struct imgref *r)
{
	return xasprintf("%s/%s%s%s%s%s", r->domain, r->path, r->tag ? ":" : "",
			 r->tag ? r->tag : "", r->digest ? "@" : "", r->digest ? r->digest : "");
}

const char *imgref_api_host(const struct imgref *r)
{
	return strcmp(r->domain, REF_DOCKER_HUB) ? r->domain : REF_DOCKER_HUB_API;
}

/* registry.c: the OCI distribution protocol over libcurl (registry.h). */
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "creds.h"
#include "curl_dl.h"
#include "registry.h"
#include "vmconf.h"
#include "vread.h"

#define MANIFEST_MAX (4u << 20)
#define REG_MAX_LAYERS 1024  /* as the store reads manifests (oci.c) */
#define SMALL_MAX (1u << 20) /* token and error bodies */
#define SYSTEM_CAS "/etc/ssl/certs/ca-certificates.crt"

#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_V1 "application/vnd.docker.distribution.manifest.v1"

/* One registry session: a host, a repository and what we may do there. */
struct reg {
	const struct reg_opts *o;
	char *host;	    /* where the API answers */
	const char *scheme; /* "https", or "http" once https failed on an insecure host */
	char *repo;	    /* "library/alpine"; NULL for login */
	const char *actions;
	char *authz; /* "Authorization: ..." or NULL */
	char *user, *pass;
	struct sbuf cas; /* PEM: the system's CAs and the host's certs.d ones; empty: default */
	CURL *ez;
};

/* What a request's answer held. */
struct resp {
	long status;
	struct sbuf body;
	size_t max;
	int too_big;
	char *www_auth, *location, *digest, *ctype, *range;
};

static void resp_release(struct resp *r)
{
	sb_release(&r->body);
	free(r->www_auth);
	free(r->location);
	free(r->digest);
	free(r->ctype);
	free(r->range);
	memset(r, 0, sizeof(*r));
}

static void resp_reset_headers(struct resp *r)
{
	free(r->www_auth);
	free(r->location);
	free(r->digest);
	free(r->ctype);
	free(r->range);
	r->www_auth = r->location = r->digest = r->ctype = r->range = NULL;
}

static int global_init(struct err *e)
{
	static int done;
	const char *why = done ? NULL : curl_dl_error();
	if (why)
		return err_set(e, CRUMB_EUNSUPP,
			       "the registry client needs libcurl: %s (install Debian's libcurl4)",
			       why);
	if (!done && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return err_set(e, CRUMB_EIO, "libcurl: cannot initialise");
	done = 1;
	return 0;
}

/* ---- CAs: certs.d directories as Docker and the containers tools read them ---- */

static void add_pem_dir(struct sbuf *out, const char *dir, int *found)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	if (!d)
		return;
	struct strlist names = STRLIST_INIT;
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		if (n > 4 && !strcmp(de->d_name + n - 4, ".crt"))
			strlist_push(&names, de->d_name);
	}
	closedir(d);
	for (size_t i = 0; i < names.n; i++) {
		char *p = xasprintf("%s/%s", dir, names.v[i]);
		struct sbuf b = SBUF_INIT;
		struct err e = {0};
		if (read_file(p, 1u << 20, &b, &e) == 0 && b.len) {
			sb_add(out, b.buf, b.len);
			sb_addc(out, '\n');
			*found = 1;
		}
		sb_release(&b);
		free(p);
	}
	strlist_release(&names);
}

static void load_cas(struct reg *g)
{
	const struct hostenv *env = g->o->env;
	struct sbuf extra = SBUF_INIT;
	int found = 0;
	char *dirs[4] = {NULL};
	if (env && env->xdg_config_home)
		dirs[0] = xasprintf("%s/containers/certs.d/%s", env->xdg_config_home, g->host);
	else if (env && env->home)
		dirs[0] = xasprintf("%s/.config/containers/certs.d/%s", env->home, g->host);
	if (env && env->docker_config)
		dirs[1] = xasprintf("%s/certs.d/%s", env->docker_config, g->host);
	dirs[2] = xasprintf("/etc/containers/certs.d/%s", g->host);
	dirs[3] = xasprintf("/etc/docker/certs.d/%s", g->host);
	for (int i = 0; i < 4; i++) {
		if (dirs[i])
			add_pem_dir(&extra, dirs[i], &found);
		free(dirs[i]);
	}
	if (found) {
		struct err e = {0};
		if (read_file(SYSTEM_CAS, 16u << 20, &g->cas, &e) < 0)
			sb_reset(&g->cas);
		sb_add(&g->cas, extra.buf, extra.len);
	}
	sb_release(&extra);
}

/* ---- requests ---- */

static size_t on_header(char *buf, size_t size, size_t n, void *ctx)
{
	struct resp *r = ctx;
	size_t len = size * n, k = len;
	if (len >= 5 && !memcmp(buf, "HTTP/", 5)) {
		resp_reset_headers(r); /* a new answer (after a redirect or 100) */
		return len;
	}
	while (k > 0 && (buf[k - 1] == '\r' || buf[k - 1] == '\n'))
		k--;
	const char *c = memchr(buf, ':', k);
	if (!c)
		return len;
	size_t nl = (size_t)(c - buf);
	const char *v = c + 1;
	while (v < buf + k && (*v == ' ' || *v == '\t'))
		v++;
	char *val = xstrndup(v, (size_t)(buf + k - v));
	char **slot = NULL;
	if (nl == 16 && !strncasecmp(buf, "WWW-Authenticate", nl))
		slot = &r->www_auth;
	else if (nl == 8 && !strncasecmp(buf, "Location", nl))
		slot = &r->location;
	else if (nl == 21 && !strncasecmp(buf, "Docker-Content-Digest", nl))
		slot = &r->digest;
	else if (nl == 12 && !strncasecmp(buf, "Content-Type", nl))
		slot = &r->ctype;
	else if (nl == 13 && !strncasecmp(buf, "Content-Range", nl))
		slot = &r->range;
	if (slot) {
		free(*slot);
		*slot = val;
	} else {
		free(val);
	}
	return len;
}

static size_t on_body(char *buf, size_t size, size_t n, void *ctx)
{
	struct resp *r = ctx;
	size_t len = size * n;
	if (r->body.len + len > r->max) {
		r->too_big = 1;
		return 0;
	}
	sb_add(&r->body, buf, len);
	return len;
}

/* An upload from memory or from a verified blob. */
struct upload {
	const char *mem;
	size_t len, off;
	struct vread *v;
	struct err *e;
	int failed;
};

static size_t on_read(char *buf, size_t size, size_t n, void *ctx)
{
	struct upload *u = ctx;
	size_t want = size * n;
	if (u->v) {
		ssize_t got = vread_read(u->v, buf, want, u->e);
		if (got < 0) {
			u->failed = 1;
			return CURL_READFUNC_ABORT;
		}
		return (size_t)got;
	}
	size_t k = u->len - u->off < want ? u->len - u->off : want;
	memcpy(buf, u->mem + u->off, k);
	u->off += k;
	return k;
}

/* Options every handle gets: TLS per the session, redirects, timeouts. */
static void setup(struct reg *g, CURL *c)
{
	curl_easy_setopt(c, CURLOPT_USERAGENT, "crumb/" CRUMB_VERSION);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 8L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#endif
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 120L);
	if (g->o->insecure) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	} else if (g->cas.len) {
		struct curl_blob b = {g->cas.buf, g->cas.len, CURL_BLOB_NOCOPY};
		curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &b);
	}
}

/* The registry's own words from an error body ({"errors":[{"code","message"}]}), or "". */
static void reg_words(const struct resp *r, char *out, size_t n)
{
	out[0] = 0;
	json_t *j = r->body.len ? json_loadb(r->body.buf, r->body.len, 0, NULL) : NULL;
	json_t *e0 = json_array_get(json_object_get(j, "errors"), 0);
	const char *code = json_string_value(json_object_get(e0, "code"));
	const char *msg = json_string_value(json_object_get(e0, "message"));
	if (code || msg)
		snprintf(out, n, " (%s%s%s)", code ? code : "", code && msg ? ": " : "",
			 msg ? msg : "");
	json_decref(j);
}

static int authenticate(struct reg *g, const char *challenge, struct err *e);

/*
 * One request to url: hdrs (may be NULL) plus the session's Authorization; a body from up
 * (NULL: none) for PUT/POST; the answer's body into rs (at most rs->max bytes; 0: dropped).
 * A 401 with a challenge is answered once (authenticate) and the request made again.
 * Returns 0 with rs->status set (any status), or CRUMB_EIO when no answer came.
 */
static int request(struct reg *g, const char *method, const char *url,
		   const struct curl_slist *hdrs, struct upload *up, struct resp *rs, struct err *e)
{
	for (int attempt = 0;; attempt++) {
		CURL *c = g->ez;
		curl_easy_reset(c);
		setup(g, c);
		struct curl_slist *h = NULL;
		for (const struct curl_slist *p = hdrs; p; p = p->next)
			h = curl_slist_append(h, p->data);
		if (g->authz)
			h = curl_slist_append(h, g->authz);
		if (up)
			h = curl_slist_append(h, "Expect:");
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
		curl_easy_setopt(c, CURLOPT_HEADERDATA, rs);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, rs);
		if (!strcmp(method, "HEAD")) {
			curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
		} else if (up) {
			curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
			curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
			curl_easy_setopt(c, CURLOPT_READDATA, up);
			curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE,
					 (curl_off_t)(up->v ? up->v->want_size : up->len));
			if (strcmp(method, "PUT"))
				curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
		} else if (strcmp(method, "GET")) {
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
			if (!strcmp(method, "POST"))
				curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
		}
		sb_reset(&rs->body);
		rs->too_big = 0;
		resp_reset_headers(rs);
		CURLcode cc = curl_easy_perform(c);
		curl_slist_free_all(h);
		if (up && up->failed)
			return up->e->code ? up->e->code : CRUMB_EIO;
		if (cc != CURLE_OK && !(cc == CURLE_WRITE_ERROR && rs->too_big))
			return err_set(e, CRUMB_EIO, "%s %s: %s", method, url,
				       curl_easy_strerror(cc));
		if (rs->too_big)
			return err_set(e, CRUMB_EUNSAFE,
				       "%s %s: the answer is larger than %zu bytes", method, url,
				       rs->max);
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &rs->status);
		if (rs->status != 401 || attempt > 0 || !rs->www_auth)
			return 0;
		char *ch = xstrdup(rs->www_auth);
		int r = authenticate(g, ch, e);
		free(ch);
		if (r < 0)
			return r;
		if (up) {
			up->off = 0;
			if (up->v) /* a blob cannot be rewound: the caller authenticated first */
				return 0;
		}
	}
}

/* ---- authentication ---- */

char *reg_challenge_param(const char *p, const char *key)
{
	size_t kl = strlen(key);
	while (*p) {
		while (*p == ' ' || *p == ',')
			p++;
		const char *eq = strchr(p, '=');
		if (!eq)
			return NULL;
		int hit = (size_t)(eq - p) == kl && !strncasecmp(p, key, kl);
		const char *v = eq + 1;
		struct sbuf b = SBUF_INIT;
		if (*v == '"') {
			for (v++; *v && *v != '"'; v++) {
				if (*v == '\\' && v[1])
					v++;
				sb_addc(&b, *v);
			}
			if (*v == '"')
				v++;
		} else {
			for (; *v && *v != ','; v++)
				sb_addc(&b, *v);
		}
		if (hit)
			return b.buf ? sb_detach(&b) : xstrdup("");
		sb_release(&b);
		p = v;
	}
	return NULL;
}

static int no_creds(struct reg *g, struct err *e)
{
	return err_set(e, CRUMB_EINVAL,
		       "registry %s asks for credentials: run 'crumb login %s' (or give --creds)",
		       g->host, g->host);
}

static void set_basic(struct reg *g)
{
	char *plain = xasprintf("%s:%s", g->user, g->pass);
	size_t pn = strlen(plain);
	char *b64 = xmalloc(4 * ((pn + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)plain, (int)pn);
	explicit_bzero(plain, pn);
	free(plain);
	free(g->authz);
	g->authz = xasprintf("Authorization: Basic %s", b64);
	free(b64);
}

/* Answers a challenge: Basic with the session's credentials, or Bearer: a token from the
 * realm for the repository's scope (with the credentials when there are some). */
static int authenticate(struct reg *g, const char *challenge, struct err *e)
{
	size_t sl = strcspn(challenge, " ");
	const char *params = challenge + sl;
	if (sl == 5 && !strncasecmp(challenge, "Basic", 5)) {
		if (!g->user)
			return no_creds(g, e);
		set_basic(g);
		return 0;
	}
	if (!(sl == 6 && !strncasecmp(challenge, "Bearer", 6)))
		return err_set(e, CRUMB_EUNSUPP, "registry %s: unsupported authentication '%.*s'",
			       g->host, (int)(sl > 32 ? 32 : sl), challenge);
	char *realm = reg_challenge_param(params, "realm"),
	     *service = reg_challenge_param(params, "service");
	int r = 0;
	if (!realm || (strncmp(realm, "https://", 8) && strncmp(realm, "http://", 7))) {
		r = err_set(e, CRUMB_EFORMAT,
			    "registry %s: a Bearer challenge without an http(s) "
			    "realm",
			    g->host);
		goto out;
	}
	struct sbuf url = SBUF_INIT;
	sb_adds(&url, realm);
	char sep = strchr(realm, '?') ? '&' : '?';
	if (service) {
		char *s = curl_easy_escape(g->ez, service, 0);
		sb_addf(&url, "%cservice=%s", sep, s);
		curl_free(s);
		sep = '&';
	}
	if (g->repo) {
		char *sc = xasprintf("repository:%s:%s", g->repo, g->actions);
		char *s = curl_easy_escape(g->ez, sc, 0);
		sb_addf(&url, "%cscope=%s", sep, s);
		curl_free(s);
		free(sc);
		sep = '&';
	}
	if (g->user) {
		char *s = curl_easy_escape(g->ez, g->user, 0);
		sb_addf(&url, "%caccount=%s", sep, s);
		curl_free(s);
	}
	struct resp rs = {.max = SMALL_MAX};
	char *keep = g->authz;
	g->authz = NULL;
	if (g->user)
		set_basic(g); /* the token service gets the credentials */
	char *basic = g->authz;
	r = request(g, "GET", url.buf, NULL, NULL, &rs, e);
	free(basic);
	g->authz = keep;
	if (r == 0 && rs.status != 200) {
		char w[256];
		reg_words(&rs, w, sizeof(w));
		r = err_set(e, CRUMB_EINVAL,
			    rs.status == 401 || rs.status == 403
				? "registry %s: the token service refused the credentials (HTTP "
				  "%ld)%s"
				: "registry %s: the token service answered HTTP %ld%s",
			    g->host, rs.status, w);
	}
	if (r == 0) {
		json_t *j = json_loadb(rs.body.buf ? rs.body.buf : "", rs.body.len, 0, NULL);
		const char *t = json_string_value(json_object_get(j, "token"));
		if (!t || !*t)
			t = json_string_value(json_object_get(j, "access_token"));
		int ok = t && *t && strlen(t) < 65536 && !strpbrk(t, "\r\n");
		if (ok) {
			free(g->authz);
			g->authz = xasprintf("Authorization: Bearer %s", t);
		} else {
			r = err_set(e, CRUMB_EFORMAT,
				    "registry %s: the token service's answer holds no token",
				    g->host);
		}
		json_decref(j);
	}
	resp_release(&rs);
	sb_release(&url);
out:
	free(realm);
	free(service);
	return r;
}

/* ---- sessions ---- */

static int local_host(const char *h)
{
	return !strncmp(h, "localhost", 9) || !strncmp(h, "127.", 4) || !strncmp(h, "[::1]", 5);
}

static int reg_open(struct reg *g, const char *host, const char *repo, const char *actions,
		    const struct reg_opts *o, struct err *e)
{
	memset(g, 0, sizeof(*g));
	g->o = o;
	g->host = xstrdup(host);
	g->repo = repo ? xstrdup(repo) : NULL;
	g->actions = actions;
	g->scheme = "https";
	int r = global_init(e);
	if (r < 0)
		return r;
	if (!(g->ez = curl_easy_init()))
		return err_set(e, CRUMB_EIO, "libcurl: cannot make a handle");
	load_cas(g);
	if (o->user) {
		g->user = xstrdup(o->user);
		g->pass = xstrdup(o->pass ? o->pass : "");
	} else {
		char *path = NULL;
		struct err ce = {0};
		if (creds_path(o->env, &path, &ce) == 0 &&
		    (r = creds_get(path, host, &g->user, &g->pass, e)) < 0 && r != CRUMB_ENOENT) {
			free(path);
			return r;
		}
		free(path);
	}
	return 0;
}

static void reg_close(struct reg *g)
{
	if (g->ez)
		curl_easy_cleanup(g->ez);
	free(g->host);
	free(g->repo);
	free(g->authz);
	if (g->pass)
		explicit_bzero(g->pass, strlen(g->pass));
	free(g->user);
	free(g->pass);
	sb_release(&g->cas);
	memset(g, 0, sizeof(*g));
}

static char *url_of(struct reg *g, const char *fmt, const char *a)
{
	return xasprintf("%s://%s/v2/%s/%s%s", g->scheme, g->host, g->repo ? g->repo : "", fmt,
			 a ? a : "");
}

/* GET /v2/: picks the scheme (plain HTTP only for an insecure or local registry, once HTTPS
 * got no answer, as Docker does) and authenticates up front for the session's scope. */
static int ping(struct reg *g, struct err *e)
{
	struct resp rs = {.max = SMALL_MAX};
	int r;
	for (;;) {
		char *url = xasprintf("%s://%s/v2/", g->scheme, g->host);
		char *keep = g->authz;
		g->authz = NULL; /* no answer to a challenge here: it needs the scope */
		CURL *c = g->ez;
		curl_easy_reset(c);
		setup(g, c);
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
		curl_easy_setopt(c, CURLOPT_HEADERDATA, &rs);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &rs);
		sb_reset(&rs.body);
		CURLcode cc = curl_easy_perform(c);
		g->authz = keep;
		/* plain HTTP where HTTPS found no TLS server (not where it found one it does not
		 * trust: that is said) */
		int no_tls = cc == CURLE_SSL_CONNECT_ERROR || cc == CURLE_RECV_ERROR ||
			     cc == CURLE_GOT_NOTHING;
		if (no_tls && !strcmp(g->scheme, "https") &&
		    (g->o->insecure || local_host(g->host))) {
			free(url);
			g->scheme = "http";
			continue;
		}
		if (cc != CURLE_OK) {
			r = err_set(
			    e, CRUMB_EIO, "registry %s: %s%s", g->host, curl_easy_strerror(cc),
			    cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE
				? " (a registry with its own CA: put it in "
				  "~/.config/containers/certs.d/HOST/ca.crt, or "
				  "--tls-verify=false)"
				: "");
			free(url);
			break;
		}
		free(url);
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &rs.status);
		if (rs.status == 200) {
			r = 0;
		} else if (rs.status == 401 && rs.www_auth) {
			char *ch = xstrdup(rs.www_auth);
			r = authenticate(g, ch, e);
			free(ch);
		} else {
			r = err_set(
			    e, CRUMB_EFORMAT,
			    "registry %s: GET /v2/ answered HTTP %ld: not a registry (API v2)",
			    g->host, rs.status);
		}
		break;
	}
	resp_release(&rs);
	return r;
}

/* A failed answer as one line: what was asked, the status, the registry's words. */
static int http_fail(struct reg *g, const char *what, const struct resp *rs, struct err *e)
{
	char w[256];
	reg_words(rs, w, sizeof(w));
	int code = rs->status == 404 ? CRUMB_ENOENT : CRUMB_EIO;
	if (rs->status == 401 || rs->status == 403)
		return err_set(e, CRUMB_EINVAL, "registry %s: %s: access denied (HTTP %ld)%s%s",
			       g->host, what, rs->status, w,
			       g->user ? "" : "; 'crumb login' may give access");
	return err_set(e, code, "registry %s: %s: HTTP %ld%s", g->host, what, rs->status, w);
}

/* ---- manifests: parsed as untrusted input (reg_manifest_plan), then fetched ---- */

static int get_desc(const char *what, json_t *j, const char *field, struct oci_desc *d,
		    struct err *e)
{
	const char *mt = json_string_value(json_object_get(j, "mediaType"));
	const char *dg = json_string_value(json_object_get(j, "digest"));
	json_t *sz = json_object_get(j, "size");
	if (!mt || !oci_media_type_valid(mt) || !dg || !oci_digest_valid(dg) ||
	    !json_is_integer(sz) || json_integer_value(sz) < 0)
		return err_set(e, CRUMB_EFORMAT,
			       "%s: its %s is not a descriptor crumb can read (mediaType, a sha256 "
			       "digest, size)",
			       what, field);
	memset(d, 0, sizeof(*d));
	snprintf(d->media_type, sizeof(d->media_type), "%s", mt);
	snprintf(d->digest, sizeof(d->digest), "%s", dg);
	d->size = (uint64_t)json_integer_value(sz);
	return 0;
}

static int is_index(const char *mt)
{
	return !strcmp(mt, MT_OCI_INDEX) || !strcmp(mt, MT_DOCKER_LIST);
}

/* The manifest's media type: its mediaType member, else the Content-Type it came with. */
static const char *manifest_type(json_t *j, const char *ctype)
{
	json_t *m = json_object_get(j, "mediaType");
	if (m)
		return json_string_value(m);
	if (json_object_get(j, "manifests"))
		return MT_OCI_INDEX;
	return ctype && strncmp(ctype, "application/json", 16) ? ctype : MT_OCI_MANIFEST;
}

/* From an index or manifest list: the digest of the platform's manifest. */
static int pick_platform(const char *what, json_t *idx, const char *platform, char dg[80],
			 struct err *e)
{
	char *p = xstrdup(platform ? platform : "linux/amd64");
	char *os = p, *arch = strchr(p, '/'), *variant = NULL;
	if (arch) {
		*arch++ = 0;
		if ((variant = strchr(arch, '/')))
			*variant++ = 0;
	}
	size_t i;
	json_t *m, *all = json_object_get(idx, "manifests");
	int r = CRUMB_ENOENT;
	if (!json_is_array(all)) {
		free(p);
		return err_set(e, CRUMB_EFORMAT, "%s: an index without a manifests array", what);
	}
	json_array_foreach(all, i, m)
	{
		json_t *pl = json_object_get(m, "platform");
		const char *mo = json_string_value(json_object_get(pl, "os"));
		const char *ma = json_string_value(json_object_get(pl, "architecture"));
		const char *mv = json_string_value(json_object_get(pl, "variant"));
		const char *d = json_string_value(json_object_get(m, "digest"));
		if (!mo || !ma || strcmp(mo, os) || !arch || strcmp(ma, arch) ||
		    (variant && (!mv || strcmp(mv, variant))))
			continue;
		if (!d || !oci_digest_valid(d)) {
			r = err_set(e, CRUMB_EFORMAT, "%s: its %s/%s entry has no sha256 digest",
				    what, os, arch);
			break;
		}
		snprintf(dg, 80, "%s", d);
		r = 0;
		break;
	}
	if (r == CRUMB_ENOENT)
		err_set(e, CRUMB_ENOENT, "%s has no image for %s", what,
			platform ? platform : "linux/amd64");
	free(p);
	return r;
}

void reg_plan_release(struct reg_plan *p)
{
	free(p->blobs);
	memset(p, 0, sizeof(*p));
}

int reg_manifest_plan(const char *what, const char *json, size_t len, const char *ctype,
		      const char *platform, struct reg_plan *p, struct err *e)
{
	json_error_t je;
	memset(p, 0, sizeof(*p));
	if (len > MANIFEST_MAX)
		return err_set(e, CRUMB_EUNSAFE, "%s: larger than %u bytes", what, MANIFEST_MAX);
	json_t *j = json_loadb(json ? json : "", len, JSON_REJECT_DUPLICATES, &je);
	int r = 0;
	if (!j || !json_is_object(j)) {
		r = err_set(e, CRUMB_EFORMAT, "%s is not a JSON object: %s", what,
			    j ? "another JSON value" : je.text);
		goto out;
	}
	const char *t = manifest_type(j, ctype);
	json_t *sv = json_object_get(j, "schemaVersion");
	if (!t || !oci_media_type_valid(t)) {
		r = err_set(e, CRUMB_EFORMAT, "%s: its mediaType is not a media type", what);
	} else if (!strncmp(t, MT_DOCKER_V1, strlen(MT_DOCKER_V1)) ||
		   (json_is_integer(sv) && json_integer_value(sv) == 1)) {
		r = err_set(e, CRUMB_EUNSUPP, "%s is a Docker schema 1 manifest: not supported",
			    what);
	} else if (!json_is_integer(sv) || json_integer_value(sv) != 2) {
		r = err_set(e, CRUMB_EFORMAT, "%s: schemaVersion is not 2", what);
	}
	if (r < 0)
		goto out;
	snprintf(p->media_type, sizeof(p->media_type), "%s", t);
	if (is_index(t)) {
		r = pick_platform(what, j, platform, p->child, e);
		goto out;
	}
	json_t *layers = json_object_get(j, "layers"), *l;
	size_t i;
	if (!json_is_array(layers)) {
		r = err_set(e, CRUMB_EFORMAT, "%s has no layers array", what);
		goto out;
	}
	if (json_array_size(layers) > REG_MAX_LAYERS) {
		r = err_set(e, CRUMB_EUNSAFE, "%s lists %zu layers (at most %d)", what,
			    json_array_size(layers), REG_MAX_LAYERS);
		goto out;
	}
	p->nblobs = json_array_size(layers) + 1;
	p->blobs = xcalloc(p->nblobs, sizeof(*p->blobs));
	r = get_desc(what, json_object_get(j, "config"), "config", &p->blobs[0], e);
	json_array_foreach(layers, i, l)
	{
		char field[32];
		snprintf(field, sizeof(field), "layer %zu", i);
		if (r == 0)
			r = get_desc(what, l, field, &p->blobs[i + 1], e);
	}
out:
	json_decref(j);
	return r;
}

/* GET a manifest by tag or digest: its bytes (checked against the digest asked for, else the
 * Docker-Content-Digest the registry gave: dg gets it) into bytes, read into p. */
static int fetch_manifest(struct reg *g, const char *ref, struct sbuf *bytes, struct reg_plan *p,
			  char dg[80], struct err *e)
{
	struct curl_slist *h = curl_slist_append(NULL, "Accept: " MT_OCI_MANIFEST ", " MT_OCI_INDEX
						       ", " MT_DOCKER_MANIFEST ", " MT_DOCKER_LIST);
	struct resp rs = {.max = MANIFEST_MAX};
	char *url = url_of(g, "manifests/", ref);
	char *name = xasprintf("manifest %s:%s", g->repo, ref);
	char *what = xasprintf("registry %s: %s", g->host, name);
	int r = request(g, "GET", url, h, NULL, &rs, e);
	curl_slist_free_all(h);
	if (r == 0 && rs.status != 200)
		r = http_fail(g, name, &rs, e);
	char hex[65];
	if (r == 0) {
		sha256_hex(rs.body.buf ? rs.body.buf : "", rs.body.len, hex);
		snprintf(dg, 80, "sha256:%s", hex);
		const char *want = !strncmp(ref, "sha256:", 7)			    ? ref
				   : rs.digest && !strncmp(rs.digest, "sha256:", 7) ? rs.digest
										    : NULL;
		if (want && strcmp(want, dg))
			r = err_set(e, CRUMB_EFORMAT, "%s: its bytes hash to %s, not %s: refused",
				    what, dg, want);
	}
	reg_plan_release(p);
	if (r == 0)
		r = reg_manifest_plan(what, rs.body.buf, rs.body.len, rs.ctype, g->o->platform, p,
				      e);
	if (r == 0) {
		sb_reset(bytes);
		sb_add(bytes, rs.body.buf ? rs.body.buf : "", rs.body.len);
	}
	free(url);
	free(name);
	free(what);
	resp_release(&rs);
	return r;
}

/* ---- blobs in: several at once, resumable, verified ---- */

struct xfer {
	struct reg *g;
	struct oci_desc d;
	CURL *c;
	struct curl_slist *h;
	struct resp rs; /* headers; body: an error answer's first bytes */
	int fd;
	char *part;
	struct sha256 sum;
	uint64_t start, got;
	int began, overflow, io_err, bad_range;
	double t0;
};

static size_t on_blob(char *buf, size_t size, size_t n, void *ctx)
{
	struct xfer *x = ctx;
	size_t len = size * n;
	long st = 0;
	curl_easy_getinfo(x->c, CURLINFO_RESPONSE_CODE, &st);
	if (st != 200 && st != 206) {
		if (x->rs.body.len < 4096)
			sb_add(&x->rs.body, buf, len < 4096 ? len : 4096);
		return len;
	}
	if (!x->began) {
		x->began = 1;
		if (st == 200 && x->got > 0) { /* the range was not honoured: from the start */
			if (ftruncate(x->fd, 0) < 0 || lseek(x->fd, 0, SEEK_SET) < 0) {
				x->io_err = errno;
				return 0;
			}
			char hex[65];
			sha256_end(&x->sum, hex);
			sha256_begin(&x->sum);
			x->got = x->start = 0;
		} else if (st == 206) {
			unsigned long long a = 0;
			if (!x->rs.range || sscanf(x->rs.range, "bytes %llu-", &a) != 1 ||
			    a != x->start) {
				x->bad_range = 1;
				return 0;
			}
		}
	}
	if (x->got + len > x->d.size) {
		x->overflow = 1;
		return 0;
	}
	if (vm_write_all(x->fd, buf, len) < 0) {
		x->io_err = errno ? errno : EIO;
		return 0;
	}
	sha256_update(&x->sum, buf, len);
	x->got += len;
	return len;
}

static void xfer_close(struct xfer *x)
{
	if (x->c)
		curl_easy_cleanup(x->c);
	curl_slist_free_all(x->h);
	resp_release(&x->rs);
	if (x->fd >= 0)
		close(x->fd);
	if (x->sum.md) {
		char hex[65];
		sha256_end(&x->sum, hex);
	}
	free(x->part);
	memset(x, 0, sizeof(*x));
	x->fd = -1;
}

static void report(struct reg *g, enum reg_event ev, const struct oci_desc *d, uint64_t at,
		   double secs)
{
	if (!g->o->progress)
		return;
	struct reg_blob b = {d->digest, d->media_type, d->size, at, secs};
	g->o->progress(g->o->ctx, ev, &b);
}

/*
 * Opens x's part file (ROOT/tmp/pull/HEX.part) locked (a second pull of the same blob waits
 * here) and hashes what an earlier pull left in it. Returns 1 when the store has the blob
 * by now (nothing to fetch), 0 to fetch from x->start, negative on error.
 */
static int xfer_open(struct oci_store *s, struct xfer *x, struct err *e)
{
	char *dir = xasprintf("%s/tmp/pull", oci_root(s));
	int r = mkdir_p(dir, 0700, e);
	x->part = xasprintf("%s/%s.part", dir, x->d.digest + 7);
	free(dir);
	if (r < 0)
		return r;
	x->fd = open(x->part, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (x->fd < 0)
		return err_errno(e, CRUMB_EIO, "%s", x->part);
	while (flock(x->fd, LOCK_EX) < 0)
		if (errno != EINTR)
			return err_errno(e, CRUMB_EIO, "lock %s", x->part);
	struct err ve = {0};
	struct stat st;
	if (oci_blob_verify(s, &x->d, NULL, OCI_VERIFY_CACHED, &ve) == 0) {
		if (fstat(x->fd, &st) == 0 && st.st_size == 0)
			unlink(x->part); /* made by this open */
		return 1;
	}
	if (fstat(x->fd, &st) < 0 || !S_ISREG(st.st_mode))
		return err_errno(e, CRUMB_EIO, "%s", x->part);
	sha256_begin(&x->sum);
	if ((uint64_t)st.st_size > x->d.size && ftruncate(x->fd, 0) < 0)
		return err_errno(e, CRUMB_EIO, "%s", x->part);
	if ((uint64_t)st.st_size <= x->d.size) {
		char buf[65536];
		ssize_t n;
		while ((n = read(x->fd, buf, sizeof(buf))) > 0) {
			sha256_update(&x->sum, buf, (size_t)n);
			x->got += (uint64_t)n;
		}
		if (n < 0)
			return err_errno(e, CRUMB_EIO, "%s", x->part);
	}
	if (x->got == x->d.size && x->got > 0) {
		/* all of it came before the last pull was stopped: stored now if it is good */
		char hex[65];
		struct oci_desc got;
		sha256_end(&x->sum, hex);
		sha256_begin(&x->sum);
		if (!strcmp(hex, x->d.digest + 7)) {
			int r = oci_blob_put_file(s, x->part, x->d.media_type, 1, &got, e);
			return r < 0 ? r : 1;
		}
		if (ftruncate(x->fd, 0) < 0 || lseek(x->fd, 0, SEEK_SET) < 0)
			return err_errno(e, CRUMB_EIO, "%s", x->part);
		x->got = 0;
	}
	x->start = x->got;
	return 0;
}

/* Makes x's handle: GET the blob, from x->start. */
static void xfer_handle(struct reg *g, struct xfer *x)
{
	if (x->c)
		curl_easy_cleanup(x->c);
	curl_slist_free_all(x->h);
	x->h = NULL;
	x->c = curl_easy_init();
	setup(g, x->c);
	char *url = url_of(g, "blobs/", x->d.digest);
	curl_easy_setopt(x->c, CURLOPT_URL, url);
	free(url);
	if (g->authz)
		x->h = curl_slist_append(x->h, g->authz);
	if (x->start) {
		char rg[64];
		snprintf(rg, sizeof(rg), "Range: bytes=%llu-", (unsigned long long)x->start);
		x->h = curl_slist_append(x->h, rg);
	}
	curl_easy_setopt(x->c, CURLOPT_HTTPHEADER, x->h);
	curl_easy_setopt(x->c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(x->c, CURLOPT_HEADERDATA, &x->rs);
	curl_easy_setopt(x->c, CURLOPT_WRITEFUNCTION, on_blob);
	curl_easy_setopt(x->c, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(x->c, CURLOPT_PRIVATE, x);
	curl_easy_setopt(x->c, CURLOPT_BUFFERSIZE, 256L << 10);
	if (g->o->limit_rate > 0)
		curl_easy_setopt(x->c, CURLOPT_MAX_RECV_SPEED_LARGE, (curl_off_t)g->o->limit_rate);
	x->began = 0;
	sb_reset(&x->rs.body);
	x->t0 = now_monotonic();
}

/* A transfer ended (cc): checks and stores the blob. 1: answer the 401 and try again. */
static int xfer_finish(struct oci_store *s, struct xfer *x, CURLcode cc, struct err *e)
{
	struct reg *g = x->g;
	long st = 0;
	curl_easy_getinfo(x->c, CURLINFO_RESPONSE_CODE, &st);
	x->rs.status = st;
	const char *dg = x->d.digest;
	if (x->overflow)
		return err_set(e, CRUMB_EFORMAT,
			       "registry %s sent more than the %llu bytes of blob %s: refused",
			       g->host, (unsigned long long)x->d.size, dg);
	if (x->bad_range)
		return err_set(e, CRUMB_EFORMAT,
			       "registry %s answered a range request for blob %s with another "
			       "range: refused",
			       g->host, dg);
	if (x->io_err)
		return err_set(e, CRUMB_EIO, "%s: %s", x->part, strerror(x->io_err));
	if (cc != CURLE_OK)
		return err_set(e, CRUMB_EIO,
			       "registry %s: blob %s: %s (%llu of %llu bytes kept: pull again to "
			       "resume)",
			       g->host, dg, curl_easy_strerror(cc), (unsigned long long)x->got,
			       (unsigned long long)x->d.size);
	if (st == 401 && x->rs.www_auth)
		return 1;
	if (st != 200 && st != 206) {
		char *what = xasprintf("blob %s", dg);
		int r = http_fail(g, what, &x->rs, e);
		free(what);
		return r;
	}
	if (x->got != x->d.size)
		return err_set(e, CRUMB_EIO,
			       "registry %s: blob %s ended after %llu of %llu bytes (kept: pull "
			       "again to resume)",
			       g->host, dg, (unsigned long long)x->got,
			       (unsigned long long)x->d.size);
	char hex[65];
	sha256_end(&x->sum, hex);
	x->sum.md = NULL;
	if (strcmp(hex, dg + 7)) {
		unlink(x->part);
		return err_set(
		    e, CRUMB_EFORMAT,
		    "registry %s sent a wrong blob for %s (its bytes hash to sha256:%s): "
		    "refused, nothing stored",
		    g->host, dg, hex);
	}
	if (fsync(x->fd) < 0)
		return err_errno(e, CRUMB_EIO, "fsync %s", x->part);
	struct oci_desc got;
	int r = oci_blob_put_file(s, x->part, x->d.media_type, 1, &got, e);
	if (r == 0 && strcmp(got.digest, dg))
		r = err_set(e, CRUMB_EIO, "%s changed while it was stored", x->part);
	if (r == 0)
		report(g, REG_BLOB_DONE, &x->d, x->start, now_monotonic() - x->t0);
	return r;
}

/* Fetches the blobs of want the store lacks, jobs at a time. */
static int fetch_blobs(struct reg *g, struct oci_store *s, const struct oci_desc *want, size_t n,
		       struct err *e)
{
	struct xfer *x = xcalloc(n ? n : 1, sizeof(*x));
	size_t *queue = xcalloc(n ? n : 1, sizeof(*queue)), nq = 0;
	int r = 0;
	for (size_t i = 0; i < n; i++)
		x[i].fd = -1;
	/* Open every part first (in order: the same blob twice waits for nobody but itself). */
	for (size_t i = 0; i < n && r == 0; i++) {
		int dup = 0;
		for (size_t k = 0; k < i; k++)
			dup |= !strcmp(want[k].digest, want[i].digest);
		if (dup)
			continue;
		x[i].g = g;
		x[i].d = want[i];
		int h = xfer_open(s, &x[i], e);
		if (h < 0)
			r = h;
		else if (h == 1)
			report(g, REG_BLOB_HAVE, &want[i], 0, 0);
		else
			queue[nq++] = i;
	}
	CURLM *m = r == 0 ? curl_multi_init() : NULL;
	int jobs = g->o->jobs > 0 ? g->o->jobs : 4;
	for (int round = 0; r == 0 && nq > 0 && round < 2; round++) {
		size_t next = 0, running = 0, nretry = 0;
		size_t *retry = xcalloc(nq, sizeof(*retry));
		char *challenge = NULL;
		while (r == 0 && (next < nq || running > 0)) {
			while (next < nq && running < (size_t)jobs) {
				struct xfer *t = &x[queue[next++]];
				xfer_handle(g, t);
				report(g, REG_BLOB_FETCH, &t->d, t->start, 0);
				curl_multi_add_handle(m, t->c);
				running++;
			}
			int still;
			curl_multi_perform(m, &still);
			CURLMsg *msg;
			int left;
			while ((msg = curl_multi_info_read(m, &left))) {
				if (msg->msg != CURLMSG_DONE)
					continue;
				struct xfer *t;
				curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
				CURLcode cc = msg->data.result;
				curl_multi_remove_handle(m, t->c);
				running--;
				int f = xfer_finish(s, t, cc, e);
				if (f == 1) {
					retry[nretry++] = (size_t)(t - x);
					if (!challenge)
						challenge = xstrdup(t->rs.www_auth);
				} else if (f < 0 && r == 0) {
					r = f;
				}
			}
			if (r == 0 && running > 0)
				curl_multi_poll(m, NULL, 0, 1000, NULL);
		}
		for (size_t i = 0; i < n; i++)
			if (x[i].c)
				curl_multi_remove_handle(m, x[i].c);
		if (r == 0 && nretry > 0) {
			if (round == 1) {
				r = err_set(e, CRUMB_EINVAL,
					    "registry %s: blob %s: access denied (HTTP 401)",
					    g->host, x[retry[0]].d.digest);
			} else {
				r = authenticate(g, challenge, e);
			}
		}
		memcpy(queue, retry, nretry * sizeof(*queue));
		nq = nretry;
		free(retry);
		free(challenge);
	}
	if (m)
		curl_multi_cleanup(m);
	for (size_t i = 0; i < n; i++)
		xfer_close(&x[i]);
	free(x);
	free(queue);
	return r;
}

/* ---- pull ---- */

/* Refuses a pull whose blobs (as the manifest declares them) cannot fit on the store's
 * filesystem, before anything is fetched. */
static int room_for(struct reg *g, struct oci_store *s, const struct oci_desc *want, size_t n,
		    struct err *e)
{
	struct statvfs sv;
	uint64_t total = 0;
	for (size_t i = 0; i < n; i++)
		total = want[i].size > UINT64_MAX - total ? UINT64_MAX : total + want[i].size;
	if (statvfs(oci_root(s), &sv) < 0)
		return 0; /* no answer: the writes will say */
	uint64_t avail = (uint64_t)sv.f_bavail * sv.f_frsize;
	if (total > avail)
		return err_set(
		    e, CRUMB_EUNSAFE,
		    "registry %s: %s declares %llu bytes of blobs; the store's filesystem "
		    "has %llu free",
		    g->host, g->repo, (unsigned long long)total, (unsigned long long)avail);
	return 0;
}

int reg_pull(struct oci_store *s, const struct imgref *r, const struct reg_opts *o,
	     struct oci_desc *manifest, struct err *e)
{
	struct reg g;
	struct sbuf bytes = SBUF_INIT;
	struct reg_plan p = {0};
	char dg[80];
	int lk = -1;
	int rc = reg_open(&g, imgref_api_host(r), r->path, "pull", o, e);
	if (rc == 0)
		rc = ping(&g, e);
	if (rc == 0)
		rc = fetch_manifest(&g, r->digest ? r->digest : r->tag, &bytes, &p, dg, e);
	if (rc == 0 && p.child[0]) {
		char child[80];
		snprintf(child, sizeof(child), "%s", p.child);
		rc = fetch_manifest(&g, child, &bytes, &p, dg, e);
		if (rc == 0 && p.child[0])
			rc = err_set(e, CRUMB_EFORMAT, "registry %s: %s: an index inside an index",
				     g.host, r->path);
	}
	if (rc == 0)
		rc = room_for(&g, s, p.blobs, p.nblobs, e);
	if (rc == 0 && (lk = rc = oci_lock(s, 0, e)) >= 0)
		rc = fetch_blobs(&g, s, p.blobs, p.nblobs, e);
	if (rc == 0) {
		char *name = imgref_store_name(r);
		rc = oci_manifest_put(s, name, bytes.buf, bytes.len, p.media_type, manifest, e);
		free(name);
	}
	if (lk >= 0)
		close(lk);
	reg_plan_release(&p);
	sb_release(&bytes);
	reg_close(&g);
	return rc;
}

/* ---- push ---- */

/* Uploads blob d (read from the store, verified as it goes) unless the registry has it. */
static int push_blob(struct reg *g, struct oci_store *s, const struct oci_desc *d, struct err *e)
{
	struct resp rs = {.max = SMALL_MAX};
	char *url = url_of(g, "blobs/", d->digest);
	int r = request(g, "HEAD", url, NULL, NULL, &rs, e);
	free(url);
	if (r == 0 && rs.status == 200) {
		report(g, REG_BLOB_HAVE, d, 0, 0);
		goto out;
	}
	report(g, REG_BLOB_PUSH, d, 0, 0);
	double t0 = now_monotonic();
	url = url_of(g, "blobs/uploads/", NULL);
	if (r == 0)
		r = request(g, "POST", url, NULL, NULL, &rs, e);
	free(url);
	if (r == 0 && rs.status != 202)
		r = http_fail(g, "starting an upload", &rs, e);
	if (r == 0 && !rs.location)
		r = err_set(e, CRUMB_EFORMAT, "registry %s: an upload without a Location", g->host);
	if (r < 0)
		goto out;
	/* Location: absolute, or a path on the registry */
	char *loc = !strncmp(rs.location, "http://", 7) || !strncmp(rs.location, "https://", 8)
			? xstrdup(rs.location)
			: xasprintf("%s://%s%s%s", g->scheme, g->host,
				    rs.location[0] == '/' ? "" : "/", rs.location);
	char *put = xasprintf("%s%cdigest=%s", loc, strchr(loc, '?') ? '&' : '?', d->digest);
	free(loc);
	struct vread v;
	struct err ve = {0};
	struct upload up = {.v = &v, .e = e};
	if ((r = oci_blob_open(s, d, "push", 0, &v, e)) == 0) {
		struct curl_slist *h =
		    curl_slist_append(NULL, "Content-Type: application/octet-stream");
		r = request(g, "PUT", put, h, &up, &rs, e);
		curl_slist_free_all(h);
		if (r == 0 && vread_finish(&v, &ve) < 0)
			r = err_set(e, ve.code, "%s", ve.msg);
		if (r == 0 && rs.status != 201) {
			char *what = xasprintf("upload of blob %s", d->digest);
			r = http_fail(g, what, &rs, e);
			free(what);
		}
	}
	vread_close(&v);
	free(put);
	if (r == 0)
		report(g, REG_BLOB_PUSHED, d, 0, now_monotonic() - t0);
out:
	resp_release(&rs);
	return r;
}

int reg_push(struct oci_store *s, const struct oci_image *im, const struct imgref *dst,
	     const struct reg_opts *o, struct err *e)
{
	struct reg g;
	struct sbuf mb = SBUF_INIT;
	struct resp rs = {.max = SMALL_MAX};
	if (!dst->tag || dst->digest)
		return err_set(e, CRUMB_EINVAL, "push: the destination needs a tag, not a digest");
	int r = reg_open(&g, imgref_api_host(dst), dst->path, "pull,push", o, e);
	if (r == 0)
		r = ping(&g, e);
	for (size_t i = 0; r == 0 && i < im->nlayers; i++)
		r = push_blob(&g, s, &im->layers[i], e);
	if (r == 0)
		r = push_blob(&g, s, &im->config, e);
	if (r == 0)
		r = oci_blob_read(s, im->manifest.digest, MANIFEST_MAX, &mb, e);
	if (r == 0) {
		char *url = url_of(&g, "manifests/", dst->tag);
		char *ct = xasprintf("Content-Type: %s", im->manifest.media_type);
		struct curl_slist *h = curl_slist_append(NULL, ct);
		struct upload up = {.mem = mb.buf, .len = mb.len, .e = e};
		r = request(&g, "PUT", url, h, &up, &rs, e);
		curl_slist_free_all(h);
		free(ct);
		free(url);
		if (r == 0 && rs.status != 201)
			r = http_fail(&g, "putting the manifest", &rs, e);
		if (r == 0 && rs.digest && strcmp(rs.digest, im->manifest.digest))
			r = err_set(e, CRUMB_EFORMAT,
				    "registry %s stored the manifest as %s, not %s", g.host,
				    rs.digest, im->manifest.digest);
	}
	resp_release(&rs);
	sb_release(&mb);
	reg_close(&g);
	return r;
}

/* ---- login ---- */

int reg_login(const char *registry, const struct reg_opts *o, struct err *e)
{
	struct reg g;
	struct imgref ir = {.domain = (char *)registry};
	const char *host = strcmp(registry, REF_DOCKER_HUB) ? registry : imgref_api_host(&ir);
	int r = reg_open(&g, host, NULL, NULL, o, e);
	if (r == 0 && !g.user)
		r = err_set(e, CRUMB_EINVAL, "login: no user name");
	if (r == 0)
		r = ping(&g, e);
	if (r == 0 && g.authz) {
		/* the challenge was answered (a token, or Basic): check it on /v2/ */
		struct resp rs = {.max = SMALL_MAX};
		char *url = xasprintf("%s://%s/v2/", g.scheme, g.host);
		r = request(&g, "GET", url, NULL, NULL, &rs, e);
		free(url);
		if (r == 0 && rs.status != 200)
			r = err_set(e, CRUMB_EINVAL,
				    "registry %s refused the credentials of '%s' (HTTP %ld)",
				    g.host, g.user, rs.status);
		resp_release(&rs);
	}
	reg_close(&g);
	return r;
}

/* oci.c: the local image store as an OCI image layout: blobs, configs, manifests, index.json,
 * cache, prune. */
#include "oci.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "fsimage.h"
#include "vread.h"

#define OCI_MT_INDEX "application/vnd.oci.image.index.v1+json"
#define DOCKER_MT_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define DOCKER_MT_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define ANN_REF "org.opencontainers.image.ref.name"
#define ANN_TITLE "org.opencontainers.image.title"
#define ANN_CREATED "org.opencontainers.image.created"
#define JSON_MAX (4u << 20) /* manifests, configs, index.json */
#define MAX_LAYERS 1024
#define COPY_BUF (1u << 20)

struct oci_store {
	char *root;
	char *blobs;  /* ROOT/blobs/sha256 */
	char *index;  /* ROOT/index.json */
	char *cache;  /* ROOT/cache */
	char *locks;  /* ROOT/locks */
	int existing; /* opened with oci_open_existing: someone else's layout, never written */
};

/* ---- small helpers ---- */

static int is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

int oci_digest_valid(const char *d)
{
	return d && !strncmp(d, "sha256:", 7) && strlen(d) == 71 && is_hex(d + 7, 64);
}

/* RFC 6838: type "/" subtype, restricted-name chars, at most 127 bytes (our buffer). */
static int mt_name_ok(const char *s, size_t n)
{
	if (n == 0 || n > 127 ||
	    !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') ||
	      (s[0] >= '0' && s[0] <= '9')))
		return 0;
	for (size_t i = 1; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr("!#$&^_.+-", c)))
			return 0;
	}
	return 1;
}

int oci_media_type_valid(const char *mt)
{
	if (!mt)
		return 0;
	size_t n = strlen(mt);
	const char *slash = strchr(mt, '/');
	return n < 128 && slash && mt_name_ok(mt, (size_t)(slash - mt)) &&
	       mt_name_ok(slash + 1, n - (size_t)(slash - mt) - 1);
}

void oci_format_time(int64_t t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (!gmtime_r(&tt, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, 32, "1970-01-01T00:00:00Z");
}

const char *oci_layer_title(const char *media_type)
{
	static const struct {
		const char *mt, *title;
	} t[] = {
	    {OCI_MT_KERNEL, "vmlinux"},
	    {OCI_MT_KERNEL_ZSTD, "vmlinux.zst"},
	    {OCI_MT_ROOTFS_CPIO, "rootfs.cpio"},
	    {OCI_MT_ROOTFS_CPIO_GZIP, "rootfs.cpio.gz"},
	    {OCI_MT_ROOTFS_CPIO_ZSTD, "rootfs.cpio.zst"},
	    {OCI_MT_ROOTFS_EXT4, "rootfs.ext4"},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (media_type && !strcmp(media_type, t[i].mt))
			return t[i].title;
	return NULL;
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd); /* best effort: the rename is already atomic */
		close(fd);
	}
}

/* A new temp file in dir (mode 0644); *tmp malloc'd. */
static int tmp_create(const char *dir, char **tmp, struct err *e)
{
	char *t = xasprintf("%s/.tmp-XXXXXX", dir);
	int fd = mkostemp(t, O_CLOEXEC);
	if (fd < 0) {
		int r = err_errno(e, CRUMB_EIO, "create a temporary file in %s", dir);
		free(t);
		return r;
	}
	fchmod(fd, 0644);
	*tmp = t;
	return fd;
}

/* temp file in dir + write + fsync + rename to path + fsync dir. */
static int write_atomic(const char *dir, const char *path, const void *data, size_t len,
			struct err *e)
{
	char *tmp;
	int fd = tmp_create(dir, &tmp, e);
	if (fd < 0)
		return fd;
	int r = 0;
	if (write_all(fd, data, len) < 0 || fsync(fd) < 0)
		r = err_errno(e, CRUMB_EIO, "write %s", tmp);
	if (close(fd) < 0 && !r)
		r = err_errno(e, CRUMB_EIO, "write %s", tmp);
	if (!r && rename(tmp, path) < 0)
		r = err_errno(e, CRUMB_EIO, "rename %s to %s", tmp, path);
	if (r)
		unlink(tmp);
	else
		fsync_dir(dir);
	free(tmp);
	return r;
}

static int lock_file(const char *path, int op, struct err *e)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_errno(e, CRUMB_EIO, "lock %s", path);
	while (flock(fd, op) < 0) {
		if (errno == EWOULDBLOCK && (op & LOCK_NB)) {
			close(fd);
			return err_set(e, CRUMB_EBUSY, "%s is held by another crumb", path);
		}
		if (errno != EINTR) {
			int r = err_errno(e, CRUMB_EIO, "lock %s", path);
			close(fd);
			return r;
		}
	}
	return fd;
}

static int index_lock(struct oci_store *s, struct err *e)
{
	int mr = mkdir_p(s->locks, 0700, e);
	if (mr < 0)
		return mr;
	char *p = xasprintf("%s/index.lock", s->locks);
	int fd = lock_file(p, LOCK_EX, e);
	free(p);
	return fd;
}

int oci_lock(struct oci_store *s, int exclusive, struct err *e)
{
	int mr = mkdir_p(s->locks, 0700, e);
	if (mr < 0)
		return mr;
	char *p = xasprintf("%s/store.lock", s->locks);
	int fd = lock_file(p, exclusive ? LOCK_EX : LOCK_SH, e);
	free(p);
	return fd;
}

static void unlock(int fd)
{
	if (fd >= 0)
		close(fd);
}

int oci_json_canon(json_t *j, struct sbuf *out, const char *what, struct err *e)
{
	char *s = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
	if (!s)
		return err_set(e, CRUMB_EINVAL, "%s: cannot be written as JSON", what);
	sb_adds(out, s);
	free(s);
	return 0;
}

static int json_parse(const char *file, const char *buf, size_t len, json_t **out, struct err *e)
{
	json_error_t je;
	if (len > JSON_MAX)
		return err_set(e, CRUMB_EUNSAFE, "%s: larger than %u bytes", file, JSON_MAX);
	json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (!j)
		return err_set(e, CRUMB_EFORMAT, "%s: not valid JSON: %s (line %d, column %d)",
			       file, je.text, je.line, je.column);
	if (!json_is_object(j)) {
		json_decref(j);
		return err_set(e, CRUMB_EFORMAT, "%s: not a JSON object", file);
	}
	*out = j;
	return 0;
}

/* Builders that remember a failure (NULL from json_string on bad UTF-8). */
static void jset(json_t *o, const char *k, json_t *v, int *bad)
{
	if (!v || json_object_set_new(o, k, v) < 0)
		*bad = 1;
}

static void jpush(json_t *a, json_t *v, int *bad)
{
	if (!v || json_array_append_new(a, v) < 0)
		*bad = 1;
}

static json_t *jstrlist(const struct strlist *l, int *bad)
{
	json_t *a = json_array();
	for (size_t i = 0; i < l->n; i++)
		jpush(a, json_string(l->v[i]), bad);
	return a;
}

static json_t *jdesc(const struct oci_desc *d, int *bad)
{
	json_t *o = json_object();
	jset(o, "mediaType", json_string(d->media_type), bad);
	jset(o, "digest", json_string(d->digest), bad);
	jset(o, "size", json_integer((json_int_t)d->size), bad);
	return o;
}

/* ---- reading JSON from disk, strictly ---- */

static int bad_field(struct err *e, const char *file, const char *field, const char *want)
{
	return err_set(e, CRUMB_EFORMAT, "%s: corrupt: %s %s", file, field, want);
}

static int get_desc(json_t *j, const char *file, const char *field, struct oci_desc *d,
		    struct err *e)
{
	if (!json_is_object(j))
		return bad_field(e, file, field, "is not an object");
	json_t *mt = json_object_get(j, "mediaType"), *dg = json_object_get(j, "digest"),
	       *sz = json_object_get(j, "size");
	if (!json_is_string(mt) || !oci_media_type_valid(json_string_value(mt)))
		return bad_field(e, file, field, "has no valid mediaType");
	if (!json_is_string(dg) || !oci_digest_valid(json_string_value(dg)))
		return bad_field(e, file, field, "has no valid sha256 digest");
	if (!json_is_integer(sz) || json_integer_value(sz) < 0)
		return bad_field(e, file, field, "has no valid size");
	memset(d, 0, sizeof(*d));
	snprintf(d->media_type, sizeof(d->media_type), "%s", json_string_value(mt));
	snprintf(d->digest, sizeof(d->digest), "%s", json_string_value(dg));
	d->size = (uint64_t)json_integer_value(sz);
	json_t *ann = json_object_get(j, "annotations");
	if (ann) {
		const char *k;
		json_t *v;
		if (!json_is_object(ann))
			return bad_field(e, file, field, "annotations is not an object");
		json_object_foreach(ann, k, v) if (!json_is_string(v)) return bad_field(
		    e, file, field, "has an annotation that is not a string");
	}
	return 0;
}

static const char *ann_get(json_t *desc, const char *key)
{
	return json_string_value(json_object_get(json_object_get(desc, "annotations"), key));
}

/* ---- the config ---- */

/* Healthcheck's options, Docker's names, as integers (nanoseconds for the durations) */
#define HC_NOPTS 5
static const char *const hc_names[HC_NOPTS] = {"Interval", "Timeout", "StartPeriod",
					       "StartInterval", "Retries"};

static int64_t *hc_opt(struct oci_config *c, size_t i)
{
	int64_t *f[HC_NOPTS] = {&c->hc_interval, &c->hc_timeout, &c->hc_start_period,
				&c->hc_start_interval, &c->hc_retries};
	return f[i];
}

static int64_t hc_value(const struct oci_config *c, size_t i)
{
	const int64_t v[HC_NOPTS] = {c->hc_interval, c->hc_timeout, c->hc_start_period,
				     c->hc_start_interval, c->hc_retries};
	return v[i];
}

void oci_config_init(struct oci_config *c)
{
	memset(c, 0, sizeof(*c));
}

void oci_config_release(struct oci_config *c)
{
	strlist_release(&c->entrypoint);
	strlist_release(&c->cmd);
	strlist_release(&c->env);
	strlist_release(&c->exposed);
	strlist_release(&c->volumes);
	strlist_release(&c->label_keys);
	strlist_release(&c->label_values);
	strlist_release(&c->healthcheck);
	strlist_release(&c->onbuild);
	free(c->workdir);
	free(c->user);
	free(c->stop_signal);
	free(c->created);
	oci_config_init(c);
}

const char *oci_config_label(const struct oci_config *c, const char *key)
{
	for (size_t i = c->label_keys.n; i-- > 0;)
		if (!strcmp(c->label_keys.v[i], key))
			return i < c->label_values.n ? c->label_values.v[i] : NULL;
	return NULL;
}

void oci_config_set_label(struct oci_config *c, const char *key, const char *value)
{
	for (size_t i = 0; i < c->label_keys.n; i++)
		if (!strcmp(c->label_keys.v[i], key)) {
			free(c->label_values.v[i]);
			c->label_values.v[i] = xstrdup(value);
			return;
		}
	strlist_push(&c->label_keys, key);
	strlist_push(&c->label_values, value);
}

void oci_config_drop_label(struct oci_config *c, const char *key)
{
	size_t w = 0;
	for (size_t i = 0; i < c->label_keys.n; i++) {
		if (!strcmp(c->label_keys.v[i], key)) {
			free(c->label_keys.v[i]);
			free(c->label_values.v[i]);
			continue;
		}
		c->label_keys.v[w] = c->label_keys.v[i];
		c->label_values.v[w++] = c->label_values.v[i];
	}
	c->label_keys.n = c->label_values.n = w;
}

int oci_config_render(const struct oci_config *c, const struct oci_desc *layers, size_t nlayers,
		      struct sbuf *out, struct err *e)
{
	int bad = 0;
	if (c->label_keys.n != c->label_values.n)
		return err_set(e, CRUMB_EINVAL, "image config: %zu label keys but %zu values",
			       c->label_keys.n, c->label_values.n);
	json_t *root = json_object(), *cfg = json_object();
	jset(root, "architecture", json_string("amd64"), &bad);
	jset(root, "os", json_string("linux"), &bad);
	if (c->created)
		jset(root, "created", json_string(c->created), &bad);
	if (c->entrypoint.n)
		jset(cfg, "Entrypoint", jstrlist(&c->entrypoint, &bad), &bad);
	if (c->cmd.n)
		jset(cfg, "Cmd", jstrlist(&c->cmd, &bad), &bad);
	if (c->env.n)
		jset(cfg, "Env", jstrlist(&c->env, &bad), &bad);
	if (c->workdir)
		jset(cfg, "WorkingDir", json_string(c->workdir), &bad);
	if (c->user)
		jset(cfg, "User", json_string(c->user), &bad);
	if (c->stop_signal)
		jset(cfg, "StopSignal", json_string(c->stop_signal), &bad);
	if (c->exposed.n) {
		json_t *o = json_object();
		for (size_t i = 0; i < c->exposed.n; i++)
			jset(o, c->exposed.v[i], json_object(), &bad);
		jset(cfg, "ExposedPorts", o, &bad);
	}
	if (c->volumes.n) {
		json_t *o = json_object();
		for (size_t i = 0; i < c->volumes.n; i++)
			jset(o, c->volumes.v[i], json_object(), &bad);
		jset(cfg, "Volumes", o, &bad);
	}
	if (c->label_keys.n) {
		json_t *o = json_object();
		for (size_t i = 0; i < c->label_keys.n; i++) /* a repeated key: the last wins */
			jset(o, c->label_keys.v[i], json_string(c->label_values.v[i]), &bad);
		jset(cfg, "Labels", o, &bad);
	}
	if (c->healthcheck.n) {
		json_t *o = json_object();
		jset(o, "Test", jstrlist(&c->healthcheck, &bad), &bad);
		for (size_t i = 0; i < HC_NOPTS; i++)
			if (hc_value(c, i))
				jset(o, hc_names[i], json_integer((json_int_t)hc_value(c, i)),
				     &bad);
		jset(cfg, "Healthcheck", o, &bad);
	}
	if (c->onbuild.n)
		jset(cfg, "OnBuild", jstrlist(&c->onbuild, &bad), &bad);
	if (json_object_size(cfg))
		jset(root, "config", cfg, &bad);
	else
		json_decref(cfg);
	json_t *rootfs = json_object(), *ids = json_array();
	jset(rootfs, "type", json_string("layers"), &bad);
	for (size_t i = 0; i < nlayers; i++) {
		if (!oci_digest_valid(layers[i].digest)) {
			json_decref(ids);
			json_decref(rootfs);
			json_decref(root);
			return err_set(e, CRUMB_EINVAL, "image config: layer %zu: bad digest '%s'",
				       i, layers[i].digest);
		}
		jpush(ids, json_string(layers[i].digest), &bad);
	}
	jset(rootfs, "diff_ids", ids, &bad);
	jset(root, "rootfs", rootfs, &bad);
	int r = bad ? err_set(e, CRUMB_EINVAL, "image config: a value is not valid UTF-8")
		    : oci_json_canon(root, out, "image config", e);
	json_decref(root);
	return r;
}

/* An optional array of strings (null = unset). */
static int get_strs(json_t *o, const char *key, struct strlist *l, const char *file, struct err *e)
{
	json_t *a = json_object_get(o, key), *v;
	size_t i;
	if (!a || json_is_null(a))
		return 0;
	if (!json_is_array(a))
		return bad_field(e, file, key, "is not an array");
	json_array_foreach(a, i, v)
	{
		if (!json_is_string(v))
			return bad_field(e, file, key, "holds a value that is not a string");
		strlist_push(l, json_string_value(v));
	}
	return 0;
}

static int get_str(json_t *o, const char *key, char **out, const char *file, struct err *e)
{
	json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return bad_field(e, file, key, "is not a string");
	free(*out);
	*out = xstrdup(json_string_value(v));
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The keys of an optional object ({} values, or strings into vals), sorted. */
static int get_keys(json_t *o, const char *key, struct strlist *keys, struct strlist *vals,
		    const char *file, struct err *e)
{
	json_t *m = json_object_get(o, key), *v;
	const char *k;
	if (!m || json_is_null(m))
		return 0;
	if (!json_is_object(m))
		return bad_field(e, file, key, "is not an object");
	struct strlist tmp = STRLIST_INIT;
	json_object_foreach(m, k, v)
	{
		if (vals ? !json_is_string(v) : !(json_is_object(v) || json_is_null(v))) {
			strlist_release(&tmp);
			return bad_field(e, file, key,
					 vals ? "holds a value that is not a string"
					      : "holds a value that is not an object");
		}
		strlist_push(&tmp, k);
	}
	if (tmp.n)
		qsort(tmp.v, tmp.n, sizeof(*tmp.v), cmp_str);
	for (size_t i = 0; i < tmp.n; i++) {
		strlist_push(keys, tmp.v[i]);
		if (vals)
			strlist_push(vals, json_string_value(json_object_get(m, tmp.v[i])));
	}
	strlist_release(&tmp);
	return 0;
}

static int get_hc_opts(json_t *hc, struct oci_config *c, const char *file, struct err *e)
{
	for (size_t i = 0; i < HC_NOPTS; i++) {
		json_t *v = json_object_get(hc, hc_names[i]);
		if (!v || json_is_null(v))
			continue;
		if (!json_is_integer(v) || json_integer_value(v) < 0) {
			char *f = xasprintf("Healthcheck.%s", hc_names[i]);
			int r = bad_field(e, file, f, "is not a non-negative integer");
			free(f);
			return r;
		}
		*hc_opt(c, i) = (int64_t)json_integer_value(v);
	}
	return 0;
}

static int config_from_json(json_t *root, const char *file, struct oci_config *c, struct err *e)
{
	json_t *v, *cfg, *rootfs, *ids;
	size_t i;
	int r;
	if (!json_is_string(json_object_get(root, "architecture")))
		return bad_field(e, file, "architecture", "is missing or not a string");
	if (!json_is_string(json_object_get(root, "os")))
		return bad_field(e, file, "os", "is missing or not a string");
	if ((r = get_str(root, "created", &c->created, file, e)) < 0)
		return r;
	rootfs = json_object_get(root, "rootfs");
	if (!json_is_object(rootfs) || !json_is_string(json_object_get(rootfs, "type")))
		return bad_field(e, file, "rootfs", "is missing or has no type");
	ids = json_object_get(rootfs, "diff_ids");
	if (!json_is_array(ids))
		return bad_field(e, file, "rootfs.diff_ids", "is missing or not an array");
	json_array_foreach(
	    ids, i, v) if (!json_is_string(v) ||
			   !oci_digest_valid(json_string_value(
			       v))) return bad_field(e, file, "rootfs.diff_ids",
						     "holds a value that is not a sha256 digest");
	cfg = json_object_get(root, "config");
	if (!cfg || json_is_null(cfg))
		return 0;
	if (!json_is_object(cfg))
		return bad_field(e, file, "config", "is not an object");
	if ((r = get_strs(cfg, "Entrypoint", &c->entrypoint, file, e)) < 0 ||
	    (r = get_strs(cfg, "Cmd", &c->cmd, file, e)) < 0 ||
	    (r = get_strs(cfg, "Env", &c->env, file, e)) < 0 ||
	    (r = get_strs(cfg, "OnBuild", &c->onbuild, file, e)) < 0 ||
	    (r = get_str(cfg, "WorkingDir", &c->workdir, file, e)) < 0 ||
	    (r = get_str(cfg, "User", &c->user, file, e)) < 0 ||
	    (r = get_str(cfg, "StopSignal", &c->stop_signal, file, e)) < 0 ||
	    (r = get_keys(cfg, "ExposedPorts", &c->exposed, NULL, file, e)) < 0 ||
	    (r = get_keys(cfg, "Volumes", &c->volumes, NULL, file, e)) < 0 ||
	    (r = get_keys(cfg, "Labels", &c->label_keys, &c->label_values, file, e)) < 0)
		return r;
	v = json_object_get(cfg, "Healthcheck");
	if (v && !json_is_null(v)) {
		if (!json_is_object(v))
			return bad_field(e, file, "Healthcheck", "is not an object");
		if ((r = get_strs(v, "Test", &c->healthcheck, file, e)) < 0 ||
		    (r = get_hc_opts(v, c, file, e)) < 0)
			return r;
	}
	/* Docker writes "" for unset strings: treat them as unset, so a config round trips. */
	char **strs[] = {&c->workdir, &c->user, &c->stop_signal};
	for (i = 0; i < 3; i++)
		if (*strs[i] && !**strs[i]) {
			free(*strs[i]);
			*strs[i] = NULL;
		}
	return 0;
}

static int config_parse_named(const char *file, const char *json, size_t len, struct oci_config *c,
			      struct err *e)
{
	json_t *root;
	int r = json_parse(file, json, len, &root, e);
	if (r < 0)
		return r;
	struct oci_config tmp;
	oci_config_init(&tmp);
	r = config_from_json(root, file, &tmp, e);
	json_decref(root);
	if (r < 0) {
		oci_config_release(&tmp);
		return r;
	}
	oci_config_release(c);
	*c = tmp;
	return 0;
}

int oci_config_parse(const char *json, size_t len, struct oci_config *c, struct err *e)
{
	return config_parse_named("image config", json, len, c, e);
}

/* ---- opening ---- */

static int index_empty(struct sbuf *out, struct err *e)
{
	int bad = 0;
	json_t *j = json_object();
	jset(j, "schemaVersion", json_integer(2), &bad);
	jset(j, "mediaType", json_string(OCI_MT_INDEX), &bad);
	jset(j, "manifests", json_array(), &bad);
	int r = oci_json_canon(j, out, "index.json", e);
	json_decref(j);
	return r;
}

/* Reads and checks index.json; *out is the parsed document (json_decref it). */
static int index_load(struct oci_store *s, json_t **out, struct err *e)
{
	struct sbuf b = SBUF_INIT;
	json_t *j = NULL, *m, *ent;
	size_t i;
	int r = read_file(s->index, JSON_MAX, &b, e);
	if (r == CRUMB_EUNSAFE)
		r = err_set(e, CRUMB_EFORMAT, "%s: corrupt: larger than %u bytes", s->index,
			    JSON_MAX);
	if (r < 0)
		goto out;
	if ((r = json_parse(s->index, b.buf, b.len, &j, e)) < 0) {
		e->code = r = CRUMB_EFORMAT;
		goto out;
	}
	json_t *sv = json_object_get(j, "schemaVersion");
	if (!json_is_integer(sv) || json_integer_value(sv) != 2) {
		r = bad_field(e, s->index, "schemaVersion", "is not 2");
		goto out;
	}
	m = json_object_get(j, "mediaType");
	if (m && (!json_is_string(m) || strcmp(json_string_value(m), OCI_MT_INDEX))) {
		r = bad_field(e, s->index, "mediaType", "is not " OCI_MT_INDEX);
		goto out;
	}
	m = json_object_get(j, "manifests");
	if (!json_is_array(m)) {
		r = bad_field(e, s->index, "manifests", "is missing or not an array");
		goto out;
	}
	json_array_foreach(m, i, ent)
	{
		struct oci_desc d;
		char field[48];
		snprintf(field, sizeof(field), "manifests[%zu]", i);
		if ((r = get_desc(ent, s->index, field, &d, e)) < 0)
			goto out;
	}
out:
	sb_release(&b);
	if (r < 0)
		json_decref(j);
	else
		*out = j;
	return r;
}

static int index_save(struct oci_store *s, json_t *j, struct err *e)
{
	struct sbuf b = SBUF_INIT;
	int r = oci_json_canon(j, &b, s->index, e);
	if (!r)
		r = write_atomic(s->root, s->index, b.buf, b.len, e);
	sb_release(&b);
	return r;
}

static int check_layout(struct oci_store *s, int create, struct err *e)
{
	char *p = xasprintf("%s/oci-layout", s->root);
	struct sbuf b = SBUF_INIT;
	json_t *j = NULL;
	int r = read_file(p, 65536, &b, e);
	if (r == CRUMB_ENOENT && !create) {
		r = err_set(e, CRUMB_ENOENT, "%s: not an OCI image layout (no oci-layout file)",
			    s->root);
		goto out;
	}
	if (r == CRUMB_ENOENT) {
		static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
		r = write_atomic(s->root, p, layout, sizeof(layout) - 1, e);
		goto out;
	}
	if (r < 0)
		goto out;
	if ((r = json_parse(p, b.buf, b.len, &j, e)) < 0) {
		e->code = r = CRUMB_EFORMAT;
		goto out;
	}
	json_t *v = json_object_get(j, "imageLayoutVersion");
	if (!json_is_string(v) || strncmp(json_string_value(v), "1.", 2))
		r = bad_field(e, p, "imageLayoutVersion", "is not 1.x");
out:
	json_decref(j);
	sb_release(&b);
	free(p);
	return r;
}

static int open_layout(const char *root, int create, struct oci_store **out, struct err *e)
{
	struct oci_store *s = xcalloc(1, sizeof(*s));
	struct stat st;
	int r, fd = -1;
	json_t *j = NULL;
	s->root = xstrdup(root);
	s->blobs = xasprintf("%s/blobs/sha256", root);
	s->index = xasprintf("%s/index.json", root);
	s->cache = xasprintf("%s/cache", root);
	s->locks = xasprintf("%s/locks", root);
	s->existing = !create;
	if (create &&
	    ((r = mkdir_p(s->blobs, 0755, e)) < 0 || (r = mkdir_p(s->cache, 0755, e)) < 0 ||
	     (r = mkdir_p(s->locks, 0700, e)) < 0))
		goto fail;
	if ((r = check_layout(s, create, e)) < 0)
		goto fail;
	if (create && stat(s->index, &st) < 0) {
		/* Created under the index lock so that a racing commit's index is never replaced.
		 */
		if ((fd = r = index_lock(s, e)) < 0)
			goto fail;
		if (stat(s->index, &st) < 0) {
			struct sbuf b = SBUF_INIT;
			if (!(r = index_empty(&b, e)))
				r = write_atomic(s->root, s->index, b.buf, b.len, e);
			sb_release(&b);
			if (r < 0)
				goto fail;
		}
		unlock(fd);
		fd = -1;
	}
	if ((r = index_load(s, &j, e)) < 0)
		goto fail;
	json_decref(j);
	*out = s;
	return 0;
fail:
	unlock(fd);
	oci_close(s);
	return r;
}

int oci_open(const char *root, struct oci_store **out, struct err *e)
{
	return open_layout(root, 1, out, e);
}

int oci_open_existing(const char *root, struct oci_store **out, struct err *e)
{
	return open_layout(root, 0, out, e);
}

void oci_close(struct oci_store *s)
{
	if (!s)
		return;
	free(s->root);
	free(s->blobs);
	free(s->index);
	free(s->cache);
	free(s->locks);
	free(s);
}

const char *oci_root(const struct oci_store *s)
{
	return s->root;
}

/* ---- blobs ---- */

char *oci_blob_path(const struct oci_store *s, const char *digest)
{
	if (!oci_digest_valid(digest))
		return NULL;
	return xasprintf("%s/%s", s->blobs, digest + 7);
}

static void hex32(const unsigned char *md, char out[65])
{
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* Hashes fd from its current offset to EOF, copying to outfd when >= 0. */
static int hash_fd(int fd, int outfd, char hex[65], uint64_t *size, const char *src,
		   const char *dst, struct err *e)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char *buf = xmalloc(COPY_BUF), md[32];
	unsigned int mdlen = 0;
	uint64_t total = 0;
	int r = 0;
	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		r = err_set(e, CRUMB_EIO, "sha256: cannot initialize");
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, buf, COPY_BUF);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = err_errno(e, CRUMB_EIO, "read %s", src);
			goto out;
		}
		if (n == 0)
			break;
		EVP_DigestUpdate(ctx, buf, (size_t)n);
		total += (uint64_t)n;
		if (outfd >= 0 && write_all(outfd, buf, (size_t)n) < 0) {
			r = err_errno(e, CRUMB_EIO, "write %s", dst);
			goto out;
		}
	}
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	hex32(md, hex);
	*size = total;
out:
	EVP_MD_CTX_free(ctx);
	free(buf);
	return r;
}

static void desc_fill(struct oci_desc *d, const char *media_type, const char *hex, uint64_t size)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->media_type, sizeof(d->media_type), "%s", media_type);
	snprintf(d->digest, sizeof(d->digest), "sha256:%s", hex);
	d->size = size;
}

/* 1 when the blob exists as a regular file (not a symlink) of this size. */
static int blob_present(const char *path, uint64_t size)
{
	struct stat st;
	return lstat(path, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size == size;
}

static int verified_known(const struct oci_store *s, const char *digest, const struct stat *st);

/* 1 when blob hex is present and known good (its verification record matches):
 * a put keeps it. Any other file in its place (corrupt, truncated, a symlink)
 * is replaced by the bytes just hashed. */
static int blob_known_good(const struct oci_store *s, const char *path, const char *hex,
			   uint64_t size)
{
	struct stat st;
	char digest[80];
	snprintf(digest, sizeof(digest), "sha256:%s", hex);
	return lstat(path, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size == size &&
	       verified_known(s, digest, &st);
}

int oci_blob_put_file(struct oci_store *s, const char *path, const char *media_type, int move,
		      struct oci_desc *desc, struct err *e)
{
	char hex[65], *tmp = NULL, *final = NULL;
	uint64_t size = 0;
	int r, in = -1, out = -1;
	struct stat st;
	if (!oci_media_type_valid(media_type))
		return err_set(e, CRUMB_EINVAL, "bad media type '%s'",
			       media_type ? media_type : "");
	int lk = oci_lock(s, 0, e); /* prune must not take the temp file */
	if (lk < 0)
		return lk;
	if ((in = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		r = err_errno(e, errno == ENOENT ? CRUMB_ENOENT : CRUMB_EIO, "%s", path);
		goto out;
	}
	if (fstat(in, &st) < 0 || !S_ISREG(st.st_mode)) {
		r = err_set(e, CRUMB_EINVAL, "%s: not a regular file", path);
		goto out;
	}
	if (move) {
		if ((r = hash_fd(in, -1, hex, &size, path, NULL, e)) < 0)
			goto out;
		final = xasprintf("%s/%s", s->blobs, hex);
		if (blob_known_good(s, final, hex, size)) {
			unlink(path);
			goto done;
		}
		if (rename(path, final) == 0) {
			chmod(final, 0644);
			fsync(in);
			fsync_dir(s->blobs);
			goto done;
		}
		if (errno != EXDEV) {
			r = err_errno(e, CRUMB_EIO, "rename %s to %s", path, final);
			goto out;
		}
		/* another filesystem: copy below, then remove the source */
		if (lseek(in, 0, SEEK_SET) < 0) {
			r = err_errno(e, CRUMB_EIO, "seek %s", path);
			goto out;
		}
		free(final);
		final = NULL;
	}
	if ((out = r = tmp_create(s->blobs, &tmp, e)) < 0)
		goto out;
	if ((r = hash_fd(in, out, hex, &size, path, tmp, e)) < 0)
		goto out;
	if (fsync(out) < 0 || close(out) < 0) {
		out = -1;
		r = err_errno(e, CRUMB_EIO, "write %s", tmp);
		goto out;
	}
	out = -1;
	final = xasprintf("%s/%s", s->blobs, hex);
	if (blob_known_good(s, final, hex, size)) {
		unlink(tmp);
	} else if (rename(tmp, final) < 0) {
		r = err_errno(e, CRUMB_EIO, "rename %s to %s", tmp, final);
		goto out;
	} else {
		fsync_dir(s->blobs);
	}
	free(tmp);
	tmp = NULL;
	if (move)
		unlink(path);
done:
	desc_fill(desc, media_type, hex, size);
	r = 0;
out:
	if (out >= 0)
		close(out);
	if (tmp)
		unlink(tmp);
	if (in >= 0)
		close(in);
	free(tmp);
	free(final);
	unlock(lk);
	return r;
}

int oci_blob_put_mem(struct oci_store *s, const void *data, size_t len, const char *media_type,
		     struct oci_desc *desc, struct err *e)
{
	char hex[65];
	if (!oci_media_type_valid(media_type))
		return err_set(e, CRUMB_EINVAL, "bad media type '%s'",
			       media_type ? media_type : "");
	sha256_hex(data, len, hex);
	char *final = xasprintf("%s/%s", s->blobs, hex);
	int r = 0, lk = oci_lock(s, 0, e);
	if (lk < 0)
		r = lk;
	else if (!blob_known_good(s, final, hex, len))
		r = write_atomic(s->blobs, final, data, len, e);
	unlock(lk);
	free(final);
	if (!r)
		desc_fill(desc, media_type, hex, len);
	return r;
}

int oci_blob_read(struct oci_store *s, const char *digest, size_t max, struct sbuf *out,
		  struct err *e)
{
	struct oci_desc d = {.size = VREAD_SIZE_ANY};
	if (!oci_digest_valid(digest))
		return err_set(e, CRUMB_EINVAL, "'%s' is not a sha256 digest", digest);
	snprintf(d.digest, sizeof(d.digest), "%s", digest);
	struct vread v;
	int r = oci_blob_open(s, &d, NULL, 0, &v, e);
	if (r == 0 && v.want_size > max)
		r = err_set(e, CRUMB_EUNSAFE, "%s: larger than %zu bytes", v.name, max);
	struct sbuf b = SBUF_INIT;
	while (r == 0) {
		sb_grow(&b, 65536);
		ssize_t n = vread_read(&v, b.buf + b.len, 65536, e);
		if (n <= 0) {
			r = (int)n;
			break;
		}
		b.len += (size_t)n;
		b.buf[b.len] = 0;
	}
	if (r == 0)
		sb_add(out, b.buf, b.len);
	sb_release(&b);
	vread_close(&v);
	return r;
}

/* ---- verified blob reads and the verification cache ---- */

/*
 * ROOT/verified/HEX holds the stat data (dev, ino, size, mtime, ctime) blob
 * HEX had when it was last hashed and found good, as git's index keeps stat
 * data. Any write to the file, a rename over it or a chmod moves its ctime,
 * which no one can set back, so a matching record means the bytes are the
 * ones hashed. A record is only written for a file whose ctime is more than
 * a second older than the hash began (else a write in the same clock tick
 * could leave the ctime as it was: git's "racily clean" case).
 */
#define VERIFIED_FMT "crumb-verified-1 %llu %llu %llu %lld.%09ld %lld.%09ld\n"

static char *verified_path(const struct oci_store *s, const char *digest)
{
	return xasprintf("%s/verified/%s", s->root, digest + 7);
}

static void stat_line(const struct stat *st, char out[256])
{
	snprintf(out, 256, VERIFIED_FMT, (unsigned long long)st->st_dev,
		 (unsigned long long)st->st_ino, (unsigned long long)st->st_size,
		 (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec, (long long)st->st_ctim.tv_sec,
		 st->st_ctim.tv_nsec);
}

static int verified_known(const struct oci_store *s, const char *digest, const struct stat *st)
{
	char want[256], got[256];
	char *p = verified_path(s, digest);
	int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	free(p);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, got, sizeof(got) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	got[n] = 0;
	stat_line(st, want);
	return !strcmp(got, want);
}

static void verified_record(struct oci_store *s, const char *digest, const struct stat *st,
			    const struct timespec *began)
{
	char line[256];
	struct err ig;
	int64_t changed = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
	int64_t start = (int64_t)began->tv_sec * 1000000000 + began->tv_nsec;
	if (changed > start - 1000000000)
		return; /* racy: changed too recently to vouch for it by its stat data */
	if (s->existing)
		return; /* a layout crumb only reads */
	char *dir = xasprintf("%s/verified", s->root), *p = verified_path(s, digest);
	stat_line(st, line);
	if (mkdir(dir, 0755) == 0 || errno == EEXIST)
		write_atomic(dir, p, line, strlen(line), &ig); /* best effort: a cache */
	free(dir);
	free(p);
}

int oci_blob_open(struct oci_store *s, const struct oci_desc *d, const char *whose, int flags,
		  struct vread *v, struct err *e)
{
	char *p = oci_blob_path(s, d->digest);
	if (!p) {
		memset(v, 0, sizeof(*v));
		v->fd = -1;
		return err_set(e, CRUMB_EFORMAT, "%s%s'%s' is not a sha256 digest",
			       whose ? whose : "", whose ? ": " : "", d->digest);
	}
	char *name = whose ? xasprintf("%s: blob %s", whose, p) : xasprintf("blob %s", p);
	int r = vread_open(v, p, d->digest, d->size, name, 1, e);
	if (r == 0 && (flags & OCI_VERIFY_CACHED) && verified_known(s, d->digest, &v->st)) {
		vread_trust(v);
		v->verified = 1;
	}
	free(name);
	free(p);
	return r;
}

int oci_blob_done(struct oci_store *s, const struct oci_desc *d, int flags, struct vread *v,
		  struct err *e)
{
	int hashed = !v->verified;
	int r = vread_finish(v, e);
	if (r == 0 && hashed && (flags & (OCI_VERIFY_CACHED | OCI_VERIFY_RECORD)))
		verified_record(s, d->digest, &v->st, &v->began);
	return r;
}

int oci_blob_verify(struct oci_store *s, const struct oci_desc *d, const char *whose, int flags,
		    struct err *e)
{
	struct vread v;
	int r = oci_blob_open(s, d, whose, flags, &v, e);
	if (r == 0 && !v.verified)
		r = oci_blob_done(s, d, flags, &v, e);
	vread_close(&v);
	return r;
}

int oci_image_verify(struct oci_store *s, const struct oci_image *im, int flags, struct err *e)
{
	char *whose = xasprintf("image %s", im->ref ? im->ref : im->manifest.digest);
	int r = 0;
	for (size_t i = 0; r == 0 && i < im->nlayers; i++)
		if ((r = oci_blob_verify(s, &im->layers[i], whose, flags, e)) == CRUMB_ENOENT)
			r = e->code = CRUMB_EFORMAT;
	free(whose);
	return r;
}

int oci_detect_rootfs(const char *path, const char **media_type, struct err *e)
{
	enum fsimage_kind kind;
	int r = fsimage_probe(path, &kind, e);
	if (r < 0)
		return r;
	if (kind == FSIMAGE_CPIO)
		*media_type = OCI_MT_ROOTFS_CPIO;
	else if (kind == FSIMAGE_GZIP)
		*media_type = OCI_MT_ROOTFS_CPIO_GZIP;
	else if (kind == FSIMAGE_ZSTD)
		*media_type = OCI_MT_ROOTFS_CPIO_ZSTD;
	else if (kind == FSIMAGE_EXT)
		*media_type = OCI_MT_ROOTFS_EXT4;
	else
		return err_set(e, CRUMB_EFORMAT,
			       "%s: not a root filesystem crumb knows (cpio newc, gzip or zstd "
			       "cpio, ext2/3/4)",
			       path);
	return 0;
}

/* ---- references ---- */

static int alnum_lower(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* A path component: [a-z0-9]+ ((.|_|__|-+)[a-z0-9]+)* */
static const char *check_component(const char *s, size_t n)
{
	size_t i = 0;
	if (n == 0)
		return "an empty name component";
	for (;;) {
		size_t start = i;
		while (i < n && alnum_lower(s[i]))
			i++;
		if (i == start) {
			for (size_t k = 0; k < n; k++)
				if (s[k] >= 'A' && s[k] <= 'Z')
					return "repository names must be lowercase";
			return "name components must start and end with [a-z0-9]";
		}
		if (i == n)
			return NULL;
		if (s[i] == '.')
			i++;
		else if (s[i] == '_')
			i += (i + 1 < n && s[i + 1] == '_') ? 2 : 1;
		else if (s[i] == '-')
			while (i < n && s[i] == '-')
				i++;
		else if (s[i] >= 'A' && s[i] <= 'Z')
			return "repository names must be lowercase";
		else
			return "names may only hold [a-z0-9], '.', '_', '-' and '/'";
		if (i == n)
			return "name components must start and end with [a-z0-9]";
	}
}

/* host[:port]: dot-separated [A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])? labels. */
static int check_domain(const char *s, size_t n)
{
	const char *colon = memchr(s, ':', n);
	size_t hn = colon ? (size_t)(colon - s) : n;
	if (colon) {
		size_t pn = n - hn - 1;
		if (pn == 0 || pn > 5)
			return 0;
		for (size_t i = hn + 1; i < n; i++)
			if (s[i] < '0' || s[i] > '9')
				return 0;
	}
	size_t i = 0;
	while (i < hn) {
		size_t start = i;
		while (i < hn && s[i] != '.')
			i++;
		size_t len = i - start;
		if (len == 0 || s[start] == '-' || s[i - 1] == '-')
			return 0;
		for (size_t k = start; k < i; k++) {
			char c = s[k];
			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			      (c >= '0' && c <= '9') || c == '-'))
				return 0;
		}
		if (i < hn && ++i == hn)
			return 0; /* trailing dot */
	}
	return hn > 0;
}

int oci_ref_normalize(const char *ref, char **out, struct err *e)
{
	size_t n = strlen(ref);
	const char *why = NULL;
	if (n == 0)
		return err_set(e, CRUMB_EINVAL, "an empty image reference");
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)ref[i] <= ' ' || (unsigned char)ref[i] >= 0x7f)
			return err_set(e, CRUMB_EINVAL,
				       "invalid reference: it holds a space or control character");
	if (strchr(ref, '@'))
		return err_set(e, CRUMB_EINVAL,
			       "invalid reference '%s': name@digest is not supported; give the "
			       "digest alone (sha256:...)",
			       ref);
	const char *slash = strrchr(ref, '/'), *colon = strrchr(ref, ':');
	size_t name_len = n;
	const char *tag = "latest";
	if (colon && (!slash || colon > slash)) {
		name_len = (size_t)(colon - ref);
		tag = colon + 1;
		size_t tn = strlen(tag);
		int tag_ok = tn >= 1 && tn <= 128 && tag[0] != '.' && tag[0] != '-';
		for (size_t i = 0; tag_ok && i < tn; i++) {
			char c = tag[i];
			tag_ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
				 (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
		}
		if (!tag_ok)
			return err_set(
			    e, CRUMB_EINVAL,
			    "invalid reference '%s': a tag is [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}",
			    ref);
	}
	if (name_len == 0)
		return err_set(e, CRUMB_EINVAL, "invalid reference '%s': no name", ref);
	if (name_len > 255)
		return err_set(e, CRUMB_EINVAL,
			       "invalid reference: the name is longer than 255 bytes");
	/* The first component is a registry host when it has a '.' or ':' or is localhost
	 * (Docker's rule), and only then when more components follow. */
	size_t i = 0;
	const char *first_end = memchr(ref, '/', name_len);
	if (first_end) {
		size_t fl = (size_t)(first_end - ref);
		if (memchr(ref, '.', fl) || memchr(ref, ':', fl) ||
		    (fl == 9 && !memcmp(ref, "localhost", 9))) {
			if (!check_domain(ref, fl))
				return err_set(e, CRUMB_EINVAL,
					       "invalid reference '%s': bad registry host '%.*s'",
					       ref, (int)fl, ref);
			i = fl + 1;
		}
	}
	while (i <= name_len) {
		const char *end = memchr(ref + i, '/', name_len - i);
		size_t cl = end ? (size_t)(end - (ref + i)) : name_len - i;
		if ((why = check_component(ref + i, cl)))
			return err_set(e, CRUMB_EINVAL, "invalid reference '%s': %s", ref, why);
		i += cl + 1;
	}
	*out = xasprintf("%.*s:%s", (int)name_len, ref, tag);
	return 0;
}

/* ---- manifests and images ---- */

static char *blob_name(const struct oci_store *s, const char *digest)
{
	char *p = oci_blob_path(s, digest);
	return p ? p : xstrdup(digest);
}

/* Reads the blob of d (a JSON document), checking size and digest. */
static int read_json_blob(struct oci_store *s, const struct oci_desc *d, json_t **out,
			  struct err *e)
{
	struct sbuf b = SBUF_INIT;
	char *p = blob_name(s, d->digest);
	struct vread v = {.fd = -1};
	int r;
	if (d->size > JSON_MAX) {
		r = err_set(e, CRUMB_EFORMAT, "blob %s: corrupt: a %llu-byte JSON blob", p,
			    (unsigned long long)d->size);
		goto out;
	}
	if ((r = oci_blob_open(s, d, NULL, 0, &v, e)) < 0)
		goto out;
	sb_grow(&b, (size_t)d->size + 1);
	for (;;) {
		ssize_t n = vread_read(&v, b.buf + b.len, (size_t)d->size + 1 - b.len, e);
		if (n <= 0) {
			r = (int)n;
			break;
		}
		b.len += (size_t)n;
		b.buf[b.len] = 0;
	}
	if (r < 0)
		goto out;
	r = json_parse(p, b.buf, b.len, out, e);
	if (r < 0)
		e->code = r = CRUMB_EFORMAT;
out:
	vread_close(&v);
	sb_release(&b);
	free(p);
	return r;
}

void oci_image_release(struct oci_image *im)
{
	free(im->ref);
	free(im->layers);
	oci_config_release(&im->cfg);
	memset(im, 0, sizeof(*im));
	oci_config_init(&im->cfg);
}

/* Reads the manifest md and its config into im (whose ref is left alone). */
static int image_load(struct oci_store *s, const struct oci_desc *md, struct oci_image *im,
		      struct err *e);

/* An image index (multi-platform): the linux/amd64 manifest in it, else its only entry. */
static int index_pick(struct oci_store *s, const struct oci_desc *md, struct oci_image *im,
		      int depth, struct err *e)
{
	json_t *j = NULL, *a, *ent;
	char *p = blob_name(s, md->digest);
	struct oci_desc d, pick;
	size_t i;
	int r, n = 0;
	if (depth > 2) {
		r = err_set(e, CRUMB_EUNSAFE, "%s: image indexes nested too deep", p);
		goto out;
	}
	if ((r = read_json_blob(s, md, &j, e)) < 0)
		goto out;
	a = json_object_get(j, "manifests");
	if (!json_is_array(a)) {
		r = bad_field(e, p, "manifests", "is missing or not an array");
		goto out;
	}
	json_array_foreach(a, i, ent)
	{
		char field[48];
		snprintf(field, sizeof(field), "manifests[%zu]", i);
		if ((r = get_desc(ent, p, field, &d, e)) < 0)
			goto out;
		json_t *pf = json_object_get(ent, "platform");
		const char *os = json_string_value(json_object_get(pf, "os"));
		const char *arch = json_string_value(json_object_get(pf, "architecture"));
		if (os && arch && !strcmp(os, "linux") && !strcmp(arch, "amd64")) {
			pick = d;
			n = 1;
			break;
		}
		if (!pf && !n++)
			pick = d;
		else if (!pf)
			n = 2;
	}
	if (n != 1) {
		r = err_set(e, CRUMB_EUNSUPP, "%s: an image index with no linux/amd64 image", p);
		goto out;
	}
	if (!strcmp(pick.media_type, OCI_MT_INDEX) || !strcmp(pick.media_type, DOCKER_MT_LIST))
		r = index_pick(s, &pick, im, depth + 1, e);
	else
		r = image_load(s, &pick, im, e);
out:
	json_decref(j);
	free(p);
	return r;
}

/* Reads the manifest md (through an image index to its linux/amd64 manifest) and its
 * config into im (whose ref is left alone). */
static int image_load(struct oci_store *s, const struct oci_desc *md, struct oci_image *im,
		      struct err *e)
{
	json_t *m = NULL, *v;
	char *p = blob_name(s, md->digest);
	size_t i;
	int r;
	if (!strcmp(md->media_type, OCI_MT_INDEX) || !strcmp(md->media_type, DOCKER_MT_LIST)) {
		free(p);
		return index_pick(s, md, im, 0, e);
	}
	if ((r = read_json_blob(s, md, &m, e)) < 0)
		goto out;
	v = json_object_get(m, "schemaVersion");
	if (!json_is_integer(v) || json_integer_value(v) != 2) {
		r = bad_field(e, p, "schemaVersion", "is not 2");
		goto out;
	}
	v = json_object_get(m, "mediaType");
	if (v && (!json_is_string(v) || (strcmp(json_string_value(v), OCI_MT_MANIFEST) &&
					 strcmp(json_string_value(v), DOCKER_MT_MANIFEST)))) {
		r = err_set(e, json_is_string(v) ? CRUMB_EUNSUPP : CRUMB_EFORMAT,
			    "%s: not an OCI image manifest", p);
		goto out;
	}
	im->manifest = *md;
	if ((r = get_desc(json_object_get(m, "config"), p, "config", &im->config, e)) < 0)
		goto out;
	v = json_object_get(m, "layers");
	if (!json_is_array(v) || json_array_size(v) > MAX_LAYERS) {
		r = bad_field(e, p, "layers", "is missing, not an array or too long");
		goto out;
	}
	im->nlayers = json_array_size(v);
	im->layers = xcalloc(im->nlayers ? im->nlayers : 1, sizeof(*im->layers));
	im->size = md->size + im->config.size;
	for (i = 0; i < im->nlayers; i++) {
		char field[32];
		snprintf(field, sizeof(field), "layers[%zu]", i);
		if ((r = get_desc(json_array_get(v, i), p, field, &im->layers[i], e)) < 0)
			goto out;
		im->size += im->layers[i].size;
	}
	json_decref(m);
	m = NULL;
	if ((r = read_json_blob(s, &im->config, &m, e)) < 0)
		goto out;
	free(p);
	p = blob_name(s, im->config.digest);
	r = config_from_json(m, p, &im->cfg, e);
out:
	json_decref(m);
	free(p);
	return r;
}

const struct oci_desc *oci_image_layer(const struct oci_image *im, const char *prefix)
{
	for (size_t i = 0; i < im->nlayers; i++)
		if (!strncmp(im->layers[i].media_type, prefix, strlen(prefix)))
			return &im->layers[i];
	return NULL;
}

/* Matches name against the index: a ref (as stored, or normalized), else a digest or a
 * unique hex prefix of one (at least 12 digits). On success *d is the manifest descriptor,
 * *ref its ref (malloc'd; NULL for an untagged entry) and *by_ref whether name was a ref. */
static int index_find(struct oci_store *s, json_t *idx, const char *name, struct oci_desc *d,
		      char **ref, int *by_ref, struct err *e)
{
	json_t *m = json_object_get(idx, "manifests"), *ent;
	size_t i;
	char *norm = NULL;
	int found = -1;
	struct err ne = {0};
	int nr = oci_ref_normalize(name, &norm, &ne);
	json_array_foreach(m, i, ent)
	{
		const char *r = ann_get(ent, ANN_REF);
		if (r && (!strcmp(r, name) || (norm && !strcmp(r, norm))))
			found = (int)i; /* the last one wins, as index_set would leave it */
	}
	free(norm);
	*by_ref = found >= 0;
	if (found < 0) {
		const char *hex = !strncmp(name, "sha256:", 7) ? name + 7 : name;
		size_t hl = strlen(hex);
		int full = hex != name;
		if (full && !(hl == 64 && is_hex(hex, 64)))
			return err_set(e, CRUMB_EINVAL, "'%s' is not a sha256 digest", name);
		if (!full && !(hl >= 12 && hl <= 64 && is_hex(hex, hl))) {
			if (nr < 0) {
				*e = ne;
				return ne.code;
			}
			return err_set(e, CRUMB_ENOENT, "no image '%s' in the store (%s)", name,
				       s->root);
		}
		const char *match = NULL;
		json_array_foreach(m, i, ent)
		{
			const char *dg = json_string_value(json_object_get(ent, "digest"));
			if (strncmp(dg + 7, hex, hl))
				continue;
			if (match && strcmp(match, dg))
				return err_set(e, CRUMB_EINVAL,
					       "'%s' matches more than one image; give more digits",
					       name);
			match = dg;
			/* the first tagged entry of that manifest names it */
			if (found < 0 || (!ann_get(json_array_get(m, (size_t)found), ANN_REF) &&
					  ann_get(ent, ANN_REF)))
				found = (int)i;
		}
	}
	if (found < 0)
		return err_set(e, CRUMB_ENOENT, "no image '%s' in the store (%s)", name, s->root);
	ent = json_array_get(m, (size_t)found);
	int r = get_desc(ent, s->index, "manifest", d, e);
	if (r < 0)
		return r;
	const char *rn = ann_get(ent, ANN_REF);
	*ref = rn ? xstrdup(rn) : NULL;
	return 0;
}

int oci_image_resolve(struct oci_store *s, const char *name, struct oci_image *out, struct err *e)
{
	json_t *idx;
	struct oci_desc d;
	char *ref = NULL;
	int by_ref, r = index_load(s, &idx, e);
	if (r < 0)
		return r;
	memset(out, 0, sizeof(*out));
	oci_config_init(&out->cfg);
	r = index_find(s, idx, name, &d, &ref, &by_ref, e);
	json_decref(idx);
	if (r == CRUMB_ENOENT && !strncmp(name, "sha256:", 7)) {
		/* an untagged manifest still in blobs/ (until prune) */
		char *p = oci_blob_path(s, name);
		struct stat st;
		if (p && stat(p, &st) == 0 && S_ISREG(st.st_mode) && st.st_size <= JSON_MAX) {
			desc_fill(&d, OCI_MT_MANIFEST, name + 7, (uint64_t)st.st_size);
			r = 0;
		}
		free(p);
	}
	if (r < 0)
		return r;
	out->ref = ref;
	r = image_load(s, &d, out, e);
	if (r < 0) {
		/* name the image: its manifest or config is what is damaged */
		char msg[ERR_MSG_MAX];
		snprintf(msg, sizeof(msg), "%s", e->msg);
		err_set(e, r == CRUMB_ENOENT ? CRUMB_EFORMAT : r, "image %s: %s", ref ? ref : name,
			msg);
		r = e->code;
		oci_image_release(out);
	}
	return r;
}

int oci_image_first(struct oci_store *s, struct oci_image *out, struct err *e)
{
	json_t *idx;
	memset(out, 0, sizeof(*out));
	oci_config_init(&out->cfg);
	int r = index_load(s, &idx, e);
	if (r < 0)
		return r;
	/* index_load checked every entry's digest */
	const char *dg = json_string_value(
	    json_object_get(json_array_get(json_object_get(idx, "manifests"), 0), "digest"));
	char *digest = dg ? xstrdup(dg) : NULL;
	json_decref(idx);
	if (!digest)
		return err_set(e, CRUMB_ENOENT, "%s: the OCI layout holds no image", s->root);
	r = oci_image_resolve(s, digest, out, e);
	free(digest);
	return r;
}

void oci_entries_free(struct oci_entry *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].ref);
		free(v[i].created);
		free(v[i].error);
	}
	free(v);
}

/* Length of the name part of "name:tag" (the ':' after the last '/'). */
static size_t ref_name_len(const char *ref)
{
	const char *slash = strrchr(ref, '/'), *colon = strrchr(ref, ':');
	return colon && (!slash || colon > slash) ? (size_t)(colon - ref) : strlen(ref);
}

/* By name, then tag: "a:latest" before "a2:v1". */
static int cmp_entry(const void *a, const void *b)
{
	const char *x = ((const struct oci_entry *)a)->ref, *y = ((const struct oci_entry *)b)->ref;
	size_t xn = ref_name_len(x), yn = ref_name_len(y);
	int c = memcmp(x, y, xn < yn ? xn : yn);
	if (c || xn != yn)
		return c ? c : xn < yn ? -1 : 1;
	return strcmp(x + xn, y + yn);
}

/* A verdict per blob digest, so a blob many images share is hashed once. */
struct verdicts {
	struct strlist digests, errors; /* parallel; error "" when good */
};

static const char *verdict(struct oci_store *s, struct verdicts *vd, const struct oci_desc *d)
{
	for (size_t i = 0; i < vd->digests.n; i++)
		if (!strcmp(vd->digests.v[i], d->digest))
			return vd->errors.v[i][0] ? vd->errors.v[i] : NULL;
	struct err e = {0};
	int r = oci_blob_verify(s, d, NULL, OCI_VERIFY_RECORD, &e);
	strlist_push(&vd->digests, d->digest);
	strlist_push(&vd->errors, r < 0 ? e.msg : "");
	return r < 0 ? vd->errors.v[vd->errors.n - 1] : NULL;
}

static int list(struct oci_store *s, int verify, struct oci_entry **out, size_t *n, struct err *e)
{
	json_t *idx, *ent;
	size_t i, k = 0;
	struct verdicts vd = {STRLIST_INIT, STRLIST_INIT};
	int r = index_load(s, &idx, e);
	if (r < 0)
		return r;
	json_t *m = json_object_get(idx, "manifests");
	struct oci_entry *v = xcalloc(json_array_size(m) + 1, sizeof(*v));
	json_array_foreach(m, i, ent)
	{
		const char *ref = ann_get(ent, ANN_REF);
		struct oci_image im;
		if (!ref)
			continue;
		struct err ie = {0};
		memset(&im, 0, sizeof(im));
		oci_config_init(&im.cfg);
		if ((r = get_desc(ent, s->index, "manifest", &v[k].manifest, e)) < 0)
			break; /* checked by index_load */
		if (image_load(s, &v[k].manifest, &im, &ie) < 0)
			v[k].error = xstrdup(ie.msg);
		for (size_t l = 0; verify && !v[k].error && l < im.nlayers; l++) {
			const char *why = verdict(s, &vd, &im.layers[l]);
			if (why)
				v[k].error = xstrdup(why);
		}
		v[k].ref = xstrdup(ref);
		v[k].size = im.size ? im.size : v[k].manifest.size;
		v[k].created = im.cfg.created ? xstrdup(im.cfg.created) : NULL;
		oci_image_release(&im);
		k++;
	}
	json_decref(idx);
	strlist_release(&vd.digests);
	strlist_release(&vd.errors);
	if (r < 0) {
		oci_entries_free(v, k);
		return r;
	}
	if (k > 1)
		qsort(v, k, sizeof(*v), cmp_entry);
	*out = v;
	*n = k;
	return 0;
}

int oci_list(struct oci_store *s, struct oci_entry **out, size_t *n, struct err *e)
{
	return list(s, 0, out, n, e);
}

int oci_list_verified(struct oci_store *s, struct oci_entry **out, size_t *n, struct err *e)
{
	return list(s, 1, out, n, e);
}

/* Points ref at manifest d in index.json: drops older entries for ref, appends one. */
static int index_set(struct oci_store *s, const char *ref, const struct oci_desc *d, struct err *e)
{
	json_t *idx = NULL, *m, *ent;
	size_t i;
	int bad = 0, r, lk = index_lock(s, e);
	if (lk < 0)
		return lk;
	if ((r = index_load(s, &idx, e)) < 0)
		goto out;
	m = json_object_get(idx, "manifests");
	for (i = json_array_size(m); i-- > 0;) {
		const char *rn = ann_get(json_array_get(m, i), ANN_REF);
		if (rn && !strcmp(rn, ref))
			json_array_remove(m, i);
	}
	ent = jdesc(d, &bad);
	json_t *ann = json_object();
	jset(ann, ANN_REF, json_string(ref), &bad);
	jset(ent, "annotations", ann, &bad);
	jpush(m, ent, &bad);
	r = bad ? err_set(e, CRUMB_EINVAL, "index.json: bad entry for '%s'", ref)
		: index_save(s, idx, e);
out:
	json_decref(idx);
	unlock(lk);
	return r;
}

int oci_index_add(struct oci_store *s, const char *const *refs, const struct oci_desc *manifests,
		  size_t n, struct err *e)
{
	json_t *idx = NULL, *m;
	struct strlist norms = STRLIST_INIT;
	int bad = 0, r = 0, lk = -1;
	for (size_t k = 0; k < n && r == 0; k++) {
		char *norm = NULL, *p = oci_blob_path(s, manifests[k].digest);
		if (!oci_media_type_valid(manifests[k].media_type) || !p ||
		    !blob_present(p, manifests[k].size))
			r = err_set(e, CRUMB_EINVAL,
				    "manifest %s (%s): not a blob of %llu bytes in the store",
				    manifests[k].digest, manifests[k].media_type,
				    (unsigned long long)manifests[k].size);
		else if (refs[k] && (r = oci_ref_normalize(refs[k], &norm, e)) == 0)
			strlist_push_owned(&norms, norm);
		else if (!refs[k])
			strlist_push(&norms, "");
		free(p);
	}
	if (r < 0 || (lk = r = index_lock(s, e)) < 0 || (r = index_load(s, &idx, e)) < 0)
		goto out;
	m = json_object_get(idx, "manifests");
	for (size_t k = 0; k < n; k++) {
		const char *ref = norms.v[k][0] ? norms.v[k] : NULL;
		int have = 0;
		for (size_t i = json_array_size(m); i-- > 0;) {
			json_t *ent = json_array_get(m, i);
			const char *rn = ann_get(ent, ANN_REF);
			const char *dg = json_string_value(json_object_get(ent, "digest"));
			if (ref && rn && !strcmp(rn, ref))
				json_array_remove(m, i);
			else if (!ref && !strcmp(dg, manifests[k].digest))
				have = 1;
		}
		if (have)
			continue; /* an untagged entry for a manifest the index already lists */
		json_t *ent = jdesc(&manifests[k], &bad);
		if (ref) {
			json_t *ann = json_object();
			jset(ann, ANN_REF, json_string(ref), &bad);
			jset(ent, "annotations", ann, &bad);
		}
		jpush(m, ent, &bad);
	}
	r = bad ? err_set(e, CRUMB_EINVAL, "index.json: a name is not valid UTF-8")
		: index_save(s, idx, e);
out:
	json_decref(idx);
	unlock(lk);
	strlist_release(&norms);
	return r;
}

int oci_image_commit(struct oci_store *s, const char *ref, const struct oci_config *c,
		     const struct oci_desc *layers, size_t nlayers, struct oci_desc *manifest,
		     struct err *e)
{
	char *norm = NULL, created[32];
	struct sbuf cb = SBUF_INIT, mb = SBUF_INIT;
	struct oci_desc cd;
	json_t *m = NULL;
	int bad = 0, r, lk = -1;
	if (ref && (r = oci_ref_normalize(ref, &norm, e)) < 0)
		return r;
	if ((lk = r = oci_lock(s, 0, e)) < 0)
		goto out;
	for (size_t i = 0; i < nlayers; i++) {
		char *p = oci_blob_path(s, layers[i].digest);
		int present = p && blob_present(p, layers[i].size);
		free(p);
		if (!oci_media_type_valid(layers[i].media_type) || !present) {
			r = err_set(e, CRUMB_EINVAL,
				    "layer %zu (%s, %s): not a blob of %llu bytes in the store", i,
				    layers[i].media_type, layers[i].digest,
				    (unsigned long long)layers[i].size);
			goto out;
		}
	}
	struct oci_config tmp = *c; /* shallow: only created may differ */
	if (!tmp.created) {
		oci_format_time(0, created);
		tmp.created = created;
	}
	if ((r = oci_config_render(&tmp, layers, nlayers, &cb, e)) < 0 ||
	    (r = oci_blob_put_mem(s, cb.buf, cb.len, OCI_MT_CONFIG, &cd, e)) < 0)
		goto out;
	m = json_object();
	jset(m, "schemaVersion", json_integer(2), &bad);
	jset(m, "mediaType", json_string(OCI_MT_MANIFEST), &bad);
	jset(m, "config", jdesc(&cd, &bad), &bad);
	json_t *ls = json_array();
	for (size_t i = 0; i < nlayers; i++) {
		json_t *l = jdesc(&layers[i], &bad);
		const char *title = oci_layer_title(layers[i].media_type);
		if (title) {
			json_t *ann = json_object();
			jset(ann, ANN_TITLE, json_string(title), &bad);
			jset(l, "annotations", ann, &bad);
		}
		jpush(ls, l, &bad);
	}
	jset(m, "layers", ls, &bad);
	json_t *ann = json_object();
	jset(ann, ANN_CREATED, json_string(tmp.created), &bad);
	jset(m, "annotations", ann, &bad);
	if (bad) {
		r = err_set(e, CRUMB_EINVAL, "manifest: a value is not valid UTF-8");
		goto out;
	}
	if ((r = oci_json_canon(m, &mb, "manifest", e)) < 0 ||
	    (r = oci_blob_put_mem(s, mb.buf, mb.len, OCI_MT_MANIFEST, manifest, e)) < 0 ||
	    (norm && (r = index_set(s, norm, manifest, e)) < 0))
		goto out;
out:
	json_decref(m);
	sb_release(&cb);
	sb_release(&mb);
	unlock(lk);
	free(norm);
	return r;
}

int oci_manifest_put(struct oci_store *s, const char *ref, const void *data, size_t len,
		     const char *media_type, struct oci_desc *manifest, struct err *e)
{
	char *norm = NULL;
	struct oci_image im;
	int r = ref ? oci_ref_normalize(ref, &norm, e) : 0;
	if (r < 0)
		return r;
	memset(&im, 0, sizeof(im));
	oci_config_init(&im.cfg);
	int lk = r = oci_lock(s, 0, e);
	if (lk >= 0 && (r = oci_blob_put_mem(s, data, len, media_type, manifest, e)) == 0)
		r = image_load(s, manifest, &im, e);
	for (size_t i = 0; r == 0 && i < im.nlayers; i++) {
		char *p = oci_blob_path(s, im.layers[i].digest);
		if (!p || !blob_present(p, im.layers[i].size))
			r = err_set(e, CRUMB_EINVAL,
				    "manifest %s: layer %zu (%s) is not in the store",
				    manifest->digest, i, im.layers[i].digest);
		free(p);
	}
	const char *refs[1] = {norm};
	if (r == 0)
		r = oci_index_add(s, refs, manifest, 1, e);
	oci_image_release(&im);
	unlock(lk);
	free(norm);
	return r;
}

int oci_tag(struct oci_store *s, const char *src, const char *ref, struct err *e)
{
	struct oci_image im;
	char *norm = NULL;
	int r = oci_ref_normalize(ref, &norm, e);
	if (r < 0)
		return r;
	int lk = r = oci_lock(s, 0, e);
	if (lk >= 0 && (r = oci_image_resolve(s, src, &im, e)) == 0) {
		r = index_set(s, norm, &im.manifest, e);
		oci_image_release(&im);
	}
	unlock(lk);
	free(norm);
	return r;
}

int oci_untag(struct oci_store *s, const char *name, struct err *e)
{
	json_t *idx = NULL, *m;
	struct oci_desc d;
	char *ref = NULL;
	size_t i, removed = 0;
	int by_ref, r, lk = index_lock(s, e);
	if (lk < 0)
		return lk;
	if ((r = index_load(s, &idx, e)) < 0 ||
	    (r = index_find(s, idx, name, &d, &ref, &by_ref, e)) < 0)
		goto out;
	/* A ref drops that ref; a digest (or prefix) drops every entry of the manifest. */
	m = json_object_get(idx, "manifests");
	for (i = json_array_size(m); i-- > 0;) {
		json_t *ent = json_array_get(m, i);
		const char *rn = ann_get(ent, ANN_REF);
		const char *dg = json_string_value(json_object_get(ent, "digest"));
		if (by_ref ? rn && !strcmp(rn, ref) : !strcmp(dg, d.digest)) {
			json_array_remove(m, i);
			removed++;
		}
	}
	r = removed ? index_save(s, idx, e)
		    : err_set(e, CRUMB_ENOENT, "no image '%s' in the store (%s)", name, s->root);
out:
	free(ref);
	json_decref(idx);
	unlock(lk);
	return r;
}

/* ---- prune ---- */

/* Adds the digests a manifest (or nested index) references to keep. */
static int mark(struct oci_store *s, const struct oci_desc *d, struct strlist *keep, int depth,
		struct err *e)
{
	json_t *j = NULL, *a, *v;
	size_t i;
	int r;
	if (strlist_has(keep, d->digest))
		return 0;
	strlist_push(keep, d->digest);
	if (strcmp(d->media_type, OCI_MT_MANIFEST) && strcmp(d->media_type, OCI_MT_INDEX) &&
	    strcmp(d->media_type, DOCKER_MT_MANIFEST) && strcmp(d->media_type, DOCKER_MT_LIST))
		return 0; /* a blob referenced from a manifest */
	if (depth > 8)
		return err_set(e, CRUMB_EUNSAFE, "%s: image indexes nested too deep", d->digest);
	if ((r = read_json_blob(s, d, &j, e)) < 0) {
		char *p = blob_name(s, d->digest);
		if (r == CRUMB_ENOENT)
			r = err_set(e, CRUMB_EFORMAT,
				    "%s: the manifest of a tagged image is missing; nothing pruned",
				    p);
		free(p);
		return r;
	}
	char *p = blob_name(s, d->digest);
	const char *lists[] = {"manifests", "layers"};
	if ((v = json_object_get(j, "config"))) {
		struct oci_desc cd;
		if ((r = get_desc(v, p, "config", &cd, e)) < 0)
			goto out;
		strlist_push(keep, cd.digest);
	}
	for (int l = 0; l < 2; l++) {
		if (!(a = json_object_get(j, lists[l])))
			continue;
		if (!json_is_array(a)) {
			r = bad_field(e, p, lists[l], "is not an array");
			goto out;
		}
		json_array_foreach(a, i, v)
		{
			struct oci_desc cd;
			if ((r = get_desc(v, p, lists[l], &cd, e)) < 0 ||
			    (r = mark(s, &cd, keep, depth + 1, e)) < 0)
				goto out;
		}
	}
out:
	free(p);
	json_decref(j);
	return r;
}

static int prune_cache(struct oci_store *s, struct err *e)
{
	DIR *d = opendir(s->cache);
	struct dirent *de;
	if (!d)
		return errno == ENOENT ? 0 : err_errno(e, CRUMB_EIO, "open %s", s->cache);
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' && strncmp(de->d_name, ".tmp-", 5))
			continue;
		char digest[80];
		struct err ig;
		int r = de->d_name[0] == '.' ? CRUMB_EFORMAT
					     : oci_cache_get(s, de->d_name, digest, &ig);
		if (r == CRUMB_ENOENT || r == CRUMB_EFORMAT)
			unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
	return 0;
}

/* Verification records whose blob is gone, and temp files of dead writers. */
static void prune_verified(struct oci_store *s)
{
	char *dir = xasprintf("%s/verified", s->root);
	DIR *d = opendir(dir);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		struct stat st;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char *bp = xasprintf("%s/%s", s->blobs, de->d_name);
		int keep =
		    strlen(de->d_name) == 64 && is_hex(de->d_name, 64) && lstat(bp, &st) == 0;
		free(bp);
		if (!keep)
			unlinkat(dirfd(d), de->d_name, 0);
	}
	if (d)
		closedir(d);
	free(dir);
}

/* Decompressed layers (klayer.h: cache/KIND/HEX, HEX.stamp and the initrd's HEX.content) whose
 * layer blob is gone, and temp files of dead writers. */
static void prune_layer_cache(struct oci_store *s, const char *kind)
{
	char *dir = xasprintf("%s/%s", s->cache, kind);
	DIR *d = opendir(dir);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		struct stat st;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		size_t n = strlen(de->d_name);
		int keep = (n == 64 || (n == 70 && !strcmp(de->d_name + 64, ".stamp")) ||
			    (n == 72 && !strcmp(de->d_name + 64, ".content"))) &&
			   is_hex(de->d_name, 64);
		if (keep) {
			char *bp = xasprintf("%s/%.64s", s->blobs, de->d_name);
			keep = lstat(bp, &st) == 0;
			free(bp);
		}
		if (!keep)
			unlinkat(dirfd(d), de->d_name, 0);
	}
	if (d)
		closedir(d);
	free(dir);
}

int oci_prune(struct oci_store *s, size_t *nblobs, uint64_t *bytes, struct err *e)
{
	struct strlist keep = STRLIST_INIT;
	json_t *idx = NULL, *ent;
	DIR *d = NULL;
	size_t i;
	int r, lk = -1, ilk = -1;
	*nblobs = 0;
	*bytes = 0;
	/* Wait a little for short blob writes; a build or run holding the store for
	 * longer makes prune fail instead of hanging. */
	int mr = mkdir_p(s->locks, 0700, e);
	if (mr < 0)
		return mr;
	char *lp = xasprintf("%s/store.lock", s->locks);
	for (int tries = 0; tries < 50; tries++) {
		if ((lk = lock_file(lp, LOCK_EX | LOCK_NB, e)) != CRUMB_EBUSY)
			break;
		usleep(100000);
	}
	free(lp);
	if (lk == CRUMB_EBUSY)
		return err_set(e, CRUMB_EBUSY,
			       "the store %s is in use by a build or run; prune when it ends",
			       s->root);
	if (lk < 0)
		return lk;
	if ((ilk = r = index_lock(s, e)) < 0 || (r = index_load(s, &idx, e)) < 0)
		goto out;
	json_array_foreach(json_object_get(idx, "manifests"), i, ent)
	{
		struct oci_desc md;
		if ((r = get_desc(ent, s->index, "manifest", &md, e)) < 0 ||
		    (r = mark(s, &md, &keep, 0, e)) < 0)
			goto out;
	}
	if (!(d = opendir(s->blobs))) {
		r = err_errno(e, CRUMB_EIO, "open %s", s->blobs);
		goto out;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		char digest[80];
		struct stat st;
		int is_tmp = !strncmp(de->d_name, ".tmp-", 5);
		if (!is_tmp && (strlen(de->d_name) != 64 || !is_hex(de->d_name, 64)))
			continue; /* not ours: leave it */
		snprintf(digest, sizeof(digest), "sha256:%.64s", de->d_name);
		if (!is_tmp && strlist_has(&keep, digest))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    S_ISDIR(st.st_mode))
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) < 0) {
			r = err_errno(e, CRUMB_EIO, "remove %s/%s", s->blobs, de->d_name);
			goto out;
		}
		if (!is_tmp) {
			(*nblobs)++;
			*bytes += (uint64_t)st.st_size;
		}
	}
	r = prune_cache(s, e);
	if (r == 0) {
		prune_verified(s);
		prune_layer_cache(s, "kernel");
		prune_layer_cache(s, "initrd");
	}
out:
	if (d)
		closedir(d);
	strlist_release(&keep);
	json_decref(idx);
	unlock(ilk);
	unlock(lk);
	return r;
}

/* ---- build cache ---- */

static int cache_key_ok(const char *key)
{
	size_t n = strlen(key);
	return n >= 1 && n <= 128 && is_hex(key, n);
}

int oci_cache_get(struct oci_store *s, const char *key, char digest[80], struct err *e)
{
	if (!cache_key_ok(key))
		return err_set(e, CRUMB_EINVAL, "cache key '%s' is not 1 to 128 hex digits", key);
	char *p = xasprintf("%s/%s", s->cache, key);
	struct sbuf b = SBUF_INIT;
	int r = read_file(p, 128, &b, e);
	if (r == CRUMB_EUNSAFE)
		r = CRUMB_EFORMAT;
	if (!r && (b.len != 72 || b.buf[71] != '\n'))
		r = CRUMB_EFORMAT;
	if (!r) {
		b.buf[71] = 0;
		if (!oci_digest_valid(b.buf))
			r = CRUMB_EFORMAT;
	}
	if (r == CRUMB_EFORMAT)
		r = err_set(e, CRUMB_EFORMAT, "%s: corrupt cache entry: want one line sha256:HEX",
			    p);
	if (!r) {
		char *bp = oci_blob_path(s, b.buf);
		struct stat st;
		if (stat(bp, &st) < 0 || !S_ISREG(st.st_mode))
			r = err_set(e, CRUMB_ENOENT, "cache %s: blob %s is gone", key, b.buf);
		else
			snprintf(digest, 80, "%s", b.buf);
		free(bp);
	}
	sb_release(&b);
	free(p);
	return r;
}

int oci_cache_put(struct oci_store *s, const char *key, const char *digest, struct err *e)
{
	if (!cache_key_ok(key))
		return err_set(e, CRUMB_EINVAL, "cache key '%s' is not 1 to 128 hex digits", key);
	if (!oci_digest_valid(digest))
		return err_set(e, CRUMB_EINVAL, "'%s' is not a sha256 digest", digest);
	int mr = mkdir_p(s->cache, 0755, e);
	if (mr < 0)
		return mr;
	char *p = xasprintf("%s/%s", s->cache, key), *line = xasprintf("%s\n", digest);
	int r = oci_lock(s, 0, e); /* prune must not take the temp file */
	if (r >= 0) {
		int lk = r;
		r = write_atomic(s->cache, p, line, strlen(line), e);
		unlock(lk);
	}
	free(p);
	free(line);
	return r;
}

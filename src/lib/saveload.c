/* saveload.c: store images to a tar holding an OCI layout (crumb save), and such archives and
 * docker save archives back into the store (crumb load). */
#include "saveload.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "import.h"
#include "vread.h"

#define OCI_MT_INDEX "application/vnd.oci.image.index.v1+json"
#define OCI_MT_LAYER "application/vnd.oci.image.layer.v1.tar"
#define ANN_REF "org.opencontainers.image.ref.name"
#define ANN_NAME "io.containerd.image.name"
#define JSON_MAX (4u << 20)
#define CHUNK (1u << 20)

/* ---- save ---- */

void save_plan_release(struct save_plan *p)
{
	for (size_t i = 0; i < p->nimages; i++) {
		free(p->images[i].ref);
		free(p->images[i].layers);
	}
	for (size_t i = 0; i < p->nblobs; i++)
		free(p->whose[i]);
	free(p->images);
	free(p->blobs);
	free(p->whose);
	sb_release(&p->index);
	sb_release(&p->docker);
	memset(p, 0, sizeof(*p));
	sb_init(&p->index);
	sb_init(&p->docker);
}

/* A layer docker can load: an OCI or docker tar layer, any compression. */
static int is_tar_layer(const char *mt)
{
	return !strncmp(mt, "application/vnd.oci.image.layer.", 32) ||
	       !strncmp(mt, "application/vnd.docker.image.rootfs.", 36);
}

static void add_blob(struct save_plan *p, const struct oci_desc *d, const char *whose)
{
	for (size_t i = 0; i < p->nblobs; i++)
		if (!strcmp(p->blobs[i].digest, d->digest))
			return;
	p->blobs = xrealloc(p->blobs, (p->nblobs + 1) * sizeof(*p->blobs));
	p->whose = xrealloc(p->whose, (p->nblobs + 1) * sizeof(*p->whose));
	p->blobs[p->nblobs] = *d;
	p->whose[p->nblobs++] = xstrdup(whose);
}

static int cmp_blob(const void *a, const void *b)
{
	return strcmp(((const struct oci_desc *)a)->digest, ((const struct oci_desc *)b)->digest);
}

/* Sorts the blobs by digest, keeping each one's whose beside it. */
static void sort_blobs(struct save_plan *p)
{
	struct oci_desc *d = xcalloc(p->nblobs + 1, sizeof(*d));
	char **w = xcalloc(p->nblobs + 1, sizeof(*w));
	memcpy(d, p->blobs, p->nblobs * sizeof(*d));
	qsort(d, p->nblobs, sizeof(*d), cmp_blob);
	for (size_t i = 0; i < p->nblobs; i++)
		for (size_t j = 0; j < p->nblobs; j++)
			if (!strcmp(d[i].digest, p->blobs[j].digest))
				w[i] = p->whose[j];
	free(p->blobs);
	free(p->whose);
	p->blobs = d;
	p->whose = w;
}

static json_t *desc_json(const struct oci_desc *d)
{
	json_t *o = json_object();
	json_object_set_new(o, "mediaType", json_string(d->media_type));
	json_object_set_new(o, "digest", json_string(d->digest));
	json_object_set_new(o, "size", json_integer((json_int_t)d->size));
	return o;
}

/* "name:tag" -> the tag (after the ':' that follows the last '/'). */
static const char *ref_tag(const char *ref)
{
	const char *slash = strrchr(ref, '/'), *colon = strrchr(ref, ':');
	return colon && (!slash || colon > slash) ? colon + 1 : "latest";
}

static int plan_index(struct save_plan *p, struct err *e)
{
	json_t *idx = json_object(), *ms = json_array();
	json_object_set_new(idx, "schemaVersion", json_integer(2));
	json_object_set_new(idx, "mediaType", json_string(OCI_MT_INDEX));
	for (size_t i = 0; i < p->nimages; i++) {
		json_t *d = desc_json(&p->images[i].manifest);
		if (p->images[i].ref) {
			json_t *ann = json_object();
			json_object_set_new(ann, ANN_NAME, json_string(p->images[i].ref));
			json_object_set_new(ann, ANN_REF, json_string(ref_tag(p->images[i].ref)));
			json_object_set_new(d, "annotations", ann);
		}
		json_array_append_new(ms, d);
	}
	json_object_set_new(idx, "manifests", ms);
	int r = oci_json_canon(idx, &p->index, "index.json", e);
	json_decref(idx);
	return r;
}

static json_t *blob_member(const char *digest)
{
	char *n = xasprintf("blobs/sha256/%s", digest + 7);
	json_t *s = json_string(n);
	free(n);
	return s;
}

/* manifest.json: one entry per distinct manifest whose layers are all tars, with its names. */
static int plan_docker(struct save_plan *p, struct err *e)
{
	json_t *all = json_array();
	for (size_t i = 0; i < p->nimages; i++) {
		const struct save_image *im = &p->images[i];
		size_t first = i;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(p->images[j].manifest.digest, im->manifest.digest)) {
				first = j;
				break;
			}
		if (!im->tar_layers || first != i)
			continue;
		json_t *o = json_object(), *tags = json_array(), *ls = json_array();
		for (size_t j = i; j < p->nimages; j++)
			if (p->images[j].ref &&
			    !strcmp(p->images[j].manifest.digest, im->manifest.digest))
				json_array_append_new(tags, json_string(p->images[j].ref));
		for (size_t l = 0; l < im->nlayers; l++)
			json_array_append_new(ls, blob_member(im->layers[l].digest));
		json_object_set_new(o, "Config", blob_member(im->config.digest));
		json_object_set_new(o, "RepoTags", tags);
		json_object_set_new(o, "Layers", ls);
		json_array_append_new(all, o);
	}
	int r = json_array_size(all) ? oci_json_canon(all, &p->docker, "manifest.json", e) : 0;
	json_decref(all);
	return r;
}

int save_plan_make(struct oci_store *s, const struct strlist *names, struct save_plan *p,
		   struct err *e)
{
	int r = 0;
	memset(p, 0, sizeof(*p));
	sb_init(&p->index);
	sb_init(&p->docker);
	p->images = xcalloc(names->n + 1, sizeof(*p->images));
	for (size_t i = 0; i < names->n && r == 0; i++) {
		struct oci_image im;
		if ((r = oci_image_resolve(s, names->v[i], &im, e)) < 0)
			break;
		int dup = 0;
		for (size_t j = 0; j < p->nimages; j++)
			dup |= !strcmp(p->images[j].manifest.digest, im.manifest.digest) &&
			       (im.ref ? p->images[j].ref && !strcmp(p->images[j].ref, im.ref)
				       : !p->images[j].ref);
		if (dup) {
			oci_image_release(&im);
			continue;
		}
		struct save_image *si = &p->images[p->nimages++];
		char *whose = xasprintf("image %s", im.ref ? im.ref : im.manifest.digest);
		si->ref = im.ref ? xstrdup(im.ref) : NULL;
		si->manifest = im.manifest;
		si->config = im.config;
		si->nlayers = im.nlayers;
		si->layers = xcalloc(im.nlayers + 1, sizeof(*si->layers));
		si->tar_layers = im.nlayers > 0;
		add_blob(p, &im.manifest, whose);
		add_blob(p, &im.config, whose);
		for (size_t l = 0; l < im.nlayers; l++) {
			si->layers[l] = im.layers[l];
			si->tar_layers &= is_tar_layer(im.layers[l].media_type);
			add_blob(p, &im.layers[l], whose);
		}
		free(whose);
		oci_image_release(&im);
	}
	if (r == 0) {
		sort_blobs(p);
		if ((r = plan_index(p, e)) == 0)
			r = plan_docker(p, e);
	}
	if (r < 0)
		save_plan_release(p);
	return r;
}

int save_plan_verify(struct oci_store *s, const struct save_plan *p, struct err *e)
{
	for (size_t i = 0; i < p->nblobs; i++) {
		int r = oci_blob_verify(s, &p->blobs[i], p->whose[i], OCI_VERIFY_CACHED, e);
		if (r < 0)
			return r == CRUMB_ENOENT ? (e->code = CRUMB_EFORMAT) : r;
	}
	return 0;
}

static int ar_fail(struct archive *a, const char *name, struct err *e)
{
	const char *why = archive_error_string(a);
	return err_set(e, CRUMB_EIO, "write %s: %s", name, why ? why : "failed");
}

/* One header: a directory (size 0, 0755) or a regular file of size bytes (0644). */
static int put_header(struct archive *a, const char *path, int dir, uint64_t size, int64_t mtime,
		      const char *name, struct err *e)
{
	struct archive_entry *ent = archive_entry_new();
	archive_entry_set_pathname(ent, path);
	archive_entry_set_filetype(ent, dir ? AE_IFDIR : AE_IFREG);
	archive_entry_set_perm(ent, dir ? 0755 : 0644);
	archive_entry_set_size(ent, dir ? 0 : (la_int64_t)size);
	archive_entry_set_mtime(ent, (time_t)mtime, 0);
	archive_entry_set_uid(ent, 0);
	archive_entry_set_gid(ent, 0);
	int r = archive_write_header(a, ent) == ARCHIVE_OK ? 0 : ar_fail(a, name, e);
	archive_entry_free(ent);
	return r;
}

static int put_mem(struct archive *a, const char *path, const struct sbuf *b, int64_t mtime,
		   const char *name, struct err *e)
{
	int r = put_header(a, path, 0, b->len, mtime, name, e);
	if (r == 0 && b->len && archive_write_data(a, b->buf, b->len) != (la_ssize_t)b->len)
		r = ar_fail(a, name, e);
	return r;
}

/* One blob, copied through a verified read. */
static int put_blob(struct oci_store *s, struct archive *a, const struct oci_desc *d,
		    const char *whose, int64_t mtime, const char *name, char *buf, struct err *e)
{
	char *path = xasprintf("blobs/sha256/%s", d->digest + 7);
	struct vread v;
	int r = oci_blob_open(s, d, whose, 0, &v, e);
	if (r == CRUMB_ENOENT)
		e->code = r = CRUMB_EFORMAT; /* a tagged image's blob is gone: damage */
	if (r == 0)
		r = put_header(a, path, 0, d->size, mtime, name, e);
	while (r == 0) {
		ssize_t n = vread_read(&v, buf, CHUNK, e);
		if (n <= 0) {
			r = (int)n;
			break;
		}
		if (archive_write_data(a, buf, (size_t)n) != n)
			r = ar_fail(a, name, e);
	}
	vread_close(&v);
	free(path);
	return r;
}

int save_write_fd(struct oci_store *s, const struct save_plan *p, int64_t mtime, int fd,
		  const char *name, struct err *e)
{
	static char layout_json[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
	const struct sbuf layout = {layout_json, sizeof(layout_json) - 1, 0};
	struct archive *a = archive_write_new();
	char *buf = xmalloc(CHUNK);
	int r = 0;
	if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_add_filter_none(a) != ARCHIVE_OK ||
	    /* no padding to a 10 KiB block: a file and a pipe get the same bytes */
	    archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
	    archive_write_open_fd(a, fd) != ARCHIVE_OK)
		r = ar_fail(a, name, e);
	if (r == 0)
		r = put_header(a, "blobs/", 1, 0, mtime, name, e);
	if (r == 0)
		r = put_header(a, "blobs/sha256/", 1, 0, mtime, name, e);
	for (size_t i = 0; r == 0 && i < p->nblobs; i++)
		r = put_blob(s, a, &p->blobs[i], p->whose[i], mtime, name, buf, e);
	if (r == 0)
		r = put_mem(a, "index.json", &p->index, mtime, name, e);
	if (r == 0 && p->docker.len)
		r = put_mem(a, "manifest.json", &p->docker, mtime, name, e);
	if (r == 0)
		r = put_mem(a, "oci-layout", &layout, mtime, name, e);
	if (r == 0 && archive_write_close(a) != ARCHIVE_OK)
		r = ar_fail(a, name, e);
	archive_write_free(a);
	free(buf);
	return r;
}

int save_write_file(struct oci_store *s, const struct save_plan *p, int64_t mtime, const char *path,
		    struct err *e)
{
	char *tmp = xasprintf("%s.tmp-XXXXXX", path);
	int fd = mkostemp(tmp, O_CLOEXEC), r;
	if (fd < 0) {
		r = err_errno(e, CRUMB_EIO, "create %s", tmp);
		free(tmp);
		return r;
	}
	r = save_write_fd(s, p, mtime, fd, path, e);
	if (r == 0 && (fchmod(fd, 0644) < 0 || fsync(fd) < 0))
		r = err_errno(e, CRUMB_EIO, "write %s", path);
	if (close(fd) < 0 && r == 0)
		r = err_errno(e, CRUMB_EIO, "write %s", path);
	if (r == 0 && rename(tmp, path) < 0)
		r = err_errno(e, CRUMB_EIO, "rename %s to %s", tmp, path);
	if (r < 0)
		unlink(tmp);
	free(tmp);
	return r;
}

/* ---- load ---- */

void load_result_release(struct load_result *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->images[i].ref);
	free(r->images);
	memset(r, 0, sizeof(*r));
}

/* A blob to move into the store: a file in the private directory that must hash to want. */
struct put {
	char *path;
	struct oci_desc want;
};

struct ld {
	struct oci_store *s;
	const char *path;  /* the archive read (o->path, or the spooled copy) */
	const char *shown; /* the archive in messages */
	char *tmp;	   /* the private directory in the store */
	char *spool;	   /* tmp/archive when stdin was spooled, else NULL */
	uint64_t max;
	int has_layout, has_index, has_docker;
	struct put *puts;
	size_t nputs;
	struct load_result *res;
	struct err *e;
};

/* Replaces every `from` in e->msg by `to` (the private paths by the archive's name). */
static void msg_replace(struct err *e, const char *from, const char *to)
{
	char *at;
	size_t fl = strlen(from);
	if (!fl)
		return;
	while ((at = strstr(e->msg, from))) {
		struct sbuf b = SBUF_INIT;
		sb_add(&b, e->msg, (size_t)(at - e->msg));
		sb_adds(&b, to);
		sb_adds(&b, at + fl);
		snprintf(e->msg, sizeof(e->msg), "%s", b.buf);
		sb_release(&b);
	}
}

static void msg_clean(struct ld *l)
{
	if (l->spool)
		msg_replace(l->e, l->spool, l->shown);
	char *dir = xasprintf("%s/", l->tmp), *to = xasprintf("%s:", l->shown);
	msg_replace(l->e, dir, to);
	msg_replace(l->e, l->tmp, l->shown);
	if (strncmp(l->e->msg, l->shown, strlen(l->shown))) {
		/* a store message ("image REF: blob ..."): say which archive */
		struct sbuf b = SBUF_INIT;
		sb_addf(&b, "%s: %s", l->shown, l->e->msg);
		snprintf(l->e->msg, sizeof(l->e->msg), "%s", b.buf);
		sb_release(&b);
	}
	free(dir);
	free(to);
}

static void add_put(struct ld *l, const char *path, const struct oci_desc *want)
{
	for (size_t i = 0; i < l->nputs; i++)
		if (!strcmp(l->puts[i].want.digest, want->digest))
			return;
	l->puts = xrealloc(l->puts, (l->nputs + 1) * sizeof(*l->puts));
	l->puts[l->nputs].path = xstrdup(path);
	l->puts[l->nputs++].want = *want;
}

static void add_image(struct ld *l, const char *ref, const struct oci_desc *m)
{
	struct load_result *r = l->res;
	r->images = xrealloc(r->images, (r->n + 1) * sizeof(*r->images));
	r->images[r->n].ref = ref ? xstrdup(ref) : NULL;
	r->images[r->n++].manifest = *m;
}

/* Private directories of loads whose process is gone. */
static void sweep(const char *root)
{
	DIR *d = opendir(root);
	struct dirent *de;
	if (!d)
		return;
	while ((de = readdir(d))) {
		int pid;
		if (sscanf(de->d_name, ".load-%d-", &pid) != 1 || pid <= 0 || kill(pid, 0) == 0 ||
		    errno != ESRCH)
			continue;
		char *p = xasprintf("%s/%s", root, de->d_name);
		remove_tree(p, NULL);
		free(p);
	}
	closedir(d);
}

static int spool(struct ld *l, int fd)
{
	char *buf = xmalloc(CHUNK);
	int out = open(l->spool, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600), r = 0;
	if (out < 0)
		r = err_errno(l->e, CRUMB_EIO, "create %s", l->spool);
	while (r == 0) {
		ssize_t n = read(fd, buf, CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			r = err_errno(l->e, CRUMB_EIO, "read %s", l->shown);
		if (n <= 0)
			break;
		for (ssize_t w = 0, k; r == 0 && w < n; w += k)
			if ((k = write(out, buf + w, (size_t)(n - w))) < 0)
				r = err_errno(l->e, CRUMB_EIO, "write %s", l->spool);
	}
	if (out >= 0)
		close(out);
	free(buf);
	return r;
}

/* A member's name with control bytes as '?', for messages (malloc'd). */
static char *shown_name(const char *n)
{
	char *s = xstrdup(n);
	for (char *c = s; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	return s;
}

/* The name without "./" prefixes, or NULL when it is absolute, has a ".." component or a
 * control byte. */
static const char *member_name(const char *n)
{
	while (!strncmp(n, "./", 2))
		n += 2;
	if (n[0] == '/')
		return NULL;
	for (const char *c = n; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return NULL;
	for (const char *c = n; *c;) {
		size_t len = strcspn(c, "/");
		if (len == 2 && !strncmp(c, "..", 2))
			return NULL;
		c += len;
		c += *c == '/';
	}
	return n;
}

/* 1 for blobs/sha256/ and 64 lowercase hex digits. */
static int blob_member_name(const char *n)
{
	char dg[80];
	if (strncmp(n, "blobs/sha256/", 13) || strlen(n) != 77)
		return 0;
	snprintf(dg, sizeof(dg), "sha256:%s", n + 13);
	return oci_digest_valid(dg);
}

/* The names crumb load reads as files: a link there is refused outright. */
static int layout_name(const char *n)
{
	return !strncmp(n, "blobs/", 6) || !strcmp(n, "index.json") || !strcmp(n, "oci-layout") ||
	       !strcmp(n, "manifest.json");
}

/* Whether a link member n to target stays inside the archive, read lexically: a symbolic
 * link's target from n's directory, a hard link's from the root; absolute is outside. */
static int link_inside(const char *n, const char *target, int hard)
{
	struct sbuf p = SBUF_INIT;
	long depth = 0;
	if (!target || target[0] == '/')
		return 0;
	if (!hard && strrchr(n, '/'))
		sb_add(&p, n, (size_t)(strrchr(n, '/') - n + 1));
	sb_adds(&p, target);
	for (const char *c = p.buf; *c && depth >= 0;) {
		size_t len = strcspn(c, "/");
		if (len == 2 && !strncmp(c, "..", 2))
			depth--;
		else if (len && !(len == 1 && c[0] == '.'))
			depth++;
		c += len;
		c += *c == '/';
	}
	sb_release(&p);
	return depth >= 0;
}

/* The current member's bytes into the private file dst (created, never replaced), hashed;
 * a blob's (want: its hex) must match its name. */
static int extract(struct ld *l, struct archive *a, const char *n, const char *dst,
		   const char *want, uint64_t max)
{
	int fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600), r = 0;
	char *buf, hex[65];
	uint64_t total = 0;
	la_ssize_t got;
	if (fd < 0 && errno == EEXIST)
		return err_set(l->e, CRUMB_EFORMAT, "%s: %s is in the archive twice", l->shown, n);
	if (fd < 0)
		return err_errno(l->e, CRUMB_EIO, "create %s", dst);
	struct sha256 h;
	sha256_begin(&h);
	buf = xmalloc(CHUNK);
	while (r == 0 && (got = archive_read_data(a, buf, CHUNK)) > 0) {
		total += (uint64_t)got;
		sha256_update(&h, buf, (size_t)got);
		if (total > max)
			r = err_set(l->e, CRUMB_EUNSAFE, "%s: %s: larger than %llu bytes", l->shown,
				    n, (unsigned long long)max);
		for (la_ssize_t w = 0, k; r == 0 && w < got; w += k)
			if ((k = write(fd, buf + w, (size_t)(got - w))) < 0)
				r = err_errno(l->e, CRUMB_EIO, "write %s", dst);
	}
	if (r == 0 && got < 0)
		r = err_set(l->e, CRUMB_EFORMAT, "%s: %s: truncated or corrupt: %s", l->shown, n,
			    archive_error_string(a));
	sha256_end(&h, hex);
	free(buf);
	if (close(fd) < 0 && r == 0)
		r = err_errno(l->e, CRUMB_EIO, "write %s", dst);
	if (r == 0 && want && strcmp(hex, want))
		r = err_set(l->e, CRUMB_EFORMAT,
			    "%s: %s: corrupt: its content does not match its digest (sha256:%s)",
			    l->shown, n, hex);
	return r;
}

/* One member: its name and type checked; an OCI layout's files extracted. */
static int scan_member(struct ld *l, struct archive *a, struct archive_entry *ent)
{
	const char *raw = archive_entry_pathname(ent), *n = raw ? member_name(raw) : NULL;
	mode_t type = archive_entry_filetype(ent);
	int r = 0;
	if (!n) {
		char *s = shown_name(raw ? raw : "(no name)");
		r = err_set(l->e, CRUMB_EUNSAFE,
			    "%s: member '%s': an absolute name, '..' or a control character",
			    l->shown, s);
		free(s);
		return r;
	}
	char *s = shown_name(n);
	const char *hard = archive_entry_hardlink(ent);
	int link = hard || type == AE_IFLNK;
	if (link && layout_name(n))
		r = err_set(l->e, CRUMB_EUNSAFE, "%s: member '%s' is a %s link, not a file",
			    l->shown, s, hard ? "hard" : "symbolic");
	else if (link && !link_inside(n, hard ? hard : archive_entry_symlink(ent), !!hard))
		r = err_set(l->e, CRUMB_EUNSAFE, "%s: member '%s' links outside the archive",
			    l->shown, s);
	else if (link)
		r = 0; /* never followed, never written (skopeo's docker-archive has them) */
	else if (type != AE_IFREG && type != AE_IFDIR)
		r = err_set(l->e, CRUMB_EUNSAFE,
			    "%s: member '%s' is a device, FIFO or socket: an image archive holds "
			    "only files, directories and links inside it",
			    l->shown, s);
	else if (archive_entry_size_is_set(ent) && archive_entry_size(ent) > 0 &&
		 (uint64_t)archive_entry_size(ent) > l->max)
		r = err_set(l->e, CRUMB_EUNSAFE,
			    "%s: %s: declares %llu bytes, more than the limit of %llu", l->shown, s,
			    (unsigned long long)archive_entry_size(ent),
			    (unsigned long long)l->max);
	else if (type == AE_IFREG && blob_member_name(n)) {
		char *dst = xasprintf("%s/blobs/sha256/%s", l->tmp, n + 13);
		r = extract(l, a, s, dst, n + 13, l->max);
		free(dst);
	} else if (type == AE_IFREG && (!strcmp(n, "index.json") || !strcmp(n, "oci-layout"))) {
		char *dst = xasprintf("%s/%s", l->tmp, n);
		r = extract(l, a, s, dst, NULL, JSON_MAX);
		free(dst);
		if (n[0] == 'i')
			l->has_index = 1;
		else
			l->has_layout = 1;
	} else if (type == AE_IFREG && !strcmp(n, "manifest.json")) {
		l->has_docker = 1;
	}
	free(s);
	return r;
}

/* First pass: every member checked; an OCI layout's files into the private directory. */
static int scan(struct ld *l)
{
	struct archive *a = archive_read_new();
	struct archive_entry *ent;
	int r = 0, ar, nmembers = 0;
	archive_read_support_format_tar(a);
	/* in-process filters only: never an external program on a stranger's input */
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_bzip2(a);
	archive_read_support_filter_xz(a);
	archive_read_support_filter_zstd(a);
	if (archive_read_open_filename(a, l->path, 65536) != ARCHIVE_OK) {
		r = err_set(l->e, CRUMB_EFORMAT, "%s: %s", l->shown, archive_error_string(a));
		archive_read_free(a);
		return r;
	}
	while (r == 0 && (ar = archive_read_next_header(a, &ent)) != ARCHIVE_EOF) {
		if (ar != ARCHIVE_OK && ar != ARCHIVE_WARN) {
			r = err_set(l->e, CRUMB_EFORMAT, "%s: %s%s", l->shown,
				    nmembers ? "truncated or corrupt: " : "not a tar archive: ",
				    archive_error_string(a));
			break;
		}
		nmembers++;
		r = scan_member(l, a, ent);
	}
	archive_read_free(a);
	return r;
}

/* The name an OCI index entry gives its image: io.containerd.image.name, else a ref.name
 * that is a whole reference; *ref NULL when none. A name that is no valid reference is
 * CRUMB_EFORMAT. */
static int entry_name(struct ld *l, json_t *ent, size_t i, char **ref)
{
	json_t *ann = json_object_get(ent, "annotations");
	const char *n = json_string_value(json_object_get(ann, ANN_NAME));
	const char *rn = json_string_value(json_object_get(ann, ANN_REF));
	*ref = NULL;
	if (!n && rn && strpbrk(rn, ":/"))
		n = rn;
	if (!n)
		return 0;
	struct err ne = {0};
	if (oci_ref_normalize(n, ref, &ne) < 0) {
		char *s = shown_name(n);
		int r = err_set(l->e, CRUMB_EFORMAT,
				"%s: index.json: manifests[%zu]: bad name '%s'", l->shown, i, s);
		free(s);
		return r;
	}
	return 0;
}

/* A blob the image needs: in the private directory at its descriptor's size (its bytes
 * matched its name when extracted). */
static int need_blob(struct ld *l, const char *img, const struct oci_desc *d, const char *what)
{
	char *p = xasprintf("%s/blobs/sha256/%s", l->tmp, d->digest + 7);
	struct stat st;
	int r = 0;
	if (lstat(p, &st) < 0 || !S_ISREG(st.st_mode))
		r = err_set(l->e, CRUMB_EFORMAT,
			    "%s: image %s: %s blobs/sha256/%s is not in the archive", l->shown, img,
			    what, d->digest + 7);
	else if ((uint64_t)st.st_size != d->size)
		r = err_set(l->e, CRUMB_EFORMAT,
			    "%s: image %s: %s blobs/sha256/%s: corrupt: %llu bytes, its descriptor "
			    "says %llu",
			    l->shown, img, what, d->digest + 7, (unsigned long long)st.st_size,
			    (unsigned long long)d->size);
	else
		add_put(l, p, d);
	free(p);
	return r;
}

/* An OCI layout: every image index.json lists, read with the store's checks. */
static int load_layout(struct ld *l)
{
	struct oci_store *ls = NULL;
	struct sbuf b = SBUF_INIT;
	json_t *idx = NULL, *ms, *ent;
	size_t i;
	char *ip = xasprintf("%s/index.json", l->tmp);
	int r = oci_open_existing(l->tmp, &ls, l->e);
	if (r == 0 && (r = read_file(ip, JSON_MAX, &b, l->e)) == 0 &&
	    !(idx = json_loadb(b.buf, b.len, 0, NULL)))
		r = err_set(l->e, CRUMB_EFORMAT, "%s: index.json is not valid JSON", l->shown);
	ms = json_object_get(idx, "manifests");
	if (r == 0 && json_array_size(ms) == 0)
		r = err_set(l->e, CRUMB_EFORMAT, "%s: the OCI layout holds no image", l->shown);
	if (r == 0 && json_array_size(ms) > LOAD_MAX_IMAGES)
		r = err_set(l->e, CRUMB_EUNSAFE, "%s: index.json lists more than %d images",
			    l->shown, LOAD_MAX_IMAGES);
	json_array_foreach(ms, i, ent)
	{
		char *ref = NULL;
		struct oci_image im;
		const char *dg = json_string_value(json_object_get(ent, "digest"));
		if (r < 0 || (r = entry_name(l, ent, i, &ref)) < 0)
			break;
		if ((r = oci_image_resolve(ls, dg, &im, l->e)) == 0) {
			const char *img = ref ? ref : im.manifest.digest;
			if ((r = need_blob(l, img, &im.manifest, "manifest")) == 0)
				r = need_blob(l, img, &im.config, "config");
			for (size_t k = 0; r == 0 && k < im.nlayers; k++)
				r = need_blob(l, img, &im.layers[k], "layer");
			if (r == 0)
				add_image(l, ref, &im.manifest);
			oci_image_release(&im);
		}
		free(ref);
	}
	json_decref(idx);
	sb_release(&b);
	free(ip);
	oci_close(ls);
	return r;
}

/* The sha256 and size of a private file. */
static int file_desc(struct ld *l, const char *path, const char *mt, struct oci_desc *d)
{
	struct sbuf b = SBUF_INIT;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), r = 0;
	struct sha256 h;
	uint64_t total = 0;
	char hex[65];
	if (fd < 0)
		return err_errno(l->e, CRUMB_EIO, "open %s", path);
	sha256_begin(&h);
	sb_grow(&b, CHUNK);
	for (;;) {
		ssize_t n = read(fd, b.buf, CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			r = err_errno(l->e, CRUMB_EIO, "read %s", path);
		if (n <= 0)
			break;
		sha256_update(&h, b.buf, (size_t)n);
		total += (uint64_t)n;
	}
	sha256_end(&h, hex);
	close(fd);
	sb_release(&b);
	memset(d, 0, sizeof(*d));
	snprintf(d->media_type, sizeof(d->media_type), "%s", mt);
	snprintf(d->digest, sizeof(d->digest), "sha256:%s", hex);
	d->size = total;
	return r;
}

/* A layer's media type by its first bytes: gzip, zstd, else a plain tar. */
static const char *layer_type(const char *path)
{
	unsigned char m[4] = {0};
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n = fd >= 0 ? read(fd, m, sizeof(m)) : 0;
	if (fd >= 0)
		close(fd);
	if (n >= 2 && m[0] == 0x1f && m[1] == 0x8b)
		return OCI_MT_LAYER "+gzip";
	if (n == 4 && m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd)
		return OCI_MT_LAYER "+zstd";
	return OCI_MT_LAYER;
}

/* JSON text to a private file, and its descriptor. */
static int json_file(struct ld *l, const char *path, const struct sbuf *b, const char *mt,
		     struct oci_desc *d)
{
	int r = write_file_atomic(path, b->buf, b->len, 0600, l->e);
	return r < 0 ? r : file_desc(l, path, mt, d);
}

/* Image k of a docker archive: config and layers as blobs under a new OCI manifest. */
static int docker_image(struct ld *l, size_t k, size_t *count)
{
	char *dir = xasprintf("%s/docker-%zu", l->tmp, k), *cp = xasprintf("%s/config.json", dir),
	     *mp = xasprintf("%s/manifest.json", dir);
	struct sbuf cfg = SBUF_INIT, man = SBUF_INIT;
	struct strlist layers = STRLIST_INIT, names = STRLIST_INIT, tags = STRLIST_INIT;
	struct oci_desc cd, md, *ld = NULL;
	struct oci_config oc;
	json_t *m = NULL, *ls;
	int r = mkdir_p(dir, 0700, l->e);
	oci_config_init(&oc);
	if (r == 0)
		r = docker_archive_image(l->path, dir, l->max, k, &cfg, &layers, &names, &tags,
					 count, l->e);
	if (r == 0)
		r = err_set(l->e, CRUMB_EFORMAT, "%s: not a docker save archive", l->shown);
	if (r < 0)
		goto out;
	if ((r = oci_config_parse(cfg.buf, cfg.len, &oc, l->e)) < 0) {
		char msg[ERR_MSG_MAX];
		snprintf(msg, sizeof(msg), "%s", l->e->msg);
		r = err_set(l->e, CRUMB_EFORMAT, "%s: image %zu's config: %s", l->shown, k, msg);
		goto out;
	}
	if ((r = json_file(l, cp, &cfg, OCI_MT_CONFIG, &cd)) < 0)
		goto out;
	ld = xcalloc(layers.n + 1, sizeof(*ld));
	m = json_object();
	ls = json_array();
	for (size_t i = 0; r == 0 && i < layers.n; i++)
		if ((r = file_desc(l, layers.v[i], layer_type(layers.v[i]), &ld[i])) == 0) {
			add_put(l, layers.v[i], &ld[i]);
			json_array_append_new(ls, desc_json(&ld[i]));
		}
	json_object_set_new(m, "schemaVersion", json_integer(2));
	json_object_set_new(m, "mediaType", json_string(OCI_MT_MANIFEST));
	json_object_set_new(m, "config", desc_json(&cd));
	json_object_set_new(m, "layers", ls);
	if (r < 0 || (r = oci_json_canon(m, &man, "manifest", l->e)) < 0 ||
	    (r = json_file(l, mp, &man, OCI_MT_MANIFEST, &md)) < 0)
		goto out;
	add_put(l, cp, &cd);
	add_put(l, mp, &md);
	for (size_t i = 0; r == 0 && i < tags.n; i++) {
		char *norm = NULL;
		struct err ne = {0};
		if (oci_ref_normalize(tags.v[i], &norm, &ne) < 0) {
			char *s = shown_name(tags.v[i]);
			r = err_set(l->e, CRUMB_EFORMAT, "%s: manifest.json: bad RepoTags '%s'",
				    l->shown, s);
			free(s);
		} else {
			add_image(l, norm, &md);
		}
		free(norm);
	}
	if (r == 0 && !tags.n)
		add_image(l, NULL, &md);
out:
	json_decref(m);
	free(ld);
	oci_config_release(&oc);
	strlist_release(&layers);
	strlist_release(&names);
	strlist_release(&tags);
	sb_release(&cfg);
	sb_release(&man);
	free(dir);
	free(cp);
	free(mp);
	return r;
}

static int load_docker(struct ld *l)
{
	size_t count = 1;
	int r = 0;
	for (size_t k = 0; r == 0 && k < count; k++) {
		r = docker_image(l, k, &count);
		if (r == 0 && count > LOAD_MAX_IMAGES)
			r = err_set(l->e, CRUMB_EUNSAFE,
				    "%s: manifest.json lists more than %d images", l->shown,
				    LOAD_MAX_IMAGES);
	}
	l->res->docker = 1;
	return r;
}

/* Every checked blob into the store, then every name in one index.json rewrite. */
static int commit(struct ld *l)
{
	int lk = oci_lock(l->s, 0, l->e), r = 0; /* prune must not take them before the tags */
	if (lk < 0)
		return lk;
	for (size_t i = 0; r == 0 && i < l->nputs; i++) {
		struct oci_desc got;
		const struct oci_desc *w = &l->puts[i].want;
		if ((r = oci_blob_put_file(l->s, l->puts[i].path, w->media_type, 1, &got, l->e)) ==
			0 &&
		    (strcmp(got.digest, w->digest) || got.size != w->size))
			r = err_set(l->e, CRUMB_EFORMAT, "%s: blobs/sha256/%s changed while loaded",
				    l->shown, w->digest + 7);
	}
	const char **refs = xcalloc(l->res->n + 1, sizeof(*refs));
	struct oci_desc *ms = xcalloc(l->res->n + 1, sizeof(*ms));
	for (size_t i = 0; i < l->res->n; i++) {
		refs[i] = l->res->images[i].ref;
		ms[i] = l->res->images[i].manifest;
	}
	if (r == 0)
		r = oci_index_add(l->s, refs, ms, l->res->n, l->e);
	free(refs);
	free(ms);
	close(lk);
	return r;
}

int load_archive(struct oci_store *s, const struct load_opts *o, struct load_result *out,
		 struct err *e)
{
	struct ld l = {.s = s,
		       .path = o->path,
		       .shown = o->name	  ? o->name
				: o->path ? o->path
					  : "stdin",
		       .max = o->max_bytes ? o->max_bytes : LOAD_MAX_BYTES,
		       .res = out,
		       .e = e};
	int r;
	memset(out, 0, sizeof(*out));
	sweep(oci_root(s));
	l.tmp = xasprintf("%s/.load-%d-XXXXXX", oci_root(s), (int)getpid());
	if (!mkdtemp(l.tmp)) {
		r = err_errno(e, CRUMB_EIO, "mkdtemp %s", l.tmp);
		free(l.tmp);
		return r;
	}
	char *bd = xasprintf("%s/blobs/sha256", l.tmp);
	r = mkdir_p(bd, 0700, e);
	free(bd);
	struct stat st;
	int in = o->path ? -1 : o->in_fd;
	if (r == 0 && o->path && stat(o->path, &st) < 0)
		r = err_errno(e, errno == ENOENT ? CRUMB_ENOENT : CRUMB_EIO, "%s", o->path);
	else if (r == 0 && o->path && !S_ISREG(st.st_mode) &&
		 (in = open(o->path, O_RDONLY | O_CLOEXEC)) < 0)
		r = err_errno(e, CRUMB_EIO, "%s", o->path);
	if (r == 0 && in >= 0) {
		/* a pipe (stdin, a FIFO) is read once: both passes read the copy */
		l.spool = xasprintf("%s/archive", l.tmp);
		l.path = l.spool;
		r = spool(&l, in);
	}
	if (o->path && in >= 0)
		close(in);
	if (r == 0)
		r = scan(&l);
	if (r == 0 && l.has_layout && l.has_index)
		r = load_layout(&l);
	else if (r == 0 && l.has_docker)
		r = load_docker(&l);
	else if (r == 0)
		r = err_set(e, CRUMB_EFORMAT,
			    "%s: neither an OCI image layout (oci-layout, index.json) nor a docker "
			    "save archive (manifest.json)",
			    l.shown);
	if (r == 0)
		r = commit(&l);
	if (r < 0) {
		msg_clean(&l);
		load_result_release(out);
	}
	for (size_t i = 0; i < l.nputs; i++)
		free(l.puts[i].path);
	free(l.puts);
	remove_tree(l.tmp, NULL);
	free(l.tmp);
	free(l.spool);
	return r;
}

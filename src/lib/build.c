/* build.c: Crumbfile builds: stages fill trees, RUN steps boot a builder VM, images are stored. */
#include "build.h"
#include "build_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "archive.h"
#include "confine.h"
#include "console.h"
#include "ext4.h"
#include "ext4fs.h"
#include "import.h"
#include "initcfg.h"
#include "kernel.h"
#include "klayer.h"
#include "ref.h"
#include "registry.h"
#include "rootfs.h"
#include "runcfg.h"
#include "runplan.h"
#include "store.h"
#include "sysfilter.h"
#include "tree.h"
#include "vmm.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define OUTPUT_TAIL 12 /* lines of a failed RUN's output quoted in the error */

struct bstage {
	const struct spec_stage *sp;
	char *name; /* AS name, or NULL */
	int built;
	struct tree tree;
	struct oci_config cfg;
	struct strlist shell;
	struct strlist args; /* declared ARGs with a value, "K=V" */
	char key[65];
};

/* The one platform crumb builds for (and runs on). */
#define BUILD_PLATFORM "linux/amd64"

struct builder {
	struct oci_store *s;
	const struct build_opts *o;
	struct build_result *res;
	struct spec *spec;
	struct bstage *st;
	size_t nst, last;
	struct strlist gargs;  /* global ARGs with a value, "K=V" */
	struct strlist ignore; /* .dockerignore patterns, cleaned; "!" kept in front */
	char *ctxreal;	       /* the context's real path */
	struct strlist allow;  /* --allow-host paths, resolved */
	struct strlist used_args;
	char *tmp;
	int tmpn;
	int step, nsteps;
	struct ext4fs **fss;
	size_t nfss;
	char *kernel;
	struct initcfg hosts;	      /* --add-host, resolved: only its hosts are used */
	struct build_secret *secrets; /* --secret, each with its bytes in value */
	size_t nsecrets;
	struct build_copy_env cenv; /* what RUN --mount=type=bind reads */
	struct build_mount_env menv;
	struct bstage *cur; /* the stage being built */
	/* RUN output, for the error message of a failing step */
	struct sbuf line;
	char *tail[OUTPUT_TAIL];
	int ntail;
};

/* ---- small helpers ---- */

static const char *kv_get(const struct strlist *l, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = l->n; i-- > 0;)
		if (!strncmp(l->v[i], name, n) && l->v[i][n] == '=')
			return l->v[i] + n + 1;
	return NULL;
}

/* Sets "K=V" in l, replacing an earlier K in place (keeps the order Docker shows). */
static void kv_set(struct strlist *l, const char *k, const char *v)
{
	char *s = xasprintf("%s=%s", k, v);
	runcfg_setenv(l, s);
	free(s);
}

static void strlist_copy(struct strlist *to, const struct strlist *from)
{
	strlist_release(to);
	for (size_t i = 0; i < from->n; i++)
		strlist_push(to, from->v[i]);
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static void config_copy(struct oci_config *to, const struct oci_config *from)
{
	strlist_copy(&to->entrypoint, &from->entrypoint);
	strlist_copy(&to->cmd, &from->cmd);
	strlist_copy(&to->env, &from->env);
	strlist_copy(&to->exposed, &from->exposed);
	strlist_copy(&to->volumes, &from->volumes);
	strlist_copy(&to->label_keys, &from->label_keys);
	strlist_copy(&to->label_values, &from->label_values);
	strlist_copy(&to->healthcheck, &from->healthcheck);
	to->hc_interval = from->hc_interval;
	to->hc_timeout = from->hc_timeout;
	to->hc_start_period = from->hc_start_period;
	to->hc_start_interval = from->hc_start_interval;
	to->hc_retries = from->hc_retries;
	strlist_copy(&to->onbuild, &from->onbuild);
	free(to->workdir);
	free(to->user);
	free(to->stop_signal);
	to->workdir = dup_or_null(from->workdir);
	to->user = dup_or_null(from->user);
	to->stop_signal = dup_or_null(from->stop_signal);
}

int build_at(const struct spec_instr *i, struct err *e, int code, const char *fmt, ...)
{
	char msg[ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return err_set(e, code, "%s:%d:%d: %s", i->pos.file, i->pos.line, i->pos.col, msg);
}

int build_at_err(const struct spec_instr *i, struct err *e, int r)
{
	char msg[ERR_MSG_MAX];
	snprintf(msg, sizeof(msg), "%s", e->msg);
	return at(i, e, r, "%s: %s", spec_kind_name(i->kind), msg);
}

static void event(struct builder *b, enum build_event_kind k, const char *text, double secs,
		  int cached)
{
	if (!b->o->event)
		return;
	struct build_event ev = {k, b->step, b->nsteps, text, secs, cached};
	b->o->event(b->o->ctx, &ev);
}

/* ---- hashing (cache keys) ---- */

void build_hash_init(struct build_hasher *h)
{
	h->md = EVP_MD_CTX_new();
	if (!h->md || !EVP_DigestInit_ex(h->md, EVP_sha256(), NULL))
		abort();
}
static void h_add(struct build_hasher *h, const void *p, size_t n)
{
	EVP_DigestUpdate(h->md, p, n);
}
void build_hash_str(struct build_hasher *h, const char *s)
{
	h_add(h, s ? s : "\1null", strlen(s ? s : "\1null") + 1);
}
void build_hash_final(struct build_hasher *h, char out[65])
{
	unsigned char d[32];
	unsigned len = 0;
	EVP_DigestFinal_ex(h->md, d, &len);
	EVP_MD_CTX_free(h->md);
	for (int i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

struct hash_walk {
	struct build_hasher *h;
	struct err *e;
	char *buf;
};

int build_clamp_mtime(struct tree_node *n, const char *path, void *ctx)
{
	(void)path;
	n->mtime = clamp_time(n->mtime, *(const int64_t *)ctx, 1);
	return 0;
}

/* Everything that reaches the image, mtimes (clamped first) included. */
static int hash_node(struct tree_node *n, const char *path, void *ctx)
{
	struct hash_walk *w = ctx;
	char meta[160];
	build_hash_str(w->h, path);
	snprintf(meta, sizeof(meta), "%d %o %u %u %u %u %llu %llu %lld", (int)n->type, n->mode,
		 n->uid, n->gid, n->rdev_major, n->rdev_minor, (unsigned long long)n->size,
		 (unsigned long long)n->hardlink, (long long)n->mtime);
	build_hash_str(w->h, meta);
	if (n->type == TREE_LNK)
		build_hash_str(w->h, n->link);
	for (size_t i = 0; i < n->nxattrs; i++) {
		build_hash_str(w->h, n->xattrs[i].name);
		h_add(w->h, n->xattrs[i].value, n->xattrs[i].len);
	}
	if (n->type != TREE_REG)
		return 0;
	for (uint64_t off = 0; off < n->size;) {
		size_t len = n->size - off > (1 << 20) ? (1 << 20) : (size_t)(n->size - off);
		int r = tree_read(n, off, w->buf, len, w->e);
		if (r < 0)
			return r;
		h_add(w->h, w->buf, len);
		off += len;
	}
	return 0;
}

int build_hash_tree(struct tree *t, struct build_hasher *h, struct err *e)
{
	struct hash_walk w = {h, e, xmalloc(1 << 20)};
	int r = tree_walk(t, hash_node, &w);
	free(w.buf);
	return r;
}

static int hash_file(const char *path, char out[65], struct err *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_errno(e, CRUMB_ENOENT, "%s", path);
	struct build_hasher h;
	build_hash_init(&h);
	char *buf = xmalloc(1 << 20);
	ssize_t n;
	while ((n = read(fd, buf, 1 << 20)) > 0)
		h_add(&h, buf, (size_t)n);
	free(buf);
	close(fd);
	build_hash_final(&h, out);
	return n < 0 ? err_errno(e, CRUMB_EIO, "read %s", path) : 0;
}

void build_key_chain(char key[65], const char *a, const char *b)
{
	struct build_hasher h;
	build_hash_init(&h);
	build_hash_str(&h, key);
	build_hash_str(&h, a);
	build_hash_str(&h, b);
	build_hash_final(&h, key);
}

/* ---- variables ---- */

struct lookup {
	struct builder *b;
	struct bstage *st; /* NULL: global scope (FROM lines) */
};

static const char *lookup_var(void *ctx, const char *name)
{
	struct lookup *l = ctx;
	if (!l->st)
		return kv_get(&l->b->gargs, name);
	const char *v = kv_get(&l->st->cfg.env, name);
	return v ? v : kv_get(&l->st->args, name);
}

/* The value a build arg gives NAME: 1 and *v set when given as K=V, else 0
 * (K alone, unset in crumb's environment: consumed, but no value). */
static int build_arg(struct builder *b, const char *name, const char **v)
{
	const struct strlist *l = b->o->build_args;
	size_t n = strlen(name);
	for (size_t i = l ? l->n : 0; i-- > 0;) {
		if (!strncmp(l->v[i], name, n) && (l->v[i][n] == '=' || !l->v[i][n])) {
			if (!strlist_has(&b->used_args, name))
				strlist_push(&b->used_args, name);
			*v = l->v[i][n] == '=' ? l->v[i] + n + 1 : NULL;
			return *v != NULL;
		}
	}
	return 0;
}

/* ---- stage bases (FROM) ---- */

static int keep_fs(struct builder *b, struct ext4fs *fs)
{
	b->fss = xrealloc(b->fss, (b->nfss + 1) * sizeof(*b->fss));
	b->fss[b->nfss++] = fs;
	return 0;
}

/* Imports the root filesystem blob d of store s (cpio in any compression, a
 * tar layer with whiteouts, or ext4) into t, checking it against d as it is
 * read; libext2fs reads an ext4 blob in pieces, so that one is checked first
 * (a hash the verification cache may spare, as for crumb run). whose names
 * its owner in messages ("image a:latest"). On error t may hold part of it:
 * the caller drops t (the build fails). */
static int import_blob(struct builder *b, struct oci_store *s, const struct oci_desc *d,
		       const char *whose, int whiteouts, struct tree *t, struct err *e)
{
	char *path = oci_blob_path(s, d->digest);
	int r;
	if (!path)
		return err_set(e, CRUMB_EFORMAT, "%s: '%s' is not a sha256 digest", whose,
			       d->digest);
	if (!strcmp(d->media_type, OCI_MT_ROOTFS_EXT4)) {
		struct ext4fs *fs;
		if ((r = oci_blob_verify(s, d, whose, OCI_VERIFY_CACHED, e)) == 0 &&
		    (r = ext4fs_open(path, 0, &fs, e)) == 0) {
			keep_fs(b, fs);
			r = ext4fs_read_tree(fs, "/", t, "/", e);
		}
	} else {
		struct vread v;
		struct import_opts io = {.keep_owner = 1, .whiteouts = whiteouts, .src = &v};
		if ((r = oci_blob_open(s, d, whose, 0, &v, e)) == 0)
			r = import_archive(t, path, &io, e);
		vread_close(&v);
	}
	free(path);
	return r;
}

/* Whether a layer's media type is a filesystem changeset (a tar, any compression). */
static int tar_layer(const char *mt)
{
	return !strncmp(mt, "application/vnd.oci.image.layer.", 32) ||
	       !strncmp(mt, "application/vnd.docker.image.rootfs.", 36);
}

/* The tree of image im of store s into t: a crumb image's root filesystem layer, else (a
 * container image: Debian, Alpine...) its layers in order, tars applied with their whiteouts. */
static int import_image_tree(struct builder *b, struct oci_store *s, const struct oci_image *im,
			     const char *whose, struct tree *t, struct err *e)
{
	const struct oci_desc *l = oci_image_layer(im, "application/vnd.crumb.rootfs.");
	if (l)
		return import_blob(b, s, l, whose, 0, t, e);
	for (size_t i = 0; i < im->nlayers; i++) {
		struct oci_desc d = im->layers[i];
		if (!tar_layer(d.media_type))
			return err_set(e, CRUMB_EUNSUPP,
				       "%s: layer %zu is %s: not a filesystem layer crumb can read",
				       whose, i, d.media_type);
		snprintf(d.media_type, sizeof(d.media_type), "%s",
			 "application/vnd.oci.image.layer.v1.tar");
		int r = import_blob(b, s, &d, whose, 1, t, e);
		if (r < 0)
			return r;
	}
	return 0;
}

/* import_blob for a blob a build cache entry names: only its digest is known. */
static int import_cached(struct builder *b, const char *digest, struct tree *t, struct err *e)
{
	struct oci_desc d = {.media_type = OCI_MT_ROOTFS_CPIO, .size = VREAD_SIZE_ANY};
	snprintf(d.digest, sizeof(d.digest), "%s", digest);
	int r = import_blob(b, b->s, &d, "build cache", 0, t, e);
	if (r < 0 && r != CRUMB_EIO) {
		char msg[ERR_MSG_MAX];
		snprintf(msg, sizeof(msg), "%s", e->msg);
		r = err_set(e, r, "%s; 'crumb build --no-cache' writes it again", msg);
	}
	return r;
}

/* Whether the store tags manifest digest dg with a name of repository repo (NAME without its
 * tag), as Docker finds NAME@DIGEST locally. */
static int ref_stored(struct oci_store *s, const char *repo, const char *dg, struct err *e)
{
	struct oci_entry *v;
	size_t n, rl = strlen(repo);
	int r = oci_list(s, &v, &n, e);
	if (r < 0)
		return r;
	int hit = 0;
	for (size_t k = 0; k < n && !hit; k++)
		hit = v[k].ref && !strcmp(v[k].manifest.digest, dg) &&
		      !strncmp(v[k].ref, repo, rl) && v[k].ref[rl] == ':' &&
		      !strchr(v[k].ref + rl + 1, '/');
	oci_entries_free(v, n);
	return hit;
}

static int bad_digest(const char *ref, struct err *e)
{
	return err_set(e, CRUMB_EINVAL,
		       "invalid reference '%s': a digest is sha256: and 64 lowercase hex digits",
		       ref);
}

/* The name to look a reference up by in the store: NAME[:TAG]@sha256:HEX is that digest when
 * the store tags it with that NAME (the tag is ignored, as Docker ignores it); CRUMB_ENOENT
 * when it does not, CRUMB_EINVAL for a malformed NAME or digest. *look malloc'd. */
static int ref_lookup(struct oci_store *s, const char *ref, char **look, struct err *e)
{
	const char *at = strchr(ref, '@');
	if (!at) {
		*look = xstrdup(ref);
		return 0;
	}
	char *name = xstrndup(ref, (size_t)(at - ref)), *norm = NULL;
	const char *dg = at + 1;
	int r = oci_ref_normalize(name, &norm, e);
	free(name);
	if (r < 0) {
		char why[ERR_MSG_MAX];
		const char *w = strstr(e->msg, "': ");
		snprintf(why, sizeof(why), "%s", w ? w + 3 : e->msg);
		return err_set(e, r, "invalid reference '%s': %s", ref, why);
	}
	int ok = oci_digest_valid(dg);
	if (!ok)
		r = bad_digest(ref, e);
	else
		*strrchr(norm, ':') = 0; /* the repository */
	if (ok && (r = ref_stored(s, norm, dg, e)) == 0)
		r = err_set(e, CRUMB_ENOENT, "no image '%s' in the store", ref);
	free(norm);
	if (r < 0)
		return r;
	*look = xstrdup(dg);
	return 0;
}

/* Whether the store is asked for img: it names a digest (a malformed one is refused
 * precisely), or reads as NAME[:TAG]. */
static int ref_candidate(const char *img)
{
	char *norm = NULL;
	struct err e = {0};
	int ok = strchr(img, '@') || oci_ref_normalize(img, &norm, &e) == 0;
	free(norm);
	return ok;
}

/* ref_lookup, then the image it names read into im. */
static int resolve_ref(struct builder *b, const char *name, struct oci_image *im, struct err *e)
{
	char *look = NULL;
	int r = ref_lookup(b->s, name, &look, e);
	if (r == 0)
		r = oci_image_resolve(b->s, look, im, e);
	free(look);
	return r;
}

/* Looks name up in the store: as written (a name, name:tag, name@digest, a digest), then as a
 * pull stores it ("debian:12" is docker.io/library/debian:12). 1 found as written, 2 found by
 * the pulled name (im filled), 0 none; negative for a malformed reference or a damaged image. */
static int find_image(struct builder *b, const char *name, struct oci_image *im, struct err *e)
{
	struct err e2 = {0};
	int r = resolve_ref(b, name, im, &e2), how = 1;
	struct imgref ir;
	struct err pe = {0};
	if (r == CRUMB_ENOENT && !ref_has_domain(name) && imgref_parse(name, &ir, &pe) == 0) {
		char *full = imgref_string(&ir);
		struct err e3 = {0};
		int r3 = resolve_ref(b, full, im, &e3);
		if (r3 != CRUMB_ENOENT) {
			r = r3;
			e2 = e3;
			how = 2;
		}
		free(full);
		imgref_release(&ir);
	}
	/* The digest alone, malformed (and no image tagged so): the same line as NAME@DIGEST's. */
	if (r == CRUMB_EINVAL && !strncmp(name, "sha256:", 7) && !oci_digest_valid(name))
		r = bad_digest(name, &e2);
	if (r == CRUMB_ENOENT)
		return 0;
	if (r < 0) {
		*e = e2;
		return r;
	}
	return how;
}

/* Stored image im's tree and config into st. */
static int load_image(struct builder *b, struct bstage *st, const struct oci_image *im,
		      struct err *e)
{
	char *whose = xasprintf("image %s", im->ref ? im->ref : im->manifest.digest);
	int r = import_image_tree(b, b->s, im, whose, &st->tree, e);
	free(whose);
	if (r == 0) {
		config_copy(&st->cfg, &im->cfg);
		memset(st->key, 0, sizeof(st->key));
		chain(st->key, "FROM image", im->manifest.digest);
	}
	return r;
}

/* An OCI image layout directory: its (only, or first) manifest's layers, in order. */
static int from_layout(struct builder *b, struct bstage *st, const char *dir, struct err *e)
{
	struct oci_store *ls;
	int r = oci_open_existing(dir, &ls, e);
	if (r < 0)
		return r;
	struct oci_image im = {0};
	if ((r = oci_image_first(ls, &im, e)) < 0)
		goto out;
	char *iname = im.ref ? xasprintf("image oci:%s:%s", dir, im.ref)
			     : xasprintf("image oci:%s@%s", dir, im.manifest.digest);
	r = import_image_tree(b, ls, &im, iname, &st->tree, e);
	free(iname);
	if (r == 0) {
		config_copy(&st->cfg, &im.cfg);
		snprintf(st->key, sizeof(st->key), "layout");
		chain(st->key, "FROM layout", im.manifest.digest);
	}
out:
	oci_image_release(&im);
	oci_close(ls);
	return r;
}

/* A file: a docker archive (its layers in order, with whiteouts, and its
 * config), else a root filesystem archive (cpio or tar, any compression). */
static int from_file(struct builder *b, struct bstage *st, const char *p, struct err *e)
{
	char hex[65] = "";
	struct import_opts io = {.keep_owner = 1};
	struct sbuf cfg = SBUF_INIT;
	struct strlist layers = STRLIST_INIT, names = STRLIST_INIT;
	int r, docker = 0;
	char *dir = xasprintf("%s/docker-%d", b->tmp, ++b->tmpn);
	if ((r = hash_file(p, hex, e)) == 0 && (r = mkdir_p(dir, 0700, e)) == 0)
		r = docker = docker_archive_members(p, dir, 0, &cfg, &layers, &names, e);
	free(dir);
	for (size_t k = 0; docker == 1 && k < layers.n; k++) {
		struct import_opts lo = {.keep_owner = 1, .whiteouts = 1, .name = names.v[k]};
		if ((r = import_archive(&st->tree, layers.v[k], &lo, e)) < 0)
			break;
		r = 1;
	}
	strlist_release(&names);
	if (r == 1) {
		struct oci_config oc;
		oci_config_init(&oc);
		if ((r = oci_config_parse(cfg.buf, cfg.len, &oc, e)) == 0)
			config_copy(&st->cfg, &oc);
		oci_config_release(&oc);
	} else if (r == 0) {
		r = import_archive(&st->tree, p, &io, e);
	}
	/* Layers imported from compressed tars were copied into the tree; plain ones are
	 * referenced. */
	strlist_release(&layers);
	sb_release(&cfg);
	memset(st->key, 0, sizeof(st->key));
	chain(st->key, "FROM file", hex);
	return r;
}

struct pull_count {
	unsigned blobs;
	uint64_t bytes;
};

static void pull_progress(void *ctx, enum reg_event ev, const struct reg_blob *bl)
{
	struct pull_count *c = ctx;
	if (ev == REG_BLOB_DONE) {
		c->blobs++;
		c->bytes += bl->size - bl->resumed_at;
	}
}

/* Pulls name (a reference) into the store; *digest its manifest's. */
static int pull(struct builder *b, const struct spec_instr *i, const char *name, char digest[80],
		struct err *e)
{
	struct imgref ir;
	struct pull_count c = {0};
	struct reg_opts ro = {.env = b->o->env, .progress = pull_progress, .ctx = &c};
	struct oci_desc md;
	int r = imgref_parse(name, &ir, e);
	if (r < 0)
		return at_err(i, e, r);
	char *full = imgref_string(&ir);
	double t0 = now_monotonic();
	if ((r = reg_pull(b->s, &ir, &ro, &md, e)) < 0) {
		char msg[ERR_MSG_MAX];
		snprintf(msg, sizeof(msg), "%s", e->msg);
		r = at(i, e, r, "%s %s: pulling %s: %s", spec_kind_name(i->kind), name, full, msg);
	} else {
		char note[512];
		snprintf(note, sizeof(note), "pulled %s (%s): %u blobs, %.1f MB fetched in %.1f s",
			 full, md.digest, c.blobs, (double)c.bytes / 1e6, now_monotonic() - t0);
		event(b, BUILD_NOTE, note, 0, 0);
		snprintf(digest, 80, "%s", md.digest);
	}
	free(full);
	imgref_release(&ir);
	return r;
}

/* Whether name is a reference to pull: it parses as one, and unless it names a registry host,
 * the context has no file of that name (FROM PATH). */
static int pullable(struct builder *b, const char *name)
{
	struct imgref ir;
	struct err e = {0};
	if (imgref_parse(name, &ir, &e) < 0)
		return 0;
	imgref_release(&ir);
	if (ref_has_domain(name))
		return 1;
	char *p = NULL;
	struct stat sb;
	int here = confine_path(b->ctxreal, name, &p, &e) == 0 && stat(p, &sb) == 0;
	free(p);
	return !here;
}

/* A stored image of that reference into st, else (unless --pull=never, or when the context
 * has a file of that name: FROM PATH) one pulled from its registry; --pull=always pulls
 * again whatever is not a local image (a bare name stored as written). *found 0 when there
 * is none. Errors name the instruction. */
static int image_or_pull(struct builder *b, struct bstage *st, const struct spec_instr *i,
			 const char *name, int *found, struct err *e)
{
	struct oci_image im = {0};
	int always = b->o->pull == BUILD_PULL_ALWAYS;
	int how = find_image(b, name, &im, e), r = how < 0 ? how : 0;
	*found = 0;
	if (how > 0 && !(always && (how == 2 || ref_has_domain(name)))) {
		*found = 1;
		r = load_image(b, st, &im, e);
	} else if (how >= 0 && b->o->pull != BUILD_PULL_NEVER && pullable(b, name)) {
		char dg[80];
		oci_image_release(&im);
		if ((r = pull(b, i, name, dg, e)) < 0)
			return r;
		if ((r = oci_image_resolve(b->s, dg, &im, e)) == 0 &&
		    (r = load_image(b, st, &im, e)) == 0)
			*found = 1;
	}
	oci_image_release(&im);
	return r < 0 ? at_err(i, e, r) : 0;
}

/* FROM PATH: inside the context, as COPY's sources (confine.h): an OCI layout
 * directory or a file. */
static int from_path(struct builder *b, struct bstage *st, const struct spec_instr *i,
		     const char *img, struct err *e)
{
	char *p = NULL;
	struct stat sb;
	int r = confine_path(b->ctxreal, img, &p, e);
	if (r == CRUMB_EUNSAFE)
		r = at_err(i, e, r);
	else if (r < 0 || stat(p, &sb) < 0)
		r = at(
		    i, e, CRUMB_ENOENT,
		    "FROM %s: no stage, stored image or file of that name (see 'crumb images'%s)",
		    img, b->o->pull == BUILD_PULL_NEVER ? "; --no-pull: nothing pulled" : "");
	else if (S_ISDIR(sb.st_mode) &&
		 ((r = confine_links(b->ctxreal, p, e)) < 0 || (r = from_layout(b, st, p, e)) < 0))
		r = at_err(i, e, r);
	else if (!S_ISDIR(sb.st_mode) && (r = from_file(b, st, p, e)) < 0)
		r = at_err(i, e, r);
	free(p);
	return r;
}

/* FROM an earlier stage named AS name (matched case-insensitively, as BuildKit does: AS
 * names are kept lowercased): 1 when there is one (or an error), else 0. */
static int from_stage(struct builder *b, struct bstage *st, const struct spec_instr *i,
		      const char *name, struct err *e)
{
	for (struct bstage *o = b->st; o < st; o++)
		if (o->name && !strcasecmp(o->name, name)) {
			int r = tree_copy(&st->tree, "/", &o->tree, "/", 0, e);
			if (r < 0)
				return at_err(i, e, r);
			config_copy(&st->cfg, &o->cfg);
			strlist_copy(&st->shell, &o->shell);
			memcpy(st->key, o->key, sizeof(st->key));
			chain(st->key, "FROM stage", o->name);
			return 1;
		}
	return 0;
}

/* FROM: scratch, an earlier stage, a stored image (anything that reads as a reference and
 * does not start with '.' or '/'), else a path in the context. */
static int do_from(struct builder *b, struct bstage *st, const struct spec_instr *i,
		   struct spec_eval *v, struct err *e)
{
	const char *img = v->image;
	int r = 0, found = 0;
	tree_init(&st->tree);
	oci_config_init(&st->cfg);
	strlist_push(&st->shell, "/bin/sh");
	strlist_push(&st->shell, "-c");
	if (!strcmp(img, "scratch")) {
		memset(st->key, 0, sizeof(st->key));
		chain(st->key, "FROM", "scratch");
		return 0;
	}
	if ((r = from_stage(b, st, i, img, e)) != 0)
		return r < 0 ? r : 0;
	int pathlike = strchr(img, '/') || img[0] == '.' || strstr(img, ".tar");
	if (img[0] != '.' && img[0] != '/' && (!pathlike || ref_candidate(img))) {
		if ((r = image_or_pull(b, st, i, img, &found, e)) < 0)
			return r;
		if (found)
			return 0;
	}
	return from_path(b, st, i, img, e);
}

/* ---- COPY / ADD (build_copy.c) ---- */

/* --from=NAME (any case) or --from=INDEX: an earlier stage's tree (NULL for none or host),
 * else a stored image's, loaded into img (the caller releases its tree and config). */
static int copy_from_stage(struct builder *b, struct bstage *st, const struct spec_instr *i,
			   const char *f, struct tree **from, struct bstage *img, struct err *e)
{
	*from = NULL;
	if (!f || !strcmp(f, "host"))
		return 0;
	char *end;
	long idx = strtol(f, &end, 10);
	for (struct bstage *o = b->st; o < st; o++)
		if ((o->name && !strcasecmp(o->name, f)) || (!*end && idx == (long)(o - b->st)))
			*from = &o->tree;
	if (*from)
		return 0;
	int r, found = 0;
	if (ref_candidate(f)) {
		if ((r = image_or_pull(b, img, i, f, &found, e)) < 0)
			return r;
		if (found) {
			*from = &img->tree;
			return 0;
		}
	}
	return at(i, e, CRUMB_ENOENT,
		  "%s --from=%s: no earlier stage or stored image of that name (or 'host')",
		  spec_kind_name(i->kind), f);
}

static int do_copy(struct builder *b, struct bstage *st, const struct spec_instr *i,
		   struct spec_eval *v, struct err *e)
{
	struct build_copy_env env = {b->o->context, b->ctxreal, &b->ignore, &b->allow, b->o->epoch};
	struct tree *from;
	struct bstage img = {0};
	tree_init(&img.tree);
	oci_config_init(&img.cfg);
	int r = copy_from_stage(b, st, i, v->from, &from, &img, e);
	if (r == 0)
		r = build_copy(&env, i, v, from, &st->tree, st->cfg.workdir, st->key, e);
	tree_release(&img.tree);
	oci_config_release(&img.cfg);
	return r;
}

/* RUN --mount's from= (build_from_fn): an earlier stage's tree, else a stored image's, as
 * COPY --from finds them (but not the host). */
static int mount_from(void *ctx, const struct spec_instr *i, const char *from,
		      struct tree **from_tree, struct tree *img, struct err *e)
{
	struct builder *b = ctx;
	struct bstage bi = {0};
	if (!strcmp(from, "host"))
		return at(i, e, CRUMB_EINVAL,
			  "RUN --mount from=host: only COPY --from=host reads the host");
	tree_init(&bi.tree);
	oci_config_init(&bi.cfg);
	int r = copy_from_stage(b, b->cur, i, from, from_tree, &bi, e);
	if (r == 0 && *from_tree == &bi.tree) {
		tree_release(img);
		*img = bi.tree;
		*from_tree = img;
	} else {
		tree_release(&bi.tree);
	}
	oci_config_release(&bi.cfg);
	return r;
}

/* Whether from (a mount's from=, no variable in it) names a stage before stage number si (by
 * AS name, matched as pick_target does, or by index) or a stored image. */
static int mount_from_known(struct builder *b, size_t si, const char *from)
{
	char *end;
	long idx = strtol(from, &end, 10);
	if (!*end && end != from && idx >= 0 && (size_t)idx < si)
		return 1;
	for (size_t k = 0; k < si; k++) {
		const char *orig = b->spec->stages[k].from->original;
		const char *as = strcasestr(orig, " as ");
		if (as && !strcasecmp(as + 4 + strspn(as + 4, " \t"), from))
			return 1;
	}
	if (strchr(from, '@') || !ref_candidate(from))
		return strchr(from, '@') != NULL; /* NAME@DIGEST: checked when used */
	struct oci_image im = {0};
	struct err ie;
	int r = oci_image_resolve(b->s, from, &im, &ie);
	oci_image_release(&im);
	return r == 0;
}

/* Every RUN --mount of the stages to build, checked before any of them runs (nothing is
 * written when one is bad): targets, required secrets, from= naming an earlier stage or a
 * stored image. Values with variables are checked when their step comes. */
static int check_mounts(struct builder *b, struct err *e)
{
	int r = 0;
	for (size_t si = 0; r == 0 && si <= b->last; si++) {
		const struct spec_stage *sp = &b->spec->stages[si];
		for (size_t k = 0; r == 0 && k < sp->ninstrs; k++) {
			const struct spec_instr *i = &sp->instrs[k];
			for (size_t f = 0; r == 0 && i->kind == SPEC_RUN && f < i->nflags; f++) {
				struct spec_mount m;
				char msg[400];
				if (strcmp(i->flags[f].name, "mount") ||
				    spec_mount_parse(i->flags[f].value, b->spec->escape, NULL, NULL,
						     &m, msg, sizeof(msg)) < 0)
					continue; /* the parser said it */
				r = run_mount_check(i, &m, b->secrets, b->nsecrets, e);
				if (r == 0 && m.from && !strchr(m.from, '$') &&
				    !mount_from_known(b, si, m.from))
					r = at(
					    i, e, CRUMB_ENOENT,
					    "RUN --mount from=%s: no earlier stage or stored image "
					    "of that name",
					    m.from);
				spec_mount_release(&m);
			}
		}
	}
	return r;
}

/* --secret's bytes, read once: a file that cannot be read, or over BUILD_SECRET_MAX, is an
 * error naming its id and path (never its content). */
static int load_secrets(struct builder *b, struct err *e)
{
	const struct build_opts *o = b->o;
	b->secrets = xcalloc(o->nsecrets + 1, sizeof(*b->secrets));
	for (size_t k = 0; k < o->nsecrets; k++) {
		const struct build_secret *s = &o->secrets[k];
		struct build_secret *d = &b->secrets[b->nsecrets++];
		d->id = xstrdup(s->id);
		if (s->path) {
			struct sbuf buf = SBUF_INIT;
			struct err fe;
			if (read_file(s->path, BUILD_SECRET_MAX, &buf, &fe) < 0)
				return err_set(e, CRUMB_ENOENT, "--secret id=%s: %s", s->id,
					       fe.msg);
			d->len = buf.len;
			d->value = sb_detach(&buf);
		} else {
			if (s->len > BUILD_SECRET_MAX)
				return err_set(e, CRUMB_EINVAL, "--secret id=%s: over %d bytes",
					       s->id, BUILD_SECRET_MAX);
			d->len = s->len;
			d->value = xmalloc(s->len + 1);
			memcpy(d->value, s->value ? s->value : "", s->len);
			d->value[s->len] = 0;
		}
	}
	return 0;
}

/* ---- RUN: a builder microVM ---- */

struct run_step {
	const struct spec_instr *i;
	struct strlist argv, env;
	char *workdir, *user;
	int net; /* run_has_net */
};

/* Whether RUN i's builder VM has a network card: not with RUN --network=none
 * or crumb build --network none. Steps that differ in this never share a boot. */
static int run_has_net(const struct builder *b, const struct spec_instr *i)
{
	if (b->o->network_none)
		return 0;
	for (size_t k = 0; k < i->nflags; k++)
		if (!strcmp(i->flags[k].name, "network"))
			return !i->flags[k].value || strcmp(i->flags[k].value, "none");
	return 1;
}

static void run_output(void *ctx, const char *buf, size_t n)
{
	struct builder *b = ctx;
	for (size_t k = 0; k < n; k++) {
		if (buf[k] == '\r')
			continue;
		if (buf[k] != '\n') {
			if (b->line.len < 4096)
				sb_addc(&b->line, buf[k]);
			continue;
		}
		event(b, BUILD_OUTPUT, b->line.buf, 0, 0);
		if (b->ntail == OUTPUT_TAIL) {
			free(b->tail[0]);
			memmove(b->tail, b->tail + 1, (OUTPUT_TAIL - 1) * sizeof(*b->tail));
			b->ntail--;
		}
		b->tail[b->ntail++] = xstrdup(b->line.buf);
		sb_reset(&b->line);
	}
}

/* What a RUN instruction executes: exec form as is; shell form (with any
 * heredocs written back after it, as BuildKit hands them to the shell)
 * through the stage's SHELL. */
static void run_argv(struct bstage *st, const struct spec_eval *v, struct strlist *argv)
{
	if (v->json) {
		strlist_copy(argv, &v->argv);
		return;
	}
	struct sbuf cmd = SBUF_INIT;
	const char *text = v->argv.n ? v->argv.v[0] : "";
	int only_heredoc =
	    v->nrun_heredocs == 1 && text[0] == '<' && text[1] == '<' && !strchr(text, ' ');
	if (only_heredoc) {
		sb_adds(&cmd, v->run_heredocs[0].value ? v->run_heredocs[0].value : "");
	} else {
		sb_adds(&cmd, text);
		for (size_t k = 0; k < v->nrun_heredocs; k++) {
			sb_addc(&cmd, '\n');
			sb_adds(&cmd, v->run_heredocs[k].value ? v->run_heredocs[k].value : "");
			sb_adds(&cmd, v->run_heredocs[k].key);
		}
	}
	strlist_copy(argv, &st->shell);
	strlist_push_owned(argv, sb_detach(&cmd));
}

/* The program a step runs must exist in the tree (a root without a shell is said before booting).
 */
static int check_program(struct bstage *st, const struct run_step *s, struct err *e)
{
	const char *p = s->argv.n ? s->argv.v[0] : "";
	if (!*p)
		return at(s->i, e, CRUMB_EINVAL, "RUN: empty command");
	if (strchr(p, '/')) {
		if (tree_lookup(&st->tree, p, 1))
			return 0;
	} else {
		const char *path = kv_get(&s->env, "PATH");
		char *dirs = xstrdup(path ? path : DEFAULT_PATH), *save = NULL;
		int found = 0;
		for (char *d = strtok_r(dirs, ":", &save); d && !found;
		     d = strtok_r(NULL, ":", &save)) {
			char *c = xasprintf("%s/%s", d, p);
			found = tree_lookup(&st->tree, c, 1) != NULL;
			free(c);
		}
		free(dirs);
		if (found)
			return 0;
	}
	return at(s->i, e, CRUMB_ENOENT,
		  "RUN: '%s' is not in the image%s (RUN needs a shell or program inside the stage: "
		  "FROM a root filesystem that has one)",
		  p, s->i->json ? "" : " (the SHELL)");
}

/* The builder's config: build mode, one section per step. */
static void builder_initcfg(const struct builder *b, const struct run_step *steps, size_t n,
			    const struct run_mounts *rm, struct initcfg *c)
{
	c->hostname = xstrdup("buildkit");
	for (size_t k = 0; k < b->hosts.nhosts; k++)
		initcfg_add_host(c, b->hosts.hosts[k].ip, b->hosts.hosts[k].name);
	for (size_t k = 0; k < n; k++) {
		char *label = xasprintf("%d:%d", steps[k].i->pos.line, steps[k].i->pos.col);
		struct initcfg_step *s = initcfg_add_step(c, label);
		free(label);
		strlist_copy(&s->argv, &steps[k].argv);
		strlist_copy(&s->env, &steps[k].env);
		s->workdir = dup_or_null(steps[k].workdir);
		s->user = dup_or_null(steps[k].user);
		run_mounts_config(rm, k, s);
	}
}

struct tracked {
	const char *path;
	int existed;
};

/* Mount points crumb-init needs in the builder; removed afterwards unless the stage had them. */
static const char *const builder_dirs[] = {"/proc", "/sys", "/dev", "/tmp", "/run", NULL};

/* What the builder adds to the stage's tree, and whether the stage had it. */
struct builder_adds {
	struct tracked had[8];
	size_t nhad;
	int had_lf, had_init;
};

/* The stage's tree with crumb-init and its mount points as a writable ext4 disk. */
static int builder_disk(struct builder *b, struct bstage *st, struct builder_adds *ba,
			const char *disk, struct err *e)
{
	int r = 0;
	ba->had_lf = tree_lookup(&st->tree, "/lost+found", 0) != NULL;
	ba->had_init = tree_lookup(&st->tree, ROOTFS_INIT_PATH, 0) != NULL;
	ba->nhad = 0;
	for (const char *const *d = builder_dirs; *d; d++) {
		ba->had[ba->nhad].path = *d;
		ba->had[ba->nhad++].existed = tree_lookup(&st->tree, *d, 0) != NULL;
	}
	struct tree_node *nd;
	for (size_t k = 0; r == 0 && k < ba->nhad; k++)
		if (!ba->had[k].existed)
			r = tree_add(&st->tree, ba->had[k].path, TREE_DIR, 0755, &nd, e);
	if (r == 0)
		r = tree_add_host(&st->tree, b->o->init, ROOTFS_INIT_PATH, e);
	if (r == 0 && (nd = tree_lookup(&st->tree, ROOTFS_INIT_PATH, 0)))
		nd->mode = 0755;
	/* Room to grow: the image is sparse, so generous costs nothing on disk. */
	struct tree_stats ts;
	tree_stats(&st->tree, &ts);
	struct ext4_opts eo = {.epoch = b->o->epoch};
	eo.size = ext4_auto_size(&st->tree, &eo) + ts.bytes + (2ULL << 30);
	eo.inodes = ts.nodes * 2 + 65536;
	if (r == 0)
		r = ext4_write(&st->tree, disk, &eo, e);
	return r;
}

/* Boots the builder VM on disk through a run plan: the config rides fw_cfg
 * and (the crumb kernel cannot read fw_cfg: no ioperm) a disk, with the
 * marker key, so a RUN step cannot forge its status (markers.h). */
static int builder_boot(struct builder *b, const struct run_step *steps, size_t n,
			struct run_mounts *rm, const char *disk, struct vm_result *res,
			struct err *e)
{
	struct run_plan p;
	struct vm_volume vols[BUILD_MAX_DISKS];
	size_t nvols = 0;
	int r = run_mounts_prepare(rm, vols, &nvols, e);
	if (r < 0)
		return at_err(steps[0].i, e, r);
	runplan_init(&p);
	builder_initcfg(b, steps, n, rm, &p.cfg);
	p.need_conf = 1;
	p.work = b->tmp;
	p.host = b->o->env;
	p.vc = (struct vm_config){.qemu = b->o->qemu,
				  .kernel = b->kernel,
				  .disk = disk,
				  .disk_writable = 1,
				  .cpus = 2,
				  .net = steps[0].net,
				  .accel = ACCEL_AUTO,
				  .state_dir = oci_root(b->s),
				  .env = b->o->env,
				  .volumes = vols,
				  .nvolumes = nvols};
	p.vc.mem_mb = b->o->builder_mem_mb ? b->o->builder_mem_mb : 1024;
	r = runplan_prepare(&p, e);
	if (r == 0) {
		for (int k = 0; k < b->ntail; k++)
			free(b->tail[k]); /* the previous boot's */
		b->ntail = 0;
		sb_reset(&b->line);
		b->res->nboots++;
		r = runplan_boot(&p, run_output, b, res, e);
	}
	runplan_cleanup(&p, 0);
	runplan_release(&p);
	return r < 0 ? at_err(steps[0].i, e, r) : 0;
}

/* A failed boot: which step ended it, why, and its last output. */
static int builder_failure(struct builder *b, const struct run_step *steps, size_t n,
			   const struct vm_result *res, struct err *e)
{
	/* crumb-init marks the end of every step it ran, the failing one
	 * included; with no mark for it (the VM died), the next. */
	size_t failed =
	    res->status > 0 && res->steps > 0 ? (size_t)res->steps - 1 : (size_t)res->steps;
	if (failed >= n)
		failed = n - 1;
	struct sbuf why = SBUF_INIT;
	const struct spec_instr *fi = steps[failed].i;
	if (res->init_error[0])
		sb_addf(&why, "crumb-init failed in the builder VM: %s", res->init_error);
	else if (res->panic[0])
		sb_addf(&why, "the builder VM's kernel panicked: %s", res->panic);
	else if (res->status < 0)
		sb_addf(&why, "the builder VM stopped (QEMU exit %d)%s%s", res->qemu_status,
			res->qemu_error[0] ? ": " : "", res->qemu_error);
	else
		sb_addf(&why, "RUN %s: exit status %d", fi->rest ? fi->rest : "", res->status);
	if (b->ntail) {
		sb_adds(&why, "; last output: ");
		for (int k = b->ntail > 3 ? b->ntail - 3 : 0; k < b->ntail; k++)
			sb_addf(&why, "%s%s", b->tail[k], k + 1 < b->ntail ? " | " : "");
	}
	b->res->run_status = res->status > 0 ? res->status : 1;
	int r = at(fi, e, CRUMB_ECHILD, "%s", why.buf);
	sb_release(&why);
	return r;
}

/* Reads the disk back as the stage's new tree, through a cpio blob so the
 * result is cached and the tree references only immutable files. */
static int builder_read_back(struct builder *b, struct bstage *st, const struct builder_adds *ba,
			     const char *disk, const char *cpio, const char *key, struct err *e)
{
	struct ext4fs *fs = NULL;
	struct tree after;
	tree_init(&after);
	int r = ext4fs_open(disk, 0, &fs, e);
	if (r == 0)
		r = ext4fs_read_tree(fs, "/", &after, "/", e);
	if (r == 0 && !ba->had_init)
		r = tree_remove(&after, ROOTFS_INIT_PATH, e);
	if (r == 0 && !ba->had_lf)
		r = tree_remove(&after, "/lost+found", e);
	for (size_t k = 0; r == 0 && k < ba->nhad; k++) {
		struct tree_node *d = tree_lookup(&after, ba->had[k].path, 0);
		if (!ba->had[k].existed && d && d->type == TREE_DIR && d->nkids == 0)
			r = tree_remove(&after, ba->had[k].path, e);
	}
	struct cpio_opts co = {.compress = COMPRESS_NONE};
	if (r == 0)
		r = cpio_write(&after, cpio, &co, e);
	tree_release(&after);
	if (fs)
		ext4fs_close(fs, NULL);
	unlink(disk);
	struct oci_desc d;
	if (r == 0)
		r = oci_blob_put_file(b->s, cpio, OCI_MT_ROOTFS_CPIO, 1, &d, e);
	if (r == 0) /* --no-cache skips lookups, not the refresh */
		r = oci_cache_put(b->s, key, d.digest, e);
	if (r == 0) {
		tree_release(&st->tree);
		tree_init(&st->tree);
		r = import_blob(b, b->s, &d, "build cache", 0, &st->tree, e);
	}
	return r;
}

static int run_group(struct builder *b, struct bstage *st, struct run_step *steps, size_t n,
		     struct run_mounts *rm, const char *key, struct err *e)
{
	char *disk = xasprintf("%s/run-%d.ext4", b->tmp, ++b->tmpn);
	char *cpio = xasprintf("%s/run-%d.cpio", b->tmp, b->tmpn);
	struct builder_adds ba;
	struct vm_result res;
	int r = builder_disk(b, st, &ba, disk, e);
	if (r < 0)
		r = at_err(steps[0].i, e, r);
	else if ((r = builder_boot(b, steps, n, rm, disk, &res, e)) == 0) {
		if (b->line.len)
			run_output(b, "\n", 1);
		if (res.status != 0 || res.init_error[0] || res.panic[0])
			r = builder_failure(b, steps, n, &res, e);
		else if ((r = builder_read_back(b, st, &ba, disk, cpio, key, e)) < 0)
			r = at_err(steps[n - 1].i, e, r);
	}
	unlink(disk);
	unlink(cpio);
	free(disk);
	free(cpio);
	return r;
}

/* ---- the stages ---- */

static int validate_label(struct builder *b, const struct spec_instr *i, const char *k,
			  const char *v, struct err *e)
{
	if (strncmp(k, "crumb.", 6))
		return 0;
	const char *n = k + 6;
	char *end;
	if (!strcmp(n, "rootfs")) {
		if (strcmp(v, "initramfs") && strcmp(v, "ext4"))
			return at(i, e, CRUMB_EINVAL,
				  "LABEL crumb.rootfs=%s: want initramfs or ext4", v);
	} else if (!strcmp(n, "restart")) {
		if (strcmp(v, "no") && strcmp(v, "always") && strncmp(v, "on-failure", 10))
			return at(i, e, CRUMB_EINVAL,
				  "LABEL crumb.restart=%s: want no, on-failure[:N] or always", v);
	} else if (!strcmp(n, "cpus")) {
		long c = strtol(v, &end, 10);
		if (*end || c < 1 || c > 16)
			return at(i, e, CRUMB_EINVAL, "LABEL crumb.cpus=%s: want 1 to 16", v);
	} else if (!strcmp(n, "memory")) {
		unsigned mb;
		if (runcfg_parse_mem(v, &mb) < 0 || !mb)
			return at(i, e, CRUMB_EINVAL,
				  "LABEL crumb.memory=%s: want a size like 256M or 1G", v);
	} else if (!strcmp(n, "publish")) {
		struct vm_port ports[64];
		size_t np = 0;
		struct err pe;
		if (runcfg_publish(v, ports, 64, &np, &pe) < 0)
			return at(i, e, CRUMB_EINVAL, "LABEL crumb.publish: %s", pe.msg);
	} else if (!strcmp(n, "kernel") && strchr(v, '/')) {
		char *real = NULL;
		struct err ke;
		int r = confine_path(b->ctxreal, v, &real, &ke);
		free(real);
		if (r < 0)
			return at(i, e, r, "LABEL crumb.kernel=%s: %s", v, ke.msg);
	} else if (!strcmp(n, "seccomp")) {
		struct sysfilter f;
		struct err se;
		sysfilter_init(&f);
		int r = sysfilter_parse(v, &f, &se);
		sysfilter_release(&f);
		if (r < 0)
			return at(i, e, r, "LABEL %s", se.msg);
	} else if (strcmp(n, "kernel") && strcmp(n, "cmdline") && strncmp(n, "minimized.", 10)) {
		return at(i, e, CRUMB_EINVAL,
			  "LABEL %s: unknown crumb label (crumb.kernel, crumb.memory, crumb.cpus, "
			  "crumb.rootfs, crumb.publish, crumb.restart, crumb.cmdline, "
			  "crumb.seccomp)",
			  k);
	}
	return 0;
}

static void set_command(struct bstage *st, struct strlist *to, const struct spec_eval *v)
{
	strlist_release(to);
	if (v->json) {
		strlist_copy(to, &v->argv);
	} else {
		strlist_copy(to, &st->shell);
		strlist_push(to, v->argv.n ? v->argv.v[0] : "");
	}
}

/* RUN's environment: ENV, then build ARGs not overridden by ENV (as Docker), and a PATH. */
static void run_env(struct bstage *st, struct strlist *env)
{
	strlist_copy(env, &st->cfg.env);
	for (size_t k = 0; k < st->args.n; k++) {
		char *name = xstrndup(st->args.v[k], strcspn(st->args.v[k], "="));
		if (!kv_get(env, name))
			strlist_push(env, st->args.v[k]);
		free(name);
	}
	if (!kv_get(env, "PATH"))
		kv_set(env, "PATH", DEFAULT_PATH);
}

static void step_release(struct run_step *s)
{
	strlist_release(&s->argv);
	strlist_release(&s->env);
	free(s->workdir);
	free(s->user);
}

/* Consecutive RUN instructions from index *k: one builder boot (or one cache hit). Steps that
 * differ in network, or in the secrets they mount, never share a boot; nor do more mounts
 * than BUILD_MAX_DISKS disks. */
static int do_runs(struct builder *b, struct bstage *st, size_t *k, struct err *e)
{
	const struct spec_stage *sp = st->sp;
	size_t first = *k, n = 0;
	struct run_step *steps = NULL;
	struct run_mounts rm;
	struct lookup lk = {b, st};
	char *sig0 = NULL;
	int r = 0;
	double t0 = now_monotonic();
	run_mounts_init(&rm, &b->menv);
	while (r == 0 && first + n < sp->ninstrs && sp->instrs[first + n].kind == SPEC_RUN) {
		const struct spec_instr *i = &sp->instrs[first + n];
		struct spec_eval v;
		int ev = spec_eval(b->spec, i, lookup_var, &lk, &v, e);
		if (ev == 0 && n > 0) {
			char *sig = run_mounts_secret_sig(&v);
			int fits = run_has_net(b, i) == steps[0].net && !strcmp(sig, sig0) &&
				   run_mounts_ndisks_with(&rm, &v) <= BUILD_MAX_DISKS;
			free(sig);
			if (!fits) {
				spec_eval_release(&v);
				break;
			}
		} else if (ev == 0) {
			sig0 = run_mounts_secret_sig(&v);
		}
		steps = xrealloc(steps, (n + 1) * sizeof(*steps));
		memset(&steps[n], 0, sizeof(*steps));
		steps[n].i = i;
		if ((r = ev) == 0) {
			if (v.network && strcmp(v.network, "default") && strcmp(v.network, "none"))
				r = at(i, e, CRUMB_EUNSUPP,
				       "RUN --network=%s is not supported "
				       "(default or none)",
				       v.network);
			run_argv(st, &v, &steps[n].argv);
			run_env(st, &steps[n].env);
			steps[n].workdir = dup_or_null(st->cfg.workdir);
			steps[n].user = dup_or_null(st->cfg.user);
		}
		if (!(steps[n].net = run_has_net(b, i)))
			chain(st->key, "network", "none");     /* a result made without network */
		for (size_t h = 0; h < b->hosts.nhosts; h++) { /* as BuildKit's ExtraHosts */
			chain(st->key, "add-host", b->hosts.hosts[h].name);
			chain(st->key, "add-host ip", b->hosts.hosts[h].ip);
		}
		/* the instruction holds the mount specs; a bind's content is hashed in too, never
		 * a cache's or a secret's */
		chain(st->key, "RUN", i->original);
		if (r == 0)
			r = run_mounts_add(&rm, n, i, &v, st->cfg.workdir, st->key, e);
		if (ev == 0)
			spec_eval_release(&v);
		n++;
	}
	free(sig0);
	char digest[80];
	int hit = 0;
	if (r == 0 && !b->o->no_cache) {
		struct err ce;
		hit = oci_cache_get(b->s, st->key, digest, &ce) == 0;
	}
	for (size_t j = 0; j < n; j++) {
		b->step++;
		event(b, BUILD_STEP, steps[j].i->original, 0, 0);
		if (j + 1 < n && (r || hit))
			event(b, BUILD_STEP_DONE, NULL, 0, hit);
	}
	if (r == 0 && hit) {
		tree_release(&st->tree);
		tree_init(&st->tree);
		if ((r = import_cached(b, digest, &st->tree, e)) < 0)
			r = at_err(steps[n - 1].i, e, r);
		b->res->ncached += (int)n;
	} else if (r == 0) {
		for (size_t j = 0; r == 0 && j < n; j++)
			r = check_program(st, &steps[j], e);
		/* Progress shows the group as its last step; RUN output streams meanwhile. */
		if (r == 0)
			r = run_group(b, st, steps, n, &rm, st->key, e);
	}
	if (r == 0)
		event(b, BUILD_STEP_DONE, NULL, now_monotonic() - t0, hit);
	run_mounts_release(&rm);
	for (size_t j = 0; j < n; j++)
		step_release(&steps[j]);
	free(steps);
	*k = first + n;
	return r;
}

/* Bounds on what variables and labels add up to (each value is at most
 * SPEC_MAX_WORD): Linux refuses to exec with much more than 2 MiB of
 * environment, and init configs hold at most 1 MiB, so this is generous. */
#define BUILD_MAX_VARS 4096
#define BUILD_MAX_VAR_BYTES (4u << 20)

static int check_vars(const struct spec_instr *i, const struct strlist *a, const struct strlist *b,
		      const char *what, struct err *e)
{
	size_t n = a->n + (b ? b->n : 0), bytes = 0;
	for (size_t k = 0; k < a->n; k++)
		bytes += strlen(a->v[k]);
	for (size_t k = 0; b && k < b->n; k++)
		bytes += strlen(b->v[k]);
	if (n > BUILD_MAX_VARS || bytes > BUILD_MAX_VAR_BYTES)
		return at(i, e, CRUMB_EUNSAFE, "%s: the stage's %s exceed %d or %u MiB in all",
			  spec_kind_name(i->kind), what, BUILD_MAX_VARS, BUILD_MAX_VAR_BYTES >> 20);
	return 0;
}

static int instr_arg(struct builder *b, struct bstage *st, const struct spec_instr *i,
		     const struct spec_eval *v, struct err *e)
{
	for (size_t k = 0; k < v->nkv; k++) {
		const char *val = NULL;
		if (!build_arg(b, v->kv[k].key, &val))
			val = v->kv[k].value ? v->kv[k].value : kv_get(&b->gargs, v->kv[k].key);
		if (val)
			kv_set(&st->args, v->kv[k].key, val);
		chain(st->key, v->kv[k].key, val);
	}
	return check_vars(i, &st->args, &st->cfg.env, "ARG and ENV variables", e);
}

static int instr_label(struct builder *b, struct bstage *st, const struct spec_instr *i,
		       const struct spec_eval *v, struct err *e)
{
	int r = 0;
	for (size_t k = 0; r == 0 && k < v->nkv; k++) {
		const char *val = v->kv[k].value ? v->kv[k].value : "";
		if ((r = validate_label(b, i, v->kv[k].key, val, e)) == 0)
			oci_config_set_label(&st->cfg, v->kv[k].key, val);
	}
	return r < 0 ? r : check_vars(i, &st->cfg.label_values, NULL, "labels", e);
}

static int instr_workdir(struct bstage *st, const struct spec_instr *i, const struct spec_eval *v,
			 struct err *e)
{
	char *wd = build_dest_path(st->cfg.workdir, v->value);
	struct tree_node *nd;
	int r = 0;
	free(st->cfg.workdir);
	st->cfg.workdir = wd;
	/* Docker creates the directory; a file in the way is an error. */
	struct tree_node *n = tree_lookup(&st->tree, wd, 1);
	if (n && n->type != TREE_DIR)
		r = at(i, e, CRUMB_EINVAL, "WORKDIR %s: not a directory in the image", wd);
	else if (!n && (r = tree_add(&st->tree, wd, TREE_DIR, 0755, &nd, e)) < 0)
		r = at_err(i, e, r);
	return r;
}

static int instr_user(struct bstage *st, const struct spec_instr *i, const struct spec_eval *v,
		      struct err *e)
{
	/* crumb-init's rule, said here rather than at the next RUN */
	const char *colon = strchr(v->value, ':');
	if (colon == v->value || (colon && (!colon[1] || strchr(colon + 1, ':'))))
		return at(i, e, CRUMB_EINVAL, "USER %s: '%s' is not USER[:GROUP]", i->rest,
			  v->value);
	free(st->cfg.user);
	st->cfg.user = xstrdup(v->value);
	return 0;
}

static void instr_expose(struct bstage *st, const struct spec_eval *v)
{
	for (size_t k = 0; k < v->nports; k++)
		for (unsigned p = v->ports[k].port; p <= v->ports[k].port_end; p++) {
			char *s = xasprintf("%u/%s", p, v->ports[k].udp ? "udp" : "tcp");
			if (!strlist_has(&st->cfg.exposed, s))
				strlist_push(&st->cfg.exposed, s);
			free(s);
		}
}

static int instr_stopsignal(struct bstage *st, const struct spec_instr *i,
			    const struct spec_eval *v, struct err *e)
{
	/* Docker refuses an unknown signal at build time too */
	if (runcfg_signal(v->value) < 0)
		return at(i, e, CRUMB_EINVAL,
			  "STOPSIGNAL %s: not a signal (a name like SIGTERM or TERM, or a number "
			  "1-64)",
			  v->value);
	free(st->cfg.stop_signal);
	st->cfg.stop_signal = xstrdup(v->value);
	return 0;
}

/* Docker's duration option: unset (0) when not given; the parser checked the text. */
static int64_t hc_duration(const char *s)
{
	int64_t ns = 0;
	if (s && spec_duration(s, &ns) < 0)
		ns = 0;
	return ns;
}

/* HEALTHCHECK replaces the whole Healthcheck, options included (NONE has none). */
static void instr_healthcheck(struct bstage *st, const struct spec_eval *v)
{
	strlist_release(&st->cfg.healthcheck);
	st->cfg.hc_interval = hc_duration(v->interval);
	st->cfg.hc_timeout = hc_duration(v->timeout);
	st->cfg.hc_start_period = hc_duration(v->start_period);
	st->cfg.hc_start_interval = hc_duration(v->start_interval);
	st->cfg.hc_retries = v->retries > 0 ? v->retries : 0;
	if (v->none) {
		strlist_push(&st->cfg.healthcheck, "NONE");
	} else if (v->json) {
		strlist_push(&st->cfg.healthcheck, "CMD");
		for (size_t k = 0; k < v->argv.n; k++)
			strlist_push(&st->cfg.healthcheck, v->argv.v[k]);
	} else {
		strlist_push(&st->cfg.healthcheck, "CMD-SHELL");
		strlist_push(&st->cfg.healthcheck, v->argv.n ? v->argv.v[0] : "");
	}
}

/* One instruction other than FROM and RUN, evaluated; its part of the stage's key. */
static int do_instr(struct builder *b, struct bstage *st, const struct spec_instr *i,
		    int *cmd_from_base, struct err *e)
{
	struct lookup lk = {b, st};
	struct spec_eval v;
	spec_eval_init(&v);
	int r = spec_eval(b->spec, i, lookup_var, &lk, &v, e);
	if (r < 0)
		goto out;
	switch (i->kind) {
	case SPEC_ARG:
		r = instr_arg(b, st, i, &v, e);
		break;
	case SPEC_ENV:
		for (size_t k = 0; k < v.nkv; k++)
			kv_set(&st->cfg.env, v.kv[k].key, v.kv[k].value ? v.kv[k].value : "");
		r = check_vars(i, &st->args, &st->cfg.env, "ARG and ENV variables", e);
		break;
	case SPEC_LABEL:
		r = instr_label(b, st, i, &v, e);
		break;
	case SPEC_COPY:
	case SPEC_ADD:
		r = do_copy(b, st, i, &v, e);
		break;
	case SPEC_WORKDIR:
		r = instr_workdir(st, i, &v, e);
		break;
	case SPEC_USER:
		r = instr_user(st, i, &v, e);
		break;
	case SPEC_EXPOSE:
		instr_expose(st, &v);
		break;
	case SPEC_VOLUME:
		for (size_t k = 0; k < v.src.n; k++)
			if (!strlist_has(&st->cfg.volumes, v.src.v[k]))
				strlist_push(&st->cfg.volumes, v.src.v[k]);
		break;
	case SPEC_CMD:
		set_command(st, &st->cfg.cmd, &v);
		*cmd_from_base = 0;
		break;
	case SPEC_ENTRYPOINT:
		set_command(st, &st->cfg.entrypoint, &v);
		/* Docker: an ENTRYPOINT resets a CMD that came from the base image. */
		if (*cmd_from_base)
			strlist_release(&st->cfg.cmd);
		break;
	case SPEC_STOPSIGNAL:
		r = instr_stopsignal(st, i, &v, e);
		break;
	case SPEC_SHELL:
		strlist_copy(&st->shell, &v.argv);
		break;
	case SPEC_HEALTHCHECK:
		instr_healthcheck(st, &v);
		break;
	case SPEC_ONBUILD:
		strlist_push(&st->cfg.onbuild, i->rest ? i->rest : "");
		break;
	case SPEC_MAINTAINER: /* recorded in the cache key only, as Docker's deprecated Author */
	case SPEC_FROM:
	case SPEC_RUN:
		break;
	}
	if (r == 0 && i->kind != SPEC_COPY && i->kind != SPEC_ADD && i->kind != SPEC_ARG)
		chain(st->key, spec_kind_name(i->kind), i->original);
out:
	spec_eval_release(&v);
	return r;
}

/* FROM --platform: linux/amd64 (what $BUILDPLATFORM and $TARGETPLATFORM give) or nothing. */
static int check_platform(const struct spec_instr *i, const char *platform, struct err *e)
{
	if (!platform || !strcasecmp(platform, BUILD_PLATFORM))
		return 0;
	const struct spec_pos *p = &i->pos;
	for (size_t k = 0; k < i->nflags; k++)
		if (!strcmp(i->flags[k].name, "platform"))
			p = &i->flags[k].pos;
	return err_set(e, CRUMB_EUNSUPP, "%s:%d:%d: FROM --platform=%s: only %s can be built",
		       p->file, p->line, p->col, platform, BUILD_PLATFORM);
}

static int build_stage(struct builder *b, struct bstage *st, struct err *e)
{
	const struct spec_stage *sp = st->sp;
	b->cur = st;
	struct lookup lk = {b, NULL};
	struct spec_eval v;
	spec_eval_init(&v);
	double t0 = now_monotonic();
	b->step++;
	event(b, BUILD_STEP, sp->from->original, 0, 0);
	int r = spec_eval(b->spec, sp->from, lookup_var, &lk, &v, e);
	if (r == 0)
		r = check_platform(sp->from, v.platform, e);
	if (r == 0) {
		st->name = dup_or_null(v.as);
		r = do_from(b, st, sp->from, &v, e);
	}
	spec_eval_release(&v);
	if (r < 0)
		return r;
	chain(st->key, "crumb-build", "1");
	event(b, BUILD_STEP_DONE, NULL, now_monotonic() - t0, 0);
	int cmd_from_base = st->cfg.cmd.n > 0;
	for (size_t k = 1; r == 0 && k < sp->ninstrs;) {
		const struct spec_instr *i = &sp->instrs[k];
		if (i->kind == SPEC_RUN) {
			r = do_runs(b, st, &k, e);
			continue;
		}
		b->step++;
		t0 = now_monotonic();
		event(b, BUILD_STEP, i->original, 0, 0);
		if ((r = do_instr(b, st, i, &cmd_from_base, e)) == 0)
			event(b, BUILD_STEP_DONE, NULL, now_monotonic() - t0, 0);
		k++;
	}
	st->built = 1;
	return r;
}

/* ---- the image ---- */

static int hash_mtime(struct tree_node *n, const char *path, void *ctx)
{
	char t[32];
	snprintf(t, sizeof(t), "%lld", (long long)n->mtime);
	build_hash_str(ctx, path);
	build_hash_str(ctx, t);
	return 0;
}

/* The baked-in service config (crumb run IMAGE passes its own; this one is for other loaders). */
static int image_initcfg(const struct oci_config *cfg, struct sbuf *out, struct err *e)
{
	struct initcfg c;
	initcfg_init(&c);
	for (size_t k = 0; k < cfg->entrypoint.n; k++)
		strlist_push(&c.argv, cfg->entrypoint.v[k]);
	for (size_t k = 0; k < cfg->cmd.n; k++)
		strlist_push(&c.argv, cfg->cmd.v[k]);
	int r = 0;
	if (c.argv.n) {
		for (size_t k = 0; k < cfg->env.n; k++)
			strlist_push(&c.env, cfg->env.v[k]);
		if (!kv_get(&c.env, "PATH"))
			strlist_push(&c.env, "PATH=" DEFAULT_PATH);
		c.workdir = dup_or_null(cfg->workdir);
		c.user = dup_or_null(cfg->user);
		r = initcfg_render(&c, out, e);
	}
	initcfg_release(&c);
	return r;
}

/* The last stage's tree made an image root (crumb-init, the baked-in config),
 * its times clamped; key = the rootfs's cache key. */
static int final_tree(struct builder *b, struct bstage *st, int ext4, char key[65], struct err *e)
{
	int64_t epoch = b->o->epoch;
	struct sbuf conf = SBUF_INIT;
	char init_hex[65];
	int r = hash_file(b->o->init, init_hex, e);
	/* A base image's crumb.publish is judged as a LABEL would be. */
	const char *pl = oci_config_label(&st->cfg, "crumb.publish");
	struct vm_port ports[64];
	size_t np = 0;
	struct err pe;
	if (r == 0 && pl && runcfg_publish(pl, ports, 64, &np, &pe) < 0)
		r = err_set(e, CRUMB_EUNSAFE, "label crumb.publish=%s (from the base image): %s",
			    pl, pe.msg);
	if (r == 0)
		r = image_initcfg(&st->cfg, &conf, e);
	if (r == 0)
		r = rootfs_add_base(&st->tree, b->o->init, e);
	if (r == 0 && conf.len)
		r = tree_add_data(&st->tree, INITCFG_GUEST_PATH, conf.buf, conf.len, 0644, e);
	memcpy(key, st->key, 65);
	/* "cpio.zst 2": small roots at level 19 with a 2 MiB window (write_rootfs); a blob an
	 * older crumb wrote under "cpio.zst" is not served for it */
	chain(key, "rootfs", ext4 ? "ext4" : "cpio.zst 2");
	chain(key, init_hex, conf.buf);
	sb_release(&conf);
	/* Times older than the epoch reach the image (crumb-init's, a RUN's, a FROM
	 * image's): they are part of the key, so a cache hit is what a fresh build writes. */
	tree_walk(&st->tree, build_clamp_mtime, &epoch);
	struct build_hasher mh;
	char mt[65], when[32];
	build_hash_init(&mh);
	tree_walk(&st->tree, hash_mtime, &mh);
	build_hash_final(&mh, mt);
	chain(key, "mtimes", mt);
	snprintf(when, sizeof(when), "%lld", (long long)epoch); /* ext4's superblock times */
	chain(key, "epoch", when);
	return r;
}

/* The rootfs blob the build cache holds for key, into *l: *hit is 0 when
 * there is none (or it went since the lookup). */
static int cached_rootfs(struct builder *b, const char *key, int ext4, struct oci_desc *l, int *hit,
			 struct err *e)
{
	char digest[80];
	struct err ce;
	*hit = 0;
	if (b->o->no_cache || oci_cache_get(b->s, key, digest, &ce) < 0)
		return 0;
	/* A hit is committed as it is: check it whole (the digest vouches for
	 * the size) rather than record a damaged blob in a new image. */
	struct vread v;
	snprintf(l->digest, sizeof(l->digest), "%s", digest);
	snprintf(l->media_type, sizeof(l->media_type), "%s",
		 ext4 ? OCI_MT_ROOTFS_EXT4 : OCI_MT_ROOTFS_CPIO_ZSTD);
	l->size = VREAD_SIZE_ANY;
	int r = oci_blob_open(b->s, l, "build cache", 0, &v, e);
	if (r == 0 && (r = oci_blob_done(b->s, l, 0, &v, e)) == 0)
		l->size = v.want_size;
	vread_close(&v);
	if (r == CRUMB_ENOENT)
		return 0; /* gone since the lookup: build it */
	if (r < 0) {
		char msg[ERR_MSG_MAX];
		snprintf(msg, sizeof(msg), "%s", e->msg);
		return err_set(e, r, "%s; 'crumb build --no-cache' writes it again", msg);
	}
	*hit = 1;
	return 0;
}

/* Writes the tree as the rootfs blob *l (ext4 or zstd cpio), recorded in the cache under key. */
static int write_rootfs(struct builder *b, struct bstage *st, int ext4, const char *key,
			struct oci_desc *l, struct err *e)
{
	int64_t epoch = b->o->epoch;
	char *out = xasprintf("%s/rootfs.%s", b->tmp, ext4 ? "ext4" : "cpio.zst");
	int r;
	if (ext4) {
		struct ext4_opts eo = {.epoch = epoch, .clamp = 1, .label = "crumb"};
		r = ext4_write(&st->tree, out, &eo, e);
	} else {
		/* A small root at zstd's level 19 (~0.5 s a MB here; the sshd example's 4.5 MB of
		 * files: 1.8 MB instead of 2.2 at the default 3), a larger one at 3 (~25x faster).
		 */
		struct tree_stats ts;
		tree_stats(&st->tree, &ts);
		struct cpio_opts co = {.compress = COMPRESS_ZSTD,
				       .epoch = epoch,
				       .clamp = 1,
				       .level = ts.bytes <= BUILD_ZSTD_MAX_BYTES ? 19 : 0};
		r = cpio_write(&st->tree, out, &co, e);
	}
	if (r == 0)
		r = oci_blob_put_file(b->s, out,
				      ext4 ? OCI_MT_ROOTFS_EXT4 : OCI_MT_ROOTFS_CPIO_ZSTD, 1, l, e);
	if (r == 0)
		r = oci_cache_put(b->s, key, l->digest, e);
	unlink(out);
	free(out);
	return r;
}

/* The kernel: the crumb.kernel label (a vmlinux path or a stored kernel
 * ID), else --kernel, else the store's crumb kernel. *out malloc'd; *strip: 0 for a file
 * the context (a stranger) names, which objcopy never reads (klayer.h). */
static int image_kernel(struct builder *b, struct bstage *st, char **out, int *strip, struct err *e)
{
	const char *kl = oci_config_label(&st->cfg, "crumb.kernel");
	char *kpath = NULL;
	int r = 0;
	*strip = !kl || !*kl || !strchr(kl, '/');
	if (!kl || !*kl) {
		*out = xstrdup(b->kernel);
		return 0;
	}
	struct kernel_info *list = NULL;
	size_t nk = 0;
	if (strchr(kl, '/')) {
		/* a label from a base image is judged here too: inside this context */
		struct err ke;
		if ((r = confine_path(b->ctxreal, kl, &kpath, &ke)) < 0)
			r = err_set(e, r, "LABEL crumb.kernel=%s: %s", kl, ke.msg);
	} else if (kernel_list(oci_root(b->s), &list, &nk, e) == 0) {
		for (size_t k = 0; k < nk; k++)
			if (!kpath && !strncmp(list[k].id, kl, strlen(kl)) &&
			    (r = kernel_verify(&list[k], e)) == 0)
				kpath = xstrdup(list[k].vmlinux);
		for (size_t k = 0; k < nk; k++)
			kernel_info_release(&list[k]);
		free(list);
	}
	if (!kpath && r == 0)
		r = err_set(e, CRUMB_ENOENT, "LABEL crumb.kernel=%s: no such file or stored kernel",
			    kl);
	*out = kpath;
	return r;
}

/* The last stage's tree, kernel and config become the stored image. */
static int finalize(struct builder *b, struct bstage *st, struct err *e)
{
	const char *kind = oci_config_label(&st->cfg, "crumb.rootfs");
	int ext4 = kind && !strcmp(kind, "ext4");
	char key[65];
	struct oci_desc layers[2];
	int r = final_tree(b, st, ext4, key, e), hit = 0;
	b->step = b->nsteps;
	if (r == 0)
		r = cached_rootfs(b, key, ext4, &layers[1], &hit, e);
	if (r == 0 && !hit)
		r = write_rootfs(b, st, ext4, key, &layers[1], e);
	char *kpath = NULL;
	int strip;
	if (r == 0 && (r = image_kernel(b, st, &kpath, &strip, e)) == 0)
		r = klayer_put(b->s, kpath, strip, &layers[0], e);
	free(kpath);
	if (r == 0) {
		free(st->cfg.created);
		time_t t = (time_t)b->o->epoch;
		struct tm tm;
		char when[64];
		gmtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		st->cfg.created = xstrdup(when);
		r = oci_image_commit(b->s, b->o->tag, &st->cfg, layers, 2, &b->res->manifest, e);
	}
	if (r == 0) {
		b->res->kernel_size = layers[0].size;
		b->res->rootfs_size = layers[1].size;
	}
	return r;
}

/* Removes build directories left by killed builds (their pid is gone). */
static void sweep(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		int pid;
		if (sscanf(de->d_name, "build-%d-", &pid) != 1 || pid <= 0)
			continue;
		if (kill(pid, 0) == 0 || errno != ESRCH)
			continue;
		char *p = xasprintf("%s/%s", dir, de->d_name);
		remove_tree(p, NULL);
		free(p);
	}
	closedir(d);
}

/* BuildKit's automatic platform ARGs: set in the global scope (a --build-arg replaces one);
 * a stage sees one once an ARG without a value declares it there. crumb builds linux/amd64. */
static const char *const platform_args[][2] = {
    {"TARGETPLATFORM", BUILD_PLATFORM},
    {"TARGETOS", "linux"},
    {"TARGETARCH", "amd64"},
    {"TARGETVARIANT", ""},
    {"BUILDPLATFORM", BUILD_PLATFORM},
    {"BUILDOS", "linux"},
    {"BUILDARCH", "amd64"},
    {"BUILDVARIANT", ""},
};

/* Global ARGs (before FROM): only FROM lines see them. */
static int global_args(struct builder *b, struct err *e)
{
	struct spec *sp = b->spec;
	struct lookup glk = {b, NULL};
	int r = 0;
	for (size_t k = 0; k < sizeof(platform_args) / sizeof(platform_args[0]); k++) {
		const char *val = NULL;
		if (!build_arg(b, platform_args[k][0], &val))
			val = platform_args[k][1];
		if (val)
			kv_set(&b->gargs, platform_args[k][0], val);
	}
	for (size_t k = 0; r == 0 && k < sp->nglobal_args; k++) {
		struct spec_eval v;
		spec_eval_init(&v);
		if ((r = spec_eval(sp, &sp->global_args[k], lookup_var, &glk, &v, e)) == 0)
			for (size_t j = 0; j < v.nkv; j++) {
				const char *val = NULL;
				if (!build_arg(b, v.kv[j].key, &val))
					val = v.kv[j].value;
				if (val)
					kv_set(&b->gargs, v.kv[j].key, val);
			}
		if (r == 0)
			r = check_vars(&sp->global_args[k], &b->gargs, NULL, "global ARG variables",
				       e);
		spec_eval_release(&v);
	}
	return r;
}

/* Which stage is the image: the one --target names (b->last is the last one before). */
static int pick_target(struct builder *b, const char *target, struct err *e)
{
	const struct spec *sp = b->spec;
	/* Stage names are only known after evaluating FROM lines: match AS names textually. */
	int found = -1;
	for (size_t k = 0; k < b->nst; k++) {
		const char *orig = sp->stages[k].from->original;
		const char *as = strcasestr(orig, " as ");
		if (as && !strcasecmp(as + 4 + strspn(as + 4, " \t"), target))
			found = (int)k;
	}
	if (found < 0)
		return err_set(e, CRUMB_ENOENT, "--target %s: no stage named so in %s", target,
			       b->o->file);
	b->last = (size_t)found;
	return 0;
}

/* The builder VM's kernel: --kernel, else the store's crumb kernel. */
static int find_kernel(struct builder *b, const char *root, struct err *e)
{
	if (b->o->kernel) {
		b->kernel = xstrdup(b->o->kernel);
		return 0;
	}
	struct kernel_info ki = {0};
	struct kernel_opts ko = {0};
	int r = 0;
	if ((r = kernel_lookup(root, &ko, &ki, e)) == CRUMB_ENOENT)
		r = err_set(e, CRUMB_ENOENT,
			    "no crumb kernel in the store (%s): run 'crumb kernel build' "
			    "first (about 9 minutes, once)",
			    root);
	else if (r == 0)
		b->kernel = xstrdup(ki.vmlinux);
	kernel_info_release(&ki);
	return r;
}

/* The build's temporary directory under tmpbase (after sweeping dead builds'). */
static int make_tmp(struct builder *b, const char *tmpbase, struct err *e)
{
	int r = mkdir_p(tmpbase, 0700, e);
	if (r < 0)
		return r;
	sweep(tmpbase);
	b->tmp = xasprintf("%s/build-%d-XXXXXX", tmpbase, (int)getpid());
	if (!mkdtemp(b->tmp))
		return err_errno(e, CRUMB_EIO, "mkdtemp %s", b->tmp);
	return 0;
}

static void note_unused_args(struct builder *b)
{
	const struct strlist *l = b->o->build_args;
	for (size_t k = 0; l && k < l->n; k++) {
		char *name = xstrndup(l->v[k], strcspn(l->v[k], "="));
		if (!strlist_has(&b->used_args, name)) {
			char *note = xasprintf("build-arg %s was not consumed by any ARG", name);
			event(b, BUILD_NOTE, note, 0, 0);
			free(note);
		}
		free(name);
	}
}

/* Everything the trees reference is released before the temp dir goes. */
static void builder_release(struct builder *b)
{
	for (size_t k = 0; k < b->nst; k++) {
		if (b->st[k].sp && b->st[k].tree.root)
			tree_release(&b->st[k].tree);
		oci_config_release(&b->st[k].cfg);
		strlist_release(&b->st[k].shell);
		strlist_release(&b->st[k].args);
		free(b->st[k].name);
	}
	for (size_t k = 0; k < b->nfss; k++)
		ext4fs_close(b->fss[k], NULL);
	free(b->fss);
	if (b->tmp)
		remove_tree(b->tmp, NULL);
	for (int k = 0; k < b->ntail; k++)
		free(b->tail[k]);
	sb_release(&b->line);
	strlist_release(&b->gargs);
	strlist_release(&b->used_args);
	initcfg_release(&b->hosts);
	for (size_t k = 0; k < b->nsecrets; k++) {
		if (b->secrets[k].value)
			memset(b->secrets[k].value, 0, b->secrets[k].len);
		build_secret_release(&b->secrets[k]);
	}
	free(b->secrets);
	strlist_release(&b->ignore);
	strlist_release(&b->allow);
	free(b->ctxreal);
	free(b->st);
	free(b->tmp);
	free(b->kernel);
	spec_free(b->spec);
}

int build_run(struct oci_store *s, const struct build_opts *o, struct build_result *res,
	      struct err *e)
{
	struct builder b = {.s = s, .o = o, .res = res};
	memset(res, 0, sizeof(*res));
	/* INCLUDE reads inside the context (or, for a Crumbfile given outside
	 * it, inside the Crumbfile's own directory). */
	char *ctxreal = realpath(o->context, NULL), *freal = realpath(o->file, NULL);
	int in_ctx = ctxreal && freal && confine_inside(freal, ctxreal);
	free(freal);
	struct spec_parse_opts po = {.read = spec_read_below, .read_ctx = ctxreal};
	int lock = -1, r = spec_parse_file(o->file, in_ctx ? &po : NULL, &b.spec, e);
	if (r < 0) {
		free(ctxreal);
		return r;
	}
	b.ctxreal = ctxreal ? ctxreal : xstrdup(o->context);
	for (size_t k = 0; r == 0 && o->allow_host && k < o->allow_host->n; k++) {
		char *a = realpath(o->allow_host->v[k], NULL);
		if (!a)
			r = err_errno(e, CRUMB_ENOENT, "--allow-host %s", o->allow_host->v[k]);
		else
			strlist_push_owned(&b.allow, a);
	}
	b.nst = b.spec->nstages;
	b.st = xcalloc(b.nst, sizeof(*b.st));
	for (size_t k = 0; k < b.nst; k++)
		b.st[k].sp = &b.spec->stages[k];
	b.last = b.nst - 1;
	initcfg_init(&b.hosts);
	if (r == 0)
		r = runcfg_add_hosts(o->add_hosts, !o->network_none, &b.hosts, e);
	if (r == 0)
		r = global_args(&b, e);
	if (r == 0 && o->target)
		r = pick_target(&b, o->target, e);
	if (r == 0)
		r = load_secrets(&b, e);
	for (size_t k = 0; k <= b.last; k++)
		b.nsteps += (int)b.spec->stages[k].ninstrs;
	build_load_ignore(o->context, &b.ignore);
	res->nsteps = b.nsteps;
	char *root = xstrdup(oci_root(s)), *tmpbase = xasprintf("%s/tmp", root);
	b.cenv = (struct build_copy_env){o->context, b.ctxreal, &b.ignore, &b.allow, o->epoch};
	b.menv = (struct build_mount_env){.copy = &b.cenv,
					  .root = root,
					  .secrets = b.secrets,
					  .nsecrets = b.nsecrets,
					  .from = mount_from,
					  .from_ctx = &b,
					  .epoch = o->epoch};
	if (r == 0)
		r = check_mounts(&b, e);
	if (r == 0)
		r = find_kernel(&b, root, e);
	if (r == 0 && (lock = oci_lock(s, 0, e)) < 0)
		r = lock;
	if (r == 0)
		r = make_tmp(&b, tmpbase, e);
	b.menv.tmp = b.tmp;
	for (size_t k = 0; r == 0 && k <= b.last; k++)
		r = build_stage(&b, &b.st[k], e);
	if (r == 0)
		r = finalize(&b, &b.st[b.last], e);
	if (r == 0)
		note_unused_args(&b);
	builder_release(&b);
	if (lock >= 0)
		close(lock);
	free(root);
	free(tmpbase);
	return r;
}

/* fsimage.c: ext2/3/4 images and archives behind one handle, the format probe, extraction. */
#include "fsimage.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "archive.h"
#include "ext4fs.h"
#include "import.h"

/* ---- probe ---- */

int fsimage_probe(const char *path, enum fsimage_kind *kind, struct err *e)
{
	unsigned char b[1084] = {0};
	struct stat st;
	*kind = FSIMAGE_OTHER;
	int fd = open_regular(path, &st, e);
	if (fd < 0)
		return fd;
	size_t n = 0;
	while (n < sizeof(b)) {
		ssize_t k = pread(fd, b + n, sizeof(b) - n, (off_t)n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			int r = err_errno(e, CRUMB_EIO, "read %s", path);
			close(fd);
			return r;
		}
		if (k == 0)
			break;
		n += (size_t)k;
	}
	close(fd);
	/* b is zero past n: a magic holding no zero byte cannot match what was not read */
	if (n >= 6 && (!memcmp(b, "070701", 6) || !memcmp(b, "070702", 6)))
		*kind = FSIMAGE_CPIO;
	else if (b[0] == 0x1f && b[1] == 0x8b)
		*kind = FSIMAGE_GZIP;
	else if (!memcmp(b, "\x28\xb5\x2f\xfd", 4))
		*kind = FSIMAGE_ZSTD;
	else if (!memcmp(b, "BZh", 3))
		*kind = FSIMAGE_BZIP2;
	else if (n >= 6 && !memcmp(b,
				   "\xfd"
				   "7zXZ",
				   6))
		*kind = FSIMAGE_XZ;
	else if (n >= 262 && !memcmp(b + 257, "ustar", 5))
		*kind = FSIMAGE_TAR;
	else if (n >= 1082 && b[1080] == 0x53 && b[1081] == 0xef)
		*kind = FSIMAGE_EXT;
	return 0;
}

/* ---- an open-addressing map from non-zero 64-bit keys to counts ---- */

struct u64map {
	uint64_t *k;
	uint32_t *c;
	size_t n, cap;
};

static uint32_t *u64map_slot(struct u64map *m, uint64_t key)
{
	if ((m->n + 1) * 2 > m->cap) {
		struct u64map big = {0};
		big.cap = m->cap ? m->cap * 2 : 64;
		big.k = xcalloc(big.cap, sizeof(*big.k));
		big.c = xcalloc(big.cap, sizeof(*big.c));
		for (size_t i = 0; i < m->cap; i++)
			if (m->k[i])
				*u64map_slot(&big, m->k[i]) = m->c[i];
		free(m->k);
		free(m->c);
		*m = big;
	}
	size_t i = (size_t)(key * 0x9e3779b97f4a7c15ull >> 20) & (m->cap - 1);
	while (m->k[i] && m->k[i] != key)
		i = (i + 1) & (m->cap - 1);
	if (!m->k[i]) {
		m->k[i] = key;
		m->n++;
	}
	return &m->c[i];
}

static void u64map_free(struct u64map *m)
{
	if (!m)
		return;
	free(m->k);
	free(m->c);
	free(m);
}

/* ---- the handle ---- */

struct fsimage {
	char *path;
	enum fsimage_kind kind; /* FSIMAGE_EXT, else an archive */
	struct ext4fs *fs;
	struct tree t;
	struct import_opts io;
	int dirty;
	char *ro_reason;
	struct u64map *hlc; /* archive: hard-link group id -> number of names, on first use */
	int64_t epoch;
	int clamp;
};

static int64_t entry_time(const struct fsimage *im, int64_t t)
{
	return clamp_time(t, im->epoch, im->clamp);
}

static int64_t now_time(const struct fsimage *im)
{
	return entry_time(im, (int64_t)time(NULL));
}

static int open_ext(struct fsimage *im, const struct fsimage_opts *o, struct err *e)
{
	int flags = o->rw ? EXT4FS_OPEN_RW | (o->force ? EXT4FS_OPEN_FORCE : 0) : 0;
	int r = ext4fs_open(im->path, flags, &im->fs, e);
	if (r < 0 && r != CRUMB_ENOENT && o->rw) {
		/* it can still be a source; editing it reports why not */
		im->ro_reason = xstrdup(e->msg);
		r = ext4fs_open(im->path, 0, &im->fs, e);
	}
	if (r == 0)
		ext4fs_set_epoch(im->fs, o->epoch, o->clamp);
	return r;
}

static int open_archive(struct fsimage *im, struct err *e)
{
	const char *image = im->path;
	tree_init(&im->t);
	im->io.keep_owner = 1;
	int r = import_archive(&im->t, image, &im->io, e);
	/* libarchive reads a block of zeros as an empty tar: that is no archive */
	if (r == 0 && !im->io.found_cpio && !im->t.root->nkids)
		return err_set(e, CRUMB_EFORMAT,
			       "%s: not an ext2/3/4 image, nor an archive with entries", image);
	/* else import's message names the image and what is wrong (truncated...);
	 * for bytes that are neither, say both readers declined */
	if (r < 0) {
		char why[ERR_MSG_MAX];
		const char *na = "not an archive crumb reads";
		size_t il = strlen(image);
		snprintf(why, sizeof(why), "%s", e->msg); /* e->msg is not formatted into itself */
		if (!strncmp(why, image, il) && !strncmp(why + il, ": ", 2) &&
		    !strncmp(why + il + 2, na, strlen(na)))
			err_set(e, r, "%s: not an ext2/3/4 image nor %s", image,
				why + il + 2 + strlen("not "));
	}
	return r;
}

static void fsimage_free(struct fsimage *im)
{
	if (im->kind != FSIMAGE_EXT && im->t.root)
		tree_release(&im->t);
	u64map_free(im->hlc);
	free(im->path);
	free(im->ro_reason);
	free(im);
}

int fsimage_open(const char *path, const struct fsimage_opts *o, struct fsimage **out,
		 struct err *e)
{
	static const struct fsimage_opts none;
	struct fsimage *im = xcalloc(1, sizeof(*im));
	struct err pe = {0};
	int r;
	if (!o)
		o = &none;
	im->path = xstrdup(path);
	im->epoch = o->epoch;
	im->clamp = o->clamp;
	/* an unreadable file goes to the archive reader, whose message names it */
	if (fsimage_probe(path, &im->kind, &pe) < 0)
		im->kind = FSIMAGE_OTHER;
	r = im->kind == FSIMAGE_EXT ? open_ext(im, o, e) : open_archive(im, e);
	if (r < 0) {
		fsimage_free(im);
		*out = NULL;
		return r;
	}
	*out = im;
	return 0;
}

int fsimage_flush(struct fsimage *im, struct err *e)
{
	if (im->kind == FSIMAGE_EXT || !im->dirty)
		return 0;
	struct cpio_opts o = {.compress = (enum compress)im->io.found_compress};
	int r = cpio_write(&im->t, im->path, &o, e);
	if (r == 0)
		im->dirty = 0;
	return r;
}

int fsimage_close(struct fsimage *im, int commit, struct err *e)
{
	int r = 0;
	if (!im)
		return 0;
	if (im->kind == FSIMAGE_EXT) {
		if (commit)
			r = ext4fs_close(im->fs, e);
		else
			ext4fs_discard(im->fs);
	}
	fsimage_free(im);
	return r;
}

enum fsimage_kind fsimage_kind(const struct fsimage *im)
{
	return im->kind;
}

int fsimage_is_cpio(const struct fsimage *im)
{
	return im->kind != FSIMAGE_EXT && im->io.found_cpio;
}

const char *fsimage_path(const struct fsimage *im)
{
	return im->path;
}

const char *fsimage_ro_reason(const struct fsimage *im)
{
	return im->ro_reason;
}

int fsimage_write_check(struct fsimage *im, struct err *e)
{
	if (im->ro_reason)
		return err_set(e, CRUMB_EUNSUPP, "%s", im->ro_reason);
	if (im->kind == FSIMAGE_EXT)
		return ext4fs_write_check(im->fs, e);
	if (!im->io.found_cpio)
		return err_set(e, CRUMB_EUNSUPP, "%s: only cpio archives can be edited", im->path);
	return 0;
}

/* ---- reading ---- */

void fsimage_ent_release(struct fsimage_ent *s)
{
	free(s->link);
	if (s->own_x)
		ext4fs_xattrs_free(s->x, s->nx);
	memset(s, 0, sizeof(*s));
}

static void count_links(struct u64map *m, const struct tree_node *n)
{
	if (n->type != TREE_DIR && n->hardlink)
		(*u64map_slot(m, n->hardlink))++;
	for (size_t i = 0; i < n->nkids; i++)
		count_links(m, n->kids[i]);
}

static void ent_of_node(struct fsimage *im, const struct tree_node *n, struct fsimage_ent *s)
{
	memset(s, 0, sizeof(*s));
	s->type = n->type;
	s->mode = n->mode;
	s->uid = n->uid;
	s->gid = n->gid;
	s->mtime = n->mtime;
	s->major = n->rdev_major;
	s->minor = n->rdev_minor;
	s->size = n->type == TREE_REG ? n->size : n->type == TREE_LNK ? strlen(n->link) : 0;
	s->blocks = (s->size + 511) / 512;
	s->links = 1;
	if (n->type == TREE_DIR) {
		s->links = 2;
		for (size_t i = 0; i < n->nkids; i++)
			s->links += n->kids[i]->type == TREE_DIR;
	} else if (n->hardlink) {
		if (!im->hlc) { /* once per archive: counting per entry would be quadratic */
			im->hlc = xcalloc(1, sizeof(*im->hlc));
			count_links(im->hlc, im->t.root);
		}
		s->links = *u64map_slot(im->hlc, n->hardlink);
	}
	s->ino = n->hardlink ? n->hardlink : (uint64_t)(uintptr_t)n;
	s->link = n->link ? xstrdup(n->link) : NULL;
	s->x = n->xattrs;
	s->nx = n->nxattrs;
}

/* An image inode's metadata as an entry (the link target and xattrs are the caller's). */
static void ent_of_stat(struct fsimage_ent *s, const struct ext4fs_stat *st)
{
	s->type = st->type;
	s->mode = st->mode;
	s->uid = st->uid;
	s->gid = st->gid;
	s->links = st->links;
	s->size = st->size;
	s->blocks = st->blocks;
	s->ino = st->ino;
	s->mtime = st->mtime;
	s->major = st->rdev_major;
	s->minor = st->rdev_minor;
}

static int no_such(const struct fsimage *im, const char *path, struct err *e)
{
	return err_set(e, CRUMB_ENOENT, "%s:%s: no such file or directory", im->path, path);
}

int fsimage_resolve(struct fsimage *im, const char *path, int follow, struct fsimage_at *p,
		    struct err *e)
{
	memset(p, 0, sizeof(*p));
	p->im = im;
	if (im->kind == FSIMAGE_EXT)
		return ext4fs_lookup(im->fs, path, follow, &p->ino, e);
	if (!(p->node = tree_lookup(&im->t, path, follow)))
		return no_such(im, path, e);
	return 0;
}

int fsimage_at_ent(const struct fsimage_at *p, int want_link, struct fsimage_ent *s, struct err *e)
{
	struct ext4fs_stat st;
	if (p->node) {
		ent_of_node(p->im, p->node, s);
		return 0;
	}
	memset(s, 0, sizeof(*s));
	int r = ext4fs_stat(p->im->fs, p->ino, &st, e);
	if (!r && want_link && st.type == TREE_LNK)
		r = ext4fs_readlink(p->im->fs, p->ino, &s->link, e);
	if (r < 0)
		return r;
	ent_of_stat(s, &st);
	return 0;
}

int fsimage_stat(struct fsimage *im, const char *path, int follow, struct fsimage_ent *s,
		 struct err *e)
{
	struct fsimage_at p;
	int r = fsimage_resolve(im, path, follow, &p, e);
	memset(s, 0, sizeof(*s));
	if (r < 0)
		return r;
	if (im->kind != FSIMAGE_EXT)
		return fsimage_at_ent(&p, 1, s, e);
	if ((r = fsimage_at_ent(&p, 1, s, e)) == 0) {
		s->own_x = 1;
		r = ext4fs_xattrs(im->fs, p.ino, &s->x, &s->nx, e);
	}
	if (r < 0)
		fsimage_ent_release(s);
	return r;
}

int fsimage_is_dir(struct fsimage *im, const char *path)
{
	struct err e = {0};
	struct fsimage_at p;
	struct fsimage_ent s;
	if (fsimage_resolve(im, path, 1, &p, &e) < 0 || fsimage_at_ent(&p, 0, &s, &e) < 0)
		return 0;
	int dir = s.type == TREE_DIR;
	fsimage_ent_release(&s);
	return dir;
}

int fsimage_read(const struct fsimage_at *p, uint64_t off, void *buf, size_t len, struct err *e)
{
	if (p->node)
		return tree_read(p->node, off, buf, len, e);
	return ext4fs_read(p->im->fs, p->ino, off, buf, len, e);
}

uint64_t fsimage_kib(const struct fsimage *im, const struct fsimage_ent *s)
{
	return im->kind == FSIMAGE_EXT ? (s->blocks + 1) / 2 : (s->size + 1023) / 1024;
}

int fsimage_readdir(const struct fsimage_at *p, struct fsimage_dir *d, struct err *e)
{
	struct ext4fs_dirent *de = NULL;
	memset(d, 0, sizeof(*d));
	if (p->node)
		d->n = p->node->nkids;
	else if (ext4fs_readdir(p->im->fs, p->ino, &de, &d->n, e) < 0)
		return e->code;
	d->priv = de;
	d->name = xcalloc(d->n ? d->n : 1, sizeof(*d->name));
	d->at = xcalloc(d->n ? d->n : 1, sizeof(*d->at));
	for (size_t i = 0; i < d->n; i++) {
		d->at[i].im = p->im;
		if (p->node) {
			d->name[i] = p->node->kids[i]->name;
			d->at[i].node = p->node->kids[i];
		} else {
			d->name[i] = de[i].name;
			d->at[i].ino = de[i].ino;
		}
	}
	return 0;
}

void fsimage_dir_release(struct fsimage_dir *d)
{
	if (d->priv)
		ext4fs_dirents_free(d->priv, d->n);
	free(d->name);
	free(d->at);
	memset(d, 0, sizeof(*d));
}

void fsimage_walk_init(struct fsimage_walk *w, struct fsimage *im)
{
	memset(w, 0, sizeof(*w));
	w->links = xcalloc(1, sizeof(*w->links));
	if (im->kind == FSIMAGE_EXT) {
		struct ext4fs_info info;
		ext4fs_info(im->fs, &info);
		w->max = info.inodes;
		w->seen = xcalloc((size_t)info.inodes / 8 + 1, 1);
	}
}

void fsimage_walk_release(struct fsimage_walk *w)
{
	free(w->seen);
	u64map_free(w->links);
	memset(w, 0, sizeof(*w));
}

int fsimage_walk_enter(struct fsimage_walk *w, const struct fsimage_at *p, const char *shown,
		       int depth, struct err *e)
{
	if (depth > 512)
		return err_set(e, CRUMB_EUNSAFE, "%s: directories nested too deep", shown);
	if (!w->seen || p->ino > w->max)
		return 0;
	if (w->seen[p->ino / 8] & (1u << (p->ino % 8)))
		return err_set(e, CRUMB_EUNSAFE,
			       "%s: directory loop: directory inode %u is met twice (e2fsck -f "
			       "repairs it)",
			       shown, p->ino);
	w->seen[p->ino / 8] |= (uint8_t)(1u << (p->ino % 8));
	return 0;
}

int fsimage_walk_first(struct fsimage_walk *w, uint64_t id)
{
	return !(*u64map_slot(w->links, id))++;
}

/* ---- copying into an archive's tree ---- */

/* Hard-link ids of a copied subtree mapped to fresh ids in the destination. */
struct idmap {
	struct {
		uint64_t from, to;
	} * v;
	size_t n;
};

static uint64_t idmap_get(struct idmap *m, struct tree *t, uint64_t from)
{
	if (!from)
		return 0;
	for (size_t i = 0; i < m->n; i++)
		if (m->v[i].from == from)
			return m->v[i].to;
	m->v = xrealloc(m->v, (m->n + 1) * sizeof(*m->v));
	m->v[m->n].from = from;
	m->v[m->n].to = ++t->next_hardlink;
	return m->v[m->n++].to;
}

static char *join(const char *dir, const char *name)
{
	size_t l = strlen(dir);
	return xasprintf("%s%s%s", dir, l && dir[l - 1] == '/' ? "" : "/", name);
}

/* What copying src over old would break. */
static int clone_check(const struct tree_node *old, const struct tree_node *src, const char *path,
		       int depth, struct err *e)
{
	if (depth > 512)
		return err_set(e, CRUMB_EUNSAFE, "%s: directories nested too deep", path);
	if (old && old->type == TREE_DIR && src->type != TREE_DIR)
		return err_set(e, CRUMB_EINVAL, "%s is a directory", path);
	if (old && old->type != TREE_DIR && src->type == TREE_DIR)
		return err_set(e, CRUMB_EINVAL, "%s: cannot put a directory over a non-directory",
			       path);
	return 0;
}

/* Copies src (and below) into im's tree, or scratch t, at path: directories merge, others
 * replace. */
static int clone_into(const struct fsimage *im, struct tree *t, const char *path,
		      const struct tree_node *src, int preserve, struct idmap *ids, int depth,
		      struct err *e)
{
	struct tree_node *n, *old = tree_lookup(t, path, 0);
	int r;
	if ((r = clone_check(old, src, path, depth, e)) < 0 ||
	    (r = tree_add(t, path, src->type, preserve ? src->mode : src->mode & 0777, &n, e)) < 0)
		return r;
	if (src->type != TREE_DIR || !old || preserve) {
		n->uid = preserve ? src->uid : 0;
		n->gid = preserve ? src->gid : 0;
		n->mtime = entry_time(im, preserve ? src->mtime : (int64_t)time(NULL));
	}
	if (preserve)
		for (size_t i = 0; i < src->nxattrs; i++)
			tree_set_xattr(n, src->xattrs[i].name, src->xattrs[i].value,
				       src->xattrs[i].len);
	n->rdev_major = src->rdev_major;
	n->rdev_minor = src->rdev_minor;
	if (src->link) {
		free(n->link);
		n->link = xstrdup(src->link);
	}
	if (src->type == TREE_REG)
		tree_node_copy_content(n, src);
	if (src->type != TREE_DIR)
		n->hardlink = idmap_get(ids, t, src->hardlink);
	for (size_t i = 0; src->type == TREE_DIR && i < src->nkids && !r; i++) {
		char *kp = join(path, src->kids[i]->name);
		r = clone_into(im, t, kp, src->kids[i], preserve, ids, depth + 1, e);
		free(kp);
	}
	return r;
}

int fsimage_read_tree(struct fsimage *im, const char *path, struct tree *t, const char *dest,
		      struct err *e)
{
	if (im->kind == FSIMAGE_EXT)
		return ext4fs_read_tree(im->fs, path, t, dest, e);
	struct tree_node *n = tree_lookup(&im->t, path, 1);
	struct idmap ids = {0};
	if (!n)
		return no_such(im, path, e);
	int r = clone_into(im, t, dest, n, 1, &ids, 0, e);
	free(ids.v);
	return r;
}

static int clamp_node(struct tree_node *n, const char *path, void *ctx)
{
	const struct fsimage *im = ctx;
	(void)path;
	n->mtime = entry_time(im, n->mtime);
	return 0;
}

int fsimage_put(struct fsimage *im, const char *path, const struct tree_node *n, int preserve,
		struct err *e)
{
	if (im->kind == FSIMAGE_EXT)
		return ext4fs_put(im->fs, path, n, preserve ? EXT4FS_PRESERVE : 0, e);
	if (n->type == TREE_REG && n->size > 0xffffffffULL)
		return err_set(e, CRUMB_EUNSUPP, "%s: newc cpio cannot hold a file of %llu bytes",
			       path, (unsigned long long)n->size);
	struct idmap ids = {0};
	int r = 0;
	/* -p keeps times, clamped: n is the caller's own copy, clamped in place */
	struct tree sub = {.root = (struct tree_node *)n};
	tree_walk(&sub, clamp_node, im);
	if (!strcmp(path, "/") || !*path) {
		for (size_t i = 0; n->type == TREE_DIR && i < n->nkids && r >= 0; i++) {
			char *kp = join("/", n->kids[i]->name);
			r = clone_into(im, &im->t, kp, n->kids[i], preserve, &ids, 1, e);
			free(kp);
		}
	} else {
		r = clone_into(im, &im->t, path, n, preserve, &ids, 0, e);
	}
	free(ids.v);
	if (r < 0)
		return r;
	im->dirty = 1;
	return 0;
}

/* ---- namespace edits ---- */

int fsimage_remove(struct fsimage *im, const char *path, int recursive, const char *shown,
		   struct err *e)
{
	if (im->kind == FSIMAGE_EXT)
		return ext4fs_remove(im->fs, path, recursive, e);
	struct tree_node *n = tree_lookup(&im->t, path, 0);
	if (!n)
		return err_set(e, CRUMB_ENOENT, "%s: no such file or directory", shown);
	if (!n->parent)
		return err_set(e, CRUMB_EINVAL, "%s: refusing to remove the root", shown);
	if (n->type == TREE_DIR && n->nkids && !recursive)
		return err_set(e, CRUMB_EINVAL, "%s: directory not empty", shown);
	im->dirty = 1;
	return tree_remove(&im->t, path, e);
}

/* ext: each prefix of path in turn; existing directories are left as they are. */
static int mkdir_parents(struct fsimage *im, const char *path, const struct tree_node *d,
			 struct err *e)
{
	char *p = xstrdup(path);
	int r = 0;
	for (char *s = p + 1; !r; s++) {
		if (*s != '/' && *s)
			continue;
		char c = *s;
		*s = 0;
		r = ext4fs_put(im->fs, p, d, 0, e);
		*s = c;
		if (!c)
			break;
	}
	free(p);
	return r;
}

static int mkdir_ext(struct fsimage *im, const char *path, int parents, struct err *e)
{
	struct tree tmp;
	struct tree_node *d;
	tree_init(&tmp);
	int r = tree_add(&tmp, "/d", TREE_DIR, 0755, &d, e);
	if (r == 0) {
		d->mtime = now_time(im);
		r = parents ? mkdir_parents(im, path, d, e)
			    : ext4fs_put(im->fs, path, d, EXT4FS_EXCL, e);
	}
	tree_release(&tmp);
	return r;
}

int fsimage_mkdir(struct fsimage *im, const char *path, int parents, const char *shown,
		  struct err *e)
{
	if (im->kind == FSIMAGE_EXT)
		return mkdir_ext(im, path, parents, e);
	struct tree_node *n = tree_lookup(&im->t, path, 0);
	if (n && (!parents || n->type != TREE_DIR))
		return err_set(e, CRUMB_EINVAL, "%s: exists", shown);
	char *parent = xstrdup(path), *slash = strrchr(parent, '/');
	if (slash)
		*slash = 0;
	struct tree_node *pn = tree_lookup(&im->t, slash && *parent ? parent : "/", 1);
	free(parent);
	if (!parents && (!pn || pn->type != TREE_DIR))
		return err_set(e, CRUMB_ENOENT, "%s: no such parent directory", shown);
	if (n)
		return 0;
	int r = tree_add(&im->t, path, TREE_DIR, 0755, &n, e);
	if (r < 0)
		return r;
	n->mtime = now_time(im);
	im->dirty = 1;
	return 0;
}

int fsimage_symlink(struct fsimage *im, const char *target, const char *path, const char *shown,
		    struct err *e)
{
	int r;
	if (im->kind == FSIMAGE_EXT) {
		struct tree tmp;
		struct tree_node *n;
		tree_init(&tmp);
		if ((r = tree_add(&tmp, "/l", TREE_LNK, 0777, &n, e)) == 0) {
			n->link = xstrdup(target);
			n->mtime = now_time(im);
			r = ext4fs_put(im->fs, path, n, EXT4FS_EXCL, e);
		}
		tree_release(&tmp);
		return r;
	}
	if (tree_lookup(&im->t, path, 0))
		return err_set(e, CRUMB_EINVAL, "%s: exists", shown);
	if ((r = tree_add_symlink(&im->t, path, target, e)) < 0)
		return r;
	tree_lookup(&im->t, path, 0)->mtime = now_time(im);
	im->dirty = 1;
	return 0;
}

int fsimage_link(struct fsimage *im, const char *target, const char *path, const char *shown,
		 const char *shown_target, struct err *e)
{
	if (im->kind == FSIMAGE_EXT)
		return ext4fs_link(im->fs, target, path, e);
	struct tree_node *src = tree_lookup(&im->t, target, 0);
	if (!src || src->type == TREE_DIR)
		return err_set(e, src ? CRUMB_EINVAL : CRUMB_ENOENT, "%s: %s", shown_target,
			       src ? "is a directory" : "no such file");
	if (tree_lookup(&im->t, path, 0))
		return err_set(e, CRUMB_EINVAL, "%s: exists", shown);
	if (!src->hardlink)
		src->hardlink = ++im->t.next_hardlink;
	struct idmap ids = {0};
	struct tree_node copy = *src;
	copy.hardlink = 0; /* cloned alone, then joined to src's group */
	int r = clone_into(im, &im->t, path, &copy, 1, &ids, 0, e);
	free(ids.v);
	if (r < 0)
		return r;
	tree_lookup(&im->t, path, 0)->hardlink = src->hardlink;
	im->dirty = 1;
	return 0;
}

/* Detaches n from its parent by hand (tree_remove would free it). */
static void detach(struct tree_node *n)
{
	struct tree_node *op = n->parent;
	for (size_t i = 0; i < op->nkids; i++)
		if (op->kids[i] == n) {
			memmove(op->kids + i, op->kids + i + 1, (op->nkids - i - 1) * sizeof(n));
			op->nkids--;
			break;
		}
	n->parent = NULL;
}

/* What would make moving n (at from) to to (old there now) wrong. */
static int move_check(struct tree *t, struct tree_node *n, struct tree_node *old, const char *from,
		      const char *to, struct err *e)
{
	for (struct tree_node *p = old; p; p = p->parent)
		if (p == n)
			return err_set(e, CRUMB_EINVAL, "cannot move %s below itself", from);
	/* check the new parent before detaching anything */
	char *tp = xstrdup(to), *slash = strrchr(tp, '/');
	if (slash)
		*slash = 0;
	struct tree_node *np = tree_lookup(t, slash ? (*tp ? tp : "/") : "/", 1);
	free(tp);
	for (struct tree_node *p = np; p; p = p->parent)
		if (p == n)
			return err_set(e, CRUMB_EINVAL, "cannot move %s below itself", from);
	if (!np || np->type != TREE_DIR)
		return err_set(e, CRUMB_ENOENT, "%s: no such directory", to);
	if (old && (old->type == TREE_DIR) != (n->type == TREE_DIR))
		return err_set(e, CRUMB_EINVAL, "cannot replace %s with %s", to, from);
	if (old && old->type == TREE_DIR && old->nkids)
		return err_set(e, CRUMB_EINVAL, "%s: directory not empty", to);
	return 0;
}

/* rename(2) in a tree: n keeps its identity, only its name and parent change. */
static int tree_move(struct tree *t, const char *from, const char *to, struct err *e)
{
	struct tree_node *n = tree_lookup(t, from, 0), *old = tree_lookup(t, to, 0);
	int r;
	if (!n || !n->parent)
		return err_set(e, CRUMB_ENOENT, "%s: no such file or directory (or the root)",
			       from);
	if (old == n)
		return 0;
	if ((r = move_check(t, n, old, from, to, e)) < 0)
		return r;
	detach(n);
	struct tree_node *slot;
	r = tree_add(t, to, TREE_FIFO, 0, &slot, e); /* a placeholder at the sorted place */
	if (r < 0) {
		tree_release(&(struct tree){n, 0});
		return r;
	}
	struct tree_node *parent = slot->parent;
	for (size_t i = 0; i < parent->nkids; i++)
		if (parent->kids[i] == slot) {
			free(n->name);
			n->name = xstrdup(slot->name);
			parent->kids[i] = n;
			n->parent = parent;
			break;
		}
	slot->parent = NULL;
	tree_release(&(struct tree){slot, 0});
	return 0;
}

int fsimage_rename(struct fsimage *im, const char *from, const char *to, struct err *e)
{
	if (im->kind == FSIMAGE_EXT)
		return ext4fs_rename(im->fs, from, to, e);
	int r = tree_move(&im->t, from, to, e);
	if (r == 0)
		im->dirty = 1;
	return r;
}

/* ---- attributes ---- */

static int attr_ext(struct fsimage *im, const char *path, int own, uint32_t mode, uint32_t uid,
		    uint32_t gid, int keep_gid, struct err *e)
{
	uint32_t ino;
	struct ext4fs_stat st;
	int r = ext4fs_lookup(im->fs, path, 1, &ino, e);
	if (!r && own && keep_gid && !(r = ext4fs_stat(im->fs, ino, &st, e)))
		gid = st.gid;
	if (r < 0)
		return r;
	return own ? ext4fs_chown(im->fs, ino, uid, gid, e) : ext4fs_chmod(im->fs, ino, mode, e);
}

static int attr(struct fsimage *im, const char *path, int own, uint32_t mode, uint32_t uid,
		uint32_t gid, int keep_gid, const char *shown, struct err *e)
{
	if (im->kind == FSIMAGE_EXT)
		return attr_ext(im, path, own, mode, uid, gid, keep_gid, e);
	struct tree_node *n = tree_lookup(&im->t, path, 1);
	if (!n)
		return err_set(e, CRUMB_ENOENT, "%s: no such file or directory", shown);
	if (own) {
		n->uid = uid;
		if (!keep_gid)
			n->gid = gid;
	} else {
		n->mode = mode;
	}
	im->dirty = 1;
	return 0;
}

int fsimage_chmod(struct fsimage *im, const char *path, uint32_t mode, const char *shown,
		  struct err *e)
{
	return attr(im, path, 0, mode, 0, 0, 0, shown, e);
}

int fsimage_chown(struct fsimage *im, const char *path, uint32_t uid, uint32_t gid, int keep_gid,
		  const char *shown, struct err *e)
{
	return attr(im, path, 1, 0, uid, gid, keep_gid, shown, e);
}

/* ---- checking ---- */

int fsimage_fsck(struct fsimage *im, struct fsimage_fsck *f, struct err *e)
{
	f->problems = 0;
	if (im->kind != FSIMAGE_EXT) {
		struct tree_stats st;
		tree_stats(&im->t, &st);
		f->entries = st.nodes - 1;
		return 0;
	}
	int r = ext4fs_fsck(im->fs, &f->report, &f->problems, e);
	struct ext4fs_info info;
	ext4fs_info(im->fs, &info);
	f->inodes = info.inodes;
	f->free_inodes = info.free_inodes;
	f->blocks = info.blocks;
	f->free_blocks = info.free_blocks;
	return r;
}

/* ---- extraction to the host: openat under a directory fd, never following a link ---- */

/* Names of hard-linked files written so far, relative to the top directory. */
struct hostlinks {
	struct {
		uint64_t id;
		char *rel;
	} * v;
	size_t n;
};

/* One extraction: where it started and what it keeps. */
struct xctx {
	int topfd;
	int preserve;
	struct hostlinks hl;
	struct err *e;
};

static int safe_name(const char *name)
{
	return *name && !strchr(name, '/') && strcmp(name, ".") && strcmp(name, "..");
}

static mode_t host_mode(const struct xctx *x, const struct tree_node *n)
{
	return x->preserve ? n->mode & 07777 : n->mode & 0777;
}

/* Owner and times of an open file or directory, with -p. */
static int keep_meta_fd(struct xctx *x, int fd, const struct tree_node *n, const char *path)
{
	int r = 0;
	if (fchown(fd, n->uid, n->gid) < 0 && errno != EPERM)
		r = err_errno(x->e, CRUMB_EIO, "chown %s", path);
	struct timespec ts[2] = {{n->mtime, 0}, {n->mtime, 0}};
	futimens(fd, ts);
	return r;
}

static int extract_node(struct xctx *x, const struct tree_node *n, int dirfd, const char *rel,
			const char *name, int depth);

static int extract_dir(struct xctx *x, const struct tree_node *n, int dirfd, const char *path,
		       const char *name, const struct stat *st, int exists, int depth)
{
	int fd, r = 0;
	if (exists && !S_ISDIR(st->st_mode))
		return err_set(x->e, CRUMB_EUNSAFE,
			       "%s exists and is not a directory (not writing through it)", path);
	if (!exists && mkdirat(dirfd, name, 0700) < 0)
		return err_errno(x->e, CRUMB_EIO, "mkdir %s", path);
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return err_errno(x->e, CRUMB_EIO, "open %s", path);
	for (size_t i = 0; i < n->nkids && !r; i++)
		r = extract_node(x, n->kids[i], fd, path, n->kids[i]->name, depth + 1);
	if (!r && (!exists || x->preserve) && fchmod(fd, host_mode(x, n)) < 0)
		r = err_errno(x->e, CRUMB_EIO, "chmod %s", path);
	if (!r && x->preserve)
		r = keep_meta_fd(x, fd, n, path);
	close(fd);
	return r;
}

/* A regular file's content, extent by extent (holes stay holes). */
static int write_content(struct xctx *x, const struct tree_node *n, int fd, const char *path)
{
	char *buf = xmalloc(1 << 16);
	struct tree_extent whole = {0, n->size};
	const struct tree_extent *ext = n->extents ? n->extents : &whole;
	size_t nx = n->extents ? n->nextents : 1;
	int r = 0;
	if (ftruncate(fd, (off_t)n->size) < 0)
		r = err_errno(x->e, CRUMB_EIO, "%s", path);
	for (size_t i = 0; i < nx && !r; i++)
		for (uint64_t off = ext[i].off; off < ext[i].off + ext[i].len && !r;) {
			uint64_t left = ext[i].off + ext[i].len - off;
			size_t len = left > (1 << 16) ? (1 << 16) : (size_t)left;
			if ((r = tree_read(n, off, buf, len, x->e)) < 0)
				break;
			if (pwrite(fd, buf, len, (off_t)off) != (ssize_t)len)
				r = err_errno(x->e, CRUMB_EIO, "write %s", path);
			off += len;
		}
	free(buf);
	return r;
}

static int extract_file(struct xctx *x, const struct tree_node *n, int dirfd, const char *path,
			const char *name)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_errno(x->e, CRUMB_EIO, "create %s", path);
	int r = write_content(x, n, fd, path);
	if (!r && fchmod(fd, host_mode(x, n)) < 0)
		r = err_errno(x->e, CRUMB_EIO, "chmod %s", path);
	if (!r && x->preserve)
		r = keep_meta_fd(x, fd, n, path);
	if (close(fd) < 0 && !r)
		r = err_errno(x->e, CRUMB_EIO, "write %s", path);
	return r;
}

/* A symlink, device, FIFO or socket; with -p its owner and times (never through it). */
static int extract_special(struct xctx *x, const struct tree_node *n, int dirfd, const char *path,
			   const char *name)
{
	if (n->type == TREE_LNK) {
		if (symlinkat(n->link, dirfd, name) < 0)
			return err_errno(x->e, CRUMB_EIO, "symlink %s", path);
	} else {
		mode_t t = n->type == TREE_CHR	  ? S_IFCHR
			   : n->type == TREE_BLK  ? S_IFBLK
			   : n->type == TREE_FIFO ? S_IFIFO
						  : S_IFSOCK;
		if (mknodat(dirfd, name, t | host_mode(x, n),
			    makedev(n->rdev_major, n->rdev_minor)) < 0)
			return err_errno(x->e, CRUMB_EIO, "mknod %s", path);
	}
	if (!x->preserve)
		return 0;
	if (fchownat(dirfd, name, n->uid, n->gid, AT_SYMLINK_NOFOLLOW) < 0 && errno != EPERM)
		return err_errno(x->e, CRUMB_EIO, "chown %s", path);
	struct timespec ts[2] = {{n->mtime, 0}, {n->mtime, 0}};
	utimensat(dirfd, name, ts, AT_SYMLINK_NOFOLLOW);
	return 0;
}

/* A non-directory: replaces what is there (never writing through it), or links to an
 * earlier name of the same file. */
static int extract_nondir(struct xctx *x, const struct tree_node *n, int dirfd, const char *path,
			  const char *name, const struct stat *st, int exists)
{
	struct hostlinks *hl = &x->hl;
	int r;
	if (exists && S_ISDIR(st->st_mode))
		return err_set(x->e, CRUMB_EINVAL, "%s is a directory", path);
	if (exists && unlinkat(dirfd, name, 0) < 0)
		return err_errno(x->e, CRUMB_EIO, "remove %s", path);
	for (size_t i = 0; n->hardlink && i < hl->n; i++)
		if (hl->v[i].id == n->hardlink) {
			if (linkat(x->topfd, hl->v[i].rel, dirfd, name, 0) < 0)
				return err_errno(x->e, CRUMB_EIO, "link %s", path);
			return 0;
		}
	r = n->type == TREE_REG ? extract_file(x, n, dirfd, path, name)
				: extract_special(x, n, dirfd, path, name);
	if (!r && n->hardlink) {
		hl->v = xrealloc(hl->v, (hl->n + 1) * sizeof(*hl->v));
		hl->v[hl->n].id = n->hardlink;
		hl->v[hl->n].rel = xstrdup(path);
		hl->n++;
	}
	return r;
}

/* Writes n as name in the host directory dirfd (rel: its path from the top). */
static int extract_node(struct xctx *x, const struct tree_node *n, int dirfd, const char *rel,
			const char *name, int depth)
{
	struct stat st;
	int r;
	if (!safe_name(name))
		return err_set(x->e, CRUMB_EUNSAFE, "refusing to write the name '%s' (in %s)", name,
			       rel);
	if (depth > 512)
		return err_set(x->e, CRUMB_EUNSAFE, "%s: directories nested too deep", rel);
	char *path = *rel ? join(rel, name) : xstrdup(name);
	int exists = fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
	if (n->type == TREE_DIR)
		r = extract_dir(x, n, dirfd, path, name, &st, exists, depth);
	else
		r = extract_nondir(x, n, dirfd, path, name, &st, exists);
	free(path);
	return r;
}

int fsimage_extract(const struct tree_node *n, const char *dest, int preserve, struct err *e)
{
	/* open the parent the user named, then never follow a link */
	char *dir = xstrdup(dest), *slash = strrchr(dir, '/');
	const char *name = dest;
	int dirfd, r = 0;
	if (slash) {
		name = dest + (slash - dir) + 1;
		*slash = 0;
		if (slash == dir)
			strcpy(dir, "/");
	} else {
		strcpy(dir, ".");
	}
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		r = err_errno(e, errno == ENOENT ? CRUMB_ENOENT : CRUMB_EIO, "%s", dir);
		free(dir);
		return r;
	}
	struct xctx x = {.topfd = dirfd, .preserve = preserve, .e = e};
	if (!*name && n->type == TREE_DIR) { /* "DEST/": merge into it */
		for (size_t i = 0; i < n->nkids && !r; i++)
			r = extract_node(&x, n->kids[i], dirfd, "", n->kids[i]->name, 1);
	} else {
		r = extract_node(&x, n, dirfd, "", name, 0);
	}
	for (size_t i = 0; i < x.hl.n; i++)
		free(x.hl.v[i].rel);
	free(x.hl.v);
	close(dirfd);
	free(dir);
	return r;
}

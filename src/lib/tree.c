/* tree.c: the in-memory root filesystem: sorted directories, chroot-like path resolution, host
 * import. */
#include "tree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#define MAX_LINKS 40
#define MAX_DEPTH 512
/* A file with more separate data ranges than this is stored in full. */
#define MAX_EXTENTS 65536

static struct tree_node *node_new(const char *name, enum tree_type type, uint32_t mode)
{
	struct tree_node *n = xcalloc(1, sizeof(*n));
	n->name = xstrdup(name);
	n->type = type;
	n->mode = mode & 07777;
	return n;
}

static void node_free(struct tree_node *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->nkids; i++)
		node_free(n->kids[i]);
	tree_clear_xattrs(n);
	free(n->extents);
	free(n->kids);
	free(n->name);
	free(n->link);
	free(n->src_path);
	free(n->data);
	free(n);
}

void tree_init(struct tree *t)
{
	memset(t, 0, sizeof(*t));
	t->root = node_new("", TREE_DIR, 0755);
}

void tree_release(struct tree *t)
{
	node_free(t->root);
	t->root = NULL;
}

/* Binary search in a sorted directory; *pos gets the insertion point. */
static struct tree_node *kid_find(const struct tree_node *dir, const char *name, size_t *pos)
{
	size_t lo = 0, hi = dir->nkids;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(dir->kids[mid]->name, name);
		if (c == 0) {
			if (pos)
				*pos = mid;
			return dir->kids[mid];
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (pos)
		*pos = lo;
	return NULL;
}

static void kid_insert(struct tree_node *dir, struct tree_node *kid, size_t pos)
{
	if (dir->nkids == dir->kids_alloc) {
		dir->kids_alloc = dir->kids_alloc ? dir->kids_alloc * 2 : 4;
		dir->kids = xrealloc(dir->kids, dir->kids_alloc * sizeof(*dir->kids));
	}
	memmove(dir->kids + pos + 1, dir->kids + pos, (dir->nkids - pos) * sizeof(*dir->kids));
	dir->kids[pos] = kid;
	dir->nkids++;
	kid->parent = dir;
}

static void kid_remove(struct tree_node *dir, size_t pos)
{
	node_free(dir->kids[pos]);
	memmove(dir->kids + pos, dir->kids + pos + 1, (dir->nkids - pos - 1) * sizeof(*dir->kids));
	dir->nkids--;
}

/* The next "/"-separated component of rem from *at (empty ones skipped),
 * malloc'd, or NULL at the end; *last says whether it is the final one. */
static char *next_component(const struct sbuf *rem, size_t *at, int *last)
{
	size_t a = *at;
	while (a < rem->len && rem->buf[a] == '/')
		a++;
	if (a >= rem->len) {
		*at = a;
		return NULL;
	}
	size_t end = a;
	while (end < rem->len && rem->buf[end] != '/')
		end++;
	size_t next = end;
	while (next < rem->len && rem->buf[next] == '/')
		next++;
	*last = next >= rem->len;
	*at = end;
	return xstrndup(rem->buf + a, end - a);
}

struct resolved {
	struct tree_node *parent; /* directory holding the last component */
	struct tree_node *node;	  /* the node itself, NULL if absent */
	char *name;		  /* last component (malloc'd), NULL for the root */
};

/*
 * Walks path inside the tree. Symlinks in parent components are always
 * followed (relative to their directory, absolute ones from the root) and
 * ".." stops at the root, so the walk can never leave the tree. With
 * create, missing parents become directories.
 */
static int resolve(const struct tree *t, const char *path, int follow_last, int create,
		   struct resolved *r, struct err *e)
{
	struct sbuf rem = SBUF_INIT;
	struct tree_node *cur = t->root;
	int links = 0, ret = 0;
	size_t at = 0;

	memset(r, 0, sizeof(*r));
	sb_adds(&rem, path);
	r->node = t->root;
	for (;;) {
		int last;
		char *c = next_component(&rem, &at, &last);
		if (!c)
			break;
		if (!strcmp(c, ".") || !strcmp(c, "..")) {
			if (c[1] == '.' && cur->parent)
				cur = cur->parent;
			free(c);
			if (last) {
				r->parent = cur->parent;
				r->node = cur;
				free(r->name);
				r->name = cur->parent ? xstrdup(cur->name) : NULL;
			}
			continue;
		}
		struct tree_node *kid = kid_find(cur, c, NULL);
		if (kid && kid->type == TREE_LNK && (!last || follow_last)) {
			if (++links > MAX_LINKS) {
				ret = err_set(e, CRUMB_EUNSAFE,
					      "%s: too many levels of symbolic links", path);
				free(c);
				goto out;
			}
			path_splice(&rem, &at, kid->link);
			if (kid->link[0] == '/')
				cur = t->root;
			free(c);
			continue;
		}
		if (last) {
			r->parent = cur;
			r->node = kid;
			free(r->name);
			r->name = c;
			break;
		}
		if (!kid) {
			if (!create) {
				r->node = NULL;
				free(c);
				ret =
				    err_set(e, CRUMB_ENOENT, "%s: no such file or directory", path);
				goto out;
			}
			size_t pos;
			kid_find(cur, c, &pos);
			kid = node_new(c, TREE_DIR, 0755);
			kid_insert(cur, kid, pos);
		} else if (kid->type != TREE_DIR) {
			free(c);
			ret = err_set(e, CRUMB_EINVAL, "%s: a parent is not a directory", path);
			goto out;
		}
		free(c);
		cur = kid;
	}
out:
	if (ret) {
		free(r->name);
		r->name = NULL;
	}
	sb_release(&rem);
	return ret;
}

struct tree_node *tree_lookup(const struct tree *t, const char *path, int follow)
{
	struct resolved r;
	if (resolve(t, path, follow, 0, &r, NULL) < 0)
		return NULL;
	free(r.name);
	return r.node;
}

int tree_add(struct tree *t, const char *path, enum tree_type type, uint32_t mode,
	     struct tree_node **out, struct err *e)
{
	struct resolved r;
	int ret = resolve(t, path, 0, 1, &r, e);
	if (ret < 0)
		return ret;
	if (!r.name) { /* the root itself */
		if (type != TREE_DIR)
			return err_set(e, CRUMB_EINVAL, "%s: the root must be a directory", path);
		*out = t->root;
		t->root->mode = mode & 07777;
		return 0;
	}
	size_t pos;
	struct tree_node *old = kid_find(r.parent, r.name, &pos);
	if (old) {
		if (old->type == TREE_DIR && type == TREE_DIR) {
			free(r.name);
			old->mode = mode & 07777;
			*out = old;
			return 0;
		}
		if (old->type == TREE_DIR && old->nkids) {
			free(r.name);
			return err_set(
			    e, CRUMB_EINVAL,
			    "%s: cannot replace a non-empty directory with a non-directory", path);
		}
		kid_remove(r.parent, pos);
	}
	struct tree_node *n = node_new(r.name, type, mode);
	free(r.name);
	kid_insert(r.parent, n, pos);
	*out = n;
	return 0;
}

int tree_add_symlink(struct tree *t, const char *path, const char *target, struct err *e)
{
	struct tree_node *n;
	if (!*target)
		return err_set(e, CRUMB_EINVAL, "%s: empty symlink target", path);
	int r = tree_add(t, path, TREE_LNK, 0777, &n, e);
	if (r < 0)
		return r;
	n->link = xstrdup(target);
	return 0;
}

int tree_add_data(struct tree *t, const char *path, const void *data, size_t len, uint32_t mode,
		  struct err *e)
{
	struct tree_node *n;
	int r = tree_add(t, path, TREE_REG, mode, &n, e);
	if (r < 0)
		return r;
	n->data = xmalloc(len);
	memcpy(n->data, data, len);
	n->size = len;
	return 0;
}

int tree_add_device(struct tree *t, const char *path, enum tree_type type, uint32_t mode,
		    uint32_t major, uint32_t minor, struct err *e)
{
	struct tree_node *n;
	int r = tree_add(t, path, type, mode, &n, e);
	if (r < 0)
		return r;
	n->rdev_major = major;
	n->rdev_minor = minor;
	return 0;
}

int tree_remove(struct tree *t, const char *path, struct err *e)
{
	struct resolved r;
	if (resolve(t, path, 0, 0, &r, NULL) < 0)
		return 0; /* a missing parent: nothing to remove */
	if (!r.name)
		return err_set(e, CRUMB_EINVAL, "%s: cannot remove the root", path);
	size_t pos;
	if (kid_find(r.parent, r.name, &pos))
		kid_remove(r.parent, pos);
	free(r.name);
	return 0;
}

/* Hard links seen during one import: (dev, ino) -> hardlink id. */
struct import {
	struct seen {
		dev_t dev;
		ino_t ino;
		uint64_t id;
	} * seen;
	size_t nseen, alloc;
};

static uint64_t hardlink_id(struct tree *t, struct import *im, const struct stat *st)
{
	for (size_t i = 0; i < im->nseen; i++)
		if (im->seen[i].dev == st->st_dev && im->seen[i].ino == st->st_ino)
			return im->seen[i].id;
	if (im->nseen == im->alloc) {
		im->alloc = im->alloc ? im->alloc * 2 : 16;
		im->seen = xrealloc(im->seen, im->alloc * sizeof(*im->seen));
	}
	uint64_t id = ++t->next_hardlink;
	im->seen[im->nseen++] = (struct seen){st->st_dev, st->st_ino, id};
	return id;
}

/* Records the data ranges of a file with fewer blocks than its size implies. */
static int find_extents(struct tree_node *n, int fd, const char *host, struct err *e)
{
	off_t end = (off_t)n->size, pos = 0;
	size_t alloc = 0;
	while (pos < end) {
		off_t data = lseek(fd, pos, SEEK_DATA);
		if (data < 0) {
			if (errno == ENXIO)
				break; /* only a hole remains */
			if (errno == EINVAL) {
				/* no SEEK_DATA here: store it in full */
				free(n->extents);
				n->extents = NULL;
				n->nextents = 0;
				return 0;
			}
			return err_errno(e, CRUMB_EIO, "seek %s", host);
		}
		off_t hole = lseek(fd, data, SEEK_HOLE);
		if (hole < 0)
			return err_errno(e, CRUMB_EIO, "seek %s", host);
		if (hole > end)
			hole = end;
		if (n->nextents == MAX_EXTENTS) {
			free(n->extents);
			n->extents = NULL;
			n->nextents = 0;
			return 0;
		}
		if (n->nextents == alloc) {
			alloc = alloc ? alloc * 2 : 4;
			n->extents = xrealloc(n->extents, alloc * sizeof(*n->extents));
		}
		n->extents[n->nextents++] =
		    (struct tree_extent){(uint64_t)data, (uint64_t)(hole - data)};
		pos = hole;
	}
	if (!n->extents) /* all hole: an empty list, not "all data" */
		n->extents = xmalloc(sizeof(*n->extents));
	return 0;
}

/* user.* and security.capability survive the trip; other namespaces belong to the host. */
static void copy_xattrs(struct tree_node *n, const char *host)
{
	char names[65536];
	ssize_t len = llistxattr(host, names, sizeof(names));
	for (ssize_t i = 0; len > 0 && i < len; i += (ssize_t)strlen(names + i) + 1) {
		const char *name = names + i;
		if (strncmp(name, "user.", 5) && strcmp(name, "security.capability"))
			continue;
		char value[65536];
		ssize_t vl = lgetxattr(host, name, value, sizeof(value));
		if (vl >= 0)
			tree_set_xattr(n, name, value, (size_t)vl);
	}
}

static int add_host(struct tree *t, struct import *im, const char *host, const char *dest,
		    int depth, struct err *e)
{
	struct stat st;
	struct tree_node *n;
	int r;

	if (depth > MAX_DEPTH)
		return err_set(e, CRUMB_EUNSAFE, "%s: directory nesting too deep", host);
	if (lstat(host, &st) < 0)
		return err_errno(e, errno == ENOENT ? CRUMB_ENOENT : CRUMB_EIO, "%s", host);
	uint32_t mode = st.st_mode & 07777;
	switch (st.st_mode & S_IFMT) {
	case S_IFREG: {
		/* Prove it is readable now, not halfway through writing the image.
		 * O_NONBLOCK: a file swapped for a FIFO since lstat must not block us. */
		int fd = open(host, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			return err_errno(e, CRUMB_EIO, "cannot read %s", host);
		if ((r = tree_add(t, dest, TREE_REG, mode, &n, e)) < 0) {
			close(fd);
			return r;
		}
		n->src_path = xstrdup(host);
		n->size = (uint64_t)st.st_size;
		if (st.st_nlink > 1)
			n->hardlink = hardlink_id(t, im, &st);
		r = (uint64_t)st.st_blocks * 512 < n->size ? find_extents(n, fd, host, e) : 0;
		close(fd);
		if (r < 0)
			return r;
		copy_xattrs(n, host);
		break;
	}
	case S_IFLNK: {
		char buf[PATH_MAX + 1];
		ssize_t len = readlink(host, buf, sizeof(buf) - 1);
		if (len < 0)
			return err_errno(e, CRUMB_EIO, "readlink %s", host);
		buf[len] = 0;
		if ((r = tree_add(t, dest, TREE_LNK, 0777, &n, e)) < 0)
			return r;
		n->link = xstrdup(buf);
		break;
	}
	case S_IFCHR:
	case S_IFBLK:
		if ((r = tree_add(t, dest, S_ISCHR(st.st_mode) ? TREE_CHR : TREE_BLK, mode, &n,
				  e)) < 0)
			return r;
		n->rdev_major = major(st.st_rdev);
		n->rdev_minor = minor(st.st_rdev);
		break;
	case S_IFIFO:
	case S_IFSOCK:
		if ((r = tree_add(t, dest, S_ISFIFO(st.st_mode) ? TREE_FIFO : TREE_SOCK, mode, &n,
				  e)) < 0)
			return r;
		break;
	case S_IFDIR: {
		if ((r = tree_add(t, dest, TREE_DIR, mode, &n, e)) < 0)
			return r;
		n->mtime = st.st_mtime;
		copy_xattrs(n, host);
		struct strlist names = STRLIST_INIT;
		r = dir_list(host, &names, e);
		for (size_t i = 0; i < names.n && !r; i++) {
			char *h = xasprintf("%s/%s", host, names.v[i]);
			char *g = xasprintf("%s/%s", dest, names.v[i]);
			r = add_host(t, im, h, g, depth + 1, e);
			free(h);
			free(g);
		}
		strlist_release(&names);
		return r;
	}
	default:
		return err_set(e, CRUMB_EUNSUPP, "%s: unsupported file type", host);
	}
	n->mtime = st.st_mtime;
	return 0;
}

int tree_add_host(struct tree *t, const char *hostpath, const char *dest, struct err *e)
{
	struct import im = {0};
	int r = add_host(t, &im, hostpath, dest, 0, e);
	free(im.seen);
	return r;
}

int tree_add_host_follow(struct tree *t, const char *hostpath, struct err *e)
{
	struct sbuf rem = SBUF_INIT, cur = SBUF_INIT;
	int links = 0, r = 0;
	size_t at = 0;

	if (hostpath[0] != '/')
		return err_set(e, CRUMB_EINVAL, "%s: not an absolute path", hostpath);
	sb_adds(&rem, hostpath);
	for (;;) {
		int last;
		char *c = next_component(&rem, &at, &last);
		if (!c)
			break;
		if (!strcmp(c, ".")) {
			free(c);
			continue;
		}
		if (!strcmp(c, "..")) {
			char *slash = strrchr(cur.buf, '/');
			if (slash) {
				cur.len = (size_t)(slash - cur.buf);
				cur.buf[cur.len] = 0;
			}
			free(c);
			continue;
		}
		size_t keep = cur.len;
		sb_addc(&cur, '/');
		sb_adds(&cur, c);
		free(c);
		struct stat st;
		if (lstat(cur.buf, &st) < 0) {
			r = err_errno(e, errno == ENOENT ? CRUMB_ENOENT : CRUMB_EIO, "%s", cur.buf);
			break;
		}
		if (S_ISLNK(st.st_mode)) {
			char buf[PATH_MAX + 1];
			ssize_t len = readlink(cur.buf, buf, sizeof(buf) - 1);
			if (len <= 0) {
				r = err_errno(e, CRUMB_EIO, "readlink %s", cur.buf);
				break;
			}
			buf[len] = 0;
			if (++links > MAX_LINKS) {
				r = err_set(e, CRUMB_EUNSAFE,
					    "%s: too many levels of symbolic links", hostpath);
				break;
			}
			struct tree_node *old = tree_lookup(t, cur.buf, 0);
			if (!old || old->type != TREE_LNK || strcmp(old->link, buf))
				if ((r = tree_add_symlink(t, cur.buf, buf, e)) < 0)
					break;
			path_splice(&rem, &at, buf);
			cur.len = buf[0] == '/' ? 0 : keep;
			cur.buf[cur.len] = 0;
			continue;
		}
		if (last) {
			r = tree_add_host(t, cur.buf, cur.buf, e);
			break;
		}
		if (!S_ISDIR(st.st_mode)) {
			r = err_set(e, CRUMB_EINVAL, "%s: not a directory", cur.buf);
			break;
		}
		struct tree_node *d = tree_lookup(t, cur.buf, 0);
		if (!d) {
			if ((r = tree_add(t, cur.buf, TREE_DIR, st.st_mode, &d, e)) < 0)
				break;
			d->mtime = st.st_mtime;
		}
	}
	sb_release(&rem);
	sb_release(&cur);
	return r;
}

int tree_read(const struct tree_node *n, uint64_t off, void *buf, size_t len, struct err *e)
{
	if (n->type != TREE_REG || off > n->size || len > n->size - off)
		return err_set(e, CRUMB_EINVAL, "read past the end of a file");
	if (n->extents) {
		/* zeros, then copy in the data ranges that overlap */
		memset(buf, 0, len);
		for (size_t i = 0; i < n->nextents; i++) {
			uint64_t a = n->extents[i].off, b = a + n->extents[i].len;
			if (b <= off || a >= off + len)
				continue;
			uint64_t from = a > off ? a : off, to = b < off + len ? b : off + len;
			struct tree_node plain = *n;
			plain.extents = NULL;
			int r = tree_read(&plain, from, (char *)buf + (from - off), to - from, e);
			if (r < 0)
				return r;
		}
		return 0;
	}
	if (n->data) {
		memcpy(buf, (const char *)n->data + off, len);
		return 0;
	}
	if (n->reader)
		return n->reader->read(n->reader->ctx, n->reader_ref, off, buf, len, e);
	if (!n->src_path) {
		if (len)
			return err_set(e, CRUMB_EINVAL, "a file without content");
		return 0;
	}
	int fd = open(n->src_path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return err_errno(e, CRUMB_EIO, "cannot read %s", n->src_path);
	size_t done = 0;
	while (done < len) {
		ssize_t got =
		    pread(fd, (char *)buf + done, len - done, (off_t)(n->src_off + off + done));
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			int r = got < 0 ? err_errno(e, CRUMB_EIO, "read %s", n->src_path)
					: err_set(e, CRUMB_EIO, "%s shrank while being read",
						  n->src_path);
			close(fd);
			return r;
		}
		done += (size_t)got;
	}
	close(fd);
	return 0;
}

void tree_set_xattr(struct tree_node *n, const char *name, const void *value, size_t len)
{
	struct tree_xattr *x = NULL;
	for (size_t i = 0; i < n->nxattrs; i++)
		if (!strcmp(n->xattrs[i].name, name))
			x = &n->xattrs[i];
	if (!x) {
		n->xattrs = xrealloc(n->xattrs, (n->nxattrs + 1) * sizeof(*n->xattrs));
		x = &n->xattrs[n->nxattrs++];
		x->name = xstrdup(name);
	} else {
		free(x->value);
	}
	x->value = xmalloc(len);
	memcpy(x->value, value, len);
	x->len = len;
}

char *tree_path(const struct tree_node *n)
{
	if (!n->parent)
		return xstrdup("/");
	char *p = tree_path(n->parent);
	char *full = xasprintf("%s/%s", strcmp(p, "/") ? p : "", n->name);
	free(p);
	return full;
}

static int walk(struct tree_node *n, struct sbuf *path, tree_walk_fn fn, void *ctx)
{
	int r = fn(n, path->buf, ctx);
	if (r || n->type != TREE_DIR)
		return r;
	size_t keep = path->len;
	for (size_t i = 0; i < n->nkids; i++) {
		if (keep)
			sb_addc(path, '/');
		sb_adds(path, n->kids[i]->name);
		r = walk(n->kids[i], path, fn, ctx);
		path->len = keep;
		path->buf[keep] = 0;
		if (r)
			return r;
	}
	return 0;
}

int tree_walk(struct tree *t, tree_walk_fn fn, void *ctx)
{
	struct sbuf path = SBUF_INIT;
	sb_grow(&path, 256);
	int r = walk(t->root, &path, fn, ctx);
	sb_release(&path);
	return r;
}

static void stats(const struct tree_node *n, struct tree_stats *st)
{
	st->nodes++;
	if (n->type == TREE_REG)
		st->bytes += n->size;
	for (size_t i = 0; i < n->nkids; i++)
		stats(n->kids[i], st);
}

void tree_stats(const struct tree *t, struct tree_stats *st)
{
	memset(st, 0, sizeof(*st));
	stats(t->root, st);
}

void tree_node_copy_meta(struct tree_node *dst, const struct tree_node *src)
{
	dst->mode = src->mode;
	dst->uid = src->uid;
	dst->gid = src->gid;
	dst->mtime = src->mtime;
	dst->rdev_major = src->rdev_major;
	dst->rdev_minor = src->rdev_minor;
	tree_clear_xattrs(dst);
	for (size_t i = 0; i < src->nxattrs; i++)
		tree_set_xattr(dst, src->xattrs[i].name, src->xattrs[i].value, src->xattrs[i].len);
}

void tree_node_copy_content(struct tree_node *dst, const struct tree_node *src)
{
	free(dst->src_path);
	free(dst->data);
	free(dst->extents);
	dst->data = NULL;
	dst->extents = NULL;
	dst->nextents = 0;
	if (src->data) {
		dst->data = xmalloc(src->size ? src->size : 1);
		memcpy(dst->data, src->data, src->size);
	}
	if (src->extents) {
		dst->extents = xmalloc((src->nextents ? src->nextents : 1) * sizeof(*src->extents));
		memcpy(dst->extents, src->extents, src->nextents * sizeof(*src->extents));
		dst->nextents = src->nextents;
	}
	dst->src_path = src->src_path ? xstrdup(src->src_path) : NULL;
	dst->src_off = src->src_off;
	dst->size = src->size;
	dst->reader = src->reader;
	dst->reader_ref = src->reader_ref;
}

/* Maps the source tree's hard-link ids to fresh ones in the destination. */
struct copy_map {
	uint64_t *from, *to;
	size_t n;
};

static uint64_t map_hardlink(struct tree *to, struct copy_map *m, uint64_t id)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->from[i] == id)
			return m->to[i];
	m->from = xrealloc(m->from, (m->n + 1) * sizeof(*m->from));
	m->to = xrealloc(m->to, (m->n + 1) * sizeof(*m->to));
	m->from[m->n] = id;
	m->to[m->n] = ++to->next_hardlink;
	return m->to[m->n++];
}

static int copy_node(struct tree *to, struct sbuf *dest, const struct tree_node *s,
		     struct copy_map *m, int flags, int depth, struct err *e)
{
	struct tree_node *n;
	int r;
	if ((flags & TREE_COPY_KEEP_DIRS) && s->type == TREE_DIR &&
	    (n = tree_lookup(to, dest->buf, 1)) && n->type == TREE_DIR) {
		r = 0;
		goto kids;
	}
	if (depth > 512)
		return err_set(e, CRUMB_EUNSAFE, "%s: directories nested too deep", dest->buf);
	if (s->type == TREE_LNK)
		r = tree_add_symlink(to, dest->buf, s->link, e);
	else if (s->type == TREE_CHR || s->type == TREE_BLK)
		r = tree_add_device(to, dest->buf, s->type, s->mode, s->rdev_major, s->rdev_minor,
				    e);
	else
		r = tree_add(to, dest->buf, s->type, s->mode, &n, e);
	if (r < 0)
		return r;
	if (!(n = tree_lookup(to, dest->buf, 0)))
		return err_set(e, CRUMB_EIO, "%s: vanished while copying", dest->buf);
	tree_node_copy_meta(n, s);
	if (s->type == TREE_REG) {
		tree_node_copy_content(n, s);
		n->hardlink = s->hardlink ? map_hardlink(to, m, s->hardlink) : 0;
	}
	if (s->type != TREE_DIR)
		return 0;
kids:;
	size_t len = dest->len;
	for (size_t i = 0; r == 0 && i < s->nkids; i++) {
		if (len > 1 || dest->buf[0] != '/')
			sb_addc(dest, '/');
		sb_adds(dest, s->kids[i]->name);
		r = copy_node(to, dest, s->kids[i], m, flags, depth + 1, e);
		dest->len = len;
		dest->buf[len] = 0;
	}
	return r;
}

int tree_copy(struct tree *to, const char *dest, const struct tree *from, const char *src,
	      int flags, struct err *e)
{
	const struct tree_node *s = tree_lookup(from, src, flags & TREE_COPY_FOLLOW);
	if (!s)
		return err_set(e, CRUMB_ENOENT, "%s: no such file or directory", src);
	struct sbuf d = SBUF_INIT;
	struct copy_map m = {0};
	sb_adds(&d, dest);
	int r = copy_node(to, &d, s, &m, flags, 0, e);
	sb_release(&d);
	free(m.from);
	free(m.to);
	return r;
}

void tree_clear_xattrs(struct tree_node *n)
{
	for (size_t i = 0; i < n->nxattrs; i++) {
		free(n->xattrs[i].name);
		free(n->xattrs[i].value);
	}
	free(n->xattrs);
	n->xattrs = NULL;
	n->nxattrs = 0;
}

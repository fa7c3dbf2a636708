/* import.c: archive -> tree through libarchive (tar, cpio, .deb, OCI layers), bounded and confined.
 */
#include "import.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "archive.h"
#include "vread.h"

#define MAX_COMPONENTS 256
#define MAX_NAME 255
#define MAX_PATH 4096
#define MAX_DEPTH 512
#define MAX_XATTR 65536
/* Past this many data ranges a sparse member is kept as plain (it is held
 * at full size anyway, so the extents are only an optimisation). */
#define MAX_EXTENTS 65536
/* What a member costs beyond its content (node, name, bookkeeping), so an
 * archive of millions of empty members is bounded too. */
#define NODE_COST 256

/* A set of canonical tree paths (open addressing): what this archive made. */
struct pathset {
	char **keys;
	size_t n, cap;
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static int set_has(const struct pathset *s, const char *k)
{
	if (!s->cap)
		return 0;
	for (size_t i = hash_str(k) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
		if (!s->keys[i])
			return 0;
		if (!strcmp(s->keys[i], k))
			return 1;
	}
}

/* Takes ownership of k. */
static void set_add_owned(struct pathset *s, char *k)
{
	if (set_has(s, k)) {
		free(k);
		return;
	}
	if ((s->n + 1) * 2 > s->cap) {
		struct pathset g = {xcalloc(s->cap ? s->cap * 2 : 64, sizeof(char *)), 0,
				    s->cap ? s->cap * 2 : 64};
		for (size_t i = 0; i < s->cap; i++)
			if (s->keys[i])
				set_add_owned(&g, s->keys[i]);
		free(s->keys);
		*s = g;
	}
	size_t i = hash_str(k) & (s->cap - 1);
	while (s->keys[i])
		i = (i + 1) & (s->cap - 1);
	s->keys[i] = k;
	s->n++;
}

static void set_release(struct pathset *s)
{
	for (size_t i = 0; i < s->cap; i++)
		free(s->keys[i]);
	free(s->keys);
	memset(s, 0, sizeof(*s));
}

struct imp {
	struct tree *t;
	const char *apath; /* the archive as the caller named it, for messages */
	char *src;	   /* its real path, for referenced content */
	uint64_t fsize;
	struct import_opts *o;
	struct err *e;
	struct tree_node *dest;
	char *destpath;	       /* canonical, for messages */
	struct strlist dest_c; /* its components */
	uint64_t budget, used;
	struct pathset seen;	/* canonical paths this archive created or passed through */
	uint64_t hl_base;	/* hardlink ids above this one were handed out here */
	struct strlist *groups; /* per id (minus hl_base + 1): the names of that file */
	size_t ngroups;
	char shown[256]; /* the current member's name, printable, for messages */
};

/* A member name fit for a one-line message: control bytes become '?'. */
static void set_shown(struct imp *im, const char *name)
{
	size_t i = 0;
	for (; name && name[i] && i < sizeof(im->shown) - 4; i++) {
		unsigned char c = (unsigned char)name[i];
		im->shown[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	im->shown[i] = 0;
	if (name && name[i])
		strcpy(im->shown + i, "...");
}

static size_t depth(const struct tree_node *n)
{
	size_t d = 0;
	for (; n->parent; n = n->parent)
		d++;
	return d;
}

static int within(const struct tree_node *n, const struct tree_node *d)
{
	for (; n; n = n->parent)
		if (n == d)
			return 1;
	return 0;
}

/*
 * Splits a member name into components, dropping "/" runs and "." and
 * resolving ".." by name, clamped at the archive's root. Bounded so a
 * hostile name cannot make the tree deep or the paths huge.
 */
static int split_name(struct imp *im, const char *name, struct strlist *c)
{
	size_t len = strlen(name);
	if (len > MAX_PATH)
		return err_set(im->e, CRUMB_EUNSAFE, "%s: %s: name longer than %d bytes", im->apath,
			       im->shown, MAX_PATH);
	for (const char *p = name; *p;) {
		while (*p == '/')
			p++;
		const char *end = p;
		while (*end && *end != '/')
			end++;
		size_t n = (size_t)(end - p);
		if (n == 0 || (n == 1 && p[0] == '.')) {
		} else if (n == 2 && p[0] == '.' && p[1] == '.') {
			if (c->n)
				free(c->v[--c->n]);
		} else if (n > MAX_NAME) {
			return err_set(im->e, CRUMB_EUNSAFE,
				       "%s: %s: a name part is longer than %d bytes", im->apath,
				       im->shown, MAX_NAME);
		} else {
			if (c->n == MAX_COMPONENTS)
				return err_set(im->e, CRUMB_EUNSAFE,
					       "%s: %s: more than %d components", im->apath,
					       im->shown, MAX_COMPONENTS);
			strlist_push_owned(c, xstrndup(p, n));
		}
		p = end;
	}
	return 0;
}

/* "/c1/.../ck" ("/" when k is 0). */
static char *join(const struct strlist *c, size_t k)
{
	struct sbuf sb = SBUF_INIT;
	for (size_t i = 0; i < k; i++) {
		sb_addc(&sb, '/');
		sb_adds(&sb, c->v[i]);
	}
	if (!sb.len)
		sb_addc(&sb, '/');
	return sb_detach(&sb);
}

/* The member's components from the tree's root: dest's, then its own. */
static void absolute(const struct imp *im, const struct strlist *c, struct strlist *abs)
{
	for (size_t i = 0; i < im->dest_c.n; i++)
		strlist_push(abs, im->dest_c.v[i]);
	for (size_t i = 0; i < c->n; i++)
		strlist_push(abs, c->v[i]);
}

static void remember(struct imp *im, const struct tree_node *n)
{
	set_add_owned(&im->seen, tree_path(n));
}

/*
 * Resolves the directory at the first k components of the absolute list c,
 * one component at a time, so each step is checked before anything is
 * created: a directory is only made inside dest and not too deep. A symlink
 * whose target does not exist yet (link -> /etc before any etc/ member) has
 * its target made, like mkdir -p through it would, inside the tree; at most
 * 40 links deep. With create 0, a missing directory gives *out = NULL.
 */
static int resolve_dir(struct imp *im, const struct strlist *c, size_t k, int create, int links,
		       struct tree_node **out)
{
	struct tree_node *cur = im->t->root;
	int r = 0;
	*out = NULL;
	for (size_t i = 1; i <= k && r >= 0; i++) {
		char *p = join(c, i);
		struct tree_node *n = tree_lookup(im->t, p, 1), *l;
		if (!n && (l = tree_lookup(im->t, p, 0)) && l->type == TREE_LNK) {
			if (!create) {
				free(p);
				return 0;
			}
			if (links >= 40) {
				free(p);
				return err_set(im->e, CRUMB_EUNSAFE,
					       "%s: %s: too many levels of symbolic links",
					       im->apath, im->shown);
			}
			/* the link's target, by name, from the directory holding it */
			struct strlist tc = STRLIST_INIT;
			if (l->link[0] != '/')
				for (size_t j = 0; j + 1 < i; j++)
					strlist_push(&tc, c->v[j]);
			r = split_name(im, l->link, &tc);
			if (r >= 0 && tc.n)
				r = resolve_dir(im, &tc, tc.n, create, links + 1, &n);
			strlist_release(&tc);
			if (r >= 0)
				n = tree_lookup(im->t, p, 1);
			if (r >= 0 && !n)
				r = err_set(im->e, CRUMB_EUNSAFE,
					    "%s: %s: parent %s is a symlink that leads nowhere",
					    im->apath, im->shown, p);
		} else if (!n) {
			if (!create) {
				free(p);
				return 0;
			}
			if (!within(cur, im->dest))
				r = err_set(im->e, CRUMB_EUNSAFE, "%s: %s: %s would be outside %s",
					    im->apath, im->shown, p, im->destpath);
			else if (depth(cur) + 1 > MAX_DEPTH)
				r = err_set(im->e, CRUMB_EUNSAFE, "%s: %s: nested deeper than %d",
					    im->apath, im->shown, MAX_DEPTH);
			else
				r = tree_add(im->t, p, TREE_DIR, 0755, &n, im->e);
		}
		if (r >= 0 && n->type != TREE_DIR)
			r = err_set(im->e, CRUMB_EFORMAT, "%s: %s: %s is not a directory",
				    im->apath, im->shown, p);
		free(p);
		if (r < 0)
			return r;
		if (im->o->whiteouts)
			remember(im, n);
		cur = n;
	}
	*out = cur;
	return 0;
}

/*
 * The directory that will hold the member's last component: it must end
 * up inside dest (a member may pass through a symlink leading elsewhere
 * and back, but not land outside) with room for one more level.
 */
static int parent_dir(struct imp *im, const struct strlist *c, int create, struct tree_node **out)
{
	struct strlist abs = STRLIST_INIT;
	absolute(im, c, &abs);
	int r = resolve_dir(im, &abs, abs.n - 1, create, 0, out);
	strlist_release(&abs);
	if (r < 0 || !*out)
		return r;
	if (!within(*out, im->dest)) {
		char *p = tree_path(*out);
		r = err_set(im->e, CRUMB_EUNSAFE, "%s: %s: leads to %s, outside %s", im->apath,
			    im->shown, p, im->destpath);
		free(p);
		*out = NULL;
		return r;
	}
	if (depth(*out) + 1 > MAX_DEPTH) {
		*out = NULL;
		return err_set(im->e, CRUMB_EUNSAFE, "%s: %s: nested deeper than %d", im->apath,
			       im->shown, MAX_DEPTH);
	}
	return 0;
}

/* The member's own path, from the tree's root. */
static char *member_path(const struct imp *im, const struct strlist *c)
{
	struct strlist abs = STRLIST_INIT;
	absolute(im, c, &abs);
	char *p = join(&abs, abs.n);
	strlist_release(&abs);
	return p;
}

static int charge(struct imp *im, uint64_t n)
{
	if (n > im->budget - im->used)
		return err_set(im->e, CRUMB_EUNSAFE,
			       "%s: %s: the archive expands past the limit of %llu bytes",
			       im->apath, im->shown, (unsigned long long)im->budget);
	im->used += n;
	return 0;
}

static void free_content(struct tree_node *n)
{
	free(n->src_path);
	free(n->data);
	free(n->extents);
	n->src_path = NULL;
	n->data = NULL;
	n->extents = NULL;
	n->nextents = 0;
	n->size = n->src_off = 0;
	n->reader = NULL;
	n->reader_ref = 0;
}

/* dst gets its own copy of src's content (any kind); owned bytes are charged. */
static int copy_content(struct imp *im, struct tree_node *dst, const struct tree_node *src)
{
	int r = src->data ? charge(im, src->size) : 0;
	if (r == 0)
		tree_node_copy_content(dst, src);
	return r;
}

/* Hands src's content to dst (already charged once). */
static void move_content(struct tree_node *dst, struct tree_node *src)
{
	free_content(dst);
	dst->src_path = src->src_path;
	dst->src_off = src->src_off;
	dst->size = src->size;
	dst->data = src->data;
	dst->extents = src->extents;
	dst->nextents = src->nextents;
	dst->reader = src->reader;
	dst->reader_ref = src->reader_ref;
	src->src_path = NULL;
	src->data = NULL;
	src->extents = NULL;
	free_content(src);
}

static int set_meta(struct imp *im, struct archive_entry *ent, struct tree_node *n)
{
	n->mode = archive_entry_perm(ent) & 07777;
	tree_clear_xattrs(n); /* the entry is the whole truth about this node */
	n->mtime = archive_entry_mtime(ent);
	if (im->o->keep_owner) {
		int64_t uid = archive_entry_uid(ent), gid = archive_entry_gid(ent);
		if (uid < 0 || uid > UINT32_MAX || gid < 0 || gid > UINT32_MAX)
			return err_set(im->e, CRUMB_EFORMAT, "%s: %s: owner %lld:%lld out of range",
				       im->apath, im->shown, (long long)uid, (long long)gid);
		n->uid = (uint32_t)uid;
		n->gid = (uint32_t)gid;
	} else {
		n->uid = n->gid = 0;
	}
	const char *name;
	const void *value;
	size_t size;
	archive_entry_xattr_reset(ent);
	while (archive_entry_xattr_next(ent, &name, &value, &size) == ARCHIVE_OK) {
		/* Only names a Linux filesystem can hold; anything else (a bare
		 * name, another OS's namespace) has no meaning in the guest. */
		if (!name || strlen(name) > MAX_NAME ||
		    (strncmp(name, "user.", 5) && strncmp(name, "trusted.", 8) &&
		     strncmp(name, "security.", 9) && strncmp(name, "system.", 7)))
			continue;
		if (size > MAX_XATTR)
			return err_set(im->e, CRUMB_EUNSAFE, "%s: %s: xattr %s of %zu bytes",
				       im->apath, im->shown, name, size);
		int r = charge(im, size + strlen(name));
		if (r < 0)
			return r;
		tree_set_xattr(n, name, value ? value : "", value ? size : 0);
	}
	return 0;
}

static int data_error(struct imp *im, struct archive *a)
{
	return err_set(im->e, CRUMB_EFORMAT, "%s: %s: %s", im->apath, im->shown,
		       archive_error_string(a) ? archive_error_string(a) : "unreadable data");
}

/*
 * The member's content: referenced in place when the archive is not
 * compressed (can_ref) and the bytes are contiguous, else copied, holes of a
 * sparse member recorded as extents.
 */
static int read_content(struct imp *im, struct archive *a, struct archive_entry *ent,
			struct tree_node *n, int can_ref, uint64_t base)
{
	if (!archive_entry_size_is_set(ent) || archive_entry_size(ent) < 0)
		return err_set(im->e, CRUMB_EFORMAT, "%s: %s: no valid size", im->apath, im->shown);
	uint64_t size = (uint64_t)archive_entry_size(ent);
	free_content(n);
	if (size > im->budget)
		return err_set(im->e, CRUMB_EUNSAFE,
			       "%s: %s: declares %llu bytes, more than the limit of %llu",
			       im->apath, im->shown, (unsigned long long)size,
			       (unsigned long long)im->budget);
	n->size = size;
	if (!size)
		return 0;
	int sparse = archive_entry_sparse_count(ent) > 0;
	if (can_ref && !sparse) {
		int64_t pos = archive_filter_bytes(a, 0);
		if (pos < 0)
			return data_error(im, a);
		uint64_t off = base + (uint64_t)pos;
		if (off > im->fsize || size > im->fsize - off)
			return err_set(im->e, CRUMB_EFORMAT,
				       "%s: %s: truncated archive (member data ends past the end)",
				       im->apath, im->shown);
		n->src_path = xstrdup(im->src);
		n->src_off = off;
		return 0;
	}
	int r = charge(im, size);
	if (r < 0)
		return r;
	/* calloc: for a sparse member the holes stay untouched zero pages */
	char *buf = calloc(1, size);
	if (!buf)
		return err_set(im->e, CRUMB_EUNSAFE, "%s: %s: cannot hold %llu bytes in memory",
			       im->apath, im->shown, (unsigned long long)size);
	n->data = buf;
	struct tree_extent *ext = NULL;
	size_t next = 0, alloc = 0;
	uint64_t covered = 0;
	for (;;) {
		const void *blk;
		size_t len;
		la_int64_t off;
		int ar = archive_read_data_block(a, &blk, &len, &off);
		if (ar == ARCHIVE_EOF)
			break;
		if (ar < ARCHIVE_WARN) {
			free(ext);
			return data_error(im, a);
		}
		if (!len)
			continue;
		if (off < 0 || (uint64_t)off > size || len > size - (uint64_t)off) {
			free(ext);
			return err_set(im->e, CRUMB_EFORMAT,
				       "%s: %s: data beyond its declared size", im->apath,
				       im->shown);
		}
		memcpy(buf + off, blk, len);
		covered += len;
		if (next && ext[next - 1].off + ext[next - 1].len == (uint64_t)off) {
			ext[next - 1].len += len;
		} else if (next < MAX_EXTENTS) {
			if (next == alloc) {
				alloc = alloc ? alloc * 2 : 4;
				ext = xrealloc(ext, alloc * sizeof(*ext));
			}
			ext[next++] = (struct tree_extent){(uint64_t)off, len};
		} else {
			alloc = SIZE_MAX; /* too fragmented: keep it plain */
		}
	}
	if (!sparse) {
		free(ext);
		if (covered != size)
			return err_set(im->e, CRUMB_EFORMAT,
				       "%s: %s: truncated archive (%llu of %llu bytes)", im->apath,
				       im->shown, (unsigned long long)covered,
				       (unsigned long long)size);
		return 0;
	}
	if (alloc == SIZE_MAX || (next == 1 && ext[0].off == 0 && ext[0].len == size)) {
		free(ext);
		return 0;
	}
	n->extents = ext ? ext : xmalloc(sizeof(*ext)); /* all hole: an empty list */
	n->nextents = next;
	return 0;
}

/* Adds a node of type at the member's place, replacing what was there. */
static int place(struct imp *im, const struct strlist *c, enum tree_type type, uint32_t mode,
		 struct tree_node **out)
{
	struct tree_node *parent;
	int r = parent_dir(im, c, 1, &parent);
	if (r < 0)
		return r;
	char *p = member_path(im, c);
	struct tree_node *old = tree_lookup(im->t, p, 0);
	/* A later member wins, even over a non-empty directory (an OCI layer
	 * may replace a directory of a lower layer by a file). */
	if (old && old->type == TREE_DIR && type != TREE_DIR && old->nkids)
		r = tree_remove(im->t, p, im->e);
	if (r >= 0)
		r = tree_add(im->t, p, type, mode, out, im->e);
	free(p);
	if (r < 0)
		return r;
	remember(im, *out);
	return 0;
}

static void group_add(struct imp *im, uint64_t id, const struct tree_node *n)
{
	size_t i = (size_t)(id - im->hl_base - 1);
	if (i >= im->ngroups) {
		size_t nn = i + 16 > im->ngroups * 2 ? i + 16 : im->ngroups * 2; /* not quadratic */
		im->groups = xrealloc(im->groups, nn * sizeof(*im->groups));
		memset(im->groups + im->ngroups, 0, (nn - im->ngroups) * sizeof(*im->groups));
		im->ngroups = nn;
	}
	strlist_push_owned(&im->groups[i], tree_path(n));
}

/*
 * A hard link: the new name shares the target's hardlink id, metadata and
 * content (tree nodes hold their content each). When the link carries the
 * data itself (newc puts it on the last name), every name gets it.
 */
static int add_hardlink(struct imp *im, struct archive *a, struct archive_entry *ent,
			const struct strlist *c, const char *target, int can_ref, uint64_t base)
{
	struct strlist tc = STRLIST_INIT;
	struct tree_node snap = {0}, *n;
	char *tp = NULL, *canon = NULL;
	int r = split_name(im, target, &tc);
	if (r < 0)
		goto out;
	tp = member_path(im, &tc);
	struct tree_node *tn = tc.n ? tree_lookup(im->t, tp, 0) : NULL;
	canon = tn ? tree_path(tn) : NULL;
	if (!tn || !set_has(&im->seen, canon) || tn->type == TREE_DIR) {
		r = err_set(im->e, CRUMB_EFORMAT, "%s: %s: hard link to %s, %s", im->apath,
			    im->shown, tp,
			    tn && tn->type == TREE_DIR ? "a directory"
						       : "which is not earlier in the archive");
		goto out;
	}
	char *self = member_path(im, c);
	int same = tree_lookup(im->t, self, 0) == tn;
	free(self);
	uint64_t id = 0;
	if (tn->type == TREE_REG) {
		if (!tn->hardlink) {
			tn->hardlink = ++im->t->next_hardlink;
			group_add(im, tn->hardlink, tn);
		}
		id = tn->hardlink;
		if (id <= im->hl_base || id > im->t->next_hardlink) {
			r = err_set(im->e, CRUMB_EFORMAT, "%s: %s: inconsistent hard link",
				    im->apath, im->shown);
			goto out;
		}
	}
	enum tree_type type = tn->type;
	if (same) {
		n = tn;
	} else {
		/* Snapshot first: placing the new name may remove the target
		 * (a directory replaced by its own descendant's link). */
		tree_node_copy_meta(&snap, tn);
		if ((r = copy_content(im, &snap, tn)) < 0)
			goto out;
		snap.link = tn->link ? xstrdup(tn->link) : NULL;
		if ((r = charge(im, NODE_COST)) < 0 || (r = place(im, c, type, snap.mode, &n)) < 0)
			goto out;
		tree_node_copy_meta(n, &snap);
		move_content(n, &snap);
		free(n->link);
		n->link = snap.link;
		snap.link = NULL;
		n->hardlink = id;
		if (id)
			group_add(im, id, n);
	}
	if (type != TREE_REG || archive_entry_size(ent) <= 0)
		goto out;
	/* the link brings the data (and the inode's metadata) for every name */
	if ((r = set_meta(im, ent, n)) < 0 || (r = read_content(im, a, ent, n, can_ref, base)) < 0)
		goto out;
	struct strlist *g = &im->groups[id - im->hl_base - 1];
	for (size_t i = 0; i < g->n && r >= 0; i++) {
		struct tree_node *m = tree_lookup(im->t, g->v[i], 0);
		if (m && m != n && m->type == TREE_REG && m->hardlink == id) {
			tree_node_copy_meta(m, n);
			r = copy_content(im, m, n);
		}
	}
out:
	free_content(&snap);
	tree_clear_xattrs(&snap);
	free(snap.link);
	free(tp);
	free(canon);
	strlist_release(&tc);
	return r;
}

/* Removes, recursively, what earlier sources put under dir (an opaque
 * directory of an OCI layer); what this archive made stays. */
static int make_opaque(struct imp *im, struct tree_node *dir)
{
	char *dp = tree_path(dir);
	struct strlist names = STRLIST_INIT;
	int r = 0;
	for (size_t i = 0; i < dir->nkids; i++)
		strlist_push(&names, dir->kids[i]->name);
	for (size_t i = 0; i < names.n && r >= 0; i++) {
		char *p = xasprintf("%s/%s", strcmp(dp, "/") ? dp : "", names.v[i]);
		struct tree_node *k = tree_lookup(im->t, p, 0);
		if (k && !set_has(&im->seen, p))
			r = tree_remove(im->t, p, im->e);
		else if (k && k->type == TREE_DIR)
			r = make_opaque(im, k);
		free(p);
	}
	strlist_release(&names);
	free(dp);
	return r;
}

/* An OCI whiteout: .wh..wh..opq makes its directory opaque, .wh.NAME deletes
 * NAME; both only touch what earlier sources made. */
static int whiteout(struct imp *im, struct strlist *c)
{
	const char *last = c->v[c->n - 1];
	struct tree_node *dir;
	int r;
	if (!strcmp(last, ".wh..wh..opq")) {
		if ((r = parent_dir(im, c, 1, &dir)) < 0)
			return r;
		return make_opaque(im, dir);
	}
	if (!strncmp(last, ".wh..wh.", 8))
		return 0; /* aufs bookkeeping (.wh..wh.plnk and such): not content */
	const char *name = last + 4;
	if (!*name || !strcmp(name, ".") || !strcmp(name, ".."))
		return err_set(im->e, CRUMB_EFORMAT, "%s: %s: a whiteout that names no file",
			       im->apath, im->shown);
	if ((r = parent_dir(im, c, 0, &dir)) < 0 || !dir)
		return r;
	char *dp = tree_path(dir);
	char *p = xasprintf("%s/%s", strcmp(dp, "/") ? dp : "", name);
	if (tree_lookup(im->t, p, 0) && !set_has(&im->seen, p))
		r = tree_remove(im->t, p, im->e);
	free(p);
	free(dp);
	return r;
}

static int add_entry(struct imp *im, struct archive *a, struct archive_entry *ent, int can_ref,
		     uint64_t base)
{
	const char *name = archive_entry_pathname(ent);
	struct strlist c = STRLIST_INIT;
	struct tree_node *n;
	int r;

	set_shown(im, name);
	if (!name)
		return err_set(im->e, CRUMB_EFORMAT, "%s: a member without a name", im->apath);
	if ((r = charge(im, NODE_COST + strlen(name))) < 0 || (r = split_name(im, name, &c)) < 0)
		goto out;
	const char *hl = archive_entry_hardlink(ent);
	unsigned type = archive_entry_filetype(ent);
	if (!c.n) {
		/* "./": the archive's root is dest; a directory entry sets its metadata */
		if (type != AE_IFDIR || hl) {
			r = err_set(im->e, CRUMB_EFORMAT,
				    "%s: %s: names the archive's root but is not a directory",
				    im->apath, im->shown);
			goto out;
		}
		r = set_meta(im, ent, im->dest);
		goto out;
	}
	if (im->o->whiteouts && !strncmp(c.v[c.n - 1], ".wh.", 4)) {
		r = whiteout(im, &c);
		goto out;
	}
	if (hl) {
		r = add_hardlink(im, a, ent, &c, hl, can_ref, base);
		goto out;
	}
	uint32_t perm = archive_entry_perm(ent) & 07777;
	switch (type) {
	case AE_IFDIR:
		r = place(im, &c, TREE_DIR, perm, &n);
		break;
	case AE_IFREG:
		if ((r = place(im, &c, TREE_REG, perm, &n)) >= 0)
			r = read_content(im, a, ent, n, can_ref, base);
		break;
	case AE_IFLNK: {
		const char *target = archive_entry_symlink(ent);
		if (!target || !*target) {
			r = err_set(im->e, CRUMB_EFORMAT, "%s: %s: symlink without a target",
				    im->apath, im->shown);
			goto out;
		}
		if (strlen(target) > MAX_PATH) {
			r = err_set(im->e, CRUMB_EUNSAFE,
				    "%s: %s: symlink target longer than %d bytes", im->apath,
				    im->shown, MAX_PATH);
			goto out;
		}
		if ((r = charge(im, strlen(target))) < 0 ||
		    (r = place(im, &c, TREE_LNK, 0777, &n)) < 0)
			goto out;
		free(n->link);
		n->link = xstrdup(target);
		break;
	}
	case AE_IFCHR:
	case AE_IFBLK: {
		uint64_t ma = archive_entry_rdevmajor(ent), mi = archive_entry_rdevminor(ent);
		if (ma > UINT32_MAX || mi > UINT32_MAX) {
			r = err_set(im->e, CRUMB_EFORMAT, "%s: %s: device number out of range",
				    im->apath, im->shown);
			goto out;
		}
		if ((r = place(im, &c, type == AE_IFCHR ? TREE_CHR : TREE_BLK, perm, &n)) >= 0) {
			n->rdev_major = (uint32_t)ma;
			n->rdev_minor = (uint32_t)mi;
		}
		break;
	}
	case AE_IFIFO:
		r = place(im, &c, TREE_FIFO, perm, &n);
		break;
	case AE_IFSOCK:
		r = place(im, &c, TREE_SOCK, perm, &n);
		break;
	default:
		r = err_set(im->e, CRUMB_EFORMAT, "%s: %s: unknown file type 0%o", im->apath,
			    im->shown, type);
		goto out;
	}
	if (r >= 0)
		r = set_meta(im, ent, n);
out:
	strlist_release(&c);
	return r;
}

static void support_filters(struct archive *a)
{
	/* Only filters libarchive runs in-process: never an external program
	 * (lrzip, grzip, lzop) on input from strangers. */
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_bzip2(a);
	archive_read_support_filter_xz(a);
	archive_read_support_filter_lzma(a);
	archive_read_support_filter_zstd(a);
	archive_read_support_filter_lz4(a);
	archive_read_support_filter_compress(a);
}

static int header_error(struct imp *im, struct archive *a, int first)
{
	const char *why = archive_error_string(a) ? archive_error_string(a) : "unreadable";
	/* libarchive's readers return FATAL with no message when input ends inside a
	 * header (a file no reader recognizes gets "Unrecognized archive format") */
	if (!archive_error_string(a))
		return first ? err_set(im->e, CRUMB_EFORMAT,
				       "%s: truncated archive (it ends inside a header)", im->apath)
			     : err_set(im->e, CRUMB_EFORMAT,
				       "%s: truncated archive (it ends inside the header after %s)",
				       im->apath, im->shown);
	if (first && strcasestr(why, "truncated"))
		return err_set(im->e, CRUMB_EFORMAT, "%s: truncated archive (%s)", im->apath, why);
	if (first)
		return err_set(im->e, CRUMB_EFORMAT, "%s: not an archive crumb reads (%s)",
			       im->apath, why);
	return err_set(im->e, CRUMB_EFORMAT, "%s: corrupt or truncated after %s: %s", im->apath,
		       im->shown, why);
}

static int compress_of(struct archive *a)
{
	switch (archive_filter_code(a, 0)) {
	case ARCHIVE_FILTER_NONE:
		return COMPRESS_NONE;
	case ARCHIVE_FILTER_GZIP:
		return COMPRESS_GZIP;
	case ARCHIVE_FILTER_ZSTD:
		return COMPRESS_ZSTD;
	default:
		return -1;
	}
}

/* Reads every member of an opened archive into the tree. */
static int read_members(struct imp *im, struct archive *a, int can_ref, uint64_t base)
{
	struct archive_entry *ent;
	for (int first = 1;; first = 0) {
		int ar = archive_read_next_header(a, &ent);
		if (ar == ARCHIVE_EOF)
			return 0;
		/* WARN: e.g. a name not valid in the locale; its bytes are kept */
		if (ar < ARCHIVE_WARN || ar == ARCHIVE_RETRY)
			return header_error(im, a, first);
		int r = add_entry(im, a, ent, can_ref, base);
		if (r < 0)
			return r;
	}
}

/* The data.tar inside a .deb, read as a second archive from the outer one's data. */
struct inner {
	struct archive *outer;
	int64_t next;
};

static la_ssize_t inner_read(struct archive *a, void *ctx, const void **buf)
{
	struct inner *in = ctx;
	size_t len;
	la_int64_t off;
	int r = archive_read_data_block(in->outer, buf, &len, &off);
	if (r == ARCHIVE_EOF)
		return 0;
	if (r < ARCHIVE_WARN) {
		archive_set_error(a, EIO, "%s", archive_error_string(in->outer));
		return -1;
	}
	if (off != in->next) { /* ar members are never sparse */
		archive_set_error(a, EIO, "member data out of order");
		return -1;
	}
	in->next += (int64_t)len;
	return (la_ssize_t)len;
}

static int read_deb(struct imp *im, struct archive *outer, int outer_plain)
{
	struct archive_entry *ent;
	int found = 0, r = 0;
	for (;;) {
		int ar = archive_read_next_header(outer, &ent);
		if (ar == ARCHIVE_EOF)
			break;
		if (ar < ARCHIVE_WARN || ar == ARCHIVE_RETRY)
			return header_error(im, outer, 0);
		const char *name = archive_entry_pathname(ent);
		set_shown(im, name);
		if (!name || (strcmp(name, "data.tar") && strncmp(name, "data.tar.", 9)))
			continue;
		if (found++)
			return err_set(im->e, CRUMB_EFORMAT, "%s: two data.tar members", im->apath);
		int64_t base = archive_filter_bytes(outer, 0);
		struct inner ctx = {outer, 0};
		struct archive *a = archive_read_new();
		archive_read_support_format_tar(a);
		support_filters(a);
		if (archive_read_open(a, &ctx, NULL, inner_read, NULL) != ARCHIVE_OK) {
			r = err_set(im->e, CRUMB_EFORMAT, "%s: %s: %s", im->apath, im->shown,
				    archive_error_string(a) ? archive_error_string(a)
							    : "unreadable");
		} else {
			char *what = xasprintf("%s(%s)", im->apath, im->shown);
			const char *keep = im->apath;
			im->apath = what;
			/* the compression is known only once the first header is read */
			struct archive_entry *e1;
			int ar1 = archive_read_next_header(a, &e1);
			im->o->found_compress = compress_of(a);
			int plain = outer_plain && base >= 0 && compress_of(a) == COMPRESS_NONE;
			if (ar1 == ARCHIVE_EOF)
				r = 0;
			else if (ar1 < ARCHIVE_WARN || ar1 == ARCHIVE_RETRY)
				r = header_error(im, a, 1);
			else if ((r = add_entry(im, a, e1, plain, (uint64_t)base)) >= 0)
				r = read_members(im, a, plain, (uint64_t)base);
			im->apath = keep;
			free(what);
		}
		archive_read_free(a);
		if (r < 0)
			return r;
	}
	if (!found)
		return err_set(im->e, CRUMB_EFORMAT,
			       "%s: an ar archive without data.tar (not a .deb)", im->apath);
	return 0;
}

/* Opens the archive at path (or dups o->src's fd) into *fdp: a regular file; its size and
 * real path go to im. */
static int imp_open(struct imp *im, const char *path, int *fdp)
{
	struct stat st;
	int fd;
	/* O_NONBLOCK: a FIFO put in the archive's place must not hang us */
	if (im->o->src)
		fd = dup(im->o->src->fd); /* vread_open checked it is a regular file */
	else if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0)
		return err_errno(im->e, errno == ENOENT ? CRUMB_ENOENT : CRUMB_EIO, "%s",
				 im->apath);
	if (fd < 0)
		return err_errno(im->e, CRUMB_EIO, "%s", im->apath);
	*fdp = fd;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return S_ISREG(st.st_mode)
			   ? err_errno(im->e, CRUMB_EIO, "%s", im->apath)
			   : err_set(im->e, CRUMB_EINVAL, "%s: not a regular file", im->apath);
	im->fsize = (uint64_t)st.st_size;
	if (!(im->src = realpath(path, NULL)))
		return err_errno(im->e, CRUMB_EIO, "%s", im->apath);
	return 0;
}

/* The directory the members go under (made when missing): im->dest, its path, its parts. */
static int imp_dest(struct imp *im)
{
	const char *dest = im->o->dest && *im->o->dest ? im->o->dest : "/";
	int r;
	im->dest = tree_lookup(im->t, dest, 1);
	if (!im->dest && (r = tree_add(im->t, dest, TREE_DIR, 0755, &im->dest, im->e)) < 0)
		return r;
	if (im->dest->type != TREE_DIR)
		return err_set(im->e, CRUMB_EINVAL, "%s: not a directory in the tree", dest);
	im->destpath = tree_path(im->dest);
	return split_name(im, im->destpath, &im->dest_c);
}

/* Reads the archive open on fd, or through o->src (*vsp: the verified reader, for the
 * caller to end); *ap is the caller's to free. The first header tells the format and the
 * compression: a .deb's data.tar, or every member, goes into the tree. */
static int imp_read(struct imp *im, const char *path, int fd, struct archive **ap,
		    struct archive_vsrc **vsp)
{
	struct archive *a = *ap = archive_read_new();
	archive_read_support_format_tar(a);
	archive_read_support_format_cpio(a);
	archive_read_support_format_ar(a);
	support_filters(a);
	if (im->o->src) {
		if (archive_open_vread(a, im->o->src, vsp) != ARCHIVE_OK)
			return header_error(im, a, 1);
	} else if (archive_read_open_fd(a, fd, 65536) != ARCHIVE_OK) {
		return header_error(im, a, 1);
	}
	/* The format and compression are known once the first header is read. */
	struct archive_entry *ent;
	int ar = archive_read_next_header(a, &ent);
	im->o->found_compress = compress_of(a);
	int fmt = archive_format(a) & ARCHIVE_FORMAT_BASE_MASK;
	im->o->found_cpio = fmt == ARCHIVE_FORMAT_CPIO;
	if (ar == ARCHIVE_EOF)
		return 0;
	if (ar < ARCHIVE_WARN || ar == ARCHIVE_RETRY)
		return header_error(im, a, 1);
	int plain = compress_of(a) == COMPRESS_NONE;
	if (fmt == ARCHIVE_FORMAT_AR) {
		/* .deb: put the first member back in line by reading it the same way */
		const char *name = archive_entry_pathname(ent);
		if (name && (!strcmp(name, "data.tar") || !strncmp(name, "data.tar.", 9)))
			return err_set(im->e, CRUMB_EUNSUPP,
				       "%s: data.tar as the first member (not a .deb)", path);
		return read_deb(im, a, plain);
	}
	int r = add_entry(im, a, ent, plain, 0);
	return r < 0 ? r : read_members(im, a, plain, 0);
}

int import_archive(struct tree *t, const char *path, struct import_opts *o, struct err *e)
{
	struct import_opts defaults = {0};
	struct imp im = {.t = t, .apath = path, .o = o ? o : &defaults, .e = e};
	struct archive *a = NULL;
	struct archive_vsrc *vs = NULL; /* reading through a verified reader (o->src) */
	int r, fd = -1;

	im.o->found_compress = COMPRESS_NONE;
	im.o->found_cpio = 0;
	im.budget = im.o->max_bytes ? im.o->max_bytes : IMPORT_MAX_BYTES;
	im.hl_base = t->next_hardlink;
	if (im.o->src)
		im.apath = im.o->src->name;
	if (im.o->name)
		im.apath = im.o->name;
	if (!(r = imp_open(&im, path, &fd)) && !(r = imp_dest(&im)))
		r = imp_read(&im, path, fd, &a, &vs);
	/* The bytes past the archive's end (padding) are checked too; and after
	 * a format error, a damaged source is the error, not what it looked like. */
	if (a)
		archive_read_free(a);
	if (vs) {
		struct err ve;
		int vr = archive_vsrc_end(vs, 1, &ve);
		if (vr < 0) {
			*e = ve;
			r = vr;
		}
	}
	if (fd >= 0)
		close(fd);
	free(im.src);
	free(im.destpath);
	strlist_release(&im.dest_c);
	set_release(&im.seen);
	for (size_t i = 0; i < im.ngroups; i++)
		strlist_release(&im.groups[i]);
	free(im.groups);
	return r;
}

/* Reads the current member of a into out and/or fd, hashing it into h when
 * given. Members that declare more than max bytes are refused before a byte
 * is read. Messages name "path: name". */
static int member_bytes(struct archive *a, struct archive_entry *ent, const char *path,
			const char *name, uint64_t max, struct sbuf *out, int fd, struct sha256 *h,
			struct err *e)
{
	char buf[65536];
	uint64_t total = 0;
	la_ssize_t n;
	if (archive_entry_size_is_set(ent) && archive_entry_size(ent) >= 0 &&
	    (uint64_t)archive_entry_size(ent) > max)
		return err_set(e, CRUMB_EUNSAFE,
			       "%s: %s: declares %llu bytes, more than the limit of %llu", path,
			       name, (unsigned long long)archive_entry_size(ent),
			       (unsigned long long)max);
	while ((n = archive_read_data(a, buf, sizeof(buf))) > 0) {
		total += (uint64_t)n;
		if (total > max)
			return err_set(e, CRUMB_EUNSAFE, "%s: %s: larger than %llu bytes", path,
				       name, (unsigned long long)max);
		if (out)
			sb_add(out, buf, (size_t)n);
		if (h)
			sha256_update(h, buf, (size_t)n);
		if (fd >= 0 && write(fd, buf, (size_t)n) != n)
			return err_errno(e, CRUMB_EIO, "writing %s: %s out", path, name);
	}
	if (n < 0)
		return err_set(e, CRUMB_EFORMAT, "%s: %s: %s", path, name, archive_error_string(a));
	return 0;
}

static struct archive *open_tar(const char *path, struct err *e)
{
	struct archive *a = archive_read_new();
	archive_read_support_format_tar(a);
	support_filters(a);
	if (archive_read_open_filename(a, path, 65536) != ARCHIVE_OK) {
		err_set(e, CRUMB_EFORMAT, "%s: %s", path, archive_error_string(a));
		archive_read_free(a);
		return NULL;
	}
	return a;
}

/* The digest a docker archive member's name carries: "blobs/sha256/HEX"
 * (docker 25+), "HEX.json" or "HEX.tar" (skopeo, older docker configs), or
 * "" when it carries none. out: "sha256:HEX". */
static void name_digest(const char *n, char out[80])
{
	out[0] = 0;
	if (!strncmp(n, "./", 2))
		n += 2;
	if (!strncmp(n, "blobs/sha256/", 13))
		n += 13;
	size_t len = strlen(n);
	if (len != 64 && !(len == 69 && (!strcmp(n + 64, ".json") || !strcmp(n + 64, ".tar"))))
		return;
	for (int i = 0; i < 64; i++)
		if (!((n[i] >= '0' && n[i] <= '9') || (n[i] >= 'a' && n[i] <= 'f')))
			return;
	snprintf(out, 80, "sha256:%.64s", n);
}

/* A member's name for messages ("ARCHIVE: MEMBER" with a path), control bytes as '?'. */
static char *member_label(const char *path, const char *n)
{
	char *l = path ? xasprintf("%s: %s", path, n) : xstrdup(n);
	for (char *c = l; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	return l;
}

/* A docker archive being read (docker_archive_members): its manifest's names, and what each
 * layer became. */
struct dock {
	const char *path, *tmpdir;
	uint64_t max_bytes;
	size_t which; /* the image's place in manifest.json */
	struct sbuf *config;
	struct strlist *layers, *names, *tags;
	struct err *e;
	const char *cfg_name; /* the config's member name (in the manifest's JSON) */
	char cfg_digest[80];  /* "sha256:HEX", from its name */
	char cfg_got[65];     /* its content's sha256 (hex) */
	int have_cfg;
	size_t nl;
	const char **lname; /* nl layer member names (in the manifest's JSON) */
	char **hashes;	    /* nl: each layer's content's sha256 (hex), once read */
	int *done;	    /* nl: read */
};

/* First pass: manifest.json into man. Returns 1 when found, 0 when path is not a tar or has
 * none, or an error. */
static int dock_manifest(const char *path, struct sbuf *man, struct err *e)
{
	struct archive *a = open_tar(path, e);
	struct archive_entry *ent;
	int r = 0, found = 0;
	if (!a)
		return 0; /* not a tar: the caller tries it as a plain archive */
	while (!found && archive_read_next_header(a, &ent) == ARCHIVE_OK) {
		const char *n = archive_entry_pathname(ent);
		if (n && (!strcmp(n, "manifest.json") || !strcmp(n, "./manifest.json"))) {
			found = 1;
			r = member_bytes(a, ent, path, n, 1 << 20, man, -1, NULL, e);
		}
	}
	archive_read_free(a);
	return r < 0 ? r : found;
}

/* Image d->which of the manifest root: its config's name and digest, its layers' names,
 * its RepoTags (d->tags), and for each layer a file in tmpdir (d->layers) and a label
 * (d->names). */
static int dock_plan(struct dock *d, json_t *root)
{
	json_t *img = json_array_get(root, d->which);
	json_t *cfg = json_object_get(img, "Config"), *ls = json_object_get(img, "Layers");
	json_t *tags = json_object_get(img, "RepoTags"), *t;
	size_t i;
	d->nl = json_array_size(ls);
	if (!json_is_string(cfg) || !json_is_array(ls) || d->nl == 0 || d->nl > 512 ||
	    (tags && !json_is_null(tags) && !json_is_array(tags)))
		return err_set(d->e, CRUMB_EFORMAT,
			       "%s: manifest.json is not a docker archive manifest", d->path);
	json_array_foreach(tags, i, t)
	{
		if (!json_is_string(t))
			return err_set(d->e, CRUMB_EFORMAT, "%s: manifest.json: bad RepoTags",
				       d->path);
		if (d->tags)
			strlist_push(d->tags, json_string_value(t));
	}
	d->cfg_name = json_string_value(cfg);
	if (!strncmp(d->cfg_name, "./", 2))
		d->cfg_name += 2;
	name_digest(d->cfg_name, d->cfg_digest);
	if (!d->cfg_digest[0])
		return err_set(d->e, CRUMB_EFORMAT,
			       "%s: config %s: its name carries no sha256 digest to check it by",
			       d->path, d->cfg_name);
	/* One file per distinct layer name: docker save names an identical layer
	 * once, in every place it is used. */
	d->lname = xcalloc(d->nl, sizeof(*d->lname));
	for (size_t k = 0; k < d->nl; k++) {
		const char *n = json_string_value(json_array_get(ls, k));
		if (!n || !*n)
			return err_set(d->e, CRUMB_EFORMAT, "%s: manifest.json: bad Layers",
				       d->path);
		d->lname[k] = !strncmp(n, "./", 2) ? n + 2 : n;
		size_t first = k;
		for (size_t j = 0; j < k; j++)
			if (!strcmp(d->lname[j], d->lname[k])) {
				first = j;
				break;
			}
		strlist_push_owned(d->layers, first == k ? xasprintf("%s/layer-%zu", d->tmpdir, k)
							 : xstrdup(d->layers->v[first]));
		strlist_push_owned(d->names, member_label(d->path, d->lname[k]));
	}
	return 0;
}

/* The current member n is layer k: to its file, hashed; every layer of that name is done. */
static int dock_layer(struct dock *d, struct archive *a, struct archive_entry *ent, const char *n,
		      size_t k)
{
	int fd = open(d->layers->v[k], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_errno(d->e, CRUMB_EIO, "%s", d->layers->v[k]);
	struct sha256 h;
	sha256_begin(&h);
	int r = member_bytes(a, ent, d->path, n, d->max_bytes, NULL, fd, &h, d->e);
	d->hashes[k] = xmalloc(65);
	sha256_end(&h, d->hashes[k]);
	close(fd);
	for (size_t j = k; j < d->nl; j++)
		if (!strcmp(d->lname[j], d->lname[k])) {
			d->done[j] = 1;
			if (!d->hashes[j])
				d->hashes[j] = xstrdup(d->hashes[k]);
		}
	return r;
}

/* The current member n: the config, a layer not read yet, or something to skip. */
static int dock_member(struct dock *d, struct archive *a, struct archive_entry *ent, const char *n)
{
	if (!strcmp(n, d->cfg_name)) {
		struct sha256 h;
		sha256_begin(&h);
		sb_reset(d->config);
		int r = member_bytes(a, ent, d->path, n, 4 << 20, d->config, -1, &h, d->e);
		sha256_end(&h, d->cfg_got);
		d->have_cfg = 1;
		return r;
	}
	for (size_t k = 0; k < d->nl; k++)
		if (!d->done[k] && !strcmp(n, d->lname[k]))
			return dock_layer(d, a, ent, n, k);
	return 0;
}

/* Second pass: the config and the layers, each to its own place, hashed. */
static int dock_read(struct dock *d)
{
	struct archive *a;
	struct archive_entry *ent;
	char *last = NULL; /* the last member read, for a truncation message */
	uint64_t last_size = 0;
	int r = 0, ar;
	d->done = xcalloc(d->nl, sizeof(*d->done));
	d->hashes = xcalloc(d->nl, sizeof(*d->hashes));
	if (!(a = open_tar(d->path, d->e)))
		return CRUMB_EFORMAT;
	while (r == 0 && (ar = archive_read_next_header(a, &ent)) != ARCHIVE_EOF) {
		if (ar < ARCHIVE_WARN || ar == ARCHIVE_RETRY) {
			r = last ? err_set(d->e, CRUMB_EFORMAT,
					   "%s: truncated or corrupt after %s (which declares %llu "
					   "bytes): %s",
					   d->path, last, (unsigned long long)last_size,
					   archive_error_string(a))
				 : err_set(d->e, CRUMB_EFORMAT, "%s: %s", d->path,
					   archive_error_string(a));
			break;
		}
		const char *n = archive_entry_pathname(ent);
		if (!n)
			continue;
		if (!strncmp(n, "./", 2))
			n += 2;
		free(last);
		last = member_label(NULL, n);
		last_size = archive_entry_size(ent) > 0 ? (uint64_t)archive_entry_size(ent) : 0;
		r = dock_member(d, a, ent, n);
	}
	free(last);
	archive_read_free(a);
	return r;
}

/* Each layer against the config's rootfs.diff_ids (the digest of the uncompressed tar,
 * which docker save stores), or the digest its name carries. */
static int dock_check_layers(struct dock *d)
{
	json_t *cj = json_loadb(d->config->buf, d->config->len, 0, NULL);
	json_t *diff = json_object_get(json_object_get(cj, "rootfs"), "diff_ids");
	int r = 0;
	if (!json_is_array(diff) || json_array_size(diff) != d->nl)
		r = err_set(d->e, CRUMB_EFORMAT,
			    "%s: config %s: rootfs.diff_ids does not list the %zu layers", d->path,
			    d->cfg_name, d->nl);
	for (size_t k = 0; r == 0 && k < d->nl; k++) {
		const char *want = json_string_value(json_array_get(diff, k));
		char nd[80];
		name_digest(d->lname[k], nd);
		int good =
		    (want && !strncmp(want, "sha256:", 7) && !strcmp(want + 7, d->hashes[k])) ||
		    (nd[0] && !strcmp(nd + 7, d->hashes[k]));
		if (!good)
			r = err_set(d->e, CRUMB_EFORMAT,
				    "%s: corrupt: its content does not match its digest (%s)",
				    d->names->v[k], want ? want : "none in the config");
	}
	json_decref(cj);
	return r;
}

/* Everything was there, and matches its digest. */
static int dock_check(struct dock *d)
{
	for (size_t k = 0; k < d->nl; k++)
		if (!d->done[k])
			return err_set(d->e, CRUMB_EFORMAT, "%s: layer %s is not in the archive",
				       d->path, d->names->v[k] + strlen(d->path) + 2);
	if (!d->have_cfg)
		return err_set(d->e, CRUMB_EFORMAT, "%s: config %s is not in the archive", d->path,
			       d->cfg_name);
	if (strcmp(d->cfg_got, d->cfg_digest + 7))
		return err_set(d->e, CRUMB_EFORMAT,
			       "%s: config %s: corrupt: its content does not match its digest",
			       d->path, d->cfg_name);
	return dock_check_layers(d);
}

int docker_archive_image(const char *path, const char *tmpdir, uint64_t max_bytes, size_t which,
			 struct sbuf *config, struct strlist *layers, struct strlist *names,
			 struct strlist *tags, size_t *count, struct err *e)
{
	struct dock d = {.path = path,
			 .tmpdir = tmpdir,
			 .max_bytes = max_bytes ? max_bytes : IMPORT_MAX_BYTES,
			 .which = which,
			 .config = config,
			 .layers = layers,
			 .names = names,
			 .tags = tags,
			 .e = e};
	struct sbuf man = SBUF_INIT;
	int r = dock_manifest(path, &man, e);
	if (r <= 0) {
		sb_release(&man);
		return r;
	}
	json_t *root = json_loadb(man.buf, man.len, 0, NULL);
	if (count)
		*count = json_array_size(root);
	if (!json_is_array(root) || which >= json_array_size(root))
		r = err_set(e, CRUMB_EFORMAT, "%s: manifest.json is not a docker archive manifest",
			    path);
	else if (!(r = dock_plan(&d, root)) && !(r = dock_read(&d)))
		r = dock_check(&d);
	for (size_t k = 0; d.hashes && k < d.nl; k++)
		free(d.hashes[k]);
	free(d.hashes);
	free(d.done);
	free(d.lname);
	json_decref(root);
	sb_release(&man);
	return r < 0 ? r : 1;
}

int docker_archive_members(const char *path, const char *tmpdir, uint64_t max_bytes,
			   struct sbuf *config, struct strlist *layers, struct strlist *names,
			   struct err *e)
{
	return docker_archive_image(path, tmpdir, max_bytes, 0, config, layers, names, NULL, NULL,
				    e);
}

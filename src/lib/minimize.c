/* minimize.c: cutting an image to its trace (minimize.h). */
#include "minimize.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "archive.h"
#include "elf.h"
#include "elfsyms.h"
#include "ext4.h"
#include "ext4fs.h"
#include "import.h"
#include "rootfs.h"
#include "sysfilter.h"
#include "tree.h"

/* What the cut keeps: node pointers, sorted once marking is done. */
struct keepset {
	const struct tree_node **v;
	size_t n, alloc;
};

static void keep_node(struct keepset *k, const struct tree_node *n)
{
	if (k->n == k->alloc) {
		k->alloc = k->alloc ? 2 * k->alloc : 256;
		k->v = xrealloc(k->v, k->alloc * sizeof(*k->v));
	}
	k->v[k->n++] = n;
}

static int cmp_ptr(const void *a, const void *b)
{
	const void *x = *(const void *const *)a, *y = *(const void *const *)b;
	return x < y ? -1 : x > y;
}

static int kept(const struct keepset *k, const struct tree_node *n)
{
	return bsearch(&n, k->v, k->n, sizeof(*k->v), cmp_ptr) != NULL;
}

static struct tree_node *kid(const struct tree_node *dir, const char *name, size_t len)
{
	size_t lo = 0, hi = dir->nkids;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const char *m = dir->kids[mid]->name;
		int c = strncmp(m, name, len);
		if (c == 0)
			c = m[len] ? 1 : 0;
		if (c == 0)
			return dir->kids[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/*
 * Keeps every node on the way to path as the guest's kernel would walk it:
 * each symlink met (the last one too: open follows it) and the rest of the
 * walk through its target. depth bounds link chains (ELOOP at 40, as Linux).
 */
static void mark(struct keepset *k, const struct tree *t, const char *path, int depth)
{
	struct tree_node *cur = t->root;
	struct sbuf at = SBUF_INIT; /* cur's path */
	const char *p = path;
	if (depth > 40)
		return;
	while (*p) {
		p += strspn(p, "/");
		size_t n = strcspn(p, "/");
		if (!n)
			break;
		if (n == 1 && p[0] == '.') {
			p += n;
			continue;
		}
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			if (cur->parent) {
				cur = cur->parent;
				char *slash = strrchr(at.buf, '/');
				at.len = slash ? (size_t)(slash - at.buf) : 0;
				at.buf[at.len] = 0;
			}
			p += n;
			continue;
		}
		struct tree_node *c = cur->type == TREE_DIR ? kid(cur, p, n) : NULL;
		if (!c)
			break;
		keep_node(k, c);
		if (c->type == TREE_LNK && c->link) {
			char *next = xasprintf("%s%s%s%s", c->link[0] == '/' ? "" : at.buf,
					       c->link[0] == '/' ? "" : "/", c->link, p + n);
			mark(k, t, next, depth + 1);
			free(next);
			break;
		}
		sb_addc(&at, '/');
		sb_add(&at, p, n);
		cur = c;
		p += n;
	}
	sb_release(&at);
}

/* Marks the whole subtree at path (crumb-init's /etc/crumb). */
struct subtree {
	struct keepset *k;
	const char *prefix;
};

static int mark_under(struct tree_node *n, const char *path, void *ctx)
{
	struct subtree *s = ctx;
	size_t pl = strlen(s->prefix);
	if (!strncmp(path, s->prefix, pl) && (path[pl] == '/' || !path[pl]))
		keep_node(s->k, n);
	return 0;
}

/* --keep: every path the glob matches, marked as the trace's are. */
struct globs {
	struct keepset *k;
	const struct tree *t;
	const struct strlist *keep;
};

static int mark_globs(struct tree_node *n, const char *path, void *ctx)
{
	struct globs *g = ctx;
	char *abs = xasprintf("/%s", path);
	for (size_t i = 0; i < g->keep->n; i++)
		if (fnmatch(g->keep->v[i], abs, 0) == 0) {
			keep_node(g->k, n);
			mark(g->k, g->t, abs, 0);
			break;
		}
	free(abs);
	return 0;
}

/* Counts regular files and links, and their bytes. */
struct census {
	uint64_t files, bytes;
};

static int count_node(struct tree_node *n, const char *path, void *ctx)
{
	struct census *c = ctx;
	(void)path;
	if (n->type == TREE_REG || n->type == TREE_LNK)
		c->files++;
	if (n->type == TREE_REG)
		c->bytes += n->size;
	return 0;
}

/* The paths the cut removes. */
struct cut {
	const struct keepset *k;
	struct strlist gone;
};

static int cut_node(struct tree_node *n, const char *path, void *ctx)
{
	struct cut *c = ctx;
	if ((n->type == TREE_REG || n->type == TREE_LNK) && !kept(c->k, n))
		strlist_push_owned(&c->gone, xasprintf("/%s", path));
	return 0;
}

/*
 * What the kernel opens itself when path is executed, which no system call
 * shows: an ELF's interpreter (PT_INTERP, the dynamic loader) and a script's
 * #! interpreter, theirs in turn. Unreadable or malformed files add nothing
 * (the exec failed in the trace as well).
 */
static void mark_interp(struct keepset *k, const struct tree *t, const char *path, int depth)
{
	const struct tree_node *n = tree_lookup(t, path, 1);
	char head[256], *interp = NULL;
	struct err e;
	if (depth > 4 || !n || n->type != TREE_REG || n->size < 4 ||
	    tree_read(n, 0, head, n->size < sizeof(head) ? (size_t)n->size : sizeof(head), &e) < 0)
		return;
	size_t hl = n->size < sizeof(head) ? (size_t)n->size : sizeof(head);
	if (head[0] == '#' && head[1] == '!') {
		char *p = head + 2, *end = memchr(head, '\n', hl);
		if (!end)
			return;
		*end = 0;
		p += strspn(p, " \t");
		interp = xstrndup(p, strcspn(p, " \t"));
	} else if (!memcmp(head, "\177ELF", 4) && n->size <= (64u << 20)) {
		char *buf = xmalloc((size_t)n->size);
		struct elfinfo info;
		if (tree_read(n, 0, buf, (size_t)n->size, &e) == 0 &&
		    elfinfo_read_mem(buf, (size_t)n->size, path, &info, &e) == 0) {
			if (info.interp)
				interp = xstrdup(info.interp);
			elfinfo_release(&info);
		}
		free(buf);
	}
	if (interp && interp[0] == '/') {
		mark(k, t, interp, 0);
		mark_interp(k, t, interp, depth + 1);
	}
	free(interp);
}

static int cut_tree(struct tree *t, const struct minimize_opts *o, struct err *e)
{
	struct keepset k = {0};
	static const char *const always[] = {ROOTFS_INIT_PATH, "/etc/passwd", "/etc/group"};
	for (size_t i = 0; i < sizeof(always) / sizeof(always[0]); i++)
		mark(&k, t, always[i], 0);
	struct subtree st = {&k, "etc/crumb"};
	tree_walk(t, mark_under, &st);
	for (size_t i = 0; i < o->trace->files.n; i++)
		mark(&k, t, o->trace->files.v[i], 0);
	for (size_t i = 0; i < o->trace->execs.n; i++)
		mark_interp(&k, t, o->trace->execs.v[i], 0);
	if (o->keep && o->keep->n) {
		struct globs g = {&k, t, o->keep};
		tree_walk(t, mark_globs, &g);
	}
	if (k.n)
		qsort(k.v, k.n, sizeof(*k.v), cmp_ptr);
	struct cut c = {&k, STRLIST_INIT};
	tree_walk(t, cut_node, &c);
	int r = 0;
	for (size_t i = 0; r == 0 && i < c.gone.n; i++)
		r = tree_remove(t, c.gone.v[i], e);
	strlist_release(&c.gone);
	free(k.v);
	return r;
}

/* "net=AF_INET,AF_UNIX fs=devtmpfs,proc dev=/dev/null,/dev/urandom": what of the kernel the
 * trace touched. */
static char *features(const struct trace *t)
{
	static const struct {
		const char *prefix, *fs;
	} mounts[] = {
	    {"/proc", "proc"},	   {"/sys", "sysfs"},	      {"/dev/pts", "devpts"},
	    {"/dev/shm", "tmpfs"}, {"/dev/mqueue", "mqueue"}, {"/dev", "devtmpfs"},
	    {"/tmp", "tmpfs"},	   {"/run", "tmpfs"},
	};
	struct sbuf sb = SBUF_INIT;
	struct strlist fs = STRLIST_INIT;
	int first = 1;
	sb_adds(&sb, "net=");
	for (unsigned f = 0; f < TRACE_MAX_FAMILIES; f++) {
		if (!t->family[f])
			continue;
		const char *name = sysfilter_family_name(f);
		if (!first)
			sb_addc(&sb, ',');
		first = 0;
		if (name)
			sb_adds(&sb, name);
		else
			sb_addf(&sb, "%u", f);
	}
	for (size_t i = 0; i < t->files.n; i++) {
		const char *p = t->files.v[i], *name = "rootfs";
		for (size_t m = 0; m < sizeof(mounts) / sizeof(mounts[0]); m++) {
			size_t l = strlen(mounts[m].prefix);
			if (!strncmp(p, mounts[m].prefix, l) && (p[l] == '/' || !p[l])) {
				name = mounts[m].fs;
				break;
			}
		}
		if (!strlist_has(&fs, name))
			strlist_push(&fs, name);
	}
	sb_adds(&sb, " fs=");
	/* in the table's order, rootfs last: the same trace, the same words */
	first = 1;
	for (size_t m = 0; m <= sizeof(mounts) / sizeof(mounts[0]); m++) {
		const char *name = m < sizeof(mounts) / sizeof(mounts[0]) ? mounts[m].fs : "rootfs";
		int dup = 0;
		for (size_t j = 0; j < m && j < sizeof(mounts) / sizeof(mounts[0]); j++)
			dup |= !strcmp(mounts[j].fs, name);
		if (dup || !strlist_has(&fs, name))
			continue;
		sb_addf(&sb, "%s%s", first ? "" : ",", name);
		first = 0;
	}
	strlist_release(&fs);
	sb_adds(&sb, " dev=");
	first = 1;
	for (size_t i = 0; i < t->files.n; i++) {
		const char *p = t->files.v[i];
		if (strncmp(p, "/dev/", 5) || !strncmp(p, "/dev/pts/", 9) || strchr(p + 5, ' '))
			continue;
		sb_addf(&sb, "%s%s", first ? "" : ",", p);
		first = 0;
	}
	return sb_detach(&sb);
}

/* The allowlist: the traced calls libseccomp knows (the others noted), socket limited to the
 * traced families, plus o->allow. */
static int allowlist(const struct minimize_opts *o, struct minimize_result *res, struct err *e)
{
	struct sysfilter f;
	int r = 0;
	sysfilter_init(&f);
	for (size_t i = 0; i < o->trace->syscalls.n; i++) {
		const char *n = o->trace->syscalls.v[i];
		if (sysfilter_syscall_nr(n) < 0)
			strlist_push(&res->unknown_calls, n);
		else
			r = sysfilter_add(&f, n, e);
	}
	if (strlist_has(&f.names, "socket"))
		for (unsigned a = 0; a < TRACE_MAX_FAMILIES; a++)
			if (o->trace->family[a])
				sysfilter_add_family(&f, a);
	for (size_t i = 0; r == 0 && o->allow && i < o->allow->n; i++)
		r = sysfilter_parse(o->allow->v[i], &f, e);
	if (r == 0) {
		res->allowlist = sysfilter_render(&f);
		res->nsyscalls = sysfilter_count(&f);
	}
	sysfilter_release(&f);
	return r;
}

/* The image's created time as the epoch its times are clamped to (0 when it has none). */
static int64_t created_epoch(const char *created)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	if (!created || !strptime(created, "%Y-%m-%dT%H:%M:%S", &tm))
		return 0;
	return (int64_t)timegm(&tm);
}

/* The rootfs layer into t (checked against its digest as it is read); *fs stays open for an
 * ext4 layer (its tree reads from it) until the caller closes it. */
static int load_root(struct oci_store *s, const struct oci_image *im, const struct oci_desc *l,
		     struct tree *t, struct ext4fs **fs, struct err *e)
{
	char *path = oci_blob_path(s, l->digest);
	char *whose = xasprintf("image %s", im->ref ? im->ref : im->manifest.digest);
	int r;
	if (!path) {
		r = err_set(e, CRUMB_EFORMAT, "%s: '%s' is not a sha256 digest", whose, l->digest);
	} else if (!strcmp(l->media_type, OCI_MT_ROOTFS_EXT4)) {
		if ((r = oci_blob_verify(s, l, whose, OCI_VERIFY_CACHED, e)) == 0 &&
		    (r = ext4fs_open(path, 0, fs, e)) == 0)
			r = ext4fs_read_tree(*fs, "/", t, "/", e);
	} else {
		struct vread v;
		struct import_opts io = {.keep_owner = 1, .src = &v};
		if ((r = oci_blob_open(s, l, whose, 0, &v, e)) == 0)
			r = import_archive(t, path, &io, e);
		vread_close(&v);
	}
	free(path);
	free(whose);
	return r;
}

static int write_root(struct oci_store *s, struct tree *t, int ext4, int64_t epoch,
		      struct oci_desc *out, struct err *e)
{
	char *tmpbase = xasprintf("%s/tmp", oci_root(s));
	char *dir = xasprintf("%s/build-%d-XXXXXX", tmpbase, (int)getpid());
	int r = mkdir_p(tmpbase, 0700, e);
	if (r == 0 && !mkdtemp(dir))
		r = err_errno(e, CRUMB_EIO, "mkdtemp %s", dir);
	char *file = xasprintf("%s/rootfs", dir);
	if (r == 0 && ext4) {
		struct ext4_opts eo = {.epoch = epoch, .clamp = 1, .label = "crumb"};
		r = ext4_write(t, file, &eo, e);
	} else if (r == 0) {
		/* level 19: written once, read at every boot (as fast as at level 3) */
		struct cpio_opts co = {
		    .compress = COMPRESS_ZSTD, .epoch = epoch, .clamp = 1, .level = 19};
		r = cpio_write(t, file, &co, e);
	}
	if (r == 0)
		r = oci_blob_put_file(s, file, ext4 ? OCI_MT_ROOTFS_EXT4 : OCI_MT_ROOTFS_CPIO_ZSTD,
				      1, out, e);
	unlink(file);
	rmdir(dir);
	free(file);
	free(dir);
	free(tmpbase);
	return r;
}

/* One image's files, bytes and stored sizes. */
static int census_of(struct oci_store *s, const char *ref, struct oci_image *im, struct tree *t,
		     struct ext4fs **fs, struct census *c, struct err *e)
{
	int r = oci_image_resolve(s, ref, im, e);
	if (r < 0)
		return r;
	const struct oci_desc *l = oci_image_layer(im, "application/vnd.crumb.rootfs.");
	if (!l)
		return err_set(e, CRUMB_EFORMAT, "image %s has no root filesystem layer", ref);
	if ((r = load_root(s, im, l, t, fs, e)) == 0)
		tree_walk(t, count_node, c);
	return r;
}

static const struct oci_desc *root_layer(const struct oci_image *im)
{
	return oci_image_layer(im, "application/vnd.crumb.rootfs.");
}

void minimize_result_release(struct minimize_result *r)
{
	free(r->allowlist);
	free(r->features);
	strlist_release(&r->unknown_calls);
	memset(r, 0, sizeof(*r));
}

int minimize_image(struct oci_store *s, const struct minimize_opts *o, struct minimize_result *res,
		   struct err *e)
{
	struct oci_image im = {0};
	struct tree t;
	struct ext4fs *fs = NULL;
	memset(res, 0, sizeof(*res));
	if (!o->trace->ended)
		return err_set(
		    e, CRUMB_EFORMAT,
		    "the trace has no end record: the service was not followed to its end "
		    "(the VM was killed?); trace it again");
	struct census before = {0}, after = {0};
	tree_init(&t);
	int r = census_of(s, o->image, &im, &t, &fs, &before, e);
	const struct oci_desc *l = r == 0 ? root_layer(&im) : NULL;
	int ext4 = l && !strcmp(l->media_type, OCI_MT_ROOTFS_EXT4);
	int64_t epoch = created_epoch(im.cfg.created);
	snprintf(res->from, sizeof(res->from), "%s", im.manifest.digest);
	res->image_before = im.size;
	if (r == 0) {
		res->stored_before = l->size;
		if (!o->all_files)
			r = cut_tree(&t, o, e);
	}
	if (r == 0)
		tree_walk(&t, count_node, &after);
	if (r == 0 && !o->no_seccomp)
		r = allowlist(o, res, e);
	struct oci_desc *layers = NULL;
	size_t nl = im.nlayers;
	if (r == 0) {
		layers = xcalloc(nl, sizeof(*layers));
		for (size_t i = 0; i < nl; i++)
			layers[i] = im.layers[i];
		size_t li = (size_t)(l - im.layers);
		r = write_root(s, &t, ext4, epoch, &layers[li], e);
		res->stored_after = layers[li].size;
	}
	if (fs) {
		struct err ce;
		ext4fs_close(fs, &ce);
	}
	if (r == 0) {
		res->features = features(o->trace);
		if (res->allowlist)
			oci_config_set_label(&im.cfg, "crumb.seccomp", res->allowlist);
		else
			oci_config_drop_label(&im.cfg, "crumb.seccomp");
		oci_config_set_label(&im.cfg, "crumb.minimized.from", im.manifest.digest);
		oci_config_set_label(&im.cfg, "crumb.minimized.kernel", res->features);
		r = oci_image_commit(s, o->tag, &im.cfg, layers, nl, &res->manifest, e);
	}
	if (r == 0) {
		struct oci_image out = {0};
		struct err ie;
		if (oci_image_resolve(s, res->manifest.digest, &out, &ie) == 0)
			res->image_after = out.size;
		oci_image_release(&out);
	}
	res->files_before = before.files;
	res->bytes_before = before.bytes;
	res->files_after = after.files;
	res->bytes_after = after.bytes;
	free(layers);
	tree_release(&t);
	oci_image_release(&im);
	return r;
}

/* ---- the report (crumb inspect --minimal) ---- */

/* The regular ELF files of a tree, by path. */
struct elves {
	struct strlist paths;
	const struct tree_node **nodes;
	size_t n;
};

static int find_elf(struct tree_node *n, const char *path, void *ctx)
{
	struct elves *v = ctx;
	unsigned char magic[4];
	struct err e;
	if (n->type != TREE_REG || n->size < 64 || tree_read(n, 0, magic, 4, &e) < 0 ||
	    memcmp(magic, "\177ELF", 4))
		return 0;
	strlist_push_owned(&v->paths, xasprintf("/%s", path));
	v->nodes = xrealloc(v->nodes, (v->n + 1) * sizeof(*v->nodes));
	v->nodes[v->n++] = n;
	return 0;
}

/* Copies a node's content to a new file at path. */
static int extract(const struct tree_node *n, const char *path, struct err *e)
{
	FILE *f = fopen(path, "wbx");
	char buf[65536];
	int r = 0;
	if (!f)
		return err_errno(e, CRUMB_EIO, "create %s", path);
	for (uint64_t off = 0; r == 0 && off < n->size; off += sizeof(buf)) {
		size_t len = n->size - off < sizeof(buf) ? (size_t)(n->size - off) : sizeof(buf);
		if ((r = tree_read(n, off, buf, len, e)) == 0 && fwrite(buf, 1, len, f) != len)
			r = err_errno(e, CRUMB_EIO, "write %s", path);
	}
	if (fclose(f) != 0 && r == 0)
		r = err_errno(e, CRUMB_EIO, "write %s", path);
	return r;
}

/* The image's libc, the first of the usual places (symlinks followed in the image). */
static const struct tree_node *find_libc(const struct tree *t)
{
	static const char *const where[] = {"/lib/x86_64-linux-gnu/libc.so.6",
					    "/usr/lib/x86_64-linux-gnu/libc.so.6",
					    "/lib64/libc.so.6",
					    "/lib/libc.so.6",
					    "/lib/ld-musl-x86_64.so.1",
					    "/usr/lib/libc.so"};
	for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
		const struct tree_node *n = tree_lookup(t, where[i], 1);
		if (n && n->type == TREE_REG)
			return n;
	}
	return NULL;
}

/* The before-side of the report: the traced image, when the store still has it. */
static void report_from(struct oci_store *s, const char *from, const struct census *now,
			const struct oci_image *im, struct sbuf *out)
{
	struct oci_image fim = {0};
	struct tree ft;
	struct ext4fs *ffs = NULL;
	struct census before = {0};
	struct err e;
	tree_init(&ft);
	sb_addf(out, "minimised from: %s\n", from);
	if (census_of(s, from, &fim, &ft, &ffs, &before, &e) == 0) {
		sb_addf(out, "files: %llu -> %llu (%.2f MB -> %.2f MB of content)\n",
			(unsigned long long)before.files, (unsigned long long)now->files,
			(double)before.bytes / 1e6, (double)now->bytes / 1e6);
		sb_addf(out, "rootfs: %.2f MB -> %.2f MB stored; image %.2f MB -> %.2f MB\n",
			(double)root_layer(&fim)->size / 1e6, (double)root_layer(im)->size / 1e6,
			(double)fim.size / 1e6, (double)im->size / 1e6);
	} else {
		sb_addf(out, "(that image is no longer in the store: %s)\n", e.msg);
	}
	if (ffs)
		ext4fs_close(ffs, &e);
	tree_release(&ft);
	oci_image_release(&fim);
}

/* Each ELF's libc imports against the allowlist's calls. */
static int report_elves(struct tree *t, const struct strlist *allowed, const char *tmpbase,
			struct sbuf *out, struct err *e)
{
	struct elves v = {STRLIST_INIT, NULL, 0};
	tree_walk(t, find_elf, &v);
	const struct tree_node *libc = find_libc(t);
	char *dir = xasprintf("%s/build-%d-XXXXXX", tmpbase, (int)getpid());
	int r = mkdir_p(tmpbase, 0700, e);
	if (r == 0 && !mkdtemp(dir))
		r = err_errno(e, CRUMB_EIO, "mkdtemp %s", dir);
	char *lpath = xasprintf("%s/libc", dir);
	if (r == 0 && libc)
		r = extract(libc, lpath, e);
	for (size_t i = 0; r == 0 && i < v.n; i++) {
		char *p = xasprintf("%s/elf%zu", dir, i);
		struct sbuf one = SBUF_INIT;
		struct err ee;
		if ((r = extract(v.nodes[i], p, e)) == 0) {
			/* its first line starts with the file's name: the temporary copy's */
			if (elfsyms_report(p, libc ? lpath : NULL, allowed, &one, &ee) == 0)
				sb_addf(out, "%s%s", v.paths.v[i],
					!strncmp(one.buf, p, strlen(p)) ? one.buf + strlen(p)
									: one.buf);
			else
				sb_addf(out, "%s: %s\n", v.paths.v[i], ee.msg);
		}
		unlink(p);
		free(p);
		sb_release(&one);
	}
	unlink(lpath);
	rmdir(dir);
	free(lpath);
	free(dir);
	strlist_release(&v.paths);
	free(v.nodes);
	return r;
}

int minimize_report(struct oci_store *s, const char *image, struct sbuf *out, struct err *e)
{
	struct oci_image im = {0};
	struct tree t;
	struct ext4fs *fs = NULL;
	struct census now = {0};
	tree_init(&t);
	int r = census_of(s, image, &im, &t, &fs, &now, e);
	const char *from = r == 0 ? oci_config_label(&im.cfg, "crumb.minimized.from") : NULL;
	const char *sc = r == 0 ? oci_config_label(&im.cfg, "crumb.seccomp") : NULL;
	const char *kf = r == 0 ? oci_config_label(&im.cfg, "crumb.minimized.kernel") : NULL;
	struct sysfilter f;
	sysfilter_init(&f);
	if (r == 0) {
		sb_addf(out, "image: %s %s\n", im.ref ? im.ref : "(untagged)", im.manifest.digest);
		if (from)
			report_from(s, from, &now, &im, out);
		else
			sb_addf(out,
				"files: %llu (%.2f MB of content); rootfs %.2f MB stored; image "
				"%.2f MB (not minimised)\n",
				(unsigned long long)now.files, (double)now.bytes / 1e6,
				(double)root_layer(&im)->size / 1e6, (double)im.size / 1e6);
	}
	if (r == 0 && sc && (r = sysfilter_parse(sc, &f, e)) == 0) {
		char *canon = sysfilter_render(&f);
		sb_addf(out, "system calls allowed: %zu: %s (and always %s)\n", sysfilter_count(&f),
			canon, SYSFILTER_IMPLICIT);
		free(canon);
	} else if (r == 0) {
		sb_adds(out, "system calls allowed: all (no crumb.seccomp label)\n");
	}
	if (r == 0 && kf)
		sb_addf(out, "kernel: %s\n", kf);
	if (r == 0) {
		char *tmpbase = xasprintf("%s/tmp", oci_root(s));
		r = report_elves(&t, sc ? &f.names : NULL, tmpbase, out, e);
		free(tmpbase);
	}
	sysfilter_release(&f);
	if (fs) {
		struct err ce;
		ext4fs_close(fs, &ce);
	}
	tree_release(&t);
	oci_image_release(&im);
	return r;
}

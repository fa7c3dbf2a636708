/* build_mount.c: RUN --mount: the disks, tmpfs and secrets a group of RUN steps mounts in the
 * builder VM, none of which reaches the image. */
#include "build_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "confine.h"
#include "ext4.h"

/* A cache's disk: sparse, so its size costs only what is written. */
#define CACHE_DISK_SIZE (8ULL << 30)
#define CACHE_INODES 262144

enum { RM_DISK, RM_TMPFS, RM_SECRET };

struct rm_item {
	size_t step;
	int kind;
	int disk;      /* RM_DISK: index in disks; RM_SECRET: the secrets disk's */
	char *subpath; /* RM_DISK */
	char *target;  /* an absolute path; NULL for a secret only in a variable */
	char *env;     /* RM_SECRET: the variable, or NULL */
	char *options; /* "ro", "rw", "size=N" */
	char *sid;     /* RM_SECRET: the secret's id */
	unsigned long off, len, mode, uid, gid;
};

struct rm_disk {
	char *path; /* the file QEMU opens */
	int readonly, temp;
	int is_cache;
	char *cache_id, *cache_hex;
	int sharing;
	long mode, uid, gid;
	struct tree tree; /* a bind's content, or a new cache's seed (from=) */
	int has_tree;
	int lock_fd;
};

void run_mounts_init(struct run_mounts *m, const struct build_mount_env *env)
{
	memset(m, 0, sizeof(*m));
	m->env = env;
	m->secret_disk = -1;
	m->bind_disk = -1;
	m->memfd = -1;
}

void run_mounts_release(struct run_mounts *m)
{
	for (size_t k = 0; k < m->nitems; k++) {
		free(m->items[k].subpath);
		free(m->items[k].target);
		free(m->items[k].env);
		free(m->items[k].options);
		free(m->items[k].sid);
	}
	free(m->items);
	for (size_t k = 0; k < m->ndisks; k++) {
		struct rm_disk *d = &m->disks[k];
		if (d->temp && d->path)
			unlink(d->path);
		if (d->lock_fd > 0)
			close(d->lock_fd);
		if (d->has_tree)
			tree_release(&d->tree);
		free(d->path);
		free(d->cache_id);
		free(d->cache_hex);
	}
	free(m->disks);
	if (m->secrets.buf)
		memset(m->secrets.buf, 0, m->secrets.len);
	sb_release(&m->secrets);
	if (m->memfd >= 0)
		close(m->memfd);
	const struct build_mount_env *env = m->env;
	run_mounts_init(m, env);
}

/* The target as an absolute, clean path: below workdir when relative, "." and ".." and
 * repeated slashes resolved lexically (Go's path.Join("/", workdir, target)). malloc'd. */
static char *clean_target(const char *workdir, const char *target)
{
	char *joined = build_dest_path(workdir, target);
	struct strlist parts = STRLIST_INIT;
	char *save = NULL;
	for (char *c = strtok_r(joined, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		if (!strcmp(c, "."))
			continue;
		if (!strcmp(c, "..")) {
			if (parts.n)
				free(parts.v[--parts.n]);
			continue;
		}
		strlist_push(&parts, c);
	}
	struct sbuf out = SBUF_INIT;
	for (size_t k = 0; k < parts.n; k++)
		sb_addf(&out, "/%s", parts.v[k]);
	if (!out.len)
		sb_adds(&out, "/");
	strlist_release(&parts);
	free(joined);
	return sb_detach(&out);
}

static int target_ok(const struct spec_instr *i, const char *t, struct err *e)
{
	static const char *const sys[] = {"/proc", "/sys", "/dev"};
	if (!strcmp(t, "/"))
		return at(i, e, CRUMB_EINVAL, "RUN --mount: target / is the image's root");
	for (size_t k = 0; k < 3; k++) {
		size_t n = strlen(sys[k]);
		if (!strncmp(t, sys[k], n) && (!t[n] || t[n] == '/'))
			return at(i, e, CRUMB_EINVAL,
				  "RUN --mount: target %s is in %s, which the builder VM's init "
				  "mounts itself",
				  t, sys[k]);
	}
	return 0;
}

static struct rm_item *add_item(struct run_mounts *m, size_t step, int kind, const char *target)
{
	m->items = xrealloc(m->items, (m->nitems + 1) * sizeof(*m->items));
	struct rm_item *it = &m->items[m->nitems++];
	memset(it, 0, sizeof(*it));
	it->step = step;
	it->kind = kind;
	it->target = target ? xstrdup(target) : NULL;
	return it;
}

static int add_disk(struct run_mounts *m)
{
	m->disks = xrealloc(m->disks, (m->ndisks + 1) * sizeof(*m->disks));
	struct rm_disk *d = &m->disks[m->ndisks];
	memset(d, 0, sizeof(*d));
	d->lock_fd = -1;
	d->mode = d->uid = d->gid = -1;
	return (int)m->ndisks++;
}

static const char *base_of(const char *p)
{
	size_t n = strlen(p);
	while (n > 1 && p[n - 1] == '/')
		n--;
	const char *s = p + n;
	while (s > p && s[-1] != '/')
		s--;
	return *s ? s : p;
}

/* A bind's (or a cache seed's) content: source (default the root) of the context or of from,
 * copied as COPY would into DIR/ of t (a directory's content there, a file as DIR/NAME),
 * hashed into key; *subpath where it is in t. */
static int mount_content(struct run_mounts *m, const struct spec_instr *i, const char *from,
			 const char *source, const char *dir, struct tree *t, char key[65],
			 char **subpath, struct err *e)
{
	const struct build_mount_env *env = m->env;
	struct tree *ft = NULL, img;
	struct spec_eval cv;
	int r = 0, isdir = 1;
	tree_init(&img);
	spec_eval_init(&cv);
	const char *src = source && *source ? source : "/";
	if (from && (r = env->from(env->from_ctx, i, from, &ft, &img, e)) < 0)
		goto out;
	if (ft) {
		struct tree_node *n = tree_lookup(ft, src, 1);
		isdir = !n || n->type == TREE_DIR;
	} else {
		const char *rel = src[0] == '/' ? src + 1 : src;
		char *p = xasprintf("%s/%s", env->copy->ctxreal, *rel ? rel : ".");
		struct stat sb;
		isdir = stat(p, &sb) < 0 || S_ISDIR(sb.st_mode);
		free(p);
	}
	strlist_push(&cv.src, ft ? src : (src[0] == '/' ? (src[1] ? src + 1 : ".") : src));
	cv.dest = xasprintf("%s/", dir);
	cv.from = from ? xstrdup(from) : NULL;
	if ((r = build_copy(env->copy, i, &cv, ft, t, "/", key, e)) == 0)
		*subpath = isdir ? xstrdup(dir) : xasprintf("%s/%s", dir, base_of(src));
out:
	spec_eval_release(&cv);
	tree_release(&img);
	return r;
}

/* Every bind of the group shares one disk (QEMU's microvm has few virtio slots): mount number
 * K's content is its /bK. Attached writable when one of them is rw (each still gets its own
 * copy, so no step sees another's writes). */
static int add_bind(struct run_mounts *m, size_t step, const struct spec_instr *i,
		    const struct spec_mount *sm, const char *target, char key[65], struct err *e)
{
	if (m->bind_disk < 0) {
		m->bind_disk = add_disk(m);
		tree_init(&m->disks[m->bind_disk].tree);
		m->disks[m->bind_disk].has_tree = 1;
		m->disks[m->bind_disk].readonly = 1;
		m->disks[m->bind_disk].temp = 1;
	}
	struct rm_disk *dk = &m->disks[m->bind_disk];
	char *sub = NULL, *dir = xasprintf("/b%d", m->nbinds++);
	if (!sm->readonly)
		dk->readonly = 0;
	int r = mount_content(m, i, sm->from, sm->source, dir, &dk->tree, key, &sub, e);
	free(dir);
	if (r < 0)
		return r;
	struct rm_item *it = add_item(m, step, RM_DISK, target);
	it->disk = m->bind_disk;
	it->subpath = sub;
	it->options = xstrdup(sm->readonly ? "ro" : "rw");
	return 0;
}

static int add_cache(struct run_mounts *m, size_t step, const struct spec_instr *i,
		     const struct spec_mount *sm, const char *target, struct err *e)
{
	const char *id = sm->id && *sm->id ? sm->id : target;
	struct build_hasher h;
	char hex[65];
	build_hash_init(&h);
	build_hash_str(&h, id);
	build_hash_final(&h, hex);
	int d = -1;
	for (size_t k = 0; k < m->ndisks; k++)
		if (m->disks[k].is_cache && !strcmp(m->disks[k].cache_hex, hex))
			d = (int)k;
	if (d < 0) {
		d = add_disk(m);
		struct rm_disk *dk = &m->disks[d];
		dk->is_cache = 1;
		dk->cache_id = xstrdup(id);
		dk->cache_hex = xstrdup(hex);
		dk->sharing = sm->sharing;
		dk->mode = sm->mode;
		dk->uid = sm->uid;
		dk->gid = sm->gid;
		if (sm->from || (sm->source && *sm->source)) {
			/* the seed of a new cache: not part of the key (BuildKit's) */
			char scratch[65] = "";
			char *sub = NULL;
			tree_init(&dk->tree);
			dk->has_tree = 1;
			int r = mount_content(m, i, sm->from, sm->source, "/data",
					      &m->disks[d].tree, scratch, &sub, e);
			free(sub);
			if (r < 0)
				return r;
		}
	}
	struct rm_item *it = add_item(m, step, RM_DISK, target);
	it->disk = d;
	it->subpath = xstrdup("/data");
	it->options = xstrdup(sm->readonly ? "ro" : "rw");
	return 0;
}

static const struct build_secret *find_secret(const struct build_secret *s, size_t n,
					      const char *id)
{
	const struct build_secret *found = NULL;
	for (size_t k = 0; k < n; k++)
		if (!strcmp(s[k].id, id))
			found = &s[k];
	return found;
}

static int secret_missing(const struct spec_instr *i, const char *id, struct err *e)
{
	return at(i, e, CRUMB_ENOENT,
		  "RUN --mount=type=secret: secret '%s' is required but was not given (crumb "
		  "build --secret id=%s,src=FILE)",
		  id, id);
}

/* A secret's id: id=, else source=, else the target's last component. */
static const char *secret_id(const struct spec_mount *sm)
{
	if (sm->id && *sm->id)
		return sm->id;
	if (sm->source && *sm->source)
		return sm->source;
	return sm->target ? base_of(sm->target) : "";
}

static int add_secret(struct run_mounts *m, size_t step, const struct spec_instr *i,
		      const struct spec_mount *sm, const char *workdir, struct err *e)
{
	const char *id = secret_id(sm);
	const struct build_secret *s = find_secret(m->env->secrets, m->env->nsecrets, id);
	if (!s && sm->required)
		return secret_missing(i, id, e);
	if (!s)
		return 0; /* as BuildKit: an optional secret that is missing is no file */
	if (m->secret_disk < 0) {
		m->secret_disk = add_disk(m);
		m->disks[m->secret_disk].readonly = 1;
	}
	/* each secret once on the disk, however many mounts use it */
	unsigned long off = (unsigned long)m->secrets.len;
	size_t k = 0;
	while (k < m->nitems && !(m->items[k].sid && !strcmp(m->items[k].sid, id)))
		k++;
	if (k < m->nitems) {
		off = m->items[k].off;
	} else {
		sb_add(&m->secrets, s->value ? s->value : "", s->len);
		while (m->secrets.len % 512)
			sb_addc(&m->secrets, '\0');
	}
	char *target = NULL;
	if (sm->target && *sm->target)
		target = clean_target(workdir, sm->target);
	else if (!sm->env)
		target = xasprintf("/run/secrets/%s", base_of(id));
	int r = target ? target_ok(i, target, e) : 0;
	if (r == 0 && target) {
		struct rm_item *it = add_item(m, step, RM_SECRET, target);
		it->sid = xstrdup(id);
		it->disk = m->secret_disk;
		it->off = off;
		it->len = (unsigned long)s->len;
		it->mode = sm->mode >= 0 ? (unsigned long)sm->mode : 0400;
		it->uid = sm->uid >= 0 ? (unsigned long)sm->uid : 0;
		it->gid = sm->gid >= 0 ? (unsigned long)sm->gid : 0;
	}
	if (r == 0 && sm->env) {
		if (!*sm->env || strchr(sm->env, '='))
			r = at(i, e, CRUMB_EINVAL,
			       "RUN --mount=type=secret: env=%s is not a variable name", sm->env);
		else {
			struct rm_item *it = add_item(m, step, RM_SECRET, NULL);
			it->sid = xstrdup(id);
			it->disk = m->secret_disk;
			it->off = off;
			it->len = (unsigned long)s->len;
			it->env = xstrdup(sm->env);
		}
	}
	free(target);
	return r;
}

int run_mounts_add(struct run_mounts *m, size_t step, const struct spec_instr *i,
		   const struct spec_eval *v, const char *workdir, char key[65], struct err *e)
{
	int r = 0;
	for (size_t k = 0; r == 0 && k < v->nmounts; k++) {
		const struct spec_mount *sm = &v->mounts[k];
		if (sm->type == SPEC_MOUNT_SECRET) {
			r = add_secret(m, step, i, sm, workdir, e);
			continue;
		}
		if (sm->type == SPEC_MOUNT_SSH) /* the parser refuses it */
			return at(i, e, CRUMB_EUNSUPP, "RUN --mount=type=ssh is not supported");
		char *t = clean_target(workdir, sm->target ? sm->target : "");
		if ((r = target_ok(i, t, e)) == 0) {
			if (sm->type == SPEC_MOUNT_TMPFS) {
				struct rm_item *it = add_item(m, step, RM_TMPFS, t);
				it->options =
				    sm->size ? xasprintf("size=%llu", (unsigned long long)sm->size)
					     : xstrdup("rw");
			} else if (sm->type == SPEC_MOUNT_CACHE) {
				r = add_cache(m, step, i, sm, t, e);
			} else {
				r = add_bind(m, step, i, sm, t, key, e);
			}
		}
		free(t);
	}
	return r;
}

size_t run_mounts_ndisks(const struct run_mounts *m)
{
	return m->ndisks;
}

size_t run_mounts_ndisks_with(const struct run_mounts *m, const struct spec_eval *v)
{
	size_t n = m->ndisks;
	int secrets = m->secret_disk >= 0, binds = m->bind_disk >= 0;
	for (size_t k = 0; k < v->nmounts; k++) {
		int t = (int)v->mounts[k].type;
		if (t == SPEC_MOUNT_CACHE)
			n++; /* a cache already there counts again: an upper bound */
		else if (t == SPEC_MOUNT_BIND && !binds)
			n += binds = 1;
		else if (t == SPEC_MOUNT_SECRET && !secrets)
			n += secrets = 1;
	}
	return n;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char *run_mounts_secret_sig(const struct spec_eval *v)
{
	struct strlist ids = STRLIST_INIT;
	for (size_t k = 0; k < v->nmounts; k++)
		if (v->mounts[k].type == SPEC_MOUNT_SECRET &&
		    !strlist_has(&ids, secret_id(&v->mounts[k])))
			strlist_push(&ids, secret_id(&v->mounts[k]));
	if (ids.n)
		qsort(ids.v, ids.n, sizeof(*ids.v), cmp_str);
	struct sbuf sig = SBUF_INIT;
	sb_adds(&sig, "");
	for (size_t k = 0; k < ids.n; k++)
		sb_addf(&sig, "%s\n", ids.v[k]);
	strlist_release(&ids);
	return sb_detach(&sig);
}

/* A cache's disk in the store (made when missing: /data with the mount's mode and owner,
 * seeded from from=), locked for the boot; busy with sharing=private: a fresh one instead. */
static int open_cache(struct run_mounts *m, struct rm_disk *d, struct err *e)
{
	char *dir = xasprintf("%s/buildcache/%s", m->env->root, d->cache_hex);
	char *lock = xasprintf("%s/lock", dir);
	int r = mkdir_p(dir, 0700, e);
	if (r == 0 && (d->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
		r = err_errno(e, CRUMB_EIO, "%s", lock);
	if (r == 0 && d->sharing == SPEC_SHARING_PRIVATE &&
	    flock(d->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		close(d->lock_fd);
		d->lock_fd = -1;
		d->temp = 1;
		d->path = xasprintf("%s/cache-%d.ext4", m->env->tmp, ++m->ntmp);
	} else if (r == 0 && flock(d->lock_fd, LOCK_EX) < 0) {
		r = err_errno(e, CRUMB_EIO, "lock %s", lock);
	} else if (r == 0) {
		d->path = xasprintf("%s/cache.ext4", dir);
		char *idf = xasprintf("%s/id", dir);
		struct stat sb;
		if (stat(idf, &sb) < 0)
			r = write_file_atomic(idf, d->cache_id, strlen(d->cache_id), 0600, e);
		free(idf);
	}
	struct stat sb;
	if (r == 0 && stat(d->path, &sb) < 0) {
		struct tree t;
		struct tree_node *n;
		tree_init(&t);
		if (d->has_tree)
			r = tree_copy(&t, "/", &d->tree, "/", 0, e);
		if (r == 0 && !(n = tree_lookup(&t, "/data", 0)))
			r = tree_add(&t, "/data", TREE_DIR, 0755, &n, e);
		if (r == 0) {
			n->mode = d->mode >= 0 ? (uint32_t)d->mode : 0755;
			n->uid = d->uid >= 0 ? (uint32_t)d->uid : 0;
			n->gid = d->gid >= 0 ? (uint32_t)d->gid : 0;
		}
		struct tree_stats ts;
		tree_stats(&t, &ts);
		struct ext4_opts eo = {.epoch = m->env->epoch, .label = "crumb-cache"};
		eo.size = CACHE_DISK_SIZE + ts.bytes;
		eo.inodes = CACHE_INODES + ts.nodes;
		if (r == 0)
			r = ext4_write(&t, d->path, &eo, e);
		tree_release(&t);
	}
	free(dir);
	free(lock);
	return r;
}

/* The secrets disk: a memfd QEMU opens through /proc, so the bytes are on no filesystem. */
static int secrets_disk(struct run_mounts *m, struct rm_disk *d, struct err *e)
{
	m->memfd = memfd_create("crumb-secrets", MFD_CLOEXEC);
	if (m->memfd < 0)
		return err_errno(e, CRUMB_EIO, "memfd_create");
	size_t done = 0;
	while (done < m->secrets.len) {
		ssize_t w = write(m->memfd, m->secrets.buf + done, m->secrets.len - done);
		if (w < 0)
			return err_errno(e, CRUMB_EIO, "secrets: write");
		done += (size_t)w;
	}
	d->path = xasprintf("/proc/%d/fd/%d", (int)getpid(), m->memfd);
	return 0;
}

static int by_hex(const void *a, const void *b)
{
	const struct rm_disk *x = *(struct rm_disk *const *)a, *y = *(struct rm_disk *const *)b;
	return strcmp(x->cache_hex, y->cache_hex);
}

int run_mounts_prepare(struct run_mounts *m, struct vm_volume *vols, size_t *nvols, struct err *e)
{
	int r = 0;
	*nvols = 0;
	if (m->ndisks > BUILD_MAX_DISKS)
		return err_set(
		    e, CRUMB_EUNSUPP,
		    "RUN --mount: one step needs %zu disks (its caches, one for its binds, "
		    "one for its secrets); the builder VM takes %d",
		    m->ndisks, BUILD_MAX_DISKS);
	/* caches locked in the order of their ids: two builds never wait on each other */
	struct rm_disk **caches = xcalloc(m->ndisks + 1, sizeof(*caches));
	size_t nc = 0;
	for (size_t k = 0; k < m->ndisks; k++)
		if (m->disks[k].is_cache)
			caches[nc++] = &m->disks[k];
	qsort(caches, nc, sizeof(*caches), by_hex);
	for (size_t k = 0; r == 0 && k < nc; k++)
		r = open_cache(m, caches[k], e);
	free(caches);
	for (size_t k = 0; r == 0 && k < m->ndisks; k++) {
		struct rm_disk *d = &m->disks[k];
		if ((int)k == m->secret_disk) {
			r = secrets_disk(m, d, e);
		} else if (!d->is_cache) {
			struct tree_stats ts;
			struct ext4_opts eo = {.epoch = m->env->epoch};
			tree_stats(&d->tree, &ts);
			eo.size = ext4_auto_size(&d->tree, &eo) + (d->readonly ? 0 : (1ULL << 30));
			eo.inodes = ts.nodes + (d->readonly ? 64 : 65536);
			d->path = xasprintf("%s/bind-%d.ext4", m->env->tmp, ++m->ntmp);
			r = ext4_write(&d->tree, d->path, &eo, e);
		} else if (d->temp) { /* a private cache, busy: a fresh one for this boot */
			struct tree t;
			struct tree_node *n;
			tree_init(&t);
			r = tree_add(&t, "/data", TREE_DIR, d->mode >= 0 ? (uint32_t)d->mode : 0755,
				     &n, e);
			if (r == 0) {
				n->uid = d->uid >= 0 ? (uint32_t)d->uid : 0;
				n->gid = d->gid >= 0 ? (uint32_t)d->gid : 0;
			}
			struct ext4_opts eo = {.epoch = m->env->epoch,
					       .size = CACHE_DISK_SIZE,
					       .inodes = CACHE_INODES};
			if (r == 0)
				r = ext4_write(&t, d->path, &eo, e);
			tree_release(&t);
		}
		vols[k] = (struct vm_volume){d->path, d->readonly};
	}
	if (r == 0)
		*nvols = m->ndisks;
	return r;
}

int run_mount_check(const struct spec_instr *i, const struct spec_mount *sm,
		    const struct build_secret *secrets, size_t n, struct err *e)
{
	int r = 0;
	if (sm->target && sm->target[0] == '/' && !strchr(sm->target, '$')) {
		char *t = clean_target("/", sm->target);
		r = target_ok(i, t, e);
		free(t);
	}
	if (r == 0 && sm->type == SPEC_MOUNT_SECRET && sm->required) {
		const char *id = secret_id(sm);
		if (!strchr(id, '$') && !(sm->target && strchr(sm->target, '$')) &&
		    !find_secret(secrets, n, id))
			r = secret_missing(i, id, e);
	}
	return r;
}

void run_mounts_config(const struct run_mounts *m, size_t step, struct initcfg_step *s)
{
	for (size_t k = 0; k < m->nitems; k++) {
		const struct rm_item *it = &m->items[k];
		char dev[16];
		if (it->step != step)
			continue;
		snprintf(dev, sizeof(dev), "/dev/vd%c", 'b' + it->disk);
		if (it->kind == RM_DISK)
			initcfg_step_add_mount(s, "ext4", dev, it->subpath, it->target,
					       it->options);
		else if (it->kind == RM_TMPFS)
			initcfg_step_add_mount(s, "tmpfs", "tmpfs", "/", it->target, it->options);
		else
			initcfg_step_add_secret(s, dev, it->off, it->len, it->mode, it->uid,
						it->gid, it->target ? it->target : it->env);
	}
}

/* ---- crumb build --secret ---- */

void build_secret_release(struct build_secret *s)
{
	free(s->id);
	free(s->path);
	free(s->value);
	memset(s, 0, sizeof(*s));
}

int build_secret_parse(const char *arg, const char *(*getenv_fn)(void *ctx, const char *name),
		       void *ctx, struct build_secret *out, struct err *e)
{
	char *id = NULL, *src = NULL, *env = NULL, *type = NULL;
	char *copy = xstrdup(arg), *save = NULL;
	int r = 0;
	memset(out, 0, sizeof(*out));
	for (char *f = strtok_r(copy, ",", &save); r == 0 && f; f = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(f, '=');
		char **slot = NULL;
		if (eq) {
			*eq = 0;
			slot = !strcmp(f, "id")				   ? &id
			       : !strcmp(f, "src") || !strcmp(f, "source") ? &src
			       : !strcmp(f, "env")			   ? &env
			       : !strcmp(f, "type")			   ? &type
									   : NULL;
		}
		if (!slot)
			r = err_set(e, CRUMB_EINVAL,
				    "--secret: unexpected key '%s' (id=ID[,src=PATH|env=VAR])", f);
		else if (!eq[1])
			r = err_set(e, CRUMB_EINVAL, "--secret: %s= is empty", f);
		else {
			free(*slot);
			*slot = xstrdup(eq + 1);
		}
	}
	if (r == 0 && !id)
		r = err_set(e, CRUMB_EINVAL, "--secret: id= is missing (id=ID[,src=PATH|env=VAR])");
	if (r == 0 && type && strcmp(type, "file") && strcmp(type, "env"))
		r = err_set(e, CRUMB_EINVAL, "--secret id=%s: type=%s (want file or env)", id,
			    type);
	if (r == 0 && src && env)
		r = err_set(e, CRUMB_EINVAL, "--secret id=%s: give src= or env=, not both", id);
	if (r == 0 && !src && !env) {
		/* buildx: the variable ID when set (or type=env), else the file ID */
		if ((type && !strcmp(type, "env")) || (!type && getenv_fn(ctx, id)))
			env = xstrdup(id);
		else
			src = xstrdup(id);
	} else if (r == 0 && type && !strcmp(type, "env") && src) {
		env = src; /* type=env,src=VAR names the variable (buildx) */
		src = NULL;
	}
	if (r == 0 && env) {
		const char *v = getenv_fn(ctx, env);
		if (!v)
			r = err_set(e, CRUMB_ENOENT, "--secret id=%s: the variable %s is not set",
				    id, env);
		else {
			out->value = xstrdup(v);
			out->len = strlen(v);
		}
	}
	if (r == 0) {
		out->id = id;
		out->path = src;
		id = src = NULL;
	}
	free(id);
	free(src);
	free(env);
	free(type);
	free(copy);
	return r;
}

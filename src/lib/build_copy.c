/* build_copy.c: COPY and ADD for build.c: the context, .dockerignore, --from, --chown/--chmod. */
#include "build_int.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "confine.h"
#include "fsimage.h"
#include "import.h"
#include "rootfs.h"

/* ---- ownership (--chown) ---- */

/* Looks name up in the tree's /etc/passwd (field 2 = uid, 3 = gid) or /etc/group. */
static int db_lookup(struct tree *t, const char *file, const char *name, uint32_t *id,
		     uint32_t *gid)
{
	struct tree_node *n = tree_lookup(t, file, 1);
	if (!n || n->type != TREE_REG || n->size > (16 << 20))
		return -1;
	char *buf = xmalloc(n->size + 1);
	struct err e;
	int found = -1;
	if (tree_read(n, 0, buf, n->size, &e) == 0) {
		buf[n->size] = 0;
		for (char *l = strtok(buf, "\n"); l && found < 0; l = strtok(NULL, "\n")) {
			char *f[4] = {0};
			char *p = l;
			for (int k = 0; k < 4 && p; k++) {
				f[k] = p;
				p = strchr(p, ':');
				if (p)
					*p++ = 0;
			}
			if (f[0] && f[2] && !strcmp(f[0], name)) {
				*id = (uint32_t)strtoul(f[2], NULL, 10);
				if (gid && f[3])
					*gid = (uint32_t)strtoul(f[3], NULL, 10);
				found = 0;
			}
		}
	}
	free(buf);
	return found;
}

static int parse_id(const char *s, uint32_t *out)
{
	char *end;
	if (!*s || *s < '0' || *s > '9')
		return -1;
	unsigned long v = strtoul(s, &end, 10);
	if (*end || v > 0xffffffffUL)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* "user[:group]" with names from the stage's own /etc/passwd and /etc/group. */
static int resolve_owner(struct tree *t, const char *spec, uint32_t *uid, uint32_t *gid,
			 struct err *e)
{
	char *u = xstrdup(spec), *g = strchr(u, ':');
	int r = 0;
	if (g)
		*g++ = 0;
	uint32_t pgid = 0;
	if (parse_id(u, uid) == 0)
		pgid = *uid;
	else if (db_lookup(t, "/etc/passwd", u, uid, &pgid) < 0)
		r = err_set(e, CRUMB_ENOENT, "--chown %s: no user '%s' in the image's /etc/passwd",
			    spec, u);
	*gid = pgid;
	if (r == 0 && g && parse_id(g, gid) < 0 && db_lookup(t, "/etc/group", g, gid, NULL) < 0)
		r = err_set(e, CRUMB_ENOENT, "--chown %s: no group '%s' in the image's /etc/group",
			    spec, g);
	free(u);
	return r;
}

struct attr_walk {
	int chown, chmod;
	uint32_t uid, gid, mode;
};

static int set_attrs(struct tree_node *n, const char *path, void *ctx)
{
	struct attr_walk *a = ctx;
	(void)path;
	if (a->chown) {
		n->uid = a->uid;
		n->gid = a->gid;
	}
	if (a->chmod && n->type != TREE_LNK)
		n->mode = a->mode;
	return 0;
}

/* ---- .dockerignore ---- */

/* Go's filepath.Match plus "**" (any number of path components), as Docker's patternmatcher. */
static int pmatch(const char *p, const char *s)
{
	for (; *p; p++, s++) {
		if (p[0] == '*' && p[1] == '*') {
			p += 2;
			if (*p == '/')
				p++;
			for (;; s++) {
				if (pmatch(p, s))
					return 1;
				if (!*s)
					return 0;
			}
		}
		if (*p == '*') {
			for (;; s++) {
				if (pmatch(p + 1, s))
					return 1;
				if (!*s || *s == '/')
					return 0;
			}
		}
		if ((*p == '?' || *p == '[') && (!*s || *s == '/'))
			return 0;
		if (*p == '?')
			continue;
		if (*p == '[') {
			const char *q = p + 1;
			int neg = *q == '^' || *q == '!', hit = 0;
			q += neg;
			for (; *q && *q != ']'; q++) {
				if (q[1] == '-' && q[2] && q[2] != ']') {
					hit |= *s >= q[0] && *s <= q[2];
					q += 2;
				} else {
					hit |= *s == (*q == '\\' && q[1] ? *++q : *q);
				}
			}
			if (!*q || hit == neg)
				return 0;
			p = q;
			continue;
		}
		if (*p == '\\' && p[1])
			p++;
		if (*p != *s)
			return 0;
	}
	return !*s;
}

/* Is the context-relative path rel excluded? The last matching pattern wins;
 * a pattern matching a parent directory excludes everything below it. */
static int ignored(const struct strlist *ignore, const char *rel)
{
	int out = 0;
	for (size_t k = 0; k < ignore->n; k++) {
		const char *pat = ignore->v[k];
		int neg = pat[0] == '!';
		pat += neg;
		char *s = xstrdup(rel);
		int hit = 0;
		for (char *slash = s + strlen(s);;) {
			*slash = 0;
			if ((hit = pmatch(pat, s)))
				break;
			if (!(slash = strrchr(s, '/')))
				break;
		}
		free(s);
		if (hit)
			out = !neg;
	}
	return out;
}

void build_load_ignore(const char *context, struct strlist *out)
{
	char *p = xasprintf("%s/.dockerignore", context);
	struct sbuf sb = SBUF_INIT;
	struct err e;
	if (read_file(p, 1 << 20, &sb, &e) == 0) {
		for (char *l = strtok(sb.buf, "\n"); l; l = strtok(NULL, "\n")) {
			l[strcspn(l, "\r")] = 0;
			l += strspn(l, " \t");
			size_t n = strlen(l);
			while (n && (l[n - 1] == ' ' || l[n - 1] == '\t'))
				l[--n] = 0;
			if (!*l || *l == '#')
				continue;
			int neg = *l == '!';
			char *pat = l + neg;
			while (*pat == '/')
				pat++;
			while (!strncmp(pat, "./", 2))
				pat += 2;
			n = strlen(pat);
			while (n && pat[n - 1] == '/')
				pat[--n] = 0;
			if (*pat)
				strlist_push_owned(out, xasprintf("%s%s", neg ? "!" : "", pat));
		}
	}
	sb_release(&sb);
	free(p);
}

struct prune_walk {
	const struct strlist *ignore;
	const char *base; /* context-relative path of the walk's root */
	struct strlist drop;
};

static int prune_node(struct tree_node *n, const char *path, void *ctx)
{
	struct prune_walk *w = ctx;
	(void)n;
	if (!*path)
		return 0;
	char *rel = *w->base ? xasprintf("%s/%s", w->base, path) : xstrdup(path);
	if (ignored(w->ignore, rel))
		strlist_push(&w->drop, path);
	free(rel);
	return 0;
}

/* Removes from the copy at dest (of the context path hostpath) what .dockerignore excludes. */
static int drop_ignored(const struct build_copy_env *env, struct tree *t, const char *dest,
			const char *hostpath, struct err *e)
{
	struct tree_node *n = tree_lookup(t, dest, 0);
	size_t cl = strlen(env->ctxreal);
	if (!env->ignore->n || !n || n->type != TREE_DIR || strncmp(hostpath, env->ctxreal, cl))
		return 0;
	const char *base = hostpath + cl + (hostpath[cl] == '/');
	struct prune_walk w = {env->ignore, base, STRLIST_INIT};
	struct tree sub = {.root = n};
	tree_walk(&sub, prune_node, &w);
	int r = 0;
	for (size_t k = 0; r == 0 && k < w.drop.n; k++) {
		char *p = xasprintf("%s/%s", dest, w.drop.v[k]);
		r = tree_remove(t, p, e);
		free(p);
	}
	strlist_release(&w.drop);
	return r;
}

/* ---- COPY / ADD ---- */

static int has_glob(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

/* Expands one COPY source from the context into host paths (sorted), refusing any that leave it. */
static int context_sources(const struct build_copy_env *env, const char *src, struct strlist *out,
			   int host, struct err *e)
{
	char *ctx = host ? xstrdup("/") : realpath(env->context, NULL);
	if (!ctx)
		return err_errno(e, CRUMB_ENOENT, "build context %s", env->context);
	int r = 0, depth = 0;
	/* Lexically first: "../x" names something outside, whatever exists there. */
	for (const char *p = src; !host && *p;) {
		size_t n = strcspn(p, "/");
		if (n == 2 && !strncmp(p, "..", 2))
			depth--;
		else if (n && !(n == 1 && *p == '.'))
			depth++;
		if (depth < 0) {
			free(ctx);
			return err_set(e, CRUMB_EUNSAFE, "outside the build context");
		}
		p += n + (p[n] == '/');
	}
	char *pat = host ? xstrdup(src) : xasprintf("%s/%s", ctx, src);
	glob_t g = {0};
	if (has_glob(src)) {
		int gr = glob(pat, 0, NULL, &g);
		if (gr == GLOB_NOMATCH || g.gl_pathc == 0)
			r = err_set(e, CRUMB_ENOENT, "no source files were specified by '%s'", src);
		else if (gr)
			r = err_set(e, CRUMB_EIO, "%s: cannot expand", src);
		size_t cl = strlen(ctx);
		for (size_t k = 0; r == 0 && k < g.gl_pathc; k++)
			if (host ||
			    !ignored(env->ignore, g.gl_pathv[k] + cl + (g.gl_pathv[k][cl] == '/')))
				strlist_push(out, g.gl_pathv[k]);
		if (r == 0 && !out->n)
			r = err_set(e, CRUMB_ENOENT, "every file '%s' names is in .dockerignore",
				    src);
	} else if (!host && ignored(env->ignore, pat + strlen(ctx) + 1)) {
		r = err_set(e, CRUMB_ENOENT, "excluded by .dockerignore");
	} else {
		strlist_push(out, pat);
	}
	for (size_t k = 0; r == 0 && k < out->n; k++) {
		char *real = realpath(out->v[k], NULL);
		if (!real)
			r = err_set(e, CRUMB_ENOENT, "%s",
				    errno == ENOENT ? (host ? "no such file on the host"
							    : "no such file in the build context")
						    : strerror(errno));
		else if (!confine_inside(real, ctx))
			r = err_set(e, CRUMB_EUNSAFE, "%s: outside the build context", src);
		free(real);
	}
	globfree(&g);
	free(pat);
	free(ctx);
	return r;
}

/* Adds --deps closures for every ELF file under host path p to t (a struct tree *): a dir_fn. */
static int add_deps(const char *p, int depth, void *t, struct err *e)
{
	struct stat sb;
	if (lstat(p, &sb) < 0 || depth > 64)
		return 0;
	if (S_ISREG(sb.st_mode))
		return rootfs_add_closure(t, p, e);
	if (!S_ISDIR(sb.st_mode))
		return 0;
	return dir_each(p, depth + 1, add_deps, t, e);
}

static int is_archive(const char *path)
{
	enum fsimage_kind k;
	struct err e = {0};
	struct stat sb;
	if (fsimage_probe(path, &k, &e) < 0 || stat(path, &sb) < 0 || sb.st_size < 6)
		return 0;
	return k == FSIMAGE_GZIP || k == FSIMAGE_BZIP2 || k == FSIMAGE_XZ || k == FSIMAGE_ZSTD ||
	       k == FSIMAGE_TAR;
}

static const char *basename_of(const char *p)
{
	const char *s = strrchr(p, '/');
	return s && s[1] ? s + 1 : p;
}

char *build_dest_path(const char *workdir, const char *dest)
{
	if (dest[0] == '/')
		return xstrdup(dest);
	const char *wd = workdir ? workdir : "/";
	return xasprintf("%s%s%s", wd, wd[strlen(wd) - 1] == '/' ? "" : "/", dest);
}

struct host_walk {
	const struct strlist *allow;
	struct err *e;
};

static int host_node(struct tree_node *n, const char *path, void *ctx)
{
	struct host_walk *w = ctx;
	(void)path;
	return n->type == TREE_REG && n->src_path ? confine_host_file(n->src_path, w->allow, w->e)
						  : 0;
}

/* One COPY/ADD being carried out: each source goes into tmp at its final path;
 * tmp is hashed, then merged into the stage. */
struct copy {
	const struct build_copy_env *env;
	const struct spec_instr *i;
	const struct spec_eval *v;
	struct tree *t;	     /* the stage's tree */
	const char *workdir; /* the stage's WORKDIR, or NULL */
	char *key;	     /* the stage's cache key, 65 bytes */
	int add, host;
	struct tree *from;     /* --from=STAGE or IMAGE: its tree */
	char *dest;	       /* the destination, without trailing "/" or "/." */
	int dir_dest;	       /* dest is a directory the sources go into */
	struct tree tmp, deps; /* what lands at dest; --deps libraries at their own paths */
};

/* The destination path, and whether it is a directory: "dir/", ".", "dir/.",
 * several sources, or one that exists (as Docker). */
static void copy_dest(struct copy *c)
{
	char *dest = build_dest_path(c->workdir, c->v->dest);
	struct tree_node *dnode;
	size_t nsrc = c->v->src.n + c->v->nheredoc_src;
	size_t dl = strlen(dest);
	c->dir_dest = dest[dl - 1] == '/' || nsrc > 1 ||
		      (dl >= 2 && !strcmp(dest + dl - 2, "/.")) ||
		      ((dnode = tree_lookup(c->t, dest, 1)) && dnode->type == TREE_DIR);
	while (dl > 1 && (dest[dl - 1] == '/' || (dl >= 2 && !strcmp(dest + dl - 2, "/.")))) {
		dl -= dest[dl - 1] == '/' ? 1 : 2;
		dest[dl ? dl : 1] = 0;
		dl = strlen(dest);
	}
	c->dest = dest;
}

/* Where a source named name lands: dest itself for a directory, else inside a directory dest. */
static char *copy_target(const struct copy *c, int is_dir, const char *name)
{
	return !is_dir && c->dir_dest ? xasprintf("%s/%s", c->dest, basename_of(name))
				      : xstrdup(c->dest);
}

/* COPY --from=STAGE src. */
static int copy_stage_source(struct copy *c, const char *src, struct err *e)
{
	struct tree_node *n = tree_lookup(c->from, src, 1);
	if (!n)
		return at(c->i, e, CRUMB_ENOENT,
			  "COPY --from=%s %s: not found in that stage or image", c->v->from, src);
	char *d = copy_target(c, n->type == TREE_DIR, src);
	int r = tree_copy(&c->tmp, d, c->from, src, TREE_COPY_FOLLOW, e);
	free(d);
	return r < 0 ? at_err(c->i, e, r) : 0;
}

/* An archive ADD unpacks into dest. */
static int copy_unpack(struct copy *c, const char *hp, struct err *e)
{
	struct import_opts io = {.dest = c->dest, .keep_owner = 1};
	if (!tree_lookup(&c->tmp, c->dest, 1)) {
		struct tree_node *dn;
		tree_add(&c->tmp, c->dest, TREE_DIR, 0755, &dn, e);
	}
	return import_archive(&c->tmp, hp, &io, e);
}

/* One host path hp that source src expanded to: a file or directory of the
 * context, or (--from=host) a host file the trust rules allow. */
static int copy_host_path(struct copy *c, const char *src, const char *hp, struct err *e)
{
	struct stat sb;
	int r = 0;
	if (stat(hp, &sb) < 0)
		return at(c->i, e, CRUMB_ENOENT, "%s: %s", src, strerror(errno));
	if (c->add && !c->host && is_archive(hp))
		return (r = copy_unpack(c, hp, e)) < 0 ? at_err(c->i, e, r) : 0;
	char *real = realpath(hp, NULL);
	if (c->host && !real)
		r = err_errno(e, CRUMB_ENOENT, "%s", hp);
	else if (c->host)
		r = confine_host(real, c->env->allow, e);
	if (r < 0) {
		free(real);
		return at(c->i, e, r, "COPY --from=host %s: %s", src, e->msg);
	}
	const char *from = real ? real : hp;
	char *d = copy_target(c, S_ISDIR(sb.st_mode), hp);
	r = tree_add_host(&c->tmp, from, d, e);
	if (r == 0 && !c->host)
		r = drop_ignored(c->env, &c->tmp, d, from, e);
	if (r == 0 && c->v->deps)
		r = add_deps(from, 0, &c->deps, e);
	free(real);
	free(d);
	return r < 0 ? at_err(c->i, e, r) : 0;
}

/* A source from the context (or the host): its expansion, each path in turn. */
static int copy_context_source(struct copy *c, const char *src, struct err *e)
{
	struct strlist paths = STRLIST_INIT;
	int r = context_sources(c->env, src, &paths, c->host, e);
	if (r < 0)
		r = at(c->i, e, r, "%s %s: %s", spec_kind_name(c->i->kind), src, e->msg);
	if (paths.n > 1)
		c->dir_dest = 1;
	for (size_t p = 0; r == 0 && p < paths.n; p++)
		r = copy_host_path(c, src, paths.v[p], e);
	strlist_release(&paths);
	return r;
}

static int copy_sources(struct copy *c, struct err *e)
{
	int r = 0;
	for (size_t k = 0; r == 0 && k < c->v->src.n; k++) {
		const char *src = c->v->src.v[k];
		if (c->add && (!strncmp(src, "http://", 7) || !strncmp(src, "https://", 8) ||
			       !strncmp(src, "git@", 4)))
			r = at(c->i, e, CRUMB_EUNSUPP,
			       "ADD %s: remote sources are not supported (builds are offline); "
			       "download it into the context first",
			       src);
		else if (c->from)
			r = copy_stage_source(c, src, e);
		else
			r = copy_context_source(c, src, e);
	}
	for (size_t k = 0; r == 0 && k < c->v->nheredoc_src; k++) {
		const struct spec_kv *h = &c->v->heredoc_src[k];
		char *d = c->dir_dest ? xasprintf("%s/%s", c->dest, h->key) : xstrdup(c->dest);
		const char *body = h->value ? h->value : "";
		if ((r = tree_add_data(&c->tmp, d, body, strlen(body), 0644, e)) < 0)
			r = at_err(c->i, e, r);
		free(d);
	}
	return r;
}

/* --deps libraries are host files too (the same rules, file by file); then
 * --chown and --chmod, on what was copied only, not the directories above dest. */
static int copy_attrs(struct copy *c, struct err *e)
{
	int r = 0;
	if (c->v->deps) {
		struct host_walk hw = {c->env->allow, e};
		if ((r = tree_walk(&c->deps, host_node, &hw)) < 0)
			return at(c->i, e, r, "COPY --from=host --deps: %s", e->msg);
	}
	struct attr_walk aw = {0};
	if (c->v->chown) {
		aw.chown = 1;
		if ((r = resolve_owner(c->t, c->v->chown, &aw.uid, &aw.gid, e)) < 0)
			return at_err(c->i, e, r);
	}
	if (c->v->chmod) {
		aw.chmod = 1;
		aw.mode = (uint32_t)strtoul(c->v->chmod, NULL, 8) & 07777;
	}
	struct tree_node *n = aw.chown || aw.chmod ? tree_lookup(&c->tmp, c->dest, 0) : NULL;
	if (n) {
		struct tree sub = {.root = n};
		tree_walk(&sub, set_attrs, &aw);
	}
	return 0;
}

/* The step's key (the instruction and everything copied, mtimes clamped
 * first: RUN steps and the key see the image's times), then the merge. */
static int copy_commit(struct copy *c, struct err *e)
{
	struct build_hasher h;
	char key[65];
	int64_t epoch = c->env->epoch;
	tree_walk(&c->tmp, build_clamp_mtime, &epoch);
	tree_walk(&c->deps, build_clamp_mtime, &epoch);
	build_hash_init(&h);
	build_hash_str(&h, c->i->original);
	int r = build_hash_tree(&c->tmp, &h, e);
	if (r == 0)
		r = build_hash_tree(&c->deps, &h, e);
	build_hash_final(&h, key);
	if (r < 0)
		return at_err(c->i, e, r);
	chain(c->key, "COPY", key);
	/* What tmp holds below dest goes into the stage; directories that were
	 * already there (parents made on the way included) keep their owner and mode (Docker). */
	if (tree_lookup(&c->tmp, c->dest, 0))
		r = tree_copy(c->t, c->dest, &c->tmp, c->dest, TREE_COPY_KEEP_DIRS, e);
	if (r == 0 && c->deps.root->nkids)
		r = tree_copy(c->t, "/", &c->deps, "/", TREE_COPY_KEEP_DIRS, e);
	return r < 0 ? at_err(c->i, e, r) : 0;
}

int build_copy(const struct build_copy_env *env, const struct spec_instr *i,
	       const struct spec_eval *v, struct tree *from, struct tree *t, const char *workdir,
	       char key[65], struct err *e)
{
	struct copy c = {.env = env, .i = i, .v = v, .t = t, .workdir = workdir, .key = key};
	c.add = i->kind == SPEC_ADD;
	c.host = v->from && !strcmp(v->from, "host");
	c.from = from;
	tree_init(&c.tmp);
	tree_init(&c.deps);
	copy_dest(&c);
	int r = copy_sources(&c, e);
	if (r == 0 && (r = copy_attrs(&c, e)) == 0)
		r = copy_commit(&c, e);
	tree_release(&c.tmp);
	tree_release(&c.deps);
	free(c.dest);
	return r;
}

/* closure.c: replays glibc ld.so's library search over the host filesystem, loading nothing. */
#include "closure.h"

#include <ctype.h>
#include <elf.h>
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elf.h"

#define CONF_DEPTH_MAX 16 /* nested ld.so.conf includes */
#define OBJ_MAX 65536	  /* objects in one root's closure */

/* One loaded object of the replayed process (ld.so's struct link_map). */
struct obj {
	char *path;   /* as found (l_name); NULL for a name not found */
	char *origin; /* $ORIGIN, NULL if unknown */
	struct elfinfo info;
	struct strlist names; /* names it was requested by (l_libname) */
	struct strlist paths; /* other paths found to be this file */
	dev_t dev;
	ino_t ino;
	int loader; /* index of the object that caused the load, -1 for none */
	int interp;
};

/* One replayed process: the root, its interpreter, what they load. */
struct run {
	struct closure *c;
	struct obj *o;
	size_t n, alloc;
	/* what the process's ld.so would be built for */
	int elfclass, machine, data;
	const char *lib, *platform; /* $LIB, $PLATFORM */
	struct strlist defdirs;	    /* default dirs, with a trailing '/' */
	struct strlist cachedirs;   /* ld.so.conf dirs + built-in, with a trailing '/' */
	const char *const *subdirs; /* hwcap subdirs to try in each dir, "" last */
	char triplet_lib[64];
};

/* Flags for the candidate checks. */
enum {
	F_SKIP_BAD = 1,	 /* a non-ELF candidate is skipped (ld.so.cache never holds one) */
	F_NO_SYSDIR = 2, /* DF_1_NODEFLIB: skip candidates in default dirs */
};

static const char *const x86_64_subdirs[] = {
    "glibc-hwcaps/x86-64-v4/",
    "glibc-hwcaps/x86-64-v3/",
    "glibc-hwcaps/x86-64-v2/",
    "tls/x86_64/x86_64/",
    "tls/x86_64/",
    "tls/",
    "x86_64/x86_64/",
    "x86_64/",
    "",
};
static const char *const plain_subdirs[] = {"tls/", ""};

static int host_hwcap_level(void)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
	__builtin_cpu_init();
	if (!(__builtin_cpu_supports("popcnt") && __builtin_cpu_supports("sse3") &&
	      __builtin_cpu_supports("ssse3") && __builtin_cpu_supports("sse4.1") &&
	      __builtin_cpu_supports("sse4.2")))
		return 1;
	if (!(__builtin_cpu_supports("avx") && __builtin_cpu_supports("avx2") &&
	      __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2") &&
	      __builtin_cpu_supports("fma")))
		return 2;
	if (!(__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
	      __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512dq") &&
	      __builtin_cpu_supports("avx512vl")))
		return 3;
	return 4;
#else
	return 1;
#endif
}

void closure_init(struct closure *c)
{
	memset(c, 0, sizeof(*c));
	c->hwcap_level = host_hwcap_level();
}

void closure_release(struct closure *c)
{
	for (size_t i = 0; i < c->nlibs; i++) {
		free(c->libs[i].name);
		free(c->libs[i].path);
		strlist_release(&c->libs[i].aliases);
	}
	free(c->libs);
	free(c->interp);
	strlist_release(&c->interps);
	strlist_release(&c->conf_dirs);
	memset(c, 0, sizeof(*c));
}

/* ---- ld.so.conf, as ldconfig reads it ---- */

static void conf_parse(struct closure *c, const char *file, int depth);

static void conf_include(struct closure *c, const char *file, const char *pattern, int depth)
{
	char *pat;
	const char *slash = strrchr(file, '/');
	glob_t g;
	/* A relative pattern is relative to the including file's directory. */
	if (pattern[0] != '/' && slash)
		pat = xasprintf("%.*s/%s", (int)(slash - file), file, pattern);
	else
		pat = xstrdup(pattern);
	if (glob(pat, 0, NULL, &g) == 0) {
		for (size_t i = 0; i < g.gl_pathc; i++)
			conf_parse(c, g.gl_pathv[i], depth + 1);
		globfree(&g);
	}
	free(pat);
}

static void conf_parse(struct closure *c, const char *file, int depth)
{
	struct sbuf sb = SBUF_INIT;
	if (depth > CONF_DEPTH_MAX || read_file(file, 1 << 20, &sb, NULL) < 0) {
		sb_release(&sb);
		return; /* like ldconfig: a missing or unreadable conf file adds nothing */
	}
	char *save = NULL;
	for (char *line = strtok_r(sb.buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		while (isspace((unsigned char)*line))
			line++;
		if (!*line)
			continue;
		if (strncmp(line, "include", 7) == 0 && isblank((unsigned char)line[7])) {
			char *s2 = NULL;
			for (char *p = strtok_r(line + 8, " \t", &s2); p;
			     p = strtok_r(NULL, " \t", &s2))
				conf_include(c, file, p, depth);
			continue;
		}
		if (strncasecmp(line, "hwcap", 5) == 0 && isblank((unsigned char)line[5]))
			continue;
		/* "DIR" or the old "DIR=TYPE"; trailing blanks and slashes go. */
		char *eq = strchr(line, '=');
		if (eq)
			*eq = '\0';
		size_t len = strlen(line);
		while (len > 0 && isspace((unsigned char)line[len - 1]))
			len--;
		while (len > 0 && line[len - 1] == '/')
			len--;
		if (len > 0)
			strlist_push_owned(&c->conf_dirs, xstrndup(line, len));
	}
	sb_release(&sb);
}

/* ---- the target's directories and DST values ---- */

static const char *triplet(int machine, int elfclass)
{
	switch (machine) {
	case EM_X86_64:
		return elfclass == ELFCLASS64 ? "x86_64-linux-gnu" : "x86_64-linux-gnux32";
	case EM_386:
		return "i386-linux-gnu";
	case EM_AARCH64:
		return "aarch64-linux-gnu";
	case EM_ARM:
		return "arm-linux-gnueabihf";
	case EM_RISCV:
		return elfclass == ELFCLASS64 ? "riscv64-linux-gnu" : NULL;
	case EM_PPC64:
		return "powerpc64le-linux-gnu";
	case EM_S390:
		return "s390x-linux-gnu";
	}
	return NULL;
}

static int is_dir(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Appends dir + "/" to l unless an entry is the same directory (inode). */
static void push_dir_once(struct strlist *l, const char *dir)
{
	struct stat st, st2;
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return;
	for (size_t i = 0; i < l->n; i++)
		if (stat(l->v[i], &st2) == 0 && st2.st_dev == st.st_dev && st2.st_ino == st.st_ino)
			return;
	size_t len = strlen(dir);
	strlist_push_owned(l, xasprintf("%s%s", dir, len && dir[len - 1] == '/' ? "" : "/"));
}

static void run_setup(struct run *r, const struct elfinfo *root)
{
	const char *t = triplet(root->machine, root->elfclass);
	char usrlib[96];
	r->elfclass = root->elfclass;
	r->machine = root->machine;
	r->data = root->osabi_data;

	snprintf(usrlib, sizeof(usrlib), "/usr/lib/%s", t ? t : "");
	if (t && is_dir(usrlib)) {
		snprintf(r->triplet_lib, sizeof(r->triplet_lib), "lib/%s", t);
		r->lib = r->triplet_lib;
		strlist_push_owned(&r->defdirs, xasprintf("/lib/%s/", t));
		strlist_push_owned(&r->defdirs, xasprintf("/usr/lib/%s/", t));
		strlist_push(&r->defdirs, "/lib/");
		strlist_push(&r->defdirs, "/usr/lib/");
	} else if (root->elfclass == ELFCLASS64) {
		r->lib = "lib64";
		strlist_push(&r->defdirs, "/lib64/");
		strlist_push(&r->defdirs, "/usr/lib64/");
	} else {
		r->lib = "lib";
		strlist_push(&r->defdirs, "/lib/");
		strlist_push(&r->defdirs, "/usr/lib/");
	}

	switch (root->machine) {
	case EM_X86_64:
		r->platform = root->elfclass == ELFCLASS64 ? "x86_64" : NULL;
		break;
	case EM_386:
		r->platform = "i686";
		break;
	case EM_AARCH64:
		r->platform = "aarch64";
		break;
	default:
		r->platform = NULL; /* an element using $PLATFORM is dropped */
	}
	if (root->machine == EM_X86_64 && root->elfclass == ELFCLASS64) {
		int skip = r->c->hwcap_level >= 4   ? 0
			   : r->c->hwcap_level <= 1 ? 3
						    : 4 - r->c->hwcap_level;
		r->subdirs = x86_64_subdirs + skip;
	} else {
		r->subdirs = plain_subdirs;
	}

	if (!r->c->conf_loaded) {
		conf_parse(r->c, "/etc/ld.so.conf", 0);
		r->c->conf_loaded = 1;
	}
	for (size_t i = 0; i < r->c->conf_dirs.n; i++)
		push_dir_once(&r->cachedirs, r->c->conf_dirs.v[i]);
	for (size_t i = 0; i < r->defdirs.n; i++)
		push_dir_once(&r->cachedirs, r->defdirs.v[i]);
}

/* ---- objects ---- */

/* The directory of path made absolute against the cwd, not normalised
 * (what glibc's _dl_new_object stores as l_origin). */
static char *origin_of(const char *path)
{
	char *abs, *slash;
	if (path[0] == '/') {
		abs = xstrdup(path);
	} else {
		char *cwd = getcwd(NULL, 0);
		if (!cwd)
			return NULL;
		abs = xasprintf("%s/%s", cwd, path);
		free(cwd);
	}
	slash = strrchr(abs, '/');
	if (slash == abs)
		slash[1] = '\0';
	else
		*slash = '\0';
	return abs;
}

static int obj_new(struct run *r, const char *name, char *path, struct elfinfo *info, int loader)
{
	struct stat st;
	if (r->n == r->alloc) {
		r->alloc = r->alloc ? 2 * r->alloc : 16;
		r->o = xrealloc(r->o, r->alloc * sizeof(*r->o));
	}
	struct obj *o = &r->o[r->n];
	memset(o, 0, sizeof(*o));
	o->path = path;
	o->loader = loader;
	if (info)
		o->info = *info;
	if (name)
		strlist_push(&o->names, name);
	if (path) {
		o->origin = origin_of(path);
		if (stat(path, &st) == 0) {
			o->dev = st.st_dev;
			o->ino = st.st_ino;
		}
	}
	return (int)r->n++;
}

static void run_release(struct run *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->o[i].path);
		free(r->o[i].origin);
		elfinfo_release(&r->o[i].info);
		strlist_release(&r->o[i].names);
		strlist_release(&r->o[i].paths);
	}
	free(r->o);
	strlist_release(&r->defdirs);
	strlist_release(&r->cachedirs);
}

/* An already loaded object answering to name, as _dl_map_object checks. */
static int find_loaded(struct run *r, const char *name)
{
	for (size_t i = 0; i < r->n; i++) {
		struct obj *o = &r->o[i];
		if ((o->path && strcmp(o->path, name) == 0) || strlist_has(&o->names, name))
			return (int)i;
		if (o->info.soname && strcmp(o->info.soname, name) == 0) {
			strlist_push(&o->names, name);
			return (int)i;
		}
	}
	return -1;
}

/* ---- the search ---- */

/* glibc's is_dst: length of the DST name (braced or not) at s, else 0. */
static size_t is_dst(const char *s, const char *ref)
{
	size_t rlen = strlen(ref);
	if (*s == '{')
		return strncmp(s + 1, ref, rlen) == 0 && s[1 + rlen] == '}' ? rlen + 2 : 0;
	if (strncmp(s, ref, rlen) != 0 || isalnum((unsigned char)s[rlen]) || s[rlen] == '_')
		return 0;
	return rlen;
}

/* s with $ORIGIN (of o), $LIB and $PLATFORM expanded; NULL when a DST has
 * no value here, which makes ld.so drop the element. */
static char *expand_dst(const struct run *r, const struct obj *o, const char *s)
{
	struct sbuf sb = SBUF_INIT;
	while (*s) {
		const char *val;
		size_t len;
		if (*s != '$') {
			sb_addc(&sb, *s++);
			continue;
		}
		if ((len = is_dst(s + 1, "ORIGIN")))
			val = o->origin;
		else if ((len = is_dst(s + 1, "PLATFORM")))
			val = r->platform;
		else if ((len = is_dst(s + 1, "LIB")))
			val = r->lib;
		else {
			sb_addc(&sb, *s++);
			continue;
		}
		if (!val) {
			sb_release(&sb);
			return NULL;
		}
		sb_adds(&sb, val);
		s += 1 + len;
	}
	return sb_detach(&sb);
}

static int in_sysdir(const struct run *r, const char *path)
{
	for (size_t i = 0; i < r->defdirs.n; i++)
		if (strncmp(path, r->defdirs.v[i], strlen(r->defdirs.v[i])) == 0)
			return 1;
	return 0;
}

/* 1 and *info if path is a library the loader would take, 0 to go on
 * searching, or an error (a file there that is not ELF stops ld.so). */
static int candidate(struct run *r, const char *path, int flags, struct elfinfo *info,
		     struct err *e)
{
	struct stat st;
	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return 0;
	if ((flags & F_NO_SYSDIR) && in_sysdir(r, path))
		return 0;
	int ret = elfinfo_read(path, info, e);
	if (ret == CRUMB_EFORMAT && !(flags & F_SKIP_BAD))
		return ret;
	if (ret < 0)
		return 0;
	if (info->elfclass != r->elfclass || info->machine != r->machine ||
	    info->osabi_data != r->data) {
		elfinfo_release(info);
		return 0;
	}
	return 1;
}

/* Tries dir (with its trailing '/', or "" for the cwd) and its hwcap subdirs. */
static int try_dir(struct run *r, const char *dir, const char *name, int flags, char **found,
		   struct elfinfo *info, struct err *e)
{
	for (const char *const *sub = r->subdirs;; sub++) {
		char *p = xasprintf("%s%s%s", dir, *sub, name);
		int ret = candidate(r, p, flags, info, e);
		if (ret == 1) {
			*found = p;
			return 1;
		}
		free(p);
		if (ret < 0 || !**sub)
			return ret;
	}
}

/* Tries each element of a colon-separated RPATH/RUNPATH of object o. */
static int try_path_list(struct run *r, int oi, const char *list, const char *name, char **found,
			 struct elfinfo *info, struct err *e)
{
	char *copy = xstrdup(list), *rest = copy, *el;
	int ret = 0;
	while (ret == 0 && (el = strsep(&rest, ":"))) {
		char *dir = NULL;
		/* An empty element is the cwd, as in ld.so's fillin_rpath. */
		if (*el) {
			char *x = expand_dst(r, &r->o[oi], el);
			size_t len = x ? strlen(x) : 0;
			if (len == 0) {
				free(x);
				continue;
			}
			while (len > 1 && x[len - 1] == '/')
				len--;
			dir = xasprintf("%.*s%s", (int)len, x, x[len - 1] == '/' ? "" : "/");
			free(x);
		}
		ret = try_dir(r, dir ? dir : "", name, 0, found, info, e);
		free(dir);
	}
	free(copy);
	return ret;
}

/* The RPATH that counts for object i: none when it has a RUNPATH. */
static const char *eff_rpath(const struct run *r, int i)
{
	const struct obj *o = &r->o[i];
	return o->info.runpath ? NULL : o->info.rpath;
}

/* _dl_map_object's search for name requested by object li (or -1). */
static int search(struct run *r, int li, const char *name, char **found, struct elfinfo *info,
		  struct err *e)
{
	const struct obj *L = li >= 0 ? &r->o[li] : &r->o[0];
	int ret = 0, nodeflib = (L->info.flags_1 & DF_1_NODEFLIB) != 0;

	if (strchr(name, '/')) {
		char *p = li >= 0 ? expand_dst(r, L, name) : xstrdup(name);
		if (!p)
			return 0;
		ret = candidate(r, p, 0, info, e);
		if (ret == 1)
			*found = p;
		else
			free(p);
		return ret;
	}
	if (li < 0 || !L->info.runpath) {
		int saw_root = 0;
		for (int i = li; i >= 0 && ret == 0; i = r->o[i].loader) {
			saw_root |= i == 0;
			if (eff_rpath(r, i))
				ret = try_path_list(r, i, eff_rpath(r, i), name, found, info, e);
		}
		if (ret == 0 && !saw_root && eff_rpath(r, 0))
			ret = try_path_list(r, 0, eff_rpath(r, 0), name, found, info, e);
	}
	if (ret == 0 && li >= 0 && L->info.runpath)
		ret = try_path_list(r, li, L->info.runpath, name, found, info, e);
	for (size_t i = 0; ret == 0 && i < r->cachedirs.n; i++)
		ret = try_dir(r, r->cachedirs.v[i], name, F_SKIP_BAD | (nodeflib ? F_NO_SYSDIR : 0),
			      found, info, e);
	for (size_t i = 0; ret == 0 && !nodeflib && i < r->defdirs.n; i++)
		ret = try_dir(r, r->defdirs.v[i], name, 0, found, info, e);
	return ret;
}

/* Loads name for object li: matches a loaded object or searches. */
static int load_needed(struct run *r, int li, const char *name, struct sbuf *missing, struct err *e)
{
	char *found = NULL;
	struct elfinfo info;
	struct stat st;
	const char *by = r->o[li].path;

	if (find_loaded(r, name) >= 0)
		return 0;
	memset(&info, 0, sizeof(info));
	int ret = search(r, li, name, &found, &info, e);
	if (ret < 0) {
		char msg[ERR_MSG_MAX];
		snprintf(msg, sizeof(msg), "%s", e ? e->msg : "");
		return err_set(e, ret, "%s: cannot load %s (needed by %s): %s", r->o[0].path, name,
			       by, msg);
	}
	if (ret == 0) {
		if (!missing->len)
			sb_addf(missing, "%s: %s not found (needed by %s)", r->o[0].path, name, by);
		if (!r->c->allow_missing)
			return CRUMB_ENOENT;
		obj_new(r, name, NULL, NULL, li);
		return 0;
	}
	/* Another name for a file already loaded is the same object. */
	if (stat(found, &st) == 0) {
		for (size_t i = 0; i < r->n; i++) {
			struct obj *o = &r->o[i];
			if (!o->path || o->dev != st.st_dev || o->ino != st.st_ino)
				continue;
			strlist_push(&o->names, name);
			if (strcmp(o->path, found) != 0 && !strlist_has(&o->paths, found))
				strlist_push(&o->paths, found);
			free(found);
			elfinfo_release(&info);
			return 0;
		}
	}
	if (r->n >= OBJ_MAX) {
		free(found);
		elfinfo_release(&info);
		return err_set(e, CRUMB_EUNSAFE, "%s: more than %d libraries", r->o[0].path,
			       OBJ_MAX);
	}
	obj_new(r, name, found, &info, li);
	return 0;
}

static struct closure_lib *lib_by_path(struct closure *c, const char *name, const char *path)
{
	for (size_t i = 0; i < c->nlibs; i++) {
		struct closure_lib *l = &c->libs[i];
		if (path ? l->path && strcmp(l->path, path) == 0
			 : !l->path && strcmp(l->name, name) == 0)
			return l;
	}
	return NULL;
}

/* Adds this run's libraries (not the root, not the interpreter) to c. */
static void merge(struct closure *c, struct run *r)
{
	for (size_t i = 1; i < r->n; i++) {
		struct obj *o = &r->o[i];
		if (o->interp)
			continue;
		struct closure_lib *l = lib_by_path(c, o->names.v[0], o->path);
		if (!l) {
			if (c->nlibs == c->alloc) {
				c->alloc = c->alloc ? 2 * c->alloc : 16;
				c->libs = xrealloc(c->libs, c->alloc * sizeof(*c->libs));
			}
			l = &c->libs[c->nlibs++];
			memset(l, 0, sizeof(*l));
			l->name = xstrdup(o->names.v[0]);
			l->path = o->path ? xstrdup(o->path) : NULL;
		}
		for (size_t j = 0; j < o->paths.n; j++)
			if (!strlist_has(&l->aliases, o->paths.v[j]))
				strlist_push(&l->aliases, o->paths.v[j]);
	}
}

int closure_add(struct closure *c, const char *path, struct err *e)
{
	struct run r;
	struct elfinfo root;
	struct sbuf missing = SBUF_INIT;
	int ret;

	memset(&r, 0, sizeof(r));
	r.c = c;
	ret = elfinfo_read(path, &root, e);
	if (ret < 0)
		return ret;
	if (!root.dynamic || (!root.interp && !root.needed.n)) {
		elfinfo_release(&root); /* static (or static-pie): nothing to add */
		return 0;
	}
	run_setup(&r, &root);

	int ri = obj_new(&r, path, xstrdup(path), &root, -1);
	if (c->origin_realpath) {
		char *real = realpath(path, NULL);
		if (real) {
			free(r.o[ri].origin);
			r.o[ri].origin = origin_of(real);
			free(real);
		}
	}
	if (root.interp) {
		struct elfinfo ii;
		ret = elfinfo_read(root.interp, &ii, e);
		if (ret == CRUMB_ENOENT)
			ret = err_set(e, ret, "%s: interpreter %s not found", path, root.interp);
		else if (ret < 0) {
			char msg[ERR_MSG_MAX];
			snprintf(msg, sizeof(msg), "%s", e ? e->msg : "");
			ret = err_set(e, ret, "%s: bad interpreter: %s", path, msg);
		}
		if (ret < 0)
			goto out;
		int ii_idx = obj_new(&r, NULL, xstrdup(root.interp), &ii, -1);
		r.o[ii_idx].interp = 1;
		if (!c->interp)
			c->interp = xstrdup(root.interp);
		if (!strlist_has(&c->interps, root.interp))
			strlist_push(&c->interps, root.interp);
	}

	/* Breadth first, like _dl_map_object_deps: each object's DT_NEEDED in
	 * order, new objects appended to the queue. */
	for (size_t i = 0; i < r.n; i++) {
		if (!r.o[i].path || r.o[i].interp)
			continue;
		for (size_t j = 0; j < r.o[i].info.needed.n; j++) {
			/* r.o may move under load_needed: copy the name. */
			char *name = xstrdup(r.o[i].info.needed.v[j]);
			ret = load_needed(&r, (int)i, name, &missing, e);
			free(name);
			if (ret < 0 && (ret != CRUMB_ENOENT || !c->allow_missing))
				goto out;
		}
	}
	merge(c, &r);
	if (missing.len)
		ret = err_set(e, CRUMB_ENOENT, "%s", missing.buf);
out:
	if (ret == CRUMB_ENOENT && missing.len)
		err_set(e, CRUMB_ENOENT, "%s", missing.buf);
	sb_release(&missing);
	run_release(&r);
	return ret;
}

/* kernel.c: the crumb kernel: tinyconfig + fragment from Debian's linux-source, cached by id. */
#include "kernel.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store.h"
#include "vread.h"

/* Bump when the build steps change in a way that changes the result. */
#define RECIPE "crumb-kernel-recipe 1"

void kernel_info_release(struct kernel_info *ki)
{
	free(ki->id);
	free(ki->dir);
	free(ki->vmlinux);
	free(ki->release);
	free(ki->source);
	free(ki->sha256);
	memset(ki, 0, sizeof(*ki));
}

static const char *tarball_of(const struct kernel_opts *o)
{
	return o->tarball ? o->tarball : KERNEL_DEFAULT_TARBALL;
}

/* The tarball's identity without reading 130 MB: its real path, size and mtime. */
static int source_identity(const char *tarball, struct sbuf *out, struct err *e)
{
	char real[PATH_MAX];
	struct stat st;
	if (!realpath(tarball, real) || stat(real, &st) < 0)
		return err_errno(e, CRUMB_ENOENT,
				 "kernel source %s (install Debian's linux-source-6.1)", tarball);
	sb_addf(out, "%s %lld %lld", real, (long long)st.st_size, (long long)st.st_mtime);
	return 0;
}

/* The patches, as they enter the kernel's id and the extracted source's name. */
static void patches_key(struct sbuf *key)
{
	for (const struct kernel_patch *p = kernel_patches; p->name; p++)
		sb_addf(key, "\npatch %s %zu\n%s", p->name, strlen(p->text), p->text);
}

int kernel_id(const struct kernel_opts *o, char id[17], struct err *e)
{
	struct sbuf key = SBUF_INIT;
	int r = source_identity(tarball_of(o), &key, e);
	if (r < 0) {
		sb_release(&key);
		return r;
	}
	patches_key(&key);
	sb_addf(&key, "\n%s\n%s", RECIPE, o->fragment ? o->fragment : kernel_fragment);
	char hex[65];
	sha256_hex(key.buf, key.len, hex);
	memcpy(id, hex, 16);
	id[16] = 0;
	sb_release(&key);
	return 0;
}

static int info_read(const char *store, const char *id, struct kernel_info *ki, struct err *e)
{
	char *dir = xasprintf("%s/kernels/%s", store, id);
	char *path = xasprintf("%s/info", dir);
	struct sbuf sb = SBUF_INIT;
	int r = read_file(path, 65536, &sb, e);
	free(path);
	if (r < 0) {
		free(dir);
		sb_release(&sb);
		return r == CRUMB_ENOENT ? err_set(e, r, "kernel %s is not built", id) : r;
	}
	memset(ki, 0, sizeof(*ki));
	ki->id = xstrdup(id);
	ki->dir = dir;
	ki->vmlinux = xasprintf("%s/vmlinux", dir);
	for (char *line = strtok(sb.buf, "\n"); line; line = strtok(NULL, "\n")) {
		char *v = strchr(line, ' ');
		if (!v)
			continue;
		*v++ = 0;
		if (!strcmp(line, "release"))
			ki->release = xstrdup(v);
		else if (!strcmp(line, "source"))
			ki->source = xstrdup(v);
		else if (!strcmp(line, "build_seconds"))
			ki->build_seconds = strtod(v, NULL);
		else if (!strcmp(line, "built"))
			ki->built = strtoll(v, NULL, 10);
		else if (!strcmp(line, "sha256") && strlen(v) == 64 &&
			 strspn(v, "0123456789abcdef") == 64)
			ki->sha256 = xstrdup(v);
	}
	sb_release(&sb);
	struct stat st;
	if (stat(ki->vmlinux, &st) < 0) {
		r = err_errno(e, CRUMB_ENOENT, "%s", ki->vmlinux);
		kernel_info_release(ki);
		return r;
	}
	ki->size = (uint64_t)st.st_size;
	if (!ki->release)
		ki->release = xstrdup("?");
	if (!ki->source)
		ki->source = xstrdup("?");
	return 0;
}

int kernel_lookup(const char *store, const struct kernel_opts *o, struct kernel_info *ki,
		  struct err *e)
{
	char id[17];
	int r = kernel_id(o, id, e);
	return r < 0 ? r : kernel_open(store, id, ki, e);
}

int kernel_open(const char *store, const char *id, struct kernel_info *ki, struct err *e)
{
	if (strlen(id) != 16 || strspn(id, "0123456789abcdef") != 16)
		return err_set(e, CRUMB_ENOENT, "'%s' is not a kernel id", id);
	int r = info_read(store, id, ki, e);
	if (r == 0 && (r = kernel_verify(ki, e)) < 0)
		kernel_info_release(ki);
	return r;
}

/* ---- stamps: a file's digest, checked by its stat data ---- */

#define STAMP_FMT "crumb-stamp-1 %64s %llu %llu %llu %lld.%ld %lld.%ld"

static void stamp_line(const char *hex, const struct stat *st, struct sbuf *out)
{
	if (!st) {
		sb_addf(out, "crumb-stamp-1 %s 0 0 0 0.0 0.0\n", hex);
		return;
	}
	sb_addf(out, "crumb-stamp-1 %s %llu %llu %llu %lld.%ld %lld.%ld\n", hex,
		(unsigned long long)st->st_dev, (unsigned long long)st->st_ino,
		(unsigned long long)st->st_size, (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec,
		(long long)st->st_ctim.tv_sec, st->st_ctim.tv_nsec);
}

int kernel_stamp_new(const char *stamp, const char *hex, struct err *e)
{
	struct sbuf sb = SBUF_INIT;
	stamp_line(hex, NULL, &sb);
	int r = write_file_atomic(stamp, sb.buf, sb.len, 0644, e);
	sb_release(&sb);
	return r;
}

/* The stamp's digest into hex ("" when it has none); 1 when its stat data is st's. */
static int stamp_read(const char *stamp, const struct stat *st, char hex[65])
{
	struct sbuf sb = SBUF_INIT, want = SBUF_INIT;
	hex[0] = 0;
	int same = 0;
	if (read_file(stamp, 512, &sb, NULL) == 0) {
		unsigned long long a, b, c;
		long long d, f;
		long dn, fn;
		if (sscanf(sb.buf, STAMP_FMT, hex, &a, &b, &c, &d, &dn, &f, &fn) != 8 ||
		    strlen(hex) != 64 || strspn(hex, "0123456789abcdef") != 64)
			hex[0] = 0;
		if (hex[0] && st) {
			stamp_line(hex, st, &want);
			same = !strcmp(sb.buf, want.buf);
		}
	}
	sb_release(&sb);
	sb_release(&want);
	return same;
}

int kernel_file_check(const char *path, const char *hex, const char *stamp, struct err *e)
{
	char rec[65], digest[80];
	struct vread v;
	stamp_read(stamp, NULL, rec);
	if (!hex && !rec[0])
		return err_set(e, CRUMB_ENOENT, "%s: no stamp", stamp);
	snprintf(digest, sizeof(digest), "sha256:%s", hex ? hex : rec);
	int r = vread_open(&v, path, digest, VREAD_SIZE_ANY, path, 1, e);
	if (r == 0 && stamp_read(stamp, &v.st, rec) && !strcmp(rec, digest + 7)) {
		vread_close(&v);
		return 0;
	}
	if (r == 0 && (r = vread_finish(&v, e)) == 0) {
		int64_t changed = (int64_t)v.st.st_ctim.tv_sec * 1000000000 + v.st.st_ctim.tv_nsec;
		int64_t start = (int64_t)v.began.tv_sec * 1000000000 + v.began.tv_nsec;
		struct sbuf sb = SBUF_INIT;
		stamp_line(digest + 7, changed > start - 1000000000 ? NULL : &v.st, &sb);
		write_file_atomic(stamp, sb.buf, sb.len, 0644, NULL); /* best effort: a cache */
		sb_release(&sb);
	}
	vread_close(&v);
	return r;
}

int kernel_file_sha256(const char *path, char hex[65], struct err *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return err_errno(e, errno == ENOENT ? CRUMB_ENOENT : CRUMB_EIO, "%s", path);
	struct sha256 h;
	char buf[65536];
	ssize_t n;
	sha256_begin(&h);
	while ((n = read(fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
		if (n > 0)
			sha256_update(&h, buf, (size_t)n);
	int r = n < 0 ? err_errno(e, CRUMB_EIO, "read %s", path) : 0;
	close(fd);
	sha256_end(&h, hex);
	return r;
}

/* A kernel built before info recorded a digest gets it recorded on first use. */
static int record_sha256(struct kernel_info *ki, struct err *e)
{
	char hex[65];
	struct sbuf info = SBUF_INIT;
	char *ipath = xasprintf("%s/info", ki->dir);
	int r = kernel_file_sha256(ki->vmlinux, hex, e);
	if (r == 0)
		r = read_file(ipath, 65536, &info, e);
	if (r == 0) {
		if (info.len && info.buf[info.len - 1] != '\n')
			sb_addc(&info, '\n');
		sb_addf(&info, "sha256 %s\n", hex);
		r = write_file_atomic(ipath, info.buf, info.len, 0644, e);
	}
	if (r == 0)
		ki->sha256 = xstrdup(hex);
	sb_release(&info);
	free(ipath);
	return r;
}

int kernel_verify(struct kernel_info *ki, struct err *e)
{
	if (!ki->sha256)
		return record_sha256(ki, e);
	char *stamp = xasprintf("%s/verified", ki->dir);
	struct err ve;
	int r = kernel_file_check(ki->vmlinux, ki->sha256, stamp, &ve);
	free(stamp);
	if (r == CRUMB_EFORMAT)
		return err_set(
		    e, r,
		    "kernel %s: %s, not the sha256 %.12s... its info recorded when it was "
		    "built: remove %s and run 'crumb kernel build'",
		    ki->id, ve.msg, ki->sha256, ki->dir);
	if (r < 0)
		*e = ve;
	return r;
}

static void progress(const struct kernel_opts *o, const char *fmt, ...)
{
	if (!o->progress)
		return;
	struct sbuf sb = SBUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	sb_vaddf(&sb, fmt, ap);
	va_end(ap);
	o->progress(o->ctx, sb.buf);
	sb_release(&sb);
}

int kernel_check_config(const char *fragment, const char *config, struct err *e)
{
	struct sbuf bad = SBUF_INIT;
	int nbad = 0;
	const char *p = fragment;
	while (*p) {
		const char *end = strchr(p, '\n');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char *line = xstrndup(p, len);
		p += len + (end ? 1 : 0);
		char opt[256];
		if (!strncmp(line, "CONFIG_", 7)) {
			/* must appear as a whole line */
			const char *hit = config;
			size_t ll = strlen(line);
			int found = 0;
			while ((hit = strstr(hit, line))) {
				if ((hit == config || hit[-1] == '\n') &&
				    (hit[ll] == '\n' || hit[ll] == 0)) {
					found = 1;
					break;
				}
				hit += ll;
			}
			if (!found) {
				sb_addf(&bad, "%s%s", nbad ? ", " : "", line);
				nbad++;
			}
		} else if (sscanf(line, "# %255[A-Za-z0-9_] is not set", opt) == 1 &&
			   !strncmp(opt, "CONFIG_", 7)) {
			char *set = xasprintf("\n%s=", opt);
			if (strstr(config, set) || !strncmp(config, set + 1, strlen(set + 1))) {
				sb_addf(&bad, "%s%s (should be unset)", nbad ? ", " : "", opt);
				nbad++;
			}
			free(set);
		}
		free(line);
	}
	int r = 0;
	if (nbad)
		r = err_set(e, CRUMB_EFORMAT,
			    "the final kernel .config lacks %d option%s of the fragment "
			    "(a dependency is missing from it): %s",
			    nbad, nbad == 1 ? "" : "s", bad.buf);
	sb_release(&bad);
	return r;
}

struct make_ctx {
	const struct kernel_opts *o;
	struct sbuf *release;
};

static void make_line(void *ctx, const char *line)
{
	const struct kernel_opts *o = ctx;
	if (o->progress)
		o->progress(o->ctx, line);
}

static void release_line(void *ctx, const char *line)
{
	struct sbuf *sb = ctx;
	if (!sb->len)
		sb_adds(sb, line);
}

static int run(const struct kernel_opts *o, const char *dir, proc_line_fn fn, void *ctx,
	       struct err *e, ...)
{
	char *argv[32];
	int n = 0;
	va_list ap;
	va_start(ap, e);
	while (n < 31 && (argv[n] = va_arg(ap, char *)))
		n++;
	va_end(ap);
	argv[n] = NULL;
	static char *env[] = {"KBUILD_BUILD_TIMESTAMP=1970-01-01", "KBUILD_BUILD_USER=crumb",
			      "KBUILD_BUILD_HOST=crumb", "LC_ALL=C", NULL};
	return proc_run(argv, dir, env, fn ? fn : make_line, fn ? ctx : (void *)o, NULL, e);
}

/* Applies kernel_patches to the source in dir, each from a file of its own there. */
static int apply_patches(const struct kernel_opts *o, const char *dir, struct err *e)
{
	int r = 0;
	for (const struct kernel_patch *p = kernel_patches; p->name && r == 0; p++) {
		char *path = xasprintf("%s/.crumb-%s", dir, p->name);
		progress(o, "== patching: %s", p->name);
		r = write_file_atomic(path, p->text, strlen(p->text), 0644, e);
		if (r == 0)
			r = run(o, dir, NULL, NULL, e, "patch", "-p1", "--batch", "--forward", "-s",
				"-i", path, (char *)NULL);
		if (r < 0 && e) {
			char why[ERR_MSG_MAX];
			memcpy(why, e->msg, sizeof(why));
			err_set(e, r, "kernel patch %s: %.900s", p->name, why);
		}
		unlink(path);
		free(path);
	}
	return r;
}

/* Extracts the tarball and applies the patches once per source identity and patch set into
 * <store>/cache/linux-<hash>. */
static int extract(const char *store, const struct kernel_opts *o, char **srcdir, struct err *e)
{
	struct sbuf ident = SBUF_INIT;
	int r = source_identity(tarball_of(o), &ident, e);
	if (r < 0) {
		sb_release(&ident);
		return r;
	}
	patches_key(&ident);
	char hex[65];
	sha256_hex(ident.buf, ident.len, hex);
	sb_release(&ident);
	hex[16] = 0;
	char *dir = xasprintf("%s/cache/linux-%s", store, hex);
	char *stamp = xasprintf("%s/.crumb-extracted", dir);
	if (access(stamp, F_OK) == 0) {
		free(stamp);
		*srcdir = dir;
		return 0;
	}
	char *tmp = xasprintf("%s.tmp", dir);
	progress(o, "== extracting %s", tarball_of(o));
	if ((r = remove_tree(tmp, e)) < 0 || (r = remove_tree(dir, e)) < 0 ||
	    (r = mkdir_p(tmp, 0755, e)) < 0)
		goto out;
	if ((r = run(o, tmp, NULL, NULL, e, "tar", "-xf", tarball_of(o), "--strip-components=1",
		     (char *)NULL)) < 0 ||
	    (r = apply_patches(o, tmp, e)) < 0)
		goto out;
	char *tstamp = xasprintf("%s/.crumb-extracted", tmp);
	r = write_file_atomic(tstamp, "", 0, 0644, e);
	free(tstamp);
	if (r == 0 && rename(tmp, dir) < 0)
		r = err_errno(e, CRUMB_EIO, "rename %s", tmp);
out:
	free(tmp);
	free(stamp);
	if (r < 0)
		free(dir);
	else
		*srcdir = dir;
	return r;
}

static int build(const char *store, const struct kernel_opts *o, const char *id, struct err *e)
{
	char *src = NULL, *obj = xasprintf("%s/cache/kbuild-%s", store, id);
	char *out = xasprintf("%s/kernels/%s.tmp", store, id);
	char *final = xasprintf("%s/kernels/%s", store, id);
	char *odir = xasprintf("O=%s", obj);
	char *frag = xasprintf("%s/crumb.config", obj);
	char *cfg = xasprintf("%s/.config", obj);
	char jobs[32];
	struct sbuf config = SBUF_INIT, rel = SBUF_INIT, info = SBUF_INIT;
	double t0 = now_monotonic();
	int r;
	const char *fragment = o->fragment ? o->fragment : kernel_fragment;

	snprintf(jobs, sizeof(jobs), "-j%d",
		 o->jobs > 0 ? o->jobs : (int)sysconf(_SC_NPROCESSORS_ONLN));
	if ((r = extract(store, o, &src, e)) < 0)
		goto out;
	if ((r = mkdir_p(obj, 0755, e)) < 0)
		goto out;
	progress(o, "== configuring (tinyconfig + crumb fragment)");
	if ((r = write_file_atomic(frag, fragment, strlen(fragment), 0644, e)) < 0)
		goto out;
	if ((r = run(o, src, NULL, NULL, e, "make", odir, "tinyconfig", (char *)NULL)) < 0)
		goto out;
	if ((r = run(o, src, NULL, NULL, e, "scripts/kconfig/merge_config.sh", "-m", "-O", obj, cfg,
		     frag, (char *)NULL)) < 0)
		goto out;
	if ((r = run(o, src, NULL, NULL, e, "make", odir, "olddefconfig", (char *)NULL)) < 0)
		goto out;
	if ((r = read_file(cfg, 4 << 20, &config, e)) < 0)
		goto out;
	if ((r = kernel_check_config(fragment, config.buf, e)) < 0)
		goto out;
	progress(o, "== building vmlinux (%s)", jobs);
	if ((r = run(o, src, NULL, NULL, e, "make", odir, jobs, "vmlinux", (char *)NULL)) < 0)
		goto out;
	if ((r = run(o, src, release_line, &rel, e, "make", "-s", odir, "kernelrelease",
		     (char *)NULL)) < 0)
		goto out;
	if ((r = remove_tree(out, e)) < 0 || (r = mkdir_p(out, 0755, e)) < 0)
		goto out;
	char *vm = xasprintf("%s/vmlinux", obj), *dvm = xasprintf("%s/vmlinux", out);
	char *dcfg = xasprintf("%s/config", out);
	/* Debug sections are dead weight to a VMM; the PVH note and symbols stay. */
	r = run(o, NULL, NULL, NULL, e, "objcopy", "--strip-debug", vm, dvm, (char *)NULL);
	if (r == 0)
		r = write_file_atomic(dcfg, config.buf, config.len, 0644, e);
	free(vm);
	free(dvm);
	free(dcfg);
	if (r < 0)
		goto out;
	char hex[65];
	char *dvm2 = xasprintf("%s/vmlinux", out);
	r = kernel_file_sha256(dvm2, hex, e);
	free(dvm2);
	if (r < 0)
		goto out;
	sb_addf(&info, "release %s\nsource %s\nbuild_seconds %.1f\nbuilt %lld\nsha256 %s\n",
		rel.buf, tarball_of(o), now_monotonic() - t0, (long long)time(NULL), hex);
	char *ipath = xasprintf("%s/info", out);
	r = write_file_atomic(ipath, info.buf, info.len, 0644, e);
	free(ipath);
	if (r < 0)
		goto out;
	if ((r = remove_tree(final, e)) < 0)
		goto out;
	if (rename(out, final) < 0) {
		r = err_errno(e, CRUMB_EIO, "rename %s", out);
		goto out;
	}
	/* The objects are only worth keeping to resume a failed build. */
	r = remove_tree(obj, e);
out:
	if (r < 0)
		remove_tree(out, NULL);
	free(src);
	free(obj);
	free(out);
	free(final);
	free(odir);
	free(frag);
	free(cfg);
	sb_release(&config);
	sb_release(&rel);
	sb_release(&info);
	return r;
}

int kernel_build(const char *store, const struct kernel_opts *o, struct kernel_info *ki,
		 int *cached, struct err *e)
{
	char id[17];
	int r = kernel_id(o, id, e);
	if (r < 0)
		return r;
	char *kdir = xasprintf("%s/kernels", store), *cdir = xasprintf("%s/cache", store);
	char *lock = xasprintf("%s/.lock", kdir);
	int fd = -1;
	if ((r = mkdir_p(kdir, 0755, e)) < 0 || (r = mkdir_p(cdir, 0755, e)) < 0)
		goto out;
	if ((fd = r = store_lock(lock, e)) < 0)
		goto out;
	*cached = 1;
	r = info_read(store, id, ki, NULL);
	if (r == 0 && (r = kernel_verify(ki, e)) < 0) {
		kernel_info_release(ki);
		goto out;
	}
	if (r < 0) {
		*cached = 0;
		if ((r = build(store, o, id, e)) == 0)
			r = info_read(store, id, ki, e);
	}
out:
	if (fd >= 0)
		close(fd);
	free(kdir);
	free(cdir);
	free(lock);
	return r;
}

static int by_built(const void *a, const void *b)
{
	const struct kernel_info *x = a, *y = b;
	return x->built < y->built ? 1 : x->built > y->built ? -1 : strcmp(x->id, y->id);
}

int kernel_list(const char *store, struct kernel_info **list, size_t *n, struct err *e)
{
	char *kdir = xasprintf("%s/kernels", store);
	*list = NULL;
	*n = 0;
	DIR *d = opendir(kdir);
	free(kdir);
	if (!d)
		return errno == ENOENT ? 0 : err_errno(e, CRUMB_EIO, "%s/kernels", store);
	size_t alloc = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (strlen(de->d_name) != 16 || strspn(de->d_name, "0123456789abcdef") != 16)
			continue;
		struct kernel_info ki;
		if (info_read(store, de->d_name, &ki, NULL) < 0)
			continue;
		if (*n == alloc) {
			alloc = alloc ? alloc * 2 : 4;
			*list = xrealloc(*list, alloc * sizeof(**list));
		}
		(*list)[(*n)++] = ki;
	}
	closedir(d);
	if (*n)
		qsort(*list, *n, sizeof(**list), by_built);
	return 0;
}

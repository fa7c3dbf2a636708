/* rootfs.c: program + closure + extras + crumb-init -> a tree ready to become an initramfs. */
#include "rootfs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "closure.h"
#include "elf.h"
#include "initcfg.h"

/* Linux follows at most 4 levels of #! interpreters; so do we. */
#define MAX_INTERP_DEPTH 4
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* Absolute form of a host path without resolving symlinks. */
static char *absolute(const char *p)
{
	if (p[0] == '/')
		return xstrdup(p);
	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof(cwd)))
		return xstrdup(p);
	return xasprintf("%s/%s", cwd, p);
}

/* Looks name up like execvp would in the guest, whose PATH is path, among the
 * host's files (the guest gets them at the same paths); NULL if absent. */
static char *which(const char *name, const char *path)
{
	char *copy = xstrdup(path && *path ? path : DEFAULT_PATH);
	char *found = NULL;
	for (char *save, *d = strtok_r(copy, ":", &save); d && !found;
	     d = strtok_r(NULL, ":", &save)) {
		char *p = xasprintf("%s/%s", d, name);
		struct stat st;
		if (d[0] == '/' && stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0)
			found = p;
		else
			free(p);
	}
	free(copy);
	return found;
}

/* Reads a "#!" line like the kernel does (first 256 bytes): interpreter and
 * optional single argument. Returns 1 if it is a script, 0 if not. */
static int shebang(const char *path, char **interp, char **arg, struct err *e)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return err_errno(e, CRUMB_EIO, "cannot read %s", path);
	char buf[257];
	ssize_t n = read(fd, buf, 256);
	close(fd);
	if (n < 2 || buf[0] != '#' || buf[1] != '!')
		return 0;
	buf[n] = 0;
	char *p = buf + 2, *end = strchr(p, '\n');
	if (!end)
		return err_set(e, CRUMB_EFORMAT, "%s: #! line longer than 256 bytes", path);
	*end = 0;
	while (*p == ' ' || *p == '\t')
		p++;
	size_t il = strcspn(p, " \t");
	if (!il)
		return err_set(e, CRUMB_EFORMAT, "%s: #! names no interpreter", path);
	*interp = xstrndup(p, il);
	p += il;
	while (*p == ' ' || *p == '\t')
		p++;
	size_t al = strlen(p);
	while (al && (p[al - 1] == ' ' || p[al - 1] == '\t' || p[al - 1] == '\r'))
		al--;
	*arg = al ? xstrndup(p, al) : NULL;
	return 1;
}

static int add_program(struct tree *t, struct closure *c, const char *path, const char *gpath,
		       int depth, struct err *e)
{
	struct stat st;
	int r;
	if (depth > MAX_INTERP_DEPTH)
		return err_set(e, CRUMB_EUNSAFE, "%s: more than %d levels of #! interpreters", path,
			       MAX_INTERP_DEPTH);
	if (stat(path, &st) < 0)
		return err_errno(e, errno == ENOENT ? CRUMB_ENOENT : CRUMB_EIO, "%s", path);
	if (!S_ISREG(st.st_mode))
		return err_set(e, CRUMB_EINVAL, "%s: not a regular file", path);
	if (access(path, X_OK) < 0)
		return err_set(e, CRUMB_EINVAL, "%s: not executable", path);
	r = elfinfo_is_elf(path, e);
	if (r < 0)
		return r;
	if (r == 1) {
		if ((r = closure_add(c, path, e)) < 0)
			return r;
		return tree_add_host_follow(t, path, e);
	}
	char *interp = NULL, *arg = NULL;
	r = shebang(path, &interp, &arg, e);
	if (r < 0)
		return r;
	if (r == 0)
		return err_set(e, CRUMB_EFORMAT, "%s: not an ELF executable or a #! script", path);
	if ((r = tree_add_host_follow(t, path, e)) < 0)
		goto out;
	if (interp[0] != '/') {
		r = err_set(e, CRUMB_EFORMAT, "%s: #! interpreter '%s' is not an absolute path",
			    path, interp);
		goto out;
	}
	if ((r = add_program(t, c, interp, gpath, depth + 1, e)) < 0) {
		if (r == CRUMB_ENOENT)
			r = err_set(e, r, "%s: interpreter %s not found", path, interp);
		goto out;
	}
	/* "#!/usr/bin/env python3": env finds python3 in the guest's PATH at run
	 * time, so bring the host file found along that same PATH. */
	const char *base = strrchr(interp, '/') + 1;
	if (!strcmp(base, "env") && arg) {
		char *name = arg;
		if (!strncmp(name, "-S", 2)) /* env -S "prog args": first word after -S */
			name += 2 + strspn(name + 2, " \t");
		name[strcspn(name, " \t")] = 0;
		char *found = name[0] && name[0] != '-' ? which(name, gpath) : NULL;
		if (!found) {
			r = err_set(e, CRUMB_ENOENT,
				    "%s: '%s' (from #!%s) not found in the guest's PATH %s", path,
				    name, interp, gpath);
			goto out;
		}
		r = add_program(t, c, found, gpath, depth + 1, e);
		free(found);
	}
out:
	free(interp);
	free(arg);
	return r;
}

/* Adds what closure c found: interpreters and libraries with their aliases. */
static int add_found(struct tree *t, const struct closure *c, struct err *e)
{
	int r = 0;
	for (size_t i = 0; r == 0 && i < c->interps.n; i++)
		r = tree_add_host_follow(t, c->interps.v[i], e);
	for (size_t i = 0; r == 0 && i < c->nlibs; i++) {
		r = tree_add_host_follow(t, c->libs[i].path, e);
		for (size_t j = 0; r == 0 && j < c->libs[i].aliases.n; j++)
			r = tree_add_host_follow(t, c->libs[i].aliases.v[j], e);
	}
	return r;
}

int rootfs_add_closure(struct tree *t, const char *hostpath, struct err *e)
{
	struct closure c;
	closure_init(&c);
	c.origin_realpath = 1;
	c.hwcap_level = 1;
	int r = elfinfo_is_elf(hostpath, e);
	if (r == 1)
		r = closure_add(&c, hostpath, e);
	if (r == 0)
		r = add_found(t, &c, e);
	closure_release(&c);
	return r < 0 ? r : 0;
}

int rootfs_add_program(struct tree *t, const char *hostpath, const char *path, struct err *e)
{
	struct closure c;
	closure_init(&c);
	/* The guest's ld.so, not ldd on this host, does the loading: it takes
	 * $ORIGIN from the exec'd file's real path, and under TCG the CPU is a
	 * baseline x86-64 (qemu64), so pack the baseline libraries, which run on
	 * any CPU, rather than this host's glibc-hwcaps variants. */
	c.origin_realpath = 1;
	c.hwcap_level = 1;
	char *abs = absolute(hostpath);
	int r = add_program(t, &c, abs, path ? path : DEFAULT_PATH, 0, e);
	if (r == 0)
		r = add_found(t, &c, e);
	free(abs);
	closure_release(&c);
	return r;
}

static int add_extra(struct tree *t, const char *spec, struct err *e)
{
	const char *colon = strchr(spec, ':');
	char *host = colon ? xstrndup(spec, (size_t)(colon - spec)) : xstrdup(spec);
	char *habs = absolute(host);
	const char *guest = colon ? colon + 1 : habs;
	int r;
	if (!*host || (colon && guest[0] != '/'))
		r = err_set(e, CRUMB_EINVAL, "--add %s: want HOSTPATH[:/GUESTPATH]", spec);
	else
		r = tree_add_host(t, habs, guest, e);
	free(host);
	free(habs);
	return r;
}

int rootfs_add_base(struct tree *t, const char *init, struct err *e)
{
	static const struct {
		const char *path;
		uint32_t mode;
	} dirs[] = {{"/dev", 0755}, {"/proc", 0555}, {"/sys", 0555}, {"/tmp", 01777},
		    {"/run", 0755}, {"/root", 0700}, {"/etc", 0755}, {"/etc/crumb", 0755}};
	static const char passwd[] = "root:x:0:0:root:/root:/bin/sh\n"
				     "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
	static const char group[] = "root:x:0:\nnogroup:x:65534:\n";
	static const char hosts[] = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n";
	struct tree_node *n;
	int r = 0;
	for (size_t i = 0; r == 0 && i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if (!tree_lookup(t, dirs[i].path, 1))
			r = tree_add(t, dirs[i].path, TREE_DIR, dirs[i].mode, &n, e);
	/* The kernel opens /dev/console for PID 1 before devtmpfs is mounted. */
	if (r == 0)
		r = tree_add_device(t, "/dev/console", TREE_CHR, 0600, 5, 1, e);
	if (r == 0 && !tree_lookup(t, "/etc/passwd", 1))
		r = tree_add_data(t, "/etc/passwd", passwd, sizeof(passwd) - 1, 0644, e);
	if (r == 0 && !tree_lookup(t, "/etc/group", 1))
		r = tree_add_data(t, "/etc/group", group, sizeof(group) - 1, 0644, e);
	if (r == 0 && !tree_lookup(t, "/etc/hosts", 1))
		r = tree_add_data(t, "/etc/hosts", hosts, sizeof(hosts) - 1, 0644, e);
	if (r == 0)
		r = tree_add_host(t, init, ROOTFS_INIT_PATH, e);
	if (r == 0 && (n = tree_lookup(t, ROOTFS_INIT_PATH, 0)))
		n->mode = 0755;
	return r;
}

int rootfs_exec(struct tree *t, const struct exec_spec *s, struct err *e)
{
	struct initcfg cfg;
	struct sbuf conf = SBUF_INIT;
	char *prog = absolute(s->program);
	const char *gpath = DEFAULT_PATH;
	for (size_t i = 0; s->env && i < s->env->n; i++)
		if (!strncmp(s->env->v[i], "PATH=", 5))
			gpath = s->env->v[i] + 5;
	int r = rootfs_add_program(t, prog, gpath, e);
	for (size_t i = 0; r == 0 && s->adds && i < s->adds->n; i++)
		r = add_extra(t, s->adds->v[i], e);
	if (r == 0)
		r = rootfs_add_base(t, s->init, e);
	initcfg_init(&cfg);
	strlist_push(&cfg.argv, prog);
	for (size_t i = 0; s->args && i < s->args->n; i++)
		strlist_push(&cfg.argv, s->args->v[i]);
	/* Defaults first; a later entry with the same name wins. */
	const char *defaults[] = {"PATH=" DEFAULT_PATH, "HOME=/root", "HOSTNAME=crumb", NULL};
	for (int i = 0; defaults[i]; i++) {
		size_t nl = strcspn(defaults[i], "=") + 1;
		int overridden = 0;
		for (size_t j = 0; s->env && j < s->env->n; j++)
			overridden |= !strncmp(s->env->v[j], defaults[i], nl);
		if (!overridden)
			strlist_push(&cfg.env, defaults[i]);
	}
	for (size_t i = 0; s->env && i < s->env->n; i++)
		strlist_push(&cfg.env, s->env->v[i]);
	if (r == 0)
		r = initcfg_render(&cfg, &conf, e);
	if (r == 0)
		r = tree_add_data(t, INITCFG_GUEST_PATH, conf.buf, conf.len, 0644, e);
	initcfg_release(&cfg);
	sb_release(&conf);
	free(prog);
	return r;
}

int rootfs_find_init(const struct hostenv *env, char **out, struct err *e)
{
	const char *given = env ? env->crumb_init : NULL;
	if (given && *given) {
		if (access(given, R_OK) < 0)
			return err_errno(e, CRUMB_ENOENT, "CRUMB_INIT=%s", given);
		*out = xstrdup(given);
		return 0;
	}
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = 0;
		char *slash = strrchr(self, '/');
		if (slash) {
			*slash = 0;
			char *p = xasprintf("%s/crumb-init", self);
			if (access(p, R_OK) == 0) {
				*out = p;
				return 0;
			}
			free(p);
		}
	}
	char *p = xasprintf("%s/crumb-init", CRUMB_LIBEXECDIR);
	if (access(p, R_OK) == 0) {
		*out = p;
		return 0;
	}
	free(p);
	return err_set(e, CRUMB_ENOENT,
		       "crumb-init not found (next to crumb, in " CRUMB_LIBEXECDIR
		       ", or $CRUMB_INIT): run 'make'");
}

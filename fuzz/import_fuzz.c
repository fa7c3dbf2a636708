/* import_fuzz.c: libFuzzer target: any bytes as an archive for import_archive, then every node read
 * back; and as a docker save archive (manifest.json, config, layers) for docker_archive_members. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/import.h"

static char *path, *dir;

static void cleanup(void)
{
	if (path)
		unlink(path);
	if (dir) {
		struct err e;
		remove_tree(dir, &e);
	}
}

/* Reads every regular file's content (the head and the tail of big ones), so
 * referenced offsets, extents and owned bytes are all exercised. */
static int check_node(struct tree_node *n, const char *p, void *ctx)
{
	static char buf[65536];
	struct err e;
	char *full = tree_path(n);
	free(full);
	if (n->type == TREE_LNK && (!n->link || !*n->link))
		abort();
	if (n->type != TREE_REG)
		return 0;
	uint64_t len = n->size < sizeof(buf) ? n->size : sizeof(buf);
	if (tree_read(n, 0, buf, (size_t)len, &e) < 0)
		abort(); /* the import promised this content is there */
	if (tree_read(n, n->size - len, buf, (size_t)len, &e) < 0)
		abort();
	return 0;
}

static void one_path(const struct import_opts *base, struct tree *t, const char *p)
{
	struct import_opts o = *base;
	struct err e;
	int r = import_archive(t, p, &o, &e);
	if (r < 0 && (!e.msg[0] || strchr(e.msg, '\n')))
		abort(); /* errors are one line, never empty */
	if (r < 0 && o.name && strstr(e.msg, dir))
		abort(); /* a layer's errors name it as the caller does, not by its temp file */
	tree_walk(t, check_node, NULL);
}

static void one(const struct import_opts *base, struct tree *t)
{
	one_path(base, t, path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!path) {
		const char *tmp = getenv("TMPDIR");
		path = xasprintf("%s/crumb-import-fuzz.%ld", tmp && *tmp ? tmp : "/tmp",
				 (long)getpid());
		dir = xasprintf("%s/crumb-import-fuzz-d.%ld", tmp && *tmp ? tmp : "/tmp",
				(long)getpid());
		if (mkdir(dir, 0700) < 0)
			abort();
		atexit(cleanup);
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);

	/* as a docker archive: the layers it extracts are imported as OCI layers */
	struct sbuf cfg = SBUF_INIT;
	struct strlist layers = STRLIST_INIT, names = STRLIST_INIT;
	struct err de;
	int dr = docker_archive_members(path, dir, 1 << 20, &cfg, &layers, &names, &de);
	if (dr < 0 && (!de.msg[0] || strchr(de.msg, '\n') || strstr(de.msg, dir)))
		abort(); /* one line, naming the archive's members, never the temp files */
	if (dr == 1 && (layers.n != names.n || !layers.n))
		abort();
	struct tree t;
	if (dr == 1) {
		struct import_opts lo = {.whiteouts = 1, .max_bytes = 64 << 20};
		tree_init(&t);
		for (size_t k = 0; k < layers.n; k++) {
			lo.name = names.v[k];
			one_path(&lo, &t, layers.v[k]);
		}
		tree_release(&t);
	}
	sb_release(&cfg);
	strlist_release(&layers);
	strlist_release(&names);

	/* a rootfs import, the same archive again as an OCI layer over it,
	 * and once more under a dest: whiteouts, replacement and confinement */
	struct import_opts rootfs = {.keep_owner = 1, .max_bytes = 64 << 20};
	struct import_opts layer = {.whiteouts = 1, .max_bytes = 64 << 20};
	struct import_opts sub = {.dest = "/opt/sub", .max_bytes = 64 << 20};
	tree_init(&t);
	one(&rootfs, &t);
	one(&layer, &t);
	one(&sub, &t);
	tree_release(&t);
	return 0;
}

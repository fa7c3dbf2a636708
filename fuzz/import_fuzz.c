/* import_fuzz.c: libFuzzer target: any bytes as an archive for import_archive, then every node read
 * back. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/import.h"

static char *path;

static void cleanup(void)
{
	if (path)
		unlink(path);
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

static void one(const struct import_opts *base, struct tree *t)
{
	struct import_opts o = *base;
	struct err e;
	int r = import_archive(t, path, &o, &e);
	if (r < 0 && (!e.msg[0] || strchr(e.msg, '\n')))
		abort(); /* errors are one line, never empty */
	tree_walk(t, check_node, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!path) {
		const char *tmp = getenv("TMPDIR");
		path = xasprintf("%s/crumb-import-fuzz.%ld", tmp && *tmp ? tmp : "/tmp",
				 (long)getpid());
		atexit(cleanup);
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);

	struct tree t;
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

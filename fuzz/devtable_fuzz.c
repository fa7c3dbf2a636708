/* devtable_fuzz.c: libFuzzer target: any bytes as a device table (crumb mkfs --device-table),
 * applied to a small tree; the tree must stay a tree and every error must name its line. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/devtable.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int check_node(struct tree_node *n, const char *path, void *ctx)
{
	(void)path;
	(void)ctx;
	if (n->mode > 07777 || (n->parent && n->parent->type != TREE_DIR))
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tree t;
	struct err e = {0};
	if (size > 1 << 14)
		return 0;
	tree_init(&t);
	tree_add_data(&t, "/etc/passwd", "root", 4, 0644, &e);
	tree_add_symlink(&t, "/bin/sh", "busybox", &e);
	int r = devtable_apply(&t, (const char *)data, size, "fuzz", &e);
	if (r != 0 && (r != CRUMB_EFORMAT || strncmp(e.msg, "fuzz:", 5)))
		abort();
	tree_walk(&t, check_node, NULL);
	tree_release(&t);
	return 0;
}

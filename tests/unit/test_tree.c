/* test_tree.c: the tree: path resolution inside the root, replacement rules, walk order, host
 * import. */
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "lib/tree.h"
#include "tap.h"

static int collect(struct tree_node *n, const char *path, void *ctx)
{
	struct sbuf *sb = ctx;
	sb_addf(sb, "%s|", path);
	return 0;
}

int main(void)
{
	struct tree t;
	struct err e = {0};
	struct tree_node *n;
	tree_init(&t);

	ok(tree_add_data(&t, "/usr/lib/x/libz.so.1.2", "zz", 2, 0644, &e) == 0,
	   "add a file, parents made");
	n = tree_lookup(&t, "/usr/lib", 0);
	ok(n && n->type == TREE_DIR && n->mode == 0755, "missing parents become 0755 directories");
	ok(tree_add_symlink(&t, "/lib", "usr/lib", &e) == 0, "add /lib -> usr/lib");
	n = tree_lookup(&t, "/lib/x/libz.so.1.2", 1);
	ok(n && n->type == TREE_REG && n->size == 2, "lookup through a relative symlink");
	ok(tree_add_symlink(&t, "/usr/lib/x/libz.so.1", "libz.so.1.2", &e) == 0,
	   "add a sibling link");
	n = tree_lookup(&t, "/lib/x/libz.so.1", 1);
	ok(n && n->type == TREE_REG, "follow a chain of two links");
	n = tree_lookup(&t, "/lib/x/libz.so.1", 0);
	ok(n && n->type == TREE_LNK, "nofollow returns the link itself");

	/* escapes are clamped at the root */
	ok(tree_add_symlink(&t, "/evil", "../../../../etc", &e) == 0,
	   "add a link pointing above the root");
	ok(tree_add_data(&t, "/evil/passwd", "x", 1, 0600, &e) == 0, "write through it");
	n = tree_lookup(&t, "/etc/passwd", 0);
	ok(n && n->type == TREE_REG, "... lands inside the tree at /etc/passwd");
	ok(tree_add_data(&t, "../../../tmp/f", "y", 1, 0600, &e) == 0,
	   "a path with .. above the root");
	ok(tree_lookup(&t, "/tmp/f", 0) != NULL, "... is clamped to /tmp/f");
	ok(tree_add_symlink(&t, "/loop1", "/loop2", &e) == 0 &&
	       tree_add_symlink(&t, "/loop2", "/loop1", &e) == 0,
	   "two links pointing at each other");
	ok(tree_add_data(&t, "/loop1/x", "z", 1, 0600, &e) == CRUMB_EUNSAFE,
	   "writing through a loop is refused");
	ok(strstr(e.msg, "too many levels") != NULL, "... with a clear message: %s", e.msg);
	ok(tree_lookup(&t, "/loop1", 1) == NULL, "lookup through a loop finds nothing");

	/* replacement rules */
	ok(tree_add(&t, "/usr", TREE_REG, 0644, &n, &e) == CRUMB_EINVAL,
	   "a non-empty dir is not replaced by a file");
	ok(tree_add(&t, "/usr", TREE_DIR, 0700, &n, &e) == 0 && n->mode == 0700 && n->nkids == 1,
	   "re-adding a dir keeps its children, takes the mode");
	ok(tree_add_data(&t, "/etc/passwd", "abc", 3, 0644, &e) == 0, "a file replaces a file");
	ok(tree_lookup(&t, "/etc/passwd", 0)->size == 3, "... with the new content");
	ok(tree_add_data(&t, "/etc/passwd/x", "a", 1, 0644, &e) == CRUMB_EINVAL,
	   "a file is not a parent");
	ok(tree_add_device(&t, "/dev/console", TREE_CHR, 0600, 5, 1, &e) == 0, "add a char device");
	n = tree_lookup(&t, "/dev/console", 0);
	ok(n && n->rdev_major == 5 && n->rdev_minor == 1 && n->mode == 0600, "device fields kept");
	ok(tree_remove(&t, "/loop1", &e) == 0 && !tree_lookup(&t, "/loop1", 0), "remove a node");
	ok(tree_remove(&t, "/no/such", &e) == 0, "removing a missing path is fine");
	ok(tree_remove(&t, "/", &e) == CRUMB_EINVAL, "the root cannot be removed");

	struct sbuf sb = SBUF_INIT;
	tree_walk(&t, collect, &sb);
	is_str(sb.buf,
	       "|dev|dev/console|etc|etc/passwd|evil|lib|loop2|tmp|tmp/f|usr|usr/lib|usr/lib/x|"
	       "usr/lib/x/libz.so.1|usr/lib/x/libz.so.1.2|",
	       "walk is pre-order, children sorted");
	sb_release(&sb);
	char *p = tree_path(tree_lookup(&t, "/usr/lib/x", 0));
	is_str(p, "/usr/lib/x", "tree_path");
	free(p);
	struct tree_stats st;
	tree_stats(&t, &st);
	ok(st.bytes == 6 && st.nodes == 15, "stats: %llu nodes, %llu bytes",
	   (unsigned long long)st.nodes, (unsigned long long)st.bytes);
	tree_release(&t);

	/* host import */
	char dir[] = "/tmp/crumb-tree-XXXXXX";
	ok(mkdtemp(dir) != NULL, "make a host dir");
	char *f = xasprintf("%s/a/b.txt", dir), *d = xasprintf("%s/a", dir);
	char *l = xasprintf("%s/a/link", dir), *fifo = xasprintf("%s/a/fifo", dir);
	mkdir(d, 0750);
	FILE *fp = fopen(f, "w");
	fputs("hello", fp);
	fclose(fp);
	chmod(f, 04755);
	symlink("b.txt", l);
	mkfifo(fifo, 0644);
	tree_init(&t);
	ok(tree_add_host(&t, d, "/data", &e) == 0, "import a host dir");
	n = tree_lookup(&t, "/data/b.txt", 0);
	ok(n && n->type == TREE_REG && n->size == 5 && n->mode == 04755 && n->uid == 0,
	   "file: size, setuid mode kept, root-owned");
	ok(n && n->src_path && !strcmp(n->src_path, f), "file content is a host reference");
	n = tree_lookup(&t, "/data/link", 0);
	ok(n && n->type == TREE_LNK && !strcmp(n->link, "b.txt"), "symlink kept verbatim");
	n = tree_lookup(&t, "/data/fifo", 0);
	ok(n && n->type == TREE_FIFO, "FIFO recorded, not opened");
	n = tree_lookup(&t, "/data", 0);
	ok(n && n->mode == 0750, "directory mode kept");
	ok(tree_add_host(&t, "/no/such/path", "/x", &e) == CRUMB_ENOENT,
	   "missing host path: ENOENT");
	ok(strstr(e.msg, "/no/such/path") != NULL, "... naming it");
	ok(tree_add_host_follow(&t, l, &e) == 0, "follow-import a symlinked file");
	n = tree_lookup(&t, l, 0);
	ok(n && n->type == TREE_LNK, "... the link is at its host path");
	n = tree_lookup(&t, f, 0);
	ok(n && n->type == TREE_REG, "... and so is its target");
	if (access("/lib64/ld-linux-x86-64.so.2", F_OK) == 0) {
		ok(tree_add_host_follow(&t, "/lib64/ld-linux-x86-64.so.2", &e) == 0,
		   "follow /lib64/ld-linux");
		n = tree_lookup(&t, "/lib64/ld-linux-x86-64.so.2", 1);
		ok(n && n->type == TREE_REG, "... resolves to a file inside the tree");
	}
	/* hard links, holes and xattrs */
	char *h1 = xasprintf("%s/a/h1", dir), *h2 = xasprintf("%s/a/h2", dir);
	char *sp = xasprintf("%s/a/sparse", dir);
	fp = fopen(h1, "w");
	fputs("linked", fp);
	fclose(fp);
	link(h1, h2);
	int fd = open(sp, O_WRONLY | O_CREAT, 0644);
	ok(fd >= 0 && pwrite(fd, "end", 3, 8 << 20) == 3, "make a sparse file with 8 MiB of hole");
	close(fd);
	int have_xattr = setxattr(h1, "user.crumb", "v1", 2, 0) == 0;
	ok(tree_add_host(&t, d, "/hl", &e) == 0, "import a dir with hard links and holes");
	struct tree_node *a = tree_lookup(&t, "/hl/h1", 0), *b = tree_lookup(&t, "/hl/h2", 0);
	ok(a && b && a->hardlink && a->hardlink == b->hardlink,
	   "two names of one file share a hardlink id");
	struct tree_node *other = tree_lookup(&t, "/hl/b.txt", 0);
	ok(other && other->hardlink == 0, "a file with one name has none");
	n = tree_lookup(&t, "/hl/sparse", 0);
	ok(n && n->extents && n->nextents == 1 && n->extents[0].off <= (8 << 20) &&
	       n->extents[0].off + n->extents[0].len == (8 << 20) + 3,
	   "the sparse file's data range is found");
	char buf[8];
	ok(n && tree_read(n, (8 << 20) - 2, buf, 5, &e) == 0 && !memcmp(buf, "\0\0end", 5),
	   "tree_read gives zeros in the hole, then the data");
	ok(n && tree_read(n, (8 << 20), buf, 4, &e) == CRUMB_EINVAL,
	   "reading past the end is refused");
	ok(a && tree_read(a, 0, buf, 6, &e) == 0 && !memcmp(buf, "linked", 6),
	   "tree_read of a host file");
	if (have_xattr)
		ok(a && a->nxattrs == 1 && !strcmp(a->xattrs[0].name, "user.crumb") &&
		       a->xattrs[0].len == 2 && !memcmp(a->xattrs[0].value, "v1", 2),
		   "user.* xattrs are copied");
	else
		ok(1, "# SKIP this filesystem has no user xattrs");
	tree_set_xattr(a, "user.crumb", "v2x", 3);
	ok(a->xattrs[a->nxattrs - 1].len == 3, "tree_set_xattr replaces a value");
	tree_release(&t);
	unlink(h1);
	unlink(h2);
	unlink(sp);
	free(h1);
	free(h2);
	free(sp);
	unlink(fifo);
	unlink(l);
	unlink(f);
	rmdir(d);
	rmdir(dir);
	free(f);
	free(d);
	free(l);
	free(fifo);

	/* tree_copy between trees: metadata, content, hard links, an all-holes file. */
	struct tree s, d2;
	struct tree_node *n1, *n2;
	struct err ce;
	tree_init(&s);
	tree_init(&d2);
	tree_add_data(&s, "/a/data", "hello", 5, 0640, &ce);
	n1 = tree_lookup(&s, "/a/data", 0);
	n1->uid = 7;
	n1->hardlink = 3;
	tree_set_xattr(n1, "user.k", "v", 1);
	tree_add(&s, "/a/link2", TREE_REG, 0640, &n2, &ce);
	tree_node_copy_content(n2, n1);
	n2->hardlink = 3;
	tree_add(&s, "/a/holes", TREE_REG, 0600, &n2, &ce);
	n2->size = 1 << 20;
	n2->extents = xmalloc(sizeof(*n2->extents)); /* no extent: all holes */
	tree_add_symlink(&s, "/a/sym", "data", &ce);
	tree_add(&d2, "/dst", TREE_DIR, 0700, &n2, &ce);
	n2->uid = 9;
	ok(tree_copy(&d2, "/dst", &s, "/a", TREE_COPY_KEEP_DIRS, &ce) == 0,
	   "tree_copy a directory");
	n1 = tree_lookup(&d2, "/dst/data", 0);
	ok(n1 && n1->size == 5 && !memcmp(n1->data, "hello", 5) && n1->uid == 7 && n1->mode == 0640,
	   "tree_copy: content, owner and mode");
	ok(n1 && n1->nxattrs == 1 && !strcmp(n1->xattrs[0].name, "user.k"), "tree_copy: xattrs");
	n2 = tree_lookup(&d2, "/dst/link2", 0);
	ok(n1 && n2 && n1->hardlink && n1->hardlink == n2->hardlink,
	   "tree_copy: hard links stay linked");
	n2 = tree_lookup(&d2, "/dst/holes", 0);
	ok(n2 && n2->extents && n2->nextents == 0, "tree_copy: an all-holes file stays all holes");
	n2 = tree_lookup(&d2, "/dst/sym", 0);
	ok(n2 && n2->type == TREE_LNK && !strcmp(n2->link, "data"), "tree_copy: symlinks verbatim");
	n2 = tree_lookup(&d2, "/dst", 0);
	ok(n2 && n2->uid == 9 && n2->mode == 0700,
	   "TREE_COPY_KEEP_DIRS keeps an existing directory's owner");
	tree_release(&s);
	tree_release(&d2);
	return done_testing();
}

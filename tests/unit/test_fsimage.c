/* test_fsimage.c: the fsimage handle: the format probe, reading and editing ext images and cpio
 * archives, the atomic rewrite of a cpio, careful extraction; checked with cpio, debugfs, e2fsck.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../src/lib/fsimage.h"
#include "tap.h"

static char dir[256];

static char *at(const char *name)
{
	return xasprintf("%s/%s", dir, name);
}

static void make_inputs(void)
{
	sh("mkdir -p %s/src/etc %s/src/bin && printf myhost >%s/src/etc/hostname", dir, dir, dir);
	sh("printf root >%s/src/etc/passwd && ln %s/src/etc/passwd %s/src/etc/pw", dir, dir, dir);
	sh("ln -s /etc/hostname %s/src/bin/hn", dir);
	sh("mke2fs -q -F -t ext4 -b 1024 -d %s/src %s/a.ext4 8M >/dev/null 2>&1", dir, dir);
	sh("cd %s/src && find . | LC_ALL=C sort | cpio -o -H newc --quiet >%s/a.cpio", dir, dir);
	sh("gzip -9nc <%s/a.cpio >%s/a.cpio.gz", dir, dir);
	sh("tar -C %s/src -cf %s/a.tar --format=ustar .", dir, dir);
	sh("head -c 4096 /dev/urandom | tr '\\037\\050\\102\\375\\060' 'xxxxx' >%s/junk", dir);
	sh("head -c 1000 %s/a.ext4 >%s/short.ext4 && printf 07 >%s/tiny", dir, dir, dir);
	sh("printf '\\037\\213' >%s/gz2 && printf 07070 >%s/cpio5", dir, dir);
	sh("mkfifo %s/fifo", dir);
}

static void test_probe(void)
{
	static const struct {
		const char *name;
		enum fsimage_kind kind;
	} cases[] = {
	    {"a.ext4", FSIMAGE_EXT}, {"a.cpio", FSIMAGE_CPIO}, {"a.cpio.gz", FSIMAGE_GZIP},
	    {"a.tar", FSIMAGE_TAR},  {"junk", FSIMAGE_OTHER},  {"short.ext4", FSIMAGE_OTHER},
	    {"tiny", FSIMAGE_OTHER}, {"gz2", FSIMAGE_GZIP},    {"cpio5", FSIMAGE_OTHER},
	};
	struct err e = {0};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum fsimage_kind k = 99;
		char *p = at(cases[i].name);
		int r = fsimage_probe(p, &k, &e);
		ok(r == 0 && k == cases[i].kind, "probe %s: kind %d (got %d)", cases[i].name,
		   cases[i].kind, k);
		free(p);
	}
	enum fsimage_kind k;
	char *p = at("missing");
	is_int(fsimage_probe(p, &k, &e), CRUMB_ENOENT, "probe of a missing file: ENOENT");
	ok(strstr(e.msg, "missing") != NULL, "... naming it");
	free(p);
	p = at("fifo");
	is_int(fsimage_probe(p, &k, &e), CRUMB_EINVAL, "a FIFO is not read: EINVAL");
	ok(strstr(e.msg, "not a regular file") != NULL, "... saying so");
	free(p);
	is_int(fsimage_probe(dir, &k, &e), CRUMB_EINVAL, "a directory: EINVAL");
}

static char *read_path(struct fsimage *im, const char *path)
{
	struct err e = {0};
	struct fsimage_at p;
	struct fsimage_ent s;
	if (fsimage_resolve(im, path, 1, &p, &e) < 0 || fsimage_at_ent(&p, 0, &s, &e) < 0)
		return NULL;
	char *buf = xcalloc(1, s.size + 1);
	if (fsimage_read(&p, 0, buf, s.size, &e) < 0) {
		free(buf);
		buf = NULL;
	}
	fsimage_ent_release(&s);
	return buf;
}

/* What any kind of image must read the same. */
static void check_reads(const char *name)
{
	struct fsimage *im = NULL;
	struct err e = {0};
	char *p = at(name);
	is_int(fsimage_open(p, NULL, &im, &e), 0, "%s: open", name);
	free(p);
	if (!im)
		return;
	char *s = read_path(im, "/etc/hostname");
	is_str(s, "myhost", "%s: read a file", name);
	free(s);
	s = read_path(im, "/bin/hn");
	is_str(s, "myhost", "%s: read through a symlink inside the image", name);
	free(s);
	struct fsimage_ent st;
	is_int(fsimage_stat(im, "/bin/hn", 0, &st, &e), 0, "%s: stat a symlink", name);
	ok(st.type == TREE_LNK && st.link && !strcmp(st.link, "/etc/hostname"),
	   "%s: ... its target", name);
	fsimage_ent_release(&st);
	is_int(fsimage_stat(im, "/etc/passwd", 0, &st, &e), 0, "%s: stat a hard-linked file", name);
	is_int(st.links, 2, "%s: ... two names", name);
	fsimage_ent_release(&st);
	ok(fsimage_is_dir(im, "/etc") && !fsimage_is_dir(im, "/etc/passwd"), "%s: is_dir", name);
	struct fsimage_at root;
	struct fsimage_dir d;
	fsimage_resolve(im, "/etc", 1, &root, &e);
	is_int(fsimage_readdir(&root, &d, &e), 0, "%s: readdir", name);
	ok(d.n == 3 && !strcmp(d.name[0], "hostname") && !strcmp(d.name[2], "pw"),
	   "%s: ... sorted entries", name);
	fsimage_dir_release(&d);
	ok(fsimage_stat(im, "/nope", 0, &st, &e) == CRUMB_ENOENT, "%s: missing: ENOENT", name);
	fsimage_close(im, 0, &e);
}

static void test_ext_edit(void)
{
	struct fsimage *im = NULL;
	struct err e = {0};
	struct fsimage_opts o = {.rw = 1, .epoch = 1000, .clamp = 1};
	char *p = at("a.ext4");
	sh("cp %s %s/before.ext4", p, dir);
	is_int(fsimage_open(p, &o, &im, &e), 0, "ext: open for editing");
	if (!im)
		return;
	is_int(fsimage_kind(im), FSIMAGE_EXT, "ext: kind");
	is_int(fsimage_write_check(im, &e), 0, "ext: the write check passes");
	is_int(fsimage_mkdir(im, "/a/b/c", 1, "x", &e), 0, "ext: mkdir -p");
	is_int(fsimage_symlink(im, "target", "/a/l", "x", &e), 0, "ext: symlink");
	is_int(fsimage_remove(im, "/etc/pw", 0, "x", &e), 0, "ext: rm");
	is_int(fsimage_chmod(im, "/etc/hostname", 04755, "x", &e), 0, "ext: chmod");
	is_int(fsimage_rename(im, "/etc/hostname", "/a/hn", &e), 0, "ext: rename");
	fsimage_close(im, 0, &e);
	is_int(sh("cmp -s %s %s/before.ext4", p, dir), 0,
	       "ext: closing without commit drops it all");
	fsimage_open(p, &o, &im, &e);
	fsimage_mkdir(im, "/a/b/c", 1, "x", &e);
	fsimage_chown(im, "/etc/hostname", 1000, 50, 0, "x", &e);
	is_int(fsimage_close(im, 1, &e), 0, "ext: commit");
	is_int(sh("e2fsck -fn %s >/dev/null 2>&1", p), 0, "ext: e2fsck -fn clean after the edits");
	is_int(sh("debugfs -R 'stat /etc/hostname' %s 2>/dev/null | grep -q 'User:  1000   Group:  "
		  "  50'",
		  p),
	       0, "ext: debugfs sees the new owner");
	is_int(sh("debugfs -R 'ls /a/b' %s 2>/dev/null | grep -q ' c '", p), 0,
	       "ext: debugfs sees the new directory");
	free(p);
}

static int cpio_lists(const char *path, const char *name)
{
	return sh("cpio -it --quiet <%s 2>/dev/null | grep -qx '%s'", path, name) == 0;
}

static void test_cpio_edit(void)
{
	struct fsimage *im = NULL, *src = NULL;
	struct err e = {0};
	struct fsimage_opts o = {.rw = 1};
	struct stat st1, st2;
	char *p = at("a.cpio"), *x = at("a.ext4");
	is_int(fsimage_open(p, &o, &im, &e), 0, "cpio: open for editing");
	if (!im)
		return;
	ok(fsimage_is_cpio(im) && fsimage_kind(im) == FSIMAGE_CPIO, "cpio: kind");
	is_int(fsimage_write_check(im, &e), 0, "cpio: may be edited");
	is_int(fsimage_mkdir(im, "/new", 0, "a.cpio:/new", &e), 0, "cpio: mkdir");
	is_int(fsimage_mkdir(im, "/new", 0, "a.cpio:/new", &e), CRUMB_EINVAL, "cpio: mkdir again");
	is_str(e.msg, "a.cpio:/new: exists", "... the message names it as shown");
	is_int(fsimage_remove(im, "/nope", 0, "a.cpio:/nope", &e), CRUMB_ENOENT,
	       "cpio: rm of a missing path: ENOENT (rm -f ignores it)");
	is_int(fsimage_remove(im, "/", 1, "a.cpio:/", &e), CRUMB_EINVAL, "cpio: the root stays");
	is_int(fsimage_remove(im, "/etc", 0, "a.cpio:/etc", &e), CRUMB_EINVAL,
	       "cpio: a full directory needs recursive");
	is_int(fsimage_remove(im, "/etc/pw", 0, "x", &e), 0, "cpio: rm");
	is_int(fsimage_rename(im, "/bin", "/new/bin", &e), 0, "cpio: rename");
	is_int(fsimage_rename(im, "/new", "/new/bin/x", &e), CRUMB_EINVAL,
	       "cpio: no move below itself");
	/* a file from another image, by reference: the ext image stays open until the flush */
	struct tree t;
	tree_init(&t);
	fsimage_open(x, NULL, &src, &e);
	is_int(fsimage_read_tree(src, "/etc/hostname", &t, "/h", &e), 0, "read a tree from ext");
	is_int(fsimage_put(im, "/new/hostname", tree_lookup(&t, "/h", 0), 0, &e), 0,
	       "cpio: put a file read from an ext image");
	is_int(fsimage_link(im, "/new/hostname", "/new/hl", "x", "y", &e), 0, "cpio: hard link");
	stat(p, &st1);
	is_int(fsimage_flush(im, &e), 0, "cpio: flush rewrites it");
	stat(p, &st2);
	ok(st1.st_ino != st2.st_ino, "cpio: ... as a new file renamed over the old (atomic)");
	is_int(sh("ls -A %s | grep -v -e '^a\\.' -e '^src$' -e '^before' -e '^short' -e '^tiny$' "
		  "-e '^gz2$' -e '^cpio5$' "
		  "-e '^junk$' -e '^fifo$' -e '^out' | grep -q .",
		  dir),
	       1, "cpio: ... leaving no temporary file");
	fsimage_close(im, 1, &e);
	fsimage_close(src, 0, &e);
	tree_release(&t);
	ok(cpio_lists(p, "new/bin/hn") && cpio_lists(p, "new/hostname") && !cpio_lists(p, "etc/pw"),
	   "cpio -it sees the edits");
	is_int(sh("cd %s && mkdir -p out && cd out && cpio -id --quiet <../a.cpio 2>/dev/null && "
		  "test \"$(cat new/hl)\" = myhost && test new/hl -ef new/hostname",
		  dir),
	       0, "cpio -id: the content and the hard link came through");
	free(p);
	free(x);
}

static void test_refusals(void)
{
	struct fsimage *im = NULL;
	struct err e = {0};
	struct fsimage_opts o = {.rw = 1};
	char *p = at("a.tar");
	is_int(fsimage_open(p, &o, &im, &e), 0, "tar: opens");
	is_int(fsimage_kind(im), FSIMAGE_TAR, "tar: kind");
	is_int(fsimage_write_check(im, &e), CRUMB_EUNSUPP, "tar: cannot be edited");
	ok(strstr(e.msg, "only cpio archives can be edited") != NULL, "... saying so");
	fsimage_close(im, 0, &e);
	free(p);
	p = at("junk");
	is_int(fsimage_open(p, NULL, &im, &e), CRUMB_EFORMAT, "junk: CRUMB_EFORMAT");
	ok(strstr(e.msg, "not an ext2/3/4 image") != NULL, "... neither an image nor an archive");
	ok(im == NULL, "... and no handle");
	free(p);
	p = at("short.ext4");
	ok(fsimage_open(p, NULL, &im, &e) < 0, "a truncated image does not open");
	free(p);
	sh("head -c $(($(stat -c %%s %s/a.cpio.gz) / 2)) %s/a.cpio.gz >%s/cut.cpio.gz", dir, dir,
	   dir);
	p = at("cut.cpio.gz");
	ok(fsimage_open(p, NULL, &im, &e) < 0, "a truncated archive does not open: %s", e.msg);
	free(p);
}

static void test_extract(void)
{
	struct fsimage *im = NULL;
	struct err e = {0};
	struct tree t;
	char *p = at("a.cpio.gz"), *dest = at("x/etc"), *into = at("x/etc/");
	sh("rm -rf %s/x %s/victim && mkdir -p %s/x/etc && printf safe >%s/victim", dir, dir, dir,
	   dir);
	sh("ln -s %s/victim %s/x/etc/hostname", dir, dir);
	fsimage_open(p, NULL, &im, &e);
	tree_init(&t);
	is_int(fsimage_read_tree(im, "/etc", &t, "/etc", &e), 0, "read /etc of a cpio.gz");
	is_int(fsimage_extract(tree_lookup(&t, "/etc", 0), into, 0, &e), 0,
	       "extract into an existing directory");
	is_int(sh("test \"$(cat %s/victim)\" = safe", dir), 0,
	       "a symlink in the way is not followed");
	is_int(sh("test ! -L %s/x/etc/hostname && test \"$(cat %s/x/etc/hostname)\" = myhost", dir,
		  dir),
	       0, "... it is replaced by the file");
	is_int(sh("test %s/x/etc/passwd -ef %s/x/etc/pw", dir, dir), 0,
	       "hard links stay hard links");
	struct tree_node *n = tree_lookup(&t, "/etc/passwd", 0);
	free(n->name);
	n->name = xstrdup("..");
	ok(fsimage_extract(tree_lookup(&t, "/etc", 0), dest, 0, &e) == CRUMB_EUNSAFE &&
	       strstr(e.msg, "refusing to write the name '..'"),
	   "a name '..' is refused");
	tree_release(&t);
	fsimage_close(im, 0, &e);
	free(p);
	free(dest);
	free(into);
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/crumb-fsimage-XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	make_inputs();
	test_probe();
	check_reads("a.ext4");
	check_reads("a.cpio");
	check_reads("a.cpio.gz");
	check_reads("a.tar");
	test_ext_edit();
	test_cpio_edit();
	test_refusals();
	test_extract();
	sh("rm -rf %s", dir);
	return done_testing();
}

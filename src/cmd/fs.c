/* fs.c: `crumb fs VERB`: mtools-like reading and editing of ext2/3/4 images and cpio archives. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../lib/ext4io.h"
#include "../lib/fsimage.h"
#include "../lib/opt.h"
#include "cmd.h"

const char usage_fs[] =
    "usage: crumb fs VERB [--force] ARGS...\n"
    "\n"
    "Reads and edits ext2/3/4 images and cpio archives (newc; none, gzip or zstd)\n"
    "without mounting them and without root, like mtools does for FAT.\n"
    "\n"
    "  ls [-l] [-R] [-d] ADDR...        list (numeric owners with -l)\n"
    "  cat ADDR...                      write file contents to stdout\n"
    "  stat ADDR...                     type, mode, owner, size, links, times, xattrs, device\n"
    "  du [-s] ADDR...                  disk use in KiB (hard links counted once)\n"
    "  cp [-r] [-p] SRC... DEST         host->image, image->host, image->image\n"
    "  mv SRC... DEST                   rename (across images: copy, then remove)\n"
    "  rm [-r] [-f] ADDR...             remove\n"
    "  mkdir [-p] ADDR...               make directories (0755, owner 0:0)\n"
    "  ln [-s] TARGET ADDR              hard link (TARGET in the same image) or symlink\n"
    "  chmod MODE ADDR...               MODE in octal\n"
    "  chown UID[:GID] ADDR...          numeric ids\n"
    "  fsck IMAGE...                    check an image and list its problems\n"
    "\n"
    "An ADDR is IMAGE:PATH when it holds a ':' and the text before the first ':'\n"
    "is an existing file (disk.ext4:/etc, ./out/initrd.cpio.gz:/init); PATH is\n"
    "inside the image (IMAGE: alone is its root). Anything else is a host path;\n"
    "a host file whose name starts with an image's name and a ':' cannot be named.\n"
    "The kind of image is found from its content (ext superblock, else an archive).\n"
    "\n"
    "Paths inside an image resolve inside it: '..' stops at its root and its\n"
    "symlinks are followed inside it, never on the host. ext images are edited\n"
    "in place; an edited cpio archive is rewritten (same compression, mtimes kept)\n"
    "atomically. Copies to the host never write through a symlink, and refuse\n"
    "names holding '/' or '..'. Copied files get mode & 0777, owner 0:0 and the\n"
    "current time unless -p keeps mode, owner, mtime and xattrs (files from the\n"
    "host become root-owned either way, as in crumb mkfs); with SOURCE_DATE_EPOCH\n"
    "set, times written into an image are clamped to it. A symlink named as a\n"
    "cp source is followed; symlinks below it are copied as symlinks.\n"
    "\n"
    "fsck checks an image read-only: group descriptors, checksums, every inode\n"
    "(sizes, extent trees, symlinks, xattrs), every directory (entries, '.' and\n"
    "'..', duplicate names, htree indexes), that the directories form a tree\n"
    "(no hard link to a directory, no cycle), link counts, the bitmaps against\n"
    "the blocks and inodes in use, free counts and the journal superblock; at\n"
    "most 50 problems are listed. For a second opinion, run e2fsck -fn IMAGE.\n"
    "\n"
    "Before its first write into an ext image, a verb runs that check and refuses\n"
    "a damaged image (writing into it could overwrite another file's blocks), and\n"
    "one with a feature crumb's edits do not keep right (quota, project, bigalloc,\n"
    "mmp, encrypt, casefold, verity, ea_inode, shared_blocks, read-only, unknown\n"
    "ones). --force (cp, mv, rm, mkdir, ln, chmod, chown) writes anyway: run\n"
    "e2fsck -f on the image afterwards (rm -f only ignores missing paths).\n"
    "Edits of an ext image are held aside and written only when the whole\n"
    "command succeeded: a command that fails (a full image, a bad source) leaves\n"
    "the image byte-identical.\n"
    "\n"
    "Exit: 0, 1 on failure, 2 on a usage error. fsck: 0 clean, 1 problems found\n"
    "(or the image is unreadable), 3 not (fully) checked: the image uses features\n"
    "the check does not verify (bigalloc, quota, ...; it names them), and no\n"
    "problem was found in what it did check.\n";

/* One image named on the command line, opened once however often it is named. */
struct vol {
	struct fsimage *im;
	dev_t dev;
	ino_t ino;
};

struct addr {
	struct vol *v; /* NULL: a host path */
	const char *path;
};

#define MAX_VOLS 16
static struct vol vols[MAX_VOLS];
static int nvols;
static struct fsimage_opts vopts; /* rw, force, SOURCE_DATE_EPOCH for every image */
static int last_open_code;	  /* the CRUMB_E* code of the last open that failed */
static struct tree scratch;	  /* sources materialized for cp */
static int scratch_n;

/* Prints "crumb: MESSAGE" and returns EXIT_FAIL, so errors read as one statement. */
__attribute__((format(printf, 1, 2))) static int ferr(const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cmd_error("%s", msg);
	return EXIT_FAIL;
}

static int verr(const struct err *e)
{
	cmd_error_err(e);
	return EXIT_FAIL;
}

static int vol_open(const char *image, struct vol **out)
{
	struct stat st;
	struct err e = {0};
	if (stat(image, &st) < 0)
		return ferr("%s: %s", image, strerror(errno));
	for (int i = 0; i < nvols; i++)
		if (vols[i].dev == st.st_dev && vols[i].ino == st.st_ino) {
			*out = &vols[i];
			return 0;
		}
	if (nvols == MAX_VOLS)
		return ferr("too many images");
	struct vol *v = &vols[nvols];
	int r = fsimage_open(image, &vopts, &v->im, &e);
	if (r < 0) {
		last_open_code = r;
		return verr(&e);
	}
	v->dev = st.st_dev;
	v->ino = st.st_ino;
	nvols++;
	*out = v;
	return 0;
}

/* Writes back edited archives, then closes images (archives may read from them): a failed
 * command writes no image, edits made before the failure are dropped. */
static int vols_close(int status)
{
	struct err e = {0};
	for (int i = 0; i < nvols && !status; i++)
		if (fsimage_flush(vols[i].im, &e) < 0)
			status = verr(&e);
	for (int i = 0; i < nvols; i++)
		if (fsimage_close(vols[i].im, !status, &e) < 0)
			status = verr(&e);
	nvols = 0;
	if (scratch.root)
		tree_release(&scratch);
	return status;
}

static int parse_addr(const char *arg, struct addr *a)
{
	memset(a, 0, sizeof(*a));
	a->path = arg;
	const char *colon = strchr(arg, ':');
	if (!colon || colon == arg)
		return 0;
	char *image = xstrndup(arg, (size_t)(colon - arg));
	struct stat st;
	if (stat(image, &st) < 0 || !S_ISREG(st.st_mode)) {
		free(image);
		return 0;
	}
	int r = vol_open(image, &a->v);
	free(image);
	if (r)
		return r;
	a->path = colon[1] ? colon + 1 : "/";
	return 0;
}

/* A damaged image, or one with features crumb does not keep right, is not written. */
static int need_edit(struct addr *a)
{
	struct err e = {0};
	if (!a->v)
		return 0;
	struct fsimage *im = a->v->im;
	if (fsimage_ro_reason(im))
		return ferr("%s", fsimage_ro_reason(im));
	int r = fsimage_write_check(im, &e);
	if (r == 0 || fsimage_kind(im) != FSIMAGE_EXT)
		return r ? verr(&e) : 0;
	if (r == CRUMB_EUNSAFE)
		return ferr("%s (crumb fs fsck %s lists them; --force writes anyway)", e.msg,
			    fsimage_path(im));
	return ferr("%s (--force writes anyway; e2fsck -f repairs what is left)", e.msg);
}

/* parse_addr for an argument that must name a path inside an image; with
 * edit, the image is also opened for editing. */
static int image_addr(const char *arg, struct addr *a, int edit)
{
	int r = parse_addr(arg, a);
	if (r)
		return r;
	if (!a->v)
		return ferr("%s: not IMAGE:PATH (see 'crumb help fs')", arg);
	return edit ? need_edit(a) : 0;
}

static char *join(const char *dir, const char *name)
{
	size_t l = strlen(dir);
	return xasprintf("%s%s%s", dir, l && dir[l - 1] == '/' ? "" : "/", name);
}

/* The last component of p without trailing slashes ("/" for the root); malloc'd. */
static char *base_name(const char *p)
{
	size_t l = strlen(p);
	while (l > 1 && p[l - 1] == '/')
		l--;
	const char *s = p + l;
	while (s > p && s[-1] != '/')
		s--;
	return l == 1 && p[0] == '/' ? xstrdup("/") : xstrndup(s, (size_t)(p + l - s));
}

/* ---- ls / stat / du / cat ---- */

static void mode_string(const struct fsimage_ent *s, char out[11])
{
	static const char t[] = "d-lcbps";
	static const char rwx[] = "rwxrwxrwx";
	out[0] = t[s->type];
	for (int i = 0; i < 9; i++)
		out[1 + i] = s->mode & (0400 >> i) ? rwx[i] : '-';
	if (s->mode & 04000)
		out[3] = s->mode & 0100 ? 's' : 'S';
	if (s->mode & 02000)
		out[6] = s->mode & 010 ? 's' : 'S';
	if (s->mode & 01000)
		out[9] = s->mode & 01 ? 't' : 'T';
	out[10] = 0;
}
static void print_long(const struct fsimage_ent *s, const char *name)
{
	char m[11], date[32];
	time_t t = (time_t)s->mtime;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%Y-%m-%d %H:%M", &tm);
	mode_string(s, m);
	printf("%s %3u %5u %5u ", m, s->links, s->uid, s->gid);
	if (s->type == TREE_CHR || s->type == TREE_BLK)
		printf("%4u, %4u", s->major, s->minor);
	else
		printf("%10llu", (unsigned long long)s->size);
	printf(" %s %s", date, name);
	if (s->type == TREE_LNK && s->link)
		printf(" -> %s", s->link);
	putchar('\n');
}

/* The flags of one command line. */
struct fsflags {
	const char *verb;
	const char *ok; /* the short flags this verb takes */
	int lng, rec, dirs, pre, force, sym;
};

static int ls_dir(struct fsimage_walk *w, const struct fsimage_at *p, const char *shown,
		  const struct fsflags *f, int header, int depth)
{
	struct err e = {0};
	struct fsimage_dir k;
	if (fsimage_walk_enter(w, p, shown, depth, &e) < 0 || fsimage_readdir(p, &k, &e) < 0)
		return verr(&e);
	if (header)
		printf("%s:\n", shown);
	size_t *subdirs = xcalloc(k.n ? k.n : 1, sizeof(*subdirs)), nsub = 0;
	int r = 0;
	for (size_t i = 0; i < k.n && !r; i++) {
		struct fsimage_ent s;
		if (fsimage_at_ent(&k.at[i], f->lng, &s, &e) < 0) {
			r = verr(&e);
			break;
		}
		if (f->lng)
			print_long(&s, k.name[i]);
		else
			puts(k.name[i]);
		if (f->rec && s.type == TREE_DIR)
			subdirs[nsub++] = i;
		fsimage_ent_release(&s);
	}
	for (size_t i = 0; i < nsub && !r; i++) {
		char *sh = join(shown, k.name[subdirs[i]]);
		putchar('\n');
		r = ls_dir(w, &k.at[subdirs[i]], sh, f, 1, depth + 1);
		free(sh);
	}
	free(subdirs);
	fsimage_dir_release(&k);
	return r;
}

/* One ls argument. */
static int ls_one(const char *arg, int first, int many, const struct fsflags *f)
{
	struct err e = {0};
	struct addr a;
	struct fsimage_at p;
	struct fsimage_ent s;
	int r;
	if ((r = image_addr(arg, &a, 0)))
		return r;
	if (fsimage_resolve(a.v->im, a.path, !f->dirs, &p, &e) < 0 ||
	    fsimage_at_ent(&p, 0, &s, &e) < 0)
		return verr(&e);
	if (s.type == TREE_DIR && !f->dirs) {
		struct fsimage_walk w;
		if (!first)
			putchar('\n');
		fsimage_walk_init(&w, a.v->im);
		r = ls_dir(&w, &p, arg, f, many || f->rec, 0);
		fsimage_walk_release(&w);
	} else if (f->lng) {
		if (s.type == TREE_LNK || f->dirs) { /* show the link itself */
			fsimage_ent_release(&s);
			if (fsimage_stat(a.v->im, a.path, 0, &s, &e) < 0)
				verr(&e);
		}
		print_long(&s, arg);
	} else {
		puts(arg);
	}
	fsimage_ent_release(&s);
	return r;
}

static int do_ls(int argc, char **argv, const struct fsflags *f)
{
	int r = 0;
	for (int i = 0; i < argc && !r; i++)
		r = ls_one(argv[i], i == 0, argc > 1, f);
	return r;
}

static void print_xattr(const struct tree_xattr *x)
{
	printf(" Xattr: %s=", x->name);
	const unsigned char *p = x->value;
	int text = 1;
	for (size_t j = 0; j < x->len; j++)
		if (p[j] < 32 || p[j] > 126 || p[j] == '"' || p[j] == '\\')
			text = 0;
	if (text) {
		printf("\"%.*s\"\n", (int)x->len, (const char *)p);
		return;
	}
	printf("0x");
	for (size_t j = 0; j < x->len; j++)
		printf("%02x", p[j]);
	putchar('\n');
}

static void print_stat(const char *path, const struct fsimage_ent *s)
{
	static const char *tn[] = {
	    "directory",    "regular file", "symbolic link", "character device",
	    "block device", "fifo",	    "socket"};
	char date[64];
	time_t t = (time_t)s->mtime;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S UTC", &tm);
	printf("  File: %s\n  Type: %s\n  Mode: %04o\n   Uid: %u\n   Gid: %u\n"
	       "  Size: %llu\n Links: %u\n Inode: %llu\nBlocks: %llu\n Mtime: %lld (%s)\n",
	       path, tn[s->type], s->mode, s->uid, s->gid, (unsigned long long)s->size, s->links,
	       (unsigned long long)s->ino, (unsigned long long)s->blocks, (long long)s->mtime,
	       date);
	if (s->type == TREE_CHR || s->type == TREE_BLK)
		printf("Device: %u,%u\n", s->major, s->minor);
	if (s->type == TREE_LNK)
		printf("  Link: %s\n", s->link);
	for (size_t k = 0; k < s->nx; k++)
		print_xattr(&s->x[k]);
}

/* Runs op on each IMAGE:PATH word (opened for editing when edit is set), stopping at the
 * first failure. */
typedef int (*addr_op)(struct addr *a, const char *word, const void *ctx, struct err *e);
static int each_addr(int argc, char **argv, int edit, addr_op op, const void *ctx)
{
	int r = 0;
	for (int i = 0; i < argc && !r; i++) {
		struct err e = {0};
		struct addr a;
		if ((r = image_addr(argv[i], &a, edit)))
			break;
		if (op(&a, argv[i], ctx, &e) < 0)
			r = verr(&e);
	}
	return r;
}

static int stat_one(struct addr *a, const char *word, const void *ctx, struct err *e)
{
	struct fsimage_ent s;
	(void)word, (void)ctx;
	int r = fsimage_stat(a->v->im, a->path, 0, &s, e);
	if (r < 0)
		return r;
	print_stat(a->path, &s);
	fsimage_ent_release(&s);
	return 0;
}

static int do_stat(int argc, char **argv, const struct fsflags *f)
{
	(void)f;
	return each_addr(argc, argv, 0, stat_one, NULL);
}

static int du_walk(struct fsimage_walk *w, const struct fsimage_at *p, const char *shown,
		   uint64_t *kib, int depth, struct err *e)
{
	struct fsimage_ent s;
	struct fsimage_dir k;
	int r;
	if ((r = fsimage_at_ent(p, 0, &s, e)) < 0)
		return r;
	if (s.links < 2 || s.type == TREE_DIR || fsimage_walk_first(w, s.ino))
		*kib += fsimage_kib(p->im, &s);
	int dir = s.type == TREE_DIR;
	fsimage_ent_release(&s);
	if (!dir)
		return 0;
	if ((r = fsimage_walk_enter(w, p, shown, depth, e)) < 0 ||
	    (r = fsimage_readdir(p, &k, e)) < 0)
		return r;
	for (size_t i = 0; i < k.n && !r; i++) {
		char *sh = join(shown, k.name[i]);
		r = du_walk(w, &k.at[i], sh, kib, depth + 1, e);
		free(sh);
	}
	fsimage_dir_release(&k);
	return r;
}

static int du_one(struct addr *a, const char *word, const void *ctx, struct err *e)
{
	struct fsimage_at p;
	struct fsimage_walk w;
	uint64_t kib = 0;
	(void)ctx;
	int r = fsimage_resolve(a->v->im, a->path, 0, &p, e);
	if (r < 0)
		return r;
	fsimage_walk_init(&w, a->v->im);
	if ((r = du_walk(&w, &p, word, &kib, 0, e)) == 0)
		printf("%llu\t%s\n", (unsigned long long)kib, word);
	fsimage_walk_release(&w);
	return r;
}

static int do_du(int argc, char **argv, const struct fsflags *f)
{
	(void)f;
	return each_addr(argc, argv, 0, du_one, NULL);
}

/* Writes the regular file at arg to stdout. */
static int cat_one(const char *arg, char *buf, size_t bufsz)
{
	struct err e = {0};
	struct addr a;
	struct fsimage_at p;
	struct fsimage_ent s;
	int r;
	if ((r = image_addr(arg, &a, 0)))
		return r;
	if (fsimage_kind(a.v->im) != FSIMAGE_EXT) {
		/* an archive names the argument itself when it is not there */
		if (fsimage_resolve(a.v->im, a.path, 1, &p, &e) < 0)
			return ferr("%s: no such file", arg);
	} else if (fsimage_resolve(a.v->im, a.path, 1, &p, &e) < 0) {
		return verr(&e);
	}
	if (fsimage_at_ent(&p, 0, &s, &e) < 0)
		return verr(&e);
	uint64_t size = s.size;
	int reg = s.type == TREE_REG;
	fsimage_ent_release(&s);
	if (!reg)
		return ferr("%s: not a regular file", arg);
	for (uint64_t off = 0; off < size && !r; off += bufsz) {
		size_t len = size - off > bufsz ? bufsz : (size_t)(size - off);
		if (fsimage_read(&p, off, buf, len, &e) < 0)
			r = verr(&e);
		else if (fwrite(buf, 1, len, stdout) != len)
			r = ferr("writing stdout: %s", strerror(errno));
	}
	return r;
}

static int do_cat(int argc, char **argv, const struct fsflags *f)
{
	(void)f;
	char *buf = xmalloc(1 << 16);
	int r = 0;
	for (int i = 0; i < argc && !r; i++)
		r = cat_one(argv[i], buf, 1 << 16);
	free(buf);
	if (fflush(stdout) && !r)
		r = ferr("writing stdout: %s", strerror(errno));
	return r;
}

/* ---- copying ---- */

/* The source of a copy as a tree node, in scratch. */
static int source_node(struct addr *a, int recursive, const struct tree_node **out)
{
	struct err e = {0};
	char dest[32];
	int r;
	if (!scratch.root)
		tree_init(&scratch);
	snprintf(dest, sizeof(dest), "/%d", ++scratch_n);
	if (!a->v)
		r = tree_add_host(&scratch, a->path, dest, &e);
	else
		r = fsimage_read_tree(a->v->im, a->path, &scratch, dest, &e);
	if (r < 0)
		return verr(&e);
	*out = tree_lookup(&scratch, dest, 0);
	if ((*out)->type == TREE_DIR && !recursive)
		return ferr("%s is a directory (use -r)", a->path);
	return 0;
}

static int is_dir_at(struct addr *a)
{
	struct stat st;
	if (!a->v)
		return stat(a->path, &st) == 0 && S_ISDIR(st.st_mode);
	return fsimage_is_dir(a->v->im, a->path);
}

/* Puts n at dst (already resolved to its final name, or a directory for the image root). */
static int put_node(struct addr *dst, const char *dpath, const struct tree_node *n, int preserve)
{
	struct err e = {0};
	if (!dst->v)
		return fsimage_extract(n, dpath, preserve, &e) < 0 ? verr(&e) : 0;
	if (need_edit(dst))
		return EXIT_FAIL;
	return fsimage_put(dst->v->im, dpath, n, preserve, &e) < 0 ? verr(&e) : 0;
}

static int do_cp(int argc, char **argv, const struct fsflags *f)
{
	struct addr dst;
	int r;
	if (argc < 2)
		return cmd_usage_error("fs", "cp needs SRC... DEST");
	if ((r = parse_addr(argv[argc - 1], &dst)))
		return r;
	int into = argc > 2 || is_dir_at(&dst);
	if (argc > 2 && !into)
		return ferr("%s: not a directory", argv[argc - 1]);
	for (int i = 0; i < argc - 1; i++) {
		struct addr src;
		const struct tree_node *n;
		if ((r = parse_addr(argv[i], &src)) || (r = source_node(&src, f->rec, &n)))
			return r;
		char *b = base_name(src.path);
		char *dpath;
		if (!into)
			dpath = xstrdup(dst.path);
		else if (!strcmp(b, "/") || !strcmp(b, ".") || !strcmp(b, ".."))
			dpath = dst.v ? xstrdup(dst.path) : join(dst.path, ""); /* contents merge */
		else
			dpath = join(dst.path, b);
		r = put_node(&dst, dpath, n, f->pre);
		free(dpath);
		free(b);
		if (r)
			return r;
	}
	return 0;
}

/* ---- namespace edits ---- */

/* mv across images or from the host: copy everything, then remove the source. */
static int move_across(struct addr *src, struct addr *dst, const char *dpath)
{
	struct err e = {0};
	const struct tree_node *n;
	int r;
	if ((r = need_edit(src)) || (r = source_node(src, 1, &n)) ||
	    (r = put_node(dst, dpath, n, 1)))
		return r;
	if (!src->v)
		r = remove_tree(src->path, &e);
	else
		r = fsimage_remove(src->v->im, src->path, 1, src->path, &e);
	return r < 0 ? verr(&e) : 0;
}

static int do_mv(int argc, char **argv, const struct fsflags *f)
{
	(void)f;
	struct addr dst;
	struct err e = {0};
	int r;
	if (argc < 2)
		return cmd_usage_error("fs", "mv needs SRC... DEST");
	if ((r = parse_addr(argv[argc - 1], &dst)))
		return r;
	int into = argc > 2 || is_dir_at(&dst);
	for (int i = 0; i < argc - 1 && !r; i++) {
		struct addr src;
		if ((r = parse_addr(argv[i], &src)))
			return r;
		char *b = base_name(src.path);
		char *dpath = into ? join(dst.path, b) : xstrdup(dst.path);
		free(b);
		if (!src.v || src.v != dst.v)
			r = move_across(&src, &dst, dpath);
		else if (!(r = need_edit(&dst)) &&
			 fsimage_rename(dst.v->im, src.path, dpath, &e) < 0)
			r = verr(&e);
		free(dpath);
	}
	return r;
}

static int rm_one(struct addr *a, const char *word, const void *ctx, struct err *e)
{
	const struct fsflags *f = ctx;
	int r = fsimage_remove(a->v->im, a->path, f->rec, word, e);
	return f->force && r == CRUMB_ENOENT ? 0 : r;
}

static int do_rm(int argc, char **argv, const struct fsflags *f)
{
	return each_addr(argc, argv, 1, rm_one, f);
}

static int mkdir_one(struct addr *a, const char *word, const void *ctx, struct err *e)
{
	const struct fsflags *f = ctx;
	return fsimage_mkdir(a->v->im, a->path, f->pre, word, e);
}

static int do_mkdir(int argc, char **argv, const struct fsflags *f)
{
	return each_addr(argc, argv, 1, mkdir_one, f);
}

static int do_ln(int argc, char **argv, const struct fsflags *f)
{
	struct err e = {0};
	struct addr a, t;
	int r;
	if (argc != 2)
		return cmd_usage_error("fs", "ln needs TARGET and IMAGE:PATH");
	if ((r = parse_addr(argv[1], &a)))
		return r;
	if (!a.v)
		return ferr("%s: not IMAGE:PATH", argv[1]);
	if ((r = need_edit(&a)))
		return r;
	if (f->sym)
		return fsimage_symlink(a.v->im, argv[0], a.path, argv[1], &e) < 0 ? verr(&e) : 0;
	if ((r = parse_addr(argv[0], &t)))
		return r;
	if (t.v && t.v != a.v)
		return ferr("a hard link must stay inside its image");
	return fsimage_link(a.v->im, t.path, a.path, argv[1], argv[0], &e) < 0 ? verr(&e) : 0;
}

/* chown's UID[:GID] (or UID.GID); 0, or a usage error's status. */
static int parse_owner(const char *s, uint32_t *uid, uint32_t *gid, int *keep_gid)
{
	char *end;
	unsigned long u, g = 0;
	errno = 0;
	u = strtoul(s, &end, 10);
	*keep_gid = 0;
	if (*end == ':' || *end == '.')
		g = strtoul(end + 1, &end, 10);
	else
		*keep_gid = 1;
	if (errno || *end || end == s || u > 0xfffffffful || g > 0xfffffffful)
		return cmd_usage_error("fs", "chown: want numeric UID[:GID], not '%s'", s);
	*uid = (uint32_t)u;
	*gid = (uint32_t)g;
	return 0;
}

/* What chmod or chown sets on each path. */
struct attr_set {
	int own;
	uint32_t mode, uid, gid;
	int keep_gid;
};

static int attr_one(struct addr *a, const char *word, const void *ctx, struct err *e)
{
	const struct attr_set *x = ctx;
	if (x->own)
		return fsimage_chown(a->v->im, a->path, x->uid, x->gid, x->keep_gid, word, e);
	return fsimage_chmod(a->v->im, a->path, x->mode, word, e);
}

static int do_attr(int argc, char **argv, const struct fsflags *f)
{
	const char *verb = f->verb;
	uint32_t mode = 0, uid = 0, gid = 0;
	int own = !strcmp(verb, "chown"), keep_gid = 0, r = 0;
	if (argc < 2)
		return cmd_usage_error("fs", "%s needs a value and IMAGE:PATH...", verb);
	if (own && (r = parse_owner(argv[0], &uid, &gid, &keep_gid)))
		return r;
	if (!own) {
		char *end;
		unsigned long m = strtoul(argv[0], &end, 8);
		if (*end || end == argv[0] || m > 07777)
			return cmd_usage_error("fs", "chmod: want an octal mode, not '%s'",
					       argv[0]);
		mode = (uint32_t)m;
	}
	struct attr_set x = {own, mode, uid, gid, keep_gid};
	return each_addr(argc - 1, argv + 1, 1, attr_one, &x);
}

/* fsck's exit statuses (documented in usage_fs): 1 also covers an unreadable image. */
enum { FSCK_PROBLEMS = EXIT_FAIL, FSCK_UNCHECKED = 3 };

/* Checks one image and prints what was found; its fsck status. */
static int fsck_one(const char *name, struct fsimage *im)
{
	struct fsimage_fsck f = {.report = SBUF_INIT};
	struct err e = {0};
	int r = 0, rc = fsimage_fsck(im, &f, &e);
	if (fsimage_kind(im) != FSIMAGE_EXT) {
		printf("%s: clean %s archive, %llu entries\n", name,
		       fsimage_is_cpio(im) ? "cpio" : "other", (unsigned long long)f.entries);
		return 0;
	}
	fputs(f.report.buf, stdout);
	if (f.problems) {
		printf("%s: %u problem%s\n", name, f.problems, f.problems == 1 ? "" : "s");
		r = FSCK_PROBLEMS;
	} else if (rc == 0) {
		printf("%s: clean, %u/%u inodes, %llu/%llu blocks\n", name,
		       f.inodes - f.free_inodes, f.inodes,
		       (unsigned long long)(f.blocks - f.free_blocks),
		       (unsigned long long)f.blocks);
	}
	if (rc < 0) {
		verr(&e);
		if (!f.problems)
			r = rc == CRUMB_EUNSUPP ? FSCK_UNCHECKED : FSCK_PROBLEMS;
	}
	sb_release(&f.report);
	return r;
}

/* Checks every image named; the worst result wins (problems over not checked). */
static int do_fsck(int argc, char **argv, const struct fsflags *f)
{
	(void)f;
	int worst = 0;
	for (int i = 0; i < argc; i++) {
		struct addr a;
		int r;
		char *arg = strchr(argv[i], ':') ? xstrdup(argv[i]) : xasprintf("%s:", argv[i]);
		last_open_code = 0;
		r = parse_addr(arg, &a);
		if (!r && !a.v)
			r = ferr("%s: no such image", argv[i]);
		if (r)
			r = last_open_code == CRUMB_EUNSUPP ? FSCK_UNCHECKED : FSCK_PROBLEMS;
		else
			r = fsck_one(argv[i], a.v->im);
		free(arg);
		if (r == FSCK_PROBLEMS || (r && !worst))
			worst = r;
	}
	return worst;
}

/* ---- the command line ---- */

/* A short flag: taken only by the verbs that know it. */
static int take_flag(const struct opt *o, const char *value, void *ctx, struct err *e)
{
	struct fsflags *f = ctx;
	(void)value;
	if (!strchr(f->ok, o->sh))
		return err_set(e, CRUMB_EINVAL, "%s: unknown option -%c", f->verb, o->sh);
	static const struct {
		char c;
		size_t off;
	} fields[] = {
	    {'l', offsetof(struct fsflags, lng)}, {'R', offsetof(struct fsflags, rec)},
	    {'r', offsetof(struct fsflags, rec)}, {'d', offsetof(struct fsflags, dirs)},
	    {'p', offsetof(struct fsflags, pre)}, {'f', offsetof(struct fsflags, force)},
	    {'s', offsetof(struct fsflags, sym)},
	};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (fields[i].c == o->sh)
			*(int *)((char *)f + fields[i].off) = 1;
	return 0;
}

struct fsverb {
	const char *name;
	const char *flags; /* the short flags it takes */
	int writes;	   /* opens its images for editing (--force is for these) */
	int need1;	   /* needs at least one argument */
	int (*fn)(int argc, char **argv, const struct fsflags *f);
};

static const struct fsverb fsverbs[] = {
    {"ls", "lRd", 0, 1, do_ls},	  {"cat", "", 0, 1, do_cat},	  {"stat", "", 0, 1, do_stat},
    {"du", "s", 0, 1, do_du},	  {"cp", "rRp", 1, 0, do_cp},	  {"mv", "", 1, 0, do_mv},
    {"rm", "rRf", 1, 1, do_rm},	  {"mkdir", "p", 1, 1, do_mkdir}, {"ln", "s", 1, 0, do_ln},
    {"chmod", "", 1, 0, do_attr}, {"chown", "", 1, 0, do_attr},	  {"fsck", "", 0, 1, do_fsck},
    {NULL, "", 0, 0, NULL},
};

/* "-755" is chmod's mode, not a bundle of flags: the options end before it. */
static int options_end(int argc, char **argv, const char *verb)
{
	for (int i = 2; i < argc && argv[i][0] == '-' && argv[i][1] && strcmp(argv[i], "--"); i++)
		if (!strcmp(verb, "chmod") && argv[i][1] >= '0' && argv[i][1] <= '7')
			return i;
	return argc;
}

/* Parses the flags after the verb into f and the rest into args: 0, OPT_HELP, or the
 * message of a usage error in e (worded as crumb fs always worded it). */
static int parse_flags(int argc, char **argv, struct fsflags *f, struct strlist *args,
		       struct err *e)
{
	static const struct opt tab[] = {OPT_CALL0_('l', NULL, take_flag, NULL),
					 OPT_CALL0_('R', NULL, take_flag, NULL),
					 OPT_CALL0_('d', NULL, take_flag, NULL),
					 OPT_CALL0_('r', NULL, take_flag, NULL),
					 OPT_CALL0_('p', NULL, take_flag, NULL),
					 OPT_CALL0_('f', NULL, take_flag, NULL),
					 OPT_CALL0_('s', NULL, take_flag, NULL),
					 OPT_FLAG_(0, "force", &vopts.force, NULL),
					 OPT_END_};
	struct opt_fail why;
	int end = options_end(argc, argv, f->verb);
	int r = opt_parse_at(tab, OPT_STOP_AT_ARG, end - 1, argv + 1, f, args, &why, e);
	if (r < 0 && (why.why == OPT_WHY_UNKNOWN || why.why == OPT_WHY_UNWANTED)) {
		/* the first letter no verb takes; '-' for a long option */
		const char *w = argv[1 + why.word];
		size_t k = w[1] == '-' ? 0 : 1 + strspn(w + 1, "lRdrpfs");
		err_set(e, r, "%s: unknown option -%c", f->verb, k ? w[k] : '-');
	}
	for (int i = end; r == 0 && i < argc; i++)
		strlist_push(args, argv[i]);
	return r;
}

/* After the flags: checks what they allow, runs the verb, writes or drops the edits. */
static int run_verb(const struct fsverb *v, const struct fsflags *f, struct strlist *args)
{
	struct err e = {0};
	struct sde sd = {0};
	vopts.rw = v->writes;
	if (vopts.force && !vopts.rw)
		return cmd_usage_error("fs", "%s: --force is for verbs that write", f->verb);
	if (vopts.rw && cmd_sde(&sd, &e) < 0)
		return verr(&e);
	vopts.epoch = sd.epoch;
	vopts.clamp = sd.set;
	ext4io_set_tmpdir(cmd_env()->tmpdir); /* ext images' scratch files' fallback */
	if (v->need1 && args->n < 1)
		return cmd_usage_error("fs", "%s needs at least one IMAGE:PATH", f->verb);
	if (!v->name)
		return cmd_usage_error("fs", "unknown verb '%s'", f->verb);
	return vols_close(v->fn((int)args->n, args->v, f));
}

int cmd_fs(int argc, char **argv)
{
	if (argc < 2)
		return cmd_usage_error("fs", "a verb is needed");
	const char *verb = argv[1];
	if (!strcmp(verb, "-h") || !strcmp(verb, "--help"))
		return cmd_print_usage("fs");
	const struct fsverb *v = fsverbs;
	while (v->name && strcmp(v->name, verb))
		v++;
	struct fsflags f = {.verb = verb, .ok = v->flags};
	struct strlist args = STRLIST_INIT;
	struct err e = {0};
	int r = parse_flags(argc, argv, &f, &args, &e);
	if (r == OPT_HELP)
		r = cmd_print_usage("fs");
	else if (r)
		r = cmd_usage_error("fs", "%s", e.msg);
	else
		r = run_verb(v, &f, &args);
	strlist_release(&args);
	return r;
}

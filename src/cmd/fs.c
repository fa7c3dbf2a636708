/* fs.c: `crumb fs VERB`: mtools-like reading and editing of ext2/3/4 images and cpio archives. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "../lib/archive.h"
#include "../lib/ext4fs.h"
#include "../lib/ext4io.h"
#include "../lib/import.h"
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

enum vkind { V_HOST, V_EXT4, V_ARCH };

/* One image named on the command line, opened once however often it is named. */
struct vol {
	char *image;
	dev_t dev;
	ino_t ino;
	enum vkind kind;
	struct ext4fs *fs;
	struct tree t;
	struct import_opts io;
	int dirty;
	char *ro_reason;     /* why an image meant for editing was opened read-only */
	struct u64map *hlc; /* V_ARCH: hard-link group id -> number of names, built on first use */
};

struct addr {
	struct vol *v; /* NULL: a host path */
	const char *path;
	char *own; /* storage for path when split */
};

#define MAX_VOLS 16
static struct vol *vols[MAX_VOLS];
static int nvols;
static int want_rw, force_write;
static int last_open_code; /* the CRUMB_E* code of the last vol_open that failed */
static struct tree scratch; /* sources materialized for cp */
static int scratch_n;
static struct sde sde; /* SOURCE_DATE_EPOCH: times written into images are clamped */

/* The time a new or copied entry gets: its own (t), clamped. */
static int64_t entry_time(int64_t t)
{
	return clamp_time(t, sde.epoch, sde.set);
}

static int clamp_node(struct tree_node *n, const char *path, void *ctx)
{
	(void)path;
	(void)ctx;
	n->mtime = entry_time(n->mtime);
	return 0;
}

/* An open-addressing map from non-zero 64-bit keys to counts (sets use it too). */
struct u64map {
	uint64_t *k;
	uint32_t *c;
	size_t n, cap;
};

static uint32_t *u64map_slot(struct u64map *m, uint64_t key)
{
	if ((m->n + 1) * 2 > m->cap) {
		struct u64map big = {0};
		big.cap = m->cap ? m->cap * 2 : 64;
		big.k = xcalloc(big.cap, sizeof(*big.k));
		big.c = xcalloc(big.cap, sizeof(*big.c));
		for (size_t i = 0; i < m->cap; i++)
			if (m->k[i])
				*u64map_slot(&big, m->k[i]) = m->c[i];
		free(m->k);
		free(m->c);
		*m = big;
	}
	size_t i = (size_t)(key * 0x9e3779b97f4a7c15ull >> 20) & (m->cap - 1);
	while (m->k[i] && m->k[i] != key)
		i = (i + 1) & (m->cap - 1);
	if (!m->k[i]) {
		m->k[i] = key;
		m->n++;
	}
	return &m->c[i];
}

static void u64map_free(struct u64map *m)
{
	if (!m)
		return;
	free(m->k);
	free(m->c);
	free(m);
}

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
		if (vols[i]->dev == st.st_dev && vols[i]->ino == st.st_ino) {
			*out = vols[i];
			return 0;
		}
	if (nvols == MAX_VOLS)
		return ferr("too many images");
	struct vol *v = xcalloc(1, sizeof(*v));
	v->image = xstrdup(image);
	v->dev = st.st_dev;
	v->ino = st.st_ino;
	unsigned char m[2] = {0};
	int fd = open(image, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd >= 0) {
		if (pread(fd, m, 2, 1080) != 2)
			m[0] = 0;
		close(fd);
	}
	int r;
	if (m[0] == 0x53 && m[1] == 0xef) {
		v->kind = V_EXT4;
		ext4io_set_tmpdir(cmd_env()->tmpdir); /* its scratch files' fallback */
		r = ext4fs_open(image,
				want_rw ? EXT4FS_OPEN_RW | (force_write ? EXT4FS_OPEN_FORCE : 0) : 0,
				&v->fs, &e);
		if (r < 0 && r != CRUMB_ENOENT && want_rw) {
			/* it can still be a source; editing it reports why not */
			v->ro_reason = xstrdup(e.msg);
			r = ext4fs_open(image, 0, &v->fs, &e);
		}
	} else {
		v->kind = V_ARCH;
		tree_init(&v->t);
		v->io.keep_owner = 1;
		r = import_archive(&v->t, image, &v->io, &e);
		/* libarchive reads a block of zeros as an empty tar: that is no archive */
		if (r == 0 && !v->io.found_cpio && !v->t.root->nkids)
			r = err_set(&e, CRUMB_EFORMAT,
				    "%s: not an ext2/3/4 image, nor an archive with entries", image);
		/* else import's message names the image and what is wrong (truncated...);
		 * for bytes that are neither, say both readers declined */
		else if (r < 0) {
			char why[ERR_MSG_MAX];
			const char *na = "not an archive crumb reads";
			size_t il = strlen(image);
			snprintf(why, sizeof(why), "%s", e.msg); /* e.msg is not formatted into itself */
			if (!strncmp(why, image, il) && !strncmp(why + il, ": ", 2) &&
			    !strncmp(why + il + 2, na, strlen(na)))
				err_set(&e, r, "%s: not an ext2/3/4 image nor %s", image,
					why + il + 2 + strlen("not "));
		}
	}
	if (r < 0) {
		last_open_code = r;
		if (v->kind == V_ARCH)
			tree_release(&v->t);
		free(v->image);
		free(v->ro_reason);
		free(v);
		return verr(&e);
	}
	if (v->kind == V_EXT4)
		ext4fs_set_epoch(v->fs, sde.epoch, sde.set);
	vols[nvols++] = v;
	*out = v;
	return 0;
}

/* Writes back edited archives, then closes images (archives may read from them). */
static int vols_close(int status)
{
	struct err e = {0};
	for (int i = 0; i < nvols; i++) {
		struct vol *v = vols[i];
		if (v->kind != V_ARCH || !v->dirty || status)
			continue;
		struct cpio_opts o = {.compress = (enum compress)v->io.found_compress};
		if (cpio_write(&v->t, v->image, &o, &e) < 0)
			status = verr(&e);
	}
	/* a failed command writes no image: edits made before the failure are dropped */
	for (int i = 0; i < nvols; i++) {
		struct vol *v = vols[i];
		if (v->kind != V_EXT4)
			continue;
		if (status)
			ext4fs_discard(v->fs);
		else if (ext4fs_close(v->fs, &e) < 0)
			status = verr(&e);
	}
	for (int i = 0; i < nvols; i++) {
		if (vols[i]->kind == V_ARCH)
			tree_release(&vols[i]->t);
		u64map_free(vols[i]->hlc);
		free(vols[i]->image);
		free(vols[i]->ro_reason);
		free(vols[i]);
	}
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

static int need_edit(struct addr *a)
{
	struct err e = {0};
	if (a->v && a->v->ro_reason)
		return ferr("%s", a->v->ro_reason);
	/* a damaged image, or one with features crumb does not keep right, is not written */
	int r = a->v && a->v->kind == V_EXT4 ? ext4fs_write_check(a->v->fs, &e) : 0;
	if (r == CRUMB_EUNSAFE)
		return ferr("%s (crumb fs fsck %s lists them; --force writes anyway)", e.msg,
			    a->v->image);
	if (r < 0)
		return ferr("%s (--force writes anyway; e2fsck -f repairs what is left)", e.msg);
	if (a->v && a->v->kind == V_ARCH && !a->v->io.found_cpio) {
		ferr("%s: only cpio archives can be edited", a->v->image);
		return EXIT_FAIL;
	}
	return 0;
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

/* ---- a uniform view of a file wherever it lives ---- */

struct ent {
	enum tree_type type;
	uint32_t mode, uid, gid, links;
	uint64_t size, blocks, ino;
	int64_t mtime;
	uint32_t major, minor;
	char *link;
	struct tree_xattr *x;
	size_t nx;
	int own_x;
};

static void ent_release(struct ent *s)
{
	free(s->link);
	if (s->own_x)
		ext4fs_xattrs_free(s->x, s->nx);
	memset(s, 0, sizeof(*s));
}

static void count_links(struct u64map *m, const struct tree_node *n)
{
	if (n->type != TREE_DIR && n->hardlink)
		(*u64map_slot(m, n->hardlink))++;
	for (size_t i = 0; i < n->nkids; i++)
		count_links(m, n->kids[i]);
}

static void ent_of_node(struct vol *v, struct tree_node *n, struct ent *s)
{
	memset(s, 0, sizeof(*s));
	s->type = n->type;
	s->mode = n->mode;
	s->uid = n->uid;
	s->gid = n->gid;
	s->mtime = n->mtime;
	s->major = n->rdev_major;
	s->minor = n->rdev_minor;
	s->size = n->type == TREE_REG ? n->size : n->type == TREE_LNK ? strlen(n->link) : 0;
	s->blocks = (s->size + 511) / 512;
	s->links = 1;
	if (n->type == TREE_DIR) {
		s->links = 2;
		for (size_t i = 0; i < n->nkids; i++)
			s->links += n->kids[i]->type == TREE_DIR;
	} else if (n->hardlink) {
		if (!v->hlc) { /* once per archive: counting per entry would be quadratic */
			v->hlc = xcalloc(1, sizeof(*v->hlc));
			count_links(v->hlc, v->t.root);
		}
		s->links = *u64map_slot(v->hlc, n->hardlink);
	}
	s->ino = n->hardlink ? n->hardlink : (uint64_t)(uintptr_t)n;
	s->link = n->link ? xstrdup(n->link) : NULL;
	s->x = n->xattrs;
	s->nx = n->nxattrs;
}

/* An image inode's metadata as an entry (the link target and xattrs are the caller's). */
static void ent_of_stat(struct ent *s, const struct ext4fs_stat *st)
{
	s->type = st->type;
	s->mode = st->mode;
	s->uid = st->uid;
	s->gid = st->gid;
	s->links = st->links;
	s->size = st->size;
	s->blocks = st->blocks;
	s->ino = st->ino;
	s->mtime = st->mtime;
	s->major = st->rdev_major;
	s->minor = st->rdev_minor;
}

static int get_ent(struct addr *a, int follow, struct ent *s)
{
	struct err e = {0};
	memset(s, 0, sizeof(*s));
	if (a->v->kind == V_EXT4) {
		uint32_t ino;
		struct ext4fs_stat st;
		int r = ext4fs_lookup(a->v->fs, a->path, follow, &ino, &e);
		if (!r)
			r = ext4fs_stat(a->v->fs, ino, &st, &e);
		if (!r && st.type == TREE_LNK)
			r = ext4fs_readlink(a->v->fs, ino, &s->link, &e);
		if (!r) {
			r = ext4fs_xattrs(a->v->fs, ino, &s->x, &s->nx, &e);
			s->own_x = 1;
		}
		if (r < 0) {
			ent_release(s);
			return verr(&e);
		}
		ent_of_stat(s, &st);
		return 0;
	}
	struct tree_node *n = tree_lookup(&a->v->t, a->path, follow);
	if (!n)
		return ferr("%s:%s: no such file or directory", a->v->image, a->path);
	ent_of_node(a->v, n, s);
	return 0;
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

static void mode_string(const struct ent *s, char out[11])
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

static void print_long(const struct ent *s, const char *name)
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

/* ---- walking directories: by inode (or tree node), never by path again ---- */

/* A place in an image, found once. */
struct at {
	struct vol *v;
	uint32_t ino;		/* V_EXT4 */
	struct tree_node *node; /* V_ARCH */
};

static int at_resolve(struct addr *a, int follow, struct at *p)
{
	struct err e = {0};
	memset(p, 0, sizeof(*p));
	p->v = a->v;
	if (a->v->kind == V_EXT4)
		return ext4fs_lookup(a->v->fs, a->path, follow, &p->ino, &e) < 0 ? verr(&e) : 0;
	if (!(p->node = tree_lookup(&a->v->t, a->path, follow)))
		return ferr("%s:%s: no such file or directory", a->v->image, a->path);
	return 0;
}

/* Its stat; the link target only with want_link, never the xattrs (ls and du need none). */
static int at_ent(const struct at *p, int want_link, struct ent *s)
{
	struct err e = {0};
	struct ext4fs_stat st;
	if (p->node) {
		ent_of_node(p->v, p->node, s);
		return 0;
	}
	memset(s, 0, sizeof(*s));
	if (ext4fs_stat(p->v->fs, p->ino, &st, &e) < 0 ||
	    (want_link && st.type == TREE_LNK && ext4fs_readlink(p->v->fs, p->ino, &s->link, &e) < 0))
		return verr(&e);
	ent_of_stat(s, &st);
	return 0;
}

/* A directory's entries, sorted, each with its place. */
struct kids {
	size_t n;
	const char **name;
	struct at *at;
	struct ext4fs_dirent *d; /* V_EXT4: owns the names */
};

static int kids_read(const struct at *p, struct kids *k)
{
	struct err e = {0};
	memset(k, 0, sizeof(*k));
	if (p->node) {
		k->n = p->node->nkids;
	} else if (ext4fs_readdir(p->v->fs, p->ino, &k->d, &k->n, &e) < 0) {
		return verr(&e);
	}
	k->name = xcalloc(k->n ? k->n : 1, sizeof(*k->name));
	k->at = xcalloc(k->n ? k->n : 1, sizeof(*k->at));
	for (size_t i = 0; i < k->n; i++) {
		k->at[i].v = p->v;
		if (p->node) {
			k->name[i] = p->node->kids[i]->name;
			k->at[i].node = p->node->kids[i];
		} else {
			k->name[i] = k->d[i].name;
			k->at[i].ino = k->d[i].ino;
		}
	}
	return 0;
}

static void kids_release(struct kids *k)
{
	if (k->d)
		ext4fs_dirents_free(k->d, k->n);
	free(k->name);
	free(k->at);
}

/* One ls -R or du walk: the directories met so far, by inode. A directory met
 * twice is a loop (a hard link to a directory above) or a directory with two
 * names; either would make the walk endless or count twice: refused at once,
 * as mkfs and cp -r refuse it (ext4fs_read_tree). Archives are trees. */
struct walk {
	uint8_t *seen;
	uint32_t max;
	struct u64map links; /* du: hard-linked files counted already */
};

static void walk_init(struct walk *w, struct vol *v)
{
	memset(w, 0, sizeof(*w));
	if (v->kind == V_EXT4) {
		struct ext4fs_info info;
		ext4fs_info(v->fs, &info);
		w->max = info.inodes;
		w->seen = xcalloc((size_t)info.inodes / 8 + 1, 1);
	}
}

static void walk_release(struct walk *w)
{
	free(w->seen);
	free(w->links.k);
	free(w->links.c);
}

static int walk_enter(struct walk *w, const struct at *p, const char *shown, int depth)
{
	if (depth > 512)
		return ferr("%s: directories nested too deep", shown);
	if (!w->seen || p->ino > w->max)
		return 0;
	if (w->seen[p->ino / 8] & (1u << (p->ino % 8)))
		return ferr("%s: directory loop: directory inode %u is met twice (e2fsck -f "
			    "repairs it)",
			    shown, p->ino);
	w->seen[p->ino / 8] |= (uint8_t)(1u << (p->ino % 8));
	return 0;
}

static int ls_dir(struct walk *w, const struct at *p, const char *shown, int lng, int rec,
		  int header, int depth)
{
	struct kids k;
	int r;
	if ((r = walk_enter(w, p, shown, depth)) || (r = kids_read(p, &k)))
		return r;
	if (header)
		printf("%s:\n", shown);
	size_t *subdirs = xcalloc(k.n ? k.n : 1, sizeof(*subdirs)), nsub = 0;
	for (size_t i = 0; i < k.n && !r; i++) {
		struct ent s;
		if ((r = at_ent(&k.at[i], lng, &s)))
			break;
		if (lng)
			print_long(&s, k.name[i]);
		else
			puts(k.name[i]);
		if (rec && s.type == TREE_DIR)
			subdirs[nsub++] = i;
		ent_release(&s);
	}
	for (size_t i = 0; i < nsub && !r; i++) {
		char *sh = join(shown, k.name[subdirs[i]]);
		putchar('\n');
		r = ls_dir(w, &k.at[subdirs[i]], sh, lng, rec, 1, depth + 1);
		free(sh);
	}
	free(subdirs);
	kids_release(&k);
	return r;
}

static int do_ls(int argc, char **argv, int lng, int rec, int dirs)
{
	int r = 0;
	for (int i = 0; i < argc && !r; i++) {
		struct addr a;
		struct at p;
		struct ent s;
		if ((r = image_addr(argv[i], &a, 0)))
			break;
		if ((r = at_resolve(&a, !dirs, &p)) || (r = at_ent(&p, 0, &s)))
			break;
		if (s.type == TREE_DIR && !dirs) {
			struct walk w;
			if (i)
				putchar('\n');
			walk_init(&w, a.v);
			r = ls_dir(&w, &p, argv[i], lng, rec, argc > 1 || rec, 0);
			walk_release(&w);
		} else if (lng) {
			if (s.type == TREE_LNK || dirs) { /* show the link itself */
				ent_release(&s);
				get_ent(&a, 0, &s);
			}
			print_long(&s, argv[i]);
		} else {
			puts(argv[i]);
		}
		ent_release(&s);
	}
	return r;
}

static int do_stat(int argc, char **argv)
{
	static const char *tn[] = {
	    "directory",    "regular file", "symbolic link", "character device",
	    "block device", "fifo",	    "socket"};
	int r = 0;
	for (int i = 0; i < argc && !r; i++) {
		struct addr a;
		struct ent s;
		if ((r = image_addr(argv[i], &a, 0)))
			break;
		if ((r = get_ent(&a, 0, &s)))
			break;
		char date[64];
		time_t t = (time_t)s.mtime;
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S UTC", &tm);
		printf("  File: %s\n  Type: %s\n  Mode: %04o\n   Uid: %u\n   Gid: %u\n"
		       "  Size: %llu\n Links: %u\n Inode: %llu\nBlocks: %llu\n Mtime: %lld (%s)\n",
		       a.path, tn[s.type], s.mode, s.uid, s.gid, (unsigned long long)s.size,
		       s.links, (unsigned long long)s.ino, (unsigned long long)s.blocks,
		       (long long)s.mtime, date);
		if (s.type == TREE_CHR || s.type == TREE_BLK)
			printf("Device: %u,%u\n", s.major, s.minor);
		if (s.type == TREE_LNK)
			printf("  Link: %s\n", s.link);
		for (size_t k = 0; k < s.nx; k++) {
			printf(" Xattr: %s=", s.x[k].name);
			const unsigned char *p = s.x[k].value;
			int text = 1;
			for (size_t j = 0; j < s.x[k].len; j++)
				if (p[j] < 32 || p[j] > 126 || p[j] == '"' || p[j] == '\\')
					text = 0;
			if (text) {
				printf("\"%.*s\"\n", (int)s.x[k].len, (const char *)p);
			} else {
				printf("0x");
				for (size_t j = 0; j < s.x[k].len; j++)
					printf("%02x", p[j]);
				putchar('\n');
			}
		}
		ent_release(&s);
	}
	return r;
}

static int du_walk(struct walk *w, const struct at *p, const char *shown, uint64_t *kib, int depth)
{
	struct ent s;
	struct kids k;
	int r;
	if ((r = at_ent(p, 0, &s)))
		return r;
	if (s.links < 2 || s.type == TREE_DIR || !(*u64map_slot(&w->links, s.ino))++)
		*kib += p->v->kind == V_EXT4 ? (s.blocks + 1) / 2 : (s.size + 1023) / 1024;
	int dir = s.type == TREE_DIR;
	ent_release(&s);
	if (!dir)
		return 0;
	if ((r = walk_enter(w, p, shown, depth)) || (r = kids_read(p, &k)))
		return r;
	for (size_t i = 0; i < k.n && !r; i++) {
		char *sh = join(shown, k.name[i]);
		r = du_walk(w, &k.at[i], sh, kib, depth + 1);
		free(sh);
	}
	kids_release(&k);
	return r;
}

static int do_du(int argc, char **argv)
{
	int r = 0;
	for (int i = 0; i < argc && !r; i++) {
		struct addr a;
		struct at p;
		struct walk w;
		uint64_t kib = 0;
		if ((r = image_addr(argv[i], &a, 0)) || (r = at_resolve(&a, 0, &p)))
			break;
		walk_init(&w, a.v);
		if (!(r = du_walk(&w, &p, argv[i], &kib, 0)))
			printf("%llu\t%s\n", (unsigned long long)kib, argv[i]);
		walk_release(&w);
	}
	return r;
}

static int do_cat(int argc, char **argv)
{
	struct err e = {0};
	char *buf = xmalloc(1 << 16);
	int r = 0;
	for (int i = 0; i < argc && !r; i++) {
		struct addr a;
		if ((r = image_addr(argv[i], &a, 0)))
			break;
		struct tree_node *n = NULL;
		uint32_t ino = 0;
		uint64_t size;
		if (a.v->kind == V_EXT4) {
			struct ext4fs_stat st;
			if (ext4fs_lookup(a.v->fs, a.path, 1, &ino, &e) < 0 ||
			    ext4fs_stat(a.v->fs, ino, &st, &e) < 0) {
				r = verr(&e);
				break;
			}
			if (st.type != TREE_REG) {
				r = ferr("%s: not a regular file", argv[i]);
				break;
			}
			size = st.size;
		} else {
			n = tree_lookup(&a.v->t, a.path, 1);
			if (!n || n->type != TREE_REG) {
				r = ferr("%s: %s", argv[i],
					 n ? "not a regular file" : "no such file");
				break;
			}
			size = n->size;
		}
		for (uint64_t off = 0; off < size && !r; off += 1 << 16) {
			size_t len = size - off > (1 << 16) ? (1 << 16) : (size_t)(size - off);
			int rr = n ? tree_read(n, off, buf, len, &e)
				   : ext4fs_read(a.v->fs, ino, off, buf, len, &e);
			if (rr < 0)
				r = verr(&e);
			else if (fwrite(buf, 1, len, stdout) != len)
				r = ferr("writing stdout: %s", strerror(errno));
		}
	}
	free(buf);
	if (fflush(stdout) && !r)
		r = ferr("writing stdout: %s", strerror(errno));
	return r;
}

/* ---- copying ---- */

struct idmap {
	struct {
		uint64_t from, to;
	} * v;
	size_t n;
};

static uint64_t idmap_get(struct idmap *m, struct tree *t, uint64_t from)
{
	if (!from)
		return 0;
	for (size_t i = 0; i < m->n; i++)
		if (m->v[i].from == from)
			return m->v[i].to;
	m->v = xrealloc(m->v, (m->n + 1) * sizeof(*m->v));
	m->v[m->n].from = from;
	m->v[m->n].to = ++t->next_hardlink;
	return m->v[m->n++].to;
}

/* Copies src (and below) into t at path: directories merge, others replace. */
static int clone_into(struct tree *t, const char *path, const struct tree_node *src, int preserve,
		      struct idmap *ids, int depth, struct err *e)
{
	struct tree_node *n, *old = tree_lookup(t, path, 0);
	int r;
	if (depth > 512)
		return err_set(e, CRUMB_EUNSAFE, "%s: directories nested too deep", path);
	if (old && old->type == TREE_DIR && src->type != TREE_DIR)
		return err_set(e, CRUMB_EINVAL, "%s is a directory", path);
	if (old && old->type != TREE_DIR && src->type == TREE_DIR)
		return err_set(e, CRUMB_EINVAL, "%s: cannot put a directory over a non-directory",
			       path);
	if ((r = tree_add(t, path, src->type, preserve ? src->mode : src->mode & 0777, &n, e)) < 0)
		return r;
	if (src->type != TREE_DIR || !old || preserve) {
		n->uid = preserve ? src->uid : 0;
		n->gid = preserve ? src->gid : 0;
		n->mtime = entry_time(preserve ? src->mtime : (int64_t)time(NULL));
	}
	if (preserve)
		for (size_t i = 0; i < src->nxattrs; i++)
			tree_set_xattr(n, src->xattrs[i].name, src->xattrs[i].value,
				       src->xattrs[i].len);
	n->rdev_major = src->rdev_major;
	n->rdev_minor = src->rdev_minor;
	if (src->link)
		n->link = xstrdup(src->link);
	if (src->type == TREE_REG) {
		n->size = src->size;
		n->src_path = src->src_path ? xstrdup(src->src_path) : NULL;
		n->src_off = src->src_off;
		if (src->data) {
			n->data = xmalloc(src->size ? src->size : 1);
			memcpy(n->data, src->data, src->size);
		}
		n->reader = src->reader;
		n->reader_ref = src->reader_ref;
		if (src->extents) {
			n->extents =
			    xmalloc((src->nextents ? src->nextents : 1) * sizeof(*n->extents));
			memcpy(n->extents, src->extents, src->nextents * sizeof(*n->extents));
			n->nextents = src->nextents;
		}
	}
	if (src->type != TREE_DIR)
		n->hardlink = idmap_get(ids, t, src->hardlink);
	for (size_t i = 0; src->type == TREE_DIR && i < src->nkids && !r; i++) {
		char *kp = join(path, src->kids[i]->name);
		r = clone_into(t, kp, src->kids[i], preserve, ids, depth + 1, e);
		free(kp);
	}
	return r;
}

/* The source of a copy as a tree node (in scratch or in the archive's tree). */
static int source_node(struct addr *a, int recursive, const struct tree_node **out)
{
	struct err e = {0};
	char dest[32];
	int r;
	if (!scratch.root)
		tree_init(&scratch);
	snprintf(dest, sizeof(dest), "/%d", ++scratch_n);
	if (!a->v) {
		r = tree_add_host(&scratch, a->path, dest, &e);
	} else if (a->v->kind == V_EXT4) {
		r = ext4fs_read_tree(a->v->fs, a->path, &scratch, dest, &e);
	} else {
		struct tree_node *n = tree_lookup(&a->v->t, a->path, 1);
		struct idmap ids = {0};
		if (!n)
			return ferr("%s:%s: no such file or directory", a->v->image, a->path);
		r = clone_into(&scratch, dest, n, 1, &ids, 0, &e);
		free(ids.v);
	}
	if (r < 0)
		return verr(&e);
	*out = tree_lookup(&scratch, dest, 0);
	if ((*out)->type == TREE_DIR && !recursive)
		return ferr("%s is a directory (use -r)", a->path);
	return 0;
}

struct hostlinks {
	struct {
		uint64_t id;
		char *rel;
	} * v;
	size_t n;
};

static int safe_name(const char *name)
{
	return *name && !strchr(name, '/') && strcmp(name, ".") && strcmp(name, "..");
}

/* Writes n as name in the host directory dirfd without ever following a symlink. */
static int extract(const struct tree_node *n, int topfd, int dirfd, const char *rel,
		   const char *name, int preserve, struct hostlinks *hl, int depth)
{
	struct err e = {0};
	struct stat st;
	int fd, r = 0;
	if (!safe_name(name))
		return ferr("refusing to write the name '%s' (in %s)", name, rel);
	if (depth > 512)
		return ferr("%s: directories nested too deep", rel);
	char *path = *rel ? join(rel, name) : xstrdup(name);
	int exists = fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
	mode_t mode = preserve ? n->mode & 07777 : n->mode & 0777;
	if (n->type == TREE_DIR) {
		if (exists && !S_ISDIR(st.st_mode)) {
			r = ferr("%s exists and is not a directory (not writing through it)", path);
			goto out;
		}
		if (!exists && mkdirat(dirfd, name, 0700) < 0) {
			r = ferr("mkdir %s: %s", path, strerror(errno));
			goto out;
		}
		fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			r = ferr("open %s: %s", path, strerror(errno));
			goto out;
		}
		for (size_t i = 0; i < n->nkids && !r; i++)
			r = extract(n->kids[i], topfd, fd, path, n->kids[i]->name, preserve, hl,
				    depth + 1);
		if (!r && (!exists || preserve) && fchmod(fd, mode) < 0)
			r = ferr("chmod %s: %s", path, strerror(errno));
		if (!r && preserve) {
			if (fchown(fd, n->uid, n->gid) < 0 && errno != EPERM)
				r = ferr("chown %s: %s", path, strerror(errno));
			struct timespec ts[2] = {{n->mtime, 0}, {n->mtime, 0}};
			futimens(fd, ts);
		}
		close(fd);
		goto out;
	}
	if (exists) { /* replace, never write through: unlink first (a directory stays an error) */
		if (S_ISDIR(st.st_mode)) {
			r = ferr("%s is a directory", path);
			goto out;
		}
		if (unlinkat(dirfd, name, 0) < 0) {
			r = ferr("remove %s: %s", path, strerror(errno));
			goto out;
		}
	}
	for (size_t i = 0; n->hardlink && i < hl->n; i++)
		if (hl->v[i].id == n->hardlink) {
			if (linkat(topfd, hl->v[i].rel, dirfd, name, 0) < 0)
				r = ferr("link %s: %s", path, strerror(errno));
			goto out;
		}
	switch (n->type) {
	case TREE_REG: {
		fd =
		    openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0) {
			r = ferr("create %s: %s", path, strerror(errno));
			goto out;
		}
		char *buf = xmalloc(1 << 16);
		struct tree_extent whole = {0, n->size};
		const struct tree_extent *x = n->extents ? n->extents : &whole;
		size_t nx = n->extents ? n->nextents : 1;
		if (ftruncate(fd, (off_t)n->size) < 0)
			r = ferr("%s: %s", path, strerror(errno));
		for (size_t i = 0; i < nx && !r; i++)
			for (uint64_t off = x[i].off; off < x[i].off + x[i].len && !r;) {
				uint64_t left = x[i].off + x[i].len - off;
				size_t len = left > (1 << 16) ? (1 << 16) : (size_t)left;
				if (tree_read(n, off, buf, len, &e) < 0)
					r = verr(&e);
				else if (pwrite(fd, buf, len, (off_t)off) != (ssize_t)len)
					r = ferr("write %s: %s", path, strerror(errno));
				off += len;
			}
		free(buf);
		if (!r && fchmod(fd, mode) < 0)
			r = ferr("chmod %s: %s", path, strerror(errno));
		if (!r && preserve) {
			if (fchown(fd, n->uid, n->gid) < 0 && errno != EPERM)
				r = ferr("chown %s: %s", path, strerror(errno));
			struct timespec ts[2] = {{n->mtime, 0}, {n->mtime, 0}};
			futimens(fd, ts);
		}
		if (close(fd) < 0 && !r)
			r = ferr("write %s: %s", path, strerror(errno));
		break;
	}
	case TREE_LNK:
		if (symlinkat(n->link, dirfd, name) < 0)
			r = ferr("symlink %s: %s", path, strerror(errno));
		break;
	default: {
		mode_t t = n->type == TREE_CHR	  ? S_IFCHR
			   : n->type == TREE_BLK  ? S_IFBLK
			   : n->type == TREE_FIFO ? S_IFIFO
						  : S_IFSOCK;
		if (mknodat(dirfd, name, t | mode, makedev(n->rdev_major, n->rdev_minor)) < 0)
			r = ferr("mknod %s: %s", path, strerror(errno));
	}
	}
	if (!r && preserve && n->type != TREE_REG) {
		if (fchownat(dirfd, name, n->uid, n->gid, AT_SYMLINK_NOFOLLOW) < 0 &&
		    errno != EPERM)
			r = ferr("chown %s: %s", path, strerror(errno));
		struct timespec ts[2] = {{n->mtime, 0}, {n->mtime, 0}};
		utimensat(dirfd, name, ts, AT_SYMLINK_NOFOLLOW);
	}
	if (!r && n->hardlink) {
		hl->v = xrealloc(hl->v, (hl->n + 1) * sizeof(*hl->v));
		hl->v[hl->n].id = n->hardlink;
		hl->v[hl->n].rel = xstrdup(path);
		hl->n++;
	}
out:
	free(path);
	return r ? EXIT_FAIL : 0;
}

static int is_dir_at(struct addr *a)
{
	if (!a->v) {
		struct stat st;
		return stat(a->path, &st) == 0 && S_ISDIR(st.st_mode);
	}
	if (a->v->kind == V_EXT4) {
		struct err e = {0};
		uint32_t ino;
		struct ext4fs_stat st;
		return ext4fs_lookup(a->v->fs, a->path, 1, &ino, &e) == 0 &&
		       ext4fs_stat(a->v->fs, ino, &st, &e) == 0 && st.type == TREE_DIR;
	}
	struct tree_node *n = tree_lookup(&a->v->t, a->path, 1);
	return n && n->type == TREE_DIR;
}

/* Puts n at dst (already resolved to its final name, or a directory for the image root). */
static int put_node(struct addr *dst, const char *dpath, const struct tree_node *n, int preserve)
{
	struct err e = {0};
	if (!dst->v) {
		/* the host side: open the parent the user named, then never follow a link */
		char *dir = xstrdup(dpath), *slash = strrchr(dir, '/');
		const char *name = dpath;
		int dirfd, r;
		if (slash) {
			name = dpath + (slash - dir) + 1;
			*slash = 0;
			if (slash == dir)
				strcpy(dir, "/");
		} else {
			strcpy(dir, ".");
		}
		dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dirfd < 0) {
			r = ferr("%s: %s", dir, strerror(errno));
			free(dir);
			return r;
		}
		struct hostlinks hl = {0};
		if (!*name && n->type == TREE_DIR) { /* "DEST/": merge into it */
			r = 0;
			for (size_t i = 0; i < n->nkids && !r; i++)
				r = extract(n->kids[i], dirfd, dirfd, "", n->kids[i]->name,
					    preserve, &hl, 1);
		} else {
			r = extract(n, dirfd, dirfd, "", name, preserve, &hl, 0);
		}
		for (size_t i = 0; i < hl.n; i++)
			free(hl.v[i].rel);
		free(hl.v);
		close(dirfd);
		free(dir);
		return r;
	}
	if (need_edit(dst))
		return EXIT_FAIL;
	if (dst->v->kind == V_EXT4) {
		if (ext4fs_put(dst->v->fs, dpath, n, preserve ? EXT4FS_PRESERVE : 0, &e) < 0)
			return verr(&e);
		return 0;
	}
	if (n->type == TREE_REG && n->size > 0xffffffffULL)
		return ferr("%s: newc cpio cannot hold a file of %llu bytes", dpath,
			    (unsigned long long)n->size);
	struct idmap ids = {0};
	int r = 0;
	/* -p keeps times, clamped: n is crumb's own copy (scratch), clamped in place */
	struct tree sub = {.root = (struct tree_node *)n};
	tree_walk(&sub, clamp_node, NULL);
	if (!strcmp(dpath, "/") || !*dpath) {
		for (size_t i = 0; n->type == TREE_DIR && i < n->nkids && r >= 0; i++) {
			char *kp = join("/", n->kids[i]->name);
			r = clone_into(&dst->v->t, kp, n->kids[i], preserve, &ids, 1, &e);
			free(kp);
		}
	} else {
		r = clone_into(&dst->v->t, dpath, n, preserve, &ids, 0, &e);
	}
	free(ids.v);
	if (r < 0)
		return verr(&e);
	dst->v->dirty = 1;
	return 0;
}

static int do_cp(int argc, char **argv, int recursive, int preserve)
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
		if ((r = parse_addr(argv[i], &src)) || (r = source_node(&src, recursive, &n)))
			return r;
		char *b = base_name(src.path);
		char *dpath;
		if (!into)
			dpath = xstrdup(dst.path);
		else if (!strcmp(b, "/") || !strcmp(b, ".") || !strcmp(b, ".."))
			dpath = dst.v ? xstrdup(dst.path) : join(dst.path, ""); /* contents merge */
		else
			dpath = join(dst.path, b);
		r = put_node(&dst, dpath, n, preserve);
		free(dpath);
		free(b);
		if (r)
			return r;
	}
	return 0;
}

/* ---- namespace edits ---- */

static int tree_move(struct tree *t, const char *from, const char *to, struct err *e)
{
	struct tree_node *n = tree_lookup(t, from, 0), *old = tree_lookup(t, to, 0);
	if (!n || !n->parent)
		return err_set(e, CRUMB_ENOENT, "%s: no such file or directory (or the root)",
			       from);
	if (old == n)
		return 0;
	for (struct tree_node *p = tree_lookup(t, to, 0) ? old : NULL; p; p = p->parent)
		if (p == n)
			return err_set(e, CRUMB_EINVAL, "cannot move %s below itself", from);
	/* check the new parent before detaching anything */
	char *tp = xstrdup(to), *slash = strrchr(tp, '/');
	if (slash)
		*slash = 0;
	struct tree_node *np = tree_lookup(t, slash ? (*tp ? tp : "/") : "/", 1);
	free(tp);
	for (struct tree_node *p = np; p; p = p->parent)
		if (p == n)
			return err_set(e, CRUMB_EINVAL, "cannot move %s below itself", from);
	if (!np || np->type != TREE_DIR)
		return err_set(e, CRUMB_ENOENT, "%s: no such directory", to);
	if (old && (old->type == TREE_DIR) != (n->type == TREE_DIR))
		return err_set(e, CRUMB_EINVAL, "cannot replace %s with %s", to, from);
	if (old && old->type == TREE_DIR && old->nkids)
		return err_set(e, CRUMB_EINVAL, "%s: directory not empty", to);
	/* detach from the old parent by hand (tree_remove would free it) */
	struct tree_node *op = n->parent;
	for (size_t i = 0; i < op->nkids; i++)
		if (op->kids[i] == n) {
			memmove(op->kids + i, op->kids + i + 1, (op->nkids - i - 1) * sizeof(n));
			op->nkids--;
			break;
		}
	struct tree_node *slot;
	int r = tree_add(t, to, TREE_FIFO, 0, &slot, e); /* a placeholder at the sorted place */
	if (r < 0) {
		tree_release(&(struct tree){n, 0});
		return r;
	}
	struct tree_node *parent = slot->parent;
	for (size_t i = 0; i < parent->nkids; i++)
		if (parent->kids[i] == slot) {
			free(n->name);
			n->name = xstrdup(slot->name);
			parent->kids[i] = n;
			n->parent = parent;
			break;
		}
	slot->parent = NULL;
	struct tree tmp = {slot, 0};
	tree_release(&tmp);
	return 0;
}

static int do_mv(int argc, char **argv)
{
	struct addr dst;
	struct err e = {0};
	int r;
	if (argc < 2)
		return cmd_usage_error("fs", "mv needs SRC... DEST");
	if ((r = parse_addr(argv[argc - 1], &dst)))
		return r;
	int into = argc > 2 || is_dir_at(&dst);
	for (int i = 0; i < argc - 1; i++) {
		struct addr src;
		if ((r = parse_addr(argv[i], &src)))
			return r;
		char *b = base_name(src.path);
		char *dpath = into ? join(dst.path, b) : xstrdup(dst.path);
		free(b);
		if (src.v && src.v == dst.v) {
			if ((r = need_edit(&dst)) == 0) {
				if (dst.v->kind == V_EXT4)
					r = ext4fs_rename(dst.v->fs, src.path, dpath, &e) < 0
						? verr(&e)
						: 0;
				else if (tree_move(&dst.v->t, src.path, dpath, &e) < 0)
					r = verr(&e);
				else
					dst.v->dirty = 1;
			}
		} else {
			/* across images or the host: copy everything, then remove the source */
			const struct tree_node *n;
			if (!(r = need_edit(&src)) && !(r = source_node(&src, 1, &n)) &&
			    !(r = put_node(&dst, dpath, n, 1))) {
				if (!src.v)
					r = remove_tree(src.path, &e) < 0 ? verr(&e) : 0;
				else if (src.v->kind == V_EXT4)
					r = ext4fs_remove(src.v->fs, src.path, 1, &e) < 0 ? verr(&e)
											  : 0;
				else {
					tree_remove(&src.v->t, src.path, &e);
					src.v->dirty = 1;
				}
			}
		}
		free(dpath);
		if (r)
			return r;
	}
	return 0;
}

static int do_rm(int argc, char **argv, int recursive, int force)
{
	struct err e = {0};
	int r = 0;
	for (int i = 0; i < argc && !r; i++) {
		struct addr a;
		if ((r = image_addr(argv[i], &a, 1)))
			break;
		if (a.v->kind == V_EXT4) {
			int rr = ext4fs_remove(a.v->fs, a.path, recursive, &e);
			if (rr < 0 && !(force && rr == CRUMB_ENOENT))
				r = verr(&e);
			continue;
		}
		struct tree_node *n = tree_lookup(&a.v->t, a.path, 0);
		if (!n) {
			if (!force)
				r = ferr("%s: no such file or directory", argv[i]);
			continue;
		}
		if (!n->parent)
			r = ferr("%s: refusing to remove the root", argv[i]);
		else if (n->type == TREE_DIR && n->nkids && !recursive)
			r = ferr("%s: directory not empty", argv[i]);
		else if (tree_remove(&a.v->t, a.path, &e) < 0)
			r = verr(&e);
		a.v->dirty = 1;
	}
	return r;
}

static int do_mkdir(int argc, char **argv, int parents)
{
	struct err e = {0};
	struct tree tmp;
	struct tree_node *d;
	int r = 0;
	tree_init(&tmp);
	tree_add(&tmp, "/d", TREE_DIR, 0755, &d, &e);
	d->mtime = entry_time((int64_t)time(NULL));
	for (int i = 0; i < argc && !r; i++) {
		struct addr a;
		if ((r = image_addr(argv[i], &a, 1)))
			break;
		if (a.v->kind == V_EXT4) {
			if (parents) {
				/* each prefix in turn; existing directories are left as they are */
				char *p = xstrdup(a.path);
				for (char *s = p + 1; !r; s++) {
					if (*s != '/' && *s)
						continue;
					char c = *s;
					*s = 0;
					if (ext4fs_put(a.v->fs, p, d, 0, &e) < 0)
						r = verr(&e);
					*s = c;
					if (!c)
						break;
				}
				free(p);
			} else if (ext4fs_put(a.v->fs, a.path, d, EXT4FS_EXCL, &e) < 0) {
				r = verr(&e);
			}
			continue;
		}
		struct tree_node *n = tree_lookup(&a.v->t, a.path, 0);
		if (n && (!parents || n->type != TREE_DIR)) {
			r = ferr("%s: exists", argv[i]);
			break;
		}
		char *parent = xstrdup(a.path), *slash = strrchr(parent, '/');
		if (slash)
			*slash = 0;
		struct tree_node *pn = tree_lookup(&a.v->t, slash && *parent ? parent : "/", 1);
		free(parent);
		if (!parents && (!pn || pn->type != TREE_DIR)) {
			r = ferr("%s: no such parent directory", argv[i]);
			break;
		}
		if (!n) {
			if (tree_add(&a.v->t, a.path, TREE_DIR, 0755, &n, &e) < 0) {
				r = verr(&e);
				break;
			}
			n->mtime = d->mtime;
			a.v->dirty = 1;
		}
	}
	tree_release(&tmp);
	return r;
}

static int do_ln(int argc, char **argv, int sym)
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
	if (sym) {
		if (a.v->kind == V_EXT4) {
			struct tree tmp;
			struct tree_node *n;
			tree_init(&tmp);
			tree_add(&tmp, "/l", TREE_LNK, 0777, &n, &e);
			n->link = xstrdup(argv[0]);
			n->mtime = entry_time((int64_t)time(NULL));
			r = ext4fs_put(a.v->fs, a.path, n, EXT4FS_EXCL, &e) < 0 ? verr(&e) : 0;
			tree_release(&tmp);
			return r;
		}
		if (tree_lookup(&a.v->t, a.path, 0))
			return ferr("%s: exists", argv[1]);
		if (tree_add_symlink(&a.v->t, a.path, argv[0], &e) < 0)
			return verr(&e);
		tree_lookup(&a.v->t, a.path, 0)->mtime = entry_time((int64_t)time(NULL));
		a.v->dirty = 1;
		return 0;
	}
	if ((r = parse_addr(argv[0], &t)))
		return r;
	if (t.v && t.v != a.v)
		return ferr("a hard link must stay inside its image");
	if (a.v->kind == V_EXT4)
		return ext4fs_link(a.v->fs, t.path, a.path, &e) < 0 ? verr(&e) : 0;
	struct tree_node *src = tree_lookup(&a.v->t, t.path, 0);
	if (!src || src->type == TREE_DIR)
		return ferr("%s: %s", argv[0], src ? "is a directory" : "no such file");
	if (tree_lookup(&a.v->t, a.path, 0))
		return ferr("%s: exists", argv[1]);
	if (!src->hardlink)
		src->hardlink = ++a.v->t.next_hardlink;
	struct idmap ids = {0};
	struct tree_node copy = *src;
	copy.hardlink = 0; /* cloned alone, then joined to src's group */
	r = clone_into(&a.v->t, a.path, &copy, 1, &ids, 0, &e);
	free(ids.v);
	if (r < 0)
		return verr(&e);
	tree_lookup(&a.v->t, a.path, 0)->hardlink = src->hardlink;
	a.v->dirty = 1;
	return 0;
}

static int do_attr(int argc, char **argv, const char *verb)
{
	struct err e = {0};
	char *end;
	unsigned long mode = 0, uid = 0, gid = 0;
	int own = !strcmp(verb, "chown"), keep_gid = 0;
	if (argc < 2)
		return cmd_usage_error("fs", "%s needs a value and IMAGE:PATH...", verb);
	if (own) {
		errno = 0;
		uid = strtoul(argv[0], &end, 10);
		if (*end == ':' || *end == '.')
			gid = strtoul(end + 1, &end, 10);
		else
			keep_gid = 1;
		if (errno || *end || end == argv[0] || uid > 0xfffffffful || gid > 0xfffffffful)
			return cmd_usage_error("fs", "chown: want numeric UID[:GID], not '%s'",
					       argv[0]);
	} else {
		mode = strtoul(argv[0], &end, 8);
		if (*end || end == argv[0] || mode > 07777)
			return cmd_usage_error("fs", "chmod: want an octal mode, not '%s'",
					       argv[0]);
	}
	int r = 0;
	for (int i = 1; i < argc && !r; i++) {
		struct addr a;
		if ((r = image_addr(argv[i], &a, 1)))
			break;
		if (a.v->kind == V_EXT4) {
			uint32_t ino;
			struct ext4fs_stat st;
			int rr = ext4fs_lookup(a.v->fs, a.path, 1, &ino, &e);
			if (!rr && own && keep_gid && !(rr = ext4fs_stat(a.v->fs, ino, &st, &e)))
				gid = st.gid;
			if (!rr)
				rr = own ? ext4fs_chown(a.v->fs, ino, (uint32_t)uid, (uint32_t)gid,
							&e)
					 : ext4fs_chmod(a.v->fs, ino, (uint32_t)mode, &e);
			if (rr < 0)
				r = verr(&e);
			continue;
		}
		struct tree_node *n = tree_lookup(&a.v->t, a.path, 1);
		if (!n) {
			r = ferr("%s: no such file or directory", argv[i]);
			break;
		}
		if (own) {
			n->uid = (uint32_t)uid;
			if (!keep_gid)
				n->gid = (uint32_t)gid;
		} else {
			n->mode = (uint32_t)mode;
		}
		a.v->dirty = 1;
	}
	return r;
}

/* fsck's exit statuses (documented in usage_fs): 1 also covers an unreadable image. */
enum { FSCK_PROBLEMS = EXIT_FAIL, FSCK_UNCHECKED = 3 };

/* Checks every image named; the worst result wins (problems over not checked). */
static int do_fsck(int argc, char **argv)
{
	int worst = 0;
	for (int i = 0; i < argc; i++) {
		struct addr a;
		int r;
		char *arg = strchr(argv[i], ':') ? xstrdup(argv[i]) : xasprintf("%s:", argv[i]);
		last_open_code = 0;
		r = parse_addr(arg, &a);
		if (!r && !a.v)
			r = ferr("%s: no such image", argv[i]);
		if (r) {
			r = last_open_code == CRUMB_EUNSUPP ? FSCK_UNCHECKED : FSCK_PROBLEMS;
		} else if (a.v->kind == V_EXT4) {
			struct sbuf rep = SBUF_INIT;
			struct err e = {0};
			unsigned n = 0;
			struct ext4fs_info info;
			int rc = ext4fs_fsck(a.v->fs, &rep, &n, &e);
			fputs(rep.buf, stdout);
			if (n) {
				printf("%s: %u problem%s\n", argv[i], n, n == 1 ? "" : "s");
				r = FSCK_PROBLEMS;
			} else if (rc == 0) {
				ext4fs_info(a.v->fs, &info);
				printf("%s: clean, %u/%u inodes, %llu/%llu blocks\n", argv[i],
				       info.inodes - info.free_inodes, info.inodes,
				       (unsigned long long)(info.blocks - info.free_blocks),
				       (unsigned long long)info.blocks);
			}
			if (rc < 0) {
				verr(&e);
				if (!n)
					r = rc == CRUMB_EUNSUPP ? FSCK_UNCHECKED : FSCK_PROBLEMS;
			}
			sb_release(&rep);
		} else {
			struct tree_stats st;
			tree_stats(&a.v->t, &st);
			printf("%s: clean %s archive, %llu entries\n", argv[i],
			       a.v->io.found_cpio ? "cpio" : "other",
			       (unsigned long long)st.nodes - 1);
		}
		free(arg);
		if (r == FSCK_PROBLEMS || (r && !worst))
			worst = r;
	}
	return worst;
}

int cmd_fs(int argc, char **argv)
{
	if (argc < 2)
		return cmd_usage_error("fs", "a verb is needed");
	const char *verb = argv[1];
	if (!strcmp(verb, "-h") || !strcmp(verb, "--help"))
		return cmd_print_usage("fs");
	int lng = 0, rec = 0, dirs = 0, pre = 0, force = 0, sym = 0, par = 0, sum = 0, i;
	for (i = 2; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		if (!strcmp(argv[i], "--")) {
			i++;
			break;
		}
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return cmd_print_usage("fs");
		if (!strcmp(argv[i], "--force")) {
			force_write = 1;
			continue;
		}
		if (!strcmp(verb, "chmod") && argv[i][1] >= '0' && argv[i][1] <= '7')
			break;
		for (const char *f = argv[i] + 1; *f; f++) {
			const char *ok = !strcmp(verb, "ls")	  ? "lRd"
					 : !strcmp(verb, "cp")	  ? "rRp"
					 : !strcmp(verb, "rm")	  ? "rRf"
					 : !strcmp(verb, "mkdir") ? "p"
					 : !strcmp(verb, "ln")	  ? "s"
					 : !strcmp(verb, "du")	  ? "s"
								  : "";
			if (!strchr(ok, *f))
				return cmd_usage_error("fs", "%s: unknown option -%c", verb, *f);
			switch (*f) {
			case 'l':
				lng = 1;
				break;
			case 'R':
				rec = 1;
				break;
			case 'r':
				rec = 1;
				break;
			case 'd':
				dirs = 1;
				break;
			case 'p':
				pre = par = 1;
				break;
			case 'f':
				force = 1;
				break;
			case 's':
				sym = sum = 1;
				break;
			}
		}
	}
	(void)sum;
	int n = argc - i;
	char **args = argv + i;
	static const char *editing[] = {"cp", "mv", "rm", "mkdir", "ln", "chmod", "chown", NULL};
	for (const char **e = editing; *e; e++)
		if (!strcmp(verb, *e))
			want_rw = 1;
	if (force_write && !want_rw)
		return cmd_usage_error("fs", "%s: --force is for verbs that write", verb);
	struct err se = {0};
	if (want_rw && cmd_sde(&sde, &se) < 0)
		return verr(&se);
	int r;
	if (!strcmp(verb, "fsck") || !strcmp(verb, "ls") || !strcmp(verb, "cat") ||
	    !strcmp(verb, "stat") || !strcmp(verb, "du") || !strcmp(verb, "rm") ||
	    !strcmp(verb, "mkdir")) {
		if (n < 1)
			return cmd_usage_error("fs", "%s needs at least one IMAGE:PATH", verb);
	}
	if (!strcmp(verb, "ls"))
		r = do_ls(n, args, lng, rec, dirs);
	else if (!strcmp(verb, "cat"))
		r = do_cat(n, args);
	else if (!strcmp(verb, "stat"))
		r = do_stat(n, args);
	else if (!strcmp(verb, "du"))
		r = do_du(n, args);
	else if (!strcmp(verb, "cp"))
		r = do_cp(n, args, rec, pre);
	else if (!strcmp(verb, "mv"))
		r = do_mv(n, args);
	else if (!strcmp(verb, "rm"))
		r = do_rm(n, args, rec, force);
	else if (!strcmp(verb, "mkdir"))
		r = do_mkdir(n, args, par);
	else if (!strcmp(verb, "ln"))
		r = do_ln(n, args, sym);
	else if (!strcmp(verb, "chmod") || !strcmp(verb, "chown"))
		r = do_attr(n, args, verb);
	else if (!strcmp(verb, "fsck"))
		r = do_fsck(n, args);
	else
		return cmd_usage_error("fs", "unknown verb '%s'", verb);
	return vols_close(r);
}

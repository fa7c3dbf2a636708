/* mkfs.c: `crumb mkfs`: layer directories, archives and images into a tree, write ext4/ext2/cpio.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../lib/archive.h"
#include "../lib/devtable.h"
#include "../lib/ext4.h"
#include "../lib/ext4fs.h"
#include "../lib/fsimage.h"
#include "../lib/import.h"
#include "../lib/opt.h"
#include "cmd.h"

const char usage_mkfs[] =
    "usage: crumb mkfs [-t ext4|ext2|cpio] [--size N] [--inodes N] [--owner UID:GID]\n"
    "                  [--label L] [--device-table FILE] [--compress none|gzip|zstd]\n"
    "                  SOURCE... OUT\n"
    "\n"
    "Makes a filesystem image at OUT from the SOURCEs, laid over each other in\n"
    "order (a later source replaces what an earlier one put at the same path).\n"
    "No root needed: ownership, modes and device nodes are written as data.\n"
    "\n"
    "A SOURCE is a directory (its contents become the image's root), a tar or cpio\n"
    "archive (any compression libarchive reads; owners kept), or an ext2/3/4 image\n"
    "(owners kept). Files from a directory become root-owned (0:0) unless --owner\n"
    "is given. FIFOs and devices in a directory are recorded, never opened; an\n"
    "unreadable file is an error naming it.\n"
    "\n"
    "  -t TYPE             ext4 (default), ext2, or cpio (newc)\n"
    "  --size N            image size in bytes, with K, M or G (1024-based) suffix;\n"
    "                      default: the content plus 10% plus 1 MiB, plus metadata\n"
    "                      and journal, rounded to a MiB (ext4/ext2 only)\n"
    "  --inodes N          inode count; default: what the tree needs plus 10% plus 16\n"
    "  --owner UID:GID     owner of the files taken from directory SOURCEs\n"
    "  --label L           volume label, at most 16 bytes (ext4/ext2 only)\n"
    "  --device-table FILE genext2fs/makefs device table, applied after the sources:\n"
    "                      lines 'PATH TYPE MODE UID GID MAJOR MINOR START INC COUNT',\n"
    "                      '#' comments, '-' for an unused field. TYPE: d (directory,\n"
    "                      made if missing), f (existing file), c, b (char/block\n"
    "                      device), p (FIFO), s (socket), l (existing symlink's owner).\n"
    "                      With COUNT > 0, makes PATH<START>... COUNT nodes, the\n"
    "                      minor number growing by INC. For an existing path the\n"
    "                      line sets its mode and owner.\n"
    "  --compress C        none (default), gzip or zstd (cpio only)\n"
    "\n"
    "The output appears atomically; on failure nothing is left at OUT. The same\n"
    "inputs give the same bytes: file times are the files' own mtimes, those newer\n"
    "than SOURCE_DATE_EPOCH clamped to it when it is set; filesystem times are\n"
    "SOURCE_DATE_EPOCH (default 0); UUID and hash seed derive from the content.\n";

/* "64M", "1G", "4096": bytes; K/M/G/T are powers of 1024, an optional "iB"/"B" after. */
static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return -1;
	int shift = 0;
	switch (*end) {
	case 'k':
	case 'K':
		shift = 10;
		end++;
		break;
	case 'm':
	case 'M':
		shift = 20;
		end++;
		break;
	case 'g':
	case 'G':
		shift = 30;
		end++;
		break;
	case 't':
	case 'T':
		shift = 40;
		end++;
		break;
	}
	if (shift && (!strcmp(end, "iB") || !strcmp(end, "B")))
		end += strlen(end);
	if (*end || (shift && v > (~0ULL >> shift)))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

static int parse_u32(const char *s, uint32_t *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v > 0xffffffffUL)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* ---- --owner: a directory source goes through a scratch tree, then is laid over ---- */

struct merge {
	struct tree *dst;
	uint32_t uid, gid;
	uint64_t hl_base;
	struct err *e;
};

static int merge_node(struct tree_node *n, const char *path, void *ctx)
{
	struct merge *m = ctx;
	struct tree_node *d;
	int r = tree_add(m->dst, *path ? path : "/", n->type, n->mode, &d, m->e);
	if (r < 0)
		return r;
	d->uid = m->uid;
	d->gid = m->gid;
	d->mtime = n->mtime;
	d->rdev_major = n->rdev_major;
	d->rdev_minor = n->rdev_minor;
	free(d->link);
	d->link = n->link ? xstrdup(n->link) : NULL;
	if (n->type == TREE_REG) {
		free(d->src_path);
		d->src_path = n->src_path ? xstrdup(n->src_path) : NULL;
		d->src_off = n->src_off;
		d->size = n->size;
		free(d->data);
		d->data = NULL;
		if (n->data) {
			d->data = xmalloc(n->size ? n->size : 1);
			memcpy(d->data, n->data, n->size);
		}
		d->reader = n->reader;
		d->reader_ref = n->reader_ref;
		free(d->extents);
		d->extents = NULL;
		d->nextents = n->nextents;
		if (n->extents) {
			size_t k = n->nextents ? n->nextents : 1;
			d->extents = xmalloc(k * sizeof(*d->extents));
			memcpy(d->extents, n->extents, n->nextents * sizeof(*d->extents));
		}
		d->hardlink = n->hardlink ? n->hardlink + m->hl_base : 0;
		if (d->hardlink > m->dst->next_hardlink)
			m->dst->next_hardlink = d->hardlink;
	}
	for (size_t i = 0; i < n->nxattrs; i++)
		tree_set_xattr(d, n->xattrs[i].name, n->xattrs[i].value, n->xattrs[i].len);
	return 0;
}

static int add_dir_owned(struct tree *t, const char *src, uint32_t uid, uint32_t gid, struct err *e)
{
	struct tree scratch;
	tree_init(&scratch);
	int r = tree_add_host(&scratch, src, "/", e);
	if (r == 0) {
		struct merge m = {t, uid, gid, t->next_hardlink, e};
		r = tree_walk(&scratch, merge_node, &m);
	}
	tree_release(&scratch);
	return r;
}

/* ---- the command ---- */

/* What the command line asks for. */
struct mkfs_args {
	const char *type, *owner, *label, *table, *compress;
	uint64_t size, inodes;
	struct strlist args; /* SOURCE... OUT */
	int is_cpio, is_ext2;
	enum compress comp;
	uint32_t uid, gid; /* --owner */
	struct sde sd;
};

static int take_size(const struct opt *o, const char *v, void *ctx, struct err *e)
{
	struct mkfs_args *m = ctx;
	(void)o;
	if (parse_size(v, &m->size) || m->size < 65536)
		return err_set(e, CRUMB_EINVAL, "--size %s: want a size like 64M (at least 64K)",
			       v);
	return 0;
}

static int take_inodes(const struct opt *o, const char *v, void *ctx, struct err *e)
{
	struct mkfs_args *m = ctx;
	uint32_t n;
	(void)o;
	if (parse_u32(v, &n) || !n)
		return err_set(e, CRUMB_EINVAL, "--inodes %s: want a positive number", v);
	m->inodes = n;
	return 0;
}

/* The options into m: 0 to carry on, or 1 when cmd_parse's *status (after --help, or a usage
 * error) is what mkfs returns. */
static int mkfs_parse(int argc, char **argv, struct mkfs_args *m, int *status)
{
	const struct opt tab[] = {
	    OPT_STRING_('t', "type", &m->type, "TYPE", NULL),
	    OPT_CALL_(0, "size", take_size, "N", NULL),
	    OPT_CALL_(0, "inodes", take_inodes, "N", NULL),
	    OPT_STRING_(0, "owner", &m->owner, "UID:GID", NULL),
	    OPT_STRING_(0, "label", &m->label, "L", NULL),
	    OPT_STRING_(0, "device-table", &m->table, "FILE", NULL),
	    OPT_STRING_(0, "compress", &m->compress, "C", NULL),
	    OPT_END_,
	};
	/* no help lines: usage_mkfs lists the options itself */
	struct cmd_opts p = {.verb = "mkfs", .tab = tab, .ctx = m};
	return cmd_parse(&p, argc, argv, &m->args, status);
}

/* --owner UID:GID into m; 0 or -1. */
static int parse_owner(struct mkfs_args *m)
{
	const char *colon = strchr(m->owner, ':');
	if (!colon)
		return -1;
	char *u = xstrndup(m->owner, (size_t)(colon - m->owner));
	int r = parse_u32(u, &m->uid) || parse_u32(colon + 1, &m->gid) ? -1 : 0;
	free(u);
	return r;
}

/* What the options mean together; 0 or an exit status. */
static int mkfs_check(struct mkfs_args *m)
{
	struct err e = {0};
	m->is_cpio = !strcmp(m->type, "cpio");
	m->is_ext2 = !strcmp(m->type, "ext2");
	if (!m->is_cpio && !m->is_ext2 && strcmp(m->type, "ext4"))
		return cmd_usage_error("mkfs", "-t %s: want ext4, ext2 or cpio", m->type);
	if (m->args.n < 2)
		return cmd_usage_error("mkfs", "want at least one SOURCE and the OUT file");
	if (m->is_cpio && (m->size || m->inodes || m->label))
		return cmd_usage_error("mkfs", "--size, --inodes and --label are for ext4/ext2");
	if (!m->is_cpio && m->compress)
		return cmd_usage_error("mkfs", "--compress is for -t cpio");
	if (m->label && strlen(m->label) > 16)
		return cmd_usage_error("mkfs", "--label '%s': at most 16 bytes", m->label);
	if (m->compress && compress_parse(m->compress, &m->comp, &e) < 0)
		return cmd_usage_error("mkfs", "%s", e.msg);
	if (m->owner && parse_owner(m) < 0)
		return cmd_usage_error("mkfs", "--owner %s: want numeric UID:GID", m->owner);
	if (cmd_sde(&m->sd, &e) < 0) {
		cmd_error_err(&e);
		return EXIT_FAIL;
	}
	return 0;
}

/* Lays the sources over each other into t; ext images read stay open in images. */
static int mkfs_sources(const struct mkfs_args *m, struct tree *t, struct ext4fs **images,
			size_t *nimages, struct err *e)
{
	int r = 0;
	for (size_t k = 0; k + 1 < m->args.n && !r; k++) {
		const char *src = m->args.v[k];
		struct stat st;
		enum fsimage_kind kind;
		struct err pe = {0};
		if (stat(src, &st) < 0) {
			r = err_errno(e, errno == ENOENT ? CRUMB_ENOENT : CRUMB_EIO, "%s", src);
		} else if (S_ISDIR(st.st_mode)) {
			r = m->owner ? add_dir_owned(t, src, m->uid, m->gid, e)
				     : tree_add_host(t, src, "/", e);
		} else if (!S_ISREG(st.st_mode)) {
			r = err_set(e, CRUMB_EINVAL, "%s: not a directory, archive or image", src);
		} else if (fsimage_probe(src, &kind, &pe) == 0 && kind == FSIMAGE_EXT) {
			r = ext4fs_open(src, 0, &images[*nimages], e);
			if (r == 0)
				r = ext4fs_read_tree(images[(*nimages)++], "/", t, "/", e);
		} else {
			struct import_opts io = {.dest = "/", .keep_owner = 1};
			r = import_archive(t, src, &io, e);
		}
	}
	return r;
}

/* Writes t at OUT as the type asked for. */
static int mkfs_write(const struct mkfs_args *m, struct tree *t, struct err *e)
{
	const char *out = m->args.v[m->args.n - 1];
	if (m->is_cpio) {
		struct cpio_opts co = {
		    .compress = m->comp, .epoch = m->sd.epoch, .clamp = m->sd.set};
		return cpio_write(t, out, &co, e);
	}
	struct ext4_opts eo = {.ext2 = m->is_ext2,
			       .size = m->size,
			       .inodes = m->inodes,
			       .label = m->label,
			       .epoch = m->sd.epoch,
			       .clamp = m->sd.set};
	return ext4_write(t, out, &eo, e);
}

/* Builds the tree from the sources and the device table, then writes OUT. */
static int mkfs_run(const struct mkfs_args *m)
{
	struct err e = {0};
	struct tree t;
	struct ext4fs **images = xcalloc(m->args.n, sizeof(*images));
	size_t nimages = 0;
	tree_init(&t);
	int r = mkfs_sources(m, &t, images, &nimages, &e);
	if (!r && m->table)
		r = devtable_apply_file(&t, m->table, &e);
	if (!r)
		r = mkfs_write(m, &t, &e);
	if (r)
		cmd_error_err(&e);
	tree_release(&t);
	for (size_t k = 0; k < nimages; k++) {
		struct err ce = {0};
		ext4fs_close(images[k], &ce);
	}
	free(images);
	return r ? EXIT_FAIL : 0;
}

int cmd_mkfs(int argc, char **argv)
{
	struct mkfs_args m = {.type = "ext4", .args = STRLIST_INIT, .comp = COMPRESS_NONE};
	int r;
	if (mkfs_parse(argc, argv, &m, &r))
		return r;
	if ((r = mkfs_check(&m)) == 0)
		r = mkfs_run(&m);
	strlist_release(&m.args);
	return r;
}

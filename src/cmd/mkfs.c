/* mkfs.c: `crumb mkfs`: layer directories, archives and images into a tree, write ext4/ext2/cpio.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/archive.h"
#include "../lib/ext4.h"
#include "../lib/ext4fs.h"
#include "../lib/import.h"
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

/* An ext2/3/4 image has the magic 0xEF53 at byte 1080. */
static int is_ext_image(const char *path)
{
	unsigned char m[2];
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return 0;
	int yes = pread(fd, m, 2, 1080) == 2 && m[0] == 0x53 && m[1] == 0xEF;
	close(fd);
	return yes;
}

/* ---- --device-table ---- */

static int table_error(struct err *e, const char *file, int line, const char *why)
{
	return err_set(e, CRUMB_EFORMAT, "%s:%d: %s", file, line, why);
}

/* A field that may be '-' (0). */
static int field_u32(const char *s, uint32_t *out, int base)
{
	if (!strcmp(s, "-")) {
		*out = 0;
		return 0;
	}
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, base);
	if (errno || end == s || *end || *s == '-' || v > 0xffffffffUL)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int same_link(struct tree_node *n, const char *path, void *ctx)
{
	const struct tree_node *src = ctx;
	if (n != src && n->hardlink == src->hardlink && n->type == src->type) {
		n->mode = src->mode;
		n->uid = src->uid;
		n->gid = src->gid;
	}
	return 0;
}

static int apply_entry(struct tree *t, const char *path, char type, uint32_t mode, uint32_t uid,
		       uint32_t gid, uint32_t major, uint32_t minor, const char *file, int line,
		       struct err *e)
{
	struct tree_node *n = tree_lookup(t, path, 0);
	int r;
	char why[512];
	switch (type) {
	case 'd':
		if (!n || n->type != TREE_DIR) {
			if ((r = tree_add(t, path, TREE_DIR, mode, &n, e)) < 0)
				return table_error(e, file, line, e->msg);
		}
		break;
	case 'f':
	case 'l':
		if (!n || n->type != (type == 'f' ? TREE_REG : TREE_LNK)) {
			snprintf(why, sizeof(why), "%s: no such %s in the image", path,
				 type == 'f' ? "file" : "symlink");
			return table_error(e, file, line, why);
		}
		break;
	case 'c':
	case 'b':
	case 'p':
	case 's': {
		enum tree_type tt = type == 'c'	  ? TREE_CHR
				    : type == 'b' ? TREE_BLK
				    : type == 'p' ? TREE_FIFO
						  : TREE_SOCK;
		if ((r = tree_add_device(t, path, tt, mode, major, minor, e)) < 0)
			return table_error(e, file, line, e->msg);
		n = tree_lookup(t, path, 0);
		break;
	}
	default:
		snprintf(why, sizeof(why), "unknown type '%c' (want d f c b p s l)", type);
		return table_error(e, file, line, why);
	}
	if (type != 'l')
		n->mode = mode & 07777;
	n->uid = uid;
	n->gid = gid;
	if (n->hardlink && n->type != TREE_DIR) /* every name of the file is the same inode */
		tree_walk(t, same_link, n);
	return 0;
}

static int device_table(struct tree *t, const char *file, struct err *e)
{
	struct sbuf sb = SBUF_INIT;
	int r = read_file(file, 16 << 20, &sb, e);
	if (r < 0)
		return r;
	char *save = NULL, *lp = sb.buf;
	int line = 0;
	for (char *l = sb.buf; l; l = lp) {
		char *nl = strchr(l, '\n');
		lp = nl ? nl + 1 : NULL;
		if (nl)
			*nl = 0;
		line++;
		char *hash = strchr(l, '#');
		if (hash)
			*hash = 0;
		char *f[11];
		int nf = 0;
		for (char *tok = strtok_r(l, " \t\r", &save); tok;
		     tok = strtok_r(NULL, " \t\r", &save))
			if (nf < 11)
				f[nf++] = tok;
			else
				nf = 12;
		if (nf == 0)
			continue;
		if (nf != 10 && nf != 7) {
			r = table_error(e, file, line,
					"want 10 fields: path type mode uid gid "
					"major minor start inc count");
			break;
		}
		uint32_t mode, uid, gid, major, minor, start = 0, inc = 0, count = 0;
		if (f[0][0] != '/') {
			r = table_error(e, file, line, "the path must be absolute");
			break;
		}
		if (strlen(f[1]) != 1) {
			r = table_error(e, file, line, "the type is one letter (d f c b p s l)");
			break;
		}
		if (field_u32(f[2], &mode, 8) || mode > 07777 || field_u32(f[3], &uid, 10) ||
		    field_u32(f[4], &gid, 10) || field_u32(f[5], &major, 10) ||
		    field_u32(f[6], &minor, 10) ||
		    (nf == 10 && (field_u32(f[7], &start, 10) || field_u32(f[8], &inc, 10) ||
				  field_u32(f[9], &count, 10)))) {
			r = table_error(e, file, line, "a bad number (mode is octal, up to 07777)");
			break;
		}
		if (count > 65536) {
			r = table_error(e, file, line, "count above 65536");
			break;
		}
		if (!count) {
			r = apply_entry(t, f[0], f[1][0], mode, uid, gid, major, minor, file, line,
					e);
		} else {
			for (uint32_t i = 0; i < count && !r; i++) {
				char *p = xasprintf("%s%u", f[0], start + i);
				r = apply_entry(t, p, f[1][0], mode, uid, gid, major,
						minor + i * inc, file, line, e);
				free(p);
			}
		}
		if (r)
			break;
	}
	sb_release(&sb);
	return r;
}

/* ---- the command ---- */

int cmd_mkfs(int argc, char **argv)
{
	const char *type = "ext4", *owner = NULL, *label = NULL, *table = NULL, *compress = NULL;
	uint64_t size = 0, inodes = 0;
	struct strlist args = STRLIST_INIT;
	int i, bad;
	for (i = 1; i < argc; i++) {
		const char *v;
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			strlist_release(&args);
			return cmd_print_usage("mkfs");
		}
		if (!strcmp(argv[i], "--")) {
			for (i++; i < argc; i++)
				strlist_push(&args, argv[i]);
			break;
		}
		if ((v = opt_value("-t", argc, argv, &i, &bad)) ||
		    (!bad && (v = opt_value("--type", argc, argv, &i, &bad)))) {
			type = v;
		} else if (!bad && (v = opt_value("--size", argc, argv, &i, &bad))) {
			if (parse_size(v, &size) || size < 65536) {
				strlist_release(&args);
				return cmd_usage_error("mkfs",
						       "--size %s: want a size like 64M (at "
						       "least 64K)",
						       v);
			}
		} else if (!bad && (v = opt_value("--inodes", argc, argv, &i, &bad))) {
			uint32_t n;
			if (parse_u32(v, &n) || !n) {
				strlist_release(&args);
				return cmd_usage_error("mkfs",
						       "--inodes %s: want a positive number", v);
			}
			inodes = n;
		} else if (!bad && (v = opt_value("--owner", argc, argv, &i, &bad))) {
			owner = v;
		} else if (!bad && (v = opt_value("--label", argc, argv, &i, &bad))) {
			label = v;
		} else if (!bad && (v = opt_value("--device-table", argc, argv, &i, &bad))) {
			table = v;
		} else if (!bad && (v = opt_value("--compress", argc, argv, &i, &bad))) {
			compress = v;
		} else if (bad) {
			strlist_release(&args);
			return cmd_usage_error("mkfs", "%s needs a value", argv[i]);
		} else if (argv[i][0] == '-' && argv[i][1]) {
			strlist_release(&args);
			return cmd_usage_error("mkfs", "unknown option '%s'", argv[i]);
		} else {
			strlist_push(&args, argv[i]);
		}
		if (bad) {
			strlist_release(&args);
			return cmd_usage_error("mkfs", "%s needs a value", argv[i]);
		}
	}

	int is_cpio = !strcmp(type, "cpio"), is_ext2 = !strcmp(type, "ext2");
	int r = 0;
	if (!is_cpio && !is_ext2 && strcmp(type, "ext4"))
		r = cmd_usage_error("mkfs", "-t %s: want ext4, ext2 or cpio", type);
	else if (args.n < 2)
		r = cmd_usage_error("mkfs", "want at least one SOURCE and the OUT file");
	else if (is_cpio && (size || inodes || label))
		r = cmd_usage_error("mkfs", "--size, --inodes and --label are for ext4/ext2");
	else if (!is_cpio && compress)
		r = cmd_usage_error("mkfs", "--compress is for -t cpio");
	else if (label && strlen(label) > 16)
		r = cmd_usage_error("mkfs", "--label '%s': at most 16 bytes", label);
	enum compress comp = COMPRESS_NONE;
	struct err e = {0};
	if (!r && compress && compress_parse(compress, &comp, &e) < 0)
		r = cmd_usage_error("mkfs", "%s", e.msg);
	uint32_t uid = 0, gid = 0;
	if (!r && owner) {
		const char *colon = strchr(owner, ':');
		char *u = colon ? xstrndup(owner, (size_t)(colon - owner)) : NULL;
		if (!colon || parse_u32(u, &uid) || parse_u32(colon + 1, &gid))
			r = cmd_usage_error("mkfs", "--owner %s: want numeric UID:GID", owner);
		free(u);
	}
	struct sde sd = {0};
	if (!r && cmd_sde(&sd, &e) < 0) {
		cmd_error_err(&e);
		r = EXIT_FAIL;
	}
	if (r) {
		strlist_release(&args);
		return r;
	}

	const char *out = args.v[args.n - 1];
	struct tree t;
	struct ext4fs **images = xcalloc(args.n, sizeof(*images));
	size_t nimages = 0;
	tree_init(&t);
	for (size_t k = 0; k + 1 < args.n && !r; k++) {
		const char *src = args.v[k];
		struct stat st;
		if (stat(src, &st) < 0) {
			r = err_errno(&e, errno == ENOENT ? CRUMB_ENOENT : CRUMB_EIO, "%s", src);
		} else if (S_ISDIR(st.st_mode)) {
			r = owner ? add_dir_owned(&t, src, uid, gid, &e)
				  : tree_add_host(&t, src, "/", &e);
		} else if (!S_ISREG(st.st_mode)) {
			r = err_set(&e, CRUMB_EINVAL, "%s: not a directory, archive or image", src);
		} else if (is_ext_image(src)) {
			r = ext4fs_open(src, 0, &images[nimages], &e);
			if (r == 0)
				r = ext4fs_read_tree(images[nimages++], "/", &t, "/", &e);
		} else {
			struct import_opts io = {.dest = "/", .keep_owner = 1};
			r = import_archive(&t, src, &io, &e);
		}
	}
	if (!r && table)
		r = device_table(&t, table, &e);
	if (!r) {
		int64_t epoch = sd.epoch;
		if (is_cpio) {
			struct cpio_opts co = {.compress = comp, .epoch = epoch, .clamp = sd.set};
			r = cpio_write(&t, out, &co, &e);
		} else {
			struct ext4_opts eo = {.ext2 = is_ext2,
					       .size = size,
					       .inodes = inodes,
					       .label = label,
					       .epoch = epoch,
					       .clamp = sd.set};
			r = ext4_write(&t, out, &eo, &e);
		}
	}
	if (r)
		cmd_error_err(&e);
	tree_release(&t);
	for (size_t k = 0; k < nimages; k++) {
		struct err ce = {0};
		ext4fs_close(images[k], &ce);
	}
	free(images);
	strlist_release(&args);
	return r ? EXIT_FAIL : 0;
}

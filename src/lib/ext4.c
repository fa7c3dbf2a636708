/* ext4.c: writes the tree as an ext4 (or ext2) image through libext2fs: reproducible, rootless,
 * fast. */
#include "ext4.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <et/com_err.h>
#include <ext2fs/ext2_fs.h>
#include <ext2fs/ext2fs.h>
#include <openssl/evp.h>

#include "ext4io.h"

/*
 * How the image is laid out, and why:
 *
 * - 4 KiB blocks, 256-byte inodes, no reserved blocks (a VM image has no
 *   root-only reserve to protect), no resize inode (images are rebuilt, not
 *   grown in place). ext4: extents, flex_bg, dir_index, huge/large files,
 *   dir_nlink, extra_isize, metadata_csum with metadata_csum_seed and a
 *   journal. ext2: dir_index, filetype, sparse_super, large_file, ext_attr.
 * - Inode numbers and blocks are handed out in the tree's walk order: the
 *   root, lost+found (inode 11), then every node pre-order, children by name.
 *   Blocks come from one cursor moving up the disk, so a file's data is one
 *   contiguous run (split only by group metadata), written with one large
 *   write per 8 MiB instead of block by block.
 * - Directories are laid out here, not entry by entry through ext2fs_link
 *   (quadratic on big directories): one block when they fit, otherwise an
 *   htree (hashed index, one or two levels) like the kernel builds when a
 *   directory outgrows its first block.
 * - Reproducible: every timestamp is a node's mtime (clamped to opts->epoch
 *   when opts->clamp) or opts->epoch; the
 *   checksum seed and directory hash seed come from a SHA-256 of the tree's
 *   metadata, the UUID from that digest plus a SHA-256 of every byte of
 *   content (metadata_csum_seed keeps the checksums valid when the UUID is
 *   set last). Nothing reads the clock or a random source.
 *
 * Automatic size (ext4_auto_size): the blocks the content needs (data,
 * directories, slow symlinks, xattr blocks, extent/indirect blocks) plus a
 * margin of 10% of that plus 1 MiB, plus the metadata (inode tables,
 * bitmaps, superblock/descriptor backups) and, for ext4, a journal of
 * max(4 MiB, the size mke2fs would pick), rounded up to a whole MiB.
 * Automatic inode count: what the tree needs (11 reserved + one per file)
 * plus 10% plus 16. The image file is sparse: unwritten blocks are holes.
 */

#define BS 4096u
#define LOG_BS 2 /* s_log_block_size: 1024 << 2 */
#define INODE_SIZE 256
#define CHUNK_BLOCKS 2048u    /* 8 MiB of content per read/write */
#define MAX_EXTENT_LEN 32768u /* longest initialized extent */
#define LF_INO 11u

/* ---- small maps: node pointer or hard-link id -> inode number ---- */

struct slot {
	uint64_t key;
	uint32_t val;
};
struct map {
	struct slot *v;
	size_t mask;
};

static void map_init(struct map *m, size_t n)
{
	size_t cap = 64;
	while (cap < n * 2)
		cap <<= 1;
	m->v = xcalloc(cap, sizeof(*m->v));
	m->mask = cap - 1;
}

/* The value slot for key (non-zero), created as 0 when absent. */
static uint32_t *map_at(struct map *m, uint64_t key)
{
	uint64_t h = key * 0x9e3779b97f4a7c15ULL;
	for (size_t i = (size_t)(h >> 20) & m->mask;; i = (i + 1) & m->mask) {
		if (m->v[i].key == key)
			return &m->v[i].val;
		if (!m->v[i].key) {
			m->v[i].key = key;
			return &m->v[i].val;
		}
	}
}

static uint64_t pkey(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

/* ---- little-endian stores for the structures laid out by hand ---- */

static void put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v & 0xffff);
	put16(p + 2, v >> 16);
}

/* ---- sizing ---- */

struct brange {
	uint64_t a, b; /* blocks [a, b) hold data */
};

/* The merged block ranges holding a regular file's data; *out is malloc'd. */
static size_t file_ranges(const struct tree_node *n, struct brange **out)
{
	uint64_t nb = (n->size + BS - 1) / BS;
	*out = NULL;
	if (!nb)
		return 0;
	if (!n->extents) {
		*out = xmalloc(sizeof(**out));
		(*out)[0] = (struct brange){0, nb};
		return 1;
	}
	size_t cnt = 0;
	*out = xmalloc((n->nextents + 1) * sizeof(**out));
	for (size_t i = 0; i < n->nextents; i++) {
		uint64_t off = n->extents[i].off, len = n->extents[i].len;
		if (!len || off >= n->size)
			continue;
		uint64_t end = len > n->size - off ? n->size : off + len;
		uint64_t a = off / BS, b = (end + BS - 1) / BS;
		if (cnt && a <= (*out)[cnt - 1].b) {
			if (b > (*out)[cnt - 1].b)
				(*out)[cnt - 1].b = b;
		} else {
			(*out)[cnt++] = (struct brange){a, b};
		}
	}
	return cnt;
}

static size_t rec_len(size_t namelen)
{
	return (8 + namelen + 3) & ~(size_t)3;
}

/* Bytes an xattr takes in an ext4 xattr area (entry header, name less its prefix, value). */
static size_t xattr_bytes(const struct tree_xattr *x)
{
	static const char *const pfx[] = {"user.", "trusted.", "security.", "system.", NULL};
	size_t nl = strlen(x->name);
	for (int i = 0; pfx[i]; i++)
		if (!strncmp(x->name, pfx[i], strlen(pfx[i]))) {
			nl -= strlen(pfx[i]);
			break;
		}
	return 16 + ((nl + 3) & ~(size_t)3) + ((x->len + 3) & ~(size_t)3);
}

struct est {
	const struct ext4_opts *o;
	uint64_t blocks; /* content: data, directories, symlinks, xattr and mapping blocks */
	uint64_t inodes; /* inodes used, reserved ones included */
	int has_lf;
};

static int est_node(struct tree_node *n, const char *path, void *ctx)
{
	struct est *s = ctx;
	/* every name of a hard-linked file counts: a small over-estimate */
	s->inodes++;
	if (n->nxattrs) {
		size_t xb = 0;
		for (size_t i = 0; i < n->nxattrs; i++)
			xb += xattr_bytes(&n->xattrs[i]);
		if (xb > 80)
			s->blocks++;
	}
	switch (n->type) {
	case TREE_REG: {
		struct brange *r;
		size_t nr = file_ranges(n, &r);
		uint64_t nb = 0;
		for (size_t i = 0; i < nr; i++)
			nb += r[i].b - r[i].a;
		free(r);
		s->blocks += nb;
		if (s->o->ext2)
			s->blocks += nr * 3 + nb / 1000 + (nb > 12 ? 3 : 0);
		else if (nr + nb / 16384 + 2 > 4)
			s->blocks += (nr + nb / 16384 + 2) / 300 + 2;
		break;
	}
	case TREE_LNK:
		if (n->link && strlen(n->link) >= 60)
			s->blocks++;
		break;
	case TREE_DIR: {
		uint64_t bytes = 24;
		for (size_t i = 0; i < n->nkids; i++)
			bytes += rec_len(strlen(n->kids[i]->name));
		if (!n->parent && !s->has_lf)
			bytes += rec_len(10);
		if (bytes <= BS - 12)
			s->blocks++;
		else /* leaves (each wastes less than one longest entry), index blocks */
			s->blocks += 2 + (bytes - 24) / (BS - 12 - 264) + 1 +
				     ((bytes - 24) / (BS - 12 - 264)) / 500 + 1;
		break;
	}
	default:
		break;
	}
	return 0;
}

static void estimate(struct tree *t, const struct ext4_opts *o, struct est *s)
{
	memset(s, 0, sizeof(*s));
	s->o = o;
	struct tree_node *lf = NULL;
	for (size_t i = 0; i < t->root->nkids; i++)
		if (!strcmp(t->root->kids[i]->name, "lost+found") &&
		    t->root->kids[i]->type == TREE_DIR)
			lf = t->root->kids[i];
	s->has_lf = lf != NULL;
	tree_walk(t, est_node, s);
	/* root counted by the walk; reserved 1..11 less the root, plus lost+found if synthesized */
	s->inodes += 10 + (lf ? 0 : 1);
	if (!lf)
		s->blocks++;
}

static uint64_t auto_inodes(uint64_t need)
{
	return need + need / 10 + 16;
}

/* Groups 0, 1 and powers of 3, 5 and 7 carry superblock backups (sparse_super). */
static uint64_t groups_with_super(uint64_t groups)
{
	uint64_t n = groups ? 1 : 0;
	for (uint64_t b = 3; b <= 7; b += 2)
		for (uint64_t p = 1; p < groups; p *= b)
			n++;
	return n;
}

/* Metadata blocks of an image of total blocks with the given inode count. */
static uint64_t meta_blocks(uint64_t total, uint64_t inodes, int ext2)
{
	uint64_t groups = (total + BS * 8 - 1) / (BS * 8);
	if (!groups)
		groups = 1;
	uint64_t ipg = (inodes + groups - 1) / groups;
	ipg = (ipg + 15) & ~(uint64_t)15;
	uint64_t itb = ipg * INODE_SIZE / BS;
	uint64_t gdt = (groups * 32 + BS - 1) / BS;
	uint64_t m = groups * (2 + itb) + groups_with_super(groups) * (1 + gdt);
	uint64_t j = 0;
	if (!ext2) {
		int d = ext2fs_default_journal_size(total);
		j = d < 1024 ? 1024 : (uint64_t)d;
	}
	/* the last group's tail may be cut off when too short for its metadata */
	return m + j + itb + 64;
}

uint64_t ext4_auto_size(const struct tree *t, const struct ext4_opts *o)
{
	struct est s;
	estimate((struct tree *)t, o, &s);
	uint64_t content = s.blocks + s.blocks / 10 + 256;
	uint64_t inodes = o->inodes ? o->inodes : auto_inodes(s.inodes);
	uint64_t total = content;
	for (int i = 0; i < 4; i++)
		total = content + meta_blocks(total, inodes, o->ext2);
	total = (total + 255) & ~(uint64_t)255;
	return total * BS;
}

/* ---- the writer ---- */

struct run {
	uint64_t lblk, pblk, len;
};

struct writer {
	ext2_filsys fs;
	const struct ext4_opts *o;
	struct err *e;
	struct tree *t;
	struct tree_node **nodes;
	size_t nnodes, nodes_alloc;
	struct map ino_of; /* node -> inode */
	uint32_t *nlink;   /* by inode number */
	char *done;	   /* by inode number: written already (hard links) */
	char *isdir;	   /* by inode number */
	ext2_ino_t last_ino;
	struct tree_node *lf; /* the tree's own lost+found, or NULL */
	blk64_t cursor;
	uint8_t *buf;
	struct run *runs;
	size_t nruns, runs_alloc;
	uint64_t nblocks; /* blocks mapped to the current inode */
	EVP_MD_CTX *content;
	__u32 hash_seed[4];
	int csum;
};

static int fail(struct writer *w, errcode_t err, const struct tree_node *n, const char *what)
{
	char *p = n ? tree_path(n) : NULL;
	int code =
	    err == EXT2_ET_BLOCK_ALLOC_FAIL || err == ENOSPC || err == EXT2_ET_INODE_ALLOC_FAIL
		? CRUMB_EINVAL
		: CRUMB_EIO;
	if (code == CRUMB_EINVAL)
		err_set(w->e, code, "%s%s%s: the image is full (%llu MiB); give a larger --size",
			p ? p : "", p ? ": " : "", what,
			(unsigned long long)(ext2fs_blocks_count(w->fs->super) * BS >> 20));
	else
		err_set(w->e, code, "%s%s%s: %s", p ? p : "", p ? ": " : "", what,
			error_message(err));
	free(p);
	return code;
}

static int collect(struct tree_node *n, const char *path, void *ctx)
{
	struct writer *w = ctx;
	if (w->nnodes == w->nodes_alloc) {
		w->nodes_alloc = w->nodes_alloc ? w->nodes_alloc * 2 : 1024;
		w->nodes = xrealloc(w->nodes, w->nodes_alloc * sizeof(*w->nodes));
	}
	w->nodes[w->nnodes++] = n;
	return 0;
}

static uint32_t ino_of(struct writer *w, const struct tree_node *n)
{
	return *map_at(&w->ino_of, pkey(n));
}

/* Takes up to want free blocks at or after the cursor, contiguous. */
static int alloc_run(struct writer *w, uint64_t want, blk64_t *start, uint64_t *got,
		     const struct tree_node *n)
{
	ext2_filsys fs = w->fs;
	blk64_t last = ext2fs_blocks_count(fs->super) - 1, b, end;
	if (w->cursor > last ||
	    ext2fs_find_first_zero_block_bitmap2(fs->block_map, w->cursor, last, &b)) {
		/* wrap once: libext2fs may have left holes below the cursor */
		if (ext2fs_find_first_zero_block_bitmap2(fs->block_map,
							 fs->super->s_first_data_block, last, &b))
			return fail(w, EXT2_ET_BLOCK_ALLOC_FAIL, n, "allocating blocks");
	}
	blk64_t hi = b + want - 1 > last ? last : b + want - 1;
	if (ext2fs_find_first_set_block_bitmap2(fs->block_map, b, hi, &end) == 0)
		*got = end - b;
	else
		*got = hi - b + 1;
	ext2fs_block_alloc_stats_range(fs, b, (blk_t)*got, +1);
	*start = b;
	w->cursor = b + *got;
	return 0;
}

static void add_run(struct writer *w, uint64_t lblk, uint64_t pblk, uint64_t len)
{
	w->nblocks += len;
	if (w->nruns) {
		struct run *r = &w->runs[w->nruns - 1];
		if (r->lblk + r->len == lblk && r->pblk + r->len == pblk &&
		    (w->o->ext2 || r->len + len <= MAX_EXTENT_LEN)) {
			r->len += len;
			return;
		}
	}
	if (w->nruns == w->runs_alloc) {
		w->runs_alloc = w->runs_alloc ? w->runs_alloc * 2 : 16;
		w->runs = xrealloc(w->runs, w->runs_alloc * sizeof(*w->runs));
	}
	w->runs[w->nruns++] = (struct run){lblk, pblk, len};
}

/* Allocates and writes blocks [lblk, lblk + count) from data (count * BS bytes). */
static int write_blocks(struct writer *w, const struct tree_node *n, uint64_t lblk, uint64_t count,
			const uint8_t *data)
{
	while (count) {
		blk64_t p = 0;
		uint64_t got = 0;
		int r = alloc_run(w, count, &p, &got, n);
		if (r < 0)
			return r;
		errcode_t err = io_channel_write_blk64(w->fs->io, p, (int)got, data);
		if (err)
			return fail(w, err, n, "writing the image");
		add_run(w, lblk, p, got);
		lblk += got;
		count -= got;
		data += got * BS;
	}
	return 0;
}

static void times_set(struct ext2_inode_large *in, int64_t t)
{
	uint32_t lo = (uint32_t)t;
	/* ext4's encoding: the low 2 bits of *_extra extend the 32-bit seconds */
	uint32_t extra = (uint32_t)(((t - (int64_t)(int32_t)lo) >> 32) & 3);
	in->i_atime = in->i_ctime = in->i_mtime = in->i_crtime = lo;
	in->i_atime_extra = in->i_ctime_extra = in->i_mtime_extra = in->i_crtime_extra = extra;
}

static void inode_base(const struct writer *w, struct ext2_inode_large *in,
		       const struct tree_node *n, uint16_t fmt, uint32_t nlink)
{
	memset(in, 0, sizeof(*in));
	in->i_mode = (uint16_t)(fmt | (n->mode & 07777));
	in->i_uid = (uint16_t)n->uid;
	in->osd2.linux2.l_i_uid_high = (uint16_t)(n->uid >> 16);
	in->i_gid = (uint16_t)n->gid;
	in->osd2.linux2.l_i_gid_high = (uint16_t)(n->gid >> 16);
	in->i_links_count = (uint16_t)nlink;
	in->i_extra_isize = sizeof(struct ext2_inode_large) - EXT2_GOOD_OLD_INODE_SIZE;
	times_set(in, clamp_time(n->mtime, w->o->epoch, w->o->clamp));
}

static int write_inode(struct writer *w, ext2_ino_t ino, struct ext2_inode_large *in,
		       const struct tree_node *n)
{
	errcode_t err = ext2fs_write_inode_full(w->fs, ino, (struct ext2_inode *)in, sizeof(*in));
	return err ? fail(w, err, n, "writing an inode") : 0;
}

/*
 * Maps the runs collected for ino into the inode and writes it: extents in
 * i_block when they fit, an extent tree through libext2fs otherwise; block
 * pointers (and indirect blocks) on ext2.
 */
static int map_and_write(struct writer *w, ext2_ino_t ino, struct ext2_inode_large *in,
			 const struct tree_node *n)
{
	ext2_filsys fs = w->fs;
	errcode_t err;
	int r;
	ext2fs_iblk_set(fs, (struct ext2_inode *)in, w->nblocks);
	if (w->o->ext2) {
		if ((r = write_inode(w, ino, in, n)) < 0)
			return r;
		for (size_t i = 0; i < w->nruns; i++)
			for (uint64_t k = 0; k < w->runs[i].len; k++) {
				blk64_t p = w->runs[i].pblk + k;
				err = ext2fs_bmap2(fs, ino, (struct ext2_inode *)in, NULL,
						   BMAP_SET | BMAP_ALLOC, w->runs[i].lblk + k, NULL,
						   &p);
				if (err)
					return fail(w, err, n, "mapping blocks");
			}
		return 0;
	}
	in->i_flags |= EXT4_EXTENTS_FL;
	uint8_t *ib = (uint8_t *)in->i_block;
	put16(ib, EXT3_EXT_MAGIC);
	put16(ib + 4, 4); /* eh_max */
	if (w->nruns <= 4) {
		put16(ib + 2, (uint32_t)w->nruns);
		for (size_t i = 0; i < w->nruns; i++) {
			uint8_t *x = ib + 12 + 12 * i;
			put32(x, (uint32_t)w->runs[i].lblk);
			put16(x + 4, (uint32_t)w->runs[i].len);
			put16(x + 6, (uint32_t)(w->runs[i].pblk >> 32));
			put32(x + 8, (uint32_t)w->runs[i].pblk);
		}
		return write_inode(w, ino, in, n);
	}
	if ((r = write_inode(w, ino, in, n)) < 0)
		return r;
	ext2_extent_handle_t h;
	if ((err = ext2fs_extent_open2(fs, ino, NULL, &h)))
		return fail(w, err, n, "opening the extent tree");
	for (size_t i = 0; i < w->nruns && !err; i++) {
		struct ext2fs_extent x = {.e_pblk = w->runs[i].pblk,
					  .e_lblk = w->runs[i].lblk,
					  .e_len = (__u32)w->runs[i].len};
		err = ext2fs_extent_insert(h, i ? EXT2_EXTENT_INSERT_AFTER : 0, &x);
	}
	if (!err)
		err = ext2fs_extent_fix_parents(h);
	ext2fs_extent_free(h);
	return err ? fail(w, err, n, "building the extent tree") : 0;
}

static int write_xattrs(struct writer *w, ext2_ino_t ino, const struct tree_node *n)
{
	if (!n->nxattrs)
		return 0;
	struct ext2_xattr_handle *h;
	errcode_t err = ext2fs_xattrs_open(w->fs, ino, &h);
	if (!err)
		err = ext2fs_xattrs_read(h);
	for (size_t i = 0; i < n->nxattrs && !err; i++)
		err = ext2fs_xattr_set(h, n->xattrs[i].name, n->xattrs[i].value, n->xattrs[i].len);
	errcode_t err2 = ext2fs_xattrs_close(&h);
	if (!err)
		err = err2;
	if (err == EXT2_ET_EA_NO_SPACE) {
		char *p = tree_path(n);
		int r = err_set(w->e, CRUMB_EUNSUPP,
				"%s: extended attributes too large for one block", p);
		free(p);
		return r;
	}
	return err ? fail(w, err, n, "writing extended attributes") : 0;
}

static int block_is_zero(const uint8_t *b)
{
	return b[0] == 0 && !memcmp(b, b + 1, BS - 1);
}

static int write_reg(struct writer *w, ext2_ino_t ino, const struct tree_node *n)
{
	struct brange *rg;
	size_t nr = file_ranges(n, &rg);
	int r = 0;
	for (size_t i = 0; i < nr && !r; i++) {
		for (uint64_t l = rg[i].a; l < rg[i].b && !r;) {
			uint64_t cnt = rg[i].b - l > CHUNK_BLOCKS ? CHUNK_BLOCKS : rg[i].b - l;
			uint64_t off = l * BS, len = cnt * BS;
			if (len > n->size - off)
				len = n->size - off;
			if ((r = tree_read(n, off, w->buf, len, w->e)) < 0)
				break;
			memset(w->buf + len, 0, cnt * BS - len);
			/* All-zero blocks become holes, as with mke2fs -d: smaller images,
			 * and a file that lost its holes on the way (cpio keeps none)
			 * comes back to the same bytes. The content digest (for the UUID)
			 * sees only what is written, with where it goes. */
			for (uint64_t s = 0, t; s < cnt && !r; s = t) {
				while (s < cnt && block_is_zero(w->buf + s * BS))
					s++;
				for (t = s; t < cnt && !block_is_zero(w->buf + t * BS); t++)
					;
				if (t == s)
					continue;
				uint64_t where[2] = {ino, l + s};
				EVP_DigestUpdate(w->content, where, sizeof(where));
				EVP_DigestUpdate(w->content, w->buf + s * BS, (t - s) * BS);
				r = write_blocks(w, n, l + s, t - s, w->buf + s * BS);
			}
			l += cnt;
		}
	}
	free(rg);
	if (r < 0)
		return r;
	struct ext2_inode_large in;
	inode_base(w, &in, n, LINUX_S_IFREG, w->nlink[ino]);
	errcode_t err = ext2fs_inode_size_set(w->fs, (struct ext2_inode *)&in, n->size);
	if (err)
		return fail(w, err, n, "setting the size");
	return map_and_write(w, ino, &in, n);
}

static int write_symlink(struct writer *w, ext2_ino_t ino, const struct tree_node *n)
{
	struct ext2_inode_large in;
	size_t len = n->link ? strlen(n->link) : 0;
	if (!len || len >= BS)
		return err_set(w->e, CRUMB_EINVAL, "%s: symlink target length %zu not in 1..%u",
			       n->name, len, BS - 1);
	inode_base(w, &in, n, LINUX_S_IFLNK, w->nlink[ino]);
	in.i_mode = LINUX_S_IFLNK | 0777;
	in.i_size = (uint32_t)len;
	if (len < sizeof(in.i_block)) { /* fast symlink: the target lives in the inode */
		memcpy(in.i_block, n->link, len);
		return write_inode(w, ino, &in, n);
	}
	memset(w->buf, 0, BS);
	memcpy(w->buf, n->link, len);
	int r = write_blocks(w, n, 0, 1, w->buf);
	return r < 0 ? r : map_and_write(w, ino, &in, n);
}

static int write_special(struct writer *w, ext2_ino_t ino, const struct tree_node *n)
{
	struct ext2_inode_large in;
	static const uint16_t fmt[] = {[TREE_CHR] = LINUX_S_IFCHR,
				       [TREE_BLK] = LINUX_S_IFBLK,
				       [TREE_FIFO] = LINUX_S_IFIFO,
				       [TREE_SOCK] = LINUX_S_IFSOCK};
	inode_base(w, &in, n, fmt[n->type], w->nlink[ino]);
	if (n->type == TREE_CHR || n->type == TREE_BLK) {
		uint32_t ma = n->rdev_major, mi = n->rdev_minor;
		/* the kernel's encodings: old 8:8 when it fits, else the new 12:20 one */
		if (ma < 256 && mi < 256)
			in.i_block[0] = ma << 8 | mi;
		else
			in.i_block[1] = (mi & 0xff) | (ma << 8) | ((mi & ~0xffu) << 12);
	}
	return write_inode(w, ino, &in, n);
}

/* ---- directories ---- */

struct dent {
	const char *name;
	uint32_t len, ino;
	uint8_t type;
	ext2_dirhash_t hash, minor;
};

static uint8_t ftype(enum tree_type t)
{
	switch (t) {
	case TREE_DIR:
		return EXT2_FT_DIR;
	case TREE_REG:
		return EXT2_FT_REG_FILE;
	case TREE_LNK:
		return EXT2_FT_SYMLINK;
	case TREE_CHR:
		return EXT2_FT_CHRDEV;
	case TREE_BLK:
		return EXT2_FT_BLKDEV;
	case TREE_FIFO:
		return EXT2_FT_FIFO;
	case TREE_SOCK:
		return EXT2_FT_SOCK;
	}
	return EXT2_FT_UNKNOWN;
}

static void put_dirent(uint8_t *p, uint32_t ino, size_t rlen, const char *name, size_t len,
		       uint8_t type)
{
	put32(p, ino);
	put16(p + 4, (uint32_t)rlen);
	p[6] = (uint8_t)len;
	p[7] = type;
	memcpy(p + 8, name, len);
}

static int dent_cmp(const void *a, const void *b)
{
	const struct dent *x = a, *y = b;
	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	if (x->minor != y->minor)
		return x->minor < y->minor ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Packs entries into leaf blocks of cap usable bytes; returns the block count. */
static size_t pack_leaves(struct writer *w, const struct dent *d, size_t nd, size_t cap,
			  uint8_t *out, size_t *first, size_t nfirst_max)
{
	size_t nb = 0, used = 0;
	uint8_t *blk = NULL, *lastp = NULL;
	for (size_t i = 0; i < nd; i++) {
		size_t rl = rec_len(d[i].len);
		if (!blk || used + rl > cap) {
			if (lastp)
				put16(lastp + 4, (uint32_t)(cap - (size_t)(lastp - blk)));
			blk = out + nb * BS;
			if (first && nb < nfirst_max)
				first[nb] = i;
			nb++;
			used = 0;
		}
		lastp = blk + used;
		put_dirent(lastp, d[i].ino, rl, d[i].name, d[i].len, d[i].type);
		used += rl;
	}
	if (lastp)
		put16(lastp + 4, (uint32_t)(cap - (size_t)(lastp - blk)));
	return nb;
}

static void put_tail(uint8_t *blk)
{
	uint8_t *t = blk + BS - 12;
	memset(t, 0, 12);
	put16(t + 4, 12);
	put16(t + 6, EXT2_DIR_NAME_LEN_CSUM);
}

/* The entries of directory n (inode ino; NULL for a synthesized lost+found), in name order,
 * with a synthesized lost+found where its name sorts when synth_lf; *out is malloc'd. */
static int dir_entries(struct writer *w, ext2_ino_t ino, const struct tree_node *n, int synth_lf,
		       struct dent **out, size_t *ndp)
{
	size_t nk = n ? n->nkids : 0, nd = 0;
	struct dent *d = xmalloc((nk + 1) * sizeof(*d));
	int is_root = ino == EXT2_ROOT_INO;
	for (size_t i = 0; i <= nk; i++) {
		if (is_root && synth_lf &&
		    (i == nk || strcmp(n->kids[i]->name, "lost+found") > 0)) {
			d[nd++] = (struct dent){"lost+found", 10, LF_INO, EXT2_FT_DIR, 0, 0};
			synth_lf = 0;
		}
		if (i == nk)
			break;
		const struct tree_node *k = n->kids[i];
		size_t len = strlen(k->name);
		if (len > EXT2_NAME_LEN) {
			free(d);
			char *p = tree_path(k);
			int r = err_set(w->e, CRUMB_EINVAL, "%s: name longer than %d bytes", p,
					EXT2_NAME_LEN);
			free(p);
			return r;
		}
		d[nd++] = (struct dent){k->name, (uint32_t)len, ino_of(w, k), ftype(k->type), 0, 0};
	}
	*out = d;
	*ndp = nd;
	return 0;
}

/* A directory in one block: ".", "..", then the entries (they fit in cap bytes). */
static uint8_t *dir_linear(struct writer *w, ext2_ino_t ino, ext2_ino_t parent,
			   const struct dent *d, size_t nd, size_t cap)
{
	uint8_t *blk = xcalloc(1, BS);
	put_dirent(blk, ino, 12, ".", 1, EXT2_FT_DIR);
	put_dirent(blk + 12, parent, nd ? 12 : cap - 12, "..", 2, EXT2_FT_DIR);
	/* packed as if at offset 0 of a block of cap - 24 bytes: rec_lens come out right */
	pack_leaves(w, d, nd, cap - 24, blk + 24, NULL, 0);
	if (w->csum)
		put_tail(blk);
	return blk;
}

/* An htree index's limit and count at p, then count - 1 (hash, block) entries: the i-th
 * points to block block0 + i and starts at hash lh[i * stride] (the first has no hash). */
static void put_dx(uint8_t *p, size_t limit, size_t count, const uint32_t *lh, size_t stride,
		   size_t block0)
{
	put16(p, (uint32_t)limit);
	put16(p + 2, (uint32_t)count);
	put32(p + 4, (uint32_t)block0);
	for (size_t i = 1; i < count; i++) {
		put32(p + 8 * i, lh[i * stride]);
		put32(p + 8 * i + 4, (uint32_t)(block0 + i));
	}
}

/* The shape of an htree directory: nl leaves under nn index nodes (0: the root indexes the
 * leaves), rlim entries fit in the root, nlim in a node. */
struct dx_shape {
	size_t nl, nn, rlim, nlim;
};

/* Lays out the root block, the nn index nodes and the leaves' hashes lh into blocks. */
static void dx_index(uint8_t *blocks, ext2_ino_t ino, ext2_ino_t parent, int ver,
		     const struct dx_shape *s, const uint32_t *lh)
{
	uint8_t *root = blocks;
	put_dirent(root, ino, 12, ".", 1, EXT2_FT_DIR);
	put_dirent(root + 12, parent, BS - 12, "..", 2, EXT2_FT_DIR);
	root[24 + 4] = (uint8_t)ver;  /* hash_version */
	root[24 + 5] = 8;	      /* info_length */
	root[24 + 6] = s->nn ? 1 : 0; /* indirect_levels */
	if (!s->nn) {
		put_dx(root + 32, s->rlim, s->nl, lh, 1, 1);
		return;
	}
	put_dx(root + 32, s->rlim, s->nn, lh, s->nlim, 1);
	for (size_t j = 0; j < s->nn; j++) {
		uint8_t *nb = blocks + (1 + j) * BS;
		size_t a = j * s->nlim, b = a + s->nlim > s->nl ? s->nl : a + s->nlim;
		put16(nb + 4, BS); /* fake empty entry over the whole block */
		put_dx(nb + 8, s->nlim, b - a, lh + a, 1, 1 + s->nn + a);
	}
}

/* A directory too big for one block, as an htree (d gets sorted by hash): *out is malloc'd,
 * *nblk blocks. */
static int dir_htree(struct writer *w, const struct tree_node *n, ext2_ino_t ino, ext2_ino_t parent,
		     struct dent *d, size_t nd, size_t cap, uint8_t **out, size_t *nblk)
{
	int ver = w->fs->super->s_def_hash_version;
	struct dx_shape s;
	for (size_t i = 0; i < nd; i++) {
		errcode_t err = ext2fs_dirhash2(ver, d[i].name, (int)d[i].len, NULL, 0,
						w->hash_seed, &d[i].hash, &d[i].minor);
		if (err)
			return fail(w, err, n, "hashing names");
	}
	qsort(d, nd, sizeof(*d), dent_cmp);
	/* at most one leaf per entry */
	size_t *first = xmalloc(nd * sizeof(*first));
	uint8_t *leaves = xcalloc(nd, BS);
	s.nl = pack_leaves(w, d, nd, cap, leaves, first, nd);
	s.rlim = (BS - 32 - (w->csum ? 8 : 0)) / 8;
	s.nlim = (BS - 8 - (w->csum ? 8 : 0)) / 8;
	s.nn = s.nl <= s.rlim ? 0 : (s.nl + s.nlim - 1) / s.nlim;
	if (s.nn > s.rlim) {
		free(first);
		free(leaves);
		char *p = tree_path(n);
		int r = err_set(w->e, CRUMB_EUNSUPP, "%s: too many entries for a directory", p);
		free(p);
		return r;
	}
	*nblk = 1 + s.nn + s.nl;
	uint8_t *blocks = xcalloc(*nblk, BS);
	memcpy(blocks + (1 + s.nn) * BS, leaves, s.nl * BS);
	free(leaves);
	/* leaf hash: the first entry's, odd when it continues the previous leaf's hash */
	uint32_t *lh = xmalloc(s.nl * sizeof(*lh));
	for (size_t i = 0; i < s.nl; i++)
		lh[i] = d[first[i]].hash | (i && d[first[i] - 1].hash == d[first[i]].hash ? 1 : 0);
	free(first);
	dx_index(blocks, ino, parent, ver, &s, lh);
	free(lh);
	if (w->csum)
		for (size_t i = 0; i < s.nl; i++)
			put_tail(blocks + (1 + s.nn + i) * BS);
	*out = blocks;
	return 0;
}

/* Writes directory ino's inode: n's, or a fresh lost+found's when n is NULL. */
static int dir_inode(struct writer *w, ext2_ino_t ino, const struct tree_node *n, size_t nblk,
		     int htree)
{
	struct ext2_inode_large in;
	static const struct tree_node lf = {.name = "lost+found", .type = TREE_DIR, .mode = 0700};
	if (n)
		inode_base(w, &in, n, LINUX_S_IFDIR, w->nlink[ino]);
	else {
		inode_base(w, &in, &lf, LINUX_S_IFDIR, 2);
		times_set(&in, w->o->epoch);
	}
	in.i_size = (uint32_t)(nblk * BS);
	if (htree)
		in.i_flags |= EXT2_INDEX_FL;
	return map_and_write(w, ino, &in, n);
}

static int write_dir(struct writer *w, ext2_ino_t ino, const struct tree_node *n, int synth_lf)
{
	ext2_ino_t parent = n && n->parent ? ino_of(w, n->parent) : EXT2_ROOT_INO;
	size_t nd = 0, bytes = 24, nblk = 1, cap = BS - (w->csum ? 12 : 0);
	struct dent *d = NULL;
	uint8_t *blocks = NULL;
	int r = dir_entries(w, ino, n, synth_lf, &d, &nd);
	if (r < 0)
		return r;
	for (size_t i = 0; i < nd; i++)
		bytes += rec_len(d[i].len);
	int htree = bytes > cap;
	if (!htree)
		blocks = dir_linear(w, ino, parent, d, nd, cap);
	else
		r = dir_htree(w, n, ino, parent, d, nd, cap, &blocks, &nblk);
	free(d);
	if (r < 0)
		return r;
	for (size_t i = 0; i < nblk && w->csum; i++) {
		errcode_t err = ext2fs_dir_block_csum_set(
		    w->fs, ino, (struct ext2_dir_entry *)(blocks + i * BS));
		if (err) {
			free(blocks);
			return fail(w, err, n, "directory checksum");
		}
	}
	r = write_blocks(w, n, 0, nblk, blocks);
	free(blocks);
	return r < 0 ? r : dir_inode(w, ino, n, nblk, htree);
}

/* ---- the whole image ---- */

static void digest_meta(EVP_MD_CTX *md, struct writer *w)
{
	struct sbuf sb = SBUF_INIT;
	const struct ext4_opts *o = w->o;
	sb_addf(&sb, "crumb-ext4 1 %d %llu %llu %s %lld\n", o->ext2,
		(unsigned long long)ext2fs_blocks_count(w->fs->super),
		(unsigned long long)w->fs->super->s_inodes_count, o->label ? o->label : "",
		(long long)o->epoch);
	/* Only what reaches the image counts: not where a tree's holes were (the
	 * content digest covers the bytes, zeros included, and zero blocks become
	 * holes anyway), nor a lost+found that merely came back from an image. */
	for (size_t i = 0; i < w->nnodes; i++) {
		const struct tree_node *n = w->nodes[i];
		if (n == w->lf)
			continue;
		char *p = tree_path(n);
		sb_addf(&sb, "%s %d %o %u %u %lld %llu %u %u %u %s\n", p, n->type, n->mode, n->uid,
			n->gid, (long long)clamp_time(n->mtime, o->epoch, o->clamp),
			(unsigned long long)n->size, n->rdev_major, n->rdev_minor, ino_of(w, n),
			n->link ? n->link : "");
		free(p);
		for (size_t k = 0; k < n->nxattrs; k++) {
			sb_addf(&sb, "x %s %zu\n", n->xattrs[k].name, n->xattrs[k].len);
			sb_add(&sb, n->xattrs[k].value, n->xattrs[k].len);
		}
		if (sb.len > (1 << 20)) {
			EVP_DigestUpdate(md, sb.buf, sb.len);
			sb_reset(&sb);
		}
	}
	EVP_DigestUpdate(md, sb.buf, sb.len);
	sb_release(&sb);
}

/* Assigns inode numbers in walk order (hard links share one) and link counts. */
static int assign_inodes(struct writer *w)
{
	struct map hl;
	map_init(&w->ino_of, w->nnodes + 1);
	map_init(&hl, w->nnodes + 1);
	ext2_ino_t next = LF_INO + 1;
	for (size_t i = 0; i < w->nnodes; i++) {
		struct tree_node *n = w->nodes[i];
		uint32_t ino;
		if (!n->parent)
			ino = EXT2_ROOT_INO;
		else if (n == w->lf)
			ino = LF_INO;
		else if (n->hardlink && n->type != TREE_DIR) {
			uint32_t *s = map_at(&hl, n->hardlink);
			if (!*s)
				*s = next++;
			ino = *s;
		} else {
			ino = next++;
		}
		*map_at(&w->ino_of, pkey(n)) = ino;
	}
	free(hl.v);
	w->last_ino = next - 1;
	w->nlink = xcalloc(next + 1, sizeof(*w->nlink));
	w->done = xcalloc(next + 1, 1);
	w->isdir = xcalloc(next + 1, 1);
	w->isdir[LF_INO] = 1;
	w->nlink[EXT2_ROOT_INO] = 2;
	w->nlink[LF_INO] = 2;
	for (size_t i = 0; i < w->nnodes; i++) {
		struct tree_node *n = w->nodes[i];
		uint32_t ino = ino_of(w, n);
		if (n->type == TREE_DIR) {
			w->isdir[ino] = 1;
			if (n->parent) {
				w->nlink[ino] = 2;
				w->nlink[ino_of(w, n->parent)]++;
			}
		} else {
			w->nlink[ino]++;
		}
	}
	if (!w->lf)
		w->nlink[EXT2_ROOT_INO]++;
	for (ext2_ino_t i = 1; i <= w->last_ino; i++) {
		if (w->nlink[i] < EXT2_LINK_MAX)
			continue;
		/* dir_nlink: a directory with too many subdirectories counts 1 */
		int dir = 0;
		for (size_t k = 0; k < w->nnodes && !dir; k++)
			dir = ino_of(w, w->nodes[k]) == i && w->nodes[k]->type == TREE_DIR;
		if (!dir || w->o->ext2)
			return err_set(w->e, CRUMB_EUNSUPP, "inode %u: more than %d links", i,
				       EXT2_LINK_MAX - 1);
		w->nlink[i] = 1;
	}
	return 0;
}

/* The parameters ext2fs_initialize gets: geometry and features (see the top of this file). */
static void super_params(struct ext2_super_block *p, const struct ext4_opts *o, uint64_t blocks,
			 uint64_t inodes)
{
	memset(p, 0, sizeof(*p));
	ext2fs_blocks_count_set(p, blocks);
	p->s_inodes_count = (__u32)inodes;
	p->s_log_block_size = LOG_BS;
	p->s_rev_level = EXT2_DYNAMIC_REV;
	p->s_inode_size = INODE_SIZE;
	p->s_first_ino = EXT2_GOOD_OLD_FIRST_INO;
	p->s_feature_compat = EXT2_FEATURE_COMPAT_EXT_ATTR | EXT2_FEATURE_COMPAT_DIR_INDEX;
	p->s_feature_incompat = EXT2_FEATURE_INCOMPAT_FILETYPE;
	p->s_feature_ro_compat =
	    EXT2_FEATURE_RO_COMPAT_SPARSE_SUPER | EXT2_FEATURE_RO_COMPAT_LARGE_FILE;
	if (!o->ext2) {
		p->s_feature_incompat |= EXT3_FEATURE_INCOMPAT_EXTENTS |
					 EXT4_FEATURE_INCOMPAT_FLEX_BG |
					 EXT4_FEATURE_INCOMPAT_CSUM_SEED;
		p->s_feature_ro_compat |=
		    EXT4_FEATURE_RO_COMPAT_HUGE_FILE | EXT4_FEATURE_RO_COMPAT_DIR_NLINK |
		    EXT4_FEATURE_RO_COMPAT_EXTRA_ISIZE | EXT4_FEATURE_RO_COMPAT_METADATA_CSUM;
		p->s_log_groups_per_flex = 4;
	}
	p->s_max_mnt_count = (__u16)-1;
	p->s_errors = EXT2_ERRORS_CONTINUE;
	p->s_flags = EXT2_FLAGS_SIGNED_HASH;
}

/* Makes the empty filesystem in tmp (w->fs) and sets what reads no clock. */
static int fs_create(struct writer *w, const char *tmp, uint64_t blocks, uint64_t inodes)
{
	const struct ext4_opts *o = w->o;
	struct ext2_super_block p;
	super_params(&p, o, blocks, inodes);
	errcode_t err = ext2fs_initialize(tmp, EXT2_FLAG_64BITS, &p, unix_io_manager, &w->fs);
	if (err)
		return err_set(w->e, err == EXT2_ET_TOOSMALL ? CRUMB_EINVAL : CRUMB_EIO,
			       "cannot make a %llu-byte image: %s", (unsigned long long)blocks * BS,
			       error_message(err));
	ext2_filsys fs = w->fs;
	struct ext2_super_block *sb = fs->super;
	/* no clock: 1 << 32 reads as "set" to libext2fs and as epoch 0 in 32-bit fields */
	fs->now = (uint32_t)o->epoch ? (time_t)(uint32_t)o->epoch : (time_t)1 << 32;
	sb->s_mkfs_time = sb->s_lastcheck = sb->s_wtime = (__u32)o->epoch;
	sb->s_mkfs_time_hi = sb->s_lastcheck_hi = sb->s_wtime_hi = (__u8)((uint64_t)o->epoch >> 32);
	sb->s_mtime = 0;
	sb->s_checkinterval = 0;
	sb->s_flags = EXT2_FLAGS_SIGNED_HASH;
	sb->s_def_hash_version = EXT2_HASH_HALF_MD4;
	sb->s_default_mount_opts = EXT2_DEFM_XATTR_USER | EXT2_DEFM_ACL;
	sb->s_r_blocks_count = 0;
	if (o->label)
		strncpy((char *)sb->s_volume_name, o->label, sizeof(sb->s_volume_name));
	w->csum = ext2fs_has_feature_metadata_csum(sb);
	if (inodes && sb->s_inodes_count < w->last_ino)
		return err_set(w->e, CRUMB_EINVAL, "the tree needs %u inodes, the image has %u",
			       w->last_ino, sb->s_inodes_count);
	return 0;
}

/* The seeds (directory hash, checksums, a provisional UUID) from the metadata digest, which
 * goes to md (mdlen bytes). */
static void fs_seed(struct writer *w, unsigned char *md, unsigned *mdlen)
{
	struct ext2_super_block *sb = w->fs->super;
	EVP_MD_CTX *meta = EVP_MD_CTX_new();
	EVP_DigestInit_ex(meta, EVP_sha256(), NULL);
	digest_meta(meta, w);
	EVP_DigestFinal_ex(meta, md, mdlen);
	EVP_MD_CTX_free(meta);
	for (int i = 0; i < 4; i++)
		w->hash_seed[i] = (__u32)md[16 + 4 * i] | (__u32)md[17 + 4 * i] << 8 |
				  (__u32)md[18 + 4 * i] << 16 | (__u32)md[19 + 4 * i] << 24;
	memcpy(sb->s_hash_seed, w->hash_seed, sizeof(sb->s_hash_seed));
	if (w->csum) {
		sb->s_checksum_seed = ext2fs_crc32c_le(~0U, md, 16);
		sb->s_checksum_type = EXT2_CRC32C_CHKSUM;
	}
	memcpy(sb->s_uuid, md, 16); /* provisional; replaced at the end */
	ext2fs_init_csum_seed(w->fs);
}

/* Group tables, the reserved inodes, every inode the tree uses, and the block cursor. */
static int fs_tables(struct writer *w)
{
	ext2_filsys fs = w->fs;
	struct ext2_super_block *sb = fs->super;
	errcode_t err;
	if ((err = ext2fs_allocate_tables(fs)))
		return fail(w, err, NULL, "allocating group tables");
	/* the image file starts all zeros: inode tables are zeroed already */
	for (dgrp_t g = 0; g < fs->group_desc_count; g++) {
		ext2fs_bg_flags_set(fs, g, EXT2_BG_INODE_ZEROED);
		ext2fs_group_desc_csum_set(fs, g);
	}
	/* reserved inodes 1..10 (mke2fs does the same), the bad block inode empty */
	for (ext2_ino_t i = 1; i < EXT2_FIRST_INODE(sb); i++)
		ext2fs_inode_alloc_stats2(fs, i, +1, i == EXT2_ROOT_INO);
	if ((err = ext2fs_update_bb_inode(fs, NULL)))
		return fail(w, err, NULL, "writing the bad block inode");
	for (ext2_ino_t i = LF_INO; i <= w->last_ino; i++)
		ext2fs_inode_alloc_stats2(fs, i, +1, w->isdir[i]);
	if ((err = ext2fs_find_first_zero_block_bitmap2(fs->block_map, sb->s_first_data_block,
							ext2fs_blocks_count(sb) - 1, &w->cursor)))
		return fail(w, EXT2_ET_BLOCK_ALLOC_FAIL, NULL, "allocating blocks");
	return 0;
}

/* Starts writing inode ino: marks it done, no blocks mapped yet. */
static void inode_begin(struct writer *w, ext2_ino_t ino)
{
	w->done[ino] = 1;
	w->nruns = 0;
	w->nblocks = 0;
}

/* Writes node n as inode ino, its xattrs included. */
static int write_node(struct writer *w, ext2_ino_t ino, const struct tree_node *n)
{
	int r;
	inode_begin(w, ino);
	switch (n->type) {
	case TREE_DIR:
		r = write_dir(w, ino, n, !n->parent && !w->lf);
		break;
	case TREE_REG:
		r = write_reg(w, ino, n);
		break;
	case TREE_LNK:
		r = write_symlink(w, ino, n);
		break;
	default:
		r = write_special(w, ino, n);
		break;
	}
	return r ? r : write_xattrs(w, ino, n);
}

/* Writes every inode in walk order, each hard-linked one once. */
static int write_nodes(struct writer *w)
{
	int r = 0;
	for (size_t i = 0; i < w->nnodes && !r; i++) {
		struct tree_node *n = w->nodes[i];
		ext2_ino_t ino = ino_of(w, n);
		if (w->done[ino])
			continue;
		r = write_node(w, ino, n);
		/* lost+found goes right after the root, whether synthesized or the
		 * tree's own (read back from an image): the same tree, with or
		 * without it, gets the same allocation. */
		if (!r && !n->parent) {
			inode_begin(w, LF_INO);
			r = write_dir(w, LF_INO, w->lf, 0);
			if (!r && w->lf)
				r = write_xattrs(w, LF_INO, w->lf);
		}
	}
	return r;
}

/* The final UUID: from the metadata digest md and the content digest. */
static void fs_uuid(struct writer *w, const unsigned char *md, unsigned mdlen)
{
	ext2_filsys fs = w->fs;
	unsigned char cd[EVP_MAX_MD_SIZE], fin[EVP_MAX_MD_SIZE];
	unsigned cdlen, finlen;
	EVP_DigestFinal_ex(w->content, cd, &cdlen);
	EVP_MD_CTX *u = EVP_MD_CTX_new();
	EVP_DigestInit_ex(u, EVP_sha256(), NULL);
	EVP_DigestUpdate(u, md, mdlen);
	EVP_DigestUpdate(u, cd, cdlen);
	EVP_DigestFinal_ex(u, fin, &finlen);
	EVP_MD_CTX_free(u);
	fin[6] = (fin[6] & 0x0f) | 0x40; /* RFC 4122 version 4, variant 1 */
	fin[8] = (fin[8] & 0x3f) | 0x80;
	memcpy(fs->super->s_uuid, fin, 16);
	if (!w->csum) /* without a checksum seed, group checksums hang on the UUID */
		for (dgrp_t g = 0; g < fs->group_desc_count; g++)
			ext2fs_group_desc_csum_set(fs, g);
}

/* ext4's journal, in the blocks after the content, its inode's times the epoch. */
static int add_journal(struct writer *w)
{
	ext2_filsys fs = w->fs;
	struct ext2_super_block *sb = fs->super;
	struct ext2fs_journal_params jp = {0};
	int jb = ext2fs_default_journal_size(ext2fs_blocks_count(sb));
	if (jb < 0 && !w->o->size) /* an automatic size always has room for 4 MiB */
		jb = 1024;
	if (jb <= 0)
		return 0;
	uint64_t fb = ext2fs_free_blocks_count(sb);
	jp.num_journal_blocks = (blk_t)jb;
	if (fb < (uint64_t)jb + 16) /* a given size too small for the default journal */
		jp.num_journal_blocks = fb > 1024 + 16 ? (blk_t)(fb - 16) : 0;
	if (jp.num_journal_blocks < 1024)
		return err_set(w->e, CRUMB_EINVAL,
			       "the image is full (%llu MiB): no room for the journal; "
			       "give a larger --size",
			       (unsigned long long)(ext2fs_blocks_count(sb) * BS >> 20));
	errcode_t err = ext2fs_add_journal_inode3(
	    fs, &jp, w->cursor, EXT2_MKJOURNAL_LAZYINIT | EXT2_MKJOURNAL_NO_MNT_CHECK);
	if (err)
		return fail(w, err, NULL, "adding the journal");
	struct ext2_inode_large in;
	err = ext2fs_read_inode_full(fs, EXT2_JOURNAL_INO, (struct ext2_inode *)&in, sizeof(in));
	if (!err) {
		times_set(&in, w->o->epoch);
		err = ext2fs_write_inode_full(fs, EXT2_JOURNAL_INO, (struct ext2_inode *)&in,
					      sizeof(in));
	}
	return err ? fail(w, err, NULL, "writing the journal inode") : 0;
}

static int build(struct writer *w, const char *tmp, uint64_t blocks, uint64_t inodes)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen;
	int r = fs_create(w, tmp, blocks, inodes);
	if (r)
		return r;
	/* seeds from the metadata digest (content digest comes later, for the UUID) */
	fs_seed(w, md, &mdlen);
	if ((r = fs_tables(w)) || (r = write_nodes(w)))
		return r;
	fs_uuid(w, md, mdlen);
	if (!w->o->ext2 && (r = add_journal(w)))
		return r;
	w->fs->super->s_wtime = (__u32)w->o->epoch;
	return 0;
}

/* The image's size in blocks and its inode count: given or automatic, checked against what the
 * tree needs. */
static int image_geometry(struct writer *w, uint64_t *blocksp, uint64_t *inodesp)
{
	const struct ext4_opts *o = w->o;
	struct est s;
	estimate(w->t, o, &s);
	uint64_t inodes = o->inodes ? o->inodes : auto_inodes(s.inodes);
	if (inodes < w->last_ino)
		return err_set(w->e, CRUMB_EINVAL, "the tree needs %u inodes, --inodes gives %llu",
			       w->last_ino, (unsigned long long)inodes);
	uint64_t size = o->size ? o->size : ext4_auto_size(w->t, o);
	uint64_t blocks = size / BS;
	if (inodes > 0xffffffffULL || blocks > 0xffffffffULL)
		return err_set(w->e, CRUMB_EUNSUPP, "image too large (%llu bytes, %llu inodes)",
			       (unsigned long long)size, (unsigned long long)inodes);
	uint64_t need = s.blocks + meta_blocks(blocks, inodes, 1) - 64;
	if (blocks < need)
		return err_set(w->e, CRUMB_EINVAL,
			       "the tree does not fit in %llu bytes: it needs about %llu MiB",
			       (unsigned long long)size,
			       (unsigned long long)((need * BS + (1 << 20) - 1) >> 20));
	*blocksp = blocks;
	*inodesp = inodes;
	return 0;
}

/* Creates the empty (sparse) image file next to out_path, blocks long, with the umask's mode;
 * *tmpp (malloc'd) is its name, left NULL when it could not be created. */
static int image_file(struct err *e, const char *out_path, uint64_t blocks, char **tmpp)
{
	char *tmp = xasprintf("%s.tmp.XXXXXX", out_path);
	int fd = mkstemp(tmp), r = 0;
	if (fd < 0) {
		r = err_errno(e, CRUMB_EIO, "create %s", tmp);
		free(tmp);
		return r;
	}
	*tmpp = tmp;
	mode_t um = umask(0);
	umask(um);
	if (fchmod(fd, 0666 & ~um) < 0 || ftruncate(fd, (off_t)(blocks * BS)) < 0)
		r = err_errno(e, CRUMB_EIO, "%s", tmp);
	close(fd);
	return r;
}

/* Writes the image into tmp, then closes (flushes) or drops w->fs. */
static int image_build(struct writer *w, const char *tmp, uint64_t blocks, uint64_t inodes)
{
	w->buf = xmalloc((size_t)CHUNK_BLOCKS * BS);
	w->content = EVP_MD_CTX_new();
	EVP_DigestInit_ex(w->content, EVP_sha256(), NULL);
	int r = build(w, tmp, blocks, inodes);
	if (w->fs) {
		errcode_t err = 0;
		if (!r) {
			err = ext2fs_close_free(&w->fs);
			if (err)
				r = err_set(w->e, CRUMB_EIO, "write %s: %s", tmp,
					    error_message(err));
		} else {
			ext2fs_free(w->fs);
		}
		w->fs = NULL;
	}
	return r;
}

int ext4_write(struct tree *t, const char *out_path, const struct ext4_opts *o, struct err *e)
{
	struct writer w = {.o = o, .e = e, .t = t};
	uint64_t blocks = 0, inodes = 0;
	char *tmp = NULL;
	int r;

	ext4io_errors_init(); /* so error_message() knows libext2fs's codes */
	if (!t->root || t->root->type != TREE_DIR)
		return err_set(e, CRUMB_EINVAL, "the tree has no root directory");
	if (o->label && strlen(o->label) > 16)
		return err_set(e, CRUMB_EINVAL, "label '%s' is longer than 16 bytes", o->label);
	tree_walk(t, collect, &w);
	for (size_t i = 0; i < t->root->nkids; i++)
		if (!strcmp(t->root->kids[i]->name, "lost+found") &&
		    t->root->kids[i]->type == TREE_DIR)
			w.lf = t->root->kids[i];
	if (!(r = assign_inodes(&w)) && !(r = image_geometry(&w, &blocks, &inodes)) &&
	    !(r = image_file(e, out_path, blocks, &tmp)) &&
	    !(r = image_build(&w, tmp, blocks, inodes)) && rename(tmp, out_path) < 0)
		r = err_errno(e, CRUMB_EIO, "rename %s to %s", tmp, out_path);
	if (tmp && r)
		unlink(tmp);
	free(tmp);
	if (w.content)
		EVP_MD_CTX_free(w.content);
	free(w.buf);
	free(w.nodes);
	free(w.ino_of.v);
	free(w.nlink);
	free(w.done);
	free(w.isdir);
	free(w.runs);
	return r;
}

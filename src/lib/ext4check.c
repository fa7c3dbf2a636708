/* ext4check.c: ext4fs_fsck, crumb's own read-only consistency check of an ext2/3/4 image. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <et/com_err.h>

#include "ext4fs_int.h"

/*
 * Everything on disk is untrusted: the check reads inodes through
 * libext2fs's inode scan, but parses extent trees, directory blocks,
 * htree indexes, xattrs and the journal superblock itself, from buffers
 * of known length, through the bounds-checked get16/get32 below. Checksum
 * errors are reported and the check goes on (libext2fs is told to ignore
 * them while it runs), so a damaged block gets a message naming what is
 * wrong in it rather than only "checksum".
 *
 * Passes: (1) every inode: type, sizes, extra_isize, in-inode and block
 * xattrs, extent trees / block maps (each block marked once in `found`;
 * a second claim is a problem), symlinks; (2) every directory's blocks:
 * entries, '.', '..', file types, duplicate names, htree indexes; (3) the
 * directory tree: each directory named once, '..' pointing back, every
 * directory reachable from the root; (4) link counts; (5) bitmaps and free
 * counts against what the inodes claim; plus the journal superblock.
 */

#define LINKS_MAX 65000
/* Problems past this many are counted, not listed, so a wrecked image gives a bounded report. */
#define FSCK_MAX_LINES 50
#define MAX_DEPTH_EXT 5

static uint16_t get16(const uint8_t *b, size_t len, size_t off)
{
	return off + 2 <= len ? (uint16_t)(b[off] | b[off + 1] << 8) : 0;
}

static uint32_t get32(const uint8_t *b, size_t len, size_t off)
{
	return off + 4 <= len ? (uint32_t)b[off] | (uint32_t)b[off + 1] << 8 |
				    (uint32_t)b[off + 2] << 16 | (uint32_t)b[off + 3] << 24
			      : 0;
}

static uint32_t get32be(const uint8_t *b, size_t len, size_t off)
{
	return off + 4 <= len ? (uint32_t)b[off] << 24 | (uint32_t)b[off + 1] << 16 |
				    (uint32_t)b[off + 2] << 8 | (uint32_t)b[off + 3]
			      : 0;
}

/* ---- feature names ---- */

static const struct {
	int word; /* 0 compat, 1 incompat, 2 ro_compat */
	uint32_t bit;
	const char *name;
} features[] = {
    {0, EXT2_FEATURE_COMPAT_DIR_PREALLOC, "dir_prealloc"},
    {0, EXT2_FEATURE_COMPAT_IMAGIC_INODES, "imagic_inodes"},
    {0, EXT3_FEATURE_COMPAT_HAS_JOURNAL, "has_journal"},
    {0, EXT2_FEATURE_COMPAT_EXT_ATTR, "ext_attr"},
    {0, EXT2_FEATURE_COMPAT_RESIZE_INODE, "resize_inode"},
    {0, EXT2_FEATURE_COMPAT_DIR_INDEX, "dir_index"},
    {0, EXT2_FEATURE_COMPAT_LAZY_BG, "lazy_bg"},
    {0, EXT2_FEATURE_COMPAT_EXCLUDE_BITMAP, "snapshot_bitmap"},
    {0, EXT4_FEATURE_COMPAT_SPARSE_SUPER2, "sparse_super2"},
    {0, EXT4_FEATURE_COMPAT_FAST_COMMIT, "fast_commit"},
    {0, EXT4_FEATURE_COMPAT_STABLE_INODES, "stable_inodes"},
    {0, EXT4_FEATURE_COMPAT_ORPHAN_FILE, "orphan_file"},
    {1, EXT2_FEATURE_INCOMPAT_COMPRESSION, "compression"},
    {1, EXT2_FEATURE_INCOMPAT_FILETYPE, "filetype"},
    {1, EXT3_FEATURE_INCOMPAT_RECOVER, "needs_recovery"},
    {1, EXT3_FEATURE_INCOMPAT_JOURNAL_DEV, "journal_dev"},
    {1, EXT2_FEATURE_INCOMPAT_META_BG, "meta_bg"},
    {1, EXT3_FEATURE_INCOMPAT_EXTENTS, "extent"},
    {1, EXT4_FEATURE_INCOMPAT_64BIT, "64bit"},
    {1, EXT4_FEATURE_INCOMPAT_MMP, "mmp"},
    {1, EXT4_FEATURE_INCOMPAT_FLEX_BG, "flex_bg"},
    {1, EXT4_FEATURE_INCOMPAT_EA_INODE, "ea_inode"},
    {1, EXT4_FEATURE_INCOMPAT_DIRDATA, "dirdata"},
    {1, EXT4_FEATURE_INCOMPAT_CSUM_SEED, "metadata_csum_seed"},
    {1, EXT4_FEATURE_INCOMPAT_LARGEDIR, "large_dir"},
    {1, EXT4_FEATURE_INCOMPAT_INLINE_DATA, "inline_data"},
    {1, EXT4_FEATURE_INCOMPAT_ENCRYPT, "encrypt"},
    {1, EXT4_FEATURE_INCOMPAT_CASEFOLD, "casefold"},
    {2, EXT2_FEATURE_RO_COMPAT_SPARSE_SUPER, "sparse_super"},
    {2, EXT2_FEATURE_RO_COMPAT_LARGE_FILE, "large_file"},
    {2, EXT4_FEATURE_RO_COMPAT_HUGE_FILE, "huge_file"},
    {2, EXT4_FEATURE_RO_COMPAT_GDT_CSUM, "uninit_bg"},
    {2, EXT4_FEATURE_RO_COMPAT_DIR_NLINK, "dir_nlink"},
    {2, EXT4_FEATURE_RO_COMPAT_EXTRA_ISIZE, "extra_isize"},
    {2, EXT4_FEATURE_RO_COMPAT_HAS_SNAPSHOT, "snapshot"},
    {2, EXT4_FEATURE_RO_COMPAT_QUOTA, "quota"},
    {2, EXT4_FEATURE_RO_COMPAT_BIGALLOC, "bigalloc"},
    {2, EXT4_FEATURE_RO_COMPAT_METADATA_CSUM, "metadata_csum"},
    {2, EXT4_FEATURE_RO_COMPAT_REPLICA, "replica"},
    {2, EXT4_FEATURE_RO_COMPAT_READONLY, "read-only"},
    {2, EXT4_FEATURE_RO_COMPAT_PROJECT, "project"},
    {2, EXT4_FEATURE_RO_COMPAT_SHARED_BLOCKS, "shared_blocks"},
    {2, EXT4_FEATURE_RO_COMPAT_VERITY, "verity"},
    {2, EXT4_FEATURE_RO_COMPAT_ORPHAN_PRESENT, "orphan_present"},
};

void ext4fs_feature_names(uint32_t compat, uint32_t incompat, uint32_t ro_compat, struct sbuf *out)
{
	uint32_t w[3] = {compat, incompat, ro_compat};
	for (int k = 0; k < 3; k++)
		for (int bit = 0; bit < 32; bit++) {
			uint32_t m = 1u << bit;
			if (!(w[k] & m))
				continue;
			const char *name = NULL;
			for (size_t i = 0; i < sizeof(features) / sizeof(features[0]); i++)
				if (features[i].word == k && features[i].bit == m)
					name = features[i].name;
			if (out->len)
				sb_addc(out, ' ');
			if (name)
				sb_adds(out, name);
			else
				sb_addf(out, "FEATURE_%c%d", "CIR"[k], bit);
		}
}

/*
 * Features whose on-disk state this check verifies in full. Anything else
 * makes ext4fs_fsck return CRUMB_EUNSUPP naming it (after checking the
 * rest): quota usage, orphan files, encryption, verity, shared blocks and
 * the like are not looked at here.
 */
#define CHECKED_COMPAT                                                                             \
	(EXT2_FEATURE_COMPAT_DIR_PREALLOC | EXT3_FEATURE_COMPAT_HAS_JOURNAL |                      \
	 EXT2_FEATURE_COMPAT_EXT_ATTR | EXT2_FEATURE_COMPAT_RESIZE_INODE |                         \
	 EXT2_FEATURE_COMPAT_DIR_INDEX | EXT2_FEATURE_COMPAT_LAZY_BG |                             \
	 EXT4_FEATURE_COMPAT_SPARSE_SUPER2 | EXT4_FEATURE_COMPAT_STABLE_INODES)
#define CHECKED_INCOMPAT                                                                           \
	(EXT2_FEATURE_INCOMPAT_FILETYPE | EXT3_FEATURE_INCOMPAT_RECOVER |                          \
	 EXT2_FEATURE_INCOMPAT_META_BG | EXT3_FEATURE_INCOMPAT_EXTENTS |                           \
	 EXT4_FEATURE_INCOMPAT_64BIT | EXT4_FEATURE_INCOMPAT_FLEX_BG |                             \
	 EXT4_FEATURE_INCOMPAT_CSUM_SEED | EXT4_FEATURE_INCOMPAT_LARGEDIR |                        \
	 EXT4_FEATURE_INCOMPAT_INLINE_DATA)
#define CHECKED_RO_COMPAT                                                                          \
	(EXT2_FEATURE_RO_COMPAT_SPARSE_SUPER | EXT2_FEATURE_RO_COMPAT_LARGE_FILE |                 \
	 EXT4_FEATURE_RO_COMPAT_HUGE_FILE | EXT4_FEATURE_RO_COMPAT_GDT_CSUM |                      \
	 EXT4_FEATURE_RO_COMPAT_DIR_NLINK | EXT4_FEATURE_RO_COMPAT_EXTRA_ISIZE |                   \
	 EXT4_FEATURE_RO_COMPAT_METADATA_CSUM | EXT4_FEATURE_RO_COMPAT_READONLY |                  \
	 EXT4_FEATURE_RO_COMPAT_PROJECT)

/* ---- the check's state ---- */

struct dblk {
	ext2_ino_t ino;
	uint32_t lblk;
	blk64_t pblk;
};

struct eablk {
	blk64_t blk;
	uint32_t refcount, seen;
};

/* The names seen in one directory, to find duplicates: open addressing into a pool. */
struct name_slot {
	uint32_t h, off; /* off 0: empty */
};
struct names {
	struct name_slot *v;
	size_t cap, n;
	struct sbuf pool;
};

struct fsck {
	struct ext4fs *fs;
	ext2_filsys efs;
	struct ext2_super_block *s;
	struct sbuf *report;
	unsigned problems, lines;
	uint32_t bs, ninodes;
	blk64_t nblocks;
	int csum;
	ext2fs_block_bitmap found;
	/* per inode, indexed by inode number */
	uint8_t *ftype; /* 0: not in use; else the EXT2_FT_* its mode gives */
	uint16_t *nlink;
	uint32_t *refs;	  /* directory entries naming it, '.' and '..' included */
	uint32_t *named;  /* for directories: entries naming it other than '.' and '..' */
	uint32_t *parent; /* for directories: the directory whose entry names it first */
	uint32_t *dotdot; /* for directories: what its '..' says */
	/* directory blocks met in pass 1, in inode then logical order */
	struct dblk *dblk;
	size_t ndblk, adblk;
	int dir_blocks;	   /* collecting dblk for the inode being walked */
	int dblk_unsorted; /* inodes were not met in order */
	/* xattr blocks met so far, open addressing on blk */
	struct eablk *ea;
	size_t eacap, nea;
	struct names names;
	/* the inode being walked */
	ext2_ino_t ino;
	uint64_t counted;	 /* blocks it owns (data, tree, xattr) */
	int64_t last, last_init; /* highest logical block mapped / initialized; -1: none */
	int dups, bad;
	uint8_t *buf[MAX_DEPTH_EXT + 2];
};

__attribute__((format(printf, 2, 3))) static void problem(struct fsck *c, const char *fmt, ...)
{
	va_list ap;
	c->problems++;
	if (c->lines++ >= FSCK_MAX_LINES)
		return;
	va_start(ap, fmt);
	sb_vaddf(c->report, fmt, ap);
	va_end(ap);
	sb_addc(c->report, '\n');
}

/* A name from the image, printable: at most 64 bytes, others as \xNN. */
static const char *shown(const uint8_t *name, size_t len, char out[300])
{
	size_t o = 0;
	for (size_t i = 0; i < len && i < 64; i++) {
		if (name[i] >= 32 && name[i] < 127 && name[i] != '\\' && name[i] != '\'')
			out[o++] = (char)name[i];
		else
			o += (size_t)snprintf(out + o, 5, "\\x%02x", name[i]);
	}
	if (len > 64) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = 0;
	return out;
}

static int read_blk(struct fsck *c, blk64_t b, uint8_t *buf)
{
	if (b < c->s->s_first_data_block || b >= c->nblocks)
		return -1;
	return io_channel_read_blk64(c->efs->io, b, 1, buf) ? -1 : 0;
}

/* Marks [b, b+n) as owned; a block owned twice is one problem per inode (counted). */
static void claim(struct fsck *c, blk64_t b, blk64_t n, const char *what)
{
	if (b < c->s->s_first_data_block || b >= c->nblocks || n > c->nblocks - b) {
		problem(c, "inode %u: %s block %llu%s out of range", c->ino, what,
			(unsigned long long)b, n > 1 ? " (and after)" : "");
		c->bad++;
		return;
	}
	if (ext2fs_test_block_bitmap_range2(c->found, b, (unsigned)n)) {
		ext2fs_mark_block_bitmap_range2(c->found, b, (unsigned)n);
		return;
	}
	for (blk64_t i = b; i < b + n; i++) {
		if (!ext2fs_test_block_bitmap2(c->found, i)) {
			ext2fs_mark_block_bitmap2(c->found, i);
			continue;
		}
		if (c->dups++ < 4)
			problem(c, "block %llu claimed twice (inode %u, %s)", (unsigned long long)i,
				c->ino, what);
		else
			c->problems++;
	}
}

static void add_dblk(struct fsck *c, uint64_t lblk, blk64_t pblk, uint64_t n)
{
	for (uint64_t i = 0; i < n && c->dir_blocks; i++) {
		if (c->ndblk == c->adblk) {
			c->adblk = c->adblk ? c->adblk * 2 : 256;
			c->dblk = xrealloc(c->dblk, c->adblk * sizeof(*c->dblk));
		}
		c->dblk[c->ndblk++] = (struct dblk){c->ino, (uint32_t)(lblk + i), pblk + i};
	}
}

/* ---- extent trees ---- */

/* Walks one extent node of len bytes; lo..hi (exclusive) is the logical range its parent gives. */
static void walk_node(struct fsck *c, const uint8_t *n, size_t len, int depth, int level,
		      uint64_t lo, uint64_t hi, blk64_t at)
{
	uint16_t magic = get16(n, len, 0), entries = get16(n, len, 2), max = get16(n, len, 4),
		 d = get16(n, len, 6);
	size_t room = (len - 12) / 12;
	char where[64];
	if (at)
		snprintf(where, sizeof(where), "extent block %llu", (unsigned long long)at);
	else
		snprintf(where, sizeof(where), "extent header in the inode");
	if (magic != 0xf30a) {
		problem(c, "inode %u: %s: bad magic 0x%04x (a zeroed or overwritten header)",
			c->ino, where, magic);
		c->bad++;
		return;
	}
	if (max > room || (size_t)max + 2 < room || entries > max) {
		problem(c, "inode %u: %s: %u entries, max %u (room for %zu)", c->ino, where,
			entries, max, room);
		c->bad++;
		return;
	}
	if (d != depth || d > MAX_DEPTH_EXT) {
		problem(c, "inode %u: %s: depth %u, want %d", c->ino, where, d, depth);
		c->bad++;
		return;
	}
	if (at && c->csum && !ext2fs_extent_block_csum_verify(c->efs, c->ino, (void *)n))
		problem(c, "inode %u: %s: checksum mismatch", c->ino, where);
	uint64_t prev_end = lo;
	for (unsigned i = 0; i < entries && c->bad < 8; i++) {
		size_t o = 12 + 12 * (size_t)i;
		uint64_t lblk = get32(n, len, o);
		uint64_t next = i + 1 < entries ? get32(n, len, o + 12) : hi;
		if (i == 0 && at && lblk != lo) {
			problem(c, "inode %u: %s starts at logical block %llu, its index says %llu",
				c->ino, where, (unsigned long long)lblk, (unsigned long long)lo);
			c->bad++;
		}
		if (lblk < prev_end || lblk >= hi || next > hi ||
		    (i + 1 < entries && next <= lblk)) {
			problem(c, "inode %u: %s: entry %u (logical block %llu) out of order",
				c->ino, where, i, (unsigned long long)lblk);
			c->bad++;
			return;
		}
		if (d > 0) {
			blk64_t child = get32(n, len, o + 4) | (blk64_t)get16(n, len, o + 8) << 32;
			int before = c->dups + c->bad;
			claim(c, child, 1, "extent tree");
			c->counted++;
			if (c->dups + c->bad != before || read_blk(c, child, c->buf[level + 1]) < 0)
				continue; /* not walked twice: a shared node would be counted again
					   */
			walk_node(c, c->buf[level + 1], c->bs, d - 1, level + 1, lblk, next, child);
			prev_end = next;
			continue;
		}
		uint32_t elen = get16(n, len, o + 4);
		int uninit = elen > 32768;
		if (uninit)
			elen -= 32768;
		blk64_t pblk = get32(n, len, o + 8) | (blk64_t)get16(n, len, o + 6) << 32;
		if (elen == 0) {
			problem(c, "inode %u: %s: extent at logical block %llu has length 0",
				c->ino, where, (unsigned long long)lblk);
			c->bad++;
			continue;
		}
		if (lblk + elen > hi) {
			problem(c, "inode %u: %s: extent at logical block %llu runs past %llu",
				c->ino, where, (unsigned long long)lblk, (unsigned long long)hi);
			c->bad++;
		}
		int before = c->dups + c->bad;
		claim(c, pblk, elen, "data");
		c->counted += elen;
		if ((int64_t)(lblk + elen - 1) > c->last)
			c->last = (int64_t)(lblk + elen - 1);
		if (!uninit && (int64_t)(lblk + elen - 1) > c->last_init)
			c->last_init = (int64_t)(lblk + elen - 1);
		if (!uninit && c->dups + c->bad == before) /* each block read once in pass 2 */
			add_dblk(c, lblk, pblk, elen);
		prev_end = lblk + elen;
	}
}

static int blk_cb(ext2_filsys efs, blk64_t *blocknr, e2_blkcnt_t blockcnt, blk64_t ref, int refoff,
		  void *priv)
{
	struct fsck *c = priv;
	int before = c->dups + c->bad;
	claim(c, *blocknr, 1, blockcnt < 0 ? "indirect" : "data");
	c->counted++;
	if (blockcnt >= 0) {
		if (blockcnt > c->last)
			c->last = c->last_init = blockcnt;
		if (c->dups + c->bad == before)
			add_dblk(c, (uint64_t)blockcnt, *blocknr, 1);
	}
	return c->bad > 16 || c->dups > 64 ? BLOCK_ABORT : 0;
}

/* ---- xattrs ---- */

/* Checks the xattr entries in buf[start..len): values at base + e_value_offs. */
static void check_xattrs(struct fsck *c, const uint8_t *buf, size_t len, size_t start, size_t base,
			 const char *where, int inode_part)
{
	size_t o = start;
	/* regions in use, to find overlaps: entries first, then each value */
	size_t reg[2 * 512], nreg = 0;
	for (unsigned i = 0;; i++) {
		if (o + 4 > len) {
			problem(c, "inode %u: %s: the entry list runs off the end", c->ino, where);
			return;
		}
		if (get32(buf, len, o) == 0)
			break;
		uint8_t nlen = buf[o];
		uint16_t voff = get16(buf, len, o + 2);
		uint32_t vino = get32(buf, len, o + 4), vsize = get32(buf, len, o + 8),
			 hash = get32(buf, len, o + 12);
		size_t elen = (16 + (size_t)nlen + 3) & ~(size_t)3;
		if (nlen == 0 || o + elen + 4 > len) {
			problem(c, "inode %u: %s: entry %u has a bad name length (%u)", c->ino,
				where, i, nlen);
			return;
		}
		if (memchr(buf + o + 16, 0, nlen))
			problem(c, "inode %u: %s: entry %u has a name of length %u holding a NUL",
				c->ino, where, i, nlen);
		if (vino) {
			if (!ext2fs_has_feature_ea_inode(c->s))
				problem(c, "inode %u: %s: entry %u keeps its value in inode %u",
					c->ino, where, i, vino);
		} else if (vsize) {
			size_t vo = base + voff;
			size_t vend = vo + (((size_t)vsize + 3) & ~(size_t)3);
			if (vsize > len || vo > len || vend > len || vo < start) {
				problem(c,
					"inode %u: %s: value of entry %u (offset %u, size %u) lies "
					"outside the %s",
					c->ino, where, i, voff, vsize,
					inode_part ? "inode" : "block");
				return;
			}
			if (nreg < 2 * 511) {
				reg[nreg++] = vo;
				reg[nreg++] = vend;
			}
		}
		if (!vino && (hash || !inode_part)) {
			uint8_t ent[16 + 256];
			memcpy(ent, buf + o, 16 + (size_t)nlen);
			/* the value's range was checked above */
			void *val = vsize ? (void *)(buf + base + voff) : NULL;
			uint32_t h1 = ext2fs_ext_attr_hash_entry((void *)ent, val);
			uint32_t h2 = ext2fs_ext_attr_hash_entry_signed((void *)ent, val);
			if (hash != h1 && hash != h2)
				problem(c, "inode %u: %s: entry %u hash 0x%08x, want 0x%08x",
					c->ino, where, i, hash, h1);
		}
		o += elen;
	}
	/* entries [start, o + 4) and the values must not overlap */
	for (size_t i = 0; i < nreg; i += 2) {
		if (reg[i] < o + 4) {
			problem(c, "inode %u: %s: a value overlaps the entries", c->ino, where);
			return;
		}
		for (size_t j = i + 2; j < nreg; j += 2)
			if (reg[i] < reg[j + 1] && reg[j] < reg[i + 1]) {
				problem(c, "inode %u: %s: two values overlap", c->ino, where);
				return;
			}
	}
}

static struct eablk *ea_slot(struct fsck *c, blk64_t b)
{
	if ((c->nea + 1) * 2 > c->eacap) {
		struct eablk *old = c->ea;
		size_t oc = c->eacap;
		c->eacap = oc ? oc * 2 : 64;
		c->ea = xcalloc(c->eacap, sizeof(*c->ea));
		c->nea = 0;
		for (size_t i = 0; i < oc; i++)
			if (old[i].blk) {
				*ea_slot(c, old[i].blk) = old[i];
				c->nea++;
			}
		free(old);
	}
	size_t i = (size_t)(b * 0x9e3779b97f4a7c15ull >> 20) & (c->eacap - 1);
	while (c->ea[i].blk && c->ea[i].blk != b)
		i = (i + 1) & (c->eacap - 1);
	return &c->ea[i];
}

static void check_ea_block(struct fsck *c, blk64_t b)
{
	struct eablk *slot = ea_slot(c, b);
	c->counted++;
	if (slot->blk) {
		slot->seen++;
		return;
	}
	slot->blk = b;
	slot->seen = 1;
	c->nea++;
	claim(c, b, 1, "xattr");
	uint8_t *buf = c->buf[0];
	char where[64];
	snprintf(where, sizeof(where), "xattr block %llu", (unsigned long long)b);
	if (read_blk(c, b, buf) < 0)
		return;
	uint32_t magic = get32(buf, c->bs, 0);
	slot->refcount = get32(buf, c->bs, 4);
	if (magic != EXT2_EXT_ATTR_MAGIC) {
		problem(c, "inode %u: %s: bad magic 0x%08x", c->ino, where, magic);
		slot->refcount = 0;
		return;
	}
	if (get32(buf, c->bs, 8) != 1)
		problem(c, "inode %u: %s: h_blocks is %u, want 1", c->ino, where,
			get32(buf, c->bs, 8));
	if (c->csum && !ext2fs_ext_attr_block_csum_verify(c->efs, c->ino, b, (void *)buf))
		problem(c, "inode %u: %s: checksum mismatch", c->ino, where);
	check_xattrs(c, buf, c->bs, 32, 0, where, 0);
}

/* ---- pass 1: one inode ---- */

static uint8_t ft_of_mode(uint16_t mode)
{
	switch (mode & LINUX_S_IFMT) {
	case LINUX_S_IFREG:
		return EXT2_FT_REG_FILE;
	case LINUX_S_IFDIR:
		return EXT2_FT_DIR;
	case LINUX_S_IFCHR:
		return EXT2_FT_CHRDEV;
	case LINUX_S_IFBLK:
		return EXT2_FT_BLKDEV;
	case LINUX_S_IFIFO:
		return EXT2_FT_FIFO;
	case LINUX_S_IFSOCK:
		return EXT2_FT_SOCK;
	case LINUX_S_IFLNK:
		return EXT2_FT_SYMLINK;
	}
	return 0;
}

static uint64_t max_mapped_size(unsigned log)
{
	uint64_t a = 1ull << (log - 2);
	return (EXT2_NDIR_BLOCKS + a + a * a + a * a * a) << log;
}

static void check_symlink(struct fsck *c, ext2_ino_t ino, struct ext2_inode_large *in,
			  uint64_t size)
{
	uint8_t *buf = c->buf[0];
	size_t buflen;
	const char *kind;
	if (in->i_flags & EXT4_ENCRYPT_FL)
		return; /* ciphertext */
	if (size == 0) {
		problem(c, "inode %u: symlink of size 0", ino);
		return;
	}
	if (in->i_flags & EXT4_INLINE_DATA_FL) {
		size_t have = 0;
		kind = "inline symlink";
		if (ext2fs_inline_data_size(c->efs, ino, &have) || have > c->bs ||
		    ext2fs_inline_data_get(c->efs, ino, (void *)in, buf, &have) || have > c->bs) {
			problem(c, "inode %u: inline symlink: unreadable inline data", ino);
			return;
		}
		buflen = have;
	} else if (size < sizeof(in->i_block) &&
		   c->counted == (ext2fs_file_acl_block(c->efs, (void *)in) != 0)) {
		kind = "fast symlink";
		buflen = sizeof(in->i_block);
		memcpy(buf, in->i_block, buflen);
	} else {
		kind = "slow symlink";
		uint64_t data = c->counted - (ext2fs_file_acl_block(c->efs, (void *)in) != 0);
		if (size >= c->bs) {
			problem(c, "inode %u: symlink of size %llu, longer than a block", ino,
				(unsigned long long)size);
			return;
		}
		size_t n = 0;
		blk64_t pb = 0;
		for (size_t i = c->ndblk; i > 0 && c->dblk[i - 1].ino == ino; i--, n++)
			pb = c->dblk[i - 1].pblk;
		if (data != 1 || n != 1 || c->last != 0) {
			problem(c, "inode %u: symlink of size %llu owns %llu blocks, want one", ino,
				(unsigned long long)size, (unsigned long long)data);
			return;
		}
		if (read_blk(c, pb, buf) < 0)
			return;
		buflen = c->bs;
	}
	size_t len = strnlen((char *)buf, buflen);
	if (len != size)
		problem(c, "inode %u: %s of size %llu holds a target of %zu bytes", ino, kind,
			(unsigned long long)size, len);
}

static void check_inode(struct fsck *c, ext2_ino_t ino, struct ext2_inode_large *in, int isize,
			int used)
{
	struct ext2_super_block *s = c->s;
	uint16_t mode = in->i_mode;
	int isdir = LINUX_S_ISDIR(mode), isreg = LINUX_S_ISREG(mode), islnk = LINUX_S_ISLNK(mode);
	uint64_t size = EXT2_I_SIZE(in);

	if (used && c->csum && !ext2fs_inode_csum_verify(c->efs, ino, in))
		problem(c, "inode %u: checksum mismatch", ino);
	if (used && !ft_of_mode(mode))
		problem(c, "inode %u: unknown file type (mode %o)", ino, mode);
	if (isize > EXT2_GOOD_OLD_INODE_SIZE) {
		unsigned x = in->i_extra_isize;
		unsigned max = (unsigned)isize - EXT2_GOOD_OLD_INODE_SIZE;
		if (x && (x < 4 || x > max || (x & 3)))
			problem(c, "inode %u: i_extra_isize %u (want 4 to %u, a multiple of 4)",
				ino, x, max);
		else if (x && EXT2_GOOD_OLD_INODE_SIZE + x + 4 <= (unsigned)isize) {
			const uint8_t *raw = (const uint8_t *)in;
			size_t at = EXT2_GOOD_OLD_INODE_SIZE + x;
			if (get32(raw, (size_t)isize, at) == EXT2_EXT_ATTR_MAGIC)
				check_xattrs(c, raw, (size_t)isize, at + 4, at + 4,
					     "in-inode xattrs", 1);
		}
	}
	if (!ext2fs_has_feature_64bit(s) && in->osd2.linux2.l_i_file_acl_high)
		problem(c, "inode %u: i_file_acl_hi is %u on a filesystem without 64bit", ino,
			in->osd2.linux2.l_i_file_acl_high);

	c->ino = ino;
	c->counted = 0;
	c->last = c->last_init = -1;
	c->dups = c->bad = 0;
	c->dir_blocks = used && (isdir || islnk);
	if (in->i_flags & EXT4_INLINE_DATA_FL) {
		if (!ext2fs_has_feature_inline_data(s))
			problem(c, "inode %u: inline data on a filesystem without inline_data",
				ino);
	} else if (in->i_flags & EXT4_EXTENTS_FL) {
		if (!ext2fs_has_feature_extents(s))
			problem(c, "inode %u: extents on a filesystem without extent", ino);
		else if (isreg || isdir || islnk)
			walk_node(c, (const uint8_t *)in->i_block, sizeof(in->i_block),
				  get16((const uint8_t *)in->i_block, sizeof(in->i_block), 6), 0, 0,
				  1ull << 32, 0);
	} else if (ext2fs_inode_has_valid_blocks2(c->efs, (void *)in)) {
		errcode_t rc =
		    ext2fs_block_iterate3(c->efs, ino, BLOCK_FLAG_READ_ONLY, NULL, blk_cb, c);
		if (rc)
			problem(c, "inode %u: block map: %s", ino, error_message(rc));
	}
	blk64_t ea = ext2fs_file_acl_block(c->efs, (void *)in);
	if (ea) {
		if (ea < s->s_first_data_block || ea >= c->nblocks)
			problem(c, "inode %u: xattr block %llu out of range", ino,
				(unsigned long long)ea);
		else
			check_ea_block(c, ea);
	}
	if (!used || ino == EXT2_RESIZE_INO)
		return;
	if (in->i_flags & EXT4_INLINE_DATA_FL) {
		if (ea)
			c->counted = 1;
	}
	if (!(in->i_flags & EXT4_INLINE_DATA_FL) || ea) {
		uint64_t want = c->counted * (c->bs / 512);
		uint64_t have = ext2fs_get_stat_i_blocks(c->efs, (void *)in);
		if (want != have && !c->bad)
			problem(c, "inode %u: i_blocks is %llu sectors, its blocks make %llu", ino,
				(unsigned long long)have, (unsigned long long)want);
	}
	if (islnk) {
		check_symlink(c, ino, in, size);
		while (c->ndblk && c->dblk[c->ndblk - 1].ino == ino)
			c->ndblk--;
	} else if (isdir && !(in->i_flags & EXT4_INLINE_DATA_FL)) {
		uint64_t nblock = size / c->bs;
		if (size % c->bs || nblock > (uint64_t)(c->last + 1) ||
		    (uint64_t)(c->last + 1) - nblock > s->s_prealloc_dir_blocks)
			problem(c, "inode %u: directory size %llu does not match its %lld blocks",
				ino, (unsigned long long)size, (long long)(c->last + 1));
		if ((in->i_flags & EXT2_INDEX_FL) && !ext2fs_has_feature_dir_index(s))
			problem(c, "inode %u: htree index on a filesystem without dir_index", ino);
	} else if (isreg && !(in->i_flags & EXT4_INLINE_DATA_FL)) {
		int ext = (in->i_flags & EXT4_EXTENTS_FL) != 0;
		unsigned log = EXT2_BLOCK_SIZE_BITS(s);
		if (c->last_init >= 0 && size < (uint64_t)c->last_init * c->bs)
			problem(c, "inode %u: file size %llu ends before its block %lld", ino,
				(unsigned long long)size, (long long)c->last_init);
		else if ((ext && size > (1ull << (32 + log)) - 1) ||
			 (!ext && size > max_mapped_size(log)))
			problem(c, "inode %u: file size %llu is more than this block size allows",
				ino, (unsigned long long)size);
	}
}

/* ---- pass 2: directories ---- */

static void names_reset(struct names *t)
{
	if (t->cap > 4096) { /* a huge directory's table is not cleared for every small one */
		free(t->v);
		t->v = NULL;
		t->cap = 0;
	} else if (t->n) {
		memset(t->v, 0, t->cap * sizeof(*t->v));
	}
	t->n = 0;
	sb_reset(&t->pool);
}

/* Adds name; 1 when the directory already holds it. */
static int names_add(struct names *t, const uint8_t *name, size_t len)
{
	if ((t->n + 1) * 2 > t->cap) {
		size_t oc = t->cap;
		struct name_slot *old = t->v;
		t->cap = oc ? oc * 2 : 256;
		t->v = xcalloc(t->cap, sizeof(*t->v));
		for (size_t i = 0; i < oc; i++)
			if (old[i].off) {
				size_t j = old[i].h & (t->cap - 1);
				while (t->v[j].off)
					j = (j + 1) & (t->cap - 1);
				t->v[j] = old[i];
			}
		free(old);
	}
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < len; i++)
		h = (h ^ name[i]) * 16777619u;
	size_t j = h & (t->cap - 1);
	while (t->v[j].off) {
		const uint8_t *p = (const uint8_t *)t->pool.buf + t->v[j].off;
		if (t->v[j].h == h && p[0] == len && !memcmp(p + 1, name, len))
			return 1;
		j = (j + 1) & (t->cap - 1);
	}
	if (!t->pool.len)
		sb_addc(&t->pool, 0); /* offset 0 means empty */
	t->v[j].h = h;
	t->v[j].off = (uint32_t)t->pool.len;
	sb_addc(&t->pool, (char)len);
	sb_add(&t->pool, name, len);
	t->n++;
	return 0;
}

static const char *reserved_name(ext2_ino_t ino)
{
	switch (ino) {
	case EXT2_BAD_INO:
		return " (the bad blocks inode)";
	case EXT2_RESIZE_INO:
		return " (the resize inode)";
	case EXT2_JOURNAL_INO:
		return " (the journal)";
	}
	return "";
}

struct dirpos {
	ext2_ino_t dir;
	unsigned index; /* entries seen so far in this directory */
	int indexed, hash_alg;
	uint32_t hash_flags;	     /* the directory's i_flags (casefolding) */
	uint32_t hash_min, hash_max; /* of the names in the block being read */
	int hashed;		     /* the block had a name */
};

/* One directory entry naming ino (non-zero). */
static void dir_entry(struct fsck *c, struct dirpos *p, const uint8_t *name, size_t nlen,
		      ext2_ino_t ino, uint8_t ft)
{
	char sh[300];
	ext2_ino_t dir = p->dir;
	unsigned idx = p->index++;
	int dot = nlen == 1 && name[0] == '.';
	int dotdot = nlen == 2 && name[0] == '.' && name[1] == '.';
	if (idx == 0 && !dot)
		problem(c, "directory %u: first entry is '%s', not '.'", dir,
			shown(name, nlen, sh));
	if (idx == 1 && !dotdot)
		problem(c, "directory %u: second entry is '%s', not '..'", dir,
			shown(name, nlen, sh));
	if (dot && idx != 0)
		problem(c, "directory %u: a second '.' entry", dir);
	else if (dotdot && idx != 1)
		problem(c, "directory %u: a second '..' entry", dir);
	if (memchr(name, '/', nlen) || memchr(name, 0, nlen))
		problem(c, "directory %u: entry '%s' holds '/' or NUL", dir, shown(name, nlen, sh));
	if (!dot && !dotdot && names_add(&c->names, name, nlen))
		problem(c, "directory %u: two entries named '%s'", dir, shown(name, nlen, sh));
	if (ino > c->ninodes) {
		problem(c, "directory %u: entry '%s' names inode %u, past the last inode", dir,
			shown(name, nlen, sh), ino);
		return;
	}
	if (ino < EXT2_FIRST_INODE(c->s) && ino != EXT2_ROOT_INO) {
		problem(c, "directory %u: entry '%s' names reserved inode %u%s", dir,
			shown(name, nlen, sh), ino, reserved_name(ino));
		return;
	}
	if (dot && idx == 0 && ino != dir)
		problem(c, "directory %u: '.' names inode %u", dir, ino);
	c->refs[ino]++;
	if (!c->ftype[ino]) {
		problem(c, "directory %u: entry '%s' names inode %u, which is not in use", dir,
			shown(name, nlen, sh), ino);
		return;
	}
	if (ext2fs_has_feature_filetype(c->s) ? ft != c->ftype[ino] : ft != 0)
		problem(c, "directory %u: entry '%s' has file type %u, inode %u is of type %u", dir,
			shown(name, nlen, sh), ft, ino, c->ftype[ino]);
	if (dotdot && idx == 1)
		c->dotdot[dir] = ino;
	if (dot || dotdot)
		return;
	if (ino == EXT2_ROOT_INO) {
		problem(c, "directory %u: entry '%s' is a link to the root directory (a cycle)",
			dir, shown(name, nlen, sh));
		return;
	}
	if (c->ftype[ino] == EXT2_FT_DIR) {
		if (c->named[ino]++)
			problem(c,
				"directory %u: entry '%s' is a second name of directory %u (a hard "
				"link to a directory, or a cycle)",
				dir, shown(name, nlen, sh), ino);
		else
			c->parent[ino] = dir;
	}
}

/* Parses entries in buf[from, to); 0, or -1 when the block is damaged (reported). */
static int dir_entries(struct fsck *c, struct dirpos *p, const uint8_t *buf, size_t from, size_t to,
		       const char *where)
{
	size_t o = from;
	while (o < to) {
		if (to - o < 8) {
			problem(c, "directory %u: %s, offset %zu: a truncated entry", p->dir, where,
				o);
			return -1;
		}
		uint32_t ino = get32(buf, to, o);
		uint32_t rec = get16(buf, to, o + 4);
		if (c->bs >= 65536) /* as ext2fs_rec_len_from_disk */
			rec = rec == 65535 || rec == 0 ? 65536 : (rec & 65532) | ((rec & 3) << 16);
		unsigned nlen = buf[o + 6], ft = buf[o + 7];
		if (rec < 8 || rec % 4 || rec > to - o || nlen + 8u > rec) {
			problem(c, "directory %u: %s, offset %zu: bad entry length %u", p->dir,
				where, o, rec);
			return -1;
		}
		if (ino && nlen == 0)
			problem(c, "directory %u: %s, offset %zu: an empty name", p->dir, where, o);
		else if (ino)
			dir_entry(c, p, buf + o + 8, nlen, ino, (uint8_t)ft);
		if (ino && nlen && p->indexed) {
			ext2_dirhash_t h = 0, minor;
			if (!ext2fs_dirhash2(p->hash_alg, (const char *)buf + o + 8, (int)nlen,
					     c->efs->encoding, (int)p->hash_flags,
					     c->s->s_hash_seed, &h, &minor)) {
				h &= ~1u;
				if (!p->hashed || h < p->hash_min)
					p->hash_min = h;
				if (!p->hashed || h > p->hash_max)
					p->hash_max = h;
				p->hashed = 1;
			}
		}
		o += rec;
	}
	return 0;
}

/* The htree of one directory: blocks[] its blocks (lblk order), mins/maxs the name hashes each
 * holds. */
struct htree {
	struct fsck *c;
	ext2_ino_t dir;
	const struct dblk *blk;
	size_t nblk;
	uint32_t *hmin, *hmax;
	uint8_t *has, *ref;
	int levels;
};

static const struct dblk *find_blk(struct htree *h, uint32_t lblk)
{
	size_t lo = 0, hi = h->nblk;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (h->blk[mid].lblk == lblk)
			return &h->blk[mid];
		if (h->blk[mid].lblk < lblk)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static void htree_node(struct htree *h, const uint8_t *buf, size_t at, int level, uint32_t lo,
		       uint32_t hi, uint32_t self)
{
	struct fsck *c = h->c;
	size_t tail = c->csum ? 8 : 0;
	uint16_t limit = get16(buf, c->bs, at), count = get16(buf, c->bs, at + 2);
	uint16_t want = (uint16_t)((c->bs - at - tail) / 8);
	if (limit != want) {
		problem(c, "directory %u: htree block %u: limit %u, want %u", h->dir, self, limit,
			want);
		return;
	}
	if (count == 0 || count > limit) {
		problem(c, "directory %u: htree block %u: count %u (limit %u)", h->dir, self, count,
			limit);
		return;
	}
	uint32_t prev = lo;
	for (unsigned i = 0; i < count; i++) {
		size_t o = at + 8 * (size_t)i;
		uint32_t hash = i ? get32(buf, c->bs, o) & ~1u : lo;
		uint32_t blk = get32(buf, c->bs, o + 4);
		uint32_t next = i + 1 < count ? get32(buf, c->bs, o + 8) & ~1u : hi;
		if (hash < prev || next < hash) {
			problem(c, "directory %u: htree block %u: hashes out of order at entry %u",
				h->dir, self, i);
			return;
		}
		prev = hash;
		const struct dblk *b = find_blk(h, blk);
		if (!b || blk == 0) {
			problem(
			    c,
			    "directory %u: htree block %u: entry %u points to block %u, outside "
			    "the directory",
			    h->dir, self, i, blk);
			continue;
		}
		size_t k = (size_t)(b - h->blk);
		if (h->ref[k]++) {
			problem(c, "directory %u: htree block %u is referenced twice", h->dir, blk);
			continue;
		}
		if (level < h->levels) {
			uint8_t *nb = c->buf[level + 1];
			if (read_blk(c, b->pblk, nb) < 0)
				continue;
			if (get32(nb, c->bs, 0) != 0) {
				problem(c, "directory %u: htree block %u is not an index node",
					h->dir, blk);
				continue;
			}
			htree_node(h, nb, 8, level + 1, hash, next, blk);
			continue;
		}
		if (h->has[k] && h->hmin[k] < hash)
			problem(c, "directory %u: htree block %u: bad min hash (0x%08x < 0x%08x)",
				h->dir, blk, h->hmin[k], hash);
		if (h->has[k] && h->hmax[k] > next)
			problem(c, "directory %u: htree block %u: bad max hash (0x%08x > 0x%08x)",
				h->dir, blk, h->hmax[k], next);
	}
}

/* A directory whose entries live in its inode (inline_data). */
static void check_inline_dir(struct fsck *c, struct dirpos *p, struct ext2_inode_large *in)
{
	ext2_ino_t dir = p->dir;
	size_t size = 0;
	uint8_t *ibuf = c->buf[1]; /* inline data fits in an inode, smaller than a block */
	if (ext2fs_inline_data_size(c->efs, dir, &size) || size < 4 || size > c->bs ||
	    ext2fs_inline_data_get(c->efs, dir, (void *)in, ibuf, &size) || size > c->bs) {
		problem(c, "directory %u: unreadable inline data", dir);
		return;
	}
	dir_entry(c, p, (const uint8_t *)".", 1, dir, EXT2_FT_DIR);
	uint32_t up = get32(ibuf, size, 0);
	dir_entry(c, p, (const uint8_t *)"..", 2, up, up <= c->ninodes ? c->ftype[up] : 0);
	size_t first = size < EXT4_MIN_INLINE_DATA_SIZE ? size : EXT4_MIN_INLINE_DATA_SIZE;
	if (dir_entries(c, p, ibuf, 4, first, "inline data") == 0 && size > first)
		dir_entries(c, p, ibuf, first, size, "inline data (xattr part)");
}

/* Readies h for an indexed directory: per-block hash ranges, and p's hash version from the
 * root (checked by check_htree_root). */
static void htree_begin(struct htree *h, struct dirpos *p, uint32_t i_flags, uint8_t *buf)
{
	struct fsck *c = h->c;
	p->indexed = 1;
	h->hmin = xcalloc(h->nblk, sizeof(*h->hmin));
	h->hmax = xcalloc(h->nblk, sizeof(*h->hmax));
	h->has = xcalloc(h->nblk, 1);
	h->ref = xcalloc(h->nblk, 1);
	if (read_blk(c, h->blk[0].pblk, buf) == 0) {
		int v = buf[28];
		if (v <= EXT2_HASH_TEA && (c->s->s_flags & EXT2_FLAGS_UNSIGNED_HASH))
			v += 3;
		p->hash_alg = v;
		p->hash_flags = i_flags;
	}
}

static void htree_end(struct htree *h)
{
	free(h->hmin);
	free(h->hmax);
	free(h->has);
	free(h->ref);
}

/* Block i of directory p->dir (in buf): its checksum and entries; h (when indexed) learns
 * the range of its names' hashes. */
static void check_dir_block(struct fsck *c, struct dirpos *p, struct htree *h, size_t i,
			    uint8_t *buf)
{
	char where[64];
	snprintf(where, sizeof(where), "block %u", h->blk[i].lblk);
	if (read_blk(c, h->blk[i].pblk, buf) < 0) {
		problem(c, "directory %u: %s unreadable", p->dir, where);
		return;
	}
	/* the checksum tail of a leaf parses as an empty entry; an htree block is one
	 * entry over the whole block (whatever stale bytes its unused slots hold) */
	if (c->csum && !ext2fs_dir_block_csum_verify(c->efs, p->dir, (void *)buf)) {
		int tail = get32(buf, c->bs, c->bs - 12) == 0 &&
			   get16(buf, c->bs, c->bs - 8) == 12 &&
			   get16(buf, c->bs, c->bs - 6) == EXT2_DIR_NAME_LEN_CSUM;
		problem(c, "directory %u: %s: %s", p->dir, where,
			tail ? "checksum mismatch" : "no valid checksum");
	}
	p->hashed = 0;
	dir_entries(c, p, buf, 0, c->bs, where);
	if (p->indexed && p->hashed && i > 0) {
		h->has[i] = 1;
		h->hmin[i] = p->hash_min;
		h->hmax[i] = p->hash_max;
	}
}

/* The htree root (in buf) and, through it, the whole index. */
static void check_htree_root(struct htree *h, const uint8_t *buf)
{
	struct fsck *c = h->c;
	ext2_ino_t dir = h->dir;
	/* the root: '.' (12 bytes), '..' over the rest, then dx_root_info at 24 */
	uint8_t hv = buf[28], ilen = buf[29], levels = buf[30], flags = buf[31];
	int maxlev = ext2fs_has_feature_largedir(c->s) ? 2 : 1;
	if (get32(buf, c->bs, 24) != 0 || ilen != 8) {
		problem(c, "directory %u: htree root: info length %u (want 8)%s", dir, ilen,
			get32(buf, c->bs, 24) ? ", reserved field not zero" : "");
		return;
	}
	if (hv > EXT2_HASH_SIPHASH || hv == EXT2_HASH_LEGACY_UNSIGNED ||
	    hv == EXT2_HASH_HALF_MD4_UNSIGNED || hv == EXT2_HASH_TEA_UNSIGNED) {
		problem(c, "directory %u: htree root: unknown hash version %u", dir, hv);
		return;
	}
	if (levels > maxlev) {
		problem(c, "directory %u: htree root: %u indirect levels (at most %d)", dir, levels,
			maxlev);
		return;
	}
	if (flags & EXT2_HASH_FLAG_INCOMPAT) {
		problem(c, "directory %u: htree root: incompatible flags 0x%x", dir, flags);
		return;
	}
	h->levels = levels;
	h->ref[0] = 1;
	htree_node(h, buf, 32, 0, 0, 0xffffffffu, 0);
	for (size_t i = 1; i < h->nblk; i++)
		if (!h->ref[i]) {
			problem(c, "directory %u: htree block %u is not referenced by the index",
				dir, h->blk[i].lblk);
			break;
		}
}

static void check_dir(struct fsck *c, ext2_ino_t dir, const struct dblk *blk, size_t nblk)
{
	struct ext2_inode_large in;
	uint8_t *buf = c->buf[0];
	names_reset(&c->names);
	struct dirpos p = {.dir = dir};
	if (ext2fs_read_inode_full(c->efs, dir, (void *)&in, sizeof(in)))
		return;
	if (in.i_flags & EXT4_INLINE_DATA_FL) {
		check_inline_dir(c, &p, &in);
		return;
	}
	int indexed = (in.i_flags & EXT2_INDEX_FL) && ext2fs_has_feature_dir_index(c->s);
	struct htree h = {.c = c, .dir = dir, .blk = blk, .nblk = nblk};
	if (indexed && nblk)
		htree_begin(&h, &p, in.i_flags, buf);
	for (size_t i = 0; i < nblk; i++) {
		if (blk[i].lblk != i) {
			problem(c, "directory %u has a hole at block %zu", dir, i);
			break;
		}
		check_dir_block(c, &p, &h, i, buf);
	}
	if (nblk == 0)
		problem(c, "directory %u has no blocks", dir);
	if (indexed && nblk && read_blk(c, blk[0].pblk, buf) == 0)
		check_htree_root(&h, buf);
	htree_end(&h);
}

/* ---- the journal ---- */

static void check_journal(struct fsck *c)
{
	struct ext2_super_block *s = c->s;
	ext2_ino_t j = s->s_journal_inum;
	if (!ext2fs_has_feature_journal(s)) {
		if (ext2fs_has_feature_journal_needs_recovery(s))
			problem(c, "superblock: needs_recovery set without a journal");
		return;
	}
	if (!j)
		return; /* an external journal: not ours to read */
	if (j > c->ninodes || (j != EXT2_JOURNAL_INO && j < EXT2_FIRST_INODE(s))) {
		problem(c, "superblock: journal inode %u is out of range", j);
		return;
	}
	struct ext2_inode_large in;
	if (ext2fs_read_inode_full(c->efs, j, (void *)&in, sizeof(in)) ||
	    !LINUX_S_ISREG(in.i_mode) || !in.i_links_count) {
		problem(c, "journal inode %u is not a regular file in use", j);
		return;
	}
	blk64_t b = 0;
	uint8_t *buf = c->buf[0];
	if (ext2fs_bmap2(c->efs, j, (void *)&in, NULL, 0, 0, NULL, &b) || !b ||
	    read_blk(c, b, buf) < 0) {
		problem(c, "journal: no readable superblock (block 0 of inode %u)", j);
		return;
	}
	size_t n = c->bs;
	uint32_t magic = get32be(buf, n, 0), type = get32be(buf, n, 4), bsize = get32be(buf, n, 12),
		 maxlen = get32be(buf, n, 16), first = get32be(buf, n, 20),
		 start = get32be(buf, n, 28), incompat = get32be(buf, n, 40),
		 users = get32be(buf, n, 64);
	uint64_t iblocks = EXT2_I_SIZE(&in) / c->bs;
	if (magic != 0xc03b3998) {
		problem(c, "journal superblock: bad magic 0x%08x", magic);
		return;
	}
	if (type != 3 && type != 4) {
		problem(c, "journal superblock: block type %u (want 3 or 4)", type);
		return;
	}
	if (bsize != c->bs)
		problem(c, "journal superblock: block size %u, the filesystem's is %u", bsize,
			c->bs);
	if (maxlen < 1024 || maxlen > iblocks)
		problem(c, "journal superblock: %u blocks, the journal inode holds %llu", maxlen,
			(unsigned long long)iblocks);
	if (first == 0 || first >= maxlen)
		problem(c, "journal superblock: first block %u out of range", first);
	if (start >= maxlen && start)
		problem(c, "journal superblock: start %u out of range", start);
	if (type == 4) {
		if (incompat & ~0x3fu)
			problem(c, "journal superblock: unknown incompatible features 0x%x",
				incompat & ~0x3fu);
		if (users > 48)
			problem(c, "journal superblock: %u users (at most 48)", users);
		if (incompat & 0x18) { /* csum v2/v3: crc32c over the 1 KiB with the field zeroed */
			uint8_t tmp[1024];
			memcpy(tmp, buf, sizeof(tmp));
			uint32_t want = get32be(tmp, sizeof(tmp), 0xfc);
			memset(tmp + 0xfc, 0, 4);
			if (ext2fs_crc32c_le(~0u, tmp, sizeof(tmp)) != want)
				problem(c, "journal superblock: checksum mismatch");
		}
	}
	if (start && !ext2fs_has_feature_journal_needs_recovery(s))
		problem(c, "journal: holds transactions (start %u) but needs_recovery is not set",
			start);
	if (ext2fs_has_feature_journal_needs_recovery(s))
		problem(c, "journal: needs recovery (replay it with e2fsck -fy, or mount it)");
}

/* ---- groups: bitmaps and counts ---- */

static unsigned popcount8(uint8_t b)
{
	return (unsigned)__builtin_popcount(b);
}

static void check_groups(struct fsck *c)
{
	ext2_filsys efs = c->efs;
	struct ext2_super_block *s = c->s;
	uint32_t bpg = s->s_blocks_per_group, ipg = s->s_inodes_per_group;
	uint8_t *want = xmalloc(bpg / 8 + 1), *have = xmalloc(bpg / 8 + 1),
		*ib = xmalloc(ipg / 8 + 1);
	unsigned long long missing = 0, extra = 0;
	blk64_t first_missing = 0, first_extra = 0;
	for (dgrp_t g = 0; g < efs->group_desc_count; g++) {
		blk64_t first = ext2fs_group_first_block2(efs, g),
			last = ext2fs_group_last_block2(efs, g);
		size_t nb = (size_t)(last - first + 1);
		memset(want, 0, bpg / 8 + 1);
		memset(have, 0, bpg / 8 + 1);
		if (ext2fs_get_block_bitmap_range2(c->found, first, nb, want) ||
		    ext2fs_get_block_bitmap_range2(efs->block_map, first, nb, have))
			continue;
		uint64_t used = 0;
		for (size_t i = 0; i < (nb + 7) / 8; i++) {
			uint8_t mask = i == nb / 8 ? (uint8_t)((1u << (nb % 8)) - 1) : 0xff;
			uint8_t w = want[i] & mask, h = have[i] & mask;
			used += popcount8(h);
			if (w == h)
				continue;
			for (int bit = 0; bit < 8; bit++) {
				blk64_t b = first + i * 8 + (size_t)bit;
				if ((w & ~h) >> bit & 1 && !missing++)
					first_missing = b;
				if ((h & ~w) >> bit & 1 && !extra++)
					first_extra = b;
			}
		}
		uint64_t freeb = nb - used;
		if (freeb != ext2fs_bg_free_blocks_count(efs, g))
			problem(c, "group %u: free blocks count %u, bitmap says %llu", g,
				ext2fs_bg_free_blocks_count(efs, g), (unsigned long long)freeb);
		/* inodes */
		memset(ib, 0, ipg / 8 + 1);
		if (ext2fs_get_inode_bitmap_range2(efs->inode_map, (uint64_t)g * ipg + 1, ipg, ib))
			continue;
		uint32_t usedi = 0, last_used = 0;
		for (uint32_t i = 0; i < ipg; i++)
			if (ib[i / 8] >> (i % 8) & 1) {
				usedi++;
				last_used = i + 1;
			}
		if (ipg - usedi != ext2fs_bg_free_inodes_count(efs, g))
			problem(c, "group %u: free inodes count %u, bitmap says %u", g,
				ext2fs_bg_free_inodes_count(efs, g), ipg - usedi);
		if (ext2fs_has_group_desc_csum(efs)) {
			uint32_t unused = ext2fs_bg_itable_unused(efs, g);
			if (unused > ipg || last_used > ipg - unused)
				problem(
				    c,
				    "group %u: inode %u in use inside the %u inodes marked unused "
				    "(bg_itable_unused)",
				    g, g * ipg + last_used, unused);
			if ((ext2fs_bg_flags(efs, g) & EXT2_BG_INODE_UNINIT) && usedi)
				problem(c, "group %u: INODE_UNINIT with %u inodes in use", g,
					usedi);
			if (!ext2fs_group_desc_csum_verify(efs, g))
				problem(c, "group %u: descriptor checksum mismatch", g);
		}
	}
	if (missing)
		problem(c, "block %llu in use but marked free", (unsigned long long)first_missing);
	if (missing > 1)
		problem(c, "%llu blocks in use but marked free in all", missing);
	if (extra)
		problem(c, "block %llu marked in use but owned by nothing",
			(unsigned long long)first_extra);
	if (extra > 1)
		problem(c, "%llu blocks marked in use but owned by nothing in all", extra);
	/* the superblock's totals are only a hint, kept lazily by the kernel; e2fsck mends
	 * them silently and so does libext2fs when it writes: not a problem */
	free(want);
	free(have);
	free(ib);
}

/* ---- the tree: names, '..', reachability, link counts ---- */

static void check_tree(struct fsck *c)
{
	struct ext2_super_block *s = c->s;
	uint8_t *state = xcalloc((size_t)c->ninodes + 1, 1); /* 1: on the walk, 2: reaches root */
	uint32_t *stack = NULL;
	size_t nstack = 0, astack = 0;
	state[EXT2_ROOT_INO] = 2;
	if (c->ftype[EXT2_ROOT_INO] != EXT2_FT_DIR)
		problem(c, "the root inode is not a directory in use");
	else if (c->dotdot[EXT2_ROOT_INO] != EXT2_ROOT_INO)
		problem(c, "the root directory's '..' names inode %u", c->dotdot[EXT2_ROOT_INO]);
	for (ext2_ino_t i = 1; i <= c->ninodes; i++) {
		if (c->ftype[i] != EXT2_FT_DIR || i == EXT2_ROOT_INO)
			continue;
		if (!c->named[i]) {
			problem(c, "directory %u is not named in any directory (disconnected)", i);
			continue;
		}
		if (c->dotdot[i] != c->parent[i])
			problem(c, "directory %u: '..' names %u, but directory %u holds it", i,
				c->dotdot[i], c->parent[i]);
		/* up the parents to a directory of known state; one met twice is a cycle */
		nstack = 0;
		ext2_ino_t cur = i;
		while (!state[cur] && c->named[cur]) {
			if (nstack == astack) {
				astack = astack ? astack * 2 : 64;
				stack = xrealloc(stack, astack * sizeof(*stack));
			}
			stack[nstack++] = cur;
			state[cur] = 1;
			cur = c->parent[cur];
		}
		uint8_t result = state[cur] == 2 ? 2 : 3;
		if (state[cur] == 1)
			problem(c,
				"directory %u is in a directory cycle, unreachable from the root",
				cur);
		for (size_t k = 0; k < nstack; k++)
			state[stack[k]] = result;
	}
	free(stack);
	free(state);

	int dir_nlink = ext2fs_has_feature_dir_nlink(s);
	ext2_ino_t orphan = ext2fs_has_feature_orphan_file(s) ? s->s_orphan_file_inum : 0;
	for (ext2_ino_t i = 1; i <= c->ninodes; i++) {
		if (!c->ftype[i]) {
			continue; /* entries naming it were reported with the directory */
		}
		if (i < EXT2_FIRST_INODE(s) && i != EXT2_ROOT_INO)
			continue;
		if (i == orphan || i == s->s_usr_quota_inum || i == s->s_grp_quota_inum ||
		    i == s->s_prj_quota_inum)
			continue;
		if (c->refs[i] == c->nlink[i])
			continue;
		if (c->ftype[i] == EXT2_FT_DIR && c->nlink[i] == 1 && dir_nlink &&
		    c->refs[i] > LINKS_MAX)
			continue;
		if (c->refs[i] == 0)
			problem(c, "inode %u is in use but named nowhere", i);
		else
			problem(c, "inode %u: link count %u, named %u times", i, c->nlink[i],
				c->refs[i]);
	}
}

/* Pass 1 for one inode read from the table. */
static void scan_one(struct fsck *c, ext2_ino_t ino, struct ext2_inode_large *in, int isize)
{
	int marked = !!ext2fs_test_inode_bitmap2(c->efs->inode_map, ino);
	int reserved = ino < EXT2_FIRST_INODE(c->s);
	int used = in->i_links_count > 0 && (!reserved || ino == EXT2_ROOT_INO);
	if (!reserved && used != marked)
		problem(c, "inode %u: %s", ino,
			used ? "in use but marked free in the bitmap"
			     : "marked in use in the bitmap but free");
	if (reserved && !marked)
		problem(c, "reserved inode %u marked free", ino);
	int special = reserved && ino != EXT2_ROOT_INO && in->i_mode && ino != EXT2_RESIZE_INO &&
		      ino != EXT2_BAD_INO;
	if (ino == EXT2_RESIZE_INO && in->i_block[EXT2_DIND_BLOCK]) {
		c->ino = ino;
		claim(c, in->i_block[EXT2_DIND_BLOCK], 1, "resize");
	}
	if (!used && !special)
		return;
	if (used) {
		c->ftype[ino] = ft_of_mode(in->i_mode);
		c->nlink[ino] = in->i_links_count;
	}
	check_inode(c, ino, in, isize, used || special);
}

/*
 * The inode scan skips each group's tail that bg_itable_unused calls unused
 * (and INODE_UNINIT groups): an inode the bitmap marks in use there is read
 * here, so it is checked like the others rather than taken for free.
 */
static void scan_unused(struct fsck *c, struct ext2_inode_large *in, int isize)
{
	ext2_filsys efs = c->efs;
	uint32_t ipg = c->s->s_inodes_per_group;
	if (!ext2fs_has_group_desc_csum(efs))
		return;
	for (dgrp_t g = 0; g < efs->group_desc_count; g++) {
		uint32_t unused = ext2fs_bg_itable_unused(efs, g);
		uint32_t from = unused < ipg ? ipg - unused : 0;
		if (ext2fs_bg_flags_test(efs, g, EXT2_BG_INODE_UNINIT))
			from = 0;
		ext2_ino_t ino = (ext2_ino_t)(g * ipg + from + 1),
			   last = (ext2_ino_t)((g + 1) * ipg);
		while (from < ipg && ino <= last &&
		       !ext2fs_find_first_set_inode_bitmap2(efs->inode_map, ino, last, &ino)) {
			if (ext2fs_read_inode_full(efs, ino, (void *)in, isize) == 0) {
				c->dblk_unsorted = 1;
				scan_one(c, ino, in, isize);
			}
			if (ino == last)
				break;
			ino++;
		}
	}
}

static int dblk_cmp(const void *a, const void *b)
{
	const struct dblk *x = a, *y = b;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return x->lblk < y->lblk ? -1 : x->lblk > y->lblk;
}

/* ---- the driver ---- */

static void fsck_release(struct fsck *c)
{
	if (c->found)
		ext2fs_free_block_bitmap(c->found);
	free(c->ftype);
	free(c->nlink);
	free(c->refs);
	free(c->named);
	free(c->parent);
	free(c->dotdot);
	free(c->dblk);
	free(c->ea);
	free(c->names.v);
	sb_release(&c->names.pool);
	for (int i = 0; i < MAX_DEPTH_EXT + 2; i++)
		free(c->buf[i]);
}

/* CRUMB_EUNSUPP "PATH: WHAT: features NAMES" for the feature bits uc, ui, ur. */
static int features_err(struct err *e, const char *path, const char *what, uint32_t uc, uint32_t ui,
			uint32_t ur)
{
	struct sbuf names = SBUF_INIT;
	ext4fs_feature_names(uc, ui, ur, &names);
	int r = err_set(e, CRUMB_EUNSUPP, "%s: %s: features %s", path, what, names.buf);
	sb_release(&names);
	return r;
}

/* Group descriptors and bitmaps, read whatever their checksums say (a bad one is a
 * problem). Returns -1 when they are beyond reading. */
static int fsck_load(struct fsck *c)
{
	ext2_filsys efs = c->efs;
	errcode_t rc;
	if ((rc = ext2fs_check_desc(efs))) {
		problem(c, "group descriptors: %s", error_message(rc));
		return -1;
	}
	if (!efs->block_map || !efs->inode_map) {
		if ((rc = ext2fs_read_bitmaps(efs))) {
			problem(c, "bitmaps: %s", error_message(rc));
			efs->flags |= EXT2_FLAG_IGNORE_CSUM_ERRORS;
			if (ext2fs_read_bitmaps(efs))
				return -1;
		}
	}
	/* from here on, checksums are checked (and reported) by the passes themselves */
	efs->flags |= EXT2_FLAG_IGNORE_CSUM_ERRORS;
	return 0;
}

/* The check's own state: buffers, per-inode arrays, and the blocks every group's metadata
 * takes (claimed first). */
static int fsck_setup(struct fsck *c, struct err *e)
{
	ext2_filsys efs = c->efs;
	errcode_t rc;
	if ((rc = ext2fs_allocate_block_bitmap(efs, "found", &c->found)))
		return err_set(e, CRUMB_EIO, "%s: bitmaps for the check: %s", c->fs->path,
			       error_message(rc));
	for (int i = 0; i < MAX_DEPTH_EXT + 2; i++)
		c->buf[i] = xmalloc(c->bs);
	/* metadata every group carries: superblock and descriptor copies, bitmaps, inode table */
	for (dgrp_t g = 0; g < efs->group_desc_count; g++) {
		ext2fs_reserve_super_and_bgd(efs, g, c->found);
		c->ino = 0;
		claim(c, ext2fs_block_bitmap_loc(efs, g), 1, "block bitmap");
		claim(c, ext2fs_inode_bitmap_loc(efs, g), 1, "inode bitmap");
		claim(c, ext2fs_inode_table_loc(efs, g), efs->inode_blocks_per_group,
		      "inode table");
	}
	if (ext2fs_has_feature_mmp(c->s) && c->s->s_mmp_block)
		claim(c, c->s->s_mmp_block, 1, "mmp");
	size_t n1 = (size_t)c->ninodes + 1;
	c->ftype = xcalloc(n1, 1);
	c->nlink = xcalloc(n1, sizeof(*c->nlink));
	c->refs = xcalloc(n1, sizeof(*c->refs));
	c->named = xcalloc(n1, sizeof(*c->named));
	c->parent = xcalloc(n1, sizeof(*c->parent));
	c->dotdot = xcalloc(n1, sizeof(*c->dotdot));
	return 0;
}

/* Pass 1: every inode in the tables, then the directory blocks it found sorted by inode. */
static int fsck_pass1(struct fsck *c, struct err *e)
{
	ext2_inode_scan scan = NULL;
	int isize = EXT2_INODE_SIZE(c->s);
	errcode_t rc;
	if ((rc = ext2fs_open_inode_scan(c->efs, 0, &scan)))
		return err_set(e, CRUMB_EFORMAT, "%s: inode scan: %s", c->fs->path,
			       error_message(rc));
	struct ext2_inode_large *in =
	    xcalloc(1, (size_t)isize > sizeof(*in) ? (size_t)isize : sizeof(*in));
	for (;;) {
		ext2_ino_t ino;
		rc = ext2fs_get_next_inode_full(scan, &ino, (struct ext2_inode *)in, isize);
		if (rc == EXT2_ET_BAD_BLOCK_IN_INODE_TABLE)
			continue;
		if (rc && rc != EXT2_ET_INODE_CSUM_INVALID && rc != EXT2_ET_INODE_IS_GARBAGE) {
			problem(c, "inode table: %s", error_message(rc));
			break;
		}
		if (!ino)
			break;
		scan_one(c, ino, in, isize);
	}
	scan_unused(c, in, isize);
	free(in);
	ext2fs_close_inode_scan(scan);
	if (c->dblk_unsorted && c->ndblk > 1)
		qsort(c->dblk, c->ndblk, sizeof(*c->dblk), dblk_cmp);
	return 0;
}

/* Pass 2, over the blocks pass 1 collected (grouped by inode): every directory. */
static void fsck_pass2(struct fsck *c)
{
	size_t at = 0;
	for (ext2_ino_t d = 1; d <= c->ninodes; d++) {
		if (c->ftype[d] != EXT2_FT_DIR)
			continue;
		while (at < c->ndblk && c->dblk[at].ino < d)
			at++;
		size_t end = at;
		while (end < c->ndblk && c->dblk[end].ino == d)
			end++;
		check_dir(c, d, c->dblk ? c->dblk + at : NULL, end - at);
		at = end;
	}
	for (size_t i = 0; i < c->eacap; i++)
		if (c->ea[i].blk && c->ea[i].refcount && c->ea[i].refcount != c->ea[i].seen)
			problem(c, "xattr block %llu: reference count %u, used by %u inodes",
				(unsigned long long)c->ea[i].blk, c->ea[i].refcount, c->ea[i].seen);
}

int ext4fs_fsck(struct ext4fs *fs, struct sbuf *report, unsigned *problems, struct err *e)
{
	ext2_filsys efs = fs->fs;
	struct ext2_super_block *s = efs->super;
	struct fsck c = {.fs = fs, .efs = efs, .s = s, .report = report};
	int r = 0;

	*problems = 0;
	if (fs->file)
		ext2fs_file_close(fs->file);
	fs->file = NULL;
	fs->file_ino = 0;
	uint32_t uc = s->s_feature_compat & ~CHECKED_COMPAT,
		 ui = s->s_feature_incompat & ~CHECKED_INCOMPAT,
		 ur = s->s_feature_ro_compat & ~CHECKED_RO_COMPAT;
	if (ext2fs_has_feature_bigalloc(s))
		return features_err(e, fs->path, "not checked here", uc, ui, ur);
	if (s->s_inodes_count > (1u << 26))
		return err_set(e, CRUMB_EUNSUPP, "%s: not checked here: too many inodes (%u)",
			       fs->path, s->s_inodes_count);
	int saved_flags = efs->flags;
	c.bs = efs->blocksize;
	c.ninodes = s->s_inodes_count;
	c.nblocks = ext2fs_blocks_count(s);
	c.csum = ext2fs_has_feature_metadata_csum(s);
	if (fsck_load(&c) == 0 && (r = fsck_setup(&c, e)) == 0 && (r = fsck_pass1(&c, e)) == 0) {
		fsck_pass2(&c);
		check_journal(&c);
		check_tree(&c);
		check_groups(&c);
		if (uc | ui | ur)
			r = features_err(e, fs->path, "not fully checked here", uc, ui, ur);
	}
	efs->flags = saved_flags;
	fsck_release(&c);
	unsigned listed = c.lines < FSCK_MAX_LINES ? c.lines : FSCK_MAX_LINES;
	if (c.problems > listed)
		sb_addf(report, "(%u more problems not listed)\n", c.problems - listed);
	*problems = c.problems;
	return r;
}

/* ext4io.c: a libext2fs io_manager that holds every write aside until the edit is committed. */
#include "ext4io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ext2fs/ext2_err.h>
#include <ext2fs/ext2fs.h>

#include "util.h"

/* Writes are held in units of this many bytes: the smallest ext block size,
 * and the superblock's offset and size, so whole blocks never need a read. */
#define UNIT 1024u
#define UNIT_SHIFT 10

struct held {
	int fd;		/* the image */
	int spill;	/* scratch file holding unit slot i at i * UNIT; -1 until needed */
	uint64_t fsize; /* the image's size when opened */
	uint64_t end;	/* max(fsize, the end of the furthest write) */
	/* open addressing from unit number + 1 (0: empty) to its slot */
	uint64_t *keys;
	uint32_t *slots;
	size_t cap, n;
};

static errcode_t full_pread(int fd, void *buf, size_t len, uint64_t off, size_t *got)
{
	size_t done = 0;
	while (done < len) {
		ssize_t r = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return errno;
		if (r == 0)
			break;
		done += (size_t)r;
	}
	*got = done;
	return 0;
}

static errcode_t full_pwrite(int fd, const void *buf, size_t len, uint64_t off)
{
	size_t done = 0;
	while (done < len) {
		ssize_t r = pwrite(fd, (const char *)buf + done, len - done, (off_t)(off + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return errno;
		if (r == 0)
			return EXT2_ET_SHORT_WRITE;
		done += (size_t)r;
	}
	return 0;
}

static size_t slot_pos(const struct held *h, uint64_t unit)
{
	return (size_t)((unit + 1) * 0x9e3779b97f4a7c15ull >> 17) & (h->cap - 1);
}

/* The slot of unit, or -1 when it holds no write. */
static int64_t held_find(const struct held *h, uint64_t unit)
{
	if (!h->n)
		return -1;
	for (size_t i = slot_pos(h, unit);; i = (i + 1) & (h->cap - 1)) {
		if (!h->keys[i])
			return -1;
		if (h->keys[i] == unit + 1)
			return h->slots[i];
	}
}

static void held_insert(struct held *h, uint64_t unit, uint32_t slot)
{
	if ((h->n + 1) * 2 > h->cap) {
		struct held big = *h;
		big.cap = h->cap ? h->cap * 2 : 1024;
		big.keys = xcalloc(big.cap, sizeof(*big.keys));
		big.slots = xcalloc(big.cap, sizeof(*big.slots));
		big.n = 0;
		for (size_t i = 0; i < h->cap; i++)
			if (h->keys[i])
				held_insert(&big, h->keys[i] - 1, h->slots[i]);
		free(h->keys);
		free(h->slots);
		h->keys = big.keys;
		h->slots = big.slots;
		h->cap = big.cap;
	}
	size_t i = slot_pos(h, unit);
	while (h->keys[i])
		i = (i + 1) & (h->cap - 1);
	h->keys[i] = unit + 1;
	h->slots[i] = slot;
	h->n++;
}

/* Where scratch files go when the image's directory cannot hold one (ext4io_set_tmpdir). */
static const char *spill_tmpdir;

void ext4io_set_tmpdir(const char *dir)
{
	spill_tmpdir = dir;
}

/* An unlinked scratch file: beside the image (same disk, likely room), else in the tmpdir. */
static int spill_open(const char *image)
{
	char *dir = xstrdup(image), *slash = strrchr(dir, '/');
	if (slash)
		slash[slash == dir] = 0;
	else
		strcpy(dir, ".");
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	free(dir);
	if (fd >= 0)
		return fd;
	const char *tmp = spill_tmpdir && *spill_tmpdir ? spill_tmpdir : "/tmp";
	fd = open(tmp, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
	char *templ = xasprintf("%s/crumb-ext4io-XXXXXX", tmp);
	fd = mkostemp(templ, O_CLOEXEC);
	if (fd >= 0)
		unlink(templ);
	free(templ);
	return fd;
}

static errcode_t byte_range(io_channel ch, unsigned long long block, int count, uint64_t *off,
			    size_t *len)
{
	uint64_t bs = (uint64_t)ch->block_size;
	*len = count < 0 ? (size_t)(-(int64_t)count) : (size_t)count * bs;
	if (block > UINT64_MAX / bs)
		return EXT2_ET_LLSEEK_FAILED;
	*off = block * bs;
	if (*off + *len < *off)
		return EXT2_ET_LLSEEK_FAILED;
	return 0;
}

static errcode_t held_read(io_channel ch, uint64_t off, size_t len, void *buf)
{
	struct held *h = ch->private_data;
	uint64_t pos = off, stop = off + len;
	while (pos < stop) {
		uint64_t unit = pos >> UNIT_SHIFT;
		int64_t slot = held_find(h, unit);
		/* a run of units from one place: the image, or consecutive slots */
		uint64_t run_end = pos, spill_at = 0;
		if (slot >= 0)
			spill_at = (uint64_t)slot * UNIT + (pos - (unit << UNIT_SHIFT));
		for (uint64_t u = unit;; u++) {
			uint64_t ue = (u + 1) << UNIT_SHIFT;
			run_end = ue < stop ? ue : stop;
			if (run_end == stop)
				break;
			int64_t next = held_find(h, u + 1);
			if ((slot < 0) != (next < 0))
				break;
			if (slot >= 0 && next != slot + (int64_t)(u + 1 - unit))
				break;
		}
		size_t n = (size_t)(run_end - pos), got;
		char *dst = (char *)buf + (pos - off);
		errcode_t rc = slot >= 0 ? full_pread(h->spill, dst, n, spill_at, &got)
					 : full_pread(h->fd, dst, n, pos, &got);
		if (rc)
			return rc;
		if (got < n) {
			memset(dst + got, 0, n - got);
			return EXT2_ET_SHORT_READ;
		}
		pos = run_end;
	}
	return 0;
}

static errcode_t held_write(io_channel ch, uint64_t off, size_t len, const void *buf)
{
	struct held *h = ch->private_data;
	char fill[UNIT];
	errcode_t rc;
	if (h->spill < 0 && (h->spill = spill_open(ch->name)) < 0)
		return errno;
	uint64_t pos = off, stop = off + len;
	/* pending write into the spill file: [run_at, run_at + run_len) from run_src */
	uint64_t run_at = 0;
	size_t run_len = 0;
	const char *run_src = NULL;
	while (pos < stop) {
		uint64_t unit = pos >> UNIT_SHIFT, ustart = unit << UNIT_SHIFT;
		uint64_t b = ustart + UNIT < stop ? ustart + UNIT : stop;
		int64_t slot = held_find(h, unit);
		if (slot < 0) {
			if (h->n >= UINT32_MAX)
				return EXT2_ET_NO_MEMORY;
			slot = (int64_t)h->n;
			held_insert(h, unit, (uint32_t)slot);
			if (pos > ustart || b < ustart + UNIT) {
				/* a partial unit: start from what the image holds there */
				size_t got;
				if ((rc = full_pread(h->fd, fill, UNIT, ustart, &got)))
					return rc;
				memset(fill + got, 0, UNIT - got);
				if ((rc = full_pwrite(h->spill, fill, UNIT, (uint64_t)slot * UNIT)))
					return rc;
			}
		}
		uint64_t at = (uint64_t)slot * UNIT + (pos - ustart);
		const char *src = (const char *)buf + (pos - off);
		if (run_len && run_at + run_len == at) {
			run_len += (size_t)(b - pos);
		} else {
			if (run_len && (rc = full_pwrite(h->spill, run_src, run_len, run_at)))
				return rc;
			run_at = at;
			run_src = src;
			run_len = (size_t)(b - pos);
		}
		pos = b;
	}
	if (run_len && (rc = full_pwrite(h->spill, run_src, run_len, run_at)))
		return rc;
	if (stop > h->end)
		h->end = stop;
	return 0;
}

static errcode_t io_read64(io_channel ch, unsigned long long block, int count, void *data)
{
	uint64_t off;
	size_t len;
	errcode_t rc = byte_range(ch, block, count, &off, &len);
	return rc ? rc : held_read(ch, off, len, data);
}

static errcode_t io_write64(io_channel ch, unsigned long long block, int count, const void *data)
{
	uint64_t off;
	size_t len;
	errcode_t rc = byte_range(ch, block, count, &off, &len);
	return rc ? rc : held_write(ch, off, len, data);
}

static errcode_t io_read(io_channel ch, unsigned long block, int count, void *data)
{
	return io_read64(ch, block, count, data);
}

static errcode_t io_write(io_channel ch, unsigned long block, int count, const void *data)
{
	return io_write64(ch, block, count, data);
}

static errcode_t io_write_byte(io_channel ch, unsigned long offset, int count, const void *data)
{
	if (count < 0)
		return EXT2_ET_INVALID_ARGUMENT;
	return held_write(ch, offset, (size_t)count, data);
}

static errcode_t io_set_blksize(io_channel ch, int blksize)
{
	if (blksize <= 0)
		return EXT2_ET_INVALID_ARGUMENT;
	ch->block_size = blksize;
	return 0;
}

static errcode_t io_flush(io_channel ch)
{
	return 0; /* nothing reaches the image before ext4io_commit */
}

static errcode_t io_set_option(io_channel ch, const char *option, const char *arg)
{
	return EXT2_ET_INVALID_ARGUMENT;
}

static errcode_t io_close(io_channel ch)
{
	if (--ch->refcount > 0)
		return 0;
	struct held *h = ch->private_data;
	close(h->fd);
	if (h->spill >= 0)
		close(h->spill);
	free(h->keys);
	free(h->slots);
	free(h);
	free(ch->name);
	free(ch);
	return 0;
}

static errcode_t io_open(const char *name, int flags, io_channel *out)
{
	struct stat st;
	if (!name)
		return EXT2_ET_BAD_DEVICE_NAME;
	int fd = open(name, ((flags & IO_FLAG_RW) ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (fd < 0)
		return errno;
	if (fstat(fd, &st) < 0) {
		errcode_t rc = errno;
		close(fd);
		return rc;
	}
	struct held *h = xcalloc(1, sizeof(*h));
	h->fd = fd;
	h->spill = -1;
	h->fsize = h->end = (uint64_t)st.st_size;
	io_channel ch = xcalloc(1, sizeof(*ch));
	ch->magic = EXT2_ET_MAGIC_IO_CHANNEL;
	ch->manager = ext4io_manager;
	ch->name = xstrdup(name);
	ch->block_size = 1024;
	ch->refcount = 1;
	ch->private_data = h;
	*out = ch;
	return 0;
}

struct unit_slot {
	uint64_t unit;
	uint32_t slot;
};

static int unit_cmp(const void *a, const void *b)
{
	uint64_t x = ((const struct unit_slot *)a)->unit, y = ((const struct unit_slot *)b)->unit;
	return x < y ? -1 : x > y;
}

errcode_t ext4io_commit(io_channel ch)
{
	struct held *h = ch->private_data;
	errcode_t rc = 0;
	if (!h->n)
		return 0;
	struct unit_slot *v = xmalloc(h->n * sizeof(*v));
	size_t n = 0;
	for (size_t i = 0; i < h->cap; i++)
		if (h->keys[i])
			v[n++] = (struct unit_slot){h->keys[i] - 1, h->slots[i]};
	qsort(v, n, sizeof(*v), unit_cmp);
	/* copy in runs of consecutive units, through a bounded buffer */
	enum { BATCH = 256 };
	char *buf = xmalloc((size_t)BATCH * UNIT);
	for (size_t i = 0; i < n && !rc;) {
		size_t k = 0, got;
		while (i + k < n && k < BATCH && v[i + k].unit == v[i].unit + k)
			k++;
		for (size_t j = 0, m; j < k && !rc; j += m) {
			/* units written in order sit in consecutive slots: one read */
			for (m = 1; j + m < k && v[i + j + m].slot == v[i + j].slot + m; m++)
				;
			rc = full_pread(h->spill, buf + j * UNIT, m * UNIT,
					(uint64_t)v[i + j].slot * UNIT, &got);
			if (!rc && got != m * UNIT)
				rc = EXT2_ET_SHORT_READ;
		}
		uint64_t at = v[i].unit << UNIT_SHIFT, len = (uint64_t)k * UNIT;
		if (at + len > h->end) /* the last unit may lie partly past what was written */
			len = h->end > at ? h->end - at : 0;
		if (!rc)
			rc = full_pwrite(h->fd, buf, (size_t)len, at);
		i += k;
	}
	free(buf);
	free(v);
	if (!rc && fsync(h->fd) < 0)
		rc = errno;
	if (!rc) {
		memset(h->keys, 0, h->cap * sizeof(*h->keys));
		h->n = 0;
		if (ftruncate(h->spill, 0) < 0)
			rc = errno;
	}
	return rc;
}

unsigned long long ext4io_held(io_channel ch)
{
	return (unsigned long long)((struct held *)ch->private_data)->n * UNIT;
}

static struct struct_io_manager manager = {
    .magic = EXT2_ET_MAGIC_IO_MANAGER,
    .name = "crumb held-writes I/O manager",
    .open = io_open,
    .close = io_close,
    .set_blksize = io_set_blksize,
    .read_blk = io_read,
    .write_blk = io_write,
    .flush = io_flush,
    .write_byte = io_write_byte,
    .set_option = io_set_option,
    .read_blk64 = io_read64,
    .write_blk64 = io_write64,
};

io_manager ext4io_manager = &manager;

void ext4io_errors_init(void)
{
	static int done;
	if (!done) {
		initialize_ext2_error_table();
		done = 1;
	}
}

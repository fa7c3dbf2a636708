/* devtable.c: genext2fs/makefs device tables applied to a tree (see devtable.h). */
#include "devtable.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int table_error(struct err *e, const char *file, int line, const char *why)
{
	char w[ERR_MSG_MAX]; /* why may be e->msg itself */
	snprintf(w, sizeof(w), "%s", why);
	return err_set(e, CRUMB_EFORMAT, "%s:%d: %s", file, line, w);
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
	(void)path;
	if (n != src && n->hardlink == src->hardlink && n->type == src->type) {
		n->mode = src->mode;
		n->uid = src->uid;
		n->gid = src->gid;
	}
	return 0;
}

/* One table line, parsed. */
struct entry {
	const char *path;
	char type;
	uint32_t mode, uid, gid, major, minor, start, inc, count;
};

/* Where a line came from, for messages. */
struct where {
	const char *file;
	int line;
};

static int apply_entry(struct tree *t, const char *path, const struct entry *x, uint32_t minor,
		       const struct where *w, struct err *e)
{
	struct tree_node *n = tree_lookup(t, path, 0);
	char why[512];
	switch (x->type) {
	case 'd':
		if ((!n || n->type != TREE_DIR) && tree_add(t, path, TREE_DIR, x->mode, &n, e) < 0)
			return table_error(e, w->file, w->line, e->msg);
		break;
	case 'f':
	case 'l':
		if (!n || n->type != (x->type == 'f' ? TREE_REG : TREE_LNK)) {
			snprintf(why, sizeof(why), "%s: no such %s in the image", path,
				 x->type == 'f' ? "file" : "symlink");
			return table_error(e, w->file, w->line, why);
		}
		break;
	case 'c':
	case 'b':
	case 'p':
	case 's': {
		enum tree_type tt = x->type == 'c'   ? TREE_CHR
				    : x->type == 'b' ? TREE_BLK
				    : x->type == 'p' ? TREE_FIFO
						     : TREE_SOCK;
		if (tree_add_device(t, path, tt, x->mode, x->major, minor, e) < 0)
			return table_error(e, w->file, w->line, e->msg);
		n = tree_lookup(t, path, 0);
		break;
	}
	default:
		snprintf(why, sizeof(why), "unknown type '%c' (want d f c b p s l)", x->type);
		return table_error(e, w->file, w->line, why);
	}
	if (x->type != 'l')
		n->mode = x->mode & 07777;
	n->uid = x->uid;
	n->gid = x->gid;
	if (n->hardlink && n->type != TREE_DIR) /* every name of the file is the same inode */
		tree_walk(t, same_link, n);
	return 0;
}

/* Splits l (comment already cut) into at most 11 fields; 12 means "too many". */
static int split_fields(char *l, char *f[11])
{
	char *save = NULL;
	int nf = 0;
	for (char *tok = strtok_r(l, " \t\r", &save); tok; tok = strtok_r(NULL, " \t\r", &save))
		if (nf < 11)
			f[nf++] = tok;
		else
			nf = 12;
	return nf;
}

/* Checks the fields of one line into x; 0 or the error for the line. */
static int parse_entry(char **f, int nf, struct entry *x, const struct where *w, struct err *e)
{
	memset(x, 0, sizeof(*x));
	if (nf != 10 && nf != 7)
		return table_error(e, w->file, w->line,
				   "want 10 fields: path type mode uid gid "
				   "major minor start inc count");
	if (f[0][0] != '/')
		return table_error(e, w->file, w->line, "the path must be absolute");
	if (strlen(f[1]) != 1)
		return table_error(e, w->file, w->line, "the type is one letter (d f c b p s l)");
	if (field_u32(f[2], &x->mode, 8) || x->mode > 07777 || field_u32(f[3], &x->uid, 10) ||
	    field_u32(f[4], &x->gid, 10) || field_u32(f[5], &x->major, 10) ||
	    field_u32(f[6], &x->minor, 10) ||
	    (nf == 10 && (field_u32(f[7], &x->start, 10) || field_u32(f[8], &x->inc, 10) ||
			  field_u32(f[9], &x->count, 10))))
		return table_error(e, w->file, w->line,
				   "a bad number (mode is octal, up to 07777)");
	if (x->count > 65536)
		return table_error(e, w->file, w->line, "count above 65536");
	x->path = f[0];
	x->type = f[1][0];
	return 0;
}

static int apply_line(struct tree *t, char *l, const struct where *w, struct err *e)
{
	char *f[11];
	struct entry x;
	char *hash = strchr(l, '#');
	if (hash)
		*hash = 0;
	int nf = split_fields(l, f), r;
	if (nf == 0)
		return 0;
	if ((r = parse_entry(f, nf, &x, w, e)) < 0)
		return r;
	if (!x.count)
		return apply_entry(t, x.path, &x, x.minor, w, e);
	for (uint32_t i = 0; i < x.count && !r; i++) {
		char *p = xasprintf("%s%u", x.path, x.start + i);
		r = apply_entry(t, p, &x, x.minor + i * x.inc, w, e);
		free(p);
	}
	return r;
}

int devtable_apply(struct tree *t, const char *text, size_t len, const char *name, struct err *e)
{
	char *buf = xmalloc(len + 1), *lp = buf;
	struct where w = {name, 0};
	int r = 0;
	memcpy(buf, text, len);
	buf[len] = 0;
	for (char *l = buf; l && !r; l = lp) {
		char *nl = strchr(l, '\n');
		lp = nl ? nl + 1 : NULL;
		if (nl)
			*nl = 0;
		w.line++;
		r = apply_line(t, l, &w, e);
	}
	free(buf);
	return r;
}

int devtable_apply_file(struct tree *t, const char *file, struct err *e)
{
	struct sbuf sb = SBUF_INIT;
	int r = read_file(file, 16 << 20, &sb, e);
	if (r == 0)
		r = devtable_apply(t, sb.buf, sb.len, file, e);
	sb_release(&sb);
	return r;
}

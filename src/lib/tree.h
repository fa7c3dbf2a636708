/* tree.h: the in-memory root filesystem model every build stage fills and every writer reads. */
#ifndef CRUMB_TREE_H
#define CRUMB_TREE_H

#include <stdint.h>
#include <sys/types.h>

#include "util.h"

enum tree_type { TREE_DIR, TREE_REG, TREE_LNK, TREE_CHR, TREE_BLK, TREE_FIFO, TREE_SOCK };

struct tree_xattr {
	char *name;
	void *value;
	size_t len;
};

/* A range of a sparse file that holds data; the rest reads as zeros. */
struct tree_extent {
	uint64_t off, len;
};

/*
 * Content that lives inside an image (an ext4 inode, say): read through the
 * reader that opened the image, which must outlive the tree's use of it.
 */
struct tree_reader {
	int (*read)(void *ctx, uint64_t ref, uint64_t off, void *buf, size_t len, struct err *e);
	void *ctx;
};

/*
 * One file in the guest's filesystem. Ownership, modes and device numbers
 * are plain fields: nothing here touches the host, which is why building
 * needs no root. Content of a regular file is either a reference to a host
 * file (src_path, read at write time from src_off for size bytes) or bytes
 * owned by the node (data). All strings and arrays are owned by the node.
 */
struct tree_node {
	char *name; /* one path component; "" for the root */
	struct tree_node *parent;
	enum tree_type type;
	uint32_t mode; /* permission bits only (07777) */
	uint32_t uid, gid;
	int64_t mtime;
	uint32_t rdev_major, rdev_minor; /* TREE_CHR / TREE_BLK */
	char *link;			 /* TREE_LNK target, verbatim */
	char *src_path;			 /* TREE_REG: host file holding the content, or NULL */
	uint64_t src_off;
	uint64_t size;			  /* TREE_REG content length */
	void *data;			  /* TREE_REG: owned content when src_path is NULL */
	const struct tree_reader *reader; /* TREE_REG: content inside an image */
	uint64_t reader_ref;
	struct tree_extent *extents; /* TREE_REG: data ranges of a sparse file, sorted */
	size_t nextents;
	uint64_t hardlink; /* 0, or the id shared by every name of one file */
	struct tree_xattr *xattrs;
	size_t nxattrs;
	struct tree_node **kids; /* TREE_DIR: sorted by name (bytewise) */
	size_t nkids, kids_alloc;
};

struct tree {
	struct tree_node *root;
	uint64_t next_hardlink; /* ids handed out by tree_add_host */
};

void tree_init(struct tree *t);
void tree_release(struct tree *t);

/*
 * Paths are guest paths, absolute or relative to the root. "." components
 * are dropped; ".." and symlinks met in parent components are resolved
 * inside the tree, clamped at its root like chroot, so no path can leave it.
 * A symlink chain longer than 40 links is CRUMB_EUNSAFE.
 */

/* The node at path, following symlinks in parents (and in the last
 * component when follow is set); NULL when absent. */
struct tree_node *tree_lookup(const struct tree *t, const char *path, int follow);

/* Creates (or finds) a node of the given type at path. Missing parents
 * become directories (0755, root-owned, mtime 0). An existing node of
 * another type is replaced (like COPY over a file); an existing directory
 * asked for as a directory is returned as is. *out is owned by the tree. */
int tree_add(struct tree *t, const char *path, enum tree_type type, uint32_t mode,
	     struct tree_node **out, struct err *e);
int tree_add_symlink(struct tree *t, const char *path, const char *target, struct err *e);
int tree_add_data(struct tree *t, const char *path, const void *data, size_t len, uint32_t mode,
		  struct err *e);
int tree_add_device(struct tree *t, const char *path, enum tree_type type, uint32_t mode,
		    uint32_t major, uint32_t minor, struct err *e);

/* Removes path (and everything below it). Missing is not an error. */
int tree_remove(struct tree *t, const char *path, struct err *e);

/*
 * Imports a host file or directory (recursively) at guest path dest.
 * Never opens FIFOs, sockets or devices: they are recorded as nodes.
 * Files become root-owned (the building user's ownership means nothing in
 * the guest); modes and mtimes are kept, hard links inside the import stay
 * hard links, holes of sparse files are recorded (SEEK_DATA/SEEK_HOLE), and
 * user.* xattrs are copied. An unreadable file is an error naming it.
 */
int tree_add_host(struct tree *t, const char *hostpath, const char *dest, struct err *e);

/*
 * Adds the host file at hostpath at the same path in the guest, reproducing
 * every symlink met on the way (/lib -> usr/lib, libz.so.1 -> libz.so.1.2.13)
 * as a symlink node, so the guest sees the same names as the host.
 */
int tree_add_host_follow(struct tree *t, const char *hostpath, struct err *e);

/*
 * Copies the node at src in from (with everything below it) to dest in to,
 * like `cp -a` between two trees: types, modes, owners, mtimes, xattrs,
 * device numbers, symlink targets verbatim. Content is shared by reference
 * (host paths and image readers: from's readers must outlive to's use;
 * owned bytes are duplicated). Hard links among the copied nodes stay hard
 * links, with ids fresh in to. Flags: TREE_COPY_FOLLOW resolves a symlink at
 * src itself; TREE_COPY_KEEP_DIRS leaves the owner, mode and mtime of
 * directories that already exist in to as they were (a merge).
 */
#define TREE_COPY_FOLLOW 1
#define TREE_COPY_KEEP_DIRS 2
int tree_copy(struct tree *to, const char *dest, const struct tree *from, const char *src,
	      int flags, struct err *e);

/* dst's mode, owner, mtime and device numbers become src's; its xattrs are
 * replaced by copies of src's. */
void tree_node_copy_meta(struct tree_node *dst, const struct tree_node *src);

/* dst (a regular file) gets its own copy of src's content: what dst held is
 * freed; host path, image reader and extents (an empty extent list, all
 * holes, included) are copied, owned bytes duplicated. */
void tree_node_copy_content(struct tree_node *dst, const struct tree_node *src);

/* Reads len bytes of a regular file's content at off (within size), from
 * wherever it lives; holes of a sparse file read as zeros. */
int tree_read(const struct tree_node *n, uint64_t off, void *buf, size_t len, struct err *e);

/* Sets (replacing) or adds an xattr on n; the value is copied. */
void tree_set_xattr(struct tree_node *n, const char *name, const void *value, size_t len);
/* Drops (and frees) every extended attribute of n. */
void tree_clear_xattrs(struct tree_node *n);

/* Full guest path of a node ("/" for the root); malloc'd, caller frees. */
char *tree_path(const struct tree_node *n);

/* Calls fn for every node in depth-first pre-order, children in sorted
 * name order, so output built from a walk is deterministic. path is the
 * node's path without the leading "/" ("" for the root). A non-zero return
 * from fn stops the walk and is returned. */
typedef int (*tree_walk_fn)(struct tree_node *n, const char *path, void *ctx);
int tree_walk(struct tree *t, tree_walk_fn fn, void *ctx);

struct tree_stats {
	uint64_t nodes;
	uint64_t bytes; /* sum of regular file sizes */
};
void tree_stats(const struct tree *t, struct tree_stats *st);

#endif

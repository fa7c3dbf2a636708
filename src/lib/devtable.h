/* devtable.h: genext2fs/makefs device tables (crumb mkfs --device-table) applied to a tree. */
#ifndef CRUMB_DEVTABLE_H
#define CRUMB_DEVTABLE_H

#include <stddef.h>

#include "tree.h"
#include "util.h"

/*
 * A device table is text, one entry a line:
 *
 *   PATH TYPE MODE UID GID MAJOR MINOR [START INC COUNT]
 *
 * '#' starts a comment, blank lines are skipped, fields are separated by
 * blanks, tabs or CRs, '-' stands for 0 in a numeric field. PATH is
 * absolute; TYPE one letter: d (a directory, made when missing), f (an
 * existing regular file), l (an existing symlink: only its owner is set),
 * c, b (character/block device), p (FIFO), s (socket). MODE is octal, at
 * most 07777; the other numbers decimal, each at most 2^32-1. With COUNT > 0
 * (at most 65536) the line makes COUNT nodes PATH<START>, PATH<START+1>, ...,
 * the minor number growing by INC. For a path that exists the line sets its
 * mode and owner, on every name of a hard-linked file.
 *
 * The text ends at the first NUL byte, if any. Errors are CRUMB_EFORMAT
 * "NAME:LINE: why" (name is what messages call the table, usually its file
 * name), or the tree's own error at that line; lines before the bad one
 * have been applied to t. Input is untrusted: any bytes give 0 or an error,
 * never a crash, and at most 65536 nodes per line.
 */
int devtable_apply(struct tree *t, const char *text, size_t len, const char *name, struct err *e);

/* Reads file (at most 16 MiB) and applies it with devtable_apply. */
int devtable_apply_file(struct tree *t, const char *file, struct err *e);

#endif

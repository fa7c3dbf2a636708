/* closure.h: resolves the shared-library closure of ELF files the way glibc's ld.so does. */
#ifndef CRUMB_CLOSURE_H
#define CRUMB_CLOSURE_H

#include <stddef.h>

#include "util.h"

/*
 * Nothing is executed or loaded: the files are read with elfinfo_read and
 * the search of glibc 2.36's ld.so is replayed on the host filesystem. For a
 * DT_NEEDED name without '/', the directories tried are, in order:
 *
 *   1. DT_RPATH of the loading object, then of its loader, and so on up to
 *      the executable -- only if the loading object has no DT_RUNPATH (an
 *      object with a DT_RUNPATH has its DT_RPATH ignored, as in ld.so);
 *   2. LD_LIBRARY_PATH is deliberately ignored: the closure is for an image
 *      that runs on another machine, not in this shell's environment;
 *   3. DT_RUNPATH of the loading object only;
 *   4. what ld.so.cache would hold: the directories of /etc/ld.so.conf
 *      (`include` globs expanded in sorted order) then ldconfig's built-in
 *      ones (the default directories below), deduplicated by inode with
 *      the first spelling kept -- so the first directory wins, as in a
 *      cache built by ldconfig; files that are not ELF are skipped there;
 *   5. the default directories: /lib/TRIPLET, /usr/lib/TRIPLET, /lib,
 *      /usr/lib on a multiarch (Debian) host, else /lib64, /usr/lib64 for
 *      64-bit and /lib, /usr/lib for 32-bit objects.
 *   DF_1_NODEFLIB on the loading object skips 5 and the entries of 4 that
 *   lie in the default directories.
 *
 * In each directory the glibc-hwcaps subdirectories (x86-64-v4, v3, v2, up
 * to hwcap_level) and the legacy ones (tls/x86_64/x86_64, tls/x86_64, tls,
 * x86_64/x86_64, x86_64) are tried first, as ld.so 2.36 on x86-64 does.
 * $ORIGIN, ${ORIGIN}, $LIB (lib/TRIPLET on Debian) and $PLATFORM expand in
 * RPATH, RUNPATH and in DT_NEEDED names that contain '/'. A candidate of
 * another ELF class, byte order or machine than the root is skipped; a
 * candidate that is not ELF at all is an error (ld.so stops there too).
 *
 * A name already loaded is not searched again: an object matches a name
 * that it was loaded by, its path or its DT_SONAME (so libc's
 * DT_NEEDED ld-linux-x86-64.so.2 is the interpreter). Two names that reach
 * the same file (same inode) are one object, like ld.so.
 *
 * Paths are reported as found, never realpath'd (/lib is a symlink on
 * merged-/usr hosts): callers reproduce the symlink chains themselves.
 */

struct closure_lib {
	char *name;		/* the DT_NEEDED string, e.g. "libc.so.6" */
	char *path;		/* where the loader finds it, e.g. /lib/x86_64-linux-gnu/libc.so.6;
				   NULL for a name not found (only with allow_missing) */
	struct strlist aliases; /* other paths at which ld.so opens this same file (another
				   DT_NEEDED name that resolves to it); an image needs them too */
};

struct closure {
	char *interp;		  /* interpreter of the first dynamic root, or NULL */
	struct closure_lib *libs; /* in breadth-first load order, each path once */
	size_t nlibs, alloc;
	struct strlist interps; /* every distinct interpreter of the roots, interp first */

	/* Settings, set by closure_init, which the caller may change before closure_add: */
	int origin_realpath; /* 0: $ORIGIN of a root is the directory of the path as given, as
				ldd shows it; 1: of its realpath, as when the kernel execs it
				(ld.so then takes the origin from /proc/self/exe) */
	int hwcap_level;     /* highest x86-64 glibc-hwcaps level searched (2..4), 1 for none;
				init: what this host's CPU supports (the VM runs on it) */
	int allow_missing;   /* 1: a name not found is recorded with path NULL and the closure
				completed (closure_add still returns CRUMB_ENOENT) */

	/* Internal: the ld.so.conf directories, read on first use. */
	struct strlist conf_dirs;
	int conf_loaded;
};

void closure_init(struct closure *c);

/*
 * Adds the closure of the ELF file at path. Cumulative: call again for more
 * roots. Each root is resolved on its own, as ld.so would for that program
 * (its own RPATH chain), then merged: a path already in libs is not repeated.
 * A static ELF adds nothing. Errors: CRUMB_ENOENT for a missing root,
 * interpreter, or DT_NEEDED, e.g. "/usr/bin/foo: libbar.so.1 not found
 * (needed by /usr/lib/x86_64-linux-gnu/libbaz.so.2)"; CRUMB_EFORMAT if the
 * root or a library found is not ELF or is malformed. On error c keeps what
 * earlier calls added (and with allow_missing, this root's libs too).
 */
int closure_add(struct closure *c, const char *path, struct err *e);

/* Frees everything c owns; c can be closure_init'ed again. */
void closure_release(struct closure *c);

#endif

/* elfsyms.h: the dynamic symbols an ELF file imports and exports, which of them libc serves. */
#ifndef CRUMB_ELFSYMS_H
#define CRUMB_ELFSYMS_H

#include <stddef.h>

#include "util.h"

/*
 * Read through libelf (elfutils) from the section headers: .dynsym and its
 * string table, .gnu.version (versym), .gnu.version_r (verneed) and
 * .gnu.version_d (verdef). Every symbol, version entry and string is
 * fetched by libelf's bounds-checked accessors; offsets in the version
 * chains are checked against their section before use and the chains are
 * walked at most as far as their declared counts.
 *
 * Hostile input: a file that is not ELF, is truncated, has a string or
 * version entry out of bounds, a .gnu.version shorter than .dynsym, a
 * symbol whose version index no entry defines, more than ELFSYMS_MAX
 * dynamic symbols or a name longer than ELFSYMS_NAME_MAX is CRUMB_EFORMAT
 * with a one-line message naming the path; never a crash. A file that has
 * a dynamic segment but no section headers (sstrip'ed) is CRUMB_EUNSUPP:
 * these readers do not rebuild the symbol table from DT_SYMTAB and the hash
 * tables. A file with no .dynsym (static, or an object file) has no
 * dynamic symbols: 0 and an empty list.
 *
 * Everything returned is owned by the caller: strings are malloc'd copies
 * (the file is closed before the call returns), freed by elfsyms_release.
 */
#define ELFSYMS_MAX (1u << 21)	    /* dynamic symbols in one file */
#define ELFSYMS_NAME_MAX (1u << 20) /* bytes in one symbol or version name */

enum elfsym_bind {
	ELFSYM_GLOBAL, /* STB_GLOBAL, and STB_GNU_UNIQUE */
	ELFSYM_WEAK,   /* STB_WEAK: an undefined weak symbol may stay unresolved */
};

enum elfsym_type {
	ELFSYM_NOTYPE, /* STT_NOTYPE (and anything else) */
	ELFSYM_FUNC,   /* STT_FUNC, STT_GNU_IFUNC */
	ELFSYM_OBJECT, /* STT_OBJECT, STT_TLS, STT_COMMON */
};

struct elfsym {
	char *name;
	char *version;	       /* "GLIBC_2.34"; NULL when the symbol carries none */
	char *file;	       /* imports: the library the version is needed from (verneed's
				  vn_file, "libc.so.6"); NULL for exports and unversioned ones */
	enum elfsym_bind bind; /* global or weak */
	enum elfsym_type type;
	int hidden; /* exports: a non-default version (name@VER, not name@@VER), which an
		       unversioned reference never binds to */
	int copy;   /* imports: defined in the file itself but versioned against a needed
		       library: a copy-relocated variable (stdout, environ, optarg) */
};

struct elfsyms {
	struct elfsym *v; /* in .dynsym order */
	size_t n, alloc;
	int versioned; /* 1 if the file has a .gnu.version section */
};
#define ELFSYMS_INIT                                                                               \
	{                                                                                          \
		0, 0, 0, 0                                                                         \
	}

void elfsyms_init(struct elfsyms *s);
/* Frees what s owns and leaves it empty (safe on an initialised or failed one). */
void elfsyms_release(struct elfsyms *s);

/*
 * The dynamic symbols path imports: every non-local .dynsym entry with
 * st_shndx == SHN_UNDEF (weak ones included, bind says so), plus the
 * copy-relocated ones (copy = 1). out need not be initialised; on error it
 * is left empty. CRUMB_ENOENT / CRUMB_EIO naming path when it cannot be
 * opened or read, CRUMB_EFORMAT as above.
 */
int elfsyms_imports(const char *path, struct elfsyms *out, struct err *e);

/*
 * The dynamic symbols path defines for others: global, weak and unique
 * .dynsym entries with a section (or SHN_ABS), each with its version from
 * .gnu.version_d (hidden = 1 for a non-default one). The version-name
 * symbols a linker adds (GLIBC_2.2.5 as an absolute object) and
 * copy-relocated imports are left out. Errors as elfsyms_imports.
 */
int elfsyms_exports(const char *path, struct elfsyms *out, struct err *e);

/*
 * 1 if soname (a verneed file or DT_NEEDED name, a bare name or a path) is
 * one of the C library's: glibc's libc.so.6 and ld-linux*.so.*, the parts
 * glibc 2.34 folded into libc.so.6 (libpthread.so.0, libdl.so.2,
 * librt.so.1, libutil.so.1, libanl.so.1), musl's libc.so, libc.musl-*.so.1
 * and ld-musl-*.so.1.
 */
int elfsyms_is_libc(const char *soname);

/*
 * The names among imports that libc serves, sorted bytewise and unique,
 * pushed onto out: a versioned import whose file elfsyms_is_libc, and an
 * unversioned one that libc_exports defines under a default version (or
 * none), as ld.so would bind it. libc_exports may be NULL: then only
 * versioned imports count (a musl binary has none).
 */
void elfsyms_libc_filter(const struct elfsyms *imports, const struct elfsyms *libc_exports,
			 struct strlist *out);

/*
 * elfsyms_libc_filter on elf's imports, with libc_path's exports read for
 * the unversioned ones when libc_path is not NULL (pass the image's libc,
 * e.g. /lib/x86_64-linux-gnu/libc.so.6 or musl's /lib/ld-musl-x86_64.so.1).
 * The names are pushed onto out (left as it was on error). Errors of either
 * file as elfsyms_imports.
 */
int elfsyms_libc_imports(const char *elf, const char *libc_path, struct strlist *out,
			 struct err *e);

/*
 * The system calls (x86_64 kernel names, as libseccomp spells them:
 * "openat", "newfstatat", "pread64") that glibc 2.36's fname may make on
 * Linux, NULL-terminated; static, never freed. NULL when fname makes none
 * (strlen, memcpy, snprintf) or is not in the table. The lists leave out
 * the memory allocator's calls (brk, mmap, ...; see malloc's own entry)
 * that any allocating function may make, and the vDSO's fallbacks are
 * named for the functions that usually make none (time, gettimeofday,
 * clock_gettime). "syscall" itself is not in the table: it makes whatever
 * its caller asks for (elfsyms_report lists it apart). libcsys.c says
 * where the table comes from.
 */
const char *const *libcsys_lookup(const char *fname);
/* The table's function names in order, for listings and tests: the i-th, or NULL past the end. */
const char *libcsys_func(size_t i);

/*
 * Appends to out, for the ELF file elf, its libc imports (elfsyms_libc_imports
 * with libc_path) and the system calls they map to (libcsys_lookup):
 *
 *   ELF: N libc imports; M map to traced system calls
 *     traced: open(openat) printf(write) ...      the traced calls each may make
 *     untraced: fork(clone) ...                    imports none of whose calls was traced
 *     no system call: memcpy strlen ...
 *     direct: syscall                              when syscall() is imported
 *     may call: accept brk clone ...               every call the imports may make, sorted
 *
 * traced (sorted or not) holds the system call names a trace of the
 * program saw; with traced NULL the first line reads "M make system calls"
 * and the imports that make calls are listed under "calling:" instead of
 * traced/untraced.
 * Empty lists are left out; long ones wrap at 100 columns, indented. Errors
 * as elfsyms_libc_imports; on error out holds what it held before.
 */
int elfsyms_report(const char *elf, const char *libc_path, const struct strlist *traced,
		   struct sbuf *out, struct err *e);

#endif

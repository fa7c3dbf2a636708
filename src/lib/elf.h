/* elf.h: reads what the loader needs from an ELF file (interpreter, DT_NEEDED, RPATH, SONAME). */
#ifndef CRUMB_ELF_H
#define CRUMB_ELF_H

#include <stdint.h>

#include "util.h"

/*
 * Everything is read through libelf (elfutils): program headers, the
 * dynamic section and its string table, each access bounds-checked by
 * libelf. The section headers are used when present; a file without them
 * (sstrip'ed) is read through PT_DYNAMIC and DT_STRTAB like ld.so does.
 * Absurd sizes (an interpreter path over 4 KiB, more than 65536 dynamic
 * entries or 4096 DT_NEEDED) are CRUMB_EFORMAT, never a crash.
 *
 * All strings in struct elfinfo are owned by it (malloc'd copies; the file
 * is closed before elfinfo_read returns) and freed by elfinfo_release.
 */
struct elfinfo {
	int elfclass;	       /* ELFCLASS32 / ELFCLASS64 */
	int machine;	       /* e_machine */
	int osabi_data;	       /* EI_DATA (endianness) */
	int type;	       /* e_type: ET_EXEC, ET_DYN, ... */
	char *interp;	       /* PT_INTERP path or NULL (static) */
	struct strlist needed; /* DT_NEEDED in order */
	char *rpath;	       /* DT_RPATH or NULL (even when a DT_RUNPATH overrides it) */
	char *runpath;	       /* DT_RUNPATH or NULL */
	char *soname;	       /* DT_SONAME or NULL */
	int dynamic;	       /* 1 if the file has a PT_DYNAMIC segment */
	uint64_t flags_1;      /* DT_FLAGS_1 (DF_1_NODEFLIB, DF_1_PIE, ...), 0 if absent */
};

/* 1 if path is a regular file that starts with the ELF magic, 0 if it is
 * not (including FIFOs, devices and directories, which are never opened),
 * CRUMB_ENOENT if it does not exist, CRUMB_EIO if it cannot be read. */
int elfinfo_is_elf(const char *path, struct err *e);

/* Fills info (which need not be initialised) from the file at path.
 * CRUMB_ENOENT if missing, CRUMB_EIO if unreadable, CRUMB_EFORMAT (message
 * naming path) if it is not a regular file, not ELF or malformed. On error
 * info is left empty (elfinfo_release is still safe to call). */
int elfinfo_read(const char *path, struct elfinfo *info, struct err *e);

/* elfinfo_read of len bytes in memory (a file inside an image); name is for messages. */
int elfinfo_read_mem(const void *buf, size_t len, const char *name, struct elfinfo *info,
		     struct err *e);

/* Frees what info owns and zeroes it. */
void elfinfo_release(struct elfinfo *info);

#endif

/* trace.h: reads what crumb-init's trace of a service recorded (crumb run --trace FILE; the
 * records are written by the guest: src/init/trace.h). */
#ifndef CRUMB_TRACE_H
#define CRUMB_TRACE_H

#include <stddef.h>

#include "util.h"

#define TRACE_MAX_FAMILIES 64

/* What a trace says the service (every thread and child) did. */
struct trace {
	struct strlist syscalls; /* names as the guest's table spells them, sorted, unique */
	struct strlist files;	 /* absolute paths the calls named or mapped, sorted, unique */
	struct strlist execs;	 /* absolute paths executed, sorted, unique */
	unsigned char family[TRACE_MAX_FAMILIES]; /* socket(2)/socketpair(2) domains seen */
	size_t nprocs;				  /* processes seen */
	int ended;				  /* the end record came */
	size_t records, unknown;		  /* lines read; of those, of kinds not known */
};

void trace_init(struct trace *t);
void trace_release(struct trace *t);

/*
 * Parses len bytes of records into t (initialised by the caller). The trace
 * comes from the guest, so nothing in it is believed beyond its syntax: a
 * missing or other version line, a line over 16 KiB, a record with missing or
 * extra fields, a path that is not absolute or holds a NUL or a bad escape, a
 * name not [a-z0-9_]+, a family or type out of range: CRUMB_EFORMAT naming
 * what (e.g. "trace line 12: ..."). Records of unknown kinds are counted and
 * skipped (a newer crumb-init). A last line without its newline is dropped (a
 * cut trace; t->ended tells).
 */
int trace_parse(const char *buf, size_t len, struct trace *t, struct err *e);

/* trace_parse of a file, at most 256 MiB. */
int trace_read(const char *path, struct trace *t, struct err *e);

#endif

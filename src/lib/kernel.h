/* kernel.h: builds the crumb kernel from Debian's linux-source and keeps it in the store. */
#ifndef CRUMB_KERNEL_H
#define CRUMB_KERNEL_H

#include <stdint.h>

#include "proc.h"

#define KERNEL_DEFAULT_TARBALL "/usr/src/linux-source-6.1.tar.xz"

/* The fragment in kernel/crumb.config, compiled in. */
extern const char kernel_fragment[];

struct kernel_opts {
	const char *tarball;   /* NULL: KERNEL_DEFAULT_TARBALL */
	const char *fragment;  /* config fragment text; NULL: kernel_fragment */
	int jobs;	       /* make -j; 0: online CPUs */
	proc_line_fn progress; /* gets "== stage" lines and make's output; may be NULL */
	void *ctx;
};

/* A built kernel in the store: <store>/kernels/<id>/{vmlinux,config,info}. */
struct kernel_info {
	char *id; /* 16 hex digits: hash of source identity + fragment + recipe */
	char *dir;
	char *vmlinux;
	char *release; /* `make kernelrelease`, e.g. 6.1.158 */
	char *source;  /* the tarball it came from */
	uint64_t size; /* bytes of vmlinux */
	double build_seconds;
	int64_t built; /* unix time */
};
void kernel_info_release(struct kernel_info *ki);

/* The id a build with these options has. Needs the tarball to exist. */
int kernel_id(const struct kernel_opts *o, char id[17], struct err *e);

/* Finds the kernel these options build; CRUMB_ENOENT if it was never built. */
int kernel_lookup(const char *store, const struct kernel_opts *o, struct kernel_info *ki,
		  struct err *e);

/*
 * Builds the kernel unless the store has it (then *cached = 1 and nothing
 * runs): extracts the tarball once into <store>/cache, runs `make
 * tinyconfig`, merges the fragment, checks that every option the fragment
 * sets (and every "is not set") holds in the final .config, builds vmlinux
 * with fixed build user/host/timestamp, and moves the result into the store
 * atomically. Holds <store>/kernels/.lock meanwhile.
 */
int kernel_build(const char *store, const struct kernel_opts *o, struct kernel_info *ki,
		 int *cached, struct err *e);

/* All kernels in the store, sorted by build time (newest first). */
int kernel_list(const char *store, struct kernel_info **list, size_t *n, struct err *e);

/*
 * Compares a fragment with a final .config: every "CONFIG_X=v" line must
 * appear verbatim, every "# CONFIG_X is not set" must not be set. On a
 * mismatch returns CRUMB_EFORMAT listing the options.
 */
int kernel_check_config(const char *fragment, const char *config, struct err *e);

#endif

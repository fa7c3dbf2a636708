/* minimize.h: a stored image cut down to what a trace of its service used (crumb minimize):
 * the files, and a system-call allowlist (LABEL crumb.seccomp). */
#ifndef CRUMB_MINIMIZE_H
#define CRUMB_MINIMIZE_H

#include <stdint.h>

#include "oci.h"
#include "trace.h"
#include "util.h"

struct minimize_opts {
	const char *image;	     /* the image the trace ran (a store reference) */
	const char *tag;	     /* the new image's reference (NULL: untagged) */
	const struct trace *trace;   /* what the service did (trace_read) */
	const struct strlist *keep;  /* globs of guest paths kept whatever the trace says
					(fnmatch without FNM_PATHNAME: '*' crosses '/');
					NULL: none */
	int all_files;		     /* 1: keep every file (only the allowlist changes) */
	int no_seccomp;		     /* 1: no allowlist (only the files are cut) */
	const struct strlist *allow; /* system calls allowed besides the traced ones */
};

struct minimize_result {
	struct oci_desc manifest;	      /* the new image */
	char from[80];			      /* the traced image's manifest digest */
	uint64_t files_before, files_after;   /* regular files and symlinks */
	uint64_t bytes_before, bytes_after;   /* their content bytes */
	uint64_t stored_before, stored_after; /* the root filesystem layer as stored */
	uint64_t image_before, image_after;   /* the whole image as stored */
	size_t nsyscalls;		      /* calls allowed (the implicit ones too) */
	char *allowlist;		      /* crumb.seccomp's value; NULL with no_seccomp */
	char *features;			      /* crumb.minimized.kernel's value */
	struct strlist unknown_calls;	      /* traced names libseccomp does not know */
};
void minimize_result_release(struct minimize_result *r);

/*
 * Writes the image o->image minus every regular file and symlink the trace
 * did not name (opened, executed, mapped, stat'ed, read as a link — the links
 * on the way to them stay too, and the interpreters the kernel itself opens
 * for what was executed: PT_INTERP, #!) and o->keep does not match, as a new image
 * (same kernel layer, same config) with the labels
 *   crumb.seccomp            the traced system calls (sysfilter.h), socket
 *                            limited to the traced families
 *   crumb.minimized.from     the traced image's manifest digest
 *   crumb.minimized.kernel   what the trace touched of the kernel:
 *                            "net=AF_... fs=proc,... dev=/dev/null,..."
 * Always kept: every directory and device node, crumb-init and its config
 * (/sbin/crumb-init, /etc/crumb), /etc/passwd and /etc/group (crumb-init
 * reads them for USER before the trace starts). The root filesystem keeps its
 * kind (ext4 stays ext4; a cpio becomes a zstd cpio) and its times (clamped
 * to the image's created time): the same image, trace and options give the
 * same digest. An incomplete trace (no end record) is CRUMB_EFORMAT.
 */
int minimize_image(struct oci_store *s, const struct minimize_opts *o, struct minimize_result *res,
		   struct err *e);

/*
 * The report `crumb inspect --minimal` prints, appended to out: the image,
 * what it was minimised from (files, content bytes, stored sizes before and
 * after, when the store still has that image), the allowlist (crumb.seccomp)
 * and its size, the kernel features of the trace, and for each ELF file its
 * libc imports and the system calls they map to, against the allowlist
 * (elfsyms_report). An image that was never minimised gets its sizes and
 * "all" calls.
 */
int minimize_report(struct oci_store *s, const char *image, struct sbuf *out, struct err *e);

#endif

/* sysfilter.h: an image's system-call allowlist (LABEL crumb.seccomp): parsed, checked, written
 * back in one canonical form, and compiled with libseccomp into the BPF program crumb-init
 * installs before it execs the service (src/init/config.h, "seccomp"). */
#ifndef CRUMB_SYSFILTER_H
#define CRUMB_SYSFILTER_H

#include <stddef.h>

#include "util.h"

/*
 * The label's grammar: items separated by white space, each a system call
 * name as the kernel (and libseccomp) spells it for x86_64 ("openat",
 * "newfstatat"), or socket with the address families it may open:
 *
 *   LABEL crumb.seccomp="accept4 bind close ... socket(AF_INET,AF_INET6,AF_UNIX)"
 *
 * A family is AF_NAME (sysfilter_family_name's names) or a number 0..63.
 * "socket" alone allows every family. Duplicates are merged; order does not
 * matter (the canonical form is sorted). The calls crumb-init itself needs
 * to start the service and that no program can do without (SYSFILTER_IMPLICIT)
 * are always allowed and need not be listed, and so are the five the vDSO
 * answers in user space (clock_gettime, clock_getres, gettimeofday, time,
 * getcpu): they become real system calls only when the kernel's clocksource
 * cannot be read from user space (an unstable TSC under a loaded TCG host),
 * so a trace may not see them and a later run may need them.
 */
#define SYSFILTER_IMPLICIT                                                                         \
	"clock_getres clock_gettime execve exit exit_group getcpu gettimeofday restart_syscall "   \
	"rt_sigreturn time"
#define SYSFILTER_MAX_FAMILIES 64

struct sysfilter {
	struct strlist names; /* sorted, unique; "socket" among them if allowed */
	int socket_families;  /* 1: socket is limited to the families below */
	unsigned char family[SYSFILTER_MAX_FAMILIES]; /* family[f] = 1: AF f allowed */
};

void sysfilter_init(struct sysfilter *f);
void sysfilter_release(struct sysfilter *f);

/* Parses a label value into f (initialised by the caller, added to). CRUMB_EINVAL naming the
 * item: an unknown system call, an unknown family, "(...)" after a call other than socket,
 * a malformed item. */
int sysfilter_parse(const char *label, struct sysfilter *f, struct err *e);

/* Adds one call by name (CRUMB_EINVAL when libseccomp does not know it). */
int sysfilter_add(struct sysfilter *f, const char *name, struct err *e);
/* Allows socket(2) for family (0..63); limits socket to the families added. */
void sysfilter_add_family(struct sysfilter *f, unsigned family);

/* The canonical label value: the names sorted, socket as socket(AF_...,...) when limited.
 * malloc'd. */
char *sysfilter_render(const struct sysfilter *f);

/* How many calls it allows, the implicit ones included. */
size_t sysfilter_count(const struct sysfilter *f);

/*
 * The BPF program (struct sock_filter[], out gets its bytes): x86_64 only
 * (another architecture, or an x32 call, kills the process), the allowed
 * calls return SECCOMP_RET_ALLOW, every other number SECCOMP_RET_USER_NOTIF
 * (crumb-init answers: EPERM and a console line, or a kill). The same f gives
 * the same bytes. CRUMB_EIO when libseccomp fails.
 */
int sysfilter_compile(const struct sysfilter *f, struct sbuf *out, struct err *e);

/* "AF_INET" for 2; NULL for a family without a name here. */
const char *sysfilter_family_name(unsigned family);
/* 2 for "AF_INET" (also "2"); -1 when unknown or over 63. */
int sysfilter_family_parse(const char *s);

/* The x86_64 name of system call nr (libseccomp's table), malloc'd, or NULL. */
char *sysfilter_syscall_name(int nr);
/* The number of a name, or -1. */
int sysfilter_syscall_nr(const char *name);

#endif

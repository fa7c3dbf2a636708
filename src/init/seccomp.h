/* seccomp.h: the service's system-call filter and trace, served through seccomp user notifications.
 */
#ifndef CRUMB_INIT_SECCOMP_H
#define CRUMB_INIT_SECCOMP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/types.h>

/*
 * How it works (config.h "seccomp", "seccomp_action", "trace")
 *
 * crumb-init forks the service's process and, right after it, a
 * supervisor process, joined by a pipe. The service's process, after its
 * chdir and setuid and just before execve (seccomp_install):
 *   1. finds the fd number T its listener will get (the lowest free one:
 *      the process is single-threaded) and writes it to the pipe;
 *   2. installs the filter with seccomp(2), flag NEW_LISTENER (without
 *      CAP_SYS_ADMIN, e.g. as a non-root user, it sets no_new_privs and
 *      tries again): the config's program, or with trace one that
 *      notifies every call of the guest's ABI (AUDIT_ARCH_X86_64) and
 *      kills a process that uses another;
 *   3. makes the handshake call SECCOMP_SYNC_NR, a number no kernel has,
 *      which the filter notifies: it blocks until the supervisor answers,
 *      so nothing of the service runs before the supervisor serves.
 * The supervisor (seccomp_supervise) reads T, copies fd T out of the
 * service's process with pidfd_getfd (seccomp_take), answers the handshake
 * with 0 and then every notification (seccomp_serve) until no process uses
 * the filter any more: in enforce mode it fails the call with EPERM (or
 * kills the caller: seccomp_action kill) after a console line; in trace
 * mode it records the call (trace.h) and lets it run
 * (SECCOMP_USER_NOTIF_FLAG_CONTINUE). Under the filter crumb-init makes
 * only the handshake, then execve (the PATH search may try several), and
 * write and exit_group should that fail: what any service needs, so an
 * allowlist made from a trace needs nothing for crumb-init.
 *
 * Failures: a filter that cannot be installed ends the service's process
 * with a warning and status 126 (it never runs unfiltered). A supervisor
 * that cannot take the listener warns and kills the service's process
 * (which would wait in the handshake for ever). A supervisor that dies
 * later leaves the filter without a listener: the calls it would have
 * been asked about fail with ENOSYS.
 */

/* The handshake: a number below the x32 bit (0x40000000) that no
 * architecture's kernel gives a call. The host's program must notify it. */
#define SECCOMP_SYNC_NR 0x3ff0
/* The kernel's limit on a filter's length (BPF_MAXINSNS). */
#define SECCOMP_INSNS_MAX 4096

/* What the service gets; trace wins over prog. */
struct seccomp_conf {
	const unsigned char *prog; /* enforce: struct sock_filter[] in the guest's byte order */
	size_t len;		   /* its bytes: a multiple of 8, 8..8 * SECCOMP_INSNS_MAX */
	int kill;		   /* enforce: a denied call kills its process (else EPERM) */
	int trace;		   /* trace every call instead (trace.h) */
};

/*
 * The kernel's ABI, which musl's headers lack (linux/seccomp.h,
 * linux/filter.h, linux/bpf_common.h, linux/audit.h as of Linux 6.x). The
 * names end in '_' so they never clash with those headers where they exist.
 */
#define SECCOMP_SET_MODE_FILTER_ 1
#define SECCOMP_FILTER_FLAG_NEW_LISTENER_ (1UL << 3)
#define SECCOMP_RET_KILL_PROCESS_ 0x80000000U
#define SECCOMP_RET_USER_NOTIF_ 0x7fc00000U
#define SECCOMP_RET_ALLOW_ 0x7fff0000U
#define SECCOMP_USER_NOTIF_FLAG_CONTINUE_ 1U
#define BPF_LD_W_ABS_ 0x20 /* BPF_LD | BPF_W | BPF_ABS */
#define BPF_JEQ_K_ 0x15	   /* BPF_JMP | BPF_JEQ | BPF_K */
#define BPF_RET_K_ 0x06	   /* BPF_RET | BPF_K */
#define AUDIT_ARCH_X86_64_ 0xc000003eU
#define AUDIT_ARCH_AARCH64_ 0xc00000b7U

struct sock_filter_ {
	uint16_t code;
	uint8_t jt, jf;
	uint32_t k;
};

struct sock_fprog_ {
	unsigned short len;
	struct sock_filter_ *filter;
};

struct seccomp_data_ {
	int nr;
	uint32_t arch;
	uint64_t instruction_pointer;
	uint64_t args[6];
};

struct seccomp_notif_ {
	uint64_t id;
	uint32_t pid; /* the calling thread's id */
	uint32_t flags;
	struct seccomp_data_ data;
};

struct seccomp_notif_resp_ {
	uint64_t id;
	int64_t val;
	int32_t error;
	uint32_t flags;
};

#define SECCOMP_DATA_NR_OFF_ 0
#define SECCOMP_DATA_ARCH_OFF_ 4
#define SECCOMP_IOCTL_NOTIF_RECV_ _IOWR('!', 0, struct seccomp_notif_)
#define SECCOMP_IOCTL_NOTIF_SEND_ _IOWR('!', 1, struct seccomp_notif_resp_)
#define SECCOMP_IOCTL_NOTIF_ID_VALID_ _IOW('!', 2, uint64_t)

/*
 * The service's side, in its process after fork and setuid, just before
 * execve: steps 1-3 above; sync_fd is the pipe's write end (O_CLOEXEC: it
 * goes with the execve). Returns 0 once the supervisor has answered, or -1
 * with a one-line message in err (errlen bytes): then the filter may be
 * installed already, and the caller must _exit without exec.
 */
int seccomp_install(const struct seccomp_conf *sc, int sync_fd, char *err, size_t errlen);

/*
 * The supervisor's first step: reads T from sync_fd and copies fd T out of
 * child with pidfd_getfd (needs ptrace access to it: CAP_SYS_PTRACE, or the
 * same user and a dumpable child), retrying every 2 ms until the filter is
 * there, up to 10 s. Returns 0 with *listener set; 1 when the child ended
 * (or closed the pipe) before installing a filter: nothing to serve; -1
 * with a message in err (the caller should kill the child, which would
 * wait in the handshake).
 */
int seccomp_take(pid_t child, int sync_fd, int *listener, char *err, size_t errlen);

/*
 * Answers listener's notifications until no process uses the filter any
 * more: child's handshake with 0 (not recorded), then each call as sc says.
 * Trace records go to out (blocking writes; -1: none, every call still
 * runs); console lines ("crumb-init: seccomp: ...") to log. Returns 0 at
 * the end (after the trace's "end"), -1 after a line on log when the
 * listener fails. It reads the callers' /proc entries and, for paths,
 * their memory (/proc/PID/mem: ptrace access, as for seccomp_take); what
 * it reads there belongs to the traced programs: bounded reads, every
 * byte escaped, and nothing counts unless the call is still pending
 * afterwards (SECCOMP_IOCTL_NOTIF_ID_VALID: the pid was not reused).
 */
int seccomp_serve(int listener, pid_t child, const struct seccomp_conf *sc, int out, int log);

/*
 * The supervisor process's whole life, for crumb-init (it never returns):
 * default signals, the trace port (waiting for it up to 3 s), then
 * seccomp_take and seccomp_serve; warnings on stderr.
 */
void seccomp_supervise(pid_t child, int sync_fd, const struct seccomp_conf *sc)
    __attribute__((noreturn));

/* The name of system call nr as trace.h gives it ("openat"), or "syscall_N" written into buf. */
const char *seccomp_sysname(long nr, char *buf, size_t len);

/* Writes n bytes of s into out (cap bytes, NUL-terminated) with trace.h's escaping: every byte
 * below 0x21, from 0x7f up, and '\' as \xHH. Stops before a byte that would not fit; returns
 * the length written. */
size_t seccomp_escape(char *out, size_t cap, const char *s, size_t n);

#endif

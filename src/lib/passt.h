/* passt.h: this VM's passt (https://passt.top), the user-mode network behind the guest's card. */
#ifndef CRUMB_PASST_H
#define CRUMB_PASST_H

#include <sys/types.h>

#include "util.h"
#include "vmconf.h"

/*
 * User networking without published ports is passt (Debian's passt), one per
 * VM: passt_spawn starts it with one end of a socketpair (--fd), QEMU gets
 * the other end (-netdev stream,addr.type=fd on VM_NET_FD; vm_qemu_argv) and
 * passt_stop kills it when QEMU exits; it also exits by itself when its
 * socket closes (crumb and QEMU killed by any signal), so no passt outlives
 * its VM. The guest sees slirp's addresses (10.0.2.15/24, gateway 10.0.2.2,
 * DNS 10.0.2.3 forwarded to the host's first resolver) but, with
 * --no-map-gw, the gateway is NOT the host's loopback: a guest cannot reach
 * a service listening on the host's 127.0.0.1. A VM with published ports gets
 * QEMU's slirp with restrict=on instead (a second card, VM_INBOUND_NET): the
 * forwards work, the guest reaches nothing through it (passt 2023.03, Debian
 * 12's, loses what a guest sends first on a forwarded connection: an SSH
 * banner). passt_argv maps ports to passt's -t/-u, used with
 * CRUMB_NETDEV=passt (passt even with ports). $CRUMB_PASST overrides the
 * program; CRUMB_NETDEV=slirp uses an unrestricted slirp for all (vm_qemu_net).
 * Both are for bench/net.sh (an open slirp maps 10.0.2.2 to the host's loopback).
 */

/* Finds passt: env->passt ($CRUMB_PASST; env may be NULL), else passt in PATH.
 * Missing: CRUMB_ENOENT with an install hint. *out is malloc'd. */
int passt_find(const struct hostenv *env, char **out, struct err *e);

/* passt's argv (NULL-terminated, malloc'd strings; vm_argv_free) with passt as
 * argv[0], talking on fd; forwards c's ports only when c->net_passt_ports. */
char **passt_argv(const struct vm_config *c, const char *passt, int fd);

/* A running passt, as crumb holds it. PASST_INIT before passt_spawn. */
struct passt {
	pid_t pid;  /* -1: none (never started, or reaped) */
	int sock;   /* QEMU's end of its socket (the child's VM_NET_FD); -1 once handed over */
	int errfd;  /* passt's stderr, read by passt_read_stderr; -1 once it ended */
	int failed; /* it exited with a failure while the VM ran */
	struct sbuf line; /* the stderr line being read (at most 200 bytes kept) */
	char msg[256];	  /* its last stderr line that names a reason */
};
/* clang-format off */
#define PASST_INIT {-1, -1, -1, 0, SBUF_INIT, ""}
/* clang-format on */

/* Starts c's passt (passt_find, c->env) as a child in its own process group
 * that dies with crumb, its stdin/stdout on /dev/null. 0, or CRUMB_ENOENT /
 * CRUMB_EIO (socketpair, pipe, fork) with nothing left open. */
int passt_spawn(const struct vm_config *c, struct passt *p, struct err *e);

/* Reads what passt wrote on stderr, once its errfd polls readable. Returns 0
 * while it runs; 1 when its stderr ended (it exited): it is reaped when that
 * takes at most a second, and a failed exit sets p->failed (the caller ends
 * the VM: its network is gone). */
int passt_read_stderr(struct passt *p);

/* Ends passt (SIGKILL unless already reaped), waits for it, closes what crumb
 * holds of it and frees p's buffers; p->failed and p->msg stay. Idempotent. */
void passt_stop(struct passt *p);

#endif

/* passt.c: finds, starts, watches and stops the passt that serves one VM's network. */
#include "passt.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

int passt_find(const struct hostenv *env, char **out, struct err *e)
{
	return vm_find_program(NULL, env ? env->passt : NULL, env ? env->path : NULL, "passt",
			       "passt",
			       ": the guest's network needs it (install Debian's passt, or use "
			       "--net none)",
			       out, e);
}

char **passt_argv(const struct vm_config *c, const char *passt, int fd)
{
	struct strlist l = STRLIST_INIT;
	/* -f: stay our child; -4: the guest has no IPv6; --no-map-gw: 10.0.2.2 is
	 * not the host's loopback. Addresses as slirp's, which crumb-init sets. */
	const char *fixed[] = {"-f", "-q", "-4",       "-a",	      "10.0.2.15",     "-n",
			       "24", "-g", "10.0.2.2", "--no-map-gw", "--dns-forward", "10.0.2.3",
			       NULL};
	strlist_push(&l, passt);
	for (int i = 0; fixed[i]; i++)
		strlist_push(&l, fixed[i]);
	strlist_push(&l, "-F");
	strlist_push_owned(&l, xasprintf("%d", fd));
	/* Explicit -u: otherwise passt also forwards UDP for every TCP port. */
	int have[2] = {0, 0};
	for (size_t i = 0; c->net_passt_ports && i < c->nports; i++) {
		const struct vm_port *p = &c->ports[i];
		have[p->udp] = 1;
		strlist_push(&l, p->udp ? "-u" : "-t");
		strlist_push_owned(&l,
				   xasprintf("%s/%u:%u", p->host_ip, p->host_port, p->guest_port));
	}
	for (int u = 0; u < 2; u++)
		if (!have[u]) {
			strlist_push(&l, u ? "-u" : "-t");
			strlist_push(&l, "none");
		}
	strlist_push_owned(&l, NULL);
	return l.v;
}

/* In the child: passt's fds in place, then exec. It gets PR_SET_PDEATHSIG,
 * but passt started as root changes to nobody, which clears it: what ends it
 * then is its socket closing, with QEMU and crumb gone (--fd implies --one-off). */
static void passt_exec(char **argv, pid_t parent, int sock, int errw)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	setpgid(0, 0); /* a Ctrl-C is crumb's to handle, as for QEMU */
	int null = open("/dev/null", O_RDWR);
	dup2(null, 0);
	dup2(null, 1);
	dup2(errw, 2);
	if (sock == VM_NET_FD)
		fcntl(sock, F_SETFD, 0);
	else
		dup2(sock, VM_NET_FD);
	execv(argv[0], argv);
	dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

int passt_spawn(const struct vm_config *c, struct passt *p, struct err *e)
{
	char *passt;
	int r = passt_find(c->env, &passt, e);
	if (r < 0)
		return r;
	int sv[2], pe[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		free(passt);
		return err_errno(e, CRUMB_EIO, "socketpair");
	}
	if (pipe2(pe, O_CLOEXEC) < 0) {
		close(sv[0]);
		close(sv[1]);
		free(passt);
		return err_errno(e, CRUMB_EIO, "pipe");
	}
	char **argv = passt_argv(c, passt, VM_NET_FD);
	free(passt);
	pid_t parent = getpid();
	p->pid = fork();
	if (p->pid == 0)
		passt_exec(argv, parent, sv[1], pe[1]);
	int fork_errno = errno;
	vm_argv_free(argv);
	close(sv[1]);
	close(pe[1]);
	if (p->pid < 0) {
		close(sv[0]);
		close(pe[0]);
		errno = fork_errno;
		return err_errno(e, CRUMB_EIO, "fork");
	}
	p->sock = sv[0];
	p->errfd = pe[0];
	return 0;
}

/* Keeps the last line that says something: its chatter when run as root
 * without a syslog is no reason. */
static void take_lines(struct passt *p, const char *buf, ssize_t got)
{
	for (ssize_t k = 0; k < got; k++) {
		if (buf[k] != '\n') {
			if (p->line.len < 200)
				sb_addc(&p->line, buf[k]);
			continue;
		}
		if (p->line.len && !strstr(p->line.buf, "syslog") &&
		    !strstr(p->line.buf, "Changing to nobody"))
			snprintf(p->msg, sizeof(p->msg), "%s", p->line.buf);
		sb_reset(&p->line);
	}
}

int passt_read_stderr(struct passt *p)
{
	char buf[4096];
	ssize_t got = read(p->errfd, buf, sizeof(buf));
	take_lines(p, buf, got);
	if (got > 0 || (got < 0 && errno == EINTR))
		return 0;
	/* Its stderr ends as it exits: give it a second to be reaped. */
	int ws = 0;
	pid_t w = 0;
	for (int t = 0; t < 100 && (w = waitpid(p->pid, &ws, WNOHANG)) == 0; t++)
		usleep(10000);
	close(p->errfd);
	p->errfd = -1;
	if (w == p->pid) {
		p->pid = -1;
		if (!(WIFEXITED(ws) && WEXITSTATUS(ws) == 0))
			p->failed = 1;
	}
	return 1;
}

void passt_stop(struct passt *p)
{
	if (p->sock >= 0)
		close(p->sock);
	if (p->errfd >= 0)
		close(p->errfd);
	p->sock = p->errfd = -1;
	if (p->pid > 0) {
		kill(p->pid, SIGKILL);
		while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	p->pid = -1;
	sb_release(&p->line);
}

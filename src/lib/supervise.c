/* supervise.c: one VMM process from fork to exit: a poll loop over its output, input and helpers.
 */
#include "supervise.h"
#include "console.h"
#include "vmm_alt.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

/* The console pipe's size with the console port (F_SETPIPE_SZ). */
#define CONSOLE_PIPE_SIZE (1 << 20)

/* The poll set, by role. */
enum {
	FD_OUT,	   /* the VMM's stdout: the guest's console */
	FD_ERR,	   /* its stderr */
	FD_SERIAL, /* with c->vcon: the UART (the kernel's lines; the console is FD_OUT) */
	FD_STDIN,  /* crumb's stdin (interactive) */
	FD_VMIN,   /* the VMM's stdin pipe, written without blocking */
	FD_EVENTS, /* cloud-hypervisor's events */
	FD_PASST,  /* passt's stderr: its end before the VMM's, with a failure, ends the VM */
	NFDS
};

/* One supervised VMM. */
struct sv {
	const struct vm_config *c;
	struct supervise_plan *p;
	struct vm_result *res;
	pid_t pid;
	struct pollfd fds[NFDS];
	int vm_in;	     /* the write end of the VMM's stdin pipe, or -1 */
	int open_fds;	     /* of FD_OUT, FD_ERR, FD_SERIAL: the loop runs while one is open */
	int gave_up;	     /* the probe's deadline passed */
	int guest_reset;     /* killed for cloud-hypervisor's reboot event */
	struct console con;  /* FD_OUT's stream */
	struct console ucon; /* FD_SERIAL's, following con */
	struct sbuf uart;    /* FD_SERIAL's bytes held back while con is mid-line (uart_flush) */
	int vcon_spoke;	     /* FD_OUT has given a byte (with c->vcon) */
	int ack;	     /* 1: VM_CONSOLE_ACK is due (the exit marker came); 2: queued */
	struct sbuf errline; /* the VMM's stderr line being read */
	struct sbuf events;  /* cloud-hypervisor's event stream so far (1 MiB at most) */
	char inbuf[4096];    /* crumb's stdin, not yet written to the VMM */
	size_t inlen, inoff;
	int in_eof;
	char buf[1 << 16];
};

double supervise_deadline(int probe, double t_spawn, double t_init, double timeout)
{
	double deadline = 0;
	if (probe && !t_init)
		deadline = t_spawn + ACCEL_PROBE_SECONDS;
	if (timeout > 0 && (!deadline || t_spawn + timeout < deadline))
		deadline = t_spawn + timeout;
	return deadline;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* The fds the plan hands over, once the child has them (or it never will). */
static void close_plan(struct supervise_plan *p)
{
	close_fd(&p->extra_fd);
	close_fd(&p->events_fd);
	if (p->passt)
		close_fd(&p->passt->sock); /* QEMU's now: passt sees its end close with QEMU */
}

static void result_reset(struct vm_result *res, enum accel a)
{
	memset(res, 0, sizeof(*res));
	res->accel = a;
	res->status = -1;
	res->g_init = res->g_exec = res->g_exit = -1;
	res->g_ready = res->g_stopping = res->g_restart = -1;
}

/* Gives fd the number want in the child (the parent's copies are close-on-exec). */
static void child_fd(int fd, int want)
{
	if (fd == want)
		fcntl(fd, F_SETFD, 0);
	else if (fd >= 0)
		dup2(fd, want);
}

/* In the child: its fds in place, then exec. */
static void child_exec(const struct supervise_plan *p, const int po[2], const int pe[2],
		       const int pi[2], int ser)
{
	/* The VMM must not outlive crumb, whatever kills crumb. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* Its own process group: a Ctrl-C on crumb's terminal reaches crumb,
	 * which decides (-t sends it to the guest instead). */
	setpgid(0, 0);
	if (p->stdin_pipe)
		dup2(pi[0], 0);
	else
		dup2(open("/dev/null", O_RDONLY), 0);
	dup2(po[1], 1);
	dup2(pe[1], 2);
	/* Out of the way of the numbers below first, then into place. */
	int alt = p->extra_fd >= 0 ? fcntl(p->extra_fd, F_DUPFD, 64) : -1;
	int net = p->passt ? fcntl(p->passt->sock, F_DUPFD, 64) : -1;
	ser = ser >= 0 ? fcntl(ser, F_DUPFD, 64) : -1;
	child_fd(alt, VM_ALT_FD);
	child_fd(net, VM_NET_FD);
	child_fd(ser, VM_SERIAL_FD);
	execv(p->argv[0], p->argv);
	dprintf(2, "exec %s: %s\n", p->argv[0], strerror(errno));
	_exit(127);
}

/* Forks the VMM and sets the poll set up. */
static int sv_start(struct sv *s, struct err *e)
{
	struct supervise_plan *p = s->p;
	int po[2] = {-1, -1}, pe[2] = {-1, -1}, pi[2] = {-1, -1}, ps[2] = {-1, -1};
	const char *failed = NULL;
	if (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0 ||
	    (p->stdin_pipe && pipe2(pi, O_CLOEXEC) < 0) || (s->c->vcon && pipe2(ps, O_CLOEXEC) < 0))
		failed = "pipe";
	s->res->t_spawn = now_monotonic();
	if (!failed && (s->pid = fork()) < 0)
		failed = "fork";
	if (failed) {
		int saved = errno;
		int *all[] = {&po[0], &po[1], &pe[0], &pe[1], &pi[0], &pi[1], &ps[0], &ps[1]};
		for (int i = 0; i < 8; i++)
			close_fd(all[i]);
		close_plan(p);
		errno = saved;
		return err_errno(e, CRUMB_EIO, "%s", failed);
	}
	if (s->pid == 0)
		child_exec(p, po, pe, pi, ps[1]);
	/* Room for QEMU to write ahead: a full pipe throttles the console port,
	 * and the guest with it, until this loop comes round (best effort: the
	 * limit is /proc/sys/fs/pipe-max-size, 1 MiB by default). */
	if (s->c->vcon)
		fcntl(po[0], F_SETPIPE_SZ, CONSOLE_PIPE_SIZE);
	close(po[1]);
	close(pe[1]);
	close_fd(&pi[0]);
	close_fd(&ps[1]);
	s->vm_in = pi[1];
	s->open_fds = ps[0] >= 0 ? 3 : 2;
	struct pollfd fds[NFDS] = {{po[0], POLLIN, 0},
				   {pe[0], POLLIN, 0},
				   {ps[0], POLLIN, 0},
				   {-1, POLLIN, 0},
				   {-1, POLLOUT, 0},
				   {p->events_fd, POLLIN, 0},
				   {p->passt ? p->passt->errfd : -1, POLLIN, 0}};
	memcpy(s->fds, fds, sizeof(fds));
	p->events_fd = -1; /* the poll set's now */
	close_fd(&p->extra_fd);
	if (p->passt)
		close_fd(&p->passt->sock);
	if (s->c->interactive || s->c->vcon)
		fcntl(s->vm_in, F_SETFL, O_NONBLOCK);
	return 0;
}

static int readable(const struct pollfd *f)
{
	return f->fd >= 0 && (f->revents & (POLLIN | POLLHUP | POLLERR));
}

static void on_passt(struct sv *s)
{
	if (passt_read_stderr(s->p->passt) == 0)
		return;
	s->fds[FD_PASST].fd = -1; /* passt_read_stderr closed it */
	if (s->p->passt->failed)
		kill(s->pid, SIGKILL);
}

static void on_events(struct sv *s)
{
	int fd = s->fds[FD_EVENTS].fd;
	ssize_t got = read(fd, s->buf, sizeof(s->buf));
	if (got > 0 && s->events.len < (1 << 20)) {
		sb_add(&s->events, s->buf, (size_t)got);
		if (!s->guest_reset && vm_alt_saw_reboot(s->events.buf)) {
			s->guest_reset = 1;
			kill(s->pid, SIGKILL);
		}
	} else if (got == 0 || (got < 0 && errno != EINTR)) {
		close_fd(&s->fds[FD_EVENTS].fd);
	}
}

static void on_stdin(struct sv *s)
{
	ssize_t got = read(0, s->inbuf, sizeof(s->inbuf));
	if (got > 0) {
		s->inlen = (size_t)got;
		s->inoff = 0;
	} else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
		/* The guest's console has no EOF: ^D ends a line-mode read. */
		s->in_eof = 1;
		s->inbuf[0] = 4;
		s->inlen = 1;
		s->inoff = 0;
	}
}

static void on_vm_stdin(struct sv *s)
{
	ssize_t w = write(s->vm_in, s->inbuf + s->inoff, s->inlen);
	if (w > 0) {
		s->inoff += (size_t)w;
		s->inlen -= (size_t)w;
	} else if (w < 0 && errno != EINTR && errno != EAGAIN) {
		s->inlen = 0; /* the VMM is gone: its output will end too */
		s->in_eof = 1;
	}
}

/* Keeps the VMM's last stderr line (400 bytes at most). */
static void take_err(struct sv *s, const char *buf, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		if (buf[k] == '\n') {
			if (s->errline.len)
				snprintf(s->res->qemu_error, sizeof(s->res->qemu_error), "%s",
					 s->errline.buf);
			sb_reset(&s->errline);
		} else if (s->errline.len < 400) {
			sb_addc(&s->errline, buf[k]);
		}
	}
}

/* Feeds n UART bytes to their console and the log. */
static void uart_feed(struct sv *s, const char *buf, size_t n)
{
	if (!n)
		return;
	if (s->c->console_fd > 0)
		vm_write_all(s->c->console_fd, buf, n);
	console_feed(&s->ucon, buf, n, now_monotonic());
}

/*
 * The UART's held bytes, as far as they can go without cutting the virtio
 * console's text apart (on the user's screen and in the log, where `crumb
 * logs` reads both as one stream): while the virtio console has said nothing
 * (the boot; a guest without the port) all of them; else whole lines, when the
 * virtio console is between lines and markers; all with `all` (the end) or
 * when 64 KiB are held.
 */
static void uart_flush(struct sv *s, int all)
{
	size_t n = s->uart.len;
	if (!n)
		return;
	if (!all && s->vcon_spoke && n < 65536) {
		if (!console_at_boundary(&s->con))
			return;
		while (n && s->uart.buf[n - 1] != '\n')
			n--;
	}
	uart_feed(s, s->uart.buf, n);
	memmove(s->uart.buf, s->uart.buf + n, s->uart.len - n);
	s->uart.len -= n;
	s->uart.buf[s->uart.len] = 0;
}

/* The VMM's stdout (i = FD_OUT), stderr (FD_ERR) or UART (FD_SERIAL). */
static void on_output(struct sv *s, int i)
{
	ssize_t got = read(s->fds[i].fd, s->buf, sizeof(s->buf));
	if (got < 0 && errno == EINTR)
		return;
	if (got <= 0) {
		close_fd(&s->fds[i].fd);
		s->open_fds--;
		if (i != FD_ERR)
			uart_flush(s, 1);
		return;
	}
	if (i == FD_ERR) {
		take_err(s, s->buf, (size_t)got);
		return;
	}
	if (!s->res->t_first_byte)
		s->res->t_first_byte = now_monotonic();
	if (i == FD_SERIAL) {
		sb_add(&s->uart, s->buf, (size_t)got);
		uart_flush(s, 0);
		return;
	}
	if (s->c->console_fd > 0)
		vm_write_all(s->c->console_fd, s->buf, (size_t)got); /* a full disk loses log
									  bytes, never the VM */
	console_feed(&s->con, s->buf, (size_t)got, now_monotonic());
	s->vcon_spoke = s->c->vcon;
	uart_flush(s, 0);
}

/* One poll and what it found; 1 when the VMM was killed at a deadline. */
static int sv_step(struct sv *s)
{
	const struct vm_config *c = s->c;
	struct vm_result *res = s->res;
	double deadline = supervise_deadline(s->p->probe, res->t_spawn, res->t_init, c->timeout);
	int timeout = -1;
	if (deadline) {
		double left = deadline - now_monotonic();
		timeout = left > 0 ? (int)(left * 1000) + 1 : 0;
	}
	if (s->ack == 1 && !s->inlen) {
		/* After the exit marker the guest reads nothing but the ack. */
		memcpy(s->inbuf, VM_CONSOLE_ACK, sizeof(VM_CONSOLE_ACK) - 1);
		s->inlen = sizeof(VM_CONSOLE_ACK) - 1;
		s->inoff = 0;
		s->ack = 2;
	}
	if (c->interactive)
		/* Input typed before the service runs would be lost to the
		 * guest setting its console up: hold it until the exec marker. */
		s->fds[FD_STDIN].fd =
		    !s->in_eof && s->inlen == 0 && res->t_exec && !s->ack ? 0 : -1;
	s->fds[FD_VMIN].fd = s->inlen ? s->vm_in : -1;
	int n = poll(s->fds, NFDS, timeout);
	if (n < 0 && errno == EINTR)
		return 0;
	/* A chatty guest keeps poll busy: look at the clock every time. */
	if (n == 0 || (deadline && now_monotonic() >= deadline)) {
		if (c->timeout > 0 && now_monotonic() >= res->t_spawn + c->timeout)
			res->timed_out = 1;
		else
			s->gave_up = 1;
		kill(s->pid, SIGKILL);
		return 1;
	}
	if (readable(&s->fds[FD_PASST]))
		on_passt(s);
	if (readable(&s->fds[FD_EVENTS]))
		on_events(s);
	if (readable(&s->fds[FD_STDIN]))
		on_stdin(s);
	if (s->fds[FD_VMIN].fd >= 0 && (s->fds[FD_VMIN].revents & (POLLOUT | POLLHUP | POLLERR)))
		on_vm_stdin(s);
	for (int i = FD_OUT; i <= FD_SERIAL; i++)
		if (readable(&s->fds[i]))
			on_output(s, i);
	return 0;
}

/* Closes what is left, reaps the VMM and records how it ended. */
static void sv_finish(struct sv *s)
{
	struct vm_result *res = s->res;
	close_fd(&s->fds[FD_OUT].fd);
	close_fd(&s->fds[FD_ERR].fd);
	close_fd(&s->fds[FD_SERIAL].fd);
	uart_flush(s, 1);
	close_fd(&s->fds[FD_EVENTS].fd);
	close_fd(&s->vm_in);
	if (s->errline.len)
		snprintf(res->qemu_error, sizeof(res->qemu_error), "%s", s->errline.buf);
	int ws;
	while (waitpid(s->pid, &ws, 0) < 0 && errno == EINTR)
		;
	res->t_end = now_monotonic();
	res->qemu_status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
	if (s->guest_reset && WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL)
		res->qemu_status = 0; /* killed for the guest's reset: its way to power off */
	console_release(&s->con);
	console_release(&s->ucon);
	sb_release(&s->uart);
	sb_release(&s->events);
	sb_release(&s->errline);
}

/* The console port's markers: the user's, then the ack crumb-init waits for to power off. */
static void sv_event(void *ctx, const char *name, const struct vm_result *res)
{
	struct sv *s = ctx;
	if (s->c->event)
		s->c->event(s->c->event_ctx, name, res);
	if (s->c->vcon && !s->ack && (!strcmp(name, "exit") || !strcmp(name, "error")))
		s->ack = 1;
}

static void sv_console(struct sv *s, vm_output_fn out, void *ctx)
{
	const struct vm_config *c = s->c;
	console_init(&s->con, s->res, c->verbose, out, ctx);
	console_set_key(&s->con, c->marker_key);
	s->con.trust_unsigned = c->foreign_init;
	s->con.event = sv_event;
	s->con.event_ctx = s;
	s->con.klog = c->vcon ? NULL : c->klog; /* the kernel speaks on the UART only */
	if (c->klog)
		vm_klog_reset(c->klog);
	console_init(&s->ucon, s->res, c->verbose, out, ctx);
	console_follow(&s->ucon, &s->con);
	s->ucon.event = c->event;
	s->ucon.event_ctx = c->event_ctx;
	s->ucon.klog = c->klog;
}

int supervise_run(const struct vm_config *c, struct supervise_plan *p, vm_output_fn out, void *ctx,
		  struct vm_result *res, struct err *e)
{
	struct sv *s = xcalloc(1, sizeof(*s));
	s->c = c;
	s->p = p;
	s->res = res;
	s->vm_in = -1;
	result_reset(res, p->accel);
	int r = sv_start(s, e);
	if (r < 0) {
		free(s);
		return r;
	}
	res->qemu_pid = (int)s->pid;
	if (c->event)
		c->event(c->event_ctx, "spawn", res);
	sv_console(s, out, ctx);
	while (s->open_fds && !sv_step(s))
		;
	sv_finish(s);
	int gave_up = s->gave_up;
	free(s);
	if (p->probe && (gave_up || (!res->t_init && res->qemu_status)))
		return 1;
	return 0;
}

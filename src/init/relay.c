/* relay.c: crumb-init's console over a virtio-serial port: a pty for the guest, a thread copying.
 */
#include "relay.h"
#include "vport.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The port takes at most 32 KiB a write: one write a batch of master reads. */
#define RELAY_OUT 32768
/* A batch this big says more is coming: wait for it, yielding up to RELAY_YIELDS times. */
#define RELAY_BUSY 4096
#define RELAY_YIELDS 8
/* The output pipe's size: room for the service to write ahead. */
#define RELAY_PIPE_SIZE (1 << 20)

static struct {
	int master, pipe, port;
	int master_gone; /* read EIO: no slave is open and all it wrote is copied */
	int pipe_gone;	 /* read EOF: no write end is open and all of it is copied */
	int port_eof;	 /* the port reads EOF: the host is gone, no ack will come */
	size_t ackpos;	 /* how much of RELAY_ACK the port has given (it may come before
			    master_gone: the host acks the exit marker as soon as it reads it) */
	char out[RELAY_OUT];
	char in[4096]; /* from the port, not yet written to the master */
	size_t inlen, inoff;
	int running;
	volatile int done; /* set by the thread, read by relay_finish */
} R;			   /* zeroed (.bss, not 36 KB of the binary): relay_start sets the fds */

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Writes all of buf to the port (blocking: the host's pace is the guest's). */
static int port_write(const char *buf, size_t n)
{
	while (n) {
		ssize_t w = write(R.port, buf, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		buf += w;
		n -= (size_t)w;
	}
	return 0;
}

/* fd's output (the pipe's or the master's), in batches, to the port; *gone at EOF or EIO. */
static void from_fd(int fd, int *gone)
{
	for (;;) {
		size_t n = 0;
		ssize_t r = 0;
		int yields = 0;

		while (n < sizeof(R.out)) {
			r = read(fd, R.out + n, sizeof(R.out) - n);
			if (r < 0 && errno == EINTR)
				continue;
			/* A stream in full flow comes a line discipline's buffer (4 KiB)
			 * at a time: let the writer refill it, and send bigger batches
			 * (each write to the port costs an exit to the VMM). */
			if (r < 0 && errno == EAGAIN && n >= RELAY_BUSY &&
			    yields++ < RELAY_YIELDS) {
				sched_yield();
				continue;
			}
			if (r <= 0)
				break;
			n += (size_t)r;
		}
		if (n && port_write(R.out, n) < 0)
			R.port_eof = 1;
		if (r == 0 || (r < 0 && errno != EAGAIN)) {
			*gone = 1;
			return;
		}
		if (r < 0)
			return; /* EAGAIN: nothing more now */
	}
}

static int acked(void)
{
	return R.ackpos == sizeof(RELAY_ACK) - 1;
}

/* The port's input: for the master while it lives; the ack counts either way. */
static void from_port(void)
{
	ssize_t r = read(R.port, R.in, sizeof(R.in));

	if (r < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (r <= 0) {
		R.port_eof = 1;
		return;
	}
	for (ssize_t i = 0; i < r && !acked(); i++)
		R.ackpos = R.in[i] == RELAY_ACK[R.ackpos] ? R.ackpos + 1 : R.in[i] == RELAY_ACK[0];
	if (!R.master_gone) {
		R.inlen = (size_t)r;
		R.inoff = 0;
	}
}

static void to_master(void)
{
	ssize_t w = write(R.master, R.in + R.inoff, R.inlen);

	if (w > 0) {
		R.inoff += (size_t)w;
		R.inlen -= (size_t)w;
	} else if (w < 0 && errno != EINTR && errno != EAGAIN) {
		R.inlen = 0;
	}
}

static void *relay_main(void *arg)
{
	(void)arg;
	while (!R.port_eof && !(R.master_gone && R.pipe_gone && acked())) {
		struct pollfd p[3] = {
		    {R.pipe_gone ? -1 : R.pipe, POLLIN, 0},
		    {R.master_gone ? -1 : R.master, (short)(POLLIN | (R.inlen ? POLLOUT : 0)), 0},
		    {R.inlen ? -1 : R.port, POLLIN, 0}};

		if (R.master_gone && R.inlen)
			R.inlen = 0, p[2].fd = R.port;
		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR))
			from_fd(R.pipe, &R.pipe_gone);
		if (p[1].revents & POLLOUT)
			to_master();
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR))
			from_fd(R.master, &R.master_gone);
		if (p[2].revents & (POLLIN | POLLHUP | POLLERR))
			from_port();
	}
	R.done = 1;
	return NULL;
}

/* /dev/vportNpM of the port named RELAY_PORT_NAME, opened; -1 when not (yet) there. */
static int port_open(void)
{
	return vport_open(RELAY_PORT_NAME, O_RDWR | O_CLOEXEC, NULL, 0);
}

/* The output pipe: its read end (non-blocking, 1 MiB when the kernel allows) in R.pipe. */
static int pipe_open(int *out)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	fcntl(p[0], F_SETPIPE_SZ, RELAY_PIPE_SIZE);
	fcntl(p[0], F_SETFL, O_RDONLY | O_NONBLOCK);
	R.pipe = p[0];
	*out = p[1];
	return 0;
}

/* A pty: the master (non-blocking) in R.master, the slave opened. */
static int pty_open(int *slave, char *path, size_t pathlen)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);

	if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0 || ptsname_r(m, path, pathlen) != 0 ||
	    (*slave = open(path, O_RDWR | O_NOCTTY)) < 0) {
		if (m >= 0)
			close(m);
		return -1;
	}
	fcntl(m, F_SETFL, O_RDWR | O_NONBLOCK);
	R.master = m;
	return 0;
}

int relay_start(int wait_ms, int *slave, int *out, char *slave_path, size_t pathlen, char *err,
		size_t errlen)
{
	long long until = now_ms() + wait_ms;
	pthread_t t;
	pthread_attr_t a;
	int r;

	R.master = R.pipe = -1;
	while ((R.port = port_open()) < 0 && now_ms() < until)
		sleep_ms(2);
	if (R.port < 0) {
		snprintf(err, errlen, "no virtio-serial port %s", RELAY_PORT_NAME);
		return -1;
	}
	if (pty_open(slave, slave_path, pathlen) < 0 || pipe_open(out) < 0) {
		snprintf(err, errlen, "pty or pipe: %s", strerror(errno));
		if (R.master >= 0)
			close(*slave), close(R.master);
		close(R.port);
		return -1;
	}
	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, 64 * 1024);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	r = pthread_create(&t, &a, relay_main, NULL);
	pthread_attr_destroy(&a);
	if (r != 0) {
		snprintf(err, errlen, "relay thread: %s", strerror(r));
		close(*slave);
		close(*out);
		close(R.master);
		close(R.pipe);
		close(R.port);
		return -1;
	}
	R.running = 1;
	return 0;
}

int relay_running(void)
{
	return R.running;
}

void relay_finish(int wait_ms)
{
	long long until = now_ms() + wait_ms;

	while (R.running && !R.done && now_ms() < until)
		sleep_ms(1);
}

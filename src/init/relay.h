/* relay.h: crumb-init's console over a virtio-serial port: a pty for the guest, a thread copying.
 */
#ifndef CRUMB_INIT_RELAY_H
#define CRUMB_INIT_RELAY_H

#include <stddef.h>

/*
 * The host's fast console (src/lib/vmm_qemu.c) is a virtio-serial port named
 * RELAY_PORT_NAME. Why not hvc0 (QEMU's virtconsole): QEMU drops what a
 * console port writes whenever its chardev would block (the host reading
 * slower than the guest writes), while a plain port is throttled and loses
 * nothing. A thread of crumb-init copies to the port, in batches of up to
 * 32 KiB: stdout and stderr are one pipe (1 MiB), as fast as a TCG guest
 * copies; stdin is a pty (a controlling terminal for job control and ^C, the
 * window size, ^D as EOF, as the serial console was), whose input comes from
 * the port (crumb run -i) and whose output (a program writing to /dev/tty;
 * with -t, everything: the service then has the pty as 0, 1 and 2) goes to
 * the port too. Through a pty, 2 KiB at a time, a TCG guest moves ~5x less.
 * crumb-init's markers go into the pipe, each in one write (atomic, under
 * PIPE_BUF), in order with the service's output.
 *
 * The end: relay_finish waits until the host has read everything (the pipe
 * reads EOF and the master EIO once no one holds them; then the host's
 * RELAY_ACK, sent when it has read the exit or error marker), so that
 * powering off loses nothing that QEMU still held.
 */

#define RELAY_PORT_NAME "crumb.console" /* VM_CONSOLE_PORT in src/lib/vmconf.h */
#define RELAY_ACK "\006crumb:ack\n"	/* VM_CONSOLE_ACK in src/lib/vmconf.h */

/* Finds the port by name (its ports come asynchronously: looks for up to
 * wait_ms), opens a pty and a pipe and starts the thread. 0 with *slave (the
 * pty's slave, O_RDWR | O_NOCTTY), *slave_path and *out (the pipe's write
 * end); -1 with a message in err when there is no port, pty or pipe. */
int relay_start(int wait_ms, int *slave, int *out, char *slave_path, size_t pathlen, char *err,
		size_t errlen);

/* Whether relay_start succeeded. */
int relay_running(void);

/* Call with every fd of the slave closed (stop everything first): waits up to
 * wait_ms for the thread to copy the rest and for the host's RELAY_ACK. */
void relay_finish(int wait_ms);

#endif

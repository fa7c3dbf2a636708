/* supervise.h: runs one VMM process to its end: its console, input, deadlines, passt, exit. */
#ifndef CRUMB_SUPERVISE_H
#define CRUMB_SUPERVISE_H

#include "passt.h"
#include "util.h"
#include "vmconf.h"

/* What one boot runs: built by vmm.c from the config (vm_qemu_argv or
 * vm_alt_argv, vm_alt_fds, passt_spawn). The supervisor closes the fds it is
 * handed; the argv stays the caller's. */
struct supervise_plan {
	char **argv;	     /* the VMM's argv; argv[0] a path */
	enum accel accel;    /* what it runs on (res->accel) */
	int probe;	     /* a KVM probe boot: give up when crumb-init has not
				spoken within ACCEL_PROBE_SECONDS */
	int stdin_pipe;	     /* 1: the VMM's stdin is a pipe, fed from crumb's stdin
				when c->interactive (its EOF becomes a ^D), else never
				written (firecracker and cloud-hypervisor poll their
				stdin, which /dev/null does not allow); 0: /dev/null */
	int extra_fd;	     /* -1, or the child's VM_ALT_FD (vm_alt_fds) */
	int events_fd;	     /* -1, or cloud-hypervisor's event stream: "rebooting"
				(a guest reset; crumb's kernel has no ACPI power-off)
				ends the VM as a clean exit */
	struct passt *passt; /* NULL, or this VM's passt (passt_spawn): its sock becomes
				the child's VM_NET_FD; its failed exit ends the VM
				(passt->failed is set; the caller reports it) */
};

/*
 * Starts p->argv as a child in its own process group (a Ctrl-C on crumb's
 * terminal is crumb's to handle) that dies with crumb (PR_SET_PDEATHSIG), and
 * follows it until it exits: its stdout is the guest's console, fed to the
 * console parser (console.h; out gets what the user should see, c->event the
 * markers, "spawn" first) and copied to c->console_fd. With c->vcon that is
 * the console port (the service's output, the markers) and the UART comes on
 * a second pipe, the child's VM_SERIAL_FD, parsed by a console that follows
 * the first: its text is shown and logged only between the port's lines
 * (whole lines; 64 KiB at most held back); once the port's exit or error
 * marker is in, VM_CONSOLE_ACK goes to the VMM's stdin (a pipe then, input or
 * not), which lets crumb-init power off (src/init/relay.h). Its stderr's last line
 * lands in res->qemu_error; with c->interactive, crumb's stdin is forwarded
 * once the exec marker has come (input typed earlier would be lost to the
 * guest setting its console up), written without blocking so that a guest
 * that does not read never stalls the output. It is killed at c->timeout
 * (res->timed_out) or at the probe's deadline. res is reset first (statuses
 * -1, guest times -1) and filled: times, markers, qemu_status (128+signal
 * when killed; 0 when killed for cloud-hypervisor's reboot event).
 *
 * Returns 0 when the VMM ran; 1 for a probe boot that gave up or exited with
 * a failure before crumb-init spoke; CRUMB_EIO (pipe, fork) when it did not
 * start (p's fds closed all the same).
 */
int supervise_run(const struct vm_config *c, struct supervise_plan *p, vm_output_fn out, void *ctx,
		  struct vm_result *res, struct err *e);

/* When the supervisor kills the VM, as a CLOCK_MONOTONIC time (0: never): the
 * earlier of the probe's deadline (probe and crumb-init not yet heard from,
 * t_init 0) and t_spawn + timeout (timeout > 0). */
double supervise_deadline(int probe, double t_spawn, double t_init, double timeout);

#endif

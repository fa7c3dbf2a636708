/* markers.h: the console marker protocol crumb-init speaks to the host (the host parses it). */
#ifndef CRUMB_INIT_MARKERS_H
#define CRUMB_INIT_MARKERS_H

/*
 * crumb-init writes markers to the console (its fd 1), each with a single
 * write(), interleaved with whatever the service prints:
 *
 *   0x02 "crumb:" NAME " " TIME [" " FIELD]... 0x03
 *
 * No newline follows. TIME is CLOCK_BOOTTIME as seconds with exactly six
 * decimals ("0.712345"): the guest's uptime, so the host can line it up with
 * the kernel's own boot. The console's output post-processing (OPOST, so
 * "\n" -> "\r\n") is switched off right after the first marker, so the host
 * sees the service's bytes as written.
 *
 *   crumb:init TIME          first thing PID 1 does
 *   crumb:exec TIME          config read and system set up; just before the
 *                            service is forked
 *   crumb:exit TIME STATUS   the service ended and everything was stopped and
 *                            synced; STATUS is decimal 0..255: the exit code,
 *                            or 128+N when killed by signal N; 126 when the
 *                            program could not be executed, 127 when it was
 *                            not found. Power-off follows.
 *   crumb:error TIME MESSAGE a fatal init error (missing or bad config, /proc
 *                            or /dev not mountable, fork failed); MESSAGE is
 *                            printable ASCII (other bytes become '?'), spaces
 *                            allowed, no 0x02/0x03. Power-off follows.
 *
 * Human-readable warnings go to stderr (the console too) as lines starting
 * with "crumb-init: ". Power-off is reboot(RB_AUTOBOOT): with "reboot=t" on
 * the kernel command line and QEMU's -no-reboot, QEMU exits.
 */

#define MARKER_START '\x02'
#define MARKER_END '\x03'
#define MARKER_PREFIX "crumb:"

#endif

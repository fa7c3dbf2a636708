/* markers.h: the console marker protocol crumb-init speaks to the host (the host parses it). */
#ifndef CRUMB_INIT_MARKERS_H
#define CRUMB_INIT_MARKERS_H

/*
 * crumb-init writes markers to the console (its fd 1), each with a single
 * write(), interleaved with whatever the service prints:
 *
 *   0x02 "crumb:" NAME " " TIME [" " FIELD]... " " SEQ ":" TAG 0x03
 *
 * No newline follows.
 *
 * Any program in the guest can write those bytes too, so the host believes
 * a marker only when it is signed: SEQ is 1 for the boot's first marker and
 * counts up by one; TAG is HMAC-SHA256, cut to its first 16 bytes and written
 * as 32 lowercase hex digits, keyed with the boot's marker key (32 random
 * bytes the host makes for each boot and hands over on a channel only
 * crumb-init reads: config.h, "The marker key"), over
 *   "crumb-marker " SEQ "\n" followed by the marker from "crumb:" up to
 *   (not including) the " SEQ:TAG" trailer.
 * The host acts on a marker only if its TAG is right and its SEQ is larger
 * than any it accepted before (no replay); anything else is the program's
 * output, shown as such (src/lib/console.h). Without a key crumb-init writes
 * no trailer (and a crumb host believes none of its markers).
 *
 * Keeping the key from the service: crumb-init reads it before its first
 * marker and wipes every copy the guest could reach (config.h); it makes
 * itself non-dumpable and drops CAP_SYS_MODULE, CAP_SYS_RAWIO,
 * CAP_SYS_PTRACE, CAP_PERFMON and CAP_BPF from the bounding set of every
 * program it starts (services and build steps, root included, as Docker's
 * default set does), so that no program can read the key out of PID 1's
 * memory (/proc/1/mem, ptrace, pidfd_getfd) or out of the kernel's
 * (/dev/mem, /proc/kcore, modules, BPF). Left open: a kernel that lets
 * CAP_SYS_ADMIN load tracing BPF (not the crumb kernel, which has no BPF). TIME is CLOCK_BOOTTIME
 * as seconds with exactly six decimals ("0.712345"): the guest's uptime, so the host can line it up
 * with the kernel's own boot. The console's output post-processing (OPOST, so
 * "\n" -> "\r\n") is switched off right after the first marker, so the host
 * sees the service's bytes as written (unless the config has "tty 1": then
 * the console is a cooked terminal, "\r\n" included; markers hold no "\n").
 *
 *   crumb:init TIME          PID 1's first marker: once /proc, /sys and
 *                            /dev are mounted and the marker key is read
 *   crumb:snapshot TIME      config key "snapshot 1" (crumb warm): crumb-init
 *                            has done what is the same for every instance
 *                            and waits on the control port for a restore
 *                            request (below); the host snapshots the VM now
 *                            (QMP stop + migrate) and quits QEMU. After a
 *                            restore crumb-init says init again, signed
 *                            with the restore's key, SEQ from 1.
 *   crumb:exec TIME          config read and system set up (volumes mounted,
 *                            network up); just before the service (or the
 *                            first build step) is forked
 *   crumb:ready TIME PORT... every `ready` port of the config has a LISTEN
 *                            socket in the guest (/proc/net/tcp{,6}); the
 *                            ports in config order. At most once per boot.
 *   crumb:restart TIME N STATUS
 *                            the service is being started again under its
 *                            restart policy: the Nth restart (1, 2, ...),
 *                            after a run that ended with STATUS (as in exit)
 *   crumb:stopping TIME WHY  a stop request arrived; WHY is "ctl" (the
 *                            control port), "SIGTERM" or "SIGINT" (sent to
 *                            crumb-init, e.g. Ctrl-Alt-Del gives SIGINT).
 *                            stop_signal goes to the service's process
 *                            group, SIGKILL after stop_timeout seconds;
 *                            then the usual exit. At most once per boot.
 *   crumb:step TIME INDEX STATUS LABEL
 *                            build mode: step INDEX (1-based) ended with
 *                            STATUS (as in exit) and what it left running
 *                            was killed; LABEL is the step line's value
 *                            (may be empty, '?' for non-printable bytes,
 *                            cut to fit). A non-zero STATUS ends the build.
 *   crumb:exit TIME STATUS   the service ended and everything was stopped,
 *                            disk and 9p filesystems unmounted (or
 *                            remounted read-only) and synced; STATUS is
 *                            decimal 0..255: the exit code, or 128+N when
 *                            killed by signal N; 126 when the program could
 *                            not be executed (or its workdir or user could
 *                            not be entered), 127 when it was not found.
 *                            After a restart policy: the last run's. Build
 *                            mode: the last step's status (128+stop_signal
 *                            when stopped between steps). Power-off follows.
 *   crumb:error TIME MESSAGE a fatal init error (missing or bad config, /proc
 *                            or /dev not mountable, a volume that does not
 *                            mount, an unknown user or group, fork failed);
 *                            MESSAGE is printable ASCII (other bytes become
 *                            '?'), spaces allowed, no 0x02/0x03. Running
 *                            processes are killed, filesystems unmounted,
 *                            power-off follows.
 *
 * A whole marker, framing and trailer included, is at most 500 bytes
 * (MESSAGE and LABEL are cut to fit): the host treats a run of more than 512
 * bytes after 0x02 as plain text. Hosts
 * must ignore marker names they do not know.
 *
 * The control port (the host's side of a graceful stop)
 *   The host adds a virtio-serial port named "crumb.ctl":
 *     -device virtio-serial-device
 *     -chardev socket,id=crumbctl,path=SOCK,server=on,wait=off
 *     -device virtserialport,chardev=crumbctl,name=crumb.ctl
 *   crumb-init opens /dev/vportNpM whose /sys/class/virtio-ports/vportNpM/
 *   name is "crumb.ctl" (it looks for up to 5 s after boot while a virtio
 *   console device exists). The host connects to SOCK whenever it likes
 *   and writes lines ("\n"-terminated, "\r\n" accepted, at most 127 bytes):
 *     stop                  a stop request (as SIGTERM to crumb-init)
 *     winsize ROWS COLS     new window size of the console (tty 1); the
 *                           kernel sends SIGWINCH to the service
 *     restore KEY SEED SEC NSEC LEN
 *                           only while waiting at the snapshot point, the
 *                           first line the port carries: KEY the new
 *                           marker key (64 hex digits), SEED 64 bytes of
 *                           host entropy (128 hex digits), SEC.NSEC the
 *                           host's CLOCK_REALTIME, LEN (decimal, at most
 *                           the config's limit) the bytes of the
 *                           instance's config that follow the line.
 *                           crumb-init takes the key (the old one is
 *                           forgotten; SEQ starts again), mixes SEED into
 *                           the kernel's pool and reseeds it
 *                           (RNDADDENTROPY + RNDRESEEDCRNG), sets the
 *                           clock, then boots the config as after a cold
 *                           start from its hostname on.
 *   Unknown lines are ignored with a warning. crumb-init writes nothing to
 *   the port. Requests written before the guest opened the port wait in
 *   QEMU's socket; the host may close the connection right after writing.
 *
 * Human-readable warnings go to stderr (the console too) as lines starting
 * with "crumb-init: ". Power-off is reboot(RB_AUTOBOOT): with "reboot=t" on
 * the kernel command line and QEMU's -no-reboot, QEMU exits.
 */

#define MARKER_START '\x02'
#define MARKER_END '\x03'
#define MARKER_PREFIX "crumb:"

#endif

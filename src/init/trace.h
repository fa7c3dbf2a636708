/* trace.h: the format crumb-init writes to the crumb.trace port when it traces the service. */
#ifndef CRUMB_INIT_TRACE_H
#define CRUMB_INIT_TRACE_H

/*
 * With "trace 1" (config.h) crumb-init's seccomp supervisor (seccomp.h)
 * sees every system call of the service, its threads and its children, and
 * writes what they used to the virtio-serial port TRACE_PORT_NAME. The host
 * (crumb run --trace, crumb minimize) reads it to learn which calls and
 * files a service needs.
 *
 * Transport
 *   The guest only writes. Writes block while the host does not read (a
 *   QEMU file chardev always reads), and the traced call waits meanwhile.
 *   Without the port crumb-init warns once on the console and writes
 *   nothing; the service runs all the same. A write error stops the
 *   records (one warning), never the service.
 *
 * Lines
 *   Text lines ending '\n', at most TRACE_LINE_MAX bytes with the '\n'.
 *   Fields are separated by exactly one space (0x20). Inside a field, every
 *   byte below 0x21, from 0x7f up, and the backslash is written \xHH (two
 *   lowercase hex digits); nothing else is escaped. PATH and COMM come
 *   from the traced programs, which choose them: the host must treat every
 *   line as untrusted, skip kinds it does not know (a newer guest may add
 *   some) and ignore lines it cannot parse.
 *
 * Records, in the order things were first seen
 *   crumb-trace 1        the first line: the format's version (TRACE_HEADER)
 *   proc PID COMM        a process (thread group) not seen before made a
 *                        call: PID in the guest, decimal; COMM its
 *                        /proc/PID/comm then (a new child still has its
 *                        parent's name until it execs). Once per PID.
 *   sys NAME             the first call of each system call: NAME as in
 *                        musl's <sys/syscall.h> without SYS_ (x86-64
 *                        names: "openat", "newfstatat"), "syscall_N" for a
 *                        number N it does not know. Once per call.
 *   file NAME PATH       a call NAME that names a file: open, openat,
 *                        openat2, creat, execve, execveat, stat, lstat,
 *                        newfstatat, statx, access, faccessat, faccessat2,
 *                        readlink(at), chdir, chroot, statfs, truncate, the
 *                        *xattr calls, uselib, mknod(at), unlink(at),
 *                        rename(at,at2), mkdir(at), rmdir, symlink(at),
 *                        link(at), chmod, fchmodat, chown, lchown,
 *                        fchownat, utime(s), utimensat, futimesat,
 *                        inotify_add_watch, mount, umount2, swapon,
 *                        swapoff, pivot_root, acct, name_to_handle_at,
 *                        open_tree, move_mount, mount_setattr,
 *                        fanotify_mark. PATH is absolute: a relative
 *                        path is joined to the directory of the call's
 *                        dirfd, or to the cwd, as /proc shows them (an
 *                        empty path with a dirfd, AT_EMPTY_PATH, is that
 *                        directory or file itself). It is not canonical:
 *                        "..", "." and symlinks stay as the program wrote
 *                        them. Calls with two paths (rename*, link*,
 *                        move_mount, pivot_root, mount) give a record for
 *                        each; mount's source only when it is absolute;
 *                        symlink/symlinkat give the new link's path, not
 *                        the target text stored in it. A NULL, unreadable
 *                        or over-long (no NUL within PATH_MAX) path gives
 *                        no record. Once per (NAME, PATH).
 *   exec PATH            execve/execveat, after their file record: the
 *                        program asked for (PATH as in the file record).
 *                        Once per PATH.
 *   mmap PATH            mmap of a file (an fd, not MAP_ANONYMOUS): what
 *                        /proc/PID/fd/FD shows for it (a deleted file
 *                        ends "\x20(deleted)"; a memfd is "/memfd:NAME...").
 *                        Once per PATH.
 *   socket FAMILY TYPE   socket or socketpair: the address family and the
 *                        type without its flags (type & 0xf), decimal.
 *                        Once per pair.
 *   end                  the last line, once no traced process is left.
 *                        Without it the trace was cut short (the VM
 *                        stopped first, crumb-init was killed).
 *
 * A service that restarts (config.h "restart") is traced again from a new
 * header: each run's records go from its "crumb-trace 1" to its "end".
 *
 * A record says a call was made, not that it succeeded: the supervisor
 * records it before the kernel runs it. The once-only rules use bounded
 * tables; past TRACE_DEDUP_MAX distinct records a record may repeat.
 */

#define TRACE_PORT_NAME "crumb.trace"
#define TRACE_HEADER "crumb-trace 1"
/* "file " + a name + ' ' + a path of up to 2 * PATH_MAX bytes, each byte escaped to 4, + '\n'. */
#define TRACE_LINE_MAX (64 + 4 * 2 * 4096)
#define TRACE_DEDUP_MAX 12288

#endif

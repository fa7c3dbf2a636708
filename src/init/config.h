/* config.h: the format of crumb-init's configuration file and its parser (guest and host tests). */
#ifndef CRUMB_INIT_CONFIG_H
#define CRUMB_INIT_CONFIG_H

#include <stddef.h>
#include <string.h>

/*
 * The file lives at CONF_PATH in the guest. The host writes it with
 * src/lib/initcfg.c; crumb-init reads it with conf_parse(). The format is
 * line-based text so that a human can read it in an image, and escaped so
 * that any argument or environment value (any bytes but NUL) survives.
 *
 * File
 *   At most CONF_FILE_MAX bytes. Every line ends with '\n', the last one
 *   included: a missing final newline means a truncated file and is an error.
 *   A line, without its '\n', is at most CONF_LINE_MAX bytes.
 *
 * First line
 *   Exactly "crumb-init 1" (CONF_HEADER). Another number is an unsupported
 *   version (an error); anything else is not a crumb-init config (an error).
 *
 * Other lines
 *   Empty lines and lines starting with '#' are ignored (the host writes
 *   neither; they are for humans editing an image by hand). Every other
 *   line is a record "KEY VALUE": KEY is one or more of [a-z0-9_], then
 *   exactly one space (0x20), then VALUE up to the newline (possibly empty,
 *   but the space is required).
 *
 * VALUE escaping (written literally below: one backslash is one byte)
 *   Bytes 0x20..0x7e except the backslash, and all bytes 0x80..0xff (UTF-8
 *   passes through unchanged) stand for themselves. Escapes:
 *     \\    a backslash
 *     \n    a newline (0x0a)
 *     \xHH  the byte HH, exactly two hex digits of either case; \x00 is an
 *           error (values become C strings)
 *   Any other byte after a backslash, a backslash ending the line, or a raw
 *   byte 0x00..0x1f or 0x7f (tab and CR included) is an error. The host
 *   writes \\ for a backslash, \n for a newline and lowercase \xHH for every
 *   other byte 0x01..0x1f and 0x7f, nothing else escaped.
 *
 * Keys of a service config (the default mode)
 *   arg       repeated, at least once: the service's argv in order. argv[0]
 *             is the program's path, handed to execve() as is (no PATH
 *             search; a relative path is relative to workdir) and must not
 *             be empty. Other arguments may be empty.
 *   env       repeated: "NAME=value" with a non-empty NAME; the service's
 *             environment is exactly these, in order (none: empty), plus
 *             HOME from the user's passwd entry when `user` is given and no
 *             env sets HOME, plus TERM=term when `term` is given and no env
 *             sets TERM.
 *   workdir   at most once, an absolute path; default "/".
 *   user      at most once: "USER[:GROUP]", each a name or a decimal id,
 *             neither part empty. Resolved in the guest's /etc/passwd and
 *             /etc/group when the service starts. USER by name must exist
 *             (else an error marker); a numeric USER needs no entry (gid 0
 *             then, unless GROUP). Without GROUP the gid is the passwd
 *             entry's and the supplementary groups are those of /etc/group
 *             that list the user's name (initgroups); with GROUP, GROUP is
 *             the only group (as Docker's USER). Default: root (0:0).
 *   hostname  at most once, 1..CONF_HOSTNAME_MAX bytes; default "crumb".
 *   restart   at most once: "no" (default), "always", "on-failure" or
 *             "on-failure:MAX" (MAX 0..1000000 restarts). crumb-init starts
 *             the service again after it ends (on-failure: with a non-zero
 *             status) after a backoff of 100 ms that doubles up to 5 s (back
 *             to 100 ms after a run of 10 s or more), with a restart marker.
 *             A stop request ends it. The exit marker has the last status.
 *   stop_signal   at most once, 1..64: sent to the service's process group
 *             on a stop request; default 15 (SIGTERM).
 *   stop_timeout  at most once, 0..86400 seconds: how long the service gets
 *             after stop_signal before SIGKILL; default 10.
 *   ready     repeated, a TCP port 1..65535: once every listed port has a
 *             LISTEN socket in /proc/net/tcp or /proc/net/tcp6 (checked
 *             every 10 ms while the service runs), crumb-init emits the
 *             ready marker, once per boot.
 *   mount     repeated: "TYPE SOURCE TARGET OPTIONS", four fields separated
 *             by one space each. Unlike other values, each field is
 *             unescaped on its own, so a space inside a field is written
 *             \x20 (the host escapes it so); no field may be empty.
 *               TYPE     [a-z0-9]+: "ext4" (SOURCE a block device, e.g.
 *                        /dev/vdb), "9p" (SOURCE the virtio-9p mount_tag;
 *                        trans=virtio,version=9p2000.L,msize=262144
 *                        come first, OPTIONS may override them), or any
 *                        other filesystem the kernel has ("tmpfs" ...).
 *               TARGET   an absolute path; created (mkdir -p) if missing.
 *               OPTIONS  comma-separated: ro, rw, nosuid, nodev, noexec,
 *                        noatime, relatime become mount flags; the others
 *                        go to the filesystem as data. "rw" for none.
 *             Mounted in order after the system's own filesystems, before
 *             anything runs; a failure is an error marker. Unmounted (or
 *             remounted read-only) and synced before power-off.
 *   tty       at most once, "0" or "1" (default 0). With 1 the service's
 *             stdin, stdout and stderr are the console's tty (ttyS0) as its
 *             controlling terminal, in cooked mode (canonical input, echo,
 *             signals from ^C/^Z/^\, output "\n" -> "\r\n"), with the
 *             winsize of rows/cols. With 0 the service has the console as
 *             stdio (also its controlling tty, best effort) with the
 *             line settings crumb-init found (output post-processing off).
 *   term      at most once, 1..64 bytes: TERM for the service (see env).
 *   rows, cols  at most once each, 1..65535: the console's window size
 *             (only applied with tty 1).
 *   snapshot  at most once, "0" (default) or "1": warm start (crumb warm).
 *             crumb-init sets up what is the same for every instance (the
 *             system's filesystems, /tmp and /run, lo), opens the control
 *             port, emits the snapshot marker and waits there for a
 *             "restore" request (markers.h) that carries the instance's
 *             config; the host snapshots the VM while it waits. Not in
 *             build mode.
 *   seccomp   at most once, not in build mode: a classic BPF program (an
 *             array of struct sock_filter, 8 bytes each, 1..4096 of them)
 *             as lowercase hex, made by the host (src/lib/seccomp.h) from
 *             the image's allowlist: it returns SECCOMP_RET_ALLOW for the
 *             allowed calls and SECCOMP_RET_USER_NOTIF for the others, the
 *             numbers no kernel has included (crumb-init's own handshake
 *             is such a call, SECCOMP_SYNC_NR in seccomp.h; the program must
 *             notify it). Byte order and layout are the guest's (x86-64:
 *             little-endian u16 code, u8 jt, u8 jf, u32 k). crumb-init
 *             installs it in the service's process just before execve
 *             (children inherit it; without CAP_SYS_ADMIN, e.g. a non-root
 *             user, it sets no_new_privs first) and answers each
 *             notification: the call fails with EPERM and the console names
 *             it ("crumb-init: seccomp: denied NAME (pid N, COMM): EPERM",
 *             at most 10 times per NAME), or with seccomp_action kill the
 *             calling process is killed (SIGKILL) after the same line
 *             ending "killed". A program the kernel refuses, or any failure
 *             to install it, ends the service with status 126 and a
 *             warning: it never runs unfiltered.
 *   seccomp_action  at most once: "errno" (default) or "kill"; not in build
 *             mode. Without seccomp it changes nothing.
 *   trace     at most once, "0" (default) or "1", not in build mode:
 *             crumb-init traces the service and all its threads and
 *             children (a filter that notifies every call, answered with
 *             SECCOMP_USER_NOTIF_FLAG_CONTINUE) and writes what they did
 *             to the virtio-serial port crumb.trace (format: src/init/trace.h).
 *             Calls of another ABI (i386's int 0x80) kill the caller, as
 *             they would under an allowlist. A non-root service gets
 *             no_new_privs, as with seccomp. With trace 1 a seccomp program
 *             is parsed but not installed: tracing wins (an allowlist would
 *             hide the calls to trace).
 *   host      repeated, in both modes: "IP NAME", one space between: IP an
 *             IPv4 or IPv6 address as inet_pton(3) reads it, NAME a host
 *             name of 1..CONF_HOST_NAME_MAX bytes, dot-separated labels of
 *             1..63 bytes of [A-Za-z0-9-], not starting or ending with '-'.
 *             Before the service (or the first step) runs, crumb-init makes
 *             /etc/hosts read as it was plus one "IP\tNAME\n" line per host,
 *             in order (crumb run/build --add-host). It writes that into a
 *             file on /dev (a tmpfs) and bind-mounts it over /etc/hosts, so
 *             a read-only root works and the root's file is never changed;
 *             with no /etc/hosts it first creates an empty one (and /etc) as
 *             the mount point, where the root is writable. In build mode the
 *             mount is undone after the last step and what crumb-init created
 *             is removed: the hosts never reach the image, and what a step
 *             writes to /etc/hosts is lost (as in Docker, where /etc/hosts is
 *             a bind mount during RUN). After a restore (snapshot) the hosts
 *             come with the restore request's config, never the snapshot's.
 *   mode      at most once, "service" (default) or "build"; it must come
 *             before any arg, env, workdir, user or step line.
 *
 * Build mode ("mode build")
 *   The file is a sequence of steps. A line "step LABEL" (LABEL any value,
 *   e.g. "2/5 RUN make", may be empty) starts a step; the arg, env, workdir
 *   and user lines after it, up to the next step line, belong to it, with
 *   the meanings above (at least one arg per step; workdir is created if
 *   missing). arg/env/workdir/user before the first step are errors; so are
 *   restart, ready, tty, term, rows, cols, snapshot, seccomp, seccomp_action
 *   and trace. At least one step is needed.
 *   hostname, host, mount, stop_signal and stop_timeout apply to the whole
 *   build. Two keys belong to the step they follow (RUN --mount):
 *   step_mount  repeated: "TYPE SOURCE SUBPATH TARGET OPTIONS", five fields
 *             split and unescaped as mount's. With TYPE ext4, SOURCE (a
 *             block device) is mounted with OPTIONS (ro or rw ...) on a
 *             directory of its own under /dev, and SUBPATH, an absolute path
 *             inside that filesystem ("/" for its root), is bind-mounted on
 *             TARGET. Any other TYPE (tmpfs ...) is mounted on TARGET
 *             directly, OPTIONS as for mount, SUBPATH "/". (With ext4 the
 *             device is mounted read-write unless it is read-only, as several
 *             targets may share it; OPTIONS' ro makes the target read-only.)
 *   step_secret repeated: "SOURCE OFFSET LENGTH MODE UID GID DEST": LENGTH
 *             bytes (at most CONF_SECRET_MAX) at byte OFFSET of the block
 *             device SOURCE (decimal numbers). DEST an absolute path: they
 *             become a file there, on a tmpfs (never the root's disk), mode
 *             MODE (octal), owned by UID:GID (decimal), bind-mounted on
 *             DEST. Otherwise DEST is a variable NAME (no '='): the step's
 *             environment gets NAME=the bytes (which must hold no NUL).
 *   A TARGET or DEST that is missing is made as the mount point (a file for
 *   a secret or a SUBPATH that is no directory; directories above it too) in
 *   the root. Before the step crumb-init mounts them in order; after it (once
 *   what the step left running is killed) it unmounts them all and removes
 *   the mount points it made (a directory only when empty): nothing of them
 *   reaches the image. A failure is an error marker.
 *   crumb-init runs the steps in order, each in a new session with stdin
 *   /dev/null and stdout/stderr on the console; after each it kills what
 *   the step left running and emits a step marker; it stops at the first
 *   non-zero status. /tmp and /run are not mounted over (writes there stay
 *   in the image), and / is remounted read-write if the kernel mounted it
 *   read-only. At the end / is synced and remounted read-only, and the exit
 *   marker carries the last step's status.
 *
 * Unknown keys
 *   Any other well-formed KEY is skipped without decoding its value, and the
 *   warn callback is told (forward compatibility: an older init runs a newer
 *   host's config minus the new feature). A repeated at-most-once key is an
 *   error.
 *
 * Example (argv = {"/bin/sh", "-c", "echo 'a b'\n"}):
 *   crumb-init 1
 *   arg /bin/sh
 *   arg -c
 *   arg echo 'a b'\n
 *   env PATH=/bin
 *   workdir /
 *   user nobody:nogroup
 *   hostname crumb
 *   ready 8080
 *   mount ext4 /dev/vdb /data rw
 *   mount 9p share /mnt/my\x20files ro
 *   host 10.1.2.3 db.local
 *
 * Build example:
 *   crumb-init 1
 *   mode build
 *   hostname builder
 *   step 1/2 RUN make
 *   arg /bin/sh
 *   arg -c
 *   arg make
 *   env PATH=/usr/bin:/bin
 *   workdir /src
 *   step 2/2 RUN make install
 *   arg /bin/sh
 *   arg -c
 *   arg make install
 *
 * Where the file comes from (first found wins; it replaces the others whole)
 *   1. QEMU's fw_cfg file CONF_FW_CFG_NAME ("-fw_cfg name=opt/crumb/init.conf,
 *      file=PATH"), read through the fw_cfg I/O ports 0x510/0x511. This
 *      needs a guest kernel with CONFIG_X86_IOPL_IOPERM (ioperm(2)); without
 *      it, or without fw_cfg (another VMM), crumb-init goes on to 2.
 *   2. A config disk: a virtio-blk device whose content starts with
 *      CONF_DISK_MAGIC, then the config's length in decimal (at most 8
 *      digits), optionally a space and the marker key (below), then '\n',
 *      then the config's bytes (then anything, e.g. zero padding to 512
 *      bytes). The length may be 0 only with a key: a key-only disk, which
 *      carries no config. crumb-init looks at every /dev/vd* (attach it
 *      after the root disk and the volumes, so their names stay /dev/vda,
 *      /dev/vdb ...).
 *   3. CONF_PATH in the root filesystem.
 *   None of them: an error marker.
 *
 * The marker key (markers.h: what makes the host believe a marker)
 *   32 random bytes the host makes for each boot, as CONF_DISK_KEY_HEX
 *   lowercase hex digits: in a config disk's header, or (runs whose
 *   initramfs the host builds for this boot, crumb run --exec) as the
 *   file CONF_KEY_PATH holding the digits and '\n'. Never in fw_cfg (a
 *   guest root process with ioperm could read it all along) nor in the
 *   config text. crumb-init reads it before its first marker and destroys
 *   every copy the guest could reach: it overwrites the digits on the disk
 *   with '0's (the host attaches the disk writable; all zeros is "no key")
 *   and syncs; it zeroes and unlinks CONF_KEY_PATH, which it only believes
 *   on a tmpfs/ramfs root (on a disk root the blocks would stay readable).
 *   The disk's key wins over the file's. No key: markers go unsigned (and
 *   the crumb host acts on none of them).
 */

#define CONF_PATH "/etc/crumb/init.conf"
#define CONF_HEADER "crumb-init 1"
#define CONF_FILE_MAX (1024 * 1024)
#define CONF_LINE_MAX (256 * 1024)
#define CONF_HOSTNAME_MAX 64
#define CONF_TERM_MAX 64
#define CONF_HOST_NAME_MAX 253
/* A seccomp program's most bytes: the kernel's BPF_MAXINSNS (4096) instructions of 8 bytes. */
#define CONF_SECCOMP_MAX 32768
#define CONF_SECRET_MAX (512 * 1024)
#define CONF_DEFAULT_WORKDIR "/"
#define CONF_DEFAULT_HOSTNAME "crumb"
#define CONF_DEFAULT_STOP_SIGNAL 15
#define CONF_DEFAULT_STOP_TIMEOUT 10
#define CONF_RESTART_MAX_LIMIT 1000000
#define CONF_STOP_TIMEOUT_LIMIT 86400
#define CONF_FW_CFG_NAME "opt/crumb/init.conf"
#define CONF_DISK_MAGIC "crumb-init-config "
#define CONF_DISK_KEY_HEX 64
/* The marker key in an initramfs root (see "The marker key"). */
#define CONF_KEY_PATH "/etc/crumb/init.key"

enum conf_mode { CONF_MODE_SERVICE, CONF_MODE_BUILD };
enum conf_restart { CONF_RESTART_NO, CONF_RESTART_ON_FAILURE, CONF_RESTART_ALWAYS };

/* A build step's step_mount line (all non-empty). */
struct conf_step_mount {
	const char *type, *source, *subpath, *target, *options;
};

/* A build step's step_secret line. */
struct conf_secret {
	const char *source; /* the block device */
	unsigned long offset, length;
	unsigned long mode, uid, gid;
	const char *dest; /* an absolute path, or a variable's name */
};

/* One program to run: the service, or one build step. */
struct conf_proc {
	char **argv; /* argc strings, then NULL; argc >= 1 after a successful parse */
	size_t argc;
	char **envp; /* envc "NAME=value" strings, then NULL (never NULL itself after success) */
	size_t envc;
	const char *workdir;		/* CONF_DEFAULT_WORKDIR when absent */
	const char *user;		/* "USER[:GROUP]"; NULL when absent (root) */
	const char *label;		/* a build step's label; NULL for the service */
	struct conf_step_mount *mounts; /* build steps: malloc'd, nmounts of them (or NULL) */
	size_t nmounts;
	struct conf_secret *secrets; /* build steps: malloc'd, nsecrets of them (or NULL) */
	size_t nsecrets;
};

struct conf_mount {
	const char *type, *source, *target, *options; /* all non-empty */
};

/* One "host IP NAME" line: both checked (see "host"). */
struct conf_host {
	const char *ip, *name;
};

/* A parsed config. Every string points into the buffer given to conf_parse
 * (decoded in place), which must outlive the struct; the arrays are malloc'd
 * and freed by conf_release. */
struct conf {
	enum conf_mode mode;
	struct conf_proc svc;	 /* mode service: the service; mode build: all zero */
	struct conf_proc *steps; /* mode build: nsteps >= 1 steps; else NULL */
	size_t nsteps;
	const char *hostname; /* CONF_DEFAULT_HOSTNAME when absent */
	enum conf_restart restart;
	long restart_max;  /* on-failure:MAX; -1 = unlimited */
	int stop_signal;   /* CONF_DEFAULT_STOP_SIGNAL when absent */
	long stop_timeout; /* seconds; CONF_DEFAULT_STOP_TIMEOUT when absent */
	unsigned *ready;   /* nready TCP ports */
	size_t nready;
	struct conf_mount *mounts;
	size_t nmounts;
	struct conf_host *hosts; /* nhosts entries for /etc/hosts, in order */
	size_t nhosts;
	int tty;	     /* 0 or 1 */
	const char *term;    /* NULL when absent */
	unsigned rows, cols; /* 0 when absent */
	int snapshot;	     /* 0 or 1 */
	/* The service's system-call filter (see "seccomp"): the program's bytes, decoded in place
	 * in the buffer (no alignment: copy before use as struct sock_filter), and its length;
	 * NULL and 0 when absent. */
	const unsigned char *seccomp;
	size_t seccomp_len;
	int seccomp_kill; /* seccomp_action kill */
	int trace;	  /* 0 or 1 */
};

/* Called for each non-fatal problem (an unknown key); msg is "line N: ...". */
typedef void conf_warn_fn(void *ctx, const char *msg);

/* Parses len bytes at buf, which it modifies (values are decoded in place).
 * warn may be NULL. Returns 0, or -1 with a one-line message "line N: ..."
 * (or without the line for whole-file problems) in err, errlen bytes, always
 * NUL-terminated; on failure c holds nothing that needs releasing. Only
 * bytes buf[0..len) are read; buf needs no terminator. */
int conf_parse(struct conf *c, char *buf, size_t len, conf_warn_fn *warn, void *ctx, char *err,
	       size_t errlen);

/* Frees the arrays (not the buffer); c is then zeroed. Safe twice. */
void conf_release(struct conf *c);

/* Whether name is a host name a "host" line may hold (see "host"). */
static inline int conf_host_name_ok(const char *name)
{
	size_t n = strlen(name), label = 0;

	if (n == 0 || n > CONF_HOST_NAME_MAX)
		return 0;
	for (size_t i = 0; i <= n; i++) {
		char ch = name[i];

		if (ch == '.' || ch == '\0') {
			/* a label: 1..63 bytes, no '-' at either end */
			if (label == 0 || label > 63 || name[i - 1] == '-' ||
			    name[i - label] == '-')
				return 0;
			label = 0;
		} else if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			   (ch >= '0' && ch <= '9') || ch == '-') {
			label++;
		} else {
			return 0;
		}
	}
	return 1;
}

/* Splits a config disk's first len bytes (see "Where the file comes from"):
 * on success *off and *clen locate the config inside buf (off + clen may
 * exceed len: the caller reads more; clen 0: a key-only disk), and *keyoff is
 * where the key's CONF_DISK_KEY_HEX digits start in buf (0: no key). Returns
 * 0, or -1 when buf does not start with a valid header. */
int conf_disk_header(const char *buf, size_t len, size_t *off, size_t *clen, size_t *keyoff);

#endif

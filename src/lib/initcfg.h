/* initcfg.h: builds crumb-init's configuration file (format documented in src/init/config.h). */
#ifndef CRUMB_INITCFG_H
#define CRUMB_INITCFG_H

#include "util.h"

/* Where the file goes in the guest's root (the same as src/init/config.h's CONF_PATH). */
#define INITCFG_GUEST_PATH "/etc/crumb/init.conf"
/* The fw_cfg name that replaces the file in the root: QEMU's
 * "-fw_cfg name=" INITCFG_FW_CFG_NAME ",file=PATH" (guest kernel needs
 * CONFIG_X86_IOPL_IOPERM; see config.h, "Where the file comes from"). */
#define INITCFG_FW_CFG_NAME "opt/crumb/init.conf"

enum initcfg_restart { INITCFG_RESTART_NO, INITCFG_RESTART_ON_FAILURE, INITCFG_RESTART_ALWAYS };

/* A build step's own mount (config.h, step_mount), e.g. {"ext4", "/dev/vdb", "/data",
 * "/root/.cache", "rw"} or {"tmpfs", "tmpfs", "/", "/tmp", "size=64m"}. Owned by its step. */
struct initcfg_step_mount {
	char *type, *source, *subpath, *target, *options;
};

/* A build step's secret (config.h, step_secret): length bytes at offset of the device source,
 * as the file dest (absolute) with mode, uid, gid, or as the variable dest. Owned by its step. */
struct initcfg_secret {
	char *source, *dest;
	unsigned long offset, length, mode, uid, gid;
};

/* One build step (mode build). Owned by its initcfg. */
struct initcfg_step {
	char *label;			   /* NULL = "" */
	struct strlist argv;		   /* at least one; argv[0] non-empty */
	struct strlist env;		   /* "NAME=value" */
	char *workdir;			   /* NULL = "/" (created in the guest if missing) */
	char *user;			   /* "USER[:GROUP]"; NULL = root */
	struct initcfg_step_mount *mounts; /* initcfg_step_add_mount */
	size_t nmounts;
	struct initcfg_secret *secrets; /* initcfg_step_add_secret */
	size_t nsecrets;
};

/* A filesystem crumb-init mounts before the service, e.g. {"ext4", "/dev/vdb",
 * "/data", "rw"} or {"9p", "TAG", "/mnt", "ro"}. Owned by its initcfg. */
struct initcfg_mount {
	char *type, *source, *target, *options;
};

/* A line crumb-init adds to /etc/hosts ("host IP NAME", config.h), e.g.
 * {"10.1.2.3", "db.local"}. Owned by its initcfg. */
struct initcfg_host {
	char *ip, *name;
};

/* What the guest runs. The struct owns every string (initcfg_release frees them):
 * fill the lists with strlist_push, the strings with xstrdup, and the arrays
 * with the initcfg_add_* helpers. initcfg_init gives every field its default. */
struct initcfg {
	/* The service (mode service; must stay empty with build). */
	struct strlist
	    argv; /* argv[0] = program path in the guest (execve'd as is, no PATH search) */
	struct strlist env; /* "NAME=value"; the service's whole environment */
	char *workdir;	    /* NULL = "/" */
	char *user;	    /* "USER[:GROUP]", names or numbers; NULL = root */

	char *hostname; /* NULL = "crumb" */

	/* mode build: steps instead of argv/env/workdir/user. */
	int build;
	struct initcfg_step *steps;
	size_t nsteps;

	enum initcfg_restart restart; /* service only */
	unsigned restart_max;	      /* on-failure: at most this many restarts; 0 = no limit */
	int stop_signal;	      /* 1..64; 0 = crumb-init's default (15) */
	int stop_timeout;	      /* 0..86400 s; -1 (initcfg_init's) = default (10) */
	unsigned *ready; /* TCP ports the service listens on when ready (service only) */
	size_t nready;
	struct initcfg_mount *mounts;
	size_t nmounts;
	struct initcfg_host *hosts; /* /etc/hosts additions, in order (both modes) */
	size_t nhosts;
	int tty;	     /* 1: the service gets the console as a cooked controlling tty */
	char *term;	     /* TERM for the service; NULL = none added */
	unsigned rows, cols; /* window size with tty; 0 = not set */
	int snapshot;	     /* 1: stop at the snapshot point (crumb warm; config.h) */

	/* System-call filtering of the service (not in build mode; config.h "seccomp"). */
	unsigned char *seccomp; /* a classic BPF program (struct sock_filter[]), or NULL */
	size_t seccomp_len;	/* its length in bytes: a multiple of 8, 8..CONF_SECCOMP_MAX */
	int seccomp_kill;	/* 1: a denied call kills the service (else it fails, EPERM) */
	int trace;		/* 1: trace the service's calls onto the crumb.trace port */
};

void initcfg_init(struct initcfg *c);
/* Frees everything c owns and leaves it initialized (defaults). */
void initcfg_release(struct initcfg *c);

/* Appends a step (sets c->build) labelled label (copied; NULL = ""); returns
 * it, owned by c, for the caller to fill. Valid until the next add_step. */
struct initcfg_step *initcfg_add_step(struct initcfg *c, const char *label);
/* Appends a mount or a secret to step s; the strings are copied; options NULL = "rw". */
void initcfg_step_add_mount(struct initcfg_step *s, const char *type, const char *source,
			    const char *subpath, const char *target, const char *options);
void initcfg_step_add_secret(struct initcfg_step *s, const char *source, unsigned long offset,
			     unsigned long length, unsigned long mode, unsigned long uid,
			     unsigned long gid, const char *dest);
/* Appends a mount; the strings are copied; options NULL = "rw". */
void initcfg_add_mount(struct initcfg *c, const char *type, const char *source, const char *target,
		       const char *options);
void initcfg_add_ready(struct initcfg *c, unsigned port);
/* Appends a host line; the strings are copied (checked by initcfg_render). */
void initcfg_add_host(struct initcfg *c, const char *ip, const char *name);

/* Whether name is a host name crumb-init takes in a host line: 1..253 bytes,
 * dot-separated labels of 1..63 bytes of [A-Za-z0-9-], no '-' at either end
 * of a label. Whether ip is an IPv4 or IPv6 address (inet_pton, no brackets). */
int initcfg_host_name_ok(const char *name);
int initcfg_host_ip_ok(const char *ip);

/*
 * Appends the file's bytes to out. Fails (CRUMB_EINVAL) on a config
 * crumb-init would refuse: an empty argv (or, with build, no step or a step
 * with an empty argv, or a service argv as well), an empty argv[0], an env
 * entry without '=' or with an empty NAME, a workdir or mount target that is
 * not absolute, a hostname not 1..64 bytes, a user not USER[:GROUP], a value
 * out of range, an empty mount field or a type not [a-z0-9]+, restart/ready/
 * tty/term/rows/cols with build, a host whose IP or name
 * initcfg_host_*_ok refuses, a step mount with a relative subpath or target
 * (or target "/"), a secret longer than crumb-init takes or whose dest is
 * "/" or a name holding '='; (CRUMB_EUNSAFE) on a line or a file over
 * crumb-init's limits (256 KiB escaped per line, 1 MiB in all). On failure
 * out is left as it was.
 */
int initcfg_render(const struct initcfg *c, struct sbuf *out, struct err *e);

/* The per-boot marker key's length, and its file in an initramfs the host
 * builds for one boot (src/init/config.h, "The marker key"). */
#define INITCFG_KEY_LEN 32
#define INITCFG_KEY_PATH "/etc/crumb/init.key"

/*
 * Appends a config disk holding the len bytes of a rendered config to out:
 * the header "crumb-init-config LEN[ KEYHEX]\n", the bytes, zeros up to a
 * multiple of 512 bytes. conf NULL: a key-only disk (LEN 0). key: NULL or
 * INITCFG_KEY_LEN bytes, the boot's marker key. The host attaches it as a
 * raw virtio-blk drive, writable (crumb-init wipes the key), after the root
 * disk and the volumes; crumb-init prefers its config to the file in the
 * root (but not to fw_cfg). This is how to pass a config to a guest kernel
 * without ioperm(2), such as the crumb kernel today.
 */
void initcfg_disk(const char *conf, size_t len, const unsigned char *key, struct sbuf *out);

#endif

/* runcfg.h: the effective run config: an image's config and the command line's flags, Docker's
 * rules. */
#ifndef CRUMB_RUNCFG_H
#define CRUMB_RUNCFG_H

#include <stddef.h>

#include "initcfg.h"
#include "oci.h"
#include "util.h"
#include "vmm.h"

/* The guest's PATH when neither the image nor -e sets one. */
#define RUNCFG_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* What the command line said about the service; NULL (or an empty list) = not given. */
struct run_flags {
	const struct strlist *args; /* everything after IMAGE: replaces the image's Cmd */
	const char *entrypoint;	    /* --entrypoint: replaces Entrypoint, drops Cmd; "" = none */
	const struct strlist *env;  /* -e / --env-file "K=V", in order: set or replace */
	const char *user;	    /* -u */
	const char *workdir;	    /* -w */
	const char *hostname;	    /* --hostname */
};

/*
 * Docker's rule: argv = Entrypoint + Cmd, where ARGS (when given) replace the
 * image's Cmd and --entrypoint replaces Entrypoint and drops the image's Cmd
 * (ARGS still apply). Appends to out. CRUMB_EINVAL when the result is empty.
 */
int runcfg_argv(const struct oci_config *img, const struct run_flags *f, struct strlist *out,
		struct err *e);

/* Sets "NAME=VALUE" in env: replaces the entry for NAME in place, else appends. */
void runcfg_setenv(struct strlist *env, const char *kv);

/*
 * Fills cfg (initialized by the caller) for running an image: argv (above),
 * env = the image's Env, PATH defaulted, HOSTNAME, HOME=/root without a user,
 * then -e over it; workdir, user, hostname from flags else the image. The
 * service-level keys (stop signal, restart, ready ports) are the caller's.
 */
int runcfg_image(const struct oci_config *img, const struct run_flags *f, struct initcfg *cfg,
		 struct err *e);

/* Parses crumb.publish: "[HOSTIP:]HOSTPORT:GUESTPORT[/udp]" items separated by
 * commas or spaces, appended to ports[*n] (at most max in all). An image may
 * publish on the host's loopback only: HOSTIP, when given, must be 127.0.0.1
 * (else CRUMB_EUNSAFE); other addresses come from the user's -p alone. */
int runcfg_publish(const char *list, struct vm_port *ports, size_t max, size_t *n, struct err *e);

/* The TCP ports of ExposedPorts ("80/tcp", "53/udp" skipped), at most max;
 * returns how many. */
size_t runcfg_ready_ports(const struct strlist *exposed, unsigned *out, size_t max);

/* "256M", "1G", "512" (MiB) -> MiB, at most 1 TiB. 0 or -1 when malformed. */
int runcfg_parse_mem(const char *s, unsigned *mb);

/* A signal by name ("TERM", "SIGTERM", any case; Docker's RTMIN+N, RTMAX-N) or
 * number 1..64; -1 if unknown. */
int runcfg_signal(const char *s);

/* -v SOURCE:TARGET[:ro|:rw] */
enum run_volume_kind {
	RUN_VOL_NAMED,	/* a named ext4 volume in the store, made on demand */
	RUN_VOL_IMAGE,	/* an existing ext2/3/4 image file */
	RUN_VOL_HOSTDIR /* a host directory over 9p */
};
struct run_volume {
	enum run_volume_kind kind;
	char *source; /* the volume name, or the host path (absolute) */
	char *target; /* absolute guest path */
	int readonly;
};
/*
 * Parses a -v value. SOURCE is a volume name ([a-zA-Z0-9][a-zA-Z0-9_.-]*,
 * not ending in .ext4) or a host path (one with a '/' or ending in .ext4): an
 * existing directory is shared over 9p, an existing file is attached as an
 * image. TARGET must be absolute and not "/". Errors name the value.
 */
int runcfg_volume_parse(const char *s, struct run_volume *v, struct err *e);
void run_volume_release(struct run_volume *v);

/*
 * --add-host (Docker's): "HOST:IP" or "HOST=IP" (split at the first '=' when
 * there is one, else at the first ':', so "h:::1" is h at ::1). HOST as
 * initcfg_host_name_ok takes it; IP an IPv4 or IPv6 address (IPv6 may be in
 * brackets, "[::1]") or RUNCFG_HOST_GATEWAY. Fills *h (run_host_release
 * frees it): ip NULL for host-gateway. Errors name the value
 * ("--add-host X: ...").
 */
#define RUNCFG_HOST_GATEWAY "host-gateway"
struct run_host {
	char *name, *ip;
};
int runcfg_add_host_parse(const char *s, struct run_host *h, struct err *e);
void run_host_release(struct run_host *h);

/*
 * The address host-gateway stands for: the host's first non-loopback IPv4
 * address that is up (getifaddrs), which the guest reaches through passt (it
 * connects from the host to the host: services bound to that address or to
 * 0.0.0.0, never those on 127.0.0.1 alone). CRUMB_ENOENT when the host has
 * none. ip gets at least 16 bytes.
 */
int runcfg_host_gateway(char ip[16], struct err *e);

/* Each --add-host of list (NULL: none) parsed into a host line of c, in
 * order, host-gateway resolved; net 0 (--net none) refuses host-gateway. */
int runcfg_add_hosts(const struct strlist *list, int net, struct initcfg *c, struct err *e);

#endif

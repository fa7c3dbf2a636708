/* hostenv.h: the host settings crumb takes from its environment, as one plain struct. */
#ifndef CRUMB_HOSTENV_H
#define CRUMB_HOSTENV_H

/*
 * Library modules never call getenv(): src/cmd/ fills one struct hostenv from the
 * environment, once (cmd_env() in cmd.h), and passes it down in each module's options.
 * A field is NULL when its variable is unset or empty; the strings are the process
 * environment's own and live as long as the process (never freed). Unit tests build
 * one by hand.
 */
struct hostenv {
	const char *crumb_home;	       /* CRUMB_HOME: the store */
	const char *xdg_data_home;     /* XDG_DATA_HOME: the store is $XDG_DATA_HOME/crumb */
	const char *home;	       /* HOME: else $HOME/.local/share/crumb */
	const char *xdg_runtime_dir;   /* XDG_RUNTIME_DIR: VM state and sockets */
	const char *tmpdir;	       /* TMPDIR */
	const char *path;	       /* PATH: where programs are looked up */
	const char *term;	       /* TERM: passed to an interactive guest */
	const char *crumb_init;	       /* CRUMB_INIT: the crumb-init binary */
	const char *qemu;	       /* CRUMB_QEMU: the QEMU binary */
	const char *firecracker;       /* CRUMB_FIRECRACKER */
	const char *cloud_hypervisor;  /* CRUMB_CLOUD_HYPERVISOR */
	const char *passt;	       /* CRUMB_PASST: the passt binary */
	const char *netdev;	       /* CRUMB_NETDEV: "slirp" or "passt" (bench knob) */
	const char *console;	       /* CRUMB_CONSOLE: "uart" (bench knob) */
	const char *source_date_epoch; /* SOURCE_DATE_EPOCH, unparsed (cmd_sde parses it) */
	const char *docker_config;     /* DOCKER_CONFIG: registry credentials' directory */
	const char *xdg_config_home;   /* XDG_CONFIG_HOME: containers/certs.d for registries */
};

#endif

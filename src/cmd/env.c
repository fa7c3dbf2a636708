/* env.c: the one place crumb reads its environment (cmd_env), for every verb to pass down. */
#include <stdio.h>
#include <stdlib.h>

#include "../lib/oci.h"
#include "../lib/store.h"
#include "cmd.h"

static const char *var(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

const struct hostenv *cmd_env(void)
{
	static struct hostenv env;
	static int done;
	if (!done) {
		env.crumb_home = var("CRUMB_HOME");
		env.xdg_data_home = var("XDG_DATA_HOME");
		env.home = var("HOME");
		env.xdg_runtime_dir = var("XDG_RUNTIME_DIR");
		env.tmpdir = var("TMPDIR");
		env.path = var("PATH");
		env.term = var("TERM");
		env.crumb_init = var("CRUMB_INIT");
		env.qemu = var("CRUMB_QEMU");
		env.firecracker = var("CRUMB_FIRECRACKER");
		env.cloud_hypervisor = var("CRUMB_CLOUD_HYPERVISOR");
		env.passt = var("CRUMB_PASST");
		env.netdev = var("CRUMB_NETDEV");
		env.console = var("CRUMB_CONSOLE");
		env.source_date_epoch = var("SOURCE_DATE_EPOCH");
		env.docker_config = var("DOCKER_CONFIG");
		env.xdg_config_home = var("XDG_CONFIG_HOME");
		done = 1;
	}
	return &env;
}

const char *cmd_getenv(const char *name)
{
	return getenv(name);
}

void cmd_human_size(uint64_t n, char out[32])
{
	if (n < 1000)
		snprintf(out, 32, "%llu B", (unsigned long long)n);
	else if (n < 1000000)
		snprintf(out, 32, "%.1f kB", (double)n / 1e3);
	else if (n < 1000000000)
		snprintf(out, 32, "%.1f MB", (double)n / 1e6);
	else
		snprintf(out, 32, "%.1f GB", (double)n / 1e9);
}

int cmd_open_store(struct oci_store **s)
{
	struct err e = {0};
	char *root = NULL;
	int r = store_root(cmd_env(), &root, &e);
	if (r == 0)
		r = oci_open(root, s, &e);
	free(root);
	if (r < 0)
		cmd_error_err(&e);
	return r < 0 ? EXIT_FAIL : 0;
}

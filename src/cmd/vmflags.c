/* vmflags.c: the flags that shape a VM (-m, -c, -p, --net, --cmdline, --accel), parsed alike
 * by crumb run and crumb warm: a snapshot's shape must be what a run's flags would give. */
#include <stdlib.h>
#include <string.h>

#include "../lib/runcfg.h"
#include "../lib/runplan.h"
#include "cmd.h"

#define FLAGS(o) ((struct vm_flags *)(o)->dst)

int vmflag_memory(const struct opt *o, const char *v, void *ctx, struct err *e)
{
	(void)ctx;
	if (runcfg_parse_mem(v, &FLAGS(o)->ro->mem) < 0)
		return err_set(e, CRUMB_EINVAL, "bad memory size '%s' (e.g. 256M, 1G)", v);
	return 0;
}

int vmflag_cpus(const struct opt *o, const char *v, void *ctx, struct err *e)
{
	(void)ctx;
	char *end;
	long n = strtol(v, &end, 10);
	if (*end || n < 1 || n > 16)
		return err_set(e, CRUMB_EINVAL, "bad CPU count '%s' (1 to 16)", v);
	FLAGS(o)->ro->cpus = (unsigned)n;
	return 0;
}

int vmflag_publish(const struct opt *o, const char *v, void *ctx, struct err *e)
{
	(void)ctx;
	struct run_opts *ro = FLAGS(o)->ro;
	if (ro->nports == RUNPLAN_MAX_PORTS)
		return err_set(e, CRUMB_EINVAL, "too many -p");
	return vm_port_parse(v, &FLAGS(o)->ports[ro->nports++], e);
}

int vmflag_net(const struct opt *o, const char *v, void *ctx, struct err *e)
{
	(void)ctx;
	if (strcmp(v, "user") && strcmp(v, "none"))
		return err_set(e, CRUMB_EINVAL, "--net %s: want user or none", v);
	FLAGS(o)->ro->net = !strcmp(v, "user");
	FLAGS(o)->ro->net_given = 1;
	return 0;
}

int vmflag_cmdline(const struct opt *o, const char *v, void *ctx, struct err *e)
{
	(void)ctx, (void)e;
	FLAGS(o)->ro->cmdline = v;
	FLAGS(o)->ro->have_cmdline = 1;
	return 0;
}

int vmflag_accel(const struct opt *o, const char *v, void *ctx, struct err *e)
{
	(void)ctx;
	return accel_parse(v, &FLAGS(o)->ro->accel, e);
}

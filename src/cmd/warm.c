/* warm.c: `crumb warm`: boots an image to crumb-init's snapshot point and stores the snapshot. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/runcfg.h"
#include "../lib/runplan.h"
#include "cmd.h"

const char usage_warm[] =
    "usage: crumb warm [OPTIONS] IMAGE\n"
    "\n"
    "Boots IMAGE cold up to the point where crumb-init has done everything that is the\n"
    "same for every instance (filesystems, /tmp, /run, lo), snapshots the paused VM into\n"
    "the store beside the image, and quits. Later 'crumb run IMAGE' with the same VM\n"
    "shape (memory, cpus, published ports or none, network, kernel, QEMU) restores the\n"
    "snapshot instead of booting: it gets its config, a fresh marker key, host entropy\n"
    "for the kernel's RNG and the wall clock over the control port, then brings the\n"
    "network up and starts the service. 'crumb run --cold' boots cold; 'crumb rmi'\n"
    "and 'crumb prune' remove the snapshots of removed images. Give the flags the runs\n"
    "will be given: another shape does not use this snapshot.\n";

struct warm_args {
	struct run_opts ro;
	struct vm_port ports[RUNPLAN_MAX_PORTS];
};

/* Boots to the snapshot point; the plan's event handler takes the snapshot. */
static int take(struct warm_args *a, struct err *e)
{
	struct run_plan p;
	struct vm_result res;
	runplan_init(&p);
	int r = runplan_make(&p, &a->ro, e);
	if (r == 0 && (p.nvols || p.vc.nshares))
		r = err_set(e, CRUMB_EINVAL,
			    "%s: an image with volumes cannot be snapshot (a volume is attached "
			    "per run)",
			    a->ro.image);
	p.warm_make = 1;
	p.cfg.snapshot = 1;
	p.use_state = 0; /* a temporary work directory; nothing for 'crumb ps' */
	if (r == 0)
		r = runplan_prepare(&p, e);
	if (r == 0)
		r = runplan_boot(&p, NULL, NULL, &res, e);
	if (r == 0 && !p.warm_made) {
		const char *why = p.warm_why[0]	      ? p.warm_why
				  : res.init_error[0] ? res.init_error
				  : res.qemu_error[0] ? res.qemu_error
						      : "the VM ended before the snapshot point";
		r = err_set(e, CRUMB_EIO, "warm %s: %s", a->ro.image, why);
	}
	if (r == 0)
		printf("snapshot of %s: %.1f MB, sha256:%.12s..., saved in %.0f ms after QEMU "
		       "started (shape %.12s)\n",
		       a->ro.image, (double)p.taken.size / 1e6, p.taken.hex,
		       (p.taken.t_saved - res.t_spawn) * 1000, p.shape);
	runplan_cleanup(&p, 0);
	runplan_release(&p);
	return r;
}

int cmd_warm(int argc, char **argv)
{
	struct warm_args a = {
	    .ro = {.stop_timeout = -1, .net = 1, .accel = ACCEL_AUTO, .timeout = 120}};
	struct strlist args = STRLIST_INIT, none = STRLIST_INIT;
	struct vm_flags vf = {&a.ro, a.ports};
	const struct opt tab[] = {
	    OPT_VM_('m', "memory", vmflag_memory, &vf, "SIZE", "guest memory, as 'crumb run -m'"),
	    OPT_VM_('c', "cpus", vmflag_cpus, &vf, "N", "virtual CPUs, as 'crumb run -c'"),
	    OPT_VM_('p', "publish", vmflag_publish, &vf, "PORTS",
		    "publish a port, as 'crumb run -p' (the runs may use other host ports)"),
	    OPT_VM_(0, "net", vmflag_net, &vf, "user|none", "the network, as 'crumb run --net'"),
	    OPT_STRING_(0, "kernel", &a.ro.kernel, "FILE|ID",
			"the kernel, as 'crumb run --kernel'"),
	    OPT_VM_(0, "cmdline", vmflag_cmdline, &vf, "ARGS", "extra kernel command line"),
	    OPT_VM_(0, "accel", vmflag_accel, &vf, "auto|kvm|tcg", "accelerator (default auto)"),
	    OPT_END_,
	};
	struct cmd_opts p = {.verb = "warm", .tab = tab, .ctx = &a};
	int status;
	if (cmd_parse(&p, argc, argv, &args, &status))
		return status;
	if (args.n != 1) {
		strlist_release(&args);
		return cmd_usage_error("warm", "want one IMAGE");
	}
	a.ro.image = args.v[0];
	a.ro.ports = a.ports;
	a.ro.args = a.ro.env = &none;
	a.ro.host = cmd_env();
	struct err e = {0};
	int r = runplan_check(&a.ro, &e);
	if (r < 0) {
		strlist_release(&args);
		return cmd_usage_error("warm", "%s", e.msg);
	}
	r = take(&a, &e);
	if (r < 0)
		cmd_error_err(&e);
	strlist_release(&args);
	return r < 0 ? EXIT_FAIL : 0;
}

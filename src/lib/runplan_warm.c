/* runplan_warm.c: the executor's warm start: restoring a snapshot before a cold boot, and taking
 * one at crumb-init's snapshot point (crumb warm). */
#include "runplan.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void runplan_warm_sockets(struct run_plan *p)
{
	free(p->ctl_sock);
	free(p->qmp_sock);
	p->vc.ctl_sock = p->ctl_sock = xasprintf("%s/ctl.sock", p->work);
	p->vc.qmp_sock = p->qmp_sock = xasprintf("%s/qmp.sock", p->work);
}

/* Whether this run may be restored, and on which accelerator; warm_why says
 * why not when the user should hear it (--timing, --verbose). */
static int eligible(struct run_plan *p, enum accel *a)
{
	if (p->warm_make || !p->have_im || p->vc.vmm != VMM_QEMU || p->cold || p->vc.foreign_init ||
	    !p->work)
		return 0;
	if (p->nvols || p->vc.nshares || p->vc.nvolumes) {
		snprintf(p->warm_why, sizeof(p->warm_why),
			 "not restored: a volume attached after the snapshot could hold files "
			 "the snapshot's kernel has open or cached; booting cold");
		return 0;
	}
	char why[256];
	int probe;
	struct err e = {0};
	if (accel_choose(p->vc.accel, p->vc.state_dir, a, &probe, why, sizeof(why), &e) < 0 ||
	    probe) {
		snprintf(p->warm_why, sizeof(p->warm_why),
			 "not restored: KVM is not probed on this host yet; booting cold");
		return 0;
	}
	return 1;
}

/* The snapshot of this image and shape, into p->snap; 0 when there is one. */
static int lookup(struct run_plan *p, enum accel a)
{
	char *bin = NULL;
	struct err e = {0};
	if (!p->ctl_sock || !p->qmp_sock)
		runplan_warm_sockets(p);
	int r = vm_find(&p->vc, &bin, &e);
	if (r == 0)
		r = warm_shape(&p->vc, bin, a, p->work, p->shape, &e);
	free(bin);
	if (r == 0)
		r = warm_lookup(p->store, p->im.manifest.digest, p->shape, &p->snap, &e);
	if (r < 0 && r != CRUMB_ENOENT)
		snprintf(p->warm_why, sizeof(p->warm_why), "snapshot: %.280s; booting cold", e.msg);
	return r;
}

/* The restore's config disk (no marker key: the restored guest never reads it
 * again, and a key there would be readable) and its restore request. */
static int restore_files(struct run_plan *p, struct err *e)
{
	struct sbuf conf = SBUF_INIT, disk = SBUF_INIT;
	unsigned char seed[WARM_SEED_LEN];
	struct timespec now;
	int r = initcfg_render(&p->cfg, &conf, e);
	if (r == 0 && getrandom(seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
		r = err_errno(e, CRUMB_EIO, "getrandom");
	if (r == 0) {
		initcfg_disk(conf.buf, conf.len, NULL, &disk);
		free(p->warm_disk);
		p->warm_disk = xasprintf("%s/warm.disk", p->work);
		r = write_file_atomic(p->warm_disk, disk.buf, disk.len, 0600, e);
	}
	if (r == 0) {
		clock_gettime(CLOCK_REALTIME, &now);
		sb_reset(&p->warm_req);
		warm_request(p->key, CONSOLE_KEY_LEN, seed, (long long)now.tv_sec, now.tv_nsec,
			     conf.buf, conf.len, &p->warm_req);
	}
	memset(seed, 0, sizeof(seed));
	sb_release(&conf);
	sb_release(&disk);
	return r;
}

/* QEMU with -incoming on a socket pair; the restore itself happens at "spawn". */
static int restore_run(struct run_plan *p, enum accel a, vm_output_fn out, void *ctx,
		       struct vm_result *res, struct err *e)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return err_errno(e, CRUMB_EIO, "socketpair");
	p->warm_sock = sv[0];
	p->warm_peer = sv[1];
	struct vm_config rc = p->vc;
	rc.klog = NULL; /* the kernel booted long ago: nothing of it to see */
	rc.verbose = 0;
	rc.accel = a;
	rc.incoming_fd = sv[1];
	rc.init_conf_disk = p->warm_disk;
	int r = vm_run(&rc, out, ctx, res, e);
	close_fd(&p->warm_sock);
	close_fd(&p->warm_peer);
	close_fd(&p->warm_ctl);
	return r;
}

int runplan_warm_boot(struct run_plan *p, vm_output_fn out, void *ctx, struct vm_result *res)
{
	enum accel a;
	struct err e = {0};
	if (!eligible(p, &a) || lookup(p, a) < 0)
		return 1;
	int r = restore_files(p, &e);
	if (r == 0)
		r = restore_run(p, a, out, ctx, res, &e);
	if (r == 0 && !p->warm_failed) {
		p->warm_used = 1;
		return 0;
	}
	if (!p->warm_failed)
		snprintf(p->warm_why, sizeof(p->warm_why), "%.300s", e.msg);
	p->warm_failed = 1;
	if (p->event)
		p->event(p->event_ctx, "cold", res);
	return 1;
}

/* "spawn" of a restore: feed, check, resume, configure; on failure the VM goes. */
static void on_spawn(struct run_plan *p, const struct vm_result *r)
{
	struct err e = {0};
	int sock = p->warm_sock;
	p->warm_sock = -1;
	close_fd(&p->warm_peer); /* QEMU has it: its exit must end our writes */
	if (warm_restore(sock, &p->snap, p->qmp_sock, p->ctl_sock, &p->warm_req, &p->warm_ctl,
			 &p->wt, &e) < 0) {
		snprintf(p->warm_why, sizeof(p->warm_why), "%.300s", e.msg);
		p->warm_failed = 1;
		kill(r->qemu_pid, SIGKILL);
	}
}

/* The snapshot marker of crumb warm's boot: save the VM, file it, QEMU quits. */
static void on_snapshot(struct run_plan *p, const struct vm_result *r)
{
	struct err e = {0};
	char *bin = NULL;
	int rr = warm_take(p->qmp_sock, p->store, &p->taken, &e);
	if (rr == 0)
		rr = vm_find(&p->vc, &bin, &e);
	if (rr == 0)
		rr = warm_shape(&p->vc, bin, r->accel, p->work, p->shape, &e);
	if (rr == 0)
		rr = warm_put(p->store, p->im.manifest.digest, p->shape, p->taken.tmp, p->taken.hex,
			      p->taken.size, &e);
	free(bin);
	if (rr == 0) {
		p->warm_made = 1;
		return;
	}
	snprintf(p->warm_why, sizeof(p->warm_why), "%.300s", e.msg);
	if (p->taken.tmp)
		unlink(p->taken.tmp);
	kill(r->qemu_pid, SIGKILL);
}

void runplan_warm_event(struct run_plan *p, const char *name, const struct vm_result *r)
{
	if (!strcmp(name, "spawn") && p->warm_sock >= 0)
		on_spawn(p, r);
	else if (!strcmp(name, "init")) /* crumb-init has the request */
		close_fd(&p->warm_ctl);
	else if (!strcmp(name, "snapshot") && p->warm_make && !p->warm_made && !p->warm_why[0])
		on_snapshot(p, r);
}

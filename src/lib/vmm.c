/* vmm.c: vm_run: checks what the VM needs, picks KVM or TCG, and runs each boot's VMM. */
#include "vmm.h"
#include "passt.h"
#include "supervise.h"
#include "vmm_alt.h"
#include "vmm_qemu.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int vm_find(const struct vm_config *c, char **out, struct err *e)
{
	return c->vmm == VMM_QEMU ? vm_qemu_find(c->env, c->qemu, out, e)
				  : vm_alt_find(c->vmm, c->env, out, e);
}

/* Every file and directory the VM is given exists and is of the right kind. */
static int check_paths(const struct vm_config *c, struct err *e)
{
	struct stat st;
	int kbad = stat(c->kernel, &st) < 0 ? errno : 0; /* st is unset when stat failed */
	if (kbad || !S_ISREG(st.st_mode))
		return err_set(e, CRUMB_ENOENT, "kernel %s: %s", c->kernel,
			       kbad ? strerror(kbad) : "not a file");
	if (c->initrd && (stat(c->initrd, &st) < 0 || !S_ISREG(st.st_mode)))
		return err_errno(e, CRUMB_ENOENT, "initramfs %s", c->initrd);
	if (c->disk && (stat(c->disk, &st) < 0 || !S_ISREG(st.st_mode)))
		return err_errno(e, CRUMB_ENOENT, "disk image %s", c->disk);
	for (size_t i = 0; i < c->nvolumes + c->nshares; i++) {
		int vol = i < c->nvolumes;
		const char *p = vol ? c->volumes[i].path : c->shares[i - c->nvolumes].path;
		int bad = stat(p, &st) < 0 ? errno : 0;
		if (bad || (vol ? !S_ISREG(st.st_mode) : !S_ISDIR(st.st_mode)))
			return err_set(e, CRUMB_ENOENT, "%s %s: %s",
				       vol ? "volume" : "shared directory", p,
				       bad   ? strerror(bad)
				       : vol ? "not a file"
					     : "not a directory");
	}
	return 0;
}

/* One boot of bin on accel a: its network (passt), its argv and files, the
 * supervisor. 1: a probe boot that failed (supervise_run). */
static int boot(const struct vm_config *c0, const char *bin, enum accel a, int probe,
		vm_output_fn out, void *ctx, struct vm_result *res, struct err *e)
{
	struct vm_config c = *c0;
	vm_qemu_net(&c);
	vm_qemu_console(&c);
	struct passt passt = PASST_INIT;
	struct supervise_plan p = {.accel = a, .probe = probe, .extra_fd = -1, .events_fd = -1};
	/* Another VMM gets a stdin pipe even without -i: both poll their stdin
	 * for the serial port, which /dev/null does not allow. So does QEMU's
	 * virtio console: stdin's EOF would disconnect it, and QEMU then drops
	 * what the guest writes. */
	p.stdin_pipe = c.interactive || c.vmm != VMM_QEMU || c.vcon;
	int r = vm_alt_fds(&c, &p.extra_fd, &p.events_fd, e);
	if (r == 0 && c.vmm == VMM_QEMU && c.incoming_fd > 0 &&
	    (p.extra_fd = fcntl(c.incoming_fd, F_DUPFD_CLOEXEC, 10)) < 0)
		r = err_errno(e, CRUMB_EIO, "dup");
	if (r == 0 && c.net_passt && (r = passt_spawn(&c, &passt, e)) == 0)
		p.passt = &passt;
	if (r < 0) {
		if (p.extra_fd >= 0)
			close(p.extra_fd);
		if (p.events_fd >= 0)
			close(p.events_fd);
		return r;
	}
	p.argv = c.vmm != VMM_QEMU ? vm_alt_argv(&c, c.vmm, bin) : vm_qemu_argv(&c, bin, a);
	r = supervise_run(&c, &p, out, ctx, res, e);
	vm_argv_free(p.argv);
	passt_stop(&passt);
	if (passt.failed)
		return err_set(e, CRUMB_EIO, "passt (the guest's network) failed: %s",
			       passt.msg[0] ? passt.msg : "it exited");
	return r;
}

/* firecracker or cloud-hypervisor: KVM only, no probe; fw_cfg is QEMU's: the
 * config disk carries the config. */
static int run_alt(const struct vm_config *c, const char *bin, vm_output_fn out, void *ctx,
		   struct vm_result *res, struct err *e)
{
	struct vm_config alt = *c;
	if (alt.init_conf_disk)
		alt.init_conf = NULL;
	int pci = c->vmm == VMM_CLOUD_HYPERVISOR && vm_alt_kernel_has_virtio_pci(c->kernel);
	int r = vm_alt_check(&alt, pci, e);
	if (r == 0)
		r = vm_alt_kvm_check(c->vmm, e);
	if (r == 0)
		r = boot(&alt, bin, ACCEL_KVM, 0, out, ctx, res, e);
	return r;
}

static int run_qemu(const struct vm_config *c, const char *qemu, vm_output_fn out, void *ctx,
		    struct vm_result *res, struct err *e)
{
	char why[sizeof(res->kvm_note)];
	enum accel a;
	int probe;
	int r = accel_choose(c->accel, c->state_dir, &a, &probe, why, sizeof(why), e);
	if (r < 0)
		return r;
	r = boot(c, qemu, a, probe, out, ctx, res, e);
	if (probe) {
		accel_probe_store(c->state_dir, r == 0);
		if (r == 1) {
			snprintf(why, sizeof(why), "KVM did not boot (%.180s); fell back to TCG",
				 res->qemu_error[0] ? res->qemu_error : "no sign of life");
			r = boot(c, qemu, ACCEL_TCG, 0, out, ctx, res, e);
		}
	}
	snprintf(res->kvm_note, sizeof(res->kvm_note), "%s", why);
	return r;
}

int vm_run(const struct vm_config *c, vm_output_fn out, void *ctx, struct vm_result *res,
	   struct err *e)
{
	char *bin;
	int r = vm_find(c, &bin, e);
	if (r < 0)
		return r;
	if ((r = check_paths(c, e)) == 0)
		r = c->vmm == VMM_QEMU ? run_qemu(c, bin, out, ctx, res, e)
				       : run_alt(c, bin, out, ctx, res, e);
	free(bin);
	return r;
}

/* vmm.h: boots a VM (QEMU microvm, or firecracker / cloud-hypervisor) and follows its console
 * and boot markers: the front of the VMM modules. */
#ifndef CRUMB_VMM_H
#define CRUMB_VMM_H

#include "util.h"
#include "vmconf.h"

/*
 * The VMM modules, lowest first (each header includes only lower ones):
 *   accel.h      KVM or TCG: --accel, /dev/kvm, the probe verdict cache
 *   vmconf.h     struct vm_config / vm_result and their parts (ports, volumes, klog)
 *   console.h    the guest's console stream and its signed markers
 *   vmm_qemu.h   QEMU's argv and network devices
 *   vmm_alt.h    firecracker's config, cloud-hypervisor's argv, their refusals
 *   passt.h      this VM's passt
 *   supervise.h  one VMM process from fork to exit
 *   vmm.h        vm_run: checks, the accelerator, the boot (and the probe's retry)
 */

/* Finds c->vmm's binary: for QEMU c->qemu, else c->env->qemu ($CRUMB_QEMU), else
 * qemu-system-x86_64 in PATH (vm_qemu_find); for the others vm_alt_find.
 * CRUMB_ENOENT with an install hint when absent. *out is malloc'd. */
int vm_find(const struct vm_config *c, char **out, struct err *e);

/*
 * Boots the VM and waits for its VMM to exit. The kernel, initramfs, disk,
 * volumes (files) and shares (directories) must exist: CRUMB_ENOENT naming
 * the first that does not. With ACCEL_AUTO, KVM is used only when /dev/kvm
 * opens and a probe boot reaches crumb-init within ACCEL_PROBE_SECONDS (the
 * verdict is cached per host boot in state_dir); otherwise TCG, with the
 * reason in res->kvm_note. User networking on QEMU is this VM's passt
 * (passt.h), stopped when the VM ends; its failure is CRUMB_EIO "passt (the
 * guest's network) failed: ...". Another VMM runs on KVM only, after
 * vm_alt_check and vm_alt_kvm_check. c->env supplies CRUMB_QEMU,
 * CRUMB_PASST, CRUMB_NETDEV, CRUMB_FIRECRACKER and CRUMB_CLOUD_HYPERVISOR.
 * Returns 0 when the VMM ran (check res->status, res->panic), negative on
 * failure to start it.
 */
int vm_run(const struct vm_config *c, vm_output_fn out, void *ctx, struct vm_result *res,
	   struct err *e);

#endif

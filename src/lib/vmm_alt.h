/* vmm_alt.h: firecracker and cloud-hypervisor as the VMM (crumb run --vmm): their config,
 * argv and kernel command line from a struct vm_config, and what they cannot do here. */
#ifndef CRUMB_VMM_ALT_H
#define CRUMB_VMM_ALT_H

#include "util.h"
#include "vmconf.h"

/* vm_vmm_parse and vm_vmm_name, the --vmm names, are in vmconf.h. */

/*
 * Finds the binary of v (not VMM_QEMU): env->firecracker or
 * env->cloud_hypervisor ($CRUMB_FIRECRACKER, $CRUMB_CLOUD_HYPERVISOR: a path,
 * or a name looked up in PATH; env may be NULL), else "firecracker" or
 * "cloud-hypervisor" in PATH. CRUMB_ENOENT with an install hint when absent.
 * *out is malloc'd.
 */
int vm_alt_find(enum vm_vmm v, const struct hostenv *env, char **out, struct err *e);

/*
 * Refuses (CRUMB_EUNSUPP, one line naming the flag and the VMM) what only
 * QEMU does here: user networking and -p (c->net; firecracker and
 * cloud-hypervisor need a tap device, which takes root), 9p shares (-v
 * HOSTDIR), the control channel and QMP (ctl_sock, qmp_sock: -d, crumb stop),
 * fw_cfg without a config disk, and TCG (--accel tcg). For cloud-hypervisor,
 * also a path with a ',' (its option syntax cannot quote one) and any disk
 * when kernel_pci is 0: its virtio devices are virtio-pci only.
 */
int vm_alt_check(const struct vm_config *c, int kernel_pci, struct err *e);

/* 1 if the kernel file holds the virtio-pci driver (its name as a string), 0 if
 * not or unreadable. The crumb kernel has no PCI. */
int vm_alt_kernel_has_virtio_pci(const char *kernel);

/* CRUMB_EUNSUPP "firecracker needs KVM: /dev/kvm: ..." unless /dev/kvm opens
 * read-write and answers KVM_GET_API_VERSION with 12. */
int vm_alt_kvm_check(enum vm_vmm v, struct err *e);

/*
 * The kernel command line for v (malloc'd). Both: the console on ttyS0 (the
 * 8250 UART both emulate, to the VMM's stdout), panic=-1, crumb-init as
 * rdinit (initramfs) or init with root=/dev/vda (ro unless disk_writable:
 * neither VMM has QEMU's snapshot), quiet or loglevel=7, printk.time=1 with
 * klog, then c->cmdline. firecracker: reboot=k (its i8042 reset ends the
 * process) and pci=off. cloud-hypervisor: reboot=t (a triple fault; it
 * reboots the VM in place, so crumb kills it on its "rebooting" event).
 */
char *vm_alt_cmdline(const struct vm_config *c, enum vm_vmm v);

/* firecracker's --config-file JSON (malloc'd, sorted keys): boot-source
 * (kernel_image_path, boot_args, initrd_path), drives (root, volumes, config
 * disk, in this order: /dev/vda, /dev/vdb...), machine-config (vcpu_count,
 * mem_size_mib), an entropy device (virtio-rng), no network interface. */
char *vm_alt_firecracker_json(const struct vm_config *c);

/*
 * The files c->vmm's process needs besides its argv (both -1 for VMM_QEMU):
 * *extra becomes the child's VM_ALT_FD (vmconf.h): for firecracker a memfd
 * holding vm_alt_firecracker_json (read from offset 0 through /dev/fd/3),
 * for cloud-hypervisor the write end of a pipe for its --event-monitor;
 * *events is that pipe's read end (else -1), read with vm_alt_saw_reboot.
 * Both close-on-exec; the caller closes them. CRUMB_EIO (memfd_create, pipe)
 * with nothing left open.
 */
int vm_alt_fds(const struct vm_config *c, int *extra, int *events, struct err *e);

/* The VMM's argv (NULL-terminated, malloc'd strings; free with vm_argv_free).
 * firecracker: --no-api --config-file /dev/fd/3, its log (warnings) on stderr.
 * cloud-hypervisor: --kernel, --initramfs, --cmdline, --memory size=NM,
 * --cpus boot=N, --serial tty --console off, --event-monitor fd=3, --disk
 * path=...[,readonly=on] for the root, the volumes and the config disk. */
char **vm_alt_argv(const struct vm_config *c, enum vm_vmm v, const char *bin);

/* Whether cloud-hypervisor's event stream (so far) reports that the guest
 * reset: {"source": "vm", "event": "rebooting"}, pretty-printed or not. */
int vm_alt_saw_reboot(const char *events);

#endif

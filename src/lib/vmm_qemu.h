/* vmm_qemu.h: QEMU as the VMM: finding it, the guest's network devices, and its microvm argv. */
#ifndef CRUMB_VMM_QEMU_H
#define CRUMB_VMM_QEMU_H

#include "util.h"
#include "vmconf.h"

/* Finds QEMU: given, else env->qemu ($CRUMB_QEMU; env may be NULL), else
 * qemu-system-x86_64 in PATH. CRUMB_ENOENT with an install hint when absent.
 * *out is malloc'd. */
int vm_qemu_find(const struct hostenv *env, const char *given, char **out, struct err *e);

/*
 * Decides how c's network card is served, from c->net, c->vmm and
 * c->env->netdev ($CRUMB_NETDEV, a knob for bench/net.sh), and sets the
 * three fields callers leave alone: net_passt (the card is this VM's passt:
 * user networking on QEMU, unless CRUMB_NETDEV=slirp), net_passt_ports
 * (CRUMB_NETDEV=passt: passt forwards the published ports too) and
 * net_slirp_open (CRUMB_NETDEV=slirp: QEMU's slirp without restrict=on).
 * Any other value of CRUMB_NETDEV is the default. c is the caller's copy.
 */
void vm_qemu_net(struct vm_config *c);

/*
 * Decides where the guest's service output goes and sets c->vcon: 1 on QEMU
 * (the virtio console, hvc0, on QEMU's stdio; the 8250 UART, with the
 * kernel's messages, on fd VM_SERIAL_FD), 0 on another VMM or when
 * c->env->console ($CRUMB_CONSOLE) is "uart" (everything on the UART, on
 * stdio: the old path, for bench/console.sh). c is the caller's copy.
 */
void vm_qemu_console(struct vm_config *c);

/*
 * QEMU's argv (NULL-terminated, malloc'd strings; vm_argv_free) for c on
 * accel a, with qemu as argv[0]: the microvm machine without ACPI or
 * defaults, the serial console on stdio (with c->vcon: the console port on
 * stdio, the UART on VM_SERIAL_FD), virtio-rng; then the disks in the
 * order the guest names them (/dev/vda root, the volumes, the config disk;
 * the root with snapshot=on unless disk_writable), the 9p shares, the network
 * as vm_qemu_net decided it (passt through fd VM_NET_FD, slirp with hostfwd
 * for the ports), fw_cfg's init_conf, the control channel and QMP sockets,
 * and the kernel command line (console=ttyS0 reboot=t panic=-1, crumb-init as
 * rdinit or init, quiet or loglevel=7, printk.time=1 with klog, c->cmdline,
 * crumb.console=virtio with c->vcon).
 * A ',' in a path is doubled (QEMU's option syntax). Reads no file.
 */
char **vm_qemu_argv(const struct vm_config *c, const char *qemu, enum accel a);

#endif

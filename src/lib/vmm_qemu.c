/* vmm_qemu.c: QEMU microvm's command line, its network devices (passt, slirp) and finding it. */
#include "vmm_qemu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int vm_qemu_find(const struct hostenv *env, const char *given, char **out, struct err *e)
{
	return vm_find_program(given, env ? env->qemu : NULL, env ? env->path : NULL,
			       "qemu-system-x86_64", "QEMU",
			       " (install Debian's qemu-system-x86, or set CRUMB_QEMU)", out, e);
}

void vm_qemu_net(struct vm_config *c)
{
	const char *netdev = c->env ? c->env->netdev : NULL;
	c->net_slirp_open = netdev && !strcmp(netdev, "slirp");
	c->net_passt = c->vmm == VMM_QEMU && c->net && !c->net_slirp_open;
	c->net_passt_ports = c->net_passt && netdev && !strcmp(netdev, "passt");
}

void vm_qemu_console(struct vm_config *c)
{
	const char *con = c->env ? c->env->console : NULL;
	c->vcon = c->vmm == VMM_QEMU && !(con && !strcmp(con, "uart"));
}

/* QEMU splits option values at commas: a comma in a path is written twice. */
static void add_path(struct sbuf *sb, const char *key, const char *path)
{
	sb_adds(sb, key);
	for (const char *p = path; *p; p++) {
		if (*p == ',')
			sb_addc(sb, ',');
		sb_addc(sb, *p);
	}
}

static void push_pair(struct strlist *l, const char *opt, char *val)
{
	strlist_push(l, opt);
	strlist_push_owned(l, val);
}

/* The machine, its size, and what every VM has. */
static void add_machine(struct strlist *l, const struct vm_config *c, const char *qemu,
			enum accel a)
{
	strlist_push(l, qemu);
	push_pair(l, "-M", xasprintf("microvm,accel=%s,acpi=off", accel_name(a)));
	if (a == ACCEL_KVM)
		push_pair(l, "-cpu", xstrdup("host"));
	push_pair(l, "-m", xasprintf("%u", c->mem_mb));
	push_pair(l, "-smp", xasprintf("%u", c->cpus ? c->cpus : 1));
	/* virtio-rng: a tiny kernel has almost no entropy of its own (NOTES.md). */
	const char *fixed[] = {"-nodefaults", "-no-user-config", "-display",	      "none",
			       "-no-reboot",  "-device",	 "virtio-rng-device", NULL};
	for (int i = 0; fixed[i]; i++)
		strlist_push(l, fixed[i]);
	/* With vcon the UART (kernel messages, panics) writes to a pipe of its
	 * own; the console port takes stdio (add_host_channels). */
	if (c->vcon) {
		push_pair(l, "-chardev",
			  xasprintf("file,id=crumbser,path=/dev/fd/%d", VM_SERIAL_FD));
		push_pair(l, "-serial", xstrdup("chardev:crumbser"));
	} else {
		push_pair(l, "-serial", xstrdup("stdio"));
	}
	strlist_push(l, "-kernel");
	strlist_push(l, c->kernel);
	if (c->initrd) {
		strlist_push(l, "-initrd");
		strlist_push(l, c->initrd);
	}
}

/* Block devices first, root then volumes, so that the guest names them
 * /dev/vda, /dev/vdb... in this order; then the 9p shares. */
static void add_disks(struct strlist *l, struct sbuf *sb, const struct vm_config *c)
{
	if (c->disk) {
		add_path(sb, "file=", c->disk);
		sb_addf(sb, ",format=raw,if=none,id=root%s",
			c->disk_writable ? "" : ",snapshot=on");
		push_pair(l, "-drive", sb_detach(sb));
		push_pair(l, "-device", xstrdup("virtio-blk-device,drive=root"));
	}
	for (size_t i = 0; i < c->nvolumes; i++) {
		add_path(sb, "file=", c->volumes[i].path);
		sb_addf(sb, ",format=raw,if=none,id=vol%zu%s", i,
			c->volumes[i].readonly ? ",readonly=on" : "");
		push_pair(l, "-drive", sb_detach(sb));
		push_pair(l, "-device", xasprintf("virtio-blk-device,drive=vol%zu", i));
	}
	if (c->init_conf_disk) {
		add_path(sb, "file=", c->init_conf_disk);
		/* writable: crumb-init wipes the marker key from it */
		sb_adds(sb, ",format=raw,if=none,id=initconf");
		push_pair(l, "-drive", sb_detach(sb));
		push_pair(l, "-device", xstrdup("virtio-blk-device,drive=initconf"));
	}
	for (size_t i = 0; i < c->nshares; i++) {
		sb_addf(sb, "local,id=fs%zu,", i);
		add_path(sb, "path=", c->shares[i].path);
		sb_adds(sb, ",security_model=none");
		if (c->shares[i].readonly)
			sb_adds(sb, ",readonly=on");
		push_pair(l, "-fsdev", sb_detach(sb));
		push_pair(
		    l, "-device",
		    xasprintf("virtio-9p-device,fsdev=fs%zu,mount_tag=%s", i, c->shares[i].tag));
	}
}

static void add_net(struct strlist *l, struct sbuf *sb, const struct vm_config *c)
{
	if (c->net && c->net_passt) {
		push_pair(l, "-netdev",
			  xasprintf("stream,id=n0,server=off,addr.type=fd,addr.str=%d", VM_NET_FD));
		/* passt takes 64 KiB frames: the guest's driver adopts host_mtu, and
		 * with 1500 a TCG guest receives ~10x slower (bench/net.sh). */
		push_pair(l, "-device", xstrdup("virtio-net-device,netdev=n0,host_mtu=65520"));
	}
	/* Published ports come in through QEMU's slirp: Debian 12's passt loses
	 * what a guest sends first on a forwarded connection (an SSH banner).
	 * With passt as eth0 this is a second card, eth1, on its own network with
	 * restrict=on: the guest can open nothing through it (10.0.2.2 there
	 * would be the host's loopback), only answer the forwarded ports. */
	int inbound = c->net && c->net_passt && c->nports && !c->net_passt_ports;
	if (!c->net || (c->net_passt && !inbound))
		return;
	if (inbound)
		sb_adds(sb, "user,id=n1,restrict=on,net=" VM_INBOUND_NET);
	else
		sb_adds(sb, c->net_slirp_open ? "user,id=n0" : "user,id=n0,restrict=on");
	for (size_t i = 0; i < c->nports; i++) {
		const struct vm_port *p = &c->ports[i];
		sb_addf(sb, ",hostfwd=%s:%s:%u-:%u", p->udp ? "udp" : "tcp", p->host_ip,
			p->host_port, p->guest_port);
	}
	push_pair(l, "-netdev", sb_detach(sb));
	push_pair(l, "-device",
		  xstrdup(inbound ? "virtio-net-device,netdev=n1,mac=" VM_INBOUND_MAC
				  : "virtio-net-device,netdev=n0"));
}

/* fw_cfg's config, the control channel and QMP. */
static void add_host_channels(struct strlist *l, struct sbuf *sb, const struct vm_config *c)
{
	if (c->init_conf) {
		sb_adds(sb, "name=" VM_FWCFG_INIT_CONF ",");
		add_path(sb, "file=", c->init_conf);
		push_pair(l, "-fw_cfg", sb_detach(sb));
	}
	if (c->ctl_sock || c->vcon || c->trace_path)
		push_pair(l, "-device", xstrdup("virtio-serial-device"));
	if (c->trace_path) {
		/* crumb-init's trace records (src/init/trace.h), written as they come. */
		sb_adds(sb, "file,id=crumbtrace,");
		add_path(sb, "path=", c->trace_path);
		push_pair(l, "-chardev", sb_detach(sb));
		push_pair(l, "-device",
			  xstrdup("virtserialport,chardev=crumbtrace,name=" VM_TRACE_PORT));
	}
	if (c->vcon) {
		/* The service's stdio and the markers, relayed by crumb-init (see
		 * src/init/relay.h). A plain port, not a virtconsole: QEMU drops a
		 * console port's bytes when stdout would block; a port waits. */
		push_pair(l, "-chardev", xstrdup("stdio,id=crumbcon,signal=off"));
		push_pair(l, "-device",
			  xstrdup("virtserialport,chardev=crumbcon,name=" VM_CONSOLE_PORT));
	}
	if (c->ctl_sock) {
		/* wait=off: QEMU does not wait for a client; `crumb stop` connects later. */
		sb_adds(sb, "socket,id=crumbctl,");
		add_path(sb, "path=", c->ctl_sock);
		sb_adds(sb, ",server=on,wait=off");
		push_pair(l, "-chardev", sb_detach(sb));
		push_pair(l, "-device",
			  xstrdup("virtserialport,chardev=crumbctl,name=" VM_CTL_PORT));
	}
	if (c->qmp_sock) {
		sb_adds(sb, "socket,id=crumbqmp,");
		add_path(sb, "path=", c->qmp_sock);
		sb_adds(sb, ",server=on,wait=off");
		push_pair(l, "-chardev", sb_detach(sb));
		push_pair(l, "-mon", xstrdup("chardev=crumbqmp,mode=control"));
	}
}

static char *kernel_cmdline(const struct vm_config *c, enum accel a)
{
	struct sbuf sb = SBUF_INIT;
	/* reboot=t + -no-reboot is what makes QEMU exit when crumb-init is done
	 * (power-off only halts microvm without ACPI); panic=-1 does the same
	 * for a panic. no_timer_check: on a loaded host the kernel's IO-APIC
	 * timer check can fail under TCG and panic ("IO-APIC + timer doesn't
	 * work!", seen once in 40 boots of bench/many.sh 20). */
	sb_adds(&sb, "console=ttyS0 reboot=t panic=-1 no_timer_check");
	/* Under TCG only (kernel/README): calibrating the local APIC timer costs ~250 ms and
	 * fails anyway ("APIC timer disabled due to verification failure"), and the delay loop
	 * ~50-85 ms; lpj is what it measured on these hosts. */
	if (a == ACCEL_TCG)
		sb_adds(&sb, " noapictimer lpj=790528");
	/* rw even for a disk not to be changed: its snapshot=on drive keeps the writes aside */
	vm_cmdline_tail(&sb, c, "rw");
	if (c->vcon) /* a module-style parameter: the kernel keeps it from init's env */
		sb_adds(&sb, " crumb.console=virtio");
	return sb_detach(&sb);
}

char **vm_qemu_argv(const struct vm_config *c, const char *qemu, enum accel a)
{
	struct strlist l = STRLIST_INIT;
	struct sbuf sb = SBUF_INIT;
	add_machine(&l, c, qemu, a);
	add_disks(&l, &sb, c);
	add_net(&l, &sb, c);
	add_host_channels(&l, &sb, c);
	push_pair(&l, "-append", kernel_cmdline(c, a));
	if (c->incoming_fd > 0) /* a warm start: the snapshot comes in there */
		push_pair(&l, "-incoming", xasprintf("fd:%d", VM_ALT_FD));
	sb_release(&sb);
	strlist_push_owned(&l, NULL);
	return l.v;
}

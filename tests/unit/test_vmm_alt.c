/* test_vmm_alt.c: --vmm firecracker|cloud-hypervisor: the firecracker JSON (parsed back), the
 * cloud-hypervisor argv, their kernel command lines, the refusals, the binary lookup. */
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "lib/vmm_alt.h"
#include "tap.h"

static char *joined(char **argv)
{
	struct sbuf sb = SBUF_INIT;
	for (int i = 0; argv[i]; i++)
		sb_addf(&sb, "%s%s", i ? "|" : "", argv[i]);
	return sb_detach(&sb);
}

static const char *jstr(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* drives[i] is {drive_id, path_on_host, is_root_device, is_read_only} and nothing else */
static int drive_is(json_t *drives, size_t i, const char *id, const char *path, int root, int ro)
{
	json_t *d = json_array_get(drives, i);
	return d && json_object_size(d) == 4 && !strcmp(jstr(d, "drive_id"), id) &&
	       !strcmp(jstr(d, "path_on_host"), path) &&
	       json_is_boolean(json_object_get(d, "is_root_device")) &&
	       json_boolean_value(json_object_get(d, "is_root_device")) == root &&
	       json_is_boolean(json_object_get(d, "is_read_only")) &&
	       json_boolean_value(json_object_get(d, "is_read_only")) == ro;
}

int main(void)
{
	struct err e = {0};
	enum vm_vmm v = VMM_QEMU;
	ok(vm_vmm_parse("firecracker", &v, &e) == 0 && v == VMM_FIRECRACKER, "parse firecracker");
	ok(vm_vmm_parse("cloud-hypervisor", &v, &e) == 0 && v == VMM_CLOUD_HYPERVISOR,
	   "parse cloud-hypervisor");
	ok(vm_vmm_parse("qemu", &v, &e) == 0 && v == VMM_QEMU, "parse qemu (the default's name)");
	ok(vm_vmm_parse("bogus", &v, &e) == CRUMB_EINVAL && strstr(e.msg, "'bogus'") &&
	       strstr(e.msg, "qemu, firecracker or cloud-hypervisor"),
	   "an unknown VMM is refused: %s", e.msg);
	is_str(vm_vmm_name(VMM_CLOUD_HYPERVISOR), "cloud-hypervisor", "names round-trip");

	/* Kernel command lines. */
	struct vm_config c = {
	    .kernel = "/k/vmlinux", .initrd = "/i.cpio", .mem_mb = 160, .vmm = VMM_FIRECRACKER};
	char *cl = vm_alt_cmdline(&c, VMM_FIRECRACKER);
	is_str(
	    cl,
	    "console=ttyS0 reboot=k pci=off panic=-1 no_timer_check rdinit=/sbin/crumb-init quiet",
	    "firecracker: reboot=k (its i8042 reset ends it), pci=off, crumb-init as rdinit");
	free(cl);
	cl = vm_alt_cmdline(&c, VMM_CLOUD_HYPERVISOR);
	is_str(cl, "console=ttyS0 reboot=t panic=-1 no_timer_check rdinit=/sbin/crumb-init quiet",
	       "cloud-hypervisor: reboot=t, no pci=off (its devices are virtio-pci)");
	free(cl);
	struct vm_config d = {.kernel = "/k",
			      .disk = "/root.ext4",
			      .mem_mb = 128,
			      .verbose = 1,
			      .cmdline = "foo=1 bar"};
	struct vm_klog klog = VM_KLOG_INIT;
	cl = vm_alt_cmdline(&d, VMM_FIRECRACKER);
	is_str(cl,
	       "console=ttyS0 reboot=k pci=off panic=-1 no_timer_check root=/dev/vda ro "
	       "rootfstype=ext4 "
	       "init=/sbin/crumb-init loglevel=7 foo=1 bar",
	       "a disk root: read-only (no snapshot), verbose, the extra arguments last");
	free(cl);
	d.disk_writable = 1;
	d.verbose = 0;
	d.klog = &klog;
	cl = vm_alt_cmdline(&d, VMM_CLOUD_HYPERVISOR);
	ok(strstr(cl, " root=/dev/vda rw ") && strstr(cl, " loglevel=7 printk.time=1 foo=1 bar") &&
	       !strstr(cl, "quiet"),
	   "a writable root is rw; klog: printk.time=1, not quiet: %s", cl);
	free(cl);

	/* firecracker: the config file, parsed back. */
	char *js = vm_alt_firecracker_json(&c);
	json_error_t je;
	json_t *j = json_loads(js, 0, &je);
	ok(j != NULL, "the firecracker config is JSON (%s)", j ? "ok" : je.text);
	json_t *bs = json_object_get(j, "boot-source");
	is_str(jstr(bs, "kernel_image_path"), "/k/vmlinux", "boot-source.kernel_image_path");
	is_str(jstr(bs, "initrd_path"), "/i.cpio", "boot-source.initrd_path");
	cl = vm_alt_cmdline(&c, VMM_FIRECRACKER);
	is_str(jstr(bs, "boot_args"), cl, "boot-source.boot_args is firecracker's command line");
	free(cl);
	ok(json_object_size(bs) == 3, "boot-source has exactly those three fields");
	json_t *mc = json_object_get(j, "machine-config");
	ok(json_integer_value(json_object_get(mc, "vcpu_count")) == 1 &&
	       json_integer_value(json_object_get(mc, "mem_size_mib")) == 160 &&
	       json_object_size(mc) == 2,
	   "machine-config: vcpu_count 1 (cpus 0), mem_size_mib 160");
	ok(json_is_array(json_object_get(j, "drives")) &&
	       json_array_size(json_object_get(j, "drives")) == 0,
	   "an initramfs run has no drive");
	ok(json_is_array(json_object_get(j, "network-interfaces")) &&
	       json_array_size(json_object_get(j, "network-interfaces")) == 0,
	   "no network interface (a tap device needs root)");
	ok(json_is_object(json_object_get(j, "entropy")), "an entropy device (virtio-rng)");
	ok(json_object_size(j) == 5, "nothing else in the config (%zu keys)", json_object_size(j));
	ok(strstr(js, "\"boot-source\"") < strstr(js, "\"drives\""), "keys are sorted");
	json_decref(j);
	free(js);

	struct vm_volume vols[2] = {{"/v/data.ext4", 0}, {"/v/ro.ext4", 1}};
	struct vm_config full = {.kernel = "/k",
				 .disk = "/root.ext4",
				 .mem_mb = 256,
				 .cpus = 2,
				 .volumes = vols,
				 .nvolumes = 2,
				 .init_conf_disk = "/run/init.disk",
				 .vmm = VMM_FIRECRACKER};
	js = vm_alt_firecracker_json(&full);
	j = json_loads(js, 0, &je);
	bs = json_object_get(j, "boot-source");
	json_t *dr = json_object_get(j, "drives");
	ok(json_object_get(bs, "initrd_path") == NULL, "a disk root: no initrd_path");
	ok(strstr(jstr(bs, "boot_args"), "root=/dev/vda ro ") != NULL,
	   "boot_args: root=/dev/vda ro");
	ok(json_array_size(dr) == 4, "root, two volumes, the config disk");
	ok(drive_is(dr, 0, "root", "/root.ext4", 1, 1), "drive 0: the root (vda), read-only");
	ok(drive_is(dr, 1, "vol0", "/v/data.ext4", 0, 0), "drive 1: a read-write volume (vdb)");
	ok(drive_is(dr, 2, "vol1", "/v/ro.ext4", 0, 1), "drive 2: a :ro volume (vdc)");
	ok(drive_is(dr, 3, "initconf", "/run/init.disk", 0, 0),
	   "drive 3: the config disk, writable (crumb-init wipes the marker key)");
	mc = json_object_get(j, "machine-config");
	ok(json_integer_value(json_object_get(mc, "vcpu_count")) == 2 &&
	       json_integer_value(json_object_get(mc, "mem_size_mib")) == 256,
	   "machine-config: 2 vCPUs, 256 MiB");
	json_decref(j);
	free(js);
	full.disk_writable = 1;
	js = vm_alt_firecracker_json(&full);
	j = json_loads(js, 0, &je);
	ok(drive_is(json_object_get(j, "drives"), 0, "root", "/root.ext4", 1, 0),
	   "a writable root disk is read-write");
	json_decref(j);
	free(js);
	full.disk_writable = 0;

	char **argv = vm_alt_argv(&c, VMM_FIRECRACKER, "/opt/fc/firecracker");
	char *a = joined(argv);
	is_str(a, "/opt/fc/firecracker|--no-api|--config-file|/dev/fd/3|--log-path|/dev/stderr",
	       "firecracker argv: no API socket, the config on fd 3, its log on stderr");
	free(a);
	vm_argv_free(argv);

	/* cloud-hypervisor: the argv. */
	c.vmm = VMM_CLOUD_HYPERVISOR;
	argv = vm_alt_argv(&c, VMM_CLOUD_HYPERVISOR, "/usr/bin/cloud-hypervisor");
	a = joined(argv);
	is_str(a,
	       "/usr/bin/cloud-hypervisor|--kernel|/k/vmlinux|--initramfs|/i.cpio|--cmdline|"
	       "console=ttyS0 reboot=t panic=-1 no_timer_check rdinit=/sbin/crumb-init quiet|"
	       "--memory|size=160M|--cpus|boot=1|--serial|tty|--console|off|--event-monitor|fd=3",
	       "cloud-hypervisor argv, initramfs run: no disk");
	free(a);
	vm_argv_free(argv);
	full.vmm = VMM_CLOUD_HYPERVISOR;
	argv = vm_alt_argv(&full, VMM_CLOUD_HYPERVISOR, "ch");
	a = joined(argv);
	ok(strstr(a, "|--cpus|boot=2|") && strstr(a, "|--memory|size=256M|") &&
	       !strstr(a, "--initramfs"),
	   "cloud-hypervisor argv: cpus, memory, no initramfs");
	ok(strstr(a, "|--disk|path=/root.ext4,readonly=on|path=/v/data.ext4|path=/v/ro.ext4,"
		     "readonly=on|path=/run/init.disk") != NULL &&
	       strstr(a, "--disk") == strstr(a, "|--disk|") + 1 &&
	       !strstr(strstr(a, "--disk") + 1, "--disk") &&
	       !strcmp(a + strlen(a) - 19, "path=/run/init.disk"),
	   "one --disk: root (read-only), volumes, config disk, last: %s", a);
	free(a);
	vm_argv_free(argv);

	/* The files each VMM gets besides its argv (vm_alt_fds). */
	int extra = 0, events = 0;
	c.vmm = VMM_FIRECRACKER;
	ok(vm_alt_fds(&c, &extra, &events, &e) == 0 && extra >= 0 && events == -1,
	   "firecracker: a config file, no event stream");
	char *want = vm_alt_firecracker_json(&c), got[8192];
	ssize_t gn = pread(extra, got, sizeof(got) - 1, 0);
	got[gn > 0 ? gn : 0] = 0;
	is_str(got, want, "firecracker: the memfd holds its JSON config");
	ok((fcntl(extra, F_GETFD) & FD_CLOEXEC) != 0, "firecracker: the config is close-on-exec");
	free(want);
	close(extra);
	c.vmm = VMM_CLOUD_HYPERVISOR;
	ok(vm_alt_fds(&c, &extra, &events, &e) == 0 && extra >= 0 && events >= 0 &&
	       write(extra, "x", 1) == 1 && read(events, got, 1) == 1 && got[0] == 'x',
	   "cloud-hypervisor: a pipe, the child writing its events to the read end we keep");
	close(extra);
	close(events);
	c.vmm = VMM_QEMU;
	ok(vm_alt_fds(&c, &extra, &events, &e) == 0 && extra == -1 && events == -1,
	   "QEMU: neither");
	c.vmm = VMM_CLOUD_HYPERVISOR;

	/* cloud-hypervisor's events. */
	ok(vm_alt_saw_reboot("{\n  \"timestamp\": {\"secs\": 0},\n  \"source\": \"vm\",\n"
			     "  \"event\": \"rebooting\",\n  \"properties\": null\n}\n\n"),
	   "a pretty-printed rebooting event is seen");
	ok(vm_alt_saw_reboot("{\"source\":\"vm\",\"event\":\"reboot\"}"),
	   "a compact reboot event too");
	ok(!vm_alt_saw_reboot("{\"source\":\"vm\",\"event\":\"booted\"}{\"event\": \"shutdown\"}"),
	   "booted and shutdown are not resets");
	ok(!vm_alt_saw_reboot("{\"source\":\"rebooting\",\"event\":\"x\"}"),
	   "only the event field counts");

	/* Refusals of what only QEMU does here. */
	struct vm_port port = {"127.0.0.1", 8080, 80, 0};
	struct vm_share share = {"/host/dir", "crumb0", 0};
	struct vm_config r = c;
	r.vmm = VMM_FIRECRACKER;
	ok(vm_alt_check(&r, 0, &e) == 0, "a plain initramfs run is fine for firecracker");
	r.net = 1;
	r.ports = &port;
	r.nports = 1;
	ok(vm_alt_check(&r, 0, &e) == CRUMB_EUNSUPP && !strncmp(e.msg, "-p: ", 4) &&
	       strstr(e.msg, "firecracker") && !strchr(e.msg, '\n'),
	   "-p is refused, naming the flag and the VMM: %s", e.msg);
	r.nports = 0;
	ok(vm_alt_check(&r, 0, &e) == CRUMB_EUNSUPP && strstr(e.msg, "--net user") &&
	       strstr(e.msg, "tap device"),
	   "user networking is refused: %s", e.msg);
	r.net = 0;
	r.shares = &share;
	r.nshares = 1;
	ok(vm_alt_check(&r, 0, &e) == CRUMB_EUNSUPP && strstr(e.msg, "-v /host/dir") &&
	       strstr(e.msg, "9p"),
	   "a 9p share is refused: %s", e.msg);
	r.nshares = 0;
	r.ctl_sock = "/s/ctl.sock";
	ok(vm_alt_check(&r, 0, &e) == CRUMB_EUNSUPP && strstr(e.msg, "virtio-serial"),
	   "the control channel is refused: %s", e.msg);
	r.ctl_sock = NULL;
	r.qmp_sock = "/s/qmp.sock";
	ok(vm_alt_check(&r, 0, &e) == CRUMB_EUNSUPP && strstr(e.msg, "QMP"), "QMP is refused");
	r.qmp_sock = NULL;
	r.init_conf = "/s/init.conf";
	ok(vm_alt_check(&r, 0, &e) == CRUMB_EUNSUPP && strstr(e.msg, "fw_cfg"),
	   "fw_cfg alone is refused: %s", e.msg);
	r.init_conf_disk = "/s/init.disk";
	ok(vm_alt_check(&r, 0, &e) == 0, "with a config disk, firecracker is fine (no PCI needed)");
	r.accel = ACCEL_TCG;
	ok(vm_alt_check(&r, 0, &e) == CRUMB_EUNSUPP && strstr(e.msg, "--accel tcg") &&
	       strstr(e.msg, "KVM only"),
	   "TCG is refused: %s", e.msg);
	r.accel = ACCEL_AUTO;
	r.vmm = VMM_CLOUD_HYPERVISOR;
	ok(vm_alt_check(&r, 0, &e) == CRUMB_EUNSUPP && strstr(e.msg, "virtio-pci") &&
	       strstr(e.msg, "cloud-hypervisor"),
	   "cloud-hypervisor: a config disk without a virtio-pci kernel is refused: %s", e.msg);
	ok(vm_alt_check(&r, 1, &e) == 0, "... and fine with one");
	r.init_conf_disk = NULL;
	r.init_conf = NULL;
	ok(vm_alt_check(&r, 0, &e) == 0, "cloud-hypervisor: no disk, no PCI needed");
	r.initrd = "/a,b.cpio";
	ok(vm_alt_check(&r, 1, &e) == CRUMB_EUNSUPP && strstr(e.msg, "/a,b.cpio"),
	   "cloud-hypervisor: a path with a comma is refused: %s", e.msg);
	r.vmm = VMM_QEMU;
	r.net = 1;
	r.shares = &share;
	r.nshares = 1;
	ok(vm_alt_check(&r, 0, &e) == 0, "nothing is refused for QEMU");

	/* The kernel's virtio-pci driver, by its name in the image. */
	char dir[] = "/tmp/crumb-vmm-alt.XXXXXX";
	ok(mkdtemp(dir) != NULL, "a temporary directory");
	char *k1 = xasprintf("%s/with", dir), *k2 = xasprintf("%s/without", dir);
	sh("printf 'ELF...\\0virtio-pci\\0...' >%s && printf 'ELF...virtio-mmio' >%s", k1, k2);
	ok(vm_alt_kernel_has_virtio_pci(k1) == 1, "a kernel with virtio-pci is seen");
	ok(vm_alt_kernel_has_virtio_pci(k2) == 0, "a kernel without is seen too");
	ok(vm_alt_kernel_has_virtio_pci("/no/such/kernel") == 0, "a missing kernel has none");

	/* Binary lookup: $CRUMB_FIRECRACKER, else PATH; a one-line hint when absent. */
	char *bin = xasprintf("%s/bin", dir), *fc = xasprintf("%s/bin/firecracker", dir);
	sh("mkdir -p %s && printf '#!/bin/sh\\n' >%s && chmod +x %s", bin, fc, fc);
	char *found = NULL;
	struct hostenv env = {0};
	env.path = dir;
	ok(vm_alt_find(VMM_FIRECRACKER, &env, &found, &e) == CRUMB_ENOENT &&
	       strstr(e.msg, "firecracker not found in PATH") &&
	       strstr(e.msg, "CRUMB_FIRECRACKER") && !strchr(e.msg, '\n'),
	   "firecracker missing: %s", e.msg);
	ok(vm_alt_find(VMM_CLOUD_HYPERVISOR, &env, &found, &e) == CRUMB_ENOENT &&
	       strstr(e.msg, "cloud-hypervisor not found") &&
	       strstr(e.msg, "CRUMB_CLOUD_HYPERVISOR"),
	   "cloud-hypervisor missing: %s", e.msg);
	env.path = bin;
	ok(vm_alt_find(VMM_FIRECRACKER, &env, &found, &e) == 0 && found && !strcmp(found, fc),
	   "firecracker found in PATH");
	free(found);
	found = NULL;
	env.path = dir;
	env.firecracker = fc;
	ok(vm_alt_find(VMM_FIRECRACKER, &env, &found, &e) == 0 && found && !strcmp(found, fc),
	   "$CRUMB_FIRECRACKER wins");
	free(found);
	found = NULL;
	env.cloud_hypervisor = k2; /* not executable */
	ok(vm_alt_find(VMM_CLOUD_HYPERVISOR, &env, &found, &e) == CRUMB_ENOENT &&
	       strstr(e.msg, "CRUMB_CLOUD_HYPERVISOR"),
	   "a $CRUMB_CLOUD_HYPERVISOR that is not executable: %s", e.msg);
	ok(vm_alt_find(VMM_FIRECRACKER, NULL, &found, &e) == CRUMB_ENOENT &&
	       strstr(e.msg, "firecracker not found in PATH"),
	   "a NULL env is an empty one");

	/* KVM: usable, or one line saying why not. */
	int kr = vm_alt_kvm_check(VMM_FIRECRACKER, &e);
	ok(kr == 0 ||
	       (kr == CRUMB_EUNSUPP && !strncmp(e.msg, "firecracker needs KVM: /dev/kvm", 31)),
	   "KVM check: %s", kr ? e.msg : "usable");

	sh("rm -rf %s", dir);
	free(k1);
	free(k2);
	free(bin);
	free(fc);
	return done_testing();
}

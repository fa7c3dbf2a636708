/* vmm_alt.c: firecracker's JSON config, cloud-hypervisor's argv, their kernel command lines,
 * and the refusals of what only QEMU does here. */
#include "vmm_alt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <linux/kvm.h>

int vm_alt_find(enum vm_vmm v, const struct hostenv *env, char **out, struct err *e)
{
	int fc = v == VMM_FIRECRACKER;
	const char *var = fc ? "CRUMB_FIRECRACKER" : "CRUMB_CLOUD_HYPERVISOR";
	const char *want = !env ? NULL : fc ? env->firecracker : env->cloud_hypervisor;
	if (!want || !*want)
		want = vm_vmm_name(v);
	if (strchr(want, '/')) {
		struct stat st;
		if (stat(want, &st) < 0 || !S_ISREG(st.st_mode) || access(want, X_OK) < 0)
			return err_set(e, CRUMB_ENOENT, "%s not usable at %s (from $%s)",
				       vm_vmm_name(v), want, var);
		*out = xstrdup(want);
		return 0;
	}
	if ((*out = path_lookup(want, env ? env->path : NULL)))
		return 0;
	return err_set(e, CRUMB_ENOENT,
		       "--vmm %s: %s not found in PATH (not in Debian's archive: install a release "
		       "binary from github.com/%s/releases, or set %s)",
		       vm_vmm_name(v), want,
		       fc ? "firecracker-microvm/firecracker" : "cloud-hypervisor/cloud-hypervisor",
		       var);
}

int vm_alt_check(const struct vm_config *c, int kernel_pci, struct err *e)
{
	const char *n = vm_vmm_name(c->vmm);
	if (c->vmm == VMM_QEMU)
		return 0;
	if (c->nports)
		return err_set(
		    e, CRUMB_EUNSUPP,
		    "-p: published ports need QEMU's user networking; %s's network needs "
		    "a tap device (made by root), so crumb runs it without one",
		    n);
	if (c->net)
		return err_set(e, CRUMB_EUNSUPP,
			       "--net user: %s has no user networking (its network needs a tap "
			       "device, made by root): use --net none",
			       n);
	if (c->nshares)
		return err_set(e, CRUMB_EUNSUPP,
			       "-v %s: host directories are shared over virtio-9p, which only QEMU "
			       "has here, not %s",
			       c->shares[0].path, n);
	if (c->ctl_sock || c->qmp_sock)
		return err_set(
		    e, CRUMB_EUNSUPP,
		    "-d/--name: 'crumb stop' needs QEMU's control channel (virtio-serial) "
		    "and QMP, which %s does not have",
		    n);
	if (c->trace_path)
		return err_set(
		    e, CRUMB_EUNSUPP,
		    "--trace: the trace comes on a virtio-serial port, which %s does not "
		    "have",
		    n);
	if (c->init_conf && !c->init_conf_disk)
		return err_set(e, CRUMB_EUNSUPP,
			       "the run config goes through QEMU's fw_cfg, which %s does not have "
			       "(give it a config disk)",
			       n);
	if (c->accel == ACCEL_TCG)
		return err_set(e, CRUMB_EUNSUPP, "--accel tcg: %s runs on KVM only", n);
	if (c->vmm != VMM_CLOUD_HYPERVISOR)
		return 0;
	struct strlist paths = STRLIST_INIT;
	const char *fixed[] = {c->kernel, c->initrd, c->disk, c->init_conf_disk};
	for (size_t i = 0; i < 4; i++)
		if (fixed[i])
			strlist_push(&paths, fixed[i]);
	for (size_t i = 0; i < c->nvolumes; i++)
		strlist_push(&paths, c->volumes[i].path);
	for (size_t i = 0; i < paths.n; i++)
		if (strchr(paths.v[i], ',')) {
			err_set(e, CRUMB_EUNSUPP,
				"%s: cloud-hypervisor cannot take a path with a ','", paths.v[i]);
			strlist_release(&paths);
			return CRUMB_EUNSUPP;
		}
	strlist_release(&paths);
	if ((c->disk || c->nvolumes || c->init_conf_disk) && !kernel_pci)
		return err_set(e, CRUMB_EUNSUPP,
			       "%s: cloud-hypervisor's disks are virtio-pci and the kernel %s has "
			       "no virtio-pci driver (the crumb kernel has no PCI): boot a kernel "
			       "with CONFIG_VIRTIO_PCI (--kernel), or run without disks (--exec, "
			       "no -v, no flag that needs the config disk)",
			       c->disk	     ? "the root disk"
			       : c->nvolumes ? "-v"
					     : "the run config",
			       c->kernel);
	return 0;
}

int vm_alt_kernel_has_virtio_pci(const char *kernel)
{
	int fd = open(kernel, O_RDONLY | O_CLOEXEC);
	struct stat st;
	int found = 0;
	if (fd < 0)
		return 0;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
		void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (m != MAP_FAILED) {
			/* the driver's name, "virtio-pci", is in .rodata when it is built in */
			found = memmem(m, (size_t)st.st_size, "virtio-pci", 10) != NULL;
			munmap(m, (size_t)st.st_size);
		}
	}
	close(fd);
	return found;
}

int vm_alt_kvm_check(enum vm_vmm v, struct err *e)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return err_set(e, CRUMB_EUNSUPP, "%s needs KVM: /dev/kvm: %s", vm_vmm_name(v),
			       strerror(errno));
	int api = ioctl(fd, KVM_GET_API_VERSION, 0);
	int saved = errno;
	close(fd);
	if (api != KVM_API_VERSION)
		return err_set(e, CRUMB_EUNSUPP, "%s needs KVM: /dev/kvm is unusable (%s)",
			       vm_vmm_name(v),
			       api < 0 ? strerror(saved) : "unexpected KVM_GET_API_VERSION");
	return 0;
}

char *vm_alt_cmdline(const struct vm_config *c, enum vm_vmm v)
{
	struct sbuf sb = SBUF_INIT;
	/* no_timer_check as for QEMU: a loaded host can fail the IO-APIC timer check. */
	sb_addf(&sb, "console=ttyS0 %s panic=-1 no_timer_check",
		v == VMM_FIRECRACKER ? "reboot=k pci=off" : "reboot=t");
	vm_cmdline_tail(&sb, c, c->disk_writable ? "rw" : "ro");
	return sb_detach(&sb);
}

static void add_drive(json_t *drives, const char *id, const char *path, int root, int ro)
{
	json_array_append_new(drives,
			      json_pack("{s:s, s:s, s:b, s:b}", "drive_id", id, "path_on_host",
					path, "is_root_device", root, "is_read_only", ro));
}

char *vm_alt_firecracker_json(const struct vm_config *c)
{
	char *cmdline = vm_alt_cmdline(c, VMM_FIRECRACKER);
	json_t *boot =
	    json_pack("{s:s, s:s}", "kernel_image_path", c->kernel, "boot_args", cmdline);
	free(cmdline);
	if (c->initrd)
		json_object_set_new(boot, "initrd_path", json_string(c->initrd));
	/* In this order the guest names them /dev/vda, /dev/vdb...; crumb-init
	 * finds the config disk by its content. */
	json_t *drives = json_array();
	if (c->disk)
		add_drive(drives, "root", c->disk, 1, !c->disk_writable);
	for (size_t i = 0; i < c->nvolumes; i++) {
		char id[32];
		snprintf(id, sizeof(id), "vol%zu", i);
		add_drive(drives, id, c->volumes[i].path, 0, c->volumes[i].readonly);
	}
	if (c->init_conf_disk) /* writable: crumb-init wipes the marker key from it */
		add_drive(drives, "initconf", c->init_conf_disk, 0, 0);
	json_t *root =
	    json_pack("{s:o, s:o, s:{s:I, s:I}, s:[], s:{}}", "boot-source", boot, "drives", drives,
		      "machine-config", "vcpu_count", (json_int_t)(c->cpus ? c->cpus : 1),
		      "mem_size_mib", (json_int_t)c->mem_mb, "network-interfaces", "entropy");
	char *s = json_dumps(root, JSON_SORT_KEYS | JSON_INDENT(2));
	json_decref(root);
	if (!s)
		abort(); /* only out of memory */
	return s;
}

int vm_alt_fds(const struct vm_config *c, int *extra, int *events, struct err *e)
{
	*extra = *events = -1;
	if (c->vmm == VMM_FIRECRACKER) {
		char *json = vm_alt_firecracker_json(c);
		int fd = memfd_create("crumb-firecracker.json", MFD_CLOEXEC);
		int bad = fd < 0 || vm_write_all(fd, json, strlen(json)) < 0;
		int saved = errno;
		free(json);
		if (bad) {
			if (fd >= 0)
				close(fd);
			errno = saved;
			return err_errno(e, CRUMB_EIO,
					 fd < 0 ? "memfd_create" : "firecracker config");
		}
		*extra = fd;
	} else if (c->vmm == VMM_CLOUD_HYPERVISOR) {
		int p[2];
		if (pipe2(p, O_CLOEXEC) < 0)
			return err_errno(e, CRUMB_EIO, "pipe");
		*events = p[0];
		*extra = p[1];
	}
	return 0;
}

char **vm_alt_argv(const struct vm_config *c, enum vm_vmm v, const char *bin)
{
	struct strlist l = STRLIST_INIT;
	strlist_push(&l, bin);
	if (v == VMM_FIRECRACKER) {
		/* stdout is the guest's serial console alone: the log goes to stderr. */
		const char *fixed[] = {"--no-api",   "--config-file", "/dev/fd/3",
				       "--log-path", "/dev/stderr",   NULL};
		for (int i = 0; fixed[i]; i++)
			strlist_push(&l, fixed[i]);
		strlist_push_owned(&l, NULL);
		return l.v;
	}
	strlist_push(&l, "--kernel");
	strlist_push(&l, c->kernel);
	if (c->initrd) {
		strlist_push(&l, "--initramfs");
		strlist_push(&l, c->initrd);
	}
	strlist_push(&l, "--cmdline");
	strlist_push_owned(&l, vm_alt_cmdline(c, v));
	strlist_push(&l, "--memory");
	strlist_push_owned(&l, xasprintf("size=%uM", c->mem_mb));
	strlist_push(&l, "--cpus");
	strlist_push_owned(&l, xasprintf("boot=%u", c->cpus ? c->cpus : 1));
	const char *fixed[] = {"--serial",	  "tty",  "--console", "off",
			       "--event-monitor", "fd=3", NULL};
	for (int i = 0; fixed[i]; i++)
		strlist_push(&l, fixed[i]);
	/* One --disk with every disk after it, root first (vda, vdb...). */
	if (c->disk || c->nvolumes || c->init_conf_disk)
		strlist_push(&l, "--disk");
	if (c->disk)
		strlist_push_owned(
		    &l, xasprintf("path=%s%s", c->disk, c->disk_writable ? "" : ",readonly=on"));
	for (size_t i = 0; i < c->nvolumes; i++)
		strlist_push_owned(&l, xasprintf("path=%s%s", c->volumes[i].path,
						 c->volumes[i].readonly ? ",readonly=on" : ""));
	if (c->init_conf_disk)
		strlist_push_owned(&l, xasprintf("path=%s", c->init_conf_disk));
	strlist_push_owned(&l, NULL);
	return l.v;
}

int vm_alt_saw_reboot(const char *events)
{
	for (const char *p = events; (p = strstr(p, "\"event\"")); p += 7) {
		const char *q = p + 7;
		q += strspn(q, " \t\r\n");
		if (*q++ != ':')
			continue;
		q += strspn(q, " \t\r\n");
		if (!strncmp(q, "\"rebooting\"", 11) || !strncmp(q, "\"reboot\"", 8))
			return 1;
	}
	return 0;
}

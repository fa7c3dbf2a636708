/* runplan.c: deciding a VM run (flags, image config, volumes, state) and carrying it out. */
#include "runplan.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "archive.h"
#include "ext4.h"
#include "fsimage.h"
#include "klayer.h"
#include "rootfs.h"
#include "store.h"
#include "sysfilter.h"
#include "tree.h"
#include "vmm_alt.h"

#define SUN_PATH_MAX sizeof(((struct sockaddr_un *)0)->sun_path)

const char *const runplan_state_files[] = {
    "lock",	 "state",     "exit",	     "console.log",    "ctl.sock",  "qmp.sock",
    "init.conf", "init.disk", "rootfs.cpio", VMSTATE_KEY_FILE, "warm.disk", NULL};

void runplan_init(struct run_plan *p)
{
	memset(p, 0, sizeof(*p));
	initcfg_init(&p->cfg);
	p->lock_fd = p->log_fd = p->store_lock_fd = p->warm_sock = p->warm_peer = p->warm_ctl = -1;
	p->vc.accel = ACCEL_AUTO;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void runplan_release(struct run_plan *p)
{
	free(p->store);
	free(p->state_root);
	free(p->kernel_owned);
	free(p->root_owned);
	free(p->initrd_raw);
	runplan_disown(p);
	for (size_t i = 0; i < p->nvols; i++) {
		run_volume_release(&p->vols[i].v);
		free(p->vols[i].path);
	}
	close_fd(&p->log_fd);
	kernel_info_release(&p->ki);
	if (p->have_im)
		oci_image_release(&p->im);
	if (p->oci)
		oci_close(p->oci);
	initcfg_release(&p->cfg);
	warm_entry_release(&p->snap);
	free(p->taken.tmp);
	close_fd(&p->warm_sock);
	close_fd(&p->warm_peer);
	close_fd(&p->warm_ctl);
	sb_release(&p->warm_req);
	memset(p, 0, sizeof(*p));
	p->lock_fd = p->log_fd = p->store_lock_fd = p->warm_sock = p->warm_peer = p->warm_ctl = -1;
}

/* ---- the refusals ---- */

/* What only QEMU does here (README, "Other VMMs"). */
static int check_vmm(const struct run_opts *o, struct err *e)
{
	const char *vn = vm_vmm_name(o->vmm), *flag = o->detach ? "-d" : "--name";
	if (o->nports)
		return err_set(e, CRUMB_EINVAL,
			       "-p: --vmm %s has no user networking (its network needs a tap "
			       "device, made by root); -p needs QEMU",
			       vn);
	if (o->net_given && o->net)
		return err_set(e, CRUMB_EINVAL,
			       "--net user: --vmm %s has no user networking (its network needs a "
			       "tap device, made by root); use --net none",
			       vn);
	if (o->detach || o->name)
		return err_set(e, CRUMB_EINVAL,
			       "%s: --vmm %s runs in the foreground only ('crumb stop', 'ps' and "
			       "'logs' need QEMU's control channel and QMP)",
			       flag, vn);
	if (o->accel == ACCEL_TCG)
		return err_set(e, CRUMB_EINVAL, "--accel tcg: --vmm %s runs on KVM only", vn);
	return 0;
}

static size_t count(const struct strlist *l)
{
	return l ? l->n : 0;
}

int runplan_check(const struct run_opts *o, struct err *e)
{
	if (!!o->program + !!o->rootfs + !!o->image != 1)
		return err_set(e, CRUMB_EINVAL, "give one of IMAGE, --exec PATH or --rootfs FILE");
	if (o->rootfs && (count(o->adds) || count(o->args) || count(o->env) || o->user ||
			  o->workdir || o->entrypoint || count(o->volumes) || o->tty ||
			  o->restart || o->hostname || count(o->add_hosts)))
		return err_set(e, CRUMB_EINVAL,
			       "--rootfs boots the file's own config: -e, -u, -w, -v, -t, "
			       "--restart, --hostname, --add-host and ARGS need IMAGE or --exec");
	for (size_t k = 0; k < count(o->add_hosts); k++) {
		struct run_host h;
		int r = runcfg_add_host_parse(o->add_hosts->v[k], &h, e);
		int gw = r == 0 && !h.ip;
		run_host_release(&h);
		if (r < 0)
			return r;
		if (gw && !o->net)
			return err_set(e, CRUMB_EINVAL,
				       "--add-host %s: host-gateway needs a network (not --net "
				       "none)",
				       o->add_hosts->v[k]);
	}
	if (o->program && o->entrypoint)
		return err_set(e, CRUMB_EINVAL, "--entrypoint goes with IMAGE, not --exec");
	if (o->rootfs && o->trace)
		return err_set(e, CRUMB_EINVAL,
			       "--trace needs IMAGE or --exec (crumb-init's config)");
	if (o->image && count(o->adds))
		return err_set(e, CRUMB_EINVAL, "--add goes with --exec");
	int r;
	if (o->vmm != VMM_QEMU && (r = check_vmm(o, e)) < 0)
		return r;
	if (o->nports && !o->net)
		return err_set(e, CRUMB_EINVAL, "-p needs a network (--net user)");
	if (o->detach && o->interactive)
		return err_set(e, CRUMB_EINVAL,
			       "-d and -i do not go together (nothing to read from)");
	if (o->detach && o->timing)
		return err_set(e, CRUMB_EINVAL, "--timing and --timeline need a foreground run");
	if (o->restart) {
		const char *s = o->restart;
		if (strcmp(s, "no") && strcmp(s, "always") && strcmp(s, "on-failure") &&
		    strncmp(s, "on-failure:", 11))
			return err_set(e, CRUMB_EINVAL,
				       "--restart %s: want no, on-failure[:N] or always", s);
	}
	if (o->nports > RUNPLAN_MAX_PORTS)
		return err_set(e, CRUMB_EINVAL, "too many -p");
	if (count(o->volumes) > RUNPLAN_MAX_VOLUMES)
		return err_set(e, CRUMB_EINVAL, "at most %d volumes", RUNPLAN_MAX_VOLUMES);
	return 0;
}

/* ---- sizing ---- */

unsigned runplan_need_mb(unsigned long long archive, unsigned long long content)
{
	unsigned long long bytes = archive + content * 2 + content * 6 / 100;
	return RUNPLAN_KERNEL_MB + (unsigned)((bytes + (1 << 20) - 1) >> 20);
}

int runplan_size(struct run_plan *p, struct err *e)
{
	if (p->vc.mem_mb)
		return 0;
	unsigned need = p->is_disk ? RUNPLAN_KERNEL_MB : runplan_need_mb(p->archive, p->content);
	if (p->mem && p->mem < need && p->archive_z) {
		/* no room for the plain initramfs: the compressed one (the kernel decompresses) */
		p->archive = p->archive_z;
		p->vc.initrd = p->root_owned;
		need = runplan_need_mb(p->archive, p->content);
	}
	if (p->mem && p->mem < need)
		return err_set(e, CRUMB_EINVAL,
			       "-m %uM is too small: this root filesystem needs at least %uM (%.1f "
			       "MB of files, unpacked into a tmpfs capped at half the memory, from "
			       "a %.1f MB archive)",
			       p->mem, need, p->content / 1e6, p->archive / 1e6);
	p->vc.mem_mb = p->mem ? p->mem : ((need + RUNPLAN_HEADROOM_MB + 15) / 16) * 16;
	if (p->vc.mem_mb < RUNPLAN_MIN_MB && !p->mem)
		p->vc.mem_mb = RUNPLAN_MIN_MB;
	return 0;
}

/* ---- the service: labels and flags ---- */

/* "no", "always", "on-failure[:N]" into c (already checked, or from a label). */
static int set_restart(struct initcfg *c, const char *s, struct err *e)
{
	if (!strcmp(s, "no"))
		c->restart = INITCFG_RESTART_NO;
	else if (!strcmp(s, "always"))
		c->restart = INITCFG_RESTART_ALWAYS;
	else if (!strncmp(s, "on-failure", 10) && (!s[10] || s[10] == ':')) {
		c->restart = INITCFG_RESTART_ON_FAILURE;
		if (s[10]) {
			char *end;
			long n = strtol(s + 11, &end, 10);
			if (*end || end == s + 11 || n < 0 || n > 1000000)
				return err_set(e, CRUMB_EINVAL, "restart policy '%s': bad count",
					       s);
			c->restart_max = (unsigned)n;
		}
	} else
		return err_set(e, CRUMB_EINVAL,
			       "restart policy '%s': want no, on-failure[:N] or always", s);
	return 0;
}

/* A kernel given by path or by the ID of a stored kernel (then verified: kernel_open; one
 * that is not there is left for find_kernel's stat to name). */
static int kernel_path(const char *store, const char *k, char **out, struct err *e)
{
	struct stat st;
	struct kernel_info ki;
	*out = NULL;
	if (strchr(k, '/') || stat(k, &st) == 0 || !store) {
		*out = xstrdup(k);
		return 0;
	}
	int r = kernel_open(store, k, &ki, e);
	if (r == 0)
		kernel_info_release(&ki);
	*out = xasprintf("%s/kernels/%s/vmlinux", store, k);
	return r == CRUMB_ENOENT ? 0 : r;
}

/* The image's crumb.publish, unless -p publishes the same guest port (or the
 * same host port): `-p 2299:22` moves the image's 2222:22, not adds to it. */
static int merge_publish(struct run_plan *p, const char *lv, struct err *e)
{
	struct vm_port img[RUNPLAN_MAX_PORTS];
	size_t n = 0, nflags = p->nports;
	struct err pe;
	int r = runcfg_publish(lv, img, RUNPLAN_MAX_PORTS, &n, &pe);
	if (r < 0)
		return err_set(e, r, "image label crumb.publish: %s", pe.msg);
	for (size_t i = 0; i < n; i++) {
		int dup = 0;
		for (size_t k = 0; k < nflags; k++)
			dup |= (p->ports[k].host_port == img[i].host_port ||
				p->ports[k].guest_port == img[i].guest_port) &&
			       p->ports[k].udp == img[i].udp;
		if (!dup && p->nports < RUNPLAN_MAX_PORTS)
			p->ports[p->nports++] = img[i];
	}
	return 0;
}

/* The crumb.* labels a flag did not override: memory, cpus, kernel, cmdline, publish. */
static int image_labels(struct run_plan *p, const struct run_opts *o, const struct oci_config *ic,
			struct err *e)
{
	const char *lv;
	if (!o->mem && (lv = oci_config_label(ic, "crumb.memory")) &&
	    runcfg_parse_mem(lv, &p->mem) < 0)
		return err_set(e, CRUMB_EFORMAT, "image label crumb.memory=%s: not a size", lv);
	if (!o->cpus && (lv = oci_config_label(ic, "crumb.cpus"))) {
		char *end;
		long n = strtol(lv, &end, 10);
		if (*end || n < 1 || n > 16)
			return err_set(e, CRUMB_EFORMAT, "image label crumb.cpus=%s: want 1 to 16",
				       lv);
		p->cpus = p->vc.cpus = (unsigned)n;
	}
	if (!o->kernel && !p->vc.kernel && (lv = oci_config_label(ic, "crumb.kernel")) && *lv) {
		int r = kernel_path(p->store, lv, &p->kernel_owned, e);
		p->vc.kernel = p->kernel_owned;
		if (r < 0)
			return r;
	}
	if (!o->have_cmdline && (lv = oci_config_label(ic, "crumb.cmdline")))
		p->vc.cmdline = lv;
	if ((lv = oci_config_label(ic, "crumb.publish")) && p->vc.net)
		return merge_publish(p, lv, e);
	return 0;
}

int runplan_image(struct run_plan *p, const struct run_opts *o, const struct oci_config *ic,
		  struct err *e)
{
	int r = image_labels(p, o, ic, e);
	if (r < 0)
		return r;
	struct run_flags f = {.args = o->args,
			      .entrypoint = o->entrypoint,
			      .env = o->env,
			      .user = o->user,
			      .workdir = o->workdir,
			      .hostname = o->hostname};
	if ((r = runcfg_image(ic, &f, &p->cfg, e)) < 0)
		return r;
	const char *u = o->user ? o->user : ic->user, *lv;
	if (u && *u) {
		free(p->cfg.user);
		p->cfg.user = xstrdup(u);
	}
	if (!o->restart && (lv = oci_config_label(ic, "crumb.restart")) &&
	    (r = set_restart(&p->cfg, lv, e)) < 0)
		return r;
	if (!o->stop_signal && ic->stop_signal && *ic->stop_signal) {
		int sig = runcfg_signal(ic->stop_signal);
		if (sig < 0)
			return err_set(e, CRUMB_EFORMAT, "image StopSignal %s: unknown signal",
				       ic->stop_signal);
		p->cfg.stop_signal = sig;
	}
	unsigned ready[RUNPLAN_MAX_PORTS];
	size_t nr = runcfg_ready_ports(&ic->exposed, ready, RUNPLAN_MAX_PORTS);
	for (size_t i = 0; i < nr; i++)
		initcfg_add_ready(&p->cfg, ready[i]);
	p->need_conf = 1;
	return 0;
}

void runplan_exec_config(struct run_plan *p, const struct run_opts *o)
{
	struct initcfg *c = &p->cfg;
	/* Absolute without resolving symlinks, as rootfs_exec does: a busybox
	 * applet is told apart by its name. */
	if (o->program[0] == '/' || !o->cwd)
		strlist_push(&c->argv, o->program);
	else
		strlist_push_owned(&c->argv, xasprintf("%s/%s", o->cwd, o->program));
	for (size_t i = 0; i < count(o->args); i++)
		strlist_push(&c->argv, o->args->v[i]);
	runcfg_setenv(&c->env, "PATH=" RUNCFG_DEFAULT_PATH);
	if (!o->user)
		runcfg_setenv(&c->env, "HOME=/root");
	char *h = xasprintf("HOSTNAME=%s", o->hostname ? o->hostname : "crumb");
	runcfg_setenv(&c->env, h);
	free(h);
	for (size_t i = 0; i < count(o->env); i++)
		runcfg_setenv(&c->env, o->env->v[i]);
	if (o->workdir)
		c->workdir = xstrdup(o->workdir);
	if (o->user)
		c->user = xstrdup(o->user);
	if (o->hostname)
		c->hostname = xstrdup(o->hostname);
	/* The initramfs holds this config already; only what it lacks needs the channel. */
	p->need_conf = o->user || o->workdir || o->hostname || count(o->volumes) || o->tty ||
		       o->restart || o->stop_signal || o->stop_timeout >= 0 || o->nports;
	p->exec = (struct run_exec){o->program, o->adds, o->args, o->env, o->compress};
}

/* 1 if path is an ext2/3/4 image (superblock magic 0xEF53 at byte 1080), 0 if
 * not, negative if unreadable. */
static int is_ext_image(const char *path, struct err *e)
{
	enum fsimage_kind kind;
	char why[ERR_MSG_MAX];
	if (fsimage_probe(path, &kind, e) == 0)
		return kind == FSIMAGE_EXT;
	snprintf(why, sizeof(why), "%s", e->msg); /* "PATH: why" */
	return err_set(e, e->code == CRUMB_EINVAL ? CRUMB_EINVAL : CRUMB_ENOENT,
		       "root filesystem %s", why);
}

/* One -v into a disk (block devices follow the root disk) or a 9p share. */
static int plan_volume(struct run_plan *p, const char *spec, char *dev, struct err *e)
{
	struct run_plan_volume *pv = &p->vols[p->nvols];
	memset(pv, 0, sizeof(*pv));
	int r = runcfg_volume_parse(spec, &pv->v, e);
	if (r < 0)
		return r;
	p->nvols++;
	pv->spec = spec;
	struct run_volume *v = &pv->v;
	if (v->kind == RUN_VOL_NAMED) {
		pv->path = xasprintf("%s/volumes/%s.ext4", p->store ? p->store : ".", v->source);
	} else if (v->kind == RUN_VOL_IMAGE) {
		if ((r = is_ext_image(v->source, e)) < 0)
			return r;
		if (r == 0)
			return err_set(e, CRUMB_EFORMAT, "-v %s: %s is not an ext2/3/4 image", spec,
				       v->source);
		pv->path = xstrdup(v->source);
	}
	const char *opts = v->readonly ? "ro" : "rw";
	if (v->kind == RUN_VOL_HOSTDIR) {
		snprintf(pv->tag, sizeof(pv->tag), "crumb%zu", p->vc.nshares);
		p->shares[p->vc.nshares++] = (struct vm_share){v->source, pv->tag, v->readonly};
		initcfg_add_mount(&p->cfg, "9p", pv->tag, v->target, opts);
	} else {
		snprintf(pv->dev, sizeof(pv->dev), "/dev/vd%c", (*dev)++);
		p->disks[p->vc.nvolumes++] = (struct vm_volume){pv->path, v->readonly};
		initcfg_add_mount(&p->cfg, "ext4", pv->dev, v->target, opts);
	}
	return 0;
}

/* --trace, or the image's allowlist (not with --trace or --seccomp off). */
static int plan_filter(struct run_plan *p, const struct run_opts *o, struct err *e)
{
	const char *lv = o->image ? oci_config_label(&p->im.cfg, "crumb.seccomp") : NULL;
	if (o->trace) {
		p->cfg.trace = 1;
		p->vc.trace_path = o->trace;
		p->cold = 1; /* a snapshot's shape has no trace port */
		return 0;
	}
	if (!lv || o->seccomp == RUNPLAN_SECCOMP_OFF)
		return 0;
	struct sysfilter f;
	struct sbuf bpf = SBUF_INIT;
	sysfilter_init(&f);
	int r = sysfilter_parse(lv, &f, e);
	if (r == 0)
		r = sysfilter_compile(&f, &bpf, e);
	sysfilter_release(&f);
	if (r < 0) {
		sb_release(&bpf);
		char msg[ERR_MSG_MAX];
		snprintf(msg, sizeof(msg), "%s", e->msg);
		return err_set(e, r, "image label %s", msg);
	}
	p->cfg.seccomp_len = bpf.len;
	p->cfg.seccomp = (unsigned char *)sb_detach(&bpf);
	p->cfg.seccomp_kill = o->seccomp == RUNPLAN_SECCOMP_KILL;
	return 0;
}

int runplan_service(struct run_plan *p, const struct run_opts *o, struct err *e)
{
	int r;
	if (o->restart && (r = set_restart(&p->cfg, o->restart, e)) < 0)
		return r;
	if (o->stop_signal)
		p->cfg.stop_signal = runcfg_signal(o->stop_signal);
	if (o->stop_timeout >= 0)
		p->cfg.stop_timeout = o->stop_timeout;
	/* A published TCP port is one the service will listen on. */
	for (size_t k = 0; k < p->nports; k++) {
		int dup = 0;
		for (size_t j = 0; j < p->cfg.nready; j++)
			dup |= p->cfg.ready[j] == p->ports[k].guest_port;
		if (!p->ports[k].udp && !dup)
			initcfg_add_ready(&p->cfg, p->ports[k].guest_port);
	}
	char dev = (char)('a' + (p->is_disk ? 1 : 0));
	p->vc.volumes = p->disks;
	p->vc.shares = p->shares;
	for (size_t i = 0; i < count(o->volumes) && i < RUNPLAN_MAX_VOLUMES; i++)
		if ((r = plan_volume(p, o->volumes->v[i], &dev, e)) < 0)
			return r;
	if ((r = plan_filter(p, o, e)) < 0)
		return r;
	if (count(o->add_hosts)) {
		if ((r = runcfg_add_hosts(o->add_hosts, o->net, &p->cfg, e)) < 0)
			return r;
		p->need_conf = 1; /* --exec's initramfs has no hosts */
	}
	if (o->tty) {
		/* -t: the service's terminal */
		p->cfg.tty = 1;
		const char *term = o->host ? o->host->term : NULL;
		p->cfg.term = xstrdup(term && *term ? term : "xterm");
		p->cfg.rows = o->rows;
		p->cfg.cols = o->cols;
	}
	return 0;
}

int runplan_state_rule(const char *root, const struct run_opts *o, struct err *e)
{
	if (o->vmm == VMM_QEMU && root &&
	    strlen(root) + (o->name ? strlen(o->name) : 32) + sizeof("//qmp.sock") <= SUN_PATH_MAX)
		return 1;
	if (!o->detach && !o->name)
		return 0;
	if (root)
		err_set(e, CRUMB_EINVAL,
			"the state directory %s is too deep for a unix socket: set "
			"XDG_RUNTIME_DIR or a shorter CRUMB_HOME",
			root);
	return CRUMB_EINVAL;
}

/* ---- deciding: what needs looking at ---- */

/* The flags' own values into the plan (the image's labels may add to them). */
static void plan_flags(struct run_plan *p, const struct run_opts *o)
{
	p->host = o->host;
	p->mem = o->mem;
	p->cpus = p->vc.cpus = o->cpus;
	for (size_t i = 0; i < o->nports && i < RUNPLAN_MAX_PORTS; i++)
		p->ports[p->nports++] = o->ports[i];
	p->vc.ports = p->ports;
	p->vc.cmdline = o->cmdline;
	p->vc.net = o->vmm == VMM_QEMU ? o->net : 0;
	p->vc.vmm = o->vmm;
	p->vc.env = o->host;
	p->vc.accel = o->accel;
	p->vc.timeout = o->timeout;
	p->vc.verbose = o->verbose;
	p->vc.foreign_init = o->foreign_init;
	p->vc.interactive = o->interactive;
	p->want_name = o->name;
	p->cold = o->cold;
}

/* Checks a stored blob, then sums its content (one pass: hashed while summed). */
static int image_root(struct run_plan *p, const struct oci_desc *rl, const char *iname,
		      struct err *e)
{
	int r;
	if (!strcmp(rl->media_type, OCI_MT_ROOTFS_EXT4)) {
		if ((r = oci_blob_verify(p->oci, rl, iname, OCI_VERIFY_CACHED, e)) < 0)
			return r;
		p->is_disk = 1;
		p->vc.disk = p->root_owned;
		return 0;
	}
	uint64_t bytes;
	if (!strcmp(rl->media_type, OCI_MT_ROOTFS_CPIO_ZSTD) &&
	    rl->size <= RUNPLAN_INITRD_CACHE_MAX) {
		struct stat st;
		if ((r = klayer_initrd(p->oci, rl, iname, &p->initrd_raw, &bytes, e)) < 0)
			return r;
		if (stat(p->initrd_raw, &st) < 0)
			return err_errno(e, CRUMB_EIO, "%s", p->initrd_raw);
		p->archive = (unsigned long long)st.st_size;
		p->archive_z = rl->size;
		p->content = bytes;
		p->vc.initrd = p->initrd_raw;
		return 0;
	}
	struct vread v;
	if ((r = oci_blob_open(p->oci, rl, iname, OCI_VERIFY_CACHED, &v, e)) == 0 &&
	    (r = archive_content_size_vread(&v, &bytes, e)) == 0)
		r = oci_blob_done(p->oci, rl, OCI_VERIFY_CACHED, &v, e);
	vread_close(&v);
	if (r < 0)
		return r;
	p->archive = rl->size;
	p->content = bytes;
	p->vc.initrd = p->root_owned;
	return 0;
}

/* The image's kernel, root filesystem and config; its labels under the flags. */
static int load_image(struct run_plan *p, const struct run_opts *o, struct err *e)
{
	int r = oci_open(p->store, &p->oci, e);
	if (r < 0)
		return r;
	if ((p->store_lock_fd = oci_lock(p->oci, 0, e)) < 0)
		return p->store_lock_fd;
	if ((r = oci_image_resolve(p->oci, o->image, &p->im, e)) < 0)
		return r;
	p->have_im = 1;
	const struct oci_desc *kl = oci_image_layer(&p->im, OCI_MT_KERNEL);
	const struct oci_desc *rl = oci_image_layer(&p->im, "application/vnd.crumb.rootfs.");
	if (!rl)
		return err_set(
		    e, CRUMB_EFORMAT, "image '%s' has no root filesystem layer%s", o->image,
		    p->im.nlayers && !kl ? ": a container image; build a crumb image FROM it "
					   "(a Crumbfile: FROM NAME), which adds crumb's "
					   "kernel and init"
					 : "");
	/* QEMU reads the kernel and the root filesystem itself: check them first
	 * (the verification cache spares the hash when they are unchanged). */
	char iname[512]; /* "image " + a ref of at most 255 + 1 + 128 bytes */
	snprintf(iname, sizeof(iname), "image %s", p->im.ref ? p->im.ref : p->im.manifest.digest);
	if (!(p->root_owned = oci_blob_path(p->oci, rl->digest)))
		return err_set(e, CRUMB_EFORMAT, "image '%s': bad layer digest", o->image);
	if ((r = image_root(p, rl, iname, e)) < 0)
		return r;
	/* after the root filesystem: a refused image leaves the kernel cache as it was */
	if (!o->kernel && kl) {
		if ((r = klayer_path(p->oci, kl, iname, &p->kernel_owned, NULL, e)) < 0)
			return r;
		p->vc.kernel = p->kernel_owned;
	}
	return runplan_image(p, o, &p->im.cfg, e);
}

/* --rootfs: an ext4 disk, or an archive whose content is summed. */
static int load_rootfs(struct run_plan *p, const char *path, struct err *e)
{
	if ((p->is_disk = is_ext_image(path, e)) < 0)
		return p->is_disk;
	if (p->is_disk) {
		p->vc.disk = path;
		return 0;
	}
	uint64_t bytes;
	struct stat st;
	int r = archive_content_size(path, &bytes, e);
	if (r < 0)
		return r;
	if (stat(path, &st) < 0)
		return err_errno(e, CRUMB_EIO, "%s", path);
	p->archive = (unsigned long long)st.st_size;
	p->content = bytes;
	p->vc.initrd = path;
	return 0;
}

/* --kernel, else the image's, else the store's crumb kernel. */
static int find_kernel(struct run_plan *p, const struct run_opts *o, struct err *e)
{
	struct stat st;
	if (o->kernel) {
		free(p->kernel_owned);
		int r = kernel_path(p->store, o->kernel, &p->kernel_owned, e);
		p->vc.kernel = p->kernel_owned;
		if (r < 0)
			return r;
		if (stat(p->vc.kernel, &st) < 0)
			return err_errno(e, CRUMB_ENOENT, "kernel %s", o->kernel);
	} else if (!p->vc.kernel) {
		struct kernel_opts ko = {0};
		int r = kernel_lookup(p->store, &ko, &p->ki, e);
		if (r < 0 && r != CRUMB_ENOENT)
			return r;
		if (r < 0)
			return err_set(
			    e, CRUMB_ENOENT,
			    "no crumb kernel in the store (%s): run 'crumb kernel build' "
			    "first (about 9 minutes, once), or pass --kernel FILE",
			    p->store);
		p->vc.kernel = p->ki.vmlinux;
	} else if (stat(p->vc.kernel, &st) < 0) {
		return err_errno(e, CRUMB_ENOENT, "kernel %s", p->vc.kernel);
	}
	return 0;
}

/* What 'crumb ps' will show of the run. */
static void plan_state_info(struct run_plan *p, const struct run_opts *o)
{
	struct vmstate *st = &p->st;
	struct sbuf sb = SBUF_INIT;
	if (o->image)
		snprintf(st->image, sizeof(st->image), "%s",
			 p->im.ref ? p->im.ref : p->im.manifest.digest);
	else if (o->rootfs)
		snprintf(st->image, sizeof(st->image), "rootfs:%s", o->rootfs);
	else
		snprintf(st->image, sizeof(st->image), "exec:%s", o->program);
	for (size_t k = 0; k < p->cfg.argv.n; k++)
		sb_addf(&sb, "%s%s", k ? " " : "", p->cfg.argv.v[k]);
	snprintf(st->command, sizeof(st->command), "%s", sb.buf ? sb.buf : "");
	sb_reset(&sb);
	for (size_t i = 0; i < p->nports; i++)
		sb_addf(&sb, "%s%s:%u->%u/%s", i ? ", " : "", p->ports[i].host_ip,
			p->ports[i].host_port, p->ports[i].guest_port,
			p->ports[i].udp ? "udp" : "tcp");
	snprintf(st->ports, sizeof(st->ports), "%s", sb.buf ? sb.buf : "");
	sb_release(&sb);
	st->detached = o->detach;
	st->autoremove = o->autoremove || (!o->name && !o->detach);
}

/* The state directory: named and detached runs must have one; others have
 * one when they can (ps, stop, logs). Another VMM runs in the foreground
 * only, without one: nothing for 'crumb ps' to misreport. */
static int plan_state(struct run_plan *p, const struct run_opts *o, struct err *e)
{
	int r;
	if (o->vmm != VMM_QEMU) /* refused with --name and -d (runplan_check) */
		return vm_alt_check(&p->vc, 1, e);
	struct err re = {0};
	int have = vmstate_root(o->host, &p->state_root, &re) == 0;
	r = runplan_state_rule(have ? p->state_root : NULL, o, e);
	if (r < 0 && !have)
		*e = re;
	if (r < 0)
		return r;
	p->use_state = r;
	return 0;
}

int runplan_make(struct run_plan *p, const struct run_opts *o, struct err *e)
{
	int r;
	char *vmm = NULL;
	plan_flags(p, o);
	/* Everything that can be missing is checked before any work is done. */
	if ((r = store_root(o->host, &p->store, e)) < 0)
		return r;
	r = vm_find(&p->vc, &vmm, e);
	free(vmm);
	if (r < 0)
		return r;
	p->vc.state_dir = p->store;
	if (o->image)
		r = load_image(p, o, e);
	else if (o->rootfs)
		r = load_rootfs(p, o->rootfs, e);
	else
		runplan_exec_config(p, o);
	for (size_t k = 0; r == 0 && k < p->nports; k++)
		r = vm_port_check(&p->ports[k], e);
	p->vc.nports = p->nports;
	if (r == 0)
		r = find_kernel(p, o, e);
	if (r == 0 && !o->rootfs)
		r = runplan_service(p, o, e);
	p->key_disk = o->rootfs != NULL;
	if (r == 0)
		r = plan_state(p, o, e);
	if (r == 0)
		plan_state_info(p, o);
	return r;
}

/* ---- the executor ---- */

/* Makes STORE/volumes/NAME.ext4 (empty ext4, sparse) unless it exists. */
static int make_named_volume(const struct run_plan *p, const struct run_plan_volume *pv,
			     struct err *e)
{
	char *dir = xasprintf("%s/volumes", p->store);
	char *lockp = xasprintf("%s/.lock", dir);
	struct stat st;
	int r = mkdir_p(dir, 0700, e), lock = -1;
	if (r == 0 && (lock = store_lock(lockp, e)) < 0)
		r = lock;
	struct sde sd = {0};
	if (r == 0 && stat(pv->path, &st) < 0 &&
	    (r = sde_parse(p->host ? p->host->source_date_epoch : NULL, &sd, e)) == 0) {
		struct tree t;
		tree_init(&t);
		struct ext4_opts eo = {
		    .size = RUNPLAN_VOLUME_SIZE, .epoch = sd.epoch, .clamp = sd.set};
		char label[17];
		snprintf(label, sizeof(label), "%s", pv->v.source);
		eo.label = label;
		r = ext4_write(&t, pv->path, &eo, e);
		tree_release(&t);
	}
	if (lock >= 0)
		close(lock);
	free(dir);
	free(lockp);
	return r;
}

static char *make_tmpdir(const struct hostenv *h)
{
	const char *base = h ? h->xdg_runtime_dir : NULL;
	struct stat st;
	if (!base || !*base || stat(base, &st) < 0 || access(base, W_OK) < 0)
		base = h ? h->tmpdir : NULL;
	if (!base || !*base)
		base = "/tmp";
	char *t = xasprintf("%s/crumb-run-XXXXXX", base);
	if (!mkdtemp(t)) {
		free(t);
		return NULL;
	}
	return t;
}

int runplan_pack_exec(const struct run_exec *x, const unsigned char *key,
		      const struct hostenv *host, const char *out, unsigned long long *bytes,
		      struct err *e)
{
	char *init = NULL;
	struct sde sd;
	int r = rootfs_find_init(host, &init, e);
	if (r < 0)
		return r;
	if ((r = sde_parse(host ? host->source_date_epoch : NULL, &sd, e)) < 0) {
		free(init);
		return r;
	}
	struct tree t;
	tree_init(&t);
	struct exec_spec s = {
	    .program = x->program, .adds = x->adds, .args = x->args, .env = x->env, .init = init};
	struct cpio_opts co = {
	    .compress = (enum compress)x->compress, .epoch = sd.epoch, .clamp = sd.set};
	r = rootfs_exec(&t, &s, e);
	if (r == 0 && key) {
		/* crumb-init's to take and delete (src/init/config.h, "The marker key") */
		char hex[2 * CONSOLE_KEY_LEN + 2];
		console_key_hex(key, hex);
		strcat(hex, "\n");
		r = tree_add_data(&t, INITCFG_KEY_PATH, hex, strlen(hex), 0600, e);
	}
	if (r == 0)
		r = cpio_write(&t, out, &co, e);
	if (r == 0 && bytes) {
		struct tree_stats ts;
		tree_stats(&t, &ts);
		*bytes = ts.bytes;
	}
	tree_release(&t);
	free(init);
	return r;
}

/* The state directory (or a temporary one): where the run's files go. */
static int make_workdir(struct run_plan *p, struct err *e)
{
	if (p->use_state) {
		int r =
		    vmstate_create(p->state_root, p->want_name, p->name, &p->dir, &p->lock_fd, e);
		if (r < 0)
			return r;
		p->work = p->dir;
	} else if (!p->work) {
		if (!(p->tmp = make_tmpdir(p->host)))
			return err_errno(e, CRUMB_EIO, "cannot create a temporary directory");
		p->work = p->tmp;
	}
	return 0;
}

/* --exec: the initramfs, in the work directory. */
static int pack_initrd(struct run_plan *p, struct err *e)
{
	struct stat st;
	p->initrd = xasprintf("%s/rootfs.cpio", p->work);
	int r = runplan_pack_exec(&p->exec, p->key, p->host, p->initrd, &p->content, e);
	if (r < 0)
		return r;
	if (stat(p->initrd, &st) < 0)
		return err_errno(e, CRUMB_EIO, "%s", p->initrd);
	p->archive = (unsigned long long)st.st_size;
	p->vc.initrd = p->initrd;
	return 0;
}

/* The config file (fw_cfg) and the config disk carrying it with the marker
 * key; with key_disk alone a key-only disk (--exec has the key in its
 * initramfs already). */
static int write_config(struct run_plan *p, struct err *e)
{
	if (!p->need_conf && !p->key_disk)
		return 0;
	struct sbuf conf = SBUF_INIT, disk = SBUF_INIT;
	if (p->need_conf && initcfg_render(&p->cfg, &conf, e) < 0) {
		sb_release(&conf);
		return CRUMB_EINVAL;
	}
	initcfg_disk(p->need_conf ? conf.buf : NULL, conf.len, p->key, &disk);
	p->disk_path = xasprintf("%s/init.disk", p->work);
	int w = 0;
	if (p->need_conf) {
		p->conf_path = xasprintf("%s/init.conf", p->work);
		w = write_file_atomic(p->conf_path, conf.buf, conf.len, 0600, e);
	}
	if (w == 0)
		w = write_file_atomic(p->disk_path, disk.buf, disk.len, 0600, e);
	sb_release(&conf);
	sb_release(&disk);
	p->vc.init_conf = p->conf_path;
	p->vc.init_conf_disk = p->disk_path;
	return w;
}

/* A state directory's console log, key (crumb logs tells the run's markers
 * from a program's with it), sockets and state file. */
static int write_state(struct run_plan *p, struct err *e)
{
	p->log_path = xasprintf("%s/console.log", p->dir);
	p->log_fd = open(p->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (p->log_fd < 0)
		return err_errno(e, CRUMB_EIO, "create %s", p->log_path);
	p->vc.console_fd = p->log_fd;
	char hex[2 * CONSOLE_KEY_LEN + 2], *kp = xasprintf("%s/" VMSTATE_KEY_FILE, p->dir);
	console_key_hex(p->key, hex);
	strcat(hex, "\n");
	int r = write_file_atomic(kp, hex, strlen(hex), 0600, e);
	free(kp);
	if (r < 0)
		return r;
	p->vc.ctl_sock = p->ctl_sock = xasprintf("%s/ctl.sock", p->dir);
	p->vc.qmp_sock = p->qmp_sock = xasprintf("%s/qmp.sock", p->dir);
	snprintf(p->st.name, sizeof(p->st.name), "%s", p->name);
	p->st.created = (int64_t)time(NULL);
	p->st.supervisor_pid = (int)getpid();
	return vmstate_save(p->dir, &p->st, e);
}

int runplan_prepare(struct run_plan *p, struct err *e)
{
	int r;
	/* Only markers signed with this key are believed (src/init/markers.h). */
	if (!p->have_key && (r = console_key_new(p->key, e)) < 0)
		return r;
	p->have_key = 1;
	p->vc.marker_key = p->key;
	for (size_t i = 0; i < p->nvols; i++)
		if (p->vols[i].v.kind == RUN_VOL_NAMED &&
		    (r = make_named_volume(p, &p->vols[i], e)) < 0)
			return r;
	if ((r = make_workdir(p, e)) < 0)
		return r;
	if (p->exec.program && (r = pack_initrd(p, e)) < 0)
		return r;
	if ((r = runplan_size(p, e)) < 0 || (r = write_config(p, e)) < 0)
		return r;
	if (p->dir && (r = write_state(p, e)) < 0)
		return r;
	if (p->warm_make && !p->ctl_sock)
		runplan_warm_sockets(p);
	return 0;
}

void runplan_save_state(struct run_plan *p)
{
	if (p->dir)
		vmstate_save(p->dir, &p->st, NULL);
}

static void on_event(void *ctx, const char *name, const struct vm_result *r)
{
	struct run_plan *p = ctx;
	if (!strcmp(name, "spawn")) {
		p->st.qemu_pid = r->qemu_pid;
		runplan_save_state(p);
	} else if (!strcmp(name, "init")) {
		/* QEMU has read the kernel and the initramfs: the store may change now. */
		close_fd(&p->store_lock_fd);
		p->st.started = (int64_t)time(NULL);
		runplan_save_state(p);
	}
	if (p->event)
		p->event(p->event_ctx, name, r);
	runplan_warm_event(p, name, r);
}

int runplan_boot(struct run_plan *p, vm_output_fn out, void *ctx, struct vm_result *res,
		 struct err *e)
{
	p->vc.event = on_event;
	p->vc.event_ctx = p;
	if (runplan_warm_boot(p, out, ctx, res) == 0)
		return 0;
	return vm_run(&p->vc, out, ctx, res, e);
}

void runplan_finish(struct run_plan *p, const struct vm_result *res, int status, const char *reason)
{
	if (p->dir) {
		struct vmexit x = {.present = 1,
				   .status = res->status >= 0 ? res->status : status,
				   .qemu_status = res->qemu_status,
				   .ended = (int64_t)time(NULL)};
		snprintf(x.reason, sizeof(x.reason), "%.255s", reason ? reason : "");
		vmexit_save(p->dir, &x, NULL);
	}
	runplan_cleanup(p, !p->st.autoremove);
}

void runplan_cleanup(struct run_plan *p, int keep_state)
{
	const char *files[] = {p->initrd, p->conf_path, p->disk_path, p->warm_disk};
	for (size_t i = 0; i < 4; i++)
		if (files[i])
			unlink(files[i]);
	if (p->tmp && p->ctl_sock) /* a warm start's sockets (runplan_warm_sockets) */
		unlink(p->ctl_sock);
	if (p->tmp && p->qmp_sock)
		unlink(p->qmp_sock);
	if (p->tmp)
		rmdir(p->tmp);
	if (p->dir && !keep_state) {
		remove_tree(p->dir, NULL);
	} else if (p->dir) {
		if (p->ctl_sock)
			unlink(p->ctl_sock);
		if (p->qmp_sock)
			unlink(p->qmp_sock);
	}
	runplan_disown(p);
}

void runplan_disown(struct run_plan *p)
{
	char **owned[] = {&p->dir,	&p->tmp,      &p->initrd,   &p->conf_path, &p->disk_path,
			  &p->log_path, &p->ctl_sock, &p->qmp_sock, &p->warm_disk};
	for (size_t i = 0; i < sizeof(owned) / sizeof(owned[0]); i++) {
		free(*owned[i]);
		*owned[i] = NULL;
	}
	p->vc.ctl_sock = p->vc.qmp_sock = NULL;
	p->work = NULL;
	close_fd(&p->lock_fd);
	close_fd(&p->store_lock_fd);
}

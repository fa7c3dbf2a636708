/* vmm.c: QEMU microvm command line, the KVM-or-TCG decision, console streaming and markers. */
#include "vmm.h"
#include "console.h"
#include "vmm_alt.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* A KVM boot that has not reached crumb-init by then is taken as broken KVM. */
#define KVM_PROBE_SECONDS 10.0

int accel_parse(const char *s, enum accel *out, struct err *e)
{
	if (!strcmp(s, "auto"))
		*out = ACCEL_AUTO;
	else if (!strcmp(s, "kvm"))
		*out = ACCEL_KVM;
	else if (!strcmp(s, "tcg"))
		*out = ACCEL_TCG;
	else
		return err_set(e, CRUMB_EINVAL, "unknown accelerator '%s' (want auto, kvm or tcg)",
			       s);
	return 0;
}

const char *accel_name(enum accel a)
{
	return a == ACCEL_KVM ? "kvm" : a == ACCEL_TCG ? "tcg" : "auto";
}

/* A program crumb runs: given, else $env, else dflt; a name without '/' is
 * looked up in PATH, and not_found says how to get it. */
static int find_program(const char *given, const char *env, const char *dflt, const char *label,
			const char *not_found, char **out, struct err *e)
{
	const char *want = given ? given : getenv(env);
	if (!want || !*want)
		want = dflt;
	if (strchr(want, '/')) {
		if (access(want, X_OK) < 0)
			return err_errno(e, CRUMB_ENOENT, "%s not usable at %s", label, want);
		*out = xstrdup(want);
		return 0;
	}
	if ((*out = path_lookup(want, getenv("PATH"))))
		return 0;
	return err_set(e, CRUMB_ENOENT, "%s not found in PATH%s", want, not_found);
}

int vm_find_qemu(const char *qemu, char **out, struct err *e)
{
	return find_program(qemu, "CRUMB_QEMU", "qemu-system-x86_64", "QEMU",
			    " (install Debian's qemu-system-x86, or set CRUMB_QEMU)", out, e);
}

int vm_find_passt(char **out, struct err *e)
{
	return find_program(NULL, "CRUMB_PASST", "passt", "passt",
			    ": the guest's network needs it (install Debian's passt, or use "
			    "--net none)",
			    out, e);
}

char **vm_passt_argv(const struct vm_config *c, const char *passt, int fd)
{
	struct strlist l = STRLIST_INIT;
	/* -f: stay our child; -4: the guest has no IPv6; --no-map-gw: 10.0.2.2 is
	 * not the host's loopback. Addresses as slirp's, which crumb-init sets. */
	const char *fixed[] = {"-f", "-q", "-4", "-a", "10.0.2.15", "-n", "24", "-g", "10.0.2.2",
			       "--no-map-gw", "--dns-forward", "10.0.2.3", NULL};
	strlist_push(&l, passt);
	for (int i = 0; fixed[i]; i++)
		strlist_push(&l, fixed[i]);
	strlist_push(&l, "-F");
	strlist_push_owned(&l, xasprintf("%d", fd));
	/* Explicit -u: otherwise passt also forwards UDP for every TCP port. */
	int have[2] = {0, 0};
	for (size_t i = 0; c->net_passt_ports && i < c->nports; i++) {
		const struct vm_port *p = &c->ports[i];
		have[p->udp] = 1;
		strlist_push(&l, p->udp ? "-u" : "-t");
		strlist_push_owned(&l, xasprintf("%s/%u:%u", p->host_ip, p->host_port, p->guest_port));
	}
	for (int u = 0; u < 2; u++)
		if (!have[u]) {
			strlist_push(&l, u ? "-u" : "-t");
			strlist_push(&l, "none");
		}
	strlist_push_owned(&l, NULL);
	return l.v;
}

int vm_port_parse(const char *s, struct vm_port *p, struct err *e)
{
	char buf[128], *parts[3], *proto, *end;
	int n = 0;
	memset(p, 0, sizeof(*p));
	if (strlen(s) >= sizeof(buf))
		return err_set(e, CRUMB_EINVAL, "-p %.40s...: too long", s);
	strcpy(buf, s);
	if ((proto = strchr(buf, '/'))) {
		*proto++ = 0;
		if (!strcmp(proto, "udp"))
			p->udp = 1;
		else if (strcmp(proto, "tcp"))
			return err_set(e, CRUMB_EINVAL, "-p %s: protocol must be tcp or udp", s);
	}
	for (char *save, *t = strtok_r(buf, ":", &save); t; t = strtok_r(NULL, ":", &save)) {
		if (n == 3)
			return err_set(e, CRUMB_EINVAL, "-p %s: want [HOSTIP:]HOSTPORT:GUESTPORT", s);
		parts[n++] = t;
	}
	if (n < 2)
		return err_set(e, CRUMB_EINVAL, "-p %s: want [HOSTIP:]HOSTPORT:GUESTPORT", s);
	struct in_addr ia;
	const char *ip = n == 3 ? parts[0] : "127.0.0.1";
	if (inet_pton(AF_INET, ip, &ia) != 1)
		return err_set(e, CRUMB_EINVAL, "-p %s: '%s' is not an IPv4 address", s, ip);
	snprintf(p->host_ip, sizeof(p->host_ip), "%s", ip);
	unsigned *ports[2] = {&p->host_port, &p->guest_port};
	for (int i = 0; i < 2; i++) {
		const char *t = parts[n - 2 + i];
		unsigned long v = strtoul(t, &end, 10);
		if (*end || end == t || v < 1 || v > 65535)
			return err_set(e, CRUMB_EINVAL, "-p %s: '%s' is not a port (1-65535)", s, t);
		*ports[i] = (unsigned)v;
	}
	return 0;
}

int vm_port_check(const struct vm_port *p, struct err *e)
{
	struct sockaddr_in sin;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)p->host_port);
	inet_pton(AF_INET, p->host_ip, &sin.sin_addr);
	int s = socket(AF_INET, (p->udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
	if (s < 0)
		return err_errno(e, CRUMB_EIO, "socket");
	int one = 1; /* as QEMU binds it: TIME_WAIT leftovers are no obstacle */
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	int r = 0;
	if (bind(s, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		r = errno == EADDRINUSE
			    ? err_set(e, CRUMB_EBUSY, "port %u on %s is already in use", p->host_port,
				      p->host_ip)
			    : err_errno(e, CRUMB_EIO, "port %u on %s", p->host_port, p->host_ip);
	close(s);
	return r;
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

char **vm_argv(const struct vm_config *c, const char *qemu, enum accel a)
{
	struct strlist l = STRLIST_INIT;
	struct sbuf sb = SBUF_INIT;
	strlist_push(&l, qemu);
	strlist_push(&l, "-M");
	strlist_push_owned(&l, xasprintf("microvm,accel=%s,acpi=off", accel_name(a)));
	if (a == ACCEL_KVM) {
		strlist_push(&l, "-cpu");
		strlist_push(&l, "host");
	}
	strlist_push(&l, "-m");
	strlist_push_owned(&l, xasprintf("%u", c->mem_mb));
	strlist_push(&l, "-smp");
	strlist_push_owned(&l, xasprintf("%u", c->cpus ? c->cpus : 1));
	/* virtio-rng: a tiny kernel has almost no entropy of its own (NOTES.md). */
	const char *fixed[] = {"-nodefaults", "-no-user-config", "-display", "none", "-serial",
			       "stdio", "-no-reboot", "-device", "virtio-rng-device", NULL};
	for (int i = 0; fixed[i]; i++)
		strlist_push(&l, fixed[i]);
	strlist_push(&l, "-kernel");
	strlist_push(&l, c->kernel);
	if (c->initrd) {
		strlist_push(&l, "-initrd");
		strlist_push(&l, c->initrd);
	}
	/* Block devices first, root then volumes, so that the guest names them
	 * /dev/vda, /dev/vdb... in this order. */
	if (c->disk) {
		add_path(&sb, "file=", c->disk);
		sb_addf(&sb, ",format=raw,if=none,id=root%s", c->disk_writable ? "" : ",snapshot=on");
		push_pair(&l, "-drive", sb_detach(&sb));
		strlist_push(&l, "-device");
		strlist_push(&l, "virtio-blk-device,drive=root");
	}
	for (size_t i = 0; i < c->nvolumes; i++) {
		add_path(&sb, "file=", c->volumes[i].path);
		sb_addf(&sb, ",format=raw,if=none,id=vol%zu%s", i,
			c->volumes[i].readonly ? ",readonly=on" : "");
		push_pair(&l, "-drive", sb_detach(&sb));
		push_pair(&l, "-device", xasprintf("virtio-blk-device,drive=vol%zu", i));
	}
	if (c->init_conf_disk) {
		add_path(&sb, "file=", c->init_conf_disk);
		/* writable: crumb-init wipes the marker key from it */
		sb_adds(&sb, ",format=raw,if=none,id=initconf");
		push_pair(&l, "-drive", sb_detach(&sb));
		strlist_push(&l, "-device");
		strlist_push(&l, "virtio-blk-device,drive=initconf");
	}
	for (size_t i = 0; i < c->nshares; i++) {
		sb_addf(&sb, "local,id=fs%zu,", i);
		add_path(&sb, "path=", c->shares[i].path);
		sb_adds(&sb, ",security_model=none");
		if (c->shares[i].readonly)
			sb_adds(&sb, ",readonly=on");
		push_pair(&l, "-fsdev", sb_detach(&sb));
		push_pair(&l, "-device",
			  xasprintf("virtio-9p-device,fsdev=fs%zu,mount_tag=%s", i, c->shares[i].tag));
	}
	if (c->net && c->net_passt) {
		push_pair(&l, "-netdev",
			  xasprintf("stream,id=n0,server=off,addr.type=fd,addr.str=%d", VM_NET_FD));
		/* passt takes 64 KiB frames: the guest's driver adopts host_mtu, and
		 * with 1500 a TCG guest receives ~10x slower (bench/net.sh). */
		strlist_push(&l, "-device");
		strlist_push(&l, "virtio-net-device,netdev=n0,host_mtu=65520");
	}
	/* Published ports come in through QEMU's slirp: Debian 12's passt loses
	 * what a guest sends first on a forwarded connection (an SSH banner).
	 * With passt as eth0 this is a second card, eth1, on its own network with
	 * restrict=on: the guest can open nothing through it (10.0.2.2 there
	 * would be the host's loopback), only answer the forwarded ports. */
	int inbound = c->net && c->net_passt && c->nports && !c->net_passt_ports;
	if (c->net && (!c->net_passt || inbound)) {
		if (inbound)
			sb_adds(&sb, "user,id=n1,restrict=on,net=" VM_INBOUND_NET);
		else
			sb_adds(&sb, c->net_slirp_open ? "user,id=n0" : "user,id=n0,restrict=on");
		for (size_t i = 0; i < c->nports; i++) {
			const struct vm_port *p = &c->ports[i];
			sb_addf(&sb, ",hostfwd=%s:%s:%u-:%u", p->udp ? "udp" : "tcp", p->host_ip,
				p->host_port, p->guest_port);
		}
		push_pair(&l, "-netdev", sb_detach(&sb));
		strlist_push(&l, "-device");
		strlist_push(&l, inbound ? "virtio-net-device,netdev=n1,mac=" VM_INBOUND_MAC
					 : "virtio-net-device,netdev=n0");
	}
	if (c->init_conf) {
		sb_adds(&sb, "name=" VM_FWCFG_INIT_CONF ",");
		add_path(&sb, "file=", c->init_conf);
		push_pair(&l, "-fw_cfg", sb_detach(&sb));
	}
	if (c->ctl_sock) {
		/* wait=off: QEMU does not wait for a client; `crumb stop` connects later. */
		strlist_push(&l, "-device");
		strlist_push(&l, "virtio-serial-device");
		sb_adds(&sb, "socket,id=crumbctl,");
		add_path(&sb, "path=", c->ctl_sock);
		sb_adds(&sb, ",server=on,wait=off");
		push_pair(&l, "-chardev", sb_detach(&sb));
		strlist_push(&l, "-device");
		strlist_push(&l, "virtserialport,chardev=crumbctl,name=" VM_CTL_PORT);
	}
	if (c->qmp_sock) {
		sb_adds(&sb, "socket,id=crumbqmp,");
		add_path(&sb, "path=", c->qmp_sock);
		sb_adds(&sb, ",server=on,wait=off");
		push_pair(&l, "-chardev", sb_detach(&sb));
		strlist_push(&l, "-mon");
		strlist_push(&l, "chardev=crumbqmp,mode=control");
	}
	/* reboot=t + -no-reboot is what makes QEMU exit when crumb-init is done
	 * (power-off only halts microvm without ACPI); panic=-1 does the same
	 * for a panic. no_timer_check: on a loaded host the kernel's IO-APIC
	 * timer check can fail under TCG and panic ("IO-APIC + timer doesn't
	 * work!", seen once in 40 boots of bench/many.sh 20). */
	sb_adds(&sb, "console=ttyS0 reboot=t panic=-1 no_timer_check");
	if (c->initrd)
		sb_adds(&sb, " rdinit=/sbin/crumb-init");
	else if (c->disk)
		sb_adds(&sb, " root=/dev/vda rw rootfstype=ext4 init=/sbin/crumb-init");
	sb_adds(&sb, c->verbose || c->klog ? " loglevel=7" : " quiet");
	if (c->klog)
		sb_adds(&sb, " printk.time=1");
	if (c->cmdline && *c->cmdline)
		sb_addf(&sb, " %s", c->cmdline);
	push_pair(&l, "-append", sb_detach(&sb));
	strlist_push_owned(&l, NULL);
	return l.v;
}

void vm_argv_free(char **argv)
{
	for (size_t i = 0; argv && argv[i]; i++)
		free(argv[i]);
	free(argv);
}

static int kvm_usable(char *why, size_t len)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, len, "/dev/kvm: %s", strerror(errno));
		return 0;
	}
	close(fd);
	return 1;
}

/* The probe verdict is only good for this host boot. */
static char *probe_file(const struct vm_config *c)
{
	return c->state_dir ? xasprintf("%s/kvm-probe", c->state_dir) : NULL;
}

static int boot_id(char out[64])
{
	struct sbuf sb = SBUF_INIT;
	int r = read_file("/proc/sys/kernel/random/boot_id", 256, &sb, NULL);
	snprintf(out, 64, "%s", r == 0 ? sb.buf : "unknown\n");
	out[strcspn(out, "\n")] = 0;
	sb_release(&sb);
	return 0;
}

static int probe_cached(const struct vm_config *c)
{
	char *f = probe_file(c);
	struct sbuf sb = SBUF_INIT;
	int verdict = -1;
	char id[64], want[96];
	boot_id(id);
	snprintf(want, sizeof(want), "%s ok\n", id);
	if (f && read_file(f, 4096, &sb, NULL) == 0) {
		if (!strcmp(sb.buf, want))
			verdict = 1;
		else if (!strncmp(sb.buf, id, strlen(id)))
			verdict = 0;
	}
	free(f);
	sb_release(&sb);
	return verdict;
}

static void probe_store(const struct vm_config *c, int ok)
{
	char *f = probe_file(c);
	if (!f)
		return;
	char id[64];
	boot_id(id);
	char *s = xasprintf("%s %s\n", id, ok ? "ok" : "broken");
	if (mkdir_p(c->state_dir, 0700, NULL) == 0)
		write_file_atomic(f, s, strlen(s), 0644, NULL);
	free(s);
	free(f);
}

static void write_all(int fd, const char *buf, size_t n)
{
	while (n) {
		ssize_t w = write(fd, buf, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* a full disk loses log bytes, never the VM */
		buf += w;
		n -= (size_t)w;
	}
}

/* This VM's passt (vm_passt_argv): *sock is QEMU's end of its socket, *errfd
 * passt's stderr. It gets PR_SET_PDEATHSIG too, but passt started as root
 * changes to nobody, which clears it: what ends it then is its socket
 * closing, with QEMU and crumb gone (--fd implies --one-off). */
static int passt_spawn(const struct vm_config *c, pid_t *pid, int *sock, int *errfd,
		       struct err *e)
{
	char *passt;
	int r = vm_find_passt(&passt, e);
	if (r < 0)
		return r;
	int sv[2], pe[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		free(passt);
		return err_errno(e, CRUMB_EIO, "socketpair");
	}
	if (pipe2(pe, O_CLOEXEC) < 0) {
		close(sv[0]);
		close(sv[1]);
		free(passt);
		return err_errno(e, CRUMB_EIO, "pipe");
	}
	char **argv = vm_passt_argv(c, passt, VM_NET_FD);
	free(passt);
	pid_t parent = getpid();
	*pid = fork();
	if (*pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		setpgid(0, 0); /* a Ctrl-C is crumb's to handle, as for QEMU */
		int null = open("/dev/null", O_RDWR);
		dup2(null, 0);
		dup2(null, 1);
		dup2(pe[1], 2);
		if (sv[1] == VM_NET_FD)
			fcntl(sv[1], F_SETFD, 0);
		else
			dup2(sv[1], VM_NET_FD);
		execv(argv[0], argv);
		dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	int fork_errno = errno;
	vm_argv_free(argv);
	close(sv[1]);
	close(pe[1]);
	if (*pid < 0) {
		close(sv[0]);
		close(pe[0]);
		errno = fork_errno;
		return err_errno(e, CRUMB_EIO, "fork");
	}
	*sock = sv[0];
	*errfd = pe[0];
	return 0;
}

/* Ends passt (when it has not ended by itself) and closes what crumb holds of it. */
static void passt_stop(pid_t *pid, int *sock, int *errfd)
{
	if (*sock >= 0)
		close(*sock);
	if (*errfd >= 0)
		close(*errfd);
	*sock = *errfd = -1;
	if (*pid > 0) {
		kill(*pid, SIGKILL);
		while (waitpid(*pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	*pid = -1;
}

/* One QEMU process from spawn to exit. probe: give up (return 1) when
 * crumb-init has not spoken within KVM_PROBE_SECONDS. */
static int spawn_once(const struct vm_config *c, const char *qemu, enum accel a, int probe,
		      vm_output_fn out, void *ctx, struct vm_result *res, struct err *e)
{
	int po[2], pe[2], pi[2] = {-1, -1};
	/* Another VMM gets VM_ALT_FD too (firecracker: its config; cloud-hypervisor:
	 * its event stream) and a stdin pipe even without -i: both poll their stdin
	 * for the serial port, which /dev/null does not allow. */
	int alt = c->vmm != VMM_QEMU, in_pipe = c->interactive || alt, extra = -1, ev = -1;
	if (c->vmm == VMM_FIRECRACKER) {
		char *json = vm_alt_firecracker_json(c);
		extra = memfd_create("crumb-firecracker.json", MFD_CLOEXEC);
		if (extra >= 0)
			write_all(extra, json, strlen(json));
		free(json);
		if (extra < 0)
			return err_errno(e, CRUMB_EIO, "memfd_create");
	} else if (c->vmm == VMM_CLOUD_HYPERVISOR) {
		int p[2];
		if (pipe2(p, O_CLOEXEC) < 0)
			return err_errno(e, CRUMB_EIO, "pipe");
		ev = p[0];
		extra = p[1];
	}
	/* User networking: this VM's passt, unless CRUMB_NETDEV=slirp. */
	struct vm_config cc = *c;
	pid_t passt = -1;
	int net_sock = -1, passt_err = -1, passt_failed = 0;
	const char *netdev = getenv("CRUMB_NETDEV");
	cc.net_slirp_open = netdev && !strcmp(netdev, "slirp");
	cc.net_passt = !alt && c->net && !cc.net_slirp_open;
	cc.net_passt_ports = cc.net_passt && netdev && !strcmp(netdev, "passt");
	if (cc.net_passt) {
		int r = passt_spawn(&cc, &passt, &net_sock, &passt_err, e);
		if (r < 0) {
			if (extra >= 0)
				close(extra);
			if (ev >= 0)
				close(ev);
			return r;
		}
	}
	c = &cc;
	char **argv = alt ? vm_alt_argv(c, c->vmm, qemu) : vm_argv(c, qemu, a);
	memset(res, 0, sizeof(*res));
	res->accel = a;
	res->status = -1;
	res->g_init = res->g_exec = res->g_exit = -1;
	res->g_ready = res->g_stopping = res->g_restart = -1;
	if (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0 ||
	    (in_pipe && pipe2(pi, O_CLOEXEC) < 0)) {
		passt_stop(&passt, &net_sock, &passt_err);
		vm_argv_free(argv);
		if (extra >= 0)
			close(extra);
		if (ev >= 0)
			close(ev);
		return err_errno(e, CRUMB_EIO, "pipe");
	}
	res->t_spawn = now_monotonic();
	pid_t pid = fork();
	if (pid < 0) {
		passt_stop(&passt, &net_sock, &passt_err);
		vm_argv_free(argv);
		if (extra >= 0)
			close(extra);
		if (ev >= 0)
			close(ev);
		return err_errno(e, CRUMB_EIO, "fork");
	}
	if (pid == 0) {
		/* QEMU must not outlive crumb, whatever kills crumb. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		/* Its own process group: a Ctrl-C on crumb's terminal reaches crumb,
		 * which decides (-t sends it to the guest instead). */
		setpgid(0, 0);
		if (in_pipe) {
			dup2(pi[0], 0);
		} else {
			int null = open("/dev/null", O_RDONLY);
			dup2(null, 0);
		}
		dup2(po[1], 1);
		dup2(pe[1], 2);
		if (extra == VM_ALT_FD)
			fcntl(extra, F_SETFD, 0);
		else if (extra >= 0)
			dup2(extra, VM_ALT_FD);
		if (net_sock == VM_NET_FD)
			fcntl(net_sock, F_SETFD, 0);
		else if (net_sock >= 0)
			dup2(net_sock, VM_NET_FD);
		execv(argv[0], argv);
		dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	vm_argv_free(argv);
	close(po[1]);
	close(pe[1]);
	if (extra >= 0)
		close(extra);
	if (net_sock >= 0)
		close(net_sock); /* QEMU's now: passt sees its end close with QEMU */
	res->qemu_pid = (int)pid;
	if (c->event)
		c->event(c->event_ctx, "spawn", res);

	struct console con;
	console_init(&con, res, c->verbose, out, ctx);
	console_set_key(&con, c->marker_key);
	con.trust_unsigned = c->foreign_init;
	con.event = c->event;
	con.event_ctx = c->event_ctx;
	con.klog = c->klog;
	if (c->klog)
		vm_klog_reset(c->klog);
	struct sbuf errline = SBUF_INIT;
	/* fds: QEMU's stdout, its stderr, then (interactive) crumb's stdin and
	 * QEMU's stdin pipe, written without blocking so that a guest that does
	 * not read its console never stalls the output. */
	/* fds[4]: cloud-hypervisor's events. It reboots a guest that resets (there
	 * is no ACPI power-off in crumb's kernel): "rebooting" is the end here. */
	/* fds[5]: passt's stderr; its end before QEMU's, with a failure, ends the VM. */
	struct pollfd fds[6] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}, {-1, POLLIN, 0},
				{-1, POLLOUT, 0}, {ev, POLLIN, 0}, {passt_err, POLLIN, 0}};
	struct sbuf passt_line = SBUF_INIT;
	char passt_msg[256] = "";
	struct sbuf events = SBUF_INIT;
	int guest_reset = 0;
	char inbuf[4096];
	size_t inlen = 0, inoff = 0;
	int in_eof = 0;
	if (in_pipe)
		close(pi[0]);
	if (c->interactive) {
		fcntl(pi[1], F_SETFL, O_NONBLOCK);
		fds[2].fd = 0;
	}
	int open_fds = 2, gave_up = 0;
	char buf[16384];
	while (open_fds) {
		/* The earlier of the KVM probe's deadline and the user's --timeout. */
		double deadline = 0;
		if (probe && !res->t_init)
			deadline = res->t_spawn + KVM_PROBE_SECONDS;
		if (c->timeout > 0 && (!deadline || res->t_spawn + c->timeout < deadline))
			deadline = res->t_spawn + c->timeout;
		int timeout = -1;
		if (deadline) {
			double left = deadline - now_monotonic();
			timeout = left > 0 ? (int)(left * 1000) + 1 : 0;
		}
		if (c->interactive) {
			/* Input typed before the service runs would be lost to the
			 * guest setting its console up: hold it until the exec marker. */
			fds[2].fd = !in_eof && inlen == 0 && res->t_exec ? 0 : -1;
			fds[3].fd = inlen ? pi[1] : -1;
		}
		int n = poll(fds, 6, timeout);
		if (n < 0 && errno == EINTR)
			continue;
		/* A chatty guest keeps poll busy: look at the clock every time. */
		if (n == 0 || (deadline && now_monotonic() >= deadline)) {
			if (c->timeout > 0 && now_monotonic() >= res->t_spawn + c->timeout)
				res->timed_out = 1;
			else
				gave_up = 1;
			kill(pid, SIGKILL);
			break;
		}
		if (fds[5].fd >= 0 && (fds[5].revents & (POLLIN | POLLHUP | POLLERR))) {
			ssize_t got = read(fds[5].fd, buf, sizeof(buf));
			for (ssize_t k = 0; k < got; k++) {
				if (buf[k] != '\n') {
					if (passt_line.len < 200)
						sb_addc(&passt_line, buf[k]);
					continue;
				}
				/* Its chatter when run as root without a syslog is no reason. */
				if (passt_line.len && !strstr(passt_line.buf, "syslog") &&
				    !strstr(passt_line.buf, "Changing to nobody"))
					snprintf(passt_msg, sizeof(passt_msg), "%s", passt_line.buf);
				sb_reset(&passt_line);
			}
			if (got == 0 || (got < 0 && errno != EINTR)) {
				/* Its stderr ends as it exits: give it a second to be reaped. */
				int ws = 0;
				pid_t w = 0;
				for (int t = 0; t < 100 && (w = waitpid(passt, &ws, WNOHANG)) == 0; t++)
					usleep(10000);
				fds[5].fd = -1;
				if (w == passt) {
					passt = -1;
					if (!(WIFEXITED(ws) && WEXITSTATUS(ws) == 0)) {
						passt_failed = 1;
						kill(pid, SIGKILL);
					}
				}
			}
		}
		if (fds[4].fd >= 0 && (fds[4].revents & (POLLIN | POLLHUP | POLLERR))) {
			ssize_t got = read(fds[4].fd, buf, sizeof(buf));
			if (got > 0 && events.len < (1 << 20)) {
				sb_add(&events, buf, (size_t)got);
				if (!guest_reset && vm_alt_saw_reboot(events.buf)) {
					guest_reset = 1;
					kill(pid, SIGKILL);
				}
			} else if (got == 0 || (got < 0 && errno != EINTR)) {
				close(fds[4].fd);
				fds[4].fd = -1;
			}
		}
		if (fds[2].fd >= 0 && (fds[2].revents & (POLLIN | POLLHUP | POLLERR))) {
			ssize_t got = read(0, inbuf, sizeof(inbuf));
			if (got > 0) {
				inlen = (size_t)got;
				inoff = 0;
			} else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
				/* The guest's console has no EOF: ^D ends a line-mode read. */
				in_eof = 1;
				inbuf[0] = 4;
				inlen = 1;
				inoff = 0;
			}
		}
		if (fds[3].fd >= 0 && (fds[3].revents & (POLLOUT | POLLHUP | POLLERR))) {
			ssize_t w = write(pi[1], inbuf + inoff, inlen);
			if (w > 0) {
				inoff += (size_t)w;
				inlen -= (size_t)w;
			} else if (w < 0 && errno != EINTR && errno != EAGAIN) {
				inlen = 0; /* QEMU is gone: its output will end too */
				in_eof = 1;
			}
		}
		for (int i = 0; i < 2; i++) {
			if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			ssize_t got = read(fds[i].fd, buf, sizeof(buf));
			if (got < 0 && errno == EINTR)
				continue;
			if (got <= 0) {
				close(fds[i].fd);
				fds[i].fd = -1;
				open_fds--;
				continue;
			}
			if (i == 0) {
				if (!res->t_first_byte)
					res->t_first_byte = now_monotonic();
				if (c->console_fd > 0)
					write_all(c->console_fd, buf, (size_t)got);
				console_feed(&con, buf, (size_t)got, now_monotonic());
			} else {
				for (ssize_t k = 0; k < got; k++) {
					if (buf[k] == '\n') {
						if (errline.len)
							snprintf(res->qemu_error,
								 sizeof(res->qemu_error), "%s",
								 errline.buf);
						sb_reset(&errline);
					} else if (errline.len < 400) {
						sb_addc(&errline, buf[k]);
					}
				}
			}
		}
	}
	for (int i = 0; i < 2; i++)
		if (fds[i].fd >= 0)
			close(fds[i].fd);
	if (fds[4].fd >= 0)
		close(fds[4].fd);
	sb_release(&events);
	sb_release(&passt_line);
	if (pi[1] >= 0)
		close(pi[1]);
	if (errline.len)
		snprintf(res->qemu_error, sizeof(res->qemu_error), "%s", errline.buf);
	int ws;
	while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
		;
	res->t_end = now_monotonic();
	res->qemu_status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
	if (guest_reset && WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL)
		res->qemu_status = 0; /* killed for the guest's reset: its way to power off */
	console_release(&con);
	sb_release(&errline);
	passt_stop(&passt, &net_sock, &passt_err);
	if (passt_failed)
		return err_set(e, CRUMB_EIO, "passt (the guest's network) failed: %s",
			       passt_msg[0] ? passt_msg : "it exited");
	if (probe && (gave_up || (!res->t_init && res->qemu_status)))
		return 1;
	return 0;
}

int vm_run(const struct vm_config *c, vm_output_fn out, void *ctx, struct vm_result *res,
	   struct err *e)
{
	char *qemu;
	struct stat st;
	int r = c->vmm == VMM_QEMU ? vm_find_qemu(c->qemu, &qemu, e) : vm_alt_find(c->vmm, &qemu, e);
	if (r < 0)
		return r;
	int kbad = stat(c->kernel, &st) < 0 ? errno : 0; /* st is unset when stat failed */
	if (kbad || !S_ISREG(st.st_mode)) {
		free(qemu);
		return err_set(e, CRUMB_ENOENT, "kernel %s: %s", c->kernel,
			       kbad ? strerror(kbad) : "not a file");
	}
	if (c->initrd && (stat(c->initrd, &st) < 0 || !S_ISREG(st.st_mode))) {
		free(qemu);
		return err_errno(e, CRUMB_ENOENT, "initramfs %s", c->initrd);
	}
	if (c->disk && (stat(c->disk, &st) < 0 || !S_ISREG(st.st_mode))) {
		free(qemu);
		return err_errno(e, CRUMB_ENOENT, "disk image %s", c->disk);
	}
	for (size_t i = 0; i < c->nvolumes + c->nshares; i++) {
		int vol = i < c->nvolumes;
		const char *p = vol ? c->volumes[i].path : c->shares[i - c->nvolumes].path;
		int bad = stat(p, &st) < 0 ? errno : 0;
		if (bad || (vol ? !S_ISREG(st.st_mode) : !S_ISDIR(st.st_mode))) {
			free(qemu);
			return err_set(e, CRUMB_ENOENT, "%s %s: %s",
				       vol ? "volume" : "shared directory", p,
				       bad ? strerror(bad) : vol ? "not a file" : "not a directory");
		}
	}
	if (c->vmm != VMM_QEMU) {
		/* KVM only, no probe; fw_cfg is QEMU's: the config disk carries the config. */
		struct vm_config alt = *c;
		if (alt.init_conf_disk)
			alt.init_conf = NULL;
		int pci = c->vmm == VMM_CLOUD_HYPERVISOR && vm_alt_kernel_has_virtio_pci(c->kernel);
		r = vm_alt_check(&alt, pci, e);
		if (r == 0)
			r = vm_alt_kvm_check(c->vmm, e);
		if (r == 0)
			r = spawn_once(&alt, qemu, ACCEL_KVM, 0, out, ctx, res, e);
		free(qemu);
		return r;
	}
	char why[sizeof(res->kvm_note)] = "";
	enum accel a = c->accel;
	int probe = 0;
	if (a == ACCEL_KVM && !kvm_usable(why, sizeof(why))) {
		free(qemu);
		return err_set(e, CRUMB_EUNSUPP, "--accel kvm: %s", why);
	}
	if (a == ACCEL_AUTO) {
		if (!kvm_usable(why, sizeof(why))) {
			a = ACCEL_TCG;
		} else {
			int v = probe_cached(c);
			a = v == 0 ? ACCEL_TCG : ACCEL_KVM;
			probe = v < 0;
			if (v == 0)
				snprintf(why, sizeof(why), "KVM failed a probe boot earlier");
		}
	}
	r = spawn_once(c, qemu, a, probe, out, ctx, res, e);
	if (probe) {
		probe_store(c, r == 0);
		if (r == 1) {
			snprintf(why, sizeof(why), "KVM did not boot (%.180s); fell back to TCG",
				 res->qemu_error[0] ? res->qemu_error : "no sign of life");
			r = spawn_once(c, qemu, ACCEL_TCG, 0, out, ctx, res, e);
		}
	}
	snprintf(res->kvm_note, sizeof(res->kvm_note), "%s", why);
	free(qemu);
	return r;
}

/* test_runplan.c: the run plan without booting: sizing, labels over flags, refusals, volumes,
 * ports and the state directory rule. */
#include <string.h>
#include <unistd.h>

#include "lib/runplan.h"
#include "tap.h"

static struct hostenv host = {.term = "vt220", .source_date_epoch = "0"};

static struct run_opts opts(void)
{
	return (struct run_opts){.stop_timeout = -1, .net = 1, .host = &host};
}

static const char *label(struct oci_config *c, const char *k, const char *v)
{
	strlist_push(&c->label_keys, k);
	strlist_push(&c->label_values, v);
	return v;
}

/* Checks o and returns the message ("" when accepted). */
static const char *refusal(const struct run_opts *o)
{
	static struct err e;
	e.msg[0] = 0;
	if (runplan_check(o, &e) == 0)
		return "";
	return e.msg;
}

/* A plan for the sshd example's root (before dash): 6.4 MB of files, 3.2 MB compressed. */
static void sshd_plan(struct run_plan *p, unsigned mem)
{
	runplan_init(p);
	p->archive = 6500000, p->archive_z = 3173282, p->content = 6389904, p->mem = mem;
	p->root_owned = xstrdup("blob.cpio.zst"), p->initrd_raw = xstrdup("raw.cpio");
	p->vc.initrd = p->initrd_raw;
}

static void test_sizing(void)
{
	struct run_plan p;
	struct err e = {0};
	is_int(runplan_need_mb(0, 0), RUNPLAN_KERNEL_MB, "an empty root needs the kernel's share");
	/* 10 MiB of files in a 5 MiB archive: 5 + 20 + 0.6 MiB */
	is_int(runplan_need_mb(5 << 20, 10 << 20), RUNPLAN_KERNEL_MB + 26,
	       "2 x files + 6%% + archive");
	/* The sshd example (measured: serves at -m 32M, its initramfs fails to unpack at 30M). */
	is_int(runplan_need_mb(3173282, 6389904), 32, "the sshd example: 32M");

	runplan_init(&p);
	p.archive = 5 << 20, p.content = 10 << 20;
	ok(runplan_size(&p, &e) == 0, "no -m: sized");
	is_int(p.vc.mem_mb, 128, "need + headroom, at least 128M");
	runplan_release(&p);

	runplan_init(&p);
	p.archive = 20 << 20, p.content = 100 << 20;
	ok(runplan_size(&p, &e) == 0, "a large root: sized");
	is_int(p.vc.mem_mb, ((runplan_need_mb(20 << 20, 100 << 20) + 64 + 15) / 16) * 16,
	       "need + 64M headroom, rounded up to 16M");
	ok(p.vc.mem_mb % 16 == 0, "... a multiple of 16M");
	runplan_release(&p);

	runplan_init(&p);
	p.archive = 5 << 20, p.content = 10 << 20, p.mem = 32;
	ok(runplan_size(&p, &e) < 0, "-m below the need: refused");
	is_str(e.msg,
	       "-m 32M is too small: this root filesystem needs at least 42M (10.5 MB of files, "
	       "unpacked into a tmpfs capped at half the memory, from a 5.2 MB archive)",
	       "... with the numbers");
	runplan_release(&p);

	/* An image's cpio+zstd root boots decompressed (klayer_initrd) where -m leaves room */
	sshd_plan(&p, 48);
	ok(runplan_size(&p, &e) == 0 && p.vc.mem_mb == 48 && !strcmp(p.vc.initrd, "raw.cpio"),
	   "-m 48M: the sshd example boots its plain cpio");
	runplan_release(&p);
	sshd_plan(&p, 32);
	ok(runplan_size(&p, &e) == 0 && p.vc.mem_mb == 32 &&
	       !strcmp(p.vc.initrd, "blob.cpio.zst") && p.archive == 3173282,
	   "-m 32M: no room for the plain cpio (needs 36M), so the compressed one: %s", e.msg);
	runplan_release(&p);
	sshd_plan(&p, 30);
	ok(runplan_size(&p, &e) < 0 && strstr(e.msg, "needs at least 32M") &&
	       strstr(e.msg, "from a 3.2 MB archive"),
	   "-m 30M: refused with the compressed archive's need: %s", e.msg);
	runplan_release(&p);

	runplan_init(&p);
	p.is_disk = 1, p.archive = 5 << 20, p.content = 10 << 20, p.mem = 32;
	ok(runplan_size(&p, &e) == 0 && p.vc.mem_mb == 32, "an ext4 root: only the kernel's share");
	runplan_release(&p);

	runplan_init(&p);
	p.vc.mem_mb = 1024, p.content = 10ull << 30;
	ok(runplan_size(&p, &e) == 0 && p.vc.mem_mb == 1024, "a set size is kept (the builder)");
	runplan_release(&p);
}

static void test_refusals(void)
{
	struct run_opts o = opts();
	struct strlist args = STRLIST_INIT, vols = STRLIST_INIT;
	is_str(refusal(&o), "give one of IMAGE, --exec PATH or --rootfs FILE", "nothing to run");
	o.image = "img", o.program = "/bin/true";
	is_str(refusal(&o), "give one of IMAGE, --exec PATH or --rootfs FILE", "two roots");
	o = opts(), o.rootfs = "r.cpio", o.user = "nobody";
	is_str(refusal(&o),
	       "--rootfs boots the file's own config: -e, -u, -w, -v, -t, --restart, --hostname, "
	       "--add-host and ARGS need IMAGE or --exec",
	       "--rootfs with -u");
	struct strlist hosts = STRLIST_INIT;
	strlist_push(&hosts, "db:10.1.2.3");
	o = opts(), o.rootfs = "r.cpio", o.add_hosts = &hosts;
	ok(strstr(refusal(&o), "--add-host"), "--rootfs with --add-host");
	o = opts(), o.program = "/bin/true", o.add_hosts = &hosts, o.net = 0;
	is_str(refusal(&o), "", "--add-host HOST:IP with --net none");
	strlist_push(&hosts, "gw:host-gateway");
	is_str(refusal(&o),
	       "--add-host gw:host-gateway: host-gateway needs a network (not --net none)",
	       "--add-host host-gateway with --net none");
	strlist_push(&hosts, "bad_name:1.2.3.4");
	o.net = 1;
	ok(strstr(refusal(&o), "'bad_name' is not a host name"), "--add-host with a bad name");
	strlist_release(&hosts);
	strlist_push(&args, "x");
	o = opts(), o.rootfs = "r.cpio", o.args = &args;
	ok(refusal(&o)[0], "--rootfs with ARGS");
	o = opts(), o.program = "/bin/true", o.entrypoint = "/bin/sh";
	is_str(refusal(&o), "--entrypoint goes with IMAGE, not --exec", "--entrypoint with --exec");
	o = opts(), o.image = "img", o.adds = &args;
	is_str(refusal(&o), "--add goes with --exec", "--add with IMAGE");
	struct vm_port port = {"127.0.0.1", 8080, 80, 0};
	o = opts(), o.image = "img", o.ports = &port, o.nports = 1, o.net = 0;
	is_str(refusal(&o), "-p needs a network (--net user)", "-p with --net none");
	o = opts(), o.image = "img", o.detach = 1, o.interactive = 1;
	is_str(refusal(&o), "-d and -i do not go together (nothing to read from)", "-d -i");
	o = opts(), o.image = "img", o.detach = 1, o.timing = 1;
	is_str(refusal(&o), "--timing and --timeline need a foreground run", "-d --timing");
	o = opts(), o.image = "img", o.restart = "sometimes";
	is_str(refusal(&o), "--restart sometimes: want no, on-failure[:N] or always", "--restart");
	o.restart = "on-failure:3";
	is_str(refusal(&o), "", "--restart on-failure:3 is fine");
	o = opts(), o.image = "img", o.vmm = VMM_FIRECRACKER, o.ports = &port, o.nports = 1;
	is_str(refusal(&o),
	       "-p: --vmm firecracker has no user networking (its network needs a tap device, "
	       "made by root); -p needs QEMU",
	       "--vmm firecracker -p");
	o = opts(), o.image = "img", o.vmm = VMM_FIRECRACKER, o.net_given = 1;
	ok(strstr(refusal(&o), "--net user: --vmm firecracker") != NULL, "--vmm with --net user");
	o.net_given = 0, o.name = "web";
	ok(!strncmp(refusal(&o), "--name: --vmm firecracker runs in the foreground only", 53),
	   "--vmm with --name");
	o.name = NULL, o.accel = ACCEL_TCG;
	is_str(refusal(&o), "--accel tcg: --vmm firecracker runs on KVM only", "--vmm with tcg");
	o.accel = ACCEL_AUTO;
	is_str(refusal(&o), "", "--vmm firecracker, default network: fine (none there)");
	for (int i = 0; i <= RUNPLAN_MAX_VOLUMES; i++)
		strlist_push(&vols, "v:/data");
	o = opts(), o.image = "img", o.volumes = &vols;
	is_str(refusal(&o), "at most 16 volumes", "too many -v");
	strlist_release(&args);
	strlist_release(&vols);
}

/* An image's labels under the flags. */
static void test_labels(void)
{
	struct run_plan p;
	struct err e = {0};
	struct oci_config ic;
	struct strlist cmd = STRLIST_INIT;
	oci_config_init(&ic);
	strlist_push(&ic.entrypoint, "/bin/server");
	strlist_push(&ic.cmd, "--port=80");
	strlist_push(&ic.env, "A=1");
	strlist_push(&ic.exposed, "80/tcp");
	strlist_push(&ic.exposed, "53/udp");
	ic.user = xstrdup("web");
	ic.stop_signal = xstrdup("QUIT");
	label(&ic, "crumb.memory", "512M");
	label(&ic, "crumb.cpus", "2");
	label(&ic, "crumb.cmdline", "quiet");
	label(&ic, "crumb.publish", "2222:22 8080:80");
	label(&ic, "crumb.restart", "on-failure:5");

	struct run_opts o = opts();
	struct vm_port mine;
	struct err pe;
	ok(vm_port_parse("2299:22", &mine, &pe) == 0, "-p 2299:22 parses");
	o.image = "img", o.mem = 256, o.ports = &mine, o.nports = 1;
	runplan_init(&p);
	p.vc.net = 1;
	p.mem = o.mem;
	p.ports[p.nports++] = mine;
	ok(runplan_image(&p, &o, &ic, &e) == 0, "the image's config merges");
	is_int(p.mem, 256, "-m wins over crumb.memory");
	is_int(p.cpus, 2, "crumb.cpus applies without -c");
	is_str(p.vc.cmdline, "quiet", "crumb.cmdline applies without --cmdline");
	is_int(p.nports, 2, "-p 2299:22 replaces the image's 2222:22, 8080:80 stays");
	is_int(p.ports[1].host_port, 8080, "... the image's own port after the flags'");
	is_int(p.cfg.restart, INITCFG_RESTART_ON_FAILURE, "crumb.restart");
	is_int(p.cfg.restart_max, 5, "... with its count");
	is_int(p.cfg.stop_signal, 3, "StopSignal QUIT");
	is_str(p.cfg.user, "web", "the image's user");
	is_int(p.cfg.nready, 1, "ExposedPorts: the TCP one is a ready port");
	ok(p.cfg.nready && p.cfg.ready[0] == 80, "... 80");
	ok(p.cfg.argv.n == 2 && !strcmp(p.cfg.argv.v[1], "--port=80"), "Entrypoint + Cmd");
	ok(p.need_conf, "an image's config goes to the guest");
	runplan_release(&p);

	strlist_push(&cmd, "--port=8080");
	o = opts(), o.image = "img", o.args = &cmd, o.user = "root", o.restart = "no";
	o.have_cmdline = 1, o.stop_signal = "TERM";
	runplan_init(&p);
	ok(runplan_image(&p, &o, &ic, &e) == 0, "flags over the image");
	ok(p.cfg.argv.n == 2 && !strcmp(p.cfg.argv.v[1], "--port=8080"), "ARGS replace Cmd");
	is_str(p.cfg.user, "root", "-u wins");
	ok(p.vc.cmdline == NULL, "--cmdline given: crumb.cmdline ignored");
	is_int(p.cfg.restart, INITCFG_RESTART_NO, "--restart given: the label is not applied");
	is_int(p.cfg.stop_signal, 0, "--stop-signal given: StopSignal not applied here");
	is_int(p.nports, 0, "no network: crumb.publish is not applied");
	runplan_release(&p);

	oci_config_release(&ic);
	oci_config_init(&ic);
	strlist_push(&ic.cmd, "/bin/true");
	label(&ic, "crumb.cpus", "99");
	o = opts(), o.image = "img";
	runplan_init(&p);
	ok(runplan_image(&p, &o, &ic, &e) < 0, "a bad crumb.cpus is refused");
	is_str(e.msg, "image label crumb.cpus=99: want 1 to 16", "... naming it");
	runplan_release(&p);
	oci_config_release(&ic);

	oci_config_init(&ic);
	strlist_push(&ic.cmd, "/bin/true");
	ic.stop_signal = xstrdup("SIGBOGUS");
	runplan_init(&p);
	ok(runplan_image(&p, &o, &ic, &e) < 0, "a bad StopSignal is refused");
	is_str(e.msg, "image StopSignal SIGBOGUS: unknown signal", "... naming it");
	runplan_release(&p);
	oci_config_release(&ic);

	oci_config_init(&ic);
	strlist_push(&ic.cmd, "/bin/true");
	label(&ic, "crumb.publish", "0.0.0.0:80:80");
	runplan_init(&p);
	p.vc.net = 1;
	ok(runplan_image(&p, &o, &ic, &e) < 0 && !strncmp(e.msg, "image label crumb.publish: ", 27),
	   "an image may not publish beyond the loopback");
	runplan_release(&p);
	oci_config_release(&ic);
	strlist_release(&cmd);
}

static void test_exec(void)
{
	struct run_plan p;
	struct run_opts o = opts();
	struct strlist env = STRLIST_INIT;
	strlist_push(&env, "PATH=/opt/bin");
	o.program = "bin/tool", o.cwd = "/home/u", o.env = &env, o.hostname = "box";
	runplan_init(&p);
	runplan_exec_config(&p, &o);
	is_str(p.cfg.argv.v[0], "/home/u/bin/tool", "a relative --exec path, absolute in cwd");
	ok(p.need_conf, "--hostname: the config goes to the guest");
	ok(p.cfg.env.n == 3 && !strcmp(p.cfg.env.v[0], "PATH=/opt/bin"),
	   "-e PATH replaces the default");
	ok(p.exec.program && !strcmp(p.exec.program, "bin/tool"), "the initramfs to pack");
	runplan_release(&p);
	o = opts(), o.program = "/bin/true";
	runplan_init(&p);
	runplan_exec_config(&p, &o);
	ok(!p.need_conf, "a plain --exec: the initramfs has the config");
	runplan_release(&p);
	strlist_release(&env);
}

static void test_service(void)
{
	struct run_plan p;
	struct err e = {0};
	struct run_opts o = opts();
	struct strlist vols = STRLIST_INIT;
	char img[] = "/tmp/test_runplan-XXXXXX";
	int fd = mkstemp(img);
	ok(fd >= 0 && write(fd, "not ext4", 8) == 8, "a file that is no ext4 image");
	close(fd);
	strlist_push(&vols, "data:/data");
	strlist_push(&vols, "/tmp:/mnt:ro");
	struct vm_port ports[3];
	struct err pe;
	vm_port_parse("8080:80", &ports[0], &pe);
	vm_port_parse("8443:443", &ports[1], &pe);
	vm_port_parse("5353:53/udp", &ports[2], &pe);
	o.image = "img", o.volumes = &vols, o.tty = 1, o.rows = 40, o.cols = 120;
	o.stop_timeout = 30, o.stop_signal = "INT", o.restart = "always";
	runplan_init(&p);
	p.store = xstrdup("/store");
	p.is_disk = 1;
	for (int i = 0; i < 3; i++)
		p.ports[p.nports++] = ports[i];
	initcfg_add_ready(&p.cfg, 80); /* the image's ExposedPorts */
	ok(runplan_service(&p, &o, &e) == 0, "the service's flags");
	is_int(p.cfg.nready, 2, "published TCP ports are ready ports, once each, not UDP");
	is_int(p.cfg.stop_timeout, 30, "--stop-timeout");
	is_int(p.cfg.stop_signal, 2, "--stop-signal INT");
	is_int(p.cfg.restart, INITCFG_RESTART_ALWAYS, "--restart always");
	is_int(p.nvols, 2, "two volumes");
	is_str(p.vols[0].path, "/store/volumes/data.ext4", "a named volume lives in the store");
	is_str(p.vols[0].dev, "/dev/vdb", "... after the root disk");
	is_int(p.vc.nvolumes, 1, "one disk");
	is_int(p.vc.nshares, 1, "one 9p share");
	is_str(p.vols[1].tag, "crumb0", "... tagged crumb0");
	ok(p.vc.shares && p.vc.shares[0].readonly, "... read-only");
	is_int(p.cfg.nmounts, 2, "both mounted by crumb-init");
	ok(p.cfg.nmounts == 2 && !strcmp(p.cfg.mounts[1].type, "9p") &&
	       !strcmp(p.cfg.mounts[1].options, "ro"),
	   "... the share as 9p, ro");
	ok(p.cfg.tty && !strcmp(p.cfg.term, "vt220") && p.cfg.rows == 40, "-t: TERM and size");
	runplan_release(&p);

	strlist_release(&vols);
	char spec[64];
	snprintf(spec, sizeof(spec), "%s:/img", img);
	strlist_push(&vols, spec);
	o = opts(), o.image = "img", o.volumes = &vols;
	runplan_init(&p);
	ok(runplan_service(&p, &o, &e) < 0, "-v FILE that is not ext4: refused");
	ok(strstr(e.msg, "is not an ext2/3/4 image") && !strncmp(e.msg, "-v /tmp/", 8),
	   "... naming the -v value");
	runplan_release(&p);
	unlink(img);
	strlist_release(&vols);

	o = opts(), o.image = "img", o.restart = "on-failure:x";
	runplan_init(&p);
	ok(runplan_service(&p, &o, &e) < 0, "a bad restart count");
	is_str(e.msg, "restart policy 'on-failure:x': bad count", "... said");
	runplan_release(&p);
}

static void test_state(void)
{
	struct err e = {0};
	struct run_opts o = opts();
	char deep[200];
	memset(deep, 'd', sizeof(deep) - 1);
	deep[0] = '/';
	deep[sizeof(deep) - 1] = 0;
	o.image = "img";
	is_int(runplan_state_rule("/run/user/1000/crumb", &o, &e), 1, "a state directory");
	is_int(runplan_state_rule(deep, &o, &e), 0, "too deep, not needed: none");
	is_int(runplan_state_rule(NULL, &o, &e), 0, "no root, not needed: none");
	o.name = "web";
	ok(runplan_state_rule(deep, &o, &e) < 0, "too deep with --name: refused");
	ok(strstr(e.msg, "is too deep for a unix socket: set XDG_RUNTIME_DIR or a shorter "
			 "CRUMB_HOME") != NULL,
	   "... saying what to do");
	o.name = NULL, o.detach = 1;
	ok(runplan_state_rule(deep, &o, &e) < 0, "too deep with -d: refused");
	o = opts(), o.image = "img", o.vmm = VMM_CLOUD_HYPERVISOR;
	is_int(runplan_state_rule("/run/user/1000/crumb", &o, &e), 0, "another VMM: none");
}

int main(void)
{
	test_sizing();
	test_refusals();
	test_labels();
	test_exec();
	test_service();
	test_state();
	return done_testing();
}

/* test_vmm.c: QEMU's argv and network choices, passt's argv, finding the programs through a
 * hand-built hostenv, accelerators (the console parser: test_console.c). */
#include <stdlib.h>
#include <string.h>

#include "lib/passt.h"
#include "lib/vmm.h"
#include "lib/vmm_qemu.h"
#include "tap.h"

static char *joined(char **argv)
{
	struct sbuf sb = SBUF_INIT;
	for (int i = 0; argv[i]; i++)
		sb_addf(&sb, "%s ", argv[i]);
	vm_argv_free(argv);
	return sb_detach(&sb);
}

/* The network as CRUMB_NETDEV picks it (vm_qemu_net), and the argv it gives. */
static void test_netdev(const struct hostenv *env, const char *want_netdev, const char *want_not,
			int passt, int ports, int open, const char *what)
{
	struct vm_port p[1] = {{"127.0.0.1", 2222, 22, 0}};
	struct vm_config c = {.env = env,
			      .kernel = "/k",
			      .initrd = "/i",
			      .mem_mb = 64,
			      .net = 1,
			      .ports = p,
			      .nports = 1};
	vm_qemu_net(&c);
	ok(c.net_passt == passt && c.net_passt_ports == ports && c.net_slirp_open == open,
	   "%s: passt %d, passt's ports %d, open slirp %d", what, c.net_passt, c.net_passt_ports,
	   c.net_slirp_open);
	char *all = joined(vm_qemu_argv(&c, "q", ACCEL_TCG));
	ok(strstr(all, want_netdev) && (!want_not || !strstr(all, want_not)), "%s: argv: %s", what,
	   all);
	free(all);
}

/* Everything the environment decides, from a hostenv built here (no setenv). */
static void test_env(void)
{
	struct err e = {0};
	char *q = NULL;
	struct hostenv env = {.qemu = "/opt/none/qemu-from-env"};
	ok(vm_qemu_find(&env, NULL, &q, &e) == CRUMB_ENOENT && strstr(e.msg, "qemu-from-env"),
	   "$CRUMB_QEMU is where QEMU is looked for: %s", e.msg);
	ok(vm_qemu_find(&env, "/bin/sh", &q, &e) == 0 && !strcmp(q, "/bin/sh"),
	   "vm_config.qemu wins over $CRUMB_QEMU");
	free(q);
	q = NULL;
	struct vm_config c = {.env = &env, .qemu = NULL};
	ok(vm_find(&c, &q, &e) == CRUMB_ENOENT && strstr(e.msg, "qemu-from-env"),
	   "vm_find: QEMU from c->env");
	c.vmm = VMM_FIRECRACKER;
	env.firecracker = "/opt/none/fc";
	ok(vm_find(&c, &q, &e) == CRUMB_ENOENT && strstr(e.msg, "/opt/none/fc"),
	   "vm_find: firecracker from c->env: %s", e.msg);
	env.firecracker = NULL;

	struct hostenv none = {0}, slirp = {.netdev = "slirp"}, passt = {.netdev = "passt"},
		       other = {.netdev = "bogus"};
	test_netdev(NULL, "-netdev user,id=n1,restrict=on,net=10.0.4.0/24,hostfwd", NULL, 1, 0, 0,
		    "NULL env: passt, ports on the inbound card");
	test_netdev(&none, "addr.type=fd,addr.str=4", NULL, 1, 0, 0, "empty env: passt's socket");
	test_netdev(&other, "netdev=n1,mac=", NULL, 1, 0, 0, "CRUMB_NETDEV=bogus: the default");
	test_netdev(&slirp, "-netdev user,id=n0,hostfwd=tcp:127.0.0.1:2222-:22 ", "restrict", 0, 0,
		    1, "CRUMB_NETDEV=slirp: an open slirp");
	test_netdev(&passt, "addr.type=fd", "hostfwd", 1, 1, 0,
		    "CRUMB_NETDEV=passt: passt forwards the ports");
	struct vm_config alt = {.env = NULL, .vmm = VMM_FIRECRACKER, .net = 1};
	vm_qemu_net(&alt);
	ok(!alt.net_passt, "no passt for another VMM");
}

/* The console as CRUMB_CONSOLE and the VMM pick it (vm_qemu_console), and its argv. */
static void test_console(void)
{
	struct hostenv env = {.console = "uart"};
	struct vm_config c = {.kernel = "/k", .initrd = "/i", .mem_mb = 64};
	vm_qemu_console(&c);
	ok(c.vcon == 1, "console: the port by default on QEMU");
	char *all = joined(vm_qemu_argv(&c, "q", ACCEL_TCG));
	ok(strstr(all, "-chardev file,id=crumbser,path=/dev/fd/5 -serial chardev:crumbser ") &&
	       strstr(all, "-device virtio-serial-device -chardev stdio,id=crumbcon,signal=off "
			   "-device virtserialport,chardev=crumbcon,name=crumb.console ") &&
	       strstr(all, " crumb.console=virtio") && !strstr(all, "-serial stdio"),
	   "console: argv: the UART on fd 5, the port on stdio, crumb-init told: %s", all);
	free(all);
	c.env = &env;
	vm_qemu_console(&c);
	ok(c.vcon == 0, "console: CRUMB_CONSOLE=uart: the UART alone");
	all = joined(vm_qemu_argv(&c, "q", ACCEL_TCG));
	ok(strstr(all, "-serial stdio ") && !strstr(all, "crumbcon") &&
	       !strstr(all, "crumb.console"),
	   "console: argv: the serial console on stdio, as before");
	free(all);
	c.env = NULL;
	c.vmm = VMM_FIRECRACKER;
	vm_qemu_console(&c);
	ok(c.vcon == 0, "console: another VMM: the UART");
}

int main(void)
{
	test_console();
	struct vm_config vc = {.kernel = "/k", .initrd = "/i", .mem_mb = 96, .cmdline = "foo=1"};
	char **argv = vm_qemu_argv(&vc, "/usr/bin/qemu", ACCEL_TCG);
	struct sbuf all = SBUF_INIT;
	for (int i = 0; argv[i]; i++)
		sb_addf(&all, "%s ", argv[i]);
	ok(strstr(all.buf, "-M microvm,accel=tcg,acpi=off ") != NULL,
	   "argv: microvm, tcg, acpi=off");
	ok(strstr(all.buf, "-m 96 ") && strstr(all.buf, "-no-reboot ") &&
	       strstr(all.buf, "-initrd /i "),
	   "argv: memory, -no-reboot, initrd");
	ok(strstr(all.buf, "reboot=t panic=-1 no_timer_check noapictimer lpj=790528 "
			   "rdinit=/sbin/crumb-init quiet foo=1") != NULL,
	   "argv: command line ends with the extra arguments, after TCG's levers");
	ok(strstr(all.buf, "-cpu host") == NULL, "argv: no -cpu host under tcg");
	vm_argv_free(argv);
	argv = vm_qemu_argv(&vc, "/usr/bin/qemu", ACCEL_KVM);
	sb_reset(&all);
	for (int i = 0; argv[i]; i++)
		sb_addf(&all, "%s ", argv[i]);
	ok(strstr(all.buf, "accel=kvm") && strstr(all.buf, "-cpu host"),
	   "argv: kvm uses -cpu host");
	ok(!strstr(all.buf, "noapictimer") && !strstr(all.buf, "lpj="),
	   "argv: kvm calibrates its timers itself");
	ok(!strstr(all.buf, "-netdev"), "argv: no network card unless asked");
	vm_argv_free(argv);

	struct vm_port ports[2];
	struct err pe = {0};
	ok(vm_port_parse("8080:80", &ports[0], &pe) == 0 && ports[0].host_port == 8080 &&
	       ports[0].guest_port == 80 && !strcmp(ports[0].host_ip, "127.0.0.1") && !ports[0].udp,
	   "-p 8080:80: loopback by default, tcp");
	ok(vm_port_parse("0.0.0.0:5353:53/udp", &ports[1], &pe) == 0 && ports[1].udp &&
	       !strcmp(ports[1].host_ip, "0.0.0.0") && ports[1].host_port == 5353,
	   "-p 0.0.0.0:5353:53/udp");
	struct vm_port bad;
	ok(vm_port_parse("80", &bad, &pe) == CRUMB_EINVAL, "-p 80 is refused");
	ok(vm_port_parse("a:b:c:d", &bad, &pe) == CRUMB_EINVAL, "-p with four fields is refused");
	ok(vm_port_parse("80:0", &bad, &pe) == CRUMB_EINVAL, "port 0 is refused");
	ok(vm_port_parse("80:80/sctp", &bad, &pe) == CRUMB_EINVAL && strstr(pe.msg, "tcp or udp"),
	   "an unknown protocol is refused: %s", pe.msg);
	ok(vm_port_parse("localhost:80:80", &bad, &pe) == CRUMB_EINVAL,
	   "a host name is refused (numeric only)");
	vc.net = 1;
	vc.ports = ports;
	vc.nports = 2;
	argv = vm_qemu_argv(&vc, "/usr/bin/qemu", ACCEL_TCG);
	sb_reset(&all);
	for (int i = 0; argv[i]; i++)
		sb_addf(&all, "%s ", argv[i]);
	ok(strstr(all.buf, "-netdev "
			   "user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:8080-:80,hostfwd=udp:0.0."
			   "0.0:5353-:53 ") &&
	       strstr(all.buf, "-device virtio-net-device,netdev=n0 "),
	   "argv: restricted user networking with both forwards");
	vm_argv_free(argv);
	/* passt (what vm_run uses): QEMU gets the socket, passt the ports. */
	vc.net_passt = 1;
	argv = vm_qemu_argv(&vc, "/usr/bin/qemu", ACCEL_TCG);
	sb_reset(&all);
	for (int i = 0; argv[i]; i++)
		sb_addf(&all, "%s ", argv[i]);
	ok(strstr(all.buf, "-netdev stream,id=n0,server=off,addr.type=fd,addr.str=4 ") &&
	       strstr(all.buf, "virtio-net-device,netdev=n0,host_mtu=65520 "),
	   "argv: passt's socket as a stream netdev, 64K MTU");
	ok(strstr(all.buf,
		  "-netdev user,id=n1,restrict=on,net=10.0.4.0/24,hostfwd=tcp:127.0.0.1:8080-:80,"
		  "hostfwd=udp:0.0.0.0:5353-:53 ") &&
	       strstr(all.buf, "-device virtio-net-device,netdev=n1,mac=52:54:00:c0:ff:01 ") &&
	       strstr(all.buf, "netdev=n0,host_mtu") < strstr(all.buf, "netdev=n1,mac"),
	   "argv: published ports on a second, inbound-only card (restricted slirp, its own MAC)");
	vm_argv_free(argv);
	argv = passt_argv(&vc, "/usr/bin/passt", 4);
	sb_reset(&all);
	for (int i = 0; argv[i]; i++)
		sb_addf(&all, "%s ", argv[i]);
	ok(strstr(all.buf, " -t none -u none") != NULL,
	   "passt: forwards no port (the inbound card does)");
	vm_argv_free(argv);
	/* CRUMB_NETDEV=passt (bench/net.sh): passt forwards the ports, no second card. */
	vc.net_passt_ports = 1;
	argv = vm_qemu_argv(&vc, "/usr/bin/qemu", ACCEL_TCG);
	sb_reset(&all);
	for (int i = 0; argv[i]; i++)
		sb_addf(&all, "%s ", argv[i]);
	ok(!strstr(all.buf, "hostfwd") && !strstr(all.buf, "netdev=n1"),
	   "argv: passt forwarding: no slirp card");
	vm_argv_free(argv);
	argv = passt_argv(&vc, "/usr/bin/passt", 4);
	sb_reset(&all);
	for (int i = 0; argv[i]; i++)
		sb_addf(&all, "%s ", argv[i]);
	ok(strstr(all.buf, " --no-map-gw ") != NULL,
	   "passt: --no-map-gw (the gateway is not the host's loopback)");
	ok(strstr(all.buf, " -f ") && strstr(all.buf, " -F 4 ") &&
	       strstr(all.buf, " -a 10.0.2.15 -n 24 -g 10.0.2.2 ") &&
	       strstr(all.buf, " --dns-forward 10.0.2.3 "),
	   "passt: foreground, the socket, slirp's addresses and DNS");
	ok(strstr(all.buf, " -t 127.0.0.1/8080:80 ") && strstr(all.buf, " -u 0.0.0.0/5353:53 ") &&
	       !strstr(all.buf, "none"),
	   "passt: each port bound to its host address: %s", all.buf);
	vm_argv_free(argv);
	vc.nports = 1;
	argv = passt_argv(&vc, "/usr/bin/passt", 4);
	sb_reset(&all);
	for (int i = 0; argv[i]; i++)
		sb_addf(&all, "%s ", argv[i]);
	ok(strstr(all.buf, " -u none") != NULL,
	   "passt: -u none when no UDP port (else TCP ports also forward UDP)");
	vm_argv_free(argv);
	vc.nports = 2;
	vc.net_passt = 0;
	struct hostenv env = {.passt = "/nonexistent/passt"};
	char *pp = NULL;
	ok(passt_find(&env, &pp, &pe) == CRUMB_ENOENT && strstr(pe.msg, "/nonexistent/passt"),
	   "a missing passt ($CRUMB_PASST) is CRUMB_ENOENT: %s", pe.msg);
	free(pp);
	sb_release(&all);

	/* The run config, devices and sockets of a full run. */
	struct vm_volume vols[2] = {{"/v/data.ext4", 0}, {"/v/a,b.ext4", 1}};
	struct vm_share shares[1] = {{"/host/dir", "share0", 1}};
	struct vm_config fc = {.kernel = "/k",
			       .disk = "/d,x.ext4",
			       .mem_mb = 128,
			       .init_conf = "/s/init.conf",
			       .init_conf_disk = "/s/init.disk",
			       .volumes = vols,
			       .nvolumes = 2,
			       .shares = shares,
			       .nshares = 1,
			       .ctl_sock = "/s/ctl.sock",
			       .qmp_sock = "/s/qmp.sock"};
	argv = vm_qemu_argv(&fc, "/usr/bin/qemu", ACCEL_TCG);
	sb_reset(&all);
	for (int i = 0; argv[i]; i++)
		sb_addf(&all, "%s ", argv[i]);
	ok(strstr(all.buf, "-drive file=/d,,x.ext4,format=raw,if=none,id=root,snapshot=on ") !=
	       NULL,
	   "argv: the root disk is a snapshot by default, its comma doubled");
	ok(strstr(all.buf, "-device virtio-rng-device ") != NULL,
	   "argv: always a virtio-rng device");
	ok(strstr(all.buf,
		  "-drive file=/v/data.ext4,format=raw,if=none,id=vol0 -device "
		  "virtio-blk-device,drive=vol0 -drive file=/v/a,,b.ext4,format=raw,if=none,"
		  "id=vol1,readonly=on -device virtio-blk-device,drive=vol1 ") != NULL,
	   "argv: volumes follow the root disk in order, read-only when asked");
	ok(strstr(all.buf, "drive=root") < strstr(all.buf, "drive=vol0"),
	   "argv: root before volumes");
	ok(strstr(all.buf, "-fsdev local,id=fs0,path=/host/dir,security_model=none,readonly=on "
			   "-device virtio-9p-device,fsdev=fs0,mount_tag=share0 ") != NULL,
	   "argv: a read-only 9p share");
	ok(strstr(all.buf, "-fw_cfg name=opt/crumb/init.conf,file=/s/init.conf ") != NULL,
	   "argv: the init config through fw_cfg");
	ok(strstr(all.buf, "-drive file=/s/init.disk,format=raw,if=none,id=initconf "
			   "-device virtio-blk-device,drive=initconf ") != NULL &&
	       strstr(all.buf, "drive=vol1 ") < strstr(all.buf, "drive=initconf "),
	   "argv: the config disk, writable (the marker key is wiped), after the volumes");
	ok(strstr(all.buf,
		  "-device virtio-serial-device -chardev socket,id=crumbctl,path=/s/ctl.sock,"
		  "server=on,wait=off -device virtserialport,chardev=crumbctl,name=crumb.ctl ") !=
	       NULL,
	   "argv: the control channel");
	ok(strstr(all.buf, "-chardev socket,id=crumbqmp,path=/s/qmp.sock,server=on,wait=off -mon "
			   "chardev=crumbqmp,mode=control ") != NULL,
	   "argv: QMP on a unix socket");
	ok(strstr(all.buf, "root=/dev/vda rw rootfstype=ext4 init=/sbin/crumb-init") != NULL,
	   "argv: a disk root");
	vm_argv_free(argv);
	fc.disk_writable = 1;
	argv = vm_qemu_argv(&fc, "/usr/bin/qemu", ACCEL_TCG);
	sb_reset(&all);
	for (int i = 0; argv[i]; i++)
		sb_addf(&all, "%s ", argv[i]);
	ok(strstr(all.buf, "id=root -device") && !strstr(all.buf, "snapshot"),
	   "argv: disk_writable drops the snapshot");
	vm_argv_free(argv);
	argv = vm_qemu_argv(&vc, "/usr/bin/qemu", ACCEL_TCG);
	sb_reset(&all);
	for (int i = 0; argv[i]; i++)
		sb_addf(&all, "%s ", argv[i]);
	ok(!strstr(all.buf, "-fw_cfg") && !strstr(all.buf, "virtio-serial") &&
	       !strstr(all.buf, "-mon") && !strstr(all.buf, "9p"),
	   "argv: no fw_cfg, control channel, QMP or 9p unless asked");
	vm_argv_free(argv);
	sb_release(&all);

	enum accel a;
	struct err e = {0};
	ok(accel_parse("tcg", &a, &e) == 0 && a == ACCEL_TCG, "accel_parse tcg");
	ok(accel_parse("xen", &a, &e) == CRUMB_EINVAL, "accel_parse rejects xen");
	char *q = NULL;
	ok(vm_qemu_find(NULL, "/no/such/qemu", &q, &e) == CRUMB_ENOENT,
	   "a missing QEMU path is ENOENT");
	test_env();
	return done_testing();
}

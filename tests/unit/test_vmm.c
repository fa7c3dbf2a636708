/* test_vmm.c: the console parser (markers, hiding the kernel's text, panics) and QEMU's argv. */
#include <stdlib.h>
#include <string.h>

#include "lib/vmm.h"
#include "tap.h"

static void out(void *ctx, const char *buf, size_t n)
{
	sb_add(ctx, buf, n);
}

static void record_event(void *ctx, const char *name, const struct vm_result *r)
{
	(void)r;
	sb_addf(ctx, "%s ", name);
}

static void feed_bytewise(struct console *c, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		console_feed(c, s + i, 1, 1.0 + (double)i);
}

int main(void)
{
	static const char stream[] = "[    0.1] Linux version 6.1\n"
				     "\x02" "crumb:init 0.700000\x03"
				     "\x02" "crumb:exec 0.710000\x03"
				     "hello\n"
				     "a \x02 lone STX\n"
				     "\x02" "crumb:exit 0.720000 3\x03"
				     "reboot: Restarting system\n";
	for (int bytewise = 0; bytewise < 2; bytewise++) {
		struct vm_result r;
		struct sbuf sb = SBUF_INIT;
		struct console c;
		memset(&r, 0, sizeof(r));
		r.status = -1;
		console_init(&c, &r, 0, out, &sb);
		if (bytewise)
			feed_bytewise(&c, stream, sizeof(stream) - 1);
		else
			console_feed(&c, stream, sizeof(stream) - 1, 5.0);
		is_str(sb.buf, "hello\na \x02 lone STX\n", "only the service's output is shown (%s)",
		       bytewise ? "byte by byte" : "one chunk");
		ok(r.status == 3, "exit status parsed");
		ok(r.g_init > 0.69 && r.g_init < 0.71 && r.g_exec > 0.70 && r.g_exit > 0.71,
		   "guest times parsed");
		ok(r.t_init > 0 && r.t_exec >= r.t_init && r.t_exit >= r.t_exec, "host times recorded");
		console_release(&c);
		sb_release(&sb);
	}

	struct vm_result r;
	struct sbuf sb = SBUF_INIT;
	struct console c;
	memset(&r, 0, sizeof(r));
	console_init(&c, &r, 1, out, &sb);
	const char v[] = "kernel says hi\n\x02" "crumb:init 1.0\x03" "x";
	console_feed(&c, v, sizeof(v) - 1, 1.0);
	is_str(sb.buf, "kernel says hi\nx", "verbose shows the kernel's text, still strips markers");
	console_release(&c);
	sb_reset(&sb);

	memset(&r, 0, sizeof(r));
	console_init(&c, &r, 0, out, &sb);
	const char p[] = "[ 0.5] Kernel panic - not syncing: No working init found.\r\n";
	console_feed(&c, p, sizeof(p) - 1, 1.0);
	is_str(r.panic, "Kernel panic - not syncing: No working init found.", "a hidden panic is caught");
	is_str(sb.buf, "", "... and not shown");
	const char err[] = "\x02" "crumb:error 0.9 cannot read /etc/crumb/init.conf\x03";
	console_feed(&c, err, sizeof(err) - 1, 1.0);
	is_str(r.init_error, "cannot read /etc/crumb/init.conf", "an error marker is parsed");
	console_release(&c);

	/* A marker that never ends is given back as text, bounded. */
	memset(&r, 0, sizeof(r));
	sb_reset(&sb);
	console_init(&c, &r, 0, out, &sb);
	console_feed(&c, "\x02" "crumb:init 1.0\x03", 16, 1.0);
	char big[2000];
	memset(big, 'A', sizeof(big));
	big[0] = 0x02;
	console_feed(&c, big, sizeof(big), 1.0);
	ok(sb.len == sizeof(big), "an unterminated marker is passed through as text (%zu bytes)", sb.len);
	console_release(&c);
	sb_release(&sb);

	struct vm_config vc = {.kernel = "/k", .initrd = "/i", .mem_mb = 96, .cmdline = "foo=1"};
	char **argv = vm_argv(&vc, "/usr/bin/qemu", ACCEL_TCG);
	struct sbuf all = SBUF_INIT;
	for (int i = 0; argv[i]; i++)
		sb_addf(&all, "%s ", argv[i]);
	ok(strstr(all.buf, "-M microvm,accel=tcg,acpi=off ") != NULL, "argv: microvm, tcg, acpi=off");
	ok(strstr(all.buf, "-m 96 ") && strstr(all.buf, "-no-reboot ") && strstr(all.buf, "-initrd /i "),
	   "argv: memory, -no-reboot, initrd");
	ok(strstr(all.buf, "reboot=t panic=-1 no_timer_check rdinit=/sbin/crumb-init quiet foo=1") != NULL,
	   "argv: command line ends with the extra arguments");
	ok(strstr(all.buf, "-cpu host") == NULL, "argv: no -cpu host under tcg");
	vm_argv_free(argv);
	argv = vm_argv(&vc, "/usr/bin/qemu", ACCEL_KVM);
	sb_reset(&all);
	for (int i = 0; argv[i]; i++)
		sb_addf(&all, "%s ", argv[i]);
	ok(strstr(all.buf, "accel=kvm") && strstr(all.buf, "-cpu host"), "argv: kvm uses -cpu host");
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
	ok(vm_port_parse("localhost:80:80", &bad, &pe) == CRUMB_EINVAL, "a host name is refused (numeric only)");
	vc.net = 1;
	vc.ports = ports;
	vc.nports = 2;
	argv = vm_argv(&vc, "/usr/bin/qemu", ACCEL_TCG);
	sb_reset(&all);
	for (int i = 0; argv[i]; i++)
		sb_addf(&all, "%s ", argv[i]);
	ok(strstr(all.buf, "-netdev user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:8080-:80,hostfwd=udp:0.0.0.0:5353-:53 ") &&
		   strstr(all.buf, "-device virtio-net-device,netdev=n0 "),
	   "argv: restricted user networking with both forwards");
	vm_argv_free(argv);
	/* passt (what vm_run uses): QEMU gets the socket, passt the ports. */
	vc.net_passt = 1;
	argv = vm_argv(&vc, "/usr/bin/qemu", ACCEL_TCG);
	sb_reset(&all);
	for (int i = 0; argv[i]; i++)
		sb_addf(&all, "%s ", argv[i]);
	ok(strstr(all.buf, "-netdev stream,id=n0,server=off,addr.type=fd,addr.str=4 ") &&
		   !strstr(all.buf, "hostfwd") && strstr(all.buf, "virtio-net-device,netdev=n0,host_mtu=65520 "),
	   "argv: passt's socket as a stream netdev, no slirp forwards, 64K MTU");
	vm_argv_free(argv);
	argv = vm_passt_argv(&vc, "/usr/bin/passt", 4);
	sb_reset(&all);
	for (int i = 0; argv[i]; i++)
		sb_addf(&all, "%s ", argv[i]);
	ok(strstr(all.buf, " --no-map-gw ") != NULL, "passt: --no-map-gw (the gateway is not the host's loopback)");
	ok(strstr(all.buf, " -f ") && strstr(all.buf, " -F 4 ") && strstr(all.buf, " -a 10.0.2.15 -n 24 -g 10.0.2.2 ") &&
		   strstr(all.buf, " --dns-forward 10.0.2.3 "),
	   "passt: foreground, the socket, slirp's addresses and DNS");
	ok(strstr(all.buf, " -t 127.0.0.1/8080:80 ") && strstr(all.buf, " -u 0.0.0.0/5353:53 ") &&
		   !strstr(all.buf, "none"),
	   "passt: each port bound to its host address: %s", all.buf);
	vm_argv_free(argv);
	vc.nports = 1;
	argv = vm_passt_argv(&vc, "/usr/bin/passt", 4);
	sb_reset(&all);
	for (int i = 0; argv[i]; i++)
		sb_addf(&all, "%s ", argv[i]);
	ok(strstr(all.buf, " -u none") != NULL, "passt: -u none when no UDP port (else TCP ports also forward UDP)");
	vm_argv_free(argv);
	vc.nports = 2;
	vc.net_passt = 0;
	setenv("CRUMB_PASST", "/nonexistent/passt", 1);
	char *pp = NULL;
	ok(vm_find_passt(&pp, &pe) == CRUMB_ENOENT && strstr(pe.msg, "/nonexistent/passt"),
	   "a missing passt is CRUMB_ENOENT: %s", pe.msg);
	unsetenv("CRUMB_PASST");
	free(pp);
	sb_release(&all);

	/* The run config, devices and sockets of a full run. */
	struct vm_volume vols[2] = {{"/v/data.ext4", 0}, {"/v/a,b.ext4", 1}};
	struct vm_share shares[1] = {{"/host/dir", "share0", 1}};
	struct vm_config fc = {.kernel = "/k", .disk = "/d,x.ext4", .mem_mb = 128,
			       .init_conf = "/s/init.conf", .init_conf_disk = "/s/init.disk",
			       .volumes = vols, .nvolumes = 2,
			       .shares = shares, .nshares = 1, .ctl_sock = "/s/ctl.sock",
			       .qmp_sock = "/s/qmp.sock"};
	argv = vm_argv(&fc, "/usr/bin/qemu", ACCEL_TCG);
	sb_reset(&all);
	for (int i = 0; argv[i]; i++)
		sb_addf(&all, "%s ", argv[i]);
	ok(strstr(all.buf, "-drive file=/d,,x.ext4,format=raw,if=none,id=root,snapshot=on ") != NULL,
	   "argv: the root disk is a snapshot by default, its comma doubled");
	ok(strstr(all.buf, "-device virtio-rng-device ") != NULL, "argv: always a virtio-rng device");
	ok(strstr(all.buf, "-drive file=/v/data.ext4,format=raw,if=none,id=vol0 -device "
			   "virtio-blk-device,drive=vol0 -drive file=/v/a,,b.ext4,format=raw,if=none,"
			   "id=vol1,readonly=on -device virtio-blk-device,drive=vol1 ") != NULL,
	   "argv: volumes follow the root disk in order, read-only when asked");
	ok(strstr(all.buf, "drive=root") < strstr(all.buf, "drive=vol0"), "argv: root before volumes");
	ok(strstr(all.buf, "-fsdev local,id=fs0,path=/host/dir,security_model=none,readonly=on "
			   "-device virtio-9p-device,fsdev=fs0,mount_tag=share0 ") != NULL,
	   "argv: a read-only 9p share");
	ok(strstr(all.buf, "-fw_cfg name=opt/crumb/init.conf,file=/s/init.conf ") != NULL,
	   "argv: the init config through fw_cfg");
	ok(strstr(all.buf, "-drive file=/s/init.disk,format=raw,if=none,id=initconf,readonly=on "
			   "-device virtio-blk-device,drive=initconf ") != NULL &&
		   strstr(all.buf, "drive=vol1 ") < strstr(all.buf, "drive=initconf "),
	   "argv: the config disk, read-only, after the volumes");
	ok(strstr(all.buf, "-device virtio-serial-device -chardev socket,id=crumbctl,path=/s/ctl.sock,"
			   "server=on,wait=off -device virtserialport,chardev=crumbctl,name=crumb.ctl ") != NULL,
	   "argv: the control channel");
	ok(strstr(all.buf, "-chardev socket,id=crumbqmp,path=/s/qmp.sock,server=on,wait=off -mon "
			   "chardev=crumbqmp,mode=control ") != NULL,
	   "argv: QMP on a unix socket");
	ok(strstr(all.buf, "root=/dev/vda rw rootfstype=ext4 init=/sbin/crumb-init") != NULL,
	   "argv: a disk root");
	vm_argv_free(argv);
	fc.disk_writable = 1;
	argv = vm_argv(&fc, "/usr/bin/qemu", ACCEL_TCG);
	sb_reset(&all);
	for (int i = 0; argv[i]; i++)
		sb_addf(&all, "%s ", argv[i]);
	ok(strstr(all.buf, "id=root -device") && !strstr(all.buf, "snapshot"),
	   "argv: disk_writable drops the snapshot");
	vm_argv_free(argv);
	argv = vm_argv(&vc, "/usr/bin/qemu", ACCEL_TCG);
	sb_reset(&all);
	for (int i = 0; argv[i]; i++)
		sb_addf(&all, "%s ", argv[i]);
	ok(!strstr(all.buf, "-fw_cfg") && !strstr(all.buf, "virtio-serial") &&
		   !strstr(all.buf, "-mon") && !strstr(all.buf, "9p"),
	   "argv: no fw_cfg, control channel, QMP or 9p unless asked");
	vm_argv_free(argv);
	sb_release(&all);

	/* The newer markers and the event callback. */
	{
		struct vm_result rr;
		struct console cc;
		struct sbuf seen = SBUF_INIT, o2 = SBUF_INIT;
		memset(&rr, 0, sizeof(rr));
		console_init(&cc, &rr, 0, out, &o2);
		cc.event = record_event;
		cc.event_ctx = &seen;
		const char m[] = "\x02" "crumb:init 0.5\x03\x02" "crumb:exec 0.6\x03\x02" "crumb:step 0.61 1 RUN "
				 "make\x03\x02" "crumb:ready 0.7 22\x03up\n\x02" "crumb:restart 0.8 1\x03"
				 "\x02" "crumb:stopping 0.9\x03\x02" "crumb:exit 1.0 143\x03";
		console_feed(&cc, m, sizeof(m) - 1, 2.0);
		is_str(o2.buf, "up\n", "markers stripped from the output");
		ok(rr.g_ready > 0.69 && rr.t_ready == 2.0, "ready marker recorded");
		ok(rr.g_stopping > 0.89 && rr.restarts == 1 && rr.g_restart > 0.79,
		   "stopping and restart markers recorded");
		ok(rr.steps == 1 && !strcmp(rr.step, "1 RUN make"), "step marker recorded: %s", rr.step);
		ok(rr.status == 143, "exit status after a stop");
		is_str(seen.buf, "init exec step ready restart stopping exit ", "events in order");
		console_release(&cc);
		sb_release(&seen);
		sb_release(&o2);
	}

	enum accel a;
	struct err e = {0};
	ok(accel_parse("tcg", &a, &e) == 0 && a == ACCEL_TCG, "accel_parse tcg");
	ok(accel_parse("xen", &a, &e) == CRUMB_EINVAL, "accel_parse rejects xen");
	char *q = NULL;
	ok(vm_find_qemu("/no/such/qemu", &q, &e) == CRUMB_ENOENT, "a missing QEMU path is ENOENT");
	return done_testing();
}

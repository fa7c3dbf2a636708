/* test_vmm.c: the console parser (markers, hiding the kernel's text, panics) and QEMU's argv. */
#include <stdlib.h>
#include <string.h>

#include "lib/vmm.h"
#include "tap.h"

static void out(void *ctx, const char *buf, size_t n)
{
	sb_add(ctx, buf, n);
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
	ok(strstr(all.buf, "reboot=t panic=-1 rdinit=/sbin/crumb-init quiet foo=1") != NULL,
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
	ok(strstr(all.buf, "-netdev user,id=n0,hostfwd=tcp:127.0.0.1:8080-:80,hostfwd=udp:0.0.0.0:5353-:53 ") &&
		   strstr(all.buf, "-device virtio-net-device,netdev=n0 "),
	   "argv: user networking with both forwards");
	vm_argv_free(argv);
	sb_release(&all);

	enum accel a;
	struct err e = {0};
	ok(accel_parse("tcg", &a, &e) == 0 && a == ACCEL_TCG, "accel_parse tcg");
	ok(accel_parse("xen", &a, &e) == CRUMB_EINVAL, "accel_parse rejects xen");
	char *q = NULL;
	ok(vm_find_qemu("/no/such/qemu", &q, &e) == CRUMB_ENOENT, "a missing QEMU path is ENOENT");
	return done_testing();
}

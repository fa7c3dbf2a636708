/* test_supervise.c: the supervisor with /bin/sh as the VMM: output, stderr, exit statuses,
 * deadlines, the probe's verdict, handed fds, cloud-hypervisor's reboot, a failing passt. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/passt.h"
#include "lib/supervise.h"
#include "tap.h"

static struct sbuf shown = SBUF_INIT;
static int spawns;

static void collect(void *ctx, const char *buf, size_t len)
{
	(void)ctx;
	sb_add(&shown, buf, len);
}

static void event(void *ctx, const char *name, const struct vm_result *res)
{
	(void)ctx;
	if (!strcmp(name, "spawn") && res->qemu_pid > 0)
		spawns++;
}

/* Runs "sh -c script" as the VMM; verbose, so the console's text (all of it
 * "the kernel's": no init marker comes) is shown. */
static int run_sh(struct vm_config *c, struct supervise_plan *p, const char *script,
		  struct vm_result *res)
{
	char *argv[] = {"/bin/sh", "-c", (char *)script, NULL};
	struct err e = {0};
	p->argv = argv;
	sb_reset(&shown);
	c->verbose = 1;
	c->event = event;
	return supervise_run(c, p, collect, NULL, res, &e);
}

#define PLAN                                                                                       \
	{                                                                                          \
		.accel = ACCEL_TCG, .extra_fd = -1, .events_fd = -1                                \
	}

int main(void)
{
	ok(supervise_deadline(0, 100, 0, 0) == 0, "deadline: none without probe or timeout");
	ok(supervise_deadline(1, 100, 0, 0) == 100 + ACCEL_PROBE_SECONDS, "deadline: the probe's");
	ok(supervise_deadline(1, 100, 101, 0) == 0, "deadline: none once crumb-init spoke");
	ok(supervise_deadline(1, 100, 0, 3) == 103, "deadline: an earlier timeout wins");
	ok(supervise_deadline(1, 100, 0, 60) == 100 + ACCEL_PROBE_SECONDS,
	   "deadline: an earlier probe deadline wins");
	ok(supervise_deadline(0, 100, 5, 60) == 160, "deadline: the timeout");

	struct vm_config c = {0};
	struct vm_result res;
	struct supervise_plan p = PLAN;
	int r = run_sh(&c, &p, "printf 'hello\\n'; echo first >&2; echo oops >&2; exit 3", &res);
	ok(r == 0 && res.qemu_status == 3 && res.status == -1 && res.g_init == -1,
	   "exit 3 is the VMM's status; no exit marker: status -1");
	ok(strstr(shown.buf ? shown.buf : "", "hello") != NULL, "the console is shown (verbose)");
	is_str(res.qemu_error, "oops", "the VMM's last stderr line");
	ok(res.qemu_pid > 0 && spawns == 1, "spawn event once, with the pid");
	ok(res.t_spawn > 0 && res.t_first_byte >= res.t_spawn && res.t_end >= res.t_first_byte,
	   "host times in order");
	ok(res.accel == ACCEL_TCG && !res.timed_out, "accel recorded, not timed out");

	/* Every console byte copied to console_fd. */
	char tmpl[] = "/tmp/crumb-sv-XXXXXX";
	int log = mkstemp(tmpl);
	c.console_fd = log;
	p = (struct supervise_plan)PLAN;
	run_sh(&c, &p, "printf 'a\\002b'", &res);
	char got[64] = "";
	ssize_t n = pread(log, got, sizeof(got) - 1, 0);
	ok(n == 3 && !memcmp(got, "a\002b", 3), "console_fd gets every byte");
	c.console_fd = 0;
	close(log);
	unlink(tmpl);

	/* A missing program: exec's failure on stderr, 127. */
	char *bad[] = {"/nonexistent/qemu", NULL};
	struct err e = {0};
	p = (struct supervise_plan)PLAN;
	p.argv = bad;
	r = supervise_run(&c, &p, collect, NULL, &res, &e);
	ok(r == 0 && res.qemu_status == 127 && strstr(res.qemu_error, "exec /nonexistent/qemu"),
	   "a missing VMM: 127 and why: %s", res.qemu_error);

	/* --timeout: killed, 128+9. */
	c.timeout = 0.3;
	p = (struct supervise_plan)PLAN;
	double t0 = now_monotonic();
	r = run_sh(&c, &p, "exec sleep 5", &res);
	ok(r == 0 && res.timed_out && res.qemu_status == 137 && now_monotonic() - t0 < 3,
	   "killed at the timeout: status %d", res.qemu_status);
	c.timeout = 0;

	/* A probe boot: a failure before crumb-init spoke is 1; a clean exit is 0. */
	p = (struct supervise_plan)PLAN;
	p.probe = 1;
	ok(run_sh(&c, &p, "exit 1", &res) == 1, "a probe boot that failed: 1");
	p = (struct supervise_plan)PLAN;
	p.probe = 1;
	ok(run_sh(&c, &p, "exit 0", &res) == 0, "a probe boot that exited cleanly: 0");

	/* The extra fd is the child's fd 3; stdin is /dev/null without a pipe. */
	int pf[2];
	ok(pipe(pf) == 0 && write(pf[1], "via-fd3", 7) == 7, "a pipe with a config");
	close(pf[1]);
	p = (struct supervise_plan)PLAN;
	p.extra_fd = pf[0];
	run_sh(&c, &p, "cat <&3; cat; echo .", &res);
	ok(strstr(shown.buf ? shown.buf : "", "via-fd3.") != NULL && p.extra_fd == -1,
	   "extra_fd read on fd 3 (and closed here); stdin empty: %s", shown.buf);

	/* cloud-hypervisor's reboot event ends the VM as a clean exit. */
	int ev[2];
	const char *reboot = "{\"source\":\"vm\",\"event\":\"rebooting\"}";
	ok(pipe(ev) == 0 && write(ev[1], reboot, strlen(reboot)) == (ssize_t)strlen(reboot),
	   "an event stream");
	p = (struct supervise_plan)PLAN;
	p.events_fd = ev[0];
	p.stdin_pipe = 1;
	t0 = now_monotonic();
	run_sh(&c, &p, "exec sleep 5", &res);
	ok(res.qemu_status == 0 && now_monotonic() - t0 < 3, "rebooting: killed, status 0");
	close(ev[1]);

	/* passt: its socket is the child's fd 4; its failure ends the VM. */
	char dir[] = "/tmp/crumb-sv-XXXXXX";
	ok(mkdtemp(dir) != NULL, "a temporary directory");
	char *ok_passt = xasprintf("%s/passt-ok", dir), *bad_passt = xasprintf("%s/passt-bad", dir);
	sh("printf '#!/bin/sh\\nexec sleep 5\\n' >%s && chmod +x %s", ok_passt, ok_passt);
	sh("printf '#!/bin/sh\\necho Changing to nobody >&2\\necho bad thing >&2\\n"
	   "echo no syslog >&2\\nexit 1\\n' >%s && chmod +x %s",
	   bad_passt, bad_passt);
	struct hostenv env = {.passt = ok_passt};
	struct vm_config pc = {.env = &env, .net = 1, .net_passt = 1};
	struct passt ps = PASST_INIT;
	ok(passt_spawn(&pc, &ps, &e) == 0 && ps.pid > 0 && ps.sock >= 0, "a passt started");
	p = (struct supervise_plan)PLAN;
	p.passt = &ps;
	run_sh(&c, &p, "test -S /dev/fd/4 && echo net-ok", &res);
	ok(strstr(shown.buf ? shown.buf : "", "net-ok") && ps.sock == -1 && !ps.failed,
	   "the VMM has passt's socket on fd 4");
	passt_stop(&ps);
	ok(ps.pid == -1 && ps.errfd == -1, "passt stopped");
	env.passt = bad_passt;
	ps = (struct passt)PASST_INIT;
	ok(passt_spawn(&pc, &ps, &e) == 0, "a failing passt started");
	p = (struct supervise_plan)PLAN;
	p.passt = &ps;
	t0 = now_monotonic();
	run_sh(&c, &p, "exec sleep 5", &res);
	ok(ps.failed && now_monotonic() - t0 < 3 && res.qemu_status == 137,
	   "passt's failure ends the VM: failed %d, status %d, %.1fs", ps.failed, res.qemu_status,
	   now_monotonic() - t0);
	is_str(ps.msg, "bad thing", "its reason (not its root-without-syslog chatter)");
	passt_stop(&ps);
	env.passt = "/nonexistent/passt";
	ps = (struct passt)PASST_INIT;
	ok(passt_spawn(&pc, &ps, &e) == CRUMB_ENOENT && ps.pid == -1 && ps.sock == -1,
	   "no passt: CRUMB_ENOENT, nothing started: %s", e.msg);

	sh("rm -rf %s", dir);
	free(ok_passt);
	free(bad_passt);
	sb_release(&shown);
	return done_testing();
}

/* test_vmstate.c: VM names, state and exit files, liveness; runcfg's Docker rules, -v, signals. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/runcfg.h"
#include "lib/vmstate.h"
#include "tap.h"

static char *joined(const struct strlist *l)
{
	struct sbuf sb = SBUF_INIT;
	for (size_t i = 0; i < l->n; i++)
		sb_addf(&sb, "%s%s", i ? "|" : "", l->v[i]);
	return sb_detach(&sb);
}

/* Pushes the space-separated words of s (NULL: none) onto l. */
static void words(struct strlist *l, const char *s)
{
	if (!s)
		return;
	char *d = xstrdup(s);
	for (char *save, *t = strtok_r(d, " ", &save); t; t = strtok_r(NULL, " ", &save))
		strlist_push(l, t);
	free(d);
}

static void check_argv(const char *ep, const char *cmd, const char *args, const char *flag_ep,
		       const char *want, const char *what)
{
	struct oci_config c;
	struct strlist a = STRLIST_INIT, out = STRLIST_INIT;
	oci_config_init(&c);
	char *s;
	words(&c.entrypoint, ep);
	words(&c.cmd, cmd);
	words(&a, args);
	struct run_flags fl = {.args = &a, .entrypoint = flag_ep};
	struct err e = {0};
	int r = runcfg_argv(&c, &fl, &out, &e);
	s = r == 0 ? joined(&out) : xstrdup("ERROR");
	is_str(s, want, "argv: %s", what);
	free(s);
	strlist_release(&a);
	strlist_release(&out);
	oci_config_release(&c);
}

int main(void)
{
	struct err e = {0};

	/* Names */
	ok(vmstate_name_check("web-1", &e) == 0, "name web-1 is valid");
	ok(vmstate_name_check("a.b_c-D9", &e) == 0, "name a.b_c-D9 is valid");
	ok(vmstate_name_check("-x", &e) == CRUMB_EINVAL,
	   "a name must start with a letter or digit");
	ok(vmstate_name_check("", &e) == CRUMB_EINVAL, "an empty name is refused");
	ok(vmstate_name_check("a/b", &e) == CRUMB_EINVAL, "a slash is refused");
	ok(vmstate_name_check("..", &e) == CRUMB_EINVAL, "'..' is refused");
	char longname[80];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[79] = 0;
	ok(vmstate_name_check(longname, &e) == CRUMB_EINVAL && strstr(e.msg, "64"),
	   "a 79-byte name is refused: %s", e.msg);

	/* State file round trip */
	struct vmstate s = {.qemu_pid = 1234,
			    .supervisor_pid = 1233,
			    .created = 1700000000,
			    .started = 1700000001,
			    .detached = 1};
	strcpy(s.name, "web");
	strcpy(s.image, "sshd:latest");
	strcpy(s.command, "/bin/sh -c 'echo a\nb'");
	strcpy(s.ports, "127.0.0.1:2222->22/tcp");
	struct sbuf sb = SBUF_INIT;
	vmstate_render(&s, &sb);
	ok(strstr(sb.buf, "command /bin/sh -c 'echo a b'\n") != NULL,
	   "a newline in a value becomes a space (one line per key)");
	struct vmstate s2;
	ok(vmstate_parse(sb.buf, sb.len, &s2) == 0, "the state file parses back");
	ok(!strcmp(s2.name, "web") && !strcmp(s2.image, "sshd:latest") && s2.qemu_pid == 1234 &&
	       s2.supervisor_pid == 1233 && s2.created == 1700000000 && s2.started == 1700000001 &&
	       s2.detached == 1 && s2.autoremove == 0 && !strcmp(s2.ports, s.ports),
	   "every field survives");
	const char odd[] = "name x\nfuture_key 12\nqemu_pid 7\nnovalue\n";
	ok(vmstate_parse(odd, sizeof(odd) - 1, &s2) == 0 && s2.qemu_pid == 7,
	   "unknown keys and malformed lines are skipped");
	ok(vmstate_parse("qemu_pid 7\n", 11, &s2) < 0, "a state without a name is refused");
	sb_release(&sb);

	struct vmexit x;
	const char ex[] = "status 143\nqemu_status 0\nended 1700000100\nreason \n";
	ok(vmexit_parse(ex, sizeof(ex) - 1, &x) == 0 && x.present && x.status == 143 &&
	       x.qemu_status == 0 && x.ended == 1700000100,
	   "exit file parsed");
	ok(vmexit_parse("", 0, &x) < 0 && !x.present && x.status == -1,
	   "an empty exit file is no exit");

	/* A state directory: create, lock, probe, name in use. */
	char tmpl[] = "/tmp/crumb-vmstate-XXXXXX";
	char *root = mkdtemp(tmpl);
	char gen[VMSTATE_NAME_MAX + 1], *dir = NULL;
	int lock = -1;
	ok(root && vmstate_create(root, "t1", gen, &dir, &lock, &e) == 0 && lock >= 0, "create t1");
	char *dir2 = NULL;
	int lock2 = -1;
	ok(vmstate_create(root, "t1", gen, &dir2, &lock2, &e) == CRUMB_EBUSY &&
	       strstr(e.msg, "already in use"),
	   "a second t1 is refused: %s", e.msg);
	ok(vmstate_owner_alive(dir) == 1, "the creator holds the lock");
	strcpy(s.name, "t1");
	s.qemu_pid = (int)getpid(); /* alive, but not a QEMU naming this directory */
	ok(vmstate_save(dir, &s, &e) == 0, "state saved");
	ok(vmstate_qemu_alive(s.qemu_pid, dir) == 0, "a live pid that is not our QEMU is not ours");
	close(lock);
	s.qemu_pid = 0;
	is_str(vm_run_state_name(vmstate_probe(dir, &s, &x)), "dead",
	       "no lock holder, no QEMU, no exit file: dead");
	struct vmexit wx = {.present = 1, .status = 3, .qemu_status = 0, .ended = 5};
	strcpy(wx.reason, "");
	ok(vmexit_save(dir, &wx, &e) == 0, "exit saved");
	is_str(vm_run_state_name(vmstate_probe(dir, &s, &x)), "exited",
	       "with an exit file: exited");
	ok(x.status == 3, "... status 3");
	ok(vmstate_create(root, NULL, gen, &dir2, &lock2, &e) == 0 && strchr(gen, '_') &&
	       vmstate_name_check(gen, NULL) == 0,
	   "a made-up name: %s", gen);
	struct strlist names = STRLIST_INIT;
	ok(vmstate_list(root, &names, &e) == 0 && names.n == 2, "two VM directories listed");
	strlist_release(&names);
	close(lock2);
	remove_tree(root, NULL);
	free(dir);
	free(dir2);

	char d[16];
	vmstate_duration(45, d, sizeof(d));
	is_str(d, "45s", "duration 45s");
	vmstate_duration(3 * 3600, d, sizeof(d));
	is_str(d, "3h", "duration 3h");

	/* Docker's Entrypoint/Cmd rules */
	check_argv("/bin/sh -c", "echo hi", NULL, NULL, "/bin/sh|-c|echo|hi", "Entrypoint + Cmd");
	check_argv("/bin/sh -c", "echo hi", "date", NULL, "/bin/sh|-c|date", "ARGS replace Cmd");
	check_argv(NULL, "/bin/true", NULL, NULL, "/bin/true", "Cmd alone");
	check_argv(NULL, "/bin/true", "/bin/false x", NULL, "/bin/false|x",
		   "ARGS replace a lone Cmd");
	check_argv("/bin/sh -c", "echo hi", NULL, "/bin/env", "/bin/env",
		   "--entrypoint replaces Entrypoint and drops Cmd");
	check_argv("/bin/sh -c", "echo hi", "a b", "/bin/env", "/bin/env|a|b",
		   "--entrypoint with ARGS");
	check_argv("/bin/sh -c", "echo hi", "/bin/ls", "", "/bin/ls", "--entrypoint '' clears it");
	check_argv(NULL, NULL, NULL, NULL, "ERROR", "nothing to run is an error");

	/* Env merge, defaults */
	struct oci_config ic;
	struct initcfg cfg;
	oci_config_init(&ic);
	initcfg_init(&cfg);
	strlist_push(&ic.cmd, "/app");
	strlist_push(&ic.env, "A=1");
	strlist_push(&ic.env, "B=2");
	ic.workdir = xstrdup("/srv");
	struct strlist fe = STRLIST_INIT;
	strlist_push(&fe, "B=flag");
	strlist_push(&fe, "C=3");
	struct run_flags fl = {.env = &fe, .hostname = "h1"};
	ok(runcfg_image(&ic, &fl, &cfg, &e) == 0, "runcfg_image");
	char *envs = joined(&cfg.env);
	is_str(envs, "A=1|B=flag|PATH=" RUNCFG_DEFAULT_PATH "|HOSTNAME=h1|HOME=/root|C=3",
	       "env: the image's, defaults, -e replacing in place");
	free(envs);
	is_str(cfg.workdir, "/srv", "the image's WorkingDir");
	is_str(cfg.hostname, "h1", "--hostname");
	initcfg_release(&cfg);
	initcfg_init(&cfg);
	fl = (struct run_flags){.user = "app", .workdir = "rel"};
	ok(runcfg_image(&ic, &fl, &cfg, &e) == CRUMB_EINVAL, "a relative -w is refused");
	initcfg_release(&cfg);
	initcfg_init(&cfg);
	fl = (struct run_flags){.user = "app"};
	ok(runcfg_image(&ic, &fl, &cfg, &e) == 0 && !strlist_has(&cfg.env, "HOME=/root"),
	   "with a user, HOME is left to the guest's passwd");
	initcfg_release(&cfg);
	strlist_release(&fe);
	oci_config_release(&ic);

	/* Labels and ports */
	struct vm_port ports[4];
	size_t np = 0;
	ok(runcfg_publish("2222:22, 8080:80/udp", ports, 4, &np, &e) == 0 && np == 2 &&
	       ports[0].host_port == 2222 && ports[1].udp,
	   "crumb.publish with two ports");
	ok(runcfg_publish("1:1,2:2,3:3", ports, 4, &np, &e) == CRUMB_EINVAL,
	   "too many ports refused");
	struct strlist exp = STRLIST_INIT;
	strlist_push(&exp, "80/tcp");
	strlist_push(&exp, "53/udp");
	strlist_push(&exp, "8080");
	strlist_push(&exp, "80/tcp");
	unsigned rp[8];
	size_t nr = runcfg_ready_ports(&exp, rp, 8);
	ok(nr == 2 && rp[0] == 80 && rp[1] == 8080, "ExposedPorts: tcp only, deduplicated");
	strlist_release(&exp);
	unsigned mb;
	ok(runcfg_parse_mem("1G", &mb) == 0 && mb == 1024, "1G");
	ok(runcfg_parse_mem("256m", &mb) == 0 && mb == 256, "256m");
	ok(runcfg_parse_mem("-5", &mb) < 0 && runcfg_parse_mem("12x", &mb) < 0, "bad sizes");
	ok(runcfg_signal("SIGTERM") == SIGTERM && runcfg_signal("int") == SIGINT &&
	       runcfg_signal("9") == 9 && runcfg_signal("BOGUS") < 0 && runcfg_signal("65") < 0,
	   "signal names and numbers");

	/* -v */
	struct run_volume v;
	ok(runcfg_volume_parse("data:/data", &v, &e) == 0 && v.kind == RUN_VOL_NAMED &&
	       !strcmp(v.source, "data") && !strcmp(v.target, "/data") && !v.readonly,
	   "-v data:/data is a named volume");
	run_volume_release(&v);
	ok(runcfg_volume_parse("/tmp:/mnt:ro", &v, &e) == 0 && v.kind == RUN_VOL_HOSTDIR &&
	       v.readonly,
	   "-v /tmp:/mnt:ro is a read-only host directory");
	run_volume_release(&v);
	ok(runcfg_volume_parse("/etc/hostname:/x", &v, &e) == 0 && v.kind == RUN_VOL_IMAGE,
	   "-v FILE:/x is an image");
	run_volume_release(&v);
	ok(runcfg_volume_parse("data:rel", &v, &e) == CRUMB_EINVAL, "a relative target: %s", e.msg);
	ok(runcfg_volume_parse("data:/", &v, &e) == CRUMB_EINVAL, "target / refused");
	ok(runcfg_volume_parse("data", &v, &e) == CRUMB_EINVAL, "no target refused");
	ok(runcfg_volume_parse("data:/x:rx", &v, &e) == CRUMB_EINVAL, "option rx refused");
	ok(runcfg_volume_parse("/no/such:/x", &v, &e) == CRUMB_ENOENT, "a missing host path: %s",
	   e.msg);
	ok(runcfg_volume_parse("b@d:/x", &v, &e) == CRUMB_EINVAL, "a bad volume name");
	ok(runcfg_volume_parse("a:/x/../y", &v, &e) == CRUMB_EINVAL, "'..' in the target refused");
	return done_testing();
}

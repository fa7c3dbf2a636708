/* ps.c: `crumb ps`, `stop`, `kill`, `logs`, `rm` and `volume`: the VMs that run or ran, by name. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../lib/runcfg.h"
#include "../lib/store.h"
#include "../lib/console.h"
#include "../lib/vmm.h"
#include "../lib/vmstate.h"
#include "cmd.h"

const char usage_ps[] =
    "usage: crumb ps [-a] [-q]\n"
    "\n"
    "Lists the VMs that run (-a: also those that ended and were not removed): name,\n"
    "what runs, state, uptime, published ports and the exit status. A VM is\n"
    "running while its QEMU process lives; 'exited' when its end was recorded;\n"
    "'dead' when QEMU and the crumb process that owned it are gone without a\n"
    "record (killed together, host crash).\n";

const char usage_stop[] =
    "usage: crumb stop [-t SECS] NAME...\n"
    "\n"
    "Asks each VM's crumb-init to stop its service (the image's stop signal, then\n"
    "SIGKILL after its stop timeout; volumes are synced), waits up to SECS seconds\n"
    "(default 10) plus a few for the VM to power off, then makes QEMU quit (QMP),\n"
    "then kills it. Prints each name once it has stopped. A VM that is not running\n"
    "is left as it is.\n";

const char usage_kill[] =
    "usage: crumb kill [-s SIGNAL] NAME...\n"
    "\n"
    "Kills each VM's QEMU at once (SIGNAL KILL, the default), or with TERM or INT\n"
    "asks the guest to stop the service as 'crumb stop' does, without waiting.\n";

const char usage_logs[] =
    "usage: crumb logs [-f] NAME\n"
    "\n"
    "Prints what the VM's service wrote to the console (crumb-init's markers and\n"
    "the kernel's boot messages left out).\n";

const char usage_rm[] =
    "usage: crumb rm [-f] NAME...\n"
    "\n"
    "Removes the state (logs, exit status) of VMs that have ended. A running VM is\n"
    "refused unless -f (--force), which kills it first. Volumes are kept.\n";

const char usage_volume[] =
    "usage: crumb volume ls\n"
    "       crumb volume rm NAME...\n"
    "\n"
    "Named volumes ('crumb run -v NAME:/PATH') are ext4 images in\n"
    "$CRUMB_HOME/volumes/NAME.ext4, 1 GiB sparse; 'crumb fs' reads and edits them.\n"
    "ls prints name, bytes used on the host, and the path; rm deletes them.\n";

/* ROOT/NAME for a VM that exists; prints "no VM named" otherwise. */
static int vm_dir(const char *name, char **dir, struct vmstate *st)
{
	struct err e = {0};
	char *root;
	if (vmstate_name_check(name, &e) < 0) {
		cmd_error("%s", e.msg);
		return -1;
	}
	if (vmstate_root(cmd_env(), &root, &e) < 0) {
		cmd_error_err(&e);
		return -1;
	}
	*dir = xasprintf("%s/%s", root, name);
	free(root);
	if (vmstate_load(*dir, st, &e) < 0) {
		cmd_error_err(&e);
		free(*dir);
		*dir = NULL;
		return -1;
	}
	return 0;
}

/* Waits until QEMU is gone and its end recorded (or its owner gone); 1 if so. */
static int wait_ended(const char *dir, const struct vmstate *st, double seconds)
{
	double end = now_monotonic() + seconds;
	struct vmexit x;
	do {
		if (!vmstate_qemu_alive(st->qemu_pid, dir)) {
			vmexit_load(dir, &x);
			if (x.present || !vmstate_owner_alive(dir))
				return 1;
		}
		usleep(20000);
	} while (now_monotonic() < end);
	return 0;
}

int cmd_ps(int argc, char **argv)
{
	int all = 0, quiet = 0, st;
	struct strlist args = STRLIST_INIT;
	const struct opt tab[] = {
	    OPT_FLAG_('a', "all", &all, "every VM, not only the running ones"),
	    OPT_FLAG_('q', "quiet", &quiet, "names only"),
	    OPT_END_,
	};
	struct cmd_opts p = {.verb = "ps", .tab = tab, .unknown = "unexpected", .no_args = 1};
	if (cmd_parse(&p, argc, argv, &args, &st))
		return st;
	struct err e = {0};
	char *root;
	struct strlist names = STRLIST_INIT;
	if (vmstate_root(cmd_env(), &root, &e) < 0 || vmstate_list(root, &names, &e) < 0) {
		cmd_error_err(&e);
		return EXIT_FAIL;
	}
	struct strlist rows = STRLIST_INIT; /* NAME, IMAGE, STATE, UPTIME, PORTS, EXIT */
	const char *head[6] = {"NAME", "IMAGE", "STATE", "UPTIME", "PORTS", "EXIT"};
	for (int k = 0; k < 6; k++)
		strlist_push(&rows, head[k]);
	int64_t now = (int64_t)time(NULL);
	for (size_t i = 0; i < names.n; i++) {
		char *dir = xasprintf("%s/%s", root, names.v[i]);
		struct vmstate st;
		struct vmexit x;
		if (vmstate_load(dir, &st, NULL) < 0) {
			free(dir);
			continue;
		}
		enum vm_run_state s = vmstate_probe(dir, &st, &x);
		free(dir);
		if (!all && s != VM_RUNNING && s != VM_CREATED)
			continue;
		if (quiet) {
			printf("%s\n", st.name);
			continue;
		}
		char up[32] = "-", ex[64] = "-";
		if (s == VM_RUNNING)
			vmstate_duration(now - (st.started ? st.started : st.created), up,
					 sizeof(up));
		if (s == VM_EXITED) {
			if (x.status >= 0)
				snprintf(ex, sizeof(ex), "%d", x.status);
			else
				snprintf(ex, sizeof(ex), "qemu:%d", x.qemu_status);
		}
		strlist_push(&rows, st.name);
		strlist_push(&rows, st.image[0] ? st.image : "-");
		strlist_push(&rows, vm_run_state_name(s));
		strlist_push(&rows, up);
		strlist_push(&rows, st.ports[0] ? st.ports : "-");
		strlist_push(&rows, ex);
	}
	if (!quiet) {
		size_t w[6] = {0};
		for (size_t i = 0; i < rows.n; i++) {
			size_t l = strlen(rows.v[i]);
			if (l > w[i % 6])
				w[i % 6] = l;
		}
		for (size_t i = 0; i < rows.n; i += 6)
			printf("%-*s  %-*s  %-*s  %-*s  %-*s  %s\n", (int)w[0], rows.v[i],
			       (int)w[1], rows.v[i + 1], (int)w[2], rows.v[i + 2], (int)w[3],
			       rows.v[i + 3], (int)w[4], rows.v[i + 4], rows.v[i + 5]);
	}
	strlist_release(&rows);
	strlist_release(&names);
	free(root);
	return 0;
}

/* Runs one() on each VM named in names (they exist: vm_dir), with its state now. Returns 0,
 * EXIT_FAIL when one failed, or a usage error when names is empty. */
static int each_vm(const char *verb, const struct strlist *names,
		   int (*one)(const char *name, const char *dir, struct vmstate *st,
			      enum vm_run_state s, void *ctx),
		   void *ctx)
{
	int r = 0;
	if (!names->n)
		return cmd_usage_error(verb, "name a VM");
	for (size_t i = 0; i < names->n; i++) {
		char *dir;
		struct vmstate st;
		struct vmexit x;
		if (vm_dir(names->v[i], &dir, &st) < 0) {
			r = EXIT_FAIL;
			continue;
		}
		if (one(names->v[i], dir, &st, vmstate_probe(dir, &st, &x), ctx))
			r = EXIT_FAIL;
		free(dir);
	}
	return r;
}

/* Ends one VM: the guest is asked (graceful), then QMP quit, then SIGKILL. */
static int stop_one(const char *name, const char *dir, struct vmstate *st, enum vm_run_state s,
		    void *ctx)
{
	double secs = *(double *)ctx;
	struct err e = {0};
	int r = 0;
	if (s == VM_RUNNING) {
		char *ctl = xasprintf("%s/ctl.sock", dir), *qmp = xasprintf("%s/qmp.sock", dir);
		int ended = 0;
		/* A few seconds beyond the guest's own deadline: its shutdown and sync. */
		if (vmstate_send(ctl, "stop\n", &e) == 0)
			ended = wait_ended(dir, st, secs + 5);
		if (!ended && vmstate_qmp_quit(qmp, &e) == 0)
			ended = wait_ended(dir, st, 3);
		if (!ended && vmstate_qemu_alive(st->qemu_pid, dir)) {
			kill(st->qemu_pid, SIGKILL);
			ended = wait_ended(dir, st, 5);
		}
		if (!ended) {
			cmd_error("%s: the VM did not stop", name);
			r = EXIT_FAIL;
		}
		free(ctl);
		free(qmp);
	}
	if (!r)
		printf("%s\n", name);
	return r;
}

static int take_secs(const struct opt *o, const char *v, void *ctx, struct err *e)
{
	char *end;
	double *secs = ctx;
	(void)o;
	*secs = strtod(v, &end);
	if (*end || end == v || *secs < 0 || *secs > 86400)
		return err_set(e, CRUMB_EINVAL, "-t %s: want seconds", v);
	return 0;
}

int cmd_stop(int argc, char **argv)
{
	double secs = 10;
	struct strlist names = STRLIST_INIT;
	const struct opt tab[] = {
	    OPT_CALL_('t', "time", take_secs, "SECS",
		      "seconds to wait for the service (default 10)"),
	    OPT_END_,
	};
	struct cmd_opts p = {.verb = "stop", .tab = tab, .flags = OPT_STOP_AT_ARG, .ctx = &secs};
	int r;
	if (cmd_parse(&p, argc, argv, &names, &r))
		return r;
	r = each_vm("stop", &names, stop_one, &secs);
	strlist_release(&names);
	return r;
}

static int take_signal(const struct opt *o, const char *v, void *ctx, struct err *e)
{
	int *sig = ctx;
	(void)o;
	*sig = runcfg_signal(v);
	if (*sig != SIGKILL && *sig != SIGTERM && *sig != SIGINT)
		return err_set(e, CRUMB_EINVAL, "-s %s: want KILL, TERM or INT", v);
	return 0;
}

static int kill_one(const char *name, const char *dir, struct vmstate *st, enum vm_run_state s,
		    void *ctx)
{
	int sig = *(int *)ctx, r = 0;
	struct err e = {0};
	if (s != VM_RUNNING) {
		cmd_error("%s is not running", name);
		return EXIT_FAIL;
	}
	if (sig == SIGKILL) {
		kill(st->qemu_pid, SIGKILL);
		wait_ended(dir, st, 5);
		printf("%s\n", name);
		return 0;
	}
	char *ctl = xasprintf("%s/ctl.sock", dir);
	if (vmstate_send(ctl, "stop\n", &e) < 0) {
		cmd_error("%s: %s", name, e.msg);
		r = EXIT_FAIL;
	} else {
		printf("%s\n", name);
	}
	free(ctl);
	return r;
}

int cmd_kill(int argc, char **argv)
{
	int sig = SIGKILL, r;
	struct strlist names = STRLIST_INIT;
	const struct opt tab[] = {
	    OPT_CALL_('s', "signal", take_signal, "SIGNAL", "KILL (the default), TERM or INT"),
	    OPT_END_,
	};
	struct cmd_opts p = {.verb = "kill", .tab = tab, .flags = OPT_STOP_AT_ARG, .ctx = &sig};
	if (cmd_parse(&p, argc, argv, &names, &r))
		return r;
	r = each_vm("kill", &names, kill_one, &sig);
	strlist_release(&names);
	return r;
}

static void to_stdout(void *ctx, const char *buf, size_t n)
{
	(void)ctx;
	fwrite(buf, 1, n, stdout);
}

int cmd_logs(int argc, char **argv)
{
	int follow = 0, r;
	struct strlist args = STRLIST_INIT;
	const struct opt tab[] = {
	    OPT_FLAG_('f', "follow", &follow, "keep printing until the VM ends"),
	    OPT_END_,
	};
	struct cmd_opts p = {.verb = "logs", .tab = tab};
	if (cmd_parse(&p, argc, argv, &args, &r))
		return r;
	if (args.n != 1) {
		r = cmd_usage_error("logs", args.n ? "one VM at a time" : "name a VM");
		strlist_release(&args);
		return r;
	}
	char *name = xstrdup(args.v[0]);
	strlist_release(&args);
	char *dir;
	struct vmstate st;
	int vr = vm_dir(name, &dir, &st);
	free(name);
	if (vr < 0)
		return EXIT_FAIL;
	char *log = xasprintf("%s/console.log", dir);
	int fd = open(log, O_RDONLY | O_CLOEXEC);
	r = 0;
	if (fd < 0 && errno != ENOENT) {
		cmd_error("%s: %s", log, strerror(errno));
		r = EXIT_FAIL;
	}
	struct vm_result res;
	struct console con;
	memset(&res, 0, sizeof(res));
	res.status = -1;
	console_init(&con, &res, 0, to_stdout, NULL);
	/* The run's key tells its markers (stripped) from a program's (shown). */
	char *kp = xasprintf("%s/" VMSTATE_KEY_FILE, dir);
	struct sbuf ks = SBUF_INIT;
	unsigned char key[CONSOLE_KEY_LEN];
	if (read_file(kp, 256, &ks, NULL) == 0 && console_key_parse(ks.buf, key, NULL) == 0)
		console_set_key(&con, key);
	sb_release(&ks);
	free(kp);
	char buf[16384];
	for (;;) {
		ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf)) : 0;
		if (n < 0 && errno == EINTR)
			continue;
		if (n > 0) {
			console_feed(&con, buf, (size_t)n, 0);
			fflush(stdout);
			continue;
		}
		if (!follow)
			break;
		struct vmexit x;
		enum vm_run_state s = vmstate_probe(dir, &st, &x);
		if (s != VM_RUNNING && s != VM_CREATED) {
			/* One more read: what QEMU wrote just before it ended. */
			while (fd >= 0 && (n = read(fd, buf, sizeof(buf))) > 0)
				console_feed(&con, buf, (size_t)n, 0);
			break;
		}
		usleep(100000);
		if (fd < 0)
			fd = open(log, O_RDONLY | O_CLOEXEC);
		vmstate_load(dir, &st, NULL); /* qemu_pid appears once it is spawned */
	}
	fflush(stdout);
	console_release(&con);
	if (fd >= 0)
		close(fd);
	free(log);
	free(dir);
	return r;
}

static int rm_one(const char *name, const char *dir, struct vmstate *st, enum vm_run_state s,
		  void *ctx)
{
	struct err e = {0};
	if ((s == VM_RUNNING || s == VM_CREATED) && !*(int *)ctx) {
		cmd_error("%s is running: stop it first, or rm -f", name);
		return EXIT_FAIL;
	}
	if (s == VM_RUNNING) {
		kill(st->qemu_pid, SIGKILL);
		wait_ended(dir, st, 5);
	}
	if (remove_tree(dir, &e) < 0) {
		cmd_error_err(&e);
		return EXIT_FAIL;
	}
	printf("%s\n", name);
	return 0;
}

int cmd_rm(int argc, char **argv)
{
	int force = 0, r;
	struct strlist names = STRLIST_INIT;
	const struct opt tab[] = {
	    OPT_FLAG_('f', "force", &force, "kill a running VM first"),
	    OPT_END_,
	};
	struct cmd_opts p = {.verb = "rm", .tab = tab, .flags = OPT_STOP_AT_ARG};
	if (cmd_parse(&p, argc, argv, &names, &r))
		return r;
	r = each_vm("rm", &names, rm_one, &force);
	strlist_release(&names);
	return r;
}

static void volume_ls(const char *dir)
{
	DIR *d = opendir(dir);
	struct strlist names = STRLIST_INIT;
	struct dirent *de;
	while (d && (de = readdir(d))) {
		size_t l = strlen(de->d_name);
		if (de->d_name[0] != '.' && l > 5 && !strcmp(de->d_name + l - 5, ".ext4"))
			strlist_push_owned(&names, xstrndup(de->d_name, l - 5));
	}
	if (d)
		closedir(d);
	for (size_t i = 0; i < names.n; i++) {
		for (size_t k = i + 1; k < names.n; k++)
			if (strcmp(names.v[k], names.v[i]) < 0) {
				char *t = names.v[i];
				names.v[i] = names.v[k];
				names.v[k] = t;
			}
		char *p = xasprintf("%s/%s.ext4", dir, names.v[i]);
		struct stat st;
		if (stat(p, &st) == 0)
			printf("%s\t%lld\t%s\n", names.v[i], (long long)st.st_blocks * 512, p);
		free(p);
	}
	strlist_release(&names);
}

static int volume_rm(const char *dir, char **names, size_t n)
{
	struct err e = {0};
	int r = 0;
	for (size_t i = 0; i < n; i++) {
		if (vmstate_name_check(names[i], &e) < 0) {
			cmd_error_err(&e);
			r = EXIT_FAIL;
			continue;
		}
		char *p = xasprintf("%s/%s.ext4", dir, names[i]);
		if (unlink(p) < 0) {
			cmd_error("volume %s: %s", names[i],
				  errno == ENOENT ? "no such volume" : strerror(errno));
			r = EXIT_FAIL;
		} else {
			printf("%s\n", names[i]);
		}
		free(p);
	}
	return r;
}

int cmd_volume(int argc, char **argv)
{
	static const struct opt no_opts[] = {OPT_END_};
	struct strlist args = STRLIST_INIT;
	struct cmd_opts p = {.verb = "volume", .tab = no_opts, .flags = OPT_STOP_AT_ARG};
	struct err e = {0};
	char *store = NULL, *dir = NULL;
	int r;
	if (cmd_parse(&p, argc, argv, &args, &r))
		return r;
	if (!args.n) {
		r = cmd_usage_error("volume", "ls or rm?");
		goto out;
	}
	if (store_root(cmd_env(), &store, &e) < 0) {
		cmd_error_err(&e);
		r = EXIT_FAIL;
		goto out;
	}
	dir = xasprintf("%s/volumes", store);
	r = 0;
	if (!strcmp(args.v[0], "ls") && args.n == 1)
		volume_ls(dir);
	else if (!strcmp(args.v[0], "rm") && args.n > 1)
		r = volume_rm(dir, args.v + 1, args.n - 1);
	else
		r = cmd_usage_error("volume", "want 'ls' or 'rm NAME...'");
out:
	free(dir);
	free(store);
	strlist_release(&args);
	return r;
}

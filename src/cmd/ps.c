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
    "record (killed together, host crash).\n"
    "\n"
    "  -a, --all     every VM, not only the running ones\n"
    "  -q, --quiet   names only\n";

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
    "the kernel's boot messages left out). -f, --follow: keep printing until the\n"
    "VM ends.\n";

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
	int all = 0, quiet = 0;
	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];
		if (!strcmp(s, "-h") || !strcmp(s, "--help"))
			return cmd_print_usage("ps");
		if (!strcmp(s, "-a") || !strcmp(s, "--all"))
			all = 1;
		else if (!strcmp(s, "-q") || !strcmp(s, "--quiet"))
			quiet = 1;
		else if (!strcmp(s, "-aq") || !strcmp(s, "-qa"))
			all = quiet = 1;
		else
			return cmd_usage_error("ps", "unexpected '%s'", s);
	}
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

/* Ends one VM: the guest is asked (graceful), then QMP quit, then SIGKILL. */
static int stop_one(const char *name, double secs)
{
	char *dir;
	struct vmstate st;
	struct vmexit x;
	struct err e = {0};
	if (vm_dir(name, &dir, &st) < 0)
		return EXIT_FAIL;
	int r = 0;
	if (vmstate_probe(dir, &st, &x) == VM_RUNNING) {
		char *ctl = xasprintf("%s/ctl.sock", dir), *qmp = xasprintf("%s/qmp.sock", dir);
		int ended = 0;
		/* A few seconds beyond the guest's own deadline: its shutdown and sync. */
		if (vmstate_send(ctl, "stop\n", &e) == 0)
			ended = wait_ended(dir, &st, secs + 5);
		if (!ended && vmstate_qmp_quit(qmp, &e) == 0)
			ended = wait_ended(dir, &st, 3);
		if (!ended && vmstate_qemu_alive(st.qemu_pid, dir)) {
			kill(st.qemu_pid, SIGKILL);
			ended = wait_ended(dir, &st, 5);
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
	free(dir);
	return r;
}

int cmd_stop(int argc, char **argv)
{
	double secs = 10;
	int i, r = 0, n = 0;
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		int bad = 0;
		const char *v;
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return cmd_print_usage("stop");
		if ((v = opt_value("-t", argc, argv, &i, &bad)) ||
		    (!bad && (v = opt_value("--time", argc, argv, &i, &bad)))) {
			char *end;
			secs = strtod(v, &end);
			if (*end || end == v || secs < 0 || secs > 86400)
				return cmd_usage_error("stop", "-t %s: want seconds", v);
		} else if (bad) {
			return cmd_usage_error("stop", "%s needs a value", argv[i]);
		} else {
			return cmd_usage_error("stop", "unknown option '%s'", argv[i]);
		}
	}
	for (; i < argc; i++, n++)
		if (stop_one(argv[i], secs))
			r = EXIT_FAIL;
	if (!n)
		return cmd_usage_error("stop", "name a VM");
	return r;
}

int cmd_kill(int argc, char **argv)
{
	int sig = SIGKILL, i, r = 0, n = 0;
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		int bad = 0;
		const char *v;
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return cmd_print_usage("kill");
		if ((v = opt_value("-s", argc, argv, &i, &bad)) ||
		    (!bad && (v = opt_value("--signal", argc, argv, &i, &bad)))) {
			sig = runcfg_signal(v);
			if (sig != SIGKILL && sig != SIGTERM && sig != SIGINT)
				return cmd_usage_error("kill", "-s %s: want KILL, TERM or INT", v);
		} else if (bad) {
			return cmd_usage_error("kill", "%s needs a value", argv[i]);
		} else {
			return cmd_usage_error("kill", "unknown option '%s'", argv[i]);
		}
	}
	for (; i < argc; i++, n++) {
		char *dir;
		struct vmstate st;
		struct vmexit x;
		struct err e = {0};
		if (vm_dir(argv[i], &dir, &st) < 0) {
			r = EXIT_FAIL;
			continue;
		}
		if (vmstate_probe(dir, &st, &x) != VM_RUNNING) {
			cmd_error("%s is not running", argv[i]);
			r = EXIT_FAIL;
		} else if (sig == SIGKILL) {
			kill(st.qemu_pid, SIGKILL);
			wait_ended(dir, &st, 5);
			printf("%s\n", argv[i]);
		} else {
			char *ctl = xasprintf("%s/ctl.sock", dir);
			if (vmstate_send(ctl, "stop\n", &e) < 0) {
				cmd_error("%s: %s", argv[i], e.msg);
				r = EXIT_FAIL;
			} else {
				printf("%s\n", argv[i]);
			}
			free(ctl);
		}
		free(dir);
	}
	if (!n)
		return cmd_usage_error("kill", "name a VM");
	return r;
}

static void to_stdout(void *ctx, const char *buf, size_t n)
{
	(void)ctx;
	fwrite(buf, 1, n, stdout);
}

int cmd_logs(int argc, char **argv)
{
	int follow = 0;
	const char *name = NULL;
	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];
		if (!strcmp(s, "-h") || !strcmp(s, "--help"))
			return cmd_print_usage("logs");
		if (!strcmp(s, "-f") || !strcmp(s, "--follow"))
			follow = 1;
		else if (s[0] == '-')
			return cmd_usage_error("logs", "unknown option '%s'", s);
		else if (name)
			return cmd_usage_error("logs", "one VM at a time");
		else
			name = s;
	}
	if (!name)
		return cmd_usage_error("logs", "name a VM");
	char *dir;
	struct vmstate st;
	if (vm_dir(name, &dir, &st) < 0)
		return EXIT_FAIL;
	char *log = xasprintf("%s/console.log", dir);
	int fd = open(log, O_RDONLY | O_CLOEXEC);
	int r = 0;
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

int cmd_rm(int argc, char **argv)
{
	int force = 0, i, r = 0, n = 0;
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return cmd_print_usage("rm");
		if (!strcmp(argv[i], "-f") || !strcmp(argv[i], "--force"))
			force = 1;
		else
			return cmd_usage_error("rm", "unknown option '%s'", argv[i]);
	}
	for (; i < argc; i++, n++) {
		char *dir;
		struct vmstate st;
		struct vmexit x;
		struct err e = {0};
		if (vm_dir(argv[i], &dir, &st) < 0) {
			r = EXIT_FAIL;
			continue;
		}
		enum vm_run_state s = vmstate_probe(dir, &st, &x);
		if ((s == VM_RUNNING || s == VM_CREATED) && !force) {
			cmd_error("%s is running: stop it first, or rm -f", argv[i]);
			r = EXIT_FAIL;
			free(dir);
			continue;
		}
		if (s == VM_RUNNING) {
			kill(st.qemu_pid, SIGKILL);
			wait_ended(dir, &st, 5);
		}
		if (remove_tree(dir, &e) < 0) {
			cmd_error_err(&e);
			r = EXIT_FAIL;
		} else {
			printf("%s\n", argv[i]);
		}
		free(dir);
	}
	if (!n)
		return cmd_usage_error("rm", "name a VM");
	return r;
}

int cmd_volume(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))
		return argc < 2 ? cmd_usage_error("volume", "ls or rm?")
				: cmd_print_usage("volume");
	struct err e = {0};
	char *store;
	if (store_root(cmd_env(), &store, &e) < 0) {
		cmd_error_err(&e);
		return EXIT_FAIL;
	}
	char *dir = xasprintf("%s/volumes", store);
	int r = 0;
	if (!strcmp(argv[1], "ls") && argc == 2) {
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
				printf("%s\t%lld\t%s\n", names.v[i], (long long)st.st_blocks * 512,
				       p);
			free(p);
		}
		strlist_release(&names);
	} else if (!strcmp(argv[1], "rm") && argc > 2) {
		for (int i = 2; i < argc; i++) {
			if (vmstate_name_check(argv[i], &e) < 0) {
				cmd_error_err(&e);
				r = EXIT_FAIL;
				continue;
			}
			char *p = xasprintf("%s/%s.ext4", dir, argv[i]);
			if (unlink(p) < 0) {
				cmd_error("volume %s: %s", argv[i],
					  errno == ENOENT ? "no such volume" : strerror(errno));
				r = EXIT_FAIL;
			} else {
				printf("%s\n", argv[i]);
			}
			free(p);
		}
	} else {
		r = cmd_usage_error("volume", "want 'ls' or 'rm NAME...'");
	}
	free(dir);
	free(store);
	return r;
}

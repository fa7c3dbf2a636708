/* vmstate.c: per-VM state directories: names, the state and exit files, liveness, control sockets.
 */
#include "vmstate.h"
#include "qmp.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "store.h"

const char *vm_run_state_name(enum vm_run_state s)
{
	switch (s) {
	case VM_CREATED:
		return "created";
	case VM_RUNNING:
		return "running";
	case VM_EXITED:
		return "exited";
	default:
		return "dead";
	}
}

int vmstate_name_check(const char *name, struct err *e)
{
	size_t n = strlen(name);
	int ok = n >= 1 && n <= VMSTATE_NAME_MAX && isalnum((unsigned char)name[0]);
	for (size_t i = 0; ok && i < n; i++)
		ok = isalnum((unsigned char)name[i]) || strchr("_.-", name[i]);
	if (!ok)
		return err_set(e, CRUMB_EINVAL,
			       "bad name '%.80s': want 1 to %d of [a-zA-Z0-9_.-], starting with a "
			       "letter or digit",
			       name, VMSTATE_NAME_MAX);
	return 0;
}

int vmstate_root(const struct hostenv *env, char **out, struct err *e)
{
	const char *x = env ? env->xdg_runtime_dir : NULL;
	struct stat st;
	char *p;
	if (x && *x && x[0] == '/' && stat(x, &st) == 0 && S_ISDIR(st.st_mode) &&
	    access(x, W_OK | X_OK) == 0) {
		p = xasprintf("%s/crumb/vms", x);
	} else {
		char *store;
		int r = store_root(env, &store, e);
		if (r < 0)
			return r;
		p = xasprintf("%s/run/vms", store);
		free(store);
	}
	int r = mkdir_p(p, 0700, e);
	if (r < 0) {
		free(p);
		return r;
	}
	*out = p;
	return 0;
}

static const char *adjectives[] = {
    "agile",  "bold",  "brave", "calm",	  "clever", "crisp", "eager", "fast",	"fond",
    "gentle", "happy", "jolly", "keen",	  "lively", "lucky", "merry", "nimble", "proud",
    "quiet",  "rapid", "shiny", "sleepy", "snappy", "sunny", "swift", "tidy",	"witty",
};
static const char *nouns[] = {
    "badger", "bagel",	"biscuit", "brioche", "crouton", "falcon", "ferret", "heron",
    "muffin", "otter",	"panda",   "pretzel", "raven",	 "scone",  "tapir",  "toast",
    "wafer",  "walrus", "wombat",  "crumpet", "lynx",	 "bun",	   "koala",  "newt",
};

static unsigned rnd(void)
{
	unsigned v = 0;
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || read(fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
		v = (unsigned)getpid() ^ (unsigned)time(NULL);
	if (fd >= 0)
		close(fd);
	return v;
}

int vmstate_create(const char *root, const char *name, char gen[VMSTATE_NAME_MAX + 1], char **dir,
		   int *lock_fd, struct err *e)
{
	char *d = NULL;
	int r;
	if (name) {
		if ((r = vmstate_name_check(name, e)) < 0)
			return r;
		d = xasprintf("%s/%s", root, name);
		if (mkdir(d, 0700) < 0) {
			r = errno == EEXIST ? err_set(e, CRUMB_EBUSY,
						      "the name '%s' is already in use (see 'crumb "
						      "ps -a'; 'crumb rm %s' frees it)",
						      name, name)
					    : err_errno(e, CRUMB_EIO, "create %s", d);
			free(d);
			return r;
		}
		snprintf(gen, VMSTATE_NAME_MAX + 1, "%s", name);
	} else {
		const size_t na = sizeof(adjectives) / sizeof(adjectives[0]);
		const size_t nn = sizeof(nouns) / sizeof(nouns[0]);
		for (int tries = 0;; tries++) {
			unsigned v = rnd();
			if (tries < 20)
				snprintf(gen, VMSTATE_NAME_MAX + 1, "%s_%s", adjectives[v % na],
					 nouns[(v / na) % nn]);
			else
				snprintf(gen, VMSTATE_NAME_MAX + 1, "%s_%s_%u", adjectives[v % na],
					 nouns[(v / na) % nn], (v >> 16) % 10000);
			d = xasprintf("%s/%s", root, gen);
			if (mkdir(d, 0700) == 0)
				break;
			r = errno;
			free(d);
			if (r != EEXIST || tries > 200)
				return err_set(e, CRUMB_EIO, "create a VM directory in %s: %s",
					       root, strerror(r));
		}
	}
	char *lock = xasprintf("%s/lock", d);
	int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0) {
		r = err_errno(e, CRUMB_EIO, "lock %s", lock);
		if (fd >= 0)
			close(fd);
		free(lock);
		remove_tree(d, NULL);
		free(d);
		return r;
	}
	free(lock);
	*dir = d;
	*lock_fd = fd;
	return 0;
}

static void copy_field(char *dst, size_t len, const char *v)
{
	snprintf(dst, len, "%s", v);
}

int vmstate_parse(const char *buf, size_t len, struct vmstate *s)
{
	memset(s, 0, sizeof(*s));
	char *copy = xstrndup(buf, len);
	for (char *save, *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *v = strchr(l, ' ');
		if (!v)
			continue;
		*v++ = 0;
		if (!strcmp(l, "name"))
			copy_field(s->name, sizeof(s->name), v);
		else if (!strcmp(l, "image"))
			copy_field(s->image, sizeof(s->image), v);
		else if (!strcmp(l, "command"))
			copy_field(s->command, sizeof(s->command), v);
		else if (!strcmp(l, "ports"))
			copy_field(s->ports, sizeof(s->ports), v);
		else if (!strcmp(l, "created"))
			s->created = strtoll(v, NULL, 10);
		else if (!strcmp(l, "started"))
			s->started = strtoll(v, NULL, 10);
		else if (!strcmp(l, "qemu_pid"))
			s->qemu_pid = atoi(v);
		else if (!strcmp(l, "supervisor_pid"))
			s->supervisor_pid = atoi(v);
		else if (!strcmp(l, "detached"))
			s->detached = atoi(v);
		else if (!strcmp(l, "autoremove"))
			s->autoremove = atoi(v);
	}
	free(copy);
	return s->name[0] ? 0 : -1;
}

/* Values are single lines: newlines in a command become spaces. */
static void put(struct sbuf *sb, const char *key, const char *v)
{
	sb_adds(sb, key);
	sb_addc(sb, ' ');
	for (; *v; v++)
		sb_addc(sb, *v == '\n' || *v == '\r' ? ' ' : *v);
	sb_addc(sb, '\n');
}

void vmstate_render(const struct vmstate *s, struct sbuf *out)
{
	put(out, "name", s->name);
	put(out, "image", s->image);
	put(out, "command", s->command);
	put(out, "ports", s->ports);
	sb_addf(out, "created %lld\nstarted %lld\nqemu_pid %d\nsupervisor_pid %d\n",
		(long long)s->created, (long long)s->started, s->qemu_pid, s->supervisor_pid);
	sb_addf(out, "detached %d\nautoremove %d\n", s->detached, s->autoremove);
}

int vmstate_save(const char *dir, const struct vmstate *s, struct err *e)
{
	struct sbuf sb = SBUF_INIT;
	vmstate_render(s, &sb);
	char *p = xasprintf("%s/state", dir);
	int r = write_file_atomic(p, sb.buf, sb.len, 0600, e);
	free(p);
	sb_release(&sb);
	return r;
}

int vmstate_load(const char *dir, struct vmstate *s, struct err *e)
{
	struct sbuf sb = SBUF_INIT;
	char *p = xasprintf("%s/state", dir);
	int r = read_file(p, 1 << 16, &sb, NULL);
	if (r == 0 && vmstate_parse(sb.buf, sb.len, s) < 0)
		r = CRUMB_EFORMAT;
	if (r < 0) {
		/* A directory without a state file is a run still being set up. */
		memset(s, 0, sizeof(*s));
		const char *slash = strrchr(dir, '/');
		snprintf(s->name, sizeof(s->name), "%s", slash ? slash + 1 : dir);
		struct stat st;
		if (stat(dir, &st) < 0)
			r = err_set(e, CRUMB_ENOENT, "no VM named '%s'", s->name);
		else
			r = 0;
	}
	free(p);
	sb_release(&sb);
	return r;
}

int vmexit_parse(const char *buf, size_t len, struct vmexit *x)
{
	memset(x, 0, sizeof(*x));
	x->status = -1;
	char *copy = xstrndup(buf, len);
	int seen = 0;
	for (char *save, *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *v = strchr(l, ' ');
		if (!v)
			continue;
		*v++ = 0;
		if (!strcmp(l, "status"))
			x->status = atoi(v), seen = 1;
		else if (!strcmp(l, "qemu_status"))
			x->qemu_status = atoi(v), seen = 1;
		else if (!strcmp(l, "ended"))
			x->ended = strtoll(v, NULL, 10);
		else if (!strcmp(l, "reason"))
			snprintf(x->reason, sizeof(x->reason), "%s", v);
	}
	free(copy);
	x->present = seen;
	return seen ? 0 : -1;
}

int vmexit_save(const char *dir, const struct vmexit *x, struct err *e)
{
	struct sbuf sb = SBUF_INIT;
	sb_addf(&sb, "status %d\nqemu_status %d\nended %lld\n", x->status, x->qemu_status,
		(long long)x->ended);
	put(&sb, "reason", x->reason);
	char *p = xasprintf("%s/exit", dir);
	int r = write_file_atomic(p, sb.buf, sb.len, 0600, e);
	free(p);
	sb_release(&sb);
	return r;
}

void vmexit_load(const char *dir, struct vmexit *x)
{
	struct sbuf sb = SBUF_INIT;
	char *p = xasprintf("%s/exit", dir);
	memset(x, 0, sizeof(*x));
	x->status = -1;
	if (read_file(p, 1 << 16, &sb, NULL) == 0)
		vmexit_parse(sb.buf, sb.len, x);
	free(p);
	sb_release(&sb);
}

int vmstate_qemu_alive(int pid, const char *dir)
{
	if (pid <= 0 || kill(pid, 0) < 0)
		return 0;
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	struct sbuf sb = SBUF_INIT;
	int ours = 0;
	if (read_file(path, 1 << 20, &sb, NULL) == 0 && sb.len) {
		/* NUL-separated arguments: the first must be a QEMU, one must name
		 * this directory's control socket. */
		char *want = xasprintf("path=%s/ctl.sock", dir);
		ours = strstr(sb.buf, "qemu") != NULL;
		int named = 0;
		for (size_t i = 0; ours && i < sb.len; i += strlen(sb.buf + i) + 1)
			named |= strstr(sb.buf + i, want) != NULL;
		ours = ours && named;
		free(want);
	}
	sb_release(&sb);
	return ours;
}

int vmstate_owner_alive(const char *dir)
{
	char *p = xasprintf("%s/lock", dir);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	free(p);
	if (fd < 0)
		return 0;
	int held = flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
	close(fd);
	return held;
}

enum vm_run_state vmstate_probe(const char *dir, const struct vmstate *s, struct vmexit *x)
{
	vmexit_load(dir, x);
	if (vmstate_qemu_alive(s->qemu_pid, dir))
		return VM_RUNNING;
	int owner = vmstate_owner_alive(dir);
	if (x->present)
		return VM_EXITED;
	/* The owner may be between QEMU's exit and writing the exit file: look again. */
	if (owner && s->qemu_pid) {
		for (int i = 0; i < 20 && vmstate_owner_alive(dir); i++)
			usleep(10000);
		vmexit_load(dir, x);
		if (x->present)
			return VM_EXITED;
		return vmstate_owner_alive(dir) ? VM_RUNNING : VM_DEAD;
	}
	return owner ? VM_CREATED : VM_DEAD;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int vmstate_list(const char *root, struct strlist *names, struct err *e)
{
	DIR *d = opendir(root);
	if (!d)
		return errno == ENOENT ? 0 : err_errno(e, CRUMB_EIO, "%s", root);
	struct dirent *de;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && vmstate_name_check(de->d_name, NULL) == 0)
			strlist_push(names, de->d_name);
	closedir(d);
	if (names->n)
		qsort(names->v, names->n, sizeof(char *), cmp_str);
	return 0;
}

static int connect_unix(const char *path, struct err *e)
{
	struct sockaddr_un sun;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		return err_set(e, CRUMB_EINVAL, "socket path too long: %s", path);
	strcpy(sun.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_errno(e, CRUMB_EIO, "socket");
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int r = err_errno(e, CRUMB_EIO, "connect %s", path);
		close(fd);
		return r;
	}
	return fd;
}

static int send_all(int fd, const char *s, struct err *e)
{
	size_t n = strlen(s);
	while (n) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return err_errno(e, CRUMB_EIO, "send");
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

int vmstate_send(const char *path, const char *line, struct err *e)
{
	int fd = connect_unix(path, e);
	if (fd < 0)
		return fd;
	int r = send_all(fd, line, e);
	close(fd);
	return r;
}

int vmstate_qmp_quit(const char *path, struct err *e)
{
	struct qmp q = QMP_INIT;
	struct err ig;
	/* QEMU may close the connection before it answers quit: no answer is fine */
	int r = qmp_connect(&q, path, 0, e);
	if (r == 0)
		qmp_execute(&q, "quit", NULL, 2, NULL, &ig);
	qmp_close(&q);
	return r < 0 ? err_set(e, CRUMB_EIO, "QMP at %s did not answer", path) : 0;
}

void vmstate_duration(int64_t s, char *buf, size_t len)
{
	if (s < 0)
		s = 0;
	if (s < 120)
		snprintf(buf, len, "%llds", (long long)s);
	else if (s < 7200)
		snprintf(buf, len, "%lldm", (long long)(s / 60));
	else if (s < 172800)
		snprintf(buf, len, "%lldh", (long long)(s / 3600));
	else
		snprintf(buf, len, "%lldd", (long long)(s / 86400));
}

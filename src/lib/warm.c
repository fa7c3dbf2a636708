/* warm.c: warm start: the shape key, the snapshot store, taking and restoring a snapshot. */
#include "warm.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "oci.h"
#include "qmp.h"
#include "vmm_qemu.h"

/* How long each step may take (seconds): QMP answers, the stream, the load. */
#define WARM_QMP_TIMEOUT 5.0
#define WARM_STREAM_TIMEOUT 60.0
#define WARM_CHUNK (256 * 1024)

/* ---- the shape ---- */

/* Appends s with every ",hostfwd=..." option dropped and work replaced by "@WORK". */
static void add_normalized(struct sbuf *sb, const char *s, const char *work)
{
	size_t wl = work ? strlen(work) : 0;
	while (*s) {
		if (wl && !strncmp(s, work, wl)) {
			sb_adds(sb, "@WORK");
			s += wl;
		} else if (!strncmp(s, ",hostfwd=", 9)) {
			s += 9;
			s += strcspn(s, ",");
		} else {
			sb_addc(sb, *s++);
		}
	}
}

char *warm_shape_text(char *const *argv, const char *work)
{
	struct sbuf sb = SBUF_INIT;
	for (size_t i = 0; argv[i]; i++) {
		add_normalized(&sb, argv[i], work);
		sb_addc(&sb, '\n');
	}
	return sb_detach(&sb);
}

/* "file PATH SIZE MTIME INODE\n" for a file the VM is made of. */
static int add_identity(struct sbuf *sb, const char *path, struct err *e)
{
	struct stat st;
	if (!path)
		return 0;
	if (stat(path, &st) < 0)
		return err_errno(e, CRUMB_ENOENT, "%s", path);
	sb_addf(sb, "file %s %lld %lld.%09ld %llu\n", path, (long long)st.st_size,
		(long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec, (unsigned long long)st.st_ino);
	return 0;
}

int warm_shape(const struct vm_config *c, const char *qemu, enum accel a, const char *work,
	       char out[65], struct err *e)
{
	struct vm_config cc = *c;
	cc.verbose = 0;
	cc.klog = NULL;
	vm_qemu_net(&cc);
	char **argv = vm_qemu_argv(&cc, qemu, a);
	struct sbuf sb = SBUF_INIT;
	char *text = warm_shape_text(argv, work);
	vm_argv_free(argv);
	sb_adds(&sb, "crumb-warm 1\n");
	sb_adds(&sb, text);
	free(text);
	const char *files[] = {qemu, c->kernel, c->initrd, c->disk};
	int r = 0;
	for (size_t i = 0; i < 4 && r == 0; i++)
		r = add_identity(&sb, files[i], e);
	if (r == 0)
		sha256_hex(sb.buf, sb.len, out);
	sb_release(&sb);
	return r;
}

/* ---- the store ---- */

static int is_hex64(const char *s)
{
	size_t n = strspn(s, "0123456789abcdef");
	return n == 64 && !s[64];
}

static char *warm_path(const char *store, const char *sub)
{
	return xasprintf("%s/" WARM_DIR "/%s", store, sub);
}

void warm_entry_release(struct warm_entry *w)
{
	free(w->path);
	w->path = NULL;
}

/* The index file's name for image (a digest) and shape; NULL when malformed. */
static char *entry_path(const char *store, const char *image, const char *shape)
{
	if (strncmp(image, "sha256:", 7) || !is_hex64(image + 7) || !is_hex64(shape))
		return NULL;
	return xasprintf("%s/" WARM_DIR "/index/%s.%s", store, image + 7, shape);
}

int warm_lookup(const char *store, const char *image, const char *shape, struct warm_entry *out,
		struct err *e)
{
	memset(out, 0, sizeof(*out));
	char *p = entry_path(store, image, shape);
	if (!p)
		return err_set(e, CRUMB_EINVAL, "snapshot lookup: bad digest");
	char buf[200], hex[65];
	unsigned long long size;
	int n = -1, fd = open(p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ssize_t got = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	if (fd >= 0)
		close(fd);
	if (fd < 0) {
		int r = errno == ENOENT ? err_set(e, CRUMB_ENOENT, "no snapshot")
					: err_errno(e, CRUMB_EIO, "%s", p);
		free(p);
		return r;
	}
	if (got > 0) {
		buf[got] = 0;
		if (sscanf(buf, "sha256:%64[0-9a-f] %llu\n%n", hex, &size, &n) != 2 || n != got ||
		    !is_hex64(hex))
			n = -1;
	}
	if (n < 0) {
		err_set(e, CRUMB_EFORMAT, "snapshot index %s: malformed", p);
		free(p);
		return CRUMB_EFORMAT;
	}
	free(p);
	snprintf(out->digest, sizeof(out->digest), "sha256:%s", hex);
	out->size = size;
	char *b = xasprintf("blobs/%s", hex);
	out->path = warm_path(store, b);
	free(b);
	return 0;
}

int warm_put(const char *store, const char *image, const char *shape, const char *tmp,
	     const char *hex, uint64_t size, struct err *e)
{
	char *p = entry_path(store, image, shape), *idx = warm_path(store, "index");
	char *blob = xasprintf("%s/" WARM_DIR "/blobs/%s", store, hex);
	int r = p && is_hex64(hex) ? mkdir_p(idx, 0700, e)
				   : err_set(e, CRUMB_EINVAL, "snapshot: bad digest");
	if (r == 0 && rename(tmp, blob) < 0)
		r = err_errno(e, CRUMB_EIO, "rename %s", tmp);
	if (r == 0) {
		char *line = xasprintf("sha256:%s %llu\n", hex, (unsigned long long)size);
		r = write_file_atomic(p, line, strlen(line), 0600, e);
		free(line);
	}
	free(p);
	free(idx);
	free(blob);
	return r;
}

/* Index entries: removes those of dead images, collects the blobs the others name. */
static void gc_index(const char *store, const struct strlist *live, struct strlist *keep)
{
	char *dir = warm_path(store, "index");
	DIR *d = opendir(dir);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		char image[80], *dot = strchr(de->d_name, '.');
		if (de->d_name[0] == '.')
			continue;
		struct warm_entry w;
		struct err ig;
		int ok = dot && dot - de->d_name == 64;
		if (ok) {
			snprintf(image, sizeof(image), "sha256:%.64s", de->d_name);
			ok = strlist_has(live, image) &&
			     warm_lookup(store, image, dot + 1, &w, &ig) == 0;
		}
		if (ok) {
			strlist_push(keep, w.digest + 7);
			warm_entry_release(&w);
		} else {
			unlinkat(dirfd(d), de->d_name, 0);
		}
	}
	if (d)
		closedir(d);
	free(dir);
}

int warm_gc(const char *store, const struct strlist *live, size_t *removed, uint64_t *bytes,
	    struct err *e)
{
	struct strlist keep = STRLIST_INIT;
	size_t n = 0;
	uint64_t b = 0;
	(void)e;
	gc_index(store, live, &keep);
	char *dir = warm_path(store, "blobs");
	DIR *d = opendir(dir);
	struct dirent *de;
	time_t now = time(NULL);
	while (d && (de = readdir(d))) {
		struct stat st;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    strlist_has(&keep, de->d_name) ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		/* a temp file may be a snapshot being taken: only old ones go */
		if (de->d_name[0] == '.' && now - st.st_mtime < 3600)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == 0 && de->d_name[0] != '.') {
			n++;
			b += (uint64_t)st.st_size;
		}
	}
	if (d)
		closedir(d);
	free(dir);
	strlist_release(&keep);
	if (removed)
		*removed = n;
	if (bytes)
		*bytes = b;
	return 0;
}

int warm_gc_store(struct oci_store *s, size_t *removed, uint64_t *bytes, struct err *e)
{
	struct oci_entry *v;
	size_t n;
	int r = oci_list(s, &v, &n, e);
	if (r < 0)
		return r;
	struct strlist live = STRLIST_INIT;
	for (size_t i = 0; i < n; i++)
		strlist_push(&live, v[i].manifest.digest);
	oci_entries_free(v, n);
	r = warm_gc(oci_root(s), &live, removed, bytes, e);
	strlist_release(&live);
	return r;
}

/* ---- taking a snapshot ---- */

static void hex_of(const unsigned char *md, char out[65])
{
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* Reads the stream from fd to EOF into out, hashed; *size bytes. */
static int take_stream(int fd, int out, const char *tmp, struct warm_taken *t, struct err *e)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	char *buf = xmalloc(WARM_CHUNK);
	double deadline = now_monotonic() + WARM_STREAM_TIMEOUT;
	int r = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL)
		    ? 0
		    : err_set(e, CRUMB_EIO, "sha256: no digest context");
	t->size = 0;
	while (r == 0) {
		struct pollfd p = {fd, POLLIN, 0};
		double left = deadline - now_monotonic();
		if (left <= 0) {
			r = err_set(e, CRUMB_EIO, "snapshot: QEMU's stream did not end in time");
			break;
		}
		if (poll(&p, 1, (int)(left * 1000) + 1) <= 0)
			continue;
		ssize_t got = read(fd, buf, WARM_CHUNK);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			r = err_errno(e, CRUMB_EIO, "snapshot: read the stream");
		if (got <= 0)
			break;
		EVP_DigestUpdate(md, buf, (size_t)got);
		if (vm_write_all(out, buf, (size_t)got) < 0)
			r = err_errno(e, CRUMB_EIO, "write %s", tmp);
		t->size += (uint64_t)got;
	}
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned len;
	if (r == 0 && EVP_DigestFinal_ex(md, d, &len))
		hex_of(d, t->hex);
	if (r == 0 && fsync(out) < 0)
		r = err_errno(e, CRUMB_EIO, "fsync %s", tmp);
	EVP_MD_CTX_free(md);
	free(buf);
	return r;
}

/* Polls query-migrate until the migration is over; 0 when it completed. */
static int migrate_done(struct qmp *q, const char *want_done, struct err *e)
{
	double deadline = now_monotonic() + WARM_STREAM_TIMEOUT;
	while (now_monotonic() < deadline) {
		json_t *ret;
		int r = qmp_execute(q, "query-migrate", NULL, WARM_QMP_TIMEOUT, &ret, e);
		if (r < 0)
			return r;
		const char *st = json_string_value(json_object_get(ret, "status"));
		char s[32];
		snprintf(s, sizeof(s), "%s", st ? st : "");
		json_decref(ret);
		if (!strcmp(s, want_done))
			return 0;
		if (!strcmp(s, "failed") || !strcmp(s, "cancelled"))
			return err_set(e, CRUMB_EIO, "snapshot: the migration %s", s);
		usleep(1000);
	}
	return err_set(e, CRUMB_EIO, "snapshot: the migration did not end in time");
}

/* stop, getfd, migrate; the stream into out. */
static int take_steps(struct qmp *q, int out, const char *tmp, struct warm_taken *t, struct err *e)
{
	int pfd[2];
	int r = qmp_execute(q, "stop", NULL, WARM_QMP_TIMEOUT, NULL, e);
	t->t_stopped = now_monotonic();
	if (r < 0)
		return r;
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return err_errno(e, CRUMB_EIO, "pipe");
	r = qmp_send_fd(q, "crumbsnap", pfd[1], WARM_QMP_TIMEOUT, e);
	close(pfd[1]);
	if (r == 0)
		r = qmp_execute(q, "migrate", json_pack("{s:s}", "uri", "fd:crumbsnap"),
				WARM_QMP_TIMEOUT, NULL, e);
	if (r == 0)
		r = take_stream(pfd[0], out, tmp, t, e);
	close(pfd[0]);
	if (r == 0)
		r = migrate_done(q, "completed", e);
	t->t_saved = now_monotonic();
	return r;
}

int warm_take(const char *qmp_path, const char *store, struct warm_taken *t, struct err *e)
{
	memset(t, 0, sizeof(*t));
	struct qmp q = QMP_INIT;
	char *dir = warm_path(store, "blobs");
	int out = -1, r = mkdir_p(dir, 0700, e);
	if (r == 0) {
		t->tmp = xasprintf("%s/.tmp-XXXXXX", dir);
		if ((out = mkostemp(t->tmp, O_CLOEXEC)) < 0)
			r = err_errno(e, CRUMB_EIO, "create %s", t->tmp);
	}
	free(dir);
	if (r == 0)
		r = qmp_connect(&q, qmp_path, WARM_QMP_TIMEOUT, e);
	if (r == 0)
		r = take_steps(&q, out, t->tmp, t, e);
	if (q.fd >= 0) {
		struct err ig;
		qmp_execute(&q, "quit", NULL, WARM_QMP_TIMEOUT, NULL, &ig);
	}
	qmp_close(&q);
	if (out >= 0)
		close(out);
	if (r < 0 && t->tmp) {
		if (out >= 0)
			unlink(t->tmp);
		free(t->tmp);
		t->tmp = NULL;
	}
	return r;
}

/* ---- restoring ---- */

void warm_request(const unsigned char *key, size_t keylen, const unsigned char *seed, long long sec,
		  long nsec, const char *conf, size_t len, struct sbuf *out)
{
	sb_adds(out, "restore ");
	for (size_t i = 0; i < keylen; i++)
		sb_addf(out, "%02x", key[i]);
	sb_addc(out, ' ');
	for (size_t i = 0; i < WARM_SEED_LEN; i++)
		sb_addf(out, "%02x", seed[i]);
	sb_addf(out, " %lld %ld %zu\n", sec, nsec, len);
	sb_add(out, conf, len);
}

/* Writes all of buf to the socket by the deadline. */
static int feed_all(int sock, const char *buf, size_t n, double deadline, struct err *e)
{
	while (n) {
		struct pollfd p = {sock, POLLOUT, 0};
		double left = deadline - now_monotonic();
		if (left <= 0)
			return err_set(e, CRUMB_EIO, "QEMU did not take the snapshot in time");
		if (poll(&p, 1, (int)(left * 1000) + 1) <= 0)
			continue;
		ssize_t w = send(sock, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (w < 0)
			return err_set(e, CRUMB_EIO, "QEMU stopped reading the snapshot (%s)",
				       strerror(errno));
		buf += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Feeds the snapshot into sock, hashing it; hex gets its digest. */
static int feed(int sock, const struct warm_entry *w, char hex[65], struct warm_times *t,
		struct err *e)
{
	struct stat st;
	int fd = open(w->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return err_errno(e, CRUMB_EIO, "%s", w->path);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != w->size) {
		close(fd);
		return err_set(e, CRUMB_EFORMAT, "%s: not a file of %llu bytes", w->path,
			       (unsigned long long)w->size);
	}
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	char *buf = xmalloc(WARM_CHUNK);
	double deadline = now_monotonic() + WARM_STREAM_TIMEOUT;
	int r =
	    md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) ? 0 : err_set(e, CRUMB_EIO, "sha256");
	ssize_t got;
	while (r == 0 && (got = read(fd, buf, WARM_CHUNK)) != 0) {
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			r = err_errno(e, CRUMB_EIO, "read %s", w->path);
			break;
		}
		EVP_DigestUpdate(md, buf, (size_t)got);
		r = feed_all(sock, buf, (size_t)got, deadline, e);
		t->bytes += (uint64_t)got;
	}
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned len;
	if (r == 0 && EVP_DigestFinal_ex(md, d, &len))
		hex_of(d, hex);
	EVP_MD_CTX_free(md);
	free(buf);
	close(fd);
	return r;
}

/* Waits until QEMU has loaded the stream (its run state leaves "inmigrate"). */
static int wait_loaded(struct qmp *q, struct err *e)
{
	double deadline = now_monotonic() + WARM_STREAM_TIMEOUT;
	while (now_monotonic() < deadline) {
		json_t *ret;
		int r = qmp_execute(q, "query-status", NULL, WARM_QMP_TIMEOUT, &ret, e);
		if (r < 0) {
			char why[200];
			snprintf(why, sizeof(why), "%.190s", e->msg);
			return err_set(e, CRUMB_EIO, "QEMU refused it (%s)", why);
		}
		const char *st = json_string_value(json_object_get(ret, "status"));
		int loading = st && !strcmp(st, "inmigrate");
		int ok = st && (!strcmp(st, "paused") || !strcmp(st, "postmigrate") ||
				!strcmp(st, "prelaunch"));
		char s[40];
		snprintf(s, sizeof(s), "%s", st ? st : "?");
		json_decref(ret);
		if (ok)
			return 0;
		if (!loading)
			return err_set(e, CRUMB_EIO, "QEMU is %s after loading it", s);
		usleep(500);
	}
	return err_set(e, CRUMB_EIO, "QEMU did not load it in time");
}

/* Sends req to the control socket on a connection of its own, left open in *out:
 * QEMU drops what it has not handed to the guest when the connection closes. */
static int send_ctl(const char *path, const struct sbuf *req, int *out, struct err *e)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path))
		return err_set(e, CRUMB_EINVAL, "%s: path too long", path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = err_errno(e, CRUMB_EIO, "control socket %s", path);
		if (fd >= 0)
			close(fd);
		return r;
	}
	int r = feed_all(fd, req->buf, req->len, now_monotonic() + WARM_QMP_TIMEOUT, e);
	if (r < 0)
		close(fd);
	else
		*out = fd;
	return r;
}

int warm_restore(int sock, const struct warm_entry *w, const char *qmp_path, const char *ctl_path,
		 const struct sbuf *req, int *ctl, struct warm_times *t, struct err *e)
{
	*ctl = -1;
	char hex[65] = "";
	struct qmp q = QMP_INIT;
	int r = feed(sock, w, hex, t, e);
	close(sock);
	t->t_fed = now_monotonic();
	if (r == 0)
		r = qmp_connect(&q, qmp_path, WARM_QMP_TIMEOUT, e);
	if (r == 0)
		r = wait_loaded(&q, e);
	t->t_loaded = r == 0 ? now_monotonic() : 0;
	if (r == 0 && strcmp(hex, w->digest + 7))
		r = err_set(e, CRUMB_EFORMAT, "digest mismatch (sha256:%.12s..., want %.19s...)",
			    hex, w->digest);
	t->t_digest = r == 0 ? now_monotonic() : 0;
	/* Sent while paused: it waits in QEMU's socket until the guest runs. */
	if (r == 0)
		r = send_ctl(ctl_path, req, ctl, e);
	t->t_config = r == 0 ? now_monotonic() : 0;
	if (r == 0)
		r = qmp_execute(&q, "cont", NULL, WARM_QMP_TIMEOUT, NULL, e);
	t->t_cont = r == 0 ? now_monotonic() : 0;
	qmp_close(&q);
	return r;
}

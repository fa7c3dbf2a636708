/* qmp.c: the QMP client: connect, greeting, commands with deadlines, fd passing; one parser. */
#include "qmp.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void copy_printable(char *out, size_t outsz, const char *s)
{
	size_t k = 0;
	if (!outsz)
		return;
	for (; s && *s && k + 1 < outsz; s++)
		out[k++] = *s >= 0x20 && *s < 0x7f ? *s : '?';
	out[k] = 0;
}

int qmp_parse(const char *buf, size_t len, enum qmp_kind *kind, json_t **msg, char *desc,
	      size_t descsz, struct err *e)
{
	if (desc && descsz)
		desc[0] = 0;
	if (msg)
		*msg = NULL;
	if (len > QMP_MAX_MSG)
		return err_set(e, CRUMB_EFORMAT, "QMP: a message of more than %d bytes",
			       QMP_MAX_MSG);
	json_error_t je;
	json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (!j)
		return err_set(e, CRUMB_EFORMAT, "QMP: not JSON: %.80s", je.text);
	json_t *v;
	if (!json_is_object(j)) {
		json_decref(j);
		return err_set(e, CRUMB_EFORMAT, "QMP: a message that is not an object");
	}
	if (json_object_get(j, "QMP")) {
		*kind = QMP_GREETING;
	} else if (json_object_get(j, "return")) {
		*kind = QMP_RETURN;
	} else if ((v = json_object_get(j, "error"))) {
		*kind = QMP_ERROR;
		const char *d = json_string_value(json_object_get(v, "desc"));
		copy_printable(desc, descsz, d ? d : "(no description)");
	} else if ((v = json_object_get(j, "event")) && json_is_string(v)) {
		*kind = QMP_EVENT;
		copy_printable(desc, descsz, json_string_value(v));
	} else {
		json_decref(j);
		return err_set(e, CRUMB_EFORMAT, "QMP: a message of no known kind");
	}
	if (msg)
		*msg = j;
	else
		json_decref(j);
	return 0;
}

/* Takes one line out of q->buf into a parsed message; 1 when none is complete yet. */
static int take_line(struct qmp *q, enum qmp_kind *kind, json_t **msg, char *desc, size_t descsz,
		     struct err *e)
{
	char *nl = q->len ? memchr(q->buf, '\n', q->len) : NULL;
	if (!nl) {
		if (q->len > QMP_MAX_MSG)
			return err_set(e, CRUMB_EFORMAT, "QMP: a message of more than %d bytes",
				       QMP_MAX_MSG);
		return 1;
	}
	size_t n = (size_t)(nl - q->buf) + 1;
	int r = qmp_parse(q->buf, n, kind, msg, desc, descsz, e);
	memmove(q->buf, q->buf + n, q->len - n);
	q->len -= n;
	return r;
}

/* The next message, waiting until the deadline (a monotonic time). */
static int next_msg(struct qmp *q, double deadline, enum qmp_kind *kind, json_t **msg, char *desc,
		    size_t descsz, struct err *e)
{
	if (!q->buf)
		q->buf = xmalloc(QMP_MAX_MSG + 1);
	for (;;) {
		int r = take_line(q, kind, msg, desc, descsz, e);
		if (r <= 0)
			return r;
		double left = deadline - now_monotonic();
		if (left <= 0)
			return err_set(e, CRUMB_EIO, "QMP: no answer in time");
		struct pollfd p = {q->fd, POLLIN, 0};
		int n = poll(&p, 1, (int)(left * 1000) + 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			continue;
		ssize_t got = read(q->fd, q->buf + q->len, QMP_MAX_MSG + 1 - q->len);
		if (got < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (got <= 0)
			return err_set(e, CRUMB_EIO, "QMP: QEMU closed the connection");
		q->len += (size_t)got;
	}
}

static int send_str(struct qmp *q, const char *s, size_t n, struct err *e)
{
	while (n) {
		ssize_t w = send(q->fd, s, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return err_errno(e, CRUMB_EIO, "QMP: send");
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Waits for the answer to the command just sent, skipping events. */
static int wait_answer(struct qmp *q, const char *cmd, double deadline, json_t **ret, struct err *e)
{
	for (;;) {
		enum qmp_kind k;
		json_t *m;
		char desc[200];
		int r = next_msg(q, deadline, &k, &m, desc, sizeof(desc), e);
		if (r < 0)
			return r;
		if (k == QMP_EVENT || k == QMP_GREETING) {
			q->events++;
			json_decref(m);
			continue;
		}
		if (k == QMP_ERROR) {
			json_decref(m);
			return err_set(e, CRUMB_EIO, "QMP %s: %s", cmd, desc);
		}
		if (ret)
			*ret = json_incref(json_object_get(m, "return"));
		json_decref(m);
		return 0;
	}
}

int qmp_execute(struct qmp *q, const char *cmd, json_t *args, double timeout, json_t **ret,
		struct err *e)
{
	if (ret)
		*ret = NULL;
	json_t *j = json_pack("{s:s}", "execute", cmd);
	if (args)
		json_object_set_new(j, "arguments", args);
	char *s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (!s)
		return err_set(e, CRUMB_EIO, "QMP %s: cannot encode", cmd);
	size_t n = strlen(s);
	char *line = xasprintf("%s\n", s);
	free(s);
	int r = send_str(q, line, n + 1, e);
	free(line);
	if (r == 0)
		r = wait_answer(q, cmd, now_monotonic() + timeout, ret, e);
	return r;
}

int qmp_send_fd(struct qmp *q, const char *name, int fd, double timeout, struct err *e)
{
	char *line = xasprintf("{\"execute\":\"getfd\",\"arguments\":{\"fdname\":\"%s\"}}\n", name);
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = {line, strlen(line)};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = u.buf,
			    .msg_controllen = sizeof(u.buf)};
	memset(u.buf, 0, sizeof(u.buf));
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	ssize_t w;
	while ((w = sendmsg(q->fd, &mh, MSG_NOSIGNAL)) < 0 && errno == EINTR)
		;
	int r = 0;
	if (w < 0)
		r = err_errno(e, CRUMB_EIO, "QMP getfd: sendmsg");
	else if ((size_t)w < iov.iov_len)
		r = send_str(q, line + w, iov.iov_len - (size_t)w, e);
	free(line);
	if (r == 0)
		r = wait_answer(q, "getfd", now_monotonic() + timeout, NULL, e);
	return r;
}

/* One connect attempt; the socket, or -1 (errno set). */
static int try_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return fd;
	int saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

int qmp_connect(struct qmp *q, const char *path, double timeout, struct err *e)
{
	double deadline = now_monotonic() + timeout;
	q->len = 0;
	while ((q->fd = try_connect(path)) < 0) {
		if (errno == ENAMETOOLONG || now_monotonic() >= deadline)
			return err_errno(e, CRUMB_EIO, "QMP %s", path);
		usleep(1000);
	}
	enum qmp_kind k;
	json_t *m;
	int r = next_msg(q, deadline + 2, &k, &m, NULL, 0, e);
	if (r == 0) {
		json_decref(m);
		if (k != QMP_GREETING)
			r = err_set(e, CRUMB_EIO, "QMP %s: no greeting", path);
	}
	if (r == 0)
		r = qmp_execute(q, "qmp_capabilities", NULL, timeout + 2, NULL, e);
	if (r < 0)
		qmp_close(q);
	return r;
}

void qmp_attach(struct qmp *q, int fd)
{
	q->fd = fd;
	q->len = 0;
}

void qmp_close(struct qmp *q)
{
	if (q->fd >= 0)
		close(q->fd);
	free(q->buf);
	q->fd = -1;
	q->buf = NULL;
	q->len = 0;
}

/* qmp_fuzz.c: libFuzzer target: any bytes as what QEMU says on QMP: each line through qmp_parse,
 * and the whole as a session's answers to commands (line splitting, the bounded buffer, events
 * skipped, errors). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/qmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void lines(const uint8_t *data, size_t size)
{
	size_t i = 0;
	while (i < size) {
		const uint8_t *nl = memchr(data + i, '\n', size - i);
		size_t n = nl ? (size_t)(nl - (data + i)) + 1 : size - i;
		enum qmp_kind k;
		json_t *m;
		char desc[64];
		struct err e;
		int r = qmp_parse((const char *)data + i, n, &k, &m, desc, sizeof(desc), &e);
		if (r == 0 && (!m || k > QMP_EVENT || strlen(desc) >= sizeof(desc)))
			abort();
		if (r < 0 && (m || !e.msg[0]))
			abort();
		for (const char *c = desc; *c; c++)
			if (*c < 0x20 || *c > 0x7e)
				abort();
		json_decref(m);
		i += n;
	}
}

static void session(const uint8_t *data, size_t size)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return;
	int buf = 1 << 18;
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	if (write(sv[1], data, size) != (ssize_t)size) {
		close(sv[0]);
		close(sv[1]);
		return;
	}
	shutdown(sv[1], SHUT_WR);
	struct qmp q = QMP_INIT;
	qmp_attach(&q, sv[0]);
	for (int i = 0; i < 64; i++) {
		json_t *ret;
		struct err e;
		int r = qmp_execute(&q, "query-status", NULL, 0.05, &ret, &e);
		if (r < 0) {
			if (ret || !e.msg[0])
				abort();
			break;
		}
		json_decref(ret);
		if (q.len > QMP_MAX_MSG)
			abort();
	}
	qmp_close(&q);
	close(sv[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1 << 17)
		return 0;
	lines(data, size);
	session(data, size);
	return 0;
}

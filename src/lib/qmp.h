/* qmp.h: a client of QEMU's machine protocol (QMP) over a unix socket: bounded, with deadlines. */
#ifndef CRUMB_QMP_H
#define CRUMB_QMP_H

#include <jansson.h>
#include <stddef.h>

#include "util.h"

/*
 * QMP is JSON messages, one per line ("\r\n"), from a process crumb starts
 * but whose bytes it treats as another party's: every message is parsed with
 * qmp_parse (at most QMP_MAX_MSG bytes a line; a longer line is an error, not
 * a bigger buffer), and every wait has a deadline. A session: the greeting
 * ({"QMP": ...}), then "qmp_capabilities", then commands, each answered by a
 * {"return": ...} or {"error": {"class", "desc"}}; {"event": ...} messages
 * may come at any time and are skipped (counted).
 */
#define QMP_MAX_MSG (64 * 1024)

enum qmp_kind {
	QMP_GREETING, /* {"QMP": {...}} */
	QMP_RETURN,   /* {"return": ...} */
	QMP_ERROR,    /* {"error": {...}} */
	QMP_EVENT,    /* {"event": "NAME", ...} */
};

/*
 * Parses one message (len bytes, no terminator needed, trailing "\r\n" or
 * spaces allowed). On success *kind says which, *msg is the object (the
 * caller's to json_decref; NULL allowed to drop it) and desc (may be NULL,
 * descsz bytes) gets an error's "desc" or an event's name, printable ASCII,
 * cut to fit. Anything else (not JSON, not an object, none of the four keys,
 * over QMP_MAX_MSG) is CRUMB_EFORMAT with a one-line message.
 */
int qmp_parse(const char *buf, size_t len, enum qmp_kind *kind, json_t **msg, char *desc,
	      size_t descsz, struct err *e);

struct qmp {
	int fd;	   /* the socket; -1 when closed */
	char *buf; /* bytes read and not yet taken, QMP_MAX_MSG + 1 at most */
	size_t len;
	unsigned events; /* events skipped so far */
};
#define QMP_INIT                                                                                   \
	{                                                                                          \
		-1, NULL, 0, 0                                                                     \
	}

/*
 * Connects to the monitor socket at path, trying again every millisecond
 * while it does not exist or refuses (QEMU is starting) until timeout
 * seconds pass, reads the greeting and enters command mode. CRUMB_EIO with
 * the reason (path named) when it cannot.
 */
int qmp_connect(struct qmp *q, const char *path, double timeout, struct err *e);

/* Takes fd, an open connection already past the greeting, as q's socket (tests, fuzzing). */
void qmp_attach(struct qmp *q, int fd);

/*
 * Runs cmd with args (a JSON object, stolen; NULL: none) and waits up to
 * timeout seconds for its answer. *ret (may be NULL) gets the "return" value
 * (the caller's to json_decref). An "error" answer is CRUMB_EIO "QMP CMD:
 * DESC"; a closed socket or the deadline CRUMB_EIO too.
 */
int qmp_execute(struct qmp *q, const char *cmd, json_t *args, double timeout, json_t **ret,
		struct err *e);

/* "getfd": hands fd to QEMU under name (SCM_RIGHTS), for a later "fd:NAME" URI. */
int qmp_send_fd(struct qmp *q, const char *name, int fd, double timeout, struct err *e);

/* Closes the socket and frees the buffer; q is then QMP_INIT. Safe twice. */
void qmp_close(struct qmp *q);

#endif

/* log.h: crumb-init's warning lines, shared by PID 1 and the seccomp supervisor. */
#ifndef CRUMB_INIT_LOG_H
#define CRUMB_INIT_LOG_H

#include <stdarg.h>

/* Writes "crumb-init: MESSAGE\n" to fd in one write (cut at 768 bytes), so the line does not
 * interleave with the service's output. */
void init_vlog(int fd, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
void init_log(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif

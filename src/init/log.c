/* log.c: crumb-init's warning lines (log.h). */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void init_vlog(int fd, const char *fmt, va_list ap)
{
	char buf[768] = "crumb-init: ";
	size_t n = strlen(buf);
	int r = vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);

	if (r > 0)
		n += (size_t)r < sizeof(buf) - n - 1 ? (size_t)r : sizeof(buf) - n - 2;
	buf[n++] = '\n';
	for (const char *p = buf; n;) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

void init_log(int fd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	init_vlog(fd, fmt, ap);
	va_end(ap);
}

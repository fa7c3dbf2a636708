/* store.c: locating and locking the crumb store. */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <unistd.h>

int store_root(const struct hostenv *env, char **out, struct err *e)
{
	static const struct hostenv none;
	const struct hostenv *h = env ? env : &none;
	char *p;
	if (h->crumb_home && *h->crumb_home)
		p = xstrdup(h->crumb_home);
	else if (h->xdg_data_home && *h->xdg_data_home)
		p = xasprintf("%s/crumb", h->xdg_data_home);
	else if (h->home && *h->home)
		p = xasprintf("%s/.local/share/crumb", h->home);
	else
		return err_set(e, CRUMB_EINVAL, "no store: set CRUMB_HOME or HOME");
	int r = mkdir_p(p, 0700, e);
	if (r < 0) {
		free(p);
		return r;
	}
	*out = p;
	return 0;
}

int store_lock(const char *path, struct err *e)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_errno(e, CRUMB_EIO, "lock %s", path);
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			int r = err_errno(e, CRUMB_EIO, "lock %s", path);
			close(fd);
			return r;
		}
	}
	return fd;
}

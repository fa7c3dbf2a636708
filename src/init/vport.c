/* vport.c: finds a virtio-serial port by its name (format in vport.h). */
#include "vport.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define VPORT_SYS "/sys/class/virtio-ports"

int vport_open(const char *name, int flags, char *path, size_t pathlen)
{
	DIR *d = opendir(VPORT_SYS);
	struct dirent *de;
	char dev[300] = "";
	int fd = -1, err = ENOENT;

	while (d && !dev[0] && (de = readdir(d))) {
		char sys[300], got[64];
		ssize_t r;
		int nfd;

		if (strncmp(de->d_name, "vport", 5))
			continue;
		snprintf(sys, sizeof(sys), VPORT_SYS "/%s/name", de->d_name);
		nfd = open(sys, O_RDONLY | O_CLOEXEC);
		if (nfd < 0)
			continue;
		r = read(nfd, got, sizeof(got) - 1);
		close(nfd);
		if (r <= 0)
			continue;
		got[r] = '\0';
		got[strcspn(got, "\n")] = '\0';
		if (strcmp(got, name))
			continue;
		snprintf(dev, sizeof(dev), "/dev/%s", de->d_name);
		fd = open(dev, flags);
		err = errno;
	}
	if (d)
		closedir(d);
	if (path && pathlen)
		snprintf(path, pathlen, "%s", dev);
	if (fd < 0)
		errno = err;
	return fd;
}

int vport_device_present(void)
{
	DIR *d = opendir("/sys/bus/virtio/drivers/virtio_console");
	struct dirent *de;
	int found = 0;

	if (!d)
		return 0;
	while (!found && (de = readdir(d)))
		found = !strncmp(de->d_name, "virtio", 6);
	closedir(d);
	if (!found)
		errno = ENODEV;
	return found;
}

/* vport.h: finds a virtio-serial port of crumb-init's by its name (crumb.ctl, crumb.console...). */
#ifndef CRUMB_INIT_VPORT_H
#define CRUMB_INIT_VPORT_H

#include <stddef.h>

/*
 * The host names each port (QEMU's virtserialport name=...); the guest's
 * kernel shows the name in /sys/class/virtio-ports/vportNpM/name and the
 * port as /dev/vportNpM. Ports arrive asynchronously after the driver
 * binds: a caller that expects one looks again for a while.
 *
 * Opens the first port called name with open(2)'s flags. Returns the fd, or
 * -1 with errno: ENOENT when no port has that name (yet), else open's error.
 * When path is not NULL (pathlen bytes) it receives /dev/vportNpM of the
 * port found, "" when none was.
 */
int vport_open(const char *name, int flags, char *path, size_t pathlen);

/* Whether a virtio-serial device is bound to its driver: then a port not there yet may still
 * come. 0 (errno ENODEV) when not. */
int vport_device_present(void);

#endif

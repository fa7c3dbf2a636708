/* vmconf.c: the small parsers of a VM's parts (--vmm names, -p ports) and the argv free. */
#include "vmconf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *const names[] = {"qemu", "firecracker", "cloud-hypervisor"};

int vm_vmm_parse(const char *s, enum vm_vmm *out, struct err *e)
{
	for (int i = 0; i < 3; i++)
		if (!strcmp(s, names[i])) {
			*out = (enum vm_vmm)i;
			return 0;
		}
	return err_set(e, CRUMB_EINVAL,
		       "unknown VMM '%s' (want qemu, firecracker or cloud-hypervisor)", s);
}

const char *vm_vmm_name(enum vm_vmm v)
{
	return v <= VMM_CLOUD_HYPERVISOR ? names[v] : "?";
}

int vm_port_parse(const char *s, struct vm_port *p, struct err *e)
{
	char buf[128], *parts[3], *proto, *end;
	int n = 0;
	memset(p, 0, sizeof(*p));
	if (strlen(s) >= sizeof(buf))
		return err_set(e, CRUMB_EINVAL, "-p %.40s...: too long", s);
	strcpy(buf, s);
	if ((proto = strchr(buf, '/'))) {
		*proto++ = 0;
		if (!strcmp(proto, "udp"))
			p->udp = 1;
		else if (strcmp(proto, "tcp"))
			return err_set(e, CRUMB_EINVAL, "-p %s: protocol must be tcp or udp", s);
	}
	for (char *save, *t = strtok_r(buf, ":", &save); t; t = strtok_r(NULL, ":", &save)) {
		if (n == 3)
			return err_set(e, CRUMB_EINVAL, "-p %s: want [HOSTIP:]HOSTPORT:GUESTPORT",
				       s);
		parts[n++] = t;
	}
	if (n < 2)
		return err_set(e, CRUMB_EINVAL, "-p %s: want [HOSTIP:]HOSTPORT:GUESTPORT", s);
	struct in_addr ia;
	const char *ip = n == 3 ? parts[0] : "127.0.0.1";
	if (inet_pton(AF_INET, ip, &ia) != 1)
		return err_set(e, CRUMB_EINVAL, "-p %s: '%s' is not an IPv4 address", s, ip);
	snprintf(p->host_ip, sizeof(p->host_ip), "%s", ip);
	unsigned *ports[2] = {&p->host_port, &p->guest_port};
	for (int i = 0; i < 2; i++) {
		const char *t = parts[n - 2 + i];
		unsigned long v = strtoul(t, &end, 10);
		if (*end || end == t || v < 1 || v > 65535)
			return err_set(e, CRUMB_EINVAL, "-p %s: '%s' is not a port (1-65535)", s,
				       t);
		*ports[i] = (unsigned)v;
	}
	return 0;
}

int vm_port_check(const struct vm_port *p, struct err *e)
{
	struct sockaddr_in sin;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)p->host_port);
	inet_pton(AF_INET, p->host_ip, &sin.sin_addr);
	int s = socket(AF_INET, (p->udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
	if (s < 0)
		return err_errno(e, CRUMB_EIO, "socket");
	int one = 1; /* as QEMU binds it: TIME_WAIT leftovers are no obstacle */
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	int r = 0;
	if (bind(s, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		r = errno == EADDRINUSE
			? err_set(e, CRUMB_EBUSY, "port %u on %s is already in use", p->host_port,
				  p->host_ip)
			: err_errno(e, CRUMB_EIO, "port %u on %s", p->host_port, p->host_ip);
	close(s);
	return r;
}

int vm_find_program(const char *given, const char *from_env, const char *path, const char *dflt,
		    const char *label, const char *not_found, char **out, struct err *e)
{
	const char *want = given ? given : from_env;
	if (!want || !*want)
		want = dflt;
	if (strchr(want, '/')) {
		if (access(want, X_OK) < 0)
			return err_errno(e, CRUMB_ENOENT, "%s not usable at %s", label, want);
		*out = xstrdup(want);
		return 0;
	}
	if ((*out = path_lookup(want, path)))
		return 0;
	return err_set(e, CRUMB_ENOENT, "%s not found in PATH%s", want, not_found);
}

int vm_write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

void vm_argv_free(char **argv)
{
	for (size_t i = 0; argv && argv[i]; i++)
		free(argv[i]);
	free(argv);
}

void vm_cmdline_tail(struct sbuf *sb, const struct vm_config *c, const char *root_mode)
{
	if (c->initrd)
		sb_adds(sb, " rdinit=/sbin/crumb-init");
	else if (c->disk)
		sb_addf(sb, " root=/dev/vda %s rootfstype=ext4 init=/sbin/crumb-init", root_mode);
	sb_adds(sb, c->verbose || c->klog ? " loglevel=7" : " quiet");
	if (c->klog)
		sb_adds(sb, " printk.time=1");
	if (c->cmdline && *c->cmdline)
		sb_addf(sb, " %s", c->cmdline);
}

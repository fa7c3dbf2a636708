/* sysfilter.c: the crumb.seccomp allowlist over libseccomp (sysfilter.h). */
#include "sysfilter.h"

#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Linux's address families (include/linux/socket.h), the ones with a name here. */
static const char *const families[SYSFILTER_MAX_FAMILIES] = {
    [0] = "AF_UNSPEC",	    [1] = "AF_UNIX",	  [2] = "AF_INET",	[3] = "AF_AX25",
    [4] = "AF_IPX",	    [5] = "AF_APPLETALK", [6] = "AF_NETROM",	[7] = "AF_BRIDGE",
    [8] = "AF_ATMPVC",	    [9] = "AF_X25",	  [10] = "AF_INET6",	[11] = "AF_ROSE",
    [12] = "AF_DECnet",	    [13] = "AF_NETBEUI",  [14] = "AF_SECURITY", [15] = "AF_KEY",
    [16] = "AF_NETLINK",    [17] = "AF_PACKET",	  [18] = "AF_ASH",	[19] = "AF_ECONET",
    [20] = "AF_ATMSVC",	    [21] = "AF_RDS",	  [22] = "AF_SNA",	[23] = "AF_IRDA",
    [24] = "AF_PPPOX",	    [25] = "AF_WANPIPE",  [26] = "AF_LLC",	[27] = "AF_IB",
    [28] = "AF_MPLS",	    [29] = "AF_CAN",	  [30] = "AF_TIPC",	[31] = "AF_BLUETOOTH",
    [32] = "AF_IUCV",	    [33] = "AF_RXRPC",	  [34] = "AF_ISDN",	[35] = "AF_PHONET",
    [36] = "AF_IEEE802154", [37] = "AF_CAIF",	  [38] = "AF_ALG",	[39] = "AF_NFC",
    [40] = "AF_VSOCK",	    [41] = "AF_KCM",	  [42] = "AF_QIPCRTR",	[43] = "AF_SMC",
    [44] = "AF_XDP",	    [45] = "AF_MCTP",
};

void sysfilter_init(struct sysfilter *f)
{
	memset(f, 0, sizeof(*f));
}

void sysfilter_release(struct sysfilter *f)
{
	strlist_release(&f->names);
	sysfilter_init(f);
}

const char *sysfilter_family_name(unsigned family)
{
	return family < SYSFILTER_MAX_FAMILIES ? families[family] : NULL;
}

int sysfilter_family_parse(const char *s)
{
	if (*s >= '0' && *s <= '9') {
		char *end;
		long n = strtol(s, &end, 10);
		return *end || n < 0 || n >= SYSFILTER_MAX_FAMILIES ? -1 : (int)n;
	}
	for (int k = 0; k < SYSFILTER_MAX_FAMILIES; k++)
		if (families[k] && !strcmp(families[k], s))
			return k;
	return -1;
}

char *sysfilter_syscall_name(int nr)
{
	return nr < 0 ? NULL : seccomp_syscall_resolve_num_arch(SCMP_ARCH_X86_64, nr);
}

int sysfilter_syscall_nr(const char *name)
{
	int nr = seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86_64, name);
	return nr == __NR_SCMP_ERROR || nr < 0 ? -1 : nr;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int sysfilter_add(struct sysfilter *f, const char *name, struct err *e)
{
	if (sysfilter_syscall_nr(name) < 0)
		return err_set(e, CRUMB_EINVAL,
			       "crumb.seccomp: '%.64s' is not an x86_64 system call", name);
	if (strlist_has(&f->names, name))
		return 0;
	strlist_push(&f->names, name);
	qsort(f->names.v, f->names.n, sizeof(*f->names.v), cmp_str);
	return 0;
}

void sysfilter_add_family(struct sysfilter *f, unsigned family)
{
	if (family < SYSFILTER_MAX_FAMILIES)
		f->family[family] = 1;
	f->socket_families = 1;
}

/* "socket(AF_INET,AF_UNIX)": the families between the parentheses. */
static int parse_families(struct sysfilter *f, const char *item, const char *open, struct err *e)
{
	const char *p = open + 1, *close = strchr(p, ')');
	if (!close || close[1] || close == p)
		return err_set(e, CRUMB_EINVAL,
			       "crumb.seccomp: '%.80s': want socket(AF_NAME,...), no spaces", item);
	while (p < close) {
		size_t n = strcspn(p, ",)");
		char fam[32];
		int k = -1;
		if (n && n < sizeof(fam)) {
			memcpy(fam, p, n);
			fam[n] = 0;
			k = sysfilter_family_parse(fam);
		}
		if (k < 0)
			return err_set(e, CRUMB_EINVAL,
				       "crumb.seccomp: '%.*s' in '%.80s' is not an address family "
				       "(AF_INET, AF_UNIX, ... or 0..63)",
				       (int)(n > 32 ? 32 : n), p, item);
		sysfilter_add_family(f, (unsigned)k);
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

int sysfilter_parse(const char *label, struct sysfilter *f, struct err *e)
{
	const char *ws = " \t\n";
	for (const char *p = label + strspn(label, ws); *p; p += strspn(p, ws)) {
		size_t n = strcspn(p, ws);
		char *item = xstrndup(p, n), *open = strchr(item, '(');
		int r = 0;
		if (open) {
			*open = 0;
			if (strcmp(item, "socket")) {
				*open = '(';
				r = err_set(e, CRUMB_EINVAL,
					    "crumb.seccomp: '%.80s': only socket takes a list "
					    "of families",
					    item);
			} else {
				*open = '(';
				r = parse_families(f, item, open, e);
				*open = 0;
			}
		}
		if (r == 0)
			r = sysfilter_add(f, item, e);
		free(item);
		if (r < 0)
			return r;
		p += n;
	}
	return 0;
}

char *sysfilter_render(const struct sysfilter *f)
{
	struct sbuf sb = SBUF_INIT;
	for (size_t k = 0; k < f->names.n; k++) {
		if (k)
			sb_addc(&sb, ' ');
		sb_adds(&sb, f->names.v[k]);
		if (strcmp(f->names.v[k], "socket") || !f->socket_families)
			continue;
		sb_addc(&sb, '(');
		for (unsigned a = 0, first = 1; a < SYSFILTER_MAX_FAMILIES; a++) {
			if (!f->family[a])
				continue;
			if (!first)
				sb_addc(&sb, ',');
			first = 0;
			if (families[a])
				sb_adds(&sb, families[a]);
			else
				sb_addf(&sb, "%u", a);
		}
		sb_addc(&sb, ')');
	}
	return sb_detach(&sb);
}

/* Whether name is among the implicit calls. */
static int implicit(const char *name)
{
	size_t n = strlen(name);
	for (const char *p = SYSFILTER_IMPLICIT; *p;) {
		size_t m = strcspn(p, " ");
		if (m == n && !strncmp(p, name, n))
			return 1;
		p += m + (p[m] == ' ');
	}
	return 0;
}

size_t sysfilter_count(const struct sysfilter *f)
{
	size_t n = 0;
	for (const char *p = SYSFILTER_IMPLICIT; *p; n++)
		p += strcspn(p, " ") + (p[strcspn(p, " ")] == ' ');
	for (size_t k = 0; k < f->names.n; k++)
		n += !implicit(f->names.v[k]);
	return n;
}

static int allow(scmp_filter_ctx ctx, const char *name)
{
	return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, sysfilter_syscall_nr(name), 0);
}

int sysfilter_compile(const struct sysfilter *f, struct sbuf *out, struct err *e)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_NOTIFY);
	int r = 0, fd = -1;
	if (!ctx)
		return err_set(e, CRUMB_EIO, "libseccomp: cannot make a filter");
	r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	for (const char *p = SYSFILTER_IMPLICIT; !r && *p;) {
		size_t m = strcspn(p, " ");
		char name[32];
		snprintf(name, sizeof(name), "%.*s", (int)m, p);
		r = allow(ctx, name);
		p += m + (p[m] == ' ');
	}
	for (size_t k = 0; !r && k < f->names.n; k++) {
		const char *name = f->names.v[k];
		if (implicit(name))
			continue;
		if (strcmp(name, "socket") || !f->socket_families) {
			r = allow(ctx, name);
			continue;
		}
		for (unsigned a = 0; !r && a < SYSFILTER_MAX_FAMILIES; a++) {
			/* spelled out: SCMP_A0() leaves datum_b to the compiler (clang warns) */
			struct scmp_arg_cmp eq = {
			    .arg = 0, .op = SCMP_CMP_EQ, .datum_a = a, .datum_b = 0};
			if (f->family[a])
				r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1, eq);
		}
	}
	if (r < 0) {
		seccomp_release(ctx);
		return err_set(e, CRUMB_EIO, "libseccomp: adding a rule: %s", strerror(-r));
	}
	fd = memfd_create("crumb-seccomp", MFD_CLOEXEC);
	if (fd < 0) {
		seccomp_release(ctx);
		return err_errno(e, CRUMB_EIO, "memfd_create");
	}
	r = seccomp_export_bpf(ctx, fd);
	seccomp_release(ctx);
	if (r < 0) {
		close(fd);
		return err_set(e, CRUMB_EIO, "libseccomp: exporting the filter: %s", strerror(-r));
	}
	off_t len = lseek(fd, 0, SEEK_END);
	size_t start = out->len;
	if (len <= 0 || len % 8) {
		close(fd);
		return err_set(e, CRUMB_EIO, "libseccomp: a filter of %lld bytes", (long long)len);
	}
	sb_grow(out, (size_t)len);
	ssize_t got = pread(fd, out->buf + start, (size_t)len, 0);
	close(fd);
	if (got != len)
		return err_set(e, CRUMB_EIO, "reading the exported filter back");
	out->len += (size_t)len;
	out->buf[out->len] = 0;
	return 0;
}

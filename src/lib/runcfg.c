/* runcfg.c: an image's config plus the command line's flags -> what the guest runs (Docker's
 * rules). */
#include "runcfg.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

int runcfg_argv(const struct oci_config *img, const struct run_flags *f, struct strlist *out,
		struct err *e)
{
	size_t start = out->n;
	if (f->entrypoint) {
		if (*f->entrypoint)
			strlist_push(out, f->entrypoint);
	} else {
		for (size_t i = 0; i < img->entrypoint.n; i++)
			strlist_push(out, img->entrypoint.v[i]);
	}
	if (f->args && f->args->n) {
		for (size_t i = 0; i < f->args->n; i++)
			strlist_push(out, f->args->v[i]);
	} else if (!f->entrypoint) {
		for (size_t i = 0; i < img->cmd.n; i++)
			strlist_push(out, img->cmd.v[i]);
	}
	if (out->n == start)
		return err_set(e, CRUMB_EINVAL,
			       "no command: the image has no Entrypoint or Cmd and none was given");
	if (!out->v[start][0])
		return err_set(e, CRUMB_EINVAL, "the command's program is an empty string");
	return 0;
}

void runcfg_setenv(struct strlist *env, const char *kv)
{
	size_t nl = strcspn(kv, "=");
	for (size_t i = 0; i < env->n; i++)
		if (!strncmp(env->v[i], kv, nl) && env->v[i][nl] == '=') {
			free(env->v[i]);
			env->v[i] = xstrdup(kv);
			return;
		}
	strlist_push(env, kv);
}

static int has_env(const struct strlist *env, const char *name)
{
	size_t nl = strlen(name);
	for (size_t i = 0; i < env->n; i++)
		if (!strncmp(env->v[i], name, nl) && env->v[i][nl] == '=')
			return 1;
	return 0;
}

int runcfg_image(const struct oci_config *img, const struct run_flags *f, struct initcfg *cfg,
		 struct err *e)
{
	int r = runcfg_argv(img, f, &cfg->argv, e);
	if (r < 0)
		return r;
	const char *host = f->hostname ? f->hostname : NULL;
	const char *user = f->user ? f->user : img->user;
	for (size_t i = 0; i < img->env.n; i++)
		if (strchr(img->env.v[i], '=') && img->env.v[i][0] != '=')
			runcfg_setenv(&cfg->env, img->env.v[i]);
	if (!has_env(&cfg->env, "PATH"))
		runcfg_setenv(&cfg->env, "PATH=" RUNCFG_DEFAULT_PATH);
	char *h = xasprintf("HOSTNAME=%s", host ? host : "crumb");
	runcfg_setenv(&cfg->env, h);
	free(h);
	/* With a user, crumb-init takes HOME from the guest's passwd. */
	if ((!user || !*user) && !has_env(&cfg->env, "HOME"))
		runcfg_setenv(&cfg->env, "HOME=/root");
	for (size_t i = 0; f->env && i < f->env->n; i++)
		runcfg_setenv(&cfg->env, f->env->v[i]);
	const char *wd = f->workdir ? f->workdir : img->workdir;
	if (wd && *wd) {
		if (wd[0] != '/')
			return err_set(e, CRUMB_EINVAL, "working directory '%s' is not absolute",
				       wd);
		cfg->workdir = xstrdup(wd);
	}
	if (host)
		cfg->hostname = xstrdup(host);
	return 0;
}

int runcfg_publish(const char *list, struct vm_port *ports, size_t max, size_t *n, struct err *e)
{
	char *copy = xstrdup(list);
	int r = 0;
	for (char *save, *t = strtok_r(copy, ", \t", &save); t && !r;
	     t = strtok_r(NULL, ", \t", &save)) {
		if (*n >= max)
			r = err_set(e, CRUMB_EINVAL, "too many published ports (at most %zu)", max);
		else if ((r = vm_port_parse(t, &ports[*n], e)) == 0 &&
			 strcmp(ports[*n].host_ip, "127.0.0.1"))
			r = err_set(
			    e, CRUMB_EUNSAFE,
			    "%s: an image publishes on 127.0.0.1 only (another host address "
			    "comes from 'crumb run -p' alone)",
			    t);
		else if (r == 0)
			++*n;
	}
	free(copy);
	return r;
}

size_t runcfg_ready_ports(const struct strlist *exposed, unsigned *out, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < exposed->n && n < max; i++) {
		const char *s = exposed->v[i];
		char *end;
		unsigned long p = strtoul(s, &end, 10);
		if (end == s || p < 1 || p > 65535)
			continue;
		if (*end && strcasecmp(end, "/tcp"))
			continue; /* udp (or junk): nothing listens in /proc/net/tcp */
		int dup = 0;
		for (size_t k = 0; k < n; k++)
			dup |= out[k] == p;
		if (!dup)
			out[n++] = (unsigned)p;
	}
	return n;
}

int runcfg_parse_mem(const char *s, unsigned *mb)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || v == 0 || *s == '-')
		return -1;
	if (!*end || !strcasecmp(end, "m") || !strcasecmp(end, "mb") || !strcasecmp(end, "mib"))
		;
	else if (!strcasecmp(end, "g") || !strcasecmp(end, "gb") || !strcasecmp(end, "gib"))
		v *= 1024;
	else
		return -1;
	if (v > 1024 * 1024)
		return -1;
	*mb = (unsigned)v;
	return 0;
}

static const struct {
	const char *name;
	int sig;
} signals[] = {
    {"HUP", SIGHUP},	   {"INT", SIGINT},   {"QUIT", SIGQUIT},   {"ILL", SIGILL},
    {"TRAP", SIGTRAP},	   {"ABRT", SIGABRT}, {"BUS", SIGBUS},	   {"FPE", SIGFPE},
    {"KILL", SIGKILL},	   {"USR1", SIGUSR1}, {"SEGV", SIGSEGV},   {"USR2", SIGUSR2},
    {"PIPE", SIGPIPE},	   {"ALRM", SIGALRM}, {"TERM", SIGTERM},   {"CHLD", SIGCHLD},
    {"CONT", SIGCONT},	   {"STOP", SIGSTOP}, {"TSTP", SIGTSTP},   {"TTIN", SIGTTIN},
    {"TTOU", SIGTTOU},	   {"URG", SIGURG},   {"XCPU", SIGXCPU},   {"XFSZ", SIGXFSZ},
    {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"IO", SIGIO},
    {"PWR", SIGPWR},	   {"SYS", SIGSYS},
};

int runcfg_signal(const char *s)
{
	if (!s || !*s)
		return -1;
	if (isdigit((unsigned char)*s)) {
		char *end;
		long v = strtol(s, &end, 10);
		return *end || v < 1 || v > 64 ? -1 : (int)v;
	}
	if (!strncasecmp(s, "SIG", 3))
		s += 3;
	/* Docker's names for the real-time signals: RTMIN (34), RTMIN+1..+15, RTMAX-14..-1, RTMAX
	 * (64) */
	if (!strncasecmp(s, "RTMIN", 5) || !strncasecmp(s, "RTMAX", 5)) {
		int max = !strncasecmp(s, "RTMAX", 5), off = 0;
		if (s[5]) {
			char *end;
			long v = strtol(s + 6, &end, 10);
			if (s[5] != (max ? '-' : '+') || !isdigit((unsigned char)s[6]) || *end ||
			    v < 1 || v > 15)
				return -1;
			off = (int)v;
		}
		return max ? 64 - off : 34 + off;
	}
	for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		if (!strcasecmp(s, signals[i].name))
			return signals[i].sig;
	return -1;
}

static int name_ok(const char *s)
{
	if (!isalnum((unsigned char)*s))
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("_.-", *s))
			return 0;
	return 1;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && !strcmp(s + n - m, suffix);
}

void run_volume_release(struct run_volume *v)
{
	free(v->source);
	free(v->target);
	memset(v, 0, sizeof(*v));
}

int runcfg_volume_parse(const char *s, struct run_volume *v, struct err *e)
{
	memset(v, 0, sizeof(*v));
	char *copy = xstrdup(s);
	char *f[4];
	int n = 0;
	for (char *p = copy, *c; n < 4; p = c + 1) {
		f[n++] = p;
		if (!(c = strchr(p, ':')))
			break;
		*c = 0;
	}
	int r = 0;
	if (n < 2 || n > 3 || !*f[0] || !*f[1]) {
		r = err_set(e, CRUMB_EINVAL, "-v %s: want SOURCE:/PATH[:ro]", s);
		goto out;
	}
	if (n == 3) {
		if (!strcmp(f[2], "ro"))
			v->readonly = 1;
		else if (strcmp(f[2], "rw")) {
			r = err_set(e, CRUMB_EINVAL, "-v %s: the option '%s' is not ro or rw", s,
				    f[2]);
			goto out;
		}
	}
	if (f[1][0] != '/' || !strcmp(f[1], "/") || strstr(f[1], "/../") ||
	    ends_with(f[1], "/..")) {
		r = err_set(e, CRUMB_EINVAL, "-v %s: the guest path '%s' must be absolute, not /",
			    s, f[1]);
		goto out;
	}
	v->target = xstrdup(f[1]);
	if (!strchr(f[0], '/') && !ends_with(f[0], ".ext4")) {
		if (!name_ok(f[0])) {
			r = err_set(e, CRUMB_EINVAL,
				    "-v %s: '%s' is not a volume name ([a-zA-Z0-9][a-zA-Z0-9_.-]*) "
				    "nor a path",
				    s, f[0]);
			goto out;
		}
		v->kind = RUN_VOL_NAMED;
		v->source = xstrdup(f[0]);
		goto out;
	}
	struct stat st;
	char *abs = realpath(f[0], NULL);
	if (!abs || stat(abs, &st) < 0) {
		r = err_errno(e, CRUMB_ENOENT, "-v %s: %s", s, f[0]);
		free(abs);
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		v->kind = RUN_VOL_HOSTDIR;
	} else if (S_ISREG(st.st_mode)) {
		v->kind = RUN_VOL_IMAGE;
	} else {
		r = err_set(e, CRUMB_EINVAL, "-v %s: %s is neither a directory nor an image file",
			    s, f[0]);
		free(abs);
		goto out;
	}
	v->source = abs;
out:
	free(copy);
	if (r < 0)
		run_volume_release(v);
	return r;
}

int runcfg_add_host_parse(const char *s, struct run_host *h, struct err *e)
{
	memset(h, 0, sizeof(*h));
	const char *sep = strchr(s, '=');
	if (!sep)
		sep = strchr(s, ':');
	if (!sep || sep == s || !sep[1])
		return err_set(e, CRUMB_EINVAL, "--add-host %s: want HOST:IP (or HOST=IP)", s);
	char *name = xstrndup(s, (size_t)(sep - s)), *ip;
	const char *v = sep + 1;
	size_t vl = strlen(v);
	if (v[0] == '[' && vl > 2 && v[vl - 1] == ']')
		ip = xstrndup(v + 1, vl - 2);
	else
		ip = xstrdup(v);
	int r = 0;
	if (!initcfg_host_name_ok(name))
		r = err_set(e, CRUMB_EINVAL,
			    "--add-host %s: '%s' is not a host name (labels of A-Z a-z 0-9 and "
			    "'-', separated by '.', at most 253 bytes)",
			    s, name);
	else if (strcmp(v, RUNCFG_HOST_GATEWAY) && (!initcfg_host_ip_ok(ip) || strchr(ip, '%')))
		r = err_set(e, CRUMB_EINVAL,
			    "--add-host %s: '%s' is not an IPv4 or IPv6 address (or %s)", s, v,
			    RUNCFG_HOST_GATEWAY);
	if (r < 0 || !strcmp(v, RUNCFG_HOST_GATEWAY)) {
		free(ip);
		ip = NULL;
	}
	if (r < 0) {
		free(name);
		return r;
	}
	h->name = name;
	h->ip = ip;
	return 0;
}

void run_host_release(struct run_host *h)
{
	free(h->name);
	free(h->ip);
	memset(h, 0, sizeof(*h));
}

int runcfg_host_gateway(char ip[16], struct err *e)
{
	struct ifaddrs *ifs, *i;
	if (getifaddrs(&ifs) < 0)
		return err_errno(e, CRUMB_EIO, "host-gateway: getifaddrs");
	int found = 0;
	for (i = ifs; i && !found; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET && (i->ifa_flags & IFF_UP) &&
		    !(i->ifa_flags & IFF_LOOPBACK))
			found = inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr,
					  ip, 16) != NULL;
	freeifaddrs(ifs);
	if (!found)
		return err_set(e, CRUMB_ENOENT,
			       "--add-host: host-gateway: this host has no IPv4 address but "
			       "127.0.0.1, which the guest cannot reach");
	return 0;
}

int runcfg_add_hosts(const struct strlist *list, int net, struct initcfg *c, struct err *e)
{
	for (size_t k = 0; list && k < list->n; k++) {
		struct run_host h;
		char gw[16];
		int r = runcfg_add_host_parse(list->v[k], &h, e);
		if (r == 0 && !h.ip && !net)
			r = err_set(e, CRUMB_EINVAL,
				    "--add-host %s: host-gateway needs a network (not --net none)",
				    list->v[k]);
		else if (r == 0 && !h.ip)
			r = runcfg_host_gateway(gw, e);
		if (r == 0)
			initcfg_add_host(c, h.ip ? h.ip : gw, h.name);
		run_host_release(&h);
		if (r < 0)
			return r;
	}
	return 0;
}

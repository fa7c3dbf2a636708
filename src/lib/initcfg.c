/* initcfg.c: renders crumb-init's configuration file (format in src/init/config.h). */
#include "initcfg.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../init/config.h"

_Static_assert(INITCFG_KEY_LEN * 2 == CONF_DISK_KEY_HEX, "the key is its hex digits halved");

void initcfg_init(struct initcfg *c)
{
	memset(c, 0, sizeof(*c));
	c->stop_timeout = -1;
}

static void step_release(struct initcfg_step *s)
{
	free(s->label);
	strlist_release(&s->argv);
	strlist_release(&s->env);
	free(s->workdir);
	free(s->user);
	for (size_t i = 0; i < s->nmounts; i++) {
		free(s->mounts[i].type);
		free(s->mounts[i].source);
		free(s->mounts[i].subpath);
		free(s->mounts[i].target);
		free(s->mounts[i].options);
	}
	free(s->mounts);
	for (size_t i = 0; i < s->nsecrets; i++) {
		free(s->secrets[i].source);
		free(s->secrets[i].dest);
	}
	free(s->secrets);
}

void initcfg_release(struct initcfg *c)
{
	strlist_release(&c->argv);
	strlist_release(&c->env);
	free(c->workdir);
	free(c->user);
	free(c->hostname);
	for (size_t i = 0; i < c->nsteps; i++)
		step_release(&c->steps[i]);
	free(c->steps);
	for (size_t i = 0; i < c->nmounts; i++) {
		free(c->mounts[i].type);
		free(c->mounts[i].source);
		free(c->mounts[i].target);
		free(c->mounts[i].options);
	}
	free(c->mounts);
	for (size_t i = 0; i < c->nhosts; i++) {
		free(c->hosts[i].ip);
		free(c->hosts[i].name);
	}
	free(c->hosts);
	free(c->ready);
	free(c->term);
	free(c->seccomp);
	initcfg_init(c);
}

struct initcfg_step *initcfg_add_step(struct initcfg *c, const char *label)
{
	struct initcfg_step *s;

	c->steps = xrealloc(c->steps, (c->nsteps + 1) * sizeof(*c->steps));
	s = &c->steps[c->nsteps++];
	memset(s, 0, sizeof(*s));
	s->label = xstrdup(label ? label : "");
	c->build = 1;
	return s;
}

void initcfg_add_mount(struct initcfg *c, const char *type, const char *source, const char *target,
		       const char *options)
{
	struct initcfg_mount *m;

	c->mounts = xrealloc(c->mounts, (c->nmounts + 1) * sizeof(*c->mounts));
	m = &c->mounts[c->nmounts++];
	m->type = xstrdup(type);
	m->source = xstrdup(source);
	m->target = xstrdup(target);
	m->options = xstrdup(options ? options : "rw");
}

void initcfg_step_add_mount(struct initcfg_step *s, const char *type, const char *source,
			    const char *subpath, const char *target, const char *options)
{
	struct initcfg_step_mount *m;

	s->mounts = xrealloc(s->mounts, (s->nmounts + 1) * sizeof(*s->mounts));
	m = &s->mounts[s->nmounts++];
	m->type = xstrdup(type);
	m->source = xstrdup(source);
	m->subpath = xstrdup(subpath);
	m->target = xstrdup(target);
	m->options = xstrdup(options ? options : "rw");
}

void initcfg_step_add_secret(struct initcfg_step *s, const char *source, unsigned long offset,
			     unsigned long length, unsigned long mode, unsigned long uid,
			     unsigned long gid, const char *dest)
{
	s->secrets = xrealloc(s->secrets, (s->nsecrets + 1) * sizeof(*s->secrets));
	s->secrets[s->nsecrets++] =
	    (struct initcfg_secret){xstrdup(source), xstrdup(dest), offset, length, mode, uid, gid};
}

void initcfg_add_ready(struct initcfg *c, unsigned port)
{
	c->ready = xrealloc(c->ready, (c->nready + 1) * sizeof(*c->ready));
	c->ready[c->nready++] = port;
}

void initcfg_add_host(struct initcfg *c, const char *ip, const char *name)
{
	c->hosts = xrealloc(c->hosts, (c->nhosts + 1) * sizeof(*c->hosts));
	c->hosts[c->nhosts].ip = xstrdup(ip);
	c->hosts[c->nhosts++].name = xstrdup(name);
}

int initcfg_host_name_ok(const char *name)
{
	return conf_host_name_ok(name);
}

int initcfg_host_ip_ok(const char *ip)
{
	unsigned char addr[16];

	return inet_pton(AF_INET, ip, addr) == 1 || inet_pton(AF_INET6, ip, addr) == 1;
}

/* Escapes val onto sb: \\, \n, \xHH for control bytes, and (space) a space as \x20. */
static void add_escaped(struct sbuf *sb, const char *val, int space)
{
	static const char hex[] = "0123456789abcdef";

	for (const unsigned char *p = (const unsigned char *)val; *p; p++) {
		if (*p == '\\') {
			sb_add(sb, "\\\\", 2);
		} else if (*p == '\n') {
			sb_add(sb, "\\n", 2);
		} else if (*p < 0x20 || *p == 0x7f || (space && *p == ' ')) {
			char esc[4] = {'\\', 'x', hex[*p >> 4], hex[*p & 15]};

			sb_add(sb, esc, 4);
		} else {
			sb_addc(sb, (char)*p);
		}
	}
}

static int end_record(struct sbuf *sb, size_t start, const char *key, struct err *e)
{
	if (sb->len - start > CONF_LINE_MAX)
		return err_set(
		    e, CRUMB_EUNSAFE,
		    "init config: a '%s' line is %zu bytes escaped (crumb-init's limit: %d)", key,
		    sb->len - start, CONF_LINE_MAX);
	sb_addc(sb, '\n');
	return 0;
}

/* One "KEY VALUE\n" record, VALUE escaped so the line holds no control byte. */
static int add_record(struct sbuf *sb, const char *key, const char *val, struct err *e)
{
	size_t start = sb->len;

	sb_adds(sb, key);
	sb_addc(sb, ' ');
	add_escaped(sb, val, 0);
	return end_record(sb, start, key, e);
}

static int add_number(struct sbuf *sb, const char *key, long v, struct err *e)
{
	char num[24];

	snprintf(num, sizeof(num), "%ld", v);
	return add_record(sb, key, num, e);
}

/* "KEY F1 F2 ...": fields escaped one by one, spaces too. */
static int add_fields(struct sbuf *sb, const char *key, const char *const *f, size_t n,
		      struct err *e)
{
	size_t start = sb->len;

	sb_adds(sb, key);
	for (size_t i = 0; i < n; i++) {
		sb_addc(sb, ' ');
		add_escaped(sb, f[i], 1);
	}
	return end_record(sb, start, key, e);
}

/* "mount TYPE SOURCE TARGET OPTIONS" */
static int add_mount(struct sbuf *sb, const struct initcfg_mount *m, struct err *e)
{
	const char *f[4] = {m->type, m->source, m->target, m->options};

	return add_fields(sb, "mount", f, 4, e);
}

/* A step's step_mount and step_secret lines. */
static int add_step_extras(struct sbuf *sb, const struct initcfg_step *s, struct err *e)
{
	int rc = 0;

	for (size_t i = 0; i < s->nmounts && !rc; i++) {
		const struct initcfg_step_mount *m = &s->mounts[i];
		const char *f[5] = {m->type, m->source, m->subpath, m->target, m->options};

		rc = add_fields(sb, "step_mount", f, 5, e);
	}
	for (size_t i = 0; i < s->nsecrets && !rc; i++) {
		const struct initcfg_secret *x = &s->secrets[i];
		char n[5][24];
		const char *f[7] = {x->source, n[0], n[1], n[2], n[3], n[4], x->dest};

		snprintf(n[0], sizeof(n[0]), "%lu", x->offset);
		snprintf(n[1], sizeof(n[1]), "%lu", x->length);
		snprintf(n[2], sizeof(n[2]), "%lo", x->mode);
		snprintf(n[3], sizeof(n[3]), "%lu", x->uid);
		snprintf(n[4], sizeof(n[4]), "%lu", x->gid);
		rc = add_fields(sb, "step_secret", f, 7, e);
	}
	return rc;
}

/* The checks crumb-init makes on a step's step_mount and step_secret lines. */
static int check_step_extras(const struct initcfg_step *s, struct err *e)
{
	for (size_t i = 0; i < s->nmounts; i++) {
		const struct initcfg_step_mount *m = &s->mounts[i];

		if (!m->type[0] || !m->source[0] || !m->options[0] ||
		    strspn(m->type, "abcdefghijklmnopqrstuvwxyz0123456789") != strlen(m->type))
			return err_set(e, CRUMB_EINVAL,
				       "init config: a bad step mount type or field");
		if (m->subpath[0] != '/' || (strcmp(m->type, "ext4") && strcmp(m->subpath, "/")) ||
		    m->target[0] != '/' || !m->target[1])
			return err_set(e, CRUMB_EINVAL,
				       "init config: step mount subpath '%s' or target '%s'",
				       m->subpath, m->target);
	}
	for (size_t i = 0; i < s->nsecrets; i++) {
		const struct initcfg_secret *x = &s->secrets[i];

		if (!x->source[0] || !x->dest[0] || x->length > CONF_SECRET_MAX ||
		    x->mode > 07777 || x->uid > 4294967295UL || x->gid > 4294967295UL ||
		    x->offset > (1UL << 40) || !strcmp(x->dest, "/") ||
		    (x->dest[0] != '/' && strchr(x->dest, '=')))
			return err_set(e, CRUMB_EINVAL, "init config: a bad step secret for '%s'",
				       x->dest);
	}
	return 0;
}

static int user_ok(const char *s)
{
	const char *colon = strchr(s, ':');

	if (!s[0] || colon == s)
		return 0;
	return !colon || (colon[1] && !strchr(colon + 1, ':'));
}

/* The checks crumb-init makes on one program (the service or a step). */
static int check_proc(const char *what, const struct strlist *argv, const struct strlist *env,
		      const char *workdir, const char *user, struct err *e)
{
	if (argv->n == 0)
		return err_set(e, CRUMB_EINVAL, "init config: nothing to run (empty argv%s%s)",
			       what[0] ? " in " : "", what);
	if (!argv->v[0][0])
		return err_set(e, CRUMB_EINVAL, "init config: empty program path (argv[0]%s%s)",
			       what[0] ? " in " : "", what);
	for (size_t i = 0; i < env->n; i++) {
		const char *eq = strchr(env->v[i], '=');

		if (!eq || eq == env->v[i])
			return err_set(e, CRUMB_EINVAL,
				       "init config: environment entry '%s' is not NAME=value",
				       env->v[i]);
	}
	if (workdir && workdir[0] != '/')
		return err_set(e, CRUMB_EINVAL, "init config: workdir '%s' is not absolute",
			       workdir);
	if (user && !user_ok(user))
		return err_set(e, CRUMB_EINVAL, "init config: user '%s' is not USER[:GROUP]", user);
	return 0;
}

static int check(const struct initcfg *c, struct err *e)
{
	int r;

	if (c->build) {
		if (c->nsteps == 0)
			return err_set(e, CRUMB_EINVAL, "init config: build mode without steps");
		if (c->argv.n || c->env.n || c->workdir || c->user)
			return err_set(e, CRUMB_EINVAL,
				       "init config: build mode takes steps, not a service argv, "
				       "env, workdir or user");
		if (c->restart != INITCFG_RESTART_NO || c->nready || c->tty || c->term || c->rows ||
		    c->cols)
			return err_set(e, CRUMB_EINVAL,
				       "init config: build mode has no restart, ready or tty");
		for (size_t i = 0; i < c->nsteps; i++) {
			const struct initcfg_step *s = &c->steps[i];

			if ((r = check_proc(s->label ? s->label : "a step", &s->argv, &s->env,
					    s->workdir, s->user, e)) < 0 ||
			    (r = check_step_extras(s, e)) < 0)
				return r;
		}
	} else if ((r = check_proc("", &c->argv, &c->env, c->workdir, c->user, e)) < 0) {
		return r;
	}
	if (c->hostname && (!c->hostname[0] || strlen(c->hostname) > CONF_HOSTNAME_MAX))
		return err_set(e, CRUMB_EINVAL, "init config: hostname must be 1..%d bytes",
			       CONF_HOSTNAME_MAX);
	if (c->restart_max > CONF_RESTART_MAX_LIMIT)
		return err_set(e, CRUMB_EINVAL, "init config: at most %d restarts",
			       CONF_RESTART_MAX_LIMIT);
	if (c->stop_signal < 0 || c->stop_signal > 64)
		return err_set(e, CRUMB_EINVAL, "init config: stop signal %d is not 1..64",
			       c->stop_signal);
	if (c->stop_timeout < -1 || c->stop_timeout > CONF_STOP_TIMEOUT_LIMIT)
		return err_set(e, CRUMB_EINVAL, "init config: stop timeout %d is not 0..%d s",
			       c->stop_timeout, CONF_STOP_TIMEOUT_LIMIT);
	for (size_t i = 0; i < c->nready; i++)
		if (c->ready[i] < 1 || c->ready[i] > 65535)
			return err_set(e, CRUMB_EINVAL,
				       "init config: ready port %u is not 1..65535", c->ready[i]);
	for (size_t i = 0; i < c->nmounts; i++) {
		const struct initcfg_mount *m = &c->mounts[i];

		if (!m->type[0] || !m->source[0] || !m->target[0] || !m->options[0])
			return err_set(e, CRUMB_EINVAL, "init config: a mount field is empty");
		if (strspn(m->type, "abcdefghijklmnopqrstuvwxyz0123456789") != strlen(m->type))
			return err_set(e, CRUMB_EINVAL,
				       "init config: mount type '%s' is not [a-z0-9]+", m->type);
		if (m->target[0] != '/')
			return err_set(e, CRUMB_EINVAL,
				       "init config: mount target '%s' is not absolute", m->target);
	}
	for (size_t i = 0; i < c->nhosts; i++) {
		if (!initcfg_host_ip_ok(c->hosts[i].ip))
			return err_set(e, CRUMB_EINVAL,
				       "init config: host address '%s' is not IPv4 or IPv6",
				       c->hosts[i].ip);
		if (!initcfg_host_name_ok(c->hosts[i].name))
			return err_set(e, CRUMB_EINVAL, "init config: '%s' is not a host name",
				       c->hosts[i].name);
	}
	if (c->term && (!c->term[0] || strlen(c->term) > CONF_TERM_MAX))
		return err_set(e, CRUMB_EINVAL, "init config: TERM must be 1..%d bytes",
			       CONF_TERM_MAX);
	if (c->rows > 65535 || c->cols > 65535)
		return err_set(e, CRUMB_EINVAL, "init config: window size over 65535");
	if (c->seccomp &&
	    (c->seccomp_len % 8 || !c->seccomp_len || c->seccomp_len > CONF_SECCOMP_MAX))
		return err_set(e, CRUMB_EINVAL,
			       "init config: a seccomp program is 8..%d bytes, whole instructions",
			       CONF_SECCOMP_MAX);
	if (c->build && (c->seccomp || c->trace))
		return err_set(e, CRUMB_EINVAL, "init config: build mode has no seccomp or trace");
	return 0;
}

static int add_proc(struct sbuf *sb, const struct strlist *argv, const struct strlist *env,
		    const char *workdir, const char *user, struct err *e)
{
	int rc = 0;

	for (size_t i = 0; i < argv->n && !rc; i++)
		rc = add_record(sb, "arg", argv->v[i], e);
	for (size_t i = 0; i < env->n && !rc; i++)
		rc = add_record(sb, "env", env->v[i], e);
	if (!rc && workdir)
		rc = add_record(sb, "workdir", workdir, e);
	if (!rc && user)
		rc = add_record(sb, "user", user, e);
	return rc;
}

int initcfg_render(const struct initcfg *c, struct sbuf *out, struct err *e)
{
	static const char *const restart[] = {"no", "on-failure", "always"};
	struct sbuf sb = SBUF_INIT;
	int rc = check(c, e);

	if (rc)
		return rc;
	sb_adds(&sb, CONF_HEADER "\n");
	/* mode comes first: it must precede every step. */
	if (c->build)
		sb_adds(&sb, "mode build\n");
	else
		rc = add_proc(&sb, &c->argv, &c->env, c->workdir, c->user, e);
	if (!rc && c->hostname)
		rc = add_record(&sb, "hostname", c->hostname, e);
	if (!rc && c->restart == INITCFG_RESTART_ON_FAILURE && c->restart_max)
		sb_addf(&sb, "restart on-failure:%u\n", c->restart_max);
	else if (!rc && c->restart != INITCFG_RESTART_NO)
		sb_addf(&sb, "restart %s\n", restart[c->restart]);
	if (!rc && c->stop_signal)
		rc = add_number(&sb, "stop_signal", c->stop_signal, e);
	if (!rc && c->stop_timeout >= 0)
		rc = add_number(&sb, "stop_timeout", c->stop_timeout, e);
	for (size_t i = 0; i < c->nready && !rc; i++)
		rc = add_number(&sb, "ready", c->ready[i], e);
	for (size_t i = 0; i < c->nmounts && !rc; i++)
		rc = add_mount(&sb, &c->mounts[i], e);
	for (size_t i = 0; i < c->nhosts && !rc; i++)
		sb_addf(&sb, "host %s %s\n", c->hosts[i].ip, c->hosts[i].name);
	if (!rc && c->tty)
		sb_adds(&sb, "tty 1\n");
	if (!rc && c->snapshot)
		sb_adds(&sb, "snapshot 1\n");
	if (!rc && c->term)
		rc = add_record(&sb, "term", c->term, e);
	if (!rc && c->seccomp) {
		sb_adds(&sb, "seccomp ");
		for (size_t i = 0; i < c->seccomp_len; i++)
			sb_addf(&sb, "%02x", c->seccomp[i]);
		sb_adds(&sb, "\n");
	}
	if (!rc && c->seccomp && c->seccomp_kill)
		sb_adds(&sb, "seccomp_action kill\n");
	if (!rc && c->trace)
		sb_adds(&sb, "trace 1\n");
	if (!rc && c->rows)
		rc = add_number(&sb, "rows", c->rows, e);
	if (!rc && c->cols)
		rc = add_number(&sb, "cols", c->cols, e);
	for (size_t i = 0; c->build && i < c->nsteps && !rc; i++) {
		const struct initcfg_step *s = &c->steps[i];

		rc = add_record(&sb, "step", s->label ? s->label : "", e);
		if (!rc)
			rc = add_proc(&sb, &s->argv, &s->env, s->workdir, s->user, e);
		if (!rc)
			rc = add_step_extras(&sb, s, e);
	}
	if (!rc && sb.len > CONF_FILE_MAX)
		rc = err_set(e, CRUMB_EUNSAFE,
			     "init config: %zu bytes, over crumb-init's limit of %d", sb.len,
			     CONF_FILE_MAX);
	if (!rc)
		sb_add(out, sb.buf, sb.len);
	sb_release(&sb);
	return rc;
}

void initcfg_disk(const char *conf, size_t len, const unsigned char *key, struct sbuf *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t start = out->len;

	sb_addf(out, CONF_DISK_MAGIC "%zu", conf ? len : 0);
	if (key) {
		sb_addc(out, ' ');
		for (int i = 0; i < INITCFG_KEY_LEN; i++) {
			sb_addc(out, hex[key[i] >> 4]);
			sb_addc(out, hex[key[i] & 15]);
		}
	}
	sb_addc(out, '\n');
	if (conf)
		sb_add(out, conf, len);
	while ((out->len - start) % 512)
		sb_addc(out, '\0');
}

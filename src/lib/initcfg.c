/* initcfg.c: renders crumb-init's configuration file (format in src/init/config.h). */
#include "initcfg.h"

#include <stdlib.h>
#include <string.h>

#include "../init/config.h"

void initcfg_init(struct initcfg *c)
{
	memset(c, 0, sizeof(*c));
}

void initcfg_release(struct initcfg *c)
{
	strlist_release(&c->argv);
	strlist_release(&c->env);
	free(c->workdir);
	free(c->hostname);
	initcfg_init(c);
}

/* One "KEY VALUE\n" record, VALUE escaped so the line holds no control byte. */
static int add_record(struct sbuf *sb, const char *key, const char *val, struct err *e)
{
	static const char hex[] = "0123456789abcdef";
	size_t start = sb->len;

	sb_adds(sb, key);
	sb_addc(sb, ' ');
	for (const unsigned char *p = (const unsigned char *)val; *p; p++) {
		if (*p == '\\') {
			sb_add(sb, "\\\\", 2);
		} else if (*p == '\n') {
			sb_add(sb, "\\n", 2);
		} else if (*p < 0x20 || *p == 0x7f) {
			char esc[4] = {'\\', 'x', hex[*p >> 4], hex[*p & 15]};

			sb_add(sb, esc, 4);
		} else {
			sb_addc(sb, (char)*p);
		}
	}
	if (sb->len - start > CONF_LINE_MAX)
		return err_set(
		    e, CRUMB_EUNSAFE,
		    "init config: a '%s' line is %zu bytes escaped (crumb-init's limit: %d)", key,
		    sb->len - start, CONF_LINE_MAX);
	sb_addc(sb, '\n');
	return 0;
}

int initcfg_render(const struct initcfg *c, struct sbuf *out, struct err *e)
{
	struct sbuf sb = SBUF_INIT;
	int rc = 0;

	if (c->argv.n == 0)
		return err_set(e, CRUMB_EINVAL, "init config: nothing to run (empty argv)");
	if (!c->argv.v[0][0])
		return err_set(e, CRUMB_EINVAL, "init config: empty program path (argv[0])");
	for (size_t i = 0; i < c->env.n; i++) {
		const char *eq = strchr(c->env.v[i], '=');

		if (!eq || eq == c->env.v[i])
			return err_set(e, CRUMB_EINVAL,
				       "init config: environment entry '%s' is not NAME=value",
				       c->env.v[i]);
	}
	if (c->workdir && c->workdir[0] != '/')
		return err_set(e, CRUMB_EINVAL, "init config: workdir '%s' is not absolute",
			       c->workdir);
	if (c->hostname && (!c->hostname[0] || strlen(c->hostname) > CONF_HOSTNAME_MAX))
		return err_set(e, CRUMB_EINVAL, "init config: hostname must be 1..%d bytes",
			       CONF_HOSTNAME_MAX);

	sb_adds(&sb, CONF_HEADER "\n");
	for (size_t i = 0; i < c->argv.n && !rc; i++)
		rc = add_record(&sb, "arg", c->argv.v[i], e);
	for (size_t i = 0; i < c->env.n && !rc; i++)
		rc = add_record(&sb, "env", c->env.v[i], e);
	if (!rc && c->workdir)
		rc = add_record(&sb, "workdir", c->workdir, e);
	if (!rc && c->hostname)
		rc = add_record(&sb, "hostname", c->hostname, e);
	if (!rc && sb.len > CONF_FILE_MAX)
		rc = err_set(e, CRUMB_EUNSAFE,
			     "init config: %zu bytes, over crumb-init's limit of %d", sb.len,
			     CONF_FILE_MAX);
	if (!rc)
		sb_add(out, sb.buf, sb.len);
	sb_release(&sb);
	return rc;
}

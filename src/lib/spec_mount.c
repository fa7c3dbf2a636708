/* spec_mount.c: RUN --mount values (BuildKit's ParseMount): CSV fields, keys, types, checks. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "spec_int.h"

static const char *const type_names[] = {
    [SPEC_MOUNT_BIND] = "bind",	    [SPEC_MOUNT_CACHE] = "cache", [SPEC_MOUNT_TMPFS] = "tmpfs",
    [SPEC_MOUNT_SECRET] = "secret", [SPEC_MOUNT_SSH] = "ssh",
};

const char *spec_mount_type_name(enum spec_mount_type t)
{
	return (size_t)t < sizeof(type_names) / sizeof(type_names[0]) ? type_names[t] : "?";
}

void spec_mount_release(struct spec_mount *m)
{
	free(m->target);
	free(m->source);
	free(m->from);
	free(m->id);
	free(m->env);
	memset(m, 0, sizeof(*m));
}

static int fail(char *msg, size_t n, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *msg, size_t n, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, n, fmt, ap);
	va_end(ap);
	return code;
}

/* Go's encoding/csv on one line (what BuildKit splits a --mount with): fields at ',', a field
 * starting with '"' is quoted ("" is a quote inside it). -1 with the reason in msg. */
static int csv_fields(const char *s, struct strlist *out, char *msg, size_t n)
{
	struct sbuf f = SBUF_INIT;
	const char *p = s;
	for (;;) {
		sb_reset(&f);
		sb_adds(&f, "");
		if (*p == '"') {
			for (p++;; p++) {
				if (!*p) {
					sb_release(&f);
					return fail(msg, n, -1,
						    "extraneous or missing \" in quoted-field");
				}
				if (*p == '"' && p[1] == '"') {
					sb_addc(&f, '"');
					p++;
				} else if (*p == '"') {
					p++;
					break;
				} else {
					sb_addc(&f, *p);
				}
			}
			if (*p && *p != ',') {
				sb_release(&f);
				return fail(msg, n, -1, "extraneous or missing \" in quoted-field");
			}
		} else {
			for (; *p && *p != ','; p++) {
				if (*p == '"') {
					sb_release(&f);
					return fail(msg, n, -1, "bare \" in non-quoted-field");
				}
				sb_addc(&f, *p);
			}
		}
		strlist_push(out, f.buf);
		if (!*p)
			break;
		p++; /* the comma */
	}
	sb_release(&f);
	return 0;
}

/* Go's strconv.ParseBool */
static int parse_bool(const char *s, int *v)
{
	static const char *const t[] = {"1", "t", "T", "TRUE", "true", "True"};
	static const char *const f[] = {"0", "f", "F", "FALSE", "false", "False"};
	for (size_t k = 0; k < 6; k++) {
		if (!strcmp(s, t[k]))
			return *v = 1, 0;
		if (!strcmp(s, f[k]))
			return *v = 0, 0;
	}
	return -1;
}

/* strconv.ParseUint(s, base, 32) */
static int parse_u32(const char *s, int base, long *v)
{
	char *end;
	if (!*s || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	unsigned long long x = strtoull(s, &end, base);
	if (*end || errno || x > 0xffffffffull)
		return -1;
	*v = (long)x;
	return 0;
}

/* docker/go-units RAMInBytes: "64m", "1.5G", "512KiB", "100" (bytes); binary multiples. */
static int parse_ram(const char *s, uint64_t *v)
{
	char *end;
	if (!isdigit((unsigned char)*s))
		return -1;
	double x = strtod(s, &end);
	if (*end == ' ')
		end++;
	static const char units[] = "kmgtp";
	double mul = 1;
	const char *u = *end ? strchr(units, tolower((unsigned char)*end)) : NULL;
	if (u && *end) {
		for (const char *q = units; q <= u; q++)
			mul *= 1024;
		end++;
	}
	if (*end == 'i' || *end == 'I')
		end++;
	if (*end == 'b' || *end == 'B')
		end++;
	if (*end || x * mul > 9.2e18)
		return -1;
	*v = (uint64_t)(x * mul);
	return 0;
}

enum {
	K_TYPE,
	K_FROM,
	K_SOURCE,
	K_TARGET,
	K_RO,
	K_RW,
	K_REQUIRED,
	K_SIZE,
	K_ID,
	K_SHARING,
	K_MODE,
	K_UID,
	K_GID,
	K_ENV
};
static const struct {
	const char *name;
	int key;
} keys[] = {
    {"type", K_TYPE},
    {"from", K_FROM},
    {"source", K_SOURCE},
    {"src", K_SOURCE},
    {"target", K_TARGET},
    {"dst", K_TARGET},
    {"destination", K_TARGET},
    {"readonly", K_RO},
    {"ro", K_RO},
    {"readwrite", K_RW},
    {"rw", K_RW},
    {"required", K_REQUIRED},
    {"size", K_SIZE},
    {"id", K_ID},
    {"sharing", K_SHARING},
    {"mode", K_MODE},
    {"uid", K_UID},
    {"gid", K_GID},
    {"env", K_ENV},
};

/* What parse collects before the checks that depend on the type (fields come in any order). */
struct mparse {
	struct spec_mount *m;
	int ro_given, seen_required, seen_size, seen_sharing, seen_env;
	int type_deferred; /* type=$VAR at parse time: the type's checks wait */
	char *msg;
	size_t n;
};

static void set_str(char **slot, const char *v)
{
	free(*slot);
	*slot = xstrdup(v);
}

/* One KEY=VALUE field, the value substituted (or NULL: deferred, only the key is checked). */
static int field(struct mparse *p, int key, const char *field, const char *v)
{
	struct spec_mount *m = p->m;
	int b;
	switch (key) {
	case K_TYPE:
		if (!v) {
			p->type_deferred = 1;
			return 0;
		}
		for (size_t t = 0; t < sizeof(type_names) / sizeof(type_names[0]); t++)
			if (!strcasecmp(v, type_names[t])) {
				m->type = (enum spec_mount_type)t;
				return 0;
			}
		return fail(p->msg, p->n, CRUMB_EINVAL,
			    "unsupported mount type \"%s\" (bind, cache, tmpfs or secret)", v);
	case K_FROM:
		set_str(&m->from, v ? v : "$"); /* "$": given, known once substituted */
		return 0;
	case K_SOURCE:
		set_str(&m->source, v ? v : "$");
		return 0;
	case K_TARGET:
		set_str(&m->target, v ? v : "$");
		return 0;
	case K_RO:
	case K_RW:
		p->ro_given = 1;
		if (v && parse_bool(v, &b) < 0)
			return fail(p->msg, p->n, CRUMB_EINVAL, "invalid value for %s: %s", field,
				    v);
		if (v)
			m->readonly = key == K_RO ? b : !b;
		return 0;
	case K_REQUIRED:
		p->seen_required = 1;
		if (v && parse_bool(v, &b) < 0)
			return fail(p->msg, p->n, CRUMB_EINVAL, "invalid value for %s: %s", field,
				    v);
		if (v)
			m->required = b;
		return 0;
	case K_SIZE:
		p->seen_size = 1;
		if (v && parse_ram(v, &m->size) < 0)
			return fail(p->msg, p->n, CRUMB_EINVAL, "invalid size value %s", v);
		return 0;
	case K_ID:
		set_str(&m->id, v ? v : "$");
		return 0;
	case K_SHARING:
		p->seen_sharing = 1;
		if (!v)
			return 0;
		if (!strcasecmp(v, "shared"))
			m->sharing = SPEC_SHARING_SHARED;
		else if (!strcasecmp(v, "private"))
			m->sharing = SPEC_SHARING_PRIVATE;
		else if (!strcasecmp(v, "locked"))
			m->sharing = SPEC_SHARING_LOCKED;
		else
			return fail(p->msg, p->n, CRUMB_EINVAL,
				    "unsupported sharing value \"%s\" (shared, private or locked)",
				    v);
		return 0;
	case K_MODE:
	case K_UID:
	case K_GID: {
		long *slot = key == K_MODE ? &m->mode : key == K_UID ? &m->uid : &m->gid;
		if (!v) {
			*slot = 0;
			return 0;
		}
		if (parse_u32(v, key == K_MODE ? 8 : 10, slot) < 0 ||
		    (key == K_MODE && *slot > 07777))
			return fail(p->msg, p->n, CRUMB_EINVAL, "invalid value for %s: %s", field,
				    v);
		return 0;
	}
	case K_ENV:
		p->seen_env = 1;
		set_str(&m->env, v ? v : "$");
		return 0;
	}
	return 0;
}

/* The checks BuildKit makes once every field is read (and crumb's: a target where one is
 * needed, ssh refused). */
static int check_type(struct mparse *p)
{
	struct spec_mount *m = p->m;
	const char *tn = spec_mount_type_name(m->type);
	if (m->type == SPEC_MOUNT_SSH)
		return fail(p->msg, p->n, CRUMB_EUNSUPP,
			    "ssh mounts are not supported by crumb (no SSH agent is forwarded)");
	if (p->seen_required && m->type != SPEC_MOUNT_SECRET)
		return fail(p->msg, p->n, CRUMB_EINVAL,
			    "unexpected key 'required' for mount type '%s'", tn);
	if (p->seen_env && m->type != SPEC_MOUNT_SECRET)
		return fail(p->msg, p->n, CRUMB_EINVAL, "unexpected key 'env' for mount type '%s'",
			    tn);
	if (p->seen_size && m->type != SPEC_MOUNT_TMPFS)
		return fail(p->msg, p->n, CRUMB_EINVAL, "unexpected key 'size' for mount type '%s'",
			    tn);
	if (p->seen_sharing && m->type != SPEC_MOUNT_CACHE)
		return fail(p->msg, p->n, CRUMB_EINVAL, "invalid cache sharing set for %s mount",
			    tn);
	if (m->type == SPEC_MOUNT_BIND || m->type == SPEC_MOUNT_TMPFS) {
		const char *k = m->mode >= 0  ? "mode"
				: m->uid >= 0 ? "uid"
				: m->gid >= 0 ? "gid"
					      : 0;
		if (k)
			return fail(p->msg, p->n, CRUMB_EINVAL,
				    "%s not allowed for \"%s\" type mounts", k, tn);
	}
	if (m->type == SPEC_MOUNT_TMPFS && (m->from || m->source || m->id))
		return fail(p->msg, p->n, CRUMB_EINVAL,
			    "a tmpfs mount takes no %s (it starts empty)",
			    m->from	? "from"
			    : m->source ? "source"
					: "id");
	if (m->type == SPEC_MOUNT_BIND && m->id)
		return fail(p->msg, p->n, CRUMB_EINVAL,
			    "unexpected key 'id' for mount type 'bind'");
	if (m->type == SPEC_MOUNT_SECRET) {
		if (m->from)
			return fail(p->msg, p->n, CRUMB_EINVAL,
				    "secret mount should not have a from");
		if (m->source && m->id)
			return fail(p->msg, p->n, CRUMB_EINVAL, "both source and id can't be set");
		if (!m->source && !m->target && !m->id)
			return fail(p->msg, p->n, CRUMB_EINVAL,
				    "invalid secret mount: one of id, source or target required");
		return 0;
	}
	if (!m->target || !*m->target)
		return fail(p->msg, p->n, CRUMB_EINVAL, "mount type '%s' requires a target", tn);
	return 0;
}

/* The value of one field, substituted: *out NULL when deferred (lookup NULL and a '$'). */
static int subst(const char *v, char esc, spec_lookup_fn *lookup, void *ctx, char **out, char *msg,
		 size_t n)
{
	*out = NULL;
	if (!lookup && strchr(v, '$'))
		return 0;
	struct strlist w = STRLIST_INIT;
	struct err we;
	if (spec_words(v, esc, lookup, ctx, 0, &w, &we) < 0)
		return fail(msg, n, CRUMB_EINVAL, "%s", we.msg);
	*out = w.v[0];
	w.v[0] = NULL;
	strlist_release(&w);
	return 0;
}

int spec_mount_parse(const char *value, char esc, spec_lookup_fn *lookup, void *ctx,
		     struct spec_mount *m, char *msg, size_t msglen)
{
	struct strlist fields = STRLIST_INIT;
	struct mparse p = {.m = m, .msg = msg, .n = msglen};
	memset(m, 0, sizeof(*m));
	m->mode = m->uid = m->gid = -1;
	int r = csv_fields(value, &fields, msg, msglen) < 0 ? CRUMB_EINVAL : 0;
	for (size_t i = 0; r == 0 && i < fields.n; i++) {
		const char *f = fields.v[i], *eq = strchr(f, '=');
		char *k = eq ? xstrndup(f, (size_t)(eq - f)) : xstrdup(f), *v = NULL;
		for (char *c = k; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		size_t kk = 0, nk = sizeof(keys) / sizeof(keys[0]);
		while (kk < nk && strcmp(keys[kk].name, k))
			kk++;
		if (!eq) {
			/* bare words: BuildKit's readonly, readwrite and required */
			if (kk < nk && (keys[kk].key == K_RO || keys[kk].key == K_RW ||
					keys[kk].key == K_REQUIRED))
				r = field(&p, keys[kk].key, k, "true");
			else
				r = fail(msg, msglen, CRUMB_EINVAL,
					 "invalid field '%s' must be a key=value pair", f);
		} else if (kk == nk) {
			r = fail(
			    msg, msglen, CRUMB_EINVAL,
			    "unexpected key '%s' in '%s' (type, target, source, from, id, "
			    "sharing, readonly, readwrite, required, size, mode, uid, gid, env)",
			    k, f);
		} else if ((r = subst(eq + 1, esc, lookup, ctx, &v, msg, msglen)) == 0) {
			r = field(&p, keys[kk].key, k, v);
		}
		free(k);
		free(v);
	}
	strlist_release(&fields);
	if (r == 0 && !p.type_deferred)
		r = check_type(&p);
	if (r == 0 && !p.ro_given)
		m->readonly = m->type == SPEC_MOUNT_BIND || m->type == SPEC_MOUNT_SECRET;
	if (r < 0)
		spec_mount_release(m);
	return r;
}

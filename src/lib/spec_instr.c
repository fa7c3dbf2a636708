/* spec_instr.c: one Crumbfile instruction: keyword, flags, and the checks BuildKit makes on its
 * arguments. */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "spec_int.h"

enum { F_STR, F_STRS, F_BOOL, F_UNSUPP };
struct flagdef {
	const char *name;
	int type;
};

static const struct flagdef no_flags[] = {{NULL, 0}};
static const struct flagdef from_flags[] = {{"platform", F_STR}, {NULL, 0}};
static const struct flagdef copy_flags[] = {
    {"from", F_STR},  {"chown", F_STR},	     {"chmod", F_STR},	    {"link", F_BOOL},
    {"deps", F_BOOL}, {"parents", F_UNSUPP}, {"exclude", F_UNSUPP}, {NULL, 0},
};
static const struct flagdef add_flags[] = {
    {"chown", F_STR},	      {"chmod", F_STR},	     {"link", F_BOOL},	   {"checksum", F_STR},
    {"keep-git-dir", F_BOOL}, {"exclude", F_UNSUPP}, {"unpack", F_UNSUPP}, {NULL, 0},
};
static const struct flagdef run_flags[] = {
    {"network", F_STR}, {"mount", F_STRS}, {"security", F_UNSUPP}, {"device", F_UNSUPP}, {NULL, 0},
};
static const struct flagdef hc_flags[] = {
    {"interval", F_STR},       {"timeout", F_STR}, {"start-period", F_STR},
    {"start-interval", F_STR}, {"retries", F_STR}, {NULL, 0},
};

static const struct flagdef *flags_for(int kind)
{
	switch (kind) {
	case SPEC_FROM:
		return from_flags;
	case SPEC_COPY:
		return copy_flags;
	case SPEC_ADD:
		return add_flags;
	case SPEC_RUN:
		return run_flags;
	case SPEC_HEALTHCHECK:
		return hc_flags;
	default:
		return no_flags;
	}
}

/* One flag word from *pos: quotes and backslashes applied (in quotes too), as
 * BuildKit's extractBuilderFlags does; it ends at a blank outside quotes. */
static void flag_word(const char *s, size_t n, size_t *pos, struct sbuf *w)
{
	size_t i = *pos;
	char quote = 0;
	for (; i < n; i++) {
		int c = (unsigned char)s[i];
		if (quote && c == quote) {
			quote = 0;
			continue;
		}
		if (!quote && spec_isspace(c))
			break;
		if (!quote && (c == '\'' || c == '"')) {
			quote = (char)c;
			continue;
		}
		if (c == '\\') {
			if (i + 1 == n) {
				quote = 0; /* a backslash at the end is dropped */
				continue;
			}
			c = (unsigned char)s[++i];
		}
		sb_addc(w, (char)c);
	}
	*pos = i;
}

/*
 * BuildKit's extractBuilderFlags: leading words starting with "--" are
 * flags; "--" alone ends them. Returns the offset where the arguments start.
 */
static size_t extract_flags(const struct lline *ll, size_t from, struct spec_instr *in)
{
	const char *s = ll->s;
	size_t n = ll->len, pos = from, cap = 0;
	struct sbuf w = SBUF_INIT;
	for (;;) {
		while (pos < n && spec_isspace((unsigned char)s[pos]))
			pos++;
		if (pos + 1 >= n || s[pos] != '-' || s[pos + 1] != '-')
			break;
		size_t start = pos;
		sb_reset(&w);
		flag_word(s, n, &pos, &w);
		if (!strcmp(w.buf, "--")) {
			pos += pos < n; /* the blank after it */
			break;
		}
		if (in->nflags == cap)
			in->flags =
			    xrealloc(in->flags, (cap = cap ? cap * 2 : 4) * sizeof(*in->flags));
		struct spec_flag *f = &in->flags[in->nflags++];
		const char *a = w.buf + 2, *eq = strchr(a, '=');
		f->name = eq ? xstrndup(a, (size_t)(eq - a)) : xstrdup(a);
		f->value = eq ? xstrdup(eq + 1) : NULL;
		f->pos = spec_at(ll, start);
	}
	sb_release(&w);
	return pos;
}

static int check_flags(struct spec_instr *in, struct err *e)
{
	const struct flagdef *defs = flags_for((int)in->kind);
	const char *kn = spec_kind_name(in->kind);
	for (size_t i = 0; i < in->nflags; i++) {
		struct spec_flag *f = &in->flags[i];
		const struct flagdef *d = defs;
		while (d->name && strcmp(d->name, f->name))
			d++;
		if (!d->name)
			return spec_ierr(e, CRUMB_EINVAL, &f->pos, "unknown flag: %s", f->name);
		if (d->type == F_UNSUPP)
			return spec_ierr(e, CRUMB_EUNSUPP, &f->pos,
					 "%s --%s is not supported by crumb", kn, f->name);
		for (size_t j = 0; j < i; j++)
			if (!strcmp(in->flags[j].name, f->name) && d->type != F_STRS)
				return spec_ierr(e, CRUMB_EINVAL, &f->pos,
						 "duplicate flag specified: %s", f->name);
		if (d->type == F_BOOL) {
			if (f->value && !*f->value)
				return spec_ierr(e, CRUMB_EINVAL, &f->pos,
						 "missing a value on flag: %s", f->name);
			if (f->value && strcasecmp(f->value, "true") &&
			    strcasecmp(f->value, "false"))
				return spec_ierr(e, CRUMB_EINVAL, &f->pos,
						 "expecting boolean value for flag %s, not: %s",
						 f->name, f->value);
		} else if (!f->value) {
			return spec_ierr(e, CRUMB_EINVAL, &f->pos, "missing a value on flag: %s",
					 f->name);
		}
	}
	return 0;
}

/* Go's time.ParseDuration, in nanoseconds (saturating); -1 if malformed. */
static int go_duration(const char *s, double *ns)
{
	static const struct {
		const char *u;
		double mul;
	} units[] = {{"ns", 1},	  {"us", 1e3}, {"\xc2\xb5s", 1e3}, {"\xce\xbcs", 1e3},
		     {"ms", 1e6}, {"s", 1e9},  {"m", 60e9},	   {"h", 3600e9}};
	int neg = 0;
	double total = 0;
	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	if (!strcmp(s, "0")) {
		*ns = 0;
		return 0;
	}
	if (!*s)
		return -1;
	while (*s) {
		const char *st = s;
		double v = 0, frac = 0, scale = 1;
		while (isdigit((unsigned char)*s))
			v = v * 10 + (*s++ - '0');
		int pre = s > st;
		int post = 0;
		if (*s == '.') {
			s++;
			while (isdigit((unsigned char)*s)) {
				frac = frac * 10 + (*s++ - '0');
				scale *= 10;
				post = 1;
			}
		}
		if (!pre && !post)
			return -1;
		size_t k, nu = sizeof(units) / sizeof(units[0]), best = 0, bestlen = 0;
		for (k = 0; k < nu; k++) {
			size_t ul = strlen(units[k].u);
			if (!strncmp(s, units[k].u, ul) && ul > bestlen) {
				best = k;
				bestlen = ul;
			}
		}
		if (!bestlen)
			return -1;
		s += bestlen;
		total += (v + frac / scale) * units[best].mul;
	}
	*ns = neg ? -total : total;
	return 0;
}

int spec_duration(const char *s, int64_t *ns)
{
	double d;
	if (go_duration(s, &d) < 0)
		return -1;
	if (d >= 9.2e18 || d <= -9.2e18)
		*ns = d < 0 ? INT64_MIN : INT64_MAX;
	else
		*ns = (int64_t)(d < 0 ? d - 0.5 : d + 0.5);
	return 0;
}

/* what the per-instruction checks see */
struct iarg {
	struct spec_instr *in;
	const struct lline *ll;
	size_t rest_off; /* where in->rest starts in ll */
	char esc;
	struct err *e;
};

/* text (at off in the line) in exec form when it is a JSON array of strings */
static int exec_form(struct iarg *a, const char *text, size_t off)
{
	int j = spec_json_args(text, &a->in->json_args);
	if (j == JSON_NOT_STRINGS || j == JSON_NUL)
		return spec_lerr(a->e, CRUMB_EINVAL, a->ll, off, "%s", spec_json_msg(j));
	a->in->json = j == JSON_STRINGS;
	return 0;
}

/* HEALTHCHECK's flags: Go durations of at least 1ms, retries a non-negative int */
static int check_hc_flags(const struct spec_instr *in, struct err *e)
{
	static const char *const durs[] = {"interval", "timeout", "start-period", "start-interval"};
	for (size_t k = 0; k < 4; k++) {
		const struct spec_flag *f = spec_find_flag(in, durs[k]);
		double ns;
		if (!f || !*f->value)
			continue;
		if (go_duration(f->value, &ns) < 0)
			return spec_ierr(e, CRUMB_EINVAL, &f->pos, "time: invalid duration \"%s\"",
					 f->value);
		if (ns != 0 && ns < 1e6)
			return spec_ierr(e, CRUMB_EINVAL, &f->pos,
					 "Interval \"%s\" cannot be less than 1ms", durs[k]);
	}
	const struct spec_flag *f = spec_find_flag(in, "retries");
	if (!f || !*f->value)
		return 0;
	char *end;
	long long v = strtoll(f->value, &end, 10);
	if (*end || end == f->value || v > INT_MAX || v < INT_MIN)
		return spec_ierr(e, CRUMB_EINVAL, &f->pos,
				 "strconv.ParseInt: parsing \"%s\": invalid syntax", f->value);
	if (v < 0)
		return spec_ierr(e, CRUMB_EINVAL, &f->pos, "--retries cannot be negative (%lld)",
				 v);
	return 0;
}

/* HEALTHCHECK NONE | HEALTHCHECK [flags] CMD command */
static int chk_healthcheck(struct iarg *a)
{
	struct spec_instr *in = a->in;
	const char *r = in->rest;
	size_t sep = 0;
	while (r[sep] && !spec_isspace((unsigned char)r[sep]))
		sep++;
	if (!sep)
		return spec_ierr(a->e, CRUMB_EINVAL, &in->pos,
				 "HEALTHCHECK requires at least one argument");
	size_t next = sep;
	while (r[next] && spec_isspace((unsigned char)r[next]))
		next++;
	char *typ = xstrndup(r, sep);
	for (char *p = typ; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	int rc = 0;
	if (!strcmp(typ, "NONE")) {
		if (r[next])
			rc = spec_lerr(a->e, CRUMB_EINVAL, a->ll, a->rest_off + next,
				       "HEALTHCHECK NONE takes no arguments");
		else if (in->nflags)
			rc = spec_ierr(a->e, CRUMB_EINVAL, &in->flags[0].pos,
				       "HEALTHCHECK NONE takes no flags");
	} else if (strcmp(typ, "CMD")) {
		rc = spec_lerr(a->e, CRUMB_EINVAL, a->ll, a->rest_off,
			       "Unknown type \"%s\" in HEALTHCHECK (try CMD)", typ);
	} else if ((rc = exec_form(a, r + next, a->rest_off + next)) == 0) {
		if (in->json ? !in->json_args.n : !r[next])
			rc = spec_lerr(a->e, CRUMB_EINVAL, a->ll, a->rest_off,
				       "Missing command after HEALTHCHECK CMD");
		else
			rc = check_hc_flags(in, a->e);
	}
	free(typ);
	return rc;
}

static int valid_stage_name(const char *s)
{
	if (!(*s >= 'a' && *s <= 'z'))
		return 0;
	for (s++; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || isdigit((unsigned char)*s) || *s == '-' ||
		      *s == '_' || *s == '.'))
			return 0;
	return 1;
}

/* FROM image [AS name] */
static int chk_from(struct iarg *a)
{
	struct strlist args = STRLIST_INIT;
	size_t *offs = NULL;
	int rc = 0;
	spec_split_ws(a->in->rest, &args, &offs);
	if (!(args.n == 1 || (args.n == 3 && !strcasecmp(args.v[1], "as")))) {
		rc = spec_ierr(a->e, CRUMB_EINVAL, &a->in->pos,
			       "FROM requires either one or three arguments");
	} else if (args.n == 3) {
		char *low = spec_lower(args.v[2]);
		if (!valid_stage_name(low))
			rc = spec_lerr(
			    a->e, CRUMB_EINVAL, a->ll, a->rest_off + offs[2],
			    "invalid name for build stage: \"%s\", name can't start with a "
			    "number or contain symbols",
			    args.v[2]);
		free(low);
	}
	strlist_release(&args);
	free(offs);
	return rc;
}

/* ARG name[=default] ... */
static int chk_arg(struct iarg *a)
{
	struct strlist args = STRLIST_INIT;
	int rc = 0;
	spec_raw_words(a->in->rest, a->esc, &args);
	if (!args.n)
		rc = spec_ierr(a->e, CRUMB_EINVAL, &a->in->pos,
			       "ARG requires at least one argument");
	for (size_t i = 0; !rc && i < args.n; i++)
		if (args.v[i][0] == '=')
			rc = spec_lerr(a->e, CRUMB_EINVAL, a->ll, a->rest_off,
				       "ARG names can not be blank");
	strlist_release(&args);
	return rc;
}

/* ENV and LABEL: key value pairs */
static int chk_kv(struct iarg *a)
{
	struct spec_kv *kv;
	size_t n;
	char msg[512];
	const char *r = a->in->rest;
	if (spec_name_val(r, a->esc, spec_kind_name(a->in->kind), &kv, &n, msg, sizeof(msg)) < 0)
		return spec_lerr(a->e, CRUMB_EINVAL, a->ll, *r ? a->rest_off : 0, "%s", msg);
	spec_kv_free(kv, n);
	return 0;
}

/* A list-or-JSON argument (COPY, ADD, VOLUME): the words and their offsets
 * in rest (all 0 in exec form). */
static int list_args(struct iarg *a, struct strlist *args, size_t **offs)
{
	struct spec_instr *in = a->in;
	*offs = NULL;
	int rc = exec_form(a, in->rest, a->rest_off);
	if (rc < 0)
		return rc;
	if (in->json) {
		for (size_t i = 0; i < in->json_args.n; i++)
			strlist_push(args, in->json_args.v[i]);
		*offs = xcalloc(args->n + 1, sizeof(size_t));
	} else {
		spec_split_ws(in->rest, args, offs);
	}
	return 0;
}

/* COPY and ADD: sources and a destination that is no heredoc */
static int chk_copy(struct iarg *a)
{
	struct spec_instr *in = a->in;
	const char *kn = spec_kind_name(in->kind);
	struct strlist args = STRLIST_INIT;
	size_t *offs = NULL;
	char *name;
	int rc, ex, ch;
	if ((rc = list_args(a, &args, &offs)) < 0)
		goto out;
	if (args.n < 2) {
		rc = spec_ierr(a->e, CRUMB_EINVAL, &in->pos,
			       args.n == 1 ? "%s requires at least two arguments, but only one was "
					     "provided. Destination could not be determined"
					   : "%s requires at least two arguments",
			       kn);
	} else if (!in->json && spec_heredoc_marker(args.v[args.n - 1], &name, &ex, &ch)) {
		free(name);
		rc = spec_lerr(a->e, CRUMB_EINVAL, a->ll, a->rest_off + offs[args.n - 1],
			       "%s cannot accept a heredoc as a destination", kn);
	} else if (in->kind == SPEC_COPY && spec_flag_bool(in, "deps")) {
		const struct spec_flag *f = spec_find_flag(in, "from");
		if (!f || strcmp(f->value, "host"))
			rc = spec_ierr(a->e, CRUMB_EINVAL, &spec_find_flag(in, "deps")->pos,
				       "COPY --deps is only valid with --from=host");
	}
out:
	strlist_release(&args);
	free(offs);
	return rc;
}

/* RUN --mount: each value checked now (what holds a '$' once substituted, by spec_eval), so
 * a bad one stops the build before any step runs. */
static int chk_mounts(struct iarg *a)
{
	for (size_t k = 0; k < a->in->nflags; k++) {
		const struct spec_flag *f = &a->in->flags[k];
		struct spec_mount m;
		char msg[400];
		int rc;
		if (strcmp(f->name, "mount"))
			continue;
		if ((rc = spec_mount_parse(f->value, a->esc, NULL, NULL, &m, msg, sizeof(msg))) < 0)
			return spec_ierr(a->e, rc, &f->pos, "RUN --mount=%s: %s", f->value, msg);
		spec_mount_release(&m);
	}
	return 0;
}

/* RUN, CMD, ENTRYPOINT: exec or shell form; SHELL: exec form only */
static int chk_exec(struct iarg *a)
{
	struct spec_instr *in = a->in;
	int rc = exec_form(a, in->rest, a->rest_off);
	if (rc < 0)
		return rc;
	if (!in->json && !*in->rest)
		return spec_ierr(a->e, CRUMB_EINVAL, &in->pos, "%s requires at least one argument",
				 spec_kind_name(in->kind));
	if (in->kind == SPEC_SHELL && !in->json)
		return spec_lerr(a->e, CRUMB_EINVAL, a->ll, a->rest_off,
				 "SHELL requires the arguments to be in JSON form");
	if (in->kind == SPEC_SHELL && !in->json_args.n)
		return spec_lerr(a->e, CRUMB_EINVAL, a->ll, a->rest_off,
				 "SHELL requires at least one argument");
	const struct spec_flag *f = in->kind == SPEC_RUN ? spec_find_flag(in, "network") : NULL;
	if (f && strcmp(f->value, "default") && strcmp(f->value, "none") &&
	    strcmp(f->value, "host"))
		return spec_ierr(a->e, CRUMB_EINVAL, &f->pos,
				 "unsupported network mode \"%s\" for RUN --network (want default, "
				 "none or host)",
				 f->value);
	return in->kind == SPEC_RUN ? chk_mounts(a) : 0;
}

/* WORKDIR, USER, STOPSIGNAL, MAINTAINER, INCLUDE: one argument; EXPOSE: some */
static int chk_nonempty(struct iarg *a)
{
	if (*a->in->rest)
		return 0;
	const char *kn = spec_kind_name(a->in->kind);
	return a->in->kind == SPEC_EXPOSE ? spec_ierr(a->e, CRUMB_EINVAL, &a->in->pos,
						      "%s requires at least one argument", kn)
					  : spec_ierr(a->e, CRUMB_EINVAL, &a->in->pos,
						      "%s requires exactly one argument", kn);
}

/* VOLUME: paths that are not blank */
static int chk_volume(struct iarg *a)
{
	struct strlist args = STRLIST_INIT;
	size_t *offs = NULL;
	int rc = list_args(a, &args, &offs);
	if (rc == 0 && !args.n)
		rc = spec_ierr(a->e, CRUMB_EINVAL, &a->in->pos,
			       "VOLUME requires at least one argument");
	for (size_t i = 0; rc == 0 && i < args.n; i++) {
		const char *v = args.v[i];
		while (spec_isspace((unsigned char)*v))
			v++;
		if (!*v)
			rc = spec_lerr(a->e, CRUMB_EINVAL, a->ll, a->rest_off,
				       "VOLUME specified can not be an empty string");
	}
	strlist_release(&args);
	free(offs);
	return rc;
}

/* ONBUILD: its trigger, parsed (not evaluated) */
static int chk_onbuild(struct iarg *a)
{
	struct spec_instr *in = a->in;
	if (!*in->rest)
		return spec_ierr(a->e, CRUMB_EINVAL, &in->pos,
				 "ONBUILD requires at least one argument");
	in->onbuild = xcalloc(1, sizeof(*in->onbuild));
	int rc = spec_parse_instr(a->ll, a->rest_off, a->esc, in->onbuild, a->e);
	if (rc < 0)
		return rc;
	int k = (int)in->onbuild->kind;
	if (k == SPEC_ONBUILD)
		return spec_ierr(a->e, CRUMB_EINVAL, &in->onbuild->pos,
				 "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
	if (k == SPEC_FROM || k == SPEC_MAINTAINER || k == KIND_INCLUDE)
		return spec_ierr(a->e, CRUMB_EINVAL, &in->onbuild->pos,
				 "%s isn't allowed as an ONBUILD trigger", spec_kind_name(k));
	return 0;
}

static int check_args(struct iarg *a)
{
	switch ((int)a->in->kind) {
	case SPEC_FROM:
		return chk_from(a);
	case SPEC_ARG:
		return chk_arg(a);
	case SPEC_ENV:
	case SPEC_LABEL:
		return chk_kv(a);
	case SPEC_COPY:
	case SPEC_ADD:
		return chk_copy(a);
	case SPEC_RUN:
	case SPEC_CMD:
	case SPEC_ENTRYPOINT:
	case SPEC_SHELL:
		return chk_exec(a);
	case SPEC_VOLUME:
		return chk_volume(a);
	case SPEC_HEALTHCHECK:
		return chk_healthcheck(a);
	case SPEC_ONBUILD:
		return chk_onbuild(a);
	default: /* WORKDIR, USER, STOPSIGNAL, MAINTAINER, EXPOSE, INCLUDE */
		return chk_nonempty(a);
	}
}

/* One instruction from the logical line ll, starting at from. */
int spec_parse_instr(const struct lline *ll, size_t from, char esc, struct spec_instr *in,
		     struct err *e)
{
	const char *s = ll->s;
	size_t a = from, b = ll->len;
	while (a < b && spec_isspace((unsigned char)s[a]))
		a++;
	while (b > a && spec_isspace((unsigned char)s[b - 1]))
		b--;
	size_t k = a;
	while (k < b && !spec_isws((unsigned char)s[k]))
		k++;
	char *kw = xstrndup(s + a, k - a);
	memset(in, 0, sizeof(*in));
	in->pos = spec_at(ll, a);
	int kind = spec_kind_lookup(kw);
	if (kind < 0) {
		int rc = spec_ierr(e, CRUMB_EINVAL, &in->pos, "unknown instruction: %s", kw);
		free(kw);
		return rc;
	}
	free(kw);
	in->kind = (enum spec_kind)kind;
	in->original = xstrndup(s + a, b - a);

	/* flags, then the arguments (trimmed) */
	size_t r = k;
	while (r < b && spec_isws((unsigned char)s[r]))
		r++;
	if (r < b) {
		struct lline sub = *ll;
		sub.len = b;
		r = extract_flags(&sub, r, in);
	}
	while (r < b && spec_isspace((unsigned char)s[r]))
		r++;
	in->rest = xstrndup(s + r, r < b ? b - r : 0);
	in->rest_pos = spec_at(ll, r < b ? r : k);
	int rc = check_flags(in, e);
	if (!rc) {
		struct iarg ia = {in, ll, r < b ? r : k, esc, e};
		rc = check_args(&ia);
	}
	if (rc < 0)
		spec_instr_release(in);
	return rc;
}

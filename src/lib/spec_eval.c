/* spec_eval.c: what one instruction means once its variables are substituted (Docker's
 * dispatchers). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "spec_int.h"

/* ---- evaluation ---- */

void spec_eval_init(struct spec_eval *v)
{
	memset(v, 0, sizeof(*v));
	v->retries = -1;
}

void spec_eval_release(struct spec_eval *v)
{
	char *strs[] = {v->image,    v->as,	 v->platform,	  v->dest,	    v->from,
			v->chown,    v->chmod,	 v->checksum,	  v->network,	    v->value,
			v->interval, v->timeout, v->start_period, v->start_interval};
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		free(strs[i]);
	spec_kv_free(v->kv, v->nkv);
	spec_kv_free(v->heredoc_src, v->nheredoc_src);
	spec_kv_free(v->run_heredocs, v->nrun_heredocs);
	strlist_release(&v->src);
	strlist_release(&v->argv);
	free(v->ports);
	for (size_t i = 0; i < v->nmounts; i++)
		spec_mount_release(&v->mounts[i]);
	free(v->mounts);
	spec_eval_init(v);
}

struct ectx {
	const struct spec *s;
	const struct spec_instr *in;
	spec_lookup_fn *lookup;
	void *ctx;
	struct err *e;
};

/* ProcessWord (split = 0) or ProcessWords on text; errors at p */
static int ev_words(struct ectx *x, const char *text, const struct spec_pos *p, int split,
		    struct strlist *out)
{
	struct err we;
	if (spec_words(text, x->s->escape, x->lookup, x->ctx, split, out, &we) < 0)
		return spec_ierr(x->e, CRUMB_EINVAL, p, "%s", we.msg);
	return 0;
}

static int ev_word(struct ectx *x, const char *text, const struct spec_pos *p, char **out)
{
	struct strlist l = STRLIST_INIT;
	int rc = ev_words(x, text, p, 0, &l);
	*out = rc ? NULL : l.v[0];
	if (!rc)
		l.v[0] = NULL;
	strlist_release(&l);
	return rc;
}

static int ev_flag(struct ectx *x, const char *name, char **out)
{
	const struct spec_flag *f = spec_find_flag(x->in, name);
	if (!f)
		return 0;
	return ev_word(x, f->value ? f->value : "", &f->pos, out);
}

static int ev_kvs(struct ectx *x, struct spec_eval *v)
{
	const struct spec_instr *in = x->in;
	struct spec_kv *kv;
	size_t n;
	char msg[512];
	int rc = 0;
	if (spec_name_val(in->rest, x->s->escape, spec_kind_name(in->kind), &kv, &n, msg,
			  sizeof(msg)) < 0)
		return spec_ierr(x->e, CRUMB_EINVAL, &in->rest_pos, "%s", msg);
	for (size_t i = 0; i < n && !rc; i++) {
		char *k = NULL, *val = NULL;
		if ((rc = ev_word(x, kv[i].key, &in->rest_pos, &k)) < 0)
			break;
		if ((rc = ev_word(x, kv[i].value, &in->rest_pos, &val)) < 0) {
			free(k);
			break;
		}
		spec_kv_push(&v->kv, &v->nkv, k, val);
	}
	spec_kv_free(kv, n);
	return rc;
}

/* ARG pairs are evaluated in order (BuildKit's dispatchArg): a default sees
 * the pairs before it in the same instruction. */
struct seq {
	spec_lookup_fn *lookup;
	void *ctx;
	const struct spec_eval *v;
};

static const char *seq_get(void *ctx, const char *name)
{
	const struct seq *q = ctx;
	for (size_t i = q->v->nkv; i-- > 0;)
		if (q->v->kv[i].value && !strcmp(q->v->kv[i].key, name))
			return q->v->kv[i].value;
	return q->lookup ? q->lookup(q->ctx, name) : NULL;
}

int spec_arg_pairs(const struct spec *s, const struct spec_instr *in, struct spec_kv **kv,
		   size_t *n, struct err *e)
{
	struct strlist w = STRLIST_INIT;
	*kv = NULL;
	*n = 0;
	if (in->kind != SPEC_ARG)
		return spec_ierr(e, CRUMB_EINVAL, &in->pos, "%s is not ARG",
				 spec_kind_name(in->kind));
	spec_raw_words(in->rest, s->escape, &w);
	for (size_t i = 0; i < w.n; i++) {
		char *eq = strchr(w.v[i], '=');
		spec_kv_push(kv, n, eq ? xstrndup(w.v[i], (size_t)(eq - w.v[i])) : xstrdup(w.v[i]),
			     eq ? xstrdup(eq + 1) : NULL);
	}
	strlist_release(&w);
	return 0;
}

static int ev_args(struct ectx *x, struct spec_eval *v)
{
	struct spec_kv *kv;
	size_t n;
	int rc = spec_arg_pairs(x->s, x->in, &kv, &n, x->e);
	struct seq q = {x->lookup, x->ctx, v};
	struct ectx sx = *x;
	sx.lookup = seq_get;
	sx.ctx = &q;
	for (size_t i = 0; i < n && !rc; i++) {
		char *val = NULL;
		if (kv[i].value && (rc = ev_word(&sx, kv[i].value, &x->in->rest_pos, &val)) < 0)
			break;
		spec_kv_push(&v->kv, &v->nkv, xstrdup(kv[i].key), val);
	}
	spec_kv_free(kv, n);
	return rc;
}

/* COPY heredoc bodies: BuildKit's ExpandRaw (quotes kept, escapes applied) */
static int ev_body(struct ectx *x, const struct spec_heredoc *h, char **out)
{
	if (!h->expand) {
		*out = xstrdup(h->body);
		return 0;
	}
	struct lex l = {.esc = (unsigned char)x->s->escape,
			.lookup = x->lookup,
			.ctx = x->ctx,
			.skip_quotes = 1};
	struct strlist r = STRLIST_INIT;
	if (spec_lex_words(&l, h->body, 0, &r) < 0) {
		char *q = spec_quoted(h->body);
		int rc = spec_ierr(x->e, CRUMB_EINVAL, &x->in->pos,
				   "heredoc %s: failed to process %s: %s", h->name, q, l.msg);
		free(q);
		return rc;
	}
	*out = r.v[0];
	r.v[0] = NULL;
	strlist_release(&r);
	return 0;
}

static int valid_octal_mode(const char *m)
{
	if (!*m || strlen(m) > 5)
		return 0;
	unsigned long v = 0;
	for (const char *c = m; *c; c++) {
		if (*c < '0' || *c > '7')
			return 0;
		v = v * 8 + (unsigned long)(*c - '0');
	}
	return v <= 07777;
}

/* the words of a list argument: the JSON array, or rest split at blanks */
static void list_words(const struct spec_instr *in, struct strlist *out)
{
	if (in->json)
		for (size_t i = 0; i < in->json_args.n; i++)
			strlist_push(out, in->json_args.v[i]);
	else
		spec_split_ws(in->rest, out, NULL);
}

static int ev_copy(struct ectx *x, struct spec_eval *v)
{
	const struct spec_instr *in = x->in;
	struct strlist args = STRLIST_INIT;
	int rc = 0;
	list_words(in, &args);
	if (args.n < 2) {
		rc = spec_ierr(x->e, CRUMB_EINVAL, &in->pos, "%s requires at least two arguments",
			       spec_kind_name(in->kind));
		goto out;
	}
	for (size_t i = 0; i + 1 < args.n; i++) {
		char *name, *body = NULL;
		int ex, ch;
		if (!in->json && spec_heredoc_marker(args.v[i], &name, &ex, &ch)) {
			const struct spec_heredoc *h = NULL;
			for (size_t k = 0; k < in->nheredocs; k++)
				if (!strcmp(in->heredocs[k].name, name))
					h = &in->heredocs[k];
			if (!h) {
				/* a marker the line scan did not see (inside quotes) */
				spec_kv_push(&v->heredoc_src, &v->nheredoc_src, name, xstrdup(""));
				continue;
			}
			if ((rc = ev_body(x, h, &body)) < 0) {
				free(name);
				goto out;
			}
			spec_kv_push(&v->heredoc_src, &v->nheredoc_src, name, body);
			continue;
		}
		char *w;
		if ((rc = ev_word(x, args.v[i], &in->rest_pos, &w)) < 0)
			goto out;
		strlist_push_owned(&v->src, w);
	}
	if ((rc = ev_word(x, args.v[args.n - 1], &in->rest_pos, &v->dest)) < 0)
		goto out;
	if ((rc = ev_flag(x, "chown", &v->chown)) < 0 || (rc = ev_flag(x, "chmod", &v->chmod)) < 0)
		goto out;
	if (v->chmod && !valid_octal_mode(v->chmod)) {
		rc =
		    spec_ierr(x->e, CRUMB_EINVAL, &spec_find_flag(in, "chmod")->pos,
			      "invalid --chmod=%s: crumb takes an octal mode up to 7777", v->chmod);
		goto out;
	}
	v->link = spec_flag_bool(in, "link");
	if (in->kind == SPEC_COPY) {
		if ((rc = ev_flag(x, "from", &v->from)) < 0)
			goto out;
		v->deps = spec_flag_bool(in, "deps");
		if (v->deps && (!v->from || strcmp(v->from, "host"))) {
			rc = spec_ierr(x->e, CRUMB_EINVAL, &spec_find_flag(in, "deps")->pos,
				       "COPY --deps is only valid with --from=host");
			goto out;
		}
	} else {
		if ((rc = ev_flag(x, "checksum", &v->checksum)) < 0)
			goto out;
		v->keep_git_dir = spec_flag_bool(in, "keep-git-dir");
	}
out:
	strlist_release(&args);
	return rc;
}

static int parse_port(const char *w, struct spec_port *p, char *msg, size_t ml)
{
	const char *slash = strchr(w, '/');
	char *num = slash ? xstrndup(w, (size_t)(slash - w)) : xstrdup(w);
	int rc = -1;
	p->udp = 0;
	if (slash) {
		if (!strcasecmp(slash + 1, "udp"))
			p->udp = 1;
		else if (!strcasecmp(slash + 1, "sctp")) {
			snprintf(msg, ml, "EXPOSE %.100s: sctp ports are not supported by crumb",
				 w);
			goto out;
		} else if (strcasecmp(slash + 1, "tcp")) {
			snprintf(msg, ml, "invalid proto: %.100s", slash + 1);
			goto out;
		}
	}
	unsigned long a, b;
	char *end;
	const char *dash = strchr(num, '-');
	if (!isdigit((unsigned char)num[0]))
		goto bad;
	a = strtoul(num, &end, 10);
	if (dash) {
		if (end != dash || !isdigit((unsigned char)dash[1]))
			goto bad;
		b = strtoul(dash + 1, &end, 10);
	} else {
		b = a;
	}
	if (*end || a < 1 || a > 65535 || b < 1 || b > 65535)
		goto bad;
	if (b < a) {
		snprintf(msg, ml, "invalid range specified for container port: %.100s", num);
		goto out;
	}
	p->port = (unsigned)a;
	p->port_end = (unsigned)b;
	rc = 0;
	goto out;
bad:
	snprintf(msg, ml, "invalid containerPort: %.100s", num);
out:
	free(num);
	return rc;
}

/* A substituted value can bring invalid UTF-8 in (a --build-arg, a base image's ENV). */
static int eval_utf8(const struct spec_instr *in, const struct spec_eval *v, struct err *e)
{
	const char *what = NULL, *bad = NULL;
	for (size_t i = 0; !bad && i < v->nkv; i++) {
		const char *k = v->kv[i].key, *val = v->kv[i].value;
		if (spec_utf8_bad(k, strlen(k)) < strlen(k))
			bad = k, what = "name";
		else if (val && spec_utf8_bad(val, strlen(val)) < strlen(val))
			bad = k, what = "value";
	}
	if (!bad && v->value && spec_utf8_bad(v->value, strlen(v->value)) < strlen(v->value))
		bad = "", what = "value";
	for (size_t i = 0; !bad && i < v->src.n; i++)
		if (spec_utf8_bad(v->src.v[i], strlen(v->src.v[i])) < strlen(v->src.v[i]))
			bad = "", what = "path";
	if (!bad)
		return 0;
	char *q = spec_quoted(bad);
	int rc = spec_ierr(
	    e, CRUMB_EFORMAT, &in->rest_pos,
	    "%s%s%s: the %s is not valid UTF-8 after substitution (the image config holds "
	    "UTF-8 only)",
	    spec_kind_name(in->kind), *bad ? " " : "", *bad ? q : "", what);
	free(q);
	return rc;
}

/* RUN, CMD, ENTRYPOINT, SHELL, HEALTHCHECK CMD: exec form, or the shell text */
static void ev_command(const struct spec_instr *in, const char *text, struct spec_eval *v)
{
	v->json = in->json;
	if (in->json)
		for (size_t i = 0; i < in->json_args.n; i++)
			strlist_push(&v->argv, in->json_args.v[i]);
	else
		strlist_push(&v->argv, text);
}

static int ev_from(struct ectx *x, struct spec_eval *v)
{
	const struct spec_instr *in = x->in;
	struct strlist args = STRLIST_INIT;
	int rc;
	spec_split_ws(in->rest, &args, NULL);
	if (!args.n)
		rc = spec_ierr(x->e, CRUMB_EINVAL, &in->pos,
			       "FROM requires either one or three arguments");
	else if ((rc = ev_word(x, args.v[0], &in->rest_pos, &v->image)) == 0 && !*v->image)
		rc = spec_ierr(x->e, CRUMB_EINVAL, &in->rest_pos,
			       "base name (%s) should not be blank", args.v[0]);
	if (rc == 0 && args.n == 3)
		v->as = spec_lower(args.v[2]);
	if (rc == 0)
		rc = ev_flag(x, "platform", &v->platform);
	strlist_release(&args);
	return rc;
}

/* a lookup with nothing set (spec_eval's lookup may be NULL; spec_mount_parse's may not) */
static const char *no_vars(void *ctx, const char *name)
{
	(void)ctx;
	(void)name;
	return NULL;
}

static int ev_exec(struct ectx *x, struct spec_eval *v)
{
	const struct spec_instr *in = x->in;
	ev_command(in, in->rest, v);
	for (size_t i = 0; i < in->nheredocs; i++)
		spec_kv_push(&v->run_heredocs, &v->nrun_heredocs, xstrdup(in->heredocs[i].name),
			     xstrdup(in->heredocs[i].body));
	const struct spec_flag *f = in->kind == SPEC_RUN ? spec_find_flag(in, "network") : NULL;
	if (f)
		v->network = xstrdup(f->value);
	for (size_t k = 0; in->kind == SPEC_RUN && k < in->nflags; k++) {
		const struct spec_flag *mf = &in->flags[k];
		struct spec_mount m;
		char msg[400];
		int rc;
		if (strcmp(mf->name, "mount"))
			continue;
		rc = spec_mount_parse(mf->value, x->s->escape, x->lookup ? x->lookup : no_vars,
				      x->ctx, &m, msg, sizeof(msg));
		if (rc < 0)
			return spec_ierr(x->e, rc, &mf->pos, "RUN --mount=%s: %s", mf->value, msg);
		v->mounts = xrealloc(v->mounts, (v->nmounts + 1) * sizeof(*v->mounts));
		v->mounts[v->nmounts++] = m;
	}
	return 0;
}

/* WORKDIR, USER, STOPSIGNAL: one word; MAINTAINER as written (Docker never substitutes there) */
static int ev_value(struct ectx *x, struct spec_eval *v)
{
	const struct spec_instr *in = x->in;
	if (in->kind == SPEC_MAINTAINER) {
		v->value = xstrdup(in->rest);
		return 0;
	}
	int rc = ev_word(x, in->rest, &in->rest_pos, &v->value);
	if (rc == 0 && in->kind == SPEC_USER && !*v->value)
		rc = spec_ierr(x->e, CRUMB_EINVAL, &in->pos,
			       "USER %s: the user is empty (an unset variable?)", in->rest);
	return rc;
}

/* the trigger as BuildKit records it: heredocs follow with their ends */
static int ev_onbuild(struct ectx *x, struct spec_eval *v)
{
	struct sbuf t = SBUF_INIT;
	const struct spec_instr *o = x->in->onbuild;
	sb_adds(&t, o ? o->original : x->in->rest);
	for (size_t i = 0; o && i < o->nheredocs; i++)
		sb_addf(&t, "\n%s%s", o->heredocs[i].body, o->heredocs[i].name);
	v->value = sb_detach(&t);
	return 0;
}

static int ev_expose(struct ectx *x, struct spec_eval *v)
{
	const struct spec_instr *in = x->in;
	struct strlist raw = STRLIST_INIT, args = STRLIST_INIT;
	int rc = 0;
	spec_split_ws(in->rest, &raw, NULL);
	for (size_t i = 0; i < raw.n && !rc; i++)
		rc = ev_words(x, raw.v[i], &in->rest_pos, 1, &args);
	for (size_t i = 0; i < args.n && !rc; i++) {
		struct spec_port p;
		char msg[256];
		if (parse_port(args.v[i], &p, msg, sizeof(msg)) < 0) {
			rc = spec_ierr(x->e, CRUMB_EINVAL, &in->rest_pos, "%s", msg);
			break;
		}
		v->ports = xrealloc(v->ports, (v->nports + 1) * sizeof(*v->ports));
		v->ports[v->nports++] = p;
	}
	strlist_release(&raw);
	strlist_release(&args);
	return rc;
}

static int ev_volume(struct ectx *x, struct spec_eval *v)
{
	struct strlist args = STRLIST_INIT;
	int rc = 0;
	list_words(x->in, &args);
	for (size_t i = 0; i < args.n && !rc; i++) {
		char *w;
		if ((rc = ev_word(x, args.v[i], &x->in->rest_pos, &w)) == 0)
			strlist_push_owned(&v->src, w);
	}
	strlist_release(&args);
	return rc;
}

static int ev_healthcheck(struct ectx *x, struct spec_eval *v)
{
	const struct spec_instr *in = x->in;
	const char *r = in->rest;
	size_t k = 0;
	while (r[k] && !spec_isspace((unsigned char)r[k]))
		k++;
	if (k == 4 && !strncasecmp(r, "NONE", 4)) {
		v->none = 1;
		return 0;
	}
	while (r[k] && spec_isspace((unsigned char)r[k]))
		k++;
	ev_command(in, r + k, v);
	static const char *const names[] = {"interval", "timeout", "start-period",
					    "start-interval"};
	char **dst[] = {&v->interval, &v->timeout, &v->start_period, &v->start_interval};
	for (size_t i = 0; i < 4; i++) {
		const struct spec_flag *f = spec_find_flag(in, names[i]);
		if (f && *f->value)
			*dst[i] = xstrdup(f->value);
	}
	const struct spec_flag *f = spec_find_flag(in, "retries");
	if (f && *f->value)
		v->retries = atoi(f->value);
	return 0;
}

typedef int ev_fn(struct ectx *x, struct spec_eval *v);

static ev_fn *const evals[] = {
    [SPEC_FROM] = ev_from,	 [SPEC_ARG] = ev_args,
    [SPEC_ENV] = ev_kvs,	 [SPEC_LABEL] = ev_kvs,
    [SPEC_COPY] = ev_copy,	 [SPEC_ADD] = ev_copy,
    [SPEC_RUN] = ev_exec,	 [SPEC_WORKDIR] = ev_value,
    [SPEC_USER] = ev_value,	 [SPEC_EXPOSE] = ev_expose,
    [SPEC_VOLUME] = ev_volume,	 [SPEC_CMD] = ev_exec,
    [SPEC_ENTRYPOINT] = ev_exec, [SPEC_STOPSIGNAL] = ev_value,
    [SPEC_SHELL] = ev_exec,	 [SPEC_HEALTHCHECK] = ev_healthcheck,
    [SPEC_ONBUILD] = ev_onbuild, [SPEC_MAINTAINER] = ev_value,
};

int spec_eval(const struct spec *s, const struct spec_instr *in, spec_lookup_fn *lookup, void *ctx,
	      struct spec_eval *v, struct err *e)
{
	struct ectx x = {s, in, lookup, ctx, e};
	int rc = 0;
	spec_eval_init(v);
	v->kind = in->kind;
	if ((size_t)in->kind < sizeof(evals) / sizeof(evals[0]) && evals[in->kind])
		rc = evals[in->kind](&x, v);
	if (rc == 0 && spec_to_config(in->kind))
		rc = eval_utf8(in, v, e);
	if (rc < 0)
		spec_eval_release(v);
	return rc;
}

/* spec_dump.c: readable, stable dumps of a parsed Crumbfile and of evaluated instructions
 * (golden tests, `crumb build --print`). */
#include <string.h>

#include "spec_int.h"

/* ---- dumps ---- */

static void dump_flags(struct sbuf *out, const struct spec_instr *in)
{
	for (size_t i = 0; i < in->nflags; i++) {
		sb_addf(out, " --%s", in->flags[i].name);
		if (in->flags[i].value) {
			sb_addc(out, '=');
			spec_add_quoted(out, in->flags[i].value);
		}
	}
}

static void dump_list(struct sbuf *out, const struct strlist *l)
{
	sb_addc(out, '[');
	for (size_t i = 0; i < l->n; i++) {
		if (i)
			sb_addc(out, ',');
		spec_add_quoted(out, l->v[i]);
	}
	sb_addc(out, ']');
}

static void dump_pos(struct sbuf *out, const struct spec *s, const struct spec_pos *p)
{
	const char *main = s->files_.v[0];
	if (p->file != main && strcmp(p->file, main)) {
		/* included files relative to the main file's directory */
		const char *slash = strrchr(main, '/');
		size_t dl = slash ? (size_t)(slash - main) + 1 : 0;
		const char *f = p->file;
		if (dl && !strncmp(f, main, dl))
			f += dl;
		sb_addf(out, "%s:", f);
	}
	sb_addf(out, "%d:%d", p->line, p->col);
}

static void dump_instr(struct sbuf *out, const struct spec *s, const struct spec_instr *in)
{
	dump_pos(out, s, &in->pos);
	sb_addf(out, " %s", spec_kind_name(in->kind));
	dump_flags(out, in);
	if (in->json) {
		sb_adds(out, in->kind == SPEC_HEALTHCHECK ? " CMD json" : " json");
		dump_list(out, &in->json_args);
	} else if (in->kind != SPEC_ONBUILD) {
		sb_adds(out, " @");
		dump_pos(out, s, &in->rest_pos);
		sb_addc(out, ' ');
		spec_add_quoted(out, in->rest);
	}
	for (size_t i = 0; i < in->nheredocs; i++) {
		const struct spec_heredoc *h = &in->heredocs[i];
		sb_addf(out, " <<%s%s%s%s=", h->chomp ? "-" : "", h->expand ? "" : "'", h->name,
			h->expand ? "" : "'");
		spec_add_quoted(out, h->body);
	}
	if (in->onbuild) {
		sb_adds(out, " { ");
		dump_instr(out, s, in->onbuild);
		sb_adds(out, " }");
	}
}

void spec_dump(const struct spec *s, struct sbuf *out)
{
	sb_addf(out, "escape %c\n", s->escape);
	if (s->syntax) {
		sb_adds(out, "syntax ");
		spec_add_quoted(out, s->syntax);
		sb_addc(out, '\n');
	}
	for (size_t i = 0; i < s->nglobal_args; i++) {
		sb_adds(out, "global ");
		dump_instr(out, s, &s->global_args[i]);
		sb_addc(out, '\n');
	}
	for (size_t i = 0; i < s->nstages; i++) {
		sb_addf(out, "stage %zu\n", i);
		for (size_t j = 0; j < s->stages[i].ninstrs; j++) {
			sb_adds(out, "  ");
			dump_instr(out, s, &s->stages[i].instrs[j]);
			sb_addc(out, '\n');
		}
	}
}

static void dump_opt(struct sbuf *out, const char *name, const char *v)
{
	if (!v)
		return;
	sb_addf(out, " %s=", name);
	spec_add_quoted(out, v);
}

static void dump_kvs(struct sbuf *out, const char *name, const struct spec_kv *kv, size_t n)
{
	if (!n)
		return;
	sb_addf(out, " %s=[", name);
	for (size_t i = 0; i < n; i++) {
		if (i)
			sb_addc(out, ',');
		spec_add_quoted(out, kv[i].key);
		if (kv[i].value) {
			sb_addc(out, '=');
			spec_add_quoted(out, kv[i].value);
		}
	}
	sb_addc(out, ']');
}

void spec_eval_dump(const struct spec_eval *v, struct sbuf *out)
{
	sb_adds(out, spec_kind_name(v->kind));
	dump_opt(out, "image", v->image);
	dump_opt(out, "as", v->as);
	dump_opt(out, "platform", v->platform);
	dump_kvs(out, "kv", v->kv, v->nkv);
	if (v->src.n) {
		sb_adds(out, v->kind == SPEC_VOLUME ? " paths=" : " src=");
		dump_list(out, &v->src);
	}
	dump_kvs(out, "heredoc_src", v->heredoc_src, v->nheredoc_src);
	dump_opt(out, "dest", v->dest);
	dump_opt(out, "from", v->from);
	dump_opt(out, "chown", v->chown);
	dump_opt(out, "chmod", v->chmod);
	if (v->link)
		sb_adds(out, " link");
	if (v->deps)
		sb_adds(out, " deps");
	dump_opt(out, "checksum", v->checksum);
	if (v->keep_git_dir)
		sb_adds(out, " keep_git_dir");
	if (v->argv.n) {
		if (v->json) {
			sb_adds(out, " exec=");
			dump_list(out, &v->argv);
		} else {
			dump_opt(out, "shell", v->argv.v[0]);
		}
	} else if (v->json) {
		sb_adds(out, " exec=[]");
	}
	dump_kvs(out, "heredocs", v->run_heredocs, v->nrun_heredocs);
	dump_opt(out, "network", v->network);
	for (size_t i = 0; i < v->nmounts; i++) {
		const struct spec_mount *m = &v->mounts[i];
		sb_addf(out, " mount=%s", spec_mount_type_name(m->type));
		dump_opt(out, "target", m->target);
		dump_opt(out, "source", m->source);
		dump_opt(out, "from", m->from);
		dump_opt(out, "id", m->id);
		dump_opt(out, "env", m->env);
		sb_adds(out, m->readonly ? " ro" : " rw");
		if (m->required)
			sb_adds(out, " required");
		if (m->type == SPEC_MOUNT_CACHE)
			sb_adds(out, m->sharing == SPEC_SHARING_PRIVATE	 ? " sharing=private"
				     : m->sharing == SPEC_SHARING_LOCKED ? " sharing=locked"
									 : " sharing=shared");
		if (m->mode >= 0)
			sb_addf(out, " mode=%lo", (unsigned long)m->mode);
		if (m->uid >= 0)
			sb_addf(out, " uid=%ld", m->uid);
		if (m->gid >= 0)
			sb_addf(out, " gid=%ld", m->gid);
		if (m->size)
			sb_addf(out, " size=%llu", (unsigned long long)m->size);
	}
	dump_opt(out, "value", v->value);
	if (v->nports) {
		sb_adds(out, " ports=[");
		for (size_t i = 0; i < v->nports; i++) {
			const struct spec_port *p = &v->ports[i];
			sb_addf(out, "%s%u", i ? "," : "", p->port);
			if (p->port_end != p->port)
				sb_addf(out, "-%u", p->port_end);
			sb_adds(out, p->udp ? "/udp" : "/tcp");
		}
		sb_addc(out, ']');
	}
	if (v->none)
		sb_adds(out, " none");
	dump_opt(out, "interval", v->interval);
	dump_opt(out, "timeout", v->timeout);
	dump_opt(out, "start_period", v->start_period);
	dump_opt(out, "start_interval", v->start_interval);
	if (v->retries >= 0)
		sb_addf(out, " retries=%d", v->retries);
}

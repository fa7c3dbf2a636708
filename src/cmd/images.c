/* images.c: the image store verbs: `crumb images`, `inspect`, `tag`, `rmi`, `prune`, `import`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "../lib/klayer.h"
#include "../lib/minimize.h"
#include "../lib/oci.h"
#include "../lib/store.h"
#include "../lib/warm.h"
#include "cmd.h"

const char usage_images[] =
    "usage: crumb images [-q] [--digests] [--verify]\n"
    "\n"
    "Lists the tagged images in the store ($CRUMB_HOME, an OCI image layout) as a\n"
    "table: NAME, TAG, DIGEST (the manifest's, first 12 hex digits), SIZE (kernel,\n"
    "root filesystem, config and manifest) and CREATED, sorted by name and tag.\n"
    "An image whose manifest or config is missing or corrupt is listed as (broken),\n"
    "with the reason on stderr.\n";

const char usage_inspect[] =
    "usage: crumb inspect IMAGE...\n"
    "\n"
    "Prints a JSON array with one object per IMAGE (NAME[:TAG], sha256:DIGEST or at\n"
    "least 12 hex digits of one): Ref, Digest (the manifest's), Size, Created,\n"
    "Architecture, Os, ConfigDigest, Layers (media type, digest, size, title) and\n"
    "Config (Entrypoint, Cmd, Env, WorkingDir, User, ExposedPorts, Volumes, Labels,\n"
    "StopSignal, Healthcheck, OnBuild; unset fields left out). Every IMAGE found is\n"
    "printed; exit status 1 if one was not.\n"
    "\n"
    "With --minimal, a text report instead ('crumb minimize'): files and bytes before\n"
    "and after, stored sizes, the system calls the image allows (crumb.seccomp), the\n"
    "kernel features its trace touched, and for each ELF file the libc entry points it\n"
    "imports and the system calls they map to, traced (allowed) or not.\n";

const char usage_tag[] =
    "usage: crumb tag SOURCE NEWREF\n"
    "\n"
    "Points NEWREF (NAME[:TAG], default tag latest) at the image SOURCE (a reference\n"
    "or a digest). Names follow Docker's rules: lowercase components [a-z0-9]\n"
    "joined by '.', '_', '__' or '-', separated by '/', optionally after a registry\n"
    "host[:port]; a tag is [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}.\n";

const char usage_rmi[] =
    "usage: crumb rmi [-f] IMAGE...\n"
    "\n"
    "Removes tags: a NAME[:TAG] removes that tag; a digest (or 12+ hex digits of one)\n"
    "removes every tag of that image. The blobs stay until 'crumb prune'.\n";

const char usage_prune[] =
    "usage: crumb prune\n"
    "\n"
    "Deletes the blobs no tagged image references (removed images, build cache\n"
    "layers, interrupted writes) and cache entries whose blob is gone, then prints\n"
    "\"deleted N blobs, X MB\". Fails, deleting nothing, while a build or run holds\n"
    "the store, or when a tagged image's manifest is missing or corrupt.\n";

const char usage_import[] =
    "usage: crumb import -t NAME[:TAG] --kernel FILE --rootfs FILE [OPTIONS]\n"
    "\n"
    "Stores a kernel and a root filesystem you made (with 'crumb pack', 'crumb mkfs'\n"
    "or any other tool) as an image, and prints its manifest digest. The rootfs kind\n"
    "comes from its first bytes: cpio newc, gzip or zstd compressed cpio, or ext2/3/4.\n"
    "An ELF kernel (vmlinux) is stored stripped and zstd-compressed, a bzImage as it is.\n"
    "The same inputs (and SOURCE_DATE_EPOCH, the created time, default 0) give the\n"
    "same digest.\n";

static const struct opt no_opts[] = {OPT_END_};

/* Removes the snapshots (warm.h) of images no longer in the store; a failure is
 * said, the verb's status stays. */
static void warm_gc_quiet(struct oci_store *s)
{
	struct err e = {0};
	if (warm_gc_store(s, NULL, NULL, &e) < 0)
		cmd_error("snapshots: %s", e.msg);
}

/*
 * Parses argv with p into args, wants exactly `want` positional words (0: at least one; else
 * the usage error says `what`) and opens the store. Returns 0, or 1 when the verb is done with
 * *status (args released).
 */
static int store_args(const struct cmd_opts *p, int argc, char **argv, size_t want,
		      const char *what, struct strlist *args, struct oci_store **s, int *status)
{
	if (cmd_parse(p, argc, argv, args, status))
		return 1;
	if (want ? args->n != want : !args->n)
		*status = cmd_usage_error(p->verb, "%s", what);
	else if (cmd_open_store(s))
		*status = EXIT_FAIL;
	else
		return 0;
	strlist_release(args);
	return 1;
}

/* "name:tag" -> name, tag (the ':' after the last '/'); "<none>" when there is none. */
static void split_ref(const char *ref, char **name, const char **tag)
{
	const char *slash = strrchr(ref, '/'), *colon = strrchr(ref, ':');
	if (colon && (!slash || colon > slash)) {
		*name = xstrndup(ref, (size_t)(colon - ref));
		*tag = colon + 1;
	} else {
		*name = xstrdup(ref);
		*tag = "<none>";
	}
}

int cmd_images(int argc, char **argv)
{
	int quiet = 0, full = 0, verify = 0, status = 0;
	struct strlist args = STRLIST_INIT;
	const struct opt tab[] = {
	    OPT_FLAG_('q', "quiet", &quiet, "print only the digests (12 hex digits), one per line"),
	    OPT_FLAG_(0, "digests", &full, "show full sha256:... digests"),
	    OPT_FLAG_(0, "verify", &verify,
		      "also hash every blob of every image against its digest and\n"
		      "size (each shared blob once): a damaged image (a flipped byte,\n"
		      "a truncated, missing or swapped blob, a symlink in a blob's\n"
		      "place) is listed as (broken) with one line on stderr naming the\n"
		      "image and the blob, and the exit status is 1"),
	    OPT_END_,
	};
	struct cmd_opts p = {
	    .verb = "images", .tab = tab, .unknown = "unexpected argument", .no_args = 1};
	if (cmd_parse(&p, argc, argv, &args, &status))
		return status;
	struct oci_store *s;
	struct oci_entry *v;
	struct err e = {0};
	size_t n;
	if (cmd_open_store(&s))
		return EXIT_FAIL;
	if ((verify ? oci_list_verified(s, &v, &n, &e) : oci_list(s, &v, &n, &e)) < 0) {
		cmd_error_err(&e);
		oci_close(s);
		return EXIT_FAIL;
	}
	char **names = xcalloc(n + 1, sizeof(*names)), **digests = xcalloc(n + 1, sizeof(*digests));
	const char **tags = xcalloc(n + 1, sizeof(*tags));
	char(*sizes)[32] = xcalloc(n + 1, sizeof(*sizes));
	int wn = 4, wt = 3, wd = 6, ws = 4;
	for (size_t i = 0; i < n; i++) {
		split_ref(v[i].ref, &names[i], &tags[i]);
		digests[i] =
		    full ? xstrdup(v[i].manifest.digest) : xstrndup(v[i].manifest.digest + 7, 12);
		cmd_human_size(v[i].size, sizes[i]);
#define WIDEN(w, str)                                                                              \
	if ((int)strlen(str) > w)                                                                  \
	w = (int)strlen(str)
		WIDEN(wn, names[i]);
		WIDEN(wt, tags[i]);
		WIDEN(wd, digests[i]);
		WIDEN(ws, sizes[i]);
#undef WIDEN
	}
	if (!quiet)
		printf("%-*s  %-*s  %-*s  %*s  %s\n", wn, "NAME", wt, "TAG", wd, "DIGEST", ws,
		       "SIZE", "CREATED");
	for (size_t i = 0; i < n; i++) {
		if (quiet)
			printf("%s\n", digests[i]);
		else
			printf("%-*s  %-*s  %-*s  %*s  %s\n", wn, names[i], wt, tags[i], wd,
			       digests[i], ws, sizes[i],
			       v[i].error     ? "(broken)"
			       : v[i].created ? v[i].created
					      : "-");
		free(names[i]);
		free(digests[i]);
	}
	free(names);
	free(digests);
	free(tags);
	free(sizes);
	for (size_t i = 0; i < n; i++) {
		if (v[i].error && verify)
			cmd_error("image %s: %s", v[i].ref, v[i].error);
		else if (v[i].error)
			cmd_error("warning: %s: %s", v[i].ref, v[i].error);
		if (v[i].error && verify)
			status = EXIT_FAIL;
	}
	oci_entries_free(v, n);
	oci_close(s);
	return status;
}

static json_t *desc_json(const struct oci_desc *d)
{
	json_t *o = json_object();
	json_object_set_new(o, "MediaType", json_string(d->media_type));
	json_object_set_new(o, "Digest", json_string(d->digest));
	json_object_set_new(o, "Size", json_integer((json_int_t)d->size));
	const char *title = oci_layer_title(d->media_type);
	if (title)
		json_object_set_new(o, "Title", json_string(title));
	return o;
}

/* One image as inspect shows it; the config part comes from the canonical rendering. */
static json_t *inspect_json(const struct oci_image *im, struct err *e)
{
	struct sbuf b = SBUF_INIT;
	json_t *cfg = NULL;
	if (oci_config_render(&im->cfg, im->layers, im->nlayers, &b, e) < 0) {
		sb_release(&b);
		return NULL;
	}
	cfg = json_loadb(b.buf, b.len, 0, NULL);
	sb_release(&b);
	if (!cfg) {
		err_set(e, CRUMB_EFORMAT, "%s: the config cannot be shown", im->manifest.digest);
		return NULL;
	}
	json_t *o = json_object(), *layers = json_array();
	json_object_set_new(o, "Ref", im->ref ? json_string(im->ref) : json_null());
	json_object_set_new(o, "Digest", json_string(im->manifest.digest));
	json_object_set_new(o, "MediaType", json_string(im->manifest.media_type));
	json_object_set_new(o, "Size", json_integer((json_int_t)im->size));
	json_object_set(o, "Created",
			im->cfg.created ? json_object_get(cfg, "created") : json_null());
	json_object_set(o, "Architecture", json_object_get(cfg, "architecture"));
	json_object_set(o, "Os", json_object_get(cfg, "os"));
	json_object_set_new(o, "ConfigDigest", json_string(im->config.digest));
	json_object_set_new(o, "ConfigSize", json_integer((json_int_t)im->config.size));
	for (size_t i = 0; i < im->nlayers; i++)
		json_array_append_new(layers, desc_json(&im->layers[i]));
	json_object_set_new(o, "Layers", layers);
	json_t *c = json_object_get(cfg, "config");
	json_object_set_new(o, "Config", c ? json_incref(c) : json_object());
	json_decref(cfg);
	return o;
}

/* --minimal: minimize_report for each image. */
static int inspect_minimal(struct oci_store *s, const struct strlist *args)
{
	int status = 0;
	for (size_t i = 0; i < args->n; i++) {
		struct sbuf out = SBUF_INIT;
		struct err e = {0};
		if (minimize_report(s, args->v[i], &out, &e) < 0) {
			cmd_error_err(&e);
			status = EXIT_FAIL;
		}
		fputs(out.buf, stdout);
		sb_release(&out);
	}
	return status;
}

int cmd_inspect(int argc, char **argv)
{
	int status = 0, minimal = 0;
	struct strlist args = STRLIST_INIT;
	const struct opt tab[] = {
	    OPT_FLAG_(0, "minimal", &minimal,
		      "the minimisation report (crumb minimize), as text, instead of JSON"),
	    OPT_END_,
	};
	struct cmd_opts p = {.verb = "inspect", .tab = tab, .flags = OPT_STOP_AT_ARG};
	struct oci_store *s;
	if (store_args(&p, argc, argv, 0, "no IMAGE given", &args, &s, &status))
		return status;
	if (minimal) {
		status = inspect_minimal(s, &args);
		oci_close(s);
		strlist_release(&args);
		return status;
	}
	json_t *all = json_array();
	for (size_t i = 0; i < args.n; i++) {
		struct oci_image im;
		struct err e = {0};
		json_t *o = NULL;
		if (oci_image_resolve(s, args.v[i], &im, &e) < 0) {
			cmd_error_err(&e);
			status = EXIT_FAIL;
			continue;
		}
		if (!(o = inspect_json(&im, &e))) {
			cmd_error_err(&e);
			status = EXIT_FAIL;
		} else {
			json_array_append_new(all, o);
		}
		oci_image_release(&im);
	}
	char *out = json_dumps(all, JSON_INDENT(2));
	if (out) {
		puts(out);
		free(out);
	}
	json_decref(all);
	oci_close(s);
	strlist_release(&args);
	return status;
}

int cmd_tag(int argc, char **argv)
{
	struct strlist args = STRLIST_INIT;
	struct cmd_opts p = {.verb = "tag", .tab = no_opts};
	struct oci_store *s;
	struct err e = {0};
	int r;
	if (store_args(&p, argc, argv, 2, "want SOURCE and NEWREF", &args, &s, &r))
		return r;
	r = oci_tag(s, args.v[0], args.v[1], &e);
	if (r < 0)
		cmd_error_err(&e);
	oci_close(s);
	strlist_release(&args);
	return r < 0 ? (r == CRUMB_EINVAL ? EXIT_USAGE : EXIT_FAIL) : 0;
}

int cmd_rmi(int argc, char **argv)
{
	int force = 0, status = 0;
	struct strlist args = STRLIST_INIT;
	const struct opt tab[] = {
	    OPT_FLAG_('f', "force", &force, "no error for an IMAGE that is not in the store"),
	    OPT_END_,
	};
	struct cmd_opts p = {.verb = "rmi", .tab = tab, .flags = OPT_STOP_AT_ARG};
	struct oci_store *s;
	if (store_args(&p, argc, argv, 0, "no IMAGE given", &args, &s, &status))
		return status;
	for (size_t i = 0; i < args.n; i++) {
		struct err e = {0};
		int r = oci_untag(s, args.v[i], &e);
		if (r == CRUMB_ENOENT && force)
			continue;
		if (r < 0) {
			cmd_error_err(&e);
			status = EXIT_FAIL;
		} else {
			printf("untagged %s\n", args.v[i]);
		}
	}
	warm_gc_quiet(s); /* the snapshots of images now gone */
	oci_close(s);
	strlist_release(&args);
	return status;
}

int cmd_prune(int argc, char **argv)
{
	struct strlist args = STRLIST_INIT;
	struct cmd_opts p = {
	    .verb = "prune", .tab = no_opts, .unknown = "unexpected argument", .no_args = 1};
	int st;
	if (cmd_parse(&p, argc, argv, &args, &st))
		return st;
	struct oci_store *s;
	struct err e = {0};
	size_t n;
	uint64_t bytes;
	if (cmd_open_store(&s))
		return EXIT_FAIL;
	int r = oci_prune(s, &n, &bytes, &e);
	if (r == 0)
		warm_gc_quiet(s);
	if (r < 0)
		cmd_error_err(&e);
	else
		printf("deleted %zu blob%s, %.1f MB\n", n, n == 1 ? "" : "s", (double)bytes / 1e6);
	oci_close(s);
	return r < 0 ? EXIT_FAIL : 0;
}

struct import_opts {
	struct strlist tags;
	const char *kernel, *rootfs, *config_json;
	struct oci_config over; /* what the flags set, laid over --config-json's */
	int ep_set, cmd_set;	/* 1: by arguments, 2: by a JSON array */
};

/* --entrypoint/--cmd: a JSON array of strings, or one more argument. */
static int take_args(const struct opt *o, const char *v, struct strlist *l, int *set, struct err *e)
{
	if (v[0] == '[') {
		json_error_t je;
		json_t *a = json_loads(v, 0, &je);
		size_t i;
		json_t *x;
		if (!json_is_array(a)) {
			json_decref(a);
			return err_set(e, CRUMB_EINVAL, "%s: not a JSON array of strings",
				       opt_label(o));
		}
		strlist_release(l);
		json_array_foreach(a, i, x)
		{
			if (!json_is_string(x)) {
				json_decref(a);
				return err_set(e, CRUMB_EINVAL, "%s: not a JSON array of strings",
					       opt_label(o));
			}
			strlist_push(l, json_string_value(x));
		}
		json_decref(a);
		*set = 2;
		return 0;
	}
	if (*set != 1)
		strlist_release(l); /* the first flag replaces --config-json's value */
	strlist_push(l, v);
	*set = 1;
	return 0;
}

static int take_entrypoint(const struct opt *o, const char *v, void *ctx, struct err *e)
{
	struct import_opts *io = ctx;
	return take_args(o, v, &io->over.entrypoint, &io->ep_set, e);
}

static int take_cmd(const struct opt *o, const char *v, void *ctx, struct err *e)
{
	struct import_opts *io = ctx;
	return take_args(o, v, &io->over.cmd, &io->cmd_set, e);
}

/* Replaces the entry "K=..." or appends. */
static void set_env(struct strlist *env, const char *kv)
{
	size_t k = (size_t)(strchr(kv, '=') - kv);
	for (size_t i = 0; i < env->n; i++)
		if (!strncmp(env->v[i], kv, k + 1)) {
			free(env->v[i]);
			env->v[i] = xstrdup(kv);
			return;
		}
	strlist_push(env, kv);
}

/* Sets label k (klen bytes) to v, in its place or appended. */
static void set_label(struct oci_config *c, const char *k, size_t klen, const char *v)
{
	for (size_t i = 0; i < c->label_keys.n; i++)
		if (strlen(c->label_keys.v[i]) == klen && !strncmp(c->label_keys.v[i], k, klen)) {
			free(c->label_values.v[i]);
			c->label_values.v[i] = xstrdup(v);
			return;
		}
	strlist_push_owned(&c->label_keys, xstrndup(k, klen));
	strlist_push(&c->label_values, v);
}

/* "80" -> "80/tcp"; NULL when not PORT[/tcp|udp|sctp]. */
static char *port_norm(const char *p)
{
	char *end;
	long n = strtol(p, &end, 10);
	if (end == p || n < 1 || n > 65535 || p[0] == '+' || p[0] == '-')
		return NULL;
	if (!*end)
		return xasprintf("%ld/tcp", n);
	if (!strcmp(end, "/tcp") || !strcmp(end, "/udp") || !strcmp(end, "/sctp"))
		return xasprintf("%ld%s", n, end);
	return NULL;
}

static void set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = xstrdup(v);
}

/* -e, -l, -p, -w, -u: checked, then laid over the flags' config. */
static int take_setting(const struct opt *o, const char *v, void *ctx, struct err *e)
{
	struct oci_config *c = &((struct import_opts *)ctx)->over;
	const char *eq = strchr(v, '=');
	char *p;
	switch (o->sh) {
	case 'e':
		if (!eq || v[0] == '=')
			return err_set(e, CRUMB_EINVAL, "-e %s: want NAME=VALUE", v);
		set_env(&c->env, v);
		return 0;
	case 'l':
		if (!eq || v[0] == '=')
			return err_set(e, CRUMB_EINVAL, "-l %s: want KEY=VALUE", v);
		set_label(c, v, (size_t)(eq - v), eq + 1);
		return 0;
	case 'p':
		if (!(p = port_norm(v)))
			return err_set(e, CRUMB_EINVAL, "-p %s: want PORT[/tcp|udp|sctp]", v);
		if (strlist_has(&c->exposed, p))
			free(p);
		else
			strlist_push_owned(&c->exposed, p);
		return 0;
	case 'w':
		if (v[0] != '/')
			return err_set(e, CRUMB_EINVAL, "--workdir %s: want an absolute path", v);
		set_str(&c->workdir, v);
		return 0;
	default: /* 'u' */
		set_str(&c->user, v);
		return 0;
	}
}

static void import_opts_release(struct import_opts *o)
{
	strlist_release(&o->tags);
	oci_config_release(&o->over);
}

/* Parses argv into o; 0, or 1 with the exit status in *status. */
static int import_parse(struct import_opts *o, int argc, char **argv, int *status)
{
	struct strlist args = STRLIST_INIT;
	const struct opt tab[] = {
	    OPT_LIST_('t', "tag", &o->tags, "NAME[:TAG]",
		      "the image's name (repeat for more tags)"),
	    OPT_STRING_(0, "kernel", &o->kernel, "FILE", "the guest kernel (vmlinux or bzImage)"),
	    OPT_STRING_(0, "rootfs", &o->rootfs, "FILE", "the root filesystem"),
	    OPT_STRING_(0, "config-json", &o->config_json, "FILE",
			"start from this OCI image config (the options\n"
			"below override or add to it)"),
	    OPT_CALL_(0, "entrypoint", take_entrypoint, "ARG|JSON",
		      "the entrypoint: a JSON array ('[\"/bin/sh\",\"-c\"]'),\n"
		      "or one argument per repeated flag"),
	    OPT_CALL_(0, "cmd", take_cmd, "ARG|JSON",
		      "the command (arguments to the entrypoint), the\nsame way"),
	    OPT_CALL_('e', "env", take_setting, "NAME=VALUE",
		      "an environment variable (repeatable)"),
	    OPT_CALL_('w', "workdir", take_setting, "DIR", "the working directory"),
	    OPT_CALL_('u', "user", take_setting, "USER[:GROUP]", "the user the program runs as"),
	    OPT_CALL_('p', "expose", take_setting, "PORT[/PROTO]",
		      "an exposed port (tcp default; repeatable)"),
	    OPT_CALL_('l', "label", take_setting, "KEY=VALUE",
		      "a label (repeatable); crumb.* labels are run\nsettings"),
	    OPT_END_,
	};
	struct cmd_opts p = {
	    .verb = "import", .tab = tab, .unknown = "unexpected argument", .ctx = o, .no_args = 1};
	if (cmd_parse(&p, argc, argv, &args, status))
		return 1;
	if (!o->tags.n || !o->kernel || !o->rootfs) {
		*status = cmd_usage_error(
		    "import", "-t NAME[:TAG], --kernel FILE and --rootfs FILE are required");
		return 1;
	}
	for (size_t i = 0; i < o->tags.n; i++) {
		struct err e = {0};
		char *norm;
		if (oci_ref_normalize(o->tags.v[i], &norm, &e) < 0) {
			*status = cmd_usage_error("import", "%s", e.msg);
			return 1;
		}
		free(norm);
	}
	return 0;
}

/* Lays o's flags over c. */
static void import_over(const struct import_opts *o, struct oci_config *c)
{
	const struct oci_config *f = &o->over;
	if (o->ep_set) {
		strlist_release(&c->entrypoint);
		for (size_t i = 0; i < f->entrypoint.n; i++)
			strlist_push(&c->entrypoint, f->entrypoint.v[i]);
	}
	if (o->cmd_set) {
		strlist_release(&c->cmd);
		for (size_t i = 0; i < f->cmd.n; i++)
			strlist_push(&c->cmd, f->cmd.v[i]);
	}
	for (size_t i = 0; i < f->env.n; i++)
		set_env(&c->env, f->env.v[i]);
	for (size_t i = 0; i < f->label_keys.n; i++)
		set_label(c, f->label_keys.v[i], strlen(f->label_keys.v[i]), f->label_values.v[i]);
	for (size_t i = 0; i < f->exposed.n; i++)
		if (!strlist_has(&c->exposed, f->exposed.v[i]))
			strlist_push(&c->exposed, f->exposed.v[i]);
	if (f->workdir)
		set_str(&c->workdir, f->workdir);
	if (f->user)
		set_str(&c->user, f->user);
}

static int import_config(const struct import_opts *o, struct oci_config *c)
{
	struct err e = {0};
	if (o->config_json) {
		struct sbuf b = SBUF_INIT;
		int r = read_file(o->config_json, 4u << 20, &b, &e);
		int parse_err = !r && (r = oci_config_parse(b.buf, b.len, c, &e)) < 0;
		sb_release(&b);
		if (parse_err) {
			/* the parser says "image config: ..."; name the file instead */
			const char *m = strncmp(e.msg, "image config: ", 14) ? e.msg : e.msg + 14;
			cmd_error("%s: %s", o->config_json, m);
			return EXIT_FAIL;
		}
		if (r < 0) {
			cmd_error_err(&e);
			return EXIT_FAIL;
		}
	}
	import_over(o, c);
	return 0;
}

int cmd_import(int argc, char **argv)
{
	struct import_opts o;
	int r;
	memset(&o, 0, sizeof(o));
	oci_config_init(&o.over);
	if (import_parse(&o, argc, argv, &r)) {
		import_opts_release(&o);
		return r;
	}
	struct oci_config c;
	struct oci_store *s = NULL;
	struct oci_desc layers[2], manifest;
	struct err e = {0};
	const char *mt;
	int lk = -1, status = EXIT_FAIL;
	oci_config_init(&c);
	if (import_config(&o, &c))
		goto out;
	struct sde sd;
	char created[32];
	if (cmd_sde(&sd, &e) < 0) {
		cmd_error_err(&e);
		goto out;
	}
	oci_format_time(sd.epoch, created);
	c.created = xstrdup(created);
	if (oci_detect_rootfs(o.rootfs, &mt, &e) < 0) {
		cmd_error_err(&e);
		goto out;
	}
	if (cmd_open_store(&s))
		goto out;
	/* Held until the image is committed, so a prune cannot take the new blobs. */
	if ((lk = oci_lock(s, 0, &e)) < 0 || klayer_put(s, o.kernel, 1, &layers[0], &e) < 0 ||
	    oci_blob_put_file(s, o.rootfs, mt, 0, &layers[1], &e) < 0 ||
	    oci_image_commit(s, o.tags.v[0], &c, layers, 2, &manifest, &e) < 0) {
		cmd_error_err(&e);
		goto out;
	}
	for (size_t i = 1; i < o.tags.n; i++)
		if (oci_tag(s, manifest.digest, o.tags.v[i], &e) < 0) {
			cmd_error_err(&e);
			goto out;
		}
	printf("%s\n", manifest.digest);
	status = 0;
out:
	if (lk >= 0)
		close(lk);
	oci_close(s);
	oci_config_release(&c);
	import_opts_release(&o);
	return status;
}

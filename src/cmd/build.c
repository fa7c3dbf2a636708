/* build.c: `crumb build`: a Crumbfile (Dockerfile syntax) into a stored microVM image. */
#include "../lib/build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/oci.h"
#include "../lib/rootfs.h"
#include "../lib/runcfg.h"
#include "../lib/store.h"
#include "cmd.h"

const char usage_build[] =
    "usage: crumb build [-t NAME[:TAG]] [-f FILE] [--build-arg K[=V]]... [--target STAGE]\n"
    "                   [--no-cache] [--network default|none] [--kernel FILE]\n"
    "                   [--allow-host PATH]... [--add-host HOST:IP]... [--pull|--no-pull]\n"
    "                   [--secret id=ID[,src=PATH|env=VAR]]... [-q] CONTEXT\n"
    "\n"
    "Builds the Crumbfile (a Dockerfile: same syntax and semantics) in the directory\n"
    "CONTEXT into an image in the store: a kernel, a root filesystem (the last stage's\n"
    "tree plus crumb-init) and a config. FILE defaults to CONTEXT/Crumbfile, else\n"
    "CONTEXT/Dockerfile. RUN steps execute inside a builder microVM booted from the\n"
    "stage's tree (consecutive RUNs share one boot); everything else happens in\n"
    "userspace, without root. A failing step stops the build with its exit status and\n"
    "last output lines, and the store is left as it was.\n"
    "\n"
    "crumb's additions (a Crumbfile stays a valid Dockerfile):\n"
    "  COPY --from=host [--deps] SRC... DEST   files from the build machine; --deps\n"
    "                                         adds each ELF file's shared libraries\n"
    "  LABEL crumb.kernel=PATH|ID crumb.memory=256M crumb.cpus=N\n"
    "        crumb.rootfs=initramfs|ext4 crumb.publish=\"2222:22,8080:80\"\n"
    "        crumb.restart=no|on-failure|always crumb.cmdline=ARGS\n"
    "                                         the image's run config ('crumb run IMAGE')\n"
    "  INCLUDE PATH                           splice another file in (smolBSD compatible)\n"
    "\n"
    "RUN --mount as BuildKit's, for that step only and never in the image:\n"
    "  type=cache,target=DIR[,id=ID,sharing=,ro,mode=,uid=,gid=,from=,source=]\n"
    "        a directory kept per ID (default: the target) in $CRUMB_HOME/buildcache\n"
    "        across builds; its content is not part of the step's cache key\n"
    "  type=bind,target=DIR[,source=PATH,from=STAGE|IMAGE,rw]\n"
    "        the context's (or from='s) PATH, read-only (rw: writes are discarded)\n"
    "  type=tmpfs,target=DIR[,size=64m]      an empty tmpfs\n"
    "  type=secret,id=ID[,target=FILE,env=VAR,required,mode=,uid=,gid=]\n"
    "        --secret ID's bytes at /run/secrets/ID (or FILE, or in $VAR), kept\n"
    "        out of the image, the cache key, the store and the output\n"
    "  type=ssh is refused.\n"
    "\n"
    "A Crumbfile reads only its context: FROM PATH, INCLUDE and crumb.kernel=PATH\n"
    "are relative paths that must stay inside it (symlinks resolved). Host files\n"
    "enter only through COPY --from=host, judged by their resolved path: world-\n"
    "readable files under the system directories, else --allow-host. crumb.publish\n"
    "names 127.0.0.1 only; other addresses come from 'crumb run -p'.\n"
    "\n"
    "Progress goes to stderr, one line per step: [N/M] INSTRUCTION (seconds).\n"
    "Reproducible: the same inputs give the same manifest digest (file times newer\n"
    "than SOURCE_DATE_EPOCH, default 0, become it; older ones are kept).\n";

static int quiet;
static int live; /* the step line is open (no newline yet) */

/* Ends the open step line, if any. */
static void end_line(void)
{
	if (live)
		fputc('\n', stderr);
	live = 0;
}

static void on_event(void *ctx, const struct build_event *ev)
{
	(void)ctx;
	if (quiet)
		return;
	switch (ev->kind) {
	case BUILD_STEP: {
		end_line();
		char line[160];
		snprintf(line, sizeof(line), "%s", ev->text ? ev->text : "");
		line[strcspn(line, "\n")] = 0;
		fprintf(stderr, "[%d/%d] %s", ev->step, ev->nsteps, line);
		live = 1;
		break;
	}
	case BUILD_STEP_DONE:
		if (!live)
			fprintf(stderr, "[%d/%d]", ev->step, ev->nsteps);
		if (ev->cached)
			fprintf(stderr, " (cached)\n");
		else if (ev->seconds >= 0.05)
			fprintf(stderr, " (%.1fs)\n", ev->seconds);
		else
			fputc('\n', stderr);
		live = 0;
		break;
	case BUILD_OUTPUT:
		end_line();
		fprintf(stderr, "  | %s\n", ev->text);
		break;
	case BUILD_NOTE:
		end_line();
		fprintf(stderr, "crumb: note: %s\n", ev->text);
		break;
	}
	fflush(stderr);
}

/* What cmd_build's flags give, before it resolves them. */
struct build_args {
	struct build_opts *o;
	struct build_secret *secrets;
	size_t nsecrets;
	struct strlist build_args, allow, hosts;
	struct strlist pos; /* positional words: the context */
	const char *file, *tag;
	const char *gateway; /* an --add-host with host-gateway */
	int pull, no_pull;
};

static int take_build_arg(const struct opt *opt, const char *v, void *ctx, struct err *e)
{
	struct build_args *a = ctx;
	(void)opt;
	if (!*v || *v == '=')
		return err_set(e, CRUMB_EINVAL, "--build-arg %s: want NAME[=VALUE]", v);
	/* NAME alone takes its value from crumb's environment (Docker's rule); unset, it
	 * stays NAME and the ARG keeps its default */
	const char *ev = strchr(v, '=') ? NULL : cmd_getenv(v);
	strlist_push_owned(&a->build_args, ev ? xasprintf("%s=%s", v, ev) : xstrdup(v));
	return 0;
}

static int take_allow_host(const struct opt *opt, const char *v, void *ctx, struct err *e)
{
	struct build_args *a = ctx;
	(void)opt;
	if (!*v)
		return err_set(e, CRUMB_EINVAL, "--allow-host needs a path");
	strlist_push(&a->allow, v);
	return 0;
}

static int take_add_host(const struct opt *opt, const char *v, void *ctx, struct err *e)
{
	struct build_args *a = ctx;
	struct run_host h;
	(void)opt;
	int r = runcfg_add_host_parse(v, &h, e);
	if (r == 0 && !h.ip)
		a->gateway = v;
	run_host_release(&h);
	if (r == 0)
		strlist_push(&a->hosts, v);
	return r;
}

static const char *secret_getenv(void *ctx, const char *name)
{
	(void)ctx;
	return cmd_getenv(name);
}

static int take_secret(const struct opt *opt, const char *v, void *ctx, struct err *e)
{
	struct build_args *a = ctx;
	struct build_secret s;
	(void)opt;
	int r = build_secret_parse(v, secret_getenv, NULL, &s, e);
	if (r == 0) {
		a->secrets = xrealloc(a->secrets, (a->nsecrets + 1) * sizeof(*a->secrets));
		a->secrets[a->nsecrets++] = s;
	}
	return r;
}

static int take_network(const struct opt *opt, const char *v, void *ctx, struct err *e)
{
	struct build_args *a = ctx;
	(void)opt;
	if (strcmp(v, "default") && strcmp(v, "none"))
		return err_set(e, CRUMB_EINVAL, "--network %s: want default or none", v);
	a->o->network_none = !strcmp(v, "none");
	return 0;
}

/* Parses argv into a; 0, or 1 when the verb is done with *status. */
static int build_parse(struct build_args *a, int argc, char **argv, int *status)
{
	const struct opt tab[] = {
	    OPT_STRING_('t', "tag", &a->tag, "NAME[:TAG]",
			"name the image (default tag: latest); without it\n"
			"the image is stored untagged: use the digest\n"
			"crumb prints (crumb run sha256:...) until 'crumb\n"
			"prune' removes it"),
	    OPT_STRING_('f', "file", &a->file, "FILE", "the Crumbfile"),
	    OPT_CALL_(0, "build-arg", take_build_arg, "K[=V]",
		      "set an ARG (K alone: from crumb's environment)"),
	    OPT_STRING_(0, "target", &a->o->target, "STAGE",
			"build up to this stage and make it the image"),
	    OPT_FLAG_(0, "no-cache", &a->o->no_cache,
		      "redo every step, refreshing the cache (it maps\n"
		      "each step's inputs to its result, so an unchanged\n"
		      "rebuild boots nothing)"),
	    OPT_CALL_(0, "network", take_network, "default|none",
		      "the RUN steps' network: default, the builder\n"
		      "VM's eth0 on user networking (passt: the outside\n"
		      "world and DNS, never the host's 127.0.0.1); none,\n"
		      "no network card in any RUN step (RUN\n"
		      "--network=none does it for one step)"),
	    OPT_STRING_(0, "kernel", &a->o->kernel, "FILE",
			"vmlinux for the builder VM and the image\n"
			"(default: the store's crumb kernel)"),
	    OPT_CALL_(0, "allow-host", take_allow_host, "PATH",
		      "let COPY --from=host read PATH (a file, or a\n"
		      "directory and all below it) although it is not a\n"
		      "world-readable file under /usr /bin /sbin /lib*\n"
		      "/opt /etc; repeatable"),
	    OPT_CALL_(0, "add-host", take_add_host, "HOST:IP",
		      "add 'IP HOST' to /etc/hosts in RUN steps, never\n"
		      "in the image (repeatable; also HOST=IP, [IPv6];\n"
		      "host-gateway: the host's first non-loopback IPv4\n"
		      "address, as for 'crumb run')"),
	    OPT_FLAG_(0, "pull", &a->pull,
		      "pull FROM and COPY --from images again from\n"
		      "their registry (a local image, a bare name\n"
		      "stored as written, is used as it is)"),
	    OPT_FLAG_(0, "no-pull", &a->no_pull,
		      "never pull: FROM and COPY --from=IMAGE use the\n"
		      "store only (by default an image the store lacks\n"
		      "is pulled, as 'crumb pull' does)"),
	    OPT_CALL_(0, "secret", take_secret, "id=ID[,src=PATH|env=VAR]",
		      "a secret for RUN --mount=type=secret,id=ID:\n"
		      "the file PATH, the variable VAR, or (id=ID\n"
		      "alone) the variable ID when set, else the file\n"
		      "ID; never stored, cached or printed (repeatable)"),
	    OPT_FLAG_('q', "quiet", &quiet, "print only the image digest"),
	    OPT_END_,
	};
	struct cmd_opts p = {.verb = "build", .tab = tab, .ctx = a};
	if (cmd_parse(&p, argc, argv, &a->pos, status))
		return 1;
	*status = 0;
	if (a->pos.n > 1)
		*status = cmd_usage_error("build", "one CONTEXT directory only ('%s' and '%s')",
					  a->pos.v[0], a->pos.v[1]);
	else if (!a->pos.n)
		*status = cmd_usage_error("build", "missing CONTEXT (a directory, e.g. '.')");
	else if (a->pull && a->no_pull)
		*status = cmd_usage_error("build", "--pull and --no-pull: give one");
	else if (a->gateway && a->o->network_none)
		*status = cmd_usage_error(
		    "build", "--add-host %s: host-gateway needs a network (not --network none)",
		    a->gateway);
	a->o->pull = a->pull	  ? BUILD_PULL_ALWAYS
		     : a->no_pull ? BUILD_PULL_NEVER
				  : BUILD_PULL_MISSING;
	return *status != 0;
}

/* CONTEXT/Crumbfile, else CONTEXT/Dockerfile (to free); NULL after an error. */
static char *find_crumbfile(const char *context)
{
	char *f = xasprintf("%s/Crumbfile", context);
	if (access(f, F_OK) == 0)
		return f;
	free(f);
	f = xasprintf("%s/Dockerfile", context);
	if (access(f, F_OK) == 0)
		return f;
	free(f);
	cmd_error("build: no Crumbfile or Dockerfile in %s (or give -f FILE)", context);
	return NULL;
}

/* Runs the build o describes into s and prints its digest; 0 or EXIT_FAIL. */
static int build_report(struct oci_store *s, const struct build_opts *o)
{
	struct err e = {0};
	double t0 = now_monotonic();
	struct build_result res;
	if (build_run(s, o, &res, &e) < 0) {
		end_line();
		cmd_error_err(&e);
		return EXIT_FAIL;
	}
	if (!quiet)
		fprintf(stderr,
			"crumb: built %s%s%s (rootfs %.2f MB, kernel %.1f MB; %d steps, %d cached, "
			"%d builder boot%s) in %.1fs\n",
			o->tag ? o->tag : "", o->tag ? " " : "", res.manifest.digest,
			res.rootfs_size / 1e6, res.kernel_size / 1e6, res.nsteps, res.ncached,
			res.nboots, res.nboots == 1 ? "" : "s", now_monotonic() - t0);
	printf("%s\n", res.manifest.digest);
	return 0;
}

int cmd_build(int argc, char **argv)
{
	struct build_opts o = {0};
	struct build_args a = {.o = &o};
	char *fbuf = NULL, *init = NULL, *ref = NULL, *root = NULL;
	struct oci_store *s = NULL;
	struct err e = {0};
	int r;
	quiet = 0;
	o.env = cmd_env();
	if (build_parse(&a, argc, argv, &r))
		goto out;
	const char *context = a.pos.v[0];
	r = EXIT_FAIL;
	struct stat st;
	if (stat(context, &st) < 0 || !S_ISDIR(st.st_mode)) {
		cmd_error("build: context %s: not a directory", context);
		goto out;
	}
	if (!a.file && !(a.file = fbuf = find_crumbfile(context)))
		goto out;
	if (a.tag && oci_ref_normalize(a.tag, &ref, &e) < 0) {
		r = cmd_usage_error("build", "-t %s: %s", a.tag, e.msg);
		goto out;
	}
	struct sde sd; /* unset: 0, so builds are reproducible by default */
	if (cmd_sde(&sd, &e) < 0) {
		cmd_error_err(&e);
		goto out;
	}
	o.epoch = sd.epoch;
	if (o.kernel && stat(o.kernel, &st) < 0) {
		cmd_error("build: --kernel %s: no such file", o.kernel);
		goto out;
	}
	if (rootfs_find_init(cmd_env(), &init, &e) < 0 || store_root(cmd_env(), &root, &e) < 0 ||
	    oci_open(root, &s, &e) < 0) {
		cmd_error_err(&e);
		goto out;
	}
	/* No signal handlers: a killed build leaves only its temporary directory,
	 * which the next build sweeps, and QEMU dies with us (PDEATHSIG). */
	o.context = context;
	o.file = a.file;
	o.build_args = &a.build_args;
	o.allow_host = &a.allow;
	o.add_hosts = &a.hosts;
	o.secrets = a.secrets;
	o.nsecrets = a.nsecrets;
	o.tag = ref;
	o.init = init;
	o.event = on_event;
	r = build_report(s, &o);
out:
	if (s)
		oci_close(s);
	strlist_release(&a.build_args);
	strlist_release(&a.allow);
	strlist_release(&a.hosts);
	strlist_release(&a.pos);
	for (size_t k = 0; k < a.nsecrets; k++) {
		if (a.secrets[k].value)
			memset(a.secrets[k].value, 0, a.secrets[k].len);
		build_secret_release(&a.secrets[k]);
	}
	free(a.secrets);
	free(fbuf);
	free(init);
	free(ref);
	free(root);
	return r;
}

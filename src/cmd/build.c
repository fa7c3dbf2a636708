/* build.c: `crumb build`: a Crumbfile (Dockerfile syntax) into a stored microVM image. */
#include "../lib/build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/oci.h"
#include "../lib/rootfs.h"
#include "../lib/store.h"
#include "cmd.h"

const char usage_build[] =
	"usage: crumb build [-t NAME[:TAG]] [-f FILE] [--build-arg K[=V]]... [--target STAGE]\n"
	"                   [--no-cache] [--network default|none] [--kernel FILE]\n"
	"                   [--allow-host PATH]... [-q] CONTEXT\n"
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
	"Options:\n"
	"  -t, --tag NAME[:TAG]  name the image (default tag: latest); without it the\n"
	"                        image is stored untagged: use the digest crumb prints\n"
	"                        (crumb run sha256:...) until 'crumb prune' removes it\n"
	"  -f, --file FILE       the Crumbfile\n"
	"  --build-arg K[=V]     set an ARG (K alone: from crumb's environment)\n"
	"  --target STAGE        build up to this stage and make it the image\n"
	"  --no-cache            redo every step, refreshing the cache (it maps each\n"
	"                        step's inputs to its result, so an unchanged rebuild\n"
	"                        boots nothing)\n"
	"  --network default|none  the RUN steps' network: default, the builder VM's\n"
	"                        eth0 on user networking (passt: the outside world and\n"
	"                        DNS, never the host's 127.0.0.1); none, no network card\n"
	"                        in any RUN step (RUN --network=none does it for one step)\n"
	"  --kernel FILE         vmlinux for the builder VM and the image (default: the\n"
	"                        store's crumb kernel)\n"
	"  --allow-host PATH     let COPY --from=host read PATH (a file, or a directory\n"
	"                        and all below it) although it is not a world-readable\n"
	"                        file under /usr /bin /sbin /lib* /opt /etc; repeatable\n"
	"  -q, --quiet           print only the image digest\n"
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

static void on_event(void *ctx, const struct build_event *ev)
{
	(void)ctx;
	if (quiet)
		return;
	switch (ev->kind) {
	case BUILD_STEP: {
		if (live)
			fputc('\n', stderr);
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
		if (live)
			fputc('\n', stderr);
		live = 0;
		fprintf(stderr, "  | %s\n", ev->text);
		break;
	case BUILD_NOTE:
		if (live)
			fputc('\n', stderr);
		live = 0;
		fprintf(stderr, "crumb: note: %s\n", ev->text);
		break;
	}
	fflush(stderr);
}

int cmd_build(int argc, char **argv)
{
	struct build_opts o = {0};
	struct strlist args = STRLIST_INIT, allow = STRLIST_INIT;
	const char *context = NULL, *file = NULL, *tag = NULL;
	char *fbuf = NULL, *init = NULL, *ref = NULL, *root = NULL;
	struct oci_store *s = NULL;
	struct err e = {0};
	int r = EXIT_FAIL;
	quiet = 0;
	o.env = cmd_env();
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v;
		int bad = 0;
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			strlist_release(&args);
			strlist_release(&allow);
			return cmd_print_usage("build");
		} else if ((v = opt_pair("-t", "--tag", argc, argv, &i, &bad))) {
			tag = v;
		} else if ((v = opt_pair("-f", "--file", argc, argv, &i, &bad))) {
			file = v;
		} else if ((v = opt_pair(NULL, "--build-arg", argc, argv, &i, &bad))) {
			if (!*v || *v == '=') {
				r = cmd_usage_error("build", "--build-arg %s: want NAME[=VALUE]", v);
				goto out;
			}
			/* K alone takes its value from crumb's environment (Docker's rule) */
			const char *ev = strchr(v, '=') ? NULL : getenv(v);
			strlist_push_owned(&args, ev ? xasprintf("%s=%s", v, ev) : xstrdup(v));
		} else if ((v = opt_pair(NULL, "--target", argc, argv, &i, &bad))) {
			o.target = v;
		} else if ((v = opt_pair(NULL, "--kernel", argc, argv, &i, &bad))) {
			o.kernel = v;
		} else if ((v = opt_pair(NULL, "--allow-host", argc, argv, &i, &bad))) {
			if (!*v) {
				r = cmd_usage_error("build", "--allow-host needs a path");
				goto out;
			}
			strlist_push(&allow, v);
		} else if ((v = opt_pair(NULL, "--network", argc, argv, &i, &bad))) {
			if (strcmp(v, "default") && strcmp(v, "none")) {
				r = cmd_usage_error("build", "--network %s: want default or none", v);
				goto out;
			}
			o.network_none = !strcmp(v, "none");
		} else if (bad) {
			r = cmd_usage_error("build", "%s needs a value", a);
			goto out;
		} else if (!strcmp(a, "--no-cache")) {
			o.no_cache = 1;
		} else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
			quiet = 1;
		} else if (a[0] == '-' && a[1]) {
			r = cmd_usage_error("build", "unknown option '%s'", a);
			goto out;
		} else if (context) {
			r = cmd_usage_error("build", "one CONTEXT directory only ('%s' and '%s')",
					    context, a);
			goto out;
		} else {
			context = a;
		}
	}
	if (!context) {
		r = cmd_usage_error("build", "missing CONTEXT (a directory, e.g. '.')");
		goto out;
	}
	struct stat st;
	if (stat(context, &st) < 0 || !S_ISDIR(st.st_mode)) {
		cmd_error("build: context %s: not a directory", context);
		goto out;
	}
	if (!file) {
		fbuf = xasprintf("%s/Crumbfile", context);
		if (access(fbuf, F_OK) < 0) {
			free(fbuf);
			fbuf = xasprintf("%s/Dockerfile", context);
			if (access(fbuf, F_OK) < 0) {
				cmd_error("build: no Crumbfile or Dockerfile in %s (or give -f FILE)",
					  context);
				goto out;
			}
		}
		file = fbuf;
	}
	if (tag && oci_ref_normalize(tag, &ref, &e) < 0) {
		r = cmd_usage_error("build", "-t %s: %s", tag, e.msg);
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
	o.file = file;
	o.build_args = &args;
	o.allow_host = &allow;
	o.tag = ref;
	o.init = init;
	o.event = on_event;
	double t0 = now_monotonic();
	struct build_result res;
	if (build_run(s, &o, &res, &e) < 0) {
		if (live)
			fputc('\n', stderr);
		live = 0;
		cmd_error_err(&e);
		r = EXIT_FAIL;
		goto out;
	}
	if (quiet) {
		printf("%s\n", res.manifest.digest);
	} else {
		fprintf(stderr,
			"crumb: built %s%s%s (rootfs %.2f MB, kernel %.1f MB; %d steps, %d cached, "
			"%d builder boot%s) in %.1fs\n",
			ref ? ref : "", ref ? " " : "", res.manifest.digest, res.rootfs_size / 1e6,
			res.kernel_size / 1e6, res.nsteps, res.ncached, res.nboots,
			res.nboots == 1 ? "" : "s", now_monotonic() - t0);
		printf("%s\n", res.manifest.digest);
	}
	r = 0;
out:
	if (s)
		oci_close(s);
	strlist_release(&args);
	strlist_release(&allow);
	free(fbuf);
	free(init);
	free(ref);
	free(root);
	return r;
}

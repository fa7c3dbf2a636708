/* build.h: turns a parsed Crumbfile into a stored image (stages → tree → rootfs + kernel + config).
 */
#ifndef CRUMB_BUILD_H
#define CRUMB_BUILD_H

#include "hostenv.h"
#include "oci.h"
#include "spec.h"
#include "util.h"

/* What the build reports as it goes (the command prints it). */
enum build_event_kind {
	BUILD_STEP,	 /* a step starts: text = "[stage] INSTR args" */
	BUILD_STEP_DONE, /* seconds, cached */
	BUILD_OUTPUT,	 /* a line printed by a RUN step (text, without '\n') */
	BUILD_NOTE,	 /* a remark (unused build-arg, ...) */
};
struct build_event {
	enum build_event_kind kind;
	int step, nsteps; /* 1-based step number over the whole build */
	const char *text;
	double seconds;
	int cached;
};
typedef void build_event_fn(void *ctx, const struct build_event *ev);

/* A secret RUN --mount=type=secret may use (crumb build --secret): its bytes come from the file
 * path or are value (len bytes), never stored, hashed or printed by the build. */
struct build_secret {
	char *id;
	char *path;  /* a file's bytes, read when the build starts; or NULL */
	char *value; /* the bytes themselves (an environment variable's); or NULL */
	size_t len;
};
/* At most this many bytes a secret (BuildKit's limit, 500 KiB). */
#define BUILD_SECRET_MAX (500 * 1024)
/* A cpio root with at most this many bytes of files is compressed at zstd level 19, a larger
 * one at the default level 3 (level 19 costs ~0.5 s a MB). */
#define BUILD_ZSTD_MAX_BYTES (16ull << 20)

/*
 * Parses a --secret value as docker buildx does: id=ID[,src=PATH|source=PATH][,env=VAR]
 * [,type=file|env]. getenv_fn(ctx, NAME) (NULL: the variable is unset) reads the caller's
 * environment: env=VAR takes VAR's value; id=ID alone the variable ID when set, else the file
 * ID. A variable that is unset is CRUMB_ENOENT; a malformed value, a missing id or
 * an unknown key CRUMB_EINVAL, messages without the value of anything. *out's strings
 * malloc'd (build_secret_release).
 */
int build_secret_parse(const char *arg, const char *(*getenv_fn)(void *ctx, const char *name),
		       void *ctx, struct build_secret *out, struct err *e);
void build_secret_release(struct build_secret *s);

struct build_opts {
	const char *context;		  /* directory COPY/ADD read from */
	const char *file;		  /* the Crumbfile */
	const struct strlist *build_args; /* "K=V"; "K" alone: consumed, with no value
					     (cmd/ turns K set in its environment into K=V) */
	const char *target;		  /* stage to build, NULL: the last */
	const char *tag;		  /* reference to point at the image, or NULL */
	int no_cache;
	const char *init;   /* host path of crumb-init */
	const char *kernel; /* vmlinux for the builder VM and the image; NULL: the store's */
	const struct strlist *allow_host; /* host paths COPY --from=host may read beyond the
					     public system files (confine.h); NULL: none */
	const char *qemu;		  /* NULL: found on PATH */
	const struct hostenv *env; /* the builder VM's CRUMB_QEMU, CRUMB_PASST...; NULL: none */
	unsigned builder_mem_mb;   /* 0: default */
	int64_t epoch;		   /* SOURCE_DATE_EPOCH, 0 when unset: `created`, and file
				      times newer than it are written as it (clamp_time) */
	int network_none;	   /* crumb build --network none: no RUN step gets a network
				      card (as RUN --network=none does for one step) */
	const struct strlist *add_hosts;    /* --add-host values (runcfg_add_host_parse): /etc/hosts
					       lines every RUN step sees, never in the image; part
					       of the steps' cache key; NULL: none */
	const struct build_secret *secrets; /* --secret, the last of an id wins; NULL: none */
	size_t nsecrets;
	int pull; /* BUILD_PULL_*: when FROM and COPY --from=IMAGE pull from a registry */
	build_event_fn *event;
	void *ctx;
};
/* FROM REF (and COPY --from=REF) with no stage and no file of that name in the context:
 *   MISSING (default): the store's image (as written, then as a pull stores it:
 *                      REGISTRY/NAME:TAG), else a pull (registry.h);
 *   ALWAYS:  pulled again, unless it is a local image (a stored bare name);
 *   NEVER:   the store only. */
enum { BUILD_PULL_MISSING = 0, BUILD_PULL_ALWAYS, BUILD_PULL_NEVER };

struct build_result {
	struct oci_desc manifest;
	uint64_t rootfs_size, kernel_size;
	int nsteps, ncached, nboots;
	int run_status; /* a failed RUN's exit status (the build returns CRUMB_ECHILD), else 0 */
};

/*
 * The trust boundary (confine.h): FROM PATH, INCLUDE and LABEL crumb.kernel=PATH
 * read only inside the context; COPY --from=host reads public system files
 * and what allow_host names; crumb.publish names 127.0.0.1 only; STOPSIGNAL
 * must be a signal; ARG/ENV variables and labels are bounded (4096, 4 MiB per
 * stage). Each refusal names FILE:LINE:COL and comes before any builder boot
 * that follows the instruction.
 *
 * Builds o->file in o->context into the store s. Nothing reaches the index
 * unless the whole build succeeds; temporary files live in a directory under
 * the store that is removed on every exit path (and swept by the next build
 * if the process was killed). Errors name FILE:LINE:COL of the instruction.
 */
int build_run(struct oci_store *s, const struct build_opts *o, struct build_result *res,
	      struct err *e);

#endif

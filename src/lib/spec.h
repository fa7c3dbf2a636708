/* spec.h: Crumbfile (Dockerfile syntax) parser and per-instruction evaluation with Docker's
 * semantics. */
#ifndef CRUMB_SPEC_H
#define CRUMB_SPEC_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

/*
 * Two layers, as in Docker:
 *
 *  1. spec_parse/spec_parse_file: text -> a list of instructions with
 *     positions. Parser directives (# escape=, # syntax= recorded), comments,
 *     line continuations (with the escape char), JSON (exec) form detection
 *     (a JSON array of strings as Go's decoder, Docker's, reads it: lone
 *     surrogates and non-UTF-8 bytes in strings become U+FFFD, numbers are
 *     float64s; text that is no JSON, or nested deeper than 1000 levels, is
 *     shell form), heredocs (<<EOF, <<-EOF, <<"EOF" no-expand) with their
 *     bodies kept byte for byte, flags (--name=value) split off, INCLUDE
 *     expanded in place (path relative to the including file, read through
 *     the caller's spec_read_fn; its instructions keep their own
 *     file:line:col), stages split at FROM, ARGs before the first FROM kept
 *     as global args. Unknown instructions, malformed JSON, an unterminated
 *     heredoc, a flag an instruction does not take, BuildKit-only flags crumb
 *     does not support (RUN --security, ...), a malformed RUN --mount, a file
 *     without FROM: errors.
 *
 *  2. spec_eval: one instruction + a variable lookup -> its meaning
 *     (struct spec_eval), doing variable substitution exactly where Docker
 *     does it ($VAR, ${VAR}, ${VAR:-x}, ${VAR-x}, ${VAR:+x}, ${VAR+x}, with
 *     the escape char and quotes) and nowhere else (RUN, CMD, ENTRYPOINT,
 *     SHELL and HEALTHCHECK bodies are passed on untouched).
 *
 * Every error message starts with "FILE:LINE:COL: " (1-based; COL of the
 * offending character where known, else of the instruction keyword).
 *
 * Limits on hostile input: a file (and each INCLUDEd file) at most 16 MiB;
 * INCLUDE nested at most 16 deep, relative paths only, read through the
 * caller's reader (spec_read_fn: spec_read_below confines them); one word after
 * substitution at most SPEC_MAX_WORD bytes (so 40 lines of ARG A=$A$A stop
 * at the 20th with an error, not an abort); the pattern operators (${V#p},
 * ${V%p}, ${V/p/r}) examine at most SPEC_MAX_GLOB_WORK bytes per word. Text
 * that reaches the image config (ENV, LABEL, CMD, ENTRYPOINT, SHELL, USER,
 * WORKDIR, STOPSIGNAL, EXPOSE, VOLUME, HEALTHCHECK, ONBUILD) must be valid
 * UTF-8: refused at parse time at the offending byte, and at evaluation when
 * a substituted value brings invalid bytes in. USER expanding to "" (an
 * unset variable) is an error at the USER line.
 */

#define SPEC_MAX_FILE (16u << 20)
#define SPEC_MAX_WORD (1u << 20)
#define SPEC_MAX_GLOB_WORK (64u << 20)

enum spec_kind {
	SPEC_FROM,
	SPEC_ARG,
	SPEC_ENV,
	SPEC_LABEL,
	SPEC_COPY,
	SPEC_ADD,
	SPEC_RUN,
	SPEC_WORKDIR,
	SPEC_USER,
	SPEC_EXPOSE,
	SPEC_VOLUME,
	SPEC_CMD,
	SPEC_ENTRYPOINT,
	SPEC_STOPSIGNAL,
	SPEC_SHELL,
	SPEC_HEALTHCHECK,
	SPEC_ONBUILD,
	SPEC_MAINTAINER,
};

/* "FROM", "RUN", ... */
const char *spec_kind_name(enum spec_kind k);

struct spec_pos {
	const char *file; /* owned by the struct spec (interned path as given) */
	int line, col;
};

struct spec_flag {
	char *name;  /* without the dashes: "from", "chown", "link" */
	char *value; /* NULL for a bare flag (--link) */
	struct spec_pos pos;
};

struct spec_heredoc {
	char *name; /* the delimiter word, e.g. "EOF" */
	char *body; /* every line between the marker line and the delimiter, each with its '\n';
		       tabs stripped for <<- */
	int expand; /* 0 when the delimiter was quoted: no substitution in the body */
	int chomp;  /* <<- */
};

struct spec_instr {
	enum spec_kind kind;
	struct spec_pos pos;	 /* of the keyword */
	struct spec_flag *flags; /* in the order written */
	size_t nflags;
	int json;		  /* written in JSON (exec) form */
	struct strlist json_args; /* the decoded JSON array when json */
	char *rest;		  /* the text after the flags, continuations joined
				     (escape char + newline removed), comments inside
				     continuations dropped, leading/trailing blanks trimmed */
	struct spec_pos rest_pos; /* where rest starts */
	struct spec_heredoc *heredocs;
	size_t nheredocs;
	struct spec_instr *onbuild; /* ONBUILD's nested instruction (parsed, not evaluated) */
	char *original;		    /* the instruction as written (for messages and cache keys) */
};

struct spec_stage {
	struct spec_instr *from; /* = &instrs[0] */
	struct spec_instr *instrs;
	size_t ninstrs;
};

struct spec {
	char escape;			/* '\\' or '`' */
	char *syntax;			/* "# syntax=" directive value or NULL (recorded only) */
	struct spec_instr *global_args; /* ARG before the first FROM */
	size_t nglobal_args;
	struct spec_stage *stages;
	size_t nstages;
	/* private: interned file names, etc. */
	struct strlist files_;
};

/*
 * INCLUDE's reader. The parser opens no file: whoever parses gives it this.
 * name: the INCLUDE argument as written (relative: the parser refuses an
 * absolute one, and one nested more than 16 deep, before asking); path: the
 * file it names, the including file's directory joined with name, as written
 * (it may hold "..", it may not exist). Fills out with the file's bytes
 * (refusing more than SPEC_MAX_FILE) and *id with a malloc'd string that is
 * the same for every path to that one file (its real path): the parser finds
 * include cycles by it. On error: a negative CRUMB_E* code and a one-line
 * message naming name or path, without position (the parser prefixes
 * "FILE:LINE:COL: INCLUDE "); *id is then NULL.
 */
typedef int spec_read_fn(void *ctx, const char *name, const char *path, struct sbuf *out, char **id,
			 struct err *e);

struct spec_parse_opts {
	spec_read_fn *read; /* NULL: every INCLUDE is an error (CRUMB_EUNSUPP) */
	void *read_ctx;
	const char *id; /* the top file's id, as read gives them; NULL: its name */
};

/*
 * Parses a Crumbfile held in memory (len bytes; a NUL byte is an error).
 * name is used in messages and is the base of INCLUDE paths; o may be NULL
 * (INCLUDE refused). *out is malloc'd; free with spec_free. Reads no file
 * itself: INCLUDE goes through o->read.
 */
int spec_parse(const char *name, const char *buf, size_t len, const struct spec_parse_opts *o,
	       struct spec **out, struct err *e);

/*
 * The stock reader (a spec_read_fn): read_ctx is the directory, a real path,
 * that INCLUDE may read below. A path that resolves (through ".." or a
 * symlink) outside it is CRUMB_EUNSAFE "NAME: resolves outside the build
 * context"; a read error is read_file's ("PATH: reason"); *id is the real path.
 */
int spec_read_below(void *root, const char *name, const char *path, struct sbuf *out, char **id,
		    struct err *e);

/*
 * Reads the Crumbfile at path (at most SPEC_MAX_FILE bytes; read_file's
 * errors) and parses it with o, its id being path's real path. o NULL:
 * INCLUDE reads with spec_read_below below the directory that holds path.
 */
int spec_parse_file(const char *path, const struct spec_parse_opts *o, struct spec **out,
		    struct err *e);
void spec_free(struct spec *s);

/* Returns the value of NAME or NULL if unset. */
typedef const char *spec_lookup_fn(void *ctx, const char *name);

struct spec_kv {
	char *key;
	char *value; /* NULL for "ARG NAME" without default */
};

struct spec_port {
	unsigned port, port_end; /* a range "8000-8010" or port_end == port */
	int udp;
};

/* RUN --mount=type=TYPE,...: BuildKit's mount types (ssh is parsed only to be refused). */
enum spec_mount_type {
	SPEC_MOUNT_BIND,
	SPEC_MOUNT_CACHE,
	SPEC_MOUNT_TMPFS,
	SPEC_MOUNT_SECRET,
	SPEC_MOUNT_SSH
};
enum spec_mount_sharing { SPEC_SHARING_SHARED, SPEC_SHARING_PRIVATE, SPEC_SHARING_LOCKED };

/* One RUN --mount, its values substituted. Strings owned by the struct (NULL: not given). */
struct spec_mount {
	enum spec_mount_type type; /* default bind, as BuildKit's */
	char *target;		   /* target=/dst=/destination= as written (relative: below
				      WORKDIR); a secret's may be NULL */
	char *source;		   /* source=/src= */
	char *from;		   /* from= a stage name or index, or an image */
	char *id;		   /* id= (cache: default the target; secret: the secret's id,
				      default the target's last component) */
	char *env;		   /* secret env=: the variable the secret is also put in */
	int readonly;		   /* ro/readonly, rw/readwrite; default: bind and secret read-only,
				      cache and tmpfs read-write */
	int required;		   /* secret required= */
	enum spec_mount_sharing sharing;
	long mode, uid, gid; /* mode= (octal), uid=, gid=; -1 when not given */
	uint64_t size;	     /* tmpfs size= in bytes; 0: not given */
};

/* "bind", "cache", ... */
const char *spec_mount_type_name(enum spec_mount_type t);
void spec_mount_release(struct spec_mount *m);

/*
 * One --mount value (BuildKit's ParseMount): comma-separated KEY=VALUE fields
 * (CSV quoting), keys case-insensitive, each value substituted through lookup
 * as one word (Docker's ProcessWord with the escape char esc). lookup NULL:
 * a parse-time check that skips every value holding a '$' (it is checked
 * once substituted; such a string field is "$" in m). Refused: an unknown
 * type or key, a key the type does not take (size= but for tmpfs, sharing=
 * but for cache, required= and env= but for secrets, mode/uid/gid for bind
 * and tmpfs), a bad boolean, octal mode, id or size, a bind/cache/tmpfs
 * without target, a secret with from= or with both source= and id=,
 * type=ssh (CRUMB_EUNSUPP). On error a negative code and the reason in msg
 * (no position), m left empty.
 */
int spec_mount_parse(const char *value, char esc, spec_lookup_fn *lookup, void *ctx,
		     struct spec_mount *m, char *msg, size_t msglen);

/* The meaning of an instruction after substitution. Every field is owned by the struct. */
struct spec_eval {
	enum spec_kind kind;
	/* FROM */
	char *image;	/* "scratch", a stage name, an image ref, a path */
	char *as;	/* AS name (lowercased as Docker does) or NULL */
	char *platform; /* --platform or NULL */
	/* ARG, ENV, LABEL (both "K V" and "K=V ..." forms) */
	struct spec_kv *kv;
	size_t nkv;
	/* COPY, ADD: sources (globs kept unexpanded), dest; heredoc sources as
	 * (name, body) in heredoc_src with the body already expanded when it should be */
	struct strlist src;
	char *dest;
	struct spec_kv *heredoc_src;
	size_t nheredoc_src;
	char *from;	/* --from */
	char *chown;	/* --chown */
	char *chmod;	/* --chmod (validated octal) */
	int link;	/* --link */
	int deps;	/* crumb's --deps (only with --from=host) */
	char *checksum; /* ADD --checksum */
	int keep_git_dir;
	/* RUN, CMD, ENTRYPOINT, SHELL, HEALTHCHECK CMD: exec form in argv with
	 * json = 1; shell form: json = 0 and the command text in argv.v[0] */
	int json;
	struct strlist argv;
	struct spec_kv *run_heredocs; /* RUN <<EOF: (name, body) in order */
	size_t nrun_heredocs;
	char *network;		   /* RUN --network=default|none|host, or NULL */
	struct spec_mount *mounts; /* RUN --mount, in the order written */
	size_t nmounts;
	/* WORKDIR, USER, STOPSIGNAL: the expanded value; MAINTAINER: as written
	 * (Docker substitutes nothing there); ONBUILD: the trigger as written */
	char *value;
	/* EXPOSE */
	struct spec_port *ports;
	size_t nports;
	/* VOLUME: paths in src */
	/* HEALTHCHECK: none = 1 for NONE; options as given (Go durations kept as text) */
	int none;
	char *interval, *timeout, *start_period, *start_interval;
	int retries; /* -1 when not given */
};

void spec_eval_init(struct spec_eval *v);
void spec_eval_release(struct spec_eval *v);

/* A Go duration ("1m30s", "500ms", as HEALTHCHECK's flags take) in nanoseconds,
 * rounded and saturating at INT64_MAX: 0, or -1 when malformed. */
int spec_duration(const char *s, int64_t *ns);

/*
 * Evaluates i with variables from lookup (may be NULL: none set), as they are
 * before i. What the build engine keeps doing itself (Docker's scoping):
 *  - FROM (image, --platform) and COPY --from see only global ARGs (and
 *    --build-arg values); a stage sees its ENVs and the ARGs it declared.
 *  - ENV and LABEL pairs all see the variables from before the instruction
 *    (ENV a=1 b=$a: b is the old a).
 *  - ARG pairs go in order: each default sees the defaults of the pairs
 *    before it in the same instruction (kv[].value is the substituted default,
 *    NULL for none). A --build-arg value replaces a default as is, never
 *    substituted, and an ARG without default in a stage takes the global
 *    ARG's value; an engine wanting later pairs to see such values evaluates
 *    spec_arg_pairs one by one with spec_words (split = 0).
 *  - RUN, CMD, ENTRYPOINT, SHELL, HEALTHCHECK, ONBUILD and MAINTAINER are
 *    not substituted; RUN heredoc bodies neither (the shell expands them
 *    when the heredoc's expand is set); COPY/ADD heredoc bodies are
 *    (BuildKit's rules: quotes kept, escapes applied) unless quoted.
 * Errors (bad substitution, bad --chmod, bad port, "unsupported" forms)
 * carry i's file:line:col.
 */
int spec_eval(const struct spec *s, const struct spec_instr *i, spec_lookup_fn *lookup, void *ctx,
	      struct spec_eval *out, struct err *e);

/* ARG NAME[=DEFAULT] ...: the pairs as written (value NULL without a default,
 * nothing substituted). *kv is malloc'd, like its strings. */
int spec_arg_pairs(const struct spec *s, const struct spec_instr *i, struct spec_kv **kv, size_t *n,
		   struct err *e);

/* Docker's word processing of one string: quotes removed, escapes applied,
 * variables substituted; with split, fields are separated at unquoted blanks. */
int spec_words(const char *text, char escape, spec_lookup_fn *lookup, void *ctx, int split,
	       struct strlist *out, struct err *e);

/* A readable, stable dump of the parsed file (for golden tests and
 * `crumb build --print`): one line per instruction with position, flags,
 * form and its arguments, escaped. */
void spec_dump(const struct spec *s, struct sbuf *out);

/* One line (no newline) showing every set field of v, escaped: for golden
 * tests and `crumb build --print`. */
void spec_eval_dump(const struct spec_eval *v, struct sbuf *out);

#endif

/* cmd.h: the subcommand table and the helpers subcommands use to talk to the user. */
#ifndef CRUMB_CMD_H
#define CRUMB_CMD_H

#include "../lib/hostenv.h"
#include "../lib/opt.h"
#include "../lib/util.h"

/*
 * Exit statuses of crumb itself (documented in `crumb help`):
 *   0   success
 *   1   the operation failed (message on stderr)
 *   2   usage error: bad flags or arguments
 * `crumb run` instead exits with the guest program's status, or:
 *   123 the guest kernel panicked
 *   124 --timeout expired
 *   125 crumb failed before or while running the VM (usage errors included)
 *   126 the program was found in the VM but could not be executed
 *   127 the program was not found in the VM
 *   128+N the program was killed by signal N
 */
enum {
	EXIT_FAIL = 1,
	EXIT_USAGE = 2,
	EXIT_RUN_PANIC = 123,
	EXIT_RUN_TIMEOUT = 124,
	EXIT_RUN_FAIL = 125
};

struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv); /* argv[0] is the verb */
	const char *summary;		  /* one line for `crumb help` */
	const char *usage;		  /* full text for `crumb help VERB` / VERB --help */
};

/* The table in main.c; terminated by a zeroed entry. */
extern const struct cmd crumb_commands[];
const struct cmd *cmd_lookup(const char *name);

/* "crumb: MESSAGE\n" on stderr. */
void cmd_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints e->msg as a crumb error. */
void cmd_error_err(const struct err *e);
/* Usage error: prints the message and "see 'crumb help VERB'"; returns EXIT_USAGE. */
int cmd_usage_error(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints the verb's usage to stdout and returns 0 (for -h/--help). */
int cmd_print_usage(const char *verb);

/* How a verb parses its options (cmd_parse). */
struct cmd_opts {
	const char *verb;
	const struct opt *tab;	/* the verb's table (opt.h) */
	unsigned flags;		/* OPT_STOP_AT_ARG, OPT_KEEP_DASHDASH */
	const char *unknown;	/* the words before an unknown option as written, e.g.
				 * "unexpected argument" ('-x'); NULL: "unknown option" */
	void *ctx;		/* the table's callbacks' ctx */
	const struct opt *help; /* the options --help lists; NULL: tab's (kernel lists build's) */
	int no_args;		/* refuse positional words as unknown options are refused */
};
/*
 * Parses argv with p's table (opt_parse_at; positional words onto args). Returns 0 to carry on,
 * or 1 when the verb is done and returns *status: 0 after -h/--help printed its usage and
 * options (cmd_print_help); EXIT_USAGE after a usage error: "<unknown> '<word>'" for an unknown
 * option or a flag given a value (--all=1), else the parser's or the callback's message ("--tag
 * needs a value"), or for a positional word when p->no_args. args is released then.
 */
int cmd_parse(const struct cmd_opts *p, int argc, char **argv, struct strlist *args, int *status);
/* Prints the verb's usage text, then, when tab has help lines, "Options:" and opt_help's
 * lines; returns 0. `crumb help VERB` runs `VERB --help`, so both print this. */
int cmd_print_help(const char *verb, const struct opt *tab);

#define DECLARE_CMD(n)                                                                             \
	int cmd_##n(int argc, char **argv);                                                        \
	extern const char usage_##n[]
DECLARE_CMD(help);
DECLARE_CMD(version);
DECLARE_CMD(ldd);
DECLARE_CMD(kernel);
DECLARE_CMD(run);
DECLARE_CMD(warm);
DECLARE_CMD(minimize);
DECLARE_CMD(pack);
DECLARE_CMD(mkfs);
DECLARE_CMD(fs);
DECLARE_CMD(images);
DECLARE_CMD(inspect);
DECLARE_CMD(tag);
DECLARE_CMD(rmi);
DECLARE_CMD(prune);
DECLARE_CMD(import);
DECLARE_CMD(save);
DECLARE_CMD(load);
DECLARE_CMD(build);
DECLARE_CMD(ps);
DECLARE_CMD(stop);
DECLARE_CMD(kill);
DECLARE_CMD(logs);
DECLARE_CMD(rm);
DECLARE_CMD(volume);
DECLARE_CMD(pull);
DECLARE_CMD(push);
DECLARE_CMD(login);
DECLARE_CMD(logout);

/* Shared by run and pack: the --exec/--add/-e/--compress options and building the initramfs. */
struct exec_opts {
	const char *program;
	struct strlist adds, args, env;
	int compress; /* enum compress */
};
/* The options' entries for a verb's opt table (opt.h): --exec PATH, --add H[:G],
 * -e/--env K=V, --compress ALG. The callbacks take the opt_parse context as a
 * struct exec_opts: pass x itself, or a struct whose first member is x. */
int exec_opt_exec(const struct opt *o, const char *v, void *ctx, struct err *e);
int exec_opt_env(const struct opt *o, const char *v, void *ctx, struct err *e);
int exec_opt_compress(const struct opt *o, const char *v, void *ctx, struct err *e);
#define EXEC_OPTS_TABLE(x)                                                                         \
	OPT_CALL_(0, "exec", exec_opt_exec, "PATH", NULL),                                         \
	    OPT_LIST_(0, "add", &(x)->adds, "H[:G]", NULL),                                        \
	    OPT_CALL_('e', "env", exec_opt_env, "K=V", NULL),                                      \
	    OPT_CALL_(0, "compress", exec_opt_compress, "none|gzip|zstd", NULL)
void exec_opts_release(struct exec_opts *o);
/* Builds the tree for o and writes it as a cpio at out; *bytes gets the
 * uncompressed content size. Prints errors; returns 0 or an exit status. */
int exec_opts_pack(const struct exec_opts *o, const char *out, unsigned long long *bytes);
/* Opens the store ($CRUMB_HOME...): 0, or EXIT_FAIL after printing why. */
struct oci_store;
int cmd_open_store(struct oci_store **s);
/* n bytes for people: "512 B", "3.1 kB", "4.2 MB", "1.1 GB". */
void cmd_human_size(uint64_t n, char out[32]);
/* The environment, read on the first call (env.c) and never again: every verb passes this
 * down in its library options; nothing else in crumb calls getenv(). */
const struct hostenv *cmd_env(void);
/* A variable the user names (build --build-arg NAME): NULL when unset, "" when set empty. */
const char *cmd_getenv(const char *name);
/* SOURCE_DATE_EPOCH from the environment: the one place crumb reads it,
 * validated (sde_parse); 0, or CRUMB_EINVAL with a one-line message in e. */
int cmd_sde(struct sde *out, struct err *e);

/* The flags that shape a VM, parsed alike by run and warm (vmflags.c). Each callback finds
 * where its value goes in its option's dst, a struct vm_flags: use OPT_VM_. */
struct run_opts;
struct vm_port;
struct vm_flags {
	struct run_opts *ro;
	struct vm_port *ports; /* RUNPLAN_MAX_PORTS of them; ro->nports counts them */
};
#define OPT_VM_(s, n, f, flags, a, h)                                                              \
	{                                                                                          \
		OPT_CALL, (s), (n), (flags), (f), (a), (h)                                         \
	}
int vmflag_memory(const struct opt *o, const char *v, void *ctx, struct err *e);  /* -m SIZE */
int vmflag_cpus(const struct opt *o, const char *v, void *ctx, struct err *e);	  /* -c N */
int vmflag_publish(const struct opt *o, const char *v, void *ctx, struct err *e); /* -p PORTS */
int vmflag_net(const struct opt *o, const char *v, void *ctx, struct err *e);	  /* --net */
int vmflag_cmdline(const struct opt *o, const char *v, void *ctx, struct err *e); /* --cmdline */
int vmflag_accel(const struct opt *o, const char *v, void *ctx, struct err *e);	  /* --accel */

#endif

/* registry.c: crumb pull, push, login, logout (the registry client is src/lib/registry.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "../lib/creds.h"
#include "../lib/oci.h"
#include "../lib/ref.h"
#include "../lib/registry.h"
#include "../lib/store.h"
#include "cmd.h"

const char usage_pull[] =
    "usage: crumb pull [OPTIONS] REFERENCE\n"
    "\n"
    "Fetches an image from a registry into the store, by Docker's reference rules:\n"
    "'alpine' is docker.io/library/alpine:latest, 'host:port/name:tag' names a registry,\n"
    "'NAME@sha256:HEX' a digest. An image index (multi-platform) is resolved for\n"
    "linux/amd64 (--platform). Blobs the store has are not fetched again; each blob is\n"
    "checked against its digest and size before it is stored; an interrupted pull keeps\n"
    "what it fetched and the next one resumes there. The image is stored as\n"
    "REGISTRY/NAME:TAG (a pull by digest alone stores it untagged: use the digest).\n"
    "Prints the manifest's digest; a line per blob on stderr.\n"
    "Credentials come from 'crumb login' (Docker's config.json) or --creds. HTTPS is\n"
    "verified with the system's CAs and any *.crt in ~/.config/containers/certs.d/HOST/,\n"
    "/etc/containers/certs.d/HOST/ or /etc/docker/certs.d/HOST/; localhost and 127.0.0.0/8\n"
    "registries may answer plain HTTP, others with --tls-verify=false.\n";

const char usage_push[] =
    "usage: crumb push [OPTIONS] IMAGE [DESTINATION]\n"
    "\n"
    "Sends a stored image to a registry: to DESTINATION (REGISTRY/NAME[:TAG]), else to\n"
    "IMAGE's own name, which must then name a registry (crumb tag sshd\n"
    "127.0.0.1:5000/sshd:1 first). Blobs the registry has are not sent again; each blob\n"
    "is read from the store verified. The manifest's own bytes are sent, so the\n"
    "registry's digest is the store's; prints it. Credentials and TLS as for pull.\n";

const char usage_login[] =
    "usage: crumb login [-u USER] [-p PASSWORD | --password-stdin] [REGISTRY]\n"
    "\n"
    "Checks the credentials with REGISTRY (host[:port]; default docker.io) and keeps them\n"
    "as Docker does: base64 in the \"auths\" of $DOCKER_CONFIG/config.json, else\n"
    "~/.docker/config.json (mode 0600), where docker, skopeo and podman find them too.\n"
    "Without -p or --password-stdin the password is asked on the terminal.\n";

const char usage_logout[] = "usage: crumb logout [REGISTRY]\n"
			    "\n"
			    "Removes the credentials kept for REGISTRY (default docker.io).\n";

struct regflags {
	struct reg_opts ro;
	const char *platform, *creds, *jobs, *rate;
	int quiet, pushing;
};

static int opt_tls(const struct opt *o, const char *v, void *ctx, struct err *e)
{
	struct regflags *f = ctx;
	if (!strcmp(v, "true") || !strcmp(v, "1"))
		f->ro.insecure = 0;
	else if (!strcmp(v, "false") || !strcmp(v, "0"))
		f->ro.insecure = 1;
	else
		return err_set(e, CRUMB_EINVAL, "--tls-verify wants true or false, not '%s'", v);
	return 0;
}

#define REG_TLS_OPT                                                                                \
	OPT_CALL_(0, "tls-verify", opt_tls, "BOOL",                                                \
		  "false: accept any certificate and plain HTTP (default true)")
#define REG_CREDS_OPT                                                                              \
	OPT_STRING_(0, "creds", &f.creds, "USER[:PASS]",                                           \
		    "these credentials instead of the kept ones")

/* Checks what the flags gave and fills f->ro; an exit status, or 0. */
static int finish_flags(const char *verb, struct regflags *f)
{
	f->ro.env = cmd_env();
	if (f->platform) {
		const char *sl = strchr(f->platform, '/');
		if (!sl || sl == f->platform || !sl[1])
			return cmd_usage_error(verb, "--platform wants OS/ARCH[/VARIANT], not '%s'",
					       f->platform);
		f->ro.platform = f->platform;
	}
	if (f->creds) {
		const char *c = strchr(f->creds, ':');
		static char user[256];
		size_t n = c ? (size_t)(c - f->creds) : strlen(f->creds);
		if (n == 0 || n >= sizeof(user))
			return cmd_usage_error(verb, "--creds wants USER[:PASSWORD]");
		memcpy(user, f->creds, n);
		user[n] = 0;
		f->ro.user = user;
		f->ro.pass = c ? c + 1 : "";
	}
	char *end;
	if (f->jobs) {
		long j = strtol(f->jobs, &end, 10);
		if (*end || j < 1 || j > 32)
			return cmd_usage_error(verb, "--jobs wants 1 to 32, not '%s'", f->jobs);
		f->ro.jobs = (int)j;
	}
	if (f->rate) {
		errno = 0;
		long long v = strtoll(f->rate, &end, 10);
		long long mul = *end == 'k' || *end == 'K' ? 1000 : *end == 'M' ? 1000000 : 1;
		if (mul > 1)
			end++;
		if (errno || *end || v < 1 || v > (1LL << 40) / mul)
			return cmd_usage_error(verb,
					       "--limit-rate wants bytes per second (N, Nk, NM), "
					       "not '%s'",
					       f->rate);
		f->ro.limit_rate = v * mul;
	}
	return 0;
}

static void progress(void *ctx, enum reg_event ev, const struct reg_blob *b)
{
	const struct regflags *f = ctx;
	char sz[32], at[32];
	if (f->quiet)
		return;
	cmd_human_size(b->size, sz);
	switch (ev) {
	case REG_BLOB_FETCH:
		if (b->resumed_at) {
			cmd_human_size(b->resumed_at, at);
			fprintf(stderr, "%.19s: resuming at %s of %s\n", b->digest, at, sz);
		} else {
			fprintf(stderr, "%.19s: fetching %s\n", b->digest, sz);
		}
		break;
	case REG_BLOB_PUSH:
		fprintf(stderr, "%.19s: pushing %s\n", b->digest, sz);
		break;
	case REG_BLOB_DONE:
	case REG_BLOB_PUSHED: {
		double mbs = b->secs > 0 ? (double)(b->size - b->resumed_at) / b->secs / 1e6 : 0;
		fprintf(stderr, "%.19s: done, %s in %.2f s (%.1f MB/s)\n", b->digest, sz, b->secs,
			mbs);
		break;
	}
	case REG_BLOB_HAVE:
		fprintf(stderr, "%.19s: %s (%s)\n", b->digest,
			f->pushing ? "the registry has it" : "already in the store", sz);
		break;
	}
	fflush(stderr);
}

/* pull's and push's start: options, min..max positional words, the flags checked, progress
 * lines wired. 1 when the verb is done with *status (help, a usage error). */
static int verb_args(const char *verb, const struct opt *tab, struct regflags *f, int argc,
		     char **argv, size_t min, size_t max, const char *want, struct strlist *args,
		     int *status)
{
	struct cmd_opts p = {.verb = verb, .tab = tab, .ctx = f};
	if (cmd_parse(&p, argc, argv, args, status))
		return 1;
	if (args->n < min || args->n > max)
		*status = cmd_usage_error(verb, "%s", want);
	else
		*status = finish_flags(verb, f);
	if (*status) {
		strlist_release(args);
		return 1;
	}
	f->ro.progress = progress;
	f->ro.ctx = f;
	return 0;
}

int cmd_pull(int argc, char **argv)
{
	struct regflags f = {0};
	struct strlist args = STRLIST_INIT;
	const struct opt tab[] = {
	    OPT_STRING_(0, "platform", &f.platform, "OS/ARCH[/VARIANT]",
			"the image of an index to take (default linux/amd64)"),
	    REG_TLS_OPT,
	    REG_CREDS_OPT,
	    OPT_STRING_('j', "jobs", &f.jobs, "N", "blobs fetched at once (default 4)"),
	    OPT_STRING_(0, "limit-rate", &f.rate, "BYTES",
			"at most BYTES per second per blob (N, Nk, NM)"),
	    OPT_FLAG_('q', "quiet", &f.quiet, "no line per blob"),
	    OPT_END_,
	};
	int status;
	if (verb_args("pull", tab, &f, argc, argv, 1, 1, "want one REFERENCE", &args, &status))
		return status;
	struct imgref r;
	struct err e = {0};
	struct oci_store *s = NULL;
	struct oci_desc md;
	int rc = imgref_parse(args.v[0], &r, &e);
	if (rc < 0) {
		cmd_error_err(&e);
		strlist_release(&args);
		return EXIT_USAGE;
	}
	if (cmd_open_store(&s)) {
		status = EXIT_FAIL;
	} else if ((rc = reg_pull(s, &r, &f.ro, &md, &e)) < 0) {
		cmd_error_err(&e);
		status = EXIT_FAIL;
	} else {
		char *name = imgref_store_name(&r);
		if (!f.quiet)
			fprintf(stderr, "stored %s\n", name ? name : md.digest);
		printf("%s\n", md.digest);
		free(name);
	}
	if (s)
		oci_close(s);
	imgref_release(&r);
	strlist_release(&args);
	return status;
}

int cmd_push(int argc, char **argv)
{
	struct regflags f = {0};
	struct strlist args = STRLIST_INIT;
	const struct opt tab[] = {
	    REG_TLS_OPT,
	    REG_CREDS_OPT,
	    OPT_FLAG_('q', "quiet", &f.quiet, "no line per blob"),
	    OPT_END_,
	};
	f.pushing = 1;
	int status;
	if (verb_args("push", tab, &f, argc, argv, 1, 2, "want IMAGE [DESTINATION]", &args,
		      &status))
		return status;
	const char *dst = args.n == 2 ? args.v[1] : args.v[0];
	struct imgref r = {0};
	struct oci_image im = {0};
	struct err e = {0};
	struct oci_store *s = NULL;
	int rc;
	if (!ref_has_domain(dst) && args.n == 1) {
		cmd_error("push: '%s' names no registry: give a DESTINATION (REGISTRY/NAME[:TAG]) "
			  "or 'crumb tag' it REGISTRY/NAME[:TAG] first",
			  dst);
		strlist_release(&args);
		return EXIT_USAGE;
	}
	if ((rc = imgref_parse(dst, &r, &e)) < 0 || (r.digest && (rc = -1))) {
		if (rc == -1)
			cmd_error("push: the destination '%s' names a digest: give a tag", dst);
		else
			cmd_error_err(&e);
		imgref_release(&r);
		strlist_release(&args);
		return EXIT_USAGE;
	}
	if (cmd_open_store(&s)) {
		status = EXIT_FAIL;
	} else if ((rc = oci_image_resolve(s, args.v[0], &im, &e)) < 0 ||
		   (rc = reg_push(s, &im, &r, &f.ro, &e)) < 0) {
		cmd_error_err(&e);
		status = EXIT_FAIL;
	} else {
		char *to = imgref_string(&r);
		if (!f.quiet)
			fprintf(stderr, "pushed %s\n", to);
		printf("%s\n", im.manifest.digest);
		free(to);
	}
	oci_image_release(&im);
	if (s)
		oci_close(s);
	imgref_release(&r);
	strlist_release(&args);
	return status;
}

/* A line from fd 0 (the password), its newline cut; NULL at once on EOF. */
static char *read_line(FILE *in)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n = getline(&line, &cap, in);
	if (n < 0) {
		free(line);
		return NULL;
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = 0;
	return line;
}

/* Asks for the password on the terminal, without echo. */
static char *ask_password(const char *user, const char *registry)
{
	FILE *tty = fopen("/dev/tty", "r+");
	if (!tty)
		return NULL;
	struct termios t, quiet;
	int fd = fileno(tty), have = tcgetattr(fd, &t) == 0;
	fprintf(tty, "Password for %s at %s: ", user, registry);
	fflush(tty);
	if (have) {
		quiet = t;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(fd, TCSAFLUSH, &quiet);
	}
	char *pw = read_line(tty);
	if (have)
		tcsetattr(fd, TCSAFLUSH, &t);
	fprintf(tty, "\n");
	fclose(tty);
	return pw;
}

/* REGISTRY as the user gave it (default docker.io), reduced to host[:port]. */
static char *registry_arg(const struct strlist *args)
{
	if (!args->n)
		return xstrdup(REF_DOCKER_HUB);
	char *k = creds_key(args->v[0]);
	if (!strcmp(k, CREDS_DOCKER_HUB_KEY)) {
		free(k);
		return xstrdup(REF_DOCKER_HUB);
	}
	return k;
}

int cmd_login(int argc, char **argv)
{
	struct regflags f = {0};
	const char *user = NULL, *pass = NULL;
	int from_stdin = 0;
	struct strlist args = STRLIST_INIT;
	const struct opt tab[] = {
	    OPT_STRING_('u', "username", &user, "USER", "the user name"),
	    OPT_STRING_('p', "password", &pass, "PASSWORD",
			"the password (visible to other users in ps: prefer --password-stdin)"),
	    OPT_FLAG_(0, "password-stdin", &from_stdin, "read the password from stdin"),
	    REG_TLS_OPT,
	    OPT_END_,
	};
	struct cmd_opts p = {.verb = "login", .tab = tab, .ctx = &f};
	int status;
	if (cmd_parse(&p, argc, argv, &args, &status))
		return status;
	if (args.n > 1 || (pass && from_stdin)) {
		strlist_release(&args);
		return cmd_usage_error("login", args.n > 1 ? "want at most one REGISTRY"
							   : "-p and --password-stdin: give one");
	}
	if ((status = finish_flags("login", &f))) {
		strlist_release(&args);
		return status;
	}
	char *reg = registry_arg(&args), *pw = NULL, *path = NULL;
	strlist_release(&args);
	struct err e = {0};
	if (!user) {
		cmd_error("login: give the user name (-u USER)");
		free(reg);
		return EXIT_USAGE;
	}
	if (from_stdin)
		pw = read_line(stdin);
	else if (pass)
		pw = xstrdup(pass);
	else
		pw = ask_password(user, reg);
	if (!pw) {
		cmd_error(
		    "login: no password given (-p, --password-stdin, or a terminal to ask on)");
		free(reg);
		return EXIT_USAGE;
	}
	f.ro.user = user;
	f.ro.pass = pw;
	int rc = creds_path(f.ro.env, &path, &e);
	if (rc == 0)
		rc = reg_login(reg, &f.ro, &e);
	if (rc == 0)
		rc = creds_set(path, reg, user, pw, &e);
	if (rc < 0) {
		cmd_error_err(&e);
		status = EXIT_FAIL;
	} else {
		printf("Login Succeeded (%s; kept in %s)\n", reg, path);
	}
	explicit_bzero(pw, strlen(pw));
	free(pw);
	free(path);
	free(reg);
	return status;
}

int cmd_logout(int argc, char **argv)
{
	struct strlist args = STRLIST_INIT;
	static const struct opt tab[] = {OPT_END_};
	struct cmd_opts p = {.verb = "logout", .tab = tab};
	int status;
	if (cmd_parse(&p, argc, argv, &args, &status))
		return status;
	if (args.n > 1) {
		strlist_release(&args);
		return cmd_usage_error("logout", "want at most one REGISTRY");
	}
	char *reg = registry_arg(&args), *path = NULL;
	strlist_release(&args);
	struct err e = {0};
	int rc = creds_path(cmd_env(), &path, &e);
	if (rc == 0)
		rc = creds_remove(path, reg, &e);
	if (rc < 0) {
		cmd_error_err(&e);
		status = EXIT_FAIL;
	} else {
		printf(rc ? "Removing login credentials for %s\n" : "Not logged in to %s\n", reg);
	}
	free(path);
	free(reg);
	return status;
}

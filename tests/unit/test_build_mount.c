/* test_build_mount.c: RUN --mount without a builder: --secret values, which steps may share a
 * boot (secrets, disks), targets, and what a group's mounts become in crumb-init's config. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/build_int.h"
#include "tap.h"

static const char *fake_env(void *ctx, const char *name)
{
	(void)ctx;
	if (!strcmp(name, "TOKEN"))
		return "from-env";
	if (!strcmp(name, "tok"))
		return "from-tok";
	return NULL;
}

static void test_secret_parse(void)
{
	struct build_secret s;
	struct err e;
	is_int(build_secret_parse("id=a,src=/x/y", fake_env, NULL, &s, &e), 0, "id=a,src=PATH");
	ok(s.id && !strcmp(s.id, "a") && s.path && !strcmp(s.path, "/x/y") && !s.value,
	   "... a file secret");
	build_secret_release(&s);
	is_int(build_secret_parse("id=a,source=/x", fake_env, NULL, &s, &e), 0, "source= too");
	build_secret_release(&s);
	is_int(build_secret_parse("id=a,env=TOKEN", fake_env, NULL, &s, &e), 0, "id=a,env=VAR");
	ok(s.value && !strcmp(s.value, "from-env") && s.len == 8 && !s.path, "... its value");
	build_secret_release(&s);
	is_int(build_secret_parse("id=tok", fake_env, NULL, &s, &e), 0, "id=tok alone");
	ok(s.value && !strcmp(s.value, "from-tok"), "... the variable tok, set");
	build_secret_release(&s);
	is_int(build_secret_parse("id=other", fake_env, NULL, &s, &e), 0, "id=other alone");
	ok(s.path && !strcmp(s.path, "other") && !s.value, "... the file 'other' (no variable)");
	build_secret_release(&s);
	is_int(build_secret_parse("id=a,env=UNSET", fake_env, NULL, &s, &e), CRUMB_ENOENT,
	       "env= naming an unset variable");
	is_int(build_secret_parse("src=/x", fake_env, NULL, &s, &e), CRUMB_EINVAL, "no id=");
	ok(strstr(e.msg, "id= is missing") != NULL, "... says so: %s", e.msg);
	is_int(build_secret_parse("id=a,colour=red", fake_env, NULL, &s, &e), CRUMB_EINVAL,
	       "an unknown key");
	is_int(build_secret_parse("id=a,src=/x,env=TOKEN", fake_env, NULL, &s, &e), CRUMB_EINVAL,
	       "src= and env= together");
	is_int(build_secret_parse("id=a,type=ssh", fake_env, NULL, &s, &e), CRUMB_EINVAL,
	       "type= other than file or env");
}

/* A RUN's evaluation with its --mount values, as build.c gets it. */
static struct spec *sp;
static int eval_run(const char *text, struct spec_eval *v)
{
	struct err e;
	if (sp)
		spec_free(sp);
	sp = NULL;
	if (spec_parse("t.Crumbfile", text, strlen(text), NULL, &sp, &e) < 0)
		return -1;
	return spec_eval(sp, &sp->stages[0].instrs[1], NULL, NULL, v, &e);
}

static void test_grouping(void)
{
	struct spec_eval v;
	char *sig;
	is_int(eval_run("FROM x\nRUN --mount=type=secret,id=b --mount=type=secret,id=a "
			"--mount=type=secret,id=b,env=B true\n",
			&v),
	       0, "a RUN with three secret mounts");
	is_str(sig = run_mounts_secret_sig(&v), "a\nb\n", "its secrets: sorted, once each");
	free(sig);
	spec_eval_release(&v);
	is_int(eval_run("FROM x\nRUN --mount=type=cache,target=/c true\n", &v), 0, "no secret");
	is_str(sig = run_mounts_secret_sig(&v), "", "... an empty signature");
	free(sig);

	struct build_mount_env env = {0};
	struct run_mounts m;
	run_mounts_init(&m, &env);
	is_int((int)run_mounts_ndisks_with(&m, &v), 1, "a cache: one disk");
	spec_eval_release(&v);
	is_int(eval_run("FROM x\nRUN --mount=type=bind,target=/a --mount=type=bind,target=/b "
			"--mount=type=tmpfs,target=/t --mount=type=secret,id=s true\n",
			&v),
	       0, "two binds, a tmpfs, a secret");
	is_int((int)run_mounts_ndisks_with(&m, &v), 2,
	       "... one disk for the binds, one for secrets");
	spec_eval_release(&v);
	run_mounts_release(&m);
}

/* tmpfs and optional secrets need no disk: the config lines, targets resolved. */
static void test_config(void)
{
	struct spec_eval v;
	struct err e;
	struct build_secret secs[1] = {{.id = "tok", .value = "s3cr3t", .len = 6}};
	struct build_mount_env env = {.secrets = secs, .nsecrets = 1};
	struct run_mounts m;
	struct initcfg c;
	char key[65] = "";
	run_mounts_init(&m, &env);
	initcfg_init(&c);
	is_int(eval_run("FROM x\nRUN --mount=type=tmpfs,target=t/../u,size=1k "
			"--mount=type=secret,id=tok,mode=0440,uid=7 --mount=type=secret,id=nope "
			"--mount=type=secret,id=tok,env=TOK,target=/etc/tok true\n",
			&v),
	       0, "tmpfs, a secret, an optional one not given, one as a variable and a file");
	is_int(run_mounts_add(&m, 0, &sp->stages[0].instrs[1], &v, "/w", key, &e), 0, "added (%s)",
	       e.msg);
	struct initcfg_step *s = initcfg_add_step(&c, "1:1");
	run_mounts_config(&m, 0, s);
	is_int((int)s->nmounts, 1, "one step_mount");
	if (s->nmounts == 1) {
		is_str(s->mounts[0].target, "/w/u", "the target below WORKDIR, .. resolved");
		is_str(s->mounts[0].options, "size=1024", "size= in bytes");
	}
	is_int((int)s->nsecrets, 3, "three step_secret lines (the missing one: none)");
	if (s->nsecrets == 3) {
		is_str(s->secrets[0].dest, "/run/secrets/tok", "the default target");
		ok(s->secrets[0].mode == 0440 && s->secrets[0].uid == 7 &&
		       s->secrets[0].length == 6,
		   "mode, uid and length");
		is_str(s->secrets[1].dest, "/etc/tok", "a target given with env=");
		is_str(s->secrets[2].dest, "TOK", "... and the variable");
		is_str(s->secrets[0].source, "/dev/vdb", "on the first disk");
	}
	ok(m.secrets.len == 512 && !memcmp(m.secrets.buf, "s3cr3t", 6),
	   "the secrets disk holds the bytes once, padded to 512");
	spec_eval_release(&v);
	run_mounts_release(&m);
	is_int(eval_run("FROM x\nRUN --mount=type=secret,id=nope,required true\n", &v), 0,
	       "a required secret");
	run_mounts_init(&m, &env);
	is_int(run_mounts_add(&m, 0, &sp->stages[0].instrs[1], &v, "/", key, &e), CRUMB_ENOENT,
	       "... not given: an error");
	ok(strstr(e.msg, "t.Crumbfile:2:1: ") == e.msg, "... at its position: %s", e.msg);
	spec_eval_release(&v);
	is_int(eval_run("FROM x\nRUN --mount=type=tmpfs,target=sys/x true\n", &v), 0,
	       "a relative target");
	is_int(run_mounts_add(&m, 0, &sp->stages[0].instrs[1], &v, "/", key, &e), CRUMB_EINVAL,
	       "... below / in /sys: refused");
	spec_eval_release(&v);
	run_mounts_release(&m);
	initcfg_release(&c);
	spec_free(sp);
	sp = NULL;
}

int main(void)
{
	test_secret_parse();
	test_grouping();
	test_config();
	return done_testing();
}

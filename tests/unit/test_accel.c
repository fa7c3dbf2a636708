/* test_accel.c: the --accel names, the KVM probe verdict cache, and the accelerator choice. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/accel.h"
#include "tap.h"

int main(void)
{
	struct err e = {0};
	enum accel a = ACCEL_AUTO;
	ok(accel_parse("kvm", &a, &e) == 0 && a == ACCEL_KVM, "parse kvm");
	ok(accel_parse("auto", &a, &e) == 0 && a == ACCEL_AUTO, "parse auto");
	ok(accel_parse("hvf", &a, &e) == CRUMB_EINVAL && strstr(e.msg, "auto, kvm or tcg"),
	   "an unknown accelerator is refused: %s", e.msg);
	is_str(accel_name(ACCEL_TCG), "tcg", "tcg's name");
	is_str(accel_name((enum accel)42), "auto", "an unknown value is named auto");

	char dir[] = "/tmp/crumb-accel-XXXXXX";
	ok(mkdtemp(dir) != NULL, "a temporary directory");
	char *state = xasprintf("%s/state", dir), *file = xasprintf("%s/state/kvm-probe", dir);
	is_int(accel_probe_cached(NULL), -1, "no state dir: no verdict");
	is_int(accel_probe_cached(state), -1, "no file: no verdict");
	accel_probe_store(state, 1);
	is_int(accel_probe_cached(state), 1, "a stored success is read back (the dir made)");
	accel_probe_store(state, 0);
	is_int(accel_probe_cached(state), 0, "a stored failure too");
	sh("echo 'another-boot ok' >%s", file);
	is_int(accel_probe_cached(state), -1, "an earlier host boot's verdict is ignored");
	accel_probe_store(NULL, 1); /* does nothing */

	/* The choice: TCG stays TCG; auto follows /dev/kvm and the cache. */
	enum accel got;
	int probe = 7;
	char why[256];
	ok(accel_choose(ACCEL_TCG, state, &got, &probe, why, sizeof(why), &e) == 0 &&
	       got == ACCEL_TCG && probe == 0 && !why[0],
	   "tcg is tcg, no probe");
	char tmp[64];
	int kvm = accel_kvm_usable(tmp, sizeof(tmp));
	ok(kvm || !strncmp(tmp, "/dev/kvm: ", 10), "/dev/kvm: %s", kvm ? "usable" : tmp);
	int r = accel_choose(ACCEL_KVM, state, &got, &probe, why, sizeof(why), &e);
	ok(kvm ? r == 0 && got == ACCEL_KVM
	       : r == CRUMB_EUNSUPP && !strncmp(e.msg, "--accel kvm: /dev/kvm: ", 23),
	   "--accel kvm: KVM or a one-line refusal");
	accel_probe_store(state, 0);
	r = accel_choose(ACCEL_AUTO, state, &got, &probe, why, sizeof(why), &e);
	ok(r == 0 && got == ACCEL_TCG && probe == 0 &&
	       (kvm ? !strcmp(why, "KVM failed a probe boot earlier") : !strcmp(why, tmp)),
	   "auto after a failed probe (or without KVM): TCG, saying why: %s", why);
	sh("rm -f %s", file);
	r = accel_choose(ACCEL_AUTO, state, &got, &probe, why, sizeof(why), &e);
	ok(r == 0 && (kvm ? got == ACCEL_KVM && probe == 1 && !why[0] : got == ACCEL_TCG && !probe),
	   "auto with no verdict: a KVM probe boot when /dev/kvm opens");

	sh("rm -rf %s", dir);
	free(state);
	free(file);
	return done_testing();
}

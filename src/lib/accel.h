/* accel.h: KVM or TCG: the --accel names, whether /dev/kvm opens, and the cached probe verdict. */
#ifndef CRUMB_ACCEL_H
#define CRUMB_ACCEL_H

#include <stddef.h>

#include "util.h"

enum accel { ACCEL_AUTO, ACCEL_KVM, ACCEL_TCG };

/* "auto", "kvm", "tcg"; anything else is CRUMB_EINVAL naming the three. */
int accel_parse(const char *s, enum accel *out, struct err *e);
/* The name accel_parse takes back ("auto" for any value it does not know). */
const char *accel_name(enum accel a);

/* 1 when /dev/kvm opens read-write; 0 with why ("/dev/kvm: Permission denied",
 * at most len bytes with its NUL) when not. */
int accel_kvm_usable(char *why, size_t len);

/*
 * A KVM boot that has not reached crumb-init within ACCEL_PROBE_SECONDS is
 * taken as broken KVM (nested virtualization that hangs). The verdict of such
 * a probe boot is cached in STATE_DIR/kvm-probe as "BOOT_ID ok|broken\n",
 * good for this host boot only (/proc/sys/kernel/random/boot_id).
 */
#define ACCEL_PROBE_SECONDS 10.0

/* The cached verdict for this host boot: 1 KVM worked, 0 it failed, -1 none
 * (no state_dir, no file, an earlier host boot's, or unreadable). */
int accel_probe_cached(const char *state_dir);

/* Records this host boot's verdict (creating state_dir, mode 0700); a failure
 * to write only loses the cache. state_dir NULL: does nothing. */
void accel_probe_store(const char *state_dir, int ok);

/*
 * Picks what runs the VM for want: ACCEL_TCG stays; ACCEL_KVM needs /dev/kvm
 * (CRUMB_EUNSUPP "--accel kvm: /dev/kvm: ..." otherwise); ACCEL_AUTO is KVM
 * when /dev/kvm opens and the cached probe (state_dir, may be NULL) did not
 * fail, else TCG with the reason in why (len bytes; "" when KVM is chosen).
 * *probe is 1 when no verdict is cached: the caller boots with the probe's
 * deadline and stores the outcome (accel_probe_store).
 */
int accel_choose(enum accel want, const char *state_dir, enum accel *out, int *probe, char *why,
		 size_t len, struct err *e);

#endif

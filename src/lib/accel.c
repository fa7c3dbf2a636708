/* accel.c: the --accel names, the /dev/kvm check and the KVM probe verdict cached per host boot. */
#include "accel.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int accel_parse(const char *s, enum accel *out, struct err *e)
{
	if (!strcmp(s, "auto"))
		*out = ACCEL_AUTO;
	else if (!strcmp(s, "kvm"))
		*out = ACCEL_KVM;
	else if (!strcmp(s, "tcg"))
		*out = ACCEL_TCG;
	else
		return err_set(e, CRUMB_EINVAL, "unknown accelerator '%s' (want auto, kvm or tcg)",
			       s);
	return 0;
}

const char *accel_name(enum accel a)
{
	return a == ACCEL_KVM ? "kvm" : a == ACCEL_TCG ? "tcg" : "auto";
}

int accel_kvm_usable(char *why, size_t len)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, len, "/dev/kvm: %s", strerror(errno));
		return 0;
	}
	close(fd);
	return 1;
}

/* The probe verdict is only good for this host boot. */
static char *probe_file(const char *state_dir)
{
	return state_dir ? xasprintf("%s/kvm-probe", state_dir) : NULL;
}

static void boot_id(char out[64])
{
	struct sbuf sb = SBUF_INIT;
	int r = read_file("/proc/sys/kernel/random/boot_id", 256, &sb, NULL);
	snprintf(out, 64, "%s", r == 0 ? sb.buf : "unknown\n");
	out[strcspn(out, "\n")] = 0;
	sb_release(&sb);
}

int accel_probe_cached(const char *state_dir)
{
	char *f = probe_file(state_dir);
	struct sbuf sb = SBUF_INIT;
	int verdict = -1;
	char id[64], want[96];
	boot_id(id);
	snprintf(want, sizeof(want), "%s ok\n", id);
	if (f && read_file(f, 4096, &sb, NULL) == 0) {
		if (!strcmp(sb.buf, want))
			verdict = 1;
		else if (!strncmp(sb.buf, id, strlen(id)))
			verdict = 0;
	}
	free(f);
	sb_release(&sb);
	return verdict;
}

void accel_probe_store(const char *state_dir, int ok)
{
	char *f = probe_file(state_dir);
	if (!f)
		return;
	char id[64];
	boot_id(id);
	char *s = xasprintf("%s %s\n", id, ok ? "ok" : "broken");
	if (mkdir_p(state_dir, 0700, NULL) == 0)
		write_file_atomic(f, s, strlen(s), 0644, NULL);
	free(s);
	free(f);
}

int accel_choose(enum accel want, const char *state_dir, enum accel *out, int *probe, char *why,
		 size_t len, struct err *e)
{
	*out = want;
	*probe = 0;
	if (len)
		why[0] = 0;
	if (want == ACCEL_KVM && !accel_kvm_usable(why, len))
		return err_set(e, CRUMB_EUNSUPP, "--accel kvm: %s", why);
	if (want != ACCEL_AUTO)
		return 0;
	if (!accel_kvm_usable(why, len)) {
		*out = ACCEL_TCG;
		return 0;
	}
	int v = accel_probe_cached(state_dir);
	*out = v == 0 ? ACCEL_TCG : ACCEL_KVM;
	*probe = v < 0;
	if (v == 0)
		snprintf(why, len, "KVM failed a probe boot earlier");
	return 0;
}

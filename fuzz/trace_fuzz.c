/* trace_fuzz.c: libFuzzer target: any bytes as a trace crumb-init wrote (the guest's word):
 * trace_parse never crashes, fails with one message, and what it returns holds up: absolute
 * paths without NUL, [a-z0-9_] names, sorted unique lists; then the allowlist the names make. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/sysfilter.h"
#include "lib/trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void sorted_unique(const struct strlist *l)
{
	for (size_t i = 1; i < l->n; i++)
		if (strcmp(l->v[i - 1], l->v[i]) >= 0)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct trace t;
	struct err e = {0};
	trace_init(&t);
	int r = trace_parse((const char *)data, size, &t, &e);
	if (r < 0 && (r != CRUMB_EFORMAT || !e.msg[0]))
		abort();
	sorted_unique(&t.syscalls);
	sorted_unique(&t.files);
	sorted_unique(&t.execs);
	for (size_t i = 0; i < t.files.n; i++)
		if (t.files.v[i][0] != '/')
			abort();
	struct sysfilter f;
	sysfilter_init(&f);
	for (size_t i = 0; i < t.syscalls.n; i++) {
		const char *n = t.syscalls.v[i];
		if (strspn(n, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(n))
			abort();
		struct err se;
		sysfilter_add(&f, n, &se);
	}
	char *label = sysfilter_render(&f);
	struct sysfilter g;
	sysfilter_init(&g);
	if (sysfilter_parse(label, &g, &e) < 0 || g.names.n != f.names.n)
		abort();
	free(label);
	sysfilter_release(&f);
	sysfilter_release(&g);
	trace_release(&t);
	return 0;
}

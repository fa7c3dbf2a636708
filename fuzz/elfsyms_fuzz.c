/* elfsyms_fuzz.c: libFuzzer target: any bytes as an ELF file for elfsyms (imports, exports, the
 * file as its own libc, the report); what each promises is checked. */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/elfsyms.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *path;

static void cleanup(void)
{
	if (path)
		unlink(path);
}

/* Errors are one line naming the file, and leave the list empty. */
static void check(int r, const struct elfsyms *s, const struct err *e)
{
	if (r == 0) {
		for (size_t i = 0; i < s->n; i++)
			if (!s->v[i].name || !*s->v[i].name || (s->v[i].file && !s->v[i].version))
				abort();
		return;
	}
	if (r != CRUMB_EFORMAT && r != CRUMB_EUNSUPP)
		abort();
	if (!strstr(e->msg, path) || strchr(e->msg, '\n') || s->n || s->v)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!path) {
		const char *tmp = getenv("TMPDIR");
		path = xasprintf("%s/crumb-elfsyms-fuzz.%ld", tmp && *tmp ? tmp : "/tmp",
				 (long)getpid());
		atexit(cleanup);
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);

	struct elfsyms imp, exp;
	struct err e;
	int ri = elfsyms_imports(path, &imp, &e);
	check(ri, &imp, &e);
	int re = elfsyms_exports(path, &exp, &e);
	check(re, &exp, &e);
	if (ri == 0 && re == 0) {
		struct strlist l = STRLIST_INIT;
		elfsyms_libc_filter(&imp, &exp, &l);
		for (size_t i = 1; i < l.n; i++)
			if (strcmp(l.v[i - 1], l.v[i]) >= 0)
				abort(); /* sorted and unique */
		strlist_release(&l);
	}
	elfsyms_release(&imp);
	elfsyms_release(&exp);

	/* the file as its own libc, and the report over it */
	struct strlist traced = STRLIST_INIT;
	struct sbuf sb = SBUF_INIT;
	strlist_push(&traced, "write");
	int rr = elfsyms_report(path, path, &traced, &sb, &e);
	if ((rr == 0) != (ri == 0) || (rr == 0 && !strstr(sb.buf, " libc import")))
		abort();
	if (rr < 0 && sb.len)
		abort(); /* on error out holds what it held before */
	sb_release(&sb);
	strlist_release(&traced);
	return 0;
}

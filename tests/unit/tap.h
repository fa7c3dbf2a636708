/* tap.h: a tiny TAP producer for the C unit tests (one header, no library). */
#ifndef CRUMB_TAP_H
#define CRUMB_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static int tap_n, tap_failed;

/* ok(cond, "description %d", x): prints "ok N - ..." or "not ok N - ...". */
#define ok(cond, ...)                                                                              \
	do {                                                                                       \
		int ok_c_ = !!(cond);                                                              \
		printf("%sok %d - ", ok_c_ ? "" : "not ", ++tap_n);                                \
		printf(__VA_ARGS__);                                                               \
		printf("\n");                                                                      \
		if (!ok_c_) {                                                                      \
			tap_failed++;                                                              \
			printf("#   failed at %s:%d: %s\n", __FILE__, __LINE__, #cond);            \
		}                                                                                  \
	} while (0)

#define is_str(got, want, ...)                                                                     \
	do {                                                                                       \
		const char *g_ = (got), *w_ = (want);                                              \
		int same_ = g_ && w_ ? strcmp(g_, w_) == 0 : g_ == w_;                             \
		ok(same_, __VA_ARGS__);                                                            \
		if (!same_)                                                                        \
			printf("#   got: '%s'\n#   want: '%s'\n", g_ ? g_ : "(null)",              \
			       w_ ? w_ : "(null)");                                                \
	} while (0)

#define is_int(got, want, ...)                                                                     \
	do {                                                                                       \
		long long g_ = (got), w_ = (want);                                                 \
		ok(g_ == w_, __VA_ARGS__);                                                         \
		if (g_ != w_)                                                                      \
			printf("#   got: %lld\n#   want: %lld\n", g_, w_);                         \
	} while (0)

/* Runs a shell command built printf-style; returns its exit status (128 if
 * it did not exit). A failure is noted as a TAP comment. */
__attribute__((format(printf, 1, 2))) static inline int sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	int st = system(cmd);
	st = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
	if (st)
		printf("# exit %d: %.200s\n", st, cmd);
	return st;
}

/* Ends the test program: prints the plan and returns the exit status. */
static inline int done_testing(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

#endif

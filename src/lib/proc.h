/* proc.h: runs a child process, feeding its output line by line to a callback. */
#ifndef CRUMB_PROC_H
#define CRUMB_PROC_H

#include "util.h"

/* Called for each line the child prints (stdout and stderr merged), without the newline. */
typedef void (*proc_line_fn)(void *ctx, const char *line);

/*
 * Runs argv[0] (searched in PATH) in dir (NULL: current) with stdin from
 * /dev/null. extra_env entries ("K=V") are added to the environment. The
 * last lines of output are kept so a failure message can show them: on a
 * non-zero exit the error is CRUMB_ECHILD with "ARGV0 failed (exit N)" and
 * those lines in e->msg after a newline. *status (may be NULL) gets the
 * exit status, or 128+signal.
 */
int proc_run(char *const argv[], const char *dir, char *const extra_env[], proc_line_fn fn,
	     void *ctx, int *status, struct err *e);

#endif

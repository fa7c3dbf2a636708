/* proc.c: fork/exec with merged output streamed line by line, and a tail kept for errors. */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define TAIL_LINES 8

int proc_run(char *const argv[], const char *dir, char *const extra_env[], proc_line_fn fn,
	     void *ctx, int *status, struct err *e)
{
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return err_errno(e, CRUMB_EIO, "pipe");
	pid_t pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return err_errno(e, CRUMB_EIO, "fork");
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);
		if (null >= 0)
			dup2(null, 0);
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		if (dir && chdir(dir) < 0) {
			dprintf(2, "cd %s: %s\n", dir, strerror(errno));
			_exit(127);
		}
		for (size_t i = 0; extra_env && extra_env[i]; i++)
			putenv(extra_env[i]);
		execvp(argv[0], argv);
		dprintf(2, "%s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(pfd[1]);

	char *tail[TAIL_LINES] = {0};
	size_t ntail = 0;
	struct sbuf line = SBUF_INIT;
	char buf[8192];
	for (;;) {
		ssize_t n = read(pfd[0], buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] != '\n') {
				if (line.len < 4096)
					sb_addc(&line, buf[i]);
				continue;
			}
			if (fn)
				fn(ctx, line.buf);
			free(tail[ntail % TAIL_LINES]);
			tail[ntail++ % TAIL_LINES] = xstrdup(line.buf);
			sb_reset(&line);
		}
	}
	close(pfd[0]);
	int ws, r = 0;
	while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
		;
	int st = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
	if (status)
		*status = st;
	if (st) {
		struct sbuf m = SBUF_INIT;
		sb_addf(&m, "%s failed (exit %d)", argv[0], st);
		size_t first = ntail > TAIL_LINES ? ntail - TAIL_LINES : 0;
		for (size_t i = first; i < ntail; i++)
			sb_addf(&m, "\n  %s", tail[i % TAIL_LINES]);
		r = err_set(e, CRUMB_ECHILD, "%s", m.buf);
		sb_release(&m);
	}
	for (size_t i = 0; i < TAIL_LINES; i++)
		free(tail[i]);
	sb_release(&line);
	return r;
}

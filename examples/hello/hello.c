/* examples/hello: a one-shot program. Prints a greeting and the kernel it runs on, then
 * exits with the status given as its first argument (default 0): crumb run passes it on. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/utsname.h>

int main(int argc, char **argv)
{
	struct utsname u;
	if (uname(&u) == 0)
		printf("hello from a crumb microVM: %s %s %s\n", u.sysname, u.release, u.machine);
	else
		printf("hello from a crumb microVM\n");
	int status = argc > 1 ? atoi(argv[1]) : 0;
	if (argc > 1)
		printf("exiting with status %d\n", status);
	return status;
}

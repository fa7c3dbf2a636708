/* replay.c: a main() for libFuzzer targets, so make check replays their corpora with gcc+ASan
 * (TAP). */
#include <dirent.h>
#include <libgen.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int n;

static void replay(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		printf("not ok %d - replay %s: cannot open\n", ++n, path);
		return;
	}
	size_t len = 0, alloc = 4096;
	uint8_t *buf = malloc(alloc);
	size_t got;
	while (buf && (got = fread(buf + len, 1, alloc - len, f)) > 0) {
		len += got;
		if (len == alloc)
			buf = realloc(buf, alloc *= 2);
	}
	fclose(f);
	if (!buf) {
		printf("not ok %d - replay %s: out of memory\n", ++n, path);
		return;
	}
	/* the same contract as libFuzzer: exactly size readable bytes */
	uint8_t *exact = malloc(len ? len : 1);
	memcpy(exact, buf, len);
	free(buf);
	fflush(stdout);
	LLVMFuzzerTestOneInput(exact, len);
	free(exact);
	/* a crash or sanitizer report ends the process before this line */
	printf("ok %d - replay %s\n", ++n, path);
	fflush(stdout);
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static void replay_path(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		printf("not ok %d - replay %s: missing\n", ++n, path);
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		replay(path);
		return;
	}
	struct dirent **ents;
	int k = scandir(path, &ents, NULL, by_name);
	for (int i = 0; i < k; i++) {
		char full[PATH_MAX];
		snprintf(full, sizeof(full), "%s/%s", path, ents[i]->d_name);
		if (ents[i]->d_name[0] != '.' && stat(full, &st) == 0 && S_ISREG(st.st_mode))
			replay(full);
		free(ents[i]);
	}
	if (k >= 0)
		free(ents);
}

int main(int argc, char **argv)
{
	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	if (argc > 1) {
		for (int i = 1; i < argc; i++)
			replay_path(argv[i]);
	} else {
		/* No arguments (make check): the corpus named after the binary,
		 * fuzz/corpus/NAME/ of the tree the binary was built in
		 * (ROOT/build/san/fuzz/NAME), else of the current directory. */
		char exe[PATH_MAX], dir[PATH_MAX + 64], name[NAME_MAX + 1];
		if (!realpath("/proc/self/exe", exe))
			snprintf(exe, sizeof(exe), "%s", argv[0]);
		snprintf(name, sizeof(name), "%s", basename(argv[0]));
		char *root = exe;
		for (int i = 0; i < 4; i++)
			root = dirname(root);
		snprintf(dir, sizeof(dir), "%s/fuzz/corpus/%s", root, name);
		struct stat st;
		if (stat(dir, &st) < 0)
			snprintf(dir, sizeof(dir), "fuzz/corpus/%s", name);
		if (stat(dir, &st) < 0) {
			printf("1..0 # SKIP no corpus for %s\n", name);
			return 0;
		}
		replay_path(dir);
	}
	if (!n)
		printf("1..0 # SKIP empty corpus\n");
	else
		printf("1..%d\n", n);
	return 0;
}

/* saveload_fuzz.c: libFuzzer target: any bytes as an archive for crumb load (load_archive): an OCI
 * layout tar or a docker save archive, into a store that a refused archive must leave as it was. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/oci.h"
#include "lib/saveload.h"

static char *path, *dir, *index_path;
static struct oci_store *store;

static void cleanup(void)
{
	struct err e;
	oci_close(store);
	if (path)
		unlink(path);
	if (dir)
		remove_tree(dir, &e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct err e = {0};
	if (!path) {
		const char *tmp = getenv("TMPDIR");
		path =
		    xasprintf("%s/crumb-load-fuzz.%ld", tmp && *tmp ? tmp : "/tmp", (long)getpid());
		dir = xasprintf("%s/crumb-load-fuzz-d.%ld", tmp && *tmp ? tmp : "/tmp",
				(long)getpid());
		index_path = xasprintf("%s/index.json", dir);
		if (oci_open(dir, &store, &e) < 0)
			abort();
		atexit(cleanup);
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);
	struct sbuf before = SBUF_INIT, after = SBUF_INIT;
	if (read_file(index_path, 4 << 20, &before, &e) < 0)
		abort();
	struct load_opts o = {.path = path, .name = "fuzz.tar", .max_bytes = 1 << 20};
	struct load_result res;
	int r = load_archive(store, &o, &res, &e);
	if (r < 0 &&
	    (!e.msg[0] || strchr(e.msg, '\n') || strstr(e.msg, ".load-") || strstr(e.msg, path)))
		abort(); /* one line, naming the archive by its name, never the private directory */
	if (read_file(index_path, 4 << 20, &after, &e) < 0)
		abort();
	if (r < 0 && (before.len != after.len || memcmp(before.buf, after.buf, after.len)))
		abort(); /* a refused archive tags nothing */
	for (size_t i = 0; r == 0 && i < res.n; i++) {
		struct oci_image im;
		if (oci_image_resolve(store, res.images[i].manifest.digest, &im, &e) < 0 ||
		    oci_image_verify(store, &im, 0, &e) < 0)
			abort(); /* what load stored is whole */
		oci_image_release(&im);
	}
	if (r == 0)
		load_result_release(&res);
	sb_release(&before);
	sb_release(&after);
	return 0;
}

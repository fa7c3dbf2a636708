/* saveload.c: `crumb save` and `crumb load`: images to and from archives (docker save/load). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/oci.h"
#include "../lib/saveload.h"
#include "../lib/store.h"
#include "cmd.h"

const char usage_save[] =
    "usage: crumb save [-o FILE] IMAGE...\n"
    "\n"
    "Writes the images (NAME[:TAG], sha256:DIGEST or 12+ hex digits of one) as a tar\n"
    "holding an OCI image layout, to FILE or to stdout (refused when stdout is a\n"
    "terminal), as 'docker save' does: oci-layout, index.json (each image's manifest\n"
    "annotated org.opencontainers.image.ref.name = TAG and io.containerd.image.name =\n"
    "NAME:TAG), blobs/sha256/ (every blob once, digests kept) and, when some image has\n"
    "only tar layers (a container image, not a crumb kernel + rootfs), a docker\n"
    "manifest.json listing those, so 'docker load' takes them too. 'skopeo ...\n"
    "oci-archive:FILE:TAG' and 'crumb load' read it. Members are sorted, owned by 0:0\n"
    "and dated SOURCE_DATE_EPOCH (default 0): the same images give the same bytes.\n"
    "Every blob is hashed as it is copied: a damaged one stops the save with one line,\n"
    "and FILE (written to a temp file, renamed when whole) is left as it was.\n";

const char usage_load[] =
    "usage: crumb load [-i FILE] [-q]\n"
    "\n"
    "Stores the images of an archive read from FILE or stdin, and prints one line per\n"
    "image: \"Loaded image: NAME:TAG\", or \"Loaded image ID: sha256:DIGEST\" for one\n"
    "without a name (stored untagged, reachable by its digest). The archive is a tar\n"
    "(gzip, bzip2, xz or zstd compressed too) holding either\n"
    "  an OCI image layout ('crumb save', skopeo's oci-archive, docker 25's 'docker\n"
    "  save'): every image its index.json lists, blobs copied as they are (the same\n"
    "  manifest digests), named by io.containerd.image.name, else by\n"
    "  org.opencontainers.image.ref.name when that is NAME:TAG; an image index keeps\n"
    "  its linux/amd64 image;\n"
    "  or a 'docker save' archive (manifest.json, layer tars, config JSON; skopeo's\n"
    "  docker-archive): each image's config and layers under a new OCI manifest, named\n"
    "  by its RepoTags.\n"
    "Every blob is checked against its digest and size. A hostile or damaged archive\n"
    "(a name with '..', a link, a huge member, a missing blob, malformed JSON, a\n"
    "digest mismatch) is one line, exit 1, and the store is left as it was: blobs\n"
    "are added and names set only once every image of the archive passed.\n";

int cmd_save(int argc, char **argv)
{
	const char *out = NULL;
	int status = 0;
	struct strlist args = STRLIST_INIT;
	const struct opt tab[] = {
	    OPT_STRING_('o', "output", &out, "FILE", "write the archive to FILE, not stdout"),
	    OPT_END_,
	};
	struct cmd_opts p = {.verb = "save", .tab = tab};
	if (cmd_parse(&p, argc, argv, &args, &status))
		return status;
	struct oci_store *s = NULL;
	struct save_plan plan;
	struct sde sde;
	struct err e = {0};
	int r = 0;
	if (!args.n)
		status = cmd_usage_error("save", "no IMAGE given");
	else if (!out && isatty(1))
		status = cmd_usage_error("save", "refusing to write an archive to a terminal; give "
						 "-o FILE or redirect stdout");
	else if ((r = cmd_sde(&sde, &e)) < 0)
		status = cmd_usage_error("save", "%s", e.msg);
	else if (cmd_open_store(&s))
		status = EXIT_FAIL;
	if (status) {
		strlist_release(&args);
		return status;
	}
	if ((r = save_plan_make(s, &args, &plan, &e)) == 0) {
		if (out)
			r = save_write_file(s, &plan, sde.epoch, out, &e);
		else if ((r = save_plan_verify(s, &plan, &e)) == 0)
			r = save_write_fd(s, &plan, sde.epoch, 1, "stdout", &e);
		save_plan_release(&plan);
	}
	if (r < 0) {
		cmd_error_err(&e);
		status = EXIT_FAIL;
	}
	oci_close(s);
	strlist_release(&args);
	return status;
}

int cmd_load(int argc, char **argv)
{
	const char *in = NULL;
	int quiet = 0, status = 0;
	struct strlist args = STRLIST_INIT;
	const struct opt tab[] = {
	    OPT_STRING_('i', "input", &in, "FILE", "read the archive from FILE, not stdin"),
	    OPT_FLAG_('q', "quiet", &quiet, "print nothing but errors"),
	    OPT_END_,
	};
	struct cmd_opts p = {
	    .verb = "load", .tab = tab, .unknown = "unexpected argument", .no_args = 1};
	if (cmd_parse(&p, argc, argv, &args, &status))
		return status;
	strlist_release(&args);
	struct oci_store *s;
	if (cmd_open_store(&s))
		return EXIT_FAIL;
	struct load_opts o = {.path = in, .in_fd = 0, .name = in ? in : "stdin"};
	struct load_result res;
	struct err e = {0};
	if (load_archive(s, &o, &res, &e) < 0) {
		cmd_error_err(&e);
		status = EXIT_FAIL;
	} else {
		for (size_t i = 0; i < res.n && !quiet; i++)
			if (res.images[i].ref)
				printf("Loaded image: %s\n", res.images[i].ref);
			else
				printf("Loaded image ID: %s\n", res.images[i].manifest.digest);
		load_result_release(&res);
	}
	oci_close(s);
	return status;
}

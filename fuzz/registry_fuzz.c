/* registry_fuzz.c: libFuzzer target: any bytes as a registry's word. With the first byte's top
 * bit clear, the manifest it sent: reg_manifest_plan never crashes, fails with one message, and
 * what it returns holds up: an index names one sha256 digest, an image manifest a config and at
 * most 1024 layers, each with a valid media type and digest (the byte's low bits pick the
 * Content-Type and the platform). With it set, a WWW-Authenticate challenge's parameters:
 * reg_challenge_param never reads past the string and returns no more than it was given. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/oci.h"
#include "lib/registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *ctypes[] = {NULL, "application/json",
				       "application/vnd.docker.distribution.manifest.v2+json",
				       "application/vnd.oci.image.index.v1+json"};
	static const char *platforms[] = {NULL, "linux/arm64", "linux/arm/v7", "linux"};
	unsigned sel = size ? data[0] : 0;
	if (sel & 0x80) {
		char *params = strndup((const char *)data + 1, size - 1);
		static const char *keys[] = {"realm", "service", "scope", "REALM"};
		for (int k = 0; params && k < 4; k++) {
			char *v = reg_challenge_param(params, keys[k]);
			if (v && strlen(v) > strlen(params))
				abort();
			free(v);
		}
		free(params);
		return 0;
	}
	struct reg_plan p;
	struct err e = {0};
	int r =
	    reg_manifest_plan("manifest", (const char *)data + (size ? 1 : 0), size ? size - 1 : 0,
			      ctypes[sel & 3], platforms[(sel >> 2) & 3], &p, &e);
	if (r < 0) {
		if (!e.msg[0] || strchr(e.msg, '\n'))
			abort();
	} else if (p.child[0]) {
		if (!oci_digest_valid(p.child) || p.nblobs)
			abort();
	} else {
		if (p.nblobs < 1 || p.nblobs > 1025 || !oci_media_type_valid(p.media_type))
			abort();
		for (size_t i = 0; i < p.nblobs; i++)
			if (!oci_digest_valid(p.blobs[i].digest) ||
			    !oci_media_type_valid(p.blobs[i].media_type))
				abort();
	}
	reg_plan_release(&p);
	return 0;
}

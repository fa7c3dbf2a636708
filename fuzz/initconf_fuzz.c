/* initconf_fuzz.c: libFuzzer target: any bytes as crumb-init's config (conf_parse) and as a
 * config disk's header (conf_disk_header). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/init/config.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > CONF_FILE_MAX + 16)
		return 0;
	/* conf_parse decodes in place and must read only buf[0..len). */
	char *buf = malloc(size ? size : 1);
	memcpy(buf, data, size);
	struct conf c;
	char err[256];
	if (conf_parse(&c, buf, size, NULL, NULL, err, sizeof(err)) == 0) {
		/* What the parser promises after success. */
		if (c.mode == CONF_MODE_SERVICE &&
		    (c.svc.argc < 1 || !c.svc.argv[0][0] || !c.svc.envp))
			abort();
		if (c.mode == CONF_MODE_BUILD && (c.nsteps < 1 || !c.steps))
			abort();
		if (c.seccomp
			? c.seccomp_len % 8 || c.seccomp_len < 8 || c.seccomp_len > CONF_SECCOMP_MAX
			: c.seccomp_len != 0)
			abort();
		for (size_t k = 0; k < c.nmounts; k++)
			if (!*c.mounts[k].type || !*c.mounts[k].target)
				abort();
		conf_release(&c);
		conf_release(&c); /* documented safe twice */
	} else if (!memchr(err, 0, sizeof(err))) {
		abort();
	}
	free(buf);
	/* The same bytes as a config disk's start (its header, with or without a key). */
	size_t off, clen, koff;
	if (conf_disk_header((const char *)data, size, &off, &clen, &koff) == 0) {
		if (off > size || clen > CONF_FILE_MAX || (clen == 0 && koff == 0) ||
		    (koff &&
		     (koff + CONF_DISK_KEY_HEX >= off || data[koff + CONF_DISK_KEY_HEX] != '\n')))
			abort();
	}
	return 0;
}

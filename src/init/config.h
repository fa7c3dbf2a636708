/* config.h: the format of crumb-init's configuration file and its parser (guest and host tests). */
#ifndef CRUMB_INIT_CONFIG_H
#define CRUMB_INIT_CONFIG_H

#include <stddef.h>

/*
 * The file lives at CONF_PATH in the guest. The host writes it with
 * src/lib/initcfg.c; crumb-init reads it with conf_parse(). The format is
 * line-based text so that a human can read it in an image, and escaped so
 * that any argument or environment value (any bytes but NUL) survives.
 *
 * File
 *   At most CONF_FILE_MAX bytes. Every line ends with '\n', the last one
 *   included: a missing final newline means a truncated file and is an error.
 *   A line, without its '\n', is at most CONF_LINE_MAX bytes.
 *
 * First line
 *   Exactly "crumb-init 1" (CONF_HEADER). Another number is an unsupported
 *   version (an error); anything else is not a crumb-init config (an error).
 *
 * Other lines
 *   Empty lines and lines starting with '#' are ignored (the host writes
 *   neither; they are for humans editing an image by hand). Every other
 *   line is a record "KEY VALUE": KEY is one or more of [a-z0-9_], then
 *   exactly one space (0x20), then VALUE up to the newline (possibly empty,
 *   but the space is required).
 *
 * VALUE escaping (written literally below: one backslash is one byte)
 *   Bytes 0x20..0x7e except the backslash, and all bytes 0x80..0xff (UTF-8
 *   passes through unchanged) stand for themselves. Escapes:
 *     \\    a backslash
 *     \n    a newline (0x0a)
 *     \xHH  the byte HH, exactly two hex digits of either case; \x00 is an
 *           error (values become C strings)
 *   Any other byte after a backslash, a backslash ending the line, or a raw
 *   byte 0x00..0x1f or 0x7f (tab and CR included) is an error. The host
 *   writes \\ for a backslash, \n for a newline and lowercase \xHH for every
 *   other byte 0x01..0x1f and 0x7f, nothing else escaped.
 *
 * Keys
 *   arg       repeated, at least once: the service's argv in order. argv[0]
 *             is the program's path, handed to execve() as is (no PATH
 *             search; a relative path is relative to workdir) and must not
 *             be empty. Other arguments may be empty.
 *   env       repeated: "NAME=value" with a non-empty NAME; the service's
 *             environment is exactly these, in order (none: empty).
 *   workdir   at most once, an absolute path; default "/".
 *   hostname  at most once, 1..CONF_HOSTNAME_MAX bytes; default "crumb".
 *   Any other well-formed KEY is skipped without decoding its value, and the
 *   warn callback is told (forward compatibility: an older init runs a newer
 *   host's config minus the new feature). A repeated workdir or hostname is
 *   an error.
 *
 * Example (argv = {"/bin/sh", "-c", "echo 'a b'\n"}):
 *   crumb-init 1
 *   arg /bin/sh
 *   arg -c
 *   arg echo 'a b'\n
 *   env PATH=/bin
 *   workdir /
 *   hostname crumb
 */

#define CONF_PATH "/etc/crumb/init.conf"
#define CONF_HEADER "crumb-init 1"
#define CONF_FILE_MAX (1024 * 1024)
#define CONF_LINE_MAX (256 * 1024)
#define CONF_HOSTNAME_MAX 64
#define CONF_DEFAULT_WORKDIR "/"
#define CONF_DEFAULT_HOSTNAME "crumb"

/* A parsed config. Every string points into the buffer given to conf_parse
 * (decoded in place), which must outlive the struct; the two pointer arrays
 * are malloc'd and freed by conf_release. */
struct conf {
	char **argv; /* argc strings, then NULL; argc >= 1 after a successful parse */
	size_t argc;
	char **envp; /* envc "NAME=value" strings, then NULL (never NULL itself after success) */
	size_t envc;
	const char *workdir;  /* CONF_DEFAULT_WORKDIR when absent */
	const char *hostname; /* CONF_DEFAULT_HOSTNAME when absent */
};

/* Called for each non-fatal problem (an unknown key); msg is "line N: ...". */
typedef void conf_warn_fn(void *ctx, const char *msg);

/* Parses len bytes at buf, which it modifies (values are decoded in place).
 * warn may be NULL. Returns 0, or -1 with a one-line message "line N: ..."
 * (or without the line for whole-file problems) in err, errlen bytes, always
 * NUL-terminated; on failure c holds nothing that needs releasing. Only
 * bytes buf[0..len) are read; buf needs no terminator. */
int conf_parse(struct conf *c, char *buf, size_t len, conf_warn_fn *warn, void *ctx, char *err,
	       size_t errlen);

/* Frees the pointer arrays (not the buffer); c is then zeroed. Safe twice. */
void conf_release(struct conf *c);

#endif

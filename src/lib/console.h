/* console.h: parses the guest's console stream: crumb-init's signed markers, kernel lines, output.
 */
#ifndef CRUMB_CONSOLE_H
#define CRUMB_CONSOLE_H

#include <stddef.h>

#include "util.h"
#include "vmconf.h"

/*
 * Every byte of the console comes from the guest, and any guest process can
 * write there: this parser treats all of it as hostile. Markers are framed
 * as 0x02 "crumb:" NAME " " GUEST_SECONDS [" " FIELDS] " " SEQ ":" TAG 0x03
 * (src/init/markers.h). A marker is acted on (res updated, event called) only
 * when TAG is HMAC-SHA256 under the boot's key (console_init's key) of
 * "crumb-marker SEQ\n" and the text from "crumb:" up to the " SEQ:TAG"
 * trailer, and SEQ (decimal, 1..2^63) is larger than every SEQ accepted
 * before: forged, altered and replayed markers fail. A marker that fails is
 * counted (res->unsigned_markers) and handed on as console text, framing
 * bytes included, as is everything between 0x02 and 0x03 that does not start
 * with "crumb:", and a run of more than CONSOLE_MARK_MAX bytes after 0x02
 * without 0x03 (the parser then looks for the next 0x02). Fields are copied
 * into res's fixed buffers, cut to fit; memory use is bounded (at most
 * CONSOLE_MARK_MAX + 512 + the hold buffer's 32 bytes, plus klog's limits).
 *
 * Text before the init marker and after the exit marker is the kernel's and
 * is shown only when verbose.
 *
 * A guest may speak on two streams (QEMU: the virtio console with the
 * service's output and the markers, the UART with the kernel's lines): each
 * gets its own struct console, the second following the first
 * (console_follow), so that they share one phase and one marker sequence
 * while each keeps its own framing and lines.
 */
#define CONSOLE_KEY_LEN 32
#define CONSOLE_MARK_MAX 512

struct console {
	int verbose;
	int in_marker;
	int phase; /* 0 kernel, 1 service running, 2 after exit */
	struct sbuf mark;
	struct sbuf line; /* the current console line, for panic detection */
	struct vm_result *res;
	vm_output_fn out;
	void *ctx;
	vm_event_fn event; /* may be NULL; set after console_init */
	void *event_ctx;
	struct vm_klog *klog; /* may be NULL; set after console_init: kernel lines go here */
	double now;	      /* console_feed's time, for klog */
	/* With klog and not verbose, kernel lines printed while the service runs are
	 * kept, not shown: a line starting with '[' is held back until its start
	 * shows whether it is "[   12.345678]". */
	struct sbuf hold;
	int bol;   /* at the start of a line */
	int kline; /* in a kernel line (service phase), until its '\n' */
	unsigned char key[CONSOLE_KEY_LEN];
	int have_key;		/* 0: no marker is acted on (unless trust_unsigned) */
	int trust_unsigned;	/* a PID 1 that is not crumb-init cannot sign: its
				 * markers (no " SEQ:TAG" trailer) are believed as
				 * they stand. Only when the user says so. */
	unsigned long long seq; /* the last accepted SEQ; 0: none yet */
	struct console *lead;	/* NULL, or the stream this one follows (console_follow) */
};

/* Sets c up; res is filled as markers arrive (res->status etc. are the
 * caller's to initialize). key: CONSOLE_KEY_LEN bytes, copied; NULL: no
 * marker will be acted on. */
void console_init(struct console *c, struct vm_result *res, int verbose, vm_output_fn out,
		  void *ctx);
void console_set_key(struct console *c, const unsigned char *key);
/* Feeds n console bytes that arrived at host time now (any split of the
 * stream into calls gives the same result). */
void console_feed(struct console *c, const char *buf, size_t n, double now);
void console_release(struct console *c);
/* Makes c (console_init'ed) a second stream of lead's guest: it takes lead's
 * key and trust_unsigned now, and shares its phase and marker sequence on
 * every console_feed. lead must outlive c's feeds. */
void console_follow(struct console *c, struct console *lead);
/* 1 when c is between lines and outside any marker: a good place to show
 * another stream's text without cutting c's apart. */
int console_at_boundary(const struct console *c);

/* A fresh random key (getrandom). CRUMB_EIO when the kernel gives none. */
int console_key_new(unsigned char key[CONSOLE_KEY_LEN], struct err *e);
/* The key as 2 * CONSOLE_KEY_LEN lowercase hex digits and a NUL. */
void console_key_hex(const unsigned char key[CONSOLE_KEY_LEN], char out[2 * CONSOLE_KEY_LEN + 1]);
/* Parses that form (either case; surrounding whitespace ignored); 0 or CRUMB_EFORMAT. */
int console_key_parse(const char *s, unsigned char key[CONSOLE_KEY_LEN], struct err *e);

/* The HMAC-SHA256 tag of a marker, as the guest computes it: over
 * "crumb-marker SEQ\n" then text[0..len) (the marker from "crumb:" up to its
 * trailer); out gets the first 16 bytes as 32 lowercase hex digits + NUL. */
void console_marker_tag(const unsigned char key[CONSOLE_KEY_LEN], unsigned long long seq,
			const char *text, size_t len, char out[33]);

#endif

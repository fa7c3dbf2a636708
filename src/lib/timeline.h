/* timeline.h: a VM's boot on the host's clock (markers + kernel printk), as a table or an SVG. */
#ifndef CRUMB_TIMELINE_H
#define CRUMB_TIMELINE_H

#include <stddef.h>

#include "util.h"
#include "vmm.h"

/*
 * The host sees QEMU's spawn, the first console byte, crumb-init's markers
 * and QEMU's exit on CLOCK_MONOTONIC; the guest stamps its markers and the
 * kernel its printk lines with its own boot clock, which starts about when
 * the kernel is entered. The two are tied at the init marker: guest time g
 * happened at host time t_init - g_init + g (the marker's trip over the
 * serial line is taken as instant). That puts the kernel's entry at
 * t_init - g_init, splitting "QEMU start -> init" into QEMU + firmware +
 * loading, and the kernel's own boot.
 *
 * That holds while the guest's clock keeps time. Under a loaded TCG host the
 * kernel may fail to calibrate the TSC and count jiffies, which fall behind:
 * then t_init - g_init lands after the kernel's first console bytes, which is
 * impossible. Every printk line bounds the entry too (a line stamped g that
 * reached the host at h was printed after entry + g, so entry <= h - g), so
 * the entry is the tightest of these bounds and the marker's; when a line's
 * bound beats the marker's by more than TL_CLOCK_SLACK, the guest's clock
 * is taken as slow and its times are stretched linearly so that the kernel
 * entry and the init marker both land where the host saw them.
 *
 * Every time in a timeline is in seconds from QEMU's spawn (host clock);
 * guest times are kept as the guest wrote them.
 */

enum tl_phase_id {
	TL_FIRMWARE, /* qemu start -> kernel entry: QEMU, its firmware, loading the kernel */
	TL_KERNEL,   /* kernel -> init */
	TL_INIT,     /* init -> exec: crumb-init sets the system up */
	TL_READY,    /* exec -> ready: the service's ports listen (seen in the guest) */
	TL_SERVICE,  /* exec -> exit: the service runs (includes TL_READY) */
	TL_SHUTDOWN, /* exit -> qemu gone */
	TL_NPHASES
};

struct tl_phase {
	int present;	  /* 0: a marker was missing (no exec, no exit, no ready...) */
	const char *name; /* "kernel → init", ... (static) */
	double start, dur;
};

/* How far (seconds) a printk line's bound may beat the init marker's before
 * the guest's clock is called slow. printk stamps with local_clock(), the
 * markers with CLOCK_BOOTTIME; measured here (TCG), printk's clock runs 30-40
 * ms ahead ("sched_clock: Marking stable (ktime, gtod offset)->..." shows by
 * how much), while a jiffies clock falls behind by 100 ms and more. */
#define TL_CLOCK_SLACK 0.050

/* A gap between two consecutive kernel printk lines before init. */
struct tl_gap {
	double g_from, g_to; /* guest printk times of the two lines */
	double from, to;     /* the same placed on the host's clock, from QEMU's spawn */
	char before[128];    /* the line that ends the gap (message only, no timestamp) */
	char after[128];     /* the line that starts it */
};

#define TL_MAX_GAPS 5

struct timeline {
	const char *accel;    /* "tcg", "kvm" */
	double total;	      /* QEMU spawn -> QEMU gone (or the last thing seen) */
	double first_byte;    /* first console byte; < 0: none */
	double kernel_entry;  /* see above; < 0 also possible (clock slop) */
	int aligned;	      /* 0: no way to place guest times; 1: by the init marker;
				 2: by the printk lines' arrival (no init marker, or the guest's
				 clock ran slow) */
	double entry_marker;  /* t_init - g_init - t_spawn, as the marker alone has it */
	double entry_console; /* the tightest printk line's bound; valid if have_console */
	int have_console;
	double clock_scale; /* host seconds per guest second: 1, or > 1 with a slow clock */
	double g_init;	    /* the guest clock at init; < 0: no marker */
	struct tl_phase phase[TL_NPHASES];
	struct tl_gap gap[TL_MAX_GAPS]; /* largest first */
	size_t ngaps;
	/* Every printk line before init, on the host's clock (for the SVG's ticks). */
	double *ticks;
	size_t nticks;
	size_t klines;	 /* printk lines read (all of them) */
	size_t kdropped; /* lines the console capture did not keep (bounds) */
};

/*
 * Builds tl from what vm_run saw. klog (may be NULL, or empty when the kernel
 * ran with quiet) gives the kernel's lines; lines that do not start with a
 * "[ SECONDS.MICROS]" stamp are skipped. Fails with CRUMB_EINVAL when r has no
 * spawn time. Release with timeline_release.
 */
int timeline_build(const struct vm_result *r, const struct vm_klog *klog, struct timeline *tl,
		   struct err *e);
void timeline_release(struct timeline *tl);

/* Parses a printk line "[    0.634521] text": *t gets the seconds, *msg the
 * text after "] " (inside line). Returns 0, or -1 when line has no stamp. */
int timeline_printk(const char *line, double *t, const char **msg);

/*
 * Appends the table `crumb run --timing` prints: one row per present phase
 * (name, start and duration in ms, % of the total), the total, then the
 * kernel's largest gaps. Deterministic for a given tl.
 */
void timeline_table(const struct timeline *tl, struct sbuf *out);

/*
 * Appends a self-contained SVG document (no scripts, no external fonts or
 * references; UTF-8, valid XML): one horizontal bar per present phase on a
 * time axis in ms, labelled with name and duration, the printk lines and the
 * largest gaps as ticks on the kernel bar, and the gaps listed beneath.
 * Deterministic for a given tl.
 */
void timeline_svg(const struct timeline *tl, struct sbuf *out);

#endif

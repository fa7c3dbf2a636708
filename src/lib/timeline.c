/* timeline.c: ties the guest's boot clock to the host's, finds the kernel's gaps, draws it all. */
#include "timeline.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const phase_names[TL_NPHASES] = {
    [TL_FIRMWARE] = "qemu start → kernel entry",
    [TL_KERNEL] = "kernel → init",
    [TL_INIT] = "init → exec",
    [TL_READY] = "exec → ready",
    [TL_SERVICE] = "service (exec → exit)",
    [TL_SHUTDOWN] = "shutdown (exit → qemu gone)",
};

/* Bar colours in the SVG, by phase. */
static const char *const phase_colors[TL_NPHASES] = {
    [TL_FIRMWARE] = "#8c8c8c", [TL_KERNEL] = "#4e79a7",	 [TL_INIT] = "#f28e2b",
    [TL_READY] = "#59a14f",    [TL_SERVICE] = "#76b7b2", [TL_SHUTDOWN] = "#b07aa1",
};

int timeline_printk(const char *line, double *t, const char **msg)
{
	const char *p = line;
	char *end;
	if (*p++ != '[')
		return -1;
	while (*p == ' ')
		p++;
	if (*p < '0' || *p > '9')
		return -1;
	double v = strtod(p, &end);
	if (end == p || *end != ']' || !(v >= 0) || v > 1e9)
		return -1;
	p = end + 1;
	if (*p == ' ')
		p++;
	*t = v;
	*msg = p;
	return 0;
}

/* Copies a kernel message for display: printable ASCII only (the console may
 * carry anything), cut at the buffer's size with "..." */
static void copy_msg(char *dst, size_t size, const char *src, size_t len)
{
	size_t o = 0, i = 0;
	for (; i < len && o + 1 < size; i++) {
		unsigned char ch = (unsigned char)src[i];
		dst[o++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	dst[o] = 0;
	if (i < len && o >= 3)
		memcpy(dst + o - 3, "...", 3);
}

static void set_phase(struct timeline *tl, int id, double from, double to)
{
	struct tl_phase *p = &tl->phase[id];
	p->present = 1;
	p->start = from;
	p->dur = to > from ? to - from : 0;
}

/* Inserts g into the top TL_MAX_GAPS, largest first (ties: the earlier stays ahead). */
static void keep_gap(struct timeline *tl, const struct tl_gap *g)
{
	double len = g->g_to - g->g_from;
	size_t at = tl->ngaps;
	while (at > 0 && tl->gap[at - 1].g_to - tl->gap[at - 1].g_from < len)
		at--;
	if (at >= TL_MAX_GAPS)
		return;
	size_t n = tl->ngaps < TL_MAX_GAPS ? tl->ngaps + 1 : TL_MAX_GAPS;
	memmove(&tl->gap[at + 1], &tl->gap[at], (n - 1 - at) * sizeof(*g));
	tl->gap[at] = *g;
	tl->ngaps = n;
}

/* The kernel's boot-time printk lines, parsed once: guest time, message, index in the log. */
struct klines {
	double *gt;
	const char **msg;
	size_t *mlen;
	size_t *li;
	size_t n;
};

/* Parses the log's printk lines (the first klog->boot lines kept in kl, all counted in
 * tl->klines); klog may be NULL. Free with klines_release. */
static void klines_parse(struct timeline *tl, const struct vm_klog *klog, struct klines *kl)
{
	size_t nb = klog ? klog->boot : 0;
	kl->gt = xcalloc(nb ? nb : 1, sizeof(double));
	kl->msg = xcalloc(nb ? nb : 1, sizeof(char *));
	kl->mlen = xcalloc(nb ? nb : 1, sizeof(size_t));
	kl->li = xcalloc(nb ? nb : 1, sizeof(size_t));
	kl->n = 0;
	if (!klog)
		return;
	tl->kdropped = klog->dropped;
	const char *p = klog->text.buf, *stop = p + klog->text.len;
	for (size_t i = 0; p < stop && i < klog->n; i++) {
		const char *nl = memchr(p, '\n', (size_t)(stop - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(stop - p);
		/* timeline_printk stops at ']' or a non-digit: the newline ends it. */
		double t;
		const char *m;
		if (timeline_printk(p, &t, &m) == 0 && m <= p + len) {
			tl->klines++;
			if (i < nb) {
				kl->gt[kl->n] = t;
				kl->msg[kl->n] = m;
				kl->mlen[kl->n] = len - (size_t)(m - p);
				kl->li[kl->n] = i;
				kl->n++;
			}
		}
		p += len + 1;
	}
}

static void klines_release(struct klines *kl)
{
	free(kl->gt);
	free(kl->msg);
	free(kl->mlen);
	free(kl->li);
}

/* Ties the clocks (see timeline.h): the init marker, unless a printk line's arrival shows
 * the kernel started earlier than it says. */
static void tie_clocks(struct timeline *tl, const struct vm_result *r, const struct vm_klog *klog,
		       const struct klines *kl)
{
	double t0 = r->t_spawn, entry = 0, by_console = 0;
	int have_console = 0;
	tl->clock_scale = 1;
	for (size_t k = 0; klog && klog->host && k < kl->n; k++) {
		double c = klog->host[kl->li[k]] - kl->gt[k];
		if (!have_console || c < by_console)
			by_console = c;
		have_console = 1;
	}
	tl->have_console = have_console;
	tl->entry_console = by_console - t0;
	if (tl->g_init >= 0) {
		entry = r->t_init - r->g_init;
		tl->entry_marker = entry - t0;
		tl->aligned = 1;
		if (have_console && by_console < entry - TL_CLOCK_SLACK && r->g_init > 0) {
			entry = by_console;
			tl->clock_scale = (r->t_init - entry) / r->g_init;
			tl->aligned = 2;
		}
	} else if (have_console) {
		entry = by_console;
		tl->aligned = 2;
	}
	if (tl->aligned) {
		tl->kernel_entry = entry - t0;
		set_phase(tl, TL_FIRMWARE, 0, tl->kernel_entry);
		tl->phase[TL_FIRMWARE].start = 0;
	}
}

/* The phases after the firmware's, from the markers' host times. */
static void set_phases(struct timeline *tl, const struct vm_result *r)
{
	double t0 = r->t_spawn;
	if (r->t_init > 0) {
		set_phase(tl, TL_KERNEL, tl->aligned ? tl->kernel_entry : 0, r->t_init - t0);
		if (r->t_exec > 0)
			set_phase(tl, TL_INIT, r->t_init - t0, r->t_exec - t0);
	} else if (tl->aligned) {
		/* the kernel never handed over: its bar runs to the end */
		set_phase(tl, TL_KERNEL, tl->kernel_entry, tl->total);
		tl->phase[TL_KERNEL].name = "kernel (no init)";
	}
	if (r->t_exec > 0 && r->t_ready > 0)
		set_phase(tl, TL_READY, r->t_exec - t0, r->t_ready - t0);
	if (r->t_exec > 0 && r->t_exit > 0) {
		set_phase(tl, TL_SERVICE, r->t_exec - t0, r->t_exit - t0);
	} else if (r->t_exec > 0) {
		set_phase(tl, TL_SERVICE, r->t_exec - t0, tl->total);
		tl->phase[TL_SERVICE].name = "service (exec → qemu gone)";
	}
	if (r->t_exit > 0)
		set_phase(tl, TL_SHUTDOWN, r->t_exit - t0, tl->total);
}

/* A guest time on the host's clock (as is when the clocks are not tied). */
static double place(const struct timeline *tl, double g)
{
	return tl->aligned ? tl->kernel_entry + g * tl->clock_scale : g;
}

/* The printk lines as ticks, and the largest gaps between them. */
static void find_gaps(struct timeline *tl, const struct klines *kl)
{
	if (tl->aligned && kl->n) {
		tl->ticks = xcalloc(kl->n, sizeof(double));
		for (size_t k = 0; k < kl->n; k++)
			tl->ticks[k] = place(tl, kl->gt[k]);
		tl->nticks = kl->n;
	}
	for (size_t k = 1; k < kl->n; k++) {
		if (!(kl->gt[k] > kl->gt[k - 1]))
			continue;
		struct tl_gap g;
		g.g_from = kl->gt[k - 1];
		g.g_to = kl->gt[k];
		g.from = place(tl, g.g_from);
		g.to = place(tl, g.g_to);
		copy_msg(g.before, sizeof(g.before), kl->msg[k], kl->mlen[k]);
		copy_msg(g.after, sizeof(g.after), kl->msg[k - 1], kl->mlen[k - 1]);
		keep_gap(tl, &g);
	}
}

int timeline_build(const struct vm_result *r, const struct vm_klog *klog, struct timeline *tl,
		   struct err *e)
{
	memset(tl, 0, sizeof(*tl));
	for (int i = 0; i < TL_NPHASES; i++)
		tl->phase[i].name = phase_names[i];
	if (!(r->t_spawn > 0))
		return err_set(e, CRUMB_EINVAL, "no boot to lay out: QEMU never started");
	double t0 = r->t_spawn;
	tl->accel = accel_name(r->accel);
	/* The last thing seen stands in for QEMU's end when it is missing. */
	double end = r->t_end;
	const double seen[] = {r->t_first_byte, r->t_init, r->t_exec, r->t_ready, r->t_exit};
	for (size_t i = 0; !(end > 0) && i < sizeof(seen) / sizeof(seen[0]); i++)
		end = seen[i] > end ? seen[i] : end;
	tl->total = end > t0 ? end - t0 : 0;
	tl->first_byte = r->t_first_byte > 0 ? r->t_first_byte - t0 : -1;
	tl->g_init = r->t_init > 0 && r->g_init >= 0 ? r->g_init : -1;

	struct klines kl;
	klines_parse(tl, klog, &kl);
	tie_clocks(tl, r, klog, &kl);
	set_phases(tl, r);
	find_gaps(tl, &kl);
	klines_release(&kl);
	return 0;
}

void timeline_release(struct timeline *tl)
{
	free(tl->ticks);
	tl->ticks = NULL;
	tl->nticks = 0;
}

/* Display width of UTF-8 text (code points; every one here is one column). */
static size_t width(const char *s)
{
	size_t w = 0;
	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

static void add_padded(struct sbuf *out, const char *s, size_t w)
{
	sb_adds(out, s);
	for (size_t n = width(s); n < w; n++)
		sb_addc(out, ' ');
}

static double pct(const struct timeline *tl, double d)
{
	return tl->total > 0 ? 100.0 * d / tl->total : 0;
}

void timeline_table(const struct timeline *tl, struct sbuf *out)
{
	const size_t w = 30;
	sb_addf(out, "boot timeline (%s), host clock, ms from QEMU's start:\n", tl->accel);
	sb_adds(out, "  ");
	add_padded(out, "phase", w);
	sb_addf(out, "%9s %9s %6s\n", "start", "duration", "%");
	for (int i = 0; i < TL_NPHASES; i++) {
		const struct tl_phase *p = &tl->phase[i];
		if (!p->present)
			continue;
		sb_adds(out, "  ");
		add_padded(out, p->name, w);
		sb_addf(out, "%9.1f %9.1f %6.1f\n", p->start * 1e3, p->dur * 1e3, pct(tl, p->dur));
	}
	sb_adds(out, "  ");
	add_padded(out, "total", w);
	sb_addf(out, "%9s %9.1f %6.1f\n", "", tl->total * 1e3, tl->total > 0 ? 100.0 : 0.0);
	if (tl->first_byte >= 0)
		sb_addf(out, "  first console byte at %.1f ms", tl->first_byte * 1e3);
	else
		sb_adds(out, "  no console output");
	if (tl->g_init >= 0 && tl->aligned == 1) {
		sb_addf(out, "; guest clock at init %.3f s, so the kernel started at %.1f ms\n",
			tl->g_init, tl->kernel_entry * 1e3);
		if (tl->have_console && tl->entry_console < tl->kernel_entry - 0.005)
			sb_addf(out,
				"  (by its log's arrival, at most %.1f ms: printk's clock runs "
				"ahead of "
				"the markers')\n",
				tl->entry_console * 1e3);
	} else if (tl->g_init >= 0)
		sb_addf(out,
			"; guest clock at init %.3f s.\n"
			"  The guest's clock ran slow (%.2fx host time: a TSC it could not "
			"calibrate?):\n"
			"  by it the kernel started at %.1f ms, after its log reached the host. "
			"Kernel\n"
			"  entry from the log's arrival: at most %.1f ms; guest times stretched "
			"%.2fx\n",
			tl->g_init, 1 / tl->clock_scale, tl->entry_marker * 1e3,
			tl->kernel_entry * 1e3, tl->clock_scale);
	else if (tl->aligned)
		sb_adds(out, "; no init marker: kernel entry from the printk lines' arrival\n");
	else
		sb_adds(out, "; no init marker: kernel entry unknown\n");
	if (tl->klines) {
		sb_addf(out, "  kernel log: %zu lines", tl->klines);
		if (tl->kdropped)
			sb_addf(out, " (%zu more not kept)", tl->kdropped);
		sb_adds(out, "; largest gaps between printk lines before init (guest clock):\n");
		for (size_t k = 0; k < tl->ngaps; k++) {
			const struct tl_gap *g = &tl->gap[k];
			char lead[96];
			snprintf(lead, sizeof(lead), "  %7.1f ms  %6.3f → %6.3f s  ",
				 (g->g_to - g->g_from) * 1e3, g->g_from, g->g_to);
			sb_addf(out, "%sfrom \"%s\"\n", lead, g->after);
			add_padded(out, "", width(lead));
			sb_addf(out, "to   \"%s\"\n", g->before);
		}
	} else {
		sb_adds(out, "  no kernel log (the kernel ran quiet, or printed no timestamps)\n");
	}
}

/* XML text: the markup characters escaped; anything but printable ASCII and
 * our own UTF-8 (phase names) never reaches here (copy_msg). */
static void xml_text(struct sbuf *out, const char *s)
{
	static const char *const entity[256] = {
	    ['&'] = "&amp;", ['<'] = "&lt;", ['>'] = "&gt;", ['"'] = "&quot;", ['\''] = "&apos;",
	};
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (entity[ch])
			sb_adds(out, entity[ch]);
		else if (ch >= 0x20 || ch == '\n')
			sb_addc(out, *s);
	}
}

/* xml_text of at most max bytes of s (ASCII here), "..." marking a cut. */
static void xml_text_max(struct sbuf *out, const char *s, size_t max)
{
	char buf[256];
	size_t n = strlen(s);
	if (n <= max || max < 4 || max >= sizeof(buf)) {
		xml_text(out, s);
		return;
	}
	memcpy(buf, s, max - 3);
	memcpy(buf + max - 3, "...", 4);
	xml_text(out, buf);
}

/* Axis step in ms: 1, 2 or 5 x 10^k giving at most 10 intervals. */
static double axis_step(double total_ms)
{
	double step = 1;
	while (total_ms / step > 10) {
		if (total_ms / (step * 2) <= 10)
			return step * 2;
		if (total_ms / (step * 5) <= 10)
			return step * 5;
		step *= 10;
	}
	return step;
}

/* Layout, in SVG user units (px). */
#define SVG_W 960
#define LABEL_X 250 /* right edge of the phase names */
#define PLOT_X0 262
#define PLOT_X1 820 /* room on the right for "1234.5 ms (100.0%)" */
#define AXIS_Y 50
#define ROW_Y0 64
#define ROW_H 22
#define ROW_PITCH 34

/* What the SVG's parts share: the plot's scale and where the rows are. */
struct svg {
	const struct timeline *tl;
	struct sbuf *out;
	double span;	 /* ms the plot covers (the total, at least 1) */
	double scale;	 /* px per ms */
	double rows_end; /* y below the last bar */
	double kernel_y; /* the kernel bar's y; -1: none */
};

/* The x of a time in ms, clamped to the plot. */
static double svg_x(const struct svg *s, double ms)
{
	return PLOT_X0 + (ms < 0 ? 0 : ms > s->span ? s->span : ms) * s->scale;
}

static void svg_head(const struct svg *s, double height)
{
	struct sbuf *out = s->out;
	sb_adds(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	sb_addf(out,
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%.0f\" "
		"viewBox=\"0 0 %d %.0f\" font-family=\"sans-serif\" font-size=\"12\">\n",
		SVG_W, height, SVG_W, height);
	sb_adds(out, "<title>crumb boot timeline</title>\n");
	sb_addf(out, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%.0f\" fill=\"#ffffff\"/>\n",
		SVG_W, height);
	sb_addf(out,
		"<text x=\"10\" y=\"22\" font-size=\"15\" font-weight=\"bold\">crumb boot timeline "
		"(%s): %.1f ms from QEMU's start to its exit</text>\n",
		s->tl->accel, s->tl->total * 1e3);
}

/* The time axis with its grid. */
static void svg_axis(const struct svg *s)
{
	struct sbuf *out = s->out;
	double step = axis_step(s->span);
	sb_adds(out, "<g stroke=\"#dddddd\" stroke-width=\"1\">\n");
	for (double t = 0; t <= s->span + 1e-9; t += step)
		sb_addf(out, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%.1f\"/>\n", svg_x(s, t),
			AXIS_Y, svg_x(s, t), s->rows_end);
	sb_adds(out, "</g>\n<g text-anchor=\"middle\" fill=\"#555555\">\n");
	for (double t = 0; t <= s->span + 1e-9; t += step)
		sb_addf(out, "<text x=\"%.1f\" y=\"%d\">%.0f</text>\n", svg_x(s, t), AXIS_Y - 4, t);
	sb_addf(out,
		"</g>\n<text x=\"%d\" y=\"%d\" text-anchor=\"end\" fill=\"#555555\">ms</text>\n",
		LABEL_X, AXIS_Y - 4);
}

/* One bar per phase; notes where the kernel's is. */
static void svg_bars(struct svg *s)
{
	const struct timeline *tl = s->tl;
	struct sbuf *out = s->out;
	int row = 0;
	for (int i = 0; i < TL_NPHASES; i++) {
		const struct tl_phase *p = &tl->phase[i];
		if (!p->present)
			continue;
		double y = ROW_Y0 + row++ * ROW_PITCH;
		double x0 = svg_x(s, p->start * 1e3), x1 = svg_x(s, (p->start + p->dur) * 1e3);
		double w = x1 - x0 < 1 ? 1 : x1 - x0;
		if (i == TL_KERNEL)
			s->kernel_y = y;
		sb_addf(out, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">", LABEL_X, y + 15);
		xml_text(out, p->name);
		sb_adds(out, "</text>\n");
		sb_addf(out,
			"<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%d\" fill=\"%s\">", x0,
			y, w, ROW_H, phase_colors[i]);
		sb_adds(out, "<title>");
		xml_text(out, p->name);
		sb_addf(out, ": %.1f ms from %.1f ms (%.1f%%)</title></rect>\n", p->dur * 1e3,
			p->start * 1e3, pct(tl, p->dur));
		sb_addf(out, "<text x=\"%.1f\" y=\"%.1f\">%.1f ms (%.1f%%)</text>\n", x1 + 5,
			y + 15, p->dur * 1e3, pct(tl, p->dur));
	}
}

/* The kernel's printk lines as ticks along the bottom of its bar. */
static void svg_ticks(const struct svg *s)
{
	double ky = s->kernel_y;
	sb_addf(s->out, "<g stroke=\"#1b2f45\" stroke-width=\"1\" stroke-opacity=\"0.6\">\n");
	for (size_t k = 0; k < s->tl->nticks; k++) {
		double x = svg_x(s, s->tl->ticks[k] * 1e3);
		sb_addf(s->out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", x,
			ky + ROW_H - 6, x, ky + ROW_H);
	}
	sb_adds(s->out, "</g>\n");
}

/* The largest gaps as red spans over the kernel's bar, with a numbered tick where each ends. */
static void svg_gap_spans(const struct svg *s)
{
	struct sbuf *out = s->out;
	double ky = s->kernel_y;
	for (size_t k = 0; k < s->tl->ngaps; k++) {
		const struct tl_gap *g = &s->tl->gap[k];
		double x0 = svg_x(s, g->from * 1e3), x1 = svg_x(s, g->to * 1e3);
		sb_addf(out,
			"<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"3\" "
			"fill=\"#c0392b\"><title>gap %zu: %.1f ms from &#8220;",
			x0, ky - 3, x1 - x0, k + 1, (g->g_to - g->g_from) * 1e3);
		xml_text(out, g->after);
		sb_adds(out, "&#8221; to &#8220;");
		xml_text(out, g->before);
		sb_adds(out, "&#8221;</title></rect>\n");
		sb_addf(out,
			"<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
			"stroke=\"#c0392b\" stroke-width=\"2\"/>\n",
			x1, ky - 3, x1, ky + ROW_H + 3);
		sb_addf(out,
			"<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"10\" "
			"fill=\"#c0392b\">%zu</text>\n",
			x1, ky - 6, k + 1);
	}
}

/* The gaps, in words, from y; returns the y after them. */
static double svg_gap_list(const struct svg *s, double y)
{
	struct sbuf *out = s->out;
	if (!s->tl->ngaps)
		return y;
	sb_addf(out,
		"<text x=\"10\" y=\"%.1f\" font-weight=\"bold\">largest gaps between the "
		"kernel's "
		"printk lines (guest clock)</text>\n",
		y);
	y += 18;
	for (size_t k = 0; k < s->tl->ngaps; k++, y += 16) {
		const struct tl_gap *g = &s->tl->gap[k];
		sb_addf(out,
			"<text x=\"10\" y=\"%.1f\"><tspan fill=\"#c0392b\">%zu</tspan> "
			"%.1f ms, "
			"%.3f → %.3f s, before &#8220;",
			y, k + 1, (g->g_to - g->g_from) * 1e3, g->g_from, g->g_to);
		xml_text_max(out, g->before, 100); /* the page is 960 wide */
		sb_adds(out, "&#8221;</text>\n");
	}
	return y;
}

/* The note on how the clocks were tied, at y, and the document's end. */
static void svg_foot(const struct svg *s, double y)
{
	const struct timeline *tl = s->tl;
	struct sbuf *out = s->out;
	sb_addf(out, "<text x=\"10\" y=\"%.1f\" font-size=\"10\" fill=\"#555555\">", y + 8);
	if (tl->aligned == 1)
		sb_adds(out, "host clock from QEMU's start; the guest's clock is tied to it at "
			     "crumb-init's init marker");
	else if (tl->aligned == 2 && tl->g_init >= 0)
		sb_addf(out,
			"host clock from QEMU's start; the guest's clock ran slow (%.2fx): kernel "
			"entry placed by the log's arrival, guest times stretched %.2fx",
			1 / tl->clock_scale, tl->clock_scale);
	else if (tl->aligned == 2)
		sb_adds(out, "host clock from QEMU's start; no init marker: kernel entry placed by "
			     "the log's arrival");
	else
		sb_adds(out, "host clock from QEMU's start; no init marker and no kernel log");
	sb_adds(out, "; dashed: first console byte</text>\n");
	sb_adds(out, "</svg>\n");
}

void timeline_svg(const struct timeline *tl, struct sbuf *out)
{
	double total_ms = tl->total * 1e3;
	struct svg s = {.tl = tl, .out = out, .kernel_y = -1};
	s.span = total_ms > 0 ? total_ms : 1;
	s.scale = (PLOT_X1 - PLOT_X0) / s.span;
	int rows = 0;
	for (int i = 0; i < TL_NPHASES; i++)
		rows += tl->phase[i].present;
	s.rows_end = ROW_Y0 + rows * ROW_PITCH;
	double legend_y = s.rows_end + 22;
	double height = legend_y + (tl->ngaps ? 18 + 16.0 * (double)tl->ngaps : 0) + 30;

	svg_head(&s, height);
	svg_axis(&s);
	svg_bars(&s);
	if (s.kernel_y >= 0 && tl->nticks)
		svg_ticks(&s);
	if (s.kernel_y >= 0 && tl->aligned)
		svg_gap_spans(&s);
	if (tl->first_byte >= 0) {
		double x = svg_x(&s, tl->first_byte * 1e3);
		sb_addf(out,
			"<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333333\" "
			"stroke-dasharray=\"3,3\"><title>first console byte at %.1f "
			"ms</title></line>\n",
			x, AXIS_Y, x, s.rows_end, tl->first_byte * 1e3);
	}
	svg_foot(&s, svg_gap_list(&s, legend_y));
}

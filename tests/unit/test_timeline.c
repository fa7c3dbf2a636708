/* test_timeline.c: printk capture, clock alignment, gap finding, and the table and SVG (golden). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/timeline.h"
#include "sign.h"
#include "tap.h"

/* GOLDEN=1 rewrites the golden files instead of comparing. */
#define GOLDEN_DIR "tests/golden/timeline"

static void out(void *ctx, const char *buf, size_t n)
{
	sb_add(ctx, buf, n);
}

/* A boot as the console carries it: printk lines (CRLF), markers, service
 * output, the reboot line. Host times are given per chunk. */
struct chunk {
	double now;
	const char *bytes;
};
/* The kernel starts at host 100.3 (0.4 s after QEMU's spawn at 99.9); the
 * lines before the console is enabled arrive together with its line, the
 * later ones 1-2 ms after their stamp. */
static const struct chunk boot[] = {
    {100.357, "[    0.000000] Linux version 6.1.192 (crumb@crumb)\r\n"
	      "[    0.010000] Command line: console=ttyS0 printk.time=1\r\n"},
    {100.357, "[    0.055000] printk: console [ttyS0] enabled\r\n"},
    {100.440, "[    0.138000] Mountpoint-cache hash table entries: 512\r\n"},
    {100.681, "[    0.379000] smpboot: CPU0: AMD QEMU Virtual CPU version 2.5+\r\n"},
    {100.712, "[    0.405000] devtmpfs: initialized\r\n"
	      "[    0.410000] odd <b>&\"'\x01\xff bytes\r\n"
	      "not a printk line\r\n"},
    {100.981, "[    0.680000] Freeing unused kernel image (initmem) memory: 692K\r\n"},
    {100.992, "[    0.690000] Run /sbin/crumb-init as init process\r\n"},
    {101.00, "\x02"
	     "crumb:init 0.700000\x03"},
    {101.05, "\x02"
	     "crumb:exec 0.750000\x03"},
    {101.06, "hello\n[    0.760000] IPv6: ADDRCONF(NETDEV_CHANGE): eth0: link becomes ready\r\n"
	     "[not a stamp]\n[ 1.5x\n[ 2.25]"},
    {101.08, "\x02"
	     "crumb:ready 0.780000\x03"},
    {101.10, "[\x02"
	     "crumb:exit 0.800000 0\x03"},
    {101.11, "[    0.810000] reboot: Restarting system\r\n"},
};

static int golden(const char *name, const char *got)
{
	char *path = xasprintf("%s/%s", GOLDEN_DIR, name);
	struct sbuf want = SBUF_INIT;
	int same;
	if (getenv("GOLDEN") && *getenv("GOLDEN")) {
		same = write_file_atomic(path, got, strlen(got), 0644, NULL) == 0;
	} else {
		same = read_file(path, 1 << 20, &want, NULL) == 0 && !strcmp(want.buf, got);
		if (!same) {
			char *tmp = xasprintf("%s/test_timeline.%s",
					      getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", name);
			write_file_atomic(tmp, got, strlen(got), 0644, NULL);
			printf("# differs from %s; got it in %s\n", path, tmp);
			free(tmp);
		}
	}
	free(path);
	sb_release(&want);
	return same;
}

/* Well-formedness basics without a parser: tags nest and close, attribute
 * values are quoted, '&' starts an entity, no control bytes. */
static int xml_balanced(const char *s)
{
	const char *stack[64];
	size_t depth = 0, lens[64];
	for (const char *p = s; *p; p++) {
		if ((unsigned char)*p < 0x20 && *p != '\n')
			return 0;
		if (*p == '&') {
			const char *semi = strchr(p, ';');
			if (!semi || semi - p > 8 || strchr("<>& \"", p[1]))
				return 0;
			continue;
		}
		if (*p == '>')
			return 0; /* a '>' outside a tag: legal, but we escape it */
		if (*p != '<')
			continue;
		const char *end = strchr(p, '>');
		if (!end)
			return 0;
		int quotes = 0;
		for (const char *q = p; q < end; q++) {
			quotes += *q == '"';
			if (*q == '<' && q != p)
				return 0;
		}
		if (quotes % 2)
			return 0;
		if (p[1] == '?') {
			if (end[-1] != '?')
				return 0;
		} else if (p[1] == '/') {
			size_t n = strcspn(p + 2, " >");
			if (!depth || lens[depth - 1] != n || strncmp(stack[depth - 1], p + 2, n))
				return 0;
			depth--;
		} else if (end[-1] != '/') {
			if (depth == 64)
				return 0;
			stack[depth] = p + 1;
			lens[depth++] = strcspn(p + 1, " />");
		}
		p = end;
	}
	return depth == 0;
}

int main(void)
{
	double t;
	const char *m;
	ok(timeline_printk("[    0.634521] hello", &t, &m) == 0 && t > 0.6345 && t < 0.6346 &&
	       !strcmp(m, "hello"),
	   "a printk stamp is parsed");
	ok(timeline_printk("[12345.000001]x", &t, &m) == 0 && t > 12344.9 && !strcmp(m, "x"),
	   "... a wide one, no space after it");
	ok(timeline_printk("hello [ 1.0] x", &t, &m) < 0,
	   "a line not starting with a stamp is not printk");
	ok(timeline_printk("[ abc] x", &t, &m) < 0 && timeline_printk("[ 1.0 x", &t, &m) < 0 &&
	       timeline_printk("[ -1.0] x", &t, &m) < 0 && timeline_printk("", &t, &m) < 0,
	   "... nor a malformed one");

	/* The console keeps the kernel's lines, hides them, and shows the service's. */
	struct vm_result r;
	struct vm_klog k = VM_KLOG_INIT;
	struct sbuf shown = SBUF_INIT;
	struct console c;
	memset(&r, 0, sizeof(r));
	r.status = -1;
	r.g_init = r.g_exec = r.g_exit = r.g_ready = -1;
	/* crumb-init signs its markers */
	const size_t nboot = sizeof(boot) / sizeof(boot[0]);
	struct sbuf sboot[sizeof(boot) / sizeof(boot[0])];
	unsigned long long seq = 0;
	for (size_t i = 0; i < nboot; i++) {
		sb_init(&sboot[i]);
		sign_stream(boot[i].bytes, strlen(boot[i].bytes), &seq, &sboot[i]);
	}
	/* byte by byte first: the same must come out */
	struct vm_klog k1 = VM_KLOG_INIT;
	console_init(&c, &r, 0, out, &shown);
	console_set_key(&c, test_key);
	c.klog = &k1;
	for (size_t i = 0; i < nboot; i++)
		for (const char *b = sboot[i].buf; *b; b++)
			console_feed(&c, b, 1, boot[i].now);
	console_release(&c);
	struct sbuf shown1 = SBUF_INIT;
	sb_add(&shown1, shown.buf, shown.len);
	sb_reset(&shown);
	memset(&r, 0, sizeof(r));
	r.status = -1;
	r.g_init = r.g_exec = r.g_exit = r.g_ready = -1;
	console_init(&c, &r, 0, out, &shown);
	console_set_key(&c, test_key);
	c.klog = &k;
	for (size_t i = 0; i < nboot; i++)
		console_feed(&c, sboot[i].buf, sboot[i].len, boot[i].now);
	console_release(&c);
	for (size_t i = 0; i < nboot; i++)
		sb_release(&sboot[i]);
	is_str(shown.buf, "hello\n[not a stamp]\n[ 1.5x\n[ 2.25][",
	       "with a klog, the kernel's lines are hidden, during the service too");
	is_str(shown1.buf, shown.buf, "... the same fed byte by byte");
	ok(k1.text.len == k.text.len && !memcmp(k1.text.buf, k.text.buf, k.text.len),
	   "... which keeps the same lines");
	is_int(k.n, 12, "every kernel line is kept, the non-printk one too");
	is_int(k.boot, 10, "... ten of them before init");
	ok(k.host && k.host[0] == 100.357 && k.host[3] == 100.440 && k.host[4] == 100.681 &&
	       k.host[10] == 101.06 && k.host[11] == 101.11,
	   "... each with the host time it arrived");
	ok(strstr(k.text.buf,
		  "\n[    0.760000] IPv6: ADDRCONF(NETDEV_CHANGE): eth0: link becomes ready\n"),
	   "... the one printed while the service ran as well");
	vm_klog_release(&k1);
	sb_release(&shown1);
	ok(!strncmp(k.text.buf, "[    0.000000] Linux version 6.1.192 (crumb@crumb)\n[", 52),
	   "... CR/LF stripped, one line each");
	r.t_spawn = 99.9;
	r.t_end = 101.12;
	r.t_first_byte = 100.357;
	r.accel = ACCEL_TCG;

	struct timeline tl;
	struct err e = {0};
	ok(timeline_build(&r, &k, &tl, &e) == 0, "timeline_build");
	ok(tl.aligned == 1 && tl.kernel_entry > 0.39999 && tl.kernel_entry < 0.40001 &&
	       tl.clock_scale == 1,
	   "kernel entry = t_init - g_init: 0.4 s after spawn (%.6f)", tl.kernel_entry);
	is_int(tl.klines, 11, "printk lines counted (not the unstamped one)");
	is_int(tl.nticks, 9, "... the nine before init become ticks");
	ok(tl.ticks[4] > 0.7789 && tl.ticks[4] < 0.7791, "a guest printk time maps to host time");
	is_int(tl.ngaps, 5, "top five gaps");
	ok(tl.gap[0].g_from == 0.410 && tl.gap[0].g_to == 0.680 && tl.gap[1].g_from == 0.138 &&
	       tl.gap[1].g_to == 0.379 && tl.gap[2].g_to == 0.138 && tl.gap[3].g_to == 0.055 &&
	       tl.gap[4].g_to == 0.405,
	   "gaps largest first: 270, 241, 83, 45, 26 ms");
	is_str(tl.gap[1].before, "smpboot: CPU0: AMD QEMU Virtual CPU version 2.5+",
	       "a gap names the line that ends it");
	is_str(tl.gap[1].after, "Mountpoint-cache hash table entries: 512",
	       "... and the one before");
	is_str(tl.gap[0].after, "odd <b>&\"'?? bytes", "messages are made printable");
	ok(tl.phase[TL_READY].present && tl.phase[TL_SHUTDOWN].present, "all six phases present");

	struct sbuf table = SBUF_INIT, svg = SBUF_INIT, svg2 = SBUF_INIT;
	timeline_table(&tl, &table);
	ok(golden("boot.txt", table.buf),
	   "the --timing table matches tests/golden/timeline/boot.txt");
	ok(strstr(table.buf, "  kernel → init                     400.0     700.0   57.4\n") !=
	       NULL,
	   "the kernel row: from 400 ms for 700 ms, 57.4%% of 1220 ms");
	timeline_svg(&tl, &svg);
	timeline_svg(&tl, &svg2);
	ok(!strcmp(svg.buf, svg2.buf), "the SVG is deterministic");
	ok(golden("boot.svg", svg.buf), "the SVG matches tests/golden/timeline/boot.svg");
	ok(xml_balanced(svg.buf), "the SVG is well-formed (tags, quotes, entities)");
	ok(strstr(svg.buf, "odd &lt;b&gt;&amp;&quot;&apos;?? bytes") != NULL,
	   "kernel text is escaped in the SVG");
	ok(!strstr(svg.buf, "href") && !strstr(svg.buf, "<script") && !strstr(svg.buf, "@import"),
	   "... which refers to nothing outside itself");
	if (system("python3 -c '' 2>/dev/null") == 0) {
		char tmp[] = "/tmp/test_timeline.XXXXXX";
		int fd = mkstemp(tmp);
		ok(fd >= 0 && write(fd, svg.buf, svg.len) == (ssize_t)svg.len, "SVG written to %s",
		   tmp);
		close(fd);
		is_int(sh("python3 -c 'import sys, xml.etree.ElementTree as E; "
			  "r = E.parse(sys.argv[1]).getroot(); sys.exit(r.tag != "
			  "\"{http://www.w3.org/2000/svg}svg\")' %s",
			  tmp),
		       0, "python's XML parser reads it as an svg document");
		unlink(tmp);
	}
	timeline_release(&tl);

	/* Without ready and without a kernel log (quiet): four phases, no gaps. */
	sb_reset(&table);
	r.t_ready = 0;
	r.g_ready = -1;
	ok(timeline_build(&r, NULL, &tl, &e) == 0 && !tl.phase[TL_READY].present && tl.ngaps == 0 &&
	       tl.nticks == 0 && tl.phase[TL_FIRMWARE].present,
	   "no ready marker, no log: no ready row, no gaps, still aligned by the marker");
	timeline_table(&tl, &table);
	ok(strstr(table.buf, "no kernel log") != NULL, "... and the table says there was no log");
	sb_reset(&svg);
	timeline_svg(&tl, &svg);
	ok(xml_balanced(svg.buf), "... its SVG is well-formed too");
	timeline_release(&tl);

	/* A panic: no init marker. The clocks are tied by the printk lines' arrival. */
	struct vm_result p;
	memset(&p, 0, sizeof(p));
	p.g_init = p.g_exec = p.g_exit = p.g_ready = -1;
	p.t_spawn = 99.9;
	p.t_first_byte = 100.2;
	p.t_end = 100.9;
	ok(timeline_build(&p, &k, &tl, &e) == 0 && tl.aligned && !tl.phase[TL_INIT].present,
	   "no init marker: still laid out");
	/* arrival minus stamp is smallest for "Freeing": 100.981 - 0.680 = 100.301 */
	ok(tl.aligned == 2 && tl.kernel_entry > 0.40099 && tl.kernel_entry < 0.40101,
	   "... kernel entry from the line that arrived soonest after its stamp (%.6f)",
	   tl.kernel_entry);
	is_str(tl.phase[TL_KERNEL].name, "kernel (no init)", "... the kernel bar runs to the end");
	timeline_release(&tl);

	/* printk's clock a little ahead of the markers': within TL_CLOCK_SLACK, the marker
	 * stands, and the table tells the difference. */
	r.t_init = 101.03;
	sb_reset(&table);
	ok(timeline_build(&r, &k, &tl, &e) == 0 && tl.aligned == 1 && tl.kernel_entry > 0.4299 &&
	       tl.kernel_entry < 0.4301,
	   "printk's clock 29 ms ahead: the marker still places the kernel");
	timeline_table(&tl, &table);
	ok(strstr(table.buf,
		  "(by its log's arrival, at most 401.0 ms: printk's clock runs ahead") != NULL,
	   "... and the table gives the log's bound");
	timeline_release(&tl);

	/* A slow guest clock (jiffies falling behind): the init marker says the kernel
	 * started at 100.6, after its log reached the host. */
	r.t_init = 101.3;
	r.t_exec = 101.35;
	r.t_exit = 101.40;
	r.t_end = 101.42;
	ok(timeline_build(&r, &k, &tl, &e) == 0 && tl.aligned == 2,
	   "a slow guest clock is noticed");
	ok(tl.kernel_entry > 0.40099 && tl.kernel_entry < 0.40101 && tl.entry_marker > 0.69999 &&
	       tl.entry_marker < 0.70001,
	   "... kernel entry from the log (0.401), not the marker (0.7)");
	/* (101.3 - 100.301) / 0.7 */
	ok(tl.clock_scale > 1.4271 && tl.clock_scale < 1.4272,
	   "... guest times stretched 1.427x (%.4f)", tl.clock_scale);
	ok(tl.ticks[tl.nticks - 1] > 0.401 + 0.69 * 1.4271 && tl.ticks[tl.nticks - 1] < 1.4,
	   "... a tick placed on the stretched clock (%.4f)", tl.ticks[tl.nticks - 1]);
	sb_reset(&table);
	timeline_table(&tl, &table);
	ok(golden("slow.txt", table.buf), "the table says so (tests/golden/timeline/slow.txt)");
	timeline_release(&tl);

	memset(&p, 0, sizeof(p));
	ok(timeline_build(&p, NULL, &tl, &e) == CRUMB_EINVAL, "no spawn time: an error");
	timeline_release(&tl);

	/* The capture is bounded. */
	struct vm_klog big = VM_KLOG_INIT;
	for (int i = 0; i < VM_KLOG_MAX_LINES + 10; i++)
		vm_klog_add(&big, "[    1.000000] x", 16, 1.0, 1);
	ok(big.n == VM_KLOG_MAX_LINES && big.dropped == 10 && big.boot == VM_KLOG_MAX_LINES,
	   "at most %d lines kept, the rest counted", VM_KLOG_MAX_LINES);
	vm_klog_reset(&big);
	char line[512];
	memset(line, 'y', sizeof(line));
	for (int i = 0; i < 1000; i++)
		vm_klog_add(&big, line, sizeof(line), 1.0, 0);
	ok(big.text.len <= VM_KLOG_MAX_BYTES && big.dropped > 0 && big.boot == 0,
	   "at most %d bytes kept (%zu lines of 512)", VM_KLOG_MAX_BYTES, big.n);
	vm_klog_release(&big);

	vm_klog_release(&k);
	sb_release(&shown);
	sb_release(&table);
	sb_release(&svg);
	sb_release(&svg2);
	return done_testing();
}

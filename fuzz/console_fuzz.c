/* console_fuzz.c: libFuzzer target: any bytes as the guest's console (console_feed), whole and
 * in pieces; both must give the same output and the same result. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/console.h"
#include "../tests/unit/sign.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void out(void *ctx, const char *buf, size_t n)
{
	sb_add(ctx, buf, n);
}

struct outcome {
	struct vm_result r;
	struct sbuf shown;
	struct vm_klog klog;
};

/* data[0]: bit 0 verbose, bit 1 keep a klog, bit 2 no key; data[1]: the piece sizes' seed;
 * then the stream (signed with sign.h's test_key, so the corpus can hold real markers). */
static void feed(const uint8_t *data, size_t size, int pieces, struct outcome *o)
{
	struct console c;
	memset(&o->r, 0, sizeof(o->r));
	o->r.status = -1;
	sb_init(&o->shown);
	memset(&o->klog, 0, sizeof(o->klog));
	sb_init(&o->klog.text);
	console_init(&c, &o->r, data[0] & 1, out, &o->shown);
	if (!(data[0] & 4))
		console_set_key(&c, test_key);
	if (data[0] & 2)
		c.klog = &o->klog;
	const char *s = (const char *)data + 2;
	size_t n = size - 2, i = 0;
	unsigned seed = data[1];
	while (i < n) {
		size_t k = pieces ? 1 + (seed = seed * 1103515245u + 12345u) % 17 : n;
		if (k > n - i)
			k = n - i;
		console_feed(&c, s + i, k, 1.0);
		i += k;
	}
	console_release(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2 || size > 1 << 16)
		return 0;
	struct outcome a, b;
	feed(data, size, 0, &a);
	feed(data, size, 1, &b);
	const struct vm_result *x = &a.r, *y = &b.r;
	if (a.shown.len != b.shown.len || memcmp(a.shown.buf, b.shown.buf, a.shown.len) ||
	    x->status != y->status || x->t_init != y->t_init || x->g_init != y->g_init ||
	    x->g_exec != y->g_exec || x->g_exit != y->g_exit || x->g_ready != y->g_ready ||
	    x->steps != y->steps || x->restarts != y->restarts ||
	    x->unsigned_markers != y->unsigned_markers || strcmp(x->init_error, y->init_error) ||
	    strcmp(x->step, y->step) || strcmp(x->panic, y->panic) || a.klog.n != b.klog.n ||
	    a.klog.text.len != b.klog.text.len ||
	    memcmp(a.klog.text.buf, b.klog.text.buf, a.klog.text.len))
		abort();
	/* without a key nothing is acted on; a status is always 0..255 */
	if ((data[0] & 4) && (x->t_init || x->status != -1 || x->init_error[0]))
		abort();
	if (x->status < -1 || x->status > 255)
		abort();
	/* the shown text is never more than what came in (markers only ever go) */
	if (a.shown.len > size - 2)
		abort();
	sb_release(&a.shown);
	sb_release(&b.shown);
	vm_klog_release(&a.klog);
	vm_klog_release(&b.klog);
	return 0;
}

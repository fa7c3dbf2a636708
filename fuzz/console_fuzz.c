/* console_fuzz.c: libFuzzer target: any bytes as the guest's console (console_feed), whole and
 * in pieces, and through a second stream that follows the first (console_follow): all must give
 * the same output and the same result; split between the two streams, the invariants still hold. */
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
 * then the stream (signed with sign.h's test_key, so the corpus can hold real markers).
 * pieces: 0 whole, 1 in pieces, 2 whole into a second stream, 3 pieces to either stream. */
static void feed(const uint8_t *data, size_t size, int pieces, struct outcome *o)
{
	struct console c, u;
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
	console_init(&u, &o->r, data[0] & 1, out, &o->shown);
	console_follow(&u, &c);
	u.klog = c.klog;
	const char *s = (const char *)data + 2;
	size_t n = size - 2, i = 0;
	unsigned seed = data[1];
	while (i < n) {
		size_t k = pieces & 1 ? 1 + (seed = seed * 1103515245u + 12345u) % 17 : n;
		if (k > n - i)
			k = n - i;
		struct console *to = pieces == 2 || (pieces == 3 && (seed & 64)) ? &u : &c;
		console_feed(to, s + i, k, 1.0);
		i += k;
	}
	console_release(&c);
	console_release(&u);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2 || size > 1 << 16)
		return 0;
	struct outcome a, b, f, t;
	feed(data, size, 0, &a);
	feed(data, size, 1, &b);
	feed(data, size, 2, &f);
	feed(data, size, 3, &t);
	/* a follower alone is the lead's twin; split across two, the bounds still hold */
	if (f.shown.len != a.shown.len || memcmp(f.shown.buf, a.shown.buf, a.shown.len) ||
	    f.r.status != a.r.status || f.r.unsigned_markers != a.r.unsigned_markers ||
	    strcmp(f.r.panic, a.r.panic) || f.klog.n != a.klog.n)
		abort();
	if (t.r.status < -1 || t.r.status > 255 || t.shown.len > size - 2 ||
	    ((data[0] & 4) && (t.r.t_init || t.r.status != -1)))
		abort();
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
	struct outcome *all[] = {&a, &b, &f, &t};
	for (int i = 0; i < 4; i++) {
		sb_release(&all[i]->shown);
		vm_klog_release(&all[i]->klog);
	}
	return 0;
}

/* spec_json.c: exec form: Docker's test for a JSON array of strings, decoded by jansson. */
#include <jansson.h>
#include <string.h>

#include "spec_int.h"

/* crumb has always refused JSON nested deeper than this (as shell form) */
#define JSON_MAX_DEPTH 1000

static int hex4(const char *s, unsigned *v)
{
	*v = 0;
	for (int k = 0; k < 4; k++) {
		int c = (unsigned char)s[k], h = c >= '0' && c <= '9'	? c - '0'
						 : c >= 'a' && c <= 'f' ? c - 'a' + 10
						 : c >= 'A' && c <= 'F' ? c - 'A' + 10
									: -1;
		if (h < 0)
			return -1;
		*v = *v * 16 + (unsigned)h;
	}
	return 0;
}

/*
 * One string's body (at s[*i], after the opening quote) into out, for jansson.
 * Go's decoder, which Docker uses, is more lenient than jansson in strings:
 * a lone surrogate escape and a byte that is not UTF-8 become U+FFFD there,
 * and "\u0000" is fine in an object key. So: lone surrogates and bad bytes are
 * written as \ufffd, and \u0000 as \u0001 with *nul set. Anything else is
 * copied for jansson to judge.
 */
static void go_string(const char *s, size_t n, size_t *i, struct sbuf *out, int *nul)
{
	size_t k = *i;
	while (k < n && s[k] != '"') {
		unsigned char c = (unsigned char)s[k];
		unsigned cp, lo;
		if (c == '\\' && k + 6 <= n && s[k + 1] == 'u' && hex4(s + k + 2, &cp) == 0 &&
		    (cp == 0 || (cp >= 0xd800 && cp < 0xe000))) {
			size_t len = 6;
			if (cp >= 0xd800 && cp < 0xdc00 && k + 12 <= n && s[k + 6] == '\\' &&
			    s[k + 7] == 'u' && hex4(s + k + 8, &lo) == 0 && lo >= 0xdc00 &&
			    lo < 0xe000)
				sb_add(out, s + k, len = 12); /* a pair */
			else
				sb_adds(out, cp ? "\\ufffd" : "\\u0001");
			*nul |= cp == 0;
			k += len;
		} else if (c == '\\' && k + 1 < n) {
			sb_add(out, s + k, 2);
			k += 2;
		} else if (c >= 0x80 && spec_utf8_bad(s + k, n - k < 4 ? n - k : 4) == 0) {
			sb_adds(out, "\\ufffd");
			k++;
		} else {
			size_t len = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
			sb_add(out, s + k, len);
			k += len;
		}
	}
	*i = k;
}

/* text with its strings made acceptable to jansson as they are to Go */
static void go_text(const char *s, size_t n, struct sbuf *out, int *nul)
{
	size_t i = 0;
	while (i < n) {
		sb_addc(out, s[i]);
		if (s[i++] != '"')
			continue;
		go_string(s, n, &i, out, nul);
		if (i < n)
			sb_addc(out, s[i++]);
	}
}

static int too_deep(json_t *v, int depth)
{
	size_t i;
	const char *k;
	json_t *m;
	if (depth > JSON_MAX_DEPTH)
		return 1;
	if (json_is_array(v))
		json_array_foreach(v, i, m) if (too_deep(m, depth + 1)) return 1;
	if (json_is_object(v))
		json_object_foreach(v, k, m) if (too_deep(m, depth + 1)) return 1;
	return 0;
}

int spec_json_args(const char *s, struct strlist *out)
{
	while (spec_isspace((unsigned char)*s))
		s++;
	if (*s != '[')
		return JSON_NO;
	struct sbuf text = SBUF_INIT;
	int nul = 0;
	go_text(s, strlen(s), &text, &nul);
	/* numbers as Go's float64: one past its range is no JSON */
	json_t *a = json_loadb(text.buf, text.len, JSON_DECODE_INT_AS_REAL, NULL);
	sb_release(&text);
	int r = !a || too_deep(a, 0) ? JSON_NO : JSON_STRINGS;
	for (size_t i = 0; r == JSON_STRINGS && i < json_array_size(a); i++)
		if (!json_is_string(json_array_get(a, i)))
			r = JSON_NOT_STRINGS;
	if (r == JSON_STRINGS && nul)
		r = JSON_NUL;
	for (size_t i = 0; r == JSON_STRINGS && i < json_array_size(a); i++)
		strlist_push(out, json_string_value(json_array_get(a, i)));
	json_decref(a);
	return r;
}

const char *spec_json_msg(int j)
{
	return j == JSON_NUL
		   ? "JSON argument contains a NUL character"
		   : "when using JSON array syntax, arrays must be comprised of strings only";
}

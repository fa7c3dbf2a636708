/* spec_json.c: exec form: Docker's test for a JSON array of strings. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "spec_int.h"

/* ---- JSON arrays of strings (exec form) ---- */

struct jp {
	const char *s;
	size_t i, n;
};

static void j_ws(struct jp *j)
{
	while (j->i < j->n && (j->s[j->i] == ' ' || j->s[j->i] == '\t' || j->s[j->i] == '\n' ||
			       j->s[j->i] == '\r'))
		j->i++;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int j_hex4(struct jp *j, unsigned *v)
{
	if (j->n - j->i < 4)
		return -1;
	*v = 0;
	for (int k = 0; k < 4; k++) {
		int h = hexval((unsigned char)j->s[j->i + k]);
		if (h < 0)
			return -1;
		*v = *v * 16 + (unsigned)h;
	}
	j->i += 4;
	return 0;
}

static void utf8_put(struct sbuf *sb, unsigned cp)
{
	if (cp < 0x80) {
		sb_addc(sb, (char)cp);
	} else if (cp < 0x800) {
		sb_addc(sb, (char)(0xc0 | cp >> 6));
		sb_addc(sb, (char)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		sb_addc(sb, (char)(0xe0 | cp >> 12));
		sb_addc(sb, (char)(0x80 | ((cp >> 6) & 0x3f)));
		sb_addc(sb, (char)(0x80 | (cp & 0x3f)));
	} else {
		sb_addc(sb, (char)(0xf0 | cp >> 18));
		sb_addc(sb, (char)(0x80 | ((cp >> 12) & 0x3f)));
		sb_addc(sb, (char)(0x80 | ((cp >> 6) & 0x3f)));
		sb_addc(sb, (char)(0x80 | (cp & 0x3f)));
	}
}

/* A JSON string at j->i (the opening quote); out may be NULL. Sets *nul when
 * it decodes a NUL. Go's decoder: control characters are errors, a lone
 * surrogate becomes U+FFFD. */
static int j_string(struct jp *j, struct sbuf *out, int *nul)
{
	j->i++;
	for (;;) {
		if (j->i >= j->n)
			return -1;
		unsigned char c = (unsigned char)j->s[j->i++];
		if (c == '"')
			return 0;
		if (c < 0x20)
			return -1;
		if (c != '\\') {
			if (out)
				sb_addc(out, (char)c);
			continue;
		}
		if (j->i >= j->n)
			return -1;
		c = (unsigned char)j->s[j->i++];
		unsigned cp;
		switch (c) {
		case '"':
		case '\\':
		case '/':
			cp = c;
			break;
		case 'b':
			cp = '\b';
			break;
		case 'f':
			cp = '\f';
			break;
		case 'n':
			cp = '\n';
			break;
		case 'r':
			cp = '\r';
			break;
		case 't':
			cp = '\t';
			break;
		case 'u':
			if (j_hex4(j, &cp) < 0)
				return -1;
			if (cp >= 0xd800 && cp < 0xdc00) {
				unsigned lo;
				size_t save = j->i;
				if (j->n - j->i >= 6 && j->s[j->i] == '\\' &&
				    j->s[j->i + 1] == 'u') {
					j->i += 2;
					if (j_hex4(j, &lo) == 0 && lo >= 0xdc00 && lo < 0xe000) {
						cp =
						    0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
						break;
					}
				}
				j->i = save;
				cp = 0xfffd;
			} else if (cp >= 0xdc00 && cp < 0xe000) {
				cp = 0xfffd;
			}
			break;
		default:
			return -1;
		}
		if (cp == 0 && nul)
			*nul = 1;
		if (out)
			utf8_put(out, cp);
	}
}

static int j_value(struct jp *j, int depth);

static int j_number(struct jp *j)
{
	size_t st = j->i;
	if (j->i < j->n && j->s[j->i] == '-')
		j->i++;
	if (j->i >= j->n || !isdigit((unsigned char)j->s[j->i]))
		return -1;
	if (j->s[j->i] == '0')
		j->i++;
	else
		while (j->i < j->n && isdigit((unsigned char)j->s[j->i]))
			j->i++;
	if (j->i < j->n && j->s[j->i] == '.') {
		j->i++;
		if (j->i >= j->n || !isdigit((unsigned char)j->s[j->i]))
			return -1;
		while (j->i < j->n && isdigit((unsigned char)j->s[j->i]))
			j->i++;
	}
	if (j->i < j->n && (j->s[j->i] == 'e' || j->s[j->i] == 'E')) {
		j->i++;
		if (j->i < j->n && (j->s[j->i] == '+' || j->s[j->i] == '-'))
			j->i++;
		if (j->i >= j->n || !isdigit((unsigned char)j->s[j->i]))
			return -1;
		while (j->i < j->n && isdigit((unsigned char)j->s[j->i]))
			j->i++;
	}
	return j->i > st ? 0 : -1;
}

static int j_lit(struct jp *j, const char *w)
{
	size_t l = strlen(w);
	if (j->n - j->i < l || memcmp(j->s + j->i, w, l))
		return -1;
	j->i += l;
	return 0;
}

/* Validates any JSON value (only to tell "valid JSON, not strings" apart
 * from "not JSON at all", as Docker does). */
static int j_value(struct jp *j, int depth)
{
	if (depth > 1000)
		return -1;
	j_ws(j);
	if (j->i >= j->n)
		return -1;
	char c = j->s[j->i];
	if (c == '"')
		return j_string(j, NULL, NULL);
	if (c == '[' || c == '{') {
		char close = c == '[' ? ']' : '}';
		j->i++;
		j_ws(j);
		if (j->i < j->n && j->s[j->i] == close) {
			j->i++;
			return 0;
		}
		for (;;) {
			if (c == '{') {
				j_ws(j);
				if (j->i >= j->n || j->s[j->i] != '"' ||
				    j_string(j, NULL, NULL) < 0)
					return -1;
				j_ws(j);
				if (j->i >= j->n || j->s[j->i++] != ':')
					return -1;
			}
			if (j_value(j, depth + 1) < 0)
				return -1;
			j_ws(j);
			if (j->i >= j->n)
				return -1;
			if (j->s[j->i] == ',') {
				j->i++;
				continue;
			}
			if (j->s[j->i++] == close)
				return 0;
			return -1;
		}
	}
	if (c == 't')
		return j_lit(j, "true");
	if (c == 'f')
		return j_lit(j, "false");
	if (c == 'n')
		return j_lit(j, "null");
	return j_number(j);
}

/* Docker's parseJSON: "[...]" that is valid JSON; JSON_NOT_STRINGS when a
 * member is no string (an error in Docker, not shell form). */
int spec_json_args(const char *s, struct strlist *out)
{
	struct jp j = {s, 0, strlen(s)};
	while (j.i < j.n && spec_isspace((unsigned char)s[j.i]))
		j.i++;
	if (j.i >= j.n || s[j.i] != '[')
		return JSON_NO;
	size_t start = j.i;
	if (j_value(&j, 0) < 0)
		return JSON_NO;
	j_ws(&j);
	if (j.i != j.n)
		return JSON_NO;
	/* valid: decode it, members must be strings */
	j.i = start + 1;
	struct strlist l = STRLIST_INIT;
	struct sbuf sb = SBUF_INIT;
	int nul = 0, r = JSON_STRINGS;
	j_ws(&j);
	if (s[j.i] != ']') {
		for (;;) {
			j_ws(&j);
			if (s[j.i] != '"') {
				r = JSON_NOT_STRINGS;
				break;
			}
			sb_reset(&sb);
			j_string(&j, &sb, &nul);
			strlist_push(&l, sb.buf);
			j_ws(&j);
			if (s[j.i++] == ']')
				break;
		}
	}
	sb_release(&sb);
	if (r == JSON_STRINGS && nul)
		r = JSON_NUL;
	if (r == JSON_STRINGS)
		*out = l;
	else
		strlist_release(&l);
	return r;
}

const char *spec_json_msg(int j)
{
	return j == JSON_NUL ? "JSON argument contains a NUL character"
			     : "when using JSON array syntax, arrays must be comprised of strings only";
}

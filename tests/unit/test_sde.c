/* test_sde.c: SOURCE_DATE_EPOCH: what sde_parse takes and refuses, and the clamp rule writers
 * share. */
#include <stdint.h>
#include <string.h>

#include "lib/util.h"
#include "tap.h"

/* 1 if s parses, with the value in *v. */
static int parses(const char *s, int64_t *v)
{
	struct sde d = {123, 1};
	struct err e = {0};
	int r = sde_parse(s, &d, &e);
	*v = d.epoch;
	return r == 0 && d.set;
}

/* 1 if s is refused with a one-line message naming the variable. */
static int refused(const char *s)
{
	struct sde d = {123, 1};
	struct err e = {0};
	return sde_parse(s, &d, &e) == CRUMB_EINVAL && !d.set && d.epoch == 0 &&
	       !strncmp(e.msg, "SOURCE_DATE_EPOCH=", 18) && !strchr(e.msg, '\n');
}

int main(void)
{
	struct sde d = {5, 1};
	struct err e = {0};
	int64_t v = -1;
	ok(sde_parse(NULL, &d, &e) == 0 && !d.set && d.epoch == 0, "unset: not set, epoch 0");
	d.set = 1;
	ok(sde_parse("", &d, &e) == 0 && !d.set, "empty: unset");
	ok(parses("0", &v) && v == 0, "0 is set (and 0)");
	ok(parses("1700000000", &v) && v == 1700000000, "1700000000");
	ok(parses("00042", &v) && v == 42, "leading zeros: decimal, not octal");
	ok(parses("253402300799", &v) && v == SDE_MAX, "9999-12-31T23:59:59Z is the largest");
	ok(refused("253402300800"), "one second more is refused");
	ok(refused("99999999999999999999999"), "int64 overflow refused");
	ok(refused("-1"), "negative refused");
	ok(refused("+5"), "a sign refused");
	ok(refused(" 5"), "leading space refused");
	ok(refused("5 "), "trailing space refused");
	ok(refused("1.5"), "a fraction refused");
	ok(refused("0x10"), "hex refused");
	ok(refused("abc"), "words refused");
	ok(refused("12\n34"), "a newline refused, and the message stays one line");
	char longv[200];
	memset(longv, '9', sizeof(longv) - 1);
	longv[sizeof(longv) - 1] = 0;
	ok(sde_parse(longv, &d, &e) < 0 && strlen(e.msg) < 200,
	   "a long value is cut in the message");

	is_int(clamp_time(2000, 1000, 1), 1000, "set: newer becomes the epoch");
	is_int(clamp_time(500, 1000, 1), 500, "set: older is kept");
	is_int(clamp_time(1000, 1000, 1), 1000, "set: equal is kept");
	is_int(clamp_time(-5, 0, 1), -5, "set: before 1970 is older, kept");
	is_int(clamp_time(2000, 1000, 0), 2000, "unset: own time, newer");
	is_int(clamp_time(500, 0, 0), 500, "unset: own time");
	return done_testing();
}

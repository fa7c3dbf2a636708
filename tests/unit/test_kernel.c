/* test_kernel.c: the check that every fragment option holds in the final .config. */
#include <string.h>

#include "lib/kernel.h"
#include "tap.h"

int main(void)
{
	struct err e = {0};
	const char *frag = "# comment\nCONFIG_A=y\nCONFIG_NR=16\n# CONFIG_M is not set\n";
	ok(kernel_check_config(frag, "CONFIG_A=y\nCONFIG_NR=16\n# CONFIG_M is not set\n", &e) == 0,
	   "all options present");
	ok(kernel_check_config(frag, "CONFIG_AB=y\nCONFIG_NR=16\n", &e) == CRUMB_EFORMAT,
	   "a prefix of another option does not count");
	ok(strstr(e.msg, "CONFIG_A=y") != NULL, "the message names the option: %s", e.msg);
	ok(kernel_check_config(frag, "CONFIG_A=y\nCONFIG_NR=8\n", &e) == CRUMB_EFORMAT,
	   "a different value is a mismatch");
	ok(kernel_check_config(frag, "CONFIG_M=y\nCONFIG_A=y\nCONFIG_NR=16\n", &e) == CRUMB_EFORMAT,
	   "an option that must be unset but is set (first line)");
	ok(strstr(e.msg, "CONFIG_M (should be unset)") != NULL, "... is named: %s", e.msg);
	ok(kernel_check_config(frag, "CONFIG_A=y\nCONFIG_NR=16\nCONFIG_M=m\n", &e) == CRUMB_EFORMAT,
	   "set as a module counts as set");
	ok(kernel_check_config(kernel_fragment, "", &e) == CRUMB_EFORMAT &&
	       strstr(e.msg, "CONFIG_PVH=y"),
	   "the built-in fragment asks for PVH");
	return done_testing();
}

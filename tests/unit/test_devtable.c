/* test_devtable.c: device tables (crumb mkfs --device-table) applied to trees: syntax, messages. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/lib/devtable.h"
#include "tap.h"

/* Applies text to a tree holding /etc/passwd (with a hard link /etc/pw) and /bin/sh -> busybox. */
static int apply(struct tree *t, const char *text, struct err *e)
{
	tree_init(t);
	tree_add_data(t, "/etc/passwd", "root", 4, 0644, e);
	tree_add_symlink(t, "/bin/sh", "busybox", e);
	struct tree_node *p = tree_lookup(t, "/etc/passwd", 0), *q;
	p->hardlink = ++t->next_hardlink;
	tree_add_data(t, "/etc/pw", "root", 4, 0644, e);
	q = tree_lookup(t, "/etc/pw", 0);
	q->hardlink = p->hardlink;
	memset(e, 0, sizeof(*e));
	return devtable_apply(t, text, strlen(text), "table", e);
}

static void test_good(void)
{
	struct tree t;
	struct err e;
	const char *text = "# a comment\n"
			   "\n"
			   "/dev\td 755 0 0 - - - - -\n"
			   "/dev/console c 600 0 5 5 1 - - -   # the console\r\n"
			   "/dev/sda b 660 0 6 8 0 0 1 3\n"
			   "/dev/tty c 666 0 0 4 10 0 2 2\n"
			   "/run/fifo p 644 1 2 0 0\n"
			   "/run/sock s 600 3 4 0 0\n"
			   "/etc/passwd f 600 7 8 0 0 - - -\n"
			   "/bin/sh l 700 9 9 0 0 - - -\n"
			   "/new/dir d 2750 10 20 - - - - -";
	is_int(apply(&t, text, &e), 0, "a table of every type applies");
	if (e.msg[0])
		printf("# %s\n", e.msg);
	struct tree_node *n = tree_lookup(&t, "/dev/console", 0);
	ok(n && n->type == TREE_CHR && n->mode == 0600 && n->gid == 5 && n->rdev_major == 5 &&
	       n->rdev_minor == 1,
	   "a character device with mode, owner and numbers");
	n = tree_lookup(&t, "/dev/sda2", 0);
	ok(n && n->type == TREE_BLK && n->rdev_major == 8 && n->rdev_minor == 2,
	   "COUNT makes PATH<START+i>, minor growing by INC");
	ok(!tree_lookup(&t, "/dev/sda", 0) && !tree_lookup(&t, "/dev/sda3", 0),
	   "... and only those");
	n = tree_lookup(&t, "/dev/tty1", 0);
	ok(n && n->rdev_minor == 12, "INC 2: tty1 gets minor 12");
	n = tree_lookup(&t, "/run/fifo", 0);
	ok(n && n->type == TREE_FIFO && n->uid == 1 && n->gid == 2, "a FIFO; 7 fields are enough");
	n = tree_lookup(&t, "/run/sock", 0);
	ok(n && n->type == TREE_SOCK, "a socket");
	n = tree_lookup(&t, "/etc/passwd", 0);
	ok(n && n->mode == 0600 && n->uid == 7 && n->gid == 8,
	   "f sets an existing file's mode and owner");
	n = tree_lookup(&t, "/etc/pw", 0);
	ok(n && n->mode == 0600 && n->uid == 7 && n->gid == 8,
	   "... and its other hard-linked name's");
	n = tree_lookup(&t, "/bin/sh", 0);
	ok(n && n->type == TREE_LNK && n->uid == 9 && n->mode == 0777,
	   "l sets a symlink's owner, not its mode");
	n = tree_lookup(&t, "/new/dir", 0);
	ok(n && n->type == TREE_DIR && n->mode == 02750 && n->uid == 10,
	   "d makes a directory, parents too");
	tree_release(&t);
}

struct bad {
	const char *text, *msg;
};

static void test_bad(void)
{
	static const struct bad cases[] = {
	    {"/a d 755 0 0\n",
	     "table:1: want 10 fields: path type mode uid gid major minor start inc count"},
	    {"\n/a d 755 0 0 0 0 0 0 0 0\n",
	     "table:2: want 10 fields: path type mode uid gid major minor start inc count"},
	    {"a d 755 0 0 0 0 0 0 0\n", "table:1: the path must be absolute"},
	    {"/a dd 755 0 0 0 0 0 0 0\n", "table:1: the type is one letter (d f c b p s l)"},
	    {"/a x 755 0 0 0 0 0 0 0\n", "table:1: unknown type 'x' (want d f c b p s l)"},
	    {"/a d 10000 0 0 0 0 0 0 0\n", "table:1: a bad number (mode is octal, up to 07777)"},
	    {"/a d 789 0 0 0 0 0 0 0\n", "table:1: a bad number (mode is octal, up to 07777)"},
	    {"/a d 755 -1 0 0 0 0 0 0\n", "table:1: a bad number (mode is octal, up to 07777)"},
	    {"/a d 755 4294967296 0 0 0 0 0 0\n",
	     "table:1: a bad number (mode is octal, up to 07777)"},
	    {"/a c 755 0 0 1 1 0 1 65537\n", "table:1: count above 65536"},
	    {"/nope f 644 0 0 0 0 0 0 0\n", "table:1: /nope: no such file in the image"},
	    {"/etc/passwd l 644 0 0 0 0 0 0 0\n",
	     "table:1: /etc/passwd: no such symlink in the image"},
	    {"/etc/passwd/x d 755 0 0 0 0 0 0 0\n", NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tree t;
		struct err e;
		int r = apply(&t, cases[i].text, &e);
		ok(r == CRUMB_EFORMAT, "bad table %zu is CRUMB_EFORMAT", i);
		if (cases[i].msg)
			is_str(e.msg, cases[i].msg, "... with the message");
		else
			ok(!strncmp(e.msg, "table:1: ", 9), "... naming the line: %s", e.msg);
		tree_release(&t);
	}
}

static void test_edges(void)
{
	struct tree t;
	struct err e;
	is_int(apply(&t, "", &e), 0, "an empty table");
	tree_release(&t);
	is_int(apply(&t, "   # only a comment\n\t\r\n", &e), 0, "comments and blanks only");
	tree_release(&t);
	/* the text ends at a NUL: the line after it is not read */
	const char text[] = "/a d 755 0 0 - - - - -\n\0/b x\n";
	tree_init(&t);
	memset(&e, 0, sizeof(e));
	is_int(devtable_apply(&t, text, sizeof(text) - 1, "t", &e), 0, "a NUL ends the table");
	ok(tree_lookup(&t, "/a", 0) != NULL, "... what came before it is applied");
	tree_release(&t);
	is_int(apply(&t, "/a d 755 0 0 0 0 0 0 0\n/b q 1 0 0 0 0 0 0 0\n", &e), CRUMB_EFORMAT,
	       "an error on line 2");
	ok(tree_lookup(&t, "/a", 0) != NULL, "... line 1 was applied");
	tree_release(&t);

	char dir[] = "/tmp/crumb-devtable-XXXXXX";
	if (!mkdtemp(dir)) {
		ok(0, "mkdtemp");
		return;
	}
	char *file = xasprintf("%s/table", dir);
	sh("printf '/x d 700 1 1 - - - - -\\n/y q\\n' >%s", file);
	tree_init(&t);
	is_int(devtable_apply_file(&t, file, &e), CRUMB_EFORMAT,
	       "devtable_apply_file reads the file");
	char *want = xasprintf(
	    "%s:2: want 10 fields: path type mode uid gid major minor start inc count", file);
	is_str(e.msg, want, "... and names it in messages");
	tree_release(&t);
	tree_init(&t);
	char *missing = xasprintf("%s/none", dir);
	ok(devtable_apply_file(&t, missing, &e) < 0, "a missing table is an error");
	tree_release(&t);
	sh("rm -rf %s", dir);
	free(file);
	free(want);
	free(missing);
}

int main(void)
{
	test_good();
	test_bad();
	test_edges();
	return done_testing();
}

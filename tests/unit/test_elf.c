/* test_elf.c: unit tests for lib/elf (ELF reading) and lib/closure (ld.so's library search). */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"
#include "lib/closure.h"
#include "lib/elf.h"

static char tmp[64];

static char *tpath(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *tpath(const char *fmt, ...)
{
	static char buf[8][512];
	static int k;
	char rel[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	k = (k + 1) % 8;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", tmp, rel);
	return buf[k];
}

static void put(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return;
	fwrite(data, 1, len, f);
	fclose(f);
}

/* Copies the first n bytes of src (all if n == 0) to dst; returns the size. */
static size_t copy_prefix(const char *src, const char *dst, size_t n)
{
	struct sbuf sb = SBUF_INIT;
	if (read_file(src, 256 << 20, &sb, NULL) < 0)
		return 0;
	if (n == 0 || n > sb.len)
		n = sb.len;
	put(dst, sb.buf, n);
	sb_release(&sb);
	return n;
}

static void patch(const char *path, long off, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY);
	if (fd < 0)
		return;
	if (pwrite(fd, data, len, off) != (ssize_t)len)
		printf("# pwrite %s failed\n", path);
	close(fd);
}

static const struct closure_lib *lib_named(const struct closure *c, const char *name)
{
	for (size_t i = 0; i < c->nlibs; i++)
		if (strcmp(c->libs[i].name, name) == 0)
			return &c->libs[i];
	return NULL;
}

static const char *lib_path(const struct closure *c, const char *name)
{
	const struct closure_lib *l = lib_named(c, name);
	return l ? l->path : NULL;
}

static void test_read_host(void)
{
	struct elfinfo info;
	struct err e = {0};

	is_int(elfinfo_read("/bin/ls", &info, &e), 0, "read /bin/ls");
	is_int(info.elfclass, sizeof(void *) == 8 ? ELFCLASS64 : ELFCLASS32, "/bin/ls class");
#ifdef __x86_64__
	is_int(info.machine, EM_X86_64, "/bin/ls machine");
	is_str(info.interp, "/lib64/ld-linux-x86-64.so.2", "/bin/ls interpreter");
#endif
	ok(info.dynamic, "/bin/ls is dynamic");
	ok(info.type == ET_DYN || info.type == ET_EXEC, "/bin/ls type");
	ok(strlist_has(&info.needed, "libc.so.6"), "/bin/ls needs libc.so.6");
	ok(info.soname == NULL, "/bin/ls has no soname");
	elfinfo_release(&info);
	ok(info.interp == NULL && info.needed.n == 0, "release zeroes");

	if (access("/usr/bin/python3.11", R_OK) == 0) {
		is_int(elfinfo_read("/usr/bin/python3.11", &info, &e), 0, "read python3.11");
		ok(strlist_has(&info.needed, "libc.so.6") && strlist_has(&info.needed, "libm.so.6"),
		   "python3.11 needs libc and libm");
		elfinfo_release(&info);
	} else {
		ok(1, "# SKIP no /usr/bin/python3.11");
		ok(1, "# SKIP no /usr/bin/python3.11");
	}

	const char *libc = "/lib/x86_64-linux-gnu/libc.so.6";
	if (access(libc, R_OK) == 0) {
		is_int(elfinfo_read(libc, &info, &e), 0, "read libc.so.6");
		is_str(info.soname, "libc.so.6", "libc soname");
		ok(strlist_has(&info.needed, "ld-linux-x86-64.so.2"), "libc needs ld.so");
		is_int(info.type, ET_DYN, "libc is ET_DYN");
		elfinfo_release(&info);
	}
}

static void test_is_elf(void)
{
	struct err e = {0};
	is_int(elfinfo_is_elf("/bin/ls", &e), 1, "is_elf /bin/ls");
	is_int(elfinfo_is_elf("/etc/passwd", &e), 0, "is_elf /etc/passwd");
	is_int(elfinfo_is_elf("/dev/null", &e), 0, "is_elf /dev/null (device: not opened)");
	is_int(elfinfo_is_elf("/", &e), 0, "is_elf / (directory)");
	is_int(elfinfo_is_elf("/nonexistent/x", &e), CRUMB_ENOENT, "is_elf missing");
	if (mkfifo(tpath("fifo"), 0600) == 0)
		is_int(elfinfo_is_elf(tpath("fifo"), &e), 0, "is_elf on a FIFO does not hang");
	else
		ok(1, "# SKIP mkfifo");
}

static void expect_format(const char *path, const char *what)
{
	struct elfinfo info;
	struct err e = {0};
	int ret = elfinfo_read(path, &info, &e);
	is_int(ret, CRUMB_EFORMAT, "%s is CRUMB_EFORMAT", what);
	ok(strstr(e.msg, path) != NULL, "%s: message names the path (%s)", what, e.msg);
	ok(info.interp == NULL && info.needed.n == 0, "%s: info left empty", what);
	elfinfo_release(&info);
}

static void test_malformed(void)
{
	struct elfinfo info;
	struct err e = {0};
	struct stat st;

	put(tpath("empty"), "", 0);
	expect_format(tpath("empty"), "empty file");
	put(tpath("text"), "#!/bin/sh\necho hello\n", 21);
	expect_format(tpath("text"), "non-ELF file");
	put(tpath("magic"), "\177ELF", 4);
	expect_format(tpath("magic"), "bare ELF magic");
	copy_prefix("/bin/ls", tpath("trunc64"), 64);
	expect_format(tpath("trunc64"), "ELF truncated to its header");
	copy_prefix("/bin/ls", tpath("trunc1k"), 1024);
	expect_format(tpath("trunc1k"), "ELF truncated to 1 KiB");
	expect_format("/etc", "a directory");

	is_int(elfinfo_read("/nonexistent/x", &info, &e), CRUMB_ENOENT, "missing is CRUMB_ENOENT");
	ok(strstr(e.msg, "/nonexistent/x") != NULL, "missing: message names the path");

	/* Truncated at every 1/16 of the file: an error or a clean read, never a crash. */
	if (stat("/bin/ls", &st) == 0) {
		int bad = 0;
		for (int i = 1; i < 16; i++) {
			copy_prefix("/bin/ls", tpath("cut"), (size_t)st.st_size * i / 16);
			int ret = elfinfo_read(tpath("cut"), &info, &e);
			if (ret != 0 && ret != CRUMB_EFORMAT)
				bad++;
			elfinfo_release(&info);
		}
		is_int(bad, 0, "/bin/ls cut at 15 lengths: ok or CRUMB_EFORMAT");
	}

	/* Header fields set to absurd values, one at a time. */
	static const struct {
		long off;
		int len;
		const char *what;
	} fields[] = {
	    {0x20, 8, "e_phoff"},    {0x36, 2, "e_phentsize"}, {0x38, 2, "e_phnum"},
	    {0x28, 8, "e_shoff"},    {0x3a, 2, "e_shentsize"}, {0x3c, 2, "e_shnum"},
	    {0x3e, 2, "e_shstrndx"},
	};
	static const unsigned char junk[][8] = {
	    {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
	    {0x01, 0, 0, 0, 0, 0, 0, 0},
	    {0x40, 0, 0, 0, 0, 0, 0, 0},
	};
	for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++) {
		int bad = 0;
		for (size_t j = 0; j < sizeof(junk) / sizeof(junk[0]); j++) {
			copy_prefix("/bin/ls", tpath("junk"), 0);
			patch(tpath("junk"), fields[f].off, junk[j], (size_t)fields[f].len);
			int ret = elfinfo_read(tpath("junk"), &info, &e);
			if (ret != 0 && ret != CRUMB_EFORMAT)
				bad++;
			if (ret == CRUMB_EFORMAT && !strstr(e.msg, tpath("junk")))
				bad++;
			elfinfo_release(&info);
		}
		is_int(bad, 0, "absurd %s: ok or CRUMB_EFORMAT naming the path", fields[f].what);
	}
}

/* Without section headers (sstrip), the dynamic strings come from PT_DYNAMIC. */
static void test_no_sections(void)
{
	struct elfinfo a, b;
	struct err e = {0};
	static const unsigned char zero[8];
	copy_prefix("/bin/ls", tpath("nosh"), 0);
	patch(tpath("nosh"), 0x28, zero, 8); /* e_shoff */
	patch(tpath("nosh"), 0x3c, zero, 2); /* e_shnum */
	patch(tpath("nosh"), 0x3e, zero, 2); /* e_shstrndx */
	is_int(elfinfo_read("/bin/ls", &a, &e), 0, "read /bin/ls");
	is_int(elfinfo_read(tpath("nosh"), &b, &e), 0, "read /bin/ls without section headers");
	is_str(b.interp, a.interp, "same interpreter");
	is_int(b.needed.n, a.needed.n, "same number of DT_NEEDED");
	int same = a.needed.n == b.needed.n;
	for (size_t i = 0; same && i < a.needed.n; i++)
		same = strcmp(a.needed.v[i], b.needed.v[i]) == 0;
	ok(same, "same DT_NEEDED through PT_DYNAMIC/DT_STRTAB");
	elfinfo_release(&a);
	elfinfo_release(&b);
}

static void test_closure_host(void)
{
	struct closure c;
	struct err e = {0};
	const char *dir = "/lib/x86_64-linux-gnu";

	if (access("/lib/x86_64-linux-gnu/libc.so.6", R_OK) != 0) {
		ok(1, "# SKIP not a Debian x86-64 host");
		return;
	}
	closure_init(&c);
	is_int(closure_add(&c, "/bin/ls", &e), 0, "closure of /bin/ls");
	is_str(c.interp, "/lib64/ld-linux-x86-64.so.2", "interp of /bin/ls");
	char want[256];
	snprintf(want, sizeof(want), "%s/libc.so.6", dir);
	is_str(lib_path(&c, "libc.so.6"), want, "libc.so.6 from the cache order, not realpath'd");
	ok(lib_named(&c, "libselinux.so.1") && lib_named(&c, "libpcre2-8.so.0"),
	   "libselinux and libpcre2 (needed by libselinux)");
	ok(lib_named(&c, "ld-linux-x86-64.so.2") == NULL,
	   "libc's DT_NEEDED on ld.so is the interpreter, not a library");
	is_int(c.nlibs, 3, "/bin/ls: 3 libraries");
	ok(c.nlibs > 0 && strcmp(c.libs[0].name, "libselinux.so.1") == 0, "breadth-first order");

	size_t before = c.nlibs;
	is_int(closure_add(&c, "/bin/ls", &e), 0, "adding /bin/ls again");
	is_int(c.nlibs, before, "nothing repeated");
	if (access("/usr/bin/python3.11", R_OK) == 0) {
		is_int(closure_add(&c, "/usr/bin/python3.11", &e), 0, "cumulative: + python3.11");
		int n = 0;
		for (size_t i = 0; i < c.nlibs; i++)
			n += strcmp(c.libs[i].name, "libc.so.6") == 0;
		is_int(n, 1, "libc.so.6 listed once");
		ok(lib_named(&c, "libm.so.6") != NULL, "libm.so.6 added");
	}
	closure_release(&c);

	closure_init(&c);
	is_int(closure_add(&c, "/nonexistent/x", &e), CRUMB_ENOENT, "missing root");
	is_int(closure_add(&c, "/etc/passwd", &e), CRUMB_EFORMAT, "non-ELF root");
	is_int((int)c.nlibs, 0, "nothing added");
	closure_release(&c);
}

static int have_cc(void)
{
	return system("cc --version >/dev/null 2>&1") == 0;
}

/*
 * T/lib/libb.so; T/lib/liba.so needs libb.so and has no path of its own;
 * T/bin/rpath needs liba.so with DT_RPATH $ORIGIN/../lib, T/bin/runpath the
 * same with DT_RUNPATH. RPATH is inherited by liba's lookups, RUNPATH not.
 */
static int build_tree(void)
{
	const char *ld_old = "-Wl,--disable-new-dtags", *ld_new = "-Wl,--enable-new-dtags";
	if (sh("mkdir -p %s %s %s %s %s %s", tpath("bin"), tpath("lib"), tpath("alt"), tpath("bad"),
	       tpath("wrong"), tpath("loop")))
		return -1;
	put(tpath("b.c"), "int b(void){return 2;}\n", 23);
	put(tpath("a.c"), "int b(void); int a(void){return b();}\n", 38);
	put(tpath("m.c"), "int a(void); int main(void){return a();}\n", 41);
	put(tpath("s.c"), "int main(void){return 0;}\n", 26);
	put(tpath("bad/liba.so"),
	    "this is not an ELF file, but it is long enough to look like one\n", 64);
	int r = sh(
	    "cd %s && cc -shared -fPIC -Wl,-soname,libb.so -o lib/libb.so b.c && "
	    "cc -shared -fPIC -o lib/liba.so a.c -Llib -lb && "
	    "cc -o bin/rpath m.c -Llib -la -Wl,-rpath-link,lib %s -Wl,-rpath,'$ORIGIN/../lib' && "
	    "cc -o bin/runpath m.c -Llib -la -Wl,-rpath-link,lib %s "
	    "-Wl,-rpath,'${ORIGIN}/../lib' && "
	    "cc -o bin/bad m.c -Llib -la -Wl,-rpath-link,lib %s "
	    "-Wl,-rpath,'$ORIGIN/../bad:$ORIGIN/../lib' && "
	    "cc -o bin/wrong m.c -Llib -la -Wl,-rpath-link,lib %s "
	    "-Wl,-rpath,'$ORIGIN/../wrong:$ORIGIN/../lib/' && "
	    "ln -s ../bin/rpath alt/rpath",
	    tmp, ld_old, ld_new, ld_old, ld_old);
	if (r)
		return -1;
	/* A dependency loop: libx needs liby needs libx. */
	put(tpath("x.c"), "int x(void){return 1;}\n", 23);
	put(tpath("y.c"), "int x(void); int y(void){return x();}\n", 38);
	put(tpath("ly.c"), "int y(void); int main(void){return y();}\n", 41);
	return sh("cd %s/loop && cc -shared -fPIC -o libx.so ../x.c && "
		  "cc -shared -fPIC -o liby.so ../y.c -L. -lx && "
		  "cc -shared -fPIC -o libx.so ../x.c -L. -ly && "
		  "cc -o main ../ly.c -L. -ly -Wl,--disable-new-dtags -Wl,-rpath,'$ORIGIN' && "
		  "cd .. && (cc -static -o bin/static s.c 2>/dev/null || true)",
		  tmp);
}

static void test_closure_built(void)
{
	struct closure c;
	struct elfinfo info;
	struct err e = {0};

	if (!have_cc() || build_tree() != 0) {
		ok(1, "# SKIP no working cc");
		return;
	}

	is_int(elfinfo_read(tpath("bin/rpath"), &info, &e), 0, "read bin/rpath");
	is_str(info.rpath, "$ORIGIN/../lib", "DT_RPATH, unexpanded");
	ok(info.runpath == NULL, "no DT_RUNPATH");
	elfinfo_release(&info);
	is_int(elfinfo_read(tpath("bin/runpath"), &info, &e), 0, "read bin/runpath");
	is_str(info.runpath, "${ORIGIN}/../lib", "DT_RUNPATH");
	elfinfo_release(&info);
	is_int(elfinfo_read(tpath("lib/libb.so"), &info, &e), 0, "read libb.so");
	is_str(info.soname, "libb.so", "DT_SONAME");
	ok(info.interp == NULL, "a library has no interpreter");
	elfinfo_release(&info);

	closure_init(&c);
	is_int(closure_add(&c, tpath("bin/rpath"), &e), 0, "RPATH: closure (%s)", e.msg);
	is_str(lib_path(&c, "liba.so"), tpath("bin/../lib/liba.so"), "$ORIGIN, not normalised");
	is_str(lib_path(&c, "libb.so"), tpath("bin/../lib/libb.so"),
	       "liba's lookup inherits the executable's RPATH");
	closure_release(&c);

	closure_init(&c);
	is_int(closure_add(&c, tpath("bin/runpath"), &e), CRUMB_ENOENT,
	       "RUNPATH is not inherited: libb.so not found");
	char want[1024];
	snprintf(want, sizeof(want), "%s: libb.so not found (needed by %s)", tpath("bin/runpath"),
		 tpath("bin/../lib/liba.so"));
	is_str(e.msg, want, "not-found message");
	closure_release(&c);

	closure_init(&c);
	c.allow_missing = 1;
	is_int(closure_add(&c, tpath("bin/runpath"), &e), CRUMB_ENOENT,
	       "allow_missing: still fails");
	is_str(lib_path(&c, "liba.so"), tpath("bin/../lib/liba.so"), "allow_missing: liba found");
	ok(lib_named(&c, "libb.so") && lib_path(&c, "libb.so") == NULL,
	   "allow_missing: libb.so recorded with path NULL");
	closure_release(&c);

	closure_init(&c);
	is_int(closure_add(&c, tpath("bin/bad"), &e), CRUMB_EFORMAT,
	       "a non-ELF candidate stops the search, as in ld.so");
	ok(strstr(e.msg, tpath("bin/../bad/liba.so")) != NULL, "message names it: %s", e.msg);
	closure_release(&c);

	if (access("/lib32/libc.so.6", R_OK) == 0 &&
	    sh("ln -sf /lib32/libc.so.6 %s", tpath("wrong/liba.so")) == 0) {
		closure_init(&c);
		is_int(closure_add(&c, tpath("bin/wrong"), &e), 0, "32-bit candidate: closure");
		is_str(lib_path(&c, "liba.so"), tpath("bin/../lib/liba.so"),
		       "a candidate of another class is skipped");
		closure_release(&c);
	} else {
		ok(1, "# SKIP no /lib32/libc.so.6");
		ok(1, "# SKIP no /lib32/libc.so.6");
	}

	closure_init(&c);
	is_int(closure_add(&c, tpath("alt/rpath"), &e), 0, "through a symlink");
	is_str(lib_path(&c, "liba.so"), tpath("alt/../lib/liba.so"),
	       "$ORIGIN is the directory of the path as given (like ldd)");
	closure_release(&c);
	closure_init(&c);
	c.origin_realpath = 1;
	is_int(closure_add(&c, tpath("alt/rpath"), &e), 0, "through a symlink, origin_realpath");
	is_str(lib_path(&c, "liba.so"), tpath("bin/../lib/liba.so"),
	       "origin_realpath: $ORIGIN of the real file (like exec)");
	closure_release(&c);

	closure_init(&c);
	is_int(closure_add(&c, tpath("loop/main"), &e), 0, "dependency loop (%s)", e.msg);
	is_int((int)c.nlibs >= 3 ? 1 : 0, 1, "loop: liby, libx, libc");
	int nx = 0;
	for (size_t i = 0; i < c.nlibs; i++)
		nx += strcmp(c.libs[i].name, "libx.so") == 0;
	is_int(nx, 1, "loop: libx.so once");
	is_str(c.nlibs ? c.libs[0].name : NULL, "liby.so", "loop: liby.so first");
	closure_release(&c);

	if (access(tpath("bin/static"), X_OK) == 0) {
		closure_init(&c);
		is_int(closure_add(&c, tpath("bin/static"), &e), 0, "static binary");
		ok(c.nlibs == 0 && c.interp == NULL, "static: nothing added");
		closure_release(&c);
	} else {
		ok(1, "# SKIP no static libc");
		ok(1, "# SKIP no static libc");
	}
}

int main(void)
{
	snprintf(tmp, sizeof(tmp), "/tmp/crumb-test-elf-XXXXXX");
	if (!mkdtemp(tmp)) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	test_read_host();
	test_is_elf();
	test_malformed();
	test_no_sections();
	test_closure_host();
	test_closure_built();
	remove_tree(tmp, NULL);
	return done_testing();
}

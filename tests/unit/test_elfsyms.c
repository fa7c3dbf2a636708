/* test_elfsyms.c: unit tests for lib/elfsyms (dynamic symbols, libc imports) and the libcsys table.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"
#include "lib/elfsyms.h"

static char tmp[64];
static int have_cc, have_readelf;

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

static void puts_file(const char *path, const char *s)
{
	put(path, s, strlen(s));
}

/* Copies the first n bytes of src (all if n == 0) to dst; returns the size copied. */
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

static void patch(const char *path, uint64_t off, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY);
	if (fd < 0)
		return;
	if (pwrite(fd, data, len, (off_t)off) != (ssize_t)len)
		printf("# pwrite %s failed\n", path);
	close(fd);
}

static void patch32(const char *path, uint64_t off, uint32_t v)
{
	patch(path, off, &v, sizeof(v));
}

static void patch64(const char *path, uint64_t off, uint64_t v)
{
	patch(path, off, &v, sizeof(v));
}

static const struct elfsym *find(const struct elfsyms *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->v[i].name, name))
			return &s->v[i];
	return NULL;
}

static int has(const char *const *list, const char *name)
{
	for (; list && *list; list++)
		if (!strcmp(*list, name))
			return 1;
	return 0;
}

/* Writes "name@version" (imports: "name@version"; exports: '@@' for a default version) lines,
 * sorted, as readelf --dyn-syms -W spells them, so the two lists can be compared. */
static void write_names(const struct elfsyms *s, const char *path, int exports)
{
	struct sbuf sb = SBUF_INIT;
	for (size_t i = 0; i < s->n; i++) {
		if (s->v[i].copy)
			continue;
		sb_adds(&sb, s->v[i].name);
		if (s->v[i].version)
			sb_addf(&sb, "%s%s", exports && !s->v[i].hidden ? "@@" : "@",
				s->v[i].version);
		sb_addc(&sb, '\n');
	}
	put(path, sb.buf, sb.len);
	sb_release(&sb);
	sh("sort -o %s %s", path, path);
}

/* readelf's undefined (imports) or defined (exports) non-local dynamic symbols, sorted. */
static int readelf_names(const char *elf, const char *out, int exports)
{
	/* Columns: Num Value Size Type Bind Vis Ndx Name [(verneed index)]. readelf writes the
	 * absolute version-name symbols (GLIBC_2.2.5@@GLIBC_2.2.5) as the bare version: left out.
	 */
	return sh("readelf --dyn-syms -W %s | awk 'NR > 3 && NF >= 8 && $5 != \"LOCAL\" && "
		  "%s { print $8 }' | sort > %s",
		  elf, exports ? "$7 != \"UND\" && !($7 == \"ABS\" && $8 !~ /@/)" : "$7 == \"UND\"",
		  out);
}

static void test_true(void)
{
	struct elfsyms s;
	struct err e = {0};
	const char *p = "/bin/true";

	is_int(elfsyms_imports(p, &s, &e), 0, "imports of /bin/true (%s)", e.msg);
	ok(s.n > 10 && s.versioned, "/bin/true: %zu imports, versioned", s.n);
	const struct elfsym *m = find(&s, "__libc_start_main");
	ok(m && m->version && !strcmp(m->version, "GLIBC_2.34") && m->file &&
	       !strcmp(m->file, "libc.so.6"),
	   "__libc_start_main@GLIBC_2.34 from libc.so.6");
	ok(m && m->bind == ELFSYM_GLOBAL && m->type == ELFSYM_FUNC && !m->copy,
	   "__libc_start_main: global function, undefined");
	m = find(&s, "_ITM_deregisterTMCloneTable");
	if (m)
		ok(m->bind == ELFSYM_WEAK && !m->version && !m->file,
		   "_ITM_deregisterTMCloneTable: weak, unversioned");
	else
		ok(1, "# SKIP no _ITM_deregisterTMCloneTable in /bin/true");
	m = find(&s, "stdout");
	if (m)
		ok(m->copy && m->type == ELFSYM_OBJECT && m->file && !strcmp(m->file, "libc.so.6"),
		   "stdout: a copy-relocated libc object");
	else
		ok(1, "# SKIP /bin/true has no copy of stdout");

	if (have_readelf) {
		write_names(&s, tpath("true.mine"), 0);
		readelf_names(p, tpath("true.readelf"), 0);
		is_int(sh("cmp -s %s %s || diff %s %s | head -5 | sed 's/^/# /'",
			  tpath("true.mine"), tpath("true.readelf"), tpath("true.mine"),
			  tpath("true.readelf")),
		       0, "/bin/true: the undefined symbols and versions readelf lists");
	} else {
		ok(1, "# SKIP no readelf");
	}
	elfsyms_release(&s);
	ok(s.n == 0 && s.v == NULL, "release empties");
}

static void test_libc_exports(void)
{
	const char *libc = "/lib/x86_64-linux-gnu/libc.so.6";
	struct elfsyms s;
	struct err e = {0};
	if (access(libc, R_OK) != 0) {
		for (int i = 0; i < 5; i++)
			ok(1, "# SKIP no %s", libc);
		return;
	}
	is_int(elfsyms_exports(libc, &s, &e), 0, "exports of libc.so.6 (%s)", e.msg);
	ok(s.n > 1000, "libc.so.6 exports %zu symbols", s.n);
	int hidden = 0, dflt = 0;
	for (size_t i = 0; i < s.n; i++) {
		if (strcmp(s.v[i].name, "memcpy"))
			continue;
		if (s.v[i].hidden && s.v[i].version && !strcmp(s.v[i].version, "GLIBC_2.2.5"))
			hidden++;
		if (!s.v[i].hidden && s.v[i].version && !strcmp(s.v[i].version, "GLIBC_2.14"))
			dflt++;
	}
	ok(hidden == 1 && dflt == 1, "memcpy: @GLIBC_2.2.5 hidden, @@GLIBC_2.14 default");
	ok(!find(&s, "GLIBC_2.2.5"), "the version-name symbols are left out");
	if (have_readelf) {
		write_names(&s, tpath("libc.mine"), 1);
		readelf_names(libc, tpath("libc.readelf"), 1);
		is_int(sh("cmp -s %s %s || diff %s %s | head -5 | sed 's/^/# /'",
			  tpath("libc.mine"), tpath("libc.readelf"), tpath("libc.mine"),
			  tpath("libc.readelf")),
		       0, "libc.so.6: the defined symbols and versions readelf lists");
	} else {
		ok(1, "# SKIP no readelf");
	}
	elfsyms_release(&s);
}

static void test_ssh(void)
{
	const char *p = access("/usr/sbin/sshd", R_OK) == 0 ? "/usr/sbin/sshd" : "/usr/bin/ssh";
	struct strlist l = STRLIST_INIT;
	struct elfsyms s;
	struct err e = {0};
	if (access(p, R_OK) != 0) {
		for (int i = 0; i < 4; i++)
			ok(1, "# SKIP no ssh");
		return;
	}
	is_int(elfsyms_imports(p, &s, &e), 0, "imports of %s (%s)", p, e.msg);
	size_t other = 0;
	for (size_t i = 0; i < s.n; i++)
		other += s.v[i].file && !elfsyms_is_libc(s.v[i].file);
	ok(other > 0, "%s imports %zu versioned symbols from libraries other than libc", p, other);
	is_int(elfsyms_libc_imports(p, "/lib/x86_64-linux-gnu/libc.so.6", &l, &e), 0,
	       "libc imports of %s", p);
	ok(strlist_has(&l, "socket") && strlist_has(&l, "connect") &&
	       !strlist_has(&l, "RAND_bytes"),
	   "%s: socket and connect from libc, RAND_bytes not", p);
	elfsyms_release(&s);
	strlist_release(&l);
}

static void test_static(void)
{
	const char *bb = access("/bin/busybox", R_OK) == 0 ? "/bin/busybox" : "/usr/bin/busybox";
	struct elfsyms s;
	struct strlist l = STRLIST_INIT;
	struct err e = {0};
	if (access(bb, R_OK) != 0 || sh("file -L %s | grep -q 'statically linked'", bb) != 0) {
		ok(1, "# SKIP no static busybox");
		ok(1, "# SKIP no static busybox");
		return;
	}
	is_int(elfsyms_imports(bb, &s, &e), 0, "imports of static busybox");
	is_int(elfsyms_libc_imports(bb, NULL, &l, &e) == 0 && s.n == 0 && l.n == 0, 1,
	       "static busybox imports nothing");
	elfsyms_release(&s);
	strlist_release(&l);
}

static const char prog_c[] = "#include <fcntl.h>\n#include <stdio.h>\n#include <sys/socket.h>\n"
			     "int main(int c, char **v) {\n"
			     "  int fd = open(v[0], O_RDONLY);\n"
			     "  printf(\"%d %d\\n\", fd, c);\n"
			     "  return socket(AF_INET, SOCK_STREAM, 0) < 0;\n}\n";

static void test_built(void)
{
	struct strlist l = STRLIST_INIT;
	struct sbuf sb = SBUF_INIT;
	struct err e = {0};
	char *prog = tpath("prog");
	if (!have_cc || sh("cd %s && cc -O0 -o prog prog.c", tmp) != 0) {
		for (int i = 0; i < 9; i++)
			ok(1, "# SKIP no working cc");
		return;
	}
	is_int(elfsyms_libc_imports(prog, NULL, &l, &e), 0, "libc imports of a built program");
	ok(strlist_has(&l, "open") && strlist_has(&l, "printf") && strlist_has(&l, "socket"),
	   "it imports open, printf and socket from libc");
	int sorted = 1;
	for (size_t i = 1; i < l.n; i++)
		sorted &= strcmp(l.v[i - 1], l.v[i]) < 0;
	ok(sorted, "the names are sorted and unique");

	struct strlist traced = STRLIST_INIT;
	strlist_push(&traced, "write");
	strlist_push(&traced, "openat");
	is_int(elfsyms_report(prog, NULL, &traced, &sb, &e), 0, "report");
	char *want = xasprintf("%s: %zu libc imports; ", prog, l.n);
	char *traced_line = strstr(sb.buf, "\n  traced: ");
	char *eol = traced_line ? strchr(traced_line + 1, '\n') : NULL;
	if (eol)
		*eol = 0;
	ok(!strncmp(sb.buf, want, strlen(want)) && strstr(sb.buf, " map to traced system calls\n"),
	   "report's first line");
	ok(traced_line && strstr(traced_line, " open(openat)") &&
	       strstr(traced_line, " printf(write)") && !strstr(traced_line, "socket"),
	   "report: open and printf traced, each with the traced calls");
	if (eol)
		*eol = '\n';
	ok(strstr(sb.buf, "\n  untraced: ") && strstr(sb.buf, " socket(socket)"),
	   "report: socket untraced");
	ok(strstr(sb.buf, "\n  may call: ") && strstr(sb.buf, " openat ") &&
	       strstr(sb.buf, " socket "),
	   "report: the calls the imports may make");
	for (char *line = strtok(sb.buf, "\n"); line; line = strtok(NULL, "\n"))
		printf("# %s\n", line);
	free(want);
	sb_reset(&sb);
	is_int(elfsyms_report(prog, NULL, NULL, &sb, &e) == 0 && strstr(sb.buf, "\n  calling: ") &&
		   strstr(sb.buf, "make system calls\n") && !strstr(sb.buf, "untraced"),
	       1, "report without a trace");
	sb_release(&sb);
	strlist_release(&traced);
	strlist_release(&l);
}

static void test_musl(void)
{
	const char *libc = "/lib/x86_64-linux-musl/libc.so";
	struct strlist l = STRLIST_INIT;
	struct elfsyms s;
	struct err e = {0};
	if (access(libc, R_OK) != 0 || sh("cd %s && musl-gcc -O0 -o mprog prog.c", tmp) != 0) {
		for (int i = 0; i < 4; i++)
			ok(1, "# SKIP no dynamic musl (%s)", libc);
		return;
	}
	is_int(elfsyms_imports(tpath("mprog"), &s, &e), 0, "imports of a musl program");
	const struct elfsym *o = find(&s, "open");
	ok(!s.versioned && o && !o->version && !o->file, "musl: no .gnu.version, open unversioned");
	is_int(elfsyms_libc_imports(tpath("mprog"), NULL, &l, &e) == 0 && l.n == 0, 1,
	       "musl without the libc: nothing known to be libc's");
	is_int(elfsyms_libc_imports(tpath("mprog"), libc, &l, &e) == 0 && strlist_has(&l, "open") &&
		   strlist_has(&l, "printf") && strlist_has(&l, "socket"),
	       1, "musl with its libc.so: open, printf, socket");
	elfsyms_release(&s);
	strlist_release(&l);
}

static void expect_format(const char *path, const char *what)
{
	struct elfsyms s;
	struct err e = {0};
	is_int(elfsyms_imports(path, &s, &e), CRUMB_EFORMAT, "%s is CRUMB_EFORMAT", what);
	ok(strstr(e.msg, path) && !strchr(e.msg, '\n'), "%s: one line naming the path (%s)", what,
	   e.msg);
	ok(s.n == 0 && s.v == NULL, "%s: left empty", what);
}

/* Where a built program's sections and their headers are. */
struct layout {
	uint64_t shoff, shentsize;
	size_t dynsym, versym, verneed; /* section indexes */
	uint64_t dynsym_off, versym_off, verneed_off;
};

static int layout_of(const char *path, struct layout *L)
{
	memset(L, 0, sizeof(*L));
	int fd = open(path, O_RDONLY);
	Elf *elf = fd >= 0 ? elf_begin(fd, ELF_C_READ, NULL) : NULL;
	GElf_Ehdr eh;
	if (!elf || !gelf_getehdr(elf, &eh)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	L->shoff = eh.e_shoff;
	L->shentsize = eh.e_shentsize;
	for (Elf_Scn *scn = elf_nextscn(elf, NULL); scn; scn = elf_nextscn(elf, scn)) {
		GElf_Shdr sh;
		gelf_getshdr(scn, &sh);
		if (sh.sh_type == SHT_DYNSYM)
			L->dynsym = elf_ndxscn(scn), L->dynsym_off = sh.sh_offset;
		else if (sh.sh_type == SHT_GNU_versym)
			L->versym = elf_ndxscn(scn), L->versym_off = sh.sh_offset;
		else if (sh.sh_type == SHT_GNU_verneed)
			L->verneed = elf_ndxscn(scn), L->verneed_off = sh.sh_offset;
	}
	elf_end(elf);
	close(fd);
	return L->dynsym && L->versym && L->verneed ? 0 : -1;
}

/* Elf64_Shdr field offsets */
#define SH_OFFSET 24
#define SH_SIZE 32
#define SH_LINK 40
#define SH_INFO 44

static void test_malformed(void)
{
	struct elfsyms s;
	struct err e = {0};
	char *prog = tpath("prog"), *bad = tpath("bad");
	struct layout L;

	puts_file(tpath("text"), "#!/bin/sh\necho not elf\n");
	expect_format(tpath("text"), "a shell script");
	expect_format(tmp, "a directory");
	is_int(elfsyms_imports(tpath("missing"), &s, &e), CRUMB_ENOENT, "missing file: ENOENT");
	put(tpath("magic"), "\177ELF\2\1\1", 7);
	expect_format(tpath("magic"), "the magic alone");

	if (elf_version(EV_CURRENT) == EV_NONE || access(prog, R_OK) != 0 ||
	    layout_of(prog, &L) < 0) {
		for (int i = 0; i < 42; i++)
			ok(1, "# SKIP no built ELF64 program to corrupt");
		return;
	}
	size_t size = copy_prefix(prog, bad, 0);
	/* truncated: the section headers are at the end, so every cut loses them */
	const size_t cuts[] = {0, 16, 64, 1000, size / 2, size - 1};
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		char what[64];
		snprintf(what, sizeof(what), "truncated to %zu bytes", cuts[i]);
		copy_prefix(prog, bad, cuts[i] ? cuts[i] : 1);
		if (cuts[i] == 0)
			put(bad, "", 0);
		expect_format(bad, what);
	}

	uint64_t dynsym_sh = L.shoff + L.dynsym * L.shentsize;
	uint64_t versym_sh = L.shoff + L.versym * L.shentsize;
	uint64_t verneed_sh = L.shoff + L.verneed * L.shentsize;
	struct {
		const char *what;
		uint64_t off;
		uint64_t val;
		int wide;
	} cases[] = {
	    {"verneed vn_file out of bounds", L.verneed_off + 4, 0xfffffff0u, 0},
	    {"verneed vn_aux out of bounds", L.verneed_off + 8, 0x7ffffff0u, 0},
	    {"verneed vn_aux past INT_MAX", L.verneed_off + 8, 0xfffffff0u, 0},
	    {"version index no entry defines", L.versym_off + 2, 0x7777u, 0},
	    {".dynsym sh_link 0", dynsym_sh + SH_LINK, 0, 0},
	    {".dynsym sh_link past the headers", dynsym_sh + SH_LINK, 9999, 0},
	    {".dynsym past the end of the file", dynsym_sh + SH_OFFSET, 1ull << 40, 1},
	    {".gnu.version shorter than .dynsym", versym_sh + SH_SIZE, 2, 1},
	    {".gnu.version_r with 100000 entries", verneed_sh + SH_INFO, 100000, 0},
	    {"symbol name out of bounds", L.dynsym_off + 24, 0xffffff, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		copy_prefix(prog, bad, 0);
		if (cases[i].wide)
			patch64(bad, cases[i].off, cases[i].val);
		else if (strstr(cases[i].what, "version index"))
			patch(bad, cases[i].off, &(uint16_t){(uint16_t)cases[i].val}, 2);
		else
			patch32(bad, cases[i].off, (uint32_t)cases[i].val);
		expect_format(bad, cases[i].what);
	}

	/* no section headers (sstrip): not read, said so */
	copy_prefix(prog, bad, 0);
	patch64(bad, 0x28, 0);			  /* e_shoff */
	patch(bad, 0x3c, &(uint16_t[]){0, 0}, 4); /* e_shnum, e_shstrndx */
	is_int(elfsyms_imports(bad, &s, &e), CRUMB_EUNSUPP,
	       "no section headers: CRUMB_EUNSUPP (%s)", e.msg);

	/* Many corruptions, deterministic: any answer but a crash, and errors are one line. */
	unsigned seed = 1;
	int answered = 1, lines = 1;
	for (int i = 0; i < 1500; i++) {
		copy_prefix(prog, bad, 0);
		for (int k = 0; k < 1 + i % 4; k++) {
			seed = seed * 1103515245 + 12345;
			uint64_t base = (seed >> 8) % 3 == 0   ? L.shoff
					: (seed >> 8) % 3 == 1 ? L.dynsym_off
							       : L.versym_off;
			seed = seed * 1103515245 + 12345;
			uint64_t off = base + (seed >> 8) % 1024;
			if (off >= size)
				off = (seed >> 8) % size;
			uint8_t b = (uint8_t)(seed >> 20);
			patch(bad, off, &b, 1);
		}
		int r = elfsyms_imports(bad, &s, &e);
		answered &= r == 0 || r == CRUMB_EFORMAT || r == CRUMB_EUNSUPP;
		if (r < 0)
			lines &= strstr(e.msg, bad) && !strchr(e.msg, '\n');
		elfsyms_release(&s);
		r = elfsyms_exports(bad, &s, &e);
		answered &= r == 0 || r == CRUMB_EFORMAT || r == CRUMB_EUNSUPP;
		elfsyms_release(&s);
	}
	ok(answered, "1500 corrupted copies: each read or CRUMB_EFORMAT/EUNSUPP");
	ok(lines, "their errors are one line naming the file");
}

static void test_filter(void)
{
	struct elfsym iv[] = {
	    {.name = "b"},
	    {.name = "a", .version = "GLIBC_2.2.5", .file = "libc.so.6"},
	    {.name = "c"},
	    {.name = "a", .version = "GLIBC_2.34", .file = "libc.so.6"},
	    {.name = "d", .version = "FOO_1", .file = "libfoo.so.1"},
	    {.name = "e", .version = "GLIBC_2.3", .file = "libpthread.so.0"},
	    {.name = "f"},
	};
	struct elfsym ev[] = {
	    {.name = "b"},
	    {.name = "c", .version = "V1", .hidden = 1},
	    {.name = "d"},
	};
	struct elfsyms imp = {iv, 7, 7, 1}, exp = {ev, 3, 3, 0};
	struct strlist l = STRLIST_INIT;
	strlist_push(&l, "zz");
	elfsyms_libc_filter(&imp, &exp, &l);
	is_int(l.n, 4, "filter: appended after what was there");
	ok(l.n == 4 && !strcmp(l.v[0], "zz") && !strcmp(l.v[1], "a") && !strcmp(l.v[2], "b") &&
	       !strcmp(l.v[3], "e"),
	   "filter: versioned from libc (a once, e from libpthread) and unversioned b that the "
	   "libc defines; not d (libfoo's), c (only hidden) nor f (not defined)");
	strlist_release(&l);
	elfsyms_libc_filter(&imp, NULL, &l);
	ok(l.n == 2 && !strcmp(l.v[0], "a") && !strcmp(l.v[1], "e"),
	   "filter without libc exports: only versioned ones");
	strlist_release(&l);

	ok(elfsyms_is_libc("libc.so.6") && elfsyms_is_libc("/lib/x86_64-linux-gnu/libc.so.6") &&
	       elfsyms_is_libc("ld-linux-x86-64.so.2") &&
	       elfsyms_is_libc("ld-linux-aarch64.so.1") == 0 &&
	       elfsyms_is_libc("libc.musl-x86_64.so.1") && elfsyms_is_libc("ld-musl-x86_64.so.1") &&
	       elfsyms_is_libc("libc.so"),
	   "is_libc: glibc's and musl's names");
	ok(!elfsyms_is_libc("libcrypto.so.3") && !elfsyms_is_libc("libc.so.7") &&
	       !elfsyms_is_libc("libcap.so.2") && !elfsyms_is_libc("libm.so.6"),
	   "is_libc: not other libraries");
}

static void test_table(void)
{
	size_t n = 0, dups = 0, empty = 0, repeat = 0, unknown = 0;
	struct sbuf hdr = SBUF_INIT;
	int have_hdr =
	    read_file("/usr/include/x86_64-linux-gnu/asm/unistd_64.h", 1 << 20, &hdr, NULL) == 0;
	for (const char *f; (f = libcsys_func(n)); n++) {
		for (size_t j = 0; j < n; j++)
			dups += !strcmp(libcsys_func(j), f);
		const char *const *l = libcsys_lookup(f);
		empty += !l || !*l;
		for (size_t a = 0; l && l[a]; a++) {
			for (size_t b = 0; b < a; b++)
				if (!strcmp(l[a], l[b])) {
					repeat++;
					printf("# %s: %s twice\n", f, l[a]);
				}
			char *def = xasprintf("#define __NR_%s ", l[a]);
			if (have_hdr && !strstr(hdr.buf, def)) {
				unknown++;
				printf("# %s: no system call %s\n", f, l[a]);
			}
			free(def);
		}
	}
	sb_release(&hdr);
	ok(n >= 250, "the table names %zu functions", n);
	is_int(dups, 0, "each function once");
	is_int(empty, 0, "every entry lists a call");
	is_int(repeat, 0, "no call twice in a list");
	if (have_hdr)
		is_int(unknown, 0, "every call is an x86_64 system call (asm/unistd_64.h)");
	else
		ok(1, "# SKIP no asm/unistd_64.h");

	const struct {
		const char *f, *call;
	} want[] = {
	    {"open", "openat"},
	    {"fopen64", "openat"},
	    {"stat", "newfstatat"},
	    {"fstat", "newfstatat"},
	    {"printf", "write"},
	    {"fwrite", "write"},
	    {"fread", "read"},
	    {"socket", "socket"},
	    {"accept", "accept"},
	    {"send", "sendto"},
	    {"recv", "recvfrom"},
	    {"getaddrinfo", "connect"},
	    {"fork", "clone"},
	    {"posix_spawn", "clone3"},
	    {"execvp", "execve"},
	    {"exit", "exit_group"},
	    {"sleep", "clock_nanosleep"},
	    {"select", "pselect6"},
	    {"sigaction", "rt_sigaction"},
	    {"readdir", "getdents64"},
	    {"malloc", "brk"},
	    {"malloc", "mmap"},
	    {"pthread_create", "clone3"},
	    {"pipe", "pipe2"},
	};
	int good = 1;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (!has(libcsys_lookup(want[i].f), want[i].call)) {
			printf("# %s does not map to %s\n", want[i].f, want[i].call);
			good = 0;
		}
	ok(good, "the calls of well-known functions");
	ok(!libcsys_lookup("strlen") && !libcsys_lookup("memcpy") && !libcsys_lookup("syscall") &&
	       !libcsys_lookup("no_such_function"),
	   "pure functions, syscall and unknown names are absent");
}

/* A program calling table functions between marker writes, its strace, and the
 * table: every call seen between two markers is in the function's list (or
 * the allocator's, which the lists leave out). The kernel's word, not ours. */
static const char traced_c[] =
    "#define _GNU_SOURCE\n#include <dirent.h>\n#include <fcntl.h>\n#include <poll.h>\n"
    "#include <signal.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n"
    "#include <sys/resource.h>\n#include <sys/select.h>\n#include <sys/socket.h>\n"
    "#include <sys/stat.h>\n#include <sys/utsname.h>\n#include <sys/wait.h>\n"
    "#include <netinet/in.h>\n#include <time.h>\n#include <unistd.h>\n"
    "#define M(s) write(-1, \"@\" s, strlen(s) + 1)\n"
    "int main(void) {\n"
    "  char b[256]; struct stat st; int p[2], s, fd; struct sockaddr_in sa = {0};\n"
    "  socklen_t sl = sizeof sa; struct utsname u; struct rlimit rl; FILE *f;\n"
    "  struct timespec ts = {0, 1000}; struct sigaction act = {0}; sigset_t ss;\n"
    "  M(\"malloc\"); free(malloc(10));\n"
    "  M(\"open\"); fd = open(\"/etc/passwd\", O_RDONLY);\n"
    "  M(\"read\"); read(fd, b, 10);\n"
    "  M(\"fstat\"); fstat(fd, &st);\n"
    "  M(\"close\"); close(fd);\n"
    "  M(\"stat\"); stat(\"/\", &st);\n"
    "  M(\"lstat\"); lstat(\"/\", &st);\n"
    "  M(\"fopen\"); f = fopen(\"/etc/passwd\", \"r\");\n"
    "  M(\"fgets\"); fgets(b, sizeof b, f);\n"
    "  M(\"fclose\"); fclose(f);\n"
    "  M(\"printf\"); printf(\"%d\\n\", 1);\n"
    "  M(\"fflush\"); fflush(stdout);\n"
    "  M(\"opendir\"); DIR *d = opendir(\"/\");\n"
    "  M(\"readdir\"); while (readdir(d)) ;\n"
    "  M(\"closedir\"); closedir(d);\n"
    "  M(\"pipe\"); pipe(p);\n"
    "  M(\"dup2\"); dup2(p[0], 20);\n"
    "  M(\"poll\"); struct pollfd pf = {p[0], POLLIN, 0}; poll(&pf, 1, 0);\n"
    "  M(\"select\"); fd_set rs; FD_ZERO(&rs); FD_SET(p[0], &rs);\n"
    "  struct timeval tv = {0, 0}; select(p[0] + 1, &rs, 0, 0, &tv);\n"
    "  M(\"socket\"); s = socket(AF_INET, SOCK_STREAM, 0);\n"
    "  M(\"bind\"); sa.sin_family = AF_INET; sa.sin_addr.s_addr = htonl(0x7f000001);\n"
    "  bind(s, (void *)&sa, sizeof sa);\n"
    "  M(\"listen\"); listen(s, 1);\n"
    "  M(\"getsockname\"); getsockname(s, (void *)&sa, &sl);\n"
    "  M(\"socket\"); int c = socket(AF_INET, SOCK_STREAM, 0);\n"
    "  M(\"connect\"); connect(c, (void *)&sa, sizeof sa);\n"
    "  M(\"accept\"); int a = accept(s, 0, 0);\n"
    "  M(\"send\"); send(c, \"x\", 1, 0);\n"
    "  M(\"recv\"); recv(a, b, 1, 0);\n"
    "  M(\"getrlimit\"); getrlimit(RLIMIT_NOFILE, &rl);\n"
    "  M(\"uname\"); uname(&u);\n"
    "  M(\"gethostname\"); gethostname(b, sizeof b);\n"
    "  M(\"getcwd\"); getcwd(b, sizeof b);\n"
    "  M(\"mkdir\"); mkdir(\"d\", 0700);\n"
    "  M(\"rename\"); rename(\"d\", \"e\");\n"
    "  M(\"rmdir\"); rmdir(\"e\");\n"
    "  M(\"nanosleep\"); nanosleep(&ts, 0);\n"
    "  M(\"sleep\"); sleep(0);\n"
    "  M(\"sigaction\"); act.sa_handler = SIG_IGN; sigaction(SIGUSR1, &act, 0);\n"
    "  M(\"sigprocmask\"); sigemptyset(&ss); sigprocmask(SIG_BLOCK, &ss, 0);\n"
    "  M(\"getpid\"); pid_t me = getpid();\n"
    "  M(\"kill\"); kill(me, 0);\n"
    "  M(\"fork\"); pid_t pid = fork(); if (!pid) _exit(0);\n"
    "  M(\"waitpid\"); waitpid(pid, 0, 0);\n"
    "  M(\"exit\"); exit(0);\n}\n";

static void test_strace(void)
{
	struct sbuf tr = SBUF_INIT;
	if (!have_cc || sh("strace -o /dev/null true 2>/dev/null") != 0) {
		ok(1, "# SKIP no strace that works here");
		return;
	}
	puts_file(tpath("traced.c"), traced_c);
	if (sh("cd %s && cc -O0 -o traced traced.c && strace -o traced.out ./traced >/dev/null",
	       tmp) != 0 ||
	    read_file(tpath("traced.out"), 1 << 24, &tr, NULL) < 0) {
		ok(0, "build and trace the marker program");
		return;
	}
	const char *const *mallocs = libcsys_lookup("malloc");
	char func[64] = "";
	int bad = 0, marks = 0;
	for (char *line = strtok(tr.buf, "\n"); line; line = strtok(NULL, "\n")) {
		char name[64];
		if (sscanf(line, "%63[a-z0-9_](", name) != 1)
			continue; /* +++ exited, --- signals, <... resumed> */
		if (!strcmp(name, "write") && !strncmp(line, "write(-1, \"@", 12)) {
			sscanf(line + 12, "%63[a-z0-9_]", func);
			marks++;
			continue;
		}
		if (!*func || has(libcsys_lookup(func), name) || has(mallocs, name))
			continue;
		printf("# %s made %s, not in its list\n", func, name);
		bad++;
	}
	ok(marks > 40 && bad == 0, "strace: %d functions, each call in its list (%d not)", marks,
	   bad);
	sb_release(&tr);
}

int main(void)
{
	snprintf(tmp, sizeof(tmp), "/tmp/crumb-test-elfsyms-XXXXXX");
	if (!mkdtemp(tmp)) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	have_cc = system("cc --version >/dev/null 2>&1") == 0;
	have_readelf = system("readelf --version >/dev/null 2>&1") == 0;
	puts_file(tpath("prog.c"), prog_c);
	test_true();
	test_libc_exports();
	test_ssh();
	test_static();
	test_built();
	test_musl();
	test_malformed();
	test_filter();
	test_table();
	if (chdir(tmp) == 0)
		test_strace();
	else
		ok(0, "chdir %s", tmp);
	remove_tree(tmp, NULL);
	return done_testing();
}

/* elfsyms.c: reads an ELF file's dynamic symbols and their versions through libelf. */
#include "elfsyms.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Limits of the version chains, far above anything real (glibc's libc.so.6
 * defines ~40 versions; a binary needs a handful from a few libraries). */
#define VERFILES_MAX 4096  /* verneed entries (libraries) */
#define VERNAMES_MAX 65536 /* verneed aux or verdef entries in all */

static pthread_once_t libelf_once = PTHREAD_ONCE_INIT;
static int libelf_ok;

static void libelf_init(void)
{
	libelf_ok = elf_version(EV_CURRENT) != EV_NONE;
}

void elfsyms_init(struct elfsyms *s)
{
	memset(s, 0, sizeof(*s));
}

void elfsyms_release(struct elfsyms *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].name);
		free(s->v[i].version);
		free(s->v[i].file);
	}
	free(s->v);
	elfsyms_init(s);
}

/* A version index's name and, for a needed one, its library; the strings
 * point into libelf's copy of the file and live until elf_end. */
struct vername {
	const char *name; /* NULL: no entry has this index */
	const char *file; /* verneed's vn_file; NULL for a verdef entry */
};

struct reader {
	Elf *elf;
	const char *path;
	struct err *e;
	size_t shnum;
	struct vername *vers; /* indexed by version index (0..0x7fff) */
	size_t nvers;
};

static int bad(struct reader *r, const char *what)
{
	return err_set(r->e, CRUMB_EFORMAT, "%s: malformed ELF: %s", r->path, what);
}

/* The string at off in section strndx, NULL-checked and length-checked. */
static const char *str_at(struct reader *r, size_t strndx, size_t off)
{
	const char *s = elf_strptr(r->elf, strndx, off);
	if (s && strnlen(s, ELFSYMS_NAME_MAX) == ELFSYMS_NAME_MAX)
		return NULL;
	return s;
}

/* Records index ndx (the low 15 bits: the top one is the hidden flag). The
 * first entry for an index wins. */
static void set_version(struct reader *r, unsigned ndx, const char *name, const char *file)
{
	ndx &= 0x7fff;
	if (ndx >= r->nvers) {
		size_t n = ndx + 1;
		r->vers = xrealloc(r->vers, n * sizeof(*r->vers));
		memset(r->vers + r->nvers, 0, (n - r->nvers) * sizeof(*r->vers));
		r->nvers = n;
	}
	if (!r->vers[ndx].name) {
		r->vers[ndx].name = name;
		r->vers[ndx].file = file;
	}
}

/* The data of a section, which must lie in the file and be of type want. */
static Elf_Data *section_data(Elf_Scn *scn, Elf_Type want)
{
	Elf_Data *d = elf_getdata(scn, NULL);
	if (!d || d->d_type != want || (d->d_size && !d->d_buf))
		return NULL;
	return d;
}

/* An offset in a version section, checked so that libelf's int argument
 * cannot wrap: returns -1 past the end. */
static int ver_off(const Elf_Data *d, uint64_t off)
{
	if (off >= d->d_size || off > INT32_MAX)
		return -1;
	return (int)off;
}

/* .gnu.version_r: for each needed library, the version names wanted from it. */
static int read_verneed(struct reader *r, Elf_Scn *scn, const GElf_Shdr *sh)
{
	Elf_Data *d = section_data(scn, ELF_T_VNEED);
	uint64_t off = 0;
	size_t names = 0;
	if (!d || sh->sh_link == 0 || sh->sh_link >= r->shnum)
		return bad(r, ".gnu.version_r unreadable");
	if (sh->sh_info > VERFILES_MAX)
		return bad(r, ".gnu.version_r: too many entries");
	for (size_t i = 0; i < sh->sh_info; i++) {
		GElf_Verneed vn;
		int o = ver_off(d, off);
		if (o < 0 || !gelf_getverneed(d, o, &vn))
			return bad(r, ".gnu.version_r entry out of bounds");
		const char *file = str_at(r, sh->sh_link, vn.vn_file);
		if (!file)
			return bad(r, ".gnu.version_r file name out of bounds");
		uint64_t aoff = off + vn.vn_aux;
		for (size_t j = 0; j < vn.vn_cnt; j++) {
			GElf_Vernaux va;
			int ao = ver_off(d, aoff);
			if (++names > VERNAMES_MAX)
				return bad(r, ".gnu.version_r: too many versions");
			if (ao < 0 || !gelf_getvernaux(d, ao, &va))
				return bad(r, ".gnu.version_r version out of bounds");
			const char *name = str_at(r, sh->sh_link, va.vna_name);
			if (!name)
				return bad(r, ".gnu.version_r version name out of bounds");
			set_version(r, va.vna_other, name, file);
			if (va.vna_next == 0)
				break;
			aoff += va.vna_next;
		}
		if (vn.vn_next == 0)
			break;
		off += vn.vn_next;
	}
	return 0;
}

/* .gnu.version_d: the versions the file defines; the first aux names each.
 * The base entry (the file's own name, index 1) means "unversioned". */
static int read_verdef(struct reader *r, Elf_Scn *scn, const GElf_Shdr *sh)
{
	Elf_Data *d = section_data(scn, ELF_T_VDEF);
	uint64_t off = 0;
	if (!d || sh->sh_link == 0 || sh->sh_link >= r->shnum)
		return bad(r, ".gnu.version_d unreadable");
	if (sh->sh_info > VERNAMES_MAX)
		return bad(r, ".gnu.version_d: too many entries");
	for (size_t i = 0; i < sh->sh_info; i++) {
		GElf_Verdef vd;
		GElf_Verdaux va;
		int o = ver_off(d, off), ao;
		if (o < 0 || !gelf_getverdef(d, o, &vd))
			return bad(r, ".gnu.version_d entry out of bounds");
		ao = ver_off(d, off + vd.vd_aux);
		if (vd.vd_cnt == 0 || ao < 0 || !gelf_getverdaux(d, ao, &va))
			return bad(r, ".gnu.version_d name out of bounds");
		const char *name = str_at(r, sh->sh_link, va.vda_name);
		if (!name)
			return bad(r, ".gnu.version_d name out of bounds");
		if (!(vd.vd_flags & VER_FLG_BASE))
			set_version(r, vd.vd_ndx, name, NULL);
		if (vd.vd_next == 0)
			break;
		off += vd.vd_next;
	}
	return 0;
}

static enum elfsym_type sym_type(unsigned t)
{
	switch (t) {
	case STT_FUNC:
	case STT_GNU_IFUNC:
		return ELFSYM_FUNC;
	case STT_OBJECT:
	case STT_TLS:
	case STT_COMMON:
		return ELFSYM_OBJECT;
	default:
		return ELFSYM_NOTYPE;
	}
}

static void push(struct elfsyms *out, const char *name, const struct vername *v, int hidden,
		 const GElf_Sym *sym, int copy)
{
	if (out->n == out->alloc) {
		out->alloc = out->alloc ? out->alloc * 2 : 64;
		out->v = xrealloc(out->v, out->alloc * sizeof(*out->v));
	}
	struct elfsym *s = &out->v[out->n++];
	s->name = xstrdup(name);
	s->version = v && v->name ? xstrdup(v->name) : NULL;
	s->file = v && v->file ? xstrdup(v->file) : NULL;
	s->bind = GELF_ST_BIND(sym->st_info) == STB_WEAK ? ELFSYM_WEAK : ELFSYM_GLOBAL;
	s->type = sym_type(GELF_ST_TYPE(sym->st_info));
	s->hidden = hidden;
	s->copy = copy;
}

/* Walks .dynsym into out: imports (want_imports) or exports. */
static int read_symbols(struct reader *r, Elf_Scn *dynsym, const GElf_Shdr *symsh, Elf_Scn *versym,
			int want_imports, struct elfsyms *out)
{
	Elf_Data *d = section_data(dynsym, ELF_T_SYM), *vd = NULL;
	size_t symsz = gelf_fsize(r->elf, ELF_T_SYM, 1, EV_CURRENT);
	size_t strndx = symsh->sh_link, n;
	GElf_Shdr strsh;
	Elf_Scn *strscn;

	if (!d || !symsz)
		return bad(r, ".dynsym unreadable");
	if (strndx == 0 || strndx >= r->shnum || !(strscn = elf_getscn(r->elf, strndx)) ||
	    !gelf_getshdr(strscn, &strsh) || strsh.sh_type != SHT_STRTAB)
		return bad(r, ".dynsym has no string table");
	n = d->d_size / symsz;
	if (n > ELFSYMS_MAX)
		return bad(r, "too many dynamic symbols");
	if (versym) {
		vd = section_data(versym, ELF_T_HALF);
		if (!vd)
			return bad(r, ".gnu.version unreadable");
		if (vd->d_size / sizeof(GElf_Versym) < n)
			return bad(r, ".gnu.version shorter than .dynsym");
	}
	/* Entry 0 is the reserved null symbol. */
	for (size_t i = 1; i < n; i++) {
		GElf_Sym sym;
		GElf_Versym vs = 1;
		const struct vername *v = NULL;
		if (!gelf_getsym(d, (int)i, &sym))
			return bad(r, "dynamic symbol out of bounds");
		unsigned bind = GELF_ST_BIND(sym.st_info), type = GELF_ST_TYPE(sym.st_info);
		if (bind != STB_GLOBAL && bind != STB_WEAK && bind != STB_GNU_UNIQUE)
			continue;
		if (type == STT_SECTION || type == STT_FILE)
			continue;
		const char *name = str_at(r, strndx, sym.st_name);
		if (!name)
			return bad(r, "dynamic symbol name out of bounds");
		if (!*name)
			continue;
		if (vd && !gelf_getversym(vd, (int)i, &vs))
			return bad(r, ".gnu.version entry out of bounds");
		if ((vs & 0x7fff) >= 2) {
			if ((vs & 0x7fff) >= r->nvers || !r->vers[vs & 0x7fff].name)
				return err_set(r->e, CRUMB_EFORMAT,
					       "%s: malformed ELF: symbol %.200s has version index "
					       "%u, which no version entry defines",
					       r->path, name, (unsigned)(vs & 0x7fff));
			v = &r->vers[vs & 0x7fff];
		}
		int undef = sym.st_shndx == SHN_UNDEF, needed = v && v->file;
		if (want_imports && (undef || needed)) {
			push(out, name, v, 0, &sym, !undef);
		} else if (!want_imports && !undef && !needed) {
			/* ld's version-name symbols: GLIBC_2.2.5, absolute, named as their version
			 */
			if (sym.st_shndx == SHN_ABS && v && strcmp(v->name, name) == 0)
				continue;
			push(out, name, v, (vs & 0x8000) != 0, &sym, 0);
		}
	}
	return 0;
}

static int read_elf(struct reader *r, int want_imports, struct elfsyms *out)
{
	GElf_Ehdr eh;
	size_t phnum;
	Elf_Scn *dynsym = NULL, *versym = NULL;
	GElf_Shdr symsh = {0};
	int ret = 0;

	if (elf_kind(r->elf) != ELF_K_ELF || !gelf_getehdr(r->elf, &eh))
		return err_set(r->e, CRUMB_EFORMAT, "%s: truncated or malformed ELF header",
			       r->path);
	if (gelf_getclass(r->elf) != ELFCLASS32 && gelf_getclass(r->elf) != ELFCLASS64)
		return bad(r, "bad class");
	if (elf_getshdrnum(r->elf, &r->shnum) < 0)
		return err_set(r->e, CRUMB_EFORMAT, "%s: malformed ELF: section headers: %s",
			       r->path, elf_errmsg(-1));
	if (r->shnum == 0 && eh.e_shoff != 0)
		/* libelf drops section headers that lie past the end of the file */
		return bad(r, "section headers past the end of the file");
	if (r->shnum == 0) {
		/* No section headers: fine for a static file, not readable for a dynamic one. */
		if (elf_getphdrnum(r->elf, &phnum) < 0)
			return bad(r, "program headers unreadable");
		for (size_t i = 0; i < phnum; i++) {
			GElf_Phdr ph;
			if (!gelf_getphdr(r->elf, (int)i, &ph))
				return bad(r, "program header out of bounds");
			if (ph.p_type == PT_DYNAMIC)
				return err_set(r->e, CRUMB_EUNSUPP,
					       "%s: no section headers: dynamic symbols are read "
					       "from .dynsym only",
					       r->path);
		}
		return 0;
	}
	/* Every header must be readable; the first of each kind is used. */
	for (size_t i = 1; i < r->shnum && ret == 0; i++) {
		Elf_Scn *scn = elf_getscn(r->elf, i);
		GElf_Shdr sh;
		if (!scn || !gelf_getshdr(scn, &sh))
			return bad(r, "section header out of bounds");
		if (sh.sh_type == SHT_DYNSYM && !dynsym) {
			dynsym = scn;
			symsh = sh;
		} else if (sh.sh_type == SHT_GNU_versym && !versym) {
			versym = scn;
		} else if (sh.sh_type == SHT_GNU_verneed) {
			ret = read_verneed(r, scn, &sh);
		} else if (sh.sh_type == SHT_GNU_verdef) {
			ret = read_verdef(r, scn, &sh);
		}
	}
	if (ret < 0 || !dynsym)
		return ret;
	out->versioned = versym != NULL;
	return read_symbols(r, dynsym, &symsh, versym, want_imports, out);
}

static int read_path(const char *path, int want_imports, struct elfsyms *out, struct err *e)
{
	struct reader r = {.path = path, .e = e};
	struct stat st;
	unsigned char magic[SELFMAG];
	ssize_t n;
	int fd, ret;

	elfsyms_init(out);
	pthread_once(&libelf_once, libelf_init);
	if (!libelf_ok)
		return err_set(e, CRUMB_EUNSUPP, "libelf: %s", elf_errmsg(-1));
	fd = open_regular(path, &st, e);
	if (fd == CRUMB_EINVAL)
		return err_set(e, CRUMB_EFORMAT, "%s: not a regular file", path);
	if (fd < 0)
		return fd;
	do
		n = pread(fd, magic, sizeof(magic), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		ret = err_errno(e, CRUMB_EIO, "read %s", path);
	} else if (n < SELFMAG || memcmp(magic, ELFMAG, SELFMAG) != 0) {
		ret = err_set(e, CRUMB_EFORMAT, "%s: not an ELF file", path);
	} else if (!(r.elf = elf_begin(fd, ELF_C_READ, NULL))) {
		/* ELF_C_READ, not _MMAP: a file truncated under us must not SIGBUS. */
		ret = err_set(e, CRUMB_EFORMAT, "%s: malformed ELF: %s", path, elf_errmsg(-1));
	} else {
		ret = read_elf(&r, want_imports, out);
		elf_end(r.elf);
	}
	free(r.vers);
	close(fd);
	if (ret < 0)
		elfsyms_release(out);
	return ret;
}

int elfsyms_imports(const char *path, struct elfsyms *out, struct err *e)
{
	return read_path(path, 1, out, e);
}

int elfsyms_exports(const char *path, struct elfsyms *out, struct err *e)
{
	return read_path(path, 0, out, e);
}

/* s starts with prefix, then anything, then ends with suffix (non-overlapping). */
static int framed(const char *s, const char *prefix, const char *suffix)
{
	size_t n = strlen(s), p = strlen(prefix), q = strlen(suffix);
	return n >= p + q && !strncmp(s, prefix, p) && !strcmp(s + n - q, suffix);
}

int elfsyms_is_libc(const char *soname)
{
	static const char *const exact[] = {
	    "libc.so.6",    "libpthread.so.0", "libdl.so.2", "librt.so.1",
	    "libutil.so.1", "libanl.so.1",     "libc.so",
	};
	const char *base = strrchr(soname, '/');
	base = base ? base + 1 : soname;
	for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
		if (!strcmp(base, exact[i]))
			return 1;
	return framed(base, "ld-linux", ".so.2") || framed(base, "ld-linux", ".so.3") ||
	       framed(base, "libc.musl-", ".so.1") || framed(base, "ld-musl-", ".so.1");
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void elfsyms_libc_filter(const struct elfsyms *imports, const struct elfsyms *libc_exports,
			 struct strlist *out)
{
	/* The names an unversioned reference can bind to, sorted for bsearch. */
	const char **defs = NULL;
	size_t ndefs = 0, first = out->n;
	if (libc_exports && libc_exports->n) {
		defs = xcalloc(libc_exports->n, sizeof(*defs));
		for (size_t i = 0; i < libc_exports->n; i++)
			if (!libc_exports->v[i].hidden)
				defs[ndefs++] = libc_exports->v[i].name;
		qsort(defs, ndefs, sizeof(*defs), cmp_str);
	}
	for (size_t i = 0; i < imports->n; i++) {
		const struct elfsym *s = &imports->v[i];
		int libc = s->file
			       ? elfsyms_is_libc(s->file)
			       : ndefs && bsearch(&s->name, defs, ndefs, sizeof(*defs), cmp_str);
		if (libc)
			strlist_push(out, s->name);
	}
	free(defs);
	/* sort what was added and drop repeats (a name imported at two versions) */
	if (out->n == first)
		return;
	qsort(out->v + first, out->n - first, sizeof(*out->v), cmp_str);
	size_t k = first;
	for (size_t i = first; i < out->n; i++) {
		if (k > first && !strcmp(out->v[k - 1], out->v[i]))
			free(out->v[i]);
		else
			out->v[k++] = out->v[i];
	}
	out->n = k;
}

int elfsyms_libc_imports(const char *elf, const char *libc_path, struct strlist *out, struct err *e)
{
	struct elfsyms imp, exp = ELFSYMS_INIT;
	int ret = elfsyms_imports(elf, &imp, e), unversioned = 0;
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < imp.n; i++)
		unversioned |= imp.v[i].file == NULL;
	if (libc_path && unversioned)
		ret = elfsyms_exports(libc_path, &exp, e);
	if (ret == 0)
		elfsyms_libc_filter(&imp, &exp, out);
	elfsyms_release(&imp);
	elfsyms_release(&exp);
	return ret;
}

/* Words appended under a label, wrapped at REPORT_COLS with a deeper indent. */
#define REPORT_COLS 100
struct wrap {
	struct sbuf *out;
	size_t start; /* where the current line begins in out */
	int words;
};

static void wrap_begin(struct wrap *w, struct sbuf *out, const char *label)
{
	w->out = out;
	w->start = out->len;
	w->words = 0;
	sb_addf(out, "  %s:", label);
}

static void wrap_word(struct wrap *w, const char *word)
{
	if (w->words && w->out->len - w->start + 1 + strlen(word) > REPORT_COLS) {
		sb_addc(w->out, '\n');
		w->start = w->out->len;
		sb_adds(w->out, "   ");
	}
	sb_addc(w->out, ' ');
	sb_adds(w->out, word);
	w->words++;
}

static void wrap_end(struct wrap *w)
{
	sb_addc(w->out, '\n');
}

/* "name(a,b)" for the calls of sys that keep (traced, or all when traced is NULL) lets through. */
static char *call_word(const char *name, const char *const *sys, const struct strlist *traced)
{
	struct sbuf sb = SBUF_INIT;
	sb_adds(&sb, name);
	sb_addc(&sb, '(');
	for (int first = 1; *sys; sys++) {
		if (traced && !strlist_has(traced, *sys))
			continue;
		if (!first)
			sb_addc(&sb, ',');
		sb_adds(&sb, *sys);
		first = 0;
	}
	sb_addc(&sb, ')');
	return sb_detach(&sb);
}

static int traces_any(const char *const *sys, const struct strlist *traced)
{
	for (; *sys; sys++)
		if (strlist_has(traced, *sys))
			return 1;
	return 0;
}

/* Appends the list under label unless it is empty. */
static void report_list(struct sbuf *out, const char *label, const struct strlist *l)
{
	struct wrap w;
	if (!l->n)
		return;
	wrap_begin(&w, out, label);
	for (size_t i = 0; i < l->n; i++)
		wrap_word(&w, l->v[i]);
	wrap_end(&w);
}

int elfsyms_report(const char *elf, const char *libc_path, const struct strlist *traced,
		   struct sbuf *out, struct err *e)
{
	struct strlist names = STRLIST_INIT, hit = STRLIST_INIT, miss = STRLIST_INIT;
	struct strlist pure = STRLIST_INIT, direct = STRLIST_INIT, calls = STRLIST_INIT;
	int ret = elfsyms_libc_imports(elf, libc_path, &names, e);
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < names.n; i++) {
		const char *const *sys = libcsys_lookup(names.v[i]);
		if (!strcmp(names.v[i], "syscall")) {
			strlist_push(&direct, names.v[i]);
			continue;
		}
		if (!sys) {
			strlist_push(&pure, names.v[i]);
			continue;
		}
		for (const char *const *s = sys; *s; s++)
			if (!strlist_has(&calls, *s))
				strlist_push(&calls, *s);
		if (!traced || traces_any(sys, traced))
			strlist_push_owned(&hit, call_word(names.v[i], sys, traced));
		else
			strlist_push_owned(&miss, call_word(names.v[i], sys, NULL));
	}
	if (calls.n)
		qsort(calls.v, calls.n, sizeof(*calls.v), cmp_str);
	sb_addf(out, "%s: %zu libc import%s; %zu %s\n", elf, names.n, names.n == 1 ? "" : "s",
		hit.n, traced ? "map to traced system calls" : "make system calls");
	report_list(out, traced ? "traced" : "calling", &hit);
	report_list(out, "untraced", &miss);
	report_list(out, "no system call", &pure);
	report_list(out, "direct", &direct);
	report_list(out, "may call", &calls);
	strlist_release(&names);
	strlist_release(&hit);
	strlist_release(&miss);
	strlist_release(&pure);
	strlist_release(&direct);
	strlist_release(&calls);
	return 0;
}

/* elf.c: reads the interpreter and dynamic-section strings of an ELF file through libelf. */
#include "elf.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Limits far above anything real, so that hostile input fails cleanly. */
#define INTERP_MAX 4096	       /* PT_INTERP, including its NUL */
#define DYN_MAX 65536	       /* entries in the dynamic section */
#define NEEDED_MAX 4096	       /* DT_NEEDED entries */
#define DYNSTR_MAX (64u << 20) /* DT_STRSZ when read through segments */
#define DSTRING_MAX 65536      /* one dynamic string (RPATH lists can be long) */

static pthread_once_t libelf_once = PTHREAD_ONCE_INIT;
static int libelf_ok;

static void libelf_init(void)
{
	libelf_ok = elf_version(EV_CURRENT) != EV_NONE;
}

/* Where dynamic strings come from: the section named by the dynamic
 * section's sh_link, or (no section headers) the bytes DT_STRTAB points at. */
struct strsrc {
	Elf *elf;
	size_t scn;    /* string table section index, 0 if raw */
	Elf_Data *raw; /* DT_STRTAB bytes when scn == 0 */
};

/* The NUL-terminated string at off, or NULL if it is out of bounds. */
static const char *str_at(const struct strsrc *s, uint64_t off)
{
	if (s->scn)
		return elf_strptr(s->elf, s->scn, off);
	if (!s->raw || off >= s->raw->d_size)
		return NULL;
	const char *p = (const char *)s->raw->d_buf + off;
	if (!memchr(p, '\0', s->raw->d_size - off))
		return NULL;
	return p;
}

int elfinfo_is_elf(const char *path, struct err *e)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return err_errno(e, errno == ENOENT || errno == ENOTDIR ? CRUMB_ENOENT : CRUMB_EIO,
				 "%s", path);
	if (!S_ISREG(st.st_mode))
		return 0;
	/* O_NONBLOCK: if the file was swapped for a FIFO since stat, do not hang. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return err_errno(e, errno == ENOENT ? CRUMB_ENOENT : CRUMB_EIO, "open %s", path);
	unsigned char magic[SELFMAG];
	ssize_t n;
	int ret = 0;
	if (fstat(fd, &st) < 0) {
		ret = err_errno(e, CRUMB_EIO, "stat %s", path);
	} else if (S_ISREG(st.st_mode)) {
		do
			n = pread(fd, magic, sizeof(magic), 0);
		while (n < 0 && errno == EINTR);
		if (n < 0)
			ret = err_errno(e, CRUMB_EIO, "read %s", path);
		else
			ret = n == SELFMAG && memcmp(magic, ELFMAG, SELFMAG) == 0;
	}
	close(fd);
	return ret;
}

void elfinfo_release(struct elfinfo *info)
{
	free(info->interp);
	strlist_release(&info->needed);
	free(info->rpath);
	free(info->runpath);
	free(info->soname);
	memset(info, 0, sizeof(*info));
}

/* Maps a virtual address range to a file offset through the PT_LOAD
 * segments, as ld.so sees DT_STRTAB. Returns 0 and *off, or -1. */
static int vaddr_to_off(const GElf_Phdr *load, size_t nload, uint64_t addr, uint64_t len,
			uint64_t *off)
{
	for (size_t i = 0; i < nload; i++) {
		const GElf_Phdr *p = &load[i];
		if (addr < p->p_vaddr || addr - p->p_vaddr >= p->p_filesz)
			continue;
		if (len > p->p_filesz - (addr - p->p_vaddr))
			return -1;
		*off = p->p_offset + (addr - p->p_vaddr);
		return 0;
	}
	return -1;
}

static int set_dstring(char **dst, const struct strsrc *s, uint64_t off, const char *what,
		       const char *path, struct err *e)
{
	const char *str = str_at(s, off);
	if (!str)
		return err_set(e, CRUMB_EFORMAT, "%s: malformed ELF: %s string out of bounds", path,
			       what);
	if (strlen(str) >= DSTRING_MAX)
		return err_set(e, CRUMB_EFORMAT, "%s: malformed ELF: absurdly long %s", path, what);
	free(*dst);
	*dst = xstrdup(str);
	return 0;
}

/* Walks the dynamic entries in dyn (an ELF_T_DYN Elf_Data) into info. */
static int read_dynamic(Elf_Data *dyn, size_t count, const struct strsrc *s, struct elfinfo *info,
			const char *path, struct err *e)
{
	int ret = 0;
	if (count > DYN_MAX)
		return err_set(e, CRUMB_EFORMAT, "%s: malformed ELF: %zu dynamic entries", path,
			       count);
	for (size_t i = 0; i < count && ret == 0; i++) {
		GElf_Dyn d;
		if (!gelf_getdyn(dyn, (int)i, &d))
			return err_set(e, CRUMB_EFORMAT, "%s: malformed ELF: dynamic entry %zu: %s",
				       path, i, elf_errmsg(-1));
		/* Like ld.so, the last RPATH/RUNPATH/SONAME wins; DT_NULL ends the list. */
		switch (d.d_tag) {
		case DT_NULL:
			return 0;
		case DT_NEEDED: {
			char *name = NULL;
			if (info->needed.n >= NEEDED_MAX)
				return err_set(e, CRUMB_EFORMAT,
					       "%s: malformed ELF: too many DT_NEEDED", path);
			ret = set_dstring(&name, s, d.d_un.d_val, "DT_NEEDED", path, e);
			if (ret == 0 && name[0] == '\0') {
				free(name);
				return err_set(e, CRUMB_EFORMAT,
					       "%s: malformed ELF: empty DT_NEEDED", path);
			}
			if (ret == 0)
				strlist_push_owned(&info->needed, name);
			break;
		}
		case DT_RPATH:
			ret = set_dstring(&info->rpath, s, d.d_un.d_val, "DT_RPATH", path, e);
			break;
		case DT_RUNPATH:
			ret = set_dstring(&info->runpath, s, d.d_un.d_val, "DT_RUNPATH", path, e);
			break;
		case DT_SONAME:
			ret = set_dstring(&info->soname, s, d.d_un.d_val, "DT_SONAME", path, e);
			break;
		case DT_FLAGS_1:
			info->flags_1 = d.d_un.d_val;
			break;
		}
	}
	return ret;
}

/* Finds DT_STRTAB/DT_STRSZ in a dynamic segment and loads those bytes. */
static int raw_strtab(Elf *elf, Elf_Data *dyn, size_t count, const GElf_Phdr *load, size_t nload,
		      Elf_Data **out, const char *path, struct err *e)
{
	uint64_t strtab = 0, strsz = 0, off;
	int have_tab = 0, have_sz = 0;
	*out = NULL;
	for (size_t i = 0; i < count && i < DYN_MAX; i++) {
		GElf_Dyn d;
		if (!gelf_getdyn(dyn, (int)i, &d) || d.d_tag == DT_NULL)
			break;
		if (d.d_tag == DT_STRTAB) {
			strtab = d.d_un.d_ptr;
			have_tab = 1;
		} else if (d.d_tag == DT_STRSZ) {
			strsz = d.d_un.d_val;
			have_sz = 1;
		}
	}
	if (!have_tab && !have_sz)
		return 0; /* no strings at all: nothing can refer to one */
	if (!have_tab || !have_sz || strsz == 0 || strsz > DYNSTR_MAX ||
	    vaddr_to_off(load, nload, strtab, strsz, &off) < 0)
		return err_set(e, CRUMB_EFORMAT, "%s: malformed ELF: bad DT_STRTAB/DT_STRSZ", path);
	*out = elf_getdata_rawchunk(elf, (int64_t)off, strsz, ELF_T_BYTE);
	if (!*out)
		return err_set(e, CRUMB_EFORMAT, "%s: malformed ELF: string table: %s", path,
			       elf_errmsg(-1));
	return 0;
}

/* The SHT_DYNAMIC section with its data, when section headers are usable. */
static Elf_Scn *dynamic_section(Elf *elf, Elf_Data **data, size_t *strscn)
{
	size_t shnum;
	if (elf_getshdrnum(elf, &shnum) < 0 || shnum == 0)
		return NULL;
	for (Elf_Scn *scn = elf_nextscn(elf, NULL); scn; scn = elf_nextscn(elf, scn)) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNAMIC)
			continue;
		if (sh.sh_link == 0 || sh.sh_link >= shnum)
			return NULL;
		*data = elf_getdata(scn, NULL);
		if (!*data || (*data)->d_size == 0 || (*data)->d_type != ELF_T_DYN)
			return NULL;
		*strscn = sh.sh_link;
		return scn;
	}
	return NULL;
}

static int read_elf(Elf *elf, struct elfinfo *info, const char *path, struct err *e)
{
	GElf_Ehdr eh;
	size_t phnum, nload = 0;
	GElf_Phdr dynph = {0};
	int have_dyn = 0, ret = 0;

	if (elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &eh))
		return err_set(e, CRUMB_EFORMAT, "%s: truncated or malformed ELF header", path);
	info->elfclass = gelf_getclass(elf);
	info->osabi_data = eh.e_ident[EI_DATA];
	info->machine = eh.e_machine;
	info->type = eh.e_type;
	if (info->elfclass != ELFCLASS32 && info->elfclass != ELFCLASS64)
		return err_set(e, CRUMB_EFORMAT, "%s: malformed ELF: bad class", path);
	if (elf_getphdrnum(elf, &phnum) < 0)
		return err_set(e, CRUMB_EFORMAT, "%s: malformed ELF: program headers: %s", path,
			       elf_errmsg(-1));
	if (phnum > 65535)
		return err_set(e, CRUMB_EFORMAT, "%s: malformed ELF: %zu program headers", path,
			       phnum);

	GElf_Phdr *load = xcalloc(phnum ? phnum : 1, sizeof(*load));
	for (size_t i = 0; i < phnum && ret == 0; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(elf, (int)i, &ph)) {
			ret = err_set(e, CRUMB_EFORMAT, "%s: truncated or malformed program header",
				      path);
			break;
		}
		if (ph.p_type == PT_LOAD) {
			load[nload++] = ph;
		} else if (ph.p_type == PT_DYNAMIC && !have_dyn) {
			dynph = ph;
			have_dyn = 1;
		} else if (ph.p_type == PT_INTERP && !info->interp) {
			if (ph.p_filesz < 2 || ph.p_filesz > INTERP_MAX) {
				ret = err_set(e, CRUMB_EFORMAT,
					      "%s: malformed ELF: bad PT_INTERP size", path);
				break;
			}
			Elf_Data *d = elf_getdata_rawchunk(elf, (int64_t)ph.p_offset, ph.p_filesz,
							   ELF_T_BYTE);
			size_t len = d ? strnlen(d->d_buf, d->d_size) : 0;
			if (!d || len == 0 || len == d->d_size) {
				ret = err_set(e, CRUMB_EFORMAT,
					      "%s: truncated or malformed PT_INTERP", path);
				break;
			}
			info->interp = xstrndup(d->d_buf, len);
		}
	}

	if (ret == 0 && have_dyn) {
		struct strsrc s = {elf, 0, NULL};
		size_t dynsz = gelf_fsize(elf, ELF_T_DYN, 1, EV_CURRENT);
		Elf_Data *dyn = NULL;
		info->dynamic = 1;
		if (!dynamic_section(elf, &dyn, &s.scn)) {
			/* No usable section headers: read what ld.so reads. */
			s.scn = 0;
			if (dynph.p_filesz > (uint64_t)DYN_MAX * dynsz)
				ret = err_set(e, CRUMB_EFORMAT,
					      "%s: malformed ELF: huge PT_DYNAMIC", path);
			else if (!(dyn = elf_getdata_rawchunk(elf, (int64_t)dynph.p_offset,
							      dynph.p_filesz, ELF_T_DYN)))
				ret = err_set(e, CRUMB_EFORMAT, "%s: truncated PT_DYNAMIC: %s",
					      path, elf_errmsg(-1));
			else
				ret = raw_strtab(elf, dyn, dyn->d_size / dynsz, load, nload, &s.raw,
						 path, e);
		}
		if (ret == 0)
			ret = read_dynamic(dyn, dyn->d_size / dynsz, &s, info, path, e);
	}
	free(load);
	return ret;
}

int elfinfo_read(const char *path, struct elfinfo *info, struct err *e)
{
	struct stat st;
	unsigned char magic[SELFMAG];
	ssize_t n;
	int fd, ret;
	Elf *elf;

	memset(info, 0, sizeof(*info));
	pthread_once(&libelf_once, libelf_init);
	if (!libelf_ok)
		return err_set(e, CRUMB_EUNSUPP, "libelf: %s", elf_errmsg(-1));

	if (stat(path, &st) < 0)
		return err_errno(e, errno == ENOENT || errno == ENOTDIR ? CRUMB_ENOENT : CRUMB_EIO,
				 "%s", path);
	if (!S_ISREG(st.st_mode))
		return err_set(e, CRUMB_EFORMAT, "%s: not a regular file", path);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return err_errno(e, errno == ENOENT ? CRUMB_ENOENT : CRUMB_EIO, "open %s", path);
	if (fstat(fd, &st) < 0) {
		ret = err_errno(e, CRUMB_EIO, "stat %s", path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = err_set(e, CRUMB_EFORMAT, "%s: not a regular file", path);
		goto out;
	}
	do
		n = pread(fd, magic, sizeof(magic), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		ret = err_errno(e, CRUMB_EIO, "read %s", path);
		goto out;
	}
	if (n == 0) {
		ret = err_set(e, CRUMB_EFORMAT, "%s: empty file, not ELF", path);
		goto out;
	}
	if (n < SELFMAG || memcmp(magic, ELFMAG, SELFMAG) != 0) {
		ret = err_set(e, CRUMB_EFORMAT, "%s: not an ELF file", path);
		goto out;
	}

	/* ELF_C_READ, not _MMAP: a file truncated under us must not SIGBUS. */
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf) {
		ret = err_set(e, CRUMB_EFORMAT, "%s: malformed ELF: %s", path, elf_errmsg(-1));
		goto out;
	}
	ret = read_elf(elf, info, path, e);
	elf_end(elf);
out:
	close(fd);
	if (ret < 0)
		elfinfo_release(info);
	return ret;
}

int elfinfo_read_mem(const void *buf, size_t len, const char *name, struct elfinfo *info,
		     struct err *e)
{
	memset(info, 0, sizeof(*info));
	pthread_once(&libelf_once, libelf_init);
	if (!libelf_ok)
		return err_set(e, CRUMB_EUNSUPP, "libelf: %s", elf_errmsg(-1));
	if (len < SELFMAG || memcmp(buf, ELFMAG, SELFMAG) != 0)
		return err_set(e, CRUMB_EFORMAT, "%s: not an ELF file", name);
	/* libelf may write to the image it reads (byte order): a copy of ours */
	char *copy = xmalloc(len);
	memcpy(copy, buf, len);
	Elf *elf = elf_memory(copy, len);
	int ret;
	if (!elf) {
		ret = err_set(e, CRUMB_EFORMAT, "%s: malformed ELF: %s", name, elf_errmsg(-1));
	} else {
		ret = read_elf(elf, info, name, e);
		elf_end(elf);
	}
	free(copy);
	if (ret < 0)
		elfinfo_release(info);
	return ret;
}

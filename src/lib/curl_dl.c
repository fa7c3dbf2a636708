/* curl_dl.c: libcurl, loaded when the registry client first needs it.
 *
 * libcurl brings ~38 shared libraries (TLS, HTTP/2, LDAP, Kerberos, IDN...)
 * that every `crumb` command would otherwise map and relocate at start, ~9 ms
 * on these machines, though only pull, push, login and FROM a registry use
 * them. So crumb links without -lcurl and defines here the libcurl functions
 * registry.c calls, each forwarding to the real one found with dlsym in
 * libcurl.so.4 (the soname of Debian's libcurl4 and libcurl3-gnutls alike,
 * ABI-stable since 2006). The header is still curl's own, so the prototypes
 * are checked against it. */
#define CURL_DISABLE_TYPECHECK /* the type-checking macros would rename the definitions */
#include "curl_dl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

#define CURL_DL_SONAME "libcurl.so.4"

static struct {
	CURLcode (*global_init)(long);
	CURL *(*easy_init)(void);
	void (*easy_cleanup)(CURL *);
	void (*easy_reset)(CURL *);
	CURLcode (*easy_perform)(CURL *);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	const char *(*easy_strerror)(CURLcode);
	char *(*easy_escape)(CURL *, const char *, int);
	void (*free)(void *);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
	CURLM *(*multi_init)(void);
	CURLMcode (*multi_cleanup)(CURLM *);
	CURLMcode (*multi_add_handle)(CURLM *, CURL *);
	CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
	CURLMcode (*multi_perform)(CURLM *, int *);
	CURLMcode (*multi_poll)(CURLM *, struct curl_waitfd *, unsigned, int, int *);
	CURLMsg *(*multi_info_read)(CURLM *, int *);
} fn;
static int loaded; /* 1: every function found; -1: not */
static char why[300];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void load(void)
{
	void *h = dlopen(CURL_DL_SONAME, RTLD_NOW | RTLD_LOCAL);
	const char *missing = NULL;
	if (!h) {
		snprintf(why, sizeof(why), "%s", dlerror());
		loaded = -1;
		return;
	}
#define SYM(field, name)                                                                           \
	do {                                                                                       \
		*(void **)&fn.field = dlsym(h, name);                                              \
		if (!fn.field && !missing)                                                         \
			missing = name;                                                            \
	} while (0)
	SYM(global_init, "curl_global_init");
	SYM(easy_init, "curl_easy_init");
	SYM(easy_cleanup, "curl_easy_cleanup");
	SYM(easy_reset, "curl_easy_reset");
	SYM(easy_perform, "curl_easy_perform");
	SYM(easy_setopt, "curl_easy_setopt");
	SYM(easy_getinfo, "curl_easy_getinfo");
	SYM(easy_strerror, "curl_easy_strerror");
	SYM(easy_escape, "curl_easy_escape");
	SYM(free, "curl_free");
	SYM(slist_append, "curl_slist_append");
	SYM(slist_free_all, "curl_slist_free_all");
	SYM(multi_init, "curl_multi_init");
	SYM(multi_cleanup, "curl_multi_cleanup");
	SYM(multi_add_handle, "curl_multi_add_handle");
	SYM(multi_remove_handle, "curl_multi_remove_handle");
	SYM(multi_perform, "curl_multi_perform");
	SYM(multi_poll, "curl_multi_poll");
	SYM(multi_info_read, "curl_multi_info_read");
#undef SYM
	if (missing) {
		snprintf(why, sizeof(why), "%s has no %s (libcurl 7.66 or later is needed)",
			 CURL_DL_SONAME, missing);
		dlclose(h);
		loaded = -1;
		return;
	}
	loaded = 1;
}

static int ready(void)
{
	pthread_once(&once, load);
	return loaded > 0;
}

const char *curl_dl_error(void)
{
	return ready() ? NULL : why;
}

CURLcode curl_global_init(long flags)
{
	return ready() ? fn.global_init(flags) : CURLE_FAILED_INIT;
}

CURL *curl_easy_init(void)
{
	return ready() ? fn.easy_init() : NULL;
}

void curl_easy_cleanup(CURL *h)
{
	if (ready())
		fn.easy_cleanup(h);
}

void curl_easy_reset(CURL *h)
{
	if (ready())
		fn.easy_reset(h);
}

CURLcode curl_easy_perform(CURL *h)
{
	return ready() ? fn.easy_perform(h) : CURLE_FAILED_INIT;
}

/* The option's number says its argument's type (curl.h's CURLOPTTYPE_* bases): each is
 * taken from the list as that type and passed on as it. */
CURLcode curl_easy_setopt(CURL *h, CURLoption opt, ...)
{
	va_list ap;
	CURLcode r;
	if (!ready())
		return CURLE_FAILED_INIT;
	va_start(ap, opt);
	if (opt < CURLOPTTYPE_OBJECTPOINT)
		r = fn.easy_setopt(h, opt, va_arg(ap, long));
	else if (opt < CURLOPTTYPE_FUNCTIONPOINT)
		r = fn.easy_setopt(h, opt, va_arg(ap, void *));
	else if (opt < CURLOPTTYPE_OFF_T)
		r = fn.easy_setopt(h, opt, va_arg(ap, void (*)(void)));
	else if (opt < CURLOPTTYPE_BLOB)
		r = fn.easy_setopt(h, opt, va_arg(ap, curl_off_t));
	else
		r = fn.easy_setopt(h, opt, va_arg(ap, void *));
	va_end(ap);
	return r;
}

/* Every CURLINFO takes a pointer to where its answer goes. */
CURLcode curl_easy_getinfo(CURL *h, CURLINFO info, ...)
{
	va_list ap;
	CURLcode r;
	if (!ready())
		return CURLE_FAILED_INIT;
	va_start(ap, info);
	r = fn.easy_getinfo(h, info, va_arg(ap, void *));
	va_end(ap);
	return r;
}

const char *curl_easy_strerror(CURLcode c)
{
	return ready() ? fn.easy_strerror(c) : "libcurl is not loaded";
}

char *curl_easy_escape(CURL *h, const char *s, int len)
{
	return ready() ? fn.easy_escape(h, s, len) : NULL;
}

void curl_free(void *p)
{
	if (ready())
		fn.free(p);
}

struct curl_slist *curl_slist_append(struct curl_slist *l, const char *s)
{
	return ready() ? fn.slist_append(l, s) : NULL;
}

void curl_slist_free_all(struct curl_slist *l)
{
	if (ready())
		fn.slist_free_all(l);
}

CURLM *curl_multi_init(void)
{
	return ready() ? fn.multi_init() : NULL;
}

CURLMcode curl_multi_cleanup(CURLM *m)
{
	return ready() ? fn.multi_cleanup(m) : CURLM_INTERNAL_ERROR;
}

CURLMcode curl_multi_add_handle(CURLM *m, CURL *h)
{
	return ready() ? fn.multi_add_handle(m, h) : CURLM_INTERNAL_ERROR;
}

CURLMcode curl_multi_remove_handle(CURLM *m, CURL *h)
{
	return ready() ? fn.multi_remove_handle(m, h) : CURLM_INTERNAL_ERROR;
}

CURLMcode curl_multi_perform(CURLM *m, int *running)
{
	return ready() ? fn.multi_perform(m, running) : CURLM_INTERNAL_ERROR;
}

CURLMcode curl_multi_poll(CURLM *m, struct curl_waitfd *extra, unsigned n, int ms, int *ret)
{
	return ready() ? fn.multi_poll(m, extra, n, ms, ret) : CURLM_INTERNAL_ERROR;
}

CURLMsg *curl_multi_info_read(CURLM *m, int *left)
{
	return ready() ? fn.multi_info_read(m, left) : NULL;
}

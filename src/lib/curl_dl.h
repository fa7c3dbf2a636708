/* curl_dl.h: libcurl loaded on first use (curl_dl.c defines the curl_* functions crumb
 * calls and forwards them to libcurl.so.4, opened with dlopen). */
#ifndef CRUMB_CURL_DL_H
#define CRUMB_CURL_DL_H

#include <curl/curl.h>

/* NULL once libcurl is loaded (loading it on the first call); else why it cannot be: the
 * dynamic loader's message, or the function the installed libcurl lacks. Until then every
 * forwarded call fails (CURLE_FAILED_INIT, CURLM_INTERNAL_ERROR, NULL). */
const char *curl_dl_error(void);

#endif

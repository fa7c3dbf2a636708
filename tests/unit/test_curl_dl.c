/* test_curl_dl.c: libcurl loaded on first use: every forwarded function reaches the real one,
 * with each kind of setopt argument (long, pointer, function, curl_off_t) and getinfo's
 * answers intact; driven over file:// URLs, easy and multi. */
#include <string.h>
#include <unistd.h>

#include "lib/curl_dl.h"
#include "lib/util.h"
#include "tap.h"

static size_t sink(char *p, size_t size, size_t n, void *ctx)
{
	struct sbuf *sb = ctx;
	sb_add(sb, p, size * n);
	return size * n;
}

int main(void)
{
	char dir[] = "/tmp/crumb-curl.XXXXXX";
	if (!mkdtemp(dir)) {
		printf("Bail out! mkdtemp\n");
		return 1;
	}
	char *file = xasprintf("%s/data", dir), *url = xasprintf("file://%s", file);
	struct err e = {0};
	write_file_atomic(file, "0123456789abcdef", 16, 0644, &e);

	ok(curl_dl_error() == NULL, "libcurl loads: %s", curl_dl_error() ? curl_dl_error() : "");
	ok(curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK, "curl_global_init");
	CURL *h = curl_easy_init();
	ok(h != NULL, "curl_easy_init");
	char *esc = curl_easy_escape(h, "a b/c", 0);
	is_str(esc, "a%20b%2Fc", "curl_easy_escape");
	curl_free(esc);

	struct sbuf got = SBUF_INIT;
	struct curl_slist *hdr = curl_slist_append(NULL, "X-Crumb: 1");
	ok(hdr && !strcmp(hdr->data, "X-Crumb: 1"), "curl_slist_append");
	ok(curl_easy_setopt(h, CURLOPT_URL, url) == CURLE_OK &&		       /* pointer */
	       curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink) == CURLE_OK && /* function */
	       curl_easy_setopt(h, CURLOPT_WRITEDATA, &got) == CURLE_OK &&
	       curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr) == CURLE_OK &&
	       curl_easy_setopt(h, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)10) ==
		   CURLE_OK &&					      /* off_t */
	       curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) == CURLE_OK, /* long */
	   "curl_easy_setopt with a pointer, a function, a curl_off_t and a long");
	ok(curl_easy_perform(h) == CURLE_OK, "curl_easy_perform");
	is_int((long long)got.len, 6, "the curl_off_t reached libcurl: fetched from byte 10");
	ok(got.len == 6 && !memcmp(got.buf, "abcdef", 6), "... the last 6 bytes");
	curl_off_t n = -1;
	char *eff = NULL;
	ok(curl_easy_getinfo(h, CURLINFO_SIZE_DOWNLOAD_T, &n) == CURLE_OK && n == 6,
	   "curl_easy_getinfo: a curl_off_t answer (%lld)", (long long)n);
	ok(curl_easy_getinfo(h, CURLINFO_EFFECTIVE_URL, &eff) == CURLE_OK && eff &&
	       !strcmp(eff, url),
	   "curl_easy_getinfo: a string answer");
	is_str(curl_easy_strerror(CURLE_COULDNT_CONNECT), "Couldn't connect to server",
	       "curl_easy_strerror");

	/* a missing file through the multi interface */
	char *missing = xasprintf("file://%s/none", dir);
	curl_easy_reset(h);
	sb_release(&got);
	curl_easy_setopt(h, CURLOPT_URL, missing);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &got);
	CURLM *m = curl_multi_init();
	ok(m && curl_multi_add_handle(m, h) == CURLM_OK, "curl_multi_init, curl_multi_add_handle");
	int running = 1, polls = 0;
	while (running && polls++ < 1000) {
		if (curl_multi_perform(m, &running) != CURLM_OK)
			break;
		if (running)
			curl_multi_poll(m, NULL, 0, 100, NULL);
	}
	int left = 0;
	CURLMsg *msg = curl_multi_info_read(m, &left);
	ok(msg && msg->msg == CURLMSG_DONE && msg->data.result == CURLE_FILE_COULDNT_READ_FILE,
	   "curl_multi_perform/poll/info_read: the missing file's error");
	ok(curl_multi_remove_handle(m, h) == CURLM_OK && curl_multi_cleanup(m) == CURLM_OK,
	   "curl_multi_remove_handle, curl_multi_cleanup");
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	sb_release(&got);
	free(missing);
	unlink(file);
	rmdir(dir);
	free(file);
	free(url);
	return done_testing();
}

/* user.c: resolves "USER[:GROUP]" in the guest's /etc/passwd and /etc/group, without libc's NSS. */
#include "user.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Larger passwd or group files are treated as absent. */
#define USER_FILE_MAX (4 * 1024 * 1024)

char *init_read_file(const char *path, size_t max, size_t *len, char *err, size_t errlen)
{
	size_t cap = 4096, n = 0;
	char *buf = NULL, *nb;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	for (;;) {
		ssize_t r;

		if (!buf || n == cap) {
			if (buf)
				cap *= 2;
			if (!(nb = realloc(buf, cap + 1))) {
				snprintf(err, errlen, "%s: out of memory", path);
				goto fail;
			}
			buf = nb;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			goto fail;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > max) {
			snprintf(err, errlen, "%s: larger than %zu bytes", path, max);
			goto fail;
		}
	}
	close(fd);
	buf[n] = '\0'; /* room kept: text files can be used as strings */
	*len = n;
	return buf;
fail:
	free(buf);
	close(fd);
	return NULL;
}

/* ROOT/PATH as a malloc'd NUL-terminated string; NULL when missing or unreadable. */
static char *user_slurp(const char *root, const char *path)
{
	char full[PATH_MAX], err[256];
	size_t len;

	if ((size_t)snprintf(full, sizeof(full), "%s%s", root, path) >= sizeof(full))
		return NULL;
	return init_read_file(full, USER_FILE_MAX, &len, err, sizeof(err));
}

/* A decimal id (uid_t/gid_t range, not -1); -1 when s is not one. */
static long long user_parse_id(const char *s)
{
	long long v = 0;

	if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 10)
		return -1;
	for (; *s; s++)
		v = v * 10 + (*s - '0');
	return v >= 0xffffffffLL ? -1 : v;
}

/* Splits line at ':' into at most n fields, in place; returns the count. */
static int user_fields(char *line, char **f, int n)
{
	int k = 0;

	f[k++] = line;
	for (char *p = line; *p && k < n; p++)
		if (*p == ':') {
			*p = '\0';
			f[k++] = p + 1;
		}
	return k;
}

/* The next line of a text buffer (newline replaced by NUL), or NULL at its end. */
static char *user_next_line(char **pos)
{
	char *l = *pos, *nl;

	if (!l || !*l)
		return NULL;
	nl = strchr(l, '\n');
	if (nl) {
		*nl = '\0';
		*pos = nl + 1;
	} else {
		*pos = l + strlen(l);
	}
	return l;
}

/* Finds a passwd entry by name (by_uid 0) or uid; fills ids and name. 1 found, 0 not. */
static int user_find_passwd(const char *root, const char *name, long long uid, struct user_ids *ids,
			    char *found_name, size_t namelen)
{
	char *pw = user_slurp(root, "/etc/passwd"), *pos = pw, *l;
	int found = 0;

	while (pw && !found && (l = user_next_line(&pos))) {
		char *f[7];
		long long u, g;

		if (user_fields(l, f, 7) < 7 || (u = user_parse_id(f[2])) < 0 ||
		    (g = user_parse_id(f[3])) < 0)
			continue;
		if (name ? strcmp(f[0], name) != 0 : u != uid)
			continue;
		found = 1;
		ids->uid = (uid_t)u;
		ids->gid = (gid_t)g;
		snprintf(ids->home, sizeof(ids->home), "%s", f[5][0] ? f[5] : "/");
		snprintf(found_name, namelen, "%s", f[0]);
	}
	free(pw);
	return found;
}

static void user_add_group(struct user_ids *ids, gid_t g)
{
	for (size_t k = 0; k < ids->ngroups; k++)
		if (ids->groups[k] == g)
			return;
	if (ids->ngroups < USER_MAX_GROUPS)
		ids->groups[ids->ngroups++] = g;
}

int user_resolve(const char *root, const char *spec, struct user_ids *ids, char *err, size_t errlen)
{
	char user[256], name[256] = "", *group, *gr, *pos, *l;
	long long uid_num;

	memset(ids, 0, sizeof(*ids));
	snprintf(ids->home, sizeof(ids->home), "/");
	if (strlen(spec) >= sizeof(user)) {
		snprintf(err, errlen, "user %.40s...: too long", spec);
		return -1;
	}
	strcpy(user, spec);
	if ((group = strchr(user, ':')))
		*group++ = '\0';
	uid_num = user_parse_id(user);
	if (!user_find_passwd(root, user, 0, ids, name, sizeof(name)) &&
	    (uid_num < 0 || !user_find_passwd(root, NULL, uid_num, ids, name, sizeof(name)))) {
		if (uid_num < 0) {
			snprintf(err, errlen, "user %s: no such user in /etc/passwd", user);
			return -1;
		}
		/* A bare number needs no entry: its group is root's, as with Docker. */
		ids->uid = (uid_t)uid_num;
		ids->gid = 0;
	}

	gr = user_slurp(root, "/etc/group");
	pos = gr;
	if (group) {
		long long gid_num = user_parse_id(group), found = -1;

		while (gr && found < 0 && (l = user_next_line(&pos))) {
			char *f[4];
			long long g;

			if (user_fields(l, f, 4) >= 3 && (g = user_parse_id(f[2])) >= 0 &&
			    !strcmp(f[0], group))
				found = g;
		}
		free(gr);
		if (found < 0 && gid_num < 0) {
			snprintf(err, errlen, "group %s: no such group in /etc/group", group);
			return -1;
		}
		/* An explicit group is the only one (Docker's USER user:group). */
		ids->gid = (gid_t)(found >= 0 ? found : gid_num);
		ids->groups[0] = ids->gid;
		ids->ngroups = 1;
		return 0;
	}
	ids->groups[0] = ids->gid;
	ids->ngroups = 1;
	/* initgroups(): every group that lists the user's name as a member. */
	while (gr && name[0] && (l = user_next_line(&pos))) {
		char *f[4], *save, *m;
		long long g;

		if (user_fields(l, f, 4) < 4 || (g = user_parse_id(f[2])) < 0)
			continue;
		for (m = strtok_r(f[3], ",", &save); m; m = strtok_r(NULL, ",", &save))
			if (!strcmp(m, name))
				user_add_group(ids, (gid_t)g);
	}
	free(gr);
	return 0;
}

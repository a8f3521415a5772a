/* util.c - see util.h. */
#define _GNU_SOURCE
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static __thread char errbuf[1024];

int
store_seterr(int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errbuf, sizeof(errbuf), fmt, ap);
	va_end(ap);
	return rc;
}

const char *
store_errmsg(void)
{
	return errbuf;
}

void
store_clearerr(void)
{
	errbuf[0] = '\0';
}

int
utf8_valid(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t n;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			n = 1;
			cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2;
			cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3;
			cp = c & 0x07;
		} else {
			return 0;
		}
		if (i + n >= len)
			return 0;
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		/* overlong forms, surrogates and values past U+10FFFF */
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) ||
		    (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += n + 1;
	}
	return 1;
}

int
name_check(const char *name, const char *what)
{
	size_t len = strlen(name);

	if (len == 0)
		return store_seterr(-EINVAL, "invalid %s name: empty", what);
	if (len > NAME_MAX_BYTES)
		return store_seterr(-ENAMETOOLONG,
		    "invalid %s name: longer than %d bytes", what,
		    NAME_MAX_BYTES);
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return store_seterr(-EINVAL, "invalid %s name '%s'", what,
		    name);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c == '/')
			return store_seterr(-EINVAL,
			    "invalid %s name '%s': contains '/'", what, name);
		if (c < 0x20 || c == 0x7f)
			return store_seterr(-EINVAL,
			    "invalid %s name: contains a control character",
			    what);
	}
	if (!utf8_valid(name, len))
		return store_seterr(-EINVAL,
		    "invalid %s name: not valid UTF-8", what);
	return 0;
}

void
digest_hex(char out[DIGEST_HEX_LEN + 1], const uint8_t d[DIGEST_LEN])
{
	static const char hex[] = "0123456789abcdef";

	for (int i = 0; i < DIGEST_LEN; i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 15];
	}
	out[DIGEST_HEX_LEN] = '\0';
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
digest_parse(uint8_t out[DIGEST_LEN], const char *hex)
{
	if (strlen(hex) != DIGEST_HEX_LEN)
		return -EINVAL;
	for (int i = 0; i < DIGEST_LEN; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

void
digest_buf(uint8_t out[DIGEST_LEN], const void *buf, size_t len)
{
	unsigned int n = DIGEST_LEN;

	EVP_Digest(buf, len, out, &n, EVP_sha256(), NULL);
}

/*
 * The names of the last few uids seen, for NAME_TTL seconds: the daemon
 * names the writer of every run, and each getpwuid_r reads /etc/passwd.
 */
#define NAME_SLOTS 16
#define NAME_TTL 10
static struct {
	uid_t uid;
	time_t at;
	char name[64];
} names[NAME_SLOTS];
static pthread_mutex_t names_mu = PTHREAD_MUTEX_INITIALIZER;

void
store_user_from_uid(struct store_user *u, uid_t uid, gid_t gid)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	time_t now = time(NULL);
	size_t slot = uid % NAME_SLOTS;

	u->uid = uid;
	u->gid = gid;
	u->ngroups = 0;
	pthread_mutex_lock(&names_mu);
	if (names[slot].at && names[slot].uid == uid &&
	    now - names[slot].at < NAME_TTL) {
		memcpy(u->name, names[slot].name, sizeof(u->name));
		pthread_mutex_unlock(&names_mu);
		return;
	}
	pthread_mutex_unlock(&names_mu);
	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) == 0 && res &&
	    strlen(res->pw_name) < sizeof(u->name))
		snprintf(u->name, sizeof(u->name), "%s", res->pw_name);
	else
		snprintf(u->name, sizeof(u->name), "uid:%u", (unsigned)uid);
	pthread_mutex_lock(&names_mu);
	names[slot].uid = uid;
	names[slot].at = now;
	memcpy(names[slot].name, u->name, sizeof(u->name));
	pthread_mutex_unlock(&names_mu);
}

void
store_user_self(struct store_user *u)
{
	int n;

	store_user_from_uid(u, getuid(), getgid());
	n = getgroups(STORE_USER_GROUPS, u->groups);
	u->ngroups = n > 0 ? n : 0;
}

void
time_iso(char out[32], int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int64_t
time_parse_iso(const char *s)
{
	/* the thread's last answer: an import asks the same a million times */
	static __thread char last[24];
	static __thread int64_t last_t;
	struct tm tm = { 0 };
	const char *end;
	int64_t t;

	if (s && last[0] && strcmp(s, last) == 0)
		return last_t;
	end = s ? strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm) : NULL;
	t = end && *end == '\0' ? (int64_t)timegm(&tm) : 0;
	if (s && strlen(s) < sizeof(last)) {
		memcpy(last, s, strlen(s) + 1);
		last_t = t;
	}
	return t;
}

size_t
u64_digits(char *out, uint64_t v, size_t width)
{
	char rev[20];
	size_t n = 0, len;

	do {
		rev[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	if (width > 20)
		width = 20;
	while (n < width)
		rev[n++] = '0';
	for (len = 0; len < n; len++)
		out[len] = rev[n - 1 - len];
	out[len] = '\0';
	return len;
}

int
write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
read_small_file(const char *path, size_t max, char **out, size_t *len)
{
	size_t got = 0, cap = 4096;
	char *buf = NULL;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return store_seterr(-errno, "could not open '%s': %s", path,
		    strerror(errno));
	/* read to the end: pipes and /proc files have no size to trust */
	buf = malloc(cap + 1);
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t n;

		if (got == cap) {
			char *nb;

			if (cap > max) {
				rc = store_seterr(-EFBIG, "'%s' is larger than "
				    "%zu bytes", path, max);
				goto out;
			}
			nb = realloc(buf, cap * 2 + 1);
			if (!nb) {
				rc = -ENOMEM;
				goto out;
			}
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + got, cap - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = store_seterr(-errno, "could not read '%s': %s",
			    path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	if (got > max) {
		rc = store_seterr(-EFBIG, "'%s' is larger than %zu bytes", path,
		    max);
		goto out;
	}
	buf[got] = '\0';
	*out = buf;
	*len = got;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return rc;
}

void
thread_nice_more(int more)
{
	int now;

	errno = 0;
	now = getpriority(PRIO_PROCESS, (id_t)gettid());
	if (errno == 0)
		(void)setpriority(PRIO_PROCESS, (id_t)gettid(),
		    now + more > 19 ? 19 : now + more);
}

int
mkdir_p(const char *path, mode_t mode)
{
	char tmp[4096];
	size_t len = strlen(path);

	if (len >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, path, len + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		return rmdir(path) < 0 ? -1 : 0;
	return unlink(path) < 0 ? -1 : 0;
}

int
remove_tree(const char *path)
{
	if (nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS) < 0)
		return -errno;
	return 0;
}

int
store_prefixerr(int rc, const char *fmt, ...)
{
	char old[sizeof(errbuf)], pre[512];
	va_list ap;

	snprintf(old, sizeof(old), "%s", errbuf);
	va_start(ap, fmt);
	vsnprintf(pre, sizeof(pre), fmt, ap);
	va_end(ap);
	/* both parts fit: a message is cut, never overflowed */
	if (snprintf(errbuf, sizeof(errbuf), "%s: %.*s", pre,
	    (int)(sizeof(errbuf) - strlen(pre) - 3), old) < 0)
		errbuf[0] = '\0';
	return rc;
}

int
json_parse_checked(const char *text, size_t len, const char *what,
    int (*check)(json_t *), json_t **out)
{
	json_error_t err;
	json_t *j;
	int rc;

	*out = NULL;
	j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
	if (!j)
		return store_seterr(-EINVAL, "%s (line %d: %s)", what, err.line,
		    err.text);
	if ((rc = check(j)) < 0) {
		json_decref(j);
		return rc;
	}
	*out = j;
	return 0;
}

int
line_append(char **buf, size_t *used, size_t *cap, const char *line,
    size_t len)
{
	if (*used + len + 1 > *cap) {
		size_t n = (*used + len + 1) * 2;
		char *b = realloc(*buf, n);

		if (!b)
			return -ENOMEM;
		*buf = b;
		*cap = n;
	}
	memcpy(*buf + *used, line, len);
	(*buf)[*used + len] = '\n';
	*used += len + 1;
	return 0;
}

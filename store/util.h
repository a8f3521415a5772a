/*
 * util.h - error messages, name checks, digests and identities shared by
 * every layer of relfs.
 *
 * Every function in relfs returns 0 or a negative errno.  The function that
 * first sees a failure records a message for people with store_seterr(); the
 * callers pass the code up unchanged and the top (the FUSE layer or relctl)
 * shows store_errmsg().
 */
#ifndef RELFS_UTIL_H
#define RELFS_UTIL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define DIGEST_LEN 32
#define DIGEST_HEX_LEN 64
#define NAME_MAX_BYTES 255

/* Record a message (printf format) for this thread and return rc. */
int store_seterr(int rc, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Put "prefix: " (printf format) before this thread's message; return rc. */
int store_prefixerr(int rc, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The last message recorded on this thread ("" when none). */
const char *store_errmsg(void);

/* Forget the message of this thread. */
void store_clearerr(void);

/*
 * Check one name (a project, a version, a path component, a pin name): not
 * empty, not "." or "..", no '/', no control characters, valid UTF-8, at
 * most 255 bytes.  Returns 0, -EINVAL or -ENAMETOOLONG with a message that
 * says what the name is (`what`, e.g. "project").
 */
int name_check(const char *name, const char *what);

/* True when s (len bytes) is valid UTF-8. */
int utf8_valid(const char *s, size_t len);

/* Lower-case hex of a digest into out (65 bytes). */
void digest_hex(char out[DIGEST_HEX_LEN + 1], const uint8_t d[DIGEST_LEN]);

/* Parse 64 hex digits; returns 0 or -EINVAL. */
int digest_parse(uint8_t out[DIGEST_LEN], const char *hex);

/* SHA-256 of a buffer. */
void digest_buf(uint8_t out[DIGEST_LEN], const void *buf, size_t len);

/*
 * The person behind a change: the uid and the name git and logs show, and
 * the supplementary groups the roles are checked against.
 */
#define STORE_USER_GROUPS 64
struct store_user {
	uid_t uid;
	gid_t gid;
	char name[64];
	int ngroups;
	gid_t groups[STORE_USER_GROUPS];
};

/* Fill u for uid: the passwd name, or "uid:N" when the uid has none; no
 * supplementary groups. */
void store_user_from_uid(struct store_user *u, uid_t uid, gid_t gid);

/* Is gid u's primary group or one of its supplementary groups? */
int store_user_member(const struct store_user *u, gid_t gid);

/* Fill u for the user running this process (real uid, its groups). */
void store_user_self(struct store_user *u);

/*
 * The decimal digits of v, at least width of them (zeros before), into
 * out (21 bytes at least) and a NUL: the length.  snprintf's format is
 * parsed again at every call, and an import numbers a million runs.
 */
size_t u64_digits(char *out, uint64_t v, size_t width);

/* ISO-8601 UTC ("2026-11-29T00:05:05Z") of t into out (21 bytes). */
void time_iso(char out[32], int64_t t);

/* "2026-11-29T00:05:05Z" -> seconds; 0 when it is not such a time. */
int64_t time_parse_iso(const char *s);

/*
 * Append line (len bytes) and a newline to *buf (*used of *cap bytes,
 * grown as needed); 0 or -ENOMEM.
 */
int line_append(char **buf, size_t *used, size_t *cap, const char *line,
    size_t len);

/* Write all of buf to fd; returns 0 or -errno. */
int write_all(int fd, const void *buf, size_t len);

/* Read a whole (small) file into a NUL-terminated buffer; at most max bytes. */
int read_small_file(const char *path, size_t max, char **out, size_t *len);

/*
 * The calling thread's nice raised by more than the process's (19 at
 * most; Linux's nice is a thread's); failing, it runs as it is.
 */
void thread_nice_more(int more);

/* mkdir -p; returns 0 or -errno. */
int mkdir_p(const char *path, mode_t mode);

/* rm -rf of a directory tree below dirfd/name; returns 0 or -errno. */
int remove_tree(const char *path);

/*
 * Parse JSON text (duplicate keys refused) and check it with check(), which
 * records its own message; bad JSON is "<what> (line N: why)".  *out is the
 * checked document.
 */
int json_parse_checked(const char *text, size_t len, const char *what,
    int (*check)(json_t *), json_t **out);

#endif

/*
 * fanout.c - the ledger's layout: logical paths to the paths git keeps
 * them at, and back (see fanout.h).
 */
#include "fanout.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define MAX_PARTS 32

struct parts {
	char buf[4096];
	const char *p[MAX_PARTS];
	char hash[MAX_PARTS][3];	/* a bucket made for part i */
	int n;
};

/* Split path at '/'; -ENAMETOOLONG when it does not fit. */
static int
split(struct parts *s, const char *path)
{
	char *save = NULL, *comp;

	if (snprintf(s->buf, sizeof(s->buf), "%s", path) >= (int)sizeof(s->buf))
		return -ENAMETOOLONG;
	s->n = 0;
	for (comp = strtok_r(s->buf, "/", &save); comp;
	    comp = strtok_r(NULL, "/", &save)) {
		if (s->n == MAX_PARTS)
			return -ENAMETOOLONG;
		s->p[s->n++] = comp;
	}
	return 0;
}

static int
join(const struct parts *s, char *out, size_t len)
{
	size_t used = 0;

	for (int i = 0; i < s->n; i++) {
		int w = snprintf(out + used, len - used, "%s%s", i ? "/" : "",
		    s->p[i]);

		if (w < 0 || (size_t)w >= len - used)
			return -ENAMETOOLONG;
		used += (size_t)w;
	}
	if (s->n == 0 && len)
		out[0] = '\0';
	return 0;
}

/* The bucket of a name: the first two hex digits of its SHA-256. */
static void
bucket(char out[3], const char *name, size_t len)
{
	uint8_t d[DIGEST_LEN];
	char hex[DIGEST_HEX_LEN + 1];

	digest_buf(d, name, len);
	digest_hex(hex, d);
	out[0] = hex[0];
	out[1] = hex[1];
	out[2] = '\0';
}

/* The digits at the start of s as a number (at most 18), or -1. */
static long long
digits_at(const char *s, size_t *used)
{
	size_t n = strspn(s, "0123456789");

	*used = n;
	return n == 0 || n > 18 ? -1 : strtoll(s, NULL, 10);
}

int
fanout_run_range(const char *name, long long *first, long long *last)
{
	size_t a, b;
	long long n = digits_at(name, &a), m;

	if (n < 0)
		return -1;
	if (strcmp(name + a, ".json") == 0) {
		*first = *last = n;
		return 0;
	}
	if (name[a] != '-' || (m = digits_at(name + a + 1, &b)) < 0 ||
	    strcmp(name + a + 1 + b, ".jsonl") != 0 || m < n ||
	    m / FANOUT_RUNS_A_DIR != n / FANOUT_RUNS_A_DIR)
		return -1;
	*first = n;
	*last = m;
	return 0;
}

/* The number a run's file is filed under (its first run), or -1. */
static long long
run_number(const char *name)
{
	long long first, last;

	return fanout_run_range(name, &first, &last) < 0 ? -1 : first;
}

static void
insert(struct parts *s, int at, const char *part)
{
	memmove(&s->p[at + 1], &s->p[at], (size_t)(s->n - at) * sizeof(*s->p));
	s->p[at] = part;
	s->n++;
}

static void
drop(struct parts *s, int at)
{
	memmove(&s->p[at], &s->p[at + 1],
	    (size_t)(s->n - at - 1) * sizeof(*s->p));
	s->n--;
}

/* Put the bucket of part `of` (its name less strip bytes) before `at`. */
static int
add_bucket(struct parts *s, int slot, int at, int of, size_t strip)
{
	size_t len = strlen(s->p[of]);

	if (s->n >= MAX_PARTS || len < strip)
		return -ENAMETOOLONG;
	bucket(s->hash[slot], s->p[of], len - strip);
	insert(s, at, s->hash[slot]);
	return 0;
}

/* Is part `at` the bucket of part `of` (less strip bytes)? Then drop it. */
static int
take_bucket(struct parts *s, int at, int of, size_t strip)
{
	char want[3];
	size_t len;

	if (of >= s->n || (len = strlen(s->p[of])) < strip)
		return -EINVAL;
	bucket(want, s->p[of], len - strip);
	if (strcmp(s->p[at], want) != 0)
		return -EINVAL;
	drop(s, at);
	return 0;
}

int
fanout_path(int format, const char *logical, char *out, size_t len)
{
	char hi[24], mid[24];
	struct parts s;
	long long n;
	int rc;

	if (format < 2) {
		if (snprintf(out, len, "%s", logical) >= (int)len)
			return -ENAMETOOLONG;
		return 0;
	}
	if ((rc = split(&s, logical)) < 0)
		return rc;
	if (s.n >= 3 && (strcmp(s.p[0], "artifacts") == 0 ||
	    strcmp(s.p[0], "approvals") == 0 ||
	    strcmp(s.p[0], "waivers") == 0)) {
		rc = add_bucket(&s, 0, 2, 2, 0);
	} else if (s.n == 4 && strcmp(s.p[0], "promotions") == 0) {
		rc = add_bucket(&s, 0, 3, 3, strlen(".json"));
	} else if (s.n >= 3 && strcmp(s.p[0], "runs") == 0) {
		rc = add_bucket(&s, 0, 2, 2, 0);
		/* runs/<p>/<h>/<v>/<tc>/<name> */
		if (rc == 0 && s.n >= 5)
			rc = add_bucket(&s, 1, 4, 4, 0);
		/* runs/<p>/<h>/<v>/<h>/<tc>/<name> */
		if (rc == 0 && s.n == 7 && (n = run_number(s.p[6])) >= 0) {
			if (s.n + 2 > MAX_PARTS)
				return -ENAMETOOLONG;
			snprintf(hi, sizeof(hi), "%02lld", n / 10000);
			snprintf(mid, sizeof(mid), "%02lld", n / 100 % 100);
			insert(&s, 6, mid);
			insert(&s, 6, hi);
		}
	}
	if (rc < 0)
		return rc;
	return join(&s, out, len);
}

int
fanout_logical(int format, const char *stored, char *out, size_t len)
{
	struct parts s;
	int rc;

	if (format < 2) {
		if (snprintf(out, len, "%s", stored) >= (int)len)
			return -ENAMETOOLONG;
		return 0;
	}
	if ((rc = split(&s, stored)) < 0)
		return rc;
	if (s.n >= 4 && (strcmp(s.p[0], "artifacts") == 0 ||
	    strcmp(s.p[0], "approvals") == 0 ||
	    strcmp(s.p[0], "waivers") == 0)) {
		rc = take_bucket(&s, 2, 3, 0);
	} else if (s.n == 5 && strcmp(s.p[0], "promotions") == 0) {
		rc = take_bucket(&s, 3, 4, strlen(".json"));
	} else if (s.n >= 4 && strcmp(s.p[0], "runs") == 0) {
		rc = take_bucket(&s, 2, 3, 0);
		/* runs/<p>/<v>/<h>/<tc>/... */
		if (rc == 0 && s.n >= 5)
			rc = take_bucket(&s, 3, 4, 0);
		/* runs/<p>/<v>/<tc>/<hi>/<mid>/<name> */
		if (rc == 0 && s.n == 7) {
			long long n = run_number(s.p[6]);
			char hi[24], mid[24];

			snprintf(hi, sizeof(hi), "%02lld", n / 10000);
			snprintf(mid, sizeof(mid), "%02lld", n / 100 % 100);
			if (n < 0 || strcmp(s.p[4], hi) != 0 ||
			    strcmp(s.p[5], mid) != 0)
				return -EINVAL;
			drop(&s, 4);
			drop(&s, 4);
		} else if (rc == 0 && s.n == 5 && run_number(s.p[4]) >= 0) {
			return -EINVAL;	/* a run outside its buckets */
		}
	} else if (s.n > 0 && (strcmp(s.p[0], "artifacts") == 0 ||
	    strcmp(s.p[0], "approvals") == 0 ||
	    strcmp(s.p[0], "waivers") == 0 || strcmp(s.p[0], "runs") == 0 ||
	    strcmp(s.p[0], "promotions") == 0)) {
		return -EINVAL;	/* too short to hold its buckets */
	}
	if (rc < 0)
		return rc;
	return join(&s, out, len);
}

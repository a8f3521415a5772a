/* Unit tests of the ledger's layout (fanout.c): paths out and back. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "fanout.h"
#include "util.h"

/* The first two hex digits of SHA-256(s). */
static const char *
h(const char *s)
{
	static char out[8][3];
	static int next;
	uint8_t d[DIGEST_LEN];
	char hex[DIGEST_HEX_LEN + 1];
	char *o = out[next++ % 8];

	digest_buf(d, s, strlen(s));
	digest_hex(hex, d);
	o[0] = hex[0];
	o[1] = hex[1];
	o[2] = '\0';
	return o;
}

static void
round_trip(const char *logical, const char *want)
{
	char stored[4096], back[4096];

	assert_int_equal(fanout_path(2, logical, stored, sizeof(stored)), 0);
	assert_string_equal(stored, want);
	assert_int_equal(fanout_logical(2, stored, back, sizeof(back)), 0);
	assert_string_equal(back, logical);
}

/* every fanned-out kind of path goes to its buckets and comes back */
static void
test_layout2(void **state)
{
	char want[4096];

	(void)state;
	snprintf(want, sizeof(want), "artifacts/fuel/%s/9.0.1/manifest.json",
	    h("9.0.1"));
	round_trip("artifacts/fuel/9.0.1/manifest.json", want);
	snprintf(want, sizeof(want), "runs/fuel/%s/9.0.1/%s/vping/00/00/"
	    "000001.json", h("9.0.1"), h("vping"));
	round_trip("runs/fuel/9.0.1/vping/000001.json", want);
	snprintf(want, sizeof(want), "runs/fuel/%s/9.0.1/%s/vping/12/34/"
	    "123456.json", h("9.0.1"), h("vping"));
	round_trip("runs/fuel/9.0.1/vping/123456.json", want);
	/* past a million runs the first bucket has three digits */
	snprintf(want, sizeof(want), "runs/fuel/%s/9.0.1/%s/vping/123/45/"
	    "1234567.json", h("9.0.1"), h("vping"));
	round_trip("runs/fuel/9.0.1/vping/1234567.json", want);
	snprintf(want, sizeof(want), "promotions/daily/fuel/%s/9.0.1.json",
	    h("9.0.1"));
	round_trip("promotions/daily/fuel/9.0.1.json", want);
	snprintf(want, sizeof(want), "approvals/fuel/%s/9.0.1/weekly/"
	    "root.json", h("9.0.1"));
	round_trip("approvals/fuel/9.0.1/weekly/root.json", want);
	snprintf(want, sizeof(want), "waivers/fuel/%s/9.0.1/vping.json",
	    h("9.0.1"));
	round_trip("waivers/fuel/9.0.1/vping.json", want);
	/* a directory of the tree, for git log: the same buckets */
	snprintf(want, sizeof(want), "runs/fuel/%s/9.0.1/%s/vping",
	    h("9.0.1"), h("vping"));
	round_trip("runs/fuel/9.0.1/vping", want);
	/* what is not fanned out keeps its path */
	round_trip("store.json", "store.json");
	round_trip("stages/daily/criteria.json", "stages/daily/criteria.json");
	round_trip("projects/fuel/project.json", "projects/fuel/project.json");
	round_trip("releases/2027.1/frozen/os-a/pins",
	    "releases/2027.1/frozen/os-a/pins");
}

/* layout 1 keeps every path; layout 2 refuses a path not in its bucket */
static void
test_layout1_and_damage(void **state)
{
	char out[4096], tiny[8];

	(void)state;
	assert_int_equal(fanout_path(1, "runs/fuel/9.0.1/vping/000001.json",
	    out, sizeof(out)), 0);
	assert_string_equal(out, "runs/fuel/9.0.1/vping/000001.json");
	assert_int_equal(fanout_logical(1, "artifacts/a/1/manifest.json", out,
	    sizeof(out)), 0);
	assert_string_equal(out, "artifacts/a/1/manifest.json");
	/* an old path read as layout 2, a wrong bucket, a run out of place */
	assert_int_equal(fanout_logical(2, "artifacts/fuel/9.0.1/manifest.json",
	    out, sizeof(out)), -EINVAL);
	assert_int_equal(fanout_logical(2, "promotions/daily/fuel/zz/9.0.1.json",
	    out, sizeof(out)), -EINVAL);
	snprintf(out, sizeof(out), "runs/fuel/%s/9.0.1/%s/vping/00/01/"
	    "000001.json", h("9.0.1"), h("vping"));
	{
		char back[4096];

		assert_int_equal(fanout_logical(2, out, back, sizeof(back)),
		    -EINVAL);
	}
	assert_int_equal(fanout_path(2, "runs/fuel/9.0.1/vping/000001.json",
	    tiny, sizeof(tiny)), -ENAMETOOLONG);
}

/* an import's file of runs: filed where its first run would be */
static void
test_import_files(void **state)
{
	long long first = -7, last = -7;
	char want[4096], out[4096];

	(void)state;
	snprintf(want, sizeof(want), "runs/fuel/%s/9.0.1/%s/vping/00/01/"
	    "000100-000199.jsonl", h("9.0.1"), h("vping"));
	round_trip("runs/fuel/9.0.1/vping/000100-000199.jsonl", want);
	snprintf(want, sizeof(want), "runs/fuel/%s/9.0.1/%s/vping/123/45/"
	    "1234501-1234599.jsonl", h("9.0.1"), h("vping"));
	round_trip("runs/fuel/9.0.1/vping/1234501-1234599.jsonl", want);
	assert_int_equal(fanout_run_range("000042.json", &first, &last), 0);
	assert_true(first == 42 && last == 42);
	assert_int_equal(fanout_run_range("000101-000150.jsonl", &first,
	    &last), 0);
	assert_true(first == 101 && last == 150);
	assert_int_equal(fanout_run_range("000007-000007.jsonl", &first,
	    &last), 0);
	assert_true(first == 7 && last == 7);
	/* not a run file: backwards, across buckets, other endings */
	assert_int_equal(fanout_run_range("000150-000101.jsonl", &first,
	    &last), -1);
	assert_int_equal(fanout_run_range("000099-000100.jsonl", &first,
	    &last), -1);
	assert_int_equal(fanout_run_range("000001-000002.json", &first,
	    &last), -1);
	assert_int_equal(fanout_run_range("000001.jsonl", &first, &last), -1);
	assert_int_equal(fanout_run_range("000001-.jsonl", &first, &last), -1);
	assert_int_equal(fanout_run_range("a-000002.jsonl", &first, &last), -1);
	/* one filed in the wrong bucket is refused */
	snprintf(out, sizeof(out), "runs/fuel/%s/9.0.1/%s/vping/00/00/"
	    "000100-000199.jsonl", h("9.0.1"), h("vping"));
	{
		char back[4096];

		assert_int_equal(fanout_logical(2, out, back, sizeof(back)),
		    -EINVAL);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout2),
		cmocka_unit_test(test_layout1_and_damage),
		cmocka_unit_test(test_import_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests of util.c: names, UTF-8, digests, users. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "helpers.h"
#include "util.h"

static void
test_names(void **state)
{
	char long_name[300];

	(void)state;
	assert_int_equal(name_check("fuel", "project"), 0);
	assert_int_equal(name_check("9.0.1-rc1+build.7", "version"), 0);
	assert_int_equal(name_check("os-nosdn-nofeature-ha", "scenario"), 0);
	assert_int_equal(name_check("h\xc3\xa9llo", "file"), 0);
	assert_int_equal(name_check("", "project"), -EINVAL);
	assert_string_equal(store_errmsg(), "invalid project name: empty");
	assert_int_equal(name_check(".", "project"), -EINVAL);
	assert_int_equal(name_check("..", "version"), -EINVAL);
	assert_string_equal(store_errmsg(), "invalid version name '..'");
	assert_int_equal(name_check("a/b", "file"), -EINVAL);
	assert_int_equal(name_check("a\tb", "file"), -EINVAL);
	assert_int_equal(name_check("a\x7f", "file"), -EINVAL);
	assert_int_equal(name_check("\xff\xfe", "file"), -EINVAL);
	assert_string_equal(store_errmsg(), "invalid file name: not valid UTF-8");
	memset(long_name, 'x', 255);
	long_name[255] = '\0';
	assert_int_equal(name_check(long_name, "file"), 0);
	long_name[255] = 'x';
	long_name[256] = '\0';
	assert_int_equal(name_check(long_name, "file"), -ENAMETOOLONG);
	assert_int_equal(name_check("..a", "file"), 0);
}

static void
test_utf8(void **state)
{
	(void)state;
	assert_true(utf8_valid("plain", 5));
	assert_true(utf8_valid("\xe2\x82\xac", 3));		/* euro sign */
	assert_true(utf8_valid("\xf0\x9f\x98\x80", 4));	/* emoji */
	assert_false(utf8_valid("\xe2\x82", 2));		/* cut short */
	assert_false(utf8_valid("\xc0\xaf", 2));		/* overlong '/' */
	assert_false(utf8_valid("\xed\xa0\x80", 3));	/* surrogate */
	assert_false(utf8_valid("\xf4\x90\x80\x80", 4));	/* > U+10FFFF */
	assert_false(utf8_valid("\x80", 1));
}

static void
test_digest(void **state)
{
	uint8_t d[DIGEST_LEN], back[DIGEST_LEN];
	char hex[DIGEST_HEX_LEN + 1];

	(void)state;
	digest_buf(d, "abc", 3);
	digest_hex(hex, d);
	assert_string_equal(hex,
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_int_equal(digest_parse(back, hex), 0);
	assert_memory_equal(back, d, DIGEST_LEN);
	assert_int_equal(digest_parse(back, "abc"), -EINVAL);
	hex[0] = 'g';
	assert_int_equal(digest_parse(back, hex), -EINVAL);
}

static void
test_user_and_errors(void **state)
{
	struct store_user u;
	char when[32];

	(void)state;
	store_user_from_uid(&u, 0, 0);
	assert_string_equal(u.name, "root");
	{
		uid_t none = uid_unnamed(4000321);
		char want[32];

		store_user_from_uid(&u, none, none);
		snprintf(want, sizeof(want), "uid:%u", (unsigned)none);
		assert_string_equal(u.name, want);
	}
	time_iso(when, 0);
	assert_string_equal(when, "1970-01-01T00:00:00Z");
	assert_int_equal(store_seterr(-EIO, "inner %d", 7), -EIO);
	assert_int_equal(store_prefixerr(-EIO, "outer"), -EIO);
	assert_string_equal(store_errmsg(), "outer: inner 7");
}

static void
test_numbers_and_times(void **state)
{
	char out[24];

	(void)state;
	assert_int_equal(u64_digits(out, 0, 0), 1);
	assert_string_equal(out, "0");
	assert_int_equal(u64_digits(out, 42, 6), 6);
	assert_string_equal(out, "000042");
	assert_int_equal(u64_digits(out, 1234567, 6), 7);
	assert_string_equal(out, "1234567");
	assert_int_equal(u64_digits(out, UINT64_MAX, 0), 20);
	assert_string_equal(out, "18446744073709551615");
	assert_int_equal(u64_digits(out, 7, 99), 20);	/* 20 at most */
	/* the same again, another, a bad one, the first again: each right */
	assert_int_equal(time_parse_iso("2026-11-29T00:05:05Z"), 1795910705);
	assert_int_equal(time_parse_iso("2026-11-29T00:05:05Z"), 1795910705);
	assert_int_equal(time_parse_iso("1970-01-01T00:00:01Z"), 1);
	assert_int_equal(time_parse_iso("1970-01-01T00:00:01"), 0);
	assert_int_equal(time_parse_iso(NULL), 0);
	assert_int_equal(time_parse_iso("2026-11-29T00:05:05Z"), 1795910705);
	assert_int_equal(time_parse_iso("1970-01-01T00:00:01Z"), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_digest),
		cmocka_unit_test(test_user_and_errors),
		cmocka_unit_test(test_numbers_and_times),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

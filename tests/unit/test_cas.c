/* Unit tests of the content store. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <unistd.h>

#include "cas.h"
#include "helpers.h"

static void
count(void *arg, uint64_t n)
{
	*(uint64_t *)arg += n;
}

static void
test_put_and_read(void **state)
{
	char *dir = tmpdir_new(), path[4096], *buf;
	uint8_t d1[DIGEST_LEN], d2[DIGEST_LEN], want[DIGEST_LEN];
	struct cas *cas;
	uint64_t size, seen = 0;
	size_t len;
	int fd;

	(void)state;
	assert_int_equal(cas_open(&cas, dir), 0);
	assert_int_equal(cas_put_buf(cas, "hello\n", 6, d1), 0);
	digest_buf(want, "hello\n", 6);
	assert_memory_equal(d1, want, DIGEST_LEN);
	assert_true(cas_has(cas, d1));
	/* the same bytes from a descriptor: same object, stored once */
	put_file(dir, "src", "hello\n", 0644);
	snprintf(path, sizeof(path), "%s/src", dir);
	fd = open(path, O_RDONLY);
	assert_int_equal(cas_put_fd(cas, fd, d2, &size, count, &seen), 0);
	close(fd);
	assert_memory_equal(d1, d2, DIGEST_LEN);
	assert_int_equal(size, 6);
	assert_int_equal(seen, 6);
	assert_int_equal(cas_read_all(cas, d1, 100, &buf, &len), 0);
	assert_int_equal(len, 6);
	assert_string_equal(buf, "hello\n");
	free(buf);
	assert_int_equal(cas_check(cas, d1, &size), 0);
	assert_int_equal(size, 6);
	assert_int_equal(cas_sync(cas), 0);
	/* nothing is left in tmp/ */
	snprintf(path, sizeof(path), "%s/tmp", dir);
	assert_int_equal(rmdir(path), 0);
	cas_close(cas);
	tmpdir_free(dir);
}

static void
test_corrupt_and_missing(void **state)
{
	char *dir = tmpdir_new(), path[4200];
	uint8_t d[DIGEST_LEN], absent[DIGEST_LEN] = { 1 };
	struct cas *cas;
	FILE *f;
	int fd;

	(void)state;
	assert_int_equal(cas_open(&cas, dir), 0);
	assert_int_equal(cas_put_buf(cas, "good", 4, d), 0);
	cas_path(cas, d, path, sizeof(path));
	chmod(path, 0644);
	f = fopen(path, "w");
	fputs("evil", f);
	fclose(f);
	assert_int_equal(cas_check(cas, d, NULL), -EIO);
	assert_non_null(strstr(store_errmsg(), "is corrupt"));
	assert_int_equal(cas_check(cas, absent, NULL), -ENOENT);
	assert_int_equal(cas_open_object(cas, absent, &fd), -ENOENT);
	assert_false(cas_has(cas, absent));
	cas_close(cas);
	tmpdir_free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_and_read),
		cmocka_unit_test(test_corrupt_and_missing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_safe - reading and removing what users wrote, link-proof: a link at
 * any component, a FIFO or a device is refused without blocking, a size
 * limit holds, and removing a tree whose directory was swapped for a link
 * removes the link, never what it points to.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "helpers.h"
#include "safe.h"

static void
test_open_refuses_links_and_fifos(void **state)
{
	char *d = tmpdir_new(), *outside = tmpdir_new(), p[4096], *buf;
	struct stat st;
	size_t len;
	int dfd, fd;

	(void)state;
	put_file(d, "sub/f", "ok\n", 0644);
	put_file(outside, "secret", "TOPSECRET\n", 0600);
	snprintf(p, sizeof(p), "%s/secret", outside);
	assert_int_equal(symlink(p, strcat(strcpy(p, d), "/link")), 0);
	assert_int_equal(symlink(outside, strcat(strcpy(p, d), "/dirlink")),
	    0);
	assert_int_equal(mkfifo(strcat(strcpy(p, d), "/fifo"), 0644), 0);
	dfd = open(d, O_RDONLY | O_DIRECTORY);
	assert_true(dfd >= 0);

	assert_int_equal(safe_read(dfd, "sub/f", 100, "f", &buf, &len), 0);
	assert_int_equal(len, 3);
	assert_string_equal(buf, "ok\n");
	free(buf);
	/* a link as the last component, or anywhere on the way */
	assert_int_equal(safe_read(dfd, "link", 100, "link", &buf, &len),
	    -EINVAL);
	assert_non_null(strstr(store_errmsg(), "symbolic link"));
	assert_int_equal(safe_read(dfd, "dirlink/secret", 100, "x", &buf,
	    &len), -EINVAL);
	/* a FIFO: refused at once, never waited on */
	assert_int_equal(safe_open(dfd, "fifo", S_IFREG, "fifo", &fd, &st),
	    -EINVAL);
	assert_non_null(strstr(store_errmsg(), "a FIFO"));
	/* a directory where a file is wanted, and climbing out */
	assert_int_equal(safe_open(dfd, "sub", S_IFREG, "sub", &fd, &st),
	    -EINVAL);
	assert_true(safe_open(dfd, "../x", S_IFREG, "x", &fd, &st) < 0);
	/* the size limit */
	assert_int_equal(safe_read(dfd, "sub/f", 2, "f", &buf, &len), -EFBIG);
	close(dfd);
	tmpdir_free(d);
	tmpdir_free(outside);
}

static void
test_remove_tree_never_follows(void **state)
{
	char *d = tmpdir_new(), *keep = tmpdir_new(), p[4096];
	struct stat st;
	int dfd;

	(void)state;
	put_file(keep, "precious", "keep me\n", 0644);
	put_file(d, "tree/a/b/c", "x", 0644);
	put_file(d, "tree/a/d", "x", 0644);
	/* a directory of the tree swapped for a link to keep/ */
	assert_int_equal(symlink(keep, strcat(strcpy(p, d), "/tree/swapped")),
	    0);
	dfd = open(d, O_RDONLY | O_DIRECTORY);
	assert_int_equal(safe_remove_tree(dfd, "tree"), 0);
	assert_int_equal(fstatat(dfd, "tree", &st, AT_SYMLINK_NOFOLLOW), -1);
	assert_int_equal(errno, ENOENT);
	snprintf(p, sizeof(p), "%s/precious", keep);
	assert_int_equal(stat(p, &st), 0);
	/* removing what is not there is not an error */
	assert_int_equal(safe_remove_tree(dfd, "tree"), 0);
	close(dfd);
	tmpdir_free(d);
	tmpdir_free(keep);
}

static void
test_attr(void **state)
{
	char *d = tmpdir_new();
	struct safe_attr a = { 1234, 5678, 04755 };
	struct stat st;
	int dfd, fd;

	(void)state;
	put_file(d, "f", "x", 0600);
	dfd = open(d, O_RDONLY | O_DIRECTORY);
	fd = openat(dfd, "f", O_PATH);
	assert_int_equal(fstat(fd, &st), 0);
	/* without a record, what fstat says */
	safe_attr_apply(fd, &st);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(safe_attr_set(fd, &a), 0);
	assert_int_equal(fstat(fd, &st), 0);
	safe_attr_apply(fd, &st);
	assert_int_equal(st.st_uid, 1234);
	assert_int_equal(st.st_gid, 5678);
	/* setuid is never kept */
	assert_int_equal(st.st_mode & 07777, 0755);
	assert_true(S_ISREG(st.st_mode));
	close(fd);
	close(dfd);
	tmpdir_free(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_refuses_links_and_fifos),
		cmocka_unit_test(test_remove_tree_never_follows),
		cmocka_unit_test(test_attr),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

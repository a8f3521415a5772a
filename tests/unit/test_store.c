/* Unit tests of the store: publish, lookups, ledger queue, rebuild, verify. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "store.h"

static const struct store_user alice = { 1001, 1001, "alice" };

struct env {
	char *dir;
	char store[4096];
	char src[4096];
};

static int
setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	e->dir = tmpdir_new();
	snprintf(e->store, sizeof(e->store), "%s/store", e->dir);
	snprintf(e->src, sizeof(e->src), "%s/src", e->dir);
	put_file(e->src, "a.txt", "alpha\n", 0644);
	put_file(e->src, "bin/run", "#!/bin/sh\n", 0755);
	put_file(e->src, "artifact.json", "{\"installer\": \"apex\"}", 0644);
	assert_int_equal(store_create(e->store, &alice), 0);
	*state = e;
	return 0;
}

static int
teardown(void **state)
{
	struct env *e = *state;

	tmpdir_free(e->dir);
	free(e);
	return 0;
}

static int
publish(struct store *st, const char *src, const char *p, const char *v)
{
	struct store_publish o = { 0 };

	o.project = p;
	o.version = v;
	return store_publish_dir(st, src, &o, &alice, NULL);
}

static void
test_publish_and_lookup(void **state)
{
	struct env *e = *state;
	struct store *st;
	struct node n;
	uint64_t ino, pending, commits;
	char buf[64];
	int fd;

	assert_int_equal(store_open(&st, e->store), 0);
	assert_int_equal(publish(st, e->src, "apex", "1.0"), 0);
	assert_int_equal(store_resolve(st, "artifacts/apex/1.0/files/a.txt",
	    &ino, &n), 0);
	assert_int_equal(n.kind, NODE_FILE);
	assert_int_equal(n.size, 6);
	assert_int_equal(n.mode, 0444);
	assert_int_equal(store_node_open(st, &n, &fd), 0);
	assert_int_equal(read(fd, buf, sizeof(buf)), 6);
	assert_memory_equal(buf, "alpha\n", 6);
	close(fd);
	assert_int_equal(store_resolve(st, "artifacts/apex/1.0/files/bin/run",
	    &ino, &n), 0);
	assert_int_equal(n.mode, 0555);
	assert_int_equal(store_resolve(st,
	    "artifacts/apex/1.0/files/artifact.json", &ino, &n), -ENOENT);
	assert_int_equal(store_resolve(st, "artifacts/apex/1.0/manifest.json",
	    &ino, &n), 0);
	assert_int_equal(store_ledger_state(st, &pending, &commits), 0);
	assert_int_equal(pending, 0);
	assert_int_equal(commits, 2);
	/* an artifact never changes */
	assert_int_equal(publish(st, e->src, "apex", "1.0"), -EEXIST);
	assert_int_equal(store_ledger_state(st, &pending, &commits), 0);
	assert_int_equal(commits, 2);
	assert_int_equal(publish(st, e->src, "apex", ".."), -EINVAL);
	store_close(st);
}

static void
test_refusal_leaves_nothing(void **state)
{
	struct env *e = *state;
	struct store *st;
	struct node n;
	uint64_t ino, pending, commits;
	char bad[4200];

	snprintf(bad, sizeof(bad), "%s/bad", e->dir);
	put_file(bad, "f", "content that must not be stored\n", 0644);
	put_file(bad, "pins", "broken line\n", 0644);
	assert_int_equal(store_open(&st, e->store), 0);
	assert_int_equal(publish(st, bad, "p", "1"), -EINVAL);
	assert_non_null(strstr(store_errmsg(), "pins line 1"));
	assert_int_equal(store_resolve(st, "artifacts/p", &ino, &n), -ENOENT);
	assert_int_equal(store_ledger_state(st, &pending, &commits), 0);
	assert_int_equal(commits, 1);
	store_close(st);
}

static void
report(void *arg, const char *problem)
{
	(void)problem;
	(*(int *)arg)++;
}

static void
test_rebuild_and_verify(void **state)
{
	struct env *e = *state;
	struct store *st;
	struct node before, after;
	uint64_t ino1, ino2, n;
	unsigned problems;
	int reported = 0;

	assert_int_equal(store_open(&st, e->store), 0);
	assert_int_equal(publish(st, e->src, "apex", "1.0"), 0);
	assert_int_equal(publish(st, e->src, "apex", "1.1"), 0);
	assert_int_equal(publish(st, e->src, "fuel", "9"), 0);
	assert_int_equal(store_resolve(st, "artifacts/fuel/9/manifest.json",
	    &ino1, &before), 0);
	assert_int_equal(store_verify(st, report, &reported, &problems), 0);
	assert_int_equal(problems, 0);
	store_close(st);
	assert_int_equal(store_rebuild(e->store, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(store_open(&st, e->store), 0);
	assert_int_equal(store_resolve(st, "artifacts/fuel/9/manifest.json",
	    &ino2, &after), 0);
	assert_int_equal(after.size, before.size);
	assert_memory_equal(after.digest, before.digest, DIGEST_LEN);
	assert_int_equal(after.mtime, before.mtime);
	assert_int_equal(store_verify(st, report, &reported, &problems), 0);
	assert_int_equal(problems, 0);
	assert_int_equal(reported, 0);
	/* the queue goes on from the ledger's last entry */
	assert_int_equal(publish(st, e->src, "fuel", "10"), 0);
	assert_int_equal(store_verify(st, report, &reported, &problems), 0);
	assert_int_equal(problems, 0);
	store_close(st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_publish_and_lookup, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_refusal_leaves_nothing,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_rebuild_and_verify, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

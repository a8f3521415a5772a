/* Unit tests of the store: publish, lookups, ledger queue, rebuild, verify. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "store.h"

/* the owner: a uid without a user name, found at start (main) */
static struct store_user alice = { 0, 0, "alice", 0, { 0 } };

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
	/* alice owns the store: she holds every role no group holds */
	assert_int_equal(chown(e->store, alice.uid, alice.gid), 0);
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

/* Four writers at once: their runs are committed in groups. */
struct writer {
	struct store *st;
	uint64_t art;
	int id;
	int bad;		/* results not recorded as expected */
};

#define WRITER_RUNS 40

static void *
write_runs(void *arg)
{
	struct writer *w = arg;
	char name[32], text[128];
	uint64_t no;

	snprintf(name, sizeof(name), "t%d.json", w->id);
	for (int i = 0; i < WRITER_RUNS; i++) {
		int len = snprintf(text, sizeof(text), "{\"testcase\": "
		    "\"t%d\", \"outcome\": \"%s\"}", w->id,
		    i % 3 ? "PASS" : "FAIL");

		/* numbered 1, 2, ... per test case, whoever committed it */
		if (store_result_add(w->st, w->art, name, text, (size_t)len,
		    &alice, &no) != 0 || no != (uint64_t)i + 1)
			w->bad++;
	}
	return NULL;
}

static void
test_parallel_results(void **state)
{
	struct env *e = *state;
	struct writer w[4];
	pthread_t t[4];
	struct store *st;
	struct node n;
	uint64_t art, ino, count, pending;
	unsigned problems;
	int reported = 0;
	char path[128];

	assert_int_equal(store_open(&st, e->store), 0);
	assert_int_equal(publish(st, e->src, "apex", "1.0"), 0);
	assert_int_equal(store_resolve(st, "artifacts/apex/1.0", &art, &n), 0);
	for (int i = 0; i < 4; i++) {
		w[i] = (struct writer){ st, art, i, 0 };
		assert_int_equal(pthread_create(&t[i], NULL, write_runs, &w[i]),
		    0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].bad, 0);
		snprintf(path, sizeof(path),
		    "artifacts/apex/1.0/runs/t%d/%06d.json", i, WRITER_RUNS);
		assert_int_equal(store_resolve(st, path, &ino, &n), 0);
		snprintf(path, sizeof(path),
		    "artifacts/apex/1.0/runs/t%d/%06d.json", i, WRITER_RUNS + 1);
		assert_int_equal(store_resolve(st, path, &ino, &n), -ENOENT);
	}
	/*
	 * every run is in the ledger (verify checks each): the store, the
	 * artifact and the 160 runs, in commits of a user's changes that
	 * followed each other (one writer may take several)
	 */
	assert_int_equal(store_drain(st), 0);
	assert_int_equal(store_ledger_state(st, &pending, &count), 0);
	assert_int_equal(pending, 0);
	assert_true(count >= 2 && count <= 2 + 4 * WRITER_RUNS);
	assert_int_equal(store_verify(st, report, &reported, &problems), 0);
	assert_int_equal(problems, 0);
	store_close(st);
}

/* Roles: the owner, groups from the configuration, root. */
static void
test_roles(void **state)
{
	struct env *e = *state;
	uid_t bu = uid_unnamed(alice.uid + 1);
	struct store_user bob = { bu, bu, "bob", 0, { 0 } };
	char want[200];
	struct store_user root = { 0, 0, "root", 0, { 0 } };
	const char *users[] = { "users" }, *nogroup[] = { "no-such-group" };
	struct store *st;
	json_t *config;
	uint64_t n;

	assert_int_equal(store_open(&st, e->store), 0);
	/* nothing configured: alice (the owner) and root, nobody else */
	assert_int_equal(publish(st, e->src, "apex", "1.0"), 0);
	assert_int_equal(store_may(st, &bob, STORE_ROLE_CI, "publishing"),
	    -EACCES);
	snprintf(want, sizeof(want), "publishing needs the 'ci' role, held by "
	    "the store's owner (uid:%u) and root", (unsigned)alice.uid);
	assert_non_null(strstr(store_errmsg(), want));
	snprintf(want, sizeof(want), "bob (uid %u) does not hold it",
	    (unsigned)bob.uid);
	assert_non_null(strstr(store_errmsg(), want));
	{
		struct store_publish o = { 0 };

		o.project = "apex";
		o.version = "1.1";
		assert_int_equal(store_publish_dir(st, e->src, &o, &bob, NULL),
		    -EACCES);
	}
	assert_int_equal(store_stage_create(st, "daily", &bob), -EACCES);
	assert_int_equal(store_stage_create(st, "daily", &root), 0);
	/* only the owner and root change the configuration */
	assert_int_equal(store_config_set(st, STORE_ROLE_CI, users, 1, &bob),
	    -EACCES);
	assert_non_null(strstr(store_errmsg(), "only the store's owner"));
	assert_int_equal(store_config_set(st, STORE_ROLE_CI, nogroup, 1,
	    &alice), -EINVAL);
	assert_string_equal(store_errmsg(), "no such group 'no-such-group'");
	assert_int_equal(store_config_set(st, STORE_ROLE_CI, users, 1,
	    &alice), 0);
	/* ci is now the group users (gid 100): bob in it, alice not */
	assert_int_equal(store_may(st, &bob, STORE_ROLE_CI, "x"), -EACCES);
	bob.groups[0] = 100;
	bob.ngroups = 1;
	assert_int_equal(store_may(st, &bob, STORE_ROLE_CI, "x"), 0);
	assert_int_equal(store_may(st, &alice, STORE_ROLE_CI, "x"), -EACCES);
	assert_non_null(strstr(store_errmsg(), "members of group users and "
	    "root"));
	assert_int_equal(store_may(st, &root, STORE_ROLE_CI, "x"), 0);
	/* roles not mapped stay the owner's */
	assert_int_equal(store_may(st, &alice, STORE_ROLE_MANAGER, "x"), 0);
	assert_int_equal(store_may(st, &bob, STORE_ROLE_APPROVER, "x"),
	    -EACCES);
	assert_int_equal(store_config_get(st, &config), 0);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(
	    json_object_get(json_object_get(config, "roles"), "ci"), 0),
	    "gid")), 100);
	json_decref(config);
	store_close(st);
	/* the configuration is in the ledger: a rebuild keeps it */
	assert_int_equal(store_rebuild(e->store, &n), 0);
	assert_int_equal(store_open(&st, e->store), 0);
	assert_int_equal(store_may(st, &bob, STORE_ROLE_CI, "x"), 0);
	assert_int_equal(store_may(st, &alice, STORE_ROLE_CI, "x"), -EACCES);
	/* and back to the owner alone */
	assert_int_equal(store_config_set(st, STORE_ROLE_CI, NULL, 0, &root),
	    0);
	assert_int_equal(store_may(st, &alice, STORE_ROLE_CI, "x"), 0);
	assert_int_equal(store_may(st, &bob, STORE_ROLE_CI, "x"), -EACCES);
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
		cmocka_unit_test_setup_teardown(test_parallel_results, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_roles, setup, teardown),
	};

	users_unnamed(&alice, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

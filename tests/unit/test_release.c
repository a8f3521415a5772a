/* Unit tests of scenario scores and release readiness on a real store. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "stage_impl.h"
#include "store.h"

/* the owner: a uid without a user name, found at start (main) */
static struct store_user bob = { 0, 0, "bob", 0, { 0 } };

static void
test_scores(void **state)
{
	int none[1] = { 0 }, fail3[] = { 0, 0, 0 }, once[] = { 0, 1, 0 };
	int twice[] = { 1, 0, 1 }, four[] = { 0, 1, 1, 1, 1 };
	int three[] = { 1, 1, 1 };

	(void)state;
	assert_int_equal(crit_score(none, 0), -1);
	assert_int_equal(crit_score(fail3, 3), 0);
	assert_int_equal(crit_score(once, 3), 1);
	assert_int_equal(crit_score(twice, 3), 2);
	assert_int_equal(crit_score(three, 3), 2);	/* fewer than 4 */
	assert_int_equal(crit_score(four, 5), 3);
}

static uint64_t
art_of(struct store *st, const char *path)
{
	struct node n;
	uint64_t ino;

	assert_int_equal(store_resolve(st, path, &ino, &n), 0);
	return ino;
}

static void
result(struct store *st, const char *art, const char *tc, const char *out)
{
	assert_int_equal(store_result_add(st, art_of(st, art), tc, out,
	    strlen(out), &bob, NULL), 0);
}

static void
test_readiness(void **state)
{
	char *dir = tmpdir_new(), store[4200], src[4200];
	struct store_publish o = { 0 };
	struct store *st;
	json_t *s;
	const char *crit = "{\"require\": [{\"testcase\": \"smoke\"}]}";
	const char *rel = "{\"stage\": \"daily\", \"require\": "
	    "[{\"testcase\": \"extra\"}]}";
	const char *scen = "{\"projects\": [\"fuel\", \"functest\"]}";

	(void)state;
	snprintf(store, sizeof(store), "%s/s", dir);
	snprintf(src, sizeof(src), "%s/src", dir);
	put_file(src, "f", "x\n", 0644);
	assert_int_equal(store_create(store, &bob), 0);
	assert_int_equal(chown(store, bob.uid, bob.gid), 0);	/* bob's */
	assert_int_equal(store_open(&st, store), 0);
	o.scenario = "os-nosdn";
	o.project = "fuel";
	o.version = "1";
	assert_int_equal(store_publish_dir(st, src, &o, &bob, NULL), 0);
	o.project = "functest";
	assert_int_equal(store_publish_dir(st, src, &o, &bob, NULL), 0);
	assert_int_equal(store_stage_create(st, "daily", &bob), 0);
	assert_int_equal(store_criteria_set(st, "daily", crit, strlen(crit),
	    &bob), 0);
	assert_int_equal(store_scenario_create(st, "os-nosdn", &bob), 0);
	assert_int_equal(store_scenario_set(st, "os-nosdn", "{}", 2, &bob),
	    -EINVAL);
	assert_int_equal(store_scenario_set(st, "os-nosdn", scen, strlen(scen),
	    &bob), 0);
	assert_int_equal(store_release_create(st, "r1", &bob), 0);
	assert_int_equal(store_release_set(st, "r1", "{}", 2, &bob), -EINVAL);
	assert_int_equal(store_release_set(st, "r1", rel, strlen(rel), &bob),
	    0);
	assert_int_equal(store_participant_add(st, "r1", "nope", "x", 1, &bob),
	    -EINVAL);
	assert_int_equal(store_participant_add(st, "r1", "os-nosdn", "me", 2,
	    &bob), 0);

	/* neither project promoted yet */
	assert_int_equal(store_release_status(st, "r1", &s), 0);
	assert_false(json_is_true(json_object_get(json_object_get(
	    json_object_get(s, "participants"), "os-nosdn"), "ready")));
	assert_int_equal(json_array_size(json_object_get(json_object_get(
	    json_object_get(s, "participants"), "os-nosdn"), "unmet")), 2);
	json_decref(s);

	/* promoted, but the common rule "extra" is missing for functest */
	result(st, "artifacts/fuel/1", "smoke", "PASS");
	result(st, "artifacts/functest/1", "smoke", "PASS");
	result(st, "artifacts/fuel/1", "extra", "PASS");
	assert_int_equal(store_release_status(st, "r1", &s), 0);
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    json_object_get(json_object_get(json_object_get(s,
	    "participants"), "os-nosdn"), "unmet"), 0), "type")),
	    "result-missing");
	json_decref(s);

	result(st, "artifacts/functest/1", "extra", "PASS");
	assert_int_equal(store_release_status(st, "r1", &s), 0);
	assert_true(json_is_true(json_object_get(json_object_get(
	    json_object_get(s, "participants"), "os-nosdn"), "ready")));
	json_decref(s);
	assert_int_equal(store_release_freeze(st, "r1", &bob), 0);
	assert_int_equal(store_release_freeze(st, "r1", &bob), -EEXIST);
	assert_int_equal(store_participant_withdraw(st, "r1", "os-nosdn",
	    &bob), -EROFS);

	assert_int_equal(store_scenario_status(st, "os-nosdn", &s), 0);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(s,
	    "scores"), "smoke")), 2);
	json_decref(s);
	store_close(st);
	tmpdir_free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scores),
		cmocka_unit_test(test_readiness),
	};

	users_unnamed(&bob, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

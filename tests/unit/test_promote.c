/*
 * Unit tests of evaluation and promotion (promote.c), approvals and
 * waivers (approval.c), holds (stage.c), access (access.c) and the events
 * each change leaves (events.c), on a real store.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "store.h"

/* the owner and another user: uids without a name, found at start */
static struct store_user alice = { 0, 0, "alice", 0, { 0 } };
static struct store_user bob = { 0, 0, "bob", 0, { 0 } };

static int
setup(void **state)
{
	struct store_env *e = store_env_new(&alice);

	assert_non_null(e);
	assert_int_equal(store_env_publish(e, &alice, "apex", "1.0"), 0);
	*state = e;
	return 0;
}

static int
teardown(void **state)
{
	store_env_free(*state);
	return 0;
}

static void
stage(struct store_env *e, const char *name, const char *criteria)
{
	assert_int_equal(store_stage_create(e->st, name, &alice), 0);
	assert_int_equal(store_criteria_set(e->st, name, criteria,
	    strlen(criteria), &alice), 0);
}

static void
result(struct store_env *e, const char *name, const char *outcome)
{
	uint64_t no;

	assert_int_equal(store_result_add(e->st, e->art, name, outcome,
	    strlen(outcome), &alice, &no), 0);
}

/* Is apex/1.0 in stages/<s>/ (the tree shows what was promoted)? */
static int
promoted(struct store_env *e, const char *s)
{
	char path[300];
	struct node n;
	uint64_t ino;

	snprintf(path, sizeof(path), "stages/%s/apex/1.0", s);
	return store_resolve(e->st, path, &ino, &n) == 0;
}

/* The types of what keeps apex/1.0 from s, joined by spaces. */
static void
unmet(struct store_env *e, const char *s, char *out, size_t len)
{
	json_t *st, *v;
	size_t i;

	assert_int_equal(store_status(e->st, e->art, &st), 0);
	out[0] = '\0';
	json_array_foreach(json_object_get(json_object_get(json_object_get(st,
	    "stages"), s), "unmet"), i, v)
		snprintf(out + strlen(out), len - strlen(out), "%s%s",
		    i ? " " : "", json_string_value(json_object_get(v, "type")));
	json_decref(st);
}

struct types {
	char buf[2000];
};

static int
event_type(void *arg, uint64_t seq, const char *json, size_t len)
{
	struct types *t = arg;
	json_t *j = json_loadb(json, len, 0, NULL);

	(void)seq;
	snprintf(t->buf + strlen(t->buf), sizeof(t->buf) - strlen(t->buf),
	    "%s%s", t->buf[0] ? " " : "",
	    json_string_value(json_object_get(j, "type")));
	json_decref(j);
	return 0;
}

/* decide: a failed run is unmet, the passing one promotes; the events */
static void
test_decide_and_promote(void **state)
{
	struct store_env *e = *state;
	struct types t = { "" };
	char why[200];

	stage(e, "daily", "{\"require\": [{\"testcase\": \"vping\"}]}");
	unmet(e, "daily", why, sizeof(why));
	assert_string_equal(why, "result-missing");
	result(e, "vping", "FAIL");
	unmet(e, "daily", why, sizeof(why));
	assert_string_equal(why, "result-failed");
	assert_false(promoted(e, "daily"));
	result(e, "vping", "PASS");
	assert_true(promoted(e, "daily"));
	assert_int_equal(store_events(e->st, 0, event_type, &t), 0);
	assert_string_equal(t.buf, "artifact.published stage.created "
	    "criteria.changed run.recorded run.recorded promoted");
}

/* cascade: a stage "after" another follows it at once */
static void
test_cascade(void **state)
{
	struct store_env *e = *state;
	char why[200];

	stage(e, "daily", "{\"require\": [{\"testcase\": \"vping\"}]}");
	stage(e, "weekly", "{\"after\": \"daily\", \"require\": "
	    "[{\"testcase\": \"vping\"}]}");
	unmet(e, "weekly", why, sizeof(why));
	assert_string_equal(why, "result-missing previous-stage-missing");
	result(e, "vping", "PASS");
	assert_true(promoted(e, "daily"));
	assert_true(promoted(e, "weekly"));
}

/* revoke takes it out of the stage for good; restore puts it back */
static void
test_revoke_restore(void **state)
{
	struct store_env *e = *state;
	char why[200];

	stage(e, "daily", "{\"require\": [{\"testcase\": \"vping\"}]}");
	result(e, "vping", "PASS");
	assert_true(promoted(e, "daily"));
	assert_int_equal(store_revoke(e->st, "daily", "apex", "1.0", &alice),
	    0);
	assert_false(promoted(e, "daily"));
	unmet(e, "daily", why, sizeof(why));
	assert_string_equal(why, "revoked");
	/* a new passing run does not bring it back */
	result(e, "vping", "PASS");
	assert_false(promoted(e, "daily"));
	assert_int_equal(store_revoke(e->st, "daily", "apex", "1.0", &alice),
	    -ENOENT);
	assert_int_equal(store_restore(e->st, "daily", "apex", "1.0", &alice),
	    0);
	assert_true(promoted(e, "daily"));
	assert_int_equal(store_revoke(e->st, "daily", "apex", "1.0", &bob),
	    -EACCES);
	assert_non_null(strstr(store_errmsg(), "needs the 'manager' role"));
}

/*
 * a revoke goes down the stages after it: each loses the artifact too, with
 * the reason, an event each, in one change; restore brings back one stage
 */
static void
test_revoke_cascade(void **state)
{
	struct store_env *e = *state;
	struct types t = { "" };
	uint64_t before = 0;
	char why[200];

	stage(e, "daily", "{\"require\": [{\"testcase\": \"vping\"}]}");
	stage(e, "weekly", "{\"after\": \"daily\", \"require\": "
	    "[{\"testcase\": \"vping\"}]}");
	stage(e, "ga", "{\"after\": \"weekly\", \"require\": "
	    "[{\"testcase\": \"vping\"}]}");
	stage(e, "other", "{\"require\": [{\"testcase\": \"vping\"}]}");
	result(e, "vping", "PASS");
	assert_true(promoted(e, "ga"));
	assert_int_equal(store_events(e->st, 0, event_type, &t), 0);
	before = strlen(t.buf);
	assert_int_equal(store_revoke(e->st, "daily", "apex", "1.0", &alice),
	    0);
	assert_false(promoted(e, "daily"));
	assert_false(promoted(e, "weekly"));
	assert_false(promoted(e, "ga"));
	assert_true(promoted(e, "other"));
	unmet(e, "ga", why, sizeof(why));
	assert_string_equal(why, "revoked previous-stage-missing");
	t.buf[0] = '\0';
	assert_int_equal(store_events(e->st, 0, event_type, &t), 0);
	assert_string_equal(t.buf + before, " revoked revoked revoked");
	/* revoking what the cascade took is ENOENT: it is revoked */
	assert_int_equal(store_revoke(e->st, "weekly", "apex", "1.0", &alice),
	    -ENOENT);
	assert_int_equal(store_restore(e->st, "weekly", "apex", "1.0",
	    &alice), 0);
	assert_true(promoted(e, "weekly"));
	assert_false(promoted(e, "daily"));
	assert_false(promoted(e, "ga"));
	/* restore daily: what its revoke took further down is evaluated
	 * again, and comes back where its criteria are met */
	assert_int_equal(store_restore(e->st, "daily", "apex", "1.0", &alice),
	    0);
	assert_true(promoted(e, "daily"));
	assert_true(promoted(e, "ga"));
}

/* a stage after several: every one must hold it (fork and join) */
static void
test_after_several(void **state)
{
	struct store_env *e = *state;
	const char *loop = "{\"after\": [\"release\"], \"require\": []}";
	char why[200];

	stage(e, "smoke", "{\"require\": [{\"testcase\": \"vping\"}]}");
	stage(e, "perf", "{\"require\": [{\"testcase\": \"rally\"}]}");
	stage(e, "release", "{\"after\": [\"smoke\", \"perf\"], "
	    "\"require\": [{\"testcase\": \"vping\"}]}");
	result(e, "vping", "PASS");
	assert_true(promoted(e, "smoke"));
	assert_false(promoted(e, "release"));
	unmet(e, "release", why, sizeof(why));
	assert_string_equal(why, "previous-stage-missing");
	result(e, "rally", "PASS");
	assert_true(promoted(e, "perf"));
	assert_true(promoted(e, "release"));
	/* a cycle through one of them is refused */
	assert_int_equal(store_criteria_set(e->st, "perf", loop, strlen(loop),
	    &alice), -EINVAL);
	assert_non_null(strstr(store_errmsg(), "makes a cycle"));
	/* a revoke from one of them goes down to the join */
	assert_int_equal(store_revoke(e->st, "perf", "apex", "1.0", &alice),
	    0);
	assert_false(promoted(e, "release"));
	assert_true(promoted(e, "smoke"));
}

/* a stage for some projects: others are never promoted there nor shown it */
static void
test_stage_projects(void **state)
{
	struct store_env *e = *state;
	json_t *s;

	stage(e, "fuel-only", "{\"projects\": [\"fuel*\"], \"require\": "
	    "[{\"testcase\": \"vping\"}]}");
	stage(e, "ours", "{\"projects\": [\"compass\", \"ap*\"], "
	    "\"require\": [{\"testcase\": \"vping\"}]}");
	result(e, "vping", "PASS");
	assert_false(promoted(e, "fuel-only"));
	assert_true(promoted(e, "ours"));
	assert_int_equal(store_status(e->st, e->art, &s), 0);
	assert_null(json_object_get(json_object_get(s, "stages"), "fuel-only"));
	assert_non_null(json_object_get(json_object_get(s, "stages"), "ours"));
	assert_int_equal(json_array_size(json_object_get(s, "order")), 1);
	json_decref(s);
	/* an empty list or a non-name is refused */
	{
		const char *bad = "{\"projects\": []}";

		assert_int_equal(store_criteria_set(e->st, "ours", bad,
		    strlen(bad), &alice), -EINVAL);
	}
}

/* approvals: two different people; the same one twice counts once */
static void
test_approvals(void **state)
{
	struct store_env *e = *state;
	struct store_user root = { 0, 0, "root", 0, { 0 } };
	char why[200];

	stage(e, "prod", "{\"approvals\": 2, \"require\": [{\"testcase\": "
	    "\"vping\"}]}");
	result(e, "vping", "PASS");
	unmet(e, "prod", why, sizeof(why));
	assert_string_equal(why, "approval-missing");
	assert_int_equal(store_approve(e->st, e->art, "prod", "ok", 2,
	    &alice), 0);
	assert_int_equal(store_approve(e->st, e->art, "prod", "ok", 2,
	    &alice), 0);
	assert_false(promoted(e, "prod"));
	/* bob holds no role until the approver role is mapped to his group */
	assert_int_equal(store_approve(e->st, e->art, "prod", "ok", 2, &bob),
	    -EACCES);
	assert_false(promoted(e, "prod"));
	assert_int_equal(store_approve(e->st, e->art, "nosuch", "ok", 2,
	    &alice), -EINVAL);
	assert_int_equal(store_approve(e->st, e->art, "prod", "ok", 2, &root),
	    0);
	assert_true(promoted(e, "prod"));
}

/* an approval withdrawn: its own by its approver, anyone's by a manager */
static void
test_approval_withdraw(void **state)
{
	struct store_env *e = *state;
	char why[200];

	assert_int_equal(store_config_set(e->st, STORE_ROLE_APPROVER, NULL, 0,
	    &alice), 0);
	stage(e, "weekly", "{\"approvals\": 2, \"require\": "
	    "[{\"testcase\": \"vping\"}]}");
	result(e, "vping", "PASS");
	assert_int_equal(store_approve(e->st, e->art, "weekly", "ok", 2,
	    &alice), 0);
	assert_int_equal(store_approval_withdraw(e->st, e->art, "weekly", NULL,
	    &alice), 0);
	assert_int_equal(store_approval_withdraw(e->st, e->art, "weekly", NULL,
	    &alice), -ENOENT);
	unmet(e, "weekly", why, sizeof(why));
	assert_string_equal(why, "approval-missing");
	/* another's, by name: the owner holds the manager role */
	assert_int_equal(store_approve(e->st, e->art, "weekly", "ok", 2,
	    &alice), 0);
	assert_int_equal(store_approval_withdraw(e->st, e->art, "weekly",
	    "alice", &alice), 0);
	assert_int_equal(store_approval_withdraw(e->st, e->art, "weekly",
	    "nobody", &alice), -ENOENT);
	/* without a role: refused */
	assert_int_equal(store_approval_withdraw(e->st, e->art, "weekly",
	    "alice", &bob), -EACCES);
}

/* a waiver lets a failing test case pass; withdrawn, it counts again */
static void
test_waivers(void **state)
{
	struct store_env *e = *state;
	char why[200];

	stage(e, "daily", "{\"require\": [{\"testcase\": \"vping\"}, "
	    "{\"testcase\": \"flaky\"}]}");
	result(e, "vping", "PASS");
	result(e, "flaky", "FAIL");
	assert_false(promoted(e, "daily"));
	assert_int_equal(store_waive(e->st, e->art, "flaky", "", 0, &alice),
	    -EINVAL);
	assert_non_null(strstr(store_errmsg(), "give a reason"));
	{
		const char *bad = "{\"reason\": \"x\", \"expires\": \"soon\"}";

		assert_int_equal(store_waive(e->st, e->art, "flaky", bad,
		    strlen(bad), &alice), -EINVAL);
	}
	assert_int_equal(store_waive(e->st, e->art, "flaky", "known bug", 9,
	    &alice), 0);
	assert_true(promoted(e, "daily"));
	/* on a second stage, withdrawn before it is met */
	stage(e, "weekly", "{\"require\": [{\"testcase\": \"flaky\"}], "
	    "\"automatic\": false}");
	assert_int_equal(store_waiver_withdraw(e->st, e->art, "flaky", &alice),
	    0);
	assert_int_equal(store_waiver_withdraw(e->st, e->art, "flaky", &alice),
	    -ENOENT);
	unmet(e, "weekly", why, sizeof(why));
	assert_string_equal(why, "result-failed");
	/* a promotion stays: the waiver was good when it was made */
	assert_true(promoted(e, "daily"));
}

/* a hold stops promotion into the stage; its end lets it happen */
static void
test_hold(void **state)
{
	struct store_env *e = *state;
	char why[200];

	stage(e, "daily", "{\"require\": [{\"testcase\": \"vping\"}]}");
	assert_int_equal(store_hold(e->st, "daily", "freeze", 6, &alice), 0);
	result(e, "vping", "PASS");
	assert_false(promoted(e, "daily"));
	unmet(e, "daily", why, sizeof(why));
	assert_string_equal(why, "stage-held");
	assert_int_equal(store_release(e->st, "daily", &alice), 0);
	assert_true(promoted(e, "daily"));
	assert_int_equal(store_release(e->st, "daily", &alice), -ENOENT);
}

/*
 * a soak ends by itself: store_wake promotes once the time has passed. The
 * soak is long enough (3 s) that a slow (sanitised) run still sees it begin.
 */
static void
test_wake(void **state)
{
	struct store_env *e = *state;
	char why[200];
	int64_t next = 0;

	stage(e, "daily", "{\"require\": [{\"testcase\": \"vping\"}]}");
	stage(e, "weekly", "{\"after\": \"daily\", \"soak\": \"3s\", "
	    "\"require\": [{\"testcase\": \"vping\"}]}");
	result(e, "vping", "PASS");
	assert_true(promoted(e, "daily"));
	assert_false(promoted(e, "weekly"));
	unmet(e, "weekly", why, sizeof(why));
	assert_string_equal(why, "soaking");
	assert_int_equal(store_wake(e->st, &next), 0);
	assert_true(next > 0);
	for (int i = 0; i < 60 && !promoted(e, "weekly"); i++) {
		usleep(100000);
		assert_int_equal(store_wake(e->st, &next), 0);
	}
	assert_true(promoted(e, "weekly"));
}

/* manual stages: met is not enough, store_promote is the step */
static void
test_manual_promote(void **state)
{
	struct store_env *e = *state;

	stage(e, "prod", "{\"automatic\": false, \"require\": [{\"testcase\": "
	    "\"vping\"}]}");
	assert_int_equal(store_promote(e->st, "prod", "apex", "1.0", &alice),
	    -EPERM);
	result(e, "vping", "PASS");
	assert_false(promoted(e, "prod"));
	assert_int_equal(store_promote(e->st, "prod", "apex", "1.0", &bob),
	    -EACCES);
	assert_int_equal(store_promote(e->st, "prod", "apex", "1.0", &alice),
	    0);
	assert_true(promoted(e, "prod"));
	assert_int_equal(store_promote(e->st, "prod", "apex", "9", &alice),
	    -ENOENT);
}

/* a status's size at stat is always what a read would give, after changes */
static void
test_status_size(void **state)
{
	struct store_env *e = *state;
	char *buf;
	size_t len;
	uint64_t ino, size, first = 0;
	struct node n;

	stage(e, "daily", "{\"require\": [{\"testcase\": \"vping\"}]}");
	assert_int_equal(store_resolve(e->st, "artifacts/apex/1.0/status", &ino,
	    &n), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(store_dynamic_size(e->st, ino, &n, &size), 0);
		assert_int_equal(store_dynamic_text(e->st, ino, &n, &buf, &len),
		    0);
		free(buf);
		assert_int_equal(size, len);
		/* asked again at once: the same answer (kept) */
		assert_int_equal(store_dynamic_size(e->st, ino, &n, &size), 0);
		assert_int_equal(size, len);
		if (i == 0)
			first = size;
		/* a change in between: the new size, never the kept one */
		result(e, i == 2 ? "vping" : "other", i == 2 ? "PASS" : "FAIL");
		assert_int_equal(store_dynamic_size(e->st, ino, &n, &size), 0);
		assert_int_equal(store_dynamic_text(e->st, ino, &n, &buf, &len),
		    0);
		free(buf);
		assert_int_equal(size, len);
	}
	assert_true(promoted(e, "daily"));
	/* the promotion changed the status: the size followed */
	assert_int_not_equal(size, first);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_decide_and_promote, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_cascade, setup, teardown),
		cmocka_unit_test_setup_teardown(test_revoke_restore, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_revoke_cascade, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_after_several, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_stage_projects, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_approvals, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_approval_withdraw, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_waivers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hold, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wake, setup, teardown),
		cmocka_unit_test_setup_teardown(test_manual_promote, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_status_size, setup,
		    teardown),
	};

	users_unnamed(&alice, &bob);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests of the criteria evaluator: every rule kind, globs, where,
 * golden, waivers and their expiry, approvals, soak, hold, revoke. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "crit.h"

#define NOW 1800000000

static json_t *
J(const char *text)
{
	json_t *j = json_loads(text, 0, NULL);

	assert_non_null(j);
	return j;
}

/* Evaluate criteria text over runs; return the decision. */
static json_t *
eval(const char *criteria, const struct crit_run *runs, size_t n,
    struct crit_input *extra)
{
	struct crit_input in = { 0 };
	json_t *out = NULL;

	if (extra)
		in = *extra;
	in.layers[0] = J(criteria);
	assert_int_equal(crit_check(in.layers[0]), 0);
	in.runs = runs;
	in.nruns = n;
	in.scenario = in.scenario ? in.scenario : "os-nosdn-nofeature-ha";
	in.now = in.now ? in.now : NOW;
	assert_int_equal(crit_eval(&in, &out), 0);
	json_decref(in.layers[0]);
	return out;
}

/* crit_check of a criteria text. */
static int
check_text(const char *text)
{
	json_t *j = J(text);
	int rc = crit_check(j);

	json_decref(j);
	return rc;
}

static int
promoted(json_t *d)
{
	return json_is_true(json_object_get(d, "promote"));
}

/* The type of unmet item i ("" when there is none). */
static const char *
unmet(json_t *d, size_t i)
{
	const char *t = json_string_value(json_object_get(json_array_get(
	    json_object_get(d, "unmet"), i), "type"));

	return t ? t : "";
}

#define RUN(tc, ok, no) { tc, ok, no, NOW - 1000 + (no), "pod1", "fuel", \
	"os-nosdn-nofeature-ha", NULL, 0 }

static void
test_check(void **state)
{
	int64_t s;

	(void)state;
	assert_int_equal(check_text("{\"require\": [{\"testcase\": \"a\"}]}"), 0);
	assert_int_equal(check_text("{\"colour\": 1}"), -EINVAL);
	assert_int_equal(check_text("{\"soak\": \"1y\"}"), -EINVAL);
	/* after: a stage, or a list of up to 16 */
	assert_int_equal(check_text("{\"after\": \"a\"}"), 0);
	assert_int_equal(check_text("{\"after\": [\"a\", \"b\"]}"), 0);
	assert_int_equal(check_text("{\"after\": []}"), -EINVAL);
	assert_int_equal(check_text("{\"after\": [\"a\", 2]}"), -EINVAL);
	assert_int_equal(check_text("{\"after\": [\"a/b\"]}"), -EINVAL);
	assert_int_equal(check_text("{\"after\": [\"1\", \"2\", \"3\", "
	    "\"4\", \"5\", \"6\", \"7\", \"8\", \"9\", \"10\", \"11\", "
	    "\"12\", \"13\", \"14\", \"15\", \"16\", \"17\"]}"), -EINVAL);
	assert_int_equal(check_text("{\"require\": [{\"consecutive\": 4}]}"),
	    -EINVAL);
	assert_int_equal(check_text("{\"require\": [{\"testcase\": \"a\", "
	    "\"consecutive\": 4, \"pass\": 1, \"of\": 2}]}"), -EINVAL);
	assert_int_equal(check_text("{\"require\": [{\"testcase\": \"a\", "
	    "\"pass\": 3, \"of\": 2}]}"), -EINVAL);
	assert_int_equal(check_text("{\"require\": [{\"testcase\": \"a\", "
	    "\"ratio\": 0.9}]}"), -EINVAL);
	assert_int_equal(check_text("{\"require\": [{\"testcase\": \"a\", "
	    "\"where\": {\"rack\": \"x\"}}]}"), -EINVAL);
	assert_int_equal(crit_duration("24h", &s), 0);
	assert_int_equal(s, 86400);
	assert_int_equal(crit_duration("2d", &s), 0);
	assert_int_equal(s, 172800);
	assert_int_equal(crit_duration("90", &s), 0);
	assert_int_equal(s, 90);
	assert_int_equal(crit_duration("h", &s), -EINVAL);
	/* overflow and more than ten years are refused, not wrapped */
	assert_int_equal(crit_duration("106751991167301d", &s), -ERANGE);
	assert_int_equal(crit_duration("99999999999999999999", &s), -EINVAL);
	assert_int_equal(crit_duration("3661d", &s), -ERANGE);
	assert_int_equal(crit_duration("3660d", &s), 0);
	assert_int_equal(s, 3660LL * 86400);
	assert_int_equal(crit_duration("-5s", &s), -EINVAL);
	assert_int_equal(crit_duration(" 5s", &s), -EINVAL);
}

static void
test_latest(void **state)
{
	struct crit_run runs[] = { RUN("vping", 0, 1), RUN("vping", 1, 2) };
	json_t *d;

	(void)state;
	d = eval("{\"require\": [{\"testcase\": \"vping\"}]}", runs, 2, NULL);
	assert_true(promoted(d));
	assert_int_equal(json_integer_value(json_array_get(json_object_get(
	    json_array_get(json_object_get(d, "evidence"), 0), "runs"), 0)), 2);
	json_decref(d);
	d = eval("{\"require\": [{\"testcase\": \"vping\"}]}", runs, 1, NULL);
	assert_false(promoted(d));
	assert_string_equal(unmet(d, 0), "result-failed");
	json_decref(d);
	d = eval("{\"require\": [{\"testcase\": \"tempest\"}]}", runs, 2, NULL);
	assert_string_equal(unmet(d, 0), "result-missing");
	json_decref(d);
}

static void
test_consecutive(void **state)
{
	struct crit_run runs[] = { RUN("t", 1, 1), RUN("t", 0, 2),
	    RUN("t", 1, 3), RUN("t", 1, 4), RUN("t", 1, 5), RUN("t", 1, 6) };
	const char *c = "{\"require\": [{\"testcase\": \"t\", \"consecutive\": 4}]}";
	json_t *d;

	(void)state;
	d = eval(c, runs, 6, NULL);
	assert_true(promoted(d));
	json_decref(d);
	d = eval(c, runs, 5, NULL);	/* 2 failed within the last 4 */
	assert_string_equal(unmet(d, 0), "result-failed");
	json_decref(d);
	d = eval(c, runs, 1, NULL);	/* one pass: not enough */
	assert_string_equal(unmet(d, 0), "not-enough-runs");
	json_decref(d);
}

static void
test_pass_of_and_ratio(void **state)
{
	struct crit_run runs[] = { RUN("f", 1, 1), RUN("f", 0, 2),
	    RUN("f", 1, 3), RUN("f", 0, 4), RUN("f", 1, 5) };
	json_t *d;

	(void)state;
	d = eval("{\"require\": [{\"testcase\": \"f\", \"pass\": 3, \"of\": 5}]}",
	    runs, 5, NULL);
	assert_true(promoted(d));
	json_decref(d);
	d = eval("{\"require\": [{\"testcase\": \"f\", \"pass\": 3, \"of\": 4}]}",
	    runs, 5, NULL);
	assert_string_equal(unmet(d, 0), "result-failed");
	json_decref(d);
	d = eval("{\"require\": [{\"testcase\": \"f\", \"pass\": 3, \"of\": 5}]}",
	    runs, 2, NULL);
	assert_string_equal(unmet(d, 0), "not-enough-runs");
	json_decref(d);
	d = eval("{\"require\": [{\"testcase\": \"f\", \"ratio\": 0.6, "
	    "\"min_runs\": 5}]}", runs, 5, NULL);
	assert_true(promoted(d));
	json_decref(d);
	d = eval("{\"require\": [{\"testcase\": \"f\", \"ratio\": 0.7, "
	    "\"min_runs\": 5}]}", runs, 5, NULL);
	assert_string_equal(unmet(d, 0), "result-failed");
	json_decref(d);
	d = eval("{\"require\": [{\"testcase\": \"f\", \"ratio\": 0.5, "
	    "\"min_runs\": 6}]}", runs, 5, NULL);
	assert_string_equal(unmet(d, 0), "not-enough-runs");
	json_decref(d);
}

static void
test_globs_and_where(void **state)
{
	struct crit_run runs[] = { RUN("tempest_smoke", 1, 1),
	    RUN("tempest_full", 0, 2), RUN("vping", 1, 3) };
	json_t *d;

	(void)state;
	/* every matching test case must satisfy the rule */
	d = eval("{\"require\": [{\"testcase\": \"tempest_*\"}]}", runs, 3, NULL);
	assert_false(promoted(d));
	assert_string_equal(unmet(d, 0), "result-failed");
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    json_object_get(d, "unmet"), 0), "testcase")), "tempest_full");
	json_decref(d);
	d = eval("{\"require\": [{\"testcase\": \"tempest_s*\"}]}", runs, 3, NULL);
	assert_true(promoted(d));
	json_decref(d);
	/* a glob needs at least one test case */
	d = eval("{\"require\": [{\"testcase\": \"rally_*\"}]}", runs, 3, NULL);
	assert_string_equal(unmet(d, 0), "result-missing");
	json_decref(d);
	/* only matching runs count */
	runs[2].pod = "lf-pod4";
	d = eval("{\"require\": [{\"testcase\": \"vping\", \"where\": "
	    "{\"pod\": \"ericsson-*\"}}]}", runs, 3, NULL);
	assert_string_equal(unmet(d, 0), "result-missing");
	json_decref(d);
	d = eval("{\"require\": [{\"testcase\": \"vping\", \"where\": "
	    "{\"pod\": \"lf-*\", \"installer\": \"fuel\"}}]}", runs, 3, NULL);
	assert_true(promoted(d));
	json_decref(d);
}

static int
golden_daily(void *arg, const char *platform, const char *stage)
{
	(void)arg;
	return strcmp(platform, "fuel/9") == 0 && strcmp(stage, "daily") == 0;
}

static void
test_golden(void **state)
{
	struct crit_run runs[] = { RUN("healthcheck", 1, 1),
	    RUN("healthcheck", 1, 2) };
	struct crit_input x = { 0 };
	const char *c = "{\"require\": [{\"testcase\": \"healthcheck\", "
	    "\"golden\": \"daily\"}]}";
	json_t *d;

	(void)state;
	x.golden = golden_daily;
	runs[0].platform = "fuel/8";
	d = eval(c, runs, 1, &x);
	assert_string_equal(unmet(d, 0), "result-missing");
	json_decref(d);
	runs[1].platform = "fuel/9";
	d = eval(c, runs, 2, &x);
	assert_true(promoted(d));
	json_decref(d);
}

static void
test_waivers(void **state)
{
	struct crit_run runs[] = { RUN("flaky", 0, 1) };
	struct crit_waiver w = { "flaky", "known bug 123", NULL, 0, "bob" };
	struct crit_input x = { 0 };
	const char *c = "{\"require\": [{\"testcase\": \"flaky\"}, "
	    "{\"testcase\": \"missing\"}]}";
	struct crit_waiver both[2];
	json_t *d;

	(void)state;
	x.waivers = &w;
	x.nwaivers = 1;
	d = eval(c, runs, 1, &x);
	assert_false(promoted(d));	/* "missing" is not waived */
	assert_string_equal(unmet(d, 0), "result-missing");
	assert_string_equal(unmet(d, 1), "");
	json_decref(d);
	both[0] = w;
	both[1] = w;
	both[1].testcase = "missing";
	x.waivers = both;
	x.nwaivers = 2;
	d = eval(c, runs, 1, &x);
	assert_true(promoted(d));
	json_decref(d);
	/* expired, or for another scenario: no longer counts */
	both[0].expires = NOW - 1;
	d = eval(c, runs, 1, &x);
	assert_string_equal(unmet(d, 0), "result-failed");
	json_decref(d);
	both[0].expires = NOW + 60;
	assert_int_equal(crit_next_wakeup(&(struct crit_input){ .waivers = both,
	    .nwaivers = 2, .now = NOW }), NOW + 60);
	both[0].scenario = "k8-*";
	d = eval(c, runs, 1, &x);
	assert_string_equal(unmet(d, 0), "result-failed");
	json_decref(d);
}

/* an unmet reason's label names its test case, or its project, or neither */
static void
test_unmet_label(void **state)
{
	json_t *tc = json_pack("{s:s,s:s,s:s}", "type", "result-failed",
	    "testcase", "vping", "detail", "x");
	json_t *pr = json_pack("{s:s,s:s}", "type", "not-promoted", "project",
	    "fuel");
	json_t *bare = json_pack("{s:s}", "type", "soaking");
	char buf[64], tiny[8];

	(void)state;
	assert_string_equal(crit_unmet_label(tc, "testcase", buf, sizeof(buf)),
	    "result-failed vping");
	assert_string_equal(crit_unmet_label(pr, "project", buf, sizeof(buf)),
	    "not-promoted fuel");
	assert_string_equal(crit_unmet_label(bare, "testcase", buf, sizeof(buf)),
	    "soaking");
	assert_string_equal(crit_unmet_label(tc, "testcase", tiny, sizeof(tiny)),
	    "result-");
	json_decref(tc);
	json_decref(pr);
	json_decref(bare);
}

static void
test_approvals_soak_hold(void **state)
{
	struct crit_approval ap[] = { { 1001, "alice", NOW }, { 1001, "alice",
	    NOW }, { 1002, "bob", NOW } };
	struct crit_input x = { 0 };
	json_t *d;

	(void)state;
	x.approvals = ap;
	x.napprovals = 2;	/* one person twice counts once */
	d = eval("{\"approvals\": 2}", NULL, 0, &x);
	assert_string_equal(unmet(d, 0), "approval-missing");
	json_decref(d);
	x.napprovals = 3;
	d = eval("{\"approvals\": 2}", NULL, 0, &x);
	assert_true(promoted(d));
	json_decref(d);

	d = eval("{\"after\": \"merge\", \"soak\": \"1h\"}", NULL, 0, &x);
	assert_string_equal(unmet(d, 0), "previous-stage-missing");
	json_decref(d);
	x.after_promoted = 1;
	x.after_at = NOW - 600;
	d = eval("{\"after\": \"merge\", \"soak\": \"1h\"}", NULL, 0, &x);
	assert_string_equal(unmet(d, 0), "soaking");
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    json_object_get(d, "unmet"), 0), "detail")), "3000 s left in merge");
	json_decref(d);
	x.after_at = NOW - 3600;
	d = eval("{\"after\": \"merge\", \"soak\": \"1h\"}", NULL, 0, &x);
	assert_true(promoted(d));
	json_decref(d);

	x.hold = "broken lab";
	d = eval("{}", NULL, 0, &x);
	assert_string_equal(unmet(d, 0), "stage-held");
	json_decref(d);
	x.hold = NULL;
	x.revoked = 1;
	d = eval("{}", NULL, 0, &x);
	assert_string_equal(unmet(d, 0), "revoked");
	json_decref(d);
}

static void
test_layers_all_apply(void **state)
{
	struct crit_run runs[] = { RUN("a", 1, 1), RUN("b", 0, 2) };
	struct crit_input in = { 0 };
	json_t *d;

	(void)state;
	in.layers[0] = J("{\"require\": [{\"testcase\": \"a\"}]}");
	in.layers[1] = J("{\"require\": [{\"testcase\": \"b\"}]}");
	in.runs = runs;
	in.nruns = 2;
	in.scenario = "";
	in.now = NOW;
	assert_int_equal(crit_eval(&in, &d), 0);
	assert_false(promoted(d));
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    json_object_get(d, "unmet"), 0), "testcase")), "b");
	json_decref(d);
	json_decref(in.layers[0]);
	json_decref(in.layers[1]);
}

/*
 * Runs handed over in any order (an import mixes times): the latest is the
 * latest by time, then run number, and a glob's test cases are reported in
 * the order they were first run.
 */
static void
test_any_order(void **state)
{
	/* the index's order: by test case, then run number */
	struct crit_run runs[] = { RUN("a", 1, 3), RUN("b", 0, 1),
		RUN("c", 0, 4), RUN("c", 1, 2) };
	json_t *d, *u;

	(void)state;
	/* c's run 2 passed but came before run 4, which failed */
	runs[3].time = runs[2].time - 10;
	d = eval("{\"require\": [{\"testcase\": \"c\"}]}", runs, 4, NULL);
	assert_false(promoted(d));
	assert_string_equal(unmet(d, 0), "result-failed");
	json_decref(d);
	/* now run 2 is the later one (an import with an older run 4) */
	runs[3].time = runs[2].time + 10;
	d = eval("{\"require\": [{\"testcase\": \"c\"}]}", runs, 4, NULL);
	assert_true(promoted(d));
	json_decref(d);
	/* b first ran at 1, c at 2 (run 4 is older now), a at 3 */
	runs[2].time = runs[1].time - 100;
	d = eval("{\"require\": [{\"testcase\": \"*\", \"consecutive\": 2}]}",
	    runs, 4, NULL);
	u = json_object_get(d, "unmet");
	assert_int_equal(json_array_size(u), 3);
	assert_string_equal(json_string_value(json_object_get(json_array_get(u,
	    0), "testcase")), "c");
	assert_string_equal(json_string_value(json_object_get(json_array_get(u,
	    1), "testcase")), "b");
	assert_string_equal(json_string_value(json_object_get(json_array_get(u,
	    2), "testcase")), "a");
	json_decref(d);
}

/* ERROR is a failure that says so; SKIP runs never reach evaluation */
static void
test_error(void **state)
{
	struct crit_run runs[] = { RUN("t", 1, 1), RUN("t", 0, 2),
	    RUN("t", 0, 3) };
	const char *latest = "{\"require\": [{\"testcase\": \"t\"}]}";
	const char *two = "{\"require\": [{\"testcase\": \"t\", "
	    "\"consecutive\": 2}]}";
	json_t *d;

	(void)state;
	runs[1].error = 1;
	d = eval(latest, runs, 2, NULL);
	assert_string_equal(unmet(d, 0), "result-failed");
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    json_object_get(d, "unmet"), 0), "detail")),
	    "the latest run (2) ended in an error");
	json_decref(d);
	d = eval(two, runs, 2, NULL);
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    json_object_get(d, "unmet"), 0), "detail")),
	    "a run among the last 2 ended in an error");
	json_decref(d);
	/* a plain failure beside the error: "failed" */
	d = eval(two, runs + 1, 2, NULL);
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    json_object_get(d, "unmet"), 0), "detail")),
	    "a run among the last 2 failed");
	json_decref(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_latest),
		cmocka_unit_test(test_consecutive),
		cmocka_unit_test(test_pass_of_and_ratio),
		cmocka_unit_test(test_globs_and_where),
		cmocka_unit_test(test_golden),
		cmocka_unit_test(test_waivers),
		cmocka_unit_test(test_approvals_soak_hold),
		cmocka_unit_test(test_unmet_label),
		cmocka_unit_test(test_layers_all_apply),
		cmocka_unit_test(test_any_order),
		cmocka_unit_test(test_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Unit tests of result parsing: the three accepted forms and refusals; a
 * run file's size counted without rendering it; a run made whole again
 * from what an import keeps of it.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "results.h"
#include "store_impl.h"
#include "util.h"

/* The runs of a file that parses; want: how many it must hold. */
static json_t *
parse_runs(const char *name, const char *text, size_t want)
{
	json_t *runs = NULL;

	assert_int_equal(result_parse(name, text, strlen(text), &runs), 0);
	assert_int_equal(json_array_size(runs), want);
	return runs;
}

/* The one run of a file that holds one. */
static json_t *
parse_ok(const char *name, const char *text)
{
	json_t *runs = parse_runs(name, text, 1);
	json_t *run = json_incref(json_array_get(runs, 0));

	json_decref(runs);
	return run;
}

/* "testcase outcome" of each run, with a space between runs. */
static char *
summary(json_t *runs)
{
	char *buf = NULL;
	size_t len = 0, i;
	json_t *run;
	FILE *f = open_memstream(&buf, &len);

	json_array_foreach(runs, i, run)
		fprintf(f, "%s%s %s", i ? ", " : "",
		    json_string_value(json_object_get(run, "testcase")),
		    json_string_value(json_object_get(run, "outcome")));
	fclose(f);
	return buf;
}

static void
runs_are(const char *name, const char *text, size_t n, const char *want)
{
	json_t *runs = parse_runs(name, text, n);
	char *got = summary(runs);

	assert_string_equal(got, want);
	free(got);
	json_decref(runs);
}

static void
runs_are_n(const char *name, const char *text, size_t n)
{
	json_decref(parse_runs(name, text, n));
}

static void
refused(const char *name, const char *text, const char *msg)
{
	json_t *runs = NULL;

	assert_int_equal(result_parse(name, text, strlen(text), &runs),
	    -EINVAL);
	assert_null(runs);
	assert_string_equal(store_errmsg(), msg);
}

static const char *
field(json_t *run, const char *key)
{
	const char *s = json_string_value(json_object_get(run, key));

	return s ? s : "";
}

static void
test_forms(void **state)
{
	json_t *r;

	(void)state;
	r = parse_ok("vping_ssh.json", "PASS\n");
	assert_string_equal(field(r, "testcase"), "vping_ssh");
	assert_string_equal(field(r, "outcome"), "PASS");
	assert_string_equal(field(r, "format"), "word");
	json_decref(r);
	r = parse_ok("healthcheck", "  FAIL");
	assert_string_equal(field(r, "testcase"), "healthcheck");
	assert_string_equal(field(r, "outcome"), "FAIL");
	json_decref(r);
	r = parse_ok("x.json", "{\"testcase\": \"tempest\", \"outcome\": "
	    "\"FAIL\", \"platform\": \"fuel/9\"}");
	assert_string_equal(field(r, "testcase"), "tempest");
	assert_string_equal(field(r, "format"), "simple");
	assert_string_equal(field(r, "platform"), "fuel/9");
	json_decref(r);
	r = parse_ok("r.json", "{\"case_name\": \"connection_check\", "
	    "\"criteria\": \"PASS\", \"pod_name\": \"ericsson-pod2\", "
	    "\"installer\": \"fuel\", \"scenario\": \"os-nosdn-nofeature-ha\", "
	    "\"details\": {\"duration\": 3}}");
	assert_string_equal(field(r, "testcase"), "connection_check");
	assert_string_equal(field(r, "format"), "opnfv");
	assert_string_equal(field(r, "pod"), "ericsson-pod2");
	assert_string_equal(field(r, "scenario"), "os-nosdn-nofeature-ha");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(
	    json_object_get(r, "record"), "details"), "duration")), 3);
	json_decref(r);
}

static void
test_refusals(void **state)
{
	json_t *r = NULL;
	char *big;

	(void)state;
	assert_int_equal(result_parse("a", "", 0, &r), -EINVAL);
	assert_string_equal(store_errmsg(), "result 'a' is empty");
	assert_int_equal(result_parse("a", "MAYBE", 5, &r), -EINVAL);
	assert_string_equal(store_errmsg(),
	    "result 'a': unknown outcome 'MAYBE' (PASS, FAIL, ERROR or SKIP)");
	assert_int_equal(result_parse("a", "{\"case_name\": ", 14, &r),
	    -EINVAL);
	assert_int_equal(result_parse("a", "{\"outcome\": \"PASS\"}", 19, &r),
	    -EINVAL);
	assert_string_equal(store_errmsg(), "result 'a' names no test case "
	    "(\"case_name\" or \"testcase\")");
	assert_int_equal(result_parse("a", "{\"case_name\": \"t\", "
	    "\"criteria\": \"pass\"}", 37, &r), -EINVAL);
	assert_int_equal(result_parse("a", "{\"testcase\": \"../x\", "
	    "\"outcome\": \"PASS\"}", 39, &r), -EINVAL);
	assert_int_equal(result_parse("a", "\xff\xfe", 2, &r), -EINVAL);
	big = malloc(RESULT_MAX + 1);
	memset(big, ' ', RESULT_MAX + 1);
	assert_int_equal(result_parse("a", big, RESULT_MAX + 1, &r), -EFBIG);
	free(big);
	assert_null(r);
}

/* ERROR and SKIP, and the forms that hold a run per test case */
static void
test_many(void **state)
{
	json_t *runs, *r;

	(void)state;
	runs_are("t.json", "ERROR", 1, "t ERROR");
	runs_are("t.json", "SKIP\n", 1, "t SKIP");
	runs_are("a.json", "[{\"case_name\": \"vping\", \"criteria\": \"PASS\"}, "
	    "{\"testcase\": \"tempest\", \"outcome\": \"ERROR\"},\n"
	    "{\"testcase\": \"vping\", \"outcome\": \"SKIP\"}]", 3,
	    "vping PASS, tempest ERROR, vping SKIP");
	runs_are("l.jsonl", "{\"case_name\": \"vping\", \"criteria\": \"FAIL\"}\n"
	    "\n{\"testcase\": \"odl\", \"outcome\": \"PASS\"}\r\n", 2,
	    "vping FAIL, odl PASS");
	/* one object over several lines is one run, not JSON Lines */
	runs_are("p.json", "{\n  \"testcase\": \"odl\",\n  \"outcome\": "
	    "\"PASS\"\n}\n", 1, "odl PASS");
	runs_are("s.tap", "TAP version 13\n1..6\nok 1 - vping_ssh\n"
	    "not ok 2 - tempest # took 3s\n  ---\n  message: boom\n  ...\n"
	    "ok 3 - odl # SKIP no odl here\nnot ok 4 rally # TODO flaky\n"
	    "ok 5\n# a comment\nok 6 - a \\# b\nBail out! disk full\n"
	    "ok 7 - after the bail\n", 6, "vping_ssh PASS, tempest FAIL, "
	    "odl SKIP, rally SKIP, test 5 PASS, a # b PASS");
	runs = parse_runs("s.tap", "ok 1 - x\nnot ok 2 - y # TIME 2s\n  "
	    "at line 3\n", 2);
	r = json_object_get(json_array_get(runs, 1), "record");
	assert_string_equal(json_string_value(json_object_get(r, "line")),
	    "not ok 2 - y # TIME 2s");
	assert_int_equal(json_integer_value(json_object_get(r, "number")), 2);
	assert_string_equal(json_string_value(json_object_get(r,
	    "diagnostics")), "  at line 3\n");
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(runs, 0), "format")), "tap");
	json_decref(runs);
	runs_are("j.xml", "<?xml version=\"1.0\"?>\n<testsuites>\n"
	    "<testsuite name=\"functest\">\n"
	    "<testcase classname=\"healthcheck\" name=\"vping_ssh\" "
	    "time=\"1.2\"/>\n<testcase name=\"tempest\"><failure message=\"b"
	    "oom\" type=\"AssertionError\">trace &amp; more</failure>"
	    "<system-out>x</system-out></testcase>\n<testcase name=\"rally\">"
	    "<failure/><error message=\"crash\"/></testcase>\n"
	    "<testcase name=\"odl\"><skipped/></testcase>\n</testsuite>\n"
	    "</testsuites>", 4, "healthcheck.vping_ssh PASS, tempest FAIL, "
	    "rally ERROR, odl SKIP");
	runs = parse_runs("j.xml", "<testsuite name=\"s\"><testcase name=\"t\">"
	    "<failure message=\"m\" type=\"T\">line 1\nline 2</failure>"
	    "</testcase></testsuite>", 1);
	r = json_object_get(json_array_get(runs, 0), "record");
	assert_string_equal(json_string_value(json_object_get(r, "suite")),
	    "s");
	assert_string_equal(json_string_value(json_object_get(r, "message")),
	    "m");
	assert_string_equal(json_string_value(json_object_get(r, "text")),
	    "line 1\nline 2");
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(runs, 0), "format")), "junit");
	json_decref(runs);
}

/* one entry that is no run refuses the whole file */
static void
test_many_refused(void **state)
{
	(void)state;
	refused("a.json", "[]", "result 'a.json' is an empty array: no run");
	refused("a.json", "[{\"testcase\": \"x\", \"outcome\": \"PASS\"}, "
	    "{\"testcase\": \"y\", \"outcome\": \"MAYBE\"}]", "result 'a.json, "
	    "record 2': unknown outcome 'MAYBE' (PASS, FAIL, ERROR or SKIP in "
	    "\"outcome\")");
	refused("a.json", "[1]", "result 'a.json, record 1' is not a JSON "
	    "object");
	refused("l.jsonl", "{\"testcase\": \"x\", \"outcome\": \"PASS\"}\n"
	    "{\"testcase\": \"x/y\", \"outcome\": \"PASS\"}\n",
	    "result 'l.jsonl, line 2': invalid test case name 'x/y': contains "
	    "'/'");
	refused("l.jsonl", "{\"testcase\": \"x\", \"outcome\": \"PASS\"}\n"
	    "{\"testcase\": \n", "result 'l.jsonl' is not valid JSON (line 2: "
	    "end of file expected near '{')");
	refused("s.tap", "1..0 # SKIP nothing\n", "result 's.tap' is TAP "
	    "without a test line: no run");
	refused("s.tap", "ok 1 - a\nwhat is this\n", "result 's.tap', line 2: "
	    "not a line of TAP");
	refused("s.tap", "ok 1 - a/b\n", "result 's.tap', line 1: invalid "
	    "test case name 'a/b': contains '/'");
	refused("j.xml", "<testsuite><testcase name=\"a\"></testsuite>",
	    "result 'j.xml' is not valid XML (line 1: mismatched tag)");
	refused("j.xml", "<testsuite/>", "result 'j.xml' is XML without a "
	    "<testcase>: no run");
	refused("j.xml", "<testsuite><testcase classname=\"c\"/></testsuite>",
	    "result 'j.xml', line 1: a testcase without a name");
	refused("j.xml", "<?xml version=\"1.0\"?>\n<!DOCTYPE t [\n<!ENTITY a "
	    "\"aaaaaaaaaa\">\n<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;\">\n]>\n"
	    "<testsuite><testcase name=\"&b;\"/></testsuite>", "result 'j.xml': "
	    "XML entity declarations are not accepted");
	refused("w", "MAYBE", "result 'w': unknown outcome 'MAYBE' (PASS, FAIL, "
	    "ERROR or SKIP)");
	/* a file of more runs than one close() should hold */
	{
		size_t n = RESULT_MAX_RUNS + 1;
		char *many = malloc(n * 3 + 1);

		assert_non_null(many);
		for (size_t i = 0; i < n; i++)
			memcpy(many + 3 * i, "ok\n", 3);
		many[3 * n] = '\0';
		refused("m.tap", many, "result 'm.tap' holds more than 10000 runs "
		    "(relctl import takes any number)");
		many[3 * (n - 1)] = '\0';
		runs_are_n("m.tap", many, RESULT_MAX_RUNS);
		free(many);
	}
}

/*
 * The counted size of run (stamped as an import stamps it) is the real,
 * and so is the size an import counts from the record alone (its view).
 */
static void
same_size(json_t *run)
{
	json_t *stamp = json_pack("{s:s,s:s,s:i}", "recorded",
	    "2026-12-01T10:00:00Z", "user", "ci \"bot\"", "uid", -1);
	json_t *rec = json_object_get(run, "record");
	struct run_view v;

	json_object_update(run, stamp);
	json_object_set_new(run, "run", json_integer(1234567));
	assert_true(run_text_len(run, 1) > 0);
	assert_int_equal(run_text_len(run, 0), run_text_len(run, 1));
	if (json_is_object(rec)) {
		assert_int_equal(result_view("r.json", rec, &v), 0);
		assert_int_equal(run_view_text_len(&v, rec, stamp, 1234567),
		    run_text_len(run, 1));
	}
	json_decref(stamp);
}

static void
test_text_len(void **state)
{
	static const char *odd[] = {
		"{\"case_name\": \"t\", \"criteria\": \"PASS\", \"details\": "
		    "{\"q\": \"a\\\"b\\\\c\\n\\t\\b\\f\\r\\u0001\\u000b\\u001f\\u007f/\", "
		    "\"u\": \"\u00e9\u4e2d\\ud83d\\ude00\", \"r\": [1.5, -0.0, "
		    "1e300, 0.1, 3.0], \"i\": [-1, 0, 9223372036854775807, "
		    "-9223372036854775808, -10, 10], "
		    "\"e\": {}, \"a\": [], \"n\": [null, true, false, [[]], "
		    "[{}], {\"x\": [{\"y\": []}]}]}}",
		"{\"testcase\": \"t\", \"outcome\": \"FAIL\", \"pod\": \"p\\\"\"}",
		"{\"case_name\": \"t\", \"criteria\": \"PASS\", \"\\u0000x\": 1}",
		/* the first key a run key is copied from gives it */
		"{\"case_name\": \"t\", \"criteria\": \"SKIP\", \"pod\": \"bb\", "
		    "\"pod_name\": \"a\", \"version\": 3, \"stop_date\": \"\\n\"}",
	};
	const char *data = getenv("RELFS_DATA");
	char *line = NULL;
	size_t cap = 0, n = 0;
	ssize_t len;
	json_t *run;
	FILE *f;

	(void)state;
	for (size_t i = 0; i < sizeof(odd) / sizeof(*odd); i++) {
		json_t *runs = NULL;

		if (result_parse("t.json", odd[i], strlen(odd[i]), &runs) < 0) {
			assert_int_equal(i, 2);	/* a NUL in a key: refused */
			continue;
		}
		same_size(json_array_get(runs, 0));
		if (i == 3) {	/* pod_name before pod, whatever the order */
			json_t *rec = json_object_get(json_array_get(runs, 0),
			    "record");
			struct run_view v;

			assert_int_equal(result_view("r.json", rec, &v), 0);
			assert_string_equal(result_view_get(&v, "pod"), "a");
			assert_null(result_view_get(&v, "version"));	/* no string */
			assert_string_equal(v.outcome, "SKIP");
		}
		json_decref(runs);
	}
	run = parse_ok("vping.txt", "PASS");
	same_size(run);
	json_decref(run);
	/* every record of the sample data */
	assert_non_null(data);
	assert_non_null(f = fopen(data, "r"));
	while ((len = getline(&line, &cap, f)) > 0) {
		run = parse_ok("r.json", line);
		same_size(run);
		json_decref(run);
		n++;
	}
	free(line);
	fclose(f);
	assert_true(n > 1000);
}

/* What an import keeps of a run is made whole as the run itself. */
static void
test_complete(void **state)
{
	const char *rec = "{\"case_name\": \"vping\", \"criteria\": \"FAIL\", "
	    "\"pod_name\": \"pod1\", \"details\": {\"n\": [1, 2.5]}}";
	char kept[512];
	json_t *run = parse_ok("r.json", rec), *k, *whole;
	char *a, *b;

	(void)state;
	json_object_set_new(run, "recorded", json_string("2026-12-01T10:00:00Z"));
	json_object_set_new(run, "user", json_string("ci"));
	json_object_set_new(run, "uid", json_integer(1001));
	json_object_set_new(run, "run", json_integer(7));
	snprintf(kept, sizeof(kept), "{\"record\":%s,\"run\":7,\"recorded\":"
	    "\"2026-12-01T10:00:00Z\",\"uid\":1001,\"user\":\"ci\"}", rec);
	assert_non_null(k = json_loads(kept, JSON_REJECT_DUPLICATES, NULL));
	assert_non_null(whole = run_complete(k));
	a = json_dumps(run, JSON_INDENT(2) | JSON_SORT_KEYS);
	b = json_dumps(whole, JSON_INDENT(2) | JSON_SORT_KEYS);
	assert_string_equal(a, b);
	/* a whole run stays as it is; a record that is no run is none */
	json_decref(whole);
	assert_ptr_equal(whole = run_complete(run), run);
	json_decref(whole);
	json_object_set_new(k, "record", json_pack("{s:s}", "case_name", "x"));
	assert_null(run_complete(k));
	free(a);
	free(b);
	json_decref(k);
	json_decref(run);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forms),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_many_refused),
		cmocka_unit_test(test_text_len),
		cmocka_unit_test(test_complete),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

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

static json_t *
parse_ok(const char *name, const char *text)
{
	json_t *run = NULL;

	assert_int_equal(result_parse(name, text, strlen(text), &run), 0);
	return run;
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
	    "result 'a': unknown outcome 'MAYBE' (PASS or FAIL)");
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

/* The counted size of run (stamped as an import stamps it) is the real. */
static void
same_size(json_t *run)
{
	json_object_set_new(run, "recorded", json_string("2026-12-01T10:00:00Z"));
	json_object_set_new(run, "user", json_string("ci \"bot\""));
	json_object_set_new(run, "uid", json_integer(-1));
	json_object_set_new(run, "run", json_integer(1234567));
	assert_true(run_text_len(run, 1) > 0);
	assert_int_equal(run_text_len(run, 0), run_text_len(run, 1));
}

static void
test_text_len(void **state)
{
	static const char *odd[] = {
		"{\"case_name\": \"t\", \"criteria\": \"PASS\", \"details\": "
		    "{\"q\": \"a\\\"b\\\\c\\n\\t\\b\\f\\r\\u0001\\u001f/\", "
		    "\"u\": \"\u00e9\u4e2d\\ud83d\\ude00\", \"r\": [1.5, -0.0, "
		    "1e300, 0.1, 3.0], \"i\": [-1, 0, 9223372036854775807], "
		    "\"e\": {}, \"a\": [], \"n\": [null, true, false, [[]], "
		    "[{}], {\"x\": [{\"y\": []}]}]}}",
		"{\"testcase\": \"t\", \"outcome\": \"FAIL\", \"pod\": \"p\\\"\"}",
		"{\"case_name\": \"t\", \"criteria\": \"PASS\", \"\\u0000x\": 1}",
	};
	const char *data = getenv("RELFS_DATA");
	char *line = NULL;
	size_t cap = 0, n = 0;
	ssize_t len;
	json_t *run;
	FILE *f;

	(void)state;
	for (size_t i = 0; i < sizeof(odd) / sizeof(*odd); i++) {
		run = NULL;
		if (result_parse("t.json", odd[i], strlen(odd[i]), &run) < 0) {
			assert_int_equal(i, 2);	/* a NUL in a key: refused */
			continue;
		}
		same_size(run);
		json_decref(run);
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
		cmocka_unit_test(test_text_len),
		cmocka_unit_test(test_complete),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

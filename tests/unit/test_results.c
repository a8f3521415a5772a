/* Unit tests of result parsing: the three accepted forms and refusals. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "results.h"
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forms),
		cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

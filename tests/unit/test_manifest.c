/* Unit tests of manifests, pins and artifact.properties. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "manifest.h"

#define SHA "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"

static json_t *
sample(void)
{
	uint8_t d[DIGEST_LEN];
	json_t *m, *pins;

	m = manifest_new("fuel", "9.0.1", "os-nosdn-nofeature-ha", "fuel", "",
	    1700000000, "alice");
	digest_buf(d, "x", 1);
	assert_int_equal(manifest_add(m, "bin", MF_DIR, 0755, 0, NULL), 0);
	assert_int_equal(manifest_add(m, "bin/deploy.sh", MF_FILE, 04755, 1,
	    d), 0);
	assert_int_equal(pins_from_text("# comment\n\nimg\t7.9\t" SHA
	    "\thttp://127.0.0.1/img\t12\n", &pins), 0);
	manifest_set_pins(m, pins);
	json_decref(pins);
	return m;
}

static void
test_id_is_deterministic(void **state)
{
	json_t *a = sample(), *b = sample(), *loaded;
	char *ta, *tb;
	size_t la, lb;

	(void)state;
	assert_int_equal(manifest_finish(a, &ta, &la), 0);
	assert_int_equal(manifest_finish(b, &tb, &lb), 0);
	assert_int_equal(la, lb);
	assert_memory_equal(ta, tb, la);
	assert_int_equal(ta[la - 1], '\n');
	assert_int_equal(strlen(mf_str(a, "id")), 64);
	/* the setuid bit is not kept in the mode string */
	assert_null(strstr(ta, "4755"));
	assert_non_null(strstr(ta, "\"path\": \"bin/deploy.sh\""));
	assert_int_equal(manifest_load(ta, la, &loaded), 0);
	assert_string_equal(mf_str(loaded, "id"), mf_str(a, "id"));
	assert_int_equal(mf_count(loaded), 2);
	json_decref(loaded);
	/* a changed byte no longer matches the id */
	ta[strstr(ta, "alice") - ta] = 'A';
	assert_int_equal(manifest_load(ta, la, &loaded), -EINVAL);
	assert_non_null(strstr(store_errmsg(), "does not match"));
	free(ta);
	free(tb);
	json_decref(a);
	json_decref(b);
}

static void
test_pins(void **state)
{
	json_t *pins;
	char *text;
	size_t len;
	json_t *m = sample();

	(void)state;
	assert_int_equal(manifest_pins_text(m, &text, &len), 0);
	assert_string_equal(text, "img\t7.9\t" SHA "\thttp://127.0.0.1/img\t12\n");
	free(text);
	assert_int_equal(pins_from_text("a\t1\t" SHA "\n", &pins), -EINVAL);
	assert_int_equal(pins_from_text("a\t1\tabc\thttp://x\n", &pins),
	    -EINVAL);
	assert_int_equal(pins_from_text("a\t1\t" SHA "\tgopher://x\n", &pins),
	    -EINVAL);
	assert_int_equal(pins_from_text("../a\t1\t" SHA "\thttp://x\n", &pins),
	    -EINVAL);
	assert_int_equal(pins_from_text("a\t1\t" SHA "\thttp://x\t-1\n",
	    &pins), -EINVAL);
	assert_int_equal(pins_from_text("a\t1\t" SHA "\thttp://x\n"
	    "a\t2\t" SHA "\tfile:///y\n", &pins), -EINVAL);
	assert_string_equal(store_errmsg(), "pin 'a' is given twice");
	assert_int_equal(pins_from_text("a\t1\t" SHA "\tfile:///y\r\n", &pins),
	    0);
	assert_int_equal(json_array_size(pins), 1);
	json_decref(pins);
	json_decref(m);
}

static void
test_properties(void **state)
{
	json_t *m = sample();
	char *text;
	size_t len;

	(void)state;
	json_object_set_new(m, "description", json_string("it's new"));
	assert_int_equal(manifest_finish(m, &text, &len), 0);
	free(text);
	assert_int_equal(manifest_properties(m, &text, &len), 0);
	assert_non_null(strstr(text, "project=fuel\nversion=9.0.1\nid="));
	assert_non_null(strstr(text, "scenario=os-nosdn-nofeature-ha\n"));
	assert_non_null(strstr(text, "pin_img_version=7.9\n"));
	assert_non_null(strstr(text, "pin_img_url=http://127.0.0.1/img\n"));
	assert_non_null(strstr(text, "created=2023-11-14T22:13:20Z\n"));
	free(text);
	json_decref(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_id_is_deterministic),
		cmocka_unit_test(test_pins),
		cmocka_unit_test(test_properties),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

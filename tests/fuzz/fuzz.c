/*
 * fuzz.c - libFuzzer harnesses for every parser of what users write
 * (store/formats.h).  Built once per parser with -DFUZZ_TARGET="name";
 * `make fuzz` builds them all, `make fuzz-run` runs each on its seed
 * corpus in tests/fuzz/corpus/<name>/.  A parser must refuse or accept any
 * bytes without crashing, leaking or reading out of bounds; what it
 * accepts must hold up to a second look (rendered again, evaluated).
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "deliver.h"
#include "formats.h"
#include "store_impl.h"

/* The input as a C string (parsers of names and lines take one). */
static char *
cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* An accepted document must render: jansson refuses nothing it built. */
static void
renders(json_t *j)
{
	char *text = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);

	if (!text)
		abort();
	free(text);
}

static void
fuzz_result(const uint8_t *data, size_t size)
{
	/* the first line is the file's name, the rest its content */
	const uint8_t *nl = memchr(data, '\n', size);
	size_t nlen = nl ? (size_t)(nl - data) : 0;
	char *name;
	json_t *runs, *run;
	size_t i;

	if (!nl || nlen > 255)
		return;
	name = cstr(data, nlen);
	if (name_check(name, "result") == 0 &&
	    result_parse(name, (const char *)nl + 1, size - nlen - 1,
	    &runs) == 0) {
		/* at least one run, each with a test case and an outcome */
		if (json_array_size(runs) == 0)
			abort();
		json_array_foreach(runs, i, run) {
			if (!json_string_value(json_object_get(run,
			    "testcase")) || name_check(json_string_value(
			    json_object_get(run, "testcase")), "test case") <
			    0 || !json_string_value(json_object_get(run,
			    "outcome")))
				abort();
			renders(run);
			/* the size counted for its file is the size rendered */
			json_object_set_new(run, "run", json_integer(42));
			if (run_text_len(run, 0) != run_text_len(run, 1))
				abort();
		}
		json_decref(runs);
	}
	free(name);
}

static int
golden_no(void *arg, const char *platform, const char *stage)
{
	(void)arg;
	(void)platform;
	(void)stage;
	return 0;
}

static void
fuzz_criteria(const uint8_t *data, size_t size)
{
	static const struct crit_run runs[] = {
		{ "functest", 1, 1, 1000, "pod1", "fuel", "os-nosdn-nofeature-ha",
		    NULL, 0 },
		{ "functest", 0, 2, 2000, "pod2", "apex", "os-odl-nofeature-ha",
		    NULL, 1 },
		{ "yardstick", 1, 3, 3000, "pod1", "fuel",
		    "os-nosdn-nofeature-ha", "opnfv/1.0", 0 },
	};
	static const struct crit_approval app[] = { { 1000, "alice", 1500 } };
	static const struct crit_waiver wv[] = {
		{ "yardstick", "flaky", "os-*", 5000, "bob" },
	};
	struct crit_input in;
	json_t *crit, *out;

	if (crit_parse((const char *)data, size, &crit) < 0)
		return;
	renders(crit);
	memset(&in, 0, sizeof(in));
	in.layers[0] = crit;
	in.scenario = "os-nosdn-nofeature-ha";
	in.runs = runs;
	in.nruns = sizeof(runs) / sizeof(*runs);
	in.approvals = app;
	in.napprovals = 1;
	in.waivers = wv;
	in.nwaivers = 1;
	in.golden = golden_no;
	in.now = 4000;
	if (crit_eval(&in, &out) == 0) {
		renders(out);
		json_decref(out);
	}
	(void)crit_next_wakeup(&in);
	json_decref(crit);
}

static void
fuzz_waiver(const uint8_t *data, size_t size)
{
	json_t *rec;

	if (waiver_parse("functest", (const char *)data, size, &rec) == 0) {
		if (!json_string_value(json_object_get(rec, "reason")))
			abort();
		renders(rec);
		json_decref(rec);
	}
}

static void
fuzz_pins(const uint8_t *data, size_t size)
{
	char *text = cstr(data, size), *back;
	json_t *pins;
	size_t len;

	if (pins_from_text(text, &pins) == 0) {
		if (pins_check(pins) == 0) {
			/* what was accepted renders as a pins file again */
			json_t *m = manifest_new("p", "1", "", "", "", 0, "u");

			manifest_set_pins(m, pins);
			if (manifest_pins_text(m, &back, &len) < 0)
				abort();
			free(back);
			json_decref(m);
		}
		json_decref(pins);
	}
	free(text);
}

static void
fuzz_artifact_json(const uint8_t *data, size_t size)
{
	json_t *meta;

	if (artifact_json_parse((const char *)data, size, &meta) == 0) {
		renders(meta);
		json_decref(meta);
	}
}

static void
fuzz_release_json(const uint8_t *data, size_t size)
{
	json_t *j;

	if (release_json_parse((const char *)data, size, &j) == 0) {
		if (!json_string_value(json_object_get(j, "stage")))
			abort();
		renders(j);
		json_decref(j);
	}
}

static void
fuzz_scenario_json(const uint8_t *data, size_t size)
{
	json_t *j;

	if (scenario_json_parse((const char *)data, size, &j) == 0) {
		if (!json_is_array(json_object_get(j, "projects")))
			abort();
		renders(j);
		json_decref(j);
	}
}

static void
fuzz_webhooks_json(const uint8_t *data, size_t size)
{
	json_t *w;

	if (webhooks_parse((const char *)data, size, &w) == 0) {
		if (!json_is_array(w))
			abort();
		renders(w);
		json_decref(w);
	}
}

static void
fuzz_manifest(const uint8_t *data, size_t size)
{
	json_t *m;
	char *props;
	size_t len;

	if (manifest_load((const char *)data, size, &m) == 0) {
		if (manifest_properties(m, &props, &len) == 0)
			free(props);
		json_decref(m);
	}
}

static void
fuzz_duration(const uint8_t *data, size_t size)
{
	char *s = cstr(data, size);
	int64_t secs;

	if (crit_duration(s, &secs) == 0 && (secs < 0 ||
	    secs > 10LL * 366 * 24 * 3600))
		abort();
	free(s);
}

static void
fuzz_name(const uint8_t *data, size_t size)
{
	char *s = cstr(data, size);

	/* an accepted name is one path component a shell can pass as is */
	if (name_check(s, "name") == 0 && (!*s || strlen(s) > 255 ||
	    strchr(s, '/') || strcmp(s, ".") == 0 || strcmp(s, "..") == 0))
		abort();
	free(s);
}

static const struct {
	const char *name;
	void (*fn)(const uint8_t *, size_t);
} targets[] = {
	{ "result", fuzz_result },
	{ "criteria", fuzz_criteria },
	{ "waiver", fuzz_waiver },
	{ "pins", fuzz_pins },
	{ "artifact_json", fuzz_artifact_json },
	{ "release_json", fuzz_release_json },
	{ "scenario_json", fuzz_scenario_json },
	{ "webhooks_json", fuzz_webhooks_json },
	{ "manifest", fuzz_manifest },
	{ "duration", fuzz_duration },
	{ "name", fuzz_name },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static void (*fn)(const uint8_t *, size_t);

	if (!fn) {
		for (size_t i = 0; i < sizeof(targets) / sizeof(*targets); i++)
			if (strcmp(targets[i].name, FUZZ_TARGET) == 0)
				fn = targets[i].fn;
		if (!fn)
			abort();
	}
	fn(data, size);
	store_clearerr();
	return 0;
}

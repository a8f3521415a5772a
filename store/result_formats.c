/*
 * result_formats.c - what a file written to results/ means (results.h):
 * one run (an OPNFV record, {"testcase", "outcome"}, a bare word) or one a
 * test case (a JSON array of records, JSON Lines, TAP, JUnit XML), all or
 * nothing: one entry that is not a run refuses the whole file.
 *
 * JSON is jansson's and XML is expat's to parse.  TAP has no C library to
 * read it with (Debian's libtap writes it), so its few line forms are read
 * here: the version, the plan, "ok"/"not ok" lines with their directives,
 * "Bail out!", comments, and indented lines (YAML diagnostics, subtests),
 * which belong to the test line before them.
 */
#define _GNU_SOURCE
#include "results.h"

#include <ctype.h>
#include <errno.h>
#include <expat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

/* what a run copies of its record; as many as RUN_COPIED_MAX */
static const char *copied[][2] = {
	/* record key, run key */
	{ "pod_name", "pod" }, { "pod", "pod" }, { "installer", "installer" },
	{ "scenario", "scenario" }, { "platform", "platform" },
	{ "build_tag", "build_tag" }, { "version", "version" },
	{ "project_name", "project_name" }, { "start_date", "start_date" },
	{ "stop_date", "stop_date" },
};

_Static_assert(sizeof(copied) / sizeof(*copied) <= RUN_COPIED_MAX,
    "a run_view holds every copied key");

static const char *outcomes[] = { "PASS", "FAIL", "ERROR", "SKIP" };

#define OUTCOMES "PASS, FAIL, ERROR or SKIP"

/* word as one of the outcomes (its static spelling), or NULL. */
static const char *
outcome_of(const char *word)
{
	for (size_t i = 0; word && i < sizeof(outcomes) / sizeof(*outcomes);
	    i++)
		if (strcmp(word, outcomes[i]) == 0)
			return outcomes[i];
	return NULL;
}

int
result_outcome_code(const char *outcome)
{
	for (int i = 0; outcome && i < 4; i++)
		if (strcmp(outcome, outcomes[i]) == 0)
			return i == 0 ? RESULT_PASS : i == 1 ? RESULT_FAIL :
			    i == 2 ? RESULT_ERROR : RESULT_SKIP;
	return RESULT_FAIL;
}

/* A run of test case tc: outcome, format and record (kept). */
static json_t *
run_new(const char *tc, const char *outcome, const char *format,
    json_t *rec)
{
	json_t *run = json_object();

	/* not json_pack: its format is parsed again for every run */
	if (run && (json_object_set_new_nocheck(run, "testcase",
	    json_string(tc)) < 0 || json_object_set_new_nocheck(run, "outcome",
	    json_string(outcome)) < 0 || json_object_set_new_nocheck(run,
	    "format", json_string(format)) < 0)) {
		json_decref(run);
		return NULL;
	}
	if (run && rec)
		json_object_set(run, "record", rec);
	return run;
}

int
result_view(const char *filename, json_t *rec, struct run_view *v)
{
	const char *outcome;
	int rc;

	if (!json_is_object(rec))
		return store_seterr(-EINVAL, "result '%s' is not a JSON object",
		    filename);
	memset(v, 0, sizeof(*v));
	if (json_object_get(rec, "case_name")) {
		v->format = "opnfv";
		v->testcase = json_string_value(json_object_get(rec,
		    "case_name"));
		outcome = json_string_value(json_object_get(rec, "criteria"));
	} else {
		v->format = "simple";
		v->testcase = json_string_value(json_object_get(rec,
		    "testcase"));
		outcome = json_string_value(json_object_get(rec, "outcome"));
	}
	if (!v->testcase)
		return store_seterr(-EINVAL, "result '%s' names no test "
		    "case (\"case_name\" or \"testcase\")", filename);
	if (!(v->outcome = outcome_of(outcome)))
		return store_seterr(-EINVAL, "result '%s': unknown outcome "
		    "'%s' (" OUTCOMES " in \"%s\")", filename,
		    outcome ? outcome : "(none)",
		    strcmp(v->format, "opnfv") ? "outcome" : "criteria");
	if ((rc = name_check(v->testcase, "test case")) < 0)
		return store_prefixerr(rc, "result '%s'", filename);
	/* the first of the record's keys for a run key gives it */
	for (size_t i = 0; i < sizeof(copied) / sizeof(*copied); i++) {
		json_t *val = json_object_get(rec, copied[i][0]);

		if (json_is_string(val) && !result_view_get(v, copied[i][1])) {
			v->key[v->ncopied] = copied[i][1];
			v->value[v->ncopied++] = val;
		}
	}
	return 0;
}

const char *
result_view_get(const struct run_view *v, const char *key)
{
	for (size_t i = 0; i < v->ncopied; i++)
		if (strcmp(v->key[i], key) == 0)
			return json_string_value(v->value[i]);
	return NULL;
}

int
result_run(const char *filename, json_t *rec, json_t **out)
{
	struct run_view v;
	json_t *run;
	int rc;

	if ((rc = result_view(filename, rec, &v)) < 0)
		return rc;
	if (!(run = run_new(v.testcase, v.outcome, v.format, NULL)))
		return -ENOMEM;
	for (size_t i = 0; i < v.ncopied; i++)
		json_object_set(run, v.key[i], v.value[i]);
	json_object_set(run, "record", rec);
	*out = run;
	return 0;
}

/* Append run to runs (taking it); -ENOMEM, or -EINVAL past the limit. */
static int
runs_add(const char *filename, json_t *runs, json_t *run)
{
	if (json_array_size(runs) >= RESULT_MAX_RUNS) {
		json_decref(run);
		return store_seterr(-EINVAL, "result '%s' holds more than %d "
		    "runs (relctl import takes any number)", filename,
		    RESULT_MAX_RUNS);
	}
	return run && json_array_append_new(runs, run) == 0 ? 0 : -ENOMEM;
}

/* -- JSON: one record, an array of them, or JSON Lines --------------- */

static int
json_array_runs(const char *filename, json_t *arr, json_t *runs)
{
	char where[320];
	size_t i;
	json_t *rec, *run;
	int rc;

	if (json_array_size(arr) == 0)
		return store_seterr(-EINVAL, "result '%s' is an empty array: "
		    "no run", filename);
	json_array_foreach(arr, i, rec) {
		snprintf(where, sizeof(where), "%s, record %zu", filename,
		    i + 1);
		if ((rc = result_run(where, rec, &run)) < 0 ||
		    (rc = runs_add(filename, runs, run)) < 0)
			return rc;
	}
	return 0;
}

/* Each line that is not blank a JSON object: 1 when so, 0 when not. */
static int
json_lines_runs(const char *filename, const char *buf, size_t len,
    json_t *runs, int *rc)
{
	size_t lineno = 0;
	const char *p = buf, *end = buf + len;

	*rc = 0;
	while (p < end && *rc == 0) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char where[320];
		json_t *rec, *run;

		lineno++;
		while (ll && strchr(" \t\r", p[ll - 1]))
			ll--;
		if (ll) {
			rec = json_loadb(p, ll, JSON_REJECT_DUPLICATES, NULL);
			if (!json_is_object(rec)) {
				json_decref(rec);
				return 0;	/* not JSON Lines */
			}
			snprintf(where, sizeof(where), "%s, line %zu",
			    filename, lineno);
			if ((*rc = result_run(where, rec, &run)) == 0)
				*rc = runs_add(filename, runs, run);
			json_decref(rec);
		}
		p = nl ? nl + 1 : end;
	}
	return 1;
}

static int
json_runs(const char *filename, const char *buf, size_t len, json_t *runs)
{
	json_error_t err;
	json_t *doc = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &err);
	json_t *run;
	int rc = 0;

	if (json_is_array(doc)) {
		rc = json_array_runs(filename, doc, runs);
	} else if (json_is_object(doc)) {
		if ((rc = result_run(filename, doc, &run)) == 0)
			rc = runs_add(filename, runs, run);
	} else if (buf[0] != '{' || !json_lines_runs(filename, buf, len, runs,
	    &rc)) {
		rc = doc ? store_seterr(-EINVAL, "result '%s' is neither a "
		    "JSON object nor an array of them", filename) :
		    store_seterr(-EINVAL, "result '%s' is not valid JSON "
		    "(line %d: %s)", filename, err.line, err.text);
	}
	json_decref(doc);
	return rc;
}

/* -- TAP -------------------------------------------------------------- */

struct tap {
	const char *filename;
	json_t *runs;
	json_t *last;		/* the record of the last test line */
	char *diag;		/* the indented lines after it, so far */
	size_t dlen, dcap, lineno, tests;
	int bailed;
};

/* The indented lines gathered into the last test's record. */
static int
tap_diag_end(struct tap *t)
{
	int rc = 0;

	if (t->last && t->dlen)
		rc = json_object_set_new(t->last, "diagnostics",
		    json_stringn(t->diag, t->dlen)) < 0 ? -ENOMEM : 0;
	t->dlen = 0;
	t->last = NULL;
	return rc;
}

/* A TAP description as a test case name: "\#" is "#", "\\" is "\". */
static void
tap_name(char *out, size_t outlen, const char *d, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < len && o + 1 < outlen; i++) {
		if (d[i] == '\\' && i + 1 < len && (d[i + 1] == '#' ||
		    d[i + 1] == '\\'))
			i++;
		out[o++] = d[i];
	}
	out[o] = '\0';
}

/* The directive's start in s (len bytes): an unescaped '#', or NULL. */
static const char *
tap_directive(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\\' && i + 1 < len) {
			i++;
			continue;
		}
		if (s[i] == '#')
			return s + i;
	}
	return NULL;
}

/* "ok ..." or "not ok ..." (line, len bytes, after the "ok"): a run. */
static int
tap_test(struct tap *t, const char *line, size_t len, const char *rest,
    int ok)
{
	const char *end = line + len, *hash, *outcome = ok ? "PASS" : "FAIL";
	char name[NAME_MAX_BYTES + 64], dir[16] = "";
	unsigned long long num = t->tests + 1;
	json_t *rec;
	int rc;

	t->tests++;
	while (rest < end && *rest == ' ')
		rest++;
	if (rest < end && isdigit((unsigned char)*rest)) {
		/* the line is not NUL-terminated: read its digits only */
		for (num = 0; rest < end && isdigit((unsigned char)*rest);
		    rest++)
			if (num < 1000000000000ULL)
				num = num * 10 + (unsigned long long)(*rest - '0');
	}
	while (rest < end && *rest == ' ')
		rest++;
	if (rest < end && *rest == '-' && (rest + 1 == end || rest[1] == ' '))
		rest++;
	while (rest < end && *rest == ' ')
		rest++;
	hash = tap_directive(rest, (size_t)(end - rest));
	if (hash) {
		const char *d = hash + 1;

		while (d < end && *d == ' ')
			d++;
		if ((size_t)(end - d) >= 4 && strncasecmp(d, "skip", 4) == 0) {
			outcome = "SKIP";
			snprintf(dir, sizeof(dir), "SKIP");
		} else if ((size_t)(end - d) >= 4 &&
		    strncasecmp(d, "todo", 4) == 0) {
			/* not done yet: shown, counts as neither */
			outcome = "SKIP";
			snprintf(dir, sizeof(dir), "TODO");
		}
	}
	{
		const char *dend = hash ? hash : end;

		while (dend > rest && dend[-1] == ' ')
			dend--;
		if (dend == rest)
			snprintf(name, sizeof(name), "test %llu", num);
		else
			tap_name(name, sizeof(name), rest, (size_t)(dend -
			    rest));
	}
	if ((rc = name_check(name, "test case")) < 0)
		return store_prefixerr(rc, "result '%s', line %zu",
		    t->filename, t->lineno);
	rec = json_pack("{s:s%,s:I}", "line", line, len, "number",
	    (json_int_t)num);
	if (rec && dir[0])
		json_object_set_new(rec, "directive", json_string(dir));
	rc = runs_add(t->filename, t->runs, run_new(name, outcome, "tap",
	    rec));
	t->last = rec;
	json_decref(rec);
	return rc;
}

/* One line of TAP (len bytes, no newline). */
static int
tap_line(struct tap *t, const char *line, size_t len)
{
	while (len && line[len - 1] == '\r')
		len--;
	if (t->bailed || len == 0)
		return 0;
	if (line[0] == ' ' || line[0] == '\t') {
		/* a YAML block or a subtest: the last test's diagnostics */
		return t->last ? line_append(&t->diag, &t->dlen, &t->dcap,
		    line, len) : 0;
	}
	if (tap_diag_end(t) < 0)
		return -ENOMEM;
	if (len >= 6 && strncmp(line, "not ok", 6) == 0 &&
	    (len == 6 || line[6] == ' '))
		return tap_test(t, line, len, line + 6, 0);
	if (len >= 2 && strncmp(line, "ok", 2) == 0 &&
	    (len == 2 || line[2] == ' '))
		return tap_test(t, line, len, line + 2, 1);
	if (len >= 9 && strncmp(line, "Bail out!", 9) == 0) {
		t->bailed = 1;	/* what ran before is what there is */
		return 0;
	}
	if (line[0] == '#' || (len >= 11 && strncmp(line, "TAP version",
	    11) == 0) || (len >= 3 && strncmp(line, "1..", 3) == 0) ||
	    strncmp(line, "pragma ", len < 7 ? len : 7) == 0)
		return 0;
	return store_seterr(-EINVAL, "result '%s', line %zu: not a line of "
	    "TAP", t->filename, t->lineno);
}

static int
tap_runs(const char *filename, const char *buf, size_t len, json_t *runs)
{
	struct tap t = { filename, runs, NULL, NULL, 0, 0, 0, 0, 0 };
	const char *p = buf, *end = buf + len;
	int rc = 0;

	while (p < end && rc == 0) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		t.lineno++;
		rc = tap_line(&t, p, nl ? (size_t)(nl - p) : (size_t)(end - p));
		p = nl ? nl + 1 : end;
	}
	if (rc == 0)
		rc = tap_diag_end(&t);
	free(t.diag);
	if (rc == 0 && json_array_size(runs) == 0)
		rc = store_seterr(-EINVAL, "result '%s' is TAP without a test "
		    "line: no run", filename);
	return rc;
}

/* Does the text (first line) read as TAP? */
static int
looks_tap(const char *buf, size_t len)
{
	static const char *starts[] = { "TAP version ", "1..", "ok", "not ok" };

	for (size_t i = 0; i < sizeof(starts) / sizeof(*starts); i++) {
		size_t l = strlen(starts[i]);

		if (len >= l && strncmp(buf, starts[i], l) == 0 &&
		    (i < 2 || len == l || buf[l] == ' ' || buf[l] == '\n' ||
		    buf[l] == '\r'))
			return 1;
	}
	return 0;
}

/* -- JUnit XML --------------------------------------------------------- */

#define JUNIT_TEXT_MAX 4096	/* bytes of a failure's text kept */

struct junit {
	XML_Parser p;
	const char *filename;
	json_t *runs;
	json_t *suite;		/* the names of the testsuites we are in */
	json_t *rec;		/* the testcase being read */
	const char *outcome;
	char name[NAME_MAX_BYTES + 1];
	int depth, in_case, in_text, rc;
};

static const char *
attr(const XML_Char **a, const char *name)
{
	for (; a && a[0]; a += 2)
		if (strcmp(a[0], name) == 0)
			return a[1];
	return NULL;
}

static void
junit_stop(struct junit *j, int rc)
{
	if (j->rc == 0)
		j->rc = rc;
	XML_StopParser(j->p, XML_FALSE);
}

static void XMLCALL
junit_start(void *arg, const XML_Char *el, const XML_Char **a)
{
	struct junit *j = arg;
	const char *name, *cls, *v;

	j->depth++;
	if (j->rc)
		return;
	if (strcmp(el, "testsuite") == 0 && !j->in_case) {
		json_array_append_new(j->suite, json_string(attr(a, "name") ?
		    attr(a, "name") : ""));
		return;
	}
	if (strcmp(el, "testcase") == 0 && !j->in_case) {
		name = attr(a, "name");
		cls = attr(a, "classname");
		if (!name || !*name) {
			junit_stop(j, store_seterr(-EINVAL, "result '%s', line "
			    "%lu: a testcase without a name", j->filename,
			    (unsigned long)XML_GetCurrentLineNumber(j->p)));
			return;
		}
		if (snprintf(j->name, sizeof(j->name), "%s%s%s",
		    cls && *cls ? cls : "", cls && *cls ? "." : "", name) >=
		    (int)sizeof(j->name)) {
			junit_stop(j, store_seterr(-ENAMETOOLONG, "result '%s', "
			    "line %lu: test case name longer than %d bytes",
			    j->filename,
			    (unsigned long)XML_GetCurrentLineNumber(j->p),
			    NAME_MAX_BYTES));
			return;
		}
		j->in_case = j->depth;
		j->outcome = "PASS";
		j->rec = json_pack("{s:s}", "name", name);
		if (cls)
			json_object_set_new(j->rec, "classname",
			    json_string(cls));
		if ((v = attr(a, "time")))
			json_object_set_new(j->rec, "time", json_string(v));
		if (json_array_size(j->suite))
			json_object_set(j->rec, "suite", json_array_get(j->suite,
			    json_array_size(j->suite) - 1));
		return;
	}
	if (j->in_case && j->depth == j->in_case + 1) {
		const char *o = strcmp(el, "failure") == 0 ? "FAIL" :
		    strcmp(el, "error") == 0 ? "ERROR" :
		    strcmp(el, "skipped") == 0 ? "SKIP" : NULL;

		if (!o)
			return;
		/* the worst of what a testcase holds */
		if (strcmp(j->outcome, "ERROR") != 0 &&
		    (strcmp(j->outcome, "FAIL") != 0 || strcmp(o, "ERROR") == 0))
			j->outcome = o;
		if ((v = attr(a, "message")))
			json_object_set_new(j->rec, "message", json_string(v));
		if ((v = attr(a, "type")))
			json_object_set_new(j->rec, "type", json_string(v));
		json_object_set_new(j->rec, "text", json_string(""));
		j->in_text = 1;
	}
}

static void XMLCALL
junit_text(void *arg, const XML_Char *s, int len)
{
	struct junit *j = arg;
	json_t *t;
	size_t old;
	char *buf;

	if (j->rc || !j->in_text || !(t = json_object_get(j->rec, "text")))
		return;
	old = json_string_length(t);
	if (old >= JUNIT_TEXT_MAX)
		return;
	if ((size_t)len > JUNIT_TEXT_MAX - old)
		len = (int)(JUNIT_TEXT_MAX - old);
	if (!(buf = malloc(old + (size_t)len))) {
		junit_stop(j, -ENOMEM);
		return;
	}
	memcpy(buf, json_string_value(t), old);
	memcpy(buf + old, s, (size_t)len);
	/* expat hands over whole characters: the cut is at one of them */
	if (json_string_setn(t, buf, old + (size_t)len) < 0)
		json_string_setn(t, buf, old);
	free(buf);
}

static void XMLCALL
junit_end(void *arg, const XML_Char *el)
{
	struct junit *j = arg;
	int rc;

	if (!j->rc && j->in_case && j->depth == j->in_case) {
		if ((rc = name_check(j->name, "test case")) < 0)
			junit_stop(j, store_prefixerr(rc, "result '%s', line "
			    "%lu", j->filename,
			    (unsigned long)XML_GetCurrentLineNumber(j->p)));
		else if ((rc = runs_add(j->filename, j->runs, run_new(j->name,
		    j->outcome, "junit", j->rec))) < 0)
			junit_stop(j, rc);
		json_decref(j->rec);
		j->rec = NULL;
		j->in_case = 0;
	} else if (!j->rc && j->in_case && j->depth == j->in_case + 1) {
		j->in_text = 0;
	} else if (!j->in_case && strcmp(el, "testsuite") == 0 &&
	    json_array_size(j->suite)) {
		json_array_remove(j->suite, json_array_size(j->suite) - 1);
	}
	j->depth--;
}

/* A DTD's entities could make a small file huge: none are taken. */
static void XMLCALL
junit_entity(void *arg, const XML_Char *name, int pe, const XML_Char *v,
    int vlen, const XML_Char *base, const XML_Char *sys, const XML_Char *pub,
    const XML_Char *notation)
{
	struct junit *j = arg;

	(void)name;
	(void)pe;
	(void)v;
	(void)vlen;
	(void)base;
	(void)sys;
	(void)pub;
	(void)notation;
	junit_stop(j, store_seterr(-EINVAL, "result '%s': XML entity "
	    "declarations are not accepted", j->filename));
}

static int
junit_runs(const char *filename, const char *buf, size_t len, json_t *runs)
{
	struct junit j = { NULL, filename, runs, json_array(), NULL, NULL,
	    "", 0, 0, 0, 0 };
	int rc;

	if (!(j.p = XML_ParserCreate("UTF-8")) || !j.suite) {
		if (j.p)
			XML_ParserFree(j.p);
		json_decref(j.suite);
		return -ENOMEM;
	}
	XML_SetUserData(j.p, &j);
	XML_SetElementHandler(j.p, junit_start, junit_end);
	XML_SetCharacterDataHandler(j.p, junit_text);
	XML_SetEntityDeclHandler(j.p, junit_entity);
	if (XML_Parse(j.p, buf, (int)len, XML_TRUE) == XML_STATUS_ERROR &&
	    j.rc == 0)
		j.rc = store_seterr(-EINVAL, "result '%s' is not valid XML "
		    "(line %lu: %s)", filename,
		    (unsigned long)XML_GetCurrentLineNumber(j.p),
		    XML_ErrorString(XML_GetErrorCode(j.p)));
	rc = j.rc;
	if (rc == 0 && json_array_size(runs) == 0)
		rc = store_seterr(-EINVAL, "result '%s' is XML without a "
		    "<testcase>: no run", filename);
	json_decref(j.rec);
	json_decref(j.suite);
	XML_ParserFree(j.p);
	return rc;
}

/* -- every form -------------------------------------------------------- */

/* A bare word: the test case is the file name without its extension. */
static int
word_run(const char *filename, const char *buf, size_t len, json_t *runs)
{
	char word[8], tc[256], *dot;
	const char *o;
	int rc;

	if (len >= sizeof(word))
		return store_seterr(-EINVAL, "result '%s' is none of JSON, TAP, "
		    "JUnit XML or the word PASS, FAIL, ERROR or SKIP", filename);
	memcpy(word, buf, len);
	word[len] = '\0';
	if (!(o = outcome_of(word)))
		return store_seterr(-EINVAL, "result '%s': unknown outcome "
		    "'%s' (" OUTCOMES ")", filename, word);
	snprintf(tc, sizeof(tc), "%s", filename);
	if ((dot = strrchr(tc, '.')) && dot != tc)
		*dot = '\0';
	if ((rc = name_check(tc, "test case")) < 0)
		return store_prefixerr(rc, "result '%s'", filename);
	return runs_add(filename, runs, run_new(tc, o, "word", NULL));
}

int
result_parse(const char *filename, const char *buf, size_t len,
    json_t **out)
{
	json_t *runs;
	size_t b = 0, e = len;
	int rc;

	if (len > RESULT_MAX)
		return store_seterr(-EFBIG, "result '%s' is larger than the "
		    "limit of %d bytes", filename, RESULT_MAX);
	if (!utf8_valid(buf, len) || memchr(buf, '\0', len))
		return store_seterr(-EINVAL, "result '%s' is not UTF-8 text",
		    filename);
	while (b < e && strchr(" \t\r\n", buf[b]))
		b++;
	while (e > b && strchr(" \t\r\n", buf[e - 1]))
		e--;
	if (e == b)
		return store_seterr(-EINVAL, "result '%s' is empty", filename);
	if (!(runs = json_array()))
		return -ENOMEM;
	if (buf[b] == '{' || buf[b] == '[')
		rc = json_runs(filename, buf + b, e - b, runs);
	else if (buf[b] == '<')
		rc = junit_runs(filename, buf + b, e - b, runs);
	else if (looks_tap(buf + b, e - b))
		rc = tap_runs(filename, buf + b, e - b, runs);
	else
		rc = word_run(filename, buf + b, e - b, runs);
	if (rc < 0) {
		json_decref(runs);
		return rc;
	}
	*out = runs;
	return 0;
}

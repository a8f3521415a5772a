/* crit.c - see crit.h. */
#define _GNU_SOURCE
#include "crit.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static int	check_rule(json_t *r, size_t i);
/*
 * The runs of one evaluation grouped by test case, so that a rule finds its
 * test case's runs by binary search instead of scanning every run: each
 * evaluation costs O(runs log runs), not O(test cases x runs).
 */
struct by_tc {
	const struct crit_run **v;	/* by test case, then time and number */
	size_t n;
	size_t *first;	/* where each test case starts in v, by first run */
	size_t ngroups;
};

static int	eval_rule(const struct crit_input *in, const struct by_tc *bt,
		    json_t *rule, json_t *unmet, json_t *evidence);
static int	waived(const struct crit_input *in, const char *testcase,
		    json_t *evidence);

/* Ten years: a soak longer than that is a typo, and no sum overflows. */
#define DURATION_MAX (10LL * 366 * 86400)

int
crit_duration(const char *s, int64_t *secs)
{
	char *end;
	long long v, unit;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (end == s || v < 0 || errno == ERANGE)
		return -EINVAL;
	if (*end == '\0' || strcmp(end, "s") == 0)
		unit = 1;
	else if (strcmp(end, "m") == 0)
		unit = 60;
	else if (strcmp(end, "h") == 0)
		unit = 3600;
	else if (strcmp(end, "d") == 0)
		unit = 86400;
	else
		return -EINVAL;
	/* compared before multiplying: v * unit never overflows */
	if (v > DURATION_MAX / unit)
		return -ERANGE;
	*secs = v * unit;
	return 0;
}

static int
is_count(json_t *v)
{
	return json_is_integer(v) && json_integer_value(v) >= 1;
}

static int
check_rule(json_t *r, size_t i)
{
	const char *key;
	json_t *v;
	int kinds = 0;

	if (!json_is_object(r))
		return store_seterr(-EINVAL, "criteria: rule %zu is not an "
		    "object", i + 1);
	json_object_foreach(r, key, v) {
		if (strcmp(key, "testcase") == 0) {
			if (!json_is_string(v) || !*json_string_value(v))
				return store_seterr(-EINVAL, "criteria: rule %zu:"
				    " testcase must be a name or glob", i + 1);
		} else if (strcmp(key, "consecutive") == 0) {
			kinds++;
			if (!is_count(v))
				return store_seterr(-EINVAL, "criteria: rule %zu:"
				    " consecutive must be a whole number >= 1",
				    i + 1);
		} else if (strcmp(key, "pass") == 0) {
			kinds++;
			if (!is_count(v) || !is_count(json_object_get(r, "of"))
			    || json_integer_value(v) >
			    json_integer_value(json_object_get(r, "of")))
				return store_seterr(-EINVAL, "criteria: rule %zu:"
				    " \"pass\": K needs \"of\": M with 1 <= K <= M",
				    i + 1);
		} else if (strcmp(key, "of") == 0) {
			if (!json_object_get(r, "pass"))
				return store_seterr(-EINVAL, "criteria: rule %zu:"
				    " \"of\" goes with \"pass\"", i + 1);
		} else if (strcmp(key, "ratio") == 0) {
			kinds++;
			if (!json_is_number(v) || json_number_value(v) < 0 ||
			    json_number_value(v) > 1 ||
			    !is_count(json_object_get(r, "min_runs")))
				return store_seterr(-EINVAL, "criteria: rule %zu:"
				    " \"ratio\" must be 0..1 with \"min_runs\": M",
				    i + 1);
		} else if (strcmp(key, "min_runs") == 0) {
			if (!json_object_get(r, "ratio"))
				return store_seterr(-EINVAL, "criteria: rule %zu:"
				    " \"min_runs\" goes with \"ratio\"", i + 1);
		} else if (strcmp(key, "where") == 0) {
			const char *wk;
			json_t *wv;

			if (!json_is_object(v))
				return store_seterr(-EINVAL, "criteria: rule %zu:"
				    " where must be an object", i + 1);
			json_object_foreach(v, wk, wv) {
				if ((strcmp(wk, "pod") && strcmp(wk, "installer")
				    && strcmp(wk, "scenario")) ||
				    !json_is_string(wv))
					return store_seterr(-EINVAL, "criteria: "
					    "rule %zu: where takes pod, installer "
					    "and scenario globs", i + 1);
			}
		} else if (strcmp(key, "golden") == 0) {
			if (!json_is_string(v) ||
			    name_check(json_string_value(v), "stage") < 0)
				return store_seterr(-EINVAL, "criteria: rule %zu:"
				    " golden must name a stage", i + 1);
		} else {
			return store_seterr(-EINVAL, "criteria: rule %zu: "
			    "unknown key '%s'", i + 1, key);
		}
	}
	if (!json_object_get(r, "testcase"))
		return store_seterr(-EINVAL, "criteria: rule %zu needs a "
		    "testcase", i + 1);
	if (kinds > 1)
		return store_seterr(-EINVAL, "criteria: rule %zu: at most one "
		    "of consecutive, pass/of, ratio", i + 1);
	return 0;
}

int
crit_check(json_t *c)
{
	const char *key;
	json_t *v, *r;
	int64_t secs;
	size_t i;
	int rc;

	if (!json_is_object(c))
		return store_seterr(-EINVAL, "criteria must be a JSON object");
	json_object_foreach(c, key, v) {
		if (strcmp(key, "after") == 0) {
			json_t *e;
			size_t k;
			int bad = !json_is_string(v) && (!json_is_array(v) ||
			    json_array_size(v) == 0 ||
			    json_array_size(v) > CRIT_AFTER_MAX);

			if (json_is_string(v))
				bad = name_check(json_string_value(v),
				    "stage") < 0;
			json_array_foreach(v, k, e)
				if (!json_is_string(e) || name_check(
				    json_string_value(e), "stage") < 0)
					bad = 1;
			if (bad)
				return store_seterr(-EINVAL, "criteria: after "
				    "must name a stage, or list up to 16 of "
				    "them");
		} else if (strcmp(key, "soak") == 0) {
			if (!json_is_string(v) ||
			    crit_duration(json_string_value(v), &secs) < 0)
				return store_seterr(-EINVAL, "criteria: soak must "
				    "be a duration such as \"24h\", \"30m\", "
				    "\"2d\" or \"90s\", at most ten years");
		} else if (strcmp(key, "approvals") == 0) {
			if (!json_is_integer(v) || json_integer_value(v) < 0)
				return store_seterr(-EINVAL, "criteria: approvals "
				    "must be a whole number >= 0");
		} else if (strcmp(key, "require") == 0) {
			if (!json_is_array(v))
				return store_seterr(-EINVAL, "criteria: require "
				    "must be an array of rules");
			json_array_foreach(v, i, r)
				if ((rc = check_rule(r, i)) < 0)
					return rc;
		} else if (strcmp(key, "automatic") == 0) {
			if (!json_is_boolean(v))
				return store_seterr(-EINVAL, "criteria: automatic "
				    "must be true or false");
		} else if (strcmp(key, "projects") == 0) {
			json_t *e;
			size_t k;
			int bad = !json_is_array(v) || json_array_size(v) == 0;

			json_array_foreach(v, k, e)
				if (!json_is_string(e) ||
				    !*json_string_value(e))
					bad = 1;
			if (bad)
				return store_seterr(-EINVAL, "criteria: projects "
				    "must list project names or globs");
		} else {
			return store_seterr(-EINVAL, "criteria: unknown key "
			    "'%s' (known: after, soak, approvals, require, "
			    "automatic, projects)", key);
		}
	}
	return 0;
}

int
crit_parse(const char *text, size_t len, json_t **out)
{
	return json_parse_checked(text, len, "criteria are not valid JSON",
	    crit_check, out);
}

static void
unmet_add(json_t *unmet, const char *type, const char *testcase,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
unmet_add(json_t *unmet, const char *type, const char *testcase,
    const char *fmt, ...)
{
	char detail[512];
	va_list ap;
	json_t *u = json_object();

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	json_object_set_new(u, "type", json_string(type));
	if (testcase)
		json_object_set_new(u, "testcase", json_string(testcase));
	json_object_set_new(u, "detail", json_string(detail));
	json_array_append_new(unmet, u);
}

int
crit_applies(const json_t *c, const char *project)
{
	const json_t *ps = json_object_get(c, "projects"), *p;
	size_t i;

	if (!ps)
		return 1;
	json_array_foreach(ps, i, p)
		if (json_is_string(p) &&
		    fnmatch(json_string_value(p), project, 0) == 0)
			return 1;
	return 0;
}

size_t
crit_afters(const json_t *c, const char **names, size_t max)
{
	const json_t *a = json_object_get(c, "after"), *v;
	size_t n = 0, i;

	if (json_is_string(a)) {
		if (max)
			names[0] = json_string_value(a);
		return 1;
	}
	json_array_foreach(a, i, v)
		if (json_is_string(v) && n < max)
			names[n++] = json_string_value(v);
	return n;
}

const char *
crit_unmet_label(const json_t *u, const char *key, char *buf, size_t len)
{
	const char *type = json_string_value(json_object_get(u, "type"));
	const char *what = json_string_value(json_object_get(u, key));

	snprintf(buf, len, "%s%s%s", type ? type : "", what ? " " : "",
	    what ? what : "");
	return buf;
}

static int
glob_ok(const char *pattern, const char *value)
{
	return fnmatch(pattern, value ? value : "", 0) == 0;
}

/* Does a run count for this rule (where, golden)? */
static int
run_counts(const struct crit_input *in, json_t *rule,
    const struct crit_run *r)
{
	json_t *where = json_object_get(rule, "where");
	const char *golden = json_string_value(json_object_get(rule,
	    "golden"));
	const char *g;

	if ((g = json_string_value(json_object_get(where, "pod"))) &&
	    !glob_ok(g, r->pod))
		return 0;
	if ((g = json_string_value(json_object_get(where, "installer"))) &&
	    !glob_ok(g, r->installer))
		return 0;
	if ((g = json_string_value(json_object_get(where, "scenario"))) &&
	    !glob_ok(g, r->scenario))
		return 0;
	if (golden && (!r->platform || !in->golden ||
	    !in->golden(in->golden_arg, r->platform, golden)))
		return 0;
	return 1;
}

static int
waived(const struct crit_input *in, const char *testcase, json_t *evidence)
{
	for (size_t i = 0; i < in->nwaivers; i++) {
		const struct crit_waiver *w = &in->waivers[i];

		if (strcmp(w->testcase, testcase) != 0)
			continue;
		if (w->expires && w->expires <= in->now)
			continue;
		if (w->scenario && !glob_ok(w->scenario, in->scenario))
			continue;
		json_array_append_new(evidence, json_pack("{s:s,s:s,s:s,s:s}",
		    "type", "waiver", "testcase", testcase, "reason",
		    w->reason ? w->reason : "", "by", w->user ? w->user : ""));
		return 1;
	}
	return 0;
}

/* Evaluate one rule for one test case over its counting runs. */
/* Recording order: by time, then by run number. */
static int
run_before(const struct crit_run *x, const struct crit_run *y)
{
	if (x->time != y->time)
		return x->time < y->time ? -1 : 1;
	return x->no < y->no ? -1 : x->no > y->no;
}

static int
run_cmp(const void *a, const void *b)
{
	const struct crit_run *x = *(const struct crit_run *const *)a;
	const struct crit_run *y = *(const struct crit_run *const *)b;
	int c = strcmp(x->testcase, y->testcase);

	return c ? c : run_before(x, y);
}

static int
first_cmp(const void *a, const void *b, void *arg)
{
	const struct crit_run *const *v = arg;

	return run_before(v[*(const size_t *)a], v[*(const size_t *)b]);
}

static int
by_tc_init(struct by_tc *bt, const struct crit_input *in)
{
	int sorted = 1;

	memset(bt, 0, sizeof(*bt));
	bt->v = calloc(in->nruns + 1, sizeof(*bt->v));
	bt->first = calloc(in->nruns + 1, sizeof(*bt->first));
	if (!bt->v || !bt->first) {
		free(bt->v);
		free(bt->first);
		return -ENOMEM;
	}
	for (size_t i = 0; i < in->nruns; i++) {
		bt->v[i] = &in->runs[i];
		if (i && sorted && run_cmp(&bt->v[i - 1], &bt->v[i]) > 0)
			sorted = 0;
	}
	bt->n = in->nruns;
	/* the index hands them over in this order, unless imported */
	if (!sorted)
		qsort(bt->v, bt->n, sizeof(*bt->v), run_cmp);
	for (size_t i = 0; i < bt->n; i++)
		if (i == 0 || strcmp(bt->v[i]->testcase,
		    bt->v[i - 1]->testcase) != 0)
			bt->first[bt->ngroups++] = i;
	/* globs visit test cases in the order they were first run */
	qsort_r(bt->first, bt->ngroups, sizeof(*bt->first), first_cmp, bt->v);
	return 0;
}

/* The runs of test case tc: [*lo, *hi) in bt->v. */
static void
by_tc_find(const struct by_tc *bt, const char *tc, size_t *lo, size_t *hi)
{
	size_t a = 0, b = bt->n;

	while (a < b) {
		size_t m = a + (b - a) / 2;

		if (strcmp(bt->v[m]->testcase, tc) < 0)
			a = m + 1;
		else
			b = m;
	}
	*lo = a;
	while (b < bt->n && strcmp(bt->v[b]->testcase, tc) == 0)
		b++;
	*hi = b;
}

static void
eval_testcase(const struct crit_input *in, const struct by_tc *bt,
    json_t *rule, const char *tc, json_t *unmet, json_t *evidence)
{
	const struct crit_run **v;
	size_t n = 0, need = 1, passes = 0, errors = 0, window, lo, hi;
	json_t *nos, *k;
	char kind[64] = "latest";

	by_tc_find(bt, tc, &lo, &hi);
	v = calloc(hi - lo + 1, sizeof(*v));
	if (!v)
		return;
	for (size_t i = lo; i < hi; i++)
		if (run_counts(in, rule, bt->v[i]))
			v[n++] = bt->v[i];
	if ((k = json_object_get(rule, "consecutive"))) {
		need = (size_t)json_integer_value(k);
		snprintf(kind, sizeof(kind), "consecutive %zu", need);
	}
	if (n == 0) {
		if (!waived(in, tc, evidence))
			unmet_add(unmet, "result-missing", tc, "no run of %s "
			    "counts for this rule", tc);
		free(v);
		return;
	}
	nos = json_array();
	if ((k = json_object_get(rule, "ratio"))) {
		size_t min = (size_t)json_integer_value(json_object_get(rule,
		    "min_runs"));
		double ratio = json_number_value(k);

		for (size_t i = 0; i < n; i++) {
			passes += v[i]->pass;
			json_array_append_new(nos, json_integer(
			    (json_int_t)v[i]->no));
		}
		snprintf(kind, sizeof(kind), "ratio %.2f of %zu+", ratio, min);
		if (n < min) {
			if (!waived(in, tc, evidence))
				unmet_add(unmet, "not-enough-runs", tc, "%zu of "
				    "%zu runs", n, min);
		} else if ((double)passes < ratio * (double)n) {
			if (!waived(in, tc, evidence))
				unmet_add(unmet, "result-failed", tc, "%zu of %zu "
				    "runs passed, below %.2f", passes, n, ratio);
		} else {
			goto met;
		}
		goto out;
	}
	if ((k = json_object_get(rule, "pass"))) {
		size_t want = (size_t)json_integer_value(k);
		size_t of = (size_t)json_integer_value(json_object_get(rule,
		    "of"));

		window = n < of ? n : of;
		for (size_t i = n - window; i < n; i++) {
			passes += v[i]->pass;
			json_array_append_new(nos, json_integer(
			    (json_int_t)v[i]->no));
		}
		snprintf(kind, sizeof(kind), "pass %zu of %zu", want, of);
		if (passes >= want)
			goto met;
		if (!waived(in, tc, evidence)) {
			if (n < of && passes + (of - n) >= want)
				unmet_add(unmet, "not-enough-runs", tc, "%zu of "
				    "the last %zu runs passed, %zu needed of %zu",
				    passes, n, want, of);
			else
				unmet_add(unmet, "result-failed", tc, "%zu of "
				    "the last %zu runs passed, %zu needed",
				    passes, window, want);
		}
		goto out;
	}
	/* latest, or the last N in a row */
	window = n < need ? n : need;
	for (size_t i = n - window; i < n; i++) {
		passes += v[i]->pass;
		errors += v[i]->error;
		json_array_append_new(nos, json_integer((json_int_t)v[i]->no));
	}
	if (passes < window) {
		/* an error is a failure, named as what it was */
		const char *how = errors == window - passes ?
		    "ended in an error" : "failed";

		if (waived(in, tc, evidence))
			goto out;
		if (need == 1)
			unmet_add(unmet, "result-failed", tc, "the latest run "
			    "(%llu) %s", (unsigned long long)v[n - 1]->no, how);
		else
			unmet_add(unmet, "result-failed", tc, "a run among the "
			    "last %zu %s", window, how);
		goto out;
	}
	if (n < need) {
		if (!waived(in, tc, evidence))
			unmet_add(unmet, "not-enough-runs", tc, "%zu passing "
			    "runs in a row, %zu needed", n, need);
		goto out;
	}
met:
	json_array_append_new(evidence, json_pack("{s:s,s:s,s:s,s:O}", "type",
	    "runs", "testcase", tc, "rule", kind, "runs", nos));
out:
	json_decref(nos);
	free(v);
}

static int
eval_rule(const struct crit_input *in, const struct by_tc *bt, json_t *rule,
    json_t *unmet, json_t *evidence)
{
	const char *pat = json_string_value(json_object_get(rule, "testcase"));
	size_t matched = 0;

	if (!strpbrk(pat, "*?[")) {
		eval_testcase(in, bt, rule, pat, unmet, evidence);
		return 0;
	}
	/* every matching test case must satisfy the rule; at least one */
	for (size_t g = 0; g < bt->ngroups; g++) {
		const char *tc = bt->v[bt->first[g]]->testcase;

		if (fnmatch(pat, tc, 0) != 0)
			continue;
		matched++;
		eval_testcase(in, bt, rule, tc, unmet, evidence);
	}
	if (matched == 0 && !waived(in, pat, evidence))
		unmet_add(unmet, "result-missing", pat, "no test case matches "
		    "'%s'", pat);
	return 0;
}

int
crit_eval(const struct crit_input *in, json_t **out)
{
	json_t *unmet, *evidence;
	json_int_t need_appr = 0;
	int64_t soak = 0, secs;
	const char *after = NULL, *names[CRIT_AFTER_MAX];
	char list[CRIT_AFTER_MAX * 260];
	struct by_tc bt;

	if (by_tc_init(&bt, in) < 0)
		return -ENOMEM;
	unmet = json_array();
	evidence = json_array();

	for (int l = 0; l < 3; l++) {
		json_t *c = in->layers[l], *r;
		size_t i;

		if (!c)
			continue;
		if (json_object_get(c, "after")) {
			size_t n = crit_afters(c, names, CRIT_AFTER_MAX);
			size_t used = 0;

			/* the stages it comes after, for people: "a, b" */
			list[0] = '\0';
			for (size_t k = 0; k < n && used < sizeof(list); k++)
				used += (size_t)snprintf(list + used,
				    sizeof(list) - used, "%s%s", k ? ", " : "",
				    names[k]);
			after = n ? list : NULL;
		}
		if (json_integer_value(json_object_get(c, "approvals")) >
		    need_appr)
			need_appr = json_integer_value(json_object_get(c,
			    "approvals"));
		if (crit_duration(json_string_value(json_object_get(c, "soak")),
		    &secs) == 0 && secs > soak)
			soak = secs;
		json_array_foreach(json_object_get(c, "require"), i, r)
			eval_rule(in, &bt, r, unmet, evidence);
	}
	if (in->revoked)
		unmet_add(unmet, "revoked", NULL, "the promotion was revoked; "
		    "relctl restore allows it again");
	if (in->hold)
		unmet_add(unmet, "stage-held", NULL, "the stage is held: %s",
		    in->hold);
	if (after && !in->after_promoted)
		unmet_add(unmet, "previous-stage-missing", NULL, "not promoted "
		    "to %s", after);
	else if (after && soak && in->after_at + soak > in->now)
		unmet_add(unmet, "soaking", NULL, "%lld s left in %s",
		    (long long)(in->after_at + soak - in->now), after);
	if (need_appr) {
		size_t distinct = 0;

		for (size_t i = 0; i < in->napprovals; i++) {
			size_t j;

			for (j = 0; j < i; j++)
				if (in->approvals[j].uid == in->approvals[i].uid)
					break;
			if (j == i) {
				distinct++;
				json_array_append_new(evidence, json_pack(
				    "{s:s,s:s,s:i}", "type", "approval", "by",
				    in->approvals[i].user ? in->approvals[i].user :
				    "", "uid", (json_int_t)in->approvals[i].uid));
			}
		}
		if ((json_int_t)distinct < need_appr)
			unmet_add(unmet, "approval-missing", NULL, "%zu of %lld "
			    "approvals", distinct, (long long)need_appr);
	}
	free(bt.v);
	free(bt.first);
	*out = json_pack("{s:b,s:o,s:o}", "promote",
	    json_array_size(unmet) == 0, "unmet", unmet, "evidence", evidence);
	return *out ? 0 : -ENOMEM;
}

int64_t
crit_next_wakeup(const struct crit_input *in)
{
	int64_t best = 0, soak = 0, secs;

	for (int l = 0; l < 3; l++)
		if (in->layers[l] && crit_duration(json_string_value(
		    json_object_get(in->layers[l], "soak")), &secs) == 0 &&
		    secs > soak)
			soak = secs;
	if (soak && in->after_promoted && in->after_at + soak > in->now)
		best = in->after_at + soak;
	for (size_t i = 0; i < in->nwaivers; i++)
		if (in->waivers[i].expires > in->now &&
		    (!best || in->waivers[i].expires < best))
			best = in->waivers[i].expires;
	return best;
}

/* OPNFV's reporting score of one test case's runs, oldest first. */
int
crit_score(const int *pass, size_t n)
{
	size_t passes = 0;

	for (size_t i = 0; i < n; i++)
		passes += pass[i] != 0;
	if (n == 0)
		return -1;
	if (passes == 0)
		return 0;
	if (n >= 4 && pass[n - 1] && pass[n - 2] && pass[n - 3] && pass[n - 4])
		return 3;
	return passes >= 2 ? 2 : 1;
}

/*
 * scenario.c - scenarios: scenario.json, their criteria, the artifacts
 * that name them, the links to the newest promoted ones, and their status.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "formats.h"
#include "stage_impl.h"

/* The (stage, project) pairs promoted in a scenario, into an object. */
static int
promoted_pair(void *arg, const char *key, size_t keylen, const void *val,
    size_t vallen)
{
	json_t *pairs = arg;
	json_t *j = json_loadb(val, vallen, JSON_REJECT_DUPLICATES, NULL);
	const char *s = json_string_value(json_object_get(j, "scenario"));
	const char *want = json_string_value(json_object_get(pairs, ""));
	size_t sl = strnlen(key, keylen);

	/* key: stage NUL project NUL version */
	if (j && s && want && strcmp(s, want) == 0 && sl < keylen &&
	    !json_object_get(j, "revoked")) {
		char pair[700];

		snprintf(pair, sizeof(pair), "%.*s/%.*s", (int)sl, key,
		    (int)strnlen(key + sl + 1, keylen - sl - 1), key + sl + 1);
		json_object_set_new(pairs, pair, json_true());
	}
	json_decref(j);
	return 0;
}

int
store_scenario_create(struct store *st, const char *name,
    const struct store_user *who)
{
	json_t *pairs, *v;
	const char *pair;
	struct ctx c;
	int rc = entity_create(st, &scenario_entity, name, who);

	if (rc < 0)
		return rc;
	/*
	 * Artifacts of the scenario promoted before it existed get their
	 * scenarios/<s>/<stage>/<p> links now (as a rebuild makes them).
	 */
	if ((rc = txn_begin(&c, st, who)) < 0)
		return rc;
	pairs = json_pack("{s:s}", "", name);
	rc = index_scan(st->ix, c.txn, TAB_PROMO, "", 0, promoted_pair, pairs);
	json_object_foreach(pairs, pair, v) {
		char stage[350];
		const char *slash = strchr(pair, '/');

		if (rc < 0 || !*pair || !slash)
			continue;
		snprintf(stage, sizeof(stage), "%.*s", (int)(slash - pair),
		    pair);
		rc = members_link_update(&c, name, stage, slash + 1);
	}
	json_decref(pairs);
	return txn_finish(&c, rc);
}

/* Check scenario.json: projects (required), installer(s), description. */
static int
scenario_check(json_t *j)
{
	const char *k;
	json_t *v, *p;
	size_t i;

	if (!json_is_object(j))
		return store_seterr(-EINVAL, "scenario.json must be a JSON "
		    "object");
	json_object_foreach(j, k, v) {
		if (strcmp(k, "projects") == 0) {
			if (!json_is_array(v) || json_array_size(v) == 0)
				return store_seterr(-EINVAL, "scenario.json: "
				    "projects must be a non-empty list of project "
				    "names");
			json_array_foreach(v, i, p)
				if (!json_is_string(p) || name_check(
				    json_string_value(p), "project") < 0)
					return store_seterr(-EINVAL,
					    "scenario.json:"
					    " projects must be project names");
		} else if (strcmp(k, "installer") == 0 ||
		    strcmp(k, "installers") == 0) {
			if (json_is_string(v))
				continue;
			if (!json_is_array(v))
				return store_seterr(-EINVAL,
				    "scenario.json: %s "
				    "must be a name or a list of names", k);
			json_array_foreach(v, i, p)
				if (!json_is_string(p))
					return store_seterr(-EINVAL, "scenario."
					    "json: %s must be names", k);
		} else if (strcmp(k, "description") == 0 ||
		    strcmp(k, "components") == 0) {
			if (!json_is_string(v) && !json_is_array(v))
				return store_seterr(-EINVAL, "scenario.json: "
				    "%s must be text or a list", k);
		} else {
			return store_seterr(-EINVAL,
			    "scenario.json: unknown key "
			    "'%s' (known: installer, installers, projects, "
			    "components, description)", k);
		}
	}
	if (!json_object_get(j, "projects"))
		return store_seterr(-EINVAL, "scenario.json must list its "
		    "projects");
	return 0;
}

int
scenario_json_parse(const char *text, size_t len, json_t **out)
{
	return json_parse_checked(text, len, "scenario.json is not valid JSON",
	    scenario_check, out);
}

int
store_scenario_set(struct store *st, const char *name, const char *text,
    size_t len, const struct store_user *who)
{
	json_t *rec = NULL, *j = NULL, *files = NULL;
	struct ctx c;
	int rc;

	if ((rc = store_may(st, who, STORE_ROLE_MANAGER,
	    "setting a scenario")) < 0)
		return rc;
	if ((rc = scenario_json_parse(text, len, &j)) < 0)
		return rc;
	if ((rc = txn_begin(&c, st, who)) < 0) {
		json_decref(j);
		return rc;
	}
	files = json_array();
	if (!(rec = entity_rec_get(&c, "c:%s%s", name, NULL))) {
		rc = store_seterr(-ENOENT, "scenario '%s' does not exist",
		    name);
		goto out;
	}
	rc = entity_save(&c, &scenario_entity, name, rec, j, text, len, files);
out:
	json_decref(rec);
	json_decref(j);
	json_decref(files);
	return txn_finish(&c, rc);
}

static int
eval_member(struct ctx *c, uint64_t art, const char *artkey, void *arg)
{
	(void)arg;
	return promote_eval_artifact(c, art, artkey);
}

int
scenario_eval(struct ctx *c, const char *scenario)
{
	return members_each(c, scenario, eval_member, NULL);
}

struct score_ctx {
	json_t *by_tc;		/* testcase -> [[time, pass]...] */
};

static int
score_member(struct ctx *c, uint64_t art, const char *artkey, void *arg)
{
	struct score_ctx *sc = arg;
	struct gather g = { json_array(), NULL, 0, 0, NULL, 0, NULL, 0 };
	uint64_t be = htobe64(art);
	int rc;

	(void)artkey;
	rc = index_scan(c->st->ix, c->txn, TAB_RUNS, &be, 8,
	    promote_gather_run, &g);
	for (size_t i = 0; rc == 0 && i < g.nruns; i++) {
		json_t *l = json_object_get(sc->by_tc, g.runs[i].testcase);

		if (!l) {
			l = json_array();
			json_object_set_new(sc->by_tc, g.runs[i].testcase, l);
		}
		json_array_append_new(l, json_pack("[I,b]",
		    (json_int_t)g.runs[i].time, g.runs[i].pass));
	}
	promote_gather_free(&g);
	return rc;
}

static int
by_time(const void *a, const void *b)
{
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	json_int_t tx = json_integer_value(json_array_get(x, 0));
	json_int_t ty = json_integer_value(json_array_get(y, 0));

	return tx < ty ? -1 : tx > ty;
}

int
store_scenario_status(struct store *st, const char *scenario, json_t **out)
{
	struct ctx c = { st, NULL, NULL, store_now(st), 0, NULL };
	struct stage_list l = { NULL, 0 };
	struct score_ctx sc = { json_object() };
	json_t *rec = NULL, *stages = json_object(), *scores = json_object();
	json_t *projects, *p, *runs;
	const char *tc;
	size_t i;
	int rc;

	if ((rc = index_begin(st->ix, 1, &c.txn)) < 0)
		goto out;
	if (!(rec = entity_rec_get(&c, "c:%s%s", scenario, NULL))) {
		rc = store_seterr(-ENOENT, "scenario '%s' does not exist",
		    scenario);
		goto out;
	}
	projects = json_object_get(json_object_get(rec, "scenario"),
	    "projects");
	/* in pipeline order (the README says so) */
	if ((rc = txn_stage_names(st, c.txn, &l)) < 0 ||
	    (rc = txn_stage_order(&c, &l)) < 0)
		goto out;
	for (size_t s = 0; s < l.n; s++) {
		json_t *per = json_object();

		json_array_foreach(projects, i, p) {
			char version[300];

			if (members_newest_promoted(&c, scenario, l.names[s],
			    json_string_value(p), version) == 0)
				json_object_set_new(per, json_string_value(p),
				    json_pack("{s:b,s:s}", "promoted", 1,
				    "version", version));
			else
				json_object_set_new(per, json_string_value(p),
				    json_pack("{s:b,s:s}", "promoted", 0,
				    "missing", "no artifact of this scenario "
				    "and project is promoted to the stage"));
		}
		json_object_set_new(stages, l.names[s], per);
	}
	if ((rc = members_each(&c, scenario, score_member, &sc)) < 0)
		goto out;
	json_object_foreach(sc.by_tc, tc, runs) {
		size_t n = json_array_size(runs);
		json_t **v = calloc(n + 1, sizeof(*v));
		int *pass = calloc(n + 1, sizeof(*pass));

		for (i = 0; v && pass && i < n; i++)
			v[i] = json_array_get(runs, i);
		if (v && pass) {
			qsort(v, n, sizeof(*v), by_time);
			for (i = 0; i < n; i++)
				pass[i] = json_is_true(json_array_get(v[i], 1));
			json_object_set_new(scores, tc, json_integer(
			    crit_score(pass, n)));
		}
		free(v);
		free(pass);
	}
	/* test cases the scenario's criteria name but nothing ran: -1 */
	for (size_t s = 0; s < l.n; s++) {
		json_t *crit = members_criteria(&c, scenario, l.names[s]), *r;

		json_array_foreach(json_object_get(crit, "require"), i, r) {
			const char *name = json_string_value(json_object_get(r,
			    "testcase"));

			if (name && !strpbrk(name, "*?[") &&
			    !json_object_get(scores, name))
				json_object_set_new(scores, name,
				    json_integer(-1));
		}
		json_decref(crit);
	}
	{
		json_t *order = json_array();

		for (size_t s = 0; s < l.n; s++)
			json_array_append_new(order, json_string(l.names[s]));
		*out = json_pack("{s:s,s:O,s:o,s:o,s:o}", "scenario", scenario,
		    "projects", projects ? projects : json_null(), "stages",
		    stages, "scores", scores, "order", order);
	}
	stages = scores = NULL;
out:
	index_abort(c.txn);
	txn_stage_list_free(&l);
	json_decref(rec);
	json_decref(stages);
	json_decref(scores);
	json_decref(sc.by_tc);
	return rc;
}

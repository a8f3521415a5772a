/*
 * release.c - scenarios and umbrella releases.
 *
 * A scenario (scenarios/<s>/scenario.json) names its installer(s) and the
 * projects whose artifacts make it up; artifacts name their scenario at
 * publish time.  scenarios/<s>/<stage>/<project> follows the newest artifact
 * of that scenario and project promoted to the stage.  An umbrella release
 * (releases/<r>/release.json) names a target time, the stage that counts
 * and common criteria; scenarios take part by creating participants/<s>;
 * the freeze records, for every ready participant, the exact artifacts.
 *
 * Keys in the "stage" table: "c:<scenario>" (scenario), "x:<s>/<stage>"
 * (scenario criteria), "m:<s>\0<p>/<v>" (the scenario's artifacts),
 * "r:<release>" (release), "q:<release>\0<scenario>" (participant).
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

static json_t *
rec_get(struct ctx *c, const char *fmt, const char *a, const char *b)
{
	char key[700];
	int n = snprintf(key, sizeof(key), fmt, a, b ? b : "");

	return get_json(c, TAB_STAGE, key, (size_t)n);
}

static int
rec_put(struct ctx *c, json_t *j, const char *fmt, const char *a,
    const char *b)
{
	char key[700];
	int n = snprintf(key, sizeof(key), fmt, a, b ? b : "");

	return put_json(c, TAB_STAGE, key, (size_t)n, j);
}

/* "q:<r>\0<s>" and "m:<s>\0<p>/<v>": a NUL between the two names. */
static size_t
pair_key(char *buf, char tag, const char *a, const char *b)
{
	size_t la = strlen(a), lb = b ? strlen(b) : 0;

	buf[0] = tag;
	buf[1] = ':';
	memcpy(buf + 2, a, la);
	buf[2 + la] = '\0';
	if (b)
		memcpy(buf + 3 + la, b, lb);
	return 3 + la + lb;
}

/* The whole record in the ledger too, so a rebuild gets it back. */
static void
ledger_record(json_t *files, const char *kind, const char *name,
    json_t *rec)
{
	char lpath[600], *text;
	size_t len;

	text = json_text(rec, &len);
	if (!text)
		return;
	snprintf(lpath, sizeof(lpath), "%s/%s/record.json", kind, name);
	add_data(files, lpath, text, len);
	free(text);
}

/* -- scenarios ------------------------------------------------------ */

int
scenario_note_artifact(struct store *st, MDB_txn *txn, const char *scenario,
    const char *artkey)
{
	char key[800];

	if (!scenario || !*scenario)
		return 0;
	return index_put_raw(st->ix, txn, TAB_STAGE, key,
	    pair_key(key, 'm', scenario, artkey), "", 0, 0);
}

static int
scenario_dir(struct ctx *c, const char *scenario, uint64_t *ino)
{
	return index_lookup(c->st->ix, c->txn, INO_SCENARIOS, scenario, ino);
}

static int
set_role(struct ctx *c, uint64_t dir, const char *name, uint8_t role)
{
	struct node n;
	uint64_t ino;
	int rc;

	if ((rc = index_lookup(c->st->ix, c->txn, dir, name, &ino)) < 0 ||
	    (rc = index_node_get(c->st->ix, c->txn, ino, &n)) < 0)
		return rc;
	n.role = role;
	return index_node_put(c->st->ix, c->txn, ino, &n);
}

/* What a scenario and a release have alike: a record, a directory with a
 * sub-directory, status and status.json. */
struct entity {
	const char *kind;	/* "scenario", "release" */
	const char *ledger;	/* "scenarios", "releases" */
	const char *fmt;	/* record key */
	uint64_t top;
	uint8_t role, sub_role, status_role, status_json_role;
	const char *sub;
};

static const struct entity scenario_entity = { "scenario", "scenarios",
	"c:%s%s", INO_SCENARIOS, ROLE_SCENARIO, ROLE_SCENARIO_CRITERIA,
	ROLE_SCENARIO_STATUS, ROLE_SCENARIO_STATUS_JSON, "criteria" };
static const struct entity release_entity = { "release", "releases",
	"r:%s%s", INO_RELEASES, ROLE_RELEASE, ROLE_PARTICIPANTS,
	ROLE_RELEASE_STATUS, ROLE_RELEASE_STATUS_JSON, "participants" };

/* The nodes of an entity (creation and rebuild). */
static int
entity_nodes(struct ctx *c, const struct entity *e, const char *name)
{
	uint64_t dir, sub;
	int rc;

	if ((rc = ensure_dir(c, e->top, name, e->role, 0755, &dir)) < 0 ||
	    (rc = ensure_dir(c, dir, e->sub, e->sub_role, 0755, &sub)) < 0 ||
	    (rc = put_text(c, dir, "status", "", 0, 0)) < 0 ||
	    (rc = put_text(c, dir, "status.json", "", 0, 0)) < 0 ||
	    (rc = set_role(c, dir, "status", e->status_role)) < 0)
		return rc;
	return set_role(c, dir, "status.json", e->status_json_role);
}

static int
entity_create(struct store *st, const struct entity *e, const char *name,
    const struct store_user *who)
{
	json_t *rec = NULL, *files = NULL, *old;
	char msg[600];
	struct ctx c;
	int rc;

	snprintf(msg, sizeof(msg), "creating a %s", e->kind);
	if ((rc = store_may(st, who, STORE_ROLE_MANAGER, msg)) < 0 ||
	    (rc = name_check(name, e->kind)) < 0)
		return rc;
	if ((rc = chg_begin(&c, st, who)) < 0)
		return rc;
	files = json_array();
	if ((old = rec_get(&c, e->fmt, name, NULL))) {
		json_decref(old);
		rc = store_seterr(-EEXIST, "%s '%s' already exists", e->kind,
		    name);
		goto out;
	}
	rec = json_pack("{s:s}", "name", name);
	who_json(rec, "created", who, c.now);
	if ((rc = rec_put(&c, rec, e->fmt, name, NULL)) < 0 ||
	    (rc = entity_nodes(&c, e, name)) < 0)
		goto out;
	ledger_record(files, e->ledger, name, rec);
	snprintf(msg, sizeof(msg), "create %s %s", e->kind, name);
	rc = queue_change(st, c.txn, who, c.now, msg, files);
	if (rc == 0) {
		snprintf(msg, sizeof(msg), "%s.created", e->kind);
		rc = event_named(st, c.txn, msg, who, c.now, NULL, e->kind,
		    name, NULL);
	}
out:
	json_decref(rec);
	json_decref(files);
	return chg_finish(&c, rc);
}

/*
 * The document of an entity (scenario.json, release.json): into its record,
 * its file in the tree, and the ledger, as one change.
 */
static int
entity_save(struct ctx *c, const struct entity *e, const char *name,
    json_t *rec, json_t *doc, const char *text, size_t len, json_t *files)
{
	char file[64], lpath[900];
	uint64_t dir;
	int rc;

	snprintf(file, sizeof(file), "%s.json", e->kind);
	json_object_set(rec, e->kind, doc);
	who_json(rec, "set", c->who, c->now);
	if ((rc = rec_put(c, rec, e->fmt, name, NULL)) < 0 ||
	    (rc = index_lookup(c->st->ix, c->txn, e->top, name, &dir)) < 0 ||
	    (rc = put_text(c, dir, file, text, len, 0)) < 0)
		return rc;
	snprintf(lpath, sizeof(lpath), "%s/%s/%s", e->ledger, name, file);
	add_data(files, lpath, text, len);
	ledger_record(files, e->ledger, name, rec);
	snprintf(lpath, sizeof(lpath), "%s %s", e->kind, name);
	if ((rc = queue_change(c->st, c->txn, c->who, c->now, lpath,
	    files)) < 0)
		return rc;
	snprintf(lpath, sizeof(lpath), "%s.changed", e->kind);
	return event_named(c->st, c->txn, lpath, c->who, c->now, NULL, e->kind,
	    name, NULL);
}

int
store_scenario_create(struct store *st, const char *name,
    const struct store_user *who)
{
	return entity_create(st, &scenario_entity, name, who);
}

int
store_release_create(struct store *st, const char *name,
    const struct store_user *who)
{
	return entity_create(st, &release_entity, name, who);
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
					return store_seterr(-EINVAL, "scenario.json:"
					    " projects must be project names");
		} else if (strcmp(k, "installer") == 0 ||
		    strcmp(k, "installers") == 0) {
			if (json_is_string(v))
				continue;
			if (!json_is_array(v))
				return store_seterr(-EINVAL, "scenario.json: %s "
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
			return store_seterr(-EINVAL, "scenario.json: unknown key "
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
	if ((rc = chg_begin(&c, st, who)) < 0) {
		json_decref(j);
		return rc;
	}
	files = json_array();
	if (!(rec = rec_get(&c, "c:%s%s", name, NULL))) {
		rc = store_seterr(-ENOENT, "scenario '%s' does not exist", name);
		goto out;
	}
	rc = entity_save(&c, &scenario_entity, name, rec, j, text, len, files);
out:
	json_decref(rec);
	json_decref(j);
	json_decref(files);
	return chg_finish(&c, rc);
}

json_t *
scenario_criteria(struct ctx *c, const char *scenario, const char *stage)
{
	json_t *r, *crit;

	if (!scenario || !*scenario)
		return NULL;
	r = rec_get(c, "x:%s/%s", scenario, stage);
	crit = json_incref(json_object_get(r, "criteria"));
	json_decref(r);
	return crit;
}

struct member_ctx {
	struct ctx *c;
	const char *scenario;
	int rc;
	int (*fn)(struct ctx *c, uint64_t art, const char *artkey, void *arg);
	void *arg;
	size_t plen;
};

static int
member_one(void *arg, const char *key, size_t keylen, const void *val,
    size_t vallen)
{
	struct member_ctx *m = arg;
	char artkey[600];
	struct art_rec rec;

	(void)val;
	(void)vallen;
	snprintf(artkey, sizeof(artkey), "%.*s", (int)(keylen - m->plen),
	    key + m->plen);
	if (index_get(m->c->st->ix, m->c->txn, TAB_ARTIFACT, artkey, &rec,
	    sizeof(rec)) < 0)
		return 0;
	m->rc = m->fn(m->c, rec.ino, artkey, m->arg);
	return m->rc < 0 ? m->rc : 0;
}

/* Call fn for every artifact of a scenario. */
static int
each_member(struct ctx *c, const char *scenario,
    int (*fn)(struct ctx *, uint64_t, const char *, void *), void *arg)
{
	struct member_ctx m = { c, scenario, 0, fn, arg, 0 };
	char prefix[400];
	int rc;

	m.plen = pair_key(prefix, 'm', scenario, NULL);
	rc = index_scan(c->st->ix, c->txn, TAB_STAGE, prefix, m.plen,
	    member_one, &m);
	return rc < 0 ? rc : m.rc;
}

static int
eval_member(struct ctx *c, uint64_t art, const char *artkey, void *arg)
{
	(void)arg;
	return eval_artifact(c, art, artkey);
}

int
eval_scenario(struct ctx *c, const char *scenario)
{
	return each_member(c, scenario, eval_member, NULL);
}

/* The newest promotion to stage of project, for scenario, not revoked. */
struct newest_sc {
	const char *scenario;
	char version[300];
	int64_t at;
};

static int
newest_in_scenario(void *arg, const char *key, size_t keylen,
    const void *val, size_t vallen)
{
	struct newest_sc *n = arg;
	json_t *j = json_loadb(val, vallen, JSON_REJECT_DUPLICATES, NULL);
	const char *s = json_string_value(json_object_get(j, "scenario"));
	int64_t at = parse_iso(json_string_value(json_object_get(j, "at")));

	(void)key;
	(void)keylen;
	if (j && s && strcmp(s, n->scenario) == 0 &&
	    !json_object_get(j, "revoked") && at >= n->at) {
		n->at = at;
		snprintf(n->version, sizeof(n->version), "%s",
		    json_string_value(json_object_get(j, "version")));
	}
	json_decref(j);
	return 0;
}

static int
newest_promoted(struct ctx *c, const char *scenario, const char *stage,
    const char *project, char *version)
{
	struct newest_sc n = { scenario, "", -1 };
	char prefix[800];
	size_t plen = (size_t)snprintf(prefix, sizeof(prefix), "%s%c%s%c",
	    stage, 0, project, 0);
	int rc = index_scan(c->st->ix, c->txn, TAB_PROMO, prefix, plen,
	    newest_in_scenario, &n);

	if (rc < 0)
		return rc;
	if (!n.version[0])
		return -ENOENT;
	snprintf(version, 300, "%s", n.version);
	return 0;
}

int
scenario_link_update(struct ctx *c, const char *scenario, const char *stage,
    const char *project)
{
	char version[300], target[800];
	uint64_t sdir, gdir;
	int rc;

	if (!scenario || !*scenario || scenario_dir(c, scenario, &sdir) < 0)
		return 0;	/* no such scenario (yet): nothing to show */
	if ((rc = ensure_dir(c, sdir, stage, ROLE_NONE, 0555, &gdir)) < 0)
		return rc;
	rc = newest_promoted(c, scenario, stage, project, version);
	if (rc == -ENOENT) {
		rc = index_unlink(c->st->ix, c->txn, gdir, project);
		return rc == -ENOENT ? 0 : rc < 0 ? rc : touch_dir(c, gdir, 0);
	}
	if (rc < 0)
		return rc;
	snprintf(target, sizeof(target), "../../../artifacts/%s/%s", project,
	    version);
	return put_link(c, gdir, project, target);
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
	rc = index_scan(c->st->ix, c->txn, TAB_RUNS, &be, 8, gather_run, &g);
	for (size_t i = 0; rc == 0 && i < g.nruns; i++) {
		json_t *l = json_object_get(sc->by_tc, g.runs[i].testcase);

		if (!l) {
			l = json_array();
			json_object_set_new(sc->by_tc, g.runs[i].testcase, l);
		}
		json_array_append_new(l, json_pack("[I,b]",
		    (json_int_t)g.runs[i].time, g.runs[i].pass));
	}
	gather_free(&g);
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
	struct ctx c = { st, NULL, NULL, time(NULL), 0 };
	struct stage_list l = { NULL, 0 };
	struct score_ctx sc = { json_object() };
	json_t *rec = NULL, *stages = json_object(), *scores = json_object();
	json_t *projects, *p, *runs;
	const char *tc;
	size_t i;
	int rc;

	if ((rc = index_begin(st->ix, 1, &c.txn)) < 0)
		goto out;
	if (!(rec = rec_get(&c, "c:%s%s", scenario, NULL))) {
		rc = store_seterr(-ENOENT, "scenario '%s' does not exist",
		    scenario);
		goto out;
	}
	projects = json_object_get(json_object_get(rec, "scenario"),
	    "projects");
	if ((rc = stage_names(st, c.txn, &l)) < 0)
		goto out;
	for (size_t s = 0; s < l.n; s++) {
		json_t *per = json_object();

		json_array_foreach(projects, i, p) {
			char version[300];

			if (newest_promoted(&c, scenario, l.names[s],
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
	if ((rc = each_member(&c, scenario, score_member, &sc)) < 0)
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
		json_t *crit = scenario_criteria(&c, scenario, l.names[s]), *r;

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
	*out = json_pack("{s:s,s:O,s:o,s:o}", "scenario", scenario,
	    "projects", projects ? projects : json_null(), "stages", stages,
	    "scores", scores);
	stages = scores = NULL;
out:
	index_abort(c.txn);
	stage_list_free(&l);
	json_decref(rec);
	json_decref(stages);
	json_decref(scores);
	json_decref(sc.by_tc);
	return rc;
}

/* -- umbrella releases ---------------------------------------------- */

static int
release_dir(struct ctx *c, const char *release, uint64_t *ino)
{
	return index_lookup(c->st->ix, c->txn, INO_RELEASES, release, ino);
}


/* The record of a release, or -ENOENT with a message. */
static int
release_rec(struct ctx *c, const char *release, json_t **rec)
{
	if (!(*rec = rec_get(c, "r:%s%s", release, NULL)))
		return store_seterr(-ENOENT, "release '%s' does not exist",
		    release);
	return 0;
}

static int
frozen_refusal(json_t *rec, const char *release)
{
	if (json_object_get(rec, "frozen"))
		return store_seterr(-EROFS, "release '%s' is frozen: it never "
		    "changes again", release);
	return 0;
}

/* Check release.json: stage (required), target, require, description. */
static int
release_check(json_t *j)
{
	const char *k;
	json_t *v;
	int rc;

	if (!json_is_object(j))
		return store_seterr(-EINVAL, "release.json is not a JSON object");
	json_object_foreach(j, k, v) {
		if (strcmp(k, "target") && strcmp(k, "stage") &&
		    strcmp(k, "require") && strcmp(k, "description"))
			return store_seterr(-EINVAL, "release.json: unknown key "
			    "'%s' (known: target, stage, require, description)",
			    k);
	}
	if (!json_is_string(json_object_get(j, "stage")))
		return store_seterr(-EINVAL, "release.json must name the stage "
		    "that counts (\"stage\")");
	if (json_object_get(j, "target") && !parse_iso(json_string_value(
	    json_object_get(j, "target"))))
		return store_seterr(-EINVAL, "release.json: target must be an "
		    "ISO-8601 UTC time such as 2027-05-01T00:00:00Z");
	v = json_object_get(j, "require");
	v = json_pack("{s:o}", "require", v ? json_incref(v) : json_array());
	rc = crit_check(v);
	json_decref(v);
	return rc < 0 ? store_prefixerr(rc, "release.json") : 0;
}

int
release_json_parse(const char *text, size_t len, json_t **out)
{
	return json_parse_checked(text, len, "release.json is not a JSON "
	    "object", release_check, out);
}

int
store_release_set(struct store *st, const char *release, const char *text,
    size_t len, const struct store_user *who)
{
	json_t *rec = NULL, *j = NULL, *files = NULL, *srec;
	struct ctx c;
	int rc;

	if ((rc = store_may(st, who, STORE_ROLE_MANAGER,
	    "setting a release")) < 0)
		return rc;
	if ((rc = release_json_parse(text, len, &j)) < 0)
		return rc;
	if ((rc = chg_begin(&c, st, who)) < 0) {
		json_decref(j);
		return rc;
	}
	files = json_array();
	if ((rc = release_rec(&c, release, &rec)) < 0 ||
	    (rc = frozen_refusal(rec, release)) < 0)
		goto out;
	srec = stage_rec(&c, json_string_value(json_object_get(j, "stage")));
	json_decref(srec);
	if (!srec) {
		rc = store_seterr(-EINVAL, "release.json: stage '%s' does not "
		    "exist", json_string_value(json_object_get(j, "stage")));
		goto out;
	}
	rc = entity_save(&c, &release_entity, release, rec, j, text, len,
	    files);
out:
	json_decref(rec);
	json_decref(j);
	json_decref(files);
	return chg_finish(&c, rc);
}

int
store_participant_add(struct store *st, const char *release,
    const char *scenario, const char *text, size_t len,
    const struct store_user *who)
{
	json_t *rec = NULL, *srec = NULL, *p = NULL, *files = NULL;
	char key[800], lpath[900], *owner = NULL, *ptext = NULL;
	uint64_t rdir, pdir;
	struct ctx c;
	size_t plen;
	int rc;

	if ((rc = store_may(st, who, STORE_ROLE_MANAGER,
	    "adding a participant")) < 0)
		return rc;
	if (!utf8_valid(text, len))
		return store_seterr(-EINVAL, "participant: not UTF-8 text");
	if ((rc = chg_begin(&c, st, who)) < 0)
		return rc;
	files = json_array();
	if ((rc = release_rec(&c, release, &rec)) < 0 ||
	    (rc = frozen_refusal(rec, release)) < 0)
		goto out;
	if (!(srec = rec_get(&c, "c:%s%s", scenario, NULL))) {
		rc = store_seterr(-EINVAL, "participants/%s: there is no "
		    "scenario '%s' (mkdir scenarios/%s first)", scenario,
		    scenario, scenario);
		goto out;
	}
	owner = trimmed(text, len);
	p = json_pack("{s:s,s:s,s:s%}", "scenario", scenario, "notes",
	    owner ? owner : "", "text", text, len);
	who_json(p, "joined", who, c.now);
	if ((rc = put_json(&c, TAB_STAGE, key, pair_key(key, 'q', release,
	    scenario), p)) < 0 ||
	    (rc = release_dir(&c, release, &rdir)) < 0 ||
	    (rc = index_lookup(st->ix, c.txn, rdir, "participants",
	    &pdir)) < 0 ||
	    (rc = put_text(&c, pdir, scenario, text, len, NODE_VOLATILE)) < 0)
		goto out;
	ptext = json_text(p, &plen);
	snprintf(lpath, sizeof(lpath), "releases/%s/participants/%s.json",
	    release, scenario);
	add_data(files, lpath, ptext, plen);
	snprintf(lpath, sizeof(lpath), "%s joins release %s", scenario,
	    release);
	if ((rc = queue_change(st, c.txn, who, c.now, lpath, files)) == 0)
		rc = event_named(st, c.txn, "participant.added", who, c.now,
		    NULL, "release", release, "scenario", scenario, NULL);
out:
	free(owner);
	free(ptext);
	json_decref(p);
	json_decref(rec);
	json_decref(srec);
	json_decref(files);
	return chg_finish(&c, rc);
}

int
store_participant_withdraw(struct store *st, const char *release,
    const char *scenario, const struct store_user *who)
{
	json_t *rec = NULL, *files = NULL;
	char key[800], lpath[900];
	uint64_t rdir, pdir;
	struct ctx c;
	int rc;

	if ((rc = store_may(st, who, STORE_ROLE_MANAGER,
	    "withdrawing a participant")) < 0)
		return rc;
	if ((rc = chg_begin(&c, st, who)) < 0)
		return rc;
	files = json_array();
	if ((rc = release_rec(&c, release, &rec)) < 0 ||
	    (rc = frozen_refusal(rec, release)) < 0)
		goto out;
	rc = index_del_raw(st->ix, c.txn, TAB_STAGE, key, pair_key(key, 'q',
	    release, scenario));
	if (rc == -ENOENT)
		rc = store_seterr(-ENOENT, "%s does not take part in %s",
		    scenario, release);
	if (rc < 0 || (rc = release_dir(&c, release, &rdir)) < 0 ||
	    (rc = index_lookup(st->ix, c.txn, rdir, "participants",
	    &pdir)) < 0 || (rc = index_unlink(st->ix, c.txn, pdir,
	    scenario)) < 0 || (rc = touch_dir(&c, pdir, 0)) < 0)
		goto out;
	snprintf(lpath, sizeof(lpath), "releases/%s/participants/%s.json",
	    release, scenario);
	add_removal(files, lpath);
	snprintf(lpath, sizeof(lpath), "%s withdraws from release %s",
	    scenario, release);
	if ((rc = queue_change(st, c.txn, who, c.now, lpath, files)) == 0)
		rc = event_named(st, c.txn, "participant.withdrawn", who,
		    c.now, NULL, "release", release, "scenario", scenario,
		    NULL);
out:
	json_decref(rec);
	json_decref(files);
	return chg_finish(&c, rc);
}

/* -- readiness ------------------------------------------------------ */

struct cand {
	char version[300];
	int64_t at;
};

struct cands {
	const char *scenario;
	struct cand *v;
	size_t n;
};

static int
collect_cand(void *arg, const char *key, size_t keylen, const void *val,
    size_t vallen)
{
	struct cands *cs = arg;
	json_t *j = json_loadb(val, vallen, JSON_REJECT_DUPLICATES, NULL);
	const char *s = json_string_value(json_object_get(j, "scenario"));
	struct cand *v;

	(void)key;
	(void)keylen;
	if (j && s && strcmp(s, cs->scenario) == 0 &&
	    !json_object_get(j, "revoked") &&
	    (v = realloc(cs->v, (cs->n + 1) * sizeof(*v)))) {
		cs->v = v;
		snprintf(v[cs->n].version, sizeof(v[0].version), "%s",
		    json_string_value(json_object_get(j, "version")));
		v[cs->n].at = parse_iso(json_string_value(json_object_get(j,
		    "at")));
		cs->n++;
	}
	json_decref(j);
	return 0;
}

static int
newest_first(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	/* promoted in the same second (an import): the greater version */
	if (x->at == y->at)
		return -strcmp(x->version, y->version);
	return x->at > y->at ? -1 : x->at < y->at;
}

/*
 * One participant: for each of its projects, the newest artifact of the
 * scenario promoted to the stage that also meets the common criteria.
 * {"ready": bool, "artifacts": {p: v}, "unmet": [...]}.
 */
static json_t *
readiness(struct ctx *c, json_t *release, const char *scenario)
{
	json_t *srec = rec_get(c, "c:%s%s", scenario, NULL), *p, *out;
	json_t *arts = json_object(), *unmet = json_array(), *common;
	const char *stage = json_string_value(json_object_get(release, "stage"));
	size_t i;

	common = json_pack("{s:{s:o}}", "criteria", "require",
	    json_object_get(release, "require") ? json_incref(
	    json_object_get(release, "require")) : json_array());
	if (!srec || !json_object_get(json_object_get(srec, "scenario"),
	    "projects"))
		json_array_append_new(unmet, json_pack("{s:s,s:s}", "type",
		    "result-missing", "detail", srec ? "the scenario lists no "
		    "projects (scenario.json)" : "the scenario does not exist"));
	json_array_foreach(json_object_get(json_object_get(srec, "scenario"),
	    "projects"), i, p) {
		const char *project = json_string_value(p);
		struct cands cs = { scenario, NULL, 0 };
		char prefix[800], artkey[600];
		size_t plen = (size_t)snprintf(prefix, sizeof(prefix),
		    "%s%c%s%c", stage ? stage : "", 0, project, 0);
		json_t *first = NULL;
		int found = 0;

		index_scan(c->st->ix, c->txn, TAB_PROMO, prefix, plen,
		    collect_cand, &cs);
		if (cs.n)
			qsort(cs.v, cs.n, sizeof(*cs.v), newest_first);
		for (size_t k = 0; k < cs.n && !found; k++) {
			struct art_rec ar;
			json_t *d = NULL;

			snprintf(artkey, sizeof(artkey), "%s/%s", project,
			    cs.v[k].version);
			if (index_get(c->st->ix, c->txn, TAB_ARTIFACT, artkey, &ar,
			    sizeof(ar)) < 0 ||
			    decide(c, ar.ino, artkey, "(release)", common, &d) < 0)
				continue;
			if (json_is_true(json_object_get(d, "promote"))) {
				json_object_set_new(arts, project,
				    json_string(cs.v[k].version));
				found = 1;
			} else if (!first) {
				first = json_incref(json_object_get(d, "unmet"));
			}
			json_decref(d);
		}
		if (!found && !cs.n) {
			char detail[700];

			snprintf(detail, sizeof(detail), "no %s artifact of %s is "
			    "promoted to %s", project, scenario, stage);
			json_array_append_new(unmet, json_pack("{s:s,s:s,s:s}",
			    "type", "previous-stage-missing", "project", project,
			    "detail", detail));
		} else if (!found) {
			size_t j;
			json_t *u;

			json_array_foreach(first, j, u) {
				json_t *cu = json_deep_copy(u);

				json_object_set_new(cu, "project",
				    json_string(project));
				json_array_append_new(unmet, cu);
			}
		}
		json_decref(first);
		free(cs.v);
	}
	out = json_pack("{s:b,s:o,s:o}", "ready", json_array_size(unmet) == 0,
	    "artifacts", arts, "unmet", unmet);
	json_decref(common);
	json_decref(srec);
	return out;
}

struct part_list {
	char **names;
	size_t n, plen;
};

static int
collect_part(void *arg, const char *key, size_t keylen, const void *val,
    size_t vallen)
{
	struct part_list *l = arg;
	char **v;

	(void)val;
	(void)vallen;
	v = realloc(l->names, (l->n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	l->names = v;
	l->names[l->n++] = strndup(key + l->plen, keylen - l->plen);
	return 0;
}

static void
part_list_free(struct part_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->names[i]);
	free(l->names);
}

static int
participants(struct ctx *c, const char *release, struct part_list *l)
{
	char prefix[400];

	l->plen = pair_key(prefix, 'q', release, NULL);
	return index_scan(c->st->ix, c->txn, TAB_STAGE, prefix, l->plen,
	    collect_part, l);
}

int
store_release_status(struct store *st, const char *release, json_t **out)
{
	struct ctx c = { st, NULL, NULL, time(NULL), 0 };
	struct part_list l = { NULL, 0, 0 };
	json_t *rec = NULL, *parts = json_object(), *rel;
	int rc;

	if ((rc = index_begin(st->ix, 1, &c.txn)) < 0)
		goto out;
	if ((rc = release_rec(&c, release, &rec)) < 0)
		goto out;
	rel = json_object_get(rec, "release");
	if ((rc = participants(&c, release, &l)) < 0)
		goto out;
	for (size_t i = 0; i < l.n; i++)
		json_object_set_new(parts, l.names[i], rel ? readiness(&c, rel,
		    l.names[i]) : json_pack("{s:b,s:[{s:s,s:s}]}", "ready", 0,
		    "unmet", "type", "criteria-missing", "detail",
		    "the release has no release.json yet"));
	/* after a freeze, say what a revoke changed since */
	*out = json_pack("{s:s,s:O,s:O,s:o}", "release", release, "target",
	    json_object_get(rel, "target") ? json_object_get(rel, "target") :
	    json_null(), "frozen", json_object_get(rec, "frozen") ?
	    json_object_get(rec, "frozen") : json_false(), "participants",
	    parts);
	parts = NULL;
	if (json_object_get(rec, "frozen")) {
		json_t *notes = json_array(), *sv, *pv;
		const char *sn, *pn;

		json_object_foreach(json_object_get(json_object_get(rec,
		    "frozen"), "scenarios"), sn, sv) {
			json_object_foreach(sv, pn, pv) {
				char artkey[600];
				json_t *pr;

				snprintf(artkey, sizeof(artkey), "%s/%s", pn,
				    json_string_value(json_object_get(pv,
				    "version")));
				pr = promo_rec(&c, json_string_value(
				    json_object_get(rel, "stage")), artkey);
				if (pr && json_object_get(pr, "revoked"))
					json_array_append_new(notes, json_pack(
					    "{s:s,s:s,s:s}", "type", "revoked",
					    "artifact", artkey, "detail",
					    "revoked after the freeze; the frozen "
					    "release keeps it"));
				json_decref(pr);
			}
		}
		json_object_set_new(*out, "notes", notes);
	}
out:
	index_abort(c.txn);
	part_list_free(&l);
	json_decref(rec);
	json_decref(parts);
	return rc;
}

/* -- the freeze ----------------------------------------------------- */

static int
freeze_in(struct ctx *c, const char *release)
{
	struct part_list l = { NULL, 0, 0 };
	json_t *rec = NULL, *rel, *frozen = NULL, *scen = json_object();
	json_t *files = json_array(), *tags = json_array(), *r = NULL;
	char lpath[1200], when[32], *mtext = NULL, *excl = NULL;
	size_t elen = 0, mlen;
	uint64_t rdir, fdir, sdir;
	FILE *ex = NULL;
	int rc;

	if ((rc = release_rec(c, release, &rec)) < 0)
		goto out;
	if (json_object_get(rec, "frozen")) {
		rc = store_seterr(-EEXIST, "release '%s' is already frozen",
		    release);
		goto out;
	}
	if (!(rel = json_object_get(rec, "release"))) {
		rc = store_seterr(-EINVAL, "release '%s' has no release.json",
		    release);
		goto out;
	}
	if ((rc = participants(c, release, &l)) < 0 ||
	    (rc = release_dir(c, release, &rdir)) < 0 ||
	    (rc = ensure_dir(c, rdir, "frozen", ROLE_FROZEN, 0555, &fdir)) < 0)
		goto out;
	ex = open_memstream(&excl, &elen);
	for (size_t i = 0; rc == 0 && i < l.n; i++) {
		json_t *ready = readiness(c, rel, l.names[i]), *arts, *v;
		const char *p;
		char *pins = NULL;
		size_t plen = 0;
		FILE *pf;

		if (!json_is_true(json_object_get(ready, "ready"))) {
			json_t *u;
			size_t k;

			fprintf(ex, "%s\tnot ready:", l.names[i]);
			json_array_foreach(json_object_get(ready, "unmet"), k, u)
				fprintf(ex, " %s%s%s (%s);", json_string_value(
				    json_object_get(u, "type")),
				    json_object_get(u, "project") ? " " : "",
				    json_object_get(u, "project") ?
				    json_string_value(json_object_get(u,
				    "project")) : "", json_string_value(
				    json_object_get(u, "detail")));
			fprintf(ex, "\n");
			json_decref(ready);
			continue;
		}
		arts = json_object();
		if ((rc = ensure_dir(c, fdir, l.names[i], ROLE_FROZEN, 0555,
		    &sdir)) < 0) {
			json_decref(ready);
			json_decref(arts);
			break;
		}
		pf = open_memstream(&pins, &plen);
		json_object_foreach(json_object_get(ready, "artifacts"), p, v) {
			char artkey[600], target[900];
			json_t *m;

			snprintf(artkey, sizeof(artkey), "%s/%s", p,
			    json_string_value(v));
			snprintf(target, sizeof(target),
			    "../../../../artifacts/%s", artkey);
			m = artifact_manifest(c->st, c->txn, artkey, NULL);
			json_object_set_new(arts, p, json_pack("{s:s,s:s}",
			    "version", json_string_value(v), "id",
			    json_string_value(json_object_get(m, "id")) ?
			    json_string_value(json_object_get(m, "id")) : ""));
			{
				size_t k;
				json_t *pin;

				json_array_foreach(json_object_get(m, "pins"), k,
				    pin)
					fprintf(pf, "%s\t%s\t%s\t%s\t%s\n", p,
					    json_string_value(json_object_get(pin,
					    "name")), json_string_value(
					    json_object_get(pin, "version")),
					    json_string_value(json_object_get(pin,
					    "sha256")), json_string_value(
					    json_object_get(pin, "url")));
			}
			json_decref(m);
			if (rc == 0)
				rc = put_link(c, sdir, p, target);
		}
		fclose(pf);
		if (rc == 0)
			rc = put_text(c, sdir, "pins", pins ? pins : "", plen, 0);
		snprintf(lpath, sizeof(lpath), "releases/%s/frozen/%s/pins",
		    release, l.names[i]);
		add_data(files, lpath, pins ? pins : "", plen);
		free(pins);
		json_object_set_new(scen, l.names[i], arts);
		json_decref(ready);
	}
	fclose(ex);
	ex = NULL;
	if (rc < 0)
		goto out;
	time_iso(when, c->now);
	frozen = json_pack("{s:s,s:s,s:s,s:O,s:O}", "release", release,
	    "frozen_at", when, "frozen_by", c->who->name, "stage",
	    json_object_get(rel, "stage"), "scenarios", scen);
	mtext = json_text(frozen, &mlen);
	if (!mtext || (rc = put_text(c, fdir, "manifest.json", mtext, mlen,
	    0)) < 0 || (rc = put_text(c, fdir, "excluded", excl ? excl : "",
	    elen, 0)) < 0 || (rc = set_role(c, fdir, "manifest.json",
	    ROLE_FROZEN)) < 0 || (rc = set_role(c, fdir, "excluded",
	    ROLE_FROZEN)) < 0)
		goto out;
	json_object_set(rec, "frozen", frozen);
	if ((rc = rec_put(c, rec, "r:%s%s", release, NULL)) < 0)
		goto out;
	snprintf(lpath, sizeof(lpath), "releases/%s/frozen/manifest.json",
	    release);
	add_data(files, lpath, mtext, mlen);
	snprintf(lpath, sizeof(lpath), "releases/%s/frozen/excluded", release);
	add_data(files, lpath, excl ? excl : "", elen);
	ledger_record(files, "releases", release, rec);
	r = json_pack("{s:s,s:s}", "name", "", "message", "");
	snprintf(lpath, sizeof(lpath), "release/%s", release);
	json_object_set_new(r, "name", json_string(lpath));
	json_object_set_new(r, "message", json_string(mtext));
	json_array_append(tags, r);
	snprintf(lpath, sizeof(lpath), "freeze release %s", release);
	rc = queue_change_tags(c->st, c->txn, c->who, c->now, lpath, files,
	    tags);
	if (rc == 0) {
		json_t *ev = json_pack("{s:s,s:O}", "release", release,
		    "scenarios", scen);

		rc = event_emit(c->st, c->txn, "release.frozen", c->who, c->now,
		    ev);
		json_decref(ev);
	}
out:
	if (ex)
		fclose(ex);
	free(excl);
	free(mtext);
	part_list_free(&l);
	json_decref(r);
	json_decref(rec);
	json_decref(frozen);
	json_decref(scen);
	json_decref(files);
	json_decref(tags);
	return rc;
}

int
store_release_freeze(struct store *st, const char *release,
    const struct store_user *who)
{
	struct ctx c;
	int rc;

	if ((rc = store_may(st, who, STORE_ROLE_MANAGER,
	    "freezing a release")) < 0)
		return rc;
	if ((rc = chg_begin(&c, st, who)) < 0)
		return rc;
	return chg_finish(&c, freeze_in(&c, release));
}

/* Releases whose target has passed freeze by themselves (the daemon). */
struct due_rel {
	int64_t now;
	struct part_list due;
};

static int
due_release(void *arg, const char *key, size_t keylen, const void *val,
    size_t vallen)
{
	struct due_rel *d = arg;
	json_t *j = json_loadb(val, vallen, JSON_REJECT_DUPLICATES, NULL);
	int64_t t = parse_iso(json_string_value(json_object_get(
	    json_object_get(j, "release"), "target")));
	char **v;

	if (j && t && t <= d->now && !json_object_get(j, "frozen") &&
	    (v = realloc(d->due.names, (d->due.n + 1) * sizeof(*v)))) {
		d->due.names = v;
		v[d->due.n++] = strndup(key + 2, keylen - 2);
	}
	json_decref(j);
	return 0;
}

int
release_freeze_due(struct store *st)
{
	struct due_rel d = { time(NULL), { NULL, 0, 0 } };
	struct store_user who;
	MDB_txn *txn;
	int rc;

	if ((rc = index_begin(st->ix, 1, &txn)) < 0)
		return rc;
	rc = index_scan(st->ix, txn, TAB_STAGE, "r:", 2, due_release, &d);
	index_abort(txn);
	store_user_from_uid(&who, getuid(), getgid());
	for (size_t i = 0; rc == 0 && i < d.due.n; i++) {
		rc = store_release_freeze(st, d.due.names[i], &who);
		if (rc == -EEXIST)
			rc = 0;
		if (rc == 0)
			store_log(st, "froze release %s at its target time",
			    d.due.names[i]);
	}
	part_list_free(&d.due);
	return rc;
}

/* -- rebuild from the ledger ---------------------------------------- */

/*
 * Pass 1: scenarios and releases (records, their files); pass 2:
 * participants and frozen trees.  Promotions come after (stage.c), and
 * move the scenario links.
 */
int
release_rebuild_one(struct ctx *c, int pass, char **part, int n,
    const char *text, size_t len)
{
	json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	uint64_t dir, sub;
	int rc = 0;

	if (pass == 1 && n == 3 && strcmp(part[2], "record.json") == 0) {
		const struct entity *e = strcmp(part[0], "scenarios") == 0 ?
		    &scenario_entity : &release_entity;

		if (!j)
			goto bad;
		if ((rc = rec_put(c, j, e->fmt, part[1], NULL)) == 0)
			rc = entity_nodes(c, e, part[1]);
	} else if (pass == 2 && n == 3 && strcmp(part[0], "scenarios") == 0 &&
	    strcmp(part[2], "scenario.json") == 0) {
		if ((rc = scenario_dir(c, part[1], &dir)) < 0)
			goto bad;
		rc = put_text(c, dir, "scenario.json", text, len, 0);
	} else if (pass == 2 && n == 4 && strcmp(part[0], "scenarios") == 0 &&
	    strcmp(part[2], "criteria") == 0 && strlen(part[3]) > 5) {
		json_t *rec;
		char stage[300];

		if (!j || scenario_dir(c, part[1], &dir) < 0 ||
		    index_lookup(c->st->ix, c->txn, dir, "criteria", &sub) < 0)
			goto bad;
		snprintf(stage, sizeof(stage), "%.*s", (int)strlen(part[3]) - 5,
		    part[3]);
		rec = json_pack("{s:O}", "criteria", j);
		rc = rec_put(c, rec, "x:%s/%s", part[1], stage);
		json_decref(rec);
		if (rc == 0)
			rc = put_text(c, sub, part[3], text, len, 0);
	} else if (pass == 2 && n == 3 && strcmp(part[0], "releases") == 0 &&
	    strcmp(part[2], "release.json") == 0) {
		if ((rc = release_dir(c, part[1], &dir)) < 0)
			goto bad;
		rc = put_text(c, dir, "release.json", text, len, 0);
	} else if (pass == 2 && n == 4 && strcmp(part[0], "releases") == 0 &&
	    strcmp(part[2], "participants") == 0 && strlen(part[3]) > 5) {
		char key[800], scen[300];

		if (!j || release_dir(c, part[1], &dir) < 0 ||
		    index_lookup(c->st->ix, c->txn, dir, "participants",
		    &sub) < 0)
			goto bad;
		snprintf(scen, sizeof(scen), "%.*s", (int)strlen(part[3]) - 5,
		    part[3]);
		if ((rc = put_json(c, TAB_STAGE, key, pair_key(key, 'q', part[1],
		    scen), j)) < 0)
			goto out;
		{
			/* the bytes the scenario wrote */
			json_t *t = json_object_get(j, "text");

			rc = put_text(c, sub, scen, t ? json_string_value(t) : "",
			    t ? json_string_length(t) : 0, NODE_VOLATILE);
		}
	} else if (pass == 2 && n >= 4 && strcmp(part[0], "releases") == 0 &&
	    strcmp(part[2], "frozen") == 0) {
		uint64_t fdir;

		if (release_dir(c, part[1], &dir) < 0 ||
		    (rc = ensure_dir(c, dir, "frozen", ROLE_FROZEN, 0555,
		    &fdir)) < 0)
			goto bad;
		if (n == 4) {
			/* manifest.json or excluded */
			if ((rc = put_text(c, fdir, part[3], text, len, 0)) < 0 ||
			    (rc = set_role(c, fdir, part[3], ROLE_FROZEN)) < 0)
				goto out;
			if (strcmp(part[3], "manifest.json") == 0 && j) {
				const char *sn, *pn;
				json_t *sv, *pv;

				json_object_foreach(json_object_get(j,
				    "scenarios"), sn, sv) {
					if ((rc = ensure_dir(c, fdir, sn,
					    ROLE_FROZEN, 0555, &sub)) < 0)
						goto out;
					json_object_foreach(sv, pn, pv) {
						char target[900];

						snprintf(target, sizeof(target),
						    "../../../../artifacts/%s/%s",
						    pn, json_string_value(
						    json_object_get(pv, "version")));
						if ((rc = put_link(c, sub, pn,
						    target)) < 0)
							goto out;
					}
				}
			}
		} else if (n == 5 && strcmp(part[4], "pins") == 0) {
			if ((rc = ensure_dir(c, fdir, part[3], ROLE_FROZEN, 0555,
			    &sub)) < 0)
				goto out;
			rc = put_text(c, sub, "pins", text, len, 0);
		}
	}
	goto out;
bad:
	rc = store_seterr(-EINVAL, "ledger: a release or scenario file is "
	    "damaged or names what does not exist");
out:
	json_decref(j);
	return rc;
}

int
release_frozen(struct store *st, const char *release)
{
	struct ctx c = { st, NULL, NULL, 0, 0 };
	json_t *rec;
	int rc;

	if ((rc = index_begin(st->ix, 1, &c.txn)) < 0)
		return rc;
	rec = rec_get(&c, "r:%s%s", release, NULL);
	index_abort(c.txn);
	rc = rec ? frozen_refusal(rec, release) : 0;
	json_decref(rec);
	return rc;
}

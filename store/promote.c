/*
 * promote.c - evaluation and promotion: gathering an artifact's inputs,
 * deciding each stage, promoting (and cascading), revoking and restoring,
 * and waking up when a soak or a waiver ends.  Every change is one LMDB
 * transaction that re-evaluates what it affects, so a promotion is visible
 * the moment the change returns.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "formats.h"
#include "stage_impl.h"



int
promote_gather_run(void *arg, const char *key, size_t keylen, const void *val,
    size_t vallen)
{
	struct gather *g = arg;
	struct run_summary sum;
	struct crit_run *r;
	uint64_t be;

	/* a skipped run counts as neither a pass nor a failure: it is none */
	if (keylen < 8 + 1 + 8 || run_unpack(val, vallen, &sum) < 0 ||
	    sum.outcome == RESULT_SKIP)
		return 0;
	if (g->nruns == g->caprun) {
		size_t cap = g->caprun ? g->caprun * 2 : 64;
		struct crit_run *v = realloc(g->runs, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		g->runs = v;
		g->caprun = cap;
	}
	r = &g->runs[g->nruns++];
	memset(r, 0, sizeof(*r));
	/*
	 * Straight from the index's memory: the strings stay valid while the
	 * transaction is open, and the evaluation is done within it.
	 */
	r->testcase = key + 8;
	r->pass = sum.pass;
	r->error = sum.outcome == RESULT_ERROR;
	memcpy(&be, key + keylen - 8, 8);
	r->no = be64toh(be);
	r->time = sum.time;
	r->pod = sum.len[0] ? sum.str[0] : NULL;
	r->installer = sum.len[1] ? sum.str[1] : NULL;
	r->scenario = sum.len[2] ? sum.str[2] : NULL;
	r->platform = sum.len[3] ? sum.str[3] : NULL;
	return 0;
}

static int
gather_approval(void *arg, const char *key, size_t keylen, const void *val,
    size_t vallen)
{
	struct gather *g = arg;
	struct crit_approval *v;
	json_t *j = json_loadb(val, vallen, JSON_REJECT_DUPLICATES, NULL);

	(void)key;
	(void)keylen;
	if (!j)
		return 0;
	v = realloc(g->approvals, (g->napprovals + 1) * sizeof(*v));
	if (!v) {
		json_decref(j);
		return -ENOMEM;
	}
	g->approvals = v;
	json_array_append_new(g->keep, j);
	v[g->napprovals].uid = (uid_t)json_integer_value(json_object_get(j,
	    "uid"));
	v[g->napprovals].user = json_string_value(json_object_get(j, "by"));
	v[g->napprovals].time = time_parse_iso(json_string_value(
	    json_object_get(j, "at")));
	g->napprovals++;
	return 0;
}

static int
gather_waiver(void *arg, const char *key, size_t keylen, const void *val,
    size_t vallen)
{
	struct gather *g = arg;
	struct crit_waiver *v;
	json_t *j = json_loadb(val, vallen, JSON_REJECT_DUPLICATES, NULL);

	(void)key;
	(void)keylen;
	if (!j)
		return 0;
	v = realloc(g->waivers, (g->nwaivers + 1) * sizeof(*v));
	if (!v) {
		json_decref(j);
		return -ENOMEM;
	}
	g->waivers = v;
	json_array_append_new(g->keep, j);
	memset(&v[g->nwaivers], 0, sizeof(v[0]));
	v[g->nwaivers].testcase = json_string_value(json_object_get(j,
	    "testcase"));
	v[g->nwaivers].reason = json_string_value(json_object_get(j, "reason"));
	v[g->nwaivers].scenario = json_string_value(json_object_get(j,
	    "scenario"));
	v[g->nwaivers].expires = time_parse_iso(json_string_value(
	    json_object_get(j, "expires")));
	v[g->nwaivers].user = json_string_value(json_object_get(j, "by"));
	g->nwaivers++;
	return 0;
}

void
promote_gather_free(struct gather *g)
{
	json_decref(g->keep);
	free(g->runs);
	free(g->approvals);
	free(g->waivers);
}

static int
golden(void *arg, const char *platform, const char *stage)
{
	struct ctx *c = arg;
	json_t *p;
	int ok;

	if (!strchr(platform, '/'))
		return 0;
	p = txn_promo_rec(c, stage, platform);
	ok = p && !json_object_get(p, "revoked");
	json_decref(p);
	return ok;
}

/*
 * The scenario an artifact's manifest names ("" for none) into out.  Every
 * run asks, and a manifest can be large; a manifest never changes, so the
 * answer is kept by the manifest's digest.
 */
#define SCEN_SLOTS 64
static struct {
	uint8_t manifest[DIGEST_LEN];
	int used;
	char scenario[NAME_MAX + 1];
} scen_cache[SCEN_SLOTS];
static pthread_mutex_t scen_mu = PTHREAD_MUTEX_INITIALIZER;

int
promote_artifact_scenario(struct ctx *c, const char *artkey, char *out,
    size_t len)
{
	struct art_rec rec;
	size_t slot;
	json_t *m;
	int rc;

	if ((rc = index_get(c->st->ix, c->txn, TAB_ARTIFACT, artkey, &rec,
	    sizeof(rec))) < 0)
		return rc;
	slot = rec.manifest[0] % SCEN_SLOTS;
	pthread_mutex_lock(&scen_mu);
	if (scen_cache[slot].used && memcmp(scen_cache[slot].manifest,
	    rec.manifest, DIGEST_LEN) == 0) {
		snprintf(out, len, "%s", scen_cache[slot].scenario);
		pthread_mutex_unlock(&scen_mu);
		return 0;
	}
	pthread_mutex_unlock(&scen_mu);
	if (!(m = tree_manifest_json(c->st, rec.manifest)))
		return store_seterr(-EIO, "the manifest of %s cannot be read",
		    artkey);
	snprintf(out, len, "%s", json_string_value(json_object_get(m,
	    "scenario")) ? json_string_value(json_object_get(m, "scenario")) :
	    "");
	json_decref(m);
	pthread_mutex_lock(&scen_mu);
	memcpy(scen_cache[slot].manifest, rec.manifest, DIGEST_LEN);
	snprintf(scen_cache[slot].scenario, sizeof(scen_cache[slot].scenario),
	    "%s", out);
	scen_cache[slot].used = 1;
	pthread_mutex_unlock(&scen_mu);
	return 0;
}

/*
 * The decision for one artifact and one stage, from the index as this
 * transaction sees it.
 */
int
promote_decide(struct ctx *c, uint64_t art, const char *artkey,
    const char *stage,
    json_t *srec, json_t **decision)
{
	struct gather g = { json_array(), NULL, 0, 0, NULL, 0, NULL, 0 };
	struct crit_input in = { 0 };
	char key[800], project[300], scenario[NAME_MAX + 1] = "";
	json_t *pcrit = NULL, *self = NULL;
	json_t *scrit = NULL;
	uint64_t be = htobe64(art);
	size_t klen;
	int rc;

	snprintf(project, sizeof(project), "%.*s",
	    (int)(strchr(artkey, '/') - artkey), artkey);
	/* a stage for other projects: nothing to decide */
	if (!crit_applies(json_object_get(srec, "criteria"), project)) {
		*decision = json_pack("{s:b,s:[{s:s,s:s}],s:[]}", "promote", 0,
		    "unmet", "type", "not-applicable", "detail", "the stage is "
		    "for other projects (its \"projects\")", "evidence");
		rc = *decision ? 0 : -ENOMEM;
		goto out;
	}
	in.layers[0] = json_object_get(srec, "criteria");
	pcrit = txn_get_json(c, TAB_STAGE, key, txn_projcrit_key(key, project,
	    stage));
	in.layers[1] = json_object_get(pcrit, "criteria");
	promote_artifact_scenario(c, artkey, scenario, sizeof(scenario));
	in.scenario = scenario;
	scrit = members_criteria(c, in.scenario, stage);
	in.layers[2] = scrit;
	memcpy(key, &be, 8);
	if ((rc = index_scan(c->st->ix, c->txn, TAB_RUNS, key, 8,
	    promote_gather_run,
	    &g)) < 0)
		goto out;
	klen = 8 + (size_t)snprintf(key + 8, sizeof(key) - 8, "%s", stage) + 1;
	if ((rc = index_scan(c->st->ix, c->txn, TAB_APPROVAL, key, klen,
	    gather_approval, &g)) < 0)
		goto out;
	if ((rc = index_scan(c->st->ix, c->txn, TAB_WAIVER, key, 8,
	    gather_waiver, &g)) < 0)
		goto out;
	if (c->whatif) {
		/* as if: its results recorded after the real ones, its
		 * criteria in force, the waivers set aside */
		const struct promote_whatif *w = c->whatif;

		for (size_t k = 0; k < w->nruns; k++) {
			struct crit_run *r;

			if (g.nruns == g.caprun) {
				size_t cap = g.caprun * 2 + 8;
				struct crit_run *v = realloc(g.runs,
				    cap * sizeof(*v));

				if (!v) {
					rc = -ENOMEM;
					goto out;
				}
				g.runs = v;
				g.caprun = cap;
			}
			r = &g.runs[g.nruns++];
			*r = w->runs[k];
			r->no = 1000000000 + k;
		}
		if (w->criteria)
			in.layers[0] = w->criteria;
		if (w->without_waivers)
			g.nwaivers = 0;
	}
	in.runs = g.runs;
	in.nruns = g.nruns;
	in.approvals = g.approvals;
	in.napprovals = g.napprovals;
	in.waivers = g.waivers;
	in.nwaivers = g.nwaivers;
	in.hold = json_string_value(json_object_get(srec, "hold"));
	self = txn_promo_rec(c, stage, artkey);
	in.revoked = self && json_object_get(self, "revoked") != NULL &&
	    !(c->whatif && c->whatif->ignore_revoked);
	{
		const char *names[CRIT_AFTER_MAX];
		size_t n = txn_stage_afters(srec, names, CRIT_AFTER_MAX);

		/* every stage it comes after holds it; the soak runs from the
		 * last of those promotions */
		in.after_promoted = n > 0;
		for (size_t k = 0; k < n; k++) {
			json_t *p = txn_promo_rec(c, names[k], artkey);
			int64_t at = time_parse_iso(json_string_value(
			    json_object_get(p, "at")));

			if (!p || json_object_get(p, "revoked"))
				in.after_promoted = 0;
			else if (at > in.after_at)
				in.after_at = at;
			json_decref(p);
		}
	}
	in.golden = golden;
	in.golden_arg = c;
	in.now = c->now;
	if (!in.layers[0]) {
		/* a stage without criteria promotes nothing */
		*decision = json_pack("{s:b,s:[{s:s,s:s}],s:[]}", "promote", 0,
		    "unmet", "type", "criteria-missing", "detail",
		    "the stage has no criteria.json yet", "evidence");
		rc = 0;
		goto out;
	}
	rc = crit_eval(&in, decision);
	if (rc == 0)
		json_object_set_new(*decision, "wakeup",
		    json_integer(crit_next_wakeup(&in)));
out:
	json_decref(self);
	json_decref(pcrit);
	json_decref(scrit);
	promote_gather_free(&g);
	return rc;
}

/*
 * A time when the decision may change by itself (a soak ends, a waiver
 * expires): key "w:" time artifact stage, in TAB_STAGE.
 */
static int
wake_at(struct ctx *c, int64_t when, uint64_t art, const char *stage)
{
	char key[300];
	uint64_t t = htobe64((uint64_t)when), a = htobe64(art);
	size_t n;

	memcpy(key, "w:", 2);
	memcpy(key + 2, &t, 8);
	memcpy(key + 10, &a, 8);
	n = 18 + (size_t)snprintf(key + 18, sizeof(key) - 18, "%s", stage);
	return index_put_raw(c->st->ix, c->txn, TAB_STAGE, key, n, "", 0, 0);
}

struct due {
	int64_t now, next;
	char **keys;
	size_t *lens, n;
};

static int
due_one(void *arg, const char *key, size_t keylen, const void *val,
    size_t vallen)
{
	struct due *d = arg;
	uint64_t t;

	(void)val;
	(void)vallen;
	if (keylen < 19)
		return 0;
	memcpy(&t, key + 2, 8);
	if ((int64_t)be64toh(t) > d->now) {
		d->next = (int64_t)be64toh(t);
		return 1;
	}
	d->keys = realloc(d->keys, (d->n + 1) * sizeof(*d->keys));
	d->lens = realloc(d->lens, (d->n + 1) * sizeof(*d->lens));
	if (!d->keys || !d->lens)
		return -ENOMEM;
	d->keys[d->n] = malloc(keylen);
	if (!d->keys[d->n])
		return -ENOMEM;
	memcpy(d->keys[d->n], key, keylen);
	d->lens[d->n++] = keylen;
	return 0;
}

int
promote_wake(struct store *st, int64_t *next)
{
	struct store_user who;
	struct due d = { time(NULL), 0, NULL, NULL, 0 };
	struct ctx c;
	int rc;

	*next = 0;
	/* most seconds nothing is due: look with a reader first */
	if ((rc = index_begin(st->ix, 1, &c.txn)) < 0)
		return rc;
	rc = index_scan(st->ix, c.txn, TAB_STAGE, "w:", 2, due_one, &d);
	index_abort(c.txn);
	for (size_t i = 0; i < d.n; i++)
		free(d.keys[i]);
	*next = d.next;
	if (rc < 0 || d.n == 0) {
		free(d.keys);
		free(d.lens);
		return rc;
	}
	d.n = 0;
	store_user_from_uid(&who, getuid(), getgid());
	if ((rc = txn_begin(&c, st, &who)) < 0)
		return rc;
	rc = index_scan(st->ix, c.txn, TAB_STAGE, "w:", 2, due_one, &d);
	for (size_t i = 0; rc == 0 && i < d.n; i++) {
		char artkey[512], stage[300];
		uint64_t a;

		memcpy(&a, d.keys[i] + 10, 8);
		snprintf(stage, sizeof(stage), "%.*s", (int)(d.lens[i] - 18),
		    d.keys[i] + 18);
		rc = index_del_raw(st->ix, c.txn, TAB_STAGE, d.keys[i],
		    d.lens[i]);
		if (rc == 0 && store_artifact_key(st, be64toh(a), artkey) == 0)
			rc = promote_eval_stage(&c, be64toh(a), artkey, stage,
			    NULL);
	}
	for (size_t i = 0; i < d.n; i++)
		free(d.keys[i]);
	free(d.keys);
	free(d.lens);
	*next = d.next;
	if (d.n == 0) {
		index_abort(c.txn);
		return rc;
	}
	return txn_finish(&c, rc);
}

/* Point stages/<s>/<p>/latest at the newest promotion not revoked. */
int
promote_update_latest(struct ctx *c, const char *stage, const char *project,
    uint64_t pdir)
{
	char version[300];
	int rc = members_newest_promoted(c, NULL, stage, project, version);

	if (rc == -ENOENT) {
		rc = index_unlink(c->st->ix, c->txn, pdir, "latest");
		return rc == -ENOENT ? 0 : rc < 0 ? rc : txn_touch_dir(c, pdir,
		    0);
	}
	return rc < 0 ? rc : txn_put_link(c, pdir, "latest", version);
}

static int
promote(struct ctx *c, const char *artkey, const char *stage, json_t *srec,
    json_t *decision)
{
	char key[800], project[300], target[700], lpath[1000], msg[1200];
	const char *version = strchr(artkey, '/') + 1;
	json_t *rec, *files = json_array(), *tags = json_array();
	char *text = NULL, *evidence = NULL, when[32];
	uint64_t sdir, pdir;
	size_t len;
	int rc;

	snprintf(project, sizeof(project), "%.*s", (int)(version - 1 - artkey),
	    artkey);
	time_iso(when, c->now);
	rec = json_pack("{s:s,s:s,s:s,s:s,s:s,s:O,s:O,s:O}", "stage", stage,
	    "project", project, "version", version, "at", when, "by",
	    c->who->name, "cycle", json_object_get(srec, "cycle"), "criteria",
	    json_object_get(srec, "criteria_sha256") ?
	    json_object_get(srec, "criteria_sha256") : json_null(),
	    "evidence", json_object_get(decision, "evidence"));
	if (!rec) {
		rc = -ENOMEM;
		goto out;
	}
	{
		char sc[NAME_MAX + 1];

		if (promote_artifact_scenario(c, artkey, sc, sizeof(sc)) == 0 &&
		    *sc)
			json_object_set_new(rec, "scenario", json_string(sc));
	}
	if ((rc = txn_put_json(c, TAB_PROMO, key, txn_promo_key(key, stage,
	    artkey),
	    rec)) < 0)
		goto out;
	if ((rc = txn_stage_dir(c, stage, &sdir)) < 0 ||
	    (rc = txn_ensure_dir(c, sdir, project, ROLE_STAGE_PROJECT, 0755,
	    &pdir)) < 0)
		goto out;
	snprintf(target, sizeof(target), "../../../artifacts/%s", artkey);
	if ((rc = txn_put_link(c, pdir, version, target)) < 0 ||
	    (rc = promote_update_latest(c, stage, project, pdir)) < 0 ||
	    (rc = members_link_update(c, json_string_value(json_object_get(rec,
	    "scenario")), stage, project)) < 0)
		goto out;
	text = txn_json_text(rec, &len);
	evidence = json_dumps(json_object_get(decision, "evidence"),
	    JSON_INDENT(2) | JSON_SORT_KEYS);
	if (!text || !evidence) {
		rc = -ENOMEM;
		goto out;
	}
	snprintf(lpath, sizeof(lpath), "promotions/%s/%s.json", stage, artkey);
	txn_add_data(files, lpath, text, len);
	snprintf(lpath, sizeof(lpath), "promote/%s/%s", stage, artkey);
	{
		char *tmsg = NULL;

		if (asprintf(&tmsg, "promote %s %s to %s\n\ncriteria: %s\n"
		    "cycle: %lld\n\nevidence:\n%s\n", project, version, stage,
		    json_string_value(json_object_get(srec,
		    "criteria_sha256")) ? json_string_value(json_object_get(
		    srec, "criteria_sha256")) : "(none)",
		    (long long)json_integer_value(json_object_get(srec,
		    "cycle")), evidence) < 0) {
			rc = -ENOMEM;
			goto out;
		}
		json_array_append_new(tags, json_pack("{s:s,s:s}", "name",
		    lpath, "message", tmsg));
		free(tmsg);
	}
	snprintf(msg, sizeof(msg), "promote %s %s to %s", project, version,
	    stage);
	rc = outbox_queue_tags(c->st, c->txn, c->who, c->now, msg, files,
	    tags);
	if (rc == 0) {
		json_t *ev = json_pack("{s:s,s:O,s:O,s:O}", "stage", stage,
		    "criteria", json_object_get(rec, "criteria"), "cycle",
		    json_object_get(rec, "cycle"), "evidence",
		    json_object_get(rec, "evidence"));

		rc = event_artifact(c->st, c->txn, "promoted", c->who, c->now,
		    artkey, ev);
		json_decref(ev);
	}
out:
	free(text);
	free(evidence);
	json_decref(rec);
	json_decref(files);
	json_decref(tags);
	return rc;
}

/*
 * Evaluate one stage for one artifact and promote when every criterion is
 * met; a promotion re-evaluates the stages that come after it.
 */
int
promote_eval_stage(struct ctx *c, uint64_t art, const char *artkey,
    const char *stage, json_t **decision)
{
	json_t *srec = txn_stage_rec(c, stage), *d = NULL, *self;
	int rc;

	if (!srec)
		return store_seterr(-ENOENT, "stage '%s' does not exist",
		    stage);
	self = txn_promo_rec(c, stage, artkey);
	rc = promote_decide(c, art, artkey, stage, srec, &d);
	if (rc == 0 && !self && !json_is_true(json_object_get(d, "promote")) &&
	    json_integer_value(json_object_get(d, "wakeup")) > c->now)
		rc = wake_at(c, json_integer_value(json_object_get(d,
		    "wakeup")), art, stage);
	if (rc == 0 && !self && json_is_true(json_object_get(d, "promote")) &&
	    !json_is_false(json_object_get(json_object_get(srec, "criteria"),
	    "automatic"))) {
		rc = promote(c, artkey, stage, srec, d);
		if (rc == 0 && c->depth < 32) {
			struct stage_list l = { NULL, 0 };

			c->depth++;
			rc = txn_stage_names(c->st, c->txn, &l);
			for (size_t i = 0; rc == 0 && i < l.n; i++) {
				json_t *t = txn_stage_rec(c, l.names[i]);

				if (txn_stage_is_after(t, stage))
					rc = promote_eval_stage(c, art, artkey,
					    l.names[i], NULL);
				json_decref(t);
			}
			txn_stage_list_free(&l);
			c->depth--;
		}
	}
	if (decision)
		*decision = d;
	else
		json_decref(d);
	json_decref(self);
	json_decref(srec);
	return rc;
}

/* Every stage, for one artifact whose inputs changed. */
int
promote_eval_artifact(struct ctx *c, uint64_t art, const char *artkey)
{
	struct stage_list l = { NULL, 0 };
	int rc = txn_stage_names(c->st, c->txn, &l);

	for (size_t i = 0; rc == 0 && i < l.n; i++)
		rc = promote_eval_stage(c, art, artkey, l.names[i], NULL);
	txn_stage_list_free(&l);
	return rc;
}

struct every {
	struct ctx *c;
	const char *stage;
	int rc;
};

static int
eval_one_of_all(void *arg, const char *key, size_t keylen, const void *val,
    size_t vallen)
{
	struct every *e = arg;
	struct art_rec rec;
	char artkey[600];

	if (vallen != sizeof(rec) || keylen >= sizeof(artkey))
		return 0;
	memcpy(&rec, val, sizeof(rec));
	snprintf(artkey, sizeof(artkey), "%.*s", (int)keylen, key);
	e->rc = promote_eval_stage(e->c, rec.ino, artkey, e->stage, NULL);
	return e->rc < 0 ? e->rc : 0;
}

/* One stage, for every artifact (its criteria or hold changed). */
int
promote_eval_all(struct ctx *c, const char *stage)
{
	struct every e = { c, stage, 0 };
	int rc;

	/* the scan reads artifacts while promotions write other tables */
	rc = index_iter(c->st->ix, c->txn, TAB_ARTIFACT, eval_one_of_all, &e);
	return rc < 0 ? rc : e.rc;
}

/* Used by results.c in the transaction that records a run. */
int
promote_eval_in(struct store *st, MDB_txn *txn, uint64_t art,
    const char *artkey, const struct store_user *who, int64_t now)
{
	struct ctx c = { st, txn, who, now, 0, NULL };

	return promote_eval_artifact(&c, art, artkey);
}

int
store_promote(struct store *st, const char *stage, const char *project,
    const char *version, const struct store_user *who)
{
	char artkey[600];
	json_t *srec = NULL, *d = NULL, *self = NULL;
	struct art_rec ar;
	struct ctx c;
	int rc;

	if ((rc = store_may(st, who, STORE_ROLE_MANAGER,
	    "promoting by hand")) < 0)
		return rc;
	snprintf(artkey, sizeof(artkey), "%s/%s", project, version);
	if ((rc = txn_begin(&c, st, who)) < 0)
		return rc;
	if (index_get(st->ix, c.txn, TAB_ARTIFACT, artkey, &ar,
	    sizeof(ar)) < 0) {
		rc = store_seterr(-ENOENT, "artifact %s %s does not exist",
		    project, version);
		goto out;
	}
	if (!(srec = txn_stage_rec(&c, stage))) {
		rc = store_seterr(-ENOENT, "stage '%s' does not exist", stage);
		goto out;
	}
	if ((self = txn_promo_rec(&c, stage, artkey))) {
		rc = store_seterr(-EEXIST, "%s %s is already promoted to %s%s",
		    project, version, stage, json_object_get(self, "revoked") ?
		    " (revoked: relctl restore)" : "");
		goto out;
	}
	if ((rc = promote_decide(&c, ar.ino, artkey, stage, srec, &d)) < 0)
		goto out;
	if (!json_is_true(json_object_get(d, "promote"))) {
		rc = store_seterr(-EPERM, "%s %s does not meet the criteria of "
		    "%s (relctl why says what is missing)", project, version,
		    stage);
		goto out;
	}
	rc = promote(&c, artkey, stage, srec, d);
out:
	json_decref(d);
	json_decref(self);
	json_decref(srec);
	return txn_finish(&c, rc);
}

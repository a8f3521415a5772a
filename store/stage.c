/*
 * stage.c - stages: creating them, their criteria (and the project and
 * scenario layers added to them), holds and their end.
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

/* The stage's record in the index and, for rebuilds, in the ledger. */
static int
save_stage(struct ctx *c, const char *stage, json_t *rec, json_t *files)
{
	char key[300], lpath[600], *text;
	size_t len;
	int rc = txn_put_json(c, TAB_STAGE, key, txn_stage_key(key, stage),
	    rec);

	if (rc < 0)
		return rc;
	text = txn_json_text(rec, &len);
	if (!text)
		return -ENOMEM;
	snprintf(lpath, sizeof(lpath), "stages/%s/stage.json", stage);
	txn_add_data(files, lpath, text, len);
	free(text);
	return 0;
}

static int
check_name_in(const char *name, const char *what)
{
	return name_check(name, what);
}

int
store_stage_create(struct store *st, const char *stage,
    const struct store_user *who)
{
	char key[300], lpath[600], *text = NULL;
	json_t *rec = NULL, *files = NULL;
	uint64_t sdir, hdir;
	struct ctx c;
	size_t len;
	int rc;

	if ((rc = store_may(st, who, STORE_ROLE_MANAGER,
	    "creating a stage")) < 0)
		return rc;
	if ((rc = check_name_in(stage, "stage")) < 0)
		return rc;
	if ((rc = txn_begin(&c, st, who)) < 0)
		return rc;
	files = json_array();
	if ((rec = txn_stage_rec(&c, stage))) {
		rc = store_seterr(-EEXIST, "stage '%s' already exists", stage);
		goto out;
	}
	rec = json_pack("{s:s,s:i}", "name", stage, "cycle", 0);
	txn_who_json(rec, "created", who, c.now);
	if ((rc = txn_put_json(&c, TAB_STAGE, key, txn_stage_key(key, stage),
	    rec)) < 0 ||
	    (rc = txn_ensure_dir(&c, INO_STAGES, stage, ROLE_STAGE, 0755,
	    &sdir)) < 0 ||
	    (rc = txn_ensure_dir(&c, sdir, "criteria.history", ROLE_NONE, 0555,
	    &hdir)) < 0)
		goto out;
	text = txn_json_text(rec, &len);
	snprintf(lpath, sizeof(lpath), "stages/%s/stage.json", stage);
	txn_add_data(files, lpath, text, len);
	snprintf(lpath, sizeof(lpath), "create stage %s", stage);
	if ((rc = outbox_queue(st, c.txn, who, c.now, lpath, files)) == 0)
		rc = txn_stage_event(&c, "stage.created", stage, NULL, NULL);
out:
	free(text);
	json_decref(rec);
	json_decref(files);
	return txn_finish(&c, rc);
}

/*
 * A manager's change of an existing stage begins: the role (what: for the
 * refusal), the transaction, its files, the stage's record.  On failure
 * *files and *rec are NULL or the caller's to free, and txn_finish ends it.
 */
static int
stage_begin(struct ctx *c, struct store *st, const struct store_user *who,
    const char *what, const char *stage, json_t **files, json_t **rec)
{
	int rc;

	*files = *rec = NULL;
	memset(c, 0, sizeof(*c));
	if ((rc = store_may(st, who, STORE_ROLE_MANAGER, what)) < 0 ||
	    (rc = txn_begin(c, st, who)) < 0)
		return rc;
	*files = json_array();
	if (!(*rec = txn_stage_rec(c, stage)))
		return store_seterr(-ENOENT, "stage '%s' does not exist",
		    stage);
	return 0;
}

/* Any promotion record of stage (revoked or not)? */
static int
any_promotion(void *arg, const char *key, size_t keylen, const void *val,
    size_t vallen)
{
	(void)key;
	(void)keylen;
	(void)val;
	(void)vallen;
	*(int *)arg = 1;
	return 1;	/* one is enough */
}

int
store_stage_remove(struct store *st, const char *stage,
    const struct store_user *who)
{
	char key[300], lpath[700], prefix[300];
	struct stage_list l = { NULL, 0 };
	json_t *rec = NULL, *files = NULL;
	long long cycle;
	size_t plen;
	struct ctx c;
	int rc, promoted = 0;

	if ((rc = stage_begin(&c, st, who, "removing a stage", stage, &files,
	    &rec)) < 0)
		goto out;
	plen = (size_t)snprintf(prefix, sizeof(prefix), "%s%c", stage, 0);
	if ((rc = index_scan(st->ix, c.txn, TAB_PROMO, prefix, plen,
	    any_promotion, &promoted)) < 0)
		goto out;
	if (promoted) {
		rc = store_seterr(-ENOTEMPTY, "stage '%s' has had artifacts "
		    "promoted to it: it stays (revoke what should not be there)",
		    stage);
		goto out;
	}
	if ((rc = txn_stage_names(st, c.txn, &l)) < 0)
		goto out;
	for (size_t i = 0; i < l.n; i++) {
		json_t *t = txn_stage_rec(&c, l.names[i]);
		int busy = txn_stage_is_after(t, stage);

		json_decref(t);
		if (busy) {
			rc = store_seterr(-EBUSY, "stage '%s' comes after '%s': "
			    "change its \"after\" first", l.names[i], stage);
			goto out;
		}
	}
	if ((rc = index_del_raw(st->ix, c.txn, TAB_STAGE, key,
	    txn_stage_key(key, stage))) < 0 ||
	    (rc = index_unlink(st->ix, c.txn, INO_STAGES, stage)) < 0 ||
	    (rc = txn_touch_dir(&c, INO_STAGES, -1)) < 0)
		goto out;
	/* its files leave the tree; git keeps every version of them */
	cycle = (long long)json_integer_value(json_object_get(rec, "cycle"));
	for (long long k = 1; k < cycle; k++) {
		snprintf(lpath, sizeof(lpath), "stages/%s/criteria.history/"
		    "%lld.json", stage, k);
		txn_add_removal(files, lpath);
	}
	snprintf(lpath, sizeof(lpath), "stages/%s/stage.json", stage);
	txn_add_removal(files, lpath);
	snprintf(lpath, sizeof(lpath), "stages/%s/criteria.json", stage);
	txn_add_removal(files, lpath);
	snprintf(lpath, sizeof(lpath), "stages/%s/hold", stage);
	txn_add_removal(files, lpath);
	snprintf(lpath, sizeof(lpath), "remove stage %s", stage);
	if ((rc = outbox_queue(st, c.txn, who, c.now, lpath, files)) == 0)
		rc = txn_stage_event(&c, "stage.removed", stage, NULL, NULL);
out:
	txn_stage_list_free(&l);
	json_decref(rec);
	json_decref(files);
	return txn_finish(&c, rc);
}

/* Would coming after `after` make a cycle of stages through stage? */
static int
after_cycle(struct ctx *c, const char *stage, const char *after, int depth)
{
	const char *names[CRIT_AFTER_MAX];
	json_t *r;
	size_t n;
	int cycle = 0;

	if (strcmp(after, stage) == 0 || depth > 64)
		return 1;
	r = txn_stage_rec(c, after);
	n = txn_stage_afters(r, names, CRIT_AFTER_MAX);
	for (size_t i = 0; !cycle && i < n; i++)
		cycle = after_cycle(c, stage, names[i], depth + 1);
	json_decref(r);
	return cycle;
}

/* Every rule's "golden" names a stage that exists. */
static int
golden_stages_exist(struct ctx *c, json_t *crit)
{
	json_t *rule, *rec;
	size_t i;

	json_array_foreach(json_object_get(crit, "require"), i, rule) {
		const char *g = json_string_value(json_object_get(rule,
		    "golden"));

		if (!g)
			continue;
		rec = txn_stage_rec(c, g);
		json_decref(rec);
		if (!rec)
			return store_seterr(-EINVAL, "criteria: rule %zu: "
			    "golden: stage '%s' does not exist", i + 1, g);
	}
	return 0;
}

static int
parse_criteria(struct ctx *c, const char *stage, const char *text,
    size_t len, json_t **out)
{
	const char *names[CRIT_AFTER_MAX];
	json_t *crit, *ar;
	size_t n;
	int rc;

	if ((rc = crit_parse(text, len, &crit)) < 0)
		return rc;
	n = crit_afters(crit, names, CRIT_AFTER_MAX);
	for (size_t i = 0; i < n; i++) {
		ar = txn_stage_rec(c, names[i]);
		json_decref(ar);
		rc = 0;
		if (!ar)
			rc = store_seterr(-EINVAL, "criteria: after: stage '%s' "
			    "does not exist", names[i]);
		else if (stage && after_cycle(c, stage, names[i], 0))
			rc = store_seterr(-EINVAL, "criteria: after '%s' makes a "
			    "cycle of stages", names[i]);
		if (rc < 0) {
			json_decref(crit);
			return rc;
		}
	}
	if ((rc = golden_stages_exist(c, crit)) < 0) {
		json_decref(crit);
		return rc;
	}
	*out = crit;
	return 0;
}

int
store_criteria_set(struct store *st, const char *stage, const char *text,
    size_t len, const struct store_user *who)
{
	char key[300], lpath[700], hname[64], *ctext = NULL, *htext = NULL;
	json_t *rec = NULL, *crit = NULL, *files = NULL, *hist = NULL;
	uint8_t d[DIGEST_LEN];
	char hex[DIGEST_HEX_LEN + 1];
	uint64_t sdir, hdir;
	json_int_t cycle;
	size_t clen, hlen;
	struct ctx c;
	int rc;

	if ((rc = stage_begin(&c, st, who, "setting criteria", stage, &files,
	    &rec)) < 0)
		goto out;
	if ((rc = parse_criteria(&c, stage, text, len, &crit)) < 0)
		goto out;
	if ((rc = txn_stage_dir(&c, stage, &sdir)) < 0 ||
	    (rc = index_lookup(st->ix, c.txn, sdir, "criteria.history",
	    &hdir)) < 0)
		goto out;
	cycle = json_integer_value(json_object_get(rec, "cycle"));
	/* the criteria in force so far go to the history */
	if (json_object_get(rec, "criteria")) {
		hist = json_pack("{s:I,s:O,s:O,s:O}", "cycle", cycle, "criteria",
		    json_object_get(rec, "criteria"), "set_by",
		    json_object_get(rec, "set_by"), "set_at",
		    json_object_get(rec, "set_at"));
		htext = txn_json_text(hist, &hlen);
		snprintf(hname, sizeof(hname), "%lld.json", (long long)cycle);
		if (!htext || (rc = txn_put_text(&c, hdir, hname, htext, hlen,
		    0)) < 0)
			goto out;
		snprintf(lpath, sizeof(lpath), "stages/%s/criteria.history/%s",
		    stage, hname);
		txn_add_data(files, lpath, htext, hlen);
	}
	ctext = txn_json_text(crit, &clen);
	if (!ctext) {
		rc = -ENOMEM;
		goto out;
	}
	digest_buf(d, ctext, clen);
	digest_hex(hex, d);
	json_object_set(rec, "criteria", crit);
	json_object_set_new(rec, "criteria_sha256", json_string(hex));
	json_object_set_new(rec, "cycle", json_integer(cycle + 1));
	txn_who_json(rec, "set", who, c.now);
	(void)key;
	if ((rc = save_stage(&c, stage, rec, files)) < 0 ||
	    (rc = txn_put_text(&c, sdir, "criteria.json", ctext, clen, 0)) < 0)
		goto out;
	snprintf(lpath, sizeof(lpath), "stages/%s/criteria.json", stage);
	txn_add_data(files, lpath, ctext, clen);
	snprintf(lpath, sizeof(lpath), "criteria of %s, cycle %lld (%s)",
	    stage, (long long)cycle + 1, hex);
	if ((rc = outbox_queue(st, c.txn, who, c.now, lpath, files)) < 0)
		goto out;
	{
		json_t *ev = json_pack("{s:s,s:I}", "criteria", hex, "cycle",
		    cycle + 1);

		rc = txn_stage_event(&c, "criteria.changed", stage, NULL, ev);
		json_decref(ev);
		if (rc < 0)
			goto out;
	}
	rc = promote_eval_all(&c, stage);
out:
	free(ctext);
	free(htext);
	json_decref(hist);
	json_decref(crit);
	json_decref(rec);
	json_decref(files);
	return txn_finish(&c, rc);
}

/*
 * A criteria layer of one stage for a project or a scenario: kept under
 * its key, shown in <kind>s/<owner>/criteria/<stage>.json, written to the
 * ledger, then what it governs is re-evaluated.
 */
struct layer {
	const char *kind;	/* "project", "scenario" */
	uint64_t top;		/* INO_PROJECTS, INO_SCENARIOS */
	const char *keyfmt;	/* "p:%s/%s", "x:%s/%s" */
	const char *ledger;	/* "projects", "scenarios" */
	int as_written;		/* the file shows the bytes written */
};

static const struct layer project_layer = { "project", INO_PROJECTS,
	"p:%s/%s", "projects", 0 };
static const struct layer scenario_layer = { "scenario", INO_SCENARIOS,
	"x:%s/%s", "scenarios", 1 };

/* criteria.changed for a project's or a scenario's criteria of a stage */
static int
layer_event(struct ctx *c, const struct layer *l, const char *owner,
    const char *stage, const char *text, size_t len)
{
	char hex[DIGEST_HEX_LEN + 1];
	uint8_t d[DIGEST_LEN];

	digest_buf(d, text, len);
	digest_hex(hex, d);
	return event_named(c->st, c->txn, "criteria.changed", c->who, c->now,
	    NULL, "stage", stage, l->kind, owner, "criteria", hex, NULL);
}

static int
layer_criteria_set(struct store *st, const struct layer *l,
    const char *owner, const char *stage, const char *text, size_t len,
    const struct store_user *who)
{
	char key[700], lpath[900], *ctext = NULL, name[300];
	json_t *crit = NULL, *rec = NULL, *srec = NULL, *files = NULL;
	uint64_t odir, cdir;
	struct ctx c;
	size_t clen;
	int rc, klen;

	snprintf(name, sizeof(name), "setting %s criteria", l->kind);
	if ((rc = store_may(st, who, STORE_ROLE_MANAGER, name)) < 0 ||
	    (rc = txn_begin(&c, st, who)) < 0)
		return rc;
	files = json_array();
	if (!(srec = txn_stage_rec(&c, stage))) {
		rc = store_seterr(-EINVAL, "criteria for stage '%s': the stage "
		    "does not exist", stage);
		goto out;
	}
	if ((rc = parse_criteria(&c, NULL, text, len, &crit)) < 0)
		goto out;
	if ((rc = index_lookup(st->ix, c.txn, l->top, owner, &odir)) < 0 ||
	    (rc = index_lookup(st->ix, c.txn, odir, "criteria", &cdir)) < 0) {
		rc = store_seterr(-ENOENT, "%s '%s' does not exist", l->kind,
		    owner);
		goto out;
	}
	rec = json_pack("{s:O}", "criteria", crit);
	txn_who_json(rec, "set", who, c.now);
	if (l->as_written) {
		ctext = strndup(text, len);
		clen = len;
	} else {
		ctext = txn_json_text(crit, &clen);
	}
	snprintf(name, sizeof(name), "%s.json", stage);
	klen = snprintf(key, sizeof(key), l->keyfmt, owner, stage);
	if (!ctext || (rc = txn_put_json(&c, TAB_STAGE, key, (size_t)klen,
	    rec)) < 0 || (rc = txn_put_text(&c, cdir, name, ctext, clen,
	    0)) < 0)
		goto out;
	snprintf(lpath, sizeof(lpath), "%s/%s/criteria/%s", l->ledger, owner,
	    name);
	txn_add_data(files, lpath, ctext, clen);
	snprintf(lpath, sizeof(lpath), "criteria of %s for %s %s", stage,
	    l->kind, owner);
	if ((rc = outbox_queue(st, c.txn, who, c.now, lpath, files)) < 0 ||
	    (rc = layer_event(&c, l, owner, stage, ctext, clen)) < 0)
		goto out;
	rc = l == &project_layer ? promote_eval_all(&c, stage) :
	    scenario_eval(&c, owner);
out:
	free(ctext);
	json_decref(crit);
	json_decref(rec);
	json_decref(srec);
	json_decref(files);
	return txn_finish(&c, rc);
}

int
store_project_criteria_set(struct store *st, const char *project,
    const char *stage, const char *text, size_t len,
    const struct store_user *who)
{
	return layer_criteria_set(st, &project_layer, project, stage, text,
	    len, who);
}

int
store_scenario_criteria_set(struct store *st, const char *scenario,
    const char *stage, const char *text, size_t len,
    const struct store_user *who)
{
	return layer_criteria_set(st, &scenario_layer, scenario, stage, text,
	    len, who);
}

int
store_hold(struct store *st, const char *stage, const char *reason,
    size_t len, const struct store_user *who)
{
	char lpath[700], *why = NULL;
	json_t *rec = NULL, *files = NULL;
	uint64_t sdir;
	struct ctx c;
	int rc;

	if ((rc = store_may(st, who, STORE_ROLE_MANAGER,
	    "holding a stage")) < 0)
		return rc;
	if (!utf8_valid(reason, len))
		return store_seterr(-EINVAL, "hold: the reason is not UTF-8 "
		    "text");
	why = txn_trimmed(reason, len);
	if ((rc = txn_begin(&c, st, who)) < 0)
		goto out;
	files = json_array();
	if (!(rec = txn_stage_rec(&c, stage))) {
		rc = store_seterr(-ENOENT, "stage '%s' does not exist", stage);
		goto out;
	}
	json_object_set_new(rec, "hold", json_string(why && *why ? why :
	    "held"));
	if ((rc = save_stage(&c, stage, rec, files)) < 0 ||
	    (rc = txn_stage_dir(&c, stage, &sdir)) < 0 ||
	    (rc = txn_put_text(&c, sdir, "hold", reason, len,
	    NODE_VOLATILE)) < 0)
		goto out;
	snprintf(lpath, sizeof(lpath), "stages/%s/hold", stage);
	txn_add_data(files, lpath, reason, len);
	snprintf(lpath, sizeof(lpath), "hold %s: %s", stage,
	    json_string_value(json_object_get(rec, "hold")));
	rc = outbox_queue(st, c.txn, who, c.now, lpath, files);
	if (rc == 0) {
		json_t *ev = json_pack("{s:O}", "reason", json_object_get(rec,
		    "hold"));

		rc = txn_stage_event(&c, "stage.held", stage, NULL, ev);
		json_decref(ev);
	}
out:
	json_decref(rec);
	free(why);
	json_decref(files);
	return txn_finish(&c, rc);
}

int
store_release(struct store *st, const char *stage,
    const struct store_user *who)
{
	char key[300], lpath[700];
	json_t *rec = NULL, *files = NULL;
	uint64_t sdir;
	struct ctx c;
	int rc;

	if ((rc = store_may(st, who, STORE_ROLE_MANAGER,
	    "ending a hold")) < 0)
		return rc;
	if ((rc = txn_begin(&c, st, who)) < 0)
		return rc;
	files = json_array();
	if (!(rec = txn_stage_rec(&c, stage)) || !json_object_get(rec,
	    "hold")) {
		rc = store_seterr(-ENOENT, "stage '%s' is not held", stage);
		goto out;
	}
	json_object_del(rec, "hold");
	(void)key;
	if ((rc = save_stage(&c, stage, rec, files)) < 0 ||
	    (rc = txn_stage_dir(&c, stage, &sdir)) < 0 ||
	    (rc = index_unlink(st->ix, c.txn, sdir, "hold")) < 0 ||
	    (rc = txn_touch_dir(&c, sdir, 0)) < 0)
		goto out;
	snprintf(lpath, sizeof(lpath), "stages/%s/hold", stage);
	txn_add_removal(files, lpath);
	snprintf(lpath, sizeof(lpath), "release %s", stage);
	if ((rc = outbox_queue(st, c.txn, who, c.now, lpath, files)) < 0 ||
	    (rc = txn_stage_event(&c, "stage.released", stage, NULL, NULL)) < 0)
		goto out;
	rc = promote_eval_all(&c, stage);
out:
	json_decref(rec);
	json_decref(files);
	return txn_finish(&c, rc);
}

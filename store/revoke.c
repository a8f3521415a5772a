/*
 * revoke.c - revoke and restore: a promotion taken back (and down the
 * stages that come after it), or given back (and what came down with it
 * evaluated again).  Above promotion, whose evaluation it uses.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stage_impl.h"

/*
 * Revoke (or restore) one promotion in c's change: its record, its links,
 * its ledger file and its event.  why: the reason a cascade gives.
 */
static int
revoke_in(struct ctx *c, const char *stage, const char *project,
    const char *version, int revoke, const char *why)
{
	struct store *st = c->st;
	char artkey[600], key[800], lpath[1200], *text = NULL;
	json_t *rec = NULL, *files = json_array();
	uint64_t sdir, pdir;
	size_t len;
	int rc;

	snprintf(artkey, sizeof(artkey), "%s/%s", project, version);
	rec = txn_promo_rec(c, stage, artkey);
	if (!rec || (revoke && json_object_get(rec, "revoked")) ||
	    (!revoke && !json_object_get(rec, "revoked"))) {
		rc = store_seterr(-ENOENT, "%s %s is not %s %s", project,
		    version,
		    revoke ? "promoted to" : "revoked from", stage);
		goto out;
	}
	if (revoke) {
		json_t *r = json_object();

		txn_who_json(r, "revoked", c->who, c->now);
		if (why)
			json_object_set_new(r, "reason", json_string(why));
		json_object_set_new(rec, "revoked", r);
	} else {
		json_object_del(rec, "revoked");
		txn_who_json(rec, "restored", c->who, c->now);
	}
	if ((rc = txn_put_json(c, TAB_PROMO, key, txn_promo_key(key, stage,
	    artkey), rec)) < 0 || (rc = txn_stage_dir(c, stage, &sdir)) < 0 ||
	    (rc = index_lookup(st->ix, c->txn, sdir, project, &pdir)) < 0)
		goto out;
	if (revoke) {
		if ((rc = index_unlink(st->ix, c->txn, pdir, version)) < 0 &&
		    rc != -ENOENT)
			goto out;
		rc = txn_touch_dir(c, pdir, 0);
	} else {
		char target[700];

		snprintf(target, sizeof(target), "../../../artifacts/%s",
		    artkey);
		rc = txn_put_link(c, pdir, version, target);
	}
	if (rc < 0 || (rc = promote_update_latest(c, stage, project,
	    pdir)) < 0 ||
	    (rc = members_link_update(c, json_string_value(json_object_get(
	    rec, "scenario")), stage, project)) < 0)
		goto out;
	text = txn_json_text(rec, &len);
	snprintf(lpath, sizeof(lpath), "promotions/%s/%s.json", stage, artkey);
	txn_add_data(files, lpath, text, len);
	snprintf(lpath, sizeof(lpath), "%s %s %s %s%s%s%s", revoke ? "revoke" :
	    "restore", project, version, stage, why ? " (" : "",
	    why ? why : "", why ? ")" : "");
	if ((rc = outbox_queue(st, c->txn, c->who, c->now, lpath, files)) < 0)
		goto out;
	{
		json_t *ev = why ? json_pack("{s:s}", "reason", why) : NULL;

		rc = txn_stage_event(c, revoke ? "revoked" : "restored", stage,
		    artkey, ev);
		json_decref(ev);
	}
out:
	free(text);
	json_decref(rec);
	json_decref(files);
	return rc;
}

/*
 * Down the stages after stage, for what a revoke of from did: a revoke
 * goes on (each that holds the artifact loses it too, "revoked from
 * <from>"); a restore evaluates again what that revoke took, not restoring
 * blindly: those that meet their criteria now come back, and so on down.
 */
static int
down_from(struct ctx *c, uint64_t art, const char *stage, const char *project,
    const char *version, const char *from, int revoke, int depth)
{
	struct promote_whatif pw = { NULL, 0, NULL, 0, 1 };
	const struct promote_whatif *keep = c->whatif;
	struct stage_list l = { NULL, 0 };
	char why[400], artkey[600];
	int rc;

	if (depth > 32)
		return 0;
	snprintf(why, sizeof(why), "revoked from %s", from);
	snprintf(artkey, sizeof(artkey), "%s/%s", project, version);
	rc = txn_stage_names(c->st, c->txn, &l);
	for (size_t i = 0; rc == 0 && i < l.n; i++) {
		json_t *t = txn_stage_rec(c, l.names[i]), *p = NULL, *d = NULL;
		const char *r;
		int held, go;

		if (!txn_stage_is_after(t, stage) ||
		    !(p = txn_promo_rec(c, l.names[i], artkey))) {
			json_decref(p);
			json_decref(t);
			continue;
		}
		held = !json_object_get(p, "revoked");
		r = json_string_value(json_object_get(json_object_get(p,
		    "revoked"), "reason"));
		if (revoke) {
			/* held: it goes too, and on down */
			go = held && (rc = revoke_in(c, l.names[i], project,
			    version, 1, why)) == 0;
		} else {
			if (!held && r && strcmp(r, why) == 0) {
				c->whatif = &pw;
				rc = promote_decide(c, art, artkey, l.names[i],
				    t, &d);
				c->whatif = keep;
				if (rc == 0 && json_is_true(json_object_get(d,
				    "promote")) && (rc = revoke_in(c,
				    l.names[i], project, version, 0, NULL)) ==
				    0)
					held = 1;
			}
			/* on down from each stage that holds it again */
			go = rc == 0 && held;
		}
		if (go)
			rc = down_from(c, art, l.names[i], project, version,
			    from, revoke, depth + 1);
		json_decref(d);
		json_decref(p);
		json_decref(t);
	}
	txn_stage_list_free(&l);
	return rc;
}

static int
set_revoked(struct store *st, const char *stage, const char *project,
    const char *version, int revoke, const struct store_user *who)
{
	char artkey[600];
	struct art_rec ar;
	struct ctx c;
	int rc;

	if ((rc = store_may(st, who, STORE_ROLE_MANAGER, revoke ?
	    "revoking a promotion" : "restoring a promotion")) < 0)
		return rc;
	snprintf(artkey, sizeof(artkey), "%s/%s", project, version);
	if ((rc = txn_begin(&c, st, who)) < 0)
		return rc;
	rc = revoke_in(&c, stage, project, version, revoke, NULL);
	/* revoked: from every stage after it too, in the same change */
	if (rc == 0 && revoke && index_get(st->ix, c.txn, TAB_ARTIFACT,
	    artkey, &ar, sizeof(ar)) == 0)
		rc = down_from(&c, ar.ino, stage, project, version, stage, 1,
		    0);
	/* restored: it may be promoted again at once, and what its revoke
	 * took from the stages after it is evaluated again */
	if (rc == 0 && !revoke && index_get(st->ix, c.txn, TAB_ARTIFACT,
	    artkey, &ar, sizeof(ar)) == 0 &&
	    (rc = promote_eval_stage(&c, ar.ino, artkey, stage, NULL)) == 0)
		rc = down_from(&c, ar.ino, stage, project, version, stage, 0,
		    0);
	return txn_finish(&c, rc);
}

int
store_revoke(struct store *st, const char *stage, const char *project,
    const char *version, const struct store_user *who)
{
	return set_revoked(st, stage, project, version, 1, who);
}

int
store_restore(struct store *st, const char *stage, const char *project,
    const char *version, const struct store_user *who)
{
	return set_revoked(st, stage, project, version, 0, who);
}


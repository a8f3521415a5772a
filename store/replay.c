/*
 * replay.c - what a rebuild (rebuild.c) builds with: the parts of a
 * ledger path, an artifact by name, and the promotions, each record
 * replayed as the changes it went through in the order they happened.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stage_impl.h"
#include "store_impl.h"

/* Split "a/b/c/d" into at most max parts (in buf); the count. */
int
replay_split_path(char *buf, char **part, int max)
{
	int n = 0;

	for (char *save = NULL, *t = strtok_r(buf, "/", &save); t && n < max;
	    t = strtok_r(NULL, "/", &save))
		part[n++] = t;
	return n;
}

int
replay_art_ino(struct ctx *c, const char *p, const char *v, uint64_t *ino,
    char *artkey)
{
	struct art_rec rec;
	int rc;

	snprintf(artkey, 600, "%s/%s", p, v);
	rc = index_get(c->st->ix, c->txn, TAB_ARTIFACT, artkey, &rec,
	    sizeof(rec));
	if (rc == 0)
		*ino = rec.ino;
	return rc;
}

/*
 * A promotion's record is replayed as the changes it went through, in the
 * order of their times across every record: promoted ("at"), restored,
 * revoked.  Each moves the links, latest and the scenarios' links as the
 * change itself did, at its time, so the tree comes out as it was.
 */
enum { EV_PROMOTE, EV_RESTORE, EV_REVOKE };

struct promo_ev {
	int64_t at;
	size_t i;	/* of the records */
	int kind;
};

static int
ev_cmp(const void *a, const void *b)
{
	const struct promo_ev *x = a, *y = b;

	if (x->at != y->at)
		return x->at < y->at ? -1 : 1;
	if (x->i != y->i)
		return x->i < y->i ? -1 : 1;
	return x->kind - y->kind;
}

static int
promo_apply(struct ctx *c, const char *path, json_t *j, int kind)
{
	char buf[1200], *part[8], artkey[600], key[900], name[300];
	char target[700];
	json_t *rec = json_deep_copy(j);
	uint64_t sdir, dir, art;
	int n, rc;

	snprintf(buf, sizeof(buf), "%s", path);
	n = replay_split_path(buf, part, 8);
	if (!rec || n != 4 || strlen(part[3]) <= 5) {
		json_decref(rec);
		return store_seterr(-EINVAL, "ledger: '%s' is damaged", path);
	}
	snprintf(name, sizeof(name), "%.*s", (int)strlen(part[3]) - 5,
	    part[3]);
	if (replay_art_ino(c, part[2], name, &art, artkey) < 0 ||
	    txn_stage_dir(c, part[1], &sdir) < 0) {
		json_decref(rec);
		return store_seterr(-EINVAL, "ledger: '%s' names what does "
		    "not exist", path);
	}
	/* the record as it stood after this change */
	if (kind != EV_REVOKE)
		json_object_del(rec, "revoked");
	if (kind == EV_PROMOTE)
		json_object_del(rec, "restored_at");
	rc = txn_put_json(c, TAB_PROMO, key, txn_promo_key(key, part[1],
	    artkey), rec);
	if (rc == 0)
		rc = txn_ensure_dir(c, sdir, part[2], ROLE_STAGE_PROJECT, 0755,
		    &dir);
	if (rc == 0 && kind == EV_REVOKE) {
		rc = index_unlink(c->st->ix, c->txn, dir, name);
		rc = rc == 0 || rc == -ENOENT ? txn_touch_dir(c, dir, 0) : rc;
	} else if (rc == 0) {
		snprintf(target, sizeof(target), "../../../artifacts/%s",
		    artkey);
		rc = txn_put_link(c, dir, name, target);
	}
	if (rc == 0)
		rc = promote_update_latest(c, part[1], part[2], dir);
	if (rc == 0)
		rc = members_link_update(c, json_string_value(
		    json_object_get(rec, "scenario")), part[1], part[2]);
	json_decref(rec);
	return rc;
}

static int
promo_time(json_t *j, const char *key)
{
	return (int)(time_parse_iso(json_string_value(json_object_get(j,
	    key))) > 0);
}

int
replay_promotions(struct ctx *c, char **paths, char **texts, size_t *lens,
    size_t n)
{
	struct promo_ev *ev = calloc(3 * n + 1, sizeof(*ev));
	json_t **recs = calloc(n + 1, sizeof(*recs));
	size_t nev = 0;
	int rc = 0;

	if (!ev || !recs)
		rc = -ENOMEM;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		json_t *j, *r;

		if (strncmp(paths[i], "promotions/", 11) != 0)
			continue;
		j = recs[i] = json_loadb(texts[i], lens[i],
		    JSON_REJECT_DUPLICATES, NULL);
		if (!j || !promo_time(j, "at")) {
			rc = store_seterr(-EINVAL, "ledger: '%s' is damaged",
			    paths[i]);
			break;
		}
		ev[nev++] = (struct promo_ev){ time_parse_iso(
		    json_string_value(json_object_get(j, "at"))), i,
		    EV_PROMOTE };
		if (promo_time(j, "restored_at"))
			ev[nev++] = (struct promo_ev){ time_parse_iso(
			    json_string_value(json_object_get(j,
			    "restored_at"))), i, EV_RESTORE };
		r = json_object_get(j, "revoked");
		if (r) {
			/* a revoke of unknown time: right after the last */
			int64_t when = promo_time(r, "revoked_at") ?
			    time_parse_iso(json_string_value(json_object_get(r,
			    "revoked_at"))) : ev[nev - 1].at;

			ev[nev++] = (struct promo_ev){ when, i, EV_REVOKE };
		}
	}
	if (rc == 0 && nev)
		qsort(ev, nev, sizeof(*ev), ev_cmp);
	for (size_t k = 0; rc == 0 && k < nev; k++) {
		c->now = ev[k].at;
		rc = promo_apply(c, paths[ev[k].i], recs[ev[k].i], ev[k].kind);
	}
	for (size_t i = 0; recs && i < n; i++)
		json_decref(recs[i]);
	free(recs);
	free(ev);
	return rc;
}


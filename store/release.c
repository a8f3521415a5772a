/*
 * release.c - umbrella releases: release.json, participants, readiness
 * and the freeze.
 *
 * A scenario (scenarios/<s>/scenario.json) names its installer(s) and the
 * projects whose artifacts make it up; artifacts name their scenario at
 * publish time.  scenarios/<s>/<stage>/<project> follows the newest artifact
 * of that scenario and project promoted to the stage.  An umbrella release
 * (releases/<r>/release.json) names a target time, the stage that counts
 * and common criteria; scenarios take part by creating participants/<s>;
 * the freeze records, for every ready participant, the exact artifacts.
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

int
store_release_create(struct store *st, const char *name,
    const struct store_user *who)
{
	return entity_create(st, &release_entity, name, who);
}

/* -- umbrella releases ---------------------------------------------- */

int
release_dir(struct ctx *c, const char *release, uint64_t *ino)
{
	return index_lookup(c->st->ix, c->txn, INO_RELEASES, release, ino);
}


/* The record of a release, or -ENOENT with a message. */
static int
release_rec(struct ctx *c, const char *release, json_t **rec)
{
	if (!(*rec = entity_rec_get(c, "r:%s%s", release, NULL)))
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
	if (json_object_get(j, "target") && !time_parse_iso(json_string_value(
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
	if ((rc = txn_begin(&c, st, who)) < 0) {
		json_decref(j);
		return rc;
	}
	files = json_array();
	if ((rc = release_rec(&c, release, &rec)) < 0 ||
	    (rc = frozen_refusal(rec, release)) < 0)
		goto out;
	srec = txn_stage_rec(&c, json_string_value(json_object_get(j,
	    "stage")));
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
	return txn_finish(&c, rc);
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
	if ((rc = txn_begin(&c, st, who)) < 0)
		return rc;
	files = json_array();
	if ((rc = release_rec(&c, release, &rec)) < 0 ||
	    (rc = frozen_refusal(rec, release)) < 0)
		goto out;
	if (!(srec = entity_rec_get(&c, "c:%s%s", scenario, NULL))) {
		rc = store_seterr(-EINVAL, "participants/%s: there is no "
		    "scenario '%s' (mkdir scenarios/%s first)", scenario,
		    scenario, scenario);
		goto out;
	}
	owner = txn_trimmed(text, len);
	p = json_pack("{s:s,s:s,s:s%}", "scenario", scenario, "notes",
	    owner ? owner : "", "text", text, len);
	txn_who_json(p, "joined", who, c.now);
	if ((rc = txn_put_json(&c, TAB_STAGE, key, entity_pair_key(key, 'q',
	    release,
	    scenario), p)) < 0 ||
	    (rc = release_dir(&c, release, &rdir)) < 0 ||
	    (rc = index_lookup(st->ix, c.txn, rdir, "participants",
	    &pdir)) < 0 ||
	    (rc = txn_put_text(&c, pdir, scenario, text, len,
	    NODE_VOLATILE)) < 0)
		goto out;
	ptext = txn_json_text(p, &plen);
	snprintf(lpath, sizeof(lpath), "releases/%s/participants/%s.json",
	    release, scenario);
	txn_add_data(files, lpath, ptext, plen);
	snprintf(lpath, sizeof(lpath), "%s joins release %s", scenario,
	    release);
	if ((rc = outbox_queue(st, c.txn, who, c.now, lpath, files)) == 0)
		rc = event_named(st, c.txn, "participant.added", who, c.now,
		    NULL, "release", release, "scenario", scenario, NULL);
out:
	free(owner);
	free(ptext);
	json_decref(p);
	json_decref(rec);
	json_decref(srec);
	json_decref(files);
	return txn_finish(&c, rc);
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
	if ((rc = txn_begin(&c, st, who)) < 0)
		return rc;
	files = json_array();
	if ((rc = release_rec(&c, release, &rec)) < 0 ||
	    (rc = frozen_refusal(rec, release)) < 0)
		goto out;
	rc = index_del_raw(st->ix, c.txn, TAB_STAGE, key, entity_pair_key(key,
	    'q',
	    release, scenario));
	if (rc == -ENOENT)
		rc = store_seterr(-ENOENT, "%s does not take part in %s",
		    scenario, release);
	if (rc < 0 || (rc = release_dir(&c, release, &rdir)) < 0 ||
	    (rc = index_lookup(st->ix, c.txn, rdir, "participants",
	    &pdir)) < 0 || (rc = index_unlink(st->ix, c.txn, pdir,
	    scenario)) < 0 || (rc = txn_touch_dir(&c, pdir, 0)) < 0)
		goto out;
	snprintf(lpath, sizeof(lpath), "releases/%s/participants/%s.json",
	    release, scenario);
	txn_add_removal(files, lpath);
	snprintf(lpath, sizeof(lpath), "%s withdraws from release %s",
	    scenario, release);
	if ((rc = outbox_queue(st, c.txn, who, c.now, lpath, files)) == 0)
		rc = event_named(st, c.txn, "participant.withdrawn", who,
		    c.now, NULL, "release", release, "scenario", scenario,
		    NULL);
out:
	json_decref(rec);
	json_decref(files);
	return txn_finish(&c, rc);
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
		v[cs->n].at = time_parse_iso(json_string_value(
		    json_object_get(j, "at")));
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
	json_t *srec = entity_rec_get(c, "c:%s%s", scenario, NULL), *p, *out;
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
			    promote_decide(c, ar.ino, artkey, "(release)",
			    common, &d) < 0)
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

	l->plen = entity_pair_key(prefix, 'q', release, NULL);
	return index_scan(c->st->ix, c->txn, TAB_STAGE, prefix, l->plen,
	    collect_part, l);
}

int
store_release_status(struct store *st, const char *release, json_t **out)
{
	struct ctx c = { st, NULL, NULL, store_now(st), 0, NULL };
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
				pr = txn_promo_rec(&c, json_string_value(
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
	    (rc = txn_ensure_dir(c, rdir, "frozen", ROLE_FROZEN, 0555,
	    &fdir)) < 0)
		goto out;
	ex = open_memstream(&excl, &elen);
	for (size_t i = 0; rc == 0 && i < l.n; i++) {
		json_t *ready = readiness(c, rel, l.names[i]), *arts, *v;
		const char *p;
		char *pins = NULL;
		size_t plen = 0;
		FILE *pf;

		if (!json_is_true(json_object_get(ready, "ready"))) {
			char label[400];
			json_t *u;
			size_t k;

			fprintf(ex, "%s\tnot ready:", l.names[i]);
			json_array_foreach(json_object_get(ready, "unmet"), k, u)
				fprintf(ex, " %s (%s);", crit_unmet_label(u,
				    "project", label, sizeof(label)),
				    json_string_value(json_object_get(u,
				    "detail")));
			fprintf(ex, "\n");
			json_decref(ready);
			continue;
		}
		arts = json_object();
		if ((rc = txn_ensure_dir(c, fdir, l.names[i], ROLE_FROZEN, 0555,
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
			m = tree_artifact_manifest(c->st, c->txn, artkey, NULL);
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
				rc = txn_put_link(c, sdir, p, target);
		}
		fclose(pf);
		if (rc == 0)
			rc = txn_put_text(c, sdir, "pins", pins ? pins : "",
			    plen, 0);
		snprintf(lpath, sizeof(lpath), "releases/%s/frozen/%s/pins",
		    release, l.names[i]);
		txn_add_data(files, lpath, pins ? pins : "", plen);
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
	mtext = txn_json_text(frozen, &mlen);
	if (!mtext || (rc = txn_put_text(c, fdir, "manifest.json", mtext, mlen,
	    0)) < 0 || (rc = txn_put_text(c, fdir, "excluded", excl ? excl : "",
	    elen, 0)) < 0 || (rc = entity_set_role(c, fdir, "manifest.json",
	    ROLE_FROZEN)) < 0 || (rc = entity_set_role(c, fdir, "excluded",
	    ROLE_FROZEN)) < 0)
		goto out;
	json_object_set(rec, "frozen", frozen);
	if ((rc = entity_rec_put(c, rec, "r:%s%s", release, NULL)) < 0)
		goto out;
	snprintf(lpath, sizeof(lpath), "releases/%s/frozen/manifest.json",
	    release);
	txn_add_data(files, lpath, mtext, mlen);
	snprintf(lpath, sizeof(lpath), "releases/%s/frozen/excluded", release);
	txn_add_data(files, lpath, excl ? excl : "", elen);
	entity_ledger_record(files, "releases", release, rec);
	r = json_pack("{s:s,s:s}", "name", "", "message", "");
	snprintf(lpath, sizeof(lpath), "release/%s", release);
	json_object_set_new(r, "name", json_string(lpath));
	json_object_set_new(r, "message", json_string(mtext));
	json_array_append(tags, r);
	snprintf(lpath, sizeof(lpath), "freeze release %s", release);
	rc = outbox_queue_tags(c->st, c->txn, c->who, c->now, lpath, files,
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
	if ((rc = txn_begin(&c, st, who)) < 0)
		return rc;
	return txn_finish(&c, freeze_in(&c, release));
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
	int64_t t = time_parse_iso(json_string_value(json_object_get(
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

int
release_frozen(struct store *st, const char *release)
{
	struct ctx c = { st, NULL, NULL, 0, 0, NULL };
	json_t *rec;
	int rc;

	if ((rc = index_begin(st->ix, 1, &c.txn)) < 0)
		return rc;
	rec = entity_rec_get(&c, "r:%s%s", release, NULL);
	index_abort(c.txn);
	rc = rec ? frozen_refusal(rec, release) : 0;
	json_decref(rec);
	return rc;
}

/* -- what time does ------------------------------------------------- */

/*
 * Releases whose target time came are frozen, then stages whose soaks or
 * waivers ended promote (the freeze first: it records what stood before).
 */
int
store_wake(struct store *st, int64_t *next)
{
	int rc = release_freeze_due(st);

	if (rc < 0)
		store_log(st, "freeze: %s", store_errmsg());
	return promote_wake(st, next);
}

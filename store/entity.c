/*
 * entity.c - what scenarios and umbrella releases have alike: a record in
 * the index, a directory in the tree, files in the ledger; made and saved
 * the same way.
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

json_t *
entity_rec_get(struct ctx *c, const char *fmt, const char *a, const char *b)
{
	char key[700];
	int n = snprintf(key, sizeof(key), fmt, a, b ? b : "");

	return txn_get_json(c, TAB_STAGE, key, (size_t)n);
}

int
entity_rec_put(struct ctx *c, json_t *j, const char *fmt, const char *a,
    const char *b)
{
	char key[700];
	int n = snprintf(key, sizeof(key), fmt, a, b ? b : "");

	return txn_put_json(c, TAB_STAGE, key, (size_t)n, j);
}

/* "q:<r>\0<s>" and "m:<s>\0<p>/<v>": a NUL between the two names. */
size_t
entity_pair_key(char *buf, char tag, const char *a, const char *b)
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
void
entity_ledger_record(json_t *files, const char *kind, const char *name,
    json_t *rec)
{
	char lpath[600], *text;
	size_t len;

	text = txn_json_text(rec, &len);
	if (!text)
		return;
	snprintf(lpath, sizeof(lpath), "%s/%s/record.json", kind, name);
	txn_add_data(files, lpath, text, len);
	free(text);
}

int
entity_set_role(struct ctx *c, uint64_t dir, const char *name, uint8_t role)
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

const struct entity scenario_entity = { "scenario", "scenarios",
	"c:%s%s", INO_SCENARIOS, ROLE_SCENARIO, ROLE_SCENARIO_CRITERIA,
	ROLE_SCENARIO_STATUS, ROLE_SCENARIO_STATUS_JSON, "criteria" };
const struct entity release_entity = { "release", "releases",
	"r:%s%s", INO_RELEASES, ROLE_RELEASE, ROLE_PARTICIPANTS,
	ROLE_RELEASE_STATUS, ROLE_RELEASE_STATUS_JSON, "participants" };

/* The nodes of an entity (creation and rebuild). */
int
entity_nodes(struct ctx *c, const struct entity *e, const char *name)
{
	uint64_t dir, sub;
	int rc;

	if ((rc = txn_ensure_dir(c, e->top, name, e->role, 0755, &dir)) < 0 ||
	    (rc = txn_ensure_dir(c, dir, e->sub, e->sub_role, 0755,
	    &sub)) < 0 ||
	    (rc = txn_put_text(c, dir, "status", "", 0, 0)) < 0 ||
	    (rc = txn_put_text(c, dir, "status.json", "", 0, 0)) < 0 ||
	    (rc = entity_set_role(c, dir, "status", e->status_role)) < 0)
		return rc;
	return entity_set_role(c, dir, "status.json", e->status_json_role);
}

int
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
	if ((rc = txn_begin(&c, st, who)) < 0)
		return rc;
	files = json_array();
	if ((old = entity_rec_get(&c, e->fmt, name, NULL))) {
		json_decref(old);
		rc = store_seterr(-EEXIST, "%s '%s' already exists", e->kind,
		    name);
		goto out;
	}
	rec = json_pack("{s:s}", "name", name);
	txn_who_json(rec, "created", who, c.now);
	if ((rc = entity_rec_put(&c, rec, e->fmt, name, NULL)) < 0 ||
	    (rc = entity_nodes(&c, e, name)) < 0)
		goto out;
	entity_ledger_record(files, e->ledger, name, rec);
	snprintf(msg, sizeof(msg), "create %s %s", e->kind, name);
	rc = outbox_queue(st, c.txn, who, c.now, msg, files);
	if (rc == 0) {
		snprintf(msg, sizeof(msg), "%s.created", e->kind);
		rc = event_named(st, c.txn, msg, who, c.now, NULL, e->kind,
		    name, NULL);
	}
out:
	json_decref(rec);
	json_decref(files);
	return txn_finish(&c, rc);
}

/*
 * The document of an entity (scenario.json, release.json): into its record,
 * its file in the tree, and the ledger, as one change.
 */
int
entity_save(struct ctx *c, const struct entity *e, const char *name,
    json_t *rec, json_t *doc, const char *text, size_t len, json_t *files)
{
	char file[64], lpath[900];
	uint64_t dir;
	int rc;

	snprintf(file, sizeof(file), "%s.json", e->kind);
	json_object_set(rec, e->kind, doc);
	txn_who_json(rec, "set", c->who, c->now);
	if ((rc = entity_rec_put(c, rec, e->fmt, name, NULL)) < 0 ||
	    (rc = index_lookup(c->st->ix, c->txn, e->top, name, &dir)) < 0 ||
	    (rc = txn_put_text(c, dir, file, text, len, 0)) < 0)
		return rc;
	snprintf(lpath, sizeof(lpath), "%s/%s/%s", e->ledger, name, file);
	txn_add_data(files, lpath, text, len);
	entity_ledger_record(files, e->ledger, name, rec);
	snprintf(lpath, sizeof(lpath), "%s %s", e->kind, name);
	if ((rc = outbox_queue(c->st, c->txn, c->who, c->now, lpath,
	    files)) < 0)
		return rc;
	snprintf(lpath, sizeof(lpath), "%s.changed", e->kind);
	return event_named(c->st, c->txn, lpath, c->who, c->now, NULL, e->kind,
	    name, NULL);
}

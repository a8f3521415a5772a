/*
 * approval.c - approvals of an artifact for a stage, and waivers of a
 * test case.
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

/* The text an artifact's approvals/<stage> file shows: one line each. */
int
approval_line(void *arg, const char *key, size_t keylen, const void *val,
    size_t vallen)
{
	struct approvals_text *t = arg;
	json_t *j = json_loadb(val, vallen, JSON_REJECT_DUPLICATES, NULL);
	char line[1200];
	int n;

	(void)key;
	(void)keylen;
	n = snprintf(line, sizeof(line), "%s\t%s\t%s\n",
	    json_string_value(json_object_get(j, "at")),
	    json_string_value(json_object_get(j, "by")),
	    json_string_value(json_object_get(j, "reason")));
	json_decref(j);
	if (n < 0)
		return 0;
	if (t->len + (size_t)n + 1 > t->cap) {
		char *nb = realloc(t->buf,
		    t->cap = (t->len + (size_t)n) * 2 + 64);

		if (!nb)
			return -ENOMEM;
		t->buf = nb;
	}
	memcpy(t->buf + t->len, line, (size_t)n);
	t->len += (size_t)n;
	return 0;
}

/* An approval's change recorded: the ledger, its event, the evaluation. */
static int
approval_changed(struct ctx *c, json_t *files, const char *msg,
    const char *event, const char *stage, uint64_t art, const char *artkey,
    json_t *ev)
{
	int rc;

	if ((rc = outbox_queue(c->st, c->txn, c->who, c->now, msg,
	    files)) < 0 || (rc = txn_stage_event(c, event, stage, artkey,
	    ev)) < 0)
		return rc;
	return promote_eval_stage(c, art, artkey, stage, NULL);
}

/*
 * approvals/<stage> of art shows the approvals left (prefix: their keys'
 * common part), one line each; with none, it goes.
 */
static int
approvals_show(struct ctx *c, uint64_t art, const char *stage,
    const char *prefix, size_t plen)
{
	struct approvals_text t = { NULL, 0, 0 };
	uint64_t adir;
	int rc;

	if ((rc = index_scan(c->st->ix, c->txn, TAB_APPROVAL, prefix, plen,
	    approval_line, &t)) < 0 || (rc = index_lookup(c->st->ix, c->txn,
	    art, "approvals", &adir)) < 0)
		goto out;
	if (t.len)
		rc = txn_put_text(c, adir, stage, t.buf, t.len, 0);
	else if ((rc = index_unlink(c->st->ix, c->txn, adir, stage)) == 0)
		rc = txn_touch_dir(c, adir, 0);
out:
	free(t.buf);
	return rc;
}

int
store_approve(struct store *st, uint64_t art, const char *stage,
    const char *reason, size_t len, const struct store_user *who)
{
	char artkey[512], key[800], lpath[1200];
	json_t *srec = NULL, *rec = NULL, *files = NULL;
	uint64_t be = htobe64(art);
	uint32_t uid = htobe32((uint32_t)who->uid);
	char *why = NULL, *text = NULL;
	size_t klen, tlen;
	struct ctx c;
	int rc;

	if ((rc = store_may(st, who, STORE_ROLE_APPROVER,
	    "approving")) < 0)
		return rc;
	if ((rc = store_artifact_key(st, art, artkey)) < 0)
		return rc;
	if (!utf8_valid(reason, len))
		return store_seterr(-EINVAL,
		    "approval: the reason is not UTF-8 "
		    "text");
	if ((rc = txn_begin(&c, st, who)) < 0)
		return rc;
	files = json_array();
	if (!(srec = txn_stage_rec(&c, stage))) {
		rc = store_seterr(-EINVAL,
		    "approval: stage '%s' does not exist",
		    stage);
		goto out;
	}
	why = txn_trimmed(reason, len);
	rec = json_pack("{s:s,s:s,s:i,s:s}", "stage", stage, "by", who->name,
	    "uid", (json_int_t)who->uid, "reason", why ? why : "");
	txn_who_json(rec, "approved", who, c.now);
	json_object_set(rec, "at", json_object_get(rec, "approved_at"));
	memcpy(key, &be, 8);
	klen = 8 + (size_t)snprintf(key + 8, 300, "%s", stage) + 1;
	memcpy(key + klen, &uid, 4);
	if ((rc = txn_put_json(&c, TAB_APPROVAL, key, klen + 4, rec)) < 0 ||
	    (rc = approvals_show(&c, art, stage, key, klen)) < 0)
		goto out;
	text = txn_json_text(rec, &tlen);
	snprintf(lpath, sizeof(lpath), "approvals/%s/%s/%s.json", artkey,
	    stage, who->name);
	txn_add_data(files, lpath, text, tlen);
	snprintf(lpath, sizeof(lpath), "approve %s for %s", artkey, stage);
	rc = approval_changed(&c, files, lpath, "approval.added", stage, art,
	    artkey, NULL);
out:
	free(why);
	free(text);
	json_decref(rec);
	json_decref(srec);
	json_decref(files);
	return txn_finish(&c, rc);
}

int
waiver_parse(const char *testcase, const char *body, size_t len,
    json_t **out)
{
	json_t *rec = NULL, *j = NULL, *v;
	const char *k, *reason;
	char *why;
	int rc = 0;

	*out = NULL;
	if (!utf8_valid(body, len) || memchr(body, '\0', len))
		return store_seterr(-EINVAL, "waiver: not UTF-8 text");
	why = txn_trimmed(body, len);
	if (why && why[0] == '{') {
		j = json_loads(why, JSON_REJECT_DUPLICATES, NULL);
		if (!json_is_object(j)) {
			rc = store_seterr(-EINVAL,
			    "waiver of %s: not valid JSON",
			    testcase);
			goto out;
		}
		json_object_foreach(j, k, v) {
			if ((strcmp(k, "reason") && strcmp(k, "expires") &&
			    strcmp(k, "scenario")) || !json_is_string(v)) {
				rc = store_seterr(-EINVAL,
				    "waiver of %s: unknown "
				    "or bad key '%s' (reason, expires, scenario: "
				    "strings)", testcase, k);
				goto out;
			}
		}
		if (json_object_get(j, "expires") && !time_parse_iso(
		    json_string_value(json_object_get(j, "expires")))) {
			rc = store_seterr(-EINVAL,
			    "waiver of %s: expires must be "
			    "an ISO-8601 UTC time such as 2026-12-01T00:00:00Z",
			    testcase);
			goto out;
		}
		rec = json_deep_copy(j);
	} else {
		rec = json_pack("{s:s}", "reason", why ? why : "");
	}
	reason = json_string_value(json_object_get(rec, "reason"));
	if (!reason || !*reason) {
		rc = store_seterr(-EINVAL, "waiver of %s: give a reason",
		    testcase);
		goto out;
	}
	*out = rec;
	rec = NULL;
out:
	json_decref(rec);
	json_decref(j);
	free(why);
	return rc;
}

/* The approval a user gave (by name), among one artifact's for a stage. */
struct by_name {
	const char *name;
	uint32_t uid_be;
	int found;
};

static int
approval_by(void *arg, const char *key, size_t keylen, const void *val,
    size_t vallen)
{
	struct by_name *b = arg;
	json_t *j = json_loadb(val, vallen, JSON_REJECT_DUPLICATES, NULL);
	const char *by = json_string_value(json_object_get(j, "by"));

	if (by && strcmp(by, b->name) == 0 && keylen >= 4) {
		memcpy(&b->uid_be, key + keylen - 4, 4);
		b->found = 1;
	}
	json_decref(j);
	return 0;
}

int
store_approval_withdraw(struct store *st, uint64_t art, const char *stage,
    const char *user, const struct store_user *who)
{
	char artkey[512], key[800], lpath[1200], name[64];
	json_t *files = NULL, *rec = NULL;
	uint64_t be = htobe64(art);
	uint32_t uid;
	size_t klen;
	struct ctx c;
	int rc;

	/* one's own: the approver's step; someone else's: a manager's */
	if (user && strcmp(user, who->name) != 0)
		rc = store_may(st, who, STORE_ROLE_MANAGER,
		    "withdrawing another user's approval");
	else
		rc = store_may(st, who, STORE_ROLE_APPROVER,
		    "withdrawing an approval");
	if (rc < 0)
		return rc;
	snprintf(name, sizeof(name), "%s", user ? user : who->name);
	if ((rc = store_artifact_key(st, art, artkey)) < 0)
		return rc;
	if ((rc = txn_begin(&c, st, who)) < 0)
		return rc;
	files = json_array();
	memcpy(key, &be, 8);
	klen = 8 + (size_t)snprintf(key + 8, 300, "%s", stage) + 1;
	uid = htobe32((uint32_t)who->uid);
	if (user && strcmp(user, who->name) != 0) {
		struct by_name b = { user, 0, 0 };

		rc = index_scan(st->ix, c.txn, TAB_APPROVAL, key, klen,
		    approval_by, &b);
		uid = b.uid_be;
		if (rc == 0 && !b.found)
			rc = -ENOENT;
	}
	memcpy(key + klen, &uid, 4);
	if (rc == 0)
		rc = index_del_raw(st->ix, c.txn, TAB_APPROVAL, key, klen + 4);
	if (rc == -ENOENT)
		rc = store_seterr(-ENOENT, "%s has no approval of %s for %s",
		    name, artkey, stage);
	/* approvals/<stage> shows who is left, or goes */
	if (rc < 0 || (rc = approvals_show(&c, art, stage, key, klen)) < 0)
		goto out;
	snprintf(lpath, sizeof(lpath), "approvals/%s/%s/%s.json", artkey,
	    stage, name);
	txn_add_removal(files, lpath);
	snprintf(lpath, sizeof(lpath), "withdraw the approval of %s for %s by "
	    "%s", artkey, stage, name);
	rec = json_pack("{s:s}", "user", name);
	/* evaluated again: a promotion made stays until it is revoked */
	rc = approval_changed(&c, files, lpath, "approval.withdrawn", stage,
	    art, artkey, rec);
out:
	json_decref(rec);
	json_decref(files);
	return txn_finish(&c, rc);
}

int
store_waive(struct store *st, uint64_t art, const char *testcase,
    const char *body, size_t len, const struct store_user *who)
{
	char artkey[512], key[400], lpath[1200], *text = NULL;
	json_t *rec = NULL, *files = NULL;
	uint64_t be = htobe64(art), wdir;
	size_t klen, tlen;
	struct ctx c;
	int rc;

	if ((rc = store_may(st, who, STORE_ROLE_APPROVER,
	    "waiving a test case")) < 0)
		return rc;
	if ((rc = store_artifact_key(st, art, artkey)) < 0)
		return rc;
	if ((rc = name_check(testcase, "test case")) < 0)
		return rc;
	if ((rc = waiver_parse(testcase, body, len, &rec)) < 0)
		return rc;
	json_object_set_new(rec, "testcase", json_string(testcase));
	json_object_set_new(rec, "by", json_string(who->name));
	if ((rc = txn_begin(&c, st, who)) < 0)
		goto out;
	files = json_array();
	{
		char when[32];

		time_iso(when, c.now);
		json_object_set_new(rec, "at", json_string(when));
	}
	memcpy(key, &be, 8);
	klen = 8 + (size_t)snprintf(key + 8, 300, "%s", testcase);
	text = txn_json_text(rec, &tlen);
	if (!text) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = txn_put_json(&c, TAB_WAIVER, key, klen, rec)) < 0 ||
	    (rc = index_lookup(st->ix, c.txn, art, "waivers", &wdir)) < 0 ||
	    (rc = txn_put_text(&c, wdir, testcase, text, tlen,
	    NODE_VOLATILE)) < 0)
		goto out;
	snprintf(lpath, sizeof(lpath), "waivers/%s/%s.json", artkey, testcase);
	txn_add_data(files, lpath, text, tlen);
	snprintf(lpath, sizeof(lpath), "waive %s for %s", testcase, artkey);
	if ((rc = outbox_queue(st, c.txn, who, c.now, lpath, files)) < 0)
		goto out;
	{
		json_t *ev = json_pack("{s:s,s:O}", "testcase", testcase,
		    "reason", json_object_get(rec, "reason"));

		rc = event_artifact(st, c.txn, "waiver.added", who, c.now,
		    artkey, ev);
		json_decref(ev);
		if (rc < 0)
			goto out;
	}
	rc = promote_eval_artifact(&c, art, artkey);
out:
	free(text);
	json_decref(rec);
	json_decref(files);
	return txn_finish(&c, rc);
}

int
store_waiver_withdraw(struct store *st, uint64_t art, const char *testcase,
    const struct store_user *who)
{
	char artkey[512], key[400], lpath[1200];
	json_t *files = NULL;
	uint64_t be = htobe64(art), wdir;
	struct ctx c;
	size_t klen;
	int rc;

	if ((rc = store_may(st, who, STORE_ROLE_APPROVER,
	    "withdrawing a waiver")) < 0)
		return rc;
	if ((rc = store_artifact_key(st, art, artkey)) < 0)
		return rc;
	if ((rc = txn_begin(&c, st, who)) < 0)
		return rc;
	files = json_array();
	memcpy(key, &be, 8);
	klen = 8 + (size_t)snprintf(key + 8, 300, "%s", testcase);
	rc = index_del_raw(st->ix, c.txn, TAB_WAIVER, key, klen);
	if (rc == -ENOENT)
		rc = store_seterr(-ENOENT, "no waiver of %s", testcase);
	if (rc < 0 || (rc = index_lookup(st->ix, c.txn, art, "waivers",
	    &wdir)) < 0 || (rc = index_unlink(st->ix, c.txn, wdir,
	    testcase)) < 0 || (rc = txn_touch_dir(&c, wdir, 0)) < 0)
		goto out;
	snprintf(lpath, sizeof(lpath), "waivers/%s/%s.json", artkey, testcase);
	txn_add_removal(files, lpath);
	snprintf(lpath, sizeof(lpath), "withdraw the waiver of %s for %s",
	    testcase, artkey);
	if ((rc = outbox_queue(st, c.txn, who, c.now, lpath, files)) < 0)
		goto out;
	{
		json_t *ev = json_pack("{s:s}", "testcase", testcase);

		rc = event_artifact(st, c.txn, "waiver.withdrawn", who, c.now,
		    artkey, ev);
		json_decref(ev);
	}
	/* a withdrawal never promotes; it only changes what status says */
out:
	json_decref(files);
	return txn_finish(&c, rc);
}

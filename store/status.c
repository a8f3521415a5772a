/*
 * status.c - what an artifact's status and status.json say, made when
 * they are read.
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
store_stage_applies(struct store *st, const char *stage, const char *project)
{
	struct ctx c = { st, NULL, NULL, store_now(st), 0, NULL };
	json_t *srec;
	int rc;

	if ((rc = index_begin(st->ix, 1, &c.txn)) < 0)
		return rc;
	srec = txn_stage_rec(&c, stage);
	index_abort(c.txn);
	if (!srec)
		return store_seterr(-ENOENT, "stage '%s' does not exist", stage);
	rc = crit_applies(json_object_get(srec, "criteria"), project) ? 0 :
	    store_seterr(-ENOENT, "stage '%s' is not for project '%s' (its "
	    "criteria name other \"projects\")", stage, project);
	json_decref(srec);
	return rc;
}

int
store_status(struct store *st, uint64_t art, json_t **out)
{
	struct stage_list l = { NULL, 0 };
	json_t *stages = json_object(), *order = json_array();
	char artkey[512], project[300];
	struct ctx c = { st, NULL, NULL, store_now(st), 0, NULL };
	int rc;

	if ((rc = store_artifact_key(st, art, artkey)) < 0)
		goto fail;
	if ((rc = index_begin(st->ix, 1, &c.txn)) < 0)
		goto fail;
	rc = txn_stage_names(st, c.txn, &l);
	if (rc == 0)
		rc = txn_stage_order(&c, &l);
	snprintf(project, sizeof(project), "%.*s",
	    (int)(strchr(artkey, '/') - artkey), artkey);
	for (size_t i = 0; rc == 0 && i < l.n; i++) {
		json_t *p, *srec = txn_stage_rec(&c, l.names[i]), *d = NULL;

		/* a stage for other projects is left out */
		if (!srec || !crit_applies(json_object_get(srec, "criteria"),
		    project)) {
			json_decref(srec);
			continue;
		}
		p = txn_promo_rec(&c, l.names[i], artkey);
		json_array_append_new(order, json_string(l.names[i]));
		if (p && !json_object_get(p, "revoked")) {
			json_object_set_new(stages, l.names[i], json_pack(
			    "{s:b,s:O,s:O,s:O,s:O}", "promoted", 1, "at",
			    json_object_get(p, "at"), "cycle",
			    json_object_get(p, "cycle"), "criteria",
			    json_object_get(p, "criteria"), "evidence",
			    json_object_get(p, "evidence")));
		} else {
			rc = promote_decide(&c, art, artkey, l.names[i], srec,
			    &d);
			/* met on a manual stage: what is left is the step */
			if (rc == 0 && json_array_size(json_object_get(d,
			    "unmet")) == 0 && json_is_false(json_object_get(
			    json_object_get(srec, "criteria"), "automatic")))
				json_array_append_new(json_object_get(d,
				    "unmet"), json_pack("{s:s,s:s}", "type",
				    "manual-promotion", "detail", "criteria met; "
				    "promote with relctl promote"));
			if (rc == 0)
				json_object_set_new(stages, l.names[i],
				    json_pack("{s:b,s:O}", "promoted", 0,
				    "unmet", json_object_get(d, "unmet")));
			json_decref(d);
		}
		json_decref(srec);
		json_decref(p);
	}
	index_abort(c.txn);
	txn_stage_list_free(&l);
	if (rc < 0)
		goto fail;
	/* "stages" by name (as before), "order": the pipeline's order */
	*out = json_pack("{s:s,s:o,s:o}", "artifact", artkey, "stages", stages,
	    "order", order);
	return 0;
fail:
	json_decref(stages);
	json_decref(order);
	return rc;
}

int
store_status_text(struct store *st, uint64_t art, int as_json, char **buf,
    size_t *len)
{
	json_t *s;
	int rc;

	if ((rc = store_status(st, art, &s)) < 0)
		return rc;
	rc = store_status_render(s, as_json, buf, len);
	json_decref(s);
	return rc;
}

int
store_status_render(json_t *s, int as_json, char **buf, size_t *len)
{
	char label[400];
	json_t *v, *o;
	const char *stage;
	size_t k;
	FILE *f;

	if (as_json) {
		*buf = txn_json_text(s, len);
		return *buf ? 0 : -ENOMEM;
	}
	f = open_memstream(buf, len);
	if (!f)
		return -ENOMEM;
	fprintf(f, "%s\n", json_string_value(json_object_get(s, "artifact")));
	if (json_object_size(json_object_get(s, "stages")) == 0)
		fprintf(f, "  no stages yet\n");
	json_array_foreach(json_object_get(s, "order"), k, o) {
		size_t i;
		json_t *u;

		stage = json_string_value(o);
		v = json_object_get(json_object_get(s, "stages"), stage);
		if (json_is_true(json_object_get(v, "promoted"))) {
			fprintf(f, "  %s: promoted at %s (cycle %lld, criteria "
			    "%.12s)\n", stage, json_string_value(
			    json_object_get(v, "at")), (long long)
			    json_integer_value(json_object_get(v, "cycle")),
			    json_string_value(json_object_get(v, "criteria")) ?
			    json_string_value(json_object_get(v, "criteria")) :
			    "-");
			continue;
		}
		fprintf(f, "  %s: not promoted\n", stage);
		json_array_foreach(json_object_get(v, "unmet"), i, u)
			fprintf(f, "    - %s: %s\n", crit_unmet_label(u,
			    "testcase", label, sizeof(label)),
			    json_string_value(json_object_get(u, "detail")));
	}
	fclose(f);
	return 0;
}

int
store_node_is_dynamic(const struct node *n)
{
	return n->kind == NODE_RUN || n->role == ROLE_STATUS ||
	    n->role == ROLE_STATUS_JSON || n->role == ROLE_SCENARIO_STATUS ||
	    n->role == ROLE_SCENARIO_STATUS_JSON ||
	    n->role == ROLE_RELEASE_STATUS ||
	    n->role == ROLE_RELEASE_STATUS_JSON;
}

static int
status_people(json_t *s, int release, char **buf, size_t *len)
{
	FILE *f = open_memstream(buf, len);
	const char *k, *k2;
	char label[400];
	json_t *v, *v2, *u;
	size_t i;

	if (!f)
		return -ENOMEM;
	if (release) {
		fprintf(f, "release %s (target %s)%s\n", json_string_value(
		    json_object_get(s, "release")), json_string_value(
		    json_object_get(s, "target")) ? json_string_value(
		    json_object_get(s, "target")) : "none",
		    json_object_get(json_object_get(s, "frozen"), "frozen_at") ?
		    ", frozen" : "");
		json_object_foreach(json_object_get(s, "participants"), k, v) {
			fprintf(f, "  %s: %s\n", k,
			    json_is_true(json_object_get(
			    v, "ready")) ? "ready" : "not ready");
			json_object_foreach(json_object_get(v, "artifacts"), k2,
			    v2)
				fprintf(f, "    %s %s\n", k2,
				    json_string_value(v2));
			json_array_foreach(json_object_get(v, "unmet"), i, u)
				fprintf(f, "    - %s: %s\n", crit_unmet_label(u,
				    "project", label, sizeof(label)),
				    json_string_value(json_object_get(u,
				    "detail")));
		}
		json_array_foreach(json_object_get(s, "notes"), i, u)
			fprintf(f, "  note: %s %s\n", json_string_value(
			    json_object_get(u, "artifact")), json_string_value(
			    json_object_get(u, "detail")));
	} else {
		fprintf(f, "scenario %s\n", json_string_value(json_object_get(s,
		    "scenario")));
		json_object_foreach(json_object_get(s, "stages"), k, v) {
			fprintf(f, "  %s:\n", k);
			json_object_foreach(v, k2, v2)
				fprintf(f, "    %s: %s\n", k2, json_is_true(
				    json_object_get(v2, "promoted")) ?
				    json_string_value(json_object_get(v2,
				    "version")) : "missing");
		}
		fprintf(f,
		    "  scores (-1 no run, 0 never passed, 1 passed once, "
		    "2 passing, 3 the last 4 passed):\n");
		json_object_foreach(json_object_get(s, "scores"), k, v)
			fprintf(f, "    %s: %lld\n", k,
			    (long long)json_integer_value(v));
	}
	fclose(f);
	return 0;
}

int
store_dynamic_text(struct store *st, uint64_t ino, const struct node *n,
    char **buf, size_t *len)
{
	char name[NAME_MAX_BYTES + 1];
	MDB_txn *txn;
	json_t *s = NULL;
	int rc, release;

	(void)ino;
	if (n->kind == NODE_RUN)
		return store_run_text(st, n, buf, len);
	if (n->role == ROLE_STATUS || n->role == ROLE_STATUS_JSON)
		return store_status_text(st, n->parent,
		    n->role == ROLE_STATUS_JSON, buf, len);
	release = n->role == ROLE_RELEASE_STATUS ||
	    n->role == ROLE_RELEASE_STATUS_JSON;
	if ((rc = index_begin(st->ix, 1, &txn)) < 0)
		return rc;
	rc = index_name_of(st->ix, txn, release ? INO_RELEASES : INO_SCENARIOS,
	    n->parent, name);
	index_abort(txn);
	if (rc < 0)
		return rc;
	rc = release ? store_release_status(st, name, &s) :
	    store_scenario_status(st, name, &s);
	if (rc < 0)
		return rc;
	if (n->role == ROLE_RELEASE_STATUS_JSON ||
	    n->role == ROLE_SCENARIO_STATUS_JSON) {
		*buf = txn_json_text(s, len);
		rc = *buf ? 0 : -ENOMEM;
	} else {
		rc = status_people(s, release, buf, len);
	}
	json_decref(s);
	return rc;
}

/* A rendered size: right while the index and the second are the same. */
struct size_memo {
	uint64_t ino, generation, size;
	int64_t second;
};

#define SIZE_SLOTS 4096

int
store_dynamic_size(struct store *st, uint64_t ino, const struct node *n,
    uint64_t *size)
{
	uint64_t gen = index_generation(st->ix);
	int64_t now = store_now(st);
	struct size_memo *m;
	char *buf = NULL;
	size_t len;
	int rc;

	pthread_mutex_lock(&st->size_mu);
	if (!st->sizes)
		st->sizes = calloc(SIZE_SLOTS, sizeof(*st->sizes));
	m = st->sizes ? &st->sizes[ino % SIZE_SLOTS] : NULL;
	if (m && m->ino == ino && m->generation == gen && m->second == now) {
		*size = m->size;
		pthread_mutex_unlock(&st->size_mu);
		return 0;
	}
	pthread_mutex_unlock(&st->size_mu);
	if ((rc = store_dynamic_text(st, ino, n, &buf, &len)) < 0)
		return rc;
	free(buf);
	*size = len;
	pthread_mutex_lock(&st->size_mu);
	/* what was rendered counts for the index as it was before rendering */
	if (m && store_now(st) == now) {
		m->ino = ino;
		m->generation = gen;
		m->second = now;
		m->size = len;
	}
	pthread_mutex_unlock(&st->size_mu);
	return 0;
}

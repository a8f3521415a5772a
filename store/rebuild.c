/*
 * rebuild.c - stages, criteria, approvals, waivers, holds and promotions
 * rebuilt from the ledger's files, and the whole index rebuilt from the
 * ledger (store_rebuild).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cas.h"
#include "fanout.h"
#include "formats.h"
#include "ledger.h"
#include "manifest.h"
#include "safe.h"
#include "stage_impl.h"
#include "store_impl.h"

static int
rebuild_one(struct ctx *c, int pass, const char *path, const char *text,
    size_t len)
{
	char buf[1200], *part[8], artkey[600], key[900], name[300];
	json_t *j = NULL;
	uint64_t sdir, dir, art = 0;
	int n, rc = 0;

	snprintf(buf, sizeof(buf), "%s", path);
	n = replay_split_path(buf, part, 8);
	if (n > 0 && (strcmp(part[0], "scenarios") == 0 ||
	    strcmp(part[0], "releases") == 0))
		return pass <= 2 ? rebuild_release_one(c, pass, part, n, text,
		    len) : 0;
	j = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	if (j && json_string_value(json_object_get(j, "at")))
		c->now = time_parse_iso(json_string_value(json_object_get(j,
		    "at")));
	if (pass == 1 && n == 3 && strcmp(part[0], "stages") == 0 &&
	    strcmp(part[2], "stage.json") == 0) {
		if (!j)
			goto bad;
		/* the stage's directory dates from its making */
		if (time_parse_iso(json_string_value(json_object_get(j,
		    "created_at"))) > 0)
			c->now = time_parse_iso(json_string_value(
			    json_object_get(j, "created_at")));
		if ((rc = txn_put_json(c, TAB_STAGE, key, txn_stage_key(key,
		    part[1]), j)) < 0 || (rc = txn_ensure_dir(c, INO_STAGES,
		    part[1],
		    ROLE_STAGE, 0755, &sdir)) < 0)
			goto out;
		rc = txn_ensure_dir(c, sdir, "criteria.history", ROLE_NONE,
		    0555,
		    &dir);
	} else if (pass == 2 && strcmp(part[0], "stages") == 0 && n >= 3 &&
	    strcmp(part[2], "stage.json") != 0) {
		if ((rc = txn_stage_dir(c, part[1], &sdir)) < 0)
			goto bad;
		if (n == 3 && strcmp(part[2], "criteria.json") == 0)
			rc = txn_put_text(c, sdir, "criteria.json", text, len,
			    0);
		else if (n == 3 && strcmp(part[2], "hold") == 0)
			rc = txn_put_text(c, sdir, "hold", text, len,
			    NODE_VOLATILE);
		else if (n == 4 && strcmp(part[2], "criteria.history") == 0 &&
		    (rc = index_lookup(c->st->ix, c->txn, sdir,
		    "criteria.history", &dir)) == 0)
			rc = txn_put_text(c, dir, part[3], text, len, 0);
	} else if (pass == 2 && n == 4 && strcmp(part[0], "projects") == 0 &&
	    strcmp(part[2], "criteria") == 0) {
		json_t *rec;

		if (!j || strlen(part[3]) <= 5)
			goto bad;
		snprintf(name, sizeof(name), "%.*s", (int)strlen(part[3]) - 5,
		    part[3]);
		rec = json_pack("{s:O}", "criteria", j);
		rc = txn_put_json(c, TAB_STAGE, key, txn_projcrit_key(key,
		    part[1],
		    name), rec);
		json_decref(rec);
		if (rc == 0 && (rc = index_lookup(c->st->ix, c->txn,
		    INO_PROJECTS, part[1], &dir)) == 0 &&
		    (rc = index_lookup(c->st->ix, c->txn, dir, "criteria",
		    &dir)) == 0)
			rc = txn_put_text(c, dir, part[3], text, len, 0);
	} else if (pass == 3 && n == 5 && strcmp(part[0], "approvals") == 0) {
		struct approvals_text t = { NULL, 0, 0 };
		uint64_t be;
		uint32_t uid;
		size_t klen;

		if (!j || replay_art_ino(c, part[1], part[2], &art, artkey) < 0)
			goto bad;
		be = htobe64(art);
		uid = htobe32((uint32_t)json_integer_value(json_object_get(j,
		    "uid")));
		memcpy(key, &be, 8);
		klen = 8 + (size_t)snprintf(key + 8, 300, "%s", part[3]) + 1;
		memcpy(key + klen, &uid, 4);
		if ((rc = txn_put_json(c, TAB_APPROVAL, key, klen + 4,
		    j)) == 0 &&
		    (rc = index_scan(c->st->ix, c->txn, TAB_APPROVAL, key, klen,
		    approval_line, &t)) == 0 &&
		    (rc = index_lookup(c->st->ix, c->txn, art, "approvals",
		    &dir)) == 0)
			rc = txn_put_text(c, dir, part[3], t.buf ? t.buf : "",
			    t.len,
			    0);
		free(t.buf);
	} else if (pass == 3 && n == 4 && strcmp(part[0], "waivers") == 0) {
		uint64_t be;
		size_t klen;

		if (!j || strlen(part[3]) <= 5 ||
		    replay_art_ino(c, part[1], part[2], &art, artkey) < 0)
			goto bad;
		snprintf(name, sizeof(name), "%.*s", (int)strlen(part[3]) - 5,
		    part[3]);
		be = htobe64(art);
		memcpy(key, &be, 8);
		klen = 8 + (size_t)snprintf(key + 8, 300, "%s", name);
		if ((rc = txn_put_json(c, TAB_WAIVER, key, klen, j)) == 0 &&
		    (rc = index_lookup(c->st->ix, c->txn, art, "waivers",
		    &dir)) == 0)
			rc = txn_put_text(c, dir, name, text, len,
			    NODE_VOLATILE);
	}
	goto out;
bad:
	rc = store_seterr(-EINVAL, "ledger: '%s' is damaged or names what "
	    "does not exist", path);
out:
	json_decref(j);
	return rc;
}

int
rebuild_stages(struct store *st, MDB_txn *txn, char **paths, char **texts,
    size_t *lens, const int64_t *times, size_t n)
{
	struct store_user who;
	struct ctx c;
	int rc = 0;

	store_user_from_uid(&who, getuid(), getgid());
	c.st = st;
	c.txn = txn;
	c.who = &who;
	c.depth = 0;
	for (int pass = 1; pass <= 3 && rc == 0; pass++)
		for (size_t i = 0; i < n && rc == 0; i++) {
			/* a record's own "at" wins (rebuild_one) */
			c.now = times && times[i] ? times[i] : store_now(st);
			rc = rebuild_one(&c, pass, paths[i], texts[i], lens[i]);
		}
	/* promotions last, as what happened to them happened */
	if (rc == 0)
		rc = replay_promotions(&c, paths, texts, lens, n);
	return rc;
}

/* -- scenarios and releases ---------------------------------------- */

/* -- rebuild from the ledger ---------------------------------------- */

/*
 * Pass 1: scenarios and releases (records, their files); pass 2:
 * participants and frozen trees.  Promotions come after (stage.c), and
 * move the scenario links.
 */
int
rebuild_release_one(struct ctx *c, int pass, char **part, int n,
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
		if ((rc = entity_rec_put(c, j, e->fmt, part[1], NULL)) == 0)
			rc = entity_nodes(c, e, part[1]);
	} else if (pass == 2 && n == 3 && strcmp(part[0], "scenarios") == 0 &&
	    strcmp(part[2], "scenario.json") == 0) {
		if ((rc = members_dir(c, part[1], &dir)) < 0)
			goto bad;
		rc = txn_put_text(c, dir, "scenario.json", text, len, 0);
	} else if (pass == 2 && n == 4 && strcmp(part[0], "scenarios") == 0 &&
	    strcmp(part[2], "criteria") == 0 && strlen(part[3]) > 5) {
		json_t *rec;
		char stage[300];

		if (!j || members_dir(c, part[1], &dir) < 0 ||
		    index_lookup(c->st->ix, c->txn, dir, "criteria", &sub) < 0)
			goto bad;
		snprintf(stage, sizeof(stage), "%.*s", (int)strlen(part[3]) - 5,
		    part[3]);
		rec = json_pack("{s:O}", "criteria", j);
		rc = entity_rec_put(c, rec, "x:%s/%s", part[1], stage);
		json_decref(rec);
		if (rc == 0)
			rc = txn_put_text(c, sub, part[3], text, len, 0);
	} else if (pass == 2 && n == 3 && strcmp(part[0], "releases") == 0 &&
	    strcmp(part[2], "release.json") == 0) {
		if ((rc = release_dir(c, part[1], &dir)) < 0)
			goto bad;
		rc = txn_put_text(c, dir, "release.json", text, len, 0);
	} else if (pass == 2 && n == 4 && strcmp(part[0], "releases") == 0 &&
	    strcmp(part[2], "participants") == 0 && strlen(part[3]) > 5) {
		char key[800], scen[300];

		if (!j || release_dir(c, part[1], &dir) < 0 ||
		    index_lookup(c->st->ix, c->txn, dir, "participants",
		    &sub) < 0)
			goto bad;
		snprintf(scen, sizeof(scen), "%.*s", (int)strlen(part[3]) - 5,
		    part[3]);
		if ((rc = txn_put_json(c, TAB_STAGE, key, entity_pair_key(key,
		    'q', part[1],
		    scen), j)) < 0)
			goto out;
		{
			/* the bytes the scenario wrote */
			json_t *t = json_object_get(j, "text");

			rc = txn_put_text(c, sub, scen,
			    t ? json_string_value(t) : "",
			    t ? json_string_length(t) : 0, NODE_VOLATILE);
		}
	} else if (pass == 2 && n >= 4 && strcmp(part[0], "releases") == 0 &&
	    strcmp(part[2], "frozen") == 0) {
		uint64_t fdir;

		if (release_dir(c, part[1], &dir) < 0 ||
		    (rc = txn_ensure_dir(c, dir, "frozen", ROLE_FROZEN, 0555,
		    &fdir)) < 0)
			goto bad;
		if (n == 4) {
			/* manifest.json or excluded */
			if ((rc = txn_put_text(c, fdir, part[3], text, len,
			    0)) < 0 ||
			    (rc = entity_set_role(c, fdir, part[3],
			    ROLE_FROZEN)) < 0)
				goto out;
			if (strcmp(part[3], "manifest.json") == 0 && j) {
				const char *sn, *pn;
				json_t *sv, *pv;

				json_object_foreach(json_object_get(j,
				    "scenarios"), sn, sv) {
					if ((rc = txn_ensure_dir(c, fdir, sn,
					    ROLE_FROZEN, 0555, &sub)) < 0)
						goto out;
					json_object_foreach(sv, pn, pv) {
						char target[900];

						snprintf(target, sizeof(target),
						    "../../../../artifacts/%s/%s",
						    pn, json_string_value(
						    json_object_get(pv,
						    "version")));
						if ((rc = txn_put_link(c, sub,
						    pn,
						    target)) < 0)
							goto out;
					}
				}
			}
		} else if (n == 5 && strcmp(part[4], "pins") == 0) {
			if ((rc = txn_ensure_dir(c, fdir, part[3], ROLE_FROZEN,
			    0555,
			    &sub)) < 0)
				goto out;
			rc = txn_put_text(c, sub, "pins", text, len, 0);
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

/* -- the whole index, from the ledger ------------------------------- */

struct found {
	char **paths;
	char **texts;
	size_t *lens;
	size_t n, cap;
	struct found *runs;	/* runs/<p>/<v>/<testcase>/<n>.json */
	struct found *state;	/* stages, approvals, waivers, promotions */
};

static int
is_state(const char *path)
{
	static const char *prefixes[] = { "stages/", "approvals/", "waivers/",
	    "promotions/", "scenarios/", "releases/" };

	for (size_t i = 0; i < sizeof(prefixes) / sizeof(*prefixes); i++)
		if (strncmp(path, prefixes[i], strlen(prefixes[i])) == 0)
			return 1;
	if (strcmp(path, "config.json") == 0)
		return 1;
	return strncmp(path, "projects/", 9) == 0 &&
	    strstr(path, "/criteria/") != NULL;
}

static int
collect_blob(void *arg, const char *path, const char *data, size_t len)
{
	struct found *f = arg;
	const char *base = strrchr(path, '/');

	if (f->runs && strncmp(path, "runs/", 5) == 0)
		return collect_blob(f->runs, path, data, len);
	if (f->state && is_state(path))
		return collect_blob(f->state, path, data, len);
	if (!f->runs && (strncmp(path, "runs/", 5) == 0 || is_state(path)))
		goto keep;
	if (!base || (strcmp(base, "/manifest.json") != 0) ||
	    strncmp(path, "artifacts/", 10) != 0)
		return 0;
keep:
	if (f->n == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 64;
		f->paths = realloc(f->paths, f->cap * sizeof(char *));
		f->texts = realloc(f->texts, f->cap * sizeof(char *));
		f->lens = realloc(f->lens, f->cap * sizeof(size_t));
		if (!f->paths || !f->texts || !f->lens)
			return -ENOMEM;
	}
	f->paths[f->n] = strdup(path);
	f->texts[f->n] = malloc(len + 1);
	if (!f->paths[f->n] || !f->texts[f->n])
		return -ENOMEM;
	memcpy(f->texts[f->n], data, len);
	f->texts[f->n][len] = '\0';
	f->lens[f->n] = len;
	f->n++;
	return 0;
}

/*
 * Runs by test case, then number (numerically: a million runs has names of
 * seven digits); any other paths as strcmp orders them, which is the order
 * git keeps a tree in.  The ledger's own order is that of its layout.
 */
static int
path_cmp(const char *a, const char *b, int runs)
{
	const char *sa = strrchr(a, '/'), *sb = strrchr(b, '/');
	size_t la, lb;
	int c;

	if (!runs || !sa || !sb)
		return strcmp(a, b);
	la = (size_t)(sa - a);
	lb = (size_t)(sb - b);
	c = strncmp(a, b, la < lb ? la : lb);
	if (c || la != lb)
		return c ? c : la < lb ? -1 : 1;
	la = strspn(sa + 1, "0123456789");
	lb = strspn(sb + 1, "0123456789");
	if (la != lb)
		return la < lb ? -1 : 1;
	return strcmp(sa + 1, sb + 1);
}

struct sort_by {
	char **paths;
	int runs;
};

static int
index_cmp(const void *x, const void *y, void *arg)
{
	const struct sort_by *by = arg;

	return path_cmp(by->paths[*(const size_t *)x],
	    by->paths[*(const size_t *)y], by->runs);
}

/* Put f in logical order (path_cmp). */
static int
found_sort(struct found *f, int runs)
{
	size_t *ix = malloc((f->n + 1) * sizeof(*ix));
	char **p = malloc((f->n + 1) * sizeof(*p));
	char **t = malloc((f->n + 1) * sizeof(*t));
	size_t *l = malloc((f->n + 1) * sizeof(*l));

	if (!ix || !p || !t || !l) {
		free(ix);
		free(p);
		free(t);
		free(l);
		return -ENOMEM;
	}
	struct sort_by by = { f->paths, runs };

	for (size_t i = 0; i < f->n; i++)
		ix[i] = i;
	qsort_r(ix, f->n, sizeof(*ix), index_cmp, &by);
	for (size_t i = 0; i < f->n; i++) {
		p[i] = f->paths[ix[i]];
		t[i] = f->texts[ix[i]];
		l[i] = f->lens[ix[i]];
	}
	free(f->paths);
	free(f->texts);
	free(f->lens);
	f->paths = p;
	f->texts = t;
	f->lens = l;
	f->cap = f->n + 1;
	free(ix);
	return 0;
}

static void
found_free(struct found *f)
{
	if (f->runs)
		found_free(f->runs);
	if (f->state)
		found_free(f->state);
	for (size_t i = 0; i < f->n; i++) {
		free(f->paths[i]);
		free(f->texts[i]);
	}
	free(f->paths);
	free(f->texts);
	free(f->lens);
}

/* Check that a manifest found at path really is that artifact's. */
static int
check_loaded(json_t *m, const char *path)
{
	char want[4096];
	size_t n = mf_count(m);

	snprintf(want, sizeof(want), "artifacts/%s/%s/manifest.json",
	    mf_str(m, "project"), mf_str(m, "version"));
	if (strcmp(want, path) != 0)
		return store_seterr(-EINVAL, "ledger: '%s' describes %s %s",
		    path, mf_str(m, "project"), mf_str(m, "version"));
	if (name_check(mf_str(m, "project"), "project") < 0 ||
	    name_check(mf_str(m, "version"), "version") < 0)
		return store_prefixerr(-EINVAL, "ledger: '%s'", path);
	for (size_t i = 0; i < n; i++) {
		const char *p;
		enum mf_type t;
		uint32_t mode;
		uint64_t size;
		uint8_t d[DIGEST_LEN];
		int rc = mf_entry(m, i, &p, &t, &mode, &size, d);

		if (rc < 0)
			return rc;
		if (i > 0 && strcmp(mf_str(json_array_get(json_object_get(m,
		    "files"), i - 1), "path"), p) >= 0)
			return store_seterr(-EINVAL, "ledger: '%s': files are "
			    "not in path order", path);
	}
	return 0;
}

struct file_times {
	struct found *f;	/* sorted by path */
	int64_t *times;
};

static int
path_cmp_key(const void *key, const void *elem)
{
	return strcmp(key, *(char *const *)elem);
}

static int
file_time(void *arg, const char *path, int64_t when)
{
	struct file_times *t = arg;
	char **hit = bsearch(path, t->f->paths, t->f->n, sizeof(char *),
	    path_cmp_key);

	if (hit && !t->times[hit - t->f->paths])
		t->times[hit - t->f->paths] = when;
	return 0;
}

/*
 * When each state file last changed, by the ledger's history: the time
 * of a file that carries none of its own (criteria.json, a hold) and of
 * the directories it is in.
 */
static int
state_times(struct store *st, struct found *state, int64_t **out)
{
	static const char *const under[] = { "stages", "projects",
	    "scenarios", "releases", "approvals", "waivers", "config.json" };
	struct file_times t = { state, calloc(state->n + 1,
	    sizeof(int64_t)) };
	int rc;

	if (!t.times)
		return -ENOMEM;
	rc = ledger_file_times(st->lg, under, sizeof(under) / sizeof(*under),
	    file_time, &t);
	if (rc < 0) {
		free(t.times);
		return rc;
	}
	*out = t.times;
	return 0;
}

struct order {
	int64_t created;
	size_t i;
};

static int
order_cmp(const void *a, const void *b)
{
	const struct order *x = a, *y = b;

	if (x->created != y->created)
		return x->created < y->created ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

/* Run want of the ledger's file path, as kept (see run_complete). */
static int
rebuild_run(struct store *st, MDB_txn *txn, const char *path,
    const char *key, uint64_t art, json_t *kept, long long want)
{
	json_t *run = kept ? run_complete(kept) : NULL;
	int rc;

	if (!run || json_integer_value(json_object_get(run, "run")) != want) {
		json_decref(run);
		return store_seterr(-EINVAL, "ledger: run %lld of '%s' is "
		    "damaged", want, path);
	}
	rc = runs_insert(st, txn, art, key, run, NULL, NULL);
	json_decref(run);
	return rc < 0 ? store_prefixerr(rc, "ledger: '%s'", path) : 0;
}

/*
 * The runs of an import's file of the ledger: a line of what they share
 * ({"first", "last", "recorded", "uid", "user"}), then their records as
 * given, a line each.
 */
static int
rebuild_import(struct store *st, MDB_txn *txn, const char *path,
    const char *key, uint64_t art, const char *text, size_t len,
    long long first, long long last)
{
	const char *nl = memchr(text, '\n', len);
	json_t *head = nl ? json_loadb(text, (size_t)(nl - text),
	    JSON_REJECT_DUPLICATES, NULL) : NULL;
	long long n;
	int rc = 0;

	if (!json_is_object(head) || json_integer_value(json_object_get(head,
	    "first")) != first || json_integer_value(json_object_get(head,
	    "last")) != last) {
		json_decref(head);
		return store_seterr(-EINVAL, "ledger: '%s' does not begin with "
		    "the runs it holds", path);
	}
	json_object_del(head, "first");
	json_object_del(head, "last");
	len -= (size_t)(nl - text) + 1;
	text = nl + 1;
	for (n = first; rc == 0 && n <= last; n++) {
		/* a line each; the last one's newline may be missing */
		size_t ll = (nl = memchr(text, '\n', len)) ?
		    (size_t)(nl - text) : len;
		json_t *kept;

		if (!ll) {
			rc = store_seterr(-EINVAL, "ledger: '%s' holds runs up "
			    "to %lld, not %lld", path, n - 1, last);
			break;
		}
		kept = json_copy(head);
		json_object_set_new(kept, "record", json_loadb(text, ll,
		    JSON_REJECT_DUPLICATES, NULL));
		json_object_set_new(kept, "run", json_integer(n));
		rc = rebuild_run(st, txn, path, key, art, kept, n);
		json_decref(kept);
		len -= ll + (nl != NULL);
		text += ll + (nl != NULL);
	}
	json_decref(head);
	if (rc == 0 && len)
		rc = store_seterr(-EINVAL, "ledger: '%s' holds more runs than "
		    "%lld to %lld", path, first, last);
	return rc;
}

/*
 * The runs of a run file of the ledger: runs/<p>/<v>/<testcase>/<n>.json,
 * or an import's <first>-<last>.jsonl.
 */
static int
rebuild_runs(struct store *st, MDB_txn *txn, const char *path,
    const char *text, size_t len)
{
	const char *p = path + 5, *tc, *base = strrchr(path, '/');
	long long first, last;
	struct art_rec rec;
	char key[600];
	json_t *kept;
	int rc;

	tc = strchr(p, '/');
	tc = tc ? strchr(tc + 1, '/') : NULL;
	if (!tc || (size_t)(tc - p) >= sizeof(key) ||
	    fanout_run_range(base + 1, &first, &last) < 0)
		return store_seterr(-EINVAL, "ledger: '%s' is not a run", path);
	snprintf(key, sizeof(key), "%.*s", (int)(tc - p), p);
	if (index_get(st->ix, txn, TAB_ARTIFACT, key, &rec, sizeof(rec)) < 0)
		return store_seterr(-EINVAL, "ledger: run '%s' names no "
		    "artifact", path);
	if (strcmp(base + strcspn(base, "."), ".jsonl") == 0)
		return rebuild_import(st, txn, path, key, rec.ino, text, len,
		    first, last);
	kept = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	rc = rebuild_run(st, txn, path, key, rec.ino, kept, first);
	json_decref(kept);
	return rc;
}

/*
 * Fill st's empty index from what its ledger reads (HEAD, or the commit it
 * is pinned to: a view of the past), all in one transaction.
 */
int
rebuild_index(struct store *st, uint64_t *artifacts)
{
	struct found runs = { 0 }, state = { 0 }, f = { 0 };
	struct order *ord = NULL;
	json_t **ms = NULL, *sj = NULL;
	MDB_txn *txn = NULL;
	char *info = NULL;
	int64_t *times = NULL;
	size_t ilen;
	uint64_t last;
	int rc;

	*artifacts = 0;
	f.runs = &runs;
	f.state = &state;
	if ((rc = ledger_walk(st->lg, collect_blob, &f)) < 0 ||
	    (rc = found_sort(&f, 0)) < 0 || (rc = found_sort(&runs, 1)) < 0 ||
	    (rc = found_sort(&state, 0)) < 0)
		goto out;
	ms = calloc(f.n + 1, sizeof(*ms));
	ord = calloc(f.n + 1, sizeof(*ord));
	if (!ms || !ord) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < f.n; i++) {
		if ((rc = manifest_load(f.texts[i], f.lens[i], &ms[i])) < 0 ||
		    (rc = check_loaded(ms[i], f.paths[i])) < 0) {
			store_prefixerr(rc, "ledger: '%s'", f.paths[i]);
			goto out;
		}
		ord[i].created = time_parse_iso(mf_str(ms[i], "created"));
		ord[i].i = i;
	}
	/* publish order, so listings come back in the same order */
	qsort(ord, f.n, sizeof(*ord), order_cmp);
	if ((rc = index_begin(st->ix, 0, &txn)) < 0)
		goto out;
	/* the top of the tree dates from the store's creation */
	if ((rc = ledger_read(st->lg, "store.json", &info, &ilen)) < 0)
		goto out;
	sj = json_loads(info, JSON_REJECT_DUPLICATES, NULL);
	if ((rc = store_insert_root(st, txn, time_parse_iso(mf_str(sj,
	    "created")))) < 0)
		goto out;
	for (size_t k = 0; k < f.n; k++) {
		size_t i = ord[k].i;
		struct art_blobs b;
		int newp;

		for (size_t e = 0; e < mf_count(ms[i]); e++) {
			const char *p;
			enum mf_type t;
			uint32_t mode;
			uint64_t size;
			uint8_t d[DIGEST_LEN];

			mf_entry(ms[i], e, &p, &t, &mode, &size, d);
			if (t != MF_DIR && !cas_has(st->cas, d)) {
				char hex[DIGEST_HEX_LEN + 1];

				digest_hex(hex, d);
				rc = store_seterr(-EIO,
				    "%s %s: content of '%s' "
				    "(%s) is missing from the content store",
				    mf_str(ms[i], "project"),
				    mf_str(ms[i], "version"), p, hex);
				goto out;
			}
		}
		if ((rc = publish_prepare_blobs(st, ms[i], f.texts[i],
		    f.lens[i],
		    &b)) < 0 ||
		    (rc = publish_insert_artifact(st, txn, ms[i], &b,
		    ord[k].created,
		    &newp)) < 0)
			goto out;
		(*artifacts)++;
	}
	/* then every run, in the ledger's order (test case, number) */
	for (size_t i = 0; i < runs.n; i++)
		if ((rc = rebuild_runs(st, txn, runs.paths[i], runs.texts[i],
		    runs.lens[i])) < 0)
			goto out;
	/* then stages, criteria, approvals, waivers and promotions */
	if ((rc = state_times(st, &state, &times)) < 0 ||
	    (rc = rebuild_stages(st, txn, state.paths, state.texts, state.lens,
	    times, state.n)) < 0)
		goto out;
	/* and who may do what */
	for (size_t i = 0; i < state.n; i++)
		if (strcmp(state.paths[i], "config.json") == 0 &&
		    (rc = access_rebuild(st, txn, state.texts[i],
		    state.lens[i])) < 0)
			goto out;
	/* the queue goes on after the last commit the ledger has */
	if ((rc = ledger_last_seq(st->lg, &last)) < 0)
		goto out;
	/* the ledger's branch is where the rebuilt index saw it */
	if ((rc = index_put(st->ix, txn, TAB_META, "ledger_done", &last,
	    sizeof(last), 0)) < 0)
		goto out;
	last++;
	/* (a view's content is in the store already: nothing to sync) */
	if ((rc = index_put(st->ix, txn, TAB_META, "next_seq", &last,
	    sizeof(last), 0)) < 0 || (!st->clock &&
	    (rc = cas_sync(st->cas)) < 0))
		goto out;
	rc = index_commit(txn);
	txn = NULL;
out:
	index_abort(txn);
	json_decref(sj);
	free(info);
	for (size_t i = 0; ms && i < f.n; i++)
		json_decref(ms[i]);
	free(ms);
	free(ord);
	free(times);
	found_free(&f);
	return rc;
}

int
store_rebuild(const char *path, uint64_t *artifacts)
{
	struct store *st = NULL;
	char ipath[4096], old[4200];
	int rc, moved = 0;

	*artifacts = 0;
	st = store_alloc(path);
	if (!st)
		return -ENOMEM;
	/* nobody may have the index open while it is replaced */
	if ((rc = store_take_use_lock(st, 1)) < 0) {
		store_close(st);
		return rc;
	}
	snprintf(ipath, sizeof(ipath), "%s/index", st->path);
	snprintf(old, sizeof(old), "%s/index.old", st->path);
	remove_tree(old);
	if (access(ipath, F_OK) == 0) {
		if (rename(ipath, old) < 0) {
			rc = store_seterr(-errno, "could not move '%s' aside: "
			    "%s", ipath, strerror(errno));
			goto out;
		}
		moved = 1;
	}
	rc = store_open_parts(st, 1);
	if (rc == 0)
		rc = rebuild_index(st, artifacts);
out:
	store_close(st);
	if (rc < 0 && moved) {
		int keep = rc;
		char msg[1024];

		snprintf(msg, sizeof(msg), "%s", store_errmsg());
		remove_tree(ipath);
		rename(old, ipath);
		store_seterr(keep, "%s (the old index is kept)", msg);
	} else if (moved) {
		remove_tree(old);
	}
	return rc;
}

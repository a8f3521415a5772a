/*
 * stage.c - stages, criteria, approvals, waivers, holds, evaluation and
 * promotion.  Every change is one LMDB transaction that also re-evaluates
 * what it affects and records any promotion it causes, so a promotion is
 * visible the moment the change returns.
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



static int	eval_stage(struct ctx *c, uint64_t art, const char *artkey,
		    const char *stage, json_t **decision);

/* -- small helpers -------------------------------------------------- */

void
bump(struct node *n, int64_t now)
{
	n->mtime = now;
	n->change = (n->change + 1) % 1000000000;
}

int
touch_dir(struct ctx *c, uint64_t dir, int dnlink)
{
	struct node n;
	int rc = index_node_get(c->st->ix, c->txn, dir, &n);

	if (rc < 0)
		return rc;
	n.nlink = (uint32_t)((int)n.nlink + dnlink);
	bump(&n, c->now);
	return index_node_put(c->st->ix, c->txn, dir, &n);
}

/* A directory dir/name with a role, made when missing. */
int
ensure_dir(struct ctx *c, uint64_t dir, const char *name, uint8_t role,
    uint32_t mode, uint64_t *ino)
{
	struct node n;
	int rc = index_lookup(c->st->ix, c->txn, dir, name, ino);

	if (rc != -ENOENT)
		return rc;
	/* stages and their projects: relctl changes them beside the mount */
	if ((rc = index_alloc_ino(c->st->ix, c->txn, 1, ino)) < 0 ||
	    (rc = put_node(c->st, c->txn, *ino, dir, name, NODE_DIR,
	    NODE_MUTABLE | (role == ROLE_STAGE || role == ROLE_STAGE_PROJECT ?
	    NODE_LIVE : 0), mode, 0, c->now, NULL)) < 0 ||
	    (rc = index_node_get(c->st->ix, c->txn, *ino, &n)) < 0)
		return rc;
	n.role = role;
	if ((rc = index_node_put(c->st->ix, c->txn, *ino, &n)) < 0)
		return rc;
	return touch_dir(c, dir, 1);
}

/*
 * Put a file dir/name with these bytes: its content changes in place (the
 * node is mutable: read with direct I/O), or it is made.
 */
int
put_text(struct ctx *c, uint64_t dir, const char *name, const char *text,
    size_t len, uint8_t flags)
{
	uint8_t d[DIGEST_LEN];
	struct node n;
	uint64_t ino;
	int rc;

	if ((rc = cas_put_buf(c->st->cas, text, len, d)) < 0)
		return rc;
	rc = index_lookup(c->st->ix, c->txn, dir, name, &ino);
	if (rc == 0) {
		if ((rc = index_node_get(c->st->ix, c->txn, ino, &n)) < 0)
			return rc;
		memcpy(n.digest, d, DIGEST_LEN);
		n.size = len;
		bump(&n, c->now);
		if ((rc = index_node_put(c->st->ix, c->txn, ino, &n)) < 0)
			return rc;
		return touch_dir(c, dir, 0);
	}
	if (rc != -ENOENT)
		return rc;
	if ((rc = index_alloc_ino(c->st->ix, c->txn, 1, &ino)) < 0 ||
	    (rc = put_node(c->st, c->txn, ino, dir, name, NODE_FILE,
	    NODE_MUTABLE | flags, 0444, len, c->now, d)) < 0)
		return rc;
	return touch_dir(c, dir, 0);
}

/* A symbolic link dir/name -> target, replacing what the name was. */
int
put_link(struct ctx *c, uint64_t dir, const char *name, const char *target)
{
	uint8_t d[DIGEST_LEN];
	uint64_t ino;
	int rc;

	if ((rc = cas_put_buf(c->st->cas, target, strlen(target), d)) < 0)
		return rc;
	rc = index_unlink(c->st->ix, c->txn, dir, name);
	if (rc < 0 && rc != -ENOENT)
		return rc;
	/* a new inode: the kernel may hold the old target cached */
	if ((rc = index_alloc_ino(c->st->ix, c->txn, 1, &ino)) < 0 ||
	    (rc = put_node(c->st, c->txn, ino, dir, name, NODE_SYMLINK,
	    NODE_VOLATILE, 0777, strlen(target), c->now, d)) < 0)
		return rc;
	return touch_dir(c, dir, 0);
}

char *
json_text(json_t *j, size_t *len)
{
	char *t = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
	size_t n;

	if (!t)
		return NULL;
	n = strlen(t);
	t = realloc(t, n + 2);
	if (t) {
		t[n++] = '\n';
		t[n] = '\0';
		*len = n;
	}
	return t;
}

void
add_data(json_t *files, const char *path, const char *data, size_t len)
{
	json_array_append_new(files, json_pack("{s:s,s:s%}", "path", path,
	    "data", data, len));
}

void
add_removal(json_t *files, const char *path)
{
	json_array_append_new(files, json_pack("{s:s,s:b}", "path", path,
	    "remove", 1));
}

json_t *
get_json(struct ctx *c, enum index_table t, const void *key, size_t klen)
{
	char *val;
	size_t len;
	json_t *j;

	if (index_get_raw(c->st->ix, c->txn, t, key, klen, &val, &len) < 0)
		return NULL;
	j = json_loadb(val, len, JSON_REJECT_DUPLICATES, NULL);
	free(val);
	return j;
}

int
put_json(struct ctx *c, enum index_table t, const void *key, size_t klen,
    json_t *j)
{
	char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	int rc;

	if (!text)
		return -ENOMEM;
	rc = index_put_raw(c->st->ix, c->txn, t, key, klen, text, strlen(text),
	    0);
	free(text);
	return rc;
}

static size_t
stage_key(char *buf, const char *stage)
{
	return (size_t)snprintf(buf, 300, "s:%s", stage);
}

static size_t
projcrit_key(char *buf, const char *project, const char *stage)
{
	return (size_t)snprintf(buf, 600, "p:%s/%s", project, stage);
}

static size_t
promo_key(char *buf, const char *stage, const char *artkey)
{
	const char *slash = strchr(artkey, '/');
	size_t n = (size_t)snprintf(buf, 800, "%s%c%.*s%c%s", stage, 0,
	    (int)(slash - artkey), artkey, 0, slash + 1);

	return n;
}

json_t *
stage_rec(struct ctx *c, const char *stage)
{
	char key[300];

	return get_json(c, TAB_STAGE, key, stage_key(key, stage));
}

json_t *
promo_rec(struct ctx *c, const char *stage, const char *artkey)
{
	char key[800];

	return get_json(c, TAB_PROMO, key, promo_key(key, stage, artkey));
}

void
who_json(json_t *j, const char *prefix, const struct store_user *who,
    int64_t now)
{
	char when[32], k1[64], k2[64];

	time_iso(when, now);
	snprintf(k1, sizeof(k1), "%s_by", prefix);
	snprintf(k2, sizeof(k2), "%s_at", prefix);
	json_object_set_new(j, k1, json_string(who->name));
	json_object_set_new(j, k2, json_string(when));
}

/* The stage's record in the index and, for rebuilds, in the ledger. */
static int
save_stage(struct ctx *c, const char *stage, json_t *rec, json_t *files)
{
	char key[300], lpath[600], *text;
	size_t len;
	int rc = put_json(c, TAB_STAGE, key, stage_key(key, stage), rec);

	if (rc < 0)
		return rc;
	text = json_text(rec, &len);
	if (!text)
		return -ENOMEM;
	snprintf(lpath, sizeof(lpath), "stages/%s/stage.json", stage);
	add_data(files, lpath, text, len);
	free(text);
	return 0;
}

int
chg_begin(struct ctx *c, struct store *st, const struct store_user *who)
{
	memset(c, 0, sizeof(*c));
	c->st = st;
	c->who = who;
	c->now = time(NULL);
	return index_begin(st->ix, 0, &c->txn);
}

int
chg_finish(struct ctx *c, int rc)
{
	if (rc < 0) {
		index_abort(c->txn);
		return rc;
	}
	rc = index_commit(c->txn);
	if (rc == 0)
		ledger_kick(c->st);
	return rc;
}

/* -- every stage, and its "after" ----------------------------------- */



static int
collect_stage(void *arg, const char *key, size_t keylen, const void *val,
    size_t vallen)
{
	struct stage_list *l = arg;
	char **v;

	(void)val;
	(void)vallen;
	if (keylen < 3 || key[0] != 's' || key[1] != ':')
		return 0;
	v = realloc(l->names, (l->n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	l->names = v;
	l->names[l->n] = strndup(key + 2, keylen - 2);
	if (!l->names[l->n])
		return -ENOMEM;
	l->n++;
	return 0;
}

/*
 * The names of all stages.  Only the "s:" keys: the table also holds
 * scenario members, wake-ups and criteria, many more than the stages.
 */
int
stage_names(struct store *st, MDB_txn *txn, struct stage_list *l)
{
	return index_scan(st->ix, txn, TAB_STAGE, "s:", 2, collect_stage, l);
}

void
stage_list_free(struct stage_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->names[i]);
	free(l->names);
}

static const char *
after_of(json_t *srec)
{
	return json_string_value(json_object_get(json_object_get(srec,
	    "criteria"), "after"));
}

/* -- evaluation ----------------------------------------------------- */



int
gather_run(void *arg, const char *key, size_t keylen, const void *val,
    size_t vallen)
{
	struct gather *g = arg;
	struct run_summary sum;
	struct crit_run *r;
	uint64_t be;

	if (keylen < 8 + 1 + 8 || run_unpack(val, vallen, &sum) < 0)
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
	v[g->napprovals].time = parse_iso(json_string_value(json_object_get(j,
	    "at")));
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
	v[g->nwaivers].expires = parse_iso(json_string_value(json_object_get(j,
	    "expires")));
	v[g->nwaivers].user = json_string_value(json_object_get(j, "by"));
	g->nwaivers++;
	return 0;
}

void
gather_free(struct gather *g)
{
	json_decref(g->keep);
	free(g->runs);
	free(g->approvals);
	free(g->waivers);
}

struct golden_ctx {
	struct ctx *c;
};

static int
golden(void *arg, const char *platform, const char *stage)
{
	struct ctx *c = arg;
	json_t *p;
	int ok;

	if (!strchr(platform, '/'))
		return 0;
	p = promo_rec(c, stage, platform);
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
artifact_scenario(struct ctx *c, const char *artkey, char *out, size_t len)
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
	if (!(m = manifest_json(c->st, rec.manifest)))
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
decide(struct ctx *c, uint64_t art, const char *artkey, const char *stage,
    json_t *srec, json_t **decision)
{
	struct gather g = { json_array(), NULL, 0, 0, NULL, 0, NULL, 0 };
	struct crit_input in = { 0 };
	char key[800], project[300], scenario[NAME_MAX + 1] = "";
	json_t *pcrit = NULL, *prev = NULL, *self = NULL;
	json_t *scrit = NULL;
	uint64_t be = htobe64(art);
	size_t klen;
	int rc;

	snprintf(project, sizeof(project), "%.*s",
	    (int)(strchr(artkey, '/') - artkey), artkey);
	in.layers[0] = json_object_get(srec, "criteria");
	pcrit = get_json(c, TAB_STAGE, key, projcrit_key(key, project, stage));
	in.layers[1] = json_object_get(pcrit, "criteria");
	artifact_scenario(c, artkey, scenario, sizeof(scenario));
	in.scenario = scenario;
	scrit = scenario_criteria(c, in.scenario, stage);
	in.layers[2] = scrit;
	memcpy(key, &be, 8);
	if ((rc = index_scan(c->st->ix, c->txn, TAB_RUNS, key, 8, gather_run,
	    &g)) < 0)
		goto out;
	klen = 8 + (size_t)snprintf(key + 8, sizeof(key) - 8, "%s", stage) + 1;
	if ((rc = index_scan(c->st->ix, c->txn, TAB_APPROVAL, key, klen,
	    gather_approval, &g)) < 0)
		goto out;
	if ((rc = index_scan(c->st->ix, c->txn, TAB_WAIVER, key, 8,
	    gather_waiver, &g)) < 0)
		goto out;
	in.runs = g.runs;
	in.nruns = g.nruns;
	in.approvals = g.approvals;
	in.napprovals = g.napprovals;
	in.waivers = g.waivers;
	in.nwaivers = g.nwaivers;
	in.hold = json_string_value(json_object_get(srec, "hold"));
	self = promo_rec(c, stage, artkey);
	in.revoked = self && json_object_get(self, "revoked") != NULL;
	if (after_of(srec)) {
		prev = promo_rec(c, after_of(srec), artkey);
		in.after_promoted = prev && !json_object_get(prev, "revoked");
		in.after_at = parse_iso(json_string_value(json_object_get(prev,
		    "at")));
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
	json_decref(prev);
	json_decref(pcrit);
	json_decref(scrit);
	gather_free(&g);
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

static int	wake_stages(struct store *st, int64_t *next);

int
store_wake(struct store *st, int64_t *next)
{
	int rc = release_freeze_due(st);

	if (rc < 0)
		store_log(st, "freeze: %s", store_errmsg());
	return wake_stages(st, next);
}

static int
wake_stages(struct store *st, int64_t *next)
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
	if ((rc = chg_begin(&c, st, &who)) < 0)
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
			rc = eval_stage(&c, be64toh(a), artkey, stage, NULL);
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
	return chg_finish(&c, rc);
}

/* Point stages/<s>/<p>/latest at the newest promotion not revoked. */
struct newest {
	const char *stage;
	char version[300];
	int64_t at;
};

static int
newest_promo(void *arg, const char *key, size_t keylen, const void *val,
    size_t vallen)
{
	struct newest *n = arg;
	json_t *j = json_loadb(val, vallen, JSON_REJECT_DUPLICATES, NULL);
	int64_t at = parse_iso(json_string_value(json_object_get(j, "at")));

	(void)key;
	(void)keylen;
	if (j && !json_object_get(j, "revoked") && at >= n->at) {
		n->at = at;
		snprintf(n->version, sizeof(n->version), "%s",
		    json_string_value(json_object_get(j, "version")));
	}
	json_decref(j);
	return 0;
}

int
update_latest(struct ctx *c, const char *stage, const char *project,
    uint64_t pdir)
{
	struct newest n = { stage, "", -1 };
	char prefix[800];
	size_t plen = (size_t)snprintf(prefix, sizeof(prefix), "%s%c%s%c",
	    stage, 0, project, 0);
	int rc;

	rc = index_scan(c->st->ix, c->txn, TAB_PROMO, prefix, plen,
	    newest_promo, &n);
	if (rc < 0)
		return rc;
	if (!n.version[0]) {
		rc = index_unlink(c->st->ix, c->txn, pdir, "latest");
		return rc == -ENOENT ? 0 : rc < 0 ? rc : touch_dir(c, pdir, 0);
	}
	return put_link(c, pdir, "latest", n.version);
}

int
stage_dir(struct ctx *c, const char *stage, uint64_t *ino)
{
	return index_lookup(c->st->ix, c->txn, INO_STAGES, stage, ino);
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

		if (artifact_scenario(c, artkey, sc, sizeof(sc)) == 0 && *sc)
			json_object_set_new(rec, "scenario", json_string(sc));
	}
	if ((rc = put_json(c, TAB_PROMO, key, promo_key(key, stage, artkey),
	    rec)) < 0)
		goto out;
	if ((rc = stage_dir(c, stage, &sdir)) < 0 ||
	    (rc = ensure_dir(c, sdir, project, ROLE_STAGE_PROJECT, 0755,
	    &pdir)) < 0)
		goto out;
	snprintf(target, sizeof(target), "../../../artifacts/%s", artkey);
	if ((rc = put_link(c, pdir, version, target)) < 0 ||
	    (rc = update_latest(c, stage, project, pdir)) < 0 ||
	    (rc = scenario_link_update(c, json_string_value(json_object_get(rec,
	    "scenario")), stage, project)) < 0)
		goto out;
	text = json_text(rec, &len);
	evidence = json_dumps(json_object_get(decision, "evidence"),
	    JSON_INDENT(2) | JSON_SORT_KEYS);
	if (!text || !evidence) {
		rc = -ENOMEM;
		goto out;
	}
	snprintf(lpath, sizeof(lpath), "promotions/%s/%s.json", stage, artkey);
	add_data(files, lpath, text, len);
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
	rc = queue_change_tags(c->st, c->txn, c->who, c->now, msg, files,
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
static int
eval_stage(struct ctx *c, uint64_t art, const char *artkey,
    const char *stage, json_t **decision)
{
	json_t *srec = stage_rec(c, stage), *d = NULL, *self;
	int rc;

	if (!srec)
		return store_seterr(-ENOENT, "stage '%s' does not exist",
		    stage);
	self = promo_rec(c, stage, artkey);
	rc = decide(c, art, artkey, stage, srec, &d);
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
			rc = stage_names(c->st, c->txn, &l);
			for (size_t i = 0; rc == 0 && i < l.n; i++) {
				json_t *t = stage_rec(c, l.names[i]);
				const char *a = after_of(t);

				if (a && strcmp(a, stage) == 0)
					rc = eval_stage(c, art, artkey,
					    l.names[i], NULL);
				json_decref(t);
			}
			stage_list_free(&l);
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
eval_artifact(struct ctx *c, uint64_t art, const char *artkey)
{
	struct stage_list l = { NULL, 0 };
	int rc = stage_names(c->st, c->txn, &l);

	for (size_t i = 0; rc == 0 && i < l.n; i++)
		rc = eval_stage(c, art, artkey, l.names[i], NULL);
	stage_list_free(&l);
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
	e->rc = eval_stage(e->c, rec.ino, artkey, e->stage, NULL);
	return e->rc < 0 ? e->rc : 0;
}

/* One stage, for every artifact (its criteria or hold changed). */
static int
eval_all(struct ctx *c, const char *stage)
{
	struct every e = { c, stage, 0 };
	int rc;

	/* the scan reads artifacts while promotions write other tables */
	rc = index_iter(c->st->ix, c->txn, TAB_ARTIFACT, eval_one_of_all, &e);
	return rc < 0 ? rc : e.rc;
}

int
store_evaluate_artifact(struct store *st, uint64_t art,
    const struct store_user *who)
{
	struct ctx c;
	char artkey[512];
	int rc;

	if ((rc = store_artifact_key(st, art, artkey)) < 0)
		return rc;
	if ((rc = chg_begin(&c, st, who)) < 0)
		return rc;
	return chg_finish(&c, eval_artifact(&c, art, artkey));
}

/* Used by results.c in the transaction that records a run. */
int
stage_eval_in(struct store *st, MDB_txn *txn, uint64_t art,
    const char *artkey, const struct store_user *who, int64_t now)
{
	struct ctx c = { st, txn, who, now, 0 };

	return eval_artifact(&c, art, artkey);
}

/* -- stages and criteria -------------------------------------------- */

/* An event about a stage (and an artifact, when artkey is set). */
static int
stage_event(struct ctx *c, const char *type, const char *stage,
    const char *artkey, json_t *extra)
{
	json_t *f = extra ? json_incref(extra) : json_object();
	int rc;

	json_object_set_new(f, "stage", json_string(stage));
	rc = artkey ? event_artifact(c->st, c->txn, type, c->who, c->now,
	    artkey, f) : event_emit(c->st, c->txn, type, c->who, c->now, f);
	json_decref(f);
	return rc;
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
	if ((rc = chg_begin(&c, st, who)) < 0)
		return rc;
	files = json_array();
	if ((rec = stage_rec(&c, stage))) {
		rc = store_seterr(-EEXIST, "stage '%s' already exists", stage);
		goto out;
	}
	rec = json_pack("{s:s,s:i}", "name", stage, "cycle", 0);
	who_json(rec, "created", who, c.now);
	if ((rc = put_json(&c, TAB_STAGE, key, stage_key(key, stage),
	    rec)) < 0 ||
	    (rc = ensure_dir(&c, INO_STAGES, stage, ROLE_STAGE, 0755,
	    &sdir)) < 0 ||
	    (rc = ensure_dir(&c, sdir, "criteria.history", ROLE_NONE, 0555,
	    &hdir)) < 0)
		goto out;
	text = json_text(rec, &len);
	snprintf(lpath, sizeof(lpath), "stages/%s/stage.json", stage);
	add_data(files, lpath, text, len);
	snprintf(lpath, sizeof(lpath), "create stage %s", stage);
	if ((rc = queue_change(st, c.txn, who, c.now, lpath, files)) == 0)
		rc = stage_event(&c, "stage.created", stage, NULL, NULL);
out:
	free(text);
	json_decref(rec);
	json_decref(files);
	return chg_finish(&c, rc);
}

/* Would `after` make a cycle of stages through stage? */
static int
after_cycle(struct ctx *c, const char *stage, const char *after)
{
	char cur[300];
	int hops = 0;

	snprintf(cur, sizeof(cur), "%s", after);
	while (hops++ < 1000) {
		json_t *r;
		const char *next;

		if (strcmp(cur, stage) == 0)
			return 1;
		r = stage_rec(c, cur);
		next = after_of(r);
		if (!next) {
			json_decref(r);
			return 0;
		}
		snprintf(cur, sizeof(cur), "%s", next);
		json_decref(r);
	}
	return 1;
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
		rec = stage_rec(c, g);
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
	json_t *crit, *ar;
	const char *after;
	int rc;

	if ((rc = crit_parse(text, len, &crit)) < 0)
		return rc;
	after = json_string_value(json_object_get(crit, "after"));
	if (after) {
		ar = stage_rec(c, after);
		json_decref(ar);
		rc = 0;
		if (!ar)
			rc = store_seterr(-EINVAL, "criteria: after: stage '%s' "
			    "does not exist", after);
		else if (stage && after_cycle(c, stage, after))
			rc = store_seterr(-EINVAL, "criteria: after '%s' makes a "
			    "cycle of stages", after);
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

	if ((rc = store_may(st, who, STORE_ROLE_MANAGER,
	    "setting criteria")) < 0)
		return rc;
	if ((rc = chg_begin(&c, st, who)) < 0)
		return rc;
	files = json_array();
	if (!(rec = stage_rec(&c, stage))) {
		rc = store_seterr(-ENOENT, "stage '%s' does not exist", stage);
		goto out;
	}
	if ((rc = parse_criteria(&c, stage, text, len, &crit)) < 0)
		goto out;
	if ((rc = stage_dir(&c, stage, &sdir)) < 0 ||
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
		htext = json_text(hist, &hlen);
		snprintf(hname, sizeof(hname), "%lld.json", (long long)cycle);
		if (!htext || (rc = put_text(&c, hdir, hname, htext, hlen,
		    0)) < 0)
			goto out;
		snprintf(lpath, sizeof(lpath), "stages/%s/criteria.history/%s",
		    stage, hname);
		add_data(files, lpath, htext, hlen);
	}
	ctext = json_text(crit, &clen);
	if (!ctext) {
		rc = -ENOMEM;
		goto out;
	}
	digest_buf(d, ctext, clen);
	digest_hex(hex, d);
	json_object_set(rec, "criteria", crit);
	json_object_set_new(rec, "criteria_sha256", json_string(hex));
	json_object_set_new(rec, "cycle", json_integer(cycle + 1));
	who_json(rec, "set", who, c.now);
	(void)key;
	if ((rc = save_stage(&c, stage, rec, files)) < 0 ||
	    (rc = put_text(&c, sdir, "criteria.json", ctext, clen, 0)) < 0)
		goto out;
	snprintf(lpath, sizeof(lpath), "stages/%s/criteria.json", stage);
	add_data(files, lpath, ctext, clen);
	snprintf(lpath, sizeof(lpath), "criteria of %s, cycle %lld (%s)",
	    stage, (long long)cycle + 1, hex);
	if ((rc = queue_change(st, c.txn, who, c.now, lpath, files)) < 0)
		goto out;
	{
		json_t *ev = json_pack("{s:s,s:I}", "criteria", hex, "cycle",
		    cycle + 1);

		rc = stage_event(&c, "criteria.changed", stage, NULL, ev);
		json_decref(ev);
		if (rc < 0)
			goto out;
	}
	rc = eval_all(&c, stage);
out:
	free(ctext);
	free(htext);
	json_decref(hist);
	json_decref(crit);
	json_decref(rec);
	json_decref(files);
	return chg_finish(&c, rc);
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
	    (rc = chg_begin(&c, st, who)) < 0)
		return rc;
	files = json_array();
	if (!(srec = stage_rec(&c, stage))) {
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
	who_json(rec, "set", who, c.now);
	if (l->as_written) {
		ctext = strndup(text, len);
		clen = len;
	} else {
		ctext = json_text(crit, &clen);
	}
	snprintf(name, sizeof(name), "%s.json", stage);
	klen = snprintf(key, sizeof(key), l->keyfmt, owner, stage);
	if (!ctext || (rc = put_json(&c, TAB_STAGE, key, (size_t)klen,
	    rec)) < 0 || (rc = put_text(&c, cdir, name, ctext, clen, 0)) < 0)
		goto out;
	snprintf(lpath, sizeof(lpath), "%s/%s/criteria/%s", l->ledger, owner,
	    name);
	add_data(files, lpath, ctext, clen);
	snprintf(lpath, sizeof(lpath), "criteria of %s for %s %s", stage,
	    l->kind, owner);
	if ((rc = queue_change(st, c.txn, who, c.now, lpath, files)) < 0 ||
	    (rc = layer_event(&c, l, owner, stage, ctext, clen)) < 0)
		goto out;
	rc = l == &project_layer ? eval_all(&c, stage) :
	    eval_scenario(&c, owner);
out:
	free(ctext);
	json_decref(crit);
	json_decref(rec);
	json_decref(srec);
	json_decref(files);
	return chg_finish(&c, rc);
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

/* The text an artifact's approvals/<stage> file shows: one line each. */
struct approvals_text {
	char *buf;
	size_t len, cap;
};

static int
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
		char *nb = realloc(t->buf, t->cap = (t->len + (size_t)n) * 2 + 64);

		if (!nb)
			return -ENOMEM;
		t->buf = nb;
	}
	memcpy(t->buf + t->len, line, (size_t)n);
	t->len += (size_t)n;
	return 0;
}

char *
trimmed(const char *buf, size_t len)
{
	while (len && strchr(" \t\r\n", buf[len - 1]))
		len--;
	while (len && strchr(" \t\r\n", *buf)) {
		buf++;
		len--;
	}
	return strndup(buf, len);
}

int
store_approve(struct store *st, uint64_t art, const char *stage,
    const char *reason, size_t len, const struct store_user *who)
{
	char artkey[512], key[800], lpath[1200];
	struct approvals_text t = { NULL, 0, 0 };
	json_t *srec = NULL, *rec = NULL, *files = NULL;
	uint64_t be = htobe64(art), adir;
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
		return store_seterr(-EINVAL, "approval: the reason is not UTF-8 "
		    "text");
	if ((rc = chg_begin(&c, st, who)) < 0)
		return rc;
	files = json_array();
	if (!(srec = stage_rec(&c, stage))) {
		rc = store_seterr(-EINVAL, "approval: stage '%s' does not exist",
		    stage);
		goto out;
	}
	why = trimmed(reason, len);
	rec = json_pack("{s:s,s:s,s:i,s:s}", "stage", stage, "by", who->name,
	    "uid", (json_int_t)who->uid, "reason", why ? why : "");
	who_json(rec, "approved", who, c.now);
	json_object_set(rec, "at", json_object_get(rec, "approved_at"));
	memcpy(key, &be, 8);
	klen = 8 + (size_t)snprintf(key + 8, 300, "%s", stage) + 1;
	memcpy(key + klen, &uid, 4);
	if ((rc = put_json(&c, TAB_APPROVAL, key, klen + 4, rec)) < 0 ||
	    (rc = index_scan(st->ix, c.txn, TAB_APPROVAL, key, klen,
	    approval_line, &t)) < 0 ||
	    (rc = index_lookup(st->ix, c.txn, art, "approvals", &adir)) < 0 ||
	    (rc = put_text(&c, adir, stage, t.buf ? t.buf : "", t.len, 0)) < 0)
		goto out;
	text = json_text(rec, &tlen);
	snprintf(lpath, sizeof(lpath), "approvals/%s/%s/%s.json", artkey,
	    stage, who->name);
	add_data(files, lpath, text, tlen);
	snprintf(lpath, sizeof(lpath), "approve %s for %s", artkey, stage);
	if ((rc = queue_change(st, c.txn, who, c.now, lpath, files)) < 0 ||
	    (rc = stage_event(&c, "approval.added", stage, artkey, NULL)) < 0)
		goto out;
	rc = eval_stage(&c, art, artkey, stage, NULL);
out:
	free(t.buf);
	free(why);
	free(text);
	json_decref(rec);
	json_decref(srec);
	json_decref(files);
	return chg_finish(&c, rc);
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
	why = trimmed(body, len);
	if (why && why[0] == '{') {
		j = json_loads(why, JSON_REJECT_DUPLICATES, NULL);
		if (!json_is_object(j)) {
			rc = store_seterr(-EINVAL, "waiver of %s: not valid JSON",
			    testcase);
			goto out;
		}
		json_object_foreach(j, k, v) {
			if ((strcmp(k, "reason") && strcmp(k, "expires") &&
			    strcmp(k, "scenario")) || !json_is_string(v)) {
				rc = store_seterr(-EINVAL, "waiver of %s: unknown "
				    "or bad key '%s' (reason, expires, scenario: "
				    "strings)", testcase, k);
				goto out;
			}
		}
		if (json_object_get(j, "expires") && !parse_iso(
		    json_string_value(json_object_get(j, "expires")))) {
			rc = store_seterr(-EINVAL, "waiver of %s: expires must be "
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
	if ((rc = chg_begin(&c, st, who)) < 0)
		goto early;
	files = json_array();
	{
		char when[32];

		time_iso(when, c.now);
		json_object_set_new(rec, "at", json_string(when));
	}
	memcpy(key, &be, 8);
	klen = 8 + (size_t)snprintf(key + 8, 300, "%s", testcase);
	text = json_text(rec, &tlen);
	if (!text) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = put_json(&c, TAB_WAIVER, key, klen, rec)) < 0 ||
	    (rc = index_lookup(st->ix, c.txn, art, "waivers", &wdir)) < 0 ||
	    (rc = put_text(&c, wdir, testcase, text, tlen, NODE_VOLATILE)) < 0)
		goto out;
	snprintf(lpath, sizeof(lpath), "waivers/%s/%s.json", artkey, testcase);
	add_data(files, lpath, text, tlen);
	snprintf(lpath, sizeof(lpath), "waive %s for %s", testcase, artkey);
	if ((rc = queue_change(st, c.txn, who, c.now, lpath, files)) < 0)
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
	rc = eval_artifact(&c, art, artkey);
out:
	free(text);
	json_decref(rec);
	json_decref(files);
	return chg_finish(&c, rc);
early:
	json_decref(rec);
	json_decref(files);
	return rc;
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
	if ((rc = chg_begin(&c, st, who)) < 0)
		return rc;
	files = json_array();
	memcpy(key, &be, 8);
	klen = 8 + (size_t)snprintf(key + 8, 300, "%s", testcase);
	rc = index_del_raw(st->ix, c.txn, TAB_WAIVER, key, klen);
	if (rc == -ENOENT)
		rc = store_seterr(-ENOENT, "no waiver of %s", testcase);
	if (rc < 0 || (rc = index_lookup(st->ix, c.txn, art, "waivers",
	    &wdir)) < 0 || (rc = index_unlink(st->ix, c.txn, wdir,
	    testcase)) < 0 || (rc = touch_dir(&c, wdir, 0)) < 0)
		goto out;
	snprintf(lpath, sizeof(lpath), "waivers/%s/%s.json", artkey, testcase);
	add_removal(files, lpath);
	snprintf(lpath, sizeof(lpath), "withdraw the waiver of %s for %s",
	    testcase, artkey);
	if ((rc = queue_change(st, c.txn, who, c.now, lpath, files)) < 0)
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
	return chg_finish(&c, rc);
}

int
store_hold(struct store *st, const char *stage, const char *reason,
    size_t len, const struct store_user *who)
{
	char key[300], lpath[700], *why = NULL;
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
	why = trimmed(reason, len);
	if ((rc = chg_begin(&c, st, who)) < 0)
		goto early;
	files = json_array();
	if (!(rec = stage_rec(&c, stage))) {
		rc = store_seterr(-ENOENT, "stage '%s' does not exist", stage);
		goto out;
	}
	json_object_set_new(rec, "hold", json_string(why && *why ? why :
	    "held"));
	(void)key;
	if ((rc = save_stage(&c, stage, rec, files)) < 0 ||
	    (rc = stage_dir(&c, stage, &sdir)) < 0 ||
	    (rc = put_text(&c, sdir, "hold", reason, len, NODE_VOLATILE)) < 0)
		goto out;
	snprintf(lpath, sizeof(lpath), "stages/%s/hold", stage);
	add_data(files, lpath, reason, len);
	snprintf(lpath, sizeof(lpath), "hold %s: %s", stage,
	    json_string_value(json_object_get(rec, "hold")));
	rc = queue_change(st, c.txn, who, c.now, lpath, files);
	if (rc == 0) {
		json_t *ev = json_pack("{s:O}", "reason", json_object_get(rec,
		    "hold"));

		rc = stage_event(&c, "stage.held", stage, NULL, ev);
		json_decref(ev);
	}
out:
	json_decref(rec);
	free(why);
	json_decref(files);
	return chg_finish(&c, rc);
early:
	free(why);
	json_decref(files);
	return rc;
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
	if ((rc = chg_begin(&c, st, who)) < 0)
		return rc;
	files = json_array();
	if (!(rec = stage_rec(&c, stage)) || !json_object_get(rec, "hold")) {
		rc = store_seterr(-ENOENT, "stage '%s' is not held", stage);
		goto out;
	}
	json_object_del(rec, "hold");
	(void)key;
	if ((rc = save_stage(&c, stage, rec, files)) < 0 ||
	    (rc = stage_dir(&c, stage, &sdir)) < 0 ||
	    (rc = index_unlink(st->ix, c.txn, sdir, "hold")) < 0 ||
	    (rc = touch_dir(&c, sdir, 0)) < 0)
		goto out;
	snprintf(lpath, sizeof(lpath), "stages/%s/hold", stage);
	add_removal(files, lpath);
	snprintf(lpath, sizeof(lpath), "release %s", stage);
	if ((rc = queue_change(st, c.txn, who, c.now, lpath, files)) < 0 ||
	    (rc = stage_event(&c, "stage.released", stage, NULL, NULL)) < 0)
		goto out;
	rc = eval_all(&c, stage);
out:
	json_decref(rec);
	json_decref(files);
	return chg_finish(&c, rc);
}

static int
set_revoked(struct store *st, const char *stage, const char *project,
    const char *version, int revoke, const struct store_user *who)
{
	char artkey[600], key[800], lpath[1200], *text = NULL;
	json_t *rec = NULL, *files = NULL;
	uint64_t sdir, pdir;
	struct art_rec ar;
	struct ctx c;
	size_t len;
	int rc;

	if ((rc = store_may(st, who, STORE_ROLE_MANAGER, revoke ?
	    "revoking a promotion" : "restoring a promotion")) < 0)
		return rc;
	snprintf(artkey, sizeof(artkey), "%s/%s", project, version);
	if ((rc = chg_begin(&c, st, who)) < 0)
		return rc;
	files = json_array();
	rec = promo_rec(&c, stage, artkey);
	if (!rec || (revoke && json_object_get(rec, "revoked")) ||
	    (!revoke && !json_object_get(rec, "revoked"))) {
		rc = store_seterr(-ENOENT, "%s %s is not %s %s", project, version,
		    revoke ? "promoted to" : "revoked from", stage);
		goto out;
	}
	if (revoke) {
		json_t *r = json_object();

		who_json(r, "revoked", who, c.now);
		json_object_set_new(rec, "revoked", r);
	} else {
		json_object_del(rec, "revoked");
		who_json(rec, "restored", who, c.now);
	}
	if ((rc = put_json(&c, TAB_PROMO, key, promo_key(key, stage, artkey),
	    rec)) < 0 || (rc = stage_dir(&c, stage, &sdir)) < 0 ||
	    (rc = index_lookup(st->ix, c.txn, sdir, project, &pdir)) < 0)
		goto out;
	if (revoke) {
		if ((rc = index_unlink(st->ix, c.txn, pdir, version)) < 0 &&
		    rc != -ENOENT)
			goto out;
		rc = touch_dir(&c, pdir, 0);
	} else {
		char target[700];

		snprintf(target, sizeof(target), "../../../artifacts/%s",
		    artkey);
		rc = put_link(&c, pdir, version, target);
	}
	if (rc < 0 || (rc = update_latest(&c, stage, project, pdir)) < 0 ||
	    (rc = scenario_link_update(&c, json_string_value(json_object_get(
	    rec, "scenario")), stage, project)) < 0)
		goto out;
	text = json_text(rec, &len);
	snprintf(lpath, sizeof(lpath), "promotions/%s/%s.json", stage, artkey);
	add_data(files, lpath, text, len);
	snprintf(lpath, sizeof(lpath), "%s %s %s %s", revoke ? "revoke" :
	    "restore", project, version, stage);
	if ((rc = queue_change(st, c.txn, who, c.now, lpath, files)) < 0 ||
	    (rc = stage_event(&c, revoke ? "revoked" : "restored", stage,
	    artkey, NULL)) < 0)
		goto out;
	/* restored: it may be promoted again at once */
	if (!revoke && index_get(st->ix, c.txn, TAB_ARTIFACT, artkey, &ar,
	    sizeof(ar)) == 0)
		rc = eval_stage(&c, ar.ino, artkey, stage, NULL);
out:
	free(text);
	json_decref(rec);
	json_decref(files);
	return chg_finish(&c, rc);
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

/* -- status --------------------------------------------------------- */

int
store_status(struct store *st, uint64_t art, json_t **out)
{
	struct stage_list l = { NULL, 0 };
	json_t *stages = json_object();
	char artkey[512];
	struct ctx c = { st, NULL, NULL, time(NULL), 0 };
	int rc;

	if ((rc = store_artifact_key(st, art, artkey)) < 0)
		goto fail;
	if ((rc = index_begin(st->ix, 1, &c.txn)) < 0)
		goto fail;
	rc = stage_names(st, c.txn, &l);
	for (size_t i = 0; rc == 0 && i < l.n; i++) {
		json_t *p = promo_rec(&c, l.names[i], artkey), *srec, *d = NULL;

		if (p && !json_object_get(p, "revoked")) {
			json_object_set_new(stages, l.names[i], json_pack(
			    "{s:b,s:O,s:O,s:O,s:O}", "promoted", 1, "at",
			    json_object_get(p, "at"), "cycle",
			    json_object_get(p, "cycle"), "criteria",
			    json_object_get(p, "criteria"), "evidence",
			    json_object_get(p, "evidence")));
		} else if ((srec = stage_rec(&c, l.names[i]))) {
			rc = decide(&c, art, artkey, l.names[i], srec, &d);
			if (rc == 0)
				json_object_set_new(stages, l.names[i],
				    json_pack("{s:b,s:O}", "promoted", 0,
				    "unmet", json_object_get(d, "unmet")));
			json_decref(d);
			json_decref(srec);
		}
		json_decref(p);
	}
	index_abort(c.txn);
	stage_list_free(&l);
	if (rc < 0)
		goto fail;
	*out = json_pack("{s:s,s:o}", "artifact", artkey, "stages", stages);
	return 0;
fail:
	json_decref(stages);
	return rc;
}

int
store_status_text(struct store *st, uint64_t art, int as_json, char **buf,
    size_t *len)
{
	json_t *s, *v;
	const char *stage;
	FILE *f;
	int rc;

	if ((rc = store_status(st, art, &s)) < 0)
		return rc;
	if (as_json) {
		*buf = json_text(s, len);
		json_decref(s);
		return *buf ? 0 : -ENOMEM;
	}
	f = open_memstream(buf, len);
	if (!f) {
		json_decref(s);
		return -ENOMEM;
	}
	fprintf(f, "%s\n", json_string_value(json_object_get(s, "artifact")));
	if (json_object_size(json_object_get(s, "stages")) == 0)
		fprintf(f, "  no stages yet\n");
	json_object_foreach(json_object_get(s, "stages"), stage, v) {
		size_t i;
		json_t *u;

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
			fprintf(f, "    - %s%s%s: %s\n", json_string_value(
			    json_object_get(u, "type")),
			    json_object_get(u, "testcase") ? " " : "",
			    json_object_get(u, "testcase") ? json_string_value(
			    json_object_get(u, "testcase")) : "",
			    json_string_value(json_object_get(u, "detail")));
	}
	fclose(f);
	json_decref(s);
	return 0;
}

/* -- writes through the mount --------------------------------------- */

struct target {
	uint8_t role;
	uint64_t dir;
	char stage[256];	/* ROLE_STAGE, ROLE_STAGE_PROJECT */
	char project[256];	/* ROLE_STAGE_PROJECT, ROLE_PROJECT_CRITERIA */
	uint64_t art;		/* ROLE_APPROVALS, ROLE_WAIVERS */
};

static int
target_of(struct store *st, uint64_t dir, struct target *t)
{
	struct node n, p;
	MDB_txn *txn;
	int rc;

	memset(t, 0, sizeof(*t));
	t->dir = dir;
	if ((rc = index_begin(st->ix, 1, &txn)) < 0)
		return rc;
	if ((rc = index_node_get(st->ix, txn, dir, &n)) < 0)
		goto out;
	t->role = n.role;
	switch (n.role) {
	case ROLE_STAGE:
		rc = index_name_of(st->ix, txn, INO_STAGES, dir, t->stage);
		break;
	case ROLE_STAGE_PROJECT:
		rc = index_name_of(st->ix, txn, n.parent, dir, t->project);
		if (rc == 0)
			rc = index_name_of(st->ix, txn, INO_STAGES, n.parent,
			    t->stage);
		break;
	case ROLE_PROJECT_CRITERIA:
		rc = index_node_get(st->ix, txn, n.parent, &p);
		if (rc == 0)
			rc = index_name_of(st->ix, txn, INO_PROJECTS, n.parent,
			    t->project);
		break;
	case ROLE_APPROVALS:
	case ROLE_WAIVERS:
		t->art = n.parent;
		break;
	case ROLE_SCENARIO:
		rc = index_name_of(st->ix, txn, INO_SCENARIOS, dir, t->project);
		break;
	case ROLE_SCENARIO_CRITERIA:
		rc = index_name_of(st->ix, txn, INO_SCENARIOS, n.parent,
		    t->project);
		break;
	case ROLE_RELEASE:
		rc = index_name_of(st->ix, txn, INO_RELEASES, dir, t->stage);
		break;
	case ROLE_PARTICIPANTS:
		rc = index_name_of(st->ix, txn, INO_RELEASES, n.parent,
		    t->stage);
		break;
	default:
		break;
	}
out:
	index_abort(txn);
	return rc;
}

int
ctl_name_ok(uint8_t role, const char *name)
{
	size_t len = strlen(name);

	switch (role) {
	case ROLE_STAGE:
		return strcmp(name, "criteria.json") == 0 ||
		    strcmp(name, "hold") == 0;
	case ROLE_APPROVALS:
	case ROLE_WAIVERS:
	case ROLE_PARTICIPANTS:
		return 1;	/* any valid name */
	case ROLE_PROJECT_CRITERIA:
	case ROLE_SCENARIO_CRITERIA:
		return len > 5 && strcmp(name + len - 5, ".json") == 0;
	case ROLE_SCENARIO:
		return strcmp(name, "scenario.json") == 0;
	case ROLE_RELEASE:
		return strcmp(name, "release.json") == 0;
	default:
		return 0;
	}
}

/* The role that writing name in a directory of this kind needs. */
static enum store_role
ctl_role(uint8_t role)
{
	return role == ROLE_APPROVALS || role == ROLE_WAIVERS ?
	    STORE_ROLE_APPROVER : STORE_ROLE_MANAGER;
}

int
store_ctl_writable(struct store *st, uint64_t dir, const char *name,
    const struct store_user *who)
{
	struct target t;
	char what[400];
	int rc = target_of(st, dir, &t);

	if (rc < 0)
		return rc;
	if (t.role == ROLE_FROZEN)
		return store_seterr(-EROFS, "a frozen release never changes");
	/* refused at open: a frozen release never changes */
	if ((t.role == ROLE_RELEASE || t.role == ROLE_PARTICIPANTS) &&
	    (rc = release_frozen(st, t.stage)) < 0)
		return rc;
	if (!ctl_name_ok(t.role, name))
		return store_seterr(-EROFS, "'%s' cannot be written here",
		    name);
	snprintf(what, sizeof(what), "writing '%s'", name);
	if ((rc = store_may(st, who, ctl_role(t.role), what)) < 0)
		return rc;
	switch (t.role) {
	case ROLE_APPROVALS:
	case ROLE_WAIVERS:
		return name_check(name, t.role == ROLE_WAIVERS ? "test case" :
		    "stage");
	case ROLE_PARTICIPANTS:
		return name_check(name, "scenario");
	default:
		return 0;
	}
}

int
store_ctl_write(struct store *st, uint64_t dir, const char *name,
    const char *buf, size_t len, const struct store_user *who)
{
	struct target t;
	char stage[256];
	int rc;

	/* who's role is checked by the function the bytes go to */
	if ((rc = store_ctl_writable(st, dir, name, NULL)) < 0 ||
	    (rc = target_of(st, dir, &t)) < 0)
		return rc;
	switch (t.role) {
	case ROLE_STAGE:
		if (strcmp(name, "hold") == 0)
			return store_hold(st, t.stage, buf, len, who);
		return store_criteria_set(st, t.stage, buf, len, who);
	case ROLE_APPROVALS:
		return store_approve(st, t.art, name, buf, len, who);
	case ROLE_WAIVERS:
		return store_waive(st, t.art, name, buf, len, who);
	case ROLE_PROJECT_CRITERIA:
		snprintf(stage, sizeof(stage), "%.*s", (int)strlen(name) - 5,
		    name);
		return store_project_criteria_set(st, t.project, stage, buf,
		    len, who);
	case ROLE_SCENARIO_CRITERIA:
		snprintf(stage, sizeof(stage), "%.*s", (int)strlen(name) - 5,
		    name);
		return store_scenario_criteria_set(st, t.project, stage, buf,
		    len, who);
	case ROLE_SCENARIO:
		return store_scenario_set(st, t.project, buf, len, who);
	case ROLE_RELEASE:
		return store_release_set(st, t.stage, buf, len, who);
	case ROLE_PARTICIPANTS:
		return store_participant_add(st, t.stage, name, buf, len, who);
	default:
		return store_seterr(-EROFS, "'%s' cannot be written here",
		    name);
	}
}

int
store_ctl_remove(struct store *st, uint64_t dir, const char *name,
    const struct store_user *who)
{
	struct target t;
	int rc = target_of(st, dir, &t);

	if (rc < 0)
		return rc;
	switch (t.role) {
	case ROLE_STAGE:
		if (strcmp(name, "hold") == 0)
			return store_release(st, t.stage, who);
		break;
	case ROLE_STAGE_PROJECT:
		if (strcmp(name, "latest") != 0)
			return store_revoke(st, t.stage, t.project, name, who);
		break;
	case ROLE_WAIVERS:
		return store_waiver_withdraw(st, t.art, name, who);
	case ROLE_PARTICIPANTS:
		return store_participant_withdraw(st, t.stage, name, who);
	case ROLE_FROZEN:
		return store_seterr(-EROFS, "a frozen release never changes");
	default:
		break;
	}
	return store_seterr(-EROFS, "'%s' cannot be removed: what relfs "
	    "records is never erased", name);
}

int
store_ctl_mkdir(struct store *st, uint64_t dir, const char *name,
    const struct store_user *who)
{
	if (dir == INO_STAGES)
		return store_stage_create(st, name, who);
	if (dir == INO_SCENARIOS)
		return store_scenario_create(st, name, who);
	if (dir == INO_RELEASES)
		return store_release_create(st, name, who);
	return store_seterr(-EROFS, "mkdir '%s': only stages/<stage>, "
	    "scenarios/<scenario> and releases/<release> can be made", name);
}

/* -- rebuild from the ledger ---------------------------------------- */

/* Split "a/b/c/d" into at most max parts (in buf); the count. */
static int
split_path(char *buf, char **part, int max)
{
	int n = 0;

	for (char *save = NULL, *t = strtok_r(buf, "/", &save); t && n < max;
	    t = strtok_r(NULL, "/", &save))
		part[n++] = t;
	return n;
}

static int
art_ino(struct ctx *c, const char *p, const char *v, uint64_t *ino,
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

static int
rebuild_one(struct ctx *c, int pass, const char *path, const char *text,
    size_t len)
{
	char buf[1200], *part[8], artkey[600], key[900], name[300];
	json_t *j = NULL;
	uint64_t sdir, dir, art = 0;
	int n, rc = 0;

	snprintf(buf, sizeof(buf), "%s", path);
	n = split_path(buf, part, 8);
	if (n > 0 && (strcmp(part[0], "scenarios") == 0 ||
	    strcmp(part[0], "releases") == 0))
		return pass <= 2 ? release_rebuild_one(c, pass, part, n, text,
		    len) : 0;
	j = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	if (j && json_string_value(json_object_get(j, "at")))
		c->now = parse_iso(json_string_value(json_object_get(j, "at")));
	if (pass == 1 && n == 3 && strcmp(part[0], "stages") == 0 &&
	    strcmp(part[2], "stage.json") == 0) {
		if (!j)
			goto bad;
		if ((rc = put_json(c, TAB_STAGE, key, stage_key(key, part[1]),
		    j)) < 0 || (rc = ensure_dir(c, INO_STAGES, part[1],
		    ROLE_STAGE, 0755, &sdir)) < 0)
			goto out;
		rc = ensure_dir(c, sdir, "criteria.history", ROLE_NONE, 0555,
		    &dir);
	} else if (pass == 2 && strcmp(part[0], "stages") == 0 && n >= 3 &&
	    strcmp(part[2], "stage.json") != 0) {
		if ((rc = stage_dir(c, part[1], &sdir)) < 0)
			goto bad;
		if (n == 3 && strcmp(part[2], "criteria.json") == 0)
			rc = put_text(c, sdir, "criteria.json", text, len, 0);
		else if (n == 3 && strcmp(part[2], "hold") == 0)
			rc = put_text(c, sdir, "hold", text, len, NODE_VOLATILE);
		else if (n == 4 && strcmp(part[2], "criteria.history") == 0 &&
		    (rc = index_lookup(c->st->ix, c->txn, sdir,
		    "criteria.history", &dir)) == 0)
			rc = put_text(c, dir, part[3], text, len, 0);
	} else if (pass == 2 && n == 4 && strcmp(part[0], "projects") == 0 &&
	    strcmp(part[2], "criteria") == 0) {
		json_t *rec;

		if (!j || strlen(part[3]) <= 5)
			goto bad;
		snprintf(name, sizeof(name), "%.*s", (int)strlen(part[3]) - 5,
		    part[3]);
		rec = json_pack("{s:O}", "criteria", j);
		rc = put_json(c, TAB_STAGE, key, projcrit_key(key, part[1], name),
		    rec);
		json_decref(rec);
		if (rc == 0 && (rc = index_lookup(c->st->ix, c->txn,
		    INO_PROJECTS, part[1], &dir)) == 0 &&
		    (rc = index_lookup(c->st->ix, c->txn, dir, "criteria",
		    &dir)) == 0)
			rc = put_text(c, dir, part[3], text, len, 0);
	} else if (pass == 3 && n == 5 && strcmp(part[0], "approvals") == 0) {
		struct approvals_text t = { NULL, 0, 0 };
		uint64_t be;
		uint32_t uid;
		size_t klen;

		if (!j || art_ino(c, part[1], part[2], &art, artkey) < 0)
			goto bad;
		be = htobe64(art);
		uid = htobe32((uint32_t)json_integer_value(json_object_get(j,
		    "uid")));
		memcpy(key, &be, 8);
		klen = 8 + (size_t)snprintf(key + 8, 300, "%s", part[3]) + 1;
		memcpy(key + klen, &uid, 4);
		if ((rc = put_json(c, TAB_APPROVAL, key, klen + 4, j)) == 0 &&
		    (rc = index_scan(c->st->ix, c->txn, TAB_APPROVAL, key, klen,
		    approval_line, &t)) == 0 &&
		    (rc = index_lookup(c->st->ix, c->txn, art, "approvals",
		    &dir)) == 0)
			rc = put_text(c, dir, part[3], t.buf ? t.buf : "", t.len,
			    0);
		free(t.buf);
	} else if (pass == 3 && n == 4 && strcmp(part[0], "waivers") == 0) {
		uint64_t be;
		size_t klen;

		if (!j || strlen(part[3]) <= 5 ||
		    art_ino(c, part[1], part[2], &art, artkey) < 0)
			goto bad;
		snprintf(name, sizeof(name), "%.*s", (int)strlen(part[3]) - 5,
		    part[3]);
		be = htobe64(art);
		memcpy(key, &be, 8);
		klen = 8 + (size_t)snprintf(key + 8, 300, "%s", name);
		if ((rc = put_json(c, TAB_WAIVER, key, klen, j)) == 0 &&
		    (rc = index_lookup(c->st->ix, c->txn, art, "waivers",
		    &dir)) == 0)
			rc = put_text(c, dir, name, text, len, NODE_VOLATILE);
	} else if (pass == 3 && n == 4 && strcmp(part[0], "promotions") == 0) {
		char target[700];

		if (!j || strlen(part[3]) <= 5)
			goto bad;
		snprintf(name, sizeof(name), "%.*s", (int)strlen(part[3]) - 5,
		    part[3]);
		if (art_ino(c, part[2], name, &art, artkey) < 0 ||
		    stage_dir(c, part[1], &sdir) < 0)
			goto bad;
		if ((rc = put_json(c, TAB_PROMO, key, promo_key(key, part[1],
		    artkey), j)) < 0 || (rc = ensure_dir(c, sdir, part[2],
		    ROLE_STAGE_PROJECT, 0755, &dir)) < 0)
			goto out;
		if (!json_object_get(j, "revoked")) {
			snprintf(target, sizeof(target), "../../../artifacts/%s",
			    artkey);
			rc = put_link(c, dir, name, target);
		}
		if (rc == 0)
			rc = update_latest(c, part[1], part[2], dir);
		if (rc == 0)
			rc = scenario_link_update(c, json_string_value(
			    json_object_get(j, "scenario")), part[1], part[2]);
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
stage_rebuild(struct store *st, MDB_txn *txn, char **paths, char **texts,
    size_t *lens, size_t n)
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
			c.now = time(NULL);
			rc = rebuild_one(&c, pass, paths[i], texts[i], lens[i]);
		}
	return rc;
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
	if ((rc = chg_begin(&c, st, who)) < 0)
		return rc;
	if (index_get(st->ix, c.txn, TAB_ARTIFACT, artkey, &ar,
	    sizeof(ar)) < 0) {
		rc = store_seterr(-ENOENT, "artifact %s %s does not exist",
		    project, version);
		goto out;
	}
	if (!(srec = stage_rec(&c, stage))) {
		rc = store_seterr(-ENOENT, "stage '%s' does not exist", stage);
		goto out;
	}
	if ((self = promo_rec(&c, stage, artkey))) {
		rc = store_seterr(-EEXIST, "%s %s is already promoted to %s%s",
		    project, version, stage, json_object_get(self, "revoked") ?
		    " (revoked: relctl restore)" : "");
		goto out;
	}
	if ((rc = decide(&c, ar.ino, artkey, stage, srec, &d)) < 0)
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
	return chg_finish(&c, rc);
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
			fprintf(f, "  %s: %s\n", k, json_is_true(json_object_get(
			    v, "ready")) ? "ready" : "not ready");
			json_object_foreach(json_object_get(v, "artifacts"), k2,
			    v2)
				fprintf(f, "    %s %s\n", k2,
				    json_string_value(v2));
			json_array_foreach(json_object_get(v, "unmet"), i, u)
				fprintf(f, "    - %s%s%s: %s\n", json_string_value(
				    json_object_get(u, "type")),
				    json_object_get(u, "project") ? " " : "",
				    json_object_get(u, "project") ?
				    json_string_value(json_object_get(u,
				    "project")) : "", json_string_value(
				    json_object_get(u, "detail")));
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
		fprintf(f, "  scores (-1 no run, 0 never passed, 1 passed once, "
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
		*buf = json_text(s, len);
		rc = *buf ? 0 : -ENOMEM;
	} else {
		rc = status_people(s, release, buf, len);
	}
	json_decref(s);
	return rc;
}

/*
 * txn.c - a change in the making: its context (one LMDB transaction, who,
 * when), and the records, nodes and ledger files it writes.
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
#include "txn.h"

void
txn_bump(struct node *n, int64_t now)
{
	/* later only: a rebuild replays changes in another order */
	if (now > n->mtime)
		n->mtime = now;
	n->change = (n->change + 1) % 1000000000;
}

int
txn_touch_dir(struct ctx *c, uint64_t dir, int dnlink)
{
	struct node n;
	int rc = index_node_get(c->st->ix, c->txn, dir, &n);

	if (rc < 0)
		return rc;
	n.nlink = (uint32_t)((int)n.nlink + dnlink);
	txn_bump(&n, c->now);
	return index_node_put(c->st->ix, c->txn, dir, &n);
}

/* A directory dir/name with a role, made when missing. */
int
txn_ensure_dir(struct ctx *c, uint64_t dir, const char *name, uint8_t role,
    uint32_t mode, uint64_t *ino)
{
	struct node n;
	int rc = index_lookup(c->st->ix, c->txn, dir, name, ino);

	if (rc != -ENOENT)
		return rc;
	/* stages and their projects: relctl changes them beside the mount */
	if ((rc = index_alloc_ino(c->st->ix, c->txn, 1, ino)) < 0 ||
	    (rc = tree_put_node(c->st, c->txn, *ino, dir, name, NODE_DIR,
	    NODE_MUTABLE | (role == ROLE_STAGE || role == ROLE_STAGE_PROJECT ?
	    NODE_LIVE : 0), mode, 0, c->now, NULL)) < 0 ||
	    (rc = index_node_get(c->st->ix, c->txn, *ino, &n)) < 0)
		return rc;
	n.role = role;
	if ((rc = index_node_put(c->st->ix, c->txn, *ino, &n)) < 0)
		return rc;
	return txn_touch_dir(c, dir, 1);
}

/*
 * Put a file dir/name with these bytes: its content changes in place (the
 * node is mutable: read with direct I/O), or it is made.
 */
int
txn_put_text(struct ctx *c, uint64_t dir, const char *name, const char *text,
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
		txn_bump(&n, c->now);
		if ((rc = index_node_put(c->st->ix, c->txn, ino, &n)) < 0)
			return rc;
		return txn_touch_dir(c, dir, 0);
	}
	if (rc != -ENOENT)
		return rc;
	if ((rc = index_alloc_ino(c->st->ix, c->txn, 1, &ino)) < 0 ||
	    (rc = tree_put_node(c->st, c->txn, ino, dir, name, NODE_FILE,
	    NODE_MUTABLE | flags, 0444, len, c->now, d)) < 0)
		return rc;
	return txn_touch_dir(c, dir, 0);
}

/* A symbolic link dir/name -> target, replacing what the name was. */
int
txn_put_link(struct ctx *c, uint64_t dir, const char *name, const char *target)
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
	    (rc = tree_put_node(c->st, c->txn, ino, dir, name, NODE_SYMLINK,
	    NODE_VOLATILE, 0777, strlen(target), c->now, d)) < 0)
		return rc;
	return txn_touch_dir(c, dir, 0);
}

char *
txn_json_text(json_t *j, size_t *len)
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
txn_add_data(json_t *files, const char *path, const char *data, size_t len)
{
	json_array_append_new(files, json_pack("{s:s,s:s%}", "path", path,
	    "data", data, len));
}

void
txn_add_removal(json_t *files, const char *path)
{
	json_array_append_new(files, json_pack("{s:s,s:b}", "path", path,
	    "remove", 1));
}

json_t *
txn_get_json(struct ctx *c, enum index_table t, const void *key, size_t klen)
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
txn_put_json(struct ctx *c, enum index_table t, const void *key, size_t klen,
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

size_t
txn_stage_key(char *buf, const char *stage)
{
	return (size_t)snprintf(buf, 300, "s:%s", stage);
}

size_t
txn_projcrit_key(char *buf, const char *project, const char *stage)
{
	return (size_t)snprintf(buf, 600, "p:%s/%s", project, stage);
}

size_t
txn_promo_key(char *buf, const char *stage, const char *artkey)
{
	const char *slash = strchr(artkey, '/');
	size_t n = (size_t)snprintf(buf, 800, "%s%c%.*s%c%s", stage, 0,
	    (int)(slash - artkey), artkey, 0, slash + 1);

	return n;
}

json_t *
txn_stage_rec(struct ctx *c, const char *stage)
{
	char key[300];

	return txn_get_json(c, TAB_STAGE, key, txn_stage_key(key, stage));
}

json_t *
txn_promo_rec(struct ctx *c, const char *stage, const char *artkey)
{
	char key[800];

	return txn_get_json(c, TAB_PROMO, key, txn_promo_key(key, stage,
	    artkey));
}

void
txn_who_json(json_t *j, const char *prefix, const struct store_user *who,
    int64_t now)
{
	char when[32], k1[64], k2[64];

	time_iso(when, now);
	snprintf(k1, sizeof(k1), "%s_by", prefix);
	snprintf(k2, sizeof(k2), "%s_at", prefix);
	json_object_set_new(j, k1, json_string(who->name));
	json_object_set_new(j, k2, json_string(when));
}

int
txn_begin(struct ctx *c, struct store *st, const struct store_user *who)
{
	int rc;

	memset(c, 0, sizeof(*c));
	c->st = st;
	c->who = who;
	c->now = time(NULL);
	rc = index_begin(st->ix, 0, &c->txn);
	if (rc < 0)
		c->txn = NULL;	/* txn_finish then has nothing to abort */
	return rc;
}

int
txn_finish(struct ctx *c, int rc)
{
	if (rc < 0) {
		index_abort(c->txn);
		return rc;
	}
	rc = index_commit(c->txn);
	if (rc == 0)
		outbox_kick(c->st);
	return rc;
}

char *
txn_trimmed(const char *buf, size_t len)
{
	while (len && strchr(" \t\r\n", buf[len - 1]))
		len--;
	while (len && strchr(" \t\r\n", *buf)) {
		buf++;
		len--;
	}
	return strndup(buf, len);
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
txn_stage_names(struct store *st, MDB_txn *txn, struct stage_list *l)
{
	return index_scan(st->ix, txn, TAB_STAGE, "s:", 2, collect_stage, l);
}

int
txn_stage_order(struct ctx *c, struct stage_list *l)
{
	char **out = calloc(l->n + 1, sizeof(*out));
	json_t **recs = calloc(l->n + 1, sizeof(*recs));
	size_t placed = 0;

	if (!out || !recs) {
		free(out);
		free(recs);
		return -ENOMEM;
	}
	for (size_t i = 0; i < l->n; i++)
		recs[i] = txn_stage_rec(c, l->names[i]);
	/*
	 * Kahn's order over "after", ties by name (the list comes sorted):
	 * each round takes the first stage whose "after" is placed, or names
	 * no stage of the list.  A cycle (refused when criteria are set)
	 * would end the rounds; what is left follows by name.
	 */
	while (placed < l->n) {
		size_t pick = l->n;

		for (size_t i = 0; i < l->n && pick == l->n; i++) {
			int ready = 1;

			if (!l->names[i])
				continue;
			for (size_t k = 0; k < l->n; k++)
				if (l->names[k] && txn_stage_is_after(recs[i],
				    l->names[k]))
					ready = 0;
			if (ready)
				pick = i;
		}
		for (size_t i = 0; pick == l->n && i < l->n; i++)
			if (l->names[i])
				pick = i;
		out[placed++] = l->names[pick];
		l->names[pick] = NULL;
	}
	for (size_t i = 0; i < l->n; i++)
		json_decref(recs[i]);
	free(recs);
	free(l->names);
	l->names = out;
	return 0;
}

void
txn_stage_list_free(struct stage_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->names[i]);
	free(l->names);
}

size_t
txn_stage_afters(json_t *srec, const char **names, size_t max)
{
	return crit_afters(json_object_get(srec, "criteria"), names, max);
}

int
txn_stage_is_after(json_t *srec, const char *stage)
{
	const char *names[CRIT_AFTER_MAX];
	size_t n = txn_stage_afters(srec, names, CRIT_AFTER_MAX);

	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], stage) == 0)
			return 1;
	return 0;
}

int
txn_stage_dir(struct ctx *c, const char *stage, uint64_t *ino)
{
	return index_lookup(c->st->ix, c->txn, INO_STAGES, stage, ino);
}

/* -- stages and criteria -------------------------------------------- */

/* An event about a stage (and an artifact, when artkey is set). */
int
txn_stage_event(struct ctx *c, const char *type, const char *stage,
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

/* results.c - results and runs: see results.h and store.h. */
#define _GNU_SOURCE
#include "results.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "safe.h"
#include "store_impl.h"

#define RUN_TEXT_FLAGS (JSON_INDENT(2) | JSON_SORT_KEYS)	/* a run's file */

static size_t
run_prefix(char *buf, uint64_t art, const char *tc)
{
	uint64_t be = htobe64(art);
	size_t len = strlen(tc);

	memcpy(buf, &be, 8);
	memcpy(buf + 8, tc, len);
	buf[8 + len] = '\0';
	return 8 + len + 1;
}

int
runs_nodes(struct store *st, MDB_txn *txn, uint64_t art, int64_t created)
{
	static const struct {
		const char *name;
		uint8_t kind, role;
		uint32_t mode;
	} extra[] = {
		{ "results", NODE_RESULTS, ROLE_NONE, 0755 },
		{ "runs", NODE_DIR, ROLE_NONE, 0555 },
		{ "approvals", NODE_DIR, ROLE_APPROVALS, 0755 },
		{ "waivers", NODE_DIR, ROLE_WAIVERS, 0755 },
		{ "status", NODE_FILE, ROLE_STATUS, 0444 },
		{ "status.json", NODE_FILE, ROLE_STATUS_JSON, 0444 },
	};
	uint64_t first;
	struct node n;
	int rc;

	rc = index_alloc_ino(st->ix, txn, 6, &first);
	for (size_t i = 0; rc == 0 && i < 6; i++) {
		rc = tree_put_node(st, txn, first + i, art, extra[i].name,
		    extra[i].kind, NODE_MUTABLE, extra[i].mode, 0, created,
		    NULL);
		if (rc == 0 && extra[i].role &&
		    (rc = index_node_get(st->ix, txn, first + i, &n)) == 0) {
			n.role = extra[i].role;
			rc = index_node_put(st->ix, txn, first + i, &n);
		}
	}
	return rc;
}

/*
 * The directory node dir/name, made (mutable) when it is missing; its
 * inode from *next (counted up) when given, else from the index's count.
 */
int
runs_dir_ensure(struct store *st, MDB_txn *txn, uint64_t dir,
    const char *name, int64_t now, uint64_t *next, uint64_t *ino)
{
	struct node n;
	int rc = index_lookup(st->ix, txn, dir, name, ino);

	if (rc != -ENOENT)
		return rc;
	if (next)
		*ino = (*next)++;
	else if ((rc = index_alloc_ino(st->ix, txn, 1, ino)) < 0)
		return rc;
	if ((rc = tree_put_node(st, txn, *ino, dir, name, NODE_DIR,
	    NODE_MUTABLE, 0555, 0, now, NULL)) < 0 ||
	    (rc = index_node_get(st->ix, txn, dir, &n)) < 0)
		return rc;
	n.nlink++;
	n.mtime = now;
	n.change = (n.change + 1) % 1000000000;
	return index_node_put(st->ix, txn, dir, &n);
}

int
runs_next_no(struct store *st, MDB_txn *txn, uint64_t art, const char *tc,
    uint64_t *no)
{
	char key[8 + NAME_MAX_BYTES + 1 + 8], *last = NULL;
	size_t plen = run_prefix(key, art, tc), klen;
	uint64_t be;
	int rc;

	rc = index_last_with_prefix(st->ix, txn, TAB_RUNS, key, plen, &last,
	    &klen);
	if (rc == 0 && klen == plen + 8) {
		memcpy(&be, last + plen, 8);
		*no = be64toh(be) + 1;
	} else if (rc == -ENOENT || rc == 0) {
		*no = 1;
	} else {
		return rc;
	}
	free(last);
	return 0;
}

int
runs_dir_touch(struct store *st, MDB_txn *txn, uint64_t dir, int64_t now)
{
	struct node dn;
	int rc = index_node_get(st->ix, txn, dir, &dn);

	if (rc < 0)
		return rc;
	dn.mtime = now;
	dn.change = (dn.change + 1) % 1000000000;
	return index_node_put(st->ix, txn, dir, &dn);
}

int
runs_put(struct store *st, MDB_txn *txn, const struct run_place *at,
    const char *packed, size_t packed_len, uint64_t size)
{
	int rc = runs_put_record(st, txn, at, packed, packed_len, NULL);

	return rc < 0 ? rc : runs_put_node(st, txn, at, size, NULL);
}

int
runs_put_record(struct store *st, MDB_txn *txn, const struct run_place *at,
    const char *packed, size_t packed_len, int *at_end)
{
	char key[8 + NAME_MAX_BYTES + 1 + 8];
	uint64_t be = htobe64(at->no);
	size_t plen = run_prefix(key, at->art, at->tc);
	int rc;

	memcpy(key + plen, &be, 8);
	rc = index_put_raw_hint(st->ix, txn, TAB_RUNS, key, plen + 8, packed,
	    packed_len, 1, at_end);
	if (rc == -EEXIST)
		return store_seterr(-EEXIST, "run %llu of %s is already "
		    "recorded", (unsigned long long)at->no, at->tc);
	return rc;
}

int
runs_put_node(struct store *st, MDB_txn *txn, const struct run_place *at,
    uint64_t size, int *at_end)
{
	uint64_t be = htobe64(at->no), abe = htobe64(at->art);
	uint8_t d[DIGEST_LEN];
	char name[32];

	/*
	 * The run file is rendered from the index when it is opened: no
	 * content object per run, which keeps a million runs cheap.  The
	 * node's digest field holds the run's number and artifact instead.
	 */
	memset(d, 0, sizeof(d));
	memcpy(d, &be, 8);
	memcpy(d + 8, &abe, 8);
	memcpy(name + u64_digits(name, at->no, 6), ".json", 6);
	return tree_put_node_hint(st, txn, at->ino, at->tc_ino, name, NODE_RUN,
	    0, 0444, size, at->now, d, at_end);
}

int
runs_insert(struct store *st, MDB_txn *txn, uint64_t art, const char *artkey,
    json_t *run, json_t *files, uint64_t *no)
{
	const char *tc = json_string_value(json_object_get(run, "testcase"));
	struct run_place at = { art, 0, 0, 0, tc, time_parse_iso(
	    json_string_value(json_object_get(run, "recorded"))) };
	char *compact = NULL, *text = NULL, *packed = NULL, lpath[1200];
	uint64_t runs_ino;
	size_t tlen, plen;
	int rc;

	if (!tc || strlen(tc) > NAME_MAX_BYTES)
		return store_seterr(-EINVAL, "a run names no valid test case");
	at.no = (uint64_t)json_integer_value(json_object_get(run, "run"));
	if (!at.no) {
		if ((rc = runs_next_no(st, txn, art, tc, &at.no)) < 0)
			return rc;
		json_object_set_new(run, "run", json_integer((json_int_t)at.no));
	}
	compact = json_dumps(run, JSON_COMPACT | JSON_SORT_KEYS);
	text = json_dumps(run, RUN_TEXT_FLAGS);
	if (!compact || !text) {
		rc = -ENOMEM;
		goto out;
	}
	tlen = strlen(text);
	text[tlen++] = '\n';	/* json_dumps leaves room: it was NUL */
	if ((rc = index_lookup(st->ix, txn, art, "runs", &runs_ino)) < 0 ||
	    (rc = runs_dir_ensure(st, txn, runs_ino, tc, at.now, NULL,
	    &at.tc_ino)) < 0 ||
	    (rc = index_alloc_ino(st->ix, txn, 1, &at.ino)) < 0 ||
	    (rc = run_pack(run, compact, 0, &packed, &plen)) < 0 ||
	    (rc = runs_put(st, txn, &at, packed, plen, tlen)) < 0 ||
	    (rc = runs_dir_touch(st, txn, at.tc_ino, at.now)) < 0)
		goto out;
	if (files) {
		/* inline: the ledger never waits for an object to be synced */
		snprintf(lpath, sizeof(lpath), "runs/%s/%s/%06llu.json", artkey,
		    tc, (unsigned long long)at.no);
		json_array_append_new(files, json_pack("{s:s,s:s%}", "path",
		    lpath, "data", text, tlen));
	}
	if (no)
		*no = at.no;
out:
	free(compact);
	free(text);
	free(packed);
	return rc;
}

/* -- recording ------------------------------------------------------ */

static int
run_event(struct store *st, MDB_txn *txn, const char *artkey, json_t *run,
    const struct store_user *who, int64_t now)
{
	json_t *ev = json_pack("{s:O,s:O,s:O}", "testcase",
	    json_object_get(run, "testcase"), "outcome", json_object_get(run,
	    "outcome"), "run", json_object_get(run, "run"));
	int rc = event_artifact(st, txn, "run.recorded", who, now, artkey, ev);

	json_decref(ev);
	return rc;
}

int
store_results_dir(struct store *st, uint64_t art, char *out, size_t outlen)
{
	char key[512];
	int rc;

	if ((rc = store_artifact_key(st, art, key)) < 0)
		return rc;
	if (snprintf(out, outlen, "%s/results/%s", st->path, key) >=
	    (int)outlen)
		return -ENAMETOOLONG;
	rc = mkdir_p(out, 0700);
	if (rc < 0)
		return store_seterr(rc, "could not create '%s': %s", out,
		    strerror(-rc));
	return 0;
}

/* Stamp a parsed run with who wrote it and when. */
static void
stamp(json_t *run, const char *filename, const struct store_user *who,
    int64_t now)
{
	char when[32];

	time_iso(when, now);
	json_object_set_new(run, "recorded", json_string(when));
	json_object_set_new(run, "user", json_string(who->name));
	json_object_set_new(run, "uid", json_integer(who->uid));
	if (filename)
		json_object_set_new(run, "file", json_string(filename));
}

/*
 * Group commit.  Each run is one LMDB transaction of its own (nested in a
 * shared one, so a refused run leaves the others alone), but the writers
 * that arrive while a commit is being synced wait for it to end and are
 * then committed together, by whichever of them gets there first: one
 * fsync for many close()s, and each still returns only once its run is
 * durable.
 */
struct run_add {
	struct run_add *next;
	uint64_t art;
	const char *key, *file;
	json_t *runs;		/* the file's runs, one or more */
	const struct store_user *who;
	int64_t now;
	uint64_t no;
	int rc, done;
	char err[512];
};

/* The ledger commit's message for the runs of one file. */
static void
runs_message(char *msg, size_t len, const struct run_add *a)
{
	size_t n = json_array_size(a->runs), count[4] = { 0 }, i;
	json_t *run;

	if (n == 1) {
		run = json_array_get(a->runs, 0);
		snprintf(msg, len, "run %s %s #%llu: %s", a->key,
		    json_string_value(json_object_get(run, "testcase")),
		    (unsigned long long)a->no,
		    json_string_value(json_object_get(run, "outcome")));
		return;
	}
	json_array_foreach(a->runs, i, run)
		count[result_outcome_code(json_string_value(json_object_get(run,
		    "outcome")))]++;
	snprintf(msg, len, "runs %s from %s: %zu runs (%zu PASS, %zu FAIL, "
	    "%zu ERROR, %zu SKIP)", a->key, a->file, n, count[RESULT_PASS],
	    count[RESULT_FAIL], count[RESULT_ERROR], count[RESULT_SKIP]);
}

/* The runs of one file, all or none (a transaction nested in parent). */
static int
run_add_in(struct store *st, MDB_txn *parent, struct run_add *a)
{
	json_t *files = json_array(), *run;
	MDB_txn *txn = NULL;
	char msg[1024];
	uint64_t no;
	size_t i;
	int rc;

	if ((rc = index_begin_nested(parent, &txn)) < 0)
		goto out;
	json_array_foreach(a->runs, i, run) {
		if ((rc = runs_insert(st, txn, a->art, a->key, run, files,
		    &no)) < 0 ||
		    (rc = run_event(st, txn, a->key, run, a->who, a->now)) < 0)
			goto out;
		if (i == 0)
			a->no = no;
	}
	runs_message(msg, sizeof(msg), a);
	if ((rc = outbox_queue(st, txn, a->who, a->now, msg, files)) < 0 ||
	    (rc = promote_eval_in(st, txn, a->art, a->key, a->who, a->now)) < 0)
		goto out;
	rc = index_commit(txn);
	txn = NULL;
out:
	index_abort(txn);
	json_decref(files);
	return rc;
}

/* Commit a batch of queued runs in one transaction; sets each one's rc. */
static void
run_add_batch(struct store *st, struct run_add *batch)
{
	struct run_add *a;
	MDB_txn *txn = NULL;
	int rc, any = 0;

	rc = index_begin(st->ix, 0, &txn);
	for (a = batch; a; a = a->next) {
		a->rc = rc < 0 ? rc : run_add_in(st, txn, a);
		if (a->rc < 0)
			snprintf(a->err, sizeof(a->err), "%s", store_errmsg());
		else
			any = 1;
	}
	if (rc < 0)
		return;
	rc = any ? index_commit(txn) : (index_abort(txn), 0);
	for (a = batch; a; a = a->next)
		if (rc < 0 && a->rc == 0) {
			a->rc = rc;
			snprintf(a->err, sizeof(a->err), "%s", store_errmsg());
		}
	if (any && rc == 0)
		outbox_kick(st);
}

int
store_result_add(struct store *st, uint64_t art, const char *filename,
    const char *buf, size_t len, const struct store_user *who, uint64_t *no)
{
	char key[512];
	struct run_add me = { 0 }, **tail;
	int rc;

	if ((rc = store_may(st, who, STORE_ROLE_CI, "writing results")) < 0 ||
	    (rc = store_artifact_key(st, art, key)) < 0 ||
	    (rc = result_parse(filename, buf, len, &me.runs)) < 0)
		return rc;
	me.art = art;
	me.key = key;
	me.file = filename;
	me.who = who;
	me.now = time(NULL);
	{
		size_t i;
		json_t *run;

		json_array_foreach(me.runs, i, run)
			stamp(run, filename, who, me.now);
	}

	pthread_mutex_lock(&st->runs_mu);
	for (tail = &st->runs_pending; *tail; tail = &(*tail)->next)
		;
	*tail = &me;
	while (!me.done) {
		struct run_add *batch, *a, *next;

		if (st->runs_busy) {
			pthread_cond_wait(&st->runs_cond, &st->runs_mu);
			continue;
		}
		batch = st->runs_pending;
		st->runs_pending = NULL;
		st->runs_busy = 1;
		pthread_mutex_unlock(&st->runs_mu);
		run_add_batch(st, batch);
		pthread_mutex_lock(&st->runs_mu);
		for (a = batch; a; a = next) {
			next = a->next;
			a->done = 1;
		}
		st->runs_busy = 0;
		pthread_cond_broadcast(&st->runs_cond);
	}
	pthread_mutex_unlock(&st->runs_mu);
	json_decref(me.runs);
	if (me.rc < 0)
		return store_seterr(me.rc, "%s", me.err);
	if (no)
		*no = me.no;
	return 0;
}

/* -- the run files of the mount -------------------------------------- */

/*
 * What a byte of a string adds to its length in jansson's text: quotes,
 * backslashes and \b \f \n \r \t take two bytes, other control
 * characters six (jansson without JSON_ENSURE_ASCII or JSON_ESCAPE_SLASH).
 */
static const unsigned char escape_extra[256] = {
	5, 5, 5, 5, 5, 5, 5, 5, 1, 1, 1, 5, 1, 1, 5, 5,
	5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5,
	0, 0, 1, ['\\'] = 1,
};

/* The length of the JSON string of s (len bytes), quotes included. */
static size_t
escaped_len(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = len + 2;

	for (size_t i = 0; i < len; i++)
		n += escape_extra[u[i]];
	return n;
}

/* The digits of i, and its sign. */
static size_t
integer_len(json_int_t i)
{
	unsigned long long u = i < 0 ? 0ULL - (unsigned long long)i :
	    (unsigned long long)i;
	size_t n = i < 0 ? 2 : 1;

	while (u >= 10) {
		u /= 10;
		n++;
	}
	return n;
}

/*
 * The length of jansson's text of v at depth d with RUN_TEXT_FLAGS,
 * counted in one walk (a run's file size is asked for each of a million
 * imported runs, and rendering it costs as much as parsing it).  The
 * compact text, plus what JSON_INDENT(2) adds: a newline and 2 (d + 1)
 * spaces before each member of a non-empty object or array, a newline and
 * 2 d spaces before its end, and a space after each key's colon.  Reals
 * are left to jansson itself.  test_results checks it against json_dumps,
 * and import checks a run of each batch.
 */
/*
 * An object's or array's text at depth d from its k members' own (n
 * bytes): a comma each but the last, the brackets, the indents.
 */
static size_t
members_len(size_t n, size_t k, size_t d)
{
	return n + k + 1 + k * (1 + 2 * (d + 1)) + 1 + 2 * d;
}

/* What a member adds to n: its key, ": ", then vlen bytes of its value. */
static size_t
member_len(const char *key, size_t klen, size_t vlen)
{
	return escaped_len(key, klen) + 2 + vlen;
}

static size_t
text_len(json_t *v, size_t d)
{
	size_t n = 0, k, i;
	char num[32];
	void *it;
	json_t *m;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		if (!(k = json_object_size(v)))
			return 2;
		for (it = json_object_iter(v); it; it = json_object_iter_next(v,
		    it))
			n += member_len(json_object_iter_key(it),
			    json_object_iter_key_len(it),
			    text_len(json_object_iter_value(it), d + 1));
		return members_len(n, k, d);
	case JSON_ARRAY:
		if (!(k = json_array_size(v)))
			return 2;
		json_array_foreach(v, i, m)
			n += text_len(m, d + 1);
		return members_len(n, k, d);
	case JSON_STRING:
		return escaped_len(json_string_value(v), json_string_length(v));
	case JSON_INTEGER:
		return integer_len(json_integer_value(v));
	case JSON_TRUE:
	case JSON_NULL:
		return 4;
	case JSON_FALSE:
		return 5;
	default:	/* a real: into num, without an allocation */
		return json_dumpb(v, num, sizeof(num), JSON_ENCODE_ANY |
		    JSON_COMPACT);
	}
}

size_t
run_text_len(json_t *run, int render)
{
	char *t;
	size_t n;

	if (!render)
		return text_len(run, 0) + 1;	/* and a newline */
	if (!(t = json_dumps(run, RUN_TEXT_FLAGS)))
		return 0;
	n = strlen(t) + 1;	/* and a newline */
	free(t);
	return n;
}

size_t
run_view_text_len(const struct run_view *v, json_t *rec, json_t *stamp,
    json_int_t no)
{
	/* the members result_run, the stamp and the number give, as above */
	const char *own[] = { "testcase", v->testcase, "outcome", v->outcome,
	    "format", v->format };
	size_t n = 0, k = 0;
	const char *key;
	json_t *val;

	for (size_t i = 0; i < 6; i += 2, k++)
		n += member_len(own[i], strlen(own[i]), escaped_len(own[i + 1],
		    strlen(own[i + 1])));
	for (size_t i = 0; i < v->ncopied; i++, k++)
		n += member_len(v->key[i], strlen(v->key[i]),
		    text_len(v->value[i], 1));
	json_object_foreach(stamp, key, val) {
		n += member_len(key, strlen(key), text_len(val, 1));
		k++;
	}
	n += member_len("record", 6, text_len(rec, 1)) +
	    member_len("run", 3, integer_len(no));
	return members_len(n, k + 2, 0) + 1;	/* and a newline */
}

json_t *
run_complete(json_t *run)
{
	static const char *stamp[] = { "recorded", "user", "uid", "run",
	    "file" };
	json_t *rec = json_object_get(run, "record"), *full = NULL;

	if (json_object_get(run, "testcase"))
		return json_incref(run);
	if (!json_is_object(rec) || result_run("record", rec, &full) < 0)
		return NULL;
	for (size_t i = 0; i < sizeof(stamp) / sizeof(*stamp); i++) {
		json_t *v = json_object_get(run, stamp[i]);

		if (v)
			json_object_set(full, stamp[i], v);
	}
	return full;
}

int
store_run_text(struct store *st, const struct node *n, char **buf,
    size_t *len)
{
	char key[8 + NAME_MAX_BYTES + 1 + 8], tc[NAME_MAX_BYTES + 1], *val;
	struct node tcn;
	MDB_txn *txn;
	json_t *run;
	uint64_t art;
	size_t plen, vlen;
	int rc;

	if (n->kind != NODE_RUN)
		return -EINVAL;
	memcpy(&art, n->digest + 8, 8);
	if ((rc = index_begin(st->ix, 1, &txn)) < 0)
		return rc;
	if ((rc = index_node_get(st->ix, txn, n->parent, &tcn)) < 0 ||
	    (rc = index_name_of(st->ix, txn, tcn.parent, n->parent, tc)) < 0)
		goto out;
	plen = run_prefix(key, be64toh(art), tc);
	memcpy(key + plen, n->digest, 8);
	rc = index_get_raw(st->ix, txn, TAB_RUNS, key, plen + 8, &val, &vlen);
	if (rc < 0)
		goto out;
	{
		struct run_summary sum;
		json_t *slim = run_unpack(val, vlen, &sum) == 0 ?
		    json_loadb(sum.json, sum.jsonlen, JSON_REJECT_DUPLICATES,
		    NULL) : NULL;

		run = slim ? run_complete(slim) : NULL;
		json_decref(slim);
	}
	free(val);
	*buf = run ? json_dumps(run, RUN_TEXT_FLAGS) : NULL;
	json_decref(run);
	if (!*buf) {
		rc = store_seterr(-EIO, "run record of %s is damaged", tc);
		goto out;
	}
	*len = strlen(*buf);
	(*buf)[*len] = '\n';	/* the NUL's byte: the text is counted */
	(*len)++;
out:
	index_abort(txn);
	return rc;
}

int
store_result_named(const char *name)
{
	return name[0] != '.';
}

int
store_result_refuse(enum store_result_op op)
{
	switch (op) {
	case STORE_RESULT_CHANGE:
		return store_seterr(-EROFS, "truncate: a recorded result is "
		    "never changed; write it again to add a run");
	case STORE_RESULT_REMOVE:
		return store_seterr(-EROFS, "unlink: a recorded result is never "
		    "removed");
	case STORE_RESULT_MOVE:
		return store_seterr(-EROFS, "rename: a recorded result is never "
		    "changed or removed");
	case STORE_RESULT_LINK:
		return store_seterr(-EINVAL, "link: a recorded result cannot be "
		    "linked; copy it");
	case STORE_RESULT_MKDIR:
		return store_seterr(-EINVAL, "mkdir: results/ holds result "
		    "files, not directories");
	case STORE_RESULT_SYMLINK:
		return store_seterr(-EINVAL, "symlink: results/ holds result "
		    "files, not symbolic links");
	case STORE_RESULT_HARDLINK:
		return store_seterr(-EINVAL, "link: results/ holds result "
		    "files, not hard links");
	}
	return store_seterr(-EINVAL, "results/: not allowed");
}

/* A refused result: bad content is EINVAL, and the message names it. */
static int
result_refused(struct store *st, uint64_t art, const char *name, int rc)
{
	char key[2 * NAME_MAX_BYTES + 2] = "?";

	if (rc == -EFBIG)
		rc = -EINVAL;
	(void)store_artifact_key(st, art, key);
	return store_prefixerr(rc, "artifacts/%s/results/%s", key, name);
}

/* Record buf (read by the caller) or say why not; keeps buf when asked. */
static int
result_record(struct store *st, uint64_t art, const char *name, int rc,
    char *buf, size_t len, const struct store_user *who, char **bytes,
    size_t *blen)
{
	uint64_t no;

	if (rc == 0)
		rc = store_result_add(st, art, name, buf, len, who, &no);
	if (rc < 0) {
		free(buf);
		return result_refused(st, art, name, rc);
	}
	if (bytes) {
		*bytes = buf;
		*blen = len;
	} else {
		free(buf);
	}
	return 0;
}

int
store_result_close(struct store *st, uint64_t art, const char *name,
    int fd, const struct store_user *who, char **bytes, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	/* one byte more than the limit: store_result_add says it is too big */
	int rc = safe_read_fd(fd, RESULT_MAX + 1, name, &buf, &n);

	return result_record(st, art, name, rc, buf, n, who, bytes, len);
}

int
store_result_take(struct store *st, uint64_t art, const char *name,
    int dirfd, const char *from, const struct store_user *who,
    char **bytes, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	int rc = safe_read(dirfd, from, RESULT_MAX + 1, from, &buf, &n);

	return result_record(st, art, name, rc, buf, n, who, bytes, len);
}

/* index.c - see index.h. */
#define _GNU_SOURCE
#include "index.h"

#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define MAP_SIZE (64ULL << 30)

struct index {
	MDB_env *env;
	MDB_dbi nodes, dirents, children, artifacts, projects, meta, queue;
	MDB_dbi runs, artino, stage, promo, approval, waiver, changes;
	MDB_dbi events, delivery;
};

static int	lmdb_err(int rc, const char *what);
static MDB_dbi	table_dbi(struct index *ix, enum index_table t);

static int
lmdb_err(int rc, const char *what)
{
	if (rc == 0)
		return 0;
	if (rc == MDB_NOTFOUND)
		return -ENOENT;
	if (rc == MDB_KEYEXIST)
		return -EEXIST;
	if (rc == MDB_MAP_FULL)
		return store_seterr(-ENOSPC, "index is full (%s)", what);
	if (rc > 0)
		return store_seterr(-rc, "index: %s: %s", what, strerror(rc));
	return store_seterr(-EIO, "index: %s: %s", what, mdb_strerror(rc));
}

static int
damaged(const char *dir, const char *why)
{
	return store_seterr(-EUCLEAN, "index damaged or missing: run relctl "
	    "rebuild ('%s': %s)", dir, why);
}

/*
 * The data file of the index in dir is there and holds at least need bytes
 * (LMDB maps it: a page past its end would be a SIGBUS, not an error).
 */
static int
data_file_whole(const char *dir, uint64_t need)
{
	char p[4096];
	struct stat sb;

	snprintf(p, sizeof(p), "%s/data.mdb", dir);
	if (stat(p, &sb) < 0)
		return damaged(dir, errno == ENOENT ? "no data.mdb" :
		    strerror(errno));
	if (!S_ISREG(sb.st_mode))
		return damaged(dir, "data.mdb is not a file");
	if ((uint64_t)sb.st_size < need || sb.st_size < 8192)
		return damaged(dir, "data.mdb is shorter than its pages");
	return 0;
}

/* A new index's environment, not open yet, with a map of mapsize bytes. */
static int
env_new(struct index **out, size_t mapsize)
{
	struct index *ix = calloc(1, sizeof(*ix));
	int rc;

	if (!ix)
		return -ENOMEM;
	if ((rc = mdb_env_create(&ix->env)) != 0) {
		free(ix);
		return lmdb_err(rc, "create");
	}
	mdb_env_set_maxdbs(ix->env, 16);
	mdb_env_set_maxreaders(ix->env, 256);
	mdb_env_set_mapsize(ix->env, mapsize);
	*out = ix;
	return 0;
}

/* An open of dir that failed with LMDB's rc: said, undone; -errno. */
static int
open_failed(struct index *ix, const char *dir, int rc)
{
	rc = lmdb_err(rc, "open");
	store_seterr(rc, "could not open the index in '%s': %s", dir,
	    rc == -EIO ? store_errmsg() : strerror(-rc));
	if (ix->env)
		mdb_env_close(ix->env);
	free(ix);
	return rc;
}

/* Every table of the index, in txn (flags: MDB_CREATE, or 0 for a view). */
static int
open_tables(struct index *ix, MDB_txn *txn, unsigned flags)
{
	static const struct {
		const char *name;
		size_t off;
		unsigned flags;
	} tabs[] = {
		{ "nodes", offsetof(struct index, nodes), MDB_INTEGERKEY },
		{ "dirents", offsetof(struct index, dirents), 0 },
		{ "children", offsetof(struct index, children), 0 },
		{ "artifacts", offsetof(struct index, artifacts), 0 },
		{ "projects", offsetof(struct index, projects), 0 },
		{ "meta", offsetof(struct index, meta), 0 },
		{ "queue", offsetof(struct index, queue), MDB_INTEGERKEY },
		{ "runs", offsetof(struct index, runs), 0 },
		{ "artino", offsetof(struct index, artino), 0 },
		{ "stage", offsetof(struct index, stage), 0 },
		{ "promo", offsetof(struct index, promo), 0 },
		{ "approval", offsetof(struct index, approval), 0 },
		{ "waiver", offsetof(struct index, waiver), 0 },
		{ "changes", offsetof(struct index, changes), 0 },
		{ "events", offsetof(struct index, events), 0 },
		{ "delivery", offsetof(struct index, delivery), 0 },
	};
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < sizeof(tabs) / sizeof(*tabs); i++)
		rc = mdb_dbi_open(txn, tabs[i].name, flags | tabs[i].flags,
		    (MDB_dbi *)(void *)((char *)ix + tabs[i].off));
	return rc;
}

int
index_open(struct index **out, const char *dir, int create)
{
	struct index *ix;
	MDB_txn *txn = NULL;
	int rc, dead;

	if (create && mkdir(dir, 0700) < 0 && errno != EEXIST)
		return store_seterr(-errno, "could not create '%s': %s", dir,
		    strerror(errno));
	if (!create && (rc = data_file_whole(dir, 0)) < 0)
		return rc;
	if ((rc = env_new(&ix, MAP_SIZE)) < 0)
		return rc;
	/*
	 * One flush per commit, not two: the meta page goes with the next
	 * commit or sync.  Integrity is kept; a power cut may undo the last
	 * commit, which close() never promised (fsync() and sync do: see
	 * index_sync).  kill -9 loses nothing: the kernel has the pages.
	 */
	rc = mdb_env_open(ix->env, dir, MDB_NOTLS | MDB_NOMETASYNC, 0600);
	if (rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH ||
	    rc == MDB_CORRUPTED) {
		mdb_env_close(ix->env);
		free(ix);
		return damaged(dir, "its header is not an LMDB environment");
	}
	if (rc)
		goto fail;
	{
		MDB_envinfo info;
		MDB_stat sb;

		/* every page the meta page names must be in the file */
		if (mdb_env_info(ix->env, &info) == 0 &&
		    mdb_env_stat(ix->env, &sb) == 0 &&
		    (rc = data_file_whole(dir, (uint64_t)(info.me_last_pgno +
		    1) * sb.ms_psize)) < 0) {
			mdb_env_close(ix->env);
			free(ix);
			return rc;
		}
	}
	/* readers left behind by a process that died (kill -9) */
	mdb_reader_check(ix->env, &dead);
	rc = mdb_txn_begin(ix->env, NULL, 0, &txn);
	if (rc)
		goto fail;
	if ((rc = open_tables(ix, txn, MDB_CREATE)))
		goto fail;
	rc = mdb_txn_commit(txn);
	txn = NULL;
	if (rc)
		goto fail;
	*out = ix;
	return 0;
fail:
	if (txn)
		mdb_txn_abort(txn);
	return open_failed(ix, dir, rc);
}

int
index_open_frozen(struct index **out, const char *dir)
{
	struct index *ix;
	MDB_txn *txn = NULL;
	struct stat sb;
	char p[4096];
	int rc;

	snprintf(p, sizeof(p), "%s/data.mdb", dir);
	if (stat(p, &sb) < 0)
		return store_seterr(-errno, "could not open the index in '%s': "
		    "%s", dir, strerror(errno));
	/* a map of the file's own size: many views stay cheap */
	if ((rc = env_new(&ix, (size_t)sb.st_size)) < 0)
		return rc;
	rc = mdb_env_open(ix->env, dir, MDB_NOTLS | MDB_RDONLY | MDB_NOLOCK,
	    0400);
	if (rc)
		goto fail;
	rc = mdb_txn_begin(ix->env, NULL, MDB_RDONLY, &txn);
	if (rc == 0 && (rc = open_tables(ix, txn, 0)) != 0)
		mdb_txn_abort(txn);
	else if (rc == 0)
		rc = mdb_txn_commit(txn);	/* keeps the handles */
	if (rc)
		goto fail;
	*out = ix;
	return 0;
fail:
	return open_failed(ix, dir, rc);
}

void
index_close(struct index *ix)
{
	if (!ix)
		return;
	mdb_env_close(ix->env);
	free(ix);
}

int
index_begin(struct index *ix, int rdonly, MDB_txn **txn)
{
	return lmdb_err(mdb_txn_begin(ix->env, NULL,
	    rdonly ? MDB_RDONLY : 0, txn), "begin");
}

int
index_begin_nested(MDB_txn *parent, MDB_txn **txn)
{
	return lmdb_err(mdb_txn_begin(mdb_txn_env(parent), parent, 0, txn),
	    "begin");
}

int
index_commit(MDB_txn *txn)
{
	return lmdb_err(mdb_txn_commit(txn), "commit");
}

uint64_t
index_generation(struct index *ix)
{
	MDB_envinfo info;

	return mdb_env_info(ix->env, &info) == 0 ?
	    (uint64_t)info.me_last_txnid : 0;
}

int
index_sync(struct index *ix)
{
	return lmdb_err(mdb_env_sync(ix->env, 1), "sync");
}

void
index_abort(MDB_txn *txn)
{
	if (txn)
		mdb_txn_abort(txn);
}

int
index_node_get(struct index *ix, MDB_txn *txn, uint64_t ino,
    struct node *out)
{
	MDB_val k = { sizeof(ino), &ino }, v;
	int rc;

	rc = mdb_get(txn, ix->nodes, &k, &v);
	if (rc)
		return lmdb_err(rc, "node");
	if (v.mv_size != sizeof(*out))
		return store_seterr(-EIO, "index: node %llu is damaged",
		    (unsigned long long)ino);
	memcpy(out, v.mv_data, sizeof(*out));
	return 0;
}

static int
note_change(struct index *ix, MDB_txn *txn, uint64_t ino)
{
	uint64_t key[2] = { htobe64((uint64_t)mdb_txn_id(txn)), htobe64(ino) };
	int64_t now = time(NULL);
	MDB_val k = { sizeof(key), key }, v = { sizeof(now), &now };

	return lmdb_err(mdb_put(txn, ix->changes, &k, &v, 0), "change");
}

/*
 * mdb_put, at the table's end while *at_end (MDB_APPEND); the first key
 * that is not past the end clears it and is put the ordinary way.
 */
static int
put_hinted(MDB_txn *txn, MDB_dbi dbi, MDB_val *k, MDB_val *v,
    unsigned flags, int *at_end)
{
	int rc;

	if (at_end && *at_end) {
		if ((rc = mdb_put(txn, dbi, k, v, flags | MDB_APPEND)) !=
		    MDB_KEYEXIST)
			return rc;
		*at_end = 0;
	}
	return mdb_put(txn, dbi, k, v, flags);
}

int
index_node_put(struct index *ix, MDB_txn *txn, uint64_t ino,
    const struct node *n)
{
	return index_node_put_hint(ix, txn, ino, n, NULL);
}

int
index_node_put_hint(struct index *ix, MDB_txn *txn, uint64_t ino,
    const struct node *n, int *at_end)
{
	MDB_val k = { sizeof(ino), &ino }, v = { sizeof(*n), (void *)n };
	int rc = lmdb_err(put_hinted(txn, ix->nodes, &k, &v, 0, at_end),
	    "put node");

	if (rc == 0 && (n->flags & (NODE_MUTABLE | NODE_LIVE)))
		rc = note_change(ix, txn, ino);
	return rc;
}

int
index_note_nodes(struct index *ix, MDB_txn *txn,
    int (*want)(uint64_t ino, const struct node *n), uint64_t *noted)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	*noted = 0;
	if ((rc = mdb_cursor_open(txn, ix->nodes, &cur)) != 0)
		return lmdb_err(rc, "cursor");
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		struct node n;
		uint64_t ino;

		if (k.mv_size != sizeof(ino) || v.mv_size != sizeof(n))
			continue;
		memcpy(&ino, k.mv_data, sizeof(ino));
		memcpy(&n, v.mv_data, sizeof(n));
		if (!want(ino, &n))
			continue;
		if ((rc = note_change(ix, txn, ino)) < 0)
			break;
		(*noted)++;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc < 0 ? rc : lmdb_err(rc, "cursor");
}

int
index_changes(struct index *ix, MDB_txn *txn, uint64_t *since,
    void (*cb)(void *arg, uint64_t ino), void *arg)
{
	uint64_t start[2] = { htobe64(*since + 1), 0 }, key[2];
	MDB_cursor *cur;
	MDB_val k = { sizeof(start), start }, v;
	int rc;

	rc = mdb_cursor_open(txn, ix->changes, &cur);
	if (rc)
		return lmdb_err(rc, "changes");
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	while (rc == 0 && k.mv_size == sizeof(key)) {
		memcpy(key, k.mv_data, sizeof(key));
		cb(arg, be64toh(key[1]));
		*since = be64toh(key[0]);
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	return rc && rc != MDB_NOTFOUND ? lmdb_err(rc, "changes") : 0;
}

int
index_changes_prune(struct index *ix, MDB_txn *txn, int64_t keep)
{
	int64_t old = time(NULL) - keep, when;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	rc = mdb_cursor_open(txn, ix->changes, &cur);
	if (rc)
		return lmdb_err(rc, "changes");
	rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	while (rc == 0) {
		memcpy(&when, v.mv_data, sizeof(when));
		if (when > old)
			break;
		if ((rc = mdb_cursor_del(cur, 0)))
			break;
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	return rc && rc != MDB_NOTFOUND ? lmdb_err(rc, "changes") : 0;
}

static size_t
dirent_key(char *buf, uint64_t dir, const char *name)
{
	uint64_t be = htobe64(dir);
	size_t len = strlen(name);

	memcpy(buf, &be, 8);
	memcpy(buf + 8, name, len);
	return 8 + len;
}

int
index_lookup(struct index *ix, MDB_txn *txn, uint64_t dir, const char *name,
    uint64_t *ino)
{
	char buf[8 + NAME_MAX_BYTES + 1];
	MDB_val k, v;
	int rc;

	if (strlen(name) > NAME_MAX_BYTES)
		return -ENOENT;
	k.mv_size = dirent_key(buf, dir, name);
	k.mv_data = buf;
	rc = mdb_get(txn, ix->dirents, &k, &v);
	if (rc)
		return lmdb_err(rc, "lookup");
	memcpy(ino, v.mv_data, sizeof(*ino));
	return 0;
}

int
index_link(struct index *ix, MDB_txn *txn, uint64_t dir, const char *name,
    uint64_t ino)
{
	return index_link_hint(ix, txn, dir, name, ino, NULL);
}

int
index_link_hint(struct index *ix, MDB_txn *txn, uint64_t dir,
    const char *name, uint64_t ino, int *at_end)
{
	char buf[8 + NAME_MAX_BYTES + 1];
	uint64_t ck[2] = { htobe64(dir), htobe64(ino) };
	MDB_val k, v = { sizeof(ino), &ino };
	int rc;

	if (strlen(name) > NAME_MAX_BYTES)
		return -ENAMETOOLONG;
	k.mv_size = dirent_key(buf, dir, name);
	k.mv_data = buf;
	rc = put_hinted(txn, ix->dirents, &k, &v, MDB_NOOVERWRITE,
	    at_end ? &at_end[0] : NULL);
	if (rc)
		return lmdb_err(rc, "link");
	k.mv_size = sizeof(ck);
	k.mv_data = ck;
	v.mv_size = strlen(name);
	v.mv_data = (void *)name;
	return lmdb_err(put_hinted(txn, ix->children, &k, &v, 0,
	    at_end ? &at_end[1] : NULL), "link");
}

int
index_unlink(struct index *ix, MDB_txn *txn, uint64_t dir, const char *name)
{
	char buf[8 + NAME_MAX_BYTES + 1];
	uint64_t ino, ck[2];
	MDB_val k;
	int rc;

	if ((rc = index_lookup(ix, txn, dir, name, &ino)) < 0)
		return rc;
	k.mv_size = dirent_key(buf, dir, name);
	k.mv_data = buf;
	if ((rc = mdb_del(txn, ix->dirents, &k, NULL)))
		return lmdb_err(rc, "unlink");
	ck[0] = htobe64(dir);
	ck[1] = htobe64(ino);
	k.mv_size = sizeof(ck);
	k.mv_data = ck;
	return lmdb_err(mdb_del(txn, ix->children, &k, NULL), "unlink");
}

int
index_name_of(struct index *ix, MDB_txn *txn, uint64_t dir, uint64_t child,
    char *out)
{
	uint64_t ck[2] = { htobe64(dir), htobe64(child) };
	MDB_val k = { sizeof(ck), ck }, v;
	int rc;

	rc = mdb_get(txn, ix->children, &k, &v);
	if (rc)
		return lmdb_err(rc, "name");
	if (v.mv_size > NAME_MAX_BYTES)
		return -EIO;
	memcpy(out, v.mv_data, v.mv_size);
	out[v.mv_size] = '\0';
	return 0;
}

int
index_list(struct index *ix, MDB_txn *txn, uint64_t dir, uint64_t off,
    index_list_fn cb, void *arg)
{
	uint64_t start[2] = { htobe64(dir), htobe64(off) };
	MDB_cursor *cur;
	MDB_val k = { sizeof(start), start }, v;
	int rc;

	rc = mdb_cursor_open(txn, ix->children, &cur);
	if (rc)
		return lmdb_err(rc, "list");
	/* offsets are child inode numbers: resume after the last one */
	if (off)
		start[1] = htobe64(off + 1);
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	while (rc == 0) {
		uint64_t kk[2];
		char name[NAME_MAX_BYTES + 1];

		if (k.mv_size != sizeof(kk))
			break;
		memcpy(kk, k.mv_data, sizeof(kk));
		if (be64toh(kk[0]) != dir)
			break;
		if (v.mv_size > NAME_MAX_BYTES)
			break;
		memcpy(name, v.mv_data, v.mv_size);
		name[v.mv_size] = '\0';
		if (cb(arg, name, v.mv_size, be64toh(kk[1]), be64toh(kk[1])))
			break;
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	if (rc && rc != MDB_NOTFOUND)
		return lmdb_err(rc, "list");
	return 0;
}

int
index_alloc_ino(struct index *ix, MDB_txn *txn, uint64_t count,
    uint64_t *first)
{
	uint64_t next;
	int rc;

	rc = index_get(ix, txn, TAB_META, "next_ino", &next, sizeof(next));
	if (rc == -ENOENT)
		next = INO_FIRST_FREE;
	else if (rc < 0)
		return rc;
	*first = next;
	next += count;
	return index_put(ix, txn, TAB_META, "next_ino", &next, sizeof(next),
	    0);
}

static MDB_dbi
table_dbi(struct index *ix, enum index_table t)
{
	switch (t) {
	case TAB_ARTIFACT:
		return ix->artifacts;
	case TAB_PROJECT:
		return ix->projects;
	case TAB_RUNS:
		return ix->runs;
	case TAB_ARTINO:
		return ix->artino;
	case TAB_STAGE:
		return ix->stage;
	case TAB_PROMO:
		return ix->promo;
	case TAB_APPROVAL:
		return ix->approval;
	case TAB_WAIVER:
		return ix->waiver;
	case TAB_EVENT:
		return ix->events;
	case TAB_DELIVERY:
		return ix->delivery;
	case TAB_META:
	default:
		return ix->meta;
	}
}

int
index_get(struct index *ix, MDB_txn *txn, enum index_table t,
    const char *key, void *val, size_t len)
{
	MDB_val k = { strlen(key), (void *)key }, v;
	int rc;

	rc = mdb_get(txn, table_dbi(ix, t), &k, &v);
	if (rc)
		return lmdb_err(rc, "get");
	if (v.mv_size != len)
		return store_seterr(-EIO, "index: record '%s' is damaged",
		    key);
	memcpy(val, v.mv_data, len);
	return 0;
}

int
index_put(struct index *ix, MDB_txn *txn, enum index_table t,
    const char *key, const void *val, size_t len, int noovw)
{
	MDB_val k = { strlen(key), (void *)key }, v = { len, (void *)val };

	return lmdb_err(mdb_put(txn, table_dbi(ix, t), &k, &v,
	    noovw ? MDB_NOOVERWRITE : 0), "put");
}

int
index_del_raw(struct index *ix, MDB_txn *txn, enum index_table t,
    const void *key, size_t keylen)
{
	MDB_val k = { keylen, (void *)key };

	return lmdb_err(mdb_del(txn, table_dbi(ix, t), &k, NULL), "delete");
}

int
index_put_raw(struct index *ix, MDB_txn *txn, enum index_table t,
    const void *key, size_t keylen, const void *val, size_t len, int noovw)
{
	return index_put_raw_hint(ix, txn, t, key, keylen, val, len, noovw,
	    NULL);
}

int
index_put_raw_hint(struct index *ix, MDB_txn *txn, enum index_table t,
    const void *key, size_t keylen, const void *val, size_t len, int noovw,
    int *at_end)
{
	MDB_val k = { keylen, (void *)key }, v = { len, (void *)val };

	return lmdb_err(put_hinted(txn, table_dbi(ix, t), &k, &v,
	    noovw ? MDB_NOOVERWRITE : 0, at_end), "put");
}

int
index_get_raw(struct index *ix, MDB_txn *txn, enum index_table t,
    const void *key, size_t keylen, char **val, size_t *len)
{
	MDB_val k = { keylen, (void *)key }, v;
	MDB_txn *own = NULL;
	int rc;

	if (!txn && (rc = index_begin(ix, 1, &own)) < 0)
		return rc;
	rc = mdb_get(txn ? txn : own, table_dbi(ix, t), &k, &v);
	if (rc) {
		rc = lmdb_err(rc, "get");
	} else if (!(*val = malloc(v.mv_size + 1))) {
		rc = -ENOMEM;
	} else {
		memcpy(*val, v.mv_data, v.mv_size);
		(*val)[v.mv_size] = '\0';
		*len = v.mv_size;
	}
	index_abort(own);
	return rc;
}

int
index_last_with_prefix(struct index *ix, MDB_txn *txn, enum index_table t,
    const void *prefix, size_t plen, char **key, size_t *keylen)
{
	unsigned char buf[1024];
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	if (plen + 16 > sizeof(buf))
		return -ENAMETOOLONG;
	/* the first key past every key with this prefix, then one back */
	memcpy(buf, prefix, plen);
	memset(buf + plen, 0xff, 16);
	k.mv_size = plen + 16;
	k.mv_data = buf;
	rc = mdb_cursor_open(txn, table_dbi(ix, t), &cur);
	if (rc)
		return lmdb_err(rc, "scan");
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	if (rc == 0)
		rc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
	else if (rc == MDB_NOTFOUND)
		rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	if (rc == 0 && (k.mv_size < plen || memcmp(k.mv_data, prefix, plen)))
		rc = MDB_NOTFOUND;
	if (rc == 0) {
		*key = malloc(k.mv_size + 1);
		if (!*key) {
			rc = ENOMEM;
		} else {
			memcpy(*key, k.mv_data, k.mv_size);
			*keylen = k.mv_size;
		}
	}
	mdb_cursor_close(cur);
	return lmdb_err(rc, "scan");
}

/*
 * The records from start on (from the first when slen is 0), while their
 * key starts with the first plen bytes of start; cb returns non-zero to
 * stop (a negative value is returned).
 */
static int
walk(struct index *ix, MDB_txn *txn, enum index_table t, const void *start,
    size_t slen, size_t plen, index_iter_fn cb, void *arg, const char *what)
{
	MDB_cursor *cur;
	MDB_val k = { slen, (void *)start }, v;
	int rc, stop = 0;

	rc = mdb_cursor_open(txn, table_dbi(ix, t), &cur);
	if (rc)
		return lmdb_err(rc, what);
	rc = mdb_cursor_get(cur, &k, &v, slen ? MDB_SET_RANGE : MDB_FIRST);
	while (rc == 0 && !stop) {
		if (plen && (k.mv_size < plen ||
		    memcmp(k.mv_data, start, plen)))
			break;
		stop = cb(arg, k.mv_data, k.mv_size, v.mv_data, v.mv_size);
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	if (stop < 0)
		return stop;
	return rc && rc != MDB_NOTFOUND ? lmdb_err(rc, what) : 0;
}

int
index_scan(struct index *ix, MDB_txn *txn, enum index_table t,
    const void *prefix, size_t plen, index_iter_fn cb, void *arg)
{
	return walk(ix, txn, t, prefix, plen, plen, cb, arg, "scan");
}

struct seq_walk {
	int (*cb)(void *arg, uint64_t seq, const char *val, size_t len);
	void *arg;
};

static int
seq_step(void *arg, const char *key, size_t keylen, const void *val,
    size_t vallen)
{
	struct seq_walk *w = arg;
	uint64_t be = 0;

	if (keylen == sizeof(be))
		memcpy(&be, key, sizeof(be));
	return w->cb(w->arg, be64toh(be), val, vallen);
}

int
index_scan_from(struct index *ix, MDB_txn *txn, enum index_table t,
    const void *start, size_t slen,
    int (*cb)(void *arg, uint64_t seq, const char *val, size_t len),
    void *arg)
{
	struct seq_walk w = { cb, arg };

	return walk(ix, txn, t, start, slen, 0, seq_step, &w, "scan");
}

int
index_iter(struct index *ix, MDB_txn *txn, enum index_table t,
    index_iter_fn cb, void *arg)
{
	return walk(ix, txn, t, NULL, 0, 0, cb, arg, "iterate");
}

int
index_queue_push(struct index *ix, MDB_txn *txn, const void *data,
    size_t len, uint64_t *seq)
{
	struct index_part p = { data, len };

	return index_queue_push_parts(ix, txn, &p, 1, seq);
}

int
index_queue_push_parts(struct index *ix, MDB_txn *txn,
    const struct index_part *parts, size_t nparts, uint64_t *seq)
{
	uint64_t next;
	MDB_val k = { sizeof(next), &next }, v = { 0, NULL };
	size_t at = 0;
	int rc;

	for (size_t i = 0; i < nparts; i++)
		v.mv_size += parts[i].len;
	rc = index_get(ix, txn, TAB_META, "next_seq", &next, sizeof(next));
	if (rc == -ENOENT)
		next = 1;
	else if (rc < 0)
		return rc;
	/* the space reserved in the page, filled in place: no copy before */
	rc = lmdb_err(mdb_put(txn, ix->queue, &k, &v, MDB_NOOVERWRITE |
	    MDB_RESERVE), "queue");
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < nparts; i++) {
		if (parts[i].len)
			memcpy((char *)v.mv_data + at, parts[i].data,
			    parts[i].len);
		at += parts[i].len;
	}
	if (seq)
		*seq = next;
	next++;
	return index_put(ix, txn, TAB_META, "next_seq", &next, sizeof(next),
	    0);
}

int
index_queue_from(struct index *ix, MDB_txn *txn, uint64_t from, uint64_t *seq,
    char **data, size_t *len)
{
	MDB_cursor *cur;
	MDB_val k = { sizeof(from), &from }, v;
	int rc;

	rc = mdb_cursor_open(txn, ix->queue, &cur);
	if (rc)
		return lmdb_err(rc, "queue");
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	if (rc == 0) {
		memcpy(seq, k.mv_data, sizeof(*seq));
		if ((*data = malloc(v.mv_size + 1))) {
			memcpy(*data, v.mv_data, v.mv_size);
			(*data)[v.mv_size] = '\0';
			if (len)
				*len = v.mv_size;
		} else {
			rc = ENOMEM;
		}
	}
	mdb_cursor_close(cur);
	return lmdb_err(rc, "queue");
}

int
index_queue_del(struct index *ix, MDB_txn *txn, uint64_t seq)
{
	MDB_val k = { sizeof(seq), &seq };

	return lmdb_err(mdb_del(txn, ix->queue, &k, NULL), "queue");
}

/* The entries numbered upto or lower: counted, or removed (del). */
static int
queue_upto(struct index *ix, MDB_txn *txn, uint64_t upto, int del,
    uint64_t *n)
{
	MDB_cursor *cur;
	MDB_val k, v;
	uint64_t seq;
	int rc;

	*n = 0;
	if ((rc = mdb_cursor_open(txn, ix->queue, &cur)))
		return lmdb_err(rc, "queue");
	/* after a delete, MDB_NEXT gives the entry that followed */
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		memcpy(&seq, k.mv_data, sizeof(seq));
		if (seq > upto || (del && (rc = mdb_cursor_del(cur, 0))))
			break;
		(*n)++;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : lmdb_err(rc, "queue");
}

int
index_queue_del_upto(struct index *ix, MDB_txn *txn, uint64_t upto,
    uint64_t *n)
{
	return queue_upto(ix, txn, upto, 1, n);
}

int
index_queue_count_upto(struct index *ix, MDB_txn *txn, uint64_t upto,
    uint64_t *n)
{
	return queue_upto(ix, txn, upto, 0, n);
}

int
index_queue_count(struct index *ix, MDB_txn *txn, uint64_t *count)
{
	MDB_stat st;
	int rc;

	rc = mdb_stat(txn, ix->queue, &st);
	if (rc)
		return lmdb_err(rc, "queue");
	*count = st.ms_entries;
	return 0;
}

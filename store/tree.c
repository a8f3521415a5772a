/*
 * tree.c - the tree the mount shows: nodes, lookups, listings, paths,
 * and the change log the mount follows.
 */
#define _GNU_SOURCE
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <fcntl.h>
#include <jansson.h>
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
#include "ledger.h"
#include "manifest.h"
#include "safe.h"
#include "store_impl.h"

struct change_list {
	uint64_t *v;
	size_t n, cap;
};

static void
change_add(void *arg, uint64_t ino)
{
	struct change_list *l = arg;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		uint64_t *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = ino;
}

int
store_changes(struct store *st, uint64_t *since, uint64_t **inos, size_t *n)
{
	struct change_list l = { NULL, 0, 0 };
	MDB_txn *txn;
	int rc;

	if ((rc = index_begin(st->ix, 1, &txn)) < 0)
		return rc;
	if (*since == 0) {
		/* the first call only learns where the log stands now */
		*since = (uint64_t)mdb_txn_id(txn);
		index_abort(txn);
		if (inos)
			*inos = NULL;
		if (n)
			*n = 0;
		return 0;
	}
	rc = index_changes(st->ix, txn, since, change_add, &l);
	index_abort(txn);
	*inos = l.v;
	*n = l.n;
	return rc;
}

int
store_changes_prune(struct store *st, int64_t keep)
{
	MDB_txn *txn;
	int rc;

	if ((rc = index_begin(st->ix, 0, &txn)) < 0)
		return rc;
	rc = index_changes_prune(st->ix, txn, keep);
	if (rc < 0) {
		index_abort(txn);
		return rc;
	}
	return index_commit(txn);
}

json_t *
tree_manifest_json(struct store *st, const uint8_t digest[DIGEST_LEN])
{
	char *text;
	size_t len;
	json_t *m;

	if (cas_read_all(st->cas, digest, 64 << 20, &text, &len) < 0)
		return NULL;
	m = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	free(text);
	return m;
}

json_t *
tree_artifact_manifest(struct store *st, MDB_txn *txn, const char *artkey,
    struct art_rec *rec)
{
	struct art_rec r;

	if (index_get(st->ix, txn, TAB_ARTIFACT, artkey, &r, sizeof(r)) < 0)
		return NULL;
	if (rec)
		*rec = r;
	return tree_manifest_json(st, r.manifest);
}

/* -- creating ------------------------------------------------------- */

int
tree_put_node(struct store *st, MDB_txn *txn, uint64_t ino, uint64_t parent,
    const char *name, uint8_t kind, uint8_t flags, uint32_t mode,
    uint64_t size, int64_t mtime, const uint8_t *digest)
{
	return tree_put_node_hint(st, txn, ino, parent, name, kind, flags,
	    mode, size, mtime, digest, NULL);
}

int
tree_put_node_hint(struct store *st, MDB_txn *txn, uint64_t ino,
    uint64_t parent, const char *name, uint8_t kind, uint8_t flags,
    uint32_t mode, uint64_t size, int64_t mtime, const uint8_t *digest,
    int *at_end)
{
	struct node n = { 0 };
	int rc;

	n.kind = kind;
	n.flags = flags;
	n.mode = mode;
	n.size = size;
	n.mtime = mtime;
	n.parent = parent;
	n.nlink = kind == NODE_DIR || kind == NODE_INCOMING ? 2 : 1;
	if (digest)
		memcpy(n.digest, digest, DIGEST_LEN);
	rc = index_node_put_hint(st->ix, txn, ino, &n, at_end);
	if (rc == 0 && name)
		rc = index_link_hint(st->ix, txn, parent, name, ino,
		    at_end ? at_end + 1 : NULL);
	return rc;
}

/* -- the tree, for the mount ---------------------------------------- */

int
store_node_get(struct store *st, uint64_t ino, struct node *out)
{
	MDB_txn *txn;
	int rc;

	if ((rc = index_begin(st->ix, 1, &txn)) < 0)
		return rc;
	rc = index_node_get(st->ix, txn, ino, out);
	index_abort(txn);
	return rc;
}

int
store_node_lookup(struct store *st, uint64_t dir, const char *name,
    uint64_t *ino, struct node *out)
{
	MDB_txn *txn;
	int rc;

	if ((rc = index_begin(st->ix, 1, &txn)) < 0)
		return rc;
	rc = index_lookup(st->ix, txn, dir, name, ino);
	if (rc == 0)
		rc = index_node_get(st->ix, txn, *ino, out);
	index_abort(txn);
	return rc;
}

struct list_ctx {
	struct store *st;
	MDB_txn *txn;
	store_list_fn cb;
	void *arg;
	int rc;
};

static int
list_one(void *arg, const char *name, size_t namelen, uint64_t ino,
    uint64_t next_off)
{
	struct list_ctx *c = arg;
	struct node n;

	(void)namelen;
	c->rc = index_node_get(c->st->ix, c->txn, ino, &n);
	if (c->rc < 0)
		return 1;
	return c->cb(c->arg, name, ino, &n, next_off);
}

int
store_dir_list(struct store *st, uint64_t dir, uint64_t off,
    store_list_fn cb, void *arg)
{
	struct list_ctx c = { st, NULL, cb, arg, 0 };
	int rc;

	if ((rc = index_begin(st->ix, 1, &c.txn)) < 0)
		return rc;
	rc = index_list(st->ix, c.txn, dir, off, list_one, &c);
	index_abort(c.txn);
	return rc < 0 ? rc : c.rc;
}

int
store_node_name(struct store *st, uint64_t dir, uint64_t child, char *out)
{
	MDB_txn *txn;
	int rc;

	if ((rc = index_begin(st->ix, 1, &txn)) < 0)
		return rc;
	rc = index_name_of(st->ix, txn, dir, child, out);
	index_abort(txn);
	return rc;
}

int
store_node_open(struct store *st, const struct node *n, int *fd)
{
	int rc;

	if (n->kind != NODE_FILE && n->kind != NODE_DEP)
		return -EINVAL;
	rc = cas_open_object(st->cas, n->digest, fd);
	/* a view fetches nothing: what was never fetched is not there */
	if (rc == -ENOENT && n->kind == NODE_DEP && st->clock)
		return store_seterr(-ENOENT, "at/: a dependency is read from "
		    "the content store only; read it once in the live tree "
		    "(or relctl fetch) first");
	return rc;
}

int
store_node_readlink(struct store *st, const struct node *n, char **target)
{
	size_t len;

	if (n->kind != NODE_SYMLINK)
		return -EINVAL;
	return cas_read_all(st->cas, n->digest, 4096, target, &len);
}

int
store_resolve(struct store *st, const char *path, uint64_t *ino,
    struct node *out)
{
	char buf[4096], *save = NULL, *comp;
	MDB_txn *txn;
	int rc;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	if ((rc = index_begin(st->ix, 1, &txn)) < 0)
		return rc;
	*ino = INO_ROOT;
	for (comp = strtok_r(buf, "/", &save); comp && rc == 0;
	    comp = strtok_r(NULL, "/", &save))
		rc = index_lookup(st->ix, txn, *ino, comp, ino);
	if (rc == 0)
		rc = index_node_get(st->ix, txn, *ino, out);
	index_abort(txn);
	if (rc == -ENOENT)
		store_seterr(rc, "'%s' does not exist", path);
	return rc;
}

int
store_artifact_key(struct store *st, uint64_t art, char *out)
{
	char *val;
	size_t len;
	int rc = index_get_raw(st->ix, NULL, TAB_ARTINO, &art, sizeof(art),
	    &val, &len);

	if (rc < 0)
		return rc == -ENOENT ? store_seterr(-ENOENT, "no artifact has "
		    "inode %llu", (unsigned long long)art) : rc;
	snprintf(out, 512, "%s", val);
	free(val);
	return 0;
}

int
store_refuse_immutable(const char *what)
{
	return store_seterr(-EROFS, "%s: artifacts are immutable; write new "
	    "artifacts under incoming/", what);
}

int
store_refuse_link(void)
{
	return store_seterr(-EPERM, "link: hard links are made only within "
	    "incoming/; copy the file");
}

int
store_refuse_special(void)
{
	return store_seterr(-EPERM, "mknod: devices, FIFOs and sockets cannot "
	    "be part of an artifact");
}

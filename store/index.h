/*
 * index.h - the LMDB index: the current state every lookup of the mount is
 * served from.
 *
 * The tree is a table of nodes keyed by inode number, plus two directory
 * tables: (parent, name) -> child for lookups and (parent, child) -> name for
 * listings in a stable order that resumes from an offset.  Artifacts,
 * projects, the ledger queue and a few counters have tables of their own.
 * All functions take the caller's transaction, so one change is one
 * transaction.
 */
#ifndef RELFS_INDEX_H
#define RELFS_INDEX_H

#include <lmdb.h>
#include <stdint.h>

#include "util.h"

/* Fixed inode numbers of the top of the tree. */
enum {
	INO_ROOT = 1,
	INO_README = 2,
	INO_INCOMING = 3,
	INO_ARTIFACTS = 4,
	INO_PROJECTS = 5,
	INO_STAGES = 6,
	INO_SCENARIOS = 7,
	INO_RELEASES = 8,
	INO_FIRST_FREE = 1024,
};

enum node_kind {
	NODE_DIR = 1,
	NODE_FILE = 2,		/* bytes in the content store */
	NODE_SYMLINK = 3,	/* target in the content store */
	NODE_INCOMING = 4,	/* the writable staging area */
	NODE_RESULTS = 5,	/* an artifact's results/: STORE/results/<p>/<v> */
	NODE_RUN = 6,		/* a run: rendered from the index on open */
	NODE_DEP = 7,		/* a pinned dependency: fetched on first read */
};

enum node_flags {
	NODE_MUTABLE = 1,	/* may change: never cached by the kernel */
	NODE_VOLATILE = 2,	/* its name may go away or point elsewhere */
	NODE_LIVE = 4,		/* others change it: the kernel asks each time */
};

/* What a node is for, where writes to it mean something. */
enum node_role {
	ROLE_NONE = 0,
	ROLE_STAGE,		/* stages/<s>/ */
	ROLE_STAGE_PROJECT,	/* stages/<s>/<p>/ */
	ROLE_APPROVALS,		/* artifacts/<p>/<v>/approvals/ */
	ROLE_WAIVERS,		/* artifacts/<p>/<v>/waivers/ */
	ROLE_PROJECT_CRITERIA,	/* projects/<p>/criteria/ */
	ROLE_STATUS,		/* artifacts/<p>/<v>/status */
	ROLE_STATUS_JSON,	/* artifacts/<p>/<v>/status.json */
	ROLE_SCENARIO,		/* scenarios/<s>/ */
	ROLE_SCENARIO_CRITERIA,	/* scenarios/<s>/criteria/ */
	ROLE_SCENARIO_STATUS,	/* scenarios/<s>/status */
	ROLE_SCENARIO_STATUS_JSON,
	ROLE_RELEASE,		/* releases/<r>/ */
	ROLE_PARTICIPANTS,	/* releases/<r>/participants/ */
	ROLE_RELEASE_STATUS,	/* releases/<r>/status */
	ROLE_RELEASE_STATUS_JSON,
	ROLE_FROZEN,		/* releases/<r>/frozen/ and all below */
};

/* One node as stored (fixed size, host byte order). */
struct node {
	uint8_t kind;
	uint8_t flags;
	uint8_t role;
	uint8_t reserved;
	uint32_t mode;		/* permission bits only */
	uint64_t size;
	int64_t mtime;
	uint64_t parent;
	uint32_t nlink;
	uint32_t change;	/* bumped by each change of a mutable dir */
	uint8_t digest[DIGEST_LEN];
};

struct index;

/*
 * Open the environment in dir (a directory), or create it when create is
 * set.  An existing index is checked before any page of it is touched: a
 * missing or truncated data file is -EUCLEAN ("index damaged or missing:
 * run relctl rebuild"), never a SIGBUS on the first lookup.
 */
int index_open(struct index **out, const char *dir, int create);
void index_close(struct index *ix);

/*
 * Open an index that is never written again (a view of the past, built
 * once): read-only, without locks, mapped at its file's size, so that one
 * process may hold many of them, and the same one more than once.
 */
int index_open_frozen(struct index **out, const char *dir);

/* Begin a transaction (rdonly != 0 for a read transaction). */
int index_begin(struct index *ix, int rdonly, MDB_txn **txn);
/* A write transaction inside parent: committed into it, or aborted alone. */
int index_begin_nested(MDB_txn *parent, MDB_txn **txn);
/* Commit; on failure the transaction is gone and nothing changed. */
int index_commit(MDB_txn *txn);
/* Make every commit so far survive a power cut (commits alone survive a
 * crash of the process, not of the machine). */
int index_sync(struct index *ix);
void index_abort(MDB_txn *txn);

int index_node_get(struct index *ix, MDB_txn *txn, uint64_t ino,
    struct node *out);
int index_node_put(struct index *ix, MDB_txn *txn, uint64_t ino,
    const struct node *n);

/* Look up name in dir; -ENOENT when absent. */
int index_lookup(struct index *ix, MDB_txn *txn, uint64_t dir,
    const char *name, uint64_t *ino);

/* Remove the entry name from dir (the node stays); -ENOENT. */
int index_unlink(struct index *ix, MDB_txn *txn, uint64_t dir,
    const char *name);

/* The name of child in dir (out: 256 bytes); -ENOENT. */
int index_name_of(struct index *ix, MDB_txn *txn, uint64_t dir,
    uint64_t child, char *out);

/* Add an entry name -> ino to dir; -EEXIST when the name is taken. */
int index_link(struct index *ix, MDB_txn *txn, uint64_t dir,
    const char *name, uint64_t ino);

/*
 * List dir from offset off (0 = start).  cb gets each entry and the offset
 * that resumes after it; a non-zero return from cb stops the listing.
 */
typedef int (*index_list_fn)(void *arg, const char *name, size_t namelen,
    uint64_t ino, uint64_t next_off);
int index_list(struct index *ix, MDB_txn *txn, uint64_t dir, uint64_t off,
    index_list_fn cb, void *arg);

/*
 * Note as changed (for the change log the mount follows) every node for
 * which want says so, without changing it: what a change of the roles
 * shows differently (owners, groups, modes).  *noted counts them.
 */
int index_note_nodes(struct index *ix, MDB_txn *txn,
    int (*want)(uint64_t ino, const struct node *n), uint64_t *noted);

/* Allocate count consecutive inode numbers; *first gets the first. */
int index_alloc_ino(struct index *ix, MDB_txn *txn, uint64_t count,
    uint64_t *first);

/*
 * Small named records: "artifact" (key "p/v"), "project" (key "p"), "meta";
 * "runs" (key: artifact inode, big-endian, test case, NUL, run number,
 * big-endian) and "artino" (key: artifact inode -> "p/v"); "stage" (name ->
 * JSON), "promo" ("stage\0project\0version" -> JSON), "approval" (inode,
 * stage, NUL, uid -> JSON), "waiver" (inode, test case -> JSON), "events"
 * (the outbox: big-endian number -> event JSON), "delivery" (target ->
 * its delivery state).
 */
enum index_table { TAB_ARTIFACT, TAB_PROJECT, TAB_META, TAB_RUNS,
	TAB_ARTINO, TAB_STAGE, TAB_PROMO, TAB_APPROVAL, TAB_WAIVER, TAB_EVENT,
	TAB_DELIVERY };
int index_get(struct index *ix, MDB_txn *txn, enum index_table t,
    const char *key, void *val, size_t len);
int index_put(struct index *ix, MDB_txn *txn, enum index_table t,
    const char *key, const void *val, size_t len, int noovw);

typedef int (*index_iter_fn)(void *arg, const char *key, size_t keylen,
    const void *val, size_t vallen);

/* Delete one record; -ENOENT when absent. */
int index_del_raw(struct index *ix, MDB_txn *txn, enum index_table t,
    const void *key, size_t keylen);

/*
 * The same with binary keys; index_get_raw returns a copy in *val (txn
 * NULL: read in a transaction of its own).
 */
int index_put_raw(struct index *ix, MDB_txn *txn, enum index_table t,
    const void *key, size_t keylen, const void *val, size_t len, int noovw);

/*
 * The same puts for a writer that adds its keys in order (an import's
 * batch, a test case at a time): while *at_end, the put goes at the
 * table's end (MDB_APPEND: no search, and the page before is left full
 * rather than split in half); the first key that is not past the end
 * clears it, and that put and the rest are ordinary.  at_end NULL:
 * ordinary; index_link_hint's two: the name's entry, the listing's.
 */
int index_put_raw_hint(struct index *ix, MDB_txn *txn, enum index_table t,
    const void *key, size_t keylen, const void *val, size_t len, int noovw,
    int *at_end);
int index_node_put_hint(struct index *ix, MDB_txn *txn, uint64_t ino,
    const struct node *n, int *at_end);
int index_link_hint(struct index *ix, MDB_txn *txn, uint64_t dir,
    const char *name, uint64_t ino, int *at_end);
int index_get_raw(struct index *ix, MDB_txn *txn, enum index_table t,
    const void *key, size_t keylen, char **val, size_t *len);

/*
 * The last key that starts with prefix: -ENOENT when none.  *key gets a
 * copy (the caller frees it).
 */
int index_last_with_prefix(struct index *ix, MDB_txn *txn,
    enum index_table t, const void *prefix, size_t plen, char **key,
    size_t *keylen);

/* Every record whose key starts with prefix, in key order. */
int index_scan(struct index *ix, MDB_txn *txn, enum index_table t,
    const void *prefix, size_t plen, index_iter_fn cb, void *arg);

/* Records keyed by big-endian numbers from start on; cb gets the number. */
int index_scan_from(struct index *ix, MDB_txn *txn, enum index_table t,
    const void *start, size_t slen,
    int (*cb)(void *arg, uint64_t seq, const char *val, size_t len),
    void *arg);

/* Iterate one table in key order; cb returns non-zero to stop. */
int index_iter(struct index *ix, MDB_txn *txn, enum index_table t,
    index_iter_fn cb, void *arg);

/*
 * The ledger queue: entries in order, removed once they are in git.  An
 * entry is len bytes (any bytes: outbox.c puts JSON, a NUL, then the
 * files' bytes); what is read back is NUL-terminated, the caller's to free.
 */
int index_queue_push(struct index *ix, MDB_txn *txn, const void *data,
    size_t len, uint64_t *seq);

/* The same, the entry's bytes given in parts, laid end to end once. */
struct index_part {
	const void *data;
	size_t len;
};
int index_queue_push_parts(struct index *ix, MDB_txn *txn,
    const struct index_part *parts, size_t nparts, uint64_t *seq);
/* The first entry numbered from or later, or -ENOENT. */
int index_queue_from(struct index *ix, MDB_txn *txn, uint64_t from,
    uint64_t *seq, char **data, size_t *len);
int index_queue_del(struct index *ix, MDB_txn *txn, uint64_t seq);
int index_queue_count(struct index *ix, MDB_txn *txn, uint64_t *count);
/* The entries numbered upto or lower, *n of them: removed, or counted. */
int index_queue_del_upto(struct index *ix, MDB_txn *txn, uint64_t upto,
    uint64_t *n);
int index_queue_count_upto(struct index *ix, MDB_txn *txn, uint64_t upto,
    uint64_t *n);

/*
 * The change log: every write of a mutable node notes its inode under the
 * transaction's id, so a daemon can tell the kernel what changed, whoever
 * changed it.  cb gets each inode changed in a transaction after *since;
 * *since moves to the newest transaction seen.
 */
int index_changes(struct index *ix, MDB_txn *txn, uint64_t *since,
    void (*cb)(void *arg, uint64_t ino), void *arg);
/* Forget changes older than keep seconds. */
int index_changes_prune(struct index *ix, MDB_txn *txn, int64_t keep);

/* The last committed write transaction's id: it moves with every change. */
uint64_t index_generation(struct index *ix);


#endif

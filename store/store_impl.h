/*
 * store_impl.h - what the modules of store/ share about a store.  Not for
 * fs/ or tools/: they use store.h.
 */
#ifndef RELFS_STORE_IMPL_H
#define RELFS_STORE_IMPL_H

#include <jansson.h>
#include <pthread.h>

#include "cas.h"
#include "index.h"
#include "ledger.h"
#include "store.h"

struct store {
	char *path;
	char *incoming;
	struct index *ix;
	struct cas *cas;
	struct ledger *lg;
	pthread_mutex_t ledger_mu;
	uid_t owner;		/* of the store's directory: every role */
	gid_t owner_gid;
	int lockfd;
	int logfd;
	int usefd;		/* use.lock: shared, or alone for a rebuild */
	int daemonfd;		/* daemon.lock, held by the mount's daemon */
	/* the daemon writes the ledger from a thread of its own */
	int async;
	pthread_t worker;
	pthread_mutex_t work_mu;
	pthread_cond_t work_cond;
	int work_pending, work_stop;
	int work_now;		/* a kick that asks for no gathering */
	pthread_cond_t done_cond;	/* a drain moved ledger_done */
	/* what the ledger thread wrote leaves the queue on another (outbox.c) */
	int dequeuing, dequeue_stop;
	pthread_t dequeuer;
	pthread_cond_t dequeue_cond;
	uint64_t dequeue_want, dequeued;	/* up to which change */
	/* the daemon merges packs in a thread of its own (outbox.c) */
	int merging;
	pthread_t merger;
	pthread_cond_t merge_cond;
	int merge_want;
	int merge_batches;	/* batches written since the last one asked */
	/* group commit of runs: writers queue, one of them commits for all */
	pthread_mutex_t runs_mu;
	pthread_cond_t runs_cond;
	struct run_add *runs_pending;
	int runs_busy;
	/* called first by store_close: what a module above left running */
	void (*on_close)(struct store *st);
	/* sizes of statuses rendered, for stat (status.c) */
	pthread_mutex_t size_mu;
	struct size_memo *sizes;
	/*
	 * A view of the past (view.c): the time it stands for, which every
	 * evaluation takes as now (0: a live store, now is the clock's).
	 */
	int64_t clock;
	/* the ledger read for at/ (view.c), beside the writers' own */
	pthread_mutex_t past_mu;
	struct ledger *past;
	pthread_mutex_t view_mu;	/* a view being built (view.c) */
	/* where the change log stood at store_open (0: not watched) */
	uint64_t opened_at;
};

/* The time an evaluation takes as now: the clock's, or a view's. */
int64_t store_now(const struct store *st);

/* What the index keeps per artifact (TAB_ARTIFACT, key "p/v"). */
struct art_rec {
	uint64_t ino;
	uint8_t manifest[DIGEST_LEN];
};

/* The manifest with this digest, parsed; NULL when it cannot be read. */
json_t *tree_manifest_json(struct store *st, const uint8_t digest[DIGEST_LEN]);

/*
 * An artifact's manifest by key ("p/v"), parsed, and its record into rec
 * when rec is set; NULL when there is no such artifact or it cannot be read.
 */
json_t *tree_artifact_manifest(struct store *st, MDB_txn *txn,
    const char *artkey,
    struct art_rec *rec);

/* Add a node (and its directory entry when name is set). */
int tree_put_node(struct store *st, MDB_txn *txn, uint64_t ino, uint64_t parent,
    const char *name, uint8_t kind, uint8_t flags, uint32_t mode,
    uint64_t size, int64_t mtime, const uint8_t *digest);
/* The same, its three puts hinted (index_put_raw_hint): node, name, listing. */
int tree_put_node_hint(struct store *st, MDB_txn *txn, uint64_t ino,
    uint64_t parent, const char *name, uint8_t kind, uint8_t flags,
    uint32_t mode, uint64_t size, int64_t mtime, const uint8_t *digest,
    int *at_end);

/* Queue one ledger commit writing files ([{path, sha256}]). */
int outbox_queue(struct store *st, MDB_txn *txn,
    const struct store_user *who, int64_t when, const char *message,
    json_t *files);

/*
 * The same for files that name their bytes in raw (rawlen bytes) with
 * "raw": [offset, length] instead of "data", giving the change's number.
 */
int outbox_queue_raw(struct store *st, MDB_txn *txn,
    const struct store_user *who, int64_t when, const char *message,
    json_t *files, const char *raw, size_t rawlen, uint64_t *seq);

/*
 * Wait until change seq is in the ledger, at most max_ms: 0, or
 * -ETIMEDOUT (the change stays queued).
 */
int outbox_wait_done(struct store *st, uint64_t seq, int max_ms);

/* The same, with annotated tags ([{name, message}]) on the commit. */
int outbox_queue_tags(struct store *st, MDB_txn *txn,
    const struct store_user *who, int64_t when, const char *message,
    json_t *files, json_t *tags);

/*
 * Append {path, raw} to a ledger file list for outbox_queue_raw: its bytes
 * are len bytes at off of the raw buffer given there.  0, or -ENOMEM.
 */
int outbox_add_raw(json_t *files, const char *path, size_t off, size_t len);

/* Append {path, sha256} to a ledger file list. */
void outbox_add_file(json_t *files, const char *path,
    const uint8_t d[DIGEST_LEN]);

/* Write queued ledger commits now, or wake the ledger thread. */
void outbox_kick(struct store *st);
/* The same for a change big enough alone: no quarter second gathering. */
void outbox_kick_now(struct store *st);
/*
 * Write the ledger on a thread of its own from now on (the daemon's, and
 * an import's: the next batch is read while the last is written).
 */
int outbox_worker_start(struct store *st);

/* A run's index record, unpacked in place (pointers into the record). */
struct run_summary {
	int pass;
	int outcome;		/* RESULT_PASS, _FAIL, _ERROR or _SKIP */
	int64_t time;
	const char *str[4];	/* pod, installer, scenario, platform */
	size_t len[4];
	const char *json;
	size_t jsonlen;
};

/* What the index keeps of a run beside its JSON. */
struct run_head {
	int outcome;		/* RESULT_PASS, ... */
	int64_t time;
	const char *str[4];	/* the run's run_head_keys, or NULL */
};

/* The run fields a head keeps: pod, installer, scenario, platform. */
extern const char *const run_head_keys[4];

/* room: bytes more to allocate, for JSON still to be added at the end */
int run_pack(json_t *run, const char *json, size_t room, char **out,
    size_t *len);
/*
 * The same from the head (run_pack takes it from the run's fields), and
 * jl bytes of JSON: json's, or (json NULL) left for the caller to write
 * at the end, *len - jl bytes into *out.
 */
int run_pack_head(const struct run_head *h, const char *json, size_t jl,
    size_t room, char **out, size_t *len);
int run_unpack(const char *rec, size_t len, struct run_summary *s);

/* Runs: insert one (results.c), the nodes an artifact needs for them. */
int runs_insert(struct store *st, MDB_txn *txn, uint64_t art,
    const char *artkey, json_t *run, json_t *files, uint64_t *no);

/* Where a run goes: its artifact, number, node and test case's dir. */
struct run_place {
	uint64_t art, no, ino, tc_ino;
	const char *tc;
	int64_t now;
};

/*
 * The pieces of runs_insert, for an import that keeps what they look up:
 * the next number of a test case's runs, its directory (made when missing,
 * its inode from *next when given), the run's record (run_pack's) and
 * node (size: the length of the file the mount renders), and the
 * directory's time moved.
 */
int runs_next_no(struct store *st, MDB_txn *txn, uint64_t art,
    const char *tc, uint64_t *no);
int runs_dir_ensure(struct store *st, MDB_txn *txn, uint64_t dir,
    const char *name, int64_t now, uint64_t *next, uint64_t *ino);
int runs_put(struct store *st, MDB_txn *txn, const struct run_place *at,
    const char *packed, size_t packed_len, uint64_t size);
/*
 * runs_put's two halves, for an import that makes each in the order of
 * its table (index_put_raw_hint): the run's record, then its node.
 */
int runs_put_record(struct store *st, MDB_txn *txn, const struct run_place *at,
    const char *packed, size_t packed_len, int *at_end);
int runs_put_node(struct store *st, MDB_txn *txn, const struct run_place *at,
    uint64_t size, int *at_end);
int runs_dir_touch(struct store *st, MDB_txn *txn, uint64_t dir,
    int64_t now);

/*
 * A run as the mount shows it, from what the index or the ledger keeps of
 * it: the whole run, or (an import's) only what cannot be derived again,
 * {"record", "recorded", "run", "uid", "user"}, whose other fields
 * result_run makes from the record.  A new reference, or NULL.
 */
json_t *run_complete(json_t *run);

/*
 * The length of the file the mount shows for run: counted, or (render)
 * by rendering it; 0 when out of memory.
 */
size_t run_text_len(json_t *run, int render);

struct run_view;

/*
 * The same, counted, for the run result_run makes of rec (v: its view),
 * with stamp's members and "run": no added, without making it.
 */
size_t run_view_text_len(const struct run_view *v, json_t *rec,
    json_t *stamp, json_int_t no);
int runs_nodes(struct store *st, MDB_txn *txn, uint64_t art,
    int64_t created);

/*
 * At close: stop the downloads of st (their parts are kept for a resume)
 * and wait for them, and for those verified, to be stored (fetch.c).
 */
void fetch_deps_settle(struct store *st);

/* deps/ of an artifact: one node per pin (fetch.c). */
int fetch_deps_nodes(struct store *st, MDB_txn *txn, uint64_t art, json_t *m,
    int64_t created);

/*
 * An event with the fields of extra (may be NULL) and the string pairs
 * that follow: key, value, ..., NULL.
 */
int event_named(struct store *st, MDB_txn *txn, const char *type,
    const struct store_user *who, int64_t when, json_t *extra, ...);
/* The outbox (events.c): an event in the caller's transaction. */
int event_emit(struct store *st, MDB_txn *txn, const char *type,
    const struct store_user *who, int64_t when, json_t *fields);
int event_artifact(struct store *st, MDB_txn *txn, const char *type,
    const struct store_user *who, int64_t when, const char *artkey,
    json_t *extra);

/* Note that an artifact belongs to a scenario (publish, rebuild). */
int members_note(struct store *st, MDB_txn *txn,
    const char *scenario, const char *artkey);

/* Evaluate every stage for an artifact inside the caller's transaction. */
int promote_eval_in(struct store *st, MDB_txn *txn, uint64_t art,
    const char *artkey, const struct store_user *who, int64_t now);

/* Rebuild stages, criteria, approvals, waivers and promotions from the
 * ledger's files (paths and contents), inside the rebuild transaction. */
int rebuild_stages(struct store *st, MDB_txn *txn, char **paths,
    char **texts, size_t *lens, const int64_t *times, size_t n);

/* Is name writable in a directory of this role (access.c)? */
int access_name_ok(uint8_t role, const char *name);

/* config.json from the ledger into the index (access.c). */
int access_rebuild(struct store *st, MDB_txn *txn, const char *text,
    size_t len);

/* -- shared by the store's own modules ------------------------------ */

/* STORE/relfs.log opened for appending (log.c): its descriptor, or -1. */
int log_open(struct store *st);

/* The generated files of an artifact, stored before its transaction. */
struct art_blobs {
	uint8_t manifest[DIGEST_LEN], pins[DIGEST_LEN], props[DIGEST_LEN];
	uint64_t manifest_len, pins_len, props_len;
};

/* store.c */
int store_take_use_lock(struct store *st, int alone);
/* Does a daemon hold STORE/daemon.lock (it writes the ledger)? */
int store_daemon_running(struct store *st);
int store_open_parts(struct store *st, int create);
struct store *store_alloc(const char *path);
int store_insert_root(struct store *st, MDB_txn *txn, int64_t now);

/* outbox.c */
/* gather: leave less than a full batch for the next kick (ledger_worker) */
int outbox_drain(struct store *st, int wait, int gather);

/* rebuild.c: fill st's new index from its ledger (HEAD, or its pin). */
int rebuild_index(struct store *st, uint64_t *artifacts);
/* replay.c: split "a/b/c" into at most max parts, in place: how many. */
int replay_split_path(char *buf, char **part, int max);
struct ctx;
/* The inode of artifact p/v (artkey, 600 bytes, gets "p/v"). */
int replay_art_ino(struct ctx *c, const char *p, const char *v,
    uint64_t *ino, char *artkey);
/*
 * The promotions among the n state files of a rebuild, replayed in the
 * order of their changes' times (promoted, restored, revoked).
 */
int replay_promotions(struct ctx *c, char **paths, char **texts,
    size_t *lens, size_t n);

/* publish.c */
int publish_prepare_blobs(struct store *st, json_t *m, const char *text,
    size_t len, struct art_blobs *b);
int publish_insert_artifact(struct store *st, MDB_txn *txn, json_t *m,
    const struct art_blobs *b, int64_t created, int *new_project);

#endif

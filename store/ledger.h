/*
 * ledger.h - the git ledger: a bare repository written with libgit2.
 *
 * Every change of state is recorded on refs/heads/main by the Unix user
 * who caused it.  Within a batch the changes of one user that follow each
 * other are one commit (a tagged change, another user or 2,000 changes end
 * it): a single change's commit reads as it always did ("<what>", then the
 * trailers "Relfs-Seq: N" and "Relfs-Uid: U"); a commit of several says
 * "<first> (and K more changes)" and lists every change as "<N> <what>",
 * with the trailers Relfs-Changes, Relfs-First-Seq and Relfs-Seq (the
 * last).  Relfs-Seq is the newest queue entry a commit holds, so replaying
 * the queue after a crash never commits twice.  A tag points at the
 * commit that ends with its change.
 *
 * Callers name files by their logical paths (artifacts/<p>/<v>/...,
 * runs/<p>/<v>/<tc>/<n>.json: as the mount shows them); the ledger keeps
 * them where its layout says (fanout.h; store.json "format").  The tree
 * holds what is needed to rebuild the index.  Callers serialise writers
 * (store.c holds a lock file around them).
 */
#ifndef RELFS_LEDGER_H
#define RELFS_LEDGER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util.h"

struct ledger;

/* One blob to add or replace at a path of the tree. */
struct ledger_change {
	const char *path;
	const void *data;
	size_t len;
	int remove;		/* delete path instead */
};

/* An annotated tag to create on the new commit. */
struct ledger_tag {
	const char *name;
	const char *message;
};

/* Create a bare repository at path whose HEAD is refs/heads/main. */
int ledger_init(const char *path);

int ledger_open(struct ledger **out, const char *path);
void ledger_close(struct ledger *lg);

/*
 * Record changes (and tags) on top of HEAD as who, at when: in a batch,
 * into the batch's open commit (see above); outside one, as a commit of
 * its own.  Not yet durable: ledger_sync() makes every commit so far
 * survive power loss.
 */
int ledger_commit(struct ledger *lg, const struct ledger_change *changes,
    size_t nchanges, const struct ledger_tag *tags, size_t ntags,
    const struct store_user *who, int64_t when, const char *message,
    uint64_t seq);

/*
 * A batch of commits: their objects are kept in memory and written as one
 * packfile by ledger_batch_end, which then moves HEAD and the tags.
 */
int ledger_batch_begin(struct ledger *lg);
int ledger_batch_end(struct ledger *lg);
void ledger_batch_abort(struct ledger *lg);

/* Make everything written to the ledger durable (one syncfs). */
int ledger_sync(struct ledger *lg);

/*
 * Merge the small packs once there are more than max_packs (geometrically,
 * as git repack --geometric=2 does); the merged pack is synced before the
 * old ones go.  A merge takes packs of at most max_bytes together (0: no
 * bound; at least two packs are merged).  Returns how many packs were
 * merged (0: nothing to do) or -errno.  LEDGER_TIDY_PACKS is the usual
 * bound; writers under load leave it for an idle moment, up to
 * LEDGER_TIDY_MAX_PACKS, and the idle merge goes in steps of at most
 * LEDGER_TIDY_STEP bytes (packs too big for a step stay as they are until
 * there are more than LEDGER_TIDY_MAX_PACKS), so that a writer who comes
 * back waits for one step at most.
 */
#define LEDGER_TIDY_PACKS 16
#define LEDGER_TIDY_MAX_PACKS 256
#define LEDGER_TIDY_STEP (512 << 10)
int ledger_tidy(struct ledger *lg, size_t max_packs, off_t max_bytes);

/*
 * The daemon's merge, in three steps so that the ledger is held only for
 * the first and the last: ledger_merge_plan (under the ledger's lock)
 * picks the packs a geometric merge without a bound on its size takes,
 * once there are more than min_packs (1, or 0 with nothing to do);
 * ledger_merge_write (without the lock, from any thread: it opens the
 * repository for itself) writes and syncs their merged pack, and stops
 * with -ECANCELED once cancel(arg) says so; ledger_merge_finish (under the
 * lock again) removes the merged packs and returns how many went.  The
 * packs are never written again once written, so reading them beside the
 * ledger's writes is safe; one that went meanwhile (relctl merged it) makes
 * the write fail, and nothing changes.
 */
struct ledger_merge;
int ledger_merge_plan(struct ledger *lg, size_t min_packs,
    struct ledger_merge **out);
int ledger_merge_write(struct ledger_merge *m, int (*cancel)(void *),
    void *arg);
int ledger_merge_finish(struct ledger *lg, struct ledger_merge *m);
off_t ledger_merge_bytes(const struct ledger_merge *m);
/*
 * lg's repository reads the pack directory again: a pack written since is
 * searched first, so that it answers for packs a merge removes next.
 */
void ledger_refresh(struct ledger *lg);
void ledger_merge_free(struct ledger_merge *m);

/*
 * Move a ledger of an older layout to the newest (one commit that moves
 * every file, by who at when, in the current batch or one of its own);
 * 0 at once when it is in the newest already.
 */
int ledger_migrate(struct ledger *lg, const struct store_user *who,
    int64_t when);

/* The layout the ledger's paths are in (fanout.h). */
int ledger_format(const struct ledger *lg);

/* The Relfs-Seq of HEAD, 0 when the ledger has no commit. */
int ledger_last_seq(struct ledger *lg, uint64_t *seq);

/* Read the blob at (logical) path in HEAD; -ENOENT when absent. */
int ledger_read(struct ledger *lg, const char *path, char **buf,
    size_t *len);

/*
 * Call cb for every blob of HEAD's tree with its logical path, in the
 * order of the paths the ledger keeps (not the logical order); -EINVAL for
 * a file the layout cannot hold.
 */
typedef int (*ledger_walk_fn)(void *arg, const char *path, const char *data,
    size_t len);
int ledger_walk(struct ledger *lg, ledger_walk_fn cb, void *arg);
/* The same with the paths alone (data NULL, len 0): no blob is read. */
int ledger_walk_paths(struct ledger *lg, ledger_walk_fn cb, void *arg);

/*
 * What changed in HEAD since commit since (an id, a tag, HEAD~3...: it
 * must be HEAD or in its history): every commit since and its tree hash as
 * they say, every file added or changed too; cb gets each file's logical
 * path (removed: it went).  *commits counts the commits since.
 */
typedef int (*ledger_since_fn)(void *arg, const char *path, int removed);
int ledger_since(struct ledger *lg, const char *since, ledger_since_fn cb,
    void *arg, uint64_t *commits);

/*
 * The past (ledger_at.c).  ledger_find: the commit <when> names, as
 * at/<when>/ of the mount takes it:
 *  - an ISO-8601 UTC time (2026-11-28T10:00:00Z): the newest commit made
 *    at or before it (-ENOENT before the first one, or in the future);
 *  - a commit id of HEAD's history, 7 to 40 hex digits (-ENOENT when it
 *    names none, or more than one);
 *  - a tag: promote/<stage>/<project>/<version> or release/<release>.
 * id gets the commit's 40 hex digits; *at the time the view stands for
 * (the time given, or the commit's own).
 */
int ledger_find(struct ledger *lg, const char *when, char id[41],
    int64_t *at);

/* From now on every read sees commit id (40 hex digits), not HEAD. */
int ledger_pin(struct ledger *lg, const char *id);

/*
 * The names one level below prefix ("" or "promote/daily", no slash at
 * its ends) that tags under ledger_find's prefixes have, sorted, each
 * once.  When prefix/name is a whole tag, id and at are what ledger_find
 * would give for it (its commit, the commit's time); for a level, id is
 * NULL.
 */
typedef int (*ledger_name_fn)(void *arg, const char *name, const char *id,
    int64_t at);
int ledger_tag_names(struct ledger *lg, const char *prefix,
    ledger_name_fn cb, void *arg);

/*
 * When each file of HEAD's tree (the pinned commit's) under the top-level
 * names under[] last changed: cb gets (path, the time of a commit that
 * changed it) newest first, so the first call for a path is its time; a
 * path may come again, older.  A move to another layout changes no file.
 */
typedef int (*ledger_time_fn)(void *arg, const char *path, int64_t when);
int ledger_file_times(struct ledger *lg, const char *const *under,
    size_t nunder, ledger_time_fn cb, void *arg);

/* Number of commits reachable from HEAD. */
int ledger_count(struct ledger *lg, uint64_t *count);

/*
 * Run `git fsck --strict` on the repository.  0 when clean; otherwise -EIO
 * and *report (the caller frees it) holds what git said.
 */
int ledger_fsck(const char *path, char **report);

/* The same in two halves: started, then waited for (meanwhile: other work). */
struct ledger_fsck {
	pid_t pid;
	int fd;
	char path[4096];
};
int ledger_fsck_start(const char *path, struct ledger_fsck *out);
int ledger_fsck_wait(struct ledger_fsck *f, char **report);

#endif

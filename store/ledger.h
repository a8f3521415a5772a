/*
 * ledger.h - the git ledger: a bare repository written with libgit2.
 *
 * Every change of state is one commit on refs/heads/main whose author and
 * committer are the Unix user who caused it.  The tree holds what is needed
 * to rebuild the index (artifacts/<p>/<v>/manifest.json, ...).  Each commit
 * carries a "Relfs-Seq: N" trailer, the number of the index queue entry it
 * records, so replaying the queue after a crash never commits twice.
 * Callers serialise writers (store.c holds a lock file around them).
 */
#ifndef RELFS_LEDGER_H
#define RELFS_LEDGER_H

#include <stddef.h>
#include <stdint.h>

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
 * Commit changes (and tags) on top of HEAD as who, at when.  Not yet
 * durable: ledger_sync() makes every commit so far survive power loss.
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
 * LEDGER_TIDY_MAX_PACKS, and the idle merge goes in steps of
 * LEDGER_TIDY_STEP bytes, so that a writer who comes back waits for one
 * step at most.
 */
#define LEDGER_TIDY_PACKS 16
#define LEDGER_TIDY_MAX_PACKS 256
#define LEDGER_TIDY_STEP (2 << 20)
int ledger_tidy(struct ledger *lg, size_t max_packs, off_t max_bytes);

/* The Relfs-Seq of HEAD, 0 when the ledger has no commit. */
int ledger_last_seq(struct ledger *lg, uint64_t *seq);

/* Read the blob at path in HEAD; -ENOENT when absent. */
int ledger_read(struct ledger *lg, const char *path, char **buf,
    size_t *len);

/* Call cb for every blob of HEAD's tree, in path order. */
typedef int (*ledger_walk_fn)(void *arg, const char *path, const char *data,
    size_t len);
int ledger_walk(struct ledger *lg, ledger_walk_fn cb, void *arg);

/* Number of commits reachable from HEAD. */
int ledger_count(struct ledger *lg, uint64_t *count);

/*
 * Run `git fsck --strict` on the repository.  0 when clean; otherwise -EIO
 * and *report (the caller frees it) holds what git said.
 */
int ledger_fsck(const char *path, char **report);

#endif

/*
 * ledger_impl.h - what the ledger's modules (ledger*.c) share: the
 * ledger's state and its libgit2 error helper.  Not for the rest of store/.
 */
#ifndef RELFS_LEDGER_IMPL_H
#define RELFS_LEDGER_IMPL_H

#include <git2.h>

#include "ledger.h"

/*
 * A tag of a batch: its object is written to disk with the references,
 * since a mempack dump keeps commits and what they reach, not tags.
 */
struct pending_tag {
	char *name;
	char *message;
	git_oid target;
	git_signature *tagger;
};

struct ledger {
	git_repository *repo;
	char *path;
	/* a batch: objects go to memory, written as one pack at its end */
	git_repository *brepo;
	git_odb_backend *mp;
	git_oid tip;
	int have_tip;
	struct pending_tag *ptags;
	size_t nptags;
	git_oid *objs;		/* every object the batch wrote */
	size_t nobjs, capobjs;
	int format;		/* the layout of its paths (fanout.h) */
	/* ledger_pin: reads see this commit, not HEAD; nothing is written */
	git_oid pin;
	int pinned;
	/* the batch's open commit: changes of one user (ledger_write.c) */
	struct group_up *gups;
	size_t ngups, capgups, gcount;
	struct store_user gwho;
	int64_t gwhen;
	uint64_t gfirst, glast;
	char *gsubject, *gbody;
	size_t gbodylen, gbodycap;
};


/* -EIO with libgit2's last error after what (e.g. "commit"). */
int ledger_git_fail(const char *what);

/* HEAD's commit (the batch's repository's, in a batch); -ENOENT: none. */
int ledger_head_commit(struct ledger *lg, git_commit **out);

/* Read the layout of the commit reads see from its store.json. */
int ledger_read_format(struct ledger *lg);

/* Forget a batch: its objects in memory, its pending tags. */
void ledger_batch_free(struct ledger *lg);

/* ledger_write.c, for ledger_layout.c: */
/* Keep an object the batch wrote, for its pack. */
int ledger_batch_keep(struct ledger *lg, const git_oid *oid);
/*
 * The objects ids names (nids, some maybe twice), read from from, as one
 * new pack of the ledger (ledger_packfile.c).  0, or < 0 with the message set.
 */
int ledger_pack_write(struct ledger *lg, git_odb *from, const git_oid *ids,
    size_t nids);
/* Commit the batch's open commit (tags on it); nothing when it is empty. */
int ledger_group_flush(struct ledger *lg, const struct ledger_tag *tags,
    size_t ntags);
/* The commit and tree a new commit goes on (the batch's tip, or HEAD's). */
int ledger_group_base(struct ledger *lg, git_commit **parent,
    git_tree **base);
/* A commit of tree on the batch's tip as who; tags go on it. */
int ledger_commit_tree(struct ledger *lg, git_commit *parent, git_tree *tree,
    const struct store_user *who, int64_t when, const char *msg,
    const struct ledger_tag *tags, size_t ntags);
/* The end of a batch a call began for itself: written, or dropped (rc). */
int ledger_own_batch_end(struct ledger *lg, int rc);

#endif

/*
 * ledger_impl.h - what ledger.c shares with ledger_pack.c: the ledger's
 * state and its libgit2 error helper.  Not for the rest of store/.
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
	git_config *bcfg;	/* a batch's settings (batch_config) */
	int format;		/* the layout of its paths (fanout.h) */
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

/* Forget a batch: its objects in memory, its pending tags. */
void ledger_batch_free(struct ledger *lg);

#endif

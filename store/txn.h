/*
 * txn.h - a change in the making (txn.c): one LMDB write transaction, who
 * makes it and when, and the helpers every module of the release model
 * writes with: nodes of the tree, records of the index, files of the
 * ledger, the stages' records and events.  Below every such module.
 */
#ifndef RELFS_TXN_H
#define RELFS_TXN_H

#include <jansson.h>

#include "store_impl.h"

struct ctx {
	struct store *st;
	MDB_txn *txn;
	const struct store_user *who;
	int64_t now;
	int depth;
	/* an evaluation as if (store_what_if): more runs, other criteria */
	const struct promote_whatif *whatif;
};

/* What store_what_if adds to an evaluation (promote.c reads it). */
struct promote_whatif {
	const struct crit_run *runs;	/* as if recorded now */
	size_t nruns;
	json_t *criteria;		/* the stage's, or NULL: as they are */
	int without_waivers;
	int ignore_revoked;		/* decide as if it was never revoked */
};

/*
 * Begin a change by who; txn_finish commits it (rc 0) or aborts it. When
 * the begin fails, txn_finish(c, rc) is still the way out (nothing to abort).
 */
int txn_begin(struct ctx *c, struct store *st, const struct store_user *who);
int txn_finish(struct ctx *c, int rc);

/* -- the tree -- */
void txn_bump(struct node *n, int64_t now);
int txn_touch_dir(struct ctx *c, uint64_t dir, int dnlink);
/* A directory dir/name with a role, made when missing. */
int txn_ensure_dir(struct ctx *c, uint64_t dir, const char *name,
    uint8_t role, uint32_t mode, uint64_t *ino);
/* A file dir/name with these bytes, changed in place or made. */
int txn_put_text(struct ctx *c, uint64_t dir, const char *name,
    const char *text, size_t len, uint8_t flags);
/* A symbolic link dir/name -> target, replacing what the name was. */
int txn_put_link(struct ctx *c, uint64_t dir, const char *name,
    const char *target);

/* -- records of the index, files of the ledger -- */
char *txn_json_text(json_t *j, size_t *len);
void txn_add_data(json_t *files, const char *path, const char *data,
    size_t len);
void txn_add_removal(json_t *files, const char *path);
json_t *txn_get_json(struct ctx *c, enum index_table t, const void *key,
    size_t klen);
int txn_put_json(struct ctx *c, enum index_table t, const void *key,
    size_t klen, json_t *j);
size_t txn_stage_key(char *buf, const char *stage);
size_t txn_projcrit_key(char *buf, const char *project, const char *stage);
size_t txn_promo_key(char *buf, const char *stage, const char *artkey);
json_t *txn_stage_rec(struct ctx *c, const char *stage);
json_t *txn_promo_rec(struct ctx *c, const char *stage, const char *artkey);
/* "<prefix>by", "<prefix>uid", "<prefix>at" of who, now. */
void txn_who_json(json_t *j, const char *prefix, const struct store_user *who,
    int64_t now);
/* buf without the white space around it, as a string (NULL: empty). */
char *txn_trimmed(const char *buf, size_t len);

/* -- stages -- */
struct stage_list {
	char **names;
	size_t n;
};

/* The names of all stages into l (txn_stage_list_free frees them). */
int txn_stage_names(struct store *st, MDB_txn *txn, struct stage_list *l);
void txn_stage_list_free(struct stage_list *l);
/*
 * Put l in pipeline order: a stage after the one its "after" names, ties
 * by name (l as txn_stage_names gives it).
 */
int txn_stage_order(struct ctx *c, struct stage_list *l);
/*
 * The stages a stage's record names as "after" (one, or a list: every one
 * must hold an artifact first), at most max into names; how many there are.
 */
size_t txn_stage_afters(json_t *srec, const char **names, size_t max);
/* Does the stage of srec come after stage (one of its "after")? */
int txn_stage_is_after(json_t *srec, const char *stage);
int txn_stage_dir(struct ctx *c, const char *stage, uint64_t *ino);
/* An event about a stage (and an artifact, when artkey is not NULL). */
int txn_stage_event(struct ctx *c, const char *type, const char *stage,
    const char *artkey, json_t *extra);

#endif

/*
 * stage_impl.h - what stage.c shares with release.c (scenarios and
 * umbrella releases): a change's context, index and ledger helpers, and the
 * gathering of an artifact's inputs for evaluation.
 */
#ifndef RELFS_STAGE_IMPL_H
#define RELFS_STAGE_IMPL_H

#include <jansson.h>

#include "crit.h"
#include "store_impl.h"

struct ctx {
	struct store *st;
	MDB_txn *txn;
	const struct store_user *who;
	int64_t now;
	int depth;
};

struct stage_list {
	char **names;
	size_t n;
};

struct gather {
	json_t *keep;		/* owns the strings the arrays point into */
	struct crit_run *runs;
	size_t nruns, caprun;
	struct crit_approval *approvals;
	size_t napprovals;
	struct crit_waiver *waivers;
	size_t nwaivers;
};

void bump(struct node *n, int64_t now);
int touch_dir(struct ctx *c, uint64_t dir, int dnlink);
int ensure_dir(struct ctx *c, uint64_t dir, const char *name, uint8_t role,
    uint32_t mode, uint64_t *ino);
int put_text(struct ctx *c, uint64_t dir, const char *name, const char *text,
    size_t len, uint8_t flags);
int put_link(struct ctx *c, uint64_t dir, const char *name, const char *target);
char *json_text(json_t *j, size_t *len);
void add_data(json_t *files, const char *path, const char *data, size_t len);
void add_removal(json_t *files, const char *path);
json_t *get_json(struct ctx *c, enum index_table t, const void *key,
    size_t klen);
int put_json(struct ctx *c, enum index_table t, const void *key, size_t klen,
    json_t *j);
json_t *stage_rec(struct ctx *c, const char *stage);
json_t *promo_rec(struct ctx *c, const char *stage, const char *artkey);
void who_json(json_t *j, const char *prefix, const struct store_user *who,
    int64_t now);
int chg_begin(struct ctx *c, struct store *st, const struct store_user *who);
int chg_finish(struct ctx *c, int rc);
/* The names of all stages into l (stage_list_free frees them). */
int stage_names(struct store *st, MDB_txn *txn, struct stage_list *l);
void stage_list_free(struct stage_list *l);
char *trimmed(const char *buf, size_t len);
int gather_run(void *arg, const char *key, size_t keylen, const void *val,
    size_t vallen);
void gather_free(struct gather *g);
/* The scenario the artifact's manifest names ("" for none) into out. */
int artifact_scenario(struct ctx *c, const char *artkey, char *out,
    size_t len);
int decide(struct ctx *c, uint64_t art, const char *artkey, const char *stage,
    json_t *srec, json_t **decision);
int stage_dir(struct ctx *c, const char *stage, uint64_t *ino);
int update_latest(struct ctx *c, const char *stage, const char *project,
    uint64_t pdir);
int eval_artifact(struct ctx *c, uint64_t art, const char *artkey);

/* Scenarios and releases (release.c). */
json_t *scenario_criteria(struct ctx *c, const char *scenario,
    const char *stage);
int scenario_link_update(struct ctx *c, const char *scenario,
    const char *stage, const char *project);
int eval_scenario(struct ctx *c, const char *scenario);
int crit_score(const int *pass, size_t n);
int release_freeze_due(struct store *st);
/* -EROFS (with a message) when the release is frozen. */
int release_frozen(struct store *st, const char *release);
int release_rebuild_one(struct ctx *c, int pass, char **part, int n,
    const char *text, size_t len);

#endif

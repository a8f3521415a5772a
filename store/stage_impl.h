/*
 * stage_impl.h - what the modules of the release model share: a change's
 * context and records (txn.c), stages (stage.c), evaluation and promotion
 * (promote.c), approvals and waivers (approval.c), status (status.c), the
 * write router (route.c), their rebuild (rebuild.c) and scenarios and
 * umbrella releases (release.c).
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

void txn_bump(struct node *n, int64_t now);
int txn_touch_dir(struct ctx *c, uint64_t dir, int dnlink);
int txn_ensure_dir(struct ctx *c, uint64_t dir, const char *name, uint8_t role,
    uint32_t mode, uint64_t *ino);
int txn_put_text(struct ctx *c, uint64_t dir, const char *name,
    const char *text,
    size_t len, uint8_t flags);
int txn_put_link(struct ctx *c, uint64_t dir, const char *name,
    const char *target);
char *txn_json_text(json_t *j, size_t *len);
void txn_add_data(json_t *files, const char *path, const char *data,
    size_t len);
void txn_add_removal(json_t *files, const char *path);
json_t *txn_get_json(struct ctx *c, enum index_table t, const void *key,
    size_t klen);
int txn_put_json(struct ctx *c, enum index_table t, const void *key,
    size_t klen,
    json_t *j);
json_t *txn_stage_rec(struct ctx *c, const char *stage);
json_t *txn_promo_rec(struct ctx *c, const char *stage, const char *artkey);
void txn_who_json(json_t *j, const char *prefix, const struct store_user *who,
    int64_t now);
int txn_begin(struct ctx *c, struct store *st, const struct store_user *who);
int txn_finish(struct ctx *c, int rc);
/* The names of all stages into l (stage_list_free frees them). */
int stage_names(struct store *st, MDB_txn *txn, struct stage_list *l);
void stage_list_free(struct stage_list *l);
char *txn_trimmed(const char *buf, size_t len);
int promote_gather_run(void *arg, const char *key, size_t keylen,
    const void *val,
    size_t vallen);
void promote_gather_free(struct gather *g);
/* The scenario the artifact's manifest names ("" for none) into out. */
int promote_artifact_scenario(struct ctx *c, const char *artkey, char *out,
    size_t len);
int promote_decide(struct ctx *c, uint64_t art, const char *artkey,
    const char *stage,
    json_t *srec, json_t **decision);
int stage_dir(struct ctx *c, const char *stage, uint64_t *ino);
int promote_update_latest(struct ctx *c, const char *stage, const char *project,
    uint64_t pdir);
int promote_eval_artifact(struct ctx *c, uint64_t art, const char *artkey);

/* Shared between the modules of stages and promotion. */
/* txn.c */
size_t txn_projcrit_key(char *buf, const char *project, const char *stage);
size_t txn_promo_key(char *buf, const char *stage, const char *artkey);
size_t txn_stage_key(char *buf, const char *stage);

/* stage.c */
const char *stage_after_of(json_t *srec);
int stage_event(struct ctx *c, const char *type, const char *stage,
    const char *artkey, json_t *extra);

/* promote.c */
int promote_eval_all(struct ctx *c, const char *stage);
int promote_eval_stage(struct ctx *c, uint64_t art, const char *artkey,
    const char *stage, json_t **decision);

/* approval.c: the approvals file of an artifact, one line each */
struct approvals_text {
	char *buf;
	size_t len, cap;
};
int approval_line(void *arg, const char *key, size_t keylen, const void *val,
    size_t vallen);

/* Scenarios and releases alike (entity.c). */
struct entity {
	const char *kind;	/* "scenario", "release" */
	const char *ledger;	/* "scenarios", "releases" */
	const char *fmt;	/* record key */
	uint64_t top;
	uint8_t role, sub_role, status_role, status_json_role;
	const char *sub;
};

extern const struct entity scenario_entity, release_entity;

/* entity.c */
json_t *entity_rec_get(struct ctx *c, const char *fmt, const char *a,
    const char *b);
size_t entity_pair_key(char *buf, char tag, const char *a, const char *b);
int entity_create(struct store *st, const struct entity *e, const char *name,
    const struct store_user *who);
int entity_save(struct ctx *c, const struct entity *e, const char *name,
    json_t *rec, json_t *doc, const char *text, size_t len, json_t *files);
int entity_rec_put(struct ctx *c, json_t *j, const char *fmt, const char *a,
    const char *b);
void entity_ledger_record(json_t *files, const char *kind, const char *name,
    json_t *rec);
int entity_set_role(struct ctx *c, uint64_t dir, const char *name,
    uint8_t role);
int entity_nodes(struct ctx *c, const struct entity *e, const char *name);

/* scenario.c */
int scenario_dir(struct ctx *c, const char *scenario, uint64_t *ino);

/* release.c */
int release_dir(struct ctx *c, const char *release, uint64_t *ino);

/* Scenarios and releases (scenario.c, release.c). */
json_t *scenario_criteria(struct ctx *c, const char *scenario,
    const char *stage);
int scenario_link_update(struct ctx *c, const char *scenario,
    const char *stage, const char *project);
int scenario_eval(struct ctx *c, const char *scenario);
int release_freeze_due(struct store *st);
/* -EROFS (with a message) when the release is frozen. */
int release_frozen(struct store *st, const char *release);
int rebuild_release_one(struct ctx *c, int pass, char **part, int n,
    const char *text, size_t len);

#endif

/*
 * stage_impl.h - what the modules of the release model share above a
 * change's context and records (txn.h): stages (stage.c), evaluation and
 * promotion (promote.c), approvals and waivers (approval.c), status
 * (status.c), the write router (route.c), their rebuild (rebuild.c), a
 * scenario's members (members.c), scenarios and umbrella releases
 * (entity.c, scenario.c, release.c).
 */
#ifndef RELFS_STAGE_IMPL_H
#define RELFS_STAGE_IMPL_H

#include <jansson.h>

#include "crit.h"
#include "store_impl.h"
#include "txn.h"

struct gather {
	json_t *keep;		/* owns the strings the arrays point into */
	struct crit_run *runs;
	size_t nruns, caprun;
	struct crit_approval *approvals;
	size_t napprovals;
	struct crit_waiver *waivers;
	size_t nwaivers;
};

/* -- promote.c -- */
int promote_gather_run(void *arg, const char *key, size_t keylen,
    const void *val, size_t vallen);
void promote_gather_free(struct gather *g);
/* The scenario the artifact's manifest names ("" for none) into out. */
int promote_artifact_scenario(struct ctx *c, const char *artkey, char *out,
    size_t len);
int promote_decide(struct ctx *c, uint64_t art, const char *artkey,
    const char *stage, json_t *srec, json_t **decision);
int promote_update_latest(struct ctx *c, const char *stage, const char *project,
    uint64_t pdir);
int promote_eval_artifact(struct ctx *c, uint64_t art, const char *artkey);

int promote_eval_all(struct ctx *c, const char *stage);
/* Promote what soaks and waiver expiries due now allow; *next: when next. */
int promote_wake(struct store *st, int64_t *next);
int promote_eval_stage(struct ctx *c, uint64_t art, const char *artkey,
    const char *stage, json_t **decision);

/* approval.c: the approvals file of an artifact, one line each */
struct approvals_text {
	char *buf;
	size_t len, cap;
};
int approval_line(void *arg, const char *key, size_t keylen, const void *val,
    size_t vallen);

/* -- members.c: a scenario's artifacts, criteria layer and links -- */
int members_dir(struct ctx *c, const char *scenario, uint64_t *ino);
json_t *members_criteria(struct ctx *c, const char *scenario,
    const char *stage);
int members_link_update(struct ctx *c, const char *scenario,
    const char *stage, const char *project);
int members_each(struct ctx *c, const char *scenario,
    int (*fn)(struct ctx *, uint64_t, const char *, void *), void *arg);
/*
 * The version of project newest promoted to stage (and not revoked) in the
 * scenario, or in any when scenario is NULL; -ENOENT when there is none.
 */
int members_newest_promoted(struct ctx *c, const char *scenario,
    const char *stage, const char *project, char *version);

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

/* release.c */
int release_dir(struct ctx *c, const char *release, uint64_t *ino);

/* Scenarios and releases (scenario.c, release.c). */
int scenario_eval(struct ctx *c, const char *scenario);
int release_freeze_due(struct store *st);
/* -EROFS (with a message) when the release is frozen. */
int release_frozen(struct store *st, const char *release);
int rebuild_release_one(struct ctx *c, int pass, char **part, int n,
    const char *text, size_t len);

#endif

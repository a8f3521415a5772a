/*
 * members.c - a scenario's members: the artifacts that name it (noted at
 * publish), its criteria layer for a stage, and the links
 * scenarios/<s>/<stage>/<project> to the newest promoted member.  Below
 * promotion, which keeps the links up to date.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "formats.h"
#include "stage_impl.h"

/* -- scenarios ------------------------------------------------------ */

int
members_note(struct store *st, MDB_txn *txn, const char *scenario,
    const char *artkey)
{
	char key[800];

	if (!scenario || !*scenario)
		return 0;
	return index_put_raw(st->ix, txn, TAB_STAGE, key,
	    entity_pair_key(key, 'm', scenario, artkey), "", 0, 0);
}

int
members_dir(struct ctx *c, const char *scenario, uint64_t *ino)
{
	return index_lookup(c->st->ix, c->txn, INO_SCENARIOS, scenario, ino);
}

json_t *
members_criteria(struct ctx *c, const char *scenario, const char *stage)
{
	json_t *r, *crit;

	if (!scenario || !*scenario)
		return NULL;
	r = entity_rec_get(c, "x:%s/%s", scenario, stage);
	crit = json_incref(json_object_get(r, "criteria"));
	json_decref(r);
	return crit;
}

struct member_ctx {
	struct ctx *c;
	const char *scenario;
	int rc;
	int (*fn)(struct ctx *c, uint64_t art, const char *artkey, void *arg);
	void *arg;
	size_t plen;
};

static int
member_one(void *arg, const char *key, size_t keylen, const void *val,
    size_t vallen)
{
	struct member_ctx *m = arg;
	char artkey[600];
	struct art_rec rec;

	(void)val;
	(void)vallen;
	snprintf(artkey, sizeof(artkey), "%.*s", (int)(keylen - m->plen),
	    key + m->plen);
	if (index_get(m->c->st->ix, m->c->txn, TAB_ARTIFACT, artkey, &rec,
	    sizeof(rec)) < 0)
		return 0;
	m->rc = m->fn(m->c, rec.ino, artkey, m->arg);
	return m->rc < 0 ? m->rc : 0;
}

/* Call fn for every artifact of a scenario. */
int
members_each(struct ctx *c, const char *scenario,
    int (*fn)(struct ctx *, uint64_t, const char *, void *), void *arg)
{
	struct member_ctx m = { c, scenario, 0, fn, arg, 0 };
	char prefix[400];
	int rc;

	m.plen = entity_pair_key(prefix, 'm', scenario, NULL);
	rc = index_scan(c->st->ix, c->txn, TAB_STAGE, prefix, m.plen,
	    member_one, &m);
	return rc < 0 ? rc : m.rc;
}

/* The newest promotion to a stage of a project, for a scenario or any. */
struct newest_sc {
	const char *scenario;
	char version[300];
	int64_t at;
};

static int
newest_in_scenario(void *arg, const char *key, size_t keylen,
    const void *val, size_t vallen)
{
	struct newest_sc *n = arg;
	json_t *j = json_loadb(val, vallen, JSON_REJECT_DUPLICATES, NULL);
	const char *s = json_string_value(json_object_get(j, "scenario"));
	int64_t at = time_parse_iso(json_string_value(json_object_get(j,
	    "at")));

	(void)key;
	(void)keylen;
	if (j && (!n->scenario || (s && strcmp(s, n->scenario) == 0)) &&
	    !json_object_get(j, "revoked") && at >= n->at) {
		n->at = at;
		snprintf(n->version, sizeof(n->version), "%s",
		    json_string_value(json_object_get(j, "version")));
	}
	json_decref(j);
	return 0;
}

int
members_newest_promoted(struct ctx *c, const char *scenario, const char *stage,
    const char *project, char *version)
{
	struct newest_sc n = { scenario, "", -1 };
	char prefix[800];
	size_t plen = (size_t)snprintf(prefix, sizeof(prefix), "%s%c%s%c",
	    stage, 0, project, 0);
	int rc = index_scan(c->st->ix, c->txn, TAB_PROMO, prefix, plen,
	    newest_in_scenario, &n);

	if (rc < 0)
		return rc;
	if (!n.version[0])
		return -ENOENT;
	snprintf(version, 300, "%s", n.version);
	return 0;
}

static int
any_entry(void *arg, const char *name, size_t namelen, uint64_t ino,
    uint64_t next_off)
{
	(void)name;
	(void)namelen;
	(void)ino;
	(void)next_off;
	*(int *)arg = 1;
	return 1;
}

/*
 * scenarios/<s>/<stage>/, made when missing: its name is volatile (never
 * cached by the kernel), since its last link takes it along.
 */
static int
stage_dir(struct ctx *c, uint64_t sdir, const char *stage, uint64_t *gdir)
{
	struct node n;
	int rc;

	if (index_lookup(c->st->ix, c->txn, sdir, stage, gdir) == 0)
		return 0;
	if ((rc = txn_ensure_dir(c, sdir, stage, ROLE_NONE, 0555, gdir)) < 0 ||
	    (rc = index_node_get(c->st->ix, c->txn, *gdir, &n)) < 0)
		return rc;
	n.flags |= NODE_VOLATILE;
	return index_node_put(c->st->ix, c->txn, *gdir, &n);
}

/*
 * scenarios/<s>/<stage>/ is there while it holds a link: its last one
 * takes it along, so the tree is the same whichever order the promotions
 * and revokes came in (a rebuild replays them in another).
 */
static int
link_remove(struct ctx *c, uint64_t sdir, const char *stage,
    const char *project)
{
	struct node n;
	uint64_t gdir;
	int rc, any = 0;

	if (index_lookup(c->st->ix, c->txn, sdir, stage, &gdir) < 0)
		return 0;
	rc = index_unlink(c->st->ix, c->txn, gdir, project);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0 || (rc = index_list(c->st->ix, c->txn, gdir, 0, any_entry,
	    &any)) < 0)
		return rc;
	/*
	 * A directory made before its name was volatile may be in the
	 * kernel's cache for long: that one stays (as it always did).
	 */
	if (any || index_node_get(c->st->ix, c->txn, gdir, &n) < 0 ||
	    !(n.flags & NODE_VOLATILE))
		return txn_touch_dir(c, gdir, 0);
	if ((rc = index_unlink(c->st->ix, c->txn, sdir, stage)) < 0)
		return rc;
	return txn_touch_dir(c, sdir, -1);
}

int
members_link_update(struct ctx *c, const char *scenario, const char *stage,
    const char *project)
{
	char version[300], target[800];
	uint64_t sdir, gdir;
	int rc;

	if (!scenario || !*scenario || members_dir(c, scenario, &sdir) < 0)
		return 0;	/* no such scenario (yet): nothing to show */
	rc = members_newest_promoted(c, scenario, stage, project, version);
	if (rc == -ENOENT)
		return link_remove(c, sdir, stage, project);
	if (rc < 0 || (rc = stage_dir(c, sdir, stage, &gdir)) < 0)
		return rc;
	snprintf(target, sizeof(target), "../../../artifacts/%s/%s", project,
	    version);
	return txn_put_link(c, gdir, project, target);
}

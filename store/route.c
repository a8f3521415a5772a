/*
 * route.c - writes through the mount: which file of the index a write,
 * a removal or a mkdir goes to, and who may make it.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "formats.h"
#include "safe.h"
#include "stage_impl.h"

struct target {
	uint8_t role;
	uint64_t dir;
	char stage[256];	/* ROLE_STAGE, ROLE_STAGE_PROJECT */
	char project[256];	/* ROLE_STAGE_PROJECT, ROLE_PROJECT_CRITERIA */
	uint64_t art;		/* ROLE_APPROVALS, ROLE_WAIVERS */
};

static int
target_of(struct store *st, uint64_t dir, struct target *t)
{
	struct node n, p;
	MDB_txn *txn;
	int rc;

	memset(t, 0, sizeof(*t));
	t->dir = dir;
	if ((rc = index_begin(st->ix, 1, &txn)) < 0)
		return rc;
	if ((rc = index_node_get(st->ix, txn, dir, &n)) < 0)
		goto out;
	t->role = n.role;
	switch (n.role) {
	case ROLE_STAGE:
		rc = index_name_of(st->ix, txn, INO_STAGES, dir, t->stage);
		break;
	case ROLE_STAGE_PROJECT:
		rc = index_name_of(st->ix, txn, n.parent, dir, t->project);
		if (rc == 0)
			rc = index_name_of(st->ix, txn, INO_STAGES, n.parent,
			    t->stage);
		break;
	case ROLE_PROJECT_CRITERIA:
		rc = index_node_get(st->ix, txn, n.parent, &p);
		if (rc == 0)
			rc = index_name_of(st->ix, txn, INO_PROJECTS, n.parent,
			    t->project);
		break;
	case ROLE_APPROVALS:
	case ROLE_WAIVERS:
		t->art = n.parent;
		break;
	case ROLE_SCENARIO:
		rc = index_name_of(st->ix, txn, INO_SCENARIOS, dir, t->project);
		break;
	case ROLE_SCENARIO_CRITERIA:
		rc = index_name_of(st->ix, txn, INO_SCENARIOS, n.parent,
		    t->project);
		break;
	case ROLE_RELEASE:
		rc = index_name_of(st->ix, txn, INO_RELEASES, dir, t->stage);
		break;
	case ROLE_PARTICIPANTS:
		rc = index_name_of(st->ix, txn, INO_RELEASES, n.parent,
		    t->stage);
		break;
	default:
		break;
	}
out:
	index_abort(txn);
	return rc;
}

/* The role that writing name in a directory of this kind needs. */
static enum store_role
ctl_role(uint8_t role)
{
	return role == ROLE_APPROVALS || role == ROLE_WAIVERS ?
	    STORE_ROLE_APPROVER : STORE_ROLE_MANAGER;
}

int
store_ctl_writable(struct store *st, uint64_t dir, const char *name,
    const struct store_user *who)
{
	struct target t;
	char what[400];
	int rc = target_of(st, dir, &t);

	if (rc < 0)
		return rc;
	if (t.role == ROLE_FROZEN)
		return store_seterr(-EROFS, "a frozen release never changes");
	/* refused at open: a frozen release never changes */
	if ((t.role == ROLE_RELEASE || t.role == ROLE_PARTICIPANTS) &&
	    (rc = release_frozen(st, t.stage)) < 0)
		return rc;
	if (!access_name_ok(t.role, name))
		return store_seterr(-EROFS, "'%s' cannot be written here",
		    name);
	snprintf(what, sizeof(what), "writing '%s'", name);
	if ((rc = store_may(st, who, ctl_role(t.role), what)) < 0)
		return rc;
	switch (t.role) {
	case ROLE_APPROVALS:
	case ROLE_WAIVERS:
		return name_check(name, t.role == ROLE_WAIVERS ? "test case" :
		    "stage");
	case ROLE_PARTICIPANTS:
		return name_check(name, "scenario");
	default:
		return 0;
	}
}

int
store_node_writable(struct store *st, uint64_t ino, const struct node *n,
    const char *what, const struct store_user *who, char *name)
{
	int rc = -EROFS;

	if (n->kind == NODE_FILE && (n->flags & NODE_MUTABLE) &&
	    (rc = store_node_name(st, n->parent, ino, name)) == 0)
		rc = store_ctl_writable(st, n->parent, name, who);
	return rc == 0 || rc == -EACCES ? rc : store_refuse_immutable(what);
}

int
store_node_truncate(struct store *st, uint64_t ino, const struct node *n,
    uint64_t size, const struct store_user *who)
{
	char name[NAME_MAX_BYTES + 1];

	if (size != 0 || n->role != ROLE_NONE)
		return store_refuse_immutable("setattr");
	return store_node_writable(st, ino, n, "setattr", who, name);
}

int
store_ctl_write(struct store *st, uint64_t dir, const char *name,
    const char *buf, size_t len, const struct store_user *who)
{
	struct target t;
	char stage[256];
	int rc;

	/* who's role is checked by the function the bytes go to */
	if ((rc = store_ctl_writable(st, dir, name, NULL)) < 0 ||
	    (rc = target_of(st, dir, &t)) < 0)
		return rc;
	switch (t.role) {
	case ROLE_STAGE:
		if (strcmp(name, "hold") == 0)
			return store_hold(st, t.stage, buf, len, who);
		return store_criteria_set(st, t.stage, buf, len, who);
	case ROLE_APPROVALS:
		return store_approve(st, t.art, name, buf, len, who);
	case ROLE_WAIVERS:
		return store_waive(st, t.art, name, buf, len, who);
	case ROLE_PROJECT_CRITERIA:
		snprintf(stage, sizeof(stage), "%.*s", (int)strlen(name) - 5,
		    name);
		return store_project_criteria_set(st, t.project, stage, buf,
		    len, who);
	case ROLE_SCENARIO_CRITERIA:
		snprintf(stage, sizeof(stage), "%.*s", (int)strlen(name) - 5,
		    name);
		return store_scenario_criteria_set(st, t.project, stage, buf,
		    len, who);
	case ROLE_SCENARIO:
		return store_scenario_set(st, t.project, buf, len, who);
	case ROLE_RELEASE:
		return store_release_set(st, t.stage, buf, len, who);
	case ROLE_PARTICIPANTS:
		return store_participant_add(st, t.stage, name, buf, len, who);
	default:
		return store_seterr(-EROFS, "'%s' cannot be written here",
		    name);
	}
}

int
store_ctl_remove(struct store *st, uint64_t dir, const char *name,
    const struct store_user *who)
{
	struct target t;
	int rc = target_of(st, dir, &t);

	if (rc < 0)
		return rc;
	switch (t.role) {
	case ROLE_STAGE:
		if (strcmp(name, "hold") == 0)
			return store_release(st, t.stage, who);
		break;
	case ROLE_STAGE_PROJECT:
		if (strcmp(name, "latest") != 0)
			return store_revoke(st, t.stage, t.project, name, who);
		break;
	case ROLE_WAIVERS:
		return store_waiver_withdraw(st, t.art, name, who);
	case ROLE_APPROVALS:
		return store_approval_withdraw(st, t.art, name, NULL, who);
	case ROLE_PARTICIPANTS:
		return store_participant_withdraw(st, t.stage, name, who);
	case ROLE_FROZEN:
		return store_seterr(-EROFS, "a frozen release never changes");
	default:
		break;
	}
	return store_seterr(-EROFS, "'%s' cannot be removed: what relfs "
	    "records is never erased", name);
}

int
store_ctl_rmdir(struct store *st, uint64_t dir, const char *name,
    const struct store_user *who)
{
	if (dir == INO_STAGES)
		return store_stage_remove(st, name, who);
	return store_refuse_immutable("rmdir");
}

int
store_ctl_mkdir(struct store *st, uint64_t dir, const char *name,
    const struct store_user *who)
{
	if (dir == INO_STAGES)
		return store_stage_create(st, name, who);
	if (dir == INO_SCENARIOS)
		return store_scenario_create(st, name, who);
	if (dir == INO_RELEASES)
		return store_release_create(st, name, who);
	return store_seterr(-EROFS, "mkdir '%s': only stages/<stage>, "
	    "scenarios/<scenario> and releases/<release> can be made", name);
}

#define CTL_MAX (1 << 20)	/* bytes of a file written into the index */

int
store_ctl_close(struct store *st, uint64_t dir, const char *name, int fd,
    const struct store_user *who)
{
	char *buf = NULL;
	size_t len = 0;
	int rc = safe_read_fd(fd, CTL_MAX + 1, name, &buf, &len);

	if (rc == 0 && len > CTL_MAX)
		rc = store_seterr(-EINVAL, "'%s' is larger than %d bytes", name,
		    CTL_MAX);
	else if (rc == 0)
		rc = store_ctl_write(st, dir, name, buf, len, who);
	free(buf);
	return rc < 0 ? store_prefixerr(rc, "%s", name) : 0;
}

/*
 * access.c - who may do what.  Three roles, each held by the members of
 * the Unix groups the store's configuration maps it to: ci (publish, write
 * results), approver (approvals, waivers) and manager (stages, criteria,
 * holds, revokes, restores, scenarios, releases).  A role mapped to no
 * group is held by the store's owner (the owner of the store's directory);
 * root holds every role.  Only the owner and root change the mapping.
 *
 * The configuration is {"roles": {"ci": [{"group": NAME, "gid": N}, ...],
 * ...}} in the index (meta "config") and in the ledger (config.json);
 * gids are resolved when it is set, so a check reads no group database.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store_impl.h"

static const char *const role_names[STORE_NROLES] = {
	"ci", "approver", "manager"
};

const char *
store_role_name(enum store_role r)
{
	return (unsigned)r < STORE_NROLES ? role_names[r] : "?";
}

int
store_role_parse(const char *name)
{
	for (int r = 0; r < STORE_NROLES; r++)
		if (strcmp(name, role_names[r]) == 0)
			return r;
	return store_seterr(-EINVAL, "unknown role '%s' (the roles are ci, "
	    "approver and manager)", name);
}

/* The configuration in txn, or an empty one. */
static json_t *
config_in(struct store *st, MDB_txn *txn)
{
	char *val = NULL;
	size_t len;
	json_t *c = NULL;

	if (index_get_raw(st->ix, txn, TAB_META, "config", 6, &val, &len) == 0)
		c = json_loadb(val, len, JSON_REJECT_DUPLICATES, NULL);
	free(val);
	if (!json_is_object(c)) {
		json_decref(c);
		c = json_pack("{s:{}}", "roles");
	}
	return c;
}

int
store_config_get(struct store *st, json_t **out)
{
	MDB_txn *txn;
	int rc;

	if ((rc = index_begin(st->ix, 1, &txn)) < 0)
		return rc;
	*out = config_in(st, txn);
	index_abort(txn);
	return *out ? 0 : -ENOMEM;
}

/* The groups of role r in a configuration: an array, maybe empty. */
static json_t *
role_groups(json_t *config, enum store_role r)
{
	json_t *g = json_object_get(json_object_get(config, "roles"),
	    role_names[r]);

	return json_is_array(g) ? g : NULL;
}

static int
member(const struct store_user *who, gid_t gid)
{
	if (who->gid == gid)
		return 1;
	for (int i = 0; i < who->ngroups; i++)
		if (who->groups[i] == gid)
			return 1;
	return 0;
}

static void
owner_name(struct store *st, char *out, size_t len)
{
	struct store_user o;

	store_user_from_uid(&o, st->owner, st->owner_gid);
	snprintf(out, len, "%s", o.name);
}

/* Does who hold role r under this configuration (root aside)? */
static int
holds(struct store *st, json_t *config, const struct store_user *who,
    enum store_role r)
{
	json_t *groups = role_groups(config, r), *g;
	size_t i;

	if (json_array_size(groups) == 0)
		return who->uid == st->owner;
	json_array_foreach(groups, i, g)
		if (member(who, (gid_t)json_integer_value(json_object_get(g,
		    "gid"))))
			return 1;
	return 0;
}

/* Who holds role r, for a refusal's message. */
static void
holders_text(struct store *st, json_t *config, enum store_role r, char *out,
    size_t len)
{
	json_t *groups = role_groups(config, r), *g;
	size_t i, used;
	char owner[64];

	if (json_array_size(groups) == 0) {
		owner_name(st, owner, sizeof(owner));
		snprintf(out, len, "the store's owner (%s) and root: the role "
		    "is mapped to no group (relctl config)", owner);
		return;
	}
	used = (size_t)snprintf(out, len, "members of group");
	json_array_foreach(groups, i, g)
		if (used < len)
			used += (size_t)snprintf(out + used, len - used,
			    "%s %s", i ? "," : "", json_string_value(
			    json_object_get(g, "group")));
	if (used < len)
		snprintf(out + used, len - used, " and root");
}

int
store_may(struct store *st, const struct store_user *who, enum store_role r,
    const char *what)
{
	char holders[512];
	json_t *config;
	int rc;

	if (!who || who->uid == 0)
		return 0;
	if ((rc = store_config_get(st, &config)) < 0)
		return rc;
	/* the message only for a refusal: a check is on every write */
	if (holds(st, config, who, r)) {
		json_decref(config);
		return 0;
	}
	holders_text(st, config, r, holders, sizeof(holders));
	json_decref(config);
	return store_seterr(-EACCES, "permission denied: %s needs the '%s' "
	    "role, held by %s; %s (uid %u) does not hold it", what,
	    role_names[r], holders, who->name, (unsigned)who->uid);
}

int
store_config_set(struct store *st, enum store_role r,
    const char *const *groups, size_t n, const struct store_user *who)
{
	char owner[64], msg[1024], *text = NULL;
	json_t *config = NULL, *list = json_array(), *files = json_array();
	json_t *ev = NULL;
	int64_t now = time(NULL);
	uint8_t d[DIGEST_LEN];
	MDB_txn *txn = NULL;
	size_t used;
	int rc = 0;

	if ((unsigned)r >= STORE_NROLES)
		return store_seterr(-EINVAL, "unknown role");
	if (who && who->uid != 0 && who->uid != st->owner) {
		owner_name(st, owner, sizeof(owner));
		rc = store_seterr(-EACCES, "permission denied: only the store's "
		    "owner (%s) and root change its configuration; %s (uid "
		    "%u) is neither", owner, who->name, (unsigned)who->uid);
		goto out;
	}
	used = (size_t)snprintf(msg, sizeof(msg), "config: role %s is held by ",
	    role_names[r]);
	for (size_t i = 0; i < n; i++) {
		struct group gr, *res = NULL;
		char buf[16384];

		if (getgrnam_r(groups[i], &gr, buf, sizeof(buf), &res) != 0 ||
		    !res) {
			rc = store_seterr(-EINVAL, "no such group '%s'",
			    groups[i]);
			goto out;
		}
		json_array_append_new(list, json_pack("{s:s,s:I}", "group",
		    groups[i], "gid", (json_int_t)res->gr_gid));
		if (used < sizeof(msg))
			used += (size_t)snprintf(msg + used, sizeof(msg) - used,
			    "%sgroup %s", i ? ", " : "", groups[i]);
	}
	if (n == 0 && used < sizeof(msg))
		snprintf(msg + used, sizeof(msg) - used, "the store's owner");
	if ((rc = index_begin(st->ix, 0, &txn)) < 0)
		goto out;
	config = config_in(st, txn);
	json_object_set(json_object_get(config, "roles"), role_names[r], list);
	text = json_dumps(config, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (!text) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = index_put_raw(st->ix, txn, TAB_META, "config", 6, text,
	    strlen(text), 0)) < 0 ||
	    (rc = cas_put_buf(st->cas, text, strlen(text), d)) < 0)
		goto out;
	add_file(files, "config.json", d);
	ev = json_pack("{s:O}", "groups", list);
	if ((rc = queue_change(st, txn, who, now, msg, files)) < 0 ||
	    (rc = event_named(st, txn, "config.changed", who, now, ev, "role",
	    role_names[r], NULL)) < 0)
		goto out;
	rc = index_commit(txn);
	txn = NULL;
	if (rc == 0)
		ledger_kick(st);
out:
	index_abort(txn);
	free(text);
	json_decref(config);
	json_decref(ev);
	json_decref(list);
	json_decref(files);
	return rc;
}

int
access_rebuild(struct store *st, MDB_txn *txn, const char *text, size_t len)
{
	json_t *c = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	int rc;

	if (!json_is_object(c)) {
		json_decref(c);
		return store_seterr(-EINVAL, "ledger: config.json is damaged");
	}
	json_decref(c);
	rc = index_put_raw(st->ix, txn, TAB_META, "config", 6, text, len, 0);
	return rc;
}

/* -- what ls -l shows ----------------------------------------------- */

/*
 * The role that writing into a directory of this kind (or to a file in
 * it) needs; -1 where nobody writes.
 */
static int
role_of_dir(uint64_t ino, const struct node *n)
{
	if (ino == INO_INCOMING || ino == INO_ARTIFACTS ||
	    n->kind == NODE_RESULTS || n->parent == INO_ARTIFACTS)
		return STORE_ROLE_CI;
	if (ino == INO_STAGES || ino == INO_SCENARIOS || ino == INO_RELEASES)
		return STORE_ROLE_MANAGER;
	switch (n->role) {
	case ROLE_APPROVALS:
	case ROLE_WAIVERS:
		return STORE_ROLE_APPROVER;
	case ROLE_STAGE:
	case ROLE_STAGE_PROJECT:
	case ROLE_PROJECT_CRITERIA:
	case ROLE_SCENARIO:
	case ROLE_SCENARIO_CRITERIA:
	case ROLE_RELEASE:
	case ROLE_PARTICIPANTS:
		return STORE_ROLE_MANAGER;
	default:
		return -1;
	}
}

void
store_node_access(struct store *st, uint64_t ino, const struct node *n,
    struct store_access *a)
{
	char name[NAME_MAX_BYTES + 1];
	struct node dir;
	int role = -1;

	if (n->kind == NODE_DIR || n->kind == NODE_RESULTS ||
	    n->kind == NODE_INCOMING)
		role = role_of_dir(ino, n);
	else if (n->kind == NODE_FILE && (n->flags & NODE_MUTABLE) &&
	    store_node_get(st, n->parent, &dir) == 0 &&
	    store_node_name(st, n->parent, ino, name) == 0 &&
	    ctl_name_ok(dir.role, name))
		role = role_of_dir(n->parent, &dir);
	if (role >= 0) {
		store_role_access(st, (enum store_role)role, a);
		return;
	}
	a->uid = st->owner;
	a->gid = st->owner_gid;
	a->wbits = 0;		/* nobody writes here */
}

void
store_role_access(struct store *st, enum store_role r,
    struct store_access *a)
{
	json_t *config = NULL, *groups;

	a->uid = st->owner;
	a->gid = st->owner_gid;
	a->wbits = 0;
	if (store_config_get(st, &config) < 0)
		return;
	groups = role_groups(config, r);
	a->wbits = 0200;
	if (groups && json_array_size(groups) > 0) {
		a->gid = (gid_t)json_integer_value(json_object_get(
		    json_array_get(groups, 0), "gid"));
		a->wbits |= 0020;
	}
	json_decref(config);
}

/*
 * access.c - who may do what.  Three roles, each held by the members of
 * the Unix groups the store's configuration maps it to: ci (publish, write
 * results), approver (approvals, waivers) and manager (stages, criteria,
 * holds, revokes, restores, scenarios, releases).  A role mapped to no
 * group is held by the store's owner (the owner of the store's directory);
 * root holds every role.  Only the owner and root change the mapping.
 *
 * The configuration is {"roles": {"ci": [{"group": NAME, "gid": N}, ...],
 * ...}, "file_pins": [DIR...], "pin_sources": [PREFIX...]} in the index
 * (meta "config") and in the ledger (config.json); gids are resolved when
 * it is set, so a check reads no group database.
 *
 * Pins reach only the sources a manager allowed: a file:// pin a file
 * below one of file_pins, an http(s):// pin a URL that starts with one of
 * pin_sources.  None by default: the daemon fetches with its own rights
 * and from its own place in the network, on behalf of whoever reads, so
 * an unchecked pin would let a CI user read the daemon's files or reach
 * any host the daemon can.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "safe.h"
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

int
store_user_member(const struct store_user *who, gid_t gid)
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
		if (store_user_member(who, (gid_t)json_integer_value(
		    json_object_get(g, "gid"))))
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

/*
 * Set config[key][sub] (config[key] when sub is NULL) to val in one
 * transaction: the index, config.json in the ledger (msg), and a
 * config.changed event with ev and the name pair evname=evval.
 */
static int	shows_roles(uint64_t ino, const struct node *n);

static int
config_put(struct store *st, const char *key, const char *sub, json_t *val,
    const char *msg, json_t *ev, const char *evname, const char *evval,
    const struct store_user *who)
{
	json_t *config = NULL, *files = json_array();
	int64_t now = time(NULL);
	uint8_t d[DIGEST_LEN];
	MDB_txn *txn = NULL;
	char *text = NULL;
	int rc;

	if ((rc = index_begin(st->ix, 0, &txn)) < 0)
		goto out;
	config = config_in(st, txn);
	if (sub)
		json_object_set(json_object_get(config, key), sub, val);
	else
		json_object_set(config, key, val);
	text = json_dumps(config, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (!text) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = index_put_raw(st->ix, txn, TAB_META, "config", 6, text,
	    strlen(text), 0)) < 0 ||
	    (rc = cas_put_buf(st->cas, text, strlen(text), d)) < 0)
		goto out;
	outbox_add_file(files, "config.json", d);
	if ((rc = outbox_queue(st, txn, who, now, msg, files)) < 0 ||
	    (rc = event_named(st, txn, "config.changed", who, now, ev, evname,
	    evval, NULL)) < 0)
		goto out;
	/* what ls -l shows of them changes: the kernel is told (change log) */
	{
		uint64_t noted;

		if ((rc = index_note_nodes(st->ix, txn, shows_roles,
		    &noted)) < 0)
			goto out;
	}
	rc = index_commit(txn);
	txn = NULL;
	if (rc == 0)
		outbox_kick(st);
out:
	index_abort(txn);
	free(text);
	json_decref(config);
	json_decref(files);
	return rc;
}

int
store_config_set(struct store *st, enum store_role r,
    const char *const *groups, size_t n, const struct store_user *who)
{
	char owner[64], msg[1024];
	json_t *list = json_array(), *ev = NULL;
	size_t used;
	int rc = 0;

	if ((unsigned)r >= STORE_NROLES) {
		rc = store_seterr(-EINVAL, "unknown role");
		goto out;
	}
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
	ev = json_pack("{s:O}", "groups", list);
	rc = config_put(st, "roles", role_names[r], list, msg, ev, "role",
	    role_names[r], who);
out:
	json_decref(ev);
	json_decref(list);
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

/* -- where pins may point ------------------------------------------ */

static const char *const source_keys[] = { "file_pins", "pin_sources" };

/* An allowed source as given: an absolute directory, or scheme://host/. */
static int
source_ok(int kind, const char *s)
{
	const char *host;

	if (kind == 0)
		return s[0] == '/' && !strstr(s, "/../") && !strstr(s, "/./") &&
		    strcmp(s + strlen(s) - (strlen(s) >= 3 ? 3 : 0), "/..");
	host = strncmp(s, "http://", 7) == 0 ? s + 7 :
	    strncmp(s, "https://", 8) == 0 ? s + 8 : NULL;
	/* the host is whole: a prefix ends with the '/' after it */
	return host && *host && *host != '/' && strchr(host, '/') &&
	    !strchr(s, '@') && !strpbrk(s, " \t\r\n");
}

int
store_config_sources(struct store *st, enum store_source kind,
    const char *const *list, size_t n, const struct store_user *who)
{
	char msg[1024];
	json_t *arr = json_array(), *ev = NULL;
	size_t used;
	int rc;

	if ((rc = store_may(st, who, STORE_ROLE_MANAGER, kind == STORE_FILE_PINS ?
	    "allowing file:// pins" : "allowing pin sources")) < 0)
		goto out;
	used = (size_t)snprintf(msg, sizeof(msg), "config: %s %s",
	    kind == STORE_FILE_PINS ? "file:// pins below" :
	    "pins from", n ? "" : "nowhere");
	for (size_t i = 0; i < n; i++) {
		if (!source_ok(kind, list[i])) {
			rc = store_seterr(-EINVAL, "'%s' is not %s", list[i],
			    kind == STORE_FILE_PINS ? "an absolute directory "
			    "(no . or .. in it)" : "an http:// or https:// URL "
			    "prefix naming its host and ending in '/' after it "
			    "(http://host:port/path/)");
			goto out;
		}
		json_array_append_new(arr, json_string(list[i]));
		if (used < sizeof(msg))
			used += (size_t)snprintf(msg + used, sizeof(msg) - used,
			    "%s%s", i ? ", " : "", list[i]);
	}
	ev = json_pack("{s:O}", source_keys[kind], arr);
	rc = config_put(st, source_keys[kind], NULL, arr, msg, ev, NULL, NULL,
	    who);
out:
	json_decref(ev);
	json_decref(arr);
	return rc;
}

/* Is path (absolute, from a file:// URL) below dir? */
static int
below(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	while (n > 1 && dir[n - 1] == '/')
		n--;
	return strncmp(path, dir, n) == 0 && (path[n] == '/' ||
	    (n == 1 && dir[0] == '/'));
}

int
store_pin_allowed(struct store *st, const char *url)
{
	json_t *config = NULL, *v;
	size_t i;
	int ok = 0, file = strncmp(url, "file://", 7) == 0;
	const char *path = url + 7;

	if (file && (strstr(path, "/../") || strstr(path, "/./") ||
	    strstr(path, "//")))
		return store_seterr(-EINVAL, "pin url '%s': a file:// path with "
		    ". or .. or // in it is never allowed", url);
	if (store_config_get(st, &config) < 0)
		return -ENOMEM;
	json_array_foreach(json_object_get(config, source_keys[file ? 0 : 1]),
	    i, v) {
		const char *a = json_string_value(v);

		if (a && (file ? below(path, a) : strncmp(url, a, strlen(a)) ==
		    0))
			ok = 1;
		/* and where its links lead, when the file is there */
		if (ok && file) {
			char *rp = realpath(path, NULL), *ra;
			int gone = !rp && errno == ENOENT;

			ra = realpath(a, NULL);
			/* not there yet is fine; unreadable, or elsewhere, not */
			if (!gone && (!rp || !ra || !below(rp, ra)))
				ok = 0;
			free(rp);
			free(ra);
			if (ok)
				break;
		}
	}
	json_decref(config);
	if (ok)
		return 0;
	return store_seterr(-EINVAL, "pin url '%s' is not below a source a "
	    "manager allowed (relctl config STORE %s ...)", url, file ?
	    "file-pins" : "pin-sources");
}

int
store_pin_open(struct store *st, const char *url, int *fd)
{
	const char *path = url + 7, *a;
	json_t *config = NULL, *v;
	struct stat sb;
	int dfd, rc;
	size_t i;

	*fd = -1;
	if ((rc = store_pin_allowed(st, url)) < 0)
		return rc;
	if (store_config_get(st, &config) < 0)
		return -ENOMEM;
	rc = store_seterr(-EINVAL, "pin url '%s' is not below a source a "
	    "manager allowed", url);
	json_array_foreach(json_object_get(config, source_keys[0]), i, v) {
		if (!(a = json_string_value(v)) || !below(path, a))
			continue;
		dfd = open(a, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0) {
			rc = store_seterr(-errno, "could not open '%s': %s", a,
			    strerror(errno));
			continue;
		}
		/* the rest of the path, from the allowed directory down */
		rc = safe_open_below(dfd, path + strlen(a) + (a[strlen(a) - 1] ==
		    '/' ? 0 : 1), url, fd, &sb);
		close(dfd);
		if (rc == 0)
			break;
	}
	json_decref(config);
	return rc;
}

int
access_name_ok(uint8_t role, const char *name)
{
	size_t len = strlen(name);

	switch (role) {
	case ROLE_STAGE:
		return strcmp(name, "criteria.json") == 0 ||
		    strcmp(name, "hold") == 0;
	case ROLE_APPROVALS:
	case ROLE_WAIVERS:
	case ROLE_PARTICIPANTS:
		return 1;	/* any valid name */
	case ROLE_PROJECT_CRITERIA:
	case ROLE_SCENARIO_CRITERIA:
		return len > 5 && strcmp(name + len - 5, ".json") == 0;
	case ROLE_SCENARIO:
		return strcmp(name, "scenario.json") == 0;
	case ROLE_RELEASE:
		return strcmp(name, "release.json") == 0;
	default:
		return 0;
	}
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

/* Does what ls -l shows of this node depend on the roles? */
static int
shows_roles(uint64_t ino, const struct node *n)
{
	if (n->kind == NODE_DIR || n->kind == NODE_RESULTS ||
	    n->kind == NODE_INCOMING)
		return role_of_dir(ino, n) >= 0;
	return n->kind == NODE_FILE && (n->flags & NODE_MUTABLE);
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
	    access_name_ok(dir.role, name))
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

int
store_staging_may(struct store *st, const struct store_user *who,
    const char *what)
{
	char full[256];

	snprintf(full, sizeof(full), "%s under incoming/ or results/", what);
	return store_may(st, who, STORE_ROLE_CI, full);
}

void
store_staging_access(struct store *st, struct store_access *a)
{
	store_role_access(st, STORE_ROLE_CI, a);
}

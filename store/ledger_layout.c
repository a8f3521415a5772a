/*
 * ledger_layout.c - moving a ledger of an older layout to the newest
 * (fanout.h): one commit that puts every file at its new path.
 */
#define _GNU_SOURCE
#include "ledger_impl.h"

#include <errno.h>
#include <git2.h>
#include <git2/sys/odb_backend.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fanout.h"

struct migrate {
	struct ledger *lg;
	git_tree_update *ups;
	char **paths;
	size_t n, cap;
	int rc;
};

static int
migrate_one(const char *root, const git_tree_entry *e, void *payload)
{
	struct migrate *m = payload;
	char stored[4096], logical[4096], path[4096];

	if (git_tree_entry_type(e) != GIT_OBJECT_BLOB)
		return 0;
	snprintf(stored, sizeof(stored), "%s%s", root, git_tree_entry_name(e));
	if (fanout_logical(m->lg->format, stored, logical,
	    sizeof(logical)) < 0 || fanout_path(FANOUT_FORMAT, logical, path,
	    sizeof(path)) < 0) {
		m->rc = store_seterr(-EINVAL, "ledger: '%s' cannot be moved to "
		    "layout %d", stored, FANOUT_FORMAT);
		return -1;
	}
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 1024;
		git_tree_update *u = realloc(m->ups, cap * sizeof(*u));
		char **p = u ? realloc(m->paths, cap * sizeof(*p)) : NULL;

		if (u)
			m->ups = u;
		if (!u || !p) {
			m->rc = -ENOMEM;
			return -1;
		}
		m->paths = p;
		m->cap = cap;
	}
	if (!(m->paths[m->n] = strdup(path))) {
		m->rc = -ENOMEM;
		return -1;
	}
	memset(&m->ups[m->n], 0, sizeof(*m->ups));
	m->ups[m->n].action = GIT_TREE_UPDATE_UPSERT;
	m->ups[m->n].id = *git_tree_entry_id(e);
	m->ups[m->n].filemode = git_tree_entry_filemode(e);
	m->ups[m->n].path = m->paths[m->n];
	m->n++;
	return 0;
}

/* Every tree of tree, for the batch's pack. */
static int
keep_tree(const char *root, const git_tree_entry *e, void *payload)
{
	(void)root;
	if (git_tree_entry_type(e) == GIT_OBJECT_TREE &&
	    ledger_batch_keep(payload, git_tree_entry_id(e)) < 0)
		return -1;
	return 0;
}

/* store.json saying the newest layout, as a blob of the batch. */
static int
store_json_blob(struct ledger *lg, git_oid *id)
{
	char *info = NULL, *text = NULL;
	size_t len;
	json_t *j;
	int rc = ledger_read(lg, "store.json", &info, &len);

	if (rc < 0)
		return rc;
	j = json_loadb(info, len, 0, NULL);
	free(info);
	if (!j || json_object_set_new(j, "format",
	    json_integer(FANOUT_FORMAT)) < 0 ||
	    !(text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS))) {
		json_decref(j);
		return store_seterr(-EIO, "ledger: store.json is damaged");
	}
	json_decref(j);
	len = strlen(text);
	text[len] = '\0';
	if (git_odb_hash(id, text, len, GIT_OBJECT_BLOB) < 0 ||
	    lg->mp->write(lg->mp, id, text, len, GIT_OBJECT_BLOB) < 0)
		rc = ledger_git_fail("could not write store.json");
	else
		rc = ledger_batch_keep(lg, id);
	free(text);
	return rc;
}

int
ledger_migrate(struct ledger *lg, const struct store_user *who,
    int64_t when)
{
	struct migrate m = { lg, NULL, NULL, 0, 0, 0 };
	git_commit *parent = NULL;
	git_tree *base = NULL, *empty = NULL, *tree = NULL;
	git_treebuilder *tb = NULL;
	git_oid id, sj;
	uint64_t seq;
	char *msg = NULL;
	int rc, own = !lg->brepo;

	if (lg->format >= FANOUT_FORMAT)
		return 0;
	if (own && (rc = ledger_batch_begin(lg)) < 0)
		return rc;
	if ((rc = ledger_group_flush(lg, NULL, 0)) < 0 ||
	    (rc = ledger_group_base(lg, &parent, &base)) < 0)
		goto out;
	if (!parent) {		/* nothing written yet: nothing to move */
		lg->format = FANOUT_FORMAT;
		goto out;
	}
	if ((rc = ledger_last_seq(lg, &seq)) < 0)
		goto out;
	if (git_tree_walk(base, GIT_TREEWALK_PRE, migrate_one, &m) < 0) {
		rc = m.rc ? m.rc : ledger_git_fail("could not walk the tree");
		goto out;
	}
	if ((rc = store_json_blob(lg, &sj)) < 0)
		goto out;
	for (size_t i = 0; i < m.n; i++)
		if (strcmp(m.ups[i].path, "store.json") == 0)
			m.ups[i].id = sj;
	if (git_treebuilder_new(&tb, lg->brepo, NULL) < 0 ||
	    git_treebuilder_write(&id, tb) < 0 ||
	    git_tree_lookup(&empty, lg->brepo, &id) < 0 ||
	    git_tree_create_updated(&id, lg->brepo, empty, m.n, m.ups) < 0 ||
	    git_tree_lookup(&tree, lg->brepo, &id) < 0) {
		rc = ledger_git_fail("could not write the new layout's tree");
		goto out;
	}
	if ((rc = ledger_batch_keep(lg, &id)) < 0)
		goto out;
	if (git_tree_walk(tree, GIT_TREEWALK_PRE, keep_tree, lg) < 0) {
		rc = -ENOMEM;
		goto out;
	}
	if (asprintf(&msg, "ledger: layout %d, the same files with their "
	    "directories fanned out\n\nRelfs-Seq: %llu\nRelfs-Uid: %u\n",
	    FANOUT_FORMAT, (unsigned long long)seq, (unsigned)who->uid) < 0) {
		msg = NULL;
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = ledger_commit_tree(lg, parent, tree, who, when, msg, NULL, 0)) < 0)
		goto out;
	lg->format = FANOUT_FORMAT;
out:
	for (size_t i = 0; i < m.n; i++)
		free(m.paths[i]);
	free(m.paths);
	free(m.ups);
	free(msg);
	git_tree_free(tree);
	git_tree_free(empty);
	git_treebuilder_free(tb);
	git_tree_free(base);
	git_commit_free(parent);
	return own ? ledger_own_batch_end(lg, rc) : rc;
}


/*
 * ledger_at.c - the ledger's past: which commit a time, an id or a tag
 * names, reads pinned to one commit, and the tags' names by level.
 */
#define _GNU_SOURCE
#include "ledger_impl.h"

#include "fanout.h"

#include <errno.h>
#include <git2.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The tags at/ takes: a promotion's and a release freeze's. */
static const char *const tag_kinds[] = { "promote", "release" };

static int
is_hex(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!strchr("0123456789abcdef", s[i]))
			return 0;
	return 1;
}

static int
tag_kind(const char *name)
{
	for (size_t i = 0; i < sizeof(tag_kinds) / sizeof(*tag_kinds); i++) {
		size_t n = strlen(tag_kinds[i]);

		if (strncmp(name, tag_kinds[i], n) == 0 && name[n] == '/')
			return 1;
	}
	return 0;
}

/* The newest commit of HEAD's first-parent line made at or before t. */
static int
find_time(struct ledger *lg, int64_t t, git_oid *out)
{
	git_revwalk *walk = NULL;
	git_oid id;
	int rc;

	if (git_reference_name_to_id(&id, lg->repo, "HEAD") < 0)
		return store_seterr(-ENOENT, "at: the ledger has no commit "
		    "yet");
	if (git_revwalk_new(&walk, lg->repo) < 0)
		return ledger_git_fail("could not walk the history");
	git_revwalk_simplify_first_parent(walk);
	rc = git_revwalk_push_head(walk);
	if (rc == GIT_ENOTFOUND || rc == GIT_EUNBORNBRANCH) {
		git_revwalk_free(walk);
		return -ENOENT;
	}
	if (rc < 0) {
		git_revwalk_free(walk);
		return ledger_git_fail("could not walk the history");
	}
	while ((rc = git_revwalk_next(&id, walk)) == 0) {
		git_commit *c = NULL;
		int64_t when;

		if (git_commit_lookup(&c, lg->repo, &id) < 0) {
			git_revwalk_free(walk);
			return ledger_git_fail("could not read a commit");
		}
		when = (int64_t)git_commit_time(c);
		git_commit_free(c);
		if (when <= t) {
			*out = id;
			git_revwalk_free(walk);
			return 0;
		}
	}
	git_revwalk_free(walk);
	if (rc != GIT_ITEROVER)
		return ledger_git_fail("could not walk the history");
	return store_seterr(-ENOENT, "at: the ledger has no commit before "
	    "that time (the store did not exist yet)");
}

/* The commit of HEAD's history that the hex digits s name. */
static int
find_id(struct ledger *lg, const char *s, size_t len, git_oid *out)
{
	git_object *obj = NULL;
	git_oid prefix, head;
	int rc;

	if (git_oid_fromstrn(&prefix, s, len) < 0)
		return -ENOENT;
	rc = git_object_lookup_prefix(&obj, lg->repo, &prefix, len,
	    GIT_OBJECT_COMMIT);
	if (rc == GIT_EAMBIGUOUS)
		return store_seterr(-ENOENT, "at: '%.*s' names more than one "
		    "commit: give more digits", (int)len, s);
	if (rc < 0)
		return store_seterr(-ENOENT, "at: '%.*s' names no commit of "
		    "the ledger", (int)len, s);
	*out = *git_object_id(obj);
	git_object_free(obj);
	if (git_reference_name_to_id(&head, lg->repo, "HEAD") < 0)
		return -ENOENT;
	if (!git_oid_equal(&head, out) && git_graph_descendant_of(lg->repo,
	    &head, out) != 1)
		return store_seterr(-ENOENT, "at: '%.*s' is not in the "
		    "ledger's history", (int)len, s);
	return 0;
}

/* The commit the tag name points at. */
static int
find_tag(struct ledger *lg, const char *name, git_oid *out)
{
	char ref[4200];
	git_object *obj = NULL, *peeled = NULL;
	int valid = 0;

	if (snprintf(ref, sizeof(ref), "refs/tags/%s", name) >=
	    (int)sizeof(ref) || git_reference_name_is_valid(&valid, ref) < 0 ||
	    !valid)
		return -ENOENT;
	if (git_revparse_single(&obj, lg->repo, ref) < 0)
		return -ENOENT;
	if (git_object_peel(&peeled, obj, GIT_OBJECT_COMMIT) < 0) {
		git_object_free(obj);
		return -ENOENT;
	}
	*out = *git_object_id(peeled);
	git_object_free(peeled);
	git_object_free(obj);
	return 0;
}

int
ledger_find(struct ledger *lg, const char *when, char id[41], int64_t *at)
{
	size_t len = strlen(when);
	git_commit *c = NULL;
	git_oid oid;
	int64_t t = time_parse_iso(when);
	int rc;

	if (t > 0 || strcmp(when, "1970-01-01T00:00:00Z") == 0) {
		if (t > (int64_t)time(NULL))
			return store_seterr(-ENOENT, "at: '%s' is in the "
			    "future", when);
		rc = find_time(lg, t, &oid);
	} else if (len >= 7 && len <= GIT_OID_HEXSZ && is_hex(when, len)) {
		rc = find_id(lg, when, len, &oid);
	} else if (tag_kind(when)) {
		rc = find_tag(lg, when, &oid);
	} else {
		return store_seterr(-ENOENT, "at: '%s' is not a time "
		    "(YYYY-MM-DDTHH:MM:SSZ), a commit id or a tag", when);
	}
	if (rc < 0)
		return rc;
	if (git_commit_lookup(&c, lg->repo, &oid) < 0)
		return ledger_git_fail("could not read a commit");
	if (t <= 0)
		t = (int64_t)git_commit_time(c);
	git_commit_free(c);
	git_oid_tostr(id, GIT_OID_HEXSZ + 1, &oid);
	*at = t;
	return 0;
}

int
ledger_pin(struct ledger *lg, const char *id)
{
	git_oid oid;
	git_commit *c = NULL;

	if (git_oid_fromstr(&oid, id) < 0 ||
	    git_commit_lookup(&c, lg->repo, &oid) < 0)
		return store_seterr(-ENOENT, "ledger: '%s' names no commit",
		    id);
	git_commit_free(c);
	lg->pin = oid;
	lg->pinned = 1;
	/* the layout of that commit, which may be older than HEAD's */
	return ledger_read_format(lg);
}

struct name_ent {
	char *name;
	int tag;	/* prefix/name is a whole tag (else a level above some) */
};

struct names {
	const char *prefix;	/* "refs/tags/<prefix>/" or "refs/tags/" */
	struct name_ent *v;
	size_t n, cap;
	int rc;
};

static int
name_one(const char *ref, void *payload)
{
	struct names *ns = payload;
	const char *rest, *slash;
	size_t plen = strlen(ns->prefix);

	if (strncmp(ref, ns->prefix, plen) != 0)
		return 0;
	rest = ref + plen;
	if (strcmp(ns->prefix, "refs/tags/") == 0 && !tag_kind(rest))
		return 0;
	slash = strchr(rest, '/');
	if (ns->n == ns->cap) {
		size_t cap = ns->cap ? ns->cap * 2 : 16;
		struct name_ent *v = realloc(ns->v, cap * sizeof(*v));

		if (!v) {
			ns->rc = -ENOMEM;
			return -1;
		}
		ns->v = v;
		ns->cap = cap;
	}
	ns->v[ns->n].name = slash ? strndup(rest, (size_t)(slash - rest)) :
	    strdup(rest);
	if (!ns->v[ns->n].name) {
		ns->rc = -ENOMEM;
		return -1;
	}
	ns->v[ns->n++].tag = !slash;
	return 0;
}

/* By name; a level before a tag of the same name (the level wins). */
static int
name_cmp(const void *a, const void *b)
{
	const struct name_ent *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : x->tag - y->tag;
}

int
ledger_tag_names(struct ledger *lg, const char *prefix, ledger_name_fn cb,
    void *arg)
{
	char p[4200];
	struct names ns = { p, NULL, 0, 0, 0 };
	int rc;

	if (*prefix)
		snprintf(p, sizeof(p), "refs/tags/%s/", prefix);
	else
		snprintf(p, sizeof(p), "refs/tags/");
	if (git_reference_foreach_name(lg->repo, name_one, &ns) < 0 &&
	    ns.rc == 0)
		ns.rc = ledger_git_fail("could not list the tags");
	rc = ns.rc;
	if (rc == 0 && ns.n)
		qsort(ns.v, ns.n, sizeof(*ns.v), name_cmp);
	for (size_t i = 0; rc == 0 && i < ns.n; i++) {
		char full[4500], id[41];
		int64_t at;

		if (i > 0 && strcmp(ns.v[i].name, ns.v[i - 1].name) == 0)
			continue;
		if (!ns.v[i].tag) {
			rc = cb(arg, ns.v[i].name, NULL, 0);
			continue;
		}
		/* its commit, as ledger_find gives it: no second lookup */
		snprintf(full, sizeof(full), "%s%s%s", prefix, *prefix ? "/" :
		    "", ns.v[i].name);
		if (ledger_find(lg, full, id, &at) == 0)
			rc = cb(arg, ns.v[i].name, id, at);
	}
	for (size_t i = 0; i < ns.n; i++)
		free(ns.v[i].name);
	free(ns.v);
	return rc;
}

/* The layout of commit c's tree (its store.json; 1 when it says none). */
static int
tree_format(git_repository *repo, git_tree *tree)
{
	git_tree_entry *e = NULL;
	git_blob *b = NULL;
	json_t *j;
	int format = 1;

	if (git_tree_entry_bypath(&e, tree, "store.json") < 0)
		return 1;
	if (git_blob_lookup(&b, repo, git_tree_entry_id(e)) == 0) {
		j = json_loadb(git_blob_rawcontent(b),
		    (size_t)git_blob_rawsize(b), 0, NULL);
		if (json_integer_value(json_object_get(j, "format")) > 1)
			format = (int)json_integer_value(json_object_get(j,
			    "format"));
		json_decref(j);
	}
	git_blob_free(b);
	git_tree_entry_free(e);
	return format;
}

/* Do trees a and b hold the same name with the same id? */
static int
same_entry(git_tree *a, git_tree *b, const char *name)
{
	const git_tree_entry *x = git_tree_entry_byname(a, name);
	const git_tree_entry *y = git_tree_entry_byname(b, name);

	if (!x || !y)
		return !x && !y;
	return git_oid_equal(git_tree_entry_id(x), git_tree_entry_id(y));
}

struct times_ctx {
	git_repository *repo;
	int format;
	int64_t when;
	ledger_time_fn cb;
	void *arg;
};

/*
 * What tree nt holds that ot (NULL: nothing) does not, below prefix: only
 * subtrees whose ids differ are read, so a commit costs what it changed.
 */
static int
tree_news(struct times_ctx *t, git_tree *ot, git_tree *nt,
    const char *prefix)
{
	size_t n = git_tree_entrycount(nt);
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < n; i++) {
		const git_tree_entry *e = git_tree_entry_byindex(nt, i);
		const git_tree_entry *o = ot ? git_tree_entry_byname(ot,
		    git_tree_entry_name(e)) : NULL;
		char path[4096], logical[4096];

		if (o && git_oid_equal(git_tree_entry_id(o),
		    git_tree_entry_id(e)))
			continue;
		if (snprintf(path, sizeof(path), "%s%s", prefix,
		    git_tree_entry_name(e)) >= (int)sizeof(path))
			continue;
		if (git_tree_entry_type(e) == GIT_OBJECT_TREE) {
			git_tree *sub = NULL, *osub = NULL;

			if (git_tree_lookup(&sub, t->repo,
			    git_tree_entry_id(e)) < 0)
				return ledger_git_fail("could not read a tree");
			if (o && git_tree_entry_type(o) == GIT_OBJECT_TREE &&
			    git_tree_lookup(&osub, t->repo,
			    git_tree_entry_id(o)) < 0) {
				git_tree_free(sub);
				return ledger_git_fail("could not read a tree");
			}
			strcat(path, "/");
			rc = tree_news(t, osub, sub, path);
			git_tree_free(osub);
			git_tree_free(sub);
		} else if (git_tree_entry_type(e) == GIT_OBJECT_BLOB &&
		    fanout_logical(t->format, path, logical,
		    sizeof(logical)) == 0) {
			rc = t->cb(t->arg, logical, t->when);
		}
	}
	return rc;
}

/* tree_news for the top-level names under[] alone. */
static int
commit_news(struct times_ctx *t, git_tree *ot, git_tree *nt,
    const char *const *under, size_t nunder)
{
	int rc = 0;

	for (size_t k = 0; rc == 0 && k < nunder; k++) {
		const git_tree_entry *e = git_tree_entry_byname(nt, under[k]);
		const git_tree_entry *o = ot ? git_tree_entry_byname(ot,
		    under[k]) : NULL;
		git_tree *sub = NULL, *osub = NULL;
		char prefix[300];

		if (!e || (o && git_oid_equal(git_tree_entry_id(o),
		    git_tree_entry_id(e))))
			continue;
		if (git_tree_entry_type(e) == GIT_OBJECT_BLOB) {
			rc = t->cb(t->arg, under[k], t->when);
			continue;
		}
		if (git_tree_lookup(&sub, t->repo, git_tree_entry_id(e)) < 0 ||
		    (o && git_tree_entry_type(o) == GIT_OBJECT_TREE &&
		    git_tree_lookup(&osub, t->repo, git_tree_entry_id(o)) < 0))
			rc = ledger_git_fail("could not read a tree");
		snprintf(prefix, sizeof(prefix), "%s/", under[k]);
		if (rc == 0)
			rc = tree_news(t, osub, sub, prefix);
		git_tree_free(osub);
		git_tree_free(sub);
	}
	return rc;
}

int
ledger_file_times(struct ledger *lg, const char *const *under, size_t nunder,
    ledger_time_fn cb, void *arg)
{
	struct times_ctx t = { lg->repo, lg->format, 0, cb, arg };
	git_commit *c = NULL;
	int rc = ledger_head_commit(lg, &c);

	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	while (c && rc == 0) {
		git_commit *p = NULL;
		git_tree *ct = NULL, *pt = NULL;

		if (git_commit_parentcount(c) > 0 &&
		    git_commit_parent(&p, c, 0) < 0) {
			rc = ledger_git_fail("could not read a commit");
			break;
		}
		if (git_commit_tree(&ct, c) < 0 || (p && git_commit_tree(&pt,
		    p) < 0)) {
			rc = ledger_git_fail("could not read a tree");
		} else if (pt && !same_entry(pt, ct, "store.json") &&
		    tree_format(lg->repo, pt) != t.format) {
			/* a move to another layout changes no file */
			t.format = tree_format(lg->repo, pt);
		} else {
			t.when = (int64_t)git_commit_time(c);
			rc = commit_news(&t, pt, ct, under, nunder);
		}
		git_tree_free(ct);
		git_tree_free(pt);
		git_commit_free(c);
		c = p;
	}
	git_commit_free(c);
	return rc;
}

/*
 * ledger.c - reading the ledger, a bare git repository written with
 * libgit2: its HEAD, blobs, history and fsck (see ledger.h).
 */
#define _GNU_SOURCE
#include "ledger_impl.h"

#include "fanout.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <git2/sys/config.h>
#include <git2/sys/mempack.h>
#include <git2/sys/odb_backend.h>
#include <git2/sys/repository.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int
ledger_git_fail(const char *what)
{
	const git_error *e = git_error_last();

	return store_seterr(-EIO, "ledger: %s: %s", what,
	    e && e->message ? e->message : "unknown error");
}

void
ledger_refresh(struct ledger *lg)
{
	git_odb *odb = NULL;

	if (git_repository_odb(&odb, lg->repo) == 0)
		git_odb_refresh(odb);
	git_odb_free(odb);
}

int
ledger_head_commit(struct ledger *lg, git_commit **out)
{
	git_repository *repo = lg->brepo ? lg->brepo : lg->repo;
	git_oid oid;
	int rc;

	/* in a batch the parent must belong to the batch's repository
	 * (which has no references of its own) */
	if (lg->pinned) {
		oid = lg->pin;
		rc = 0;
	} else {
		rc = git_reference_name_to_id(&oid, lg->repo, "HEAD");
	}
	if (rc == GIT_ENOTFOUND || rc == GIT_EUNBORNBRANCH)
		return -ENOENT;
	if (rc < 0)
		return ledger_git_fail("could not resolve HEAD");
	if (git_commit_lookup(out, repo, &oid) < 0)
		return ledger_git_fail("could not read HEAD's commit");
	return 0;
}

int
ledger_last_seq(struct ledger *lg, uint64_t *seq)
{
	git_commit *c = NULL;
	const char *msg, *p;
	int rc;

	*seq = 0;
	rc = ledger_head_commit(lg, &c);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	msg = git_commit_message(c);
	/* the trailer: the last one (a message lists what it holds above) */
	for (p = msg ? strstr(msg, "\nRelfs-Seq: ") : NULL; p;
	    p = strstr(p + 1, "\nRelfs-Seq: "))
		*seq = strtoull(p + 12, NULL, 10);
	git_commit_free(c);
	return 0;
}

int
ledger_read(struct ledger *lg, const char *logical, char **buf, size_t *len)
{
	char path[4096];
	git_commit *c = NULL;
	git_tree *tree = NULL;
	git_tree_entry *ent = NULL;
	git_blob *blob = NULL;
	int rc;

	if ((rc = fanout_path(lg->format, logical, path, sizeof(path))) < 0)
		return rc;
	rc = ledger_head_commit(lg, &c);
	if (rc < 0)
		return rc;
	if (git_commit_tree(&tree, c) < 0) {
		rc = ledger_git_fail("could not read HEAD's tree");
		goto out;
	}
	rc = git_tree_entry_bypath(&ent, tree, path);
	if (rc == GIT_ENOTFOUND) {
		rc = -ENOENT;
		goto out;
	}
	if (rc < 0 || git_blob_lookup(&blob, lg->repo,
	    git_tree_entry_id(ent)) < 0) {
		rc = ledger_git_fail(path);
		goto out;
	}
	*len = (size_t)git_blob_rawsize(blob);
	*buf = malloc(*len + 1);
	if (!*buf) {
		rc = -ENOMEM;
		goto out;
	}
	memcpy(*buf, git_blob_rawcontent(blob), *len);
	(*buf)[*len] = '\0';
	rc = 0;
out:
	git_blob_free(blob);
	git_tree_entry_free(ent);
	git_tree_free(tree);
	git_commit_free(c);
	return rc;
}

struct walk_ctx {
	struct ledger *lg;
	ledger_walk_fn cb;
	void *arg;
	int rc;
	int names;		/* paths only: no blob is read */
};

static int
walk_one(const char *root, const git_tree_entry *e, void *payload)
{
	struct walk_ctx *w = payload;
	git_blob *blob = NULL;
	char stored[4096], path[4096];
	int rc;

	if (git_tree_entry_type(e) != GIT_OBJECT_BLOB)
		return 0;
	snprintf(stored, sizeof(stored), "%s%s", root, git_tree_entry_name(e));
	if (fanout_logical(w->lg->format, stored, path, sizeof(path)) < 0) {
		w->rc = store_seterr(-EINVAL, "ledger: '%s' is not where layout "
		    "%d keeps a file", stored, w->lg->format);
		return -1;
	}
	if (w->names) {
		rc = w->cb(w->arg, path, NULL, 0);
	} else if (git_blob_lookup(&blob, w->lg->repo, git_tree_entry_id(e)) <
	    0) {
		w->rc = ledger_git_fail(path);
		return -1;
	} else {
		rc = w->cb(w->arg, path, git_blob_rawcontent(blob),
		    (size_t)git_blob_rawsize(blob));
		git_blob_free(blob);
	}
	if (rc < 0) {
		w->rc = rc;
		return -1;
	}
	return 0;
}

static int
walk(struct ledger *lg, ledger_walk_fn cb, void *arg, int names)
{
	struct walk_ctx w = { lg, cb, arg, 0, names };
	git_commit *c = NULL;
	git_tree *tree = NULL;
	int rc;

	rc = ledger_head_commit(lg, &c);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	if (git_commit_tree(&tree, c) < 0) {
		rc = ledger_git_fail("could not read HEAD's tree");
		goto out;
	}
	if (git_tree_walk(tree, GIT_TREEWALK_PRE, walk_one, &w) < 0)
		rc = w.rc ? w.rc : ledger_git_fail("could not walk the tree");
out:
	git_tree_free(tree);
	git_commit_free(c);
	return rc;
}

int
ledger_walk(struct ledger *lg, ledger_walk_fn cb, void *arg)
{
	return walk(lg, cb, arg, 0);
}

int
ledger_walk_paths(struct ledger *lg, ledger_walk_fn cb, void *arg)
{
	return walk(lg, cb, arg, 1);
}

int
ledger_count(struct ledger *lg, uint64_t *count)
{
	git_revwalk *walk = NULL;
	git_oid oid;
	int rc = 0;

	*count = 0;
	if (git_revwalk_new(&walk, lg->repo) < 0)
		return ledger_git_fail("could not walk the history");
	rc = git_revwalk_push_head(walk);
	if (rc == GIT_ENOTFOUND || rc == GIT_EUNBORNBRANCH) {
		rc = 0;
		goto out;
	}
	if (rc < 0) {
		rc = ledger_git_fail("could not walk the history");
		goto out;
	}
	while ((rc = git_revwalk_next(&oid, walk)) == 0)
		(*count)++;
	rc = rc == GIT_ITEROVER ? 0 :
	    ledger_git_fail("could not walk the history");
out:
	git_revwalk_free(walk);
	return rc;
}

int
ledger_fsck_start(const char *path, struct ledger_fsck *out)
{
	char gitdir[4200];
	int pfd[2];

	out->pid = -1;
	out->fd = -1;
	snprintf(gitdir, sizeof(gitdir), "--git-dir=%s", path);
	snprintf(out->path, sizeof(out->path), "%s", path);
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return store_seterr(-errno, "could not run git fsck: %s",
		    strerror(errno));
	out->pid = fork();
	if (out->pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return store_seterr(-errno, "could not run git fsck: %s",
		    strerror(errno));
	}
	if (out->pid == 0) {
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		execlp("git", "git", gitdir, "fsck", "--strict", "--no-progress",
		    "--no-dangling", (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	out->fd = pfd[0];
	return 0;
}

int
ledger_fsck_wait(struct ledger_fsck *f, char **report)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int status = 0;

	*report = NULL;
	for (;;) {
		ssize_t n;

		if (len + 4096 + 1 > cap) {
			char *nb = realloc(buf, cap = cap * 2 + 8192);

			if (!nb)
				break;
			buf = nb;
		}
		n = read(f->fd, buf + len, 4096);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(f->fd);
	if (buf)
		buf[len] = '\0';
	while (waitpid(f->pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		free(buf);
		return 0;
	}
	if (buf && len == 0) {
		free(buf);
		buf = strdup(WIFEXITED(status) && WEXITSTATUS(status) == 127 ?
		    "git is not installed" : "git fsck failed without output");
	}
	*report = buf;
	return store_seterr(-EIO, "git fsck found problems in '%s'", f->path);
}

int
ledger_fsck(const char *path, char **report)
{
	struct ledger_fsck f;
	int rc = ledger_fsck_start(path, &f);

	*report = NULL;
	return rc < 0 ? rc : ledger_fsck_wait(&f, report);
}

/* -- what changed since a commit ------------------------------------ */

/* Read object id and hash it again: -EIO when it is not what it says. */
static int
check_object(git_odb *odb, const git_oid *id, const char *what)
{
	git_odb_object *o = NULL;
	git_oid got;
	char hex[GIT_OID_HEXSZ + 1];
	int rc = 0;

	git_oid_tostr(hex, sizeof(hex), id);
	if (git_odb_read(&o, odb, id) < 0)
		return store_seterr(-EIO, "ledger: %s: object %s is missing",
		    what, hex);
	if (git_odb_hash(&got, git_odb_object_data(o), git_odb_object_size(o),
	    git_odb_object_type(o)) < 0 || !git_oid_equal(&got, id))
		rc = store_seterr(-EIO, "ledger: %s: object %s is corrupt",
		    what, hex);
	git_odb_object_free(o);
	return rc;
}

struct since {
	struct ledger *lg;
	git_odb *odb;
	ledger_since_fn cb;
	void *arg;
	int rc;
};

static int
since_file(const git_diff_delta *d, float progress, void *payload)
{
	struct since *s = payload;
	char path[4096];
	int removed = d->status == GIT_DELTA_DELETED;
	const git_diff_file *f = removed ? &d->old_file : &d->new_file;

	(void)progress;
	if (!removed && (s->rc = check_object(s->odb, &f->id, f->path)) < 0)
		return -1;
	if (fanout_logical(s->lg->format, f->path, path, sizeof(path)) < 0) {
		if (removed)
			return 0;	/* a path of the layout before a move */
		s->rc = store_seterr(-EINVAL, "ledger: '%s' is not where layout "
		    "%d keeps a file", f->path, s->lg->format);
		return -1;
	}
	if ((s->rc = s->cb(s->arg, path, removed)) < 0)
		return -1;
	return 0;
}

int
ledger_since(struct ledger *lg, const char *since, ledger_since_fn cb,
    void *arg, uint64_t *commits)
{
	struct since s = { lg, NULL, cb, arg, 0 };
	git_object *obj = NULL;
	git_commit *head = NULL, *old = NULL;
	git_tree *htree = NULL, *otree = NULL;
	git_revwalk *walk = NULL;
	git_diff_options opts;
	git_diff *diff = NULL;
	git_oid id;
	int rc;

	*commits = 0;
	if ((rc = ledger_head_commit(lg, &head)) < 0)
		return rc;
	if (git_revparse_single(&obj, lg->repo, since) < 0 ||
	    git_object_peel((git_object **)&old, obj, GIT_OBJECT_COMMIT) < 0) {
		rc = store_seterr(-ENOENT, "ledger: '%s' names no commit of the "
		    "ledger", since);
		goto out;
	}
	if (!git_oid_equal(git_commit_id(old), git_commit_id(head)) &&
	    git_graph_descendant_of(lg->repo, git_commit_id(head),
	    git_commit_id(old)) != 1) {
		rc = store_seterr(-EINVAL, "ledger: '%s' is not in the history "
		    "of HEAD", since);
		goto out;
	}
	if (git_repository_odb(&s.odb, lg->repo) < 0 ||
	    git_revwalk_new(&walk, lg->repo) < 0 ||
	    git_revwalk_push(walk, git_commit_id(head)) < 0 ||
	    git_revwalk_hide(walk, git_commit_id(old)) < 0) {
		rc = ledger_git_fail("could not walk the history");
		goto out;
	}
	/* every commit since, and the trees it names, hash as they say */
	while ((rc = git_revwalk_next(&id, walk)) == 0) {
		git_commit *c = NULL;

		if ((rc = check_object(s.odb, &id, "commit")) < 0)
			goto out;
		if (git_commit_lookup(&c, lg->repo, &id) < 0) {
			rc = ledger_git_fail("could not read a commit");
			goto out;
		}
		rc = check_object(s.odb, git_commit_tree_id(c), "tree");
		git_commit_free(c);
		if (rc < 0)
			goto out;
		(*commits)++;
	}
	if (rc != GIT_ITEROVER) {
		rc = ledger_git_fail("could not walk the history");
		goto out;
	}
	git_diff_options_init(&opts, GIT_DIFF_OPTIONS_VERSION);
	if (git_commit_tree(&htree, head) < 0 ||
	    git_commit_tree(&otree, old) < 0 ||
	    git_diff_tree_to_tree(&diff, lg->repo, otree, htree, &opts) < 0) {
		rc = ledger_git_fail("could not compare the trees");
		goto out;
	}
	rc = git_diff_foreach(diff, since_file, NULL, NULL, NULL, &s) < 0 ?
	    (s.rc ? s.rc : ledger_git_fail("could not compare the trees")) : 0;
out:
	git_diff_free(diff);
	git_tree_free(htree);
	git_tree_free(otree);
	git_revwalk_free(walk);
	git_odb_free(s.odb);
	git_commit_free(old);
	git_object_free(obj);
	git_commit_free(head);
	return rc;
}

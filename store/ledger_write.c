/*
 * ledger_write.c - opening and writing the ledger: a batch's objects in
 * memory, one packfile a batch, commits (see ledger.h).
 */
#define _GNU_SOURCE
#include "ledger_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <git2.h>
#include <git2/sys/config.h>
#include <git2/sys/mempack.h>
#include <git2/sys/odb_backend.h>
#include <git2/sys/repository.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pthread_once_t git_once = PTHREAD_ONCE_INIT;

static void	git_setup(void);

static void
git_setup(void)
{
	git_libgit2_init();
	/*
	 * What the ledger confirms must survive power loss: rather than an
	 * fsync per object, ledger_commit syncs the file system once.
	 */
	git_libgit2_opts(GIT_OPT_ENABLE_FSYNC_GITDIR, 0);
	/*
	 * The ledger builds its trees and commits from objects it wrote or
	 * read itself: no existence check of each one (a search of every
	 * pack) when a tree or commit is made.
	 */
	git_libgit2_opts(GIT_OPT_ENABLE_STRICT_OBJECT_CREATION, 0);
	/*
	 * The ledger is the same whoever writes it: no user's or system's
	 * git configuration (and no failure when $HOME is not readable, as
	 * for relctl run under setpriv or sudo).
	 */
	git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, GIT_CONFIG_LEVEL_SYSTEM, "");
	git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, GIT_CONFIG_LEVEL_XDG, "");
	git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, GIT_CONFIG_LEVEL_GLOBAL, "");
	git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, GIT_CONFIG_LEVEL_PROGRAMDATA,
	    "");
}

int
ledger_init(const char *path)
{
	git_repository_init_options opts;
	git_repository *repo = NULL;

	pthread_once(&git_once, git_setup);
	git_repository_init_options_init(&opts,
	    GIT_REPOSITORY_INIT_OPTIONS_VERSION);
	opts.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKPATH;
	opts.initial_head = "main";
	opts.description = "relfs ledger: every change of release state";
	if (git_repository_init_ext(&repo, path, &opts) < 0)
		return ledger_git_fail("could not create the repository");
	git_repository_free(repo);
	return 0;
}

int
ledger_open(struct ledger **out, const char *path)
{
	struct ledger *lg;

	pthread_once(&git_once, git_setup);
	lg = calloc(1, sizeof(*lg));
	if (!lg)
		return -ENOMEM;
	if (git_repository_open_bare(&lg->repo, path) < 0) {
		int rc = ledger_git_fail("could not open the repository");

		free(lg);
		return rc;
	}
	lg->path = strdup(path);
	*out = lg;
	return 0;
}

void
ledger_close(struct ledger *lg)
{
	if (!lg)
		return;
	ledger_batch_free(lg);
	git_config_free(lg->bcfg);
	git_repository_free(lg->repo);
	free(lg->path);
	free(lg);
}

static int
batch_keep(struct ledger *lg, const git_oid *oid)
{
	if (!lg->brepo)
		return 0;
	if (lg->nobjs == lg->capobjs) {
		size_t cap = lg->capobjs ? lg->capobjs * 2 : 256;
		git_oid *v = realloc(lg->objs, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		lg->objs = v;
		lg->capobjs = cap;
	}
	git_oid_cpy(&lg->objs[lg->nobjs++], oid);
	return 0;
}

/* The trees a change of path rewrote: each directory on the way. */
static int
batch_keep_trees(struct ledger *lg, git_tree *tree, const char *path)
{
	char dir[4096];
	int rc = batch_keep(lg, git_tree_id(tree));

	snprintf(dir, sizeof(dir), "%s", path);
	for (char *slash = strchr(dir, '/'); rc == 0 && slash;
	    slash = strchr(slash + 1, '/')) {
		git_tree_entry *e = NULL;

		*slash = '\0';
		if (git_tree_entry_bypath(&e, tree, dir) == 0) {
			rc = batch_keep(lg, git_tree_entry_id(e));
			git_tree_entry_free(e);
		}
		*slash = '/';
	}
	return rc;
}


/*
 * One packfile of exactly the objects the batch wrote (a mempack dump
 * would add every object its commits reach: the whole tree each time).
 */
static int
write_bulk(struct ledger *lg, git_repository *repo, git_odb_backend *bulk)
{
	git_packbuilder *pb = NULL;
	git_buf pack = { 0 };
	git_odb_writepack *wp = NULL;
	git_indexer_progress stats;
	git_odb *odb = NULL;
	int rc = 0;

	if (git_packbuilder_new(&pb, repo) < 0) {
		rc = ledger_git_fail("could not build a pack");
		goto out;
	}
	git_packbuilder_set_threads(pb, 1);
	for (size_t i = 0; i < lg->nobjs; i++)
		if (git_packbuilder_insert(pb, &lg->objs[i], NULL) < 0) {
			rc = ledger_git_fail("could not build a pack");
			goto out;
		}
	if (git_packbuilder_write_buf(&pack, pb) < 0 ||
	    git_repository_odb(&odb, lg->repo) < 0 ||
	    git_odb_write_pack(&wp, odb, NULL, NULL) < 0 ||
	    wp->append(wp, pack.ptr, pack.size, &stats) < 0 ||
	    wp->commit(wp, &stats) < 0)
		rc = ledger_git_fail("could not write a pack");
out:
	if (wp)
		wp->free(wp);
	git_packbuilder_free(pb);
	git_odb_free(odb);
	git_buf_dispose(&pack);
	git_mempack_reset(bulk);
	return rc;
}

/*
 * Write the objects of one commit into repo; with bulk set they go to an
 * in-memory pack that is written as one packfile before HEAD moves, so a
 * commit of thousands of files is one file, not thousands.
 */
static int
commit_in(struct ledger *lg, const struct ledger_change *changes,
    size_t nchanges, const struct ledger_tag *tags, size_t ntags,
    const struct store_user *who, int64_t when, const char *message,
    uint64_t seq)
{
	git_repository *repo = lg->brepo ? lg->brepo : lg->repo;
	git_commit *parent = NULL;
	git_tree *base = NULL, *tree = NULL;
	git_tree_update *ups = NULL;
	git_treebuilder *tb = NULL;
	git_signature *sig = NULL;
	git_oid *oids = NULL, tree_id, commit_id, tag_id;
	git_object *target = NULL;
	char email[128], *msg = NULL;
	int rc;

	if (lg->brepo && lg->have_tip)
		rc = git_commit_lookup(&parent, repo, &lg->tip) < 0 ?
		    ledger_git_fail("could not read the batch's last "
		    "commit") : 0;
	else
		rc = ledger_head_commit(lg, &parent);
	if (rc == -ENOENT) {
		parent = NULL;
		if (git_treebuilder_new(&tb, repo, NULL) < 0 ||
		    git_treebuilder_write(&tree_id, tb) < 0 ||
		    git_tree_lookup(&base, repo, &tree_id) < 0) {
			rc = ledger_git_fail("could not create the first tree");
			goto out;
		}
	} else if (rc < 0) {
		goto out;
	} else if (git_commit_tree(&base, parent) < 0) {
		rc = ledger_git_fail("could not read HEAD's tree");
		goto out;
	}
	ups = calloc(nchanges ? nchanges : 1, sizeof(*ups));
	oids = calloc(nchanges ? nchanges : 1, sizeof(*oids));
	if (!ups || !oids) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < nchanges; i++) {
		if (changes[i].remove) {
			git_tree_entry *e = NULL;

			/* removing what is not there is no change */
			if (git_tree_entry_bypath(&e, base, changes[i].path) <
			    0) {
				ups[i].action = GIT_TREE_UPDATE_UPSERT;
				ups[i].path = NULL;
				continue;
			}
			git_tree_entry_free(e);
			ups[i].action = GIT_TREE_UPDATE_REMOVE;
			ups[i].path = changes[i].path;
			continue;
		}
		if (lg->mp) {
			/*
			 * Straight into the batch's memory: the usual path
			 * first looks the object up on disk, rescanning the
			 * pack directory for each new one.
			 */
			if (git_odb_hash(&oids[i], changes[i].data,
			    changes[i].len, GIT_OBJECT_BLOB) < 0 ||
			    lg->mp->write(lg->mp, &oids[i], changes[i].data,
			    changes[i].len, GIT_OBJECT_BLOB) < 0) {
				rc = ledger_git_fail("could not write a blob");
				goto out;
			}
		} else if (git_blob_create_from_buffer(&oids[i], repo,
		    changes[i].data, changes[i].len) < 0) {
			rc = ledger_git_fail("could not write a blob");
			goto out;
		}
		ups[i].action = GIT_TREE_UPDATE_UPSERT;
		ups[i].id = oids[i];
		ups[i].filemode = GIT_FILEMODE_BLOB;
		ups[i].path = changes[i].path;
	}
	/* drop the removals of absent paths */
	{
		size_t k = 0;

		for (size_t i = 0; i < nchanges; i++)
			if (ups[i].path)
				ups[k++] = ups[i];
		nchanges = k;
	}
	if (git_tree_create_updated(&tree_id, repo, base, nchanges,
	    ups) < 0 || git_tree_lookup(&tree, repo, &tree_id) < 0) {
		rc = ledger_git_fail("could not write the tree");
		goto out;
	}
	snprintf(email, sizeof(email), "%s@relfs", who->name);
	if (git_signature_new(&sig, who->name, email, (git_time_t)when, 0) <
	    0) {
		rc = ledger_git_fail("could not make a signature");
		goto out;
	}
	if (asprintf(&msg, "%s\n\nRelfs-Seq: %llu\nRelfs-Uid: %u\n", message,
	    (unsigned long long)seq, (unsigned)who->uid) < 0) {
		msg = NULL;
		rc = -ENOMEM;
		goto out;
	}
	if (git_commit_create(&commit_id, repo, lg->brepo ? NULL : "HEAD",
	    sig, sig, NULL, msg, tree, parent ? 1 : 0,
	    (const git_commit **)(parent ? &parent : NULL)) < 0) {
		rc = ledger_git_fail("could not write the commit");
		goto out;
	}
	if (lg->brepo) {
		lg->tip = commit_id;
		lg->have_tip = 1;
		rc = batch_keep(lg, &commit_id);
		for (size_t i = 0; rc == 0 && i < nchanges; i++) {
			if (!changes[i].remove)
				rc = batch_keep(lg, &oids[i]);
			if (rc == 0)
				rc = batch_keep_trees(lg, tree, changes[i].path);
		}
		if (rc < 0)
			goto out;
	}
	if (ntags && git_object_lookup(&target, repo, &commit_id,
	    GIT_OBJECT_COMMIT) < 0) {
		rc = ledger_git_fail("could not find the new commit");
		goto out;
	}
	for (size_t i = 0; i < ntags; i++) {
		struct pending_tag *pt;

		if (!lg->brepo) {
			if (git_tag_create(&tag_id, repo, tags[i].name, target,
			    sig, tags[i].message, 1) < 0) {
				rc = ledger_git_fail("could not write a tag");
				goto out;
			}
			continue;
		}
		/* it is made when the batch's pack is written */
		pt = realloc(lg->ptags, (lg->nptags + 1) * sizeof(*pt));
		if (!pt) {
			rc = -ENOMEM;
			goto out;
		}
		lg->ptags = pt;
		pt[lg->nptags].name = strdup(tags[i].name);
		pt[lg->nptags].message = strdup(tags[i].message);
		pt[lg->nptags].target = commit_id;
		if (git_signature_dup(&pt[lg->nptags].tagger, sig) < 0) {
			rc = ledger_git_fail("could not keep a tag");
			goto out;
		}
		lg->nptags++;
	}
	rc = 0;
out:
	git_object_free(target);
	free(msg);
	git_signature_free(sig);
	git_tree_free(tree);
	git_tree_free(base);
	git_treebuilder_free(tb);
	git_commit_free(parent);
	free(ups);
	free(oids);
	return rc;
}

void
ledger_batch_free(struct ledger *lg)
{
	for (size_t i = 0; i < lg->nptags; i++) {
		free(lg->ptags[i].name);
		free(lg->ptags[i].message);
		git_signature_free(lg->ptags[i].tagger);
	}
	free(lg->ptags);
	lg->ptags = NULL;
	lg->nptags = 0;
	free(lg->objs);
	lg->objs = NULL;
	lg->nobjs = lg->capobjs = 0;
	if (lg->mp)
		git_mempack_reset(lg->mp);
	git_repository_free(lg->brepo);	/* its odb owns the mempack */
	lg->brepo = NULL;
	lg->mp = NULL;
	lg->have_tip = 0;
}

/*
 * What a batch reads of the ledger on disk.  A write to an object database
 * first asks every backend whether the object is there, and a miss (a new
 * object always misses) makes libgit2 rescan the pack directory: one
 * directory listing per object written, slower with every pack.  This
 * backend answers from the ledger's own database without that rescan, and
 * has no write: the batch's objects go to its mempack.
 */
struct ledger_view {
	git_odb_backend parent;
	git_odb *odb;
};

static int
view_read(void **data, size_t *len, git_object_t *type, git_odb_backend *b,
    const git_oid *oid)
{
	struct ledger_view *v = (struct ledger_view *)b;
	git_odb_object *obj = NULL;
	int rc = git_odb_read(&obj, v->odb, oid);

	if (rc < 0)
		return rc;
	*len = git_odb_object_size(obj);
	*type = git_odb_object_type(obj);
	*data = git_odb_backend_data_alloc(b, *len ? *len : 1);
	if (*data)
		memcpy(*data, git_odb_object_data(obj), *len);
	git_odb_object_free(obj);
	return *data ? 0 : -1;
}

static int
view_read_header(size_t *len, git_object_t *type, git_odb_backend *b,
    const git_oid *oid)
{
	return git_odb_read_header(len, type, ((struct ledger_view *)b)->odb,
	    oid);
}

/*
 * Asked only before a write (strict object creation is off): "no", so the
 * object goes to the batch's memory without a search through every pack
 * on disk, twice (libgit2 asks again after a refresh).  An object that was
 * on disk already is then stored twice, which git allows.
 */
static int
view_exists(git_odb_backend *b, const git_oid *oid)
{
	(void)b;
	(void)oid;
	return 0;
}

static void
view_free(git_odb_backend *b)
{
	git_odb_free(((struct ledger_view *)b)->odb);
	free(b);
}

static int
view_new(struct ledger *lg, git_odb_backend **out)
{
	struct ledger_view *v = calloc(1, sizeof(*v));

	if (!v)
		return -1;
	git_odb_init_backend(&v->parent, GIT_ODB_BACKEND_VERSION);
	v->parent.read = view_read;
	v->parent.read_header = view_read_header;
	v->parent.exists = view_exists;
	v->parent.free = view_free;
	if (git_repository_odb(&v->odb, lg->repo) < 0) {
		free(v);
		return -1;
	}
	*out = &v->parent;
	return 0;
}

/*
 * A batch's pack is written while writers wait for the CPU: it skips the
 * search for deltas (a tenth of the ledger thread's time), and the idle
 * merge of packs (ledger_tidy), which finds them anyway, keeps the ledger
 * small.  libgit2 reads that from the repository's configuration, which a
 * batch's repository has none of: it gets this file, made once.
 */
static git_config *
batch_config(struct ledger *lg)
{
	static const char text[] = "# written by relfs: a batch's pack has "
	    "no deltas; the idle merge makes them\n[pack]\n"
	    "\tbigFileThreshold = 1\n";
	char path[4400];
	int fd;

	if (lg->bcfg)
		return lg->bcfg;
	snprintf(path, sizeof(path), "%s/relfs-batch.config", lg->path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd >= 0) {
		if (write_all(fd, text, sizeof(text) - 1) < 0)
			unlink(path);
		close(fd);
	}
	if (git_config_new(&lg->bcfg) < 0)
		return NULL;
	if (git_config_add_file_ondisk(lg->bcfg, path, GIT_CONFIG_LEVEL_APP,
	    NULL, 0) < 0) {
		git_config_free(lg->bcfg);
		lg->bcfg = NULL;
	}
	return lg->bcfg;
}

int
ledger_batch_begin(struct ledger *lg)
{
	git_odb_backend *view = NULL;
	git_odb *odb = NULL;
	int rc = 0;

	if (lg->brepo)
		return 0;
	if (git_odb_new(&odb) < 0 || git_mempack_new(&lg->mp) < 0) {
		rc = ledger_git_fail("could not start a batch");
	} else if (git_odb_add_backend(odb, lg->mp, 1000) < 0) {
		lg->mp->free(lg->mp);
		lg->mp = NULL;
		rc = ledger_git_fail("could not start a batch");
	} else if (view_new(lg, &view) < 0 ||
	    git_odb_add_backend(odb, view, 1) < 0) {
		if (view)
			view->free(view);
		rc = ledger_git_fail("could not start a batch");
	} else if (git_repository_wrap_odb(&lg->brepo, odb) < 0) {
		rc = ledger_git_fail("could not start a batch");
	} else if (batch_config(lg)) {
		/* without it, the pack only costs more */
		git_repository_set_config(lg->brepo, lg->bcfg);
	}
	git_odb_free(odb);	/* the batch's repository holds it */
	if (rc < 0) {
		if (!lg->brepo)
			lg->mp = NULL;	/* went with the database */
		ledger_batch_free(lg);
	}
	return rc;
}

void
ledger_batch_abort(struct ledger *lg)
{
	ledger_batch_free(lg);
}

int
ledger_batch_end(struct ledger *lg)
{
	git_reference *ref = NULL;
	int rc = 0;

	if (!lg->brepo)
		return 0;
	if (!lg->have_tip)
		goto out;
	/* the objects first, then the references, never the other way */
	if ((rc = write_bulk(lg, lg->brepo, lg->mp)) < 0)
		goto out;
	{
		git_odb *odb = NULL;

		/* let the main repository see the new pack */
		if (git_repository_odb(&odb, lg->repo) == 0)
			git_odb_refresh(odb);
		git_odb_free(odb);
	}
	if (git_reference_create(&ref, lg->repo, "refs/heads/main", &lg->tip,
	    1, "relfs") < 0) {
		rc = ledger_git_fail("could not move HEAD");
		goto out;
	}
	git_reference_free(ref);
	for (size_t i = 0; i < lg->nptags; i++) {
		git_object *target = NULL;
		git_oid tag_id;

		if (git_object_lookup(&target, lg->repo, &lg->ptags[i].target,
		    GIT_OBJECT_COMMIT) < 0 ||
		    git_tag_create(&tag_id, lg->repo, lg->ptags[i].name, target,
		    lg->ptags[i].tagger, lg->ptags[i].message, 1) < 0) {
			git_object_free(target);
			rc = ledger_git_fail("could not write a tag");
			goto out;
		}
		git_object_free(target);
	}
out:
	ledger_batch_free(lg);
	return rc;
}

int
ledger_commit(struct ledger *lg, const struct ledger_change *changes,
    size_t nchanges, const struct ledger_tag *tags, size_t ntags,
    const struct store_user *who, int64_t when, const char *message,
    uint64_t seq)
{
	int rc, own = !lg->brepo && nchanges >= 64;

	/* thousands of files: one packfile, not thousands of objects */
	if (own && (rc = ledger_batch_begin(lg)) < 0)
		return rc;
	rc = commit_in(lg, changes, nchanges, tags, ntags, who, when, message,
	    seq);
	if (own) {
		if (rc == 0)
			rc = ledger_batch_end(lg);
		else
			ledger_batch_abort(lg);
	}
	return rc;
}

int
ledger_sync(struct ledger *lg)
{
	int fd = open(lg->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0 || syncfs(fd) < 0)
		rc = store_seterr(-errno, "ledger: could not sync '%s': %s",
		    lg->path, strerror(errno));
	if (fd >= 0)
		close(fd);
	return rc;
}

/*
 * ledger_write.c - opening and writing the ledger: a batch's objects in
 * memory, one packfile a batch, commits (see ledger.h).
 */
#define _GNU_SOURCE
#include "ledger_impl.h"

#include "fanout.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <git2.h>
#include <git2/sys/mempack.h>
#include <git2/sys/odb_backend.h>
#include <git2/sys/repository.h>
#include <jansson.h>
#include <openssl/evp.h>
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
	 * Nor a second hash of every object read back (a batch's pack reads
	 * each object it wrote a moment ago): relctl verify checks every
	 * object with git fsck.
	 */
	git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, 0);
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

/* The layout HEAD is in: store.json says; a new ledger gets the newest. */
int
ledger_read_format(struct ledger *lg)
{
	char *info;
	size_t len;
	int rc = ledger_read(lg, "store.json", &info, &len);

	lg->format = FANOUT_FORMAT;
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	{
		json_t *j = json_loadb(info, len, 0, NULL);

		lg->format = (int)json_integer_value(json_object_get(j,
		    "format"));
		if (lg->format < 1)
			lg->format = 1;
		json_decref(j);
	}
	free(info);
	return 0;
}

int
ledger_open(struct ledger **out, const char *path)
{
	struct ledger *lg;
	int rc;

	pthread_once(&git_once, git_setup);
	lg = calloc(1, sizeof(*lg));
	if (!lg)
		return -ENOMEM;
	if (git_repository_open_bare(&lg->repo, path) < 0) {
		rc = ledger_git_fail("could not open the repository");
		free(lg);
		return rc;
	}
	lg->path = strdup(path);
	if (!lg->path) {
		ledger_close(lg);
		return -ENOMEM;
	}
	if ((rc = ledger_read_format(lg)) < 0) {
		ledger_close(lg);
		return rc;
	}
	*out = lg;
	return 0;
}

void
ledger_close(struct ledger *lg)
{
	if (!lg)
		return;
	ledger_batch_free(lg);
	git_repository_free(lg->repo);
	free(lg->path);
	free(lg);
}

int
ledger_batch_keep(struct ledger *lg, const git_oid *oid)
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

/*
 * One packfile of exactly the objects the batch wrote (a mempack dump
 * would add every object its commits reach: the whole tree each time).
 */
static int
write_bulk(struct ledger *lg, git_repository *repo, git_odb_backend *bulk)
{
	git_odb *odb = NULL;
	int rc;

	rc = git_repository_odb(&odb, repo) < 0 ?
	    ledger_git_fail("could not write a pack") :
	    ledger_pack_write(lg, odb, lg->objs, lg->nobjs);
	git_odb_free(odb);
	git_mempack_reset(bulk);
	return rc;
}

/*
 * The id of a blob of data: the SHA-1 of "blob <len>", a NUL and data, by
 * libcrypto.  git_odb_hash hashes with collision detection, at a third of
 * the speed, and an import's records are the ledger thread's biggest cost
 * after compressing them.  (What is read back is checked by libgit2's
 * own hash: the pack's indexer hashes every object again, and git fsck.)
 */
static int
blob_id(git_oid *id, const void *data, size_t len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	char head[32];
	int hl = snprintf(head, sizeof(head), "blob %zu", len);
	unsigned int mdlen = 0;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	int ok = c && EVP_DigestInit_ex(c, EVP_sha1(), NULL) &&
	    EVP_DigestUpdate(c, head, (size_t)hl + 1) &&
	    EVP_DigestUpdate(c, data, len) && EVP_DigestFinal_ex(c, md, &mdlen) &&
	    mdlen == GIT_OID_RAWSZ;

	EVP_MD_CTX_free(c);
	if (!ok)
		return -1;
	git_oid_fromraw(id, md);
	return 0;
}

/* -- a batch's commits: the changes of one user gathered into one ---- */

/*
 * Within a batch, the changes of one user follow each other into one
 * commit (a tagged change, another user, another second or GROUP_MAX
 * changes end it): its trees are written once, however many changes it
 * holds, so a change costs its own blobs and a share of a few trees,
 * whatever the size of the history.  Its message lists every change with
 * its number (see ledger.h).
 */
#define GROUP_MAX 2000

struct group_up {
	char *path;		/* where the ledger keeps it (fanout_path) */
	git_oid id;
	int remove;
	size_t order;		/* later changes of a path win */
};

static void
group_reset(struct ledger *lg)
{
	for (size_t i = 0; i < lg->ngups; i++)
		free(lg->gups[i].path);
	free(lg->gups);
	lg->gups = NULL;
	lg->ngups = lg->capgups = 0;
	free(lg->gsubject);
	lg->gsubject = NULL;
	free(lg->gbody);
	lg->gbody = NULL;
	lg->gbodylen = lg->gbodycap = 0;
	lg->gcount = 0;
}

static int
body_add(struct ledger *lg, uint64_t seq, const char *message)
{
	size_t need = strlen(message) + 32;

	if (lg->gbodylen + need >= lg->gbodycap) {
		size_t cap = (lg->gbodycap + need) * 2;
		char *b = realloc(lg->gbody, cap);

		if (!b)
			return -ENOMEM;
		lg->gbody = b;
		lg->gbodycap = cap;
	}
	lg->gbodylen += (size_t)snprintf(lg->gbody + lg->gbodylen,
	    lg->gbodycap - lg->gbodylen, "%llu %s\n", (unsigned long long)seq,
	    message);
	return 0;
}

/* Write the blobs of a change and add it to the batch's open commit. */
static int
group_add(struct ledger *lg, const struct ledger_change *changes,
    size_t nchanges, const struct store_user *who, int64_t when,
    const char *message, uint64_t seq)
{
	char path[4096];
	int rc;

	if (lg->ngups + nchanges > lg->capgups) {
		size_t cap = (lg->ngups + nchanges) * 2 + 64;
		struct group_up *v = realloc(lg->gups, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		lg->gups = v;
		lg->capgups = cap;
	}
	for (size_t i = 0; i < nchanges; i++) {
		struct group_up *u = &lg->gups[lg->ngups];

		if ((rc = fanout_path(lg->format, changes[i].path, path,
		    sizeof(path))) < 0)
			return store_seterr(rc, "ledger: '%s' is too long",
			    changes[i].path);
		memset(u, 0, sizeof(*u));
		u->remove = changes[i].remove;
		/*
		 * Straight into the batch's memory: the usual path first looks
		 * the object up on disk, rescanning the pack directory.
		 */
		if (!u->remove && (blob_id(&u->id, changes[i].data,
		    changes[i].len) < 0 ||
		    lg->mp->write(lg->mp, &u->id, changes[i].data,
		    changes[i].len, GIT_OBJECT_BLOB) < 0))
			return ledger_git_fail("could not write a blob");
		if (!(u->path = strdup(path)))
			return -ENOMEM;
		u->order = lg->ngups++;
	}
	if (lg->gcount == 0) {
		lg->gwho = *who;
		lg->gfirst = seq;
		if (!(lg->gsubject = strdup(message)))
			return -ENOMEM;
	}
	lg->gwhen = when;
	lg->glast = seq;
	lg->gcount++;
	return body_add(lg, seq, message);
}

static int
up_cmp(const void *a, const void *b)
{
	const struct group_up *x = a, *y = b;
	int c = strcmp(x->path, y->path);

	return c ? c : x->order < y->order ? -1 : x->order > y->order;
}

/*
 * Each directory the updated paths go through, in the new tree.  The paths
 * are sorted: the trees of the last one's directories are kept, from the
 * root down, and the next path loads only those it does not share (looked
 * up from the root for each path, the deep fan-out read the big trees
 * near the root again and again, and libgit2 does not cache trees of more
 * than 4 KiB: a cost that grew with the history).
 */
#define KEEP_DEPTH 64

static int
keep_dirs(struct ledger *lg, git_tree *tree, git_tree_update *ups,
    size_t n)
{
	git_tree *at[KEEP_DEPTH + 1];	/* at[0] is tree, not ours */
	size_t end[KEEP_DEPTH + 1];	/* where directory d's name ends */
	size_t depth = 0;
	const char *prev = NULL;
	int rc = ledger_batch_keep(lg, git_tree_id(tree));

	at[0] = tree;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		const char *p = ups[i].path, *slash;
		size_t shared = 0, off;

		while (shared < depth && strncmp(prev, p, end[shared + 1]) ==
		    0 && p[end[shared + 1]] == '/')
			shared++;
		while (depth > shared)
			git_tree_free(at[depth--]);
		off = depth ? end[depth] + 1 : 0;
		for (; rc == 0 && (slash = strchr(p + off, '/')); off =
		    (size_t)(slash - p) + 1) {
			char name[NAME_MAX_BYTES + 1];
			const git_tree_entry *e;
			size_t len = (size_t)(slash - p) - off;

			if (depth == KEEP_DEPTH || len > NAME_MAX_BYTES) {
				rc = store_seterr(-ENAMETOOLONG, "ledger: '%s' is "
				    "too deep", p);
				break;
			}
			memcpy(name, p + off, len);
			name[len] = '\0';
			/* a path removed may have taken its directory along */
			e = git_tree_entry_byname(at[depth], name);
			if (!e || git_tree_entry_type(e) != GIT_OBJECT_TREE)
				break;
			if ((rc = ledger_batch_keep(lg,
			    git_tree_entry_id(e))) < 0)
				break;
			if (git_tree_lookup(&at[depth + 1], lg->brepo,
			    git_tree_entry_id(e)) < 0) {
				rc = ledger_git_fail("could not read a new tree");
				break;
			}
			end[++depth] = (size_t)(slash - p);
		}
		prev = p;
	}
	while (depth > 0)
		git_tree_free(at[depth--]);
	return rc;
}

/* The tree a commit goes on: the batch's last commit, or HEAD's. */
int
ledger_group_base(struct ledger *lg, git_commit **parent, git_tree **base)
{
	git_treebuilder *tb = NULL;
	git_oid id;
	int rc;

	*parent = NULL;
	*base = NULL;
	if (lg->have_tip)
		rc = git_commit_lookup(parent, lg->brepo, &lg->tip) < 0 ?
		    ledger_git_fail("could not read the batch's last commit") :
		    0;
	else
		rc = ledger_head_commit(lg, parent);
	if (rc == -ENOENT) {
		*parent = NULL;
		if (git_treebuilder_new(&tb, lg->brepo, NULL) < 0 ||
		    git_treebuilder_write(&id, tb) < 0 ||
		    git_tree_lookup(base, lg->brepo, &id) < 0)
			rc = ledger_git_fail("could not create the first tree");
		else
			rc = 0;
		git_treebuilder_free(tb);
		return rc;
	}
	if (rc == 0 && git_commit_tree(base, *parent) < 0)
		rc = ledger_git_fail("could not read HEAD's tree");
	return rc;
}

/* A commit of tree on the batch's tip as who; tags go on it. */
int
ledger_commit_tree(struct ledger *lg, git_commit *parent, git_tree *tree,
    const struct store_user *who, int64_t when, const char *msg,
    const struct ledger_tag *tags, size_t ntags)
{
	git_signature *sig = NULL;
	git_oid commit_id;
	char email[128];
	int rc = 0;

	snprintf(email, sizeof(email), "%s@relfs", who->name);
	if (git_signature_new(&sig, who->name, email, (git_time_t)when, 0) < 0)
		return ledger_git_fail("could not make a signature");
	if (git_commit_create(&commit_id, lg->brepo, NULL, sig, sig, NULL, msg,
	    tree, parent ? 1 : 0, (const git_commit **)(parent ? &parent :
	    NULL)) < 0) {
		rc = ledger_git_fail("could not write the commit");
		goto out;
	}
	lg->tip = commit_id;
	lg->have_tip = 1;
	if ((rc = ledger_batch_keep(lg, &commit_id)) < 0)
		goto out;
	/* a tag's object is made when the batch's pack is written */
	for (size_t i = 0; i < ntags; i++) {
		struct pending_tag *pt = realloc(lg->ptags, (lg->nptags + 1) *
		    sizeof(*pt));

		if (!pt) {
			rc = -ENOMEM;
			goto out;
		}
		lg->ptags = pt;
		pt += lg->nptags;
		memset(pt, 0, sizeof(*pt));
		pt->target = commit_id;
		lg->nptags++;
		if (!(pt->name = strdup(tags[i].name)) ||
		    !(pt->message = strdup(tags[i].message))) {
			rc = -ENOMEM;
			goto out;
		}
		if (git_signature_dup(&pt->tagger, sig) < 0) {
			rc = ledger_git_fail("could not keep a tag");
			goto out;
		}
	}
out:
	git_signature_free(sig);
	return rc;
}

/* Commit the batch's open commit (with tags on it); nothing when empty. */
int
ledger_group_flush(struct ledger *lg, const struct ledger_tag *tags,
    size_t ntags)
{
	git_commit *parent = NULL;
	git_tree *base = NULL, *tree = NULL;
	git_tree_update *ups = NULL;
	git_oid tree_id;
	char *msg = NULL;
	size_t n = 0;
	int rc;

	if (lg->gcount == 0)
		return 0;
	if ((rc = ledger_group_base(lg, &parent, &base)) < 0)
		goto out;
	qsort(lg->gups, lg->ngups, sizeof(*lg->gups), up_cmp);
	if (!(ups = calloc(lg->ngups + 1, sizeof(*ups)))) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < lg->ngups; i++) {
		struct group_up *u = &lg->gups[i];

		/* the last change of a path is what it becomes */
		if (i + 1 < lg->ngups && strcmp(u->path, u[1].path) == 0)
			continue;
		if (u->remove) {
			git_tree_entry *e = NULL;

			/* removing what is not there is no change */
			if (git_tree_entry_bypath(&e, base, u->path) < 0)
				continue;
			git_tree_entry_free(e);
			ups[n].action = GIT_TREE_UPDATE_REMOVE;
		} else {
			/*
			 * Only the blob a path ends with goes into the pack: one
			 * a later change of the group replaced is in no commit
			 * (git fsck: a dangling blob).
			 */
			if ((rc = ledger_batch_keep(lg, &u->id)) < 0)
				goto out;
			ups[n].action = GIT_TREE_UPDATE_UPSERT;
			ups[n].id = u->id;
			ups[n].filemode = GIT_FILEMODE_BLOB;
		}
		ups[n++].path = u->path;
	}
	if (git_tree_create_updated(&tree_id, lg->brepo, base, n, ups) < 0 ||
	    git_tree_lookup(&tree, lg->brepo, &tree_id) < 0) {
		rc = ledger_git_fail("could not write the tree");
		goto out;
	}
	if ((rc = keep_dirs(lg, tree, ups, n)) < 0)
		goto out;
	if (lg->gcount == 1)
		rc = asprintf(&msg, "%s\n\nRelfs-Seq: %llu\nRelfs-Uid: %u\n",
		    lg->gsubject, (unsigned long long)lg->glast,
		    (unsigned)lg->gwho.uid);
	else
		rc = asprintf(&msg, "%s (and %zu more change%s)\n\n%.*s\n"
		    "Relfs-Changes: %zu\nRelfs-First-Seq: %llu\n"
		    "Relfs-Seq: %llu\nRelfs-Uid: %u\n", lg->gsubject,
		    lg->gcount - 1, lg->gcount == 2 ? "" : "s",
		    (int)lg->gbodylen, lg->gbody, lg->gcount,
		    (unsigned long long)lg->gfirst,
		    (unsigned long long)lg->glast, (unsigned)lg->gwho.uid);
	if (rc < 0) {
		msg = NULL;
		rc = -ENOMEM;
		goto out;
	}
	rc = ledger_commit_tree(lg, parent, tree, &lg->gwho, lg->gwhen, msg, tags,
	    ntags);
out:
	free(msg);
	free(ups);
	git_tree_free(tree);
	git_tree_free(base);
	git_commit_free(parent);
	group_reset(lg);
	return rc;
}

static int
same_user(const struct store_user *a, const struct store_user *b)
{
	return a->uid == b->uid && strcmp(a->name, b->name) == 0;
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
	group_reset(lg);
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
	/* a layout moved in the batch stays as HEAD has it */
	(void)ledger_read_format(lg);
}

int
ledger_batch_end(struct ledger *lg)
{
	git_reference *ref = NULL;
	int rc = 0;

	if (!lg->brepo)
		return 0;
	if ((rc = ledger_group_flush(lg, NULL, 0)) < 0 || !lg->have_tip)
		goto out;
	/* the objects first, then the references, never the other way */
	if ((rc = write_bulk(lg, lg->brepo, lg->mp)) < 0)
		goto out;
	ledger_refresh(lg);	/* the main repository sees the new pack */
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

/* The end of a batch a call made for itself: written, or dropped (rc). */
int
ledger_own_batch_end(struct ledger *lg, int rc)
{
	if (rc == 0)
		return ledger_batch_end(lg);
	ledger_batch_abort(lg);
	return rc;
}

int
ledger_commit(struct ledger *lg, const struct ledger_change *changes,
    size_t nchanges, const struct ledger_tag *tags, size_t ntags,
    const struct store_user *who, int64_t when, const char *message,
    uint64_t seq)
{
	int rc = 0, own = !lg->brepo;

	if (lg->pinned)
		return store_seterr(-EROFS, "ledger: a view of the past is "
		    "never written");
	/* outside a batch, a batch of its own: one packfile */
	if (own && (rc = ledger_batch_begin(lg)) < 0)
		return rc;
	/*
	 * A change of another second ends the group too: a commit's time is
	 * then every one of its changes' time, which a view of the past gives
	 * the files that carry no time of their own (ledger_file_times).
	 */
	if (lg->gcount && (!same_user(&lg->gwho, who) || lg->gwhen != when ||
	    lg->gcount >= GROUP_MAX))
		rc = ledger_group_flush(lg, NULL, 0);
	if (rc == 0)
		rc = group_add(lg, changes, nchanges, who, when, message, seq);
	/* a tag names the state right after its change */
	if (rc == 0 && ntags)
		rc = ledger_group_flush(lg, tags, ntags);
	return own ? ledger_own_batch_end(lg, rc) : rc;
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

int
ledger_format(const struct ledger *lg)
{
	return lg->format;
}

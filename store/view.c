/*
 * view.c - the store as it was at a commit of its ledger (at/<when>/ of
 * the mount, relctl status --at).  A view is an index rebuilt from the
 * ledger's tree at that commit (rebuild_index, the code relctl rebuild
 * runs), once per commit, kept under STORE/views/ and opened frozen; its
 * files' bytes are the content store's, which never forgets.  Every
 * evaluation in a view takes the view's time as now.
 */
#define _GNU_SOURCE
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cas.h"
#include "ledger.h"
#include "store_impl.h"

/* The index's layout: a view built by another version is built again. */
#define VIEW_FORMAT 1
/* Views kept on disk; the oldest go when a new one is built. */
#define VIEWS_KEPT 32

/*
 * The ledger at/ reads, opened once, with what is queued written first:
 * that is part of the past already (the daemon writes it before it
 * answers; relctl's store_open did, when no daemon runs).  past_mu is held
 * on success; past_leave lets it go.
 */
static int
past_enter(struct store *st)
{
	char p[4200];
	int rc = 0;

	if (st->async && store_drain(st) < 0)
		store_log(st, "ledger: %s (queued, retried at the next change)",
		    store_errmsg());
	pthread_mutex_lock(&st->past_mu);
	if (!st->past) {
		snprintf(p, sizeof(p), "%s/ledger.git", st->path);
		rc = ledger_open(&st->past, p);
	}
	if (rc < 0)
		pthread_mutex_unlock(&st->past_mu);
	return rc;
}

static void
past_leave(struct store *st)
{
	pthread_mutex_unlock(&st->past_mu);
}

int
store_view_find(struct store *st, const char *when, char id[41],
    int64_t *at)
{
	int rc = past_enter(st);

	if (rc < 0)
		return rc;
	rc = ledger_find(st->past, when, id, at);
	past_leave(st);
	return rc;
}

int
store_view_names(struct store *st, const char *prefix,
    int (*cb)(void *arg, const char *name, const char *id, int64_t at),
    void *arg)
{
	int rc = past_enter(st);

	if (rc < 0)
		return rc;
	rc = ledger_tag_names(st->past, prefix, cb, arg);
	past_leave(st);
	return rc;
}

struct kept {
	char name[300];
	int64_t mtime;
};

static int
kept_cmp(const void *a, const void *b)
{
	const struct kept *x = a, *y = b;

	return x->mtime < y->mtime ? -1 : x->mtime > y->mtime;
}

/* Remove the oldest views of dir beyond VIEWS_KEPT - 1 (one comes). */
static void
views_trim(const char *dir)
{
	struct kept *k = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	DIR *d = opendir(dir);
	char p[4600];

	if (!d)
		return;
	while ((e = readdir(d))) {
		struct stat sb;

		if (e->d_name[0] == '.' || strlen(e->d_name) >= sizeof(k->name))
			continue;
		snprintf(p, sizeof(p), "%s/%s/ready", dir, e->d_name);
		if (stat(p, &sb) < 0)
			continue;
		if (n == cap) {
			struct kept *nk = realloc(k, (cap = cap ? cap * 2 : 64) *
			    sizeof(*k));

			if (!nk)
				break;
			k = nk;
		}
		snprintf(k[n].name, sizeof(k[n].name), "%s", e->d_name);
		k[n++].mtime = sb.st_mtime;
	}
	closedir(d);
	if (n >= VIEWS_KEPT) {
		qsort(k, n, sizeof(*k), kept_cmp);
		for (size_t i = 0; i + VIEWS_KEPT - 1 < n; i++) {
			snprintf(p, sizeof(p), "%s/%s", dir, k[i].name);
			remove_tree(p);
		}
	}
	free(k);
}

/* A store on st's content and ledger, for building or reading a view. */
static struct store *
view_alloc(struct store *st, int64_t at)
{
	struct store *v = store_alloc(st->path);

	if (!v)
		return NULL;
	v->owner = st->owner;
	v->owner_gid = st->owner_gid;
	v->clock = at;
	if (cas_open(&v->cas, st->path) < 0) {
		store_close(v);
		return NULL;
	}
	return v;
}

/* Build the index of commit id in the new directory dir/index. */
static int
view_build(struct store *st, const char *id, int64_t at, const char *dir)
{
	char p[4400];
	struct store *v = view_alloc(st, at);
	uint64_t n;
	int rc, fd;

	if (!v)
		return -ENOMEM;
	snprintf(p, sizeof(p), "%s/ledger.git", st->path);
	if ((rc = ledger_open(&v->lg, p)) < 0 ||
	    (rc = ledger_pin(v->lg, id)) < 0)
		goto out;
	snprintf(p, sizeof(p), "%s/index", dir);
	if ((rc = index_open(&v->ix, p, 1)) < 0 ||
	    (rc = rebuild_index(v, &n)) < 0)
		goto out;
	/* on disk before it says it is whole */
	if ((rc = index_sync(v->ix)) < 0)
		goto out;
	snprintf(p, sizeof(p), "%s/ready", dir);
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		rc = store_seterr(-errno, "could not create '%s': %s", p,
		    strerror(errno));
	else
		close(fd);
out:
	store_close(v);
	return rc;
}

/* Open the built view in dir as of at. */
static int
view_load(struct store *st, const char *dir, int64_t at, struct store **out)
{
	char p[4400];
	struct store *v = view_alloc(st, at);
	int rc;

	if (!v)
		return -ENOMEM;
	snprintf(p, sizeof(p), "%s/index", dir);
	if ((rc = index_open_frozen(&v->ix, p)) < 0) {
		store_close(v);
		return rc;
	}
	*out = v;
	return 0;
}

int
store_view_open(struct store *st, const char *id, int64_t at,
    struct store **out)
{
	char views[4200], dir[4300], tmp[4300], p[4400];
	int rc, shared = 1;

	*out = NULL;
	snprintf(views, sizeof(views), "%s/views", st->path);
	snprintf(dir, sizeof(dir), "%s/%d-%s", views, VIEW_FORMAT, id);
	snprintf(p, sizeof(p), "%s/ready", dir);
	if (access(p, F_OK) == 0)
		return view_load(st, dir, at, out);
	/* one build at a time: a second asker waits and finds it built */
	pthread_mutex_lock(&st->view_mu);
	if (access(p, F_OK) == 0) {
		pthread_mutex_unlock(&st->view_mu);
		return view_load(st, dir, at, out);
	}
	if (mkdir(views, 0700) < 0 && errno != EEXIST)
		shared = 0;
	snprintf(tmp, sizeof(tmp), "%s/.build-XXXXXX", views);
	if (!shared || !mkdtemp(tmp)) {
		/* not ours to write (relctl by another user): a private one */
		const char *t = getenv("TMPDIR");

		shared = 0;
		snprintf(tmp, sizeof(tmp), "%s/relfs-view-XXXXXX",
		    t && *t ? t : "/tmp");
		if (!mkdtemp(tmp)) {
			pthread_mutex_unlock(&st->view_mu);
			return store_seterr(-errno, "could not create a "
			    "directory for a view: %s", strerror(errno));
		}
	}
	if (shared)
		views_trim(views);
	rc = view_build(st, id, at, tmp);
	if (rc == 0 && shared && rename(tmp, dir) < 0)
		rc = store_seterr(-errno, "could not keep the view '%s': %s",
		    dir, strerror(errno));
	if (rc == 0)
		rc = view_load(st, shared ? dir : tmp, at, out);
	/* a private view stays open after its files are gone */
	if (rc < 0 || !shared)
		remove_tree(tmp);
	pthread_mutex_unlock(&st->view_mu);
	return rc;
}

int
store_tags_queued(struct store *st, uint64_t *n)
{
	MDB_txn *txn;
	int rc;

	*n = 0;
	if ((rc = index_begin(st->ix, 1, &txn)) < 0)
		return rc;
	rc = index_get(st->ix, txn, TAB_META, "tags_queued", n, sizeof(*n));
	index_abort(txn);
	return rc == -ENOENT ? 0 : rc;
}

int
store_is_view(const struct store *st)
{
	return st->clock != 0;
}

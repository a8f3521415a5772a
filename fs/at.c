/*
 * at.c - at/<when>/: the tree as it was, read-only.  The store answers
 * (store_view_find, store_view_open: views built from the ledger); this
 * file gives their nodes inode numbers of their own and routes requests.
 *
 * Inode numbers under at/ have AT_BIT set:
 *   AT_BIT | level            at/ itself (level 0) and the levels of the
 *                             tags' names (at/promote/, at/promote/daily/...)
 *   AT_BIT | slot << 40 | n   node n of the view in slot (1, 2, ...)
 * A slot is a (commit, time) pair, kept for the daemon's life; the view
 * itself is opened when asked for (without fs->at_mu: a view being built
 * holds up only the requests for it), and closed when AT_OPEN views are
 * open and it is the one used longest ago by no request.
 */
#define _GNU_SOURCE
#include "fs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FS(req) ((struct fs *)fuse_req_userdata(req))

#define AT_SHIFT 40
#define AT_NODE_MASK ((1ULL << AT_SHIFT) - 1)
#define AT_SLOTS (1U << 20)
#define AT_OPEN 64

struct at_view {
	char id[41];
	int64_t at;
	struct store *st;	/* NULL: not open now */
	unsigned users;		/* requests using st right now */
	int opening;		/* being opened (built) by a request */
	uint64_t used;		/* when last used (a counter) */
};

int
at_is(uint64_t ino)
{
	return (ino & AT_BIT) && !(ino & INC_BIT);
}

static unsigned
slot_of(uint64_t ino)
{
	return (unsigned)((ino & ~AT_BIT) >> AT_SHIFT);
}

/* The level named prefix ("" is at/ itself): its number, made once. */
static int
level_of(struct fs *fs, const char *prefix, uint64_t *out)
{
	int rc = 0;

	pthread_mutex_lock(&fs->at_mu);
	/* level 0, at/ itself, is "" */
	if (fs->nlevels == 0) {
		if (!(fs->levels = calloc(16, sizeof(char *))) ||
		    !(fs->levels[0] = strdup(""))) {
			rc = -ENOMEM;
			goto out;
		}
		fs->caplevels = 16;
		fs->nlevels = 1;
	}
	for (size_t i = 0; i < fs->nlevels; i++)
		if (strcmp(fs->levels[i], prefix) == 0) {
			*out = AT_BIT | i;
			goto out;
		}
	if (fs->nlevels == fs->caplevels) {
		size_t cap = fs->caplevels ? fs->caplevels * 2 : 16;
		char **v = cap < (1U << 30) ? realloc(fs->levels, cap *
		    sizeof(*v)) : NULL;

		if (!v) {
			rc = -ENOMEM;
			goto out;
		}
		fs->levels = v;
		fs->caplevels = cap;
	}
	if (!(fs->levels[fs->nlevels] = strdup(prefix))) {
		rc = -ENOMEM;
		goto out;
	}
	*out = AT_BIT | fs->nlevels++;
out:
	pthread_mutex_unlock(&fs->at_mu);
	return rc;
}

/* The prefix of level ino, copied into out (-ENOENT: no such level). */
static int
level_name(struct fs *fs, uint64_t ino, char *out, size_t len)
{
	uint64_t i = ino & AT_NODE_MASK;
	int rc = -ENOENT;

	pthread_mutex_lock(&fs->at_mu);
	if (i < fs->nlevels) {
		snprintf(out, len, "%s", fs->levels[i]);
		rc = 0;
	}
	pthread_mutex_unlock(&fs->at_mu);
	return rc;
}

/* The slot of (id, at), made once. */
static int
slot_for(struct fs *fs, const char *id, int64_t at, unsigned *out)
{
	int rc = 0;

	pthread_mutex_lock(&fs->at_mu);
	for (size_t i = 0; i < fs->nviews; i++)
		if (fs->views[i].at == at && strcmp(fs->views[i].id, id) == 0) {
			*out = (unsigned)i + 1;
			goto out;
		}
	if (fs->nviews + 1 >= AT_SLOTS) {
		rc = store_seterr(-ENFILE, "at/: %u views asked for since the "
		    "mount: remount to ask for more", AT_SLOTS - 1);
		goto out;
	}
	if (fs->nviews == fs->capviews) {
		size_t cap = fs->capviews ? fs->capviews * 2 : 16;
		struct at_view *v = realloc(fs->views, cap * sizeof(*v));

		if (!v) {
			rc = -ENOMEM;
			goto out;
		}
		fs->views = v;
		fs->capviews = cap;
	}
	memset(&fs->views[fs->nviews], 0, sizeof(*fs->views));
	snprintf(fs->views[fs->nviews].id, sizeof(fs->views->id), "%s", id);
	fs->views[fs->nviews].at = at;
	*out = (unsigned)++fs->nviews;
out:
	pthread_mutex_unlock(&fs->at_mu);
	return rc;
}

/*
 * The store of view slot, open and held for one request (at_put lets it
 * go).  Opening one may build it: the first look at a commit takes as
 * long as a rebuild of the store as it was then.
 */
static int
at_get(struct fs *fs, unsigned slot, struct store **out)
{
	struct store *st = NULL;
	char id[41];
	int64_t at;
	size_t i = slot - 1;
	int rc = 0;

	pthread_mutex_lock(&fs->at_mu);
	if (slot == 0 || slot > fs->nviews) {
		pthread_mutex_unlock(&fs->at_mu);
		return -ENOENT;
	}
	/* (by number: the table may grow while the lock is let go) */
	while (fs->views[i].opening)
		pthread_cond_wait(&fs->at_cond, &fs->at_mu);
	if (!fs->views[i].st) {
		size_t open = 0, old = fs->nviews;

		for (size_t k = 0; k < fs->nviews; k++) {
			if (!fs->views[k].st)
				continue;
			open++;
			if (!fs->views[k].users && (old == fs->nviews ||
			    fs->views[k].used < fs->views[old].used))
				old = k;
		}
		if (open >= AT_OPEN && old < fs->nviews) {
			store_close(fs->views[old].st);
			fs->views[old].st = NULL;
		}
		/* opened (perhaps built) without the lock: other views answer */
		fs->views[i].opening = 1;
		memcpy(id, fs->views[i].id, sizeof(id));
		at = fs->views[i].at;
		pthread_mutex_unlock(&fs->at_mu);
		rc = store_view_open(fs->st, id, at, &st);
		pthread_mutex_lock(&fs->at_mu);
		fs->views[i].opening = 0;
		fs->views[i].st = st;
		pthread_cond_broadcast(&fs->at_cond);
	}
	if (rc == 0) {
		fs->views[i].users++;
		fs->views[i].used = ++fs->at_tick;
		*out = fs->views[i].st;
	}
	pthread_mutex_unlock(&fs->at_mu);
	return rc;
}

static void
at_put(struct fs *fs, unsigned slot)
{
	pthread_mutex_lock(&fs->at_mu);
	fs->views[slot - 1].users--;
	pthread_mutex_unlock(&fs->at_mu);
}

void
at_changed(struct fs *fs)
{
	uint64_t tags;
	size_t n;

	/* only a change that queued a tag (a promotion, a freeze) */
	if (store_tags_queued(fs->st, &tags) < 0)
		return;
	pthread_mutex_lock(&fs->at_mu);
	n = tags != fs->at_tags ? fs->nlevels : 0;
	fs->at_tags = tags;
	pthread_mutex_unlock(&fs->at_mu);
	/* its tag comes with its commit: the listings go stale */
	for (size_t i = 0; i < n; i++)
		fuse_lowlevel_notify_inval_inode(fs->se, AT_BIT | i, 0, 0);
}

void
at_destroy(struct fs *fs)
{
	for (size_t i = 0; i < fs->nviews; i++)
		store_close(fs->views[i].st);
	free(fs->views);
	for (size_t i = 0; i < fs->nlevels; i++)
		free(fs->levels[i]);
	free(fs->levels);
}

/* A level's attributes: a directory nobody writes, dated as the root. */
static void
level_attr(struct fs *fs, uint64_t ino, struct stat *st)
{
	struct node root;

	memset(st, 0, sizeof(*st));
	if (store_node_get(fs->st, INO_ROOT, &root) == 0)
		attr_node_in(fs, fs->st, INO_ROOT, &root, st);
	st->st_ino = ino;
	st->st_mode = S_IFDIR | 0555;
	st->st_nlink = 2;
	st->st_size = 0;
	st->st_blocks = 0;
}

/*
 * The entry of a level: a level never goes (tags are never removed), so
 * the kernel keeps its name and attributes (a zero timeout would cost a
 * LOOKUP and a GETATTR of at/ at every path walk into the past); only its
 * listing, which grows as tags come, is told to the kernel again after
 * every change that queued a tag (at_changed).
 */
static void
level_entry(struct fs *fs, uint64_t ino, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = ino;
	level_attr(fs, ino, &e->attr);
	e->entry_timeout = e->attr_timeout = fs->timeout;
}

/* The entry of node n (number vino) of the view in slot. */
static void
view_entry(struct fs *fs, struct store *v, unsigned slot, uint64_t vino,
    const struct node *n, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = AT_BIT | (uint64_t)slot << AT_SHIFT | vino;
	attr_node_in(fs, v, vino, n, &e->attr);
	e->attr.st_ino = e->ino;
	/* the past never changes */
	e->entry_timeout = e->attr_timeout = fs->timeout;
}

void
at_root_lookup(fuse_req_t req)
{
	struct fuse_entry_param e;
	uint64_t ino;
	int rc = level_of(FS(req), "", &ino);

	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	level_entry(FS(req), ino, &e);
	fuse_reply_entry(req, &e);
}

struct any {
	int found;
};

static int
any_name(void *arg, const char *name, const char *id, int64_t at)
{
	(void)name;
	(void)id;
	(void)at;
	((struct any *)arg)->found = 1;
	return 1;	/* one is enough */
}

/* name in level prefix: a view's root, a level, or nothing. */
static int
level_lookup(struct fs *fs, const char *prefix, const char *name,
    struct fuse_entry_param *e)
{
	char when[4200], id[41];
	struct store *v;
	struct node n;
	struct any any = { 0 };
	unsigned slot;
	uint64_t lvl;
	int64_t at;
	int rc;

	if (snprintf(when, sizeof(when), "%s%s%s", prefix, *prefix ? "/" :
	    "", name) >= (int)sizeof(when))
		return -ENAMETOOLONG;
	rc = store_view_find(fs->st, when, id, &at);
	if (rc == 0) {
		if ((rc = slot_for(fs, id, at, &slot)) < 0 ||
		    (rc = at_get(fs, slot, &v)) < 0)
			return rc;
		rc = store_node_get(v, INO_ROOT, &n);
		if (rc == 0)
			view_entry(fs, v, slot, INO_ROOT, &n, e);
		at_put(fs, slot);
		/*
		 * A time of the last moments may yet gain a commit of its
		 * second: its name is looked up again each time.
		 */
		if (rc == 0 && at >= (int64_t)time(NULL) - 1 &&
		    strcmp(id, when) != 0)
			e->entry_timeout = 0;
		return rc;
	}
	if (store_view_names(fs->st, when, any_name, &any) < 0 || !any.found)
		return -ENOENT;
	if ((rc = level_of(fs, when, &lvl)) < 0)
		return rc;
	level_entry(fs, lvl, e);
	return 0;
}

void
at_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = FS(req);
	struct fuse_entry_param e;
	char prefix[4096];
	unsigned slot = slot_of(parent);
	int rc;

	if (slot == 0) {
		rc = level_name(fs, parent, prefix, sizeof(prefix));
		if (rc == 0)
			rc = level_lookup(fs, prefix, name, &e);
	} else {
		struct store *v;
		struct node n;
		uint64_t ino;

		if ((rc = at_get(fs, slot, &v)) < 0) {
			fuse_reply_err(req, -rc);
			return;
		}
		rc = store_node_lookup(v, parent & AT_NODE_MASK, name, &ino, &n);
		if (rc == 0)
			view_entry(fs, v, slot, ino, &n, &e);
		at_put(fs, slot);
	}
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_entry(req, &e);
}

/*
 * Node ino of its view: the view held (at_put(fs, *slot) lets it go) and
 * its node in n; an errno, nothing held, when it is not there.
 */
static int
view_node(struct fs *fs, fuse_ino_t ino, unsigned *slot, struct store **v,
    struct node *n)
{
	int rc;

	*slot = slot_of(ino);
	if ((rc = at_get(fs, *slot, v)) < 0)
		return rc;
	if ((rc = store_node_get(*v, ino & AT_NODE_MASK, n)) < 0)
		at_put(fs, *slot);
	return rc;
}

void
at_getattr(fuse_req_t req, fuse_ino_t ino)
{
	struct fs *fs = FS(req);
	struct fuse_entry_param e;
	unsigned slot = slot_of(ino);
	struct store *v;
	struct node n;
	int rc;

	if (slot == 0) {
		char prefix[4096];

		if ((rc = level_name(fs, ino, prefix, sizeof(prefix))) < 0) {
			fuse_reply_err(req, -rc);
			return;
		}
		level_attr(fs, ino, &e.attr);
		fuse_reply_attr(req, &e.attr, fs->timeout);
		return;
	}
	if ((rc = view_node(fs, ino, &slot, &v, &n)) < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	view_entry(fs, v, slot, ino & AT_NODE_MASK, &n, &e);
	at_put(fs, slot);
	fuse_reply_attr(req, &e.attr, e.attr_timeout);
}

void
at_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct fs *fs = FS(req);
	unsigned slot = slot_of(ino);
	struct store *v;
	struct node n;
	char *target = NULL;
	int rc;

	if (slot == 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if ((rc = view_node(fs, ino, &slot, &v, &n)) < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	rc = store_node_readlink(v, &n, &target);
	at_put(fs, slot);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_readlink(req, target);
	free(target);
}

void
at_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = FS(req);
	unsigned slot = slot_of(ino);
	struct store *v;
	struct node n;
	int rc, fd = -1;

	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
		at_refuse(req, "open for writing");
		return;
	}
	if (slot == 0) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	if ((rc = view_node(fs, ino, &slot, &v, &n)) < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	if (store_node_is_dynamic(&n)) {
		rc = status_open(req, v, ino & AT_NODE_MASK, &n, fi);
		/* as it was then: the same bytes at every open */
		at_put(fs, slot);
		if (rc < 0)
			fs_refuse(req, -rc, "open");
		return;
	}
	if (n.kind != NODE_FILE && n.kind != NODE_DEP)
		rc = -EISDIR;
	else
		rc = store_node_open(v, &n, &fd);
	at_put(fs, slot);
	if (rc < 0) {
		fs_refuse(req, -rc, "open");
		return;
	}
	fi->fh = (uint64_t)fd;
	fi->keep_cache = 1;
	fi->noflush = 1;
	fuse_reply_open(req, fi);
}

struct at_dirbuf {
	struct fs *fs;
	fuse_req_t req;
	struct store *v;
	unsigned slot;
	const char *prefix;
	char *buf;
	size_t size, used;
	uint64_t off, i;	/* a level's: how many were sent, this one */
	int plus;
};

/* Add one entry (e: its attributes; e->ino 0: no lookup counted). */
static int
dir_add(struct at_dirbuf *d, const char *name,
    const struct fuse_entry_param *e, uint64_t next_off)
{
	return fs_dirent_add(d->req, d->buf, d->size, &d->used, d->plus, name,
	    e, next_off);
}

static int
view_dir_one(void *arg, const char *name, uint64_t ino, const struct node *n,
    uint64_t next_off)
{
	struct at_dirbuf *d = arg;
	struct fuse_entry_param e;

	view_entry(d->fs, d->v, d->slot, ino, n, &e);
	return dir_add(d, name, &e, next_off);
}

/*
 * One name of a level's listing (id: a whole tag's commit, a view's root;
 * NULL: a level below): what comes before d->off was sent already.
 */
static int
level_dir_one(void *arg, const char *name, const char *id, int64_t at)
{
	struct at_dirbuf *d = arg;
	struct fuse_entry_param e;
	char when[4200];
	unsigned slot;
	uint64_t lvl;

	if (++d->i <= d->off)
		return 0;
	memset(&e, 0, sizeof(e));
	e.attr.st_mode = S_IFDIR | 0555;
	if (id) {
		/*
		 * A view's root by number only (e.ino 0: no attributes, no
		 * lookup counted): a listing builds no view; a stat of it
		 * does.
		 */
		if (slot_for(d->fs, id, at, &slot) < 0)
			return 0;
		e.attr.st_ino = (ino_t)(AT_BIT | (uint64_t)slot << AT_SHIFT |
		    INO_ROOT);
	} else {
		snprintf(when, sizeof(when), "%s%s%s", d->prefix,
		    *d->prefix ? "/" : "", name);
		if (level_of(d->fs, when, &lvl) < 0)
			return 0;
		if (d->plus)
			level_entry(d->fs, lvl, &e);
		else
			level_attr(d->fs, lvl, &e.attr);
	}
	return dir_add(d, name, &e, d->i);
}

void
at_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, int plus)
{
	struct fs *fs = FS(req);
	struct at_dirbuf d = { fs, req, NULL, slot_of(ino), NULL, NULL, size,
	    0, (uint64_t)off, 0, plus };
	char prefix[4096];
	struct node n;
	int rc;

	if (!(d.buf = malloc(size))) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (d.slot == 0) {
		rc = level_name(fs, ino, prefix, sizeof(prefix));
		d.prefix = prefix;
		/* (a full buffer stops the names: not an error) */
		if (rc == 0 && (rc = store_view_names(fs->st, prefix,
		    level_dir_one, &d)) > 0)
			rc = 0;
	} else if ((rc = at_get(fs, d.slot, &d.v)) == 0) {
		rc = store_node_get(d.v, ino & AT_NODE_MASK, &n);
		if (rc == 0 && n.kind != NODE_DIR && n.kind != NODE_RESULTS &&
		    n.kind != NODE_INCOMING)
			rc = -ENOTDIR;
		/* the staging area and results/ of then: not history */
		if (rc == 0 && n.kind == NODE_DIR)
			rc = store_dir_list(d.v, ino & AT_NODE_MASK,
			    (uint64_t)off, view_dir_one, &d);
		at_put(fs, d.slot);
	}
	if (rc < 0 && d.used == 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_buf(req, d.buf, d.used);
	free(d.buf);
}

void
at_refuse(fuse_req_t req, const char *what)
{
	store_seterr(-EROFS, "%s: at/ shows the past, which is never "
	    "changed", what);
	fs_refuse(req, EROFS, what);
}

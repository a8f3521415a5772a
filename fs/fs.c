/*
 * fs.c - what every part of the FUSE side uses: the caller of a request,
 * refusals and their log line, the invalidations the kernel is sent after
 * a change, and the dirty marks of descriptors.
 */
#define _GNU_SOURCE
#include "fs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FS(req) ((struct fs *)fuse_req_userdata(req))

void
fs_changed(struct fs *fs)
{
	uint64_t *inos = NULL;
	size_t n = 0;

	pthread_mutex_lock(&fs->chg_mu);
	if (store_changes(fs->st, &fs->chg_since, &inos, &n) < 0)
		n = 0;
	pthread_mutex_unlock(&fs->chg_mu);
	/*
	 * Inode invalidations only: they take no directory lock, so they are
	 * safe from inside a request (entry invalidations are not).
	 */
	for (size_t i = 0; i < n; i++) {
		uint64_t kernel;
		int res;

		fuse_lowlevel_notify_inval_inode(fs->se, inos[i], 0, 0);
		/* an artifact's results/: the kernel knows it by another */
		pthread_mutex_lock(&fs->mu);
		res = attr_results_ino(fs, inos[i], &kernel);
		pthread_mutex_unlock(&fs->mu);
		if (res)
			fuse_lowlevel_notify_inval_inode(fs->se, kernel, 0, 0);
	}
	/* what a layer above keeps of the tree (at/'s listings: main.c) */
	if (n && fs->on_change)
		fs->on_change(fs);
	free(inos);
}

void
fs_refusal(fuse_req_t req, int err, const char *what)
{
	struct fs *fs = FS(req);
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	const char *msg = store_errmsg();

	store_log(fs->st, "refused %s for uid %u: %s", what,
	    (unsigned)ctx->uid, *msg ? msg : strerror(err));
	if (fs->debug)
		fprintf(stderr, "relfs: refused %s: %s\n", what,
		    *msg ? msg : strerror(err));
}

void
fs_refuse(fuse_req_t req, int err, const char *what)
{
	fs_refusal(req, err, what);
	fuse_reply_err(req, err);
}

void
fs_who(fuse_req_t req, struct store_user *who)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	int n;

	store_user_from_uid(who, ctx->uid, ctx->gid);
	if (ctx->uid == 0)
		return;		/* root holds every role: no need to ask */
	/* the caller's groups, as the kernel has them (from /proc) */
	n = fuse_req_getgroups(req, STORE_USER_GROUPS, who->groups);
	who->ngroups = n < 0 ? 0 : n > STORE_USER_GROUPS ? STORE_USER_GROUPS :
	    n;
}

int
fs_staging_deny(fuse_req_t req, const char *what)
{
	struct store_user who;
	int rc;

	fs_who(req, &who);
	if ((rc = store_staging_may(FS(req)->st, &who, what)) == 0)
		return 0;
	fs_refuse(req, -rc, what);
	return 1;
}

void
fs_mark_dirty(struct fs *fs, int fd, int dirty)
{
	if (fd >= 0 && (size_t)fd < fs->ndirty)
		fs->dirty[fd] = dirty ? fs->dirty[fd] | (uint8_t)dirty : 0;
}

void
fs_inval(struct fs *fs, uint64_t parent, const char *name, uint64_t ino)
{
	struct inval *q = calloc(1, sizeof(*q));

	if (!q)
		return;
	q->parent = parent;
	q->name = name ? strdup(name) : NULL;
	q->ino = ino;
	pthread_mutex_lock(&fs->qmu);
	if (fs->qtail)
		fs->qtail->next = q;
	else
		fs->qhead = q;
	fs->qtail = q;
	pthread_cond_signal(&fs->qcond);
	pthread_mutex_unlock(&fs->qmu);
}

int
fs_dirent_add(fuse_req_t req, char *buf, size_t size, size_t *used,
    int plus, const char *name, const struct fuse_entry_param *e,
    uint64_t next_off)
{
	size_t len = plus ? fuse_add_direntry_plus(req, buf + *used,
	    size - *used, name, e, (off_t)next_off) : fuse_add_direntry(req,
	    buf + *used, size - *used, name, &e->attr, (off_t)next_off);

	if (len > size - *used)
		return 1;
	*used += len;
	return 0;
}

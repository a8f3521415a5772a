/*
 * dir.c - listing directories: the index's (resumable by child inode) and
 * the staging area's.
 */
#define _GNU_SOURCE
#include "fs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define FS(req) ((struct fs *)fuse_req_userdata(req))

void
dir_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = FS(req);
	struct inc_node *in = attr_route(fs, &ino);
	struct node n;
	int rc;

	store_clearerr();
	if (fs->no_opendir) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	if (at_is(ino)) {
		/* a view never changes; a level gains tags */
		fi->fh = 0;
		fi->cache_readdir = fi->keep_cache = (ino & ~AT_BIT) >> 40 ?
		    1 : 0;
		fuse_reply_open(req, fi);
		return;
	}
	if (in) {
		inc_opendir(req, in, fi);
		return;
	}
	rc = store_node_get(fs->st, ino, &n);
	if (rc == 0 && n.kind != NODE_DIR)
		rc = -ENOTDIR;
	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	fi->fh = 0;
	if (!(n.flags & NODE_MUTABLE)) {
		fi->cache_readdir = 1;
		fi->keep_cache = 1;
	}
	fuse_reply_open(req, fi);
}

struct dirbuf {
	struct fs *fs;
	fuse_req_t req;
	char *buf;
	size_t size, used;
	int plus;
};

static int
add_entry(void *arg, const char *name, uint64_t ino, const struct node *n,
    uint64_t next_off)
{
	struct dirbuf *d = arg;
	struct fuse_entry_param e;

	if (!d->plus) {
		memset(&e, 0, sizeof(e));
		attr_node(d->fs, ino, n, &e.attr);
	} else if (n->kind == NODE_RESULTS) {
		if (attr_results_entry(d->fs, ino, n, &e) < 0)
			return 0;	/* leave it out of the listing */
	} else {
		attr_entry(d->fs, ino, n, &e);
	}
	if (fs_dirent_add(d->req, d->buf, d->size, &d->used, d->plus, name,
	    &e, next_off)) {
		/* not sent: give back the lookup attr_results_entry counted */
		if (d->plus && n->kind == NODE_RESULTS)
			inc_forget(d->fs, inc_node_of(d->fs, e.ino), 1);
		return 1;
	}
	return 0;
}

static void
do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
    struct fuse_file_info *fi, int plus)
{
	struct fs *fs = FS(req);
	struct inc_node *in = attr_route(fs, &ino);
	struct dirbuf d = { fs, req, NULL, size, 0, plus };
	int rc;

	if (in) {
		inc_readdir(req, in, size, off, fi, plus);
		return;
	}
	if (at_is(ino)) {
		at_readdir(req, ino, size, off, plus);
		return;
	}
	d.buf = malloc(size);
	if (!d.buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	rc = store_dir_list(fs->st, ino, (uint64_t)off, add_entry, &d);
	if (rc < 0 && d.used == 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_buf(req, d.buf, d.used);
	free(d.buf);
}

void
dir_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
    struct fuse_file_info *fi)
{
	store_clearerr();
	do_readdir(req, ino, size, off, fi, 0);
}

void
dir_readplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
    struct fuse_file_info *fi)
{
	store_clearerr();
	do_readdir(req, ino, size, off, fi, 1);
}

void
dir_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct inc_node *in = attr_route(FS(req), &ino);

	store_clearerr();
	if (in)
		inc_releasedir(req, fi);
	else
		fuse_reply_err(req, 0);
}

void
dir_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
    struct fuse_file_info *fi)
{
	store_clearerr();
	(void)ino;
	(void)datasync;
	(void)fi;
	fuse_reply_err(req, -store_sync(FS(req)->st));
}

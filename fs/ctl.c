/*
 * ctl.c - writes into the index through the mount: criteria.json, hold,
 * approvals/<stage>, waivers/<testcase>, project criteria.  The bytes go to
 * a spool file under STORE/tmp while the file is open; closing it hands
 * them to the store, which accepts them in one transaction or refuses them,
 * and the refusal is what close() returns.
 */
#define _GNU_SOURCE
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define FS(req) ((struct fs *)fuse_req_userdata(req))

struct ctl {
	uint64_t dir;
	char name[NAME_MAX_BYTES + 1];
	char spool[4200];
};

static int
spool_open(struct fs *fs, uint64_t dir, const char *name, int *fd_out)
{
	struct ctl *c = calloc(1, sizeof(*c));
	int fd;

	if (!c)
		return -ENOMEM;
	snprintf(c->spool, sizeof(c->spool), "%s/tmp/ctl.XXXXXX",
	    store_path(fs->st));
	fd = mkostemp(c->spool, O_CLOEXEC);
	if (fd < 0) {
		free(c);
		return store_seterr(-errno, "could not make a spool file: %s",
		    strerror(errno));
	}
	if ((size_t)fd >= fs->ndirty) {
		close(fd);
		unlink(c->spool);
		free(c);
		return -EMFILE;
	}
	c->dir = dir;
	snprintf(c->name, sizeof(c->name), "%s", name);
	fs->ctl[fd] = c;
	*fd_out = fd;
	return 0;
}

void
ctl_create(fuse_req_t req, uint64_t dir, const char *name,
    struct fuse_file_info *fi)
{
	struct fs *fs = FS(req);
	struct fuse_entry_param e;
	struct store_user who;
	int rc, fd;

	fs_who(req, &who);
	if ((rc = store_ctl_writable(fs->st, dir, name, &who)) < 0) {
		fs_refuse(req, -rc, "create");
		return;
	}
	if ((rc = spool_open(fs, dir, name, &fd)) < 0) {
		fs_refuse(req, -rc, "create");
		return;
	}
	/* until it is closed, the new file is the spool file */
	rc = inc_entry_path(fs, fs->ctl[fd]->spool, &e);
	if (rc < 0) {
		ctl_release(fs, fd);
		fuse_reply_err(req, -rc);
		return;
	}
	fs_mark_dirty(fs, fd, DIRTY_CREATED);
	fi->fh = (uint64_t)fd;
	fi->direct_io = 1;
	fuse_reply_create(req, &e, fi);
}

int
ctl_open(fuse_req_t req, uint64_t dir, const char *name,
    struct fuse_file_info *fi)
{
	struct fs *fs = FS(req);
	int rc, fd;

	if ((rc = spool_open(fs, dir, name, &fd)) < 0)
		return rc;
	fs_mark_dirty(fs, fd, DIRTY_CREATED);
	fi->fh = (uint64_t)fd;
	fi->direct_io = 1;
	fuse_reply_open(req, fi);
	return 0;
}

int
ctl_is(struct fs *fs, int fd)
{
	return fd >= 0 && (size_t)fd < fs->ndirty && fs->ctl[fd];
}

int
ctl_flush(fuse_req_t req, int fd)
{
	struct fs *fs = FS(req);
	struct ctl *c = fs->ctl[fd];
	struct store_user who;
	int rc;

	fs_who(req, &who);
	rc = store_ctl_close(fs->st, c->dir, c->name, fd, &who);
	if (rc < 0)
		fs_refusal(req, -rc, c->name);
	/* the names of this directory changed under the kernel's feet */
	fs_inval(fs, 0, NULL, c->dir);
	return rc;
}

void
ctl_release(struct fs *fs, int fd)
{
	struct ctl *c;

	if (!ctl_is(fs, fd))
		return;
	c = fs->ctl[fd];
	fs->ctl[fd] = NULL;
	unlink(c->spool);
	free(c);
}

int
status_open(fuse_req_t req, struct store *st, uint64_t ino,
    const struct node *n, struct fuse_file_info *fi)
{
	char *buf = NULL;
	size_t len = 0;
	int rc, fd;

	rc = store_dynamic_text(st, ino, n, &buf, &len);
	if (rc < 0)
		return rc;
	fd = memfd_create("relfs-status", MFD_CLOEXEC);
	if (fd < 0 || write_all(fd, buf, len) < 0) {
		rc = -errno;
		if (fd >= 0)
			close(fd);
		free(buf);
		return rc;
	}
	free(buf);
	fi->fh = (uint64_t)fd;
	/*
	 * A run never changes, nor anything of a view; a status is made
	 * anew at each open.
	 */
	fi->direct_io = n->kind == NODE_RUN || store_is_view(st) ? 0 : 1;
	fi->keep_cache = !fi->direct_io;
	fuse_reply_open(req, fi);
	return 0;
}

/*
 * ops.c - the FUSE low-level operations: route each request to the index
 * (immutable, cached by the kernel) or to the staging area (incoming.c).
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

static void
refuse_rofs(fuse_req_t req, const char *what)
{
	fs_refuse(req, -store_refuse_immutable(what), what);
}

/* at/ or a name under it: the past, never changed (at_refuse). */
static int
at_named(fuse_ino_t parent, const char *name)
{
	return at_is(parent) || (parent == INO_ROOT && name &&
	    strcmp(name, "at") == 0);
}

/* Answer EROFS for a change under at/: 1 when it did. */
#define AT_REFUSED(req, cond, what) ((cond) ? (at_refuse(req, what), 1) : 0)

static void
op_init(void *userdata, struct fuse_conn_info *conn)
{
	struct fs *fs = userdata;

	if (conn->capable & FUSE_CAP_SPLICE_WRITE)
		conn->want |= FUSE_CAP_SPLICE_WRITE;
	if (conn->capable & FUSE_CAP_SPLICE_MOVE)
		conn->want |= FUSE_CAP_SPLICE_MOVE;
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
	/*
	 * No OPENDIR/RELEASEDIR round trips: the kernel caches every listing
	 * and revalidates it by the directory's mtime (auto_inval_data) or
	 * its own record of changes made through the mount.
	 */
	if (conn->capable & FUSE_CAP_NO_OPENDIR_SUPPORT) {
		conn->want |= FUSE_CAP_NO_OPENDIR_SUPPORT;
		fs->no_opendir = 1;
	}
	if (conn->capable & FUSE_CAP_AUTO_INVAL_DATA)
		conn->want |= FUSE_CAP_AUTO_INVAL_DATA;
	if (conn->capable & FUSE_CAP_CACHE_SYMLINKS)
		conn->want |= FUSE_CAP_CACHE_SYMLINKS;
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	conn->max_write = 1 << 20;
	conn->max_readahead = 1 << 20;
}

static void
op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = FS(req);
	struct inc_node *dir = attr_route(fs, &parent);
	struct fuse_entry_param e;
	struct node n;
	uint64_t ino;
	int rc;

	store_clearerr();
	if (at_is(parent)) {
		at_lookup(req, parent, name);
		return;
	}
	/* at/ is found by name, never listed (as a snapshot directory) */
	if (parent == INO_ROOT && strcmp(name, "at") == 0) {
		at_root_lookup(req);
		return;
	}
	if (dir) {
		inc_lookup(req, dir, name);
		return;
	}
	rc = store_node_lookup(fs->st, parent, name, &ino, &n);
	if (rc == 0 && n.kind == NODE_RESULTS)
		rc = attr_results_entry(fs, ino, &n, &e);
	else if (rc == 0)
		attr_entry(fs, ino, &n, &e);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_entry(req, &e);
}

static void
op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct fs *fs = FS(req);
	struct inc_node *n = inc_node_of(fs, ino);

	if (n)
		inc_forget(fs, n, nlookup);
	fuse_reply_none(req);
}

static void
op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *f)
{
	struct fs *fs = FS(req);

	for (size_t i = 0; i < count; i++) {
		struct inc_node *n = inc_node_of(fs, f[i].ino);

		if (n)
			inc_forget(fs, n, f[i].nlookup);
	}
	fuse_reply_none(req);
}

static void
op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = FS(req);
	struct inc_node *in = attr_route(fs, &ino);
	struct stat st;
	struct node n;
	int rc;

	store_clearerr();
	if (at_is(ino)) {
		at_getattr(req, ino);
		return;
	}
	(void)fi;
	if (in && ino != INO_INCOMING) {
		inc_getattr(req, in);
		return;
	}
	rc = store_node_get(fs->st, ino, &n);
	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	attr_node(fs, ino, &n, &st);
	fuse_reply_attr(req, &st, attr_timeout(fs, &n));
}

static void
op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int valid,
    struct fuse_file_info *fi)
{
	struct fs *fs = FS(req);
	struct inc_node *in = attr_route(fs, &ino);
	struct node n;
	struct stat st;
	int rc;

	store_clearerr();
	if (AT_REFUSED(req, at_is(ino), "setattr"))
		return;
	if (in) {
		if (!fs_staging_deny(req, "setattr"))
			inc_setattr(req, in, attr, valid, fi);
		return;
	}
	/* `>` of a file the index takes writes into (store_node_truncate) */
	if (valid == FUSE_SET_ATTR_SIZE && store_node_get(fs->st, ino, &n) ==
	    0) {
		struct store_user who;

		fs_who(req, &who);
		rc = store_node_truncate(fs->st, ino, &n,
		    (uint64_t)attr->st_size, &who);
		if (rc == 0) {
			attr_node(fs, ino, &n, &st);
			fuse_reply_attr(req, &st, 0);
		} else {
			fs_refuse(req, -rc, "setattr");
		}
		return;
	}
	refuse_rofs(req, "setattr");
}

static void
op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct fs *fs = FS(req);
	struct inc_node *in = attr_route(fs, &ino);
	struct node n;
	char *target = NULL;
	int rc;

	store_clearerr();
	if (at_is(ino)) {
		at_readlink(req, ino);
		return;
	}
	if (in) {
		inc_readlink(req, in);
		return;
	}
	rc = store_node_get(fs->st, ino, &n);
	if (rc == 0)
		rc = store_node_readlink(fs->st, &n, &target);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_readlink(req, target);
	free(target);
}

static void
op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct inc_node *dir = attr_route(FS(req), &parent);

	store_clearerr();
	struct fs *fs = FS(req);
	struct store_user who;
	struct fuse_entry_param e;
	struct node n;
	uint64_t ino;
	int rc;

	if (AT_REFUSED(req, at_named(parent, name), "mkdir"))
		return;
	if (dir) {
		if (!fs_staging_deny(req, "mkdir"))
			inc_mkdir(req, dir, name, mode);
		return;
	}
	fs_who(req, &who);
	rc = store_ctl_mkdir(fs->st, parent, name, &who);
	if (rc == 0) {
		fs_changed(fs);
		rc = store_node_lookup(fs->st, parent, name, &ino, &n);
	}
	if (rc < 0) {
		fs_refuse(req, -rc, "mkdir");
		return;
	}
	attr_entry(fs, ino, &n, &e);
	fuse_reply_entry(req, &e);
}

static void
op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
    dev_t rdev)
{
	store_clearerr();
	(void)parent;
	(void)name;
	(void)mode;
	(void)rdev;
	fs_refuse(req, -store_refuse_special(), "mknod");
}

static void
op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
    const char *name)
{
	struct inc_node *dir = attr_route(FS(req), &parent);

	store_clearerr();
	if (AT_REFUSED(req, at_named(parent, name), "symlink"))
		return;
	if (dir) {
		if (!fs_staging_deny(req, "symlink"))
			inc_symlink(req, link, dir, name);
	} else
		refuse_rofs(req, "symlink");
}

static void
op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = FS(req);
	struct inc_node *dir = attr_route(fs, &parent);
	struct store_user who;
	int rc;

	store_clearerr();
	if (AT_REFUSED(req, at_named(parent, name), "unlink"))
		return;
	if (dir) {
		if (!fs_staging_deny(req, "unlink"))
			inc_unlink(req, dir, name, 0);
		return;
	}
	/* a hold released, a waiver withdrawn, a promotion revoked */
	fs_who(req, &who);
	rc = store_ctl_remove(fs->st, parent, name, &who);
	if (rc < 0) {
		fs_refuse(req, -rc, "unlink");
		return;
	}
	fs_changed(fs);
	fuse_reply_err(req, 0);
}

static void
op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = FS(req);
	struct inc_node *dir = attr_route(fs, &parent);
	struct store_user who;
	int rc;

	store_clearerr();
	if (AT_REFUSED(req, at_named(parent, name), "rmdir"))
		return;
	if (dir) {
		if (!fs_staging_deny(req, "rmdir"))
			inc_unlink(req, dir, name, 1);
		return;
	}
	/* a stage removed (store_ctl_rmdir says what else is refused) */
	fs_who(req, &who);
	if ((rc = store_ctl_rmdir(fs->st, parent, name, &who)) < 0) {
		fs_refuse(req, -rc, "rmdir");
		return;
	}
	fs_changed(fs);
	fuse_reply_err(req, 0);
}

static void
op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
    fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	struct fs *fs = FS(req);
	struct inc_node *src = attr_route(fs, &parent);
	struct inc_node *dst = attr_route(fs, &newparent);

	store_clearerr();
	if (AT_REFUSED(req, at_named(parent, name) ||
	    at_named(newparent, newname), "rename"))
		return;
	if (src && fs_staging_deny(req, "rename"))
		return;
	if (src && dst) {
		inc_rename(req, src, name, dst, newname, flags);
		return;
	}
	if (src && !dst) {
		inc_seal(req, src, name, newparent, newname, flags);
		return;
	}
	refuse_rofs(req, "rename");
}

static void
op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
    const char *newname)
{
	struct fs *fs = FS(req);
	struct inc_node *n = attr_route(fs, &ino);
	struct inc_node *dir = attr_route(fs, &newparent);

	store_clearerr();
	if (AT_REFUSED(req, at_is(ino) || at_named(newparent, newname),
	    "link"))
		return;
	/* hard links within the staging area (cp -a, rsync -H, tar) */
	if (n && dir && n != &fs->root) {
		if (!fs_staging_deny(req, "link"))
			inc_link(req, n, dir, newname);
		return;
	}
	fs_refuse(req, -store_refuse_link(), "link");
}

static void
op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = FS(req);
	struct inc_node *in = attr_route(fs, &ino);
	struct node n;
	int rc, fd;

	store_clearerr();
	if (at_is(ino)) {
		at_open(req, ino, fi);
		return;
	}
	if (in) {
		if (((fi->flags & O_ACCMODE) == O_RDONLY &&
		    !(fi->flags & O_TRUNC)) ||
		    !fs_staging_deny(req, "open for writing"))
			inc_open(req, in, fi);
		return;
	}
	rc = store_node_get(fs->st, ino, &n);
	if (rc == 0 && ((fi->flags & O_ACCMODE) != O_RDONLY ||
	    (fi->flags & O_TRUNC))) {
		char name[NAME_MAX_BYTES + 1];
		struct store_user who;

		fs_who(req, &who);
		if ((rc = store_node_writable(fs->st, ino, &n,
		    "open for writing", &who, name)) < 0 ||
		    (rc = ctl_open(req, n.parent, name, fi)) < 0)
			fs_refuse(req, -rc, "open for writing");
		return;
	}
	if (rc == 0 && store_node_is_dynamic(&n)) {
		if ((rc = status_open(req, fs->st, ino, &n, fi)) < 0)
			fs_refuse(req, -rc, "open");
		return;
	}
	if (rc == 0 && n.kind == NODE_DEP) {
		rc = deps_open(req, ino, &n, fi, &fd);
		if (rc == 0)
			return;		/* answered: read as it downloads */
	} else if (rc == 0 && n.kind != NODE_FILE) {
		rc = -EISDIR;
	} else if (rc == 0) {
		rc = store_node_open(fs->st, &n, &fd);
	}
	if (rc < 0) {
		fs_refuse(req, -rc, "open");
		return;
	}
	fi->fh = (uint64_t)fd;
	/*
	 * The bytes of an index file never change (a dependency's neither,
	 * once fetched): keep the page cache.
	 */
	fi->keep_cache = (n.flags & NODE_MUTABLE) && n.kind != NODE_DEP ? 0 : 1;
	fi->direct_io = (n.flags & NODE_MUTABLE) && n.kind != NODE_DEP ? 1 : 0;
	fi->noflush = 1;
	fuse_reply_open(req, fi);
}

static void
op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
    struct fuse_file_info *fi)
{
	struct inc_node *dir = attr_route(FS(req), &parent);

	store_clearerr();
	if (AT_REFUSED(req, at_named(parent, name), "create"))
		return;
	if (dir) {
		if (!fs_staging_deny(req, "create"))
			inc_create(req, dir, name, mode, fi);
	} else
		ctl_create(req, parent, name, fi);
}

static void
op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
    struct fuse_file_info *fi)
{
	struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);
	struct fs *fs = FS(req);
	int fd = (int)fi->fh;

	store_clearerr();
	if (deps_stream_of(fs, fd)) {
		/* a dependency on its way: wait for these bytes */
		size_t want = size;
		uint64_t total;
		int rc = store_stream_wait(deps_stream_of(fs, fd),
		    (uint64_t)off, size, &size);

		if (rc < 0) {
			fs_refuse(req, -rc, "read");
			return;
		}
		/*
		 * The end of one read around the page cache (its size was
		 * unknown): stat shows the real size once this read returns,
		 * not only after the release, which close() does not wait for.
		 * (Not through the cache: its reads hold page locks that the
		 * size's invalidation would wait for.)
		 */
		if (size < want && !(fs->dirty[fd] & DEP_PAGED))
			deps_verified(fs, ino, fd, &total);
		buf.buf[0].size = size;
	}
	buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	buf.buf[0].fd = (int)fi->fh;
	buf.buf[0].pos = off;
	fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
}

static void
op_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *in,
    off_t off, struct fuse_file_info *fi)
{
	struct fuse_bufvec out = FUSE_BUFVEC_INIT(fuse_buf_size(in));
	ssize_t n;

	store_clearerr();
	(void)ino;
	out.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	out.buf[0].fd = (int)fi->fh;
	out.buf[0].pos = off;
	n = fuse_buf_copy(&out, in, 0);
	if (n < 0) {
		fuse_reply_err(req, (int)-n);
		return;
	}
	fs_mark_dirty(FS(req), (int)fi->fh, DIRTY_WRITTEN);
	fuse_reply_write(req, (size_t)n);
}

/*
 * close() of a file written in results/ records the run here, so the
 * close itself answers a refusal.
 */
static void
op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = FS(req);
	int fd = (int)fi->fh, rc = 0;

	store_clearerr();
	(void)ino;
	/*
	 * Only once something was written: a shell's `>` closes a duplicate
	 * of the new, still empty file before the command writes to it.
	 */
	if (fd >= 0 && (size_t)fd < fs->ndirty &&
	    (fs->dirty[fd] & DIRTY_WRITTEN)) {
		fs->dirty[fd] = 0;
		if (ctl_is(fs, fd))
			rc = ctl_flush(req, fd);
		else if (results_spool_is(fs, fd))
			rc = results_close(req, fd);
		/* what the change touched is stale in the kernel: say so now */
		fs_changed(fs);
	}
	fuse_reply_err(req, -rc);
}

static void
op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = FS(req);
	int fd = (int)fi->fh;

	store_clearerr();
	if (deps_stream_of(fs, fd)) {
		struct store_stream *s = fs->stream[fd];

		deps_closed(fs, ino, fd);
		fs->stream[fd] = NULL;
		fs->dirty[fd] = 0;
		store_stream_close(s);	/* closes fd */
		fuse_reply_err(req, 0);
		return;
	}
	/* created or truncated and closed without a byte: empty content */
	if (fd >= 0 && (size_t)fd < fs->ndirty && fs->dirty[fd]) {
		if (ctl_is(fs, fd))
			ctl_flush(req, fd);
		else if (results_spool_is(fs, fd))
			results_close(req, fd);
		fs_changed(fs);
	}
	ctl_release(fs, fd);
	results_release(fs, fd);
	inc_writer_release(fs, fd);
	fs_mark_dirty(fs, fd, 0);
	close(fd);
	fuse_reply_err(req, 0);
}

static void
op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
    struct fuse_file_info *fi)
{
	int rc;

	store_clearerr();
	(void)ino;
	rc = datasync ? fdatasync((int)fi->fh) : fsync((int)fi->fh);
	if (rc < 0)
		rc = -errno;
	/* and what close() recorded so far, which only a crash survives */
	else
		rc = store_sync(FS(req)->st);
	fuse_reply_err(req, -rc);
}

static void
op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct fs *fs = FS(req);
	struct statvfs sv;

	store_clearerr();
	(void)ino;
	if (statvfs(store_path(fs->st), &sv) < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	sv.f_namemax = NAME_MAX_BYTES;
	fuse_reply_statfs(req, &sv);
}

const struct fuse_lowlevel_ops relfs_ops = {
	.init = op_init,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.readlink = op_readlink,
	.mknod = op_mknod,
	.mkdir = op_mkdir,
	.symlink = op_symlink,
	.unlink = op_unlink,
	.rmdir = op_rmdir,
	.rename = op_rename,
	.link = op_link,
	.open = op_open,
	.create = op_create,
	.read = op_read,
	.write_buf = op_write_buf,
	.flush = op_flush,
	.release = op_release,
	.fsync = op_fsync,
	.opendir = dir_open,
	.readdir = dir_read,
	.readdirplus = dir_readplus,
	.releasedir = dir_release,
	.fsyncdir = dir_fsync,
	.statfs = op_statfs,
};

/*
 * results.c - results/ of an artifact is a passthrough of
 * STORE/results/<project>/<version>, where each name shows the bytes last
 * recorded under it.  Nobody writes those files: every open for writing of
 * a result name gets a spool of its own (an unnamed O_TMPFILE inode beside
 * them), and its close() records exactly the bytes of that spool as a run
 * and only then puts the spool in place under the name.  So concurrent
 * writers of one name give one run each, a refusal touches no one else's
 * file (nor the recorded one), and a daemon killed mid-write leaves no
 * spool behind (an unnamed inode goes with the last descriptor).  Names
 * starting with '.' are temporary files of their writer, recorded when
 * renamed onto a result name (rsync, mv).
 */
#define _GNU_SOURCE
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "results.h"
#include "safe.h"

#define FS(req) ((struct fs *)fuse_req_userdata(req))

struct spool {
	struct inc_node *dir;	/* the results/ directory (one lookup held) */
	uint64_t art;		/* its artifact */
	char name[NAME_MAX_BYTES + 1];
};

static atomic_ulong spool_seq;

int
results_spool_is(struct fs *fs, int fd)
{
	return fd >= 0 && (size_t)fd < fs->ndirty && fs->spool[fd];
}

/* An unnamed file in dir, the caller's with mode: for results/name. */
static int
unnamed(fuse_req_t req, struct inc_node *dir, const char *name, mode_t mode,
    int *out)
{
	int dfd, fd, rc;

	if ((dfd = inc_use(FS(req), dir)) < 0)
		return dfd;
	fd = openat(dfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, SAFE_FILE_MODE);
	rc = -errno;
	inc_done(FS(req), dir);
	if (fd < 0)
		return store_seterr(rc, "could not make a spool for "
		    "results/%s: %s", name, strerror(-rc));
	if ((rc = node_give(req, fd, mode)) < 0) {
		close(fd);
		return rc;
	}
	*out = fd;
	return 0;
}

/* A new spool in dir for name, owned by the caller: its descriptor. */
static int
spool_new(fuse_req_t req, struct inc_node *dir, const char *name,
    mode_t mode, int *out)
{
	struct fs *fs = FS(req);
	struct spool *sp;
	int fd, rc;

	if ((rc = unnamed(req, dir, name, mode, &fd)) < 0)
		return rc;
	if ((size_t)fd >= fs->ndirty) {
		close(fd);
		return store_seterr(-ENFILE, "too many files open in the "
		    "daemon to take results/%s", name);
	}
	if (!(sp = calloc(1, sizeof(*sp)))) {
		close(fd);
		return -ENOMEM;
	}
	sp->dir = dir;
	sp->art = dir->art;
	snprintf(sp->name, sizeof(sp->name), "%s", name);
	inc_hold(fs, dir);
	fs->spool[fd] = sp;
	*out = fd;
	return 0;
}

void
results_create(fuse_req_t req, struct inc_node *dir, const char *name,
    mode_t mode, struct fuse_file_info *fi)
{
	struct fs *fs = FS(req);
	struct fuse_entry_param e;
	int fd, rc;

	if ((rc = spool_new(req, dir, name, mode, &fd)) < 0) {
		fs_refuse(req, -rc, "create");
		return;
	}
	/* until it is closed, the new file is the spool */
	if ((rc = inc_entry_of_fd(fs, fd, &e)) < 0) {
		results_release(fs, fd);
		close(fd);
		fuse_reply_err(req, -rc);
		return;
	}
	fs_mark_dirty(fs, fd, DIRTY_CREATED);
	fi->fh = (uint64_t)fd;
	fi->direct_io = 0;
	fi->keep_cache = 0;
	fuse_reply_create(req, &e, fi);
}

/* Copy the recorded bytes of n into the spool fd (for an append). */
static int
copy_recorded(struct inc_node *n, int fd)
{
	char *buf = NULL;
	struct stat st;
	size_t len;
	int src, rc;

	/* the inode itself, never a name: and only a regular file */
	if ((rc = safe_reopen(n->fd, O_RDONLY, S_IFREG, n->res_name, &src,
	    &st)) < 0)
		return rc;
	rc = safe_read_fd(src, RESULT_MAX, n->res_name, &buf, &len);
	close(src);
	if (rc == 0)
		rc = write_all(fd, buf, len);
	free(buf);
	return rc;
}

void
results_open(fuse_req_t req, struct inc_node *n, struct fuse_file_info *fi)
{
	struct fs *fs = FS(req);
	int fd, rc;

	if ((rc = spool_new(req, n->res_dir, n->res_name, 0644, &fd)) < 0) {
		fs_refuse(req, -rc, "open");
		return;
	}
	/* `>>` appends to the writer's own copy; `>` starts empty */
	if (!(fi->flags & O_TRUNC) && (rc = copy_recorded(n, fd)) < 0) {
		results_release(fs, fd);
		close(fd);
		fs_refuse(req, -rc, "open");
		return;
	}
	if (fi->flags & O_TRUNC)
		fs_mark_dirty(fs, fd, DIRTY_CREATED);
	fi->fh = (uint64_t)fd;
	fi->direct_io = 0;
	fi->keep_cache = 0;
	fuse_reply_open(req, fi);
}

/*
 * Give the spool fd (recorded already) the name it was written under,
 * replacing what showed there: a link in STORE/tmp, then a rename, so the
 * name is never missing.
 */
static void
place(struct fs *fs, struct inc_node *dir, const char *name, int fd)
{
	char proc[64], tmp[64];
	struct stat st;
	int dfd = inc_use(fs, dir);

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	snprintf(tmp, sizeof(tmp), "spool.%d.%lu", (int)getpid(),
	    (unsigned long)atomic_fetch_add(&spool_seq, 1));
	if (dfd < 0)
		errno = -dfd;
	if (dfd < 0 || linkat(AT_FDCWD, proc, fs->tmpfd, tmp,
	    AT_SYMLINK_FOLLOW) < 0 || renameat(fs->tmpfd, tmp, dfd, name) < 0) {
		store_log(fs->st, "results/%s: recorded, but the file could not "
		    "be shown: %s", name, strerror(errno));
	}
	(void)unlinkat(fs->tmpfd, tmp, 0);
	if (dfd >= 0)
		inc_done(fs, dir);
	if (fstat(fd, &st) == 0)
		inc_mark_result(fs, st.st_dev, st.st_ino, dir, name);
}

int
results_close(fuse_req_t req, int fd)
{
	struct fs *fs = FS(req);
	struct spool *sp = fs->spool[fd];
	struct store_user who;
	int rc;

	fs_who(req, &who);
	rc = store_result_close(fs->st, sp->art, sp->name, fd, &who, NULL,
	    NULL);
	if (rc < 0) {
		fs_refusal(req, -rc, "result");
		return rc;
	}
	place(fs, sp->dir, sp->name, fd);
	return 0;
}

void
results_release(struct fs *fs, int fd)
{
	struct spool *sp;

	if (!results_spool_is(fs, fd))
		return;
	sp = fs->spool[fd];
	fs->spool[fd] = NULL;
	inc_forget(fs, sp->dir, 1);
	free(sp);
}

int
results_rename_in(fuse_req_t req, struct inc_node *dir, const char *name,
    struct inc_node *newdir, const char *newname, unsigned int flags)
{
	struct fs *fs = FS(req);
	struct store_user who;
	struct stat st;
	char *buf = NULL;
	size_t len;
	int rc, fd = -1;

	if ((flags & RENAME_NOREPLACE) &&
	    fstatat(newdir->fd, newname, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return -EEXIST;
	fs_who(req, &who);
	rc = store_result_take(fs->st, newdir->art, newname, dir->fd, name,
	    &who, &buf, &len);
	if (rc < 0) {
		fs_refusal(req, -rc, "result");
		return rc;
	}
	/* what shows under the name is exactly what was recorded */
	if (unnamed(req, newdir, newname, 0644, &fd) == 0 &&
	    write_all(fd, buf, len) == 0)
		place(fs, newdir, newname, fd);
	else
		store_log(fs->st, "results/%s: recorded, but the file could "
		    "not be shown", newname);
	if (fd >= 0)
		close(fd);
	free(buf);
	(void)unlinkat(dir->fd, name, 0);
	return 0;
}

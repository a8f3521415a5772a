/*
 * incoming.c - the writable staging area: incoming/ passes through to
 * STORE/incoming, a real directory, so what is written there survives a
 * crash of the daemon.  Modelled on libfuse's passthrough_ll (the table of
 * inodes is node.c).
 * Moving incoming/<p>/<v> into artifacts/ seals it (inc_seal).
 *
 * The backing files belong to the store's owner (0600, directories 0700);
 * the owner and mode a user sees, and the kernel checks them against
 * (default_permissions), are the logical ones kept beside each inode
 * (safe.h): the creating user, the mode they asked for without setuid,
 * setgid or sticky bits.
 */
#define _GNU_SOURCE
#include "fs.h"

#include "results.h"
#include "safe.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/xattr.h>
#include <unistd.h>

#define FS(req) ((struct fs *)fuse_req_userdata(req))

struct inc_dir {
	DIR *dp;
	off_t offset;
	struct dirent *entry;
};

/*
 * Hold the descriptors of a and b (b may be NULL) for one request, or
 * answer it with the reason they cannot be had (ESTALE: gone).  The
 * operations' wrappers keep fs aside: req is gone once answered.
 */
static int
hold(fuse_req_t req, struct inc_node *a, struct inc_node *b)
{
	struct fs *fs = FS(req);
	int rc = inc_use(fs, a);

	if (rc >= 0 && b && (rc = inc_use(fs, b)) < 0)
		inc_done(fs, a);
	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return -1;
	}
	return 0;
}

static void
let_go(struct fs *fs, struct inc_node *a, struct inc_node *b)
{
	inc_done(fs, a);
	if (b)
		inc_done(fs, b);
}

/*
 * Runs call with a and b (b may be NULL) held for the request: their
 * descriptors stay open until it returns (the reply frees req, so the fs
 * is taken first); a node that cannot be opened again is the reply.
 */
#define HELD(req, a, b, call) do {					\
	struct fs *held_fs = FS(req);					\
									\
	if (hold((req), (a), (b)) == 0) {				\
		call;							\
		let_go(held_fs, (a), (b));				\
	}								\
} while (0)

static void
reply_entry(fuse_req_t req, struct inc_node *dir, const char *name)
{
	struct fuse_entry_param e;
	int rc = node_lookup(FS(req), dir, name, &e);

	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_entry(req, &e);
}

static void
lookup_held(fuse_req_t req, struct inc_node *dir, const char *name)
{
	reply_entry(req, dir, name);
}

void
inc_lookup(fuse_req_t req, struct inc_node *dir, const char *name)
{
	HELD(req, dir, NULL, lookup_held(req, dir, name));
}

static void
getattr_held(fuse_req_t req, struct inc_node *n)
{
	struct stat st;
	int rc = inc_stat(n, &st);

	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	st.st_ino = node_ino(FS(req), n);
	node_role_attr(FS(req), n, &st);
	fuse_reply_attr(req, &st, n->stable ? FS(req)->timeout : 0);
}

void
inc_getattr(fuse_req_t req, struct inc_node *n)
{
	HELD(req, n, NULL, getattr_held(req, n));
}

/* POSIX access of the caller to a node (want: R_OK, W_OK, X_OK bits). */
static int
may(fuse_req_t req, const struct stat *st, int want)
{
	struct store_user who;
	mode_t bits;

	fs_who(req, &who);
	if (who.uid == 0)
		return 0;
	if (who.uid == st->st_uid)
		bits = (st->st_mode >> 6) & 7;
	else if (store_user_member(&who, st->st_gid))
		bits = (st->st_mode >> 3) & 7;
	else
		bits = st->st_mode & 7;
	return ((int)bits & want) == want ? 0 : -EACCES;
}

/* The flags a backing file is opened with: the kernel's, made safe. */
static int
backing_flags(int flags)
{
	/* O_DIRECT's alignment is the kernel's business, not the backing's */
	return (flags | O_CLOEXEC | O_NOFOLLOW) & ~(O_DIRECT | O_NOCTTY |
	    O_CREAT | O_EXCL);
}

/* Answer req with the store's refusal of op in results/ (logged): 1. */
static int
result_refused(fuse_req_t req, enum store_result_op op, const char *what)
{
	fs_refuse(req, -store_result_refuse(op), what);
	return 1;
}

static void
setattr_held(fuse_req_t req, struct inc_node *n, struct stat *attr, int valid,
    struct fuse_file_info *fi)
{
	struct fs *fs = FS(req);
	char path[64];
	struct stat cur;
	int rc = 0;

	/* a writer's own spool takes anything; the recorded file nothing */
	if (fi && results_spool_is(fs, (int)fi->fh)) {
		if ((valid & FUSE_SET_ATTR_SIZE) &&
		    ftruncate((int)fi->fh, attr->st_size) < 0) {
			fuse_reply_err(req, errno);
			return;
		}
		if (valid & FUSE_SET_ATTR_SIZE)
			fs_mark_dirty(fs, (int)fi->fh, DIRTY_WRITTEN);
		inc_getattr(req, n);
		return;
	}
	/* its bytes are a run's: the rest (mode, times) may change */
	if ((valid & FUSE_SET_ATTR_SIZE) && n->res_art &&
	    result_refused(req, STORE_RESULT_CHANGE, "truncate"))
		return;
	node_proc_path(path, sizeof(path), n->fd);
	if ((rc = inc_stat(n, &cur)) < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	/*
	 * Owner and mode are relfs's own (the kernel checked who may change
	 * them, default_permissions); setuid, setgid and sticky never stay.
	 */
	if (valid & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID |
	    FUSE_SET_ATTR_GID)) {
		struct safe_attr a = { cur.st_uid, cur.st_gid,
		    cur.st_mode & 0777 };

		if (S_ISLNK(cur.st_mode)) {
			fuse_reply_err(req, EOPNOTSUPP);
			return;
		}
		if (valid & FUSE_SET_ATTR_MODE)
			a.mode = attr->st_mode & 0777;
		if (valid & FUSE_SET_ATTR_UID)
			a.uid = attr->st_uid;
		if (valid & FUSE_SET_ATTR_GID)
			a.gid = attr->st_gid;
		if ((rc = safe_attr_set(n->fd, &a)) < 0) {
			fuse_reply_err(req, -rc);
			return;
		}
	}
	if ((valid & FUSE_SET_ATTR_SIZE) &&
	    (fi ? ftruncate((int)fi->fh, attr->st_size) :
	    truncate(path, attr->st_size)) < 0)
		goto fail;
	if (valid & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME)) {
		struct timespec tv[2];

		tv[0].tv_sec = tv[1].tv_sec = 0;
		tv[0].tv_nsec = tv[1].tv_nsec = UTIME_OMIT;
		if (valid & FUSE_SET_ATTR_ATIME_NOW)
			tv[0].tv_nsec = UTIME_NOW;
		else if (valid & FUSE_SET_ATTR_ATIME)
			tv[0] = attr->st_atim;
		if (valid & FUSE_SET_ATTR_MTIME_NOW)
			tv[1].tv_nsec = UTIME_NOW;
		else if (valid & FUSE_SET_ATTR_MTIME)
			tv[1] = attr->st_mtim;
		if (S_ISLNK(cur.st_mode))
			rc = utimensat(n->fd, "", tv, AT_EMPTY_PATH);
		else
			rc = fi ? futimens((int)fi->fh, tv) :
			    utimensat(AT_FDCWD, path, tv, 0);
		if (rc < 0)
			goto fail;
	}
	inc_getattr(req, n);
	return;
fail:
	rc = errno;
	fuse_reply_err(req, rc);
}

void
inc_setattr(fuse_req_t req, struct inc_node *n, struct stat *attr, int valid,
    struct fuse_file_info *fi)
{
	HELD(req, n, NULL, setattr_held(req, n, attr, valid, fi));
}

/* Names in the staging area follow the rules of published names. */
static int
check_name(fuse_req_t req, const char *name, const char *what)
{
	int rc = name_check(name, "file");

	if (rc < 0)
		fs_refuse(req, -rc, what);
	return rc;
}


/* Reply with the entry of dir/name, made by this request (or say why). */
static void
reply_new(fuse_req_t req, struct inc_node *dir, const char *name, mode_t mode)
{
	struct fuse_entry_param e;
	struct inc_node *n;
	int rc = node_lookup(FS(req), dir, name, &e);

	if (rc == 0 && mode != (mode_t)-1) {
		n = inc_node_of(FS(req), e.ino);
		if ((rc = inc_use(FS(req), n)) >= 0) {
			rc = node_give(req, n->fd, mode);
			if (rc == 0) {
				rc = inc_stat(n, &e.attr);
				e.attr.st_ino = e.ino;
			}
			inc_done(FS(req), n);
		}
		if (rc < 0)
			inc_forget(FS(req), n, 1);
	}
	if (rc < 0) {
		/* nothing half-made stays behind */
		(void)unlinkat(dir->fd, name, S_ISDIR(mode) ? AT_REMOVEDIR : 0);
		fuse_reply_err(req, -rc);
		return;
	}
	fuse_reply_entry(req, &e);
}

static void
mkdir_held(fuse_req_t req, struct inc_node *dir, const char *name,
    mode_t mode)
{
	if (check_name(req, name, "mkdir") < 0 ||
	    (dir->art && result_refused(req, STORE_RESULT_MKDIR, "mkdir")))
		return;
	if (mkdirat(dir->fd, name, SAFE_DIR_MODE) < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	reply_new(req, dir, name, S_IFDIR | (mode & 0777));
}

void
inc_mkdir(fuse_req_t req, struct inc_node *dir, const char *name,
    mode_t mode)
{
	HELD(req, dir, NULL, mkdir_held(req, dir, name, mode));
}

static void
symlink_held(fuse_req_t req, const char *link, struct inc_node *dir,
    const char *name)
{
	if (check_name(req, name, "symlink") < 0 ||
	    (dir->art && result_refused(req, STORE_RESULT_SYMLINK,
	    "symlink")))
		return;
	if (symlinkat(link, dir->fd, name) < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	reply_new(req, dir, name, (mode_t)-1);
}

void
inc_symlink(fuse_req_t req, const char *link, struct inc_node *dir,
    const char *name)
{
	HELD(req, dir, NULL, symlink_held(req, link, dir, name));
}

static void
link_held(fuse_req_t req, struct inc_node *n, struct inc_node *dir,
    const char *name)
{
	char proc[64];
	struct fuse_entry_param e;
	int rc;

	if (check_name(req, name, "link") < 0 ||
	    (dir->art && result_refused(req, STORE_RESULT_HARDLINK, "link")) ||
	    (n->res_art && result_refused(req, STORE_RESULT_LINK, "link")))
		return;
	/* the inode itself (O_PATH): no name of it is looked up again */
	node_proc_path(proc, sizeof(proc), n->fd);
	if (linkat(AT_FDCWD, proc, dir->fd, name, AT_SYMLINK_FOLLOW) < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	rc = node_lookup(FS(req), dir, name, &e);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_entry(req, &e);
}

void
inc_link(fuse_req_t req, struct inc_node *n, struct inc_node *dir,
    const char *name)
{
	HELD(req, n, dir, link_held(req, n, dir, name));
}

static void
unlink_held(fuse_req_t req, struct inc_node *dir, const char *name, int isdir)
{
	struct inc_node *n;
	struct stat st;
	int rc;

	if (dir->art && store_result_named(name) &&
	    result_refused(req, STORE_RESULT_REMOVE, "unlink"))
		return;
	/* a node of that name keeps its inode open: it has no name after */
	if ((n = node_at(FS(req), dir, name, &st)))
		(void)node_keep_open(FS(req), n);
	rc = unlinkat(dir->fd, name, isdir ? AT_REMOVEDIR : 0);
	if (rc < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	if (n)
		node_unnamed(FS(req), n, dir, name);
	fuse_reply_err(req, 0);
}

void
inc_unlink(fuse_req_t req, struct inc_node *dir, const char *name, int isdir)
{
	HELD(req, dir, NULL, unlink_held(req, dir, name, isdir));
}

static void
rename_held(fuse_req_t req, struct inc_node *dir, const char *name,
    struct inc_node *newdir, const char *newname, unsigned int flags)
{
	struct fs *fs = FS(req);
	struct inc_node *moved, *over;
	struct stat st;
	int rc;

	if (check_name(req, newname, "rename") < 0)
		return;
	if (((dir->art && store_result_named(name)) || (newdir->art &&
	    store_result_named(newname) && (flags & RENAME_EXCHANGE))) &&
	    result_refused(req, STORE_RESULT_MOVE, "rename"))
		return;
	if (newdir->art && store_result_named(newname)) {
		/* rsync's dot-file, or a file moved in: now it is a run */
		if ((moved = node_at(fs, dir, name, &st)))
			(void)node_keep_open(fs, moved);
		rc = results_rename_in(req, dir, name, newdir, newname, flags);
		if (moved && rc == 0)
			node_unnamed(fs, moved, dir, name);
		fs_changed(fs);
		if (rc < 0)
			fs_refuse(req, -rc, "rename");
		else
			fuse_reply_err(req, 0);
		return;
	}
	/* the nodes of both names follow them (a replaced one has none) */
	moved = node_at(fs, dir, name, &st);
	over = node_at(fs, newdir, newname, &st);
	if (over && !(flags & RENAME_EXCHANGE))
		(void)node_keep_open(fs, over);
	if (renameat2(dir->fd, name, newdir->fd, newname, flags) < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	pthread_mutex_lock(&fs->mu);
	if (over && (flags & RENAME_EXCHANGE))
		node_name(fs, over, dir, name);
	else if (over && over->parent == newdir && over->name &&
	    strcmp(over->name, newname) == 0)
		node_name(fs, over, NULL, NULL);
	if (moved)
		node_name(fs, moved, newdir, newname);
	pthread_mutex_unlock(&fs->mu);
	fuse_reply_err(req, 0);
}

void
inc_rename(fuse_req_t req, struct inc_node *dir, const char *name,
    struct inc_node *newdir, const char *newname, unsigned int flags)
{
	HELD(req, dir, newdir,
	    rename_held(req, dir, name, newdir, newname, flags));
}

/* Count a descriptor open for writing on n (a seal waits for none). */
static void
writer_add(struct fs *fs, int fd, struct inc_node *n)
{
	if (fd < 0 || (size_t)fd >= fs->ndirty)
		return;
	pthread_mutex_lock(&fs->mu);
	n->writers++;
	n->nlookup++;	/* held until the release */
	fs->writer[fd] = n;
	pthread_mutex_unlock(&fs->mu);
}

void
inc_writer_release(struct fs *fs, int fd)
{
	struct inc_node *n;

	if (fd < 0 || (size_t)fd >= fs->ndirty || !fs->writer[fd])
		return;
	pthread_mutex_lock(&fs->mu);
	n = fs->writer[fd];
	fs->writer[fd] = NULL;
	n->writers--;
	pthread_mutex_unlock(&fs->mu);
	inc_forget(fs, n, 1);
}

static void
create_held(fuse_req_t req, struct inc_node *dir, const char *name,
    mode_t mode, struct fuse_file_info *fi)
{
	struct fs *fs = FS(req);
	struct fuse_entry_param e;
	struct inc_node *n;
	struct stat st;
	int fd, rc, made = 1;

	if (check_name(req, name, "create") < 0)
		return;
	if (dir->art && store_result_named(name)) {
		/* results/<name>: a spool of this writer's own */
		results_create(req, dir, name, mode, fi);
		return;
	}
	fd = openat(dir->fd, name, backing_flags(fi->flags) | O_CREAT | O_EXCL,
	    SAFE_FILE_MODE);
	if (fd < 0 && errno == EEXIST && !(fi->flags & O_EXCL)) {
		/* made by someone else meanwhile: open it as theirs */
		made = 0;
		fd = openat(dir->fd, name, backing_flags(fi->flags) |
		    O_NONBLOCK);
	}
	if (fd < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (made)
		rc = node_give(req, fd, mode);
	else {
		safe_attr_apply(fd, &st);
		rc = may(req, &st, (fi->flags & O_ACCMODE) == O_RDONLY ? R_OK :
		    (fi->flags & O_ACCMODE) == O_WRONLY ? W_OK : R_OK | W_OK);
	}
	if (rc == 0)
		rc = node_lookup(fs, dir, name, &e);
	if (rc < 0) {
		close(fd);
		if (made)
			(void)unlinkat(dir->fd, name, 0);
		fuse_reply_err(req, -rc);
		return;
	}
	n = inc_node_of(fs, e.ino);
	/* a new file is written even when empty: close() records it */
	fs_mark_dirty(fs, fd, DIRTY_CREATED);
	writer_add(fs, fd, n);
	fi->fh = (uint64_t)fd;
	fi->direct_io = 0;
	fi->keep_cache = 0;
	fuse_reply_create(req, &e, fi);
}

void
inc_create(fuse_req_t req, struct inc_node *dir, const char *name,
    mode_t mode, struct fuse_file_info *fi)
{
	HELD(req, dir, NULL, create_held(req, dir, name, mode, fi));
}

static void
open_held(fuse_req_t req, struct inc_node *n, struct fuse_file_info *fi)
{
	struct stat st;
	int fd, rc, writing = (fi->flags & O_ACCMODE) != O_RDONLY ||
	    (fi->flags & O_TRUNC);

	if (writing && n->res_art) {
		/* a recorded result written again: a new run, its own spool */
		results_open(req, n, fi);
		return;
	}
	/* the inode itself, a regular file, never blocking */
	if ((rc = safe_reopen(n->fd, backing_flags(fi->flags), S_IFREG,
	    "open", &fd, &st)) < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	/* reads follow the file as it is: no blocking mode to keep */
	(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	fi->fh = (uint64_t)fd;
	if (fi->flags & O_TRUNC)
		fs_mark_dirty(FS(req), fd, DIRTY_CREATED);
	if (writing)
		writer_add(FS(req), fd, n);
	fuse_reply_open(req, fi);
}

void
inc_open(fuse_req_t req, struct inc_node *n, struct fuse_file_info *fi)
{
	HELD(req, n, NULL, open_held(req, n, fi));
}

static void
readlink_held(fuse_req_t req, struct inc_node *n)
{
	char buf[PATH_MAX + 1];
	ssize_t len = readlinkat(n->fd, "", buf, sizeof(buf) - 1);

	if (len < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	buf[len] = '\0';
	fuse_reply_readlink(req, buf);
}

void
inc_readlink(fuse_req_t req, struct inc_node *n)
{
	HELD(req, n, NULL, readlink_held(req, n));
}

/* A directory stream of the node's own (its held descriptor stays). */
static int
dir_stream(struct inc_node *n, DIR **out)
{
	int fd = openat(n->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (!(*out = fdopendir(fd))) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	return 0;
}

static void
opendir_held(fuse_req_t req, struct inc_node *n, struct fuse_file_info *fi)
{
	struct inc_dir *d = calloc(1, sizeof(*d));
	int rc;

	if (!d) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if ((rc = dir_stream(n, &d->dp)) < 0) {
		free(d);
		fuse_reply_err(req, -rc);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)d;
	fuse_reply_open(req, fi);
}

void
inc_opendir(fuse_req_t req, struct inc_node *n, struct fuse_file_info *fi)
{
	HELD(req, n, NULL, opendir_held(req, n, fi));
}

static void
readdir_held(fuse_req_t req, struct inc_node *n, size_t size, off_t off,
    struct fuse_file_info *fi, int plus)
{
	struct inc_dir *d = (struct inc_dir *)(uintptr_t)fi->fh, tmp = { 0 };
	struct fs *fs = FS(req);
	char *buf = malloc(size);
	size_t used = 0;
	int err = 0;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (!d) {
		/* no opendir: read from a descriptor of this call's own */
		if ((err = -dir_stream(n, &tmp.dp)) > 0) {
			free(buf);
			fuse_reply_err(req, err);
			return;
		}
		tmp.offset = -1;
		d = &tmp;
	}
	if (off != d->offset) {
		seekdir(d->dp, off);
		d->entry = NULL;
		d->offset = off;
	}
	for (;;) {
		uint64_t entry_ino = 0;
		const char *name;
		size_t len;

		if (!d->entry) {
			errno = 0;
			d->entry = readdir(d->dp);
			if (!d->entry) {
				err = errno;
				break;
			}
		}
		name = d->entry->d_name;
		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
			d->offset = d->entry->d_off;
			d->entry = NULL;
			continue;
		}
		if (plus) {
			struct fuse_entry_param e;

			err = -node_lookup(fs, n, name, &e);
			if (err == ENOENT) {	/* removed meanwhile */
				err = 0;
				d->offset = d->entry->d_off;
				d->entry = NULL;
				continue;
			}
			if (err)
				break;
			entry_ino = e.ino;
			len = fuse_add_direntry_plus(req, buf + used,
			    size - used, name, &e, d->entry->d_off);
		} else {
			struct stat st = { 0 };

			st.st_ino = d->entry->d_ino;
			st.st_mode = (mode_t)d->entry->d_type << 12;
			len = fuse_add_direntry(req, buf + used, size - used,
			    name, &st, d->entry->d_off);
		}
		if (len > size - used) {
			if (entry_ino)
				inc_forget(fs, inc_node_of(fs, entry_ino), 1);
			break;
		}
		used += len;
		d->offset = d->entry->d_off;
		d->entry = NULL;
	}
	/* entries already in the buffer carry lookups: send them */
	if (err && used == 0)
		fuse_reply_err(req, err);
	else
		fuse_reply_buf(req, buf, used);
	if (d == &tmp)
		closedir(tmp.dp);
	free(buf);
}

void
inc_readdir(fuse_req_t req, struct inc_node *n, size_t size, off_t off,
    struct fuse_file_info *fi, int plus)
{
	HELD(req, n, NULL, readdir_held(req, n, size, off, fi, plus));
}

void
inc_releasedir(fuse_req_t req, struct fuse_file_info *fi)
{
	struct inc_dir *d = (struct inc_dir *)(uintptr_t)fi->fh;

	closedir(d->dp);
	free(d);
	fuse_reply_err(req, 0);
}

void
inc_seal(fuse_req_t req, struct inc_node *dir, const char *name,
    uint64_t newparent, const char *newname, unsigned int flags)
{
	HELD(req, dir, NULL,
	    seal_held(req, dir, name, newparent, newname, flags));
}

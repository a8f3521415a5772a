/*
 * incoming.c - the writable staging area: incoming/ passes through to
 * STORE/incoming, a real directory, so what is written there survives a
 * crash of the daemon.  Modelled on libfuse's passthrough_ll: every inode
 * holds an O_PATH descriptor, found again by (st_dev, st_ino).
 * Moving incoming/<p>/<v> into artifacts/ seals it (inc_seal).
 */
#define _GNU_SOURCE
#include "fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FS(req) ((struct fs *)fuse_req_userdata(req))

struct inc_dir {
	DIR *dp;
	off_t offset;
	struct dirent *entry;
};

static size_t
hash_of(struct fs *fs, dev_t dev, ino_t ino)
{
	return (size_t)((ino * 0x9e3779b97f4a7c15ULL) ^ dev) % fs->tabsize;
}

void
inc_init(struct fs *fs)
{
	pthread_mutex_init(&fs->mu, NULL);
	fs->tabsize = 4096;
	fs->tab = calloc(fs->tabsize, sizeof(*fs->tab));
	fs->root.fd = open(store_incoming_dir(fs->st), O_PATH | O_CLOEXEC);
	fs->root.nlookup = 2;
}

void
inc_destroy(struct fs *fs)
{
	for (size_t i = 0; fs->tab && i < fs->tabsize; i++) {
		struct inc_node *n = fs->tab[i], *next;

		for (; n; n = next) {
			next = n->next;
			close(n->fd);
			free(n);
		}
	}
	free(fs->tab);
	if (fs->root.fd >= 0)
		close(fs->root.fd);
}

struct inc_node *
inc_node_of(struct fs *fs, uint64_t ino)
{
	if (ino == INO_INCOMING)
		return &fs->root;
	if (ino & INC_BIT)
		return (struct inc_node *)(uintptr_t)(ino & ~INC_BIT);
	return NULL;
}

static uint64_t
ino_of(struct fs *fs, struct inc_node *n)
{
	return n == &fs->root ? INO_INCOMING :
	    ((uint64_t)(uintptr_t)n | INC_BIT);
}

int
inc_stat(struct inc_node *n, struct stat *st)
{
	if (fstatat(n->fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return 0;
}

/* Find or make the node of dir/name and count one lookup. */
static int	lookup_at(struct fs *fs, int dirfd, const char *name,
		    struct fuse_entry_param *e);

static int
do_lookup(struct fs *fs, struct inc_node *dir, const char *name,
    struct fuse_entry_param *e)
{
	return lookup_at(fs, dir->fd, name, e);
}

int
inc_entry_path(struct fs *fs, const char *path, struct fuse_entry_param *e)
{
	int rc = lookup_at(fs, AT_FDCWD, path, e);

	if (rc == 0)
		inc_node_of(fs, e->ino)->stable = 1;
	return rc;
}

static int
lookup_at(struct fs *fs, int dirfd, const char *name,
    struct fuse_entry_param *e)
{
	struct inc_node *n;
	struct stat st;
	size_t h;
	int fd;

	memset(e, 0, sizeof(*e));
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	pthread_mutex_lock(&fs->mu);
	h = hash_of(fs, st.st_dev, st.st_ino);
	for (n = fs->tab[h]; n; n = n->next)
		if (n->dev == st.st_dev && n->ino == st.st_ino)
			break;
	if (n) {
		n->nlookup++;
		pthread_mutex_unlock(&fs->mu);
	} else {
		pthread_mutex_unlock(&fs->mu);
		fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		pthread_mutex_lock(&fs->mu);
		for (n = fs->tab[h]; n; n = n->next)
			if (n->dev == st.st_dev && n->ino == st.st_ino)
				break;
		if (n) {
			close(fd);
			n->nlookup++;
		} else {
			n = calloc(1, sizeof(*n));
			if (!n) {
				pthread_mutex_unlock(&fs->mu);
				close(fd);
				return -ENOMEM;
			}
			n->fd = fd;
			n->dev = st.st_dev;
			n->ino = st.st_ino;
			n->nlookup = 1;
			n->next = fs->tab[h];
			fs->tab[h] = n;
		}
		pthread_mutex_unlock(&fs->mu);
	}
	e->ino = ino_of(fs, n);
	e->attr = st;
	e->attr.st_ino = e->ino;
	/* the staging area changes: the kernel asks every time */
	e->attr_timeout = 0;
	e->entry_timeout = 0;
	return 0;
}

void
inc_forget(struct fs *fs, struct inc_node *n, uint64_t count)
{
	struct inc_node **pp;

	if (n == &fs->root)
		return;
	pthread_mutex_lock(&fs->mu);
	if (n->nlookup > count) {
		n->nlookup -= count;
		pthread_mutex_unlock(&fs->mu);
		return;
	}
	for (pp = &fs->tab[hash_of(fs, n->dev, n->ino)]; *pp;
	    pp = &(*pp)->next) {
		if (*pp == n) {
			*pp = n->next;
			break;
		}
	}
	pthread_mutex_unlock(&fs->mu);
	close(n->fd);
	free(n);
}

static void
reply_entry(fuse_req_t req, struct inc_node *dir, const char *name)
{
	struct fuse_entry_param e;
	int rc = do_lookup(FS(req), dir, name, &e);

	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_entry(req, &e);
}

void
inc_lookup(fuse_req_t req, struct inc_node *dir, const char *name)
{
	reply_entry(req, dir, name);
}

void
inc_role_attr(struct fs *fs, const struct inc_node *n, struct stat *st)
{
	struct store_access a;

	if (!n->ci_root)
		return;
	store_role_access(fs->st, STORE_ROLE_CI, &a);
	st->st_uid = a.uid;
	st->st_gid = a.gid;
	st->st_mode = (st->st_mode & ~(mode_t)0777) | 0555 | a.wbits;
}

void
inc_getattr(fuse_req_t req, struct inc_node *n)
{
	struct stat st;
	int rc = inc_stat(n, &st);

	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	st.st_ino = ino_of(FS(req), n);
	inc_role_attr(FS(req), n, &st);
	fuse_reply_attr(req, &st, n->stable ? FS(req)->timeout : 0);
}

static void
proc_path(char *buf, size_t len, int fd)
{
	snprintf(buf, len, "/proc/self/fd/%d", fd);
}

void
inc_setattr(fuse_req_t req, struct inc_node *n, struct stat *attr, int valid,
    struct fuse_file_info *fi)
{
	char path[64];
	int rc = 0;

	proc_path(path, sizeof(path), n->fd);
	if ((valid & FUSE_SET_ATTR_MODE) &&
	    (fi ? fchmod((int)fi->fh, attr->st_mode & 07777) :
	    chmod(path, attr->st_mode & 07777)) < 0)
		goto fail;
	if ((valid & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) &&
	    fchownat(n->fd, "", (valid & FUSE_SET_ATTR_UID) ? attr->st_uid :
	    (uid_t)-1, (valid & FUSE_SET_ATTR_GID) ? attr->st_gid : (gid_t)-1,
	    AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		goto fail;
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
		if ((fi ? futimens((int)fi->fh, tv) :
		    utimensat(AT_FDCWD, path, tv, 0)) < 0)
			goto fail;
	}
	inc_getattr(req, n);
	return;
fail:
	rc = errno;
	fuse_reply_err(req, rc);
}

/* Is dir an artifact's results/ directory? */
static int
in_results(struct fs *fs, struct inc_node *dir)
{
	char path[PATH_MAX];
	const char *base = store_path(fs->st);
	size_t blen = strlen(base);

	return dir != &fs->root && fd_path(dir->fd, path, sizeof(path)) == 0 &&
	    strncmp(path, base, blen) == 0 &&
	    strncmp(path + blen, "/results/", 9) == 0;
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

/* Give what a request creates to the person who made it. */
static void
give_to_caller(fuse_req_t req, struct inc_node *dir, const char *name)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);

	if (geteuid() == 0)
		(void)fchownat(dir->fd, name, ctx->uid, ctx->gid,
		    AT_SYMLINK_NOFOLLOW);
}

void
inc_mkdir(fuse_req_t req, struct inc_node *dir, const char *name,
    mode_t mode)
{
	if (check_name(req, name, "mkdir") < 0)
		return;
	if (in_results(FS(req), dir)) {
		store_seterr(-EINVAL, "mkdir: results/ holds result files, "
		    "not directories");
		fs_refuse(req, EINVAL, "mkdir");
		return;
	}
	if (mkdirat(dir->fd, name, mode & 07777) < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	give_to_caller(req, dir, name);
	reply_entry(req, dir, name);
}

void
inc_symlink(fuse_req_t req, const char *link, struct inc_node *dir,
    const char *name)
{
	if (check_name(req, name, "symlink") < 0)
		return;
	if (symlinkat(link, dir->fd, name) < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	give_to_caller(req, dir, name);
	reply_entry(req, dir, name);
}

void
inc_unlink(fuse_req_t req, struct inc_node *dir, const char *name, int isdir)
{
	int rc;

	if (in_results(FS(req), dir) && name[0] != '.') {
		store_seterr(-EROFS, "unlink: a recorded result is never "
		    "removed");
		fs_refuse(req, EROFS, "unlink");
		return;
	}
	rc = unlinkat(dir->fd, name, isdir ? AT_REMOVEDIR : 0);
	fuse_reply_err(req, rc < 0 ? errno : 0);
}

void
inc_rename(fuse_req_t req, struct inc_node *dir, const char *name,
    struct inc_node *newdir, const char *newname, unsigned int flags)
{
	char path[PATH_MAX + 256];
	int rc;

	if (check_name(req, newname, "rename") < 0)
		return;
	if ((in_results(FS(req), dir) && name[0] != '.') ||
	    (in_results(FS(req), newdir) && newname[0] != '.' &&
	    !(flags & RENAME_NOREPLACE) &&
	    faccessat(newdir->fd, newname, F_OK, AT_SYMLINK_NOFOLLOW) == 0)) {
		store_seterr(-EROFS, "rename: a recorded result is never "
		    "changed or removed");
		fs_refuse(req, EROFS, "rename");
		return;
	}
	if (renameat2(dir->fd, name, newdir->fd, newname, flags) < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	/* rsync's dot-file, or a file moved in: now it is a result */
	rc = 0;
	if (in_results(FS(req), newdir) && newname[0] != '.' &&
	    fd_path(newdir->fd, path, PATH_MAX) == 0) {
		strcat(path, "/");
		strncat(path, newname, 255);
		rc = results_record(req, path);
		fs_changed(FS(req));
	}
	fuse_reply_err(req, -rc);
}

void
inc_create(fuse_req_t req, struct inc_node *dir, const char *name,
    mode_t mode, struct fuse_file_info *fi)
{
	struct fuse_entry_param e;
	int fd, rc;

	if (check_name(req, name, "create") < 0)
		return;
	fd = openat(dir->fd, name,
	    (fi->flags | O_CREAT | O_CLOEXEC | O_NOFOLLOW) & ~O_NOCTTY,
	    mode & 07777);
	if (fd < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	give_to_caller(req, dir, name);
	/* a new file is written even when empty: close() records it */
	fs_mark_dirty(FS(req), fd, DIRTY_CREATED);
	rc = do_lookup(FS(req), dir, name, &e);
	if (rc < 0) {
		close(fd);
		fuse_reply_err(req, -rc);
		return;
	}
	fi->fh = (uint64_t)fd;
	fi->direct_io = 0;
	fi->keep_cache = 0;
	fuse_reply_create(req, &e, fi);
}

void
inc_open(fuse_req_t req, struct inc_node *n, struct fuse_file_info *fi)
{
	char path[64];
	int fd;

	proc_path(path, sizeof(path), n->fd);
	fd = open(path, (fi->flags | O_CLOEXEC) & ~(O_NOFOLLOW | O_CREAT));
	if (fd < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	fi->fh = (uint64_t)fd;
	if (fi->flags & O_TRUNC)
		fs_mark_dirty(FS(req), fd, DIRTY_CREATED);
	fuse_reply_open(req, fi);
}

void
inc_readlink(fuse_req_t req, struct inc_node *n)
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
inc_opendir(fuse_req_t req, struct inc_node *n, struct fuse_file_info *fi)
{
	struct inc_dir *d = calloc(1, sizeof(*d));
	int fd;

	if (!d) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fd = openat(n->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || !(d->dp = fdopendir(fd))) {
		int err = errno;

		if (fd >= 0)
			close(fd);
		free(d);
		fuse_reply_err(req, err);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)d;
	fuse_reply_open(req, fi);
}

void
inc_readdir(fuse_req_t req, struct inc_node *n, size_t size, off_t off,
    struct fuse_file_info *fi, int plus)
{
	struct inc_dir *d = (struct inc_dir *)(uintptr_t)fi->fh, tmp = { 0 };
	struct fs *fs = FS(req);
	char *buf = malloc(size);
	size_t used = 0;
	int err = 0, fd;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (!d) {
		/* no opendir: read from a descriptor of this call's own */
		fd = openat(n->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0 || !(tmp.dp = fdopendir(fd))) {
			err = errno;
			if (fd >= 0)
				close(fd);
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

			err = -do_lookup(fs, n, name, &e);
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
inc_releasedir(fuse_req_t req, struct fuse_file_info *fi)
{
	struct inc_dir *d = (struct inc_dir *)(uintptr_t)fi->fh;

	closedir(d->dp);
	free(d);
	fuse_reply_err(req, 0);
}

/* The path of an incoming node relative to STORE/incoming ("" for it). */
static int
rel_path(struct fs *fs, struct inc_node *n, char *out, size_t len)
{
	char proc[64], real[PATH_MAX + 1];
	const char *base = store_incoming_dir(fs->st);
	size_t blen = strlen(base);
	ssize_t got;

	proc_path(proc, sizeof(proc), n->fd);
	got = readlink(proc, real, sizeof(real) - 1);
	if (got < 0)
		return -errno;
	real[got] = '\0';
	if (strncmp(real, base, blen) != 0 ||
	    (real[blen] != '\0' && real[blen] != '/'))
		return -ENOENT;
	snprintf(out, len, "%s", real[blen] ? real + blen + 1 : "");
	return 0;
}

/*
 * mv incoming/<p>/<v> artifacts/<p>/      -> rename to (artifacts/<p>, <v>)
 *                                            or, when artifacts/<p> does not
 *                                            exist yet, to (artifacts, <p>)
 * mv incoming/<p>/<v> artifacts/<p>/<v2>  -> published as version <v2>
 */
void
inc_seal(fuse_req_t req, struct inc_node *dir, const char *name,
    uint64_t newparent, const char *newname)
{
	struct fs *fs = FS(req);
	struct store_publish o = { 0 };
	struct store_user who;
	struct node pn, an;
	struct stat st;
	char project[PATH_MAX], src[PATH_MAX * 2], vpath[PATH_MAX * 2];
	uint64_t pino, ino, moved_to;
	int rc;

	rc = rel_path(fs, dir, project, sizeof(project));
	if (rc < 0 || project[0] == '\0' || strchr(project, '/')) {
		store_seterr(-EINVAL, "rename: only a version directory "
		    "incoming/<project>/<version> can be moved into artifacts/"
		    "<project>/");
		fs_refuse(req, EINVAL, "rename");
		return;
	}
	if (newparent == INO_ARTIFACTS) {
		if (strcmp(newname, project) != 0) {
			store_seterr(-EINVAL, "rename: incoming/%s/%s belongs to "
			    "project '%s', not '%s'", project, name, project,
			    newname);
			fs_refuse(req, EINVAL, "rename");
			return;
		}
		o.version = name;
	} else {
		/* only artifacts/<project>/ of the same project takes it */
		rc = store_node_get(fs->st, newparent, &pn);
		if (rc < 0 || pn.parent != INO_ARTIFACTS ||
		    store_node_lookup(fs->st, INO_ARTIFACTS, project, &pino,
		    &an) < 0 || pino != newparent) {
			int err = rc == 0 && pn.parent == INO_ARTIFACTS ?
			    EINVAL : EROFS;

			store_seterr(-err, "rename: incoming/%s/%s can only be "
			    "moved to artifacts/%s/", project, name, project);
			fs_refuse(req, err, "rename");
			return;
		}
		o.version = newname;
	}
	o.project = project;
	snprintf(src, sizeof(src), "%s/%s/%s", store_incoming_dir(fs->st),
	    project, name);
	if (fstatat(dir->fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISDIR(st.st_mode)) {
		store_seterr(-ENOTDIR, "rename: incoming/%s/%s is not a "
		    "directory", project, name);
		fs_refuse(req, ENOTDIR, "rename");
		return;
	}
	fs_who(req, &who);
	rc = store_publish_dir(fs->st, src, &o, &who, NULL);
	if (rc < 0) {
		fs_refuse(req, -rc, "publish");
		return;
	}
	store_log(fs->st, "published %s %s by %s", project, o.version,
	    who.name);
	fs_changed(fs);
	/* the staging copy is sealed: remove it (a crash here leaves it) */
	remove_tree(src);
	snprintf(vpath, sizeof(vpath), "artifacts/%s/%s", project, o.version);
	rc = store_resolve(fs->st, vpath, &ino, &an);
	pino = an.parent;
	moved_to = newparent == INO_ARTIFACTS ? pino : ino;
	pthread_mutex_lock(&fs->mu);
	for (struct inc_node *n = fs->tab[hash_of(fs, st.st_dev, st.st_ino)];
	    n; n = n->next)
		if (n->dev == st.st_dev && n->ino == st.st_ino)
			n->sealed_as = rc == 0 ? moved_to : 0;
	pthread_mutex_unlock(&fs->mu);
	fuse_reply_err(req, 0);
	/* the kernel moved its dentry onto the staging inode: drop it */
	fs_inval(fs, newparent, newname, 0);
	fs_inval(fs, 0, NULL, newparent);
	if (newparent != INO_ARTIFACTS)
		fs_inval(fs, 0, NULL, INO_ARTIFACTS);
}

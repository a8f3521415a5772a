/*
 * seal.c - moving incoming/<p>/<v> into artifacts/<p>/: which project and
 * version the rename means, then the store's seal (store_seal).
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

/* The path of an incoming node relative to STORE/incoming ("" for it). */
static int
rel_path(struct fs *fs, struct inc_node *n, char *out, size_t len)
{
	char proc[64], real[PATH_MAX + 1];
	const char *base = store_incoming_dir(fs->st);
	size_t blen = strlen(base);
	ssize_t got;

	node_proc_path(proc, sizeof(proc), n->fd);
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

/* A rename of dir/name into artifacts/: store_seal_rename decides. */
void
seal_held(fuse_req_t req, struct inc_node *dir, const char *name,
    uint64_t newparent, const char *newname, unsigned int flags)
{
	struct fs *fs = FS(req);
	struct store_user who;
	struct inc_node *sealed;
	struct stat st;
	char project[PATH_MAX];
	const char *what;
	uint64_t moved_to;
	int rc;

	/* which staged inode the kernel will be told about afterwards */
	if (rel_path(fs, dir, project, sizeof(project)) < 0)
		project[0] = '\0';
	if (fstatat(dir->fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		memset(&st, 0, sizeof(st));
	fs_who(req, &who);
	rc = store_seal_rename(fs->st, dir->fd, project, name, newparent,
	    newname, flags, node_busy, fs, &who, &moved_to, &what);
	if (rc < 0) {
		fs_refuse(req, -rc, what);
		return;
	}
	fs_changed(fs);
	pthread_mutex_lock(&fs->mu);
	if ((sealed = node_find(fs, st.st_dev, st.st_ino))) {
		sealed->sealed_as = moved_to;
		/* no longer in incoming/: never opened again by that name */
		node_name(fs, sealed, NULL, NULL);
	}
	pthread_mutex_unlock(&fs->mu);
	fuse_reply_err(req, 0);
	/* the kernel moved its dentry onto the staging inode: drop it */
	fs_inval(fs, newparent, newname, 0);
	fs_inval(fs, 0, NULL, newparent);
	if (newparent != INO_ARTIFACTS)
		fs_inval(fs, 0, NULL, INO_ARTIFACTS);
}

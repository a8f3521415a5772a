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

/*
 * mv incoming/<p>/<v> artifacts/<p>/      -> rename to (artifacts/<p>, <v>)
 *                                            or, when artifacts/<p> does not
 *                                            exist yet, to (artifacts, <p>)
 * mv incoming/<p>/<v> artifacts/<p>/<v2>  -> published as version <v2>
 */
void
seal_held(fuse_req_t req, struct inc_node *dir, const char *name,
    uint64_t newparent, const char *newname)
{
	struct fs *fs = FS(req);
	struct store_publish o = { 0 };
	struct store_user who;
	struct inc_node *sealed;
	struct node pn, an;
	struct stat st;
	char project[PATH_MAX], vpath[PATH_MAX * 2];
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
	o.busy = node_busy;
	o.busy_arg = fs;
	if (fstatat(dir->fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISDIR(st.st_mode)) {
		store_seterr(-ENOTDIR, "rename: incoming/%s/%s is not a "
		    "directory", project, name);
		fs_refuse(req, ENOTDIR, "rename");
		return;
	}
	fs_who(req, &who);
	rc = store_seal(fs->st, dir->fd, name, &o, &who);
	if (rc < 0) {
		fs_refuse(req, -rc, "publish");
		return;
	}
	fs_changed(fs);
	snprintf(vpath, sizeof(vpath), "artifacts/%s/%s", project, o.version);
	rc = store_resolve(fs->st, vpath, &ino, &an);
	pino = an.parent;
	moved_to = newparent == INO_ARTIFACTS ? pino : ino;
	pthread_mutex_lock(&fs->mu);
	if ((sealed = node_find(fs, st.st_dev, st.st_ino))) {
		sealed->sealed_as = rc == 0 ? moved_to : 0;
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

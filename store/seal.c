/*
 * seal.c - mv incoming/<p>/<v> artifacts/<p>/: the staged directory leaves
 * every user's reach before a byte of it is read.  It is renamed into a
 * directory of its own under STORE/tmp (the store owner's alone), published
 * from a descriptor of it, and removed descriptor by descriptor; a refusal
 * renames it back.  A user who swaps a directory for a link meanwhile can
 * only do it through descriptors the mount already gave out, and every
 * access below is link-proof (safe.h), so what is read or removed is always
 * the staged tree.
 *
 * STORE/tmp/seal.XXXXXX/
 *     version          the version it is sealed as (for the recovery)
 *     <project>/<name> the staged directory
 */
#define _GNU_SOURCE
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "safe.h"
#include "store_impl.h"

static void	drop_seal_dir(struct store *st, const char *dir);

/* Remove an emptied STORE/tmp/seal.* (its version file and itself). */
static void
drop_seal_dir(struct store *st, const char *dir)
{
	char p[PATH_MAX];
	int tfd;

	snprintf(p, sizeof(p), "%s/tmp", st->path);
	tfd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (tfd < 0)
		return;
	if (safe_remove_tree(tfd, dir) < 0)
		store_log(st, "seal: could not remove '%s/%s'", p, dir);
	close(tfd);
}

int
store_seal(struct store *st, int projfd, const char *name,
    const struct store_publish *o, const struct store_user *who)
{
	char tmpl[PATH_MAX], what[2 * NAME_MAX_BYTES + 16];
	const char *base;
	struct stat sb;
	int sealfd = -1, pfd = -1, vfd = -1, vf, rc, moved = 0;

	/* the role is checked by store_publish_at, before anything is read */
	snprintf(what, sizeof(what), "incoming/%s/%s", o->project, name);
	snprintf(tmpl, sizeof(tmpl), "%s/tmp/seal.XXXXXX", st->path);
	if (!mkdtemp(tmpl))
		return store_seterr(-errno, "could not make a directory to "
		    "seal in: %s", strerror(errno));
	base = strrchr(tmpl, '/') + 1;
	sealfd = open(tmpl, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sealfd < 0 || mkdirat(sealfd, o->project, SAFE_DIR_MODE) < 0 ||
	    (pfd = openat(sealfd, o->project, O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) < 0) {
		rc = store_seterr(-errno, "could not make a directory to seal "
		    "in: %s", strerror(errno));
		goto out;
	}
	vf = openat(sealfd, "version", O_WRONLY | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, SAFE_FILE_MODE);
	if (vf < 0 || write_all(vf, o->version, strlen(o->version)) < 0) {
		rc = store_seterr(-EIO, "could not record the seal of %s",
		    what);
		if (vf >= 0)
			close(vf);
		goto out;
	}
	close(vf);
	/* out of every user's reach: only descriptors already given remain */
	if (renameat(projfd, name, pfd, name) < 0) {
		rc = store_seterr(-errno, "rename: %s: %s", what,
		    strerror(errno));
		goto out;
	}
	moved = 1;
	if (fstatat(pfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISDIR(sb.st_mode)) {
		rc = store_seterr(-ENOTDIR, "rename: %s is not a directory",
		    what);
		goto out;
	}
	if ((rc = safe_open(pfd, name, S_IFDIR, what, &vfd, &sb)) < 0)
		goto out;
	rc = store_publish_at(st, vfd, o, who, NULL);
	close(vfd);
	if (rc < 0)
		goto out;
	moved = 0;	/* sealed: the staging copy goes with the seal dir */
out:
	if (moved && renameat2(pfd, name, projfd, name, RENAME_NOREPLACE) < 0) {
		/* refused, and its name was taken meanwhile: keep it here */
		store_log(st, "seal: %s could not be put back (%s); it is kept "
		    "as %s/%s/%s", what, strerror(errno), tmpl, o->project,
		    name);
	} else {
		drop_seal_dir(st, base);
	}
	if (pfd >= 0)
		close(pfd);
	if (sealfd >= 0)
		close(sealfd);
	return rc;
}

/* One STORE/tmp/seal.* left by a daemon that died while sealing. */
static void
recover_one(struct store *st, int tfd, const char *dir)
{
	char version[NAME_MAX_BYTES + 1] = "", path[3 * NAME_MAX_BYTES + 16];
	int sfd, vf, inc, kept = 0;
	DIR *d;

	sfd = openat(tfd, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (sfd < 0)
		return;
	vf = openat(sfd, "version", O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC);
	if (vf >= 0) {
		ssize_t n = read(vf, version, sizeof(version) - 1);

		version[n > 0 ? n : 0] = '\0';
		close(vf);
	}
	inc = open(st->incoming, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	d = fdopendir(dup(sfd));
	for (struct dirent *de; !kept && d && inc >= 0 && (de = readdir(d));) {
		int pfd;
		DIR *pd;

		if (de->d_name[0] == '.' || strcmp(de->d_name, "version") == 0)
			continue;
		pfd = openat(sfd, de->d_name, O_RDONLY | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC);
		pd = pfd < 0 ? NULL : fdopendir(pfd);
		for (struct dirent *ve; !kept && pd && (ve = readdir(pd));) {
			uint64_t ino;
			struct node n;
			int ipfd;

			if (strcmp(ve->d_name, ".") == 0 ||
			    strcmp(ve->d_name, "..") == 0)
				continue;
			snprintf(path, sizeof(path), "artifacts/%s/%s",
			    de->d_name, version);
			if (*version && store_resolve(st, path, &ino, &n) == 0)
				continue;	/* sealed: removed below */
			(void)mkdirat(inc, de->d_name, SAFE_DIR_MODE);
			ipfd = openat(inc, de->d_name, O_RDONLY | O_DIRECTORY |
			    O_NOFOLLOW | O_CLOEXEC);
			if (ipfd < 0 || renameat2(pfd, ve->d_name, ipfd,
			    ve->d_name, RENAME_NOREPLACE) < 0) {
				store_log(st, "seal: a staged directory left "
				    "by an interrupted seal is kept in '%s/tmp/"
				    "%s/%s'", st->path, dir, de->d_name);
				if (ipfd >= 0)
					close(ipfd);
				kept = 1;
				break;
			}
			store_log(st, "seal: incoming/%s/%s was not sealed "
			    "(the daemon stopped): put back", de->d_name,
			    ve->d_name);
			close(ipfd);
		}
		if (pd)
			closedir(pd);
	}
	if (d)
		closedir(d);
	if (inc >= 0)
		close(inc);
	close(sfd);
	if (!kept)
		(void)safe_remove_tree(tfd, dir);
}

void
store_seal_recover(struct store *st)
{
	char p[PATH_MAX];
	int tfd;
	DIR *d;

	snprintf(p, sizeof(p), "%s/tmp", st->path);
	tfd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (tfd < 0)
		return;
	d = fdopendir(dup(tfd));
	for (struct dirent *de; d && (de = readdir(d));)
		if (strncmp(de->d_name, "seal.", 5) == 0)
			recover_one(st, tfd, de->d_name);
	if (d)
		closedir(d);
	close(tfd);
}

int
store_seal_rename(struct store *st, int projfd, const char *projpath,
    const char *name, uint64_t newparent, const char *newname,
    unsigned int flags, int (*busy)(void *, dev_t, ino_t), void *busy_arg,
    const struct store_user *who, uint64_t *moved_to, const char **what)
{
	struct store_publish o = { 0 };
	char vpath[PATH_MAX * 2];
	struct node pn, an;
	struct stat sb;
	uint64_t pino, ino;
	int rc;

	*moved_to = 0;
	*what = "rename";
	if (flags & RENAME_EXCHANGE)
		return store_seterr(-EINVAL, "rename: an artifact cannot be "
		    "exchanged");
	if (projpath[0] == '\0' || strchr(projpath, '/'))
		return store_seterr(-EINVAL, "rename: only a version directory "
		    "incoming/<project>/<version> can be moved into artifacts/"
		    "<project>/");
	if (newparent == INO_ARTIFACTS) {
		if (strcmp(newname, projpath) != 0)
			return store_seterr(-EINVAL, "rename: incoming/%s/%s "
			    "belongs to project '%s', not '%s'", projpath, name,
			    projpath, newname);
		o.version = name;
	} else {
		/* only artifacts/<project>/ of the same project takes it */
		rc = store_node_get(st, newparent, &pn);
		if (rc < 0 || pn.parent != INO_ARTIFACTS ||
		    store_node_lookup(st, INO_ARTIFACTS, projpath, &pino,
		    &an) < 0 || pino != newparent)
			return store_seterr(rc == 0 && pn.parent ==
			    INO_ARTIFACTS ? -EINVAL : -EROFS, "rename: "
			    "incoming/%s/%s can only be moved to artifacts/%s/",
			    projpath, name, projpath);
		o.version = newname;
	}
	o.project = projpath;
	o.busy = busy;
	o.busy_arg = busy_arg;
	if (fstatat(projfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISDIR(sb.st_mode))
		return store_seterr(-ENOTDIR, "rename: incoming/%s/%s is not a "
		    "directory", projpath, name);
	*what = "publish";
	if ((rc = store_seal(st, projfd, name, &o, who)) < 0)
		return rc;
	snprintf(vpath, sizeof(vpath), "artifacts/%s/%s", projpath, o.version);
	if (store_resolve(st, vpath, &ino, &an) == 0)
		*moved_to = newparent == INO_ARTIFACTS ? an.parent : ino;
	return 0;
}

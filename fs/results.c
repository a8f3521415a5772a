/*
 * results.c - results/ of an artifact is a passthrough of
 * STORE/results/<project>/<version>; closing a file written there (or
 * renaming a dot-file into place, as rsync does) records a run.  A refused
 * result is removed, so nothing half-written stays behind.
 */
#define _GNU_SOURCE
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "results.h"

#define FS(req) ((struct fs *)fuse_req_userdata(req))

int
fd_path(int fd, char *out, size_t len)
{
	char proc[64];
	ssize_t n;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	n = readlink(proc, out, len - 1);
	if (n < 0)
		return -errno;
	out[n] = '\0';
	return 0;
}

/*
 * Split STORE/results/<p>/<v>/<name> into "artifacts/<p>/<v>" and name;
 * -ENOENT when path is not a file directly in a results directory.
 */
static int
split(struct fs *fs, const char *path, char *artpath, size_t alen,
    const char **name)
{
	const char *base = store_path(fs->st), *p, *v, *n;
	size_t blen = strlen(base);

	if (strncmp(path, base, blen) != 0 ||
	    strncmp(path + blen, "/results/", 9) != 0)
		return -ENOENT;
	p = path + blen + 9;
	v = strchr(p, '/');
	if (!v)
		return -ENOENT;
	n = strchr(v + 1, '/');
	if (!n || strchr(n + 1, '/'))
		return -ENOENT;
	snprintf(artpath, alen, "artifacts/%.*s", (int)(n - p), p);
	*name = n + 1;
	return 0;
}

int
results_is_final(struct fs *fs, const char *path)
{
	char artpath[PATH_MAX];
	const char *name;

	return split(fs, path, artpath, sizeof(artpath), &name) == 0 &&
	    name[0] != '.';
}

int
results_record(fuse_req_t req, const char *path)
{
	struct fs *fs = FS(req);
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	char artpath[PATH_MAX], *buf = NULL;
	struct store_user who;
	const char *name;
	struct node an;
	uint64_t art, no;
	ssize_t got;
	int fd, rc;

	if (split(fs, path, artpath, sizeof(artpath), &name) < 0 ||
	    name[0] == '.')
		return 0;	/* not a result, or a temporary file */
	rc = store_resolve(fs->st, artpath, &art, &an);
	if (rc < 0)
		goto refuse;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = store_seterr(-errno, "could not read '%s': %s", path,
		    strerror(errno));
		goto refuse;
	}
	buf = malloc(RESULT_MAX + 1);
	got = buf ? pread(fd, buf, RESULT_MAX + 1, 0) : -1;
	close(fd);
	if (got < 0) {
		rc = buf ? -errno : -ENOMEM;
		goto refuse;
	}
	fs_who(req, &who);
	rc = store_result_add(fs->st, art, name, buf, (size_t)got, &who, &no);
	if (rc == 0) {
		free(buf);
		return 0;
	}
refuse:
	free(buf);
	/* over the size limit is bad content too */
	if (rc == -EFBIG)
		rc = -EINVAL;
	store_prefixerr(rc, "%s/results/%s", artpath, name);
	unlink(path);
	store_log(fs->st, "refused result for uid %u: %s",
	    (unsigned)ctx->uid, store_errmsg());
	if (fs->debug)
		fprintf(stderr, "relfs: refused result: %s\n", store_errmsg());
	return rc;
}

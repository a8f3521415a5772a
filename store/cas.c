/* cas.c - see cas.h. */
#define _GNU_SOURCE
#include "cas.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK (1 << 20)

struct cas {
	char *root;
	int objfd;	/* STORE/objects */
	int tmpfd;	/* STORE/tmp */
};

static int	obj_name(const uint8_t d[DIGEST_LEN], char dir[3], char *file);
static int	commit_tmp(struct cas *cas, const char *tmpname,
		    const uint8_t d[DIGEST_LEN]);
static int	make_tmp(struct cas *cas, char *name, size_t len);

int
cas_open(struct cas **out, const char *root)
{
	struct cas *cas;
	char path[4096];
	int rc = 0;

	cas = calloc(1, sizeof(*cas));
	if (!cas)
		return -ENOMEM;
	cas->objfd = cas->tmpfd = -1;
	cas->root = strdup(root);
	snprintf(path, sizeof(path), "%s/objects", root);
	if (mkdir(path, 0755) < 0 && errno != EEXIST) {
		rc = store_seterr(-errno, "could not create '%s': %s", path,
		    strerror(errno));
		goto fail;
	}
	cas->objfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cas->objfd < 0) {
		rc = store_seterr(-errno, "could not open '%s': %s", path,
		    strerror(errno));
		goto fail;
	}
	snprintf(path, sizeof(path), "%s/tmp", root);
	if (mkdir(path, 0700) < 0 && errno != EEXIST) {
		rc = store_seterr(-errno, "could not create '%s': %s", path,
		    strerror(errno));
		goto fail;
	}
	cas->tmpfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cas->tmpfd < 0) {
		rc = store_seterr(-errno, "could not open '%s': %s", path,
		    strerror(errno));
		goto fail;
	}
	*out = cas;
	return 0;
fail:
	cas_close(cas);
	return rc;
}

void
cas_close(struct cas *cas)
{
	if (!cas)
		return;
	if (cas->objfd >= 0)
		close(cas->objfd);
	if (cas->tmpfd >= 0)
		close(cas->tmpfd);
	free(cas->root);
	free(cas);
}

static int
obj_name(const uint8_t d[DIGEST_LEN], char dir[3], char *file)
{
	char hex[DIGEST_HEX_LEN + 1];

	digest_hex(hex, d);
	memcpy(dir, hex, 2);
	dir[2] = '\0';
	memcpy(file, hex, 2);
	file[2] = '/';
	memcpy(file + 3, hex + 2, DIGEST_HEX_LEN - 2 + 1);
	return 0;
}

void
cas_path(struct cas *cas, const uint8_t d[DIGEST_LEN], char *out,
    size_t outlen)
{
	char dir[3], file[DIGEST_HEX_LEN + 2];

	obj_name(d, dir, file);
	snprintf(out, outlen, "%s/objects/%s", cas->root, file);
}

static int
make_tmp(struct cas *cas, char *name, size_t len)
{
	static __thread unsigned counter;
	int fd = -1;

	for (int tries = 0; tries < 100; tries++) {
		snprintf(name, len, "obj.%d.%lx.%u", (int)getpid(),
		    (unsigned long)gettid(), counter++);
		fd = openat(cas->tmpfd, name,
		    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
		if (fd >= 0 || errno != EEXIST)
			break;
	}
	if (fd < 0)
		return store_seterr(-errno,
		    "could not create a temporary file in '%s/tmp': %s",
		    cas->root, strerror(errno));
	return fd;
}

static int
commit_tmp(struct cas *cas, const char *tmpname, const uint8_t d[DIGEST_LEN])
{
	char dir[3], file[DIGEST_HEX_LEN + 2];
	struct stat st;

	obj_name(d, dir, file);
	if (fstatat(cas->objfd, file, &st, 0) == 0) {
		/* already stored: the same bytes, keep the first copy */
		unlinkat(cas->tmpfd, tmpname, 0);
		return 0;
	}
	if (mkdirat(cas->objfd, dir, 0755) < 0 && errno != EEXIST)
		return store_seterr(-errno,
		    "could not create '%s/objects/%s': %s", cas->root, dir,
		    strerror(errno));
	if (renameat(cas->tmpfd, tmpname, cas->objfd, file) < 0) {
		int err = errno;

		unlinkat(cas->tmpfd, tmpname, 0);
		return store_seterr(-err, "could not store object %s: %s",
		    file, strerror(err));
	}
	return 0;
}

int
cas_put_fd(struct cas *cas, int fd, uint8_t out[DIGEST_LEN], uint64_t *size,
    cas_progress_fn progress, void *arg)
{
	char tmpname[128];
	unsigned int dlen = DIGEST_LEN;
	EVP_MD_CTX *md = NULL;
	char *buf = NULL;
	uint64_t total = 0;
	int tfd, rc = 0;

	tfd = make_tmp(cas, tmpname, sizeof(tmpname));
	if (tfd < 0)
		return tfd;
	buf = malloc(CHUNK);
	md = EVP_MD_CTX_new();
	if (!buf || !md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
		rc = -ENOMEM;
		goto fail;
	}
	for (;;) {
		ssize_t n = read(fd, buf, CHUNK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = store_seterr(-errno, "could not read input: %s",
			    strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		EVP_DigestUpdate(md, buf, (size_t)n);
		rc = write_all(tfd, buf, (size_t)n);
		if (rc < 0) {
			store_seterr(rc, "could not write to '%s/tmp': %s",
			    cas->root, strerror(-rc));
			goto fail;
		}
		total += (uint64_t)n;
		if (progress)
			progress(arg, (uint64_t)n);
	}
	EVP_DigestFinal_ex(md, out, &dlen);
	if (close(tfd) < 0) {
		tfd = -1;
		rc = store_seterr(-errno, "could not write to '%s/tmp': %s",
		    cas->root, strerror(errno));
		goto fail;
	}
	tfd = -1;
	rc = commit_tmp(cas, tmpname, out);
	if (rc == 0 && size)
		*size = total;
	goto out;
fail:
	if (tfd >= 0)
		close(tfd);
	unlinkat(cas->tmpfd, tmpname, 0);
out:
	EVP_MD_CTX_free(md);
	free(buf);
	return rc;
}

int
cas_put_buf(struct cas *cas, const void *buf, size_t len,
    uint8_t out[DIGEST_LEN])
{
	char tmpname[128];
	int tfd, rc;

	digest_buf(out, buf, len);
	if (cas_has(cas, out))
		return 0;
	tfd = make_tmp(cas, tmpname, sizeof(tmpname));
	if (tfd < 0)
		return tfd;
	rc = write_all(tfd, buf, len);
	if (close(tfd) < 0 && rc == 0)
		rc = -errno;
	if (rc < 0) {
		unlinkat(cas->tmpfd, tmpname, 0);
		return store_seterr(rc, "could not write to '%s/tmp': %s",
		    cas->root, strerror(-rc));
	}
	return commit_tmp(cas, tmpname, out);
}

int
cas_has(struct cas *cas, const uint8_t d[DIGEST_LEN])
{
	char dir[3], file[DIGEST_HEX_LEN + 2];

	obj_name(d, dir, file);
	return faccessat(cas->objfd, file, F_OK, 0) == 0;
}

int
cas_open_object(struct cas *cas, const uint8_t d[DIGEST_LEN], int *fd)
{
	char dir[3], file[DIGEST_HEX_LEN + 2];

	obj_name(d, dir, file);
	*fd = openat(cas->objfd, file, O_RDONLY | O_CLOEXEC);
	if (*fd < 0)
		return store_seterr(-errno,
		    "could not open object '%s/objects/%s': %s", cas->root,
		    file, strerror(errno));
	return 0;
}

int
cas_read_all(struct cas *cas, const uint8_t d[DIGEST_LEN], size_t max,
    char **buf, size_t *len)
{
	char path[4200];

	cas_path(cas, d, path, sizeof(path));
	return read_small_file(path, max, buf, len);
}

int
cas_check(struct cas *cas, const uint8_t d[DIGEST_LEN], uint64_t *size)
{
	uint8_t got[DIGEST_LEN];
	char path[4200];
	uint64_t total = 0;
	unsigned int dlen = DIGEST_LEN;
	EVP_MD_CTX *md = NULL;
	char *buf = NULL;
	int fd, rc = 0;

	cas_path(cas, d, path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int err = errno;

		return store_seterr(err == ENOENT ? -ENOENT : -EIO,
		    "object '%s' is missing: %s", path, strerror(err));
	}
	buf = malloc(CHUNK);
	md = EVP_MD_CTX_new();
	if (!buf || !md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
		rc = -ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, buf, CHUNK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = store_seterr(-EIO, "could not read '%s': %s",
			    path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		EVP_DigestUpdate(md, buf, (size_t)n);
		total += (uint64_t)n;
	}
	EVP_DigestFinal_ex(md, got, &dlen);
	if (memcmp(got, d, DIGEST_LEN) != 0) {
		char hex[DIGEST_HEX_LEN + 1];

		digest_hex(hex, got);
		rc = store_seterr(-EIO,
		    "object '%s' is corrupt: its content hashes to %s", path,
		    hex);
		goto out;
	}
	if (size)
		*size = total;
out:
	EVP_MD_CTX_free(md);
	free(buf);
	close(fd);
	return rc;
}

int
cas_adopt(struct cas *cas, const char *tmpname, const uint8_t d[DIGEST_LEN])
{
	char dir[3], file[DIGEST_HEX_LEN + 2];
	int fd = openat(cas->tmpfd, tmpname, O_RDONLY | O_CLOEXEC), rc, err;

	if (fd < 0 || fdatasync(fd) < 0) {
		err = errno;
		if (fd >= 0)
			close(fd);
		unlinkat(cas->tmpfd, tmpname, 0);
		return store_seterr(-err, "could not write '%s/tmp/%s': %s",
		    cas->root, tmpname, strerror(err));
	}
	close(fd);
	fchmodat(cas->tmpfd, tmpname, 0444, 0);
	if ((rc = commit_tmp(cas, tmpname, d)) < 0)
		return rc;
	/* and its name is on disk too */
	obj_name(d, dir, file);
	fd = openat(cas->objfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0) {
		err = errno;
		if (fd >= 0)
			close(fd);
		return store_seterr(-err, "could not sync '%s/objects/%s': %s",
		    cas->root, dir, strerror(err));
	}
	close(fd);
	return 0;
}

int
cas_sync(struct cas *cas)
{
	if (syncfs(cas->objfd) < 0)
		return store_seterr(-errno, "could not sync '%s': %s",
		    cas->root, strerror(errno));
	return 0;
}

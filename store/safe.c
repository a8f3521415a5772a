/* safe.c - see safe.h. */
#define _GNU_SOURCE
#include "safe.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "util.h"

#define ATTR_NAME "user.relfs.attr"
#define REMOVE_DEPTH_MAX 4096

static int	open_path(int dirfd, const char *rel, int links);
static int	remove_at(int dirfd, const char *name, int depth);

/*
 * An O_PATH descriptor of dirfd/rel, with no link anywhere on the way (or,
 * with links, none that leads out of dirfd).
 */
static int
open_path(int dirfd, const char *rel, int links)
{
	struct open_how how;
	long fd;

	memset(&how, 0, sizeof(how));
	how.flags = O_PATH | O_CLOEXEC | (links ? 0 : O_NOFOLLOW);
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS |
	    (links ? 0 : RESOLVE_NO_SYMLINKS);
	fd = syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));
	if (fd < 0 && errno == ENOSYS && !links && !strchr(rel, '/'))
		fd = openat(dirfd, rel, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	return fd < 0 ? -errno : (int)fd;
}

static const char *
kind_of(mode_t mode)
{
	if (S_ISLNK(mode))
		return "a symbolic link";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISSOCK(mode))
		return "a socket";
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISREG(mode))
		return "a file";
	return "a device";
}

int
safe_reopen(int pfd, int flags, mode_t want, const char *what, int *out,
    struct stat *st)
{
	char proc[64];
	int fd;

	/* the type of what is there now, on the descriptor itself */
	if (fstat(pfd, st) < 0 || (st->st_mode & S_IFMT) != want)
		return store_seterr(-EINVAL, "'%s' is %s, not %s", what,
		    kind_of(st->st_mode), want == S_IFDIR ? "a directory" :
		    "a regular file");
	/* the same inode (never a FIFO or a device: checked above) */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pfd);
	fd = open(proc, (flags & ~O_NOFOLLOW) | O_NONBLOCK | O_CLOEXEC |
	    (want == S_IFDIR ? O_DIRECTORY : 0));
	if (fd < 0)
		return store_seterr(-errno, "could not open '%s': %s", what,
		    strerror(errno));
	*out = fd;
	return 0;
}

/* safe_open and safe_open_below: links refused, or kept below dirfd. */
static int
open_read(int dirfd, const char *rel, int links, mode_t want,
    const char *what, int *out, struct stat *st)
{
	int pfd, rc;

	pfd = open_path(dirfd, rel, links);
	if (!links && (pfd == -ELOOP || pfd == -EXDEV))
		return store_seterr(-EINVAL, "'%s' is or passes through a "
		    "symbolic link: it is not read", what);
	if (pfd == -EXDEV)
		return store_seterr(-EINVAL, "'%s' leads out of its directory "
		    "through a symbolic link: it is not read", what);
	if (pfd < 0)
		return store_seterr(pfd, "could not open '%s': %s", what,
		    strerror(-pfd));
	rc = safe_reopen(pfd, O_RDONLY, want, what, out, st);
	close(pfd);
	return rc;
}

int
safe_open(int dirfd, const char *rel, mode_t want, const char *what,
    int *out, struct stat *st)
{
	return open_read(dirfd, rel, 0, want, what, out, st);
}

int
safe_open_below(int dirfd, const char *rel, const char *what, int *out,
    struct stat *st)
{
	return open_read(dirfd, rel, 1, S_IFREG, what, out, st);
}

ssize_t
safe_readlink(int dirfd, const char *rel, const char *what, char *buf,
    size_t len)
{
	int pfd = open_path(dirfd, rel, 0);
	ssize_t n;

	if (pfd < 0)
		return store_seterr(pfd, "could not open '%s': %s", what,
		    strerror(-pfd));
	n = readlinkat(pfd, "", buf, len - 1);
	if (n < 0)
		n = store_seterr(-errno, "could not read link '%s': %s", what,
		    strerror(errno));
	else
		buf[n] = '\0';
	close(pfd);
	return n;
}

int
safe_read_fd(int fd, size_t max, const char *what, char **out, size_t *len)
{
	size_t got = 0, cap = 4096;
	char *buf = malloc(cap + 1);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n;

		if (got == cap) {
			char *nb;

			if (cap > max)
				break;
			nb = realloc(buf, cap * 2 + 1);
			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
			cap *= 2;
		}
		n = pread(fd, buf + got, cap - got, (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int rc = store_seterr(-errno, "could not read '%s': %s",
			    what, strerror(errno));

			free(buf);
			return rc;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	if (got > max) {
		free(buf);
		return store_seterr(-EFBIG, "'%s' is larger than %zu bytes",
		    what, max);
	}
	buf[got] = '\0';
	*out = buf;
	*len = got;
	return 0;
}

int
safe_read(int dirfd, const char *rel, size_t max, const char *what,
    char **out, size_t *len)
{
	struct stat st;
	int fd, rc;

	if ((rc = safe_open(dirfd, rel, S_IFREG, what, &fd, &st)) < 0)
		return rc;
	rc = safe_read_fd(fd, max, what, out, len);
	close(fd);
	return rc;
}

static int
remove_at(int dirfd, const char *name, int depth)
{
	struct stat st;
	DIR *d;
	int sub, rc = 0;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dirfd, name, 0) < 0 && errno != ENOENT ?
		    -errno : 0;
	if (depth > REMOVE_DEPTH_MAX)
		return -ELOOP;
	sub = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_NONBLOCK | O_CLOEXEC);
	if (sub < 0 && (errno == ENOTDIR || errno == ELOOP))
		/* swapped for something else meanwhile: remove that */
		return unlinkat(dirfd, name, 0) < 0 && errno != ENOENT ?
		    -errno : 0;
	if (sub < 0)
		return errno == ENOENT ? 0 : -errno;
	d = fdopendir(sub);
	if (!d) {
		close(sub);
		return -errno;
	}
	for (struct dirent *de; (de = readdir(d));) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if ((rc = remove_at(sub, de->d_name, depth + 1)) < 0)
			break;
	}
	closedir(d);
	if (rc == 0 && unlinkat(dirfd, name, AT_REMOVEDIR) < 0 &&
	    errno != ENOENT)
		rc = -errno;
	return rc;
}

int
safe_remove_tree(int dirfd, const char *name)
{
	return remove_at(dirfd, name, 0);
}

void
safe_attr_apply(int fd, struct stat *st)
{
	char proc[64], val[64];
	unsigned long uid, gid, mode;
	ssize_t n;

	if (S_ISLNK(st->st_mode))
		return;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	n = getxattr(proc, ATTR_NAME, val, sizeof(val) - 1);
	if (n <= 0)
		return;
	val[n] = '\0';
	if (sscanf(val, "%lu %lu %lo", &uid, &gid, &mode) != 3)
		return;
	st->st_uid = (uid_t)uid;
	st->st_gid = (gid_t)gid;
	st->st_mode = (st->st_mode & S_IFMT) | ((mode_t)mode & 0777);
}

int
safe_attr_set(int fd, const struct safe_attr *a)
{
	char proc[64], val[64];
	int n;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	n = snprintf(val, sizeof(val), "%lu %lu %03lo", (unsigned long)a->uid,
	    (unsigned long)a->gid, (unsigned long)(a->mode & 0777));
	if (setxattr(proc, ATTR_NAME, val, (size_t)n, 0) < 0)
		return store_seterr(-errno, "could not record the owner of a "
		    "staged file: %s", strerror(errno));
	return 0;
}

/*
 * safe.h - reading, walking and removing what users wrote, without trusting
 * a single path.  Users control every name under STORE/incoming and
 * STORE/results: any component may become a symbolic link, a FIFO or a
 * device between two calls.  So every access here is relative to a
 * directory descriptor already held, resolves no symbolic link at any
 * component (openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS, or O_NOFOLLOW
 * where there is one component), opens with O_NONBLOCK (a FIFO never
 * blocks), and checks the type with fstat on the descriptor it then uses.
 *
 * The staging area also keeps its logical owner and mode here: the backing
 * files belong to the store's owner (0600, directories 0700); who created a
 * file and the mode they gave it live in an extended attribute of the
 * backing inode (so hard links share it, and a crash keeps it with the
 * file).
 */
#ifndef RELFS_SAFE_H
#define RELFS_SAFE_H

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* The modes of backing files and directories: their owner's alone. */
#define SAFE_FILE_MODE 0600
#define SAFE_DIR_MODE 0700

/*
 * Open dirfd/rel (a relative path of one or more components) for reading,
 * never through a symbolic link and never blocking.  want is S_IFREG or
 * S_IFDIR: anything else is -EINVAL with a message naming what (the name
 * people know it by).  *st gets the descriptor's fstat.
 */
int safe_open(int dirfd, const char *rel, mode_t want, const char *what,
    int *fd, struct stat *st);

/*
 * Open dirfd/rel, a regular file, for reading, never blocking: links on
 * the way are followed only while they stay below dirfd (RESOLVE_BENEATH).
 * For directories the store's manager trusts (file-pins), not users'.
 */
int safe_open_below(int dirfd, const char *rel, const char *what, int *fd,
    struct stat *st);

/*
 * Open the inode behind pfd (any descriptor of it, O_PATH too) again with
 * flags, never blocking, once fstat of pfd says it is of type want (else
 * -EINVAL naming what); *st gets that fstat.  No name is looked up.
 */
int safe_reopen(int pfd, int flags, mode_t want, const char *what, int *fd,
    struct stat *st);

/*
 * Read dirfd/rel whole (at most max bytes, -EFBIG beyond) into a
 * NUL-terminated buffer, as safe_open opens it.
 */
int safe_read(int dirfd, const char *rel, size_t max, const char *what,
    char **out, size_t *len);

/*
 * The target of the symbolic link dirfd/rel (no link on the way to it) into
 * buf (NUL-terminated); its length, or a negative errno.
 */
ssize_t safe_readlink(int dirfd, const char *rel, const char *what,
    char *buf, size_t len);

/* Read the whole of an open regular file (at most max bytes) from 0. */
int safe_read_fd(int fd, size_t max, const char *what, char **out,
    size_t *len);

/*
 * rm -rf of dirfd/name: every directory opened below the one before with
 * O_NOFOLLOW, every entry removed with unlinkat relative to it, so a
 * directory swapped for a link meanwhile loses the link, never what it
 * points to.
 */
int safe_remove_tree(int dirfd, const char *name);

/* What the staging area says of a node: who owns it, and its mode. */
struct safe_attr {
	uid_t uid;
	gid_t gid;
	mode_t mode;	/* permission bits only: no setuid, setgid, sticky */
};

/*
 * The logical owner and mode of the backing node fd (any descriptor, O_PATH
 * too): into st (st_uid, st_gid and the permission bits of st_mode, which
 * must hold fd's fstat).  A node without them (written before they were
 * kept, or a symbolic link) keeps what fstat said.
 */
void safe_attr_apply(int fd, struct stat *st);

/* Record the logical owner and mode of the backing node fd. */
int safe_attr_set(int fd, const struct safe_attr *a);

#endif

/*
 * node.c - the table of staged inodes: found again by (st_dev, st_ino),
 * each with an O_PATH descriptor while in use, at most fs->fd_budget of
 * them open (least recently used closed first), opened again by name in
 * the parent when needed.  See fs.h.
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

static size_t
hash_of(size_t tabsize, dev_t dev, ino_t ino)
{
	return (size_t)((ino * 0x9e3779b97f4a7c15ULL) ^ dev) % tabsize;
}

int
inc_init(struct fs *fs)
{
	struct rlimit rl;
	const char *budget = getenv("RELFS_NODE_FDS");
	char p[4096];

	pthread_mutex_init(&fs->mu, NULL);
	fs->tabsize = 4096;
	if (!(fs->tab = calloc(fs->tabsize, sizeof(*fs->tab))))
		return store_seterr(-ENOMEM, "out of memory for the staging "
		    "area's table");
	fs->root.fd = open(store_incoming_dir(fs->st), O_PATH | O_CLOEXEC);
	snprintf(p, sizeof(p), "%s/tmp", store_path(fs->st));
	fs->tmpfd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fs->root.fd < 0 || fs->tmpfd < 0)
		return store_seterr(-errno, "could not open %s: %s",
		    fs->root.fd < 0 ? store_incoming_dir(fs->st) : p,
		    strerror(errno));
	fs->root.nlookup = 2;
	/*
	 * Half the descriptors for nodes: the rest is for open files, the
	 * index, the ledger and deliveries.
	 */
	fs->fd_budget = 512;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur / 2 > 64)
		fs->fd_budget = (size_t)(rl.rlim_cur / 2);
	if (budget && strtoul(budget, NULL, 10) >= 16)
		fs->fd_budget = strtoul(budget, NULL, 10);
	return 0;
}

static void
node_free(struct inc_node *n)
{
	if (n->fd >= 0)
		close(n->fd);
	free(n->name);
	free(n);
}

void
inc_destroy(struct fs *fs)
{
	for (size_t i = 0; fs->tab && i < fs->tabsize; i++) {
		struct inc_node *n = fs->tab[i], *next;

		for (; n; n = next) {
			next = n->next;
			node_free(n);
		}
	}
	free(fs->tab);
	if (fs->root.fd >= 0)
		close(fs->root.fd);
	if (fs->tmpfd >= 0)
		close(fs->tmpfd);
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

uint64_t
node_ino(struct fs *fs, struct inc_node *n)
{
	return n == &fs->root ? INO_INCOMING :
	    ((uint64_t)(uintptr_t)n | INC_BIT);
}

int
inc_stat(struct inc_node *n, struct stat *st)
{
	if (fstatat(n->fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	safe_attr_apply(n->fd, st);
	return 0;
}

static int	lookup_at(struct fs *fs, struct inc_node *dir, int dirfd,
		    const char *name, struct fuse_entry_param *e);

/* -- the table: fs->mu is held by every function up to inc_use ------ */

/* The node of inode (dev, ino), or NULL. */
struct inc_node *
node_find(struct fs *fs, dev_t dev, ino_t ino)
{
	struct inc_node *n;

	for (n = fs->tab[hash_of(fs->tabsize, dev, ino)]; n; n = n->next)
		if (n->dev == dev && n->ino == ino)
			break;
	return n;
}

/* Four times the buckets once there are two nodes a bucket. */
static void
table_grow(struct fs *fs)
{
	size_t size = fs->tabsize * 4;
	struct inc_node **tab = calloc(size, sizeof(*tab)), *n, *next;

	if (!tab)
		return;
	for (size_t i = 0; i < fs->tabsize; i++) {
		for (n = fs->tab[i]; n; n = next) {
			size_t h = hash_of(size, n->dev, n->ino);

			next = n->next;
			n->next = tab[h];
			tab[h] = n;
		}
	}
	free(fs->tab);
	fs->tab = tab;
	fs->tabsize = size;
}

static void
lru_remove(struct fs *fs, struct inc_node *n)
{
	if (!n->on_lru)
		return;
	if (n->lprev)
		n->lprev->lnext = n->lnext;
	else
		fs->lru_head = n->lnext;
	if (n->lnext)
		n->lnext->lprev = n->lprev;
	else
		fs->lru_tail = n->lprev;
	n->lprev = n->lnext = NULL;
	n->on_lru = 0;
}

static void
lru_front(struct fs *fs, struct inc_node *n)
{
	lru_remove(fs, n);
	n->lnext = fs->lru_head;
	if (fs->lru_head)
		fs->lru_head->lprev = n;
	fs->lru_head = n;
	if (!fs->lru_tail)
		fs->lru_tail = n;
	n->on_lru = 1;
}

/* Close the least recently used descriptors not in use, to the budget. */
static void
make_room(struct fs *fs)
{
	struct inc_node *n, *prev;

	for (n = fs->lru_tail; n && fs->nfds >= fs->fd_budget; n = prev) {
		prev = n->lprev;
		if (n->pins)
			continue;
		lru_remove(fs, n);
		close(n->fd);
		n->fd = -1;
		fs->nfds--;
	}
}

/*
 * n holds the descriptor fd: counted, and closed in its turn when n has a
 * name to be opened again by (a node without one keeps it).
 */
static void
node_set_fd(struct fs *fs, struct inc_node *n, int fd)
{
	n->fd = fd;
	if (n == &fs->root || !n->name)
		return;
	make_room(fs);
	fs->nfds++;
	lru_front(fs, n);
}

static void	node_unref(struct fs *fs, struct inc_node *n);

/* n is name in dir now (dir NULL: n has no name any more). */
void
node_name(struct fs *fs, struct inc_node *n, struct inc_node *dir,
    const char *name)
{
	struct inc_node *old = n->parent;
	char *copy = dir ? strdup(name) : NULL;

	if (dir)
		dir->kids++;
	free(n->name);
	n->parent = copy ? dir : NULL;
	n->name = copy;
	if (dir && !copy)
		dir->kids--;
	if (!copy && n->on_lru) {
		/* nothing to open it again by: it keeps its descriptor */
		lru_remove(fs, n);
		fs->nfds--;
	} else if (copy && n->fd >= 0 && !n->on_lru && n != &fs->root) {
		make_room(fs);
		fs->nfds++;
		lru_front(fs, n);
	}
	if (old) {
		old->kids--;
		node_unref(fs, old);
	}
}

/* Out of the table and freed once neither the kernel nor a child needs n. */
static void
node_unref(struct fs *fs, struct inc_node *n)
{
	struct inc_node **pp;

	if (n == &fs->root)
		return;
	/* a request that holds it may still be using it after its reply */
	if (n->kids || n->nlookup || n->pins)
		return;
	for (pp = &fs->tab[hash_of(fs->tabsize, n->dev, n->ino)]; *pp;
	    pp = &(*pp)->next) {
		if (*pp == n) {
			*pp = n->next;
			break;
		}
	}
	fs->nnodes--;
	if (n->on_lru) {
		lru_remove(fs, n);
		fs->nfds--;
	}
	if (n->parent) {
		struct inc_node *p = n->parent;

		n->parent = NULL;
		p->kids--;
		node_unref(fs, p);
	}
	node_free(n);
}

/* n's descriptor, opened again through its parents when it was closed. */
static int
node_open(struct fs *fs, struct inc_node *n)
{
	struct inc_node *p = n->parent;
	struct stat st;
	int fd, rc;

	if (n->fd >= 0)
		return 0;
	if (!p || !n->name)
		return -ESTALE;
	if ((rc = node_open(fs, p)) < 0)
		return rc;
	p->pins++;
	fd = openat(p->fd, n->name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	p->pins--;
	if (fd < 0)
		return errno == ENOENT ? -ESTALE : -errno;
	/* the name may be another inode's now (a seal, a rename over) */
	if (fstat(fd, &st) < 0 || st.st_dev != n->dev || st.st_ino != n->ino) {
		close(fd);
		return -ESTALE;
	}
	node_set_fd(fs, n, fd);
	return 0;
}

int
inc_use(struct fs *fs, struct inc_node *n)
{
	int rc;

	pthread_mutex_lock(&fs->mu);
	if ((rc = node_open(fs, n)) == 0) {
		n->pins++;
		if (n->on_lru)
			lru_front(fs, n);
		rc = n->fd;
	}
	pthread_mutex_unlock(&fs->mu);
	return rc;
}

void
inc_done(struct fs *fs, struct inc_node *n)
{
	pthread_mutex_lock(&fs->mu);
	n->pins--;
	/* forgotten while it was held: it goes now */
	node_unref(fs, n);
	pthread_mutex_unlock(&fs->mu);
}

/*
 * The node of the inode st describes (name in dir; dir NULL for a node
 * found by a path of the daemon's own), found or added with pfd (an
 * O_PATH descriptor of it, taken over), and one lookup counted.
 */
static struct inc_node *
node_add(struct fs *fs, int pfd, const struct stat *st, struct inc_node *dir,
    const char *name)
{
	struct inc_node *n;
	size_t h;

	pthread_mutex_lock(&fs->mu);
	if ((n = node_find(fs, st->st_dev, st->st_ino))) {
		n->nlookup++;
		if (dir && !n->name)
			node_name(fs, n, dir, name);
		if (n->fd < 0)
			node_set_fd(fs, n, pfd);
		else
			close(pfd);
	} else if ((n = calloc(1, sizeof(*n)))) {
		n->fd = -1;
		n->dev = st->st_dev;
		n->ino = st->st_ino;
		n->nlookup = 1;
		if (fs->nnodes >= fs->tabsize * 2)
			table_grow(fs);
		h = hash_of(fs->tabsize, st->st_dev, st->st_ino);
		n->next = fs->tab[h];
		fs->tab[h] = n;
		fs->nnodes++;
		if (dir)
			node_name(fs, n, dir, name);
		node_set_fd(fs, n, pfd);
	} else {
		close(pfd);
	}
	pthread_mutex_unlock(&fs->mu);
	return n;
}

/* The node known for dir/name, if any (its inode looked up by name). */
struct inc_node *
node_at(struct fs *fs, struct inc_node *dir, const char *name,
    struct stat *st)
{
	struct inc_node *n;

	if (fstatat(dir->fd, name, st, AT_SYMLINK_NOFOLLOW) < 0)
		return NULL;
	pthread_mutex_lock(&fs->mu);
	n = node_find(fs, st->st_dev, st->st_ino);
	pthread_mutex_unlock(&fs->mu);
	return n;
}

/* dir/name was removed or replaced: a node known by it has no name now. */
void
node_unnamed(struct fs *fs, struct inc_node *n, struct inc_node *dir,
    const char *name)
{
	pthread_mutex_lock(&fs->mu);
	if (n->parent == dir && n->name && strcmp(n->name, name) == 0)
		node_name(fs, n, NULL, NULL);
	pthread_mutex_unlock(&fs->mu);
}

/*
 * n's name is about to go: open its descriptor now (n cannot be found
 * again by name after) for node_unnamed to keep.
 */
int
node_keep_open(struct fs *fs, struct inc_node *n)
{
	int rc = inc_use(fs, n);

	if (rc >= 0)
		inc_done(fs, n);
	return rc;
}

static void
fill_entry(struct fs *fs, struct inc_node *n, const struct stat *st,
    struct fuse_entry_param *e)
{
	e->ino = node_ino(fs, n);
	e->attr = *st;
	e->attr.st_ino = e->ino;
	node_role_attr(fs, n, &e->attr);
	/* the staging area changes: the kernel asks every time */
	e->attr_timeout = 0;
	e->entry_timeout = 0;
}

/* n is the recorded result dir/name: its artifact, where and what it is. */
static void
result_name(struct inc_node *n, struct inc_node *dir, const char *name)
{
	n->res_art = dir->art;
	n->res_dir = dir;
	snprintf(n->res_name, sizeof(n->res_name), "%s", name);
}

/* Look name up in dir (its descriptor held). */
int
node_lookup(struct fs *fs, struct inc_node *dir, const char *name,
    struct fuse_entry_param *e)
{
	return lookup_at(fs, dir, dir->fd, name, e);
}

int
inc_entry_path(struct fs *fs, const char *path, struct fuse_entry_param *e)
{
	int rc = lookup_at(fs, NULL, AT_FDCWD, path, e);

	if (rc == 0)
		inc_node_of(fs, e->ino)->stable = 1;
	return rc;
}

/*
 * The entry of pfd (an O_PATH descriptor, taken over), name in dir (dir
 * NULL: no name), one lookup counted.
 */
static int
entry_of(struct fs *fs, int pfd, struct inc_node *dir, const char *name,
    struct fuse_entry_param *e)
{
	struct inc_node *n;
	struct stat st;

	memset(e, 0, sizeof(*e));
	if (pfd < 0)
		return -errno;
	if (fstat(pfd, &st) < 0) {
		close(pfd);
		return -errno;
	}
	safe_attr_apply(pfd, &st);
	if (!(n = node_add(fs, pfd, &st, dir, name)))
		return -ENOMEM;
	if (dir && dir->art && store_result_named(name)) {
		pthread_mutex_lock(&fs->mu);
		result_name(n, dir, name);
		pthread_mutex_unlock(&fs->mu);
	}
	fill_entry(fs, n, &st, e);
	return 0;
}

/* The entry of an open descriptor's inode (a spool without a name). */
int
inc_entry_of_fd(struct fs *fs, int fd, struct fuse_entry_param *e)
{
	char proc[64];

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	return entry_of(fs, open(proc, O_PATH | O_CLOEXEC), NULL, NULL, e);
}

static int
lookup_at(struct fs *fs, struct inc_node *dir, int dirfd, const char *name,
    struct fuse_entry_param *e)
{
	return entry_of(fs, openat(dirfd, name, O_PATH | O_NOFOLLOW |
	    O_CLOEXEC), dir, name, e);
}

void
inc_hold(struct fs *fs, struct inc_node *n)
{
	pthread_mutex_lock(&fs->mu);
	n->nlookup++;
	pthread_mutex_unlock(&fs->mu);
}

void
inc_mark_result(struct fs *fs, dev_t dev, ino_t ino, struct inc_node *dir,
    const char *name)
{
	struct inc_node *n;

	pthread_mutex_lock(&fs->mu);
	if ((n = node_find(fs, dev, ino))) {
		result_name(n, dir, name);
		node_name(fs, n, dir, name);
	}
	pthread_mutex_unlock(&fs->mu);
}

void
inc_forget(struct fs *fs, struct inc_node *n, uint64_t count)
{
	if (n == &fs->root)
		return;
	pthread_mutex_lock(&fs->mu);
	n->nlookup = n->nlookup > count ? n->nlookup - count : 0;
	node_unref(fs, n);
	pthread_mutex_unlock(&fs->mu);
}

/* Is the inode (dev, ino) open for writing through the mount? */
int
node_busy(void *arg, dev_t dev, ino_t ino)
{
	struct fs *fs = arg;
	struct inc_node *n;
	int b = 0;

	pthread_mutex_lock(&fs->mu);
	b = (n = node_find(fs, dev, ino)) && n->writers > 0;
	pthread_mutex_unlock(&fs->mu);
	return b;
}

void
node_role_attr(struct fs *fs, const struct inc_node *n, struct stat *st)
{
	struct store_access a;

	if (n->res_art) {
		/* a recorded result: its writer's, and every CI writer's */
		store_staging_access(fs->st, &a);
		st->st_gid = a.gid;
		st->st_mode = (st->st_mode & ~(mode_t)0777) | 0444 |
		    (a.wbits & 0666);
		return;
	}
	if (!n->ci_root)
		return;
	store_staging_access(fs->st, &a);
	st->st_uid = a.uid;
	st->st_gid = a.gid;
	st->st_mode = (st->st_mode & ~(mode_t)0777) | 0555 | a.wbits;
}

void
node_proc_path(char *buf, size_t len, int fd)
{
	snprintf(buf, len, "/proc/self/fd/%d", fd);
}

/* Give a new backing node to the person who made it, with their mode. */
int
node_give(fuse_req_t req, int fd, mode_t mode)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct safe_attr a = { ctx->uid, ctx->gid, mode & 0777 };

	return safe_attr_set(fd, &a);
}

/*
 * attr.c - what the kernel is told of an index node: its attributes (the
 * real size of a status, made when asked), its entry and timeouts, and the
 * route of a sealed staging inode to the index node it became.
 */
#define _GNU_SOURCE
#include "fs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FS(req) ((struct fs *)fuse_req_userdata(req))

/*
 * The incoming node for ino, following a sealed directory to the index
 * node it became (*ino is updated then and NULL returned).
 */
struct inc_node *
attr_route(struct fs *fs, fuse_ino_t *ino)
{
	struct inc_node *n = inc_node_of(fs, *ino);

	if (n && n->sealed_as) {
		*ino = n->sealed_as;
		return NULL;
	}
	return n;
}

void
attr_node(struct fs *fs, uint64_t ino, const struct node *n, struct stat *st)
{
	attr_node_in(fs, fs->st, ino, n, st);
}

void
attr_node_in(struct fs *fs, struct store *from, uint64_t ino,
    const struct node *n, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_nlink = n->nlink;
	st->st_size = (off_t)n->size;
	st->st_blksize = 4096;
	st->st_blocks = (blkcnt_t)((n->size + 511) / 512);
	st->st_mtim.tv_sec = st->st_ctim.tv_sec = st->st_atim.tv_sec =
	    n->mtime;
	/*
	 * The kernel keeps directory listings and drops one when the
	 * directory's mtime moves: every change of a mutable directory moves
	 * it, even within one second.
	 */
	st->st_mtim.tv_nsec = st->st_ctim.tv_nsec = n->change;
	/*
	 * A status is made when it is read: its size is the size of what a
	 * read now would return (rsync, tar, mmap and web servers trust it).
	 */
	if (store_node_is_dynamic(n) && n->size == 0) {
		uint64_t len = 0;

		if (store_dynamic_size(from, ino, n, &len) == 0) {
			st->st_size = (off_t)len;
			st->st_blocks = (blkcnt_t)((len + 511) / 512);
		}
	}
	switch (n->kind) {
	case NODE_DIR:
		st->st_mode = S_IFDIR | n->mode;
		break;
	case NODE_SYMLINK:
		st->st_mode = S_IFLNK | 0777;
		break;
	case NODE_RESULTS:
		st->st_mode = S_IFDIR | 0555;
		break;
	case NODE_INCOMING:
		/* the staging area as it is (a view's: as its index says) */
		if (from == fs->st && inc_stat(&fs->root, st) == 0)
			st->st_ino = ino;
		st->st_mode = S_IFDIR | 0555;
		break;
	default:
		st->st_mode = S_IFREG | n->mode;
		break;
	}
	/*
	 * Who may write where, as the roles have it: the store's owner, and
	 * the group of the role that writes here (with write bits when the
	 * role is mapped to a group; the owner alone otherwise).
	 */
	{
		struct store_access a;

		store_node_access(from, ino, n, &a);
		st->st_uid = a.uid;
		st->st_gid = a.gid;
		if (a.wbits)
			st->st_mode = (st->st_mode & ~(mode_t)0777) |
			    (S_ISDIR(st->st_mode) ? 0555 : 0444) | a.wbits;
	}
}

/*
 * How long the kernel may keep a node's attributes: what changes is
 * invalidated when it does (fs_changed: after each change through the
 * mount, and before relctl beside it returns, which tells the daemon); a
 * status, whose size moves with every input, is asked for every time.
 * (A directory with a zero timeout costs a GETATTR at every path walk
 * through it: the kernel checks permissions on fresh attributes.)
 */
double
attr_timeout(struct fs *fs, const struct node *n)
{
	return store_node_is_dynamic(n) && n->kind != NODE_RUN ? 0 :
	    fs->timeout;
}

void
attr_entry(struct fs *fs, uint64_t ino, const struct node *n,
    struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = ino;
	attr_node(fs, ino, n, &e->attr);
	/* most names in the index are never removed: cache those */
	e->entry_timeout = (n->flags & NODE_VOLATILE) ? 0 : fs->timeout;
	e->attr_timeout = attr_timeout(fs, n);
}

/* results/ of an artifact is the real directory behind it. */
/* Note that the kernel knows results/ node by kernel (fs->mu held). */
static void
resmap_put(struct fs *fs, uint64_t node, uint64_t kernel)
{
	size_t i;

	if (2 * (fs->resmap_used + 1) > fs->resmap_size) {
		size_t size = fs->resmap_size ? fs->resmap_size * 2 : 256;
		struct res_ino *m = calloc(size, sizeof(*m));

		if (!m)
			return;	/* it stays as it was: the timeout then */
		for (i = 0; i < fs->resmap_size; i++) {
			size_t j = fs->resmap[i].node & (size - 1);

			if (!fs->resmap[i].node)
				continue;
			while (m[j].node)
				j = (j + 1) & (size - 1);
			m[j] = fs->resmap[i];
		}
		free(fs->resmap);
		fs->resmap = m;
		fs->resmap_size = size;
	}
	for (i = node & (fs->resmap_size - 1); fs->resmap[i].node &&
	    fs->resmap[i].node != node; i = (i + 1) & (fs->resmap_size - 1))
		;
	if (!fs->resmap[i].node)
		fs->resmap_used++;
	fs->resmap[i].node = node;
	fs->resmap[i].kernel = kernel;
}

int
attr_results_ino(struct fs *fs, uint64_t node, uint64_t *kernel)
{
	size_t i;

	if (!fs->resmap_size)
		return 0;
	for (i = node & (fs->resmap_size - 1); fs->resmap[i].node;
	    i = (i + 1) & (fs->resmap_size - 1))
		if (fs->resmap[i].node == node) {
			*kernel = fs->resmap[i].kernel;
			return 1;
		}
	return 0;
}

int
attr_results_entry(struct fs *fs, uint64_t ino, const struct node *n,
    struct fuse_entry_param *e)
{
	char path[4096];
	int rc = store_results_dir(fs->st, n->parent, path, sizeof(path));

	if (rc == 0)
		rc = inc_entry_path(fs, path, e);
	if (rc == 0) {
		struct inc_node *in = inc_node_of(fs, e->ino);

		in->ci_root = 1;
		in->art = n->parent;
		node_role_attr(fs, in, &e->attr);
		pthread_mutex_lock(&fs->mu);
		resmap_put(fs, ino, e->ino);
		pthread_mutex_unlock(&fs->mu);
	}
	/*
	 * Only the mount changes it, and the kernel notices its own changes:
	 * the directory itself can be cached like the artifact around it.
	 */
	if (rc == 0)
		e->entry_timeout = e->attr_timeout = fs->timeout;
	return rc;
}

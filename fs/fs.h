/*
 * fs.h - the FUSE side of relfs.  This layer translates kernel requests into
 * store calls and store results into replies (attributes, timeouts, errno);
 * every decision about the release model is made in store/.
 *
 * Two kinds of inode meet here:
 *  - index nodes: inode numbers straight from the LMDB index, stable across
 *    remounts, nothing to keep in memory;
 *  - incoming nodes: files and directories of the writable staging area
 *    (STORE/incoming), kept in a table and found again by (st_dev, st_ino);
 *    their inode numbers have the top bit set.  Each holds an O_PATH
 *    descriptor while it is in use; at most fs->fd_budget of them stay
 *    open (least recently used closed first), and a node whose descriptor
 *    was closed is opened again by its name in its parent, checked to be
 *    the same inode.  A node without a name (one outside incoming/, one
 *    removed) keeps its descriptor.
 */
#ifndef RELFS_FS_H
#define RELFS_FS_H

#define FUSE_USE_VERSION 312

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>

#include "store.h"

#define INC_BIT (1ULL << 63)
#define AT_BIT (1ULL << 62)	/* at/ and the views under it (at.c) */

struct at_view;

struct inc_node {
	struct inc_node *next;	/* hash chain */
	int fd;			/* O_PATH, or -1: closed, open it by name */
	dev_t dev;
	ino_t ino;
	uint64_t nlookup;
	struct inc_node *parent;	/* where name is (NULL: no name) */
	char *name;
	unsigned kids;		/* nodes whose parent this is */
	unsigned pins;		/* requests using it (and fd) right now: the
				 * node is not freed while one does */
	struct inc_node *lprev, *lnext;	/* the open descriptors, by use */
	int on_lru;
	/*
	 * After `mv incoming/p/v artifacts/p/` the kernel keeps this inode
	 * under its new name until the invalidation lands; requests for it
	 * are answered from this index node meanwhile.
	 */
	uint64_t sealed_as;
	/* an artifact's results/: only the mount changes it, cache it */
	int stable;
	/* an artifact's results/: shown as the ci role's (ls -l) */
	int ci_root;
	uint64_t art;		/* results/: the artifact it belongs to */
	/* a recorded result: its artifact, directory and name */
	uint64_t res_art;
	struct inc_node *res_dir;
	char res_name[NAME_MAX_BYTES + 1];
	unsigned writers;	/* descriptors open for writing on it */
};

struct inval {
	struct inval *next;
	uint64_t parent;	/* entry invalidation when name is set */
	char *name;
	uint64_t ino;		/* inode invalidation otherwise */
};

struct fs {
	struct store *st;
	struct fuse_session *se;
	double timeout;		/* for what never changes */
	int debug;
	int no_opendir;		/* the kernel lists directories by itself */
	int offline;		/* -o offline: serve only fetched deps */
	uint8_t *dirty;		/* by descriptor: written since the last flush */
	struct ctl **ctl;	/* by descriptor: a write into the index */
	/* by descriptor: a dependency read while it downloads */
	struct store_stream **stream;
	/* by descriptor: the staged node it writes (a seal waits for it) */
	struct inc_node **writer;
	/* by descriptor: a writer's spool in results/ */
	struct spool **spool;
	size_t ndirty;
	int tmpfd;		/* STORE/tmp */

	pthread_mutex_t mu;	/* the incoming table */
	struct inc_node root;	/* STORE/incoming, inode INO_INCOMING */
	struct inc_node **tab;
	size_t tabsize, nnodes;
	/* open node descriptors: most recently used first, at most budget */
	struct inc_node *lru_head, *lru_tail;
	size_t nfds, fd_budget;

	pthread_mutex_t qmu;	/* invalidations, sent by their own thread */
	pthread_cond_t qcond;
	struct inval *qhead, *qtail;
	int qstop;
	pthread_t qthread;
	pthread_cond_t wcond;	/* the wake-up thread (soak, expiries) */
	pthread_mutex_t chg_mu;	/* the change log read so far */
	uint64_t chg_since;
	/*
	 * results/ index node -> the inode the kernel knows it by (fs->mu):
	 * open addressing, a power of two of slots, half of them at most.
	 */
	struct res_ino {
		uint64_t node, kernel;
	} *resmap;
	size_t resmap_size, resmap_used;
	pthread_t wthread;
	pthread_cond_t dcond;	/* the delivery thread (hooks, webhooks) */
	pthread_t dthread;
	int pokefd;		/* STORE/daemon.sock: relctl says it changed */
	pthread_t pthread;

	/* called by fs_changed when the tree changed (at_changed) */
	void (*on_change)(struct fs *fs);
	pthread_mutex_t at_mu;	/* at/ (at.c): views asked for, levels */
	pthread_cond_t at_cond;	/* a view opened */
	struct at_view *views;
	size_t nviews, capviews;
	char **levels;
	size_t nlevels, caplevels;
	uint64_t at_tick;
	uint64_t at_tags;	/* store_tags_queued when levels were told */
};

extern const struct fuse_lowlevel_ops relfs_ops;

/*
 * Tell the kernel about every node the store changed since the last call,
 * whoever changed it (this daemon's requests, or relctl beside it).
 */
void fs_changed(struct fs *fs);

/* Log the refusal of what for req's caller (the store's message, or err). */
void fs_refusal(fuse_req_t req, int err, const char *what);

/* Reply err to req, and log msg (the store's message) when it is a refusal. */
void fs_refuse(fuse_req_t req, int err, const char *what);

/* The caller of req: uid, name and groups (from the kernel). */
void fs_who(fuse_req_t req, struct store_user *who);

/*
 * Add name to a directory reply of size bytes, *used of them filled (plus:
 * with e's whole entry, else its attributes): 0, or 1 when it does not fit
 * (nothing is added then).
 */
int fs_dirent_add(fuse_req_t req, char *buf, size_t size, size_t *used,
    int plus, const char *name, const struct fuse_entry_param *e,
    uint64_t next_off);

/*
 * 1, and req answered with store_staging_may's refusal (logged), when its
 * caller may not change the staging area; 0 when it may.
 */
int fs_staging_deny(fuse_req_t req, const char *what);

/* Queue an invalidation of parent/name (name != NULL) or of an inode. */
void fs_inval(struct fs *fs, uint64_t parent, const char *name,
    uint64_t ino);

/* The incoming node behind ino, or NULL for index nodes. */
struct inc_node *inc_node_of(struct fs *fs, uint64_t ino);

/* Passthrough operations on the staging area (incoming.c). */
void inc_lookup(fuse_req_t req, struct inc_node *dir, const char *name);
void inc_forget(struct fs *fs, struct inc_node *n, uint64_t count);
void inc_getattr(fuse_req_t req, struct inc_node *n);
/* An artifact's results/ shows the ci role's owner, group and modes. */
void node_role_attr(struct fs *fs, const struct inc_node *n, struct stat *st);
void inc_setattr(fuse_req_t req, struct inc_node *n, struct stat *attr,
    int valid, struct fuse_file_info *fi);
void inc_mkdir(fuse_req_t req, struct inc_node *dir, const char *name,
    mode_t mode);
void inc_symlink(fuse_req_t req, const char *link, struct inc_node *dir,
    const char *name);
void inc_unlink(fuse_req_t req, struct inc_node *dir, const char *name,
    int isdir);
void inc_rename(fuse_req_t req, struct inc_node *dir, const char *name,
    struct inc_node *newdir, const char *newname, unsigned int flags);
void inc_create(fuse_req_t req, struct inc_node *dir, const char *name,
    mode_t mode, struct fuse_file_info *fi);
void inc_open(fuse_req_t req, struct inc_node *n, struct fuse_file_info *fi);
void inc_readlink(fuse_req_t req, struct inc_node *n);
void inc_opendir(fuse_req_t req, struct inc_node *n,
    struct fuse_file_info *fi);
void inc_readdir(fuse_req_t req, struct inc_node *n, size_t size, off_t off,
    struct fuse_file_info *fi, int plus);
void inc_releasedir(fuse_req_t req, struct fuse_file_info *fi);
void inc_seal(fuse_req_t req, struct inc_node *dir, const char *name,
    uint64_t newparent, const char *newname, unsigned int flags);
/* stat of n (its descriptor held: inc_use), with its logical owner/mode. */
int inc_stat(struct inc_node *n, struct stat *st);

/*
 * Hold n's descriptor open for one request (opened again by name when it
 * was closed): the descriptor, or -ESTALE when n is gone.  inc_done lets
 * it go.  Every inc_ operation holds the nodes it is given.
 */
int inc_use(struct fs *fs, struct inc_node *n);
void inc_done(struct fs *fs, struct inc_node *n);

/*
 * The table of staged inodes (node.c), for incoming.c and seal.c: the
 * inode number of n; n is name in dir now (dir NULL: no name); the node
 * known for dir/name; dir/name removed (node_keep_open before, so n keeps
 * its inode); a lookup in a held dir; the node of (dev, ino) (fs->mu
 * held); is (dev, ino) open for writing (store_publish's busy).
 */
uint64_t node_ino(struct fs *fs, struct inc_node *n);
void node_name(struct fs *fs, struct inc_node *n, struct inc_node *dir,
    const char *name);
struct inc_node *node_at(struct fs *fs, struct inc_node *dir,
    const char *name, struct stat *st);
void node_unnamed(struct fs *fs, struct inc_node *n, struct inc_node *dir,
    const char *name);
int node_keep_open(struct fs *fs, struct inc_node *n);
int node_lookup(struct fs *fs, struct inc_node *dir, const char *name,
    struct fuse_entry_param *e);
struct inc_node *node_find(struct fs *fs, dev_t dev, ino_t ino);
int node_busy(void *arg, dev_t dev, ino_t ino);

/* "/proc/self/fd/<fd>" into buf (incoming.c). */
void node_proc_path(char *buf, size_t len, int fd);

/* The seal of dir/name, dir held (seal.c; incoming.c holds it). */
void seal_held(fuse_req_t req, struct inc_node *dir, const char *name,
    uint64_t newparent, const char *newname, unsigned int flags);

/* The entry (and one lookup) of a real directory outside incoming/. */
int inc_entry_path(struct fs *fs, const char *path,
    struct fuse_entry_param *e);

void inc_link(fuse_req_t req, struct inc_node *n, struct inc_node *dir,
    const char *name);
/* A descriptor opened for writing is released: count it off. */
void inc_writer_release(struct fs *fs, int fd);
/* Give the backing node fd to the caller of req, with mode (safe.h). */
int node_give(fuse_req_t req, int fd, mode_t mode);
/* Hold one more lookup of n (given back with inc_forget). */
void inc_hold(struct fs *fs, struct inc_node *n);
/* The entry (one lookup counted) of an open descriptor's inode. */
int inc_entry_of_fd(struct fs *fs, int fd, struct fuse_entry_param *e);
/* The inode (dev, ino) is now the recorded result dir/name. */
void inc_mark_result(struct fs *fs, dev_t dev, ino_t ino,
    struct inc_node *dir, const char *name);

/*
 * results/ (results.c): every open for writing of a result name is a spool
 * of the writer's own; its close() records exactly its bytes as a run.
 */
struct spool;
int results_spool_is(struct fs *fs, int fd);
void results_create(fuse_req_t req, struct inc_node *dir, const char *name,
    mode_t mode, struct fuse_file_info *fi);
void results_open(fuse_req_t req, struct inc_node *n,
    struct fuse_file_info *fi);
/* close(): record the spool fd; 0 or the errno close() answers. */
int results_close(fuse_req_t req, int fd);
void results_release(struct fs *fs, int fd);
/* A dot-file (or a staged file) renamed onto a result name: a run. */
int results_rename_in(fuse_req_t req, struct inc_node *dir, const char *name,
    struct inc_node *newdir, const char *newname, unsigned int flags);

#define DIRTY_CREATED 1	/* created or truncated */
#define DIRTY_WRITTEN 2	/* written since the last flush */
#define DEP_PAGED 4		/* a download read through the page cache */

/* Writes into the index (ctl.c). */
void ctl_create(fuse_req_t req, uint64_t dir, const char *name,
    struct fuse_file_info *fi);
/* Open dir/name for a new content (store_node_writable said yes). */
int ctl_open(fuse_req_t req, uint64_t dir, const char *name,
    struct fuse_file_info *fi);
int ctl_is(struct fs *fs, int fd);
int ctl_flush(fuse_req_t req, int fd);
void ctl_release(struct fs *fs, int fd);
/* Open a status (any rendered node) of st, the mount's store or a view. */
int status_open(fuse_req_t req, struct store *st, uint64_t ino,
    const struct node *n, struct fuse_file_info *fi);

/*
 * at/<when>/ (at.c): the tree as it was, read-only.  at/ itself is found
 * by name in the root (at_root_lookup) and not listed there; at_is says
 * whether an inode is at/'s, and every request for one goes to at_*;
 * at_refuse answers every change EROFS.
 */
int at_is(uint64_t ino);
void at_root_lookup(fuse_req_t req);
void at_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void at_getattr(fuse_req_t req, fuse_ino_t ino);
void at_readlink(fuse_req_t req, fuse_ino_t ino);
void at_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void at_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
    int plus);
void at_refuse(fuse_req_t req, const char *what);
/*
 * The tree changed: when the change queued a tag, the levels' listings
 * are told to the kernel again.
 */
void at_changed(struct fs *fs);
void at_destroy(struct fs *fs);

/* A dependency of an artifact (deps.c): its stream, open, verified, closed. */
struct store_stream *deps_stream_of(struct fs *fs, int fd);
int deps_open(fuse_req_t req, uint64_t ino, struct node *n,
    struct fuse_file_info *fi, int *local);
int deps_verified(struct fs *fs, uint64_t ino, int fd, uint64_t *size);
void deps_closed(struct fs *fs, uint64_t ino, int fd);

/* Directory listings (dir.c), for relfs_ops. */
void dir_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void dir_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
    struct fuse_file_info *fi);
void dir_readplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
    struct fuse_file_info *fi);
void dir_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void dir_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
    struct fuse_file_info *fi);

/*
 * attr.c, for ops.c and dir.c: the incoming node of ino (a sealed one
 * routed to its index node), an index node's attributes, timeout and
 * entry, a results/ entry.
 */
double attr_timeout(struct fs *fs, const struct node *n);
struct inc_node *attr_route(struct fs *fs, fuse_ino_t *ino);
void attr_node(struct fs *fs, uint64_t ino, const struct node *n,
    struct stat *st);
/* The same for a node of from (the mount's store, or a view's). */
void attr_node_in(struct fs *fs, struct store *from, uint64_t ino,
    const struct node *n, struct stat *st);
void attr_entry(struct fs *fs, uint64_t ino, const struct node *n,
    struct fuse_entry_param *e);
/*
 * The entry of an artifact's results/ (the index node n, inode ino): a
 * real directory the kernel knows by an inode of its own, which the change
 * log of ino (a change of the roles) invalidates too (fs_changed).
 */
int attr_results_entry(struct fs *fs, uint64_t ino, const struct node *n,
    struct fuse_entry_param *e);
/* The inode the kernel knows results/ node by: 1, or 0 (fs->mu held). */
int attr_results_ino(struct fs *fs, uint64_t node, uint64_t *kernel);

/* Add a DIRTY_ flag to fd, or (0) clear its flags. */
void fs_mark_dirty(struct fs *fs, int fd, int dirty);

/* The staging area's table, its root and STORE/tmp opened (or why not). */
int inc_init(struct fs *fs);
void inc_destroy(struct fs *fs);

#endif

/*
 * deps.c - artifacts/<p>/<v>/deps/<name>: a pinned dependency read while
 * the store fetches it (a stream) or from the content store once verified.
 */
#define _GNU_SOURCE
#include "fs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define FS(req) ((struct fs *)fuse_req_userdata(req))

/* The download fd follows, or NULL (as ctl_is for writes to the index). */
struct store_stream *
deps_stream_of(struct fs *fs, int fd)
{
	return fd >= 0 && (size_t)fd < fs->ndirty ? fs->stream[fd] : NULL;
}

/*
 * A dependency read around the page cache while it downloaded (its size
 * was not known): once verified, its bytes are stored into the kernel's
 * cache for the inode, so the next reader reads from memory.
 */
#define DEP_CACHE_CHUNK (256 << 10)
static void
deps_cache(struct fs *fs, uint64_t ino, int fd, uint64_t size)
{
	/*
	 * In pieces a pipe holds with their header (a pipe takes 1 MiB at
	 * most), so that libfuse can splice them from the file instead of
	 * reading them into memory first.
	 */
	for (uint64_t off = 0; off < size; off += DEP_CACHE_CHUNK) {
		size_t len = size - off < DEP_CACHE_CHUNK ?
		    (size_t)(size - off) : DEP_CACHE_CHUNK;
		struct fuse_bufvec buf = FUSE_BUFVEC_INIT(len);

		buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
		buf.buf[0].fd = fd;
		buf.buf[0].pos = (off_t)off;
		if (fuse_lowlevel_notify_store(fs->se, ino, (off_t)off, &buf,
		    0) != 0)
			break;	/* a cache, not a duty */
	}
}

/* Record a fetched dependency's real size, now that it is known. */
static void
deps_sized(struct fs *fs, uint64_t ino, struct node *n, uint64_t size)
{
	if (n->size != size) {
		store_dep_size(fs->st, ino, size);
		n->size = size;
		fs_changed(fs);
	}
}

/*
 * deps/<name>: the first open starts the download (or joins the one in
 * flight) and answers once the first bytes are there, so an HTTP error is
 * open()'s EIO; reads then follow the download as it arrives (op_read),
 * the last bytes only once the SHA-256 matched.  0: answered; 1: the bytes
 * are local, opened in *local; <0: refused.
 */
int
deps_open(fuse_req_t req, uint64_t ino, struct node *n,
    struct fuse_file_info *fi, int *local)
{
	struct fs *fs = FS(req);
	struct store_stream *s = NULL;
	struct stat sb;
	uint64_t size;
	int rc, fd, verified;

	/* relctl fetch beside the mount may have changed its size */
	fs_changed(fs);
	rc = store_dep_open(fs->st, ino, n, fs->offline, (int)fs->ndirty, &s,
	    local);
	if (rc < 0)
		return rc;
	if (rc == 1) {
		/* local: record its real size */
		if (fstat(*local, &sb) == 0)
			deps_sized(fs, ino, n, (uint64_t)sb.st_size);
		return 1;
	}
	fd = store_stream_fd(s);
	fs->stream[fd] = s;
	fi->fh = (uint64_t)fd;
	verified = store_stream_verified(s, &size);
	if (!verified)
		size = store_stream_size(s);
	if (size)
		deps_sized(fs, ino, n, size);
	/*
	 * With its size known (Content-Length), a download is read through
	 * the page cache: the reader's own reads fill it, and nothing is
	 * copied again for the next reader.  The last bytes still wait for
	 * the digest (op_read); what a failed download left in the cache goes
	 * at its release, and every open of one still on its way starts from
	 * an empty cache (keep_cache 0).  Without a size (a chunked reply) the
	 * kernel would stop at 0 bytes: direct I/O then, and the bytes go to
	 * the cache once verified (deps_cache).  Verified but not yet in the
	 * content store (it waits for the disk), it is read like a local file.
	 */
	fi->direct_io = size || verified ? 0 : 1;
	fs->dirty[fd] = fi->direct_io ? 0 : DEP_PAGED;
	fi->keep_cache = verified;
	fi->noflush = 1;	/* nothing to do at close(): see deps_closed */
	fuse_reply_open(req, fi);
	return 0;
}

/*
 * 1 when the dependency read through fd is verified: its real size is
 * recorded then (in *size).
 */
int
deps_verified(struct fs *fs, uint64_t ino, int fd, uint64_t *size)
{
	struct node n;

	if (!store_stream_verified(deps_stream_of(fs, fd), size))
		return 0;
	if (store_node_get(fs->st, ino, &n) == 0)
		deps_sized(fs, ino, &n, *size);
	return 1;
}

/*
 * The release of a dependency read while it downloaded.  Verified: its size
 * is recorded, and bytes read around the page cache are handed to it, so
 * the next reader finds them there (at the release, which close() does not
 * wait for).  Not verified: what was read through the cache is dropped.
 */
void
deps_closed(struct fs *fs, uint64_t ino, int fd)
{
	uint64_t size;

	if (!deps_verified(fs, ino, fd, &size)) {
		if (fs->dirty[fd] & DEP_PAGED)
			fuse_lowlevel_notify_inval_inode(fs->se, ino, 0, 0);
		return;
	}
	if (!(fs->dirty[fd] & DEP_PAGED))
		deps_cache(fs, ino, fd, size);
}

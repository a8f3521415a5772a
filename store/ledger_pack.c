/*
 * ledger_pack.c - the ledger's packs: a batch's written (ledger_pack_write),
 * and the small ones merged the way git repack --geometric=2 does (see
 * ledger_tidy in ledger.h).
 */
#define _GNU_SOURCE
#include "ledger_impl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <git2/sys/config.h>
#include <git2/sys/mempack.h>
#include <git2/sys/odb_backend.h>
#include <git2/sys/repository.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

/*
 * A batch's pack and its index, in git's formats (pack version 2, index
 * version 2, as git's Documentation/gitformat-pack.txt gives them):
 *   pack: "PACK", the version and the count (32 bits each, big-endian),
 *         each object's type and size header and its data as a zlib
 *         stream, then the SHA-1 of all that;
 *   idx:  "\377tOc", the version, 256 counts by the ids' first byte, the
 *         ids in order, each object's CRC-32 (of its bytes in the pack)
 *         and offset (31 bits, or an index into a table of 64-bit ones),
 *         the pack's SHA-1, then the index's own.
 * Written here, not by libgit2: git_packbuilder deflates every object at
 * zlib's default level and memory, and an import's batch holds tens of
 * thousands of trees of a few dozen bytes (990,000 records: 200,000 trees
 * beside 50,000 blobs), which cost zlib 4.4 us each, nearly all of it the
 * Huffman tables made for each one (stored, 0.2 us); and libgit2's
 * indexer, the only other way to a pack's index, inflates and hashes
 * every object the ledger thread has just hashed and deflated (40% of
 * that thread's time in an import).  Trees, whose bytes are mostly ids,
 * go stored, the rest at level 1 (45% of level 6's time, 4% more bytes);
 * the merges (git_packbuilder) compress them again off the ledger thread,
 * and test_ledger checks the index byte for byte against git index-pack's.
 * The pack and index are written as temporary files, then renamed, the
 * index last: neither git nor libgit2 reads a pack without its index.
 */
#define PACK_CHUNK (1 << 20)	/* bytes written at a time */

struct pack_out {
	int fd;
	EVP_MD_CTX *sha;
	unsigned char *buf;
	size_t len;
	uint64_t off;		/* bytes of the pack so far */
	uLong crc;		/* of the object being written */
	z_stream z[2];		/* stored (trees), level 1 (the rest) */
	int zok[2];
};

static int
out_flush(struct pack_out *o)
{
	int rc = 0;

	if (o->len && (!EVP_DigestUpdate(o->sha, o->buf, o->len) ||
	    write_all(o->fd, o->buf, o->len) < 0))
		rc = -1;
	o->len = 0;
	return rc;
}

static int
out_put(struct pack_out *o, const void *data, size_t len)
{
	if (o->len + len > PACK_CHUNK && out_flush(o) < 0)
		return -1;
	memcpy(o->buf + o->len, data, len);
	o->len += len;
	o->off += len;
	o->crc = crc32(o->crc, data, (uInt)len);
	return 0;
}

/* An object: its header (type, and size 4 then 7 bits a byte), deflated. */
static int
pack_object(struct pack_out *o, git_object_t type, const void *data,
    size_t size)
{
	unsigned char h[16], out[16384];
	size_t n = 0, left = size;
	z_stream *z = &o->z[type != GIT_OBJECT_TREE];
	int zr;

	h[n] = (unsigned char)(((unsigned)type << 4) | (left & 15));
	for (left >>= 4; left; left >>= 7) {
		h[n++] |= 0x80;
		h[n] = (unsigned char)(left & 0x7f);
	}
	o->crc = crc32(0, NULL, 0);
	if (size > UINT32_MAX || out_put(o, h, n + 1) < 0 ||
	    deflateReset(z) != Z_OK)
		return -1;	/* zlib takes 32 bits at a time */
	z->next_in = (unsigned char *)data;
	z->avail_in = (uInt)size;
	do {
		z->next_out = out;
		z->avail_out = sizeof(out);
		zr = deflate(z, Z_FINISH);
		if ((zr != Z_OK && zr != Z_STREAM_END) ||
		    out_put(o, out, sizeof(out) - z->avail_out) < 0)
			return -1;
	} while (zr != Z_STREAM_END);
	return 0;
}

static void
be32(unsigned char *p, uint64_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* The index of the n objects id names (in order), into o's fresh file. */
static int
write_idx(struct pack_out *o, const git_oid *id, const uint64_t *off,
    const uint32_t *crc, size_t n, const unsigned char pack_sha[20])
{
	unsigned char b[8], md[20];
	unsigned int mdlen = 0;
	size_t i, big = 0, at = 0;

	o->len = 0;
	if (!EVP_DigestInit_ex(o->sha, EVP_sha1(), NULL) ||
	    out_put(o, "\377tOc\0\0\0\2", 8) < 0)
		return -1;
	for (int c = 0; c < 256; c++) {
		while (at < n && id[at].id[0] <= c)
			at++;
		be32(b, at);
		if (out_put(o, b, 4) < 0)
			return -1;
	}
	for (i = 0; i < n; i++)
		if (out_put(o, id[i].id, GIT_OID_RAWSZ) < 0)
			return -1;
	for (i = 0; i < n; i++) {
		be32(b, crc[i]);
		if (out_put(o, b, 4) < 0)
			return -1;
	}
	for (i = 0; i < n; i++) {
		be32(b, off[i] < 0x80000000u ? off[i] : 0x80000000u | big++);
		if (out_put(o, b, 4) < 0)
			return -1;
	}
	for (i = 0; i < n; i++)
		if (off[i] >= 0x80000000u) {
			be32(b, off[i] >> 32);
			be32(b + 4, off[i] & 0xffffffffu);
			if (out_put(o, b, 8) < 0)
				return -1;
		}
	if (out_put(o, pack_sha, 20) < 0 || out_flush(o) < 0 ||
	    !EVP_DigestFinal_ex(o->sha, md, &mdlen) || mdlen != sizeof(md))
		return -1;
	return write_all(o->fd, md, sizeof(md));
}

/* A temporary file in dir, into o->fd and tmp (the prefix a daemon
 * removes, should a crash leave it: clear_stale_merges). */
static int
tmp_open(struct pack_out *o, const char *dir, char *tmp, size_t len)
{
	snprintf(tmp, len, "%s/pack_git2_relfs_XXXXXX", dir);
	o->fd = mkostemp(tmp, O_CLOEXEC);
	return o->fd < 0 ? -1 : 0;
}

/* Close o->fd, read only: 0, or -1. */
static int
tmp_close(struct pack_out *o)
{
	int rc = fchmod(o->fd, 0444);

	rc |= close(o->fd);
	o->fd = -1;
	return rc ? -1 : 0;
}

static int
oid_cmp(const void *a, const void *b)
{
	return git_oid_cmp(a, b);
}

int
ledger_pack_write(struct ledger *lg, git_odb *from, const git_oid *ids,
    size_t nids)
{
	struct pack_out o = { .fd = -1 };
	unsigned char head[12] = { 'P', 'A', 'C', 'K', 0, 0, 0, 2 }, md[20];
	char dir[4096], ptmp[4200] = "", itmp[4200] = "", hex[41];
	char ppath[4200], ipath[4200];
	git_oid *id = malloc(nids * sizeof(*id) + 1);
	uint64_t *off = malloc(nids * sizeof(*off) + 1);
	uint32_t *crc = malloc(nids * sizeof(*crc) + 1);
	unsigned int mdlen = 0;
	size_t n = 0;
	int rc = -1;

	errno = 0;
	snprintf(dir, sizeof(dir), "%s/objects/pack", lg->path);
	if (!id || !off || !crc) {
		rc = -ENOMEM;
		goto out;
	}
	/* in the index's order, each once (two paths can share a blob) */
	memcpy(id, ids, nids * sizeof(*id));
	qsort(id, nids, sizeof(*id), oid_cmp);
	for (size_t i = 0; i < nids; i++)
		if (n == 0 || !git_oid_equal(&id[n - 1], &id[i]))
			git_oid_cpy(&id[n++], &id[i]);
	be32(head + 8, n);
	o.zok[0] = deflateInit2(&o.z[0], 0, Z_DEFLATED, 15, 1,
	    Z_DEFAULT_STRATEGY) == Z_OK;
	o.zok[1] = deflateInit2(&o.z[1], 1, Z_DEFLATED, 15, 8,
	    Z_DEFAULT_STRATEGY) == Z_OK;
	if (n > UINT32_MAX || !o.zok[0] || !o.zok[1] ||
	    !(o.buf = malloc(PACK_CHUNK)) || !(o.sha = EVP_MD_CTX_new()) ||
	    !EVP_DigestInit_ex(o.sha, EVP_sha1(), NULL) ||
	    tmp_open(&o, dir, ptmp, sizeof(ptmp)) < 0 ||
	    out_put(&o, head, sizeof(head)) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		git_odb_object *obj = NULL;
		int bad;

		off[i] = o.off;
		bad = git_odb_read(&obj, from, &id[i]) < 0 ||
		    pack_object(&o, git_odb_object_type(obj),
		    git_odb_object_data(obj), git_odb_object_size(obj)) < 0;
		git_odb_object_free(obj);
		if (bad)
			goto out;
		crc[i] = (uint32_t)o.crc;
	}
	if (out_flush(&o) < 0 || !EVP_DigestFinal_ex(o.sha, md, &mdlen) ||
	    mdlen != sizeof(md) || write_all(o.fd, md, sizeof(md)) < 0)
		goto out;
	if (tmp_close(&o) < 0 || tmp_open(&o, dir, itmp, sizeof(itmp)) < 0 ||
	    write_idx(&o, id, off, crc, n, md) < 0 || tmp_close(&o) < 0)
		goto out;
	/* named by the pack's SHA-1, as git names them; the index last */
	git_oid_fmt(hex, (const git_oid *)md);
	hex[40] = '\0';
	snprintf(ppath, sizeof(ppath), "%s/pack-%s.pack", dir, hex);
	snprintf(ipath, sizeof(ipath), "%s/pack-%s.idx", dir, hex);
	if (rename(ptmp, ppath) < 0)
		goto out;
	ptmp[0] = '\0';
	if (rename(itmp, ipath) < 0) {
		unlink(ppath);
		goto out;
	}
	itmp[0] = '\0';
	rc = 0;
out:
	if (rc == -1)
		rc = store_seterr(-EIO, "ledger: could not write a pack in "
		    "'%s': %s", dir, errno ? strerror(errno) : "zlib or "
		    "libcrypto failed");
	if (o.fd >= 0)
		close(o.fd);
	if (ptmp[0])
		unlink(ptmp);
	if (itmp[0])
		unlink(itmp);
	for (int i = 0; i < 2; i++)
		if (o.zok[i])
			deflateEnd(&o.z[i]);
	EVP_MD_CTX_free(o.sha);
	free(o.buf);
	free(id);
	free(off);
	free(crc);
	return rc;
}

/*
 * Packs: the ledger thread writes one per batch, so they pile up.  Once
 * there are more than max_packs, the small ones are merged into one, the
 * way `git repack --geometric=2` does it: the smallest packs up to the
 * first one that is at least twice all smaller ones together, so that each
 * object is rewritten a logarithmic number of times as the ledger grows.
 * Packs of 32 MiB and more are left alone (a bulk import writes those), so
 * a merge never rewrites more than that.  The merged pack is synced before
 * the old ones go: a crash leaves at most objects stored twice.
 */
#define TIDY_MAX_PACK (32 << 20)	/* bigger packs are left as they are */

struct pack_file {
	char name[64];		/* "pack-<hex>" */
	off_t size;
};

static int
pack_size_cmp(const void *a, const void *b)
{
	const struct pack_file *x = a, *y = b;

	return x->size < y->size ? -1 : x->size > y->size;
}

/* The objects an index (.idx version 2) lists, into the pack builder. */
static int
pack_insert_idx(git_packbuilder *pb, const char *path)
{
	unsigned char head[8 + 256 * 4], raw[20];
	uint32_t n;
	git_oid oid;
	FILE *f = fopen(path, "r");
	int rc = 0;

	if (!f)
		return store_seterr(-errno, "ledger: could not read '%s': %s",
		    path, strerror(errno));
	if (fread(head, 1, sizeof(head), f) != sizeof(head) ||
	    memcmp(head, "\377tOc\0\0\0\2", 8) != 0) {
		fclose(f);
		return store_seterr(-EIO, "ledger: '%s' is not a version 2 "
		    "pack index", path);
	}
	n = (uint32_t)head[8 + 255 * 4] << 24 | head[8 + 255 * 4 + 1] << 16 |
	    head[8 + 255 * 4 + 2] << 8 | head[8 + 255 * 4 + 3];
	for (uint32_t i = 0; rc == 0 && i < n; i++) {
		if (fread(raw, 1, sizeof(raw), f) != sizeof(raw))
			rc = store_seterr(-EIO, "ledger: '%s' is truncated",
			    path);
		else if (git_oid_fromraw(&oid, raw) < 0 ||
		    git_packbuilder_insert(pb, &oid, NULL) < 0)
			rc = ledger_git_fail("could not merge packs");
	}
	fclose(f);
	return rc;
}

/* How many packs dir holds (names only: no stat). */
static size_t
count_packs(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	while (d && (de = readdir(d))) {
		size_t len = strlen(de->d_name);

		n += len > 5 && strcmp(de->d_name + len - 5, ".pack") == 0;
	}
	if (d)
		closedir(d);
	return n;
}

static off_t
total_size(const struct pack_file *packs, size_t n)
{
	off_t sum = 0;

	for (size_t i = 0; i < n; i++)
		sum += packs[i].size;
	return sum;
}

/*
 * The packs of dir smaller than TIDY_MAX_PACK, smallest first, into
 * *packs and their number into *count: 0, or -errno.
 */
static int
list_packs(const char *dir, struct pack_file **packs, size_t *count)
{
	char path[4400];
	size_t n = 0, cap = 0;
	struct dirent *de;
	struct stat sb;
	DIR *d = opendir(dir);
	int rc = 0;

	*packs = NULL;
	*count = 0;
	if (!d)
		return store_seterr(-errno, "ledger: could not read '%s': %s",
		    dir, strerror(errno));
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);

		if (len < 6 || len >= sizeof((*packs)->name) + 5 ||
		    strcmp(de->d_name + len - 5, ".pack") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (stat(path, &sb) < 0 || sb.st_size >= TIDY_MAX_PACK)
			continue;
		if (n == cap) {
			struct pack_file *v = realloc(*packs,
			    (cap = cap ? cap * 2 : 64) * sizeof(*v));

			if (!v) {
				rc = -ENOMEM;
				break;
			}
			*packs = v;
		}
		snprintf((*packs)[n].name, sizeof((*packs)[n].name), "%.*s",
		    (int)(len - 5), de->d_name);
		(*packs)[n++].size = sb.st_size;
	}
	closedir(d);
	if (rc < 0) {
		free(*packs);
		*packs = NULL;
		return rc;
	}
	if (n)
		qsort(*packs, n, sizeof(**packs), pack_size_cmp);
	*count = n;
	return 0;
}

/*
 * How many of the smallest packs a geometric merge takes: up to the
 * last one smaller than twice all the smaller ones together (at least 2),
 * so that what is left after it is a progression of doubling sizes.
 */
static size_t
geometric_count(const struct pack_file *packs, size_t n)
{
	size_t k = 0;

	for (off_t j = 1, sum = packs[0].size; j < (off_t)n;
	    sum += packs[j++].size)
		if (packs[j].size < 2 * sum)
			k = (size_t)j + 1;
	return k < 2 ? 2 : k;
}

/* Remove the n packs of dir but the one named merged (the merge's own). */
static void
remove_packs(const char *dir, const struct pack_file *packs, size_t n,
    const char *merged)
{
	char path[4400];

	for (size_t i = 0; i < n; i++) {
		/* an old pack of exactly these objects has the new one's name */
		if (strcmp(packs[i].name + 5, merged) == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s.pack", dir, packs[i].name);
		unlink(path);
		snprintf(path, sizeof(path), "%s/%s.idx", dir, packs[i].name);
		unlink(path);
	}
}

int
ledger_tidy(struct ledger *lg, size_t max_packs, off_t max_bytes)
{
	char dir[4096], path[4400];
	struct pack_file *packs = NULL;
	size_t n = 0, k = 0;
	git_packbuilder *pb = NULL;
	int rc = 0;

	snprintf(dir, sizeof(dir), "%s/objects/pack", lg->path);
	/* the common case, after every batch: nothing to do */
	if (count_packs(dir) <= max_packs)
		return 0;
	if ((rc = list_packs(dir, &packs, &n)) < 0 || n <= max_packs)
		goto out;
	k = geometric_count(packs, n);
	while (max_bytes && k > 2 && total_size(packs, k) > max_bytes)
		k--;
	/*
	 * A bounded step merges nothing bigger than its bound (a merge's
	 * time goes with what it merges: 2 MiB of runs took 400 ms, 1 MiB
	 * 270 ms), unless the packs are far too many.
	 */
	if (max_bytes && total_size(packs, k) > max_bytes &&
	    n <= LEDGER_TIDY_MAX_PACKS)
		goto out;
	if (git_packbuilder_new(&pb, lg->repo) < 0) {
		rc = ledger_git_fail("could not merge packs");
		goto out;
	}
	git_packbuilder_set_threads(pb, 1);
	for (size_t i = 0; rc == 0 && i < k; i++) {
		snprintf(path, sizeof(path), "%s/%s.idx", dir, packs[i].name);
		rc = pack_insert_idx(pb, path);
	}
	if (rc < 0)
		goto out;
	if (git_packbuilder_write(pb, dir, 0, NULL, NULL) < 0) {
		rc = ledger_git_fail("could not write the merged pack");
		goto out;
	}
	if ((rc = ledger_sync(lg)) < 0)
		goto out;
	remove_packs(dir, packs, k, git_packbuilder_name(pb));
	ledger_refresh(lg);
	rc = (int)k;
out:
	git_packbuilder_free(pb);
	free(packs);
	return rc;
}

/* -- the daemon's merge: written beside the ledger, swapped in under it -- */

struct ledger_merge {
	char *path;		/* the ledger's */
	char dir[4096];		/* its objects/pack */
	struct pack_file *packs;	/* what it takes, smallest first */
	size_t n;
	off_t bytes;
	char name[GIT_OID_HEXSZ + 1];	/* the merged pack's id */
};

void
ledger_merge_free(struct ledger_merge *m)
{
	if (!m)
		return;
	free(m->path);
	free(m->packs);
	free(m);
}

int
ledger_merge_plan(struct ledger *lg, size_t min_packs,
    struct ledger_merge **out)
{
	struct ledger_merge *m = calloc(1, sizeof(*m));
	int rc = 0;

	*out = NULL;
	if (!m || !(m->path = strdup(lg->path))) {
		ledger_merge_free(m);
		return -ENOMEM;
	}
	snprintf(m->dir, sizeof(m->dir), "%s/objects/pack", lg->path);
	if (count_packs(m->dir) <= min_packs ||
	    (rc = list_packs(m->dir, &m->packs, &m->n)) < 0 ||
	    m->n <= min_packs) {
		ledger_merge_free(m);
		return rc;
	}
	m->n = geometric_count(m->packs, m->n);
	m->bytes = total_size(m->packs, m->n);
	*out = m;
	return 1;
}

struct merge_cancel {
	int (*cancel)(void *);
	void *arg;
};

static int
merge_progress(int stage, uint32_t current, uint32_t total, void *payload)
{
	struct merge_cancel *c = payload;

	(void)stage;
	(void)current;
	(void)total;
	return c->cancel(c->arg) ? -1 : 0;
}

static int
merge_index_progress(const git_indexer_progress *stats, void *payload)
{
	struct merge_cancel *c = payload;

	(void)stats;
	return c->cancel(c->arg) ? -1 : 0;
}

/* fsync path (a file, or a directory) */
static int
sync_path(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), rc = 0;

	if (fd < 0 || fsync(fd) < 0)
		rc = store_seterr(-errno, "ledger: could not sync '%s': %s",
		    path, strerror(errno));
	if (fd >= 0)
		close(fd);
	return rc;
}

int
ledger_merge_write(struct ledger_merge *m, int (*cancel)(void *), void *arg)
{
	struct merge_cancel c = { cancel, arg };
	git_repository *repo = NULL;
	git_packbuilder *pb = NULL;
	char path[4400];
	int rc = 0;

	/* a repository of its own: the ledger's is the ledger thread's */
	if (git_repository_open_bare(&repo, m->path) < 0 ||
	    git_packbuilder_new(&pb, repo) < 0) {
		rc = ledger_git_fail("could not merge packs");
		goto out;
	}
	git_packbuilder_set_threads(pb, 1);
	if (git_packbuilder_set_callbacks(pb, merge_progress, &c) < 0) {
		rc = ledger_git_fail("could not merge packs");
		goto out;
	}
	for (size_t i = 0; rc == 0 && i < m->n; i++) {
		snprintf(path, sizeof(path), "%s/%s.idx", m->dir,
		    m->packs[i].name);
		rc = pack_insert_idx(pb, path);
	}
	if (rc < 0)
		goto out;
	if (git_packbuilder_write(pb, m->dir, 0, merge_index_progress,
	    &c) < 0) {
		rc = ledger_git_fail("could not write the merged pack");
		goto out;
	}
	snprintf(m->name, sizeof(m->name), "%s", git_packbuilder_name(pb));
	/* the merged pack is on disk before any of the old ones goes */
	snprintf(path, sizeof(path), "%s/pack-%s.pack", m->dir, m->name);
	if ((rc = sync_path(path)) < 0)
		goto out;
	snprintf(path, sizeof(path), "%s/pack-%s.idx", m->dir, m->name);
	if ((rc = sync_path(path)) < 0 || (rc = sync_path(m->dir)) < 0)
		goto out;
out:
	if (rc < 0 && cancel(arg))
		rc = store_seterr(-ECANCELED, "ledger: the merge of %zu packs "
		    "was stopped", m->n);
	git_packbuilder_free(pb);
	git_repository_free(repo);
	return rc;
}

int
ledger_merge_finish(struct ledger *lg, struct ledger_merge *m)
{
	/* the ledger thread sees the merged pack before the old ones go */
	ledger_refresh(lg);
	remove_packs(m->dir, m->packs, m->n, m->name);
	return (int)m->n;
}

off_t
ledger_merge_bytes(const struct ledger_merge *m)
{
	return m->bytes;
}

/*
 * ledger_packfile.c - a batch's objects as one pack of the ledger, and its
 * index, written by relfs (see ledger_pack_write in ledger_impl.h).
 */
#define _GNU_SOURCE
#include "ledger_impl.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
	uint32_t be = htobe32((uint32_t)v);

	memcpy(p, &be, 4);
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

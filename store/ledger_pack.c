/*
 * ledger_pack.c - keeping the ledger's packs few: the small ones merged
 * the way git repack --geometric=2 does (see ledger_tidy in ledger.h).
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
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

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

int
ledger_tidy(struct ledger *lg, size_t max_packs, off_t max_bytes)
{
	char dir[4096], path[4400];
	struct pack_file *packs = NULL;
	size_t n = 0, cap = 0, k = 0;
	git_packbuilder *pb = NULL;
	git_odb *odb = NULL;
	struct dirent *de;
	struct stat sb;
	DIR *d;
	int rc = 0;

	snprintf(dir, sizeof(dir), "%s/objects/pack", lg->path);
	/* the common case, after every batch: nothing to do */
	if (count_packs(dir) <= max_packs || !(d = opendir(dir)))
		return 0;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);

		if (len < 6 || len >= sizeof(packs->name) + 5 ||
		    strcmp(de->d_name + len - 5, ".pack") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (stat(path, &sb) < 0 || sb.st_size >= TIDY_MAX_PACK)
			continue;
		if (n == cap) {
			struct pack_file *v = realloc(packs,
			    (cap = cap ? cap * 2 : 64) * sizeof(*v));

			if (!v) {
				rc = -ENOMEM;
				break;
			}
			packs = v;
		}
		snprintf(packs[n].name, sizeof(packs[n].name), "%.*s",
		    (int)(len - 5), de->d_name);
		packs[n++].size = sb.st_size;
	}
	closedir(d);
	if (rc < 0 || n <= max_packs)
		goto out;
	qsort(packs, n, sizeof(*packs), pack_size_cmp);
	for (off_t j = 1, sum = packs[0].size; j < (off_t)n;
	    sum += packs[j++].size)
		if (packs[j].size < 2 * sum)
			k = (size_t)j + 1;
	if (k < 2)
		k = 2;
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
	for (size_t i = 0; i < k; i++) {
		/* an old pack of exactly these objects has the new one's name */
		if (strcmp(packs[i].name + 5, git_packbuilder_name(pb)) == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s.pack", dir, packs[i].name);
		unlink(path);
		snprintf(path, sizeof(path), "%s/%s.idx", dir, packs[i].name);
		unlink(path);
	}
	if (git_repository_odb(&odb, lg->repo) == 0)
		git_odb_refresh(odb);
	rc = (int)k;
out:
	git_packbuilder_free(pb);
	git_odb_free(odb);
	free(packs);
	return rc;
}

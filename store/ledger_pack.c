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

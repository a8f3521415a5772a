/*
 * import.c - relctl import: OPNFV records by the thousand (see store.h).
 *
 * A batch of IMPORT_BATCH runs is one LMDB transaction and one ledger
 * commit.  What a run through the mount looks up again for every run (its
 * artifact, its test case's directory and next number, an inode number) is
 * kept for the batch, and the ledger gets one file per test case and bucket
 * of 100 runs, runs/<p>/<v>/<tc>/<first>-<last>.jsonl (a line of what the
 * runs share, then their records as given, a line each), instead of one
 * per run: a git object costs the ledger's thread about as much as all of
 * a run's index work.  One runs.imported event per artifact and batch says
 * what came in.  The lines are parsed on threads of their own
 * (import_read.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fanout.h"
#include "import_read.h"
#include "results.h"
#include "store_impl.h"

#define IMPORT_BATCH 20000

/* A run of the batch, recorded in the index at its end (record_runs). */
struct pending {
	char *packed;		/* run_pack's, with its number */
	size_t len;
	uint64_t no, size;
};

/* One test case of one artifact, as far as this batch goes. */
struct pair {
	struct pair *chain;	/* the next in its hash slot */
	struct pair *next;	/* in the order first seen */
	struct seen *art;
	uint64_t tc_ino, next_no, first, last;
	uint64_t count[4];	/* the batch's runs, by outcome (RESULT_*) */
	char *buf;		/* runs since first, a line each */
	size_t len, cap;
	struct pending *runs;	/* the batch's, in their order */
	size_t nruns, capruns;
	char tc[];
};

/* How many runs the batch gave p. */
static uint64_t
pair_runs(const struct pair *p)
{
	return p->count[0] + p->count[1] + p->count[2] + p->count[3];
}

/* An artifact the batch added runs to. */
struct seen {
	struct seen *next;
	uint64_t ino, runs_ino, count;
	char key[];
};

struct importer {
	struct store *st;
	const struct store_user *who;
	const char *path;
	MDB_txn *txn;
	json_t *files;		/* the batch's ledger files: path, raw */
	char *raw;		/* their bytes, one after the other */
	size_t rawlen, rawcap;
	struct import_how how;	/* the stamp, and the artifact by default */
	char *stamp_text;	/* how.stamp_text's memory */
	struct pair **slot, *pairs, **tail;
	size_t nslot, npairs, in_batch, part;
	int render;		/* sizes by rendering (see import_run) */
	struct seen *arts, *last_art;
	uint64_t ino0, ino;	/* the inode numbers the batch takes */
	uint64_t queued[2];	/* the last two batches' changes (see batch_begin) */
	int nowait;
	int64_t now;
};

static uint64_t
pair_hash(uint64_t art, const char *tc)
{
	uint64_t h = 1469598103934665603ULL ^ art;

	for (; *tc; tc++)
		h = (h ^ (unsigned char)*tc) * 1099511628211ULL;
	return h;
}

static int
pairs_grow(struct importer *im)
{
	size_t n = im->nslot ? im->nslot * 2 : 1024;
	struct pair **s = calloc(n, sizeof(*s));

	if (!s)
		return -ENOMEM;
	for (struct pair *p = im->pairs; p; p = p->next) {
		size_t i = pair_hash(p->art->ino, p->tc) & (n - 1);

		p->chain = s[i];
		s[i] = p;
	}
	free(im->slot);
	im->slot = s;
	im->nslot = n;
	return 0;
}

/* This batch's record of art's test case tc, made when first seen. */
static int
pair_get(struct importer *im, struct seen *art, const char *tc,
    struct pair **out)
{
	size_t len = strlen(tc), i;
	struct pair *p;
	int rc;

	if (im->nslot) {
		i = pair_hash(art->ino, tc) & (im->nslot - 1);
		for (p = im->slot[i]; p; p = p->chain)
			if (p->art == art && strcmp(p->tc, tc) == 0) {
				*out = p;
				return 0;
			}
	}
	if (im->npairs * 2 >= im->nslot && (rc = pairs_grow(im)) < 0)
		return rc;
	if (!(p = calloc(1, sizeof(*p) + len + 1)))
		return -ENOMEM;
	memcpy(p->tc, tc, len + 1);
	p->art = art;
	if ((rc = runs_dir_ensure(im->st, im->txn, art->runs_ino, tc, im->now,
	    &im->ino, &p->tc_ino)) < 0 ||
	    (rc = runs_next_no(im->st, im->txn, art->ino, tc,
	    &p->next_no)) < 0) {
		free(p);
		return rc;
	}
	i = pair_hash(art->ino, tc) & (im->nslot - 1);
	p->chain = im->slot[i];
	im->slot[i] = p;
	*im->tail = p;
	im->tail = &p->next;
	im->npairs++;
	*out = p;
	return 0;
}

/* The artifact "p/v" (the last one asked for is kept); -ENOENT. */
static int
art_get(struct importer *im, const char *key, struct seen **out)
{
	size_t len = strlen(key);
	struct art_rec rec;
	struct seen *a;
	int rc;

	if (im->last_art && strcmp(im->last_art->key, key) == 0) {
		*out = im->last_art;
		return 0;
	}
	for (a = im->arts; a; a = a->next)
		if (strcmp(a->key, key) == 0)
			break;
	if (!a) {
		if (index_get(im->st->ix, im->txn, TAB_ARTIFACT, key, &rec,
		    sizeof(rec)) < 0)
			return store_seterr(-ENOENT, "artifact %s does not "
			    "exist", key);
		if (!(a = calloc(1, sizeof(*a) + len + 1)))
			return -ENOMEM;
		memcpy(a->key, key, len + 1);
		a->ino = rec.ino;
		if ((rc = index_lookup(im->st->ix, im->txn, rec.ino, "runs",
		    &a->runs_ino)) < 0) {
			free(a);
			return rc;
		}
		a->next = im->arts;
		im->arts = a;
	}
	im->last_art = a;
	*out = a;
	return 0;
}

/*
 * The runs p holds since its first into the batch's ledger files: a line of
 * what they share ({"first", "last", "recorded", "uid", "user"}), then
 * their records as given, a line each.
 */
static int
pair_flush(struct importer *im, struct pair *p)
{
	char path[1200], first[64];
	size_t sl = strlen(im->how.stamp_text), len, need;
	int head, rc;

	if (!p->len)
		return 0;
	if (snprintf(path, sizeof(path), "runs/%s/%s/%06llu-%06llu.jsonl",
	    p->art->key, p->tc, (unsigned long long)p->first,
	    (unsigned long long)p->last) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	head = snprintf(first, sizeof(first), "{\"first\":%llu,\"last\":%llu,",
	    (unsigned long long)p->first, (unsigned long long)p->last);
	len = (size_t)head + sl + 2 + p->len;
	if ((need = im->rawlen + len) > im->rawcap) {
		size_t cap = need * 2;
		char *b = realloc(im->raw, cap);

		if (!b)
			return -ENOMEM;
		im->raw = b;
		im->rawcap = cap;
	}
	/* the batch's bytes for the queue: not copied again until its page */
	if ((rc = outbox_add_raw(im->files, path, im->rawlen, len)) < 0)
		return rc;
	memcpy(im->raw + im->rawlen, first, (size_t)head);
	memcpy(im->raw + im->rawlen + head, im->how.stamp_text, sl);
	memcpy(im->raw + im->rawlen + (size_t)head + sl, "}\n", 2);
	memcpy(im->raw + im->rawlen + (size_t)head + sl + 2, p->buf, p->len);
	im->rawlen += len;
	p->len = 0;
	return 0;
}

/* The size of the rendered file of the run whose kept JSON is text. */
static size_t
rendered_size(const char *text, size_t len)
{
	json_t *kept = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	json_t *run = kept ? run_complete(kept) : NULL;
	size_t size = run ? run_text_len(run, 1) : 0;

	json_decref(run);
	json_decref(kept);
	return size;
}

/* Record the run of l as the next run of its test case. */
static int
import_run(struct importer *im, struct seen *art, struct import_line *l)
{
	struct run_place at = { art->ino, 0, 0, 0, l->tc, im->now };
	struct pair *p;
	size_t size, len;
	int rc, k;

	if ((rc = pair_get(im, art, l->tc, &p)) < 0)
		return rc;
	at.no = p->next_no;
	/* one ledger file a bucket of the layout */
	if (p->len && at.no / FANOUT_RUNS_A_DIR != p->first /
	    FANOUT_RUNS_A_DIR && (rc = pair_flush(im, p)) < 0)
		return rc;
	if (!p->len)
		p->first = at.no;
	/* the number ends the kept JSON; the size grows with its digits */
	k = (int)u64_digits(l->packed + l->packed_len, at.no, 0);
	memcpy(l->packed + l->packed_len + k++, "}", 2);
	len = l->packed_len + (size_t)k;
	size = l->size1 + (size_t)k - 2;
	/*
	 * The count is checked once a batch: a jansson that writes otherwise
	 * gets each run rendered for its size instead.
	 */
	if (!im->in_batch || im->render) {
		size_t real = rendered_size(l->packed + l->json_at,
		    len - l->json_at);

		if (!real)
			return -ENOMEM;
		if (real != size && !im->render)
			store_log(im->st, "import: a run's counted size (%zu) is "
			    "not jansson's rendering (%zu bytes): each run of "
			    "%s is rendered for its size instead (slower)", size,
			    real, im->path);
		im->render |= real != size;
		size = real;
	}
	if ((rc = line_append(&p->buf, &p->len, &p->cap, l->packed +
	    l->json_at + KEPT_REC_AT, l->rec_len)) < 0)
		return rc;
	if (p->nruns == p->capruns) {
		size_t cap = p->capruns ? p->capruns * 2 : 16;
		struct pending *r = realloc(p->runs, cap * sizeof(*r));

		if (!r)
			return -ENOMEM;
		p->runs = r;
		p->capruns = cap;
	}
	/* the line's record is the batch's now */
	p->runs[p->nruns++] = (struct pending){ l->packed, len, at.no, size };
	l->packed = NULL;
	p->last = at.no;
	p->next_no++;
	p->count[l->outcome]++;
	art->count++;
	im->in_batch++;
	return 0;
}

/* Test cases in the order of the runs table's keys: artifact, then name. */
static int
pair_cmp(const void *a, const void *b)
{
	const struct pair *x = *(struct pair *const *)a;
	const struct pair *y = *(struct pair *const *)b;

	if (x->art->ino != y->art->ino)
		return x->art->ino < y->art->ino ? -1 : 1;
	return strcmp(x->tc, y->tc);
}

/*
 * The batch's runs into the index, a test case at a time, each table in
 * the order of its keys: the records by artifact and test case name, the
 * nodes, names and listings by inode, taken now, test case after test
 * case.  A table whose keys so far all came past its end takes them
 * there (index_put_raw_hint): a batch of new test cases, the usual
 * import, fills its pages instead of splitting each in half, and searches
 * for none of its keys.  (In the order they came, the test cases' runs
 * took turns, each put went to another place of every table, and the
 * listings' pages were half empty.)
 */
static int
record_runs(struct importer *im)
{
	struct pair **order = malloc((im->npairs + 1) * sizeof(*order));
	struct run_place at = { 0, 0, 0, 0, NULL, im->now };
	size_t n = 0;
	int rc = 0;

	if (!order)
		return -ENOMEM;
	for (struct pair *p = im->pairs; p; p = p->next)
		order[n++] = p;
	qsort(order, n, sizeof(*order), pair_cmp);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		struct pair *p = order[i];
		int at_end = 1;

		at.art = p->art->ino;
		at.tc = p->tc;
		for (size_t j = 0; rc == 0 && j < p->nruns; j++) {
			at.no = p->runs[j].no;
			rc = runs_put_record(im->st, im->txn, &at,
			    p->runs[j].packed, p->runs[j].len, &at_end);
		}
	}
	for (struct pair *p = im->pairs; rc == 0 && p; p = p->next) {
		int at_end[3] = { 1, 1, 1 };

		at.art = p->art->ino;
		at.tc = p->tc;
		at.tc_ino = p->tc_ino;
		for (size_t j = 0; rc == 0 && j < p->nruns; j++) {
			at.no = p->runs[j].no;
			at.ino = im->ino++;
			rc = runs_put_node(im->st, im->txn, &at,
			    p->runs[j].size, at_end);
		}
	}
	free(order);
	return rc;
}

static int
batch_begin(struct importer *im)
{
	int rc;

	if (im->txn)
		return 0;
	/*
	 * The ledger's thread writes the last batch while this one is made,
	 * but no more: the batch before must be written first.  Else the
	 * parsers and the recording, three threads to its one, take more of
	 * the two cores, and at the end it writes alone with a core idle
	 * (a ledger that cannot write is waited for once, 5 s).
	 */
	if (!im->nowait && im->queued[0] &&
	    outbox_wait_done(im->st, im->queued[0], 5000) < 0)
		im->nowait = 1;
	if ((rc = index_begin(im->st->ix, 0, &im->txn)) < 0)
		return rc;
	/* the batch counts its inode numbers itself, taken at its end */
	if ((rc = index_alloc_ino(im->st->ix, im->txn, 0, &im->ino0)) < 0) {
		index_abort(im->txn);
		im->txn = NULL;
		return rc;
	}
	im->ino = im->ino0;
	return 0;
}

static void
batch_forget(struct importer *im)
{
	struct pair *p, *pn;
	struct seen *a, *an;

	for (p = im->pairs; p; p = pn) {
		pn = p->next;
		for (size_t j = 0; j < p->nruns; j++)
			free(p->runs[j].packed);
		free(p->runs);
		free(p->buf);
		free(p);
	}
	for (a = im->arts; a; a = an) {
		an = a->next;
		free(a);
	}
	free(im->slot);
	im->slot = NULL;
	im->nslot = im->npairs = 0;
	im->pairs = NULL;
	im->tail = &im->pairs;
	im->arts = im->last_art = NULL;
	json_array_clear(im->files);
	im->rawlen = 0;
	im->in_batch = 0;
}

/* One runs.imported event for art: its test cases' runs of the batch. */
static int
art_event(struct importer *im, struct seen *art)
{
	json_t *tcs = json_object(), *ev;
	int rc;

	for (struct pair *p = im->pairs; p; p = p->next)
		if (p->art == art && pair_runs(p) > 0)
			json_object_set_new(tcs, p->tc, json_pack(
			    "{s:I,s:I,s:I,s:I,s:I,s:I}", "first",
			    (json_int_t)(p->last - pair_runs(p) + 1), "last",
			    (json_int_t)p->last, "pass",
			    (json_int_t)p->count[RESULT_PASS], "fail",
			    (json_int_t)p->count[RESULT_FAIL], "error",
			    (json_int_t)p->count[RESULT_ERROR], "skip",
			    (json_int_t)p->count[RESULT_SKIP]));
	ev = json_pack("{s:I,s:o,s:s}", "runs", (json_int_t)art->count,
	    "testcases", tcs, "file", im->path);
	rc = ev ? event_artifact(im->st, im->txn, "runs.imported", im->who,
	    im->now, art->key, ev) : -ENOMEM;
	json_decref(ev);
	return rc;
}

/* The batch into the index (and the ledger's queue), then evaluated. */
static int
batch_commit(struct importer *im)
{
	char msg[1024];
	uint64_t first;
	int rc = 0;

	if (!im->txn)
		return 0;
	if (!im->in_batch) {
		index_abort(im->txn);
		im->txn = NULL;
		batch_forget(im);
		return 0;
	}
	im->part++;
	snprintf(msg, sizeof(msg), "import %zu runs from %s%s", im->in_batch,
	    im->path, im->part > 1 ? " (continued)" : "");
	rc = record_runs(im);
	for (struct pair *p = im->pairs; rc == 0 && p; p = p->next)
		if ((rc = pair_flush(im, p)) == 0 && pair_runs(p) > 0)
			rc = runs_dir_touch(im->st, im->txn, p->tc_ino, im->now);
	if (rc == 0 && (rc = index_alloc_ino(im->st->ix, im->txn,
	    im->ino - im->ino0, &first)) == 0 && first != im->ino0)
		rc = store_seterr(-EIO, "import: inode numbers were taken "
		    "beside the batch's");
	im->queued[0] = im->queued[1];
	if (rc == 0)
		rc = outbox_queue_raw(im->st, im->txn, im->who, im->now, msg,
		    im->files, im->raw, im->rawlen, &im->queued[1]);
	for (struct seen *a = im->arts; rc == 0 && a; a = a->next)
		if (a->count && (rc = art_event(im, a)) == 0)
			rc = promote_eval_in(im->st, im->txn, a->ino, a->key,
			    im->who, im->now);
	if (rc == 0)
		rc = index_commit(im->txn);
	else
		index_abort(im->txn);
	im->txn = NULL;
	batch_forget(im);
	if (rc == 0)
		outbox_kick_now(im->st);
	return rc;
}

/*
 * One line of the file, parsed: 1 imported, 0 refused (the error says
 * why), or < 0 when the import cannot go on.  A line is refused before
 * anything of it is written.
 */
static int
import_line(struct importer *im, struct import_line *l)
{
	struct seen *art = NULL;
	int rc;

	if (l->why || !l->packed) {
		store_seterr(-EINVAL, "%s", l->why ? l->why : "out of memory");
		return 0;
	}
	if ((rc = batch_begin(im)) < 0)
		return rc;
	if ((rc = art_get(im, l->artifact, &art)) < 0)
		return rc == -ENOENT ? 0 : rc;
	rc = import_run(im, art, l);
	/* it may have written part of the run: not a refusal */
	return rc == 0 ? 1 : rc == -EINVAL || rc == -ENOENT ? -EIO : rc;
}

/* The stamp every run gets (recorded, user, uid), and its JSON text. */
static int
stamp_make(struct importer *im)
{
	char when[32], *t;
	size_t tl;
	json_t *stamp;

	time_iso(when, im->now);
	im->how.recorded = im->now;
	im->how.stamp = stamp = json_pack("{s:s,s:s,s:I}", "recorded", when,
	    "user", im->who->name, "uid", (json_int_t)im->who->uid);
	t = stamp ? json_dumps(stamp, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	if (!t || (tl = strlen(t)) < 2) {
		free(t);
		return -ENOMEM;
	}
	memmove(t, t + 1, tl - 2);	/* the members only */
	t[tl - 2] = '\0';
	im->how.stamp_text = im->stamp_text = t;
	return 0;
}

int
store_import(struct store *st, const char *path, const char *artifact,
    const struct store_user *who,
    void (*refused)(void *arg, size_t line, const char *why),
    void (*progress)(void *arg, uint64_t done, uint64_t total), void *arg,
    uint64_t *imported)
{
	struct importer im = { .st = st, .who = who, .path = path,
	    .now = time(NULL), .how = { .artifact = artifact } };
	struct import_reader *rd = NULL;
	struct import_line *l;
	uint64_t total = 0, done = 0;
	size_t seen = 0;
	struct stat sb;
	FILE *f;
	int rc;

	if ((rc = store_may(st, who, STORE_ROLE_CI,
	    "importing results")) < 0)
		return rc;
	*imported = 0;
	import_read_prepare();
	/* the ledger is written beside the reading, on the other core */
	if ((rc = outbox_worker_start(st)) < 0)
		return rc;
	if (!(f = fopen(path, "r")))
		return store_seterr(-errno, "could not open '%s': %s", path,
		    strerror(errno));
	if (fstat(fileno(f), &sb) == 0)
		total = (uint64_t)sb.st_size;
	im.files = json_array();
	im.tail = &im.pairs;
	if ((rc = stamp_make(&im)) < 0 ||
	    (rc = import_read_start(&rd, f, &im.how)) < 0)
		goto out;
	while ((rc = import_read_next(rd, &l, &done)) == 1) {
		if (progress && l->lineno / 1000 != seen / 1000)
			progress(arg, done, total);
		seen = l->lineno;
		if ((rc = import_line(&im, l)) < 0)
			break;
		if (rc == 1)
			(*imported)++;
		else if (refused)
			refused(arg, l->lineno, store_errmsg());
		rc = 0;
		if (im.in_batch >= IMPORT_BATCH && (rc = batch_commit(&im)) < 0)
			break;
	}
	if (rc == 0)
		rc = batch_commit(&im);
out:
	if (im.txn) {
		index_abort(im.txn);
		im.txn = NULL;
	}
	batch_forget(&im);
	import_read_stop(rd);
	/* imported means in the ledger too */
	if (rc == 0)
		rc = store_drain(st);
	if (progress && rc == 0)
		progress(arg, total, total);
	fclose(f);
	json_decref(im.files);
	free(im.raw);
	json_decref(im.how.stamp);
	free(im.stamp_text);
	return rc;
}

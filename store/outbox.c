/*
 * outbox.c - the ledger queue: changes queued in the index's
 * transaction, written to git in order by a worker (or the caller).
 */
#define _GNU_SOURCE
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cas.h"
#include "fanout.h"
#include "ledger.h"
#include "manifest.h"
#include "safe.h"
#include "store_impl.h"

static int	drain_locked(struct store *st, int gather);

static int	queue_entry(struct store *st, MDB_txn *txn,
    const struct store_user *who, int64_t when, const char *message,
    json_t *files, json_t *tags, const char *raw, size_t rawlen,
    uint64_t *seq);

/* Queue one ledger commit: message, author and the blobs it writes. */
int
outbox_queue(struct store *st, MDB_txn *txn, const struct store_user *who,
    int64_t when, const char *message, json_t *files)
{
	return queue_entry(st, txn, who, when, message, files, NULL, NULL, 0,
	    NULL);
}

int
outbox_queue_raw(struct store *st, MDB_txn *txn,
    const struct store_user *who, int64_t when, const char *message,
    json_t *files, const char *raw, size_t rawlen, uint64_t *seq)
{
	return queue_entry(st, txn, who, when, message, files, NULL, raw,
	    rawlen, seq);
}

int
outbox_queue_tags(struct store *st, MDB_txn *txn,
    const struct store_user *who, int64_t when, const char *message,
    json_t *files, json_t *tags)
{
	return queue_entry(st, txn, who, when, message, files, tags, NULL, 0,
	    NULL);
}

/* Where a file's bytes are among the entry's raw bytes: [offset, length]. */
static json_t *
raw_span(size_t off, size_t len)
{
	return json_pack("[I,I]", (json_int_t)off, (json_int_t)len);
}

int
outbox_add_raw(json_t *files, const char *path, size_t off, size_t len)
{
	json_t *f = json_pack("{s:s,s:o}", "path", path, "raw",
	    raw_span(off, len));

	return f && json_array_append_new(files, f) == 0 ? 0 : -ENOMEM;
}

/*
 * The entry: its JSON, a NUL, then the files' bytes raw (escaping them into
 * JSON and back cost a quarter of an import): first raw (rawlen bytes, the
 * caller's files name their part of it with "raw": [offset, length]), then
 * each "data" string of files, which become "raw" too.  The parts are laid
 * into the queue's page once.
 */
static int
queue_entry(struct store *st, MDB_txn *txn, const struct store_user *who,
    int64_t when, const char *message, json_t *files, json_t *tags,
    const char *raw, size_t rawlen, uint64_t *seq)
{
	json_t *e = json_object(), *qfiles = json_array(), *f;
	struct index_part *parts = calloc(json_array_size(files) + 2,
	    sizeof(*parts));
	size_t i, nparts = 2, at = rawlen;
	struct timespec ts;
	char *text;
	int rc = 0;

	if (!parts) {
		json_decref(e);
		json_decref(qfiles);
		return -ENOMEM;
	}
	parts[1].data = raw;
	parts[1].len = rawlen;
	json_array_foreach(files, i, f) {
		json_t *data = json_object_get(f, "data"), *nf;

		if (!json_is_string(data)) {
			json_array_append(qfiles, f);
			continue;
		}
		nf = json_copy(f);
		json_object_del(nf, "data");
		json_object_set_new(nf, "raw", raw_span(at,
		    json_string_length(data)));
		json_array_append_new(qfiles, nf);
		parts[nparts].data = json_string_value(data);
		parts[nparts++].len = json_string_length(data);
		at += json_string_length(data);
	}
	if (tags)
		json_object_set(e, "tags", tags);
	json_object_set_new(e, "message", json_string(message));
	json_object_set_new(e, "user", json_string(who->name));
	json_object_set_new(e, "uid", json_integer(who->uid));
	json_object_set_new(e, "time", json_integer(when));
	/* when it was queued, to the millisecond: the ledger's lag */
	clock_gettime(CLOCK_REALTIME, &ts);
	json_object_set_new(e, "queued_ms", json_integer(
	    (json_int_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000));
	json_object_set_new(e, "files", qfiles);
	text = json_dumps(e, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(e);
	if (!text) {
		free(parts);
		return -ENOMEM;
	}
	parts[0].data = text;
	parts[0].len = strlen(text) + 1;	/* and its NUL */
	rc = index_queue_push_parts(st->ix, txn, parts, nparts, seq);
	free(text);
	free(parts);
	/* tags to come: at/'s listings will change (store_tags_queued) */
	if (rc == 0 && json_array_size(tags) > 0) {
		uint64_t n = 0;

		if (index_get(st->ix, txn, TAB_META, "tags_queued", &n,
		    sizeof(n)) < 0)
			n = 0;
		n++;
		rc = index_put(st->ix, txn, TAB_META, "tags_queued", &n,
		    sizeof(n), 0);
	}
	return rc;
}

void
outbox_add_file(json_t *files, const char *path, const uint8_t d[DIGEST_LEN])
{
	char hex[DIGEST_HEX_LEN + 1];
	json_t *f = json_object();

	digest_hex(hex, d);
	json_object_set_new(f, "path", json_string(path));
	json_object_set_new(f, "sha256", json_string(hex));
	json_array_append_new(files, f);
}

/* -- the ledger queue ----------------------------------------------- */

static int
apply_entry(struct store *st, uint64_t seq, const char *text, size_t len)
{
	size_t tlen = strlen(text);
	const char *raw = text + tlen + 1;
	size_t rawlen = len > tlen ? len - tlen - 1 : 0;
	struct ledger_change *ch = NULL;
	struct ledger_tag *tags = NULL;
	struct store_user who = { 0 };
	char **bufs = NULL;
	json_t *e, *files, *f, *tj;
	size_t n = 0, i, nt;
	int rc = 0;

	e = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
	files = json_object_get(e, "files");
	if (!e || !json_is_array(files))
		return store_seterr(-EIO, "ledger queue entry %llu is damaged",
		    (unsigned long long)seq);
	n = json_array_size(files);
	ch = calloc(n + 1, sizeof(*ch));
	bufs = calloc(n + 1, sizeof(*bufs));
	if (!ch || !bufs) {
		rc = -ENOMEM;
		goto out;
	}
	json_array_foreach(files, i, f) {
		uint8_t d[DIGEST_LEN];
		json_t *data = json_object_get(f, "data");

		ch[i].path = mf_str(f, "path");
		if (json_is_true(json_object_get(f, "remove"))) {
			ch[i].remove = 1;
			continue;
		}
		if (json_is_array(json_object_get(f, "raw"))) {
			json_int_t off = json_integer_value(json_array_get(
			    json_object_get(f, "raw"), 0));
			json_int_t n = json_integer_value(json_array_get(
			    json_object_get(f, "raw"), 1));

			if (off < 0 || n < 0 || (size_t)off > rawlen ||
			    (size_t)n > rawlen - (size_t)off) {
				rc = store_seterr(-EIO, "ledger queue entry "
				    "%llu is damaged", (unsigned long long)seq);
				goto out;
			}
			ch[i].data = raw + off;
			ch[i].len = (size_t)n;
			continue;
		}
		if (json_is_string(data)) {
			ch[i].len = json_string_length(data);
			bufs[i] = malloc(ch[i].len + 1);
			if (!bufs[i]) {
				rc = -ENOMEM;
				goto out;
			}
			memcpy(bufs[i], json_string_value(data), ch[i].len);
			ch[i].data = bufs[i];
			continue;
		}
		if (digest_parse(d, mf_str(f, "sha256")) < 0) {
			rc = store_seterr(-EIO, "ledger queue entry %llu is "
			    "damaged", (unsigned long long)seq);
			goto out;
		}
		rc = cas_read_all(st->cas, d, 64 << 20, &bufs[i], &ch[i].len);
		if (rc < 0)
			goto out;
		ch[i].data = bufs[i];
	}
	who.uid = (uid_t)json_integer_value(json_object_get(e, "uid"));
	snprintf(who.name, sizeof(who.name), "%s", mf_str(e, "user"));
	tj = json_object_get(e, "tags");
	nt = json_array_size(tj);
	tags = calloc(nt + 1, sizeof(*tags));
	if (!tags) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < nt; i++) {
		tags[i].name = mf_str(json_array_get(tj, i), "name");
		tags[i].message = mf_str(json_array_get(tj, i), "message");
	}
	rc = ledger_commit(st->lg, ch, n, tags, nt, &who,
	    json_integer_value(json_object_get(e, "time")),
	    mf_str(e, "message"), seq);
out:
	for (i = 0; bufs && i < n; i++)
		free(bufs[i]);
	free(bufs);
	free(ch);
	free(tags);
	json_decref(e);
	return rc;
}

static int
unlink_locks(const char *path, const struct stat *sb, int flag,
    struct FTW *ftw)
{
	size_t len = strlen(path);

	(void)sb;
	(void)ftw;
	if (flag == FTW_F && len > 5 && strcmp(path + len - 5, ".lock") == 0)
		unlink(path);
	return 0;
}

/*
 * git's own lock files left by a writer that was killed: whoever holds
 * STORE/ledger.lock is the only writer, so any that exist now are stale.
 */
static void
clear_stale_git_locks(struct store *st)
{
	static const char *top[] = { "HEAD.lock", "index.lock",
	    "packed-refs.lock", "config.lock" };
	char p[4200];

	for (size_t i = 0; i < sizeof(top) / sizeof(*top); i++) {
		snprintf(p, sizeof(p), "%s/ledger.git/%s", st->path, top[i]);
		unlink(p);
	}
	snprintf(p, sizeof(p), "%s/ledger.git/refs", st->path);
	nftw(p, unlink_locks, 16, FTW_PHYS);
}

/*
 * The changes up to last, in the ledger and synced, leave the queue, and
 * ledger_done moves to last (never back: another process's drain may
 * have moved it on).
 */
static int
dequeue_upto(struct store *st, uint64_t last)
{
	uint64_t n, done = 0;
	MDB_txn *txn;
	int rc;

	if ((rc = index_begin(st->ix, 0, &txn)) < 0)
		return rc;
	if (index_get(st->ix, txn, TAB_META, "ledger_done", &done,
	    sizeof(done)) < 0)
		done = 0;
	if ((rc = index_queue_del_upto(st->ix, txn, last, &n)) < 0 ||
	    (last > done && (rc = index_put(st->ix, txn, TAB_META,
	    "ledger_done", &last, sizeof(last), 0)) < 0)) {
		index_abort(txn);
		return rc;
	}
	return index_commit(txn);
}

/*
 * A ledger thread leaves that to a thread of its own (dequeue_worker) and
 * goes on to its next batch: the index's writer it waits for can be a
 * batch of an import, which holds it for a tenth of a second (that wait
 * was a third of the ledger thread's time in an import).  Without one,
 * at once.
 */
static int
settle(struct store *st, uint64_t last)
{
	int rc;

	if (!st->dequeuing) {
		rc = dequeue_upto(st, last);
		if (st->async) {
			pthread_mutex_lock(&st->work_mu);
			pthread_cond_broadcast(&st->done_cond);
			pthread_mutex_unlock(&st->work_mu);
		}
		return rc;
	}
	pthread_mutex_lock(&st->work_mu);
	if (last > st->dequeue_want)
		st->dequeue_want = last;
	pthread_cond_signal(&st->dequeue_cond);
	pthread_mutex_unlock(&st->work_mu);
	return 0;
}

/* What settle hands over, as it comes; what failed waits for the next. */
static void *
dequeue_worker(void *arg)
{
	struct store *st = arg;
	uint64_t upto;
	int rc;

	pthread_mutex_lock(&st->work_mu);
	for (;;) {
		while (st->dequeue_want <= st->dequeued && !st->dequeue_stop)
			pthread_cond_wait(&st->dequeue_cond, &st->work_mu);
		if (st->dequeue_want <= st->dequeued)
			break;
		upto = st->dequeue_want;
		pthread_mutex_unlock(&st->work_mu);
		if ((rc = dequeue_upto(st, upto)) < 0)
			store_log(st, "ledger: %s (the changes written stay "
			    "queued until the next batch)", store_errmsg());
		pthread_mutex_lock(&st->work_mu);
		st->dequeued = upto;	/* or given up until the next */
		pthread_cond_broadcast(&st->done_cond);	/* outbox_wait_done */
	}
	pthread_mutex_unlock(&st->work_mu);
	return NULL;
}

#define DRAIN_BATCH 256
/*
 * The daemon's merge thread is asked every MERGE_EVERY batches too, not
 * only when the writers pause: under a load that never pauses, batches of
 * a quarter second would otherwise pile up to LEDGER_TIDY_MAX_PACKS (a
 * minute) and leave the merging to the ledger thread.
 */
#define MERGE_EVERY 32

/*
 * Write queued changes to git, a batch at a time: one commit each, then
 * one sync of the ledger, then the batch leaves the queue.  Under load the
 * batches grow, and git keeps up with the index.  A gathering drain (the
 * daemon's ledger thread) goes on to another batch only while a full one
 * waits: what came in during a batch's write is left to gather for the
 * worker's quarter second, so a batch's own costs (its pack, the sync,
 * the branch) are shared by many changes instead of the few that arrived
 * in the meantime (4 writers by cp: 170 batches of 12 changes for 2,000).
 * It returns 1 when it left changes queued.
 */
static int
drain_locked(struct store *st, int gather)
{
	uint64_t seq, last, from, queued = 0;
	MDB_txn *txn;
	size_t n, tlen, batches = 0;
	char *text;
	int rc;

	clear_stale_git_locks(st);
	for (;;) {
		uint64_t done = 0, stale = 0;

		/*
		 * What the branch holds is written, whether or not it left
		 * the queue yet (settle; or a crash came between the two).
		 */
		if ((rc = ledger_last_seq(st->lg, &last)) < 0 ||
		    (rc = index_begin(st->ix, 1, &txn)) < 0)
			return rc;
		rc = index_queue_count(st->ix, txn, &queued);
		if (rc == 0)
			rc = index_queue_count_upto(st->ix, txn, last, &stale);
		if (rc == 0 && index_get(st->ix, txn, TAB_META, "ledger_done",
		    &done, sizeof(done)) < 0)
			done = 0;
		index_abort(txn);
		if (rc < 0)
			return rc;
		queued -= stale;
		if (gather && batches++ > 0 && queued < DRAIN_BATCH)
			return queued > 0;
		/*
		 * The branch must be where the index saw it last: a branch
		 * moved back or deleted would make the next change a new
		 * root that orphans the history.  Nothing is written then.
		 */
		if (last < done)
			return store_seterr(-EIO,
			    "ledger: refs/heads/main is at "
			    "change %llu%s, but change %llu was written: the "
			    "branch was moved or deleted; ledger writes stop "
			    "(the changes stay queued) until it points at the "
			    "commit with Relfs-Seq: %llu again (git update-ref)",
			    (unsigned long long)last, last ? "" : " (missing)",
			    (unsigned long long)done, (unsigned long long)done);
		/* a ledger of an older layout moves before it takes more */
		if (ledger_format(st->lg) < FANOUT_FORMAT) {
			struct store_user me;

			store_user_from_uid(&me, getuid(), getgid());
			if ((rc = ledger_migrate(st->lg, &me, time(NULL))) < 0 ||
			    (rc = ledger_sync(st->lg)) < 0)
				return rc;
			store_log(st, "ledger: moved to layout %d (directories "
			    "fanned out)", FANOUT_FORMAT);
		}
		/*
		 * Always one packfile for the batch: loose objects cost a
		 * file each, and under load creating and removing those
		 * took as much CPU as all the requests together.
		 */
		if (queued >= 1 && (rc = ledger_batch_begin(st->lg)) < 0)
			return rc;
		for (n = 0, from = last + 1; n < DRAIN_BATCH; n++,
		    from = seq + 1) {
			if ((rc = index_begin(st->ix, 1, &txn)) < 0)
				break;
			rc = index_queue_from(st->ix, txn, from, &seq, &text,
			    &tlen);
			index_abort(txn);
			if (rc < 0)
				break;
			rc = apply_entry(st, seq, text, tlen);
			free(text);
			if (rc < 0)
				break;
			last = seq;
		}
		if (rc < 0 && rc != -ENOENT) {
			ledger_batch_abort(st->lg);
			return rc;
		}
		if ((rc = ledger_batch_end(st->lg)) < 0)
			return rc;
		if (n == 0)
			return stale ? settle(st, last) : 0;
		/* the branch now ends at the newest change of the batch */
		if ((rc = ledger_sync(st->lg)) < 0 ||
		    (rc = settle(st, last)) < 0)
			return rc;
		if (st->merging) {
			/* under load, a merge beside the writers now and then */
			pthread_mutex_lock(&st->work_mu);
			if (++st->merge_batches >= MERGE_EVERY) {
				st->merge_batches = 0;
				st->merge_want = 1;
				pthread_cond_signal(&st->merge_cond);
			}
			pthread_mutex_unlock(&st->work_mu);
		}
		/*
		 * The daemon merges packs when it is idle (ledger_worker);
		 * here only a pile far too big, and for relctl one bounded
		 * step: a merge of everything once took minutes (it searches
		 * deltas over all it merges).
		 */
		if ((rc = ledger_tidy(st->lg, st->async ?
		    LEDGER_TIDY_MAX_PACKS : LEDGER_TIDY_PACKS,
		    LEDGER_TIDY_STEP)) < 0)
			return rc;
	}
}

/*
 * The ledger for this thread alone (ledger_mu) and this process alone
 * (STORE/ledger.lock, which relctl beside the daemon takes too): 0, or
 * -errno (-EWOULDBLOCK: busy, without wait).
 */
static int
lock_ledger(struct store *st, int wait)
{
	int rc;

	pthread_mutex_lock(&st->ledger_mu);
	if (flock(st->lockfd, LOCK_EX | (wait ? 0 : LOCK_NB)) == 0)
		return 0;
	rc = -errno;
	pthread_mutex_unlock(&st->ledger_mu);
	return rc;
}

static void
unlock_ledger(struct store *st)
{
	flock(st->lockfd, LOCK_UN);
	pthread_mutex_unlock(&st->ledger_mu);
}

static long long
ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (long long)(t1.tv_sec - t0->tv_sec) * 1000 +
	    (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

int
outbox_drain(struct store *st, int wait, int gather)
{
	int rc = lock_ledger(st, wait);

	/* busy: whoever holds it drains the queue */
	if (rc == -EWOULDBLOCK && !wait)
		return 0;
	if (rc < 0)
		return store_seterr(rc, "could not lock the ledger: %s",
		    strerror(-rc));
	rc = drain_locked(st, gather);
	unlock_ledger(st);
	return rc;
}

int
store_sync(struct store *st)
{
	return index_sync(st->ix);
}

int
store_drain(struct store *st)
{
	int rc = outbox_drain(st, 1, 0);

	/* and what was written has left the queue (settle) */
	if (!st->async)
		return rc;
	pthread_mutex_lock(&st->work_mu);
	while (rc == 0 && st->dequeuing && st->dequeued < st->dequeue_want)
		pthread_cond_wait(&st->done_cond, &st->work_mu);
	pthread_mutex_unlock(&st->work_mu);
	return rc;
}

/*
 * Merge small ledger packs while nothing else is to be done, a step at a
 * time under the ledger lock (see ledger_tidy); work_mu is not held.
 */
static void
tidy(struct store *st)
{
	int rc, pending = 0;

	while (!pending) {
		rc = 0;
		if (lock_ledger(st, 0) == 0) {
			struct timespec t0;

			clock_gettime(CLOCK_MONOTONIC, &t0);
			rc = ledger_tidy(st->lg, LEDGER_TIDY_PACKS,
			    LEDGER_TIDY_STEP);
			if (rc < 0)
				store_log(st, "ledger: %s", store_errmsg());
			else if (rc > 0)
				store_log(st, "ledger: merged %d packs in %lld ms",
				    rc, ms_since(&t0));
			unlock_ledger(st);
		}
		if (rc <= 0)
			break;
		pthread_mutex_lock(&st->work_mu);
		pending = st->work_pending || st->work_stop;
		pthread_mutex_unlock(&st->work_mu);
	}
}

/* -- the daemon's merges: a thread of their own ------------------------- */

/* the daemon stops: a merge under way stops too (within half a second) */
static int
merge_cancelled(void *arg)
{
	struct store *st = arg;
	int stop;

	pthread_mutex_lock(&st->work_mu);
	stop = st->work_stop;
	pthread_mutex_unlock(&st->work_mu);
	return stop;
}

/*
 * One geometric merge of the small packs.  Only picking them and removing
 * them once merged hold the ledger (a few milliseconds); the merge itself,
 * whatever its size, is written beside the ledger thread's batches, at a
 * lower priority, so that neither the ledger nor its writers wait for it.
 * 1 when it merged, 0 with nothing to do, -1 when it failed (logged).
 */
static int
merge_once(struct store *st)
{
	struct ledger_merge *m = NULL;
	struct timespec t0, t1;
	long long held;
	int rc;

	if (lock_ledger(st, 0) < 0)
		return 0;	/* busy: whoever has it merges */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = ledger_merge_plan(st->lg, LEDGER_TIDY_PACKS, &m);
	held = ms_since(&t0);
	unlock_ledger(st);
	if (rc <= 0) {
		if (rc < 0)
			store_log(st, "%s", store_errmsg());
		return rc < 0 ? -1 : 0;
	}
	rc = ledger_merge_write(m, merge_cancelled, st);
	if (rc == 0 && lock_ledger(st, 1) == 0) {
		clock_gettime(CLOCK_MONOTONIC, &t1);
		/* the reader of at/ has a repository of its own */
		pthread_mutex_lock(&st->past_mu);
		if (st->past)
			ledger_refresh(st->past);
		pthread_mutex_unlock(&st->past_mu);
		rc = ledger_merge_finish(st->lg, m);
		held += ms_since(&t1);
		unlock_ledger(st);
		store_log(st, "ledger: merged %d packs (%.1f MiB) in %lld ms, "
		    "%lld ms of it holding the ledger", rc,
		    (double)ledger_merge_bytes(m) / (1 << 20), ms_since(&t0),
		    held);
		rc = 1;
	} else if (rc < 0) {
		store_log(st, "%s (the packs stay as they were)",
		    store_errmsg());
		rc = -1;
	}
	ledger_merge_free(m);
	return rc;
}

/*
 * A merge killed while it wrote leaves libgit2's temporary pack
 * (objects/pack/pack_git2_*).  With the ledger's lock held nobody writes
 * one, so any there is stale: gone before this daemon's merges start.
 */
static void
clear_stale_merges(struct store *st)
{
	char path[4200];
	struct dirent *de;
	int n = 0, fd;
	DIR *d;

	if (lock_ledger(st, 0) < 0)
		return;		/* busy: the next daemon clears them */
	snprintf(path, sizeof(path), "%s/ledger.git/objects/pack", st->path);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0 && (d = fdopendir(fd))) {
		while ((de = readdir(d)))
			if (strncmp(de->d_name, "pack_git2_", 10) == 0 &&
			    unlinkat(dirfd(d), de->d_name, 0) == 0)
				n++;
		closedir(d);
	} else if (fd >= 0) {
		close(fd);
	}
	unlock_ledger(st);
	if (n)
		store_log(st, "ledger: removed %d temporary pack file%s a "
		    "killed merge left", n, n == 1 ? "" : "s");
}

static void *
merge_worker(void *arg)
{
	struct store *st = arg;

	thread_nice_more(10);	/* behind the writers and their ledger */
	pthread_mutex_lock(&st->work_mu);
	for (;;) {
		while (!st->merge_want && !st->work_stop)
			pthread_cond_wait(&st->merge_cond, &st->work_mu);
		if (st->work_stop)
			break;
		st->merge_want = 0;
		pthread_mutex_unlock(&st->work_mu);
		/* a merge leaves a progression: another finds little to do */
		while (merge_once(st) > 0 && !merge_cancelled(st))
			;
		pthread_mutex_lock(&st->work_mu);
	}
	pthread_mutex_unlock(&st->work_mu);
	return NULL;
}

static void *
ledger_worker(void *arg)
{
	struct store *st = arg;
	int idle = 0, now, rc;

	pthread_mutex_lock(&st->work_mu);
	for (;;) {
		while (!st->work_pending && !st->work_stop && !idle)
			pthread_cond_wait(&st->work_cond, &st->work_mu);
		if (!st->work_pending && st->work_stop)
			break;
		if (!st->work_pending && idle) {
			/*
			 * A second without changes: merge the small packs
			 * now, not while writers are busy (merging took most
			 * of this thread's time under load).
			 */
			struct timespec until;

			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += 1;
			if (pthread_cond_timedwait(&st->work_cond, &st->work_mu,
			    &until) == ETIMEDOUT && !st->work_pending &&
			    !st->work_stop) {
				if (st->merging) {
					st->merge_want = 1;
					pthread_cond_signal(&st->merge_cond);
				} else {
					pthread_mutex_unlock(&st->work_mu);
					tidy(st);
					pthread_mutex_lock(&st->work_mu);
				}
				idle = 0;
			}
			continue;
		}
		now = st->work_now;
		st->work_pending = st->work_now = 0;
		pthread_mutex_unlock(&st->work_mu);
		/*
		 * Let changes gather for a quarter of a second: under load a
		 * batch then holds many commits, written as one packfile with
		 * one sync and one move of the branch (at 50 ms, the daemon
		 * used 1.5 times the CPU per run: scripts/bench-results).
		 */
		if (!st->work_stop && !now)
			usleep(250000);
		/* what is asked for now (an import's batch) is not held back */
		rc = outbox_drain(st, 1, !st->work_stop && !now);
		if (rc < 0)
			store_log(st, "ledger: %s (queued, retried at the next "
			    "change)", store_errmsg());
		idle = 1;
		pthread_mutex_lock(&st->work_mu);
		if (rc > 0)	/* left to gather */
			st->work_pending = 1;
	}
	pthread_mutex_unlock(&st->work_mu);
	return NULL;
}

void
outbox_kick(struct store *st)
{
	if (!st->async) {
		if (store_drain(st) < 0)
			store_log(st, "ledger: %s (queued, retried at the next "
			    "change)", store_errmsg());
		return;
	}
	pthread_mutex_lock(&st->work_mu);
	st->work_pending = 1;
	pthread_cond_signal(&st->work_cond);
	pthread_mutex_unlock(&st->work_mu);
}

/*
 * An import's batch of thousands of runs is a batch enough: waiting would
 * leave the ledger's core idle at the start and its work at the end.
 */
void
outbox_kick_now(struct store *st)
{
	if (st->async) {
		pthread_mutex_lock(&st->work_mu);
		st->work_now = 1;
		pthread_mutex_unlock(&st->work_mu);
	}
	outbox_kick(st);
}

/* The change the ledger wrote last (0 before any, or when unknown). */
static uint64_t
ledger_done(struct store *st)
{
	uint64_t done = 0;
	MDB_txn *txn;

	if (index_begin(st->ix, 1, &txn) < 0)
		return 0;
	if (index_get(st->ix, txn, TAB_META, "ledger_done", &done,
	    sizeof(done)) < 0)
		done = 0;
	index_abort(txn);
	return done;
}

int
outbox_wait_done(struct store *st, uint64_t seq, int max_ms)
{
	struct timespec until;

	if (!st->async)
		return 0;	/* outbox_kick wrote it already */
	pthread_mutex_lock(&st->work_mu);
	for (int waited = 0; ledger_done(st) < seq; waited += 50) {
		if (waited >= max_ms) {
			pthread_mutex_unlock(&st->work_mu);
			return -ETIMEDOUT;
		}
		/*
		 * Woken by this process's drain; another's (the daemon's)
		 * is seen at the next look
		 */
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 50 * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&st->done_cond, &st->work_mu, &until);
	}
	pthread_mutex_unlock(&st->work_mu);
	return 0;
}

int
outbox_worker_start(struct store *st)
{
	if (st->async)
		return 0;
	pthread_mutex_init(&st->work_mu, NULL);
	pthread_cond_init(&st->work_cond, NULL);
	pthread_cond_init(&st->done_cond, NULL);
	pthread_cond_init(&st->merge_cond, NULL);
	pthread_cond_init(&st->dequeue_cond, NULL);
	if (pthread_create(&st->worker, NULL, ledger_worker, st) != 0)
		return store_seterr(-EAGAIN, "could not start the ledger "
		    "thread");
	/* named, so that its time can be told apart (scripts/bench) */
	pthread_setname_np(st->worker, "relfs-ledger");
	st->async = 1;
	/* without it, the ledger thread dequeues itself (settle) */
	pthread_mutex_lock(&st->work_mu);
	if (pthread_create(&st->dequeuer, NULL, dequeue_worker, st) == 0) {
		pthread_setname_np(st->dequeuer, "relfs-dequeue");
		st->dequeuing = 1;
	}
	pthread_mutex_unlock(&st->work_mu);
	return 0;
}

int
store_ledger_async(struct store *st)
{
	int rc = outbox_worker_start(st);

	if (rc < 0)
		return rc;
	/* the daemon's merges, off the ledger thread (merge_worker) */
	clear_stale_merges(st);
	if (!st->merging && pthread_create(&st->merger, NULL, merge_worker,
	    st) == 0) {
		pthread_setname_np(st->merger, "relfs-merge");
		st->merging = 1;
	}
	/* while it runs, relctl's opens leave the queue to it */
	{
		char p[4096];

		snprintf(p, sizeof(p), "%s/daemon.lock", st->path);
		st->daemonfd = open(p, O_RDONLY | O_CREAT | O_NOFOLLOW |
		    O_CLOEXEC, 0644);
		if (st->daemonfd >= 0 && flock(st->daemonfd, LOCK_EX |
		    LOCK_NB) < 0) {
			close(st->daemonfd);
			st->daemonfd = -1;
		}
	}
	/*
	 * What is queued already (its writer was killed, and the open could
	 * not take the ledger's lock to write it) is written now, not at the
	 * next change.
	 */
	{
		struct store_ledger_lag lag;

		if (store_ledger_lag(st, &lag) == 0 && lag.queued)
			outbox_kick(st);
	}
	return 0;
}

int
store_ledger_lag(struct store *st, struct store_ledger_lag *out)
{
	uint64_t seq;
	MDB_txn *txn;
	char *text;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = index_begin(st->ix, 1, &txn)) < 0)
		return rc;
	rc = index_queue_count(st->ix, txn, &out->queued);
	if (rc == 0 && index_get(st->ix, txn, TAB_META, "ledger_done",
	    &out->written, sizeof(out->written)) < 0)
		out->written = 0;
	if (rc == 0 && out->queued &&
	    (rc = index_queue_from(st->ix, txn, 0, &seq, &text, NULL)) == 0) {
		json_t *e = json_loads(text, 0, NULL);

		out->oldest = json_integer_value(json_object_get(e, "time"));
		out->oldest_ms = json_integer_value(json_object_get(e,
		    "queued_ms"));
		if (!out->oldest_ms)
			out->oldest_ms = out->oldest * 1000;
		json_decref(e);
		free(text);
	}
	index_abort(txn);
	if (rc == -ENOENT)
		rc = 0;		/* written meanwhile */
	pthread_mutex_lock(&st->ledger_mu);
	out->format = ledger_format(st->lg);
	pthread_mutex_unlock(&st->ledger_mu);
	return rc;
}

int
store_ledger_path(struct store *st, const char *logical, char *out,
    size_t len)
{
	int rc;

	pthread_mutex_lock(&st->ledger_mu);
	rc = fanout_path(ledger_format(st->lg), logical, out, len);
	pthread_mutex_unlock(&st->ledger_mu);
	return rc < 0 ? store_seterr(rc, "'%s' is too long", logical) : 0;
}

int
store_ledger_state(struct store *st, uint64_t *pending, uint64_t *commits)
{
	MDB_txn *txn;
	int rc;

	if ((rc = index_begin(st->ix, 1, &txn)) < 0)
		return rc;
	rc = index_queue_count(st->ix, txn, pending);
	index_abort(txn);
	if (rc == 0) {
		pthread_mutex_lock(&st->ledger_mu);
		rc = ledger_count(st->lg, commits);
		pthread_mutex_unlock(&st->ledger_mu);
	}
	return rc;
}

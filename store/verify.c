/*
 * verify.c - checking a store: every object, every index entry, every
 * artifact against its manifest, and the ledger against the index.
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

/* -- verify --------------------------------------------------------- */

struct verify {
	struct store *st;
	store_report_fn report;
	void *arg;
	unsigned problems;
	json_t *checked;	/* digests already re-hashed */
	json_t *in_index;	/* "p/v" seen in the index */
	MDB_txn *txn;
	uint64_t index_runs, ledger_runs;
	json_t *todo;		/* artifacts to check once the ledger is free */
};

static void
problem(struct verify *v, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
problem(struct verify *v, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	v->problems++;
	if (v->report)
		v->report(v->arg, buf);
}

static void
check_object(struct verify *v, const uint8_t d[DIGEST_LEN], uint64_t size,
    const char *what)
{
	char hex[DIGEST_HEX_LEN + 1];
	uint64_t got;
	int rc;

	digest_hex(hex, d);
	if (json_object_get(v->checked, hex))
		return;
	json_object_set_new(v->checked, hex, json_true());
	rc = cas_check(v->st->cas, d, &got);
	if (rc < 0)
		problem(v, "%s: %s", what, store_errmsg());
	else if (got != size)
		problem(v, "%s: object %s has %llu bytes, expected %llu", what,
		    hex, (unsigned long long)got, (unsigned long long)size);
}

/* Walk one path of an artifact in the index and compare with the entry. */
static void
check_index_entry(struct verify *v, uint64_t files_ino, const char *what,
    const char *path, enum mf_type t, uint32_t mode, uint64_t size,
    const uint8_t d[DIGEST_LEN])
{
	char buf[4096], *save = NULL, *comp;
	uint64_t ino = files_ino;
	struct node n;
	int rc = 0;

	(void)mode;
	snprintf(buf, sizeof(buf), "%s", path);
	for (comp = strtok_r(buf, "/", &save); comp && rc == 0;
	    comp = strtok_r(NULL, "/", &save))
		rc = index_lookup(v->st->ix, v->txn, ino, comp, &ino);
	if (rc == 0)
		rc = index_node_get(v->st->ix, v->txn, ino, &n);
	if (rc < 0) {
		problem(v, "%s: '%s' is in the manifest but not in the index",
		    what, path);
		return;
	}
	if ((t == MF_DIR && n.kind != NODE_DIR) ||
	    (t == MF_FILE && n.kind != NODE_FILE) ||
	    (t == MF_SYMLINK && n.kind != NODE_SYMLINK) ||
	    (t != MF_DIR && (n.size != size ||
	    memcmp(n.digest, d, DIGEST_LEN) != 0)))
		problem(v, "%s: '%s' differs between the index and the "
		    "manifest", what, path);
}

static int
verify_artifact(void *arg, const char *key, size_t keylen, const void *val,
    size_t vallen)
{
	struct verify *v = arg;
	struct art_rec rec;
	char what[600], lpath[700], *text = NULL, *ltext = NULL;
	size_t len, llen;
	uint64_t files_ino;
	json_t *m = NULL;
	struct node mn;
	int rc;

	snprintf(what, sizeof(what), "%.*s", (int)keylen, key);
	json_object_set_new(v->in_index, what, json_true());
	if (vallen != sizeof(rec)) {
		problem(v, "%s: index record is damaged", what);
		return 0;
	}
	memcpy(&rec, val, sizeof(rec));
	if (index_node_get(v->st->ix, v->txn, rec.ino + 1, &mn) < 0) {
		problem(v, "%s: manifest node is missing from the index", what);
		return 0;
	}
	check_object(v, rec.manifest, mn.size, what);
	rc = cas_read_all(v->st->cas, rec.manifest, 64 << 20, &text, &len);
	if (rc < 0 || (rc = manifest_load(text, len, &m)) < 0) {
		problem(v, "%s: manifest: %s", what, store_errmsg());
		goto out;
	}
	snprintf(lpath, sizeof(lpath), "artifacts/%s/manifest.json", what);
	pthread_mutex_lock(&v->st->ledger_mu);
	rc = ledger_read(v->st->lg, lpath, &ltext, &llen);
	pthread_mutex_unlock(&v->st->ledger_mu);
	if (rc == -ENOENT)
		problem(v, "%s: in the index but not in the ledger", what);
	else if (rc < 0)
		problem(v, "%s: ledger: %s", what, store_errmsg());
	else if (llen != len || memcmp(ltext, text, len) != 0)
		problem(v, "%s: the ledger's manifest differs from the index's",
		    what);
	for (uint64_t k = 2; k <= 3; k++) {
		struct node gn;

		if (index_node_get(v->st->ix, v->txn, rec.ino + k, &gn) < 0)
			problem(v, "%s: a generated file is missing", what);
		else
			check_object(v, gn.digest, gn.size, what);
	}
	if (index_lookup(v->st->ix, v->txn, rec.ino, "files", &files_ino) < 0) {
		problem(v, "%s: files/ is missing from the index", what);
		goto out;
	}
	{
		/* fetched dependencies: their bytes must still match the pin */
		json_t *pin;
		size_t k;

		json_array_foreach(json_object_get(m, "pins"), k, pin) {
			uint8_t pd[DIGEST_LEN];
			char pwhat[1200];

			if (digest_parse(pd, mf_str(pin, "sha256")) < 0 ||
			    !cas_has(v->st->cas, pd))
				continue;
			snprintf(pwhat, sizeof(pwhat), "%s: deps/%s", what,
			    mf_str(pin, "name"));
			if (cas_check(v->st->cas, pd, NULL) < 0)
				problem(v, "%s: %s", pwhat, store_errmsg());
		}
	}
	for (size_t i = 0; i < mf_count(m); i++) {
		const char *p;
		enum mf_type t;
		uint32_t mode;
		uint64_t size;
		uint8_t d[DIGEST_LEN];
		char fwhat[4800];

		if (mf_entry(m, i, &p, &t, &mode, &size, d) < 0) {
			problem(v, "%s: %s", what, store_errmsg());
			continue;
		}
		snprintf(fwhat, sizeof(fwhat), "%s: files/%s", what, p);
		if (t != MF_DIR)
			check_object(v, d, size, fwhat);
		check_index_entry(v, files_ino, what, p, t, mode, size, d);
	}
out:
	json_decref(m);
	free(text);
	free(ltext);
	return 0;
}

static int
count_run(void *arg, const char *key, size_t keylen, const void *val,
    size_t vallen)
{
	(void)key;
	(void)keylen;
	(void)val;
	(void)vallen;
	(*(uint64_t *)arg)++;
	return 0;
}

/*
 * The runs a run file of the ledger holds (runs/<p>/<v>/<tc>/<name>): one,
 * or those an import's <first>-<last>.jsonl names.
 */
static uint64_t
runs_in_file(const char *path)
{
	const char *base = strrchr(path, '/');
	long long first, last;

	if (base && fanout_run_range(base + 1, &first, &last) == 0)
		return (uint64_t)(last - first + 1);
	return 1;
}

static int
verify_ledger_blob(void *arg, const char *path, const char *data,
    size_t len)
{
	struct verify *v = arg;
	char key[600];
	const char *end;

	(void)data;
	(void)len;
	if (strncmp(path, "runs/", 5) == 0)
		v->ledger_runs += runs_in_file(path);
	if (strncmp(path, "artifacts/", 10) != 0)
		return 0;
	end = strstr(path, "/manifest.json");
	if (!end || end[14] != '\0')
		return 0;
	snprintf(key, sizeof(key), "%.*s", (int)(end - path - 10), path + 10);
	if (!json_object_get(v->in_index, key))
		problem(v, "%s: in the ledger but not in the index", key);
	return 0;
}

/* The queue written first (what is left is a problem); a read of the index. */
static int
verify_begin(struct verify *v)
{
	uint64_t pending = 0;
	int rc;

	if (store_drain(v->st) < 0)
		problem(v, "ledger: could not write queued changes: %s",
		    store_errmsg());
	if ((rc = index_begin(v->st->ix, 1, &v->txn)) < 0)
		return rc;
	if (index_queue_count(v->st->ix, v->txn, &pending) == 0 && pending)
		problem(v, "ledger: %llu changes are not yet in the ledger",
		    (unsigned long long)pending);
	return 0;
}

int
store_verify(struct store *st, store_report_fn report, void *arg,
    unsigned *problems)
{
	struct verify v = { st, report, arg, 0, json_object(), json_object(),
	    NULL, 0, 0, NULL };
	char lpath[4200], why[512] = "", *fsck = NULL;
	struct ledger_fsck fsck_run;
	int rc, started, locked;

	/*
	 * git fsck runs on the other core while the index is checked, once
	 * the queue is written (during a write it can see a new tag's ref
	 * before the object it listed: "missing tag")
	 */
	rc = verify_begin(&v);
	snprintf(lpath, sizeof(lpath), "%s/ledger.git", st->path);
	/* and no one writes the ledger while it reads (the daemon waits) */
	locked = flock(st->lockfd, LOCK_EX) == 0;
	started = ledger_fsck_start(lpath, &fsck_run) == 0;
	if (!started)
		snprintf(why, sizeof(why), "%s", store_errmsg());
	if (rc < 0)
		goto out;
	rc = index_iter(st->ix, v.txn, TAB_ARTIFACT, verify_artifact, &v);
	if (rc == 0)
		rc = index_iter(st->ix, v.txn, TAB_RUNS, count_run,
		    &v.index_runs);
	index_abort(v.txn);
	if (rc < 0)
		goto out;
	pthread_mutex_lock(&st->ledger_mu);
	rc = ledger_walk_paths(st->lg, verify_ledger_blob, &v);
	pthread_mutex_unlock(&st->ledger_mu);
	if (rc < 0)
		problem(&v, "ledger: %s", store_errmsg());
	else if (v.index_runs != v.ledger_runs)
		problem(&v, "runs: the index has %llu, the ledger %llu",
		    (unsigned long long)v.index_runs,
		    (unsigned long long)v.ledger_runs);
	rc = 0;
out:
	if (!started) {
		problem(&v, "git fsck: %s", why);
	} else {
		char keep[1024], *save = NULL;

		/* a refusal above keeps its own message */
		snprintf(keep, sizeof(keep), "%s", store_errmsg());
		if (ledger_fsck_wait(&fsck_run, &fsck) < 0) {
			for (char *line = strtok_r(fsck ? fsck : (char *)"",
			    "\n", &save); line; line = strtok_r(NULL, "\n",
			    &save))
				problem(&v, "git fsck: %s", line);
			if (!fsck)
				problem(&v, "git fsck: %s", store_errmsg());
		}
		if (rc < 0)
			store_seterr(rc, "%s", keep);
	}
	if (locked)
		flock(st->lockfd, LOCK_UN);
	free(fsck);
	json_decref(v.checked);
	json_decref(v.in_index);
	*problems = v.problems;
	return rc;
}

/* -- verify --since ---------------------------------------------------- */

/* A run file of the ledger is in the index: each run it holds. */
static void
check_run(struct verify *v, const char *path)
{
	char buf[600], *p, *tc, *name, file[32];
	long long first, last;
	struct art_rec rec;
	uint64_t runs, ino;

	snprintf(buf, sizeof(buf), "%s", path + 5);
	p = strchr(buf, '/');
	tc = p ? strchr(p + 1, '/') : NULL;
	name = tc ? strchr(tc + 1, '/') : NULL;
	if (!name || fanout_run_range(name + 1, &first, &last) < 0) {
		problem(v, "%s: not a run's path", path);
		return;
	}
	*tc++ = '\0';
	*name++ = '\0';
	if (index_get(v->st->ix, v->txn, TAB_ARTIFACT, buf, &rec,
	    sizeof(rec)) < 0 ||
	    index_lookup(v->st->ix, v->txn, rec.ino, "runs", &runs) < 0 ||
	    index_lookup(v->st->ix, v->txn, runs, tc, &runs) < 0) {
		problem(v, "%s: in the ledger but not in the index", path);
		return;
	}
	for (long long n = first; n <= last; n++) {
		snprintf(file, sizeof(file), "%06lld.json", n);
		if (index_lookup(v->st->ix, v->txn, runs, file, &ino) < 0) {
			if (first == last)
				problem(v, "%s: in the ledger but not in the "
				    "index", path);
			else
				problem(v, "%s: run %lld is in the ledger but "
				    "not in the index", path, n);
			return;
		}
	}
}

static int
since_one(void *arg, const char *path, int removed)
{
	struct verify *v = arg;
	const char *end;

	if (removed)
		return 0;
	if (strncmp(path, "runs/", 5) == 0) {
		check_run(v, path);
		v->ledger_runs += runs_in_file(path);
	} else if (strncmp(path, "artifacts/", 10) == 0 &&
	    (end = strstr(path, "/manifest.json")) && end[14] == '\0') {
		char key[600];

		snprintf(key, sizeof(key), "%.*s", (int)(end - path - 10),
		    path + 10);
		json_array_append_new(v->todo, json_string(key));
	}
	return 0;
}

int
store_verify_since(struct store *st, const char *since,
    store_report_fn report, void *arg, unsigned *problems,
    uint64_t *commits)
{
	struct verify v = { st, report, arg, 0, json_object(), json_object(),
	    NULL, 0, 0, json_array() };
	json_t *key;
	size_t i;
	int rc;

	*commits = 0;
	if ((rc = verify_begin(&v)) < 0)
		goto out;
	pthread_mutex_lock(&st->ledger_mu);
	rc = ledger_since(st->lg, since, since_one, &v, commits);
	pthread_mutex_unlock(&st->ledger_mu);
	/* artifacts read the ledger too: after the walk, which holds it */
	json_array_foreach(v.todo, i, key) {
		const char *k = json_string_value(key);
		struct art_rec rec;

		if (rc < 0)
			break;
		if (index_get(st->ix, v.txn, TAB_ARTIFACT, k, &rec,
		    sizeof(rec)) < 0)
			problem(&v, "%s: in the ledger but not in the index", k);
		else
			verify_artifact(&v, k, strlen(k), &rec, sizeof(rec));
	}
	index_abort(v.txn);
	if (rc == -EIO) {
		problem(&v, "%s", store_errmsg());
		rc = 0;
	}
out:
	json_decref(v.checked);
	json_decref(v.in_index);
	json_decref(v.todo);
	*problems = v.problems;
	return rc;
}

/* store.c - see store.h. */
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
#include "ledger.h"
#include "manifest.h"
#include "safe.h"
#include "store_impl.h"

#define FORMAT_LINE "relfs-store 1\n"
#define META_MAX (1 << 20)


/* One entry found while scanning a directory to publish. */
struct scan_ent {
	char *path;
	enum mf_type type;
	uint32_t mode;
	uint64_t size;
	uint8_t digest[DIGEST_LEN];
};

struct scan {
	struct scan_ent *v;
	size_t n, cap;
	uint64_t bytes;
	const struct store_publish *o;
};

/* The generated files of an artifact, stored before its transaction. */
struct art_blobs {
	uint8_t manifest[DIGEST_LEN], pins[DIGEST_LEN], props[DIGEST_LEN];
	uint64_t manifest_len, pins_len, props_len;
};

static const char readme_text[] =
"relfs: the release state of a continuous-delivery pipeline\n"
"\n"
"  incoming/<project>/<version>/   write a new artifact here (files, and\n"
"                                  optionally `pins` and `artifact.json`),\n"
"                                  then seal it in one step with\n"
"                                  mv incoming/<p>/<v> artifacts/<p>/\n"
"  artifacts/<project>/<version>/  one immutable artifact:\n"
"      manifest.json               id, project, version, created, files, pins\n"
"      pins                        pinned dependencies: name version sha256 url\n"
"      artifact.properties         KEY=VALUE lines a shell can source\n"
"      files/...                   the payload, byte for byte as published\n"
"  projects/ stages/ scenarios/ releases/\n"
"                                  promotion state (filled by later releases\n"
"                                  of relfs)\n"
"\n"
"Everything under artifacts/ is immutable: writes answer EROFS.\n"
"Refused operations are explained, one line each, in STORE/relfs.log.\n"
"The command-line tool is relctl (relctl --help).\n";

static int	drain(struct store *st, int wait);
static int	drain_locked(struct store *st);
static int	insert_artifact(struct store *st, MDB_txn *txn, json_t *m,
		    const struct art_blobs *b, int64_t created,
		    int *new_project);
static int	insert_root(struct store *st, MDB_txn *txn, int64_t when);
static int	prepare_blobs(struct store *st, json_t *m, const char *text,
		    size_t len, struct art_blobs *b);
static int	scan_dir(struct scan *sc, int dirfd, const char *rel,
		    int depth);
static void	scan_free(struct scan *sc);

/* -- opening -------------------------------------------------------- */

/*
 * Everyone who opens the store holds STORE/use.lock shared; a rebuild, which
 * replaces the index under them, needs it alone.
 */
static int
take_use_lock(struct store *st, int alone)
{
	char p[4096];

	snprintf(p, sizeof(p), "%s/use.lock", st->path);
	st->usefd = open(p, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (st->usefd < 0)
		return store_seterr(-errno, "could not open '%s': %s", p,
		    strerror(errno));
	if (flock(st->usefd, (alone ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0)
		return 0;
	if (errno != EWOULDBLOCK)
		return store_seterr(-errno, "could not lock '%s': %s", p,
		    strerror(errno));
	return alone ? store_seterr(-EBUSY, "the store '%s' is in use (mounted, "
	    "or a relctl is running): unmount it and let relctl end first",
	    st->path) : store_seterr(-EBUSY, "the store '%s' is being rebuilt "
	    "(relctl rebuild): try again when it ends", st->path);
}

/* A descriptor of STORE/relfs.log to append to, or -1. */
static int
log_open(struct store *st)
{
	char p[4096];

	snprintf(p, sizeof(p), "%s/relfs.log", st->path);
	return open(p, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
	    0600);
}

static int
open_parts(struct store *st, int create)
{
	char p[4096];
	int rc;

	snprintf(p, sizeof(p), "%s/format", st->path);
	if (access(p, F_OK) < 0)
		return store_seterr(-ENOENT, "'%s' is not a relfs store (no "
		    "'format' file); create one with relctl init", st->path);
	{
		struct stat sb;

		/* the owner of the store holds the roles no group holds */
		if (stat(st->path, &sb) < 0)
			return store_seterr(-errno, "could not stat '%s': %s",
			    st->path, strerror(errno));
		st->owner = sb.st_uid;
		st->owner_gid = sb.st_gid;
	}
	if (!create && (rc = take_use_lock(st, 0)) < 0)
		return rc;
	snprintf(p, sizeof(p), "%s/index", st->path);
	rc = index_open(&st->ix, p, create);
	if (rc < 0)
		return rc;
	rc = cas_open(&st->cas, st->path);
	if (rc < 0)
		return rc;
	snprintf(p, sizeof(p), "%s/ledger.git", st->path);
	rc = ledger_open(&st->lg, p);
	if (rc < 0)
		return rc;
	snprintf(p, sizeof(p), "%s/ledger.lock", st->path);
	st->lockfd = open(p, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (st->lockfd < 0)
		return store_seterr(-errno, "could not open '%s': %s", p,
		    strerror(errno));
	st->logfd = log_open(st);
	snprintf(p, sizeof(p), "%s/incoming", st->path);
	if (mkdir(p, 0700) < 0 && errno != EEXIST)
		return store_seterr(-errno, "could not create '%s': %s", p,
		    strerror(errno));
	st->incoming = strdup(p);
	return 0;
}

static struct store *
store_alloc(const char *path)
{
	struct store *st = calloc(1, sizeof(*st));

	if (!st)
		return NULL;
	st->path = realpath(path, NULL);
	if (!st->path)
		st->path = strdup(path);
	st->lockfd = st->logfd = st->usefd = -1;
	pthread_mutex_init(&st->ledger_mu, NULL);
	pthread_mutex_init(&st->runs_mu, NULL);
	pthread_cond_init(&st->runs_cond, NULL);
	return st;
}

int
store_open(struct store **out, const char *path)
{
	struct store *st = store_alloc(path);
	int rc;

	if (!st)
		return -ENOMEM;
	rc = open_parts(st, 0);
	/*
	 * Replay what a crash left queued, unless a live writer is at it.  A
	 * ledger that cannot be written now keeps its queue: the index is
	 * the truth, so the store opens all the same.
	 */
	if (rc == 0 && drain(st, 0) < 0)
		store_log(st, "ledger: %s (queued, retried at the next change)",
		    store_errmsg());
	if (rc < 0) {
		store_close(st);
		return rc;
	}
	*out = st;
	return 0;
}

void
store_close(struct store *st)
{
	if (!st)
		return;
	deps_settle(st);
	if (st->async) {
		/* what is queued is written before the store closes */
		pthread_mutex_lock(&st->work_mu);
		st->work_stop = 1;
		st->work_pending = 1;
		pthread_cond_signal(&st->work_cond);
		pthread_mutex_unlock(&st->work_mu);
		pthread_join(st->worker, NULL);
	}
	/* what relctl or the daemon did survives a power cut once it ends */
	if (st->ix)
		index_sync(st->ix);
	index_close(st->ix);
	cas_close(st->cas);
	ledger_close(st->lg);
	if (st->lockfd >= 0)
		close(st->lockfd);
	if (st->logfd >= 0)
		close(st->logfd);
	if (st->usefd >= 0)
		close(st->usefd);
	pthread_mutex_destroy(&st->ledger_mu);
	pthread_mutex_destroy(&st->runs_mu);
	pthread_cond_destroy(&st->runs_cond);
	free(st->incoming);
	free(st->path);
	free(st);
}

struct change_list {
	uint64_t *v;
	size_t n, cap;
};

static void
change_add(void *arg, uint64_t ino)
{
	struct change_list *l = arg;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		uint64_t *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = ino;
}

int
store_changes(struct store *st, uint64_t *since, uint64_t **inos, size_t *n)
{
	struct change_list l = { NULL, 0, 0 };
	MDB_txn *txn;
	int rc;

	if ((rc = index_begin(st->ix, 1, &txn)) < 0)
		return rc;
	if (*since == 0) {
		/* the first call only learns where the log stands now */
		*since = (uint64_t)mdb_txn_id(txn);
		index_abort(txn);
		*inos = NULL;
		*n = 0;
		return 0;
	}
	rc = index_changes(st->ix, txn, since, change_add, &l);
	index_abort(txn);
	*inos = l.v;
	*n = l.n;
	return rc;
}

int
store_changes_prune(struct store *st, int64_t keep)
{
	MDB_txn *txn;
	int rc;

	if ((rc = index_begin(st->ix, 0, &txn)) < 0)
		return rc;
	rc = index_changes_prune(st->ix, txn, keep);
	if (rc < 0) {
		index_abort(txn);
		return rc;
	}
	return index_commit(txn);
}

void
store_prefetch(struct store *st)
{
	char p[4200];
	struct stat sb;
	int fd;

	snprintf(p, sizeof(p), "%s/index/data.mdb", st->path);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	/* every lookup lands here: start reading it while the kernel mounts */
	if (fstat(fd, &sb) == 0 && sb.st_size <= (1LL << 30))
		posix_fadvise(fd, 0, sb.st_size, POSIX_FADV_WILLNEED);
	close(fd);
}

void
store_log_reopen(struct store *st)
{
	int fd = log_open(st);

	if (fd < 0)
		return;		/* keep writing to the old one */
	/* one descriptor number throughout: writers never see it closed */
	if (st->logfd >= 0) {
		dup3(fd, st->logfd, O_CLOEXEC);
		close(fd);
	} else {
		st->logfd = fd;
	}
}

const char *
store_path(struct store *st)
{
	return st->path;
}

const char *
store_incoming_dir(struct store *st)
{
	return st->incoming;
}

void
store_log(struct store *st, const char *fmt, ...)
{
	char line[2048], when[32];
	va_list ap;
	int n;

	if (st->logfd < 0)
		return;
	time_iso(when, time(NULL));
	n = snprintf(line, sizeof(line), "%s ", when);
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	(void)write_all(st->logfd, line, (size_t)n);
}

json_t *
manifest_json(struct store *st, const uint8_t digest[DIGEST_LEN])
{
	char *text;
	size_t len;
	json_t *m;

	if (cas_read_all(st->cas, digest, 64 << 20, &text, &len) < 0)
		return NULL;
	m = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	free(text);
	return m;
}

json_t *
artifact_manifest(struct store *st, MDB_txn *txn, const char *artkey,
    struct art_rec *rec)
{
	struct art_rec r;

	if (index_get(st->ix, txn, TAB_ARTIFACT, artkey, &r, sizeof(r)) < 0)
		return NULL;
	if (rec)
		*rec = r;
	return manifest_json(st, r.manifest);
}

/* -- creating ------------------------------------------------------- */

int
put_node(struct store *st, MDB_txn *txn, uint64_t ino, uint64_t parent,
    const char *name, uint8_t kind, uint8_t flags, uint32_t mode,
    uint64_t size, int64_t mtime, const uint8_t *digest)
{
	struct node n = { 0 };
	int rc;

	n.kind = kind;
	n.flags = flags;
	n.mode = mode;
	n.size = size;
	n.mtime = mtime;
	n.parent = parent;
	n.nlink = kind == NODE_DIR || kind == NODE_INCOMING ? 2 : 1;
	if (digest)
		memcpy(n.digest, digest, DIGEST_LEN);
	rc = index_node_put(st->ix, txn, ino, &n);
	if (rc == 0 && name)
		rc = index_link(st->ix, txn, parent, name, ino);
	return rc;
}

/* The fixed top of the tree. */
static int
insert_root(struct store *st, MDB_txn *txn, int64_t now)
{
	static const struct { uint64_t ino; const char *name; } dirs[] = {
		{ INO_ARTIFACTS, "artifacts" }, { INO_PROJECTS, "projects" },
		{ INO_STAGES, "stages" }, { INO_SCENARIOS, "scenarios" },
		{ INO_RELEASES, "releases" },
	};
	uint8_t d[DIGEST_LEN];
	struct node root;
	int rc;

	rc = cas_put_buf(st->cas, readme_text, sizeof(readme_text) - 1, d);
	if (rc < 0)
		return rc;
	rc = put_node(st, txn, INO_ROOT, INO_ROOT, NULL, NODE_DIR, 0, 0555,
	    0, now, NULL);
	if (rc == 0)
		rc = put_node(st, txn, INO_README, INO_ROOT, "README",
		    NODE_FILE, 0, 0444, sizeof(readme_text) - 1, now, d);
	if (rc == 0)
		rc = put_node(st, txn, INO_INCOMING, INO_ROOT, "incoming",
		    NODE_INCOMING, NODE_MUTABLE, 0755, 0, now, NULL);
	/* others (relctl) add to these: the kernel asks every time */
	for (size_t i = 0; rc == 0 && i < sizeof(dirs) / sizeof(*dirs); i++)
		rc = put_node(st, txn, dirs[i].ino, INO_ROOT, dirs[i].name,
		    NODE_DIR, NODE_MUTABLE | NODE_LIVE, 0555, 0, now, NULL);
	if (rc == 0 && (rc = index_node_get(st->ix, txn, INO_ROOT,
	    &root)) == 0) {
		root.nlink = 2 + 6;
		rc = index_node_put(st->ix, txn, INO_ROOT, &root);
	}
	return rc;
}

/* Queue one ledger commit: message, author and the blobs it writes. */
int
queue_change(struct store *st, MDB_txn *txn, const struct store_user *who,
    int64_t when, const char *message, json_t *files)
{
	return queue_change_tags(st, txn, who, when, message, files, NULL);
}

int
queue_change_tags(struct store *st, MDB_txn *txn,
    const struct store_user *who, int64_t when, const char *message,
    json_t *files, json_t *tags)
{
	json_t *e = json_object();
	char *text;
	int rc;

	if (tags)
		json_object_set(e, "tags", tags);
	json_object_set_new(e, "message", json_string(message));
	json_object_set_new(e, "user", json_string(who->name));
	json_object_set_new(e, "uid", json_integer(who->uid));
	json_object_set_new(e, "time", json_integer(when));
	json_object_set(e, "files", files);
	text = json_dumps(e, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(e);
	if (!text)
		return -ENOMEM;
	rc = index_queue_push(st->ix, txn, text, NULL);
	free(text);
	return rc;
}

void
add_file(json_t *files, const char *path, const uint8_t d[DIGEST_LEN])
{
	char hex[DIGEST_HEX_LEN + 1];
	json_t *f = json_object();

	digest_hex(hex, d);
	json_object_set_new(f, "path", json_string(path));
	json_object_set_new(f, "sha256", json_string(hex));
	json_array_append_new(files, f);
}

int
store_create(const char *path, const struct store_user *who)
{
	struct store *st = NULL;
	char p[4096], when[32], *info = NULL;
	uint8_t d[DIGEST_LEN];
	json_t *files = NULL, *sj = NULL;
	MDB_txn *txn = NULL;
	int64_t now = time(NULL);
	DIR *dir;
	int rc, fd;

	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return store_seterr(-errno, "could not create '%s': %s", path,
		    strerror(errno));
	dir = opendir(path);
	if (!dir)
		return store_seterr(-errno, "could not open '%s': %s", path,
		    strerror(errno));
	for (struct dirent *de; (de = readdir(dir));) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			closedir(dir);
			return store_seterr(-EEXIST, "could not create a store "
			    "in '%s': the directory is not empty", path);
		}
	}
	closedir(dir);
	snprintf(p, sizeof(p), "%s/ledger.git", path);
	rc = ledger_init(p);
	if (rc < 0)
		return rc;
	snprintf(p, sizeof(p), "%s/format", path);
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return store_seterr(-errno, "could not create '%s': %s", p,
		    strerror(errno));
	rc = write_all(fd, FORMAT_LINE, strlen(FORMAT_LINE));
	close(fd);
	if (rc < 0)
		return store_seterr(rc, "could not write '%s'", p);
	st = store_alloc(path);
	if (!st)
		return -ENOMEM;
	/* only its owner reaches the store's files: others use the mount */
	if (chmod(st->path, 0700) < 0) {
		rc = store_seterr(-errno, "could not set the mode of '%s': %s",
		    st->path, strerror(errno));
		goto out;
	}
	rc = open_parts(st, 1);
	if (rc < 0)
		goto out;
	time_iso(when, now);
	sj = json_pack("{s:i,s:s,s:s}", "format", 1, "created", when,
	    "created_by", who->name);
	info = json_dumps(sj, JSON_INDENT(2) | JSON_SORT_KEYS);
	rc = info ? cas_put_buf(st->cas, info, strlen(info), d) : -ENOMEM;
	if (rc < 0)
		goto out;
	files = json_array();
	add_file(files, "store.json", d);
	if ((rc = index_begin(st->ix, 0, &txn)) < 0)
		goto out;
	rc = insert_root(st, txn, now);
	if (rc == 0)
		rc = queue_change(st, txn, who, now, "create the store",
		    files);
	if (rc == 0) {
		rc = index_commit(txn);
		txn = NULL;
	}
	if (rc == 0)
		rc = store_drain(st);
out:
	index_abort(txn);
	json_decref(files);
	json_decref(sj);
	free(info);
	store_close(st);
	return rc;
}

/* -- the ledger queue ----------------------------------------------- */

static int
apply_entry(struct store *st, uint64_t seq, const char *text)
{
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

#define DRAIN_BATCH 256

/*
 * Write queued changes to git, a batch at a time: one commit each, then
 * one sync of the ledger, then the batch leaves the queue.  Under load the
 * batches grow, and git keeps up with the index.
 */
static int
drain_locked(struct store *st)
{
	uint64_t seqs[DRAIN_BATCH], seq, last, from, queued = 0;
	MDB_txn *txn;
	size_t n;
	char *text;
	int rc;

	clear_stale_git_locks(st);
	for (;;) {
		uint64_t done = 0;

		if ((rc = index_begin(st->ix, 1, &txn)) < 0)
			return rc;
		rc = index_queue_count(st->ix, txn, &queued);
		if (rc == 0 && index_get(st->ix, txn, TAB_META, "ledger_done",
		    &done, sizeof(done)) < 0)
			done = 0;
		index_abort(txn);
		/*
		 * Always one packfile for the batch: loose objects cost a
		 * file each, and under load creating and removing those
		 * took as much CPU as all the requests together.
		 */
		if (rc < 0 || (rc = ledger_last_seq(st->lg, &last)) < 0)
			return rc;
		/*
		 * The branch must be where the index saw it last: a branch
		 * moved back or deleted would make the next change a new
		 * root that orphans the history.  Nothing is written then.
		 */
		if (last < done)
			return store_seterr(-EIO, "ledger: refs/heads/main is at "
			    "change %llu%s, but change %llu was written: the "
			    "branch was moved or deleted; ledger writes stop "
			    "(the changes stay queued) until it points at the "
			    "commit with Relfs-Seq: %llu again (git update-ref)",
			    (unsigned long long)last, last ? "" : " (missing)",
			    (unsigned long long)done, (unsigned long long)done);
		if (queued >= 1 && (rc = ledger_batch_begin(st->lg)) < 0)
			return rc;
		for (n = 0, from = 0; n < DRAIN_BATCH; n++, from = seq + 1) {
			if ((rc = index_begin(st->ix, 1, &txn)) < 0)
				break;
			rc = index_queue_from(st->ix, txn, from, &seq, &text);
			index_abort(txn);
			if (rc < 0)
				break;
			/* a crash after the git commit and before the dequeue */
			if (seq > last)
				rc = apply_entry(st, seq, text);
			free(text);
			if (rc < 0)
				break;
			seqs[n] = seq;
		}
		if (rc < 0 && rc != -ENOENT) {
			ledger_batch_abort(st->lg);
			return rc;
		}
		if ((rc = ledger_batch_end(st->lg)) < 0)
			return rc;
		if (n == 0)
			return 0;
		if ((rc = ledger_sync(st->lg)) < 0 ||
		    (rc = index_begin(st->ix, 0, &txn)) < 0)
			return rc;
		for (size_t i = 0; i < n; i++) {
			rc = index_queue_del(st->ix, txn, seqs[i]);
			if (rc < 0 && rc != -ENOENT) {
				index_abort(txn);
				return rc;
			}
		}
		/* the branch now ends at the newest change of the batch */
		if (seqs[n - 1] > last)
			last = seqs[n - 1];
		if ((rc = index_put(st->ix, txn, TAB_META, "ledger_done", &last,
		    sizeof(last), 0)) < 0) {
			index_abort(txn);
			return rc;
		}
		if ((rc = index_commit(txn)) < 0)
			return rc;
		/*
		 * The daemon merges packs when it is idle (ledger_worker);
		 * here only a pile far too big, or for relctl, which is not
		 * in anyone's way.
		 */
		if ((rc = ledger_tidy(st->lg, st->async ?
		    LEDGER_TIDY_MAX_PACKS : LEDGER_TIDY_PACKS, 0)) < 0)
			return rc;
	}
}

static int
drain(struct store *st, int wait)
{
	int rc;

	pthread_mutex_lock(&st->ledger_mu);
	/* other processes (relctl beside the daemon) take the same lock */
	if (flock(st->lockfd, LOCK_EX | (wait ? 0 : LOCK_NB)) < 0) {
		/* busy: whoever holds it drains the queue */
		rc = !wait && errno == EWOULDBLOCK ? 0 :
		    store_seterr(-errno, "could not lock the ledger: %s",
		    strerror(errno));
	} else {
		rc = drain_locked(st);
		flock(st->lockfd, LOCK_UN);
	}
	pthread_mutex_unlock(&st->ledger_mu);
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
	return drain(st, 1);
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
		pthread_mutex_lock(&st->ledger_mu);
		if (flock(st->lockfd, LOCK_EX | LOCK_NB) == 0) {
			rc = ledger_tidy(st->lg, LEDGER_TIDY_PACKS,
			    LEDGER_TIDY_STEP);
			if (rc < 0)
				store_log(st, "ledger: %s", store_errmsg());
			flock(st->lockfd, LOCK_UN);
		}
		pthread_mutex_unlock(&st->ledger_mu);
		if (rc <= 0)
			break;
		pthread_mutex_lock(&st->work_mu);
		pending = st->work_pending || st->work_stop;
		pthread_mutex_unlock(&st->work_mu);
	}
}

static void *
ledger_worker(void *arg)
{
	struct store *st = arg;
	int idle = 0;

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
				pthread_mutex_unlock(&st->work_mu);
				tidy(st);
				pthread_mutex_lock(&st->work_mu);
				idle = 0;
			}
			continue;
		}
		st->work_pending = 0;
		pthread_mutex_unlock(&st->work_mu);
		/*
		 * Let changes gather for a quarter of a second: under load a
		 * batch then holds many commits, written as one packfile with
		 * one sync and one move of the branch (at 50 ms, the daemon
		 * used 1.5 times the CPU per run: scripts/bench-results).
		 */
		if (!st->work_stop)
			usleep(250000);
		if (store_drain(st) < 0)
			store_log(st, "ledger: %s (queued, retried at the next "
			    "change)", store_errmsg());
		idle = 1;
		pthread_mutex_lock(&st->work_mu);
	}
	pthread_mutex_unlock(&st->work_mu);
	return NULL;
}

void
ledger_kick(struct store *st)
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

int
store_ledger_async(struct store *st)
{
	pthread_mutex_init(&st->work_mu, NULL);
	pthread_cond_init(&st->work_cond, NULL);
	if (pthread_create(&st->worker, NULL, ledger_worker, st) != 0)
		return store_seterr(-EAGAIN, "could not start the ledger "
		    "thread");
	st->async = 1;
	return 0;
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

/* -- scanning a directory to publish -------------------------------- */

static int
scan_push(struct scan *sc, const char *path, enum mf_type type,
    uint32_t mode, uint64_t size)
{
	if (sc->n == sc->cap) {
		size_t cap = sc->cap ? sc->cap * 2 : 64;
		struct scan_ent *v = realloc(sc->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		sc->v = v;
		sc->cap = cap;
	}
	memset(&sc->v[sc->n], 0, sizeof(sc->v[0]));
	sc->v[sc->n].path = strdup(path);
	if (!sc->v[sc->n].path)
		return -ENOMEM;
	sc->v[sc->n].type = type;
	sc->v[sc->n].mode = mode & 0777;	/* no setuid, setgid, sticky */
	sc->v[sc->n].size = size;
	sc->n++;
	sc->bytes += size;
	return 0;
}

static void
scan_free(struct scan *sc)
{
	for (size_t i = 0; i < sc->n; i++)
		free(sc->v[i].path);
	free(sc->v);
	memset(sc, 0, sizeof(*sc));
}

/* A link target must stay inside the artifact's files/. */
static int
link_inside(const char *rel, const char *target)
{
	int depth = 0;
	const char *p;

	if (*target == '\0' || *target == '/')
		return 0;
	for (p = rel; (p = strchr(p, '/')); p++)
		depth++;
	for (p = target; *p;) {
		const char *end = strchrnul(p, '/');
		size_t len = (size_t)(end - p);

		if (len == 2 && p[0] == '.' && p[1] == '.') {
			if (--depth < 0)
				return 0;
		} else if (len && !(len == 1 && p[0] == '.')) {
			depth++;
		}
		p = *end ? end + 1 : end;
	}
	return 1;
}

static int
scan_dir(struct scan *sc, int dirfd, const char *rel, int depth)
{
	DIR *d;
	int rc = 0;

	if (depth > 64)
		return store_seterr(-EINVAL, "'%s' is nested too deeply", rel);
	d = fdopendir(dirfd);
	if (!d) {
		close(dirfd);
		return store_seterr(-errno, "could not read '%s': %s", rel,
		    strerror(errno));
	}
	for (struct dirent *de; rc == 0 && (de = readdir(d));) {
		char path[4096];
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (depth == 0 && (strcmp(de->d_name, "pins") == 0 ||
		    strcmp(de->d_name, "artifact.json") == 0))
			continue;
		if ((rc = name_check(de->d_name, "file")) < 0) {
			store_prefixerr(rc, "'%s/%s'", rel, de->d_name);
			break;
		}
		if (snprintf(path, sizeof(path), "%s%s%s", rel,
		    *rel ? "/" : "", de->d_name) >= (int)sizeof(path)) {
			rc = store_seterr(-ENAMETOOLONG, "path too long in "
			    "'%s'", rel);
			break;
		}
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			rc = store_seterr(-errno, "could not stat '%s': %s",
			    path, strerror(errno));
			break;
		}
		if (S_ISREG(st.st_mode) && sc->o && sc->o->busy &&
		    sc->o->busy(sc->o->busy_arg, st.st_dev, st.st_ino)) {
			rc = store_seterr(-EBUSY, "'%s' is open for writing: "
			    "close it, then seal (what it wrote after the seal "
			    "would be lost)", path);
		} else if (S_ISREG(st.st_mode)) {
			rc = scan_push(sc, path, MF_FILE, st.st_mode,
			    (uint64_t)st.st_size);
		} else if (S_ISDIR(st.st_mode)) {
			int sub = openat(dirfd, de->d_name,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (sub < 0) {
				rc = store_seterr(-errno, "could not open '%s': "
				    "%s", path, strerror(errno));
				break;
			}
			/* the mode the staging area recorded (safe.h) */
			if (fstat(sub, &st) == 0)
				safe_attr_apply(sub, &st);
			rc = scan_push(sc, path, MF_DIR, st.st_mode, 0);
			if (rc == 0)
				rc = scan_dir(sc, sub, path, depth + 1);
			else
				close(sub);
		} else if (S_ISLNK(st.st_mode)) {
			char target[4096];
			ssize_t n = readlinkat(dirfd, de->d_name, target,
			    sizeof(target) - 1);

			if (n < 0) {
				rc = store_seterr(-errno, "could not read link "
				    "'%s': %s", path, strerror(errno));
				break;
			}
			target[n] = '\0';
			if (!link_inside(path, target))
				rc = store_seterr(-EINVAL, "symbolic link '%s' "
				    "points outside the artifact ('%s')", path,
				    target);
			else
				rc = scan_push(sc, path, MF_SYMLINK, 0777,
				    (uint64_t)n);
		} else {
			rc = store_seterr(-EINVAL, "'%s' is a device, FIFO or "
			    "socket: only files, directories and symbolic "
			    "links can be published", path);
		}
	}
	closedir(d);
	return rc;
}

static int
ent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct scan_ent *)a)->path,
	    ((const struct scan_ent *)b)->path);
}

/* -- inserting an artifact ------------------------------------------ */

static int
prepare_blobs(struct store *st, json_t *m, const char *text, size_t len,
    struct art_blobs *b)
{
	char *pins = NULL, *props = NULL;
	size_t plen = 0, qlen = 0;
	int rc;

	rc = cas_put_buf(st->cas, text, len, b->manifest);
	b->manifest_len = len;
	if (rc == 0)
		rc = manifest_pins_text(m, &pins, &plen);
	if (rc == 0)
		rc = cas_put_buf(st->cas, pins, plen, b->pins);
	b->pins_len = plen;
	if (rc == 0)
		rc = manifest_properties(m, &props, &qlen);
	if (rc == 0)
		rc = cas_put_buf(st->cas, props, qlen, b->props);
	b->props_len = qlen;
	free(pins);
	free(props);
	return rc;
}

/* Find the index of path among the sorted entries of a manifest. */
static ssize_t
find_entry(json_t *m, size_t n, const char *path)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const char *p = mf_str(json_array_get(json_object_get(m,
		    "files"), mid), "path");
		int c = strcmp(p, path);

		if (c == 0)
			return (ssize_t)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static uint64_t
rec_ino_of(struct store *st, MDB_txn *txn, const char *key)
{
	struct art_rec rec;

	return index_get(st->ix, txn, TAB_ARTIFACT, key, &rec,
	    sizeof(rec)) == 0 ? rec.ino : 0;
}

static int
ensure_project(struct store *st, MDB_txn *txn, const char *project,
    int64_t now, uint64_t *ino, int *created)
{
	struct node art, cn;
	uint64_t pino;
	int rc;

	*created = 0;
	rc = index_get(st->ix, txn, TAB_PROJECT, project, ino, sizeof(*ino));
	if (rc != -ENOENT)
		return rc;
	if ((rc = index_alloc_ino(st->ix, txn, 1, ino)) < 0 ||
	    (rc = put_node(st, txn, *ino, INO_ARTIFACTS, project, NODE_DIR,
	    NODE_MUTABLE | NODE_LIVE, 0555, 0, now, NULL)) < 0 ||
	    (rc = index_put(st->ix, txn, TAB_PROJECT, project, ino,
	    sizeof(*ino), 1)) < 0 ||
	    (rc = index_node_get(st->ix, txn, INO_ARTIFACTS, &art)) < 0)
		return rc;
	art.nlink++;
	art.mtime = now;
	art.change = (art.change + 1) % 1000000000;
	*created = 1;
	if ((rc = index_node_put(st->ix, txn, INO_ARTIFACTS, &art)) < 0)
		return rc;
	/* projects/<p>/criteria/ takes the project's own criteria */
	if ((rc = index_alloc_ino(st->ix, txn, 2, &pino)) < 0 ||
	    (rc = put_node(st, txn, pino, INO_PROJECTS, project, NODE_DIR,
	    NODE_MUTABLE | NODE_LIVE, 0555, 0, now, NULL)) < 0 ||
	    (rc = put_node(st, txn, pino + 1, pino, "criteria", NODE_DIR,
	    NODE_MUTABLE, 0755, 0, now, NULL)) < 0 ||
	    (rc = index_node_get(st->ix, txn, pino + 1, &cn)) < 0)
		return rc;
	cn.role = ROLE_PROJECT_CRITERIA;
	if ((rc = index_node_put(st->ix, txn, pino + 1, &cn)) < 0 ||
	    (rc = index_node_get(st->ix, txn, INO_PROJECTS, &art)) < 0)
		return rc;
	art.nlink++;
	art.mtime = now;
	art.change = (art.change + 1) % 1000000000;
	return index_node_put(st->ix, txn, INO_PROJECTS, &art);
}

static int
insert_artifact(struct store *st, MDB_txn *txn, json_t *m,
    const struct art_blobs *b, int64_t created, int *new_project)
{
	const char *project = mf_str(m, "project");
	const char *version = mf_str(m, "version");
	size_t n = mf_count(m), i;
	uint64_t pino, base, *inos = NULL;
	uint32_t *subdirs = NULL;
	struct art_rec rec;
	struct node pn;
	char key[2 * NAME_MAX_BYTES + 2];
	int rc;

	snprintf(key, sizeof(key), "%s/%s", project, version);
	rc = index_get(st->ix, txn, TAB_ARTIFACT, key, &rec, sizeof(rec));
	if (rc == 0)
		return store_seterr(-EEXIST, "artifact %s %s already exists: "
		    "an artifact never changes; publish a new version",
		    project, version);
	if (rc != -ENOENT)
		return rc;
	rc = ensure_project(st, txn, project, created, &pino, new_project);
	if (rc < 0)
		return rc;
	/* artifact dir, manifest.json, pins, artifact.properties, files/ */
	rc = index_alloc_ino(st->ix, txn, 5 + n, &base);
	if (rc < 0)
		return rc;
	inos = calloc(n + 1, sizeof(*inos));
	subdirs = calloc(n + 1, sizeof(*subdirs));
	if (!inos || !subdirs) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = put_node(st, txn, base, pino, version, NODE_DIR, 0, 0555, 0,
	    created, NULL)) < 0 ||
	    (rc = put_node(st, txn, base + 1, base, "manifest.json", NODE_FILE,
	    0, 0444, b->manifest_len, created, b->manifest)) < 0 ||
	    (rc = put_node(st, txn, base + 2, base, "pins", NODE_FILE, 0, 0444,
	    b->pins_len, created, b->pins)) < 0 ||
	    (rc = put_node(st, txn, base + 3, base, "artifact.properties",
	    NODE_FILE, 0, 0444, b->props_len, created, b->props)) < 0)
		goto out;
	for (i = 0; i < n; i++) {
		const char *path, *slash, *name;
		enum mf_type type;
		uint32_t mode;
		uint64_t size, parent = base + 4;
		uint8_t d[DIGEST_LEN];
		char ppath[4096];

		if ((rc = mf_entry(m, i, &path, &type, &mode, &size, d)) < 0)
			goto out;
		inos[i] = base + 5 + i;
		slash = strrchr(path, '/');
		name = slash ? slash + 1 : path;
		if (slash) {
			ssize_t pi;

			snprintf(ppath, sizeof(ppath), "%.*s",
			    (int)(slash - path), path);
			pi = find_entry(m, n, ppath);
			if (pi < 0 || (size_t)pi >= i) {
				rc = store_seterr(-EINVAL, "manifest of %s %s: "
				    "'%s' has no directory entry before it",
				    project, version, path);
				goto out;
			}
			parent = inos[pi];
			if (type == MF_DIR)
				subdirs[pi]++;
		} else if (type == MF_DIR) {
			subdirs[n]++;
		}
		if (type == MF_DIR)
			rc = put_node(st, txn, inos[i], parent, name, NODE_DIR,
			    0, 0555, 0, created, NULL);
		else
			rc = put_node(st, txn, inos[i], parent, name,
			    type == MF_FILE ? NODE_FILE : NODE_SYMLINK, 0,
			    type == MF_SYMLINK ? 0777 :
			    (mode & 0111) ? 0555 : 0444, size, created, d);
		if (rc == -EEXIST)
			rc = store_seterr(-EINVAL, "manifest of %s %s: '%s' "
			    "appears twice", project, version, path);
		if (rc < 0)
			goto out;
	}
	/* files/ last: its link count is known only now */
	rc = put_node(st, txn, base + 4, base, "files", NODE_DIR, 0, 0555, 0,
	    created, NULL);
	for (i = 0; rc == 0 && i <= n; i++) {
		struct node dn;
		uint64_t dino = i == n ? base + 4 : inos[i];

		if (!subdirs[i])
			continue;
		if ((rc = index_node_get(st->ix, txn, dino, &dn)) == 0) {
			dn.nlink += subdirs[i];
			rc = index_node_put(st->ix, txn, dino, &dn);
		}
	}
	if (rc < 0)
		goto out;
	if ((rc = index_node_get(st->ix, txn, base, &pn)) < 0)
		goto out;
	pn.nlink = 3;		/* ., .., files/ */
	if ((rc = index_node_put(st->ix, txn, base, &pn)) < 0 ||
	    (rc = index_node_get(st->ix, txn, pino, &pn)) < 0)
		goto out;
	pn.nlink++;
	pn.mtime = created;
	pn.change = (pn.change + 1) % 1000000000;
	if ((rc = index_node_put(st->ix, txn, pino, &pn)) < 0)
		goto out;
	rec.ino = base;
	memcpy(rec.manifest, b->manifest, DIGEST_LEN);
	rc = index_put(st->ix, txn, TAB_ARTIFACT, key, &rec, sizeof(rec), 1);
	if (rc == 0)
		rc = index_put_raw(st->ix, txn, TAB_ARTINO, &base, sizeof(base),
		    key, strlen(key), 1);
	if (rc == 0)
		rc = runs_nodes(st, txn, base, created);
	if (rc == 0)
		rc = deps_nodes(st, txn, base, m, created);
	if (rc == 0)
		rc = scenario_note_artifact(st, txn, mf_str(m, "scenario"), key);
	if (rc == 0) {
		/* the artifact's own listing gained five directories */
		if ((rc = index_node_get(st->ix, txn, base, &pn)) == 0) {
			pn.nlink += 5;
			rc = index_node_put(st->ix, txn, base, &pn);
		}
	}
out:
	free(inos);
	free(subdirs);
	return rc;
}

/* -- publishing ----------------------------------------------------- */

struct progress {
	const struct store_publish *opts;
	uint64_t done, total;
};

static void
progress_step(void *arg, uint64_t bytes)
{
	struct progress *p = arg;

	p->done += bytes;
	if (p->opts->progress)
		p->opts->progress(p->opts->arg, p->done, p->total);
}

static int
read_metadata(int dirfd, const struct store_publish *o, json_t **meta,
    json_t **pins)
{
	char path[4096], *text = NULL;
	json_t *tpins = NULL;
	size_t len;
	int rc;

	*meta = NULL;
	*pins = json_array();
	/* a user's files: no link followed, no FIFO waited for */
	rc = safe_read(dirfd, "artifact.json", META_MAX, "artifact.json", &text,
	    &len);
	if (rc == 0) {
		rc = artifact_json_parse(text, len, meta);
		free(text);
		text = NULL;
		if (rc < 0)
			return rc;
		json_array_extend(*pins, json_object_get(*meta, "pins"));
	} else if (rc != -ENOENT) {
		return rc;
	}
	if (o->pins_file) {
		/* relctl's own argument, read with its caller's rights */
		snprintf(path, sizeof(path), "%s", o->pins_file);
		rc = read_small_file(path, META_MAX, &text, &len);
	} else {
		if (o->where)
			snprintf(path, sizeof(path), "%s/pins", o->where);
		else
			snprintf(path, sizeof(path), "pins");
		rc = safe_read(dirfd, "pins", META_MAX, path, &text, &len);
	}
	if (rc == -ENOENT && !o->pins_file)
		return 0;
	if (rc < 0)
		return rc;
	if (strlen(text) != len || !utf8_valid(text, len)) {
		free(text);
		return store_seterr(-EINVAL, "%s: not UTF-8 text", path);
	}
	rc = pins_from_text(text, &tpins);
	free(text);
	if (rc < 0)
		return store_prefixerr(rc, "%s", path);
	json_array_extend(*pins, tpins);
	json_decref(tpins);
	rc = pins_check(*pins);
	if (rc < 0)
		return store_prefixerr(rc, "pins and artifact.json");
	return 0;
}

static const char *
meta_field(const char *given, json_t *meta, const char *key)
{
	if (given)
		return given;
	return meta ? mf_str(meta, key) : "";
}

int
store_publish_dir(struct store *st, const char *dir,
    const struct store_publish *o, const struct store_user *who, char *id)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;
	struct store_publish named = *o;

	if (fd < 0)
		return store_seterr(-errno, "could not open '%s': %s", dir,
		    strerror(errno));
	named.where = dir;
	rc = store_publish_at(st, fd, &named, who, id);
	close(fd);
	return rc;
}

int
store_publish_at(struct store *st, int dirfd, const struct store_publish *o,
    const struct store_user *who, char *id)
{
	struct scan sc = { 0 };
	struct progress prog = { o, 0, 0 };
	struct art_blobs b;
	json_t *meta = NULL, *pins = NULL, *m = NULL, *files = NULL;
	json_t *pj = NULL;
	const char *scenario, *installer;
	char *text = NULL, key[2 * NAME_MAX_BYTES + 2], msg[1024], lpath[1024];
	char *pjtext = NULL;
	uint8_t pjd[DIGEST_LEN];
	struct art_rec rec;
	MDB_txn *txn = NULL;
	int64_t now = time(NULL);
	size_t len;
	int rc, fd, new_project = 0;

	if ((rc = store_may(st, who, STORE_ROLE_CI,
	    "publishing an artifact")) < 0)
		return rc;
	if ((rc = name_check(o->project, "project")) < 0 ||
	    (rc = name_check(o->version, "version")) < 0)
		return rc;
	rc = read_metadata(dirfd, o, &meta, &pins);
	if (rc < 0)
		goto out;
	for (size_t i = 0; i < json_array_size(pins); i++)
		if ((rc = store_pin_allowed(st, mf_str(json_array_get(pins, i),
		    "url"))) < 0) {
			store_prefixerr(rc, "pin '%s'", mf_str(json_array_get(
			    pins, i), "name"));
			goto out;
		}
	scenario = meta_field(o->scenario, meta, "scenario");
	installer = meta_field(o->installer, meta, "installer");
	if ((*scenario && (rc = name_check(scenario, "scenario")) < 0) ||
	    (*installer && (rc = name_check(installer, "installer")) < 0))
		goto out;
	/* refuse early, before hashing anything */
	snprintf(key, sizeof(key), "%s/%s", o->project, o->version);
	if ((rc = index_begin(st->ix, 1, &txn)) < 0)
		goto out;
	rc = index_get(st->ix, txn, TAB_ARTIFACT, key, &rec, sizeof(rec));
	index_abort(txn);
	txn = NULL;
	if (rc == 0) {
		rc = store_seterr(-EEXIST, "artifact %s %s already exists: an "
		    "artifact never changes; publish a new version",
		    o->project, o->version);
		goto out;
	}
	sc.o = o;
	fd = dup(dirfd);	/* scan_dir closes what it reads */
	if (fd < 0) {
		rc = store_seterr(-errno, "could not read the directory to "
		    "publish: %s", strerror(errno));
		goto out;
	}
	rc = scan_dir(&sc, fd, "", 0);
	if (rc < 0)
		goto out;
	qsort(sc.v, sc.n, sizeof(*sc.v), ent_cmp);
	prog.total = sc.bytes;
	for (size_t i = 0; i < sc.n; i++) {
		struct scan_ent *e = &sc.v[i];
		uint64_t size;
		struct stat fst;

		if (e->type == MF_SYMLINK) {
			char target[4096];
			ssize_t n = safe_readlink(dirfd, e->path, e->path,
			    target, sizeof(target));

			if (n < 0) {
				rc = (int)n;
				goto out;
			}
			if (!link_inside(e->path, target)) {
				rc = store_seterr(-EINVAL, "symbolic link '%s' "
				    "points outside the artifact ('%s')",
				    e->path, target);
				goto out;
			}
			if ((rc = cas_put_buf(st->cas, target, (size_t)n,
			    e->digest)) < 0)
				goto out;
			e->size = (uint64_t)n;
			continue;
		}
		if (e->type != MF_FILE)
			continue;
		/* below the held directory, no link on the way, a file */
		if ((rc = safe_open(dirfd, e->path, S_IFREG, e->path, &fd,
		    &fst)) < 0)
			goto out;
		/* the mode the staging area recorded, on this descriptor */
		safe_attr_apply(fd, &fst);
		e->mode = fst.st_mode & 0777;
		posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
		rc = cas_put_fd(st->cas, fd, e->digest, &size, progress_step,
		    &prog);
		close(fd);
		if (rc < 0)
			goto out;
		e->size = size;
	}
	m = manifest_new(o->project, o->version, scenario, installer,
	    meta_field(o->description, meta, "description"), now, who->name);
	for (size_t i = 0; i < sc.n; i++)
		if ((rc = manifest_add(m, sc.v[i].path, sc.v[i].type,
		    sc.v[i].mode, sc.v[i].size, sc.v[i].digest)) < 0)
			goto out;
	manifest_set_pins(m, pins);
	if ((rc = manifest_finish(m, &text, &len)) < 0 ||
	    (rc = prepare_blobs(st, m, text, len, &b)) < 0)
		goto out;
	pj = json_pack("{s:s}", "name", o->project);
	pjtext = json_dumps(pj, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (!pjtext) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = cas_put_buf(st->cas, pjtext, strlen(pjtext), pjd)) < 0 ||
	    (rc = cas_sync(st->cas)) < 0)
		goto out;
	if ((rc = index_begin(st->ix, 0, &txn)) < 0)
		goto out;
	rc = insert_artifact(st, txn, m, &b, now, &new_project);
	if (rc < 0)
		goto out;
	files = json_array();
	snprintf(lpath, sizeof(lpath), "artifacts/%s/%s/manifest.json",
	    o->project, o->version);
	add_file(files, lpath, b.manifest);
	if (new_project) {
		snprintf(lpath, sizeof(lpath), "projects/%s/project.json",
		    o->project);
		add_file(files, lpath, pjd);
	}
	snprintf(msg, sizeof(msg), "publish %s %s\n\nid: %s\nfiles: %zu\n"
	    "bytes: %llu\npins: %zu", o->project, o->version, mf_str(m, "id"),
	    sc.n, (unsigned long long)sc.bytes, json_array_size(pins));
	rc = queue_change(st, txn, who, now, msg, files);
	if (rc == 0) {
		json_t *ev = json_pack("{s:s}", "artifact_id", mf_str(m, "id"));

		rc = event_artifact(st, txn, "artifact.published", who, now, key,
		    ev);
		json_decref(ev);
	}
	if (rc < 0)
		goto out;
	/* a stage may take it at once (criteria without requirements) */
	if ((rc = stage_eval_in(st, txn, rec_ino_of(st, txn, key), key, who,
	    now)) < 0)
		goto out;
	rc = index_commit(txn);
	txn = NULL;
	if (rc < 0)
		goto out;
	if (id)
		snprintf(id, DIGEST_HEX_LEN + 1, "%s", mf_str(m, "id"));
	/* the artifact is in; a failing ledger write is replayed later */
	ledger_kick(st);
	rc = 0;
out:
	index_abort(txn);
	scan_free(&sc);
	free(text);
	free(pjtext);
	json_decref(files);
	json_decref(pj);
	json_decref(m);
	json_decref(meta);
	json_decref(pins);
	return rc;
}

/* -- the tree, for the mount ---------------------------------------- */

int
store_node_get(struct store *st, uint64_t ino, struct node *out)
{
	MDB_txn *txn;
	int rc;

	if ((rc = index_begin(st->ix, 1, &txn)) < 0)
		return rc;
	rc = index_node_get(st->ix, txn, ino, out);
	index_abort(txn);
	return rc;
}

int
store_node_lookup(struct store *st, uint64_t dir, const char *name,
    uint64_t *ino, struct node *out)
{
	MDB_txn *txn;
	int rc;

	if ((rc = index_begin(st->ix, 1, &txn)) < 0)
		return rc;
	rc = index_lookup(st->ix, txn, dir, name, ino);
	if (rc == 0)
		rc = index_node_get(st->ix, txn, *ino, out);
	index_abort(txn);
	return rc;
}

struct list_ctx {
	struct store *st;
	MDB_txn *txn;
	store_list_fn cb;
	void *arg;
	int rc;
};

static int
list_one(void *arg, const char *name, size_t namelen, uint64_t ino,
    uint64_t next_off)
{
	struct list_ctx *c = arg;
	struct node n;

	(void)namelen;
	c->rc = index_node_get(c->st->ix, c->txn, ino, &n);
	if (c->rc < 0)
		return 1;
	return c->cb(c->arg, name, ino, &n, next_off);
}

int
store_dir_list(struct store *st, uint64_t dir, uint64_t off,
    store_list_fn cb, void *arg)
{
	struct list_ctx c = { st, NULL, cb, arg, 0 };
	int rc;

	if ((rc = index_begin(st->ix, 1, &c.txn)) < 0)
		return rc;
	rc = index_list(st->ix, c.txn, dir, off, list_one, &c);
	index_abort(c.txn);
	return rc < 0 ? rc : c.rc;
}

int
store_node_name(struct store *st, uint64_t dir, uint64_t child, char *out)
{
	MDB_txn *txn;
	int rc;

	if ((rc = index_begin(st->ix, 1, &txn)) < 0)
		return rc;
	rc = index_name_of(st->ix, txn, dir, child, out);
	index_abort(txn);
	return rc;
}

int
store_node_open(struct store *st, const struct node *n, int *fd)
{
	if (n->kind != NODE_FILE && n->kind != NODE_DEP)
		return -EINVAL;
	return cas_open_object(st->cas, n->digest, fd);
}

int
store_node_readlink(struct store *st, const struct node *n, char **target)
{
	size_t len;

	if (n->kind != NODE_SYMLINK)
		return -EINVAL;
	return cas_read_all(st->cas, n->digest, 4096, target, &len);
}

/* -- rebuild -------------------------------------------------------- */

struct found {
	char **paths;
	char **texts;
	size_t *lens;
	size_t n, cap;
	struct found *runs;	/* runs/<p>/<v>/<testcase>/<n>.json */
	struct found *state;	/* stages, approvals, waivers, promotions */
};

static int
is_state(const char *path)
{
	static const char *prefixes[] = { "stages/", "approvals/", "waivers/",
	    "promotions/", "scenarios/", "releases/" };

	for (size_t i = 0; i < sizeof(prefixes) / sizeof(*prefixes); i++)
		if (strncmp(path, prefixes[i], strlen(prefixes[i])) == 0)
			return 1;
	if (strcmp(path, "config.json") == 0)
		return 1;
	return strncmp(path, "projects/", 9) == 0 &&
	    strstr(path, "/criteria/") != NULL;
}

static int
collect_blob(void *arg, const char *path, const char *data, size_t len)
{
	struct found *f = arg;
	const char *base = strrchr(path, '/');

	if (f->runs && strncmp(path, "runs/", 5) == 0)
		return collect_blob(f->runs, path, data, len);
	if (f->state && is_state(path))
		return collect_blob(f->state, path, data, len);
	if (!f->runs && (strncmp(path, "runs/", 5) == 0 || is_state(path)))
		goto keep;
	if (!base || (strcmp(base, "/manifest.json") != 0) ||
	    strncmp(path, "artifacts/", 10) != 0)
		return 0;
keep:
	if (f->n == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 64;
		f->paths = realloc(f->paths, f->cap * sizeof(char *));
		f->texts = realloc(f->texts, f->cap * sizeof(char *));
		f->lens = realloc(f->lens, f->cap * sizeof(size_t));
		if (!f->paths || !f->texts || !f->lens)
			return -ENOMEM;
	}
	f->paths[f->n] = strdup(path);
	f->texts[f->n] = malloc(len + 1);
	if (!f->paths[f->n] || !f->texts[f->n])
		return -ENOMEM;
	memcpy(f->texts[f->n], data, len);
	f->texts[f->n][len] = '\0';
	f->lens[f->n] = len;
	f->n++;
	return 0;
}

static void
found_free(struct found *f)
{
	if (f->runs)
		found_free(f->runs);
	if (f->state)
		found_free(f->state);
	for (size_t i = 0; i < f->n; i++) {
		free(f->paths[i]);
		free(f->texts[i]);
	}
	free(f->paths);
	free(f->texts);
	free(f->lens);
}

int64_t
parse_iso(const char *s)
{
	struct tm tm = { 0 };
	const char *end = s ? strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm) : NULL;

	return end && *end == '\0' ? (int64_t)timegm(&tm) : 0;
}

/* Check that a manifest found at path really is that artifact's. */
static int
check_loaded(json_t *m, const char *path)
{
	char want[4096];
	size_t n = mf_count(m);

	snprintf(want, sizeof(want), "artifacts/%s/%s/manifest.json",
	    mf_str(m, "project"), mf_str(m, "version"));
	if (strcmp(want, path) != 0)
		return store_seterr(-EINVAL, "ledger: '%s' describes %s %s",
		    path, mf_str(m, "project"), mf_str(m, "version"));
	if (name_check(mf_str(m, "project"), "project") < 0 ||
	    name_check(mf_str(m, "version"), "version") < 0)
		return store_prefixerr(-EINVAL, "ledger: '%s'", path);
	for (size_t i = 0; i < n; i++) {
		const char *p;
		enum mf_type t;
		uint32_t mode;
		uint64_t size;
		uint8_t d[DIGEST_LEN];
		int rc = mf_entry(m, i, &p, &t, &mode, &size, d);

		if (rc < 0)
			return rc;
		if (i > 0 && strcmp(mf_str(json_array_get(json_object_get(m,
		    "files"), i - 1), "path"), p) >= 0)
			return store_seterr(-EINVAL, "ledger: '%s': files are "
			    "not in path order", path);
	}
	return 0;
}

struct order {
	int64_t created;
	size_t i;
};

static int
order_cmp(const void *a, const void *b)
{
	const struct order *x = a, *y = b;

	if (x->created != y->created)
		return x->created < y->created ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

int
store_rebuild(const char *path, uint64_t *artifacts)
{
	struct store *st = NULL;
	struct found runs = { 0 }, state = { 0 }, f = { 0 };
	struct order *ord = NULL;
	json_t **ms = NULL, *sj = NULL;
	MDB_txn *txn = NULL;
	char ipath[4096], old[4200], *info = NULL;
	size_t ilen;
	uint64_t last;
	int rc, moved = 0;

	*artifacts = 0;
	st = store_alloc(path);
	if (!st)
		return -ENOMEM;
	/* nobody may have the index open while it is replaced */
	if ((rc = take_use_lock(st, 1)) < 0) {
		store_close(st);
		return rc;
	}
	snprintf(ipath, sizeof(ipath), "%s/index", st->path);
	snprintf(old, sizeof(old), "%s/index.old", st->path);
	remove_tree(old);
	if (access(ipath, F_OK) == 0) {
		if (rename(ipath, old) < 0) {
			rc = store_seterr(-errno, "could not move '%s' aside: "
			    "%s", ipath, strerror(errno));
			goto out;
		}
		moved = 1;
	}
	rc = open_parts(st, 1);
	if (rc < 0)
		goto out;
	f.runs = &runs;
	f.state = &state;
	if ((rc = ledger_walk(st->lg, collect_blob, &f)) < 0)
		goto out;
	ms = calloc(f.n + 1, sizeof(*ms));
	ord = calloc(f.n + 1, sizeof(*ord));
	if (!ms || !ord) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < f.n; i++) {
		if ((rc = manifest_load(f.texts[i], f.lens[i], &ms[i])) < 0 ||
		    (rc = check_loaded(ms[i], f.paths[i])) < 0) {
			store_prefixerr(rc, "ledger: '%s'", f.paths[i]);
			goto out;
		}
		ord[i].created = parse_iso(mf_str(ms[i], "created"));
		ord[i].i = i;
	}
	/* publish order, so listings come back in the same order */
	qsort(ord, f.n, sizeof(*ord), order_cmp);
	if ((rc = index_begin(st->ix, 0, &txn)) < 0)
		goto out;
	/* the top of the tree dates from the store's creation */
	if ((rc = ledger_read(st->lg, "store.json", &info, &ilen)) < 0)
		goto out;
	sj = json_loads(info, JSON_REJECT_DUPLICATES, NULL);
	if ((rc = insert_root(st, txn, parse_iso(mf_str(sj, "created")))) < 0)
		goto out;
	for (size_t k = 0; k < f.n; k++) {
		size_t i = ord[k].i;
		struct art_blobs b;
		int newp;

		for (size_t e = 0; e < mf_count(ms[i]); e++) {
			const char *p;
			enum mf_type t;
			uint32_t mode;
			uint64_t size;
			uint8_t d[DIGEST_LEN];

			mf_entry(ms[i], e, &p, &t, &mode, &size, d);
			if (t != MF_DIR && !cas_has(st->cas, d)) {
				char hex[DIGEST_HEX_LEN + 1];

				digest_hex(hex, d);
				rc = store_seterr(-EIO, "%s %s: content of '%s' "
				    "(%s) is missing from the content store",
				    mf_str(ms[i], "project"),
				    mf_str(ms[i], "version"), p, hex);
				goto out;
			}
		}
		if ((rc = prepare_blobs(st, ms[i], f.texts[i], f.lens[i],
		    &b)) < 0 ||
		    (rc = insert_artifact(st, txn, ms[i], &b, ord[k].created,
		    &newp)) < 0)
			goto out;
		(*artifacts)++;
	}
	/* then every run, in the ledger's order (test case, number) */
	for (size_t i = 0; i < runs.n; i++) {
		char key[600];
		const char *p = runs.paths[i] + 5, *tc;
		struct art_rec rec;
		json_t *run;

		/* runs/<p>/<v>/<testcase>/<n>.json */
		tc = strchr(p, '/');
		tc = tc ? strchr(tc + 1, '/') : NULL;
		if (!tc || (size_t)(tc - p) >= sizeof(key)) {
			rc = store_seterr(-EINVAL, "ledger: '%s' is not a run",
			    runs.paths[i]);
			goto out;
		}
		snprintf(key, sizeof(key), "%.*s", (int)(tc - p), p);
		run = json_loadb(runs.texts[i], runs.lens[i], JSON_REJECT_DUPLICATES, NULL);
		if (!run || index_get(st->ix, txn, TAB_ARTIFACT, key, &rec,
		    sizeof(rec)) < 0) {
			json_decref(run);
			rc = store_seterr(-EINVAL, "ledger: run '%s' is damaged "
			    "or names no artifact", runs.paths[i]);
			goto out;
		}
		rc = runs_insert(st, txn, rec.ino, key, run, NULL, NULL);
		json_decref(run);
		if (rc < 0) {
			store_prefixerr(rc, "ledger: '%s'", runs.paths[i]);
			goto out;
		}
	}
	/* then stages, criteria, approvals, waivers and promotions */
	if ((rc = stage_rebuild(st, txn, state.paths, state.texts, state.lens,
	    state.n)) < 0)
		goto out;
	/* and who may do what */
	for (size_t i = 0; i < state.n; i++)
		if (strcmp(state.paths[i], "config.json") == 0 &&
		    (rc = access_rebuild(st, txn, state.texts[i],
		    state.lens[i])) < 0)
			goto out;
	/* the queue goes on after the last commit the ledger has */
	if ((rc = ledger_last_seq(st->lg, &last)) < 0)
		goto out;
	/* the ledger's branch is where the rebuilt index saw it */
	if ((rc = index_put(st->ix, txn, TAB_META, "ledger_done", &last,
	    sizeof(last), 0)) < 0)
		goto out;
	last++;
	if ((rc = index_put(st->ix, txn, TAB_META, "next_seq", &last,
	    sizeof(last), 0)) < 0 || (rc = cas_sync(st->cas)) < 0)
		goto out;
	rc = index_commit(txn);
	txn = NULL;
out:
	index_abort(txn);
	json_decref(sj);
	free(info);
	for (size_t i = 0; ms && i < f.n; i++)
		json_decref(ms[i]);
	free(ms);
	free(ord);
	found_free(&f);
	store_close(st);
	if (rc < 0 && moved) {
		int keep = rc;
		char msg[1024];

		snprintf(msg, sizeof(msg), "%s", store_errmsg());
		remove_tree(ipath);
		rename(old, ipath);
		store_seterr(keep, "%s (the old index is kept)", msg);
	} else if (moved) {
		remove_tree(old);
	}
	return rc;
}

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
		v->ledger_runs++;
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

int
store_verify(struct store *st, store_report_fn report, void *arg,
    unsigned *problems)
{
	struct verify v = { st, report, arg, 0, json_object(), json_object(),
	    NULL, 0, 0 };
	char lpath[4200], *fsck = NULL;
	uint64_t pending = 0;
	int rc;

	rc = store_drain(st);
	if (rc < 0)
		problem(&v, "ledger: could not write queued changes: %s",
		    store_errmsg());
	if ((rc = index_begin(st->ix, 1, &v.txn)) < 0)
		goto out;
	if (index_queue_count(st->ix, v.txn, &pending) == 0 && pending)
		problem(&v, "ledger: %llu changes are not yet in the ledger",
		    (unsigned long long)pending);
	rc = index_iter(st->ix, v.txn, TAB_ARTIFACT, verify_artifact, &v);
	if (rc == 0)
		rc = index_iter(st->ix, v.txn, TAB_RUNS, count_run, &v.index_runs);
	index_abort(v.txn);
	if (rc < 0)
		goto out;
	pthread_mutex_lock(&st->ledger_mu);
	rc = ledger_walk(st->lg, verify_ledger_blob, &v);
	pthread_mutex_unlock(&st->ledger_mu);
	if (rc < 0)
		problem(&v, "ledger: %s", store_errmsg());
	else if (v.index_runs != v.ledger_runs)
		problem(&v, "runs: the index has %llu, the ledger %llu",
		    (unsigned long long)v.index_runs,
		    (unsigned long long)v.ledger_runs);
	snprintf(lpath, sizeof(lpath), "%s/ledger.git", st->path);
	if (ledger_fsck(lpath, &fsck) < 0) {
		char *save = NULL;

		for (char *line = strtok_r(fsck ? fsck : (char *)"", "\n",
		    &save); line; line = strtok_r(NULL, "\n", &save))
			problem(&v, "git fsck: %s", line);
		if (!fsck)
			problem(&v, "git fsck: %s", store_errmsg());
	}
	rc = 0;
out:
	free(fsck);
	json_decref(v.checked);
	json_decref(v.in_index);
	*problems = v.problems;
	return rc;
}

int
store_resolve(struct store *st, const char *path, uint64_t *ino,
    struct node *out)
{
	char buf[4096], *save = NULL, *comp;
	MDB_txn *txn;
	int rc;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	if ((rc = index_begin(st->ix, 1, &txn)) < 0)
		return rc;
	*ino = INO_ROOT;
	for (comp = strtok_r(buf, "/", &save); comp && rc == 0;
	    comp = strtok_r(NULL, "/", &save))
		rc = index_lookup(st->ix, txn, *ino, comp, ino);
	if (rc == 0)
		rc = index_node_get(st->ix, txn, *ino, out);
	index_abort(txn);
	if (rc == -ENOENT)
		store_seterr(rc, "'%s' does not exist", path);
	return rc;
}

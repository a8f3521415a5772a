/*
 * store.c - a store: creating, opening and closing it (its parts, the
 * use and ledger locks), its paths and its log.  See store.h.
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cas.h"
#include "fanout.h"
#include "ledger.h"
#include "manifest.h"
#include "safe.h"
#include "store_impl.h"

#define FORMAT_LINE "relfs-store 1\n"

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

/* -- opening -------------------------------------------------------- */

/*
 * Everyone who opens the store holds STORE/use.lock shared; a rebuild, which
 * replaces the index under them, needs it alone.
 */
int
store_take_use_lock(struct store *st, int alone)
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

int
store_open_parts(struct store *st, int create)
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
	if (!create && (rc = store_take_use_lock(st, 0)) < 0)
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

struct store *
store_alloc(const char *path)
{
	struct store *st = calloc(1, sizeof(*st));

	if (!st)
		return NULL;
	st->path = realpath(path, NULL);
	if (!st->path)
		st->path = strdup(path);
	st->lockfd = st->logfd = st->usefd = st->daemonfd = -1;
	pthread_mutex_init(&st->ledger_mu, NULL);
	pthread_mutex_init(&st->runs_mu, NULL);
	pthread_cond_init(&st->runs_cond, NULL);
	pthread_mutex_init(&st->size_mu, NULL);
	pthread_mutex_init(&st->past_mu, NULL);
	pthread_mutex_init(&st->view_mu, NULL);
	return st;
}

/*
 * Is a daemon writing this store's ledger (it holds STORE/daemon.lock)?
 * Then it replays the queue, and a reader leaves it alone.
 */
int
store_daemon_running(struct store *st)
{
	char p[4096];
	int fd, busy;

	snprintf(p, sizeof(p), "%s/daemon.lock", st->path);
	fd = open(p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return 0;
	busy = flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
	close(fd);
	return busy;
}

int
store_open(struct store **out, const char *path)
{
	struct store *st = store_alloc(path);
	int rc;

	if (!st)
		return -ENOMEM;
	rc = store_open_parts(st, 0);
	/*
	 * Replay what a crash left queued, unless a live writer is at it (a
	 * daemon, or whoever holds the ledger's lock).  A ledger that cannot
	 * be written now keeps its queue: the index is the truth, so the
	 * store opens all the same.
	 */
	if (rc == 0 && !store_daemon_running(st) && outbox_drain(st, 0, 0) < 0)
		store_log(st, "ledger: %s (queued, retried at the next change)",
		    store_errmsg());
	if (rc < 0) {
		store_close(st);
		return rc;
	}
	/* where the change log stands: what this process changes, a daemon
	 * beside it is told of when it closes */
	if (store_changes(st, &st->opened_at, NULL, NULL) < 0)
		st->opened_at = 0;
	*out = st;
	return 0;
}

/*
 * Tell the daemon that has the store mounted that this process changed
 * the tree, and wait (a second at most) until it has told the kernel: so
 * what relctl changed shows in the mount when relctl returns, though the
 * kernel keeps the attributes of the directories it changed.  The socket
 * is named through the store's directory descriptor: a store's path may be
 * longer than a socket address takes.
 */
static void
poke_daemon(struct store *st)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { 1, 0 };
	char c = 'c';
	int dfd, fd;

	dfd = open(st->path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", dfd,
	    STORE_DAEMON_SOCKET);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
	    sizeof(tv)) == 0 && connect(fd, (struct sockaddr *)&sa,
	    sizeof(sa)) == 0 && write(fd, &c, 1) == 1)
		(void)!read(fd, &c, 1);	/* its answer: the kernel was told */
	if (fd >= 0)
		close(fd);
	close(dfd);
}

/* What this process changed since store_open, for a daemon beside it. */
static void
tell_daemon(struct store *st)
{
	uint64_t since = st->opened_at, *inos = NULL;
	size_t n = 0;

	if (!since || st->daemonfd >= 0 || !st->ix ||
	    store_changes(st, &since, &inos, &n) < 0)
		return;
	free(inos);
	if (n && store_daemon_running(st))
		poke_daemon(st);
}

int64_t
store_now(const struct store *st)
{
	return st->clock ? st->clock : (int64_t)time(NULL);
}

void
store_close(struct store *st)
{
	if (!st)
		return;
	/* downloads in flight stop (the fetcher set this when it started) */
	if (st->on_close)
		st->on_close(st);
	if (st->async) {
		/* what is queued is written before the store closes */
		pthread_mutex_lock(&st->work_mu);
		st->work_stop = 1;
		st->work_pending = 1;
		pthread_cond_signal(&st->work_cond);
		pthread_cond_signal(&st->merge_cond);	/* a merge stops */
		pthread_mutex_unlock(&st->work_mu);
		pthread_join(st->worker, NULL);
		if (st->merging)
			pthread_join(st->merger, NULL);
		/* then what it wrote leaves the queue */
		pthread_mutex_lock(&st->work_mu);
		st->dequeue_stop = 1;
		pthread_cond_signal(&st->dequeue_cond);
		pthread_mutex_unlock(&st->work_mu);
		if (st->dequeuing)
			pthread_join(st->dequeuer, NULL);
	}
	/* what relctl or the daemon did survives a power cut once it ends */
	if (st->ix)
		index_sync(st->ix);
	tell_daemon(st);
	index_close(st->ix);
	cas_close(st->cas);
	ledger_close(st->lg);
	ledger_close(st->past);
	if (st->lockfd >= 0)
		close(st->lockfd);
	if (st->logfd >= 0)
		close(st->logfd);
	if (st->usefd >= 0)
		close(st->usefd);
	if (st->daemonfd >= 0)
		close(st->daemonfd);
	pthread_mutex_destroy(&st->ledger_mu);
	pthread_mutex_destroy(&st->runs_mu);
	pthread_cond_destroy(&st->runs_cond);
	pthread_mutex_destroy(&st->size_mu);
	pthread_mutex_destroy(&st->past_mu);
	pthread_mutex_destroy(&st->view_mu);
	free(st->sizes);
	free(st->incoming);
	free(st->path);
	free(st);
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

/* The fixed top of the tree. */
int
store_insert_root(struct store *st, MDB_txn *txn, int64_t now)
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
	rc = tree_put_node(st, txn, INO_ROOT, INO_ROOT, NULL, NODE_DIR, 0, 0555,
	    0, now, NULL);
	if (rc == 0)
		rc = tree_put_node(st, txn, INO_README, INO_ROOT, "README",
		    NODE_FILE, 0, 0444, sizeof(readme_text) - 1, now, d);
	if (rc == 0)
		rc = tree_put_node(st, txn, INO_INCOMING, INO_ROOT, "incoming",
		    NODE_INCOMING, NODE_MUTABLE, 0755, 0, now, NULL);
	/* others (relctl) add to these: the kernel asks every time */
	for (size_t i = 0; rc == 0 && i < sizeof(dirs) / sizeof(*dirs); i++)
		rc = tree_put_node(st, txn, dirs[i].ino, INO_ROOT, dirs[i].name,
		    NODE_DIR, NODE_MUTABLE | NODE_LIVE, 0555, 0, now, NULL);
	if (rc == 0 && (rc = index_node_get(st->ix, txn, INO_ROOT,
	    &root)) == 0) {
		root.nlink = 2 + 6;
		rc = index_node_put(st->ix, txn, INO_ROOT, &root);
	}
	return rc;
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
	rc = store_open_parts(st, 1);
	if (rc < 0)
		goto out;
	time_iso(when, now);
	sj = json_pack("{s:i,s:s,s:s}", "format", FANOUT_FORMAT, "created", when,
	    "created_by", who->name);
	info = json_dumps(sj, JSON_INDENT(2) | JSON_SORT_KEYS);
	rc = info ? cas_put_buf(st->cas, info, strlen(info), d) : -ENOMEM;
	if (rc < 0)
		goto out;
	files = json_array();
	outbox_add_file(files, "store.json", d);
	if ((rc = index_begin(st->ix, 0, &txn)) < 0)
		goto out;
	rc = store_insert_root(st, txn, now);
	if (rc == 0)
		rc = outbox_queue(st, txn, who, now, "create the store",
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

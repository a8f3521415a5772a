/*
 * store.h - the release model: one store directory holding the LMDB index,
 * the git ledger and the content store, and the operations on them.
 *
 * Layout of STORE:
 *   format        "relfs-store 1"
 *   index/        LMDB environment (current state; every lookup of the mount)
 *   ledger.git/   bare git repository (history; rebuilds the index)
 *   objects/      content store, by SHA-256
 *   tmp/          temporary files of the content store
 *   incoming/     the writable staging area shown at incoming/ in the mount
 *   relfs.log     refusals and errors, one line each, for people
 *
 * A change is one LMDB transaction that also queues its ledger commit; the
 * queue is then drained into git (store_drain), and again at the next open
 * if a crash came in between, so the index and the ledger never disagree
 * for longer than a drain.  Safe to use from many threads and processes.
 */
#ifndef RELFS_STORE_H
#define RELFS_STORE_H

#include <jansson.h>
#include <stdint.h>

#include "index.h"
#include "util.h"

struct store;

/* Create an empty store at path (a new or empty directory). */
int store_create(const char *path, const struct store_user *who);

/* Open a store; replays ledger changes a crash left queued. */
int store_open(struct store **out, const char *path);
/*
 * Close it.  When this process changed the tree and a daemon has the
 * store mounted, the daemon is told through STORE/daemon.sock and answers
 * once the kernel was told (STORE_DAEMON_SOCKET; a second at most).
 */
void store_close(struct store *st);
#define STORE_DAEMON_SOCKET "daemon.sock"

const char *store_path(struct store *st);

/*
 * Inodes whose content or listing changed since *since (0: start from
 * now), by anyone; *inos is the caller's to free.
 */
int store_changes(struct store *st, uint64_t *since, uint64_t **inos,
    size_t *n);	/* (the first call: inos and n may be NULL) */
/* Forget changes older than keep seconds. */
int store_changes_prune(struct store *st, int64_t keep);

/* Ask the kernel to read the index ahead (up to 1 GiB), for a cold mount. */
void store_prefetch(struct store *st);

/* STORE/incoming, the directory behind incoming/ in the mount. */
const char *store_incoming_dir(struct store *st);

/* Reopen STORE/relfs.log (after logrotate moved it: SIGHUP). */
void store_log_reopen(struct store *st);

/* Append a line for people to STORE/relfs.log. */
void store_log(struct store *st, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* What to publish.  NULL fields are taken from DIR/artifact.json or empty. */
struct store_publish {
	const char *project;
	const char *version;
	const char *scenario;
	const char *installer;
	const char *description;
	const char *pins_file;	/* default: DIR/pins when present */
	const char *where;	/* the directory's name, for messages */
	void (*progress)(void *arg, uint64_t done, uint64_t total);
	void *arg;
	/* 1 when the file (dev, ino) is open for writing (then -EBUSY) */
	int (*busy)(void *arg, dev_t dev, ino_t ino);
	void *busy_arg;
};

/*
 * Seal the directory dir as artifact project/version: every file is hashed
 * into the content store, the manifest written, the index updated and the
 * ledger commit made.  Top-level `pins` and `artifact.json` are metadata;
 * everything else becomes files/.  All or nothing: -EEXIST when the version
 * exists, -EINVAL/-ENAMETOOLONG for bad names or metadata, and nothing is
 * recorded on any failure.  id (65 bytes, may be NULL) gets the artifact id.
 */
int store_publish_dir(struct store *st, const char *dir,
    const struct store_publish *opts, const struct store_user *who,
    char *id);

/*
 * The same for the directory open at dirfd.  Nothing below it is reached by
 * a path that could pass through a link: every file is opened relative to
 * dirfd with no link on the way and checked to be a regular file on the
 * descriptor it is read from; the modes are the logical ones the staging
 * area recorded (safe.h).
 */
int store_publish_at(struct store *st, int dirfd,
    const struct store_publish *opts, const struct store_user *who,
    char *id);

/*
 * mv incoming/<project>/<name> artifacts/<project>/[<version>]: seal the
 * staged directory name below projfd (STORE/incoming/<project>, any
 * descriptor of it) as project/version.  The directory is first moved out
 * of every user's reach (STORE/tmp/seal.*), then published from there
 * (store_publish_at) and removed descriptor by descriptor; a refusal moves
 * it back.  -EBUSY when opts->busy says a file of it is open for writing.
 */
int store_seal(struct store *st, int projfd, const char *name,
    const struct store_publish *opts, const struct store_user *who);

/*
 * A rename of incoming/<projpath>/<name> onto (newparent, newname) through
 * the mount:
 *   onto (artifacts, <project>)       -> seals it as version <name>
 *   onto (artifacts/<project>, <v>)   -> seals it as version <v>
 * Anything else is refused: EINVAL (not a version directory, another
 * project's name, not into its own project, flags with RENAME_EXCHANGE:
 * an artifact is never exchanged), EROFS (not into artifacts/),
 * ENOTDIR (not a directory), each with a message.  projfd is any
 * descriptor of STORE/incoming/<projpath>; busy and busy_arg as in
 * struct store_publish.  *moved_to: the index node the kernel's dentry now
 * names (the version, or the project when it was made by this seal);
 * *what: "rename" when the rename was refused, "publish" when the seal was.
 */
int store_seal_rename(struct store *st, int projfd, const char *projpath,
    const char *name, uint64_t newparent, const char *newname,
    unsigned int flags, int (*busy)(void *, dev_t, ino_t), void *busy_arg,
    const struct store_user *who, uint64_t *moved_to, const char **what);

/*
 * What a daemon killed during a seal left in STORE/tmp: a staged directory
 * whose artifact is in the index is removed, any other goes back to
 * incoming/ (or stays, logged, when its name was taken meanwhile).
 */
void store_seal_recover(struct store *st);

/*
 * The refusals of the tree itself, for the mount: what changes an artifact
 * (or any node of the index that only the store writes) is -EROFS, and a
 * device, FIFO or socket anywhere is -EPERM; each with its message.
 */
int store_refuse_immutable(const char *what);
int store_refuse_special(void);
/* A hard link from outside incoming/ or out of it: -EPERM. */
int store_refuse_link(void);

/* Nodes of the tree, for the mount. */
int store_node_get(struct store *st, uint64_t ino, struct node *out);
int store_node_lookup(struct store *st, uint64_t dir, const char *name,
    uint64_t *ino, struct node *out);

typedef int (*store_list_fn)(void *arg, const char *name, uint64_t ino,
    const struct node *n, uint64_t next_off);
int store_dir_list(struct store *st, uint64_t dir, uint64_t off,
    store_list_fn cb, void *arg);

/* Resolve a path of the tree ("artifacts/p/v/manifest.json"). */
int store_resolve(struct store *st, const char *path, uint64_t *ino,
    struct node *out);

/* The name of child in dir (out: 256 bytes). */
int store_node_name(struct store *st, uint64_t dir, uint64_t child,
    char *out);

/* Open the content of a file node (read-only descriptor). */
int store_node_open(struct store *st, const struct node *n, int *fd);

/* The target of a symlink node (the caller frees it). */
int store_node_readlink(struct store *st, const struct node *n,
    char **target);

/*
 * Write the ledger from a thread of the store's own from now on (the
 * daemon), so that no change waits for git.
 */
int store_ledger_async(struct store *st);

/* -- results -------------------------------------------------------- */

/*
 * The rules of an artifact's results/ (one writer, one run), for the
 * mount.  A name there is a result (written, it records a run) unless it
 * is a dot-file (scratch: rsync's temporary, renamed onto a result name
 * later).  store_result_refuse sets the errno and message of what results/
 * never allows:
 */
enum store_result_op {
	STORE_RESULT_CHANGE,	/* truncate a recorded result: EROFS */
	STORE_RESULT_REMOVE,	/* unlink one: EROFS */
	STORE_RESULT_MOVE,	/* rename one away, or exchange it: EROFS */
	STORE_RESULT_LINK,	/* hard-link a recorded result: EINVAL */
	STORE_RESULT_MKDIR,	/* make a directory in results/: EINVAL */
	STORE_RESULT_SYMLINK,	/* a symbolic link in results/: EINVAL */
	STORE_RESULT_HARDLINK,	/* a hard link into results/: EINVAL */
};
int store_result_named(const char *name);
int store_result_refuse(enum store_result_op op);

/*
 * close() of a result: record the bytes of fd (its whole content, at most
 * RESULT_MAX) as a run of art named name, by who.  Refused content is
 * -EINVAL (too large included) with "artifacts/<p>/<v>/results/<name>: "
 * before the reason, or the store's errno.  *bytes (when not NULL, the
 * caller frees it) gets what was recorded.
 */
int store_result_close(struct store *st, uint64_t art, const char *name,
    int fd, const struct store_user *who, char **bytes, size_t *len);

/*
 * A staged file dirfd/from renamed onto a result name: the same, read
 * through a descriptor (a link or a FIFO is refused), never blocking.
 */
int store_result_take(struct store *st, uint64_t art, const char *name,
    int dirfd, const char *from, const struct store_user *who,
    char **bytes, size_t *len);

/*
 * Record the runs of the artifact with inode art from the file name and
 * bytes written to its results/ (one, or one per entry of a file of many:
 * results.h).  0 and *no (the first run's number within its test case),
 * or -EINVAL/-EFBIG with a message; nothing is recorded then.
 */
int store_result_add(struct store *st, uint64_t art, const char *filename,
    const char *buf, size_t len, const struct store_user *who,
    uint64_t *no);

/* The text of a run node (runs/<testcase>/NNNNNN.json); caller frees. */
int store_run_text(struct store *st, const struct node *n, char **buf,
    size_t *len);

/* "p/v" of the artifact with inode art (out: 512 bytes); -ENOENT. */
int store_artifact_key(struct store *st, uint64_t art, char *out);

/* The directory behind an artifact's results/ (made when missing). */
int store_results_dir(struct store *st, uint64_t art, char *out,
    size_t outlen);

/*
 * Import OPNFV records, one JSON object per line, each naming its artifact
 * in "artifact": "<project>/<version>" (or, when it names none, artifact,
 * "<project>/<version>", when that is not NULL).  refused(arg, line, why)
 * is called for each line not imported; *imported counts the runs
 * recorded.  A ledger commit a batch of 10,000 runs.
 */
int store_import(struct store *st, const char *path, const char *artifact,
    const struct store_user *who,
    void (*refused)(void *arg, size_t line, const char *why),
    void (*progress)(void *arg, uint64_t done, uint64_t total), void *arg,
    uint64_t *imported);

/* -- stages, criteria and promotion (stage.c) ------------------------ */

/* mkdir stages/<stage>. */
int store_stage_create(struct store *st, const char *stage,
    const struct store_user *who);

/* New criteria for a stage: a new cycle; the old ones go to history. */
int store_criteria_set(struct store *st, const char *stage, const char *text,
    size_t len, const struct store_user *who);

/* projects/<p>/criteria/<stage>.json: rules added to the stage's. */
int store_project_criteria_set(struct store *st, const char *project,
    const char *stage, const char *text, size_t len,
    const struct store_user *who);

/* approvals/<stage>: who approves (reason: the text written). */
int store_approve(struct store *st, uint64_t art, const char *stage,
    const char *reason, size_t len, const struct store_user *who);

/*
 * What if: the decision for art in stage as if the n result files (names,
 * texts, lens: as results/ takes them) had been recorded at now (0: now),
 * criteria (clen bytes; NULL: as they are) were the stage's, and, with
 * without_waivers, no waiver counted.  The evaluator of the real path, in
 * a reader's transaction: nothing is recorded anywhere.  *decision:
 * {"promote", "unmet", "evidence"}.
 */
struct store_whatif {
	const char **names, **texts;
	const size_t *lens;
	size_t n;
	const char *criteria;
	size_t clen;
	int without_waivers;
	int64_t now;
};
int store_what_if(struct store *st, uint64_t art, const char *stage,
    const struct store_whatif *w, json_t **decision);

/*
 * rm approvals/<stage>: withdraw who's own approval of art for stage, or
 * user's (a manager's step); -ENOENT when there is none.  Evaluation runs
 * again; a promotion already made stays until it is revoked.
 */
int store_approval_withdraw(struct store *st, uint64_t art,
    const char *stage, const char *user, const struct store_user *who);

/*
 * rmdir stages/<stage>: remove a stage nothing depends on (manager).
 * -ENOTEMPTY when an artifact was ever promoted there, -EBUSY when a stage
 * comes after it, -ENOENT when there is none; each with its reason.  Its
 * files leave the ledger's tree (their history stays in git's).
 */
int store_stage_remove(struct store *st, const char *stage,
    const struct store_user *who);

/* waivers/<testcase>: a reason, or {"reason", "expires", "scenario"}. */
int store_waive(struct store *st, uint64_t art, const char *testcase,
    const char *body, size_t len, const struct store_user *who);
int store_waiver_withdraw(struct store *st, uint64_t art,
    const char *testcase, const struct store_user *who);

/* stages/<s>/hold: no promotion into the stage while it exists. */
int store_hold(struct store *st, const char *stage, const char *reason,
    size_t len, const struct store_user *who);
int store_release(struct store *st, const char *stage,
    const struct store_user *who);

/* Promote by hand into a stage whose criteria say "automatic": false
 * (the criteria must still be met); -EPERM when they are not. */
int store_promote(struct store *st, const char *stage, const char *project,
    const char *version, const struct store_user *who);

/* rm stages/<s>/<p>/<v>; relctl restore undoes it. */
int store_revoke(struct store *st, const char *stage, const char *project,
    const char *version, const struct store_user *who);
int store_restore(struct store *st, const char *stage, const char *project,
    const char *version, const struct store_user *who);

/*
 * Re-evaluate what a passing time may have changed (soak periods ending,
 * waivers expiring); *next gets the next such time (0: none known).
 */
int store_wake(struct store *st, int64_t *next);

/*
 * {"artifact", "stages": {"<s>": {"promoted": true, at, cycle, criteria,
 * evidence} | {"promoted": false, "unmet": [...]}}}; the text for people
 * or the JSON of status.json.
 */
/*
 * 0 when stage applies to project's artifacts; -ENOENT, saying which,
 * when there is no such stage or its "projects" leave project out.
 */
int store_stage_applies(struct store *st, const char *stage,
    const char *project);

int store_status(struct store *st, uint64_t art, json_t **out);
int store_status_text(struct store *st, uint64_t art, int as_json,
    char **buf, size_t *len);
/* The text (or JSON) of a status store_status gave. */
int store_status_render(json_t *s, int as_json, char **buf, size_t *len);

/* -- pinned dependencies (fetch.c) ----------------------------------- */

enum { STORE_FETCH_PRESENT, STORE_FETCH_FETCHED, STORE_FETCH_RESUMED,
	STORE_FETCH_FAILED };
typedef void (*store_fetch_progress)(void *arg, uint64_t done,
    uint64_t total);

/*
 * Make the dependency with this digest local: already present, or fetched
 * from url (resumed when a part is there) and verified.  *state says which.
 * -EIO with a message on a mismatch, an HTTP error or a dropped transfer.
 * Concurrent callers for one digest share one download.
 */
int store_dep_fetch(struct store *st, const char *name, const char *url,
    const uint8_t digest[DIGEST_LEN], store_fetch_progress fn, void *arg,
    int *state);

/*
 * Read a dependency while it downloads: 1 when it is in the content store
 * (read the node as usual); 0 and *out when a download (this one or one in
 * flight for the same digest) is under way and its first bytes are there;
 * -EIO with a message when it failed before any byte arrived.  size is the
 * pinned size (0: unknown) until the server says.
 */
struct store_stream;
int store_dep_stream(struct store *st, const char *name, const char *url,
    const uint8_t digest[DIGEST_LEN], uint64_t size,
    struct store_stream **out);

/* The part file to read the bytes from (pread; they stay valid). */
int store_stream_fd(const struct store_stream *s);

/* The size the server announced (or the pin's); 0 while unknown. */
uint64_t store_stream_size(const struct store_stream *s);

/*
 * Wait until len bytes at off may be read: *n of them (0 at the end of
 * the file).  The last bytes wait for the SHA-256 to match; a failed
 * download is -EIO with its reason.
 */
int store_stream_wait(struct store_stream *s, uint64_t off, size_t len,
    size_t *n);

/* 1 (and *size) once the whole of it arrived and matched the pin. */
int store_stream_verified(struct store_stream *s, uint64_t *size);

/* Done reading (closes the part file; the download goes on). */
void store_stream_close(struct store_stream *s);

/* The url of the pin behind a deps/<name> node (out: 4096 bytes). */
int store_dep_url(struct store *st, uint64_t ino, const struct node *n,
    char *name, char *url);

/*
 * open() of deps/<name> (node n at ino): 1 and *local (a descriptor of the
 * fetched file) when its bytes are local; 0 and *stream when a download
 * (begun now, or in flight) is followed; <0 refused.  offline: nothing is
 * fetched (not fetched yet is -EIO, saying how to get it).  A stream whose
 * descriptor would be max_fd or more is not followed: the whole file is
 * fetched first, then opened.
 */
int store_dep_open(struct store *st, uint64_t ino, const struct node *n,
    int offline, int max_fd, struct store_stream **stream, int *local);

/* Record a fetched dependency's real size on its node. */
int store_dep_size(struct store *st, uint64_t ino, uint64_t size);

/* Fetch every pin of one artifact, one project, or the store;
 * report(arg, "p/v", pin, state, error) for each. */
int store_fetch_all(struct store *st, const char *project,
    const char *version, void (*report)(void *arg, const char *artkey,
    const char *pin, int state, const char *err), store_fetch_progress fn,
    void *arg);

/* -- scenarios and umbrella releases (release.c) ---------------------- */

int store_scenario_create(struct store *st, const char *name,
    const struct store_user *who);
/* scenario.json: installer(s), projects (required), description. */
int store_scenario_set(struct store *st, const char *name, const char *text,
    size_t len, const struct store_user *who);
/* scenarios/<s>/criteria/<stage>.json: rules for the scenario's artifacts. */
int store_scenario_criteria_set(struct store *st, const char *scenario,
    const char *stage, const char *text, size_t len,
    const struct store_user *who);
/* {"scenario", "projects", "stages": {s: {p: {promoted, version}}},
 *  "scores": {testcase: -1..3}} */
int store_scenario_status(struct store *st, const char *scenario,
    json_t **out);

int store_release_create(struct store *st, const char *name,
    const struct store_user *who);
/* release.json: {"target": ISO-8601, "stage": S, "require": [RULE...]}. */
int store_release_set(struct store *st, const char *release,
    const char *text, size_t len, const struct store_user *who);
int store_participant_add(struct store *st, const char *release,
    const char *scenario, const char *text, size_t len,
    const struct store_user *who);
int store_participant_withdraw(struct store *st, const char *release,
    const char *scenario, const struct store_user *who);
/* {"release", "target", "frozen", "participants": {s: {ready, artifacts,
 *  unmet}}, "notes"} */
int store_release_status(struct store *st, const char *release,
    json_t **out);
/* Freeze: -EEXIST when already frozen. */
int store_release_freeze(struct store *st, const char *release,
    const struct store_user *who);

/* The text of a node made when it is opened (status files, runs). */
int store_node_is_dynamic(const struct node *n);
int store_dynamic_text(struct store *st, uint64_t ino, const struct node *n,
    char **buf, size_t *len);

/*
 * The size store_dynamic_text would give now.  Kept from the last render
 * while the index has not changed (no write transaction since) within the
 * same second (the evaluation's clock), so it is always the exact size.
 */
int store_dynamic_size(struct store *st, uint64_t ino, const struct node *n,
    uint64_t *size);

/*
 * Writes through the mount into the index: may who write dir/name (0,
 * -EROFS, or -EACCES without the role; who NULL checks no role)?  Write it
 * (the bytes of the closed file), remove it, mkdir.
 */
int store_ctl_writable(struct store *st, uint64_t dir, const char *name,
    const struct store_user *who);

/*
 * May who open the existing node ino (n: its record) for writing through
 * the mount (what names the operation)?  A file the index takes writes into
 * answers as store_ctl_writable, with its name in name (NAME_MAX_BYTES + 1);
 * -EACCES without the role; anything else is immutable, -EROFS
 * (store_refuse_immutable).
 */
int store_node_writable(struct store *st, uint64_t ino, const struct node *n,
    const char *what, const struct store_user *who, char *name);

/*
 * A truncation of ino to size through the mount.  `>` truncates before it
 * writes: for a file the index takes writes into, the new content replaces
 * the old at close, so truncating it to 0 is moot and 0 is returned; -EACCES
 * without the role; anything else -EROFS.
 */
int store_node_truncate(struct store *st, uint64_t ino, const struct node *n,
    uint64_t size, const struct store_user *who);
int store_ctl_write(struct store *st, uint64_t dir, const char *name,
    const char *buf, size_t len, const struct store_user *who);

/*
 * close() of a file written into the index: the bytes of fd (its whole
 * content, at most 1 MiB: larger is -EINVAL) go to store_ctl_write; a
 * refusal's message starts with the file's name.
 */
int store_ctl_close(struct store *st, uint64_t dir, const char *name, int fd,
    const struct store_user *who);
int store_ctl_remove(struct store *st, uint64_t dir, const char *name,
    const struct store_user *who);
/* rmdir through the mount: stages/<stage> (store_stage_remove), else EROFS. */
int store_ctl_rmdir(struct store *st, uint64_t dir, const char *name,
    const struct store_user *who);
int store_ctl_mkdir(struct store *st, uint64_t dir, const char *name,
    const struct store_user *who);

/*
 * The outbox: every event numbered from `from` on, oldest first, as JSON
 * ({id, seq, type, time, user, uid, project?, version?, stage?, ...});
 * cb returns non-zero to stop.
 */
int store_events(struct store *st, uint64_t from,
    int (*cb)(void *arg, uint64_t seq, const char *json, size_t len),
    void *arg);

/* A delivery target's state (TAB_DELIVERY), as JSON text; -ENOENT. */
int store_delivery_get(struct store *st, const char *target, json_t **out);
int store_delivery_put(struct store *st, const char *target, json_t *state);

/* Write queued ledger commits to git. */
int store_drain(struct store *st);

/* Make every change so far survive a power cut (fsync() and sync ask). */
int store_sync(struct store *st);

/* Pending ledger commits, and commits in the ledger. */
int store_ledger_state(struct store *st, uint64_t *pending,
    uint64_t *commits);

/*
 * How far behind the ledger is: the changes queued, when the oldest of
 * them was made (0 when none is), the newest change it holds, and its
 * layout (fanout.h).
 */
struct store_ledger_lag {
	uint64_t queued;
	int64_t oldest, oldest_ms;	/* its time, and when it was queued */
	uint64_t written;
	int format;
};
int store_ledger_lag(struct store *st, struct store_ledger_lag *out);

/* Where the ledger keeps a logical path (its layout, fanout.h). */
int store_ledger_path(struct store *st, const char *logical, char *out,
    size_t len);

/*
 * at/<when>/: the store as it was (view.c).  store_view_find: the ledger
 * commit when names (ledger_find in ledger.h says which names it takes),
 * once what is queued is written; id gets it, *at the time the view
 * stands for.  -ENOENT, with a message, for anything else.
 */
int store_view_find(struct store *st, const char *when, char id[41],
    int64_t *at);

/*
 * The names one level below prefix of at/'s tags, with a whole tag's
 * commit and time (id NULL for a level): ledger_tag_names, once what is
 * queued is written.
 */
int store_view_names(struct store *st, const char *prefix,
    int (*cb)(void *arg, const char *name, const char *id, int64_t at),
    void *arg);

/*
 * The view of commit id as of at: a read-only store whose every answer
 * (tree, statuses, criteria, runs) is the one given at that time.  Built
 * from the ledger the first time (kept in STORE/views/, VIEWS_KEPT of
 * them), opened at once after.  store_close closes it.
 */
int store_view_open(struct store *st, const char *id, int64_t at,
    struct store **out);

/*
 * How many changes so far queued a tag (a promotion, a freeze): when it
 * moves, at/'s listings are to change.  0 in a store that never tagged.
 */
int store_tags_queued(struct store *st, uint64_t *n);

/* Is st a view of the past (store_view_open)? */
int store_is_view(const struct store *st);

/* Rebuild the index of the (unmounted) store at path from its ledger. */
int store_rebuild(const char *path, uint64_t *artifacts);

/*
 * Check the store: every content digest, that index and ledger agree, and
 * git fsck.  report is called once per problem; *problems counts them.
 */
typedef void (*store_report_fn)(void *arg, const char *problem);

/*
 * The same for what changed in the ledger since commit since (an id, a
 * tag, HEAD~N; -ENOENT or -EINVAL when it is none of HEAD's history):
 * every commit and file since hashes as it says, every artifact published
 * since is checked whole, every run recorded since is in the index.
 * *commits counts the commits checked.
 */
int store_verify_since(struct store *st, const char *since,
    store_report_fn report, void *arg, unsigned *problems,
    uint64_t *commits);
int store_verify(struct store *st, store_report_fn report, void *arg,
    unsigned *problems);

/* -- who may do what (access.c) ------------------------------------- */

enum store_role { STORE_ROLE_CI, STORE_ROLE_APPROVER, STORE_ROLE_MANAGER };
#define STORE_NROLES 3

const char *store_role_name(enum store_role r);

/* "ci", "approver", "manager" -> the role; -EINVAL otherwise. */
int store_role_parse(const char *name);

/*
 * 0 when who holds role r (root holds every role; a role mapped to no group
 * is held by the store's owner); -EACCES otherwise, with a message that
 * says what (what) needed which role and who holds it.  who NULL: the
 * store itself acting, always allowed.
 */
int store_may(struct store *st, const struct store_user *who,
    enum store_role r, const char *what);

/* The configuration: {"roles": {"ci": [{"group", "gid"}...], ...}}. */
int store_config_get(struct store *st, json_t **out);

/* Where pins may point (access.c). */
enum store_source { STORE_FILE_PINS, STORE_PIN_SOURCES };

/*
 * Allow file:// pins below these directories, or http(s):// pins that
 * start with these prefixes (n == 0: none).  The manager role; recorded
 * in the ledger (config.json).  -EINVAL for a directory that is not
 * absolute or a prefix that does not end its host with '/'.
 */
int store_config_sources(struct store *st, enum store_source kind,
    const char *const *list, size_t n, const struct store_user *who);

/*
 * 0 when url is below a source a manager allowed; -EINVAL with a message
 * naming the command that allows it otherwise.
 */
int store_pin_allowed(struct store *st, const char *url);

/*
 * A file:// pin's file, opened for reading below the allowed directory it
 * is under (links followed only while they stay there, a regular file, no
 * blocking): the descriptor the fetch reads, so the file checked is the
 * file read.
 */
int store_pin_open(struct store *st, const char *url, int *fd);

/* Map role r to groups (n = 0: back to the owner); only the owner or root;
 * one ledger commit.  -EINVAL for a group that does not exist. */
int store_config_set(struct store *st, enum store_role r,
    const char *const *groups, size_t n, const struct store_user *who);

/* What ls -l shows of a node: owner, group, and the write bits (0200 the
 * owner may write, 0020 the group too); wbits 0 where nobody writes. */
struct store_access {
	uid_t uid;
	gid_t gid;
	mode_t wbits;
};
void store_node_access(struct store *st, uint64_t ino, const struct node *n,
    struct store_access *a);

/* The same for a place where writes need role r. */
void store_role_access(struct store *st, enum store_role r,
    struct store_access *a);

/*
 * The staging area (incoming/, and results/ through the mount) is the ci
 * role's: store_staging_may is store_may for a change there (what: the
 * operation), store_staging_access who its owner and group show as.
 */
int store_staging_may(struct store *st, const struct store_user *who,
    const char *what);
void store_staging_access(struct store *st, struct store_access *a);

#endif

/*
 * publish.c - publishing an artifact: scanning a directory (through
 * descriptors), storing its files, and inserting it into the index.
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
#include "ledger.h"
#include "manifest.h"
#include "safe.h"
#include "store_impl.h"

#define META_MAX (1 << 20)	/* bytes of pins or artifact.json */


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

static int	scan_dir(struct scan *sc, int dirfd, const char *rel,
		    int depth);
static void	scan_free(struct scan *sc);

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
				rc = store_seterr(-errno,
				    "could not open '%s': "
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

int
publish_prepare_blobs(struct store *st, json_t *m, const char *text, size_t len,
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
	    (rc = tree_put_node(st, txn, *ino, INO_ARTIFACTS, project, NODE_DIR,
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
	    (rc = tree_put_node(st, txn, pino, INO_PROJECTS, project, NODE_DIR,
	    NODE_MUTABLE | NODE_LIVE, 0555, 0, now, NULL)) < 0 ||
	    (rc = tree_put_node(st, txn, pino + 1, pino, "criteria", NODE_DIR,
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

int
publish_insert_artifact(struct store *st, MDB_txn *txn, json_t *m,
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
	if ((rc = tree_put_node(st, txn, base, pino, version, NODE_DIR, 0,
	    0555, 0,
	    created, NULL)) < 0 ||
	    (rc = tree_put_node(st, txn, base + 1, base, "manifest.json",
	    NODE_FILE,
	    0, 0444, b->manifest_len, created, b->manifest)) < 0 ||
	    (rc = tree_put_node(st, txn, base + 2, base, "pins", NODE_FILE, 0,
	    0444,
	    b->pins_len, created, b->pins)) < 0 ||
	    (rc = tree_put_node(st, txn, base + 3, base, "artifact.properties",
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
			rc = tree_put_node(st, txn, inos[i], parent, name,
			    NODE_DIR,
			    0, 0555, 0, created, NULL);
		else
			rc = tree_put_node(st, txn, inos[i], parent, name,
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
	rc = tree_put_node(st, txn, base + 4, base, "files", NODE_DIR, 0, 0555,
	    0,
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
		rc = fetch_deps_nodes(st, txn, base, m, created);
	if (rc == 0)
		rc = members_note(st, txn, mf_str(m, "scenario"),
		    key);
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
	    (rc = publish_prepare_blobs(st, m, text, len, &b)) < 0)
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
	rc = publish_insert_artifact(st, txn, m, &b, now, &new_project);
	if (rc < 0)
		goto out;
	files = json_array();
	snprintf(lpath, sizeof(lpath), "artifacts/%s/%s/manifest.json",
	    o->project, o->version);
	outbox_add_file(files, lpath, b.manifest);
	if (new_project) {
		snprintf(lpath, sizeof(lpath), "projects/%s/project.json",
		    o->project);
		outbox_add_file(files, lpath, pjd);
	}
	snprintf(msg, sizeof(msg), "publish %s %s\n\nid: %s\nfiles: %zu\n"
	    "bytes: %llu\npins: %zu", o->project, o->version, mf_str(m, "id"),
	    sc.n, (unsigned long long)sc.bytes, json_array_size(pins));
	rc = outbox_queue(st, txn, who, now, msg, files);
	if (rc == 0) {
		json_t *ev = json_pack("{s:s}", "artifact_id", mf_str(m, "id"));

		rc = event_artifact(st, txn, "artifact.published", who, now,
		    key,
		    ev);
		json_decref(ev);
	}
	if (rc < 0)
		goto out;
	/* a stage may take it at once (criteria without requirements) */
	if ((rc = promote_eval_in(st, txn, rec_ino_of(st, txn, key), key, who,
	    now)) < 0)
		goto out;
	rc = index_commit(txn);
	txn = NULL;
	if (rc < 0)
		goto out;
	if (id)
		snprintf(id, DIGEST_HEX_LEN + 1, "%s", mf_str(m, "id"));
	/* every publish is logged, through the mount or by relctl */
	store_log(st, "published %s %s by %s", o->project, o->version,
	    who ? who->name : "root");
	/* the artifact is in; a failing ledger write is replayed later */
	outbox_kick(st);
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

/*
 * fetch.c - pinned upstream dependencies, fetched once and verified.
 *
 * artifacts/<p>/<v>/deps/<name> shows each pin.  The first read downloads
 * it with libcurl to STORE/tmp/dep.<sha256>.part (resumed with an HTTP
 * range when a part is there), checks the SHA-256, and only then moves it
 * into the content store under that digest, once on disk; later reads are
 * local.  Two first readers of one dependency share one download.  A
 * mismatch, an HTTP error or a dropped transfer is -EIO with a message, and
 * caches nothing but the part of a dropped transfer (for the resume).
 */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "manifest.h"
#include "store_impl.h"

int
fetch_deps_nodes(struct store *st, MDB_txn *txn, uint64_t art, json_t *m,
    int64_t created)
{
	json_t *pins = json_object_get(m, "pins"), *p;
	uint64_t dir, ino;
	uint8_t d[DIGEST_LEN];
	size_t i;
	int rc;

	if ((rc = index_alloc_ino(st->ix, txn, 1 + json_array_size(pins),
	    &dir)) < 0 ||
	    (rc = tree_put_node(st, txn, dir, art, "deps", NODE_DIR, 0, 0555, 0,
	    created, NULL)) < 0)
		return rc;
	ino = dir;
	json_array_foreach(pins, i, p) {
		json_t *sz = json_object_get(p, "size");

		if (digest_parse(d, mf_str(p, "sha256")) < 0)
			return store_seterr(-EINVAL, "pin %s: bad sha256",
			    mf_str(p, "name"));
		/* its size is the pin's until the bytes are here */
		/* its size changes once, when fetched: the change log says so */
		rc = tree_put_node(st, txn, ++ino, dir, mf_str(p, "name"),
		    NODE_DEP,
		    NODE_MUTABLE, 0444, sz ?
		    (uint64_t)json_integer_value(sz) : 0, created, d);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t flight_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t flight_cond = PTHREAD_COND_INITIALIZER;

/*
 * Downloads in progress in this process, by digest.  Readers follow one as
 * it arrives (avail); it is freed by the last of its holders once done.
 */
struct flight {
	struct flight *next;
	uint8_t digest[DIGEST_LEN];
	int done, rc, holders, started;
	int verified;		/* all of it matched the pin: read it all */
	int stop;		/* the store closes: drop the transfer */
	uint64_t avail;		/* bytes in the part file */
	uint64_t total;		/* expected size; 0 while unknown */
	uint64_t wake_at;	/* the least avail someone waits for */
	int resumed;
	char part[4300];
	char err[512];
	/* a download on a thread of its own */
	struct store *st;
	char *name, *url;
};

static struct flight *flights;

/*
 * Wait (flight_mu held) for f->avail to reach avail, or for anything
 * that is always told (the start, the end): a write wakes the waiters only
 * once one of them can go on, not for each block curl hands over.
 */
static void
flight_wait(struct flight *f, uint64_t avail)
{
	if (avail < f->wake_at)
		f->wake_at = avail;
	pthread_cond_wait(&flight_cond, &flight_mu);
}

static void
curl_setup(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct dl {
	int fd;
	store_fetch_progress fn;
	void *arg;
	uint64_t base;
	EVP_MD_CTX *md;		/* hashed as it arrives: no second pass */
	struct flight *f;
	CURL *c;
	int failed;
	/* the hasher: a thread of its own reads the part file behind curl */
	pthread_t hasher;
	uint64_t hashed;	/* bytes hashed so far (the hasher's own) */
	int landed;		/* the transfer is over: hash up to avail */
	int hash_err;
};

/*
 * Hash the part file as it grows, on a thread of its own: the SHA-256 of
 * a big download (0.15 s for 256 MiB here) then runs beside curl's receive
 * and write instead of after each block of it, so the download itself goes
 * as fast as curl -o.  The bytes come from the page cache.
 */
static void *
dl_hash(void *arg)
{
	struct dl *d = arg;
	char *buf = malloc(1 << 20);
	int fd = open(d->f->part, O_RDONLY | O_CLOEXEC);

	if (!buf || fd < 0)
		d->hash_err = EIO;
	for (;;) {
		uint64_t avail;
		ssize_t n;

		/* a read error waits for the end of the transfer, then tells */
		pthread_mutex_lock(&flight_mu);
		while (!d->landed && (d->hash_err ||
		    d->f->avail - d->hashed < (1 << 20)))
			flight_wait(d->f, d->hash_err ? UINT64_MAX :
			    d->hashed + (1 << 20));
		avail = d->f->avail;
		pthread_mutex_unlock(&flight_mu);
		if (d->hash_err || d->hashed >= avail)
			break;	/* landed: all of it hashed, or it cannot be */
		n = pread(fd, buf, avail - d->hashed < (1 << 20) ?
		    (size_t)(avail - d->hashed) : 1 << 20, (off_t)d->hashed);
		if (n <= 0) {
			d->hash_err = EIO;
			continue;
		}
		EVP_DigestUpdate(d->md, buf, (size_t)n);
		d->hashed += (uint64_t)n;
	}
	if (fd >= 0)
		close(fd);
	free(buf);
	return NULL;
}

static size_t
dl_write(char *ptr, size_t size, size_t n, void *arg)
{
	struct dl *d = arg;
	size_t len = size * n;

	if (write_all(d->fd, ptr, len) < 0) {
		d->failed = errno;
		return 0;
	}
	/* readers of a streamed download may go on up to here */
	pthread_mutex_lock(&flight_mu);
	if (!d->f->total) {
		curl_off_t cl = -1;

		curl_easy_getinfo(d->c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
		if (cl > 0)
			d->f->total = d->base + (uint64_t)cl;
	}
	d->f->avail += len;
	if (!d->f->started || d->f->avail >= d->f->wake_at) {
		d->f->started = 1;
		d->f->wake_at = UINT64_MAX;
		pthread_cond_broadcast(&flight_cond);
	}
	pthread_mutex_unlock(&flight_mu);
	return len;
}

/* Hash what a part file already holds, before the transfer resumes. */
static int
hash_part(const char *path, EVP_MD_CTX *md)
{
	char *buf = malloc(1 << 20);
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;
	ssize_t n;

	if (fd < 0 || !buf) {
		rc = -EIO;
		goto out;
	}
	while ((n = read(fd, buf, 1 << 20)) > 0)
		EVP_DigestUpdate(md, buf, (size_t)n);
	if (n < 0)
		rc = -EIO;
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return rc;
}

static int
dl_progress(void *arg, curl_off_t total, curl_off_t now, curl_off_t ut,
    curl_off_t un)
{
	struct dl *d = arg;

	(void)ut;
	(void)un;
	if (__atomic_load_n(&d->f->stop, __ATOMIC_RELAXED))
		return 1;	/* kept for the resume */
	if (d->fn)
		d->fn(d->arg, d->base + (uint64_t)now, total ? d->base +
		    (uint64_t)total : 0);
	return 0;
}

/*
 * The part file matched the pin: its readers may have the last bytes now,
 * while it goes into the content store, which waits for the disk (0.5 s
 * for 256 MiB here) so that a power cut never leaves a short object under
 * a digest.  Until then a new reader reads the part file.
 */
static int
adopt(struct store *st, struct flight *f)
{
	pthread_mutex_lock(&flight_mu);
	f->verified = 1;
	pthread_cond_broadcast(&flight_cond);
	pthread_mutex_unlock(&flight_mu);
	return cas_adopt(st->cas, strrchr(f->part, '/') + 1, f->digest);
}

/* 1 when what md has hashed so far is the pin's digest. */
static int
hash_is(const EVP_MD_CTX *md, const uint8_t digest[DIGEST_LEN])
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	unsigned int len = DIGEST_LEN;
	uint8_t got[DIGEST_LEN];
	int same;

	same = c && EVP_MD_CTX_copy_ex(c, md) &&
	    EVP_DigestFinal_ex(c, got, &len) &&
	    memcmp(got, digest, DIGEST_LEN) == 0;
	EVP_MD_CTX_free(c);
	return same;
}

/*
 * Download the flight's url to its part file, resuming; then verify and
 * adopt it.  Readers see the bytes as they arrive (f->avail).
 */
static int
download(struct store *st, struct flight *f, const char *name,
    const char *url, store_fetch_progress fn, void *arg)
{
	char hex[DIGEST_HEX_LEN + 1], ghex[DIGEST_HEX_LEN + 1],
	    cerr[CURL_ERROR_SIZE] = "", local[64];
	int srcfd = -1, src = 0;
	struct dl d = { .fd = -1, .fn = fn, .arg = arg, .f = f };
	unsigned int glen = DIGEST_LEN;
	uint8_t got[DIGEST_LEN];
	struct stat sb;
	long code = 0;
	CURLcode cr;

	pthread_once(&curl_once, curl_setup);
	digest_hex(hex, f->digest);
	if (stat(f->part, &sb) == 0)
		d.base = (uint64_t)sb.st_size;
	f->resumed = d.base > 0;
	d.md = EVP_MD_CTX_new();
	if (!d.md || !EVP_DigestInit_ex(d.md, EVP_sha256(), NULL) ||
	    (d.base && hash_part(f->part, d.md) < 0)) {
		EVP_MD_CTX_free(d.md);
		unlink(f->part);
		return store_seterr(-EIO, "%s: could not read '%s'", name,
		    f->part);
	}
	if (d.base && hash_is(d.md, f->digest)) {
		/* whole already (stopped while it was being stored) */
		EVP_MD_CTX_free(d.md);
		pthread_mutex_lock(&flight_mu);
		f->avail = d.base;
		pthread_mutex_unlock(&flight_mu);
		return adopt(st, f);
	}
	d.fd = open(f->part, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (d.fd < 0) {
		EVP_MD_CTX_free(d.md);
		return store_seterr(-EIO, "%s: could not write '%s': %s", name,
		    f->part, strerror(errno));
	}
	pthread_mutex_lock(&flight_mu);
	f->avail = d.base;
	pthread_mutex_unlock(&flight_mu);
	d.hashed = d.base;
	if (pthread_create(&d.hasher, NULL, dl_hash, &d) != 0) {
		close(d.fd);
		EVP_MD_CTX_free(d.md);
		return store_seterr(-EAGAIN, "%s: could not start hashing",
		    name);
	}
	/* a local file is opened here, checked, and read by its descriptor */
	if (strncmp(url, "file://", 7) == 0) {
		if ((src = store_pin_open(st, url, &srcfd)) < 0)
			snprintf(cerr, sizeof(cerr), "%s", store_errmsg());
		snprintf(local, sizeof(local), "file:///proc/self/fd/%d", srcfd);
	}
	d.c = curl_easy_init();
	curl_easy_setopt(d.c, CURLOPT_URL, srcfd >= 0 ? local : url);
	curl_easy_setopt(d.c, CURLOPT_WRITEFUNCTION, dl_write);
	curl_easy_setopt(d.c, CURLOPT_WRITEDATA, &d);
	curl_easy_setopt(d.c, CURLOPT_BUFFERSIZE, 256L * 1024);
	curl_easy_setopt(d.c, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(d.c, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(d.c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(d.c, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(d.c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(d.c, CURLOPT_LOW_SPEED_TIME, 30L);
	curl_easy_setopt(d.c, CURLOPT_XFERINFOFUNCTION, dl_progress);
	curl_easy_setopt(d.c, CURLOPT_XFERINFODATA, &d);
	curl_easy_setopt(d.c, CURLOPT_NOPROGRESS, 0L);
	if (d.base)
		curl_easy_setopt(d.c, CURLOPT_RESUME_FROM_LARGE,
		    (curl_off_t)d.base);
	cr = src < 0 ? CURLE_READ_ERROR : curl_easy_perform(d.c);
	curl_easy_getinfo(d.c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(d.c);
	if (srcfd >= 0)
		close(srcfd);
	if (close(d.fd) != 0 && cr == CURLE_OK)
		cr = CURLE_WRITE_ERROR;
	pthread_mutex_lock(&flight_mu);
	d.landed = 1;
	pthread_cond_broadcast(&flight_cond);
	pthread_mutex_unlock(&flight_mu);
	pthread_join(d.hasher, NULL);
	if (cr == CURLE_OK && d.hash_err) {
		unlink(f->part);
		EVP_MD_CTX_free(d.md);
		return store_seterr(-EIO, "%s: could not read back '%s' to "
		    "hash it", name, f->part);
	}
	if (cr != CURLE_OK) {
		/* a dropped transfer keeps its part for the resume */
		int keep = cr == CURLE_PARTIAL_FILE || cr == CURLE_RECV_ERROR ||
		    cr == CURLE_OPERATION_TIMEDOUT ||
		    cr == CURLE_ABORTED_BY_CALLBACK;

		if (!keep)
			unlink(f->part);
		EVP_MD_CTX_free(d.md);
		return store_seterr(-EIO, "%s: could not fetch %s: %s%s", name,
		    url, d.failed ? strerror(d.failed) : *cerr ? cerr :
		    curl_easy_strerror(cr), keep ? " (the next read resumes)" :
		    "");
	}
	EVP_DigestFinal_ex(d.md, got, &glen);
	EVP_MD_CTX_free(d.md);
	if (memcmp(got, f->digest, DIGEST_LEN) != 0) {
		digest_hex(ghex, got);
		unlink(f->part);
		/* what the bytes hash to is not told: it would name them */
		return store_seterr(-EIO, "%s: digest mismatch: the bytes at %s "
		    "are not those pinned (sha256 %s); nothing was kept", name,
		    url, hex);
	}
	return adopt(st, f);
}

/* The flight for digest, joined (holders counted), or a new one. */
static struct flight *
flight_join(struct store *st, const uint8_t digest[DIGEST_LEN], int *fresh)
{
	char hex[DIGEST_HEX_LEN + 1];
	struct flight *f;

	for (f = flights; f; f = f->next)
		if (memcmp(f->digest, digest, DIGEST_LEN) == 0) {
			f->holders++;
			*fresh = 0;
			return f;
		}
	f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	memcpy(f->digest, digest, DIGEST_LEN);
	digest_hex(hex, digest);
	snprintf(f->part, sizeof(f->part), "%s/tmp/dep.%s.part",
	    store_path(st), hex);
	f->holders = 1;
	f->st = st;
	f->next = flights;
	flights = f;
	*fresh = 1;
	return f;
}

/* The download is over: say so to everyone waiting (flight_mu held). */
static void
flight_land(struct flight *f, int rc)
{
	struct flight **pp;

	f->rc = rc;
	f->done = f->started = 1;
	if (rc < 0)
		snprintf(f->err, sizeof(f->err), "%s", store_errmsg());
	for (pp = &flights; *pp; pp = &(*pp)->next)
		if (*pp == f) {
			*pp = f->next;
			break;
		}
	pthread_cond_broadcast(&flight_cond);
}

/* Let go of a flight (flight_mu held); the last holder frees it. */
static void
flight_leave(struct flight *f)
{
	if (--f->holders == 0 && f->done) {
		free(f->name);
		free(f->url);
		free(f);
	}
}

int
store_dep_fetch(struct store *st, const char *name, const char *url,
    const uint8_t digest[DIGEST_LEN], store_fetch_progress fn, void *arg,
    int *state)
{
	struct flight *f;
	int rc, fresh;

	*state = STORE_FETCH_PRESENT;
	if (cas_has(st->cas, digest))
		return 0;
	/* the source must still be one a manager allows */
	if ((rc = store_pin_allowed(st, url)) < 0)
		return store_prefixerr(-EIO, "%s", name);
	pthread_mutex_lock(&flight_mu);
	st->on_close = fetch_deps_settle;
	f = flight_join(st, digest, &fresh);
	if (!f) {
		pthread_mutex_unlock(&flight_mu);
		return -ENOMEM;
	}
	if (!fresh) {
		/* someone is fetching it: share that download */
		while (!f->done)
			pthread_cond_wait(&flight_cond, &flight_mu);
		rc = f->rc;
		if (rc < 0)
			store_seterr(rc, "%s", f->err);
		flight_leave(f);
		pthread_mutex_unlock(&flight_mu);
		*state = rc < 0 ? STORE_FETCH_FAILED : STORE_FETCH_FETCHED;
		return rc;
	}
	pthread_mutex_unlock(&flight_mu);

	rc = cas_has(st->cas, digest) ? 0 : download(st, f, name, url, fn,
	    arg);

	pthread_mutex_lock(&flight_mu);
	flight_land(f, rc);
	*state = rc < 0 ? STORE_FETCH_FAILED : f->resumed ?
	    STORE_FETCH_RESUMED : STORE_FETCH_FETCHED;
	flight_leave(f);
	pthread_mutex_unlock(&flight_mu);
	return rc;
}

void
fetch_deps_settle(struct store *st)
{
	struct flight *f;

	pthread_mutex_lock(&flight_mu);
	for (;;) {
		for (f = flights; f && f->st != st; f = f->next)
			;
		if (!f)
			break;
		/* a transfer stops (its part is kept); a verified one is stored */
		for (f = flights; f; f = f->next)
			if (f->st == st)
				__atomic_store_n(&f->stop, 1, __ATOMIC_RELAXED);
		pthread_cond_wait(&flight_cond, &flight_mu);
	}
	pthread_mutex_unlock(&flight_mu);
}

/* -- reading while it downloads ---------------------------------------- */

struct store_stream {
	struct flight *f;
	int fd;
};

static void *
stream_worker(void *arg)
{
	struct flight *f = arg;
	int rc = cas_has(f->st->cas, f->digest) ? 0 : download(f->st, f,
	    f->name, f->url, NULL, NULL);

	pthread_mutex_lock(&flight_mu);
	flight_land(f, rc);
	flight_leave(f);
	pthread_mutex_unlock(&flight_mu);
	return NULL;
}

int
store_dep_stream(struct store *st, const char *name, const char *url,
    const uint8_t digest[DIGEST_LEN], uint64_t size,
    struct store_stream **out)
{
	struct store_stream *s;
	struct flight *f;
	int rc = 0, fresh;

	*out = NULL;
	if (cas_has(st->cas, digest))
		return 1;
	if ((rc = store_pin_allowed(st, url)) < 0)
		return store_prefixerr(-EIO, "%s", name);
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->fd = -1;
	pthread_mutex_lock(&flight_mu);
	st->on_close = fetch_deps_settle;
	f = flight_join(st, digest, &fresh);
	if (f && fresh) {
		pthread_t t;
		pthread_attr_t at;

		f->total = size;
		f->name = strdup(name);
		f->url = strdup(url);
		f->holders++;		/* the download's own hold */
		pthread_attr_init(&at);
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		if (!f->name || !f->url ||
		    pthread_create(&t, &at, stream_worker, f) != 0) {
			store_seterr(-EAGAIN, "%s: could not start the "
			    "download", name);
			flight_land(f, -EAGAIN);
			f->holders--;
		}
		pthread_attr_destroy(&at);
	}
	if (!f) {
		pthread_mutex_unlock(&flight_mu);
		free(s);
		return -ENOMEM;
	}
	/* the first bytes, or the end: an HTTP error is open()'s error */
	while (!f->started)
		pthread_cond_wait(&flight_cond, &flight_mu);
	if (f->done && f->rc < 0) {
		rc = store_seterr(f->rc, "%s", f->err);
	} else if (f->done) {
		rc = 1;		/* in the content store now */
	} else {
		s->fd = open(f->part, O_RDONLY | O_CLOEXEC);
		if (s->fd < 0 && errno == ENOENT) {
			/*
			 * Moved into place or given up (a digest mismatch)
			 * meanwhile: its end says which.
			 */
			while (!f->done)
				pthread_cond_wait(&flight_cond, &flight_mu);
			rc = f->rc < 0 ? store_seterr(f->rc, "%s", f->err) :
			    cas_has(st->cas, digest) ? 1 :
			    store_seterr(-EIO, "%s: it went from '%s' before "
			    "it was read", name, f->part);
		} else if (s->fd < 0) {
			rc = store_seterr(-EIO, "%s: could not read '%s': %s",
			    name, f->part, strerror(errno));
		}
	}
	if (rc != 0) {
		flight_leave(f);
		pthread_mutex_unlock(&flight_mu);
		free(s);
		return rc;
	}
	s->f = f;
	pthread_mutex_unlock(&flight_mu);
	*out = s;
	return 0;
}

int
store_stream_fd(const struct store_stream *s)
{
	return s->fd;
}

uint64_t
store_stream_size(const struct store_stream *s)
{
	uint64_t total;

	pthread_mutex_lock(&flight_mu);
	total = s->f->total;
	pthread_mutex_unlock(&flight_mu);
	return total;
}

int
store_stream_wait(struct store_stream *s, uint64_t off, size_t len,
    size_t *n)
{
	struct flight *f = s->f;
	uint64_t end = off + len;
	int rc = 0;

	pthread_mutex_lock(&flight_mu);
	/*
	 * Bytes are served as they arrive, except the last ones: the end of
	 * the file is only reached once the whole of it matched the pin.
	 */
	while (!f->done && !f->verified &&
	    (f->avail < end || (f->total && end >= f->total)))
		flight_wait(f, f->total && end >= f->total ? UINT64_MAX : end);
	if (f->verified)
		*n = off >= f->avail ? 0 : f->avail - off < len ?
		    (size_t)(f->avail - off) : len;
	else if (f->done)
		rc = store_seterr(-EIO, "%s", f->err);
	else
		*n = len;
	pthread_mutex_unlock(&flight_mu);
	return rc;
}

int
store_stream_verified(struct store_stream *s, uint64_t *size)
{
	int ok;

	pthread_mutex_lock(&flight_mu);
	ok = s->f->verified;
	*size = ok ? s->f->avail : 0;
	pthread_mutex_unlock(&flight_mu);
	return ok;
}

void
store_stream_close(struct store_stream *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&flight_mu);
	flight_leave(s->f);
	pthread_mutex_unlock(&flight_mu);
	close(s->fd);
	free(s);
}

int
store_dep_url(struct store *st, uint64_t ino, const struct node *n,
    char *name, char *url)
{
	char artkey[512];
	struct node dir;
	MDB_txn *txn;
	json_t *m = NULL, *p;
	size_t i;
	int rc;

	if ((rc = index_begin(st->ix, 1, &txn)) < 0)
		return rc;
	if ((rc = index_node_get(st->ix, txn, n->parent, &dir)) < 0 ||
	    (rc = index_name_of(st->ix, txn, n->parent, ino, name)) < 0)
		goto out;
	index_abort(txn);
	txn = NULL;
	if ((rc = store_artifact_key(st, dir.parent, artkey)) < 0 ||
	    (rc = index_begin(st->ix, 1, &txn)) < 0)
		goto out;
	m = tree_artifact_manifest(st, txn, artkey, NULL);
	rc = -ENOENT;
	json_array_foreach(json_object_get(m, "pins"), i, p)
		if (strcmp(mf_str(p, "name"), name) == 0) {
			snprintf(url, 4096, "%s", mf_str(p, "url"));
			rc = 0;
		}
out:
	index_abort(txn);
	json_decref(m);
	return rc;
}

int
store_dep_size(struct store *st, uint64_t ino, uint64_t size)
{
	MDB_txn *txn;
	struct node n;
	int rc;

	if ((rc = index_begin(st->ix, 0, &txn)) < 0)
		return rc;
	if ((rc = index_node_get(st->ix, txn, ino, &n)) == 0 &&
	    n.size != size) {
		n.size = size;
		rc = index_node_put(st->ix, txn, ino, &n);
	}
	if (rc < 0) {
		index_abort(txn);
		return rc;
	}
	return index_commit(txn);
}

struct fetch_ctx {
	struct store *st;
	const char *project, *version;
	void (*report)(void *, const char *, const char *, int, const char *);
	store_fetch_progress fn;
	void *arg;
	json_t *keys;
};

static int
collect_key(void *arg, const char *key, size_t keylen, const void *val,
    size_t vallen)
{
	struct fetch_ctx *f = arg;
	char k[600];
	const char *slash;

	(void)val;
	(void)vallen;
	snprintf(k, sizeof(k), "%.*s", (int)keylen, key);
	slash = strchr(k, '/');
	if (!slash)
		return 0;
	if (f->project && (strlen(f->project) != (size_t)(slash - k) ||
	    strncmp(k, f->project, (size_t)(slash - k)) != 0))
		return 0;
	if (f->version && strcmp(slash + 1, f->version) != 0)
		return 0;
	json_array_append_new(f->keys, json_string(k));
	return 0;
}

int
store_fetch_all(struct store *st, const char *project, const char *version,
    void (*report)(void *arg, const char *artkey, const char *pin,
    int state, const char *err), store_fetch_progress fn, void *arg)
{
	struct fetch_ctx f = { st, project, version, report, fn, arg,
	    json_array() };
	MDB_txn *txn;
	size_t i, k;
	json_t *key, *p;
	int rc, failed = 0;

	if ((rc = index_begin(st->ix, 1, &txn)) < 0)
		goto out;
	rc = index_iter(st->ix, txn, TAB_ARTIFACT, collect_key, &f);
	index_abort(txn);
	if (rc == 0 && json_array_size(f.keys) == 0 && (project || version))
		rc = store_seterr(-ENOENT, "no artifact %s%s%s", project,
		    version ? " " : "", version ? version : "");
	json_array_foreach(f.keys, i, key) {
		const char *artkey = json_string_value(key);
		struct art_rec rec = { 0 };
		uint64_t deps, ino;
		json_t *m;

		if (rc < 0)
			break;
		if ((rc = index_begin(st->ix, 1, &txn)) < 0)
			break;
		m = tree_artifact_manifest(st, txn, artkey, &rec);
		rc = index_lookup(st->ix, txn, rec.ino, "deps", &deps);
		index_abort(txn);
		if (rc < 0) {
			json_decref(m);
			break;
		}
		json_array_foreach(json_object_get(m, "pins"), k, p) {
			uint8_t d[DIGEST_LEN];
			int state;

			digest_parse(d, mf_str(p, "sha256"));
			if (store_dep_fetch(st, mf_str(p, "name"), mf_str(p,
			    "url"), d, fn, arg, &state) < 0)
				failed++;
			report(arg, artkey, mf_str(p, "name"), state,
			    state == STORE_FETCH_FAILED ? store_errmsg() : "");
			if (state != STORE_FETCH_FAILED &&
			    store_node_lookup(st, deps, mf_str(p, "name"), &ino,
			    &(struct node){ 0 }) == 0) {
				struct stat sb;
				char path[4300];

				cas_path(st->cas, d, path, sizeof(path));
				if (stat(path, &sb) == 0)
					store_dep_size(st, ino,
					    (uint64_t)sb.st_size);
			}
		}
		json_decref(m);
	}
	if (rc == 0 && failed)
		rc = store_seterr(-EIO, "%d pins could not be fetched", failed);
out:
	json_decref(f.keys);
	return rc;
}

int
store_dep_open(struct store *st, uint64_t ino, const struct node *n,
    int offline, int max_fd, struct store_stream **stream, int *local)
{
	char name[NAME_MAX_BYTES + 1], url[4096];
	int rc, state;

	*stream = NULL;
	*local = -1;
	if ((rc = store_dep_url(st, ino, n, name, url)) < 0)
		return rc;
	rc = offline ? 1 : store_dep_stream(st, name, url, n->digest, n->size,
	    stream);
	if (rc < 0)
		return rc;
	if (rc == 0 && store_stream_fd(*stream) >= max_fd) {
		/* no room to follow it: wait for the whole of it */
		store_stream_close(*stream);
		*stream = NULL;
		if ((rc = store_dep_fetch(st, name, url, n->digest, NULL, NULL,
		    &state)) < 0)
			return rc;
		rc = 1;
	}
	if (rc == 1 && (rc = store_node_open(st, n, local)) < 0)
		return offline ? store_seterr(-EIO, "deps/%s: not fetched, and "
		    "this mount is offline (relctl fetch gets it)", name) : rc;
	return *stream ? 0 : 1;
}

/*
 * import_read.c - the reading side of an import: the file's lines parsed
 * and packed into what the index keeps of their runs, on a thread of its
 * own, and handed over in order a chunk of lines at a time (see
 * import_read.h).  Parsing a record costs about as much as recording it,
 * and the ledger's thread leaves room on the other core.  What crosses
 * from one thread to the other is flat (no JSON objects), and chunks are
 * used again rather than freed.
 */
#define _GNU_SOURCE
#include "import_read.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "results.h"
#include "store_impl.h"

/*
 * jansson's memory while a parser parses a line: a bump arena of the
 * thread's, reset after the line, since a record's dozens of small
 * allocations and frees cost as much as its parse.  Nothing jansson makes
 * in it outlives the line (what crosses to the recording side is copied
 * with malloc), and what does not fit in it, or is made on another thread
 * or outside a line, is malloc's as before.  free of a pointer in the
 * arena does nothing.
 */
#define ARENA_BYTES (256 << 10)

struct arena {
	char *mem;
	size_t used;
	size_t spilled;		/* the line's allocations malloc made */
};

static __thread struct arena *arena_now;

static void *
arena_malloc(size_t n)
{
	struct arena *a = arena_now;

	n = (n + 15) & ~(size_t)15;
	if (a && n <= ARENA_BYTES - a->used) {
		void *p = a->mem + a->used;

		a->used += n;
		return p;
	}
	if (a)
		a->spilled++;
	return malloc(n);
}

static void
arena_free(void *p)
{
	struct arena *a = arena_now;

	if (a && (char *)p >= a->mem && (char *)p < a->mem + ARENA_BYTES)
		return;
	free(p);
}

static void
arena_funcs_set(void)
{
	json_set_alloc_funcs(arena_malloc, arena_free);
}

void
import_read_prepare(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, arena_funcs_set);
}

/*
 * What an import keeps of a run (see run_complete): the record as given
 * (rec, len bytes), the stamp, and "run": for the number to come, into t
 * (kept_len's bytes and a NUL).  Made by hand, since every part of it is
 * JSON already: rendering a run costs as much as parsing it.
 */
static size_t
kept_len(const char *stamp_text, size_t len)
{
	return KEPT_REC_AT + len + 1 + strlen(stamp_text) + 7;
}

static void
kept_write(char *t, const char *stamp_text, const char *rec, size_t len)
{
	size_t sl = strlen(stamp_text);

	memcpy(t, "{\"record\":", KEPT_REC_AT);
	memcpy(t + KEPT_REC_AT, rec, len);
	t[KEPT_REC_AT + len] = ',';
	memcpy(t + KEPT_REC_AT + 1 + len, stamp_text, sl);
	memcpy(t + KEPT_REC_AT + 1 + len + sl, ",\"run\":", 8);	/* and NUL */
}

/*
 * Pack the run of obj (parsed from rec, len bytes; v: its view) into l,
 * stamped: counted and packed from the record itself, since making the
 * run object cost as much as parsing the record.
 */
static int
line_pack(const struct import_how *how, const char *artifact,
    const struct run_view *v, json_t *obj, const char *rec, size_t len,
    struct import_line *l)
{
	struct run_head h = { result_outcome_code(v->outcome), how->recorded,
	    { 0 } };
	size_t kl = kept_len(how->stamp_text, len);
	int rc;

	for (int i = 0; i < 4; i++)
		h.str[i] = result_view_get(v, run_head_keys[i]);
	if (!(l->size1 = run_view_text_len(v, obj, how->stamp, 1)))
		return -ENOMEM;
	/* the kept JSON written in place, after the head */
	if ((rc = run_pack_head(&h, NULL, kl, IMPORT_NO_ROOM, &l->packed,
	    &l->packed_len)) < 0)
		return rc;
	l->json_at = l->packed_len - kl;
	kept_write(l->packed + l->json_at, how->stamp_text, rec, len);
	l->rec_len = len;
	l->artifact = strdup(artifact);
	l->tc = strdup(v->testcase);
	l->outcome = h.outcome;
	return l->artifact && l->tc ? 0 : -ENOMEM;
}

static void
import_parse(const struct import_how *how, const char *line, size_t len,
    struct import_line *l, struct arena *arena)
{
	const char *cn, *artifact = NULL;
	char fname[NAME_MAX_BYTES + 8];
	struct run_view v;
	json_error_t err;
	json_t *obj = NULL;
	int rc;

	arena_now = arena;
	if (len <= RESULT_MAX)
		obj = json_loadb(line, len, JSON_REJECT_DUPLICATES, &err);
	if (len > RESULT_MAX) {
		rc = store_seterr(-EINVAL, "the record is larger than the "
		    "limit of %d bytes", RESULT_MAX);
	} else if (!json_is_object(obj)) {
		rc = store_seterr(-EINVAL, "not a JSON object (%s)", err.text);
	} else if (!(artifact = json_string_value(json_object_get(obj,
	    "artifact"))) && !(artifact = how->artifact)) {
		rc = store_seterr(-EINVAL, "the record names no \"artifact\" "
		    "(relctl import --artifact P/V names one for all)");
	} else {
		cn = json_string_value(json_object_get(obj, "case_name"));
		snprintf(fname, sizeof(fname), "%s.json", cn ? cn : "result");
		if ((rc = result_view(fname, obj, &v)) == 0)
			rc = line_pack(how, artifact, &v, obj, line, len, l);
	}
	/*
	 * What lives in the arena goes with its reset: json_decref only
	 * walks the line's values to free nothing (a tenth of the parse),
	 * unless some of them came from malloc.
	 */
	if (arena->spilled)
		json_decref(obj);
	arena_now = NULL;
	arena->used = arena->spilled = 0;
	if (rc < 0)
		l->why = strdup(rc == -ENOMEM ? "out of memory" :
		    store_errmsg());
}

static void
line_clear(struct import_line *l)
{
	free(l->why);
	free(l->artifact);
	free(l->tc);
	free(l->packed);
	memset(l, 0, sizeof(*l));
}

/* -- the parsers' threads ------------------------------------------ */

/*
 * PARSERS threads take turns at the file: each reads a chunk of lines
 * (under the lock: reading is a twentieth of the work), parses it on its
 * own, and puts it in line by its number; the recording side takes the
 * chunks in that order.  Two parsers with the ledger's thread keep both
 * cores busy where one left the recording side waiting.
 */
#define PARSERS 2
/*
 * The parsers run at a lower priority: the recording and the ledger's
 * thread each do their part alone, in order, and a core the parsers took
 * from them left the other waiting (at the same priority, 990,000 records
 * took 6.3 s; at 10, 5.6 s).  They still have every moment those two wait.
 */
#define PARSER_NICE 10
#define CHUNK_LINES 256
/*
 * Up to four batches of lines parsed ahead (about 30 MB): the parsers use
 * the moments the recording waits for the ledger to get ahead, instead of
 * stopping at a fraction of a batch and leaving a core idle.
 */
#define CHUNKS_AHEAD 160

struct chunk {
	struct chunk *next;
	uint64_t seq;		/* its place in the file */
	struct import_line line[CHUNK_LINES];
	size_t n;
	uint64_t bytes;		/* of the file, up to the chunk's end */
	char *raw;		/* the lines as read, one after the other */
	size_t rawcap, off[CHUNK_LINES], len[CHUNK_LINES];
};

struct import_reader {
	FILE *f;
	const struct import_how *how;
	pthread_t thread[PARSERS];
	size_t nthreads;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	struct chunk *ready;	/* parsed, by seq, not yet taken */
	struct chunk *spare;	/* taken and used: to be filled again */
	struct chunk *cur;	/* the one being taken from */
	uint64_t next_read, next_take;	/* chunks' seq */
	char *buf;
	size_t cap, lineno, nready, at, running;
	uint64_t bytes;
	int eof, stop, rc;
};

static void
chunk_clear(struct chunk *c)
{
	for (size_t i = 0; i < c->n; i++)
		line_clear(&c->line[i]);
	c->n = 0;
	c->next = NULL;
}

static void
chunks_free(struct chunk *c)
{
	while (c) {
		struct chunk *next = c->next;

		chunk_clear(c);
		free(c->raw);
		free(c);
		c = next;
	}
}

/* The next lines of the file, as they are, into c (r->mu held). */
static int
chunk_read(struct import_reader *r, struct chunk *c)
{
	size_t used = 0;
	ssize_t len;

	while (c->n < CHUNK_LINES && !r->eof) {
		if ((len = getline(&r->buf, &r->cap, r->f)) <= 0) {
			r->eof = 1;
			if (ferror(r->f))
				return store_seterr(-EIO, "could not read the "
				    "file: %s", strerror(errno));
			break;
		}
		r->lineno++;
		r->bytes += (uint64_t)len;
		while (len > 0 && strchr(" \t\r\n", r->buf[len - 1]))
			len--;
		if (len == 0)
			continue;
		if (used + (size_t)len > c->rawcap) {
			size_t cap = (used + (size_t)len) * 2;
			char *raw = realloc(c->raw, cap);

			if (!raw)
				return -ENOMEM;
			c->raw = raw;
			c->rawcap = cap;
		}
		memcpy(c->raw + used, r->buf, (size_t)len);
		c->off[c->n] = used;
		c->len[c->n] = (size_t)len;
		c->line[c->n++].lineno = r->lineno;
		used += (size_t)len;
	}
	c->bytes = r->bytes;
	return 0;
}

/* Put c in line (r->mu held). */
static void
chunk_ready(struct import_reader *r, struct chunk *c)
{
	struct chunk **at = &r->ready;

	while (*at && (*at)->seq < c->seq)
		at = &(*at)->next;
	c->next = *at;
	*at = c;
	r->nready++;
	pthread_cond_broadcast(&r->cond);
}

static void *
parser(void *arg)
{
	struct import_reader *r = arg;
	struct arena arena = { malloc(ARENA_BYTES), 0, 0 };
	struct chunk *c;
	int rc = 0;

	thread_nice_more(PARSER_NICE);
	pthread_mutex_lock(&r->mu);
	if (!arena.mem)
		rc = -ENOMEM;
	while (rc == 0) {
		while (!r->stop && !r->eof && r->nready >= CHUNKS_AHEAD)
			pthread_cond_wait(&r->cond, &r->mu);
		if (r->stop || r->eof)
			break;
		if ((c = r->spare))
			r->spare = c->next;
		else if (!(c = calloc(1, sizeof(*c)))) {
			rc = -ENOMEM;
			break;
		}
		chunk_clear(c);
		c->seq = r->next_read++;
		if ((rc = chunk_read(r, c)) < 0) {
			chunks_free(c);
			break;
		}
		pthread_mutex_unlock(&r->mu);
		for (size_t i = 0; i < c->n; i++)
			import_parse(r->how, c->raw + c->off[i],
			    c->len[i], &c->line[i], &arena);
		pthread_mutex_lock(&r->mu);
		chunk_ready(r, c);
	}
	if (rc < 0 && !r->rc)
		r->rc = rc;
	if (rc < 0)
		r->eof = 1;	/* the others stop too */
	r->running--;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->mu);
	free(arena.mem);
	return NULL;
}

int
import_read_start(struct import_reader **out, FILE *f,
    const struct import_how *how)
{
	struct import_reader *r = calloc(1, sizeof(*r));
	int rc = 0;

	if (!r)
		return -ENOMEM;
	r->f = f;
	r->how = how;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cond, NULL);
	pthread_mutex_lock(&r->mu);
	for (; r->nthreads < PARSERS; r->nthreads++) {
		if ((rc = pthread_create(&r->thread[r->nthreads], NULL, parser,
		    r)) != 0)
			break;
		r->running++;
	}
	pthread_mutex_unlock(&r->mu);
	if (rc) {
		import_read_stop(r);
		return store_seterr(-rc, "could not start reading: %s",
		    strerror(rc));
	}
	*out = r;
	return 0;
}

int
import_read_next(struct import_reader *r, struct import_line **out,
    uint64_t *bytes)
{
	while (!r->cur || r->at == r->cur->n) {
		pthread_mutex_lock(&r->mu);
		if (r->cur) {
			/* used: to be filled again */
			r->cur->next = r->spare;
			r->spare = r->cur;
			r->cur = NULL;
		}
		/* the next chunk in the file's order, once it is parsed */
		while (!(r->ready && r->ready->seq == r->next_take) &&
		    r->running > 0)
			pthread_cond_wait(&r->cond, &r->mu);
		if (!(r->ready && r->ready->seq == r->next_take)) {
			int rc = r->rc;

			pthread_mutex_unlock(&r->mu);
			return rc;
		}
		r->cur = r->ready;
		r->ready = r->cur->next;
		r->cur->next = NULL;
		r->nready--;
		r->next_take++;
		r->at = 0;
		pthread_cond_broadcast(&r->cond);
		pthread_mutex_unlock(&r->mu);
		*bytes = r->cur->bytes;
	}
	*out = &r->cur->line[r->at++];
	return 1;
}

void
import_read_stop(struct import_reader *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->mu);
	r->stop = 1;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->mu);
	for (size_t i = 0; i < r->nthreads; i++)
		pthread_join(r->thread[i], NULL);
	chunks_free(r->ready);
	chunks_free(r->spare);
	chunks_free(r->cur);
	free(r->buf);
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->cond);
	free(r);
}

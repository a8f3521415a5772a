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
 * What an import keeps of a run (see run_complete): the record as given
 * (rec, len bytes), the stamp, and "run": for the number to come.  Made by
 * hand, since every part of it is JSON already: rendering a run costs as
 * much as parsing it.
 */
static char *
kept_text(const char *stamp_text, const char *rec, size_t len)
{
	size_t sl = strlen(stamp_text);
	char *t = malloc(10 + len + 1 + sl + 7 + 1);

	if (!t)
		return NULL;
	memcpy(t, "{\"record\":", 10);
	memcpy(t + 10, rec, len);
	t[10 + len] = ',';
	memcpy(t + 11 + len, stamp_text, sl);
	memcpy(t + 11 + len + sl, ",\"run\":", 8);	/* and its NUL */
	return t;
}

/* Pack run (parsed from rec, len bytes) into l, stamped. */
static int
line_pack(json_t *stamp, const char *stamp_text, json_t *run,
    const char *rec, size_t len, struct import_line *l)
{
	char *kept;
	int rc;

	if (json_object_update(run, stamp) < 0 ||
	    json_object_set_new(run, "run", json_integer(1)) < 0 ||
	    !(l->size1 = run_text_len(run, 0)) ||
	    !(kept = kept_text(stamp_text, rec, len)))
		return -ENOMEM;
	rc = run_pack(run, kept, IMPORT_NO_ROOM, &l->packed, &l->packed_len);
	l->json_at = l->packed_len - strlen(kept);
	free(kept);
	if (rc < 0)
		return rc;
	l->artifact = strdup(json_string_value(json_object_get(json_object_get(
	    run, "record"), "artifact")));
	l->tc = strdup(json_string_value(json_object_get(run, "testcase")));
	l->pass = strcmp(json_string_value(json_object_get(run, "outcome")),
	    "PASS") == 0;
	return l->artifact && l->tc ? 0 : -ENOMEM;
}

static void
import_parse(json_t *stamp, const char *stamp_text, const char *line,
    size_t len, struct import_line *l)
{
	const char *cn;
	char fname[NAME_MAX_BYTES + 8];
	json_error_t err;
	json_t *obj = NULL, *run = NULL;
	int rc;

	if (len <= RESULT_MAX)
		obj = json_loadb(line, len, JSON_REJECT_DUPLICATES, &err);
	if (len > RESULT_MAX) {
		rc = store_seterr(-EINVAL, "the record is larger than the "
		    "limit of %d bytes", RESULT_MAX);
	} else if (!json_is_object(obj)) {
		rc = store_seterr(-EINVAL, "not a JSON object (%s)", err.text);
	} else if (!json_is_string(json_object_get(obj, "artifact"))) {
		rc = store_seterr(-EINVAL, "the record names no \"artifact\"");
	} else {
		cn = json_string_value(json_object_get(obj, "case_name"));
		snprintf(fname, sizeof(fname), "%s.json", cn ? cn : "result");
		if ((rc = result_run(fname, obj, &run)) == 0)
			rc = line_pack(stamp, stamp_text, run, line, len, l);
	}
	json_decref(run);
	json_decref(obj);
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

/* -- the parser's thread ------------------------------------------- */

#define CHUNK_LINES 256
#define CHUNKS_AHEAD 16

struct chunk {
	struct chunk *next;
	struct import_line line[CHUNK_LINES];
	size_t n;
	uint64_t bytes;		/* of the file, up to the chunk's end */
};

struct import_reader {
	FILE *f;
	json_t *stamp;
	const char *stamp_text;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	struct chunk *ready, **ready_tail;	/* parsed, not yet taken */
	struct chunk *done;	/* taken and used: the parser empties them */
	struct chunk *cur;	/* the one being taken from */
	size_t nready, at;
	int ended, stop, rc;
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
		free(c);
		c = next;
	}
}

/* Fill c with the next lines of r's file; 1 at its end, < 0 on error. */
static int
chunk_fill(struct import_reader *r, struct chunk *c, char **buf,
    size_t *cap, size_t *lineno, uint64_t *bytes)
{
	ssize_t len;

	while (c->n < CHUNK_LINES) {
		if ((len = getline(buf, cap, r->f)) <= 0)
			return ferror(r->f) ? store_seterr(-EIO, "could not "
			    "read the file: %s", strerror(errno)) : 1;
		(*lineno)++;
		*bytes += (uint64_t)len;
		while (len > 0 && strchr(" \t\r\n", (*buf)[len - 1]))
			len--;
		if (len == 0)
			continue;
		c->line[c->n].lineno = *lineno;
		import_parse(r->stamp, r->stamp_text, *buf, (size_t)len,
		    &c->line[c->n++]);
	}
	return 0;
}

static void *
parser(void *arg)
{
	struct import_reader *r = arg;
	struct chunk *spare = NULL, *c;
	char *buf = NULL;
	size_t cap = 0, lineno = 0;
	uint64_t bytes = 0;
	int rc = 0;

	while (rc == 0) {
		if ((c = spare))
			spare = c->next;
		else if (!(c = calloc(1, sizeof(*c)))) {
			rc = -ENOMEM;
			break;
		}
		c->next = NULL;
		rc = chunk_fill(r, c, &buf, &cap, &lineno, &bytes);
		c->bytes = bytes;
		pthread_mutex_lock(&r->mu);
		/* room to read ahead; and the chunks given back, emptied */
		while (!r->stop && (r->done || r->nready >= CHUNKS_AHEAD)) {
			struct chunk *old = r->done;

			if (!old) {
				pthread_cond_wait(&r->cond, &r->mu);
				continue;
			}
			r->done = NULL;
			pthread_mutex_unlock(&r->mu);
			while (old) {
				struct chunk *next = old->next;

				chunk_clear(old);
				old->next = spare;
				spare = old;
				old = next;
			}
			pthread_mutex_lock(&r->mu);
		}
		if (r->stop) {
			pthread_mutex_unlock(&r->mu);
			chunks_free(c);
			break;
		}
		*r->ready_tail = c;
		r->ready_tail = &c->next;
		r->nready++;
		pthread_cond_broadcast(&r->cond);
		pthread_mutex_unlock(&r->mu);
	}
	chunks_free(spare);
	free(buf);
	pthread_mutex_lock(&r->mu);
	r->ended = 1;
	r->rc = rc < 0 ? rc : 0;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

int
import_reader_start(struct import_reader **out, FILE *f, json_t *stamp,
    const char *stamp_text)
{
	struct import_reader *r = calloc(1, sizeof(*r));
	int rc;

	if (!r)
		return -ENOMEM;
	r->f = f;
	r->stamp = stamp;
	r->stamp_text = stamp_text;
	r->ready_tail = &r->ready;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cond, NULL);
	if ((rc = pthread_create(&r->thread, NULL, parser, r)) != 0) {
		pthread_mutex_destroy(&r->mu);
		pthread_cond_destroy(&r->cond);
		free(r);
		return store_seterr(-rc, "could not start reading: %s",
		    strerror(rc));
	}
	*out = r;
	return 0;
}

int
import_reader_next(struct import_reader *r, struct import_line **out,
    uint64_t *bytes)
{
	int rc;

	while (!r->cur || r->at == r->cur->n) {
		pthread_mutex_lock(&r->mu);
		if (r->cur) {
			/* used: back to the parser, which empties it */
			r->cur->next = r->done;
			r->done = r->cur;
			r->cur = NULL;
			pthread_cond_broadcast(&r->cond);
		}
		while (!r->ready && !r->ended)
			pthread_cond_wait(&r->cond, &r->mu);
		if (!r->ready) {
			rc = r->rc;
			pthread_mutex_unlock(&r->mu);
			return rc;
		}
		r->cur = r->ready;
		if (!(r->ready = r->cur->next))
			r->ready_tail = &r->ready;
		r->cur->next = NULL;
		r->nready--;
		r->at = 0;
		pthread_cond_broadcast(&r->cond);
		pthread_mutex_unlock(&r->mu);
		*bytes = r->cur->bytes;
	}
	*out = &r->cur->line[r->at++];
	return 1;
}

void
import_reader_stop(struct import_reader *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->mu);
	r->stop = 1;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->mu);
	pthread_join(r->thread, NULL);
	chunks_free(r->ready);
	chunks_free(r->done);
	chunks_free(r->cur);
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->cond);
	free(r);
}

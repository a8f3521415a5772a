/*
 * events.c - every change of state is an event, written to the outbox in
 * the same LMDB transaction as the change: a change without its event, or
 * the reverse, cannot happen.  hooks/ delivers them.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store_impl.h"

int
event_emit(struct store *st, MDB_txn *txn, const char *type,
    const struct store_user *who, int64_t when, json_t *fields)
{
	uint64_t seq, be;
	unsigned char rnd[8];
	char id[64], ts[32], *text;
	json_t *e;
	int rc;

	rc = index_get(st->ix, txn, TAB_META, "next_event", &seq, sizeof(seq));
	if (rc == -ENOENT)
		seq = 1;
	else if (rc < 0)
		return rc;
	/* unique across rebuilds and stores: the number and random bits */
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		memset(rnd, 0, sizeof(rnd));
	snprintf(id, sizeof(id), "%016llx-%02x%02x%02x%02x%02x%02x%02x%02x",
	    (unsigned long long)seq, rnd[0], rnd[1], rnd[2], rnd[3], rnd[4],
	    rnd[5], rnd[6], rnd[7]);
	time_iso(ts, when);
	e = fields ? json_deep_copy(fields) : json_object();
	json_object_set_new(e, "id", json_string(id));
	json_object_set_new(e, "seq", json_integer((json_int_t)seq));
	json_object_set_new(e, "type", json_string(type));
	json_object_set_new(e, "time", json_string(ts));
	json_object_set_new(e, "user", json_string(who ? who->name : ""));
	json_object_set_new(e, "uid", json_integer(who ? who->uid : 0));
	text = json_dumps(e, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(e);
	if (!text)
		return -ENOMEM;
	be = htobe64(seq);
	rc = index_put_raw(st->ix, txn, TAB_EVENT, &be, sizeof(be), text,
	    strlen(text), 1);
	free(text);
	if (rc < 0)
		return rc;
	seq++;
	return index_put(st->ix, txn, TAB_META, "next_event", &seq,
	    sizeof(seq), 0);
}

int
event_named(struct store *st, MDB_txn *txn, const char *type,
    const struct store_user *who, int64_t when, json_t *extra, ...)
{
	json_t *f = extra ? json_deep_copy(extra) : json_object();
	const char *key;
	va_list ap;
	int rc;

	va_start(ap, extra);
	while ((key = va_arg(ap, const char *)))
		json_object_set_new(f, key, json_string(va_arg(ap,
		    const char *)));
	va_end(ap);
	rc = event_emit(st, txn, type, who, when, f);
	json_decref(f);
	return rc;
}

/* An event about an artifact ("p/v"), with optional extra fields. */
int
event_artifact(struct store *st, MDB_txn *txn, const char *type,
    const struct store_user *who, int64_t when, const char *artkey,
    json_t *extra)
{
	const char *slash = strchr(artkey, '/');
	json_t *f = extra ? json_incref(extra) : json_object();
	int rc;

	if (slash) {
		json_object_set_new(f, "project", json_stringn(artkey,
		    (size_t)(slash - artkey)));
		json_object_set_new(f, "version", json_string(slash + 1));
	}
	rc = event_emit(st, txn, type, who, when, f);
	json_decref(f);
	return rc;
}

int
store_events(struct store *st, uint64_t from,
    int (*cb)(void *arg, uint64_t seq, const char *json, size_t len),
    void *arg)
{
	uint64_t be = htobe64(from);
	MDB_txn *txn;
	int rc;

	if ((rc = index_begin(st->ix, 1, &txn)) < 0)
		return rc;
	rc = index_scan_from(st->ix, txn, TAB_EVENT, &be, sizeof(be), cb, arg);
	index_abort(txn);
	return rc;
}

int
store_delivery_get(struct store *st, const char *target, json_t **out)
{
	char *val;
	size_t len;
	int rc = index_get_raw(st->ix, NULL, TAB_DELIVERY, target,
	    strlen(target), &val, &len);

	if (rc < 0)
		return rc;
	*out = json_loadb(val, len, JSON_REJECT_DUPLICATES, NULL);
	free(val);
	return *out ? 0 : -EIO;
}

int
store_delivery_put(struct store *st, const char *target, json_t *state)
{
	char *text = json_dumps(state, JSON_COMPACT | JSON_SORT_KEYS);
	MDB_txn *txn;
	int rc;

	if (!text)
		return -ENOMEM;
	if ((rc = index_begin(st->ix, 0, &txn)) < 0) {
		free(text);
		return rc;
	}
	rc = index_put_raw(st->ix, txn, TAB_DELIVERY, target, strlen(target),
	    text, strlen(text), 0);
	free(text);
	if (rc < 0) {
		index_abort(txn);
		return rc;
	}
	return index_commit(txn);
}

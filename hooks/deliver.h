/*
 * deliver.h - event delivery: executables in STORE/hooks/ (named after an
 * event type, or `any`) and webhooks in STORE/webhooks.json.  Each target
 * sees the outbox in order, at least once; a failure is retried with
 * exponential backoff and, after HOOKS_ATTEMPTS tries, the event is parked
 * as dead for that target (relctl events redeliver sends it again).
 * Delivery runs beside the filesystem: nothing here is on a close() path.
 */
#ifndef RELFS_DELIVER_H
#define RELFS_DELIVER_H

#include <jansson.h>

#include "store.h"

#define HOOKS_ATTEMPTS 6
#define HOOKS_TIMEOUT 10	/* seconds for one hook or HTTP request */

#define WEBHOOKS_MAX (1 << 20)	/* bytes of webhooks.json */

/*
 * webhooks.json: [{"url": "http(s)://...", "secret": "...", "events":
 * [TYPES]}], or the same list as {"webhooks": [...]}.  *out is the list.
 */
int webhooks_parse(const char *text, size_t len, json_t **out);

/* Read and parse a webhooks.json file (-ENOENT when there is none). */
int webhooks_load(const char *path, json_t **out);

/* One pass over every target; *sent counts deliveries made. */
int hooks_deliver(struct store *st, int *sent);

/* {"targets": {id: state...}, "events": N} for relctl events. */
int hooks_status(struct store *st, json_t **out);

/* Send a target's dead events once more, now; *sent counts successes. */
int hooks_redeliver(struct store *st, const char *target, int *sent);

#endif

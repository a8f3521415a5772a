/*
 * run.c - a run's record in the index: a small binary header (outcome,
 * time, pod, installer, scenario, platform) before its JSON, so evaluation
 * parses no JSON.  Below results and promotion, which both read it.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "results.h"
#include "store_impl.h"

/* -- runs in the index ---------------------------------------------- */

/*
 * A run as the index keeps it: what evaluation needs, readable without
 * parsing JSON (it runs for every run of an artifact at every change),
 * then the whole record as JSON.
 *   "R2", outcome (1: RESULT_FAIL 0, _PASS 1, _ERROR 2, _SKIP 3), time (8),
 *   4 x length (2), pod, installer, scenario, platform (each followed by a
 *   NUL, so they can be used in place), JSON
 */
#define RUN_MAGIC "R2"

const char *const run_head_keys[4] = { "pod", "installer", "scenario",
    "platform" };

int
run_pack(json_t *run, const char *json, size_t room, char **out,
    size_t *len)
{
	struct run_head h = { result_outcome_code(json_string_value(
	    json_object_get(run, "outcome"))), time_parse_iso(
	    json_string_value(json_object_get(run, "recorded"))), { 0 } };

	for (int i = 0; i < 4; i++)
		h.str[i] = json_string_value(json_object_get(run,
		    run_head_keys[i]));
	return run_pack_head(&h, json, strlen(json), room, out, len);
}

int
run_pack_head(const struct run_head *h, const char *json, size_t jl,
    size_t room, char **out, size_t *len)
{
	size_t l[4], total = 2 + 1 + 8 + 8 + 4 + jl, o;
	char *b;

	for (int i = 0; i < 4; i++) {
		l[i] = h->str[i] ? strlen(h->str[i]) : 0;
		if (l[i] > 65535)
			l[i] = 65535;
		total += l[i];
	}
	b = malloc(total + room);
	if (!b)
		return -ENOMEM;
	memcpy(b, RUN_MAGIC, 2);
	b[2] = (char)(uint8_t)h->outcome;
	memcpy(b + 3, &h->time, 8);
	o = 11;
	for (int i = 0; i < 4; i++) {
		uint16_t x = (uint16_t)l[i];

		memcpy(b + o, &x, 2);
		o += 2;
	}
	for (int i = 0; i < 4; i++) {
		memcpy(b + o, h->str[i] ? h->str[i] : "", l[i]);
		o += l[i];
		b[o++] = '\0';
	}
	if (json)
		memcpy(b + o, json, jl);
	*out = b;
	*len = total;
	return 0;
}

int
run_unpack(const char *b, size_t len, struct run_summary *s)
{
	size_t o = 19;
	uint16_t l[4];

	if (len < 19 || memcmp(b, RUN_MAGIC, 2) != 0)
		return -EIO;
	s->outcome = (unsigned char)b[2];
	s->pass = s->outcome == RESULT_PASS;
	memcpy(&s->time, b + 3, 8);
	for (int i = 0; i < 4; i++)
		memcpy(&l[i], b + 11 + 2 * i, 2);
	for (int i = 0; i < 4; i++) {
		if (o + l[i] + 1 > len || b[o + l[i]] != '\0')
			return -EIO;
		s->str[i] = b + o;
		s->len[i] = l[i];
		o += l[i] + 1;
	}
	s->json = b + o;
	s->jsonlen = len - o;
	return 0;
}

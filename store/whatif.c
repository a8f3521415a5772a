/*
 * whatif.c - a decision as if (relctl why --with): results parsed as the
 * mount takes them, the real evaluator, nothing recorded.  Above results
 * and promotion, which it both uses.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "results.h"
#include "stage_impl.h"

int
store_what_if(struct store *st, uint64_t art, const char *stage,
    const struct store_whatif *w, json_t **decision)
{
	struct promote_whatif pw = { NULL, 0, NULL, w->without_waivers, 0 };
	struct ctx c = { st, NULL, NULL, w->now ? w->now : store_now(st), 0,
	    &pw };
	struct crit_run *runs = NULL;
	json_t *keep = json_array(), *srec = NULL, *crit = NULL;
	size_t nruns = 0;
	char artkey[512];
	int rc;

	*decision = NULL;
	if (!keep) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = store_artifact_key(st, art, artkey)) < 0)
		goto out;
	/* the results as the mount would record them, now */
	for (size_t i = 0; i < w->n; i++) {
		json_t *parsed;

		if ((rc = result_parse(w->names[i], w->texts[i], w->lens[i],
		    &parsed)) < 0) {
			store_prefixerr(rc, "what if: %s", w->names[i]);
			goto out;
		}
		json_array_extend(keep, parsed);
		json_decref(parsed);
	}
	if (!(runs = calloc(json_array_size(keep) + 1, sizeof(*runs)))) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < json_array_size(keep); i++) {
		json_t *run = json_array_get(keep, i);
		int code = result_outcome_code(json_string_value(
		    json_object_get(run, "outcome")));
		struct crit_run *r = &runs[nruns];

		if (code == RESULT_SKIP)
			continue;	/* counts as neither */
		nruns++;
		r->testcase = json_string_value(json_object_get(run,
		    "testcase"));
		r->pass = code == RESULT_PASS;
		r->error = code == RESULT_ERROR;
		r->time = c.now;
		r->pod = json_string_value(json_object_get(run, "pod"));
		r->installer = json_string_value(json_object_get(run,
		    "installer"));
		r->scenario = json_string_value(json_object_get(run,
		    "scenario"));
		r->platform = json_string_value(json_object_get(run,
		    "platform"));
	}
	pw.runs = runs;
	pw.nruns = nruns;
	if (w->criteria && (rc = crit_parse(w->criteria, w->clen,
	    &crit)) < 0) {
		store_prefixerr(rc, "what if: criteria");
		goto out;
	}
	pw.criteria = crit;
	/* a reader's transaction, never committed: nothing is recorded */
	if ((rc = index_begin(st->ix, 1, &c.txn)) < 0)
		goto out;
	if (!(srec = txn_stage_rec(&c, stage)))
		rc = store_seterr(-ENOENT, "stage '%s' does not exist", stage);
	else
		rc = promote_decide(&c, art, artkey, stage, srec, decision);
	index_abort(c.txn);
out:
	json_decref(srec);
	json_decref(crit);
	json_decref(keep);
	free(runs);
	return rc;
}

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
	struct crit_run *runs = calloc(w->n + 1, sizeof(*runs));
	json_t *keep = json_array(), *srec = NULL, *crit = NULL;
	char artkey[512];
	int rc;

	*decision = NULL;
	if (!runs || !keep) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = store_artifact_key(st, art, artkey)) < 0)
		goto out;
	/* the results as the mount would record them, now */
	for (size_t i = 0; i < w->n; i++) {
		json_t *run;
		const char *o;

		if ((rc = result_parse(w->names[i], w->texts[i], w->lens[i],
		    &run)) < 0) {
			store_prefixerr(rc, "what if: %s", w->names[i]);
			goto out;
		}
		json_array_append_new(keep, run);
		o = json_string_value(json_object_get(run, "outcome"));
		runs[i].testcase = json_string_value(json_object_get(run,
		    "testcase"));
		runs[i].pass = o && strcmp(o, "PASS") == 0;
		runs[i].time = c.now;
		runs[i].pod = json_string_value(json_object_get(run, "pod"));
		runs[i].installer = json_string_value(json_object_get(run,
		    "installer"));
		runs[i].scenario = json_string_value(json_object_get(run,
		    "scenario"));
		runs[i].platform = json_string_value(json_object_get(run,
		    "platform"));
	}
	pw.runs = runs;
	pw.nruns = w->n;
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

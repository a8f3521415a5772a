/*
 * crit.h - promotion criteria and their evaluation.
 *
 * crit_eval() is a pure function: the criteria layers of one stage (the
 * stage's own, the project's, the scenario's), one artifact's runs,
 * approvals and waivers, the stage's hold and the time, in; a decision,
 * typed reasons for what is unmet and the evidence for what is met, out.
 * No LMDB, no FUSE: unit-testable with plain data, reused by the daemon,
 * relctl and releases.
 *
 * Criteria (JSON): {"after": STAGE, "soak": "24h", "approvals": N,
 *   "require": [RULE...]}, RULE = {"testcase": NAME_OR_GLOB} plus at most
 *   one of "consecutive": N | "pass": K, "of": M | "ratio": R,
 *   "min_runs": M; optionally "where": {"pod","installer","scenario": GLOB}
 *   and "golden": STAGE.
 */
#ifndef RELFS_CRIT_H
#define RELFS_CRIT_H

#include <jansson.h>
#include <stdint.h>
#include <sys/types.h>

/* One recorded run of one test case on the artifact. */
struct crit_run {
	const char *testcase;
	int pass;
	uint64_t no;		/* run number, in recording order */
	int64_t time;
	const char *pod, *installer, *scenario;
	const char *platform;	/* "<project>/<version>" or NULL */
	int error;		/* a failure that was an error (ERROR) */
};

struct crit_approval {
	uid_t uid;
	const char *user;
	int64_t time;
};

struct crit_waiver {
	const char *testcase;
	const char *reason;
	const char *scenario;	/* glob, or NULL for every scenario */
	int64_t expires;	/* 0: never */
	const char *user;
};

/* Is platform ("p/v") promoted to stage?  Used by "golden" rules. */
typedef int (*crit_golden_fn)(void *arg, const char *platform,
    const char *stage);

struct crit_input {
	json_t *layers[3];	/* stage, project, scenario criteria (or NULL) */
	const char *scenario;	/* the artifact's scenario ("" when none) */
	const struct crit_run *runs;	/* any order: recording order is time,
					 * then run number */
	size_t nruns;
	const struct crit_approval *approvals;
	size_t napprovals;
	const struct crit_waiver *waivers;
	size_t nwaivers;
	const char *hold;	/* reason, or NULL when the stage is not held */
	int revoked;
	int after_promoted;	/* promoted to the "after" stage */
	int64_t after_at;	/* when */
	crit_golden_fn golden;
	void *golden_arg;
	int64_t now;
};

/*
 * Check one criteria document; 0 or -EINVAL with a message naming what is
 * wrong (unknown key, bad rule, bad duration ...).
 */
int crit_check(json_t *criteria);

/* Parse criteria text (JSON, no duplicate keys) and check it. */
int crit_parse(const char *text, size_t len, json_t **out);

/*
 * Parse "90s", "30m", "24h", "2d" (or a plain number of seconds): 0, -EINVAL
 * for anything else, -ERANGE for more than ten years.
 */
int crit_duration(const char *s, int64_t *secs);

/*
 * Evaluate.  *out gets {"promote": bool, "unmet": [{type, testcase?,
 * detail}], "evidence": [...]}; the caller owns it.  Unmet types:
 * previous-stage-missing, result-missing, result-failed, not-enough-runs,
 * approval-missing, soaking, stage-held, revoked (and, in a status,
 * manual-promotion: met on a stage with "automatic": false).
 */
int crit_eval(const struct crit_input *in, json_t **out);

/* A test case's score from its runs' outcomes, oldest first (-1 no run,
 * 0 never passed, 1 passed once, 2 passed more than once). */
int crit_score(const int *pass, size_t n);

/*
 * The stages criteria c come after: "after" as one name or a list of them
 * (every one must hold the artifact).  At most max into names; returns how
 * many there are.
 */
#define CRIT_AFTER_MAX 16

/*
 * Does a stage of criteria c apply to project (its "projects" globs; no
 * "projects": every project)?
 */
int crit_applies(const json_t *c, const char *project);
size_t crit_afters(const json_t *c, const char **names, size_t max);

/*
 * What an unmet reason names, for people: its type, then its value of key
 * ("testcase" for an artifact's reasons, "project" for a release's) when it
 * has one ("result-failed vping"), into buf of len bytes. Returns buf.
 */
const char *crit_unmet_label(const json_t *u, const char *key, char *buf,
    size_t len);

/* Wake-up time: the earliest moment a "soaking" or waiver expiry could
 * change the decision (0 when nothing depends on time). */
int64_t crit_next_wakeup(const struct crit_input *in);

#endif

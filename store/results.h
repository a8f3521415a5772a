/*
 * results.h - test results: what a file written to results/ means.
 *
 * Accepted: the OPNFV test-results record (case_name, criteria, optional
 * project_name, pod_name, installer, scenario, version, build_tag,
 * start_date, stop_date, details), {"testcase": ..., "outcome": ...}, or
 * the bare word (the test case is the file name without its extension):
 * one run.  A JSON array of such records, JSON Lines of them, TAP, or
 * JUnit XML: one run per entry (a record, a TAP test line, a <testcase>),
 * all or nothing.  Outcomes: PASS, FAIL, ERROR (counts as a failure, shown
 * as an error) and SKIP (shown, counts as neither).  An optional
 * "platform": "<project>/<version>" names the platform artifact the run
 * used (golden rules).
 */
#ifndef RELFS_RESULTS_H
#define RELFS_RESULTS_H

#include <jansson.h>
#include <stddef.h>

#define RESULT_MAX (1 << 20)
#define RESULT_MAX_RUNS 10000	/* runs in one file (relctl import: any) */

/*
 * Parse one result file into an array of its runs, each {testcase,
 * outcome, format, pod, installer, scenario, platform, build_tag, version,
 * project_name, start_date, stop_date, record} (as far as the file gives
 * them); -EINVAL with a message when it is none of the accepted forms or
 * one of its entries is no run, -EFBIG past RESULT_MAX (result_formats.c).
 */
int result_parse(const char *filename, const char *buf, size_t len,
    json_t **out);

/* The run of a record already parsed (rec: a JSON object, kept). */
int result_run(const char *filename, json_t *rec, json_t **out);

/*
 * What result_run makes of a record, without making it (an import asks it
 * of a million records): the test case, outcome (a static spelling) and
 * format, and the record's strings the run copies, by their run keys
 * (pod, installer, ...), in the run's order.  Valid while rec is.
 */
#define RUN_COPIED_MAX 10
struct run_view {
	const char *testcase, *outcome, *format;
	size_t ncopied;
	const char *key[RUN_COPIED_MAX];
	json_t *value[RUN_COPIED_MAX];
};

int result_view(const char *filename, json_t *rec, struct run_view *v);

/* The string the run has for key ("pod", ...), or NULL. */
const char *result_view_get(const struct run_view *v, const char *key);

/* An outcome as the index keeps it (run_pack): PASS, FAIL, ERROR, SKIP. */
enum { RESULT_FAIL = 0, RESULT_PASS = 1, RESULT_ERROR = 2, RESULT_SKIP = 3 };
int result_outcome_code(const char *outcome);

#endif

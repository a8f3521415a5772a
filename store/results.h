/*
 * results.h - test results: what a file written to results/ means.
 *
 * Accepted: the OPNFV test-results record (case_name, criteria PASS/FAIL,
 * optional project_name, pod_name, installer, scenario, version, build_tag,
 * start_date, stop_date, details), {"testcase": ..., "outcome": PASS|FAIL},
 * or the bare word PASS or FAIL (the test case is the file name without its
 * extension).  An optional "platform": "<project>/<version>" names the
 * platform artifact the run used (golden rules).
 */
#ifndef RELFS_RESULTS_H
#define RELFS_RESULTS_H

#include <jansson.h>
#include <stddef.h>

#define RESULT_MAX (1 << 20)

/*
 * Parse one result file into a run record {testcase, outcome, format, pod,
 * installer, scenario, platform, build_tag, version, project_name,
 * start_date, stop_date, record}; -EINVAL with a message when it is none
 * of the accepted forms, -EFBIG past RESULT_MAX.
 */
int result_parse(const char *filename, const char *buf, size_t len,
    json_t **out);

/* The same from a record already parsed (rec: a JSON object, kept). */
int result_run(const char *filename, json_t *rec, json_t **out);

#endif

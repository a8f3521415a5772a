/*
 * formats.h - one parser for each kind of file a user writes.  Each takes
 * the bytes as given, checks all of them and returns the JSON the store
 * keeps (the caller owns it), or a negative errno with store_errmsg()
 * naming what is wrong.  None touches a store or a file: tests/fuzz runs
 * each of them on hostile bytes.
 *
 * Declared elsewhere, by the concept they belong to:
 *   result_parse          results/ files, every format   (results.h)
 *   crit_parse            criteria                        (crit.h)
 *   crit_duration         durations such as "36h"         (crit.h)
 *   pins_from_text        the `pins` file                 (manifest.h)
 *   artifact_json_parse   artifact.json                   (manifest.h)
 *   manifest_load         manifest.json from the ledger   (manifest.h)
 *   name_check            project, version, stage... names (util.h)
 *   webhooks_parse        STORE/webhooks.json             (deliver.h)
 */
#ifndef RELFS_FORMATS_H
#define RELFS_FORMATS_H

#include <jansson.h>
#include <stddef.h>

#include "crit.h"
#include "manifest.h"
#include "results.h"
#include "util.h"

/* scenario.json: projects (required), installer(s), components,
 * description. */
int scenario_json_parse(const char *text, size_t len, json_t **out);

/* release.json: stage (required), target (ISO time), require (rules),
 * description.  That the stage exists is the caller's to check. */
int release_json_parse(const char *text, size_t len, json_t **out);

/* A waiver's body: a reason as text, or {"reason", "expires",
 * "scenario"}; the record without testcase, by and at. */
int waiver_parse(const char *testcase, const char *body, size_t len,
    json_t **out);

#endif

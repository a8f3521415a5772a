/*
 * manifest.h - an artifact's manifest: what it contains and pins.
 *
 * The manifest is a JSON object (jansson) with project, version, created,
 * created_by, scenario, installer, description, files and pins.  Its id is
 * the SHA-256 of the canonical form (sorted keys, compact, without "id");
 * manifest.json is the pretty form with "id" added, so the bytes are a pure
 * function of the content and a rebuild reproduces them exactly.
 */
#ifndef RELFS_MANIFEST_H
#define RELFS_MANIFEST_H

#include <jansson.h>
#include <stdint.h>

#include "util.h"

enum mf_type { MF_FILE, MF_DIR, MF_SYMLINK };

/* A new manifest without files or pins.  Empty strings are left out. */
json_t *manifest_new(const char *project, const char *version,
    const char *scenario, const char *installer, const char *description,
    int64_t created, const char *created_by);

/* Append one entry (entries must come in path order). */
int manifest_add(json_t *m, const char *path, enum mf_type type,
    uint32_t mode, uint64_t size, const uint8_t digest[DIGEST_LEN]);

/* Set the pins (an array checked by pins_check); the caller keeps its
 * reference. */
void manifest_set_pins(json_t *m, json_t *pins);

/* Compute the id, add it, and render manifest.json (the caller frees). */
int manifest_finish(json_t *m, char **text, size_t *len);

/* Parse and check manifest.json (every field, and that the id is right). */
int manifest_load(const char *text, size_t len, json_t **out);

/* Pins from the tab-separated `pins` file: name version sha256 url [size]. */
int pins_from_text(const char *text, json_t **out);

/*
 * Parse and check artifact.json: an object of scenario, installer and
 * description (strings) and pins (checked by pins_check).
 */
int artifact_json_parse(const char *text, size_t len, json_t **out);

/* Check an array of pin objects (from artifact.json or a manifest). */
int pins_check(json_t *pins);

/* The `pins` file of an artifact: one tab-separated line per pin. */
int manifest_pins_text(json_t *m, char **out, size_t *len);

/* artifact.properties: KEY=VALUE lines a shell can source. */
int manifest_properties(json_t *m, char **out, size_t *len);

/* Accessors for a loaded manifest. */
const char *mf_str(json_t *m, const char *key);
int mf_entry(json_t *m, size_t i, const char **path, enum mf_type *type,
    uint32_t *mode, uint64_t *size, uint8_t digest[DIGEST_LEN]);
size_t mf_count(json_t *m);

#endif

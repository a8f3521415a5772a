/*
 * cas.h - the content store: file bodies addressed by their SHA-256.
 *
 * An object is written to a temporary name under STORE/tmp, hashed while it
 * is written, and renamed to STORE/objects/<2 hex>/<62 hex> only when it is
 * complete, so a crash leaves at most an unreferenced temporary file.  The
 * same bytes are stored once however many artifacts refer to them.  Objects
 * are read with pread() from a descriptor; nothing loads a whole object.
 */
#ifndef RELFS_CAS_H
#define RELFS_CAS_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

struct cas;

/* Called as bytes are stored, with the number of new bytes. */
typedef void (*cas_progress_fn)(void *arg, uint64_t bytes);

/* Open (and create the directories of) the content store under root. */
int cas_open(struct cas **out, const char *root);
void cas_close(struct cas *cas);

/* Store everything readable from fd; out gets the digest, size the length. */
int cas_put_fd(struct cas *cas, int fd, uint8_t out[DIGEST_LEN],
    uint64_t *size, cas_progress_fn progress, void *arg);

/* Store a buffer. */
int cas_put_buf(struct cas *cas, const void *buf, size_t len,
    uint8_t out[DIGEST_LEN]);

/* Open an object read-only; *fd is the caller's to close. -ENOENT if absent. */
int cas_open_object(struct cas *cas, const uint8_t d[DIGEST_LEN], int *fd);

/* Read a small object whole (at most max bytes), NUL-terminated. */
int cas_read_all(struct cas *cas, const uint8_t d[DIGEST_LEN], size_t max,
    char **buf, size_t *len);

/* True when the object exists. */
int cas_has(struct cas *cas, const uint8_t d[DIGEST_LEN]);

/*
 * Re-hash an object: 0 when its bytes match its name, -ENOENT when it is
 * missing, -EIO when it is corrupt (with a message naming it).
 */
int cas_check(struct cas *cas, const uint8_t d[DIGEST_LEN], uint64_t *size);

/*
 * Move STORE/tmp/<tmpname>, known to hold d's bytes, into the store under
 * d once its bytes are on disk, so that a power cut never leaves a short
 * object under a digest.  It is removed if it cannot be stored.
 */
int cas_adopt(struct cas *cas, const char *tmpname,
    const uint8_t d[DIGEST_LEN]);

/* Make every object written so far durable (one syncfs of the store). */
int cas_sync(struct cas *cas);

/* The path of an object, for messages. */
void cas_path(struct cas *cas, const uint8_t d[DIGEST_LEN], char *out,
    size_t outlen);

#endif

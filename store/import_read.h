/*
 * import_read.h - the reading side of relctl import: the lines of a file
 * of OPNFV records parsed into what the index keeps of their runs, on a
 * thread of its own, and handed over in the file's order.
 */
#ifndef RELFS_IMPORT_READ_H
#define RELFS_IMPORT_READ_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

/*
 * One line of the file that was not blank, parsed: its run packed for the
 * index (run_pack), whose JSON, what an import keeps of a run (see
 * run_complete), ends in "run": for the number (and a '}') to be added in
 * the room left for them.
 */
struct import_line {
	char *why;		/* NULL, or why the line is refused */
	char *artifact;		/* "p/v" */
	char *tc;		/* the test case */
	char *packed;
	size_t packed_len;
	size_t json_at;		/* where the JSON starts in packed */
	size_t rec_len;		/* the record's, at json_at + KEPT_REC_AT */
	size_t size1;		/* the run file's size, were it run 1 */
	size_t lineno;
	int outcome;		/* RESULT_PASS, ... (results.h) */
};

#define IMPORT_NO_ROOM 24	/* room in packed for the number and '}' */
#define KEPT_REC_AT 10		/* the record in the JSON: {"record":... */

/* What every line of an import gets. */
struct import_how {
	json_t *stamp;		/* recorded, user, uid */
	const char *stamp_text;	/* the same in JSON, without its braces */
	int64_t recorded;	/* the stamp's time */
	const char *artifact;	/* "p/v" for a record naming none, or NULL */
};

struct import_reader;

/*
 * Give jansson the parsers' allocator (see import_read.c): once, before
 * any thread that uses jansson beside the parsers starts.
 */
void import_read_prepare(void);

/* Start parsing f on threads of their own, as how says.  0, or < 0. */
int import_read_start(struct import_reader **out, FILE *f,
    const struct import_how *how);

/*
 * The next line that is not blank: 1 (*out is the reader's until the next
 * call; *bytes is how far into the file the parser has read), 0 at the
 * end, or < 0 when the file could not be read.
 */
int import_read_next(struct import_reader *r, struct import_line **out,
    uint64_t *bytes);

/* Stop (when it has not ended) and free r. */
void import_read_stop(struct import_reader *r);

#endif

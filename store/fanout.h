/*
 * fanout.h - where the ledger keeps a path of the store (its layout).
 *
 * The store names things as the mount shows them ("logical" paths:
 * runs/<p>/<v>/<testcase>/000123.json).  A git tree is rewritten whole
 * whenever one entry of it changes, so a directory of 100,000 runs, or of
 * 28,000 test cases, made every change cost as much as that directory.
 * Layout 2 (store.json "format": 2) fans such directories out, as
 * git-annex and Git LFS do with their objects:
 *
 *   artifacts/<p>/<v>/...       -> artifacts/<p>/<h(v)>/<v>/...
 *   runs/<p>/<v>/<tc>/<n>.json  -> runs/<p>/<h(v)>/<v>/<h(tc)>/<tc>/
 *                                  <n / 10000>/<n / 100 % 100>/<n>.json
 *   promotions/<s>/<p>/<v>.json -> promotions/<s>/<p>/<h(v)>/<v>.json
 *   approvals/<p>/<v>/...       -> approvals/<p>/<h(v)>/<v>/...
 *   waivers/<p>/<v>/...         -> waivers/<p>/<h(v)>/<v>/...
 *
 * h(x) is the first two hex digits of SHA-256(x): at most 256 entries a
 * level, and at most 100 runs a directory.  An import writes the runs of
 * one test case and bucket in one file, <first>-<last>.jsonl (a run a
 * line), filed where its first run's <n>.json would be.  Everything else
 * (store.json, projects/, stages/, scenarios/, releases/, config.json)
 * keeps its path.
 * Layout 1, the stores written before, keeps every path as it is.
 */
#ifndef RELFS_FANOUT_H
#define RELFS_FANOUT_H

#include <stddef.h>

#define FANOUT_FORMAT 2		/* the layout new stores and changes get */
#define FANOUT_RUNS_A_DIR 100	/* runs in a bucket of the layout */

/*
 * The ledger path of a logical path in layout format, into out (len
 * bytes).  0, or -ENAMETOOLONG.
 */
int fanout_path(int format, const char *logical, char *out, size_t len);

/*
 * The logical path of a ledger path in layout format (the inverse of
 * fanout_path), into out.  0, -ENAMETOOLONG, or -EINVAL for a path that
 * layout cannot hold (a bucket that is not its name's).
 */
int fanout_logical(int format, const char *stored, char *out, size_t len);

/*
 * The runs a run file of the ledger holds, by its name: "<n>.json" holds
 * run n, "<n>-<m>.jsonl" runs n to m of one bucket.  0, or -1 for a name
 * that is neither.
 */
int fanout_run_range(const char *name, long long *first, long long *last);

#endif

/* Unit tests of the git ledger. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "ledger.h"

static int
count_blob(void *arg, const char *path, const char *data, size_t len)
{
	(void)path;
	(void)data;
	(void)len;
	(*(int *)arg)++;
	return 0;
}

static void
test_commits(void **state)
{
	char *dir = tmpdir_new(), path[4096], *buf, *report;
	struct ledger_change ch[2] = {
		{ "artifacts/fuel/1/manifest.json", "{}\n", 3, 0 },
		{ "projects/fuel/project.json", "{\"name\":\"fuel\"}", 15, 0 },
	};
	struct ledger_tag tag = { "promote/daily/fuel/1", "evidence" };
	struct store_user bob = { 1234, 1234, "bob", 0, { 0 } };
	struct ledger *lg;
	uint64_t seq, n;
	size_t len;
	int blobs = 0;

	(void)state;
	snprintf(path, sizeof(path), "%s/l.git", dir);
	assert_int_equal(ledger_init(path), 0);
	assert_int_equal(ledger_open(&lg, path), 0);
	assert_int_equal(ledger_last_seq(lg, &seq), 0);
	assert_int_equal(seq, 0);
	assert_int_equal(ledger_read(lg, "x", &buf, &len), -ENOENT);
	assert_int_equal(ledger_commit(lg, ch, 2, NULL, 0, &bob, 1700000000,
	    "publish fuel 1", 5), 0);
	assert_int_equal(ledger_commit(lg, ch, 1, &tag, 1, &bob, 1700000001,
	    "again", 6), 0);
	assert_int_equal(ledger_last_seq(lg, &seq), 0);
	assert_int_equal(seq, 6);
	assert_int_equal(ledger_count(lg, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(ledger_read(lg, "projects/fuel/project.json", &buf,
	    &len), 0);
	assert_int_equal(len, 15);
	assert_string_equal(buf, "{\"name\":\"fuel\"}");
	free(buf);
	assert_int_equal(ledger_walk(lg, count_blob, &blobs), 0);
	assert_int_equal(blobs, 2);
	/* a removal, and the removal of what is not there */
	ch[1].remove = 1;
	ch[0].path = "waivers/absent.json";
	ch[0].remove = 1;
	assert_int_equal(ledger_commit(lg, ch, 2, NULL, 0, &bob, 1700000002,
	    "withdraw", 7), 0);
	assert_int_equal(ledger_read(lg, "projects/fuel/project.json", &buf,
	    &len), -ENOENT);
	blobs = 0;
	assert_int_equal(ledger_walk(lg, count_blob, &blobs), 0);
	assert_int_equal(blobs, 1);
	assert_int_equal(ledger_fsck(path, &report), 0);
	ledger_close(lg);
	tmpdir_free(dir);
}

/* What git prints for a command on repo (its first 4 KiB). */
static void
git_out(const char *repo, const char *args, char *out, size_t len)
{
	char cmd[4400];
	size_t got;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "git --git-dir=%s %s", repo, args);
	f = popen(cmd, "r");
	assert_non_null(f);
	got = fread(out, 1, len - 1, f);
	out[got] = '\0';
	pclose(f);
}

/*
 * In a batch, the changes of one user that follow each other are one
 * commit listing each; another user, another second, or a tag, ends it.
 * A single change's commit reads as it always did.
 */
static void
test_group_commits(void **state)
{
	char *dir = tmpdir_new(), path[4096], out[4096], name[64];
	char *report = NULL;
	struct store_user bob = { 1234, 1234, "bob", 0, { 0 } };
	struct store_user eve = { 1235, 1235, "eve", 0, { 0 } };
	struct ledger_tag tag = { "promote/daily/p/1", "promoted" };
	struct ledger_change ch = { name, "x\n", 2, 0 };
	struct ledger *lg;
	uint64_t n, seq;

	(void)state;
	snprintf(path, sizeof(path), "%s/l.git", dir);
	assert_int_equal(ledger_init(path), 0);
	assert_int_equal(ledger_open(&lg, path), 0);
	assert_int_equal(ledger_batch_begin(lg), 0);
	for (int i = 1; i <= 3; i++) {
		snprintf(name, sizeof(name), "runs/p/1/t/%06d.json", i);
		assert_int_equal(ledger_commit(lg, &ch, 1, NULL, 0, &bob,
		    1700000001, i == 2 ? "result t 2" : "result t",
		    (uint64_t)i), 0);
	}
	/* a tagged change ends the commit it is in */
	snprintf(name, sizeof(name), "promotions/daily/p/1.json");
	assert_int_equal(ledger_commit(lg, &ch, 1, &tag, 1, &bob, 1700000001,
	    "promote p 1 to daily", 4), 0);
	/* another user: a commit of her own */
	snprintf(name, sizeof(name), "runs/p/1/t/%06d.json", 4);
	assert_int_equal(ledger_commit(lg, &ch, 1, NULL, 0, &eve, 1700000005,
	    "result t", 5), 0);
	/* a removal of what is there and an upsert of the same path later */
	ch.remove = 1;
	assert_int_equal(ledger_commit(lg, &ch, 1, NULL, 0, &eve, 1700000005,
	    "withdraw", 6), 0);
	ch.remove = 0;
	assert_int_equal(ledger_commit(lg, &ch, 1, NULL, 0, &eve, 1700000005,
	    "again", 7), 0);
	assert_int_equal(ledger_batch_end(lg), 0);
	assert_int_equal(ledger_count(lg, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(ledger_last_seq(lg, &seq), 0);
	assert_int_equal(seq, 7);
	git_out(path, "log -1 --format=%B%an HEAD~1", out, sizeof(out));
	assert_string_equal(out, "result t (and 3 more changes)\n\n"
	    "1 result t\n2 result t 2\n3 result t\n4 promote p 1 to daily\n"
	    "\nRelfs-Changes: 4\nRelfs-First-Seq: 1\nRelfs-Seq: 4\n"
	    "Relfs-Uid: 1234\nbob\n");
	git_out(path, "rev-parse promote/daily/p/1^{commit} HEAD~1", out,
	    sizeof(out));
	assert_int_equal(strlen(out), 82);
	assert_memory_equal(out, out + 41, 40);
	git_out(path, "log -1 --format=%an%n%s HEAD", out, sizeof(out));
	assert_string_equal(out, "eve\nresult t (and 2 more changes)\n");
	/* the file removed and put back is there; its layout is fanned out */
	git_out(path, "ls-tree -r --name-only HEAD", out, sizeof(out));
	assert_non_null(strstr(out, "/t/00/00/000004.json"));
	ledger_close(lg);
	/* a single change outside a batch reads as it always did */
	assert_int_equal(ledger_open(&lg, path), 0);
	ch.path = "stages/daily/stage.json";
	assert_int_equal(ledger_commit(lg, &ch, 1, NULL, 0, &bob, 1700000008,
	    "create stage daily", 8), 0);
	git_out(path, "log -1 --format=%B HEAD", out, sizeof(out));
	assert_string_equal(out, "create stage daily\n\nRelfs-Seq: 8\n"
	    "Relfs-Uid: 1234\n\n");
	/* a change of another second ends the commit: its time is theirs */
	assert_int_equal(ledger_batch_begin(lg), 0);
	for (int i = 9; i <= 11; i++) {
		snprintf(name, sizeof(name), "runs/p/1/t/%06d.json", i);
		ch.path = name;
		assert_int_equal(ledger_commit(lg, &ch, 1, NULL, 0, &bob,
		    1700000009 + (i == 11), "result t", (uint64_t)i), 0);
	}
	assert_int_equal(ledger_batch_end(lg), 0);
	git_out(path, "log -3 --format=%at/%s HEAD", out, sizeof(out));
	assert_string_equal(out, "1700000010/result t\n"
	    "1700000009/result t (and 1 more change)\n"
	    "1700000008/create stage daily\n");
	assert_int_equal(ledger_fsck(path, &report), 0);
	free(report);
	ledger_close(lg);
	tmpdir_free(dir);
}

/* how many files of repo's objects/pack match the grep pattern */
static int
count_in_packs(const char *repo, const char *pattern)
{
	char cmd[4200], line[64];
	int n = -1;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "ls %s/objects/pack | grep -c '%s'",
	    repo, pattern);
	f = popen(cmd, "r");
	if (f && fgets(line, sizeof(line), f))
		n = atoi(line);
	if (f)
		pclose(f);
	return n;
}

static int
count_packs(const char *repo)
{
	return count_in_packs(repo, "\\.pack$");
}

static int
stop_now(void *arg)
{
	return *(int *)arg;
}

/* batch b: runs b + 1 of test cases t0-t2, changes 3b + 1 to 3b + 3 */
static void
write_batch(struct ledger *lg, int b)
{
	struct store_user bob = { 1234, 1234, "bob", 0, { 0 } };
	char name[64], body[64];

	assert_int_equal(ledger_batch_begin(lg), 0);
	for (int i = 0; i < 3; i++) {
		struct ledger_change ch = { name, body, 0, 0 };

		snprintf(name, sizeof(name), "runs/p/v/t%d/%06d.json", i, b + 1);
		ch.len = (size_t)snprintf(body, sizeof(body), "{\"n\": %d}\n",
		    b * 3 + i);
		assert_int_equal(ledger_commit(lg, &ch, 1, NULL, 0, &bob,
		    1700000000 + b, "run", (uint64_t)(b * 3 + i + 1)), 0);
	}
	assert_int_equal(ledger_batch_end(lg), 0);
}

/* a new ledger dir/l.git (its path into path) of batches 0 to n - 1 */
static struct ledger *
ledger_of_batches(char *path, size_t size, const char *dir, int n)
{
	struct ledger *lg;

	snprintf(path, size, "%s/l.git", dir);
	assert_int_equal(ledger_init(path), 0);
	assert_int_equal(ledger_open(&lg, path), 0);
	for (int b = 0; b < n; b++)
		write_batch(lg, b);
	assert_int_equal(count_packs(path), n);
	return lg;
}

/* the ledger's file at path holds text */
static void
assert_file(struct ledger *lg, const char *path, const char *text)
{
	size_t len;
	char *buf;

	assert_int_equal(ledger_read(lg, path, &buf, &len), 0);
	assert_int_equal(len, strlen(text));
	assert_memory_equal(buf, text, len);
	free(buf);
}

/*
 * A batch is one packfile; once there are more than 16 the small ones are
 * merged, and every commit and file is still there, fsck clean.
 */
static void
test_batches_and_tidy(void **state)
{
	char *dir = tmpdir_new(), path[4096], *buf;
	struct ledger *lg;
	uint64_t seq, n;

	(void)state;
	lg = ledger_of_batches(path, sizeof(path), dir, 20);
	/* a step bounded to one byte merges nothing (a few packs) */
	assert_int_equal(ledger_tidy(lg, LEDGER_TIDY_PACKS, 1), 0);
	assert_int_equal(count_packs(path), 20);
	/* a step that holds them: packs of about one size, all merge */
	assert_int_equal(ledger_tidy(lg, LEDGER_TIDY_PACKS, LEDGER_TIDY_STEP),
	    20);
	assert_int_equal(count_packs(path), 1);
	assert_int_equal(ledger_tidy(lg, LEDGER_TIDY_PACKS, 0), 0);
	assert_int_equal(count_packs(path), 1);
	/* the three changes of one user in a batch are one commit */
	assert_int_equal(ledger_count(lg, &n), 0);
	assert_int_equal(n, 20);
	assert_int_equal(ledger_last_seq(lg, &seq), 0);
	assert_int_equal(seq, 60);
	assert_file(lg, "runs/p/v/t2/000007.json", "{\"n\": 20}\n");
	/* a few packs: nothing to do */
	assert_int_equal(ledger_tidy(lg, LEDGER_TIDY_PACKS, 0), 0);
	assert_int_equal(count_packs(path), 1);
	assert_int_equal(ledger_fsck(path, &buf), 0);
	free(buf);
	ledger_close(lg);
	tmpdir_free(dir);
}

/*
 * The daemon's merge: planned, written beside a batch that comes in the
 * meantime (which it leaves alone), then swapped in; a stopped merge and
 * one whose packs went meanwhile change nothing.
 */
static void
test_merge_beside(void **state)
{
	char *dir = tmpdir_new(), path[4096], *buf;
	struct ledger_merge *m = NULL;
	struct ledger *lg;
	int stop = 1;
	uint64_t n;

	(void)state;
	lg = ledger_of_batches(path, sizeof(path), dir, 20);
	assert_int_equal(ledger_merge_plan(lg, 20, &m), 0);
	assert_null(m);
	assert_int_equal(ledger_merge_plan(lg, LEDGER_TIDY_PACKS, &m), 1);
	/* stopped: -ECANCELED, the packs as they were */
	assert_int_equal(ledger_merge_write(m, stop_now, &stop), -ECANCELED);
	assert_string_equal(store_errmsg(),
	    "ledger: the merge of 20 packs was stopped");
	assert_int_equal(count_packs(path), 20);
	assert_int_equal(count_in_packs(path, "."), 40);	/* nothing else */
	stop = 0;
	assert_int_equal(ledger_merge_write(m, stop_now, &stop), 0);
	assert_int_equal(count_packs(path), 21);
	write_batch(lg, 20);	/* the ledger goes on meanwhile */
	assert_int_equal(count_packs(path), 22);
	assert_int_equal(ledger_merge_finish(lg, m), 20);
	ledger_merge_free(m);
	assert_int_equal(count_packs(path), 2);
	assert_int_equal(ledger_count(lg, &n), 0);
	assert_int_equal(n, 21);
	assert_file(lg, "runs/p/v/t2/000007.json", "{\"n\": 20}\n");
	assert_file(lg, "runs/p/v/t0/000021.json", "{\"n\": 60}\n");
	/* a few packs: nothing to plan */
	assert_int_equal(ledger_merge_plan(lg, LEDGER_TIDY_PACKS, &m), 0);
	/* packs merged by another writer between the plan and the write */
	for (int b = 21; b < 40; b++)
		write_batch(lg, b);
	assert_int_equal(ledger_merge_plan(lg, LEDGER_TIDY_PACKS, &m), 1);
	assert_int_equal(ledger_tidy(lg, LEDGER_TIDY_PACKS, 0), 21);
	assert_int_equal(count_packs(path), 1);
	assert_true(ledger_merge_write(m, stop_now, &stop) < 0);
	ledger_merge_free(m);
	assert_int_equal(count_packs(path), 1);
	assert_int_equal(count_in_packs(path, "."), 2);
	assert_int_equal(ledger_count(lg, &n), 0);
	assert_int_equal(n, 40);
	assert_int_equal(ledger_fsck(path, &buf), 0);
	free(buf);
	ledger_close(lg);
	tmpdir_free(dir);
}

struct seen {
	char names[8][64];
	char ids[8][41];
	int64_t ats[8];
	int tags[8];
	int n;
};

static int
seen_name(void *arg, const char *name, const char *id, int64_t at)
{
	struct seen *s = arg;

	if (s->n < 8) {
		snprintf(s->names[s->n], sizeof(s->names[0]), "%s", name);
		snprintf(s->ids[s->n], sizeof(s->ids[0]), "%s", id ? id : "");
		s->ats[s->n] = at;
		s->tags[s->n++] = id != NULL;
	}
	return 0;
}

static int
first_time(void *arg, const char *path, int64_t when)
{
	int64_t *t = arg;

	if (strcmp(path, "stages/daily/criteria.json") == 0 && !t[0])
		t[0] = when;
	if (strcmp(path, "stages/daily/hold") == 0 && !t[1])
		t[1] = when;
	return 0;
}

/* The past: times, ids, tags; a pinned ledger reads that commit. */
static void
test_find_and_pin(void **state)
{
	char *dir = tmpdir_new(), path[4096], id[41], first[41], tagged[41];
	char *buf;
	struct ledger_change crit = { "stages/daily/criteria.json", "{}", 2,
	    0 };
	struct ledger_change hold = { "stages/daily/hold", "stop", 4, 0 };
	struct ledger_tag tags[2] = { { "promote/daily/fuel/1", "m" },
	    { "release/2027.1", "m" } };
	struct store_user bob = { 1234, 1234, "bob", 0, { 0 } };
	struct seen seen = { .n = 0 };
	const char *const under[] = { "stages" };
	int64_t at, times[2] = { 0, 0 };
	struct ledger *lg, *past;
	size_t len;

	(void)state;
	snprintf(path, sizeof(path), "%s/l.git", dir);
	assert_int_equal(ledger_init(path), 0);
	assert_int_equal(ledger_open(&lg, path), 0);
	assert_int_equal(ledger_find(lg, "2023-11-14T22:13:20Z", id, &at),
	    -ENOENT);	/* no commit yet */
	assert_int_equal(ledger_commit(lg, &crit, 1, NULL, 0, &bob,
	    1700000000, "criteria", 1), 0);
	assert_int_equal(ledger_commit(lg, &hold, 1, &tags[0], 1, &bob,
	    1700000010, "hold", 2), 0);
	hold.remove = 1;
	assert_int_equal(ledger_commit(lg, &hold, 1, &tags[1], 1, &bob,
	    1700000020, "unhold", 3), 0);
	/* by time: the newest commit at or before it, as of that time */
	assert_int_equal(ledger_find(lg, "2023-11-14T22:13:25Z", first, &at),
	    0);
	assert_int_equal(at, 1700000005);
	assert_int_equal(ledger_find(lg, "2023-11-14T22:13:19Z", id, &at),
	    -ENOENT);	/* before the store */
	assert_int_equal(ledger_find(lg, "2999-01-01T00:00:00Z", id, &at),
	    -ENOENT);	/* to come */
	/* by id, 7 digits or all 40: as of the commit's own time */
	memcpy(path, first, 7);
	path[7] = '\0';
	assert_int_equal(ledger_find(lg, path, id, &at), 0);
	assert_string_equal(id, first);
	assert_int_equal(at, 1700000000);
	assert_int_equal(ledger_find(lg, first, id, &at), 0);
	assert_int_equal(ledger_find(lg, "0123456789abcdef0123", id, &at),
	    -ENOENT);
	assert_int_equal(ledger_find(lg, "012345", id, &at), -ENOENT);
	/* by tag, of the two kinds only */
	assert_int_equal(ledger_find(lg, "promote/daily/fuel/1", tagged, &at),
	    0);
	assert_int_equal(at, 1700000010);
	assert_int_equal(ledger_find(lg, "promote/daily/fuel/2", id, &at),
	    -ENOENT);
	assert_int_equal(ledger_find(lg, "yesterday", id, &at), -ENOENT);
	assert_int_equal(ledger_find(lg, "../../etc", id, &at), -ENOENT);
	/* the tags' names, level by level */
	assert_int_equal(ledger_tag_names(lg, "", seen_name, &seen), 0);
	assert_int_equal(seen.n, 2);
	assert_string_equal(seen.names[0], "promote");
	assert_string_equal(seen.names[1], "release");
	assert_int_equal(seen.tags[0], 0);
	seen.n = 0;
	assert_int_equal(ledger_tag_names(lg, "promote/daily/fuel", seen_name,
	    &seen), 0);
	assert_int_equal(seen.n, 1);
	assert_string_equal(seen.names[0], "1");
	assert_int_equal(seen.tags[0], 1);
	/* a whole tag comes with its commit, as ledger_find gives it */
	assert_string_equal(seen.ids[0], tagged);
	assert_int_equal(seen.ats[0], 1700000010);
	/* pinned at the tag: the hold is there; HEAD has it removed */
	snprintf(path, sizeof(path), "%s/l.git", dir);
	assert_int_equal(ledger_open(&past, path), 0);
	assert_int_equal(ledger_pin(past, tagged), 0);
	assert_int_equal(ledger_read(past, "stages/daily/hold", &buf, &len),
	    0);
	assert_string_equal(buf, "stop");
	free(buf);
	assert_int_equal(ledger_read(lg, "stages/daily/hold", &buf, &len),
	    -ENOENT);
	assert_int_equal(ledger_commit(past, &crit, 1, NULL, 0, &bob,
	    1700000030, "never", 4), -EROFS);
	/* when each file last changed, as of the pin */
	assert_int_equal(ledger_file_times(past, under, 1, first_time, times),
	    0);
	assert_int_equal(times[0], 1700000000);
	assert_int_equal(times[1], 1700000010);
	ledger_close(past);
	ledger_close(lg);
	tmpdir_free(dir);
}

/*
 * A batch's pack as the ledger writes it (ledger_pack_write): a blob of
 * 3 MB (more than one chunk handed to the indexer, and more than one
 * deflate output), the same blob at two paths, trees stored; git reads
 * every byte back and fsck is clean.
 */
static void
test_pack_written(void **state)
{
	struct store_user bob = { 1234, 1234, "bob", 0, { 0 } };
	size_t big = 3 << 20, len;
	char *dir = tmpdir_new(), path[4096], out[4096], *text = malloc(big),
	    *buf, *report = NULL, cmd[13000];
	struct ledger_change ch[4] = {
		{ "runs/p/v/t/000001.json", text, big, 0 },
		{ "runs/p/v/u/000001.json", text, big, 0 },
		{ "runs/p/v/t/000002.json", "{\"old\": 1}\n", 12, 0 },
		{ "runs/p/v/t/000002.json", "{}\n", 3, 0 },
	};
	struct ledger *lg;
	uint32_t x = 1;

	(void)state;
	assert_non_null(text);
	for (size_t i = 0; i < big; i++) {	/* compresses, but not to nothing */
		x = x * 1103515245 + 12345;
		text[i] = (char)('a' + (x >> 16) % 26);
	}
	snprintf(path, sizeof(path), "%s/l.git", dir);
	assert_int_equal(ledger_init(path), 0);
	assert_int_equal(ledger_open(&lg, path), 0);
	assert_int_equal(count_packs(path), 0);
	assert_int_equal(ledger_batch_begin(lg), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(ledger_commit(lg, &ch[i], 1, NULL, 0, &bob,
		    1700000000, "run", (uint64_t)i + 1), 0);
	assert_int_equal(ledger_batch_end(lg), 0);
	assert_int_equal(count_packs(path), 1);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(ledger_read(lg, ch[i].path, &buf, &len), 0);
		assert_int_equal(len, big);
		assert_memory_equal(buf, text, big);
		free(buf);
	}
	assert_file(lg, "runs/p/v/t/000002.json", "{}\n");
	/*
	 * the big blob once, and not the one t/000002.json had before the
	 * last change of the commit: 1 commit, 2 blobs, 13 trees (the root,
	 * runs, p, h(v), v, then h(t), t, t/0, t/0/00 and the same for u);
	 * nothing dangles
	 */
	git_out(path, "count-objects -v | grep in-pack", out, sizeof(out));
	assert_string_equal(out, "in-pack: 16\n");
	git_out(path, "fsck --dangling 2>&1", out, sizeof(out));
	assert_null(strstr(out, "dangling"));
	/* the index is git's own, byte for byte */
	snprintf(cmd, sizeof(cmd), "cd %s/objects/pack && git index-pack "
	    "-o %s/check.idx pack-*.pack >/dev/null && cmp %s/check.idx "
	    "pack-*.idx && git verify-pack pack-*.idx", path, dir, dir);
	assert_int_equal(system(cmd), 0);
	ledger_close(lg);
	assert_int_equal(ledger_fsck(path, &report), 0);
	free(report);
	free(text);
	tmpdir_free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_commits),
		cmocka_unit_test(test_batches_and_tidy),
		cmocka_unit_test(test_merge_beside),
		cmocka_unit_test(test_group_commits),
		cmocka_unit_test(test_find_and_pin),
		cmocka_unit_test(test_pack_written),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Unit tests of rebuild across the ledger's layouts (rebuild.c, fanout.c):
 * a store written before the fan-out (tests/fixtures/store-format1.tar.gz)
 * opens, its ledger moves to layout 2, and rebuilding from either layout
 * gives the same tree, node for node, as the tree the version before
 * showed of it (tests/fixtures/store-format1.snap).  Runs an import keeps
 * a file to a bucket of 100 (<first>-<last>.jsonl), beside runs written
 * one by one, rebuild into the tree they were.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "fanout.h"
#include "helpers.h"
#include "index.h"
#include "store.h"

/* dir/store: the fixture, unpacked */
static void
unpack(const char *dir)
{
	const char *fx = getenv("RELFS_FIXTURES");
	char cmd[8400];

	assert_non_null(fx);	/* make unit says where they are */
	snprintf(cmd, sizeof(cmd), "tar -xzf '%s/store-format1.tar.gz' -C '%s'",
	    fx, dir);
	assert_int_equal(system(cmd), 0);
}

static int
ledger_format_of(const char *store)
{
	char cmd[4400], line[64] = "";
	FILE *f;

	snprintf(cmd, sizeof(cmd), "git --git-dir='%s/ledger.git' show "
	    "HEAD:store.json | sed -n 's/.*\"format\": *\\([0-9]*\\).*/\\1/p'",
	    store);
	f = popen(cmd, "r");
	assert_non_null(f);
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	pclose(f);
	return atoi(line);
}

static void
test_rebuild_both_layouts(void **state)
{
	char *a = tmpdir_new(), *b = tmpdir_new(), sa[4200], sb[4200];
	char snap[4200], line[8192];
	struct store *st;
	uint64_t arts, ino_a, ino_b;
	unsigned paths = 0;
	FILE *f;

	(void)state;
	unpack(a);
	unpack(b);
	snprintf(sa, sizeof(sa), "%s/store", a);
	snprintf(sb, sizeof(sb), "%s/store", b);
	assert_int_equal(ledger_format_of(sa), 1);
	/* a: rebuilt from layout 1, as it is */
	assert_int_equal(store_rebuild(sa, &arts), 0);
	assert_int_equal(arts, 3);
	assert_int_equal(ledger_format_of(sa), 1);
	/* b: opened (the ledger moves), then rebuilt from layout 2 */
	assert_int_equal(store_open(&st, sb), 0);
	store_close(st);
	assert_int_equal(ledger_format_of(sb), FANOUT_FORMAT);
	assert_int_equal(store_rebuild(sb, &arts), 0);
	assert_int_equal(arts, 3);
	/* every path the version before showed is in both, and the same */
	snprintf(snap, sizeof(snap), "%s/store-format1.snap",
	    getenv("RELFS_FIXTURES"));
	f = fopen(snap, "r");
	assert_non_null(f);
	{
		struct store *x, *y;

		assert_int_equal(store_open(&x, sa), 0);
		assert_int_equal(store_open(&y, sb), 0);
		while (fgets(line, sizeof(line), f)) {
			struct node na, nb;
			char *sp = strchr(line, ' ');

			/* "./path type mode size link", then "digest  ./path" */
			if (strncmp(line, "./", 2) != 0 || !sp || sp == line + 1)
				continue;
			*sp = '\0';
			if (strcmp(line, ".") == 0 || strncmp(line, "./README", 8)
			    == 0)
				continue;
			assert_int_equal(store_resolve(x, line + 2, &ino_a, &na),
			    0);
			assert_int_equal(store_resolve(y, line + 2, &ino_b, &nb),
			    0);
			assert_int_equal(na.kind, nb.kind);
			assert_int_equal(na.mode, nb.mode);
			assert_int_equal(na.size, nb.size);
			assert_int_equal(ino_a, ino_b);
			assert_memory_equal(na.digest, nb.digest, DIGEST_LEN);
			paths++;
		}
		store_close(x);
		store_close(y);
	}
	fclose(f);
	/* the fixture's artifacts, runs, stages, scenario, ... */
	assert_true(paths >= 50);
	tmpdir_free(a);
	tmpdir_free(b);
}

/* A directory's entries, to be put in the order of their names. */
struct entries {
	struct entry {
		char name[256];
		uint64_t ino;
		struct node n;
	} *e;
	size_t count;
};

static int
entry_add(void *arg, const char *name, uint64_t ino, const struct node *n,
    uint64_t next_off)
{
	struct entries *es = arg;

	(void)next_off;
	es->e = realloc(es->e, (es->count + 1) * sizeof(*es->e));
	assert_non_null(es->e);
	snprintf(es->e[es->count].name, sizeof(es->e->name), "%s", name);
	es->e[es->count].ino = ino;
	es->e[es->count++].n = *n;
	return 0;
}

static int
entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->name,
	    ((const struct entry *)b)->name);
}

/*
 * Each entry below dir as a line (kind, mode, size, time, links), a run's
 * text after it, by name (a rebuild lists test cases in their names'
 * order, an import in the order they came).
 */
static void
walk_dir(struct store *st, uint64_t dir, const char *prefix, FILE *out)
{
	struct entries es = { 0 };
	char path[4096], *text;
	size_t len;

	assert_int_equal(store_dir_list(st, dir, 0, entry_add, &es), 0);
	if (es.count)
		qsort(es.e, es.count, sizeof(*es.e), entry_cmp);
	for (size_t i = 0; i < es.count; i++) {
		const struct node *n = &es.e[i].n;

		snprintf(path, sizeof(path), "%s/%s", prefix, es.e[i].name);
		fprintf(out, "%s %u %o %llu %lld %u\n", path, n->kind, n->mode,
		    (unsigned long long)n->size, (long long)n->mtime,
		    n->nlink);
		if (n->kind == NODE_RUN) {
			assert_int_equal(store_run_text(st, n, &text, &len), 0);
			assert_int_equal(len, n->size);	/* a read's size */
			fwrite(text, 1, len, out);
			free(text);
		} else if (n->kind == NODE_DIR) {
			walk_dir(st, es.e[i].ino, path, out);
		}
	}
	free(es.e);
}

/* The tree below path (its runs, statuses) as text; the caller frees it. */
static char *
tree_text(struct store *st, const char *path)
{
	char *buf = NULL;
	size_t len = 0;
	struct node n;
	uint64_t ino;
	FILE *out = open_memstream(&buf, &len);

	assert_int_equal(store_resolve(st, path, &ino, &n), 0);
	walk_dir(st, ino, path, out);
	fclose(out);
	return buf;
}

static void
refused_line(void *arg, size_t line, const char *why)
{
	(void)why;
	*(size_t *)arg = line;
}

static char *
ledger_paths(const char *store)
{
	char cmd[4400], *buf = NULL;
	size_t len = 0, n;
	char chunk[4096];
	FILE *f, *out = open_memstream(&buf, &len);

	snprintf(cmd, sizeof(cmd), "git --git-dir='%s/ledger.git' ls-tree -r "
	    "--name-only HEAD runs/", store);
	assert_non_null(f = popen(cmd, "r"));
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		fwrite(chunk, 1, n, out);
	pclose(f);
	fclose(out);
	return buf;
}

static void
test_rebuild_imported(void **state)
{
	struct store_user alice = { 0 };
	struct store_env *e;
	const char *one = "{\"testcase\": \"vping\", \"outcome\": \"PASS\"}";
	char file[4200], *before, *after, *paths;
	size_t refused = 0;
	uint64_t arts, n;
	unsigned problems = 9;
	FILE *f;

	(void)state;
	users_unnamed(&alice, NULL);
	snprintf(alice.name, sizeof(alice.name), "alice");
	assert_non_null(e = store_env_new(&alice));
	assert_int_equal(store_env_publish(e, &alice, "apex", "1.0"), 0);
	/* 150 runs of one test case (two buckets), 3 of another, one refused */
	snprintf(file, sizeof(file), "%s/runs.jsonl", e->dir);
	assert_non_null(f = fopen(file, "w"));
	for (int i = 0; i < 150; i++)
		fprintf(f, "{\"artifact\": \"apex/1.0\", \"case_name\": "
		    "\"vping\", \"criteria\": \"%s\", \"pod_name\": \"pod%d\", "
		    "\"details\": {\"duration\": %d.5, \"note\": \"a\\\"b\"}}\n",
		    i % 3 ? "PASS" : "FAIL", i % 4, i);
	fprintf(f, "{\"artifact\": \"nope/1\", \"case_name\": \"x\", "
	    "\"criteria\": \"PASS\"}\n\n");
	for (int i = 0; i < 3; i++)
		fprintf(f, "{\"artifact\": \"apex/1.0\", \"case_name\": "
		    "\"tempest\", \"criteria\": \"PASS\"}\n");
	fclose(f);
	assert_int_equal(store_import(e->st, file, NULL, &alice, refused_line,
	    NULL, &refused, &n), 0);
	assert_int_equal(n, 153);
	assert_int_equal(refused, 151);
	/* a run written one by one, then two imported after it */
	assert_int_equal(store_result_add(e->st, e->art, "vping.json", one,
	    strlen(one), &alice, &n), 0);
	assert_int_equal(n, 151);
	assert_non_null(f = fopen(file, "w"));
	fprintf(f, "{\"artifact\": \"apex/1.0\", \"case_name\": \"vping\", "
	    "\"criteria\": \"PASS\"}\n{\"case_name\": \"vping\", "
	    "\"criteria\": \"FAIL\", \"artifact\": \"apex/1.0\"}\n");
	fclose(f);
	assert_int_equal(store_import(e->st, file, NULL, &alice, NULL, NULL, NULL,
	    &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(store_drain(e->st), 0);
	/* the ledger: a file a bucket for imports, one a run beside them */
	paths = ledger_paths(e->store);
	assert_non_null(strstr(paths, "/vping/00/00/000001-000099.jsonl\n"));
	assert_non_null(strstr(paths, "/vping/00/01/000100-000150.jsonl\n"));
	assert_non_null(strstr(paths, "/vping/00/01/000151.json\n"));
	assert_non_null(strstr(paths, "/vping/00/01/000152-000153.jsonl\n"));
	assert_non_null(strstr(paths, "/tempest/00/00/000001-000003.jsonl\n"));
	free(paths);
	assert_int_equal(store_verify(e->st, NULL, NULL, &problems), 0);
	assert_int_equal(problems, 0);
	before = tree_text(e->st, "artifacts/apex/1.0");
	assert_non_null(strstr(before, "runs/vping/000153.json"));
	assert_non_null(strstr(before, "\"note\": \"a\\\"b\""));
	store_close(e->st);
	e->st = NULL;
	assert_int_equal(store_rebuild(e->store, &arts), 0);
	assert_int_equal(arts, 1);
	assert_int_equal(store_open(&e->st, e->store), 0);
	after = tree_text(e->st, "artifacts/apex/1.0");
	assert_string_equal(before, after);
	free(before);
	free(after);
	store_env_free(e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rebuild_both_layouts),
		cmocka_unit_test(test_rebuild_imported),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

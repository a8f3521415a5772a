/*
 * Unit tests of rebuild across the ledger's layouts (rebuild.c, fanout.c):
 * a store written before the fan-out (tests/fixtures/store-format1.tar.gz)
 * opens, its ledger moves to layout 2, and rebuilding from either layout
 * gives the same tree, node for node, as the tree the version before
 * showed of it (tests/fixtures/store-format1.snap).
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rebuild_both_layouts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

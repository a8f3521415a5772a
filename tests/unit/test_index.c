/* Unit tests of the LMDB index: nodes, directories, listing offsets, queue. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "helpers.h"
#include "index.h"

struct seen {
	char names[16][32];
	uint64_t offs[16];
	int n, stop_after;
};

static int
collect(void *arg, const char *name, size_t len, uint64_t ino, uint64_t off)
{
	struct seen *s = arg;

	(void)len;
	(void)ino;
	snprintf(s->names[s->n], 32, "%s", name);
	s->offs[s->n++] = off;
	return s->stop_after && s->n == s->stop_after;
}

static void
test_tree(void **state)
{
	char *dir = tmpdir_new();
	struct index *ix;
	struct node n = { 0 }, got;
	struct seen s = { 0 };
	MDB_txn *txn;
	uint64_t ino, first;

	(void)state;
	assert_int_equal(index_open(&ix, dir, 1), 0);
	assert_int_equal(index_begin(ix, 0, &txn), 0);
	assert_int_equal(index_alloc_ino(ix, txn, 3, &first), 0);
	assert_int_equal(first, INO_FIRST_FREE);
	n.kind = NODE_FILE;
	n.size = 42;
	for (uint64_t i = 0; i < 3; i++) {
		const char *names[] = { "zeta", "alpha", "mid" };

		assert_int_equal(index_node_put(ix, txn, first + i, &n), 0);
		assert_int_equal(index_link(ix, txn, INO_ROOT, names[i],
		    first + i), 0);
	}
	assert_int_equal(index_link(ix, txn, INO_ROOT, "alpha", 77), -EEXIST);
	assert_int_equal(index_commit(txn), 0);

	assert_int_equal(index_begin(ix, 1, &txn), 0);
	assert_int_equal(index_lookup(ix, txn, INO_ROOT, "mid", &ino), 0);
	assert_int_equal(ino, first + 2);
	assert_int_equal(index_lookup(ix, txn, INO_ROOT, "nope", &ino),
	    -ENOENT);
	assert_int_equal(index_node_get(ix, txn, ino, &got), 0);
	assert_int_equal(got.size, 42);
	/* listing order is creation order; offsets resume after an entry */
	s.stop_after = 2;
	assert_int_equal(index_list(ix, txn, INO_ROOT, 0, collect, &s), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.names[0], "zeta");
	assert_string_equal(s.names[1], "alpha");
	s.stop_after = 0;
	assert_int_equal(index_list(ix, txn, INO_ROOT, s.offs[1], collect,
	    &s), 0);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.names[2], "mid");
	index_abort(txn);
	index_close(ix);
	tmpdir_free(dir);
}

static void
test_queue(void **state)
{
	char *dir = tmpdir_new(), *json;
	struct index *ix;
	MDB_txn *txn;
	uint64_t seq, count;
	size_t len;

	(void)state;
	assert_int_equal(index_open(&ix, dir, 1), 0);
	assert_int_equal(index_begin(ix, 0, &txn), 0);
	assert_int_equal(index_queue_push(ix, txn, "{\"a\":1}", 7, &seq), 0);
	assert_int_equal(seq, 1);
	/* any bytes: here a NUL and more after the text */
	assert_int_equal(index_queue_push(ix, txn, "{\"b\":2}\0raw", 11, &seq),
	    0);
	assert_int_equal(seq, 2);
	assert_int_equal(index_commit(txn), 0);
	/* a transaction that aborts leaves nothing */
	assert_int_equal(index_begin(ix, 0, &txn), 0);
	assert_int_equal(index_queue_push(ix, txn, "{}", 2, &seq), 0);
	index_abort(txn);
	assert_int_equal(index_begin(ix, 0, &txn), 0);
	assert_int_equal(index_queue_count(ix, txn, &count), 0);
	assert_int_equal(count, 2);
	assert_int_equal(index_queue_from(ix, txn, 0, &seq, &json, &len), 0);
	assert_int_equal(seq, 1);
	assert_int_equal(len, 7);
	assert_string_equal(json, "{\"a\":1}");
	free(json);
	assert_int_equal(index_queue_del(ix, txn, 1), 0);
	assert_int_equal(index_queue_from(ix, txn, 0, &seq, &json, &len), 0);
	assert_int_equal(seq, 2);
	assert_int_equal(len, 11);
	assert_memory_equal(json, "{\"b\":2}\0raw", 12);
	free(json);
	/* in parts, empty ones among them: laid end to end */
	{
		struct index_part parts[] = { { "{\"c\":3}", 8 }, { NULL, 0 },
		    { "ab", 2 }, { "", 0 }, { "cde", 3 } };

		assert_int_equal(index_queue_push_parts(ix, txn, parts, 5, &seq),
		    0);
		assert_int_equal(seq, 3);
		assert_int_equal(index_queue_from(ix, txn, 3, &seq, &json,
		    &len), 0);
		assert_int_equal(len, 13);
		assert_memory_equal(json, "{\"c\":3}\0abcde", 14);
		free(json);
	}
	assert_int_equal(index_commit(txn), 0);
	index_close(ix);
	tmpdir_free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tree),
		cmocka_unit_test(test_queue),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

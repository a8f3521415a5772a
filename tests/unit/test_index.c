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
	/* those up to 2 counted, then gone; 3 stays */
	assert_int_equal(index_queue_count_upto(ix, txn, 2, &count), 0);
	assert_int_equal(count, 1);
	assert_int_equal(index_queue_del_upto(ix, txn, 2, &count), 0);
	assert_int_equal(count, 1);
	assert_int_equal(index_queue_count(ix, txn, &count), 0);
	assert_int_equal(count, 1);
	assert_int_equal(index_queue_del_upto(ix, txn, 9, &count), 0);
	assert_int_equal(count, 1);
	assert_int_equal(index_queue_from(ix, txn, 0, &seq, &json, &len),
	    -ENOENT);
	assert_int_equal(index_commit(txn), 0);
	index_close(ix);
	tmpdir_free(dir);
}

/* Hinted puts: at the end while they can, the ordinary way after. */
static void
test_hinted_puts(void **state)
{
	const char *keys[] = { "b", "c", "a", "d" };
	char *dir = tmpdir_new(), *val;
	struct index *ix;
	struct node n = { 0 };
	MDB_txn *txn;
	int at_end = 1, link_end[2] = { 1, 1 };
	uint64_t ino;
	size_t len;

	(void)state;
	assert_int_equal(index_open(&ix, dir, 1), 0);
	assert_int_equal(index_begin(ix, 0, &txn), 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(index_put_raw_hint(ix, txn, TAB_RUNS, keys[i],
		    1, keys[i], 1, 1, &at_end), 0);
		/* past the end until "a", which is not */
		assert_int_equal(at_end, i < 2);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(index_get_raw(ix, txn, TAB_RUNS, keys[i], 1,
		    &val, &len), 0);
		assert_memory_equal(val, keys[i], 1);
		free(val);
	}
	/* a key already there is refused, at the end or not */
	at_end = 1;
	assert_int_equal(index_put_raw_hint(ix, txn, TAB_RUNS, "d", 1, "x", 1,
	    1, &at_end), -EEXIST);
	assert_int_equal(at_end, 0);
	assert_int_equal(index_put_raw_hint(ix, txn, TAB_RUNS, "b", 1, "x", 1,
	    1, &at_end), -EEXIST);
	n.kind = NODE_FILE;
	assert_int_equal(index_node_put_hint(ix, txn, 500, &n, &at_end), 0);
	assert_int_equal(index_link_hint(ix, txn, INO_ROOT, "x", 500,
	    link_end), 0);
	assert_int_equal(index_link_hint(ix, txn, INO_ROOT, "x", 501,
	    link_end), -EEXIST);
	assert_int_equal(index_lookup(ix, txn, INO_ROOT, "x", &ino), 0);
	assert_int_equal(ino, 500);
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
		cmocka_unit_test(test_hinted_puts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

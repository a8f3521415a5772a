/*
 * relctl_common.c - what every relctl command uses: the error of a failed
 * call, the calling user, a store opened for a command.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "relctl.h"
#include "store.h"

int relctl_json_out;	/* --json: output for scripts */

int
relctl_fail(int rc)
{
	const char *msg = store_errmsg();

	fprintf(stderr, "relctl: %s\n", *msg ? msg : strerror(-rc));
	return 1;
}

void
relctl_me(struct store_user *u)
{
	store_user_self(u);
}

const char *
relctl_take_at(int *argc, char **argv)
{
	for (int i = 1; i + 1 < *argc; i++) {
		if (strcmp(argv[i], "--at") != 0)
			continue;
		const char *when = argv[i + 1];

		memmove(&argv[i], &argv[i + 2], (size_t)(*argc - i - 1) *
		    sizeof(*argv));
		*argc -= 2;
		return when;
	}
	return NULL;
}

int
relctl_open_at(const char *path, const char *when, struct store **st)
{
	struct store *live;
	char id[41];
	int64_t at;
	int rc;

	if (!when)
		return relctl_open_store(path, st);
	if (relctl_open_store(path, &live))
		return 1;
	rc = store_view_find(live, when, id, &at);
	if (rc == 0)
		rc = store_view_open(live, id, at, st);
	store_close(live);
	return rc < 0 ? relctl_fail(rc) : 0;
}

int
relctl_open_store(const char *path, struct store **st)
{
	int rc = store_open(st, path);

	/* a damaged index has its own exit code: scripts rebuild on 3 */
	if (rc == -EUCLEAN) {
		relctl_fail(rc);
		exit(3);
	}
	return rc < 0 ? relctl_fail(rc) : 0;
}

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

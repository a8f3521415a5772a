/* helpers.h - temporary directories for unit tests. */
#ifndef RELFS_TEST_HELPERS_H
#define RELFS_TEST_HELPERS_H

#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util.h"

/*
 * A uid at or above from that no user and no group of this machine has:
 * the tests' users must have no name, whatever the machine holds.
 */
static inline uid_t
uid_unnamed(uid_t from)
{
	uid_t u = from;

	while (getpwuid(u) || getgrgid((gid_t)u))
		u++;
	return u;
}

/* A new empty directory under /tmp; the caller frees the name. */
static inline char *
tmpdir_new(void)
{
	char *d = strdup("/tmp/relfs-unit.XXXXXX");

	return mkdtemp(d);
}

static inline void
tmpdir_free(char *d)
{
	remove_tree(d);
	free(d);
}

/* Write text to dir/name, making parent directories. */
static inline void
put_file(const char *dir, const char *name, const char *text, mode_t mode)
{
	char path[8192], *slash;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	slash = strrchr(path, '/');
	*slash = '\0';
	mkdir_p(path, 0755);
	*slash = '/';
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
}

#endif

/* helpers.h - temporary directories, files, users and stores for unit tests. */
#ifndef RELFS_TEST_HELPERS_H
#define RELFS_TEST_HELPERS_H

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"
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

/* alice and bob: uids (and gids) that no user or group of the machine has */
static inline void
users_unnamed(struct store_user *alice, struct store_user *bob)
{
	alice->uid = uid_unnamed(60001);
	alice->gid = (gid_t)alice->uid;
	if (bob) {
		bob->uid = uid_unnamed(alice->uid + 1);
		bob->gid = (gid_t)bob->uid;
	}
}

/* A new store dir/store owned by owner (she holds every role), opened. */
static inline int
store_new_owned(const char *dir, const struct store_user *owner,
    char *path, size_t len, struct store **st)
{
	int rc;

	snprintf(path, len, "%s/store", dir);
	if ((rc = store_create(path, owner)) < 0)
		return rc;
	if (chown(path, owner->uid, owner->gid) < 0)
		return -errno;
	return store_open(st, path);
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

/* A test's store: a temporary directory and a store in it, opened. */
struct store_env {
	char *dir;
	char store[4096];
	struct store *st;
	uint64_t art;	/* an artifact the test published, if any */
};

static inline void
store_env_free(struct store_env *e)
{
	if (!e)
		return;
	if (e->st)
		store_close(e->st);
	if (e->dir)
		tmpdir_free(e->dir);
	free(e);
}

/* A new store_env whose store owner owns; NULL when it cannot be made. */
static inline struct store_env *
store_env_new(const struct store_user *owner)
{
	struct store_env *e = calloc(1, sizeof(*e));

	if (!e || !(e->dir = tmpdir_new()) || store_new_owned(e->dir, owner,
	    e->store, sizeof(e->store), &e->st) < 0) {
		store_env_free(e);
		return NULL;
	}
	return e;
}

/*
 * Publish project/version (one file, a.txt) into e's store as who; its
 * node is then e->art.
 */
static inline int
store_env_publish(struct store_env *e, const struct store_user *who,
    const char *project, const char *version)
{
	struct store_publish o = { 0 };
	char src[4200], path[600];
	struct node n;
	int rc;

	snprintf(src, sizeof(src), "%s/src", e->dir);
	put_file(src, "a.txt", "alpha\n", 0644);
	o.project = project;
	o.version = version;
	if ((rc = store_publish_dir(e->st, src, &o, who, NULL)) < 0)
		return rc;
	snprintf(path, sizeof(path), "artifacts/%s/%s", project, version);
	return store_resolve(e->st, path, &e->art, &n);
}

#endif

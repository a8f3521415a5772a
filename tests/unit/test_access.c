/*
 * Unit tests of roles and pin sources (access.c), the outbox (events.c),
 * hook delivery (hooks/deliver.c) and fetching pins (fetch.c) from
 * file:// and from the tests' HTTP server on 127.0.0.1, on a real store.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "deliver.h"
#include "helpers.h"
#include "store.h"

/* the owner and another user: uids without a name, found at start */
static struct store_user alice = { 0, 0, "alice", 0, { 0 } };
static struct store_user bob = { 0, 0, "bob", 0, { 0 } };

static int
setup(void **state)
{
	*state = store_env_new(&alice);
	return *state ? 0 : -1;
}

static int
teardown(void **state)
{
	store_env_free(*state);
	return 0;
}

/* a role mapped to a group: its members hold it, nobody else does */
static void
test_roles_by_group(void **state)
{
	struct store_env *e = *state;
	const char *root_group[] = { "root" }, *nosuch[] = { "relfs-no-group" };
	struct store_user member = bob;

	member.ngroups = 1;
	member.groups[0] = 0;	/* the group root, on every machine */
	assert_int_equal(store_may(e->st, &bob, STORE_ROLE_CI, "publishing"),
	    -EACCES);
	assert_int_equal(store_config_set(e->st, STORE_ROLE_CI, root_group, 1,
	    &bob), -EACCES);
	assert_non_null(strstr(store_errmsg(), "only the store's owner"));
	assert_int_equal(store_config_set(e->st, STORE_ROLE_CI, nosuch, 1,
	    &alice), -EINVAL);
	assert_int_equal(store_config_set(e->st, STORE_ROLE_CI, root_group, 1,
	    &alice), 0);
	assert_int_equal(store_may(e->st, &member, STORE_ROLE_CI, "x"), 0);
	assert_int_equal(store_may(e->st, &bob, STORE_ROLE_CI, "x"), -EACCES);
	/* the owner gave the role away: she holds it no more, root does */
	assert_int_equal(store_may(e->st, &alice, STORE_ROLE_CI, "x"),
	    -EACCES);
	assert_int_equal(store_may(e->st, &member, STORE_ROLE_MANAGER, "x"),
	    -EACCES);
	assert_int_equal(store_config_set(e->st, STORE_ROLE_CI, NULL, 0,
	    &alice), 0);
	assert_int_equal(store_may(e->st, &alice, STORE_ROLE_CI, "x"), 0);
}

/* pins: none allowed by default; a manager allows prefixes and dirs */
static void
test_pin_sources(void **state)
{
	struct store_env *e = *state;
	const char *prefix[] = { "https://mirror.example.org/" };
	char dir[4200], url[4300];
	const char *dirs[1];

	assert_int_equal(store_pin_allowed(e->st,
	    "https://mirror.example.org/a.tar"), -EINVAL);
	assert_non_null(strstr(store_errmsg(), "relctl config STORE "
	    "pin-sources"));
	assert_int_equal(store_config_sources(e->st, STORE_PIN_SOURCES,
	    prefix, 1, &bob), -EACCES);
	assert_int_equal(store_config_sources(e->st, STORE_PIN_SOURCES,
	    prefix, 1, &alice), 0);
	assert_int_equal(store_pin_allowed(e->st,
	    "https://mirror.example.org/a.tar"), 0);
	assert_int_equal(store_pin_allowed(e->st,
	    "https://mirror.example.org.evil/a.tar"), -EINVAL);
	snprintf(dir, sizeof(dir), "%s/mirror", e->dir);
	assert_int_equal(mkdir(dir, 0755), 0);
	dirs[0] = dir;
	assert_int_equal(store_config_sources(e->st, STORE_FILE_PINS, dirs, 1,
	    &alice), 0);
	snprintf(url, sizeof(url), "file://%s/x.tar", dir);
	assert_int_equal(store_pin_allowed(e->st, url), 0);
	snprintf(url, sizeof(url), "file://%s/../x.tar", dir);
	assert_int_equal(store_pin_allowed(e->st, url), -EINVAL);
	snprintf(url, sizeof(url), "file://%s-other/x.tar", dir);
	assert_int_equal(store_pin_allowed(e->st, url), -EINVAL);
}

struct seen {
	char types[1000];
	uint64_t last;
};

static int
seen_one(void *arg, uint64_t seq, const char *json, size_t len)
{
	struct seen *s = arg;
	json_t *j = json_loadb(json, len, 0, NULL);

	assert_true(seq > s->last);	/* in order, each once */
	s->last = seq;
	snprintf(s->types + strlen(s->types), sizeof(s->types) -
	    strlen(s->types), "%s%s", s->types[0] ? " " : "",
	    json_string_value(json_object_get(j, "type")));
	json_decref(j);
	return 0;
}

/* the outbox: every change an event, in order; from a sequence on */
static void
test_events(void **state)
{
	struct store_env *e = *state;
	struct seen s = { "", 0 }, later = { "", 0 };
	uint64_t from;

	assert_int_equal(store_stage_create(e->st, "daily", &alice), 0);
	assert_int_equal(store_events(e->st, 0, seen_one, &s), 0);
	assert_string_equal(s.types, "stage.created");
	from = s.last + 1;
	assert_int_equal(store_hold(e->st, "daily", "x", 1, &alice), 0);
	assert_int_equal(store_release(e->st, "daily", &alice), 0);
	later.last = s.last;
	assert_int_equal(store_events(e->st, from, seen_one, &later), 0);
	assert_string_equal(later.types, "stage.held stage.released");
}

/* hooks: an executable named after an event type gets it on stdin */
static void
test_hooks(void **state)
{
	struct store_env *e = *state;
	char path[4300], out[4300], line[4096] = "";
	json_t *status;
	int sent = 0;
	FILE *f;

	snprintf(out, sizeof(out), "%s/hook.out", e->dir);
	snprintf(path, sizeof(path), "%s/hooks", e->store);
	assert_int_equal(mkdir_p(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/hooks/stage.created", e->store);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "#!/bin/sh\nread l; echo \"$RELFS_EVENT $RELFS_STAGE "
	    "$l\" >>'%s'\n", out);
	fclose(f);
	assert_int_equal(chmod(path, 0755), 0);
	assert_int_equal(store_stage_create(e->st, "daily", &alice), 0);
	assert_int_equal(hooks_deliver(e->st, &sent), 0);
	assert_int_equal(sent, 1);
	f = fopen(out, "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	fclose(f);
	assert_int_equal(strncmp(line, "stage.created daily {", 21), 0);
	/* delivered once: a second pass sends nothing */
	assert_int_equal(hooks_deliver(e->st, &sent), 0);
	assert_int_equal(sent, 0);
	assert_int_equal(hooks_status(e->st, &status), 0);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(
	    json_object_get(status, "targets"), "hook:stage.created"),
	    "pending")), 0);
	json_decref(status);
}

/*
 * url holds the bytes pinned by d: fetched, then present; pinned by other
 * bytes it is EIO, each time (nothing unverified is kept).
 */
static void
fetch_pinned(struct store_env *e, const char *url, const uint8_t *d)
{
	uint8_t zero[DIGEST_LEN] = { 0 };
	int st_;

	assert_int_equal(store_dep_fetch(e->st, "dep", url, d, NULL, NULL,
	    &st_), 0);
	assert_int_equal(st_, STORE_FETCH_FETCHED);
	assert_int_equal(store_dep_fetch(e->st, "dep", url, d, NULL, NULL,
	    &st_), 0);
	assert_int_equal(st_, STORE_FETCH_PRESENT);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(store_dep_fetch(e->st, "dep", url, zero, NULL,
		    NULL, &st_), -EIO);
		assert_non_null(strstr(store_errmsg(), "digest mismatch"));
	}
}

/* fetch: a file:// pin is read below its allowed directory, verified */
static void
test_fetch_file(void **state)
{
	struct store_env *e = *state;
	char dir[4200], url[4300], bad[4300];
	const char *dirs[1];
	uint8_t d[DIGEST_LEN], zero[DIGEST_LEN] = { 0 };
	int st_;

	snprintf(dir, sizeof(dir), "%s/mirror", e->dir);
	put_file(dir, "dep.tar", "dependency bytes\n", 0644);
	dirs[0] = dir;
	assert_int_equal(store_config_sources(e->st, STORE_FILE_PINS, dirs, 1,
	    &alice), 0);
	digest_buf(d, "dependency bytes\n", 17);
	snprintf(url, sizeof(url), "file://%s/dep.tar", dir);
	fetch_pinned(e, url, d);
	/* a link out of the allowed directory is never read */
	snprintf(bad, sizeof(bad), "%s/out", dir);
	assert_int_equal(symlink("/etc/passwd", bad), 0);
	snprintf(url, sizeof(url), "file://%s/out", dir);
	assert_int_equal(store_dep_fetch(e->st, "out", url, zero, NULL, NULL,
	    &st_), -EIO);
}

/* A port of 127.0.0.1 that nothing listens on now (the kernel's pick). */
static int
free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s >= 0 && bind(s, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(s, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (s >= 0)
		close(s);
	return port;
}

/* 1 once something accepts connections on 127.0.0.1:port (5 s at most). */
static int
listening(int port)
{
	for (int i = 0; i < 500; i++) {
		struct sockaddr_in a = { .sin_family = AF_INET };
		int s = socket(AF_INET, SOCK_STREAM, 0), ok;

		a.sin_port = htons((unsigned short)port);
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		ok = connect(s, (struct sockaddr *)&a, sizeof(a)) == 0;
		close(s);
		if (ok)
			return 1;
		usleep(10000);
	}
	return 0;
}

/*
 * fetch over HTTP from the tests' receiver serving a directory: fetched
 * and verified, then present; a digest mismatch, a missing file and a
 * source no longer allowed are EIO; nothing unverified is kept.
 */
static void
test_fetch_http(void **state)
{
	struct store_env *e = *state;
	const char *bin = getenv("RELFS_RECEIVER");
	char dir[4200], log[4300], url[200], prefix[100], port_s[16];
	const char *src[1] = { prefix };
	uint8_t d[DIGEST_LEN], zero[DIGEST_LEN] = { 0 };
	int port = free_port(), st_, status;
	pid_t pid;

	assert_non_null(bin);	/* make unit says where it is */
	assert_true(port > 0);
	snprintf(dir, sizeof(dir), "%s/served", e->dir);
	snprintf(log, sizeof(log), "%s/receiver.log", e->dir);
	put_file(dir, "dep.tar", "dependency bytes over http\n", 0644);
	snprintf(port_s, sizeof(port_s), "%d", port);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execl(bin, bin, port_s, "-", log, "--serve", dir, (char *)NULL);
		_exit(127);
	}
	assert_true(listening(port));
	snprintf(prefix, sizeof(prefix), "http://127.0.0.1:%d/", port);
	assert_int_equal(store_config_sources(e->st, STORE_PIN_SOURCES, src,
	    1, &alice), 0);
	digest_buf(d, "dependency bytes over http\n", 27);
	snprintf(url, sizeof(url), "%sdep.tar", prefix);
	fetch_pinned(e, url, d);
	/* the server has no such file: the HTTP error is the message */
	snprintf(url, sizeof(url), "%snone.tar", prefix);
	assert_int_equal(store_dep_fetch(e->st, "none", url, zero, NULL, NULL,
	    &st_), -EIO);
	assert_non_null(strstr(store_errmsg(), "404"));
	/* a source no longer allowed is never asked */
	assert_int_equal(store_config_sources(e->st, STORE_PIN_SOURCES, NULL,
	    0, &alice), 0);
	snprintf(url, sizeof(url), "%sdep.tar", prefix);
	assert_int_equal(store_dep_fetch(e->st, "dep2", url, zero, NULL, NULL,
	    &st_), -EIO);
	assert_non_null(strstr(store_errmsg(), "is not below a source"));
	kill(pid, SIGTERM);
	assert_int_equal(waitpid(pid, &status, 0), pid);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_roles_by_group, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_pin_sources, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_events, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hooks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fetch_file, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_fetch_http, setup,
		    teardown),
	};

	users_unnamed(&alice, &bob);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

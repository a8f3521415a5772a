/*
 * relctl_model.c - relctl's commands of the release model: stages,
 * criteria, status and why, approvals, waivers, promote, revoke, restore,
 * holds, roles and pin sources, scenarios and umbrella releases.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "crit.h"
#include "deliver.h"
#include "relctl.h"
#include "store.h"

/* The inode of artifacts/<p>/<v>, with a message when it is missing. */
static int
artifact_ino(struct store *st, const char *p, const char *v, uint64_t *ino)
{
	char path[600];
	struct node n;
	int rc;

	snprintf(path, sizeof(path), "artifacts/%s/%s", p, v);
	rc = store_resolve(st, path, ino, &n);
	if (rc == -ENOENT)
		store_seterr(rc, "artifact %s %s does not exist", p, v);
	return rc;
}

static int
read_arg_file(const char *path, char **buf, size_t *len)
{
	return read_small_file(path, 1 << 20, buf, len);
}

int
relctl_done(struct store *st, int rc, const char *what)
{
	store_close(st);
	if (rc < 0)
		return relctl_fail(rc);
	if (what && !relctl_json_out)
		printf("%s\n", what);
	else if (what)
		printf("{\"ok\": true}\n");
	return 0;
}

int
cmd_stage(int argc, char **argv)
{
	struct store_user u;
	struct store *st;
	char *buf = NULL;
	size_t len;
	int rc;

	if (argc < 3 || argc > 4) {
		return RELCTL_USAGE;
	}
	if (argc == 4 && (rc = read_arg_file(argv[3], &buf, &len)) < 0)
		return relctl_fail(rc);
	if (relctl_open_store(argv[1], &st)) {
		free(buf);
		return 1;
	}
	relctl_me(&u);
	rc = store_stage_create(st, argv[2], &u);
	if (rc == 0 && buf)
		rc = store_criteria_set(st, argv[2], buf, len, &u);
	free(buf);
	return relctl_done(st, rc, "stage created");
}

int
cmd_criteria(int argc, char **argv)
{
	struct store_user u;
	struct store *st;
	char *buf = NULL;
	size_t len;
	int rc;

	if (argc != 4) {
		return RELCTL_USAGE;
	}
	if ((rc = read_arg_file(argv[3], &buf, &len)) < 0)
		return relctl_fail(rc);
	if (relctl_open_store(argv[1], &st)) {
		free(buf);
		return 1;
	}
	relctl_me(&u);
	rc = store_criteria_set(st, argv[2], buf, len, &u);
	free(buf);
	return relctl_done(st, rc, "criteria set: a new cycle starts");
}

int
cmd_status(int argc, char **argv)
{
	struct store *st;
	uint64_t ino;
	char *buf = NULL;
	const char *stage;
	json_t *s, *v;
	size_t len, unpromoted = 0;
	const char *at = relctl_take_at(&argc, argv);
	int rc;

	if (argc != 4) {
		return RELCTL_USAGE;
	}
	if (relctl_open_at(argv[1], at, &st))
		return 1;
	rc = artifact_ino(st, argv[2], argv[3], &ino);
	/* one evaluation: the text, and how many stages lack it */
	if (rc == 0 && (rc = store_status(st, ino, &s)) == 0) {
		if ((rc = store_status_render(s, relctl_json_out, &buf,
		    &len)) == 0)
			fwrite(buf, 1, len, stdout);
		json_object_foreach(json_object_get(s, "stages"), stage, v)
			if (!json_is_true(json_object_get(v, "promoted")))
				unpromoted++;
		json_decref(s);
	}
	free(buf);
	/* exit 1 too when a stage has not taken it (the README says so) */
	rc = relctl_done(st, rc, NULL);
	return rc ? rc : unpromoted ? 1 : 0;
}

/* What relctl why prints of a stage's entry v of an artifact's status. */
static void
print_why(const char *p, const char *ver, const char *stage, json_t *v)
{
	char label[400];
	json_t *u;
	size_t i;

	if (relctl_json_out) {
		json_dumpf(v, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
		putchar('\n');
	} else if (json_is_true(json_object_get(v, "promoted"))) {
		printf("%s %s is promoted to %s (at %s)\n", p, ver, stage,
		    json_string_value(json_object_get(v, "at")));
		json_array_foreach(json_object_get(v, "evidence"), i, u) {
			char *e = json_dumps(u, JSON_COMPACT | JSON_SORT_KEYS);

			printf("  evidence: %s\n", e ? e : "");
			free(e);
		}
	} else {
		printf("%s %s is not promoted to %s:\n", p, ver, stage);
		json_array_foreach(json_object_get(v, "unmet"), i, u)
			printf("  %s: %s\n", crit_unmet_label(u, "testcase",
			    label, sizeof(label)), json_string_value(
			    json_object_get(u, "detail")));
	}
}

/* The status of artifact ino in stage, into *s (its entry: *v). */
static int
stage_status(struct store *st, uint64_t ino, const char *stage, json_t **s,
    json_t **v)
{
	int rc = store_status(st, ino, s);

	*v = json_object_get(json_object_get(*s, "stages"), stage);
	if (rc == 0 && !*v) {
		const char *a = json_string_value(json_object_get(*s,
		    "artifact"));
		char project[300];

		snprintf(project, sizeof(project), "%.*s", a && strchr(a, '/') ?
		    (int)(strchr(a, '/') - a) : 0, a ? a : "");
		rc = store_stage_applies(st, stage, project);
		if (rc == 0)
			rc = store_seterr(-ENOENT, "stage '%s' has no status",
			    stage);
	}
	return rc;
}

/*
 * relctl why STORE P V STAGE --with FILE... [--criteria FILE]
 * [--without-waivers] [--now ISO]: the decision as if; nothing recorded.
 * Exit 0 when it would be promoted, 1 when not, 2 on an error.
 */
static int
why_what_if(int argc, char **argv, const char *at)
{
	struct store_whatif w = { 0 };
	const char **names = calloc((size_t)argc, sizeof(*names));
	char **texts = calloc((size_t)argc, sizeof(*texts)), *crit = NULL;
	size_t *lens = calloc((size_t)argc, sizeof(*lens));
	json_t *d = NULL, *u;
	struct store *st = NULL;
	char label[400];
	uint64_t ino;
	size_t i;
	int rc = 0, with = 0, promote;

	if (!names || !texts || !lens) {
		rc = -ENOMEM;
		goto out;
	}
	for (int a = 5; rc == 0 && a < argc; a++) {
		if (strcmp(argv[a], "--with") == 0) {
			with = 1;
		} else if (strcmp(argv[a], "--criteria") == 0 && a + 1 < argc) {
			with = 0;
			rc = read_arg_file(argv[++a], &crit, &w.clen);
			w.criteria = crit;
		} else if (strcmp(argv[a], "--without-waivers") == 0) {
			with = 0;
			w.without_waivers = 1;
		} else if (strcmp(argv[a], "--now") == 0 && a + 1 < argc) {
			with = 0;
			if ((w.now = time_parse_iso(argv[++a])) <= 0)
				rc = store_seterr(-EINVAL, "--now takes an "
				    "ISO-8601 UTC time (2026-11-28T10:00:00Z)");
		} else if (with && argv[a][0] != '-') {
			const char *base = strrchr(argv[a], '/');

			names[w.n] = base ? base + 1 : argv[a];
			rc = read_arg_file(argv[a], &texts[w.n], &lens[w.n]);
			if (rc == 0)
				w.n++;
		} else {
			fprintf(stderr, "relctl: why: unknown option '%s'\n",
			    argv[a]);
			rc = -EINVAL;
			goto out;
		}
	}
	w.names = names;
	w.texts = (const char **)texts;
	w.lens = lens;
	if (rc < 0)
		goto fail;
	if (relctl_open_at(argv[1], at, &st)) {
		rc = -EIO;
		goto out;
	}
	if ((rc = artifact_ino(st, argv[2], argv[3], &ino)) < 0 ||
	    (rc = store_what_if(st, ino, argv[4], &w, &d)) < 0)
		goto fail;
	promote = json_is_true(json_object_get(d, "promote"));
	if (relctl_json_out) {
		json_dumpf(d, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
		putchar('\n');
	} else if (promote) {
		printf("%s %s would be promoted to %s (nothing was recorded)\n",
		    argv[2], argv[3], argv[4]);
	} else {
		printf("%s %s would not be promoted to %s (nothing was "
		    "recorded):\n", argv[2], argv[3], argv[4]);
		json_array_foreach(json_object_get(d, "unmet"), i, u)
			printf("  %s: %s\n", crit_unmet_label(u, "testcase",
			    label, sizeof(label)), json_string_value(
			    json_object_get(u, "detail")));
	}
	rc = promote ? 0 : 1;
	goto out;
fail:
	relctl_fail(rc);
	rc = 2;
out:
	for (int k = 0; texts && k < argc; k++)
		free(texts[k]);
	free(texts);
	free(names);
	free(lens);
	free(crit);
	json_decref(d);
	store_close(st);
	return rc < 0 ? 2 : rc;
}

int
cmd_why(int argc, char **argv)
{
	json_t *s = NULL, *v = NULL;
	struct store *st;
	uint64_t ino;
	const char *at = relctl_take_at(&argc, argv);
	int rc, promoted;

	if (argc > 5)
		return why_what_if(argc, argv, at);
	if (argc != 5) {
		return RELCTL_USAGE;
	}
	if (relctl_open_at(argv[1], at, &st))
		return 1;
	rc = artifact_ino(st, argv[2], argv[3], &ino);
	if (rc == 0)
		rc = stage_status(st, ino, argv[4], &s, &v);
	if (rc == 0)
		print_why(argv[2], argv[3], argv[4], v);
	promoted = json_is_true(json_object_get(v, "promoted"));
	json_decref(s);
	/* exit 1 too when it is not promoted (the README says so) */
	rc = relctl_done(st, rc, NULL);
	return rc ? rc : promoted ? 0 : 1;
}

/*
 * Wait until the index changes or deadline (a CLOCK_MONOTONIC time in ms)
 * passes: woken by the index file's writes (inotify), at most once a
 * change, never polling.  0 when something changed, 1 when the time is up.
 */
static int
wait_change(struct store *st, int ifd, uint64_t *since, int64_t deadline)
{
	for (;;) {
		struct pollfd pfd = { ifd, POLLIN, 0 };
		struct timespec now;
		char buf[4096];
		uint64_t *inos = NULL;
		size_t n = 0;
		int64_t left;

		clock_gettime(CLOCK_MONOTONIC, &now);
		left = deadline - (now.tv_sec * 1000 + now.tv_nsec / 1000000);
		if (left <= 0)
			return 1;
		if (poll(&pfd, 1, (int)(left > 60000 ? 60000 : left)) < 0 &&
		    errno != EINTR)
			return store_seterr(-errno, "could not wait: %s",
			    strerror(errno));
		if (!(pfd.revents & POLLIN))
			continue;
		while (read(ifd, buf, sizeof(buf)) > 0)
			;	/* one wake-up for what came together */
		if (store_changes(st, since, &inos, &n) < 0)
			return -EIO;
		free(inos);
		if (n)
			return 0;
	}
}

int
cmd_gate(int argc, char **argv)
{
	json_t *s = NULL, *v = NULL;
	struct store *st;
	struct timespec now;
	char path[4200];
	uint64_t ino, since = 0, *inos = NULL;
	size_t n;
	int64_t deadline;
	long wait = 0;
	int rc, ifd = -1, promoted = 0;

	if (argc == 7 && strcmp(argv[5], "--wait") == 0) {
		char *end;

		wait = strtol(argv[6], &end, 10);
		if (*end || wait < 0 || wait > 86400 * 366) {
			fprintf(stderr, "relctl: gate: --wait takes seconds "
			    "(0 to a year)\n");
			return 2;
		}
		argc -= 2;
	}
	if (argc != 5)
		return RELCTL_USAGE;
	if (relctl_open_store(argv[1], &st))
		return 2;
	clock_gettime(CLOCK_MONOTONIC, &now);
	deadline = now.tv_sec * 1000 + now.tv_nsec / 1000000 + wait * 1000;
	rc = artifact_ino(st, argv[2], argv[3], &ino);
	if (rc == 0 && wait) {
		/* the index is written at every change: its writes wake us */
		snprintf(path, sizeof(path), "%s/index/data.mdb", store_path(st));
		ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (ifd < 0 || inotify_add_watch(ifd, path, IN_MODIFY) < 0)
			rc = store_seterr(-errno, "could not watch '%s': %s",
			    path, strerror(errno));
		if (rc == 0 && (rc = store_changes(st, &since, &inos, &n)) == 0)
			free(inos);
	}
	for (;;) {
		if (rc == 0)
			rc = stage_status(st, ino, argv[4], &s, &v);
		promoted = rc == 0 && json_is_true(json_object_get(v,
		    "promoted"));
		if (rc < 0 || promoted || !wait ||
		    (rc = wait_change(st, ifd, &since, deadline)) != 0)
			break;
		json_decref(s);
		s = NULL;
	}
	if (rc >= 0)
		print_why(argv[2], argv[3], argv[4], v);
	json_decref(s);
	if (ifd >= 0)
		close(ifd);
	store_close(st);
	if (rc < 0) {
		relctl_fail(rc);
		return 2;
	}
	return promoted ? 0 : 1;
}

int
cmd_approve(int argc, char **argv)
{
	const char *reason, *user = NULL;
	struct store_user u;
	struct store *st;
	uint64_t ino;
	int rc, withdraw = 0;

	/* approve --withdraw [--user U] STORE P V STAGE */
	while (argc > 1 && strncmp(argv[1], "--", 2) == 0) {
		if (strcmp(argv[1], "--withdraw") == 0) {
			withdraw = 1;
		} else if (strcmp(argv[1], "--user") == 0 && argc > 2) {
			user = argv[2];
			argv++;
			argc--;
		} else {
			return RELCTL_USAGE;
		}
		argv++;
		argc--;
	}
	reason = argc > 5 ? argv[5] : "";
	if (argc < 5 || argc > 6 || (withdraw && argc != 5) ||
	    (user && !withdraw)) {
		return RELCTL_USAGE;
	}
	if (relctl_open_store(argv[1], &st))
		return 1;
	relctl_me(&u);
	rc = artifact_ino(st, argv[2], argv[3], &ino);
	if (rc == 0 && withdraw)
		rc = store_approval_withdraw(st, ino, argv[4], user, &u);
	else if (rc == 0)
		rc = store_approve(st, ino, argv[4], reason, strlen(reason), &u);
	return relctl_done(st, rc, withdraw ? "approval withdrawn" :
	    "approved");
}

int
cmd_waive(int argc, char **argv)
{
	const char *expires = NULL, *scenario = NULL, *pos[5];
	struct store_user u;
	struct store *st;
	json_t *w;
	char *text;
	uint64_t ino;
	int rc, npos = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--expires") == 0 && i + 1 < argc)
			expires = argv[++i];
		else if (strcmp(argv[i], "--scenario") == 0 && i + 1 < argc)
			scenario = argv[++i];
		else if (npos < 5)
			pos[npos++] = argv[i];
		else
			npos = 6;
	}
	if (npos != 5) {
		return RELCTL_USAGE;
	}
	w = json_pack("{s:s}", "reason", pos[4]);
	if (expires)
		json_object_set_new(w, "expires", json_string(expires));
	if (scenario)
		json_object_set_new(w, "scenario", json_string(scenario));
	text = json_dumps(w, JSON_COMPACT);
	json_decref(w);
	if (relctl_open_store(pos[0], &st)) {
		free(text);
		return 1;
	}
	relctl_me(&u);
	rc = artifact_ino(st, pos[1], pos[2], &ino);
	if (rc == 0)
		rc = store_waive(st, ino, pos[3], text, strlen(text), &u);
	free(text);
	return relctl_done(st, rc, "waived");
}

/* The common shape: STORE and n words; open, act as the caller, report. */
static int
simple(int argc, char **argv, int nargs, const char *said,
    int (*act)(struct store *, char **, const struct store_user *))
{
	struct store_user u;
	struct store *st;

	if (argc != nargs + 2) {
		return RELCTL_USAGE;
	}
	if (relctl_open_store(argv[1], &st))
		return 1;
	relctl_me(&u);
	return relctl_done(st, act(st, argv + 2, &u), said);
}

static int
act_revoke(struct store *st, char **a, const struct store_user *u)
{
	return store_revoke(st, a[0], a[1], a[2], u);
}

static int
act_restore(struct store *st, char **a, const struct store_user *u)
{
	return store_restore(st, a[0], a[1], a[2], u);
}

static int
act_promote(struct store *st, char **a, const struct store_user *u)
{
	return store_promote(st, a[0], a[1], a[2], u);
}

static int
act_hold(struct store *st, char **a, const struct store_user *u)
{
	return store_hold(st, a[0], a[1], strlen(a[1]), u);
}

static int
act_release(struct store *st, char **a, const struct store_user *u)
{
	return store_release(st, a[0], u);
}

int
cmd_promote(int argc, char **argv)
{
	return simple(argc, argv, 3, "promoted", act_promote);
}

int
cmd_revoke(int argc, char **argv)
{
	return simple(argc, argv, 3, "revoked", act_revoke);
}

int
cmd_restore(int argc, char **argv)
{
	return simple(argc, argv, 3, "restored", act_restore);
}

int
cmd_hold(int argc, char **argv)
{
	return simple(argc, argv, 2, "held", act_hold);
}

/* The roles and who holds them, as text. */
static void
print_roles(json_t *config, const char *only)
{
	for (int r = 0; r < STORE_NROLES; r++) {
		const char *name = store_role_name((enum store_role)r);
		json_t *groups = json_object_get(json_object_get(config,
		    "roles"), name), *g;
		size_t i;

		if (only && strcmp(only, name) != 0)
			continue;
		printf("%s:", name);
		if (json_array_size(groups) == 0)
			printf(" the store's owner");
		json_array_foreach(groups, i, g)
			printf("%s group %s (gid %lld)", i ? "," : "",
			    json_string_value(json_object_get(g, "group")),
			    (long long)json_integer_value(json_object_get(g,
			    "gid")));
		printf(", and root\n");
	}
}

/*
 * relctl config STORE file-pins|pin-sources [DIR...|PREFIX...|--none]:
 * show or set where pins may point.
 */
static int
config_sources(int argc, char **argv)
{
	enum store_source kind = strcmp(argv[2], "file-pins") == 0 ?
	    STORE_FILE_PINS : STORE_PIN_SOURCES;
	const char *key = kind == STORE_FILE_PINS ? "file_pins" : "pin_sources";
	struct store_user u;
	struct store *st;
	json_t *config = NULL, *v;
	size_t i;
	int rc = 0;

	if (relctl_open_store(argv[1], &st))
		return 1;
	relctl_me(&u);
	if (argc >= 4) {
		int none = argc == 4 && strcmp(argv[3], "--none") == 0;

		rc = store_config_sources(st, kind,
		    (const char *const *)argv + 3, none ? 0 :
		    (size_t)(argc - 3), &u);
	}
	if (rc == 0)
		rc = store_config_get(st, &config);
	if (rc == 0 && relctl_json_out) {
		json_t *list = json_object_get(config, key);
		char *text = list ? json_dumps(list, JSON_ENCODE_ANY) : NULL;

		printf("%s\n", text ? text : "[]");
		free(text);
	} else if (rc == 0) {
		printf("%s:", argv[2]);
		json_array_foreach(json_object_get(config, key), i, v)
			printf(" %s", json_string_value(v));
		printf("%s\n", json_array_size(json_object_get(config, key)) ?
		    "" : " none");
	}
	json_decref(config);
	return relctl_done(st, rc, NULL);
}

int
cmd_config(int argc, char **argv)
{
	struct store_user u;
	struct store *st;
	json_t *config = NULL;
	int rc = 0, role = -1;

	if (argc < 2) {
		return RELCTL_USAGE;
	}
	if (argc >= 3 && (strcmp(argv[2], "file-pins") == 0 ||
	    strcmp(argv[2], "pin-sources") == 0))
		return config_sources(argc, argv);
	if (argc >= 3 && (role = store_role_parse(argv[2])) < 0)
		return relctl_fail(role);
	if (relctl_open_store(argv[1], &st))
		return 1;
	relctl_me(&u);
	if (argc >= 4) {
		int owner = argc == 4 && strcmp(argv[3], "--owner") == 0;

		rc = store_config_set(st, (enum store_role)role,
		    (const char *const *)argv + 3, owner ? 0 :
		    (size_t)(argc - 3), &u);
	}
	if (rc == 0)
		rc = store_config_get(st, &config);
	if (rc == 0 && relctl_json_out) {
		char *text = json_dumps(config, JSON_INDENT(2) |
		    JSON_SORT_KEYS);

		if (text)
			printf("%s\n", text);
		free(text);
	} else if (rc == 0) {
		print_roles(config, role >= 0 ? argv[2] : NULL);
	}
	json_decref(config);
	return relctl_done(st, rc, NULL);
}

/* Print a status file of the tree: status, or status.json with --json. */
static int
print_dynamic(struct store *st, const char *dir)
{
	char path[1200], *buf = NULL;
	struct node n;
	uint64_t ino;
	size_t len;
	int rc;

	snprintf(path, sizeof(path), "%s/status%s", dir,
	    relctl_json_out ? ".json" : "");
	rc = store_resolve(st, path, &ino, &n);
	if (rc == 0)
		rc = store_dynamic_text(st, ino, &n, &buf, &len);
	if (rc == 0)
		fwrite(buf, 1, len, stdout);
	free(buf);
	return rc;
}

/* Set a scenario's or a release's JSON from the file a[1]. */
static int
act_set_file(struct store *st, char **a, const struct store_user *u,
    int (*set)(struct store *, const char *, const char *, size_t,
    const struct store_user *))
{
	char *buf = NULL;
	size_t len;
	int rc = read_arg_file(a[1], &buf, &len);

	if (rc == 0)
		rc = set(st, a[0], buf, len, u);
	free(buf);
	return rc;
}

static int
act_scenario_create(struct store *st, char **a, const struct store_user *u)
{
	return store_scenario_create(st, a[0], u);
}

static int
act_scenario_set(struct store *st, char **a, const struct store_user *u)
{
	return act_set_file(st, a, u, store_scenario_set);
}

/*
 * scenario create STORE NAME | scenario set STORE NAME SCENARIO.json |
 * scenario status STORE NAME (the same as mkdir and writes in the mount).
 */
int
cmd_scenario(int argc, char **argv)
{
	char dir[600];
	struct store *st;
	int rc;

	if (argc >= 2 && strcmp(argv[1], "create") == 0)
		return simple(argc - 1, argv + 1, 1, "scenario created",
		    act_scenario_create);
	if (argc >= 2 && strcmp(argv[1], "set") == 0)
		return simple(argc - 1, argv + 1, 2, "scenario set",
		    act_scenario_set);
	if (argc != 4 || strcmp(argv[1], "status") != 0) {
		return RELCTL_USAGE;
	}
	if (relctl_open_store(argv[2], &st))
		return 1;
	snprintf(dir, sizeof(dir), "scenarios/%s", argv[3]);
	rc = print_dynamic(st, dir);
	if (rc == -ENOENT)
		store_seterr(rc, "scenario '%s' does not exist", argv[3]);
	return relctl_done(st, rc, NULL);
}

static int
act_release_create(struct store *st, char **a, const struct store_user *u)
{
	return store_release_create(st, a[0], u);
}

static int
act_release_set(struct store *st, char **a, const struct store_user *u)
{
	return act_set_file(st, a, u, store_release_set);
}

/* a: release, scenario and an optional note (NULL when not given) */
static int
act_release_join(struct store *st, char **a, const struct store_user *u)
{
	const char *note = a[2] ? a[2] : "";

	return store_participant_add(st, a[0], a[1], note, strlen(note), u);
}

static int
act_release_leave(struct store *st, char **a, const struct store_user *u)
{
	return store_participant_withdraw(st, a[0], a[1], u);
}

static int
act_release_freeze(struct store *st, char **a, const struct store_user *u)
{
	return store_release_freeze(st, a[0], u);
}

/*
 * release create|freeze|status STORE R | release set STORE R RELEASE.json |
 * release join STORE R SCENARIO [NOTE] | release leave STORE R SCENARIO.
 */
static int
cmd_release_sub(int argc, char **argv)
{
	static const struct {
		const char *op;
		int nargs, optional;	/* words after STORE */
		const char *said;
		int (*act)(struct store *, char **, const struct store_user *);
	} subs[] = {
		{ "create", 1, 0, "release created", act_release_create },
		{ "set", 2, 0, "release set", act_release_set },
		{ "join", 2, 1, "joined", act_release_join },
		{ "leave", 2, 0, "left", act_release_leave },
		{ "freeze", 1, 0, "frozen", act_release_freeze },
	};
	struct store *st;
	char dir[600];
	int rc;

	for (size_t i = 0; i < sizeof(subs) / sizeof(*subs); i++) {
		int n = argc - 3;

		if (strcmp(argv[1], subs[i].op) != 0)
			continue;
		if (n > subs[i].nargs + subs[i].optional)
			n = subs[i].nargs;	/* too many: simple() says how */
		return simple(argc - 1, argv + 1, n < subs[i].nargs ?
		    subs[i].nargs : n, subs[i].said, subs[i].act);
	}
	if (argc != 4) {
		return RELCTL_USAGE;
	}
	if (relctl_open_store(argv[2], &st))
		return 1;
	snprintf(dir, sizeof(dir), "releases/%s", argv[3]);
	rc = print_dynamic(st, dir);
	if (rc == -ENOENT)
		store_seterr(rc, "release '%s' does not exist", argv[3]);
	return relctl_done(st, rc, NULL);
}

int
cmd_unhold(int argc, char **argv)
{
	return simple(argc, argv, 1, "hold ended", act_release);
}

int
cmd_release(int argc, char **argv)
{
	static const char *const subs[] = { "freeze", "status", "create",
	    "set", "join", "leave" };

	for (size_t i = 0; argc >= 2 && i < sizeof(subs) / sizeof(*subs); i++)
		if (strcmp(argv[1], subs[i]) == 0)
			return cmd_release_sub(argc, argv);
	return simple(argc, argv, 1, "released", act_release);
}

/*
 * relctl - the release state from a terminal.
 *
 * Human output by default, --json for scripts.  Uses the same store library
 * as the daemon and is safe beside a mounted store: LMDB serialises writers
 * and the ledger is written under a lock file.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "deliver.h"
#include "relctl.h"
#include "results.h"
#include "store.h"

static int	cmd_events(int argc, char **argv);
static int	cmd_fetch(int argc, char **argv);
static int	cmd_import(int argc, char **argv);
static int	cmd_result(int argc, char **argv);
static int	cmd_init(int argc, char **argv);
static int	cmd_ledger(int argc, char **argv);
static int	cmd_list(int argc, char **argv);
static int	cmd_publish(int argc, char **argv);
static int	cmd_rebuild(int argc, char **argv);
static int	cmd_show(int argc, char **argv);
static int	cmd_verify(int argc, char **argv);

static const struct {
	const char *name;
	int (*fn)(int, char **);
	const char *usage;
} cmds[] = {
	{ "init", cmd_init, "init STORE" },
	{ "publish", cmd_publish, "publish STORE DIR --project P --version V "
	    "[--scenario S] [--installer I] [--description D] [--pins FILE] "
	    "[--progress|--quiet]" },
	{ "list", cmd_list, "list STORE [PROJECT]" },
	{ "show", cmd_show, "show STORE PROJECT VERSION" },
	{ "verify", cmd_verify, "verify [--since COMMIT] STORE   (--since: only "
	    "what changed after COMMIT)" },
	{ "import", cmd_import, "import STORE FILE.jsonl [--artifact P/V] "
	    "[--progress|--quiet]   (--artifact: of the records naming none)" },
	{ "result", cmd_result, "result STORE PROJECT VERSION FILE...   (as a "
	    "cp of each FILE into the artifact's results/)" },
	{ "ledger", cmd_ledger, "ledger [--sync] STORE   (queued and written "
	    "ledger commits, the lag; --sync writes the queue first); "
	    "ledger --path STORE PATH   (where the ledger keeps PATH)" },
	{ "stage", cmd_stage, "stage STORE STAGE [CRITERIA.json]   (create a "
	    "stage)" },
	{ "criteria", cmd_criteria, "criteria STORE STAGE CRITERIA.json" },
	{ "status", cmd_status, "status STORE PROJECT VERSION [--at WHEN]   "
	    "(WHEN: as at/<WHEN>/ of the mount)" },
	{ "why", cmd_why, "why STORE PROJECT VERSION STAGE [--at WHEN] "
	    "[--with RESULT...] [--criteria FILE] [--without-waivers] "
	    "[--now ISO]   (what if: nothing is recorded)" },
	{ "gate", cmd_gate, "gate STORE PROJECT VERSION STAGE [--wait SECS]   "
	    "(exit 0 promoted, 1 not, 2 error)" },
	{ "approve", cmd_approve, "approve STORE PROJECT VERSION STAGE "
	    "[REASON]; approve --withdraw [--user U] STORE PROJECT VERSION "
	    "STAGE" },
	{ "waive", cmd_waive, "waive STORE PROJECT VERSION TESTCASE REASON "
	    "[--expires ISO-8601] [--scenario GLOB]" },
	{ "revoke", cmd_revoke, "revoke STORE STAGE PROJECT VERSION" },
	{ "restore", cmd_restore, "restore STORE STAGE PROJECT VERSION" },
	{ "promote", cmd_promote, "promote STORE STAGE PROJECT VERSION   (a "
	    "stage with \"automatic\": false)" },
	{ "hold", cmd_hold, "hold STORE STAGE REASON" },
	{ "unhold", cmd_unhold, "unhold STORE STAGE   (end a hold; relctl "
	    "release STORE STAGE is the same)" },
	{ "release", cmd_release, "release STORE STAGE   (end a hold); "
	    "release create|freeze|status STORE RELEASE; release set STORE "
	    "RELEASE RELEASE.json; release join STORE RELEASE SCENARIO [NOTE]; "
	    "release leave STORE RELEASE SCENARIO" },
	{ "scenario", cmd_scenario, "scenario create|status STORE SCENARIO; "
	    "scenario set STORE SCENARIO SCENARIO.json" },
	{ "fetch", cmd_fetch, "fetch STORE [PROJECT [VERSION]] [--progress|"
	    "--quiet]" },
	{ "events", cmd_events, "events STORE | events --follow STORE | "
	    "events redeliver STORE [TARGET] | events deliver STORE" },
	{ "rebuild", cmd_rebuild, "rebuild STORE   (with the store unmounted)" },
	{ "config", cmd_config, "config STORE [ROLE [GROUP...|--owner]]   "
	    "(roles ci, approver, manager: who holds them, or map one to Unix "
	    "groups; --owner: the store's owner alone)\n"
	    "  relctl config STORE file-pins|pin-sources [DIR...|PREFIX...|"
	    "--none]   (where pins may point; none by default)" },
};

static void
relctl_usage(FILE *f)
{
	fprintf(f, "usage: relctl [--json] COMMAND ...\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(*cmds); i++)
		fprintf(f, "  relctl %s\n", cmds[i].usage);
}

static int
cmd_init(int argc, char **argv)
{
	struct store_user u;
	int rc;

	if (argc != 2) {
		relctl_usage(stderr);
		return 2;
	}
	relctl_me(&u);
	rc = store_create(argv[1], &u);
	if (rc < 0)
		return relctl_fail(rc);
	if (!relctl_json_out)
		printf("created an empty relfs store in %s\n", argv[1]);
	else
		printf("{\"store\": \"%s\"}\n", argv[1]);
	return 0;
}

struct bar {
	int on;
	time_t last;
};

static struct bar import_bar;

static void
progress(void *arg, uint64_t relctl_done, uint64_t total)
{
	struct bar *b = arg;
	time_t now = time(NULL);
	int width = 40, fill;

	if (!b->on || (now == b->last && relctl_done < total))
		return;
	b->last = now;
	fill = total ? (int)(relctl_done * (uint64_t)width / total) : width;
	fprintf(stderr, "\r[%.*s%*s] %3d%% %llu/%llu MiB", fill,
	    "########################################", width - fill, "",
	    total ? (int)(relctl_done * 100 / total) : 100,
	    (unsigned long long)(relctl_done >> 20),
	    (unsigned long long)(total >> 20));
	if (relctl_done >= total)
		fputc('\n', stderr);
}

static int
cmd_publish(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "project", required_argument, NULL, 'p' },
		{ "version", required_argument, NULL, 'v' },
		{ "scenario", required_argument, NULL, 's' },
		{ "installer", required_argument, NULL, 'i' },
		{ "description", required_argument, NULL, 'd' },
		{ "pins", required_argument, NULL, 'P' },
		{ "progress", no_argument, NULL, 'g' },
		{ "quiet", no_argument, NULL, 'q' },
		{ NULL, 0, NULL, 0 },
	};
	struct store_publish o = { 0 };
	struct bar bar = { isatty(2), 0 };
	struct store_user u;
	struct store *st;
	char id[DIGEST_HEX_LEN + 1];
	int c, rc;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'p': o.project = optarg; break;
		case 'v': o.version = optarg; break;
		case 's': o.scenario = optarg; break;
		case 'i': o.installer = optarg; break;
		case 'd': o.description = optarg; break;
		case 'P': o.pins_file = optarg; break;
		case 'g': bar.on = 1; break;
		case 'q': bar.on = 0; break;
		default:
			relctl_usage(stderr);
			return 2;
		}
	}
	if (argc - optind != 2 || !o.project || !o.version) {
		fprintf(stderr, "usage: relctl %s\n", cmds[1].usage);
		return 2;
	}
	o.progress = progress;
	o.arg = &bar;
	if (relctl_open_store(argv[optind], &st))
		return 1;
	relctl_me(&u);
	rc = store_publish_dir(st, argv[optind + 1], &o, &u, id);
	store_close(st);
	if (rc < 0)
		return relctl_fail(rc);
	if (relctl_json_out)
		printf("{\"project\": \"%s\", \"version\": \"%s\", \"id\": "
		    "\"%s\"}\n", o.project, o.version, id);
	else
		printf("published %s %s (id %s)\n", o.project, o.version, id);
	return 0;
}

struct lister {
	struct store *st;
	const char *project;
	json_t *out;
};

static int
list_version(void *arg, const char *name, uint64_t ino, const struct node *n,
    uint64_t off)
{
	struct lister *l = arg;
	char when[32];

	(void)ino;
	(void)off;
	time_iso(when, n->mtime);
	if (relctl_json_out)
		json_array_append_new(l->out, json_pack("{s:s,s:s,s:s}",
		    "project", l->project, "version", name, "created", when));
	else
		printf("%-24s %-32s %s\n", l->project, name, when);
	return 0;
}

static int
list_project(void *arg, const char *name, uint64_t ino, const struct node *n,
    uint64_t off)
{
	struct lister *l = arg;

	(void)n;
	(void)off;
	l->project = name;
	return store_dir_list(l->st, ino, 0, list_version, l) < 0;
}

static int
cmd_list(int argc, char **argv)
{
	struct lister l = { NULL, NULL, json_array() };
	struct store *st;
	struct node n;
	uint64_t ino;
	char path[600];
	int rc;

	if (argc < 2 || argc > 3) {
		relctl_usage(stderr);
		return 2;
	}
	if (relctl_open_store(argv[1], &st))
		return 1;
	l.st = st;
	if (argc == 3) {
		snprintf(path, sizeof(path), "artifacts/%s", argv[2]);
		rc = store_resolve(st, path, &ino, &n);
		if (rc == 0) {
			l.project = argv[2];
			rc = store_dir_list(st, ino, 0, list_version, &l);
		}
	} else {
		rc = store_dir_list(st, INO_ARTIFACTS, 0, list_project, &l);
	}
	store_close(st);
	if (rc < 0) {
		json_decref(l.out);
		return relctl_fail(rc);
	}
	if (relctl_json_out)
		json_dumpf(l.out, stdout, JSON_INDENT(2)), putchar('\n');
	json_decref(l.out);
	return 0;
}

static int
cmd_show(int argc, char **argv)
{
	struct store *st;
	struct node n;
	uint64_t ino;
	char path[600], buf[65536];
	ssize_t got;
	int rc, fd;

	if (argc != 4) {
		relctl_usage(stderr);
		return 2;
	}
	if (relctl_open_store(argv[1], &st))
		return 1;
	snprintf(path, sizeof(path), "artifacts/%s/%s/manifest.json", argv[2],
	    argv[3]);
	rc = store_resolve(st, path, &ino, &n);
	if (rc == -ENOENT)
		store_seterr(rc, "artifact %s %s does not exist", argv[2],
		    argv[3]);
	if (rc == 0)
		rc = store_node_open(st, &n, &fd);
	store_close(st);
	if (rc < 0)
		return relctl_fail(rc);
	while ((got = read(fd, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, (size_t)got, stdout);
	close(fd);
	return 0;
}

static void
print_refused(void *arg, size_t line, const char *why)
{
	json_t *out = arg;

	json_array_append_new(out, json_pack("{s:i,s:s}", "line",
	    (json_int_t)line, "reason", why));
	if (!relctl_json_out)
		fprintf(stderr, "refused line %zu: %s\n", line, why);
}

static void
import_progress(void *arg, uint64_t relctl_done, uint64_t total)
{
	(void)arg;
	progress(&import_bar, relctl_done, total);
}

static int
cmd_import(int argc, char **argv)
{
	json_t *refused = json_array();
	struct store_user u;
	struct store *st;
	uint64_t n = 0;
	int rc, i = 1;

	const char *pos[2], *artifact = NULL;
	int npos = 0;

	import_bar.on = isatty(2);
	for (; i < argc; i++) {
		if (strcmp(argv[i], "--progress") == 0)
			import_bar.on = 1;
		else if (strcmp(argv[i], "--quiet") == 0)
			import_bar.on = 0;
		else if (strcmp(argv[i], "--artifact") == 0 && i + 1 < argc)
			artifact = argv[++i];
		else if (npos < 2)
			pos[npos++] = argv[i];
		else
			npos = 3;
	}
	if (npos != 2) {
		fprintf(stderr, "usage: relctl import STORE FILE.jsonl "
		    "[--artifact P/V] [--progress|--quiet]\n");
		json_decref(refused);
		return 2;
	}
	if (relctl_open_store(pos[0], &st)) {
		json_decref(refused);
		return 1;
	}
	relctl_me(&u);
	rc = store_import(st, pos[1], artifact, &u, print_refused,
	    import_progress, refused, &n);
	store_close(st);
	if (rc < 0) {
		json_decref(refused);
		return relctl_fail(rc);
	}
	if (relctl_json_out) {
		json_t *r = json_pack("{s:i,s:O}", "imported", (json_int_t)n,
		    "refused", refused);

		json_dumpf(r, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(r);
	} else {
		printf("imported %llu runs, refused %zu records\n",
		    (unsigned long long)n, json_array_size(refused));
	}
	rc = json_array_size(refused) ? 1 : 0;
	json_decref(refused);
	return rc;
}

/*
 * relctl result STORE PROJECT VERSION FILE...: each FILE recorded as if
 * copied into the artifact's results/ under its own name (a run, or a run
 * per entry); exit 1 when one was refused (the others are recorded).
 */
static int
cmd_result(int argc, char **argv)
{
	json_t *out = json_pack("{s:[],s:[]}", "recorded", "refused");
	char key[600], *buf;
	struct store_user u;
	struct store *st;
	struct node n;
	uint64_t art, no;
	size_t len;
	int rc = 0, bad = 0;

	if (argc < 5) {
		relctl_usage(stderr);
		json_decref(out);
		return 2;
	}
	if (relctl_open_store(argv[1], &st)) {
		json_decref(out);
		return 1;
	}
	relctl_me(&u);
	snprintf(key, sizeof(key), "artifacts/%s/%s", argv[2], argv[3]);
	if ((rc = store_resolve(st, key, &art, &n)) < 0) {
		store_close(st);
		json_decref(out);
		return relctl_fail(store_seterr(rc, "artifact %s %s does not "
		    "exist", argv[2], argv[3]));
	}
	for (int i = 4; i < argc; i++) {
		const char *name = strrchr(argv[i], '/');

		name = name ? name + 1 : argv[i];
		buf = NULL;
		/* one byte more than the limit: then it says it is too big */
		rc = read_small_file(argv[i], RESULT_MAX + 1, &buf, &len);
		if (rc == 0)
			rc = store_result_add(st, art, name, buf, len, &u, &no);
		free(buf);
		if (rc == -EACCES) {
			store_close(st);
			json_decref(out);
			return relctl_fail(rc);
		}
		if (rc < 0) {
			bad = 1;
			json_array_append_new(json_object_get(out, "refused"),
			    json_pack("{s:s,s:s}", "file", argv[i], "why",
			    store_errmsg()));
			if (!relctl_json_out)
				fprintf(stderr, "relctl: refused %s: %s\n",
				    argv[i], store_errmsg());
		} else {
			json_array_append_new(json_object_get(out, "recorded"),
			    json_string(argv[i]));
			if (!relctl_json_out)
				printf("recorded %s\n", argv[i]);
		}
	}
	store_close(st);
	if (relctl_json_out) {
		json_dumpf(out, stdout, JSON_INDENT(2));
		putchar('\n');
	}
	json_decref(out);
	return bad;
}

/* relctl ledger --path STORE LOGICAL: where the ledger keeps it */
static int
ledger_path(const char *store, const char *logical)
{
	char out[4096];
	struct store *st;
	int rc;

	if (relctl_open_store(store, &st))
		return 1;
	rc = store_ledger_path(st, logical, out, sizeof(out));
	store_close(st);
	if (rc < 0)
		return relctl_fail(rc);
	printf("%s\n", out);
	return 0;
}

static int
cmd_ledger(int argc, char **argv)
{
	struct store_ledger_lag lag;
	uint64_t pending, commits;
	struct store *st;
	char oldest[32] = "";
	double age = 0;
	int rc, sync = argc == 3 && strcmp(argv[1], "--sync") == 0;

	if (argc == 4 && strcmp(argv[1], "--path") == 0)
		return ledger_path(argv[2], argv[3]);
	if (argc != 2 + sync) {
		relctl_usage(stderr);
		return 2;
	}
	if (relctl_open_store(argv[1 + sync], &st))
		return 1;
	rc = sync ? store_drain(st) : 0;
	if (rc == 0)
		rc = store_ledger_state(st, &pending, &commits);
	if (rc == 0)
		rc = store_ledger_lag(st, &lag);
	store_close(st);
	if (rc < 0)
		return relctl_fail(rc);
	if (lag.queued && lag.oldest) {
		struct timespec now;

		clock_gettime(CLOCK_REALTIME, &now);
		time_iso(oldest, lag.oldest);
		age = ((double)now.tv_sec * 1000 + now.tv_nsec / 1e6 -
		    (double)lag.oldest_ms) / 1000;
		if (age < 0)
			age = 0;
	}
	if (relctl_json_out)
		printf("{\"pending\": %llu, \"commits\": %llu, \"oldest\": "
		    "%s%s%s, \"lag_seconds\": %.3f, \"written_seq\": %llu, "
		    "\"layout\": %d}\n", (unsigned long long)pending,
		    (unsigned long long)commits, *oldest ? "\"" : "",
		    *oldest ? oldest : "null", *oldest ? "\"" : "", age,
		    (unsigned long long)lag.written, lag.format);
	else {
		printf("ledger: %llu commits, %llu queued\n",
		    (unsigned long long)commits, (unsigned long long)pending);
		if (*oldest)
			printf("lag: the oldest queued change is %.1fs old "
			    "(%s)\n", age, oldest);
		else
			printf("lag: none (every change is in the ledger)\n");
	}
	return 0;
}

static int
print_event_quiet(void *arg, uint64_t seq, const char *json, size_t len)
{
	(void)json;
	(void)len;
	*(uint64_t *)arg = seq;
	return 0;
}

static int
print_event(void *arg, uint64_t seq, const char *json, size_t len)
{
	uint64_t *last = arg;

	fwrite(json, 1, len, stdout);
	putchar('\n');
	*last = seq;
	return 0;
}

static volatile sig_atomic_t follow_stop;

static void
on_signal(int sig)
{
	(void)sig;
	follow_stop = 1;
}

static struct bar fetch_bar;

static void
fetch_progress(void *arg, uint64_t relctl_done, uint64_t total)
{
	(void)arg;
	if (total)
		progress(&fetch_bar, relctl_done, total);
}

static void
fetch_report(void *arg, const char *artkey, const char *pin, int state,
    const char *err)
{
	static const char *words[] = { "already present", "fetched",
	    "fetched (resumed)", "failed" };
	json_t *out = arg;

	if (relctl_json_out)
		json_array_append_new(out, json_pack("{s:s,s:s,s:s,s:s}",
		    "artifact", artkey, "pin", pin, "state", words[state],
		    "error", err ? err : ""));
	else
		printf("%s %s: %s%s%s\n", artkey, pin, words[state],
		    err && *err ? ": " : "", err ? err : "");
}

static int
cmd_fetch(int argc, char **argv)
{
	json_t *out = json_array();
	const char *pos[3] = { NULL, NULL, NULL };
	struct store *st;
	int rc, npos = 0;

	fetch_bar.on = isatty(2);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--progress") == 0)
			fetch_bar.on = 1;
		else if (strcmp(argv[i], "--quiet") == 0)
			fetch_bar.on = 0;
		else if (npos < 3)
			pos[npos++] = argv[i];
	}
	if (npos < 1) {
		relctl_usage(stderr);
		json_decref(out);
		return 2;
	}
	if (relctl_open_store(pos[0], &st)) {
		json_decref(out);
		return 1;
	}
	rc = store_fetch_all(st, pos[1], pos[2], fetch_report, fetch_progress,
	    out);
	store_close(st);
	if (relctl_json_out) {
		json_dumpf(out, stdout, JSON_INDENT(2));
		putchar('\n');
	}
	json_decref(out);
	return rc < 0 ? relctl_fail(rc) : 0;
}

static int
cmd_events(int argc, char **argv)
{
	struct store *st;
	json_t *s = NULL;
	const char *k;
	json_t *v;
	int rc, sent = 0;

	if (argc == 3 && strcmp(argv[1], "--follow") == 0) {
		uint64_t last = 0;

		if (relctl_open_store(argv[2], &st))
			return 1;
		/* from now on, one JSON object per line */
		rc = store_events(st, 0, print_event_quiet, &last);
		signal(SIGINT, on_signal);
		signal(SIGTERM, on_signal);
		setvbuf(stdout, NULL, _IOLBF, 0);
		while (rc == 0 && !follow_stop) {
			rc = store_events(st, last + 1, print_event, &last);
			fflush(stdout);
			usleep(200000);
		}
		store_close(st);
		return rc < 0 ? relctl_fail(rc) : 0;
	}
	if (argc >= 3 && (strcmp(argv[1], "redeliver") == 0 ||
	    strcmp(argv[1], "deliver") == 0)) {
		if (relctl_open_store(argv[2], &st))
			return 1;
		rc = strcmp(argv[1], "deliver") == 0 ? hooks_deliver(st, &sent) :
		    hooks_redeliver(st, argc > 3 ? argv[3] : NULL, &sent);
		store_close(st);
		if (rc < 0)
			return relctl_fail(rc);
		printf("%d delivered\n", sent);
		return 0;
	}
	if (argc != 2) {
		relctl_usage(stderr);
		return 2;
	}
	if (relctl_open_store(argv[1], &st))
		return 1;
	rc = hooks_status(st, &s);
	store_close(st);
	if (rc < 0)
		return relctl_fail(rc);
	if (relctl_json_out) {
		json_dumpf(s, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
		putchar('\n');
	} else {
		printf("%lld events in the outbox\n", (long long)
		    json_integer_value(json_object_get(s, "events")));
		if (json_object_get(s, "webhooks_error"))
			printf("webhooks.json is ignored: %s\n",
			    json_string_value(json_object_get(s,
			    "webhooks_error")));
		json_object_foreach(json_object_get(s, "targets"), k, v) {
			printf("%s: %lld delivered, %lld pending, %zu dead%s%s\n",
			    k, (long long)json_integer_value(json_object_get(v,
			    "delivered")), (long long)json_integer_value(
			    json_object_get(v, "pending")), json_array_size(
			    json_object_get(v, "dead")), json_object_get(v,
			    "last_error") ? "; last error: " : "",
			    json_object_get(v, "last_error") ? json_string_value(
			    json_object_get(v, "last_error")) : "");
		}
	}
	json_decref(s);
	return 0;
}

static void
print_problem(void *arg, const char *p)
{
	json_t *out = arg;

	if (relctl_json_out)
		json_array_append_new(out, json_string(p));
	else
		printf("problem: %s\n", p);
}

static int
cmd_verify(int argc, char **argv)
{
	json_t *out = json_array();
	const char *since = NULL;
	struct store *st;
	unsigned problems = 0;
	uint64_t commits = 0;
	int rc;

	if (argc == 4 && strcmp(argv[1], "--since") == 0) {
		since = argv[2];
		argv += 2;
		argc -= 2;
	}
	if (argc != 2) {
		relctl_usage(stderr);
		return 2;
	}
	if (relctl_open_store(argv[1], &st)) {
		json_decref(out);
		return 1;
	}
	rc = since ? store_verify_since(st, since, print_problem, out,
	    &problems, &commits) : store_verify(st, print_problem, out,
	    &problems);
	store_close(st);
	if (rc < 0) {
		json_decref(out);
		return relctl_fail(rc);
	}
	if (relctl_json_out) {
		json_t *r = json_pack("{s:b,s:o}", "ok", problems == 0,
		    "problems", out);

		json_dumpf(r, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(r);
	} else {
		json_decref(out);
		if (problems)
			printf("verify: %u problem%s found\n", problems,
			    problems == 1 ? "" : "s");
		else if (since)
			printf("verify: ok (%llu commit%s since %s)\n",
			    (unsigned long long)commits, commits == 1 ? "" : "s",
			    since);
		else
			printf("verify: ok\n");
	}
	return problems ? 1 : 0;
}

static int
cmd_rebuild(int argc, char **argv)
{
	uint64_t n;
	int rc;

	if (argc != 2) {
		relctl_usage(stderr);
		return 2;
	}
	rc = store_rebuild(argv[1], &n);
	if (rc < 0)
		return relctl_fail(rc);
	if (relctl_json_out)
		printf("{\"artifacts\": %llu}\n", (unsigned long long)n);
	else
		printf("rebuilt the index of %s: %llu artifacts\n", argv[1],
		    (unsigned long long)n);
	return 0;
}

int
main(int argc, char **argv)
{
	int i = 1;

	/* a hook that goes away mid-write is EPIPE, never a signal */
	signal(SIGPIPE, SIG_IGN);
	if (i < argc && strcmp(argv[i], "--json") == 0) {
		relctl_json_out = 1;
		i++;
	}
	if (i >= argc || strcmp(argv[i], "--help") == 0 ||
	    strcmp(argv[i], "-h") == 0) {
		relctl_usage(i >= argc ? stderr : stdout);
		return i >= argc ? 2 : 0;
	}
	for (size_t c = 0; c < sizeof(cmds) / sizeof(*cmds); c++) {
		if (strcmp(argv[i], cmds[c].name) == 0) {
			int rc;

			store_clearerr();
			rc = cmds[c].fn(argc - i, argv + i);

			/* a command used wrongly: the list of commands */
			if (rc == RELCTL_USAGE) {
				relctl_usage(stderr);
				rc = 2;
			}
			return rc;
		}
	}
	fprintf(stderr, "relctl: unknown command '%s'\n", argv[i]);
	relctl_usage(stderr);
	return 2;
}

/* deliver.c - see deliver.h. */
#define _GNU_SOURCE
#include "deliver.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct target {
	char id[1200];
	char path[4600];	/* hook: the executable */
	char *url, *secret;	/* webhook */
	json_t *events;		/* webhook: the types it wants (or NULL) */
	char type[256];		/* hook: its event type, or "any" */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

/* RELFS_HOOK_TIMEOUT and RELFS_BACKOFF_MAX (seconds) tune the defaults. */
static long
knob(const char *name, long def)
{
	const char *v = getenv(name);
	long n = v ? strtol(v, NULL, 10) : 0;

	return n > 0 ? n : def;
}

static void
curl_setup(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* Check webhooks.json: a list (or {"webhooks": list}) of webhooks. */
static int
webhooks_check(json_t *w)
{
	json_t *list = json_is_array(w) ? w : json_object_get(w, "webhooks");
	json_t *e, *v, *t;
	const char *k;
	size_t i, j;

	if (!json_is_array(list) || (json_is_object(w) &&
	    json_object_size(w) != 1))
		return store_seterr(-EINVAL, "webhooks.json must be a list of "
		    "webhooks (or {\"webhooks\": [...]})");
	json_array_foreach(list, i, e) {
		const char *url = json_string_value(json_object_get(e, "url"));

		if (!json_is_object(e) || !url || (strncmp(url, "http://", 7) &&
		    strncmp(url, "https://", 8)) || strlen(url) > 1000 ||
		    strpbrk(url, " \t\r\n"))
			return store_seterr(-EINVAL, "webhooks.json: webhook %zu "
			    "needs a url (http:// or https://, no white space, "
			    "at most 1000 bytes)", i + 1);
		json_object_foreach(e, k, v) {
			if (strcmp(k, "url") == 0 || (strcmp(k, "secret") == 0 &&
			    json_is_string(v)))
				continue;
			if (strcmp(k, "events") == 0 && json_is_array(v)) {
				json_array_foreach(v, j, t)
					if (!json_is_string(t))
						break;
				if (j == json_array_size(v))
					continue;
			}
			return store_seterr(-EINVAL, "webhooks.json: webhook %zu: "
			    "unknown or bad key '%s' (url, secret: text; events: "
			    "a list of event types)", i + 1, k);
		}
	}
	return 0;
}

int
webhooks_parse(const char *text, size_t len, json_t **out)
{
	json_t *w;
	int rc;

	rc = json_parse_checked(text, len, "webhooks.json is not valid JSON",
	    webhooks_check, &w);
	if (rc < 0)
		return rc;
	*out = json_is_array(w) ? json_incref(w) :
	    json_incref(json_object_get(w, "webhooks"));
	json_decref(w);
	return 0;
}

int
webhooks_load(const char *path, json_t **out)
{
	char *text;
	size_t len;
	int rc;

	*out = NULL;
	if ((rc = read_small_file(path, WEBHOOKS_MAX, &text, &len)) < 0)
		return rc;
	rc = webhooks_parse(text, len, out);
	free(text);
	return rc;
}

/* Every target: hooks first, then webhooks. */
static int
targets(struct store *st, struct target **out, size_t *n)
{
	char dir[4200], path[4600];
	struct target *v = NULL;
	json_t *w = NULL, *e;
	size_t i;
	DIR *d;

	*n = 0;
	snprintf(dir, sizeof(dir), "%s/hooks", store_path(st));
	if ((d = opendir(dir))) {
		for (struct dirent *de; (de = readdir(d));) {
			struct stat sb;
			struct target *t;

			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			if (stat(path, &sb) < 0 || !S_ISREG(sb.st_mode) ||
			    !(sb.st_mode & 0111) ||
			    strlen(de->d_name) >= sizeof(v->type))
				continue;
			if (!(t = realloc(v, (*n + 1) * sizeof(*v))))
				break;
			v = t;
			t = &v[(*n)++];
			memset(t, 0, sizeof(*t));
			snprintf(t->id, sizeof(t->id), "hook:%s", de->d_name);
			snprintf(t->path, sizeof(t->path), "%s", path);
			snprintf(t->type, sizeof(t->type), "%s", de->d_name);
		}
		closedir(d);
	}
	snprintf(path, sizeof(path), "%s/webhooks.json", store_path(st));
	if (webhooks_load(path, &w) < 0)
		w = NULL;
	json_array_foreach(w, i, e) {
		const char *url = json_string_value(json_object_get(e, "url"));
		const char *secret = json_string_value(json_object_get(e,
		    "secret"));
		struct target *t;

		if (!(t = realloc(v, (*n + 1) * sizeof(*v))))
			break;
		v = t;
		t = &v[(*n)++];
		memset(t, 0, sizeof(*t));
		snprintf(t->id, sizeof(t->id), "web:%s", url);
		t->url = strdup(url);
		t->secret = strdup(secret ? secret : "");
		t->events = json_incref(json_object_get(e, "events"));
	}
	json_decref(w);
	*out = v;
	return 0;
}

static void
targets_free(struct target *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].url);
		free(v[i].secret);
		json_decref(v[i].events);
	}
	free(v);
}

static int
wants(const struct target *t, const char *type)
{
	size_t i;
	json_t *e;

	if (!t->url)
		return strcmp(t->type, "any") == 0 || strcmp(t->type, type) == 0;
	if (!json_is_array(t->events) || json_array_size(t->events) == 0)
		return 1;
	json_array_foreach(t->events, i, e)
		if (json_string_value(e) && (strcmp(json_string_value(e),
		    type) == 0 || strcmp(json_string_value(e), "any") == 0))
			return 1;
	return 0;
}

/* A hook's environment: RELFS_* from these keys of the event. */
static const char *hook_keys[][2] = { { "RELFS_EVENT", "type" },
    { "RELFS_PROJECT", "project" }, { "RELFS_VERSION", "version" },
    { "RELFS_STAGE", "stage" }, { "RELFS_EVENT_ID", "id" },
    { "RELFS_SCENARIO", "scenario" }, { "RELFS_RELEASE", "release" } };
#define HOOK_KEYS (sizeof(hook_keys) / sizeof(*hook_keys))

/* Free what hook_env made: the RELFS_* strings, after the daemon's own. */
static void
hook_env_free(char **env)
{
	size_t n = 0;

	if (!env)
		return;
	while (env[n])
		n++;
	for (size_t i = n >= HOOK_KEYS ? n - HOOK_KEYS : 0; i < n; i++)
		free(env[i]);
	free(env);
}

/*
 * The hook's environment: the daemon's own, with RELFS_* set from the
 * event (empty when it has no such name).  Made before the hook is
 * spawned: nothing but exec runs in the child.  NULL when out of memory.
 */
static char **
hook_env(json_t *ev)
{
	size_t n = 0, i, k;
	char **env;

	while (environ[n])
		n++;
	if (!(env = calloc(n + HOOK_KEYS + 1, sizeof(*env))))
		return NULL;
	for (i = 0, n = 0; environ[i]; i++) {
		for (k = 0; k < HOOK_KEYS; k++)
			if (strncmp(environ[i], hook_keys[k][0],
			    strlen(hook_keys[k][0])) == 0 &&
			    environ[i][strlen(hook_keys[k][0])] == '=')
				break;
		if (k == HOOK_KEYS)
			env[n++] = environ[i];
	}
	for (k = 0; k < HOOK_KEYS; k++) {
		const char *v = json_string_value(json_object_get(ev,
		    hook_keys[k][1]));

		if (asprintf(&env[n + k], "%s=%s", hook_keys[k][0],
		    v ? v : "") < 0) {
			/* what was made goes; the daemon's own strings stay */
			env[n + k] = NULL;
			while (k-- > 0)
				free(env[n + k]);
			free(env);
			return NULL;
		}
	}
	return env;
}

static int
run_hook(const struct target *t, const char *json, json_t *ev, char *err,
    size_t errlen)
{
	char *argv[] = { (char *)t->path, NULL }, **env;
	posix_spawn_file_actions_t fa;
	int pfd[2], status = 0, rc;
	pid_t pid;
	time_t start = time(NULL);

	if (!(env = hook_env(ev))) {
		snprintf(err, errlen, "out of memory for the hook's "
		    "environment");
		return -ENOMEM;
	}
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		rc = -errno;
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		hook_env_free(env);
		return rc;
	}
	/* the event on the hook's stdin; the write end closes at exec */
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pfd[0], 0);
	rc = -posix_spawn(&pid, t->path, &fa, NULL, argv, env);
	posix_spawn_file_actions_destroy(&fa);
	hook_env_free(env);
	if (rc < 0) {
		snprintf(err, errlen, "hook %s could not be started: %s",
		    t->path, strerror(-rc));
		close(pfd[0]);
		close(pfd[1]);
		return rc;
	}
	close(pfd[0]);
	/* a hook that exits unread: EPIPE (SIGPIPE is ignored by main) */
	(void)write_all(pfd[1], json, strlen(json));
	(void)write_all(pfd[1], "\n", 1);
	close(pfd[1]);
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			break;
		if (r < 0 && errno != EINTR) {
			rc = -errno;
			snprintf(err, errlen, "wait: %s", strerror(errno));
			return rc;
		}
		if (time(NULL) - start >= knob("RELFS_HOOK_TIMEOUT",
		    HOOKS_TIMEOUT)) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			snprintf(err, errlen, "hook %s ran too long and was killed",
			    t->path);
			return -ETIMEDOUT;
		}
		usleep(10000);
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	snprintf(err, errlen, "hook %s exited with %d", t->path,
	    WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	return -EIO;
}

static int
post_hook(const struct target *t, const char *json, json_t *ev, char *err,
    size_t errlen)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	char sig[200] = "X-Relfs-Signature: sha256=", hdr[300];
	struct curl_slist *h = NULL;
	long code = 0;
	CURLcode cr;
	CURL *c;

	pthread_once(&curl_once, curl_setup);
	HMAC(EVP_sha256(), t->secret, (int)strlen(t->secret),
	    (const unsigned char *)json, strlen(json), mac, &maclen);
	for (unsigned int i = 0; i < maclen; i++)
		snprintf(sig + strlen(sig), 3, "%02x", mac[i]);
	c = curl_easy_init();
	if (!c) {
		snprintf(err, errlen, "curl: could not start");
		return -ENOMEM;
	}
	h = curl_slist_append(h, "Content-Type: application/json");
	snprintf(hdr, sizeof(hdr), "X-Relfs-Event: %s",
	    json_string_value(json_object_get(ev, "type")));
	h = curl_slist_append(h, hdr);
	snprintf(hdr, sizeof(hdr), "X-Relfs-Delivery: %s",
	    json_string_value(json_object_get(ev, "id")));
	h = curl_slist_append(h, hdr);
	h = curl_slist_append(h, sig);
	curl_easy_setopt(c, CURLOPT_URL, t->url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(json));
	curl_easy_setopt(c, CURLOPT_TIMEOUT, knob("RELFS_HOOK_TIMEOUT",
	    HOOKS_TIMEOUT));
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, NULL);
	{
		FILE *devnull = fopen("/dev/null", "w");

		curl_easy_setopt(c, CURLOPT_WRITEDATA, devnull);
		cr = curl_easy_perform(c);
		if (devnull)
			fclose(devnull);
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	if (cr != CURLE_OK) {
		snprintf(err, errlen, "%s: %s", t->url, curl_easy_strerror(cr));
		return cr == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -EIO;
	}
	if (code < 200 || code > 299) {
		snprintf(err, errlen, "%s answered HTTP %ld", t->url, code);
		return -EIO;
	}
	return 0;
}

static int
send_one(const struct target *t, const char *json, char *err, size_t errlen)
{
	json_t *ev = json_loads(json, JSON_REJECT_DUPLICATES, NULL);
	int rc;

	if (!ev) {
		snprintf(err, errlen, "the event is damaged");
		return -EINVAL;
	}
	rc = t->url ? post_hook(t, json, ev, err, errlen) :
	    run_hook(t, json, ev, err, errlen);
	json_decref(ev);
	return rc;
}

/* The next event after the cursor that the target wants. */
struct next {
	const struct target *t;
	uint64_t seq;
	char *json;
	uint64_t skipped_to;
};

static int
find_next(void *arg, uint64_t seq, const char *val, size_t len)
{
	struct next *n = arg;
	json_t *ev = json_loadb(val, len, JSON_REJECT_DUPLICATES, NULL);
	int want = ev && wants(n->t, json_string_value(json_object_get(ev,
	    "type")) ? json_string_value(json_object_get(ev, "type")) : "");

	json_decref(ev);
	if (!want) {
		n->skipped_to = seq;
		return 0;
	}
	n->seq = seq;
	n->json = strndup(val, len);
	return 1;
}

static int
deliver_target(struct store *st, const struct target *t, int *sent)
{
	json_t *s = NULL;
	int64_t now = time(NULL);
	uint64_t cursor;
	int rc, changed = 0;

	if (store_delivery_get(st, t->id, &s) < 0)
		s = json_pack("{s:i,s:i,s:i,s:[]}", "cursor", 0, "attempts", 0,
		    "delivered", 0, "dead");
	if (json_integer_value(json_object_get(s, "next_at")) > now) {
		json_decref(s);
		return 0;
	}
	cursor = (uint64_t)json_integer_value(json_object_get(s, "cursor"));
	for (int k = 0; k < 100; k++) {
		struct next n = { t, 0, NULL, cursor };
		char err[6000] = "";

		rc = store_events(st, cursor + 1, find_next, &n);
		if (rc < 0 || !n.json) {
			if (n.skipped_to > cursor) {
				cursor = n.skipped_to;
				changed = 1;
			}
			break;
		}
		if (send_one(t, n.json, err, sizeof(err)) == 0) {
			cursor = n.seq;
			json_object_set_new(s, "attempts", json_integer(0));
			json_object_del(s, "next_at");
			json_object_set_new(s, "delivered", json_integer(
			    json_integer_value(json_object_get(s,
			    "delivered")) + 1));
			(*sent)++;
			changed = 1;
			free(n.json);
			continue;
		}
		free(n.json);
		{
			json_int_t a = json_integer_value(json_object_get(s,
			    "attempts")) + 1;

			json_object_set_new(s, "last_error", json_string(err));
			if (a >= HOOKS_ATTEMPTS) {
				/* parked: the target goes on with the next */
				json_array_append_new(json_object_get(s, "dead"),
				    json_integer((json_int_t)n.seq));
				cursor = n.seq;
				json_object_set_new(s, "attempts",
				    json_integer(0));
				json_object_del(s, "next_at");
			} else {
				json_int_t wait = (json_int_t)1 << (a - 1);

				json_object_set_new(s, "attempts",
				    json_integer(a));
				json_int_t max = knob("RELFS_BACKOFF_MAX", 60);

				json_object_set_new(s, "next_at", json_integer(
				    now + (wait > max ? max : wait)));
			}
			changed = 1;
		}
		break;
	}
	json_object_set_new(s, "cursor", json_integer((json_int_t)cursor));
	rc = changed ? store_delivery_put(st, t->id, s) : 0;
	json_decref(s);
	return rc;
}

int
hooks_deliver(struct store *st, int *sent)
{
	struct target *t = NULL;
	size_t n = 0;
	int rc = 0;

	*sent = 0;
	targets(st, &t, &n);
	for (size_t i = 0; i < n; i++)
		if (deliver_target(st, &t[i], sent) < 0)
			rc = -EIO;
	targets_free(t, n);
	return rc;
}

struct count {
	uint64_t n, last;
};

static int
count_event(void *arg, uint64_t seq, const char *val, size_t len)
{
	struct count *c = arg;

	(void)val;
	(void)len;
	c->n++;
	c->last = seq;
	return 0;
}

int
hooks_status(struct store *st, json_t **out)
{
	struct target *t = NULL;
	struct count cnt = { 0, 0 };
	json_t *ts = json_object();
	size_t n = 0;
	int rc;

	if ((rc = store_events(st, 0, count_event, &cnt)) < 0) {
		json_decref(ts);
		return rc;
	}
	targets(st, &t, &n);
	for (size_t i = 0; i < n; i++) {
		json_t *s = NULL;

		if (store_delivery_get(st, t[i].id, &s) < 0)
			s = json_pack("{s:i,s:i,s:[]}", "cursor", 0,
			    "delivered", 0, "dead");
		json_object_set_new(s, "pending", json_integer((json_int_t)(
		    cnt.last - (uint64_t)json_integer_value(json_object_get(s,
		    "cursor")))));
		json_object_set_new(ts, t[i].id, s);
	}
	targets_free(t, n);
	*out = json_pack("{s:I,s:I,s:o}", "events", (json_int_t)cnt.n, "last",
	    (json_int_t)cnt.last, "targets", ts);
	{
		char path[4200];
		json_t *w;

		/* a webhooks.json that does not parse is ignored: say why */
		snprintf(path, sizeof(path), "%s/webhooks.json", store_path(st));
		rc = webhooks_load(path, &w);
		json_decref(w);
		if (rc < 0 && rc != -ENOENT)
			json_object_set_new(*out, "webhooks_error",
			    json_string(store_errmsg()));
	}
	return 0;
}

struct one {
	uint64_t seq;
	char *json;
};

static int
get_one(void *arg, uint64_t seq, const char *val, size_t len)
{
	struct one *o = arg;

	if (seq == o->seq)
		o->json = strndup(val, len);
	return 1;
}

int
hooks_redeliver(struct store *st, const char *target, int *sent)
{
	struct target *t = NULL;
	size_t n = 0;
	int rc = 0;

	*sent = 0;
	targets(st, &t, &n);
	for (size_t i = 0; i < n; i++) {
		json_t *s = NULL, *left = json_array(), *d;
		size_t k;

		if ((target && strcmp(target, t[i].id) != 0) ||
		    store_delivery_get(st, t[i].id, &s) < 0) {
			json_decref(left);
			continue;
		}
		json_array_foreach(json_object_get(s, "dead"), k, d) {
			struct one o = { (uint64_t)json_integer_value(d), NULL };
			char err[6000] = "";

			store_events(st, o.seq, get_one, &o);
			if (o.json && send_one(&t[i], o.json, err,
			    sizeof(err)) == 0) {
				(*sent)++;
			} else {
				json_array_append(left, d);
				if (*err)
					json_object_set_new(s, "last_error",
					    json_string(err));
			}
			free(o.json);
		}
		json_object_set_new(s, "dead", left);
		if (store_delivery_put(st, t[i].id, s) < 0)
			rc = -EIO;
		json_decref(s);
	}
	targets_free(t, n);
	return rc;
}

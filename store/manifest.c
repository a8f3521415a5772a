/* manifest.c - see manifest.h. */
#define _GNU_SOURCE
#include "manifest.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *type_names[] = { "file", "dir", "symlink" };

static int	add_line(char **buf, size_t *len, size_t *cap,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int	check_pin(json_t *p, size_t i);
static void	shell_value(char *out, size_t outlen, const char *v);

json_t *
manifest_new(const char *project, const char *version, const char *scenario,
    const char *installer, const char *description, int64_t created,
    const char *created_by)
{
	char when[32];
	json_t *m = json_object();

	time_iso(when, created);
	json_object_set_new(m, "project", json_string(project));
	json_object_set_new(m, "version", json_string(version));
	json_object_set_new(m, "created", json_string(when));
	json_object_set_new(m, "created_by", json_string(created_by));
	if (scenario && *scenario)
		json_object_set_new(m, "scenario", json_string(scenario));
	if (installer && *installer)
		json_object_set_new(m, "installer", json_string(installer));
	if (description && *description)
		json_object_set_new(m, "description",
		    json_string(description));
	json_object_set_new(m, "files", json_array());
	json_object_set_new(m, "pins", json_array());
	return m;
}

int
manifest_add(json_t *m, const char *path, enum mf_type type, uint32_t mode,
    uint64_t size, const uint8_t digest[DIGEST_LEN])
{
	char hex[DIGEST_HEX_LEN + 1], mstr[8];
	json_t *e = json_object();

	/* never setuid, setgid or sticky */
	snprintf(mstr, sizeof(mstr), "%04o", mode & 0777);
	json_object_set_new(e, "path", json_string(path));
	json_object_set_new(e, "type", json_string(type_names[type]));
	json_object_set_new(e, "mode", json_string(mstr));
	if (type != MF_DIR) {
		digest_hex(hex, digest);
		json_object_set_new(e, "size", json_integer((json_int_t)size));
		json_object_set_new(e, "sha256", json_string(hex));
	}
	return json_array_append_new(json_object_get(m, "files"), e) == 0 ?
	    0 : -ENOMEM;
}

void
manifest_set_pins(json_t *m, json_t *pins)
{
	json_object_set(m, "pins", pins);
}

int
manifest_finish(json_t *m, char **text, size_t *len)
{
	uint8_t id[DIGEST_LEN];
	char hex[DIGEST_HEX_LEN + 1], *canon, *pretty;

	json_object_del(m, "id");
	canon = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
	if (!canon)
		return -ENOMEM;
	digest_buf(id, canon, strlen(canon));
	free(canon);
	digest_hex(hex, id);
	json_object_set_new(m, "id", json_string(hex));
	pretty = json_dumps(m, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (!pretty)
		return -ENOMEM;
	*len = strlen(pretty);
	*text = realloc(pretty, *len + 2);
	if (!*text) {
		free(pretty);
		return -ENOMEM;
	}
	(*text)[(*len)++] = '\n';
	(*text)[*len] = '\0';
	return 0;
}

const char *
mf_str(json_t *m, const char *key)
{
	const char *s = json_string_value(json_object_get(m, key));

	return s ? s : "";
}

size_t
mf_count(json_t *m)
{
	return json_array_size(json_object_get(m, "files"));
}

int
mf_entry(json_t *m, size_t i, const char **path, enum mf_type *type,
    uint32_t *mode, uint64_t *size, uint8_t digest[DIGEST_LEN])
{
	json_t *e = json_array_get(json_object_get(m, "files"), i);
	const char *t, *ms, *h;

	if (!json_is_object(e))
		return store_seterr(-EINVAL, "manifest: entry %zu is not an "
		    "object", i);
	*path = json_string_value(json_object_get(e, "path"));
	t = json_string_value(json_object_get(e, "type"));
	ms = json_string_value(json_object_get(e, "mode"));
	if (!*path || !t || !ms)
		return store_seterr(-EINVAL, "manifest: entry %zu lacks path, "
		    "type or mode", i);
	if (strcmp(t, "file") == 0)
		*type = MF_FILE;
	else if (strcmp(t, "dir") == 0)
		*type = MF_DIR;
	else if (strcmp(t, "symlink") == 0)
		*type = MF_SYMLINK;
	else
		return store_seterr(-EINVAL, "manifest: entry '%s' has unknown "
		    "type '%s'", *path, t);
	*mode = (uint32_t)strtoul(ms, NULL, 8) & 0777;
	*size = 0;
	memset(digest, 0, DIGEST_LEN);
	if (*type == MF_DIR)
		return 0;
	h = json_string_value(json_object_get(e, "sha256"));
	if (!json_is_integer(json_object_get(e, "size")) || !h ||
	    digest_parse(digest, h) < 0)
		return store_seterr(-EINVAL, "manifest: entry '%s' lacks a "
		    "size or a sha256", *path);
	*size = (uint64_t)json_integer_value(json_object_get(e, "size"));
	return 0;
}

int
manifest_load(const char *text, size_t len, json_t **out)
{
	static const char *required[] = { "project", "version", "created",
	    "created_by", "id" };
	json_error_t err;
	json_t *m, *copy = NULL;
	char *check = NULL;
	size_t clen;
	int rc = 0;

	m = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
	if (!m || !json_is_object(m)) {
		rc = store_seterr(-EINVAL, "manifest is not a JSON object: %s",
		    err.text);
		goto out;
	}
	for (size_t i = 0; i < sizeof(required) / sizeof(*required); i++)
		if (!json_is_string(json_object_get(m, required[i]))) {
			rc = store_seterr(-EINVAL, "manifest lacks '%s'",
			    required[i]);
			goto out;
		}
	if (!json_is_array(json_object_get(m, "files")) ||
	    !json_is_array(json_object_get(m, "pins"))) {
		rc = store_seterr(-EINVAL, "manifest lacks files or pins");
		goto out;
	}
	rc = pins_check(json_object_get(m, "pins"));
	if (rc < 0)
		goto out;
	copy = json_deep_copy(m);
	rc = manifest_finish(copy, &check, &clen);
	if (rc < 0)
		goto out;
	if (strcmp(mf_str(copy, "id"), mf_str(m, "id")) != 0) {
		rc = store_seterr(-EINVAL, "manifest of %s %s: id %s does not "
		    "match its content (%s)", mf_str(m, "project"),
		    mf_str(m, "version"), mf_str(m, "id"), mf_str(copy, "id"));
		goto out;
	}
	*out = m;
	m = NULL;
out:
	free(check);
	json_decref(copy);
	json_decref(m);
	return rc;
}

/* Check artifact.json: scenario, installer, description, pins. */
static int
artifact_check(json_t *meta)
{
	const char *key;
	json_t *val;
	int rc;

	if (!json_is_object(meta))
		return store_seterr(-EINVAL, "artifact.json: not a JSON object");
	json_object_foreach(meta, key, val) {
		if (strcmp(key, "pins") == 0) {
			if ((rc = pins_check(val)) < 0)
				return store_prefixerr(rc, "artifact.json");
		} else if (strcmp(key, "scenario") && strcmp(key, "installer") &&
		    strcmp(key, "description")) {
			return store_seterr(-EINVAL, "artifact.json: unknown key "
			    "'%s' (known: scenario, installer, description, "
			    "pins)", key);
		} else if (!json_is_string(val)) {
			return store_seterr(-EINVAL, "artifact.json: '%s' must be "
			    "a string", key);
		}
	}
	return 0;
}

int
artifact_json_parse(const char *text, size_t len, json_t **out)
{
	return json_parse_checked(text, len, "artifact.json: not a JSON object",
	    artifact_check, out);
}

static int
check_pin(json_t *p, size_t i)
{
	const char *name, *ver, *sha, *url;
	uint8_t d[DIGEST_LEN];
	const char *key;
	json_t *val;
	int rc;

	if (!json_is_object(p))
		return store_seterr(-EINVAL, "pin %zu is not an object", i + 1);
	json_object_foreach(p, key, val) {
		if (strcmp(key, "name") && strcmp(key, "version") &&
		    strcmp(key, "sha256") && strcmp(key, "url") &&
		    strcmp(key, "size"))
			return store_seterr(-EINVAL, "pin %zu: unknown key "
			    "'%s'", i + 1, key);
	}
	name = json_string_value(json_object_get(p, "name"));
	ver = json_string_value(json_object_get(p, "version"));
	sha = json_string_value(json_object_get(p, "sha256"));
	url = json_string_value(json_object_get(p, "url"));
	if (!name || !ver || !sha || !url)
		return store_seterr(-EINVAL, "pin %zu needs name, version, "
		    "sha256 and url", i + 1);
	rc = name_check(name, "pin");
	if (rc < 0)
		return rc;
	if (!*ver || strpbrk(ver, "\t\n\r"))
		return store_seterr(-EINVAL, "pin '%s': invalid version",
		    name);
	if (digest_parse(d, sha) < 0)
		return store_seterr(-EINVAL, "pin '%s': sha256 must be 64 hex "
		    "digits", name);
	if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8) &&
	    strncmp(url, "file://", 7))
		return store_seterr(-EINVAL, "pin '%s': url must start with "
		    "http://, https:// or file://", name);
	if (strpbrk(url, " \t\n\r"))
		return store_seterr(-EINVAL, "pin '%s': url contains white "
		    "space", name);
	val = json_object_get(p, "size");
	if (val && (!json_is_integer(val) || json_integer_value(val) < 0))
		return store_seterr(-EINVAL, "pin '%s': size must be a "
		    "non-negative integer", name);
	return 0;
}

int
pins_check(json_t *pins)
{
	size_t i, j;
	json_t *p;
	int rc;

	if (!json_is_array(pins))
		return store_seterr(-EINVAL, "pins must be an array");
	json_array_foreach(pins, i, p) {
		rc = check_pin(p, i);
		if (rc < 0)
			return rc;
		for (j = 0; j < i; j++)
			if (strcmp(mf_str(p, "name"),
			    mf_str(json_array_get(pins, j), "name")) == 0)
				return store_seterr(-EINVAL, "pin '%s' is "
				    "given twice", mf_str(p, "name"));
	}
	return 0;
}

int
pins_from_text(const char *text, json_t **out)
{
	json_t *pins = json_array();
	char *copy = strdup(text), *save = NULL, *line;
	size_t lineno = 0;
	int rc = 0;

	if (!copy || !pins) {
		rc = -ENOMEM;
		goto out;
	}
	for (line = strtok_r(copy, "\n", &save); line;
	    line = strtok_r(NULL, "\n", &save)) {
		char *f[6], *s = line, *tab;
		int n = 0;
		json_t *p;

		lineno++;
		if (line[strlen(line) - 1] == '\r')
			line[strlen(line) - 1] = '\0';
		if (*line == '\0' || *line == '#')
			continue;
		while (n < 6) {
			f[n++] = s;
			tab = strchr(s, '\t');
			if (!tab)
				break;
			*tab = '\0';
			s = tab + 1;
		}
		if (n < 4 || n > 5) {
			rc = store_seterr(-EINVAL, "pins line %zu: expected "
			    "name, version, sha256, url and an optional size, "
			    "separated by tabs", lineno);
			goto out;
		}
		p = json_object();
		json_object_set_new(p, "name", json_string(f[0]));
		json_object_set_new(p, "version", json_string(f[1]));
		json_object_set_new(p, "sha256", json_string(f[2]));
		json_object_set_new(p, "url", json_string(f[3]));
		if (n == 5) {
			char *end;
			long long sz = strtoll(f[4], &end, 10);

			if (*end || end == f[4] || sz < 0) {
				json_decref(p);
				rc = store_seterr(-EINVAL, "pins line %zu: size "
				    "'%s' is not a number", lineno, f[4]);
				goto out;
			}
			json_object_set_new(p, "size", json_integer(sz));
		}
		if (!json_string_value(json_object_get(p, "name"))) {
			json_decref(p);
			rc = store_seterr(-EINVAL, "pins line %zu: not valid "
			    "UTF-8", lineno);
			goto out;
		}
		json_array_append_new(pins, p);
	}
	rc = pins_check(pins);
	if (rc == 0) {
		*out = pins;
		pins = NULL;
	}
out:
	free(copy);
	json_decref(pins);
	return rc;
}

static int
add_line(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(*buf + *len, *cap - *len, fmt, ap);
		va_end(ap);
		if (n < 0)
			return -EINVAL;
		if ((size_t)n < *cap - *len)
			break;
		char *nb = realloc(*buf, *cap = *cap * 2 + (size_t)n + 1);

		if (!nb)
			return -ENOMEM;
		*buf = nb;
	}
	*len += (size_t)n;
	return 0;
}

int
manifest_pins_text(json_t *m, char **out, size_t *len)
{
	size_t cap = 256, i;
	json_t *p;
	int rc = 0;

	*len = 0;
	*out = malloc(cap);
	if (!*out)
		return -ENOMEM;
	(*out)[0] = '\0';
	json_array_foreach(json_object_get(m, "pins"), i, p) {
		json_t *sz = json_object_get(p, "size");

		if (sz)
			rc = add_line(out, len, &cap, "%s\t%s\t%s\t%s\t%lld\n",
			    mf_str(p, "name"), mf_str(p, "version"),
			    mf_str(p, "sha256"), mf_str(p, "url"),
			    (long long)json_integer_value(sz));
		else
			rc = add_line(out, len, &cap, "%s\t%s\t%s\t%s\n",
			    mf_str(p, "name"), mf_str(p, "version"),
			    mf_str(p, "sha256"), mf_str(p, "url"));
		if (rc < 0)
			break;
	}
	return rc;
}

/* A value a shell reads back unchanged: quoted only where needed. */
static void
shell_value(char *out, size_t outlen, const char *v)
{
	size_t o = 0;
	int plain = *v != '\0';

	for (const char *p = v; *p; p++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWX"
		    "YZ0123456789._-+:/@,=%", *p))
			plain = 0;
	if (plain) {
		snprintf(out, outlen, "%s", v);
		return;
	}
	out[o++] = '\'';
	for (const char *p = v; *p && o + 6 < outlen; p++) {
		if (*p == '\'') {
			memcpy(out + o, "'\\''", 4);
			o += 4;
		} else {
			out[o++] = *p;
		}
	}
	out[o++] = '\'';
	out[o] = '\0';
}

int
manifest_properties(json_t *m, char **out, size_t *len)
{
	static const char *keys[] = { "project", "version", "id", "scenario",
	    "installer", "created", "created_by" };
	char val[4096], key[300];
	size_t cap = 1024, i;
	json_t *p;
	int rc = 0;

	*len = 0;
	*out = malloc(cap);
	if (!*out)
		return -ENOMEM;
	(*out)[0] = '\0';
	for (i = 0; i < sizeof(keys) / sizeof(*keys) && rc == 0; i++) {
		shell_value(val, sizeof(val), mf_str(m, keys[i]));
		rc = add_line(out, len, &cap, "%s=%s\n", keys[i], val);
	}
	json_array_foreach(json_object_get(m, "pins"), i, p) {
		static const char *pk[] = { "version", "sha256", "url" };
		const char *name = mf_str(p, "name");
		size_t k;

		/* shell variable names: letters, digits and '_' only */
		for (k = 0; name[k] && k < 255; k++)
			key[k] = (name[k] >= 'a' && name[k] <= 'z') ||
			    (name[k] >= 'A' && name[k] <= 'Z') ||
			    (name[k] >= '0' && name[k] <= '9') ? name[k] : '_';
		key[k] = '\0';
		for (k = 0; k < 3 && rc == 0; k++) {
			shell_value(val, sizeof(val), mf_str(p, pk[k]));
			rc = add_line(out, len, &cap, "pin_%s_%s=%s\n", key,
			    pk[k], val);
		}
		if (rc < 0)
			break;
	}
	return rc;
}

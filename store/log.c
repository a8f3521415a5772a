/*
 * log.c - a store's paths and its log (STORE/relfs.log): the lowest of
 * the store's modules, which every other may use.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store_impl.h"

/* A descriptor of STORE/relfs.log to append to, or -1. */
int
log_open(struct store *st)
{
	char p[4096];

	snprintf(p, sizeof(p), "%s/relfs.log", st->path);
	return open(p, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
	    0600);
}

void
store_log_reopen(struct store *st)
{
	int fd = log_open(st);

	if (fd < 0)
		return;		/* keep writing to the old one */
	/* one descriptor number throughout: writers never see it closed */
	if (st->logfd >= 0) {
		dup3(fd, st->logfd, O_CLOEXEC);
		close(fd);
	} else {
		st->logfd = fd;
	}
}

const char *
store_path(struct store *st)
{
	return st->path;
}

const char *
store_incoming_dir(struct store *st)
{
	return st->incoming;
}

void
store_log(struct store *st, const char *fmt, ...)
{
	char line[2048], when[32];
	va_list ap;
	int n;

	if (st->logfd < 0)
		return;
	time_iso(when, time(NULL));
	n = snprintf(line, sizeof(line), "%s ", when);
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	(void)write_all(st->logfd, line, (size_t)n);
}

/*
 * receiver - a webhook receiver on 127.0.0.1 for the tests.
 *
 *   receiver PORT SECRET OUT [--fail N] [--hang]
 *   receiver PORT - OUT --serve DIR [--drop-after BYTES] [--pace MS]
 *       [--no-length]
 *
 * Accepts POSTs; checks X-Relfs-Signature (HMAC-SHA256 of the body with
 * SECRET); appends "<delivery-id> <event> <sig-ok|sig-bad> <body>" to OUT.
 * --fail N answers 500 to the first N requests; --hang never answers.
 * --serve DIR answers GET /NAME with DIR/NAME (Range: bytes=N- too) and
 * logs "GET NAME START" to OUT; --drop-after cuts every body short;
 * --pace waits MS milliseconds after each 64 KiB it sends; --no-length
 * sends no Content-Length (the body ends when the connection does).
 * Bounded: it stops by itself after ten minutes.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char *
header(const char *head, const char *name, char *out, size_t len)
{
	const char *p = head;
	size_t n = strlen(name);

	while ((p = strchr(p, '\n'))) {
		p++;
		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			const char *v = p + n + 1, *e;

			while (*v == ' ')
				v++;
			e = strpbrk(v, "\r\n");
			snprintf(out, len, "%.*s", (int)(e ? e - v : (long)strlen(v)),
			    v);
			return out;
		}
	}
	*out = '\0';
	return NULL;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in a = { 0 };
	int s, one = 1, fail = 0, hang = 0, seen = 0;
	const char *serve = NULL;
	long drop = -1;
	int pace = 0, nolen = 0;
	time_t start = time(NULL);

	if (argc < 4) {
		fprintf(stderr, "usage: receiver PORT SECRET OUT [--fail N] "
		    "[--hang]\n");
		return 2;
	}
	for (int i = 4; i < argc; i++) {
		if (strcmp(argv[i], "--fail") == 0 && i + 1 < argc)
			fail = atoi(argv[++i]);
		else if (strcmp(argv[i], "--hang") == 0)
			hang = 1;
		else if (strcmp(argv[i], "--serve") == 0 && i + 1 < argc)
			serve = argv[++i];
		else if (strcmp(argv[i], "--drop-after") == 0 && i + 1 < argc)
			drop = atol(argv[++i]);
		else if (strcmp(argv[i], "--pace") == 0 && i + 1 < argc)
			pace = atoi(argv[++i]);
		else if (strcmp(argv[i], "--no-length") == 0)
			nolen = 1;
	}
	signal(SIGPIPE, SIG_IGN);
	s = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	a.sin_family = AF_INET;
	a.sin_port = htons((unsigned short)atoi(argv[1]));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* the receiver this one replaces may still be going away */
	for (int tries = 0; bind(s, (struct sockaddr *)&a, sizeof(a)) < 0;
	    tries++) {
		if (tries == 50) {
			perror("receiver: bind");
			return 1;
		}
		usleep(100000);
	}
	if (listen(s, 16) < 0) {
		perror("receiver: listen");
		return 1;
	}
	while (time(NULL) - start < 600) {
		char buf[1 << 16], sig[200], ev[200], id[200], want[200];
		unsigned char mac[EVP_MAX_MD_SIZE];
		unsigned int maclen = 0;
		size_t got = 0, clen;
		char *body;
		int c = accept(s, NULL, NULL);
		FILE *out;

		if (c < 0)
			continue;
		while (got < sizeof(buf) - 1) {
			ssize_t n = read(c, buf + got, sizeof(buf) - 1 - got);

			if (n <= 0)
				break;
			got += (size_t)n;
			buf[got] = '\0';
			if ((body = strstr(buf, "\r\n\r\n"))) {
				char cl[32];

				header(buf, "Content-Length", cl, sizeof(cl));
				clen = (size_t)atol(cl);
				if (got >= (size_t)(body + 4 - buf) + clen)
					break;
			}
		}
		buf[got] = '\0';
		if (serve && strncmp(buf, "GET /", 5) == 0) {
			char name[256], path[4400], range[64];
			long from = 0, size, n;
			FILE *f;
			char *sp;

			snprintf(name, sizeof(name), "%.200s", buf + 5);
			if ((sp = strchr(name, ' ')))
				*sp = '\0';
			if (header(buf, "Range", range, sizeof(range)) &&
			    strncmp(range, "bytes=", 6) == 0)
				from = atol(range + 6);
			snprintf(path, sizeof(path), "%s/%s", serve, name);
			out = fopen(argv[3], "a");
			if (out) {
				fprintf(out, "GET %s %ld\n", name, from);
				fclose(out);
			}
			f = fopen(path, "rb");
			if (!f) {
				dprintf(c, "HTTP/1.1 404 Not Found\r\n"
				    "Content-Length: 0\r\nConnection: close\r\n\r\n");
				close(c);
				continue;
			}
			fseek(f, 0, SEEK_END);
			size = ftell(f);
			fseek(f, from, SEEK_SET);
			if (from)
				dprintf(c, "HTTP/1.1 206 Partial Content\r\n"
				    "Content-Range: bytes %ld-%ld/%ld\r\n", from,
				    size - 1, size);
			else
				dprintf(c, "HTTP/1.1 200 OK\r\n");
			if (!nolen)
				dprintf(c, "Content-Length: %ld\r\n",
				    size - from);
			dprintf(c, "Connection: close\r\n\r\n");
			for (long sent = 0; (n = (long)fread(buf, 1, sizeof(buf),
			    f)) > 0; sent += n) {
				if (drop >= 0 && sent + n > drop)
					n = drop - sent;
				if (n <= 0 || write(c, buf, (size_t)n) < 0)
					break;
				if (drop >= 0 && sent + n >= drop)
					break;
				if (pace)
					usleep((useconds_t)pace * 1000);
			}
			fclose(f);
			close(c);
			continue;
		}
		body = strstr(buf, "\r\n\r\n");
		if (!body) {
			close(c);
			continue;
		}
		*body = '\0';
		body += 4;
		if (hang) {
			sleep(600);
			close(c);
			continue;
		}
		if (seen++ < fail) {
			dprintf(c, "HTTP/1.1 500 Failing on purpose\r\n"
			    "Content-Length: 0\r\nConnection: close\r\n\r\n");
			close(c);
			continue;
		}
		header(buf, "X-Relfs-Signature", sig, sizeof(sig));
		header(buf, "X-Relfs-Event", ev, sizeof(ev));
		header(buf, "X-Relfs-Delivery", id, sizeof(id));
		HMAC(EVP_sha256(), argv[2], (int)strlen(argv[2]),
		    (unsigned char *)body, strlen(body), mac, &maclen);
		strcpy(want, "sha256=");
		for (unsigned i = 0; i < maclen; i++)
			snprintf(want + strlen(want), 3, "%02x", mac[i]);
		out = fopen(argv[3], "a");
		if (out) {
			fprintf(out, "%s %s %s %s\n", id, ev,
			    strcmp(sig, want) == 0 ? "sig-ok" : "sig-bad", body);
			fclose(out);
		}
		dprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n"
		    "Connection: close\r\n\r\n");
		close(c);
	}
	return 0;
}

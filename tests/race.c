/*
 * race - an attacker's helper: exchange two names of one directory with
 * renameat2(RENAME_EXCHANGE), as fast as it can, until a stop file exists.
 * The directory is opened once, so it keeps going wherever it is moved.
 *
 *   race DIR A B STOPFILE    prints how many exchanges succeeded
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	unsigned long done = 0, tries = 0;
	int dfd;

	if (argc != 5) {
		fprintf(stderr, "usage: race DIR A B STOPFILE\n");
		return 2;
	}
	dfd = open(argv[1], O_RDONLY | O_DIRECTORY);
	if (dfd < 0) {
		perror(argv[1]);
		return 1;
	}
	while (access(argv[4], F_OK) != 0) {
		if (renameat2(dfd, argv[2], dfd, argv[3], RENAME_EXCHANGE) == 0)
			done++;
		/* gone from under it (sealed): keep trying a while */
		if (++tries % 1024 == 0)
			usleep(100);
	}
	printf("%lu\n", done);
	return 0;
}

/*
 * probe - do one file operation and print OK or the errno name (EROFS ...),
 * so shell tests can assert the exact errno a call returned.
 *
 *   probe write PATH        open O_WRONLY|O_CREAT, write "x", close
 *   probe append PATH       open O_WRONLY|O_APPEND
 *   probe trunc PATH        truncate(PATH, 0)
 *   probe mkdir PATH | rmdir PATH | unlink PATH | chmod PATH
 *   probe rename FROM TO    rename(2)
 *   probe symlink TARGET PATH
 *   probe read PATH         open O_RDONLY and read everything
 *   probe stat PATH | lstat PATH
 *   probe link FROM TO | chown PATH (to root) | setuid PATH (chmod 4755)
 *   probe mkfifo PATH | exclusive PATH (open O_CREAT|O_EXCL)
 *   probe mode PATH OCTAL   chmod(PATH, OCTAL)
 *   probe utime PATH        utimensat to a fixed time | touch PATH (now)
 *   probe access PATH rwx   access(2) with the letters given
 *   probe readlink PATH | opendir PATH | writedir PATH (open a directory
 *                           O_WRONLY) | ftrunc PATH (open O_WRONLY|O_TRUNC)
 *   probe exchange A B | noreplace A B   renameat2 with RENAME_EXCHANGE or
 *                           RENAME_NOREPLACE
 *   probe chdir PATH | stat PATH
 *   probe copy SRC DST      write SRC's bytes to DST (O_CREAT|O_TRUNC),
 *                           then close: close()'s errno is the answer
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int
run(int argc, char **argv)
{
	const char *op = argv[1], *p = argv[2];
	char buf[65536];
	int fd;

	if (strcmp(op, "write") == 0 || strcmp(op, "append") == 0) {
		fd = open(p, O_WRONLY | (op[0] == 'w' ? O_CREAT : O_APPEND),
		    0644);
		if (fd < 0)
			return -1;
		if (write(fd, "x", 1) != 1) {
			close(fd);
			return -1;
		}
		return close(fd);
	}
	if (strcmp(op, "read") == 0) {
		ssize_t n;

		fd = open(p, O_RDONLY);
		if (fd < 0)
			return -1;
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			;
		close(fd);
		return n < 0 ? -1 : 0;
	}
	if (strcmp(op, "trunc") == 0)
		return truncate(p, 0);
	if (strcmp(op, "mkdir") == 0)
		return mkdir(p, 0755);
	if (strcmp(op, "rmdir") == 0)
		return rmdir(p);
	if (strcmp(op, "unlink") == 0)
		return unlink(p);
	if (strcmp(op, "chmod") == 0)
		return chmod(p, 0600);
	if (strcmp(op, "rename") == 0 && argc == 4)
		return rename(p, argv[3]);
	if (strcmp(op, "symlink") == 0 && argc == 4)
		return symlink(p, argv[3]);
	if (strcmp(op, "link") == 0 && argc == 4)
		return link(p, argv[3]);
	if (strcmp(op, "chown") == 0)
		return chown(p, 0, 0);
	if (strcmp(op, "setuid") == 0)
		return chmod(p, 04755);
	if (strcmp(op, "mkfifo") == 0)
		return mkfifo(p, 0644);
	if (strcmp(op, "exclusive") == 0) {
		fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0644);
		return fd < 0 ? -1 : close(fd);
	}
	if (strcmp(op, "mode") == 0 && argc == 4)
		return chmod(p, (mode_t)strtol(argv[3], NULL, 8));
	if (strcmp(op, "utime") == 0 || strcmp(op, "touch") == 0) {
		struct timespec tv[2] = { { 1000000000, 0 },
		    { 1000000000, 0 } };

		return utimensat(AT_FDCWD, p, op[0] == 'u' ? tv : NULL, 0);
	}
	if (strcmp(op, "access") == 0 && argc == 4)
		return access(p, (strchr(argv[3], 'r') ? R_OK : 0) |
		    (strchr(argv[3], 'w') ? W_OK : 0) |
		    (strchr(argv[3], 'x') ? X_OK : 0));
	if (strcmp(op, "readlink") == 0)
		return readlink(p, buf, sizeof(buf)) < 0 ? -1 : 0;
	if (strcmp(op, "opendir") == 0) {
		DIR *d = opendir(p);

		return d ? closedir(d) : -1;
	}
	if (strcmp(op, "writedir") == 0 || strcmp(op, "ftrunc") == 0) {
		fd = open(p, O_WRONLY | (op[0] == 'f' ? O_TRUNC : 0));
		return fd < 0 ? -1 : close(fd);
	}
	if ((strcmp(op, "exchange") == 0 || strcmp(op, "noreplace") == 0) &&
	    argc == 4)
		return renameat2(AT_FDCWD, p, AT_FDCWD, argv[3], op[0] == 'e' ?
		    RENAME_EXCHANGE : RENAME_NOREPLACE);
	if (strcmp(op, "copy") == 0 && argc == 4) {
		int in = open(p, O_RDONLY);
		ssize_t n;

		if (in < 0)
			return -1;
		fd = open(argv[3], O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0) {
			close(in);
			return -1;
		}
		while ((n = read(in, buf, sizeof(buf))) > 0)
			if (write(fd, buf, (size_t)n) != n)
				break;
		close(in);
		return close(fd);
	}
	if (strcmp(op, "chdir") == 0)
		return chdir(p);
	if (strcmp(op, "stat") == 0 || strcmp(op, "lstat") == 0) {
		struct stat st;

		return op[0] == 's' ? stat(p, &st) : lstat(p, &st);
	}
	errno = EINVAL;
	fprintf(stderr, "probe: unknown operation %s\n", op);
	return -2;
}

int
main(int argc, char **argv)
{
	int rc;

	if (argc < 3) {
		fprintf(stderr, "usage: probe OP PATH [PATH]\n");
		return 2;
	}
	rc = run(argc, argv);
	if (rc == -2)
		return 2;
	if (rc == 0)
		printf("OK\n");
	else
		printf("%s\n", strerrorname_np(errno));
	return 0;
}

/*
 * main.c - relfs STORE MOUNTPOINT [-f] [-d] [-s] [-o OPTION...]
 *
 * Mounts a store with the libfuse3 low-level API, multithreaded.  The store
 * is opened after daemonizing: an LMDB environment must stay in the process
 * that opened it.
 */
#define _GNU_SOURCE
#include "fs.h"

#include "deliver.h"

#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

struct cli {
	char *store;
	double timeout;
	int offline;
};

static const struct fuse_opt cli_opts[] = {
	{ "cache_timeout=%lf", offsetof(struct cli, timeout), 0 },
	{ "offline", offsetof(struct cli, offline), 1 },
	FUSE_OPT_END
};

static int
cli_proc(void *data, const char *arg, int key, struct fuse_args *out)
{
	struct cli *c = data;

	(void)out;
	if (key == FUSE_OPT_KEY_NONOPT && !c->store) {
		c->store = realpath(arg, NULL);
		if (!c->store) {
			fprintf(stderr, "relfs: could not open store '%s': %s\n",
			    arg, strerror(errno));
			exit(1);
		}
		return 0;
	}
	return 1;
}

static void
usage(const char *prog)
{
	printf("usage: %s STORE MOUNTPOINT [options]\n\n"
	    "    -f                     stay in the foreground\n"
	    "    -d                     debug output (implies -f)\n"
	    "    -s                     single-threaded\n"
	    "    -o allow_other         let every user read the mount\n"
	    "    -o cache_timeout=SECS  kernel cache time of immutable nodes "
	    "(default 86400)\n"
	    "    -o offline             serve only dependencies already "
	    "fetched\n", prog);
	fuse_lowlevel_help();
}

/*
 * Invalidations run here, never inside the request that caused them: the
 * kernel may hold the directory lock of that request until it is answered.
 */
static void *
inval_thread(void *arg)
{
	struct fs *fs = arg;

	pthread_mutex_lock(&fs->qmu);
	for (;;) {
		struct inval *q;

		while (!fs->qhead && !fs->qstop)
			pthread_cond_wait(&fs->qcond, &fs->qmu);
		if (!fs->qhead)
			break;
		q = fs->qhead;
		fs->qhead = q->next;
		if (!fs->qhead)
			fs->qtail = NULL;
		pthread_mutex_unlock(&fs->qmu);
		if (q->name)
			fuse_lowlevel_notify_inval_entry(fs->se, q->parent,
			    q->name, strlen(q->name));
		else
			fuse_lowlevel_notify_inval_inode(fs->se, q->ino, 0, 0);
		free(q->name);
		free(q);
		pthread_mutex_lock(&fs->qmu);
	}
	pthread_mutex_unlock(&fs->qmu);
	return NULL;
}

static volatile sig_atomic_t reopen_log;

/* SIGHUP: reopen STORE/relfs.log (logrotate), never unmount. */
static void
on_hup(int sig)
{
	(void)sig;
	reopen_log = 1;
}

/*
 * Started as root: become the store's owner once the mount is made (only
 * mounting needs root).  The owner's supplementary groups are dropped too:
 * the daemon needs the store's files, nothing else.
 */
static int
drop_privileges(const char *store)
{
	struct stat sb;

	if (geteuid() != 0)
		return 0;
	if (stat(store, &sb) < 0) {
		fprintf(stderr, "relfs: could not stat '%s': %s\n", store,
		    strerror(errno));
		return -1;
	}
	if (sb.st_uid == 0)
		return 0;	/* a store of root's: nothing to drop to */
	if (setgroups(0, NULL) < 0 || setgid(sb.st_gid) < 0 ||
	    setuid(sb.st_uid) < 0 || setuid(0) == 0) {
		fprintf(stderr, "relfs: could not become the store's owner "
		    "(uid %u): %s\n", (unsigned)sb.st_uid, strerror(errno));
		return -1;
	}
	/* its own /proc/self/fd and core dumps, as any process of its user */
	(void)prctl(PR_SET_DUMPABLE, 1);
	return 0;
}

/* The store and its staging area: reachable by their owner alone. */
static void
tighten_modes(const char *store)
{
	char p[4096];
	struct stat sb;

	snprintf(p, sizeof(p), "%s/incoming", store);
	if (stat(store, &sb) == 0 && sb.st_uid == geteuid() &&
	    (sb.st_mode & 077))
		(void)chmod(store, 0700);
	if (stat(p, &sb) == 0 && sb.st_uid == geteuid() && (sb.st_mode & 077))
		(void)chmod(p, 0700);
}

/*
 * relctl beside the mount says it changed the tree (store_close, through
 * STORE/daemon.sock): the kernel is told now, and then relctl is answered,
 * so what relctl changed shows when it returns.  A caller that sends
 * nothing is given up after a second.
 */
static void *
poke_thread(void *arg)
{
	struct fs *fs = arg;
	struct timeval tv = { 1, 0 };
	char c;
	int fd;

	while ((fd = accept4(fs->pokefd, NULL, NULL, SOCK_CLOEXEC)) >= 0 ||
	    errno == EINTR || errno == ECONNABORTED) {
		if (fd < 0)
			continue;
		if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
		    sizeof(tv)) == 0 && read(fd, &c, 1) == 1) {
			fs_changed(fs);
			c = 'k';
			(void)!write(fd, &c, 1);
		}
		close(fd);
	}
	return NULL;
}

static void
poke_unlink(const char *store)
{
	int dfd = open(store, O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (dfd >= 0) {
		unlinkat(dfd, STORE_DAEMON_SOCKET, 0);
		close(dfd);
	}
}

/* STORE/daemon.sock, listening, for any user's relctl; -1 if not. */
static int
poke_listen(const char *store)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int dfd = open(store, O_PATH | O_DIRECTORY | O_CLOEXEC), fd = -1;

	if (dfd < 0)
		return -1;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", dfd,
	    STORE_DAEMON_SOCKET);
	unlinkat(dfd, STORE_DAEMON_SOCKET, 0);	/* a daemon's before */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    fchmodat(dfd, STORE_DAEMON_SOCKET, 0666, 0) < 0 ||
	    listen(fd, 16) < 0)) {
		close(fd);
		fd = -1;
	}
	close(dfd);
	return fd;
}

/*
 * The daemon wakes for soak periods and waiver expiries: once a second it
 * asks the store for what fell due (one index lookup when nothing did).
 */
static void *
wake_thread(void *arg)
{
	struct fs *fs = arg;
	struct timespec ts;
	int64_t next;
	unsigned tick = 0;

	pthread_mutex_lock(&fs->qmu);
	while (!fs->qstop) {
		pthread_mutex_unlock(&fs->qmu);
		if (reopen_log) {
			reopen_log = 0;
			store_log_reopen(fs->st);
		}
		/* the reason logged is this round's, never an older one */
		store_clearerr();
		if (store_wake(fs->st, &next) < 0)
			store_log(fs->st, "wake: %s", store_errmsg());
		/* what relctl changed beside the mount */
		fs_changed(fs);
		if (++tick % 60 == 0 && store_changes_prune(fs->st, 600) < 0)
			store_log(fs->st, "changes: %s", store_errmsg());
		pthread_mutex_lock(&fs->qmu);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&fs->wcond, &fs->qmu, &ts);
	}
	pthread_mutex_unlock(&fs->qmu);
	return NULL;
}

/*
 * Events go out from here, beside the filesystem: a slow or failing
 * target never slows a request.  A few times a second, and every target
 * gets what it has not seen yet, in order.
 */
static void *
delivery_thread(void *arg)
{
	struct fs *fs = arg;
	struct timespec ts;
	int sent;

	pthread_mutex_lock(&fs->qmu);
	while (!fs->qstop) {
		pthread_mutex_unlock(&fs->qmu);
		if (hooks_deliver(fs->st, &sent) < 0)
			store_log(fs->st, "delivery: a target's state could not "
			    "be saved");
		pthread_mutex_lock(&fs->qmu);
		if (sent)
			continue;	/* more may be waiting */
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 200000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&fs->dcond, &fs->qmu, &ts);
	}
	pthread_mutex_unlock(&fs->qmu);
	return NULL;
}

int
main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts opts;
	struct fuse_loop_config *loop = NULL;
	struct cli cli = { NULL, 86400.0, 0 };
	struct fs fs;
	struct store *probe;
	struct rlimit lim;
	int rc, ret = 1, started = 0;

	memset(&fs, 0, sizeof(fs));
	fs.pokefd = -1;
	/* a hook or a peer that goes away mid-write is EPIPE, never a signal */
	signal(SIGPIPE, SIG_IGN);
	/*
	 * The staging area keeps a descriptor per inode the kernel knows:
	 * as many as the system lets a process have (root may raise the hard
	 * limit before it drops to the store's owner).
	 */
	if (getrlimit(RLIMIT_NOFILE, &lim) == 0) {
		if (geteuid() == 0 && lim.rlim_max < (1 << 20))
			lim.rlim_max = 1 << 20;
		lim.rlim_cur = lim.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &lim) < 0) {
			getrlimit(RLIMIT_NOFILE, &lim);
			lim.rlim_cur = lim.rlim_max;
			setrlimit(RLIMIT_NOFILE, &lim);
		}
	}
	if (fuse_opt_parse(&args, &cli, cli_opts, cli_proc) < 0)
		return 1;
	/*
	 * Access times of immutable files mean nothing here, and keeping them
	 * would cost a GETATTR round trip after every read.
	 */
	fuse_opt_add_arg(&args, "-onoatime");
	/*
	 * The kernel checks every access against the owner, group and mode
	 * relfs reports: POSIX permissions in incoming/, the roles' groups
	 * elsewhere (ls -l tells the truth).
	 */
	fuse_opt_add_arg(&args, "-odefault_permissions");
	if (fuse_parse_cmdline(&args, &opts) != 0)
		return 1;
	if (opts.show_help) {
		usage(argv[0]);
		ret = 0;
		goto out;
	}
	if (opts.show_version) {
		printf("relfs 0.1, FUSE library %s\n", fuse_pkgversion());
		ret = 0;
		goto out;
	}
	if (!cli.store || !opts.mountpoint) {
		fprintf(stderr, "usage: %s STORE MOUNTPOINT [options]\n",
		    argv[0]);
		goto out;
	}
	/* fail early and clearly on a missing or broken store */
	if ((rc = store_open(&probe, cli.store)) < 0) {
		fprintf(stderr, "relfs: %s\n", store_errmsg());
		if (rc == -EUCLEAN)
			ret = 3;
		goto out;
	}
	store_close(probe);
	fs.timeout = cli.timeout;
	fs.offline = cli.offline;
	fs.debug = opts.debug;
	pthread_mutex_init(&fs.qmu, NULL);
	pthread_mutex_init(&fs.at_mu, NULL);
	pthread_cond_init(&fs.at_cond, NULL);
	fs.on_change = at_changed;
	pthread_cond_init(&fs.qcond, NULL);
	fs.se = fuse_session_new(&args, &relfs_ops, sizeof(relfs_ops), &fs);
	if (!fs.se)
		goto out;
	if (fuse_set_signal_handlers(fs.se) != 0)
		goto out_session;
	{
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_hup;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGHUP, &sa, NULL);
	}
	if (fuse_session_mount(fs.se, opts.mountpoint) != 0)
		goto out_signals;
	if (drop_privileges(cli.store) < 0)
		goto out_unmount;
	tighten_modes(cli.store);
	fuse_daemonize(opts.foreground);
	if ((rc = store_open(&fs.st, cli.store)) < 0) {
		fprintf(stderr, "relfs: %s\n", store_errmsg());
		goto out_unmount;
	}
	store_prefetch(fs.st);
	/* a seal the last daemon did not finish */
	store_seal_recover(fs.st);
	if ((rc = store_ledger_async(fs.st)) < 0) {
		fprintf(stderr, "relfs: %s\n", store_errmsg());
		goto out_unmount;
	}
	getrlimit(RLIMIT_NOFILE, &lim);
	fs.ndirty = lim.rlim_cur < (1 << 20) ? lim.rlim_cur : (1 << 20);
	fs.dirty = calloc(fs.ndirty, 1);
	fs.ctl = calloc(fs.ndirty, sizeof(*fs.ctl));
	fs.stream = calloc(fs.ndirty, sizeof(*fs.stream));
	fs.writer = calloc(fs.ndirty, sizeof(*fs.writer));
	fs.spool = calloc(fs.ndirty, sizeof(*fs.spool));
	if (!fs.dirty || !fs.ctl || !fs.stream || !fs.writer || !fs.spool) {
		fprintf(stderr, "relfs: out of memory\n");
		goto out_store;
	}
	fs.root.fd = fs.tmpfd = -1;
	if ((rc = inc_init(&fs)) < 0) {
		fprintf(stderr, "relfs: %s\n", store_errmsg());
		goto out_inc;
	}
	pthread_cond_init(&fs.wcond, NULL);
	pthread_cond_init(&fs.dcond, NULL);
	pthread_mutex_init(&fs.chg_mu, NULL);
	fs_changed(&fs);	/* learn where the change log stands */
	/* without it relctl's changes show within a second (wake_thread) */
	if ((fs.pokefd = poke_listen(cli.store)) < 0)
		store_log(fs.st, "relctl's changes show within a second: could "
		    "not listen on %s: %s", STORE_DAEMON_SOCKET,
		    strerror(errno));
	if ((rc = pthread_create(&fs.qthread, NULL, inval_thread, &fs)) != 0 ||
	    (started++, rc = pthread_create(&fs.wthread, NULL, wake_thread,
	    &fs)) != 0 || (started++, rc = pthread_create(&fs.dthread, NULL,
	    delivery_thread, &fs)) != 0 || (started++, fs.pokefd >= 0 &&
	    (rc = pthread_create(&fs.pthread, NULL, poke_thread, &fs)) != 0)) {
		fprintf(stderr, "relfs: could not start a thread: %s\n",
		    strerror(rc));
		ret = 1;
		goto out_threads;
	}
	started++;
	if (opts.singlethread) {
		ret = fuse_session_loop(fs.se);
	} else {
		loop = fuse_loop_cfg_create();
		fuse_loop_cfg_set_clone_fd(loop, opts.clone_fd);
		/* libfuse says "unset" with UINT_MAX, then warns if it is set */
		if (opts.max_idle_threads <= 100000)
			fuse_loop_cfg_set_idle_threads(loop,
			    opts.max_idle_threads);
		if (opts.max_threads <= 100000)
			fuse_loop_cfg_set_max_threads(loop, opts.max_threads);
		ret = fuse_session_loop_mt(fs.se, loop);
		fuse_loop_cfg_destroy(loop);
	}
out_threads:
	pthread_mutex_lock(&fs.qmu);
	fs.qstop = 1;
	pthread_cond_signal(&fs.qcond);
	pthread_cond_signal(&fs.wcond);
	pthread_cond_signal(&fs.dcond);
	pthread_mutex_unlock(&fs.qmu);
	if (started > 0)
		pthread_join(fs.qthread, NULL);
	if (started > 1)
		pthread_join(fs.wthread, NULL);
	if (started > 2)
		pthread_join(fs.dthread, NULL);
	if (fs.pokefd >= 0) {
		/* wakes the accept; the socket's name goes with the daemon */
		shutdown(fs.pokefd, SHUT_RDWR);
		if (started > 3)
			pthread_join(fs.pthread, NULL);
		close(fs.pokefd);
		poke_unlink(cli.store);
	}
out_inc:
	inc_destroy(&fs);
	at_destroy(&fs);
	/* dependencies still open when the mount went (no release came) */
	for (size_t fd = 0; fd < fs.ndirty; fd++)
		store_stream_close(fs.stream[fd]);
out_store:
	store_close(fs.st);
	free(fs.dirty);
	free(fs.ctl);
	free(fs.stream);
	free(fs.writer);
	free(fs.spool);
	free(fs.resmap);
out_unmount:
	fuse_session_unmount(fs.se);
out_signals:
	fuse_remove_signal_handlers(fs.se);
out_session:
	fuse_session_destroy(fs.se);
out:
	free(opts.mountpoint);
	free(cli.store);
	fuse_opt_free_args(&args);
	return ret == 3 ? 3 : ret ? 1 : 0;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * hazard_sync_umount (H11): what the whole-filesystem calls do with
 * write-pinned file folios: sync(2), syncfs(2), umount2(2) and a
 * read-only remount (mount(2) MS_REMOUNT | MS_RDONLY) while the file is
 * pinned, then the read-write remount.  Each call runs in a child with a
 * 30 s deadline (a hang fails the program); per call the block device's
 * written sectors, the pinned folios' PG_dirty|PG_writeback (by pfn, so
 * also once the file is unmapped) and the file's bytes on the block device.
 *
 * Per filesystem (ext4, xfs): 512 pages (2 MiB) of a MAP_SHARED file,
 * long-term pinned for write, cleaned by fsync; the device writes the
 * whole range once.  Periodic writeback is switched off for the run
 * (dirty_writeback_centisecs 0, restored at exit; the range is far below
 * the background threshold), so only the calls write.  Then, in order:
 *   sync                  sync(2);
 *   syncfs                syncfs(2) on the file;
 *   umount                umount2(mount point, 0) while mapped and open:
 *                         EBUSY (do_umount(): propagate_mount_busy()
 *                         fails before anything is synced), the mount stays;
 *   remount-ro            MS_REMOUNT | MS_RDONLY while mapped and open:
 *                         EBUSY everywhere (reconfigure_super() ->
 *                         sb_prepare_remount_readonly(): the open file and
 *                         the shared writable mapping hold a mount write
 *                         reference; this comes before ->reconfigure, so
 *                         before any sync), the filesystem stays rw;
 *   remount-ro-unmapped   the file unmapped and closed, the pin held (a pin
 *                         is no mount writer): the remount is done
 *                         (ext4_reconfigure() and xfs_fs_reconfigure() call
 *                         sync_filesystem() first);
 *   sync-on-ro            sync(2) while read-only, the pin held: it skips a
 *                         read-only superblock (sync_inodes_one_sb(),
 *                         sync_fs_one_sb()) but wakes the flusher for every
 *                         bdi first (wakeup_flusher_threads()), whose
 *                         WB_SYNC_NONE pass has no read-only check, nor has
 *                         ext4_writepages() for blocks already mapped (its
 *                         own comment: on a read-only mount it "should
 *                         *never* be called") or iomap_writepages(); the
 *                         pass is not waited for: up to 1 s is given;
 *   remount-rw            MS_REMOUNT back; then the file reopened, the
 *                         dirtying unpin, fsync: the device's bytes on disk.
 *
 * Expected, stock and base (no series): the device's write dirties
 * nothing, so sync and syncfs write at most the journal/log slack (1 MiB)
 * and leave the device's bytes off the disk (fsync, sync, syncfs all
 * report success: the old staleness), and the read-only remount finds
 * nothing to write: the disk keeps the original bytes, nothing is dirty
 * on the read-only filesystem, and sync on it writes nothing.
 * Patched (v2): the same as base; the series does not touch writeback.
 * (v1 re-dirtied the pinned folios at every writeback end: sync and syncfs
 * each wrote the range, the read-only remount left 512 folios dirty on a
 * read-only filesystem and sync(2) wrote them onto it: WRITES ON RO.)
 * umount and the mapped remount are
 * 6.12 (stock612): the long-term write pin is refused with EFAULT
 * (pinlab.h, writable_file_mapping_allowed()); every call's case asserts
 * the refusal.
 * EBUSY on every kernel; every call returned in milliseconds.
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>

#include "lib/pinlab.h"

#define NP		512
#define RANGE		(NP * 4096ULL / 512)	/* the range, in sectors */
#define SLACK		(1024 * 1024 / 512)	/* journal and log, in sectors */
#define DEADLINE_MS	30000
#define WB_WAIT_MS	1000	/* sync-on-ro: the flusher's pass */

static const char *const wb_knob = "/proc/sys/vm/dirty_writeback_centisecs";
static char wb_saved[32];
static int wb_set;

/* The two filesystems, how to mount them again, and whether they are ro. */
static struct fs {
	const char *name, *mnt;
	char dev[64];
	dev_t st_dev;
} fss[2] = { { .name = "ext4" }, { .name = "xfs" } };
static int fs_known;

static void restore_knob(void)
{
	if (wb_set && pl_write_file(wb_knob, wb_saved))
		ksft_print_msg("cannot restore %s to %s\n", wb_knob, wb_saved);
	wb_set = 0;
}

/*
 * Every filesystem mounted and read-write again (async-signal-safe: only
 * syscalls): a later program needs both.
 */
static void fs_restore(void)
{
	struct statvfs sv;
	struct stat st;
	int i;

	for (i = 0; i < 2 && fs_known; i++) {
		if (stat(fss[i].mnt, &st) || st.st_dev != fss[i].st_dev)
			mount(fss[i].dev, fss[i].mnt, fss[i].name, 0, NULL);
		else if (!statvfs(fss[i].mnt, &sv) && (sv.f_flag & ST_RDONLY))
			mount(NULL, fss[i].mnt, NULL, MS_REMOUNT, NULL);
	}
}

static void on_signal(int sig)
{
	fs_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

enum call { SYNC, SYNCFS, UMOUNT, REMOUNT_RO, REMOUNT_RO_UNMAPPED,
	    SYNC_RO, REMOUNT_RW, NR_CALLS };
static const char *const call_name[] = {
	"sync", "syncfs", "umount", "remount-ro", "remount-ro-unmapped",
	"sync-on-ro", "remount-rw",
};

static int do_call(enum call c, struct fs *f, int fd)
{
	switch (c) {
	case SYNC:
	case SYNC_RO:
		sync();
		return 0;
	case SYNCFS:
		return syncfs(fd);
	case UMOUNT:
		return umount2(f->mnt, 0);
	case REMOUNT_RO:
	case REMOUNT_RO_UNMAPPED:
		return mount(NULL, f->mnt, NULL, MS_REMOUNT | MS_RDONLY, NULL);
	default:
		return mount(NULL, f->mnt, NULL, MS_REMOUNT, NULL);
	}
}

/*
 * Runs the call in a child: 0 or the errno it failed with; -ETIME if it
 * did not return within DEADLINE_MS (a hung task: the program fails).
 */
static int timed_call(enum call c, struct fs *f, int fd, long *ms)
{
	long start = pl_now_ms();
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		ksft_exit_fail_msg("fork: %s\n", strerror(errno));
	if (!pid) {
		alarm(DEADLINE_MS / 1000 + 5);
		_exit(do_call(c, f, fd) ? errno & 0xff : 0);
	}
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r < 0)
			ksft_exit_fail_msg("waitpid: %s\n", strerror(errno));
		*ms = pl_now_ms() - start;
		if (r)
			return WIFEXITED(status) ? WEXITSTATUS(status) : EINTR;
		if (*ms > DEADLINE_MS)
			return -ETIME;
		usleep(5000);
	}
}

/*
 * Sectors written to the filesystem's block device since boot, through a
 * descriptor of its mount point held only for the read (an open file would
 * make umount EBUSY by itself).
 */
static unsigned long long sectors_now(struct fs *f)
{
	int fd = open(f->mnt, O_RDONLY | O_DIRECTORY);
	struct pl_disk_io io;
	struct stat st;

	if (fd < 0 || fstat(fd, &st) || st.st_dev != f->st_dev ||
	    pl_disk_io(fd, &io))
		ksft_exit_fail_msg("%s: block device counters unreadable\n",
				   f->mnt);
	close(fd);
	return io.write_sectors;
}

/* Pinned folios (by pfn) dirty or under writeback now; -1 on error. */
static int dirty_pfns(const __u64 *pfns)
{
	const __u64 mask = 1ULL << PL_KPF_DIRTY | 1ULL << PL_KPF_WRITEBACK;
	int n = 0, p;

	for (p = 0; p < NP; p++) {
		__u64 f = pl_kpageflags(pfns[p]);

		if (f == ~0ULL)
			return -1;
		n += !!(f & mask);
	}
	return n;
}

/* Pages of the file @path on disk holding the device's write; -1 on error. */
static int disk_fresh(const char *path, __u32 h, __u32 seq)
{
	size_t len = NP * pl_page_size;
	char *data = malloc(len);
	int fd = open(path, O_RDONLY), ret, n = -1;

	if (!data)
		ksft_exit_fail_msg("out of memory\n");
	ret = fd < 0 ? -errno : pl_disk_read(fd, 0, len, data, NULL);
	if (ret)
		ksft_print_msg("oracle: %s: %s\n", path, strerror(-ret));
	else
		n = pl_count_stamped(data, len, h, 0, seq);
	if (fd >= 0)
		close(fd);
	free(data);
	return n;
}

static int mounted_rw(struct fs *f, int *rw)
{
	struct statvfs sv;
	struct stat st;

	if (stat(f->mnt, &st) || statvfs(f->mnt, &sv))
		return 0;
	*rw = !(sv.f_flag & ST_RDONLY);
	return st.st_dev == f->st_dev;
}

struct result {
	int err, mounted, rw, dirty, fresh;
	long ms;
	unsigned long long sectors;
};

/* What each call must do on this kernel: see the header comment. */
static int expected(enum call c, const struct result *r)
{
	int ok = r->mounted;

	switch (c) {
	case SYNC:
	case SYNCFS:
		ok = ok && !r->err && r->rw;
		return ok && r->sectors <= SLACK && r->fresh == 0 &&
		       r->dirty == 0;
	case UMOUNT:
	case REMOUNT_RO:
		ok = ok && r->err == EBUSY && r->rw && r->sectors <= SLACK;
		return ok && r->fresh == 0 && r->dirty == 0;
	case SYNC_RO:
		ok = ok && !r->err && !r->rw && r->sectors <= SLACK;
		return ok && r->fresh == 0 && r->dirty == 0;
	case REMOUNT_RO_UNMAPPED:
		/* ext4's journal flush, xfs's log clean: no bound */
		return ok && !r->err && !r->rw && r->fresh == 0 &&
		       r->dirty == 0;
	default:
		return ok && !r->err && r->rw && r->fresh == NP;
	}
}

static const char *outcome(enum call c, const struct result *r)
{
	if (r->err < 0)
		return "HUNG";
	if (!r->mounted)
		return "UNMOUNTED";
	if (c == REMOUNT_RO_UNMAPPED && !r->rw && r->dirty > 0)
		return "DIRTY ON RO";
	if (c == SYNC_RO && !r->rw)
		return r->sectors >= RANGE ? "WRITES ON RO" : "OK nothing written";
	if (c == REMOUNT_RW)
		return r->fresh == NP ? "OK on disk after unpin" : "DATA LOSS";
	if (r->err == EBUSY)
		return "EBUSY";
	if (r->err)
		return "FAILED";
	if (r->fresh == NP)
		return r->sectors >= RANGE ? "REWRITES range" : "OK";
	return "STALE on disk";
}

static void run_fs(int mfd, int i)
{
	enum pl_mem mem = i ? PL_MEM_XFS_SHARED : PL_MEM_EXT4_SHARED;
	struct result res[NR_CALLS];
	int ok, pinned = 0, fd = -1;
	struct fs *f = &fss[i];
	struct pl_buf buf;
	__u32 h, seq = 0;
	char path[256];
	__u64 *pfns;
	enum call c;
	int p;

	/* 6.12: no long-term write pin to sync around (pinlab.h). */
	if (pl_pin_refusal(mem, MOCKDMA_METHOD_PIN_FAST,
			   MOCKDMA_PIN_LONGTERM | MOCKDMA_PIN_WRITE)) {
		for (c = 0; c < NR_CALLS; c++) {
			pl_refused_case(mfd, mem, MOCKDMA_METHOD_PIN_FAST,
					MOCKDMA_PIN_LONGTERM | MOCKDMA_PIN_WRITE,
					"%s %s with a write pin", f->name,
					call_name[c]);
			printf("# MATRIX table=hazards id=H11 hazard=sync-umount case=%s-%s | outcome=REFUSED (EFAULT)\n",
			       f->name, call_name[c]);
		}
		return;
	}
	memset(res, 0, sizeof(res));
	pfns = calloc(NP, sizeof(*pfns));
	if (!pfns)
		ksft_exit_fail_msg("out of memory\n");
	ok = !pl_buf_setup_len(&buf, mem, NP * pl_page_size) &&
	     !pl_pin(mfd, buf.addr, buf.len, MOCKDMA_METHOD_PIN_FAST,
		     MOCKDMA_PIN_LONGTERM | MOCKDMA_PIN_WRITE, &h);
	pinned = ok;
	ok = ok && !pl_fsync(buf.fd) &&
	     !pl_dma_write(mfd, h, 0, buf.len, 0, &seq) &&
	     pl_device_wrote(&buf, h, seq);
	for (p = 0; ok && p < NP; p++)
		ok = !pl_page_pfn(buf.addr + p * pl_page_size, &pfns[p]);
	snprintf(path, sizeof(path), "%s", buf.path);
	fd = buf.fd;
	for (c = 0; ok && c < NR_CALLS; c++) {
		struct result *r = &res[c];
		unsigned long long s0;
		long start;

		if (c == REMOUNT_RO_UNMAPPED) {
			/* The pin holds the folios; no mount writer is left. */
			if (munmap(buf.map, buf.map_len) || close(fd))
				ksft_exit_fail_msg("munmap/close: %s\n",
						   strerror(errno));
			buf.map = NULL;
			buf.fd = fd = -1;
		}
		if (c == REMOUNT_RW) {
			fd = open(path, O_RDONLY);
			if (fd < 0)
				ksft_exit_fail_msg("%s: %s\n", path,
						   strerror(errno));
		}
		s0 = sectors_now(f);
		start = pl_now_ms();
		r->err = timed_call(c, f, fd, &r->ms);
		if (r->err < 0)
			ksft_exit_fail_msg("%s %s: no return in %d s: hung\n",
					   f->name, call_name[c],
					   DEADLINE_MS / 1000);
		/*
		 * sync(2) does not wait for the flusher's WB_SYNC_NONE pass
		 * (wakeup_flusher_threads()) when the filesystem is read-only
		 * (sync_inodes_one_sb() skips it): give it WB_WAIT_MS.
		 */
		while (c == SYNC_RO && sectors_now(f) - s0 < RANGE &&
		       pl_now_ms() - start < r->ms + WB_WAIT_MS)
			usleep(20000);
		r->sectors = sectors_now(f) - s0;
		r->mounted = mounted_rw(f, &r->rw);
		if (c == REMOUNT_RW && r->mounted && r->rw) {
			/* The device's bytes after the dirtying unpin. */
			pinned = !!pl_unpin(mfd, h, MOCKDMA_UNPIN_DIRTY);
			if (pinned || pl_fsync(fd))
				ok = 0;
			r->dirty = 0;
		} else {
			r->dirty = dirty_pfns(pfns);
		}
		r->fresh = disk_fresh(path, h, seq);
	}
	if (pinned && pl_unpin(mfd, h, MOCKDMA_UNPIN_DIRTY))
		ksft_print_msg("unpin failed\n");
	fs_restore();
	if (fd >= 0 && fd != buf.fd)
		close(fd);
	pl_buf_teardown(&buf);
	unlink(path);
	free(pfns);

	for (c = 0; c < NR_CALLS; c++) {
		struct result *r = &res[c];

		ksft_print_msg("[INFO] %s %s: err %s in %ld ms, %llu sectors written, %s, %s; %d/%d pinned folios dirty, device's bytes on disk in %d/%d pages\n",
			       f->name, call_name[c],
			       r->err ? pl_errno_name(r->err) : "0", r->ms,
			       r->sectors, r->mounted ? "mounted" : "NOT MOUNTED",
			       r->rw ? "rw" : "ro", r->dirty, NP, r->fresh, NP);
		printf("# MATRIX table=hazards id=H11 hazard=sync-umount case=%s-%s | outcome=%s (%llu KiB written)\n",
		       f->name, call_name[c], ok ? outcome(c, r) : "ERROR",
		       r->sectors / 2);
		ksft_test_result(ok && expected(c, r),
				 "%s %s with a write pin: result, writes, page state and disk as this kernel does it\n",
				 f->name, call_name[c]);
	}
}

int main(void)
{
	int fd = pl_open_or_skip(), i;
	FILE *kf;

	fss[0].mnt = getenv("PINLAB_EXT4") ? getenv("PINLAB_EXT4") : "/mnt/ext4";
	fss[1].mnt = getenv("PINLAB_XFS") ? getenv("PINLAB_XFS") : "/mnt/xfs";
	for (i = 0; i < 2; i++) {
		int mfd = open(fss[i].mnt, O_RDONLY | O_DIRECTORY);
		struct stat st;

		if (mfd < 0 || fstat(mfd, &st) ||
		    pl_disk_device(mfd, fss[i].dev, sizeof(fss[i].dev)))
			ksft_exit_fail_msg("%s: cannot identify its device\n",
					   fss[i].mnt);
		fss[i].st_dev = st.st_dev;
		/*
		 * A writeback error nobody has seen yet (an earlier program's
		 * hard-poisoned page, hazard_memfail) is reported by the first
		 * syncfs(2) of any file opened after it (errseq_sample() gives
		 * 0 for an unseen error, syncfs checks sb->s_wb_err against
		 * it): see it here, so that the syncfs case judges this
		 * program's own calls only.
		 */
		if (syncfs(mfd))
			ksft_print_msg("[INFO] %s: an earlier writeback error: %s\n",
				       fss[i].mnt, strerror(errno));
		close(mfd);
	}
	fs_known = 1;
	ksft_set_plan(2 * NR_CALLS);
	atexit(fs_restore);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);

	kf = fopen(wb_knob, "r");
	if (!kf || !fgets(wb_saved, sizeof(wb_saved), kf))
		ksft_exit_fail_msg("%s: %s\n", wb_knob, strerror(errno));
	fclose(kf);
	wb_saved[strcspn(wb_saved, "\n")] = 0;
	wb_set = 1;
	atexit(restore_knob);
	if (pl_write_file(wb_knob, "0"))
		ksft_exit_fail_msg("cannot set %s\n", wb_knob);

	for (i = 0; i < 2; i++)
		run_fs(fd, i);
	restore_knob();
	close(fd);
	ksft_finished();
}

// SPDX-License-Identifier: GPL-2.0
/*
 * hazard_freeze (H2): a frozen filesystem must receive no writes.  Dave
 * Chinner's objection: page cache dirtied behind the filesystem's back
 * (by a dirtying unpin, or by v1 of the series' re-dirtying) is not stopped by
 * the freeze protection, which guards only the paths that go through the
 * filesystem: write(2) (sb_start_write) and ->page_mkwrite
 * (sb_start_pagefault).  freeze_super() syncs the filesystem once
 * (sync_filesystem()) and then assumes nothing can be dirty; whatever is
 * dirtied later is written by the flusher onto the frozen filesystem.
 *
 * Per case, on ext4 and on xfs: 16 pages of a MAP_SHARED file pinned for
 * write (long-term FOLL_PIN, or legacy get_user_pages()) and cleaned by
 * fsync; the writeback knobs are set low for the run (dirty_expire 0.5 s,
 * dirty_writeback 0.1 s, restored at exit); FIFREEZE on the mount point;
 * the pages' PG_dirty|PG_writeback right after the freeze; the device
 * writes; then, still frozen, one of:
 *   unpin-dirty  MOCKDMA_UNPIN_DIRTY (unpin_user_pages_dirty_lock() ->
 *                folio_mark_dirty(): no ->page_mkwrite, no
 *                sb_start_pagefault(), so it must not block), in a child
 *                with a deadline; the pages' state just after it; 1.5 s of
 *                flusher activity (three expiry intervals);
 *   fsync        fsync(2) of the file while the pin stays, in a child: if
 *                it has not returned after 1 s, the filesystem is thawed
 *                and it must return then;
 * the block device's written sectors over the frozen window (from just
 * after FIFREEZE to just before FITHAW) and, still frozen, the file's
 * bytes on the block device; then FITHAW, (unpin-dirty for the fsync
 * variant), fsync, and the disk again.
 *
 * Nothing here blocks on a frozen filesystem: folio_mark_dirty() takes no
 * freeze protection; fsync takes none either (vfs_fsync_range() ->
 * ext4_sync_file()/xfs_file_fsync() -> file_write_and_wait_range()), and
 * writing back pages over written extents needs no transaction
 * (ext4_writepages() maps nothing in its first mpage_prepare_extent_to_map()
 * pass, so it starts no jbd2 handle; iomap_writepages() over an
 * XFS_EXT_NORM extent inside i_disk_size needs no completion
 * transaction), so neither meets the frozen journal.  Writeback itself
 * has no freeze check (wb_writeback(), writeback_sb_inodes() look only at
 * trylock_super(), and freeze_super() drops s_umount when done).
 *
 * Expected, stock and base (no series), and legacy GUP everywhere: after
 * the fsync and the freeze's sync nothing is dirty, and the device's write
 * dirties nothing.
 *   unpin-dirty: the unpin returns at once and leaves all 16 pages dirty;
 *   the flusher then writes exactly the 16 pages (128 sectors, nothing
 *   else: the frozen journal and log write nothing) onto the frozen
 *   filesystem, and the device's bytes are on disk while it is still
 *   frozen: WRITES WHILE FROZEN, the defect.  After the thaw they stay.
 *   fsync: returns while frozen having written nothing (nothing is
 *   dirty): 0 sectors, the disk holds the original bytes while frozen;
 *   the dirtying unpin after the thaw puts the device's bytes on disk.
 * Patched (v2): the same as base.  The series does not touch writeback; the
 * write onto the frozen filesystem comes from the driver's dirtying unpin
 * (set_page_dirty_lock() without sb_start_write()), on every kernel.  (v1
 * re-dirtied the pinned folios from a work item at each writeback end, so
 * the flusher kept rewriting them onto the frozen filesystem: 128 sectors
 * per pass for as long as they stayed pinned.)
 * 6.12 (stock612), long-term pin: refused with EFAULT (pinlab.h,
 * writable_file_mapping_allowed()), so no long-term pin writes behind the
 * freeze; legacy GUP is granted and WRITES WHILE FROZEN exactly as 6.1
 * (the freeze and writeback paths above are unchanged in 6.12).
 */
#include <fcntl.h>
#include <linux/fs.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>

#include "lib/pinlab.h"

#define NP		16
#define SECTORS		(NP * 4096 / 512)	/* the 16 pages, in sectors */
#define WINDOW_MS	1500	/* unpin-dirty: 3 expiry intervals */
#define FSYNC_WAIT_MS	1000	/* fsync: thaw after this if still blocked */
#define DEADLINE_MS	10000	/* a call not back by then hung */

/* The knobs this program sets (pl_knobs_set(): restored at exit). */
static const struct pl_knob knobs[] = {
	{ "/proc/sys/vm/dirty_expire_centisecs", "50" },
	{ "/proc/sys/vm/dirty_writeback_centisecs", "10" },
};

/* The mount points this program may have frozen (thawed on every exit). */
static const char *mounts[2];
static volatile sig_atomic_t frozen[2];

/* FIFREEZE or FITHAW of mounts[m]; 0 or -errno.  Async-signal-safe. */
static int freeze_op(int m, unsigned long op)
{
	int fd = open(mounts[m], O_RDONLY | O_DIRECTORY), ret = 0;

	if (fd < 0)
		return -errno;
	if (ioctl(fd, op, 0))
		ret = -errno;
	close(fd);
	if (!ret)
		frozen[m] = op == FIFREEZE;
	return ret;
}

static void thaw_all(void)
{
	int m;

	for (m = 0; m < 2; m++)
		if (frozen[m] && freeze_op(m, FITHAW))
			ksft_print_msg("cannot thaw %s\n", mounts[m]);
}

/* The harness's timeout (SIGTERM) must not leave a filesystem frozen. */
static void on_signal(int sig)
{
	int m;

	for (m = 0; m < 2; m++)
		if (frozen[m])
			freeze_op(m, FITHAW);
	signal(sig, SIG_DFL);
	raise(sig);
}

/*
 * A call that may block on a frozen filesystem, run in a child so that the
 * parent can thaw: the child exits with the call's errno (0 on success).
 */
struct timed {
	pid_t pid;
	long start, ms;
	int done, err;
};

enum call { CALL_UNPIN_DIRTY, CALL_FSYNC };

static void timed_start(struct timed *t, enum call call, int mfd, __u32 h,
			int fd)
{
	memset(t, 0, sizeof(*t));
	t->start = pl_now_ms();
	fflush(stdout);
	t->pid = fork();
	if (t->pid < 0)
		ksft_exit_fail_msg("fork: %s\n", strerror(errno));
	if (!t->pid) {
		int ret = call == CALL_UNPIN_DIRTY ?
			  pl_unpin(mfd, h, MOCKDMA_UNPIN_DIRTY) : pl_fsync(fd);

		_exit(-ret & 0xff);
	}
}

/* Waits at most @ms more for the child; 1 once it has returned. */
static int timed_wait(struct timed *t, long ms)
{
	long end = pl_now_ms() + ms;
	int status;

	while (!t->done) {
		pid_t r = waitpid(t->pid, &status, WNOHANG);

		if (r < 0)
			ksft_exit_fail_msg("waitpid: %s\n", strerror(errno));
		if (r) {
			t->done = 1;
			t->ms = pl_now_ms() - t->start;
			t->err = WIFEXITED(status) ? WEXITSTATUS(status) : EINTR;
			break;
		}
		if (pl_now_ms() >= end)
			break;
		usleep(5000);
	}
	return t->done;
}

static struct pl_disk_io disk_io(int fd)
{
	struct pl_disk_io io;

	if (pl_disk_io(fd, &io))
		ksft_exit_fail_msg("block device counters unreadable\n");
	return io;
}

/* Pages of @buf whose folio is dirty or under writeback now; -1 on error. */
static int dirty_pages(struct pl_buf *buf)
{
	const __u64 mask = 1ULL << PL_KPF_DIRTY | 1ULL << PL_KPF_WRITEBACK;
	int n = 0, p;

	for (p = 0; p < NP; p++) {
		__u64 f;

		if (pl_page_flags(buf->addr + p * pl_page_size, &f))
			return -1;
		n += !!(f & mask);
	}
	return n;
}

/* Pages of the file on disk holding the device's write @seq; -1 on error. */
static int disk_fresh(struct pl_buf *buf, __u32 h, __u32 seq)
{
	char *data = malloc(buf->len);
	int ret, n = -1;

	if (!data)
		ksft_exit_fail_msg("out of memory\n");
	ret = pl_disk_read(buf->fd, 0, buf->len, data, NULL);
	if (ret)
		ksft_print_msg("oracle: %s\n", strerror(-ret));
	else
		n = pl_count_stamped(data, buf->len, h, 0, seq);
	free(data);
	return n;
}

enum variant { UNPIN_DIRTY, FSYNC, NR_VARIANTS };
static const char *const variant_name[] = { "unpin-dirty", "fsync" };

static void run_case(int mfd, int m, unsigned int p, enum variant v)
{
	enum pl_mem mem = m ? PL_MEM_XFS_SHARED : PL_MEM_EXT4_SHARED;
	int ok, pinned = 0, dirty_frozen = -1, dirty_unpin = -1;
	int dirty_end = -1, on_disk_frozen = -1, on_disk_final = -1;
	unsigned long long before_unpin = 0, sectors = 0;
	int returned_frozen = 0, returned = 0, err = -1;
	const char *fs = m ? "xfs" : "ext4", *verdict;
	struct pl_disk_io io0, io1, io2, io_call;
	struct timed t = { 0 };
	struct pl_buf buf;
	__u32 h, seq = 0;
	long ms = -1;

	if (pl_refused_case(mfd, mem, pl_pin_kinds[p].method,
			    pl_pin_kinds[p].flags, "%s %s %s", fs,
			    pl_pin_kinds[p].name, variant_name[v])) {
		printf("# MATRIX table=hazards id=H2 hazard=freeze case=%s-%s-%s | outcome=REFUSED (EFAULT)\n",
		       fs, pl_pin_kinds[p].name, variant_name[v]);
		return;
	}
	if (pl_buf_setup_pinned(&buf, mem, mfd, pl_pin_kinds[p].method,
				pl_pin_kinds[p].flags, &h)) {
		ksft_test_result_fail("%s %s %s: set-up\n", fs,
				      pl_pin_kinds[p].name, variant_name[v]);
		return;
	}
	pinned = 1;
	ok = !pl_fsync(buf.fd);
	if (ok && freeze_op(m, FIFREEZE)) {
		ksft_print_msg("FIFREEZE %s: %s\n", mounts[m], strerror(errno));
		ok = 0;
	}
	io0 = disk_io(buf.fd);
	if (ok) {
		dirty_frozen = dirty_pages(&buf);
		ok = !pl_dma_write(mfd, h, 0, buf.len, 0, &seq) &&
		     pl_device_wrote(&buf, h, seq);
	}
	io1 = disk_io(buf.fd);
	io_call = io1;
	if (ok && v == UNPIN_DIRTY) {
		timed_start(&t, CALL_UNPIN_DIRTY, mfd, h, -1);
		returned_frozen = timed_wait(&t, DEADLINE_MS);
		pinned = !returned_frozen;
		dirty_unpin = dirty_pages(&buf);
		usleep(WINDOW_MS * 1000);
	} else if (ok) {
		timed_start(&t, CALL_FSYNC, mfd, h, buf.fd);
		returned_frozen = timed_wait(&t, FSYNC_WAIT_MS);
		io_call = disk_io(buf.fd);
		if (returned_frozen)
			usleep((FSYNC_WAIT_MS - t.ms > 0 ?
				FSYNC_WAIT_MS - t.ms : 0) * 1000);
	}
	if (ok) {
		dirty_end = dirty_pages(&buf);
		on_disk_frozen = disk_fresh(&buf, h, seq);
	}
	io2 = disk_io(buf.fd);
	if (frozen[m] && freeze_op(m, FITHAW)) {
		ksft_print_msg("FITHAW %s: %s\n", mounts[m], strerror(errno));
		ok = 0;
	}
	if (t.pid) {
		returned = timed_wait(&t, DEADLINE_MS);
		if (!returned) {
			ksft_print_msg("%s still blocked after the thaw: hung\n",
				       variant_name[v]);
			ksft_exit_fail_msg("a task hung on %s\n", mounts[m]);
		}
		err = t.err;
		ms = t.ms;
		pinned = pinned && v == FSYNC;
	}
	if (pinned && pl_unpin(mfd, h, MOCKDMA_UNPIN_DIRTY))
		ok = 0;
	ok = ok && !err && !pl_fsync(buf.fd);
	if (ok)
		on_disk_final = disk_fresh(&buf, h, seq);
	pl_buf_teardown(&buf);
	before_unpin = io1.write_sectors - io0.write_sectors;
	sectors = io2.write_sectors - io0.write_sectors;

	verdict = !ok ? "ERROR" : !returned_frozen ? "BLOCKED until thaw" :
		  sectors ? "WRITES WHILE FROZEN" : "OK no writes while frozen";
	ksft_print_msg("[INFO] %s %s %s: %d/%d pages dirty after freeze, call returned %s in %ld ms (err %d), %d dirty after it, %d at the end; frozen: %llu sectors written (%llu before the call, %llu by the time the fsync returned, %llu I/Os); device's bytes on disk: %d frozen, %d after thaw\n",
		       fs, pl_pin_kinds[p].name, variant_name[v], dirty_frozen,
		       NP, returned_frozen ? "while frozen" : "after thaw", ms,
		       err, dirty_unpin, dirty_end, sectors, before_unpin,
		       io_call.write_sectors - io0.write_sectors,
		       io2.write_ios - io0.write_ios, on_disk_frozen,
		       on_disk_final);
	printf("# MATRIX table=hazards id=H2 hazard=freeze case=%s-%s-%s | outcome=%s (%llu sectors, device's bytes %s while frozen)\n",
	       fs, pl_pin_kinds[p].name, variant_name[v], verdict, sectors,
	       on_disk_frozen == NP ? "on disk" : on_disk_frozen == 0 ?
	       "not on disk" : "partly on disk");

	/* See the header comment. */
	ok = ok && returned_frozen && !err && on_disk_final == NP &&
	     dirty_frozen == 0 && dirty_end == 0 && before_unpin == 0 &&
	     sectors == (v == UNPIN_DIRTY ? SECTORS : 0) &&
	     on_disk_frozen == (v == UNPIN_DIRTY ? NP : 0);
	if (v == UNPIN_DIRTY)
		ok = ok && dirty_unpin == NP;
	ksft_test_result(ok, "%s %s %s: writes to the frozen fs, page state and disk as this kernel does it\n",
			 fs, pl_pin_kinds[p].name, variant_name[v]);
}

int main(void)
{
	int fd = pl_open_or_skip();
	unsigned int p;
	int m, v;

	mounts[0] = getenv("PINLAB_EXT4") ? getenv("PINLAB_EXT4") : "/mnt/ext4";
	mounts[1] = getenv("PINLAB_XFS") ? getenv("PINLAB_XFS") : "/mnt/xfs";
	ksft_set_plan(2 * PL_PIN_KINDS * NR_VARIANTS);
	atexit(thaw_all);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	if (pl_knobs_set(knobs, ARRAY_SIZE(knobs)))
		ksft_exit_fail_msg("cannot set the writeback knobs\n");
	for (m = 0; m < 2; m++)
		for (p = 0; p < PL_PIN_KINDS; p++)
			for (v = 0; v < NR_VARIANTS; v++)
				run_case(fd, m, p, v);
	thaw_all();
	pl_knobs_restore();
	close(fd);
	ksft_finished();
}

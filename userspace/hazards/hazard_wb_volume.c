// SPDX-License-Identifier: GPL-2.0
/*
 * hazard_wb_volume (H4): how much a write pin makes the kernel write.
 * Leon Romanovsky's objection in the 2018 thread: keep pinned pages dirty
 * to make fsync see the device, and writeback runs non-stop.
 *
 * On 6.12 (stock612) that pin is refused with EFAULT (pinlab.h,
 * writable_file_mapping_allowed()): each case asserts the refusal; there
 * is no write pin to keep dirty.
 *
 * Per case, on ext4: a MAP_SHARED file of S bytes, long-term pinned for
 * write, cleaned by fsync; the device writes one 4 KiB page; then the
 * block device's written sectors (/sys/dev/block/M:m/stat) are counted
 * over W = 5 s of idleness and over one fsync made with the flusher
 * quiet (see run_case()).  The writeback knobs are
 * set for the run so that W spans several expiry intervals:
 * dirty_expire_centisecs 100, dirty_writeback_centisecs 50,
 * dirty_background_bytes 64 MiB, dirty_bytes 512 MiB (all restored).
 * S = 16 MiB is below the background threshold, S = 128 MiB above it.
 *
 * Expected, stock and base: the device's write dirties nothing (no PTE
 * dirty bit, no folio_mark_dirty()), so idle writes at most 1 MiB (the
 * journal and metadata, if anything) and so does the fsync.
 * Patched (v2): the same bounds as base: the series does not touch
 * writeback, so nothing but the device's dirtying unpin ever dirties the
 * range.  (v1 re-dirtied a write-pinned folio at every writeback end; the
 * inode kept its old dirtied_when, so every kupdate pass rewrote the range:
 * 64 and 280 MiB in 5 s for 16 MiB, a STORM of 1.8 and 2.7 GB in 5 s for
 * 128 MiB, and one quiet fsync wrote the whole range for the device's
 * 4 KiB: issue 12, finding 2.)
 */
#include <fcntl.h>
#include <time.h>

#include "lib/pinlab.h"

#define MIB		(1UL << 20)
#define WINDOW_S	5
#define EXPIRE_S	1
#define SLACK		MIB	/* journal and metadata */
#define BG_BYTES	(64 * MIB)	/* dirty_background_bytes below */

/* The knobs this program sets (pl_knobs_set(): restored at exit). */
static const struct pl_knob knobs[] = {
	{ "/proc/sys/vm/dirty_expire_centisecs", "100" },
	{ "/proc/sys/vm/dirty_writeback_centisecs", "50" },
	{ "/proc/sys/vm/dirty_background_bytes", "67108864" },
	{ "/proc/sys/vm/dirty_bytes", "536870912" },
};

static unsigned long long written_bytes(int fd)
{
	struct pl_disk_io io;

	if (pl_disk_io(fd, &io))
		ksft_exit_fail_msg("block device counters unreadable\n");
	return io.write_sectors * 512;
}

static void run_case(int mfd, size_t size)
{
	unsigned long long w0, w1, w2, idle, at_fsync, lo, hi, fsync_lo, fsync_hi;
	int ok;
	const char *verdict;
	struct pl_buf buf;
	__u32 h, seq = 0;

	if (pl_refused_case(mfd, PL_MEM_EXT4_SHARED, MOCKDMA_METHOD_PIN_FAST,
			    MOCKDMA_PIN_LONGTERM | MOCKDMA_PIN_WRITE,
			    "%zu MiB", size / MIB)) {
		printf("# MATRIX table=hazards id=H4 hazard=writeback-volume case=idle-%zuMiB | outcome=REFUSED (EFAULT)\n",
		       size / MIB);
		return;
	}
	if (pl_buf_setup_len(&buf, PL_MEM_EXT4_SHARED, size) ||
	    pl_pin(mfd, buf.addr, buf.len, MOCKDMA_METHOD_PIN_FAST,
		   MOCKDMA_PIN_LONGTERM | MOCKDMA_PIN_WRITE, &h)) {
		ksft_test_result_fail("%zu MiB: set-up\n", size / MIB);
		pl_buf_teardown(&buf);
		return;
	}
	ok = !pl_fsync(buf.fd) &&
	     !pl_dma_write(mfd, h, 0, pl_page_size, 0, &seq) &&
	     pl_count_stamped(buf.addr, pl_page_size, h, 0, seq) == 1;
	w0 = written_bytes(buf.fd);
	sleep(WINDOW_S);
	idle = written_bytes(buf.fd) - w0;
	/*
	 * One fsync with the flusher quiet, so that it alone writes:
	 * periodic writeback off (dirty_writeback_centisecs 0 makes
	 * wb_check_old_data_flush() return at once), the background
	 * threshold above the range (dirty_background_bytes 1 GiB, capped by
	 * the kernel at half of dirty_bytes' 512 MiB), and 1 s for the
	 * writeback in flight to end.
	 */
	ok &= !pl_write_file(knobs[1].path, "0") &&
	      !pl_write_file(knobs[2].path, "1073741824");
	sleep(1);
	w1 = written_bytes(buf.fd);
	ok &= !pl_fsync(buf.fd);
	w2 = written_bytes(buf.fd);
	ok &= !pl_write_file(knobs[1].path, knobs[1].val) &&
	      !pl_write_file(knobs[2].path, knobs[2].val);
	ok &= !pl_unpin(mfd, h, MOCKDMA_UNPIN_DIRTY);
	pl_buf_teardown(&buf);
	at_fsync = w2 - w1;

	lo = 0;
	hi = SLACK;
	fsync_lo = 0;
	fsync_hi = SLACK;
	verdict = idle > (WINDOW_S / EXPIRE_S) * size ? "STORM" :
		  idle > SLACK ? "REWRITES" : "OK";
	ksft_print_msg("[INFO] %zu MiB write pin, device idle: %llu KiB written in %d s, %llu KiB by one fsync (%s)\n",
		       size / MIB, idle >> 10, WINDOW_S, at_fsync >> 10, verdict);
	printf("# MATRIX table=hazards id=H4 hazard=writeback-volume case=idle-%zuMiB | outcome=%s (%llu MiB in %d s, %llu MiB per fsync)\n",
	       size / MIB, verdict, idle / MIB, WINDOW_S, at_fsync / MIB);
	ksft_test_result(ok && idle >= lo && idle <= hi && at_fsync >= fsync_lo &&
			 at_fsync <= fsync_hi,
			 "%zu MiB idle write pin: writeback volume as this kernel does it\n",
			 size / MIB);
}

int main(void)
{
	int fd = pl_open_or_skip();

	ksft_set_plan(2);
	if (pl_knobs_set(knobs, ARRAY_SIZE(knobs)))
		ksft_exit_fail_msg("cannot set the writeback knobs\n");
	run_case(fd, 16 * MIB);
	run_case(fd, 128 * MIB);
	pl_knobs_restore();
	close(fd);
	ksft_finished();
}

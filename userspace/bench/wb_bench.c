// SPDX-License-Identifier: GPL-2.0
/*
 * wb_bench: the writeback a long-term write pin causes (P3, writeback),
 * and the page states through one pin -> device write -> writeback ->
 * unpin cycle (the report's state timeline).
 *
 * Volume: a MAP_SHARED ext4 file of S bytes, long-term pinned for write
 * and cleaned by fsync; then, with the kernel's writeback knobs as they
 * boot (dirty_expire_centisecs 3000, dirty_writeback_centisecs 500,
 * dirty_background_ratio 10), W seconds of
 *   idle  the device wrote one 4 KiB page before W and is quiet during it;
 *   busy  the device's engine rewrites the whole range every 100 ms;
 * the block device's written bytes (/sys/dev/block/M:m/stat) are sampled
 * every second (the plot's series), then one fsync is counted alone.  S is
 * 16 MiB and 256 MiB (the 512 MiB image holds no more; the guest's
 * background threshold, nr_dirty_background_threshold, is printed with
 * it, about 180 MiB in a 2 GiB guest, so 256 MiB is above it).  W is the
 * dirty expiry, 30 s, under make bench, 3 s in the smoke.  The goal line
 * (ci/report.py) compares bytes per W and per fsync with S: at most one
 * write of the range per expiry interval and per fsync.
 *
 * Timeline: 16 pages of an ext4 file, faulted in for reading; after each
 * step the kpageflags of every page are tallied (pages on an LRU, dirty,
 * under writeback, unevictable, and the series' pinned bit 27 and parked
 * state, pl_kpf_census()'s pseudo-bits): pin (its
 * write fault dirties them), fsync, device write, fsync, dirtying unpin,
 * fsync; during each fsync a second thread tallies the flags over and
 * over and the tally with the most pages under writeback is printed
 * ("during-fsync": what writeback sees while it runs).
 *
 * Asserted (KTAP), never a time: the device wrote (its stamps are in the
 * mapping), after the dirtying unpin and fsync the disk holds the device's
 * last write on every page (the oracle's block-device read), no kprobe
 * was live, the pins balance.
 */
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>

#include "lib/pl_bench.h"

#define MIB		(1UL << 20)
#define ENGINE_US	100000
#define TL_PAGES	16

static unsigned long long written_bytes(int fd)
{
	struct pl_disk_io io;

	if (pl_disk_io(fd, &io))
		ksft_exit_fail_msg("block device counters unreadable\n");
	return io.write_sectors * 512;
}

static int volume(int mfd, size_t size, int busy, int window_s)
{
	unsigned long long w0, w, w1, w2;
	struct mockdma_engine st;
	const char *name = busy ? "busy" : "idle";
	struct pl_buf buf;
	int ok, t;
	__u32 h, seq = 0;

	if (pl_buf_setup_len(&buf, PL_MEM_EXT4_SHARED, size) ||
	    pl_pin(mfd, buf.addr, buf.len, MOCKDMA_METHOD_PIN,
		   pl_device_write_flags(PL_MEM_EXT4_SHARED, MOCKDMA_METHOD_PIN),
		   &h)) {
		pl_buf_teardown(&buf);
		ksft_print_msg("%zu MiB: set-up failed\n", size / MIB);
		return 0;
	}
	ok = !pl_fsync(buf.fd) &&
	     !pl_dma_write(mfd, h, 0, pl_page_size, 0, &seq) &&
	     pl_count_stamped(buf.addr, pl_page_size, h, 0, seq) == 1;
	if (ok && busy) {
		ok = !pl_engine_start(mfd, h, 0, 0, ENGINE_US, 0);
		memset(&st, 0, sizeof(st));
		ok = ok && !pl_engine_wait(mfd, h, &st, 1, 10000);
	}
	w0 = written_bytes(buf.fd);
	for (t = 1; ok && t <= window_s; t++) {
		sleep(1);
		w = written_bytes(buf.fd);
		printf("# BENCH table=wb-series size_mib=%zu case=%s t_s=%d | bytes=%llu\n",
		       size / MIB, name, t, w - w0);
	}
	w1 = written_bytes(buf.fd);
	ok = ok && !pl_fsync(buf.fd);
	w2 = written_bytes(buf.fd);
	if (busy && ok) {
		/*
		 * STOP may cut a pass (the engine checks it per page): the
		 * pages then hold two passes' seqs.  One last DMA_WRITE of the
		 * whole range gives every page the same, known last write.
		 */
		ok = !pl_engine_stop(mfd, h, &st) && st.last_seq &&
		     !pl_dma_write(mfd, h, 0, buf.len, 0, &seq) &&
		     pl_count_stamped(buf.addr, buf.len, h, 0, seq) ==
		     buf.len / pl_page_size;
		if (!ok)
			ksft_print_msg("%zu MiB busy: engine stop or the last write failed\n",
				       size / MIB);
	}
	ok &= !pl_unpin(mfd, h, MOCKDMA_UNPIN_DIRTY);
	ok = ok && !pl_fsync(buf.fd);
	/* The dirtying unpin put the device's last write on disk. */
	if (ok && pl_disk_stamped(&buf, h, seq) != (busy ? buf.len / pl_page_size : 1)) {
		ksft_print_msg("%zu MiB %s: the device's write %u is not on disk after a dirtying unpin and fsync\n",
			       size / MIB, name, seq);
		ok = 0;
	}
	pl_buf_teardown(&buf);
	if (ok)
		printf("# BENCH table=wb-volume size_mib=%zu case=%s | window_s=%d bytes_in_window=%llu bytes_per_fsync=%llu range_bytes=%zu bg_threshold_bytes=%ld\n",
		       size / MIB, name, window_s, w1 - w0, w2 - w1, size,
		       pl_vmstat("nr_dirty_background_threshold") *
		       (long)pl_page_size);
	return ok;
}

static void print_tally(int step, const char *event, const size_t *c)
{
	printf("# BENCH table=page-state step=%d event=%s | pages=%d lru=%zu lru_list=%zu unevictable=%zu dirty=%zu writeback=%zu pinned=%zu parked=%zu\n",
	       step, event, TL_PAGES, c[PL_KPF_LRU], c[PL_KPF_ON_LRU_LIST],
	       c[PL_KPF_UNEVICTABLE], c[PL_KPF_DIRTY], c[PL_KPF_WRITEBACK],
	       c[PL_KPF_DMA_PINNED], c[PL_KPF_PARKED]);
}

static void tally(int step, const char *event, const char *addr)
{
	size_t c[64];

	if (pl_kpf_census(addr, TL_PAGES, c))
		ksft_exit_fail_msg("kpageflags unreadable at %s\n", event);
	print_tally(step, event, c);
}

/*
 * The state while writeback runs: a thread tallies the pages' flags over
 * and over while fsync(2) writes them back, and the tally with the most
 * pages under writeback is kept (the first one if writeback ended before
 * any tally saw it).
 */
struct sampler {
	const char *addr;
	volatile int stop;
	int err, samples;
	size_t best[64];
};

static void *sample(void *arg)
{
	struct sampler *sm = arg;
	size_t c[64];

	do {
		if (pl_kpf_census(sm->addr, TL_PAGES, c)) {
			sm->err = 1;
			break;
		}
		if (!sm->samples++ || c[PL_KPF_WRITEBACK] > sm->best[PL_KPF_WRITEBACK])
			memcpy(sm->best, c, sizeof(c));
	} while (!sm->stop);
	return NULL;
}

static int fsync_sampled(int step, struct pl_buf *buf)
{
	struct sampler sm = { .addr = buf->addr };
	pthread_t t;
	int ret;

	if (pthread_create(&t, NULL, sample, &sm))
		return -1;
	ret = pl_fsync(buf->fd);
	sm.stop = 1;
	pthread_join(t, NULL);
	if (sm.err)
		ksft_exit_fail_msg("kpageflags unreadable during writeback\n");
	print_tally(step, "during-fsync", sm.best);
	return ret;
}

static int timeline(int mfd)
{
	struct pl_buf buf;
	int ok, step = 0;
	__u32 h, seq = 0;

	/* The library writes the file, fsyncs it and faults it in for reading. */
	if (pl_buf_setup_len(&buf, PL_MEM_EXT4_SHARED, TL_PAGES * pl_page_size))
		return 0;
	ok = !pl_lru_drain_all();
	tally(step++, "faulted", buf.addr);
	ok = ok && !pl_pin(mfd, buf.addr, buf.len, MOCKDMA_METHOD_PIN,
			   pl_device_write_flags(PL_MEM_EXT4_SHARED,
						 MOCKDMA_METHOD_PIN), &h);
	if (!ok) {
		pl_buf_teardown(&buf);
		return 0;
	}
	pl_lru_drain_all();
	tally(step++, "pin", buf.addr);
	ok &= !fsync_sampled(step++, &buf);
	tally(step++, "fsynced", buf.addr);
	ok = ok && !pl_dma_write(mfd, h, 0, buf.len, 0, &seq) &&
	     pl_count_stamped(buf.addr, buf.len, h, 0, seq) == TL_PAGES;
	tally(step++, "device-write", buf.addr);
	ok &= !fsync_sampled(step++, &buf);
	tally(step++, "fsynced", buf.addr);
	ok &= !pl_unpin(mfd, h, MOCKDMA_UNPIN_DIRTY);
	pl_lru_drain_all();
	tally(step++, "unpin-dirty", buf.addr);
	ok &= !fsync_sampled(step++, &buf);
	tally(step++, "fsynced", buf.addr);
	if (ok && pl_disk_stamped(&buf, h, seq) != TL_PAGES) {
		ksft_print_msg("timeline: the device's write is not on disk after the dirtying unpin\n");
		ok = 0;
	}
	pl_buf_teardown(&buf);
	return ok;
}

int main(void)
{
	static const size_t sizes[] = { 16, 256 };
	int full = pl_bench_full(), mfd = pl_open_or_skip();
	int window = full ? 30 : 3, nsizes = full ? 2 : 1, i, b;
	struct pl_bench_guard guard;

	ksft_set_plan(2 * nsizes + 1 + 1);
	ksft_print_msg("[INFO] %s run: %d s windows\n", full ? "full" : "smoke",
		       window);
	if (pl_bench_begin(&guard))
		ksft_exit_fail_msg("not quiet before timing\n");
	for (b = 0; b < 2; b++)
		for (i = 0; i < nsizes; i++)
			ksft_test_result(volume(mfd, sizes[i] * MIB, b, window),
					 "%s %zu MiB: the device wrote, its last write on disk after a dirtying unpin\n",
					 b ? "busy" : "idle", sizes[i]);
	ksft_test_result(timeline(mfd),
			 "timeline: the device wrote; after the dirtying unpin its bytes on disk\n");
	ksft_test_result(!pl_bench_end(&guard),
			 "no injection kprobe live; pin counters balance\n");
	close(mfd);
	ksft_finished();
}

// SPDX-License-Identifier: GPL-2.0
/*
 * redirty_cost: what closing the durability hole costs in writeback I/O.
 *
 * 64 pages of an ext4 MAP_SHARED file are long-term pinned for write and
 * cleaned by fsync; then 10 times the device writes one page (a different
 * one each time) and the application calls fsync.  Measured: how many of the
 * device's 10 pages are on disk while still pinned, the sectors written to
 * the ext4 disk (/sys/block/vda/stat) and, with the series, the
 * dma_pin_redirty events.
 *
 * Stock 6.1 (and the patched kernel with vm.dma_pin_lru=0, the same boot's
 * baseline): the device dirties nothing, fsync writes nothing, none of the
 * 10 pages is on disk.
 *
 * With the series: a folio long-term pinned for write is re-dirtied when its
 * writeback ends, so every fsync writes the whole pinned range, the device's
 * newest page included: all 10 are on disk.  The cost is bounded by the
 * pinned range per fsync (plus one pass per dirty_expire interval): at most
 * 64 redirty events per fsync, asserted, and at least one per device write.
 * Fewer than 64 per fsync is expected: a folio whose writeback is still
 * running when fsync starts is waited on, not rewritten (the series' known
 * gap: the next fsync writes it).  Measured on the patched kernel: 568
 * redirty events and 2272 KiB written for 10 fsyncs, against 0 KiB with
 * the switch off.  The # BENCH line gives the numbers of each run.
 */
#include <fcntl.h>
#include <sys/mman.h>

#include "lib/pinlab.h"

#define NPAGES	64
#define ROUNDS	10
#define SWITCH	"/proc/sys/vm/dma_pin_lru"

static long sectors_written(void)
{
	long v[7];
	FILE *f = fopen("/sys/block/vda/stat", "r");
	int n;

	if (!f)
		return -1;
	n = fscanf(f, "%ld %ld %ld %ld %ld %ld %ld", &v[0], &v[1], &v[2],
		   &v[3], &v[4], &v[5], &v[6]);
	fclose(f);
	return n == 7 ? v[6] : -1;
}

static long redirties(void)
{
	long v = pl_vmstat("dma_pin_redirty");

	return v < 0 ? 0 : v;
}

static void run(int fd, const char *mode, int redirty)
{
	const char *dir = getenv("PINLAB_EXT4") ? getenv("PINLAB_EXT4") :
						  "/mnt/ext4";
	long sec0, sec1, red0, red1;
	size_t on_disk = 0, i, len = NPAGES * pl_page_size;
	char path[300], *map;
	unsigned char *page;
	int file, ok = 1, ret;
	size_t holes, wrote = 0;
	__u32 h, seq[ROUNDS];

	snprintf(path, sizeof(path), "%s/pinlab-redirty-%d", dir, getpid());
	file = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (file < 0 || ftruncate(file, len) || pl_fsync(file))
		ksft_exit_fail_msg("%s: %s\n", path, strerror(errno));
	map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, file, 0);
	if (map == MAP_FAILED ||
	    pl_pin(fd, map, len, MOCKDMA_METHOD_PIN_FAST,
		   MOCKDMA_PIN_LONGTERM | MOCKDMA_PIN_WRITE, &h))
		ksft_exit_fail_msg("map/pin: %s\n", strerror(errno));
	ok &= !pl_fsync(file);

	sec0 = sectors_written();
	red0 = redirties();
	for (i = 0; i < ROUNDS; i++) {
		ok &= !pl_dma_write(fd, h, i * pl_page_size, pl_page_size, 0,
				    &seq[i]);
		ok &= !pl_fsync(file);
	}
	sec1 = sectors_written();
	red1 = redirties();
	/* Precondition: the device's writes are in the mapping. */
	for (i = 0; i < ROUNDS; i++)
		wrote += pl_count_stamped(map + i * pl_page_size, pl_page_size,
					  h, i, seq[i]) == 1;
	if (wrote != ROUNDS)
		ksft_print_msg("precondition failed: %zu/%d device pages in the mapping\n",
			       wrote, ROUNDS);
	ok &= wrote == ROUNDS;

	/*
	 * Which of the device's pages does the disk hold, still pinned?  The
	 * file was made by ftruncate: a page never written back is a hole.
	 */
	page = malloc(len);
	if (!page)
		ksft_exit_fail_msg("out of memory\n");
	ret = pl_disk_read(file, 0, len, page, &holes);
	if (ret)
		ksft_exit_fail_msg("oracle: disk read of %s: %s\n", path, strerror(-ret));
	for (i = 0; i < ROUNDS; i++)
		on_disk += pl_count_stamped(page + i * pl_page_size, pl_page_size,
					    h, i, seq[i]) == 1;
	free(page);
	ok &= !pl_unpin(fd, h, MOCKDMA_UNPIN_DIRTY);
	munmap(map, len);
	close(file);
	unlink(path);

	printf("# BENCH redirty mode=%s fsyncs=%d pinned_pages=%d written_kib=%ld redirty_events=%ld device_pages_on_disk=%zu\n",
	       mode, ROUNDS, NPAGES, (sec1 - sec0) / 2, red1 - red0, on_disk);
	printf("# MATRIX table=redirty_cost mode=%s | device_pages_on_disk_while_pinned=%zu/%d written_kib=%ld redirty_events=%ld\n",
	       mode, on_disk, ROUNDS, (sec1 - sec0) / 2, red1 - red0);
	if (redirty)
		ksft_test_result(ok && on_disk == ROUNDS &&
				 red1 - red0 >= ROUNDS &&
				 red1 - red0 <= (long)(ROUNDS + 1) * NPAGES,
				 "%s: all %d device pages on disk while pinned, at most the pinned range re-dirtied per fsync\n",
				 mode, ROUNDS);
	else
		ksft_test_result(ok && on_disk == 0 && red1 == red0,
				 "%s: fsync writes none of the %d device pages while pinned\n",
				 mode, ROUNDS);
}

int main(void)
{
	int fd = pl_open_or_skip();

	if (!pl_kernel_patched()) {
		ksft_set_plan(1);
		run(fd, "stock", 0);
	} else {
		ksft_set_plan(2);
		/* The same boot, the series switched off for new pins. */
		if (pl_series_switch(0))
			ksft_exit_fail_msg("cannot switch %s off\n", SWITCH);
		run(fd, "dma_pin_lru=0", 0);
		if (pl_series_switch(1))
			ksft_exit_fail_msg("cannot switch %s on\n", SWITCH);
		run(fd, "dma_pin_lru=1", 1);
	}
	close(fd);
	ksft_finished();
}

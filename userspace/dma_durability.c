// SPDX-License-Identifier: GPL-2.0
/*
 * dma_durability: what a device's writes into a long-term pinned MAP_SHARED
 * ext4/xfs mapping leave on disk on stock 6.1, counted in pages.
 *
 * A device write does not dirty the page cache (no PTE dirty bit, no
 * folio_mark_dirty()), so once writeback has cleaned a pinned page nothing
 * tells the kernel it changed:
 * - "stale while pinned": fsync after the device wrote writes nothing, the
 *   disk keeps the old bytes; only unpin_user_pages_dirty_lock() re-dirties
 *   the pages, and the next fsync writes them.
 * - "lost without dirtying unpin": a driver that releases its pins clean
 *   (unpin_user_pages()) leaves clean pages with the device's bytes in the
 *   cache; they are dropped (POSIX_FADV_DONTNEED after munmap) and the
 *   file reads back the old bytes: every written page is lost.
 *
 * With the pin-off-LRU series (vm.dma_pin_lru=1) a file folio long-term
 * pinned for write is re-dirtied when its writeback ends, so it is never
 * clean while pinned: fsync while pinned writes the device's bytes, and a
 * clean unpin leaves a dirty page that the next fsync writes.  No page is
 * stale, none lost.
 */
#include <fcntl.h>
#include <sys/mman.h>

#include "lib/pinlab.h"

#define LT_W (MOCKDMA_PIN_LONGTERM | MOCKDMA_PIN_WRITE)

/* Pages of the file that read(2) shows stamped, after the cache is dropped. */
static size_t cached_stamped_after_drop(struct pl_buf *buf, __u32 h, __u32 seq)
{
	char *data = malloc(buf->len);
	size_t n = 0;

	munmap(buf->map, buf->map_len);
	buf->map = NULL;
	if (data && !posix_fadvise(buf->fd, 0, 0, POSIX_FADV_DONTNEED) &&
	    pread(buf->fd, data, buf->len, 0) == (ssize_t)buf->len)
		n = pl_count_stamped(data, buf->len, h, 0, seq);
	free(data);
	return n;
}

static void stale_while_pinned(int fd, enum pl_mem mem)
{
	struct pl_buf buf;
	__u32 h, seq;
	size_t np, while_pinned, after_unpin;

	if (pl_buf_setup_pinned(&buf, mem, fd, MOCKDMA_METHOD_PIN_FAST,
				LT_W, &h)) {
		ksft_test_result_fail("%s stale while pinned: setup\n", pl_mem_name(mem));
		return;
	}
	np = buf.len / pl_page_size;
	fsync(buf.fd);
	pl_dma_write(fd, h, 0, buf.len, 0, &seq);
	fsync(buf.fd);
	while_pinned = pl_disk_stamped(&buf, h, seq);
	pl_unpin(fd, h, MOCKDMA_UNPIN_DIRTY);
	fsync(buf.fd);
	after_unpin = pl_disk_stamped(&buf, h, seq);
	ksft_print_msg("[INFO] %s: %zu/%zu pages stale on disk after fsync while pinned, %zu after dirtying unpin + fsync\n",
		       pl_mem_name(mem), np - while_pinned, np, np - after_unpin);
	printf("# MATRIX table=durability mem=%s scenario=fsync-while-pinned | stale_pinned=%zu/%zu stale_after_unpin=%zu\n",
	       pl_mem_name(mem), np - while_pinned, np, np - after_unpin);
	pl_buf_teardown(&buf);
	if (pl_kernel_patched())
		ksft_test_result(while_pinned == np && after_unpin == np,
				 "%s: fsync while pinned writes all %zu device pages (re-dirtied at writeback end)\n",
				 pl_mem_name(mem), np);
	else
		ksft_test_result(while_pinned == 0 && after_unpin == np,
				 "%s: fsync while pinned leaves all %zu pages stale; dirtying unpin writes them\n",
				 pl_mem_name(mem), np);
}

static void lost_without_dirty(int fd, enum pl_mem mem)
{
	struct pl_buf buf;
	__u32 h, seq;
	size_t np, in_cache, on_disk;

	if (pl_buf_setup_pinned(&buf, mem, fd, MOCKDMA_METHOD_PIN_FAST,
				LT_W, &h)) {
		ksft_test_result_fail("%s lost: setup\n", pl_mem_name(mem));
		return;
	}
	np = buf.len / pl_page_size;
	fsync(buf.fd);
	pl_dma_write(fd, h, 0, buf.len, 0, &seq);
	pl_unpin(fd, h, 0);
	fsync(buf.fd);
	on_disk = pl_disk_stamped(&buf, h, seq);
	in_cache = cached_stamped_after_drop(&buf, h, seq);
	ksft_print_msg("[INFO] %s: clean unpin: %zu/%zu device pages lost (disk has %zu, cache after drop %zu)\n",
		       pl_mem_name(mem), np - on_disk, np, on_disk, in_cache);
	printf("# MATRIX table=durability mem=%s scenario=unpin-without-dirty | stale_pinned=- stale_after_unpin=%zu/%zu\n",
	       pl_mem_name(mem), np - on_disk, np);
	if (pl_kernel_patched())
		ksft_test_result(on_disk == np && in_cache == np,
				 "%s: unpin without dirtying loses nothing: the pinned pages stayed dirty\n",
				 pl_mem_name(mem));
	else
		ksft_test_result(on_disk == 0 && in_cache == 0 &&
				 pl_disk_is_original(&buf),
				 "%s: unpin without dirtying loses all %zu device-written pages\n",
				 pl_mem_name(mem), np);
	pl_buf_teardown(&buf);
}

int main(void)
{
	int fd = pl_open_or_skip();

	ksft_set_plan(4);
	stale_while_pinned(fd, PL_MEM_EXT4_SHARED);
	stale_while_pinned(fd, PL_MEM_XFS_SHARED);
	lost_without_dirty(fd, PL_MEM_EXT4_SHARED);
	lost_without_dirty(fd, PL_MEM_XFS_SHARED);
	close(fd);
	ksft_finished();
}

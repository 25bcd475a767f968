// SPDX-License-Identifier: GPL-2.0
/*
 * unpin_irqs_off: debugfs unpin_irqs_off, the knob the series v2 needs, is
 * harmless on stock and base.  With it on, UNPIN and the release at close
 * dirty the pages first (set_page_dirty_lock(), with IRQs on: it takes the
 * folio lock) and only then drop the pins with local_irq_save() around
 * unpin_user_pages(), so the kernel's last unpin of each folio runs with
 * IRQs off, as the undo of gup_fast does.
 *
 * Per case, with the knob on: a file range is cleaned by fsync after the
 * pin (the write pin dirtied it through page_mkwrite), the device writes
 * every page of the range (the mapping holds its stamps first), then
 *   unpin-file   ext4 MAP_SHARED file, UNPIN with MOCKDMA_UNPIN_DIRTY,
 *                fsync: the block device holds the device's write on every
 *                page (the dirtying step was done; mutation
 *                irqs-off-no-dirty skips it and the disk keeps the
 *                original bytes)
 *   close-file   xfs MAP_SHARED file, close of the fd (the release dirties
 *                what the device wrote), fsync: the same on disk
 *   unpin-anon   anonymous memory, UNPIN with MOCKDMA_UNPIN_DIRTY: the
 *                memory still holds the device's write
 * and each time debugfs unpin_irqs_off_pages grew by the range's pages (the
 * pins went the IRQs-off way) and pages_pinned is back to its start.  The
 * harness checks the FOLL_PIN counters balance over the program.
 *
 * On the patched kernel this is the series' deferral (patches/DESIGN.md
 * section 3): a last unpin with IRQs disabled must not take lru_lock, so it
 * clears the mark, isolates the folio (folio_test_clear_lru(), no lock) and
 * chains it on a per-CPU lock-free list that a work item on that CPU moves
 * back to an LRU list.  All 16 order-0 pages are unpinned in one IRQs-off
 * section, before the work can run: all 16 are deferred (vmstat
 * dma_pin_unpark_deferred +16; v2's first version had a per-CPU batch of
 * 15 and stranded the 16th).  Asserted after the work has run (polled up
 * to 2 s): 16 pages on an LRU list, none unevictable, none marked.
 * DEBUG_VM's VM_WARN_ON_ONCE(irqs_disabled()) in the series' mover would
 * be a splat the harness fails on.
 */
#include <fcntl.h>

#include "lib/pinlab.h"

#define LT_W	(MOCKDMA_PIN_LONGTERM | MOCKDMA_PIN_WRITE)
#define KNOB	"/sys/kernel/debug/mockdma/unpin_irqs_off"

static void knob_off(void)
{
	if (pl_write_file(KNOB, "0"))
		ksft_print_msg("cannot reset %s\n", KNOB);
}

/* On an LRU list, unevictable, marked: the pages' kpageflags now. */
static int census(struct pl_buf *buf, size_t *on_list, size_t *unev,
		  size_t *marked)
{
	size_t n[64];
	int ret = pl_kpf_census(buf->addr, buf->len / pl_page_size, n);

	*on_list = n[PL_KPF_ON_LRU_LIST];
	*unev = n[PL_KPF_UNEVICTABLE];
	*marked = n[PL_KPF_DMA_PINNED];
	return ret;
}

/* Patched: see the header comment. */
static int deferred_as_designed(struct pl_buf *buf, long d0)
{
	size_t np = buf->len / pl_page_size, on_list = 0, unev = 0, marked = 0;
	long end = pl_now_ms() + 2000, deferred;

	while (!census(buf, &on_list, &unev, &marked) && on_list < np &&
	       pl_now_ms() < end)
		usleep(20000);
	deferred = pl_vmstat("dma_pin_unpark_deferred") - d0;
	ksft_print_msg("[INFO] deferral: %ld pages deferred; %zu on an LRU list, %zu unevictable, %zu marked\n",
		       deferred, on_list, unev, marked);
	return np == 16 && deferred == (long)np && on_list == np && !unev &&
	       !marked;
}

/* @how: 0 UNPIN dirty, 1 close of the fd */
static void one(enum pl_mem mem, int how, const char *name)
{
	long irqs0 = pl_mockdma_stat("unpin_irqs_off_pages");
	long d0 = pl_vmstat("dma_pin_unpark_deferred");
	long pinned0 = pl_mockdma_stat("pages_pinned");
	int fd = open("/dev/mockdma", O_RDWR), ok;
	size_t np, on_disk = 0;
	long irqs;
	struct pl_buf buf;
	__u32 h, seq = 0;

	/* 6.12 refuses the long-term file pin: a short-term one (pinlab.h) */
	if (fd < 0 || pl_buf_setup_device_pin(&buf, mem, fd,
					      MOCKDMA_METHOD_PIN_FAST, &h)) {
		ksft_test_result_fail("%s: set-up\n", name);
		if (fd >= 0)
			close(fd);
		return;
	}
	np = buf.len / pl_page_size;
	/* Clean: only the release's dirtying step can bring the data home. */
	ok = !pl_mem_is_file(mem) || !pl_fsync(buf.fd);
	ok = ok && !pl_dma_write(fd, h, 0, buf.len, 0, &seq) &&
	     pl_device_wrote(&buf, h, seq);
	if (how == 0)
		ok &= !pl_unpin(fd, h, MOCKDMA_UNPIN_DIRTY);
	close(fd);
	irqs = pl_mockdma_stat("unpin_irqs_off_pages") - irqs0;
	if (pl_kernel_patched())
		ok &= deferred_as_designed(&buf, d0);
	if (pl_mem_is_file(mem)) {
		ok &= !pl_fsync(buf.fd);
		on_disk = pl_disk_stamped(&buf, h, seq);
	} else {
		on_disk = pl_count_stamped(buf.addr, buf.len, h, 0, seq);
	}
	ksft_print_msg("%s: %zu of %zu pages hold the device's write %s, %ld pages unpinned with IRQs off, pages_pinned %ld (before %ld)\n",
		       name, on_disk, np,
		       pl_mem_is_file(mem) ? "on disk" : "in memory", irqs,
		       pl_mockdma_stat("pages_pinned"), pinned0);
	ok &= on_disk == np && irqs == (long)np &&
	      pl_mockdma_stat("pages_pinned") == pinned0;
	pl_buf_teardown(&buf);
	ksft_test_result(ok, "%s: with unpin_irqs_off the pins go, the data stays\n",
			 name);
}

int main(void)
{
	int fd = pl_open_or_skip();

	close(fd);
	ksft_set_plan(3);
	atexit(knob_off);
	if (pl_write_file(KNOB, "1"))
		ksft_exit_fail_msg("%s: %s\n", KNOB, strerror(errno));
	one(PL_MEM_EXT4_SHARED, 0, "unpin-file");
	one(PL_MEM_XFS_SHARED, 1, "close-file");
	one(PL_MEM_ANON, 0, "unpin-anon");
	ksft_finished();
}

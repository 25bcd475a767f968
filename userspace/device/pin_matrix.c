// SPDX-License-Identifier: GPL-2.0
/*
 * pin_matrix: every pin method x FOLL_LONGTERM on/off x memory type, pinned
 * for write through /dev/mockdma, with the outcome Debian 6.1 gives asserted
 * exactly.  For each pinned case the device writes stamps into the whole
 * range, the test checks them through the mapping, records whether the
 * pinned pages sit on an LRU list, unpins with dirtying and, for shared file
 * mappings, checks with O_DIRECT that the device's bytes reached the disk
 * (MAP_PRIVATE: that the file is untouched).
 *
 * Expectations (6.1, mm/gup.c):
 * - MOCKDMA_METHOD_GUP + LONGTERM and PIN_UNLOCKED + LONGTERM: refused by the
 *   driver with EINVAL, because get_user_pages() (is_valid_gup_flags()) and
 *   get_user_pages_unlocked() WARN and fail on FOLL_LONGTERM.
 * - everything else pins.  In particular FOLL_LONGTERM|FOLL_WRITE on an
 *   ext4/xfs MAP_SHARED mapping succeeds: 6.1 has no
 *   writable_file_mapping_allowed() (added in 6.5); check_vma_flags() only
 *   refuses fsdax.  This is the problem pinlab reproduces.
 *
 * Expectations (6.12, stock612): as 6.1, except FOLL_LONGTERM|FOLL_WRITE
 * (pin_fast, pin) of ext4/xfs MAP_SHARED: EFAULT.  check_vma_flags() calls
 * writable_file_mapping_allowed(), false for FOLL_PIN|FOLL_LONGTERM on a
 * vma_needs_dirty_tracking() (mm/vma.c) mapping (a shared writable one whose
 * filesystem has ->page_mkwrite and accounts dirty pages: ext4 and xfs,
 * not shmem/memfd/hugetlbfs); pin_user_pages_fast() first leaves the fast
 * path for file folios (gup_fast_folio_allowed()) and the slow path
 * refuses.  MAP_PRIVATE: the COW copy is anonymous, no dirty tracking: pins.
 * Short-term FOLL_PIN and legacy GUP of the same mapping still pin.
 * - MAP_PRIVATE + FOLL_WRITE: GUP breaks COW (FOLL_WRITE fault on a private
 *   mapping), so the pinned pages are anonymous copies and the file is never
 *   written.
 *
 * Prints one "# MATRIX" line per case for the results matrix.
 */
#include "lib/pinlab.h"

static const char *const method_names[] = {
	[MOCKDMA_METHOD_PIN_FAST] = "pin_fast",
	[MOCKDMA_METHOD_PIN] = "pin",
	[MOCKDMA_METHOD_PIN_UNLOCKED] = "pin_unlocked",
	[MOCKDMA_METHOD_GUP] = "gup",
};

static int expected_errno(enum pl_mem mem, int method, int longterm)
{
	if (longterm && (method == MOCKDMA_METHOD_GUP ||
			 method == MOCKDMA_METHOD_PIN_UNLOCKED))
		return EINVAL;
	/* 6.5+: EFAULT for ext4/xfs MAP_SHARED (pinlab.h, the rule). */
	return pl_pin_refusal(mem, method, MOCKDMA_PIN_WRITE |
				(longterm ? MOCKDMA_PIN_LONGTERM : 0));
}

static void run_case(int fd, enum pl_mem mem, int method, int longterm)
{
	char name[128];
	struct pl_buf buf;
	unsigned int flags = MOCKDMA_PIN_WRITE |
			     (longterm ? MOCKDMA_PIN_LONGTERM : 0);
	int want = expected_errno(mem, method, longterm);
	const char *lru = "-", *disk = "-";
	__u32 handle = 0, seq = 0;
	char result[32];
	int ret, ok = 1;

	snprintf(name, sizeof(name), "%s %s longterm=%d", pl_mem_name(mem),
		 method_names[method], longterm);
	ksft_print_msg("[RUN] %s\n", name);
	ret = pl_buf_setup(&buf, mem);
	if (ret == -EOPNOTSUPP) {
		ksft_test_result_skip("%s: no free hugetlb pages\n", name);
		return;
	}
	if (ret) {
		ksft_test_result_fail("%s: backing setup: %s\n", name,
				      strerror(-ret));
		return;
	}

	ret = pl_pin(fd, buf.addr, buf.len, method, flags, &handle);
	snprintf(result, sizeof(result), "%s",
		 ret ? pl_errno_name(-ret) : "pinned");
	if (-ret != want) {
		ksft_print_msg("pin returned %s, expected %s\n", result,
			       want ? pl_errno_name(want) : "pinned");
		ok = 0;
	}
	if (!ret) {
		size_t npages = buf.len / pl_page_size;
		struct mockdma_page_state *st = calloc(npages, sizeof(*st));
		size_t on_lru = 0, anon = 0, i;

		if (!st || pl_dma_write(fd, handle, 0, buf.len, 0, &seq) ||
		    pl_count_stamped(buf.addr, buf.len, handle, 0, seq) != npages) {
			ksft_print_msg("device write not visible in mapping\n");
			ok = 0;
		}
		if (st && !pl_query(fd, handle, 0, npages, st)) {
			for (i = 0; i < npages; i++) {
				/* on a list reclaim scans: not unevictable */
				on_lru += (st[i].flags &
					   (MOCKDMA_PAGE_LRU |
					    MOCKDMA_PAGE_UNEVICTABLE)) ==
					  MOCKDMA_PAGE_LRU;
				anon += !!(st[i].flags & MOCKDMA_PAGE_ANON);
				/* FOLL_PIN is visible, FOLL_GET is not. */
				if (!!(st[i].flags & MOCKDMA_PAGE_DMA_PINNED) !=
				    (method != MOCKDMA_METHOD_GUP)) {
					ksft_print_msg("page %zu dma-pinned flag wrong\n", i);
					ok = 0;
				}
			}
			lru = on_lru == npages ? "yes" : on_lru ? "mixed" : "no";
			/* COW on FOLL_WRITE: private file pins are anon copies */
			if (pl_mem_is_private_file(mem) && anon != npages) {
				ksft_print_msg("MAP_PRIVATE pin: %zu/%zu pages anon\n",
					       anon, npages);
				ok = 0;
			}
		} else {
			ok = 0;
		}
		free(st);
		if (pl_unpin(fd, handle, MOCKDMA_UNPIN_DIRTY))
			ok = 0;
		if (pl_mem_is_file(mem)) {
			size_t on_disk;

			if (pl_fsync(buf.fd))
				ok = 0;
			on_disk = pl_disk_stamped(&buf, handle, seq);
			if (pl_mem_is_private_file(mem)) {
				disk = on_disk == 0 && pl_disk_is_original(&buf) ?
				       "untouched" : "CHANGED";
				ok &= !strcmp(disk, "untouched");
			} else {
				disk = on_disk == npages ? "ok" : "stale";
				if (on_disk != npages)
					ksft_print_msg("%zu/%zu pages on disk\n",
						       on_disk, npages);
				ok &= on_disk == npages;
			}
		} else {
			disk = "n/a";
		}
	}
	printf("# MATRIX table=pin mem=%s method=%s longterm=%d | result=%s lru=%s disk=%s\n",
	       pl_mem_name(mem), method_names[method], longterm, result, lru,
	       disk);
	pl_buf_teardown(&buf);
	ksft_test_result(ok, "%s -> %s\n", name, result);
}

int main(void)
{
	int fd = pl_open_or_skip();
	int mem, method, longterm;

	ksft_set_plan(PL_MEM_COUNT * MOCKDMA_METHOD_COUNT * 2);
	for (mem = 0; mem < PL_MEM_COUNT; mem++)
		for (method = 0; method < MOCKDMA_METHOD_COUNT; method++)
			for (longterm = 0; longterm < 2; longterm++)
				run_case(fd, mem, method, longterm);
	close(fd);
	ksft_finished();
}

// SPDX-License-Identifier: GPL-2.0
/*
 * buffers_stripped: the ext4 "page does not have buffers attached" data
 * loss, and which pins and file systems reproduce it on 6.1.
 *
 * A pinned, clean, mapped page of an ext4/xfs MAP_SHARED file is handed to
 * reclaim with MADV_PAGEOUT (madvise_pageout() -> reclaim_pages() ->
 * shrink_folio_list()).  Reclaim unmaps it (try_to_unmap()), then:
 *
 * - FOLL_PIN pins: folio_maybe_dma_pinned() sends it back to the active
 *   list before filemap_release_folio() (Jan Kara's check in
 *   shrink_folio_list()): the buffers stay, the device's write reaches the
 *   disk after a dirtying unpin.
 * - legacy get_user_pages(): the folio only has an extra reference, which
 *   reclaim cannot tell from a transient one.  filemap_release_folio()
 *   frees the clean buffer heads (ext4_release_folio() -> jbd2), then
 *   __remove_mapping() fails on the extra reference: the page stays in the
 *   page cache without buffers.  The driver's set_page_dirty_lock() at
 *   release hits WARN_ON_ONCE(!folio_buffers()) in ext4_dirty_folio(), and
 *   writeback (mpage_prepare_extent_to_map()) finds a dirty page without
 *   buffers, warns "page N does not have buffers attached", clears its
 *   dirty bit and skips it: the device's bytes are lost.
 * - xfs keeps no per-block state for a single-block folio (iomap creates
 *   it on demand in iomap_writepage_map()), so the same sequence writes the
 *   data: no loss with either pin.
 *
 * A clean unpin loses the device's bytes in every combination (nothing
 * dirties the page: see dma_durability), and warns nowhere.
 *
 * On 6.12 (stock612) the long-term write pin of these ext4/xfs MAP_SHARED
 * mappings is refused with EFAULT (pinlab.h, writable_file_mapping_allowed()):
 * the long-term cases assert the refusal; legacy GUP is still granted and
 * gives the 6.1 outcomes (writeback and page reclaim ignore pins in 6.12
 * as in 6.1).
 *
 * With the series a long-term pinned folio is on the unevictable LRU, and
 * MADV_PAGEOUT puts unevictable folios straight back: buffers kept, as for
 * any FOLL_PIN pin, so the outcomes are stock's.  Legacy GUP is unchanged.
 *
 * The WARN_ON_ONCE fires once per boot, so it is allowed
 * (ci/expected-splats) but not counted; the ext4_warning() line is counted
 * with ext4's warning rate limit turned off.
 */
#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>

#include "lib/pinlab.h"

/* ext4_warning() is rate limited per file system (10 per 5 s by default). */
static void ext4_warnings_unlimited(void)
{
	DIR *d = opendir("/sys/fs/ext4");
	struct dirent *e;
	char path[512];

	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.' || !strcmp(e->d_name, "features"))
			continue;
		snprintf(path, sizeof(path),
			 "/sys/fs/ext4/%s/warning_ratelimit_interval_ms",
			 e->d_name);
		pl_write_file(path, "0");
	}
	if (d)
		closedir(d);
}

static void run_case(int fd, enum pl_mem mem, unsigned int p, int dirty)
{
	int ext4 = mem == PL_MEM_EXT4_SHARED, gup = p == PL_PIN_GUP;
	size_t np, priv_before, priv_after, warned;
	struct pl_census disk;
	char outcome[96];
	struct pl_buf buf;
	int kmsg, ok = 1;
	__u32 h, seq;
	/* See the header comment for why exactly these. */
	int want_stripped = ext4 && gup;
	int want_lost = !dirty || want_stripped;
	int want_warned = ext4 && gup && dirty;

	if (pl_refused_case(fd, mem, pl_pin_kinds[p].method,
			    pl_pin_kinds[p].flags, "%s %s unpin-%s",
			    pl_mem_name(mem), pl_pin_kinds[p].name,
			    dirty ? "dirty" : "clean")) {
		printf("# MATRIX table=buffers_stripped fs=%s pin=%s unpin=%s | buffers_after_pageout=- outcome=REFUSED (EFAULT)\n",
		       pl_mem_name(mem), pl_pin_kinds[p].name,
		       dirty ? "dirty" : "clean");
		return;
	}
	if (pl_buf_setup_pinned(&buf, mem, fd, pl_pin_kinds[p].method,
				pl_pin_kinds[p].flags, &h)) {
		ksft_test_result_fail("%s %s: setup\n", pl_mem_name(mem),
				      pl_pin_kinds[p].name);
		return;
	}
	np = buf.len / pl_page_size;
	kmsg = pl_kmsg_open();

	ok &= pl_pageout_write_unpin(fd, &buf, h, dirty, &seq, &priv_before,
				     &priv_after);
	ok &= !pl_disk_census(&buf, h, seq, &disk);
	warned = pl_kmsg_count(kmsg, "does not have buffers attached");
	close(kmsg);
	pl_buf_teardown(&buf);

	ksft_print_msg("[INFO] %s %s unpin-%s: PG_private %zu -> %zu after MADV_PAGEOUT, %zu/%zu pages on disk, %zu 'no buffers' warnings\n",
		       pl_mem_name(mem), pl_pin_kinds[p].name, dirty ? "dirty" : "clean",
		       priv_before, priv_after, disk.fresh, np, warned);
	if (disk.fresh == np)
		snprintf(outcome, sizeof(outcome), "OK");
	else
		snprintf(outcome, sizeof(outcome), "DATA LOSS (%zu)%s",
			 np - disk.fresh,
			 warned ? ", WARN: page N does not have buffers attached" : "");
	printf("# MATRIX table=buffers_stripped fs=%s pin=%s unpin=%s | buffers_after_pageout=%zu/%zu outcome=%s\n",
	       pl_mem_name(mem), pl_pin_kinds[p].name, dirty ? "dirty" : "clean",
	       priv_after, np, outcome);
	ksft_test_result(ok && (ext4 ? priv_before == np : 1) &&
			 (want_stripped ? priv_after == 0 :
					  priv_after == priv_before) &&
			 disk.fresh == (want_lost ? 0 : np) &&
			 (want_warned ? warned >= 1 : warned == 0),
			 "%s %s unpin-%s: buffers %s, %s\n", pl_mem_name(mem),
			 pl_pin_kinds[p].name, dirty ? "dirty" : "clean",
			 want_stripped ? "stripped" : "kept",
			 want_lost ? "device data lost" : "device data on disk");
}

int main(void)
{
	static const enum pl_mem mems[] = {
		PL_MEM_EXT4_SHARED, PL_MEM_XFS_SHARED,
	};
	int fd = pl_open_or_skip();
	unsigned int m, p;
	int dirty;

	ksft_set_plan(ARRAY_SIZE(mems) * PL_PIN_KINDS * 2);
	ext4_warnings_unlimited();
	for (m = 0; m < ARRAY_SIZE(mems); m++)
		for (p = 0; p < PL_PIN_KINDS; p++)
			for (dirty = 1; dirty >= 0; dirty--)
				run_case(fd, mems[m], p, dirty);
	close(fd);
	ksft_finished();
}

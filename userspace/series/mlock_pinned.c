// SPDX-License-Identifier: GPL-2.0
/*
 * mlock_pinned: mlock and munlock of long-term pinned ext4/xfs pages end
 * where they end without a pin, on either kernel.
 *
 * 16 pages of a MAP_SHARED file are pinned (FOLL_LONGTERM, write), then
 * mlock()ed, unpinned, and munlock()ed; after each step every CPU's LRU
 * batches are flushed and /proc/kpageflags read through pagemap:
 *
 * - pinned + mlocked: every folio PG_mlocked (KPF_MLOCKED 33) and on the
 *   unevictable LRU (KPF_LRU + KPF_UNEVICTABLE) on every kernel.  With the
 *   series the pin put it there first and mlock only counts itself
 *   (mlock_count); KPF_DMA_PINNED (27) is set too.
 * - unpinned, still mlocked: every kernel: on the unevictable LRU, the
 *   series' unpin leaves it there because folio_evictable() still says no.
 * - munlocked: both kernels: evictable again (KPF_UNEVICTABLE and
 *   KPF_MLOCKED clear), on an LRU.
 */
#include <fcntl.h>
#include <sys/mman.h>

#include "lib/pinlab.h"

struct census {
	size_t lru, unevictable, mlocked, parked;
};

static int census(const char *addr, size_t np, struct census *c)
{
	size_t n[64];

	memset(c, 0, sizeof(*c));
	if (pl_lru_drain_all() || pl_kpf_census(addr, np, n))
		return -EIO;
	c->lru = n[PL_KPF_LRU];
	c->unevictable = n[PL_KPF_UNEVICTABLE];
	c->mlocked = n[PL_KPF_MLOCKED];
	c->parked = n[PL_KPF_PARKED];
	return 0;
}

static void info(const char *mem, const char *step, const struct census *c)
{
	ksft_print_msg("[INFO] %s %s: lru %zu unevictable %zu mlocked %zu parked %zu\n",
		       mem, step, c->lru, c->unevictable, c->mlocked,
		       c->parked);
}

static void run(int fd, enum pl_mem mem, int patched)
{
	const char *name = pl_mem_name(mem);
	struct census pinned, unpinned, munlocked;
	struct pl_buf buf;
	size_t np;
	int ok = 1;
	__u32 h;

	if (pl_refused_case(fd, mem, MOCKDMA_METHOD_PIN_FAST,
			    MOCKDMA_PIN_LONGTERM | MOCKDMA_PIN_WRITE, "%s", name))
		return;
	if (pl_buf_setup_pinned(&buf, mem, fd, MOCKDMA_METHOD_PIN_FAST,
				MOCKDMA_PIN_LONGTERM | MOCKDMA_PIN_WRITE, &h)) {
		ksft_test_result_fail("%s: setup\n", name);
		return;
	}
	np = buf.len / pl_page_size;
	ok &= !mlock(buf.addr, buf.len);
	ok &= !census(buf.addr, np, &pinned);
	ok &= !pl_unpin(fd, h, MOCKDMA_UNPIN_DIRTY);
	ok &= !census(buf.addr, np, &unpinned);
	ok &= !munlock(buf.addr, buf.len);
	ok &= !census(buf.addr, np, &munlocked);
	info(name, "pinned+mlocked", &pinned);
	info(name, "unpinned, mlocked", &unpinned);
	info(name, "munlocked", &munlocked);
	printf("# MATRIX table=mlock mem=%s | pinned_mlocked=lru:%zu,unevictable:%zu,parked:%zu unpinned=lru:%zu,unevictable:%zu munlocked=lru:%zu,unevictable:%zu\n",
	       name, pinned.lru, pinned.unevictable, pinned.parked,
	       unpinned.lru, unpinned.unevictable, munlocked.lru,
	       munlocked.unevictable);
	pl_buf_teardown(&buf);

	ok &= pinned.mlocked == np;
	ok &= pinned.lru == np && pinned.unevictable == np &&
	      pinned.parked == (patched ? np : 0);
	ok &= unpinned.lru == np && unpinned.unevictable == np &&
	      unpinned.mlocked == np && unpinned.parked == 0;
	ok &= munlocked.lru == np && munlocked.unevictable == 0 &&
	      munlocked.mlocked == 0;
	ksft_test_result(ok, "%s: mlock while pinned, unpin, munlock: %s, then unevictable, then evictable\n",
			 name, patched ? "unevictable and marked" : "unevictable");
}

int main(void)
{
	int fd = pl_open_or_skip();
	int patched = pl_kernel_patched();

	ksft_set_plan(2);
	run(fd, PL_MEM_EXT4_SHARED, patched);
	run(fd, PL_MEM_XFS_SHARED, patched);
	close(fd);
	ksft_finished();
}

// SPDX-License-Identifier: GPL-2.0
/*
 * offlru: are long-term pinned pages on an LRU list reclaim scans while
 * pinned, and back on one after the unpin?  The question the series
 * (patches/) answers differently from stock 6.1.
 *
 * For ext4 and xfs MAP_SHARED, memfd and anonymous memory, 16 pages are
 * pinned for write three ways: pin_user_pages_fast(FOLL_LONGTERM), the same
 * without FOLL_LONGTERM, and legacy get_user_pages().  After flushing every
 * CPU's LRU batches, each page's folio is checked with QUERY (PG_lru,
 * PG_unevictable) and /proc/kpageflags (KPF_LRU 5, KPF_UNEVICTABLE 18, the
 * series' KPF_DMA_PINNED 27), and the series' count of long-term pinned
 * pages (vmstat dma_pin_park - dma_pin_unpark); then again after a
 * dirtying unpin.  "On an LRU list" is PG_lru without PG_unevictable: the
 * 6.1 unevictable LRU is a count, not a list.
 *
 * Stock 6.1: nothing moves a pinned folio; every page is on an LRU list
 * while pinned and after, and bit 27 is never set.
 *
 * With the series (booted dma_pin_lru=on, vm.dma_pin_lru=1): a
 * FOLL_LONGTERM pin marks the folio in page_ext and moves it to the
 * unevictable LRU (at pin time in __gup_longterm_locked() and the fast
 * path; folio_evictable() keeps it there), for anonymous memory too;
 * short-term pins and legacy GUP are untouched.  The count rises by the
 * pinned pages and returns to its start value when the last unpin moves
 * them back.  With vm.dma_pin_lru=0 new long-term pins stay on their LRU
 * list, as on stock.
 */
#include <fcntl.h>
#include <sys/mman.h>

#include "lib/pinlab.h"

#define SWITCH			"/proc/sys/vm/dma_pin_lru"

static const struct {
	const char *name;
	__u32 method, flags;
	int longterm;
} pins[] = {
	{ "pin_longterm", MOCKDMA_METHOD_PIN_FAST,
	  MOCKDMA_PIN_LONGTERM | MOCKDMA_PIN_WRITE, 1 },
	{ "pin_short", MOCKDMA_METHOD_PIN_FAST, MOCKDMA_PIN_WRITE, 0 },
	{ "gup", MOCKDMA_METHOD_GUP, MOCKDMA_PIN_WRITE, 0 },
};

struct census {
	size_t lru, kpf_lru, pinned, parked;
};

/*
 * The pages mapped at @addr (the pinned ones while pinned): /proc/kpageflags,
 * and with @h also PG_lru as QUERY sees it.
 */
static int census(int fd, __u32 h, const char *addr, size_t np,
		  struct census *c)
{
	struct mockdma_page_state st[64];
	size_t i, n[64];
	int ret;

	memset(c, 0, sizeof(*c));
	ret = h ? pl_query(fd, h, 0, np, st) : 0;
	for (i = 0; !ret && h && i < np; i++)
		c->lru += (st[i].flags & (MOCKDMA_PAGE_LRU |
					  MOCKDMA_PAGE_UNEVICTABLE)) ==
			  MOCKDMA_PAGE_LRU;
	ret = ret ? ret : pl_kpf_census(addr, np, n);
	if (!ret) {
		c->kpf_lru = n[PL_KPF_ON_LRU_LIST];
		c->pinned = n[PL_KPF_DMA_PINNED];
		c->parked = n[PL_KPF_PARKED];
	}
	return ret;
}

static long offlru(void)
{
	long v = pl_series_pinned_pages();

	return v < 0 ? 0 : v;
}

static void run_case(int fd, enum pl_mem mem, unsigned int p, int parks,
		     const char *label)
{
	struct census during, after;
	long off0, off_during, off_after;
	struct pl_buf buf;
	size_t np, want_on;
	int ok = 1;
	__u32 h;

	if (pl_refused_case(fd, mem, pins[p].method, pins[p].flags, "%s %s",
			    pl_mem_name(mem), pins[p].name))
		return;
	off0 = offlru();
	if (pl_buf_setup_pinned(&buf, mem, fd, pins[p].method,
				pins[p].flags, &h)) {
		ksft_test_result_fail("%s %s: setup\n", pl_mem_name(mem),
				      pins[p].name);
		return;
	}
	np = buf.len / pl_page_size;
	ok &= !pl_lru_drain_all();
	ok &= !census(fd, h, buf.addr, np, &during);
	off_during = offlru();
	ok &= !pl_unpin(fd, h, MOCKDMA_UNPIN_DIRTY);
	ok &= !pl_lru_drain_all();
	ok &= !census(fd, 0, buf.addr, np, &after);
	off_after = offlru();
	pl_buf_teardown(&buf);

	want_on = parks ? 0 : np;
	ksft_print_msg("[INFO] %s %s: while pinned PG_lru %zu KPF_LRU %zu DMA_PINNED %zu PARKED %zu offlru %+ld; after unpin KPF_LRU %zu flags %zu/%zu offlru %+ld\n",
		       pl_mem_name(mem), pins[p].name, during.lru,
		       during.kpf_lru, during.pinned, during.parked,
		       off_during - off0, after.kpf_lru, after.pinned,
		       after.parked, off_after - off0);
	printf("# MATRIX table=offlru mem=%s pin=%s%s | on_lru_pinned=%zu/%zu parked=%zu on_lru_after_unpin=%zu/%zu\n",
	       pl_mem_name(mem), pins[p].name, label, during.kpf_lru, np,
	       during.parked, after.kpf_lru, np);
	ksft_test_result(ok && during.lru == want_on &&
			 during.kpf_lru == want_on &&
			 during.pinned == np - want_on &&
			 during.parked == np - want_on &&
			 off_during - off0 == (long)(np - want_on) &&
			 after.kpf_lru == np && !after.pinned &&
			 !after.parked && off_after == off0,
			 "%s %s: %s while pinned, on the LRU after unpin\n",
			 pl_mem_name(mem), pins[p].name,
			 parks ? "on the unevictable LRU" : "on an LRU list");
}

/*
 * The multi-gen LRU switched while a folio is parked: lru_gen_change_state()
 * moves every folio on an LRU list to the other implementation's lists; a
 * folio on the unevictable LRU is on no list, so it misses the move and
 * must be put back on the lists of the implementation in force at unpin
 * time (lruvec_add_folio() decides).  Stock keeps the pinned folios on an
 * LRU list through the switch.
 */
static void lru_gen_flip_case(int fd, int patched, int on_at_pin)
{
	const char *name = on_at_pin ? "mglru -> classic" : "classic -> mglru";
	struct census during, flipped, after;
	long off0 = offlru(), off_after;
	size_t np, want_on;
	struct pl_buf buf;
	int ok;
	__u32 h;

	if (pl_refused_case(fd, PL_MEM_EXT4_SHARED, MOCKDMA_METHOD_PIN_FAST,
			    MOCKDMA_PIN_LONGTERM | MOCKDMA_PIN_WRITE,
			    "lru_gen %s", name))
		return;
	if (pl_lru_gen_switch(on_at_pin) ||
	    pl_buf_setup_pinned(&buf, PL_MEM_EXT4_SHARED, fd,
				MOCKDMA_METHOD_PIN_FAST,
				MOCKDMA_PIN_LONGTERM | MOCKDMA_PIN_WRITE, &h)) {
		ksft_test_result_fail("lru_gen %s: setup\n", name);
		pl_lru_gen_switch(0);
		return;
	}
	np = buf.len / pl_page_size;
	ok = !pl_lru_drain_all() && !census(fd, h, buf.addr, np, &during);
	ok &= !pl_lru_gen_switch(!on_at_pin);
	ok &= !pl_lru_drain_all() && !census(fd, h, buf.addr, np, &flipped);
	ok &= !pl_unpin(fd, h, MOCKDMA_UNPIN_DIRTY);
	ok &= !pl_lru_drain_all() && !census(fd, 0, buf.addr, np, &after);
	off_after = offlru();
	ok &= !pl_lru_gen_switch(0);
	pl_buf_teardown(&buf);

	want_on = patched ? 0 : np;
	ksft_print_msg("[INFO] lru_gen %s: KPF_LRU %zu, parked %zu while pinned; after the switch %zu, %zu; after unpin %zu, %zu, offlru %+ld\n",
		       name, during.kpf_lru, during.parked, flipped.kpf_lru,
		       flipped.parked, after.kpf_lru, after.parked,
		       off_after - off0);
	printf("# MATRIX table=offlru mem=%s pin=pin_longterm (lru_gen %s) | on_lru_pinned=%zu/%zu parked=%zu on_lru_after_unpin=%zu/%zu\n",
	       pl_mem_name(PL_MEM_EXT4_SHARED), name, flipped.kpf_lru, np,
	       flipped.parked, after.kpf_lru, np);
	ksft_test_result(ok && during.kpf_lru == want_on &&
			 flipped.kpf_lru == want_on &&
			 during.parked == np - want_on &&
			 flipped.parked == np - want_on &&
			 after.kpf_lru == np && !after.parked &&
			 !after.pinned && off_after == off0,
			 "lru_gen switched %s while pinned: %s, on the LRU after unpin\n",
			 name, patched ? "stays parked" : "stays on the LRU");
}

int main(void)
{
	static const enum pl_mem mems[] = {
		PL_MEM_EXT4_SHARED, PL_MEM_XFS_SHARED, PL_MEM_MEMFD,
		PL_MEM_ANON,
	};
	int fd = pl_open_or_skip();
	int patched = pl_kernel_patched();
	unsigned int m, p;

	ksft_set_plan(ARRAY_SIZE(mems) * ARRAY_SIZE(pins) + 1 + patched + 2);
	ksft_print_msg("[INFO] kernel: %s\n",
		       patched ? "pin-off-LRU series, vm.dma_pin_lru=1" :
		       access(SWITCH, F_OK) ? "stock" :
		       "pin-off-LRU series, vm.dma_pin_lru=0");
	for (m = 0; m < ARRAY_SIZE(mems); m++)
		for (p = 0; p < ARRAY_SIZE(pins); p++)
			run_case(fd, mems[m], p, patched && pins[p].longterm,
				 "");

	if (access(PL_LRU_GEN, F_OK)) {
		ksft_test_result_skip("lru_gen: no %s (CONFIG_LRU_GEN=n)\n", PL_LRU_GEN);
		ksft_test_result_skip("lru_gen: no %s (CONFIG_LRU_GEN=n)\n", PL_LRU_GEN);
	} else {
		lru_gen_flip_case(fd, patched, 0);
		lru_gen_flip_case(fd, patched, 1);
	}

	/* The runtime switch: off, a new long-term pin stays on the LRU. */
	if (patched) {
		int ok = !pl_series_switch(0);

		run_case(fd, PL_MEM_EXT4_SHARED, 0, 0, " (switch off)");
		ok &= !pl_series_switch(1);
		ksft_test_result(ok, "vm.dma_pin_lru=0 switches parking off in the same boot\n");
	} else {
		ksft_test_result(access(SWITCH, F_OK) && errno == ENOENT,
				 "stock kernel: no vm.dma_pin_lru switch\n");
	}
	close(fd);
	ksft_finished();
}

// SPDX-License-Identifier: GPL-2.0
/*
 * split_migrate: THP split and page migration around pins, on both kernels.
 *
 * THP split (anonymous 2 MiB THP; split requested through debugfs
 * split_huge_pages, which calls split_huge_page() on the folio):
 *   - never pinned: the split gives 512 order-0 pages, all on an LRU.
 *   - pinned (long-term FOLL_PIN, and legacy GUP): the split is refused on
 *     both kernels: can_split_folio() sees references beyond the mappings,
 *     so the folio is never frozen and lru_add_page_tail() never runs for
 *     a pinned folio (the series asserts as much there).  While pinned the
 *     huge folio is on the LRU on stock, on the unevictable LRU with the
 *     series (long-term pins only).  After the unpin the split succeeds: 512 pages on an LRU,
 *     none marked, and the device's bytes are still in the last page.
 *
 * Migration (MADV_SOFT_OFFLINE: soft_offline_page() migrates the page to a
 * new frame and retires the old one; the one way to migrate a chosen page
 * without NUMA), 16-page anonymous and ext4 MAP_SHARED buffers:
 *   - never pinned, and after a long-term pin has come and gone: migrated
 *     (new pfn, same bytes, device bytes included, the copy on an LRU and
 *     not marked); the old frame is PG_hwpoison.  The same on both kernels:
 *     the series leaves nothing behind on an unpinned page.
 *   - legacy GUP reference held: migration fails (the extra reference),
 *     EBUSY, "migration failed" in the log, on both kernels.
 *   - long-term pinned: isolated from its LRU, not migrated (the pin's
 *     references), put back: EBUSY, "migration failed", on every kernel.
 *     The series keeps the folio on the unevictable LRU, which is still an
 *     LRU to memory-failure (HWPoisonHandlable()) and to isolation, so its
 *     outcome is stock's (v1 parked it off every LRU and answered EIO,
 *     "unhandlable page": a regression v2 removed).  The page is not
 *     poisoned and the pin and the data are intact.
 */
#include <fcntl.h>
#include <sys/mman.h>

#include "lib/pinlab.h"

#define SPLIT_HUGE		"/sys/kernel/debug/split_huge_pages"
#define THP_PAGES		512
#ifndef MADV_SOFT_OFFLINE
#define MADV_SOFT_OFFLINE	101	/* uapi asm-generic/mman-common.h */
#endif

static int bit(__u64 f, int b)
{
	return f != ~0ULL && (f >> b) & 1;
}

/* The kpageflags word of the folio mapped at @addr (~0 if none). */
static __u64 flags_at(const char *addr)
{
	__u64 pfn = pl_pagemap_pfn(addr);

	return pfn ? pl_kpf_with_pseudo(pl_kpageflags(pfn)) : ~0ULL;
}

static int split_range(const char *addr, size_t len)
{
	char req[96];

	snprintf(req, sizeof(req), "%d,0x%lx,0x%lx", getpid(),
		 (unsigned long)addr, (unsigned long)addr + len);
	return pl_write_file(SPLIT_HUGE, req);
}

struct thp_state {
	int huge;		/* first and last page in one THP */
	size_t lru, marked;	/* pages on an LRU list; with KPF_DMA_PINNED */
};

static int thp_state(const char *addr, struct thp_state *s)
{
	__u64 first = flags_at(addr);
	__u64 last = flags_at(addr + (THP_PAGES - 1) * pl_page_size);
	size_t i;

	memset(s, 0, sizeof(*s));
	if (first == ~0ULL || last == ~0ULL)
		return -EIO;
	s->huge = bit(first, PL_KPF_THP) && bit(last, PL_KPF_THP) &&
		  pl_pagemap_pfn(addr + (THP_PAGES - 1) * pl_page_size) ==
		  pl_pagemap_pfn(addr) + THP_PAGES - 1;
	/* A huge folio is one LRU entry: count its head for all its pages. */
	for (i = 0; i < (s->huge ? 1 : THP_PAGES); i++) {
		__u64 f = i ? flags_at(addr + i * pl_page_size) : first;

		s->lru += bit(f, PL_KPF_ON_LRU_LIST);
		s->marked += bit(f, PL_KPF_DMA_PINNED);
	}
	if (s->huge) {
		s->lru *= THP_PAGES;
		s->marked *= THP_PAGES;
	}
	return 0;
}

static void thp_case(int fd, int kind, int patched)
{
	const struct pl_pin_kind *k = kind < 0 ? NULL : &pl_pin_kinds[kind];
	const char *name = k ? k->name : "never pinned";
	int parks = patched && kind == PL_PIN_LONGTERM;
	struct thp_state before, pinned, split_pinned, after;
	size_t last_off = (THP_PAGES - 1) * pl_page_size;
	__u32 h = 0, seq = 0;
	struct pl_buf buf;
	int ok = 1;

	if (pl_buf_setup(&buf, PL_MEM_THP) || thp_state(buf.addr, &before) ||
	    !before.huge) {
		ksft_test_result_fail("thp %s: no 2 MiB THP to start from\n",
				      name);
		pl_buf_teardown(&buf);
		return;
	}
	pinned = split_pinned = before;
	if (k) {
		ok &= !pl_pin(fd, buf.addr, buf.len, k->method, k->flags, &h);
		ok &= !pl_dma_write(fd, h, last_off, pl_page_size, 0, &seq);
		ok &= !pl_lru_drain_all() && !thp_state(buf.addr, &pinned);
		ok &= !split_range(buf.addr, buf.len);
		ok &= !thp_state(buf.addr, &split_pinned);
		ok &= !pl_unpin(fd, h, MOCKDMA_UNPIN_DIRTY);
	}
	/*
	 * A folio still in a per-CPU LRU batch has the batch's reference,
	 * which split_huge_page() refuses (can_split_folio()): drain first.
	 */
	ok &= !pl_lru_drain_all() && !split_range(buf.addr, buf.len);
	ok &= !pl_lru_drain_all() && !thp_state(buf.addr, &after);

	ksft_print_msg("[INFO] thp %s: pinned: huge %d lru %zu marked %zu; split while pinned: huge %d; after unpin + split: huge %d lru %zu marked %zu\n",
		       name, pinned.huge, pinned.lru, pinned.marked,
		       split_pinned.huge, after.huge, after.lru, after.marked);
	printf("# MATRIX table=split_migrate case=thp_split pin=%s mem=thp | while_pinned=%s split_while_pinned=%s after_unpin=%s\n",
	       k ? k->name : "none",
	       !k ? "-" : pinned.lru ? "on LRU" : "off LRU",
	       !k ? "-" : split_pinned.huge ? "refused" : "split",
	       after.huge ? "not split" :
	       after.lru == THP_PAGES ? "split, 512 on LRU" : "split, off LRU");
	if (k)
		ok &= pinned.huge && split_pinned.huge &&
		      pinned.lru == (parks ? 0 : THP_PAGES) &&
		      pinned.marked == (parks ? THP_PAGES : 0) &&
		      pl_count_stamped(buf.addr + last_off, pl_page_size, h,
				       THP_PAGES - 1, seq) == 1;
	ksft_test_result(ok && !after.huge && after.lru == THP_PAGES &&
			 !after.marked,
			 "thp %s: %s; split after unpin, 512 pages on an LRU\n",
			 name, !k ? "split" : parks ?
			 "parked, split refused while pinned" :
			 "on the LRU, split refused while pinned");
	pl_buf_teardown(&buf);
}

/*
 * Soft-offline the page at @addr: 0 or -errno from madvise(), and the pfn
 * mapped there before and after.
 */
static int soft_offline(char *addr, __u64 *before, __u64 *after)
{
	int ret;

	*before = pl_pagemap_pfn(addr);
	ret = madvise(addr, pl_page_size, MADV_SOFT_OFFLINE) ? -errno : 0;
	*after = pl_pagemap_pfn(addr);
	return ret;
}

enum mig_case { MIG_NEVER, MIG_AFTER_PIN, MIG_PINNED, MIG_GUP, MIG_CASES };
static const char *const mig_name[] = {
	"never pinned", "after a long-term pin", "long-term pinned",
	"legacy GUP reference",
};

static void migrate_case(int fd, enum pl_mem mem, enum mig_case c)
{
	const char *mname = pl_mem_name(mem);
	const size_t page = 3;	/* any page of the 16 */
	char *addr, before_bytes[64];
	int held = c == MIG_PINNED || c == MIG_GUP;
	const struct pl_pin_kind *k =
		&pl_pin_kinds[c == MIG_GUP ? PL_PIN_GUP : PL_PIN_LONGTERM];
	int want, ret, kmsg_failed, kmsg_unhandlable, ok = 1;
	size_t failed_lines, unhandlable_lines;
	__u64 pfn0, pfn1, fnew, fold;
	__u32 h = 0, seq = 0;
	struct pl_buf buf;

	/* 6.12: the long-term write pin of ext4 is refused (pinlab.h) */
	if (c != MIG_NEVER &&
	    pl_refused_case(fd, mem, k->method, k->flags, "migrate %s %s",
			    mname, mig_name[c]))
		return;
	if (pl_buf_setup(&buf, mem)) {
		ksft_test_result_fail("migrate %s %s: setup\n", mname,
				      mig_name[c]);
		pl_buf_teardown(&buf);
		return;
	}
	addr = buf.addr + page * pl_page_size;
	if (c != MIG_NEVER) {
		ok &= !pl_pin(fd, buf.addr, buf.len, k->method, k->flags, &h);
		ok &= !pl_dma_write(fd, h, page * pl_page_size, pl_page_size,
				    0, &seq);
	}
	if (c == MIG_AFTER_PIN)
		ok &= !pl_unpin(fd, h, MOCKDMA_UNPIN_DIRTY);
	ok &= !pl_lru_drain_all();
	memcpy(before_bytes, addr, sizeof(before_bytes));

	/* One reader per message: a read consumes the records. */
	kmsg_failed = pl_kmsg_open();
	kmsg_unhandlable = pl_kmsg_open();
	ret = soft_offline(addr, &pfn0, &pfn1);
	failed_lines = pl_kmsg_count(kmsg_failed, "migration failed");
	unhandlable_lines = pl_kmsg_count(kmsg_unhandlable, "unhandlable page");
	if (kmsg_failed >= 0)
		close(kmsg_failed);
	if (kmsg_unhandlable >= 0)
		close(kmsg_unhandlable);

	ok &= !pl_lru_drain_all();
	fnew = flags_at(addr);
	fold = pfn0 ? pl_kpageflags(pfn0) : ~0ULL;
	ok &= !memcmp(before_bytes, addr, sizeof(before_bytes));
	if (c != MIG_NEVER)
		ok &= pl_count_stamped(addr, pl_page_size, h, page, seq) == 1;
	if (held) {
		/* The pin and the device's access survive the attempt. */
		__u32 seq2;

		ok &= !pl_dma_write(fd, h, page * pl_page_size, pl_page_size,
				    0, &seq2);
		ok &= pl_count_stamped(addr, pl_page_size, h, page, seq2) == 1;
		ok &= !pl_unpin(fd, h, MOCKDMA_UNPIN_DIRTY);
		ok &= !pl_lru_drain_all();
		fnew = flags_at(addr);
	}

	want = !held ? 0 : -EBUSY;
	ksft_print_msg("[INFO] migrate %s %s: madvise %s, pfn %#llx -> %#llx, old frame hwpoison %d, now on LRU %d marked %d; log: %zu \"migration failed\", %zu \"unhandlable page\"\n",
		       mname, mig_name[c], ret ? pl_errno_name(-ret) : "0",
		       (unsigned long long)pfn0, (unsigned long long)pfn1,
		       bit(fold, PL_KPF_HWPOISON), bit(fnew, PL_KPF_ON_LRU_LIST),
		       bit(fnew, PL_KPF_DMA_PINNED), failed_lines,
		       unhandlable_lines);
	printf("# MATRIX table=split_migrate case=soft_offline pin=%s mem=%s | result=%s\n",
	       mig_name[c], mname,
	       !ret ? "migrated" : pl_errno_name(-ret));
	if (held)
		ok &= pfn1 == pfn0 && !bit(fold, PL_KPF_HWPOISON) &&
		      failed_lines == 1 && !unhandlable_lines;
	else
		ok &= pfn1 && pfn1 != pfn0 && bit(fold, PL_KPF_HWPOISON);
	ksft_test_result(ok && ret == want && bit(fnew, PL_KPF_ON_LRU_LIST) &&
			 !bit(fnew, PL_KPF_DMA_PINNED),
			 "migrate %s %s: %s, bytes kept, page on an LRU after\n",
			 mname, mig_name[c],
			 !want ? "migrated" : "EBUSY (migration failed)");
	pl_buf_teardown(&buf);
}

int main(void)
{
	static const enum pl_mem mems[] = { PL_MEM_ANON, PL_MEM_EXT4_SHARED };
	int fd = pl_open_or_skip();
	int patched = pl_kernel_patched();
	unsigned int m, c;
	int kind;

	ksft_set_plan(1 + PL_PIN_KINDS + ARRAY_SIZE(mems) * MIG_CASES);
	ksft_print_msg("[INFO] kernel: %s\n",
		       patched ? "pin-off-LRU series" : "stock");
	for (kind = -1; kind < PL_PIN_KINDS; kind++)
		thp_case(fd, kind, patched);
	for (m = 0; m < ARRAY_SIZE(mems); m++)
		for (c = 0; c < MIG_CASES; c++)
			migrate_case(fd, mems[m], c);
	close(fd);
	ksft_finished();
}

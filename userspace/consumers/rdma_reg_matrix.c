// SPDX-License-Identifier: GPL-2.0
/*
 * rdma_reg_matrix: ibv_reg_mr on the Soft-RoCE device (rxe) for every
 * memory type x access (rw = LOCAL_WRITE|REMOTE_WRITE|REMOTE_READ, ro =
 * REMOTE_READ only, odp = rw|ON_DEMAND), with the outcome stock 6.1 gives
 * asserted exactly, the FOLL_PIN counters before/after reg and dereg, and
 * whether the registered pages sit on an LRU list (pagemap + kpageflags).
 *
 * Expectations (6.1):
 * - rw and ro register on every memory type, including ext4/xfs MAP_SHARED.
 *   rxe_reg_user_mr() -> rxe_mr_init_user() -> ib_umem_get()
 *   (drivers/infiniband/core/umem.c) pins with pin_user_pages_fast(
 *   FOLL_WRITE | FOLL_LONGTERM, plus FOLL_FORCE when the MR is not
 *   writable): FOLL_WRITE is set even for a read-only MR.  6.1's GUP has no
 *   writable_file_mapping_allowed() (6.5); check_vma_flags() only refuses
 *   fsdax, so a long-term writable pin of a page-cache page succeeds.
 * - Because of that FOLL_WRITE, MAP_PRIVATE file mappings get COW-broken
 *   into anonymous copies on registration, for ro too.
 * - odp: ib_uverbs_reg_mr() -> ib_check_mr_access() returns -EINVAL when
 *   the device lacks IBK_ON_DEMAND_PAGING; 6.1's rxe_init_device_param()
 *   sets only IBK_ALLOW_USER_UNREG.  Nothing is pinned: pins delta 0.
 * - nr_foll_pin_acquired grows by the MR's page count in base pages
 *   (try_grab_folio() adds refs per subpage, also for THP/hugetlb), and
 *   ibv_dereg_mr() -> ib_umem_release() -> unpin_user_page_range_dirty_lock()
 *   adds the same to nr_foll_pin_released.
 * - LRU (recorded, not asserted): 6.1 leaves long-term pinned pages on the
 *   LRU (no ZONE_MOVABLE/CMA in the guest, so no migration); hugetlb pages
 *   are never on it ("no").  Pages faulted or COW-copied just before the
 *   registration may still sit in a per-CPU lru_add folio batch (15
 *   folios) without PG_lru, hence "mixed" for anon, memfd and MAP_PRIVATE.
 *   With the series (dma_pin_lru=on) it is asserted: the long-term pin of
 *   ib_umem_get() moves every page to the unevictable LRU (a page still in
 *   a batch is drained by the pin first, and lru_add_fn() sees the mark),
 *   so no registered page is on an LRU list.
 *
 * Expectations (6.12, stock612; drivers/infiniband/core/umem.c, mm/gup.c):
 * - ib_umem_get() pins with FOLL_LONGTERM, and FOLL_WRITE only for a
 *   writable MR (ib_access_writable()); no FOLL_FORCE.  rw of ext4/xfs
 *   MAP_SHARED: EFAULT (writable_file_mapping_allowed(), pinlab.h).  ro
 *   registers everywhere; ro of MAP_PRIVATE file pages is unshared (COW)
 *   by the slow path (gup_must_unshare(): R/O long-term pin of a COW
 *   mapping's page-cache page).
 * - odp: ib_umem_get() and ib_check_mr_access() return -EOPNOTSUPP
 *   without IBK_ON_DEMAND_PAGING (6.12's rxe does not set it).
 * - File MRs (rw refused, ro): pin_user_pages_fast()'s lockless walk may
 *   grab the first mapped folio and put it back (gup_fast_folio_allowed()
 *   refuses a file folio for a long-term write pin; gup_must_unshare()
 *   with no vma says "unshare" for any R/O long-term pin of a page-cache
 *   page), then the slow path decides: one extra pin acquired and released
 *   during the registration, 0 if the first page was not mapped yet.
 * - The rest as 6.1.
 *
 * One "# MATRIX table=rdma_reg" line per case.
 */
#include <sys/mman.h>

#include "lib/pl_verbs.h"

enum acc { ACC_RW, ACC_RO, ACC_ODP, ACC_COUNT };

static const char *const acc_names[ACC_COUNT] = { "rw", "ro", "odp" };

static int access_flags(enum acc a)
{
	int rw = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE |
		 IBV_ACCESS_REMOTE_READ;

	switch (a) {
	case ACC_RW: return rw;
	case ACC_RO: return IBV_ACCESS_REMOTE_READ;
	default: return rw | IBV_ACCESS_ON_DEMAND;
	}
}

static int expected_errno(enum pl_mem mem, enum acc a)
{
	if (!pl_kernel_refuses_longterm_file_write())
		return a == ACC_ODP ? EINVAL : 0;
	/* 6.12: see the header */
	if (a == ACC_ODP)
		return EOPNOTSUPP;
	return a == ACC_RW ? pl_pin_refusal(mem, MOCKDMA_METHOD_PIN_FAST,
					    MOCKDMA_PIN_LONGTERM |
					    MOCKDMA_PIN_WRITE) : 0;
}

/*
 * 6.12: pins GUP's fast path may take and put back at once before the
 * slow path decides (0 or 1, see the header); 6.1: none.
 */
static int transient_pin_possible(enum pl_mem mem, enum acc a)
{
	return pl_kernel_refuses_longterm_file_write() && pl_mem_is_file(mem) &&
	       a != ACC_ODP;
}

static void run_case(struct pl_rdma *r, enum pl_mem mem, enum acc a)
{
	long acq0, rel0, acq1, rel1, acq2, rel2, lru = -1, t;
	int want = expected_errno(mem, a), err = 0, ok = 1;
	const char *lru_word = "-";
	char name[96], result[32];
	struct ibv_mr *mr;
	struct pl_buf buf;
	size_t np;
	int ret;

	snprintf(name, sizeof(name), "%s access=%s", pl_mem_name(mem),
		 acc_names[a]);
	ksft_print_msg("[RUN] ibv_reg_mr %s\n", name);
	ret = pl_buf_setup(&buf, mem);
	if (ret == -EOPNOTSUPP) {
		ksft_test_result_skip("%s: no free hugetlb pages\n", name);
		return;
	}
	if (ret) {
		ksft_test_result_fail("%s: backing setup: %s\n", name,
				      strerror(-ret));
		pl_buf_teardown(&buf);
		return;
	}
	np = buf.len / pl_page_size;

	acq0 = pl_vmstat("nr_foll_pin_acquired");
	rel0 = pl_vmstat("nr_foll_pin_released");
	mr = ibv_reg_mr(r->pd, buf.addr, buf.len, access_flags(a));
	if (!mr)
		err = errno;
	acq1 = pl_vmstat("nr_foll_pin_acquired");
	rel1 = pl_vmstat("nr_foll_pin_released");
	if (mr) {
		lru = pl_pages_on_lru(buf.addr, np);
		lru_word = pl_lru_word(lru, np);
		if (ibv_dereg_mr(mr)) {
			ksft_print_msg("ibv_dereg_mr: %s\n", strerror(errno));
			ok = 0;
		}
	}
	acq2 = pl_vmstat("nr_foll_pin_acquired");
	rel2 = pl_vmstat("nr_foll_pin_released");
	snprintf(result, sizeof(result), "%s",
		 err ? pl_errno_name(err) : "registered");

	if (err != want) {
		ksft_print_msg("ibv_reg_mr: %s, expected %s\n", result,
			       want ? pl_errno_name(want) : "registered");
		ok = 0;
	}
	/*
	 * registered: +np pins, none released until dereg releases np; plus
	 * on 6.12 a file MR's transient fast-path pin (t = 0 or 1), acquired
	 * and released inside the registration.
	 */
	t = transient_pin_possible(mem, a) ? rel1 - rel0 : 0;
	if (t < 0 || t > 1 || acq1 - acq0 != (long)(err ? 0 : np) + t ||
	    rel1 - rel0 != t ||
	    acq2 != acq1 || rel2 - rel1 != (long)(err ? 0 : np)) {
		ksft_print_msg("pin deltas: reg +%ld/+%ld, dereg +%ld/+%ld (acquired/released), expected +%zu/+0, +0/+%zu\n",
			       acq1 - acq0, rel1 - rel0, acq2 - acq1,
			       rel2 - rel1, err ? 0 : np, err ? 0 : np);
		ok = 0;
	}
	if (mr && pl_kernel_patched() && lru != 0) {
		ksft_print_msg("%ld pages on an LRU while registered, expected 0 (parked)\n",
			       lru);
		ok = 0;
	}
	ksft_print_msg("[INFO] %s: %s, %ld/%zu pages on LRU while registered, pins +%ld acquired +%ld released\n",
		       name, result, lru, np, acq2 - acq0, rel2 - rel0);
	printf("# MATRIX table=rdma_reg memory=%s access=%s | result=%s lru_while_registered=%s pins_acq_rel=%ld/%ld\n",
	       pl_mem_name(mem), acc_names[a], result, lru_word, acq2 - acq0,
	       rel2 - rel0);
	pl_buf_teardown(&buf);
	ksft_test_result(ok, "%s -> %s\n", name, result);
}

int main(void)
{
	const char *why = NULL;
	struct pl_rdma r;
	int mem, a, ret;

	ksft_print_header();
	ret = pl_rdma_open(&r, 0, &why);
	if (ret == -ENODEV)
		ksft_exit_skip("%s\n", why);
	if (ret)
		ksft_exit_fail_msg("%s: %s\n", why, strerror(-ret));
	ksft_print_msg("[INFO] device %s, GID index %d\n", r.name, r.gid_index);
	ksft_set_plan(PL_MEM_COUNT * ACC_COUNT);
	for (mem = 0; mem < PL_MEM_COUNT; mem++)
		for (a = 0; a < ACC_COUNT; a++)
			run_case(&r, mem, a);
	pl_rdma_close(&r);
	ksft_finished();
}

// SPDX-License-Identifier: GPL-2.0
/*
 * hazard_movable (H9): a long-term pin must not hold a page in
 * ZONE_MOVABLE (or CMA), or memory hot-unplug and CMA allocations fail for
 * as long as the device holds it.  GUP honours this itself: for
 * FOLL_LONGTERM, __gup_longterm_locked() -> check_and_migrate_movable_pages()
 * finds the folios that are not folio_is_longterm_pinnable() (in
 * ZONE_MOVABLE, or CMA), unpins them, migrates them to a pinnable zone
 * (memalloc_pin_save(): no __GFP_MOVABLE) and pins again.  A short-term
 * FOLL_PIN and a legacy get_user_pages() reference leave the page where it
 * is.
 *
 * This program runs in a second boot of each kernel with movablecore=1G
 * (ci/pinlab.sh), so that user pages, allocated __GFP_MOVABLE and from the
 * highest zone first, land in ZONE_MOVABLE.  Per memory type (anonymous,
 * memfd, ext4 and xfs MAP_SHARED) and pin kind, 16 pages whose bytes the
 * CPU wrote:
 *   precondition  all 16 pages in ZONE_MOVABLE before the pin (pagemap pfns
 *                 against /proc/zoneinfo's Movable span);
 *   long-term     after the pin, none of the 16 in ZONE_MOVABLE, every pfn
 *                 changed, the bytes unchanged, the device's write visible
 *                 through the mapping, pins balanced after the unpin;
 *   short-term and legacy GUP
 *                 all 16 still in ZONE_MOVABLE at the same pfns;
 *   unmigratable  a long-term pin of pages a legacy GUP reference already
 *                 holds: migrate_pages() cannot move a folio with an
 *                 unexpected reference (folio_migrate_mapping() refuses the
 *                 refcount), so migrate_longterm_unpinnable_pages() fails
 *                 the pin with ENOMEM, and the pages stay where they were.
 * The series does not touch this path (it parks folios after GUP has
 * migrated and pinned them), so the expectations are the same on all three
 * kernels.
 */
#include <fcntl.h>

#include "lib/pinlab.h"

#define NP	16

static unsigned long long movable_start, movable_end;

/* The Movable zone's pfn span from /proc/zoneinfo; 0 or -errno. */
static int movable_span(void)
{
	char line[256];
	int in_movable = 0;
	unsigned long long start = 0, spanned = 0;
	FILE *f = fopen("/proc/zoneinfo", "r");

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "Node ", 5)) {
			in_movable = !!strstr(line, "zone  Movable");
			continue;
		}
		if (!in_movable)
			continue;
		if (sscanf(line, " spanned %llu", &spanned) == 1)
			continue;
		if (sscanf(line, " start_pfn: %llu", &start) == 1)
			break;
	}
	fclose(f);
	if (!spanned)
		return -ENOENT;
	movable_start = start;
	movable_end = start + spanned;
	return 0;
}

/* How many of the @np pages at @addr are in ZONE_MOVABLE; pfns into @pfn. */
static int count_movable(const char *addr, size_t np, __u64 *pfn, size_t *n)
{
	size_t i;
	int ret;

	*n = 0;
	for (i = 0; i < np; i++) {
		ret = pl_page_pfn(addr + i * pl_page_size, &pfn[i]);
		if (ret)
			return ret;
		*n += pfn[i] >= movable_start && pfn[i] < movable_end;
	}
	return 0;
}

static const struct {
	const char *name;
	__u32 method, flags;
	int migrates;
} kinds[] = {
	{ "pin_longterm", MOCKDMA_METHOD_PIN_FAST,
	  MOCKDMA_PIN_LONGTERM | MOCKDMA_PIN_WRITE, 1 },
	{ "pin_shortterm", MOCKDMA_METHOD_PIN_FAST, MOCKDMA_PIN_WRITE, 0 },
	{ "gup", MOCKDMA_METHOD_GUP, MOCKDMA_PIN_WRITE, 0 },
};

static void run_case(int fd, enum pl_mem mem, unsigned int k)
{
	__u64 before[NP], after[NP];
	size_t in_before = 0, in_after = 0, moved = 0, i;
	struct pl_pins p0 = pl_pins_now(), p1;
	unsigned char *copy = malloc(NP * 4096);
	struct pl_buf buf;
	__u32 h, seq = 0;
	int ok, same_bytes = 0, wrote = 0;

	if (pl_refused_case(fd, mem, kinds[k].method, kinds[k].flags, "%s %s",
			    pl_mem_name(mem), kinds[k].name)) {
		printf("# MATRIX table=hazards id=H9 hazard=zone-movable case=%s-%s | outcome=REFUSED (EFAULT)\n",
		       pl_mem_name(mem), kinds[k].name);
		free(copy);
		return;
	}
	if (!copy || pl_buf_setup(&buf, mem)) {
		ksft_test_result_fail("%s %s: set-up\n", pl_mem_name(mem),
				      kinds[k].name);
		free(copy);
		return;
	}
	/* The CPU's own pattern, then the pin (which may migrate). */
	for (i = 0; i < buf.len; i++)
		buf.addr[i] = (char)(i * 13 + 7);
	memcpy(copy, buf.addr, buf.len);
	ok = !count_movable(buf.addr, NP, before, &in_before);
	ok = ok && !pl_pin(fd, buf.addr, buf.len, kinds[k].method,
			   kinds[k].flags, &h);
	if (ok) {
		ok = !count_movable(buf.addr, NP, after, &in_after);
		for (i = 0; i < NP; i++)
			moved += before[i] != after[i];
		same_bytes = !memcmp(copy, buf.addr, buf.len);
		wrote = !pl_dma_write(fd, h, 0, buf.len, 0, &seq) &&
			pl_device_wrote(&buf, h, seq);
		ok = !pl_unpin(fd, h, MOCKDMA_UNPIN_DIRTY) && ok;
	}
	pl_buf_teardown(&buf);
	free(copy);
	p1 = pl_pins_now();
	ksft_print_msg("[INFO] %s %s: %zu/%d pages in ZONE_MOVABLE before the pin, %zu after, %zu moved; bytes %s\n",
		       pl_mem_name(mem), kinds[k].name, in_before, NP, in_after,
		       moved, same_bytes ? "kept" : "CHANGED");
	printf("# MATRIX table=hazards id=H9 hazard=zone-movable case=%s-%s | outcome=%s (%zu of %d pages left in ZONE_MOVABLE)\n",
	       pl_mem_name(mem), kinds[k].name,
	       !ok ? "ERROR" : in_after == 0 ? "MIGRATED" :
	       in_after == NP ? "STAYS" : "MIXED", in_after, NP);
	if (in_before != NP)
		ksft_print_msg("precondition failed: only %zu/%d pages in ZONE_MOVABLE before the pin\n",
			       in_before, NP);
	ok = ok && in_before == NP && same_bytes && wrote &&
	     p1.acq - p0.acq == p1.rel - p0.rel;
	if (kinds[k].migrates)
		ok = ok && in_after == 0 && moved == NP;
	else
		ok = ok && in_after == NP && moved == 0;
	ksft_test_result(ok, "%s %s: %s\n", pl_mem_name(mem), kinds[k].name,
			 kinds[k].migrates ?
			 "the long-term pin moves every page out of ZONE_MOVABLE, bytes kept" :
			 "the page stays in ZONE_MOVABLE");
}

static void unmigratable(int fd, enum pl_mem mem)
{
	__u64 before[NP], after[NP];
	size_t in_before = 0, in_after = 0, moved = 0, i;
	struct pl_pins p0 = pl_pins_now(), p1;
	struct pl_buf buf;
	__u32 held, h;
	int ok, ret = 0;
	/*
	 * 6.12, ext4/xfs: check_vma_flags() refuses the long-term write pin
	 * (EFAULT, pinlab.h) before GUP takes a page, so nothing is tried.
	 */
	int refusal = pl_pin_refusal(mem, MOCKDMA_METHOD_PIN_FAST,
				     MOCKDMA_PIN_LONGTERM | MOCKDMA_PIN_WRITE);
	int want = refusal ? -refusal : -ENOMEM;

	if (pl_buf_setup(&buf, mem)) {
		ksft_test_result_fail("%s unmigratable: set-up\n", pl_mem_name(mem));
		return;
	}
	ok = !count_movable(buf.addr, NP, before, &in_before) &&
	     !pl_pin(fd, buf.addr, buf.len, MOCKDMA_METHOD_GUP,
		     MOCKDMA_PIN_WRITE, &held);
	if (ok) {
		ret = pl_pin(fd, buf.addr, buf.len, MOCKDMA_METHOD_PIN_FAST,
			     MOCKDMA_PIN_LONGTERM | MOCKDMA_PIN_WRITE, &h);
		if (!ret)
			pl_unpin(fd, h, 0);
		ok = !count_movable(buf.addr, NP, after, &in_after);
		for (i = 0; i < NP; i++)
			moved += before[i] != after[i];
		ok = !pl_unpin(fd, held, 0) && ok;
	}
	pl_buf_teardown(&buf);
	p1 = pl_pins_now();
	ksft_print_msg("[INFO] %s unmigratable: long-term pin %s; %zu/%d pages in ZONE_MOVABLE after, %zu moved\n",
		       pl_mem_name(mem), ret ? pl_errno_name(-ret) : "succeeded",
		       in_after, NP, moved);
	printf("# MATRIX table=hazards id=H9 hazard=zone-movable case=%s-unmigratable | outcome=%s\n",
	       pl_mem_name(mem), ret ? pl_errno_name(-ret) : "PINNED");
	ksft_test_result(ok && in_before == NP && ret == want &&
			 in_after == NP && moved == 0 &&
			 p1.acq - p0.acq == p1.rel - p0.rel,
			 "%s unmigratable: a long-term pin that cannot migrate fails with %s\n",
			 pl_mem_name(mem), pl_errno_name(-want));
}

int main(void)
{
	static const enum pl_mem mems[] = {
		PL_MEM_ANON, PL_MEM_MEMFD, PL_MEM_EXT4_SHARED, PL_MEM_XFS_SHARED,
	};
	int fd = pl_open_or_skip(), ret;
	unsigned int m, k;

	ret = movable_span();
	if (ret)
		ksft_exit_fail_msg("no ZONE_MOVABLE in /proc/zoneinfo (%s): this program needs the movablecore= boot of ci/pinlab.sh\n",
				   strerror(-ret));
	ksft_print_msg("[INFO] ZONE_MOVABLE: pfns %#llx-%#llx\n", movable_start,
		       movable_end);
	ksft_set_plan(ARRAY_SIZE(mems) * (ARRAY_SIZE(kinds) + 1));
	for (m = 0; m < ARRAY_SIZE(mems); m++) {
		for (k = 0; k < ARRAY_SIZE(kinds); k++)
			run_case(fd, mems[m], k);
		unmigratable(fd, mems[m]);
	}
	close(fd);
	ksft_finished();
}

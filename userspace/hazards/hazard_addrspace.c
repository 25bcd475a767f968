// SPDX-License-Identifier: GPL-2.0
/*
 * hazard_addrspace (H7): the address space changes under a pin.  The pin
 * holds struct pages, not a mapping: whatever the process does to its page
 * tables or the file's size, the device keeps writing the pages it pinned.
 * The question per event is where those bytes are seen and where they go.
 *
 * File cases: 16 pages MAP_SHARED of an ext4 or xfs file, long-term
 * write-pinned (FOLL_PIN) or held by legacy get_user_pages(), cleaned by
 * fsync; the event; the device writes all 16 pages (checked by its own
 * read, DMA_READ); the release dirties them; fsync; the file read from the
 * block device.
 *   truncate  ftruncate(0) then ftruncate back to 16 pages:
 *             truncate_inode_pages_range() removes the pinned folios from
 *             the page cache whatever their references, so the device
 *             writes orphans, the mapping re-faults fresh zero pages over
 *             the holes, and the dirtying release of an orphan dirties no
 *             file: the re-extended file reads zero on disk, all 16 pages
 *             holes; the device's write never appears in the file.
 *   mremap    the range moved (MREMAP_MAYMOVE | MREMAP_FIXED onto a
 *             reserved range, so that it really moves): move_page_tables()
 *             moves the PTEs, the new address maps the same pinned pages
 *             (same pfns) and sees the device's write; on disk after the
 *             dirtying release and fsync.
 *   mprotect  PROT_READ on the range: the PTEs lose write permission, the
 *             device does not care; the mapping sees the write, the disk
 *             has it after the dirtying release and fsync.
 *   dontneed  MADV_DONTNEED: zap_page_range() removes the PTEs (pagemap
 *             shows nothing mapped), the page cache keeps the pinned
 *             folios; the re-fault maps the same pfns, which show the
 *             device's later write; on disk after release and fsync.
 * The patched kernel changes none of these outcomes: the series only moves
 * the pinned folio to the unevictable LRU and back (a truncated folio off
 * every LRU is left to its last reference).
 * On 6.12 (stock612) the long-term write pin of these file mappings is
 * refused with EFAULT (writable_file_mapping_allowed(), pinlab.h): each
 * long-term file case asserts the refusal; legacy GUP is still granted
 * and gives the 6.1 outcomes (none of the paths above looks at pins).
 *
 * thp-munmap: a 2 MiB anonymous THP, pinned; munmap of its second half
 * splits the PMD (__split_huge_pmd()) and queues the folio for a deferred
 * split, which fails while pinned; the pin holds the whole folio, so the
 * device writes all 512 pages (its own read), the first half still maps
 * the same pfns of the same THP and sees the write; no splat, pins
 * balanced (the harness checks both).
 *
 * fork-private: 16 pages MAP_PRIVATE of an ext4 or xfs file, read-faulted
 * (page cache mapped read-only), then pinned for write: the FOLL_WRITE
 * fault breaks COW at pin time, so the pinned pages are anonymous copies.
 * After one device write, fork; the child reports through a pipe what its
 * mapping holds after the device's second write.  Long-term (FOLL_PIN):
 * copy_present_pte() -> page_try_dup_anon_rmap() finds
 * page_needs_cow_for_dma() and copies the page for the child, which keeps
 * the first write while the parent sees the second.  Legacy GUP: the page
 * is not "maybe DMA pinned" (one extra reference is below
 * GUP_PIN_COUNTING_BIAS), so it is shared write-protected with the child,
 * which sees the device's second write too.  The file on disk never
 * changes (a private mapping writes nothing back).  All kernels alike: the
 * series keeps the pinned anonymous folios unevictable, nothing more.
 */
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "lib/pinlab.h"

#define NP	16

enum kind { TRUNCATE, MREMAP, MPROTECT, DONTNEED, NR_FILE_KINDS };
static const char *const kind_name[] = {
	"truncate", "mremap", "mprotect", "dontneed",
};
static const enum pl_mem file_mems[] = { PL_MEM_EXT4_SHARED, PL_MEM_XFS_SHARED };
static const enum pl_mem private_mems[] = {
	PL_MEM_EXT4_PRIVATE, PL_MEM_XFS_PRIVATE,
};

/* pfns of @n pages mapped at @addr; 0 or -errno (nothing mapped) */
static int pfns_of(const char *addr, size_t n, __u64 *pfn)
{
	size_t i;
	int ret;

	for (i = 0; i < n; i++) {
		ret = pl_page_pfn(addr + i * pl_page_size, &pfn[i]);
		if (ret)
			return ret;
	}
	return 0;
}

/* The device's write, checked by the device's own read of every page. */
static int device_writes(int mfd, __u32 h, size_t len, __u32 *seq)
{
	char *data = malloc(len);
	int ok = data && !pl_dma_write(mfd, h, 0, len, 0, seq) &&
		 !pl_dma_read(mfd, h, 0, len, data) &&
		 pl_count_stamped(data, len, h, 0, *seq) == len / pl_page_size;

	if (!ok)
		ksft_print_msg("device write or its read-back failed\n");
	free(data);
	return ok;
}

static void file_case(int mfd, enum pl_mem mem, unsigned int p, enum kind k)
{
	size_t len = NP * pl_page_size, holes = 0, disk_dev = 0, map_dev = 0;
	__u64 pfn0[NP], pfn1[NP];
	int ok, zero = 0, same_pfns = 0, unmapped = 0;
	struct pl_buf buf;
	char *disk = malloc(len);
	void *to = NULL;
	__u32 h, seq = 0;

	if (!disk)
		ksft_exit_fail_msg("out of memory\n");
	if (pl_refused_case(mfd, mem, pl_pin_kinds[p].method,
			    pl_pin_kinds[p].flags, "%s %s %s", kind_name[k],
			    pl_mem_name(mem), pl_pin_kinds[p].name)) {
		printf("# MATRIX table=hazards id=H7 hazard=addrspace case=%s-%s-%s | outcome=REFUSED (EFAULT)\n",
		       kind_name[k], pl_mem_name(mem), pl_pin_kinds[p].name);
		free(disk);
		return;
	}
	if (pl_buf_setup_pinned(&buf, mem, mfd, pl_pin_kinds[p].method,
				pl_pin_kinds[p].flags, &h)) {
		ksft_test_result_fail("%s %s %s: set-up\n", kind_name[k],
				      pl_mem_name(mem), pl_pin_kinds[p].name);
		free(disk);
		return;
	}
	ok = !pl_fsync(buf.fd) && !pfns_of(buf.addr, NP, pfn0);
	switch (k) {
	case TRUNCATE:
		ok = ok && !ftruncate(buf.fd, 0) && !ftruncate(buf.fd, len);
		break;
	case MREMAP:
		/* A reserved range to move onto: a same-size MAYMOVE stays put. */
		to = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ok = ok && to != MAP_FAILED;
		if (ok && mremap(buf.map, len, len,
				 MREMAP_MAYMOVE | MREMAP_FIXED, to) == to) {
			buf.map = buf.addr = to;
		} else if (ok) {
			munmap(to, len);
			ok = 0;
		}
		break;
	case MPROTECT:
		ok = ok && !mprotect(buf.addr, len, PROT_READ);
		break;
	case DONTNEED:
		ok = ok && !madvise(buf.addr, len, MADV_DONTNEED);
		/* The PTEs are gone: pagemap maps nothing there. */
		if (ok)
			unmapped = pfns_of(buf.addr, NP, pfn1) == -EFAULT;
		break;
	default:
		break;
	}
	if (!ok)
		ksft_print_msg("set-up or %s failed: %s\n", kind_name[k],
			       strerror(errno));
	ok = ok && device_writes(mfd, h, len, &seq);
	/* The CPU's view now (re-faulting where the PTEs went) */
	if (ok) {
		map_dev = pl_count_stamped(buf.addr, len, h, 0, seq);
		same_pfns = !pfns_of(buf.addr, NP, pfn1) &&
			    !memcmp(pfn0, pfn1, sizeof(pfn0));
	}
	ok = !pl_unpin(mfd, h, MOCKDMA_UNPIN_DIRTY) && ok;
	ok = ok && !pl_fsync(buf.fd) &&
	     !pl_disk_read(buf.fd, 0, len, disk, &holes);
	if (ok) {
		disk_dev = pl_count_stamped(disk, len, h, 0, seq);
		zero = pl_all_zero(disk, len);
	}
	pl_buf_teardown(&buf);
	free(disk);

	ksft_print_msg("[INFO] %s %s %s: mapping %zu/%d device pages, same pfns %d%s; disk %zu device pages, %s, %zu unallocated\n",
		       kind_name[k], pl_mem_name(mem), pl_pin_kinds[p].name,
		       map_dev, NP, same_pfns,
		       k == DONTNEED ? (unmapped ? ", PTEs gone after DONTNEED" :
					   ", PTEs still there after DONTNEED") : "",
		       disk_dev, zero ? "all zero" : "not zero", holes);
	printf("# MATRIX table=hazards id=H7 hazard=addrspace case=%s-%s-%s | outcome=%s\n",
	       kind_name[k], pl_mem_name(mem), pl_pin_kinds[p].name,
	       !ok ? "ERROR" :
	       k == TRUNCATE ? (zero && !disk_dev && !map_dev ?
				"OK (zeros: device writes orphaned)" :
				"CORRUPTED (device write in the file)") :
	       disk_dev == NP && map_dev == NP && same_pfns ?
	       "OK (same pages, on disk)" : "UNEXPECTED");
	if (k == TRUNCATE)
		ok = ok && zero && holes == NP && !disk_dev && !map_dev &&
		     !same_pfns;
	else
		ok = ok && disk_dev == NP && map_dev == NP && same_pfns &&
		     (k != DONTNEED || unmapped);
	ksft_test_result(ok, "%s %s %s: device writes after the event, mapping and disk\n",
			 kind_name[k], pl_mem_name(mem), pl_pin_kinds[p].name);
}

static void thp_case(int mfd, unsigned int p)
{
	size_t len, half, np, map_dev = 0;
	struct mockdma_page_state st0, st1;
	int ok, thp_before = 0, thp_after = 0, same = 0;
	struct pl_buf buf;
	__u64 pfn;
	__u32 h, seq = 0;

	if (pl_buf_setup_pinned(&buf, PL_MEM_THP, mfd, pl_pin_kinds[p].method,
				pl_pin_kinds[p].flags, &h)) {
		ksft_test_result_fail("thp-munmap %s: set-up\n", pl_pin_kinds[p].name);
		return;
	}
	len = buf.len;
	half = len / 2;
	np = len / pl_page_size;
	ok = !pl_query(mfd, h, 0, 1, &st0) && !pl_query(mfd, h, np - 1, 1, &st1);
	thp_before = ok && (st0.flags & MOCKDMA_PAGE_THP) &&
		     (st1.flags & MOCKDMA_PAGE_THP) && st1.pfn == st0.pfn + np - 1;
	if (!thp_before)
		ksft_print_msg("precondition failed: the buffer is not one THP\n");
	ok = thp_before && !munmap(buf.addr + half, half);
	ok = ok && device_writes(mfd, h, len, &seq);
	if (ok) {
		map_dev = pl_count_stamped(buf.addr, half, h, 0, seq);
		same = !pl_page_pfn(buf.addr, &pfn) && pfn == st0.pfn &&
		       !pl_page_pfn(buf.addr + half - pl_page_size, &pfn) &&
		       pfn == st0.pfn + np / 2 - 1;
		/* The folio is still one THP: pinned, its split fails. */
		thp_after = !pl_query(mfd, h, np - 1, 1, &st1) &&
			    (st1.flags & MOCKDMA_PAGE_THP) &&
			    st1.pfn == st0.pfn + np - 1;
	}
	ok = !pl_unpin(mfd, h, MOCKDMA_UNPIN_DIRTY) && ok;
	pl_buf_teardown(&buf);
	ksft_print_msg("[INFO] thp-munmap %s: first half sees %zu/%zu device pages, same pfns %d, still one THP %d\n",
		       pl_pin_kinds[p].name, map_dev, np / 2, same, thp_after);
	printf("# MATRIX table=hazards id=H7 hazard=addrspace case=thp-munmap-%s | outcome=%s\n",
	       pl_pin_kinds[p].name, !ok ? "ERROR" :
	       map_dev == np / 2 && same && thp_after ?
	       "OK (pin holds the THP, first half sees the device)" :
	       "UNEXPECTED");
	ksft_test_result(ok && map_dev == np / 2 && same && thp_after,
			 "thp-munmap %s: half unmapped, the device writes the whole pinned THP\n",
			 pl_pin_kinds[p].name);
}

/*
 * The child waits for @go, then reports how many of its pages hold the
 * device's write @seq2 (read from @seqp, written by the parent before go)
 * and how many still hold @seq1, as two bytes.
 */
static int fork_child(struct pl_buf *buf, __u32 h, __u32 seq1, int *sees2,
		      int *keeps1, int mfd, __u32 *seq2)
{
	int go[2], rep[2], status, ok;
	unsigned char r[2];
	pid_t pid;

	if (pipe(go) || pipe(rep))
		return 0;
	pid = fork();
	if (pid < 0)
		return 0;
	if (!pid) {
		__u32 s2;

		if (read(go[0], &s2, sizeof(s2)) != sizeof(s2))
			_exit(2);
		r[0] = pl_count_stamped(buf->addr, buf->len, h, 0, s2);
		r[1] = pl_count_stamped(buf->addr, buf->len, h, 0, seq1);
		_exit(write(rep[1], r, 2) == 2 ? 0 : 2);
	}
	ok = device_writes(mfd, h, buf->len, seq2);
	if (write(go[1], seq2, sizeof(*seq2)) != sizeof(*seq2))
		ok = 0;
	ok = read(rep[0], r, 2) == 2 && ok;
	close(go[0]);
	close(go[1]);
	close(rep[0]);
	close(rep[1]);
	ok = waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	     !WEXITSTATUS(status) && ok;
	*sees2 = r[0];
	*keeps1 = r[1];
	return ok;
}

static void fork_case(int mfd, enum pl_mem mem, unsigned int p)
{
	int ok, anon = 0, sees2 = -1, keeps1 = -1, want_sees, original = 0;
	struct mockdma_page_state st;
	size_t parent = 0;
	struct pl_buf buf;
	__u32 h, seq1 = 0, seq2 = 0;

	if (pl_buf_setup_pinned(&buf, mem, mfd, pl_pin_kinds[p].method,
				pl_pin_kinds[p].flags, &h)) {
		ksft_test_result_fail("fork-private %s %s: set-up\n",
				      pl_mem_name(mem), pl_pin_kinds[p].name);
		return;
	}
	/* FOLL_WRITE broke COW at pin time: the pinned page is anonymous. */
	ok = !pl_query(mfd, h, 0, 1, &st);
	anon = ok && (st.flags & MOCKDMA_PAGE_ANON);
	if (!anon)
		ksft_print_msg("precondition failed: pinned page not anonymous\n");
	ok = anon && device_writes(mfd, h, buf.len, &seq1) &&
	     pl_device_wrote(&buf, h, seq1);
	ok = ok && fork_child(&buf, h, seq1, &sees2, &keeps1, mfd, &seq2);
	if (ok)
		parent = pl_count_stamped(buf.addr, buf.len, h, 0, seq2);
	ok = !pl_unpin(mfd, h, MOCKDMA_UNPIN_DIRTY) && ok;
	ok = ok && !pl_fsync(buf.fd);
	if (ok)
		original = pl_disk_is_original(&buf);
	pl_buf_teardown(&buf);

	want_sees = p == PL_PIN_GUP ? NP : 0;
	ksft_print_msg("[INFO] fork-private %s %s: parent sees %zu/%d of the device's second write; child %d (and %d of the first); file on disk original %d\n",
		       pl_mem_name(mem), pl_pin_kinds[p].name, parent, NP,
		       sees2, keeps1, original);
	printf("# MATRIX table=hazards id=H7 hazard=addrspace case=fork-private-%s-%s | outcome=%s\n",
	       pl_mem_name(mem), pl_pin_kinds[p].name, !ok ? "ERROR" :
	       !original ? "CORRUPTED (file changed)" :
	       sees2 == NP ? "child sees the device (shared page)" :
	       keeps1 == NP ? "child has a private copy" : "UNEXPECTED");
	ksft_test_result(ok && parent == NP && sees2 == want_sees &&
			 keeps1 == NP - want_sees && original,
			 "fork-private %s %s: the child's view of later device writes, the file unchanged\n",
			 pl_mem_name(mem), pl_pin_kinds[p].name);
}

int main(void)
{
	int fd = pl_open_or_skip();
	unsigned int k, m, p;

	ksft_set_plan(NR_FILE_KINDS * ARRAY_SIZE(file_mems) * PL_PIN_KINDS +
		      PL_PIN_KINDS + ARRAY_SIZE(private_mems) * PL_PIN_KINDS);
	for (k = 0; k < NR_FILE_KINDS; k++)
		for (m = 0; m < ARRAY_SIZE(file_mems); m++)
			for (p = 0; p < PL_PIN_KINDS; p++)
				file_case(fd, file_mems[m], p, k);
	for (p = 0; p < PL_PIN_KINDS; p++)
		thp_case(fd, p);
	for (m = 0; m < ARRAY_SIZE(private_mems); m++)
		for (p = 0; p < PL_PIN_KINDS; p++)
			fork_case(fd, private_mems[m], p);
	close(fd);
	ksft_finished();
}

// SPDX-License-Identifier: GPL-2.0
/*
 * uring_fixed_buf: io_uring_register_buffers() on every memory type, the
 * outcome stock 6.1 gives asserted exactly; READ_FIXED/WRITE_FIXED through
 * each accepted buffer to an O_DIRECT file on ext4 and on xfs with the data
 * verified; and the FOLL_PIN counters across register and unregister.
 *
 * Expectations (6.1, io_uring/rsrc.c):
 * - io_sqe_buffer_register() -> io_pin_pages() pins first, with
 *   pin_user_pages(FOLL_WRITE | FOLL_LONGTERM) (which 6.1's GUP grants on
 *   any mapping but fsdax), and only then looks at the VMAs: a vma with a
 *   vm_file that is neither shmem (vma_is_shmem()) nor hugetlbfs
 *   (is_file_hugepages()) fails the registration with -EOPNOTSUPP and the
 *   pages are unpinned again (unpin_user_pages()).  So ext4/xfs MAP_SHARED
 *   *and* MAP_PRIVATE are refused, with np pins acquired and np released
 *   (the MAP_PRIVATE pages were COW-broken by the FOLL_WRITE pin before
 *   the refusal, and the private mapping keeps those anonymous copies).
 * - anon, THP: no vm_file; memfd: shmem; MAP_HUGETLB: a hugetlbfs file:
 *   registered, np pins acquired (one per base page: follow_page() ->
 *   try_grab_page() per subpage), none released until unregister, which
 *   (io_sqe_buffers_unregister() -> io_buffer_unmap() -> unpin_user_page()
 *   per page) releases np.
 *
 * - Where the registered pages sit, after flushing every CPU's LRU batches
 *   (/proc/kpageflags through pagemap): stock 6.1 leaves anon, THP and memfd
 *   pages on an LRU list while registered; with the series (dma_pin_lru=on)
 *   the FOLL_LONGTERM pin parks them (KPF_DMA_PINNED, on the unevictable
 *   LRU, no LRU list).  A hugetlb folio is never on an LRU and the series
 *   leaves it alone (dma_pin_lru_pinned() skips hugetlb, like the zero
 *   page): no bit on either kernel.  After unregister both kernels are
 *   back where they started.
 *
 * Expectations (6.12, stock612): ext4/xfs MAP_SHARED refused with EFAULT by
 * GUP before anything is pinned (expected_errno()); MAP_PRIVATE file
 * mappings registered like anonymous memory; THP and hugetlb buffers
 * coalesced, their pins mostly released at registration
 * (released_at_register()); the rest as 6.1.
 *
 * One "# MATRIX table=uring_fixed" line per memory type.
 */
#include <fcntl.h>
#include <liburing.h>
#include <sys/mman.h>

#include "lib/pinlab.h"

#define TAG	0x55524e47U	/* "URNG" */

/*
 * 6.12: the vm_file check left io_uring when GUP took it over (the same
 * 6.5 series as writable_file_mapping_allowed()): io_pin_pages() asks
 * pin_user_pages_fast(FOLL_WRITE | FOLL_LONGTERM) and nothing else, so a
 * shared ext4/xfs mapping fails in GUP (EFAULT, pinlab.h) and a private
 * one registers (the FOLL_WRITE pin's COW copies are anonymous).
 */
static int expected_errno(enum pl_mem mem)
{
	if (pl_kernel_refuses_longterm_file_write())
		return pl_pin_refusal(mem, MOCKDMA_METHOD_PIN_FAST,
				      MOCKDMA_PIN_LONGTERM | MOCKDMA_PIN_WRITE);
	return pl_mem_is_file(mem) ? EOPNOTSUPP : 0;
}

/*
 * Pins released by the registration itself on success.  6.12's
 * io_sqe_buffer_register() coalesces a buffer made of large folios
 * (io_try_coalesce_buffer() -> io_do_coalesce_buffer(): one bvec per
 * folio) and unpins all but the first page of each folio at once;
 * io_buffer_unmap() later unpins one page per folio.  THP and hugetlb
 * buffers here are one 2 MiB folio each.  6.1 keeps every page pinned.
 */
static long released_at_register(enum pl_mem mem, size_t np)
{
	size_t nfolios;

	if (!pl_kernel_refuses_longterm_file_write() ||
	    (mem != PL_MEM_THP && mem != PL_MEM_HUGETLB))
		return 0;
	nfolios = np * pl_page_size / (2UL << 20);
	return (long)(np - nfolios);
}

static int rw_fixed(struct io_uring *ring, int write, int fd, void *addr,
		    size_t len)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	struct io_uring_cqe *cqe;
	int ret;

	if (!sqe)
		return -EBUSY;
	if (write)
		io_uring_prep_write_fixed(sqe, fd, addr, len, 0, 0);
	else
		io_uring_prep_read_fixed(sqe, fd, addr, len, 0, 0);
	ret = io_uring_submit(ring);
	if (ret != 1)
		return ret < 0 ? ret : -EIO;
	ret = io_uring_wait_cqe(ring, &cqe);
	if (ret)
		return ret;
	ret = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return ret;
}

/* WRITE_FIXED the buffer to an O_DIRECT file on dir, zero it, READ_FIXED
 * it back and count the pages that hold the pattern. */
static int io_through(struct io_uring *ring, struct pl_buf *buf,
		      const char *fs, const char *dir, __u32 seq)
{
	size_t np = buf->len / pl_page_size, got;
	char path[256];
	int fd, ret, ok = 0;

	snprintf(path, sizeof(path), "%s/uring-%d-%s", dir, getpid(),
		 pl_mem_name(buf->mem));
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_DIRECT, 0600);
	if (fd < 0) {
		ksft_print_msg("open %s: %s\n", path, strerror(errno));
		return 0;
	}
	pl_fill_stamps(buf->addr, buf->len, TAG, seq);
	ret = rw_fixed(ring, 1, fd, buf->addr, buf->len);
	if (ret != (int)buf->len) {
		ksft_print_msg("WRITE_FIXED: %d\n", ret);
		goto out;
	}
	memset(buf->addr, 0, buf->len);
	ret = rw_fixed(ring, 0, fd, buf->addr, buf->len);
	if (ret != (int)buf->len) {
		ksft_print_msg("READ_FIXED: %d\n", ret);
		goto out;
	}
	got = pl_count_stamped(buf->addr, buf->len, TAG, 0, seq);
	ok = got == np;
	if (!ok)
		ksft_print_msg("%s: %zu/%zu pages read back\n", fs, got, np);
out:
	close(fd);
	unlink(path);
	return ok;
}

struct lru_census {
	size_t lru, pinned, parked;
};

static int lru_census(struct pl_buf *buf, struct lru_census *c)
{
	size_t n[64];

	memset(c, 0, sizeof(*c));
	if (pl_lru_drain_all() ||
	    pl_kpf_census(buf->addr, buf->len / pl_page_size, n))
		return -EIO;
	c->lru = n[PL_KPF_ON_LRU_LIST];
	c->pinned = n[PL_KPF_DMA_PINNED];
	c->parked = n[PL_KPF_PARKED];
	return 0;
}

/*
 * Where the pages of a buffer should be: marked and parked when @parks (the
 * series, while registered), else on the LRU; hugetlb never on an LRU and
 * never marked.
 */
static int lru_as_expected(enum pl_mem mem, size_t np, int parks,
			   const struct lru_census *c)
{
	if (mem == PL_MEM_HUGETLB)
		return !c->lru && !c->pinned && !c->parked;
	return c->lru == (parks ? 0 : np) && c->pinned == (parks ? np : 0) &&
	       c->parked == (parks ? np : 0);
}

static void lru_test(struct io_uring *ring, struct pl_buf *buf, char *where,
		     size_t size)
{
	size_t np = buf->len / pl_page_size;
	int ok, ret, patched = pl_kernel_patched();
	struct lru_census reg, unreg = { 0 };

	ok = !lru_census(buf, &reg);
	ret = io_uring_unregister_buffers(ring);
	if (ret)
		ksft_print_msg("unregister: %s\n", strerror(-ret));
	ok &= !ret && !lru_census(buf, &unreg);
	ksft_print_msg("[INFO] %s registered: KPF_LRU %zu DMA_PINNED %zu PARKED %zu; unregistered: %zu %zu %zu\n",
		       pl_mem_name(buf->mem), reg.lru, reg.pinned, reg.parked,
		       unreg.lru, unreg.pinned, unreg.parked);
	snprintf(where, size, "lru:%zu,parked:%zu", reg.lru, reg.parked);
	ok &= lru_as_expected(buf->mem, np, patched, &reg) &&
	      lru_as_expected(buf->mem, np, 0, &unreg);
	ksft_test_result(ok, "%s: %s while registered, %s after unregister\n",
			 pl_mem_name(buf->mem),
			 buf->mem == PL_MEM_HUGETLB ? "off the LRU, unmarked (hugetlb)" :
			 patched ? "on the unevictable LRU, marked" : "on an LRU list",
			 buf->mem == PL_MEM_HUGETLB ? "the same" : "on the LRU");
}

static void run_mem(enum pl_mem mem)
{
	static const char *const fss[2] = { "ext4", "xfs" };
	const char *dirs[2] = { getenv("PINLAB_EXT4"), getenv("PINLAB_XFS") };
	const char *io_res[2] = { "-", "-" };
	int want = expected_errno(mem), ret, ok = 1, f;
	static __u32 seq;
	struct pl_pins c0, c1, c2;
	struct io_uring ring;
	struct pl_buf buf;
	struct iovec iov;
	char result[32], where[64] = "-";
	size_t np;

	ksft_print_msg("[RUN] io_uring_register_buffers with %s\n",
		       pl_mem_name(mem));
	ret = pl_buf_setup(&buf, mem);
	if (ret == -EOPNOTSUPP) {
		ksft_test_result_skip("%s: no free hugetlb pages\n", pl_mem_name(mem));
		for (f = 0; f < 3; f++)
			ksft_test_result_skip("%s %s: no free hugetlb pages\n",
					      pl_mem_name(mem), f < 2 ? fss[f] : "lru");
		return;
	}
	ret = ret ? ret : io_uring_queue_init(4, &ring, 0);
	if (ret) {
		ksft_test_result_fail("%s: setup: %s\n", pl_mem_name(mem),
				      strerror(-ret));
		if (!want)
			for (f = 0; f < 3; f++)
				ksft_test_result_fail("%s %s: setup\n",
						      pl_mem_name(mem), f < 2 ? fss[f] : "lru");
		pl_buf_teardown(&buf);
		return;
	}
	np = buf.len / pl_page_size;
	iov.iov_base = buf.addr;
	iov.iov_len = buf.len;
	c0 = pl_pins_now();
	ret = io_uring_register_buffers(&ring, &iov, 1);
	c1 = pl_pins_now();
	snprintf(result, sizeof(result), "%s", ret ? pl_errno_name(-ret) : "ok");
	if (-ret != want) {
		ksft_print_msg("register: %s, expected %s\n", result,
			       want ? pl_errno_name(want) : "ok");
		ok = 0;
	}
	if (ret && want == EFAULT) {
		/*
		 * GUP refused: its fast path may have grabbed and put back
		 * the first mapped folio (gup_fast_folio_allowed()), the
		 * slow path takes nothing.
		 */
		if (c1.acq - c0.acq > 1 || c1.acq - c0.acq != c1.rel - c0.rel) {
			ksft_print_msg("register pins: +%ld acquired +%ld released, expected at most 1, balanced\n",
				       c1.acq - c0.acq, c1.rel - c0.rel);
			ok = 0;
		}
	} else if (c1.acq - c0.acq != (long)np ||
		   c1.rel - c0.rel != (ret ? (long)np : released_at_register(mem, np))) {
		/* pinned either way; a refusal unpins at once */
		ksft_print_msg("register pins: +%ld acquired +%ld released, expected +%zu +%ld\n",
			       c1.acq - c0.acq, c1.rel - c0.rel, np,
			       ret ? (long)np : released_at_register(mem, np));
		ok = 0;
	}
	if (!ret) {
		for (f = 0; f < 2; f++) {
			int io_ok = io_through(&ring, &buf, fss[f],
					       dirs[f] ? dirs[f] : f ? "/mnt/xfs" : "/mnt/ext4",
					       ++seq);

			io_res[f] = io_ok ? "verified" : "BAD";
			ksft_test_result(io_ok, "%s %s: WRITE_FIXED + READ_FIXED O_DIRECT, data verified\n",
					 pl_mem_name(mem), fss[f]);
		}
		lru_test(&ring, &buf, where, sizeof(where));
	}
	c2 = pl_pins_now();
	if (c2.acq != c1.acq ||
	    c2.rel - c0.rel != (ret && want == EFAULT ? c1.acq - c0.acq : (long)np)) {
		ksft_print_msg("after unregister: +%ld acquired, +%ld released since register, expected +%ld released\n",
			       c2.acq - c1.acq, c2.rel - c0.rel,
			       ret && want == EFAULT ? c1.acq - c0.acq : (long)np);
		ok = 0;
	}
	io_uring_queue_exit(&ring);
	printf("# MATRIX table=uring_fixed memory=%s | register=%s ext4=%s xfs=%s registered=%s pins_acq_rel=%ld/%ld\n",
	       pl_mem_name(mem), result, io_res[0], io_res[1], where,
	       c2.acq - c0.acq, c2.rel - c0.rel);
	pl_buf_teardown(&buf);
	ksft_test_result(ok, "%s: register -> %s, pins balanced after unregister\n",
			 pl_mem_name(mem), result);
}

int main(void)
{
	struct io_uring ring;
	int mem, planned = 0, ret;

	pl_page_size = sysconf(_SC_PAGESIZE);
	ksft_print_header();
	ret = io_uring_queue_init(2, &ring, 0);
	if (ret == -ENOSYS || ret == -EPERM)
		ksft_exit_skip("no io_uring: %s\n", strerror(-ret));
	if (ret)
		ksft_exit_fail_msg("io_uring_queue_init: %s\n", strerror(-ret));
	io_uring_queue_exit(&ring);
	for (mem = 0; mem < PL_MEM_COUNT; mem++)
		planned += 1 + (expected_errno(mem) ? 0 : 3);
	ksft_set_plan(planned);
	for (mem = 0; mem < PL_MEM_COUNT; mem++)
		run_mem(mem);
	ksft_finished();
}

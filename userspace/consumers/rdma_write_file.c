// SPDX-License-Identifier: GPL-2.0
/*
 * rdma_write_file: a real RDMA "device" (Soft-RoCE, two RC QPs of the one
 * rxe device connected to each other) writing into and reading from
 * ext4/xfs file pages it holds registered, and what reaches the disk.
 *
 * Stock 6.1:
 * - shared, RDMA WRITE: ibv_reg_mr() pins the page-cache pages with
 *   FOLL_WRITE|FOLL_LONGTERM (ib_umem_get()).  fsync right after the
 *   registration cleans them (and write-protects the PTEs).  rxe then
 *   writes the payload through the kernel mapping of the pinned pages
 *   (rxe_mr_copy() -> memcpy into page_address()), which dirties nothing,
 *   so a second fsync while registered writes nothing: all 16 written pages
 *   are stale on disk (read back with O_DIRECT).  ibv_dereg_mr() ->
 *   ib_umem_release() -> __ib_umem_release(.., dirty=1) ->
 *   unpin_user_page_range_dirty_lock(.., make_dirty = umem->writable)
 *   dirties them, and the next fsync writes them: 0 stale.
 * - shared, RDMA READ: the MR maps the page-cache pages themselves, so bytes
 *   changed by pwrite(2) while the MR is registered are what the READ
 *   returns.
 * - private, RDMA WRITE: the FOLL_WRITE pin broke COW, the MR holds
 *   anonymous copies: the payload shows in the mapping, the file (page
 *   cache and disk) keeps its original bytes.
 *
 * - shared, RDMA WRITE, 8 MiB MR in a 32M memcg, no fsync: the group's
 *   dirty limit makes the flusher clean part of the registered pages; the
 *   ones clean at the RDMA WRITE are stale on disk while registered (see
 *   memcg_write()).
 *
 * The same on every kernel: the series (v2) keeps the registered pages
 * unevictable and does not touch writeback.  (v1 re-dirtied them whenever
 * their writeback ended: 0 stale while registered.)
 *
 * 6.12 (stock612): the writable MRs of the MAP_SHARED files are refused
 * with EFAULT (reg_refused()); the private case registers (anonymous COW
 * copies) and behaves as on 6.1.
 *
 * One "# MATRIX table=rdma_write" line per case.
 */
#include <fcntl.h>
#include <sys/mman.h>

#include "lib/pl_verbs.h"

#define TAG	0x52444d41U	/* "RDMA" */
#define RW	(IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE | \
		 IBV_ACCESS_REMOTE_READ)

static struct pl_rdma r;
static char *anon;
static size_t anon_len;
static struct ibv_mr *anon_mr;

static const char *fs_name(enum pl_mem mem)
{
	return mem == PL_MEM_EXT4_SHARED || mem == PL_MEM_EXT4_PRIVATE ?
	       "ext4" : "xfs";
}

/* Pages of the file's page cache (read(2)) holding stamps of seq. */
static size_t cache_stamped(struct pl_buf *buf, __u32 seq)
{
	char *data = malloc(buf->len);
	size_t n = 0;

	if (data && pread(buf->fd, data, buf->len, 0) == (ssize_t)buf->len)
		n = pl_count_stamped(data, buf->len, TAG, 0, seq);
	free(data);
	return n;
}

static int balanced(struct pl_pins a, struct pl_pins b, size_t np)
{
	if (b.acq - a.acq == (long)np && b.rel - a.rel == (long)np)
		return 1;
	ksft_print_msg("pins: +%ld acquired, +%ld released, expected +%zu each\n",
		       b.acq - a.acq, b.rel - a.rel, np);
	return 0;
}

/*
 * 6.12 (stock612): ib_umem_get() pins a writable MR with FOLL_LONGTERM |
 * FOLL_WRITE, which GUP refuses for ext4/xfs MAP_SHARED with EFAULT
 * (pinlab.h, writable_file_mapping_allowed()): no MR, so no RDMA into the
 * file at all.  Its lockless walk may grab and put back the first mapped
 * folio (gup_fast_folio_allowed()): at most one pin, balanced.  Checks
 * that on a fresh @len-byte buffer and reports the case as refused;
 * returns 1 then, 0 where the kernel registers.
 */
static int reg_refused(enum pl_mem mem, size_t len, const char *what)
{
	struct pl_pins c0, c1;
	struct ibv_mr *mr;
	struct pl_buf buf;
	int ok, err;

	if (!pl_pin_refusal(mem, MOCKDMA_METHOD_PIN_FAST,
			    MOCKDMA_PIN_LONGTERM | MOCKDMA_PIN_WRITE))
		return 0;
	ok = !pl_buf_setup_len(&buf, mem, len);
	c0 = pl_pins_now();
	mr = ok ? ibv_reg_mr(r.pd, buf.addr, buf.len, RW) : NULL;
	err = errno;
	if (mr)
		ibv_dereg_mr(mr);
	c1 = pl_pins_now();
	pl_buf_teardown(&buf);
	ksft_print_msg("[INFO] %s %s: ibv_reg_mr %s, pins +%ld/-%ld\n",
		       fs_name(mem), what, mr ? "registered" : pl_errno_name(err),
		       c1.acq - c0.acq, c1.rel - c0.rel);
	printf("# MATRIX table=rdma_write fs=%s case=%s | result=%s\n",
	       fs_name(mem), what, mr ? "REGISTERED" : "REFUSED (EFAULT)");
	ksft_test_result(ok && !mr && err == EFAULT && c1.acq - c0.acq <= 1 &&
			 c1.acq - c0.acq == c1.rel - c0.rel,
			 "%s %s: ibv_reg_mr of the MAP_SHARED file REFUSED (EFAULT)\n",
			 fs_name(mem), what);
	return 1;
}

static void shared_write(enum pl_mem mem, __u32 seq)
{
	size_t np, written, stale_reg = 0, stale_dereg = 0;
	struct pl_pins c0, c1;
	struct ibv_mr *mr;
	struct pl_buf buf;
	int ok = 0, ret;

	ksft_print_msg("[RUN] RDMA WRITE into %s MAP_SHARED\n", fs_name(mem));
	if (reg_refused(mem, 16 * pl_page_size, "shared write"))
		return;
	if (pl_buf_setup(&buf, mem)) {
		ksft_test_result_fail("%s shared write: setup\n", fs_name(mem));
		pl_buf_teardown(&buf);
		return;
	}
	np = buf.len / pl_page_size;
	pl_fill_stamps(anon, buf.len, TAG, seq);
	c0 = pl_pins_now();
	mr = ibv_reg_mr(r.pd, buf.addr, buf.len, RW);
	if (!mr) {
		ksft_print_msg("ibv_reg_mr: %s\n", strerror(errno));
		goto out;
	}
	/* the pin's write fault dirtied the pages: clean them now */
	if (pl_fsync(buf.fd))
		goto out_dereg;
	ret = pl_rdma_rw(&r, IBV_WR_RDMA_WRITE, anon_mr, anon, buf.len, mr,
			 buf.addr);
	if (ret) {
		ksft_print_msg("RDMA WRITE: %s\n", strerror(-ret));
		goto out_dereg;
	}
	written = pl_count_stamped(buf.addr, buf.len, TAG, 0, seq);
	if (written != np) {
		ksft_print_msg("only %zu/%zu pages written (seen through the mapping)\n",
			       written, np);
		goto out_dereg;
	}
	if (pl_fsync(buf.fd))
		goto out_dereg;
	stale_reg = np - pl_disk_stamped(&buf, TAG, seq);
	ok = 1;
out_dereg:
	if (ibv_dereg_mr(mr))
		ok = 0;
	c1 = pl_pins_now();
	if (ok) {
		ok = !pl_fsync(buf.fd);
		stale_dereg = np - pl_disk_stamped(&buf, TAG, seq);
		ok &= balanced(c0, c1, np);
	}
out:
	ksft_print_msg("[INFO] %s: %zu/%zu pages stale on disk after fsync while registered, %zu after dereg + fsync\n",
		       fs_name(mem), stale_reg, np, stale_dereg);
	printf("# MATRIX table=rdma_write fs=%s map=shared op=write | stale_while_registered=%zu/%zu stale_after_dereg=%zu result=%s\n",
	       fs_name(mem), stale_reg, np, stale_dereg,
	       ok ? "ok" : "error");
	pl_buf_teardown(&buf);
	ksft_test_result(ok && stale_reg == np &&
			 stale_dereg == 0,
			 "%s shared: RDMA WRITE stale on disk while registered (stock), written after dereg\n",
			 fs_name(mem));
}

static void shared_read(enum pl_mem mem, __u32 seq)
{
	struct pl_pins c0, c1;
	struct ibv_mr *mr;
	struct pl_buf buf;
	size_t np, got = 0;
	int ok = 0, ret;
	void *pat = NULL;

	ksft_print_msg("[RUN] RDMA READ from %s MAP_SHARED after pwrite\n",
		       fs_name(mem));
	if (reg_refused(mem, 16 * pl_page_size, "shared read"))
		return;
	if (pl_buf_setup(&buf, mem)) {
		ksft_test_result_fail("%s shared read: setup\n", fs_name(mem));
		pl_buf_teardown(&buf);
		return;
	}
	np = buf.len / pl_page_size;
	c0 = pl_pins_now();
	mr = ibv_reg_mr(r.pd, buf.addr, buf.len, RW);
	if (!mr) {
		ksft_print_msg("ibv_reg_mr: %s\n", strerror(errno));
		goto out;
	}
	pat = malloc(buf.len);
	if (!pat)
		goto out_dereg;
	pl_fill_stamps(pat, buf.len, TAG, seq);
	if (pwrite(buf.fd, pat, buf.len, 0) != (ssize_t)buf.len)
		goto out_dereg;
	memset(anon, 0, buf.len);
	ret = pl_rdma_rw(&r, IBV_WR_RDMA_READ, anon_mr, anon, buf.len, mr,
			 buf.addr);
	if (ret) {
		ksft_print_msg("RDMA READ: %s\n", strerror(-ret));
		goto out_dereg;
	}
	got = pl_count_stamped(anon, buf.len, TAG, 0, seq);
	ok = 1;
out_dereg:
	if (ibv_dereg_mr(mr))
		ok = 0;
	c1 = pl_pins_now();
	ok = ok && balanced(c0, c1, np);
out:
	free(pat);
	printf("# MATRIX table=rdma_write fs=%s map=shared op=read-after-pwrite | stale_while_registered=- stale_after_dereg=- result=%s\n",
	       fs_name(mem), !ok ? "error" : got == np ? "new-bytes" : "OLD-BYTES");
	pl_buf_teardown(&buf);
	ksft_test_result(ok && got == np,
			 "%s shared: RDMA READ returns bytes pwrite(2) put there\n",
			 fs_name(mem));
}

static void private_write(enum pl_mem mem, __u32 seq)
{
	size_t np, in_map = 0, in_cache = 0;
	struct pl_pins c0, c1;
	struct ibv_mr *mr;
	struct pl_buf buf;
	int ok = 0, untouched = 0, ret;

	ksft_print_msg("[RUN] RDMA WRITE into %s MAP_PRIVATE\n", fs_name(mem));
	if (pl_buf_setup(&buf, mem)) {
		ksft_test_result_fail("%s private write: setup\n", fs_name(mem));
		pl_buf_teardown(&buf);
		return;
	}
	np = buf.len / pl_page_size;
	pl_fill_stamps(anon, buf.len, TAG, seq);
	c0 = pl_pins_now();
	mr = ibv_reg_mr(r.pd, buf.addr, buf.len, RW);
	if (!mr) {
		ksft_print_msg("ibv_reg_mr: %s\n", strerror(errno));
		goto out;
	}
	ret = pl_rdma_rw(&r, IBV_WR_RDMA_WRITE, anon_mr, anon, buf.len, mr,
			 buf.addr);
	if (ret) {
		ksft_print_msg("RDMA WRITE: %s\n", strerror(-ret));
		goto out_dereg;
	}
	in_map = pl_count_stamped(buf.addr, buf.len, TAG, 0, seq);
	ok = 1;
out_dereg:
	if (ibv_dereg_mr(mr))
		ok = 0;
	c1 = pl_pins_now();
	if (ok) {
		ok = !pl_fsync(buf.fd) && balanced(c0, c1, np);
		in_cache = cache_stamped(&buf, seq);
		untouched = in_cache == 0 && pl_disk_is_original(&buf);
	}
out:
	ksft_print_msg("[INFO] %s private: %zu/%zu pages written in the mapping, %zu in the page cache, disk %s\n",
		       fs_name(mem), in_map, np, in_cache,
		       untouched ? "original" : "CHANGED");
	printf("# MATRIX table=rdma_write fs=%s map=private op=write | stale_while_registered=- stale_after_dereg=- result=%s\n",
	       fs_name(mem), !ok ? "error" : !untouched ? "FILE-CHANGED" :
	       in_map == np ? "private-copy,file-untouched" : "NOT-WRITTEN");
	pl_buf_teardown(&buf);
	ksft_test_result(ok && untouched && in_map == np,
			 "%s private: RDMA WRITE lands in the private copy, file untouched\n",
			 fs_name(mem));
}

/*
 * Memcg writeback before the device writes: an 8 MiB MR registered inside
 * a memcg with memory.max=32M.  ibv_reg_mr()'s write faults dirty the 2048
 * pages faster than the group's dirty limit allows, so
 * balance_dirty_pages() makes the flusher write part of them back while
 * the MR is registered: those pages are clean, and stay so when rxe writes
 * them.  After the flusher has gone quiet, each page's PG_dirty is read
 * (kpageflags), the whole MR is RDMA-written, PG_dirty is read again (a
 * page written back in between is not judged: at most half may be), the
 * file is fsync'ed while still registered and read from the block device.
 *
 * Stock and base: exactly the pages that were clean at the RDMA WRITE are
 * stale on disk (page by page, not just their number), and there are at
 * least np/5 of them: the group's dirty limit is dirty_ratio (20 %) of its
 * dirtyable memory, at most its 32 MiB, so at most 6.4 MiB of the 8 MiB can
 * be dirty once balance_dirty_pages() has throttled the faults.  After
 * dereg (rxe dirties what it pinned) + fsync none is stale.
 * The same with the series (v2).  The pages the flusher writes in one idle
 * second while registered are recorded: v1, which re-dirtied every
 * write-pinned page at writeback end, rewrote the range there non-stop.
 */
#define MEMCG_MR	(8UL << 20)
#define MEMCG_MAX	(32L << 20)

/* Waits (at most 3 s) until the group has no writeback and a stable dirty count. */
static int memcg_quiet(struct pl_memcg *cg)
{
	long last = -1;
	int stable = 0, i;

	for (i = 0; i < 30 && stable < 3; i++) {
		long dirty = pl_memcg_stat(cg, "file_dirty");
		long wb = pl_memcg_stat(cg, "file_writeback");

		stable = wb == 0 && dirty == last ? stable + 1 : 0;
		last = dirty;
		usleep(100 * 1000);
	}
	return stable >= 3;
}

static void memcg_write(enum pl_mem mem, __u32 seq)
{
	size_t np = MEMCG_MR / pl_page_size, clean = 0, in_wb = 0, p;
	size_t stale_reg = 0, mismatched = 0, stale_dereg = 0, raced = 0;
	int quiet = 0, ok = 0, ret;
	struct ibv_mr *mr = NULL, *src_mr = NULL;
	long written0, idle_written = -1;
	unsigned char *was_clean = calloc(np, 1);
	char *disk = malloc(MEMCG_MR);
	struct pl_memcg cg;
	struct pl_buf buf = { .fd = -1 };
	char *src = MAP_FAILED;

	ksft_print_msg("[RUN] RDMA WRITE into %s MAP_SHARED, 8 MiB MR in a 32M memcg\n",
		       fs_name(mem));
	if (reg_refused(mem, MEMCG_MR, "memcg")) {
		free(was_clean);
		free(disk);
		return;
	}
	if (!was_clean || !disk)
		ksft_exit_fail_msg("out of memory\n");
	/* Fault the oracle's buffer in now, charged outside the 32M group. */
	memset(disk, 0, MEMCG_MR);
	if (pl_memcg_enter(&cg, "rdma-memcg", MEMCG_MAX)) {
		ksft_test_result_fail("%s memcg: cannot enter a memcg\n",
				      fs_name(mem));
		return;
	}
	src = mmap(NULL, MEMCG_MR, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (src == MAP_FAILED || pl_buf_setup_len(&buf, mem, MEMCG_MR))
		goto out;
	pl_fill_stamps(src, MEMCG_MR, TAG, seq);
	src_mr = ibv_reg_mr(r.pd, src, MEMCG_MR, RW);
	mr = ibv_reg_mr(r.pd, buf.addr, buf.len, RW);
	if (!src_mr || !mr) {
		ksft_print_msg("ibv_reg_mr: %s\n", strerror(errno));
		goto out;
	}
	quiet = memcg_quiet(&cg);
	written0 = pl_vmstat("nr_written");
	sleep(1);
	idle_written = pl_vmstat("nr_written") - written0;
	for (p = 0; p < np; p++) {
		__u64 f;

		if (pl_page_flags(buf.addr + p * pl_page_size, &f))
			goto out;
		was_clean[p] = !(f & (1ULL << PL_KPF_DIRTY));
		clean += was_clean[p];
		/*
		 * Under writeback at the census: whether the device reads
		 * the page before or after the RDMA WRITE lands is the
		 * block layer's timing, so not judged either (counted).
		 */
		if (f & (1ULL << PL_KPF_WRITEBACK)) {
			was_clean[p] = 2;
			in_wb++;
		}
	}
	ret = pl_rdma_rw(&r, IBV_WR_RDMA_WRITE, src_mr, src, MEMCG_MR, mr,
			 buf.addr);
	if (ret) {
		ksft_print_msg("RDMA WRITE: %s\n", strerror(-ret));
		goto out;
	}
	/*
	 * A page dirty at the census that is clean now was written back in
	 * between (the periodic flusher: its dirty_expire_centisecs may run
	 * out meanwhile on a slow kernel), before or after the RDMA WRITE
	 * reached it: which, nothing tells, so it is left out of the page by
	 * page verdict and counted.
	 */
	for (p = 0; p < np; p++) {
		__u64 f;

		if (pl_page_flags(buf.addr + p * pl_page_size, &f))
			goto out;
		if (!was_clean[p] && !(f & (1ULL << PL_KPF_DIRTY))) {
			was_clean[p] = 2;
			raced++;
		}
	}
	if (!pl_device_wrote(&buf, TAG, seq) || pl_fsync(buf.fd))
		goto out;
	ret = pl_disk_read(buf.fd, 0, MEMCG_MR, disk, NULL);
	if (ret)
		goto out;
	for (p = 0; p < np; p++) {
		int stale = pl_count_stamped(disk + p * pl_page_size,
					     pl_page_size, TAG, p, seq) != 1;

		stale_reg += stale;
		if (was_clean[p] != 2)
			mismatched += stale != was_clean[p];
	}
	ok = 1;
out:
	if (mr && ibv_dereg_mr(mr))
		ok = 0;
	if (ok) {
		ok = !pl_fsync(buf.fd);
		stale_dereg = np - pl_disk_stamped(&buf, TAG, seq);
	}
	if (src_mr)
		ibv_dereg_mr(src_mr);
	if (src != MAP_FAILED)
		munmap(src, MEMCG_MR);
	pl_buf_teardown(&buf);
	pl_memcg_leave(&cg);
	free(was_clean);
	free(disk);

	ksft_print_msg("[INFO] %s memcg: flusher %s; %zu/%zu pages clean and %zu under writeback (not judged) at the RDMA WRITE; %ld pages written back in 1 s idle; %zu written back around the RDMA WRITE (not judged); stale on disk after fsync while registered %zu (%zu judged pages not the clean ones), %zu after dereg + fsync\n",
		       fs_name(mem), quiet ? "quiet" : "still busy after 3 s",
		       clean, np, in_wb, idle_written, raced, stale_reg,
		       mismatched, stale_dereg);
	printf("# MATRIX table=rdma_write fs=%s map=shared op=write-memcg | stale_while_registered=%zu/%zu stale_after_dereg=%zu result=%s\n",
	       fs_name(mem), stale_reg, np, stale_dereg, ok ? "ok" : "error");
	printf("# MATRIX table=rdma_memcg fs=%s | clean_at_write=%zu/%zu stale_while_registered=%zu stale_after_dereg=%zu idle_writeback_pages_per_s=%ld\n",
	       fs_name(mem), clean, np, stale_reg, stale_dereg, idle_written);
	/* Most pages judged: a verdict on a handful would say little. */
	ok &= quiet && clean >= np / 5 && mismatched == 0 &&
	      raced + in_wb <= np / 2;
	ksft_test_result(ok && stale_dereg == 0,
			 "%s memcg: pages memcg writeback cleaned stay stale on disk while registered, written after dereg\n",
			 fs_name(mem));
}

int main(void)
{
	static const enum pl_mem shared[] = { PL_MEM_EXT4_SHARED, PL_MEM_XFS_SHARED };
	static const enum pl_mem priv[] = { PL_MEM_EXT4_PRIVATE, PL_MEM_XFS_PRIVATE };
	const char *why = NULL;
	__u32 seq = 1;
	int ret, i;

	ksft_print_header();
	ret = pl_rdma_open(&r, 1, &why);
	if (ret == -ENODEV)
		ksft_exit_skip("%s\n", why);
	if (ret)
		ksft_exit_fail_msg("%s: %s\n", why, strerror(-ret));
	ksft_print_msg("[INFO] device %s, GID index %d, QPs %u <-> %u\n",
		       r.name, r.gid_index, r.qp[0]->qp_num, r.qp[1]->qp_num);
	anon_len = 16 * pl_page_size;
	anon = mmap(NULL, anon_len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (anon == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	memset(anon, 0, anon_len);
	anon_mr = ibv_reg_mr(r.pd, anon, anon_len, RW);
	if (!anon_mr)
		ksft_exit_fail_msg("ibv_reg_mr anon: %s\n", strerror(errno));

	ksft_set_plan(8);
	for (i = 0; i < 2; i++) {
		shared_write(shared[i], seq++);
		shared_read(shared[i], seq++);
		private_write(priv[i], seq++);
	}
	for (i = 0; i < 2; i++)
		memcg_write(shared[i], seq++);
	ibv_dereg_mr(anon_mr);
	munmap(anon, anon_len);
	pl_rdma_close(&r);
	ksft_finished();
}

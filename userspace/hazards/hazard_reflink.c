// SPDX-License-Identifier: GPL-2.0
/*
 * hazard_reflink (H1): a reflinked clone of a write-pinned xfs file must
 * never change on disk.  Dave Chinner's objection: a device writing into
 * pinned page cache bypasses ->page_mkwrite, so the filesystem never gets
 * to break the sharing (xfs reserves a CoW fork extent only in
 * xfs_buffered_write_iomap_begin(), called from the fault and write paths);
 * whatever later marks the folio dirty and writes it back writes in place,
 * over blocks the clone shares.
 *
 * Per case, on xfs (reflink=1), 16 pages of file A MAP_SHARED, pinned for
 * write (long-term FOLL_PIN, or legacy get_user_pages()):
 *   1. the device writes generation 1 into A's pinned pages;
 *   2. A is cloned into B: FICLONE (whole file) or FICLONERANGE (pages
 *      4..11 of A into pages 0..7 of B, B first filled and synced with its
 *      own bytes).  The clone flushes A first (xfs_reflink_remap_prep() ->
 *      filemap_write_and_wait_range()), so B shares A's blocks holding
 *      generation 1;
 *   3. the device writes generation 2 into A's pinned pages; fsync(A)
 *      while still pinned: "pinned" state of B and A on disk;
 *   4. unpin (dirtying as ib_umem does, or clean), fsync(A), fsync(B):
 *      "final" state.
 * All disk bytes come from the block device (FIEMAP of each file, then the
 * device itself); A is judged on the pages it shares with B.
 *
 * Expected, stock and base (no series): while pinned nothing dirties A
 * (FICLONE's flush cleaned it, the device does not dirty), so B and A both
 * hold generation 1.  A dirtying unpin marks A's folios dirty without
 * ->page_mkwrite: writeback finds no CoW fork extent and writes
 * generation 2 in place, into the shared blocks: B is CORRUPTED (every
 * cloned page holds generation 2).  A clean unpin leaves everything at
 * generation 1 (A loses the device's second write, B is intact).
 * Patched (v2), long-term pin: patch 0006 makes
 * generic_remap_file_range_prep() refuse the clone with ETXTBSY while a
 * folio of the range has a long-term pin: B is never created from A (an
 * empty file for FICLONE, its own bytes for FICLONERANGE), and A behaves
 * as on stock (generation 1 on disk while pinned; generation 2 after a
 * dirtying unpin, generation 1 after a clean one).  Legacy GUP is not a
 * pin the kernel can see: cloned and corrupted as on stock.  (v1
 * re-dirtied the pinned folios at writeback end, so B was CORRUPTED while
 * A was still pinned.)
 * 6.12 (stock612): the long-term write pin of the xfs file is refused with
 * EFAULT (pinlab.h, writable_file_mapping_allowed()), so no device writes
 * over the shared extent through it; legacy GUP is granted and corrupts
 * the clone as on stock (the reflink and writeback paths are unchanged).
 */
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "lib/pinlab.h"

#define NP		16
#define RANGE_FIRST	4	/* FICLONERANGE: A's pages 4..11 */
#define RANGE_PAGES	8

enum clone { WHOLE, RANGE, NR_CLONES };
static const char *const clone_name[] = { "ficlone", "ficlonerange" };

/* B's own bytes before a FICLONERANGE: never a stamp, never A's pattern. */
#define B_BYTE	0x42

enum gen { GEN_NONE, GEN1, GEN2, GEN_MIXED };
static const char *const gen_name[] = { "b-own", "gen1", "gen2", "mixed" };

/*
 * What @n pages of @data starting at A's page @first hold: all A's
 * generation-1 stamps, all generation-2, all B's own bytes, or a mixture.
 */
static enum gen pages_hold(const char *data, size_t n, __u32 h, size_t first,
			   __u32 seq1, __u32 seq2)
{
	size_t g1 = 0, g2 = 0, own = 0, p, i;

	for (p = 0; p < n; p++) {
		const char *pg = data + p * pl_page_size;
		int all_own = 1;

		g1 += pl_count_stamped(pg, pl_page_size, h, first + p, seq1);
		g2 += pl_count_stamped(pg, pl_page_size, h, first + p, seq2);
		for (i = 0; i < pl_page_size && all_own; i++)
			all_own = pg[i] == B_BYTE;
		own += all_own;
	}
	return g1 == n ? GEN1 : g2 == n ? GEN2 : own == n ? GEN_NONE : GEN_MIXED;
}

static int disk_of(int fd, size_t len, char *dst)
{
	int ret = pl_disk_read(fd, 0, len, dst, NULL);

	if (ret)
		ksft_print_msg("oracle: %s\n", strerror(-ret));
	return ret;
}

/*
 * B on disk; a FICLONE that was refused left B empty: "B's own bytes"
 * (GEN_NONE) then, as for an untouched FICLONERANGE destination.
 */
static int clone_of(int fd, size_t len, char *dst)
{
	struct stat st;

	if (fstat(fd, &st))
		return -errno;
	if (st.st_size == 0) {
		memset(dst, B_BYTE, len);
		return 0;
	}
	return disk_of(fd, len, dst);
}

static void run_case(int mfd, enum clone cl, unsigned int p, int dirty)
{
	size_t len = NP * pl_page_size, blen, first, n;
	enum gen b_pinned = GEN_MIXED, b_final = GEN_MIXED;
	enum gen a_pinned = GEN_MIXED, a_final = GEN_MIXED;
	enum gen want_b_pinned, want_b_final, want_a_pinned, want_a_final;
	/* patch 0006: ETXTBSY while a folio of the range is long-term pinned */
	int refuses = p == PL_PIN_LONGTERM && pl_kernel_patched();
	char bpath[300], *a = malloc(len), *b = malloc(len);
	int bfd = -1, ok, clone_err = -1;
	struct pl_buf buf;
	__u32 h, seq1 = 0, seq2 = 0;

	if (!a || !b)
		ksft_exit_fail_msg("out of memory\n");
	if (pl_refused_case(mfd, PL_MEM_XFS_SHARED, pl_pin_kinds[p].method,
			    pl_pin_kinds[p].flags, "%s %s unpin-%s",
			    clone_name[cl], pl_pin_kinds[p].name,
			    dirty ? "dirty" : "clean")) {
		printf("# MATRIX table=hazards id=H1 hazard=reflink case=%s-%s-unpin-%s | outcome=REFUSED (EFAULT)\n",
		       clone_name[cl], pl_pin_kinds[p].name,
		       dirty ? "dirty" : "clean");
		free(a);
		free(b);
		return;
	}
	if (pl_buf_setup_pinned(&buf, PL_MEM_XFS_SHARED, mfd,
				pl_pin_kinds[p].method, pl_pin_kinds[p].flags,
				&h)) {
		ksft_test_result_fail("%s %s unpin-%s: set-up\n", clone_name[cl],
				      pl_pin_kinds[p].name, dirty ? "dirty" : "clean");
		free(a);
		free(b);
		return;
	}
	first = cl == RANGE ? RANGE_FIRST : 0;
	n = cl == RANGE ? RANGE_PAGES : NP;
	blen = n * pl_page_size;
	snprintf(bpath, sizeof(bpath), "%s.clone", buf.path);
	bfd = open(bpath, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ok = bfd >= 0;
	if (ok && cl == RANGE) {
		memset(b, B_BYTE, blen);
		ok = pwrite(bfd, b, blen, 0) == (ssize_t)blen && !pl_fsync(bfd);
	}

	ok = ok && !pl_dma_write(mfd, h, 0, len, 0, &seq1) &&
	     pl_device_wrote(&buf, h, seq1);
	if (ok && cl == WHOLE) {
		clone_err = ioctl(bfd, FICLONE, buf.fd) ? -errno : 0;
	} else if (ok) {
		struct file_clone_range r = {
			.src_fd = buf.fd, .src_offset = first * pl_page_size,
			.src_length = blen, .dest_offset = 0,
		};

		clone_err = ioctl(bfd, FICLONERANGE, &r) ? -errno : 0;
	}
	if (!ok || clone_err)
		ksft_print_msg("set-up, first write or clone: %s\n",
			       strerror(ok ? -clone_err : errno));
	ok = ok && clone_err == (refuses ? -ETXTBSY : 0);
	ok = ok && !pl_dma_write(mfd, h, 0, len, 0, &seq2) &&
	     pl_device_wrote(&buf, h, seq2) && !pl_fsync(buf.fd) &&
	     !clone_of(bfd, blen, b) && !disk_of(buf.fd, len, a);
	if (ok) {
		b_pinned = pages_hold(b, n, h, first, seq1, seq2);
		a_pinned = pages_hold(a + first * pl_page_size, n, h, first,
				      seq1, seq2);
	}
	ok = !pl_unpin(mfd, h, dirty ? MOCKDMA_UNPIN_DIRTY : 0) && ok &&
	     !pl_fsync(buf.fd) && !pl_fsync(bfd) &&
	     !clone_of(bfd, blen, b) && !disk_of(buf.fd, len, a);
	if (ok) {
		b_final = pages_hold(b, n, h, first, seq1, seq2);
		a_final = pages_hold(a + first * pl_page_size, n, h, first,
				     seq1, seq2);
	}
	if (bfd >= 0)
		close(bfd);
	unlink(bpath);
	pl_buf_teardown(&buf);
	free(a);
	free(b);

	/* See the header comment. */
	want_a_pinned = GEN1;
	want_a_final = dirty ? GEN2 : GEN1;
	want_b_pinned = refuses ? GEN_NONE : want_a_pinned;
	want_b_final = refuses ? GEN_NONE : want_a_final;
	ksft_print_msg("[INFO] %s %s unpin-%s: clone B %s while pinned, %s final; source A %s, %s\n",
		       clone_name[cl], pl_pin_kinds[p].name,
		       dirty ? "dirty" : "clean", gen_name[b_pinned],
		       gen_name[b_final], gen_name[a_pinned], gen_name[a_final]);
	printf("# MATRIX table=hazards id=H1 hazard=reflink case=%s-%s-unpin-%s | outcome=%s\n",
	       clone_name[cl], pl_pin_kinds[p].name, dirty ? "dirty" : "clean",
	       !ok ? "ERROR" :
	       clone_err == -ETXTBSY ? a_final != GEN2 ?
	       "REFUSED (ETXTBSY), source STALE" : "REFUSED (ETXTBSY)" :
	       b_pinned != GEN1 ? "CORRUPTED (clone changed while pinned)" :
	       b_final != GEN1 ? "CORRUPTED (clone changed at unpin)" :
	       a_final != GEN2 ? "OK clone, source STALE" : "OK");
	ksft_test_result(ok && b_pinned == want_b_pinned &&
			 b_final == want_b_final && a_pinned == want_a_pinned &&
			 a_final == want_a_final,
			 "%s %s unpin-%s: clone on disk while pinned and after unpin as this kernel does it\n",
			 clone_name[cl], pl_pin_kinds[p].name,
			 dirty ? "dirty" : "clean");
}

int main(void)
{
	int fd = pl_open_or_skip();
	unsigned int cl, p;
	int dirty;

	ksft_set_plan(NR_CLONES * PL_PIN_KINDS * 2);
	for (cl = 0; cl < NR_CLONES; cl++)
		for (p = 0; p < PL_PIN_KINDS; p++)
			for (dirty = 1; dirty >= 0; dirty--)
				run_case(fd, cl, p, dirty);
	close(fd);
	ksft_finished();
}

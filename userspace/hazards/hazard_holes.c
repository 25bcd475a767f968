// SPDX-License-Identifier: GPL-2.0
/*
 * hazard_holes (H3): a hole punched under a write-pinned page.  Dave
 * Chinner's objection: a folio the device writes and a dirtying release
 * marks dirty never went through ->page_mkwrite, so no block was reserved
 * for it; if the block under it is gone (a punched hole), writeback has to
 * allocate with no reservation, and at ENOSPC the data is lost silently;
 * "xfs skips holes".
 *
 * Per case, a 16-page MAP_SHARED file, long-term write-pinned (FOLL_PIN) or
 * held by legacy get_user_pages(), cleaned by fsync while pinned:
 *   punch   FALLOC_FL_PUNCH_HOLE | KEEP_SIZE over pages 4..11;
 *   enospc  the same over page 0 only, then the filesystem is filled with a
 *           fallocated filler file until a one-page fallocate fails with
 *           ENOSPC (as root: ext4's root reserve is used up too);
 * then the device writes all 16 pinned pages (checked by the device's own
 * read, DMA_READ: the CPU mapping over a hole may show another page), the
 * release dirties them (unpin_user_pages_dirty_lock / set_page_dirty_lock),
 * fsync and msync(MS_SYNC) are checked for their return and errno, and the
 * file is read from the block device, holes allowed (a hole reads zero).
 * Memories: ext4 and xfs with the order-0 folios buffered writes create, and
 * xfs with one 16-page (order-4) folio ("xfs-large": file evicted, mapped
 * with MADV_HUGEPAGE, read-faulted: do_sync_mmap_readahead() takes the
 * VM_HUGEPAGE path, page_cache_ra_order() caps the order at EOF).
 *
 * What decides it (6.1, all three kernels, mm/truncate.c):
 *   - an order-0 folio wholly inside the punched range is removed from the
 *     page cache whatever its references: truncate_inode_pages_range() ->
 *     truncate_inode_folio() -> filemap_remove_folio(), pinned or not.  The
 *     device keeps writing into an orphan; folio_mark_dirty() of an orphan
 *     dirties no file.  So no writeback ever meets a pinned page over a
 *     hole with 4 KiB blocks and order-0 folios: the hole pages are LOST to
 *     the hole (zero on disk), no allocation is tried, ENOSPC changes
 *     nothing, fsync and msync return 0, the kernel logs nothing.  The
 *     pages outside the hole reach the disk (in place: no allocation).
 *   - a large folio only partly inside goes through
 *     truncate_inode_partial_folio(): the punched part is zeroed in the
 *     folio, try_folio_split_or_unmap() fails to split it (the pin's extra
 *     references: can_split_folio()) and unmaps it whole, and then
 *     "if (folio_test_dirty(folio)) return false; truncate_inode_folio()":
 *     a CLEAN pinned large folio is dropped from the page cache whole, the
 *     pages outside the hole with it.  On stock and base (and for legacy
 *     GUP everywhere) the fsync cleaned it, so the device's writes to all
 *     16 pages are orphaned: the disk keeps the OLD bytes outside the hole
 *     (STALE) and zero in it, and the mapping re-faults a new folio.
 *   - patched (v2): as stock; the series does not touch writeback.  (v1
 *     re-dirtied the folio after every writeback from a work item, so
 *     whether truncate found it dirty, and kept it with the device's bytes
 *     outside the hole, was a race.)
 *   - 6.12 (stock612), long-term: refused with EFAULT (pinlab.h,
 *     writable_file_mapping_allowed()); legacy GUP as on stock.
 *   - ENOSPC therefore changes nothing on any of the three kernels: no
 *     writeback allocates for a pinned page over a hole (it is orphaned, or
 *     its hole blocks are skipped), so a full filesystem adds no error, no
 *     "Delayed block allocation failed", no message: the same silent loss
 *     as with free space.  The pages outside the hole are overwrites and
 *     reach the disk of a full filesystem.
 * Every outcome is a silent loss: no kernel message (counted from
 * /dev/kmsg), fsync 0, msync 0.
 */
#include <fcntl.h>
#include <libgen.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "lib/pinlab.h"

#define NP		16
#define HOLE_FIRST	4
#define HOLE_PAGES	8
#define FILL_CHUNK	(64UL << 20)

enum mem { EXT4, XFS, XFS_LARGE, NR_MEMS };
static const char *const mem_name[] = { "ext4", "xfs", "xfs-large" };
enum kind { PUNCH, ENOSPC_FULL, NR_KINDS };
static const char *const kind_name[] = { "punch", "enospc" };

/* The filler of the enospc case, removed on every exit path. */
static char filler_path[300];

static void remove_filler(void)
{
	if (filler_path[0] && unlink(filler_path) && errno != ENOENT)
		ksft_print_msg("cannot remove %s: %s\n", filler_path,
			       strerror(errno));
	filler_path[0] = 0;
}

/*
 * Fills the filesystem of @dir: fallocate chunks of 64 MiB down to one
 * page, each until ENOSPC.  0 when a one-page fallocate fails with ENOSPC,
 * -errno otherwise.
 */
static int fill_fs(const char *dir)
{
	size_t chunk;
	off_t off = 0;
	int fd, ret = 0;

	snprintf(filler_path, sizeof(filler_path), "%s/pinlab-filler-%d", dir,
		 getpid());
	fd = open(filler_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return -errno;
	for (chunk = FILL_CHUNK; chunk >= pl_page_size && !ret; chunk /= 2) {
		while (!fallocate(fd, 0, off, chunk))
			off += chunk;
		if (errno != ENOSPC)
			ret = -errno;
	}
	if (!ret && (!fallocate(fd, 0, off, pl_page_size) || errno != ENOSPC))
		ret = -EIO;
	close(fd);
	ksft_print_msg("[INFO] %s full after %lld MiB of filler\n", dir,
		       (long long)(off >> 20));
	return ret;
}

/* What one page of the disk holds. */
enum pg { PG_ZERO, PG_DEVICE, PG_ORIGINAL, PG_OTHER, NR_PG };

/* pl_buf_setup()'s pattern: 0xa5 ^ page index, in every byte. */
static enum pg classify(const unsigned char *pg, size_t index, __u32 h,
			__u32 seq)
{
	size_t i, zero = 1, orig = 1;

	if (pl_count_stamped(pg, pl_page_size, h, index, seq) == 1)
		return PG_DEVICE;
	for (i = 0; i < pl_page_size; i++) {
		zero &= !pg[i];
		orig &= pg[i] == (unsigned char)(0xa5 ^ index);
	}
	return zero ? PG_ZERO : orig ? PG_ORIGINAL : PG_OTHER;
}

/*
 * pl_buf_setup() of an xfs file, then the file evicted and mapped again
 * with MADV_HUGEPAGE, so that the read fault reads it in as one folio.
 */
static int setup_large(struct pl_buf *buf)
{
	int ret = pl_buf_setup(buf, PL_MEM_XFS_SHARED);
	size_t off;

	if (ret)
		return ret;
	munmap(buf->map, buf->map_len);
	buf->map = NULL;
	/* Clean (setup synced it) and unmapped: dropped, nothing written. */
	ret = posix_fadvise(buf->fd, 0, 0, POSIX_FADV_DONTNEED);
	if (ret)
		return -ret;
	buf->map = mmap(NULL, buf->len, PROT_READ | PROT_WRITE, MAP_SHARED,
			buf->fd, 0);
	if (buf->map == MAP_FAILED) {
		buf->map = NULL;
		return -errno;
	}
	buf->addr = buf->map;
	if (madvise(buf->map, buf->len, MADV_HUGEPAGE))
		return -errno;
	for (off = 0; off < buf->len; off += pl_page_size)
		(void)*(volatile char *)(buf->addr + off);
	return 0;
}

static const char *err_name(int err)
{
	return err ? pl_errno_name(err) : "0";
}

struct result {
	int fsync_err, msync_err;	/* 0 or errno */
	int large, kept;		/* page 0's folio large; still cached after the punch */
	size_t in[NR_PG], out[NR_PG];	/* disk pages in / outside the hole */
	size_t holes, map_in_dev, kmsgs;
};

static int run(int mfd, enum mem m, unsigned int p, enum kind k,
	       struct result *r)
{
	size_t len = NP * pl_page_size, hfirst, hpages, i;
	struct mockdma_page_state st[NP];
	unsigned char *data = malloc(len);
	struct pl_buf buf;
	__u32 h, seq = 0;
	int ok, kmsg, ret;

	memset(r, 0, sizeof(*r));
	if (!data)
		ksft_exit_fail_msg("out of memory\n");
	ret = m == XFS_LARGE ? setup_large(&buf) :
	      pl_buf_setup(&buf, m == EXT4 ? PL_MEM_EXT4_SHARED :
					     PL_MEM_XFS_SHARED);
	if (ret || pl_pin(mfd, buf.addr, len, pl_pin_kinds[p].method,
			  pl_pin_kinds[p].flags, &h)) {
		ksft_print_msg("set-up: %s\n", strerror(ret ? -ret : errno));
		pl_buf_teardown(&buf);
		free(data);
		return 0;
	}
	hfirst = k == PUNCH ? HOLE_FIRST : 0;
	hpages = k == PUNCH ? HOLE_PAGES : 1;
	kmsg = pl_kmsg_open();

	ok = !pl_fsync(buf.fd) && !pl_query(mfd, h, 0, NP, st);
	r->large = ok && (st[0].flags & MOCKDMA_PAGE_LARGE);
	if (ok && r->large != (m == XFS_LARGE)) {
		ksft_print_msg("precondition failed: page 0 %s a large folio\n",
			       r->large ? "is" : "is not");
		ok = 0;
	}
	ok = ok && !fallocate(buf.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      hfirst * pl_page_size, hpages * pl_page_size);
	/* Page 15's folio (outside the hole in both kinds) */
	ok = ok && !pl_query(mfd, h, 0, NP, st);
	r->kept = ok && (st[NP - 1].flags & MOCKDMA_PAGE_FILE);
	if (ok && k == ENOSPC_FULL)
		ok = !fill_fs(dirname(strdupa(buf.path)));
	/* The device writes every pinned page; its own read checks it. */
	ok = ok && !pl_dma_write(mfd, h, 0, len, 0, &seq) &&
	     !pl_dma_read(mfd, h, 0, len, data) &&
	     pl_count_stamped(data, len, h, 0, seq) == NP;
	if (!ok)
		ksft_print_msg("set-up, punch, fill or device write failed: %s\n",
			       strerror(errno));
	/* What the CPU sees over the hole (a re-fault there) */
	if (ok)
		r->map_in_dev = pl_count_stamped(buf.addr + hfirst * pl_page_size,
						 hpages * pl_page_size, h,
						 hfirst, seq);
	ok = !pl_unpin(mfd, h, MOCKDMA_UNPIN_DIRTY) && ok;
	r->fsync_err = -pl_fsync(buf.fd);
	r->msync_err = msync(buf.addr, len, MS_SYNC) ? errno : 0;
	ok = ok && !pl_disk_read(buf.fd, 0, len, data, &r->holes);
	for (i = 0; ok && i < NP; i++) {
		enum pg c = classify(data + i * pl_page_size, i, h, seq);

		if (i >= hfirst && i < hfirst + hpages)
			r->in[c]++;
		else
			r->out[c]++;
	}
	r->kmsgs = pl_kmsg_count(kmsg, m == EXT4 ? "EXT4-fs" : "XFS");
	if (kmsg >= 0)
		close(kmsg);
	remove_filler();
	pl_buf_teardown(&buf);
	free(data);
	return ok;
}

static void run_case(int mfd, enum mem m, unsigned int p, enum kind k)
{
	size_t hpages = k == PUNCH ? HOLE_PAGES : 1, out = NP - hpages;
	const char *verdict;
	struct result r;
	int ok, want_kept, want;

	if (pl_refused_case(mfd, m == EXT4 ? PL_MEM_EXT4_SHARED : PL_MEM_XFS_SHARED,
			    pl_pin_kinds[p].method, pl_pin_kinds[p].flags,
			    "%s %s %s", kind_name[k], mem_name[m],
			    pl_pin_kinds[p].name)) {
		printf("# MATRIX table=hazards id=H3 hazard=holes case=%s-%s-%s | outcome=REFUSED (EFAULT)\n",
		       kind_name[k], mem_name[m], pl_pin_kinds[p].name);
		return;
	}
	ok = run(mfd, m, p, k, &r);
	/*
	 * See the header comment: order-0 folios are always dropped from the
	 * range; a large folio is dropped whole unless it is dirty, and
	 * nothing dirties it after the fsync.
	 */
	want_kept = m != XFS_LARGE;
	want = ok && r.fsync_err == 0 && r.msync_err == 0 && r.kmsgs == 0 &&
	       r.kept == want_kept && r.holes == hpages &&
	       r.in[PG_ZERO] == hpages;
	if (m == XFS_LARGE && !r.kept)
		want = want && r.out[PG_ORIGINAL] == out;
	else
		want = want && r.out[PG_DEVICE] == out;
	/* The mapping over the hole: the kept folio, or new zero pages */
	want = want && r.map_in_dev == (m == XFS_LARGE && r.kept ? hpages : 0);

	verdict = !ok ? "ERROR" :
		  r.in[PG_ZERO] == hpages && r.out[PG_ORIGINAL] == out ?
		  "LOST (hole) + STALE (rest: pinned folio dropped)" :
		  r.in[PG_ZERO] == hpages && r.out[PG_DEVICE] == out ?
		  "LOST (hole), rest on disk" : "UNEXPECTED";
	ksft_print_msg("[INFO] %s %s %s: page 0 large %d, page 15 still cached %d; fsync %s, msync %s; disk: hole %zu zero %zu device (%zu unallocated), rest %zu device %zu original %zu other; mapping over the hole %zu device pages; %zu fs messages\n",
		       kind_name[k], mem_name[m], pl_pin_kinds[p].name, r.large,
		       r.kept, err_name(r.fsync_err),
		       err_name(r.msync_err), r.in[PG_ZERO],
		       r.in[PG_DEVICE], r.holes, r.out[PG_DEVICE],
		       r.out[PG_ORIGINAL], r.out[PG_OTHER] + r.out[PG_ZERO],
		       r.map_in_dev, r.kmsgs);
	printf("# MATRIX table=hazards id=H3 hazard=holes case=%s-%s-%s | outcome=%s%s\n",
	       kind_name[k], mem_name[m], pl_pin_kinds[p].name, verdict,
	       ok && !r.fsync_err && !r.msync_err ? ", fsync 0 (silent)" : "");
	ksft_test_result(want, "%s %s %s: where the device's bytes went, as this kernel does it\n",
			 kind_name[k], mem_name[m], pl_pin_kinds[p].name);
}

int main(void)
{
	int fd = pl_open_or_skip();
	unsigned int m, p, k;

	atexit(remove_filler);
	ksft_set_plan(NR_KINDS * NR_MEMS * PL_PIN_KINDS);
	for (k = 0; k < NR_KINDS; k++)
		for (m = 0; m < NR_MEMS; m++)
			for (p = 0; p < PL_PIN_KINDS; p++)
				run_case(fd, m, p, k);
	close(fd);
	ksft_finished();
}

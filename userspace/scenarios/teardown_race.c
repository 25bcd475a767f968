// SPDX-License-Identifier: GPL-2.0
/*
 * teardown_race: the mapping or the file goes away under a pin while the
 * device keeps writing (mockdma's engine, a pass every 200 us).  Each case
 * must end without a splat, with the pins released and the outcome below.
 *
 * truncate    ftruncate(0): truncate_inode_pages_range() takes the pinned
 *             folios out of the page cache whatever their references (their
 *             ->mapping becomes NULL); the device writes into orphans.  The
 *             file, extended again, reads zeros; the dirtying unpin of an
 *             orphan dirties no file (folio_mark_dirty() without a mapping).
 * punch-hole  FALLOC_FL_PUNCH_HOLE over pages 4..11 the same for those
 *             pages, when they are whole folios (see the [INFO] line); the
 *             pages outside the hole get the device's last pass after a
 *             dirtying unpin and fsync.
 * munmap      the pins keep the page-cache pages; the device's last pass
 *             reaches the file after a dirtying unpin and fsync.
 * fork        the child maps the same pages (MAP_SHARED: fork copies
 *             nothing) and sees the device's writes continue through its
 *             mapping.  For private anonymous memory it depends on the pin:
 *             a FOLL_PIN pinned page is copied for the child at fork
 *             (page_needs_cow_for_dma() in copy_present_pte()), so the
 *             child's copy stops changing; a legacy GUP page is shared
 *             write-protected with the child, which keeps seeing the
 *             device's writes: the GUP-after-fork leak FOLL_PIN closed.
 *
 * On 6.12 (stock612) the long-term write pin of the ext4/xfs MAP_SHARED
 * cases is refused with EFAULT (pinlab.h): those cases assert the refusal.
 */
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "lib/pinlab.h"

#define HOLE_FIRST	4
#define HOLE_PAGES	8

enum kind { TRUNCATE, PUNCH_HOLE, MUNMAP, FORK, NR_KINDS };
static const char *const kind_name[] = {
	"truncate", "punch-hole", "munmap", "fork",
};

/*
 * Fork while the engine writes, and ask the child whether page 0 of its
 * mapping changed between two points at which the parent saw the engine
 * complete two more passes: deterministic however slow the guest is.
 */
static int fork_case(int fd, __u32 h, const struct pl_buf *buf, int *sees)
{
	const struct mockdma_stamp *s = (const void *)buf->addr;
	struct mockdma_engine st = { 0 };
	int go[2], ready[2], status, ret;
	pid_t pid;
	char c = 0;

	if (pipe(go) || pipe(ready))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid) {
		__u32 first = *(volatile __u32 *)&s->seq;

		if (write(ready[1], &c, 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(2);
		_exit(*(volatile __u32 *)&s->seq != first ? 0 : 1);
	}
	/* Once the child has read page 0, let the device write twice. */
	ret = read(ready[0], &c, 1) == 1 ? 0 : -EPIPE;
	if (!ret)
		ret = pl_engine_wait(fd, h, &st, 0, 0);
	if (!ret)
		ret = pl_engine_wait(fd, h, &st, 2, 5000);
	if (write(go[1], &c, 1) != 1)
		ret = -EPIPE;
	close(go[0]);
	close(go[1]);
	close(ready[0]);
	close(ready[1]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) > 1)
		return ret ? ret : -ECHILD;
	*sees = WEXITSTATUS(status) == 0;
	return ret;
}

static void run_case(int fd, enum pl_mem mem, unsigned int p, enum kind k)
{
	size_t np, len, i, fresh_out = 0, zero_in = 0, fresh_in = 0, holes;
	struct mockdma_engine at_event, end;
	struct mockdma_page_state st, st_stop;
	struct mockdma_query q = { 0 };
	int ok = 1, sees = -1, want_sees = -1;
	struct pl_buf buf;
	char *disk = NULL;
	__u32 h;

	if (pl_refused_case(fd, mem, pl_pin_kinds[p].method,
			    pl_pin_kinds[p].flags, "%s %s %s", kind_name[k],
			    pl_mem_name(mem), pl_pin_kinds[p].name)) {
		printf("# MATRIX table=teardown event=%s mem=%s pin=%s | outcome=REFUSED (EFAULT)\n",
		       kind_name[k], pl_mem_name(mem), pl_pin_kinds[p].name);
		return;
	}
	if (pl_buf_setup(&buf, mem) ||
	    pl_pin(fd, buf.addr, buf.len, pl_pin_kinds[p].method, pl_pin_kinds[p].flags, &h) ||
	    pl_engine_start(fd, h, 0, 0, 200, 0)) {
		ksft_test_result_fail("%s %s %s: setup\n", kind_name[k],
				      pl_mem_name(mem), pl_pin_kinds[p].name);
		pl_buf_teardown(&buf);
		return;
	}
	len = buf.len;
	np = len / pl_page_size;
	at_event = (struct mockdma_engine){ 0 };
	ok &= !pl_engine_wait(fd, h, &at_event, 1, 5000);

	switch (k) {
	case TRUNCATE:
		ok &= !ftruncate(buf.fd, 0);
		break;
	case PUNCH_HOLE:
		ok &= !fallocate(buf.fd, FALLOC_FL_PUNCH_HOLE |
				 FALLOC_FL_KEEP_SIZE,
				 HOLE_FIRST * pl_page_size,
				 HOLE_PAGES * pl_page_size);
		break;
	case MUNMAP:
		ok &= !munmap(buf.map, buf.map_len);
		buf.map = NULL;
		break;
	case FORK:
		ok &= !fork_case(fd, h, &buf, &sees);
		want_sees = pl_mem_is_file(mem) || p == PL_PIN_GUP;
		break;
	default:
		break;
	}
	/* The device keeps writing after the event: two more passes. */
	end = at_event;
	ok &= !pl_engine_wait(fd, h, &end, 2, 5000);
	ok &= !pl_query(fd, h, 0, 1, &st);
	ok &= !pl_engine_stop(fd, h, &end);
	/*
	 * A STOP that cut a pass short (engine_passes_cut_total) left its
	 * pages up to the cut with that pass's seq, the newest the device
	 * wrote there: the last seq taken on the handle, one past
	 * end.last_seq.
	 */
	q = (struct mockdma_query){ .handle = h, .npages = 1,
				    .pages = (unsigned long)&st_stop };
	ok &= !pl_ioctl(fd, MOCKDMA_IOC_QUERY, &q);
	ok &= !pl_unpin(fd, h, MOCKDMA_UNPIN_DIRTY);

	if (pl_mem_is_file(mem)) {
		if (k == TRUNCATE)
			ok &= !ftruncate(buf.fd, len);
		ok &= !pl_fsync(buf.fd);
		disk = malloc(len);
		if (buf.map)
			munmap(buf.map, buf.map_len);
		buf.map = NULL;
		/* The disk's bytes; holes (truncate, punch) read as zero. */
		ok &= disk && !pl_disk_read(buf.fd, 0, len, disk, &holes);
		for (i = 0; disk && i < np; i++) {
			int in_hole = k == TRUNCATE ||
				      (k == PUNCH_HOLE && i >= HOLE_FIRST &&
				       i < HOLE_FIRST + HOLE_PAGES);
			char *pg = disk + i * pl_page_size;
			int fresh = pl_count_stamped(pg, pl_page_size, h, i,
						     end.last_seq) == 1 ||
				    (q.dma_writes == end.last_seq + 1 &&
				     pl_count_stamped(pg, pl_page_size, h, i,
						      q.dma_writes) == 1);

			if (in_hole) {
				zero_in += pl_all_zero(pg, pl_page_size);
				fresh_in += fresh;
			} else {
				fresh_out += fresh;
			}
		}
	}
	ksft_print_msg("[INFO] %s %s %s: %llu passes before, %llu in all; page 0 after: %s%s; disk: %zu zero + %zu device pages in the hole, %zu device pages outside; child saw the device: %d\n",
		       kind_name[k], pl_mem_name(mem), pl_pin_kinds[p].name,
		       (unsigned long long)at_event.passes,
		       (unsigned long long)end.passes,
		       !pl_mem_is_file(mem) ? "anonymous" :
		       st.flags & MOCKDMA_PAGE_FILE ? "in page cache" :
						       "out of the page cache",
		       st.flags & MOCKDMA_PAGE_LARGE ? " (large folio)" : "",
		       zero_in, fresh_in, fresh_out, sees);
	printf("# MATRIX table=teardown event=%s mem=%s pin=%s | outcome=%s\n",
	       kind_name[k], pl_mem_name(mem), pl_pin_kinds[p].name,
	       k == FORK ? (sees ? "child sees device writes" :
				   "child has a private copy") :
	       k == TRUNCATE ? (zero_in == np ? "file zero, writes orphaned" : "UNEXPECTED") :
	       k == PUNCH_HOLE ? (zero_in + fresh_out == np ? "hole zero, rest on disk" : "UNEXPECTED") :
	       (fresh_out == np ? "data on disk" : "UNEXPECTED"));

	switch (k) {
	case TRUNCATE:
		ok &= zero_in == np && !(st.flags & MOCKDMA_PAGE_FILE);
		break;
	case PUNCH_HOLE:
		/* A hole page whose folio could not be dropped is zeroed
		 * in place and rewritten by the device: count both. */
		ok &= fresh_out == np - HOLE_PAGES &&
		      zero_in + fresh_in == HOLE_PAGES;
		if (!(st.flags & MOCKDMA_PAGE_LARGE))
			ok &= zero_in == HOLE_PAGES;
		break;
	case MUNMAP:
		ok &= fresh_out == np;
		break;
	case FORK:
		ok &= sees == want_sees;
		if (pl_mem_is_file(mem))
			ok &= fresh_out == np;
		break;
	default:
		break;
	}
	free(disk);
	pl_buf_teardown(&buf);
	ksft_test_result(ok, "%s %s %s with the device writing\n", kind_name[k],
			 pl_mem_name(mem), pl_pin_kinds[p].name);
}

int main(void)
{
	static const enum pl_mem mems[] = {
		PL_MEM_EXT4_SHARED, PL_MEM_XFS_SHARED,
	};
	int fd = pl_open_or_skip();
	unsigned int m, p, k;

	ksft_set_plan(NR_KINDS * ARRAY_SIZE(mems) * PL_PIN_KINDS +
		      PL_PIN_KINDS);
	for (k = 0; k < NR_KINDS; k++)
		for (m = 0; m < ARRAY_SIZE(mems); m++)
			for (p = 0; p < PL_PIN_KINDS; p++)
				run_case(fd, mems[m], p, k);
	/* fork over private anonymous memory: the FOLL_PIN copy rule */
	for (p = 0; p < PL_PIN_KINDS; p++)
		run_case(fd, PL_MEM_ANON, p, FORK);
	close(fd);
	ksft_finished();
}

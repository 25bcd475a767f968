// SPDX-License-Identifier: GPL-2.0
/*
 * hazard_multipin (H8): many pinners on the same file folios.  Christoph
 * Hellwig's objection to a "pinned" page flag: with several pinners of
 * one page, the first unpinner clears the flag while the others still
 * pin it.  The series keeps an exact count of FOLL_PIN pins per folio
 * (patches/DESIGN.md, N in page_ext) and clears PG_dma_pinned and unparks
 * only when N reaches 0 (R4, gup_put_folio()), so the folio must stay
 * parked and marked until the LAST long-term unpin.
 *
 * Per round, one 16-page ext4 MAP_SHARED file (written and synced with
 * its original bytes), pinned at once from four threads through four
 * mockdma fds: three long-term FOLL_PIN write pins (L0, L1, L2) and one
 * legacy get_user_pages() pin (G, invisible to the series).  Then, with
 * all four held, io_uring_register_buffers() of the same range: 6.1's
 * io_pin_pages() pins it with pin_user_pages(FOLL_WRITE | FOLL_LONGTERM)
 * and only then refuses a vma whose file is neither shmem nor hugetlbfs
 * (-EOPNOTSUPP), unpinning the 16 pages again (unpin_user_pages()): a
 * fifth, transient long-term pinner whose unpin must not clear anything
 * either.  The device writes through each pinner in turn (DMA_WRITE, G
 * first, then the long-term ones in their unpin order), each with its own
 * stamp (distinct handles: the fds' cyclic handle ids are staggered at
 * start), after an fsync that cleaned the folios.  The pins are then released, each from its own thread, in the
 * round's order, the last long-term one (the last writer) with a dirtying
 * unpin and the others clean; in the last round all four at once.  After
 * everything: fsync and the block device.
 *
 * Verdicts, per round: nr_foll_pin_acquired/released deltas exactly
 * 3 x 16 + 16 acquired and 16 released (io_uring) while pinned, equal
 * after; mockdma pages_pinned 64 (it counts G too) while pinned, 0 after;
 * the /proc/kpageflags census of the 16 pages after lru_add_drain_all()
 * (pl_lru_drain_all(): setup's read faults leave the folios in a CPU's
 * lru_add batch, where the pinner cannot park them until it drains),
 * after the pins, after each unpin but the last long-term one, after that
 * one and after everything; the series' count of long-term pinned pages
 * (vmstat dma_pin_park - dma_pin_unpark) +16 while parked, back to its
 * start after; the disk holds the last writer's stamps on all 16 pages.
 *
 * Expected, stock and base: no parking: 16 pages on an LRU list
 * throughout, KPF_DMA_PINNED (27) never set, no count.  Patched: 16
 * parked (KPF_DMA_PINNED, on the unevictable LRU), none on an LRU list,
 * count +16, from the pins until the last long-term unpin, whatever the
 * order and whichever threads unpin;
 * then all 16 back on an LRU and unmarked, even while G still holds them
 * (round "gup-last").  The data verdict is the same on all three: the
 * dirtying unpin of the last writer marks every folio dirty
 * (unpin_user_pages_dirty_lock()), so the fsync writes its stamps.  On
 * stock and base nothing else dirties the cleaned folios (the device's
 * writes do not, the other unpins are clean), so without that dirtying
 * unpin the disk keeps the original bytes (ci/mutations: clean-unpin).
 * The series (v2) does not touch writeback, so this holds on patched too.
 */
#include <fcntl.h>
#include <liburing.h>
#include <pthread.h>
#include <sys/uio.h>

#include "lib/pinlab.h"

#define NP	16
#define NPIN	4	/* L0, L1, L2, G */
#define GUPPIN	3
#define NLT	3

static const char *const pinner_name[NPIN] = { "L0", "L1", "L2", "G" };

/* Unpin orders; the last long-term pinner in the order writes last. */
static const struct round {
	const char *name;
	int order[NPIN];
	int concurrent;		/* all four unpins at once */
} rounds[] = {
	{ "gup-first", { GUPPIN, 0, 1, 2 }, 0 },
	{ "gup-between", { 2, GUPPIN, 0, 1 }, 0 },
	{ "gup-last", { 1, 2, 0, GUPPIN }, 0 },
	{ "concurrent", { 0, 1, 2, GUPPIN }, 1 },
};
#define NROUNDS	(sizeof(rounds) / sizeof(rounds[0]))

static int fds[NPIN];
static struct pl_buf buf;
static pthread_barrier_t barrier;

struct job {
	int who, unpin, dirty, ret;
	__u32 handle;
	pthread_t tid;
	int use_barrier;
};

static void *worker(void *arg)
{
	struct job *j = arg;
	const struct pl_pin_kind *k =
		&pl_pin_kinds[j->who == GUPPIN ? PL_PIN_GUP : PL_PIN_LONGTERM];

	if (j->use_barrier)
		pthread_barrier_wait(&barrier);
	if (j->unpin)
		j->ret = pl_unpin(fds[j->who], j->handle,
				  j->dirty ? MOCKDMA_UNPIN_DIRTY : 0);
	else
		j->ret = pl_pin(fds[j->who], buf.addr, buf.len, k->method,
				k->flags, &j->handle);
	return NULL;
}

/* Runs @n jobs, each in its own thread, started together; 0 if all ran. */
static int run_jobs(struct job *jobs, int n)
{
	int i, ret = 0;

	if (pthread_barrier_init(&barrier, NULL, n))
		return -1;
	for (i = 0; i < n; i++) {
		jobs[i].use_barrier = 1;
		if (pthread_create(&jobs[i].tid, NULL, worker, &jobs[i]))
			ksft_exit_fail_msg("pthread_create\n");
	}
	for (i = 0; i < n; i++) {
		pthread_join(jobs[i].tid, NULL);
		ret |= jobs[i].ret;
	}
	pthread_barrier_destroy(&barrier);
	return ret;
}

struct state {
	size_t lru, pinned, parked;
	long offlru;
};

static int state_now(struct state *s)
{
	size_t counts[64];
	int ret = pl_lru_drain_all();

	ret = ret ? ret : pl_kpf_census(buf.addr, NP, counts);
	s->lru = counts[PL_KPF_ON_LRU_LIST];
	s->pinned = counts[PL_KPF_DMA_PINNED];
	s->parked = counts[PL_KPF_PARKED];
	s->offlru = pl_series_pinned_pages();
	if (ret)
		ksft_print_msg("kpageflags census: %s\n", strerror(-ret));
	return ret;
}

/* The 16 pages as expected while parked (@held) or not, vs offlru @off0. */
static int state_is(const struct state *s, int held, long off0)
{
	if (!pl_kernel_patched() || !held)
		return s->lru == NP && !s->pinned && !s->parked &&
		       s->offlru == off0;
	return !s->lru && s->pinned == NP && s->parked == NP &&
	       s->offlru == off0 + NP;
}

static const char *state_word(const struct state *s)
{
	return s->parked == NP && s->pinned == NP && !s->lru ? "PARKED" :
	       s->lru == NP && !s->pinned && !s->parked ? "ON-LRU" : "MIXED";
}

static void matrix(const char *round, const char *c, const char *outcome)
{
	printf("# MATRIX table=hazards id=H8 hazard=multipin case=%s-%s | outcome=%s\n",
	       round, c, outcome);
}

static void run_round(const struct round *rd, struct io_uring *ring)
{
	struct job jobs[NPIN] = { 0 };
	struct pl_pins c0, c1, c2;
	struct state s;
	long pp0, pp1, pp2, off0;
	int i, j, ok, pinned_ok, held_ok, last_ok, uring_ret;
	int last_lt = -1, last_lt_pos = -1, steps = 0;
	const char *held_word = NULL;
	__u32 seq[NPIN] = { 0 }, h[NPIN];
	char what[160];

	for (i = 0; i < NPIN; i++)
		if (rd->order[i] != GUPPIN) {
			last_lt = rd->order[i];
			last_lt_pos = i;
		}
	if (pl_buf_setup(&buf, PL_MEM_EXT4_SHARED))
		ksft_exit_fail_msg("%s: ext4 file set-up\n", rd->name);
	ok = !pl_lru_drain_all();
	c0 = pl_pins_now();
	pp0 = pl_mockdma_stat("pages_pinned");
	off0 = pl_series_pinned_pages();

	/* Pin: four threads at once. */
	for (i = 0; i < NPIN; i++)
		jobs[i].who = i;
	ok = ok && !run_jobs(jobs, NPIN);
	for (i = 0; i < NPIN; i++) {
		h[i] = jobs[i].handle;
		for (j = 0; j < i; j++)
			ok = ok && h[i] != h[j];
	}
	/* A fifth, transient long-term pinner: io_uring's refused register. */
	{
		struct iovec iov = { .iov_base = buf.addr, .iov_len = buf.len };

		uring_ret = io_uring_register_buffers(ring, &iov, 1);
		if (!uring_ret)
			io_uring_unregister_buffers(ring);
	}
	/*
	 * Cleaned first (the pins' write faults dirtied the folios), so that
	 * on stock and base only the last writer's dirtying unpin can bring
	 * the device's bytes to the disk.  Then the device writes through
	 * each pinner: G first, then the unpin order.
	 */
	ok = ok && !pl_fsync(buf.fd) && !pl_dma_write(fds[GUPPIN], h[GUPPIN], 0, buf.len, 0,
				 &seq[GUPPIN]) &&
	     pl_device_wrote(&buf, h[GUPPIN], seq[GUPPIN]);
	for (i = 0; i < NPIN; i++) {
		int w = rd->order[i];

		if (w == GUPPIN)
			continue;
		ok = ok && !pl_dma_write(fds[w], h[w], 0, buf.len, 0, &seq[w]) &&
		     pl_device_wrote(&buf, h[w], seq[w]);
	}
	c1 = pl_pins_now();
	pp1 = pl_mockdma_stat("pages_pinned");
	ok = !state_now(&s) && ok;
	ksft_print_msg("[INFO] %s: pinned: handles %u %u %u %u, io_uring register %s, pins +%ld/-%ld, pages_pinned +%ld; census lru %zu pinned %zu parked %zu, offlru %ld -> %ld\n",
		       rd->name, h[0], h[1], h[2], h[3],
		       uring_ret ? pl_errno_name(-uring_ret) : "0",
		       c1.acq - c0.acq, c1.rel - c0.rel, pp1 - pp0, s.lru,
		       s.pinned, s.parked, off0, s.offlru);
	pinned_ok = ok && uring_ret == -EOPNOTSUPP &&
		    c1.acq - c0.acq == NLT * NP + NP && c1.rel - c0.rel == NP &&
		    pp1 - pp0 == NPIN * NP && state_is(&s, 1, off0);
	matrix(rd->name, "pinned", !ok ? "ERROR" : state_word(&s));
	ksft_test_result(pinned_ok, "%s: four pinners and a refused io_uring registration: pins +%d/-%d, %s\n",
			 rd->name, NLT * NP + NP, NP,
			 pl_kernel_patched() ? "parked and marked" :
			 "on the LRU");

	/* Unpin, each from its own thread, in the round's order. */
	held_ok = 1;
	last_ok = 0;
	if (rd->concurrent) {
		for (i = 0; i < NPIN; i++) {
			jobs[i].who = i;
			jobs[i].handle = h[i];
			jobs[i].unpin = 1;
			jobs[i].dirty = i != GUPPIN;
		}
		ok = !run_jobs(jobs, NPIN) && ok;
		ok = !state_now(&s) && ok;
		last_ok = ok && state_is(&s, 0, off0);
		snprintf(what, sizeof(what), "%s", state_word(&s));
		ksft_print_msg("[INFO] %s: after the four unpins at once: lru %zu pinned %zu parked %zu offlru %ld\n",
			       rd->name, s.lru, s.pinned, s.parked, s.offlru);
		matrix(rd->name, "after-last-longterm-unpin",
		       !ok ? "ERROR" : what);
	}
	for (i = 0; !rd->concurrent && i < NPIN; i++) {
		struct job one = { .who = rd->order[i], .unpin = 1,
				   .handle = h[rd->order[i]],
				   .dirty = i == last_lt_pos };
		int held = i < last_lt_pos;

		ok = !run_jobs(&one, 1) && ok;
		ok = !state_now(&s) && ok;
		ksft_print_msg("[INFO] %s: after unpinning %s (%s): lru %zu pinned %zu parked %zu offlru %ld\n",
			       rd->name, pinner_name[one.who],
			       one.dirty ? "dirty" : "clean", s.lru, s.pinned,
			       s.parked, s.offlru);
		if (held) {
			if (held_ok && (!ok || !state_is(&s, 1, off0)))
				held_word = !ok ? "ERROR" : state_word(&s);
			held_ok = held_ok && ok && state_is(&s, 1, off0);
			steps++;
		} else if (i == last_lt_pos) {
			last_ok = ok && state_is(&s, 0, off0);
			matrix(rd->name, "after-last-longterm-unpin",
			       !ok ? "ERROR" : state_word(&s));
		}
	}
	if (!rd->concurrent) {
		matrix(rd->name, "until-last-longterm-unpin",
		       held_word ? held_word : pl_kernel_patched() ?
		       "PARKED (the first unpinners clear nothing)" :
		       "ON-LRU");
		ksft_test_result(held_ok && steps == last_lt_pos,
				 "%s: after each of the %d unpins before the last long-term one: %s\n",
				 rd->name, last_lt_pos,
				 pl_kernel_patched() ? "still parked and marked" :
				 "on the LRU");
	}
	ksft_test_result(last_ok, "%s: after the last long-term unpin (%s): on the LRU, unmarked%s\n",
			 rd->name, rd->concurrent ? "all at once" :
			 pinner_name[last_lt],
			 !rd->concurrent && rd->order[NPIN - 1] == GUPPIN ?
			 ", G still holding them" : "");

	c2 = pl_pins_now();
	pp2 = pl_mockdma_stat("pages_pinned");
	ok = !state_now(&s) && ok;
	ksft_print_msg("[INFO] %s: released: pins +%ld/-%ld, pages_pinned +%ld, offlru %ld\n",
		       rd->name, c2.acq - c0.acq, c2.rel - c0.rel, pp2 - pp0,
		       s.offlru);
	ksft_test_result(ok && c2.acq - c0.acq == NLT * NP + NP &&
			 c2.rel - c0.rel == NLT * NP + NP && pp2 == pp0 &&
			 pp2 == 0 && state_is(&s, 0, off0),
			 "%s: all released: pins balanced, nothing pinned or parked\n",
			 rd->name);

	/* Data: the last writer's dirtying unpin, fsync, the block device. */
	{
		size_t n = 0;
		int fret = pl_fsync(buf.fd);

		if (!fret)
			n = pl_disk_stamped(&buf, h[last_lt], seq[last_lt]);
		snprintf(what, sizeof(what), "%s (%zu/%d pages of the last writer on disk)",
			 fret ? "ERROR" : n == NP ? "OK" : "STALE", n, NP);
		matrix(rd->name, "disk", what);
		ksft_test_result(!fret && n == NP,
				 "%s: the block device holds the last writer's (%s) stamps\n",
				 rd->name, pinner_name[last_lt]);
	}
	pl_buf_teardown(&buf);
}

/*
 * 6.12 (stock612): the three long-term write pins of the ext4 file are
 * refused with EFAULT (pinlab.h, writable_file_mapping_allowed()), and so
 * is io_uring_register_buffers(): 6.12's io_pin_pages() asks
 * pin_user_pages_fast(FOLL_WRITE | FOLL_LONGTERM), which GUP refuses
 * before the registration looks at the vma.  Its fast path may grab the
 * first mapped folio and put it back when gup_fast_folio_allowed()
 * rejects it (at most one pin acquired and released, nothing held); the
 * slow path's check_vma_flags() refuses before taking a page.  No second
 * long-term pinner exists, so there is no "first unpinner" to race: the
 * rounds are not run.  What stays open: G, the legacy GUP pin, is
 * granted; its device write reaches the disk through its dirtying unpin.
 */
static void run_refused(int *fds, struct io_uring *ring)
{
	const __u32 lt_w = MOCKDMA_PIN_LONGTERM | MOCKDMA_PIN_WRITE;
	struct iovec iov;
	struct pl_pins c0, c1;
	__u32 hg = 0, seq = 0;
	int i, ok, refused = 1, ret;
	size_t n = 0;

	if (pl_buf_setup(&buf, PL_MEM_EXT4_SHARED))
		ksft_exit_fail_msg("ext4 file set-up\n");
	ok = !pl_fsync(buf.fd) &&
	     !pl_pin(fds[GUPPIN], buf.addr, buf.len, MOCKDMA_METHOD_GUP,
		     MOCKDMA_PIN_WRITE, &hg);
	for (i = 0; ok && i < NLT; i++)
		refused &= pl_check_refused(fds[i], &buf,
					    MOCKDMA_METHOD_PIN_FAST, lt_w);
	matrix("refused", "long-term", refused ? "REFUSED (EFAULT)" : "PINNED");
	ksft_test_result(ok && refused,
			 "three long-term write pins of one ext4 file beside a GUP pin: REFUSED (EFAULT)\n");

	iov.iov_base = buf.addr;
	iov.iov_len = buf.len;
	c0 = pl_pins_now();
	ret = io_uring_register_buffers(ring, &iov, 1);
	if (!ret)
		io_uring_unregister_buffers(ring);
	c1 = pl_pins_now();
	ksft_print_msg("[INFO] io_uring register %s, pins +%ld/-%ld\n",
		       ret ? pl_errno_name(-ret) : "ok", c1.acq - c0.acq,
		       c1.rel - c0.rel);
	matrix("refused", "io_uring", ret ? pl_errno_name(-ret) : "REGISTERED");
	ksft_test_result(ok && ret == -EFAULT && c1.acq - c0.acq <= 1 &&
			 c1.acq - c0.acq == c1.rel - c0.rel,
			 "io_uring registration of the file: EFAULT from GUP, no pin held\n");

	ok = ok && !pl_dma_write(fds[GUPPIN], hg, 0, buf.len, 0, &seq) &&
	     pl_device_wrote(&buf, hg, seq);
	if (hg && pl_unpin(fds[GUPPIN], hg, MOCKDMA_UNPIN_DIRTY))
		ok = 0;
	ok = ok && !pl_fsync(buf.fd);
	if (ok)
		n = pl_disk_stamped(&buf, hg, seq);
	matrix("refused", "disk", n == NP ? "OK (G's stamps)" : "STALE");
	ksft_test_result(ok && n == NP,
			 "the legacy GUP pin is granted and its stamps reach the disk (%zu/%d)\n",
			 n, NP);
	pl_buf_teardown(&buf);
}

int main(void)
{
	struct io_uring ring;
	unsigned int r;
	int i, j, ret;

	fds[0] = pl_open_or_skip();
	for (i = 1; i < NPIN; i++) {
		fds[i] = open("/dev/mockdma", O_RDWR);
		if (fds[i] < 0)
			ksft_exit_fail_msg("open /dev/mockdma: %s\n",
					   strerror(errno));
	}
	ret = io_uring_queue_init(2, &ring, 0);
	if (ret)
		ksft_exit_fail_msg("io_uring_queue_init: %s\n", strerror(-ret));
	if (pl_pin_refusal(PL_MEM_EXT4_SHARED, MOCKDMA_METHOD_PIN_FAST,
			   MOCKDMA_PIN_LONGTERM | MOCKDMA_PIN_WRITE)) {
		ksft_set_plan(3);
		run_refused(fds, &ring);
		io_uring_queue_exit(&ring);
		for (i = 0; i < NPIN; i++)
			close(fds[i]);
		ksft_finished();
	}
	/* Five verdicts a round, four in the concurrent one. */
	ksft_set_plan(NROUNDS * 4 + (NROUNDS - 1));
	/*
	 * Stagger the fds' cyclic handle ids (each starts at 1): fd i burns i
	 * ids with a one-page legacy-GUP pin of scratch memory (not FOLL_PIN,
	 * before any counter is read), so that in every round the four
	 * handles, and so the four pinners' stamps, differ.
	 */
	{
		struct pl_buf scratch;

		if (pl_buf_setup(&scratch, PL_MEM_ANON))
			ksft_exit_fail_msg("scratch buffer\n");
		for (i = 1; i < NPIN; i++)
			for (j = 0; j < i; j++) {
				__u32 hh;

				if (pl_pin(fds[i], scratch.addr, pl_page_size,
					   MOCKDMA_METHOD_GUP,
					   MOCKDMA_PIN_WRITE, &hh) ||
				    pl_unpin(fds[i], hh, 0))
					ksft_exit_fail_msg("handle stagger\n");
			}
		pl_buf_teardown(&scratch);
	}
	for (r = 0; r < NROUNDS; r++)
		run_round(&rounds[r], &ring);
	io_uring_queue_exit(&ring);
	for (i = 0; i < NPIN; i++)
		close(fds[i]);
	ksft_finished();
}

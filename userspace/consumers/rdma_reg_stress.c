// SPDX-License-Identifier: GPL-2.0
/*
 * rdma_reg_stress: ibv_reg_mr -> RDMA WRITE -> ibv_dereg_mr in a loop over
 * MAP_SHARED mappings of files on ext4 and xfs (4 files, MR sizes 4 KiB ..
 * 1 MiB), while a child keeps writeback busy (pwrite + sync_file_range +
 * fsync of its own file and of the MR files) and the whole process runs in
 * a memory cgroup whose memory.max the child's page cache overruns, with
 * vm.dirty_* set low.  The child also churns an unrelated range of every
 * MR file, the 64 pages past the registrable first 1 MiB: hole punches,
 * and truncations to 1 MiB with regrowth, each followed by a rewrite.
 * Bounded by an iteration count and by time.
 *
 * Each RDMA WRITE stamps its pages with (file, iteration); the test checks
 * them through the mapping right after the completion, and at the end,
 * after the last dereg (which dirties the pages: ib_umem_release() ->
 * unpin_user_page_range_dirty_lock(.., make_dirty)) and fsync, reads every
 * page of every file back with O_DIRECT: each must hold the stamp of the
 * last iteration that wrote it (no data loss), and the FOLL_PIN counters
 * must have moved by the same amount.  Kernel splats (e.g. ext4 finding a
 * dirtied page without buffers) are caught by the harness's dmesg check.
 *
 * 6.12 (stock612): every ibv_reg_mr() of the files is refused with EFAULT
 * (ib_umem_get()'s FOLL_LONGTERM | FOLL_WRITE, writable_file_mapping_allowed(),
 * pinlab.h): the loop asserts each refusal and writes nothing, the disk
 * keeps what the test wrote before, the pins (the source MR's) balance.
 *
 * Prints "# BENCH rdma_reg_stress ..." with regs/s, bytes and pages.
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "lib/pl_verbs.h"

#define NFILES		4
#define FILE_PAGES	256		/* 1 MiB per file: what MRs cover */
#define TAIL_PAGES	64		/* past it: churned by the child */
#define MAX_ITERS	3000
#define MAX_SECONDS	12
#define CG		"/sys/fs/cgroup"
#define RW		(IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE | \
			 IBV_ACCESS_REMOTE_READ)

static const size_t mr_pages[] = { 1, 4, 16, 64, 256, 3, 33 };

struct file {
	char path[256];
	int fd;
	char *map;
	__u32 last[FILE_PAGES];	/* seq that last wrote each page, 0 = none */
};

static struct file files[NFILES];
/* Shared with the pressure child, which counts what it did to the tails. */
static struct churn {
	long punches, truncates;
} *churn;
static char cg_path[128];

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* vm.dirty_* set low for the run (pl_knobs_set(): restored at exit). */
static const struct pl_knob dirty_low[] = {
	{ "/proc/sys/vm/dirty_background_bytes", "1048576" },
	{ "/proc/sys/vm/dirty_bytes", "4194304" },
	{ "/proc/sys/vm/dirty_expire_centisecs", "50" },
	{ "/proc/sys/vm/dirty_writeback_centisecs", "20" },
};

/* A child memcg with memory.max; the caller (and later its child) in it. */
static int memcg_enter(void)
{
	char p[192];
	int ret;

	if (access(CG "/cgroup.controllers", F_OK))
		return -ENOENT;
	pl_write_file(CG "/cgroup.subtree_control", "+memory");
	snprintf(cg_path, sizeof(cg_path), CG "/pinlab-stress-%d", getpid());
	if (mkdir(cg_path, 0755) && errno != EEXIST)
		return -errno;
	snprintf(p, sizeof(p), "%s/memory.max", cg_path);
	ret = pl_write_file(p, "16M");
	if (ret)
		return ret;
	snprintf(p, sizeof(p), "%s/cgroup.procs", cg_path);
	return pl_write_file(p, "0");
}

static void memcg_leave(void)
{
	char p[192];
	long events;

	if (!cg_path[0])
		return;
	snprintf(p, sizeof(p), "%s/memory.events", cg_path);
	{
		FILE *f = fopen(p, "r");
		char key[32];

		while (f && fscanf(f, "%31s %ld", key, &events) == 2)
			ksft_print_msg("[INFO] memcg %s %ld\n", key, events);
		if (f)
			fclose(f);
	}
	snprintf(p, sizeof(p), "%s/memory.peak", cg_path);
	ksft_print_msg("[INFO] memcg memory.peak %ld (memory.max 16M)\n",
		       pl_read_long(p));
	pl_write_file(CG "/cgroup.procs", "0");
	rmdir(cg_path);
}

/*
 * Punch out, or truncate away and regrow, the tail of @f, then write it
 * again: page-cache and block churn next to pages that are registered.
 */
static void churn_tail(struct file *f, int i, const char *chunk)
{
	off_t tail = FILE_PAGES * pl_page_size;
	size_t len = TAIL_PAGES * pl_page_size;

	if (i % 2) {
		if (!fallocate(f->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       tail, len))
			churn->punches++;
	} else if (!ftruncate(f->fd, tail) && !ftruncate(f->fd, tail + len)) {
		churn->truncates++;
	}
	if (pwrite(f->fd, chunk, len, tail) != (ssize_t)len)
		_exit(4);
}

/*
 * Writeback + memcg pressure until killed.  Dirty writeback alone is too
 * slow under TCG to fill memory.max, so the child also reads a 64 MiB
 * sparse file: reading holes fills the page cache with clean pages
 * charged to the memcg at no I/O cost, and reclaim keeps running.
 */
static void pressure_child(const char *dir)
{
	char path[256], *chunk = malloc(1 << 20);
	off_t off = 0, roff = 0;
	int fd, sfd, i = 0, k;

	snprintf(path, sizeof(path), "%s/pinlab-pressure-%d", dir, getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || !chunk)
		_exit(1);
	unlink(path);
	snprintf(path, sizeof(path), "%s/pinlab-sparse-%d", dir, getpid());
	sfd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (sfd < 0 || ftruncate(sfd, 64 << 20))
		_exit(1);
	unlink(path);
	memset(chunk, 0x3c, 1 << 20);
	for (;;) {
		for (k = 0; k < 8; k++) {
			if (pread(sfd, chunk, 1 << 20, roff) != 1 << 20)
				_exit(3);
			roff = (roff + (1 << 20)) % (64 << 20);
			churn_tail(&files[(i + k) % NFILES], k, chunk);
		}
		memset(chunk, 0x3c, 1 << 20);
		if (pwrite(fd, chunk, 1 << 20, off) != 1 << 20)
			_exit(2);
		sync_file_range(fd, off, 1 << 20, SYNC_FILE_RANGE_WRITE);
		off += 1 << 20;
		if (off >= (96 << 20)) {	/* > memory.max: reclaim */
			pl_fsync(fd);
			off = 0;
		}
		/* and the MR files, registered or not */
		sync_file_range(files[i % NFILES].fd, 0, 0,
				SYNC_FILE_RANGE_WRITE);
		if (i++ % 8 == 0)
			pl_fsync(files[i % NFILES].fd);
	}
}

static int files_setup(void)
{
	const char *ext4 = getenv("PINLAB_EXT4"), *xfs = getenv("PINLAB_XFS");
	size_t len = FILE_PAGES * pl_page_size;
	size_t size = (FILE_PAGES + TAIL_PAGES) * pl_page_size;
	char *zero = calloc(1, size);
	int i;

	for (i = 0; i < NFILES; i++) {
		struct file *f = &files[i];

		snprintf(f->path, sizeof(f->path), "%s/pinlab-stress-%d-%d",
			 i % 2 ? (xfs ? xfs : "/mnt/xfs") : (ext4 ? ext4 : "/mnt/ext4"),
			 getpid(), i);
		f->fd = open(f->path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		if (f->fd < 0 || !zero ||
		    pwrite(f->fd, zero, size, 0) != (ssize_t)size || pl_fsync(f->fd))
			return -EIO;
		f->map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED,
			      f->fd, 0);
		if (f->map == MAP_FAILED)
			return -errno;
	}
	free(zero);
	return 0;
}

/* Pages of all files whose on-disk bytes are not the last stamp written. */
static size_t disk_mismatches(size_t *checked)
{
	size_t len = FILE_PAGES * pl_page_size, bad = 0, p;
	void *data;
	int i;

	*checked = 0;
	if (posix_memalign(&data, 4096, len))
		return (size_t)-1;
	for (i = 0; i < NFILES; i++) {
		size_t holes;

		/* A page never written (files[i].last[p] == 0) may be a hole. */
		if (pl_disk_read(files[i].fd, 0, len, data, &holes)) {
			bad += FILE_PAGES;
			continue;
		}
		for (p = 0; p < FILE_PAGES; p++) {
			char *pg = (char *)data + p * pl_page_size;
			int good;

			if (!files[i].last[p]) {
				good = 1;
				for (size_t b = 0; b < pl_page_size; b++)
					good &= !pg[b];
			} else {
				good = pl_count_stamped(pg, pl_page_size, i, p,
							files[i].last[p]) == 1;
			}
			if (!good && bad < 8)
				ksft_print_msg("file %d page %zu: not the stamp of seq %u on disk\n",
					       i, p, files[i].last[p]);
			bad += !good;
			*checked += 1;
		}
	}
	free(data);
	return bad;
}

int main(void)
{
	size_t max_len = FILE_PAGES * 4096, iters = 0, pages_ok = 0, bytes = 0;
	size_t bad_map = 0, bad_disk, checked, k, refused = 0;
	long acq0, rel0, acq1, rel1;
	/* the files are ext4/xfs MAP_SHARED: the 6.5+ rule applies to all */
	int refuses = !!pl_pin_refusal(PL_MEM_EXT4_SHARED, MOCKDMA_METHOD_PIN_FAST,
				       MOCKDMA_PIN_LONGTERM | MOCKDMA_PIN_WRITE);
	double t0, t1, limit = MAX_SECONDS;
	const char *why = NULL, *env = getenv("PINLAB_STRESS_SECONDS");
	struct ibv_mr *src_mr;
	struct pl_rdma r;
	int ret, cg, i, status, loop_ok = 1;
	pid_t child;
	char *src;

	ksft_print_header();
	pl_page_size = sysconf(_SC_PAGESIZE);
	if (env)
		limit = atof(env);
	/* probe the device before changing any system state */
	ret = pl_rdma_open(&r, 0, &why);
	if (ret == -ENODEV)
		ksft_exit_skip("%s\n", why);
	if (ret)
		ksft_exit_fail_msg("%s: %s\n", why, strerror(-ret));
	pl_rdma_close(&r);
	ksft_set_plan(4);

	if (files_setup())
		ksft_exit_fail_msg("stress files: %s\n", strerror(errno));
	if (pl_knobs_set(dirty_low, ARRAY_SIZE(dirty_low)))
		ksft_exit_fail_msg("cannot set the dirty knobs low\n");
	cg = memcg_enter();
	ksft_test_result(!cg, "memcg (memory.max 16M) and low vm.dirty_* set up\n");
	churn = mmap(NULL, sizeof(*churn), PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (churn == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	child = fork();
	if (child == 0)
		pressure_child(getenv("PINLAB_EXT4") ? getenv("PINLAB_EXT4") : "/mnt/ext4");

	acq0 = pl_vmstat("nr_foll_pin_acquired");
	rel0 = pl_vmstat("nr_foll_pin_released");
	ret = pl_rdma_open(&r, 1, &why);
	if (ret)
		ksft_print_msg("%s: %s\n", why, strerror(-ret));
	src = mmap(NULL, max_len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	src_mr = ret || src == MAP_FAILED ? NULL :
		 ibv_reg_mr(r.pd, src, max_len, RW);
	if (!src_mr)
		loop_ok = 0;

	t0 = now_s();
	for (iters = 0; loop_ok && iters < MAX_ITERS && now_s() - t0 < limit; iters++) {
		struct file *f = &files[iters % NFILES];
		size_t np = mr_pages[(iters / NFILES) % ARRAY_SIZE(mr_pages)];
		size_t len = np * pl_page_size, got;
		__u32 seq = iters + 1;
		struct ibv_mr *mr;

		pl_fill_stamps(src, len, iters % NFILES, seq);
		mr = ibv_reg_mr(r.pd, f->map, len, RW);
		if (refuses) {
			/* 6.12: see the header; nothing is written */
			if (mr || errno != EFAULT) {
				ksft_print_msg("iteration %zu: ibv_reg_mr %s, expected EFAULT\n",
					       iters, mr ? "registered" : strerror(errno));
				if (mr)
					ibv_dereg_mr(mr);
				loop_ok = 0;
				break;
			}
			refused++;
			continue;
		}
		if (!mr) {
			ksft_print_msg("iteration %zu: ibv_reg_mr: %s\n", iters,
				       strerror(errno));
			loop_ok = 0;
			break;
		}
		ret = pl_rdma_rw(&r, IBV_WR_RDMA_WRITE, src_mr, src, len, mr,
				 f->map);
		got = ret ? 0 : pl_count_stamped(f->map, len, iters % NFILES, 0, seq);
		if (ibv_dereg_mr(mr) || ret) {
			ksft_print_msg("iteration %zu: RDMA WRITE %s / dereg\n",
				       iters, strerror(-ret));
			loop_ok = 0;
			break;
		}
		for (k = 0; k < np; k++)
			f->last[k] = seq;
		bad_map += np - got;
		pages_ok += got;
		bytes += len;
	}
	t1 = now_s();
	if (src_mr)
		ibv_dereg_mr(src_mr);
	if (src != MAP_FAILED)
		munmap(src, max_len);
	pl_rdma_close(&r);

	kill(child, SIGKILL);
	waitpid(child, &status, 0);
	if (!WIFSIGNALED(status)) {
		loop_ok = 0;
		ksft_print_msg("pressure child died early: exit %d\n",
			       WEXITSTATUS(status));
	}
	ksft_print_msg("[INFO] %zu reg/write/dereg in %.1f s: %.0f regs/s, %zu bytes written, %zu pages verified in the mapping, %zu bad\n",
		       iters, t1 - t0, iters / (t1 - t0), bytes, pages_ok, bad_map);
	printf("# BENCH rdma_reg_stress regs=%zu seconds=%.1f regs_per_s=%.0f bytes=%zu pages_verified=%zu tail_punches=%ld tail_truncates=%ld\n",
	       iters, t1 - t0, iters / (t1 - t0), bytes, pages_ok,
	       churn->punches, churn->truncates);
	if (refuses)
		ksft_test_result(loop_ok && refused == iters && iters > 0 &&
				 churn->punches > 0 && churn->truncates > 0,
				 "every ibv_reg_mr of the MAP_SHARED files beside hole punches and truncations REFUSED (EFAULT) (%zu)\n",
				 refused);
	else
		ksft_test_result(loop_ok && bad_map == 0 && iters > 0 &&
				 churn->punches > 0 && churn->truncates > 0,
				 "reg -> RDMA WRITE -> dereg cycles beside hole punches and truncations, every page seen in the mapping\n");

	for (i = 0; i < NFILES; i++)
		pl_fsync(files[i].fd);
	bad_disk = disk_mismatches(&checked);
	ksft_print_msg("[INFO] after final dereg + fsync: %zu/%zu pages on disk differ from the last write\n",
		       bad_disk, checked);
	ksft_test_result(bad_disk == 0 && checked == NFILES * FILE_PAGES,
			 "no data loss: every page on disk holds its last RDMA WRITE\n");

	acq1 = pl_vmstat("nr_foll_pin_acquired");
	rel1 = pl_vmstat("nr_foll_pin_released");
	ksft_print_msg("[INFO] pins: +%ld acquired, +%ld released\n",
		       acq1 - acq0, rel1 - rel0);
	ksft_test_result(acq1 - acq0 == rel1 - rel0 && acq1 - acq0 > 0,
			 "FOLL_PIN counters balanced\n");

	for (i = 0; i < NFILES; i++) {
		munmap(files[i].map, FILE_PAGES * pl_page_size);
		close(files[i].fd);
		unlink(files[i].path);
	}
	memcg_leave();
	ksft_finished();
}

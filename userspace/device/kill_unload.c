// SPDX-License-Identifier: GPL-2.0
/*
 * kill_unload: the driver's teardown paths under fire.  A process killed
 * in the middle of what mockdma does for it, and the module unloaded and
 * loaded again around that, must leave nothing behind: no pinned page, no
 * FOLL_PIN reference (nr_foll_pin_acquired and nr_foll_pin_released move by
 * the same amount), no fd in debugfs "fds", no kprobe, no module reference
 * (the unload that follows succeeds).  Any splat on the way is the
 * harness's to catch (ci/report.py).
 *
 *   - rmmod while a handle is pinned: delete_module() fails with
 *     EWOULDBLOCK (the open fd holds the module), and the device goes on as
 *     if nothing happened: the pin is still counted and a DMA_WRITE after
 *     the refusal lands in every page.
 *   - SIGKILL while the engine writes into 1024 pinned ext4 file pages,
 *     slowed to 100 us a page (debugfs dma_page_delay_us) so that a kill
 *     lands inside a pass: at least one must cut one
 *     (engine_passes_cut_total).
 *   - SIGKILL while PIN of 256 MiB of anonymous memory faults and pins it,
 *     at several delays from the start of the call; at least one kill must
 *     land inside GUP (pins taken before it, and the PIN never completed:
 *     pins_total did not move).
 *   - SIGKILL while an injection is armed at writeback start and has not
 *     fired (its kprobe registered): after the reap no armed page and no
 *     live probe remain.  A kill while a hook is firing is not provoked
 *     here (the fuzzer races that).
 *   - load/unload loops, every other one with a reclaim injection armed
 *     (a kprobe registered) until the fd is closed: after the close no
 *     probe is live and nothing is held, each unload succeeds and
 *     /sys/kernel/debug/kprobes/list is back to its line count before.
 *
 * The module is reloaded from $PINLAB_MOCKDMA_KO (ci/guest/run-tests) and
 * left loaded, with the debugfs mutations it had (mutate_skip_write and the
 * named ones of "mutate") written back, so the programs after this one
 * find the device as setup left it (an exit between an unload and its
 * load loads it again, atexit).  $PINLAB_STRESS (make stress) runs
 * five times the rounds.  The last line of diagnostics counts kills,
 * unloads and loads (make stress's summary reads it).
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "lib/pinlab.h"

#define LT_W		(MOCKDMA_PIN_LONGTERM | MOCKDMA_PIN_WRITE)
/*
 * The write pin of the ext4 file victims: long-term where the kernel grants
 * it, short-term on 6.5+ (which refuses LONGTERM|WRITE of a MAP_SHARED ext4
 * mapping with EFAULT): the torture is of the device's lifecycle, not of
 * the pin's kind.
 */
#define FILE_W		pl_device_write_flags(PL_MEM_EXT4_SHARED, MOCKDMA_METHOD_PIN)
#define DBG		"/sys/kernel/debug/mockdma/"
#define KPROBES_LIST	"/sys/kernel/debug/kprobes/list"

static const char *ko_path;
static int rounds = 1;
static long kills, unloads, loads;
/* debugfs state of the module setup loaded, written back after a load */
static char skip_write[8];
static char mutations[16][64];
static int nmutations;

static long pins_acquired(void)
{
	return pl_vmstat("nr_foll_pin_acquired");
}

static long pins_released(void)
{
	return pl_vmstat("nr_foll_pin_released");
}

static int module_loaded(void)
{
	return access("/sys/module/mockdma", F_OK) == 0;
}

static long count_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	long n = 0;
	int c;

	if (!f)
		return -1;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

/* Lines of debugfs "fds": one per open mockdma file. */
static long open_files(void)
{
	return count_lines(DBG "fds");
}

static void save_debugfs_state(void)
{
	char line[64];
	FILE *f;
	int fd = open(DBG "mutate_skip_write", O_RDONLY);
	ssize_t n;

	if (fd < 0)
		ksft_exit_fail_msg("open " DBG "mutate_skip_write: %s\n", strerror(errno));
	n = read(fd, skip_write, sizeof(skip_write) - 1);
	close(fd);
	if (n <= 0)
		ksft_exit_fail_msg("read " DBG "mutate_skip_write\n");
	skip_write[n] = '\0';
	f = fopen(DBG "mutate", "r");
	if (!f)
		ksft_exit_fail_msg("open " DBG "mutate: %s\n", strerror(errno));
	while (nmutations < 16 && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (*line)
			snprintf(mutations[nmutations++], sizeof(mutations[0]), "%s", line);
	}
	fclose(f);
}

static int restore_debugfs_state(void)
{
	int i, ret = pl_write_file(DBG "mutate_skip_write", skip_write);

	for (i = 0; i < nmutations && !ret; i++)
		ret = pl_write_file(DBG "mutate", mutations[i]);
	if (ret)
		ksft_print_msg("restoring mockdma's debugfs state: %s\n", strerror(-ret));
	return ret;
}

/* 0, or -errno of delete_module(2); never waits for the references to go. */
static int unload(void)
{
	if (syscall(SYS_delete_module, "mockdma", O_NONBLOCK))
		return -errno;
	unloads++;
	return 0;
}

/* finit_module(2) of $PINLAB_MOCKDMA_KO, then waits for /dev/mockdma. */
static int load(void)
{
	int fd = open(ko_path, O_RDONLY | O_CLOEXEC), ret = 0, i;

	if (fd < 0)
		return -errno;
	if (syscall(SYS_finit_module, fd, "", 0))
		ret = -errno;
	close(fd);
	if (ret)
		return ret;
	loads++;
	for (i = 0; i < 200 && access("/dev/mockdma", F_OK); i++)
		usleep(10000);
	if (access("/dev/mockdma", F_OK))
		return -ENOENT;
	return restore_debugfs_state();
}

/*
 * Unload then load: 1 if the unload succeeded, the module was gone and came
 * back; a failure is printed.
 */
static int reload(const char *when)
{
	int ret = unload();

	if (ret) {
		ksft_print_msg("%s: delete_module: %s\n", when, strerror(-ret));
		return 0;
	}
	if (module_loaded()) {
		ksft_print_msg("%s: /sys/module/mockdma still there after the unload\n", when);
		return 0;
	}
	ret = load();
	if (ret) {
		ksft_print_msg("%s: loading %s: %s\n", when, ko_path, strerror(-ret));
		return 0;
	}
	return 1;
}

static void load_if_gone(void)
{
	if (!module_loaded() && load())
		fprintf(stderr, "kill_unload: mockdma could not be loaded again\n");
}

static int open_dev(void)
{
	int fd = open("/dev/mockdma", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		ksft_exit_fail_msg("open /dev/mockdma: %s\n", strerror(errno));
	return fd;
}

/*
 * What a reaped victim must leave: nothing pinned, every FOLL_PIN
 * reference taken since @acq0/@rel0 dropped, no open mockdma file, no
 * engine, no armed page, no live probe.
 */
static int nothing_left(const char *what, long acq0, long rel0)
{
	long acq = pins_acquired() - acq0, rel = pins_released() - rel0;
	long pinned = pl_mockdma_stat("pages_pinned"), files = open_files();
	long engines = pl_mockdma_stat("engines_running");
	long armed = pl_mockdma_stat("inject_armed");
	long probes = pl_mockdma_stat("inject_probes_live");

	if (acq == rel && !pinned && !files && !engines && !armed && !probes)
		return 1;
	ksft_print_msg("%s: FOLL_PIN +%ld acquired +%ld released, pages_pinned %ld, open files %ld, engines %ld, armed %ld, live probes %ld\n",
		       what, acq, rel, pinned, files, engines, armed, probes);
	return 0;
}

/* SIGKILLs @pid after @delay_us and reaps it: 1 if SIGKILL is what ended it. */
static int kill_and_reap(pid_t pid, unsigned int delay_us)
{
	int status;

	if (delay_us)
		usleep(delay_us);
	kill(pid, SIGKILL);
	if (waitpid(pid, &status, 0) != pid)
		return 0;
	kills++;
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

/* @np private anonymous pages, faulted in with @fill. */
static char *anon_pages(size_t np, int fill)
{
	char *buf = mmap(NULL, np * pl_page_size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (buf == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	memset(buf, fill, np * pl_page_size);
	return buf;
}

static void test_unload_refused_while_pinned(void)
{
	const size_t np = 64;
	long pinned0 = pl_mockdma_stat("pages_pinned");
	int fd = open_dev(), ret, ok;
	__u32 h, seq;
	char *buf;

	buf = anon_pages(np, 0x5a);
	ok = !pl_pin(fd, buf, np * pl_page_size, MOCKDMA_METHOD_PIN, LT_W, &h);
	ret = unload();
	if (ret != -EWOULDBLOCK)
		ksft_print_msg("delete_module with a pin held: %s, want EWOULDBLOCK\n",
			       ret ? strerror(-ret) : "success");
	ok &= ret == -EWOULDBLOCK && module_loaded();
	ok &= pl_mockdma_stat("pages_pinned") == pinned0 + (long)np;
	/* The device still works on the pin the refusal left alone. */
	ok &= !pl_dma_write(fd, h, 0, np * pl_page_size, 0, &seq);
	ok &= pl_count_stamped(buf, np * pl_page_size, h, 0, seq) == np;
	ok &= !pl_unpin(fd, h, 0);
	close(fd);
	munmap(buf, np * pl_page_size);
	ksft_test_result(ok && pl_mockdma_stat("pages_pinned") == pinned0,
			 "rmmod with a pin held: EWOULDBLOCK, the pin and the device intact\n");
}

/*
 * Forks a victim running @fn(@arg, ready fd) and waits until it has
 * written its ready byte; 0 if it never did (it is reaped by the caller's
 * kill_and_reap() all the same).
 */
static pid_t start_victim(void (*fn)(void *arg, int ready), void *arg, int *ok)
{
	int sync[2];
	pid_t pid;
	char c;

	if (pipe(sync))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	pid = fork();
	if (pid < 0)
		ksft_exit_fail_msg("fork: %s\n", strerror(errno));
	if (!pid) {
		close(sync[0]);
		fn(arg, sync[1]);
		_exit(1);
	}
	close(sync[1]);
	*ok &= read(sync[0], &c, 1) == 1;
	close(sync[0]);
	return pid;
}

/* Victim: pins, runs the engine until it has made a pass, then waits. */
static void victim_engine(void *arg, int ready)
{
	struct pl_buf *b = arg;
	struct mockdma_engine st = { 0 };
	int fd = open_dev();
	__u32 h;

	if (pl_pin(fd, b->addr, b->len, MOCKDMA_METHOD_PIN, FILE_W, &h) ||
	    pl_engine_start(fd, h, 0, 0, 0, 0) ||
	    pl_engine_wait(fd, h, &st, 1, 20000) ||
	    write(ready, "e", 1) != 1)
		_exit(1);
	for (;;)
		pause();
}

static void test_kill_engine(void)
{
	long acq0 = pins_acquired(), rel0 = pins_released(), cut0;
	unsigned int i, n = 4 * rounds;
	int ok = 1;
	struct pl_buf b;

	if (pl_buf_setup_len(&b, PL_MEM_EXT4_SHARED, 1024 * pl_page_size))
		ksft_exit_fail_msg("ext4 file of 1024 pages\n");
	/*
	 * 100 us per page: a pass of the 1024 pages takes 100 ms or more, so
	 * the kills land inside passes (engine_passes_cut_total counts them)
	 * rather than between them.
	 */
	if (pl_write_file(DBG "dma_page_delay_us", "100"))
		ksft_exit_fail_msg(DBG "dma_page_delay_us: cannot set\n");
	cut0 = pl_mockdma_stat("engine_passes_cut_total");
	for (i = 0; i < n && ok; i++) {
		pid_t pid;

		pid = start_victim(victim_engine, &b, &ok);
		ok &= pl_mockdma_stat("engines_running") == 1;
		/* 0, 7, 14 ... ms into the passes after the first */
		ok &= kill_and_reap(pid, (i % 8) * 7000);
		ok &= nothing_left("after SIGKILL of a running engine", acq0, rel0);
	}
	cut0 = pl_mockdma_stat("engine_passes_cut_total") - cut0;
	ksft_print_msg("engine kills: %ld of %u cut a pass\n", cut0, n);
	if (pl_write_file(DBG "dma_page_delay_us", "0"))
		ok = 0;
	/* Without a kill inside a pass this tests only the idle engine. */
	ok &= cut0 > 0;
	ok &= reload("after the engine kills");
	pl_buf_teardown(&b);
	ksft_test_result(ok, "SIGKILL mid-engine x%u (a pass cut by it): nothing left, module unloads\n",
			 n);
}

/* Victim: signals, then pins the whole buffer (faulting it in). */
struct pin_job {
	char *buf;
	size_t len;
};

static void victim_pin(void *arg, int ready)
{
	struct pin_job *job = arg;
	int fd = open_dev();

	if (write(ready, "p", 1) != 1)
		_exit(1);
	pl_pin(fd, job->buf, job->len, MOCKDMA_METHOD_PIN, LT_W, NULL);
	for (;;)
		pause();
}

static void test_kill_pin(void)
{
	static const unsigned int delay_ms[] = { 0, 2, 10, 30, 100, 300 };
	long acq0 = pins_acquired(), rel0 = pins_released();
	unsigned int i, n = ARRAY_SIZE(delay_ms) * rounds, mid = 0, done = 0;
	size_t len = 65536 * pl_page_size;
	long a, pins0;
	int gup_started;
	struct mockdma_info info;
	int fd = open_dev(), ok = 1;

	if (!pl_info(fd, &info) && info.max_pin_pages * pl_page_size < len)
		len = info.max_pin_pages * pl_page_size;
	close(fd);
	for (i = 0; i < n && ok; i++) {
		char *buf = mmap(NULL, len, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		struct pin_job job = { buf, len };
		pid_t pid;

		if (buf == MAP_FAILED)
			ksft_exit_fail_msg("mmap %zu bytes: %s\n", len, strerror(errno));
		pid = start_victim(victim_pin, &job, &ok);
		a = pins_acquired();
		usleep(delay_ms[i % ARRAY_SIZE(delay_ms)] * 1000);
		/*
		 * Where the kill lands: GUP had taken pins (the counter moved
		 * during the delay) and PIN never returned a handle
		 * (pins_total counts completed PINs), checked after the reap.
		 */
		pins0 = pl_mockdma_stat("pins_total");
		gup_started = pins_acquired() > a;
		ok &= kill_and_reap(pid, 0);
		/* Mid-GUP: pins were taken, and no PIN ever completed. */
		if (pl_mockdma_stat("pins_total") != pins0)
			done++;
		else if (gup_started)
			mid++;
		ok &= nothing_left("after SIGKILL during PIN", acq0, rel0);
		munmap(buf, len);
	}
	ok &= reload("after the PIN kills");
	ksft_print_msg("PIN kills: %u while GUP was pinning, %u after PIN completed, %u before GUP\n",
		       mid, done, n - mid - done);
	/* Without a kill inside GUP this tests nothing of the error path. */
	if (!mid)
		ksft_print_msg("no kill landed while GUP was pinning\n");
	ksft_test_result(ok && mid, "SIGKILL during PIN of %zu MiB x%u: nothing left, module unloads\n",
			 len >> 20, n);
}

/* Victim: pins the file, arms its pages at writeback start, then waits. */
static void victim_inject(void *arg, int ready)
{
	struct pl_buf *b = arg;
	int fd = open_dev();
	__u32 h, seq = 0;

	if (pl_pin(fd, b->addr, b->len, MOCKDMA_METHOD_PIN, FILE_W, &h) ||
	    pl_inject_arm(fd, h, MOCKDMA_INJECT_WB_START, 0, 0, 0,
			  MOCKDMA_STAMP_SIZE, &seq) ||
	    write(ready, "i", 1) != 1)
		_exit(1);
	for (;;)
		pause();
}

static void test_kill_armed(void)
{
	long acq0 = pins_acquired(), rel0 = pins_released();
	unsigned int i, n = 2 * rounds;
	int ok = 1;
	long fired0;
	struct pl_buf b;

	if (pl_buf_setup_len(&b, PL_MEM_EXT4_SHARED, 16 * pl_page_size))
		ksft_exit_fail_msg("ext4 file of 16 pages\n");
	for (i = 0; i < n && ok; i++) {
		pid_t pid;

		pid = start_victim(victim_inject, &b, &ok);
		if (pl_mockdma_stat("inject_probes_live") < 1 ||
		    pl_mockdma_stat("inject_armed") != 16) {
			ksft_print_msg("armed: %ld pages, %ld live probes\n",
				       pl_mockdma_stat("inject_armed"),
				       pl_mockdma_stat("inject_probes_live"));
			ok = 0;
		}
		ok &= kill_and_reap(pid, 0);
		ok &= nothing_left("after SIGKILL with an injection armed", acq0, rel0);
		/* Writeback of the pages the dead victim had armed: nothing fires. */
		fired0 = pl_mockdma_stat("inject_fired_total");
		memset(b.addr, 0x33, b.len);
		ok &= !fsync(b.fd);
		ok &= pl_mockdma_stat("inject_fired_total") == fired0;
	}
	ok &= reload("after the armed kills");
	pl_buf_teardown(&b);
	ksft_test_result(ok, "SIGKILL with WB_START armed, not fired, x%u: no armed page, no probe, module unloads\n",
			 n);
}

static void test_load_unload_loop(void)
{
	long acq0 = pins_acquired(), rel0 = pins_released(), lines0;
	unsigned int i, n = 8 * rounds;
	const size_t np = 8;
	int ok = 1;
	char *buf;

	buf = anon_pages(np, 1);
	lines0 = count_lines(KPROBES_LIST);
	if (lines0 < 0)
		ksft_exit_fail_msg(KPROBES_LIST ": %s\n", strerror(errno));
	for (i = 0; i < n && ok; i++) {
		int fd = open_dev();
		__u32 h, seq = 0;

		ok &= !pl_pin(fd, buf, np * pl_page_size, MOCKDMA_METHOD_PIN, LT_W, &h);
		if (i & 1) {
			ok &= !pl_inject_arm(fd, h, MOCKDMA_INJECT_RECLAIM, 0, 0, 0,
					     MOCKDMA_STAMP_SIZE, &seq);
			ok &= count_lines(KPROBES_LIST) > lines0;
		}
		close(fd);
		/* The close retired the handle: its probe is gone before the unload. */
		ok &= nothing_left("after the close", acq0, rel0);
		ok &= reload(i & 1 ? "load/unload after an armed probe" : "load/unload");
		if (count_lines(KPROBES_LIST) != lines0) {
			ksft_print_msg("round %u: %ld kprobes listed, %ld before\n",
				       i, count_lines(KPROBES_LIST), lines0);
			ok = 0;
		}
	}
	munmap(buf, np * pl_page_size);
	ksft_test_result(ok, "load/unload x%u (every other with a probe armed until the close): kprobes back to %ld lines\n",
			 n, lines0);
}

int main(void)
{
	int fd = pl_open_or_skip();
	const char *stress = getenv("PINLAB_STRESS");

	close(fd);
	ko_path = getenv("PINLAB_MOCKDMA_KO");
	if (!ko_path || !*ko_path)
		ksft_exit_skip("PINLAB_MOCKDMA_KO unset: the module cannot be reloaded outside ci/guest/run-tests\n");
	if (stress && *stress)
		rounds = 5;
	save_debugfs_state();
	/* A failure between an unload and its load must not leave later programs without the device. */
	atexit(load_if_gone);
	ksft_set_plan(5);
	test_unload_refused_while_pinned();
	test_kill_engine();
	test_kill_pin();
	test_kill_armed();
	test_load_unload_loop();
	if (!module_loaded() && load())
		ksft_exit_fail_msg("mockdma is not loaded at the end\n");
	ksft_print_msg("kills %ld unloads %ld loads %ld\n", kills, unloads, loads);
	ksft_finished();
}

// SPDX-License-Identifier: GPL-2.0
/*
 * series_boot: what the series costs and does depending on its boot
 * parameter, from the kernel's own accounting.
 *
 * The series (patches/, v2) decides at boot: with dma_pin_lru=on it
 * allocates page_ext for its mark (page_ext_init() logs "allocated N bytes
 * of page_ext") and turns itself on ("dma_pin_lru: long-term pinned folios
 * are kept unevictable"); without it nothing is allocated and the static
 * key stays off.  The harness boots the patched kernel twice: with the
 * parameter (ci/kernel/series.cmdline) for the whole suite, and once more
 * without it (the "off" profile) for this program alone.
 *
 * Asserted, per kernel and boot:
 * - patched, on: exactly one "dma_pin_lru:" line; page_ext of exactly
 *   sizeof(struct page_ext) = 8 bytes per page of every memory section of
 *   the node's span (page_ext allocates per 128 MiB section; the span
 *   from /proc/zoneinfo); vm.dma_pin_lru reads 1 and
 *   switches; a long-term pin of 16 ext4 pages marks them
 *   (KPF_DMA_PINNED) and takes them off the LRU lists.
 * - patched, off: no page_ext allocated, no "dma_pin_lru:" line,
 *   vm.dma_pin_lru reads 0 and refuses a write with EOPNOTSUPP, the same
 *   long-term pin marks nothing and leaves the pages on their LRU list,
 *   the dma_pin_park counter does not move.
 * - base: no vm.dma_pin_lru, no dma_pin_* counters, no page_ext (base's
 *   config has no page_ext user), the pin leaves the pages on their LRU.
 * - stock: as base but for page_ext, which is Debian's choice (recorded).
 * - stock612: as stock, but the long-term write pin of the ext4 pages is
 *   refused with EFAULT (pinlab.h, writable_file_mapping_allowed()).
 * The kernel log is read from its start: this program runs first in a
 * boot, before the log could wrap (the guest's log buffer is 128 KiB and a
 * boot writes about 30 KiB of it).
 */
#include <fcntl.h>

#include "lib/pinlab.h"

#define NP			16
#define PAGES_PER_SECTION	32768	/* x86_64: 128 MiB sections */
#define PAGE_EXT_BYTES		8	/* sizeof(struct page_ext) on 64-bit */

struct boot_log {
	size_t series_lines;
	long page_ext_bytes;	/* -1: no "allocated ... page_ext" line */
};

static void read_boot_log(struct boot_log *l)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	char rec[8192];
	ssize_t n;

	l->series_lines = 0;
	l->page_ext_bytes = -1;
	if (fd < 0)
		ksft_exit_fail_msg("/dev/kmsg: %s\n", strerror(errno));
	while ((n = read(fd, rec, sizeof(rec) - 1)) > 0 || (n < 0 && errno == EPIPE)) {
		const char *msg, *p;

		if (n < 0)
			continue;	/* overwritten records: skip on */
		rec[n] = 0;
		msg = strchr(rec, ';');
		msg = msg ? msg + 1 : rec;
		if (!strncmp(msg, "dma_pin_lru:", 12))
			l->series_lines++;
		p = strstr(msg, "allocated ");
		if (p && strstr(p, " bytes of page_ext"))
			l->page_ext_bytes = atol(p + 10);
	}
	close(fd);
}

/*
 * Memory sections page_ext covers: those of the node's pfn span
 * (/proc/zoneinfo: each zone's start_pfn and spanned pages), the way
 * page_ext_init() walks it.  The guest has one node and no hole as large
 * as a section (were there one, the byte count below would not match).
 */
static long present_sections(void)
{
	unsigned long start = ~0UL, end = 0, zstart = 0, spanned = 0;
	FILE *f = fopen("/proc/zoneinfo", "r");
	char line[256];

	if (!f)
		ksft_exit_fail_msg("/proc/zoneinfo: %s\n", strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, " spanned %lu", &spanned) == 1)
			continue;
		if (sscanf(line, " start_pfn: %lu", &zstart) == 1 && spanned) {
			start = zstart < start ? zstart : start;
			end = zstart + spanned > end ? zstart + spanned : end;
			spanned = 0;
		}
	}
	fclose(f);
	if (!end)
		ksft_exit_fail_msg("no populated zone in /proc/zoneinfo\n");
	return (long)((end + PAGES_PER_SECTION - 1) / PAGES_PER_SECTION -
		      start / PAGES_PER_SECTION);
}

/* A small /proc file into @buf, NUL-terminated; its length, or -1. */
static ssize_t read_small(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, size - 1);

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = 0;
	return n > 0 ? n : -1;
}

static int cmdline_has(const char *word)
{
	char buf[4096];

	if (read_small("/proc/cmdline", buf, sizeof(buf)) < 0)
		ksft_exit_fail_msg("/proc/cmdline unreadable\n");
	return strstr(buf, word) != NULL;
}

static int switch_value(void)
{
	char buf[16];

	return read_small(PL_SERIES_SWITCH, buf, sizeof(buf)) < 0 ? -1 :
	       atoi(buf);
}

/* A long-term write pin of NP ext4 pages: marked and on-LRU-list counts. */
static int pin_census(int fd, size_t *marked, size_t *on_list, long *parked)
{
	long p0 = pl_vmstat("dma_pin_park"), p1;
	struct pl_buf buf;
	size_t n[64];
	int ret;
	__u32 h;

	ret = pl_buf_setup_pinned(&buf, PL_MEM_EXT4_SHARED, fd,
				  MOCKDMA_METHOD_PIN_FAST,
				  MOCKDMA_PIN_LONGTERM | MOCKDMA_PIN_WRITE, &h);
	if (ret)
		return ret;
	if (buf.len != NP * pl_page_size)
		ksft_exit_fail_msg("set-up gave %zu bytes, not %d pages\n",
				   buf.len, NP);
	ret = pl_lru_drain_all();
	ret = ret ? ret : pl_kpf_census(buf.addr, NP, n);
	p1 = pl_vmstat("dma_pin_park");
	*marked = n[PL_KPF_DMA_PINNED];
	*on_list = n[PL_KPF_ON_LRU_LIST];
	*parked = p0 < 0 || p1 < 0 ? -1 : p1 - p0;
	ret = pl_unpin(fd, h, MOCKDMA_UNPIN_DIRTY) ? -EIO : ret;
	pl_buf_teardown(&buf);
	return ret;
}

int main(void)
{
	int fd = pl_open_or_skip(), on = cmdline_has("dma_pin_lru=on");
	enum pl_kernel k = pl_kernel();
	long sections = present_sections(), want_bytes, parked = 0;
	size_t marked = 0, on_list = 0;
	struct boot_log log;
	int sw, ret, err;

	ksft_set_plan(3);
	read_boot_log(&log);
	sw = switch_value();
	want_bytes = (long)PAGE_EXT_BYTES * PAGES_PER_SECTION * sections;
	ksft_print_msg("[INFO] dma_pin_lru=on %s; %zu \"dma_pin_lru:\" lines; page_ext %ld bytes (%ld sections: %ld expected with the series on); vm.dma_pin_lru %d\n",
		       on ? "given" : "not given", log.series_lines,
		       log.page_ext_bytes, sections, want_bytes, sw);
	printf("# MATRIX table=series_boot boot=%s | page_ext_bytes=%ld per_page=%s switch=%d\n",
	       on ? "dma_pin_lru=on" : "default",
	       log.page_ext_bytes < 0 ? 0 : log.page_ext_bytes,
	       log.page_ext_bytes < 0 ? "0" :
	       log.page_ext_bytes == want_bytes ? "8" : "?", sw);

	/* 1: what the boot allocated and logged */
	if (k == PL_KERNEL_PATCHED && on)
		ksft_test_result(log.series_lines == 1 &&
				 log.page_ext_bytes == want_bytes,
				 "on: page_ext of 8 bytes per page, series on\n");
	else if (pl_kernel_debian())
		ksft_test_result(log.series_lines == 0,
				 "Debian kernel: no series (page_ext %ld bytes is Debian's)\n",
				 log.page_ext_bytes);
	else if (pl_kernel_user())
		/* Its page_ext is its config's (page_owner, ...), not ours. */
		ksft_test_result(log.series_lines == 0,
				 "%s: series not on (page_ext %ld bytes is its config's)\n",
				 pl_kernel_name(), log.page_ext_bytes);
	else
		ksft_test_result(log.series_lines == 0 &&
				 log.page_ext_bytes < 0,
				 "%s: no page_ext allocated, series off\n",
				 k == PL_KERNEL_PATCHED ? "patched, off" : "base");

	/* 2: the switch */
	if (k == PL_KERNEL_PATCHED && on) {
		ret = pl_series_switch(0);
		ret = ret ? ret : switch_value() == 0 ? 0 : -EIO;
		ret = ret ? ret : pl_series_switch(1);
		ksft_test_result(sw == 1 && !ret,
				 "on: vm.dma_pin_lru reads 1 and switches\n");
	} else if (k == PL_KERNEL_PATCHED) {
		err = pl_write_file(PL_SERIES_SWITCH, "1");
		ksft_test_result(sw == 0 && err == -EOPNOTSUPP,
				 "off: vm.dma_pin_lru reads 0, a write fails with EOPNOTSUPP (%s)\n",
				 pl_errno_name(-err));
	} else {
		ksft_test_result(sw == -1 && access(PL_SERIES_SWITCH, F_OK) &&
				 errno == ENOENT &&
				 pl_vmstat("dma_pin_park") < 0,
				 "no vm.dma_pin_lru and no dma_pin_* counters\n");
	}

	/* 3: a long-term pin; 6.12 refuses it for ext4 (pinlab.h) */
	if (pl_refused_case(fd, PL_MEM_EXT4_SHARED, MOCKDMA_METHOD_PIN_FAST,
			    MOCKDMA_PIN_LONGTERM | MOCKDMA_PIN_WRITE,
			    "a long-term pin of %d ext4 pages", NP)) {
		close(fd);
		ksft_finished();
	}
	ret = pin_census(fd, &marked, &on_list, &parked);
	ksft_print_msg("[INFO] long-term pin of %d ext4 pages: %zu marked, %zu on an LRU list, dma_pin_park %+ld\n",
		       NP, marked, on_list, parked);
	if (k == PL_KERNEL_PATCHED && on)
		ksft_test_result(!ret && marked == NP && on_list == 0 &&
				 parked == NP,
				 "on: a long-term pin marks and parks every page\n");
	else
		ksft_test_result(!ret && marked == 0 && on_list == NP &&
				 parked == (k == PL_KERNEL_PATCHED ? 0 : -1),
				 "off: a long-term pin marks nothing, pages stay on their LRU list\n");
	close(fd);
	ksft_finished();
}

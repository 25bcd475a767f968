// SPDX-License-Identifier: GPL-2.0
/*
 * oracle: the disk oracle (lib/pl_oracle.c) reads what the block device
 * holds and nothing else, and leaves the page cache it judges untouched.
 * Every data verdict of the suite reads through it, so it is put on trial
 * first, on ext4 and on xfs:
 *
 * 1. dirty, not synced: the CPU writes stamps through a MAP_SHARED mapping
 *    of a file that was fsync'ed with its original pattern.  The disk read
 *    shows 16/16 pages original, the 16 folios are still PG_dirty after it
 *    (kpageflags), and the device's write counter did not move.
 * 2. after fsync: the disk read shows 16/16 pages fresh and the folios clean.
 * 3. the hazard the oracle exists for: dirty the pages again, then read the
 *    file with O_DIRECT, as the old oracle did.  iomap's direct read writes
 *    the range back first (__iomap_dio_rw() calls
 *    filemap_write_and_wait_range() for reads too), so afterwards the folios
 *    are clean and the disk holds the bytes no fsync wrote: 16/16 fresh.
 * 4. a hole (ftruncate beyond the data): the read with no hole allowance
 *    fails with ENODATA; with one it counts the hole's pages and zeroes them.
 * 5. delayed allocation: a new file written but not synced has no block
 *    yet (FIEMAP_EXTENT_DELALLOC): the read fails with ENODATA, and no
 *    folio was written back by the attempt (still dirty).
 */
#include <fcntl.h>
#include <sys/mman.h>

#include "lib/pinlab.h"

#define TAG	0x0dac1e00U
#define NP	16

static int fs_mem[] = { PL_MEM_EXT4_SHARED, PL_MEM_XFS_SHARED };

/* Pages of the mapping whose folio is PG_dirty; -1 on an oracle error. */
static long dirty_pages(struct pl_buf *buf)
{
	size_t counts[64];

	if (pl_kpf_census(buf->addr, buf->len / pl_page_size, counts))
		return -1;
	return counts[PL_KPF_DIRTY];
}

static int disk_census(struct pl_buf *buf, __u32 seq, struct pl_census *c)
{
	char *data = malloc(buf->len);
	int ret = data ? pl_disk_read(buf->fd, 0, buf->len, data, NULL) : -ENOMEM;

	if (!ret)
		pl_census(data, buf->len, TAG, seq, c);
	free(data);
	return ret;
}

static void dirty_not_synced(enum pl_mem mem)
{
	const char *fs = pl_mem_name(mem);
	struct pl_disk_io io0, io1;
	struct pl_census c = { 0 };
	struct pl_buf buf;
	long before, after;
	int ret;

	ret = pl_buf_setup(&buf, mem);
	if (ret)
		ksft_exit_fail_msg("%s: set-up: %s\n", fs, strerror(-ret));
	pl_fill_stamps(buf.addr, buf.len, TAG, 1);
	before = dirty_pages(&buf);
	ret = pl_disk_io(buf.fd, &io0);
	if (!ret)
		ret = disk_census(&buf, 1, &c);
	if (!ret)
		ret = pl_disk_io(buf.fd, &io1);
	after = dirty_pages(&buf);
	ksft_print_msg("%s: dirty %ld -> %ld, disk original %zu fresh %zu, device writes %llu -> %llu\n",
		       fs, before, after, c.original, c.fresh,
		       ret ? 0ULL : io0.write_ios, ret ? 0ULL : io1.write_ios);
	ksft_test_result(!ret && before == NP && after == NP && c.original == NP &&
			 io1.write_ios == io0.write_ios,
			 "%s: dirty page cache: disk shows the old bytes, folios stay dirty, nothing written\n",
			 fs);

	ret = fsync(buf.fd) ? -errno : disk_census(&buf, 1, &c);
	after = dirty_pages(&buf);
	ksft_print_msg("%s: after fsync: disk fresh %zu, dirty %ld\n", fs, c.fresh, after);
	ksft_test_result(!ret && c.fresh == NP && after == 0,
			 "%s: after fsync: disk shows the new bytes\n", fs);

	/* The old oracle: O_DIRECT through the file. */
	pl_fill_stamps(buf.addr, buf.len, TAG, 2);
	before = dirty_pages(&buf);
	{
		int direct = open(buf.path, O_RDONLY | O_DIRECT);
		void *tmp = NULL;

		ret = direct < 0 || posix_memalign(&tmp, 4096, buf.len) ||
		      pread(direct, tmp, buf.len, 0) != (ssize_t)buf.len ? -EIO : 0;
		if (direct >= 0)
			close(direct);
		free(tmp);
	}
	after = dirty_pages(&buf);
	if (!ret)
		ret = disk_census(&buf, 2, &c);
	ksft_print_msg("%s: O_DIRECT read through the file: dirty %ld -> %ld, disk fresh %zu\n",
		       fs, before, after, c.fresh);
	ksft_test_result(!ret && before == NP && after == 0 && c.fresh == NP,
			 "%s: an O_DIRECT read of the file writes its dirty cache back (why the oracle reads the block device)\n",
			 fs);
	pl_buf_teardown(&buf);
}

static void hole(enum pl_mem mem)
{
	const char *fs = pl_mem_name(mem);
	size_t len = 2 * NP * pl_page_size, holes = 0, i, zero = 1;
	struct pl_buf buf;
	char *data = malloc(len);
	int ret, strict;

	ret = pl_buf_setup(&buf, mem);
	if (ret || !data)
		ksft_exit_fail_msg("%s: set-up: %s\n", fs, strerror(ret ? -ret : ENOMEM));
	if (ftruncate(buf.fd, len))
		ksft_exit_fail_msg("%s: ftruncate: %s\n", fs, strerror(errno));
	strict = pl_disk_read(buf.fd, 0, len, data, NULL);
	ret = pl_disk_read(buf.fd, 0, len, data, &holes);
	for (i = NP * pl_page_size; i < len; i++)
		zero &= !data[i];
	ksft_print_msg("%s: strict read %s, hole pages %zu\n", fs,
		       strict ? strerror(-strict) : "succeeded", holes);
	ksft_test_result(strict == -ENODATA && !ret && holes == NP && zero,
			 "%s: a hole fails a strict read (ENODATA) and reads as counted zero pages\n",
			 fs);
	free(data);
	pl_buf_teardown(&buf);
}

static void delalloc(const char *dir, const char *fs)
{
	size_t len = NP * pl_page_size;
	char path[256], *data = malloc(len), *map;
	size_t counts[64];
	int fd, ret, kpf;

	snprintf(path, sizeof(path), "%s/oracle-delalloc-%d", dir, getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || !data)
		ksft_exit_fail_msg("%s: %s: %s\n", fs, path, strerror(errno));
	memset(data, 0x3c, len);
	if (pwrite(fd, data, len, 0) != (ssize_t)len)
		ksft_exit_fail_msg("%s: pwrite: %s\n", fs, strerror(errno));
	ret = pl_disk_read(fd, 0, len, data, NULL);
	map = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	kpf = map == MAP_FAILED ? -errno : 0;
	/* Map the cached folios (read faults) so that kpageflags can see them. */
	for (size_t off = 0; !kpf && off < len; off += pl_page_size)
		(void)*(volatile char *)(map + off);
	if (!kpf)
		kpf = pl_kpf_census(map, NP, counts);
	ksft_print_msg("%s: delalloc read: %s, dirty after %zu\n", fs,
		       ret ? strerror(-ret) : "succeeded", kpf ? 0 : counts[PL_KPF_DIRTY]);
	ksft_test_result(ret == -ENODATA && !kpf && counts[PL_KPF_DIRTY] == NP,
			 "%s: delayed allocation fails the read (ENODATA) and writes nothing back\n",
			 fs);
	if (map != MAP_FAILED)
		munmap(map, len);
	close(fd);
	unlink(path);
	free(data);
}

int main(void)
{
	const char *ext4 = getenv("PINLAB_EXT4"), *xfs = getenv("PINLAB_XFS");
	unsigned int i;

	pl_page_size = sysconf(_SC_PAGESIZE);
	ksft_print_header();
	if (getuid())
		ksft_exit_skip("needs root (block device, kpageflags)\n");
	ksft_set_plan(2 * 4 + 2);
	for (i = 0; i < 2; i++) {
		dirty_not_synced(fs_mem[i]);
		hole(fs_mem[i]);
	}
	delalloc(ext4 ? ext4 : "/mnt/ext4", "ext4");
	delalloc(xfs ? xfs : "/mnt/xfs", "xfs");
	ksft_finished();
}

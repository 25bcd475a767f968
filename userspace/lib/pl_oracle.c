// SPDX-License-Identifier: GPL-2.0
/*
 * The oracle (pl_oracle.h): disk reads from the block device through
 * FIEMAP, cache reads, page flags.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>

#include "kselftest.h"
#include "pl_oracle.h"

#define PAGE	4096UL
#define NEXTENTS	256

/* Extent flags whose bytes are not (yet) at fe_physical on the device. */
#define UNPLACED	(FIEMAP_EXTENT_UNKNOWN | FIEMAP_EXTENT_DELALLOC | \
			 FIEMAP_EXTENT_ENCODED | FIEMAP_EXTENT_DATA_ENCRYPTED | \
			 FIEMAP_EXTENT_NOT_ALIGNED | FIEMAP_EXTENT_DATA_INLINE | \
			 FIEMAP_EXTENT_DATA_TAIL | FIEMAP_EXTENT_UNWRITTEN)

int pl_disk_device(int fd, char *path, size_t size)
{
	char uevent[64], line[256];
	struct stat st;
	FILE *f;
	int ret = -ENOENT;

	if (fstat(fd, &st))
		return -errno;
	snprintf(uevent, sizeof(uevent), "/sys/dev/block/%u:%u/uevent",
		 major(st.st_dev), minor(st.st_dev));
	f = fopen(uevent, "r");
	if (!f) {
		ksft_print_msg("oracle: %s: %s (not on a block device?)\n",
			       uevent, strerror(errno));
		return -ENODEV;
	}
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "DEVNAME=", 8)) {
			line[strcspn(line, "\n")] = 0;
			snprintf(path, size, "/dev/%s", line + 8);
			ret = 0;
			break;
		}
	fclose(f);
	if (ret)
		ksft_print_msg("oracle: no DEVNAME in %s\n", uevent);
	return ret;
}

static dev_t cached_dev;
static int cached_fd = -1;
static unsigned int cached_sector;

void pl_disk_close(void)
{
	if (cached_fd >= 0)
		close(cached_fd);
	cached_fd = -1;
	cached_dev = 0;
}

/* The block device of @fd, opened O_DIRECT; kept open for the next read. */
static int bdev_open(int fd, unsigned int *sector)
{
	char path[128];
	struct stat st;
	int bfd, ss, ret;

	if (fstat(fd, &st))
		return -errno;
	if (cached_fd >= 0 && cached_dev == st.st_dev) {
		*sector = cached_sector;
		return cached_fd;
	}
	ret = pl_disk_device(fd, path, sizeof(path));
	if (ret)
		return ret;
	bfd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (bfd < 0) {
		ret = -errno;
		ksft_print_msg("oracle: open %s: %s\n", path, strerror(errno));
		return ret;
	}
	if (ioctl(bfd, BLKSSZGET, &ss) || ss <= 0 || ss > (int)PAGE) {
		ret = -errno ? -errno : -EINVAL;
		ksft_print_msg("oracle: BLKSSZGET %s: %s\n", path, strerror(errno));
		close(bfd);
		return ret;
	}
	if (cached_fd >= 0)
		close(cached_fd);
	cached_fd = bfd;
	cached_dev = st.st_dev;
	cached_sector = ss;
	*sector = ss;
	return bfd;
}

/* pread @len bytes at device offset @phys into @dst, through an aligned bounce. */
static int bdev_read(int bfd, unsigned int sector, unsigned long long phys,
		     size_t len, char *dst)
{
	unsigned long long start = phys / sector * sector;
	size_t span = (phys + len - start + sector - 1) / sector * sector;
	void *bounce;
	ssize_t got;
	int ret = 0;

	if (posix_memalign(&bounce, PAGE, span))
		return -ENOMEM;
	got = pread(bfd, bounce, span, start);
	if (got != (ssize_t)span) {
		ret = got < 0 ? -errno : -EIO;
		ksft_print_msg("oracle: block device read of %zu bytes at %llu: %s\n",
			       span, start, got < 0 ? strerror(errno) : "short read");
	} else {
		memcpy(dst, (char *)bounce + (phys - start), len);
	}
	free(bounce);
	return ret;
}

int pl_disk_read(int fd, off_t off, size_t len, void *dst, size_t *holes)
{
	const unsigned long long end = off + len;
	struct fiemap *fm;
	unsigned long long pos = off, covered = off;
	unsigned int sector = 0, i;
	size_t nholes = 0;
	int bfd, ret = 0, last = 0;
	struct statfs sf;

	/*
	 * btrfs's FIEMAP reports logical addresses of its own address space,
	 * which its chunk tree maps to device offsets (and RAID profiles to
	 * several), and its file's st_dev is an anonymous device: no
	 * fe_physical is an offset on a block device.  A btrfs verdict reads
	 * through the cache after eviction (pl_cache_evict_clean()), where
	 * btrfs checks its data checksums.
	 */
	if (!fstatfs(fd, &sf) && sf.f_type == BTRFS_SUPER_MAGIC) {
		ksft_print_msg("oracle: btrfs: FIEMAP gives logical addresses, not device offsets\n");
		return -EOPNOTSUPP;
	}
	bfd = bdev_open(fd, &sector);
	if (bfd < 0)
		return bfd;
	fm = calloc(1, sizeof(*fm) + NEXTENTS * sizeof(struct fiemap_extent));
	if (!fm)
		return -ENOMEM;
	memset(dst, 0, len);
	while (!last && pos < end && !ret) {
		memset(fm, 0, sizeof(*fm));
		fm->fm_start = pos;
		fm->fm_length = end - pos;
		fm->fm_flags = 0;	/* never FIEMAP_FLAG_SYNC: it writes back */
		fm->fm_extent_count = NEXTENTS;
		if (ioctl(fd, FS_IOC_FIEMAP, fm)) {
			ret = -errno;
			ksft_print_msg("oracle: FIEMAP: %s\n", strerror(errno));
			break;
		}
		if (!fm->fm_mapped_extents)
			break;
		for (i = 0; i < fm->fm_mapped_extents && !ret; i++) {
			struct fiemap_extent *e = &fm->fm_extents[i];
			unsigned long long lo = e->fe_logical, hi = lo + e->fe_length;

			last = !!(e->fe_flags & FIEMAP_EXTENT_LAST);
			pos = hi;
			if (lo < (unsigned long long)off)
				lo = off;
			if (hi > end)
				hi = end;
			if (lo >= hi)
				continue;
			if (e->fe_flags & UNPLACED) {
				ksft_print_msg("oracle: extent at file offset %llu (+%llu) has flags %#x: its bytes are not at a known place on the device\n",
					       (unsigned long long)e->fe_logical,
					       (unsigned long long)e->fe_length,
					       e->fe_flags);
				ret = e->fe_flags & (FIEMAP_EXTENT_DELALLOC |
						     FIEMAP_EXTENT_UNWRITTEN |
						     FIEMAP_EXTENT_UNKNOWN) ?
					-ENODATA : -EOPNOTSUPP;
				break;
			}
			if (lo > covered)
				nholes += (lo - covered + PAGE - 1) / PAGE;
			ret = bdev_read(bfd, sector,
					e->fe_physical + (lo - e->fe_logical),
					hi - lo, (char *)dst + (lo - off));
			covered = hi;
		}
	}
	free(fm);
	if (ret)
		return ret;
	if (covered < end)
		nholes += (end - covered + PAGE - 1) / PAGE;
	if (nholes && !holes) {
		ksft_print_msg("oracle: %zu page(s) of [%lld, +%zu) have no block on disk (hole)\n",
			       nholes, (long long)off, len);
		return -ENODATA;
	}
	if (holes)
		*holes = nholes;
	return 0;
}

int pl_disk_io(int fd, struct pl_disk_io *io)
{
	unsigned long long v[11];
	char path[64];
	struct stat st;
	FILE *f;
	int n;

	if (fstat(fd, &st))
		return -errno;
	/*
	 * A partition's stat is its own; a whole disk's counts everything on it.
	 * Documentation/block/stat.rst: field 5 write I/Os, field 7 sectors.
	 */
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/stat",
		 major(st.st_dev), minor(st.st_dev));
	f = fopen(path, "r");
	if (!f) {
		ksft_print_msg("oracle: %s: %s\n", path, strerror(errno));
		return -ENODEV;
	}
	n = fscanf(f, "%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu",
		   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7],
		   &v[8], &v[9], &v[10]);
	fclose(f);
	if (n != 11) {
		ksft_print_msg("oracle: %s: unreadable\n", path);
		return -EIO;
	}
	io->write_ios = v[4];
	io->write_sectors = v[6];
	return 0;
}

int pl_cache_evict_clean(void)
{
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY), ret = 0;

	if (fd < 0 || write(fd, "1", 1) != 1)
		ret = -errno;
	if (ret)
		ksft_print_msg("oracle: vm/drop_caches: %s\n", strerror(-ret));
	if (fd >= 0)
		close(fd);
	return ret;
}

int pl_cache_read(int fd, off_t off, size_t len, void *dst)
{
	ssize_t got = pread(fd, dst, len, off);

	if (got == (ssize_t)len)
		return 0;
	ksft_print_msg("oracle: read of %zu bytes at %lld: %s\n", len,
		       (long long)off, got < 0 ? strerror(errno) : "short read");
	return got < 0 ? -errno : -EIO;
}

int pl_page_pfn(const void *addr, __u64 *pfn)
{
	int fd = open("/proc/self/pagemap", O_RDONLY);
	__u64 ent = 0;
	int ret = 0;

	if (fd < 0) {
		ksft_print_msg("oracle: /proc/self/pagemap: %s\n", strerror(errno));
		return -errno;
	}
	if (pread(fd, &ent, 8, (unsigned long)addr / PAGE * 8) != 8)
		ret = -EIO;
	close(fd);
	/* bit 63 present; bits 0-54 the pfn (zero without CAP_SYS_ADMIN) */
	if (!ret && (!(ent & (1ULL << 63)) || !(ent & ((1ULL << 55) - 1))))
		ret = -EFAULT;
	if (ret) {
		ksft_print_msg("oracle: no page mapped at %p\n", addr);
		return ret;
	}
	*pfn = ent & ((1ULL << 55) - 1);
	return 0;
}

static int kpf_word(int fd, __u64 pfn, __u64 *f)
{
	return pread(fd, f, 8, pfn * 8) == 8 ? 0 : -EIO;
}

int pl_page_flags(const void *addr, __u64 *flags)
{
	/* KPF_COMPOUND_HEAD 15, KPF_COMPOUND_TAIL 16 (uapi kernel-page-flags.h) */
	const __u64 head = 1ULL << 15, tail = 1ULL << 16;
	__u64 pfn, f;
	int fd, ret, back;

	ret = pl_page_pfn(addr, &pfn);
	if (ret)
		return ret;
	fd = open("/proc/kpageflags", O_RDONLY);
	if (fd < 0) {
		ksft_print_msg("oracle: /proc/kpageflags: %s\n", strerror(errno));
		return -errno;
	}
	ret = kpf_word(fd, pfn, &f);
	/* A PUD-sized folio is the largest: 2^18 pages back at most. */
	for (back = 0; !ret && (f & tail) && pfn && back < (1 << 18); back++) {
		ret = kpf_word(fd, --pfn, &f);
		if (!ret && (f & head))
			break;
	}
	close(fd);
	if (ret) {
		ksft_print_msg("oracle: /proc/kpageflags at pfn %#llx unreadable\n",
			       (unsigned long long)pfn);
		return ret;
	}
	*flags = f;
	return 0;
}

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pinlab's oracle: the one place every data verdict reads its facts from.
 *
 * Disk reads come from the block device, never through the file: an
 * O_DIRECT read of the file first writes back the file's dirty page cache
 * (iomap_dio_rw() and the ext4/xfs direct paths call
 * filemap_write_and_wait_range() before a read), and POSIX_FADV_DONTNEED
 * starts writeback too, so either would judge a page cache it had just
 * written out.  FIEMAP without FIEMAP_FLAG_SYNC maps the range (it writes
 * nothing back), and the extents are read from the block device with
 * O_DIRECT: the bdev's own cache holds no file data, and nothing here
 * writes, invalidates or even reads the file's page cache.
 *
 * Cache reads say what the page cache (or the mapping the device writes
 * into) holds now; page-flag reads go through pagemap + kpageflags, and
 * an unmapped page is an error, not "flag clear".
 *
 * Every function returns 0 or -errno and, on error, prints why (a
 * diagnostic line): an oracle error is a failed verdict, never a count of 0.
 */
#ifndef PINLAB_ORACLE_H
#define PINLAB_ORACLE_H

#include <stddef.h>
#include <sys/types.h>
#include <linux/types.h>

/*
 * Reads @len bytes at @off of the file open as @fd from its block device
 * into @dst (no alignment needed).  Ranges the file has no block for (holes)
 * read as zero; their pages are counted in *@holes, or, if @holes is NULL,
 * fail with -ENODATA.  Extents whose bytes are not at a known place on the
 * device (delayed allocation, unwritten, inline, encoded, unaligned) fail
 * with -ENODATA or -EOPNOTSUPP, naming the extent.  A file on btrfs
 * fails with -EOPNOTSUPP: its FIEMAP addresses are btrfs's logical ones.
 * Under a layer that checks what it reads (dm-integrity) a block whose
 * checksum does not match fails the read with that layer's -EIO.
 */
int pl_disk_read(int fd, off_t off, size_t len, void *dst, size_t *holes);

/*
 * Closes the block device pl_disk_read() keeps open for its next read, so
 * a program that made the device (a loop device) can detach it now.
 */
void pl_disk_close(void);

/*
 * The block device the file open as @fd lives on (a /dev path) into @path;
 * 0 or -errno.
 */
int pl_disk_device(int fd, char *path, size_t size);

/*
 * Write counters of the block device the file open as @fd lives on
 * (/sys/dev/block/M:m/stat): sectors and I/Os written since boot.
 */
struct pl_disk_io {
	unsigned long long write_ios, write_sectors;
};

int pl_disk_io(int fd, struct pl_disk_io *io);

/*
 * Evicts what the kernel can evict without writing anything: the clean,
 * unmapped page cache of every file (vm/drop_caches = 1 runs
 * invalidate_mapping_pages(), which skips dirty, writeback and mapped
 * folios).  What read(2) returns after it is what the kernel kept.
 */
int pl_cache_evict_clean(void);

/* read(2) of @len bytes at @off through @fd: the cache's view. */
int pl_cache_read(int fd, off_t off, size_t len, void *dst);

/*
 * Page flags: the /proc/kpageflags word of the folio mapped at @addr in this
 * process (a tail page's word lacks LRU and the other folio flags, so the
 * head's is returned).  -EFAULT if nothing is mapped there, -errno if
 * pagemap or kpageflags cannot be read.
 */
int pl_page_flags(const void *addr, __u64 *flags);

/* The pfn mapped at @addr; -EFAULT if none. */
int pl_page_pfn(const void *addr, __u64 *pfn);

#endif

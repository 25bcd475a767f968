/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pinlab test library: /dev/mockdma ioctl wrappers (0 or -errno), memory
 * backings for the pin tests, and the checks that read what reached the disk.
 */
#ifndef PINLAB_LIB_H
#define PINLAB_LIB_H

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kselftest.h"
#include "uapi/mockdma.h"

extern size_t pl_page_size;

enum pl_mem {
	PL_MEM_ANON,
	PL_MEM_THP,
	PL_MEM_MEMFD,
	PL_MEM_HUGETLB,
	PL_MEM_EXT4_SHARED,
	PL_MEM_EXT4_PRIVATE,
	PL_MEM_XFS_SHARED,
	PL_MEM_XFS_PRIVATE,
	PL_MEM_COUNT
};

struct pl_buf {
	enum pl_mem mem;
	char *addr;		/* what tests pin */
	size_t len;
	void *map;		/* what to munmap */
	size_t map_len;
	int fd;			/* backing file or memfd, -1 for anon */
	char path[256];		/* file on ext4/xfs, "" otherwise */
};

const char *pl_mem_name(enum pl_mem mem);
int pl_mem_is_file(enum pl_mem mem);		/* ext4/xfs, shared or private */
int pl_mem_is_private_file(enum pl_mem mem);
/* 0, -EOPNOTSUPP when the backing is absent here (no hugetlb pages), -errno */
int pl_buf_setup(struct pl_buf *buf, enum pl_mem mem);
void pl_buf_teardown(struct pl_buf *buf);

/* Prints the KTAP header; skips the program without /dev/mockdma or root. */
int pl_open_or_skip(void);
int pl_pin(int fd, void *addr, size_t len, __u32 method, __u32 flags,
	   __u32 *handle);
int pl_unpin(int fd, __u32 handle, __u32 flags);
int pl_dma_write(int fd, __u32 handle, __u64 off, __u64 len, __u32 flags,
		 __u32 *seq);
int pl_dma_read(int fd, __u32 handle, __u64 off, __u64 len, void *dst);
int pl_query(int fd, __u32 handle, __u64 first, __u64 n,
	     struct mockdma_page_state *st);
int pl_ioctl(int fd, unsigned long cmd, void *arg);

/* Pages of buf (from page 0 of the pin) fully stamped with handle/seq. */
size_t pl_count_stamped(const void *buf, size_t len, __u32 handle,
			__u32 first_page, __u32 seq);
/* The same for the file's bytes on disk, read with O_DIRECT. */
size_t pl_disk_stamped(struct pl_buf *buf, __u32 handle, __u32 seq);
/* The file on disk still holds the pattern pl_buf_setup() wrote. */
int pl_disk_is_original(struct pl_buf *buf);

/* /proc/vmstat counter after vm/stat_refresh; -1 if absent. */
long pl_vmstat(const char *name);
/* mockdma debugfs stats value; -1 if absent. */
long pl_mockdma_stat(const char *name);
const char *pl_errno_name(int err);

#endif

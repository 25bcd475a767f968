// SPDX-License-Identifier: GPL-2.0
/*
 * dma_roundtrip: the fake device reads and writes exactly the bytes asked,
 * at any 16-byte aligned offset and length, across page boundaries, and
 * what it wrote is what the CPU sees and what reaches the disk.
 *
 * Per memory type (anonymous, memfd, ext4 and xfs MAP_SHARED), on a
 * FOLL_LONGTERM write pin of 16 pages (where the kernel refuses that, 6.5+
 * for ext4/xfs MAP_SHARED: the refusal with EFAULT is checked, then the
 * same on a short-term FOLL_PIN write pin, pl_buf_setup_device_pin()):
 * 1. the CPU fills the mapping with a byte pattern; DMA_READ of a range that
 *    straddles pages returns exactly those bytes;
 * 2. DMA_WRITE of a sub-range [4096 + 48, 4 * 4096 - 32): every 16-byte slot
 *    in it holds the stamp (handle, page index of the slot, seq) read
 *    through the mapping, every byte outside it is still the CPU's pattern,
 *    and DMA_READ returns the same bytes as the mapping;
 * 3. file-backed: the CPU's writes dirtied the pages before the device
 *    wrote, so msync(MS_SYNC) writes the device's bytes too: the disk
 *    (read from the block device) equals the mapping, byte for byte; after
 *    a dirtying unpin, munmap, fsync and evicting the clean cache, read(2)
 *    returns the same bytes again.
 */
#include <fcntl.h>
#include <sys/mman.h>

#include "lib/pinlab.h"

#define DMA_OFF		(4096 + 48)
#define DMA_END		(4 * 4096 - 32)
#define READ_OFF	(2 * 4096 - 64)
#define READ_LEN	(2 * 4096 + 128)

static unsigned char cpu_byte(size_t off)
{
	return (unsigned char)(off * 7 + 3);
}

/* The bytes the mapping should hold after step 2. */
static void expected(unsigned char *want, size_t len, __u32 h, __u32 seq)
{
	size_t off;

	for (off = 0; off < len; off++)
		want[off] = cpu_byte(off);
	for (off = DMA_OFF; off < DMA_END; off += MOCKDMA_STAMP_SIZE) {
		struct mockdma_stamp s = {
			.magic = MOCKDMA_STAMP_MAGIC, .handle = h,
			.page_index = off / pl_page_size, .seq = seq,
		};

		memcpy(want + off, &s, sizeof(s));
	}
}

static void run(int fd, enum pl_mem mem)
{
	const char *name = pl_mem_name(mem);
	unsigned char *want, *got;
	int file = pl_mem_is_file(mem), ok = 1, read_ok, write_ok;
	int disk_ok = 1, cache_ok = 1;
	struct pl_buf buf;
	size_t off;
	__u32 h, seq;

	if (pl_buf_setup_device_pin(&buf, mem, fd, MOCKDMA_METHOD_PIN_FAST, &h)) {
		ksft_test_result_fail("%s: setup\n", name);
		return;
	}
	want = malloc(buf.len);
	got = malloc(buf.len);
	if (!want || !got)
		ksft_exit_fail_msg("out of memory\n");

	for (off = 0; off < buf.len; off++)
		buf.addr[off] = cpu_byte(off);
	ok &= !pl_dma_read(fd, h, READ_OFF, READ_LEN, got);
	read_ok = ok && !memcmp(got, buf.addr + READ_OFF, READ_LEN);

	ok &= !pl_dma_write(fd, h, DMA_OFF, DMA_END - DMA_OFF, 0, &seq);
	expected(want, buf.len, h, seq);
	ok &= !pl_dma_read(fd, h, 0, buf.len, got);
	write_ok = ok && !memcmp(buf.addr, want, buf.len) &&
		   !memcmp(got, want, buf.len);

	if (file) {
		ok &= !msync(buf.addr, buf.len, MS_SYNC);
		disk_ok = !pl_disk_read(buf.fd, 0, buf.len, got, NULL) &&
			  !memcmp(got, want, buf.len);
	}
	ok &= !pl_unpin(fd, h, MOCKDMA_UNPIN_DIRTY);
	if (file) {
		munmap(buf.map, buf.map_len);
		buf.map = NULL;
		ok &= !pl_fsync(buf.fd) && !pl_cache_evict_clean();
		cache_ok = !pl_cache_read(buf.fd, 0, buf.len, got) &&
			   !memcmp(got, want, buf.len);
	}
	ksft_print_msg("[INFO] %s: DMA_READ %s, DMA_WRITE %s, disk %s, re-read %s\n",
		       name, read_ok ? "ok" : "BAD", write_ok ? "ok" : "BAD",
		       file ? (disk_ok ? "ok" : "BAD") : "-",
		       file ? (cache_ok ? "ok" : "BAD") : "-");
	ksft_test_result(ok && read_ok && write_ok && disk_ok && cache_ok,
			 "%s: device reads and writes exactly the asked bytes%s\n",
			 name, file ? ", and the disk has them" : "");
	free(want);
	free(got);
	pl_buf_teardown(&buf);
}

int main(void)
{
	static const enum pl_mem mems[] = {
		PL_MEM_ANON, PL_MEM_MEMFD, PL_MEM_EXT4_SHARED, PL_MEM_XFS_SHARED,
	};
	int fd = pl_open_or_skip();
	unsigned int i;

	ksft_set_plan(ARRAY_SIZE(mems));
	for (i = 0; i < ARRAY_SIZE(mems); i++)
		run(fd, mems[i]);
	close(fd);
	ksft_finished();
}

// SPDX-License-Identifier: GPL-2.0
/*
 * ioctl_fuzz: a seeded fuzzer of /dev/mockdma's ioctl ABI
 * (driver/uapi/mockdma.h).  Every call must return success or an errno the
 * header documents for that verb, and the run must leave nothing behind.
 *
 * What it does: two processes (fork after opening the fds, so they share
 * them), three pthreads each, issue random verbs (the 10 ioctls, unknown
 * command numbers of mockdma's magic, the real numbers with a wrong size or
 * direction in the _IOC encoding, TCGETS) with random and boundary
 * arguments: page-aligned and unaligned addresses in a private arena of
 * varied mappings (anonymous RW, read-only, PROT_NONE, ext4 and xfs
 * MAP_SHARED files (read-only too) and an xfs MAP_PRIVATE one, memfd, THP,
 * hugetlb when pages are free), unmapped ranges, NULL, kernel and
 * non-canonical addresses, lengths and offsets near overflow (~0, 1 << 63,
 * page - 1 ...), every flag bit, non-zero pad and reserved fields, handles
 * of other fds, stale and guessed handles, double unpin, engine and
 * injection verbs in every state, DMA_READ into read-only buffers, argument
 * structs in a read-only view, across a PROT_NONE boundary, at NULL or in
 * the kernel.  Meanwhile the threads remap, mremap, mprotect and munmap the
 * arena, truncate, extend, write and fsync the backing files (fsync makes
 * armed WB_START/WB_END injections fire), atomically replace fds (dup2:
 * close of the old file while its ioctls still run) and close one fd outright
 * (its ioctls race the close: EBADF), and thread 0 of each process forks a
 * victim that pins, starts engines and arms injections on its own fd and on
 * the shared ones, and SIGKILLs it at a random point: after it is reaped, no
 * fd it opened may still be listed in mockdma's debugfs "fds".
 *
 * Checks (each call's result, then the end state):
 *   - success, or -1 with an errno in the verb's documented set: the
 *     header's own lists, MOCKDMA_ERRNOS_<VERB> (no copy here: the table
 *     below only names them).  A verb whose list has EBADF is one that
 *     needs a writable fd.  Where the header fixes the
 *     one answer, only that is allowed: a mutating verb on the O_RDONLY fd
 *     is EBADF (checked before the argument is read), an unknown command is
 *     ENOTTY, an unreadable argument pointer (NULL, kernel, non-canonical,
 *     PROT_NONE, straddling into PROT_NONE) is EFAULT.  The fd that is
 *     closed outright may also give EBADF.  An errno outside the set is
 *     printed with the verb, fd, command and arguments, and fails the run.
 *   - successful replies are consistent (PIN: non-zero handle and npages =
 *     length / page; DMA_WRITE: seq != 0, DMA_READ: seq 0; QUERY, ENGINE,
 *     INJECT: out fields in range).
 *   - at the end, every fd closed and every child reaped: debugfs stats
 *     pages_pinned, handles, engines_running, inject_armed are 0, and the
 *     deltas of nr_foll_pin_acquired and nr_foll_pin_released are equal.
 *   - each SIGKILLed victim exited by SIGKILL and left no fd behind.
 *
 * Write safety: the fake device writes into pinned pages, and DMA_READ and
 * QUERY write into user buffers.  So the fuzzer never lets the device write
 * into its own memory: a PIN outside the arena is sent without
 * MOCKDMA_PIN_WRITE (so DMA_WRITE, ENGINE_START and INJECT_ARM on it give
 * EPERM), user buffers are per-thread scratch, the arena or addresses that
 * cannot be written, and argument structs are always built by the fuzzer.
 * The arena sits at a fixed low address (ARENA_BASE), far below where the
 * kernel places mmap(NULL) (top-down from mmap_base), so the brief holes
 * left by munmap/mremap are never filled by a library mapping.
 *
 * Parameters: seed, calls (all processes and threads together) and a time
 * cap, whichever ends first.  Run time: argv[1..3] ("ioctl_fuzz SEED CALLS
 * SECONDS"), else $PINLAB_FUZZ_SEED, $PINLAB_FUZZ_CALLS,
 * $PINLAB_FUZZ_SECONDS, else the compiled-in defaults: seed 1, 4000 calls,
 * 20 s (make check).  The guest does not inherit the host's environment, so
 * a long run in the harness changes the compiled-in defaults:
 *
 *   rm -f userspace/build/ioctl_fuzz
 *   CFLAGS_ioctl_fuzz='-DFUZZ_CALLS=100000 -DFUZZ_SECONDS=300' \
 *       KERNELS=stock TESTS=ioctl_fuzz make check
 *   rm -f userspace/build/ioctl_fuzz	(back to the defaults)
 *
 * Reproducing: the seed fixes each thread's sequence of requests; the
 * interleaving of the six threads (and so some results) is up to the
 * scheduler, as in any concurrent fuzzer.  The seed is printed first.
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "lib/pinlab.h"

#ifndef FUZZ_SEED
#define FUZZ_SEED	1
#endif
#ifndef FUZZ_CALLS
#define FUZZ_CALLS	4000
#endif
#ifndef FUZZ_SECONDS
#define FUZZ_SECONDS	20
#endif

#define NPROC		2
#define NTHREAD		3

/* The arena: fixed, far below mmap_base (see the top). */
#define ARENA_BASE	0x100000000000UL
#define HUGE_SZ		(2UL << 20)
#define REG_PAGES	8
#define NREG		48		/* small regions in [0, 1.5 MiB) */
#define THP_OFF		(1 * HUGE_SZ)
#define HTLB_OFF	(2 * HUGE_SZ)
#define KILL_OFF	(3 * HUGE_SZ)	/* the victims' own pins */
#define ARENA_SZ	(4 * HUGE_SZ)
#define GUARD_SZ	(4 * HUGE_SZ)	/* after the arena, never mapped */
#define KILL_PAGES	512

#define FILE_PAGES	16		/* each backing file */

#define NSLOT		6
#define NSTABLE		4		/* slots 0..3: O_RDWR, replaced by dup2 */
#define SLOT_RDONLY	4		/* O_RDONLY, replaced by dup2 */
#define SLOT_VOLATILE	5		/* O_RDWR, closed and reopened */

#define NREC		48		/* live handles remembered per process */
#define NSTALE		32
#define SCR_PAGES	64		/* per-thread scratch, then a PROT_NONE page */
#define MAX_REPORTS	20

/* ---- verbs and errnos ---- */

enum verb {
	V_PIN, V_UNPIN, V_DMA_WRITE, V_DMA_READ, V_QUERY, V_ENG_START,
	V_ENG_STOP, V_ENG_STATUS, V_INJ_ARM, V_INJ_DISARM, V_GET_INFO,
	V_UNKNOWN, NVERB
};

enum err {
	E_FAULT, E_INVAL, E_2BIG, E_NOSPC, E_NOENT, E_PERM, E_BADF, E_NOMEM,
	E_OPNOTSUPP, E_INTR, E_NOTTY, E_BUSY, E_HWPOISON, E_OTHER, NERR
};

static const int err_val[NERR] = {
	EFAULT, EINVAL, E2BIG, ENOSPC, ENOENT, EPERM, EBADF, ENOMEM,
	EOPNOTSUPP, EINTR, ENOTTY, EBUSY, EHWPOISON, 0,
};

static const char *const err_name[NERR] = {
	"EFAULT", "EINVAL", "E2BIG", "ENOSPC", "ENOENT", "EPERM", "EBADF",
	"ENOMEM", "EOPNOTSUPP", "EINTR", "ENOTTY", "EBUSY", "EHWPOISON",
	"other",
};

#define B(e)	(1u << (e))

struct verb_info {
	const char *name;
	unsigned long cmd;
	const int *errnos;	/* the header's MOCKDMA_ERRNOS_<VERB>, 0-ended */
	int mutating;		/* needs FMODE_WRITE: EBADF on O_RDONLY */
	unsigned int allowed;	/* B(E_*) of errnos, filled by verbs_init() */
};

static const int pin_errnos[] = MOCKDMA_ERRNOS_PIN;
static const int unpin_errnos[] = MOCKDMA_ERRNOS_UNPIN;
static const int dma_write_errnos[] = MOCKDMA_ERRNOS_DMA_WRITE;
static const int dma_read_errnos[] = MOCKDMA_ERRNOS_DMA_READ;
static const int query_errnos[] = MOCKDMA_ERRNOS_QUERY;
static const int eng_start_errnos[] = MOCKDMA_ERRNOS_ENGINE_START;
static const int eng_stop_errnos[] = MOCKDMA_ERRNOS_ENGINE_STOP;
static const int eng_status_errnos[] = MOCKDMA_ERRNOS_ENGINE_STATUS;
static const int inj_arm_errnos[] = MOCKDMA_ERRNOS_INJECT_ARM;
static const int inj_disarm_errnos[] = MOCKDMA_ERRNOS_INJECT_DISARM;
static const int get_info_errnos[] = MOCKDMA_ERRNOS_GET_INFO;
static const int unknown_errnos[] = MOCKDMA_ERRNOS_UNKNOWN;

static struct verb_info verbs[NVERB] = {
	[V_PIN] = { "PIN", MOCKDMA_IOC_PIN, pin_errnos },
	[V_UNPIN] = { "UNPIN", MOCKDMA_IOC_UNPIN, unpin_errnos },
	[V_DMA_WRITE] = { "DMA_WRITE", MOCKDMA_IOC_DMA_WRITE,
			  dma_write_errnos },
	[V_DMA_READ] = { "DMA_READ", MOCKDMA_IOC_DMA_READ, dma_read_errnos },
	[V_QUERY] = { "QUERY", MOCKDMA_IOC_QUERY, query_errnos },
	[V_ENG_START] = { "ENGINE_START", MOCKDMA_IOC_ENGINE_START,
			  eng_start_errnos },
	[V_ENG_STOP] = { "ENGINE_STOP", MOCKDMA_IOC_ENGINE_STOP,
			 eng_stop_errnos },
	[V_ENG_STATUS] = { "ENGINE_STATUS", MOCKDMA_IOC_ENGINE_STATUS,
			   eng_status_errnos },
	[V_INJ_ARM] = { "INJECT_ARM", MOCKDMA_IOC_INJECT_ARM, inj_arm_errnos },
	[V_INJ_DISARM] = { "INJECT_DISARM", MOCKDMA_IOC_INJECT_DISARM,
			   inj_disarm_errnos },
	[V_GET_INFO] = { "GET_INFO", MOCKDMA_IOC_GET_INFO, get_info_errnos },
	[V_UNKNOWN] = { "UNKNOWN", 0, unknown_errnos },
};

static int err_index(int e)
{
	int i;

	for (i = 0; i < E_OTHER; i++)
		if (err_val[i] == e)
			return i;
	return E_OTHER;
}

/*
 * The allowed sets from the header's lists.  An errno listed there that
 * this program cannot count (not in err_val[]) is a fuzzer bug: fail.
 */
static void verbs_init(void)
{
	int v, i;

	for (v = 0; v < NVERB; v++)
		for (i = 0; verbs[v].errnos[i]; i++) {
			int e = err_index(verbs[v].errnos[i]);

			if (e == E_OTHER)
				ksft_exit_fail_msg("%s: the header lists %s, which the fuzzer does not count\n",
						   verbs[v].name,
						   strerror(verbs[v].errnos[i]));
			verbs[v].allowed |= B(e);
			verbs[v].mutating |= verbs[v].errnos[i] == EBADF;
		}
}

/* ---- state shared by both processes (MAP_SHARED) ---- */

enum chaos {
	C_REMAP, C_MREMAP, C_MPROTECT, C_HUGE, C_THP, C_TRUNC, C_PWRITE,
	C_FSYNC, C_FDREPLACE, C_VOLATILE, C_DOUBLE_UNPIN, C_ARM_WB,
	C_SHRINK, NCHAOS
};

static const char *const chaos_name[NCHAOS] = {
	"remap", "mremap", "mprotect", "hugetlb-remap", "thp-remap",
	"truncate", "pwrite", "fsync", "fd-replace", "fd-close", "double-unpin",
	"arm-dirty-fsync", "drop-slab",
};

/* Where a victim was when it was killed. */
enum phase {
	PH_NOT_STARTED, PH_IDLE, PH_MMAP, PH_PIN, PH_ENGINE, PH_INJECT,
	PH_PIN_SHARED, PH_ENGINE_SHARED, PH_UNPIN, NPHASE
};

static const char *const phase_name[NPHASE] = {
	"not-started", "between-calls", "mmap", "PIN", "ENGINE_START",
	"INJECT_ARM", "PIN-shared-fd", "ENGINE_START-shared-fd", "UNPIN",
};

struct shared {
	long calls;
	long verb_calls[NVERB], verb_ok[NVERB];
	long err[NVERB][NERR];
	long undocumented, bad_reply;
	long chaos[NCHAOS];
	long kills, kills_phase[NPHASE], kills_unreleased, kills_odd_exit;
	long fork_failed;
	long htlb_ok, htlb_fail;
	int stop;
	int victim_phase[NPROC];
};

static struct shared *S;

#define ADD(field, n)	__atomic_add_fetch(&(field), (n), __ATOMIC_RELAXED)
#define INC(field)	ADD(field, 1)

/* ---- per process ---- */

struct hrec {
	int slot;
	__u32 id, npages, flags;
};

struct proc {
	int idx;
	int fds[NSLOT];
	pthread_mutex_t fd_lock;	/* dup2/close/open of the slots */
	pthread_mutex_t rec_lock;
	struct hrec recs[NREC];
	int nrec;
	struct hrec stale[NSTALE];
	unsigned int nstale;
	__u32 max_id;
	int dbg_fds;			/* debugfs "fds", read with pread */
	int reports;
	pthread_mutex_t print_lock;
};

static struct proc P;
static size_t ps;
/* GET_INFO at the start: the limits, instead of the module parameters. */
static struct mockdma_info info;
static unsigned long long cfg_seed;
static long cfg_calls, cfg_seconds;
static struct timespec t_end;
static char *arena;

/* Backing files, opened before the fork and shared. */
static int ext4_fd = -1, ext4_ro_fd = -1, xfs_fd = -1, mem_fd = -1;
static char ext4_path[256], xfs_path[256];

struct thr {
	int idx;
	__u64 rng;
	char *scr;		/* SCR_PAGES RW, then one PROT_NONE page */
	char *ro;		/* 4 read-only pages */
	char *view_rw, *view_ro;	/* one memfd page, mapped twice */
	pthread_t th;
};

/* ---- PRNG: xorshift64* ---- */

static __u64 rnd(struct thr *t)
{
	__u64 x = t->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	t->rng = x;
	return x * 0x2545f4914f6cdd1dULL;
}

static __u64 rn(struct thr *t, __u64 n)
{
	return n ? rnd(t) % n : 0;
}

static int one_in(struct thr *t, __u64 n)
{
	return rn(t, n) == 0;
}

static __u64 seed_mix(__u64 x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x ? x : 1;
}

static int time_up(void)
{
	struct timespec now;

	if (__atomic_load_n(&S->stop, __ATOMIC_RELAXED))
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec > t_end.tv_sec ||
	    (now.tv_sec == t_end.tv_sec && now.tv_nsec >= t_end.tv_nsec)) {
		__atomic_store_n(&S->stop, 1, __ATOMIC_RELAXED);
		return 1;
	}
	return 0;
}

/* ---- the arena ---- */

enum rtype {
	R_NONE, R_ANON_RW, R_ANON_RO, R_EXT4_RW, R_EXT4_RO, R_XFS_RW,
	R_XFS_PRIV, R_MEMFD, NRTYPE
};

static char *reg_addr(unsigned int r)
{
	return arena + (size_t)r * REG_PAGES * ps;
}

static void map_none(void *addr, size_t len)
{
	mmap(addr, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED |
	     MAP_NORESERVE, -1, 0);
}

static void map_region(struct thr *t, unsigned int r, int type)
{
	off_t off = (off_t)rn(t, FILE_PAGES / REG_PAGES) * REG_PAGES * ps;
	int rw = PROT_READ | PROT_WRITE, fx = MAP_FIXED;
	size_t len = REG_PAGES * ps;
	char *a = reg_addr(r);
	void *m = MAP_FAILED;

	switch (type) {
	case R_NONE:
		break;
	case R_ANON_RW:
		m = mmap(a, len, rw, MAP_PRIVATE | MAP_ANONYMOUS | fx, -1, 0);
		break;
	case R_ANON_RO:
		m = mmap(a, len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | fx,
			 -1, 0);
		break;
	case R_EXT4_RW:
		m = mmap(a, len, rw, MAP_SHARED | fx, ext4_fd, off);
		break;
	case R_EXT4_RO:
		m = mmap(a, len, PROT_READ, MAP_SHARED | fx, ext4_ro_fd, off);
		break;
	case R_XFS_RW:
		m = mmap(a, len, rw, MAP_SHARED | fx, xfs_fd, off);
		break;
	case R_XFS_PRIV:
		m = mmap(a, len, rw, MAP_PRIVATE | fx, xfs_fd, off);
		break;
	case R_MEMFD:
		m = mmap(a, len, rw, MAP_SHARED | fx, mem_fd, off);
		break;
	}
	if (m == MAP_FAILED)
		map_none(a, len);
}

static int random_rtype(struct thr *t)
{
	/* Weighted to pinnable memory, files first. */
	static const int w[] = {
		R_NONE, R_ANON_RW, R_ANON_RW, R_ANON_RO, R_EXT4_RW, R_EXT4_RW,
		R_EXT4_RO, R_XFS_RW, R_XFS_RW, R_XFS_PRIV, R_MEMFD,
	};

	return w[rn(t, ARRAY_SIZE(w))];
}

static void map_thp(void)
{
	char *a = arena + THP_OFF;

	if (mmap(a, HUGE_SZ, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
		map_none(a, HUGE_SZ);
	else
		madvise(a, HUGE_SZ, MADV_HUGEPAGE);
}

/* Shared, so that a fork need not copy a pinned huge page. */
static void map_hugetlb(void)
{
	char *a = arena + HTLB_OFF;

	if (mmap(a, HUGE_SZ, PROT_READ | PROT_WRITE, MAP_SHARED |
		 MAP_ANONYMOUS | MAP_HUGETLB | MAP_FIXED, -1, 0) == MAP_FAILED) {
		INC(S->htlb_fail);
		map_none(a, HUGE_SZ);
	} else {
		INC(S->htlb_ok);
	}
}

static int in_arena(__u64 addr, __u64 len)
{
	__u64 b = (unsigned long)arena;

	return addr >= b && addr < b + ARENA_SZ && len <= b + ARENA_SZ - addr;
}

/* ---- handles ---- */

static void unpin_rec(struct thr *t, const struct hrec *h, __u32 flags);

static void rec_add(struct thr *t, int slot, __u32 id, __u32 npages,
		    __u32 flags)
{
	struct hrec evict = { .slot = -1 };

	pthread_mutex_lock(&P.rec_lock);
	if (id > P.max_id)
		P.max_id = id;
	if (P.nrec == NREC) {
		evict = P.recs[0];
		P.recs[0] = P.recs[--P.nrec];
	}
	P.recs[P.nrec++] = (struct hrec){ slot, id, npages, flags };
	pthread_mutex_unlock(&P.rec_lock);
	/* Keeps the pinned memory bounded. */
	if (evict.slot >= 0)
		unpin_rec(t, &evict, (__u32)rn(t, 2));
}

/* A random live record; with @take, removed from the table. */
static int rec_pick(struct thr *t, struct hrec *out, int take)
{
	int i, ok = 0;

	pthread_mutex_lock(&P.rec_lock);
	if (P.nrec) {
		i = (int)rn(t, P.nrec);
		*out = P.recs[i];
		if (take)
			P.recs[i] = P.recs[--P.nrec];
		ok = 1;
	}
	pthread_mutex_unlock(&P.rec_lock);
	return ok;
}

/* A random live record pinned for write, not removed. */
static int rec_pick_write(struct thr *t, struct hrec *out)
{
	int i, n, start, ok = 0;

	pthread_mutex_lock(&P.rec_lock);
	n = P.nrec;
	start = (int)rn(t, n ? n : 1);
	for (i = 0; i < n; i++) {
		const struct hrec *h = &P.recs[(start + i) % n];

		if (h->flags & MOCKDMA_PIN_WRITE) {
			*out = *h;
			ok = 1;
			break;
		}
	}
	pthread_mutex_unlock(&P.rec_lock);
	return ok;
}

static void stale_add(const struct hrec *h)
{
	pthread_mutex_lock(&P.rec_lock);
	P.stale[P.nstale++ % NSTALE] = *h;
	pthread_mutex_unlock(&P.rec_lock);
}

static int stale_pick(struct thr *t, struct hrec *out)
{
	int ok = 0;

	pthread_mutex_lock(&P.rec_lock);
	if (P.nstale) {
		unsigned int n = P.nstale < NSTALE ? P.nstale : NSTALE;

		*out = P.stale[rn(t, n)];
		ok = 1;
	}
	pthread_mutex_unlock(&P.rec_lock);
	return ok;
}

/*
 * A handle for a verb, and the fd slot to send it on: mostly a live one on
 * its own fd, else on another fd, stale, guessed (the other process's and
 * the victims' handles on the shared fds), 0 or wild.
 */
static __u32 pick_handle(struct thr *t, int *slot, struct hrec *h)
{
	__u64 r = rn(t, 100);

	h->npages = 0;
	*slot = (int)rn(t, NSLOT);
	if (r < 75 && rec_pick(t, h, 0)) {
		if (!one_in(t, 8))
			*slot = h->slot;
		return h->id;
	}
	if (r < 84 && stale_pick(t, h)) {
		if (!one_in(t, 4))
			*slot = h->slot;
		return h->id;
	}
	if (r < 90)
		return 1 + (__u32)rn(t, P.max_id + 8);
	if (r < 93)
		return 0;
	if (r < 95)
		return ~0U;
	return (__u32)rnd(t);
}

/* ---- interesting values ---- */

static __u64 boundary(struct thr *t)
{
	const __u64 v[] = {
		0, 1, 15, 16, 17, ps - 1, ps, ps + 1, 2 * ps, HUGE_SZ,
		0x7fffffffULL, 0x80000000ULL, 0xffffffffULL, 0x100000000ULL,
		1ULL << 62, 1ULL << 63, ~0ULL, ~0ULL - 15, ~0ULL - ps + 1,
		~(__u64)(ps - 1), 0x7ffffffff000ULL, 0x800000000000ULL,
		262144ULL, 262145ULL, 524288ULL, 1024, 1025,
	};

	return v[rn(t, ARRAY_SIZE(v))];
}

static __u32 bit_or_garbage(struct thr *t, __u32 valid)
{
	__u64 r = rn(t, 20);

	if (r < 17)
		return (__u32)rnd(t) & valid;
	if (r < 19)
		return 1u << rn(t, 32);
	return (__u32)rnd(t);
}

static __u64 pick_user_addr(struct thr *t, int *bad)
{
	__u64 b = (unsigned long)arena, r = rn(t, 100);

	*bad = 0;
	if (r < 40)
		return b + rn(t, ARENA_SZ / ps) * ps;
	if (r < 62)	/* the small regions, the most varied part */
		return b + rn(t, NREG * REG_PAGES) * ps;
	if (r < 66)
		return b + rn(t, ARENA_SZ);	/* unaligned */
	if (r < 72)
		return b + ARENA_SZ + rn(t, GUARD_SZ / ps) * ps; /* unmapped */
	*bad = 1;
	if (r < 76)
		return 0;
	if (r < 80)
		return 0xffff888000000000ULL + rn(t, 64) * ps;
	if (r < 83)
		return 0xffffffff81000000ULL;
	if (r < 86)
		return 0x800000000000ULL;	/* first non-canonical */
	if (r < 89)
		return 0x7ffffffff000ULL;	/* last user page, unmapped */
	*bad = 0;
	if (r < 93)
		return (unsigned long)t->scr & ~(ps - 1);	/* our own */
	if (r < 96)
		return (unsigned long)&rnd & ~(ps - 1);		/* our text */
	return boundary(t);
}

static __u64 pick_pin_len(struct thr *t)
{
	__u64 r = rn(t, 100);

	if (r < 60)
		return (1 + rn(t, 16)) * ps;
	if (r < 75)
		return (1 + rn(t, 64)) * ps;
	if (r < 80)
		return HUGE_SZ;
	if (r < 84)
		return 1 + rn(t, 3 * ps);
	if (r < 87)	/* max_pin_pages + 1: E2BIG */
		return (info.max_pin_pages + 1) * ps;
	if (r < 89)
		return info.max_pin_pages * ps;	/* the limit itself */
	return boundary(t);
}

/* A user buffer the kernel may write: ours, the arena, or unwritable. */
static __u64 pick_ubuf(struct thr *t)
{
	__u64 r = rn(t, 100);

	if (r < 60)
		return (unsigned long)t->scr + ps + rn(t, ps / 16) * 16;
	if (r < 70)
		return (unsigned long)t->ro;		/* read-only */
	if (r < 78)
		return (unsigned long)arena + rn(t, ARENA_SZ / 16) * 16;
	if (r < 82)
		return (unsigned long)t->scr + SCR_PAGES * ps;	/* PROT_NONE */
	if (r < 86)
		return 0;
	if (r < 90)
		return 0xffff888000000000ULL;
	if (r < 94)
		return (unsigned long)arena + ARENA_SZ;	/* unmapped */
	if (r < 97)
		return 0x800000000000ULL;
	return (unsigned long)t->scr + (SCR_PAGES - 1) * ps + ps - 8;
}

/* An offset and length in bytes for a range of @bytes (0: unknown). */
static void pick_range(struct thr *t, __u64 bytes, __u64 align, __u64 *off,
		       __u64 *len)
{
	__u64 r = rn(t, 100);

	if (!bytes)
		bytes = 8 * ps;
	if (r < 80) {
		*off = rn(t, bytes / align) * align;
		*len = (1 + rn(t, (bytes - *off) / align)) * align;
		if (one_in(t, 3) && *len > 4 * ps)
			*len = (1 + rn(t, 4 * ps / align)) * align;
		return;
	}
	*off = r < 86 ? bytes - align : boundary(t);
	*len = r < 90 ? align : (one_in(t, 2) ? boundary(t) : bytes);
}

/* ---- issuing and checking ---- */

union args {
	struct mockdma_pin pin;
	struct mockdma_unpin unpin;
	struct mockdma_dma dma;
	struct mockdma_query q;
	struct mockdma_engine e;
	struct mockdma_inject in;
	struct mockdma_info info;
	__u64 raw[8];
};

enum where {
	W_SCRATCH, W_RO_VIEW, W_STRADDLE, W_NULL, W_KERNEL, W_PROT_NONE,
	W_NONCANON, W_UNMAPPED, NWHERE
};

static const char *const where_name[NWHERE] = {
	"scratch", "read-only view", "straddling PROT_NONE", "NULL",
	"kernel", "PROT_NONE", "non-canonical", "unmapped",
};

struct call {
	int verb, slot;
	unsigned long cmd;
	size_t size;
	int where;
	union args a;		/* as built */
	union args out;		/* reply, when the argument was in scratch */
};

static void dump_args(const struct call *c, char *s, size_t n)
{
	const union args *a = &c->a;

	switch (c->verb) {
	case V_PIN:
		snprintf(s, n, "addr=%#llx length=%#llx method=%u flags=%#x handle=%u pad=%#x npages=%#llx",
			 a->pin.addr, a->pin.length, a->pin.method,
			 a->pin.flags, a->pin.handle, a->pin.pad,
			 a->pin.npages);
		break;
	case V_UNPIN:
		snprintf(s, n, "handle=%u flags=%#x", a->unpin.handle,
			 a->unpin.flags);
		break;
	case V_DMA_WRITE:
	case V_DMA_READ:
		snprintf(s, n, "handle=%u flags=%#x offset=%#llx length=%#llx user_buf=%#llx seq=%#llx",
			 a->dma.handle, a->dma.flags, a->dma.offset,
			 a->dma.length, a->dma.user_buf, a->dma.seq);
		break;
	case V_QUERY:
		snprintf(s, n, "handle=%u flags=%#x first_page=%#llx npages=%#llx pages=%#llx",
			 a->q.handle, a->q.flags, a->q.first_page,
			 a->q.npages, a->q.pages);
		break;
	case V_ENG_START:
	case V_ENG_STOP:
	case V_ENG_STATUS:
		snprintf(s, n, "handle=%u flags=%#x first_page=%#llx npages=%#llx interval_us=%u last_seq=%#llx",
			 a->e.handle, a->e.flags, a->e.first_page,
			 a->e.npages, a->e.interval_us, a->e.last_seq);
		break;
	case V_INJ_ARM:
	case V_INJ_DISARM:
		snprintf(s, n, "handle=%u point=%u first_page=%#llx npages=%#llx offset=%#x length=%#x flags=%#x pad=%#x seq=%#llx",
			 a->in.handle, a->in.point, a->in.first_page,
			 a->in.npages, a->in.offset, a->in.length,
			 a->in.flags, a->in.pad, a->in.seq);
		break;
	case V_GET_INFO:
		snprintf(s, n, "flags=%#x", a->info.flags);
		break;
	default:
		snprintf(s, n, "raw=%#llx %#llx %#llx %#llx", a->raw[0],
			 a->raw[1], a->raw[2], a->raw[3]);
		break;
	}
}

static void report(const struct call *c, const char *what, unsigned int allowed)
{
	char args[512], set[256] = "";
	int i;

	pthread_mutex_lock(&P.print_lock);
	if (P.reports++ < MAX_REPORTS) {
		for (i = 0; i < E_OTHER; i++)
			if (allowed & B(i)) {
				strcat(set, " ");
				strcat(set, err_name[i]);
			}
		dump_args(c, args, sizeof(args));
		ksft_print_msg("seed %llu proc %d: %s %s (cmd %#lx) on fd slot %d%s, arg %s: %s; allowed:%s\n",
			       cfg_seed, P.idx, verbs[c->verb].name, what,
			       c->cmd, c->slot,
			       c->slot == SLOT_RDONLY ? " (O_RDONLY)" :
			       c->slot == SLOT_VOLATILE ? " (closed at times)" : "",
			       where_name[c->where], args, set);
		fflush(stdout);
	}
	pthread_mutex_unlock(&P.print_lock);
}

static void bad_reply(const struct call *c, const char *why)
{
	INC(S->bad_reply);
	report(c, why, 0);
}

/* Puts the argument where c->where says; the pointer the ioctl gets. */
static void *place(struct thr *t, struct call *c)
{
	/* Less than the whole struct readable: for 8 bytes, none. */
	size_t half = (c->size / 2) & ~7UL;
	char *edge = t->scr + SCR_PAGES * ps;

	switch (c->where) {
	case W_SCRATCH:
		memcpy(t->scr, &c->a, sizeof(c->a));
		return t->scr;
	case W_RO_VIEW:
		memcpy(t->view_rw, &c->a, sizeof(c->a));
		return t->view_ro;
	case W_STRADDLE:
		memcpy(edge - half, &c->a, half);
		return edge - half;
	case W_NULL:
		return NULL;
	case W_KERNEL:
		return (void *)0xffff888000001000UL;
	case W_PROT_NONE:
		return edge;
	case W_NONCANON:
		return (void *)0x800000000000UL;
	default:
		return arena + ARENA_SZ + ps;
	}
}

static void check_reply(const struct call *c)
{
	const union args *o = &c->out;

	switch (c->verb) {
	case V_PIN:
		if (!o->pin.handle || o->pin.npages != c->a.pin.length / ps)
			bad_reply(c, "PIN reply: handle 0 or npages != length / page");
		break;
	case V_DMA_WRITE:
		if (!o->dma.seq)
			bad_reply(c, "DMA_WRITE reply: seq 0");
		break;
	case V_DMA_READ:
		if (o->dma.seq)
			bad_reply(c, "DMA_READ reply: seq not 0");
		break;
	case V_QUERY:
		if (!o->q.npages || o->q.npages > c->a.q.npages ||
		    !o->q.length || o->q.length % ps ||
		    c->a.q.first_page + o->q.npages > o->q.length / ps ||
		    o->q.method >= MOCKDMA_METHOD_COUNT ||
		    (o->q.pin_flags & ~MOCKDMA_PIN_VALID) ||
		    o->q.engine_running > 1 ||
		    o->q.inject_armed > MOCKDMA_INJECT_MAX_PAGES)
			bad_reply(c, "QUERY reply out of range");
		break;
	case V_ENG_START:
	case V_ENG_STOP:
	case V_ENG_STATUS:
		if (o->e.running > 1)
			bad_reply(c, "ENGINE reply: running not 0 or 1");
		break;
	case V_INJ_ARM:
		if (!o->in.armed || o->in.armed > MOCKDMA_INJECT_MAX_PAGES ||
		    (c->a.in.npages && o->in.armed != c->a.in.npages) ||
		    !o->in.seq || (c->a.in.seq && o->in.seq != c->a.in.seq))
			bad_reply(c, "INJECT_ARM reply: armed or seq wrong");
		break;
	case V_INJ_DISARM:
		if (o->in.armed > MOCKDMA_INJECT_MAX_PAGES)
			bad_reply(c, "INJECT_DISARM reply: armed out of range");
		break;
	case V_GET_INFO:
		if (o->info.abi_version != MOCKDMA_ABI_VERSION ||
		    o->info.page_size != ps || !o->info.max_pin_pages ||
		    o->info.inject_max_pages != MOCKDMA_INJECT_MAX_PAGES)
			bad_reply(c, "GET_INFO reply wrong");
		break;
	case V_UNKNOWN:
		bad_reply(c, "unknown command succeeded");
		break;
	}
}

/*
 * Issues @c and checks the result.  @exact: the only errno the header
 * allows here (0: the verb's whole set).  Returns 0 or -errno.
 */
static int issue(struct thr *t, struct call *c, int exact)
{
	unsigned int allowed = exact ? B(err_index(exact)) :
				       verbs[c->verb].allowed;
	void *arg = place(t, c);
	int ret, e, err;

	if (c->slot == SLOT_VOLATILE)
		allowed |= B(E_BADF);
	ret = ioctl(P.fds[c->slot], c->cmd, arg);
	err = errno;
	INC(S->calls);
	INC(S->verb_calls[c->verb]);
	if (ret == 0) {
		INC(S->verb_ok[c->verb]);
		if (c->where == W_SCRATCH) {
			memcpy(&c->out, t->scr, sizeof(c->out));
			check_reply(c);
		} else if (c->verb != V_UNPIN) {
			/* Every other verb writes its reply back. */
			bad_reply(c, "succeeded with an unwritable argument");
		}
		return 0;
	}
	if (ret != -1) {
		INC(S->undocumented);
		report(c, "returned neither 0 nor -1", allowed);
		return -EIO;
	}
	e = err_index(err);
	INC(S->err[c->verb][e]);
	if (e == E_OTHER || !(allowed & B(e))) {
		char what[64];

		INC(S->undocumented);
		snprintf(what, sizeof(what), "failed with undocumented %s",
			 e == E_OTHER ? strerror(err) : err_name[e]);
		report(c, what, allowed);
	}
	return -err;
}

/* The errno the header fixes for this placement and fd, or 0. */
static int expected_exact(const struct call *c)
{
	if (c->verb == V_UNKNOWN)
		return ENOTTY;
	if (c->slot == SLOT_RDONLY && verbs[c->verb].mutating)
		return EBADF;
	if (c->where >= W_STRADDLE)
		return EFAULT;
	return 0;
}

static int pick_where(struct thr *t)
{
	__u64 r = rn(t, 100);

	if (r < 86)
		return W_SCRATCH;
	if (r < 91)
		return W_RO_VIEW;
	return W_STRADDLE + (int)rn(t, NWHERE - W_STRADDLE);
}

/* ---- the verbs ---- */

static void gen_pin(struct thr *t, struct call *c)
{
	struct mockdma_pin *p = &c->a.pin;
	int bad;

	c->slot = (int)rn(t, NSLOT);
	p->addr = pick_user_addr(t, &bad);
	p->length = pick_pin_len(t);
	p->method = one_in(t, 12) ? (__u32)boundary(t) :
		    (__u32)rn(t, MOCKDMA_METHOD_COUNT);
	p->flags = bit_or_garbage(t, MOCKDMA_PIN_VALID);
	/* Mostly not the combination refused with EINVAL. */
	if ((p->method == MOCKDMA_METHOD_GUP ||
	     p->method == MOCKDMA_METHOD_PIN_UNLOCKED) && !one_in(t, 4))
		p->flags &= ~MOCKDMA_PIN_LONGTERM;
	if (one_in(t, 20))
		p->pad = (__u32)rnd(t) | 1;
	if (one_in(t, 6)) {
		/* (out) fields: the driver must ignore what comes in */
		p->handle = (__u32)rnd(t);
		p->npages = rnd(t);
	}
	/* The device may only ever write into the arena. */
	if (!in_arena(p->addr, p->length))
		p->flags &= ~MOCKDMA_PIN_WRITE;
}

static void gen_dma(struct thr *t, struct call *c, int write)
{
	struct mockdma_dma *d = &c->a.dma;
	struct hrec h;

	d->handle = pick_handle(t, &c->slot, &h);
	pick_range(t, (__u64)h.npages * ps, MOCKDMA_STAMP_SIZE, &d->offset,
		   &d->length);
	if (one_in(t, 20))
		d->offset |= 1 + rn(t, 15);
	d->flags = bit_or_garbage(t, write ? MOCKDMA_DMA_VALID : 0);
	if (write)
		d->user_buf = one_in(t, 15) ? pick_ubuf(t) | 1 : 0;
	else
		d->user_buf = pick_ubuf(t);
	if (one_in(t, 15))
		d->seq = rnd(t);	/* (out) */
}

static void gen_query(struct thr *t, struct call *c)
{
	struct mockdma_query *q = &c->a.q;
	__u64 r = rn(t, 10);
	struct hrec h;

	q->handle = pick_handle(t, &c->slot, &h);
	q->first_page = one_in(t, 8) ? boundary(t) : rn(t, h.npages + 2);
	q->npages = r < 6 ? 1 + rn(t, 64) : r < 8 ? boundary(t) : ~0ULL;
	q->pages = pick_ubuf(t);
	if (one_in(t, 12))
		q->flags = bit_or_garbage(t, 0);
	if (one_in(t, 6)) {
		q->addr = rnd(t);	/* (out) fields */
		q->dma_writes = rnd(t);
	}
}

static __u32 pick_interval(struct thr *t)
{
	static const __u32 v[] = {
		1000, 2000, 10000, 100000, 1000000, 1000001, ~0U, 500, 1000,
		5000, 50000, 20000,
	};

	/* 0: the shortest pause, one jiffy. */
	if (one_in(t, 24))
		return 0;
	return v[rn(t, ARRAY_SIZE(v))];
}

static void gen_engine(struct thr *t, struct call *c)
{
	struct mockdma_engine *e = &c->a.e;
	struct hrec h;

	e->handle = pick_handle(t, &c->slot, &h);
	if (c->verb == V_ENG_START) {
		e->first_page = one_in(t, 8) ? boundary(t) :
				rn(t, h.npages + 1);
		e->npages = one_in(t, 8) ? boundary(t) :
			    rn(t, h.npages + 1 - (e->first_page < h.npages ?
						  e->first_page : 0));
		e->interval_us = pick_interval(t);
		e->flags = bit_or_garbage(t, MOCKDMA_ENGINE_VALID);
	} else {
		if (one_in(t, 10))
			e->flags = bit_or_garbage(t, MOCKDMA_ENGINE_VALID);
		if (one_in(t, 8)) {
			/* START's inputs: EINVAL here */
			e->first_page = rnd(t);
			e->interval_us = (__u32)rnd(t);
		}
	}
	if (one_in(t, 6)) {
		e->running = (__u32)rnd(t);	/* (out) */
		e->last_seq = rnd(t);
	}
}

static void gen_inject(struct thr *t, struct call *c)
{
	struct mockdma_inject *in = &c->a.in;
	__u64 off, len;
	struct hrec h;

	in->handle = pick_handle(t, &c->slot, &h);
	in->point = one_in(t, 10) ? (__u32)boundary(t) :
		    (__u32)rn(t, MOCKDMA_INJECT_COUNT);
	if (c->verb == V_INJ_ARM) {
		in->first_page = one_in(t, 8) ? boundary(t) :
				 rn(t, h.npages + 1);
		in->npages = one_in(t, 8) ? boundary(t) : rn(t, 5);
		pick_range(t, ps, MOCKDMA_STAMP_SIZE, &off, &len);
		in->offset = (__u32)off;
		in->length = (__u32)len;
		in->seq = one_in(t, 6) ? rn(t, 8) :
			  one_in(t, 20) ? boundary(t) : 0;
	} else if (one_in(t, 8)) {
		in->first_page = rn(t, 2);
		in->seq = rn(t, 2);
	}
	if (one_in(t, 15))
		in->flags = bit_or_garbage(t, 0);
	if (one_in(t, 20))
		in->pad = (__u32)rnd(t) | 1;
	if (one_in(t, 6)) {
		in->armed = rnd(t);	/* (out) */
		in->fired = rnd(t);
	}
}

static unsigned long gen_unknown_cmd(struct thr *t)
{
	static const size_t sizes[] = {
		sizeof(struct mockdma_pin), sizeof(struct mockdma_unpin),
		sizeof(struct mockdma_dma), sizeof(struct mockdma_query),
		sizeof(struct mockdma_engine), sizeof(struct mockdma_inject),
		sizeof(struct mockdma_info), 56, 0, 4, 16, 64, 16383,
	};
	unsigned long cmd;
	int i;

	for (;;) {
		__u64 r = rn(t, 10);

		if (r < 4)	/* a real verb's number, wrong size */
			cmd = _IOC(rn(t, 4), MOCKDMA_IOC_MAGIC,
				   rn(t, _IOC_NR(MOCKDMA_IOC_GET_INFO) + 1),
				   sizes[rn(t, ARRAY_SIZE(sizes))]);
		else if (r < 8)	/* numbers the driver does not have */
			cmd = _IOC(rn(t, 4), MOCKDMA_IOC_MAGIC,
				   _IOC_NR(MOCKDMA_IOC_GET_INFO) + 1 +
				   rn(t, 255 - _IOC_NR(MOCKDMA_IOC_GET_INFO)),
				   rn(t, 1 << 14));
		else if (r < 9)	/* any number and size of our magic */
			cmd = _IOC(rn(t, 4), MOCKDMA_IOC_MAGIC, rn(t, 256),
				   rn(t, 1 << 14));
		else	/* a tty's: not ours either */
			cmd = TCGETS;
		/*
		 * Only our magic and TCGETS: do_vfs_ioctl() itself handles
		 * some other numbers (FIOCLEX, FIFREEZE ...) on any fd.
		 */
		for (i = 0; i < V_UNKNOWN; i++)
			if (cmd == verbs[i].cmd)
				break;
		if (i == V_UNKNOWN)
			return cmd;
	}
}

static void unpin_rec(struct thr *t, const struct hrec *h, __u32 flags)
{
	struct call c = { .verb = V_UNPIN, .slot = h->slot,
			  .cmd = MOCKDMA_IOC_UNPIN,
			  .size = sizeof(struct mockdma_unpin) };

	c.a.unpin.handle = h->id;
	c.a.unpin.flags = flags;
	if (!issue(t, &c, 0))
		stale_add(h);
}

static void one_call(struct thr *t)
{
	static const int weights[] = {
		V_PIN, V_PIN, V_PIN, V_PIN, V_PIN, V_UNPIN, V_UNPIN,
		V_DMA_WRITE, V_DMA_WRITE, V_DMA_READ, V_DMA_READ, V_QUERY,
		V_QUERY, V_ENG_START, V_ENG_START, V_ENG_STOP, V_ENG_STOP,
		V_ENG_STATUS, V_INJ_ARM, V_INJ_ARM, V_INJ_DISARM, V_GET_INFO,
		V_UNKNOWN,
	};
	struct hrec h = { .slot = -1 };
	struct call c;
	int ret;

	memset(&c, 0, sizeof(c));
	c.verb = weights[rn(t, ARRAY_SIZE(weights))];
	c.cmd = verbs[c.verb].cmd;
	c.size = _IOC_SIZE(c.cmd);
	switch (c.verb) {
	case V_PIN:
		gen_pin(t, &c);
		break;
	case V_UNPIN:
		/* A live record, taken out first, else any handle. */
		if (!one_in(t, 4) && rec_pick(t, &h, 1)) {
			c.slot = h.slot;
			c.a.unpin.handle = h.id;
		} else {
			c.a.unpin.handle = pick_handle(t, &c.slot, &h);
			h.slot = -1;
		}
		c.a.unpin.flags = bit_or_garbage(t, MOCKDMA_UNPIN_VALID);
		break;
	case V_DMA_WRITE:
	case V_DMA_READ:
		gen_dma(t, &c, c.verb == V_DMA_WRITE);
		break;
	case V_QUERY:
		gen_query(t, &c);
		break;
	case V_ENG_START:
	case V_ENG_STOP:
	case V_ENG_STATUS:
		gen_engine(t, &c);
		break;
	case V_INJ_ARM:
	case V_INJ_DISARM:
		gen_inject(t, &c);
		break;
	case V_GET_INFO:
		c.slot = (int)rn(t, NSLOT);
		if (one_in(t, 4))
			c.a.info.flags = bit_or_garbage(t, 0);
		if (one_in(t, 4))
			c.a.info.max_fd_pages = rnd(t);	/* (out) */
		break;
	default:
		c.cmd = gen_unknown_cmd(t);
		c.size = _IOC_SIZE(c.cmd);
		c.slot = (int)rn(t, NSLOT);
		c.a.raw[0] = rnd(t);
		c.a.raw[1] = rnd(t);
		c.a.raw[2] = boundary(t);
		break;
	}
	if (c.size > sizeof(c.a))
		c.size = sizeof(c.a);
	c.where = pick_where(t);
	ret = issue(t, &c, expected_exact(&c));

	if (c.verb == V_PIN && !ret && c.where == W_SCRATCH) {
		rec_add(t, c.slot, c.out.pin.handle, (__u32)c.out.pin.npages,
			c.a.pin.flags);
		/* Sometimes at once a second PIN of the same range. */
		if (one_in(t, 8) && !issue(t, &c, expected_exact(&c)))
			rec_add(t, c.slot, c.out.pin.handle,
				(__u32)c.out.pin.npages, c.a.pin.flags);
	}
	if (c.verb == V_UNPIN && !ret)
		stale_add(&(struct hrec){ c.slot, c.a.unpin.handle, 0, 0 });
	if (c.verb == V_UNPIN && ret && h.slot >= 0 && ret != -ENOENT &&
	    c.slot != SLOT_VOLATILE)
		/* Not unpinned (bad flags, bad pointer): still live. */
		rec_add(t, h.slot, h.id, h.npages, h.flags);
}

/* ---- fds ---- */

/* Opens a new mockdma file onto @slot's number atomically; fd_lock held. */
static void reopen_slot(int slot)
{
	int fd = open("/dev/mockdma", slot == SLOT_RDONLY ? O_RDONLY : O_RDWR);

	if (fd < 0)
		ksft_exit_fail_msg("reopen /dev/mockdma: %s\n", strerror(errno));
	if (fd != P.fds[slot]) {
		if (dup2(fd, P.fds[slot]) < 0)
			ksft_exit_fail_msg("dup2: %s\n", strerror(errno));
		close(fd);
	}
}

/* ---- chaos ---- */

static void double_unpin(struct thr *t)
{
	struct call c = { .verb = V_UNPIN, .cmd = MOCKDMA_IOC_UNPIN,
			  .size = sizeof(struct mockdma_unpin) };
	struct hrec h;
	int ret;

	/* fd_lock: the file behind the slot stays the same for both calls. */
	pthread_mutex_lock(&P.fd_lock);
	if (rec_pick(t, &h, 1)) {
		c.slot = h.slot;
		c.a.unpin.handle = h.id;
		c.a.unpin.flags = (__u32)rn(t, 2);
		c.where = W_SCRATCH;
		ret = issue(t, &c, 0);
		/*
		 * Ids are cyclic: the id existed in this file, so it is gone
		 * now and will not come back.  (After ENOENT it might be a
		 * number the file has yet to hand out: no exact answer.)
		 */
		if (!ret)
			issue(t, &c, ENOENT);
		else if (ret == -ENOENT)
			issue(t, &c, 0);
		stale_add(&h);
	}
	pthread_mutex_unlock(&P.fd_lock);
}

static void truncate_file(struct thr *t)
{
	int fd = one_in(t, 2) ? ext4_fd : xfs_fd;

	/* Page multiples: no partial page whose buffers truncate keeps. */
	if (ftruncate(fd, (off_t)rn(t, FILE_PAGES) * ps))
		ksft_print_msg("ftruncate: %s\n", strerror(errno));
	if (!one_in(t, 3)) {
		usleep((useconds_t)rn(t, 500));
		if (ftruncate(fd, (off_t)FILE_PAGES * ps))
			ksft_print_msg("ftruncate: %s\n", strerror(errno));
	}
}

static void pwrite_file(struct thr *t)
{
	int fd = one_in(t, 3) ? mem_fd : one_in(t, 2) ? ext4_fd : xfs_fd;
	char buf[512];

	memset(buf, (int)rn(t, 256), sizeof(buf));
	if (pwrite(fd, buf, sizeof(buf),
		   (off_t)(rn(t, FILE_PAGES) * ps + rn(t, 8) * 512)) < 0)
		ksft_print_msg("pwrite: %s\n", strerror(errno));
}

/*
 * A live handle armed at a writeback point, dirtied by the device
 * (MOCKDMA_DMA_SET_DIRTY) and written back: if it is file-backed, the
 * injection fires from writeback.  Every call checked as any other.
 */
static void arm_dirty_fsync(struct thr *t)
{
	struct call c = { .slot = 0 };
	struct hrec h;
	__u32 point = (__u32)rn(t, 2);

	if (!rec_pick_write(t, &h) || !h.npages)
		return;
	c.slot = h.slot;
	c.where = W_SCRATCH;
	c.verb = V_INJ_ARM;
	c.cmd = MOCKDMA_IOC_INJECT_ARM;
	c.size = sizeof(struct mockdma_inject);
	c.a.in = (struct mockdma_inject){ .handle = h.id, .point = point,
					  .length = MOCKDMA_STAMP_SIZE };
	issue(t, &c, 0);
	memset(&c.a, 0, sizeof(c.a));
	c.verb = V_DMA_WRITE;
	c.cmd = MOCKDMA_IOC_DMA_WRITE;
	c.size = sizeof(struct mockdma_dma);
	c.a.dma = (struct mockdma_dma){ .handle = h.id,
					.flags = MOCKDMA_DMA_SET_DIRTY,
					.length = (__u64)h.npages * ps };
	issue(t, &c, 0);
	pl_fsync(ext4_fd);
	pl_fsync(xfs_fd);
	if (one_in(t, 2)) {
		memset(&c.a, 0, sizeof(c.a));
		c.verb = V_INJ_DISARM;
		c.cmd = MOCKDMA_IOC_INJECT_DISARM;
		c.size = sizeof(struct mockdma_inject);
		c.a.in.handle = h.id;
		c.a.in.point = point;
		issue(t, &c, 0);
	}
}

static void chaos(struct thr *t)
{
	/* fd replacement and close drop whole tables: rarer */
	static const int ops[] = {
		C_REMAP, C_REMAP, C_REMAP, C_MREMAP, C_MREMAP, C_MPROTECT,
		C_MPROTECT, C_HUGE, C_THP, C_TRUNC, C_TRUNC, C_PWRITE,
		C_PWRITE, C_FSYNC, C_FSYNC, C_FDREPLACE, C_VOLATILE,
		C_DOUBLE_UNPIN, C_DOUBLE_UNPIN, C_ARM_WB, C_ARM_WB, C_ARM_WB,
	};
	int op = ops[rn(t, ARRAY_SIZE(ops))];
	unsigned int r = (unsigned int)rn(t, NREG), s;
	int slot;

	INC(S->chaos[op]);
	switch (op) {
	case C_REMAP:
		map_region(t, r, random_rtype(t));
		break;
	case C_MREMAP:
		s = (unsigned int)rn(t, NREG);
		if (s != r && mremap(reg_addr(r), REG_PAGES * ps,
				     REG_PAGES * ps,
				     MREMAP_MAYMOVE | MREMAP_FIXED,
				     reg_addr(s)) != MAP_FAILED)
			map_none(reg_addr(r), REG_PAGES * ps);
		break;
	case C_MPROTECT:
		mprotect(reg_addr(r), (1 + rn(t, REG_PAGES)) * ps,
			 (int)rn(t, 2) ? PROT_READ : one_in(t, 2) ?
			 PROT_NONE : PROT_READ | PROT_WRITE);
		break;
	case C_HUGE:
		if (one_in(t, 3))
			map_none(arena + HTLB_OFF, HUGE_SZ);
		else
			map_hugetlb();
		break;
	case C_THP:
		map_thp();
		break;
	case C_TRUNC:
		truncate_file(t);
		break;
	case C_PWRITE:
		pwrite_file(t);
		break;
	case C_FSYNC:
		pl_fsync(one_in(t, 2) ? ext4_fd : xfs_fd);
		break;
	case C_FDREPLACE:
		slot = (int)rn(t, SLOT_RDONLY + 1);
		pthread_mutex_lock(&P.fd_lock);
		reopen_slot(slot);
		pthread_mutex_unlock(&P.fd_lock);
		break;
	case C_VOLATILE:
		pthread_mutex_lock(&P.fd_lock);
		close(P.fds[SLOT_VOLATILE]);
		usleep((useconds_t)rn(t, 2000));
		reopen_slot(SLOT_VOLATILE);
		pthread_mutex_unlock(&P.fd_lock);
		break;
	case C_DOUBLE_UNPIN:
		double_unpin(t);
		/* Now and then the slab shrinkers, mockdma's among them. */
		if (one_in(t, 8)) {
			INC(S->chaos[C_SHRINK]);
			pl_write_file("/proc/sys/vm/drop_caches", "2");
		}
		break;
	case C_ARM_WB:
		arm_dirty_fsync(t);
		break;
	}
}

/* ---- victims ---- */

static void set_phase(int ph)
{
	__atomic_store_n(&S->victim_phase[P.idx], ph, __ATOMIC_SEQ_CST);
}

/*
 * The victim: only raw syscalls (it is forked from a threaded process).
 * Pins its own memory (the kill region) on its own fd and on the shared
 * ones, starts engines, arms injections, until SIGKILL.
 */
static void __attribute__((noreturn)) victim(struct thr *t)
{
	char *kr = arena + KILL_OFF;
	int fd, i;

	fd = open("/dev/mockdma", O_RDWR);
	if (fd < 0)
		_exit(3);
	set_phase(PH_IDLE);
	for (i = 0; i < 16; i++) {
		__u32 m = (__u32)(i % MOCKDMA_METHOD_COUNT);
		struct mockdma_pin p = {
			.addr = (unsigned long)kr, .length = KILL_PAGES * ps,
			.method = m, .flags = MOCKDMA_PIN_WRITE |
			(m < 2 ? MOCKDMA_PIN_LONGTERM : 0),
		};
		struct mockdma_engine e = { .interval_us = 0 };
		struct mockdma_inject in = {
			.point = (__u32)rn(t, MOCKDMA_INJECT_COUNT),
			.npages = 64, .length = 16,
		};
		struct mockdma_unpin u = { .flags = MOCKDMA_UNPIN_DIRTY };
		int shared = P.fds[rn(t, NSTABLE)];

		set_phase(PH_MMAP);
		mmap(kr, KILL_PAGES * ps, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		set_phase(PH_PIN);
		if (!ioctl(fd, MOCKDMA_IOC_PIN, &p)) {
			e.handle = in.handle = u.handle = p.handle;
			set_phase(PH_ENGINE);
			ioctl(fd, MOCKDMA_IOC_ENGINE_START, &e);
			set_phase(PH_INJECT);
			ioctl(fd, MOCKDMA_IOC_INJECT_ARM, &in);
		}
		/* On a shared fd: outlives the victim, until the fd goes. */
		p.length = 8 * ps;
		p.flags = MOCKDMA_PIN_WRITE | MOCKDMA_PIN_LONGTERM;
		p.method = MOCKDMA_METHOD_PIN_FAST;
		set_phase(PH_PIN_SHARED);
		if (!ioctl(shared, MOCKDMA_IOC_PIN, &p)) {
			e.handle = p.handle;
			e.interval_us = 200000;
			set_phase(PH_ENGINE_SHARED);
			ioctl(shared, MOCKDMA_IOC_ENGINE_START, &e);
		}
		if (i & 1) {
			set_phase(PH_UNPIN);
			ioctl(fd, MOCKDMA_IOC_UNPIN, &u);
		}
		set_phase(PH_IDLE);
	}
	for (;;)
		pause();
}

/* Is an fd opened by @pid still listed in debugfs "fds"? */
static int fd_of_pid_left(pid_t pid)
{
	static char buf[1 << 16];
	char needle[32];
	ssize_t n;

	n = pread(P.dbg_fds, buf, sizeof(buf) - 1, 0);
	if (n < 0)
		return -1;
	buf[n] = 0;
	snprintf(needle, sizeof(needle), "pid %d ", pid);
	return strstr(buf, needle) != NULL;
}

static void kill_one(struct thr *t)
{
	int status, ph, i;
	pid_t pid;

	set_phase(PH_NOT_STARTED);
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		INC(S->fork_failed);
		return;
	}
	if (!pid)
		victim(t);
	/* Until it runs (at most 2 s), then a random moment. */
	for (i = 0; i < 2000 && !__atomic_load_n(&S->victim_phase[P.idx],
						 __ATOMIC_SEQ_CST); i++)
		usleep(1000);
	usleep((useconds_t)rn(t, 12000));
	kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			ksft_exit_fail_msg("waitpid: %s\n", strerror(errno));
	ph = __atomic_load_n(&S->victim_phase[P.idx], __ATOMIC_SEQ_CST);
	INC(S->kills);
	INC(S->kills_phase[ph]);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
		INC(S->kills_odd_exit);
		ksft_print_msg("victim %d: status %#x, not killed by SIGKILL\n",
			       pid, status);
	}
	if (fd_of_pid_left(pid)) {
		INC(S->kills_unreleased);
		ksft_print_msg("victim %d (killed in %s): its fd is still open in debugfs fds\n",
			       pid, phase_name[ph]);
	}
}

/* ---- threads and processes ---- */

static void thr_setup(struct thr *t)
{
	int mfd;

	t->scr = mmap(NULL, (SCR_PAGES + 1) * ps, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	t->ro = mmap(NULL, 4 * ps, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
		     -1, 0);
	mfd = memfd_create("ioctl_fuzz-view", 0);
	if (t->scr == MAP_FAILED || t->ro == MAP_FAILED || mfd < 0 ||
	    ftruncate(mfd, ps))
		ksft_exit_fail_msg("thread scratch: %s\n", strerror(errno));
	t->view_rw = mmap(NULL, ps, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	t->view_ro = mmap(NULL, ps, PROT_READ, MAP_SHARED, mfd, 0);
	close(mfd);
	if (t->view_rw == MAP_FAILED || t->view_ro == MAP_FAILED ||
	    mprotect(t->scr + SCR_PAGES * ps, ps, PROT_NONE))
		ksft_exit_fail_msg("thread views: %s\n", strerror(errno));
	memset(t->scr, 0, SCR_PAGES * ps);
}

static void *thr_main(void *arg)
{
	struct thr *t = arg;

	if (t->idx == 0)
		kill_one(t);
	while (!time_up() &&
	       __atomic_load_n(&S->calls, __ATOMIC_RELAXED) < cfg_calls) {
		__u64 r = rn(t, 100);

		if (t->idx == 0 && r < 2)
			kill_one(t);
		else if (r < 8)
			chaos(t);
		else
			one_call(t);
	}
	__atomic_store_n(&S->stop, 1, __ATOMIC_RELAXED);
	return NULL;
}

/* The body of each of the two processes: three threads, then close all. */
static void run_proc(int idx)
{
	struct thr thr[NTHREAD];
	struct hrec h;
	int i;

	P.idx = idx;
	P.dbg_fds = open("/sys/kernel/debug/mockdma/fds", O_RDONLY);
	if (P.dbg_fds < 0)
		ksft_exit_fail_msg("debugfs fds: %s\n", strerror(errno));
	for (i = 0; i < NTHREAD; i++) {
		memset(&thr[i], 0, sizeof(thr[i]));
		thr[i].idx = i;
		thr[i].rng = seed_mix(cfg_seed * 16 + idx * NTHREAD + i);
		thr_setup(&thr[i]);
	}
	for (i = 0; i < NTHREAD; i++)
		if (pthread_create(&thr[i].th, NULL, thr_main, &thr[i]))
			ksft_exit_fail_msg("pthread_create failed\n");
	for (i = 0; i < NTHREAD; i++)
		pthread_join(thr[i].th, NULL);
	/* Unpin some explicitly, close the rest away. */
	while (rec_pick(&thr[0], &h, 1))
		if (one_in(&thr[0], 2))
			unpin_rec(&thr[0], &h, (__u32)rn(&thr[0], 2));
	for (i = 0; i < NSLOT; i++)
		close(P.fds[i]);
	close(P.dbg_fds);
}

static int make_file(const char *dir, char *path, size_t n)
{
	char page[4096];
	int fd;
	size_t off;

	snprintf(path, n, "%s/ioctl_fuzz-%d", dir, getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		ksft_exit_fail_msg("open %s: %s\n", path, strerror(errno));
	for (off = 0; off < FILE_PAGES * ps; off += sizeof(page)) {
		memset(page, 0xa5 ^ (int)(off / ps), sizeof(page));
		if (pwrite(fd, page, sizeof(page), (off_t)off) != sizeof(page))
			ksft_exit_fail_msg("pwrite %s: %s\n", path,
					   strerror(errno));
	}
	if (pl_fsync(fd))
		ksft_exit_fail_msg("fsync %s failed\n", path);
	return fd;
}

static void setup_arena(void)
{
	struct thr t = { .rng = seed_mix(cfg_seed ^ 0x5eed) };
	unsigned int r;

	arena = mmap((void *)ARENA_BASE, ARENA_SZ, PROT_NONE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
		     MAP_FIXED_NOREPLACE, -1, 0);
	if (arena != (char *)ARENA_BASE)
		ksft_exit_fail_msg("arena at %#lx: %s\n", ARENA_BASE,
				   strerror(errno));
	for (r = 0; r < NREG; r++)
		map_region(&t, r, random_rtype(&t));
	map_thp();
	map_hugetlb();
}

static long env_or(const char *name, long def)
{
	const char *v = getenv(name);

	return v && *v ? strtol(v, NULL, 0) : def;
}

static void print_counts(double secs)
{
	char line[1024];
	long errs[NERR] = { 0 };
	int v, e, n;

	ksft_print_msg("seed %llu: %ld calls in %.1f s (limit %ld calls, %ld s)\n",
		       cfg_seed, S->calls, secs, cfg_calls, cfg_seconds);
	for (v = 0; v < NVERB; v++) {
		n = snprintf(line, sizeof(line), "%s: %ld calls, %ld ok",
			     verbs[v].name, S->verb_calls[v], S->verb_ok[v]);
		for (e = 0; e < NERR; e++) {
			errs[e] += S->err[v][e];
			if (S->err[v][e])
				n += snprintf(line + n, sizeof(line) - n,
					      ", %s %ld", err_name[e],
					      S->err[v][e]);
		}
		ksft_print_msg("%s\n", line);
	}
	n = snprintf(line, sizeof(line), "errors by errno:");
	for (e = 0; e < NERR; e++)
		if (errs[e])
			n += snprintf(line + n, sizeof(line) - n, " %s %ld",
				      err_name[e], errs[e]);
	ksft_print_msg("%s\n", line);
	n = snprintf(line, sizeof(line), "races:");
	for (e = 0; e < NCHAOS; e++)
		n += snprintf(line + n, sizeof(line) - n, " %s %ld",
			      chaos_name[e], S->chaos[e]);
	ksft_print_msg("%s; hugetlb maps %ld ok %ld failed\n", line,
		       S->htlb_ok, S->htlb_fail);
	n = snprintf(line, sizeof(line), "killed in:");
	for (e = 0; e < NPHASE; e++)
		if (S->kills_phase[e])
			n += snprintf(line + n, sizeof(line) - n, " %s %ld",
				      phase_name[e], S->kills_phase[e]);
	ksft_print_msg("kills %ld (%ld mid-call), fork failures %ld; %s\n",
		       S->kills, S->kills - S->kills_phase[PH_NOT_STARTED] -
		       S->kills_phase[PH_IDLE], S->fork_failed, line);
	ksft_print_msg("undocumented results %ld, inconsistent replies %ld\n",
		       S->undocumented, S->bad_reply);
}

int main(int argc, char **argv)
{
	static const char *const work_names[] = {
		"pins_total", "pin_errors_total", "dma_writes_total",
		"engine_passes_total", "inject_arms_total", "inject_fired_total",
	};
	long work0[ARRAY_SIZE(work_names)];
	static const char *const stat_names[] = {
		"pages_pinned", "handles", "engines_running", "inject_armed",
		"inject_probes_live",
	};
	const char *ext4 = getenv("PINLAB_EXT4"), *xfs = getenv("PINLAB_XFS");
	struct timespec t0, t1;
	struct pl_pins pin0, pin1;
	long st[ARRAY_SIZE(stat_names)];
	int fd0, status, i, left = 0;
	pid_t worker;

	fd0 = pl_open_or_skip();
	verbs_init();
	if (pl_info(fd0, &info))
		ksft_exit_fail_msg("GET_INFO: %s\n", strerror(errno));
	ps = pl_page_size;
	cfg_seed = (unsigned long long)env_or("PINLAB_FUZZ_SEED", FUZZ_SEED);
	cfg_calls = env_or("PINLAB_FUZZ_CALLS", FUZZ_CALLS);
	cfg_seconds = env_or("PINLAB_FUZZ_SECONDS", FUZZ_SECONDS);
	if (argc > 1)
		cfg_seed = strtoull(argv[1], NULL, 0);
	if (argc > 2)
		cfg_calls = strtol(argv[2], NULL, 0);
	if (argc > 3)
		cfg_seconds = strtol(argv[3], NULL, 0);
	ksft_set_plan(5);
	ksft_print_msg("reproduce: PINLAB_FUZZ_SEED=%llu PINLAB_FUZZ_CALLS=%ld PINLAB_FUZZ_SECONDS=%ld ioctl_fuzz\n",
		       cfg_seed, cfg_calls, cfg_seconds);

	S = mmap(NULL, sizeof(*S), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (S == MAP_FAILED)
		ksft_exit_fail_msg("shared block: %s\n", strerror(errno));
	memset(S, 0, sizeof(*S));
	pthread_mutex_init(&P.fd_lock, NULL);
	pthread_mutex_init(&P.rec_lock, NULL);
	pthread_mutex_init(&P.print_lock, NULL);

	ext4_fd = make_file(ext4 ? ext4 : "/mnt/ext4", ext4_path,
			    sizeof(ext4_path));
	xfs_fd = make_file(xfs ? xfs : "/mnt/xfs", xfs_path, sizeof(xfs_path));
	ext4_ro_fd = open(ext4_path, O_RDONLY);
	mem_fd = memfd_create("ioctl_fuzz", 0);
	if (ext4_ro_fd < 0 || mem_fd < 0 || ftruncate(mem_fd, FILE_PAGES * ps))
		ksft_exit_fail_msg("backing files: %s\n", strerror(errno));

	P.fds[0] = fd0;
	for (i = 1; i < NSLOT; i++) {
		P.fds[i] = open("/dev/mockdma", i == SLOT_RDONLY ? O_RDONLY :
				O_RDWR);
		if (P.fds[i] < 0)
			ksft_exit_fail_msg("open /dev/mockdma: %s\n",
					   strerror(errno));
	}
	setup_arena();

	for (i = 0; i < (int)ARRAY_SIZE(work_names); i++)
		work0[i] = pl_mockdma_stat(work_names[i]);
	pin0 = pl_pins_now();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	t_end = t0;
	t_end.tv_sec += cfg_seconds;

	fflush(stdout);
	worker = fork();
	if (worker < 0)
		ksft_exit_fail_msg("fork: %s\n", strerror(errno));
	if (!worker) {
		run_proc(1);
		fflush(stdout);
		_exit(0);
	}
	run_proc(0);
	while (waitpid(worker, &status, 0) < 0)
		if (errno != EINTR)
			ksft_exit_fail_msg("waitpid: %s\n", strerror(errno));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		ksft_print_msg("worker process: status %#x\n", status);
		S->undocumented++;
	}
	close(ext4_fd);
	close(ext4_ro_fd);
	close(xfs_fd);
	close(mem_fd);
	munmap(arena, ARENA_SZ);
	unlink(ext4_path);
	unlink(xfs_path);

	print_counts((double)(t1.tv_sec - t0.tv_sec) +
		     (t1.tv_nsec - t0.tv_nsec) / 1e9);
	for (i = 0; i < (int)ARRAY_SIZE(work_names); i++)
		ksft_print_msg("driver %s +%ld\n", work_names[i],
			       pl_mockdma_stat(work_names[i]) - work0[i]);
	ksft_test_result(S->undocumented == 0 && S->calls > 0,
			 "every call returned success or a documented errno\n");
	ksft_test_result(S->bad_reply == 0,
			 "successful replies are consistent with the UAPI\n");

	for (i = 0; i < (int)ARRAY_SIZE(stat_names); i++) {
		st[i] = pl_mockdma_stat(stat_names[i]);
		if (st[i])
			left = 1;
	}
	ksft_print_msg("debugfs stats after close: pages_pinned %ld handles %ld engines_running %ld inject_armed %ld inject_probes_live %ld\n",
		       st[0], st[1], st[2], st[3], st[4]);
	ksft_test_result(!left, "no pin, handle, engine or armed page left\n");

	pin1 = pl_pins_now();
	ksft_print_msg("FOLL_PIN: acquired +%ld released +%ld\n",
		       pin1.acq - pin0.acq, pin1.rel - pin0.rel);
	ksft_test_result(pin0.acq >= 0 && pin1.acq - pin0.acq ==
			 pin1.rel - pin0.rel, "FOLL_PIN counters balanced\n");

	ksft_test_result(S->kills > 0 && !S->kills_unreleased &&
			 !S->kills_odd_exit && S->kills > S->kills_phase[PH_NOT_STARTED] +
			 S->kills_phase[PH_IDLE],
			 "processes killed mid-call released everything\n");
	ksft_finished();
}

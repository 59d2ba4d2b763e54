/* Atomics under real concurrency (issue 7, "Done when" 1): 2, 4, 8 and 16
 * guest threads on host threads.
 *
 * - counters: amoadd.w/.d (every aq/rl combination) and lr/sc loops (.w
 *   and .d), and one counter that half the threads increment with amoadd.d
 *   and the other half with lr.d/sc.d; 12.8 * 10^6 increments in all.
 *   Besides the total, the values the AMOs (and the successful SCs) return
 *   are summed: each increment must see a distinct old value, so the sum
 *   is exactly 0 + d + 2d + ... (mod 2^64).
 * - a ticket lock built on amoadd.w.aq (take a ticket) / amoadd.w.rl
 *   (serve the next), protecting a non-atomic counter and a pair of fields
 *   that must be equal whenever the lock is free;
 * - a bounded MPMC ring (Vyukov's) whose positions are claimed with lr/sc
 *   and whose cells are published with amoswap.d.rl: producers push known
 *   values, consumers check the sum, the count, and that each value came
 *   out exactly once;
 * - pthread mutex, condition variables (a bounded buffer), rwlock (readers
 *   check an invariant writers keep between two fields) and barrier (each
 *   thread checks the others' work after every phase), 8 threads.
 *
 * The instructions under test are inline asm, so the compiler cannot pick
 * others. The output holds only totals and "ok" lines, nothing that
 * depends on timing; a failed check prints "FAIL" and the program exits 1.
 *
 * Usage: atomics [PART [DIVISOR]]
 *   PART: counters, ticket, queue, mutex, cond, rwlock, barrier or all
 *   (the default); DIVISOR divides every operation count (default 1; the
 *   interpreter tier's test uses 20). With the default, 12.8 * 10^6
 *   counter increments, 6.4 * 10^5 ticket-lock acquisitions, 9.6 * 10^5
 *   values through the queue, and 8 * 10^6 operations on each of mutex,
 *   condition variables, rwlock and barrier. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

static void check(int ok, const char *what)
{
	if (!ok) {
		printf("FAIL: %s\n", what);
		failures++;
	}
}

static void spawn(int n, void *(*fn)(void *), void *args, size_t argsize)
{
	pthread_t t[16];
	for (int i = 0; i < n; i++)
		if (pthread_create(&t[i], NULL, fn, (char *)args + i * argsize)) {
			printf("FAIL: pthread_create\n");
			exit(1);
		}
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
}

/* Spin-wait helper: yield now and then, as the guest may have more threads
 * than the host has cores. */
static inline void relax(unsigned *spins)
{
	if (++*spins % 64 == 0)
		sched_yield();
}

/* ---------------------------------------------------------------------- */
/* Counters. */

#define AMOADD(name, insn, type)                                              \
	static inline type name(type *p, type v)                              \
	{                                                                     \
		type old;                                                     \
		__asm__ volatile(insn " %0, %2, (%1)"                         \
				 : "=r"(old)                                  \
				 : "r"(p), "r"(v)                             \
				 : "memory");                                 \
		return old;                                                   \
	}
AMOADD(amoadd_w, "amoadd.w", int32_t)
AMOADD(amoadd_w_aq, "amoadd.w.aq", int32_t)
AMOADD(amoadd_w_rl, "amoadd.w.rl", int32_t)
AMOADD(amoadd_w_aqrl, "amoadd.w.aqrl", int32_t)
AMOADD(amoadd_d, "amoadd.d", int64_t)
AMOADD(amoadd_d_aq, "amoadd.d.aq", int64_t)
AMOADD(amoadd_d_rl, "amoadd.d.rl", int64_t)
AMOADD(amoadd_d_aqrl, "amoadd.d.aqrl", int64_t)

/* lr/sc add loops; return the value the successful sc replaced. */
static inline int32_t lrsc_add_w(int32_t *p, int32_t v)
{
	int32_t old, tmp;
	__asm__ volatile("1: lr.w %0, (%2)\n"
			 "   addw %1, %0, %3\n"
			 "   sc.w %1, %1, (%2)\n"
			 "   bnez %1, 1b\n"
			 : "=&r"(old), "=&r"(tmp)
			 : "r"(p), "r"(v)
			 : "memory");
	return old;
}

static inline int32_t lrsc_add_w_aqrl(int32_t *p, int32_t v)
{
	int32_t old, tmp;
	__asm__ volatile("1: lr.w.aq %0, (%2)\n"
			 "   addw %1, %0, %3\n"
			 "   sc.w.rl %1, %1, (%2)\n"
			 "   bnez %1, 1b\n"
			 : "=&r"(old), "=&r"(tmp)
			 : "r"(p), "r"(v)
			 : "memory");
	return old;
}

static inline int64_t lrsc_add_d(int64_t *p, int64_t v)
{
	int64_t old, tmp;
	__asm__ volatile("1: lr.d %0, (%2)\n"
			 "   add %1, %0, %3\n"
			 "   sc.d %1, %1, (%2)\n"
			 "   bnez %1, 1b\n"
			 : "=&r"(old), "=&r"(tmp)
			 : "r"(p), "r"(v)
			 : "memory");
	return old;
}

static inline int64_t lrsc_add_d_aqrl(int64_t *p, int64_t v)
{
	int64_t old, tmp;
	__asm__ volatile("1: lr.d.aqrl %0, (%2)\n"
			 "   add %1, %0, %3\n"
			 "   sc.d.aqrl %1, %1, (%2)\n"
			 "   bnez %1, 1b\n"
			 : "=&r"(old), "=&r"(tmp)
			 : "r"(p), "r"(v)
			 : "memory");
	return old;
}

/* Increments per counter kind and thread count, split across the threads
 * (divisible by 16, and by 4 for the unrolled loops). */
static long counter_ops = 640000;
/* The .d step: carries into the upper half are checked too. */
#define DSTEP 0x100000001LL

enum kind { AMO_W, AMO_D, LRSC_W, LRSC_D, MIXED_D, NKINDS };
static const char *const kind_name[NKINDS] = {
	"amoadd.w", "amoadd.d", "lr/sc.w", "lr/sc.d", "amoadd.d+lr/sc.d",
};

static int32_t counter_w __attribute__((aligned(64)));
static int64_t counter_d __attribute__((aligned(64)));

struct counter_arg {
	enum kind kind;
	int id;
	long iters;
	uint64_t sum_old; /* the returned old values, summed mod 2^64 */
} __attribute__((aligned(64)));

static void *counter_thread(void *p)
{
	struct counter_arg *a = p;
	uint64_t s = 0;
	long n = a->iters / 4;
	switch (a->kind) {
	case AMO_W:
		for (long i = 0; i < n; i++) {
			s += (uint32_t)amoadd_w(&counter_w, 1);
			s += (uint32_t)amoadd_w_aq(&counter_w, 1);
			s += (uint32_t)amoadd_w_rl(&counter_w, 1);
			s += (uint32_t)amoadd_w_aqrl(&counter_w, 1);
		}
		break;
	case AMO_D:
		for (long i = 0; i < n; i++) {
			s += (uint64_t)amoadd_d(&counter_d, DSTEP);
			s += (uint64_t)amoadd_d_aq(&counter_d, DSTEP);
			s += (uint64_t)amoadd_d_rl(&counter_d, DSTEP);
			s += (uint64_t)amoadd_d_aqrl(&counter_d, DSTEP);
		}
		break;
	case LRSC_W:
		for (long i = 0; i < n; i++) {
			s += (uint32_t)lrsc_add_w(&counter_w, 1);
			s += (uint32_t)lrsc_add_w_aqrl(&counter_w, 1);
			s += (uint32_t)lrsc_add_w(&counter_w, 1);
			s += (uint32_t)lrsc_add_w_aqrl(&counter_w, 1);
		}
		break;
	case LRSC_D:
		for (long i = 0; i < n; i++) {
			s += (uint64_t)lrsc_add_d(&counter_d, DSTEP);
			s += (uint64_t)lrsc_add_d_aqrl(&counter_d, DSTEP);
			s += (uint64_t)lrsc_add_d(&counter_d, DSTEP);
			s += (uint64_t)lrsc_add_d_aqrl(&counter_d, DSTEP);
		}
		break;
	case MIXED_D:
		for (long i = 0; i < n; i++) {
			if (a->id & 1) {
				s += (uint64_t)amoadd_d(&counter_d, DSTEP);
				s += (uint64_t)amoadd_d_aqrl(&counter_d, DSTEP);
				s += (uint64_t)amoadd_d(&counter_d, DSTEP);
				s += (uint64_t)amoadd_d_aqrl(&counter_d, DSTEP);
			} else {
				s += (uint64_t)lrsc_add_d(&counter_d, DSTEP);
				s += (uint64_t)lrsc_add_d_aqrl(&counter_d, DSTEP);
				s += (uint64_t)lrsc_add_d(&counter_d, DSTEP);
				s += (uint64_t)lrsc_add_d_aqrl(&counter_d, DSTEP);
			}
		}
		break;
	default:
		break;
	}
	a->sum_old = s;
	return NULL;
}

static void part_counters(void)
{
	static struct counter_arg args[16];
	for (int n = 2; n <= 16; n *= 2) {
		for (int k = 0; k < NKINDS; k++) {
			int wide = k != AMO_W && k != LRSC_W;
			uint64_t step = wide ? (uint64_t)DSTEP : 1;
			counter_w = 0;
			counter_d = 0;
			for (int i = 0; i < n; i++) {
				args[i].kind = k;
				args[i].id = i;
				args[i].iters = counter_ops / n;
				args[i].sum_old = 0;
			}
			spawn(n, counter_thread, args, sizeof args[0]);
			uint64_t total = wide ? (uint64_t)counter_d : (uint32_t)counter_w;
			uint64_t want_sum = 0, sum = 0;
			for (uint64_t i = 0; i < counter_ops; i++)
				want_sum += i * step;
			for (int i = 0; i < n; i++)
				sum += args[i].sum_old;
			check(total == counter_ops * step, "counter total");
			check(sum == want_sum, "distinct old values");
			printf("counter %-16s %2d threads: total %#llx, old values %s\n",
			       kind_name[k], n, (unsigned long long)total,
			       sum == want_sum ? "distinct" : "REPEATED");
		}
	}
}

/* ---------------------------------------------------------------------- */
/* Ticket lock. */

struct ticket_lock {
	uint32_t next __attribute__((aligned(64)));
	uint32_t serving __attribute__((aligned(64)));
};

static void ticket_acquire(struct ticket_lock *l)
{
	uint32_t t, s;
	unsigned spins = 0;
	__asm__ volatile("amoadd.w.aq %0, %2, (%1)"
			 : "=r"(t)
			 : "r"(&l->next), "r"(1)
			 : "memory");
	for (;;) {
		/* An acquiring load: lw, then fence r,rw. */
		__asm__ volatile("lw %0, (%1)\n"
				 "fence r, rw\n"
				 : "=r"(s)
				 : "r"(&l->serving)
				 : "memory");
		if (s == t)
			return;
		relax(&spins);
	}
}

static void ticket_release(struct ticket_lock *l)
{
	__asm__ volatile("amoadd.w.rl zero, %1, (%0)"
			 :
			 : "r"(&l->serving), "r"(1)
			 : "memory");
}

static long ticket_ops = 160000;

static struct ticket_lock tlock;
/* Plain (non-atomic) data that only the lock protects. */
static long ticket_counter;
static struct {
	long a, b;
} ticket_pair;
static long ticket_torn;

static void *ticket_thread(void *p)
{
	long n = *(long *)p;
	for (long i = 0; i < n; i++) {
		ticket_acquire(&tlock);
		if (ticket_pair.a != ticket_pair.b)
			ticket_torn++;
		ticket_pair.a++;
		ticket_counter++;
		ticket_pair.b++;
		ticket_release(&tlock);
	}
	return NULL;
}

static void part_ticket(void)
{
	static long args[16] __attribute__((aligned(64)));
	for (int n = 2; n <= 16; n *= 2) {
		memset(&tlock, 0, sizeof tlock);
		ticket_counter = ticket_pair.a = ticket_pair.b = ticket_torn = 0;
		for (int i = 0; i < n; i++)
			args[i] = ticket_ops / n;
		spawn(n, ticket_thread, args, sizeof args[0]);
		int ok = ticket_counter == ticket_ops && ticket_pair.a == ticket_ops &&
			 ticket_pair.b == ticket_ops && ticket_torn == 0 &&
			 tlock.next == ticket_ops && tlock.serving == ticket_ops;
		check(ok, "ticket lock");
		printf("ticket lock %2d threads: counter %ld, torn %ld, %s\n", n,
		       ticket_counter, ticket_torn, ok ? "ok" : "FAIL");
	}
}

/* ---------------------------------------------------------------------- */
/* A bounded MPMC ring (D. Vyukov). */

#define RING 256 /* a power of two */
#define QUEUE_MAX 240000
static long queue_items = QUEUE_MAX; /* divisible by 1, 2, 4, 8 producers */

struct cell {
	uint64_t seq;
	uint64_t data;
};

static struct cell ring[RING] __attribute__((aligned(64)));
static uint64_t enq_pos __attribute__((aligned(64)));
static uint64_t deq_pos __attribute__((aligned(64)));
static uint32_t seen[QUEUE_MAX + 1];

/* ld; fence r,rw: an acquiring load. */
static inline uint64_t load_acquire(uint64_t *p)
{
	uint64_t v;
	__asm__ volatile("ld %0, (%1)\nfence r, rw" : "=r"(v) : "r"(p) : "memory");
	return v;
}

/* amoswap.d.rl: a releasing store. */
static inline void store_release(uint64_t *p, uint64_t v)
{
	__asm__ volatile("amoswap.d.rl zero, %1, (%0)" : : "r"(p), "r"(v) : "memory");
}

static inline uint64_t load_relaxed(uint64_t *p)
{
	uint64_t v;
	__asm__ volatile("ld %0, (%1)" : "=r"(v) : "r"(p) : "memory");
	return v;
}

/* lr.d/sc.d compare-and-swap: 1 if *p was `expected` and is now `desired`. */
static inline int cas(uint64_t *p, uint64_t expected, uint64_t desired)
{
	uint64_t old, fail;
	__asm__ volatile("1: lr.d %0, (%2)\n"
			 "   bne %0, %3, 2f\n"
			 "   sc.d %1, %4, (%2)\n"
			 "   bnez %1, 1b\n"
			 "2:\n"
			 : "=&r"(old), "=&r"(fail)
			 : "r"(p), "r"(expected), "r"(desired)
			 : "memory");
	return old == expected;
}

static int enqueue(uint64_t v)
{
	uint64_t pos = load_relaxed(&enq_pos);
	for (;;) {
		struct cell *c = &ring[pos & (RING - 1)];
		int64_t dif = (int64_t)(load_acquire(&c->seq) - pos);
		if (dif == 0) {
			if (cas(&enq_pos, pos, pos + 1)) {
				c->data = v;
				store_release(&c->seq, pos + 1);
				return 1;
			}
			pos = load_relaxed(&enq_pos);
		} else if (dif < 0) {
			return 0; /* full */
		} else {
			pos = load_relaxed(&enq_pos);
		}
	}
}

static int dequeue(uint64_t *v)
{
	uint64_t pos = load_relaxed(&deq_pos);
	for (;;) {
		struct cell *c = &ring[pos & (RING - 1)];
		int64_t dif = (int64_t)(load_acquire(&c->seq) - (pos + 1));
		if (dif == 0) {
			if (cas(&deq_pos, pos, pos + 1)) {
				*v = c->data;
				store_release(&c->seq, pos + RING);
				return 1;
			}
			pos = load_relaxed(&deq_pos);
		} else if (dif < 0) {
			return 0; /* empty */
		} else {
			pos = load_relaxed(&deq_pos);
		}
	}
}

struct queue_arg {
	int producer;
	long first, count; /* producers: values first .. first + count - 1 */
	uint64_t sum, got;
} __attribute__((aligned(64)));

static void *queue_thread(void *p)
{
	struct queue_arg *a = p;
	unsigned spins = 0;
	if (a->producer) {
		for (long i = 0; i < a->count; i++)
			while (!enqueue((uint64_t)(a->first + i)))
				relax(&spins);
	} else {
		for (long i = 0; i < a->count; i++) {
			uint64_t v;
			while (!dequeue(&v))
				relax(&spins);
			a->sum += v;
			a->got++;
			if (v >= 1 && v <= queue_items)
				amoadd_w((int32_t *)&seen[v], 1);
			else
				a->sum = ~0ull; /* a value never pushed */
		}
	}
	return NULL;
}

static void part_queue(void)
{
	static struct queue_arg args[16];
	for (int n = 2; n <= 16; n *= 2) {
		int half = n / 2;
		memset(seen, 0, sizeof seen);
		for (uint64_t i = 0; i < RING; i++)
			ring[i].seq = i;
		enq_pos = deq_pos = 0;
		for (int i = 0; i < n; i++) {
			memset(&args[i], 0, sizeof args[i]);
			args[i].producer = i < half;
			args[i].count = queue_items / half;
			args[i].first = 1 + (i % half) * (queue_items / half);
		}
		spawn(n, queue_thread, args, sizeof args[0]);
		uint64_t sum = 0, got = 0;
		for (int i = half; i < n; i++) {
			sum += args[i].sum;
			got += args[i].got;
		}
		int once = 1;
		for (long v = 1; v <= queue_items; v++)
			if (seen[v] != 1)
				once = 0;
		uint64_t want = (uint64_t)queue_items * (queue_items + 1) / 2;
		int ok = sum == want && got == queue_items && once;
		check(ok, "queue");
		printf("queue %d producers %d consumers: got %llu sum %llu each once %s, %s\n",
		       half, half, (unsigned long long)got, (unsigned long long)sum,
		       once ? "yes" : "no", ok ? "ok" : "FAIL");
	}
}

/* ---------------------------------------------------------------------- */
/* pthreads, 8 threads. */

#define PT 8
static long pt_ops = 1000000;

static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
static long mutex_counter;

static void *mutex_thread(void *p)
{
	(void)p;
	for (long i = 0; i < pt_ops; i++) {
		pthread_mutex_lock(&mutex);
		mutex_counter++;
		pthread_mutex_unlock(&mutex);
	}
	return NULL;
}

static void part_mutex(void)
{
	static char args[PT];
	spawn(PT, mutex_thread, args, 1);
	int ok = mutex_counter == (long)PT * pt_ops;
	check(ok, "mutex");
	printf("mutex %d threads x %ld increments: %ld, %s\n", PT, pt_ops,
	       mutex_counter, ok ? "ok" : "FAIL");
}

/* A bounded buffer with a mutex and two condition variables: PT / 2
 * producers hand pt_ops values each to PT / 2 consumers, which add them up
 * (and count them) under the mutex. */
#define BUF 64
static pthread_mutex_t buf_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_full = PTHREAD_COND_INITIALIZER;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER;
static long buf[BUF];
static int buf_head, buf_len;
static long cond_sum, cond_count;

static void *cond_thread(void *p)
{
	long id = *(long *)p;
	if (id < PT / 2) {
		for (long i = 1; i <= pt_ops; i++) {
			pthread_mutex_lock(&buf_lock);
			while (buf_len == BUF)
				pthread_cond_wait(&not_full, &buf_lock);
			buf[(buf_head + buf_len) % BUF] = i;
			buf_len++;
			pthread_cond_signal(&not_empty);
			pthread_mutex_unlock(&buf_lock);
		}
	} else {
		for (long i = 0; i < pt_ops; i++) {
			pthread_mutex_lock(&buf_lock);
			while (buf_len == 0)
				pthread_cond_wait(&not_empty, &buf_lock);
			cond_sum += buf[buf_head];
			cond_count++;
			buf_head = (buf_head + 1) % BUF;
			buf_len--;
			pthread_cond_signal(&not_full);
			pthread_mutex_unlock(&buf_lock);
		}
	}
	return NULL;
}

static void part_cond(void)
{
	static long args[PT];
	for (int i = 0; i < PT; i++)
		args[i] = i;
	spawn(PT, cond_thread, args, sizeof args[0]);
	long want = (long)(PT / 2) * pt_ops * (pt_ops + 1) / 2;
	int ok = cond_count == (long)(PT / 2) * pt_ops && cond_sum == want && buf_len == 0;
	check(ok, "condition variables");
	printf("cond %d producers %d consumers: count %ld sum %ld, %s\n", PT / 2,
	       PT / 2, cond_count, cond_sum, ok ? "ok" : "FAIL");
}

/* rwlock: writers keep a == b (a and b written separately); readers check
 * it. Every thread does pt_ops operations, one in RW_WRITE_EVERY a write. */
#define RW_WRITE_EVERY 16
static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static volatile long rw_a, rw_b;

struct rw_arg {
	long reads, torn;
} __attribute__((aligned(64)));

static void *rw_thread(void *p)
{
	struct rw_arg *a = p;
	for (long i = 0; i < pt_ops; i++) {
		if (i % RW_WRITE_EVERY == 0) {
			pthread_rwlock_wrlock(&rw);
			if (rw_a != rw_b)
				a->torn++;
			rw_a = rw_a + 1;
			rw_b = rw_b + 1;
			pthread_rwlock_unlock(&rw);
		} else {
			pthread_rwlock_rdlock(&rw);
			long x = rw_a;
			long y = rw_b;
			if (x != y)
				a->torn++;
			a->reads++;
			pthread_rwlock_unlock(&rw);
		}
	}
	return NULL;
}

static void part_rwlock(void)
{
	static struct rw_arg args[PT];
	spawn(PT, rw_thread, args, sizeof args[0]);
	long reads = 0, torn = 0;
	for (int i = 0; i < PT; i++) {
		reads += args[i].reads;
		torn += args[i].torn;
	}
	long writes = (long)PT * ((pt_ops + RW_WRITE_EVERY - 1) / RW_WRITE_EVERY);
	int ok = rw_a == writes && rw_b == writes && torn == 0 &&
		 reads == (long)PT * pt_ops - writes;
	check(ok, "rwlock");
	printf("rwlock %d threads: writes %ld reads %ld torn %ld, %s\n", PT, rw_a,
	       reads, torn, ok ? "ok" : "FAIL");
}

/* barrier: PT threads, BAR_PHASES phases; in each, every thread adds
 * pt_ops / BAR_PHASES to its own (plain) counter, then after the barrier
 * checks every other thread's counter. */
#define BAR_PHASES 1000
static pthread_barrier_t bar;
static long bar_counter[PT][8]; /* one cache line each */

struct bar_arg {
	int id;
	long stale;
} __attribute__((aligned(64)));

static void *bar_thread(void *p)
{
	struct bar_arg *a = p;
	volatile long *mine = &bar_counter[a->id][0];
	for (long phase = 1; phase <= BAR_PHASES; phase++) {
		for (long i = 0; i < pt_ops / BAR_PHASES; i++)
			*mine = *mine + 1;
		pthread_barrier_wait(&bar);
		for (int t = 0; t < PT; t++)
			if (((volatile long *)bar_counter[t])[0] != phase * (pt_ops / BAR_PHASES))
				a->stale++;
		/* Nobody starts the next phase before everyone has checked. */
		pthread_barrier_wait(&bar);
	}
	return NULL;
}

static void part_barrier(void)
{
	static struct bar_arg args[PT];
	pthread_barrier_init(&bar, NULL, PT);
	for (int i = 0; i < PT; i++)
		args[i].id = i;
	spawn(PT, bar_thread, args, sizeof args[0]);
	long total = 0, stale = 0;
	for (int i = 0; i < PT; i++) {
		total += bar_counter[i][0];
		stale += args[i].stale;
	}
	int ok = total == (long)PT * pt_ops && stale == 0;
	check(ok, "barrier");
	printf("barrier %d threads x %d phases: total %ld stale %ld, %s\n", PT,
	       BAR_PHASES, total, stale, ok ? "ok" : "FAIL");
}

int main(int argc, char **argv)
{
	const char *part = argc > 1 && strcmp(argv[1], "all") ? argv[1] : "";
	long div = argc > 2 ? atol(argv[2]) : 1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (div < 1 || counter_ops % (div * 64) || ticket_ops % (div * 16) ||
	    queue_items % (div * 8) || pt_ops % (div * BAR_PHASES)) {
		printf("bad divisor %ld\n", div);
		return 2;
	}
	counter_ops /= div;
	ticket_ops /= div;
	queue_items /= div;
	pt_ops /= div;
	if (!*part || !strcmp(part, "counters"))
		part_counters();
	if (!*part || !strcmp(part, "ticket"))
		part_ticket();
	if (!*part || !strcmp(part, "queue"))
		part_queue();
	if (!*part || !strcmp(part, "mutex"))
		part_mutex();
	if (!*part || !strcmp(part, "cond"))
		part_cond();
	if (!*part || !strcmp(part, "rwlock"))
		part_rwlock();
	if (!*part || !strcmp(part, "barrier"))
		part_barrier();
	if (failures)
		printf("%d FAILURES\n", failures);
	return failures ? 1 : 0;
}

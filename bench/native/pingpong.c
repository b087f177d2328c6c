// The physical floor for a cross-process hand-off: two processes (fork)
// ping-pong a 32-bit futex word in a MAP_SHARED|MAP_ANONYMOUS page.
// Built by bench/c-floor.mjs at run time with `cc -O2`; never shipped.
//
//   pingpong <mode> <samples> <sample_ms> <warmup_ms> [pin]
//   mode: sleep  FUTEX_WAIT at once, FUTEX_WAKE on every hand-off (textbook)
//         spin   bounded spin, then announce + FUTEX_WAIT; FUTEX_WAKE only
//                if the other side announced it sleeps (the protocol of
//                native/core/wait_cell.cc, minus the clock reads and the
//                adaptive budget: this is the floor, not a re-implementation)
//         clock  no ping-pong: ns per clock_gettime(CLOCK_MONOTONIC), for
//                reading the addon's figures (it reads the clock per wait)
//   pin:   parent on CPU 0, child on CPU 1. A sleeping hand-off costs ~5 us
//          when the kernel happens to run both processes on one CPU and
//          ~40-60 us on this VM when it must wake the other, idle vCPU; left
//          to itself the kernel picks either, so the figure jumps between runs.
//
// Prints one JSON object on stdout:
//   {"mode":..,"samples":[ns per round trip,...],"roundTripsPerSample":N,
//    "parentSleeps":..,"childSleeps":..,"spinLimit":..}
//
// Protocol (same as bench/sync-pingpong.mjs, so the figures compare): the
// word counts hand-offs. The parent stores an odd value 2k+1 and waits while
// the word still holds it; the child waits while the word holds the even
// value it last wrote, answers with 2k+2. STOP (odd) ends the child.
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define STOP 0xFFFFFFFFu
#define SPIN_BUDGET_NS 50000  // the addon's default maximum budget

// Same layout as mp::WaitCell; the counters live on their own cache line so
// that bookkeeping does not disturb the line being ping-ponged.
struct shared {
  _Atomic uint32_t value;
  _Atomic uint32_t sleepers;
  char pad[56];
  _Atomic uint64_t child_sleeps;
};

enum mode { MODE_SLEEP, MODE_SPIN };
static enum mode g_mode;
static long g_spin_limit;  // pause iterations ~ SPIN_BUDGET_NS, calibrated once

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ volatile("yield" ::: "memory");
#endif
}

// Not FUTEX_PRIVATE: the two processes have different mm's.
static void futex_wait(_Atomic uint32_t* w, uint32_t expected) {
  syscall(SYS_futex, (uint32_t*)w, FUTEX_WAIT, expected, NULL, NULL, 0);
}
static void futex_wake(_Atomic uint32_t* w) {
  syscall(SYS_futex, (uint32_t*)w, FUTEX_WAKE, 1, NULL, NULL, 0);
}

// Blocks while s->value == expected. Returns 1 if it went to sleep.
static int wait_while_equal(struct shared* s, uint32_t expected) {
  if (g_mode == MODE_SPIN) {
    for (long i = 0; i < g_spin_limit; i++) {
      if (atomic_load_explicit(&s->value, memory_order_acquire) != expected) return 0;
      cpu_relax();
    }
    // Announce, re-check, sleep (seq_cst on both sides closes the lost-wake-up window).
    atomic_fetch_add(&s->sleepers, 1);
    int slept = 0;
    while (atomic_load(&s->value) == expected) {
      futex_wait(&s->value, expected);
      slept = 1;
    }
    atomic_fetch_sub(&s->sleepers, 1);
    return slept;
  }
  int slept = 0;
  while (atomic_load(&s->value) == expected) {
    futex_wait(&s->value, expected);
    slept = 1;
  }
  return slept;
}

static void store_and_wake(struct shared* s, uint32_t v) {
  atomic_store(&s->value, v);
  if (g_mode == MODE_SLEEP || atomic_load(&s->sleepers) != 0) futex_wake(&s->value);
}

static void child_loop(struct shared* s) {
  uint32_t mine = 0;  // the even value this side last wrote
  for (;;) {
    if (wait_while_equal(s, mine)) atomic_fetch_add_explicit(&s->child_sleeps, 1, memory_order_relaxed);
    uint32_t v = atomic_load(&s->value);
    if (v == mine) continue;
    if (v == STOP) return;
    mine = v + 1;
    store_and_wake(s, mine);
  }
}

static uint32_t g_seq;  // parent's last odd value
static uint64_t g_parent_sleeps;

static void round_trips(struct shared* s, long n) {
  for (long i = 0; i < n; i++) {
    g_seq += 2;
    store_and_wake(s, g_seq);
    if (wait_while_equal(s, g_seq)) g_parent_sleeps++;  // returns once the child answered
  }
}

static void calibrate_spin(void) {
  const long probe = 200000;
  int64_t t0 = now_ns();
  for (long i = 0; i < probe; i++) cpu_relax();
  double per = (double)(now_ns() - t0) / probe;
  if (per < 0.5) per = 0.5;
  g_spin_limit = (long)(SPIN_BUDGET_NS / per);
}

static void pin_to(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0) perror("sched_setaffinity");
}

static int run_clock(int samples, int sample_ms) {
  printf("{\"mode\":\"clock\",\"samples\":[");
  for (int k = 0; k < samples; k++) {
    long n = 0;
    int64_t t0 = now_ns(), t = t0, end = t0 + (int64_t)sample_ms * 1000000;
    while (t < end) {
      for (int i = 0; i < 1000; i++) t = now_ns();
      n += 1000;
    }
    printf("%s%.2f", k ? "," : "", (double)(t - t0) / n);
  }
  printf("]}\n");
  return 0;
}

int main(int argc, char** argv) {
  if (argc != 5 && !(argc == 6 && strcmp(argv[5], "pin") == 0)) {
    fprintf(stderr, "usage: %s sleep|spin|clock <samples> <sample_ms> <warmup_ms> [pin]\n", argv[0]);
    return 2;
  }
  int pin = argc == 6;
  int samples = atoi(argv[2]), sample_ms = atoi(argv[3]), warmup_ms = atoi(argv[4]);
  if (strcmp(argv[1], "clock") == 0) return run_clock(samples, sample_ms);
  if (strcmp(argv[1], "sleep") == 0) g_mode = MODE_SLEEP;
  else if (strcmp(argv[1], "spin") == 0) g_mode = MODE_SPIN;
  else {
    fprintf(stderr, "unknown mode %s\n", argv[1]);
    return 2;
  }
  calibrate_spin();

  struct shared* s = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (s == MAP_FAILED) {
    perror("mmap");
    return 1;
  }
  if (pin) pin_to(0);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    return 1;
  }
  if (pid == 0) {
    // Never outlive the parent, even if it is SIGKILLed mid-run.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);
    if (pin) pin_to(1);
    child_loop(s);
    _exit(0);
  }

  // Warm up (caches, the scheduler's placement), and size a sample so that
  // it lasts about sample_ms.
  long batch = 16;
  int64_t t0 = now_ns(), spent = 0;
  long done = 0;
  while ((spent = now_ns() - t0) < (int64_t)warmup_ms * 1000000) {
    round_trips(s, batch);
    done += batch;
    if (batch < 1 << 20) batch *= 2;
  }
  double per = (double)spent / (done ? done : 1);
  long n = (long)((double)sample_ms * 1e6 / per);
  if (n < 100) n = 100;

  g_parent_sleeps = 0;
  atomic_store(&s->child_sleeps, 0);
  double* out = calloc((size_t)samples, sizeof *out);
  for (int k = 0; k < samples; k++) {
    int64_t a = now_ns();
    round_trips(s, n);
    out[k] = (double)(now_ns() - a) / n;
  }
  uint64_t child_sleeps = atomic_load(&s->child_sleeps);

  atomic_store(&s->value, STOP);
  futex_wake(&s->value);
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }

  printf("{\"mode\":\"%s\",\"samples\":[", argv[1]);
  for (int k = 0; k < samples; k++) printf("%s%.2f", k ? "," : "", out[k]);
  printf("],\"roundTripsPerSample\":%ld,\"parentSleeps\":%llu,\"childSleeps\":%llu,\"spinLimit\":%ld}\n", n,
         (unsigned long long)g_parent_sleeps, (unsigned long long)child_sleeps, g_spin_limit);
  free(out);
  return 0;
}

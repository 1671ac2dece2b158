// Kernel costs a JavaScript simulation does not pay by itself, measured on the machine the
// lab runs on, for the cost profiles' trapNs and syscallNs (src/cost/profiles/*.json):
//   syscall  a null system call (syscall(SYS_getppid)): entry/exit only, mitigations included
//   fault    a read fault on a page already in the page cache of a tmpfs file mapped
//            MAP_SHARED with MADV_RANDOM (no fault-around): exception entry/exit, the
//            handle_mm_fault walk, a page-cache lookup and a PTE set, no zeroing, no I/O
// Build and run: cc -O2 -o /tmp/kernel_costs bench/native/kernel_costs.c && /tmp/kernel_costs
// Prints the median over rounds of the mean cost per operation, in nanoseconds.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

#define ROUNDS 21
#define CALLS 200000
#define PAGES 4096

int main(void) {
  double r[ROUNDS];
  for (int k = 0; k < ROUNDS; k++) {
    double t0 = now_ns();
    for (int i = 0; i < CALLS; i++) syscall(SYS_getppid);
    r[k] = (now_ns() - t0) / CALLS;
  }
  qsort(r, ROUNDS, sizeof r[0], cmp);
  printf("syscall %.0f ns (null syscall, median of %d rounds of %d; min %.0f, max %.0f)\n", r[ROUNDS / 2], ROUNDS, CALLS, r[0], r[ROUNDS - 1]);

  const size_t len = (size_t)PAGES * 4096;
  char path[] = "/dev/shm/daxlab-kernel-costs-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) { perror("mkstemp"); return 1; }
  unlink(path);
  char *buf = malloc(len);
  memset(buf, 0x11, len);
  if (write(fd, buf, len) != (ssize_t)len) { perror("write"); return 1; }
  volatile char sink = 0;
  for (int k = 0; k < ROUNDS; k++) {
    char *p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) { perror("mmap"); return 1; }
    madvise(p, len, MADV_RANDOM);
    double t0 = now_ns();
    for (size_t i = 0; i < len; i += 4096) sink += p[i];
    r[k] = (now_ns() - t0) / PAGES;
    munmap(p, len);
  }
  qsort(r, ROUNDS, sizeof r[0], cmp);
  printf("fault %.0f ns (read fault on a cached tmpfs page, MADV_RANDOM, median of %d rounds of %d; min %.0f, max %.0f)\n", r[ROUNDS / 2], ROUNDS, PAGES, r[0], r[ROUNDS - 1]);
  (void)sink;
  return 0;
}

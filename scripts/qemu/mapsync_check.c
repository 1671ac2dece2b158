/* mapsync_check: proves, from inside the QEMU guest, that the filesystem in the working
 * directory is DAX with MAP_SYNC working, and times one write fault per 4 KiB page the way
 * ../shared/KERNEL-REF.md's program does, for a first look at the shape (sync faults on an
 * empty or fallocated file far dearer than without MAP_SYNC; on a written file not).
 *
 * For each preparation (prealloc = fallocate, empty = ftruncate, written = pwrite) and each
 * mapping (MAP_SHARED, MAP_SHARED_VALIDATE|MAP_SYNC) it creates a 2 MiB file, fsyncs it and
 * its directory, maps it with MADV_NOHUGEPAGE, stores once to each page with
 * CLOCK_MONOTONIC around the store, and checks the fault count with getrusage.
 * Prints one line per case: "prep map faults=N rusage=N mean_ns=N p50_ns=N". Exits 0 only
 * when MAP_SYNC mapped, statx reported DAX and every store faulted once; otherwise prints
 * why and exits 1. Build: cc -O2 -static. Usage: mapsync_check [repeats] (default 3). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE 0x03
#endif
#ifndef MAP_SYNC
#define MAP_SYNC 0x80000
#endif
#ifndef STATX_ATTR_DAX
#define STATX_ATTR_DAX 0x00200000
#endif

enum { PAGE = 4096, PAGES = 512, SIZE = PAGE * PAGES };
static const char *const preps[] = {"prealloc", "empty", "written"};

static long long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int cmp_ll(const void *a, const void *b) {
  long long x = *(const long long *)a, y = *(const long long *)b;
  return (x > y) - (x < y);
}

/* Minor and major together: a DAX write fault that allocates a block counts as major
 * (dax_iomap_pte_fault on IOMAP_F_NEW), except under MAP_SYNC, where
 * dax_finish_sync_fault's return drops the flag and it counts as minor. */
static long faults_so_far(void) {
  struct rusage r;
  getrusage(RUSAGE_SELF, &r);
  return r.ru_minflt + r.ru_majflt;
}

static int prepare(const char *path, int prep) {
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return -1;
  int rc = 0;
  if (prep == 0) {
    rc = fallocate(fd, 0, 0, SIZE);
  } else if (prep == 1) {
    rc = ftruncate(fd, SIZE);
  } else {
    static char buf[SIZE];
    memset(buf, 0x5a, sizeof buf);
    rc = pwrite(fd, buf, SIZE, 0) == SIZE ? 0 : -1;
  }
  if (rc == 0) rc = fsync(fd);
  int dir = open(".", O_RDONLY | O_DIRECTORY);
  if (rc == 0 && dir >= 0) rc = fsync(dir);
  if (dir >= 0) close(dir);
  if (rc != 0) { close(fd); return -1; }
  return fd;
}

/* One run: returns 0 and fills *mean, *p50, *faults; -1 with errno on failure. */
static int run(int prep, int sync, double *mean, long long *p50, long *faults, int *dax) {
  static long long t[PAGES];
  const char *path = "mapsync_check.tmp";
  int fd = prepare(path, prep);
  if (fd < 0) return -1;
  struct statx st;
  *dax = statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &st) == 0 &&
         (st.stx_attributes & STATX_ATTR_DAX);
  int flags = sync ? MAP_SHARED_VALIDATE | MAP_SYNC : MAP_SHARED;
  char *p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, flags, fd, 0);
  if (p == MAP_FAILED) { int e = errno; close(fd); unlink(path); errno = e; return -1; }
  /* Every page its own 4 KiB fault, as in KERNEL-REF (DAX mappings try PMDs otherwise). */
  madvise(p, SIZE, MADV_NOHUGEPAGE);
  long before = faults_so_far();
  for (int i = 0; i < PAGES; i++) {
    long long a = now_ns();
    p[(size_t)i * PAGE] = 1;
    t[i] = now_ns() - a;
  }
  *faults = faults_so_far() - before;
  munmap(p, SIZE);
  close(fd);
  unlink(path);
  double sum = 0;
  for (int i = 0; i < PAGES; i++) sum += (double)t[i];
  qsort(t, PAGES, sizeof t[0], cmp_ll);
  *mean = sum / PAGES;
  *p50 = t[PAGES / 2];
  return 0;
}

int main(int argc, char **argv) {
  int repeats = argc > 1 ? atoi(argv[1]) : 3;
  if (repeats < 1) { fprintf(stderr, "mapsync_check: repeats must be a positive integer\n"); return 2; }
  int ok = 1;
  for (int r = 0; r < repeats; r++) {
    for (int prep = 0; prep < 3; prep++) {
      for (int sync = 0; sync < 2; sync++) {
        double mean; long long p50; long faults; int dax;
        const char *map = sync ? "map_sync" : "map_shared";
        if (run(prep, sync, &mean, &p50, &faults, &dax) != 0) {
          printf("%s %s error=%s\n", preps[prep], map, strerror(errno));
          ok = 0;
          continue;
        }
        printf("%s %s repeat=%d faults=%d rusage=%ld mean_ns=%.0f p50_ns=%lld dax=%d\n",
               preps[prep], map, r, PAGES, faults, mean, p50, dax);
        if (!dax) { printf("not DAX: statx lacks STATX_ATTR_DAX\n"); ok = 0; }
        /* The stores must each take a fault; a few more (the stack, the timer) are fine. */
        if (faults < PAGES) { printf("only %ld faults for %d pages\n", faults, PAGES); ok = 0; }
      }
    }
  }
  printf("%s\n", ok ? "mapsync_check: ok, DAX with MAP_SYNC" : "mapsync_check: FAILED");
  return ok ? 0 : 1;
}

// daxprobe: the native half of `daxlab probe`. Measures page faults, fsync and the ordering
// tax on the filesystem holding --dir, the way seed 002 and /work/shared/KERNEL-REF.md did,
// and records the setup it ran on. It needs nothing but libc, so it runs in a VM guest
// without Node (`cc -O2 -static` builds it); `daxlab probe` runs it here, or
// `daxlab probe --raw` reads what it wrote elsewhere.
//
// Output: JSON lines ("raw records"), one object a line, to stdout or --out: a setup record,
// whether MAP_SYNC maps, then one record per configuration and repeat with each timed
// operation's nanoseconds, the baselines, and {"type":"end"} last (a file without it was cut
// short). src/probe/raw.ts reads them; the record shapes are defined there.
//
// Every file lives in a private folder made under --dir (mkdtemp) and is removed on exit,
// also on SIGINT, SIGTERM, SIGHUP and SIGPIPE: the handler only raises a flag, which the
// loops check between operations, so cleanup runs in ordinary context. The background
// copier and the metadata dirtier are child processes killed by cleanup, and by
// PR_SET_PDEATHSIG should this process die without running it.
//
// Build: cc -O2 -o daxprobe native/daxprobe.c   (or -static for a guest)
// Usage: daxprobe --dir <folder> [--quick] [--out <file>]
//        daxprobe --dir <folder> --check    is it DAX with MAP_SYNC? a line per run, exit 0 or 1
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <mntent.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

// Older libc headers lack the flags; the values are the kernel's ABI.
#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE 0x03
#endif
#ifndef MAP_SYNC
#define MAP_SYNC 0x80000
#endif
#ifndef MADV_HUGEPAGE
#define MADV_HUGEPAGE 14
#endif
#ifndef MADV_NOHUGEPAGE
#define MADV_NOHUGEPAGE 15
#endif
#ifndef STATX_ATTR_DAX
#define STATX_ATTR_DAX 0x00200000
#endif

#define PAGE 4096UL
#define PMD (2UL << 20)
#define HELPER_FORMAT "daxprobe/1"

// What one run measures: --quick keeps the whole probe to a few seconds on a disk.
struct params {
  int repeats;        // repeats of every fault configuration, interleaved
  int pages;          // 4 KiB faults per run (512: a 2 MiB file, as the seed)
  int pmdRegions;     // 2 MiB faults per PMD run
  int bgMiB;          // size of the file the background process copies
  int fsyncKs[4];     // dirty pages before each fsync
  int fsyncKCount;
  int fsyncRounds;    // fsyncs per k and repeat
  int fsyncRepeats;
  int taxFaults;      // paced faults per ordering-tax run
  int taxRepeats;
  int dirtierFiles;   // files the metadata dirtier chmods in turn
  int baseRounds, baseCalls, basePages;
};

static const struct params FULL = {5, 512, 8, 300, {1, 8, 64, 512}, 4, 8, 5, 32, 3, 512, 21, 50000, 4096};
static const struct params QUICK = {2, 64, 2, 16, {1, 16}, 2, 2, 1, 4, 1, 64, 5, 20000, 1024};

static volatile sig_atomic_t g_stop;
static char g_priv[PATH_MAX];  // the private folder; empty until made
static int g_privfd = -1;
static pid_t g_children[4];
static int g_nchildren;
static FILE *g_out;
static char g_outTmp[PATH_MAX + 16], g_outFinal[PATH_MAX];
static unsigned g_fileSeq;
static int g_done, g_total;
static int g_progressToStderr;

static void on_signal(int sig) { g_stop = sig; }

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static long faults_now(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_minflt + ru.ru_majflt;
}

// ---- cleanup -------------------------------------------------------------------------

static void kill_child(pid_t pid) {
  kill(pid, SIGKILL);
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
  }
  for (int i = 0; i < g_nchildren; i++)
    if (g_children[i] == pid) g_children[i] = g_children[--g_nchildren];
}

// Removes the children and the private folder; the --out file stays for the caller to finish.
static void cleanup_files(void) {
  // Children first: a copier still running would recreate its file after the unlink.
  while (g_nchildren > 0) kill_child(g_children[0]);
  if (g_priv[0] != '\0') {
    DIR *d = opendir(g_priv);
    if (d != NULL) {
      struct dirent *e;
      while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        unlinkat(dirfd(d), e->d_name, 0);
      }
      closedir(d);
    }
    if (g_privfd >= 0) close(g_privfd);
    rmdir(g_priv);
    g_priv[0] = '\0';
  }
}

// Cleanup on the way out early: the half-written --out goes too.
static void cleanup(void) {
  cleanup_files();
  if (g_outTmp[0] != '\0') unlink(g_outTmp);
}

static void stop_now(void) {
  int sig = g_stop;
  cleanup();
  _exit(128 + sig);
}

#define CHECK_STOP() \
  do {               \
    if (g_stop) stop_now(); \
  } while (0)

// ---- output --------------------------------------------------------------------------

static void json_str(FILE *f, const char *s) {
  fputc('"', f);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
    else if (*p == '\n') fputs("\\n", f);
    else if (*p == '\t') fputs("\\t", f);
    else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
    else fputc(*p, f);
  }
  fputc('"', f);
}

static void json_str_or_null(FILE *f, const char *s) {
  if (s == NULL) fputs("null", f);
  else json_str(f, s);
}

static void end_record(void) {
  fputs("}\n", g_out);
  fflush(g_out);
  CHECK_STOP();  // SIGPIPE: whoever read us is gone
}

static void json_ns_array(FILE *f, const uint64_t *ns, int n) {
  fputc('[', f);
  for (int i = 0; i < n; i++) fprintf(f, i ? ",%llu" : "%llu", (unsigned long long)ns[i]);
  fputc(']', f);
}

static const char *errno_name(int e) {
  switch (e) {
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case EINVAL: return "EINVAL";
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case ENOSPC: return "ENOSPC";
    case ENODEV: return "ENODEV";
    case ENOMEM: return "ENOMEM";
    case EROFS: return "EROFS";
    case EIO: return "EIO";
    case ENOSYS: return "ENOSYS";
    case EBADF: return "EBADF";
    case EDQUOT: return "EDQUOT";
    default: return "errno";
  }
}

// "what: ENAME (strerror)" into buf, with a hint where the errno has a known meaning here.
static void reason_of(char *buf, size_t len, const char *what, int e) {
  const char *hint = "";
  if (e == EOPNOTSUPP && strstr(what, "MAP_SYNC") != NULL) hint = ": the filesystem does not map this file with DAX";
  else if (e == EINVAL && strstr(what, "MAP_SYNC") != NULL) hint = ": the kernel predates MAP_SHARED_VALIDATE (4.15)";
  else if (e == EINVAL && strstr(what, "MADV_HUGEPAGE") != NULL) hint = ": the kernel has no transparent huge pages";
  snprintf(buf, len, "%s: %s (%s)%s", what, errno_name(e), strerror(e), hint);
}

static void progress(const char *what) {
  g_done++;
  fprintf(g_out, "{\"type\":\"progress\",\"done\":%d,\"total\":%d,\"what\":", g_done, g_total);
  json_str(g_out, what);
  end_record();
  if (g_progressToStderr) fprintf(stderr, "daxprobe: %d/%d %s\n", g_done, g_total, what);
}

static void die(const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (g_out != NULL) {
    fputs("{\"type\":\"error\",\"message\":", g_out);
    json_str(g_out, msg);
    fputs("}\n", g_out);
    fflush(g_out);
  }
  fprintf(stderr, "daxprobe: %s\n", msg);
  cleanup();
  exit(1);
}

// ---- setup ---------------------------------------------------------------------------

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}


// The first line of a file, trimmed; NULL when unreadable.
static char *read_line(const char *path, char *buf, size_t len) {
  FILE *f = fopen(path, "r");
  if (f == NULL) return NULL;
  char *r = fgets(buf, (int)len, f);
  fclose(f);
  if (r == NULL) return NULL;
  buf[strcspn(buf, "\n")] = '\0';
  return buf;
}

static int read_bool(const char *path) {
  char b[64];
  if (read_line(path, b, sizeof b) == NULL) return -1;
  return atoi(b) != 0;
}

static void json_bool_or_null(FILE *f, int v) { fputs(v < 0 ? "null" : v ? "true" : "false", f); }

static void cpu_model(char *buf, size_t len, const struct utsname *u) {
  FILE *f = fopen("/proc/cpuinfo", "r");
  char line[512];
  snprintf(buf, len, "%s", u->machine);
  if (f == NULL) return;
  // x86 names the model; arm64 and others have no such line and keep the machine name.
  while (fgets(line, sizeof line, f) != NULL) {
    if (strncmp(line, "model name", 10) == 0 || strncmp(line, "Hardware", 8) == 0 || strncmp(line, "cpu model", 9) == 0) {
      char *v = strchr(line, ':');
      if (v == NULL) continue;
      v++;
      while (*v == ' ' || *v == '\t') v++;
      v[strcspn(v, "\n")] = '\0';
      snprintf(buf, len, "%s", v);
      break;
    }
  }
  fclose(f);
}

// The /proc/mounts entry whose mount point is the longest prefix of the folder.
static void record_mount(FILE *o, const char *real) {
  FILE *m = setmntent("/proc/mounts", "r");
  char src[PATH_MAX] = "unknown", type[64] = "unknown", opts[4096] = "";
  size_t best = 0;
  if (m != NULL) {
    struct mntent *e;
    while ((e = getmntent(m)) != NULL) {
      size_t n = strlen(e->mnt_dir);
      int under = strncmp(real, e->mnt_dir, n) == 0 && (real[n] == '/' || real[n] == '\0' || (n == 1 && e->mnt_dir[0] == '/'));
      if (under && n >= best) {
        best = n;
        snprintf(src, sizeof src, "%s", e->mnt_fsname);
        snprintf(type, sizeof type, "%s", e->mnt_type);
        snprintf(opts, sizeof opts, "%s", e->mnt_opts);
      }
    }
    endmntent(m);
  }
  fputs("\"mount\":{\"source\":", o);
  json_str(o, src);
  fputs(",\"fstype\":", o);
  json_str(o, type);
  fputs(",\"options\":[", o);
  int first = 1;
  for (char *save = NULL, *t = strtok_r(opts, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
    if (!first) fputc(',', o);
    json_str(o, t);
    first = 0;
  }
  fputs("]}", o);
}

// The block device under the folder, from /sys/dev/block/<major>:<minor>; null for tmpfs,
// overlay and other mounts without one.
static void record_device(FILE *o, dev_t dev) {
  char sys[PATH_MAX], disk[PATH_MAX], p[PATH_MAX + 64], real[PATH_MAX], b[256];
  snprintf(sys, sizeof sys, "/sys/dev/block/%u:%u", major(dev), minor(dev));
  if (realpath(sys, real) == NULL) {
    fputs("\"device\":null", o);
    return;
  }
  // A partition's queue and dax attributes live on its disk, one folder up.
  snprintf(p, sizeof p, "%s/partition", real);
  if (access(p, F_OK) == 0) {
    snprintf(disk, sizeof disk, "%s", real);
    char *slash = strrchr(disk, '/');
    if (slash != NULL) *slash = '\0';
  } else {
    snprintf(disk, sizeof disk, "%s", real);
  }
  const char *name = strrchr(real, '/') ? strrchr(real, '/') + 1 : real;
  fputs("\"device\":{\"name\":", o);
  json_str(o, name);
  snprintf(p, sizeof p, "%s/queue/dax", disk);
  fputs(",\"queueDax\":", o);
  json_bool_or_null(o, read_bool(p));
  snprintf(p, sizeof p, "%s/dax/write_cache", disk);
  fputs(",\"daxWriteCache\":", o);
  json_bool_or_null(o, read_bool(p));

  // A pmem disk's parent is its namespace (raw mode) or the pfn/btt/dax device that claimed
  // it, which names the namespace in its "namespace" attribute.
  char ns[PATH_MAX] = "", mode[256] = "";
  char parent[PATH_MAX];
  snprintf(p, sizeof p, "%s/device", disk);
  if (realpath(p, parent) != NULL) {
    const char *base = strrchr(parent, '/') ? strrchr(parent, '/') + 1 : parent;
    if (strncmp(base, "namespace", 9) == 0) {
      snprintf(ns, sizeof ns, "%s", base);
      snprintf(p, sizeof p, "%s/mode", parent);
      if (read_line(p, b, sizeof b) != NULL) snprintf(mode, sizeof mode, "%s", b);
    } else {
      snprintf(p, sizeof p, "%s/namespace", parent);
      if (read_line(p, b, sizeof b) != NULL && b[0] != '\0') {
        snprintf(ns, sizeof ns, "%s", b);
        snprintf(p, sizeof p, "/sys/bus/nd/devices/%s/mode", ns);
        if (read_line(p, b, sizeof b) != NULL) snprintf(mode, sizeof mode, "%s", b);
        else if (strncmp(base, "pfn", 3) == 0) snprintf(mode, sizeof mode, "fsdax");
        else if (strncmp(base, "btt", 3) == 0) snprintf(mode, sizeof mode, "sector");
      }
    }
  }
  fputs(",\"namespace\":", o);
  json_str_or_null(o, ns[0] ? ns : NULL);
  fputs(",\"namespaceMode\":", o);
  json_str_or_null(o, mode[0] ? mode : NULL);
  fputc('}', o);
}

// A path inside the private folder for a new file.
static void new_path(char *buf, size_t len, const char *what) {
  snprintf(buf, len, "%s/%s-%u", g_priv, what, g_fileSeq++);
}

// statx's STATX_ATTR_DAX on a fresh file: 1, 0, or -1 when the kernel does not say (< 5.8).
static int statx_dax(void) {
  char path[PATH_MAX + 32];
  new_path(path, sizeof path, "statx");
  int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
  if (fd < 0) die("create %s: %s", path, strerror(errno));
  close(fd);
  struct statx stx;
  int r = -1;
  if (statx(AT_FDCWD, path, 0, STATX_BASIC_STATS, &stx) == 0 && (stx.stx_attributes_mask & STATX_ATTR_DAX))
    r = (stx.stx_attributes & STATX_ATTR_DAX) != 0;
  unlink(path);
  return r;
}

// Whether a MAP_SYNC mapping of a file here is accepted; the reason into buf when not.
static int map_sync_works(char *reason, size_t len) {
  char path[PATH_MAX + 32];
  new_path(path, sizeof path, "mapsync");
  int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
  if (fd < 0) die("create %s: %s", path, strerror(errno));
  if (ftruncate(fd, PAGE) != 0) die("ftruncate %s: %s", path, strerror(errno));
  void *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED_VALIDATE | MAP_SYNC, fd, 0);
  int ok = p != MAP_FAILED;
  if (ok) munmap(p, PAGE);
  else reason_of(reason, len, "mmap(MAP_SHARED_VALIDATE | MAP_SYNC)", errno);
  close(fd);
  unlink(path);
  return ok;
}

// What a clock_gettime pair costs with nothing between: every timed figure includes it
// (where the vDSO cannot read the clock source, it is two system calls). Median of 1001.
static double timer_ns(void) {
  enum { N = 1001 };
  static double d[N];
  for (int i = 0; i < N; i++) {
    uint64_t t0 = now_ns();
    d[i] = (double)(now_ns() - t0);
  }
  qsort(d, N, sizeof d[0], cmp_double);
  return d[N / 2];
}

static void record_setup(const char *dir, int quick, const struct params *P) {
  struct utsname u;
  uname(&u);
  char real[PATH_MAX], cpu[256], cs[128];
  if (realpath(dir, real) == NULL) snprintf(real, sizeof real, "%s", dir);
  struct stat st;
  if (stat(dir, &st) != 0) die("stat %s: %s", dir, strerror(errno));
  cpu_model(cpu, sizeof cpu, &u);
  char kernel[sizeof u.sysname + sizeof u.release + sizeof u.version + sizeof u.machine + 4];
  snprintf(kernel, sizeof kernel, "%s %s %s %s", u.sysname, u.release, u.version, u.machine);

  char started[32];
  time_t t = time(NULL);
  strftime(started, sizeof started, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));

  FILE *o = g_out;
  fprintf(o, "{\"type\":\"setup\",\"helper\":\"%s\",\"startedAt\":\"%s\",\"quick\":%s,\"dir\":", HELPER_FORMAT, started,
          quick ? "true" : "false");
  json_str(o, real);
  fputs(",\"kernel\":", o);
  json_str(o, kernel);
  fputc(',', o);
  record_mount(o, real);
  fputs(",\"statxDax\":", o);
  json_bool_or_null(o, statx_dax());
  fputc(',', o);
  record_device(o, st.st_dev);
  fputs(",\"cpu\":", o);
  json_str(o, cpu);
  fprintf(o, ",\"cpus\":%ld", sysconf(_SC_NPROCESSORS_ONLN));
  fputs(",\"clocksource\":", o);
  json_str_or_null(o, read_line("/sys/devices/system/clocksource/clocksource0/current_clocksource", cs, sizeof cs));
  fprintf(o, ",\"timerNs\":%.1f", timer_ns());
  fprintf(o, ",\"pages\":%d,\"pmdRegions\":%d,\"repeats\":%d,\"bgMiB\":%d,\"taxFaults\":%d,\"dirtierFiles\":%d",
          P->pages, P->pmdRegions, P->repeats, P->bgMiB, P->taxFaults, P->dirtierFiles);
  end_record();
}

// ---- files and mappings --------------------------------------------------------------

enum prep { PREP_PREALLOC, PREP_EMPTY, PREP_WRITTEN };
static const char *PREP_NAMES[] = {"prealloc", "empty", "written"};

static char g_buf[1 << 20];  // what written files are written with

static int write_all(int fd, size_t size) {
  for (size_t off = 0; off < size;) {
    size_t n = size - off < sizeof g_buf ? size - off : sizeof g_buf;
    ssize_t w = pwrite(fd, g_buf, n, (off_t)off);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    off += (size_t)w;
    CHECK_STOP();
  }
  return 0;
}

// Creates a fresh file prepared as the seed did, synced with its folder. -1 and the reason on failure.
static int make_file(char *path, size_t plen, enum prep prep, size_t size, char *reason, size_t rlen) {
  new_path(path, plen, "data");
  int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
  if (fd < 0) {
    reason_of(reason, rlen, "open(O_CREAT)", errno);
    return -1;
  }
  int r = 0;
  const char *what = "";
  if (prep == PREP_PREALLOC) r = fallocate(fd, 0, 0, (off_t)size), what = "fallocate";
  else if (prep == PREP_EMPTY) r = ftruncate(fd, (off_t)size), what = "ftruncate";
  else r = write_all(fd, size), what = "pwrite";
  if (r == 0) r = fsync(fd), what = "fsync(file)";
  if (r == 0) r = fsync(g_privfd), what = "fsync(folder)";
  if (r != 0) {
    reason_of(reason, rlen, what, errno);
    close(fd);
    unlink(path);
    return -1;
  }
  return fd;
}

// Maps size bytes of fd, PMD-aligned when huge (a PMD fault needs a 2 MiB aligned address).
static char *map_file(int fd, size_t size, int sync, int huge, char *reason, size_t rlen) {
  int flags = sync ? MAP_SHARED_VALIDATE | MAP_SYNC : MAP_SHARED;
  char *p;
  if (huge) {
    char *res = mmap(NULL, size + PMD, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (res == MAP_FAILED) {
      reason_of(reason, rlen, "mmap(reserve)", errno);
      return NULL;
    }
    char *aligned = (char *)(((uintptr_t)res + PMD - 1) & ~(PMD - 1));
    // Give back what the aligned mapping does not cover.
    if (aligned > res) munmap(res, (size_t)(aligned - res));
    munmap(aligned + size, (size_t)(res + size + PMD - (aligned + size)));
    p = mmap(aligned, size, PROT_READ | PROT_WRITE, flags | MAP_FIXED, fd, 0);
    if (p == MAP_FAILED) {
      int e = errno;
      munmap(aligned, size);
      errno = e;
    }
  } else {
    p = mmap(NULL, size, PROT_READ | PROT_WRITE, flags, fd, 0);
  }
  if (p == MAP_FAILED) {
    reason_of(reason, rlen, sync ? "mmap(MAP_SHARED_VALIDATE | MAP_SYNC)" : "mmap(MAP_SHARED)", errno);
    return NULL;
  }
  if (madvise(p, size, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE) != 0) {
    reason_of(reason, rlen, huge ? "madvise(MADV_HUGEPAGE)" : "madvise(MADV_NOHUGEPAGE)", errno);
    munmap(p, size);
    return NULL;
  }
  return p;
}

// ---- background processes ------------------------------------------------------------

// Forks a child that runs body() until killed; returns once the child said it started.
static pid_t spawn_child(void (*body)(int ready), const char *what) {
  int pfd[2];
  if (pipe(pfd) != 0) die("pipe: %s", strerror(errno));
  fflush(NULL);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) die("fork (%s): %s", what, strerror(errno));
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(0);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    close(pfd[0]);
    body(pfd[1]);
    _exit(0);
  }
  close(pfd[1]);
  g_children[g_nchildren++] = pid;
  char c;
  ssize_t n;
  while ((n = read(pfd[0], &c, 1)) < 0 && errno == EINTR) CHECK_STOP();
  close(pfd[0]);
  CHECK_STOP();
  if (n != 1) {
    kill_child(pid);
    die("the %s process ended before it started", what);
  }
  return pid;
}

static char g_copySrc[PATH_MAX + 32];

// Where the copy ran beside the faulter. The lab's idle wake-ups depend on it (a core's
// C-state is the shallowest its threads ask for: a faulter whose SMT sibling runs the copy
// wakes from C0), so each bg row counts, fault by fault, whether the copy's last CPU was the
// faulter's own, its SMT sibling, another core's, or not known yet.
#define MAX_CPUS 4096
static int g_coreOf[MAX_CPUS];       // package << 16 | core_id per CPU; -1 where unreadable
static volatile int *g_copyCpu;      // the copy's CPU at its last write (shared with the child)
struct placement {
  long sameCpu, smtSibling, otherCore, unknown;
};

static void read_topology(void) {
  for (int c = 0; c < MAX_CPUS; c++) {
    char path[128];
    long core = -1, pkg = -1;
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/core_id", c);
    FILE *f = fopen(path, "r");
    if (f != NULL) {
      if (fscanf(f, "%ld", &core) != 1) core = -1;
      fclose(f);
    }
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/physical_package_id", c);
    f = fopen(path, "r");
    if (f != NULL) {
      if (fscanf(f, "%ld", &pkg) != 1) pkg = -1;
      fclose(f);
    }
    g_coreOf[c] = core < 0 || pkg < 0 ? -1 : (int)((pkg << 16) | (core & 0xffff));
  }
  g_copyCpu = mmap(NULL, sizeof *g_copyCpu, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (g_copyCpu == MAP_FAILED) die("mmap (shared word): %s", strerror(errno));
  *g_copyCpu = -1;
}

// Counts where the copy ran at one fault of the faulter's, which runs on CPU `me`.
static void note_placement(struct placement *pl, int me) {
  int cp = *g_copyCpu;
  if (me < 0 || cp < 0 || me >= MAX_CPUS || cp >= MAX_CPUS) pl->unknown++;
  else if (cp == me) pl->sameCpu++;
  else if (g_coreOf[me] >= 0 && g_coreOf[me] == g_coreOf[cp]) pl->smtSibling++;
  else if (g_coreOf[me] >= 0 && g_coreOf[cp] >= 0) pl->otherCore++;
  else pl->unknown++;
}

// Seed 002's background copy: a file on the same filesystem copied in a loop, as cp would (no fsync).
static void copier(int ready) {
  char dst[sizeof g_copySrc + 8];
  snprintf(dst, sizeof dst, "%s-copy", g_copySrc);
  static char buf[64 << 10];
  int told = 0;
  for (;;) {
    int in = open(g_copySrc, O_RDONLY);
    int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (in < 0 || out < 0) _exit(1);
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0) {
      if (write(out, buf, (size_t)n) != n) _exit(1);
      *g_copyCpu = sched_getcpu();
      if (!told) {
        told = write(ready, "r", 1) == 1;
        close(ready);
      }
    }
    close(in);
    close(out);
  }
}

static char (*g_dirt)[PATH_MAX + 32];
static int g_ndirt;

// A metadata dirtier: chmod on many files in turn, each dirtying an inode in the running
// transaction, never syncing (the "unrelated metadata writer" of KERNEL-REF.md).
static void dirtier(int ready) {
  if (write(ready, "r", 1) != 1) _exit(1);
  close(ready);
  for (unsigned mode = 0600;; mode ^= 0040)
    for (int i = 0; i < g_ndirt; i++) chmod(g_dirt[i], mode);
}

// ---- measurements --------------------------------------------------------------------

struct cfg {
  enum prep prep;
  int sync, bg, huge;
  char name[64];
  int unsupported;
};

// One run of a fault configuration: a fresh file, one timed store per page (or per 2 MiB).
// Returns 0, or -1 with the reason. fallbacks counts the PMD runs' 2 MiB regions that were
// not mapped whole by their first fault (a store to the region's last page faulted).
static int fault_run(const struct cfg *c, const struct params *P, uint64_t *ns, int *n, long *faults, int *fallbacks, struct placement *pl, char *reason, size_t rlen) {
  size_t stride = c->huge ? PMD : PAGE;
  int count = c->huge ? P->pmdRegions : P->pages;
  size_t size = stride * (size_t)count;
  char path[PATH_MAX + 32];
  int fd = make_file(path, sizeof path, c->prep, size, reason, rlen);
  if (fd < 0) return -1;
  char *p = map_file(fd, size, c->sync, c->huge, reason, rlen);
  if (p == NULL) {
    close(fd);
    unlink(path);
    return -1;
  }
  long f0 = faults_now();
  for (int i = 0; i < count; i++) {
    uint64_t t0 = now_ns();
    *(volatile char *)(p + (size_t)i * stride) = 1;
    ns[i] = now_ns() - t0;
    if (c->bg) note_placement(pl, sched_getcpu());  // after the timed store, outside its time
  }
  *faults = faults_now() - f0;
  *n = count;
  *fallbacks = 0;
  if (c->huge) {
    // A PMD maps the whole 2 MiB: a store to the region's last page faults no more. (Its
    // second page could share a smaller folio with the first; the last one could not.)
    for (int i = 0; i < count; i++) {
      long g0 = faults_now();
      *(volatile char *)(p + (size_t)i * stride + PMD - PAGE) = 1;
      if (faults_now() != g0) (*fallbacks)++;
    }
  }
  munmap(p, size);
  close(fd);
  unlink(path);
  return 0;
}

static void row_head(const struct cfg *c) {
  fputs("{\"type\":\"row\",\"name\":", g_out);
  json_str(g_out, c->name);
  fprintf(g_out, ",\"prep\":\"%s\",\"mapSync\":%s,\"bg\":%s,\"huge\":%s", PREP_NAMES[c->prep], c->sync ? "true" : "false",
          c->bg ? "true" : "false", c->huge ? "true" : "false");
}

static void unsupported_row(struct cfg *c, const char *reason) {
  c->unsupported = 1;
  row_head(c);
  fputs(",\"status\":\"unsupported\",\"reason\":", g_out);
  json_str(g_out, reason);
  end_record();
}

static void make_copy_source(const struct params *P) {
  new_path(g_copySrc, sizeof g_copySrc, "bgsrc");
  int fd = open(g_copySrc, O_RDWR | O_CREAT | O_EXCL, 0600);
  if (fd < 0 || write_all(fd, (size_t)P->bgMiB << 20) != 0 || fsync(fd) != 0) die("write %s: %s", g_copySrc, strerror(errno));
  close(fd);
}

static void fault_rows(const struct params *P, int mapSyncOk, const char *mapSyncReason) {
  struct cfg cfgs[14];
  int nc = 0;
  // Seed 002's six, the written file of KERNEL-REF.md, then PMD variants of the unloaded ones.
  const int table[][3] = {{PREP_PREALLOC, 0, 0}, {PREP_PREALLOC, 1, 0}, {PREP_EMPTY, 0, 0}, {PREP_EMPTY, 1, 0},
                          {PREP_EMPTY, 0, 1},    {PREP_EMPTY, 1, 1},    {PREP_WRITTEN, 0, 0}, {PREP_WRITTEN, 1, 0}};
  for (int huge = 0; huge <= 1; huge++)
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
      if (huge && table[i][2]) continue;
      struct cfg *c = &cfgs[nc++];
      c->prep = (enum prep)table[i][0];
      c->sync = table[i][1];
      c->bg = table[i][2];
      c->huge = huge;
      c->unsupported = 0;
      snprintf(c->name, sizeof c->name, "%s-%s-%s%s", PREP_NAMES[c->prep], c->bg ? "bg" : "nobg", c->sync ? "sync" : "nosync",
               huge ? "-pmd" : "");
    }
  for (int i = 0; i < nc; i++)
    if (cfgs[i].sync && !mapSyncOk) unsupported_row(&cfgs[i], mapSyncReason);

  int max = P->pages > P->pmdRegions ? P->pages : P->pmdRegions;
  uint64_t *ns = calloc((size_t)max, sizeof *ns);
  if (ns == NULL) die("out of memory");
  memset(ns, 0, (size_t)max * sizeof *ns);  // faulted in now, not during a timed loop
  char reason[512];
  // Configurations interleaved over repeats: drift in the machine spreads over all of them.
  for (int r = 0; r < P->repeats; r++) {
    for (int i = 0; i < nc; i++) {
      struct cfg *c = &cfgs[i];
      if (c->unsupported) continue;
      *g_copyCpu = -1;
      pid_t bg = c->bg ? spawn_child(copier, "background copy") : 0;
      int n = 0, fallbacks = 0;
      long faults = 0;
      struct placement pl = {0, 0, 0, 0};
      int rc = fault_run(c, P, ns, &n, &faults, &fallbacks, &pl, reason, sizeof reason);
      if (bg) kill_child(bg);
      CHECK_STOP();
      if (rc != 0) {
        unsupported_row(c, reason);
      } else {
        row_head(c);
        fprintf(g_out, ",\"repeat\":%d,\"status\":\"measured\",\"faults\":%ld,\"fallbacks\":%d,", r, faults, fallbacks);
        if (c->bg)
          fprintf(g_out, "\"copyPlacement\":{\"sameCpu\":%ld,\"smtSibling\":%ld,\"otherCore\":%ld,\"unknown\":%ld},", pl.sameCpu, pl.smtSibling,
                  pl.otherCore, pl.unknown);
        fputs("\"ns\":", g_out);
        json_ns_array(g_out, ns, n);
        end_record();
      }
      char what[128];
      snprintf(what, sizeof what, "%s, repeat %d", c->name, r + 1);
      progress(what);
    }
  }
  free(ns);
}

// fsync after k dirty pages of a written, mapped file, for each k in turn, several rounds a repeat.
static void fsync_series(const struct params *P) {
  int maxk = 0;
  for (int i = 0; i < P->fsyncKCount; i++)
    if (P->fsyncKs[i] > maxk) maxk = P->fsyncKs[i];
  size_t size = (size_t)maxk * PAGE;
  uint64_t *ns = calloc((size_t)(P->fsyncKCount * P->fsyncRounds), sizeof *ns);
  if (ns == NULL) die("out of memory");
  char reason[512];
  int failed = 0;
  for (int r = 0; r < P->fsyncRepeats && !failed; r++) {
    char path[PATH_MAX + 32];
    int fd = make_file(path, sizeof path, PREP_WRITTEN, size, reason, sizeof reason);
    char *p = fd < 0 ? NULL : map_file(fd, size, 0, 0, reason, sizeof reason);
    if (p == NULL) {
      failed = 1;
      break;
    }
    for (size_t off = 0; off < size; off += PAGE) p[off] = 2;
    if (fsync(fd) != 0) {
      reason_of(reason, sizeof reason, "fsync", errno);
      failed = 1;
    }
    for (int round = 0; round < P->fsyncRounds && !failed; round++) {
      for (int k = 0; k < P->fsyncKCount && !failed; k++) {
        for (int i = 0; i < P->fsyncKs[k]; i++) p[(size_t)i * PAGE] = (char)(round + k + 3);
        uint64_t t0 = now_ns();
        if (fsync(fd) != 0) {
          reason_of(reason, sizeof reason, "fsync", errno);
          failed = 1;
        }
        ns[k * P->fsyncRounds + round] = now_ns() - t0;
        CHECK_STOP();
      }
    }
    munmap(p, size);
    close(fd);
    unlink(path);
    if (failed) break;
    for (int k = 0; k < P->fsyncKCount; k++) {
      fprintf(g_out, "{\"type\":\"fsync\",\"dirtyPages\":%d,\"repeat\":%d,\"status\":\"measured\",\"ns\":", P->fsyncKs[k], r);
      json_ns_array(g_out, ns + k * P->fsyncRounds, P->fsyncRounds);
      end_record();
    }
    char what[64];
    snprintf(what, sizeof what, "fsync series, repeat %d", r + 1);
    progress(what);
  }
  if (failed) {
    for (int k = 0; k < P->fsyncKCount; k++) {
      fprintf(g_out, "{\"type\":\"fsync\",\"dirtyPages\":%d,\"status\":\"unsupported\",\"reason\":", P->fsyncKs[k]);
      json_str(g_out, reason);
      end_record();
    }
  }
  free(ns);
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) CHECK_STOP();
}

// The ordering tax: write faults on an empty file paced 0, 10 and 100 ms apart, with and
// without MAP_SYNC, while another process dirties inodes in the same journal.
static void tax_series(const struct params *P, int mapSyncOk, const char *mapSyncReason) {
  static const int pauses[] = {0, 10, 100};
  int unsupported[3][2] = {{0}};
  g_ndirt = P->dirtierFiles;
  g_dirt = calloc((size_t)g_ndirt, sizeof *g_dirt);
  if (g_dirt == NULL) die("out of memory");
  for (int i = 0; i < g_ndirt; i++) {
    new_path(g_dirt[i], sizeof g_dirt[i], "dirt");
    int fd = open(g_dirt[i], O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd < 0) die("create %s: %s", g_dirt[i], strerror(errno));
    close(fd);
    CHECK_STOP();
  }
  for (int pi = 0; pi < 3; pi++)
    if (!mapSyncOk) {
      unsupported[pi][1] = 1;
      fprintf(g_out, "{\"type\":\"tax\",\"pauseMs\":%d,\"mapSync\":true,\"status\":\"unsupported\",\"reason\":", pauses[pi]);
      json_str(g_out, mapSyncReason);
      end_record();
    }
  uint64_t *ns = calloc((size_t)P->taxFaults, sizeof *ns);
  if (ns == NULL) die("out of memory");
  memset(ns, 0, (size_t)P->taxFaults * sizeof *ns);
  pid_t dirt = spawn_child(dirtier, "metadata dirtier");
  char reason[512];
  for (int r = 0; r < P->taxRepeats; r++) {
    for (int pi = 0; pi < 3; pi++) {
      for (int sync = 0; sync <= 1; sync++) {
        if (unsupported[pi][sync]) continue;
        size_t size = (size_t)P->taxFaults * PAGE;
        char path[PATH_MAX + 32];
        int fd = make_file(path, sizeof path, PREP_EMPTY, size, reason, sizeof reason);
        char *p = fd < 0 ? NULL : map_file(fd, size, sync, 0, reason, sizeof reason);
        if (p == NULL) {
          if (fd >= 0) close(fd), unlink(path);
          unsupported[pi][sync] = 1;
          fprintf(g_out, "{\"type\":\"tax\",\"pauseMs\":%d,\"mapSync\":%s,\"status\":\"unsupported\",\"reason\":", pauses[pi], sync ? "true" : "false");
          json_str(g_out, reason);
          end_record();
          continue;
        }
        long f0 = faults_now();
        for (int i = 0; i < P->taxFaults; i++) {
          if (i > 0 && pauses[pi] > 0) sleep_ms(pauses[pi]);
          uint64_t t0 = now_ns();
          *(volatile char *)(p + (size_t)i * PAGE) = 1;
          ns[i] = now_ns() - t0;
        }
        long faults = faults_now() - f0;
        munmap(p, size);
        close(fd);
        unlink(path);
        CHECK_STOP();
        fprintf(g_out, "{\"type\":\"tax\",\"pauseMs\":%d,\"mapSync\":%s,\"repeat\":%d,\"status\":\"measured\",\"faults\":%ld,\"ns\":",
                pauses[pi], sync ? "true" : "false", r, faults);
        json_ns_array(g_out, ns, P->taxFaults);
        end_record();
        char what[96];
        snprintf(what, sizeof what, "ordering tax, %d ms apart, %s, repeat %d", pauses[pi], sync ? "MAP_SYNC" : "no MAP_SYNC", r + 1);
        progress(what);
      }
    }
  }
  kill_child(dirt);
  for (int i = 0; i < g_ndirt; i++) unlink(g_dirt[i]);
  free(ns);
}

// bench/native/kernel_costs.c's two costs: a null system call, and a read fault on a page
// already in a tmpfs file's page cache (MADV_RANDOM: no fault-around, no zeroing, no I/O).
// Each is the median over rounds of the mean per operation.
static void baselines(const struct params *P) {
  double *r = calloc((size_t)P->baseRounds, sizeof *r);
  if (r == NULL) die("out of memory");
  for (int k = 0; k < P->baseRounds; k++) {
    uint64_t t0 = now_ns();
    for (int i = 0; i < P->baseCalls; i++) syscall(SYS_getppid);
    r[k] = (double)(now_ns() - t0) / P->baseCalls;
    CHECK_STOP();
  }
  qsort(r, (size_t)P->baseRounds, sizeof r[0], cmp_double);
  double sys = r[P->baseRounds / 2];

  double fault = -1;
  size_t len = (size_t)P->basePages * PAGE;
  // memfd is tmpfs without a name to clean up; /dev/shm where memfd_create is missing.
  int fd = (int)syscall(SYS_memfd_create, "daxprobe-baseline", 0);
  if (fd < 0) {
    char path[] = "/dev/shm/daxprobe-XXXXXX";
    fd = mkstemp(path);
    if (fd >= 0) unlink(path);
  }
  if (fd >= 0 && write_all(fd, len) == 0) {
    volatile char sink = 0;
    int ok = 1;
    for (int k = 0; k < P->baseRounds && ok; k++) {
      char *p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
      if (p == MAP_FAILED) {
        ok = 0;
        break;
      }
      madvise(p, len, MADV_RANDOM);
      uint64_t t0 = now_ns();
      for (size_t i = 0; i < len; i += PAGE) sink += p[i];
      r[k] = (double)(now_ns() - t0) / P->basePages;
      munmap(p, len);
      CHECK_STOP();
    }
    (void)sink;
    if (ok) {
      qsort(r, (size_t)P->baseRounds, sizeof r[0], cmp_double);
      fault = r[P->baseRounds / 2];
    }
  }
  if (fd >= 0) close(fd);
  fprintf(g_out, "{\"type\":\"baseline\",\"nullSyscallNs\":%.1f,\"pageCacheFaultNs\":", sys);
  if (fault < 0) fputs("null", g_out);
  else fprintf(g_out, "%.1f", fault);
  end_record();
  progress("baselines");
  free(r);
}

static void usage(void) {
  fprintf(stderr, "usage: daxprobe --dir <folder> [--quick] [--out <file>]\n       daxprobe --dir <folder> --check\n");
  exit(2);
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

// --check: is the filesystem under --dir DAX, with MAP_SYNC working? Three repeats of one
// 512-page run per file preparation and mapping, as KERNEL-REF.md's program timed them,
// printed a line each for a person (the QEMU rig's first look at a guest). 0 when statx
// reports DAX, every MAP_SYNC mapping was accepted and every store faulted; 1 otherwise.
static int check_dax(void) {
  struct params P = FULL;
  P.pages = 512;
  uint64_t *ns = calloc((size_t)P.pages, sizeof *ns);
  if (ns == NULL) die("out of memory");
  int ok = 1;
  int dax = statx_dax();
  printf("statx STATX_ATTR_DAX: %s\n", dax < 0 ? "the kernel does not say" : dax ? "yes" : "no");
  if (dax != 1) ok = 0;
  char reason[512];
  for (int r = 0; r < 3; r++) {
    for (int prep = 0; prep < 3; prep++) {
      for (int sync = 0; sync < 2; sync++) {
        struct cfg c = {(enum prep)prep, sync, 0, 0, "", 0};
        const char *map = sync ? "map_sync" : "map_shared";
        int n = 0, fallbacks = 0;
        long faults = 0;
        if (fault_run(&c, &P, ns, &n, &faults, &fallbacks, NULL, reason, sizeof reason) != 0) {
          printf("%s %s error=%s\n", PREP_NAMES[prep], map, reason);
          ok = 0;
          continue;
        }
        double sum = 0;
        for (int i = 0; i < n; i++) sum += (double)ns[i];
        qsort(ns, (size_t)n, sizeof *ns, cmp_u64);
        printf("%s %s repeat=%d faults=%d rusage=%ld mean_ns=%.0f p50_ns=%llu\n", PREP_NAMES[prep], map, r, n, faults, sum / n,
               (unsigned long long)ns[n / 2]);
        // Each store must take a fault; a few more (the stack, the timer) are fine.
        if (faults < n) {
          printf("only %ld faults for %d pages\n", faults, n);
          ok = 0;
        }
        CHECK_STOP();
      }
    }
  }
  free(ns);
  printf("%s\n", ok ? "daxprobe --check: ok, DAX with MAP_SYNC" : "daxprobe --check: FAILED");
  return ok ? 0 : 1;
}

int main(int argc, char **argv) {
  const char *dir = NULL, *out = NULL;
  int quick = 0, check = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) dir = argv[++i];
    else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) out = argv[++i];
    else if (strcmp(argv[i], "--quick") == 0) quick = 1;
    else if (strcmp(argv[i], "--check") == 0) check = 1;
    else usage();
  }
  if (dir == NULL || (check && (quick || out != NULL))) usage();
  const struct params *P = quick ? &QUICK : &FULL;

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;  // no SA_RESTART: a blocked read or sleep returns EINTR and sees the flag
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
  sigaction(SIGPIPE, &sa, NULL);

  g_out = stdout;
  if (out != NULL) {
    // Written aside and renamed at the end: a record cut short is never mistaken for a whole one.
    snprintf(g_outFinal, sizeof g_outFinal, "%s", out);
    snprintf(g_outTmp, sizeof g_outTmp, "%s.tmp-%d", out, (int)getpid());
    g_out = fopen(g_outTmp, "w");
    if (g_out == NULL) {
      g_outTmp[0] = '\0';
      g_out = stdout;
      die("--out %s: %s", out, strerror(errno));
    }
    g_progressToStderr = 1;
  }

  struct stat st;
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) die("--dir %s: not a folder", dir);
  snprintf(g_priv, sizeof g_priv, "%s/.daxprobe-XXXXXX", dir);
  if (mkdtemp(g_priv) == NULL) {
    int e = errno;
    g_priv[0] = '\0';
    die("--dir %s: cannot make a folder in it: %s", dir, strerror(e));
  }
  g_privfd = open(g_priv, O_RDONLY | O_DIRECTORY);
  if (g_privfd < 0) die("open %s: %s", g_priv, strerror(errno));
  memset(g_buf, 0x5a, sizeof g_buf);
  if (check) {
    int rc = check_dax();
    cleanup_files();
    return rc;
  }

  int pmdRuns = 6, pteRuns = 8;
  g_total = P->repeats * (pmdRuns + pteRuns) + P->fsyncRepeats + P->taxRepeats * 6 + 1;

  record_setup(dir, quick, P);
  char msReason[512] = "";
  int msOk = map_sync_works(msReason, sizeof msReason);
  // Sync rows that cannot run leave the count: the bar should reach its end.
  if (!msOk) g_total -= P->repeats * 7 + P->taxRepeats * 3;
  fprintf(g_out, "{\"type\":\"mapsync\",\"supported\":%s,\"reason\":", msOk ? "true" : "false");
  json_str_or_null(g_out, msOk ? NULL : msReason);
  end_record();

  read_topology();
  make_copy_source(P);
  fault_rows(P, msOk, msReason);
  fsync_series(P);
  tax_series(P, msOk, msReason);
  baselines(P);

  fputs("{\"type\":\"end\"", g_out);
  end_record();
  cleanup_files();
  if (out != NULL) {
    if (fclose(g_out) != 0 || rename(g_outTmp, g_outFinal) != 0) {
      fprintf(stderr, "daxprobe: --out %s: %s\n", out, strerror(errno));
      unlink(g_outTmp);
      return 1;
    }
  }
  return 0;
}

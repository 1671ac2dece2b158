/* statx_dax FILE...: prints "FILE dax" or "FILE not-dax" for each file, from statx's
 * STATX_ATTR_DAX; exits 0 only when every file is DAX. The guest's /init runs it on a file in
 * the mounted filesystem before the job, because "mount -o dax" alone does not prove that
 * the kernel chose DAX for the file (it falls back silently when the device cannot do it).
 * Built with cc -static: the guest has no C library of its own. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>

#ifndef STATX_ATTR_DAX
#define STATX_ATTR_DAX 0x00200000
#endif

int main(int argc, char **argv) {
  int all = argc > 1;
  for (int i = 1; i < argc; i++) {
    struct statx st;
    if (statx(AT_FDCWD, argv[i], 0, STATX_BASIC_STATS, &st) != 0) {
      fprintf(stderr, "statx_dax: %s: %s\n", argv[i], strerror(errno));
      return 2;
    }
    /* attributes_mask says whether the kernel reports the bit at all (5.8 and later). */
    int known = (st.stx_attributes_mask & STATX_ATTR_DAX) != 0;
    int dax = (st.stx_attributes & STATX_ATTR_DAX) != 0;
    printf("%s %s\n", argv[i], dax ? "dax" : known ? "not-dax" : "unknown");
    all = all && dax;
  }
  return all ? 0 : 1;
}

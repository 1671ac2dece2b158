#!/usr/bin/env bash
# Runs a static program on a real DAX filesystem without DAX hardware: Linux 6.1 (Debian
# bookworm's kernel) in QEMU with an emulated NVDIMM, ext4 mounted -o dax on its fsdax
# namespace. See scripts/qemu/README.md. Entry point of `npm run probe:qemu -- ...`.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: npm run probe:qemu -- [--bin FILE --args "ARGS" | --check] [options]

  --bin FILE         static x86-64 executable to run in the guest (cc -O2 -static)
  --args "ARGS"      its arguments, one string, word-split by the guest's shell;
                     $DAXLAB_DIR there names the DAX mount (also the working directory)
  --check            instead of --bin and --args: build native/daxprobe.c and run
                     daxprobe --check, which proves that MAP_SYNC mappings work in the guest
  --out FILE         where the program's stdout goes (default: qemu-probe.out);
                     FILE.log gets the guest's console, its setup, jbd2 statistics and dmesg
  --timeout SECONDS  kill the guest after this long (default 1800)
  --mount-opts OPTS  ext4 mount options in the guest (default: dax)
  --mkfs-opts OPTS   mke2fs options (default: -E lazy_itable_init=0,lazy_journal_init=0)
  --allow-non-dax    run the program even when statx does not report DAX
  --append ARGS      extra guest kernel command line (e.g. tsc=reliable: see README.md)
  --nice N           run QEMU at this niceness (-20..19; below 0 needs root). On a busy
                     host the guest's figures are mostly waits for a host CPU: see README.md
  --cache DIR        where the kernel, initramfs and NVDIMM backing file live
                     (default: $DAXLAB_QEMU_CACHE, else ~/.cache/daxlab-qemu)

Needs root on Debian (bookworm) for apt-get the first time; afterwards any user who can
read the cache. Exit code: the program's, 124 on timeout, 125 when the guest failed.
EOF
}

RIG=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# npm runs scripts from the package root; paths given on the command line are the caller's.
cd "${INIT_CWD:-.}"
# mke2fs initialises inode tables and the journal now rather than leaving it to the
# ext4lazyinit thread, whose background writes and commits otherwise slow the first minutes
# of a run several-fold (seen here: MAP_SYNC faults 10x dearer in the first seconds).
DEFAULT_MKFS_OPTS="-E lazy_itable_init=0,lazy_journal_init=0"
BIN="" ARGS="" OUT=qemu-probe.out TIMEOUT=1800 MOUNT_OPTS=dax MKFS_OPTS=$DEFAULT_MKFS_OPTS REQUIRE_DAX=1 CHECK=0 APPEND="" NICE=""
CACHE=${DAXLAB_QEMU_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/daxlab-qemu}
bad() { echo "probe:qemu: $*" >&2; exit 2; }
while (($#)); do
  [[ $1 != --@(bin|args|out|timeout|mount-opts|mkfs-opts|append|nice|cache) || $# -ge 2 ]] || bad "$1 needs a value"
  case $1 in
    --bin) BIN=$2; shift 2 ;;
    --args) ARGS=$2; shift 2 ;;
    --check) CHECK=1; shift ;;
    --out) OUT=$2; shift 2 ;;
    --timeout) TIMEOUT=$2; shift 2 ;;
    --mount-opts) MOUNT_OPTS=$2; shift 2 ;;
    --mkfs-opts) MKFS_OPTS=$2; shift 2 ;;
    --allow-non-dax) REQUIRE_DAX=0; shift ;;
    --append) APPEND=$2; shift 2 ;;
    --nice) NICE=$2; shift 2 ;;
    --cache) CACHE=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) bad "unknown option $1 (accepted: --bin --args --check --out --timeout --mount-opts --mkfs-opts --allow-non-dax --append --nice --cache)" ;;
  esac
done
[[ $TIMEOUT =~ ^[0-9]+$ ]] || bad "--timeout must be a whole number of seconds, got '$TIMEOUT'"
[[ -z $NICE || ($NICE =~ ^-?[0-9]+$ && $NICE -ge -20 && $NICE -le 19) ]] || bad "--nice must be an integer from -20 to 19, got '$NICE'"
if ((CHECK)); then
  [[ -z $BIN ]] || bad "--check and --bin exclude each other"
  [[ -z $ARGS ]] || bad "--check takes no --args (it runs daxprobe --dir \$DAXLAB_DIR --check)"
  ARGS='--dir "$DAXLAB_DIR" --check'
else
  [[ -n $BIN ]] || bad "--bin FILE (a static executable) or --check is required"
  [[ -f $BIN && -x $BIN ]] || bad "--bin: $BIN is not an executable file"
  ! ldd "$BIN" >/dev/null 2>&1 || bad "--bin: $BIN is dynamically linked; build it with cc -static (the guest has no C library)"
fi

. "$RIG/host-deps.sh"
. "$RIG/build-guest.sh"
need_host_tools || exit 2
mkdir -p "$CACHE"
# One guest at a time on this machine: TCG takes both cores the guest is given.
exec 9>"$CACHE/qemu.lock"
flock -n 9 || { echo "probe:qemu: another guest is running (lock $CACHE/qemu.lock); waiting" >&2; flock 9; }
build_guest "$CACHE"

JOB=$(mktemp -d "$CACHE/job.XXXXXX")
trap 'rm -rf "$JOB"' EXIT  # widened once QEMU runs
if ((CHECK)); then
  cc -O2 -static -o "$JOB/bin" "$RIG/../../native/daxprobe.c"
else
  install -m 0755 "$BIN" "$JOB/bin"
fi
printf '%s' "$ARGS" >"$JOB/args"
printf '%s' "$MOUNT_OPTS" >"$JOB/mount_opts"
printf '%s' "$MKFS_OPTS" >"$JOB/mkfs_opts"
printf '%s' "$REQUIRE_DAX" >"$JOB/require_dax"

# The NVDIMM's backing file starts empty each run: a blank label area and no old filesystem.
PMEM=$CACHE/nvdimm.img
rm -f "$PMEM" && truncate -s 2G "$PMEM"

echo "probe:qemu: booting Linux $GUEST_KVER (TCG, 2 CPUs, 2 GiB NVDIMM), timeout ${TIMEOUT}s" >&2
START=$(date +%s)
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
PRIO=()
[[ -n $NICE ]] && PRIO=(nice -n "$NICE")
set +e
# KVM is used when /dev/kvm is usable; otherwise TCG, multi-threaded, with -cpu max so that
# the guest sees the CPU features (CLWB, CLFLUSHOPT) a pmem kernel looks for.
ACCEL=(-accel tcg,thread=multi -cpu max)
[[ -w /dev/kvm ]] && ACCEL=(-accel kvm -cpu host)
# In the background with its pid known, so that Ctrl-C or a kill of this script takes the guest
# with it (timeout passes the signal on); the console is shown live from its file.
"${PRIO[@]}" timeout -k 10 "$TIMEOUT" qemu-system-x86_64 \
  -machine pc,nvdimm=on "${ACCEL[@]}" -smp 2 -m 2G,slots=2,maxmem=4G \
  -object memory-backend-file,id=mem1,share=on,mem-path="$PMEM",size=2G,align=2M \
  -device nvdimm,memdev=mem1,id=nv1,label-size=2M \
  -fsdev local,id=hostfs,path="$JOB",security_model=none \
  -device virtio-9p-pci,fsdev=hostfs,mount_tag=host \
  -kernel "$GUEST_KERNEL" -initrd "$GUEST_INITRD" \
  -append "console=ttyS0 loglevel=4 panic=-1 rdinit=/init $APPEND" \
  -display none -monitor none -serial stdio -no-reboot </dev/null >"$JOB/console" 2>&1 &
QPID=$!
# (Each step may fail harmlessly, and set -e holds inside traps too.)
trap 'kill "$QPID" 2>/dev/null || true; wait "$QPID" 2>/dev/null || true; rm -rf "$JOB" "$PMEM"' EXIT
trap 'exit 130' INT TERM
tail -n +1 -f --pid="$QPID" "$JOB/console" >&2 &
wait "$QPID"
QEMU_RC=$?
wait
set -e
ELAPSED=$(($(date +%s) - START))
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
rm -f "$PMEM"

mkdir -p "$(dirname "$OUT")"
{
  echo "== host: qemu exit $QEMU_RC after ${ELAPSED}s, kernel $GUEST_KVER, ${NICE:+nice $NICE, }load average $LOAD_BEFORE before, $LOAD_AFTER after (on $(nproc) CPUs)"
  echo "== console"; cat "$JOB/console"
  for f in setup error jbd2 dmesg; do
    [[ -s $JOB/out/$f ]] && { echo "== $f"; cat "$JOB/out/$f"; }
  done
} >"$OUT.log"
if ((QEMU_RC == 124 || QEMU_RC == 137)); then
  echo "probe:qemu: the guest did not finish within ${TIMEOUT}s (log: $OUT.log)" >&2
  exit 124
fi
if [[ ! -e $JOB/out/rc ]]; then
  echo "probe:qemu: the guest stopped before the job ended (qemu exit $QEMU_RC; log: $OUT.log)" >&2
  exit 125
fi
RC=$(cat "$JOB/out/rc")
if [[ -e $JOB/out/stdout ]]; then cp "$JOB/out/stdout" "$OUT"; else rm -f "$OUT"; fi
echo "probe:qemu: exit code $RC after ${ELAPSED}s; output $OUT, log $OUT.log" >&2
exit "$RC"

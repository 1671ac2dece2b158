#!/bin/busybox sh
# /init of the QEMU guest (busybox ash, PID 1). It turns the emulated NVDIMM into an fsdax
# namespace, makes ext4 on /dev/pmem0, mounts it with DAX, checks statx's DAX flag, runs the
# job from the host's shared folder with the mount as its working directory, writes the job's
# output back to that folder and powers off. The host side is probe-qemu.sh.
#
# The shared folder (9p tag "host", mounted on /host) holds:
#   bin          the static executable to run
#   args         its arguments, one shell string, expanded by this shell
#                ($DAXLAB_DIR names the DAX mount, also the working directory)
#   mount_opts   mount options for ext4 (default "dax")
#   mkfs_opts    mke2fs options besides -t ext4 -F -q
#   require_dax  "1": refuse to run the job when statx does not report DAX
# and receives in out/: stdout (the job's), rc, setup (what was mounted and how), dmesg,
# jbd2 (the journal's statistics after the job).

/bin/busybox --install -s /bin
export PATH=/usr/bin:/usr/sbin:/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

say() { echo "guest: [$(cut -d' ' -f1 /proc/uptime)s] $*" >/dev/console; }
finish() {
  say "powering off"
  sync
  umount /mnt/dax 2>/dev/null
  umount /host 2>/dev/null
  poweroff -f
  echo o >/proc/sysrq-trigger
}
fail() {
  say "FAILED: $*"
  [ -d /host/out ] && echo "$*" >/host/out/error && echo 125 >/host/out/rc
  finish
}

KVER=$(uname -r)
while read -r mod; do
  insmod "/lib/modules/$KVER/$mod" || say "insmod $mod failed"
done </etc/modules.load
say "modules loaded"

mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 host /host || fail "cannot mount the host folder (9p)"
mkdir -p /host/out
MOUNT_OPTS=$(cat /host/mount_opts 2>/dev/null); MOUNT_OPTS=${MOUNT_OPTS:-dax}
MKFS_OPTS=$(cat /host/mkfs_opts 2>/dev/null)
REQUIRE_DAX=$(cat /host/require_dax 2>/dev/null)

# nfit registers the region asynchronously; wait for it.
i=0
while [ ! -e /sys/bus/nd/devices/region0 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -e /sys/bus/nd/devices/region0 ] || fail "no NVDIMM region (is the machine nvdimm=on?)"

# The backing file is new each run: one fsdax namespace over the whole region, 2 MiB
# aligned so that PMD mappings are possible. The region is the file less its 2 MiB label area, which the kernel's default 16 MiB region alignment refuses; 2 MiB
# suits it (region0/align, Linux 5.10 and later).
echo 2097152 >/sys/bus/nd/devices/region0/align 2>/dev/null || say "cannot set region0/align"
# A blank label area leaves the region label-less, with one raw namespace0.0 over all of it:
# reconfigure that one (-e) rather than create another (there is no space for one).
ndctl create-namespace --force --reconfig=namespace0.0 --mode=fsdax --align=2M >/tmp/ns.json 2>/tmp/ns.err ||
  { cat /tmp/ns.err >/dev/console; ndctl list -RDNu -vv >/dev/console 2>&1; fail "ndctl create-namespace failed"; }
[ -b /dev/pmem0 ] || fail "no /dev/pmem0 after create-namespace"
say "namespace ready: $(tr -d ' \n' </tmp/ns.json | cut -c1-200)"

# e2fsprogs' mke2fs by full path: busybox's own applet of that name cannot make ext4.
/usr/bin/mke2fs -t ext4 -F -q $MKFS_OPTS /dev/pmem0 || fail "mke2fs failed"
mount -t ext4 -o "$MOUNT_OPTS" /dev/pmem0 /mnt/dax || fail "mount -o $MOUNT_OPTS failed"
echo probe >/mnt/dax/.daxcheck
DAXSTATE=$(statx_dax /mnt/dax/.daxcheck)
DAXRC=$?
rm -f /mnt/dax/.daxcheck
say "mounted: $(grep ' /mnt/dax ' /proc/mounts); statx: $DAXSTATE"
{
  echo "kernel: $(uname -r) $(uname -v)"
  echo "mount: $(grep ' /mnt/dax ' /proc/mounts)"
  echo "statx: $DAXSTATE"
  echo "namespace: $(tr -d ' \n' </tmp/ns.json)"
  echo "clocksource: $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
  echo "cpus: $(grep -c ^processor /proc/cpuinfo) x $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
} >/host/out/setup
[ "$REQUIRE_DAX" = 1 ] && [ $DAXRC -ne 0 ] && fail "statx does not report DAX on the mount ($DAXSTATE)"

# The job runs from a copy: executing a file on 9p works, but a local copy keeps the job's
# page faults on its own binary out of the 9p path.
cp /host/bin /tmp/job && chmod +x /tmp/job
export DAXLAB_DIR=/mnt/dax
cd /mnt/dax
say "job starts: $(cat /host/args)"
sh -c "exec /tmp/job $(cat /host/args)" >/host/out/stdout 2>/dev/console
RC=$?
cd /
say "job ended, exit code $RC"
echo $RC >/host/out/rc
for f in /proc/fs/jbd2/pmem0*/info; do [ -e "$f" ] && cat "$f"; done >/host/out/jbd2 2>/dev/null
dmesg >/host/out/dmesg
finish

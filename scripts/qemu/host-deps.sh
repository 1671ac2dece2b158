#!/usr/bin/env bash
# Makes sure the host has what the QEMU rig needs, installing it with apt-get when it can.
# Sourced by probe-qemu.sh; defines need_host_tools.
#
# The guest is built from the host's own Debian binaries (busybox-static, ndctl, mke2fs), so
# the host must be Debian (bookworm, like the guest kernel) or close to it. The kernel itself
# is only downloaded (apt-get download) and unpacked into the cache: nothing is installed
# into the host's /boot, and no host initramfs hook runs.

# command -> Debian package that provides it
declare -A QEMU_RIG_PKG=(
  [qemu-system-x86_64]=qemu-system-x86
  [busybox]=busybox-static
  [ndctl]=ndctl
  [mke2fs]=e2fsprogs
  [depmod]=kmod
  [cpio]=cpio
  [cc]=gcc
)

need_host_tools() {
  local missing=() pkgs=() cmd
  for cmd in "${!QEMU_RIG_PKG[@]}"; do
    command -v "$cmd" >/dev/null 2>&1 || missing+=("$cmd")
  done
  # busybox must be the static build: it runs as the guest's only userland before any
  # shared library is in place. The dynamic busybox package also provides "busybox".
  if command -v busybox >/dev/null 2>&1 && ! busybox_is_static; then missing+=(busybox); fi
  # The static C programs link against libc.a (libc6-dev).
  [[ -e /usr/lib/x86_64-linux-gnu/libc.a ]] || { missing+=(libc.a); QEMU_RIG_PKG[libc.a]=libc6-dev; }
  if ((${#missing[@]} == 0)); then return 0; fi
  for cmd in "${missing[@]}"; do pkgs+=("${QEMU_RIG_PKG[$cmd]}"); done
  if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    echo "probe:qemu: missing ${missing[*]}; install the Debian packages: ${pkgs[*]}" \
      "(as root: apt-get install --no-install-recommends ${pkgs[*]})" >&2
    return 2
  fi
  echo "probe:qemu: installing ${pkgs[*]}" >&2
  apt-get update -qq >&2 &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >&2
}

busybox_is_static() {
  local bb
  bb=$(command -v busybox) || return 1
  ! ldd "$bb" >/dev/null 2>&1
}

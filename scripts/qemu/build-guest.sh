#!/usr/bin/env bash
# Builds the guest: Debian bookworm's kernel (6.1) and a small initramfs, cached.
# Sourced by probe-qemu.sh; defines build_guest CACHE_DIR, which sets GUEST_KERNEL,
# GUEST_INITRD and GUEST_KVER.
#
# Why an initramfs and not a debootstrap root: the guest needs only busybox, ndctl, mke2fs
# and a dozen modules. Copying the host's binaries with their shared libraries takes
# seconds and needs no mirror; the whole guest runs from RAM, so there is no root disk, and
# it boots to the job in well under a minute even under TCG.

QEMU_RIG_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# Modules the job needs, in the order the guest loads them (dependencies resolved by
# modprobe --show-depends). nfit finds the emulated NVDIMM in ACPI, nd_pmem gives
# /dev/pmem0 (and fsdax through its pfn device), ext4 the filesystem, 9p + virtio the
# shared folder that carries the job in and its output out.
QEMU_RIG_MODULES=(nfit nd_pmem nd_btt dax_pmem crc32c_generic ext4 virtio_pci 9pnet_virtio 9p)

# The kernel package: the one linux-image-amd64 points at, unless DAXLAB_QEMU_KERNEL_PKG
# names another (e.g. linux-image-6.1.0-57-amd64 to pin a build).
resolve_kernel_pkg() {
  if [[ -n ${DAXLAB_QEMU_KERNEL_PKG:-} ]]; then echo "$DAXLAB_QEMU_KERNEL_PKG"; return; fi
  local dep
  dep=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
  if [[ -z $dep && $(id -u) -eq 0 ]]; then
    apt-get update -qq >&2
    dep=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
  fi
  [[ -n $dep ]] || { echo "probe:qemu: cannot resolve linux-image-amd64 (run apt-get update, or set DAXLAB_QEMU_KERNEL_PKG)" >&2; return 2; }
  echo "$dep"
}

# Downloads and unpacks the kernel package into $1/kernel/<pkg>; prints the release.
fetch_kernel() {
  local cache=$1 pkg=$2 dir
  dir=$cache/kernel/$pkg
  if [[ ! -e $dir/.done ]]; then
    rm -rf "$dir" && mkdir -p "$dir/deb"
    # apt drops to user _apt for downloads; a private folder it cannot enter only warns.
    (cd "$dir/deb" && apt-get download -q "$pkg" >&2) ||
      { echo "probe:qemu: apt-get download $pkg failed" >&2; return 2; }
    dpkg-deb -x "$dir"/deb/*.deb "$dir/root"
    rm -rf "$dir/deb"
    touch "$dir/.done"
  fi
  ls "$dir/root/lib/modules" | head -n1
}

# Copies an executable and the shared libraries it loads into the staging root.
stage_binary() {
  local root=$1 bin=$2 lib
  install -D -m 0755 "$bin" "$root/usr/bin/$(basename "$bin")"
  for lib in $(ldd "$bin" | awk '/=> \// {print $3} /^\t\/lib/ {print $1}'); do
    [[ -e $root$lib ]] || install -D -m 0755 "$(readlink -f "$lib")" "$root$lib"
  done
}

build_guest() {
  local cache=$1 pkg kver kroot stamp stage mod
  pkg=$(resolve_kernel_pkg) || return 2
  kver=$(fetch_kernel "$cache" "$pkg") || return 2
  kroot=$cache/kernel/$pkg/root
  GUEST_KVER=$kver
  GUEST_KERNEL=$kroot/boot/vmlinuz-$kver
  GUEST_INITRD=$cache/initramfs-$kver.cpio.gz
  # Rebuild when the guest's scripts change, not only when the kernel does.
  stamp=$(cat "$QEMU_RIG_DIR/guest-init.sh" "$QEMU_RIG_DIR/build-guest.sh" "$QEMU_RIG_DIR/statx_dax.c" | sha256sum | cut -c1-16)
  if [[ -e $GUEST_INITRD && $(cat "$GUEST_INITRD.stamp" 2>/dev/null) == "$stamp" ]]; then return 0; fi

  echo "probe:qemu: building the guest initramfs for $kver" >&2
  stage=$(mktemp -d "$cache/stage.XXXXXX")
  mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,run,tmp,mnt/dax,host,etc,lib/modules/"$kver"}
  install -m 0755 "$(command -v busybox)" "$stage/bin/busybox"
  stage_binary "$stage" "$(command -v ndctl)"
  stage_binary "$stage" "$(command -v mke2fs)"
  ln -s mke2fs "$stage/usr/bin/mkfs.ext4"
  [[ -e /etc/mke2fs.conf ]] && cp /etc/mke2fs.conf "$stage/etc/"
  cc -O2 -static -o "$stage/usr/bin/statx_dax" "$QEMU_RIG_DIR/statx_dax.c"
  install -m 0755 "$QEMU_RIG_DIR/guest-init.sh" "$stage/init"

  # modules.dep for the kernel tree, then the modules the job needs, in load order. The host's
  # modprobe.d is ignored (-C /dev/null): ndctl's install hook there is no business of ours.
  [[ -e $kroot/lib/modules/$kver/modules.dep ]] || depmod -b "$kroot" "$kver"
  : >"$stage/etc/modules.load"
  while read -r mod; do
    grep -qxF "$mod" "$stage/etc/modules.load" && continue
    echo "$mod" >>"$stage/etc/modules.load"
    install -D -m 0644 "$kroot/lib/modules/$kver/$mod" "$stage/lib/modules/$kver/$mod"
  done < <(modprobe -C /dev/null -d "$kroot" -S "$kver" --show-depends -a "${QEMU_RIG_MODULES[@]}" |
    awk '$1 == "insmod" {print $2}' | sed "s|^$kroot/lib/modules/$kver/||")
  cp "$kroot/lib/modules/$kver"/modules.{order,builtin,builtin.modinfo} "$stage/lib/modules/$kver/"
  depmod -b "$stage" "$kver"

  (cd "$stage" && find . | cpio -o -H newc --quiet | gzip -1) >"$GUEST_INITRD.tmp"
  mv "$GUEST_INITRD.tmp" "$GUEST_INITRD"
  echo "$stamp" >"$GUEST_INITRD.stamp"
  rm -rf "$stage"
}

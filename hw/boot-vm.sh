#!/usr/bin/env bash
# Boot it for real: a Debian 12 amd64 PC, as a KVM virtual machine with a virtual GPU, boots
# with systemd into the mirror, and is then crashed, hung, probed and powered off mid-photo.
#
#   sudo hw/boot-vm.sh             build (or reuse) the disk image, boot it, run every check
#   hw/boot-vm.sh --dry-run        print the plan and the cache state, change nothing
#   sudo hw/boot-vm.sh --keep      keep the guest's disk and logs (CACHE/vm-run/) after a pass
#   hw/boot-vm.sh --kvm-check      exit 0 if /dev/kvm answers, else print why and exit 3
#   sudo hw/boot-vm.sh --tcg       QEMU's emulation instead of KVM (debugging only: slower than
#                                  the limits the checks hold the mirror to)
#
# The image is Debian bookworm amd64 from Debian's packages (mmdebstrap: linux-image-amd64,
# systemd, udev, dbus, Python 3.11 and what the installer installs), with the project put in by
# the real hw/install.sh, run in a chroot of the image (its pip offline, from wheels downloaded
# on the host). The guest gets no network device. QEMU boots it with -enable-kvm and virtio-vga
# at 1920x1080 (a DRM device for SDL's kmsdrm); hw/boot_vm.py drives it through a serial line
# (a small agent in the guest runs one command per line) and QEMU's monitor (screendump), and
# prints one PASS/FAIL line per check with its time. Exit status: 1 if a check failed, 2 if the
# set-up failed (3: /dev/kvm is not usable, nothing was run).
#
# Needs root (mmdebstrap, chroot, mkfs), a usable /dev/kvm, apt (qemu-system-x86, mmdebstrap and
# e2fsprogs are installed if missing), python3 -m pip (the wheels) and the verified model in the
# host's cache (./mirror fetches it). Environment: EMULATE_PI_CACHE (/var/cache/smile-mirror-ci)
# keeps the base root, the wheels and the last image, each keyed by a hash of what it is made of;
# SMILE_MIRROR_CACHE: the host's model folder (default ~/.cache/smile-mirror).
set -euo pipefail

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${EMULATE_PI_CACHE:-/var/cache/smile-mirror-ci}"
HOST_MODELS="${SMILE_MIRROR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/smile-mirror}"

# The guest: a minimal Debian that boots (kernel, initramfs, systemd, udev; dbus and
# libpam-systemd for logind, as Raspberry Pi OS Lite has them), the tools the checks use
# (e2fsprogs for fsck, util-linux for nsenter, procps, iproute2), and the installer's own apt
# packages for a PC (hw/install.sh PC_APT_PACKAGES), so that its apt step finds them present.
readonly PACKAGES=(
    linux-image-amd64 initramfs-tools systemd systemd-sysv udev dbus libpam-systemd kmod
    e2fsprogs util-linux procps iproute2 passwd
    python3.11 python3-venv
    libegl1 libgles2 libgbm1 libdrm2 libgl1-mesa-dri ca-certificates
)
readonly IMAGE_FORMAT=1  # bump when the way the image is made changes
readonly SETUPTOOLS=requirements/setuptools.txt  # the locked build backend the installer builds SRC with
# Every manylinux tag the guest's glibc (2.36) accepts, newest first: pip does not widen a
# --platform to the older glibcs, and some locked wheels (ai-edge-litert) are tagged 2_27 only.
PY_PLATFORMS=()
for glibc in $(seq 36 -1 17); do PY_PLATFORMS+=(--platform "manylinux_2_${glibc}_x86_64"); done
PY_PLATFORMS+=(--platform manylinux2014_x86_64)
readonly PY_PLATFORMS
# shellcheck source=hw/lock-choice.sh
. "$SRC/hw/lock-choice.sh"
LOCK="$(smile_mirror_lock amd64 "" no)"  # the lock the installer picks on a PC, by the same rule
readonly LOCK
readonly GUEST_SRC=/root/smile-mirror
readonly GUEST_WHEELS=/var/cache/wheels
readonly GUEST_MODELS=/var/lib/smile-mirror/models

DRY_RUN=0
KEEP=0
ACCEL=kvm

usage() { sed -n '2,24s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }
say() { printf '==> %s\n' "$*"; }
die() { printf 'boot-vm: %s\n' "$*" >&2; exit 2; }
key_of() { printf '%s\n' "$@" | sha256sum | cut -c1-16; }

parse_args() {
    while [[ $# -gt 0 ]]; do
        case $1 in
            --dry-run | -n) DRY_RUN=1 ;;
            --keep) KEEP=1 ;;
            --tcg) ACCEL=tcg ;;
            --kvm-check)
                local why
                if why="$(kvm_usable 2>&1)"; then echo "/dev/kvm answers KVM_GET_API_VERSION (12)"; exit 0; fi
                printf '%s\n' "$why"
                exit 3
                ;;
            -h | --help) usage; exit 0 ;;
            *) usage >&2; die "unknown option: $1" ;;
        esac
        shift
    done
}

# The project as the guest gets it: every tracked and new file (what `git status` would add).
project_files() {
    if git -C "$SRC" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        git -C "$SRC" ls-files -z --cached --others --exclude-standard
    else
        (cd "$SRC" && find . -path ./.git -prune -o -path ./.venv -prune -o -type f -print0)
    fi
}

# What the image is made of: everything but the tests and this test's own driver (boot_vm.py
# runs on the host), so that changing a check does not rebuild the image.
project_hash() {
    project_files | grep -z -v -E '^(tests/|hw/boot_vm\.py$)' |
        (cd "$SRC" && xargs -0 sha256sum 2>/dev/null) | sha256sum | cut -c1-16
}

plan() {
    BASE_KEY="$(key_of "$IMAGE_FORMAT" "${PACKAGES[@]}")"
    WHEEL_KEY="$(key_of "$(cat "$SRC/$SETUPTOOLS")" "${PY_PLATFORMS[@]}" "$(cat "$SRC/$LOCK")")"
    IMAGE_KEY="$(key_of "$BASE_KEY" "$WHEEL_KEY" "$(project_hash)" "$(sha256sum "$HOST_MODELS/face_landmarker.task" 2>/dev/null | cut -c1-16)")"
    BASE="$CACHE/vm-base-$BASE_KEY.tar"
    WHEELS="$CACHE/vm-wheels-$WHEEL_KEY"
    IMAGE="$CACHE/vm-image-$IMAGE_KEY"
}

print_plan() {
    local state
    say "plan (dry run: nothing is changed)"
    state=missing; [[ -s $BASE ]] && state=cached
    printf 'base    %s (%s): Debian bookworm amd64: %s\n' "$BASE" "$state" "${PACKAGES[*]}"
    state=missing; [[ -e $WHEELS/.complete ]] && state=cached
    printf 'wheels  %s (%s): cp311 x86_64 wheels of %s, %s\n' "$WHEELS" "$state" "$LOCK" "$SETUPTOOLS"
    state=missing; [[ -e $IMAGE/.complete ]] && state=cached
    printf 'image   %s (%s): the base + hw/install.sh run in it (this tree), demo source, ext4\n' "$IMAGE" "$state"
    printf 'boot    qemu-system-x86_64 -enable-kvm -device virtio-vga (1920x1080), no network device\n'
    printf 'checks  %s\n' "$(python3 "$SRC/hw/boot_vm.py" --list | paste -sd, - | sed 's/,/, /g')"
}

# 0 if /dev/kvm answers KVM_GET_API_VERSION (12); prints why not otherwise.
kvm_usable() {
    python3 - <<'EOF'
import fcntl, os, sys
try:
    fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
except OSError as exc:
    sys.exit(f"/dev/kvm cannot be opened: {exc.strerror}")
try:
    version = fcntl.ioctl(fd, 0xAE00)  # KVM_GET_API_VERSION
except OSError as exc:
    sys.exit(f"/dev/kvm does not answer KVM_GET_API_VERSION: {exc.strerror}")
sys.exit(0 if version == 12 else f"/dev/kvm speaks API {version}, not 12")
EOF
}

need_tools() {
    [[ $EUID -eq 0 ]] || die "run as root (mmdebstrap, chroot and mkfs need it), or try --dry-run"
    local why
    if [[ $ACCEL == kvm ]] && ! why="$(kvm_usable 2>&1)"; then
        printf 'boot-vm: %s\n' "$why" >&2
        exit 3
    fi
    local missing=()
    command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
    command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
    command -v mkfs.ext4 >/dev/null || missing+=(e2fsprogs)
    command -v qemu-img >/dev/null || missing+=(qemu-utils)
    if [[ ${#missing[@]} -gt 0 ]]; then
        say "installing ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
    python3 -m pip --version >/dev/null 2>&1 || die "python3 -m pip is needed to download the wheels"
    [[ -s $HOST_MODELS/face_landmarker.task && -s $HOST_MODELS/astronaut.png && -s $HOST_MODELS/chelsea.png ]] ||
        die "no model in $HOST_MODELS: run ./mirror model fetch first (or set SMILE_MIRROR_CACHE)"
}

# The host's Debian sources (deb822 or one-line), for mmdebstrap: the guest's packages come from
# the same archive the host uses, and its /etc/apt keeps them for the installer's apt step.
host_sources() {
    local f
    for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
        if [[ -s $f ]] && grep -q -E '^(URIs:|deb )' "$f"; then
            printf '%s\n' "$f"
            return
        fi
    done
    die "no Debian sources in /etc/apt (sources.list or sources.list.d/debian.sources)"
}

build_base() {
    if [[ -s $BASE ]]; then
        say "base: cached ($BASE)"
        return
    fi
    say "base: building $BASE from Debian's amd64 packages"
    local names log="$CACHE/vm-base.log"
    names="$(IFS=,; printf '%s' "${PACKAGES[*]}")"
    if ! mmdebstrap --variant=minbase --include="$names" --aptopt='APT::Install-Recommends "false"' \
        bookworm "$BASE.tmp.tar" "$(host_sources)" >"$log" 2>&1; then
        tail -n 25 "$log" >&2
        rm -f "$BASE.tmp.tar"
        die "mmdebstrap failed (log: $log)"
    fi
    mv "$BASE.tmp.tar" "$BASE"
    say "base: $(du -sh "$BASE" | cut -f1)"
}

fetch_wheels() {
    if [[ -e $WHEELS/.complete ]]; then
        say "wheels: cached ($WHEELS)"
        return
    fi
    say "wheels: downloading cp311 x86_64 wheels of $LOCK"
    local tmp="$WHEELS.tmp" log="$CACHE/vm-wheels.log"
    rm -rf "$tmp"
    mkdir -p "$tmp"
    local pip=(python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all:
        "${PY_PLATFORMS[@]}" --python-version 3.11 --implementation cp -d "$tmp")
    if ! { "${pip[@]}" -r "$SRC/$LOCK" && "${pip[@]}" -r "$SRC/$SETUPTOOLS"; } >"$log" 2>&1; then
        tail -n 25 "$log" >&2
        die "pip download failed (log: $log)"
    fi
    touch "$tmp/.complete"
    mv "$tmp" "$WHEELS"
}

# chroot ROOT COMMAND...: run COMMAND in ROOT with /proc, /sys, /dev and the wheels mounted, in a
# private mount namespace (every mount ends with it). The host's network is the chroot's: the
# installer's apt-get update reaches the archive; pip is told to stay offline.
in_root() {
    local root="$1"
    shift
    # shellcheck disable=SC2016  # expanded by the inner shell
    unshare --mount --propagation private --pid --fork --kill-child -- "$BASH" -c '
        set -e
        r=$1 wheels=$2 guest_wheels=$3
        shift 3
        mount -t proc proc "$r/proc"
        mount --bind /sys "$r/sys" && mount -o remount,bind,ro "$r/sys"
        mount --bind /dev "$r/dev"
        mount -t devpts devpts "$r/dev/pts" -o newinstance,ptmxmode=0666 2>/dev/null || true
        mount -t tmpfs tmpfs "$r/run"
        mkdir -p "$r$guest_wheels"
        mount --bind "$wheels" "$r$guest_wheels" && mount -o remount,bind,ro "$r$guest_wheels"
        cp -L /etc/resolv.conf "$r/etc/resolv.conf" 2>/dev/null || true
        status=0
        env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin HOME=/root LANG=C.UTF-8 \
            PIP_NO_INDEX=1 PIP_FIND_LINKS="$guest_wheels" PIP_NO_CACHE_DIR=1 \
            chroot "$r" "$@" || status=$?
        exit "$status"
    ' boot-vm "$root" "$WHEELS" "$GUEST_WHEELS" "$@"
}

# What only the test adds to the installed system: a serial agent, a root file system entry,
# the demo as the camera, and Mesa's non-JIT software rasteriser (see below).
configure_guest() {
    local r="$1"
    printf 'smile-vm\n' >"$r/etc/hostname"
    printf '/dev/vda / ext4 errors=remount-ro 0 1\n' >"$r/etc/fstab"
    # The test's agent on the second serial port: one base64-encoded command per line, its output
    # between markers. It is the only way in: the guest has no network.
    install -m 0755 /dev/stdin "$r/usr/local/sbin/vm-agent" <<'EOF'
#!/bin/bash
# Test agent (hw/boot-vm.sh): runs each line from ttyS1 as "ID BASE64-COMMAND", answers
# "@@BEGIN ID", the output, "@@END ID STATUS".
stty -F /dev/ttyS1 raw -echo 115200
exec </dev/ttyS1 >/dev/ttyS1 2>&1
printf '@@AGENT up\n'
while IFS= read -r line; do
    id=${line%% *}
    cmd=$(printf '%s' "${line#* }" | base64 -d 2>/dev/null) || cmd="echo bad command; false"
    out=$(timeout 300 bash -c "$cmd" 2>&1 </dev/null)
    rc=$?
    printf '@@BEGIN %s\n%s\n@@END %s %d\n' "$id" "$out" "$id" "$rc"
done
EOF
    cat >"$r/etc/systemd/system/vm-agent.service" <<'EOF'
# Test agent of hw/boot-vm.sh on ttyS1 (not part of Smile Mirror).
[Unit]
Description=boot-vm test agent on ttyS1
DefaultDependencies=no
After=systemd-udevd.service dev-ttyS1.device
Wants=dev-ttyS1.device

[Service]
ExecStart=/usr/local/sbin/vm-agent
Restart=always
RestartSec=1

[Install]
WantedBy=sysinit.target
EOF
    ln -sf /etc/systemd/system/vm-agent.service "$r/etc/systemd/system/sysinit.target.wants/vm-agent.service"
    # The guest has no camera: the built-in demo plays it (a webcam PC would say "webcam").
    sed -i '/^\[source\]$/,/^\[/ s|^spec = .*$|spec = "demo"|' "$r/etc/smile-mirror/config.toml"
    grep -qx 'spec = "demo"' "$r/etc/smile-mirror/config.toml" || die "could not set the demo source"
    # virtio-vga has no 3D (no virgl without a host GPU), so Mesa would fall back to llvmpipe,
    # which JIT-compiles and so cannot run under the unit's MemoryDenyWriteExecute=yes. softpipe
    # renders the same without generating code: the unit's hardening stays as shipped.
    mkdir -p "$r/etc/systemd/system/smile-mirror.service.d"
    cat >"$r/etc/systemd/system/smile-mirror.service.d/vm.conf" <<'EOF'
# hw/boot-vm.sh: a virtual GPU without 3D; Mesa's non-JIT software rasteriser.
[Service]
Environment=GALLIUM_DRIVER=softpipe
EOF
    # No login prompt needed anywhere; the root password stays locked.
    systemctl --root="$r" mask getty@tty2.service serial-getty@ttyS0.service serial-getty@ttyS1.service >/dev/null 2>&1 || true
}

build_image() {
    if [[ -e $IMAGE/.complete ]]; then
        say "image: cached ($IMAGE)"
        return
    fi
    say "image: installing this tree into the base with hw/install.sh"
    local work="$CACHE/vm-work" tmp="$IMAGE.tmp" log="$CACHE/vm-install.log"
    rm -rf "$work" "$tmp"
    mkdir -p "$work" "$tmp"
    tar -xf "$BASE" -C "$work"
    mkdir -p "$work$GUEST_SRC" "$work$GUEST_MODELS"
    project_files | (cd "$SRC" && tar --null --ignore-failed-read -T - -cf - 2>/dev/null) | tar -xf - -C "$work$GUEST_SRC"
    # The guest downloads nothing: the host's model (checked again by the installer's `model
    # verify`), the demo face, and a picture without a face (the photo booth check re-arms on it).
    cp "$HOST_MODELS/face_landmarker.task" "$HOST_MODELS/astronaut.png" "$HOST_MODELS/chelsea.png" "$work$GUEST_MODELS/"
    local t0=$SECONDS
    if ! in_root "$work" /bin/bash "$GUEST_SRC/hw/install.sh" >"$log" 2>&1; then
        tail -n 30 "$log" >&2
        die "hw/install.sh failed in the image (log: $log)"
    fi
    say "image: hw/install.sh done in $((SECONDS - t0))s (log: $log)"
    configure_guest "$work"
    rm -rf "${work:?}$GUEST_SRC/.git" "$work/var/cache/apt/archives/"*.deb "$work/var/lib/apt/lists/"*_Packages
    local kernel initrd
    kernel="$(find "$work/boot" -name 'vmlinuz-*' | sort | tail -n1)"
    initrd="$(find "$work/boot" -name 'initrd.img-*' | sort | tail -n1)"
    [[ -n $kernel && -n $initrd ]] || die "no kernel or initramfs in the image's /boot"
    cp "$kernel" "$tmp/vmlinuz"
    cp "$initrd" "$tmp/initrd.img"
    local mb
    mb=$(( $(du -sm "$work" | cut -f1) + 1024 ))
    mkfs.ext4 -q -F -L smile-root -d "$work" "$tmp/disk.raw" "${mb}M" || die "mkfs.ext4 -d failed"
    rm -rf "$work"
    touch "$tmp/.complete"
    rm -rf "$IMAGE"
    mv "$tmp" "$IMAGE"
    say "image: $(du -sh --apparent-size "$IMAGE/disk.raw" | cut -f1) ext4 ($(du -sh "$IMAGE/disk.raw" | cut -f1) used)"
}

# /dev/kvm can answer its ioctls and still not run a stock kernel: a KVM that is itself nested
# in a VM without hardware virtualisation (the kvm_pvm module, "Pagetable-based Virtual
# Machine") runs only guests built for it, and Debian's kernel spins in its decompressor. So the
# image's own kernel must print its banner on the serial line under KVM within PROBE_S seconds
# (it takes well under one on a working KVM); otherwise the boot is skipped with the reason.
PROBE_S=20
kvm_boots_linux() {
    local log="$CACHE/vm-probe.log" pid i
    : >"$log"
    qemu-system-x86_64 -enable-kvm -cpu host -m 256 -nodefaults -no-user-config -display none \
        -nic none -kernel "$IMAGE/vmlinuz" -append "console=ttyS0 panic=-1" -no-reboot \
        -serial "file:$log" >"$log.qemu" 2>&1 &
    pid=$!
    for ((i = 0; i < PROBE_S * 10; i++)); do
        if grep -q 'Linux version' "$log" 2>/dev/null; then
            kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
    local why="no kernel banner on the serial line within ${PROBE_S}s"
    [[ -s $log.qemu ]] && why="QEMU said: $(head -c 200 "$log.qemu" | tr '\n' ' ')"
    [[ -d /sys/module/kvm_pvm ]] && why+="; this KVM is kvm_pvm (nested without hardware virtualisation), which runs only PVM-enabled guest kernels"
    printf 'KVM cannot boot Debian'"'"'s kernel here: %s\n' "$why"
    return 1
}

# Older images, bases and wheel folders (other keys) go, so that the cache does not grow.
prune_cache() {
    local d
    for d in "$CACHE"/vm-base-* "$CACHE"/vm-wheels-* "$CACHE"/vm-image-*; do
        [[ -e $d && $d != "$BASE" && $d != "$WHEELS" && $d != "$IMAGE" ]] || continue
        rm -rf "$d"
    done
}

main() {
    parse_args "$@"
    if [[ $DRY_RUN -eq 1 ]]; then
        plan
        print_plan
        return 0
    fi
    need_tools
    plan
    mkdir -p "$CACHE"
    exec 9>"$CACHE/.vm-lock"
    flock -w 3600 9 || die "another boot-vm.sh holds $CACHE/.vm-lock"
    local start=$SECONDS
    build_base
    fetch_wheels
    build_image
    prune_cache
    if [[ $ACCEL == kvm ]]; then
        local why
        if ! why="$(kvm_boots_linux)"; then
            printf 'boot-vm: %s\n' "$why" >&2
            exit 3
        fi
    fi
    say "set-up done in $((SECONDS - start))s; booting"
    local run="$CACHE/vm-run" status=0
    rm -rf "$run"
    mkdir -p "$run"
    python3 "$SRC/hw/boot_vm.py" --accel "$ACCEL" --image "$IMAGE" --run "$run" || status=$?
    printf 'boot-vm: whole run %ss (set-up %s)\n' $((SECONDS - start)) "$IMAGE"
    if [[ $status -eq 0 && $KEEP -eq 0 ]]; then
        rm -rf "$run"
    fi
    return "$status"
}

main "$@"

#!/usr/bin/env bash
# The Raspberry Pi install path, emulated: QEMU user-mode emulation of a Pi 4 (-cpu cortex-a72)
# and a Pi 5 (-cpu cortex-a76) in an arm64 Debian Bookworm root built from Debian's packages.
# In each, the real hw/install.sh (--dry-run, inside the guest) picks the lock from the Pi's
# /proc/cpuinfo, its Python steps are run (venv, pip install --no-deps of the lock and of the
# program, model provisioning and verification, default config), and the installed program
# scores a real face. Both Pis install the one lock (LiteRT, plus mediapipe 1.x); on the Pi 4 CPU
# mediapipe's native library must die (SIGILL) and the program must refuse that backend with a sentence.
# Prints a PASS/FAIL table; the exit status is 1 if a check failed, 2 if the set-up failed.
#
#   sudo hw/emulate-pi.sh                     both Pis (CI runs this from .ci/run)
#   sudo hw/emulate-pi.sh --cpu cortex-a76    one of them: cortex-a72 (Pi 4) or cortex-a76 (Pi 5)
#   hw/emulate-pi.sh --dry-run                print the plan and the cache state, change nothing
#   sudo hw/emulate-pi.sh --keep              keep the guest roots (CACHE/work/) after a pass
#
# Needs root (chroot, mounts, binfmt_misc), apt (qemu-user-static is installed if missing),
# python3 -m pip (the arm64 wheels are downloaded on the host), and the verified model in the
# host's cache (./mirror fetches it). Environment: EMULATE_PI_CACHE (/var/cache/smile-mirror-ci)
# keeps the root and the wheels between runs, keyed by a hash of the package list and the locks;
# SMILE_MIRROR_CACHE: the host's model folder (default ~/.cache/smile-mirror).
set -euo pipefail

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${EMULATE_PI_CACHE:-/var/cache/smile-mirror-ci}"
HOST_MODELS="${SMILE_MIRROR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/smile-mirror}"

# Debian arm64 packages of the root: the installer's APT_PACKAGES that Debian has
# (python3-picamera2 is only in Raspberry Pi's archive; ca-certificates only serves downloads,
# and the guest downloads nothing), plus what the steps run with. apt adds the dependencies.
readonly PACKAGES=(
    python3.11 python3-venv  # the interpreter; the venv gets pip through ensurepip
    libegl1 libgles2         # libmediapipe.so links libEGL.so.1 and libGLESv2.so.2
    libgbm1 libdrm2          # as the installer installs them (pygame's kmsdrm)
    libstdc++6               # the mediapipe, opencv and matplotlib extensions
    bash coreutils dash grep sed libc-bin  # the installer and its commands
)
readonly ROOT_FORMAT=1  # bump when the way the root is built changes
readonly SETUPTOOLS=requirements/setuptools.txt  # the locked build backend the installer builds SRC with
readonly PY_PLATFORMS=(--platform manylinux_2_28_aarch64 --platform manylinux_2_27_aarch64 --platform manylinux2014_aarch64)

# The claim under test (hw/README.md, "Which mediapipe each Pi gets"): CPU -> board, lock.
readonly CPUS=(cortex-a72 cortex-a76)
declare -A BOARD=([cortex-a72]="Pi 4" [cortex-a76]="Pi 5")
declare -A EXPECT_LOCK=(
    [cortex-a72]=requirements/mediapipe-1-numpy1.txt
    [cortex-a76]=requirements/mediapipe-1-numpy1.txt
)
# /proc/cpuinfo Features as the boards report them (Raspberry Pi OS Bookworm, 64-bit).
declare -A FEATURES=(
    [cortex-a72]="fp asimd evtstrm crc32 cpuid"
    [cortex-a76]="fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp"
)
declare -A CPU_ID=([cortex-a72]="0x0 0xd08 3" [cortex-a76]="0x4 0xd0b 1")
declare -A BOARD_ID=([cortex-a72]="c03114 Raspberry Pi 4 Model B Rev 1.4"
    [cortex-a76]="d04170 Raspberry Pi 5 Model B Rev 1.0")

readonly GUEST_SRC=/root/smile-mirror          # where the technician cloned the repository
readonly GUEST_MODELS=/var/lib/smile-mirror/models
readonly GUEST_VENV=/opt/smile-mirror/venv
readonly GUEST_WHEELS=/var/cache/wheels        # the host's wheel folder, read-only
readonly SCORE_MIN=50

DRY_RUN=0
KEEP=0
SELECTED=("${CPUS[@]}")

usage() { sed -n '2,19s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }
say() { printf '==> %s\n' "$*"; }
die() { printf 'emulate-pi: %s\n' "$*" >&2; exit 2; }
key_of() { printf '%s\n' "$@" | sha256sum | cut -c1-16; }

parse_args() {
    while [[ $# -gt 0 ]]; do
        case $1 in
            --dry-run | -n) DRY_RUN=1 ;;
            --keep) KEEP=1 ;;
            --cpu)
                [[ -n ${BOARD[${2:-}]:-} ]] || die "--cpu takes one of: ${CPUS[*]}"
                SELECTED=("$2")
                shift
                ;;
            -h | --help) usage; exit 0 ;;
            *) usage >&2; die "unknown option: $1" ;;
        esac
        shift
    done
}

# Every lock the installer can choose for the emulated CPUs (by the rule it sources, with the
# picamera2 it installs), so one wheel folder serves both Pis.
installer_locks() {
    local cpu
    # shellcheck source=hw/lock-choice.sh
    . "$SRC/hw/lock-choice.sh"
    for cpu in "${CPUS[@]}"; do
        smile_mirror_lock arm64 "${FEATURES[$cpu]}" yes
    done | sort -u
}

plan() {
    local locks
    mapfile -t locks < <(installer_locks)
    ROOT_KEY="$(key_of "$ROOT_FORMAT" "${PACKAGES[@]}")"
    WHEEL_KEY="$(key_of "$(cat "$SRC/$SETUPTOOLS")" "${PY_PLATFORMS[@]}" "${locks[@]}" \
        "$(cd "$SRC" && cat "${locks[@]}")")"
    BASE="$CACHE/root-$ROOT_KEY"
    WHEELS="$CACHE/wheels-$WHEEL_KEY"
    LOCKS=("${locks[@]}")
}

print_plan() {
    local cpu state
    say "plan (dry run: nothing is changed)"
    state=missing; [[ -e $BASE/.complete ]] && state=cached
    printf 'root    %s (%s): Debian bookworm arm64: %s and their dependencies\n' "$BASE" "$state" "${PACKAGES[*]}"
    state=missing; [[ -e $WHEELS/.complete ]] && state=cached
    printf 'wheels  %s (%s): cp311 aarch64 wheels of %s, %s\n' "$WHEELS" "$state" "${LOCKS[*]}" "$SETUPTOOLS"
    printf 'model   %s/face_landmarker.task and astronaut.png, copied into %s\n' "$HOST_MODELS" "$GUEST_MODELS"
    for cpu in "${SELECTED[@]}"; do
        printf 'cpu     %s (%s): Features: %s; expected lock %s\n' "$cpu" "${BOARD[$cpu]}" \
            "${FEATURES[$cpu]}" "${EXPECT_LOCK[$cpu]}"
    done
    printf 'steps   hw/install.sh --dry-run in the guest, then its "program", "model" and\n'
    printf '        "configuration" commands in the guest; %s score astronaut.png (score >= %s)\n' \
        "$GUEST_VENV/bin/smile-mirror" "$SCORE_MIN"
    if [[ " ${SELECTED[*]} " == *" cortex-a72 "* ]]; then
        printf 'sigill  on the Pi 4: libmediapipe.so must die with SIGILL, and the mediapipe backend\n'
        printf '        must be refused with a sentence (exit 2), never reached\n'
    fi
}

need_tools() {
    [[ $EUID -eq 0 ]] || die "run as root (chroot, mounts and binfmt_misc need it), or try --dry-run"
    command -v unshare >/dev/null || die "unshare (util-linux) is missing"
    if ! command -v qemu-aarch64-static >/dev/null; then
        say "installing qemu-user-static"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends qemu-user-static >/dev/null
    fi
    python3 -m pip --version >/dev/null 2>&1 || die "python3 -m pip is needed to download the arm64 wheels"
    [[ -s $HOST_MODELS/face_landmarker.task && -s $HOST_MODELS/astronaut.png ]] ||
        die "no model in $HOST_MODELS: run ./mirror model fetch first (or set SMILE_MIRROR_CACHE)"
}

# Register qemu-aarch64 with binfmt_misc so that arm64 programs (and the ones they start) run.
# With the F flag the kernel opens the interpreter now, so it needs no copy inside the root.
BINFMT=/proc/sys/fs/binfmt_misc
INTERP=""
INTERP_IN_ROOT=0
setup_binfmt() {
    if [[ ! -e $BINFMT/register ]]; then
        mount -t binfmt_misc binfmt_misc "$BINFMT" || die "cannot mount binfmt_misc"
    fi
    if [[ ! -e $BINFMT/qemu-aarch64 ]]; then
        local conf=/usr/lib/binfmt.d/qemu-aarch64.conf line
        if [[ -r $conf ]]; then
            line="$(grep -m1 '^:qemu-aarch64:' "$conf")"
        else
            line=':qemu-aarch64:M::\x7f\x45\x4c\x46\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00:\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:/usr/bin/qemu-aarch64-static:F'
        fi
        printf '%s' "$line" >"$BINFMT/register" || die "cannot register qemu-aarch64 with binfmt_misc"
    fi
    [[ $(head -n1 "$BINFMT/qemu-aarch64") == enabled ]] || die "binfmt_misc: qemu-aarch64 is disabled"
    INTERP="$(sed -n 's/^interpreter //p' "$BINFMT/qemu-aarch64")"
    grep -q '^flags:.*F' "$BINFMT/qemu-aarch64" || INTERP_IN_ROOT=1
}

# A root that lacks the interpreter (binfmt registered without F) gets a copy at its path.
interp_into() {
    if [[ $INTERP_IN_ROOT -eq 1 ]]; then
        install -D -m 0755 "$(readlink -f "$INTERP")" "$1$INTERP"
    fi
}

APT_DIR=""
apt_arm64() { APT_CONFIG="$APT_DIR/apt.conf" "$@"; }

# arm64 package lists of the host's Debian sources, in the cache: the host's dpkg is left as it is.
setup_apt() {
    APT_DIR="$CACHE/apt"
    mkdir -p "$APT_DIR/lists/partial" "$APT_DIR/archives/partial"
    : >"$APT_DIR/status"
    cat >"$APT_DIR/apt.conf" <<EOF
APT::Architecture "arm64";
APT::Architectures { "arm64"; };
APT::Install-Recommends "false";
APT::Sandbox::User "root";
Acquire::Languages "none";
Dir::State::Lists "$APT_DIR/lists";
Dir::State::status "$APT_DIR/status";
Dir::Cache "$APT_DIR";
Dir::Cache::archives "$APT_DIR/archives";
EOF
    apt_arm64 apt-get update -qq || die "apt-get update (arm64 lists) failed"
}

build_root() {
    if [[ -e $BASE/.complete ]]; then
        say "root: cached ($BASE)"
        return
    fi
    say "root: building $BASE from Debian's arm64 packages"
    setup_apt
    local tmp="$BASE.tmp" names
    rm -rf "$tmp"
    mkdir -p "$tmp/debs" "$tmp/root"
    mapfile -t names < <(apt_arm64 apt-cache depends --recurse --no-recommends --no-suggests \
        --no-conflicts --no-breaks --no-replaces --no-enhances "${PACKAGES[@]}" |
        grep -v -e '^ ' -e '<' | sort -u)
    [[ ${#names[@]} -gt ${#PACKAGES[@]} ]] || die "apt found no dependencies for: ${PACKAGES[*]}"
    (cd "$tmp/debs" && apt_arm64 apt-get download -qq "${names[@]}") || die "apt-get download failed"
    local deb
    for deb in "$tmp"/debs/*.deb; do
        dpkg-deb -x "$deb" "$tmp/root"
    done
    (cd "$tmp/debs" && ls) >"$tmp/root/.debs"
    rm -rf "$tmp/debs"
    interp_into "$tmp/root"
    chroot "$tmp/root" /sbin/ldconfig  # what libc-bin's trigger would do
    touch "$tmp/root/.complete"
    mv "$tmp/root" "$BASE"
    rmdir "$tmp"
    say "root: ${#names[@]} packages, $(du -sh "$BASE" | cut -f1)"
}

fetch_wheels() {
    if [[ -e $WHEELS/.complete ]]; then
        say "wheels: cached ($WHEELS)"
        return
    fi
    say "wheels: downloading cp311 aarch64 wheels of ${LOCKS[*]}"
    local tmp="$WHEELS.tmp" lock
    rm -rf "$tmp"
    mkdir -p "$tmp"
    local pip=(python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all:
        "${PY_PLATFORMS[@]}" --python-version 3.11 --implementation cp -d "$tmp")
    # One call per lock: the locks pin different versions of the same packages.
    local log="$CACHE/wheels.log"
    : >"$log"
    for lock in "${LOCKS[@]}"; do
        "${pip[@]}" -r "$SRC/$lock" >>"$log" 2>&1 || { show_failure "$log"; die "pip download -r $lock failed"; }
    done
    "${pip[@]}" -r "$SRC/$SETUPTOOLS" >>"$log" 2>&1 || { show_failure "$log"; die "pip download -r $SETUPTOOLS failed"; }
    touch "$tmp/.complete"
    mv "$tmp" "$WHEELS"
    say "wheels: $(find "$WHEELS" -name '*.whl' | wc -l) files, $(du -sh "$WHEELS" | cut -f1)"
}

# Older roots and wheel folders (other keys) go, so that the cache does not grow.
prune_cache() {
    local d
    for d in "$CACHE"/root-* "$CACHE"/wheels-*; do
        [[ -e $d && $d != "$BASE" && $d != "$WHEELS" ]] || continue
        rm -rf "$d"
    done
}

write_cpuinfo() {
    local cpu="$1" out="$2" n variant part rev revision model
    read -r variant part rev <<<"${CPU_ID[$cpu]}"
    read -r revision model <<<"${BOARD_ID[$cpu]}"
    : >"$out"
    for n in 0 1 2 3; do
        printf 'processor\t: %s\nBogoMIPS\t: 108.00\nFeatures\t: %s\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: %s\nCPU part\t: %s\nCPU revision\t: %s\n\n' \
            "$n" "${FEATURES[$cpu]}" "$variant" "$part" "$rev" >>"$out"
    done
    printf 'Revision\t: %s\nSerial\t\t: 10000000emulated\nModel\t\t: %s\n' "$revision" "$model" >>"$out"
}

# guest ROOT CPU CPUINFO COMMAND...: run COMMAND in ROOT under QEMU as CPU, with CPUINFO as its
# /proc/cpuinfo, in private mount and PID namespaces (every mount and process ends with it).
# `-L ROOT` would serve ROOT/proc/cpuinfo too, but writes outside the root and cannot run the
# programs pip starts; chroot + binfmt_misc can.
# GUEST_TIMEOUT (seconds) bounds it; the whole PID namespace dies with it.
GUEST_TIMEOUT=1200
guest() {
    local root="$1" cpu="$2" info="$3"
    shift 3
    # shellcheck disable=SC2016  # expanded by the inner shell
    timeout --kill-after=10 "$GUEST_TIMEOUT" unshare --mount --propagation private --pid --fork --kill-child -- "$BASH" -c '
        set -e
        r=$1 info=$2 wheels=$3 cpu=$4 guest_wheels=$5
        shift 5
        mount -t proc proc "$r/proc"
        mount --bind "$info" "$r/proc/cpuinfo"
        mount --bind /sys "$r/sys" && mount -o remount,bind,ro "$r/sys"
        mount --bind /dev "$r/dev"
        mount --bind "$wheels" "$r$guest_wheels" && mount -o remount,bind,ro "$r$guest_wheels"
        # Not exec: PID 1 of a namespace ignores the signals it sends itself, so a guest that
        # dies of SIGILL (qemu re-raises it) would hang as PID 1. This shell is PID 1 instead.
        status=0
        env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin HOME=/root LANG=C.UTF-8 \
            QEMU_CPU="$cpu" PIP_NO_INDEX=1 PIP_FIND_LINKS="$guest_wheels" PIP_NO_CACHE_DIR=1 \
            chroot "$r" "$@" || status=$?
        exit "$status"
    ' emulate-pi "$root" "$info" "$WHEELS" "$cpu" "$GUEST_WHEELS" "$@"
}

# A fresh guest root for CPU: the cached root, the repository, and the host's model files.
prepare() {
    local cpu="$1" root="$2"
    rm -rf "$root"
    mkdir -p "$(dirname "$root")"
    cp -a --reflink=auto "$BASE" "$root"
    interp_into "$root"
    mkdir -p "$root$GUEST_SRC" "$root$GUEST_WHEELS" "$root$GUEST_MODELS"
    if git -C "$SRC" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        git -C "$SRC" ls-files -z --cached --others --exclude-standard |
            (cd "$SRC" && tar --null --ignore-failed-read -T - -cf - 2>/dev/null) | tar -xf - -C "$root$GUEST_SRC"
    else
        tar -C "$SRC" --exclude=.git --exclude=.venv --exclude=build --exclude='*.egg-info' -cf - . |
            tar -xf - -C "$root$GUEST_SRC"
    fi
    # The guest downloads nothing: the model and the demo face are the host's, and the
    # guest's own `smile-mirror model fetch` / `verify` check their SHA-256.
    cp "$HOST_MODELS/face_landmarker.task" "$HOST_MODELS/astronaut.png" "$root$GUEST_MODELS/"
}

# ---- results -----------------------------------------------------------------------------------

RESULTS=()
FAILED=0
record() {  # record CPU CHECK PASS|FAIL SECONDS DETAIL
    RESULTS+=("$(printf '%-5s %-11s %-19s %-6s %5s  %s' "${BOARD[$1]}" "$1" "$2" "$3" "$4" "$5")")
    [[ $3 == PASS ]] || FAILED=1
}

show_failure() {  # show_failure LOG: the end of a failed step's output, for CI's log
    printf -- '--- last lines of %s\n' "$1" >&2
    tail -n 25 "$1" >&2 || true
}

# ---- one Pi --------------------------------------------------------------------------------------

emulate() {
    local cpu="$1"
    local root="$CACHE/work/$cpu" logs="$LOGS/$cpu" info
    mkdir -p "$logs"
    info="$logs/cpuinfo"
    write_cpuinfo "$cpu" "$info"
    say "${BOARD[$cpu]} ($cpu): preparing $root"
    prepare "$cpu" "$root"

    # 1. The installer itself decides, from the guest's /proc/cpuinfo, which lock to use.
    local t0=$SECONDS lock steps=0 failed_step="" line cmd version="" verify_out="" verify_s="-"
    say "${BOARD[$cpu]} ($cpu): hw/install.sh --dry-run in the guest"
    if ! guest "$root" "$cpu" "$info" /bin/bash "$GUEST_SRC/hw/install.sh" --dry-run >"$logs/install-dry-run.txt" 2>&1; then
        failed_step="hw/install.sh --dry-run"
        show_failure "$logs/install-dry-run.txt"
    fi
    lock="$(sed -n 's/^# lock: //p' "$logs/install-dry-run.txt")"

    # 2. Its Python steps, as it prints them: the sections "program in", "model in" and
    #    "configuration". Other sections are system steps (apt, user, units) or optional
    #    ("model variants": the installer goes on without them; timing variants means nothing
    #    under emulation, and quantising there would take longer than CI has).
    local commands=() skipped
    mapfile -t commands < <(awk '/^==> /{on = /^==> (program in|model in|configuration) /} on && /^\+ /' \
        "$logs/install-dry-run.txt" | sed 's/^+ //')
    skipped="$(sed -n 's/^==> //p' "$logs/install-dry-run.txt" |
        grep -v -E '^(program in|model in|configuration|CPU check|dry run|done|the mirror)[ :]' |
        sed -E 's/ *[:(].*//' | paste -sd, -)"
    if [[ -z $failed_step && $lock != "${EXPECT_LOCK[$cpu]}" ]]; then
        failed_step="installer chose '${lock:-no lock}', expected ${EXPECT_LOCK[$cpu]}"
    elif [[ -z $failed_step && ${#commands[@]} -lt 5 ]]; then
        failed_step="found only ${#commands[@]} install commands in the installer's dry run"
    fi
    for line in "${commands[@]}"; do
        [[ -z $failed_step ]] || break
        cmd="$line"
        case $cmd in
            chown\ *)  # the service user is made by useradd, a system step
                printf '# skipped (no service user in the emulated root): %s\n' "$cmd" >>"$logs/steps.txt"
                continue ;;
            *"import numpy"*)  # picamera2 and simplejpeg come from Raspberry Pi's archive only
                cmd="${cmd//simplejpeg, picamera2, /}"
                cmd="${cmd//, \"picamera2 ok\"/}"
                [[ $cmd != *picamera2* ]] || { failed_step="cannot adapt the import check: $line"; break; } ;;
        esac
        printf '+ %s\n' "$cmd" >>"$logs/steps.txt"
        local s0=$SECONDS out="$logs/step-$steps.txt"
        if ! guest "$root" "$cpu" "$info" /bin/bash -c "set -o pipefail; $cmd" >"$out" 2>&1; then
            failed_step="$cmd"
            show_failure "$out"
        fi
        cat "$out" >>"$logs/steps.txt"
        printf '# %ss\n' $((SECONDS - s0)) >>"$logs/steps.txt"
        case $cmd in
            *"import numpy"*) version="$(grep -o 'mediapipe [^ ]*' "$out" | cut -d' ' -f2 | head -n1)" ;;
            *" model verify "*) verify_out="$(tail -n1 "$out")"; verify_s=$((SECONDS - s0)) ;;
        esac
        steps=$((steps + 1))
    done
    if [[ -z $failed_step ]]; then
        record "$cpu" "install steps" PASS $((SECONDS - t0)) "installer chose $lock; $steps steps ran; not emulated: ${skipped:-none}"
    else
        record "$cpu" "install steps" FAIL $((SECONDS - t0)) "failed: ${failed_step:0:140} (log: $logs)"
    fi

    if [[ $verify_out == OK\ * ]]; then
        record "$cpu" "model verified" PASS "$verify_s" "${verify_out:0:90}…"
    else
        record "$cpu" "model verified" FAIL "$verify_s" "${verify_out:-not run}"
    fi

    # 3. The installed program scores a real face, with the config the installer wrote and the
    #    model folder the unit uses (SMILE_MIRROR_CACHE).
    t0=$SECONDS
    local verdict
    if [[ -n $failed_step ]]; then
        record "$cpu" "astronaut scored" FAIL - "not run (install failed)"
    elif guest "$root" "$cpu" "$info" /usr/bin/env SMILE_MIRROR_CACHE="$GUEST_MODELS" \
        "$GUEST_VENV/bin/smile-mirror" score "$GUEST_MODELS/astronaut.png" >"$logs/score.json" 2>"$logs/score.log"; then
        verdict="$(python3 -c '
import json, sys
r = json.loads(open(sys.argv[1]).read().splitlines()[-1])
ok = r.get("face") is True and (r.get("score") or 0) >= float(sys.argv[2])
print(("PASS" if ok else "FAIL") + " face %s, score %s (>= %s), %s" % (
    str(r.get("face")).lower(), r.get("score"), sys.argv[2], r.get("kind")))
' "$logs/score.json" "$SCORE_MIN" 2>&1)" || verdict="FAIL unreadable output: $(tail -c 200 "$logs/score.json")"
        record "$cpu" "astronaut scored" "${verdict%% *}" $((SECONDS - t0)) "${verdict#* }"
    else
        record "$cpu" "astronaut scored" FAIL $((SECONDS - t0)) "exit $?: $(tail -n1 "$logs/score.log")"
        show_failure "$logs/score.log"
    fi

    # 4. The same face as on this x86 host: landmarks (normalised) within 1e-3, score and eye
    #    engagement within half a point (float kernels differ between NEON and AVX).
    if [[ -z $failed_step && -n $HOST_FACE ]]; then
        local face parity
        face="$(guest "$root" "$cpu" "$info" "$GUEST_VENV/bin/python" -c "$FACE_PY" \
            "$GUEST_MODELS/face_landmarker.task" "$GUEST_MODELS/astronaut.png" 2>"$logs/face.log" | tail -n1)" || face=""
        parity="$(python3 -c '
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
lm = max(abs(x - y) for x, y in zip(a["landmarks"], b["landmarks"]))
pts = max(abs(a[k] - b[k]) for k in ("score", "eye"))
ok = a["backend"] == b["backend"] and len(a["landmarks"]) == len(b["landmarks"]) and lm <= 1e-3 and pts <= 0.5
print(("PASS" if ok else "FAIL") + " %s: landmarks within %.1e of x86 (limit 1e-3), score %.2f / eye %.2f against %.2f / %.2f (limit 0.5)" % (
    a["backend"], lm, a["score"], a["eye"], b["score"], b["eye"]))
' "$face" "$HOST_FACE" 2>&1)" || parity="FAIL no face from the guest: $(tail -n1 "$logs/face.log")"
        record "$cpu" "x86 parity" "${parity%% *}" - "${parity#* }"
    fi

    local want
    want="$(sed -n 's/^mediapipe==\([^ \\]*\).*/\1/p' "$SRC/${EXPECT_LOCK[$cpu]}")"
    if [[ -n $version && $version == "$want" ]]; then
        record "$cpu" "mediapipe version" PASS - "$version (the lock pins $want)"
    else
        record "$cpu" "mediapipe version" FAIL - "${version:-unknown} (the lock pins $want)"
    fi
    INSTALLED[$cpu]=$([[ -z $failed_step ]] && echo 1 || echo 0)
    MP_VERSION[$cpu]="$version"
}

# The astronaut through the configured backend (auto: LiteRT) and the scorer, as one JSON line:
# run by the guest and, once, by this x86 host's own venv (./mirror makes it; CI runs the tests
# first). HOST_FACE is empty where there is no such venv, and the comparison is left out.
# shellcheck disable=SC2016  # Python, not shell
FACE_PY='
import json, sys, cv2
from pathlib import Path
from core.backends import make_landmarker, resolve
from core.scoring import load_model, score_face
rgb = cv2.cvtColor(cv2.imread(sys.argv[2]), cv2.COLOR_BGR2RGB)
lm = make_landmarker(Path(sys.argv[1]), still=True)
obs = lm.detect(rgb, 0.0)[0]
r = score_face(obs, None, load_model())
print(json.dumps({"backend": resolve(), "landmarks": [round(float(v), 7) for v in obs.landmarks[:, :2].ravel()],
                  "score": float(r.score), "eye": float(r.eye_engagement)}))
'
HOST_FACE=""
host_face() {
    local py="$SRC/.venv/mediapipe-1/bin/python"
    [[ -x $py ]] || return 0
    HOST_FACE="$("$py" -c "$FACE_PY" "$HOST_MODELS/face_landmarker.task" "$HOST_MODELS/astronaut.png" 2>/dev/null |
        tail -n1)" || HOST_FACE=""
}

# mediapipe 1.x on the Pi 4 CPU, in the Pi 4's own install: a bare import dies (the reason the
# program checks the CPU first), and the program refuses the backend with a sentence instead.
pi4_mediapipe_check() {
    local root="$CACHE/work/cortex-a72" logs="$LOGS/sigill" t0=$SECONDS status=0 cpu=cortex-a72
    mkdir -p "$logs"
    write_cpuinfo "$cpu" "$logs/cpuinfo"
    local label="1.x wheel on a Pi 4" refused="mediapipe refused"
    if [[ ${INSTALLED[cortex-a72]:-0} != 1 ]]; then
        record "$cpu" "$label" FAIL - "not run (the Pi 4 install failed)"
        record "$cpu" "$refused" FAIL - "not run (the Pi 4 install failed)"
        return
    fi
    say "Pi 4 (cortex-a72): mediapipe 1.x must not run, and must be refused before it is imported"
    # `import mediapipe` alone loads nothing native; its first image loads libmediapipe.so
    GUEST_TIMEOUT=600 guest "$root" "$cpu" "$logs/cpuinfo" "$GUEST_VENV/bin/python" -c \
        'import mediapipe as mp, numpy; mp.Image(image_format=mp.ImageFormat.SRGB, data=numpy.zeros((64, 64, 3), numpy.uint8))' \
        >"$logs/import.log" 2>&1 || status=$?
    local why
    why="$(grep -a -m1 -o -e 'This binary was compiled with .* processor' -e 'Illegal instruction' "$logs/import.log" || true)"
    if [[ $status -eq 132 ]]; then
        record "$cpu" "$label" PASS $((SECONDS - t0)) "mediapipe ${MP_VERSION[cortex-a72]} loading libmediapipe.so: killed by SIGILL (exit 132)${why:+: \"$why\"}"
    else
        record "$cpu" "$label" FAIL $((SECONDS - t0)) "expected SIGILL (exit 132), got exit $status${why:+: $why}"
        show_failure "$logs/import.log"
    fi
    t0=$SECONDS status=0
    GUEST_TIMEOUT=600 guest "$root" "$cpu" "$logs/cpuinfo" /usr/bin/env SMILE_MIRROR_CACHE="$GUEST_MODELS" SMILE_MIRROR_BACKEND=mediapipe \
        "$GUEST_VENV/bin/smile-mirror" score "$GUEST_MODELS/astronaut.png" >"$logs/score.log" 2>&1 || status=$?
    if [[ $status -eq 2 ]] && grep -q "needs an ARMv8.2 CPU" "$logs/score.log"; then
        record "$cpu" "$refused" PASS $((SECONDS - t0)) "exit 2: $(grep -m1 -o 'mediapipe [0-9.]* needs an ARMv8.2 CPU[^:]*' "$logs/score.log")"
    else
        record "$cpu" "$refused" FAIL $((SECONDS - t0)) "expected exit 2 with the ARMv8.2 sentence, got exit $status"
        show_failure "$logs/score.log"
    fi
}

main() {
    parse_args "$@"
    plan
    if [[ $DRY_RUN -eq 1 ]]; then
        print_plan
        return 0
    fi
    need_tools
    mkdir -p "$CACHE"
    exec 9>"$CACHE/.lock"
    flock -w 3600 9 || die "another emulate-pi.sh holds $CACHE/.lock"
    local start=$SECONDS
    setup_binfmt
    build_root
    fetch_wheels
    prune_cache
    LOGS="$CACHE/logs"
    rm -rf "$LOGS"
    mkdir -p "$LOGS"
    declare -gA INSTALLED=() MP_VERSION=()
    host_face
    local cpu
    for cpu in "${SELECTED[@]}"; do
        emulate "$cpu"
    done
    if [[ " ${SELECTED[*]} " == *" cortex-a72 "* ]]; then
        pi4_mediapipe_check
    fi

    printf '\n%-5s %-11s %-19s %-6s %5s  %s\n' BOARD CPU CHECK RESULT SECS DETAIL
    printf '%s\n' "${RESULTS[@]}"
    local passed failed
    passed="$(printf '%s\n' "${RESULTS[@]}" | grep -c ' PASS ' || true)"
    failed=$((${#RESULTS[@]} - passed))
    printf '%s in %ss (logs: %s)\n' "$([[ $FAILED -eq 0 ]] && echo PASS || echo FAIL)" $((SECONDS - start)) "$LOGS"
    printf 'emulate-pi: %s passed, %s failed\n' "$passed" "$failed"
    if [[ $FAILED -eq 0 && $KEEP -eq 0 ]]; then
        rm -rf "$CACHE/work"
    fi
    return "$FAILED"
}

main "$@"

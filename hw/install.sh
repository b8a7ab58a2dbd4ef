#!/usr/bin/env bash
# Smile Mirror installer for Raspberry Pi OS Bookworm 64-bit (Lite and Desktop) and for a plain
# Debian 12 amd64 PC (a mini-PC kiosk: webcam, video file or demo; no picamera2), run as root.
#
#   sudo hw/install.sh              console kiosk: smile-mirror.service on tty1 (Lite)
#   sudo hw/install.sh --desktop    inside the desktop session: smile-mirror-desktop.service
#   hw/install.sh --dry-run [...]   print every action, do none (no root needed)
#   sudo hw/install.sh --tune-model  also build, gate and time the quantised model variants
#   sudo hw/install.sh --uninstall [--purge]
#
# Idempotent: run it again after `git pull` to update (it reinstalls the package, keeps an
# edited /etc/smile-mirror/config.toml, and restarts the mirror if it was running).
#
# Which lock: the rule in hw/lock-choice.sh (shared with ./mirror). Every Pi gets
# requirements/mediapipe-1-numpy1.txt: the LiteRT backend (the default) runs on a Pi 4 and a Pi 5
# alike. mediapipe 1.2.3 in it needs ARMv8.2 (LSE atomics, dot product, fp16, read from
# /proc/cpuinfo's Features) and dies with SIGILL on a Pi 4 (Cortex-A72): there it is installed
# but never imported (core/armcpu.py). numpy 1.26: apt's python3-simplejpeg, which picamera2
# imports through --system-site-packages, is built against Bookworm's numpy 1.24 and fails under
# numpy 2.
# On amd64 (`dpkg --print-architecture`) there is no Pi camera and no config.txt: the venv is
# made without system packages, gets requirements/mediapipe-1.txt (numpy 2), and apt adds
# Mesa's DRI drivers (a PC's Debian has no GPU driver for SDL's kmsdrm unless asked for one).
#
# For tests (nothing here is needed on a Pi):
#   SMILE_MIRROR_ROOT=/tmp/fakeroot  prefix for every file written; system-wide commands
#                                    (apt, useradd, systemctl on the live system) are skipped
#   CPUINFO=path                     read CPU features from this file instead of /proc/cpuinfo
#   SMILE_MIRROR_ARCH=arm64|amd64    instead of `dpkg --print-architecture`
#   SMILE_MIRROR_LOCK=path           force a lock file
#   PYTHON=/usr/bin/python3          the interpreter the venv is made from (apt's, for picamera2)
set -euo pipefail

readonly APP=smile-mirror
readonly SVC_USER=smile-mirror
readonly GROUPS_WANTED=(video render input)
readonly APT_PACKAGES=(
    python3-picamera2  # libcamera + picamera2 (+ python3-simplejpeg), not on PyPI for the Pi
    python3-venv       # the venv, with pip through ensurepip
    python3-lgpio      # gpiozero's pin factory on a Pi 5 (the booth's buttons); not on PyPI as a wheel
    libegl1 libgles2   # libmediapipe.so links libEGL.so.1 and libGLESv2.so.2
    libgbm1 libdrm2    # SDL's kmsdrm driver (inside the pygame wheel) loads them at run time
    ca-certificates    # the model download over https
)
# A Debian amd64 PC: the same minus picamera2, plus the Mesa drivers that Raspberry Pi OS ships
# and plain Debian leaves to Recommends (libEGL finds no GPU driver without them).
readonly PC_APT_PACKAGES=(
    python3-venv libegl1 libgles2 libgbm1 libdrm2 ca-certificates
    libgl1-mesa-dri    # Mesa's DRI/GBM drivers: i915, amdgpu, nouveau, virtio_gpu, kms_swrast
)
# Quoted so that hw/emulate-pi.sh, which gathers the Pi locks from LOCK=requirements/ lines,
# leaves this one out: no Pi installs it.

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=hw/lock-choice.sh
. "$SRC/hw/lock-choice.sh"  # which requirements/ lock suits a CPU: the rule ./mirror uses too
ROOT="${SMILE_MIRROR_ROOT:-}"
ROOT="${ROOT%/}"
CPUINFO="${CPUINFO:-/proc/cpuinfo}"
DT_MODEL="${DT_MODEL:-/proc/device-tree/model}"
PYTHON="${PYTHON:-/usr/bin/python3}"

PREFIX=/opt/smile-mirror
VENV="$PREFIX/venv"
STATE_DIR=/var/lib/smile-mirror
MODEL_DIR="$STATE_DIR/models"
CONF_DIR=/etc/smile-mirror
CONF="$CONF_DIR/config.toml"
UNIT_DIR=/etc/systemd/system
USER_UNIT_DIR=/etc/systemd/user
AUTOSTART_DIR=/etc/xdg/autostart

LOCK=""
TARGET=pi  # pi or pc, set by choose_lock from the architecture
DRY_RUN=0
UNINSTALL=0
PURGE=0
DESKTOP=0
TUNE=0

usage() {
    sed -n '2,7s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

say() { printf '==> %s\n' "$*"; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

# A word as it would be typed into a shell: plain if safe, else in single quotes.
quote() {
    if [[ $1 =~ ^[][A-Za-z0-9_./:=,@%+-]+$ ]]; then
        printf '%s' "$1"
    else
        printf "'%s'" "${1//\'/\'\\\'\'}"
    fi
}

# Print a command as it would be typed, then run it (unless --dry-run).
run() {
    local a line="+"
    for a in "$@"; do
        line+=" $(quote "$a")"
    done
    printf '%s\n' "$line"
    if [[ $DRY_RUN -eq 0 ]]; then
        "$@"
    fi
}

# Commands that change the live system rather than files under $ROOT: skipped under a fake root.
sys() {
    if [[ -n $ROOT && $DRY_RUN -eq 0 ]]; then
        printf '# skipped (SMILE_MIRROR_ROOT is set): %s\n' "$*"
        return 0
    fi
    run "$@"
}

# systemctl: offline (--root, only enable/disable make sense) under a fake root, live otherwise.
sctl() {
    if [[ -z $ROOT ]]; then
        run systemctl "$@"
        return
    fi
    local a args=()
    for a in "$@"; do
        [[ $a == --now ]] || args+=("$a")
    done
    case " ${args[*]} " in
        *" enable "* | *" disable "*) run systemctl --root="$ROOT" "${args[@]}" ;;
        *) sys systemctl "$@" ;;
    esac
}

parse_args() {
    while [[ $# -gt 0 ]]; do
        case $1 in
            --dry-run | -n) DRY_RUN=1 ;;
            --uninstall) UNINSTALL=1 ;;
            --purge) PURGE=1 ;;
            --desktop) DESKTOP=1 ;;
            --tune-model) TUNE=1 ;;
            -h | --help) usage; exit 0 ;;
            *) usage >&2; die "unknown option: $1" ;;
        esac
        shift
    done
    if [[ $PURGE -eq 1 && $UNINSTALL -eq 0 ]]; then
        die "--purge only goes with --uninstall"
    fi
}

preflight() {
    if [[ $DRY_RUN -eq 1 ]]; then
        say "dry run: printing every action, doing none"
    elif [[ $EUID -ne 0 && -z $ROOT ]]; then
        die "run as root (sudo $0 $*), or try --dry-run"
    fi
    local codename=""
    if [[ -r /etc/os-release ]]; then
        codename="$(sed -n 's/^VERSION_CODENAME=//p' /etc/os-release | tr -d '"')"
    fi
    if [[ $codename != bookworm ]]; then
        warn "made for Raspberry Pi OS Bookworm; this system says '${codename:-unknown}'"
    fi
}

# Sets LOCK to the lock file (relative to the repository) that suits this CPU.
choose_lock() {
    say "CPU check ($CPUINFO)"
    if [[ -n ${SMILE_MIRROR_LOCK:-} ]]; then
        LOCK="$SMILE_MIRROR_LOCK"
        printf '# lock forced by SMILE_MIRROR_LOCK: %s\n' "$LOCK"
        return
    fi
    local arch
    arch="${SMILE_MIRROR_ARCH:-$(dpkg --print-architecture 2>/dev/null || uname -m)}"
    case $arch in
        arm64 | aarch64) ;;
        amd64 | x86_64)
            TARGET=pc
            printf '# %s: a Debian PC (no Pi camera: webcam, video file or demo): mediapipe 1.x, numpy 2\n' "$arch"
            LOCK="$(smile_mirror_lock "$arch" "" no)"  # the same rule as ./mirror: no Pi camera here
            printf '# lock: %s\n' "$LOCK"
            return
            ;;
        *) die "this installer is for 64-bit Raspberry Pi OS (arm64) or Debian 12 amd64; this system is $arch. Elsewhere, follow the README's pip install instead." ;;
    esac
    [[ -r $CPUINFO ]] || die "cannot read $CPUINFO to tell a Pi 4 from a Pi 5"
    local features missing
    features="$(grep -m1 -i '^Features' "$CPUINFO" | cut -d: -f2- | tr -s '[:space:]' ' ')"
    missing="$(smile_mirror_missing "$features")"
    if [[ -z $missing ]]; then
        printf '# CPU has %s (ARMv8.2, e.g. Pi 5): LiteRT, and the mediapipe backend too\n' "$SMILE_MIRROR_ARMV82"
    else
        printf '# CPU lacks %s (ARMv8.0, e.g. Pi 4): LiteRT only (mediapipe 1.x is installed, never imported)\n' "$missing"
    fi
    # picamera2 is installed from apt below, so the venv always sees it (numpy 1.x locks)
    LOCK="$(smile_mirror_lock "$arch" "$features" yes)"
    if [[ -r $DT_MODEL ]]; then
        printf '# board: %s\n' "$(tr -d '\0' <"$DT_MODEL")"
    fi
    printf '# lock: %s\n' "$LOCK"
}

install_packages() {
    say "system packages"
    sys apt-get update
    local packages=("${APT_PACKAGES[@]}")
    [[ $TARGET == pi ]] || packages=("${PC_APT_PACKAGES[@]}")
    sys env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${packages[@]}"
}

create_user() {
    say "service user $SVC_USER"
    if getent passwd "$SVC_USER" >/dev/null; then
        printf '# user %s exists\n' "$SVC_USER"
    else
        sys useradd --system --user-group --home-dir "$STATE_DIR" --no-create-home \
            --shell /usr/sbin/nologin --comment "Smile Mirror kiosk" "$SVC_USER"
    fi
    local g have=()
    for g in "${GROUPS_WANTED[@]}"; do
        if getent group "$g" >/dev/null || [[ $DRY_RUN -eq 1 ]]; then
            have+=("$g")
        else
            warn "group $g does not exist; skipped"
        fi
    done
    if [[ ${#have[@]} -gt 0 ]]; then
        local joined
        joined="$(IFS=,; printf '%s' "${have[*]}")"
        sys usermod --append --groups "$joined" "$SVC_USER"
    fi
}

install_app() {
    local lock="$1"
    say "program in $VENV (lock $lock)"
    [[ -f $SRC/$lock ]] || die "lock file $SRC/$lock is missing"
    if [[ $DRY_RUN -eq 0 ]]; then
        local ver
        ver="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
        [[ $ver == 3.11 ]] || warn "$PYTHON is Python $ver; the locks are made for Bookworm's 3.11"
    fi
    run install -d -m 0755 "$ROOT$PREFIX" "$ROOT$PREFIX/hw"
    if [[ -x $ROOT$VENV/bin/python ]]; then
        printf '# venv %s exists\n' "$VENV"
    elif [[ $TARGET == pc ]]; then
        # No picamera2 on a PC: nothing from apt's Python belongs in the venv.
        run "$PYTHON" -m venv "$ROOT$VENV"
    else
        # --system-site-packages: picamera2 and libcamera come from apt, not PyPI.
        run "$PYTHON" -m venv --system-site-packages "$ROOT$VENV"
    fi
    local pip=("$ROOT$VENV/bin/python" -m pip --disable-pip-version-check --no-input)
    # --no-deps: mediapipe's metadata would add opencv-contrib-python (a second cv2) and more;
    # the lock pins exactly what is imported.
    # --require-hashes: only the files whose SHA-256 the lock names are installed (pip runs as root).
    run "${pip[@]}" install --no-deps --require-hashes -r "$SRC/$lock"
    # The project is built by the locked, hashed setuptools, not one pip would fetch unchecked.
    run "${pip[@]}" install --no-deps --require-hashes -r "$SRC/requirements/setuptools.txt"
    run "${pip[@]}" install --no-deps --no-build-isolation --force-reinstall "$SRC"
    if [[ $TARGET == pc ]]; then
        run "$ROOT$VENV/bin/python" -c 'import numpy, mediapipe, cv2, pygame; print("numpy", numpy.__version__, "mediapipe", mediapipe.__version__, "cv2", cv2.__version__)'
    else
        # The reason for numpy 1.26 in the lock: apt's simplejpeg (numpy 1.24 ABI) must load.
        # mediapipe is imported only where the CPU runs it (core/armcpu.py); LiteRT always.
        run "$ROOT$VENV/bin/python" -c 'import numpy, simplejpeg, picamera2, cv2, ai_edge_litert.interpreter, importlib.metadata as m; from core.armcpu import mediapipe_blocker as why; why() or __import__("mediapipe"); print("numpy", numpy.__version__, "mediapipe", m.version("mediapipe"), "cv2", cv2.__version__, "picamera2 ok", "litert ok", "(mediapipe not imported: ARMv8.0)" if why() else "")'
    fi
    run install -m 0644 "$SRC/hw/README.md" "$ROOT$PREFIX/hw/README.md"
    run install -m 0755 "$SRC/hw/smoke.sh" "$ROOT$PREFIX/hw/smoke.sh"
}

provision_model() {
    say "model in $MODEL_DIR"
    # The state folder belongs to the service user (systemd then leaves its contents alone);
    # the model folder stays root's, so the mirror cannot alter the model.
    run install -d -m 0755 "$ROOT$STATE_DIR"
    sys chown "$SVC_USER:$SVC_USER" "$ROOT$STATE_DIR"
    run install -d -m 0755 "$ROOT$MODEL_DIR"
    local cli="$ROOT$VENV/bin/smile-mirror"
    if [[ $DRY_RUN -eq 0 ]] && "$cli" model verify --dir "$ROOT$MODEL_DIR" >/dev/null 2>&1; then
        printf '# model already verified\n'
    else
        run "$cli" model fetch --dir "$ROOT$MODEL_DIR"
    fi
    run "$cli" model verify --dir "$ROOT$MODEL_DIR"
}

# Quantised model variants (core/VARIANTS.md): built by build-only tools in a venv of their own,
# gated for accuracy, then timed on this very CPU; the fastest that passed goes into the config.
# Opt-in (--tune-model): it pip-installs the build tools as root, which a plain install or update
# should not do. If any step fails, the mirror keeps the official model.
tune_model() {
    say "model variants: build, accuracy gate, timing on this CPU"
    local build_venv="$PREFIX/build-venv" cli="$ROOT$VENV/bin/smile-mirror"
    if run "$PYTHON" -m venv "$ROOT$build_venv" &&
        run "$ROOT$build_venv/bin/pip" install --quiet --no-deps --require-hashes -r "$SRC/requirements/build.txt" &&
        run "$cli" model build --dir "$ROOT$MODEL_DIR" --build-python "$ROOT$build_venv/bin/python" &&
        run "$cli" model tune --dir "$ROOT$MODEL_DIR" --cpus 0 --write "$ROOT$CONF"; then
        return 0
    fi
    warn "model variants were not built or tuned; the mirror uses the official model"
}

write_config() {
    say "configuration $CONF"
    run install -d -m 0755 "$ROOT$CONF_DIR"
    if [[ -e $ROOT$CONF ]]; then
        printf '# %s exists: kept as it is (compare with: smile-mirror config default)\n' "$CONF"
        # A key this version no longer accepts would stop the mirror at start: say so now.
        run "$ROOT$VENV/bin/smile-mirror" config check "$ROOT$CONF" ||
            warn "$CONF is not valid for this version; the mirror will not start until it is fixed"
        return
    fi
    printf '+ %q config default > %q\n' "$ROOT$VENV/bin/smile-mirror" "$ROOT$CONF"
    # The console kiosk keeps its state in $STATE_DIR (the unit's StateDirectory); saying so in
    # [run] lets `smile-mirror stats` and friends find it. The desktop unit's state is per user.
    # Every "+ " line is a runnable command (hw/emulate-pi.sh replays them in its emulated Pi).
    local state_line="state_dir = \"$STATE_DIR\""
    local set_state="/^\[run\]\$/,/^\[/ s|^state_dir = .*\$|$state_line|"
    if [[ $DESKTOP -eq 0 ]]; then
        printf '+ sed -i %q %q\n' "$set_state" "$ROOT$CONF"
    fi
    if [[ $DRY_RUN -eq 0 ]]; then
        local tmp
        tmp="$(mktemp "$ROOT$CONF_DIR/.config.toml.XXXXXX")"
        if ! "$ROOT$VENV/bin/smile-mirror" config default >"$tmp"; then
            rm -f "$tmp"
            die "could not write the default config"
        fi
        if [[ $DESKTOP -eq 0 ]]; then
            sed -i "$set_state" "$tmp"
            if ! grep -qxF "$state_line" "$tmp"; then
                rm -f "$tmp"
                die "the default config has no [run] state_dir line to set to $STATE_DIR"
            fi
        fi
        chmod 0644 "$tmp"
        mv "$tmp" "$ROOT$CONF"
    fi
}

# The console unit has no network. With the opt-in exporters on ([metrics], [mqtt] in the config)
# a drop-in admits exactly the broker's address and the metrics port (kiosk/netpolicy.py writes
# it); with both off there is none, and an old one is removed.
network_dropin() {
    local dropin="$ROOT$UNIT_DIR/$APP.service.d/network.conf" text kind=()
    if [[ $DESKTOP -eq 1 ]]; then
        dropin="$ROOT$USER_UNIT_DIR/$APP-desktop.service.d/network.conf"
        kind=(--desktop)
    fi
    if [[ $DRY_RUN -eq 1 ]]; then
        # What runs, without the redirect: its output (none with the exporters off) becomes the drop-in.
        printf '+ %q config network %s%q\n' "$ROOT$VENV/bin/smile-mirror" "${kind[*]/%/ }" "$ROOT$CONF"
        printf '# its output, if any, is written to %s; with none, that file is removed\n' "$dropin"
        return 0
    fi
    text="$("$ROOT$VENV/bin/smile-mirror" config network "${kind[@]}" "$ROOT$CONF")" ||
        die "the [metrics]/[mqtt] settings in $CONF cannot be turned into a firewall drop-in (see above)"
    if [[ -z $text ]]; then
        run rm -f "$dropin"
        return 0
    fi
    say "network drop-in $dropin (exporters on)"
    run install -d -m 0755 "${dropin%/*}"
    printf '%s\n' "$text" >"$dropin.part"
    run chmod 0644 "$dropin.part"
    run mv "$dropin.part" "$dropin"
}

# Console blanking off at boot (the unit also runs setterm); raspi-config does the same.
console_blank_off() {
    local cmdline=""
    for f in /boot/firmware/cmdline.txt /boot/cmdline.txt; do
        if [[ -f $ROOT$f ]]; then
            cmdline="$ROOT$f"
            break
        fi
    done
    if [[ -z $cmdline ]]; then
        printf '# no cmdline.txt found: console blanking left as it is (the unit runs setterm)\n'
    elif grep -q 'consoleblank=' "$cmdline"; then
        printf '# %s already sets consoleblank\n' "$cmdline"
    else
        run cp -p "$cmdline" "$cmdline.smile-mirror.bak"
        run sed -i '1 s/$/ consoleblank=0/' "$cmdline"
    fi
}

install_units() {
    say "systemd units"
    if [[ $DESKTOP -eq 1 ]]; then
        run install -d -m 0755 "$ROOT$USER_UNIT_DIR" "$ROOT$AUTOSTART_DIR"
        run install -m 0644 "$SRC/systemd/smile-mirror-desktop.service" "$ROOT$USER_UNIT_DIR/"
        run install -m 0644 "$SRC/systemd/smile-mirror-autostart.desktop" "$ROOT$AUTOSTART_DIR/smile-mirror.desktop"
        # One mirror owns the camera: the console kiosk goes if it was there.
        if [[ -e $ROOT$UNIT_DIR/$APP.service ]]; then
            sctl disable --now "$APP.service"
            run rm -f "$ROOT$UNIT_DIR/$APP.service"
            restore_getty
        fi
        sctl daemon-reload
        sctl --global enable "$APP-desktop.service"
        say "the mirror starts at the next desktop login (enable auto-login: raspi-config, System, Boot / Auto Login)"
        return
    fi
    run install -d -m 0755 "$ROOT$UNIT_DIR"
    run install -m 0644 "$SRC/systemd/$APP.service" "$ROOT$UNIT_DIR/$APP.service"
    # From --desktop to the console: disable the user unit first, or its symlink in
    # /etc/systemd/user/*.wants is left pointing at nothing.
    if [[ -e $ROOT$USER_UNIT_DIR/$APP-desktop.service ]]; then
        sctl --global disable "$APP-desktop.service"
    fi
    run rm -f "$ROOT$USER_UNIT_DIR/$APP-desktop.service" "$ROOT$AUTOSTART_DIR/smile-mirror.desktop"
    console_blank_off
    write_share_dropin
    write_gpio_dropin
    sctl daemon-reload
    sctl enable "$APP.service"
    if [[ -z $ROOT ]] && systemctl is-enabled --quiet display-manager.service 2>/dev/null; then
        warn "a desktop is enabled and holds the screen: use --desktop, or boot to the console (raspi-config nonint do_boot_behaviour B1)"
    fi
    if [[ -z $ROOT ]] && systemctl is-active --quiet "$APP.service" 2>/dev/null; then
        sctl restart "$APP.service"
    else
        say "the mirror starts at the next boot, or now with: sudo systemctl start $APP"
    fi
}

# booth.share = true in the config: a drop-in opens exactly the share server's TCP port in the
# console kiosk's sandbox (otherwise PrivateNetwork/IPAddressDeny keep it off every network).
share_port_of() {
    [[ -f $1 ]] || return 0
    "$PYTHON" - "$1" <<'PY' 2>/dev/null || true
import sys, tomllib
booth = tomllib.load(open(sys.argv[1], "rb")).get("booth", {})
if booth.get("share") is True:
    print(int(booth.get("share_port", 8080)))
PY
}

share_dropin_text() {
    cat <<EOF
# Written by hw/install.sh because booth.share = true in $CONF: the photo booth's
# share server (guests' phones fetch their photo) listens on TCP port $1; nothing else changes.
# Re-run the installer after changing booth.share or booth.share_port.
[Service]
# The share server needs the real network, not the kiosk's private one: the phones are on it.
PrivateNetwork=no
RestrictAddressFamilies=AF_UNIX AF_NETLINK AF_INET AF_INET6
# Only this machine, the venue's private networks and the Pi's own hotspot may talk to it.
IPAddressDeny=any
IPAddressAllow=localhost link-local 10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 fc00::/7
# Exactly one port may be bound: the share server's.
SocketBindAllow=tcp:$1
SocketBindDeny=any
EOF
}

# write_dropin NAME VALUE MESSAGE TEXT: the console unit's drop-in NAME.conf, written by the
# function TEXT given VALUE, when VALUE is not empty; removed (closed again) when it is.
write_dropin() {
    local name="$1" value="$2" message="$3" text="$4" dir="$ROOT$UNIT_DIR/$APP.service.d"
    if [[ -z $value ]]; then
        run rm -f "$dir/$name.conf"
        return
    fi
    say "$message ($dir/$name.conf)"
    run install -d -m 0755 "$dir"
    if [[ $DRY_RUN -eq 0 ]]; then
        "$text" "$value" >"$dir/$name.conf"
        chmod 0644 "$dir/$name.conf"
    fi
}

write_share_dropin() {
    local port
    port="$(share_port_of "$ROOT$CONF")"
    write_dropin share "$port" "photo sharing on: TCP port $port opened in the kiosk's sandbox" share_dropin_text
}

# booth.print_pin / booth.photo_pin in the config: the console kiosk's device policy admits the
# GPIO character devices (gpiozero reads the buttons through /dev/gpiochip*), the gpio group that
# owns them on Raspberry Pi OS joins the unit's groups, and lgpio (gpiozero's pin factory on a
# Pi 5) gets a writable folder for its notification pipes (it makes them in its working
# directory otherwise: gpiozero#1106).
button_pins_of() {
    [[ -f $1 ]] || return 0
    "$PYTHON" - "$1" <<'PY' 2>/dev/null || true
import sys, tomllib
booth = tomllib.load(open(sys.argv[1], "rb")).get("booth", {})
pins = [int(booth.get(k, 0) or 0) for k in ("print_pin", "photo_pin")]
print(" ".join(f"GPIO{p}" for p in pins if p))
PY
}

gpio_dropin_text() {
    cat <<EOF
# Written by hw/install.sh because $CONF names booth buttons ($1).
# Re-run the installer after changing booth.print_pin or booth.photo_pin.
[Service]
DeviceAllow=char-gpiochip rw
Environment=LG_WD=%S/smile-mirror
EOF
    if grep -q '^gpio:' "$ROOT/etc/group" 2>/dev/null; then
        printf 'SupplementaryGroups=gpio\n'
    else
        printf '# no gpio group on this system: /dev/gpiochip* must be readable by %s some other way\n' "$SVC_USER"
    fi
}

write_gpio_dropin() {
    local pins
    pins="$(button_pins_of "$ROOT$CONF")"
    write_dropin gpio "$pins" "booth buttons on ($pins): the kiosk's sandbox admits /dev/gpiochip*" gpio_dropin_text
}

# Give tty1 its login prompt back (the console unit's Conflicts= stopped it; at boot systemd
# drops the getty's start job in favour of the conflicting kiosk, so it stays enabled).
restore_getty() {
    sys systemctl start getty@tty1.service
}

uninstall() {
    say "removing Smile Mirror"
    if [[ -e $ROOT$UNIT_DIR/$APP.service ]]; then
        sctl disable --now "$APP.service"
    fi
    if [[ -e $ROOT$USER_UNIT_DIR/$APP-desktop.service ]]; then
        sctl --global disable "$APP-desktop.service"
    fi
    run rm -f "$ROOT$UNIT_DIR/$APP.service" "$ROOT$USER_UNIT_DIR/$APP-desktop.service" \
        "$ROOT$AUTOSTART_DIR/smile-mirror.desktop"
    run rm -f "$ROOT$UNIT_DIR/$APP.service.d/share.conf" "$ROOT$UNIT_DIR/$APP.service.d/gpio.conf"
    sctl daemon-reload
    restore_getty
    run rm -rf "$ROOT$PREFIX"
    if [[ $PURGE -eq 1 ]]; then
        run rm -rf "$ROOT$CONF_DIR" "$ROOT$STATE_DIR" "$ROOT/var/cache/smile-mirror"
        if getent passwd "$SVC_USER" >/dev/null || [[ $DRY_RUN -eq 1 ]]; then
            sys userdel "$SVC_USER"
        fi
    else
        printf '# kept: %s, %s (photos, counters, model) and user %s; --purge removes them\n' \
            "$CONF" "$STATE_DIR" "$SVC_USER"
    fi
    printf '# kept: apt packages (%s) and consoleblank=0 in cmdline.txt\n' "${APT_PACKAGES[*]}"
}

main() {
    parse_args "$@"
    preflight "$@"
    if [[ $UNINSTALL -eq 1 ]]; then
        uninstall
        return
    fi
    choose_lock
    install_packages
    create_user
    install_app "$LOCK"
    provision_model
    write_config
    if [[ $TUNE -eq 1 ]]; then
        tune_model
    else
        printf '# model variants: not tuned (the official model is used; --tune-model builds and times them)\n'
    fi
    network_dropin
    install_units
    if [[ $DRY_RUN -eq 1 ]]; then
        say "done (dry run: nothing was changed)"
    else
        say "done"
    fi
}

# Run unless sourced (the tests source it to call one step).
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    main "$@"
fi

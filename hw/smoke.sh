#!/usr/bin/env bash
# On-device smoke checks for an installed Smile Mirror: each check runs with a timeout and the
# script prints a PASS/FAIL/SKIP table; the exit status is 1 if any check failed.
#
#   sudo /opt/smile-mirror/hw/smoke.sh [--source picamera2|webcam|webcam:N] [--stop-service]
#
# The camera and the screen can have only one owner: if smile-mirror.service is running, stop
# it first, or pass --stop-service (it is started again when the checks end).
# Environment: SMILE_MIRROR_VENV (/opt/smile-mirror/venv), SMILE_MIRROR_CACHE (the model
# folder, /var/lib/smile-mirror/models), SMOKE_TIMEOUT_SCALE (multiply every timeout, e.g. 3
# or 1.5 on a slow SD card).
set -euo pipefail

VENV="${SMILE_MIRROR_VENV:-/opt/smile-mirror/venv}"
export SMILE_MIRROR_CACHE="${SMILE_MIRROR_CACHE:-/var/lib/smile-mirror/models}"
SCALE="${SMOKE_TIMEOUT_SCALE:-1}"
if ! [[ $SCALE =~ ^[0-9]*\.?[0-9]+$ ]] || ! awk -v s="$SCALE" 'BEGIN { exit !(s > 0) }'; then
    echo "SMOKE_TIMEOUT_SCALE must be a number above 0 (e.g. 3 or 1.5), not '$SCALE'" >&2
    exit 2
fi
SOURCE=picamera2
STOP_SERVICE=0
SERVICE=smile-mirror.service

while [[ $# -gt 0 ]]; do
    case $1 in
        --source) SOURCE="${2:?--source needs a value}"; shift ;;
        --source=*) SOURCE="${1#--source=}" ;;
        --stop-service) STOP_SERVICE=1 ;;
        -h | --help) sed -n '2,11s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) echo "unknown option: $1" >&2; exit 2 ;;
    esac
    shift
done

PY="$VENV/bin/python"
CLI="$VENV/bin/smile-mirror"
LOG="$(mktemp -d -t smile-mirror-smoke.XXXXXX)"  # under $TMPDIR, else /tmp
RESULTS=()
FAILED=0
EXPECTED=0  # checks each branch below promises; fewer results means one was skipped by an error

# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
    local rc=$?
    # Logs are kept only when something failed (the table names them); a clean run leaves nothing.
    if [[ $rc -eq 0 && -n ${LOG:-} ]]; then
        rm -rf -- "$LOG"
    fi
    if [[ $STOP_SERVICE -eq 2 ]]; then
        systemctl start "$SERVICE" || true
    fi
}
trap cleanup EXIT

if command -v systemctl >/dev/null && systemctl is-active --quiet "$SERVICE" 2>/dev/null; then
    if [[ $STOP_SERVICE -eq 1 ]]; then
        systemctl stop "$SERVICE"
        STOP_SERVICE=2
    else
        echo "$SERVICE is running and owns the camera and the screen." >&2
        echo "Stop it first (sudo systemctl stop smile-mirror) or pass --stop-service." >&2
        exit 2
    fi
fi

# check NAME SECONDS COMMAND...: run with a timeout, record PASS/FAIL and the last output line.
check() {
    local name="$1" limit="$2"
    shift 2
    limit=$(awk -v l="$limit" -v s="$SCALE" 'BEGIN { v = l * s; printf "%d", (v > int(v)) ? int(v) + 1 : v }')
    local out="$LOG/${name// /_}.log" start rc=0 detail
    start=$(date +%s)
    timeout --kill-after=5 "$limit" "$@" >"$out" 2>&1 || rc=$?
    local took=$(($(date +%s) - start))
    detail="$(grep -v '^\s*$' "$out" | tail -n 1 | cut -c1-100 || true)"
    if [[ $rc -eq 0 ]]; then
        record "$name" PASS "$took" "$detail"
    else
        [[ $rc -eq 124 || $rc -eq 137 ]] && detail="timed out after ${limit}s; log: $out"
        record "$name" FAIL "$took" "${detail:-exit status $rc}"
    fi
}

record() {
    RESULTS+=("$(printf '%-22s %-5s %4ss  %s' "$1" "$2" "$3" "$4")")
    [[ $2 == FAIL ]] && FAILED=1
    return 0
}

if [[ ! -x $PY || ! -x $CLI ]]; then
    EXPECTED=1
    record "installed" FAIL 0 "no $CLI; run hw/install.sh"
else
    EXPECTED=7
    check "python imports" 60 "$PY" -c '
import importlib.metadata, numpy, cv2, pygame, ai_edge_litert.interpreter
from core.armcpu import mediapipe_blocker
extra = " litert ok"
if mediapipe_blocker():  # a Pi 4: importing mediapipe 1.x there is a SIGILL
    extra += " (mediapipe not imported: this CPU lacks ARMv8.2)"
else:
    import mediapipe
try:
    import simplejpeg, picamera2  # apt, through --system-site-packages; needs numpy 1.x
    extra += " picamera2 ok"
except ImportError as exc:
    extra += " (no picamera2: %s)" % exc
print("numpy", numpy.__version__, "mediapipe", importlib.metadata.version("mediapipe"), "cv2", cv2.__version__ + extra)'

    check "model verifies" 30 "$CLI" model verify --dir "$SMILE_MIRROR_CACHE"

    # Real inference on the demo face that `model fetch` stored beside the model: it must be
    # found and scored as a smile (score 50 or more).
    # shellcheck disable=SC2016  # expanded by the inner sh
    check "model loads, scores" 120 sh -c 'out=$("$1" score "$2") || exit 1; echo "$out"
        case $out in *"\"face\": true"*) ;; *) echo "no face found"; exit 1 ;; esac
        score=$(printf "%s\n" "$out" | sed -n "s/.*\"score\": \([0-9.]*\).*/\1/p" | tail -n 1)
        awk -v s="${score:-0}" "BEGIN { exit !(s >= 50) }" ||
            { echo "face found but scored ${score:-?}, under 50: not read as a smile"; exit 1; }' \
        sh "$CLI" "$SMILE_MIRROR_CACHE/astronaut.png"

    # The app loop end to end without a camera or a screen.
    check "app loop (demo)" 120 "$CLI" run --source demo --display headless --frames 30

    if [[ $SOURCE == picamera2 ]]; then
        check "camera detected" 30 "$PY" -c '
from picamera2 import Picamera2
cams = Picamera2.global_camera_info()
assert cams, "libcamera sees no camera: check the ribbon cable and camera_auto_detect=1"
print(", ".join(c.get("Model", "?") for c in cams))'
    else
        check "camera detected" 10 sh -c 'ls /dev/video* 2>/dev/null | head -n 3 | tr "\n" " " | grep . || { echo "no /dev/video* device"; exit 1; }'
    fi

    # Frames straight from the source: the app would fall back to its attract screen instead.
    check "camera frames arrive" 60 env SMOKE_SOURCE="$SOURCE" "$PY" -c '
import os, sys, time
from core.sources import open_source
source = open_source(os.environ["SMOKE_SOURCE"], width=640, height=480)
got, shape, start = 0, None, time.monotonic()
try:
    while got < 30 and time.monotonic() - start < 30:
        frame = source.read()
        if frame is not None:
            got, shape = got + 1, frame.rgb.shape
finally:
    source.close()
took = time.monotonic() - start
size = "%dx%d" % (shape[1], shape[0]) if shape else "no frame"
print("%d frames, %s, %.1f fps" % (got, size, got / max(took, 1e-3)))
sys.exit(0 if got >= 30 else 1)'

    # Fullscreen as the kiosk does it: kmsdrm on a console, the session's display on a desktop.
    driver=()
    if [[ -z ${WAYLAND_DISPLAY:-} && -z ${DISPLAY:-} ]]; then
        driver=(env SDL_VIDEODRIVER=kmsdrm)
    fi
    check "display opens" 30 "${driver[@]}" "$PY" -c '
import pygame
pygame.display.init()
screen = pygame.display.set_mode((0, 0), pygame.FULLSCREEN)
screen.fill((40, 40, 40)); pygame.display.flip()
print(pygame.display.get_driver(), "%dx%d" % screen.get_size())
pygame.display.quit()'
fi

EXPECTED=$((EXPECTED + 2))  # power and thermal, service enabled (run or skipped)
if command -v vcgencmd >/dev/null; then
    # 0x0: never under-voltage or throttled since boot (bits 16-19 record the past).
    # shellcheck disable=SC2016  # expanded by the inner sh
    check "power and thermal" 10 sh -c 'v=$(vcgencmd get_throttled); t=$(vcgencmd measure_temp); echo "$v $t"; [ "${v#*=}" = 0x0 ]'
else
    record "power and thermal" SKIP 0 "no vcgencmd (not a Raspberry Pi OS system)"
fi

if command -v systemctl >/dev/null && [[ -e /etc/systemd/system/$SERVICE ]]; then
    check "service enabled" 10 systemctl is-enabled "$SERVICE"
else
    record "service enabled" SKIP 0 "console unit not installed (desktop install?)"
fi

printf '\n%-22s %-5s %5s  %s\n' CHECK RESULT TIME DETAIL
printf '%s\n' "${RESULTS[@]}"
[[ $FAILED -eq 1 ]] && printf '\nlogs of the failed checks: %s\n' "$LOG"
if [[ ${#RESULTS[@]} -lt $EXPECTED ]]; then
    printf 'only %d of %d checks ran: the script itself failed (see the error above); logs: %s\n' \
        "${#RESULTS[@]}" "$EXPECTED" "$LOG" >&2
    exit 1
fi
exit "$FAILED"

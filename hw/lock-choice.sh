# shellcheck shell=sh
# Which requirements/ lock suits this machine: the one rule, sourced by ./mirror and
# hw/install.sh (POSIX sh, so it runs before any venv exists, under sh and bash alike).
#
# One lock for every Pi: the Face Landmarker runs on LiteRT, whose aarch64 wheels run on ARMv8.0.
# The lock also carries mediapipe 1.x (the other backend), whose aarch64 wheels are built for
# ARMv8.2 and die with SIGILL on a CPU without LSE atomics, dot product and fp16 (a Pi 4's
# Cortex-A72): there it is installed but never imported (core/armcpu.py checks the same
# features first). mediapipe 0.10.18, the newest that runs on a Pi 4, is generation 0.10, chosen
# by hand only (SMILE_MIRROR_MEDIAPIPE=0.10, SMILE_MIRROR_LOCK=requirements/mediapipe-0.10.txt).
# Where picamera2 comes from apt (a Pi), the venv sees the system packages, and apt's simplejpeg
# (built against Bookworm's numpy 1.24) needs numpy 1.x.
#
#   smile_mirror_lock ARCH FEATURES PICAMERA2
#       ARCH       `uname -m` or dpkg's name
#       FEATURES   the words of /proc/cpuinfo's "Features" line (read on ARM only; they decide
#                  only whether mediapipe may be imported, not the lock)
#       PICAMERA2  yes when the interpreter the venv is made from imports picamera2
#     prints the lock file, relative to the repository.
#   smile_mirror_generation ARCH FEATURES       prints 1 or 0.10
#   smile_mirror_lock_of GENERATION PICAMERA2   the lock of a generation chosen by hand
#   smile_mirror_missing FEATURES               the wanted features FEATURES lacks, if any

SMILE_MIRROR_ARMV82="atomics asimddp fphp"

smile_mirror_missing() {
    _sm_missing=""
    for _sm_f in $SMILE_MIRROR_ARMV82; do
        case " $1 " in
            *" $_sm_f "*) ;;
            *) _sm_missing="${_sm_missing:+$_sm_missing }$_sm_f" ;;
        esac
    done
    printf '%s\n' "$_sm_missing"
}

smile_mirror_generation() {
    echo 1  # every CPU: LiteRT runs on all of them (ARCH and FEATURES kept for the callers)
}

smile_mirror_lock_of() {
    case "$1 $2" in
        "1 yes") echo requirements/mediapipe-1-numpy1.txt ;;
        *) echo "requirements/mediapipe-$1.txt" ;;  # 0.10 pins numpy 1.26 already
    esac
}

smile_mirror_lock() {
    smile_mirror_lock_of "$(smile_mirror_generation "$1" "$2")" "$3"
}

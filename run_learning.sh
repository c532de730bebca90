#!/usr/bin/env bash
# Red Heart launcher: the commands users of the original system know.
#
#   ./run_learning.sh setup        create .venv and install the project (idempotent)
#   ./run_learning.sh test [ARGS]  setup with dev extras, then pytest ARGS, one worker
#                                  per core (-n 0: in one process)
#
#   ./run_learning.sh train-local [--samples N] [--debug] [--verbose] [--tui]
#                                  train the quickstart model on the embedded sample set
#                                  (--tui: in the Textual console)
#   ./run_learning.sh train-cloud [--gpus N] [--profile FILE] [--resume last]
#                                  [--full-dataset] [--checkpoint-interval N] [--debug]
#                                  [--set SECTION.KEY=VALUE]...
#                                  train the full model with profiles/cloud.toml (--gpus N:
#                                  torchrun, one process per GPU; DDP or FSDP2; --set: as
#                                  redheart run's, e.g. the train.device=cpu its error names)
#   ./run_learning.sh train-validate [--load-checkpoint [PATH]]
#                                  validate PATH (step folder, best/last pointer or run
#                                  directory), or the best checkpoint of the latest run
#   ./run_learning.sh tui [PROFILE | --attach RUN_DIR | --remote HOST:PATH]
#                                  the console (redheart-tui); no argument: the Runs screen
#
# Torch build: REDHEART_TORCH=auto|cpu|cuda (default auto: cuda when
# `nvidia-smi -L` lists a GPU, cpu otherwise). REDHEART_TORCH_INDEX=URL makes
# pip take torch from that index (for example a specific CUDA wheel index).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${REDHEART_VENV:-$ROOT/.venv}"
PYTHON_BIN="${PYTHON:-python3}"
TORCH_VERSION="2.13.0"
CPU_WHEEL_INDEX="https://download.pytorch.org/whl/cpu"

die() { echo "run_learning.sh: $*" >&2; exit 2; }

# A path as the user typed it, made absolute against the folder they typed it in:
# the commands run from $ROOT, where a relative name means another file, or none.
from_here() {
    case "$1" in
        /*) echo "$1" ;;
        *) echo "$PWD/$1" ;;
    esac
}

# Dies unless option $1 has a value: $2 arguments are left, $3 is the next one. A next
# argument that is itself an option means the value was left out: taking it would
# turn `--resume --debug` into a checkpoint named --debug.
need_value() {
    if [ "$2" -lt 2 ] || [ "${3#--}" != "$3" ]; then die "$1 needs $4"; fi
}

has_nvidia_gpu() {
    command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q '^GPU'
}

# CUDA GPUs the venv's torch can use (CUDA_VISIBLE_DEVICES respected); 0 when it
# cannot tell (a CPU build, no driver).
visible_cuda_gpus() {
    local count
    count="$("$VENV/bin/python" -c 'import torch; print(torch.cuda.device_count())' 2>/dev/null || true)"
    case "$count" in ''|*[!0-9]*) echo 0 ;; *) echo "$count" ;; esac
}

torch_flavour() {
    case "${REDHEART_TORCH:-auto}" in
        cpu|cuda) echo "$REDHEART_TORCH" ;;
        auto) if has_nvidia_gpu; then echo cuda; else echo cpu; fi ;;
        *) die "REDHEART_TORCH must be auto, cpu or cuda (got '${REDHEART_TORCH}')" ;;
    esac
}

pip_install() { "$VENV/bin/python" -m pip install --disable-pip-version-check -q "$@"; }

# Prints "<version> <cpu|cuda>" of the torch in the venv, or nothing.
installed_torch() {
    "$VENV/bin/python" - <<'PY' 2>/dev/null || true
import torch
print(torch.__version__.split("+")[0], "cuda" if torch.version.cuda else "cpu")
PY
}

install_torch() {
    local flavour="$1"
    if [ "$(installed_torch)" = "$TORCH_VERSION $flavour" ]; then
        return
    fi
    echo "setup: installing torch $TORCH_VERSION ($flavour build)"
    if [ -n "${REDHEART_TORCH_INDEX:-}" ]; then
        pip_install "torch==$TORCH_VERSION" --extra-index-url "$REDHEART_TORCH_INDEX"
    elif [ "$flavour" = cpu ] && [ "$(uname -s)-$(uname -m)" = Linux-x86_64 ]; then
        # PyPI's Linux x86_64 torch is a multi-GB CUDA build: take the +cpu
        # wheel, from a local wheel directory or mirror when pip has one
        # configured, else from PyTorch's CPU index.
        pip_install "torch==$TORCH_VERSION+cpu" 2>/dev/null \
            || pip_install "torch==$TORCH_VERSION+cpu" --extra-index-url "$CPU_WHEEL_INDEX"
    else
        # CUDA on Linux x86_64, and the CPU builds PyPI serves elsewhere.
        pip_install "torch==$TORCH_VERSION"
    fi
}

# Installs the project (with the given extras) unless the stamp says this
# exact pyproject.toml and torch flavour are already installed.
setup() {
    local extras="${1:-}"
    local flavour
    flavour="$(torch_flavour)"
    if [ ! -x "$VENV/bin/python" ]; then
        echo "setup: creating $VENV"
        "$PYTHON_BIN" -m venv "$VENV"
    fi
    local stamp_file="$VENV/.redheart-setup${extras:+-$extras}"
    local stamp
    stamp="$(sha256sum < "$ROOT/pyproject.toml" | cut -d' ' -f1) $flavour"
    # An install with the dev extras also satisfies a plain setup.
    for done_file in "$stamp_file" "$VENV/.redheart-setup-dev"; do
        if [ -f "$done_file" ] && [ "$(cat "$done_file")" = "$stamp" ]; then
            return
        fi
    done
    install_torch "$flavour"
    echo "setup: installing redheart${extras:+[$extras]} into $VENV"
    pip_install -e "$ROOT${extras:+[$extras]}"
    echo "$stamp" > "$stamp_file"
}

usage() {
    # the whole header comment, however long it grows
    sed -n '2,/^set -euo pipefail/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
}

# `setup --force` must not read as a forced reinstall that never happened.
no_arguments() {
    local name="$1"
    shift
    [ $# -eq 0 ] || die "$name takes no arguments (got '$*')"
}

cmd="${1:-}"
[ $# -gt 0 ] && shift
case "$cmd" in
    setup)
        no_arguments setup "$@"
        setup ""
        echo "setup: ready ($("$VENV/bin/python" -c 'import torch; print("torch", torch.__version__)'))"
        ;;
    test)
        setup dev
        cd "$ROOT"
        # Test files in parallel, one worker per core, a file on one worker (its module
        # fixtures are built once): the suite's processes run one torch thread each, so
        # one after another they left half of a 2-core machine idle.
        exec "$VENV/bin/python" -m pytest -n auto --dist loadfile "$@"
        ;;
    train-local)
        setup ""
        args=()
        tui=""
        while [ $# -gt 0 ]; do
            case "$1" in
                --samples) need_value "$1" $# "${2:-}" "a number"; args+=(--samples "$2"); shift 2 ;;
                --samples=*) args+=(--samples "${1#*=}"); shift ;;
                --debug) args+=(--debug); shift ;;
                --verbose) args+=(--verbose); shift ;;
                --tui) tui=1; shift ;;
                *) die "train-local: unknown option '$1' (--samples N, --debug, --verbose, --tui)" ;;
            esac
        done
        cd "$ROOT"
        if [ -n "$tui" ]; then
            for a in "${args[@]}"; do [ "$a" != "--verbose" ] || die "--verbose is for the headless run, not --tui"; done
            exec "$VENV/bin/redheart-tui" profiles/quickstart.toml "${args[@]}"
        fi
        exec "$VENV/bin/redheart" run profiles/quickstart.toml "${args[@]}"
        ;;
    train-cloud)
        args=()
        gpus=1
        profile=profiles/cloud.toml
        while [ $# -gt 0 ]; do
            case "$1" in
                --full-dataset) shift ;;  # the cloud profile reads every row already
                --checkpoint-interval) need_value "$1" $# "${2:-}" "a number"
                    case "$2" in ''|*[!0-9]*|0*) die "--checkpoint-interval must be a positive number of steps (got '$2')" ;; esac
                    args+=(--set "checkpoint.every_steps=$2"); shift 2 ;;
                --gpus) need_value "$1" $# "${2:-}" "a number"; gpus="$2"; shift 2 ;;
                --gpus=*) gpus="${1#*=}"; shift ;;
                --profile) need_value "$1" $# "${2:-}" "a file"
                    profile="$(from_here "$2")"; shift 2 ;;
                --set) need_value "$1" $# "${2:-}" "SECTION.KEY=VALUE"; args+=(--set "$2"); shift 2 ;;
                --resume) need_value "$1" $# "${2:-}" "last, best or a checkpoint"
                    case "$2" in last|best) args+=(--resume "$2") ;;
                        *) args+=(--resume "$(from_here "$2")") ;; esac
                    shift 2 ;;
                --debug) args+=(--debug); shift ;;
                *) die "train-cloud: unknown option '$1' (--gpus N, --profile FILE, --resume last, --full-dataset, --checkpoint-interval N, --set SECTION.KEY=VALUE, --debug)" ;;
            esac
        done
        case "$gpus" in ''|*[!0-9]*|0) die "--gpus must be a positive number (got '$gpus')" ;; esac
        setup ""
        cd "$ROOT"
        if [ "$gpus" -gt 1 ]; then
            # Checked before torchrun: each rank would print the device error and
            # torchrun a traceback of its own.
            visible="$(visible_cuda_gpus)"
            if [ "$visible" -eq 0 ]; then
                die "train-cloud --gpus $gpus: no CUDA GPU is visible here (torch.cuda.device_count() is 0); run it on a machine with $gpus GPUs, or ./run_learning.sh train-local on this one"
            elif [ "$visible" -lt "$gpus" ]; then
                die "train-cloud --gpus $gpus: only $visible CUDA GPU(s) visible here; pass --gpus $visible, or run it on a machine with $gpus GPUs"
            fi
            # one process per GPU on this machine; rank 0 writes events and checkpoints
            exec "$VENV/bin/torchrun" --standalone --nproc_per_node "$gpus" \
                -m redheart run "$profile" "${args[@]}"
        fi
        exec "$VENV/bin/redheart" run "$profile" "${args[@]}"
        ;;
    train-validate)
        # PATH: any spelling `redheart validate` takes (a step folder, a best/last
        # pointer, a run directory), relative to where the user typed it; it is
        # checked there, before any data is read.
        checkpoint=""
        while [ $# -gt 0 ]; do
            case "$1" in
                --load-checkpoint)
                    if [ $# -ge 2 ] && [ "${2#--}" = "$2" ]; then checkpoint="$2"; shift 2; else shift; fi ;;
                *) die "train-validate: unknown option '$1' (--load-checkpoint [PATH])" ;;
            esac
        done
        [ -z "$checkpoint" ] || checkpoint="$(from_here "$checkpoint")"
        cd "$ROOT"
        if [ -z "$checkpoint" ]; then  # the best pointer of the newest run that has one
            # one folder a line: a run name may hold spaces ([run] name = "my run")
            while IFS= read -r dir; do
                if [ -f "$dir/best" ]; then checkpoint="$dir/best"; break; fi
            done < <(ls -td runs/*/checkpoints 2>/dev/null)
            [ -n "$checkpoint" ] \
                || die "train-validate: no run with a best checkpoint under runs/; train first or pass --load-checkpoint PATH"
        fi
        setup ""
        exec "$VENV/bin/redheart" validate "$checkpoint"
        ;;
    tui)
        setup ""
        cd "$ROOT"
        exec "$VENV/bin/redheart-tui" "$@"
        ;;
    -h|--help|help)
        no_arguments "$cmd" "$@"
        usage
        ;;
    '')
        usage >&2
        die "no command given (available: setup, test, train-local, train-cloud, train-validate, tui)"
        ;;
    *)
        usage >&2
        die "unknown command '${cmd}' (available: setup, test, train-local, train-cloud, train-validate, tui)"
        ;;
esac

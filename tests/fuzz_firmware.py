"""Fuzz the firmware's frame parser and command loop on the host, under ASan and UBSan.

Renders the stub-model project (tests/firmware_helpers.py), builds its src/main.c,
src/protocol.c and src/sq.c with the harness tests/fixtures/fuzz/fuzz_firmware.c
using the host gcc and ``-fsanitize=address,undefined``, then runs the harness on
seeded generated and mutated frames. ``make fuzz`` runs 10^6 frames;
tests/test_fuzz.py runs a short round.

usage: python tests/fuzz_firmware.py [--frames N] [--seed S] [--out DIR]
"""

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from firmware_helpers import FIXTURES, QEMU_TARGET, render_project  # noqa: E402

HARNESS = FIXTURES / "fuzz" / "fuzz_firmware.c"
SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"]
CFLAGS = ["-std=c11", "-O1", "-g", "-Wall", "-Wextra", "-Wno-unused-parameter", *SANITIZE]
FIRMWARE_SOURCES = ("src/main.c", "src/protocol.c", "src/sq.c", "model/model.c")
DEFAULT_FRAMES = 1_000_000


def build_harness(out_dir, compiler="gcc", patch=None, harness=HARNESS, defines=()):
    """Render the stub project into ``out_dir`` and build the sanitised ``harness``; returns its path.

    ``patch`` is ``(old, new)`` text replaced once in src/main.c (to plant a bug the harness must find);
    ``defines`` are extra ``NAME=VALUE`` macros for every source.
    """
    out_dir = Path(out_dir)
    project = render_project(out_dir / "project", QEMU_TARGET)
    if patch is not None:
        main_c = project / "src" / "main.c"
        text = main_c.read_text()
        if text.count(patch[0]) != 1:
            raise ValueError(f"{patch[0]!r} is not once in {main_c}")
        main_c.write_text(text.replace(*patch))
    include = out_dir / "include"
    include.mkdir(exist_ok=True)
    (include / "board_target.h").write_text("/* host fuzz build: no clock tree */\n")
    exe = out_dir / harness.stem
    sources = [str(project / s) for s in FIRMWARE_SOURCES]
    cflags = [*CFLAGS, *(f"-D{d}" for d in defines)]
    subprocess.run(
        [compiler, *cflags, "-Dmain=snn_firmware_main", f"-I{include}", f"-I{project / 'src'}",
         f"-I{project / 'model'}", "-c", sources[0], "-o", str(out_dir / "main.o")],
        check=True, capture_output=True, text=True,
    )
    subprocess.run(
        [compiler, *cflags, f"-I{include}", f"-I{project / 'src'}", f"-I{project / 'model'}",
         str(harness), *sources[1:], str(out_dir / "main.o"), "-o", str(exe)],
        check=True, capture_output=True, text=True,
    )
    return exe


def run_harness(exe, frames, seed=1):
    """Run ``frames`` frames from ``seed``; the CompletedProcess (text; not checked)."""
    return subprocess.run([str(exe), str(seed), str(frames)], capture_output=True, text=True,
                          env={"ASAN_OPTIONS": "detect_leaks=0:abort_on_error=0",
                               "UBSAN_OPTIONS": "print_stacktrace=1"})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=DEFAULT_FRAMES)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("build") / "fuzz")
    args = parser.parse_args()
    if shutil.which("gcc") is None:
        sys.exit("gcc not found: install the Debian package `gcc`")
    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    try:
        exe = build_harness(args.out)
    except subprocess.CalledProcessError as exc:
        sys.exit(f"building the fuzz harness failed:\n{exc.stderr}")
    done = run_harness(exe, args.frames, args.seed)
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr[-4000:])
    sys.exit(done.returncode)


if __name__ == "__main__":
    main()

"""Compile the generated model with the host's C compiler and run it.

This is how the export proves, before any board is involved, that the generated
C kernels give the same int8 output as the tflite_micro interpreter.
"""

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from semanticnn.errors import ToolMissingError
from semanticnn.firmware.render import TEMPLATES_DIR

__all__ = ["run_generated_model"]

HOST_DRIVER = r"""
#include <stdio.h>
#include <string.h>
#include "model.h"

int main(void)
{
    while (fread(snn_input, 1, SNN_INPUT_BYTES, stdin) == SNN_INPUT_BYTES) {
        const int8_t *out = snn_model_run();
        fwrite(out, 1, SNN_OUTPUT_BYTES, stdout);
    }
    return 0;
}
"""
HOST_CFLAGS = ["-std=c11", "-O2", "-Wall", "-Wextra", "-Werror"]


def run_generated_model(model_files: dict, inputs: np.ndarray, output_bytes: int) -> np.ndarray:
    """Build ``model_files`` ({"model/model.c": text, ...}) for the host and run it on ``inputs`` (int8, N x ...)."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        raise ToolMissingError("no host C compiler (cc) found: install gcc (apt-get install gcc)")
    with tempfile.TemporaryDirectory(prefix="snn-host-") as tmp:
        tmp = Path(tmp)
        for rel, text in model_files.items():
            (tmp / Path(rel).name).write_text(text)
        (tmp / "driver.c").write_text(HOST_DRIVER)
        sources = [str(tmp / "driver.c"), str(tmp / "model.c"), str(TEMPLATES_DIR / "src" / "kernels.c")]
        exe = tmp / "model_host"
        subprocess.run([cc, *HOST_CFLAGS, "-I", str(tmp), "-I", str(TEMPLATES_DIR / "src"), *sources, "-o", str(exe)],
                       check=True, capture_output=True, text=True)
        run = subprocess.run([str(exe)], input=np.ascontiguousarray(inputs, np.int8).tobytes(),
                             capture_output=True, check=True)
    return np.frombuffer(run.stdout, np.int8).reshape(len(inputs), -1)[:, :output_bytes]

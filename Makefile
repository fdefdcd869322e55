# SemanticNN toolchain. Fresh machine: `make demo` or `make test`; both run `make setup` first.
PY := .venv/bin/python
SNN := .venv/bin/snn
DEMO_DIR := build/demo-qemu-m7
SAMPLES ?= 20
JOBS ?= 2

.PHONY: setup test demo bench bench-qemu bench-engine bench-runtimes bench-accuracy bench-board-accuracy bench-serve bench-faults train flash stm32_project lint fuzz clean

setup:
	@scripts/setup.sh

test: setup
	$(PY) -m pytest -q

# Export the shipped model for the emulated Cortex-M7, build it, boot it in QEMU and bench it.
demo: setup
	$(SNN) export models/encoder.pt --target qemu-m7 -o $(DEMO_DIR)
	$(SNN) bench --qemu $(DEMO_DIR) --samples $(SAMPLES) --json $(DEMO_DIR)/bench.json --markdown $(DEMO_DIR)/bench.md

# Benchmarks; results go to docs/results/.
bench: bench-qemu bench-engine bench-runtimes bench-accuracy bench-board-accuracy bench-serve bench-faults

# The shipped model on every runtime (codegen, cmsis-nn, tflm, tflm-cmsis-nn) in one run, with ratios to
# codegen; needs CMSIS_NN_DIR and TFLM_DIR (scripts/runtime_trees.sh, docs/firmware.md "Runtimes").
bench-runtimes: setup
	@if [ -z "$$CMSIS_NN_DIR$$TFLM_DIR" ]; then echo "bench-runtimes skipped: set CMSIS_NN_DIR and TFLM_DIR (scripts/runtime_trees.sh)"; \
	else $(PY) -m semanticnn.bench.compare --samples $(SAMPLES) --out build/bench-runtimes \
	    --json docs/results/bench-runtimes.json --markdown docs/results/bench-runtimes.md; fi

# The engine on a matrix of encoder shapes (convs of every kernel/stride/padding kind, depthwise, residual, ResNet and
# MobileNetV2 stems) plus the shipped model, each bit-exact in QEMU M7: instructions, per MAC, RAM vs TFLM's arena.
bench-engine: setup
	$(PY) scripts/bench_engine.py --out docs/results

# Latency, memory and bit-exactness of the shipped model on the emulated Cortex-M7.
bench-qemu: setup
	$(SNN) export models/encoder.pt --target qemu-m7 -o build/bench-qemu-m7
	$(SNN) bench --qemu build/bench-qemu-m7 --samples 100 --json docs/results/bench-qemu-m7.json --markdown docs/results/bench-qemu-m7.md

# snn-bench with QEMU's serial port behind a proxy that drops 1% of the bytes, then one that stalls 5 s once.
bench-faults: setup
	$(SNN) export models/encoder.pt --target qemu-m7 -o build/bench-qemu-m7
	$(PY) scripts/bench_faults.py --project build/bench-qemu-m7 --samples $(SAMPLES) --out docs/results

# Accuracy from the emulated board's own packets through the bit channel and the onnxruntime receiver.
bench-board-accuracy: setup
	$(SNN) export models/encoder.pt --target qemu-m7 -o build/bench-qemu-m7
	$(SNN) bench --qemu build/bench-qemu-m7 --accuracy 500 --ber 0,1e-3,1e-2,5e-2 --seeds 3 --decoder models/decoder.pt --json docs/results/board-accuracy.json --markdown docs/results/board-accuracy.md

# snn serve on a local mosquitto: frames/s and latency against devices, with 1 and 2 processes.
bench-serve: setup
	$(SNN) export-decoder models/decoder.pt -o build/edge
	$(PY) -m semanticnn.edge.loadtest --model build/edge --out docs/results

# Accuracy against BER: rate-accuracy frontier, ablations and baselines. Evaluates the committed
# checkpoints (models/, models/runs/); runs without checkpoints are trained first (~10 min each).
bench-accuracy: setup
	$(PY) -m semanticnn.evaluate.frontier --train

# Retrain the shipped model on the committed base (`snn train --config configs/mcu.toml` trains the base too).
train: setup
	$(SNN) train --config configs/mcu.toml --base models/base.pt --out models

# Re-render the committed STM32F746G-DISCO project from models/encoder.pt.
stm32_project: setup
	$(SNN) export models/encoder.pt --target stm32f7 -o stm32_project

# Build and flash the committed project to a connected STM32F746G-DISCO.
flash:
	$(MAKE) -C stm32_project flash

# Fuzz the firmware's frame parser and command loop, built for the host with ASan + UBSan: 10^6 frames.
fuzz: setup
	$(PY) tests/fuzz_firmware.py --frames 1000000

lint: setup
	.venv/bin/ruff check toolchain tests

clean:
	rm -rf build

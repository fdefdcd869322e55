#!/bin/sh
# Check out the third-party trees of `snn-export --runtime cmsis-nn | tflm | tflm-cmsis-nn` into DIR,
# at the commits the measurements in docs/results/bench-runtimes.md used, then print the two
# variables to export. TFLite Micro's header-only dependencies go where its own
# `make third_party_downloads` puts them. Nothing is written inside this repository.
#   scripts/runtime_trees.sh /work/scratch
set -eu
dir=${1:?usage: scripts/runtime_trees.sh DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
downloads=tensorflow/lite/micro/tools/make/downloads

checkout() {  # checkout REPO COMMIT DEST
    if [ ! -d "$3/.git" ]; then
        git clone --quiet --filter=blob:none "https://github.com/$1" "$3"
    fi
    git -C "$3" checkout --quiet "$2"
}

checkout ARM-software/CMSIS-NN 99f736a63036613032f9b70de36b493bcd7802d4 "$dir/CMSIS-NN"
checkout tensorflow/tflite-micro 90b983c2b3f1480642e040bbd2ddb37b998f3424 "$dir/tflite-micro"
checkout google/flatbuffers v25.9.23 "$dir/tflite-micro/$downloads/flatbuffers"
checkout google/gemmlowp 719139ce755a0f31cbf1c37f7f98adcc7fc9f425 "$dir/tflite-micro/$downloads/gemmlowp"
checkout google/ruy d37128311b445e758136b8602d1bbd2a755e115d "$dir/tflite-micro/$downloads/ruy"

echo "export CMSIS_NN_DIR=$dir/CMSIS-NN"
echo "export TFLM_DIR=$dir/tflite-micro"

#!/usr/bin/env bash
# Compiles every kernel in src/main/cuda on its own, with only the headers beside it, into a cubin for sm_90a
# (H100/H200) and PTX for compute_90a (loaded by the driver's JIT where the cubin does not fit). wgmma/TMA code
# cannot go into compute_90 PTX, hence the "a" targets throughout.
# Usage: build-kernels.sh SOURCE_DIR OUTPUT_DIR. Without nvcc it says so and builds nothing: the jar then has no
# kernels, and the GPU tests skip.
set -euo pipefail
src=$1 out=$2
if ! command -v nvcc >/dev/null; then
    echo "build-kernels: nvcc not found; CUDA kernels are not compiled" >&2
    exit 0
fi
mkdir -p "$out"
for cu in "$src"/*.cu; do
    name=$(basename "$cu" .cu)
    nvcc -std=c++17 -O3 -Xptxas -warn-spills -cubin -arch=sm_90a -o "$out/$name.sm_90a.cubin" "$cu"
    nvcc -std=c++17 -O3 -ptx -gencode arch=compute_90a,code=compute_90a -o "$out/$name.compute_90a.ptx" "$cu"
done
echo "build-kernels: $(ls "$src"/*.cu | wc -l) kernels compiled for sm_90a with $(nvcc --version | tail -1)" >&2

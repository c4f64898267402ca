#!/usr/bin/env bash
# The GPU check, run on the GPU machine from the repository root with the packed folder carried along:
#   ./mvnw -B -pl kernels/device-check -am package -DskipTests       (here, where nvcc compiles the kernels)
#   run: bash kernels/device-check/device-check.sh   carry: kernels/device-check/target/device-check.tar.gz
# It prints the GPU, then one line per test: each kernel against its CPU twin, and the golden-logits tests of the
# BF16 fixture on the CUDA backend (and on the CPU backends beside it). Then the benchmarks: the fused MoE at the
# Hunyuan-Large layer shape against our per-expert loop; paged attention at its shape (decode at 1K-32K positions,
# a 4K prefill and a 512-token chunk, beside cuDNN's fused attention); our GEMMs and cuBLASLt on its lm_head; the
# host's cost per launch and per small copy; the same MoE block and lm_head in PyTorch (torch_bench.py, where
# python3 has torch); decode of the medium synthetic model at batch 1 and 32 on the float32 and bf16 paths against
# the GPU's copy bandwidth; and the bf16 path's drift from the float32 one (medium model and the BF16 fixture). Exit 0 all passed, 1 a failure, 2 a skip (no usable GPU). Within five
# minutes. Arguments name the benchmarks to run after the tests (moe attention lm_head launch torch decode drift);
# none runs them all.
set -uo pipefail
benchmarks="moe attention lm_head launch torch decode drift"
for name in "$@"; do
    if [[ " $benchmarks " != *" $name "* ]]; then
        echo "device-check: unknown benchmark '$name'; expected some of: $benchmarks" >&2
        exit 64
    fi
done
module="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
tar -C "$work" -xzf "$module/target/device-check.tar.gz" || exit 1
here="$work/device-check"
# The BF16 fixture's weights are the bundled model's, which travel with the working tree.
ln -s "$module/../../models/tiny-hunyuan-moe-bf16/model.safetensors" "$here/fixtures/tiny-hunyuan-moe-bf16/"
if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
else
    echo "nvidia-smi not found"
fi
# cuDNN 9 and cuBLAS 13 are not part of the driver; on the GPU machine they come with PyTorch's CUDA wheels. Their
# folders go to the Java commands (not to PyTorch, which brings its own) as the libraries' search path.
find_library() { # soname, then a pip wheel that holds it: its folder on stdout, or nothing
    local found
    found="$(ldconfig -p 2>/dev/null | awk -v name="$1" '$1 == name { print $NF }' | head -n 1)"
    if [ -z "$found" ]; then
        local roots=(/usr/local/cuda/lib64 /usr/lib/x86_64-linux-gnu)
        if command -v python3 >/dev/null; then
            local sites
            read -r -a sites <<<"$(python3 -c 'import site; print(" ".join(site.getsitepackages()))' 2>/dev/null)"
            roots+=("${sites[@]}")
        fi
        found="$(find "${roots[@]}" -name "$1" -print 2>/dev/null | head -n 1)"
    fi
    if [ -z "$found" ]; then
        # Not installed, but perhaps kept as a wheel (as on the build machine): unpacked into the work folder.
        local wheel
        wheel="$(find /opt/pypi-more/files -maxdepth 1 -name "$2" 2>/dev/null | sort | tail -n 1)"
        if [ -n "$wheel" ] && unzip -q -o "$wheel" 'nvidia/*' -d "$work/wheels" 2>/dev/null; then
            found="$(find "$work/wheels" -name "$1" -print | head -n 1)"
        fi
    fi
    [ -n "$found" ] && dirname "$found"
}
cudnn_dir="$(find_library libcudnn.so.9 'nvidia_cudnn_cu13-*.whl')"
cublas_dir="$(find_library libcublasLt.so.13 'nvidia_cublas-13*.whl')"
nvrtc_dir="$(find_library libnvrtc.so.13 'nvidia_cuda_nvrtc-13*.whl')"
echo "cuDNN 9: ${cudnn_dir:-not found}; cuBLASLt 13: ${cublas_dir:-not found}; NVRTC 13: ${nvrtc_dir:-not found}"
library_dirs=()
for dir in "$cudnn_dir" "$cublas_dir" "$nvrtc_dir"; do
    [ -n "$dir" ] && library_dirs+=("$dir")
done
library_path="$(IFS=:; echo "${library_dirs[*]+${library_dirs[*]}}")"
search_path="$library_path${LD_LIBRARY_PATH:+${library_path:+:}$LD_LIBRARY_PATH}"
java_env=(env "LD_LIBRARY_PATH=$search_path")
library_properties=(-Dhyserve.cudnn.libraries="$cudnn_dir" -Dhyserve.cublas.libraries="$cublas_dir")
mkdir -p "$work/tmp"
java=("${java_env[@]}" "$here/runtime/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED
    -Djava.io.tmpdir="$work/tmp")
timeout 160 "${java[@]}" "${library_properties[@]}" -Dhyserve.fixtures="$here/fixtures" -Dhyserve.fixtures.models=tiny-hunyuan-moe-bf16 \
    -jar "$here/device-tests.jar"
status=$?
# The benchmarks run after a failed test too (the failure qualifies their figures), not without a usable GPU.
if [ "$status" -eq 0 ] || [ "$status" -eq 1 ]; then
    bench=("${java[@]}" -cp "$here/device-tests.jar")
    chosen=" ${*:-$benchmarks} "
    if [[ $chosen == *" moe "* ]]; then
        timeout 150 "${bench[@]}" io.hyserve.devicecheck.MoeBench || status=1
    fi
    if [[ $chosen == *" attention "* ]]; then
        timeout 90 "${bench[@]}" io.hyserve.devicecheck.AttentionBench ${library_dirs[@]+"${library_dirs[@]}"} \
            || status=1
    fi
    if [[ $chosen == *" lm_head "* ]]; then
        timeout 60 "${bench[@]}" io.hyserve.devicecheck.LmHeadBench ${library_dirs[@]+"${library_dirs[@]}"} \
            || status=1
    fi
    if [[ $chosen == *" launch "* ]]; then
        timeout 60 "${bench[@]}" io.hyserve.devicecheck.LaunchBench || status=1
    fi
    if [[ $chosen == *" torch "* ]]; then
        if python3 -c "import torch" 2>/dev/null; then
            PYTHONUNBUFFERED=1 timeout 100 python3 "$module/torch_bench.py" || status=1
        else
            echo "torch bench: skipped, python3 has no torch"
        fi
    fi
    if [[ $chosen == *" decode "* ]]; then
        timeout 150 "${bench[@]}" io.hyserve.devicecheck.DecodeBench cuda,cuda-bf16 medium \
            "$here/fixtures/tokenizer" || status=1
    fi
    if [[ $chosen == *" drift "* ]]; then
        timeout 60 "${bench[@]}" io.hyserve.devicecheck.Bf16Drift "$here/fixtures/tiny-hunyuan-moe-bf16" \
            "$here/fixtures/tokenizer" || status=1
    fi
fi
exit "$status"

// out = in @ weight^T for float32 activations and BF16, F16 or float32 weights (as the checkpoint stores them):
// in (rows, k), weight (n, k), out (rows, n). One warp owns one weight row and up to ROWS input rows: its lanes
// stride over k and a shuffle tree sums them, so every output element is reduced in the same order however many
// rows share the call (batch-invariant), and each weight row is read once per ROWS input rows.
// This is the correct baseline the tensor-core GEMMs are checked against; CPU reference: CpuBackend.matmul
// (CpuReference.matmul in the tests). Launch: grid = (ceil(n / 8), ceil(rows / ROWS)), block = 256 (8 warps).
#include <cuda_fp16.h>

#include "common.cuh"

namespace {

constexpr int ROWS = 8;

__device__ __forceinline__ float widen(uint16_t bits, bool bf16) {
    return bf16 ? hy::bf16_to_float(bits) : __half2float(__ushort_as_half(bits));
}

template <typename Load>
__device__ __forceinline__ void matmul_warp(float* out, const float* in, int rows, int n, int k, Load load) {
    const int lane = threadIdx.x & 31;
    const int row_of_weight = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    if (row_of_weight >= n) {
        return;
    }
    const int first = blockIdx.y * ROWS;
    const int count = min(ROWS, rows - first);
    float acc[ROWS];
#pragma unroll
    for (int r = 0; r < ROWS; r++) {
        acc[r] = 0.0f;
    }
    for (int i = lane; i < k; i += 32) {
        const float w = load(static_cast<int64_t>(row_of_weight) * k + i);
#pragma unroll
        for (int r = 0; r < ROWS; r++) {
            if (r < count) {
                acc[r] = fmaf(in[static_cast<int64_t>(first + r) * k + i], w, acc[r]);
            }
        }
    }
#pragma unroll
    for (int r = 0; r < ROWS; r++) {
        const float sum = hy::warp_sum(acc[r]);
        if (lane == 0 && r < count) {
            out[static_cast<int64_t>(first + r) * n + row_of_weight] = sum;
        }
    }
}

}  // namespace

extern "C" __global__ void hy_matmul_bf16(float* __restrict__ out, const float* __restrict__ in,
                                          const uint16_t* __restrict__ weight, int rows, int n, int k) {
    matmul_warp(out, in, rows, n, k, [weight](int64_t i) { return widen(weight[i], true); });
}

extern "C" __global__ void hy_matmul_f16(float* __restrict__ out, const float* __restrict__ in,
                                         const uint16_t* __restrict__ weight, int rows, int n, int k) {
    matmul_warp(out, in, rows, n, k, [weight](int64_t i) { return widen(weight[i], false); });
}

extern "C" __global__ void hy_matmul_f32(float* __restrict__ out, const float* __restrict__ in,
                                         const float* __restrict__ weight, int rows, int n, int k) {
    matmul_warp(out, in, rows, n, k, [weight](int64_t i) { return weight[i]; });
}

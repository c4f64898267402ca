// out = in @ weight^T for float32 activations and BF16, F16 or float32 weights (as the checkpoint stores them):
// in (rows, k), weight (n, k), out (rows, n). One warp owns one weight row and up to ROWS input rows: its lanes
// stride over k in groups of 8 elements (one 16-byte load of 16-bit weights; scalar when k is not a multiple of 8)
// and a shuffle tree sums them, so every output element is reduced in an order that depends on k alone, however
// many rows share the call (batch-invariant), and each weight row is read once per ROWS input rows.
// This is the correct baseline the tensor-core GEMMs are checked against; CPU reference: CpuBackend.matmul
// (CpuReference.matmul in the tests). Launch: grid = (ceil(n / 8), ceil(rows / ROWS)), block = 256 (8 warps).
#include <cuda_fp16.h>

#include "common.cuh"

namespace {

constexpr int ROWS = 8;

__device__ __forceinline__ float widen(uint16_t bits, bool bf16) {
    return bf16 ? hy::bf16_to_float(bits) : __half2float(__ushort_as_half(bits));
}

// Eight consecutive weights from element i (a multiple of 8), widened to float32.
__device__ __forceinline__ void load8(float (&w)[8], const uint16_t* weight, int64_t i, bool bf16) {
    const uint4 bits = *reinterpret_cast<const uint4*>(weight + i);
    const uint32_t words[4] = {bits.x, bits.y, bits.z, bits.w};
#pragma unroll
    for (int j = 0; j < 4; j++) {
        w[2 * j] = widen(static_cast<uint16_t>(words[j] & 0xffffu), bf16);
        w[2 * j + 1] = widen(static_cast<uint16_t>(words[j] >> 16), bf16);
    }
}

__device__ __forceinline__ void load8(float (&w)[8], const float* weight, int64_t i, bool) {
    const float4 a = *reinterpret_cast<const float4*>(weight + i);
    const float4 b = *reinterpret_cast<const float4*>(weight + i + 4);
    w[0] = a.x, w[1] = a.y, w[2] = a.z, w[3] = a.w, w[4] = b.x, w[5] = b.y, w[6] = b.z, w[7] = b.w;
}

// k a multiple of 8: 16-byte loads of weights and inputs.
template <typename Weight>
__device__ __forceinline__ void matmul_warp8(float* out, const float* in, int rows, int n, int k,
                                             const Weight* weight, bool bf16) {
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
    for (int i = lane * 8; i < k; i += 32 * 8) {
        float w[8];
        load8(w, weight, static_cast<int64_t>(row_of_weight) * k + i, bf16);
#pragma unroll
        for (int r = 0; r < ROWS; r++) {
            if (r < count) {
                const float* x = in + static_cast<int64_t>(first + r) * k + i;
                const float4 a = *reinterpret_cast<const float4*>(x);
                const float4 b = *reinterpret_cast<const float4*>(x + 4);
                float sum = acc[r];
                sum = fmaf(a.x, w[0], sum);
                sum = fmaf(a.y, w[1], sum);
                sum = fmaf(a.z, w[2], sum);
                sum = fmaf(a.w, w[3], sum);
                sum = fmaf(b.x, w[4], sum);
                sum = fmaf(b.y, w[5], sum);
                sum = fmaf(b.z, w[6], sum);
                sum = fmaf(b.w, w[7], sum);
                acc[r] = sum;
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
    if (k % 8 == 0) {
        matmul_warp8(out, in, rows, n, k, weight, true);
    } else {
        matmul_warp(out, in, rows, n, k, [weight](int64_t i) { return widen(weight[i], true); });
    }
}

extern "C" __global__ void hy_matmul_f16(float* __restrict__ out, const float* __restrict__ in,
                                         const uint16_t* __restrict__ weight, int rows, int n, int k) {
    if (k % 8 == 0) {
        matmul_warp8(out, in, rows, n, k, weight, false);
    } else {
        matmul_warp(out, in, rows, n, k, [weight](int64_t i) { return widen(weight[i], false); });
    }
}

extern "C" __global__ void hy_matmul_f32(float* __restrict__ out, const float* __restrict__ in,
                                         const float* __restrict__ weight, int rows, int n, int k) {
    if (k % 8 == 0) {
        matmul_warp8(out, in, rows, n, k, weight, false);
    } else {
        matmul_warp(out, in, rows, n, k, [weight](int64_t i) { return weight[i]; });
    }
}

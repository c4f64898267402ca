// Shared device helpers of the hunyuan-serve kernels. Activations are float32, row-major; weights are BF16
// (raw 16-bit words, as safetensors stores them) or float32. Build: see kernels/build-kernels.sh.
#pragma once

#include <cstdint>

namespace hy {

// BF16 is the upper half of a float32: widening is a shift, exact.
__device__ __forceinline__ float bf16_to_float(uint16_t bits) {
    return __uint_as_float(static_cast<uint32_t>(bits) << 16);
}

__device__ __forceinline__ float warp_sum(float v) {
    for (int offset = 16; offset > 0; offset >>= 1) {
        v += __shfl_xor_sync(0xffffffffu, v, offset);
    }
    return v;
}

// Sum over the whole block; every thread gets the result. `scratch` holds one float per warp (32 suffice).
__device__ __forceinline__ float block_sum(float v, float* scratch) {
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    v = warp_sum(v);
    __syncthreads();  // scratch may still be read by a previous call
    if (lane == 0) {
        scratch[warp] = v;
    }
    __syncthreads();
    const int warps = (blockDim.x + 31) >> 5;
    v = lane < warps ? scratch[lane] : 0.0f;
    return warp_sum(v);
}

// 1 / sqrt(mean(v^2) + eps) over n floats, computed by the whole block; every thread gets it.
__device__ __forceinline__ float inverse_rms(const float* v, int n, float eps, float* scratch) {
    float squares = 0.0f;
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        squares = fmaf(v[i], v[i], squares);
    }
    return rsqrtf(block_sum(squares, scratch) / n + eps);
}

}  // namespace hy

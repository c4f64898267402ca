// Embedding gather: out[t, :] = table[ids[t], :] of a BF16, F16 or float32 table, widened to float32.
// CPU reference: CpuBackend.embed (EmbeddingReference in the tests). Ids are checked on the host first.
// Launch: grid = tokens, block = 256.
#include <cuda_fp16.h>

#include "common.cuh"

extern "C" __global__ void hy_embed_bf16(float* __restrict__ out, const uint16_t* __restrict__ table,
                                         const int* __restrict__ ids, int cols) {
    const int t = blockIdx.x;
    const uint16_t* row = table + static_cast<int64_t>(ids[t]) * cols;
    float* dst = out + static_cast<int64_t>(t) * cols;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) {
        dst[c] = hy::bf16_to_float(row[c]);
    }
}

extern "C" __global__ void hy_embed_f16(float* __restrict__ out, const uint16_t* __restrict__ table,
                                        const int* __restrict__ ids, int cols) {
    const int t = blockIdx.x;
    const uint16_t* row = table + static_cast<int64_t>(ids[t]) * cols;
    float* dst = out + static_cast<int64_t>(t) * cols;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) {
        dst[c] = __half2float(__ushort_as_half(row[c]));
    }
}

extern "C" __global__ void hy_embed_f32(float* __restrict__ out, const float* __restrict__ table,
                                        const int* __restrict__ ids, int cols) {
    const int t = blockIdx.x;
    const float* row = table + static_cast<int64_t>(ids[t]) * cols;
    float* dst = out + static_cast<int64_t>(t) * cols;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) {
        dst[c] = row[c];
    }
}

// Embedding gather: out[t, :] = table[ids[t], :] of a BF16, F16 or float32 table, widened to float32.
// CPU reference: CpuBackend.embed (CpuReference.embedBf16 in the tests). Ids are checked on the host first.
// Launch: grid = tokens, block = 256.
#include <cuda_fp16.h>

#include "common.cuh"

namespace {

template <typename Element, typename Widen>
__device__ __forceinline__ void gather(float* out, const Element* table, const int* ids, int cols, Widen widen) {
    const Element* row = table + static_cast<int64_t>(ids[blockIdx.x]) * cols;
    float* dst = out + static_cast<int64_t>(blockIdx.x) * cols;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) {
        dst[c] = widen(row[c]);
    }
}

}  // namespace

extern "C" __global__ void hy_embed_bf16(float* __restrict__ out, const uint16_t* __restrict__ table,
                                         const int* __restrict__ ids, int cols) {
    gather(out, table, ids, cols, [](uint16_t bits) { return hy::bf16_to_float(bits); });
}

extern "C" __global__ void hy_embed_f16(float* __restrict__ out, const uint16_t* __restrict__ table,
                                        const int* __restrict__ ids, int cols) {
    gather(out, table, ids, cols, [](uint16_t bits) { return __half2float(__ushort_as_half(bits)); });
}

extern "C" __global__ void hy_embed_f32(float* __restrict__ out, const float* __restrict__ table,
                                        const int* __restrict__ ids, int cols) {
    gather(out, table, ids, cols, [](float value) { return value; });
}

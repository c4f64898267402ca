// SwiGLU activation of the dense and expert MLPs: gate[i] = silu(gate[i]) * up[i], in place.
// CPU reference: CpuBackend.siluMul (CpuReference.siluMul in the tests).
// Launch: grid = ceil(n / 256) (capped; the loop strides), block = 256.
#include "common.cuh"

extern "C" __global__ void hy_silu_mul(float* __restrict__ gate, const float* __restrict__ up, int64_t n) {
    const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
        const float z = gate[i];
        gate[i] = z / (1.0f + expf(-z)) * up[i];
    }
}

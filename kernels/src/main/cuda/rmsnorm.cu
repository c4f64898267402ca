// RMSNorm, y = x / sqrt(mean(x^2) + eps) * w, per row; and the same fused with the residual add that precedes
// every norm after the first (residual += delta; y = norm(residual)), one read of each row instead of three.
// CPU reference: CpuBackend.rmsNorm / add (CpuReference.rmsNorm in the tests); sums are float32 in a tree order,
// so results agree with the CPU's ordered sums to a few ulps, not bit for bit.
// Launch: grid = rows, block = 256 (any multiple of 32 up to 1024), no dynamic shared memory.
#include "common.cuh"

// out may be in: each thread rewrites only the elements it read.
extern "C" __global__ void hy_rms_norm(float* out, const float* in, const float* __restrict__ weight, int cols,
                                       float eps) {
    __shared__ float scratch[32];
    const float* x = in + static_cast<int64_t>(blockIdx.x) * cols;
    float* y = out + static_cast<int64_t>(blockIdx.x) * cols;
    const float inverse = hy::inverse_rms(x, cols, eps, scratch);
    for (int c = threadIdx.x; c < cols; c += blockDim.x) {
        y[c] = x[c] * inverse * weight[c];
    }
}

extern "C" __global__ void hy_add_rms_norm(float* __restrict__ out, float* __restrict__ residual,
                                           const float* __restrict__ delta, const float* __restrict__ weight,
                                           int cols, float eps) {
    __shared__ float scratch[32];
    const int64_t base = static_cast<int64_t>(blockIdx.x) * cols;
    float squares = 0.0f;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) {
        const float sum = residual[base + c] + delta[base + c];
        residual[base + c] = sum;
        squares = fmaf(sum, sum, squares);
    }
    const float inverse = rsqrtf(hy::block_sum(squares, scratch) / cols + eps);
    for (int c = threadIdx.x; c < cols; c += blockDim.x) {
        out[base + c] = residual[base + c] * inverse * weight[c];
    }
}

// The small element-wise steps of the forward pass: residual add, bias, row gather and scatter (MoE dispatch),
// and the MoE combine, out[t] += sum over j of weight(t, j) * expert_out(t, j), in the token's top-k order as
// the CPU backend sums it. CPU reference: CpuBackend.add / addBias / gatherRows / moeExperts' combine
// (checked inline in ForwardKernelsOnDeviceTest). Launch: see each kernel.
#include "common.cuh"

// acc += x over n floats. Grid-stride: grid = min(ceil(n / 256), 65535), block = 256.
extern "C" __global__ void hy_add(float* __restrict__ acc, const float* __restrict__ x, int64_t n) {
    const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
    for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
        acc[i] += x[i];
    }
}

// x[r, :] += bias. Grid = rows, block = 256.
extern "C" __global__ void hy_add_bias(float* __restrict__ x, const float* __restrict__ bias, int cols) {
    float* row = x + static_cast<int64_t>(blockIdx.x) * cols;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) {
        row[c] += bias[c];
    }
}

// out[i, :] = in[rows[i], :]. Grid = number of rows gathered, block = 256.
extern "C" __global__ void hy_gather_rows(float* __restrict__ out, const float* __restrict__ in,
                                          const int* __restrict__ rows, int cols) {
    const float* src = in + static_cast<int64_t>(rows[blockIdx.x]) * cols;
    float* dst = out + static_cast<int64_t>(blockIdx.x) * cols;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) {
        dst[c] = src[c];
    }
}

// out[rows[i], :] = in[i, :]. Grid = number of rows scattered, block = 256.
extern "C" __global__ void hy_scatter_rows(float* __restrict__ out, const float* __restrict__ in,
                                           const int* __restrict__ rows, int cols) {
    const float* src = in + static_cast<int64_t>(blockIdx.x) * cols;
    float* dst = out + static_cast<int64_t>(rows[blockIdx.x]) * cols;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) {
        dst[c] = src[c];
    }
}

// out[t, :] += sum_j weights[t * top_k + j] * expert_out[t * top_k + j, :]. Grid = tokens, block = 256.
extern "C" __global__ void hy_moe_combine(float* __restrict__ out, const float* __restrict__ expert_out,
                                          const float* __restrict__ weights, int top_k, int cols) {
    const int t = blockIdx.x;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) {
        float sum = 0.0f;
        for (int j = 0; j < top_k; j++) {
            sum += weights[t * top_k + j] * expert_out[(static_cast<int64_t>(t) * top_k + j) * cols + c];
        }
        out[static_cast<int64_t>(t) * cols + c] += sum;
    }
}

// Rotary embedding fused with the per-head RMSNorm that HunYuan applies to queries and keys after it (QK-norm).
// cos/sin are (tokens, headDim/2) tables computed on the host for each token's position, with the dynamic-NTK
// base already folded in (RotaryEmbedding). Halves rotate as in HF's rotate_half:
//   lo' = lo*cos - hi*sin, hi' = hi*cos + lo*sin.
// weight may be null: rotation only (checkpoints without QK-norm). CPU reference: CpuBackend.rope then
// headRmsNorm (CpuReference.ropeQkNorm in the tests).
// Launch: grid = (heads, tokens), block = 128 (any multiple of 32; threads loop over the head),
// dynamic shared memory = headDim floats.
#include "common.cuh"

extern "C" __global__ void hy_rope_qk_norm(float* __restrict__ x, const float* __restrict__ cos_table,
                                           const float* __restrict__ sin_table, const float* __restrict__ weight,
                                           int num_heads, int head_dim, float eps) {
    extern __shared__ float head[];
    __shared__ float scratch[32];
    const int h = blockIdx.x;
    const int t = blockIdx.y;
    const int half = head_dim / 2;
    float* v = x + (static_cast<int64_t>(t) * num_heads + h) * head_dim;
    const float* cs = cos_table + static_cast<int64_t>(t) * half;
    const float* sn = sin_table + static_cast<int64_t>(t) * half;
    for (int j = threadIdx.x; j < half; j += blockDim.x) {
        const float lo = v[j];
        const float hi = v[j + half];
        head[j] = lo * cs[j] - hi * sn[j];
        head[j + half] = hi * cs[j] + lo * sn[j];
    }
    __syncthreads();
    if (weight == nullptr) {
        for (int i = threadIdx.x; i < head_dim; i += blockDim.x) {
            v[i] = head[i];
        }
        return;
    }
    const float inverse = hy::inverse_rms(head, head_dim, eps, scratch);
    for (int i = threadIdx.x; i < head_dim; i += blockDim.x) {
        v[i] = head[i] * inverse * weight[i];
    }
}

// The paged KV cache: writing a step's keys and values to their pool slots, and causal GQA attention of each
// query over its own sequence through its block table. Pool layout, float32:
//   [kv_layer][K | V][slot = block * block_size + offset][kv_head][head_dim]
// With unit_rms keys are stored divided by their per-head RMS and each layer's key-norm weight is folded into
// its query (q . (w * k_hat) = (q * w) . k_hat), so the layers of a CLA group share one cache entry.
// Attention streams the sequence in chunks of blockDim positions with an online softmax (running max and sum),
// so any context length fits in a fixed amount of shared memory; every query's reduction order depends only on
// its own position, never on the batch (batch-invariant).
// CPU reference: CpuBackend.writeKv / attention (CpuReference.attention in the tests).
#include "common.cuh"

namespace {

__device__ __forceinline__ int64_t kv_offset(int kv_layer, int value, int slot, int head, int num_kv_heads,
                                             int head_dim, int64_t plane_floats) {
    return (2LL * kv_layer + value) * plane_floats + (static_cast<int64_t>(slot) * num_kv_heads + head) * head_dim;
}

__device__ __forceinline__ float block_max(float v, float* scratch) {
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    for (int offset = 16; offset > 0; offset >>= 1) {
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
    }
    __syncthreads();
    if (lane == 0) {
        scratch[warp] = v;
    }
    __syncthreads();
    const int warps = (blockDim.x + 31) >> 5;
    v = lane < warps ? scratch[lane] : -INFINITY;
    for (int offset = 16; offset > 0; offset >>= 1) {
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
    }
    return v;
}

}  // namespace

// Launch: grid = (num_kv_heads, tokens), block = 128.
extern "C" __global__ void hy_write_kv(float* __restrict__ pool, const float* __restrict__ keys,
                                       const float* __restrict__ values, const int* __restrict__ slots,
                                       int key_cols, int value_cols, int kv_layer, int num_kv_heads, int head_dim,
                                       int64_t plane_floats, int unit_rms, float eps) {
    __shared__ float scratch[32];
    const int h = blockIdx.x;
    const int t = blockIdx.y;
    const float* k = keys + static_cast<int64_t>(t) * key_cols + h * head_dim;
    const float* v = values + static_cast<int64_t>(t) * value_cols + h * head_dim;
    const float scale = unit_rms ? hy::inverse_rms(k, head_dim, eps, scratch) : 1.0f;
    float* key_at = pool + kv_offset(kv_layer, 0, slots[t], h, num_kv_heads, head_dim, plane_floats);
    float* value_at = pool + kv_offset(kv_layer, 1, slots[t], h, num_kv_heads, head_dim, plane_floats);
    for (int i = threadIdx.x; i < head_dim; i += blockDim.x) {
        key_at[i] = k[i] * scale;
        value_at[i] = v[i];
    }
}

// out (tokens, heads * head_dim) from queries of the same shape. block_tables is (sequences, max_blocks).
// Launch: grid = (heads, tokens), block = 128, dynamic shared memory = (head_dim + blockDim) floats.
// head_dim must be at most 4 * blockDim.
extern "C" __global__ void hy_paged_attention(float* __restrict__ out, const float* __restrict__ queries,
                                              const float* __restrict__ pool, const float* __restrict__ key_norm,
                                              const int* __restrict__ positions, const int* __restrict__ token_sequence,
                                              const int* __restrict__ block_tables, int max_blocks, int kv_layer,
                                              int heads, int num_kv_heads, int head_dim, int block_size,
                                              int64_t plane_floats, float scale) {
    extern __shared__ float shared[];
    float* q = shared;                 // head_dim
    float* weights = shared + head_dim;  // blockDim: this chunk's softmax numerators
    __shared__ float scratch[32];
    const int h = blockIdx.x;
    const int t = blockIdx.y;
    const int kv_head = h / (heads / num_kv_heads);
    const int length = positions[t] + 1;
    const int* table = block_tables + static_cast<int64_t>(token_sequence[t]) * max_blocks;
    const float* query = queries + (static_cast<int64_t>(t) * heads + h) * head_dim;
    for (int i = threadIdx.x; i < head_dim; i += blockDim.x) {
        q[i] = key_norm == nullptr ? query[i] : query[i] * key_norm[i];
    }
    __syncthreads();

    float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};  // output dims threadIdx.x + j * blockDim.x
    float running_max = -INFINITY;
    float running_sum = 0.0f;
    for (int start = 0; start < length; start += blockDim.x) {
        const int p = start + threadIdx.x;
        float score = -INFINITY;
        if (p < length) {
            const int slot = table[p / block_size] * block_size + p % block_size;
            const float* key = pool + kv_offset(kv_layer, 0, slot, kv_head, num_kv_heads, head_dim, plane_floats);
            float dot = 0.0f;
            for (int i = 0; i < head_dim; i++) {
                dot = fmaf(q[i], key[i], dot);
            }
            score = dot * scale;
        }
        const float new_max = fmaxf(running_max, block_max(score, scratch));
        const float correction = expf(running_max - new_max);
        const float numerator = p < length ? expf(score - new_max) : 0.0f;
        weights[threadIdx.x] = numerator;
        running_sum = running_sum * correction + hy::block_sum(numerator, scratch);
        running_max = new_max;
        __syncthreads();  // weights complete
        const int in_chunk = min(static_cast<int>(blockDim.x), length - start);
#pragma unroll
        for (int j = 0; j < 4; j++) {
            const int d = threadIdx.x + j * blockDim.x;
            if (d < head_dim) {
                float sum = acc[j] * correction;
                for (int c = 0; c < in_chunk; c++) {
                    const int pos = start + c;
                    const int slot = table[pos / block_size] * block_size + pos % block_size;
                    sum = fmaf(weights[c],
                               pool[kv_offset(kv_layer, 1, slot, kv_head, num_kv_heads, head_dim, plane_floats) + d],
                               sum);
                }
                acc[j] = sum;
            }
        }
        __syncthreads();  // weights are rewritten by the next chunk
    }
    float* o = out + (static_cast<int64_t>(t) * heads + h) * head_dim;
#pragma unroll
    for (int j = 0; j < 4; j++) {
        const int d = threadIdx.x + j * blockDim.x;
        if (d < head_dim) {
            o[d] = acc[j] / running_sum;
        }
    }
}

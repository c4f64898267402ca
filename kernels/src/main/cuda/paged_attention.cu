// The paged KV cache: writing a step's keys and values to their pool slots, and causal GQA attention of each
// query over its own sequence through its block table. Pool layout, float32:
//   [kv_layer][K | V][slot = block * block_size + offset][kv_head][head_dim]
// With unit_rms keys are stored divided by their per-head RMS and each layer's key-norm weight is folded into
// its query (q . (w * k_hat) = (q * w) . k_hat), so the layers of a CLA group share one cache entry.
// Attention, flash-decoding style for decode and prefill alike: a query's context is cut into segments of SEGMENT
// positions, each attended by its own block (spreading a long context over the GPU), streamed through shared
// memory in chunks of CHUNK positions with an online softmax; hy_attention_merge then combines a query's segments
// in order. Prefill tiles up to TILE consecutive queries of one sequence into a block so each K/V chunk is loaded
// once for all of them. A query's arithmetic is the same whether it sits in a tile of 16 or alone in a decode
// step: masked positions add exact zeros, and segments and chunks start at fixed positions. So its output depends
// only on its own position and cache, never on the batch or the chunking (batch-invariant).
// CPU reference: CpuBackend.writeKv / attention (CpuReference.attention in the tests).
#include "common.cuh"

namespace {

__device__ __forceinline__ int64_t kv_offset(int kv_layer, int value, int slot, int head, int num_kv_heads,
                                             int head_dim, int64_t plane_floats) {
    return (2LL * kv_layer + value) * plane_floats + (static_cast<int64_t>(slot) * num_kv_heads + head) * head_dim;
}

constexpr int SEGMENT = 512;
constexpr int CHUNK = 64;
constexpr int TILE = 16;
constexpr int THREADS = 256;
constexpr int MAX_HEAD_DIM = 128;
// Outputs each thread accumulates: TILE queries × MAX_HEAD_DIM dimensions over THREADS threads.
constexpr int PER_THREAD = TILE * MAX_HEAD_DIM / THREADS;

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

// Launch: grid = (work items, heads), block = THREADS, dynamic shared memory = ((TILE + 2 · CHUNK) · (head_dim + 1)
// + TILE · (CHUNK + 3)) floats.
// work is (items, 3): first token, query count (≤ TILE, consecutive positions of one sequence), segment.
// partials is (tokens, heads, max_segments, head_dim + 2): the segment's unnormalised output, running max and sum.
extern "C" __global__ void __launch_bounds__(THREADS)
hy_attention_segment(float* __restrict__ partials, const float* __restrict__ queries, const float* __restrict__ pool,
                     const float* __restrict__ key_norm, const int* __restrict__ positions,
                     const int* __restrict__ token_sequence, const int* __restrict__ block_tables,
                     const int* __restrict__ work, int max_blocks, int max_segments, int kv_layer, int heads,
                     int num_kv_heads, int head_dim, int block_size, int64_t plane_floats, float scale) {
    extern __shared__ float shared[];
    const int stride = head_dim + 1;  // padded rows: the lanes of a warp read 32 different keys conflict-free
    float* q = shared;                          // TILE × stride
    float* k = q + TILE * stride;               // CHUNK × stride
    float* v = k + CHUNK * stride;              // CHUNK × stride
    float* p = v + CHUNK * stride;              // TILE × CHUNK: this chunk's softmax numerators
    float* row_max = p + TILE * CHUNK;          // TILE
    float* row_sum = row_max + TILE;            // TILE
    float* correction = row_sum + TILE;         // TILE

    const int first = work[3 * blockIdx.x];
    const int count = work[3 * blockIdx.x + 1];
    const int segment = work[3 * blockIdx.x + 2];
    const int h = blockIdx.y;
    const int kv_head = h / (heads / num_kv_heads);
    const int* table = block_tables + static_cast<int64_t>(token_sequence[first]) * max_blocks;
    const int first_position = positions[first];
    const int segment_start = segment * SEGMENT;
    // The tile's last query sees the most; earlier ones mask what lies past them.
    const int segment_end = min(segment_start + SEGMENT, first_position + count);

    for (int i = threadIdx.x; i < TILE * stride; i += THREADS) {
        const int row = i / stride;
        const int d = i % stride;
        float value = 0.0f;
        if (row < count && d < head_dim) {
            value = queries[(static_cast<int64_t>(first + row) * heads + h) * head_dim + d];
            value = key_norm == nullptr ? value : value * key_norm[d];
        }
        q[i] = value;
    }
    if (threadIdx.x < TILE) {
        row_max[threadIdx.x] = -INFINITY;
        row_sum[threadIdx.x] = 0.0f;
    }
    float acc[PER_THREAD];
#pragma unroll
    for (int j = 0; j < PER_THREAD; j++) {
        acc[j] = 0.0f;
    }

    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    for (int chunk = segment_start; chunk < segment_end; chunk += CHUNK) {
        const int valid = min(CHUNK, segment_end - chunk);
        __syncthreads();  // the previous chunk's keys, values and numerators are no longer read
        for (int i = threadIdx.x; i < CHUNK * head_dim; i += THREADS) {
            const int row = i / head_dim;
            const int d = i % head_dim;
            float key = 0.0f;
            float value = 0.0f;  // past the end: zeros, so a zero weight never meets a stale NaN
            if (row < valid) {
                const int position = chunk + row;
                const int slot = table[position / block_size] * block_size + position % block_size;
                const int64_t at = (2LL * kv_layer) * plane_floats +
                                   (static_cast<int64_t>(slot) * num_kv_heads + kv_head) * head_dim + d;
                key = pool[at];
                value = pool[at + plane_floats];
            }
            k[row * stride + d] = key;
            v[row * stride + d] = value;
        }
        __syncthreads();
        // Scores: thread (row group, key) takes key j = tid % CHUNK for rows tid / CHUNK + 4r.
        for (int r = threadIdx.x / CHUNK; r < TILE; r += THREADS / CHUNK) {
            const int j = threadIdx.x % CHUNK;
            float score = -INFINITY;
            if (r < count && chunk + j <= first_position + r) {
                float dot = 0.0f;
                for (int d = 0; d < head_dim; d++) {
                    dot = fmaf(q[r * stride + d], k[j * stride + d], dot);
                }
                score = dot * scale;
            }
            p[r * CHUNK + j] = score;
        }
        __syncthreads();
        // Online softmax, one warp per row (two scores per lane); warp trees reduce in a fixed order.
        for (int r = warp; r < TILE; r += THREADS / 32) {
            const float s0 = p[r * CHUNK + lane];
            const float s1 = p[r * CHUNK + lane + 32];
            float chunk_max = fmaxf(s0, s1);
            for (int offset = 16; offset > 0; offset >>= 1) {
                chunk_max = fmaxf(chunk_max, __shfl_xor_sync(0xffffffffu, chunk_max, offset));
            }
            const float old_max = row_max[r];
            const float new_max = fmaxf(old_max, chunk_max);
            // A row with nothing visible yet (or in this chunk) keeps its state exactly.
            const float e0 = s0 == -INFINITY ? 0.0f : expf(s0 - new_max);
            const float e1 = s1 == -INFINITY ? 0.0f : expf(s1 - new_max);
            p[r * CHUNK + lane] = e0;
            p[r * CHUNK + lane + 32] = e1;
            const float chunk_sum = hy::warp_sum(e0 + e1);
            const float scale_old = old_max == -INFINITY ? 0.0f : expf(old_max - new_max);
            __syncwarp();
            if (lane == 0) {
                correction[r] = scale_old;
                row_sum[r] = row_sum[r] * scale_old + chunk_sum;
                row_max[r] = new_max;
            }
        }
        __syncthreads();
#pragma unroll
        for (int j = 0; j < PER_THREAD; j++) {
            const int idx = threadIdx.x + j * THREADS;
            const int r = idx / MAX_HEAD_DIM;
            const int d = idx % MAX_HEAD_DIM;
            if (r < count && d < head_dim) {
                float sum = acc[j] * correction[r];
                for (int c = 0; c < CHUNK; c++) {
                    sum = fmaf(p[r * CHUNK + c], v[c * stride + d], sum);
                }
                acc[j] = sum;
            }
        }
    }
    __syncthreads();
#pragma unroll
    for (int j = 0; j < PER_THREAD; j++) {
        const int idx = threadIdx.x + j * THREADS;
        const int r = idx / MAX_HEAD_DIM;
        const int d = idx % MAX_HEAD_DIM;
        if (r < count && d < head_dim) {
            float* partial = partials +
                ((static_cast<int64_t>(first + r) * heads + h) * max_segments + segment) * (head_dim + 2);
            partial[d] = acc[j];
            if (d == 0) {
                partial[head_dim] = row_max[r];
                partial[head_dim + 1] = row_sum[r];
            }
        }
    }
}

// out (tokens, heads * head_dim): each query's segments combined in order. Launch: grid = (heads, tokens),
// block = head_dim.
extern "C" __global__ void hy_attention_merge(float* __restrict__ out, const float* __restrict__ partials,
                                              const int* __restrict__ positions, int heads, int head_dim,
                                              int max_segments) {
    const int h = blockIdx.x;
    const int t = blockIdx.y;
    const int d = threadIdx.x;
    const int segments = positions[t] / SEGMENT + 1;
    const float* partial = partials + (static_cast<int64_t>(t) * heads + h) * max_segments * (head_dim + 2);
    float total_max = -INFINITY;
    for (int s = 0; s < segments; s++) {
        total_max = fmaxf(total_max, partial[s * (head_dim + 2) + head_dim]);
    }
    float sum = 0.0f;
    float acc = 0.0f;
    for (int s = 0; s < segments; s++) {
        const float* segment = partial + s * (head_dim + 2);
        const float weight = expf(segment[head_dim] - total_max);
        sum = fmaf(segment[head_dim + 1], weight, sum);
        acc = fmaf(segment[d], weight, acc);
    }
    out[(static_cast<int64_t>(t) * heads + h) * head_dim + d] = acc / sum;
}

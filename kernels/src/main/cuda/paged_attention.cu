// The paged KV cache: writing a step's keys and values to their pool slots, and causal GQA attention of each
// query over its own sequence through its block table. Pool layout, float32:
//   [kv_layer][K | V][slot = block * block_size + offset][kv_head][head_dim]
// With unit_rms keys are stored divided by their per-head RMS and each layer's key-norm weight is folded into
// its query (q . (w * k_hat) = (q * w) . k_hat), so the layers of a CLA group share one cache entry.
// Attention, flash-decoding style for decode and prefill alike: a query's context is cut into segments of SEGMENT
// positions, each attended by its own block (spreading a long context over the GPU), streamed through shared
// memory in chunks of CHUNK positions with an online softmax; hy_attention_merge then combines a query's segments
// in order. A block attends the query heads of one KV head together (GQA), and in prefill several consecutive
// queries of one sequence, so each K/V chunk is loaded once for up to ROWS (query, head) rows. A query's arithmetic
// is the same whether it shares a block or sits alone in a decode step: masked positions add exact zeros, and
// segments and chunks start at fixed positions. So its output depends
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
constexpr int ROWS = 16;
constexpr int THREADS = 256;
constexpr int MAX_HEAD_DIM = 128;
// Outputs each thread accumulates: ROWS (query, head) rows × MAX_HEAD_DIM dimensions over THREADS threads.
constexpr int PER_THREAD = ROWS * MAX_HEAD_DIM / THREADS;
// float4 loads each thread issues per K (and V) chunk: CHUNK × MAX_HEAD_DIM / 4 over THREADS threads.
constexpr int LOADS = CHUNK * MAX_HEAD_DIM / 4 / THREADS;

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

// Launch: grid = (work items, num_kv_heads · ceil(group / ROWS)), block = THREADS, dynamic shared memory =
// ((ROWS + 2 · CHUNK) · (head_dim + 4) + ROWS · (CHUNK + 3)) floats. A block takes up to ROWS (query, head) rows:
// the query heads of one KV head (GQA: its K/V chunk is loaded once for all of them) for `count` consecutive
// queries. work is (items, 3): first token, query count, segment. partials is
// (tokens, heads, max_segments, head_dim + 2): the segment's unnormalised output, running max and sum.
// head_dim must be a multiple of 4 and at most MAX_HEAD_DIM.
extern "C" __global__ void __launch_bounds__(THREADS)
hy_attention_segment(float* __restrict__ partials, const float* __restrict__ queries, const float* __restrict__ pool,
                     const float* __restrict__ key_norm, const int* __restrict__ positions,
                     const int* __restrict__ token_sequence, const int* __restrict__ block_tables,
                     const int* __restrict__ work, int max_blocks, int max_segments, int kv_layer, int heads,
                     int num_kv_heads, int head_dim, int block_size, int64_t plane_floats, float scale) {
    extern __shared__ float4 shared4[];
    float* shared = reinterpret_cast<float*>(shared4);
    // Rows 16 bytes apart modulo 128: float4 reads of 8 lanes on 8 different rows hit distinct banks.
    const int stride = head_dim + 4;
    float* q = shared;                          // ROWS × stride
    float* k = q + ROWS * stride;               // CHUNK × stride
    float* v = k + CHUNK * stride;              // CHUNK × stride
    float* p = v + CHUNK * stride;              // ROWS × CHUNK: this chunk's softmax numerators
    float* row_max = p + ROWS * CHUNK;          // ROWS
    float* row_sum = row_max + ROWS;            // ROWS
    float* correction = row_sum + ROWS;         // ROWS

    const int first = work[3 * blockIdx.x];
    const int count = work[3 * blockIdx.x + 1];
    const int segment = work[3 * blockIdx.x + 2];
    const int group = heads / num_kv_heads;
    const int parts = (group + ROWS - 1) / ROWS;
    const int kv_head = blockIdx.y / parts;
    const int head0 = kv_head * group + (blockIdx.y % parts) * ROWS;
    const int head_count = min(ROWS, kv_head * group + group - head0);
    const int rows = count * head_count;  // row r: query r / head_count, head head0 + r % head_count
    const int* table = block_tables + static_cast<int64_t>(token_sequence[first]) * max_blocks;
    const int first_position = positions[first];
    const int segment_start = segment * SEGMENT;
    // The tile's last query sees the most; earlier ones mask what lies past them.
    const int segment_end = min(segment_start + SEGMENT, first_position + count);
    const int quads = head_dim / 4;

    for (int i = threadIdx.x; i < ROWS * quads; i += THREADS) {
        const int r = i / quads;
        const int d = (i % quads) * 4;
        float4 value = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        if (r < rows) {
            const int head = head0 + r % head_count;
            value = *reinterpret_cast<const float4*>(
                queries + (static_cast<int64_t>(first + r / head_count) * heads + head) * head_dim + d);
            if (key_norm != nullptr) {
                value.x *= key_norm[d];
                value.y *= key_norm[d + 1];
                value.z *= key_norm[d + 2];
                value.w *= key_norm[d + 3];
            }
        }
        *reinterpret_cast<float4*>(q + r * stride + d) = value;
    }
    if (threadIdx.x < ROWS) {
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
    const float* keys = pool + 2LL * kv_layer * plane_floats + static_cast<int64_t>(kv_head) * head_dim;
    for (int chunk = segment_start; chunk < segment_end; chunk += CHUNK) {
        const int valid = min(CHUNK, segment_end - chunk);
        // Every load of the chunk in flight before the first store (past the end: zeros, so a zero weight never
        // meets a stale NaN).
        float4 key_part[LOADS];
        float4 value_part[LOADS];
#pragma unroll
        for (int j = 0; j < LOADS; j++) {
            const int i = threadIdx.x + j * THREADS;
            const int row = i / quads;
            key_part[j] = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
            value_part[j] = key_part[j];
            if (row < valid) {
                const int position = chunk + row;
                const int slot = table[position / block_size] * block_size + position % block_size;
                const float* at = keys + static_cast<int64_t>(slot) * num_kv_heads * head_dim + (i % quads) * 4;
                key_part[j] = *reinterpret_cast<const float4*>(at);
                value_part[j] = *reinterpret_cast<const float4*>(at + plane_floats);
            }
        }
        __syncthreads();  // the previous chunk's keys, values and numerators are no longer read
#pragma unroll
        for (int j = 0; j < LOADS; j++) {
            const int i = threadIdx.x + j * THREADS;
            const int row = i / quads;
            if (row < CHUNK) {
                *reinterpret_cast<float4*>(k + row * stride + (i % quads) * 4) = key_part[j];
                *reinterpret_cast<float4*>(v + row * stride + (i % quads) * 4) = value_part[j];
            }
        }
        __syncthreads();
        // Scores: thread (row group, key) takes key j = tid % CHUNK for rows tid / CHUNK + 4m.
        for (int r = threadIdx.x / CHUNK; r < ROWS; r += THREADS / CHUNK) {
            const int j = threadIdx.x % CHUNK;
            float score = -INFINITY;
            if (r < rows && chunk + j <= first_position + r / head_count) {
                float dot = 0.0f;
                for (int d = 0; d < head_dim; d += 4) {
                    const float4 a = *reinterpret_cast<const float4*>(q + r * stride + d);
                    const float4 b = *reinterpret_cast<const float4*>(k + j * stride + d);
                    dot = fmaf(a.x, b.x, dot);
                    dot = fmaf(a.y, b.y, dot);
                    dot = fmaf(a.z, b.z, dot);
                    dot = fmaf(a.w, b.w, dot);
                }
                score = dot * scale;
            }
            p[r * CHUNK + j] = score;
        }
        __syncthreads();
        // Online softmax, one warp per row (two scores per lane); warp trees reduce in a fixed order.
        for (int r = warp; r < ROWS; r += THREADS / 32) {
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
            if (r < rows && d < head_dim) {
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
        if (r < rows && d < head_dim) {
            const int token = first + r / head_count;
            const int head = head0 + r % head_count;
            float* partial =
                partials + ((static_cast<int64_t>(token) * heads + head) * max_segments + segment) * (head_dim + 2);
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

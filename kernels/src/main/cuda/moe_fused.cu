// Fused mixture-of-experts on bf16 tensor cores (mma.sync m16n8k16, float32 accumulation), in four launches:
//   hy_moe_align     sorts the step's (token, choice) pairs by expert into tiles of BM slots, padded per expert;
//                    the shared expert, when asked for, is expert index E and takes every token;
//   hy_moe_gate_up_* one grouped GEMM over all tiles: gate and up projections of a tile's rows in one pass over
//                    the weights, SwiGLU in the epilogue, bf16 rows out (slot order);
//   hy_moe_down_*    the grouped down projection of those rows, float32 out (slot order);
//   hy_moe_combine   out[t] = shared(t) + Σ_j weight(t, j) · expert_out(t, j), in the token's top-k order.
// Each output row depends only on its own input row and the K loop runs in one fixed order whatever the tile
// shape, so a token's result does not depend on the other tokens of the step. Tile shapes _16, _32, _64 and _128
// (BM slots × 64 weight rows) and _128w (× 128, for groups bound by arithmetic): every tile re-reads its expert's
// weights, so the caller takes the smallest tile that holds the largest group, and lays out the shared expert
// (every token) apart with its own. One launch covers every group,
// tiles along x (the tiles reading the same weight columns run side by side and share them through L2) and weight
// columns along y.
// Weights: per expert, gate/up (I, H) and down (H, I) bf16 row-major as the checkpoint stores them, passed as
// device arrays of pointers (E or E + 1 entries). Requires K % 8 == 0 and N % 8 == 0 (16-byte rows).
// The down-projection GEMMs also serve dense products (hy_dense_layout: TensorCoreGemm).
// CPU reference: CpuBackend.moeExperts on bf16-rounded inputs (FusedMoeOnDeviceTest).
#include <cuda_bf16.h>

#include "common.cuh"

namespace {

constexpr int BK = 64;
// 8 bf16 of padding per shared-memory row: rows 144 bytes apart put the 8 row addresses of an ldmatrix in
// distinct banks.
constexpr int LDS = BK + 8;
constexpr int MAX_EXPERTS = 257;  // 256 routed + the shared expert

__device__ __forceinline__ uint32_t shared_address(const void* p) {
    return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// 16 bytes global -> shared, bypassing L1; zero-filled when !valid (rows past the tile's group, columns past K).
__device__ __forceinline__ void copy16(void* dst, const void* src, bool valid) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(shared_address(dst)), "l"(src),
                 "r"(valid ? 16 : 0));
}

__device__ __forceinline__ void commit() { asm volatile("cp.async.commit_group;\n"); }

template <int PENDING>
__device__ __forceinline__ void wait_copies() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(PENDING));
}

__device__ __forceinline__ void load_fragments(uint32_t (&r)[4], const void* p) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(shared_address(p)));
}

__device__ __forceinline__ void mma(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// One tile of BM slots × BN weight rows. GATED: A rows are the slots' tokens' rows of x, two weights (gate, up)
// and out = bf16(silu(gate) · up); otherwise A rows are the slots' own rows and out = float32 (down).
template <int BM, int BN, int WARPS_M, int WARPS_N, int STAGES, bool GATED>
struct GroupedGemm {
    static constexpr int THREADS = WARPS_M * WARPS_N * 32;
    static constexpr int WEIGHTS = GATED ? 2 : 1;
    static constexpr int WM = BM / WARPS_M;
    static constexpr int WN = BN / WARPS_N;
    static constexpr int MI = WM / 16;
    static constexpr int NI = WN / 8;
    static constexpr int A_STAGE = BM * LDS;
    static constexpr int B_STAGE = WEIGHTS * BN * LDS;
    static_assert(MI >= 1 && NI % 2 == 0, "warp tile must be whole 16x16 fragments");

    __device__ static void run(void* out, const uint16_t* a, const int* slot_token, const int* tile_expert,
                               const int* num_tiles, const uint64_t* w0, const uint64_t* w1, int n, int k) {
        const int tile = blockIdx.x;
        if (tile >= *num_tiles) {
            return;
        }
        extern __shared__ __align__(16) uint16_t smem[];
        uint16_t* a_smem = smem;
        uint16_t* b_smem = smem + STAGES * A_STAGE;
        const int expert = tile_expert[tile];
        const int slot0 = tile * BM;
        const int n0 = blockIdx.y * BN;
        const uint16_t* first_weight = reinterpret_cast<const uint16_t*>(w0[expert]);
        const uint16_t* second_weight = reinterpret_cast<const uint16_t*>(w1[expert]);
        const int tid = threadIdx.x;
        const int k_tiles = (k + BK - 1) / BK;

        auto load_stage = [&](int stage, int k_tile) {
            const int k0 = k_tile * BK;
            uint16_t* as = a_smem + stage * A_STAGE;
            for (int c = tid; c < BM * (BK / 8); c += THREADS) {
                const int row = c / (BK / 8);
                const int col = (c % (BK / 8)) * 8;
                const int token = slot_token[slot0 + row];
                const int64_t source_row = GATED ? token : slot0 + row;
                const bool valid = token >= 0 && k0 + col < k;
                copy16(as + row * LDS + col, valid ? a + source_row * k + k0 + col : a, valid);
            }
            uint16_t* bs = b_smem + stage * B_STAGE;
            for (int c = tid; c < WEIGHTS * BN * (BK / 8); c += THREADS) {
                const int which = c / (BN * (BK / 8));
                const int row = (c / (BK / 8)) % BN;
                const int col = (c % (BK / 8)) * 8;
                const bool valid = n0 + row < n && k0 + col < k;
                const uint16_t* weight = which == 0 ? first_weight : second_weight;
                copy16(bs + (which * BN + row) * LDS + col,
                       valid ? weight + static_cast<int64_t>(n0 + row) * k + k0 + col : weight, valid);
            }
        };

        float acc[WEIGHTS][MI][NI][4];
#pragma unroll
        for (int w = 0; w < WEIGHTS; w++)
#pragma unroll
            for (int i = 0; i < MI; i++)
#pragma unroll
                for (int j = 0; j < NI; j++)
#pragma unroll
                    for (int e = 0; e < 4; e++) acc[w][i][j][e] = 0.0f;

#pragma unroll
        for (int s = 0; s < STAGES - 1; s++) {
            if (s < k_tiles) {
                load_stage(s, s);
            }
            commit();
        }

        const int warp = tid >> 5;
        const int lane = tid & 31;
        const int wm0 = (warp / WARPS_N) * WM;
        const int wn0 = (warp % WARPS_N) * WN;
        // ldmatrix row addresses: A as four 8x8 matrices (rows 0-7/8-15 × k 0-7/8-15), B likewise for two n8 blocks.
        const int a_row = lane & 15;
        const int a_col = (lane >> 4) * 8;
        const int b_row = (lane & 7) + ((lane >> 4) << 3);
        const int b_col = ((lane >> 3) & 1) * 8;

        for (int kt = 0; kt < k_tiles; kt++) {
            wait_copies<STAGES - 2>();
            __syncthreads();  // stage kt is in; every warp is done with the stage about to be refilled
            if (kt + STAGES - 1 < k_tiles) {
                load_stage((kt + STAGES - 1) % STAGES, kt + STAGES - 1);
            }
            commit();
            const uint16_t* as = a_smem + (kt % STAGES) * A_STAGE;
            const uint16_t* bs = b_smem + (kt % STAGES) * B_STAGE;
#pragma unroll
            for (int kk = 0; kk < BK; kk += 16) {
                uint32_t af[MI][4];
#pragma unroll
                for (int i = 0; i < MI; i++) {
                    load_fragments(af[i], as + (wm0 + i * 16 + a_row) * LDS + kk + a_col);
                }
#pragma unroll
                for (int w = 0; w < WEIGHTS; w++) {
#pragma unroll
                    for (int j = 0; j < NI; j += 2) {
                        uint32_t bf[4];
                        load_fragments(bf, bs + (w * BN + wn0 + j * 8 + b_row) * LDS + kk + b_col);
#pragma unroll
                        for (int i = 0; i < MI; i++) {
                            mma(acc[w][i][j], af[i], bf[0], bf[1]);
                            mma(acc[w][i][j + 1], af[i], bf[2], bf[3]);
                        }
                    }
                }
            }
        }
        wait_copies<0>();

        const int group_row = lane >> 2;
        const int pair_col = (lane & 3) * 2;
#pragma unroll
        for (int i = 0; i < MI; i++) {
#pragma unroll
            for (int half = 0; half < 2; half++) {
                const int slot = slot0 + wm0 + i * 16 + group_row + half * 8;
                if (slot_token[slot] < 0) {
                    continue;
                }
#pragma unroll
                for (int j = 0; j < NI; j++) {
                    const int col = n0 + wn0 + j * 8 + pair_col;
                    if (col >= n) {
                        continue;
                    }
                    const float v0 = acc[0][i][j][half * 2];
                    const float v1 = acc[0][i][j][half * 2 + 1];
                    if constexpr (GATED) {
                        const float u0 = acc[WEIGHTS - 1][i][j][half * 2];
                        const float u1 = acc[WEIGHTS - 1][i][j][half * 2 + 1];
                        const __nv_bfloat162 h = __floats2bfloat162_rn(v0 / (1.0f + __expf(-v0)) * u0,
                                                                       v1 / (1.0f + __expf(-v1)) * u1);
                        *reinterpret_cast<__nv_bfloat162*>(static_cast<uint16_t*>(out) +
                                                           static_cast<int64_t>(slot) * n + col) = h;
                    } else {
                        *reinterpret_cast<float2*>(static_cast<float*>(out) + static_cast<int64_t>(slot) * n + col) =
                            make_float2(v0, v1);
                    }
                }
            }
        }
    }
};

using GateUp16 = GroupedGemm<16, 64, 1, 4, 4, true>;
using GateUp32 = GroupedGemm<32, 64, 1, 4, 4, true>;
using GateUp64 = GroupedGemm<64, 64, 2, 2, 4, true>;
using GateUp128 = GroupedGemm<128, 64, 2, 4, 3, true>;
using GateUp128Wide = GroupedGemm<128, 128, 2, 4, 3, true>;
using Down16 = GroupedGemm<16, 64, 1, 4, 4, false>;
using Down32 = GroupedGemm<32, 64, 1, 4, 4, false>;
using Down64 = GroupedGemm<64, 64, 2, 2, 4, false>;
using Down128 = GroupedGemm<128, 64, 2, 4, 3, false>;
using Down128Wide = GroupedGemm<128, 128, 2, 4, 3, false>;

}  // namespace

extern "C" __global__ void __launch_bounds__(GateUp16::THREADS)
hy_moe_gate_up_16(uint16_t* out, const uint16_t* x, const int* slot_token, const int* tile_expert,
                   const int* num_tiles, const uint64_t* gate, const uint64_t* up, int n, int k) {
    GateUp16::run(out, x, slot_token, tile_expert, num_tiles, gate, up, n, k);
}

extern "C" __global__ void __launch_bounds__(GateUp32::THREADS)
hy_moe_gate_up_32(uint16_t* out, const uint16_t* x, const int* slot_token, const int* tile_expert,
                   const int* num_tiles, const uint64_t* gate, const uint64_t* up, int n, int k) {
    GateUp32::run(out, x, slot_token, tile_expert, num_tiles, gate, up, n, k);
}

extern "C" __global__ void __launch_bounds__(GateUp64::THREADS)
hy_moe_gate_up_64(uint16_t* out, const uint16_t* x, const int* slot_token, const int* tile_expert,
                   const int* num_tiles, const uint64_t* gate, const uint64_t* up, int n, int k) {
    GateUp64::run(out, x, slot_token, tile_expert, num_tiles, gate, up, n, k);
}

extern "C" __global__ void __launch_bounds__(GateUp128::THREADS)
hy_moe_gate_up_128(uint16_t* out, const uint16_t* x, const int* slot_token, const int* tile_expert,
                   const int* num_tiles, const uint64_t* gate, const uint64_t* up, int n, int k) {
    GateUp128::run(out, x, slot_token, tile_expert, num_tiles, gate, up, n, k);
}

extern "C" __global__ void __launch_bounds__(GateUp128Wide::THREADS)
hy_moe_gate_up_128w(uint16_t* out, const uint16_t* x, const int* slot_token, const int* tile_expert,
                    const int* num_tiles, const uint64_t* gate, const uint64_t* up, int n, int k) {
    GateUp128Wide::run(out, x, slot_token, tile_expert, num_tiles, gate, up, n, k);
}

extern "C" __global__ void __launch_bounds__(Down16::THREADS)
hy_moe_down_16(float* out, const uint16_t* rows, const int* slot_token, const int* tile_expert,
                const int* num_tiles, const uint64_t* down, int n, int k) {
    Down16::run(out, rows, slot_token, tile_expert, num_tiles, down, down, n, k);
}

extern "C" __global__ void __launch_bounds__(Down32::THREADS)
hy_moe_down_32(float* out, const uint16_t* rows, const int* slot_token, const int* tile_expert,
                const int* num_tiles, const uint64_t* down, int n, int k) {
    Down32::run(out, rows, slot_token, tile_expert, num_tiles, down, down, n, k);
}

extern "C" __global__ void __launch_bounds__(Down64::THREADS)
hy_moe_down_64(float* out, const uint16_t* rows, const int* slot_token, const int* tile_expert,
                const int* num_tiles, const uint64_t* down, int n, int k) {
    Down64::run(out, rows, slot_token, tile_expert, num_tiles, down, down, n, k);
}

extern "C" __global__ void __launch_bounds__(Down128::THREADS)
hy_moe_down_128(float* out, const uint16_t* rows, const int* slot_token, const int* tile_expert,
                const int* num_tiles, const uint64_t* down, int n, int k) {
    Down128::run(out, rows, slot_token, tile_expert, num_tiles, down, down, n, k);
}

extern "C" __global__ void __launch_bounds__(Down128Wide::THREADS)
hy_moe_down_128w(float* out, const uint16_t* rows, const int* slot_token, const int* tile_expert,
                 const int* num_tiles, const uint64_t* down, int n, int k) {
    Down128Wide::run(out, rows, slot_token, tile_expert, num_tiles, down, down, n, k);
}

// One block (1024 threads). experts_per_token (tokens, top_k) -> slot_token (num_tiles · bm, -1 for padding),
// token_slot (tokens, top_k), shared_slot (tokens; when with_shared), tile_expert (num_tiles), num_tiles (1).
// top_k 0 with with_shared lays out the shared expert alone (its group is sized apart from the routed ones).
// Within an expert's group slots are taken in any order: rows are computed independently.
extern "C" __global__ void hy_moe_align(int* __restrict__ slot_token, int* __restrict__ token_slot,
                                        int* __restrict__ shared_slot, int* __restrict__ tile_expert,
                                        int* __restrict__ num_tiles, const int* __restrict__ experts_per_token,
                                        int tokens, int top_k, int experts, int bm, int with_shared) {
    __shared__ int count[MAX_EXPERTS];
    __shared__ int cursor[MAX_EXPERTS];
    __shared__ int used_slots;
    const int groups = experts + (with_shared ? 1 : 0);
    const int pairs = tokens * top_k;
    for (int e = threadIdx.x; e < groups; e += blockDim.x) {
        count[e] = e == experts ? tokens : 0;
    }
    __syncthreads();
    for (int i = threadIdx.x; i < pairs; i += blockDim.x) {
        atomicAdd(&count[experts_per_token[i]], 1);
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        int tiles = 0;
        for (int e = 0; e < groups; e++) {
            cursor[e] = tiles * bm;
            const int group_tiles = (count[e] + bm - 1) / bm;
            for (int t = 0; t < group_tiles; t++) {
                tile_expert[tiles + t] = e;
            }
            tiles += group_tiles;
        }
        *num_tiles = tiles;
        used_slots = tiles * bm;
    }
    __syncthreads();
    for (int s = threadIdx.x; s < used_slots; s += blockDim.x) {
        slot_token[s] = -1;
    }
    __syncthreads();
    for (int i = threadIdx.x; i < pairs; i += blockDim.x) {
        const int slot = atomicAdd(&cursor[experts_per_token[i]], 1);
        slot_token[slot] = i / top_k;
        token_slot[i] = slot;
    }
    if (with_shared) {
        for (int t = threadIdx.x; t < tokens; t += blockDim.x) {
            const int slot = cursor[experts] + t;
            slot_token[slot] = t;
            shared_slot[t] = slot;
        }
    }
}

// The layout of a dense product through the down-projection GEMMs (one group, the identity weight table entry 0):
// slot i is row i, tiles of bm rows. One block.
extern "C" __global__ void hy_dense_layout(int* __restrict__ slot_token, int* __restrict__ tile_expert,
                                           int* __restrict__ num_tiles, int rows, int bm) {
    const int tiles = (rows + bm - 1) / bm;
    for (int i = threadIdx.x; i < tiles * bm; i += blockDim.x) {
        slot_token[i] = i < rows ? i : -1;
    }
    for (int i = threadIdx.x; i < tiles; i += blockDim.x) {
        tile_expert[i] = 0;
    }
    if (threadIdx.x == 0) {
        *num_tiles = tiles;
    }
}

// out (tokens, hidden) = [shared_out[shared_slot[t]]] + Σ_j weights[t, j] · routed_out[token_slot[t, j]].
// accumulate != 0 adds the sum to out's current values instead (the shared expert computed elsewhere).
// grid = (ceil(hidden / 256), tokens), block 256.
extern "C" __global__ void hy_moe_combine(float* __restrict__ out, const float* __restrict__ routed_out,
                                          const float* __restrict__ shared_out, const int* __restrict__ token_slot,
                                          const int* __restrict__ shared_slot, const float* __restrict__ weights,
                                          int top_k, int hidden, int with_shared, int accumulate) {
    const int t = blockIdx.y;
    const int h = blockIdx.x * blockDim.x + threadIdx.x;
    if (h >= hidden) {
        return;
    }
    float* target = out + static_cast<int64_t>(t) * hidden + h;
    float sum = accumulate ? *target : 0.0f;
    if (with_shared) {
        sum += shared_out[static_cast<int64_t>(shared_slot[t]) * hidden + h];
    }
    for (int j = 0; j < top_k; j++) {
        const int pair = t * top_k + j;
        sum += weights[pair] * routed_out[static_cast<int64_t>(token_slot[pair]) * hidden + h];
    }
    *target = sum;
}

// Float32 activations rounded to bf16 (nearest even) for the tensor cores.
extern "C" __global__ void hy_to_bf16(uint16_t* __restrict__ out, const float* __restrict__ in, int64_t n) {
    const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i < n) {
        out[i] = __bfloat16_as_ushort(__float2bfloat16_rn(in[i]));
    }
}

// MoE routing as the spec gives it: softmax over the router logits in float32, top-k experts (ties to the
// lower index, like torch.topk for top-1), weights renormalised over the chosen k when k > 1.
// CPU reference: CpuBackend.route (CpuReference.route in the tests).
// Launch: grid = ceil(tokens / 128), block = 128; one thread per token (Hunyuan has 16 experts: a serial pass
// per token is cheaper than a reduction). Needs num_experts <= 256.
#include "common.cuh"

extern "C" __global__ void hy_moe_route(const float* __restrict__ logits, int* __restrict__ experts,
                                        float* __restrict__ weights, int tokens, int num_experts, int top_k) {
    const int t = blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= tokens) {
        return;
    }
    const float* row = logits + static_cast<int64_t>(t) * num_experts;
    float max_logit = -INFINITY;
    for (int e = 0; e < num_experts; e++) {
        max_logit = fmaxf(max_logit, row[e]);
    }
    float sum = 0.0f;
    for (int e = 0; e < num_experts; e++) {
        sum += expf(row[e] - max_logit);
    }
    // Chosen experts as a bitmask over 256 experts, so each pick skips the earlier ones.
    uint32_t taken[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    float chosen_mass = 0.0f;
    for (int j = 0; j < top_k; j++) {
        int best = -1;
        float best_p = 0.0f;
        for (int e = 0; e < num_experts; e++) {
            if (taken[e >> 5] & (1u << (e & 31))) {
                continue;
            }
            const float p = expf(row[e] - max_logit) / sum;
            if (best < 0 || p > best_p) {
                best = e;
                best_p = p;
            }
        }
        taken[best >> 5] |= 1u << (best & 31);
        experts[t * top_k + j] = best;
        weights[t * top_k + j] = best_p;
        chosen_mass += best_p;
    }
    if (top_k > 1) {
        for (int j = 0; j < top_k; j++) {
            weights[t * top_k + j] /= chosen_mass;
        }
    }
}

package io.hyserve.kernels;

/** {@code moe_routing.cu}: softmax over router logits, top-k experts, weights renormalised when k > 1. */
public final class MoeRoutingKernel {
    static final String MODULE = "moe_routing";
    static final int MAX_EXPERTS = 256;
    private static final int BLOCK = 128;
    private final Gpu gpu;

    public MoeRoutingKernel(Gpu gpu) {
        this.gpu = gpu;
    }

    /**
     * @param logits (tokens, experts) float32
     * @param experts (tokens, topK) int32 out: chosen experts, best first
     * @param weights (tokens, topK) float32 out: their routing weights
     */
    public void route(DeviceMemory logits, DeviceMemory experts, DeviceMemory weights, int tokens, int numExperts,
            int topK) {
        if (numExperts > MAX_EXPERTS || topK < 1 || topK > numExperts) {
            throw new IllegalArgumentException("top-%d of %d experts (at most %d)".formatted(topK, numExperts, MAX_EXPERTS));
        }
        gpu.launch(MODULE, "hy_moe_route", (tokens + BLOCK - 1) / BLOCK, 1, BLOCK, 0, logits, experts, weights, tokens,
                numExperts, topK);
    }
}

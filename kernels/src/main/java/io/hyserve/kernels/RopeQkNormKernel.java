package io.hyserve.kernels;

/** {@code rope_qk_norm.cu}: rotary embedding of every head, then its RMSNorm (QK-norm), in place. */
public final class RopeQkNormKernel {
    static final String MODULE = "rope_qk_norm";
    private static final int BLOCK = 128;
    private final Gpu gpu;

    public RopeQkNormKernel(Gpu gpu) {
        this.gpu = gpu;
    }

    /**
     * @param x (tokens, heads * headDim) float32, rotated and normalised in place
     * @param cos (tokens, headDim / 2) for each token's position
     * @param sin same shape as {@code cos}
     * @param weight (headDim) norm weight, or null to rotate only
     */
    public void apply(DeviceMemory x, DeviceMemory cos, DeviceMemory sin, DeviceMemory weight, int tokens, int heads,
            int headDim, float eps) {
        if (headDim % 2 != 0) {
            throw new IllegalArgumentException("head dimension %d is odd".formatted(headDim));
        }
        gpu.launch(MODULE, "hy_rope_qk_norm", heads, tokens, BLOCK, headDim * Float.BYTES, x, cos, sin, weight, heads,
                headDim, eps);
    }
}

package io.hyserve.kernels;

/** {@code embedding.cu}: rows of the embedding table for the step's token ids, as float32. */
public final class EmbeddingKernel {
    static final String MODULE = "embedding";
    private static final int BLOCK = 256;
    private final Gpu gpu;

    public EmbeddingKernel(Gpu gpu) {
        this.gpu = gpu;
    }

    /**
     * @param out (tokens, cols) float32
     * @param table (vocabulary, cols) as the checkpoint stores it
     * @param ids (tokens) int32, already checked to lie in the vocabulary
     */
    public void gather(DeviceMemory out, DeviceMemory table, MatmulKernel.WeightType type, DeviceMemory ids, int tokens,
            int cols) {
        String kernel = switch (type) {
            case BF16 -> "hy_embed_bf16";
            case F16 -> "hy_embed_f16";
            case F32 -> "hy_embed_f32";
        };
        gpu.launch(MODULE, kernel, tokens, 1, BLOCK, 0, out, table, ids, cols);
    }
}

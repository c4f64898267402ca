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
     * @param table (vocabulary, cols) BF16 or float32
     * @param ids (tokens) int32, already checked to lie in the vocabulary
     */
    public void gather(DeviceMemory out, DeviceMemory table, boolean bf16, DeviceMemory ids, int tokens, int cols) {
        gpu.launch(MODULE, bf16 ? "hy_embed_bf16" : "hy_embed_f32", tokens, 1, BLOCK, 0, out, table, ids, cols);
    }
}

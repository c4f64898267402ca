package io.hyserve.kernels;

/** {@code paged_attention.cu}: writing a step's K/V into the paged pool, and causal GQA attention over it. */
public final class PagedAttentionKernel {
    static final String MODULE = "paged_attention";
    private static final int BLOCK = 128;
    private final Gpu gpu;

    /**
     * The pool's shape: float32 {@code [kvLayer][K|V][slot][kvHead][headDim]} with {@code slots} slots per plane.
     */
    public record Pool(DeviceMemory memory, int numKvHeads, int headDim, int blockSize, long slots) {
        long planeFloats() {
            return slots * numKvHeads * headDim;
        }
    }

    public PagedAttentionKernel(Gpu gpu) {
        this.gpu = gpu;
    }

    /**
     * Stores keys (tokens, keyCols) and values (tokens, valueCols), whose first {@code numKvHeads × headDim}
     * columns are the heads, at {@code slots} (tokens); keys divided by their per-head RMS when {@code unitRms}.
     */
    public void writeKv(Pool pool, int kvLayer, DeviceMemory keys, int keyCols, DeviceMemory values, int valueCols,
            DeviceMemory slots, int tokens, boolean unitRms, float eps) {
        gpu.launch(MODULE, "hy_write_kv", pool.numKvHeads(), tokens, BLOCK, 0, pool.memory(), keys, values, slots,
                keyCols, valueCols, kvLayer, pool.numKvHeads(), pool.headDim(), pool.planeFloats(), unitRms ? 1 : 0,
                eps);
    }

    /**
     * @param out (tokens, heads × headDim)
     * @param queries same shape as {@code out}
     * @param keyNorm (headDim) this layer's key-norm weight for unit-RMS keys, or null
     * @param positions (tokens) each token's position in its sequence
     * @param tokenSequence (tokens) each token's sequence, a row of {@code blockTables}
     * @param blockTables (sequences, maxBlocks) pool blocks of each sequence in order
     */
    public void attend(DeviceMemory out, DeviceMemory queries, Pool pool, int kvLayer, DeviceMemory keyNorm,
            DeviceMemory positions, DeviceMemory tokenSequence, DeviceMemory blockTables, int maxBlocks, int tokens,
            int heads) {
        if (pool.headDim() > 4 * BLOCK || heads % pool.numKvHeads() != 0) {
            throw new IllegalArgumentException("%d heads of %d over %d KV heads".formatted(heads, pool.headDim(),
                    pool.numKvHeads()));
        }
        float scale = (float) (1.0 / Math.sqrt(pool.headDim()));
        gpu.launch(MODULE, "hy_paged_attention", heads, tokens, BLOCK, (pool.headDim() + BLOCK) * Float.BYTES, out,
                queries, pool.memory(), keyNorm, positions, tokenSequence, blockTables, maxBlocks, kvLayer, heads,
                pool.numKvHeads(), pool.headDim(), pool.blockSize(), pool.planeFloats(), scale);
    }
}

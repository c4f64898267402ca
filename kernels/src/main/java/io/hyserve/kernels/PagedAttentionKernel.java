package io.hyserve.kernels;

import java.util.ArrayList;
import java.util.List;

/**
 * {@code paged_attention.cu}: writing a step's K/V into the paged pool, and causal GQA attention over it, split
 * over context segments and merged (flash-decoding); each K/V chunk loaded once for the query heads of its KV head
 * and, in prefill, for several consecutive queries.
 */
public final class PagedAttentionKernel implements AutoCloseable {
    static final String MODULE = "paged_attention";
    private static final int BLOCK = 128;
    /** As paged_attention.cu. */
    static final int SEGMENT = 512;
    static final int ROWS = 16;
    private static final int CHUNK = 64;
    private static final int THREADS = 256;
    private static final int MAX_HEAD_DIM = 128;
    private final Gpu gpu;
    /** Each (query, head, segment)'s unnormalised output, max and sum, between the two launches. */
    private DeviceMemory partials;
    private DeviceMemory workList;

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
     * Which blocks attend what in one step: runs of consecutive queries of one sequence (as many as fit
     * {@value #ROWS} rows with their KV head's query heads), each with every {@value #SEGMENT}-position segment of
     * context its last query reaches. Built once per step; valid until the next {@link #plan}, whose work list
     * takes its place on the device.
     */
    public record Plan(DeviceMemory work, int items, int maxSegments, int heads, int numKvHeads) {}

    /**
     * The step's attention plan from its host layout, for {@code heads} query heads over {@code numKvHeads}.
     * Tokens of a sequence at consecutive positions share blocks.
     */
    public Plan plan(int[] positions, int[] tokenSequence, int heads, int numKvHeads) {
        int group = heads / numKvHeads;
        int tile = Math.max(1, ROWS / Math.min(group, ROWS));
        List<Integer> work = new ArrayList<>();
        int maxSegments = 1;
        for (int t = 0; t < positions.length;) {
            int count = 1;
            while (t + count < positions.length && count < tile && tokenSequence[t + count] == tokenSequence[t]
                    && positions[t + count] == positions[t] + count) {
                count++;
            }
            int segments = (positions[t] + count - 1) / SEGMENT + 1;
            for (int segment = 0; segment < segments; segment++) {
                work.addAll(List.of(t, count, segment));
            }
            maxSegments = Math.max(maxSegments, segments);
            t += count;
        }
        int[] flat = work.stream().mapToInt(Integer::intValue).toArray();
        workList = gpu.reserve(workList, 4L * flat.length);
        return new Plan(workList.write(flat), flat.length / 3, maxSegments, heads, numKvHeads);
    }

    /**
     * @param out (tokens, heads × headDim)
     * @param queries same shape as {@code out}
     * @param keyNorm (headDim) this layer's key-norm weight for unit-RMS keys, or null
     * @param positions (tokens) each token's position in its sequence
     * @param tokenSequence (tokens) each token's sequence, a row of {@code blockTables}
     * @param blockTables (sequences, maxBlocks) pool blocks of each sequence in order
     * @param plan this step's {@link #plan}
     */
    public void attend(DeviceMemory out, DeviceMemory queries, Pool pool, int kvLayer, DeviceMemory keyNorm,
            DeviceMemory positions, DeviceMemory tokenSequence, DeviceMemory blockTables, int maxBlocks, int tokens,
            int heads, Plan plan) {
        int headDim = pool.headDim();
        if (headDim > MAX_HEAD_DIM || headDim % 4 != 0 || heads % pool.numKvHeads() != 0) {
            throw new IllegalArgumentException("%d heads of %d over %d KV heads (head size a multiple of 4, at most %d)"
                    .formatted(heads, headDim, pool.numKvHeads(), MAX_HEAD_DIM));
        }
        if (plan.heads() != heads || plan.numKvHeads() != pool.numKvHeads()) {
            throw new IllegalArgumentException("a plan for %d heads over %d KV heads used for %d over %d"
                    .formatted(plan.heads(), plan.numKvHeads(), heads, pool.numKvHeads()));
        }
        long partialFloats = (long) tokens * heads * plan.maxSegments() * (headDim + 2);
        partials = gpu.reserve(partials, 4 * partialFloats);
        float scale = (float) (1.0 / Math.sqrt(headDim));
        int sharedFloats = (ROWS + 2 * CHUNK) * (headDim + 4) + ROWS * (CHUNK + 3);
        int group = heads / pool.numKvHeads();
        int blocksPerKvHead = (group + ROWS - 1) / ROWS;
        gpu.launch(MODULE, "hy_attention_segment", plan.items(), pool.numKvHeads() * blocksPerKvHead, THREADS,
                sharedFloats * Float.BYTES, partials,
                queries, pool.memory(), keyNorm, positions, tokenSequence, blockTables, plan.work(), maxBlocks,
                plan.maxSegments(), kvLayer, heads, pool.numKvHeads(), headDim, pool.blockSize(), pool.planeFloats(),
                scale);
        gpu.launch(MODULE, "hy_attention_merge", heads, tokens, headDim, 0, out, partials, positions, heads, headDim,
                plan.maxSegments());
    }

    @Override
    public void close() {
        for (DeviceMemory buffer : new DeviceMemory[] {partials, workList}) {
            if (buffer != null) {
                buffer.close();
            }
        }
        partials = null;
        workList = null;
    }
}

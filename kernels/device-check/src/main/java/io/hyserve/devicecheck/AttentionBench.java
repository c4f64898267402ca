package io.hyserve.devicecheck;

import io.hyserve.kernels.CudnnAttention;
import io.hyserve.kernels.DeviceMemory;
import io.hyserve.kernels.Gpu;
import io.hyserve.kernels.PagedAttentionKernel;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Paged attention at Hunyuan-Large's shape (80 query heads over 8 KV heads of 80, float32 pool, blocks of 16
 * scattered through the pool): decode of 32 sequences at 1K, 8K and 32K positions, against the copy bandwidth
 * (the unique K/V bytes each call must read over its time); a 4096-token causal prefill and a 512-token chunk at
 * the end of a 4096-token prompt in TFLOP/s, beside cuDNN's fused attention on the same shapes (bf16 Q/K/V in
 * contiguous rows, as cuDNN takes them; ours reads float32 K/V through block tables). Usage: {@code java -cp
 * device-tests.jar io.hyserve.devicecheck.AttentionBench [folders of cuDNN 9 and cuBLASLt 13]}.
 */
public final class AttentionBench {
    private static final int HEADS = 80;
    private static final int KV_HEADS = 8;
    private static final int HEAD_DIM = 80; // hidden 6400 / 80 heads
    private static final int BLOCK = 16;

    private AttentionBench() {}

    public static void main(String[] args) {
        try (Gpu gpu = Gpu.open(0); PagedAttentionKernel kernel = new PagedAttentionKernel(gpu)) {
            run(gpu, kernel, java.util.Arrays.stream(args).map(Path::of).toList(), System.out);
        }
    }

    static void run(Gpu gpu, PagedAttentionKernel kernel, List<Path> cudnnLibraries, PrintStream out) {
        double roof = gpu.copyBandwidth(1L << 30, 10);
        out.printf("attention bench: %d heads over %d KV heads of %d, float32 K/V, copy bandwidth %.0f GB/s%n", HEADS,
                KV_HEADS, HEAD_DIM, roof / 1e9);
        SplittableRandom random = new SplittableRandom(5);
        for (int context : new int[] {1024, 8192, 32_768}) {
            int sequences = 32;
            int[] positions = new int[sequences];
            int[] sequence = new int[sequences];
            for (int s = 0; s < sequences; s++) {
                positions[s] = context - 1;
                sequence[s] = s;
            }
            double ms = time(gpu, kernel, random, positions, sequence, sequences, context);
            double bytes = 2.0 * sequences * context * KV_HEADS * HEAD_DIM * Float.BYTES;
            out.printf("attention bench: decode, %d sequences at %d positions: %.3f ms, %.0f GB/s of K/V = %.0f %% of "
                    + "the copy bandwidth%n", sequences, context, ms, bytes / (ms / 1e3) / 1e9,
                    100 * bytes / (ms / 1e3) / roof);
        }
        int prompt = 4096;
        for (int queries : new int[] {prompt, 512}) {
            int[] positions = new int[queries];
            for (int t = 0; t < queries; t++) {
                positions[t] = prompt - queries + t;
            }
            double ms = time(gpu, kernel, random, positions, new int[queries], 1, prompt);
            // Multiply-adds of the two products over the causal triangle's visible (query, key) pairs.
            double pairs = (double) queries * (prompt - queries) + (double) queries * (queries + 1) / 2;
            double flops = 4.0 * HEADS * HEAD_DIM * pairs;
            out.printf("attention bench: causal prefill, %d queries over %d positions: ours %.3f ms, %.1f TFLOP/s%n",
                    queries, prompt, ms, flops / (ms / 1e3) / 1e12);
            try {
                double cudnnMs = timeCudnn(gpu, cudnnLibraries, random, queries, prompt);
                out.printf("attention bench: causal prefill, %d queries over %d positions: cuDNN %.3f ms, %.1f "
                        + "TFLOP/s (%.2f× ours)%n", queries, prompt, cudnnMs, flops / (cudnnMs / 1e3) / 1e12,
                        ms / cudnnMs);
            } catch (RuntimeException unavailable) { // not loadable, or no plan: our figures still stand
                out.printf("attention bench: cuDNN: %s%n", unavailable.getMessage());
            }
        }
    }

    /** cuDNN's fused attention on random bf16 Q/K/V of the same shape. */
    private static double timeCudnn(Gpu gpu, List<Path> libraries, SplittableRandom random, int queries, int keys) {
        short[] q = bf16(random, queries * HEADS * HEAD_DIM);
        short[] kv = bf16(random, keys * KV_HEADS * HEAD_DIM);
        try (CudnnAttention cudnn = new CudnnAttention(gpu, libraries);
                DeviceMemory dq = gpu.allocate(2L * q.length).write(q);
                DeviceMemory dk = gpu.allocate(2L * kv.length).write(kv);
                DeviceMemory dv = gpu.allocate(2L * kv.length).write(kv);
                DeviceMemory out = gpu.allocate(2L * q.length)) {
            CudnnAttention.Shape shape = new CudnnAttention.Shape(queries, keys, HEADS, KV_HEADS, HEAD_DIM);
            return Timing.medianMillis(gpu, 3, 10, () -> cudnn.prefill(out, dq, dk, dv, shape));
        }
    }

    private static short[] bf16(SplittableRandom random, int count) {
        short[] words = new short[count];
        for (int i = 0; i < count; i++) {
            words[i] = (short) (Float.floatToRawIntBits((float) random.nextGaussian()) >>> 16);
        }
        return words;
    }

    /** Median of timed calls over a pool of random K/V, each sequence's blocks shuffled through it. */
    private static double time(Gpu gpu, PagedAttentionKernel kernel, SplittableRandom random, int[] positions,
            int[] sequence, int sequences, int context) {
        int blocksPerSequence = (context + BLOCK - 1) / BLOCK;
        int blocks = sequences * blocksPerSequence;
        int[] order = new int[blocks];
        for (int i = 0; i < blocks; i++) {
            order[i] = i;
        }
        for (int i = blocks - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int swap = order[i];
            order[i] = order[j];
            order[j] = swap;
        }
        long slots = (long) blocks * BLOCK;
        long poolFloats = 2 * slots * KV_HEADS * HEAD_DIM;
        float[] queries = new float[positions.length * HEADS * HEAD_DIM];
        for (int i = 0; i < queries.length; i++) {
            queries[i] = (float) random.nextGaussian();
        }
        try (DeviceMemory pool = gpu.allocate(4 * poolFloats); DeviceMemory q = gpu.allocate(4L * queries.length).write(queries);
                DeviceMemory o = gpu.allocate(4L * queries.length);
                DeviceMemory pos = gpu.allocate(4L * positions.length).write(positions);
                DeviceMemory seq = gpu.allocate(4L * sequence.length).write(sequence);
                DeviceMemory tables = gpu.allocate(4L * blocks).write(order)) {
            fill(gpu, pool, poolFloats, random);
            PagedAttentionKernel.Pool kv = new PagedAttentionKernel.Pool(pool, KV_HEADS, HEAD_DIM, BLOCK, slots);
            PagedAttentionKernel.Plan plan = kernel.plan(positions, sequence, HEADS, KV_HEADS);
            return Timing.medianMillis(gpu, 3, 10, () -> kernel.attend(o, q, kv, 0, null, pos, seq, tables,
                    blocksPerSequence, positions.length, HEADS, plan));
        }
    }

    /** Random values through one reused host buffer (the pool can be gigabytes). */
    private static void fill(Gpu gpu, DeviceMemory pool, long floats, SplittableRandom random) {
        int piece = 1 << 24;
        float[] host = new float[piece];
        for (int i = 0; i < piece; i++) {
            host[i] = (float) random.nextGaussian();
        }
        try (DeviceMemory source = gpu.allocate(4L * piece).write(host)) {
            for (long offset = 0; offset < floats; offset += piece) {
                pool.copyFrom(source, offset * 4, 4L * Math.min(piece, floats - offset));
            }
        }
    }
}

package io.hyserve.engine.bench;

import io.hyserve.engine.backend.ExpertWeights;
import io.hyserve.engine.backend.KvStorage;
import io.hyserve.engine.backend.StepLayout;
import io.hyserve.engine.backend.Weight;
import io.hyserve.engine.backend.cpu.CpuBackend;
import io.hyserve.engine.kv.BlockAllocator;
import io.hyserve.engine.kv.SequenceBlocks;
import io.hyserve.engine.model.HunyuanConfig;
import io.hyserve.engine.model.HunyuanModel;
import io.hyserve.engine.model.HunyuanWeights;
import io.hyserve.engine.model.LoadProgress;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Measures the real forward path on a checkpoint: prefill tokens/s, batch-1 decode tokens/s, the weight
 * bytes one decode token reads, and the machine's triad bandwidth in the same run, so the decode figure can
 * be stated as a fraction of what the memory system delivers.
 */
public final class ModelBench {
    private static final int BLOCK_SIZE = 16;

    /** All figures of one run. */
    public record Result(String backend, int threads, int promptTokens, int decodeTokens, double prefillTokensPerSecond,
            double decodeTokensPerSecond, double medianDecodeStepMillis, long weightBytesPerDecodeToken,
            double triadBytesPerSecond) {

        /** Bytes per second the decode loop pulls from memory, over the triad bandwidth. */
        public double decodeBandwidthFraction() {
            return weightBytesPerDecodeToken * decodeTokensPerSecond / triadBytesPerSecond;
        }
    }

    private ModelBench() {}

    public static Result run(Path modelDirectory, int threads, int promptTokens, int decodeTokens) {
        try (CpuBackend backend = CpuBackend.vector(threads);
                HunyuanModel model = HunyuanModel.load(modelDirectory, backend, LoadProgress.NONE)) {
            HunyuanConfig config = model.config();
            int capacity = promptTokens + decodeTokens + 1;
            int blocks = (capacity + BLOCK_SIZE - 1) / BLOCK_SIZE;
            SplittableRandom random = new SplittableRandom(42);
            int[] prompt = random.ints(promptTokens, 0, 127957).toArray();
            try (KvStorage kv = model.allocateKv(blocks, BLOCK_SIZE)) {
                // Warm-up: compiles the kernels and faults every weight page in (a long prefill visits every expert).
                runSequence(model, kv, blocks, prompt, Math.min(decodeTokens, 16));
                double triadBefore = MemoryBandwidth.triad(threads, 1 << 26, 5);
                Timing timing = runSequence(model, kv, blocks, prompt, decodeTokens);
                double triadAfter = MemoryBandwidth.triad(threads, 1 << 26, 5);
                double[] steps = timing.decodeStepNanos.clone();
                Arrays.sort(steps);
                return new Result(backend.name(), threads, promptTokens, decodeTokens,
                        promptTokens / (timing.prefillNanos / 1e9),
                        decodeTokens / (Arrays.stream(timing.decodeStepNanos).sum() / 1e9),
                        steps[steps.length / 2] / 1e6,
                        weightBytesPerDecodeToken(config, model.weights()),
                        Math.max(triadBefore, triadAfter));
            }
        }
    }

    private record Timing(long prefillNanos, double[] decodeStepNanos) {}

    private static Timing runSequence(HunyuanModel model, KvStorage kv, int blocks, int[] prompt, int decodeTokens) {
        BlockAllocator allocator = new BlockAllocator(blocks);
        SequenceBlocks table = new SequenceBlocks(BLOCK_SIZE);
        table.ensureCapacity(prompt.length + decodeTokens + 1, allocator);
        long start = System.nanoTime();
        float[] logits = model.forward(prompt, layout(0, prompt.length, table), kv, new int[] {prompt.length - 1});
        long prefill = System.nanoTime() - start;
        double[] steps = new double[decodeTokens];
        for (int i = 0; i < decodeTokens; i++) {
            int token = argmax(logits);
            long stepStart = System.nanoTime();
            logits = model.forward(new int[] {token}, layout(prompt.length + i, 1, table), kv, new int[] {0});
            steps[i] = System.nanoTime() - stepStart;
        }
        return new Timing(prefill, steps);
    }

    private static StepLayout layout(int start, int count, SequenceBlocks table) {
        int[] positions = new int[count];
        Arrays.setAll(positions, i -> start + i);
        return StepLayout.of(positions, new int[count], new int[][] {table.table()}, BLOCK_SIZE);
    }

    private static int argmax(float[] logits) {
        int best = 0;
        for (int i = 1; i < logits.length; i++) {
            if (logits[i] > logits[best]) {
                best = i;
            }
        }
        return best;
    }

    /**
     * Weight bytes one decode token reads: every attention and norm weight, the router, the shared expert,
     * top-k routed experts per layer, the output projection and one embedding row.
     */
    static long weightBytesPerDecodeToken(HunyuanConfig config, HunyuanWeights weights) {
        long bytes = weights.lmHead.byteSize() + weights.embedTokens.byteSize() / config.vocabSize()
                + weights.finalNorm.byteSize();
        for (HunyuanWeights.Layer layer : weights.layers) {
            for (Weight w : new Weight[] {layer.inputNorm(), layer.qProj(), layer.kProj(), layer.vProj(), layer.oProj(),
                    layer.qBias(), layer.kBias(), layer.vBias(), layer.oBias(), layer.queryNorm(), layer.keyNorm(),
                    layer.postAttentionNorm(), layer.router()}) {
                bytes += w == null ? 0 : w.byteSize();
            }
            bytes += layer.shared() == null ? 0 : layer.shared().byteSize();
            bytes += layer.dense() == null ? 0 : layer.dense().byteSize();
            if (layer.experts().length > 0) {
                ExpertWeights expert = layer.experts()[0];
                bytes += (long) config.moeTopK() * expert.byteSize();
            }
        }
        return bytes;
    }
}

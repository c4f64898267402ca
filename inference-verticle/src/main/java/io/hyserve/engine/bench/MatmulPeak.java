package io.hyserve.engine.bench;

import io.hyserve.engine.backend.Activations;
import io.hyserve.engine.backend.Weight;
import io.hyserve.engine.backend.cpu.CpuBackend;
import io.hyserve.engine.load.DType;
import io.hyserve.engine.load.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.SplittableRandom;

/**
 * The compute roof of our own matmul: a prefill-shaped product (128 tokens × a square BF16 weight small
 * enough to stay in cache) on the CPU backend, best of several passes, in FLOP/s.
 */
final class MatmulPeak {
    private static final int TOKENS = 128;

    private MatmulPeak() {}

    static double measure(int threads, int size) {
        try (CpuBackend backend = CpuBackend.vector(threads, true); Arena arena = Arena.ofShared()) {
            MemorySegment data = arena.allocate(2L * size * size, 64);
            SplittableRandom random = new SplittableRandom(7);
            ValueLayout.OfShort bf16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
            for (long i = 0; i < (long) size * size; i++) {
                data.set(bf16, 2 * i, (short) (Float.floatToRawIntBits((float) random.nextDouble(-0.05, 0.05)) >>> 16));
            }
            Weight weight = backend.upload(new Tensor("peak", Path.of("memory"), DType.BF16, "BF16",
                    new long[] {size, size}, data));
            Activations in = backend.allocate(TOKENS, size);
            Activations out = backend.allocate(TOKENS, size);
            double best = 0;
            for (int pass = 0; pass < 40; pass++) {
                long started = System.nanoTime();
                for (int i = 0; i < 4; i++) {
                    backend.matmul(out, in, weight);
                }
                double seconds = (System.nanoTime() - started) / 1e9;
                best = Math.max(best, 4 * 2.0 * TOKENS * size * size / seconds);
            }
            return best;
        }
    }
}

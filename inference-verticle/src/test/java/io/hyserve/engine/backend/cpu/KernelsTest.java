package io.hyserve.engine.backend.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.hyserve.engine.load.DType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The vectorised kernels against their scalar twins, on shapes that hit every tile and tail path. */
class KernelsTest {
    private final Kernels vector = new VectorKernels();
    private final Kernels scalar = new ScalarKernels();

    private static float[] random(SplittableRandom random, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) random.nextDouble(-1, 1);
        }
        return x;
    }

    private static CpuWeight weight(Arena arena, float[] values, int rows, int cols, boolean bf16) {
        MemorySegment segment = arena.allocate((long) values.length * (bf16 ? 2 : 4), 1);
        for (int i = 0; i < values.length; i++) {
            if (bf16) {
                segment.set(CpuWeight.BF16, 2L * i, (short) (Float.floatToRawIntBits(values[i]) >>> 16));
            } else {
                segment.set(CpuWeight.F32, 4L * i, values[i]);
            }
        }
        return new CpuWeight(segment, bf16 ? DType.BF16 : DType.F32, rows, cols);
    }

    private static CpuWeight packed(Arena arena, CpuWeight rowMajor) {
        return CpuWeight.packBf16(arena.allocate(rowMajor.byteSize(), 64), rowMajor.data, rowMajor.rows, rowMajor.cols,
                VectorMatmul.PAIR_CHUNK);
    }

    /** Packing moves elements, never changes them: every element reads back, rows past the last group too. */
    @ParameterizedTest(name = "rows={0} cols={1}")
    @CsvSource({"8, 64", "19, 100", "3, 40", "16, 7", "24, 1280", "1, 96"})
    void packedWeightHoldsTheSameElements(int rows, int cols) {
        SplittableRandom random = new SplittableRandom(rows * 131L + cols);
        try (Arena arena = Arena.ofConfined()) {
            CpuWeight rowMajor = weight(arena, random(random, rows * cols), rows, cols, true);
            CpuWeight packed = packed(arena, rowMajor);
            assertThat(packed.packedRows).isEqualTo(rows - rows % CpuWeight.GROUP_ROWS);
            for (int r = 0; r < rows; r++) {
                assertThat(packed.row(r)).as("row %d", r).containsExactly(rowMajor.row(r));
            }
            if (rows == 1) {
                assertThat(packed.vector).containsExactly(rowMajor.vector);
            }
        }
    }

    /** Resident (packed) and mapped (row-major) weights give the same bits, for every tile and any row range. */
    @ParameterizedTest(name = "tokens={0} rows={1} cols={2} rows {3}..{4}")
    @CsvSource({
        "1, 19, 100, 0, 19", "2, 16, 64, 0, 16", "4, 24, 1280, 0, 24", "11, 19, 96, 0, 19", "7, 19, 100, 3, 17",
        "5, 8, 40, 0, 8"
    })
    void packedWeightGivesTheSameBitsAsRowMajor(int tokens, int rows, int cols, int start, int end) {
        SplittableRandom random = new SplittableRandom(tokens * 17L + rows * 5L + cols);
        float[] in = random(random, tokens * cols);
        try (Arena arena = Arena.ofConfined()) {
            CpuWeight rowMajor = weight(arena, random(random, rows * cols), rows, cols, true);
            CpuWeight packed = packed(arena, rowMajor);
            float[] fromRowMajor = new float[tokens * rows];
            float[] fromPacked = new float[tokens * rows];
            vector.matmul(vector.prepareInput(in, tokens, cols, rowMajor), tokens, rowMajor, start, end, fromRowMajor,
                    rows);
            vector.matmul(vector.prepareInput(in, tokens, cols, packed), tokens, packed, start, end, fromPacked, rows);
            assertThat(fromPacked).containsExactly(fromRowMajor);
            float[] plain = new float[tokens * rows];
            scalar.matmul(scalar.prepareInput(in, tokens, cols, packed), tokens, packed, start, end, plain, rows);
            for (int i = 0; i < plain.length; i++) {
                assertThat(fromPacked[i]).as("element %d", i).isCloseTo(plain[i], within(1e-5f * cols));
            }
        }
    }

    @ParameterizedTest(name = "tokens={0} rows={1} cols={2} bf16={3}")
    @CsvSource({
        "1, 4, 64, false", "1, 7, 70, true", "5, 9, 33, false", "4, 8, 128, true", "9, 13, 100, true",
        "3, 1, 5, false", "17, 6, 272, false", "2, 130, 64, true", "6, 10, 64, true", "3, 5, 96, true"
    })
    void matmulMatchesScalarTwin(int tokens, int rows, int cols, boolean bf16) {
        SplittableRandom random = new SplittableRandom(tokens * 31L + rows * 7L + cols);
        float[] in = random(random, tokens * cols);
        try (Arena arena = Arena.ofConfined()) {
            CpuWeight w = weight(arena, random(random, rows * cols), rows, cols, bf16);
            float[] fast = new float[tokens * rows];
            float[] plain = new float[tokens * rows];
            vector.matmul(vector.prepareInput(in, tokens, cols, w), tokens, w, 0, rows, fast, rows);
            scalar.matmul(scalar.prepareInput(in, tokens, cols, w), tokens, w, 0, rows, plain, rows);
            for (int i = 0; i < fast.length; i++) {
                assertThat(fast[i]).as("element %d", i).isCloseTo(plain[i], within(1e-5f * cols));
            }
        }
    }

    @ParameterizedTest(name = "rows {0}..{1} of {2}")
    @CsvSource({"0, 8, 12", "4, 12, 12", "3, 10, 12", "0, 1, 12"})
    void matmulWritesOnlyItsRowRange(int start, int end, int rows) {
        SplittableRandom random = new SplittableRandom(3);
        int cols = 48;
        float[] in = random(random, 2 * cols);
        try (Arena arena = Arena.ofConfined()) {
            CpuWeight w = weight(arena, random(random, rows * cols), rows, cols, true);
            float[] out = new float[2 * rows];
            java.util.Arrays.fill(out, Float.NaN);
            vector.matmul(vector.prepareInput(in, 2, cols, w), 2, w, start, end, out, rows);
            for (int t = 0; t < 2; t++) {
                for (int r = 0; r < rows; r++) {
                    assertThat(Float.isNaN(out[t * rows + r])).isEqualTo(r < start || r >= end);
                }
            }
        }
    }

    /** The same token row gives bit-identical results in any tile (1x4, 2x4, 4x4, row tail) and any batch. */
    @ParameterizedTest(name = "cols={0} bf16={1}")
    @CsvSource({"64, false", "100, true", "48, true", "6400, true", "1280, true", "96, true"})
    void matmulResultOfATokenDoesNotDependOnTheBatch(int cols, boolean bf16) {
        SplittableRandom random = new SplittableRandom(cols);
        int rows = 11;
        int tokens = 11; // a four-token group, a pair and a single token
        float[] in = random(random, tokens * cols);
        try (Arena arena = Arena.ofConfined()) {
            CpuWeight w = weight(arena, random(random, rows * cols), rows, cols, bf16);
            float[] batched = new float[tokens * rows];
            vector.matmul(vector.prepareInput(in, tokens, cols, w), tokens, w, 0, rows, batched, rows);
            for (int t = 0; t < tokens; t++) {
                float[] row = vector.prepareInput(java.util.Arrays.copyOfRange(in, t * cols, (t + 1) * cols), 1, cols, w);
                float[] single = new float[rows];
                vector.matmul(row, 1, w, 0, rows, single, rows);
                for (int r = 0; r < rows; r++) {
                    assertThat(Float.floatToRawIntBits(batched[t * rows + r]))
                            .as("token %d row %d", t, r).isEqualTo(Float.floatToRawIntBits(single[r]));
                }
                float[] oneRowAtATime = new float[rows];
                for (int r = 0; r < rows; r++) {
                    vector.matmul(row, 1, w, r, r + 1, oneRowAtATime, rows);
                }
                assertThat(oneRowAtATime).containsExactly(single);
            }
        }
    }

    @ParameterizedTest
    @CsvSource({"16", "80", "37", "3"})
    void reductionsAndAttentionHelpersMatchScalarTwin(int length) {
        SplittableRandom random = new SplittableRandom(length);
        float[] x = random(random, length + 5);
        float[] w = random(random, length);
        assertThat(vector.sumOfSquares(x, 5, length)).isCloseTo(scalar.sumOfSquares(x, 5, length), within(1e-5f * length));
        float[] a = new float[length];
        float[] b = new float[length];
        vector.scaleByWeight(x, 5, 0.75f, w, a, 0, length);
        scalar.scaleByWeight(x, 5, 0.75f, w, b, 0, length);
        assertThat(a).containsExactly(b);
    }

    @ParameterizedTest(name = "keys={0} length={1}")
    @CsvSource({"1, 80", "4, 16", "7, 80", "16, 37", "9, 3"})
    void attentionKernelsMatchScalarTwinAndIgnoreGrouping(int keys, int length) {
        SplittableRandom random = new SplittableRandom(keys * 100L + length);
        long stride = 4L * (length + 5); // slots wider than one head, as in the pool
        float[] q = random(random, length);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment kv = arena.allocate(stride * keys + 64, 4);
            for (long i = 0; i < kv.byteSize() / 4; i++) {
                kv.set(CpuWeight.F32, 4 * i, (float) random.nextDouble(-1, 1));
            }
            float[] fast = new float[keys];
            float[] plain = new float[keys];
            vector.dots(q, kv, 8, stride, keys, length, fast, 0);
            scalar.dots(q, kv, 8, stride, keys, length, plain, 0);
            for (int j = 0; j < keys; j++) {
                assertThat(fast[j]).isCloseTo(plain[j], within(1e-5f * length));
                float[] alone = new float[1];
                vector.dots(q, kv, 8 + j * stride, stride, 1, length, alone, 0);
                assertThat(Float.floatToRawIntBits(alone[0])).as("key %d alone vs in a group", j)
                        .isEqualTo(Float.floatToRawIntBits(fast[j]));
            }
            float[] weights = random(random, keys);
            float[] accFast = random(new SplittableRandom(1), length);
            float[] accPlain = accFast.clone();
            float[] accOneByOne = accFast.clone();
            vector.accumulate(weights, 0, kv, 8, stride, keys, accFast, length);
            scalar.accumulate(weights, 0, kv, 8, stride, keys, accPlain, length);
            for (int j = 0; j < keys; j++) {
                vector.accumulate(weights, j, kv, 8 + j * stride, stride, 1, accOneByOne, length);
            }
            for (int i = 0; i < length; i++) {
                assertThat(accFast[i]).isCloseTo(accPlain[i], within(1e-5f * keys));
            }
            assertThat(accOneByOne).containsExactly(accFast);
        }
    }
}

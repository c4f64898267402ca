package io.hyserve.kernels;

import static io.hyserve.kernels.FusedMoeOnDeviceTest.bf16;
import static io.hyserve.kernels.FusedMoeOnDeviceTest.widen;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * cuBLASLt's GEMM against a float64 reference of the same bf16-rounded activations and weights. Tolerance: 1e-3 of
 * the largest expected magnitude (at least 1); float32 accumulation over 640 products of exact bf16 values stays far
 * inside it, while a wrong layout or transposition misses it by orders of magnitude. Then batch invariance: 256 rows
 * in batches of 1, 7, 64 and 256 give bit-identical rows. cuBLASLt 13 is looked for where
 * {@code -Dhyserve.cublas.libraries} says, else on the dynamic loader's path; the tests skip without a GPU, and
 * without cuBLASLt unless that directory was named.
 */
class CublasGemmTest extends OnDevice {
    static final List<Path> LIBRARIES = libraryPath("cublas");
    private static final int N = 1000;
    private static final int K = 640;
    private static final float RELATIVE = 1e-3f;

    @ParameterizedTest(name = "{0} rows")
    @ValueSource(ints = {1, 7, 64})
    void matchesAFloat64ReferenceOfTheSameBf16Inputs(int rows) {
        short[] weight = bf16(gaussian(N * K, (float) (1 / Math.sqrt(K))));
        float[] in = gaussian(rows * K, 1);
        float[] expected = new float[rows * N];
        for (int r = 0; r < rows; r++) {
            double[] x = new double[K];
            for (int i = 0; i < K; i++) {
                x[i] = widen(bf16(in[r * K + i]));
            }
            for (int c = 0; c < N; c++) {
                double sum = 0;
                for (int i = 0; i < K; i++) {
                    sum += x[i] * widen(weight[c * K + i]);
                }
                expected[r * N + c] = (float) sum;
            }
        }
        try (CublasGemm gemm = cublas(); DeviceMemory w = gpu.allocate(2L * weight.length).write(weight);
                DeviceMemory x = upload(in); DeviceMemory out = gpu.allocate(4L * rows * N)) {
            gemm.multiply(out, x, w, rows, N, K);
            float[] actual = new float[rows * N];
            out.read(actual);
            assertClose(actual, expected, RELATIVE);
        }
    }

    @Test
    void aRowsBitsDoNotDependOnItsBatch() {
        int total = CublasGemm.REFERENCE_ROWS;
        short[] weight = bf16(gaussian(N * K, (float) (1 / Math.sqrt(K))));
        float[] in = gaussian(total * K, 1);
        try (CublasGemm gemm = cublas(); DeviceMemory w = gpu.allocate(2L * weight.length).write(weight)) {
            assertThat(gemm.algorithm(N, K)).contains("split-K 1,");
            int[] reference = null;
            for (int batch : new int[] {total, 64, 7, 1}) {
                float[] result = new float[total * N];
                for (int first = 0; first < total; first += batch) {
                    int rows = Math.min(batch, total - first);
                    try (DeviceMemory x = upload(Arrays.copyOfRange(in, first * K, (first + rows) * K));
                            DeviceMemory out = gpu.allocate(4L * rows * N)) {
                        gemm.multiply(out, x, w, rows, N, K);
                        float[] part = new float[rows * N];
                        out.read(part);
                        System.arraycopy(part, 0, result, first * N, part.length);
                    }
                }
                int[] bits = new int[result.length];
                Arrays.setAll(bits, i -> Float.floatToRawIntBits(result[i]));
                if (reference == null) {
                    reference = bits;
                } else {
                    assertThat(Arrays.mismatch(bits, reference)).as("first element that differs between batches of "
                            + "%d rows and one batch of %d", batch, total).isEqualTo(-1);
                }
            }
        }
    }

    private static CublasGemm cublas() {
        return openOrSkip(() -> new CublasGemm(gpu, LIBRARIES), LIBRARIES, "cuBLASLt 13");
    }
}

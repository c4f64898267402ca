package io.hyserve.kernels;

import static io.hyserve.kernels.FusedMoeOnDeviceTest.bf16;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * cuDNN's fused attention against a float64 reference of the same bf16 inputs. cuDNN rounds the probabilities to
 * bf16 for the second product and the output to bf16: tolerance 2e-2 of the largest expected magnitude. cuDNN 9 is
 * looked for where {@code -Dhyserve.cudnn.libraries} says, else on the dynamic loader's path; the tests skip without
 * a GPU, and without cuDNN unless that directory was named.
 */
class CudnnAttentionTest extends OnDevice {
    /** cuDNN's folder, then cuBLASLt's, which cuDNN needs. */
    static final List<Path> LIBRARIES = libraryPath("cudnn").isEmpty() ? List.of()
            : java.util.stream.Stream.concat(libraryPath("cudnn").stream(), libraryPath("cublas").stream()).toList();

    @ParameterizedTest(name = "{0} queries over {1} keys, {2} heads over {3} of {4}")
    @CsvSource({"37, 37, 8, 2, 64", "16, 100, 8, 8, 128", "200, 713, 16, 2, 80", "1, 300, 4, 1, 64"})
    void matchesAFloat64ReferenceOfTheSameBf16Inputs(int queries, int keys, int heads, int kvHeads, int headDim) {
        CudnnAttention attention = openOrSkip(() -> new CudnnAttention(gpu, LIBRARIES), LIBRARIES, "cuDNN 9");
        try (attention) {
            short[] q = bf16(gaussian(queries * heads * headDim, 1));
            short[] k = bf16(gaussian(keys * kvHeads * headDim, 1));
            short[] v = bf16(gaussian(keys * kvHeads * headDim, 1));
            short[] result = new short[q.length];
            try (DeviceMemory dq = gpu.allocate(2L * q.length).write(q);
                    DeviceMemory dk = gpu.allocate(2L * k.length).write(k);
                    DeviceMemory dv = gpu.allocate(2L * v.length).write(v);
                    DeviceMemory out = gpu.allocate(2L * q.length)) {
                attention.prefill(out, dq, dk, dv, new CudnnAttention.Shape(queries, keys, heads, kvHeads, headDim));
                gpu.synchronize();
                out.read(result);
            }
            float[][][] keyRows = new float[1][keys][];
            float[][][] valueRows = new float[1][keys][];
            int width = kvHeads * headDim;
            for (int p = 0; p < keys; p++) {
                keyRows[0][p] = widenRange(k, p * width, width);
                valueRows[0][p] = widenRange(v, p * width, width);
            }
            int[] positions = new int[queries];
            for (int i = 0; i < queries; i++) {
                positions[i] = keys - queries + i;
            }
            float[] expected = CpuReference.attention(widenRange(q, 0, q.length), keyRows, valueRows, null, positions,
                    new int[queries], heads, kvHeads, headDim);
            assertClose(widenRange(result, 0, result.length), expected, 2e-2f);
        }
    }

    private static float[] widenRange(short[] words, int from, int count) {
        float[] values = new float[count];
        for (int i = 0; i < count; i++) {
            values[i] = FusedMoeOnDeviceTest.widen(words[from + i]);
        }
        return values;
    }
}

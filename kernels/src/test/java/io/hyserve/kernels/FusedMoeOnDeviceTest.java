package io.hyserve.kernels;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The fused MoE kernels, and the dense tensor-core GEMM built on them, against a float64 reference of the same
 * arithmetic: bf16-rounded activations and weights, float32 accumulation, the SwiGLU output rounded to bf16 before
 * the down projection. Tolerance: relative L2 error 2e-3 for the MoE (bf16 roundings of the SwiGLU output that land
 * on the other side of a tie), 1e-5 for the dense product. Shapes leave partial tiles in every dimension (hidden
 * 200, intermediate 136, groups of 0 to 300 rows).
 */
class FusedMoeOnDeviceTest extends OnDevice {
    private static final int HIDDEN = 200;
    private static final int INTERMEDIATE = 136;
    private static final int ROUTED = 5;
    private static final double RELATIVE_L2 = 2e-3;

    /** Host copies of one layer's experts (bf16 words), routed first, shared last. */
    private record HostExperts(List<short[]> gate, List<short[]> up, List<short[]> down) {}

    @Test
    void everyTilePlanMatchesTheReferenceWithTheSharedExpertAndTopTwo() {
        HostExperts host = experts(ROUTED + 1);
        try (Layer layer = new Layer(host, true)) {
            for (int tokens : new int[] {1, 7, 300}) {
                float[] in = gaussian(tokens * HIDDEN, 1);
                int topK = 2;
                int[] chosen = new int[tokens * topK];
                float[] weights = new float[tokens * topK];
                for (int t = 0; t < tokens; t++) {
                    // Expert 4 gets nothing: an empty group must leave no tile behind.
                    chosen[t * topK] = random.nextInt(4);
                    chosen[t * topK + 1] = (chosen[t * topK] + 1 + random.nextInt(3)) % 4;
                    weights[t * topK] = random.nextFloat();
                    weights[t * topK + 1] = 1 - weights[t * topK];
                }
                double[] expected = reference(host, true, in, chosen, weights, tokens, topK, null);
                List<FusedMoeKernel.Plan> plans = new ArrayList<>();
                for (FusedMoeKernel.Tiles tiles : FusedMoeKernel.Tiles.values()) {
                    plans.add(new FusedMoeKernel.Plan(tiles, tiles)); // one layout for routed and shared groups
                }
                plans.add(new FusedMoeKernel.Plan(FusedMoeKernel.Tiles.ROWS_16, FusedMoeKernel.Tiles.ROWS_128));
                float[] first = null;
                for (FusedMoeKernel.Plan plan : plans) {
                    float[] actual = layer.run(in, chosen, weights, tokens, topK, null, plan);
                    assertThat(relativeError(actual, expected)).as("%d tokens, %s", tokens, plan)
                            .isLessThan(RELATIVE_L2);
                    // The K loop runs in one order whatever the tile: every plan gives the same bits.
                    if (first == null) {
                        first = actual;
                    } else {
                        assertThat(actual).as("%s against 16-row tiles", plan).containsExactly(first);
                    }
                }
            }
        }
    }

    @Test
    void routedOnlyAddsToWhatOutHolds() {
        HostExperts host = experts(ROUTED);
        int tokens = 33;
        float[] in = gaussian(tokens * HIDDEN, 1);
        float[] before = gaussian(tokens * HIDDEN, 1);
        int[] chosen = new int[tokens];
        float[] weights = new float[tokens];
        for (int t = 0; t < tokens; t++) {
            chosen[t] = random.nextInt(ROUTED);
            weights[t] = random.nextFloat();
        }
        try (Layer layer = new Layer(host, false)) {
            float[] actual = layer.run(in, chosen, weights, tokens, 1, before, FusedMoeKernel.Plan.of(chosen, 1, ROUTED));
            assertThat(relativeError(actual, reference(host, false, in, chosen, weights, tokens, 1, before)))
                    .isLessThan(RELATIVE_L2);
        }
    }

    @Test
    void aTokensOutputDoesNotDependOnTheTokensBesideIt() {
        HostExperts host = experts(ROUTED + 1);
        int tokens = 150;
        float[] in = gaussian(tokens * HIDDEN, 1);
        int[] chosen = new int[tokens];
        float[] weights = new float[tokens];
        for (int t = 0; t < tokens; t++) {
            chosen[t] = random.nextInt(ROUTED);
            weights[t] = random.nextFloat();
        }
        int last = tokens - 1;
        try (Layer layer = new Layer(host, true)) {
            float[] batched = layer.run(in, chosen, weights, tokens, 1, null, FusedMoeKernel.Plan.of(chosen, 1, ROUTED));
            int[] lastChoice = {chosen[last]};
            float[] alone = layer.run(Arrays.copyOfRange(in, last * HIDDEN, tokens * HIDDEN), lastChoice,
                    new float[] {weights[last]}, 1, 1, null, FusedMoeKernel.Plan.of(lastChoice, 1, ROUTED));
            assertThat(Arrays.copyOfRange(batched, last * HIDDEN, tokens * HIDDEN)).containsExactly(alone);
        }
    }

    @Test
    void denseProductsOnTensorCoresMatchTheReferenceWhateverTheRowCount() {
        int n = HIDDEN;
        int k = INTERMEDIATE;
        short[] weight = bf16(gaussian(n * k, (float) (1 / Math.sqrt(k))));
        // Every call's last row is this input: its output bits must not depend on the rows above it.
        float[] row = gaussian(k, 1);
        float[] alone = null;
        try (TensorCoreGemm gemm = new TensorCoreGemm(gpu); DeviceMemory w = gpu.allocate(2L * weight.length).write(weight);
                TensorCoreGemm.Weight prepared = gemm.prepare(w, n, k)) {
            for (int rows : new int[] {1, 19, 300}) {
                float[] in = gaussian(rows * k, 1);
                System.arraycopy(row, 0, in, (rows - 1) * k, k);
                double[] expected = new double[rows * n];
                for (int r = 0; r < rows; r++) {
                    float[] x = new float[k];
                    for (int i = 0; i < k; i++) {
                        x[i] = widen(bf16(in[r * k + i]));
                    }
                    for (int c = 0; c < n; c++) {
                        expected[r * n + c] = dot(weight, c, x);
                    }
                }
                try (DeviceMemory x = upload(in); DeviceMemory out = gpu.allocate(4L * rows * n)) {
                    gemm.multiply(out, x, prepared, rows);
                    float[] actual = new float[rows * n];
                    out.read(actual);
                    assertThat(relativeError(actual, expected)).as("%d rows", rows).isLessThan(1e-5);
                    float[] last = Arrays.copyOfRange(actual, (rows - 1) * n, rows * n);
                    if (alone == null) {
                        alone = last;
                    } else {
                        assertThat(last).as("the last of %d rows against the same row alone", rows)
                                .containsExactly(alone);
                    }
                }
            }
        }
    }

    private HostExperts experts(int count) {
        List<short[]> gate = new ArrayList<>();
        List<short[]> up = new ArrayList<>();
        List<short[]> down = new ArrayList<>();
        float scale = (float) (1 / Math.sqrt(HIDDEN));
        for (int e = 0; e < count; e++) {
            gate.add(bf16(gaussian(INTERMEDIATE * HIDDEN, scale)));
            up.add(bf16(gaussian(INTERMEDIATE * HIDDEN, scale)));
            down.add(bf16(gaussian(HIDDEN * INTERMEDIATE, (float) (1 / Math.sqrt(INTERMEDIATE)))));
        }
        return new HostExperts(gate, up, down);
    }

    /** The experts uploaded, and one call of the kernel on host inputs. */
    private final class Layer implements AutoCloseable {
        private final List<DeviceMemory> memory = new ArrayList<>();
        private final FusedMoeKernel.Experts experts;
        private final FusedMoeKernel.Scratch scratch = new FusedMoeKernel.Scratch(gpu);

        Layer(HostExperts host, boolean shared) {
            List<DeviceMemory> gate = host.gate().stream().map(this::uploadWeight).toList();
            List<DeviceMemory> up = host.up().stream().map(this::uploadWeight).toList();
            List<DeviceMemory> down = host.down().stream().map(this::uploadWeight).toList();
            experts = FusedMoeKernel.Experts.upload(gpu, gate, up, down, shared ? gate.size() - 1 : gate.size(), HIDDEN,
                    INTERMEDIATE);
        }

        private DeviceMemory uploadWeight(short[] words) {
            DeviceMemory m = gpu.allocate(2L * words.length).write(words);
            memory.add(m);
            return m;
        }

        float[] run(float[] in, int[] chosen, float[] weights, int tokens, int topK, float[] before,
                FusedMoeKernel.Plan plan) {
            float[] poison = new float[tokens * HIDDEN];
            Arrays.fill(poison, Float.NaN);
            try (DeviceMemory x = upload(in); DeviceMemory c = upload(chosen); DeviceMemory w = upload(weights);
                    DeviceMemory out = upload(before == null ? poison : before)) {
                new FusedMoeKernel(gpu).run(out, x, c, w, experts, tokens, topK, before != null, plan, scratch);
                float[] result = new float[tokens * HIDDEN];
                out.read(result);
                return result;
            }
        }

        @Override
        public void close() {
            scratch.close();
            experts.close();
            memory.forEach(DeviceMemory::close);
        }
    }

    private static double[] reference(HostExperts host, boolean shared, float[] in, int[] chosen, float[] weights,
            int tokens, int topK, float[] before) {
        double[] out = new double[tokens * HIDDEN];
        for (int t = 0; t < tokens; t++) {
            float[] x = new float[HIDDEN];
            for (int i = 0; i < HIDDEN; i++) {
                x[i] = widen(bf16(in[t * HIDDEN + i]));
            }
            double[] row = new double[HIDDEN];
            if (before != null) {
                for (int i = 0; i < HIDDEN; i++) {
                    row[i] = before[t * HIDDEN + i];
                }
            }
            if (shared) {
                add(row, mlp(host, host.gate().size() - 1, x), 1);
            }
            for (int j = 0; j < topK; j++) {
                add(row, mlp(host, chosen[t * topK + j], x), weights[t * topK + j]);
            }
            System.arraycopy(row, 0, out, t * HIDDEN, HIDDEN);
        }
        return out;
    }

    private static double[] mlp(HostExperts host, int e, float[] x) {
        float[] hidden = new float[INTERMEDIATE];
        for (int n = 0; n < INTERMEDIATE; n++) {
            double g = dot(host.gate().get(e), n, x);
            double u = dot(host.up().get(e), n, x);
            hidden[n] = widen(bf16((float) (g / (1 + Math.exp(-g)) * u)));
        }
        double[] out = new double[HIDDEN];
        for (int n = 0; n < HIDDEN; n++) {
            out[n] = dot(host.down().get(e), n, hidden);
        }
        return out;
    }

    private static double dot(short[] weight, int row, float[] x) {
        double sum = 0;
        for (int i = 0; i < x.length; i++) {
            sum += widen(weight[row * x.length + i]) * (double) x[i];
        }
        return sum;
    }

    private static void add(double[] acc, double[] values, double weight) {
        for (int i = 0; i < acc.length; i++) {
            acc[i] += weight * values[i];
        }
    }

    private static double relativeError(float[] actual, double[] expected) {
        double difference = 0;
        double norm = 0;
        for (int i = 0; i < expected.length; i++) {
            difference += (actual[i] - expected[i]) * (actual[i] - expected[i]);
            norm += expected[i] * expected[i];
        }
        return Double.isNaN(difference) ? Double.POSITIVE_INFINITY : Math.sqrt(difference / norm);
    }

    static short[] bf16(float[] values) {
        short[] words = new short[values.length];
        for (int i = 0; i < values.length; i++) {
            words[i] = bf16(values[i]);
        }
        return words;
    }

    /** Round to nearest even, as the kernels' conversion does (finite values). */
    static short bf16(float value) {
        int bits = Float.floatToRawIntBits(value);
        return (short) ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16);
    }

    static float widen(short word) {
        return Float.intBitsToFloat((word & 0xffff) << 16);
    }
}

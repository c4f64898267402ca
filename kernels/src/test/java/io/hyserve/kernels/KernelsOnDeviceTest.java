package io.hyserve.kernels;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

/**
 * Each kernel against its CPU twin on random inputs at Hunyuan-Large's shapes (hidden 6400, 80 query heads of
 * 128, 16 experts) and odd ones. Tolerances: exact where no arithmetic happens (gather, expert choice), else
 * 2e-6 relative to the row's largest value: float32 sums in another order, and expf against Math.exp.
 */
class KernelsOnDeviceTest extends OnDevice {
    private static final float RELATIVE = 2e-6f;

    @Test
    void embeddingGatherIsExact() {
        int vocabulary = 1000;
        int cols = 6400;
        short[] table = new short[vocabulary * cols];
        for (int i = 0; i < table.length; i++) {
            table[i] = (short) (Float.floatToIntBits((float) random.nextGaussian()) >>> 16);
        }
        int[] ids = {0, 999, 17, 17, 512};
        try (DeviceMemory t = gpu.allocate(2L * table.length).write(table);
                DeviceMemory i = gpu.allocate(4L * ids.length).write(ids);
                DeviceMemory out = gpu.allocate(4L * ids.length * cols)) {
            new EmbeddingKernel(gpu).gather(out, t, MatmulKernel.WeightType.BF16, i, ids.length, cols);
            float[] actual = new float[ids.length * cols];
            out.read(actual);
            assertThat(actual).containsExactly(CpuReference.embedBf16(table, cols, ids));
        }
    }

    @Test
    void rmsNormAloneAndFusedWithTheResidualAdd() {
        for (int cols : new int[] {6400, 1280, 77}) {
            int rows = 9;
            float[] residual = gaussian(rows * cols, 3);
            float[] delta = gaussian(rows * cols, 1);
            float[] weight = gaussian(cols, 1);
            try (DeviceMemory r = upload(residual); DeviceMemory d = upload(delta); DeviceMemory w = upload(weight);
                    DeviceMemory out = gpu.allocate(4L * rows * cols)) {
                RmsNormKernel kernel = new RmsNormKernel(gpu);
                kernel.rmsNorm(out, r, w, rows, cols, 1e-5f);
                float[] normed = new float[rows * cols];
                out.read(normed);
                assertClose(normed, CpuReference.rmsNorm(residual, weight, rows, cols, 1e-5f), RELATIVE);

                kernel.addRmsNorm(out, r, d, w, rows, cols, 1e-5f);
                float[] sum = new float[rows * cols];
                for (int i = 0; i < sum.length; i++) {
                    sum[i] = residual[i] + delta[i];
                }
                float[] newResidual = new float[rows * cols];
                r.read(newResidual);
                assertThat(newResidual).containsExactly(sum);
                out.read(normed);
                assertClose(normed, CpuReference.rmsNorm(sum, weight, rows, cols, 1e-5f), RELATIVE);
            }
        }
    }

    @Test
    void ropeThenPerHeadNormWithAndWithoutTheNorm() {
        int tokens = 5;
        int heads = 80;
        int headDim = 128;
        float[] x = gaussian(tokens * heads * headDim, 2);
        float[] cos = new float[tokens * headDim / 2];
        float[] sin = new float[cos.length];
        for (int i = 0; i < cos.length; i++) {
            double angle = random.nextDouble() * 2 * Math.PI;
            cos[i] = (float) Math.cos(angle);
            sin[i] = (float) Math.sin(angle);
        }
        float[] weight = gaussian(headDim, 1);
        for (float[] norm : new float[][] {weight, null}) {
            try (DeviceMemory d = upload(x); DeviceMemory c = upload(cos); DeviceMemory s = upload(sin);
                    DeviceMemory w = norm == null ? null : upload(norm)) {
                new RopeQkNormKernel(gpu).apply(d, c, s, w, tokens, heads, headDim, 1e-5f);
                float[] actual = new float[x.length];
                d.read(actual);
                assertClose(actual, CpuReference.ropeQkNorm(x, cos, sin, norm, tokens, heads, headDim, 1e-5f), RELATIVE);
            }
        }
    }

    @Test
    void routingPicksTheSameExpertsWithTheSameWeights() {
        int tokens = 300;
        for (int[] shape : new int[][] {{16, 1}, {16, 2}, {4, 1}, {64, 8}}) {
            int experts = shape[0];
            int topK = shape[1];
            float[] logits = separatedLogits(tokens, experts);
            try (DeviceMemory l = upload(logits); DeviceMemory e = gpu.allocate(4L * tokens * topK);
                    DeviceMemory w = gpu.allocate(4L * tokens * topK)) {
                new MoeRoutingKernel(gpu).route(l, e, w, tokens, experts, topK);
                int[] chosen = new int[tokens * topK];
                float[] weights = new float[tokens * topK];
                e.read(chosen);
                w.read(weights);
                CpuReference.Routing expected = CpuReference.route(logits, tokens, experts, topK);
                assertThat(chosen).containsExactly(expected.experts());
                assertClose(weights, expected.weights(), RELATIVE);
            }
        }
    }

    /** Per token a shuffle of values 0.05 apart: no two experts within rounding of each other. */
    private float[] separatedLogits(int tokens, int experts) {
        float[] logits = new float[tokens * experts];
        for (int t = 0; t < tokens; t++) {
            java.util.List<Integer> order = new java.util.ArrayList<>();
            for (int e = 0; e < experts; e++) {
                order.add(e);
            }
            java.util.Collections.shuffle(order, random);
            for (int e = 0; e < experts; e++) {
                logits[t * experts + e] = order.get(e) * 0.05f - 1.5f;
            }
        }
        return logits;
    }

    @Test
    void siluMulMatchesOnLargeAndOddLengths() {
        for (int n : new int[] {18304 * 3, 1, 1000003}) {
            float[] gate = gaussian(n, 4);
            float[] up = gaussian(n, 1);
            try (DeviceMemory g = upload(gate); DeviceMemory u = upload(up)) {
                new SiluMulKernel(gpu).apply(g, u, n);
                float[] actual = new float[n];
                g.read(actual);
                float[] expected = CpuReference.siluMul(gate, up);
                for (int i = 0; i < n; i++) {
                    assertThat(actual[i]).isCloseTo(expected[i], within(RELATIVE * Math.max(1, Math.abs(expected[i]))));
                }
            }
        }
    }
}

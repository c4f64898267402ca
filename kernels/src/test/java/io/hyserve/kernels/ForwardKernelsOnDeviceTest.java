package io.hyserve.kernels;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/**
 * The matmul, element-wise and paged-attention kernels against float64 references on random inputs. Tolerance:
 * 1e-5 relative to the output's largest value (float32 accumulation over up to 6400 terms).
 */
class ForwardKernelsOnDeviceTest extends OnDevice {
    private static final float RELATIVE = 1e-5f;

    @Test
    void matmulWithBf16AndF32WeightsForOneAndManyRows() {
        int n = 300;
        for (int k : new int[] {6400, 100}) { // 16-byte loads, and the scalar path for k not a multiple of 8
            float[] weight = gaussian(n * k, 1);
            short[] bf16 = new short[weight.length];
            float[] widened = new float[weight.length];
            for (int i = 0; i < weight.length; i++) {
                bf16[i] = (short) (Float.floatToIntBits(weight[i]) >>> 16);
                widened[i] = Float.intBitsToFloat((bf16[i] & 0xffff) << 16);
            }
            MatmulKernel kernel = new MatmulKernel(gpu);
            try (DeviceMemory wb = gpu.allocate(2L * bf16.length).write(bf16); DeviceMemory wf = upload(weight)) {
                for (int rows : new int[] {1, 8, 19}) {
                    float[] in = gaussian(rows * k, 1);
                    try (DeviceMemory x = upload(in); DeviceMemory out = gpu.allocate(4L * rows * n)) {
                        float[] actual = new float[rows * n];
                        kernel.multiply(out, x, wb, MatmulKernel.WeightType.BF16, rows, n, k);
                        out.read(actual);
                        assertClose(actual, CpuReference.matmul(in, widened, rows, n, k), RELATIVE);
                        kernel.multiply(out, x, wf, MatmulKernel.WeightType.F32, rows, n, k);
                        out.read(actual);
                        assertClose(actual, CpuReference.matmul(in, weight, rows, n, k), RELATIVE);
                    }
                }
            }
        }
    }

    @Test
    void aRowsProductsDoNotDependOnTheRowsBesideIt() {
        int n = 64;
        int k = 1280;
        float[] weight = gaussian(n * k, 1);
        float[] batch = gaussian(13 * k, 1);
        float[] alone = java.util.Arrays.copyOfRange(batch, 12 * k, 13 * k);
        MatmulKernel kernel = new MatmulKernel(gpu);
        try (DeviceMemory w = upload(weight); DeviceMemory xb = upload(batch); DeviceMemory xa = upload(alone);
                DeviceMemory ob = gpu.allocate(4L * 13 * n); DeviceMemory oa = gpu.allocate(4L * n)) {
            kernel.multiply(ob, xb, w, MatmulKernel.WeightType.F32, 13, n, k);
            kernel.multiply(oa, xa, w, MatmulKernel.WeightType.F32, 1, n, k);
            float[] batched = new float[13 * n];
            float[] single = new float[n];
            ob.read(batched);
            oa.read(single);
            assertThat(java.util.Arrays.copyOfRange(batched, 12 * n, 13 * n)).containsExactly(single);
        }
    }

    @Test
    void gatherScatterAndCombine() {
        int cols = 1280;
        float[] in = gaussian(6 * cols, 1);
        int[] rows = {5, 0, 3};
        ElementwiseKernel kernel = new ElementwiseKernel(gpu);
        try (DeviceMemory x = upload(in); DeviceMemory r = upload(rows); DeviceMemory gathered = gpu.allocate(4L * 3 * cols);
                DeviceMemory back = upload(new float[6 * cols])) {
            kernel.gatherRows(gathered, x, r, 3, cols);
            kernel.scatterRows(back, gathered, r, 3, cols);
            float[] result = new float[6 * cols];
            back.read(result);
            for (int row : rows) {
                assertThat(java.util.Arrays.copyOfRange(result, row * cols, (row + 1) * cols))
                        .containsExactly(java.util.Arrays.copyOfRange(in, row * cols, (row + 1) * cols));
            }
        }
        int tokens = 4;
        int topK = 2;
        float[] out = gaussian(tokens * cols, 1);
        float[] expertOut = gaussian(tokens * topK * cols, 1);
        float[] weights = gaussian(tokens * topK, 1);
        try (DeviceMemory o = upload(out); DeviceMemory e = upload(expertOut); DeviceMemory w = upload(weights)) {
            kernel.moeCombine(o, e, w, tokens, topK, cols);
            float[] actual = new float[out.length];
            o.read(actual);
            float[] expected = out.clone();
            for (int t = 0; t < tokens; t++) {
                for (int c = 0; c < cols; c++) {
                    float sum = 0;
                    for (int j = 0; j < topK; j++) {
                        sum += weights[t * topK + j] * expertOut[(t * topK + j) * cols + c];
                    }
                    expected[t * cols + c] += sum;
                }
            }
            assertClose(actual, expected, RELATIVE);
        }
    }

    @Test
    void pagedAttentionOverScatteredBlocksWithGqaAndKeyNorm() {
        int heads = 8;
        int kvHeads = 2;
        int headDim = 128;
        int blockSize = 16;
        // The long sequence spans three 512-position segments.
        int[] lengths = {1, 1300, 37};
        int[][] tables = new int[lengths.length][];
        int nextBlock = 0;
        for (int s = 0; s < lengths.length; s++) {
            tables[s] = new int[(lengths[s] + blockSize - 1) / blockSize];
            for (int b = 0; b < tables[s].length; b++) {
                tables[s][b] = nextBlock++;
            }
        }
        tables[1] = shuffled(tables[1]);
        int maxBlocks = tables[1].length;
        long slots = (long) nextBlock * blockSize;
        int kvCols = kvHeads * headDim;
        float[][][] keys = new float[lengths.length][][];
        float[][][] values = new float[lengths.length][][];
        float[] keyNorm = gaussian(headDim, 1);
        try (PagedAttentionKernel kernel = new PagedAttentionKernel(gpu);
                DeviceMemory poolMemory = gpu.allocate(4L * 2 * slots * kvCols)) {
            PagedAttentionKernel.Pool pool = new PagedAttentionKernel.Pool(poolMemory, kvHeads, headDim, blockSize, slots);
            for (int s = 0; s < lengths.length; s++) {
                int n = lengths[s];
                float[] k = gaussian(n * kvCols, 1);
                float[] v = gaussian(n * kvCols, 1);
                int[] slotOf = new int[n];
                keys[s] = new float[n][kvCols];
                values[s] = new float[n][kvCols];
                for (int p = 0; p < n; p++) {
                    slotOf[p] = tables[s][p / blockSize] * blockSize + p % blockSize;
                    for (int h = 0; h < kvHeads; h++) {
                        double squares = 0;
                        for (int i = 0; i < headDim; i++) {
                            squares += k[p * kvCols + h * headDim + i] * k[p * kvCols + h * headDim + i];
                        }
                        double inverse = 1 / Math.sqrt(squares / headDim + 1e-5);
                        for (int i = 0; i < headDim; i++) {
                            keys[s][p][h * headDim + i] = (float) (k[p * kvCols + h * headDim + i] * inverse);
                            values[s][p][h * headDim + i] = v[p * kvCols + h * headDim + i];
                        }
                    }
                }
                try (DeviceMemory dk = upload(k); DeviceMemory dv = upload(v); DeviceMemory ds = upload(slotOf)) {
                    kernel.writeKv(pool, 0, dk, kvCols, dv, kvCols, ds, n, true, 1e-5f);
                }
            }
            // One step: decode tokens at the end of each sequence, and a prefill chunk of 20 consecutive positions
            // across a segment boundary (a tile of 16 and one of 4).
            int[] positions = new int[25];
            int[] sequence = new int[25];
            int[][] decodes = {{0, 0}, {1299, 1}, {36, 2}, {600, 1}, {15, 1}};
            for (int i = 0; i < decodes.length; i++) {
                positions[i] = decodes[i][0];
                sequence[i] = decodes[i][1];
            }
            for (int i = 0; i < 20; i++) {
                positions[5 + i] = 1020 + i;
                sequence[5 + i] = 1;
            }
            int[] flatTables = new int[lengths.length * maxBlocks];
            for (int s = 0; s < tables.length; s++) {
                System.arraycopy(tables[s], 0, flatTables, s * maxBlocks, tables[s].length);
            }
            float[] queries = gaussian(positions.length * heads * headDim, 1);
            float[] actual = attend(kernel, pool, queries, keyNorm, positions, sequence, flatTables, maxBlocks, heads);
            assertClose(actual, CpuReference.attention(queries, keys, values, keyNorm, positions, sequence, heads,
                    kvHeads, headDim), RELATIVE);
            // A query tiled with its neighbours and the same query alone in a decode step: the same bits.
            int row = 5 + 7;
            int width = heads * headDim;
            float[] alone = attend(kernel, pool, java.util.Arrays.copyOfRange(queries, row * width, (row + 1) * width),
                    keyNorm, new int[] {positions[row]}, new int[] {1}, flatTables, maxBlocks, heads);
            assertThat(alone).containsExactly(java.util.Arrays.copyOfRange(actual, row * width, (row + 1) * width));
        }
    }

    private float[] attend(PagedAttentionKernel kernel, PagedAttentionKernel.Pool pool, float[] queries,
            float[] keyNorm, int[] positions, int[] sequence, int[] flatTables, int maxBlocks, int heads) {
        try (DeviceMemory q = upload(queries); DeviceMemory o = gpu.allocate(4L * queries.length);
                DeviceMemory kn = keyNorm == null ? null : upload(keyNorm); DeviceMemory pos = upload(positions);
                DeviceMemory seq = upload(sequence); DeviceMemory bt = upload(flatTables)) {
            kernel.attend(o, q, pool, 0, kn, pos, seq, bt, maxBlocks, positions.length, heads,
                    kernel.plan(positions, sequence, heads, pool.numKvHeads()));
            float[] actual = new float[queries.length];
            o.read(actual);
            return actual;
        }
    }

    private int[] shuffled(int[] values) {
        int[] copy = values.clone();
        for (int i = copy.length - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int swap = copy[i];
            copy[i] = copy[j];
            copy[j] = swap;
        }
        return copy;
    }

    @Test
    void theRestOfTheElementwiseAndEmbeddingPathsAndEmptySteps() {
        int cols = 1280;
        float[] x = gaussian(3 * cols, 1);
        float[] y = gaussian(3 * cols, 1);
        float[] bias = gaussian(cols, 1);
        ElementwiseKernel elementwise = new ElementwiseKernel(gpu);
        try (DeviceMemory a = upload(x); DeviceMemory b = upload(y); DeviceMemory c = upload(bias)) {
            elementwise.add(a, b, x.length);
            elementwise.addBias(a, c, 3, cols);
            float[] actual = new float[x.length];
            a.read(actual);
            for (int i = 0; i < x.length; i++) {
                assertThat(actual[i]).isEqualTo(x[i] + y[i] + bias[i % cols]);
            }
            // In place, as headRmsNorm uses it; and a launch over no rows is no launch.
            new RmsNormKernel(gpu).rmsNorm(b, b, c, 3, cols, 1e-6f);
            b.read(actual);
            assertClose(actual, CpuReference.rmsNorm(y, bias, 3, cols, 1e-6f), RELATIVE);
            new RmsNormKernel(gpu).rmsNorm(b, b, c, 0, cols, 1e-6f);
            new MatmulKernel(gpu).multiply(b, a, c, MatmulKernel.WeightType.F32, 0, 1, cols);
        }

        // F16 and float32 tables and weights.
        int n = 40;
        float[] weight = gaussian(n * cols, 1);
        short[] f16 = new short[weight.length];
        float[] widened = new float[weight.length];
        for (int i = 0; i < weight.length; i++) {
            f16[i] = Float.floatToFloat16(weight[i]);
            widened[i] = Float.float16ToFloat(f16[i]);
        }
        int[] ids = {39, 0, 7};
        try (DeviceMemory w16 = gpu.allocate(2L * f16.length).write(f16); DeviceMemory w32 = upload(weight);
                DeviceMemory i = upload(ids); DeviceMemory out = gpu.allocate(4L * ids.length * cols);
                DeviceMemory in = upload(x); DeviceMemory product = gpu.allocate(4L * 3 * n)) {
            EmbeddingKernel embedding = new EmbeddingKernel(gpu);
            float[] rows = new float[ids.length * cols];
            for (var type : new MatmulKernel.WeightType[] {MatmulKernel.WeightType.F16, MatmulKernel.WeightType.F32}) {
                embedding.gather(out, type == MatmulKernel.WeightType.F16 ? w16 : w32, type, i, ids.length, cols);
                out.read(rows);
                float[] table = type == MatmulKernel.WeightType.F16 ? widened : weight;
                for (int t = 0; t < ids.length; t++) {
                    assertThat(java.util.Arrays.copyOfRange(rows, t * cols, (t + 1) * cols))
                            .containsExactly(java.util.Arrays.copyOfRange(table, ids[t] * cols, (ids[t] + 1) * cols));
                }
            }
            new MatmulKernel(gpu).multiply(product, in, w16, MatmulKernel.WeightType.F16, 3, n, cols);
            float[] actual = new float[3 * n];
            product.read(actual);
            assertClose(actual, CpuReference.matmul(x, widened, 3, n, cols), RELATIVE);
        }
    }

    @Test
    void keysStoredAsGivenAndAttentionWithoutKeyNorm() {
        int heads = 20; // more query heads per KV head than one block takes (16)
        int headDim = 64;
        int blockSize = 16;
        int length = 40;
        int[] table = {2, 0, 1};
        float[] k = gaussian(length * headDim, 1);
        float[] v = gaussian(length * headDim, 1);
        int[] slots = new int[length];
        float[][][] keys = new float[1][length][headDim];
        float[][][] values = new float[1][length][headDim];
        for (int p = 0; p < length; p++) {
            slots[p] = table[p / blockSize] * blockSize + p % blockSize;
            System.arraycopy(k, p * headDim, keys[0][p], 0, headDim);
            System.arraycopy(v, p * headDim, values[0][p], 0, headDim);
        }
        try (PagedAttentionKernel kernel = new PagedAttentionKernel(gpu);
                DeviceMemory memory = gpu.allocate(4L * 2 * 3 * blockSize * headDim); DeviceMemory dk = upload(k);
                DeviceMemory dv = upload(v); DeviceMemory ds = upload(slots)) {
            PagedAttentionKernel.Pool pool = new PagedAttentionKernel.Pool(memory, 1, headDim, blockSize, 3L * blockSize);
            kernel.writeKv(pool, 0, dk, headDim, dv, headDim, ds, length, false, 1e-5f);
            int[] positions = {39, 5};
            float[] queries = gaussian(positions.length * heads * headDim, 1);
            float[] actual = attend(kernel, pool, queries, null, positions, new int[] {0, 0}, table, table.length,
                    heads);
            assertClose(actual, CpuReference.attention(queries, keys, values, null, positions, new int[] {0, 0},
                    heads, 1, headDim), RELATIVE);
        }
    }
}

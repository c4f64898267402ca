package io.hyserve.kernels;

/** {@code elementwise.cu}: residual add, bias, row gather and scatter, and the MoE combine. */
public final class ElementwiseKernel {
    static final String MODULE = "elementwise";
    private static final int BLOCK = 256;
    private static final int MAX_GRID = 65_535;
    private final Gpu gpu;

    public ElementwiseKernel(Gpu gpu) {
        this.gpu = gpu;
    }

    /** {@code acc += x} over {@code n} floats. */
    public void add(DeviceMemory acc, DeviceMemory x, long n) {
        int grid = (int) Math.max(1, Math.min(MAX_GRID, (n + BLOCK - 1) / BLOCK));
        gpu.launch(MODULE, "hy_add", grid, 1, BLOCK, 0, acc, x, n);
    }

    /** Adds {@code bias} (cols) to every row of {@code x} (rows, cols). */
    public void addBias(DeviceMemory x, DeviceMemory bias, int rows, int cols) {
        gpu.launch(MODULE, "hy_add_bias", rows, 1, BLOCK, 0, x, bias, cols);
    }

    /** {@code out[i] = in[rows[i]]} for {@code count} rows of {@code cols} floats. */
    public void gatherRows(DeviceMemory out, DeviceMemory in, DeviceMemory rows, int count, int cols) {
        gpu.launch(MODULE, "hy_gather_rows", count, 1, BLOCK, 0, out, in, rows, cols);
    }

    /** {@code out[rows[i]] = in[i]} for {@code count} rows of {@code cols} floats. */
    public void scatterRows(DeviceMemory out, DeviceMemory in, DeviceMemory rows, int count, int cols) {
        gpu.launch(MODULE, "hy_scatter_rows", count, 1, BLOCK, 0, out, in, rows, cols);
    }

    /** {@code out[t] += Σ_j weights[t, j] · expertOut[t·topK + j]} for {@code tokens} rows of {@code cols} floats. */
    public void moeCombine(DeviceMemory out, DeviceMemory expertOut, DeviceMemory weights, int tokens, int topK,
            int cols) {
        gpu.launch(MODULE, "hy_moe_combine", tokens, 1, BLOCK, 0, out, expertOut, weights, topK, cols);
    }
}

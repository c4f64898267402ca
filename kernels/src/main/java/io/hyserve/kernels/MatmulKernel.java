package io.hyserve.kernels;

/** {@code matmul.cu}: {@code out = in @ weight^T} with float32 activations and BF16, F16 or float32 weights. */
public final class MatmulKernel {
    static final String MODULE = "matmul";
    private static final int WARPS = 8;
    private static final int ROWS_PER_WARP = 8;
    private final Gpu gpu;

    /** How the weight's elements are stored. */
    public enum WeightType {
        BF16("hy_matmul_bf16"), F16("hy_matmul_f16"), F32("hy_matmul_f32");

        final String kernel;

        WeightType(String kernel) {
            this.kernel = kernel;
        }
    }

    public MatmulKernel(Gpu gpu) {
        this.gpu = gpu;
    }

    /** in (rows, k) float32, weight (n, k), out (rows, n) float32. */
    public void multiply(DeviceMemory out, DeviceMemory in, DeviceMemory weight, WeightType type, int rows, int n,
            int k) {
        gpu.launch(MODULE, type.kernel, (n + WARPS - 1) / WARPS, (rows + ROWS_PER_WARP - 1) / ROWS_PER_WARP, 32 * WARPS,
                0, out, in, weight, rows, n, k);
    }
}

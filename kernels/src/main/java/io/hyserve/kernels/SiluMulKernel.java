package io.hyserve.kernels;

/** {@code silu_mul.cu}: the SwiGLU activation, {@code gate = silu(gate) * up}, in place. */
public final class SiluMulKernel {
    static final String MODULE = "silu_mul";
    private static final int BLOCK = 256;
    private static final int MAX_GRID = 65_535;
    private final Gpu gpu;

    public SiluMulKernel(Gpu gpu) {
        this.gpu = gpu;
    }

    public void apply(DeviceMemory gate, DeviceMemory up, long n) {
        int grid = (int) Math.max(1, Math.min(MAX_GRID, (n + BLOCK - 1) / BLOCK));
        gpu.launch(MODULE, "hy_silu_mul", grid, 1, BLOCK, 0, gate, up, n);
    }
}

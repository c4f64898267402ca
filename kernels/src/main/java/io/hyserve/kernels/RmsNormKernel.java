package io.hyserve.kernels;

/** {@code rmsnorm.cu}: RMSNorm per row, alone or fused with the residual add before it. */
public final class RmsNormKernel {
    static final String MODULE = "rmsnorm";
    private static final int BLOCK = 256;
    private final Gpu gpu;

    public RmsNormKernel(Gpu gpu) {
        this.gpu = gpu;
    }

    /** {@code out = in / rms(in) * weight} per row of {@code cols} floats. */
    public void rmsNorm(DeviceMemory out, DeviceMemory in, DeviceMemory weight, int rows, int cols, float eps) {
        gpu.launch(MODULE, "hy_rms_norm", rows, 1, BLOCK, 0, out, in, weight, cols, eps);
    }

    /** {@code residual += delta; out = residual / rms(residual) * weight}, per row. */
    public void addRmsNorm(DeviceMemory out, DeviceMemory residual, DeviceMemory delta, DeviceMemory weight, int rows,
            int cols, float eps) {
        gpu.launch(MODULE, "hy_add_rms_norm", rows, 1, BLOCK, 0, out, residual, delta, weight, cols, eps);
    }
}

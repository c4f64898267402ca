package io.hyserve.kernels;

/**
 * {@code out = in @ weight^T} on bf16 tensor cores for BF16 weights (n, k): float32 activations rounded to bf16,
 * float32 accumulation and output. It runs the fused MoE's down-projection GEMM over one group of rows, so a row's
 * result is the same whatever the number of rows (the tile shape never changes the reduction order).
 */
public final class TensorCoreGemm implements AutoCloseable {
    private static final int LAYOUT_THREADS = 1024;
    private static final int ELEMENTWISE_BLOCK = 256;
    private final Gpu gpu;
    private DeviceMemory inBf16;
    private DeviceMemory slotToken;
    private DeviceMemory tileExpert;
    private final DeviceMemory numTiles;

    /** A BF16 weight as the GEMM takes it: a one-entry table of its address. */
    public record Weight(DeviceMemory table, int n, int k) implements AutoCloseable {
        @Override
        public void close() {
            table.close();
        }
    }

    public TensorCoreGemm(Gpu gpu) {
        this.gpu = gpu;
        this.numTiles = gpu.allocate(4);
    }

    /** Whether a weight of this shape can run here: rows of 16 bytes. */
    public static boolean supports(int n, int k) {
        return n % 8 == 0 && k % 8 == 0;
    }

    public Weight prepare(DeviceMemory weight, int n, int k) {
        if (!supports(n, k)) {
            throw new IllegalArgumentException("a (%d, %d) weight: both must be multiples of 8".formatted(n, k));
        }
        long address = weight.address();
        return new Weight(gpu.allocate(8).write(new int[] {(int) address, (int) (address >>> 32)}), n, k);
    }

    /** in (rows, k) float32, out (rows, n) float32. */
    public void multiply(DeviceMemory out, DeviceMemory in, Weight weight, int rows) {
        if (rows == 0) {
            return;
        }
        FusedMoeKernel.Tiles tiles = FusedMoeKernel.Tiles.holding(rows);
        int maxTiles = (rows + tiles.rows - 1) / tiles.rows;
        long elements = (long) rows * weight.k();
        inBf16 = gpu.reserve(inBf16, 2 * elements);
        slotToken = gpu.reserve(slotToken, 4L * maxTiles * tiles.rows);
        tileExpert = gpu.reserve(tileExpert, 4L * maxTiles);
        gpu.launch(FusedMoeKernel.MODULE, "hy_to_bf16",
                Math.toIntExact((elements + ELEMENTWISE_BLOCK - 1) / ELEMENTWISE_BLOCK), 1, ELEMENTWISE_BLOCK, 0,
                inBf16, in, elements);
        gpu.launch(FusedMoeKernel.MODULE, "hy_dense_layout", 1, 1, LAYOUT_THREADS, 0, slotToken, tileExpert, numTiles,
                rows, tiles.rows);
        gpu.launch(FusedMoeKernel.MODULE, "hy_moe_down_" + tiles.suffix, maxTiles,
                (weight.n() + tiles.cols - 1) / tiles.cols, 32 * tiles.warps, tiles.sharedBytes(1), out, inBf16,
                slotToken, tileExpert, numTiles, weight.table(), weight.n(), weight.k());
    }

    @Override
    public void close() {
        for (DeviceMemory buffer : new DeviceMemory[] {inBf16, slotToken, tileExpert, numTiles}) {
            if (buffer != null) {
                buffer.close();
            }
        }
    }
}

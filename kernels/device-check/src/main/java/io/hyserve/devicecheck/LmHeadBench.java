package io.hyserve.devicecheck;

import io.hyserve.kernels.CublasGemm;
import io.hyserve.kernels.DeviceMemory;
import io.hyserve.kernels.Gpu;
import io.hyserve.kernels.MatmulKernel;
import io.hyserve.kernels.TensorCoreGemm;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Our two GEMMs and cuBLASLt on Hunyuan-Large's lm_head (vocabulary 128512 × hidden 6400, BF16 weights, float32
 * activations) for 1, 32 and 256 rows: the float32 warp-per-row matmul, the bf16 tensor-core GEMM and cuBLASLt's
 * bf16 GEMM with its one pinned algorithm, the weight bytes read over their time against the copy bandwidth, to set
 * beside cuBLAS through PyTorch on the same shape (torch_bench.py). Usage:
 * {@code java -cp device-tests.jar io.hyserve.devicecheck.LmHeadBench [folders to look for libcublasLt.so.13 in]};
 * the dynamic loader's path after them, and without cuBLASLt the line says so.
 */
public final class LmHeadBench {
    private static final int VOCAB = 128_512;
    private static final int HIDDEN = 6400;

    private LmHeadBench() {}

    public static void main(String[] args) {
        List<Path> cublasLibraries = java.util.Arrays.stream(args).map(Path::of).toList();
        SplittableRandom random = new SplittableRandom(9);
        try (Gpu gpu = Gpu.open(0)) {
            double roof = gpu.copyBandwidth(1L << 30, 10);
            short[] rows = new short[HIDDEN * 1024];
            for (int i = 0; i < rows.length; i++) {
                rows[i] = (short) (Float.floatToRawIntBits((float) random.nextDouble(-0.05, 0.05)) >>> 16);
            }
            long weightBytes = 2L * VOCAB * HIDDEN;
            MatmulKernel matmul = new MatmulKernel(gpu);
            try (DeviceMemory weight = gpu.allocate(weightBytes); DeviceMemory piece = gpu.allocate(2L * rows.length);
                    TensorCoreGemm gemm = new TensorCoreGemm(gpu); CublasGemm cublas = cublasOrNull(gpu,
                            cublasLibraries)) {
                piece.write(rows);
                for (long offset = 0; offset < weightBytes; offset += piece.bytes()) {
                    weight.copyFrom(piece, offset, Math.min(piece.bytes(), weightBytes - offset));
                }
                if (cublas != null) {
                    System.out.printf("lm_head bench: cuBLASLt runs %s for every row count%n",
                            cublasFigure(() -> cublas.algorithm(VOCAB, HIDDEN)));
                }
                for (int tokens : new int[] {1, 32, 256}) {
                    float[] in = new float[tokens * HIDDEN];
                    for (int i = 0; i < in.length; i++) {
                        in[i] = (float) random.nextGaussian();
                    }
                    try (DeviceMemory x = gpu.allocate(4L * in.length).write(in);
                            DeviceMemory out = gpu.allocate(4L * tokens * VOCAB)) {
                        double warp = medianMillis(gpu, () -> matmul.multiply(out, x, weight,
                                MatmulKernel.WeightType.BF16, tokens, VOCAB, HIDDEN));
                        double tensorCores;
                        try (TensorCoreGemm.Weight prepared = gemm.prepare(weight, VOCAB, HIDDEN)) {
                            tensorCores = medianMillis(gpu, () -> gemm.multiply(out, x, prepared, tokens));
                        }
                        String cublasFigure = cublas == null ? "cuBLASLt not run" : cublasFigure(() -> {
                            double lt = medianMillis(gpu, () -> cublas.multiply(out, x, weight, tokens, VOCAB, HIDDEN));
                            return "cuBLASLt GEMM %.3f ms (%.0f %%)".formatted(lt,
                                    100 * weightBytes / (lt / 1e3) / roof);
                        });
                        System.out.printf("lm_head bench: tokens %d: float32 matmul %.3f ms (%.0f %% of the copy "
                                + "bandwidth), bf16 tensor-core GEMM %.3f ms (%.0f %%), %s; copy bandwidth %.0f "
                                + "GB/s%n", tokens, warp, 100 * weightBytes / (warp / 1e3) / roof, tensorCores,
                                100 * weightBytes / (tensorCores / 1e3) / roof, cublasFigure, roof / 1e9);
                    }
                }
            }
        }
    }

    /** A cuBLASLt figure, or why there is none: its failure must not cost the other columns. */
    private static String cublasFigure(java.util.function.Supplier<String> figure) {
        try {
            return figure.get();
        } catch (RuntimeException e) {
            return "cuBLASLt failed: " + e.getMessage();
        }
    }

    /** cuBLASLt, or null after a line saying why it cannot be loaded (it is not part of the driver). */
    private static CublasGemm cublasOrNull(Gpu gpu, List<Path> libraries) {
        try {
            return new CublasGemm(gpu, libraries);
        } catch (RuntimeException e) {
            System.out.println("lm_head bench: cuBLASLt not run: " + e.getMessage());
            return null;
        }
    }

    private static double medianMillis(Gpu gpu, Runnable call) {
        return Timing.medianMillis(gpu, 3, 20, call);
    }
}

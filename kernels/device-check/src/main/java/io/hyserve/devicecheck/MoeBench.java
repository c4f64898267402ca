package io.hyserve.devicecheck;

import io.hyserve.kernels.DeviceMemory;
import io.hyserve.kernels.ExpertLoop;
import io.hyserve.kernels.FusedMoeKernel;
import io.hyserve.kernels.Gpu;
import io.hyserve.kernels.MatmulKernel;
import io.hyserve.kernels.MoeRoutingKernel;
import io.hyserve.kernels.SiluMulKernel;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * One Hunyuan-Large MoE block on the GPU (hidden 6400, expert intermediate 18304, 16 routed experts top-1 plus the
 * shared expert, BF16 weights) for 1, 16, 256 and 4096 tokens, from the normed hidden states to the block's
 * output, router included: the fused kernel with the engine's tile plan (marked *, routed/shared rows per tile) and
 * with one tile shape for both kinds of group, against our unfused
 * float32 per-expert loop, with the weight bytes each read over its time against the copy bandwidth. Every expert
 * holds the same random values (one upload, copied on the device); the timing does not depend on them.
 * Usage: {@code java -cp device-tests.jar io.hyserve.devicecheck.MoeBench [TOKENS,...]}.
 */
public final class MoeBench {
    private static final int HIDDEN = 6400;
    private static final int INTERMEDIATE = 18_304;
    private static final int EXPERTS = 16;

    private MoeBench() {}

    public static void main(String[] args) {
        int[] tokenCounts = args.length > 0 ? Arrays.stream(args[0].split(",")).mapToInt(Integer::parseInt).toArray()
                : new int[] {1, 16, 256, 4096};
        try (Gpu gpu = Gpu.open(0)) {
            run(gpu, tokenCounts, System.out);
        }
    }

    static void run(Gpu gpu, int[] tokenCounts, PrintStream out) {
        SplittableRandom random = new SplittableRandom(11);
        long matrixBytes = 2L * INTERMEDIATE * HIDDEN;
        List<DeviceMemory> allocations = new ArrayList<>();
        try (DeviceMemory source = gpu.allocate(matrixBytes).write(bf16(random, INTERMEDIATE * HIDDEN, 0.02f));
                DeviceMemory router = gpu.allocate(2L * EXPERTS * HIDDEN).write(bf16(random, EXPERTS * HIDDEN, 0.02f));
                ExpertLoop loop = new ExpertLoop(gpu); FusedMoeKernel.Scratch scratch = new FusedMoeKernel.Scratch(gpu)) {
            List<DeviceMemory> gate = new ArrayList<>();
            List<DeviceMemory> up = new ArrayList<>();
            List<DeviceMemory> down = new ArrayList<>();
            for (int e = 0; e <= EXPERTS; e++) {
                for (List<DeviceMemory> projection : List.of(gate, up, down)) {
                    DeviceMemory copy = gpu.allocate(matrixBytes).copyFrom(source, 0, matrixBytes);
                    allocations.add(copy);
                    projection.add(copy);
                }
            }
            List<ExpertLoop.Expert> routed = new ArrayList<>();
            for (int e = 0; e < EXPERTS; e++) {
                routed.add(new ExpertLoop.Expert(gate.get(e), up.get(e), down.get(e), MatmulKernel.WeightType.BF16));
            }
            ExpertLoop.Expert shared = new ExpertLoop.Expert(gate.get(EXPERTS), up.get(EXPERTS), down.get(EXPERTS),
                    MatmulKernel.WeightType.BF16);
            double roof = gpu.copyBandwidth(1L << 30, 10);
            out.printf("moe bench: hidden %d, intermediate %d, %d experts top-1 + shared, bf16 weights, on %s, "
                    + "copy bandwidth %.0f GB/s%n", HIDDEN, INTERMEDIATE, EXPERTS, gpu.name(), roof / 1e9);
            try (FusedMoeKernel.Experts experts = FusedMoeKernel.Experts.upload(gpu, gate, up, down, EXPERTS, HIDDEN,
                    INTERMEDIATE)) {
                Block block = new Block(gpu, router, experts, routed, shared, loop, scratch);
                for (int tokens : tokenCounts) {
                    block.measure(tokens, random, roof, out);
                }
            }
        } finally {
            allocations.forEach(DeviceMemory::close);
        }
    }

    /** The MoE block both ways, for one token count at a time. */
    private record Block(Gpu gpu, DeviceMemory router, FusedMoeKernel.Experts experts, List<ExpertLoop.Expert> routed,
            ExpertLoop.Expert shared, ExpertLoop loop, FusedMoeKernel.Scratch scratch) {

        void measure(int tokens, SplittableRandom random, double roof, PrintStream out) {
            float[] hidden = new float[tokens * HIDDEN];
            for (int i = 0; i < hidden.length; i++) {
                hidden[i] = (float) random.nextDouble(-1, 1);
            }
            MatmulKernel matmul = new MatmulKernel(gpu);
            MoeRoutingKernel routing = new MoeRoutingKernel(gpu);
            FusedMoeKernel fused = new FusedMoeKernel(gpu);
            SiluMulKernel siluMul = new SiluMulKernel(gpu);
            try (DeviceMemory x = gpu.allocate(4L * hidden.length).write(hidden);
                    DeviceMemory logits = gpu.allocate(4L * tokens * EXPERTS);
                    DeviceMemory chosen = gpu.allocate(4L * tokens); DeviceMemory weights = gpu.allocate(4L * tokens);
                    DeviceMemory fusedOut = gpu.allocate(4L * hidden.length);
                    DeviceMemory loopOut = gpu.allocate(4L * hidden.length);
                    DeviceMemory sharedGate = gpu.allocate(4L * tokens * INTERMEDIATE);
                    DeviceMemory sharedUp = gpu.allocate(4L * tokens * INTERMEDIATE)) {
                Runnable route = () -> {
                    matmul.multiply(logits, x, router, MatmulKernel.WeightType.BF16, tokens, EXPERTS, HIDDEN);
                    routing.route(logits, chosen, weights, tokens, EXPERTS, 1);
                };
                int[] hostChosen = new int[tokens];
                route.run();
                chosen.read(hostChosen);
                long active = Arrays.stream(hostChosen).distinct().count() + 1;
                long bytes = active * 3 * 2L * INTERMEDIATE * HIDDEN;
                FusedMoeKernel.Plan choice = FusedMoeKernel.Plan.of(hostChosen, 1, EXPERTS);
                StringBuilder line = new StringBuilder();
                List<FusedMoeKernel.Plan> plans = new ArrayList<>();
                plans.add(choice);
                for (FusedMoeKernel.Tiles tiles : FusedMoeKernel.Tiles.values()) {
                    plans.add(new FusedMoeKernel.Plan(tiles, tiles));
                }
                for (FusedMoeKernel.Plan plan : plans) {
                    double ms = medianMillis(tokens <= 256 ? 20 : 10, () -> {
                        route.run();
                        fused.run(fusedOut, x, chosen, weights, experts, tokens, 1, false, plan, scratch);
                    });
                    line.append(" fused %s/%s %.3f ms (%.0f%%)%s".formatted(label(plan.routed()), label(plan.shared()), ms,
                            100 * bytes / (ms / 1e3) / roof, plan == choice ? "*" : ""));
                }
                route.run();
                fused.run(fusedOut, x, chosen, weights, experts, tokens, 1, false, choice, scratch);
                double loopMs = medianMillis(tokens <= 256 ? 10 : 3, () -> {
                    route.run();
                    int[] picks = new int[tokens];
                    float[] combine = new float[tokens];
                    chosen.read(picks); // the loop plans on the host, as the float32 backend does
                    weights.read(combine);
                    matmul.multiply(sharedGate, x, shared.gate(), shared.type(), tokens, INTERMEDIATE, HIDDEN);
                    matmul.multiply(sharedUp, x, shared.up(), shared.type(), tokens, INTERMEDIATE, HIDDEN);
                    siluMul.apply(sharedGate, sharedUp, (long) tokens * INTERMEDIATE);
                    matmul.multiply(loopOut, sharedGate, shared.down(), shared.type(), tokens, HIDDEN, INTERMEDIATE);
                    loop.run(loopOut, x, picks, combine, 1, routed, HIDDEN, INTERMEDIATE);
                });
                float[] a = new float[hidden.length];
                float[] b = new float[hidden.length];
                fusedOut.read(a);
                loopOut.read(b);
                out.printf("moe bench: tokens %d, %d experts active, %.0f MB of weights: loop %.3f ms (%.0f%%),%s;"
                        + " fused vs loop rel. L2 %.1e%n", tokens, active - 1, bytes / 1e6, loopMs,
                        100 * bytes / (loopMs / 1e3) / roof, line, relativeL2(a, b));
            }
        }

        private double medianMillis(int repeats, Runnable work) {
            return Timing.medianMillis(gpu, 2, repeats, work);
        }
    }

    /** Rows per tile, "w" for the wide tile. */
    private static String label(FusedMoeKernel.Tiles tiles) {
        return tiles.rows + (tiles == FusedMoeKernel.Tiles.ROWS_128_WIDE ? "w" : "");
    }

    private static double relativeL2(float[] actual, float[] expected) {
        double difference = 0;
        double norm = 0;
        for (int i = 0; i < expected.length; i++) {
            difference += (actual[i] - (double) expected[i]) * (actual[i] - (double) expected[i]);
            norm += (double) expected[i] * expected[i];
        }
        return Math.sqrt(difference / norm);
    }

    private static short[] bf16(SplittableRandom random, int n, float scale) {
        short[] words = new short[n];
        for (int i = 0; i < n; i++) {
            words[i] = (short) (Float.floatToRawIntBits((float) (random.nextDouble(-1, 1) * scale)) >>> 16);
        }
        return words;
    }
}

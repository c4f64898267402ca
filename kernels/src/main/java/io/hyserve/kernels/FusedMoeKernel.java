package io.hyserve.kernels;

import java.util.List;

/**
 * {@code moe_fused.cu}: a step's routed experts (and the shared expert, when given) as two grouped bf16
 * tensor-core GEMMs over tokens sorted by expert, gate and up fused with SwiGLU, then one weighted combine.
 * Activations enter and leave as float32; they are rounded to bf16 for the tensor cores.
 */
public final class FusedMoeKernel {
    static final String MODULE = "moe_fused";
    public static final int MAX_EXPERTS = 256;
    private static final int ALIGN_THREADS = 1024;
    private static final int ELEMENTWISE_BLOCK = 256;
    /** As moe_fused.cu: K elements per pipeline stage and a padded shared-memory row. */
    private static final int PADDED_ROW = 64 + 8;
    private final Gpu gpu;

    /** The grouped GEMMs' tile shapes, as {@code moe_fused.cu} instantiates them. */
    public enum Tiles {
        ROWS_16("16", 16, 64, 4, 4), ROWS_32("32", 32, 64, 4, 4), ROWS_64("64", 64, 64, 4, 4),
        ROWS_128("128", 128, 64, 8, 3), ROWS_128_WIDE("128w", 128, 128, 8, 3);

        final String suffix;
        /** Token slots per tile: each group is padded to a multiple of it. */
        public final int rows;
        /** Weight rows (output columns) per tile. */
        final int cols;
        final int warps;
        final int stages;

        Tiles(String suffix, int rows, int cols, int warps, int stages) {
            this.suffix = suffix;
            this.rows = rows;
            this.cols = cols;
            this.warps = warps;
            this.stages = stages;
        }

        int sharedBytes(int weights) {
            return stages * (rows + weights * cols) * PADDED_ROW * 2;
        }

        /**
         * The smallest tile that holds a group of {@code largestGroup} rows: every tile reads its expert's weights
         * again, so one tile per group while groups are small (decode). Past 256 rows groups are bound by
         * arithmetic and take the wide tile (on an H200 it ran the 4096-token block in 0.8× the time of the
         * 128 × 64 tile, and a 256-row shared expert slower).
         */
        public static Tiles holding(int largestGroup) {
            for (Tiles tiles : List.of(ROWS_16, ROWS_32, ROWS_64, ROWS_128)) {
                if (largestGroup <= tiles.rows) {
                    return tiles;
                }
            }
            return largestGroup <= 256 ? ROWS_128 : ROWS_128_WIDE;
        }
    }

    /** Tile shapes of one call: the routed experts' groups and the shared expert's (every token), laid out apart. */
    public record Plan(Tiles routed, Tiles shared) {
        /** From the routing decisions on the host, (tokens, topK): the largest routed group picks the routed tiles. */
        public static Plan of(int[] expertsPerToken, int topK, int routedExperts) {
            int[] counts = new int[routedExperts];
            int largest = 0;
            for (int expert : expertsPerToken) {
                largest = Math.max(largest, ++counts[expert]);
            }
            return new Plan(Tiles.holding(largest), Tiles.holding(expertsPerToken.length / topK));
        }
    }

    /**
     * One MoE layer's experts on the device: tables of their bf16 weights' addresses (routed experts first, the
     * shared expert last when present), gate/up {@code (intermediate, hidden)} and down {@code (hidden,
     * intermediate)}.
     */
    public record Experts(DeviceMemory gate, DeviceMemory up, DeviceMemory down, int routed, boolean shared,
            int hidden, int intermediate) implements AutoCloseable {
        public static Experts upload(Gpu gpu, List<DeviceMemory> gate, List<DeviceMemory> up, List<DeviceMemory> down,
                int routed, int hidden, int intermediate) {
            int count = gate.size();
            if (routed < 1 || routed > MAX_EXPERTS || count < routed || count > routed + 1 || up.size() != count
                    || down.size() != count) {
                throw new IllegalArgumentException("%d routed experts with %d/%d/%d gate/up/down weights (at most %d)"
                        .formatted(routed, gate.size(), up.size(), down.size(), MAX_EXPERTS));
            }
            if (hidden % 8 != 0 || intermediate % 8 != 0) {
                throw new IllegalArgumentException("hidden %d and intermediate %d must be multiples of 8"
                        .formatted(hidden, intermediate));
            }
            return new Experts(table(gpu, gate), table(gpu, up), table(gpu, down), routed, count > routed, hidden,
                    intermediate);
        }

        private static DeviceMemory table(Gpu gpu, List<DeviceMemory> weights) {
            long[] addresses = weights.stream().mapToLong(DeviceMemory::address).toArray();
            int[] words = new int[2 * addresses.length];
            for (int i = 0; i < addresses.length; i++) {
                words[2 * i] = (int) addresses[i];
                words[2 * i + 1] = (int) (addresses[i] >>> 32);
            }
            return gpu.allocate(4L * words.length).write(words);
        }

        @Override
        public void close() {
            gate.close();
            up.close();
            down.close();
        }
    }

    /** Device buffers of the fused calls, grown as steps need; reused in stream order. */
    public static final class Scratch implements AutoCloseable {
        private final Gpu gpu;
        private final Layout routed;
        private final Layout shared;
        private DeviceMemory inBf16;

        public Scratch(Gpu gpu) {
            this.gpu = gpu;
            this.routed = new Layout(gpu);
            this.shared = new Layout(gpu);
        }

        @Override
        public void close() {
            routed.close();
            shared.close();
            if (inBf16 != null) {
                inBf16.close();
            }
        }
    }

    /**
     * One group layout's buffers: slots by tile, each (token, choice) pair's and each token's shared-expert slot,
     * the tiles' experts, the rows between the two GEMMs and their outputs.
     */
    private static final class Layout implements AutoCloseable {
        private final Gpu gpu;
        private DeviceMemory slotToken, pairSlot, sharedSlot, tileExpert, numTiles, hiddenRows, expertOut;

        Layout(Gpu gpu) {
            this.gpu = gpu;
        }

        void reserve(long slots, long pairs, int tokens, int tiles, int hidden, int intermediate) {
            slotToken = gpu.reserve(slotToken, 4 * slots);
            pairSlot = gpu.reserve(pairSlot, 4 * pairs);
            sharedSlot = gpu.reserve(sharedSlot, 4L * tokens);
            tileExpert = gpu.reserve(tileExpert, 4L * tiles);
            numTiles = gpu.reserve(numTiles, 4);
            hiddenRows = gpu.reserve(hiddenRows, 2 * slots * intermediate);
            expertOut = gpu.reserve(expertOut, 4 * slots * hidden);
        }

        @Override
        public void close() {
            for (DeviceMemory buffer : new DeviceMemory[] {slotToken, pairSlot, sharedSlot, tileExpert, numTiles,
                    hiddenRows, expertOut}) {
                if (buffer != null) {
                    buffer.close();
                }
            }
        }
    }

    public FusedMoeKernel(Gpu gpu) {
        this.gpu = gpu;
    }

    /**
     * {@code out[t] (=|+=) [shared(in[t])] + Σ_j weights[t, j] · expert_{experts[t, j]}(in[t])}.
     *
     * @param out (tokens, hidden) float32
     * @param in (tokens, hidden) float32
     * @param expertsPerToken (tokens, topK) int32, routed expert indices
     * @param weights (tokens, topK) float32 combine weights
     * @param accumulate whether to add to {@code out} rather than overwrite it
     */
    public void run(DeviceMemory out, DeviceMemory in, DeviceMemory expertsPerToken, DeviceMemory weights,
            Experts experts, int tokens, int topK, boolean accumulate, Plan plan, Scratch s) {
        if (tokens == 0) {
            return;
        }
        int hidden = experts.hidden();
        long elements = (long) tokens * hidden;
        s.inBf16 = gpu.reserve(s.inBf16, 2 * elements);
        gpu.launch(MODULE, "hy_to_bf16", Math.toIntExact((elements + ELEMENTWISE_BLOCK - 1) / ELEMENTWISE_BLOCK), 1,
                ELEMENTWISE_BLOCK, 0, s.inBf16, in, elements);
        // Groups that take the same tile shape share one layout and launch (decode: more blocks to spread).
        boolean apart = experts.shared() && plan.shared() != plan.routed();
        experts(s.routed, s.inBf16, expertsPerToken, experts, tokens, topK, experts.shared() && !apart,
                plan.routed());
        Layout sharedLayout = apart ? s.shared : s.routed;
        if (apart) {
            experts(s.shared, s.inBf16, expertsPerToken, experts, tokens, 0, true, plan.shared());
        }
        gpu.launch(MODULE, "hy_moe_combine", (hidden + ELEMENTWISE_BLOCK - 1) / ELEMENTWISE_BLOCK, tokens,
                ELEMENTWISE_BLOCK, 0, out, s.routed.expertOut, sharedLayout.expertOut, s.routed.pairSlot,
                sharedLayout.sharedSlot, weights, topK, hidden, experts.shared() ? 1 : 0, accumulate ? 1 : 0);
    }

    /**
     * Lays out the routed pairs ({@code topK > 0}) and, with {@code shared}, the shared expert's tokens, and runs
     * their two grouped GEMMs.
     */
    private void experts(Layout layout, DeviceMemory inBf16, DeviceMemory expertsPerToken, Experts experts,
            int tokens, int topK, boolean shared, Tiles tiles) {
        int hidden = experts.hidden();
        int intermediate = experts.intermediate();
        int groups = experts.routed() + (shared ? 1 : 0);
        long pairs = (long) tokens * topK;
        long rows = pairs + (shared ? tokens : 0);
        int maxTiles = Math.toIntExact((rows + tiles.rows - 1) / tiles.rows + groups);
        long slots = (long) maxTiles * tiles.rows;
        layout.reserve(slots, pairs, tokens, maxTiles, hidden, intermediate);
        gpu.launch(MODULE, "hy_moe_align", 1, 1, ALIGN_THREADS, 0, layout.slotToken, layout.pairSlot,
                layout.sharedSlot, layout.tileExpert, layout.numTiles, expertsPerToken, tokens, topK,
                experts.routed(), tiles.rows, shared ? 1 : 0);
        gpu.launch(MODULE, "hy_moe_gate_up_" + tiles.suffix, maxTiles, (intermediate + tiles.cols - 1) / tiles.cols,
                32 * tiles.warps, tiles.sharedBytes(2), layout.hiddenRows, inBf16, layout.slotToken, layout.tileExpert,
                layout.numTiles, experts.gate(), experts.up(), intermediate, hidden);
        gpu.launch(MODULE, "hy_moe_down_" + tiles.suffix, maxTiles, (hidden + tiles.cols - 1) / tiles.cols,
                32 * tiles.warps, tiles.sharedBytes(1), layout.expertOut, layout.hiddenRows, layout.slotToken,
                layout.tileExpert, layout.numTiles, experts.down(), hidden, intermediate);
    }
}

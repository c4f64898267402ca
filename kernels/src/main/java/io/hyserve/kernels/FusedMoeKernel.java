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
    /** As moe_fused.cu: weight rows per tile, K elements per pipeline stage, padded shared-memory row. */
    private static final int TILE_COLS = 64;
    private static final int PADDED_ROW = 64 + 8;
    private final Gpu gpu;

    /** The grouped GEMMs' tile shapes, as {@code moe_fused.cu} instantiates them. */
    public enum Tiles {
        SMALL("s", 16, 4, 4), MEDIUM("m", 64, 4, 4), LARGE("l", 128, 8, 3);

        final String suffix;
        /** Token slots per tile: each expert's group is padded to a multiple of it. */
        public final int rows;
        final int warps;
        final int stages;

        Tiles(String suffix, int rows, int warps, int stages) {
            this.suffix = suffix;
            this.rows = rows;
            this.warps = warps;
            this.stages = stages;
        }

        int sharedBytes(int weights) {
            return stages * (rows + weights * TILE_COLS) * PADDED_ROW * 2;
        }

        /**
         * The tile for groups of about {@code rowsPerExpert} tokens: small tiles while weights dominate (decode),
         * larger ones once a tile's rows reuse each weight tile enough to be bound by arithmetic.
         */
        public static Tiles forRowsPerExpert(double rowsPerExpert) {
            return rowsPerExpert <= 24 ? SMALL : rowsPerExpert <= 96 ? MEDIUM : LARGE;
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

    /** Device buffers of one fused call, grown as steps need; reused in stream order. */
    public static final class Scratch implements AutoCloseable {
        private final Gpu gpu;
        private DeviceMemory slotToken, tokenSlot, sharedSlot, tileExpert, numTiles, inBf16, hiddenRows, expertOut;

        public Scratch(Gpu gpu) {
            this.gpu = gpu;
        }

        private DeviceMemory grow(DeviceMemory buffer, long bytes) {
            if (buffer != null && buffer.bytes() >= bytes) {
                return buffer;
            }
            if (buffer != null) {
                buffer.close();
            }
            return gpu.allocate(Math.max(bytes, 256));
        }

        @Override
        public void close() {
            for (DeviceMemory buffer : new DeviceMemory[] {slotToken, tokenSlot, sharedSlot, tileExpert, numTiles,
                    inBf16, hiddenRows, expertOut}) {
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
            Experts experts, int tokens, int topK, boolean accumulate, Tiles tiles, Scratch s) {
        if (tokens == 0) {
            return;
        }
        int hidden = experts.hidden();
        int intermediate = experts.intermediate();
        int groups = experts.routed() + (experts.shared() ? 1 : 0);
        long rows = (long) tokens * topK + (experts.shared() ? tokens : 0);
        int maxTiles = Math.toIntExact((rows + tiles.rows - 1) / tiles.rows + groups);
        long slots = (long) maxTiles * tiles.rows;
        s.slotToken = s.grow(s.slotToken, 4 * slots);
        s.tokenSlot = s.grow(s.tokenSlot, 4L * tokens * topK);
        s.sharedSlot = s.grow(s.sharedSlot, 4L * tokens);
        s.tileExpert = s.grow(s.tileExpert, 4L * maxTiles);
        s.numTiles = s.grow(s.numTiles, 4);
        s.inBf16 = s.grow(s.inBf16, 2L * tokens * hidden);
        s.hiddenRows = s.grow(s.hiddenRows, 2 * slots * intermediate);
        s.expertOut = s.grow(s.expertOut, 4 * slots * hidden);
        int withShared = experts.shared() ? 1 : 0;

        long elements = (long) tokens * hidden;
        gpu.launch(MODULE, "hy_to_bf16", Math.toIntExact((elements + ELEMENTWISE_BLOCK - 1) / ELEMENTWISE_BLOCK), 1,
                ELEMENTWISE_BLOCK, 0, s.inBf16, in, elements);
        gpu.launch(MODULE, "hy_moe_align", 1, 1, ALIGN_THREADS, 0, s.slotToken, s.tokenSlot, s.sharedSlot,
                s.tileExpert, s.numTiles, expertsPerToken, tokens, topK, experts.routed(), tiles.rows, withShared);
        gpu.launch(MODULE, "hy_moe_gate_up_" + tiles.suffix, maxTiles, (intermediate + TILE_COLS - 1) / TILE_COLS,
                32 * tiles.warps, tiles.sharedBytes(2), s.hiddenRows, s.inBf16, s.slotToken, s.tileExpert, s.numTiles,
                experts.gate(), experts.up(), intermediate, hidden);
        gpu.launch(MODULE, "hy_moe_down_" + tiles.suffix, maxTiles, (hidden + TILE_COLS - 1) / TILE_COLS,
                32 * tiles.warps, tiles.sharedBytes(1), s.expertOut, s.hiddenRows, s.slotToken, s.tileExpert,
                s.numTiles, experts.down(), hidden, intermediate);
        gpu.launch(MODULE, "hy_moe_combine", (hidden + ELEMENTWISE_BLOCK - 1) / ELEMENTWISE_BLOCK, tokens,
                ELEMENTWISE_BLOCK, 0, out, s.expertOut, s.tokenSlot, s.sharedSlot, weights, topK, hidden, withShared,
                accumulate ? 1 : 0);
    }
}

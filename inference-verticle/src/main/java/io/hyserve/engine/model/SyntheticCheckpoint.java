package io.hyserve.engine.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.hyserve.engine.load.Checkpoint;
import io.hyserve.engine.load.DType;
import io.hyserve.engine.load.SafetensorsWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

/**
 * Writes random-weight HunYuan checkpoints with Hunyuan-Large proportions (GQA, CLA pairs, 16 experts top-1
 * plus a shared expert, the real 128512-row vocabulary, BF16) for benchmarks. The text they produce is
 * meaningless; the work per token has the release's shape.
 */
public final class SyntheticCheckpoint {
    /** A checkpoint shape; {@code bytes()} estimates its size in BF16. */
    public record Preset(String name, int hiddenSize, int numHiddenLayers, int numAttentionHeads, int numKeyValueHeads,
            int intermediateSize, int numExperts) {
        public long parameters() {
            long h = hiddenSize;
            long d = h / numAttentionHeads;
            long attention = 2 * h * h + numKeyValueHeads * d * h; // q, o, and k+v on every other layer
            long mlp = 3 * h * intermediateSize;
            long perLayer = attention + (numExperts + 1) * mlp + numExperts * h + 2 * h + 2 * d;
            return VOCAB * h + numHiddenLayers * perLayer + h;
        }

        public long bytes() {
            return 2 * parameters();
        }
    }

    static final int VOCAB = 128512;
    /** Embedding rows from here up are padding without a token; zero, like the reference fixtures. */
    private static final int TOKENIZER_SIZE = 128166;
    private static final ValueLayout.OfShort BF16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final short BF16_ONE = 0x3F80;
    /** About 140 MB: a quick end-to-end shape. */
    public static final Preset SMALL = new Preset("small", 256, 4, 4, 2, 704, 16);
    /** About 1.8 GB: hidden 1280 with 80-wide heads as in the release, 16 heads / 2 KV heads, 4 layers. */
    public static final Preset MEDIUM = new Preset("medium", 1280, 4, 16, 2, 2816, 16);

    private SyntheticCheckpoint() {}

    public static Preset preset(String name) {
        return switch (name) {
            case "small" -> SMALL;
            case "medium" -> MEDIUM;
            default -> throw new IllegalArgumentException("unknown preset '%s'; expected small or medium".formatted(name));
        };
    }

    /** Writes config.json and model.safetensors for {@code preset} into {@code directory}. */
    public static void write(Path directory, Preset preset, long seed) {
        try {
            Files.createDirectories(directory);
            Files.writeString(directory.resolve(HunyuanConfig.FILE_NAME), config(preset));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + directory, e);
        }
        List<SafetensorsWriter.Entry> entries = new ArrayList<>();
        long h = preset.hiddenSize();
        long d = h / preset.numAttentionHeads();
        long inter = preset.intermediateSize();
        SplittableRandom seeds = new SplittableRandom(seed);
        entries.add(random("model.embed_tokens.weight", seeds.nextLong(), VOCAB, h, TOKENIZER_SIZE));
        for (int i = 0; i < preset.numHiddenLayers(); i++) {
            String p = "model.layers." + i + ".";
            entries.add(ones(p + "input_layernorm.weight", h));
            entries.add(random(p + "self_attn.q_proj.weight", seeds.nextLong(), h, h));
            if (i % 2 == 0) {
                entries.add(random(p + "self_attn.k_proj.weight", seeds.nextLong(), preset.numKeyValueHeads() * d, h));
                entries.add(random(p + "self_attn.v_proj.weight", seeds.nextLong(), preset.numKeyValueHeads() * d, h));
            }
            entries.add(random(p + "self_attn.o_proj.weight", seeds.nextLong(), h, h));
            entries.add(ones(p + "self_attn.query_layernorm.weight", d));
            entries.add(ones(p + "self_attn.key_layernorm.weight", d));
            entries.add(ones(p + "post_attention_layernorm.weight", h));
            entries.add(random(p + "mlp.gate.wg.weight", seeds.nextLong(), preset.numExperts(), h));
            List<String> mlps = new ArrayList<>();
            mlps.add(p + "mlp.shared_mlp.");
            for (int e = 0; e < preset.numExperts(); e++) {
                mlps.add(p + "mlp.experts." + e + ".");
            }
            for (String mlp : mlps) {
                entries.add(random(mlp + "gate_proj.weight", seeds.nextLong(), inter, h));
                entries.add(random(mlp + "up_proj.weight", seeds.nextLong(), inter, h));
                entries.add(random(mlp + "down_proj.weight", seeds.nextLong(), h, inter));
            }
        }
        entries.add(ones("model.norm.weight", h));
        SafetensorsWriter.write(directory.resolve(Checkpoint.SINGLE_FILE), entries,
                Map.of("format", "pt", "hyserve.synthetic", preset.name()));
    }

    static String config(Preset preset) {
        ObjectNode c = new ObjectMapper().createObjectNode();
        c.putArray("architectures").add(HunyuanConfig.ARCHITECTURE);
        c.put("model_type", "hunyuan");
        c.put("vocab_size", VOCAB);
        c.put("hidden_size", preset.hiddenSize());
        c.put("intermediate_size", preset.intermediateSize());
        c.put("num_hidden_layers", preset.numHiddenLayers());
        c.put("num_attention_heads", preset.numAttentionHeads());
        c.put("num_key_value_heads", preset.numKeyValueHeads());
        c.put("num_experts", preset.numExperts());
        c.put("moe_topk", 1);
        c.put("num_shared_expert", 1);
        c.put("use_mixed_mlp_moe", true);
        c.put("use_qk_norm", true);
        c.put("use_cla", true);
        c.put("cla_share_factor", 2);
        c.put("attention_bias", false);
        c.put("hidden_act", "silu");
        c.put("rms_norm_eps", 1e-5);
        c.put("rope_theta", 10000.0);
        c.putObject("rope_scaling").put("type", "dynamic").put("alpha", 1000.0).put("factor", 1.0);
        c.put("max_position_embeddings", 32768);
        c.put("tie_word_embeddings", true);
        c.put("bos_token_id", 127958);
        c.put("eos_token_id", 127960);
        c.put("pad_token_id", 127961);
        c.put("torch_dtype", "bfloat16");
        return c.toPrettyString();
    }

    private static SafetensorsWriter.Entry ones(String name, long length) {
        return new SafetensorsWriter.Entry(name, DType.BF16, new long[] {length}, segment -> {
            for (long i = 0; i < length; i++) {
                segment.set(BF16, 2 * i, BF16_ONE);
            }
        });
    }

    private static SafetensorsWriter.Entry random(String name, long seed, long rows, long cols) {
        return random(name, seed, rows, cols, rows);
    }

    /**
     * Uniform values with standard deviation 0.02 (the HF initialiser's) in rows below {@code randomRows}, zero
     * above, filled in parallel per row block.
     */
    private static SafetensorsWriter.Entry random(String name, long seed, long rows, long cols, long randomRows) {
        return new SafetensorsWriter.Entry(name, DType.BF16, new long[] {rows, cols}, segment -> {
            int blocks = (int) Math.min(rows, 256);
            long rowsPerBlock = (rows + blocks - 1) / blocks;
            IntStream.range(0, blocks).parallel().forEach(b -> {
                SplittableRandom random = new SplittableRandom(seed + 0x9E3779B97F4A7C15L * (b + 1));
                long from = b * rowsPerBlock * cols;
                long to = Math.min(rows, (b + 1) * rowsPerBlock) * cols;
                double bound = 0.02 * Math.sqrt(3);
                for (long i = from; i < to; i++) {
                    float value = i < randomRows * cols ? (float) random.nextDouble(-bound, bound) : 0f;
                    // Truncating to BF16 is fine for random values; only the distribution matters here.
                    segment.set(BF16, 2 * i, (short) (Float.floatToRawIntBits(value) >>> 16));
                }
            });
        });
    }

}

package io.hyserve.engine.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.hyserve.engine.load.CheckpointException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The model shape from a Hugging Face HunYuan {@code config.json}. Absent keys take the HF class defaults
 * (architecture spec §1); anything this engine cannot run faithfully is rejected with the offending key.
 */
public record HunyuanConfig(
        int vocabSize,
        int hiddenSize,
        int intermediateSize,
        int numHiddenLayers,
        int numAttentionHeads,
        int numKeyValueHeads,
        int numExperts,
        int moeTopK,
        int numSharedExpert,
        boolean useMixedMlpMoe,
        boolean useQkNorm,
        boolean useCla,
        int claShareFactor,
        boolean attentionBias,
        boolean tieWordEmbeddings,
        float rmsNormEps,
        double ropeTheta,
        double ropeAlpha,
        int maxPositionEmbeddings) {

    public static final String FILE_NAME = "config.json";
    static final String ARCHITECTURE = "HunYuanForCausalLM";

    public static HunyuanConfig load(Path modelDirectory) {
        Path file = modelDirectory.resolve(FILE_NAME);
        if (!Files.isRegularFile(file)) {
            throw new CheckpointException("%s: missing %s".formatted(modelDirectory, FILE_NAME));
        }
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(file.toFile());
        } catch (IOException e) {
            throw new CheckpointException("%s: invalid JSON: %s".formatted(file, e.getMessage()), e);
        }
        if (root == null || !root.isObject()) {
            throw new CheckpointException("%s: expected a JSON object".formatted(file));
        }
        return parse(root, file.toString());
    }

    static HunyuanConfig parse(JsonNode root, String source) {
        Keys keys = new Keys(root, source);
        checkArchitecture(keys);
        String activation = keys.string("hidden_act", "silu");
        if (!activation.equals("silu")) {
            throw keys.error("hidden_act", "is '%s'; only 'silu' is supported".formatted(activation));
        }
        int hidden = keys.positiveInt("hidden_size");
        int heads = keys.positiveInt("num_attention_heads");
        int kvHeads = keys.has("num_key_value_heads") ? keys.positiveInt("num_key_value_heads") : heads;
        int experts = keys.has("num_experts") ? keys.positiveInt("num_experts") : 1;
        int topK = keys.has("moe_topk") ? keys.positiveInt("moe_topk") : 1;
        boolean useCla = keys.bool("use_cla", false);
        int claFactor = keys.has("cla_share_factor") ? keys.positiveInt("cla_share_factor") : 1;
        if (hidden % heads != 0) {
            throw keys.error("num_attention_heads", "(%d) must divide hidden_size (%d)".formatted(heads, hidden));
        }
        if ((hidden / heads) % 2 != 0) {
            throw keys.error("num_attention_heads", "gives an odd head dimension %d; rotary embedding needs it even"
                    .formatted(hidden / heads));
        }
        if (heads % kvHeads != 0) {
            throw keys.error("num_key_value_heads", "(%d) must divide num_attention_heads (%d)".formatted(kvHeads, heads));
        }
        if (topK > experts) {
            throw keys.error("moe_topk", "(%d) exceeds num_experts (%d)".formatted(topK, experts));
        }
        double[] rope = ropeScaling(keys);
        return new HunyuanConfig(
                keys.positiveInt("vocab_size"),
                hidden,
                keys.positiveInt("intermediate_size"),
                keys.positiveInt("num_hidden_layers"),
                heads,
                kvHeads,
                experts,
                topK,
                keys.has("num_shared_expert") ? keys.positiveInt("num_shared_expert") : 1,
                keys.bool("use_mixed_mlp_moe", false),
                keys.bool("use_qk_norm", false),
                useCla,
                claFactor,
                keys.bool("attention_bias", false),
                keys.bool("tie_word_embeddings", false),
                (float) keys.positiveDouble("rms_norm_eps", 1e-5),
                keys.positiveDouble("rope_theta", 10000.0),
                rope[0],
                keys.has("max_position_embeddings") ? keys.positiveInt("max_position_embeddings") : 2048);
    }

    private static void checkArchitecture(Keys keys) {
        JsonNode architectures = keys.root.get("architectures");
        String modelType = keys.has("model_type") ? keys.string("model_type", "") : null;
        if (architectures == null && modelType == null) {
            throw keys.error("architectures", "is missing (and there is no model_type); expected " + ARCHITECTURE);
        }
        if (architectures != null) {
            boolean found = false;
            for (JsonNode arch : architectures) {
                found |= ARCHITECTURE.equals(arch.asText());
            }
            if (!found) {
                throw keys.error("architectures", "is %s; this engine runs %s".formatted(architectures, ARCHITECTURE));
            }
        }
        if (modelType != null && !modelType.equals("hunyuan")) {
            throw keys.error("model_type", "is '%s'; this engine runs 'hunyuan'".formatted(modelType));
        }
    }

    /** Returns {alpha}; only the release's {type: dynamic, alpha: a} variant is computed faithfully. */
    private static double[] ropeScaling(Keys keys) {
        JsonNode scaling = keys.root.get("rope_scaling");
        if (scaling == null || scaling.isNull() || !scaling.isObject()
                || !"dynamic".equals(scaling.path("type").asText(scaling.path("rope_type").asText()))
                || !scaling.path("alpha").isNumber() || scaling.path("alpha").asDouble() <= 0) {
            throw keys.error("rope_scaling", "is %s; only {\"type\": \"dynamic\", \"alpha\": a > 0} is supported"
                    .formatted(scaling));
        }
        return new double[] {scaling.get("alpha").asDouble()};
    }

    public int headDim() {
        return hiddenSize / numAttentionHeads;
    }

    public boolean isMoe() {
        return numExperts > 1;
    }

    /** Layer {@code i} computes its own K/V unless Cross-Layer Attention lets it reuse its owner's. */
    public boolean ownsKv(int layer) {
        return !useCla || layer % claShareFactor == 0;
    }

    public int kvOwner(int layer) {
        return useCla ? layer - layer % claShareFactor : layer;
    }

    /** Number of distinct K/V sets a token leaves in the cache (one per KV-owning layer). */
    public int numKvLayers() {
        int count = 0;
        for (int layer = 0; layer < numHiddenLayers; layer++) {
            count += ownsKv(layer) ? 1 : 0;
        }
        return count;
    }

    /** Index of {@code layer}'s K/V set among the KV-owning layers. */
    public int kvSlot(int layer) {
        int owner = kvOwner(layer);
        return useCla ? owner / claShareFactor : owner;
    }

    /** RoPE base enlarged once by the NTK alpha: {@code theta * alpha^(d / (d - 2))}. */
    public double effectiveRopeBase() {
        double d = headDim();
        return ropeTheta * Math.pow(ropeAlpha, d / (d - 2));
    }

    /** Reads keys with the type and range checks that produce errors naming the key. */
    private record Keys(JsonNode root, String source) {
        boolean has(String key) {
            return root.has(key) && !root.get(key).isNull();
        }

        CheckpointException error(String key, String problem) {
            return new CheckpointException("%s: config key '%s' %s".formatted(source, key, problem));
        }

        private JsonNode required(String key) {
            if (!has(key)) {
                throw error(key, "is missing");
            }
            return root.get(key);
        }

        int positiveInt(String key) {
            JsonNode node = required(key);
            if (node.isArray()) {
                throw error(key, "is a per-layer list; only a single value is supported");
            }
            if (!node.isIntegralNumber() || !node.canConvertToInt() || node.asInt() <= 0) {
                throw error(key, "must be a positive integer, got " + node);
            }
            return node.asInt();
        }

        double positiveDouble(String key, double fallback) {
            if (!has(key)) {
                return fallback;
            }
            JsonNode node = root.get(key);
            if (!node.isNumber() || node.asDouble() <= 0) {
                throw error(key, "must be a positive number, got " + node);
            }
            return node.asDouble();
        }

        boolean bool(String key, boolean fallback) {
            if (!has(key)) {
                return fallback;
            }
            JsonNode node = root.get(key);
            if (!node.isBoolean()) {
                throw error(key, "must be true or false, got " + node);
            }
            return node.asBoolean();
        }

        String string(String key, String fallback) {
            if (!has(key)) {
                return fallback;
            }
            JsonNode node = root.get(key);
            if (!node.isTextual()) {
                throw error(key, "must be a string, got " + node);
            }
            return node.asText();
        }
    }
}

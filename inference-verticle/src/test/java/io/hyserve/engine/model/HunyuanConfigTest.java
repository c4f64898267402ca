package io.hyserve.engine.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.hyserve.engine.load.CheckpointException;
import io.hyserve.engine.testing.Fixtures;
import java.io.IOException;
import org.junit.jupiter.api.Test;

class HunyuanConfigTest {
    private static ObjectNode fixtureConfig() throws IOException {
        return (ObjectNode) new ObjectMapper().readTree(Fixtures.model(Fixtures.F32_MODEL).resolve("config.json").toFile());
    }

    @Test
    void readsTheFixtureConfigAndDerivesClaOwners() throws IOException {
        HunyuanConfig c = HunyuanConfig.parse(fixtureConfig(), "config.json");
        assertThat(c.headDim()).isEqualTo(16);
        assertThat(c.numKvLayers()).isEqualTo(2);
        assertThat(c.kvOwner(3)).isEqualTo(2);
        assertThat(c.kvSlot(3)).isEqualTo(1);
        assertThat(c.ownsKv(1)).isFalse();
        var golden = Fixtures.golden(Fixtures.F32_MODEL).get("debug");
        for (int layer = 0; layer < 4; layer++) {
            assertThat(c.kvOwner(layer)).isEqualTo(golden.get("kv_owner_of_layer").get(layer).asInt());
        }
        assertThat(c.effectiveRopeBase()).isCloseTo(golden.get("rope_base_effective").asDouble(), within(1e-6));
        double[] inv = new RotaryEmbedding(c).inverseFrequencies();
        for (int j = 0; j < inv.length; j++) {
            assertThat(inv[j]).isCloseTo(golden.get("rope_inv_freq").get(j).asDouble(), within(1e-15));
        }
    }

    @Test
    void releasedModelShapeFromTheSpec() throws IOException {
        ObjectNode c = fixtureConfig();
        c.put("hidden_size", 6400).put("num_attention_heads", 80).put("num_key_value_heads", 8);
        HunyuanConfig config = HunyuanConfig.parse(c, "config.json");
        assertThat(config.headDim()).isEqualTo(80);
        assertThat(config.effectiveRopeBase()).isCloseTo(11937766.417, within(1e-3));
    }

    @Test
    void absentOptionalKeysTakeTheHfDefaults() throws IOException {
        ObjectNode c = fixtureConfig();
        for (String key : new String[] {"num_key_value_heads", "use_qk_norm", "use_cla", "cla_share_factor", "num_experts",
                "moe_topk", "num_shared_expert", "use_mixed_mlp_moe", "rms_norm_eps", "rope_theta", "tie_word_embeddings",
                "attention_bias"}) {
            c.remove(key);
        }
        HunyuanConfig config = HunyuanConfig.parse(c, "config.json");
        assertThat(config.numKeyValueHeads()).isEqualTo(config.numAttentionHeads());
        assertThat(config.isMoe()).isFalse();
        assertThat(config.useCla()).isFalse();
        assertThat(config.tieWordEmbeddings()).isFalse();
        assertThat(config.rmsNormEps()).isEqualTo(1e-5f);
        assertThat(config.numKvLayers()).isEqualTo(config.numHiddenLayers());
    }

    @Test
    void problemsNameTheKey() throws IOException {
        ObjectNode missing = fixtureConfig();
        missing.remove("hidden_size");
        assertError(missing, "'hidden_size' is missing");

        assertError(fixtureConfig().put("num_key_value_heads", 3), "'num_key_value_heads' (3) must divide num_attention_heads (4)");
        assertError(fixtureConfig().put("num_attention_heads", 5), "'num_attention_heads' (5) must divide hidden_size (64)");
        assertError(fixtureConfig().put("moe_topk", 9), "'moe_topk' (9) exceeds num_experts (4)");
        assertError(fixtureConfig().put("hidden_size", "64"), "'hidden_size' must be a positive integer");
        assertError(fixtureConfig().put("hidden_act", "gelu"), "'hidden_act'");
        assertError(fixtureConfig().put("model_type", "llama"), "'model_type'");
        ObjectNode linear = fixtureConfig();
        linear.putObject("rope_scaling").put("type", "linear").put("factor", 2.0);
        assertError(linear, "'rope_scaling'");
        ObjectNode perLayer = fixtureConfig();
        perLayer.putArray("moe_topk").add(1).add(1);
        assertError(perLayer, "'moe_topk' is a per-layer list");
        ObjectNode unknown = fixtureConfig();
        unknown.putArray("architectures").add("MixtralForCausalLM");
        assertError(unknown, "'architectures'");
    }

    private static void assertError(ObjectNode config, String message) {
        assertThatThrownBy(() -> HunyuanConfig.parse(config, "dir/config.json"))
                .isInstanceOf(CheckpointException.class)
                .hasMessageContaining("dir/config.json")
                .hasMessageContaining(message);
    }
}

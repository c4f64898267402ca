package io.hyserve.engine.model;

import io.hyserve.engine.backend.Backend;
import io.hyserve.engine.backend.ExpertWeights;
import io.hyserve.engine.backend.Weight;
import io.hyserve.engine.load.Checkpoint;
import io.hyserve.engine.load.CheckpointException;
import io.hyserve.engine.load.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * Every weight of a HunYuan checkpoint (spec §2), shape-checked against the config and handed to the
 * backend. Absent optional parts are null: K/V projections on CLA followers, QK-norm weights without
 * {@code use_qk_norm}, biases without {@code attention_bias}, the shared expert without mixed MLP-MoE.
 */
public final class HunyuanWeights {
    public final Weight embedTokens; // (vocab, hidden)
    public final Weight finalNorm; // (hidden)
    public final Weight lmHead; // (vocab, hidden): embed_tokens when tied
    public final Layer[] layers;

    /** One decoder layer's weights. */
    public record Layer(
            Weight inputNorm, // (hidden)
            Weight qProj, // (heads*d, hidden)
            Weight kProj, // (kvHeads*d, hidden), null on CLA followers
            Weight vProj, // (kvHeads*d, hidden), null on CLA followers
            Weight oProj, // (hidden, heads*d)
            Weight qBias,
            Weight kBias,
            Weight vBias,
            Weight oBias,
            Weight queryNorm, // (d)
            Weight keyNorm, // (d)
            Weight postAttentionNorm, // (hidden)
            Weight router, // (experts, hidden), null for dense layers
            ExpertWeights shared, // intermediate * numSharedExpert wide, null without mixed MLP-MoE
            ExpertWeights[] experts, // MoE experts, empty for dense layers
            ExpertWeights dense) {} // the single MLP of a dense model, else null

    private HunyuanWeights(Weight embedTokens, Weight finalNorm, Weight lmHead, Layer[] layers) {
        this.embedTokens = embedTokens;
        this.finalNorm = finalNorm;
        this.lmHead = lmHead;
        this.layers = layers;
    }

    public static HunyuanWeights load(HunyuanConfig config, Checkpoint checkpoint, Backend backend, LoadProgress progress) {
        Loader loader = new Loader(checkpoint, backend, progress);
        long hidden = config.hiddenSize();
        long vocab = config.vocabSize();
        long d = config.headDim();
        long qWidth = config.numAttentionHeads() * d;
        long kvWidth = config.numKeyValueHeads() * d;
        long inter = config.intermediateSize();

        var embed = loader.expect("model.embed_tokens.weight", vocab, hidden);
        var norm = loader.expect("model.norm.weight", hidden);
        var lmHead = config.tieWordEmbeddings() ? embed : loader.expect("lm_head.weight", vocab, hidden);
        List<LayerPlan> plans = new ArrayList<>();
        for (int i = 0; i < config.numHiddenLayers(); i++) {
            String p = "model.layers." + i + ".";
            boolean owns = config.ownsKv(i);
            boolean bias = config.attentionBias();
            boolean qk = config.useQkNorm();
            LayerPlan plan = new LayerPlan(
                    loader.expect(p + "input_layernorm.weight", hidden),
                    loader.expect(p + "self_attn.q_proj.weight", qWidth, hidden),
                    owns ? loader.expect(p + "self_attn.k_proj.weight", kvWidth, hidden) : null,
                    owns ? loader.expect(p + "self_attn.v_proj.weight", kvWidth, hidden) : null,
                    loader.expect(p + "self_attn.o_proj.weight", hidden, qWidth),
                    bias ? loader.expect(p + "self_attn.q_proj.bias", qWidth) : null,
                    bias && owns ? loader.expect(p + "self_attn.k_proj.bias", kvWidth) : null,
                    bias && owns ? loader.expect(p + "self_attn.v_proj.bias", kvWidth) : null,
                    bias ? loader.expect(p + "self_attn.o_proj.bias", hidden) : null,
                    qk ? loader.expect(p + "self_attn.query_layernorm.weight", d) : null,
                    qk ? loader.expect(p + "self_attn.key_layernorm.weight", d) : null,
                    loader.expect(p + "post_attention_layernorm.weight", hidden),
                    config.isMoe() ? loader.expect(p + "mlp.gate.wg.weight", config.numExperts(), hidden) : null,
                    config.isMoe() && config.useMixedMlpMoe()
                            ? loader.mlp(p + "mlp.shared_mlp.", inter * config.numSharedExpert(), hidden)
                            : null,
                    new ArrayList<>(),
                    config.isMoe() ? null : loader.mlp(p + "mlp.", inter, hidden));
            for (int e = 0; config.isMoe() && e < config.numExperts(); e++) {
                plan.experts.add(loader.mlp(p + "mlp.experts." + e + ".", inter, hidden));
            }
            plans.add(plan);
        }

        // Every tensor is checked before any is uploaded, so a bad checkpoint fails in milliseconds.
        loader.uploadAll();
        Layer[] layers = plans.stream().map(LayerPlan::build).toArray(Layer[]::new);
        return new HunyuanWeights(embed.weight(), norm.weight(), lmHead.weight(), layers);
    }

    /** A checked tensor whose backend weight exists once {@link Loader#uploadAll} has run. */
    private static final class Pending {
        final Tensor tensor;
        Weight weight;

        Pending(Tensor tensor) {
            this.tensor = tensor;
        }

        Weight weight() {
            return weight;
        }
    }

    private record PendingMlp(Pending gate, Pending up, Pending down) {
        ExpertWeights build() {
            return new ExpertWeights(gate.weight(), up.weight(), down.weight());
        }
    }

    private record LayerPlan(Pending inputNorm, Pending q, Pending k, Pending v, Pending o, Pending qBias,
            Pending kBias, Pending vBias, Pending oBias, Pending queryNorm, Pending keyNorm, Pending postNorm,
            Pending router, PendingMlp shared, List<PendingMlp> experts, PendingMlp dense) {
        Layer build() {
            return new Layer(w(inputNorm), w(q), w(k), w(v), w(o), w(qBias), w(kBias), w(vBias), w(oBias),
                    w(queryNorm), w(keyNorm), w(postNorm), w(router), shared == null ? null : shared.build(),
                    experts.stream().map(PendingMlp::build).toArray(ExpertWeights[]::new),
                    dense == null ? null : dense.build());
        }

        private static Weight w(Pending pending) {
            return pending == null ? null : pending.weight();
        }
    }

    private static final class Loader {
        private final Checkpoint checkpoint;
        private final Backend backend;
        private final LoadProgress progress;
        private final List<Pending> pending = new ArrayList<>();

        Loader(Checkpoint checkpoint, Backend backend, LoadProgress progress) {
            this.checkpoint = checkpoint;
            this.backend = backend;
            this.progress = progress;
        }

        Pending expect(String name, long... shape) {
            Tensor tensor = checkpoint.tensor(name).requireShape(shape);
            tensor.requireReadableDtype();
            Pending p = new Pending(tensor);
            pending.add(p);
            return p;
        }

        PendingMlp mlp(String prefix, long intermediate, long hidden) {
            return new PendingMlp(
                    expect(prefix + "gate_proj.weight", intermediate, hidden),
                    expect(prefix + "up_proj.weight", intermediate, hidden),
                    expect(prefix + "down_proj.weight", hidden, intermediate));
        }

        void uploadAll() {
            long total = pending.stream().mapToLong(p -> p.tensor.data().byteSize()).sum();
            long done = 0;
            for (int i = 0; i < pending.size(); i++) {
                Pending p = pending.get(i);
                try {
                    p.weight = backend.upload(p.tensor);
                } catch (RuntimeException e) {
                    throw new CheckpointException("%s: tensor '%s' cannot be loaded: %s"
                            .formatted(p.tensor.file(), p.tensor.name(), e.getMessage()), e);
                }
                done += p.tensor.data().byteSize();
                progress.update(i + 1, pending.size(), done, total);
            }
        }
    }
}

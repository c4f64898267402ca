package io.hyserve.engine.model;

import io.hyserve.engine.backend.Activations;
import io.hyserve.engine.backend.Backend;
import io.hyserve.engine.backend.ExpertWeights;
import io.hyserve.engine.backend.KvLayout;
import io.hyserve.engine.backend.KvStorage;
import io.hyserve.engine.backend.Routing;
import io.hyserve.engine.backend.StepLayout;
import io.hyserve.engine.backend.Weight;
import io.hyserve.engine.load.Checkpoint;
import java.nio.file.Path;
import java.util.List;

/**
 * HunYuan (Hunyuan-Large) decoder: the forward pass of spec §3, top to bottom, as calls into a
 * {@link Backend}. One call processes a ragged step: any number of tokens from any number of sequences,
 * each at its own positions, with K/V read and written through the paged pool.
 */
public final class HunyuanModel implements AutoCloseable {
    private final HunyuanConfig config;
    private final HunyuanWeights weights;
    private final Backend backend;
    private final Checkpoint checkpoint;
    private final RotaryEmbedding rotary;
    private Workspace workspace;
    private OutputBuffers outputs;

    private HunyuanModel(HunyuanConfig config, HunyuanWeights weights, Backend backend, Checkpoint checkpoint) {
        this.config = config;
        this.weights = weights;
        this.backend = backend;
        this.checkpoint = checkpoint;
        this.rotary = new RotaryEmbedding(config);
    }

    /** Opens {@code directory}'s config and checkpoint and hands every weight to {@code backend}. */
    public static HunyuanModel load(Path directory, Backend backend, LoadProgress progress) {
        HunyuanConfig config = HunyuanConfig.load(directory);
        Checkpoint checkpoint = Checkpoint.open(directory);
        try {
            return new HunyuanModel(config, HunyuanWeights.load(config, checkpoint, backend, progress), backend, checkpoint);
        } catch (RuntimeException e) {
            checkpoint.close();
            throw e;
        }
    }

    public HunyuanConfig config() {
        return config;
    }

    public HunyuanWeights weights() {
        return weights;
    }

    public Backend backend() {
        return backend;
    }

    /** A KV pool for this model holding {@code numBlocks × blockSize} token positions. */
    public KvStorage allocateKv(int numBlocks, int blockSize) {
        return backend.allocateKv(new KvLayout(numBlocks, blockSize, config.numKvLayers(),
                config.numKeyValueHeads(), config.headDim()));
    }

    public float[] forward(int[] tokenIds, StepLayout step, KvStorage kv, int[] logitRows) {
        return forward(tokenIds, step, kv, logitRows, ForwardObserver.NONE);
    }

    /**
     * Runs the step and returns float32 logits {@code (logitRows.length, vocab)} for the listed token rows
     * (row-major). K/V of every token are appended to the pool at the step's slots. The returned array is
     * reused by the next call with the same number of rows: read it (or copy it) before then.
     */
    public float[] forward(int[] tokenIds, StepLayout step, KvStorage kv, int[] logitRows, ForwardObserver observer) {
        int tokens = tokenIds.length;
        if (step.numTokens() != tokens) {
            throw new IllegalArgumentException("step layout has %d tokens, got %d ids".formatted(step.numTokens(), tokens));
        }
        Workspace ws = workspace(tokens);
        boolean observed = observer != ForwardObserver.NONE;
        float eps = config.rmsNormEps();
        float[][] rope = rotary.tables(step.positions());

        backend.embed(ws.x, weights.embedTokens, tokenIds);
        if (observed) {
            observer.embeddings(backend.toHost(ws.x));
        }
        for (int i = 0; i < config.numHiddenLayers(); i++) {
            HunyuanWeights.Layer layer = weights.layers[i];
            int kvSlot = config.kvSlot(i);

            // Self-attention: pre-norm, projections (K/V only on CLA owners), RoPE, then QK-norm.
            backend.rmsNorm(ws.h, ws.x, layer.inputNorm(), eps);
            project(ws.q, ws.h, layer.qProj(), layer.qBias());
            if (config.ownsKv(i)) {
                project(ws.k, ws.h, layer.kProj(), layer.kBias());
                project(ws.v, ws.h, layer.vProj(), layer.vBias());
                backend.rope(ws.k, config.numKeyValueHeads(), rope[0], rope[1]);
                // Keys are cached post-RoPE at unit RMS: each layer of the CLA group applies its own key norm.
                backend.writeKv(kv, kvSlot, ws.k, ws.v, step, config.useQkNorm(), eps);
            }
            backend.rope(ws.q, config.numAttentionHeads(), rope[0], rope[1]);
            if (config.useQkNorm()) {
                backend.headRmsNorm(ws.q, config.numAttentionHeads(), layer.queryNorm(), eps);
            }
            backend.attention(ws.attention, ws.q, kv, kvSlot, layer.keyNorm(), step);
            project(ws.h, ws.attention, layer.oProj(), layer.oBias());
            backend.add(ws.x, ws.h);

            // Feed-forward: shared expert plus routed experts (or one dense MLP).
            backend.rmsNorm(ws.h, ws.x, layer.postAttentionNorm(), eps);
            if (config.isMoe()) {
                backend.matmul(ws.routerLogits, ws.h, layer.router());
                Routing routing = backend.route(ws.routerLogits, config.moeTopK());
                if (observed) {
                    observer.routing(i, routing);
                }
                backend.moe(ws.ffn, ws.h, routing, layer.experts(), layer.shared(), ws.sharedGate, ws.sharedUp);
            } else {
                mlp(ws.ffn, ws.h, layer.dense(), ws.sharedGate, ws.sharedUp);
            }
            backend.add(ws.x, ws.ffn);
            if (observed) {
                observer.layerOutput(i, backend.toHost(ws.x));
            }
        }

        // Output: final norm and the (possibly tied) output projection, only for the rows asked for.
        OutputBuffers out = outputBuffers(logitRows.length);
        backend.gatherRows(out.selected, ws.x, logitRows);
        backend.rmsNorm(out.normed, out.selected, weights.finalNorm, eps);
        if (observed) {
            observer.finalNorm(backend.toHost(out.normed));
        }
        backend.matmul(out.logits, out.normed, weights.lmHead);
        backend.toHost(out.logits, out.host);
        return out.host;
    }

    private OutputBuffers outputBuffers(int rows) {
        if (outputs == null || outputs.rows != rows) {
            if (outputs != null) {
                outputs.release();
            }
            outputs = new OutputBuffers(rows);
        }
        return outputs;
    }

    /**
     * The output stage's buffers for one number of logit rows, reused while it repeats (steady decoding):
     * logits are half a megabyte per row, and allocating them every step keeps the collector busy.
     */
    private final class OutputBuffers {
        final int rows;
        final Activations selected; // (rows, hidden)
        final Activations normed; // (rows, hidden)
        final Activations logits; // (rows, vocab)
        final float[] host; // (rows, vocab)

        OutputBuffers(int rows) {
            this.rows = rows;
            selected = backend.allocate(rows, config.hiddenSize());
            normed = backend.allocate(rows, config.hiddenSize());
            logits = backend.allocate(rows, config.vocabSize());
            host = new float[rows * config.vocabSize()];
        }

        void release() {
            List.of(selected, normed, logits).forEach(backend::release);
        }
    }

    private void project(Activations out, Activations in, Weight weight, Weight bias) {
        backend.matmul(out, in, weight);
        if (bias != null) {
            backend.addBias(out, bias);
        }
    }

    /** SwiGLU: {@code out = down(silu(gate(h)) ⊙ up(h))}. */
    private void mlp(Activations out, Activations h, ExpertWeights mlp, Activations gate, Activations up) {
        backend.matmul(gate, h, mlp.gate());
        backend.matmul(up, h, mlp.up());
        backend.siluMul(gate, up);
        backend.matmul(out, gate, mlp.down());
    }

    private Workspace workspace(int tokens) {
        if (workspace == null || workspace.tokens != tokens) {
            if (workspace != null) {
                workspace.release();
            }
            workspace = new Workspace(tokens);
        }
        return workspace;
    }

    /** Activations of one step size, reused while consecutive steps have the same token count (decode). */
    private final class Workspace {
        final int tokens;
        final Activations x; // (tokens, hidden) residual stream
        final Activations h; // (tokens, hidden) normalised input / projection output
        final Activations q; // (tokens, heads*d)
        final Activations k; // (tokens, kvHeads*d)
        final Activations v; // (tokens, kvHeads*d)
        final Activations attention; // (tokens, heads*d)
        final Activations routerLogits; // (tokens, experts)
        final Activations ffn; // (tokens, hidden)
        final Activations sharedGate; // (tokens, intermediate*shared)
        final Activations sharedUp; // (tokens, intermediate*shared)

        Workspace(int tokens) {
            this.tokens = tokens;
            int hidden = config.hiddenSize();
            int d = config.headDim();
            int mlpWidth = config.intermediateSize() * (config.isMoe() ? config.numSharedExpert() : 1);
            x = backend.allocate(tokens, hidden);
            h = backend.allocate(tokens, hidden);
            q = backend.allocate(tokens, config.numAttentionHeads() * d);
            k = backend.allocate(tokens, config.numKeyValueHeads() * d);
            v = backend.allocate(tokens, config.numKeyValueHeads() * d);
            attention = backend.allocate(tokens, config.numAttentionHeads() * d);
            routerLogits = backend.allocate(tokens, config.numExperts());
            ffn = backend.allocate(tokens, hidden);
            sharedGate = backend.allocate(tokens, mlpWidth);
            sharedUp = backend.allocate(tokens, mlpWidth);
        }

        void release() {
            List.of(x, h, q, k, v, attention, routerLogits, ffn, sharedGate, sharedUp).forEach(backend::release);
        }
    }

    @Override
    public void close() {
        checkpoint.close();
    }
}

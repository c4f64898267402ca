package io.hyserve.engine.backend;

import io.hyserve.engine.load.Tensor;

/**
 * The operations the forward pass is made of. A backend owns weights, activations and the KV pool in its
 * own memory; the forward pass only sequences these calls, so a GPU backend implements the same list.
 * Every operation must compute each output element in an order that does not depend on how many tokens
 * or sequences share the step (batch-invariant numerics).
 */
public interface Backend extends AutoCloseable {
    String name();

    /** Makes a checkpoint tensor usable by this backend (1-D tensors become one-row weights). */
    Weight upload(Tensor tensor);

    Activations allocate(int rows, int cols);

    /**
     * Gives back activations the caller will not use again. A device backend frees their memory at once; on the
     * CPU the collector does, so there it does nothing.
     */
    default void release(Activations activations) {}

    KvStorage allocateKv(KvLayout layout);

    /** Weight bytes streamed by matrix products so far (each weight counted once per product). */
    long weightBytesRead();

    /** Floating-point operations of matrix products and attention so far (a multiply-add counts two). */
    long flops();

    /** Copies activations to a new host array (row-major). */
    float[] toHost(Activations activations);

    /** Copies activations into {@code destination} (row-major, at least rows × cols long). */
    void toHost(Activations activations, float[] destination);

    /** {@code out[t] = table[ids[t]]}. */
    void embed(Activations out, Weight table, int[] ids);

    /** Per row: {@code out = weight ⊙ (in / sqrt(mean(in²) + eps))}. */
    void rmsNorm(Activations out, Activations in, Weight weight, float eps);

    /** RMSNorm in place over each head's {@code headDim} slice of every row, sharing {@code weight}. */
    void headRmsNorm(Activations x, int numHeads, Weight weight, float eps);

    /** {@code out = in @ weight.T}: out (rows, weight.rows), in (rows, weight.cols). */
    void matmul(Activations out, Activations in, Weight weight);

    /** Adds a bias row to every row. */
    void addBias(Activations x, Weight bias);

    /** Sets every element to zero. */
    void zero(Activations x);

    /** {@code acc += x}. */
    void add(Activations acc, Activations x);

    /**
     * Rotate-half rotary embedding in place on every head of every row; {@code cos}/{@code sin} are
     * {@code (rows, headDim/2)} for the rows' positions.
     */
    void rope(Activations x, int numHeads, float[] cos, float[] sin);

    /**
     * Stores the step's post-RoPE keys and values at their pool slots. With {@code unitRmsKeys} keys are
     * stored divided by their per-head RMS, so each layer applies its own key-norm weight at attention time.
     */
    void writeKv(KvStorage kv, int kvLayer, Activations keys, Activations values, StepLayout step,
            boolean unitRmsKeys, float eps);

    /**
     * Causal GQA attention of each query row over its own sequence's cached K/V; {@code keyNorm} (nullable)
     * is this layer's key-norm weight applied to unit-RMS cached keys.
     */
    void attention(Activations out, Activations queries, KvStorage kv, int kvLayer, Weight keyNorm, StepLayout step);

    /** {@code gate = silu(gate) ⊙ up}. */
    void siluMul(Activations gate, Activations up);

    /** Softmax over router logits, top-k (lowest index on ties), combine weights (raw for k = 1, renormalised otherwise). */
    Routing route(Activations routerLogits, int topK);

    /**
     * {@code out[t] += Σ_j weight(t,j) · mlp(in[t], experts[expert(t,j)])}, grouping the step's tokens by
     * expert so each expert's weights are read once; the sum runs in the token's top-k order.
     */
    void moeExperts(Activations out, Activations in, Routing routing, ExpertWeights[] experts);

    /**
     * A MoE layer's feed-forward block: {@code out = mlp(in, shared)} (zero when {@code shared} is null), then
     * {@link #moeExperts}. {@code sharedGate} and {@code sharedUp} are (tokens, shared width) buffers for the
     * shared expert's intermediate values. A backend may run the shared expert together with the routed ones;
     * the result must be what this composition computes.
     */
    default void moe(Activations out, Activations in, Routing routing, ExpertWeights[] experts, ExpertWeights shared,
            Activations sharedGate, Activations sharedUp) {
        if (shared == null) {
            zero(out);
        } else {
            matmul(sharedGate, in, shared.gate());
            matmul(sharedUp, in, shared.up());
            siluMul(sharedGate, sharedUp);
            matmul(out, sharedGate, shared.down());
        }
        moeExperts(out, in, routing, experts);
    }

    /** {@code out[i] = in[rows[i]]}. */
    void gatherRows(Activations out, Activations in, int[] rows);

    @Override
    void close();
}

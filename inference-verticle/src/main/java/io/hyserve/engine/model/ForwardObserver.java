package io.hyserve.engine.model;

import io.hyserve.engine.backend.Routing;

/** Sees intermediate results of a forward pass (host copies); used to test the model layer by layer. */
public interface ForwardObserver {
    ForwardObserver NONE = new ForwardObserver() {};

    /** The embedding rows, (tokens, hidden). */
    default void embeddings(float[] x) {}

    /** The residual stream after decoder layer {@code layer}, (tokens, hidden). */
    default void layerOutput(int layer, float[] x) {}

    default void routing(int layer, Routing routing) {}

    /** The final-norm output of the rows whose logits were asked for, (rows, hidden). */
    default void finalNorm(float[] y) {}
}

package io.hyserve.engine.backend;

/**
 * Router decisions for the tokens of a step: token {@code t} goes to experts
 * {@code experts[t*topK .. t*topK+topK-1]} (best first) with combine weights at the same indices.
 */
public record Routing(int topK, int[] experts, float[] weights) {
    public int numTokens() {
        return experts.length / topK;
    }
}

package io.hyserve.engine.backend;

/** One SwiGLU MLP: {@code down(silu(gate(h)) * up(h))}; gate/up are (intermediate, hidden), down (hidden, intermediate). */
public record ExpertWeights(Weight gate, Weight up, Weight down) {
    public long byteSize() {
        return gate.byteSize() + up.byteSize() + down.byteSize();
    }
}

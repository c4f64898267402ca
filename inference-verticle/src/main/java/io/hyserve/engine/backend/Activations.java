package io.hyserve.engine.backend;

/** Float32, row-major activations {@code (rows, cols)} in a backend's memory; one row per token. */
public interface Activations {
    int rows();

    int cols();
}

package io.hyserve.engine.backend.cpu;

import io.hyserve.engine.backend.Activations;

/** Activations on the Java heap: {@code data[row * cols + col]}. */
final class CpuActivations implements Activations {
    final float[] data; // (rows, cols)
    final int rows;
    final int cols;

    CpuActivations(int rows, int cols) {
        if ((long) rows * cols > Integer.MAX_VALUE - 16) {
            throw new IllegalArgumentException("activations of %d x %d exceed one array; use smaller prefill chunks"
                    .formatted(rows, cols));
        }
        this.rows = rows;
        this.cols = cols;
        this.data = new float[rows * cols];
    }

    @Override
    public int rows() {
        return rows;
    }

    @Override
    public int cols() {
        return cols;
    }
}

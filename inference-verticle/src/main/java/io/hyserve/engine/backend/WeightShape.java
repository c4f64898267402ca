package io.hyserve.engine.backend;

import io.hyserve.engine.load.Tensor;

/** A checkpoint tensor as a backend weight: a matrix {@code (rows, cols)}, or a vector as one row. */
public record WeightShape(int rows, int cols) {
    /** The shape {@code tensor} takes, or a clear refusal naming {@code backend} when it is neither kind. */
    public static WeightShape of(Tensor tensor, String backend) {
        long[] shape = tensor.shape();
        if (shape.length < 1 || shape.length > 2 || shape[shape.length - 1] > Integer.MAX_VALUE
                || (shape.length == 2 && shape[0] > Integer.MAX_VALUE)) {
            throw new IllegalArgumentException("tensor '%s' has shape %s; the %s backend takes vectors and matrices"
                    .formatted(tensor.name(), tensor.shapeString(), backend));
        }
        return new WeightShape(shape.length == 2 ? (int) shape[0] : 1, (int) shape[shape.length - 1]);
    }
}

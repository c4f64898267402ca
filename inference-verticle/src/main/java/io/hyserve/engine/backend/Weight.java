package io.hyserve.engine.backend;

/** A weight held by a backend: a matrix {@code (rows, cols)}, or a vector with {@code rows == 1}. */
public interface Weight {
    int rows();

    int cols();

    /** Bytes a pass over the whole weight reads (what bandwidth figures count). */
    long byteSize();
}

package io.hyserve.engine.backend.cpu;

import java.lang.foreign.MemorySegment;

/**
 * The inner loops of the CPU backend. {@link VectorKernels} is the fast path; {@link ScalarKernels} is its
 * plain twin that tests compare against. Within one implementation every output element is computed in a
 * fixed order, whatever the tile, thread or batch it falls in.
 */
interface Kernels {
    /**
     * The input of {@link #matmul} in the layout this implementation reads for {@code w} (possibly
     * {@code in} itself); computed once per matmul and shared by every row range.
     */
    float[] prepareInput(float[] in, int tokens, int k, CpuWeight w);

    /**
     * {@code out[t*n + r] = Σ_c in[t*k + c] · w[r, c]}, where {@code in} comes from {@link #prepareInput} for tokens {@code [0, tokens)} and rows
     * {@code [rowStart, rowEnd)}; {@code k = w.cols}, {@code n} is the row stride of {@code out}.
     */
    void matmul(float[] in, int tokens, CpuWeight w, int rowStart, int rowEnd, float[] out, int n);

    /** {@code Σ x[off+i]²} over {@code length} elements. */
    float sumOfSquares(float[] x, int off, int length);

    /** {@code out[outOff+i] = w[i] · (in[inOff+i] · scale)}. */
    void scaleByWeight(float[] in, int inOff, float scale, float[] w, float[] out, int outOff, int length);

    /**
     * {@code out[outOff + j] = Σ_i q[i] · key_j[i]} for {@code count} keys of {@code length} floats in the KV
     * pool, key {@code j} starting at byte {@code first + j·stride}.
     */
    void dots(float[] q, MemorySegment kv, long first, long stride, int count, int length, float[] out, int outOff);

    /**
     * {@code acc[i] += Σ_j p[pOff + j] · value_j[i]}, the values taken in order {@code j = 0..count-1}, value
     * {@code j} starting at byte {@code first + j·stride} of the KV pool.
     */
    void accumulate(float[] p, int pOff, MemorySegment kv, long first, long stride, int count, float[] acc, int length);
}

package io.hyserve.engine.backend.cpu;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Matrix multiplication tiles for {@link VectorKernels}, {@code out[t, r] = Σ_c in[t, c] · w[r, c]}.
 *
 * <p>Every output element is one FMA chain over its columns in a fixed order, lanes summed left to right,
 * then the columns past the last full chunk with scalar FMAs. Tiles only choose how many chains run side by
 * side, so a token's result is bit-identical whatever tile, thread or batch computes it.
 *
 * <p>BF16 rows are read as int lanes that each hold two weights: the low half is the even column, the high
 * half the odd one, widened by a shift or a mask (no cross-lane conversion). The input is "paired" to match:
 * within each chunk of {@code 2·LANES} columns, the even columns come first, then the odd ones. Decode reads
 * BF16 pairs straight from the checkpoint, eight rows at a time for memory-level parallelism; prefill first
 * widens a few rows into a float scratch in the same paired order and runs the F32 tile over it, which
 * performs exactly the same FMAs in the same order as the decode path.
 */
final class VectorMatmul {
    static final VectorSpecies<Float> FLOATS = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> INTS = IntVector.SPECIES_PREFERRED;
    static final int LANES = FLOATS.length();
    static final int PAIR_CHUNK = 2 * LANES;
    private static final int HIGH_HALF = 0xFFFF0000;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /** From this many tokens on, widening BF16 rows once and reusing them beats reading pairs per token. */
    private static final int WIDEN_FROM_TOKENS = 4;
    private static final ThreadLocal<float[]> WIDENED = ThreadLocal.withInitial(() -> new float[0]);

    private VectorMatmul() {}

    /** Rows of float32 weights: a checkpoint F32 tensor, or BF16 rows widened into scratch. */
    private record F32Rows(MemorySegment data, long rowBytes) {
        FloatVector load(int row, int column) {
            return FloatVector.fromMemorySegment(FLOATS, data, row * rowBytes + 4L * column, LE);
        }

        float get(int row, int column) {
            return data.get(CpuWeight.F32, row * rowBytes + 4L * column);
        }
    }

    /** The input in the column order the kernel reads for {@code w}: paired for BF16, as is for F32. */
    static float[] prepareInput(float[] in, int tokens, int k, CpuWeight w) {
        if (!w.bf16) {
            return in;
        }
        float[] paired = in.clone();
        int vectorEnd = k - k % PAIR_CHUNK;
        for (int t = 0; t < tokens; t++) {
            for (int c = 0; c < vectorEnd; c += PAIR_CHUNK) {
                int base = t * k + c;
                for (int j = 0; j < LANES; j++) {
                    paired[base + j] = in[base + 2 * j];
                    paired[base + LANES + j] = in[base + 2 * j + 1];
                }
            }
        }
        return paired;
    }

    static void matmul(float[] in, int tokens, CpuWeight w, int rowStart, int rowEnd, float[] out, int n) {
        float[] lanes = new float[LANES];
        if (!w.bf16) {
            f32Rows(in, tokens, w.cols, w.cols - w.cols % LANES, new F32Rows(w.data, w.rowBytes), rowStart, rowEnd,
                    rowStart, out, n, lanes);
        } else if (tokens >= WIDEN_FROM_TOKENS) {
            bf16Widened(in, tokens, w, rowStart, rowEnd, out, n, lanes);
        } else {
            bf16Pairs(in, tokens, w, rowStart, rowEnd, out, n, lanes);
        }
    }

    /**
     * F32 rows {@code [first, end)} of {@code rows}; output row index = {@code outRow + (r - first)}.
     * Four tokens by four rows per tile in prefill, one token by four rows otherwise.
     */
    private static void f32Rows(float[] in, int tokens, int k, int vectorEnd, F32Rows rows, int first, int end,
            int outRow, float[] out, int n, float[] lanes) {
        int r = first;
        for (; r + 4 <= end; r += 4) {
            int t = 0;
            for (; t + 4 <= tokens; t += 4) {
                tile4x4(in, t, k, vectorEnd, rows, r, out, n, outRow + r - first, lanes);
            }
            for (; t < tokens; t++) {
                tile1x4(in, t, k, vectorEnd, rows, r, out, n, outRow + r - first, lanes);
            }
        }
        for (; r < end; r++) {
            for (int t = 0; t < tokens; t++) {
                FloatVector acc = FloatVector.zero(FLOATS);
                int x = t * k;
                for (int c = 0; c < vectorEnd; c += LANES) {
                    acc = FloatVector.fromArray(FLOATS, in, x + c).fma(rows.load(r, c), acc);
                }
                out[t * n + outRow + r - first] = finish(acc, lanes, in, x, rows, r, vectorEnd, k);
            }
        }
    }

    /** Widens four BF16 rows at a time into paired float scratch and runs the F32 tiles over them. */
    private static void bf16Widened(float[] in, int tokens, CpuWeight w, int rowStart, int rowEnd, float[] out, int n,
            float[] lanes) {
        int k = w.cols;
        int vectorEnd = k - k % PAIR_CHUNK;
        float[] scratch = WIDENED.get();
        if (scratch.length < 4 * k) {
            scratch = new float[4 * k];
            WIDENED.set(scratch);
        }
        F32Rows widened = new F32Rows(MemorySegment.ofArray(scratch), 4L * k);
        for (int r = rowStart; r < rowEnd; r += 4) {
            int count = Math.min(4, rowEnd - r);
            for (int i = 0; i < count; i++) {
                widenPaired(w, r + i, vectorEnd, scratch, i * k);
            }
            f32Rows(in, tokens, k, vectorEnd, widened, 0, count, r, out, n, lanes);
        }
    }

    /** Row {@code row} as floats, paired like the input over {@code [0, vectorEnd)}, natural order after. */
    private static void widenPaired(CpuWeight w, int row, int vectorEnd, float[] dst, int off) {
        long base = row * w.rowBytes;
        for (int c = 0; c < vectorEnd; c += PAIR_CHUNK) {
            IntVector pairs = IntVector.fromMemorySegment(INTS, w.data, base + 2L * c, LE);
            even(pairs).intoArray(dst, off + c);
            odd(pairs).intoArray(dst, off + c + LANES);
        }
        for (int c = vectorEnd; c < w.cols; c++) {
            dst[off + c] = w.get(row, c);
        }
    }

    /** Reads BF16 pairs in place: eight rows per token at a time, then single rows. */
    private static void bf16Pairs(float[] in, int tokens, CpuWeight w, int rowStart, int rowEnd, float[] out, int n,
            float[] lanes) {
        int k = w.cols;
        int vectorEnd = k - k % PAIR_CHUNK;
        int r = rowStart;
        float[] partials = new float[8 * LANES];
        for (; r + 8 <= rowEnd; r += 8) {
            for (int t = 0; t < tokens; t++) {
                pairsTile1x8(in, t, k, vectorEnd, w, r, out, n, partials);
            }
        }
        for (; r < rowEnd; r++) {
            for (int t = 0; t < tokens; t++) {
                FloatVector acc = FloatVector.zero(FLOATS);
                long base = r * w.rowBytes;
                int x = t * k;
                for (int c = 0; c < vectorEnd; c += PAIR_CHUNK) {
                    IntVector pairs = IntVector.fromMemorySegment(INTS, w.data, base + 2L * c, LE);
                    acc = FloatVector.fromArray(FLOATS, in, x + c).fma(even(pairs), acc);
                    acc = FloatVector.fromArray(FLOATS, in, x + c + LANES).fma(odd(pairs), acc);
                }
                out[t * n + r] = finish(acc, lanes, in, x, w, r, vectorEnd, k);
            }
        }
    }

    /** The even columns of a BF16 pair vector as floats (BF16 to F32 is exact: the bits move up). */
    private static FloatVector even(IntVector pairs) {
        return pairs.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    private static FloatVector odd(IntVector pairs) {
        return pairs.and(HIGH_HALF).reinterpretAsFloats();
    }

    /**
     * One token against eight BF16 rows: eight independent chains keep enough loads in flight for decode.
     * Written out without helpers: C2 must inline every Vector API call here to intrinsify it.
     */
    private static void pairsTile1x8(float[] in, int t, int k, int vectorEnd, CpuWeight w, int r, float[] out, int n,
            float[] partials) {
        FloatVector a0 = FloatVector.zero(FLOATS), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        MemorySegment data = w.data;
        long rb = w.rowBytes;
        long base = r * rb;
        int x = t * k;
        for (int c = 0; c < vectorEnd; c += PAIR_CHUNK) {
            long off = base + 2L * c;
            FloatVector xe = FloatVector.fromArray(FLOATS, in, x + c);
            FloatVector xo = FloatVector.fromArray(FLOATS, in, x + c + LANES);
            IntVector p0 = IntVector.fromMemorySegment(INTS, data, off, LE);
            IntVector p1 = IntVector.fromMemorySegment(INTS, data, off + rb, LE);
            IntVector p2 = IntVector.fromMemorySegment(INTS, data, off + 2 * rb, LE);
            IntVector p3 = IntVector.fromMemorySegment(INTS, data, off + 3 * rb, LE);
            IntVector p4 = IntVector.fromMemorySegment(INTS, data, off + 4 * rb, LE);
            IntVector p5 = IntVector.fromMemorySegment(INTS, data, off + 5 * rb, LE);
            IntVector p6 = IntVector.fromMemorySegment(INTS, data, off + 6 * rb, LE);
            IntVector p7 = IntVector.fromMemorySegment(INTS, data, off + 7 * rb, LE);
            a0 = xe.fma(p0.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(), a0);
            a1 = xe.fma(p1.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(), a1);
            a2 = xe.fma(p2.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(), a2);
            a3 = xe.fma(p3.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(), a3);
            a4 = xe.fma(p4.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(), a4);
            a5 = xe.fma(p5.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(), a5);
            a6 = xe.fma(p6.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(), a6);
            a7 = xe.fma(p7.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(), a7);
            a0 = xo.fma(p0.and(HIGH_HALF).reinterpretAsFloats(), a0);
            a1 = xo.fma(p1.and(HIGH_HALF).reinterpretAsFloats(), a1);
            a2 = xo.fma(p2.and(HIGH_HALF).reinterpretAsFloats(), a2);
            a3 = xo.fma(p3.and(HIGH_HALF).reinterpretAsFloats(), a3);
            a4 = xo.fma(p4.and(HIGH_HALF).reinterpretAsFloats(), a4);
            a5 = xo.fma(p5.and(HIGH_HALF).reinterpretAsFloats(), a5);
            a6 = xo.fma(p6.and(HIGH_HALF).reinterpretAsFloats(), a6);
            a7 = xo.fma(p7.and(HIGH_HALF).reinterpretAsFloats(), a7);
        }
        // Spill the chains to an array here: passing vectors to a call that is not inlined would box them.
        a0.intoArray(partials, 0);
        a1.intoArray(partials, LANES);
        a2.intoArray(partials, 2 * LANES);
        a3.intoArray(partials, 3 * LANES);
        a4.intoArray(partials, 4 * LANES);
        a5.intoArray(partials, 5 * LANES);
        a6.intoArray(partials, 6 * LANES);
        a7.intoArray(partials, 7 * LANES);
        finishRows(partials, 8, in, x, w, r, vectorEnd, k, out, t * n + r);
    }

    /** For each of {@code rows} rows: its lanes in {@code partials} summed left to right, then the scalar tail. */
    private static void finishRows(float[] partials, int rows, float[] in, int x, CpuWeight w, int r, int vectorEnd,
            int k, float[] out, int o) {
        for (int i = 0; i < rows; i++) {
            float sum = 0;
            for (int l = 0; l < LANES; l++) {
                sum += partials[i * LANES + l];
            }
            for (int c = vectorEnd; c < k; c++) {
                sum = Math.fma(in[x + c], w.get(r + i, c), sum);
            }
            out[o + i] = sum;
        }
    }

    /** One token against four F32 rows. */
    private static void tile1x4(float[] in, int t, int k, int vectorEnd, F32Rows rows, int r, float[] out, int n,
            int outRow, float[] lanes) {
        FloatVector a0 = FloatVector.zero(FLOATS), a1 = a0, a2 = a0, a3 = a0;
        int x = t * k;
        for (int c = 0; c < vectorEnd; c += LANES) {
            FloatVector xv = FloatVector.fromArray(FLOATS, in, x + c);
            a0 = xv.fma(rows.load(r, c), a0);
            a1 = xv.fma(rows.load(r + 1, c), a1);
            a2 = xv.fma(rows.load(r + 2, c), a2);
            a3 = xv.fma(rows.load(r + 3, c), a3);
        }
        store4(a0, a1, a2, a3, in, x, rows, r, vectorEnd, k, out, t * n + outRow, lanes);
    }

    /** Four tokens against four F32 rows: each weight vector is loaded once and used four times (prefill). */
    private static void tile4x4(float[] in, int t, int k, int vectorEnd, F32Rows rows, int r, float[] out, int n,
            int outRow, float[] lanes) {
        FloatVector a00 = FloatVector.zero(FLOATS), a01 = a00, a02 = a00, a03 = a00;
        FloatVector a10 = a00, a11 = a00, a12 = a00, a13 = a00;
        FloatVector a20 = a00, a21 = a00, a22 = a00, a23 = a00;
        FloatVector a30 = a00, a31 = a00, a32 = a00, a33 = a00;
        int x0 = t * k;
        int x1 = x0 + k;
        int x2 = x1 + k;
        int x3 = x2 + k;
        for (int c = 0; c < vectorEnd; c += LANES) {
            FloatVector w0 = rows.load(r, c);
            FloatVector w1 = rows.load(r + 1, c);
            FloatVector w2 = rows.load(r + 2, c);
            FloatVector w3 = rows.load(r + 3, c);
            FloatVector v = FloatVector.fromArray(FLOATS, in, x0 + c);
            a00 = v.fma(w0, a00);
            a01 = v.fma(w1, a01);
            a02 = v.fma(w2, a02);
            a03 = v.fma(w3, a03);
            v = FloatVector.fromArray(FLOATS, in, x1 + c);
            a10 = v.fma(w0, a10);
            a11 = v.fma(w1, a11);
            a12 = v.fma(w2, a12);
            a13 = v.fma(w3, a13);
            v = FloatVector.fromArray(FLOATS, in, x2 + c);
            a20 = v.fma(w0, a20);
            a21 = v.fma(w1, a21);
            a22 = v.fma(w2, a22);
            a23 = v.fma(w3, a23);
            v = FloatVector.fromArray(FLOATS, in, x3 + c);
            a30 = v.fma(w0, a30);
            a31 = v.fma(w1, a31);
            a32 = v.fma(w2, a32);
            a33 = v.fma(w3, a33);
        }
        store4(a00, a01, a02, a03, in, x0, rows, r, vectorEnd, k, out, t * n + outRow, lanes);
        store4(a10, a11, a12, a13, in, x1, rows, r, vectorEnd, k, out, (t + 1) * n + outRow, lanes);
        store4(a20, a21, a22, a23, in, x2, rows, r, vectorEnd, k, out, (t + 2) * n + outRow, lanes);
        store4(a30, a31, a32, a33, in, x3, rows, r, vectorEnd, k, out, (t + 3) * n + outRow, lanes);
    }

    private static void store4(FloatVector a0, FloatVector a1, FloatVector a2, FloatVector a3, float[] in, int x,
            F32Rows rows, int r, int vectorEnd, int k, float[] out, int o, float[] lanes) {
        out[o] = finish(a0, lanes, in, x, rows, r, vectorEnd, k);
        out[o + 1] = finish(a1, lanes, in, x, rows, r + 1, vectorEnd, k);
        out[o + 2] = finish(a2, lanes, in, x, rows, r + 2, vectorEnd, k);
        out[o + 3] = finish(a3, lanes, in, x, rows, r + 3, vectorEnd, k);
    }

    /** Left-to-right lane sum, then the columns past the last full chunk with scalar FMAs. */
    static float laneSum(FloatVector acc, float[] lanes) {
        acc.intoArray(lanes, 0);
        float sum = 0;
        for (float lane : lanes) {
            sum += lane;
        }
        return sum;
    }

    private static float finish(FloatVector acc, float[] lanes, float[] in, int x, F32Rows rows, int r, int vectorEnd,
            int k) {
        float sum = laneSum(acc, lanes);
        for (int c = vectorEnd; c < k; c++) {
            sum = Math.fma(in[x + c], rows.get(r, c), sum);
        }
        return sum;
    }

    private static float finish(FloatVector acc, float[] lanes, float[] in, int x, CpuWeight w, int r, int vectorEnd,
            int k) {
        float sum = laneSum(acc, lanes);
        for (int c = vectorEnd; c < k; c++) {
            sum = Math.fma(in[x + c], w.get(r, c), sum);
        }
        return sum;
    }
}

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
 * within each chunk of {@code 2·LANES} columns, the even columns come first, then the odd ones.
 *
 * <p>One sweep over the rows, eight BF16 rows at a time: every pair of tokens runs as two tiles of two tokens
 * by four rows (each pair vector widened once, used twice), and an odd last token (all of single-sequence
 * decode) as one token by eight rows, enough independent loads in flight to stream at memory speed. The rows
 * stay in L1 while every token passes over them. F32 rows go four at a time, four tokens per tile. Every
 * path performs the same FMAs in the same order.
 *
 * <p>Accumulators are spilled to an array before any call that is not inlined: passing vectors to such a
 * call would box them, and C2 must inline every Vector API call in a loop to intrinsify it.
 */
final class VectorMatmul {
    static final VectorSpecies<Float> FLOATS = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> INTS = IntVector.SPECIES_PREFERRED;
    static final int LANES = FLOATS.length();
    static final int PAIR_CHUNK = 2 * LANES;
    private static final int HIGH_HALF = 0xFFFF0000;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private VectorMatmul() {}

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
        float[] partials = new float[16 * LANES];
        if (w.bf16) {
            bf16(in, tokens, w, rowStart, rowEnd, out, n, partials);
        } else {
            f32(in, tokens, w, rowStart, rowEnd, out, n, partials);
        }
    }

    private static int vectorEnd(CpuWeight w) {
        return w.bf16 ? w.cols - w.cols % PAIR_CHUNK : w.cols - w.cols % LANES;
    }

    private static void bf16(float[] in, int tokens, CpuWeight w, int rowStart, int rowEnd, float[] out, int n,
            float[] partials) {
        int k = w.cols;
        int vectorEnd = vectorEnd(w);
        long rb = w.rowBytes;
        int r = rowStart;
        for (; r + 8 <= rowEnd; r += 8) {
            int t = 0;
            for (; t + 2 <= tokens; t += 2) {
                for (int half = r; half < r + 8; half += 4) {
                    pairsTile2x4(in, t * k, k, vectorEnd, w.data, half * rb, rb, partials);
                    finishRows(partials, 0, 4, in, t * k, w, half, vectorEnd, out, t * n + half);
                    finishRows(partials, 4, 4, in, (t + 1) * k, w, half, vectorEnd, out, (t + 1) * n + half);
                }
            }
            if (t < tokens) {
                pairsTile1x8(in, t * k, vectorEnd, w.data, r * rb, rb, partials);
                finishRows(partials, 0, 8, in, t * k, w, r, vectorEnd, out, t * n + r);
            }
        }
        for (; r < rowEnd; r++) {
            for (int t = 0; t < tokens; t++) {
                FloatVector acc = FloatVector.zero(FLOATS);
                long base = r * rb;
                int x = t * k;
                for (int c = 0; c < vectorEnd; c += PAIR_CHUNK) {
                    IntVector pairs = IntVector.fromMemorySegment(INTS, w.data, base + 2L * c, LE);
                    acc = FloatVector.fromArray(FLOATS, in, x + c)
                            .fma(pairs.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(), acc);
                    acc = FloatVector.fromArray(FLOATS, in, x + c + LANES)
                            .fma(pairs.and(HIGH_HALF).reinterpretAsFloats(), acc);
                }
                acc.intoArray(partials, 0);
                finishRows(partials, 0, 1, in, x, w, r, vectorEnd, out, t * n + r);
            }
        }
    }

    private static void f32(float[] in, int tokens, CpuWeight w, int rowStart, int rowEnd, float[] out, int n,
            float[] partials) {
        int k = w.cols;
        int vectorEnd = vectorEnd(w);
        long rb = w.rowBytes;
        int r = rowStart;
        for (; r + 4 <= rowEnd; r += 4) {
            int t = 0;
            for (; t + 4 <= tokens; t += 4) {
                f32Tile4x4(in, t * k, k, vectorEnd, w.data, r * rb, rb, partials);
                for (int j = 0; j < 4; j++) {
                    finishRows(partials, 4 * j, 4, in, (t + j) * k, w, r, vectorEnd, out, (t + j) * n + r);
                }
            }
            for (; t < tokens; t++) {
                f32Tile1x4(in, t * k, vectorEnd, w.data, r * rb, rb, partials);
                finishRows(partials, 0, 4, in, t * k, w, r, vectorEnd, out, t * n + r);
            }
        }
        for (; r < rowEnd; r++) {
            for (int t = 0; t < tokens; t++) {
                int x = t * k;
                FloatVector acc = FloatVector.zero(FLOATS);
                for (int c = 0; c < vectorEnd; c += LANES) {
                    acc = FloatVector.fromArray(FLOATS, in, x + c)
                            .fma(FloatVector.fromMemorySegment(FLOATS, w.data, r * rb + 4L * c, LE), acc);
                }
                acc.intoArray(partials, 0);
                finishRows(partials, 0, 1, in, x, w, r, vectorEnd, out, t * n + r);
            }
        }
    }

    /** One token against four F32 rows. */
    private static void f32Tile1x4(float[] in, int x, int vectorEnd, MemorySegment data, long base, long rb,
            float[] partials) {
        FloatVector a0 = FloatVector.zero(FLOATS), a1 = a0, a2 = a0, a3 = a0;
        for (int c = 0; c < vectorEnd; c += LANES) {
            long off = base + 4L * c;
            FloatVector xv = FloatVector.fromArray(FLOATS, in, x + c);
            a0 = xv.fma(FloatVector.fromMemorySegment(FLOATS, data, off, LE), a0);
            a1 = xv.fma(FloatVector.fromMemorySegment(FLOATS, data, off + rb, LE), a1);
            a2 = xv.fma(FloatVector.fromMemorySegment(FLOATS, data, off + 2 * rb, LE), a2);
            a3 = xv.fma(FloatVector.fromMemorySegment(FLOATS, data, off + 3 * rb, LE), a3);
        }
        a0.intoArray(partials, 0);
        a1.intoArray(partials, LANES);
        a2.intoArray(partials, 2 * LANES);
        a3.intoArray(partials, 3 * LANES);
    }

    /** Two tokens (input rows from {@code x0}) against four BF16 rows read as pairs: eight chains. */
    private static void pairsTile2x4(float[] in, int x0, int k, int vectorEnd, MemorySegment data, long base, long rb,
            float[] partials) {
        FloatVector a00 = FloatVector.zero(FLOATS), a01 = a00, a02 = a00, a03 = a00;
        FloatVector a10 = a00, a11 = a00, a12 = a00, a13 = a00;
        int x1 = x0 + k;
        for (int c = 0; c < vectorEnd; c += PAIR_CHUNK) {
            long off = base + 2L * c;
            IntVector p0 = IntVector.fromMemorySegment(INTS, data, off, LE);
            IntVector p1 = IntVector.fromMemorySegment(INTS, data, off + rb, LE);
            IntVector p2 = IntVector.fromMemorySegment(INTS, data, off + 2 * rb, LE);
            IntVector p3 = IntVector.fromMemorySegment(INTS, data, off + 3 * rb, LE);
            FloatVector w0 = p0.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            FloatVector w1 = p1.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            FloatVector w2 = p2.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            FloatVector w3 = p3.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
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
            w0 = p0.and(HIGH_HALF).reinterpretAsFloats();
            w1 = p1.and(HIGH_HALF).reinterpretAsFloats();
            w2 = p2.and(HIGH_HALF).reinterpretAsFloats();
            w3 = p3.and(HIGH_HALF).reinterpretAsFloats();
            v = FloatVector.fromArray(FLOATS, in, x0 + c + LANES);
            a00 = v.fma(w0, a00);
            a01 = v.fma(w1, a01);
            a02 = v.fma(w2, a02);
            a03 = v.fma(w3, a03);
            v = FloatVector.fromArray(FLOATS, in, x1 + c + LANES);
            a10 = v.fma(w0, a10);
            a11 = v.fma(w1, a11);
            a12 = v.fma(w2, a12);
            a13 = v.fma(w3, a13);
        }
        a00.intoArray(partials, 0);
        a01.intoArray(partials, LANES);
        a02.intoArray(partials, 2 * LANES);
        a03.intoArray(partials, 3 * LANES);
        a10.intoArray(partials, 4 * LANES);
        a11.intoArray(partials, 5 * LANES);
        a12.intoArray(partials, 6 * LANES);
        a13.intoArray(partials, 7 * LANES);
    }

    /** One token against eight BF16 rows: eight independent chains keep enough loads in flight for decode. */
    private static void pairsTile1x8(float[] in, int x, int vectorEnd, MemorySegment data, long base, long rb,
            float[] partials) {
        FloatVector a0 = FloatVector.zero(FLOATS), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
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
        a0.intoArray(partials, 0);
        a1.intoArray(partials, LANES);
        a2.intoArray(partials, 2 * LANES);
        a3.intoArray(partials, 3 * LANES);
        a4.intoArray(partials, 4 * LANES);
        a5.intoArray(partials, 5 * LANES);
        a6.intoArray(partials, 6 * LANES);
        a7.intoArray(partials, 7 * LANES);
    }

    /** Four tokens (input rows from {@code x0}) against four F32 rows: sixteen chains. */
    private static void f32Tile4x4(float[] in, int x0, int k, int vectorEnd, MemorySegment data, long base, long rb,
            float[] partials) {
        FloatVector a00 = FloatVector.zero(FLOATS), a01 = a00, a02 = a00, a03 = a00;
        FloatVector a10 = a00, a11 = a00, a12 = a00, a13 = a00;
        FloatVector a20 = a00, a21 = a00, a22 = a00, a23 = a00;
        FloatVector a30 = a00, a31 = a00, a32 = a00, a33 = a00;
        for (int c = 0; c < vectorEnd; c += LANES) {
            long off = base + 4L * c;
            FloatVector w0 = FloatVector.fromMemorySegment(FLOATS, data, off, LE);
            FloatVector w1 = FloatVector.fromMemorySegment(FLOATS, data, off + rb, LE);
            FloatVector w2 = FloatVector.fromMemorySegment(FLOATS, data, off + 2 * rb, LE);
            FloatVector w3 = FloatVector.fromMemorySegment(FLOATS, data, off + 3 * rb, LE);
            FloatVector v = FloatVector.fromArray(FLOATS, in, x0 + c);
            a00 = v.fma(w0, a00);
            a01 = v.fma(w1, a01);
            a02 = v.fma(w2, a02);
            a03 = v.fma(w3, a03);
            v = FloatVector.fromArray(FLOATS, in, x0 + k + c);
            a10 = v.fma(w0, a10);
            a11 = v.fma(w1, a11);
            a12 = v.fma(w2, a12);
            a13 = v.fma(w3, a13);
            v = FloatVector.fromArray(FLOATS, in, x0 + 2 * k + c);
            a20 = v.fma(w0, a20);
            a21 = v.fma(w1, a21);
            a22 = v.fma(w2, a22);
            a23 = v.fma(w3, a23);
            v = FloatVector.fromArray(FLOATS, in, x0 + 3 * k + c);
            a30 = v.fma(w0, a30);
            a31 = v.fma(w1, a31);
            a32 = v.fma(w2, a32);
            a33 = v.fma(w3, a33);
        }
        a00.intoArray(partials, 0);
        a01.intoArray(partials, LANES);
        a02.intoArray(partials, 2 * LANES);
        a03.intoArray(partials, 3 * LANES);
        a10.intoArray(partials, 4 * LANES);
        a11.intoArray(partials, 5 * LANES);
        a12.intoArray(partials, 6 * LANES);
        a13.intoArray(partials, 7 * LANES);
        a20.intoArray(partials, 8 * LANES);
        a21.intoArray(partials, 9 * LANES);
        a22.intoArray(partials, 10 * LANES);
        a23.intoArray(partials, 11 * LANES);
        a30.intoArray(partials, 12 * LANES);
        a31.intoArray(partials, 13 * LANES);
        a32.intoArray(partials, 14 * LANES);
        a33.intoArray(partials, 15 * LANES);
    }

    /**
     * Outputs of rows {@code r .. r+rows-1} for one token from chains {@code first ..} in {@code partials}: lanes
     * summed left to right, then the scalar tail.
     */
    private static void finishRows(float[] partials, int first, int rows, float[] in, int x, CpuWeight w, int r,
            int vectorEnd, float[] out, int o) {
        for (int i = 0; i < rows; i++) {
            float sum = 0;
            for (int l = 0; l < LANES; l++) {
                sum += partials[(first + i) * LANES + l];
            }
            for (int c = vectorEnd; c < w.cols; c++) {
                sum = Math.fma(in[x + c], w.get(r + i, c), sum);
            }
            out[o + i] = sum;
        }
    }

    /** Left-to-right sum of a vector's lanes (the fixed order every reduction here uses). */
    static float laneSum(FloatVector acc, float[] lanes) {
        acc.intoArray(lanes, 0);
        float sum = 0;
        for (float lane : lanes) {
            sum += lane;
        }
        return sum;
    }
}

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
 * <p>One sweep over the rows, four BF16 rows at a time: every four tokens run as a tile of four tokens by the
 * four rows (each pair vector widened once, used four times), a remaining pair as a tile of two tokens, an odd
 * last token (all of single-sequence decode) alone. The rows stay in L1 while every token passes over them;
 * each four rows of a {@linkplain CpuWeight#packBf16 packed} weight are one contiguous stream, which is what
 * lets a memory-bound product stream at the machine's read bandwidth. F32 rows go four at a time, four tokens
 * per tile. Every path performs the same FMAs in the same order.
 *
 * <p>Accumulators are spilled to an array before any call that is not inlined: passing vectors to such a
 * call would box them, and C2 must inline every Vector API call in a loop to intrinsify it.
 */
final class VectorMatmul {
    static final VectorSpecies<Float> FLOATS = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> INTS = IntVector.SPECIES_PREFERRED;
    static final int LANES = FLOATS.length();
    static final int PAIR_CHUNK = 2 * LANES;
    /** Bytes of one pair chunk of a BF16 row: one int vector. */
    private static final long CHUNK_BYTES = 2L * PAIR_CHUNK;
    private static final int GROUP_ROWS = CpuWeight.GROUP_ROWS;
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
        if (w.packedRows > 0 && w.chunkCols != PAIR_CHUNK) {
            throw new IllegalArgumentException("weight packed in chunks of %d columns, kernels read %d"
                    .formatted(w.chunkCols, PAIR_CHUNK));
        }
        int k = w.cols;
        int vectorEnd = vectorEnd(w);
        int r = rowStart;
        // A range that starts inside a group (callers normally cut at groups) takes its first rows one by one.
        for (; r < rowEnd && r % GROUP_ROWS != 0; r++) {
            bf16Row(in, tokens, w, r, vectorEnd, out, n, partials);
        }
        for (; r + GROUP_ROWS <= rowEnd; r += GROUP_ROWS) {
            long base = w.offset(r, 0);
            long rs = r < w.packedRows ? CHUNK_BYTES : w.rowBytes;
            long cs = chunkStride(w, r);
            int t = 0;
            for (; t + 4 <= tokens; t += 4) {
                pairsTile4x4(in, t * k, k, vectorEnd, w.data, base, rs, cs, partials);
                for (int j = 0; j < 4; j++) {
                    finishRows(partials, 4 * j, 4, in, (t + j) * k, w, r, vectorEnd, out, (t + j) * n + r);
                }
            }
            if (t + 2 <= tokens) {
                pairsTile2x4(in, t * k, k, vectorEnd, w.data, base, rs, cs, partials);
                finishRows(partials, 0, 4, in, t * k, w, r, vectorEnd, out, t * n + r);
                finishRows(partials, 4, 4, in, (t + 1) * k, w, r, vectorEnd, out, (t + 1) * n + r);
                t += 2;
            }
            if (t < tokens) {
                pairsTile1x4(in, t * k, vectorEnd, w.data, base, rs, cs, partials);
                finishRows(partials, 0, 4, in, t * k, w, r, vectorEnd, out, t * n + r);
            }
        }
        for (; r < rowEnd; r++) {
            bf16Row(in, tokens, w, r, vectorEnd, out, n, partials);
        }
    }

    /** Bytes from one chunk of a BF16 row to its next: a whole group's chunks apart when packed. */
    private static long chunkStride(CpuWeight w, int row) {
        return row < w.packedRows ? CHUNK_BYTES * GROUP_ROWS : CHUNK_BYTES;
    }

    /** One BF16 row for every token, one chain at a time. */
    private static void bf16Row(float[] in, int tokens, CpuWeight w, int r, int vectorEnd, float[] out, int n,
            float[] partials) {
        int k = w.cols;
        long base = w.offset(r, 0);
        long cs = chunkStride(w, r);
        for (int t = 0; t < tokens; t++) {
            FloatVector acc = FloatVector.zero(FLOATS);
            int x = t * k;
            long off = base;
            for (int c = 0; c < vectorEnd; c += PAIR_CHUNK, off += cs) {
                IntVector pairs = IntVector.fromMemorySegment(INTS, w.data, off, LE);
                acc = FloatVector.fromArray(FLOATS, in, x + c)
                        .fma(pairs.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(), acc);
                acc = FloatVector.fromArray(FLOATS, in, x + c + LANES)
                        .fma(pairs.and(HIGH_HALF).reinterpretAsFloats(), acc);
            }
            acc.intoArray(partials, 0);
            finishRows(partials, 0, 1, in, x, w, r, vectorEnd, out, t * n + r);
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

    /**
     * Four tokens (input rows from {@code x0}) against four BF16 rows read as pairs: sixteen chains, each pair
     * vector widened once and used four times (the compute-bound shape of prefill and batched decode).
     */
    private static void pairsTile4x4(float[] in, int x0, int k, int vectorEnd, MemorySegment data, long base, long rs,
            long cs, float[] partials) {
        FloatVector a00 = FloatVector.zero(FLOATS), a01 = a00, a02 = a00, a03 = a00;
        FloatVector a10 = a00, a11 = a00, a12 = a00, a13 = a00;
        FloatVector a20 = a00, a21 = a00, a22 = a00, a23 = a00;
        FloatVector a30 = a00, a31 = a00, a32 = a00, a33 = a00;
        int x1 = x0 + k;
        int x2 = x1 + k;
        int x3 = x2 + k;
        long off = base;
        for (int c = 0; c < vectorEnd; c += PAIR_CHUNK, off += cs) {
            IntVector p0 = IntVector.fromMemorySegment(INTS, data, off, LE);
            IntVector p1 = IntVector.fromMemorySegment(INTS, data, off + rs, LE);
            IntVector p2 = IntVector.fromMemorySegment(INTS, data, off + 2 * rs, LE);
            IntVector p3 = IntVector.fromMemorySegment(INTS, data, off + 3 * rs, LE);
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
            v = FloatVector.fromArray(FLOATS, in, x2 + c + LANES);
            a20 = v.fma(w0, a20);
            a21 = v.fma(w1, a21);
            a22 = v.fma(w2, a22);
            a23 = v.fma(w3, a23);
            v = FloatVector.fromArray(FLOATS, in, x3 + c + LANES);
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

    /** Two tokens (input rows from {@code x0}) against four BF16 rows read as pairs: eight chains. */
    private static void pairsTile2x4(float[] in, int x0, int k, int vectorEnd, MemorySegment data, long base, long rs,
            long cs, float[] partials) {
        FloatVector a00 = FloatVector.zero(FLOATS), a01 = a00, a02 = a00, a03 = a00;
        FloatVector a10 = a00, a11 = a00, a12 = a00, a13 = a00;
        int x1 = x0 + k;
        long off = base;
        for (int c = 0; c < vectorEnd; c += PAIR_CHUNK, off += cs) {
            IntVector p0 = IntVector.fromMemorySegment(INTS, data, off, LE);
            IntVector p1 = IntVector.fromMemorySegment(INTS, data, off + rs, LE);
            IntVector p2 = IntVector.fromMemorySegment(INTS, data, off + 2 * rs, LE);
            IntVector p3 = IntVector.fromMemorySegment(INTS, data, off + 3 * rs, LE);
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

    /** One token against four BF16 rows. */
    private static void pairsTile1x4(float[] in, int x, int vectorEnd, MemorySegment data, long base, long rs, long cs,
            float[] partials) {
        FloatVector a0 = FloatVector.zero(FLOATS), a1 = a0, a2 = a0, a3 = a0;
        long off = base;
        for (int c = 0; c < vectorEnd; c += PAIR_CHUNK, off += cs) {
            FloatVector xe = FloatVector.fromArray(FLOATS, in, x + c);
            FloatVector xo = FloatVector.fromArray(FLOATS, in, x + c + LANES);
            IntVector p0 = IntVector.fromMemorySegment(INTS, data, off, LE);
            IntVector p1 = IntVector.fromMemorySegment(INTS, data, off + rs, LE);
            IntVector p2 = IntVector.fromMemorySegment(INTS, data, off + 2 * rs, LE);
            IntVector p3 = IntVector.fromMemorySegment(INTS, data, off + 3 * rs, LE);
            a0 = xe.fma(p0.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(), a0);
            a1 = xe.fma(p1.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(), a1);
            a2 = xe.fma(p2.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(), a2);
            a3 = xe.fma(p3.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(), a3);
            a0 = xo.fma(p0.and(HIGH_HALF).reinterpretAsFloats(), a0);
            a1 = xo.fma(p1.and(HIGH_HALF).reinterpretAsFloats(), a1);
            a2 = xo.fma(p2.and(HIGH_HALF).reinterpretAsFloats(), a2);
            a3 = xo.fma(p3.and(HIGH_HALF).reinterpretAsFloats(), a3);
        }
        a0.intoArray(partials, 0);
        a1.intoArray(partials, LANES);
        a2.intoArray(partials, 2 * LANES);
        a3.intoArray(partials, 3 * LANES);
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

package io.hyserve.engine.backend.cpu;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector API kernels. Every dot product accumulates one lane-wise FMA chain over the columns in order,
 * sums the lanes left to right and finishes the tail with scalar FMAs; tiles only decide how many of those
 * independent chains run side by side, so a token's result never depends on its neighbours in the batch.
 * (Lane sums avoid {@code reduceLanes}, whose order may differ between interpreter and compiled code.)
 */
final class VectorKernels implements Kernels {
    static final VectorSpecies<Float> FLOATS = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> INTS = IntVector.SPECIES_PREFERRED;
    private static final int LANES = FLOATS.length();
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /** Per-thread lane buffer for the ordered lane sums of the short kernels (attention calls them per key). */
    private static final ThreadLocal<float[]> LANE_BUFFER = ThreadLocal.withInitial(() -> new float[LANES]);

    private static float laneSum(FloatVector acc, float[] lanes) {
        acc.intoArray(lanes, 0);
        float sum = 0;
        for (float lane : lanes) {
            sum += lane;
        }
        return sum;
    }

    /** Left-to-right lane sum, then the columns past the last full vector. */
    private static float finish(FloatVector acc, float[] lanes, float[] in, int inOff, CpuWeight w, int row,
            int vectorEnd, int k) {
        float sum = laneSum(acc, lanes);
        for (int c = vectorEnd; c < k; c++) {
            sum = Math.fma(in[inOff + c], w.get(row, c), sum);
        }
        return sum;
    }

    /**
     * BF16 rows are read as int lanes holding two weights each: the low half is the even column, the high
     * half the odd one. Splitting the input once into per-chunk even/odd halves lets both halves widen with
     * a shift or a mask instead of a cross-lane conversion.
     */
    private static final int PAIR_CHUNK = 2 * LANES;
    private static final int HIGH_HALF = 0xFFFF0000;

    @Override
    public float[] prepareInput(float[] in, int tokens, int k, CpuWeight w) {
        if (!w.bf16) {
            return in;
        }
        float[] split = in.clone();
        int vectorEnd = k - k % PAIR_CHUNK;
        for (int t = 0; t < tokens; t++) {
            for (int c = 0; c < vectorEnd; c += PAIR_CHUNK) {
                int base = t * k + c;
                for (int j = 0; j < LANES; j++) {
                    split[base + j] = in[base + 2 * j];
                    split[base + LANES + j] = in[base + 2 * j + 1];
                }
            }
        }
        return split;
    }

    @Override
    public void matmul(float[] in, int tokens, CpuWeight w, int rowStart, int rowEnd, float[] out, int n) {
        int k = w.cols;
        int vectorEnd = w.bf16 ? k - k % PAIR_CHUNK : k - k % LANES;
        float[] lanes = new float[LANES];
        int r = rowStart;
        for (; r + 4 <= rowEnd; r += 4) {
            int t = 0;
            for (; t + 4 <= tokens; t += 4) {
                if (w.bf16) {
                    bf16Tile4x4(in, t, k, vectorEnd, w, r, out, n, lanes);
                } else {
                    f32Tile4x4(in, t, k, vectorEnd, w, r, out, n, lanes);
                }
            }
            for (; t < tokens; t++) {
                if (w.bf16) {
                    bf16Tile1x4(in, t, k, vectorEnd, w, r, out, n, lanes);
                } else {
                    f32Tile1x4(in, t, k, vectorEnd, w, r, out, n, lanes);
                }
            }
        }
        for (; r < rowEnd; r++) {
            for (int t = 0; t < tokens; t++) {
                FloatVector acc = FloatVector.zero(FLOATS);
                long base = r * w.rowBytes;
                int x = t * k;
                if (w.bf16) {
                    for (int c = 0; c < vectorEnd; c += PAIR_CHUNK) {
                        IntVector pair = IntVector.fromMemorySegment(INTS, w.data, base + 2L * c, LE);
                        acc = FloatVector.fromArray(FLOATS, in, x + c).fma(even(pair), acc);
                        acc = FloatVector.fromArray(FLOATS, in, x + c + LANES).fma(odd(pair), acc);
                    }
                } else {
                    for (int c = 0; c < vectorEnd; c += LANES) {
                        acc = FloatVector.fromArray(FLOATS, in, x + c)
                                .fma(FloatVector.fromMemorySegment(FLOATS, w.data, base + 4L * c, LE), acc);
                    }
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

    /** One token against four F32 rows: four independent chains hide FMA latency in decode. */
    private static void f32Tile1x4(float[] in, int t, int k, int vectorEnd, CpuWeight w, int r, float[] out, int n,
            float[] lanes) {
        FloatVector a0 = FloatVector.zero(FLOATS);
        FloatVector a1 = a0;
        FloatVector a2 = a0;
        FloatVector a3 = a0;
        long rb = w.rowBytes;
        long base = r * rb;
        int x = t * k;
        for (int c = 0; c < vectorEnd; c += LANES) {
            long off = base + 4L * c;
            FloatVector xv = FloatVector.fromArray(FLOATS, in, x + c);
            a0 = xv.fma(FloatVector.fromMemorySegment(FLOATS, w.data, off, LE), a0);
            a1 = xv.fma(FloatVector.fromMemorySegment(FLOATS, w.data, off + rb, LE), a1);
            a2 = xv.fma(FloatVector.fromMemorySegment(FLOATS, w.data, off + 2 * rb, LE), a2);
            a3 = xv.fma(FloatVector.fromMemorySegment(FLOATS, w.data, off + 3 * rb, LE), a3);
        }
        store1x4(a0, a1, a2, a3, in, x, w, r, vectorEnd, k, out, t * n + r, lanes);
    }

    /** One token against four BF16 rows, each chunk split into its even and odd columns. */
    private static void bf16Tile1x4(float[] in, int t, int k, int vectorEnd, CpuWeight w, int r, float[] out, int n,
            float[] lanes) {
        FloatVector a0 = FloatVector.zero(FLOATS);
        FloatVector a1 = a0;
        FloatVector a2 = a0;
        FloatVector a3 = a0;
        long rb = w.rowBytes;
        long base = r * rb;
        int x = t * k;
        for (int c = 0; c < vectorEnd; c += PAIR_CHUNK) {
            long off = base + 2L * c;
            FloatVector xe = FloatVector.fromArray(FLOATS, in, x + c);
            FloatVector xo = FloatVector.fromArray(FLOATS, in, x + c + LANES);
            IntVector p0 = IntVector.fromMemorySegment(INTS, w.data, off, LE);
            IntVector p1 = IntVector.fromMemorySegment(INTS, w.data, off + rb, LE);
            IntVector p2 = IntVector.fromMemorySegment(INTS, w.data, off + 2 * rb, LE);
            IntVector p3 = IntVector.fromMemorySegment(INTS, w.data, off + 3 * rb, LE);
            a0 = xo.fma(odd(p0), xe.fma(even(p0), a0));
            a1 = xo.fma(odd(p1), xe.fma(even(p1), a1));
            a2 = xo.fma(odd(p2), xe.fma(even(p2), a2));
            a3 = xo.fma(odd(p3), xe.fma(even(p3), a3));
        }
        store1x4(a0, a1, a2, a3, in, x, w, r, vectorEnd, k, out, t * n + r, lanes);
    }

    private static void store1x4(FloatVector a0, FloatVector a1, FloatVector a2, FloatVector a3, float[] in, int x,
            CpuWeight w, int r, int vectorEnd, int k, float[] out, int o, float[] lanes) {
        out[o] = finish(a0, lanes, in, x, w, r, vectorEnd, k);
        out[o + 1] = finish(a1, lanes, in, x, w, r + 1, vectorEnd, k);
        out[o + 2] = finish(a2, lanes, in, x, w, r + 2, vectorEnd, k);
        out[o + 3] = finish(a3, lanes, in, x, w, r + 3, vectorEnd, k);
    }

    /** Four tokens against four F32 rows: each weight vector is loaded once and used four times (prefill). */
    private static void f32Tile4x4(float[] in, int t, int k, int vectorEnd, CpuWeight w, int r, float[] out, int n,
            float[] lanes) {
        FloatVector a00 = FloatVector.zero(FLOATS), a01 = a00, a02 = a00, a03 = a00;
        FloatVector a10 = a00, a11 = a00, a12 = a00, a13 = a00;
        FloatVector a20 = a00, a21 = a00, a22 = a00, a23 = a00;
        FloatVector a30 = a00, a31 = a00, a32 = a00, a33 = a00;
        long rb = w.rowBytes;
        long base = r * rb;
        int x0 = t * k;
        for (int c = 0; c < vectorEnd; c += LANES) {
            long off = base + 4L * c;
            FloatVector w0 = FloatVector.fromMemorySegment(FLOATS, w.data, off, LE);
            FloatVector w1 = FloatVector.fromMemorySegment(FLOATS, w.data, off + rb, LE);
            FloatVector w2 = FloatVector.fromMemorySegment(FLOATS, w.data, off + 2 * rb, LE);
            FloatVector w3 = FloatVector.fromMemorySegment(FLOATS, w.data, off + 3 * rb, LE);
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
        store1x4(a00, a01, a02, a03, in, x0, w, r, vectorEnd, k, out, t * n + r, lanes);
        store1x4(a10, a11, a12, a13, in, x0 + k, w, r, vectorEnd, k, out, (t + 1) * n + r, lanes);
        store1x4(a20, a21, a22, a23, in, x0 + 2 * k, w, r, vectorEnd, k, out, (t + 2) * n + r, lanes);
        store1x4(a30, a31, a32, a33, in, x0 + 3 * k, w, r, vectorEnd, k, out, (t + 3) * n + r, lanes);
    }

    /** Four tokens against four BF16 rows: each pair vector is widened once and used four times (prefill). */
    private static void bf16Tile4x4(float[] in, int t, int k, int vectorEnd, CpuWeight w, int r, float[] out, int n,
            float[] lanes) {
        FloatVector a00 = FloatVector.zero(FLOATS), a01 = a00, a02 = a00, a03 = a00;
        FloatVector a10 = a00, a11 = a00, a12 = a00, a13 = a00;
        FloatVector a20 = a00, a21 = a00, a22 = a00, a23 = a00;
        FloatVector a30 = a00, a31 = a00, a32 = a00, a33 = a00;
        long rb = w.rowBytes;
        long base = r * rb;
        int x0 = t * k;
        for (int c = 0; c < vectorEnd; c += PAIR_CHUNK) {
            long off = base + 2L * c;
            IntVector p0 = IntVector.fromMemorySegment(INTS, w.data, off, LE);
            IntVector p1 = IntVector.fromMemorySegment(INTS, w.data, off + rb, LE);
            IntVector p2 = IntVector.fromMemorySegment(INTS, w.data, off + 2 * rb, LE);
            IntVector p3 = IntVector.fromMemorySegment(INTS, w.data, off + 3 * rb, LE);
            FloatVector e0 = even(p0), e1 = even(p1), e2 = even(p2), e3 = even(p3);
            FloatVector v = FloatVector.fromArray(FLOATS, in, x0 + c);
            a00 = v.fma(e0, a00);
            a01 = v.fma(e1, a01);
            a02 = v.fma(e2, a02);
            a03 = v.fma(e3, a03);
            v = FloatVector.fromArray(FLOATS, in, x0 + k + c);
            a10 = v.fma(e0, a10);
            a11 = v.fma(e1, a11);
            a12 = v.fma(e2, a12);
            a13 = v.fma(e3, a13);
            v = FloatVector.fromArray(FLOATS, in, x0 + 2 * k + c);
            a20 = v.fma(e0, a20);
            a21 = v.fma(e1, a21);
            a22 = v.fma(e2, a22);
            a23 = v.fma(e3, a23);
            v = FloatVector.fromArray(FLOATS, in, x0 + 3 * k + c);
            a30 = v.fma(e0, a30);
            a31 = v.fma(e1, a31);
            a32 = v.fma(e2, a32);
            a33 = v.fma(e3, a33);
            FloatVector o0 = odd(p0), o1 = odd(p1), o2 = odd(p2), o3 = odd(p3);
            v = FloatVector.fromArray(FLOATS, in, x0 + c + LANES);
            a00 = v.fma(o0, a00);
            a01 = v.fma(o1, a01);
            a02 = v.fma(o2, a02);
            a03 = v.fma(o3, a03);
            v = FloatVector.fromArray(FLOATS, in, x0 + k + c + LANES);
            a10 = v.fma(o0, a10);
            a11 = v.fma(o1, a11);
            a12 = v.fma(o2, a12);
            a13 = v.fma(o3, a13);
            v = FloatVector.fromArray(FLOATS, in, x0 + 2 * k + c + LANES);
            a20 = v.fma(o0, a20);
            a21 = v.fma(o1, a21);
            a22 = v.fma(o2, a22);
            a23 = v.fma(o3, a23);
            v = FloatVector.fromArray(FLOATS, in, x0 + 3 * k + c + LANES);
            a30 = v.fma(o0, a30);
            a31 = v.fma(o1, a31);
            a32 = v.fma(o2, a32);
            a33 = v.fma(o3, a33);
        }
        store1x4(a00, a01, a02, a03, in, x0, w, r, vectorEnd, k, out, t * n + r, lanes);
        store1x4(a10, a11, a12, a13, in, x0 + k, w, r, vectorEnd, k, out, (t + 1) * n + r, lanes);
        store1x4(a20, a21, a22, a23, in, x0 + 2 * k, w, r, vectorEnd, k, out, (t + 2) * n + r, lanes);
        store1x4(a30, a31, a32, a33, in, x0 + 3 * k, w, r, vectorEnd, k, out, (t + 3) * n + r, lanes);
    }

    @Override
    public float sumOfSquares(float[] x, int off, int length) {
        int vectorEnd = length - length % LANES;
        FloatVector acc = FloatVector.zero(FLOATS);
        for (int i = 0; i < vectorEnd; i += LANES) {
            FloatVector v = FloatVector.fromArray(FLOATS, x, off + i);
            acc = v.fma(v, acc);
        }
        float sum = laneSum(acc, LANE_BUFFER.get());
        for (int i = vectorEnd; i < length; i++) {
            sum = Math.fma(x[off + i], x[off + i], sum);
        }
        return sum;
    }

    @Override
    public void scaleByWeight(float[] in, int inOff, float scale, float[] w, float[] out, int outOff, int length) {
        int vectorEnd = length - length % LANES;
        int i = 0;
        for (; i < vectorEnd; i += LANES) {
            FloatVector v = FloatVector.fromArray(FLOATS, in, inOff + i).mul(scale);
            FloatVector.fromArray(FLOATS, w, i).mul(v).intoArray(out, outOff + i);
        }
        for (; i < length; i++) {
            out[outOff + i] = w[i] * (in[inOff + i] * scale);
        }
    }

    @Override
    public float dot(float[] q, int qOff, MemorySegment kv, long off, int length) {
        int vectorEnd = length - length % LANES;
        FloatVector acc = FloatVector.zero(FLOATS);
        for (int i = 0; i < vectorEnd; i += LANES) {
            acc = FloatVector.fromArray(FLOATS, q, qOff + i)
                    .fma(FloatVector.fromMemorySegment(FLOATS, kv, off + 4L * i, LE), acc);
        }
        float sum = laneSum(acc, LANE_BUFFER.get());
        for (int i = vectorEnd; i < length; i++) {
            sum = Math.fma(q[qOff + i], kv.get(CpuWeight.F32, off + 4L * i), sum);
        }
        return sum;
    }

    @Override
    public void accumulate(float p, MemorySegment kv, long off, float[] acc, int length) {
        int vectorEnd = length - length % LANES;
        FloatVector weight = FloatVector.broadcast(FLOATS, p);
        int i = 0;
        for (; i < vectorEnd; i += LANES) {
            weight.fma(FloatVector.fromMemorySegment(FLOATS, kv, off + 4L * i, LE), FloatVector.fromArray(FLOATS, acc, i))
                    .intoArray(acc, i);
        }
        for (; i < length; i++) {
            acc[i] = Math.fma(p, kv.get(CpuWeight.F32, off + 4L * i), acc[i]);
        }
    }
}

package io.hyserve.engine.backend.cpu;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
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
    /** Half-width shorts: one BF16 lane per float lane. */
    private static final VectorSpecies<Short> BF16_LANES =
            VectorShape.forBitSize(FLOATS.vectorBitSize() / 2).withLanes(short.class);
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

    private static FloatVector load(CpuWeight w, long byteOffset) {
        if (w.bf16) {
            // BF16 -> F32 is exact: the 16 bits become the high half of the float.
            return ((IntVector) ShortVector.fromMemorySegment(BF16_LANES, w.data, byteOffset, LE)
                            .convertShape(VectorOperators.S2I, INTS, 0))
                    .lanewise(VectorOperators.LSHL, 16)
                    .reinterpretAsFloats();
        }
        return FloatVector.fromMemorySegment(FLOATS, w.data, byteOffset, LE);
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

    @Override
    public void matmul(float[] in, int tokens, CpuWeight w, int rowStart, int rowEnd, float[] out, int n) {
        int k = w.cols;
        int vectorEnd = k - k % LANES;
        float[] lanes = new float[LANES];
        int r = rowStart;
        for (; r + 4 <= rowEnd; r += 4) {
            int t = 0;
            for (; t + 4 <= tokens; t += 4) {
                tile4x4(in, t, k, vectorEnd, w, r, out, n, lanes);
            }
            for (; t < tokens; t++) {
                tile1x4(in, t, k, vectorEnd, w, r, out, n, lanes);
            }
        }
        for (; r < rowEnd; r++) {
            for (int t = 0; t < tokens; t++) {
                FloatVector acc = FloatVector.zero(FLOATS);
                long base = r * w.rowBytes;
                int step = w.bf16 ? 2 : 4;
                for (int c = 0; c < vectorEnd; c += LANES) {
                    acc = FloatVector.fromArray(FLOATS, in, t * k + c).fma(load(w, base + (long) c * step), acc);
                }
                out[t * n + r] = finish(acc, lanes, in, t * k, w, r, vectorEnd, k);
            }
        }
    }

    /** One token against four weight rows: four independent chains hide FMA latency in decode. */
    private static void tile1x4(float[] in, int t, int k, int vectorEnd, CpuWeight w, int r, float[] out, int n,
            float[] lanes) {
        FloatVector a0 = FloatVector.zero(FLOATS);
        FloatVector a1 = a0;
        FloatVector a2 = a0;
        FloatVector a3 = a0;
        long rb = w.rowBytes;
        long base = r * rb;
        int step = w.bf16 ? 2 : 4;
        int x = t * k;
        for (int c = 0; c < vectorEnd; c += LANES) {
            long off = base + (long) c * step;
            FloatVector xv = FloatVector.fromArray(FLOATS, in, x + c);
            a0 = xv.fma(load(w, off), a0);
            a1 = xv.fma(load(w, off + rb), a1);
            a2 = xv.fma(load(w, off + 2 * rb), a2);
            a3 = xv.fma(load(w, off + 3 * rb), a3);
        }
        int o = t * n + r;
        out[o] = finish(a0, lanes, in, x, w, r, vectorEnd, k);
        out[o + 1] = finish(a1, lanes, in, x, w, r + 1, vectorEnd, k);
        out[o + 2] = finish(a2, lanes, in, x, w, r + 2, vectorEnd, k);
        out[o + 3] = finish(a3, lanes, in, x, w, r + 3, vectorEnd, k);
    }

    /** Four tokens against four weight rows: each weight vector is converted once and used four times (prefill). */
    private static void tile4x4(float[] in, int t, int k, int vectorEnd, CpuWeight w, int r, float[] out, int n,
            float[] lanes) {
        FloatVector a00 = FloatVector.zero(FLOATS), a01 = a00, a02 = a00, a03 = a00;
        FloatVector a10 = a00, a11 = a00, a12 = a00, a13 = a00;
        FloatVector a20 = a00, a21 = a00, a22 = a00, a23 = a00;
        FloatVector a30 = a00, a31 = a00, a32 = a00, a33 = a00;
        long rb = w.rowBytes;
        long base = r * rb;
        int step = w.bf16 ? 2 : 4;
        int x0 = t * k;
        int x1 = x0 + k;
        int x2 = x1 + k;
        int x3 = x2 + k;
        for (int c = 0; c < vectorEnd; c += LANES) {
            long off = base + (long) c * step;
            FloatVector w0 = load(w, off);
            FloatVector w1 = load(w, off + rb);
            FloatVector w2 = load(w, off + 2 * rb);
            FloatVector w3 = load(w, off + 3 * rb);
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
        int o = t * n + r;
        out[o] = finish(a00, lanes, in, x0, w, r, vectorEnd, k);
        out[o + 1] = finish(a01, lanes, in, x0, w, r + 1, vectorEnd, k);
        out[o + 2] = finish(a02, lanes, in, x0, w, r + 2, vectorEnd, k);
        out[o + 3] = finish(a03, lanes, in, x0, w, r + 3, vectorEnd, k);
        o += n;
        out[o] = finish(a10, lanes, in, x1, w, r, vectorEnd, k);
        out[o + 1] = finish(a11, lanes, in, x1, w, r + 1, vectorEnd, k);
        out[o + 2] = finish(a12, lanes, in, x1, w, r + 2, vectorEnd, k);
        out[o + 3] = finish(a13, lanes, in, x1, w, r + 3, vectorEnd, k);
        o += n;
        out[o] = finish(a20, lanes, in, x2, w, r, vectorEnd, k);
        out[o + 1] = finish(a21, lanes, in, x2, w, r + 1, vectorEnd, k);
        out[o + 2] = finish(a22, lanes, in, x2, w, r + 2, vectorEnd, k);
        out[o + 3] = finish(a23, lanes, in, x2, w, r + 3, vectorEnd, k);
        o += n;
        out[o] = finish(a30, lanes, in, x3, w, r, vectorEnd, k);
        out[o + 1] = finish(a31, lanes, in, x3, w, r + 1, vectorEnd, k);
        out[o + 2] = finish(a32, lanes, in, x3, w, r + 2, vectorEnd, k);
        out[o + 3] = finish(a33, lanes, in, x3, w, r + 3, vectorEnd, k);
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

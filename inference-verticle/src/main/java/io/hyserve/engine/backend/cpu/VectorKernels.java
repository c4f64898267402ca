package io.hyserve.engine.backend.cpu;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector API kernels (matrix products in {@link VectorMatmul}). Every reduction accumulates lane-wise FMA
 * chains in a fixed order and sums the lanes left to right, so results never depend on batch or thread
 * layout. (Lane sums avoid {@code reduceLanes}, whose order may differ between interpreter and compiled code.)
 */
final class VectorKernels implements Kernels {
    static final VectorSpecies<Float> FLOATS = VectorMatmul.FLOATS;
    private static final int LANES = VectorMatmul.LANES;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /** Per-thread lane buffer for the ordered lane sums of the short kernels (attention calls them per key). */
    private static final ThreadLocal<float[]> LANE_BUFFER = ThreadLocal.withInitial(() -> new float[LANES]);

    private static float laneSum(FloatVector acc, float[] lanes) {
        return VectorMatmul.laneSum(acc, lanes);
    }

    @Override
    public float[] prepareInput(float[] in, int tokens, int k, CpuWeight w) {
        return VectorMatmul.prepareInput(in, tokens, k, w);
    }

    @Override
    public void matmul(float[] in, int tokens, CpuWeight w, int rowStart, int rowEnd, float[] out, int n) {
        VectorMatmul.matmul(in, tokens, w, rowStart, rowEnd, out, n);
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
    public void dots(float[] q, MemorySegment kv, long first, long stride, int count, int length, float[] out,
            int outOff) {
        float[] lanes = LANE_BUFFER.get();
        int j = 0;
        // Four keys side by side: independent chains overlap their latencies; each key's order is unchanged.
        for (; j + 4 <= count; j += 4) {
            long k0 = first + j * stride;
            int vectorEnd = length - length % LANES;
            FloatVector a0 = FloatVector.zero(FLOATS), a1 = a0, a2 = a0, a3 = a0;
            for (int i = 0; i < vectorEnd; i += LANES) {
                FloatVector qv = FloatVector.fromArray(FLOATS, q, i);
                long at = k0 + 4L * i;
                a0 = qv.fma(FloatVector.fromMemorySegment(FLOATS, kv, at, LE), a0);
                a1 = qv.fma(FloatVector.fromMemorySegment(FLOATS, kv, at + stride, LE), a1);
                a2 = qv.fma(FloatVector.fromMemorySegment(FLOATS, kv, at + 2 * stride, LE), a2);
                a3 = qv.fma(FloatVector.fromMemorySegment(FLOATS, kv, at + 3 * stride, LE), a3);
            }
            out[outOff + j] = keyTail(laneSum(a0, lanes), q, kv, k0, vectorEnd, length);
            out[outOff + j + 1] = keyTail(laneSum(a1, lanes), q, kv, k0 + stride, vectorEnd, length);
            out[outOff + j + 2] = keyTail(laneSum(a2, lanes), q, kv, k0 + 2 * stride, vectorEnd, length);
            out[outOff + j + 3] = keyTail(laneSum(a3, lanes), q, kv, k0 + 3 * stride, vectorEnd, length);
        }
        for (; j < count; j++) {
            long key = first + j * stride;
            int vectorEnd = length - length % LANES;
            FloatVector acc = FloatVector.zero(FLOATS);
            for (int i = 0; i < vectorEnd; i += LANES) {
                acc = FloatVector.fromArray(FLOATS, q, i).fma(FloatVector.fromMemorySegment(FLOATS, kv, key + 4L * i, LE), acc);
            }
            out[outOff + j] = keyTail(laneSum(acc, lanes), q, kv, key, vectorEnd, length);
        }
    }

    private static float keyTail(float sum, float[] q, MemorySegment kv, long key, int vectorEnd, int length) {
        for (int i = vectorEnd; i < length; i++) {
            sum = Math.fma(q[i], kv.get(CpuWeight.F32, key + 4L * i), sum);
        }
        return sum;
    }

    @Override
    public void accumulate(float[] p, int pOff, MemorySegment kv, long first, long stride, int count, float[] acc,
            int length) {
        int vectorEnd = length - length % LANES;
        // Column chunk outside, values inside: the chunk of acc stays in a register across the block.
        for (int i = 0; i < vectorEnd; i += LANES) {
            FloatVector sum = FloatVector.fromArray(FLOATS, acc, i);
            for (int j = 0; j < count; j++) {
                sum = FloatVector.broadcast(FLOATS, p[pOff + j])
                        .fma(FloatVector.fromMemorySegment(FLOATS, kv, first + j * stride + 4L * i, LE), sum);
            }
            sum.intoArray(acc, i);
        }
        for (int i = vectorEnd; i < length; i++) {
            for (int j = 0; j < count; j++) {
                acc[i] = Math.fma(p[pOff + j], kv.get(CpuWeight.F32, first + j * stride + 4L * i), acc[i]);
            }
        }
    }
}

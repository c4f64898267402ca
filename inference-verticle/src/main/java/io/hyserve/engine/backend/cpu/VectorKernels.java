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

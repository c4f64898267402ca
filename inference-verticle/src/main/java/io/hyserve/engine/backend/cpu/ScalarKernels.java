package io.hyserve.engine.backend.cpu;

import java.lang.foreign.MemorySegment;

/** Plain loops, one element at a time: the reference the vectorised kernels are tested against. */
final class ScalarKernels implements Kernels {
    @Override
    public float[] prepareInput(float[] in, int tokens, int k, CpuWeight w) {
        return in;
    }

    @Override
    public void matmul(float[] in, int tokens, CpuWeight w, int rowStart, int rowEnd, float[] out, int n) {
        int k = w.cols;
        for (int t = 0; t < tokens; t++) {
            for (int r = rowStart; r < rowEnd; r++) {
                float sum = 0;
                for (int c = 0; c < k; c++) {
                    sum += in[t * k + c] * w.get(r, c);
                }
                out[t * n + r] = sum;
            }
        }
    }

    @Override
    public float sumOfSquares(float[] x, int off, int length) {
        float sum = 0;
        for (int i = 0; i < length; i++) {
            sum += x[off + i] * x[off + i];
        }
        return sum;
    }

    @Override
    public void scaleByWeight(float[] in, int inOff, float scale, float[] w, float[] out, int outOff, int length) {
        for (int i = 0; i < length; i++) {
            out[outOff + i] = w[i] * (in[inOff + i] * scale);
        }
    }

    @Override
    public void dots(float[] q, MemorySegment kv, long first, long stride, int count, int length, float[] out,
            int outOff) {
        for (int j = 0; j < count; j++) {
            float sum = 0;
            for (int i = 0; i < length; i++) {
                sum += q[i] * kv.get(CpuWeight.F32, first + j * stride + 4L * i);
            }
            out[outOff + j] = sum;
        }
    }

    @Override
    public void accumulate(float[] p, int pOff, MemorySegment kv, long first, long stride, int count, float[] acc,
            int length) {
        for (int j = 0; j < count; j++) {
            for (int i = 0; i < length; i++) {
                acc[i] += p[pOff + j] * kv.get(CpuWeight.F32, first + j * stride + 4L * i);
            }
        }
    }
}

package io.hyserve.engine.backend.cpu;

import io.hyserve.engine.backend.Weight;
import io.hyserve.engine.load.DType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * A weight on the CPU: F32 or BF16 elements, little-endian, row-major, read in place from the mapped
 * checkpoint. One-row weights (norms, biases) are also kept as a float array for the elementwise ops.
 */
final class CpuWeight implements Weight {
    static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfShort BF16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    final MemorySegment data; // (rows, cols)
    final boolean bf16;
    final int rows;
    final int cols;
    final long rowBytes;
    final float[] vector; // (cols) when rows == 1, else null

    CpuWeight(MemorySegment data, DType dtype, int rows, int cols) {
        if (dtype != DType.F32 && dtype != DType.BF16) {
            throw new IllegalArgumentException("CPU kernels read F32 or BF16, not " + dtype);
        }
        this.data = data;
        this.bf16 = dtype == DType.BF16;
        this.rows = rows;
        this.cols = cols;
        this.rowBytes = (long) cols * dtype.byteSize();
        this.vector = rows == 1 ? row(0) : null;
    }

    float get(int row, int col) {
        long offset = row * rowBytes;
        return bf16
                ? Float.intBitsToFloat(data.get(BF16, offset + 2L * col) << 16)
                : data.get(F32, offset + 4L * col);
    }

    float[] row(int row) {
        float[] out = new float[cols];
        for (int c = 0; c < cols; c++) {
            out[c] = get(row, c);
        }
        return out;
    }

    @Override
    public int rows() {
        return rows;
    }

    @Override
    public int cols() {
        return cols;
    }

    @Override
    public long byteSize() {
        return rows * rowBytes;
    }
}

package io.hyserve.engine.backend.cpu;

import io.hyserve.engine.backend.Weight;
import io.hyserve.engine.load.DType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * A weight on the CPU: F32 or BF16 elements, little-endian. One-row weights (norms, biases) are also kept as
 * a float array for the elementwise ops.
 *
 * <p>Elements are row-major, or, for a {@linkplain #packBf16 packed} BF16 weight, grouped for the matmul
 * tiles: each group of {@link #GROUP_ROWS} rows stores the first chunk of columns of each of its rows, then
 * the second chunk of each, and so on, then the rows' column tails. A tile over a group then reads one
 * contiguous stream instead of four short ones, which the hardware prefetcher follows much better. Rows
 * after the last full group stay row-major, where they would be anyway. The layout decides where elements
 * live, never the order in which a kernel combines them.
 */
final class CpuWeight implements Weight {
    static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfShort BF16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** Rows per group of a packed weight: the rows of a tile that reads the same columns of several tokens. */
    static final int GROUP_ROWS = 4;

    final MemorySegment data;
    final boolean bf16;
    final int rows;
    final int cols;
    final long rowBytes;
    final float[] vector; // (cols) when rows == 1, else null
    /** Rows stored in packed groups: a multiple of {@link #GROUP_ROWS}, 0 for a row-major weight. */
    final int packedRows;
    /** Columns per chunk of a packed weight, and the columns in whole chunks (the rest are row tails). */
    final int chunkCols;
    private final int chunkedCols;

    CpuWeight(MemorySegment data, DType dtype, int rows, int cols) {
        this(data, dtype, rows, cols, 0, 1);
    }

    private CpuWeight(MemorySegment data, DType dtype, int rows, int cols, int packedRows, int chunkCols) {
        if (dtype != DType.F32 && dtype != DType.BF16) {
            throw new IllegalArgumentException("CPU kernels read F32 or BF16, not " + dtype);
        }
        this.data = data;
        this.bf16 = dtype == DType.BF16;
        this.rows = rows;
        this.cols = cols;
        this.rowBytes = (long) cols * dtype.byteSize();
        this.packedRows = packedRows;
        this.chunkCols = chunkCols;
        this.chunkedCols = cols - cols % chunkCols;
        this.vector = rows == 1 ? row(0) : null;
    }

    /**
     * A BF16 weight packed into {@code target} ({@code rows·cols·2} bytes) from its row-major elements, in
     * groups of {@link #GROUP_ROWS} rows and chunks of {@code chunkCols} columns.
     */
    static CpuWeight packBf16(MemorySegment target, MemorySegment rowMajor, int rows, int cols, int chunkCols) {
        long rowBytes = 2L * cols;
        if (target.byteSize() != rows * rowBytes || rowMajor.byteSize() != rows * rowBytes) {
            throw new IllegalArgumentException(
                    "a (%d, %d) BF16 weight takes %d bytes".formatted(rows, cols, rows * rowBytes));
        }
        int packedRows = rows - rows % GROUP_ROWS;
        int chunkedCols = cols - cols % chunkCols;
        for (int r = 0; r < packedRows; r++) {
            for (int c = 0; c < chunkedCols; c += chunkCols) {
                MemorySegment.copy(rowMajor, r * rowBytes + 2L * c, target,
                        packedOffset(r, c, cols, chunkCols, chunkedCols), 2L * chunkCols);
            }
            MemorySegment.copy(rowMajor, r * rowBytes + 2L * chunkedCols, target,
                    packedOffset(r, chunkedCols, cols, chunkCols, chunkedCols), 2L * (cols - chunkedCols));
        }
        long packedBytes = packedRows * rowBytes;
        MemorySegment.copy(rowMajor, packedBytes, target, packedBytes, (rows - packedRows) * rowBytes);
        return new CpuWeight(target, DType.BF16, rows, cols, packedRows, chunkCols);
    }

    /** Byte offset of element {@code (row, col)}. */
    long offset(int row, int col) {
        if (row >= packedRows) {
            return row * rowBytes + (long) col * (bf16 ? 2 : 4);
        }
        return packedOffset(row, col, cols, chunkCols, chunkedCols);
    }

    /** Byte offset of BF16 element {@code (row, col)} of a row in a packed group. */
    private static long packedOffset(int row, int col, int cols, int chunkCols, int chunkedCols) {
        long group = (long) (row - row % GROUP_ROWS) * cols * 2;
        int inGroup = row % GROUP_ROWS;
        if (col < chunkedCols) {
            long chunkBytes = 2L * chunkCols;
            return group + (col / chunkCols) * GROUP_ROWS * chunkBytes + inGroup * chunkBytes + 2L * (col % chunkCols);
        }
        long tailBytes = 2L * (cols - chunkedCols);
        return group + 2L * chunkedCols * GROUP_ROWS + inGroup * tailBytes + 2L * (col - chunkedCols);
    }

    float get(int row, int col) {
        long offset = offset(row, col);
        return bf16 ? Float.intBitsToFloat(data.get(BF16, offset) << 16) : data.get(F32, offset);
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

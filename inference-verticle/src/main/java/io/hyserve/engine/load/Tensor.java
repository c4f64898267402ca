package io.hyserve.engine.load;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * One tensor of a checkpoint: its raw little-endian, row-major bytes, still in the memory-mapped file.
 *
 * @param dtype null when the file holds a dtype this engine cannot read ({@code rawDtype} says which);
 *     such a tensor fails only if someone asks for it
 */
public record Tensor(String name, Path file, DType dtype, String rawDtype, long[] shape, MemorySegment data) {

    public long elementCount() {
        long count = 1;
        for (long dim : shape) {
            count = Math.multiplyExact(count, dim);
        }
        return count;
    }

    public String shapeString() {
        return Arrays.toString(shape);
    }

    /** Fails with a message naming file and tensor unless this tensor has exactly {@code expected} shape. */
    public Tensor requireShape(long... expected) {
        if (!Arrays.equals(shape, expected)) {
            throw new CheckpointException("%s: tensor '%s' has shape %s, expected %s"
                    .formatted(file, name, shapeString(), Arrays.toString(expected)));
        }
        return this;
    }

    /** Fails with a message naming file and tensor unless the dtype is one this engine reads. */
    public DType requireReadableDtype() {
        if (dtype == null) {
            throw new CheckpointException("%s: tensor '%s' has dtype %s; supported dtypes are F32, BF16 and F16"
                    .formatted(file, name, rawDtype));
        }
        return dtype;
    }
}

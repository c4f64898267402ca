package io.hyserve.engine.backend.cpu;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Weights copied out of the mapped checkpoint into anonymous memory: 64-byte aligned (safetensors data is
 * not), backed by transparent huge pages where the kernel allows, so streaming them costs fewer split loads
 * and TLB misses. Tensors are packed into large slabs; a tensor bigger than half a slab gets its own region.
 */
final class ResidentWeights implements AutoCloseable {
    private static final long SLAB_BYTES = 256L << 20;
    private static final int ALIGNMENT = 64;

    private final Arena arena = Arena.ofShared();
    private MemorySegment slab;
    private long used;

    /** A copy of {@code source} in resident memory. */
    MemorySegment copy(MemorySegment source) {
        MemorySegment target = allocate(source.byteSize());
        target.copyFrom(source);
        return target;
    }

    /** {@code size} bytes of resident memory, 64-byte aligned. */
    synchronized MemorySegment allocate(long size) {
        MemorySegment target;
        if (size > SLAB_BYTES / 2) {
            target = LazyMemory.allocate(arena, size);
        } else {
            long start = (used + ALIGNMENT - 1) & -ALIGNMENT;
            if (slab == null || start + size > slab.byteSize()) {
                slab = LazyMemory.allocate(arena, SLAB_BYTES);
                start = 0;
            }
            target = slab.asSlice(start, size);
            used = start + size;
        }
        return target;
    }

    @Override
    public void close() {
        arena.close();
    }
}

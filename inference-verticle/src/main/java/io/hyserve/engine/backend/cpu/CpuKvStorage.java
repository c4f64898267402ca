package io.hyserve.engine.backend.cpu;

import io.hyserve.engine.backend.KvLayout;
import io.hyserve.engine.backend.KvStorage;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/** The KV pool off-heap, laid out {@code [kvLayer][K|V][slot][kvHead][headDim]} in float32. */
final class CpuKvStorage implements KvStorage {
    private final KvLayout layout;
    private final Arena arena;
    final MemorySegment pool;
    private final long slotBytes;
    private final long planeBytes;

    CpuKvStorage(KvLayout layout) {
        this.layout = layout;
        this.arena = Arena.ofShared();
        this.pool = LazyMemory.allocate(arena, layout.totalBytes());
        this.slotBytes = (long) layout.numKvHeads() * layout.headDim() * Float.BYTES;
        this.planeBytes = slotBytes * layout.numBlocks() * layout.blockSize();
    }

    /** Byte offset of head {@code head} at {@code slot} in the K ({@code value == false}) or V plane. */
    long offset(int kvLayer, boolean value, int slot, int head) {
        return (2L * kvLayer + (value ? 1 : 0)) * planeBytes + slot * slotBytes
                + (long) head * layout.headDim() * Float.BYTES;
    }

    /** Bytes between consecutive slots of one plane (all KV heads of one token). */
    long slotBytes() {
        return slotBytes;
    }

    @Override
    public KvLayout layout() {
        return layout;
    }

    @Override
    public void close() {
        arena.close();
    }
}

package io.hyserve.engine.backend.cpu;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.Optional;

/**
 * Large off-heap regions whose pages are committed on first touch. {@code Arena.allocate} zeroes every byte up
 * front, which for a multi-gigabyte KV pool costs seconds and commits memory no sequence uses yet; an anonymous
 * {@code mmap} gives zero pages lazily. Falls back to the arena where mmap is not available.
 */
final class LazyMemory {
    private static final int PROT_READ_WRITE = 0x1 | 0x2;
    private static final int MAP_PRIVATE_ANONYMOUS = 0x02 | 0x20;
    private static final Optional<MethodHandle> MMAP = lookup("mmap", FunctionDescriptor.of(ValueLayout.ADDRESS,
            ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
            ValueLayout.JAVA_LONG));
    private static final Optional<MethodHandle> MUNMAP = lookup("munmap",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
    private static final Optional<MethodHandle> MADVISE = lookup("madvise",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
    private static final int MADV_HUGEPAGE = 14;

    private LazyMemory() {}

    private static Optional<MethodHandle> lookup(String name, FunctionDescriptor descriptor) {
        try {
            Linker linker = Linker.nativeLinker();
            return linker.defaultLookup().find(name).map(symbol -> linker.downcallHandle(symbol, descriptor));
        } catch (RuntimeException | LinkageError e) {
            return Optional.empty();
        }
    }

    /** {@code bytes} of zeroed memory, released when {@code arena} closes. */
    static MemorySegment allocate(Arena arena, long bytes) {
        if (MMAP.isPresent() && MUNMAP.isPresent() && System.getProperty("os.name", "").startsWith("Linux")) {
            try {
                MemorySegment start = (MemorySegment) MMAP.get().invokeExact(MemorySegment.NULL, bytes, PROT_READ_WRITE,
                        MAP_PRIVATE_ANONYMOUS, -1, 0L);
                if (start.address() != -1L) {
                    adviseHugePages(start, bytes);
                    MethodHandle munmap = MUNMAP.get();
                    return start.reinterpret(bytes, arena, segment -> unmap(munmap, segment, bytes));
                }
            } catch (Throwable e) {
                // fall through to the arena
            }
        }
        return arena.allocate(bytes, 64);
    }

    /** Asks for transparent huge pages: fewer TLB misses when the region is streamed (best effort). */
    private static void adviseHugePages(MemorySegment start, long bytes) {
        if (MADVISE.isPresent() && bytes >= (2L << 20)) {
            try {
                int ignored = (int) MADVISE.get().invokeExact(start, bytes, MADV_HUGEPAGE);
            } catch (Throwable e) {
                // huge pages are an optimisation only
            }
        }
    }

    private static void unmap(MethodHandle munmap, MemorySegment segment, long bytes) {
        try {
            int ignored = (int) munmap.invokeExact(segment, bytes);
        } catch (Throwable e) {
            throw new IllegalStateException("munmap failed", e);
        }
    }
}

package io.hyserve.engine.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.concurrent.ForkJoinPool;
import java.util.stream.IntStream;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * A STREAM-style triad, {@code a[i] = b[i] + s·c[i]}, over arrays far larger than the caches, on a given
 * number of threads. Bytes are counted as STREAM does: two reads and one write per element. The arrays live
 * off-heap so measuring does not leave the collector hundreds of megabytes to deal with afterwards. Beside it,
 * a read-only pass (the access pattern of streaming weights), for context: on a machine with few cores it
 * can be well below the triad, whose writes add bandwidth that reads alone do not get.
 */
public final class MemoryBandwidth {
    private static final VectorSpecies<Float> FLOATS = FloatVector.SPECIES_PREFERRED;
    private static final ByteOrder ORDER = ByteOrder.nativeOrder();

    private MemoryBandwidth() {}

    /** Best read bandwidth in bytes per second: {@code repetitions} sums over an array of {@code elements} floats. */
    public static double read(int threads, int elements, int repetitions) {
        int chunks = threads * 8;
        long chunkFloats = ((long) elements / chunks) / FLOATS.length() * FLOATS.length();
        long floats = chunkFloats * chunks;
        ForkJoinPool pool = new ForkJoinPool(threads);
        try (Arena arena = Arena.ofShared()) {
            MemorySegment a = arena.allocate(floats * Float.BYTES, 64);
            a.elements(ValueLayout.JAVA_FLOAT).forEach(e -> e.set(ValueLayout.JAVA_FLOAT, 0, 1f));
            double best = 0;
            for (int r = 0; r < repetitions; r++) {
                long start = System.nanoTime();
                double sum = pool.submit(() -> IntStream.range(0, chunks).parallel().mapToDouble(k -> {
                    long end = (k + 1) * chunkFloats * Float.BYTES;
                    FloatVector acc = FloatVector.zero(FLOATS);
                    for (long at = k * chunkFloats * Float.BYTES; at < end; at += FLOATS.vectorByteSize()) {
                        acc = acc.add(FloatVector.fromMemorySegment(FLOATS, a, at, ORDER));
                    }
                    return acc.reduceLanes(VectorOperators.ADD);
                }).sum()).join();
                double seconds = (System.nanoTime() - start) / 1e9;
                if (sum != floats) {
                    throw new IllegalStateException("read pass produced a wrong sum");
                }
                best = Math.max(best, Float.BYTES * floats / seconds);
            }
            return best;
        } finally {
            pool.shutdownNow();
        }
    }

    /** Best triad bandwidth in bytes per second over {@code repetitions} passes of arrays of {@code elements} floats. */
    public static double triad(int threads, int elements, int repetitions) {
        int chunks = threads * 8;
        long chunkFloats = ((long) elements / chunks) / FLOATS.length() * FLOATS.length();
        long floats = chunkFloats * chunks;
        ForkJoinPool pool = new ForkJoinPool(threads);
        try (Arena arena = Arena.ofShared()) {
            MemorySegment a = arena.allocate(floats * Float.BYTES, 64);
            MemorySegment b = arena.allocate(floats * Float.BYTES, 64);
            MemorySegment c = arena.allocate(floats * Float.BYTES, 64);
            b.elements(ValueLayout.JAVA_FLOAT).forEach(e -> e.set(ValueLayout.JAVA_FLOAT, 0, 1f));
            c.elements(ValueLayout.JAVA_FLOAT).forEach(e -> e.set(ValueLayout.JAVA_FLOAT, 0, 2f));
            double best = 0;
            for (int r = 0; r < repetitions; r++) {
                float scalar = 3f + r;
                long start = System.nanoTime();
                FloatVector s = FloatVector.broadcast(FLOATS, scalar);
                pool.submit(() -> IntStream.range(0, chunks).parallel().forEach(k -> {
                    long end = (k + 1) * chunkFloats * Float.BYTES;
                    for (long at = k * chunkFloats * Float.BYTES; at < end; at += FLOATS.vectorByteSize()) {
                        FloatVector.fromMemorySegment(FLOATS, c, at, ORDER)
                                .fma(s, FloatVector.fromMemorySegment(FLOATS, b, at, ORDER))
                                .intoMemorySegment(a, at, ORDER);
                    }
                })).join();
                double seconds = (System.nanoTime() - start) / 1e9;
                best = Math.max(best, 3.0 * Float.BYTES * floats / seconds);
            }
            if (a.getAtIndex(ValueLayout.JAVA_FLOAT, floats - 1) != 2f * (2 + repetitions) + 1f) {
                throw new IllegalStateException("triad produced a wrong result");
            }
            return best;
        } finally {
            pool.shutdownNow();
        }
    }
}

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
        return best(threads, elements, repetitions, new float[] {1f}, 1, (arrays, from, to, r) -> {
            FloatVector acc = FloatVector.zero(FLOATS);
            for (long at = from; at < to; at += FLOATS.vectorByteSize()) {
                acc = acc.add(FloatVector.fromMemorySegment(FLOATS, arrays[0], at, ORDER));
            }
            return acc.reduceLanes(VectorOperators.ADD);
        }, (arrays, floats, sum, r) -> sum == floats);
    }

    /** Best triad bandwidth in bytes per second over {@code repetitions} passes of arrays of {@code elements} floats. */
    public static double triad(int threads, int elements, int repetitions) {
        return best(threads, elements, repetitions, new float[] {0f, 1f, 2f}, 3, (arrays, from, to, r) -> {
            FloatVector s = FloatVector.broadcast(FLOATS, 3f + r);
            for (long at = from; at < to; at += FLOATS.vectorByteSize()) {
                FloatVector.fromMemorySegment(FLOATS, arrays[2], at, ORDER)
                        .fma(s, FloatVector.fromMemorySegment(FLOATS, arrays[1], at, ORDER))
                        .intoMemorySegment(arrays[0], at, ORDER);
            }
            return 0;
        }, (arrays, floats, sum, r) -> arrays[0].getAtIndex(ValueLayout.JAVA_FLOAT, floats - 1) == 2f * (3 + r) + 1f);
    }

    /** One range of a pass, bytes {@code from} to {@code to} of every array; returns its share of a checksum. */
    private interface Pass {
        double run(MemorySegment[] arrays, long from, long to, int repetition);
    }

    /** Whether a repetition's result is right (a measurement that computed nothing is worth nothing). */
    private interface Check {
        boolean holds(MemorySegment[] arrays, long floats, double sum, int repetition);
    }

    /**
     * Arrays filled with {@code initial} values, {@code pass} run over them in equal ranges on {@code threads}
     * threads, {@code repetitions} times; the best rate, counting {@code streams} arrays of bytes per pass.
     */
    private static double best(int threads, int elements, int repetitions, float[] initial, int streams, Pass pass,
            Check check) {
        int chunks = threads * 8;
        long chunkBytes = ((long) elements / chunks) / FLOATS.length() * FLOATS.length() * Float.BYTES;
        long floats = chunkBytes * chunks / Float.BYTES;
        ForkJoinPool pool = new ForkJoinPool(threads);
        try (Arena arena = Arena.ofShared()) {
            MemorySegment[] arrays = new MemorySegment[initial.length];
            for (int i = 0; i < arrays.length; i++) {
                arrays[i] = arena.allocate(floats * Float.BYTES, 64);
                float value = initial[i];
                arrays[i].elements(ValueLayout.JAVA_FLOAT).forEach(e -> e.set(ValueLayout.JAVA_FLOAT, 0, value));
            }
            double best = 0;
            for (int r = 0; r < repetitions; r++) {
                int repetition = r;
                long start = System.nanoTime();
                double sum = pool.submit(() -> IntStream.range(0, chunks).parallel()
                        .mapToDouble(k -> pass.run(arrays, k * chunkBytes, (k + 1) * chunkBytes, repetition))
                        .sum()).join();
                double seconds = (System.nanoTime() - start) / 1e9;
                if (!check.holds(arrays, floats, sum, r)) {
                    throw new IllegalStateException("bandwidth pass produced a wrong result");
                }
                best = Math.max(best, (double) streams * Float.BYTES * floats / seconds);
            }
            return best;
        } finally {
            pool.shutdownNow();
        }
    }
}

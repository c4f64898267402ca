package io.hyserve.engine.bench;

import java.util.concurrent.ForkJoinPool;
import java.util.stream.IntStream;

/**
 * A STREAM-style triad, {@code a[i] = b[i] + s·c[i]}, over arrays far larger than the caches, on a given
 * number of threads. Bytes are counted as STREAM does: two reads and one write per element.
 */
public final class MemoryBandwidth {
    private MemoryBandwidth() {}

    /** Best triad bandwidth in bytes per second over {@code repetitions} passes of arrays of {@code elements} floats. */
    public static double triad(int threads, int elements, int repetitions) {
        float[] a = new float[elements];
        float[] b = new float[elements];
        float[] c = new float[elements];
        int chunks = threads * 8;
        int chunk = (elements + chunks - 1) / chunks;
        ForkJoinPool pool = new ForkJoinPool(threads);
        try {
            pool.submit(() -> IntStream.range(0, chunks).parallel().forEach(k -> {
                for (int i = k * chunk; i < Math.min(elements, (k + 1) * chunk); i++) {
                    b[i] = 1f;
                    c[i] = 2f;
                }
            })).join();
            double best = 0;
            for (int r = 0; r < repetitions; r++) {
                float scalar = 3f + r;
                long start = System.nanoTime();
                pool.submit(() -> IntStream.range(0, chunks).parallel().forEach(k -> {
                    int end = Math.min(elements, (k + 1) * chunk);
                    for (int i = k * chunk; i < end; i++) {
                        a[i] = b[i] + scalar * c[i];
                    }
                })).join();
                double seconds = (System.nanoTime() - start) / 1e9;
                best = Math.max(best, 3.0 * Float.BYTES * elements / seconds);
            }
            if (a[elements - 1] != 2f * (2 + repetitions) + 1f) {
                throw new IllegalStateException("triad produced a wrong result");
            }
            return best;
        } finally {
            pool.shutdownNow();
        }
    }
}

package io.hyserve.devicecheck;

import io.hyserve.kernels.Gpu;
import java.util.Arrays;

/** How the benchmarks time GPU work: warm-up calls, then the median of timed calls each waited for. */
final class Timing {
    private Timing() {}

    static double medianMillis(Gpu gpu, int warmUps, int repeats, Runnable work) {
        for (int i = 0; i < warmUps; i++) {
            work.run();
        }
        gpu.synchronize();
        double[] times = new double[repeats];
        for (int i = 0; i < repeats; i++) {
            long start = System.nanoTime();
            work.run();
            gpu.synchronize();
            times[i] = (System.nanoTime() - start) / 1e6;
        }
        Arrays.sort(times);
        return times[repeats / 2];
    }
}

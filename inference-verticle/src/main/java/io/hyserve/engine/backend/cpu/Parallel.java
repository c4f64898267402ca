package io.hyserve.engine.backend.cpu;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Splits loops over the CPU backend's worker threads. Work is cut into contiguous ranges whose
 * boundaries never change what a single output element computes, so results are the same for any
 * thread count.
 */
final class Parallel implements AutoCloseable {
    /** Below this many multiply-adds a loop runs on the calling thread; forking costs more. */
    static final long MIN_PARALLEL_WORK = 1L << 15;

    private final ForkJoinPool pool;
    private final int threads;

    Parallel(int threads) {
        this.threads = Math.max(1, threads);
        AtomicInteger counter = new AtomicInteger();
        this.pool = new ForkJoinPool(this.threads, p -> {
            var thread = ForkJoinPool.defaultForkJoinWorkerThreadFactory.newThread(p);
            thread.setName("hyserve-cpu-" + counter.getAndIncrement());
            thread.setDaemon(true);
            return thread;
        }, null, false);
    }

    int threads() {
        return threads;
    }

    interface RangeBody {
        void run(int start, int end);
    }

    /**
     * Runs {@code body} over {@code [0, count)} in ranges that are multiples of {@code grain} (except the
     * last); {@code work} estimates the total multiply-adds to decide whether forking pays.
     */
    void forRange(int count, int grain, long work, RangeBody body) {
        if (count <= 0) {
            return;
        }
        int units = (count + grain - 1) / grain;
        int tasks = Math.min(units, threads * 4);
        if (threads == 1 || tasks <= 1 || work < MIN_PARALLEL_WORK || ForkJoinTask.getPool() == pool) {
            body.run(0, count);
            return;
        }
        int unitsPerTask = (units + tasks - 1) / tasks;
        List<ForkJoinTask<?>> jobs = new ArrayList<>(tasks);
        for (int start = 0; start < count; start += unitsPerTask * grain) {
            int from = start;
            int to = Math.min(count, start + unitsPerTask * grain);
            jobs.add(ForkJoinTask.adapt(() -> body.run(from, to)));
        }
        pool.invoke(ForkJoinTask.adapt(() -> ForkJoinTask.invokeAll(jobs)));
    }

    @Override
    public void close() {
        pool.shutdownNow();
    }
}

package io.hyserve.engine.backend.cpu;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Splits loops over the CPU backend's worker threads. A decode step issues dozens of short parallel loops
 * back to back; waking parked threads for each would cost more than the loops themselves (a futex wake-up
 * takes tens to hundreds of microseconds on a virtual machine), so workers spin briefly for the next loop
 * before they park. The calling thread takes part in every loop.
 *
 * <p>Work is cut into contiguous ranges whose boundaries never change what a single output element
 * computes, so results are the same for any thread count.
 */
final class Parallel implements AutoCloseable {
    /** Below this many multiply-adds a loop runs on the calling thread; dispatching costs more. */
    static final long MIN_PARALLEL_WORK = 1L << 15;
    /** How long an idle worker keeps polling for the next loop before it parks. */
    private static final long SPIN_NANOS = TimeUnit.MICROSECONDS.toNanos(300);

    private final int threads;
    private final Worker[] workers;
    /** Held by the thread dispatching a loop; a nested loop from inside one runs inline. */
    private final ReentrantLock dispatch = new ReentrantLock();
    private volatile Job job;
    private volatile boolean closed;

    Parallel(int threads) {
        this.threads = Math.max(1, threads);
        this.workers = new Worker[this.threads - 1];
        for (int i = 0; i < workers.length; i++) {
            workers[i] = new Worker("hyserve-cpu-" + i);
            workers[i].thread.start();
        }
    }

    int threads() {
        return threads;
    }

    interface RangeBody {
        void run(int start, int end);
    }

    /** One parallel loop: chunks are claimed in order by whoever is free. */
    private static final class Job {
        final RangeBody body;
        final int count;
        final int chunkSize;
        final int chunks;
        final AtomicInteger next = new AtomicInteger();
        final AtomicInteger remaining;
        final AtomicReference<Throwable> failure = new AtomicReference<>();

        Job(RangeBody body, int count, int chunkSize, int chunks) {
            this.body = body;
            this.count = count;
            this.chunkSize = chunkSize;
            this.chunks = chunks;
            this.remaining = new AtomicInteger(chunks);
        }

        void runChunks() {
            for (int c = next.getAndIncrement(); c < chunks; c = next.getAndIncrement()) {
                try {
                    if (failure.get() == null) {
                        body.run(c * chunkSize, Math.min(count, (c + 1) * chunkSize));
                    }
                } catch (Throwable t) {
                    failure.compareAndSet(null, t);
                } finally {
                    remaining.decrementAndGet();
                }
            }
        }
    }

    /**
     * Runs {@code body} over {@code [0, count)} in ranges that are multiples of {@code grain} (except the
     * last); {@code work} estimates the total multiply-adds to decide whether splitting pays.
     */
    void forRange(int count, int grain, long work, RangeBody body) {
        if (count <= 0) {
            return;
        }
        int units = (count + grain - 1) / grain;
        int chunks = Math.min(units, threads * 16);
        if (threads == 1 || chunks <= 1 || work < MIN_PARALLEL_WORK || dispatch.isHeldByCurrentThread()
                || Thread.currentThread() instanceof WorkerThread) {
            body.run(0, count);
            return;
        }
        int chunkSize = (units + chunks - 1) / chunks * grain;
        Job current = new Job(body, count, chunkSize, (count + chunkSize - 1) / chunkSize);
        dispatch.lock();
        try {
            job = current;
            for (Worker worker : workers) {
                if (worker.parked) {
                    LockSupport.unpark(worker.thread);
                }
            }
            current.runChunks();
            while (current.remaining.get() > 0) {
                Thread.onSpinWait();
            }
            job = null; // drop the loop's captured arrays
        } finally {
            dispatch.unlock();
        }
        Throwable failure = current.failure.get();
        if (failure instanceof RuntimeException e) {
            throw e;
        } else if (failure instanceof Error e) {
            throw e;
        } else if (failure != null) {
            throw new IllegalStateException(failure);
        }
    }

    private static final class WorkerThread extends Thread {
        WorkerThread(Runnable task, String name) {
            super(task, name);
            setDaemon(true);
        }
    }

    private final class Worker implements Runnable {
        final Thread thread;
        volatile boolean parked;

        Worker(String name) {
            this.thread = new WorkerThread(this, name);
        }

        @Override
        public void run() {
            Job done = null;
            long idleSince = System.nanoTime();
            while (!closed) {
                Job current = job;
                if (current != null && current != done) {
                    current.runChunks();
                    done = current;
                    idleSince = System.nanoTime();
                } else if (System.nanoTime() - idleSince < SPIN_NANOS) {
                    Thread.onSpinWait();
                } else {
                    parked = true;
                    // Re-check after announcing: a dispatcher that missed the flag has published its job.
                    Job pending = job;
                    if ((pending == null || pending == done) && !closed) {
                        LockSupport.park(this);
                    }
                    parked = false;
                    idleSince = System.nanoTime();
                }
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        for (Worker worker : workers) {
            LockSupport.unpark(worker.thread);
        }
    }
}

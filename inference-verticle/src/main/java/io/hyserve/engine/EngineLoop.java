package io.hyserve.engine;

import io.hyserve.engine.backend.Backend;
import io.hyserve.engine.backend.KvStorage;
import io.hyserve.engine.backend.StepLayout;
import io.hyserve.engine.kv.KvCacheManager;
import io.hyserve.engine.model.HunyuanModel;
import io.hyserve.engine.sched.Scheduler;
import io.hyserve.engine.sched.Step;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The engine thread: takes in new requests, drops cancelled ones, asks the scheduler for a step, runs it as
 * one ragged forward pass, and hands each sampling request its logits. Nothing here blocks on a caller.
 */
final class EngineLoop implements Runnable {
    private static final Logger log = LoggerFactory.getLogger(EngineLoop.class);

    private final HunyuanModel model;
    private final Backend backend;
    private final KvStorage kv;
    private final KvCacheManager cache;
    private final Scheduler<Generation> scheduler;
    private final BlockingQueue<Generation> incoming = new LinkedBlockingQueue<>();
    private final List<Consumer<StepStats>> stepListeners = new CopyOnWriteArrayList<>();
    private volatile EngineStats stats;
    private volatile boolean closed;
    private long steps;
    private long stepTokens;
    private int lastStepTokens;
    private int lastStepSequences;

    EngineLoop(HunyuanModel model, KvCacheManager cache, int maxNumSeqs, int maxNumBatchedTokens) {
        this.model = model;
        this.backend = model.backend();
        this.cache = cache;
        this.kv = model.allocateKv(cache.numBlocks(), cache.blockSize());
        this.scheduler = new Scheduler<>(cache, maxNumSeqs, maxNumBatchedTokens);
        publishStats();
    }

    void submit(Generation generation) {
        incoming.add(generation);
    }

    EngineStats stats() {
        return stats;
    }

    void addStepListener(Consumer<StepStats> listener) {
        stepListeners.add(listener);
    }

    @Override
    public void run() {
        try {
            while (!closed) {
                takeIncoming();
                try {
                    dropCancelled();
                    runStep();
                } catch (RuntimeException e) {
                    // Scheduler state can no longer be trusted: end what it holds, keep serving new requests.
                    log.atError().setMessage("engine step failed").addKeyValue("error", e.toString()).setCause(e).log();
                    for (Generation generation : scheduler.requests()) {
                        scheduler.remove(generation);
                        generation.fail(e);
                    }
                }
                publishStats();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        for (Generation generation : scheduler.requests()) {
            scheduler.remove(generation);
            generation.finish(FinishReason.ABORT);
        }
        List<Generation> pending = new ArrayList<>();
        incoming.drainTo(pending);
        pending.forEach(g -> g.finish(FinishReason.ABORT));
    }

    /** Waits for work when idle, then moves everything submitted into the scheduler. */
    private void takeIncoming() throws InterruptedException {
        if (!scheduler.hasWork()) {
            Generation first = incoming.take();
            scheduler.add(first);
        }
        for (Generation next = incoming.poll(); next != null; next = incoming.poll()) {
            scheduler.add(next);
        }
    }

    /** Cancelled requests leave at once, waiting or running, and their blocks go back to the pool. */
    private void dropCancelled() {
        for (Generation generation : scheduler.requests()) {
            if (generation.cancelled()) {
                scheduler.remove(generation);
                generation.finish(FinishReason.ABORT);
            }
        }
    }

    private void runStep() {
        Step<Generation> step = scheduler.schedule();
        for (Generation tooLong : step.unservable()) {
            // Its context outgrew the whole KV pool: the pool is the context it can have.
            tooLong.finish(FinishReason.LENGTH);
        }
        if (step.isEmpty()) {
            return;
        }
        List<Step.Chunk<Generation>> chunks = step.chunks();
        int tokens = step.tokens();
        int[] ids = new int[tokens];
        int[] positions = new int[tokens];
        int[] owners = new int[tokens];
        int[][] tables = new int[chunks.size()][];
        List<Integer> logitRows = new ArrayList<>();
        int t = 0;
        for (int s = 0; s < chunks.size(); s++) {
            Step.Chunk<Generation> chunk = chunks.get(s);
            Generation request = chunk.request();
            tables[s] = request.blocks().toArray();
            for (int i = 0; i < chunk.count(); i++, t++) {
                ids[t] = request.token(chunk.start() + i);
                positions[t] = chunk.start() + i;
                owners[t] = s;
            }
            if (chunk.samples()) {
                logitRows.add(t - 1);
            }
        }
        long bytesBefore = backend.weightBytesRead();
        long flopsBefore = backend.flops();
        long started = System.nanoTime();
        float[] logits;
        try {
            logits = model.forward(ids, StepLayout.of(positions, owners, tables, cache.blockSize()), kv,
                    logitRows.stream().mapToInt(Integer::intValue).toArray());
        } catch (RuntimeException e) {
            // The step's requests cannot tell which of them broke it: all of them end with the error.
            log.atError().setMessage("forward step failed").addKeyValue("requests", chunks.size())
                    .addKeyValue("error", e.toString()).log();
            for (Step.Chunk<Generation> chunk : chunks) {
                scheduler.remove(chunk.request());
                chunk.request().fail(e);
            }
            return;
        }
        long nanos = System.nanoTime() - started;
        steps++;
        stepTokens += tokens;
        lastStepTokens = tokens;
        lastStepSequences = chunks.size();
        // Observers hear of the step before its requests' events go out, so a finished request's steps are all seen.
        if (!stepListeners.isEmpty()) {
            StepStats stepStats = new StepStats(chunks.size(), tokens, logitRows.size(), nanos,
                    backend.weightBytesRead() - bytesBefore, backend.flops() - flopsBefore);
            stepListeners.forEach(listener -> listener.accept(stepStats));
        }
        scheduler.completed(step);
        int vocab = model.config().vocabSize();
        int row = 0;
        for (Step.Chunk<Generation> chunk : chunks) {
            if (chunk.samples()) {
                Generation request = chunk.request();
                try {
                    if (request.accept(logits, row * vocab)) {
                        scheduler.remove(request);
                    }
                } catch (RuntimeException e) {
                    log.atWarn().setMessage("request failed").addKeyValue("requestId", request.id())
                            .addKeyValue("error", e.toString()).log();
                    scheduler.remove(request);
                    request.fail(e);
                }
                row++;
            }
        }
    }

    private void publishStats() {
        stats = new EngineStats(scheduler.running(), scheduler.waiting(), scheduler.preemptions(), cache.numBlocks(),
                cache.usedBlocks(), cache.freeBlocks(), cache.cachedBlocks(), cache.blockSize(), cache.queryTokens(),
                cache.hitTokens(), steps, stepTokens, lastStepTokens, lastStepSequences);
    }

    /** Stops after the current step; every request still held ends with ABORT. */
    void close() {
        closed = true;
    }

    void closeKv() {
        kv.close();
    }
}

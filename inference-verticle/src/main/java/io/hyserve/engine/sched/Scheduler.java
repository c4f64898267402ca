package io.hyserve.engine.sched;

import io.hyserve.engine.kv.KvCacheManager;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;

/**
 * Iteration-level scheduling (continuous batching). Each step takes, within a token budget and a cap on
 * running sequences: first every running request's next chunk (one token when decoding, up to the budget
 * when prefilling), then waiting requests first come first served. When a running request needs a block and
 * none is free, the newest running request is preempted: its blocks go back to the pool and it waits at the
 * head of the queue to recompute later (its generated tokens are kept, so its output is unchanged).
 */
public final class Scheduler<R extends Request> {
    private final KvCacheManager kv;
    private final int maxRunning;
    private final int maxStepTokens;
    private final List<R> running = new ArrayList<>();
    private final Deque<R> waiting = new ArrayDeque<>();
    private long preemptions;

    public Scheduler(KvCacheManager kv, int maxRunning, int maxStepTokens) {
        if (maxRunning <= 0 || maxStepTokens <= 0) {
            throw new IllegalArgumentException("scheduler limits must be positive");
        }
        this.kv = kv;
        this.maxRunning = maxRunning;
        this.maxStepTokens = maxStepTokens;
    }

    public void add(R request) {
        waiting.addLast(request);
    }

    public boolean hasWork() {
        return !running.isEmpty() || !waiting.isEmpty();
    }

    public int running() {
        return running.size();
    }

    public int waiting() {
        return waiting.size();
    }

    public long preemptions() {
        return preemptions;
    }

    /** Every request the scheduler holds, running first. */
    public List<R> requests() {
        List<R> all = new ArrayList<>(running);
        all.addAll(waiting);
        return all;
    }

    public Step<R> schedule() {
        List<Step.Chunk<R>> chunks = new ArrayList<>();
        List<R> unservable = new ArrayList<>();
        int budget = maxStepTokens;
        int preemptedNow = 0;
        for (int i = 0; i < running.size() && budget > 0; i++) {
            R request = running.get(i);
            int count = Math.min(request.length() - request.computed, budget);
            while (!kv.allocate(request.blocks, request.computed + count)) {
                R victim = running.removeLast();
                preempt(victim);
                preemptedNow++;
                if (victim == request) {
                    break;
                }
            }
            if (i >= running.size()) {
                break; // the request itself was the newest and had to wait
            }
            chunks.add(new Step.Chunk<>(request, request.computed, count));
            budget -= count;
        }
        // As vLLM does: no admissions in a step that had to preempt, the pool is full.
        while (preemptedNow == 0 && budget > 0 && running.size() < maxRunning && !waiting.isEmpty()) {
            R request = waiting.peekFirst();
            request.computed = kv.matchPrefix(request.blocks, request.tokenArray(), request.length());
            int count = Math.min(request.length() - request.computed, budget);
            if (!kv.allocate(request.blocks, request.computed + count)) {
                kv.free(request.blocks);
                request.computed = 0;
                if (running.isEmpty()) {
                    // Even an empty pool cannot hold it: it can never run.
                    unservable.add(waiting.pollFirst());
                    continue;
                }
                break;
            }
            waiting.pollFirst();
            if (request.cachedPromptTokens < 0) {
                request.cachedPromptTokens = Math.min(request.computed, request.promptLength());
                request.admittedNanos = System.nanoTime();
            }
            running.add(request);
            chunks.add(new Step.Chunk<>(request, request.computed, count));
            budget -= count;
        }
        return new Step<>(chunks, unservable, preemptedNow);
    }

    private void preempt(R victim) {
        kv.free(victim.blocks);
        victim.computed = 0;
        victim.preemptions++;
        preemptions++;
        waiting.addFirst(victim);
    }

    /** Marks the step's tokens computed and offers newly full blocks to the prefix cache. */
    public void completed(Step<R> step) {
        for (Step.Chunk<R> chunk : step.chunks()) {
            R request = chunk.request();
            request.computed = chunk.start() + chunk.count();
            kv.commitFullBlocks(request.blocks, request.tokenArray(), request.computed);
        }
    }

    /** Removes a request (finished, cancelled or failed) and returns its blocks to the pool at once. */
    public void remove(R request) {
        if (!running.remove(request)) {
            waiting.remove(request);
        }
        kv.free(request.blocks);
    }
}

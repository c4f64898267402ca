package io.hyserve.engine.sched;

import static org.assertj.core.api.Assertions.assertThat;

import io.hyserve.engine.kv.KvCacheManager;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class SchedulerTest {
    private static final int BLOCK = 4;

    private static final class Seq extends Request {
        Seq(String id, int promptLength) {
            super(id, IntStream.range(0, promptLength).map(i -> i * 7 + id.hashCode()).toArray());
        }
    }

    /** Runs one step as the engine would: completes it and appends a token for every sampling chunk. */
    private static Step<Seq> step(Scheduler<Seq> scheduler) {
        Step<Seq> step = scheduler.schedule();
        scheduler.completed(step);
        for (Step.Chunk<Seq> chunk : step.chunks()) {
            if (chunk.samples()) {
                chunk.request().append(1);
            }
        }
        return step;
    }

    @Test
    void chunkedPrefillStaysWithinTheTokenBudgetAndDecodesKeepRunning() {
        Scheduler<Seq> scheduler = new Scheduler<>(new KvCacheManager(100, BLOCK, false), 8, 10);
        Seq running = new Seq("a", 3);
        scheduler.add(running);
        assertThat(step(scheduler).chunks()).extracting(Step.Chunk::count).containsExactly(3);
        Seq longPrompt = new Seq("b", 25);
        scheduler.add(longPrompt);
        for (int i = 0; i < 3; i++) {
            Step<Seq> step = step(scheduler);
            assertThat(step.tokens()).isLessThanOrEqualTo(10);
            // The decoding request gets its token every step while the long prompt is chunked.
            assertThat(step.chunks().get(0).request()).isSameAs(running);
            assertThat(step.chunks().get(0).count()).isEqualTo(1);
            assertThat(step.chunks().get(1).samples()).isEqualTo(i == 2);
        }
        assertThat(longPrompt.computed()).isEqualTo(25);
        assertThat(longPrompt.generated()).isEqualTo(1);
    }

    @Test
    void requestsWaitFirstComeFirstServedBeyondTheSequenceCap() {
        Scheduler<Seq> scheduler = new Scheduler<>(new KvCacheManager(100, BLOCK, false), 2, 100);
        Seq a = new Seq("a", 2);
        Seq b = new Seq("b", 2);
        Seq c = new Seq("c", 2);
        List.of(a, b, c).forEach(scheduler::add);
        assertThat(step(scheduler).chunks()).extracting(Step.Chunk::request).containsExactly(a, b);
        assertThat(scheduler.waiting()).isEqualTo(1);
        scheduler.remove(a);
        assertThat(step(scheduler).chunks()).extracting(Step.Chunk::request).containsExactly(b, c);
    }

    @Test
    void theNewestRunningRequestIsPreemptedAndRecomputesLater() {
        KvCacheManager kv = new KvCacheManager(4, BLOCK, false);
        Scheduler<Seq> scheduler = new Scheduler<>(kv, 8, 100);
        Seq old = new Seq("old", 4);
        Seq young = new Seq("young", 4);
        scheduler.add(old);
        scheduler.add(young);
        step(scheduler); // both prefilled: 2 blocks used, 2 free
        for (int i = 0; i < 4; i++) {
            step(scheduler); // each decode needs a new block at position 4: 4 blocks used
        }
        assertThat(kv.freeBlocks()).isZero();
        // Both now need a third block; only preempting the younger makes room.
        for (int i = 0; i < 4; i++) {
            step(scheduler);
        }
        assertThat(scheduler.preemptions()).isEqualTo(1);
        assertThat(young.preemptions()).isEqualTo(1);
        assertThat(old.preemptions()).isZero();
        assertThat(young.computed()).isZero();
        assertThat(scheduler.waiting()).isEqualTo(1);
        scheduler.remove(old);
        Step<Seq> resumed = step(scheduler);
        // The preempted request recomputes its prompt and the tokens it had generated, then samples.
        assertThat(resumed.chunks()).singleElement().satisfies(chunk -> {
            assertThat(chunk.request()).isSameAs(young);
            assertThat(chunk.start()).isZero();
            assertThat(chunk.samples()).isTrue();
        });
        assertThat(young.generated()).isEqualTo(6);
    }

    @Test
    void aRequestLargerThanTheWholePoolIsReportedUnservable() {
        Scheduler<Seq> scheduler = new Scheduler<>(new KvCacheManager(2, BLOCK, false), 8, 100);
        Seq huge = new Seq("huge", 9);
        scheduler.add(huge);
        Step<Seq> step = scheduler.schedule();
        assertThat(step.isEmpty()).isTrue();
        assertThat(step.unservable()).containsExactly(huge);
        assertThat(scheduler.hasWork()).isFalse();
    }
}

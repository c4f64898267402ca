package io.hyserve.gateway;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/** Gateway figures for tests and metrics. */
public final class GatewayStats {
    private final AtomicInteger activeExchanges = new AtomicInteger();
    private final AtomicInteger queuedHighWater = new AtomicInteger();
    private final AtomicLong slowClientCancellations = new AtomicLong();
    private final AtomicLong invalidEvents = new AtomicLong();

    /** Completions and chat requests in flight. */
    public int activeExchanges() {
        return activeExchanges.get();
    }

    /** The most events ever waiting in one exchange for its client. */
    public int queuedHighWater() {
        return queuedHighWater.get();
    }

    /** Generations cancelled because their client stopped reading. */
    public long slowClientCancellations() {
        return slowClientCancellations.get();
    }

    /** Records on the events topic that failed validation (sent to the dead-letter topic). */
    public long invalidEvents() {
        return invalidEvents.get();
    }

    void exchangeOpened() {
        activeExchanges.incrementAndGet();
    }

    void exchangeClosed() {
        activeExchanges.decrementAndGet();
    }

    void queuedHighWater(int queued) {
        queuedHighWater.accumulateAndGet(queued, Math::max);
    }

    void slowClientCancelled() {
        slowClientCancellations.incrementAndGet();
    }

    void invalidEvent() {
        invalidEvents.incrementAndGet();
    }
}

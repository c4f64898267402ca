package io.hyserve.gateway;

import io.hyserve.schemas.WorkerHeartbeat;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** The workers this gateway has heard from, by their heartbeats. */
final class WorkerRegistry {
    private final long timeoutMs;
    private final Map<String, WorkerHeartbeat> latest = new ConcurrentHashMap<>();
    private final Map<String, Long> receivedAt = new ConcurrentHashMap<>();

    WorkerRegistry(long timeoutMs) {
        this.timeoutMs = timeoutMs;
    }

    void record(WorkerHeartbeat heartbeat, long nowMs) {
        latest.put(heartbeat.workerId(), heartbeat);
        receivedAt.put(heartbeat.workerId(), nowMs);
    }

    /** Events from a worker prove it alive as much as its heartbeats do, which may lag behind on a busy machine. */
    void touch(String workerId, long nowMs) {
        receivedAt.computeIfPresent(workerId, (id, at) -> Math.max(at, nowMs));
    }

    /** Heard from recently and not stopped: its requests are still being served. */
    boolean alive(String workerId, long nowMs) {
        WorkerHeartbeat beat = latest.get(workerId);
        return beat != null && beat.state() != WorkerHeartbeat.State.STOPPED
                && nowMs - receivedAt.get(workerId) <= timeoutMs;
    }

    /** Some worker takes new requests now. */
    boolean anyReady(long nowMs) {
        for (WorkerHeartbeat beat : latest.values()) {
            if (beat.state() == WorkerHeartbeat.State.READY && nowMs - receivedAt.get(beat.workerId()) <= timeoutMs) {
                return true;
            }
        }
        return false;
    }
}

package io.hyserve.gateway;

import io.hyserve.schemas.WorkerHeartbeat;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** The workers this gateway has heard from, by their heartbeats. */
final class WorkerRegistry {
    private record Seen(WorkerHeartbeat heartbeat, long atMs) {}

    private final long timeoutMs;
    private final Map<String, Seen> workers = new ConcurrentHashMap<>();

    WorkerRegistry(long timeoutMs) {
        this.timeoutMs = timeoutMs;
    }

    void record(WorkerHeartbeat heartbeat, long nowMs) {
        workers.put(heartbeat.workerId(), new Seen(heartbeat, nowMs));
    }

    /** Events from a worker prove it alive as much as its heartbeats do, which may lag behind on a busy machine. */
    void touch(String workerId, long nowMs) {
        workers.computeIfPresent(workerId, (id, seen) -> new Seen(seen.heartbeat(), Math.max(seen.atMs(), nowMs)));
    }

    /** Heard from recently and not stopped: its requests are still being served. */
    boolean alive(String workerId, long nowMs) {
        Seen seen = workers.get(workerId);
        return seen != null && seen.heartbeat().state() != WorkerHeartbeat.State.STOPPED
                && nowMs - seen.atMs() <= timeoutMs;
    }

    /** Some worker takes new requests now. */
    boolean anyReady(long nowMs) {
        for (Seen seen : workers.values()) {
            if (seen.heartbeat().state() == WorkerHeartbeat.State.READY && nowMs - seen.atMs() <= timeoutMs) {
                return true;
            }
        }
        return false;
    }
}

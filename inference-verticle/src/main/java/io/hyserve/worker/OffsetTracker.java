package io.hyserve.worker;

import java.util.HashMap;
import java.util.Map;
import java.util.TreeSet;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;

/**
 * Which request offsets may be committed. Requests finish out of order, so a partition's commit position is
 * its lowest unfinished offset (or one past the last offset seen): a worker that dies re-delivers exactly the
 * records it had not finished. Poll thread only.
 */
final class OffsetTracker {
    private final Map<TopicPartition, TreeSet<Long>> unfinished = new HashMap<>();
    private final Map<TopicPartition, Long> next = new HashMap<>();
    private final Map<TopicPartition, Long> committed = new HashMap<>();

    void seen(TopicPartition partition, long offset) {
        unfinished.computeIfAbsent(partition, p -> new TreeSet<>()).add(offset);
        next.merge(partition, offset + 1, Math::max);
    }

    void finished(TopicPartition partition, long offset) {
        TreeSet<Long> open = unfinished.get(partition);
        if (open != null) {
            open.remove(offset);
        }
    }

    /** Positions that moved since the last call, ready to commit. */
    Map<TopicPartition, OffsetAndMetadata> advanced() {
        Map<TopicPartition, OffsetAndMetadata> out = new HashMap<>();
        for (Map.Entry<TopicPartition, Long> entry : next.entrySet()) {
            TopicPartition partition = entry.getKey();
            TreeSet<Long> open = unfinished.get(partition);
            long position = open == null || open.isEmpty() ? entry.getValue() : open.first();
            if (!Long.valueOf(position).equals(committed.get(partition))) {
                out.put(partition, new OffsetAndMetadata(position));
                committed.put(partition, position);
            }
        }
        return out;
    }

    /** A commit of these positions failed: offer them again next time. */
    void commitFailed(Map<TopicPartition, OffsetAndMetadata> positions) {
        positions.forEach((partition, position) -> committed.remove(partition, position.offset()));
    }

    void forget(TopicPartition partition) {
        unfinished.remove(partition);
        next.remove(partition);
        committed.remove(partition);
    }

    int unfinishedCount() {
        return unfinished.values().stream().mapToInt(TreeSet::size).sum();
    }
}

package io.hyserve.worker;

import io.hyserve.schemas.ControlMessage;
import io.hyserve.schemas.JobStatus;
import io.hyserve.schemas.Topics;
import io.hyserve.schemas.Wire;
import io.hyserve.schemas.WireException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A worker's second consumer, outside any group: every partition of the control topic from its end (cancels
 * and credits), and every partition of the results topic from its start (which jobs are finished, committed
 * transactions only). One thread.
 */
final class SideChannel implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(SideChannel.class);
    /** How long a cancel for a request not seen yet is remembered. */
    private static final long EARLY_CANCEL_MS = Duration.ofMinutes(5).toMillis();

    interface ControlHandler {
        void cancel(String requestId, String reason);

        void credit(String requestId, int events);
    }

    private final Topics topics;
    private final KafkaConsumer<String, byte[]> consumer;
    private final ControlHandler handler;
    private final Set<String> finishedJobs = ConcurrentHashMap.newKeySet();
    private final Map<String, Long> earlyCancels = new LinkedHashMap<>();
    private final ConcurrentLinkedQueue<CompletableFuture<Void>> catchUpRequests = new ConcurrentLinkedQueue<>();
    private final List<Pending> pendingCatchUps = new ArrayList<>();
    private final Thread thread;
    private volatile boolean running = true;

    private record Pending(CompletableFuture<Void> done, Map<TopicPartition, Long> ends) {}

    SideChannel(Topics topics, Map<String, Object> kafka, String clientId, ControlHandler handler) {
        this.topics = topics;
        this.handler = handler;
        Map<String, Object> props = new HashMap<>(kafka);
        props.put(ConsumerConfig.CLIENT_ID_CONFIG, clientId);
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        props.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, 20);
        this.consumer = new KafkaConsumer<>(props, new StringDeserializer(), new ByteArrayDeserializer());
        List<TopicPartition> control = partitions(topics.control());
        List<TopicPartition> results = partitions(topics.results());
        List<TopicPartition> all = new ArrayList<>(control);
        all.addAll(results);
        consumer.assign(all);
        consumer.seekToEnd(control);
        consumer.seekToBeginning(results);
        control.forEach(consumer::position); // resolve "end" now: later cancels are seen, earlier ones are not
        this.thread = Thread.ofPlatform().name("hyserve-side-channel").daemon().start(this::run);
    }

    private List<TopicPartition> partitions(String topic) {
        List<PartitionInfo> infos = consumer.partitionsFor(topic, Duration.ofSeconds(30));
        if (infos == null || infos.isEmpty()) {
            throw new IllegalStateException("topic " + topic + " does not exist");
        }
        return infos.stream().map(p -> new TopicPartition(topic, p.partition())).toList();
    }

    boolean jobFinished(String jobId) {
        return finishedJobs.contains(jobId);
    }

    void markJobFinished(String jobId) {
        finishedJobs.add(jobId);
    }

    /** Whether a cancel for {@code requestId} arrived before the request itself (consumes it). */
    synchronized boolean takeEarlyCancel(String requestId) {
        return earlyCancels.remove(requestId) != null;
    }

    /** Completes once every job result committed before this call has been read. */
    CompletableFuture<Void> catchUp() {
        CompletableFuture<Void> done = new CompletableFuture<>();
        catchUpRequests.add(done);
        consumer.wakeup();
        return done;
    }

    private void run() {
        try {
            while (running) {
                try {
                    for (ConsumerRecord<String, byte[]> record : consumer.poll(Duration.ofMillis(100))) {
                        if (record.topic().equals(topics.control())) {
                            onControl(record);
                        } else {
                            onResult(record);
                        }
                    }
                    serveCatchUps();
                } catch (WakeupException e) {
                    // a catch-up request or close; either can interrupt poll() or endOffsets()
                } catch (KafkaException e) {
                    // The broker is away or restarting: pending catch-ups wait, the thread keeps going.
                    log.atWarn().setMessage("side channel poll failed; retrying").addKeyValue("reason", e.getMessage()).log();
                    Thread.sleep(500);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            log.atError().setMessage("side channel consumer failed").setCause(e).log();
        } finally {
            consumer.close(Duration.ofSeconds(5));
        }
    }

    private void serveCatchUps() {
        for (CompletableFuture<Void> request; (request = catchUpRequests.poll()) != null; ) {
            Set<TopicPartition> results = new java.util.HashSet<>();
            for (TopicPartition partition : consumer.assignment()) {
                if (partition.topic().equals(topics.results())) {
                    results.add(partition);
                }
            }
            pendingCatchUps.add(new Pending(request, consumer.endOffsets(results)));
        }
        pendingCatchUps.removeIf(pending -> {
            for (Map.Entry<TopicPartition, Long> end : pending.ends().entrySet()) {
                if (consumer.position(end.getKey()) < end.getValue()) {
                    return false;
                }
            }
            pending.done().complete(null);
            return true;
        });
    }

    private void onControl(ConsumerRecord<String, byte[]> record) {
        ControlMessage message;
        try {
            message = Wire.decode(record.value(), ControlMessage.class);
        } catch (WireException e) {
            log.atWarn().setMessage("ignored an invalid control message").addKeyValue("offset", record.offset())
                    .addKeyValue("reason", e.getMessage()).log();
            return;
        }
        switch (message) {
            case ControlMessage.Cancel cancel -> {
                synchronized (this) {
                    long now = System.currentTimeMillis();
                    earlyCancels.values().removeIf(at -> at < now - EARLY_CANCEL_MS);
                    earlyCancels.put(cancel.requestId(), now);
                }
                handler.cancel(cancel.requestId(), cancel.reason());
            }
            case ControlMessage.Credit credit -> handler.credit(credit.requestId(), credit.events());
        }
    }

    private void onResult(ConsumerRecord<String, byte[]> record) {
        if (record.value() == null) {
            return;
        }
        try {
            JobStatus status = Wire.decode(record.value(), JobStatus.class);
            if (status.terminal()) {
                finishedJobs.add(status.jobId());
            }
        } catch (WireException e) {
            log.atWarn().setMessage("ignored an invalid job status").addKeyValue("offset", record.offset())
                    .addKeyValue("reason", e.getMessage()).log();
        }
    }

    @Override
    public void close() {
        running = false;
        consumer.wakeup();
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

package io.hyserve.worker;

import io.hyserve.schemas.JobStatus;
import io.hyserve.schemas.Topics;
import io.hyserve.schemas.Wire;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Publishes job results in Kafka transactions: the status on the results topic and, for a Kafka-native
 * caller, the same record on its reply topic, atomically. Readers with {@code read_committed} therefore see
 * a job's result on both or neither, which is what lets a worker that takes over a partition skip jobs that
 * are already finished. One thread; completions that queue up share one transaction.
 */
final class JobPublisher implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(JobPublisher.class);
    private static final int MAX_ATTEMPTS = 5;

    /** A result to publish; {@code published} runs after its transaction committed, {@code stillOwned} before. */
    record Outcome(JobStatus status, String replyTopic, Runnable published, java.util.function.BooleanSupplier stillOwned) {}

    private final Topics topics;
    private final KafkaProducer<String, byte[]> producer;
    private final LinkedBlockingQueue<Outcome> queue = new LinkedBlockingQueue<>();
    /** Held while a transaction is open: revoking partitions waits for it, so no result outlives its ownership. */
    final Object ownershipLock = new Object();
    private final Thread thread;
    private volatile boolean running = true;

    JobPublisher(Topics topics, Map<String, Object> kafka, String workerId) {
        this.topics = topics;
        Map<String, Object> props = new HashMap<>(kafka);
        props.put(ProducerConfig.CLIENT_ID_CONFIG, workerId + "-jobs");
        props.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, topics.prefix() + "-worker-" + workerId);
        props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        this.producer = new KafkaProducer<>(props, new StringSerializer(), new ByteArraySerializer());
        producer.initTransactions();
        this.thread = Thread.ofPlatform().name("hyserve-job-publisher").daemon().start(this::run);
    }

    void publish(Outcome outcome) {
        queue.add(outcome);
    }

    private void run() {
        List<Outcome> batch = new ArrayList<>();
        while (running || !queue.isEmpty()) {
            try {
                Outcome first = queue.poll(100, TimeUnit.MILLISECONDS);
                if (first == null) {
                    continue;
                }
                batch.add(first);
                queue.drainTo(batch);
                publishWithRetries(batch);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (ProducerFencedException e) {
                log.atError().setMessage("another worker uses this worker id; job results are no longer published")
                        .setCause(e).log();
                return;
            } finally {
                batch.clear();
            }
        }
    }

    private void publishWithRetries(List<Outcome> batch) throws InterruptedException {
        for (int attempt = 1; ; attempt++) {
            List<Outcome> committed = new ArrayList<>();
            synchronized (ownershipLock) {
                try {
                    producer.beginTransaction();
                    for (Outcome outcome : batch) {
                        if (!outcome.stillOwned().getAsBoolean()) {
                            continue; // its partition moved: the new owner re-runs it
                        }
                        byte[] value = Wire.encode(outcome.status());
                        producer.send(new ProducerRecord<>(topics.results(), outcome.status().jobId(), value));
                        if (outcome.replyTopic() != null && !outcome.replyTopic().equals(topics.results())) {
                            producer.send(new ProducerRecord<>(outcome.replyTopic(), outcome.status().jobId(), value));
                        }
                        committed.add(outcome);
                    }
                    producer.commitTransaction();
                } catch (ProducerFencedException e) {
                    throw e;
                } catch (KafkaException e) {
                    producer.abortTransaction();
                    if (attempt == MAX_ATTEMPTS) {
                        // Left unfinished: their offsets are not committed, so they run again after a restart.
                        log.atError().setMessage("could not publish job results").addKeyValue("jobs", batch.size())
                                .setCause(e).log();
                        return;
                    }
                    log.atWarn().setMessage("job result transaction failed; retrying").addKeyValue("attempt", attempt)
                            .addKeyValue("reason", e.getMessage()).log();
                    Thread.sleep(200L * attempt);
                    continue;
                }
            }
            committed.forEach(outcome -> outcome.published().run());
            return;
        }
    }

    @Override
    public void close() {
        running = false;
        try {
            thread.join(Duration.ofSeconds(10).toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        producer.close(Duration.ofSeconds(5));
    }
}

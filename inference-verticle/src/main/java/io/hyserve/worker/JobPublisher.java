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
    private static final long MAX_BACKOFF_MS = 5_000;

    /** A result to publish; {@code published} runs after its transaction committed, {@code stillOwned} before. */
    record Outcome(JobStatus status, String replyTopic, Runnable published, java.util.function.BooleanSupplier stillOwned) {}

    private final Topics topics;
    private final Map<String, Object> producerConfig;
    private KafkaProducer<String, byte[]> producer;
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
        this.producerConfig = props;
        this.producer = newProducer();
        this.thread = Thread.ofPlatform().name("hyserve-job-publisher").daemon().start(this::run);
    }

    /** A producer with its transactions initialised; a new one fences any transaction its predecessor left open. */
    private KafkaProducer<String, byte[]> newProducer() {
        KafkaProducer<String, byte[]> fresh = new KafkaProducer<>(producerConfig, new StringSerializer(),
                new ByteArraySerializer());
        try {
            fresh.initTransactions();
            return fresh;
        } catch (RuntimeException e) {
            fresh.close(Duration.ZERO);
            throw e;
        }
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

    /**
     * Retries until the transaction commits or the worker stops: a broker that is away comes back, and a job
     * whose result is never published would never be committed either. After a failure the producer is
     * replaced, since a transaction that failed midway can leave it unusable.
     */
    private void publishWithRetries(List<Outcome> batch) throws InterruptedException {
        long backoff = 100;
        while (true) {
            List<Outcome> committed = new ArrayList<>();
            try {
                if (producer == null) {
                    producer = newProducer();
                }
                synchronized (ownershipLock) {
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
                }
                committed.forEach(outcome -> outcome.published().run());
                return;
            } catch (ProducerFencedException e) {
                throw e;
            } catch (KafkaException e) {
                log.atWarn().setMessage("job result transaction failed; retrying with a new producer")
                        .addKeyValue("jobs", batch.size()).addKeyValue("reason", e.getMessage()).log();
                if (producer != null) {
                    producer.close(Duration.ZERO);
                    producer = null;
                }
                if (!running) {
                    // Stopping: the jobs stay uncommitted and run again elsewhere.
                    return;
                }
                Thread.sleep(backoff);
                backoff = Math.min(MAX_BACKOFF_MS, backoff * 2);
            }
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
        if (producer != null) {
            producer.close(Duration.ofSeconds(5));
        }
    }
}

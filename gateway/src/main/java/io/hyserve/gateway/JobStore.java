package io.hyserve.gateway;

import io.hyserve.schemas.JobStatus;
import io.hyserve.schemas.Wire;
import io.hyserve.schemas.WireException;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.kafka.client.common.TopicPartition;
import io.vertx.kafka.client.consumer.KafkaConsumer;
import io.vertx.kafka.client.consumer.KafkaConsumerRecord;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Every job's latest state, read from the whole results topic (committed transactions only), so any gateway
 * answers for any job. The first terminal state of a job is final: a duplicate result is ignored.
 */
final class JobStore {
    private static final Logger log = LoggerFactory.getLogger(JobStore.class);

    private final Map<String, JobStatus> jobs = new HashMap<>();
    private final KafkaConsumer<String, byte[]> consumer;
    private long duplicates;

    JobStore(Vertx vertx, Map<String, String> kafka) {
        Map<String, String> props = new HashMap<>(kafka);
        props.put("enable.auto.commit", "false");
        props.put("isolation.level", "read_committed");
        props.put("auto.offset.reset", "earliest");
        this.consumer = KafkaConsumer.create(vertx, props, new StringDeserializer(), new ByteArrayDeserializer());
        consumer.handler(this::onRecord);
    }

    Future<Void> start(String resultsTopic) {
        return consumer.partitionsFor(resultsTopic).compose(infos -> {
            Set<TopicPartition> partitions = infos.stream()
                    .map(info -> new TopicPartition(resultsTopic, info.getPartition())).collect(Collectors.toSet());
            return consumer.assign(partitions).compose(v -> consumer.seekToBeginning(partitions));
        });
    }

    private void onRecord(KafkaConsumerRecord<String, byte[]> record) {
        if (record.value() == null) {
            return;
        }
        JobStatus status;
        try {
            status = Wire.decode(record.value(), JobStatus.class);
        } catch (WireException e) {
            log.atWarn().setMessage("ignored an invalid job status").addKeyValue("offset", record.offset())
                    .addKeyValue("reason", e.getMessage()).log();
            return;
        }
        JobStatus known = jobs.get(status.jobId());
        if (known != null && known.terminal()) {
            if (status.terminal()) {
                duplicates++;
            }
            return;
        }
        jobs.put(status.jobId(), status);
    }

    JobStatus get(String jobId) {
        return jobs.get(jobId);
    }

    /** Terminal results seen again for a job already finished (none, unless deduplication upstream failed). */
    long duplicates() {
        return duplicates;
    }

    Future<Void> close() {
        return consumer.close();
    }
}

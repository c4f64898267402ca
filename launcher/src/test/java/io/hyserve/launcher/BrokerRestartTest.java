package io.hyserve.launcher;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.hyserve.schemas.InferenceRequest;
import io.hyserve.schemas.JobStatus;
import io.hyserve.schemas.Wire;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The broker stops (its data folder kept) and starts again while 1,000 jobs and some streams are in flight:
 * every job completes exactly once, and every stream either completes or ends with an error in time.
 */
class BrokerRestartTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int JOBS = 1000;

    @TempDir
    Path data;

    @Test
    void aBrokerRestartLosesNoJobAndHangsNoStream() throws Exception {
        Path kafkaData = data.resolve("kafka");
        EmbeddedKafka broker = EmbeddedKafka.start(kafkaData, 0, 0);
        int port = broker.port();
        int controllerPort = broker.controllerPort();
        ServeSettings settings = ServePipelineTest.settings(data.resolve("serve"));
        settings.kafkaBootstrap = broker.bootstrapServers();
        settings.requestTimeout = Duration.ofSeconds(90);
        try (ServeSystem system = ServeSystem.start(settings)) {
            ServePipelineTest.awaitReady(system);
            Map<String, Object> kafka = Map.of("bootstrap.servers", broker.bootstrapServers());
            List<CompletableFuture<HttpResponse<String>>> streams = new ArrayList<>();
            try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(kafka, new StringSerializer(),
                    new ByteArraySerializer())) {
                for (int i = 0; i < JOBS / 2; i++) {
                    send(producer, i);
                }
                producer.flush();
                for (int i = 0; i < 8; i++) {
                    streams.add(ServePipelineTest.http.sendAsync(HttpRequest.newBuilder(
                            URI.create("http://127.0.0.1:" + system.port() + "/v1/completions"))
                            .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(
                                    JSON.createObjectNode().put("model", ServePipelineTest.MODEL).put("prompt", "stream " + i)
                                            .put("max_tokens", 400).put("ignore_eos", true).put("stream", true).toString()))
                            .build(), HttpResponse.BodyHandlers.ofString()));
                }
                Thread.sleep(1000);
                broker.close();
                // The second half is sent while the broker is away: the producer blocks until it is back.
                Thread sender = Thread.ofPlatform().start(() -> {
                    for (int i = JOBS / 2; i < JOBS; i++) {
                        send(producer, i);
                    }
                });
                Thread.sleep(3000);
                broker = EmbeddedKafka.start(kafkaData, port, controllerPort);
                sender.join();
                producer.flush();
            }

            long started = System.nanoTime();
            for (CompletableFuture<HttpResponse<String>> stream : streams) {
                HttpResponse<String> response = stream.get();
                List<String> chunks = ServePipelineTest.sse(response.body());
                assertThat(chunks.getLast()).isEqualTo("[DONE]");
                String last = chunks.get(chunks.size() - 2);
                assertThat(last).satisfiesAnyOf(
                        chunk -> assertThat(JSON.readTree(chunk).has("error")).isTrue(),
                        chunk -> assertThat(JSON.readTree(chunk).get("choices").get(0).get("finish_reason").asText())
                                .isEqualTo("length"));
            }
            assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(settings.requestTimeout.plusSeconds(5));

            Map<String, Integer> results = new HashMap<>();
            Map<String, Object> readCommitted = new HashMap<>(kafka);
            readCommitted.put("isolation.level", "read_committed");
            try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(readCommitted, new StringDeserializer(),
                    new ByteArrayDeserializer())) {
                List<TopicPartition> partitions = new ArrayList<>();
                consumer.partitionsFor("hyserve.results").forEach(p -> partitions.add(new TopicPartition(p.topic(), p.partition())));
                consumer.assign(partitions);
                consumer.seekToBeginning(partitions);
                long deadline = System.nanoTime() + Duration.ofMinutes(4).toNanos();
                int quietPolls = 0;
                while ((results.size() < JOBS || quietPolls < 10) && System.nanoTime() < deadline) {
                    int before = results.values().stream().mapToInt(Integer::intValue).sum();
                    for (ConsumerRecord<String, byte[]> record : consumer.poll(Duration.ofMillis(200))) {
                        JobStatus status = Wire.decode(record.value(), JobStatus.class);
                        if (status.terminal()) {
                            assertThat(status.status()).isEqualTo(JobStatus.State.COMPLETED);
                            results.merge(status.jobId(), 1, Integer::sum);
                        }
                    }
                    int after = results.values().stream().mapToInt(Integer::intValue).sum();
                    quietPolls = results.size() >= JOBS && after == before ? quietPolls + 1 : 0;
                }
            }
            assertThat(results).hasSize(JOBS);
            assertThat(results.values()).containsOnly(1);
        } finally {
            broker.close();
        }
    }

    private static void send(KafkaProducer<String, byte[]> producer, int i) {
        String id = "restart-job-" + i;
        InferenceRequest request = new InferenceRequest(1, id, InferenceRequest.Kind.JOB, id, null,
                InferenceRequest.PromptInput.ofText("Job " + i), new InferenceRequest.Sampling(0.0, null, null, null,
                        null, null, null, null, 8, null, null, true, null, null, null), null, null, null, null, null);
        producer.send(new ProducerRecord<>("hyserve.requests", id, Wire.encode(request)));
    }
}

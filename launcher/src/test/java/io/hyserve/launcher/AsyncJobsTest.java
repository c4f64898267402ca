package io.hyserve.launcher;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.hyserve.schemas.InferenceRequest;
import io.hyserve.schemas.JobStatus;
import io.hyserve.schemas.Wire;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
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

/** Async jobs over HTTP and straight through Kafka, with one of two workers stopped mid-run. */
class AsyncJobsTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String REPLIES = "test.job-replies";
    private static final int JOBS_PER_PATH = 250;

    @TempDir
    Path data;

    @Test
    void fiveHundredJobsCompleteExactlyOnceWhileAWorkerStops() throws Exception {
        ServeSettings first = ServePipelineTest.settings(data.resolve("a"));
        first.instanceId = "worker-a";
        // Few slots and a small waiting room, so the workers pause and the backlog shows as consumer lag.
        first.engineConfig = fewSlots(first);
        first.maxWaiting = 8;
        try (ServeSystem a = ServeSystem.start(first)) {
            ServeSettings second = ServePipelineTest.settings(data.resolve("b"));
            second.role = ServeSettings.Role.WORKER;
            second.kafkaBootstrap = a.bootstrapServers();
            second.instanceId = "worker-b";
            second.engineConfig = fewSlots(second);
            second.maxWaiting = 8;
            ServeSystem b = ServeSystem.start(second);
            HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
            URI base = URI.create("http://127.0.0.1:" + a.port());
            ServePipelineTest.awaitReady(a);
            awaitAssigned(b);
            assertThat(ServePipelineTest.get(b, "/health/ready").statusCode()).isEqualTo(200);
            assertThat(ServePipelineTest.get(b, "/health/live").statusCode()).isEqualTo(200);
            HttpResponse<String> workerMetrics = ServePipelineTest.get(b, "/metrics");
            assertThat(workerMetrics.statusCode()).isEqualTo(200);
            assertThat(workerMetrics.body()).contains("hunyuan:num_requests_running", "hunyuan:kv_cache_usage_perc",
                    "hunyuan:kafka_consumer_lag").doesNotContain("hunyuan:gateway_active_streams");

            Map<String, Object> kafka = Map.of("bootstrap.servers", a.bootstrapServers());
            try (Admin admin = Admin.create(kafka)) {
                admin.createTopics(List.of(new NewTopic(REPLIES, 2, (short) 1))).all().get();
            }
            List<String> httpJobs = new ArrayList<>();
            List<CompletableFuture<HttpResponse<String>>> submitted = new ArrayList<>();
            try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(kafka, new StringSerializer(),
                    new ByteArraySerializer())) {
                for (int i = 0; i < JOBS_PER_PATH; i++) {
                    String httpId = "http-job-" + i;
                    httpJobs.add(httpId);
                    String body = JSON.createObjectNode().put("type", "completion").put("job_id", httpId)
                            .set("request", JSON.createObjectNode().put("model", ServePipelineTest.MODEL)
                                    .put("prompt", "Job " + i).put("max_tokens", 24).put("temperature", 0)
                                    .put("ignore_eos", true)).toString();
                    submitted.add(http.sendAsync(HttpRequest.newBuilder(base.resolve("/v1/jobs"))
                            .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body))
                            .build(), HttpResponse.BodyHandlers.ofString()));
                    String kafkaId = "kafka-job-" + i;
                    InferenceRequest request = new InferenceRequest(1, kafkaId, InferenceRequest.Kind.JOB, kafkaId, null,
                            InferenceRequest.PromptInput.ofText("Job " + i), new InferenceRequest.Sampling(0.0, null,
                                    null, null, null, null, null, null, 24, null, null, true, null, null, null),
                            new InferenceRequest.ReplyTo(REPLIES), null, null, null, null);
                    producer.send(new ProducerRecord<>("hyserve.requests", kafkaId, Wire.encode(request)));
                }
            }
            for (CompletableFuture<HttpResponse<String>> response : submitted) {
                assertThat(response.get().statusCode()).isEqualTo(202);
            }

            Map<String, Integer> terminalPerJob = new HashMap<>();
            Map<String, String> workerPerJob = new HashMap<>();
            Map<String, Integer> repliesPerJob = new HashMap<>();
            Map<String, Object> readCommitted = new HashMap<>(kafka);
            readCommitted.put("isolation.level", "read_committed");
            double mostLag = 0;
            try (KafkaConsumer<String, byte[]> results = new KafkaConsumer<>(readCommitted, new StringDeserializer(),
                    new ByteArrayDeserializer())) {
                List<TopicPartition> partitions = new ArrayList<>();
                results.partitionsFor("hyserve.results").forEach(p -> partitions.add(new TopicPartition(p.topic(), p.partition())));
                results.partitionsFor(REPLIES).forEach(p -> partitions.add(new TopicPartition(p.topic(), p.partition())));
                results.assign(partitions);
                results.seekToBeginning(partitions);
                boolean bStopped = false;
                CompletableFuture<HttpResponse<String>> drain = null;
                long lagSampledAt = 0;
                long deadline = System.nanoTime() + Duration.ofMinutes(3).toNanos();
                while ((terminalPerJob.size() < 2 * JOBS_PER_PATH || repliesPerJob.size() < JOBS_PER_PATH)
                        && System.nanoTime() < deadline) {
                    if (System.nanoTime() - lagSampledAt > 500_000_000L) {
                        mostLag = Math.max(mostLag, consumerLag(a));
                        lagSampledAt = System.nanoTime();
                    }
                    for (ConsumerRecord<String, byte[]> record : results.poll(Duration.ofMillis(50))) {
                        JobStatus status = Wire.decode(record.value(), JobStatus.class);
                        if (record.topic().equals(REPLIES)) {
                            repliesPerJob.merge(status.jobId(), 1, Integer::sum);
                        } else if (status.terminal()) {
                            assertThat(status.status()).isEqualTo(JobStatus.State.COMPLETED);
                            terminalPerJob.merge(status.jobId(), 1, Integer::sum);
                            workerPerJob.put(status.jobId(), status.workerId());
                        }
                    }
                    // Drain worker b as a pod's preStop hook does, once it has finished some jobs and holds
                    // others: what it does not finish within its grace period goes back uncommitted.
                    if (drain == null && workerPerJob.containsValue("worker-b") && b.worker().inFlight() > 0) {
                        drain = http.sendAsync(HttpRequest.newBuilder(URI.create("http://127.0.0.1:%d/admin/drain"
                                .formatted(b.port()))).build(), HttpResponse.BodyHandlers.ofString());
                    }
                    if (!bStopped && drain != null && drain.isDone()) {
                        assertThat(drain.get().statusCode()).as(drain.get().body()).isEqualTo(200);
                        assertThat(ServePipelineTest.get(b, "/health/ready").statusCode()).isEqualTo(503);
                        // Drained but not stopped: not live, so a pod that someone else drained gets restarted.
                        assertThat(ServePipelineTest.get(b, "/health/live").statusCode()).isEqualTo(503);
                        b.close();
                        bStopped = true;
                    }
                }
                assertThat(bStopped).as("worker b was drained and stopped while it held jobs").isTrue();
                // Anything published late would show up as a second result.
                for (int i = 0; i < 5; i++) {
                    for (ConsumerRecord<String, byte[]> record : results.poll(Duration.ofMillis(200))) {
                        JobStatus status = Wire.decode(record.value(), JobStatus.class);
                        (record.topic().equals(REPLIES) ? repliesPerJob : terminalPerJob).merge(status.jobId(),
                                status.terminal() ? 1 : 0, Integer::sum);
                    }
                }
            }
            System.out.printf("worker a: consumer lag up to %.0f requests while paused%n", mostLag);
            assertThat(mostLag).as("requests waiting on worker a's partitions while it was paused").isGreaterThan(50);
            long lagDeadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (consumerLag(a) > 0 && System.nanoTime() < lagDeadline) {
                Thread.sleep(200);
            }
            assertThat(consumerLag(a)).as("consumer lag once every job is done").isZero();
            assertThat(terminalPerJob).hasSize(2 * JOBS_PER_PATH);
            assertThat(terminalPerJob.values()).containsOnly(1);
            assertThat(repliesPerJob).hasSize(JOBS_PER_PATH);
            assertThat(repliesPerJob.values()).containsOnly(1);
            assertThat(workerPerJob.values()).contains("worker-a", "worker-b");

            // Over HTTP: every job reads as completed with its text, and a resubmitted id is not run again.
            for (String id : httpJobs) {
                JsonNode job = JSON.readTree(http.send(HttpRequest.newBuilder(base.resolve("/v1/jobs/" + id)).build(),
                        HttpResponse.BodyHandlers.ofString()).body());
                assertThat(job.get("status").asText()).as(id).isEqualTo("completed");
                assertThat(job.get("result").get("usage").get("completion_tokens").asInt()).isEqualTo(24);
            }
            assertThat(a.gateway().duplicateJobResults()).isZero();
        }
    }

    private static io.hyserve.engine.EngineConfig fewSlots(ServeSettings settings) {
        return io.hyserve.engine.EngineConfig.builder(settings.modelDirectory, settings.tokenizerDirectory)
                .kvCacheBytes(64L << 20).maxNumSeqs(16).build();
    }

    private static double consumerLag(ServeSystem system) throws Exception {
        String metrics = ServePipelineTest.get(system, "/metrics").body();
        return metrics.lines().filter(line -> line.startsWith("hunyuan:kafka_consumer_lag "))
                .mapToDouble(line -> Double.parseDouble(line.substring(line.indexOf(' ') + 1))).findFirst()
                .orElseThrow(() -> new AssertionError("no hunyuan:kafka_consumer_lag in\n" + metrics));
    }

    private static void awaitAssigned(ServeSystem worker) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!worker.worker().ready() && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertThat(worker.worker().ready()).isTrue();
    }
}

package io.hyserve.launcher;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.hyserve.worker.InferenceWorker;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.LongDeserializer;
import org.apache.kafka.common.serialization.LongSerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code bench-serve}: what the gateway + Kafka hop adds per token, and what a stalled client does to the
 * others, measured in one all-in-one process so the worker's send and the client's receipt share one clock.
 */
@Command(name = "bench-serve", mixinStandardHelpOptions = true,
        description = {"Per-token latency of the gateway + Kafka hop at several stream counts, and other streams'",
            "inter-token latency with and without a client that reads one byte per 100 ms."})
final class ServeBenchCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Spec
    CommandSpec spec;

    @Mixin
    EngineOptions engine;

    @Option(names = "--streams", defaultValue = "1,50,200", split = ",", description = "Concurrent streams per run (default: ${DEFAULT-VALUE})")
    List<Integer> streams;

    @Option(names = "--tokens", defaultValue = "64", description = "Tokens per stream (default: ${DEFAULT-VALUE})")
    int tokens;

    @Option(names = "--slow-client-streams", defaultValue = "50",
            description = "Streams measured beside the slow client (default: ${DEFAULT-VALUE})")
    int slowClientStreams;

    /** Per token: when the worker handed it to Kafka, keyed by request id and event sequence number. */
    private final Map<String, Long> sentAt = new ConcurrentHashMap<>();

    @Override
    public Integer call() throws Exception {
        Path data = Files.createTempDirectory("hunyuan-bench-serve");
        ServeSettings settings = new ServeSettings();
        settings.dataDir = data;
        settings.port = 0;
        settings.modelDirectory = engine.modelDirectory();
        settings.tokenizerDirectory = engine.tokenizerDirectory();
        settings.engineConfig = engine.engineConfig();
        settings.sendBufferBytes = 4096;
        settings.streamCredit = 16;
        PrintWriter out = spec.commandLine().getOut();
        try (ServeSystem system = ServeSystem.start(settings)) {
            system.worker().onDelivery((InferenceWorker.Delivery d) -> sentAt.put(d.requestId() + "#" + d.seq(), d.nanoTime()));
            awaitReady(system);
            run(system, 4, 8); // warm-up: JIT, connections, topic metadata
            double[] kafkaAlone = kafkaRoundTrips(system.bootstrapServers(), 2000);
            out.printf("Kafka alone, same broker (produce -> consume, one record every 2 ms): p50 %.3f ms, p99 %.3f ms%n%n",
                    percentile(kafkaAlone, 50), percentile(kafkaAlone, 99));
            out.printf("gateway + Kafka hop per token (worker hands the token to Kafka -> client has its bytes)%n");
            out.printf("%8s  %8s  %9s  %9s  %9s  %12s%n", "streams", "tokens", "p50 ms", "p99 ms", "max ms", "tokens/s");
            for (int count : streams) {
                Result r = run(system, count, tokens);
                out.printf("%8d  %8d  %9.3f  %9.3f  %9.3f  %12.1f%n", count, r.hops.length, percentile(r.hops, 50),
                        percentile(r.hops, 99), percentile(r.hops, 100), r.hops.length / r.seconds);
            }
            out.printf("%ninter-token latency of %d streams (client receive times)%n", slowClientStreams);
            out.printf("%-22s  %9s  %9s  %9s%n", "", "p50 ms", "p99 ms", "max ms");
            Result alone = run(system, slowClientStreams, tokens);
            out.printf("%-22s  %9.3f  %9.3f  %9.3f%n", "without slow client", percentile(alone.gaps, 50),
                    percentile(alone.gaps, 99), percentile(alone.gaps, 100));
            AtomicBoolean stop = new AtomicBoolean();
            Thread slow = startSlowClient(system.port(), stop);
            Thread.sleep(2000); // let it stall
            Result beside = run(system, slowClientStreams, tokens);
            stop.set(true);
            slow.join(5000);
            out.printf("%-22s  %9.3f  %9.3f  %9.3f%n", "with slow client", percentile(beside.gaps, 50),
                    percentile(beside.gaps, 99), percentile(beside.gaps, 100));
            out.printf("%nslow-client cancellations: %d; gateway queue high water: %d events (credit %d)%n",
                    system.gateway().stats().slowClientCancellations(), system.gateway().stats().queuedHighWater(),
                    settings.streamCredit);
        }
        return 0;
    }

    private record Result(double[] hops, double[] gaps, double seconds) {}

    private Result run(ServeSystem system, int count, int maxTokens) throws Exception {
        List<double[]> hops = new ArrayList<>();
        List<double[]> gaps = new ArrayList<>();
        CountDownLatch done = new CountDownLatch(count);
        long start = System.nanoTime();
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            int index = i;
            threads.add(Thread.ofPlatform().daemon().start(() -> {
                try {
                    double[][] r = stream(system.port(), "Stream " + index + " of a benchmark", maxTokens);
                    synchronized (hops) {
                        hops.add(r[0]);
                        gaps.add(r[1]);
                    }
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                } finally {
                    done.countDown();
                }
            }));
        }
        done.await();
        double seconds = (System.nanoTime() - start) / 1e9;
        return new Result(flatten(hops), flatten(gaps), seconds);
    }

    /** One SSE stream over a plain socket: per token, the hop latency and the gap since the previous token. */
    private double[][] stream(int port, String prompt, int maxTokens) throws Exception {
        String body = JSON.createObjectNode().put("prompt", prompt).put("max_tokens", maxTokens).put("temperature", 0)
                .put("ignore_eos", true).put("logprobs", 0).put("stream", true).put("model", modelName()).toString();
        try (Socket socket = new Socket()) {
            socket.setTcpNoDelay(true);
            socket.connect(new InetSocketAddress("127.0.0.1", port));
            OutputStream out = socket.getOutputStream();
            byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
            out.write(("POST /v1/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                    + "Connection: close\r\nContent-Length: " + bytes.length + "\r\n\r\n").getBytes(StandardCharsets.UTF_8));
            out.write(bytes);
            out.flush();
            BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
            List<Double> hops = new ArrayList<>();
            List<Double> gaps = new ArrayList<>();
            long previous = -1;
            long seq = 1; // event 0 is "started"; every token chunk carries logprobs, so none is skipped
            for (String line; (line = in.readLine()) != null; ) {
                if (!line.startsWith("data: {")) {
                    continue;
                }
                long now = System.nanoTime();
                JsonNode chunk = JSON.readTree(line.substring(6));
                JsonNode choice = chunk.path("choices").path(0);
                if (choice.isMissingNode() || !choice.path("finish_reason").isNull()) {
                    continue;
                }
                Long sent = sentAt.remove(chunk.get("id").asText() + "-0#" + seq++);
                if (sent != null) {
                    hops.add((now - sent) / 1e6);
                }
                if (previous >= 0) {
                    gaps.add((now - previous) / 1e6);
                }
                previous = now;
            }
            return new double[][] {hops.stream().mapToDouble(Double::doubleValue).toArray(),
                gaps.stream().mapToDouble(Double::doubleValue).toArray()};
        }
    }

    private String modelName() {
        Path name = engine.modelDirectory().toAbsolutePath().normalize().getFileName();
        return name == null ? "hunyuan" : name.toString();
    }

    private Thread startSlowClient(int port, AtomicBoolean stop) {
        return Thread.ofPlatform().daemon().start(() -> {
            String body = JSON.createObjectNode().put("model", modelName()).put("prompt", "slow").put("max_tokens", 4000)
                    .put("ignore_eos", true).put("stream", true).toString();
            try (Socket socket = new Socket()) {
                socket.setReceiveBufferSize(1024);
                socket.connect(new InetSocketAddress("127.0.0.1", port));
                socket.getOutputStream().write(("POST /v1/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: "
                        + "application/json\r\nContent-Length: " + body.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n"
                        + body).getBytes(StandardCharsets.UTF_8));
                InputStream in = socket.getInputStream();
                while (!stop.get() && in.read() >= 0) {
                    Thread.sleep(100);
                }
            } catch (Exception e) {
                // the bench is over or the server cancelled it
            }
        });
    }

    /** The floor under the hop: one record at a time through the same broker, with the pipeline's settings. */
    private static double[] kafkaRoundTrips(String bootstrap, int count) throws Exception {
        String topic = "bench.kafka-alone." + System.nanoTime();
        Map<String, Object> config = Map.of("bootstrap.servers", bootstrap);
        try (Admin admin = Admin.create(config)) {
            admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all().get();
        }
        Map<String, Object> producerConfig = new java.util.HashMap<>(config);
        producerConfig.put("linger.ms", 0);
        Map<String, Object> consumerConfig = new java.util.HashMap<>(config);
        consumerConfig.put("fetch.max.wait.ms", 5);
        double[] latencies = new double[count];
        try (KafkaProducer<String, Long> producer = new KafkaProducer<>(producerConfig, new StringSerializer(),
                new LongSerializer());
                KafkaConsumer<String, Long> consumer = new KafkaConsumer<>(consumerConfig, new StringDeserializer(),
                        new LongDeserializer())) {
            TopicPartition partition = new TopicPartition(topic, 0);
            consumer.assign(List.of(partition));
            consumer.seekToEnd(List.of(partition));
            consumer.position(partition);
            Thread sender = Thread.ofPlatform().start(() -> {
                try {
                    for (int i = 0; i < count; i++) {
                        producer.send(new ProducerRecord<>(topic, "k", System.nanoTime()));
                        Thread.sleep(2);
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            int received = 0;
            while (received < count) {
                for (ConsumerRecord<String, Long> record : consumer.poll(Duration.ofMillis(100))) {
                    latencies[received++] = (System.nanoTime() - record.value()) / 1e6;
                }
            }
            sender.join();
        }
        return latencies;
    }

    private static void awaitReady(ServeSystem system) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
        while (!system.gateway().ready() && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        if (!system.gateway().ready()) {
            throw new IllegalStateException("the system did not become ready");
        }
    }

    private static double[] flatten(List<double[]> parts) {
        return parts.stream().flatMapToDouble(Arrays::stream).toArray();
    }

    private static double percentile(double[] values, double p) {
        if (values.length == 0) {
            return Double.NaN;
        }
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        int index = (int) Math.ceil(p / 100 * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, index))];
    }
}

package io.hyserve.launcher;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import kafka.server.KafkaConfig;
import kafka.server.KafkaRaftServer;
import kafka.tools.StorageTool;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.utils.Time;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A single-node Kafka broker in KRaft mode (broker and controller in one), inside this JVM. Its data folder
 * survives a restart, so jobs and offsets do too.
 */
public final class EmbeddedKafka implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(EmbeddedKafka.class);
    /** Kafka's default log-cleaner buffer is 128 MiB of heap; compaction of our small topics needs little. */
    private static final String CLEANER_BUFFER_BYTES = Integer.toString(2 << 20);

    private final KafkaRaftServer server;
    private final int port;
    private final int controllerPort;
    private final Path dataDir;

    private EmbeddedKafka(KafkaRaftServer server, int port, int controllerPort, Path dataDir) {
        this.server = server;
        this.port = port;
        this.controllerPort = controllerPort;
        this.dataDir = dataDir;
    }

    /**
     * Formats {@code dataDir} if it is new and starts the broker.
     *
     * @param port the client port, 0 for any free one
     * @param controllerPort the KRaft controller port, 0 for any free one
     */
    public static EmbeddedKafka start(Path dataDir, int port, int controllerPort) throws IOException {
        return start(dataDir, port, controllerPort, Map.of());
    }

    /**
     * As {@link #start(Path, int, int)}, with broker settings added to or replacing the defaults (a SASL listener
     * beside the plain one, say). The plain listener on {@code port} must remain: readiness is checked there.
     */
    static EmbeddedKafka start(Path dataDir, int port, int controllerPort, Map<String, String> brokerSettings)
            throws IOException {
        Files.createDirectories(dataDir);
        int brokerPort = port > 0 ? port : freePort();
        int quorumPort = controllerPort > 0 ? controllerPort : freePort();
        Properties props = new Properties();
        props.putAll(Map.ofEntries(
                Map.entry("process.roles", "broker,controller"),
                Map.entry("node.id", "1"),
                Map.entry("controller.quorum.voters", "1@127.0.0.1:" + quorumPort),
                Map.entry("listeners", "PLAINTEXT://127.0.0.1:%d,CONTROLLER://127.0.0.1:%d".formatted(brokerPort, quorumPort)),
                Map.entry("advertised.listeners", "PLAINTEXT://127.0.0.1:" + brokerPort),
                Map.entry("controller.listener.names", "CONTROLLER"),
                Map.entry("inter.broker.listener.name", "PLAINTEXT"),
                Map.entry("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"),
                Map.entry("log.dirs", dataDir.resolve("logs").toString()),
                Map.entry("offsets.topic.replication.factor", "1"),
                Map.entry("offsets.topic.num.partitions", "1"),
                Map.entry("transaction.state.log.replication.factor", "1"),
                Map.entry("transaction.state.log.min.isr", "1"),
                Map.entry("transaction.state.log.num.partitions", "1"),
                Map.entry("share.coordinator.state.topic.replication.factor", "1"),
                Map.entry("share.coordinator.state.topic.min.isr", "1"),
                Map.entry("group.initial.rebalance.delay.ms", "0"),
                Map.entry("log.cleaner.dedupe.buffer.size", CLEANER_BUFFER_BYTES)));
        props.putAll(brokerSettings);
        Path file = dataDir.resolve("server.properties");
        try (OutputStream out = Files.newOutputStream(file)) {
            props.store(out, "embedded KRaft broker of hunyuan-serve");
        }
        ByteArrayOutputStream formatLog = new ByteArrayOutputStream();
        // The folder keeps its cluster id: a restart must present the id the data was formatted with.
        Path idFile = dataDir.resolve("cluster.id");
        if (!Files.exists(idFile)) {
            Files.writeString(idFile, Uuid.randomUuid().toString());
        }
        String clusterId = Files.readString(idFile).strip();
        int formatted = StorageTool.execute(new String[] {"format", "-t", clusterId, "-c",
                file.toString(), "--ignore-formatted"}, new PrintStream(formatLog, true, StandardCharsets.UTF_8));
        if (formatted != 0) {
            throw new IOException("cannot format the Kafka data folder %s: %s".formatted(dataDir,
                    formatLog.toString(StandardCharsets.UTF_8)));
        }
        KafkaRaftServer server = new KafkaRaftServer(KafkaConfig.fromProps(props, false), Time.SYSTEM);
        server.startup();
        EmbeddedKafka kafka = new EmbeddedKafka(server, brokerPort, quorumPort, dataDir);
        kafka.awaitReady();
        log.atInfo().setMessage("embedded Kafka broker ready").addKeyValue("bootstrap", kafka.bootstrapServers())
                .addKeyValue("dataDir", dataDir).log();
        return kafka;
    }

    private void awaitReady() throws IOException {
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", bootstrapServers()))) {
            admin.describeCluster().nodes().get(60, TimeUnit.SECONDS);
        } catch (Exception e) {
            close();
            throw new IOException("the embedded Kafka broker did not start: " + e.getMessage(), e);
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }

    public String bootstrapServers() {
        return "127.0.0.1:" + port;
    }

    public int port() {
        return port;
    }

    public int controllerPort() {
        return controllerPort;
    }

    public Path dataDir() {
        return dataDir;
    }

    @Override
    public void close() {
        server.shutdown();
        server.awaitShutdown();
    }
}

package io.hyserve.launcher;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * Kafka client security settings reach every client of both roles: against a broker whose only client listener
 * the services may use requires SASL, {@code serve --kafka-config} with the right credentials serves a
 * completion, and with a wrong password it refuses to start with the broker's reason.
 */
class KafkaSaslTest {
    private static final String JAAS = "org.apache.kafka.common.security.plain.PlainLoginModule required ";

    @TempDir
    Path data;

    @Test
    void saslSettingsFromAConfigFileReachGatewayAndWorker() throws Exception {
        int plainPort = freePort();
        int controllerPort = freePort();
        int saslPort = freePort();
        try (EmbeddedKafka broker = EmbeddedKafka.start(data.resolve("kafka"), plainPort, controllerPort, Map.of(
                "listeners", "PLAINTEXT://127.0.0.1:%d,CONTROLLER://127.0.0.1:%d,SECURE://127.0.0.1:%d"
                        .formatted(plainPort, controllerPort, saslPort),
                "advertised.listeners", "PLAINTEXT://127.0.0.1:%d,SECURE://127.0.0.1:%d".formatted(plainPort, saslPort),
                "listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SECURE:SASL_PLAINTEXT",
                "sasl.enabled.mechanisms", "PLAIN",
                "listener.name.secure.plain.sasl.jaas.config", JAAS + "user_serve=\"s3cret\";"))) {
            String secure = "127.0.0.1:" + saslPort;

            ServeSettings settings = settings(secure, clientConfig("s3cret"));
            try (ServeSystem system = ServeSystem.start(settings)) {
                ServePipelineTest.awaitReady(system);
                HttpResponse<String> response = ServePipelineTest.http.send(HttpRequest.newBuilder(
                                URI.create("http://127.0.0.1:%d/v1/completions".formatted(system.port())))
                        .header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"" + ServePipelineTest.MODEL
                                + "\",\"prompt\":\"secure\",\"max_tokens\":3,\"temperature\":0,\"ignore_eos\":true}"))
                        .build(), HttpResponse.BodyHandlers.ofString());
                assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
                assertThat(ServePipelineTest.JSON.readTree(response.body()).get("usage").get("completion_tokens")
                        .asInt()).isEqualTo(3);
            }

            assertThatThrownBy(() -> ServeSystem.start(settings(secure, clientConfig("wrong")))).hasStackTraceContaining(
                    "Authentication failed");
        }
    }

    /** The settings {@code serve} builds from its command line, as an operator would write it. */
    private ServeSettings settings(String bootstrap, Path kafkaConfig) throws IOException {
        ServeCommand command = new ServeCommand();
        new CommandLine(command).parseArgs("--kafka", bootstrap, "--kafka-config", kafkaConfig.toString(),
                "--port", "0", "--threads", "1", "--kv-cache-bytes", String.valueOf(64L << 20));
        return command.settings();
    }

    private Path clientConfig(String password) throws IOException {
        Path file = Files.createTempFile(data, "kafka-client", ".properties");
        Files.writeString(file, """
                security.protocol=SASL_PLAINTEXT
                sasl.mechanism=PLAIN
                sasl.jaas.config=%susername="serve" password="%s";
                """.formatted(JAAS, password));
        return file;
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }
}

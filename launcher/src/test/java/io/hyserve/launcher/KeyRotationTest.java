package io.hyserve.launcher;

import static org.assertj.core.api.Assertions.assertThat;

import io.hyserve.gateway.ApiKeys;
import io.hyserve.gateway.GatewayConfig;
import io.hyserve.gateway.RateLimits;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Keys rotate without a restart: the gateway re-reads its keys file when it changes (as Kubernetes updates a
 * mounted Secret), and a file left without a valid key keeps the keys in force rather than opening the API.
 */
class KeyRotationTest {
    private static final String OLD = "sk-old-0123456789abcdef";
    private static final String NEW = "sk-new-0123456789abcdef";

    @TempDir
    Path data;

    @Test
    void aChangedKeysFileTakesEffectWhileServing() throws Exception {
        Path keys = data.resolve("api-keys");
        write(keys, "team:" + OLD + "\n", 0);
        ServeSettings settings = ServePipelineTest.settings(data.resolve("serve"));
        settings.security = new GatewayConfig.Security(ApiKeys.load(keys, List.of()), RateLimits.unlimited(), List.of(),
                null, null);
        try (ServeSystem system = ServeSystem.start(settings)) {
            ServePipelineTest.awaitReady(system);
            assertThat(status(system, OLD)).isEqualTo(200);
            assertThat(status(system, NEW)).isEqualTo(401);

            write(keys, "team:" + NEW + "\n", 10);
            awaitStatus(system, OLD, 401);
            assertThat(status(system, NEW)).isEqualTo(200);

            // A file emptied or broken mid-rotation keeps the keys in force.
            write(keys, "\n", 20);
            Thread.sleep(5_000);
            assertThat(status(system, NEW)).isEqualTo(200);
            assertThat(status(system, null)).isEqualTo(401);
        }
    }

    /** Writes the file with a modification time {@code seconds} later than now, as a Secret update would. */
    private static void write(Path file, String content, int seconds) throws Exception {
        Files.writeString(file, content);
        Files.setLastModifiedTime(file, FileTime.from(Instant.now().plusSeconds(seconds)));
    }

    private static void awaitStatus(ServeSystem system, String key, int expected) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (status(system, key) != expected && System.nanoTime() < deadline) {
            Thread.sleep(200);
        }
        assertThat(status(system, key)).isEqualTo(expected);
    }

    private static int status(ServeSystem system, String key) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + system.port() + "/v1/models"));
        if (key != null) {
            request.header("Authorization", "Bearer " + key);
        }
        return ServePipelineTest.http.send(request.build(), HttpResponse.BodyHandlers.ofString()).statusCode();
    }
}

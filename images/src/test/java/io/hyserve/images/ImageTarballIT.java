package io.hyserve.images;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.InputStream;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;

/**
 * The image tarballs that Jib wrote: their names and tags are what the chart deploys, and the gateway image's
 * own files (loader, C library, jlink'd runtime, application, bundled model) run the whole system: its
 * entrypoint, chrooted into the unpacked layers as the image's non-root user, serves a completion.
 */
class ImageTarballIT {
    private static final Path IMAGES = Path.of(System.getProperty("hyserve.images"));
    private static final ObjectMapper JSON = new ObjectMapper();

    @ParameterizedTest
    @ValueSource(strings = {"gateway", "worker"})
    void tarballIsTheImageTheChartDeploys(String role) throws Exception {
        Path tar = IMAGES.resolve("hunyuan-serve-" + role + ".tar");
        assertThat(tar).isRegularFile();
        JsonNode manifest = JSON.readTree(entry(tar, "manifest.json")).get(0);
        assertThat(manifest.get("RepoTags").get(0).asString()).isEqualTo(System.getProperty("hyserve.image." + role));

        JsonNode config = JSON.readTree(entry(tar, manifest.get("Config").asString())).get("config");
        assertThat(config.get("Entrypoint").get(0).asString()).isEqualTo("/opt/java/bin/java");
        assertThat(config.get("User").asString()).isEqualTo("65532:65532");
        assertThat(strings(config.get("Cmd"))).startsWith("serve", "--role", role);
        System.out.printf("%s image: %s, %.1f MB, %d layers%n", role, tar.getFileName(),
                Files.size(tar) / 1e6, manifest.get("Layers").size());
    }

    @Test
    void gatewayImageRunsTheWholeSystemFromItsOwnFiles(@TempDir Path work) throws Exception {
        assumeTrue(canIsolate(), "needs root and util-linux unshare to chroot into the unpacked image");
        Path tar = IMAGES.resolve("hunyuan-serve-gateway.tar");
        Path root = unpack(tar, work.resolve("root"));
        Files.writeString(root.resolve("etc/hosts"), "127.0.0.1 localhost " + hostName() + "\n");
        Files.createDirectories(root.resolve("proc"));
        Files.createDirectories(root.resolve("dev"));

        JsonNode manifest = JSON.readTree(entry(tar, "manifest.json")).get(0);
        JsonNode config = JSON.readTree(entry(tar, manifest.get("Config").asString())).get("config");
        int port = freePort();
        List<String> command = new ArrayList<>(strings(config.get("Entrypoint")));
        command.addAll(List.of("serve", "--role", "all", "--port", String.valueOf(port), "--data-dir", "/tmp/data",
                "--threads", "1"));
        // What a container runtime gives the process: its own /proc, /dev, a writable /tmp, the image's user.
        String isolate = "mount --rbind /dev %1$s/dev && mount -t tmpfs tmpfs %1$s/tmp && exec chroot --userspec=%2$s %1$s %3$s"
                .formatted(root, config.get("User").asString(), String.join(" ", command));
        Path log = work.resolve("serve.log");
        ProcessBuilder serve = new ProcessBuilder("unshare", "--mount", "--pid", "--fork",
                "--mount-proc=" + root.resolve("proc"), "sh", "-c", isolate)
                .redirectErrorStream(true).redirectOutput(log.toFile());
        serve.environment().put("JAVA_TOOL_OPTIONS", "-Xmx1g");
        Process process = serve.start();
        try {
            awaitReady(process, log);
            HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
            HttpResponse<String> response = client.send(HttpRequest.newBuilder(
                            URI.create("http://127.0.0.1:%d/v1/completions".formatted(port)))
                    .header("Content-Type", "application/json").timeout(Duration.ofSeconds(60))
                    .POST(HttpRequest.BodyPublishers.ofString(
                            "{\"model\":\"tiny-hunyuan-moe-bf16\",\"prompt\":\"Once\",\"max_tokens\":4,\"temperature\":0}"))
                    .build(), HttpResponse.BodyHandlers.ofString());
            assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
            JsonNode body = JSON.readTree(response.body());
            assertThat(body.get("usage").get("completion_tokens").asInt()).isEqualTo(4);
        } finally {
            process.descendants().forEach(ProcessHandle::destroy);
            process.destroy();
            if (!process.waitFor(60, TimeUnit.SECONDS)) {
                process.descendants().forEach(ProcessHandle::destroyForcibly);
                process.destroyForcibly();
            }
        }
    }

    private static void awaitReady(Process process, Path log) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (System.nanoTime() < deadline) {
            String output = Files.readString(log, StandardCharsets.UTF_8);
            if (output.contains("hunyuan-serve ready")) {
                return;
            }
            assertThat(process.isAlive()).as("the image's entrypoint exited:%n%s", output).isTrue();
            Thread.sleep(200);
        }
        throw new AssertionError("not ready within 120 s:\n" + Files.readString(log, StandardCharsets.UTF_8));
    }

    /** The layers in order, as a container runtime stacks them (Jib writes no whiteouts). */
    private static Path unpack(Path tar, Path root) throws Exception {
        Path image = root.resolveSibling("image");
        Files.createDirectories(image);
        Files.createDirectories(root);
        run(List.of("tar", "-xf", tar.toString(), "-C", image.toString()));
        JsonNode manifest = JSON.readTree(Files.readString(image.resolve("manifest.json"))).get(0);
        for (JsonNode layer : manifest.get("Layers")) {
            run(List.of("tar", "-xpf", image.resolve(layer.asString()).toString(), "-C", root.toString()));
        }
        return root;
    }

    private static byte[] entry(Path tar, String name) throws Exception {
        Process process = new ProcessBuilder("tar", "-xOf", tar.toString(), name).start();
        byte[] content;
        try (InputStream in = process.getInputStream()) {
            content = in.readAllBytes();
        }
        assertThat(process.waitFor()).as("tar -xOf %s %s", tar, name).isZero();
        return content;
    }

    private static void run(List<String> command) throws Exception {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(process.waitFor()).as("%s:%n%s", command, output).isZero();
    }

    private static List<String> strings(JsonNode array) {
        List<String> values = new ArrayList<>();
        array.forEach(node -> values.add(node.asString()));
        return values;
    }

    private static boolean canIsolate() throws InterruptedException {
        try {
            Process probe = new ProcessBuilder("unshare", "--mount", "--pid", "--fork", "true").start();
            return probe.waitFor(10, TimeUnit.SECONDS) && probe.exitValue() == 0
                    && "0".equals(new ProcessBuilder("id", "-u").start().inputReader().readLine());
        } catch (IOException e) {
            return false;
        }
    }

    private static String hostName() throws IOException {
        return Files.readString(Path.of("/proc/sys/kernel/hostname")).strip();
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }

}

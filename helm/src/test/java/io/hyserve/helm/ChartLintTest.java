package io.hyserve.helm;

import static org.assertj.core.api.Assertions.assertThat;

import com.marcnuri.helm.Helm;
import com.marcnuri.helm.LintResult;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import tools.jackson.dataformat.yaml.YAMLMapper;

/**
 * Every ci/ variant passes {@code helm lint --strict} with both Helms (helm-java's Helm 3 and the Helm 4 binary),
 * renders the same objects in both, and every rendered document of a Kubernetes kind passes the API's OpenAPI
 * schema; custom resources come back from the validator as unknown and are checked by structure in
 * {@link ChartVariantsTest}.
 */
class ChartLintTest {
    private static final YAMLMapper YAML = new YAMLMapper();
    private static final Set<String> STRIMZI = Set.of("Kafka", "KafkaNodePool", "KafkaTopic");

    /** The variants, with the custom resource kinds each renders. */
    private static final Map<String, Set<String>> VARIANTS = Map.of(
            "default", Set.of(),
            "kafka-sasl", Set.of(),
            "strimzi", union(STRIMZI, Set.of("ServiceMonitor")),
            "cpu", Set.of(),
            "gpu2", Set.of(),
            "gateway-features", Set.of());

    static Stream<String> variants() {
        return VARIANTS.keySet().stream().sorted();
    }

    @Test
    void everyCiValuesFileIsAVariantTheTestsKnow() throws IOException {
        try (Stream<Path> files = Files.list(Manifests.CI)) {
            assertThat(files.map(f -> f.getFileName().toString())).containsExactlyInAnyOrderElementsOf(
                    VARIANTS.keySet().stream().map(v -> v + "-values.yaml").toList());
        }
    }

    @ParameterizedTest
    @MethodSource("variants")
    void helmJavaLintsTheVariantStrictly(String variant) {
        LintResult lint = new Helm(chartWithDefaults(variant)).lint().strict().call();
        assertThat(lint.isFailed()).as("%s", lint.getMessages()).isFalse();
        assertThat(lint.getMessages()).noneMatch(m -> m.contains("[WARNING]") || m.contains("[ERROR]"));
    }

    @ParameterizedTest
    @MethodSource("variants")
    void helm4LintsTheVariantStrictly(String variant) {
        K8sTools.Result lint = K8sTools.helm("lint", "--strict", Manifests.CHART.toString(), "--kube-version",
                Manifests.KUBE_VERSION, "-f", Manifests.values(variant).toString());
        assertThat(lint.exit()).as(lint.output()).isZero();
        assertThat(lint.output()).contains("1 chart(s) linted, 0 chart(s) failed").doesNotContain("[WARNING]", "[ERROR]");
    }

    @ParameterizedTest
    @MethodSource("variants")
    void everyRenderedObjectPassesTheKubernetesSchemaOrIsAKnownCustomResource(String variant) {
        String rendered = K8sTools.template(Manifests.values(variant));
        List<K8sTools.Verdict> verdicts = K8sTools.validate(rendered);
        Manifests helm4 = Manifests.parse(rendered);
        assertThat(verdicts).hasSameSizeAs(helm4.objects());
        // Nothing passes unchecked: a Kubernetes kind is valid, a custom resource is reported as unknown.
        assertThat(verdicts).allSatisfy(v -> assertThat(v.result()).as("%s", v)
                .isEqualTo(VARIANTS.get(variant).contains(v.kind()) ? "unknown" : "valid"));
        assertThat(verdicts).extracting(K8sTools.Verdict::kind).contains("Deployment", "Service", "ConfigMap", "Pod")
                .containsAll(VARIANTS.get(variant));

        // Both Helms render the same objects; Helm 4's output has the test hook besides.
        List<String> helmJava = Manifests.render(variant).names();
        assertThat(helm4.names()).containsAll(helmJava).hasSize(helmJava.size() + 1)
                .contains("Pod/" + Manifests.FULLNAME + "-test");
    }

    @Test
    void theValidatorRefusesWhatTheApiServerWould() {
        String rendered = K8sTools.template(Manifests.values("default"));
        String broken = rendered.replace("replicas: 2\n", "replicas: two\n");
        assertThat(broken).isNotEqualTo(rendered);
        assertThat(K8sTools.validate(broken)).filteredOn(v -> v.result().equals("invalid")).singleElement()
                .satisfies(v -> {
                    assertThat(v.kind()).isEqualTo("Deployment");
                    assertThat(v.errors()).contains("/spec/replicas must be integer");
                });
    }

    /**
     * helm-java lints only a chart's own values, so the variant is linted as a copy of the chart whose values.yaml
     * is the defaults with the variant merged over them, as Helm merges {@code -f}: maps deep, everything else
     * replaced.
     */
    private static Path chartWithDefaults(String variant) {
        try {
            Path copy = Path.of("target/lint", variant, Manifests.CHART.getFileName().toString());
            copyTree(Manifests.CHART, copy);
            Map<String, Object> defaults = readMap(Manifests.CHART.resolve("values.yaml"));
            Map<String, Object> merged = merge(defaults, readMap(Manifests.values(variant)));
            Files.writeString(copy.resolve("values.yaml"), YAML.writeValueAsString(merged));
            return copy;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> readMap(Path yaml) throws IOException {
        Map<String, Object> map = YAML.readValue(Files.readString(yaml), Map.class);
        return map != null ? map : Map.of();
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> merge(Map<String, Object> base, Map<String, Object> override) {
        Map<String, Object> merged = new LinkedHashMap<>(base);
        override.forEach((key, value) -> {
            if (value instanceof Map<?, ?> map && merged.get(key) instanceof Map<?, ?> existing) {
                merged.put(key, merge((Map<String, Object>) existing, (Map<String, Object>) map));
            } else {
                merged.put(key, value);
            }
        });
        return merged;
    }

    private static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> paths = Files.walk(from)) {
            for (Path source : paths.toList()) {
                Path target = to.resolve(from.relativize(source).toString());
                if (Files.isDirectory(source)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(source, target, StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
    }

    private static Set<String> union(Set<String> a, Set<String> b) {
        return Stream.concat(a.stream(), b.stream()).collect(Collectors.toUnmodifiableSet());
    }
}

package io.hyserve.helm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.dataformat.yaml.YAMLMapper;

/**
 * values.schema.json refuses impossible values before anything renders, with the schema's own message, in both
 * Helms; {@code hyserve.validateValues} refuses contradictions between values; every value is in the schema and
 * documented in values.yaml.
 */
class ValuesSchemaTest {
    private static final Path VALUES = Manifests.CHART.resolve("values.yaml");
    private static final Path SCHEMA = Manifests.CHART.resolve("values.schema.json");

    @ParameterizedTest(name = "{0}={1}")
    @CsvSource(delimiter = '|', value = {
        "worker.replicas         | -1                   | at '/worker/replicas': minimum: got -1, want 0",
        "gateway.replicas        | -3                   | at '/gateway/replicas': minimum: got -3, want 0",
        "worker.device           | tpu                  | at '/worker/device': value must be one of 'auto', 'cuda', 'cuda-bf16', 'cpu'",
        "worker.gpus             | -1                   | at '/worker/gpus': minimum: got -1, want 0",
        "model.source            | nfs                  | at '/model/source': value must be one of 'pvc', 'hostPath', 'initContainer'",
        "model.source            | null                 | at '/model': missing property 'source'",
        "model.pvc.claimName     | ''                   | at '/model/pvc/claimName': minLength: got 0, want 1",
        "model.source            | hostPath             | at '/model/hostPath/path': '' does not match pattern '^/'",
        "model.source            | initContainer        | at '/model/initContainer/image/repository': minLength: got 0, want 1",
        "gateway.port            | 0                    | at '/gateway/port': minimum: got 0, want 1",
        "gateway.port            | 70000                | at '/gateway/port': maximum: got 70,000, want 65,535",
        "gateway.service.port    | 65536                | at '/gateway/service/port': maximum: got 65,536, want 65,535",
        "worker.healthPort       | -8001                | at '/worker/healthPort': minimum: got -8,001, want 1",
        "kafka.bootstrapServers  | ''                   | at '/kafka/bootstrapServers': minLength: got 0, want 1",
        "kafka.topicPrefix       | 'a b'                | at '/kafka/topicPrefix': 'a b' does not match pattern",
        "kafka.partitions        | 0                    | at '/kafka/partitions': minimum: got 0, want 1",
        "gateway.tls.enabled     | true                 | at '/gateway/tls/secretName': minLength: got 0, want 1",
        "gateway.requestTimeout  | 10m                  | at '/gateway/requestTimeout': '10m' does not match pattern",
        "worker.gpus             | two                  | at '/worker/gpus': got string, want integer",
        "worker.gpu              | 2                    | at '/worker': additional properties 'gpu' not allowed",
    })
    void schemaRefusesImpossibleValuesInBothHelms(String key, String value, String message) {
        Object typed = typed(value);
        assertThatThrownBy(() -> Manifests.template("default", key, typed).call())
                .hasMessageContaining("values don't meet the specifications of the schema")
                .hasMessageContaining(message);

        String set = key + "=" + typed;
        K8sTools.Result lint = K8sTools.helm("lint", "--strict", Manifests.CHART.toString(), "--kube-version",
                Manifests.KUBE_VERSION, "--set", set);
        assertThat(lint.exit()).as(lint.output()).isNotZero();
        assertThat(lint.output()).contains(message);
    }

    @Test
    void kafkaNeedsBootstrapServersOnlyWithoutStrimzi() {
        Manifests chart = Manifests.render("strimzi", "kafka.bootstrapServers", "");
        assertThat(chart.properties("worker")).containsEntry("kafka", Manifests.FULLNAME + "-kafka-bootstrap:9092");
    }

    @Test
    void contradictionsBetweenValuesFailOnceWithEveryMessage() {
        assertThatThrownBy(() -> Manifests.template("strimzi", "worker.device", "cuda", "worker.gpus", 0,
                "kafka.strimzi.replicas", 1, "gateway.autoscaling.enabled", true,
                "gateway.autoscaling.minReplicas", 5, "gateway.autoscaling.maxReplicas", 3,
                "worker.replicas", 9, "kafka.partitions", 8).call())
                .hasMessageContaining("VALUES VALIDATION:")
                .hasMessageContaining("gateway.autoscaling.minReplicas must not exceed gateway.autoscaling.maxReplicas")
                .hasMessageContaining("kafka.replication (3) needs at least as many brokers: kafka.strimzi.replicas is 1")
                .hasMessageContaining("worker.device cuda needs worker.gpus of at least 1")
                .hasMessageContaining("worker.replicas (9) exceeds kafka.partitions (8)");
    }

    @Test
    void strimziNamesThatWouldNotFitADnsLabelAreRefused() {
        assertThatThrownBy(() -> Manifests.template("strimzi", "kafka.strimzi.clusterName", "c".repeat(48)).call())
                .hasMessageContaining("Strimzi cluster name %s is longer than 47 characters", "c".repeat(48));
        assertThatThrownBy(() -> Manifests.template("strimzi", "kafka.strimzi.clusterName", "c".repeat(40),
                "kafka.strimzi.nodePoolName", "p".repeat(20)).call())
                .hasMessageContaining("Strimzi pod names %s-%s-<n> exceed 63 characters", "c".repeat(40), "p".repeat(20));
    }

    @Test
    void everyValueIsInTheSchemaAndEverySchemaPropertyIsAValue() throws IOException {
        JsonNode schema = JsonMapper.builder().build().readTree(Files.readString(SCHEMA));
        assertThat(schema.get("$schema").asString()).isEqualTo("http://json-schema.org/draft-07/schema#");
        JsonNode values = new YAMLMapper().readTree(Files.readString(VALUES));
        List<String> problems = new ArrayList<>();
        compare(schema, schema, values, "", problems);
        assertThat(problems).isEmpty();
    }

    @Test
    void everyValueIsDocumentedInPlace() throws IOException {
        assertThat(undocumented(Files.readAllLines(VALUES))).isEmpty();
    }

    @Test
    void theDocumentationCheckFindsAnUndocumentedValue() {
        List<String> values = List.of(
                "# -- documented", "a: 1",
                "section:", "  # -- documented", "  b: 2", "  c: 3",
                "# -- a whole object", "d:", "  e: 4",
                "f:", "  - x");
        assertThat(undocumented(values)).containsExactly("line 6: c: 3", "line 10: f:");
    }

    /**
     * Walks values.yaml and the schema together: where the schema closes an object (additionalProperties false),
     * the two must name the same keys, unless the value is left empty ({@code resources: {}}); free-form maps
     * (labels, annotations) are not descended into.
     */
    private static void compare(JsonNode root, JsonNode schema, JsonNode value, String path, List<String> problems) {
        schema = resolve(root, schema);
        JsonNode properties = schema.get("properties");
        boolean closed = schema.has("additionalProperties") && schema.get("additionalProperties").isBoolean()
                && !schema.get("additionalProperties").asBoolean();
        if (properties == null || !closed || !value.isObject() || value.isEmpty()) {
            return;
        }
        TreeSet<String> inValues = new TreeSet<>(value.propertyNames());
        TreeSet<String> inSchema = new TreeSet<>(properties.propertyNames());
        inSchema.remove("global");
        if (!inValues.equals(inSchema)) {
            problems.add("%s: values.yaml has %s, the schema %s".formatted(path.isEmpty() ? "(top)" : path, inValues,
                    inSchema));
        }
        for (String key : inValues) {
            if (properties.has(key)) {
                compare(root, properties.get(key), value.get(key), path.isEmpty() ? key : path + "." + key, problems);
            }
        }
    }

    private static JsonNode resolve(JsonNode root, JsonNode schema) {
        JsonNode ref = schema.get("$ref");
        return ref == null ? schema : root.at(ref.asString().substring(1));
    }

    /**
     * Keys of values.yaml without a {@code # --} comment above them. A documented key covers the keys under it (a
     * whole object set as one value); an undocumented section needs every key under it documented.
     */
    static List<String> undocumented(List<String> lines) {
        Pattern keyLine = Pattern.compile("^( *)([A-Za-z0-9_.-]+):(.*)$");
        List<String> missing = new ArrayList<>();
        // Indentation below which keys are covered by a documented parent; -1 when none.
        int coveredBelow = -1;
        boolean documented = false;
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i);
            String stripped = line.strip();
            if (stripped.startsWith("# --")) {
                documented = true;
                continue;
            }
            if (stripped.startsWith("#")) {
                continue;
            }
            Matcher key = keyLine.matcher(line);
            if (!key.matches()) {
                // A blank line ends a comment block; list items keep it for the key they belong to.
                if (stripped.isEmpty()) {
                    documented = false;
                }
                continue;
            }
            int indent = key.group(1).length();
            if (coveredBelow >= 0 && indent > coveredBelow) {
                documented = false;
                continue;
            }
            coveredBelow = -1;
            boolean section = key.group(3).isBlank() && isParent(lines, i, indent);
            if (documented) {
                coveredBelow = indent;
            } else if (!section) {
                missing.add("line " + (i + 1) + ": " + stripped);
            }
            documented = false;
        }
        return missing;
    }

    /** Whether the key at {@code index} has keys (not list items) indented under it. */
    private static boolean isParent(List<String> lines, int index, int indent) {
        for (int j = index + 1; j < lines.size(); j++) {
            String next = lines.get(j);
            if (next.isBlank() || next.strip().startsWith("#")) {
                continue;
            }
            int nextIndent = next.length() - next.stripLeading().length();
            return nextIndent > indent && !next.stripLeading().startsWith("-");
        }
        return false;
    }

    /** A --set value for helm-java: numbers and booleans typed; the string {@code null} removes the key. */
    private static Object typed(String value) {
        if (value.equals("true") || value.equals("false")) {
            return Boolean.valueOf(value);
        }
        if (value.matches("-?\\d+")) {
            return Integer.valueOf(value);
        }
        return value;
    }
}

package io.hyserve.helm;

import static io.hyserve.helm.ChartDefaultsTest.argAfter;
import static io.hyserve.helm.ChartDefaultsTest.assertProbe;
import static io.hyserve.helm.ChartDefaultsTest.assertRestrictedPod;
import static io.hyserve.helm.ChartDefaultsTest.env;
import static io.hyserve.helm.ChartDefaultsTest.mount;
import static io.hyserve.helm.ChartDefaultsTest.volume;
import static io.hyserve.helm.Manifests.FULLNAME;
import static io.hyserve.helm.Manifests.GATEWAY;
import static io.hyserve.helm.Manifests.WORKER;
import static io.hyserve.helm.Manifests.main;
import static io.hyserve.helm.Manifests.pod;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.groups.Tuple.tuple;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.Toleration;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscaler;
import io.fabric8.kubernetes.api.model.networking.v1.Ingress;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.hyserve.schemas.Topics;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The ci/ value variants and single switches, rendered with helm-java: what each changes in the manifests. */
class ChartVariantsTest {
    private static final String CLIENT_CONFIG = "/etc/hyserve/kafka/client.properties";

    @Test
    void existingKafkaWithSaslIsWiredIntoBothRoles() {
        Manifests chart = Manifests.render("kafka-sasl");
        for (String role : List.of("gateway", "worker")) {
            Deployment deployment = role.equals("gateway") ? chart.gateway() : chart.worker();
            Container container = main(deployment);
            assertThat(argAfter(container, "--kafka-config")).isEqualTo(CLIENT_CONFIG);
            assertThat(volume(deployment, "kafka-client-config").getSecret().getSecretName()).isEqualTo("kafka-client");
            assertThat(mount(container, "kafka-client-config").getMountPath() + "/client.properties")
                    .isEqualTo(CLIENT_CONFIG);
            assertThat(mount(container, "kafka-client-config").getReadOnly()).isTrue();
            assertThat(chart.properties(role))
                    .containsEntry("kafka", "kafka-0.kafka.data.svc:9093,kafka-1.kafka.data.svc:9093,"
                            + "kafka-2.kafka.data.svc:9093")
                    .containsEntry("topic-prefix", "team-a.hyserve").containsEntry("partitions", "16")
                    .containsEntry("replication", "3");
        }
        assertThat(chart.names()).noneMatch(n -> n.startsWith("Kafka"));
    }

    @Test
    void plaintextKafkaNeedsNoClientConfig() {
        Manifests chart = Manifests.render("default");
        for (Deployment deployment : List.of(chart.gateway(), chart.worker())) {
            assertThat(main(deployment).getArgs()).doesNotContain("--kafka-config");
            assertThat(pod(deployment).getVolumes()).extracting(Volume::getName).doesNotContain("kafka-client-config");
        }
    }

    @Test
    void strimziRunsAKraftClusterThatBothRolesBootstrapFrom() {
        Manifests chart = Manifests.render("strimzi");
        GenericKubernetesResource kafka = single(chart.custom("Kafka"));
        assertThat(kafka.getApiVersion()).isEqualTo("kafka.strimzi.io/v1beta2");
        assertThat(kafka.getMetadata().getName()).isEqualTo(FULLNAME);
        assertThat(kafka.getMetadata().getAnnotations()).containsEntry("strimzi.io/node-pools", "enabled")
                .containsEntry("strimzi.io/kraft", "enabled");
        Map<String, Object> listener = single(list(kafka, "spec", "kafka", "listeners"));
        assertThat(listener).containsEntry("name", "plain").containsEntry("port", 9092).containsEntry("tls", false)
                .containsEntry("type", "internal");
        assertThat(map(kafka, "spec", "kafka", "config")).containsEntry("default.replication.factor", 3)
                .containsEntry("min.insync.replicas", 2).containsEntry("offsets.topic.replication.factor", 3);
        assertThat(map(kafka, "spec", "entityOperator")).containsKey("topicOperator");
        // Topics of one replica on three brokers: acks=all must not wait for replicas that do not exist.
        GenericKubernetesResource single = single(Manifests.render("strimzi", "kafka.replication", 1).custom("Kafka"));
        assertThat(map(single, "spec", "kafka", "config")).containsEntry("min.insync.replicas", 1)
                .containsEntry("offsets.topic.replication.factor", 3).containsEntry("transaction.state.log.min.isr", 2);
        assertThat(map(kafka, "spec", "kafka")).doesNotContainKeys("replicas", "storage");
        assertThat(map(kafka, "spec")).doesNotContainKey("zookeeper");

        GenericKubernetesResource pool = single(chart.custom("KafkaNodePool"));
        assertThat(pool.getApiVersion()).isEqualTo("kafka.strimzi.io/v1beta2");
        assertThat(pool.getMetadata().getName()).isEqualTo("kafka");
        assertThat(pool.getMetadata().getLabels()).containsEntry("strimzi.io/cluster", FULLNAME);
        assertThat(map(pool, "spec")).containsEntry("replicas", 3)
                .containsEntry("roles", List.of("controller", "broker"));
        assertThat(map(pool, "spec", "storage")).containsEntry("type", "persistent-claim").containsEntry("size", "50Gi")
                .containsEntry("deleteClaim", false);

        for (String role : List.of("gateway", "worker")) {
            assertThat(chart.properties(role)).as(role)
                    .containsEntry("kafka", FULLNAME + "-kafka-bootstrap:9092").containsEntry("replication", "3");
        }
        assertThat(chart.names()).noneMatch(n -> n.startsWith("StatefulSet/"));
    }

    @Test
    void strimziTopicsAreTheOnesTheServicesUse() {
        Manifests chart = Manifests.render("strimzi");
        Topics topics = Topics.defaults();
        List<GenericKubernetesResource> resources = chart.custom("KafkaTopic");
        assertThat(resources).extracting(t -> (String) map(t, "spec").get("topicName")).containsExactlyInAnyOrder(
                topics.requests(), topics.control(), topics.results(), topics.heartbeats(), topics.deadLetters());
        for (GenericKubernetesResource topic : resources) {
            assertThat(topic.getApiVersion()).isEqualTo("kafka.strimzi.io/v1beta2");
            assertThat(topic.getMetadata().getLabels()).containsEntry("strimzi.io/cluster", FULLNAME);
            assertThat(map(topic, "spec")).containsEntry("replicas", 3);
        }
        assertThat(byName(resources, topics.requests())).containsEntry("partitions", 8);
        assertThat(byName(resources, topics.heartbeats())).containsEntry("partitions", 1);
        Object cleanup = ((Map<?, ?>) byName(resources, topics.results()).get("config")).get("cleanup.policy");
        assertThat(List.of(((String) cleanup).split(","))).contains("compact");
    }

    @Test
    void topicResourceNamesStayDnsSafeForAnyPrefix() {
        String prefix = "Team_A.LLM";
        Manifests chart = Manifests.render("strimzi", "kafka.topicPrefix", prefix);
        Topics topics = new Topics(prefix);
        assertThat(chart.custom("KafkaTopic")).extracting(t -> (String) map(t, "spec").get("topicName"))
                .contains(topics.requests(), topics.deadLetters());
        assertThat(chart.custom("KafkaTopic")).allSatisfy(t -> assertThat(t.getMetadata().getName())
                .matches("[a-z0-9]([-a-z0-9]*[a-z0-9])?").hasSizeLessThanOrEqualTo(63));
        assertThat(chart.properties("gateway")).containsEntry("topic-prefix", prefix);
    }

    @Test
    void serviceMonitorsScrapeBothRolesMetricsPorts() {
        Manifests chart = Manifests.render("strimzi");
        for (String role : List.of("gateway", "worker")) {
            GenericKubernetesResource monitor = chart.custom("ServiceMonitor").stream()
                    .filter(m -> m.getMetadata().getName().equals(FULLNAME + "-" + role)).findFirst().orElseThrow();
            assertThat(monitor.getApiVersion()).isEqualTo("monitoring.coreos.com/v1");
            assertThat(monitor.getMetadata().getLabels()).containsEntry("release", "kube-prometheus-stack");
            Service service = chart.get(Service.class, FULLNAME + "-" + role);
            assertThat(service.getMetadata().getLabels())
                    .containsAllEntriesOf(strings(map(monitor, "spec", "selector", "matchLabels")));
            Map<String, Object> endpoint = single(list(monitor, "spec", "endpoints"));
            assertThat(endpoint).containsEntry("path", "/metrics");
            assertThat(service.getSpec().getPorts()).extracting(p -> p.getName()).containsExactly((String) endpoint.get("port"));
        }
    }

    @Test
    void cpuWorkersRequestNoGpuAndHideTheNodesGpus() {
        Manifests chart = Manifests.render("cpu");
        Container worker = main(chart.worker());
        assertThat(worker.getResources().getLimits()).doesNotContainKey("nvidia.com/gpu")
                .containsEntry("memory", new Quantity("24Gi"));
        assertThat(worker.getResources().getRequests()).doesNotContainKey("nvidia.com/gpu");
        assertThat(pod(chart.worker()).getTolerations()).isEmpty();
        assertThat(env(worker, "NVIDIA_VISIBLE_DEVICES").getValue()).isEqualTo("void");
        assertThat(chart.properties("worker")).containsEntry("device", "cpu").containsEntry("threads", "8")
                .containsEntry("kv-cache-bytes", "4294967296");
        assertThat(chart.worker().getSpec().getReplicas()).isEqualTo(2);
    }

    @ParameterizedTest(name = "device {0} with {1} GPUs -> limit {2}")
    @CsvSource({"auto, 0, none", "cpu, 1, none", "cuda, 4, 4", "cuda-bf16, 2, 2", "auto, 1, 1"})
    void gpuLimitFollowsGpusUnlessTheDeviceIsCpu(String device, int gpus, String limit) {
        Manifests chart = Manifests.render("default", "worker.device", device, "worker.gpus", gpus);
        Map<String, Quantity> limits = main(chart.worker()).getResources().getLimits();
        List<Toleration> tolerations = pod(chart.worker()).getTolerations();
        if (limit.equals("none")) {
            assertThat(limits).doesNotContainKey("nvidia.com/gpu");
            assertThat(tolerations).isEmpty();
        } else {
            assertThat(limits).containsEntry("nvidia.com/gpu", new Quantity(limit));
            assertThat(tolerations).extracting(Toleration::getKey).containsExactly("nvidia.com/gpu");
        }
    }

    @Test
    void twoGpuWorkersOnH200NodesWithTheModelOnTheHost() {
        Manifests chart = Manifests.render("gpu2");
        Container worker = main(chart.worker());
        assertThat(worker.getResources().getLimits()).containsEntry("nvidia.com/gpu", new Quantity("2"));
        assertThat(pod(chart.worker()).getTolerations()).extracting(Toleration::getKey, Toleration::getEffect)
                .containsExactly(tuple("nvidia.com/gpu", "NoSchedule"));
        assertThat(pod(chart.worker()).getNodeSelector()).containsEntry("nvidia.com/gpu.product", "NVIDIA-H200");
        assertThat(chart.properties("worker")).containsEntry("device", "cuda");
        for (Deployment deployment : List.of(chart.gateway(), chart.worker())) {
            Volume model = volume(deployment, "model");
            assertThat(model.getHostPath().getPath()).isEqualTo("/mnt/models/hunyuan-large");
            assertThat(model.getHostPath().getType()).isEqualTo("Directory");
        }
    }

    @Test
    void gpuTolerationCanBeLeftOutAndOwnTolerationsAreKept() {
        Map<String, Object> own = Map.of("key", "dedicated", "operator", "Equal", "value", "llm", "effect", "NoSchedule");
        Manifests chart = Manifests.render("default", "worker.tolerations[0].key", own.get("key"),
                "worker.tolerations[0].operator", own.get("operator"), "worker.tolerations[0].value", own.get("value"),
                "worker.tolerations[0].effect", own.get("effect"));
        assertThat(pod(chart.worker()).getTolerations()).extracting(Toleration::getKey)
                .containsExactly("dedicated", "nvidia.com/gpu");
        Manifests without = Manifests.render("default", "worker.gpuToleration", false);
        assertThat(pod(without.worker()).getTolerations()).isEmpty();
        assertThat(main(without.worker()).getResources().getLimits()).containsKey("nvidia.com/gpu");
    }

    @Test
    void initContainerCopiesTheWholeModelForWorkersAndSkipsWeightsForGateways() {
        Manifests chart = Manifests.render("cpu");
        for (String role : List.of("gateway", "worker")) {
            Deployment deployment = role.equals("gateway") ? chart.gateway() : chart.worker();
            Container copy = single(pod(deployment).getInitContainers());
            assertThat(copy.getImage()).isEqualTo("rclone/rclone:1.68.2");
            assertThat(copy.getCommand()).startsWith("/bin/sh", "-ec");
            assertThat(env(copy, "MODEL_DIR").getValue()).isEqualTo("/model");
            assertThat(env(copy, "HYSERVE_COPY_WEIGHTS").getValue()).isEqualTo(role.equals("worker") ? "true" : "false");
            assertThat(copy.getEnv()).extracting(EnvVar::getName).contains("RCLONE_CONFIG_MODELS_TYPE", "HOME");
            assertThat(mount(copy, "model").getMountPath()).isEqualTo("/model");
            assertThat(mount(copy, "model").getReadOnly()).as("the copy writes the model").isNotEqualTo(Boolean.TRUE);
            assertThat(mount(main(deployment), "model").getReadOnly()).isTrue();
            assertThat(volume(deployment, "model").getEmptyDir().getSizeLimit())
                    .isEqualTo(new Quantity(role.equals("worker") ? "20Gi" : "2Gi"));
            assertRestrictedPod(pod(deployment));
        }
    }

    @Test
    void gatewayOptionsReachItsPodAndItsTest() {
        Manifests chart = Manifests.render("gateway-features");
        Container gateway = main(chart.gateway());
        assertThat(chart.has(Secret.class, FULLNAME + "-api-keys")).as("no generated key beside an existing one").isFalse();
        Volume keys = volume(chart.gateway(), "api-keys");
        assertThat(keys.getSecret().getSecretName()).isEqualTo("hyserve-api-keys");
        assertThat(keys.getSecret().getItems()).singleElement().satisfies(i -> assertThat(i.getKey()).isEqualTo("keys"));
        assertThat(mount(gateway, "api-keys").getMountPath() + "/" + keys.getSecret().getItems().getFirst().getPath())
                .isEqualTo(argAfter(gateway, "--api-keys-file"));

        assertThat(argAfter(gateway, "--tls-cert")).isEqualTo(mount(gateway, "tls").getMountPath() + "/tls.crt");
        assertThat(argAfter(gateway, "--tls-key")).isEqualTo(mount(gateway, "tls").getMountPath() + "/tls.key");
        assertThat(volume(chart.gateway(), "tls").getSecret().getSecretName()).isEqualTo("hyserve-gateway-tls");
        for (var probe : List.of(gateway.getStartupProbe(), gateway.getLivenessProbe(), gateway.getReadinessProbe())) {
            assertThat(probe.getHttpGet().getScheme()).isEqualTo("HTTPS");
        }
        assertProbe(gateway.getReadinessProbe(), "/health/ready", "http");

        String otlp = "http://otel-collector.observability:4318/v1/traces";
        assertThat(argAfter(gateway, "--otlp-endpoint")).isEqualTo(otlp);
        assertThat(argAfter(main(chart.worker()), "--otlp-endpoint")).isEqualTo(otlp);
        assertThat(chart.properties("gateway"))
                .containsEntry("cors-origin", "https://chat.example.com,https://playground.example.com")
                .containsEntry("requests-per-minute", "600").containsEntry("tokens-per-minute", "200000")
                .containsEntry("streams-per-key", "8").containsEntry("max-prompt-tokens", "32768")
                .containsEntry("max-tokens-limit", "4096").containsEntry("send-buffer-bytes", "1048576")
                .containsEntry("allow-special-tokens-in-chat", "false");

        Ingress ingress = chart.get(Ingress.class, GATEWAY);
        assertThat(ingress.getSpec().getIngressClassName()).isEqualTo("nginx");
        var path = ingress.getSpec().getRules().getFirst().getHttp().getPaths().getFirst();
        assertThat(path.getBackend().getService().getName()).isEqualTo(GATEWAY);
        assertThat(path.getBackend().getService().getPort().getName()).isEqualTo("http");

        HorizontalPodAutoscaler hpa = chart.get(HorizontalPodAutoscaler.class, GATEWAY);
        assertThat(hpa.getApiVersion()).isEqualTo("autoscaling/v2");
        assertThat(hpa.getSpec().getScaleTargetRef().getName()).isEqualTo(GATEWAY);
        assertThat(hpa.getSpec().getMinReplicas()).isEqualTo(2);
        assertThat(hpa.getSpec().getMaxReplicas()).isEqualTo(6);
        assertThat(chart.gateway().getSpec().getReplicas()).as("the autoscaler owns the count").isNull();

        NetworkPolicy gatewayPolicy = chart.get(NetworkPolicy.class, GATEWAY);
        var rules = gatewayPolicy.getSpec().getIngress();
        assertThat(rules).hasSize(2);
        var rule = rules.getFirst();
        assertThat(rule.getPorts()).singleElement().satisfies(p -> assertThat(p.getPort().getStrVal()).isEqualTo("http"));
        assertThat(rule.getFrom()).filteredOn(peer -> peer.getPodSelector() != null).singleElement()
                .satisfies(peer -> assertThat(peer.getPodSelector().getMatchLabels())
                        .containsEntry("app.kubernetes.io/component", "test"));
        // The scrapers reach /metrics of both roles beside the API's and the workers' own peers.
        var workerRules = chart.get(NetworkPolicy.class, WORKER).getSpec().getIngress();
        assertThat(workerRules).hasSize(2);
        for (var scrape : List.of(rules.get(1), workerRules.get(1))) {
            assertThat(scrape.getFrom()).singleElement().satisfies(peer -> assertThat(
                    peer.getNamespaceSelector().getMatchLabels()).containsEntry("kubernetes.io/metadata.name", "monitoring"));
        }
        assertThat(workerRules.get(0).getPorts()).singleElement()
                .satisfies(p -> assertThat(p.getPort().getStrVal()).isEqualTo("health"));

        Pod test = ChartDefaultsTest.testPod(Manifests.values("gateway-features"));
        Container curl = test.getSpec().getContainers().getFirst();
        assertThat(env(curl, "BASE_URL").getValue()).isEqualTo("https://" + GATEWAY + ":8000");
        assertThat(env(curl, "API_KEYS").getValueFrom().getSecretKeyRef().getName()).isEqualTo("hyserve-api-keys");
        assertThat(test.getMetadata().getLabels()).containsEntry("app.kubernetes.io/component", "test");
    }

    @Test
    void apiKeysCanBeTurnedOff() {
        Manifests chart = Manifests.render("default", "gateway.apiKeys.enabled", false);
        assertThat(main(chart.gateway()).getArgs()).doesNotContain("--api-keys-file");
        assertThat(chart.all(Secret.class)).isEmpty();
        Pod test = ChartDefaultsTest.testPod(Manifests.values("default"), "gateway.apiKeys.enabled=false");
        assertThat(test.getSpec().getContainers().getFirst().getEnv()).extracting(EnvVar::getName)
                .doesNotContain("API_KEYS");
    }

    private static Map<String, Object> byName(List<GenericKubernetesResource> topics, String topicName) {
        return topics.stream().map(t -> map(t, "spec")).filter(s -> topicName.equals(s.get("topicName")))
                .findFirst().orElseThrow(() -> new AssertionError("no KafkaTopic for " + topicName));
    }

    /** A nested object of a custom resource, e.g. {@code map(kafka, "spec", "kafka", "config")}. */
    @SuppressWarnings("unchecked")
    static Map<String, Object> map(GenericKubernetesResource resource, String... path) {
        Object node = resource.getAdditionalProperties();
        for (String key : path) {
            assertThat(node).as("%s at %s", resource.getKind(), key).isInstanceOf(Map.class);
            node = ((Map<String, Object>) node).get(key);
        }
        assertThat(node).as("%s %s", resource.getKind(), String.join(".", path)).isInstanceOf(Map.class);
        return (Map<String, Object>) node;
    }

    @SuppressWarnings("unchecked")
    private static List<Map<String, Object>> list(GenericKubernetesResource resource, String... path) {
        String[] parent = Arrays.copyOf(path, path.length - 1);
        Object node = map(resource, parent).get(path[path.length - 1]);
        assertThat(node).as("%s %s", resource.getKind(), String.join(".", path)).isInstanceOf(List.class);
        return (List<Map<String, Object>>) node;
    }

    private static Map<String, String> strings(Map<String, Object> map) {
        return map.entrySet().stream().collect(Collectors.toMap(Map.Entry::getKey,
                e -> String.valueOf(e.getValue())));
    }

    private static <T> T single(List<T> items) {
        assertThat(items).hasSize(1);
        return items.getFirst();
    }
}

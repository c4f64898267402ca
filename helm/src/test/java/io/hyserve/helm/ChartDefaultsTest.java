package io.hyserve.helm;

import static io.hyserve.helm.Manifests.FULLNAME;
import static io.hyserve.helm.Manifests.GATEWAY;
import static io.hyserve.helm.Manifests.main;
import static io.hyserve.helm.Manifests.pod;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.groups.Tuple.tuple;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodSecurityContext;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecurityContext;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.Toleration;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.dataformat.yaml.YAMLMapper;

/**
 * The chart with its defaults (ci/default-values.yaml is empty): what a plain {@code helm install} deploys. Renders
 * with helm-java; the {@code helm test} hook and NOTES come from the Helm 4 binary, since helm-java's template leaves
 * hooks out.
 */
class ChartDefaultsTest {
    private static final String VERSION = System.getProperty("hyserve.version");
    private static Manifests chart;

    @BeforeAll
    static void render() {
        chart = Manifests.render("default");
    }

    @Test
    void chartAppVersionIsTheMavenProjectVersion() throws Exception {
        assertThat(VERSION).as("system property hyserve.version (set by the pom)").isNotBlank();
        JsonNode meta = new YAMLMapper().readTree(Files.readString(Manifests.CHART.resolve("Chart.yaml")));
        assertThat(meta.get("apiVersion").asString()).isEqualTo("v2");
        assertThat(meta.get("version").asString()).isEqualTo("0.1.0");
        assertThat(meta.get("appVersion").asString()).isEqualTo(VERSION);
    }

    @Test
    void imagesAreTheOnesMavenBuildsTaggedWithTheProjectVersion() {
        assertThat(main(chart.gateway()).getImage())
                .isEqualTo(System.getProperty("hyserve.image.gateway") + ":" + VERSION);
        assertThat(main(chart.worker()).getImage())
                .isEqualTo(System.getProperty("hyserve.image.worker") + ":" + VERSION);
        assertThat(List.of(main(chart.gateway()), main(chart.worker())))
                .allSatisfy(c -> assertThat(c.getImagePullPolicy()).isEqualTo("IfNotPresent"));
    }

    @Test
    void eachRoleRunsServeWithItsPropertiesFileAndItsPodNameAsInstanceId() {
        for (String role : List.of("gateway", "worker")) {
            Deployment deployment = role.equals("gateway") ? chart.gateway() : chart.worker();
            Container container = main(deployment);
            assertThat(container.getArgs()).startsWith("serve", "--role", role);
            assertThat(env(container, "HYSERVE_CONFIG").getValue()).isEqualTo("/etc/hyserve/config/" + role + ".properties");
            assertThat(env(container, "HYSERVE_INSTANCE_ID").getValueFrom().getFieldRef().getFieldPath())
                    .isEqualTo("metadata.name");
            assertThat(mount(container, "config").getMountPath()).isEqualTo("/etc/hyserve/config");
            assertThat(volume(deployment, "config").getConfigMap().getName()).isEqualTo(FULLNAME);

            Properties properties = chart.properties(role);
            assertThat(properties).containsEntry("host", "0.0.0.0").containsEntry("kafka", "kafka:9092")
                    .containsEntry("topic-prefix", "hyserve").containsEntry("model", "/model")
                    .containsEntry("served-model-name", "hunyuan-large");
        }
        // No tracing, no Kafka client settings, no TLS unless asked for.
        assertThat(main(chart.gateway()).getArgs())
                .containsExactly("serve", "--role", "gateway", "--api-keys-file", "/etc/hyserve/api-keys/keys");
        assertThat(main(chart.worker()).getArgs()).containsExactly("serve", "--role", "worker");
        assertThat(chart.properties("gateway")).containsEntry("port", "8000").containsEntry("request-timeout", "PT10M")
                .containsEntry("max-body-bytes", "8388608").containsEntry("requests-per-minute", "0");
        assertThat(chart.properties("worker")).containsEntry("port", "8001").containsEntry("device", "auto")
                .containsEntry("shutdown-grace", "PT30S").containsEntry("mapped-weights", "false")
                .containsEntry("max-num-seqs", "64");
        assertThat(chart.gateway().getSpec().getTemplate().getMetadata().getAnnotations())
                .containsKey("checksum/config");
    }

    @Test
    void workersGetOneGpuAndTolerateTheGpuTaint() {
        Container worker = main(chart.worker());
        assertThat(worker.getResources().getLimits()).containsEntry("nvidia.com/gpu", new Quantity("1"))
                .containsEntry("memory", new Quantity("128Gi"));
        assertThat(pod(chart.worker()).getTolerations())
                .extracting(Toleration::getKey, Toleration::getOperator, Toleration::getEffect)
                .containsExactly(tuple("nvidia.com/gpu", "Exists", "NoSchedule"));
        assertThat(worker.getEnv()).extracting(EnvVar::getName).doesNotContain("NVIDIA_VISIBLE_DEVICES");
        assertThat(main(chart.gateway()).getResources().getLimits()).doesNotContainKey("nvidia.com/gpu");
    }

    @Test
    void probesUseEachRolesHealthEndpointsAndLetAWorkerLoadForAnHour() {
        Container gateway = main(chart.gateway());
        assertThat(gateway.getPorts()).singleElement().satisfies(p -> {
            assertThat(p.getName()).isEqualTo("http");
            assertThat(p.getContainerPort()).isEqualTo(8000);
        });
        assertProbe(gateway.getStartupProbe(), "/health/live", "http");
        assertProbe(gateway.getLivenessProbe(), "/health/live", "http");
        assertProbe(gateway.getReadinessProbe(), "/health/ready", "http");

        Container worker = main(chart.worker());
        assertThat(worker.getPorts()).singleElement().satisfies(p -> {
            assertThat(p.getName()).isEqualTo("health");
            assertThat(p.getContainerPort()).isEqualTo(8001);
        });
        assertProbe(worker.getStartupProbe(), "/health/live", "health");
        assertProbe(worker.getLivenessProbe(), "/health/live", "health");
        assertProbe(worker.getReadinessProbe(), "/health/ready", "health");
        Probe startup = worker.getStartupProbe();
        assertThat(startup.getPeriodSeconds() * startup.getFailureThreshold()).isGreaterThanOrEqualTo(60 * 60);
    }

    @Test
    void workersDrainBeforeStoppingWithinTheirGracePlusAMargin() {
        var preStop = main(chart.worker()).getLifecycle().getPreStop().getHttpGet();
        assertThat(preStop.getPath()).isEqualTo("/admin/drain");
        assertThat(preStop.getPort().getStrVal()).isEqualTo("health");
        assertThat(pod(chart.worker()).getTerminationGracePeriodSeconds()).isEqualTo(105L);

        Manifests longer = Manifests.render("default", "worker.shutdownGraceSeconds", 45);
        assertThat(pod(longer.worker()).getTerminationGracePeriodSeconds()).isEqualTo(120L);
        assertThat(longer.properties("worker")).containsEntry("shutdown-grace", "PT45S");
    }

    @Test
    void gatewaysLeaveTheServiceThenLetOpenRequestsFinish() {
        assertThat(chart.properties("gateway")).containsEntry("drain-delay", "PT5S").containsEntry("shutdown-grace", "PT30S");
        assertThat(pod(chart.gateway()).getTerminationGracePeriodSeconds()).isEqualTo(65L);
        Manifests longer = Manifests.render("default", "gateway.shutdownGraceSeconds", 120);
        assertThat(pod(longer.gateway()).getTerminationGracePeriodSeconds()).isEqualTo(155L);
        assertThat(longer.properties("gateway")).containsEntry("shutdown-grace", "PT120S");
    }

    @Test
    void workersRollOneAtATimeAndNoPodGetsServiceLinks() {
        var rolling = chart.worker().getSpec().getStrategy().getRollingUpdate();
        assertThat(rolling.getMaxSurge().getIntVal()).as("no surge pod waiting for a GPU").isZero();
        assertThat(rolling.getMaxUnavailable().getIntVal()).isEqualTo(1);
        for (var deployment : List.of(chart.gateway(), chart.worker())) {
            assertThat(pod(deployment).getEnableServiceLinks()).as("HYSERVE_* variables are options").isFalse();
        }
    }

    @Test
    void everyPodAndContainerRunsRestricted() {
        List<PodSpec> pods = List.of(pod(chart.gateway()), pod(chart.worker()), testPod().getSpec());
        for (PodSpec spec : pods) {
            assertRestrictedPod(spec);
        }
    }

    @Test
    void modelComesReadOnlyFromTheDefaultClaimInBothRoles() {
        for (Deployment deployment : List.of(chart.gateway(), chart.worker())) {
            Volume model = volume(deployment, "model");
            assertThat(model.getPersistentVolumeClaim().getClaimName()).isEqualTo("hunyuan-large");
            assertThat(model.getPersistentVolumeClaim().getReadOnly()).isTrue();
            VolumeMount mount = mount(main(deployment), "model");
            assertThat(mount.getMountPath()).isEqualTo("/model");
            assertThat(mount.getReadOnly()).isTrue();
            assertThat(pod(deployment).getInitContainers()).isEmpty();
        }
    }

    @Test
    void apiKeysAreOnWithAGeneratedKeyMountedIntoTheGateway() {
        String secretName = FULLNAME + "-api-keys";
        Secret secret = chart.get(Secret.class, secretName);
        String lines = new String(Base64.getDecoder().decode(secret.getData().get("api-keys")), StandardCharsets.UTF_8);
        assertThat(lines).matches("default:sk-[A-Za-z0-9]{48}");
        assertThat(Manifests.render("default").get(Secret.class, secretName).getData())
                .as("a fresh install draws a fresh key").isNotEqualTo(secret.getData());

        Container gateway = main(chart.gateway());
        Volume keys = volume(chart.gateway(), "api-keys");
        assertThat(keys.getSecret().getSecretName()).isEqualTo(secretName);
        assertThat(keys.getSecret().getItems()).singleElement().satisfies(item -> {
            assertThat(item.getKey()).isEqualTo("api-keys");
            assertThat(mount(gateway, "api-keys").getMountPath() + "/" + item.getPath())
                    .isEqualTo(argAfter(gateway, "--api-keys-file"));
        });
        assertThat(mount(gateway, "api-keys").getReadOnly()).isTrue();
        assertThat(main(chart.worker()).getArgs()).doesNotContain("--api-keys-file");
    }

    @Test
    void gatewayServiceAndDisruptionBudgetSelectOnlyGatewayPods() {
        Map<String, String> podLabels = chart.gateway().getSpec().getTemplate().getMetadata().getLabels();
        Service service = chart.get(Service.class, GATEWAY);
        assertThat(podLabels).containsAllEntriesOf(service.getSpec().getSelector());
        assertThat(service.getSpec().getSelector()).containsEntry("app.kubernetes.io/component", "gateway");
        assertThat(service.getSpec().getPorts()).singleElement().satisfies(p -> {
            assertThat(p.getPort()).isEqualTo(8000);
            assertThat(p.getTargetPort().getStrVal()).isEqualTo("http");
        });
        PodDisruptionBudget pdb = chart.get(PodDisruptionBudget.class, GATEWAY);
        assertThat(pdb.getSpec().getMaxUnavailable().getIntVal()).isEqualTo(1);
        assertThat(podLabels).containsAllEntriesOf(pdb.getSpec().getSelector().getMatchLabels());
        assertThat(chart.gateway().getSpec().getReplicas()).isEqualTo(2);
        assertThat(chart.names()).noneMatch(n -> n.startsWith("HorizontalPodAutoscaler/") || n.startsWith("Ingress/")
                || n.startsWith("NetworkPolicy/") || n.startsWith("Kafka"));
    }

    @Test
    void helmTestPodWaitsForReadinessThenCompletesOneTokenWithTheKey() {
        Pod test = testPod();
        assertThat(test.getMetadata().getAnnotations()).containsEntry("helm.sh/hook", "test");
        Container curl = test.getSpec().getContainers().getFirst();
        assertThat(curl.getImage()).matches("curlimages/curl:\\d+\\.\\d+\\.\\d+");
        assertThat(env(curl, "BASE_URL").getValue()).isEqualTo("http://" + GATEWAY + ":8000");
        assertThat(env(curl, "REQUEST_BODY").getValue())
                .isEqualTo("{\"max_tokens\":1,\"model\":\"hunyuan-large\",\"prompt\":\"Hello\"}");
        var key = env(curl, "API_KEYS").getValueFrom().getSecretKeyRef();
        assertThat(key.getName()).isEqualTo(FULLNAME + "-api-keys");
        assertThat(key.getKey()).isEqualTo("api-keys");
        String script = String.join("\n", curl.getCommand());
        assertThat(script).contains("\"$BASE_URL/health/ready\"", "\"$BASE_URL/v1/completions\"",
                "Authorization: Bearer ${line#*:}");
    }

    @Test
    void notesTellHowToReachTheApiAndReadTheKey() {
        K8sTools.Result install = K8sTools.helm("install", Manifests.RELEASE, Manifests.CHART.toString(), "--namespace",
                Manifests.NAMESPACE, "--dry-run=client");
        assertThat(install.exit()).as(install.output()).isZero();
        String notes = install.output().substring(install.output().indexOf("NOTES:"));
        assertThat(notes).contains("kubectl -n llm port-forward svc/" + GATEWAY + " 8000:8000",
                "get secret " + FULLNAME + "-api-keys", "{.data.api-keys}", "helm test prod");
    }

    static Pod testPod() {
        return testPod(Manifests.values("default"));
    }

    /** The {@code helm test} hook, as Helm 4 renders it (helm-java's template leaves hooks out). */
    static Pod testPod(Path values, String... sets) {
        Manifests all = Manifests.parse(K8sTools.template(values, sets));
        return all.get(Pod.class, FULLNAME + "-test");
    }

    static void assertRestrictedPod(PodSpec spec) {
        PodSecurityContext pod = spec.getSecurityContext();
        assertThat(pod.getRunAsNonRoot()).isTrue();
        assertThat(pod.getRunAsUser()).isEqualTo(65532L);
        assertThat(pod.getRunAsGroup()).isEqualTo(65532L);
        assertThat(pod.getSeccompProfile().getType()).isEqualTo("RuntimeDefault");
        assertThat(spec.getAutomountServiceAccountToken()).isFalse();
        assertThat(spec.getVolumes()).filteredOn(v -> v.getName().equals("tmp"))
                .singleElement().satisfies(v -> assertThat(v.getEmptyDir()).isNotNull());
        List<Container> containers = new ArrayList<>(spec.getContainers());
        containers.addAll(spec.getInitContainers());
        for (Container container : containers) {
            SecurityContext context = container.getSecurityContext();
            assertThat(context.getRunAsNonRoot()).as(container.getName()).isTrue();
            assertThat(context.getRunAsUser()).isEqualTo(65532L);
            assertThat(context.getRunAsGroup()).isEqualTo(65532L);
            assertThat(context.getReadOnlyRootFilesystem()).isTrue();
            assertThat(context.getAllowPrivilegeEscalation()).isFalse();
            assertThat(context.getCapabilities().getDrop()).containsExactly("ALL");
            assertThat(context.getCapabilities().getAdd()).isEmpty();
            assertThat(context.getSeccompProfile().getType()).isEqualTo("RuntimeDefault");
            assertThat(mount(container, "tmp").getMountPath()).isEqualTo("/tmp");
        }
    }

    static void assertProbe(Probe probe, String path, String port) {
        assertThat(probe.getHttpGet().getPath()).isEqualTo(path);
        assertThat(probe.getHttpGet().getPort().getStrVal()).isEqualTo(port);
    }

    static EnvVar env(Container container, String name) {
        return container.getEnv().stream().filter(e -> e.getName().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError(name + " not in the env of " + container.getName()));
    }

    static VolumeMount mount(Container container, String volume) {
        return container.getVolumeMounts().stream().filter(m -> m.getName().equals(volume)).findFirst()
                .orElseThrow(() -> new AssertionError(volume + " not mounted in " + container.getName()));
    }

    static Volume volume(Deployment deployment, String name) {
        return pod(deployment).getVolumes().stream().filter(v -> v.getName().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError("no volume " + name + " in " + name(deployment)));
    }

    /** The value after an option in a container's arguments. */
    static String argAfter(Container container, String option) {
        List<String> args = container.getArgs();
        int at = args.indexOf(option);
        assertThat(at).as("%s in %s", option, args).isNotNegative().isLessThan(args.size() - 1);
        return args.get(at + 1);
    }

    private static String name(HasMetadata object) {
        return object.getMetadata().getName();
    }
}

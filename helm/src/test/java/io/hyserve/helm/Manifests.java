package io.hyserve.helm;

import static org.assertj.core.api.Assertions.assertThat;

import com.marcnuri.helm.Helm;
import com.marcnuri.helm.TemplateCommand;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.StringReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

/**
 * One rendering of the chart by helm-java (Helm 3 as a native library), parsed into typed fabric8 objects; custom
 * resources (Strimzi, ServiceMonitor) come back as {@link GenericKubernetesResource}.
 */
record Manifests(String yaml, List<HasMetadata> objects) {
    static final Path CHART = Path.of("hunyuan-serve");
    static final Path CI = CHART.resolve("ci");
    static final String RELEASE = "prod";
    static final String NAMESPACE = "llm";
    /** The cluster version templates see; helm-java's client-only default (1.20) is below the chart's kubeVersion. */
    static final String KUBE_VERSION = "v1.33.0";
    /** Release name + chart name: the prefix of every resource name. */
    static final String FULLNAME = RELEASE + "-hunyuan-serve";
    static final String GATEWAY = FULLNAME + "-gateway";
    static final String WORKER = FULLNAME + "-worker";
    private static final KubernetesSerialization SERIALIZATION = new KubernetesSerialization();

    /** Renders {@code ci/<variant>-values.yaml} plus {@code --set} pairs (in order, later wins). */
    static Manifests render(String variant, Object... sets) {
        return parse(template(variant, sets).call());
    }

    static TemplateCommand template(String variant, Object... sets) {
        TemplateCommand template = new Helm(CHART).template().withName(RELEASE).withNamespace(NAMESPACE)
                .withKubeVersion(KUBE_VERSION).withValuesFile(values(variant));
        for (Map.Entry<String, Object> set : pairs(sets).entrySet()) {
            template.set(set.getKey(), set.getValue());
        }
        return template;
    }

    static Path values(String variant) {
        return CI.resolve(variant + "-values.yaml");
    }

    static Manifests parse(String yaml) {
        // A multi-document stream comes back as a list, one typed object per document.
        List<HasMetadata> objects =
                SERIALIZATION.unmarshal(new ByteArrayInputStream(yaml.getBytes(StandardCharsets.UTF_8)));
        return new Manifests(yaml, objects);
    }

    static Map<String, Object> pairs(Object... sets) {
        assertThat(sets.length % 2).as("--set key/value pairs").isZero();
        Map<String, Object> pairs = new LinkedHashMap<>();
        for (int i = 0; i < sets.length; i += 2) {
            pairs.put((String) sets[i], sets[i + 1]);
        }
        return pairs;
    }

    <T extends HasMetadata> List<T> all(Class<T> type) {
        return objects.stream().filter(type::isInstance).map(type::cast).toList();
    }

    <T extends HasMetadata> T get(Class<T> type, String name) {
        List<T> found = all(type).stream().filter(o -> o.getMetadata().getName().equals(name)).toList();
        assertThat(found).as("%s %s among %s", type.getSimpleName(), name, names()).hasSize(1);
        return found.getFirst();
    }

    boolean has(Class<? extends HasMetadata> type, String name) {
        return all(type).stream().anyMatch(o -> o.getMetadata().getName().equals(name));
    }

    /** Custom resources of one kind (parsed generically, since fabric8 has no model of them). */
    List<GenericKubernetesResource> custom(String kind) {
        return all(GenericKubernetesResource.class).stream().filter(r -> r.getKind().equals(kind)).toList();
    }

    List<String> names() {
        return objects.stream().map(o -> o.getKind() + "/" + o.getMetadata().getName()).toList();
    }

    Deployment gateway() {
        return get(Deployment.class, GATEWAY);
    }

    Deployment worker() {
        return get(Deployment.class, WORKER);
    }

    static PodSpec pod(Deployment deployment) {
        return deployment.getSpec().getTemplate().getSpec();
    }

    /** The one application container of a Deployment. */
    static Container main(Deployment deployment) {
        List<Container> containers = pod(deployment).getContainers();
        assertThat(containers).hasSize(1);
        return containers.getFirst();
    }

    /** The {@code serve} options of a role, as the pod reads them from HYSERVE_CONFIG. */
    Properties properties(String role) {
        String text = get(ConfigMap.class, FULLNAME).getData().get(role + ".properties");
        assertThat(text).as("%s.properties in the ConfigMap", role).isNotNull();
        Properties properties = new Properties();
        try {
            properties.load(new StringReader(text));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return properties;
    }
}

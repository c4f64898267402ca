package io.hyserve.schemas;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.networknt.schema.Error;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaLocation;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SpecificationVersion;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import tools.jackson.core.JacksonException;
import tools.jackson.core.StreamReadFeature;
import tools.jackson.databind.DeserializationFeature;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.PropertyNamingStrategies;
import tools.jackson.databind.json.JsonMapper;

/**
 * Encodes and decodes the pipeline's messages. Decoding parses once, validates the tree against the
 * message's JSON Schema (draft 2020-12, bundled in this module) and only then binds the record, so a
 * message that reaches a record is valid.
 */
public final class Wire {
    public static final int SCHEMA_VERSION = 1;
    private static final String SCHEMA_BASE = "https://hyserve.io/schemas/";
    /** Violations listed in an error message; the rest are counted. */
    private static final int MAX_REPORTED_ERRORS = 5;

    private static final JsonMapper MAPPER = JsonMapper.builder()
            .propertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .changeDefaultPropertyInclusion(inclusion -> inclusion.withValueInclusion(JsonInclude.Include.NON_NULL))
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .build();

    private static final SchemaRegistry REGISTRY = SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_2020_12,
            builder -> builder.schemaIdResolvers(ids -> ids.mapPrefix(SCHEMA_BASE, "classpath:io/hyserve/schemas/")));

    private static final Map<Class<?>, Schema> SCHEMAS = Map.of(
            InferenceRequest.class, load("inference-request"),
            StreamEvent.class, load("stream-event"),
            ControlMessage.class, load("control"),
            JobStatus.class, load("job-status"),
            WorkerHeartbeat.class, load("worker-heartbeat"));

    private Wire() {}

    private static Schema load(String name) {
        Schema schema = REGISTRY.getSchema(SchemaLocation.of(SCHEMA_BASE + name + ".schema.json"));
        schema.initializeValidators();
        return schema;
    }

    /** The schema resource of a message type, for documentation and tests. */
    public static String schemaResource(Class<?> type) {
        requireMessageType(type);
        return "/io/hyserve/schemas/" + switch (type.getSimpleName()) {
            case "InferenceRequest" -> "inference-request";
            case "StreamEvent" -> "stream-event";
            case "ControlMessage" -> "control";
            case "JobStatus" -> "job-status";
            default -> "worker-heartbeat";
        } + ".schema.json";
    }

    /** UTF-8 JSON of a message; fields that are null are left out. */
    public static byte[] encode(Object message) {
        requireMessageType(message instanceof StreamEvent ? StreamEvent.class
                : message instanceof ControlMessage ? ControlMessage.class : message.getClass());
        return MAPPER.writeValueAsBytes(message);
    }

    /** Parses, validates against {@code type}'s schema and binds. */
    public static <T> T decode(byte[] json, Class<T> type) throws WireException {
        Schema schema = requireMessageType(type);
        JsonNode tree;
        try {
            tree = MAPPER.readTree(json);
        } catch (JacksonException e) {
            throw new WireException("not valid JSON: " + e.getOriginalMessage(), e);
        }
        if (tree == null || tree.isMissingNode()) {
            throw new WireException("not valid JSON: the message is empty");
        }
        List<Error> errors;
        try {
            errors = schema.validate(tree);
        } catch (RuntimeException e) {
            // The validator itself can fail on extreme values (a float beyond long range where an integer is
            // expected, found by fuzzing): that is still a refused message, never a crash of the reader.
            throw new WireException("invalid %s: a value is out of range: %s".formatted(type.getSimpleName(),
                    e.getMessage()), e);
        }
        if (!errors.isEmpty()) {
            String listed = errors.stream().limit(MAX_REPORTED_ERRORS).map(Wire::describe)
                    .collect(Collectors.joining("; "));
            int more = errors.size() - MAX_REPORTED_ERRORS;
            throw new WireException("invalid %s: %s%s".formatted(type.getSimpleName(), listed,
                    more > 0 ? " (and %d more)".formatted(more) : ""));
        }
        try {
            return MAPPER.treeToValue(tree, type);
        } catch (JacksonException e) {
            throw new WireException("invalid %s: %s".formatted(type.getSimpleName(), e.getOriginalMessage()), e);
        }
    }

    public static <T> T decode(String json, Class<T> type) throws WireException {
        return decode(json.getBytes(StandardCharsets.UTF_8), type);
    }

    private static String describe(Error error) {
        String pointer = error.getInstanceLocation().toString();
        return (pointer.isEmpty() ? "/" : pointer) + ": " + error.getMessage();
    }

    private static Schema requireMessageType(Class<?> type) {
        Schema schema = SCHEMAS.get(type);
        if (schema == null) {
            throw new IllegalArgumentException(type.getName() + " is not a wire message type");
        }
        return schema;
    }
}

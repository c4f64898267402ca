package io.hyserve.engine.load;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One memory-mapped {@code .safetensors} file: an 8-byte little-endian header length N, N bytes of JSON,
 * then the data section that every tensor's {@code data_offsets} address. Nothing is copied; files of any
 * size are mapped through the FFM API, and every offset is checked against the file before use so a
 * damaged file yields a {@link CheckpointException}, never a crash.
 */
public final class SafetensorsFile {
    /** Real headers are a few MB at most; anything larger is a corrupt length field. */
    static final long MAX_HEADER_BYTES = 256L << 20;

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final ValueLayout.OfLong HEADER_LENGTH =
            ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final Path path;
    private final Map<String, Tensor> tensors;
    private final Map<String, String> metadata;

    private SafetensorsFile(Path path, Map<String, Tensor> tensors, Map<String, String> metadata) {
        this.path = path;
        this.tensors = tensors;
        this.metadata = metadata;
    }

    /** Maps {@code path} into {@code arena}; the tensors stay valid until the arena is closed. */
    public static SafetensorsFile open(Path path, Arena arena) {
        MemorySegment file;
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = channel.size();
            if (size < Long.BYTES) {
                throw new CheckpointException(
                        "%s: truncated safetensors file (%d bytes, shorter than the 8-byte header length)"
                                .formatted(path, size));
            }
            file = channel.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
        } catch (IOException e) {
            throw new CheckpointException("%s: cannot read safetensors file: %s".formatted(path, e.getMessage()), e);
        }
        return parse(path, file);
    }

    static SafetensorsFile parse(Path path, MemorySegment file) {
        long headerLength = file.get(HEADER_LENGTH, 0);
        long available = file.byteSize() - Long.BYTES;
        if (headerLength < 2 || headerLength > MAX_HEADER_BYTES) {
            throw new CheckpointException("%s: bad safetensors header: header length %s is not plausible"
                    .formatted(path, Long.toUnsignedString(headerLength)));
        }
        if (headerLength > available) {
            throw new CheckpointException(
                    "%s: truncated safetensors file: header needs %d bytes but only %d follow the length field"
                            .formatted(path, headerLength, available));
        }
        byte[] headerBytes = file.asSlice(Long.BYTES, headerLength).toArray(ValueLayout.JAVA_BYTE);
        JsonNode header;
        try {
            header = JSON.readTree(new String(headerBytes, StandardCharsets.UTF_8));
        } catch (JsonProcessingException e) {
            throw new CheckpointException("%s: bad safetensors header: invalid JSON (%s)"
                    .formatted(path, e.getOriginalMessage()), e);
        }
        if (header == null || !header.isObject()) {
            throw new CheckpointException("%s: bad safetensors header: expected a JSON object".formatted(path));
        }
        MemorySegment data = file.asSlice(Long.BYTES + headerLength);
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        Map<String, String> metadata = Map.of();
        for (Map.Entry<String, JsonNode> entry : header.properties()) {
            if (entry.getKey().equals("__metadata__")) {
                metadata = parseMetadata(path, entry.getValue());
            } else {
                tensors.put(entry.getKey(), parseTensor(path, entry.getKey(), entry.getValue(), data));
            }
        }
        return new SafetensorsFile(path, Collections.unmodifiableMap(tensors), metadata);
    }

    private static Map<String, String> parseMetadata(Path path, JsonNode node) {
        if (!node.isObject()) {
            throw new CheckpointException("%s: bad safetensors header: __metadata__ must be an object".formatted(path));
        }
        Map<String, String> metadata = new LinkedHashMap<>();
        node.properties().forEach(e -> metadata.put(e.getKey(), e.getValue().asText()));
        return Collections.unmodifiableMap(metadata);
    }

    private static Tensor parseTensor(Path path, String name, JsonNode node, MemorySegment data) {
        JsonNode dtypeNode = node.get("dtype");
        JsonNode shapeNode = node.get("shape");
        JsonNode offsetsNode = node.get("data_offsets");
        if (dtypeNode == null || !dtypeNode.isTextual() || shapeNode == null || !shapeNode.isArray()
                || offsetsNode == null || !offsetsNode.isArray() || offsetsNode.size() != 2) {
            throw new CheckpointException(("%s: bad safetensors header: tensor '%s' needs a string \"dtype\", "
                    + "an array \"shape\" and a two-element \"data_offsets\"").formatted(path, name));
        }
        long[] shape = new long[shapeNode.size()];
        long elements = 1;
        for (int i = 0; i < shape.length; i++) {
            JsonNode dim = shapeNode.get(i);
            if (!dim.canConvertToLong() || !dim.isIntegralNumber() || dim.asLong() < 0) {
                throw new CheckpointException("%s: bad safetensors header: tensor '%s' has an invalid shape %s"
                        .formatted(path, name, shapeNode));
            }
            shape[i] = dim.asLong();
            elements = multiplyOrFail(path, name, elements, shape[i]);
        }
        long begin = offset(path, name, offsetsNode.get(0));
        long end = offset(path, name, offsetsNode.get(1));
        if (begin > end || end > data.byteSize()) {
            throw new CheckpointException(
                    "%s: truncated or corrupt file: tensor '%s' occupies bytes [%d, %d) of a %d-byte data section"
                            .formatted(path, name, begin, end, data.byteSize()));
        }
        String rawDtype = dtypeNode.asText();
        DType dtype = DType.fromSafetensors(rawDtype).orElse(null);
        if (dtype != null) {
            long expectedBytes = multiplyOrFail(path, name, elements, dtype.byteSize());
            if (end - begin != expectedBytes) {
                throw new CheckpointException("%s: tensor '%s' (%s %s) should hold %d bytes but its offsets span %d"
                        .formatted(path, name, rawDtype, shapeNode, expectedBytes, end - begin));
            }
        }
        return new Tensor(name, path, dtype, rawDtype, shape, data.asSlice(begin, end - begin));
    }

    private static long offset(Path path, String name, JsonNode node) {
        if (!node.isIntegralNumber() || !node.canConvertToLong() || node.asLong() < 0) {
            throw new CheckpointException("%s: bad safetensors header: tensor '%s' has invalid data_offsets"
                    .formatted(path, name));
        }
        return node.asLong();
    }

    private static long multiplyOrFail(Path path, String name, long a, long b) {
        try {
            return Math.multiplyExact(a, b);
        } catch (ArithmeticException e) {
            throw new CheckpointException("%s: bad safetensors header: tensor '%s' is impossibly large".formatted(path, name));
        }
    }

    public Path path() {
        return path;
    }

    public Map<String, Tensor> tensors() {
        return tensors;
    }

    public Map<String, String> metadata() {
        return metadata;
    }
}

package io.hyserve.engine.load;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The tensors of a checkpoint folder: {@code model.safetensors}, or the shards named by
 * {@code model.safetensors.index.json}. Files stay memory-mapped until {@link #close()}.
 */
public final class Checkpoint implements AutoCloseable {
    public static final String SINGLE_FILE = "model.safetensors";
    public static final String INDEX_FILE = "model.safetensors.index.json";

    private final Path directory;
    /** The file a missing tensor is reported against: the single file, or the shard index. */
    private final Path source;
    private final Arena arena;
    private final Map<String, Tensor> tensors;

    private Checkpoint(Path directory, Path source, Arena arena, Map<String, Tensor> tensors) {
        this.directory = directory;
        this.source = source;
        this.arena = arena;
        this.tensors = tensors;
    }

    public static Checkpoint open(Path directory) {
        Arena arena = Arena.ofShared();
        try {
            Path index = directory.resolve(INDEX_FILE);
            boolean sharded = Files.isRegularFile(index);
            Map<String, Tensor> tensors = sharded ? openSharded(directory, index, arena) : openSingle(directory, arena);
            Path source = sharded ? index : directory.resolve(SINGLE_FILE);
            return new Checkpoint(directory, source, arena, Collections.unmodifiableMap(tensors));
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    private static Map<String, Tensor> openSingle(Path directory, Arena arena) {
        Path file = directory.resolve(SINGLE_FILE);
        if (!Files.isRegularFile(file)) {
            throw new CheckpointException("%s: no %s or %s in the model folder".formatted(directory, SINGLE_FILE, INDEX_FILE));
        }
        return new LinkedHashMap<>(SafetensorsFile.open(file, arena).tensors());
    }

    private static Map<String, Tensor> openSharded(Path directory, Path index, Arena arena) {
        JsonNode weightMap;
        try {
            weightMap = new ObjectMapper().readTree(index.toFile()).get("weight_map");
        } catch (IOException e) {
            throw new CheckpointException("%s: cannot parse the shard index: %s".formatted(index, e.getMessage()), e);
        }
        if (weightMap == null || !weightMap.isObject()) {
            throw new CheckpointException("%s: the shard index has no \"weight_map\" object".formatted(index));
        }
        Map<String, SafetensorsFile> shards = new LinkedHashMap<>();
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> entry : weightMap.properties()) {
            String name = entry.getKey();
            String shardName = entry.getValue().asText();
            Path shardPath = directory.resolve(shardName).normalize();
            if (!shardPath.startsWith(directory.normalize()) || shardName.isEmpty()) {
                throw new CheckpointException("%s: tensor '%s' points at '%s', outside the model folder"
                        .formatted(index, name, shardName));
            }
            SafetensorsFile shard = shards.computeIfAbsent(shardName, n -> openShard(index, shardPath, arena));
            Tensor tensor = shard.tensors().get(name);
            if (tensor == null) {
                throw new CheckpointException("%s: missing tensor '%s' (the shard index lists it in this file)"
                        .formatted(shardPath, name));
            }
            tensors.put(name, tensor);
        }
        return tensors;
    }

    private static SafetensorsFile openShard(Path index, Path shard, Arena arena) {
        if (!Files.isRegularFile(shard)) {
            throw new CheckpointException("%s: shard %s listed in the index does not exist".formatted(index, shard));
        }
        return SafetensorsFile.open(shard, arena);
    }

    public Path directory() {
        return directory;
    }

    public Collection<Tensor> tensors() {
        return tensors.values();
    }

    public boolean contains(String name) {
        return tensors.containsKey(name);
    }

    /** The named tensor, or an error naming the folder and the tensor. */
    public Tensor tensor(String name) {
        Tensor tensor = tensors.get(name);
        if (tensor == null) {
            throw new CheckpointException("%s: missing tensor '%s'".formatted(source, name));
        }
        return tensor;
    }

    @Override
    public void close() {
        arena.close();
    }
}

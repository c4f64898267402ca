package io.hyserve.engine.load;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/** Writes a {@code .safetensors} file whose tensors are filled in place through a writable mapping. */
public final class SafetensorsWriter {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** A tensor to write; {@code fill} receives its exactly-sized data region (it may fill it from several threads). */
    public record Entry(String name, DType dtype, long[] shape, Consumer<MemorySegment> fill) {
        long byteSize() {
            long count = dtype.byteSize();
            for (long dim : shape) {
                count = Math.multiplyExact(count, dim);
            }
            return count;
        }
    }

    private SafetensorsWriter() {}

    public static void write(Path file, List<Entry> entries, Map<String, String> metadata) {
        ObjectNode header = JSON.createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode meta = header.putObject("__metadata__");
            metadata.forEach(meta::put);
        }
        long offset = 0;
        long[] begins = new long[entries.size()];
        for (int i = 0; i < entries.size(); i++) {
            Entry entry = entries.get(i);
            ObjectNode node = header.putObject(entry.name());
            node.put("dtype", entry.dtype().name());
            ArrayNode shape = node.putArray("shape");
            for (long dim : entry.shape()) {
                shape.add(dim);
            }
            begins[i] = offset;
            offset += entry.byteSize();
            node.putArray("data_offsets").add(begins[i]).add(offset);
        }
        byte[] json = header.toString().getBytes(StandardCharsets.UTF_8);
        // Pad with spaces so the data section starts 8-byte aligned, as the reference writer does.
        int padded = (json.length + 7) & ~7;
        long dataStart = Long.BYTES + padded;
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ,
                        StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING);
                Arena arena = Arena.ofShared()) {
            MemorySegment out = channel.map(FileChannel.MapMode.READ_WRITE, 0, dataStart + offset, arena);
            out.set(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0, padded);
            MemorySegment headerRegion = out.asSlice(Long.BYTES, padded);
            headerRegion.fill((byte) ' ');
            MemorySegment.copy(json, 0, headerRegion, ValueLayout.JAVA_BYTE, 0, json.length);
            for (int i = 0; i < entries.size(); i++) {
                entries.get(i).fill().accept(out.asSlice(dataStart + begins[i], entries.get(i).byteSize()));
            }
            out.force();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }
}

package io.hyserve.engine.load;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsFileTest {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @TempDir
    Path dir;

    private Path writeRaw(String name, String header, byte[] data) throws IOException {
        byte[] json = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer buffer = ByteBuffer.allocate(8 + json.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        buffer.putLong(json.length).put(json).put(data);
        Path file = dir.resolve(name);
        Files.write(file, buffer.array());
        return file;
    }

    @Test
    void readsTensorsInPlaceWithUnalignedDataSection() throws IOException {
        // A 7-byte header leaves the data section at byte 15: floats must still read correctly.
        ByteBuffer data = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putFloat(1.5f).putFloat(-2f);
        String header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"__metadata__\":{\"k\":\"v\"}}";
        Path file = writeRaw("ok.safetensors", header, data.array());
        try (Arena arena = Arena.ofConfined()) {
            SafetensorsFile st = SafetensorsFile.open(file, arena);
            Tensor a = st.tensors().get("a");
            assertThat(a.dtype()).isEqualTo(DType.F32);
            assertThat(a.shape()).containsExactly(2);
            assertThat(a.data().get(F32, 0)).isEqualTo(1.5f);
            assertThat(a.data().get(F32, 4)).isEqualTo(-2f);
            assertThat(st.metadata()).containsEntry("k", "v");
        }
    }

    @Test
    void truncatedFileNamesFileAndTensor() throws IOException {
        String header = "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}";
        Path file = writeRaw("short.safetensors", header, new byte[8]);
        assertThatThrownBy(() -> open(file))
                .isInstanceOf(CheckpointException.class)
                .hasMessageContaining("short.safetensors")
                .hasMessageContaining("'w'")
                .hasMessageContaining("truncated");
    }

    @Test
    void fileShorterThanHeaderIsTruncated() throws IOException {
        Path file = dir.resolve("cut.safetensors");
        Files.write(file, new byte[] {100, 0, 0, 0, 0, 0, 0, 0, '{'});
        assertThatThrownBy(() -> open(file)).isInstanceOf(CheckpointException.class).hasMessageContaining("truncated");
        Files.write(file, new byte[] {1, 2, 3});
        assertThatThrownBy(() -> open(file)).isInstanceOf(CheckpointException.class).hasMessageContaining("truncated");
    }

    @Test
    void badHeadersAreClearErrors() throws IOException {
        assertThatThrownBy(() -> open(writeRaw("json.safetensors", "{not json", new byte[0])))
                .isInstanceOf(CheckpointException.class).hasMessageContaining("bad safetensors header");
        assertThatThrownBy(() -> open(writeRaw("array.safetensors", "[1, 2]", new byte[0])))
                .isInstanceOf(CheckpointException.class).hasMessageContaining("JSON object");
        assertThatThrownBy(() -> open(writeRaw("shape.safetensors",
                        "{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,0]}}", new byte[0])))
                .isInstanceOf(CheckpointException.class).hasMessageContaining("'w'").hasMessageContaining("shape");
        assertThatThrownBy(() -> open(writeRaw("size.safetensors",
                        "{\"w\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[0,4]}}", new byte[4])))
                .isInstanceOf(CheckpointException.class).hasMessageContaining("'w'").hasMessageContaining("6 bytes");
        Path huge = dir.resolve("huge.safetensors");
        Files.write(huge, ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(-5L).array());
        assertThatThrownBy(() -> open(huge)).isInstanceOf(CheckpointException.class).hasMessageContaining("not plausible");
    }

    @Test
    void unsupportedDtypeFailsOnlyWhenTheTensorIsUsed() throws IOException {
        Path file = writeRaw("i8.safetensors",
                "{\"q\":{\"dtype\":\"I8\",\"shape\":[2],\"data_offsets\":[0,2]}}", new byte[2]);
        try (Arena arena = Arena.ofConfined()) {
            Tensor q = SafetensorsFile.open(file, arena).tensors().get("q");
            assertThatThrownBy(q::requireReadableDtype).isInstanceOf(CheckpointException.class)
                    .hasMessageContaining("i8.safetensors").hasMessageContaining("'q'").hasMessageContaining("I8");
        }
    }

    @Test
    void wrongShapeNamesFileAndTensor() throws IOException {
        Path file = writeRaw("s.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}",
                new byte[16]);
        try (Arena arena = Arena.ofConfined()) {
            Tensor w = SafetensorsFile.open(file, arena).tensors().get("w");
            assertThatThrownBy(() -> w.requireShape(4, 1)).isInstanceOf(CheckpointException.class)
                    .hasMessageContaining("s.safetensors").hasMessageContaining("'w'").hasMessageContaining("[4, 1]");
        }
    }

    @Test
    void tensorsBeyondTwoGibibytesAreReadable() throws IOException {
        long offset = (3L << 30) + 5; // past 2^31 and odd, so nothing lines up
        String header = "{\"far\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[%d,%d]}}".formatted(offset, offset + 8);
        byte[] json = header.getBytes(StandardCharsets.UTF_8);
        Path file = dir.resolve("big.safetensors");
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE,
                StandardOpenOption.SPARSE)) {
            channel.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, json.length));
            channel.write(ByteBuffer.wrap(json));
            ByteBuffer values = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putFloat(0, 3.25f).putFloat(4, 7f);
            channel.write(values, 8 + json.length + offset);
        }
        try (Arena arena = Arena.ofConfined()) {
            Tensor far = SafetensorsFile.open(file, arena).tensors().get("far");
            assertThat(far.data().get(F32, 0)).isEqualTo(3.25f);
            assertThat(far.data().get(F32, 4)).isEqualTo(7f);
        }
        assertThat(Files.size(file)).isGreaterThan(1L << 31);
    }

    @Test
    void writerRoundTripsThroughReader() {
        Path file = dir.resolve("w.safetensors");
        SafetensorsWriter.write(file, List.of(new SafetensorsWriter.Entry("x", DType.F32, new long[] {3},
                s -> {
                    for (int i = 0; i < 3; i++) {
                        s.set(F32, 4L * i, i + 0.5f);
                    }
                })), Map.of("format", "pt"));
        try (Arena arena = Arena.ofConfined()) {
            Tensor x = SafetensorsFile.open(file, arena).tensors().get("x");
            assertThat(x.data().get(F32, 8)).isEqualTo(2.5f);
        }
    }

    @Test
    void damagedBytesNeverCrashTheParser() throws IOException {
        byte[] good = Files.readAllBytes(writeRaw("g.safetensors",
                "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", new byte[8]));
        java.util.SplittableRandom random = new java.util.SplittableRandom(7);
        for (int trial = 0; trial < 300; trial++) {
            byte[] bad = good.clone();
            for (int flips = 0; flips < 3; flips++) {
                bad[random.nextInt(bad.length)] = (byte) random.nextInt(256);
            }
            if (random.nextBoolean()) {
                bad = java.util.Arrays.copyOf(bad, random.nextInt(bad.length));
            }
            Path file = dir.resolve("fuzz.safetensors");
            Files.write(file, bad);
            try (Arena arena = Arena.ofConfined()) {
                SafetensorsFile.open(file, arena);
            } catch (CheckpointException expected) {
                assertThat(expected.getMessage()).contains("fuzz.safetensors");
            }
        }
    }

    private static void open(Path file) {
        try (Arena arena = Arena.ofConfined()) {
            SafetensorsFile.open(file, arena);
        }
    }
}

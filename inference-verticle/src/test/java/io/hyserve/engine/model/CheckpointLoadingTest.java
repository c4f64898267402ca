package io.hyserve.engine.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.hyserve.engine.backend.cpu.CpuBackend;
import io.hyserve.engine.load.Checkpoint;
import io.hyserve.engine.load.CheckpointException;
import io.hyserve.engine.load.DType;
import io.hyserve.engine.load.SafetensorsWriter;
import io.hyserve.engine.load.Tensor;
import io.hyserve.engine.testing.Fixtures;
import io.hyserve.engine.testing.SingleSequence;
import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Loading whole checkpoints: sharded files, progress, and the errors a damaged checkpoint must give. */
class CheckpointLoadingTest {
    private static final int[] PROMPT = {791, 4062, 14198, 39935, 35308, 927, 279};

    @TempDir
    Path dir;

    private static float[] lastLogits(Path model) {
        try (CpuBackend backend = CpuBackend.vector(2);
                HunyuanModel loaded = HunyuanModel.load(model, backend, LoadProgress.NONE);
                SingleSequence sequence = new SingleSequence(loaded, PROMPT.length)) {
            return sequence.appendLast(PROMPT);
        }
    }

    /**
     * A variant of the F32 fixture in {@code dir/name}: its config.json through {@code config}, and each tensor
     * replaced by the entries {@code tensors} makes of it (none to drop it).
     */
    private Path fixtureVariant(String name, UnaryOperator<String> config,
            Function<Tensor, List<SafetensorsWriter.Entry>> tensors) throws IOException {
        Path source = Fixtures.model(Fixtures.F32_MODEL);
        Path target = dir.resolve(name);
        Files.createDirectories(target);
        Files.writeString(target.resolve("config.json"), config.apply(Files.readString(source.resolve("config.json"))));
        try (Checkpoint checkpoint = Checkpoint.open(source)) {
            List<SafetensorsWriter.Entry> entries = new ArrayList<>();
            for (Tensor tensor : checkpoint.tensors()) {
                entries.addAll(tensors.apply(tensor));
            }
            SafetensorsWriter.write(target.resolve(Checkpoint.SINGLE_FILE), entries, Map.of());
        }
        return target;
    }

    /** The F32 fixture with each tensor passed through {@code edit} (null drops it). */
    private Path rewrittenFixture(String name, UnaryOperator<Tensor> edit) throws IOException {
        return fixtureVariant(name, UnaryOperator.identity(), t -> {
            Tensor kept = edit.apply(t);
            return kept == null ? List.of() : List.of(copyOf(kept));
        });
    }

    private static SafetensorsWriter.Entry copyOf(Tensor tensor) {
        return new SafetensorsWriter.Entry(tensor.name(), tensor.dtype(), tensor.shape(),
                out -> out.copyFrom(tensor.data().asSlice(0, Math.min(out.byteSize(), tensor.data().byteSize()))));
    }

    @Test
    void shardedCheckpointGivesTheSameLogitsAsTheSingleFile() throws IOException {
        Path source = Fixtures.model(Fixtures.F32_MODEL);
        Path sharded = dir.resolve("sharded");
        Files.createDirectories(sharded);
        Files.copy(source.resolve("config.json"), sharded.resolve("config.json"));
        ObjectNode index = new ObjectMapper().createObjectNode();
        ObjectNode weightMap = index.putObject("weight_map");
        try (Checkpoint checkpoint = Checkpoint.open(source)) {
            List<List<SafetensorsWriter.Entry>> shards = List.of(new ArrayList<>(), new ArrayList<>(), new ArrayList<>());
            int i = 0;
            for (Tensor tensor : checkpoint.tensors()) {
                int shard = i++ % 3;
                shards.get(shard).add(copyOf(tensor));
                weightMap.put(tensor.name(), "model-%05d-of-00003.safetensors".formatted(shard + 1));
            }
            for (int s = 0; s < 3; s++) {
                SafetensorsWriter.write(sharded.resolve("model-%05d-of-00003.safetensors".formatted(s + 1)),
                        shards.get(s), Map.of());
            }
        }
        Files.writeString(sharded.resolve(Checkpoint.INDEX_FILE), index.toString());
        assertThat(lastLogits(sharded)).containsExactly(lastLogits(source));
    }

    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort F16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** The F32 fixture with every tensor rounded to F16: stored as F16, or as F32 holding the same values. */
    private Path halfPrecisionFixture(String name, boolean storeAsF16) throws IOException {
        return fixtureVariant(name, UnaryOperator.identity(), t -> List.of(new SafetensorsWriter.Entry(t.name(),
                storeAsF16 ? DType.F16 : DType.F32, t.shape(), out -> {
                    for (long i = 0; i < t.elementCount(); i++) {
                        short half = Float.floatToFloat16(t.data().get(F32, 4 * i));
                        if (storeAsF16) {
                            out.set(F16, 2 * i, half);
                        } else {
                            out.set(F32, 4 * i, Float.float16ToFloat(half));
                        }
                    }
                })));
    }

    @Test
    void f16WeightsComputeExactlyLikeTheirF32Values() throws IOException {
        float[] half = lastLogits(halfPrecisionFixture("f16", true));
        assertThat(half).containsExactly(lastLogits(halfPrecisionFixture("f16-as-f32", false)));
        assertThat(half).isNotEqualTo(lastLogits(Fixtures.model(Fixtures.F32_MODEL)));
    }

    @Test
    void untiedOutputProjectionIsReadFromLmHead() throws IOException {
        float[] tied = lastLogits(Fixtures.model(Fixtures.F32_MODEL));
        UnaryOperator<String> untie = c -> c.replace("\"tie_word_embeddings\": true", "\"tie_word_embeddings\": false");
        Path headless = fixtureVariant("untied", untie, t -> List.of(copyOf(t)));
        assertThatThrownBy(() -> lastLogits(headless)).isInstanceOf(CheckpointException.class)
                .hasMessageContaining("missing tensor 'lm_head.weight'");
        // lm_head = the embedding with its sign flipped: every logit must flip with it.
        Path withHead = fixtureVariant("with-head", untie, t -> !t.name().equals("model.embed_tokens.weight")
                ? List.of(copyOf(t))
                : List.of(copyOf(t), new SafetensorsWriter.Entry("lm_head.weight", DType.F32, t.shape(), out -> {
                    for (long i = 0; i < t.elementCount(); i++) {
                        out.set(F32, 4 * i, -t.data().get(F32, 4 * i));
                    }
                })));
        float[] untied = lastLogits(withHead);
        for (int i = 0; i < tied.length; i++) {
            assertThat(untied[i]).isEqualTo(-tied[i]);
        }
    }

    @Test
    void attentionBiasesAreLoadedAndApplied() throws IOException {
        float[] plain = lastLogits(Fixtures.model(Fixtures.F32_MODEL));
        assertThat(lastLogits(withAttentionBiases("zero-bias", 0f))).containsExactly(plain);
        assertThat(lastLogits(withAttentionBiases("bias", 0.05f))).isNotEqualTo(plain);
    }

    /** The F32 fixture with attention_bias on and every q/k/v/o bias set to {@code value}. */
    private Path withAttentionBiases(String name, float value) throws IOException {
        return fixtureVariant(name, c -> c.replace("\"attention_bias\": false", "\"attention_bias\": true"), t -> {
            if (!t.name().matches("model\\.layers\\.\\d+\\.self_attn\\.[qkvo]_proj\\.weight")) {
                return List.of(copyOf(t));
            }
            long rows = t.shape()[0];
            return List.of(copyOf(t), new SafetensorsWriter.Entry(t.name().replace(".weight", ".bias"), DType.F32,
                    new long[] {rows}, out -> {
                        for (long i = 0; i < rows; i++) {
                            out.set(F32, 4 * i, value);
                        }
                    }));
        });
    }

    @Test
    void progressCountsEveryTensorAndByte() {
        AtomicInteger calls = new AtomicInteger();
        long[] last = new long[4];
        try (CpuBackend backend = CpuBackend.vector(1);
                HunyuanModel ignored = HunyuanModel.load(Fixtures.model(Fixtures.BF16_MODEL), backend,
                        (done, total, bytes, totalBytes) -> {
                            calls.incrementAndGet();
                            last[0] = done;
                            last[1] = total;
                            last[2] = bytes;
                            last[3] = totalBytes;
                        })) {
            assertThat(calls.get()).isEqualTo(last[1]).isGreaterThan(40);
            assertThat(last[0]).isEqualTo(last[1]);
            assertThat(last[2]).isEqualTo(last[3]).isGreaterThan(16_000_000L);
        }
    }

    @Test
    void missingTensorNamesFileAndTensor() throws IOException {
        Path model = rewrittenFixture("missing", t -> t.name().equals("model.layers.2.self_attn.k_proj.weight") ? null : t);
        assertThatThrownBy(() -> lastLogits(model))
                .isInstanceOf(CheckpointException.class)
                .hasMessageContaining("model.safetensors")
                .hasMessageContaining("missing tensor 'model.layers.2.self_attn.k_proj.weight'");
    }

    @Test
    void wrongShapeNamesFileAndTensor() throws IOException {
        Path model = rewrittenFixture("shape", t -> t.name().equals("model.layers.1.mlp.experts.3.up_proj.weight")
                ? new Tensor(t.name(), t.file(), t.dtype(), t.rawDtype(), new long[] {64, 96}, t.data())
                : t);
        assertThatThrownBy(() -> lastLogits(model))
                .isInstanceOf(CheckpointException.class)
                .hasMessageContaining("model.safetensors")
                .hasMessageContaining("'model.layers.1.mlp.experts.3.up_proj.weight' has shape [64, 96], expected [96, 64]");
    }

    @Test
    void truncatedCheckpointIsAnErrorNotACrash() throws IOException {
        Path model = rewrittenFixture("truncated", t -> t);
        Path file = model.resolve(Checkpoint.SINGLE_FILE);
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE)) {
            channel.truncate(channel.size() / 2);
        }
        assertThatThrownBy(() -> lastLogits(model))
                .isInstanceOf(CheckpointException.class)
                .hasMessageContaining(file.toString())
                .hasMessageContaining("truncated");
    }

    @Test
    void unknownArchitectureAndBrokenConfigAreClearErrors() throws IOException {
        Path model = rewrittenFixture("arch", t -> t);
        String config = Files.readString(model.resolve("config.json"));
        Files.writeString(model.resolve("config.json"), config.replace("HunYuanForCausalLM", "LlamaForCausalLM"));
        assertThatThrownBy(() -> lastLogits(model)).isInstanceOf(CheckpointException.class)
                .hasMessageContaining("'architectures'").hasMessageContaining("LlamaForCausalLM");
        Files.writeString(model.resolve("config.json"), "{\"architectures\": [");
        assertThatThrownBy(() -> lastLogits(model)).isInstanceOf(CheckpointException.class)
                .hasMessageContaining("config.json").hasMessageContaining("invalid JSON");
        Files.delete(model.resolve(Checkpoint.SINGLE_FILE));
        Files.copy(Fixtures.model(Fixtures.F32_MODEL).resolve("config.json"), model.resolve("config.json"),
                java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        assertThatThrownBy(() -> lastLogits(model)).isInstanceOf(CheckpointException.class)
                .hasMessageContaining("no model.safetensors");
    }
}

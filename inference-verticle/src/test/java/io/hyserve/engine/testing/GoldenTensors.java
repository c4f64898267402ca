package io.hyserve.engine.testing;

import io.hyserve.engine.load.DType;
import io.hyserve.engine.load.SafetensorsFile;
import io.hyserve.engine.load.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;

/** Reads the F32 tensors of a model's {@code golden.safetensors} into arrays. */
public final class GoldenTensors {
    private GoldenTensors() {}

    public static float[] read(String model, String name) {
        Path file = Fixtures.model(model).resolve("golden.safetensors");
        try (Arena arena = Arena.ofConfined()) {
            Tensor tensor = SafetensorsFile.open(file, arena).tensors().get(name);
            if (tensor == null || tensor.dtype() != DType.F32) {
                throw new IllegalStateException(file + " has no F32 tensor " + name);
            }
            return tensor.data().toArray(ValueLayout.JAVA_FLOAT.withOrder(ByteOrder.LITTLE_ENDIAN));
        }
    }
}

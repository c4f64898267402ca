package io.hyserve.engine.load;

import java.util.Optional;

/** Element types a checkpoint tensor may have; the names are the safetensors spellings. */
public enum DType {
    F32(4),
    BF16(2),
    F16(2);

    private final int byteSize;

    DType(int byteSize) {
        this.byteSize = byteSize;
    }

    public int byteSize() {
        return byteSize;
    }

    /** The dtype for a safetensors dtype string, or empty if this engine cannot read it. */
    public static Optional<DType> fromSafetensors(String name) {
        for (DType type : values()) {
            if (type.name().equals(name)) {
                return Optional.of(type);
            }
        }
        return Optional.empty();
    }
}

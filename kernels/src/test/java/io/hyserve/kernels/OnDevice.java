package io.hyserve.kernels;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;

/** What the device tests share: GPU 0 (each test skips, with the reason, without one) and random inputs. */
abstract class OnDevice {
    static Gpu gpu;
    final Random random = new Random(42);

    @BeforeAll
    static void open() {
        if (gpu == null && Gpu.availability().available()) {
            gpu = Gpu.open(0);
        }
    }

    @BeforeEach
    void requireGpu() {
        assumeTrue(gpu != null, "no GPU: " + Gpu.availability().reason());
    }

    @AfterAll
    static void close() {
        if (gpu != null) {
            gpu.close();
            gpu = null;
        }
    }

    /**
     * Where a CUDA library that is not part of the driver ({@code cudnn}, {@code cublas}) was said to be: the system
     * property {@code hyserve.<name>.libraries}, else the environment variable {@code HYSERVE_<NAME>_LIBRARIES};
     * empty when neither names a folder. A named library that fails to load fails its tests instead of skipping.
     */
    static List<Path> libraryPath(String name) {
        String named = System.getProperty("hyserve." + name + ".libraries",
                System.getenv("HYSERVE_" + name.toUpperCase(java.util.Locale.ROOT) + "_LIBRARIES"));
        return named == null || named.isBlank() ? List.of() : List.of(Path.of(named));
    }

    /**
     * What {@code open} returns, or a skip when the library it loads is missing and {@code named} is empty. Where a
     * folder was named (the device check names the one it found), a library that fails to load is a failure.
     */
    static <T> T openOrSkip(java.util.function.Supplier<T> open, List<Path> named, String library) {
        try {
            return open.get();
        } catch (IllegalStateException missing) {
            assumeTrue(!named.isEmpty(), "no " + library + ": " + missing.getMessage());
            throw missing;
        }
    }

    float[] gaussian(int n, float scale) {
        float[] values = new float[n];
        for (int i = 0; i < n; i++) {
            values[i] = (float) random.nextGaussian() * scale;
        }
        return values;
    }

    DeviceMemory upload(float[] values) {
        return gpu.allocate(4L * values.length).write(values);
    }

    DeviceMemory upload(int[] values) {
        return gpu.allocate(4L * values.length).write(values);
    }

    /** Each element within {@code relative} of the largest expected magnitude (at least 1). */
    static void assertClose(float[] actual, float[] expected, float relative) {
        float largest = 1;
        for (float e : expected) {
            largest = Math.max(largest, Math.abs(e));
        }
        for (int i = 0; i < expected.length; i++) {
            assertThat(actual[i]).as("element %d", i).isCloseTo(expected[i], within(relative * largest));
        }
    }
}

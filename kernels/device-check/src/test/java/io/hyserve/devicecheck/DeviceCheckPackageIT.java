package io.hyserve.devicecheck;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * What travels to the GPU machine works on its own: device-check.sh unpacks it and runs the packaged runtime and
 * jar on the packaged fixture. Here, without a GPU, the CPU golden tests pass and every GPU test is skipped with the
 * reason, so the script exits 2; the whole stays within what a device call carries.
 */
class DeviceCheckPackageIT {
    private static final Path PACKED = Path.of(System.getProperty("hyserve.device-check"));
    private static final long CARRY_LIMIT = 64L << 20;

    @Test
    void theCarriedFolderRunsTheDeviceTestsOnItsOwn() throws Exception {
        long packed = Files.size(PACKED);
        long tree = trackedBytes();
        System.out.printf("device check: %.1f MiB packed, %.1f MiB of tracked files beside it%n", packed / 1048576.0,
                tree / 1048576.0);
        assertThat(packed + tree).as("what one device call carries").isLessThan(CARRY_LIMIT);

        Process process = new ProcessBuilder("bash", System.getProperty("hyserve.device-check.script"))
                .redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(process.waitFor(5, TimeUnit.MINUTES)).isTrue();
        assertThat(output).contains("PASS lastLogitsMatchReferenceWithinTolerance(String, String, String)[")
                .doesNotContain("FAIL ");
        if (!output.contains("PASS embeddingGatherIsExact")) {
            assertThat(output).contains("SKIP embeddingGatherIsExact()", "no GPU: ");
            assertThat(process.exitValue()).as(output).isEqualTo(2);
        } else {
            assertThat(process.exitValue()).as(output).isZero();
        }
    }

    @Test
    void theDecodeBenchRunsFromThePackedJar(@org.junit.jupiter.api.io.TempDir Path work) throws Exception {
        run(work, "tar", "-xzf", PACKED.toString());
        Path folder = work.resolve("device-check");
        String output = run(work, folder.resolve("runtime/bin/java").toString(), "--add-modules",
                "jdk.incubator.vector", "-cp", folder.resolve("device-tests.jar").toString(),
                "io.hyserve.devicecheck.DecodeBench", "cpu", "small", folder.resolve("fixtures/tokenizer").toString());
        assertThat(output).contains("decode bench: small on cpu-vector", "decode bench: batch 1,",
                "decode bench: batch 32,");
    }

    private static String run(Path directory, String... command) throws Exception {
        Process process = new ProcessBuilder(command).directory(directory.toFile()).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(process.waitFor(5, TimeUnit.MINUTES)).isTrue();
        assertThat(process.exitValue()).as(output).isZero();
        System.out.print(output);
        return output;
    }

    /** The working tree that travels with every device call: the files git tracks. */
    private static long trackedBytes() throws Exception {
        Path root = Path.of(System.getProperty("hyserve.project"));
        Process git = new ProcessBuilder("git", "ls-files", "-z").directory(root.toFile()).start();
        String names = new String(git.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(git.waitFor()).isZero();
        long bytes = 0;
        for (String name : names.split("\0")) {
            if (!name.isEmpty() && Files.isRegularFile(root.resolve(name))) {
                bytes += Files.size(root.resolve(name));
            }
        }
        return bytes;
    }
}

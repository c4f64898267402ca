package io.hyserve.kernels;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Where nvcc is installed (CI has CUDA 13) every kernel source is compiled into the jar, as an sm_90a cubin and
 * compute_90a PTX holding each of its entry points, and every source has its launcher. Needs no GPU.
 */
class KernelBinariesTest {
    private static final Path SOURCES = Path.of(System.getProperty("hyserve.cuda.sources"));
    private static final Pattern ENTRY = Pattern.compile(
            "extern \"C\" __global__ void (?:__launch_bounds__\\([\\w:]+\\)\\s+)?(\\w+)\\(");
    /** ELF machine number of NVIDIA CUDA. */
    private static final int EM_CUDA = 190;

    @Test
    void everyKernelSourceIsCompiledForSm90a() throws Exception {
        assumeTrue(nvccInstalled(), "nvcc is not installed here, so the build compiled no kernels");
        for (Path source : sources()) {
            String module = source.getFileName().toString().replace(".cu", "");
            byte[] cubin = resource(module + ".sm_90a.cubin");
            assertThat(cubin).as(module + " cubin").startsWith(0x7f, 'E', 'L', 'F');
            assertThat((cubin[18] & 0xff) | (cubin[19] & 0xff) << 8).as(module + " ELF machine").isEqualTo(EM_CUDA);
            String ptx = new String(resource(module + ".compute_90a.ptx"), StandardCharsets.US_ASCII);
            assertThat(ptx).contains(".target sm_90a");
            List<String> entries = entries(source);
            assertThat(entries).as(module + " declares kernels").isNotEmpty();
            for (String entry : entries) {
                assertThat(ptx).as(module + " PTX").contains(".entry " + entry + "(");
                assertThat(new String(cubin, StandardCharsets.ISO_8859_1)).as(module + " cubin").contains(entry);
            }
        }
    }

    @Test
    void everyKernelSourceHasItsLauncher() throws IOException {
        Set<String> sources = new TreeSet<>();
        for (Path source : sources()) {
            sources.add(source.getFileName().toString().replace(".cu", ""));
        }
        assertThat(sources).containsExactlyInAnyOrder(EmbeddingKernel.MODULE, RmsNormKernel.MODULE,
                RopeQkNormKernel.MODULE, MoeRoutingKernel.MODULE, SiluMulKernel.MODULE, MatmulKernel.MODULE,
                ElementwiseKernel.MODULE, PagedAttentionKernel.MODULE, FusedMoeKernel.MODULE);
    }

    private static List<Path> sources() throws IOException {
        try (Stream<Path> files = Files.list(SOURCES)) {
            return files.filter(p -> p.toString().endsWith(".cu")).sorted().toList();
        }
    }

    private static List<String> entries(Path source) throws IOException {
        Matcher m = ENTRY.matcher(Files.readString(source));
        List<String> names = new ArrayList<>();
        while (m.find()) {
            names.add(m.group(1));
        }
        return names;
    }

    private static byte[] resource(String file) throws IOException {
        try (InputStream in = KernelBinariesTest.class.getResourceAsStream("/io/hyserve/kernels/" + file)) {
            assertThat(in).as("%s in the jar", file).isNotNull();
            return in.readAllBytes();
        }
    }

    private static boolean nvccInstalled() throws InterruptedException {
        try {
            return new ProcessBuilder("nvcc", "--version").redirectErrorStream(true).start().waitFor() == 0;
        } catch (IOException e) {
            return false;
        }
    }
}

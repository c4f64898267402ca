package io.hyserve.launcher;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** Engine options on the command line become the engine's one config object. */
class EngineOptionsTest {
    @Test
    void theCudaLibraryPathIsAListOfFoldersSeparatedByColons() {
        GenerateCommand command = new GenerateCommand();
        new CommandLine(command).parseArgs("--prompt", "x", "--cuda-library-path",
                "/site/nvidia/cu13/lib:/site/nvidia/cudnn/lib");
        assertThat(command.engine.engineConfig().cudaLibraryPath())
                .containsExactly(Path.of("/site/nvidia/cu13/lib"), Path.of("/site/nvidia/cudnn/lib"));
    }

    @Test
    void withoutOneOnlyTheLoadersPathIsSearched() {
        GenerateCommand command = new GenerateCommand();
        new CommandLine(command).parseArgs("--prompt", "x");
        assertThat(command.engine.engineConfig().cudaLibraryPath()).isEmpty();
    }

    @Test
    void aValueFromTheEnvironmentOrTheConfigFileIsSplitTheSameWay() {
        ServeCommand command = new ServeCommand();
        // What ServeDefaults answers for HYSERVE_CUDA_LIBRARY_PATH or cuda-library-path= in the HYSERVE_CONFIG file.
        new CommandLine(command).setDefaultValueProvider(option -> option instanceof CommandLine.Model.OptionSpec o
                && o.longestName().equals("--cuda-library-path") ? "/a/lib:/b/lib" : option.defaultValue())
                .parseArgs();
        assertThat(command.engine.engineConfig().cudaLibraryPath())
                .containsExactly(Path.of("/a/lib"), Path.of("/b/lib"));
    }
}

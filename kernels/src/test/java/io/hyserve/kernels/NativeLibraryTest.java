package io.hyserve.kernels;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A library that cannot be loaded is reported with where it was looked for; no device is involved. */
class NativeLibraryTest {
    private static final String ABSENT = "libhyserve-absent.so.1";

    @Test
    void aLibraryInNoFolderIsLookedForOnTheLoadersPathAndNamedWithTheFolders(@TempDir Path empty) {
        assertThatThrownBy(() -> NativeLibrary.open(List.of(empty), ABSENT)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining(ABSENT).hasMessageContaining("not in [" + empty + "]")
                .hasMessageContaining("dynamic loader");
    }

    @Test
    void aFileThatIsNoLibraryIsNamedWithItsPath(@TempDir Path folder) throws Exception {
        Path broken = Files.writeString(folder.resolve(ABSENT), "not an ELF file");
        assertThatThrownBy(() -> NativeLibrary.open(List.of(Path.of("/nonexistent"), folder), ABSENT))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("from " + broken);
    }
}

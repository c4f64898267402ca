package io.hyserve.launcher;

import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where the bundled tiny model and tokenizer live: {@code -Dhyserve.home} (set by {@code bin/hunyuan}), else
 * the project folder two levels above {@code launcher/target/hunyuan.jar}.
 */
final class ProjectHome {
    static final String BUNDLED_MODEL = "models/tiny-hunyuan-moe-bf16";
    static final String BUNDLED_TOKENIZER = "models/tokenizer";

    private ProjectHome() {}

    static Path home() {
        String configured = System.getProperty("hyserve.home");
        if (configured != null) {
            return Path.of(configured);
        }
        try {
            Path jar = Path.of(ProjectHome.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            for (Path p = jar; p != null; p = p.getParent()) {
                if (Files.isDirectory(p.resolve(BUNDLED_TOKENIZER))) {
                    return p;
                }
            }
        } catch (URISyntaxException | SecurityException e) {
            // fall through to the working directory
        }
        return Path.of("").toAbsolutePath();
    }

    static Path bundledModel() {
        return home().resolve(BUNDLED_MODEL);
    }

    static Path bundledTokenizer() {
        return home().resolve(BUNDLED_TOKENIZER);
    }

    /** The model folder's own tokenizer when it has {@code hy.tiktoken}, else the bundled one. */
    static Path tokenizerFor(Path model) {
        return Files.isRegularFile(model.resolve("hy.tiktoken")) ? model : bundledTokenizer();
    }
}

package io.hyserve.gateway;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;

/**
 * Bearer API keys. Only SHA-256 digests are kept, and a presented key is compared with every digest with
 * {@link MessageDigest#isEqual}, never stopping early, so timing says nothing about which key came close.
 */
public final class ApiKeys {
    private record Entry(String name, byte[] digest) {}

    private final List<Entry> entries;

    private ApiKeys(List<Entry> entries) {
        this.entries = List.copyOf(entries);
    }

    public static ApiKeys none() {
        return new ApiKeys(List.of());
    }

    /**
     * Keys from lines {@code name:key} or {@code key} (named by position); blank lines and {@code #} comments
     * are skipped. The same format serves a file and a comma-separated environment variable.
     */
    public static ApiKeys parse(List<String> lines) {
        List<Entry> entries = new ArrayList<>();
        for (String raw : lines) {
            String line = raw.strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            int colon = line.indexOf(':');
            String name = colon > 0 ? line.substring(0, colon).strip() : "key-" + (entries.size() + 1);
            String key = colon > 0 ? line.substring(colon + 1).strip() : line;
            if (key.length() < 16) {
                throw new IllegalArgumentException("API key '%s' is shorter than 16 characters".formatted(name));
            }
            entries.add(new Entry(name, digest(key)));
        }
        return new ApiKeys(entries);
    }

    public static ApiKeys load(Path file) throws IOException {
        return parse(Files.readAllLines(file, StandardCharsets.UTF_8));
    }

    public boolean enabled() {
        return !entries.isEmpty();
    }

    /** The name of the key {@code presented} matches, or null. */
    String match(String presented) {
        byte[] digest = digest(presented);
        String found = null;
        for (Entry entry : entries) {
            if (MessageDigest.isEqual(entry.digest(), digest) && found == null) {
                found = entry.name();
            }
        }
        return found;
    }

    private static byte[] digest(String key) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JDK", e);
        }
    }
}

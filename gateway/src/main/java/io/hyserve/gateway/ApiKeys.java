package io.hyserve.gateway;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
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

    private volatile List<Entry> entries;
    /** The keys file, re-read when it changes (a mounted Secret is updated in place); null without one. */
    private final Path file;
    private final List<String> otherLines;
    private FileTime fileVersion;

    private ApiKeys(List<Entry> entries, Path file, List<String> otherLines, FileTime fileVersion) {
        this.entries = List.copyOf(entries);
        this.file = file;
        this.otherLines = List.copyOf(otherLines);
        this.fileVersion = fileVersion;
    }

    public static ApiKeys none() {
        return new ApiKeys(List.of(), null, List.of(), null);
    }

    /**
     * Keys from lines {@code name:key} or {@code key} (named by position); blank lines and {@code #} comments
     * are skipped. The same format serves a file and a comma-separated environment variable.
     */
    public static ApiKeys parse(List<String> lines) {
        return new ApiKeys(entries(lines), null, List.of(), null);
    }

    private static List<Entry> entries(List<String> lines) {
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
        return entries;
    }

    /** The keys of {@code file} and of {@code otherLines} (given on the command line or in the environment). */
    public static ApiKeys load(Path file, List<String> otherLines) throws IOException {
        FileTime version = Files.getLastModifiedTime(file);
        List<String> lines = new ArrayList<>(otherLines);
        lines.addAll(Files.readAllLines(file, StandardCharsets.UTF_8));
        return new ApiKeys(entries(lines), file, otherLines, version);
    }

    /**
     * Re-reads the keys file if it changed, so keys rotate without a restart. A file that cannot be read, holds
     * an invalid key or no key at all leaves the keys in force (authentication is never switched off this way).
     *
     * @return whether the keys changed
     */
    public synchronized boolean reloadIfChanged() {
        if (file == null) {
            return false;
        }
        try {
            FileTime version = Files.getLastModifiedTime(file);
            if (version.equals(fileVersion)) {
                return false;
            }
            List<String> lines = new ArrayList<>(otherLines);
            lines.addAll(Files.readAllLines(file, StandardCharsets.UTF_8));
            List<Entry> reloaded = entries(lines);
            if (reloaded.isEmpty()) {
                throw new IllegalArgumentException("no key in the file");
            }
            entries = List.copyOf(reloaded);
            fileVersion = version;
            return true;
        } catch (IOException | IllegalArgumentException e) {
            throw new IllegalStateException("API keys in " + file + " not reloaded: " + e.getMessage(), e);
        }
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
